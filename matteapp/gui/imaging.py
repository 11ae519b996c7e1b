"""numpy ↔ Qt image helpers for the canvas: zero-copy QImage views, lookup tables, the checkerboard brush.

Lifetime of a zero-copy QImage (:func:`qimage_view`, :func:`qimage_view_region`): the QImage points
into the numpy buffer.  PySide6 takes a reference to the buffer object it is given and drops it from
the QImage's cleanup function, which Qt calls when the last implicitly shared copy of that QImage is
destroyed — so the array outlives every QImage that reads it, even if the caller drops its own
reference.  Writes to the array show through the QImage (nothing was copied); resize or replace the
array instead of writing to it while a QImage that must keep the old pixels is alive.  Converting to
a QPixmap (``QPixmap.fromImage``) copies, after which the array may go.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PySide6.QtGui import QBrush, QColor, QImage, QPainter, QPixmap
from PySide6.QtWidgets import QWidget

_GRAY_FORMAT = QImage.Format.Format_Grayscale8
_RGB_FORMAT = QImage.Format.Format_RGB888
_RGBA_FORMAT = QImage.Format.Format_RGBA8888
_RGBA_PREMULTIPLIED_FORMAT = QImage.Format.Format_RGBA8888_Premultiplied

TRIMAP_BACKGROUND_TINT = (40, 110, 255)
TRIMAP_UNKNOWN_TINT = (255, 40, 210)
TRIMAP_FOREGROUND_TINT = (40, 230, 90)


def _format_for(array: np.ndarray, premultiplied: bool) -> QImage.Format:
    if array.dtype != np.uint8:
        raise ValueError(f"a QImage view needs uint8 pixels, got {array.dtype}")
    channels = 1 if array.ndim == 2 else array.shape[2] if array.ndim == 3 else 0
    if channels == 1:
        return _GRAY_FORMAT
    if channels == 3:
        return _RGB_FORMAT
    if channels == 4:
        return _RGBA_PREMULTIPLIED_FORMAT if premultiplied else _RGBA_FORMAT
    raise ValueError(f"a QImage view needs an H×W, H×W×3 or H×W×4 array, got shape {array.shape}")


def qimage_view(array: np.ndarray, premultiplied: bool = False) -> QImage:
    """A QImage that shares ``array``'s memory (no copy); see the module docstring for lifetimes.

    ``array``: C-contiguous ``uint8`` H×W (Grayscale8), H×W×3 (RGB888) or H×W×4 (RGBA8888, or
    RGBA8888_Premultiplied with ``premultiplied``).
    """
    fmt = _format_for(array, premultiplied)
    if not array.flags.c_contiguous:
        raise ValueError("qimage_view needs a C-contiguous array (use qimage_view_region for a sub-rectangle)")
    height, width = array.shape[:2]
    return QImage(array.reshape(-1), width, height, array.strides[0], fmt)


def qimage_view_region(array: np.ndarray, x: int, y: int, width: int, height: int, premultiplied: bool = False) -> QImage:
    """The ``width``×``height`` rectangle of ``array`` at (x, y) as a QImage, without copying where possible.

    ``array``: C-contiguous ``uint8`` as for :func:`qimage_view`.  The QImage keeps the row stride of the
    whole array.  Qt may read ``bytesPerLine × height`` bytes from the first pixel (``QImage.copy`` does),
    which runs past the end of the buffer for a rectangle in the last rows that does not reach the right
    edge: such a rectangle is copied instead (a tile row at most).
    """
    fmt = _format_for(array, premultiplied)
    if not array.flags.c_contiguous:
        raise ValueError("qimage_view_region needs a C-contiguous array")
    rows, cols = array.shape[:2]
    if not (0 <= x and 0 <= y and width > 0 and height > 0 and x + width <= cols and y + height <= rows):
        raise ValueError(f"rectangle {width}×{height} at ({x}, {y}) is outside the {cols}×{rows} array")
    stride = array.strides[0]
    start = y * stride + x * array.strides[1]
    flat = array.reshape(-1).view(np.uint8)
    if start + height * stride > flat.size:
        return qimage_view(np.ascontiguousarray(array[y : y + height, x : x + width]), premultiplied)
    return QImage(flat[start : start + height * stride], width, height, stride, fmt)


def rgba_from_qimage(image: QImage) -> np.ndarray:
    """H×W×4 ``uint8`` RGBA copy of any QImage (non-premultiplied)."""
    converted = image.convertToFormat(_RGBA_FORMAT)
    height, width = converted.height(), converted.width()
    buffer = np.frombuffer(converted.constBits(), dtype=np.uint8, count=converted.bytesPerLine() * height)
    return buffer.reshape(height, converted.bytesPerLine())[:, : width * 4].reshape(height, width, 4).copy()


def apply_lut(values: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """``lut[values]`` as a new C-contiguous array: ``values`` H×W ``uint8``, ``lut`` (256, C) ``uint8`` → H×W×C.

    A 4-channel table is looked up as one 32-bit word per pixel (four times fewer gathers).
    """
    if lut.shape[0] != 256 or lut.dtype != np.uint8:
        raise ValueError(f"a lookup table must be (256, C) uint8, got {lut.shape} {lut.dtype}")
    if values.dtype != np.uint8:
        raise ValueError(f"lookup needs uint8 values, got {values.dtype}")
    if lut.ndim == 2 and lut.shape[1] == 4:
        words = np.ascontiguousarray(lut).view(np.uint32).reshape(256)
        return words[values].view(np.uint8).reshape(values.shape + (4,))
    return np.ascontiguousarray(lut[values])


def trimap_tint_lut(
    opacity: float = 1.0,
    background: tuple[int, int, int] = TRIMAP_BACKGROUND_TINT,
    unknown: tuple[int, int, int] = TRIMAP_UNKNOWN_TINT,
    foreground: tuple[int, int, int] = TRIMAP_FOREGROUND_TINT,
) -> np.ndarray:
    """(256, 4) ``uint8`` premultiplied RGBA tint for trimap values, alpha = ``opacity``.

    0 → ``background``, 128 → ``unknown``, 255 → ``foreground``.  Values between them (a downscaled
    trimap averages its classes) blend linearly, so a mixed block reads as part unknown, which keeps a
    thin unknown band visible when zoomed out.
    """
    if not 0.0 <= opacity <= 1.0:
        raise ValueError(f"opacity must be in [0, 1], got {opacity}")
    anchors = np.array([background, unknown, foreground], dtype=np.float64) / 255.0
    v = np.arange(256, dtype=np.float64)
    t_low = np.clip(v / 128.0, 0, 1)[:, None]
    t_high = np.clip((v - 128.0) / 127.0, 0, 1)[:, None]
    rgb = np.where(v[:, None] <= 128, anchors[0] + (anchors[1] - anchors[0]) * t_low, anchors[1] + (anchors[2] - anchors[1]) * t_high)
    lut = np.empty((256, 4), dtype=np.uint8)
    lut[:, :3] = np.rint(rgb * opacity * 255.0)
    lut[:, 3] = round(opacity * 255.0)
    return lut


def colormap_lut(colormap: int = cv2.COLORMAP_VIRIDIS) -> np.ndarray:
    """(256, 3) ``uint8`` RGB of an OpenCV colour map (perceptual ones: VIRIDIS, INFERNO, MAGMA, …)."""
    bgr = cv2.applyColorMap(np.arange(256, dtype=np.uint8).reshape(1, 256), colormap)
    return np.ascontiguousarray(bgr[0, :, ::-1])


def premultiplied_rgba(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """H×W×4 ``uint8`` premultiplied RGBA (QImage RGBA8888_Premultiplied) of an RGB and a uint8 alpha."""
    rgba = cv2.cvtColor(rgb, cv2.COLOR_RGB2RGBA)
    rgba[..., 3] = alpha
    return cv2.cvtColor(rgba, cv2.COLOR_RGBA2mRGBA)


def checkerboard_brush(cell: int = 8, light: QColor | None = None, dark: QColor | None = None) -> QBrush:
    """A texture brush of ``cell``-px squares, the usual backdrop for transparency."""
    light = light or QColor(204, 204, 204)
    dark = dark or QColor(153, 153, 153)
    tile = QPixmap(2 * cell, 2 * cell)
    tile.fill(light)
    painter = QPainter(tile)
    painter.fillRect(cell, 0, cell, cell, dark)
    painter.fillRect(0, cell, cell, cell, dark)
    painter.end()
    return QBrush(tile)


def grab_png(widget: QWidget, path: str | Path) -> Path:
    """Render ``widget`` (as on screen, children included) into a PNG at ``path``; returns the path."""
    path = Path(path)
    pixmap = widget.grab()
    if pixmap.isNull() or not pixmap.save(str(path), "PNG"):
        raise OSError(f"could not write a screenshot of {type(widget).__name__} to {path}")
    return path


__all__ = [
    "TRIMAP_BACKGROUND_TINT",
    "TRIMAP_FOREGROUND_TINT",
    "TRIMAP_UNKNOWN_TINT",
    "apply_lut",
    "checkerboard_brush",
    "colormap_lut",
    "grab_png",
    "premultiplied_rgba",
    "qimage_view",
    "qimage_view_region",
    "rgba_from_qimage",
    "trimap_tint_lut",
]
