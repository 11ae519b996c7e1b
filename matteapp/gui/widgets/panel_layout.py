"""Spacing and section headers shared by the side panels, so that they line up when docked together."""

from __future__ import annotations

from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QBoxLayout, QFormLayout, QGridLayout, QLabel, QLayout

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
