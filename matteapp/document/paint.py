"""Trimap editing operations: brush strokes, lasso, rectangle, flood fill, clear and invert.

Each operation reads the current trimap (H×W ``uint8`` of 0 / 128 / 255, never modified) and returns a
:class:`Patch` holding the new values of the smallest rectangle that contains every pixel it changes, or
``None`` when nothing would change.  Applying the patch (and recording it for undo) is the document's job,
see :class:`matteapp.document.state.MatteDocument`.

Trimaps may be 50 megapixels, so the brush, lasso and rectangle only ever read and allocate within the
rectangle they can touch.  Flood fill, clear and invert are whole-image by nature.

Coordinates are continuous image coordinates: pixel (col, row) covers [col, col + 1) × [row, row + 1),
which is what a view gets when it maps a mouse position onto an image item placed at the origin.  A shape
paints a pixel when the pixel's centre (col + 0.5, row + 0.5) lies inside it, with hard edges (no
anti-aliasing), so a patch only ever holds the three trimap values.

No Qt here: the GUI, scripts and tests share this module.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from matteapp.engine.trimap import BACKGROUND, FOREGROUND, UNKNOWN

VALUES = (BACKGROUND, UNKNOWN, FOREGROUND)
MIN_RADIUS = 0.5

# FG ↔ BG; unknown (and any stray value) stays.
_INVERT_LUT = np.arange(256, dtype=np.uint8)
_INVERT_LUT[BACKGROUND], _INVERT_LUT[FOREGROUND] = FOREGROUND, BACKGROUND


@dataclass(frozen=True)
class Patch:
    """New trimap values for the rectangle [y, y + h) × [x, x + w).

    ``values``: ``uint8`` (h, w), h and w ≥ 1.  Pixels of the rectangle that the operation leaves alone
    hold their current values, so the patch can be written as a block.
    """

    x: int
    y: int
    values: np.ndarray

    def __post_init__(self):
        values = self.values
        if not isinstance(values, np.ndarray) or values.dtype != np.uint8 or values.ndim != 2 or values.size == 0:
            raise ValueError(
                f"Patch values must be a non-empty (h, w) uint8 array, got "
                f"{getattr(values, 'dtype', type(values).__name__)} {getattr(values, 'shape', '')}"
            )
        if self.x < 0 or self.y < 0:
            raise ValueError(f"Patch origin must not be negative, got ({self.x}, {self.y})")

    @property
    def rect(self) -> tuple[int, int, int, int]:
        """(x, y, w, h) in image pixels."""
        return self.x, self.y, self.values.shape[1], self.values.shape[0]


# --------------------------------------------------------------------------------------------- checks


def _check_trimap(trimap: np.ndarray) -> None:
    if not isinstance(trimap, np.ndarray) or trimap.ndim != 2 or trimap.dtype != np.uint8 or trimap.size == 0:
        raise ValueError(
            f"trimap must be a non-empty H×W uint8 array, got "
            f"{getattr(trimap, 'dtype', type(trimap).__name__)} {getattr(trimap, 'shape', '')}"
        )


def _check_value(value) -> int:
    if isinstance(value, (bool, np.bool_)) or value not in VALUES:
        raise ValueError(f"value must be 0 (background), 128 (unknown) or 255 (foreground), got {value!r}")
    return int(value)


def _check_points(points, at_least: int) -> np.ndarray:
    """(N, 2) float64 array of finite (x, y)."""
    try:
        pts = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"points must be a sequence of (x, y) pairs, got {points!r}") from None
    if pts.size == 0:
        pts = pts.reshape(0, 2)
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise ValueError(f"points must be a sequence of (x, y) pairs, got an array of shape {pts.shape}")
    if len(pts) < at_least:
        raise ValueError(f"need at least {at_least} point{'s' if at_least > 1 else ''}, got {len(pts)}")
    if not np.isfinite(pts).all():
        raise ValueError("points must be finite numbers")
    return pts


def _centre_range(lo: float, hi: float, limit: int) -> tuple[int, int]:
    """[first, stop) of the pixel indices whose centre i + 0.5 lies in [lo, hi], clipped to [0, limit)."""
    first = max(0, math.ceil(lo - 0.5))
    stop = min(limit, math.floor(hi - 0.5) + 1)
    return first, max(first, stop)


def _patch_from_mask(trimap: np.ndarray, x0: int, y0: int, mask: np.ndarray, value: int) -> Patch | None:
    """Patch setting ``value`` where ``mask`` (bool, the rectangle at (x0, y0)) is true, cropped to the change."""
    h, w = mask.shape
    region = trimap[y0 : y0 + h, x0 : x0 + w]
    changed = mask & (region != value)
    x, y, cw, ch = cv2.boundingRect(changed.view(np.uint8))
    if cw == 0:
        return None
    values = region[y : y + ch, x : x + cw].copy()
    values[changed[y : y + ch, x : x + cw]] = value
    return Patch(x0 + x, y0 + y, values)


# ------------------------------------------------------------------------------------------ operations


def stroke(trimap: np.ndarray, points: Sequence[tuple[float, float]], radius: float, value: int) -> Patch | None:
    """Round-capped polyline of ``radius`` through ``points`` (one point paints a dab), clipped to the image.

    A pixel is painted when its centre is within ``radius`` of the polyline; the pixel under each point is
    always painted, so even the thinnest dab leaves a mark.  ``radius`` ≥ 0.5 keeps a thin line free of
    gaps (8-connected).  Work and memory grow with the area each segment can reach, not with the image.
    """
    _check_trimap(trimap)
    value = _check_value(value)
    radius = float(radius)
    if not radius >= MIN_RADIUS or not math.isfinite(radius):
        raise ValueError(f"radius must be a finite number ≥ {MIN_RADIUS} pixels, got {radius}")
    pts = _check_points(points, 1)
    height, width = trimap.shape
    x0, x1 = _centre_range(pts[:, 0].min() - radius, pts[:, 0].max() + radius, width)
    y0, y1 = _centre_range(pts[:, 1].min() - radius, pts[:, 1].max() + radius, height)
    if x0 == x1 or y0 == y1:
        return None

    mask = np.zeros((y1 - y0, x1 - x0), dtype=bool)
    # A hair over r² so that centres exactly on the edge (a line along a pixel boundary) paint on both
    # sides, whatever the rounding of the projection.
    reach = radius * radius * (1 + 1e-9)
    segments = zip(pts, pts[1:]) if len(pts) > 1 else [(pts[0], pts[0])]
    for p, q in segments:
        sx0, sx1 = _centre_range(min(p[0], q[0]) - radius, max(p[0], q[0]) + radius, width)
        sy0, sy1 = _centre_range(min(p[1], q[1]) - radius, max(p[1], q[1]) + radius, height)
        if sx0 == sx1 or sy0 == sy1:
            continue
        # Pixel centres relative to p; distance to the segment via the clamped projection parameter.
        dx = (np.arange(sx0, sx1) + 0.5 - p[0])[None, :]
        dy = (np.arange(sy0, sy1) + 0.5 - p[1])[:, None]
        ux, uy = q[0] - p[0], q[1] - p[1]
        length2 = ux * ux + uy * uy
        if length2 > 0:
            t = np.clip((dx * ux + dy * uy) / length2, 0.0, 1.0)
            dx = dx - t * ux
            dy = dy - t * uy
        mask[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] |= dx * dx + dy * dy <= reach
    for px, py in np.floor(pts).astype(np.int64):
        if 0 <= px < width and 0 <= py < height:
            mask[py - y0, px - x0] = True
    return _patch_from_mask(trimap, x0, y0, mask, value)


def polygon(trimap: np.ndarray, points: Sequence[tuple[float, float]], value: int) -> Patch | None:
    """Filled polygon through ``points`` (a lasso; closed automatically), clipped to the image.

    Pixels whose centre is inside are painted, by the nonzero winding rule, so a lasso that crosses itself
    fills every loop.  Fewer than three points, or a polygon enclosing no pixel centre, gives ``None``.
    """
    _check_trimap(trimap)
    value = _check_value(value)
    pts = _check_points(points, 0)
    if len(pts) < 3:
        return None
    height, width = trimap.shape
    x0, x1 = _centre_range(pts[:, 0].min(), pts[:, 0].max(), width)
    y0, y1 = _centre_range(pts[:, 1].min(), pts[:, 1].max(), height)
    if x0 == x1 or y0 == y1:
        return None

    # Scanline fill at pixel centres: every edge adds its direction (+1 down, -1 up) at the first pixel
    # right of where it crosses a row's centre line; a running sum along the row is then the winding
    # number of each pixel centre.  Cost grows with the polygon's rows × edges crossing them, not its area
    # of the image, and matches the centre rule exactly (cv2.fillPoly also paints pixels the edge touches).
    a, b = pts, np.roll(pts, -1, axis=0)
    top, bottom = np.minimum(a[:, 1], b[:, 1]), np.maximum(a[:, 1], b[:, 1])
    # Rows j with top ≤ j + 0.5 < bottom (half-open, so a vertex shared by two edges counts once).
    first = np.maximum(np.ceil(top - 0.5), y0).astype(np.int64)
    stop = np.minimum(np.ceil(bottom - 0.5), y1).astype(np.int64)
    counts = np.maximum(stop - first, 0)
    crossing_edges = np.repeat(np.arange(len(a)), counts)
    if crossing_edges.size == 0:
        return None
    rows = first[crossing_edges] + (np.arange(crossing_edges.size) - np.repeat(np.cumsum(counts) - counts, counts))
    ea, eb = a[crossing_edges], b[crossing_edges]
    centre_y = rows + 0.5
    cross_x = ea[:, 0] + (centre_y - ea[:, 1]) * (eb[:, 0] - ea[:, 0]) / (eb[:, 1] - ea[:, 1])
    columns = np.clip(np.ceil(cross_x - 0.5), x0, x1).astype(np.int64) - x0
    direction = np.where(eb[:, 1] > ea[:, 1], 1, -1).astype(np.int16)
    # int16 halves the temporaries of a photo-sized lasso; wrap-around keeps the winding number exact
    # modulo 65536, and no hand-drawn lasso winds that often around one pixel.
    winding = np.zeros((y1 - y0, x1 - x0 + 1), dtype=np.int16)
    np.add.at(winding, (rows - y0, columns), direction)
    inside = np.cumsum(winding[:, :-1], axis=1, dtype=np.int16) != 0
    return _patch_from_mask(trimap, x0, y0, inside, value)


def rectangle(trimap: np.ndarray, x0: float, y0: float, x1: float, y1: float, value: int) -> Patch | None:
    """Filled axis-aligned rectangle between the corners (x0, y0) and (x1, y1), in either order, clipped.

    Pixels whose centre lies in [min x, max x) × [min y, max y) are painted, so the corners (10, 10) and
    (20, 20) cover exactly the 10×10 pixels from (10, 10) to (19, 19), and a zero-size drag paints nothing.
    """
    _check_trimap(trimap)
    value = _check_value(value)
    corners = _check_points([(x0, y0), (x1, y1)], 2)
    height, width = trimap.shape
    (left, top), (right, bottom) = corners.min(axis=0), corners.max(axis=0)
    # Half-open on the far side: a pixel centre exactly on the far edge is outside.
    cx0, cy0 = max(0, math.ceil(left - 0.5)), max(0, math.ceil(top - 0.5))
    cx1, cy1 = min(width, math.ceil(right - 0.5)), min(height, math.ceil(bottom - 0.5))
    if cx1 <= cx0 or cy1 <= cy0:
        return None
    return _patch_from_mask(trimap, cx0, cy0, np.ones((cy1 - cy0, cx1 - cx0), dtype=bool), value)


def flood_fill(trimap: np.ndarray, x: float, y: float, value: int, connectivity: int = 4) -> Patch | None:
    """Set the connected region of pixels sharing the class of the pixel under (x, y) to ``value``.

    ``connectivity`` is 4 (edge neighbours) or 8 (also diagonal).  Runs cv2.floodFill in mask-only mode,
    so the trimap is not touched and the time grows with the region; the patch covers the region's
    bounding box.  A point outside the image, or a region already of ``value``, gives ``None``.
    """
    _check_trimap(trimap)
    value = _check_value(value)
    if connectivity not in (4, 8):
        raise ValueError(f"connectivity must be 4 or 8, got {connectivity!r}")
    if not (math.isfinite(x) and math.isfinite(y)):
        raise ValueError(f"the seed point must be finite, got ({x}, {y})")
    height, width = trimap.shape
    col, row = math.floor(x), math.floor(y)
    if not (0 <= col < width and 0 <= row < height) or trimap[row, col] == value:
        return None
    # The (H + 2)×(W + 2) mask is the one whole-image allocation; np.zeros gets it from the OS already
    # zeroed, so untouched pages cost nothing.
    mask = np.zeros((height + 2, width + 2), dtype=np.uint8)
    flags = connectivity | cv2.FLOODFILL_MASK_ONLY | cv2.FLOODFILL_FIXED_RANGE | (1 << 8)
    # floodFill takes the image as an output argument even in mask-only mode; a read-only view of the
    # trimap is refused, and copying 50 MP for it would defeat the point.
    source = trimap if trimap.flags.writeable else trimap.copy()
    _, _, _, (rx, ry, rw, rh) = cv2.floodFill(source, mask, (col, row), 0, 0, 0, flags)
    region = mask[ry + 1 : ry + 1 + rh, rx + 1 : rx + 1 + rw].view(bool)
    values = trimap[ry : ry + rh, rx : rx + rw].copy()
    values[region] = value
    return Patch(rx, ry, values)


def fill(trimap: np.ndarray, value: int) -> Patch | None:
    """Set the whole trimap to ``value`` ("clear"); the patch covers the pixels that were something else."""
    _check_trimap(trimap)
    value = _check_value(value)
    x, y, w, h = cv2.boundingRect(cv2.compare(trimap, value, cv2.CMP_NE))
    if w == 0:
        return None
    return Patch(x, y, np.full((h, w), value, dtype=np.uint8))


def invert(trimap: np.ndarray) -> Patch | None:
    """Swap foreground and background; unknown stays.  The patch covers the non-unknown pixels."""
    _check_trimap(trimap)
    x, y, w, h = cv2.boundingRect(cv2.compare(trimap, UNKNOWN, cv2.CMP_NE))
    if w == 0:
        return None
    return Patch(x, y, cv2.LUT(trimap[y : y + h, x : x + w], _INVERT_LUT))


__all__ = ["MIN_RADIUS", "VALUES", "Patch", "fill", "flood_fill", "invert", "polygon", "rectangle", "stroke"]
