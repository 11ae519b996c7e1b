"""A message bar across the top of the window: news that needs no answer, with the actions that follow from it.

Browsers and editors (Firefox's notification bar, VS Code's notifications, Photoshop's export toast) tell
the user about a finished export or a file opened with problems without a modal box that has to be
dismissed before work goes on.  :class:`NoticeBar` does the same: a line of text, a few buttons
("Show in Folder"), and a close button; it never takes the focus, and the next notice replaces it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QStyle, QToolButton, QWidget

KINDS = {
    # kind: (background, border, standard icon)
    "info": ("#e3f0fb", "#9cc3e6", QStyle.StandardPixmap.SP_MessageBoxInformation),
    "success": ("#e5f4e3", "#a3cf9c", QStyle.StandardPixmap.SP_DialogApplyButton),
    "warning": ("#fdf3d8", "#e6c86e", QStyle.StandardPixmap.SP_MessageBoxWarning),
}


class NoticeBar(QFrame):
    """Hidden until :meth:`show_notice`; ``closed()`` when the user dismisses it (or it times out)."""

    closed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("noticeBar")
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        layout.setSpacing(8)
        self._icon = QLabel()
        self._text = QLabel()
        self._text.setWordWrap(True)
        self._text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._text.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self._buttons = QHBoxLayout()
        self._buttons.setSpacing(6)
        close = QToolButton()
        close.setText("✕")
        close.setAutoRaise(True)
        close.setToolTip("Dismiss")
        close.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        close.clicked.connect(self.dismiss)
        layout.addWidget(self._icon, 0, Qt.AlignmentFlag.AlignTop)
        layout.addWidget(self._text, 1)
        layout.addLayout(self._buttons)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.dismiss)
        self._kind = "info"
        self.hide()

    def show_notice(
        self,
        text: str,
        actions: Sequence[tuple[str, Callable[[], None]]] = (),
        kind: str = "info",
        timeout_ms: int | None = None,
    ) -> None:
        """Show ``text`` with a button per (label, callback) of ``actions``; ``kind`` "info", "success" or
        "warning"; ``timeout_ms``: hide by itself after that long (None: until dismissed or replaced)."""
        if kind not in KINDS:
            raise ValueError(f"unknown notice kind {kind!r}; choose one of {', '.join(KINDS)}")
        background, border, icon = KINDS[kind]
        self._kind = kind
        self.setStyleSheet(
            f"#noticeBar {{ background: {background}; border: 1px solid {border}; border-radius: 4px; }}"
            "#noticeBar QLabel { color: #1d1d1f; }"
        )
        size = self.style().pixelMetric(QStyle.PixelMetric.PM_SmallIconSize)
        self._icon.setPixmap(self.style().standardIcon(icon).pixmap(size, size))
        self._text.setText(text)
        while self._buttons.count():
            item = self._buttons.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        for label, callback in actions:
            button = QPushButton(label)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            button.clicked.connect(callback)
            self._buttons.addWidget(button)
        self.show()
        if timeout_ms:
            self._timer.start(timeout_ms)
        else:
            self._timer.stop()

    def dismiss(self) -> None:
        self._timer.stop()
        if self.isVisible():
            self.hide()
            self.closed.emit()

    def text(self) -> str:
        return self._text.text() if self.isVisible() else ""

    def kind(self) -> str:
        return self._kind

    def action_labels(self) -> list[str]:
        return [self._buttons.itemAt(i).widget().text() for i in range(self._buttons.count()) if self._buttons.itemAt(i).widget()]

    def trigger(self, label: str) -> None:
        """Click the button called ``label`` (for scripts and tests)."""
        for i in range(self._buttons.count()):
            widget = self._buttons.itemAt(i).widget()
            if isinstance(widget, QPushButton) and widget.text() == label:
                widget.click()
                return
        raise KeyError(f"no button {label!r} on the notice; it has {self.action_labels()}")


__all__ = ["KINDS", "NoticeBar"]
