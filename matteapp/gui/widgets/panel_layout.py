"""Spacing and section headers shared by the side panels, so that they line up when docked together."""

from __future__ import annotations

from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QBoxLayout, QFormLayout, QGridLayout, QLabel, QLayout, QSizePolicy

MARGIN = 8
SPACING = 4


def compact(layout: QLayout, margin: int = MARGIN) -> QLayout:
    """Panel-wide margins and spacing (Qt's defaults, 11 px, waste a narrow dock's width)."""
    layout.setContentsMargins(margin, margin, margin, margin)
    if isinstance(layout, QGridLayout):
        layout.setHorizontalSpacing(SPACING + 2)
        layout.setVerticalSpacing(SPACING)
    elif isinstance(layout, QFormLayout):
        layout.setHorizontalSpacing(SPACING + 4)
        layout.setVerticalSpacing(SPACING)
    elif isinstance(layout, QBoxLayout):
        layout.setSpacing(SPACING)
    return layout


def section_header(text: str) -> QLabel:
    """A small bold caps title that separates groups without the frame of a QGroupBox."""
    label = QLabel(text.upper())
    font = label.font()
    font.setBold(True)
    font.setPointSizeF(max(7.0, font.pointSizeF() * 0.85))
    font.setLetterSpacing(font.SpacingType.PercentageSpacing, 106)
    label.setFont(font)
    label.setContentsMargins(0, SPACING, 0, 0)
    label.setForegroundRole(QPalette.ColorRole.PlaceholderText)  # the theme's muted text colour
    return label


def wrapping_label() -> QLabel:
    """A label that wraps to the dock's width and never widens it (its width hint is ignored, its height
    follows the width): long sentences grow downwards."""
    label = QLabel("")
    label.setWordWrap(True)
    policy = QSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
    policy.setHeightForWidth(True)
    label.setSizePolicy(policy)
    return label


def note_label() -> QLabel:
    """A :func:`wrapping_label` in the muted colour: a line of explanation under a control."""
    label = wrapping_label()
    label.setStyleSheet("color: palette(mid);")
    return label
