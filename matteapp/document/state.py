"""The document the desktop app edits: a photo, its trimap with undo history, the last results, settings.

:class:`MatteDocument` holds all the state the widgets show and change, without Qt: widgets subscribe to
it and redraw on its notifications, tools change it through :meth:`MatteDocument.apply` with a
:class:`matteapp.document.paint.Patch`, and the engine worker's results are fed in on the GUI thread.

Undo stores only the pixels an edit changed, before and after, in blocks on a fixed tile grid
(:class:`TrimapEdit`), so a brush stroke across a 50-megapixel trimap costs about a byte per painted pixel,
not two copies of its bounding box.
"""

from __future__ import annotations

import logging
import math
import numbers
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType

import cv2
import numpy as np

from matteapp.document.paint import Patch
from matteapp.engine.session import DEFAULT_TOKEN_CAP, ENGINES, SessionResult
from matteapp.engine.trimap import BACKGROUND, FOREGROUND, UNKNOWN, TrimapError, normalize_trimap
from matteapp.io.images import LoadedImage

logger = logging.getLogger(__name__)

DEFAULT_HISTORY_BYTES = 1 << 30
"""Undo memory kept by default.  Brush edits are tiny; the limit matters for whole-image edits, which store up
to two bytes per changed pixel (an auto-trimap replacing a detailed one on a 50 MP photo: up to 100 MB)."""

DEFAULT_SETTINGS: Mapping[str, object] = MappingProxyType(
    {
        "band_width": None,  # unknown-band width in pixels for auto-trimaps; None = trimap.default_band_width
        "engine": "mematte",  # one of session.ENGINES
        "max_global_tokens": DEFAULT_TOKEN_CAP,  # cap on tokens routed to global attention; None = no cap
        "memory_budget_mb": None,  # overrides max_global_tokens when set (session.plan_for_budget)
        "preview": True,  # run on a downscaled copy first
        "auto_run": False,  # re-run the preview after each trimap edit
    }
)

Observer = Callable[[str, object], None]


# ---------------------------------------------------------------------------------------------- history

EDIT_TILE = 128
"""Side in pixels of the grid, aligned to image coordinates, on which :class:`TrimapEdit` stores changes."""

# Bytes of Python objects per stored block and per array in it (measured with tracemalloc), counted in
# TrimapEdit.nbytes so that the history limit also sees the many blocks of a long stroke of one value.
_BLOCK_OVERHEAD = 224
_ARRAY_OVERHEAD = 112


def _compact(values: np.ndarray) -> np.ndarray | int:
    """``values`` (n,) uint8, or the one value as an int when they are all equal (a brush writes one value)."""
    low, high = cv2.minMaxLoc(values)[:2] if values.size else (0, 0)
    return int(low) if low == high else values


def _value_counts(values: np.ndarray | int, count: int) -> np.ndarray:
    """(256,) int64 histogram of ``count`` pixel values stored as by :func:`_compact`."""
    if isinstance(values, int):
        counts = np.zeros(256, dtype=np.int64)
        counts[values] = count
        return counts
    return np.bincount(values, minlength=256).astype(np.int64, copy=False)


class _Block:
    """The changed pixels of one grid tile: a tight (x, y, w, h) box, which of its pixels changed (``mask``:
    ``np.packbits`` of the (h, w) bool, None when all did) and their values, row-major, before and after."""

    __slots__ = ("x", "y", "w", "h", "count", "mask", "before", "after")

    def __init__(self, x: int, y: int, mask: np.ndarray, before: np.ndarray, after: np.ndarray):
        """From (h, w) ``mask`` (bool, tight: its bounding box is the whole array), ``before``, ``after``."""
        self.y, self.x = y, x
        self.h, self.w = mask.shape
        self.count = int(np.count_nonzero(mask))
        self.mask = None if self.count == mask.size else np.packbits(mask, axis=None)
        # Boolean indexing copies, so the block never shares memory with the caller's arrays.
        self.before = _compact(before[mask])
        self.after = _compact(after[mask])

    @property
    def nbytes(self) -> int:
        arrays = [a for a in (self.mask, self.before, self.after) if isinstance(a, np.ndarray)]
        return _BLOCK_OVERHEAD + sum(a.nbytes + _ARRAY_OVERHEAD for a in arrays)

    def bool_mask(self) -> np.ndarray:
        """(h, w) bool, True where the pixel changed."""
        if self.mask is None:
            return np.ones((self.h, self.w), dtype=bool)
        return np.unpackbits(self.mask, count=self.h * self.w).view(bool).reshape(self.h, self.w)

    def dense(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(mask, before, after), each (h, w); before/after are 0 where the pixel did not change."""
        mask = self.bool_mask()
        before = np.zeros((self.h, self.w), dtype=np.uint8)
        after = np.zeros((self.h, self.w), dtype=np.uint8)
        before[mask] = self.before
        after[mask] = self.after
        return mask, before, after

    def write(self, target: np.ndarray, values: np.ndarray | int) -> None:
        """Write ``values`` (:attr:`before` or :attr:`after`) into the changed pixels of the full-size ``target``."""
        region = target[self.y : self.y + self.h, self.x : self.x + self.w]
        if self.mask is None:
            region[...] = values if isinstance(values, int) else values.reshape(self.h, self.w)
        else:
            region[self.bool_mask()] = values


def _merged(block: _Block | None, x: int, y: int, mask: np.ndarray, before: np.ndarray, after: np.ndarray):
    """``block`` grown by a change at (x, y) (tight (h, w) ``mask``, ``before`` and ``after``) in its tile.

    Where the block already changed a pixel its ``before`` is kept: it holds the value from before the
    whole edit, while the new ``before`` is only the value from before this change.  None when no pixel
    differs from its original any more.
    """
    if block is None:
        return _Block(x, y, mask, before, after)
    h, w = mask.shape
    x0, y0 = min(block.x, x), min(block.y, y)
    x1, y1 = max(block.x + block.w, x + w), max(block.y + block.h, y + h)
    union = np.zeros((y1 - y0, x1 - x0), dtype=bool)
    union_before = np.zeros(union.shape, dtype=np.uint8)
    union_after = np.zeros(union.shape, dtype=np.uint8)
    new = (slice(y - y0, y - y0 + h), slice(x - x0, x - x0 + w))
    old = (slice(block.y - y0, block.y - y0 + block.h), slice(block.x - x0, block.x - x0 + block.w))
    old_mask, old_before, old_after = block.dense()
    # The older change first, then the newer on top; for `before` the other way round.
    np.copyto(union_after[old], old_after, where=old_mask)
    np.copyto(union_after[new], after, where=mask)
    np.copyto(union_before[new], before, where=mask)
    np.copyto(union_before[old], old_before, where=old_mask)
    union[old] = old_mask
    union[new] |= mask
    union &= union_before != union_after  # a pixel painted back to its original is no change
    bx, by, bw, bh = cv2.boundingRect(union.view(np.uint8))
    if bw == 0:
        return None
    inner = (slice(by, by + bh), slice(bx, bx + bw))
    return _Block(x0 + bx, y0 + by, union[inner], union_before[inner], union_after[inner])


class TrimapEdit:
    """One undoable trimap change, stored sparsely: the pixels it changed, before and after.

    Changes are kept per tile of an :data:`EDIT_TILE` grid aligned to the image, each tile as the tight box
    of its changed pixels, a bit mask of which changed and their old and new values (a single number when
    they are all equal, as under a brush).  So a diagonal stroke across a 50 MP trimap costs at most about
    two bytes per pixel it painted (under one where it painted over a single class), not two copies of its
    bounding box.
    """

    def __init__(self, label: str):
        """An edit called ``label`` that changes nothing yet; :meth:`add` records changes."""
        self.label = label
        self._blocks: dict[tuple[int, int], _Block] = {}
        self._nbytes = 0
        self._rect: tuple[int, int, int, int] | None = (0, 0, 0, 0)

    @classmethod
    def from_arrays(
        cls, label: str, x: int, y: int, before: np.ndarray, after: np.ndarray, changed: np.ndarray | None = None
    ) -> TrimapEdit:
        """The edit that turns ``before`` into ``after`` (uint8 (h, w)) in the rectangle at (x, y)."""
        edit = cls(label)
        edit.add(x, y, before, after, changed)
        return edit

    def add(self, x: int, y: int, before: np.ndarray, after: np.ndarray, changed: np.ndarray | None = None) -> None:
        """Record a further change of the rectangle at (x, y) from ``before`` to ``after`` (uint8 (h, w)).

        Only the tiles the rectangle overlaps are touched.  A pixel this edit had already changed keeps
        its first ``before``, so undoing restores the state from before the whole edit.  ``changed``:
        ``before != after`` when the caller has it already (a whole-image compare costs ~20 ms at 50 MP).
        """
        before, after = np.asarray(before), np.asarray(after)
        if before.ndim != 2 or before.shape != after.shape or before.dtype != np.uint8 or after.dtype != np.uint8:
            raise ValueError(
                f"before and after must be uint8 (h, w) arrays of one shape, got "
                f"{before.dtype} {before.shape} and {after.dtype} {after.shape}"
            )
        x, y = int(x), int(y)
        if x < 0 or y < 0:
            raise ValueError(f"the change must lie in the image, got origin ({x}, {y})")
        h, w = before.shape
        if before.size == 0:
            return
        if changed is None:
            changed = before != after
        elif changed.shape != before.shape:
            raise ValueError(f"changed mask {changed.shape} does not match the {before.shape} change")
        tile = EDIT_TILE
        for row in range(y // tile, (y + h - 1) // tile + 1):
            ty0, ty1 = max(y, row * tile) - y, min(y + h, (row + 1) * tile) - y
            for col in range(x // tile, (x + w - 1) // tile + 1):
                tx0, tx1 = max(x, col * tile) - x, min(x + w, (col + 1) * tile) - x
                bx, by, bw, bh = cv2.boundingRect(changed[ty0:ty1, tx0:tx1].view(np.uint8))
                if bw == 0:
                    continue
                inner = (slice(ty0 + by, ty0 + by + bh), slice(tx0 + bx, tx0 + bx + bw))
                key = (row, col)
                old = self._blocks.get(key)
                block = _merged(old, x + tx0 + bx, y + ty0 + by, changed[inner], before[inner], after[inner])
                self._nbytes += (block.nbytes if block is not None else 0) - (old.nbytes if old is not None else 0)
                if block is None:
                    del self._blocks[key]
                else:
                    self._blocks[key] = block
                self._rect = None

    @property
    def rect(self) -> tuple[int, int, int, int]:
        """(x, y, w, h) in image pixels: the bounding box of every pixel the edit changes ((0, 0, 0, 0) if none)."""
        if self._rect is None:
            if self._blocks:
                blocks = self._blocks.values()
                x0, y0 = min(b.x for b in blocks), min(b.y for b in blocks)
                x1, y1 = max(b.x + b.w for b in blocks), max(b.y + b.h for b in blocks)
                self._rect = (x0, y0, x1 - x0, y1 - y0)
            else:
                self._rect = (0, 0, 0, 0)
        return self._rect

    @property
    def nbytes(self) -> int:
        """Memory the edit holds: pixel data plus a fixed estimate per stored block."""
        return self._nbytes

    @property
    def block_rects(self) -> list[tuple[int, int, int, int]]:
        """(x, y, w, h) of each stored block, in row-major tile order; each lies within one grid tile."""
        return [(b.x, b.y, b.w, b.h) for _, b in sorted(self._blocks.items())]

    def changed_pixels(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(ys, xs, before, after): int64 coordinates and uint8 values of every pixel the edit changes, (n,)
        each, grouped by block.  Allocates n-sized arrays: meant for inspection, not for undo."""
        parts = []
        for _, block in sorted(self._blocks.items()):
            ys, xs = np.nonzero(block.bool_mask())
            values = [
                np.full(ys.shape, v, np.uint8) if isinstance(v, int) else v for v in (block.before, block.after)
            ]
            parts.append((ys + block.y, xs + block.x, *values))
        if not parts:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, np.zeros(0, np.uint8), np.zeros(0, np.uint8)
        ys, xs, before, after = (np.concatenate(column) for column in zip(*parts))
        return ys.astype(np.int64), xs.astype(np.int64), before.astype(np.uint8), after.astype(np.uint8)

    def revert_in(self, trimap: np.ndarray) -> np.ndarray:
        """Write the values from before the edit into ``trimap`` (H×W uint8, in the edit's after state).

        Works block by block, touching only the changed pixels.  Returns the change of the trimap's value
        histogram, (256,) int64, so that a caller can keep counts without scanning the image.
        """
        return self._write(trimap, undo=True)

    def apply_to(self, trimap: np.ndarray) -> np.ndarray:
        """Write the edit's new values into ``trimap`` (in the before state); returns the histogram change
        as :meth:`revert_in` does."""
        return self._write(trimap, undo=False)

    def _write(self, trimap: np.ndarray, undo: bool) -> np.ndarray:
        delta = np.zeros(256, dtype=np.int64)
        for block in self._blocks.values():
            new, old = (block.before, block.after) if undo else (block.after, block.before)
            block.write(trimap, new)
            delta += _value_counts(new, block.count)
            delta -= _value_counts(old, block.count)
        return delta


class EditHistory:
    """Undo/redo stack of :class:`TrimapEdit` with a clean (saved) marker.

    The history only records; the document writes the pixels.  Edits ``[0, index)`` are applied, the rest
    can be redone.  When the stored edits exceed ``max_bytes`` (``None``: no limit) the oldest are dropped,
    never the newest.
    """

    def __init__(self, max_bytes: int | None = DEFAULT_HISTORY_BYTES):
        self.max_bytes = max_bytes
        self._edits: list[TrimapEdit] = []
        self._index = 0
        # Position of the saved state in the stack, or None once that state cannot be reached again.
        self._clean: int | None = 0
        self._nbytes = 0

    def push(self, edit: TrimapEdit) -> None:
        """Record an edit that has just been applied; the redo steps are discarded."""
        for dropped in self._edits[self._index :]:
            self._nbytes -= dropped.nbytes
        del self._edits[self._index :]
        if self._clean is not None and self._clean > self._index:
            self._clean = None
        self._edits.append(edit)
        self._index += 1
        self._nbytes += edit.nbytes
        self._trim()

    def amend_top(self, edit: TrimapEdit, previous_nbytes: int) -> None:
        """The newest applied ``edit`` grew in place (``previous_nbytes`` before): update the accounting."""
        if self.top is not edit:
            raise ValueError("only the newest applied edit can be amended")
        self._nbytes += edit.nbytes - previous_nbytes
        if self._clean == self._index:
            self._clean = None  # the saved state was the edit's old result, which no longer exists
        self._trim()

    def _trim(self) -> None:
        if self.max_bytes is None:
            return
        while self._nbytes > self.max_bytes and self._index > 1:
            self._nbytes -= self._edits.pop(0).nbytes
            self._index -= 1
            if self._clean is not None:
                self._clean = self._clean - 1 if self._clean > 0 else None

    def undo(self) -> TrimapEdit | None:
        """Step back; returns the edit whose ``before`` must be written, or None at the bottom."""
        if not self._index:
            return None
        self._index -= 1
        return self._edits[self._index]

    def redo(self) -> TrimapEdit | None:
        """Step forward; returns the edit whose ``after`` must be written, or None at the top."""
        if self._index == len(self._edits):
            return None
        self._index += 1
        return self._edits[self._index - 1]

    @property
    def top(self) -> TrimapEdit | None:
        """The newest applied edit (the next undo), or None."""
        return self._edits[self._index - 1] if self._index else None

    @property
    def can_undo(self) -> bool:
        return self._index > 0

    @property
    def can_redo(self) -> bool:
        return self._index < len(self._edits)

    @property
    def undo_label(self) -> str | None:
        return self._edits[self._index - 1].label if self._index else None

    @property
    def redo_label(self) -> str | None:
        return self._edits[self._index].label if self.can_redo else None

    @property
    def is_clean(self) -> bool:
        """True when the applied edits are exactly those of the last :meth:`mark_clean`."""
        return self._clean == self._index

    def mark_clean(self) -> None:
        self._clean = self._index

    def clear(self) -> None:
        """Forget every edit; the (now empty) history is clean."""
        self._edits.clear()
        self._index = 0
        self._clean = 0
        self._nbytes = 0

    @property
    def nbytes(self) -> int:
        """Bytes held by all edits, undoable and redoable (:attr:`TrimapEdit.nbytes`)."""
        return self._nbytes

    def __len__(self) -> int:
        return len(self._edits)


# --------------------------------------------------------------------------------------------- document


def _class_counts(trimap: np.ndarray) -> np.ndarray:
    """(256,) int64 histogram of a uint8 array."""
    counts = np.zeros(256, dtype=np.int64)
    if trimap.size == 0:
        return counts
    # calcHist counts in float32, exact only below 2**24 per call, so large arrays go in bands of rows.
    rows = max(1, (1 << 22) // trimap.shape[1])
    for y in range(0, trimap.shape[0], rows):
        band = np.ascontiguousarray(trimap[y : y + rows])
        counts += cv2.calcHist([band], [0], None, [256], [0, 256]).ravel().astype(np.int64)
    return counts


def _check_setting(key: str, value):
    """The value to store for ``key``; raises ValueError for an unknown key or a bad value."""

    def whole(minimum: int):
        if value is None:
            return None
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < minimum:
            raise ValueError(f"setting {key!r} must be None or a whole number ≥ {minimum}, got {value!r}")
        return int(value)

    if key == "band_width":
        return whole(1)
    if key == "max_global_tokens":
        return whole(0)
    if key == "memory_budget_mb":
        if value is None:
            return None
        if (
            isinstance(value, (bool, np.bool_))
            or not isinstance(value, numbers.Real)
            or not math.isfinite(value)
            or value <= 0
        ):
            raise ValueError(f"setting 'memory_budget_mb' must be None or a positive number, got {value!r}")
        return float(value)
    if key == "engine":
        if value not in ENGINES:
            raise ValueError(f"setting 'engine' must be one of {', '.join(ENGINES)}, got {value!r}")
        return str(value)
    if key in ("preview", "auto_run"):
        if not isinstance(value, (bool, np.bool_)):
            raise ValueError(f"setting {key!r} must be True or False, got {value!r}")
        return bool(value)
    raise ValueError(f"unknown setting {key!r}; the settings are {', '.join(DEFAULT_SETTINGS)}")


def _to_size(alpha: np.ndarray | None, size: tuple[int, int]) -> np.ndarray | None:
    if alpha is None or alpha.shape == tuple(size):
        return alpha
    height, width = size
    return cv2.resize(alpha, (width, height), interpolation=cv2.INTER_LINEAR)


class MatteDocument:
    """A photo being matted: trimap + undo history, the last run's results, and the run settings.

    ``image``: the :class:`~matteapp.io.images.LoadedImage`.  ``path``: the project file (``*.matte``) the
    document was loaded from or last saved to, None if never saved.  ``trimap``: H×W ``uint8`` of
    0 / 128 / 255, default all background.  A given trimap must be the photo's size; it is normalized
    (:func:`~matteapp.engine.trimap.normalize_trimap`) into an array the document owns.  ``notices``: messages
    for the user from opening the document (see :func:`matteapp.document.project.load_project`).

    Observers (:meth:`subscribe`) are called synchronously as ``callback(event, payload)``:

    ``"trimap"``       (x, y, w, h) of the pixels that changed
    ``"results"``      None: alpha / routing were cleared (new run, :meth:`clear_results`) or replaced (final
                       result); :meth:`set_result` sends "results" then "alpha"
    ``"routing"``      index (0, 1, …) of the routed block whose map arrived
    ``"alpha_tile"``   (x, y, w, h) of a progressive alpha tile, in result coordinates
    ``"alpha"``        None: the final alpha was set
    ``"dirty"``        bool: :attr:`dirty` changed
    ``"settings"``     dict of the settings that changed, with their new values

    An observer that raises is logged and the others still run.  Not thread-safe: use it from the GUI
    thread only (the engine worker's results are handed over there).
    """

    def __init__(self, image: LoadedImage, path: Path | str | None = None, trimap: np.ndarray | None = None):
        self.image = image
        self.path = Path(path) if path is not None else None
        height, width = image.rgb.shape[:2]
        if trimap is None:
            self._trimap = np.full((height, width), BACKGROUND, dtype=np.uint8)
        else:
            self._trimap = self._validated(trimap)
        self._counts = _class_counts(self._trimap)
        self.history = EditHistory()
        self._observers: dict[int, Observer] = {}
        self._next_token = 0

        self._settings = dict(DEFAULT_SETTINGS)
        self._saved_settings = dict(self._settings)
        self._modified = False
        self._was_dirty = False

        # Messages for the user about how the document was opened (e.g. the photo changed since the
        # project was saved), for the app to show once.
        self.notices: list[str] = []
        self.previous_alpha: np.ndarray | None = None
        self._reset_results()

    # -------------------------------------------------------------------------------------- basics

    @property
    def rgb(self) -> np.ndarray:
        """H×W×3 ``uint8`` RGB of the photo."""
        return self.image.rgb

    @property
    def size(self) -> tuple[int, int]:
        """(H, W) of the photo — numpy order, unlike ``LoadedImage.size``."""
        return self._trimap.shape

    @property
    def trimap(self) -> np.ndarray:
        """The H×W ``uint8`` trimap itself, not a copy: read it, change it only through :meth:`apply`."""
        return self._trimap

    def region_counts(self) -> tuple[int, int, int]:
        """Pixel counts of (background, unknown, foreground), kept up to date per edit (no image scan)."""
        return int(self._counts[BACKGROUND]), int(self._counts[UNKNOWN]), int(self._counts[FOREGROUND])

    @property
    def has_hints(self) -> bool:
        """True when the trimap has an unknown region and some foreground, so that a run makes sense."""
        return bool(self._counts[UNKNOWN] > 0 and self._counts[FOREGROUND] > 0)

    # ------------------------------------------------------------------------------------ observers

    def subscribe(self, callback: Observer) -> Callable[[], None]:
        """Call ``callback(event, payload)`` on every change; returns a function that unsubscribes it."""
        token = self._next_token
        self._next_token += 1
        self._observers[token] = callback

        def unsubscribe() -> None:
            self._observers.pop(token, None)

        return unsubscribe

    def _notify(self, event: str, payload: object = None) -> None:
        for token, callback in list(self._observers.items()):
            # An observer unsubscribed by an earlier one in this round (a widget closing) is skipped.
            if token not in self._observers:
                continue
            try:
                callback(event, payload)
            except Exception:
                logger.exception("document observer %r failed on %r event", callback, event)

    # -------------------------------------------------------------------------------------- editing

    def _validated(self, trimap: np.ndarray) -> np.ndarray:
        arr = np.asarray(trimap)
        height, width = self.image.rgb.shape[:2]
        if arr.ndim < 2:
            raise TrimapError(f"a trimap must be an H×W array, got shape {arr.shape}")
        if arr.shape[:2] != (height, width):
            raise TrimapError(f"the trimap is {arr.shape[1]}×{arr.shape[0]} but the photo is {width}×{height}")
        return normalize_trimap(arr)

    def apply(self, patch: Patch | None, label: str, merge_with: TrimapEdit | None = None) -> TrimapEdit | None:
        """Write ``patch`` into the trimap and record it as an undo step called ``label``.

        Only the pixels that really change are stored (see :class:`TrimapEdit`); their bounding box is
        reported ("trimap" event).  ``merge_with``: an edit returned by an earlier ``apply`` of the same
        stroke; while it is still the newest step it is extended in place, touching only the grid tiles
        this patch overlaps and keeping the values from before the stroke, so the whole stroke undoes at
        once.  Otherwise a new step is pushed.

        Returns the edit (``merge_with`` itself when merged).  When nothing changes, returns ``merge_with``
        if it is still open for merging, else None — so a caller can keep passing back what it got.
        """
        open_edit = merge_with if merge_with is not None and merge_with is self.history.top else None
        if patch is None:
            return open_edit
        x, y, w, h = patch.rect
        height, width = self.size
        if x + w > width or y + h > height:
            raise ValueError(f"patch {patch.rect} (x, y, w, h) reaches outside the {width}×{height} trimap")
        region = self._trimap[y : y + h, x : x + w]
        changed = region != patch.values
        bx, by, bw, bh = cv2.boundingRect(changed.view(np.uint8))
        if bw == 0:
            return open_edit
        inner = (slice(by, by + bh), slice(bx, bx + bw))
        after = patch.values[inner]
        after_counts = _class_counts(after)
        if after_counts[[BACKGROUND, UNKNOWN, FOREGROUND]].sum() != after.size:
            raise ValueError("patch values must be 0, 128 or 255")
        before = region[inner].copy()
        changed = changed[inner]
        region[inner] = after
        x, y = x + bx, y + by
        self._counts += after_counts - _class_counts(before)

        # The edit copies what it keeps, so the caller may reuse the patch.
        if open_edit is not None:
            previous_nbytes = open_edit.nbytes
            open_edit.add(x, y, before, after, changed)
            self.history.amend_top(open_edit, previous_nbytes)
            edit = open_edit
        else:
            edit = TrimapEdit.from_arrays(label, x, y, before, after, changed)
            self.history.push(edit)
        self._notify("trimap", (x, y, bw, bh))
        self._update_dirty()
        return edit

    def replace_trimap(self, trimap: np.ndarray, label: str) -> TrimapEdit | None:
        """Replace the whole trimap (auto-trimap, import) as one undo step storing only the changed pixels.

        ``trimap``: H×W (or H×W×1) ``uint8`` gray, normalized to 0 / 128 / 255.  Raises
        :class:`~matteapp.engine.trimap.TrimapError` for another size or dtype.  None when nothing changes.
        """
        return self.apply(Patch(0, 0, self._validated(trimap)), label)

    def undo(self) -> TrimapEdit | None:
        """Undo the newest edit; returns it, or None when there is nothing to undo."""
        edit = self.history.undo()
        if edit is not None:
            self._counts += edit.revert_in(self._trimap)
            self._written(edit)
        return edit

    def redo(self) -> TrimapEdit | None:
        """Redo the next edit; returns it, or None when there is nothing to redo."""
        edit = self.history.redo()
        if edit is not None:
            self._counts += edit.apply_to(self._trimap)
            self._written(edit)
        return edit

    def _written(self, edit: TrimapEdit) -> None:
        self._notify("trimap", edit.rect)
        self._update_dirty()

    # ------------------------------------------------------------------------------------- settings

    @property
    def settings(self) -> Mapping[str, object]:
        """Read-only view of the run settings (keys of :data:`DEFAULT_SETTINGS`); change them with
        :meth:`update_settings`."""
        return MappingProxyType(self._settings)

    def update_settings(self, **changes) -> dict[str, object]:
        """Validate and set settings; returns (and sends as a "settings" event) those whose value changed.

        Raises ValueError, changing nothing, for an unknown key or a bad value.
        """
        checked = {key: _check_setting(key, value) for key, value in changes.items()}
        changed = {key: value for key, value in checked.items() if self._settings[key] != value}
        if changed:
            self._settings.update(changed)
            self._notify("settings", dict(changed))
            self._update_dirty()
        return changed

    # ---------------------------------------------------------------------------------------- dirty

    @property
    def dirty(self) -> bool:
        """True when the trimap or the settings differ from the last save (or :meth:`mark_modified`)."""
        return self._modified or not self.history.is_clean or self._settings != self._saved_settings

    def mark_saved(self) -> None:
        """The current trimap and settings are what is on disk."""
        self.history.mark_clean()
        self._saved_settings = dict(self._settings)
        self._modified = False
        self._update_dirty()

    def mark_modified(self) -> None:
        """Flag unsaved changes that the history does not show (e.g. work recovered from an autosave)."""
        self._modified = True
        self._update_dirty()

    def _update_dirty(self) -> None:
        dirty = self.dirty
        if dirty != self._was_dirty:
            self._was_dirty = dirty
            self._notify("dirty", dirty)

    # -------------------------------------------------------------------------------------- results

    def _reset_results(self) -> None:
        self.alpha: np.ndarray | None = None
        self.alpha_is_preview = False
        self.routing: list[np.ndarray] = []
        self.router_probs: list[np.ndarray | None] = []
        self.token_grid: tuple[int, int] | None = None
        self.result: SessionResult | None = None
        self.work_size: tuple[int, int] | None = None

    def begin_results(
        self,
        work_size: tuple[int, int],
        token_grid: tuple[int, int] | None,
        is_preview: bool,
        keep_alpha: bool = False,
    ) -> None:
        """A run starts at ``work_size`` (H, W) with a ``token_grid`` (gh, gw) (None: no routing).

        Clears the routing maps and the result ("results" event); a final alpha from the last run becomes
        :attr:`previous_alpha`, for before/after comparison.  The alpha is cleared too, unless
        ``keep_alpha``: then the alpha shown so far (the last result's, or a run's partial one) is scaled
        to ``work_size`` into a new array that the run's tiles overwrite as they come, so that a photo
        never goes blank while a slower run replaces a preview.
        """
        work_h, work_w = (int(v) for v in work_size)
        if work_h <= 0 or work_w <= 0:
            raise ValueError(f"work_size must be a positive (height, width), got {work_size}")
        shown = self.alpha if keep_alpha else None
        if self.result is not None:
            self.previous_alpha = self.result.alpha
        self._reset_results()
        if shown is not None:
            kept = _to_size(shown, (work_h, work_w))
            self.alpha = kept.copy() if kept is shown else kept
        self.work_size = (work_h, work_w)
        self.token_grid = tuple(int(v) for v in token_grid) if token_grid is not None else None
        self.alpha_is_preview = bool(is_preview)
        self._notify("results")

    def set_routing(self, index: int, keep: np.ndarray, probs: np.ndarray | None) -> None:
        """Routing decision of routed block ``index`` (they arrive in order): ``keep`` (gh, gw) bool, True =
        sent to global attention; ``probs`` (gh, gw) float32 or None.  Sends a "routing" event."""
        keep = np.asarray(keep, dtype=bool)
        if keep.ndim != 2 or (self.token_grid is not None and keep.shape != self.token_grid):
            raise ValueError(f"routing map has shape {keep.shape}, expected the token grid {self.token_grid}")
        if probs is not None:
            probs = np.asarray(probs, dtype=np.float32)
            if probs.shape != keep.shape:
                raise ValueError(f"router probabilities have shape {probs.shape}, the map {keep.shape}")
        if not 0 <= index <= len(self.routing):
            raise ValueError(f"routing map {index} arrived before map {len(self.routing)}")
        if index == len(self.routing):
            self.routing.append(keep)
            self.router_probs.append(probs)
        else:
            self.routing[index], self.router_probs[index] = keep, probs
        self._notify("routing", index)

    def set_alpha_tile(self, x: int, y: int, tile: np.ndarray) -> None:
        """Write a progressive alpha tile (float32 (h, w)) at (x, y) in result coordinates ("alpha_tile")."""
        if self.work_size is None or self.result is not None:
            raise RuntimeError("alpha tiles belong to a run: call begin_results first")
        tile = np.asarray(tile, dtype=np.float32)
        work_h, work_w = self.work_size
        if tile.ndim != 2 or x < 0 or y < 0 or x + tile.shape[1] > work_w or y + tile.shape[0] > work_h:
            raise ValueError(f"alpha tile of shape {tile.shape} at ({x}, {y}) is outside the {work_w}×{work_h} result")
        if self.alpha is None:
            self.alpha = np.zeros(self.work_size, dtype=np.float32)
        h, w = tile.shape
        self.alpha[y : y + h, x : x + w] = tile
        self._notify("alpha_tile", (int(x), int(y), w, h))

    def set_result(self, result: SessionResult) -> None:
        """The final result of a run: alpha, routing maps, probabilities, statistics ("results", "alpha")."""
        if tuple(result.full_size) != self.size:
            raise ValueError(
                f"the result is for a {result.full_size[1]}×{result.full_size[0]} photo, "
                f"this one is {self.size[1]}×{self.size[0]}"
            )
        alpha = np.asarray(result.alpha, dtype=np.float32)
        if alpha.ndim != 2:
            raise ValueError(f"result alpha must be (H, W), got shape {alpha.shape}")
        if self.result is not None and self.result is not result:
            self.previous_alpha = self.result.alpha  # a result replacing another without begin_results
        self.result = result
        self.alpha = alpha
        self.alpha_is_preview = bool(result.is_preview)
        self.work_size = alpha.shape
        self.routing = list(result.routing)
        self.router_probs = list(result.router_probs)
        self.token_grid = tuple(result.token_grid) if result.token_grid is not None else None
        self._notify("results")
        self._notify("alpha")

    def patch_alpha(self, x: int, y: int, values: np.ndarray) -> None:
        """Replace the final result's alpha in the rectangle at (x, y) of result coordinates with ``values``
        (float32 (h, w)) — a local re-matte after an edit — and send an "alpha_tile" event for it.  The
        result's alpha array is changed in place (the canvas shows that same array)."""
        if self.result is None or self.alpha is None:
            raise RuntimeError("there is no result to patch: a run has to finish first")
        values = np.asarray(values, dtype=np.float32)
        work_h, work_w = self.alpha.shape
        if values.ndim != 2 or x < 0 or y < 0 or x + values.shape[1] > work_w or y + values.shape[0] > work_h:
            raise ValueError(f"alpha patch of shape {values.shape} at ({x}, {y}) is outside the {work_w}×{work_h} result")
        h, w = values.shape
        self.alpha[y : y + h, x : x + w] = values
        self._notify("alpha_tile", (int(x), int(y), w, h))

    def clear_results(self) -> None:
        """Forget alpha, routing and the previous alpha ("results" event)."""
        self._reset_results()
        self.previous_alpha = None
        self._notify("results")

    def full_alpha(self) -> np.ndarray | None:
        """Alpha at the photo's size (H, W) float32 (a preview is upsampled bilinearly), or None."""
        return _to_size(self.alpha, self.size)

    def full_previous_alpha(self) -> np.ndarray | None:
        """:attr:`previous_alpha` at the photo's size, or None."""
        return _to_size(self.previous_alpha, self.size)


__all__ = ["DEFAULT_HISTORY_BYTES", "DEFAULT_SETTINGS", "EDIT_TILE", "EditHistory", "MatteDocument", "TrimapEdit"]
