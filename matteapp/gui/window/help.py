"""The Help menu: the table of keyboard shortcuts (read off the menus themselves) and About."""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QMainWindow,
    QMenu,
    QMessageBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from matteapp import __version__
from matteapp.gui.window.common import Menus, make_action

# Gestures that are not menu commands.
CANVAS_GESTURES = [
    ("Canvas ▸ Pan", "Space + drag, middle drag, or the Hand tool"),
    ("Canvas ▸ Zoom", "Mouse wheel, pinch, Ctrl + wheel"),
    ("Canvas ▸ Lasso polygon", "Click points, double-click or Enter to close, Esc to drop"),
]


def shortcut_rows(window: QMainWindow) -> list[tuple[str, str]]:
    """(command, keys) for every command in ``window``'s menus that has a shortcut, then the canvas gestures."""
    rows: list[tuple[str, str]] = []

    def collect(menu: QMenu, prefix: str) -> None:
        for action in menu.actions():
            if action.menu() is not None:
                collect(action.menu(), f"{prefix}{action.menu().title().replace('&', '')} ▸ ")
            elif not action.isSeparator() and not action.shortcut().isEmpty():
                keys = ", ".join(s.toString(QKeySequence.SequenceFormat.NativeText) for s in action.shortcuts())
                rows.append((prefix + action.text().replace("&&", "\0").replace("&", "").replace("\0", "&"), keys))

    for menu_action in window.menuBar().actions():
        collect(menu_action.menu(), f"{menu_action.text().replace('&', '')} ▸ ")
    return rows + CANVAS_GESTURES


class HelpPart(QObject):
    """Keyboard Shortcuts and About, over ``window``."""

    def __init__(self, window: QMainWindow):
        super().__init__(window)
        self.window = window

    def add_actions(self, menus: Menus) -> None:
        a = partial(make_action, self.window)
        self.action_shortcuts = a("&Keyboard Shortcuts", self.show_shortcuts, QKeySequence.StandardKey.HelpContents)
        self.action_about = a("&About matteapp", self.show_about)
        self.action_about.setMenuRole(QAction.MenuRole.AboutRole)
        menus.help.addAction(self.action_shortcuts)
        menus.help.addSeparator()
        menus.help.addAction(self.action_about)
        menus.add_shortcuts(self.action_shortcuts)

    def show_shortcuts(self) -> None:
        """A table of every menu command with a shortcut, and the canvas's mouse and key gestures."""
        rows = shortcut_rows(self.window)
        dialog = QDialog(self.window)
        dialog.setWindowTitle("Keyboard shortcuts")
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        layout = QVBoxLayout(dialog)
        table = QTableWidget(len(rows), 2)
        table.setHorizontalHeaderLabels(["Command", "Shortcut"])
        table.verticalHeader().setVisible(False)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        table.setAlternatingRowColors(True)
        table.setShowGrid(False)
        for i, (command, keys) in enumerate(rows):
            table.setItem(i, 0, QTableWidgetItem(command))
            table.setItem(i, 1, QTableWidgetItem(keys))
        table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        layout.addWidget(table)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(dialog.close)
        layout.addWidget(buttons)
        dialog.resize(620, 640)
        dialog.show()

    def show_about(self) -> None:
        QMessageBox.about(
            self.window,
            "About matteapp",
            f"<b>matteapp {__version__}</b><br><br>Image matting for large photos with MEMatte, a "
            "memory-efficient, token-routed matting transformer. The routing view shows which parts of the "
            "photo the model sent to global attention, live.<br><br>Sample photo: public domain (see "
            "matteapp/resources/samples/CREDITS.md).",
        )


__all__ = ["HelpPart", "shortcut_rows"]
