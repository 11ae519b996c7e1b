"""What the window shows before a photo is open: how to start, the sample photo and the recent files."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPalette, QPen
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from matteapp.gui.widgets.panel_layout import section_header

_BACKDROP = QColor(48, 48, 52)  # the canvas's colour, so that opening a photo does not flash
_TEXT = QColor(230, 230, 232)
_MUTED = QColor(160, 160, 168)
_DROP_OUTLINE = QColor(110, 110, 120)


class EmptyState(QWidget):
    """Title, "Open photo…", "Open sample photo", recent files and a drop hint.

    Signals: ``openRequested()``, ``sampleRequested()``, ``recentRequested(path)``.  Dropping files is
    handled by the main window (it accepts drops anywhere); :meth:`set_drop_highlight` shows that a drop
    would be taken.
    """

    openRequested = Signal()
    sampleRequested = Signal()
    recentRequested = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._highlight = False
        self.setAutoFillBackground(True)
        palette = self.palette()
        palette.setColor(QPalette.ColorRole.Window, _BACKDROP)
        palette.setColor(QPalette.ColorRole.WindowText, _TEXT)
        palette.setColor(QPalette.ColorRole.PlaceholderText, _MUTED)
        self.setPalette(palette)

        outer = QVBoxLayout(self)
        outer.setContentsMargins(48, 48, 48, 48)
        outer.addStretch(2)
        column = QVBoxLayout()
        column.setSpacing(10)

        title = QLabel("matteapp")
        font = QFont(title.font())
        font.setPointSizeF(font.pointSizeF() * 2.6)
        font.setWeight(QFont.Weight.DemiBold)
        title.setFont(font)
        title.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        column.addWidget(title)

        subtitle = QLabel(
            "Cut subjects out of large photos — hair and fur included — and watch where the model spends "
            "its global attention while it works."
        )
        subtitle.setWordWrap(True)
        subtitle.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        font = QFont(subtitle.font())
        font.setPointSizeF(font.pointSizeF() * 1.15)
        subtitle.setFont(font)
        subtitle.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        column.addWidget(subtitle)
        column.addSpacing(14)

        buttons = QHBoxLayout()
        buttons.setSpacing(10)
        buttons.addStretch(1)
        self.open_button = QPushButton("Open photo…")
        self.open_button.setDefault(True)
        self.open_button.setToolTip("Open a JPEG, PNG, TIFF, WebP or BMP photo, or a .matte project (Ctrl+O).")
        self.sample_button = QPushButton("Open sample photo")
        self.sample_button.setToolTip("A public-domain portrait to try the tools on.")
        for button in (self.open_button, self.sample_button):
            button.setMinimumSize(QSize(170, 36))
            buttons.addWidget(button)
        buttons.addStretch(1)
        self.open_button.clicked.connect(self.openRequested)
        self.sample_button.clicked.connect(self.sampleRequested)
        column.addLayout(buttons)

        self._drop_hint = QLabel("or drop a photo or a project anywhere in this window")
        self._drop_hint.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        self._drop_hint.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        column.addWidget(self._drop_hint)
        column.addSpacing(18)

        self._recent_header = section_header("Recent")
        self._recent_header.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        column.addWidget(self._recent_header)
        self.recent_list = QListWidget()
        self.recent_list.setFrameShape(QListWidget.Shape.NoFrame)
        self.recent_list.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.recent_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.recent_list.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.recent_list.setCursor(Qt.CursorShape.PointingHandCursor)
        self.recent_list.setStyleSheet(
            "QListWidget { background: transparent; }"
            "QListWidget::item { padding: 4px 8px; border-radius: 4px; color: #dcdce0; }"
            "QListWidget::item:hover { background: rgba(255, 255, 255, 28); }"
        )
        self.recent_list.itemActivated.connect(self._recent_activated)
        self.recent_list.itemClicked.connect(self._recent_activated)
        column.addWidget(self.recent_list)

        holder = QHBoxLayout()
        holder.addStretch(1)
        holder.addLayout(column, 0)
        holder.addStretch(1)
        column_widget_width = 560
        for i in range(column.count()):
            item = column.itemAt(i)
            if item.widget() is not None:
                item.widget().setMaximumWidth(column_widget_width)
        outer.addLayout(holder)
        outer.addStretch(3)
        self.set_recent_files([])

    # -- state -------------------------------------------------------------------------------------
    def set_recent_files(self, paths: list[str]) -> None:
        """Most recent first; each row shows the file name and its folder, and opens it when clicked."""
        self.recent_list.clear()
        for path in paths:
            p = Path(path)
            item = QListWidgetItem(f"{p.name}    —    {p.parent}")
            item.setData(Qt.ItemDataRole.UserRole, str(p))
            item.setToolTip(str(p))
            self.recent_list.addItem(item)
        rows = len(paths)
        self.recent_list.setFixedHeight(max(0, rows * (self.recent_list.sizeHintForRow(0) if rows else 0) + 4))
        self.recent_list.setVisible(rows > 0)
        self._recent_header.setVisible(rows > 0)

    def recent_files(self) -> list[str]:
        return [self.recent_list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.recent_list.count())]

    def set_sample_available(self, available: bool) -> None:
        self.sample_button.setVisible(available)

    def set_drop_highlight(self, on: bool) -> None:
        """Outline the page while a file is dragged over the window."""
        if on != self._highlight:
            self._highlight = on
            self.update()

    def _recent_activated(self, item: QListWidgetItem) -> None:
        self.recentRequested.emit(item.data(Qt.ItemDataRole.UserRole))

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        pen = QPen(QColor(120, 170, 255) if self._highlight else _DROP_OUTLINE, 2 if self._highlight else 1.2)
        pen.setStyle(Qt.PenStyle.SolidLine if self._highlight else Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRoundedRect(self.rect().adjusted(20, 20, -20, -20), 14, 14)
        painter.end()


__all__ = ["EmptyState"]
