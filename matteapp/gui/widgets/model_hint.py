"""A one-line bar across the top of the window that suggests something and can be dismissed for good."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton, QWidget

_BACKGROUND = QColor(44, 62, 88)
_TEXT = QColor(232, 238, 246)


class HintBar(QFrame):
    """``text`` with an action button, "Don't Show Again" and a close button.

    Signals: ``actionRequested()``; ``dismissed(forever)`` — True from "Don't Show Again", False from the
    close button (hidden for now; whoever shows the bar decides whether it comes back).  The bar hides
    itself on either.  It never takes the focus from the canvas: nothing in it is a default button.
    """

    actionRequested = Signal()
    dismissed = Signal(bool)

    def __init__(self, action_text: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("hintBar")
        self.setAutoFillBackground(True)
        palette = self.palette()
        palette.setColor(QPalette.ColorRole.Window, _BACKGROUND)
        palette.setColor(QPalette.ColorRole.WindowText, _TEXT)
        self.setPalette(palette)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 6, 6, 6)
        layout.setSpacing(8)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.action_button = QPushButton(action_text)
        self.never_button = QPushButton("Don't Show Again")
        self.close_button = QToolButton()
        self.close_button.setText("✕")
        self.close_button.setAutoRaise(True)
        self.close_button.setToolTip("Hide until the next start")
        for button in (self.action_button, self.never_button):
            button.setAutoDefault(False)
            button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.action_button)
        layout.addWidget(self.never_button)
        layout.addWidget(self.close_button)

        self.action_button.clicked.connect(self.actionRequested)
        self.never_button.clicked.connect(lambda: self._dismiss(True))
        self.close_button.clicked.connect(lambda: self._dismiss(False))

    def set_text(self, text: str, tooltip: str = "") -> None:
        self.label.setText(text)
        self.label.setToolTip(tooltip)

    def _dismiss(self, forever: bool) -> None:
        self.hide()
        self.dismissed.emit(forever)


__all__ = ["HintBar"]
