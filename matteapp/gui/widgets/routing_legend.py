"""The colour key of the routing overlay: a gradient with end labels, or two swatches for a hard map."""

from __future__ import annotations

import cv2
import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QLinearGradient, QPainter, QPalette
from PySide6.QtWidgets import QSizePolicy, QWidget

from matteapp.io.export import HEATMAP_COLORMAP


def default_colormap() -> np.ndarray:
    """(256, 3) uint8 RGB: the colour map of the exported routing heatmaps (OpenCV's viridis)."""
    bgr = cv2.applyColorMap(np.arange(256, dtype=np.uint8).reshape(1, 256), HEATMAP_COLORMAP)
    return np.ascontiguousarray(bgr[0, :, ::-1])


class RoutingLegend(QWidget):
    """Paints ``caption`` over either a 0→1 gradient labelled at its ends (``discrete=False``) or two
    swatches, the map's top and bottom colours, labelled ``low_label`` / ``high_label``."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._lut = default_colormap()
        self._caption = ""
        self._low, self._high = "0", "1"
        self._discrete = False
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_colormap(self, lut: np.ndarray) -> None:
        """(256, 3) uint8 RGB lookup table, e.g. the one the canvas paints the overlay with."""
        lut = np.asarray(lut, dtype=np.uint8)
        if lut.shape != (256, 3):
            raise ValueError(f"a colour map is a (256, 3) RGB table, got {lut.shape}")
        self._lut = lut.copy()
        self.update()

    def colormap(self) -> np.ndarray:
        return self._lut.copy()

    def set_scale(self, caption: str, low_label: str, high_label: str, discrete: bool) -> None:
        self._caption, self._low, self._high, self._discrete = caption, low_label, high_label, discrete
        self.setToolTip(f"{caption}: {low_label} … {high_label}" if not discrete else f"{low_label} / {high_label}")
        self.update()

    def texts(self) -> tuple[str, str, str, bool]:
        return self._caption, self._low, self._high, self._discrete

    def _color(self, value: float) -> QColor:
        r, g, b = (int(c) for c in self._lut[round(min(max(value, 0.0), 1.0) * 255)])
        return QColor(r, g, b)

    def sizeHint(self) -> QSize:
        line = self.fontMetrics().height()
        return QSize(200, 2 * line + 18)

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        metrics = self.fontMetrics()
        line = metrics.height()
        width = self.width()
        text = self.palette().color(QPalette.ColorRole.WindowText)
        painter.setPen(text)
        painter.drawText(QRectF(0, 0, width, line), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         metrics.elidedText(self._caption, Qt.TextElideMode.ElideRight, width))
        top, bar_h = line + 3, 12
        border = QColor(text)
        border.setAlpha(90)
        if self._discrete:
            x = 0.0
            for value, label in ((1.0, self._high), (0.0, self._low)):
                painter.setPen(border)
                painter.setBrush(self._color(value))
                painter.drawRect(QRectF(x, top, bar_h, bar_h))
                painter.setPen(text)
                label_w = metrics.horizontalAdvance(label)
                painter.drawText(QRectF(x + bar_h + 4, top - 2, label_w + 2, bar_h + 4), Qt.AlignmentFlag.AlignVCenter, label)
                x += bar_h + 4 + label_w + 14
        else:
            gradient = QLinearGradient(0, 0, width - 1, 0)
            for value in np.linspace(0, 1, 9):
                gradient.setColorAt(float(value), self._color(float(value)))
            painter.setPen(border)
            painter.setBrush(gradient)
            painter.drawRect(QRectF(0.5, top + 0.5, width - 1.0, bar_h))
            painter.setPen(text)
            below = QRectF(0, top + bar_h + 2, width, line)
            painter.drawText(below, Qt.AlignmentFlag.AlignLeft, self._low)
            painter.drawText(below, Qt.AlignmentFlag.AlignRight, self._high)
        painter.end()
