"""The image canvas: zoom, pan, view modes and editing tools over photos of 50 megapixels and more.

Painting touches about a screenful of pixels at any zoom.  The photo, the trimap tint, the matte and the
cut-out are drawn from 512-px tiles of a level-of-detail pyramid (level L halves level L−1 with an area
filter, so one level-L pixel covers 2^L × 2^L photo pixels); a frame draws only the visible tiles of the
level whose pixels are between one and two screen pixels.  Tiles are turned into QPixmaps on first paint
and kept in an LRU cache; when a frame has spent its time budget, tiles still missing are drawn from a
cached coarser level and filled in on the next frames, so zooming into a fresh area never stalls.

Edits repaint only what changed: a trimap edit re-derives the touched rectangle of each coarser trimap
level and drops only the cached tiles over it; progressive alpha tiles do the same for the matte; live
routing maps repaint only the tokens whose colour changed.

Coordinates: the scene is the photo, one scene unit per photo pixel, (0, 0) at its top-left corner.
Signals carry photo pixels.  Alpha and routing maps may come at a smaller "work size" (a preview run):
``work_size`` is (H, W) as in :class:`matteapp.engine.session.SessionResult`, and a work pixel (x, y) covers photo
pixels [x·sx, (x+1)·sx) × [y·sy, (y+1)·sy) with sx = W_photo / W_work, sy = H_photo / H_work.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence

import cv2
import numpy as np
from PySide6.QtCore import QEvent, QPoint, QPointF, QRect, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPen, QPixmap, QPolygonF, QTransform
from PySide6.QtWidgets import QFrame, QGraphicsScene, QGraphicsView, QWidget

from matteapp.gui.imaging import (
    apply_lut,
    checkerboard_brush,
    colormap_lut,
    premultiplied_rgba,
    qimage_view,
    qimage_view_region,
    trimap_tint_lut,
)
from matteapp.io.export import HEATMAP_COLORMAP, TOKEN_SIZE, routing_density

TILE_SIZE = 512
VIEW_MODES = ("photo", "trimap", "alpha", "cutout", "split", "routing")
TOOLS = ("none", "brush", "lasso", "rect", "fill")
BACKDROPS = ("checker", "black", "white")
ROUTING_MODES = ("block", "density")

MIN_ZOOM, MAX_ZOOM = 1 / 64, 64.0
WHEEL_NOTCH_FACTOR = 2 ** 0.25          # one mouse-wheel notch (120 units of angleDelta)
MIN_GRID_CELL_PX = 8                     # token grid lines only when a token is at least this many screen px
DEFAULT_FRAME_BUDGET_MS = 12.0           # tile conversions per frame before coarser placeholders are used
DEFAULT_CACHE_MB = 384
SPLIT_GRAB_PX = 6                        # how close to the divider a press grabs it
LASSO_DRAG_PX = 4                        # a press that moves less than this is a click (point-by-point lasso)

_PHOTO, _TRIMAP, _ALPHA, _CUTOUT = "photo", "trimap", "alpha", "cutout"
_CANVAS_COLOR = QColor(48, 48, 52)


# ----------------------------------------------------------------------------------------------- pyramid


def pyramid_shapes(height: int, width: int, tile: int) -> list[tuple[int, int]]:
    """(h, w) of each level: level 0 is the image, each next one ⌈half⌉ of the last, down to one tile."""
    shapes = [(height, width)]
    while max(shapes[-1]) > tile:
        h, w = shapes[-1]
        shapes.append(((h + 1) // 2, (w + 1) // 2))
    return shapes


def halve(src: np.ndarray) -> np.ndarray:
    """Area-filtered half of ``src`` (H×W or H×W×C): ⌈H/2⌉×⌈W/2⌉, pixel (y, x) the mean of src's 2×2 block
    at (2y, 2x); an odd last row/column is averaged only along the other axis (edge replication)."""
    h, w = src.shape[:2]
    h2, w2 = h // 2, w // 2
    out = np.empty(((h + 1) // 2, (w + 1) // 2) + src.shape[2:], dtype=src.dtype)
    area = cv2.INTER_AREA
    if h2 and w2:
        out[:h2, :w2] = cv2.resize(src[: 2 * h2, : 2 * w2], (w2, h2), interpolation=area).reshape(out[:h2, :w2].shape)
    if h % 2 and w2:
        out[h2 : h2 + 1, :w2] = cv2.resize(src[h - 1 : h, : 2 * w2], (w2, 1), interpolation=area).reshape(out[h2 : h2 + 1, :w2].shape)
    if w % 2 and h2:
        out[:h2, w2 : w2 + 1] = cv2.resize(src[: 2 * h2, w - 1 : w], (1, h2), interpolation=area).reshape(out[:h2, w2 : w2 + 1].shape)
    if h % 2 and w % 2:
        out[h2, w2] = src[h - 1, w - 1]
    return out


def _unit_to_uint8(values: np.ndarray) -> np.ndarray:
    """[0, 1] floats → uint8 (rounded, clipped)."""
    return cv2.convertScaleAbs(np.clip(values, 0.0, 1.0), alpha=255.0)


def _cast(values: np.ndarray, dtype) -> np.ndarray:
    if values.dtype == dtype:
        return values
    if dtype == np.uint8 and values.dtype.kind == "f":
        return _unit_to_uint8(values)
    return values.astype(dtype)


def build_pyramid(level0: np.ndarray, tile: int, dtype=None) -> list[np.ndarray]:
    """[level0, half, quarter, …] down to one tile (see :func:`pyramid_shapes`).  Level 0 is ``level0``
    itself (not copied); coarser levels are ``dtype`` (default: level 0's; float → uint8 maps [0, 1] to
    [0, 255])."""
    levels = [level0]
    dtype = dtype or level0.dtype
    for _ in pyramid_shapes(*level0.shape[:2], tile)[1:]:
        levels.append(_cast(halve(levels[-1]), dtype))
    return levels


def update_pyramid(levels: list[np.ndarray], x0: int, y0: int, x1: int, y1: int) -> list[tuple[int, int, int, int]]:
    """Re-derive the coarser levels after level 0 changed in [x0, x1) × [y0, y1).

    Only the affected rectangle of each level is recomputed, with the same 2×2 blocks as
    :func:`build_pyramid`, so the result equals a full rebuild.  Returns each level's rectangle
    (x0, y0, x1, y1) in that level's pixels, level 0 first.
    """
    rects = [(x0, y0, x1, y1)]
    for level in range(1, len(levels)):
        x0, y0, x1, y1 = x0 // 2, y0 // 2, (x1 + 1) // 2, (y1 + 1) // 2
        src = levels[level - 1]
        block = halve(src[2 * y0 : min(2 * y1, src.shape[0]), 2 * x0 : min(2 * x1, src.shape[1])])
        levels[level][y0:y1, x0:x1] = _cast(block, levels[level].dtype)
        rects.append((x0, y0, x1, y1))
    return rects


# -------------------------------------------------------------------------------------------- tile cache


class TileCache:
    """Least-recently-used QPixmaps keyed by (layer, level, column, row), bounded in bytes."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple, QPixmap] = OrderedDict()
        self._bytes = 0

    @staticmethod
    def _size(pixmap: QPixmap) -> int:
        return pixmap.width() * pixmap.height() * max(1, pixmap.depth() // 8)

    def get(self, key: tuple) -> QPixmap | None:
        pixmap = self._items.get(key)
        if pixmap is not None:
            self._items.move_to_end(key)
        return pixmap

    def peek(self, key: tuple) -> QPixmap | None:
        return self._items.get(key)

    def put(self, key: tuple, pixmap: QPixmap) -> None:
        old = self._items.pop(key, None)
        if old is not None:
            self._bytes -= self._size(old)
        self._items[key] = pixmap
        self._bytes += self._size(pixmap)
        while self._bytes > self.max_bytes and len(self._items) > 1:
            _, dropped = self._items.popitem(last=False)
            self._bytes -= self._size(dropped)

    def drop(self, predicate: Callable[[tuple], bool]) -> int:
        """Forget every tile whose key satisfies ``predicate``; returns how many."""
        keys = [key for key in self._items if predicate(key)]
        for key in keys:
            self._bytes -= self._size(self._items.pop(key))
        return len(keys)

    def clear(self) -> None:
        self._items.clear()
        self._bytes = 0

    def keys(self, layer: str | None = None) -> list[tuple]:
        return [key for key in self._items if layer is None or key[0] == layer]

    @property
    def nbytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._items)


def _device_rect(t: QTransform, x0: float, y0: float, x1: float, y1: float) -> QRect:
    """Viewport rectangle of a scene rectangle under a scale + translate transform, edges rounded so that
    tiles sharing an edge meet without a gap or an overlap."""
    left, right = round(t.m11() * x0 + t.dx()), round(t.m11() * x1 + t.dx())
    top, bottom = round(t.m22() * y0 + t.dy()), round(t.m22() * y1 + t.dy())
    return QRect(left, top, right - left, bottom - top)


# ---------------------------------------------------------------------------------------------- canvas


class ImageCanvas(QGraphicsView):
    """Zoomable, pannable view of a photo with its trimap, matte, cut-out and routing maps.

    Arrays handed in are referenced, not copied: the canvas reads the document's photo, trimap and alpha
    and redraws on ``update_*_region``.  All methods must be called from the GUI thread.

    Signals (coordinates in photo pixels, fractional; they may lie outside the photo):
    ``zoomChanged(scale)`` 1.0 = 100 %; ``hovered(x, y)`` on every mouse move; ``tokenHovered(row, col)``
    when the token under the cursor changes in the routing view, (-1, -1) off the grid or in other views;
    ``strokeStarted(x, y)`` / ``strokeMoved(x, y)`` (every move) / ``strokeFinished()`` for the brush;
    ``polygonFinished([(x, y), …])`` for the lasso (freehand drag, or clicked points closed by a
    double-click or Enter; Esc cancels); ``rectFinished((x, y, w, h))`` ints, the photo pixels the
    dragged rectangle covers, clipped to the photo; ``fillClicked(x, y)``; ``splitPositionChanged(f)``.
    Panning (space + drag, middle drag, or left drag with tool "none") never emits stroke signals.
    """

    zoomChanged = Signal(float)
    hovered = Signal(float, float)
    tokenHovered = Signal(int, int)
    strokeStarted = Signal(float, float)
    strokeMoved = Signal(float, float)
    strokeFinished = Signal()
    polygonFinished = Signal(list)
    rectFinished = Signal(tuple)
    fillClicked = Signal(float, float)
    splitPositionChanged = Signal(float)

    def __init__(self, parent: QWidget | None = None, tile_size: int = TILE_SIZE, cache_mb: float = DEFAULT_CACHE_MB):
        super().__init__(parent)
        self._scene = QGraphicsScene(self)
        self.setScene(self._scene)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        # Overlays (legend, divider, brush) are fixed to the viewport, so scrolling must repaint rather
        # than blit the old pixels; painting is from cached tiles, a full frame is cheap.
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.FullViewportUpdate)
        self.setCacheMode(QGraphicsView.CacheModeFlag.CacheNone)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        self.viewport().setMouseTracking(True)
        self.viewport().setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.viewport().grabGesture(Qt.GestureType.PinchGesture)

        self.tile_size = int(tile_size)
        self.frame_budget_ms: float | None = DEFAULT_FRAME_BUDGET_MS
        """Time a frame may spend converting tiles before it draws coarser placeholders (None: no limit)."""
        self._cache = TileCache(int(cache_mb * 2**20))

        self._photo: np.ndarray | None = None
        self._photo_levels: list[np.ndarray] = []
        self._shapes: list[tuple[int, int]] = []
        self._trimap: np.ndarray | None = None
        self._trimap_levels: list[np.ndarray] = []
        self._tint_lut = trimap_tint_lut(1.0)
        self._alpha: np.ndarray | None = None
        self._alpha_levels: list[np.ndarray] = []

        self._routing_maps: list[np.ndarray] = []
        self._routing_probs: list[np.ndarray | None] = []
        self._token_grid: tuple[int, int] | None = None
        self._routing_work_size: tuple[int, int] | None = None
        self._routing_mode, self._routing_block, self._routing_soft = "density", 0, False
        self._routing_values: np.ndarray | None = None
        self._routing_image: QImage | None = None
        self._colormap = colormap_lut(HEATMAP_COLORMAP)
        self._legend_bar = qimage_view(np.ascontiguousarray(self._colormap[None]))

        self._view_mode = "photo"
        self._backdrop: str | QColor = "checker"
        self._checker = checkerboard_brush()
        self._overlay_opacity = 0.5
        self._split = 0.5
        self._show_token_grid = False
        self._tool = "none"
        self._brush_radius = 20.0

        self._zoom = 1.0
        self._fit_mode = False
        self._mouse: QPointF | None = None
        self._cursor_rect = QRect()
        self._space_down = False
        self._pan_button: Qt.MouseButton | None = None
        self._pan_last = QPointF()
        self._dragging_split = False
        self._stroking = False
        self._lasso: list[tuple[float, float]] = []
        self._lasso_clicking = False
        self._lasso_press: QPointF | None = None
        self._lasso_travel = 0.0
        self._rect_drag: tuple[QPointF, QPointF] | None = None
        self._last_token = (-1, -1)

        self._notices: dict[str, str] = {}

        self._frame_t0 = 0.0
        self._frame_rendered = 0
        self._frame_incomplete = False
        self._refresh_pending = False
        self._update_cursor()

    # ---------------------------------------------------------------------------------- content

    @property
    def image_size(self) -> tuple[int, int] | None:
        """(H, W) of the photo, None when empty."""
        return None if self._photo is None else self._photo.shape[:2]

    def set_photo(self, rgb: np.ndarray) -> None:
        """Show ``rgb`` (H×W×3 uint8), fitted to the view; drops trimap, alpha and routing maps.

        The array is referenced (a C-contiguous one is not copied); the pyramid's coarser levels take
        about a third of its size again.
        """
        if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError("the photo must be an H×W×3 uint8 RGB array")
        if not rgb.flags.c_contiguous:
            rgb = np.ascontiguousarray(rgb)  # tiles are zero-copy row-strided views; they need plain rows
        self._cache.clear()
        self._photo = rgb
        self._shapes = pyramid_shapes(rgb.shape[0], rgb.shape[1], self.tile_size)
        self._photo_levels = build_pyramid(rgb, self.tile_size)
        self._trimap, self._trimap_levels = None, []
        self._alpha, self._alpha_levels = None, []
        self._clear_routing()
        self._update_scene_rect()
        self.zoom_to_fit()
        self.viewport().update()

    def clear(self) -> None:
        """Back to the empty state (no photo)."""
        self._cache.clear()
        self._photo, self._photo_levels, self._shapes = None, [], []
        self._trimap, self._trimap_levels = None, []
        self._alpha, self._alpha_levels = None, []
        self._clear_routing()
        self._lasso, self._lasso_clicking, self._rect_drag = [], False, None
        self._stroking = False
        self._set_token((-1, -1))
        self.viewport().update()

    def set_trimap(self, trimap: np.ndarray | None) -> None:
        """Show ``trimap`` (H×W uint8 0 / 128 / 255, the photo's size), referenced: after changing it in
        place call :meth:`update_trimap_region`.  None removes it."""
        self._cache.drop(lambda key: key[0] == _TRIMAP)
        if trimap is None:
            self._trimap, self._trimap_levels = None, []
        else:
            self._require_photo()
            if not isinstance(trimap, np.ndarray) or trimap.dtype != np.uint8 or trimap.shape != self._photo.shape[:2]:
                raise ValueError(f"the trimap must be an H×W uint8 array of the photo's size {self._photo.shape[:2]}")
            self._trimap = trimap
            self._trimap_levels = build_pyramid(trimap, self.tile_size)
        if self._view_mode == "trimap":
            self.viewport().update()

    def update_trimap_region(self, x: int, y: int, w: int, h: int) -> None:
        """The trimap changed in the photo rectangle (x, y, w, h): re-derive that part of the coarser levels
        and redraw only the tiles over it."""
        if self._trimap is None:
            return
        rect = self._clamp_rect(x, y, w, h, self._trimap.shape)
        if rect is None:
            return
        x0, y0, x1, y1 = rect
        update_pyramid(self._trimap_levels, x0, y0, x1, y1)
        self._drop_tiles((_TRIMAP,), x0, y0, x1, y1)
        if self._view_mode == "trimap":
            self._update_photo_rect(x0, y0, x1, y1)

    def set_alpha(self, alpha: np.ndarray | None, work_size: tuple[int, int] | None = None) -> None:
        """Show ``alpha`` (float32 (h, w) in [0, 1] at the work size, referenced) in the alpha, cut-out and
        split views; ``work_size`` (H, W), if given, must be its shape.  None removes it."""
        self._cache.drop(lambda key: key[0] in (_ALPHA, _CUTOUT))
        if alpha is None:
            self._alpha, self._alpha_levels = None, []
        else:
            self._require_photo()
            if not isinstance(alpha, np.ndarray) or alpha.dtype != np.float32 or alpha.ndim != 2 or 0 in alpha.shape:
                raise ValueError("alpha must be a non-empty (h, w) float32 array")
            if work_size is not None and tuple(int(v) for v in work_size) != alpha.shape:
                raise ValueError(f"alpha has shape {alpha.shape} but work_size (H, W) is {tuple(work_size)}")
            self._alpha = alpha
            self._alpha_levels = build_pyramid(alpha, self.tile_size, dtype=np.uint8)
        if self._view_mode in ("alpha", "cutout", "split"):
            self.viewport().update()

    def update_alpha_region(self, x: int, y: int, w: int, h: int) -> None:
        """Alpha changed in the rectangle (x, y, w, h) of *work* pixels (alpha's own coordinates): redraw
        only the matte and cut-out tiles over it."""
        if self._alpha is None:
            return
        rect = self._clamp_rect(x, y, w, h, self._alpha.shape)
        if rect is None:
            return
        x0, y0, x1, y1 = rect
        update_pyramid(self._alpha_levels, x0, y0, x1, y1)
        sx, sy = self._work_scale(self._alpha.shape)
        # one work pixel more on each side: bilinear sampling reaches into the neighbours
        px0, py0, px1, py1 = (x0 - 1) * sx, (y0 - 1) * sy, (x1 + 1) * sx, (y1 + 1) * sy
        self._drop_tiles((_ALPHA, _CUTOUT), px0, py0, px1, py1)
        if self._view_mode in ("alpha", "cutout", "split"):
            self._update_photo_rect(px0, py0, px1, py1)

    def set_routing(
        self,
        maps: Sequence[np.ndarray],
        probs: Sequence[np.ndarray | None] | None,
        token_grid: tuple[int, int] | None,
        work_size: tuple[int, int] | None,
    ) -> None:
        """The routed blocks' maps so far (they arrive one by one while the model runs; call again with the
        longer list).  ``maps``: (gh, gw) bool, True = routed to global attention; ``probs``: the routers'
        (gh, gw) float32 probabilities (entries may be None); ``token_grid``: (gh, gw); ``work_size``: (H, W)
        the model ran at (None: the photo's).  Token (r, c) covers work pixels [16c, 16(c+1)) × [16r, 16(r+1)).
        An empty ``maps`` removes the overlay.  Only the tokens whose colour changes are repainted."""
        self._require_photo()
        maps = [np.asarray(m) for m in maps]
        if token_grid is None and maps:
            token_grid = maps[0].shape
        token_grid = tuple(int(v) for v in token_grid) if token_grid is not None else None
        for m in maps:
            if m.shape != token_grid:
                raise ValueError(f"routing map of shape {m.shape} does not match the token grid {token_grid}")
        probs = list(probs) if probs is not None else []
        for p in probs:
            if p is not None and np.shape(p) != token_grid:
                raise ValueError(f"router probabilities of shape {np.shape(p)} do not match the token grid {token_grid}")
        self._routing_maps = maps
        self._routing_probs = probs
        self._token_grid = token_grid
        self._routing_work_size = tuple(int(v) for v in work_size) if work_size is not None else self._photo.shape[:2]
        self._refresh_routing()
        self._update_hover_token()

    def set_routing_display(self, mode: str, block: int = 0, soft: bool = False) -> None:
        """Routing overlay content: ``"block"`` — block ``block``'s (0-based) keep map, or with ``soft`` its
        router probabilities; ``"density"`` — the fraction of the blocks so far that routed each token, or
        with ``soft`` the mean router probability."""
        if mode not in ROUTING_MODES:
            raise ValueError(f"unknown routing display {mode!r}; choose one of {', '.join(ROUTING_MODES)}")
        if int(block) < 0:
            raise ValueError(f"block must be 0 or more, got {block}")
        self._routing_mode, self._routing_block, self._routing_soft = mode, int(block), bool(soft)
        self._refresh_routing()

    def _clear_routing(self) -> None:
        self._routing_maps, self._routing_probs = [], []
        self._token_grid = self._routing_work_size = None
        self._routing_values = self._routing_image = None

    # ------------------------------------------------------------------------------- view state

    @property
    def view_mode(self) -> str:
        return self._view_mode

    def set_view_mode(self, mode: str) -> None:
        """One of "photo", "trimap", "alpha", "cutout", "split", "routing"."""
        if mode not in VIEW_MODES:
            raise ValueError(f"unknown view mode {mode!r}; choose one of {', '.join(VIEW_MODES)}")
        if mode != self._view_mode:
            self._view_mode = mode
            self._update_hover_token()
            self._update_cursor()
            self.viewport().update()

    def set_backdrop(self, kind: str | QColor) -> None:
        """What shows through the cut-out: "checker", "black", "white" or a QColor."""
        if isinstance(kind, QColor):
            self._backdrop = QColor(kind)
        elif kind in BACKDROPS:
            self._backdrop = kind
        else:
            raise ValueError(f"unknown backdrop {kind!r}; choose one of {', '.join(BACKDROPS)} or a QColor")
        if self._view_mode in ("cutout", "split"):
            self.viewport().update()

    def set_overlay_opacity(self, opacity: float) -> None:
        """Opacity (0..1) of the trimap tint and of the routing overlay."""
        opacity = float(opacity)
        if not 0.0 <= opacity <= 1.0:
            raise ValueError(f"opacity must be in [0, 1], got {opacity}")
        self._overlay_opacity = opacity
        if self._view_mode in ("trimap", "routing"):
            self.viewport().update()

    @property
    def overlay_opacity(self) -> float:
        return self._overlay_opacity

    def set_split_position(self, fraction: float) -> None:
        """Divider of the split view, as a fraction (clamped to 0..1) of the viewport width from the left."""
        fraction = min(1.0, max(0.0, float(fraction)))
        if fraction != self._split:
            self._split = fraction
            self.splitPositionChanged.emit(fraction)
            if self._view_mode == "split":
                self.viewport().update()

    @property
    def split_position(self) -> float:
        return self._split

    def set_tool(self, tool: str) -> None:
        """What the left button does: "none" (pan), "brush", "lasso", "rect" or "fill"."""
        if tool not in TOOLS:
            raise ValueError(f"unknown tool {tool!r}; choose one of {', '.join(TOOLS)}")
        if self._stroking:
            self._stroking = False
            self.strokeFinished.emit()
        self._lasso, self._lasso_clicking, self._rect_drag = [], False, None
        self._tool = tool
        self._update_cursor()
        self.viewport().update()

    @property
    def tool(self) -> str:
        return self._tool

    def set_brush_radius(self, px: float) -> None:
        """Brush radius in photo pixels (the footprint cursor scales with the zoom)."""
        px = float(px)
        if not px > 0:
            raise ValueError(f"brush radius must be positive, got {px}")
        self._brush_radius = px
        self._update_brush_cursor()

    @property
    def brush_radius(self) -> float:
        return self._brush_radius

    def set_show_token_grid(self, show: bool) -> None:
        """Token grid lines over the routing view (drawn only when a token is at least 8 screen px)."""
        self._show_token_grid = bool(show)
        if self._view_mode == "routing":
            self.viewport().update()

    # ------------------------------------------------------------------------------------- zoom

    @property
    def zoom(self) -> float:
        """Screen pixels per photo pixel (1.0 = 100 %)."""
        return self._zoom

    def fit_zoom(self) -> float:
        """The zoom at which the whole photo fits the viewport."""
        if self._photo is None:
            return 1.0
        h, w = self._photo.shape[:2]
        vp = self.viewport().size()
        return min(max(1, vp.width()) / w, max(1, vp.height()) / h)

    def zoom_to_fit(self) -> None:
        """Whole photo in view, centred; stays fitted when the view is resized."""
        if self._photo is None:
            return
        h, w = self._photo.shape[:2]
        self._apply_zoom(self.fit_zoom(), QPointF(w / 2, h / 2), self._viewport_center())
        self._fit_mode = True

    def zoom_actual(self) -> None:
        """100 %: one photo pixel per screen pixel, about the viewport centre."""
        self.set_zoom(1.0)

    def zoom_in(self) -> None:
        """Next step of √2 (…, 50 %, 71 %, 100 %, 141 %, 200 %, …), about the viewport centre."""
        self.set_zoom(2 ** ((math.floor(2 * math.log2(self._zoom) + 1e-6) + 1) / 2))

    def zoom_out(self) -> None:
        """Previous step of √2, about the viewport centre."""
        self.set_zoom(2 ** ((math.ceil(2 * math.log2(self._zoom) - 1e-6) - 1) / 2))

    def set_zoom(self, scale: float, anchor: QPointF | QPoint | None = None) -> None:
        """Zoom to ``scale`` keeping the photo point under ``anchor`` (viewport px; default: its centre) fixed."""
        anchor = self._viewport_center() if anchor is None else QPointF(anchor)
        self._apply_zoom(scale, self.map_to_image(anchor), anchor)
        self._fit_mode = False

    def _apply_zoom(self, scale: float, image_point: QPointF, viewport_point: QPointF) -> None:
        scale = min(MAX_ZOOM, max(MIN_ZOOM, float(scale)))
        changed = scale != self._zoom
        self._zoom = scale
        self.setTransform(QTransform.fromScale(scale, scale))
        self._update_scene_rect()
        self._place(image_point, viewport_point)
        self._update_brush_cursor()
        self.viewport().update()
        if changed:
            self.zoomChanged.emit(scale)

    def _place(self, image_point: QPointF, viewport_point: QPointF) -> None:
        """Scroll so that ``image_point`` lands on ``viewport_point`` (to within half a pixel)."""
        now = self.viewportTransform().map(image_point)
        h, v = self.horizontalScrollBar(), self.verticalScrollBar()
        h.setValue(h.value() + round(now.x() - viewport_point.x()))
        v.setValue(v.value() + round(now.y() - viewport_point.y()))

    def _update_scene_rect(self) -> None:
        # A viewport of slack on every side: any photo point can be brought under any viewport point,
        # which zooming about the cursor needs, and a small photo can still be panned.
        if self._photo is None:
            return
        h, w = self._photo.shape[:2]
        vp = self.viewport().size()
        mx, my = (vp.width() + 2) / self._zoom, (vp.height() + 2) / self._zoom
        self.setSceneRect(QRectF(-mx, -my, w + 2 * mx, h + 2 * my))

    def _viewport_center(self) -> QPointF:
        vp = self.viewport().size()
        return QPointF(vp.width() / 2, vp.height() / 2)

    def map_to_image(self, viewport_point: QPointF | QPoint) -> QPointF:
        """Photo pixel coordinates (fractional) of a viewport point."""
        inverse, _ = self.viewportTransform().inverted()
        return inverse.map(QPointF(viewport_point))

    def map_from_image(self, x: float, y: float) -> QPointF:
        """Viewport coordinates of the photo point (x, y)."""
        return self.viewportTransform().map(QPointF(x, y))

    def pan_by(self, dx: float, dy: float) -> None:
        """Move the picture by (dx, dy) viewport pixels."""
        h, v = self.horizontalScrollBar(), self.verticalScrollBar()
        h.setValue(h.value() - round(dx))
        v.setValue(v.value() - round(dy))
        self._fit_mode = False

    def resizeEvent(self, event) -> None:
        keep = self.map_to_image(QPointF(0, 0))
        super().resizeEvent(event)
        if self._photo is None:
            return
        if self._fit_mode:
            self.zoom_to_fit()
        else:
            self._update_scene_rect()
            self._place(keep, QPointF(0, 0))

    # ------------------------------------------------------------------------------------ tiles

    def cached_tiles(self, layer: str) -> dict[tuple[int, int, int], int]:
        """{(level, column, row): QPixmap.cacheKey()} of the tiles cached for ``layer`` ("photo",
        "trimap", "alpha", "cutout"): which tiles exist and whether they were re-rendered."""
        return {key[1:]: self._cache.peek(key).cacheKey() for key in self._cache.keys(layer)}

    @property
    def refining(self) -> bool:
        """True while the last frame drew coarser stand-ins for tiles not converted yet (more frames follow)."""
        return self._frame_incomplete

    def clear_tile_cache(self) -> None:
        """Forget every converted tile (they are re-made on demand), e.g. under memory pressure."""
        self._cache.clear()

    @property
    def tile_cache_bytes(self) -> int:
        """Memory held by converted tiles (bounded by ``cache_mb``)."""
        return self._cache.nbytes

    def _drop_tiles(self, layers: tuple[str, ...], x0: float, y0: float, x1: float, y1: float) -> None:
        """Forget the cached tiles of ``layers`` (all levels) that overlap the photo rectangle."""
        tile = self.tile_size

        def overlaps(key: tuple) -> bool:
            layer, level, col, row = key
            step = tile << level
            return layer in layers and col * step < x1 and (col + 1) * step > x0 and row * step < y1 and (row + 1) * step > y0

        self._cache.drop(overlaps)

    def _level_for(self, scale: float) -> int:
        """The pyramid level whose pixels are 1–2 device pixels at this zoom (0 when zoomed in)."""
        device = scale * self.viewport().devicePixelRatioF()
        if device >= 1.0 or not self._shapes:
            return 0
        return min(len(self._shapes) - 1, int(math.floor(math.log2(1.0 / device) + 1e-9)))

    def _tile_extent(self, level: int, col: int, row: int) -> tuple[int, int, int, int]:
        """(x, y, w, h) of a tile in its level's pixels."""
        tile = self.tile_size
        h, w = self._shapes[level]
        x, y = col * tile, row * tile
        return x, y, min(tile, w - x), min(tile, h - y)

    def _render_tile(self, layer: str, level: int, col: int, row: int) -> QPixmap:
        x, y, w, h = self._tile_extent(level, col, row)
        if layer == _PHOTO:
            image = qimage_view_region(self._photo_levels[level], x, y, w, h)
        elif layer == _TRIMAP:
            image = qimage_view(apply_lut(self._trimap_levels[level][y : y + h, x : x + w], self._tint_lut), premultiplied=True)
        elif layer == _ALPHA:
            image = qimage_view(self._alpha_tile(level, x, y, w, h))
        else:
            rgb = self._photo_levels[level][y : y + h, x : x + w]
            image = qimage_view(premultiplied_rgba(rgb, self._alpha_tile(level, x, y, w, h)), premultiplied=True)
        # fromImage copies into the screen's native format; the numpy tile may go after this line
        return QPixmap.fromImage(image)

    def _alpha_tile(self, level: int, x: int, y: int, w: int, h: int) -> np.ndarray:
        """uint8 alpha for the photo-pyramid tile (x, y, w, h) of ``level``, resampled from the alpha level
        with the closest resolution at or above it (bilinear; pixel centres aligned)."""
        sx, sy = self._work_scale(self._alpha.shape)
        unit = 1 << level  # photo px per tile px
        fine = min(unit / sx, unit / sy)  # work px per tile px
        a_level = 0 if fine < 2 else min(len(self._alpha_levels) - 1, int(math.floor(math.log2(fine) + 1e-9)))
        src = self._alpha_levels[a_level]
        f = 1 << a_level  # work px per src px
        kx, ky = unit / (sx * f), unit / (sy * f)  # src px per tile px
        bx, by = (x + 0.5) * kx - 0.5, (y + 0.5) * ky - 0.5  # src position of the tile's first pixel centre
        if kx == 1 and ky == 1 and bx.is_integer() and by.is_integer():
            window = src[int(by) : int(by) + h, int(bx) : int(bx) + w]
            if window.shape == (h, w):
                return _cast(np.ascontiguousarray(window), np.uint8)
        # crop the source to what the tile samples (plus a bilinear neighbour): cheap, and remap wants < 32k px
        sx0 = max(0, int(math.floor(bx)) - 1)
        sy0 = max(0, int(math.floor(by)) - 1)
        sx1 = min(src.shape[1], int(math.ceil(bx + (w - 1) * kx)) + 2)
        sy1 = min(src.shape[0], int(math.ceil(by + (h - 1) * ky)) + 2)
        if sx1 <= sx0 or sy1 <= sy0:  # the tile lies in the photo's padding beyond the work image
            sx0, sy0 = min(sx0, src.shape[1] - 1), min(sy0, src.shape[0] - 1)
            sx1, sy1 = sx0 + 1, sy0 + 1
        matrix = np.array([[kx, 0.0, bx - sx0], [0.0, ky, by - sy0]], dtype=np.float64)
        out = cv2.warpAffine(
            src[sy0:sy1, sx0:sx1], matrix, (w, h),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE,
        )
        return _cast(out, np.uint8)

    def _tile_pixmap(self, layer: str, level: int, col: int, row: int, force: bool = False) -> QPixmap | None:
        key = (layer, level, col, row)
        pixmap = self._cache.get(key)
        if pixmap is None:
            budget = self.frame_budget_ms
            if not force and budget is not None and self._frame_rendered and (time.perf_counter() - self._frame_t0) * 1000 > budget:
                self._frame_incomplete = True
                return None
            pixmap = self._render_tile(layer, level, col, row)
            self._cache.put(key, pixmap)
            self._frame_rendered += 1
        return pixmap

    def _draw_tiles(self, painter: QPainter, layer: str, exposed: QRectF) -> None:
        """Draw ``layer``'s visible tiles at the level for the current zoom, in device space (no seams)."""
        level = self._level_for(self._zoom)
        t = painter.worldTransform()
        tile, unit = self.tile_size, 1 << level
        step = tile * unit
        h, w = self._shapes[level]
        c0, c1 = max(0, int(exposed.left() // step)), min(-(-w // tile), int(math.ceil(exposed.right() / step)))
        r0, r1 = max(0, int(exposed.top() // step)), min(-(-h // tile), int(math.ceil(exposed.bottom() / step)))
        device_per_px = t.m11() * unit * self.viewport().devicePixelRatioF()
        painter.save()
        painter.resetTransform()
        for row in range(r0, r1):
            for col in range(c0, c1):
                x, y, tw, th = self._tile_extent(level, col, row)
                target = _device_rect(t, x * unit, y * unit, (x + tw) * unit, (y + th) * unit)
                pixmap = self._tile_pixmap(layer, level, col, row)
                if pixmap is not None:
                    # nearest neighbour from 100 % up (pixel-exact), bilinear for the ≤ 2× downscale below
                    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, device_per_px < 0.999)
                    painter.drawPixmap(target, pixmap)
                else:
                    self._draw_placeholder(painter, layer, level, col, row, target)
        painter.restore()

    def _draw_placeholder(self, painter: QPainter, layer: str, level: int, col: int, row: int, target: QRect) -> None:
        """Stand in for a tile not converted yet with the matching part of the nearest cached coarser tile."""
        top = len(self._shapes) - 1
        tile = self.tile_size
        x, y, tw, th = self._tile_extent(level, col, row)
        for k in range(1, top - level + 1):
            parent = self._cache.peek((layer, level + k, col >> k, row >> k))
            if parent is None and level + k == top:
                parent = self._tile_pixmap(layer, top, col >> k, row >> k, force=True)
            if parent is not None:
                source = QRectF(x / (1 << k) - (col >> k) * tile, y / (1 << k) - (row >> k) * tile, tw / (1 << k), th / (1 << k))
                painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
                painter.drawPixmap(QRectF(target), parent, source)
                return

    # ---------------------------------------------------------------------------------- painting

    def paintEvent(self, event) -> None:
        self._frame_t0 = time.perf_counter()
        self._frame_rendered = 0
        self._frame_incomplete = False
        super().paintEvent(event)
        if self._frame_incomplete and not self._refresh_pending:
            self._refresh_pending = True
            QTimer.singleShot(0, self._continue_rendering)

    def _continue_rendering(self) -> None:
        self._refresh_pending = False
        self.viewport().update()

    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:
        painter.fillRect(rect, _CANVAS_COLOR)
        if self._photo is None:
            return
        h, w = self._photo.shape[:2]
        photo = QRectF(0, 0, w, h)
        exposed = rect.intersected(photo)
        if exposed.isEmpty():
            return
        painter.save()
        painter.setClipRect(photo, Qt.ClipOperation.IntersectClip)
        mode = self._view_mode
        if mode == "split":
            divider = self.map_to_image(QPointF(self._split * self.viewport().width(), 0)).x()
            left = exposed.intersected(QRectF(photo.left(), photo.top(), max(0.0, divider - photo.left()), h))
            right = exposed.intersected(QRectF(divider, photo.top(), max(0.0, photo.right() - divider), h))
            if not left.isEmpty():
                painter.save()
                painter.setClipRect(left, Qt.ClipOperation.IntersectClip)
                self._draw_tiles(painter, _PHOTO, left)
                painter.restore()
            if not right.isEmpty():
                painter.setClipRect(right, Qt.ClipOperation.IntersectClip)
                self._draw_cutout(painter, right)
        elif mode == "cutout":
            self._draw_cutout(painter, exposed)
        elif mode == "alpha" and self._alpha is not None:
            self._draw_tiles(painter, _ALPHA, exposed)
        else:
            self._draw_tiles(painter, _PHOTO, exposed)
            if mode == "trimap" and self._trimap is not None and self._overlay_opacity > 0:
                painter.setOpacity(self._overlay_opacity)
                self._draw_tiles(painter, _TRIMAP, exposed)
            elif mode == "routing" and self._routing_image is not None and self._overlay_opacity > 0:
                painter.setOpacity(self._overlay_opacity)
                self._draw_routing(painter, exposed)
        painter.restore()

    def _draw_cutout(self, painter: QPainter, exposed: QRectF) -> None:
        t = painter.worldTransform()
        area = _device_rect(t, exposed.left(), exposed.top(), exposed.right(), exposed.bottom())
        painter.save()
        painter.resetTransform()
        if isinstance(self._backdrop, QColor):
            painter.fillRect(area, self._backdrop)
        elif self._backdrop == "checker":
            # the squares stay the same size on screen and move with the photo
            painter.setBrushOrigin(QPoint(round(t.dx()), round(t.dy())))
            painter.fillRect(area, self._checker)
        else:
            painter.fillRect(area, QColor(Qt.GlobalColor.black if self._backdrop == "black" else Qt.GlobalColor.white))
        painter.restore()
        self._draw_tiles(painter, _CUTOUT if self._alpha is not None else _PHOTO, exposed)

    def _routing_geometry(self) -> tuple[float, float] | None:
        """Photo pixels per token (x, y), None without routing."""
        if self._token_grid is None or self._photo is None:
            return None
        sx, sy = self._work_scale(self._routing_work_size)
        return TOKEN_SIZE * sx, TOKEN_SIZE * sy

    def _draw_routing(self, painter: QPainter, exposed: QRectF) -> None:
        tx, ty = self._routing_geometry()
        gh, gw = self._token_grid
        c0, c1 = max(0, int(exposed.left() // tx)), min(gw, int(math.ceil(exposed.right() / tx)))
        r0, r1 = max(0, int(exposed.top() // ty)), min(gh, int(math.ceil(exposed.bottom() / ty)))
        if c1 <= c0 or r1 <= r0:
            return
        t = painter.worldTransform()
        painter.save()
        painter.resetTransform()
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)  # tokens are flat squares
        target = _device_rect(t, c0 * tx, r0 * ty, c1 * tx, r1 * ty)
        painter.drawImage(target, self._routing_image, QRect(c0, r0, c1 - c0, r1 - r0))
        painter.restore()

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:
        if self._photo is None:
            return
        t = painter.worldTransform()
        painter.save()
        painter.resetTransform()
        if self._show_token_grid and self._view_mode == "routing":
            self._draw_token_grid(painter, t, rect)
        if self._view_mode == "split":
            x = round(self._split * self.viewport().width())
            painter.setPen(QPen(QColor(0, 0, 0, 140), 3))
            painter.drawLine(x, 0, x, self.viewport().height())
            painter.setPen(QPen(QColor(255, 255, 255), 1))
            painter.drawLine(x, 0, x, self.viewport().height())
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
            painter.setBrush(QColor(255, 255, 255))
            painter.setPen(QPen(QColor(0, 0, 0, 160), 1))
            painter.drawEllipse(QPointF(x, self.viewport().height() / 2), 7, 7)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        if self._lasso:
            points = [self.map_from_image(px, py) for px, py in self._lasso]
            if self._lasso_clicking and self._mouse is not None:
                points.append(self._mouse)
            self._draw_two_tone(painter, lambda: painter.drawPolyline(QPolygonF(points)))
        if self._rect_drag is not None:
            a, b = (self.map_from_image(p.x(), p.y()) for p in self._rect_drag)
            self._draw_two_tone(painter, lambda: painter.drawRect(QRectF(a, b).normalized()), dashed=True)
        if self._tool == "brush" and self._mouse is not None:
            radius = max(1.0, self._brush_radius * self._zoom)
            self._draw_two_tone(painter, lambda: painter.drawEllipse(self._mouse, radius, radius))
        if self._view_mode == "routing" and self._routing_maps:
            self._draw_legend(painter)
        hint = self._hint()
        if hint:
            self._draw_hint(painter, hint)
        painter.restore()

    @staticmethod
    def _draw_two_tone(painter: QPainter, draw: Callable[[], None], dashed: bool = False) -> None:
        """Dark outline under a light line: visible over any picture."""
        painter.setPen(QPen(QColor(0, 0, 0, 170), 3))
        draw()
        pen = QPen(QColor(255, 255, 255), 1)
        if dashed:
            pen.setStyle(Qt.PenStyle.DashLine)
        painter.setPen(pen)
        draw()

    def _draw_token_grid(self, painter: QPainter, t: QTransform, rect: QRectF) -> None:
        geometry = self._routing_geometry() or (float(TOKEN_SIZE), float(TOKEN_SIZE))
        tx, ty = geometry
        if tx * self._zoom < MIN_GRID_CELL_PX or ty * self._zoom < MIN_GRID_CELL_PX:
            return
        h, w = self._photo.shape[:2]
        area = rect.intersected(QRectF(0, 0, w, h))
        if area.isEmpty():
            return
        c0, c1 = int(math.ceil(area.left() / tx)), int(area.right() // tx)
        r0, r1 = int(math.ceil(area.top() / ty)), int(area.bottom() // ty)
        top, bottom = round(t.m22() * area.top() + t.dy()), round(t.m22() * area.bottom() + t.dy())
        left, right = round(t.m11() * area.left() + t.dx()), round(t.m11() * area.right() + t.dx())
        painter.setPen(QPen(QColor(255, 255, 255, 80), 1))
        for c in range(c0, c1 + 1):
            x = round(t.m11() * c * tx + t.dx())
            painter.drawLine(x, top, x, bottom)
        for r in range(r0, r1 + 1):
            y = round(t.m22() * r * ty + t.dy())
            painter.drawLine(left, y, right, y)

    def _legend_rect(self) -> QRect:
        return QRect(12, self.viewport().height() - 12 - 58, 250, 58)

    def _legend_title(self) -> tuple[str, bool]:
        """(title, continuous): a colour bar for fractions / probabilities, two swatches for a keep map."""
        n = len(self._routing_maps)
        blocks = f"{n} block{'s' if n != 1 else ''}"
        if self._routing_mode == "density":
            return (f"mean router probability, {blocks}" if self._routing_soft else f"share of blocks routing, {blocks}"), True
        k = self._routing_block
        if self._routing_values is None:
            return f"block {k + 1}: no routing yet", True
        if self._routing_soft:
            return f"block {k + 1} of {n}: router probability", True
        return f"block {k + 1} of {n}: routing", False

    def _draw_legend(self, painter: QPainter) -> None:
        box = self._legend_rect()
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(20, 20, 24, 200))
        painter.drawRoundedRect(QRectF(box), 6, 6)
        title, continuous = self._legend_title()
        font = QFont(painter.font())
        font.setPixelSize(12)
        painter.setFont(font)
        painter.setPen(QColor(235, 235, 235))
        painter.drawText(QRect(box.left() + 10, box.top() + 5, box.width() - 20, 16), Qt.AlignmentFlag.AlignLeft, title)
        bar = QRect(box.left() + 10, box.top() + 24, box.width() - 20, 12)
        if continuous:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
            painter.drawImage(bar, self._legend_bar)
            labels = (("0", Qt.AlignmentFlag.AlignLeft), ("0.5", Qt.AlignmentFlag.AlignHCenter), ("1", Qt.AlignmentFlag.AlignRight))
            for text, align in labels:
                painter.drawText(QRect(bar.left(), bar.bottom() + 2, bar.width(), 14), align, text)
        else:
            x = bar.left()
            for text, value in (("global attention", 255), ("local only", 0)):
                r, g, b = (int(v) for v in self._colormap[value])
                painter.fillRect(QRect(x, bar.top(), 12, 12), QColor(r, g, b))
                painter.drawText(QRect(x + 18, bar.top() - 2, 110, 16), Qt.AlignmentFlag.AlignLeft, text)
                x += 120

    def set_notice(self, key: str, text: str | None) -> None:
        """Show ``text`` at the top of the view (what to do next, what is on screen) until it is set to
        None under the same ``key``; of several, the one set last shows."""
        self._notices.pop(key, None)
        if text:
            self._notices[key] = text
        self.viewport().update()

    def notice(self) -> str | None:
        """The text shown at the top of the view, if any."""
        return self._hint()

    def _hint(self) -> str | None:
        if self._notices:
            return next(reversed(self._notices.values()))
        if self._view_mode in ("alpha", "cutout", "split") and self._alpha is None:
            return "no matte yet"
        if self._view_mode == "routing" and not self._routing_maps:
            return "no routing maps yet"
        return None

    def _draw_hint(self, painter: QPainter, text: str) -> None:
        font = QFont(painter.font())
        font.setPixelSize(13)
        painter.setFont(font)
        metrics = painter.fontMetrics()
        room = self.viewport().width() - 48
        if metrics.horizontalAdvance(text) > room:  # elide only when it does not fit: at the exact advance
            text = metrics.elidedText(text, Qt.TextElideMode.ElideRight, room)  # it may round to "…"
        width = metrics.horizontalAdvance(text) + 24
        box = QRectF((self.viewport().width() - width) / 2, 12, width, 24)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(20, 20, 24, 200))
        painter.drawRoundedRect(box, 12, 12)
        painter.setPen(QColor(235, 235, 235))
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)

    def _update_photo_rect(self, x0: float, y0: float, x1: float, y1: float) -> None:
        """Repaint the part of the viewport over a photo rectangle."""
        a, b = self.map_from_image(x0, y0), self.map_from_image(x1, y1)
        self.viewport().update(QRectF(a, b).normalized().toAlignedRect().adjusted(-1, -1, 1, 1))

    # ---------------------------------------------------------------------------------- routing

    def _compute_routing_values(self) -> np.ndarray | None:
        maps, probs = self._routing_maps, self._routing_probs
        if not maps:
            return None
        if self._routing_mode == "density":
            if self._routing_soft:
                available = [p for p in probs if p is not None]
                return np.mean(np.stack(available), axis=0, dtype=np.float32) if available else None
            return routing_density(maps)
        k = self._routing_block
        if self._routing_soft:
            return np.asarray(probs[k], dtype=np.float32) if k < len(probs) and probs[k] is not None else None
        return maps[k].astype(np.float32) if k < len(maps) else None

    def _refresh_routing(self) -> None:
        old = self._routing_values
        values = self._compute_routing_values()
        self._routing_values = values
        if values is None:
            self._routing_image = None
        else:
            levels = _unit_to_uint8(values)
            # the QImage keeps the colour array alive (see imaging)
            self._routing_image = qimage_view(apply_lut(levels, self._colormap))
        if self._view_mode != "routing":
            return
        self.viewport().update(self._legend_rect())
        if old is not None and values is not None and old.shape == values.shape:
            changed = np.argwhere(old != values)
            if len(changed) == 0:
                return
            (r0, c0), (r1, c1) = changed.min(axis=0), changed.max(axis=0) + 1
            tx, ty = self._routing_geometry()
            self._update_photo_rect(c0 * tx, r0 * ty, c1 * tx, r1 * ty)
        else:
            self.viewport().update()

    # ------------------------------------------------------------------------------------ input

    def _set_token(self, token: tuple[int, int]) -> None:
        if token != self._last_token:
            self._last_token = token
            self.tokenHovered.emit(*token)

    def _update_hover_token(self) -> None:
        geometry = self._routing_geometry()
        if self._view_mode != "routing" or geometry is None or self._mouse is None:
            self._set_token((-1, -1))
            return
        p = self.map_to_image(self._mouse)
        h, w = self._photo.shape[:2]
        gh, gw = self._token_grid
        row, col = int(math.floor(p.y() / geometry[1])), int(math.floor(p.x() / geometry[0]))
        inside = 0 <= p.x() < w and 0 <= p.y() < h and 0 <= row < gh and 0 <= col < gw
        self._set_token((row, col) if inside else (-1, -1))

    def _update_brush_cursor(self) -> None:
        old = self._cursor_rect
        if self._tool == "brush" and self._mouse is not None:
            r = max(1.0, self._brush_radius * self._zoom) + 3
            new = QRectF(self._mouse.x() - r, self._mouse.y() - r, 2 * r, 2 * r).toAlignedRect()
        else:
            new = QRect()
        self._cursor_rect = new
        if old != new:
            self.viewport().update(old.united(new))

    def _update_cursor(self) -> None:
        shape = Qt.CursorShape
        if self._pan_button is not None:
            cursor = shape.ClosedHandCursor
        elif self._space_down or self._tool == "none":
            cursor = shape.OpenHandCursor
        elif self._tool == "fill":
            cursor = shape.PointingHandCursor
        else:
            cursor = shape.CrossCursor
        if self._view_mode == "split" and self._near_divider() and self._pan_button is None:
            cursor = shape.SplitHCursor
        self.viewport().setCursor(cursor)

    def _near_divider(self) -> bool:
        return (
            self._view_mode == "split"
            and self._mouse is not None
            and abs(self._mouse.x() - self._split * self.viewport().width()) <= SPLIT_GRAB_PX
        )

    def _image_xy(self, pos: QPointF) -> tuple[float, float]:
        p = self.map_to_image(pos)
        return p.x(), p.y()

    def mousePressEvent(self, event) -> None:
        pos = event.position()
        self._mouse = QPointF(pos)
        button = event.button()
        if self._photo is None:
            return
        if button == Qt.MouseButton.MiddleButton or (
            button == Qt.MouseButton.LeftButton and (self._space_down or self._tool == "none") and not self._near_divider()
        ):
            self._pan_button, self._pan_last = button, QPointF(pos)
            self._update_cursor()
            return
        if button != Qt.MouseButton.LeftButton:
            return
        if self._near_divider():
            self._dragging_split = True
            return
        x, y = self._image_xy(pos)
        if self._tool == "brush":
            self._stroking = True
            self.strokeStarted.emit(x, y)
        elif self._tool == "lasso":
            if not self._lasso_clicking:
                self._lasso = [(x, y)]
            self._lasso_press, self._lasso_travel = QPointF(pos), 0.0
        elif self._tool == "rect":
            self._rect_drag = (QPointF(x, y), QPointF(x, y))
        elif self._tool == "fill":
            self.fillClicked.emit(x, y)

    def mouseMoveEvent(self, event) -> None:
        pos = event.position()
        previous = self._mouse
        self._mouse = QPointF(pos)
        if self._photo is None:
            return
        if self._pan_button is not None:
            delta = pos - self._pan_last
            self._pan_last = QPointF(pos)
            self.pan_by(delta.x(), delta.y())
        elif self._dragging_split:
            self.set_split_position(pos.x() / max(1, self.viewport().width()))
        else:
            x, y = self._image_xy(pos)
            if self._stroking:
                self.strokeMoved.emit(x, y)
            elif self._lasso_press is not None:
                if previous is not None:
                    self._lasso_travel += math.hypot(pos.x() - previous.x(), pos.y() - previous.y())
                if not self._lasso_clicking:
                    last = self.map_from_image(*self._lasso[-1])
                    if math.hypot(pos.x() - last.x(), pos.y() - last.y()) >= 1.0:
                        self._lasso.append((x, y))
                self.viewport().update()
            elif self._rect_drag is not None:
                self._rect_drag = (self._rect_drag[0], QPointF(x, y))
                self.viewport().update()
            elif self._lasso_clicking:
                self.viewport().update()
        x, y = self._image_xy(pos)
        self.hovered.emit(x, y)
        self._update_hover_token()
        self._update_brush_cursor()
        self._update_cursor()

    def mouseReleaseEvent(self, event) -> None:
        pos = event.position()
        button = event.button()
        if self._pan_button is not None:
            if button == self._pan_button:
                self._pan_button = None
                self._update_cursor()
            return
        if button != Qt.MouseButton.LeftButton:
            return
        if self._dragging_split:
            self._dragging_split = False
            return
        if self._stroking:
            self._stroking = False
            self.strokeFinished.emit()
        elif self._lasso_press is not None:
            self._lasso_press = None
            x, y = self._image_xy(pos)
            if self._lasso_travel >= LASSO_DRAG_PX and not self._lasso_clicking:
                self._finish_lasso()
            elif self._lasso_clicking:
                self._lasso.append((x, y))
            else:
                self._lasso_clicking = True  # a click starts a point-by-point polygon
            self.viewport().update()
        elif self._rect_drag is not None:
            a, b = self._rect_drag
            self._rect_drag = None
            self.viewport().update()
            h, w = self._photo.shape[:2]
            x0, x1 = max(0, math.floor(min(a.x(), b.x()))), min(w, math.ceil(max(a.x(), b.x())))
            y0, y1 = max(0, math.floor(min(a.y(), b.y()))), min(h, math.ceil(max(a.y(), b.y())))
            if x1 > x0 and y1 > y0:
                self.rectFinished.emit((x0, y0, x1 - x0, y1 - y0))

    def mouseDoubleClickEvent(self, event) -> None:
        if self._tool == "lasso" and self._lasso_clicking and event.button() == Qt.MouseButton.LeftButton:
            self._finish_lasso()  # the double-click's first click already added its point
            return
        self.mousePressEvent(event)

    def _finish_lasso(self) -> None:
        points, self._lasso = self._lasso, []
        self._lasso_clicking, self._lasso_press = False, None
        if len(points) >= 3:
            self.polygonFinished.emit(list(points))
        self.viewport().update()

    def keyPressEvent(self, event) -> None:
        key = event.key()
        if key == Qt.Key.Key_Space:
            if not event.isAutoRepeat():
                self._space_down = True
                self._update_cursor()
            event.accept()
            return
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self._lasso_clicking:
            self._finish_lasso()
            event.accept()
            return
        if key == Qt.Key.Key_Escape and (self._lasso or self._rect_drag is not None):
            self._lasso, self._lasso_clicking, self._lasso_press, self._rect_drag = [], False, None, None
            self.viewport().update()
            event.accept()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Space:
            if not event.isAutoRepeat():
                self._space_down = False
                self._update_cursor()
            event.accept()
            return
        super().keyReleaseEvent(event)

    def focusOutEvent(self, event) -> None:
        self._space_down = False  # the release may go to another widget
        self._update_cursor()
        super().focusOutEvent(event)

    def leaveEvent(self, event) -> None:
        self._mouse = None
        self._update_brush_cursor()
        self._set_token((-1, -1))
        super().leaveEvent(event)

    def wheelEvent(self, event) -> None:
        if self._photo is None:
            return
        pixel, angle = event.pixelDelta(), event.angleDelta()
        zoom_key = bool(event.modifiers() & Qt.KeyboardModifier.ControlModifier)
        if event.phase() != Qt.ScrollPhase.NoScrollPhase and not pixel.isNull() and not zoom_key:
            # a trackpad's two-finger scroll pans (its pinch arrives as a gesture or as ctrl + wheel)
            self.pan_by(pixel.x(), pixel.y())
        else:
            notches = (angle.y() or angle.x()) / 120.0
            if notches:
                self.set_zoom(self._zoom * WHEEL_NOTCH_FACTOR**notches, event.position())
        event.accept()

    def viewportEvent(self, event) -> bool:
        kind = event.type()
        if kind == QEvent.Type.NativeGesture and self._photo is not None:
            gesture = event.gestureType()
            if gesture == Qt.NativeGestureType.ZoomNativeGesture:
                self.set_zoom(self._zoom * (1.0 + event.value()), event.position())
                return True
            if gesture == Qt.NativeGestureType.SmartZoomNativeGesture:
                if self._fit_mode:
                    self.set_zoom(1.0, event.position())
                else:
                    self.zoom_to_fit()
                return True
        elif kind == QEvent.Type.Gesture and self._photo is not None:
            pinch = event.gesture(Qt.GestureType.PinchGesture)
            if pinch is not None:
                centre = self.viewport().mapFromGlobal(pinch.centerPoint().toPoint())
                self.set_zoom(self._zoom * pinch.scaleFactor(), QPointF(centre))
                event.accept(pinch)
                return True
        return super().viewportEvent(event)

    # ---------------------------------------------------------------------------------- helpers

    def _require_photo(self) -> None:
        if self._photo is None:
            raise RuntimeError("no photo: call set_photo first")

    def _work_scale(self, work_size: tuple[int, int]) -> tuple[float, float]:
        """(sx, sy): photo pixels per work pixel."""
        h, w = self._photo.shape[:2]
        return w / work_size[1], h / work_size[0]

    @staticmethod
    def _clamp_rect(x, y, w, h, shape) -> tuple[int, int, int, int] | None:
        rows, cols = shape[:2]
        x0, y0 = max(0, int(math.floor(x))), max(0, int(math.floor(y)))
        x1, y1 = min(cols, int(math.ceil(x + w))), min(rows, int(math.ceil(y + h)))
        return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None

    def sizeHint(self) -> QSize:
        return QSize(960, 640)


__all__ = [
    "BACKDROPS",
    "ROUTING_MODES",
    "TILE_SIZE",
    "TOOLS",
    "VIEW_MODES",
    "ImageCanvas",
    "TileCache",
    "build_pyramid",
    "halve",
    "pyramid_shapes",
    "update_pyramid",
]
