"""What every part of the main window shares: how an action is made, the menus it goes into, and how the
user is told things (message boxes, the status bar)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu, QMessageBox, QWidget

from matteapp.document.state import MatteDocument
from matteapp.engine.trimap import BACKGROUND, FOREGROUND, UNKNOWN
from matteapp.gui.widgets.notice_bar import NoticeBar

log = logging.getLogger(__name__)

STATUS_MS = 6000

CLASS_NAMES = {FOREGROUND: "Foreground", BACKGROUND: "Background", UNKNOWN: "Unknown"}


def make_action(
    parent: QWidget, text: str, slot: Callable | None = None, shortcut=None, tip: str | None = None, checkable: bool = False
) -> QAction:
    """A QAction; ``shortcut`` may be a list, ``slot`` gets ``toggled`` when ``checkable`` (else ``triggered``)."""
    action = QAction(text, parent)
    if shortcut is not None:
        shortcuts = shortcut if isinstance(shortcut, list) else [shortcut]
        action.setShortcuts([QKeySequence(s) for s in shortcuts])
    if tip:
        action.setStatusTip(tip)
        action.setToolTip(tip)
    action.setCheckable(checkable)
    if slot is not None:
        (action.toggled if checkable else action.triggered).connect(slot)
    return action


@dataclass(frozen=True)
class Menus:
    """The menu bar's menus.  Each part adds its actions to the menus it owns, in the order the window asks
    the parts, which is the order they appear in."""

    window: QWidget
    file: QMenu
    edit: QMenu
    view: QMenu
    model: QMenu
    help: QMenu

    def add_shortcuts(self, *actions: QAction) -> None:
        """Keep these actions' shortcuts working while the menus are closed, wherever focus is."""
        for action in actions:
            self.window.addAction(action)


class Messages:
    """Non-modal message boxes over ``window`` (it stays usable), its notice bar and its status bar.

    :attr:`last_error` / :attr:`last_message` keep the text of the last error and information shown, for
    scripts and tests (the boxes do not block)."""

    def __init__(self, window: QMainWindow, notice_bar: NoticeBar | None = None):
        self._window = window
        self._notice_bar = notice_bar
        self._box: QMessageBox | None = None
        self.last_error: str | None = None
        self.last_message: str | None = None

    def notice(
        self,
        text: str,
        actions: Sequence[tuple[str, Callable[[], None]]] = (),
        kind: str = "info",
        timeout_ms: int | None = None,
    ) -> None:
        """News that needs no answer (an export done, a file opened with a problem): the notice bar across
        the window, with buttons for what may follow; never a box that must be dismissed first."""
        self.last_message = text
        if kind == "warning":
            log.info("notice: %s", text)
        if self._notice_bar is None:
            self.status(text, STATUS_MS)
        else:
            self._notice_bar.show_notice(text, actions, kind, timeout_ms)

    def error(self, title: str, message: str) -> None:
        self.last_error = message
        log.info("%s: %s", title, message)
        self._show(QMessageBox.Icon.Warning, title, message)

    def info(self, title: str, message: str) -> None:
        self.last_message = message
        self._show(QMessageBox.Icon.Information, title, message)

    def status_error(self, message: str) -> None:
        """An error the user did not directly cause (a model loading at start): the status bar only."""
        self.last_error = message
        self.status(message, 2 * STATUS_MS)

    def status(self, text: str, ms: int = 0) -> None:
        """``text`` in the status bar, for ``ms`` (0: until the next message)."""
        self._window.statusBar().showMessage(text, ms)

    def clear_status(self) -> None:
        self._window.statusBar().clearMessage()

    def _show(self, icon: QMessageBox.Icon, title: str, message: str) -> None:
        if self._box is not None:
            self._box.close()
        box = QMessageBox(icon, title, message, QMessageBox.StandardButton.Ok, self._window)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.destroyed.connect(lambda *_: setattr(self, "_box", None) if self._box is box else None)
        self._box = box
        box.open()


def update_settings(doc: MatteDocument | None, messages: Messages, **changes) -> bool:
    """``doc.update_settings(**changes)``; a rejected value becomes a message.  True when they were taken."""
    if doc is None:
        return False
    try:
        doc.update_settings(**changes)
    except ValueError as exc:
        messages.error("Invalid setting", str(exc))
        return False
    return True


__all__ = ["CLASS_NAMES", "Menus", "Messages", "STATUS_MS", "make_action", "update_settings"]
