"""What an automatic trimap was made from, kept beside the trimap so that its unknown band can be laid again.

Qt-free: the trimap editing part (:mod:`matteapp.gui.window.editing`) keeps one :class:`AutoTrimapState` per
document and runs :func:`trimap_from_source` on the worker.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from matteapp.document.paint import Patch
from matteapp.document.state import TrimapEdit
from matteapp.engine.smart_trimap import smart_unknown
from matteapp.engine.trimap import BACKGROUND, FOREGROUND, UNKNOWN, default_band_width, trimap_from_grabcut_mask, trimap_from_mask
from matteapp.io.export import alpha_to_uint8

MAX_SOURCE_STEPS = 16
"""Undo steps that remember which automatic-trimap source (GrabCut mask, alpha) came before them; older
steps still undo the trimap, but no longer bring back the source that could re-band it."""
MAX_SCRIBBLE_STEPS = 512

# Scribble codes: what the user painted by hand over an automatic trimap, kept so that re-banding or
# refining the automatic trimap keeps the corrections.
SCRIBBLE_CODE = {BACKGROUND: 1, UNKNOWN: 2, FOREGROUND: 3}


@dataclass(frozen=True)
class AutoTrimapSource:
    """What an automatic trimap was made from, so that its unknown band can be laid again at another width.

    ``kind`` "grabcut": the :func:`~matteapp.engine.trimap.grabcut_mask` of ``rect`` (x, y, w, h), kept as
    ``packed_mask`` (``np.packbits``: 6 MB for 50 MP rather than 50), with ``smart``: its band widens over
    hair (:func:`~matteapp.engine.smart_trimap.smart_unknown`, which needs the photo); ``kind`` "alpha":
    ``alpha``, a run's matte as uint8 (h, w) at the size it ran at.  ``size``: (H, W) of the photo.  Undo
    keeps a few of these alive, hence the compact forms.
    """

    kind: str
    size: tuple[int, int]
    rect: tuple[int, int, int, int] | None = None
    packed_mask: np.ndarray | None = None
    alpha: np.ndarray | None = None
    smart: bool = False

    @classmethod
    def from_grabcut(cls, rect: tuple[int, int, int, int], mask: np.ndarray, smart: bool = False) -> AutoTrimapSource:
        """From an H×W bool mask."""
        return cls("grabcut", mask.shape, rect=tuple(rect), packed_mask=np.packbits(mask, axis=None), smart=smart)

    @classmethod
    def from_alpha(cls, alpha: np.ndarray, size: tuple[int, int]) -> AutoTrimapSource:
        """From a float alpha in [0, 1] of any size, for a photo of ``size`` (H, W)."""
        return cls("alpha", tuple(size), alpha=alpha_to_uint8(alpha))

    def mask(self) -> np.ndarray:
        """The H×W bool GrabCut mask."""
        height, width = self.size
        return np.unpackbits(self.packed_mask, count=height * width).view(bool).reshape(height, width)


def split_scribbles(scribbles: np.ndarray | None) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """(foreground, background, unknown) H×W bool masks of a scribble array (None: no scribbles)."""
    if scribbles is None:
        return None, None, None
    return (
        scribbles == SCRIBBLE_CODE[FOREGROUND],
        scribbles == SCRIBBLE_CODE[BACKGROUND],
        scribbles == SCRIBBLE_CODE[UNKNOWN],
    )


def trimap_from_source(
    source: AutoTrimapSource,
    band_width: int | None,
    scribbles: np.ndarray | None = None,
    image: np.ndarray | None = None,
) -> np.ndarray:
    """H×W uint8 trimap of ``source`` with an unknown band of ``band_width`` px and the hand-painted
    ``scribbles`` (uint8 H×W of :data:`SCRIBBLE_CODE`, or None) forced on top.  A smart source's band
    widens over hair when the photo (``image``, H×W×3 uint8) is given."""
    fg, bg, unknown = split_scribbles(scribbles)
    if source.kind == "grabcut":
        mask = source.mask()
        wider = None
        if source.smart and image is not None:
            wider = smart_unknown(image, mask, band_width or default_band_width(*mask.shape))
        trimap = trimap_from_grabcut_mask(mask, source.rect, band_width, fg, bg, wider)
    elif source.kind == "alpha":
        height, width = source.size
        alpha = source.alpha
        if alpha.shape != (height, width):
            alpha = cv2.resize(alpha, (width, height), interpolation=cv2.INTER_LINEAR)
        trimap = trimap_from_mask(alpha, band_width=band_width)
        if fg is not None:
            trimap[fg] = FOREGROUND
            trimap[bg] = BACKGROUND
    else:
        raise ValueError(f"unknown auto-trimap source {source.kind!r}")
    if unknown is not None:
        trimap[unknown] = UNKNOWN
    return trimap


class AutoTrimapState:
    """The current automatic trimap's source, the scribbles painted over it, and, per undo step, what they
    were before and after, so that undo and redo bring them along with the trimap.

    ``source``: the :class:`AutoTrimapSource`, None when the trimap is not (or no longer) automatic.
    ``scribbles``: uint8 H×W of :data:`SCRIBBLE_CODE`, None until something is painted over ``source``.
    ``serial`` grows whenever either changes, so that a worker task can tell that its inputs went stale.
    ``applied_band``: the band setting the current automatic trimap was made with.  One per document.
    """

    def __init__(self, applied_band: int | None = None):
        self.source: AutoTrimapSource | None = None
        self.scribbles: np.ndarray | None = None
        self.serial = 0
        self.applied_band = applied_band
        self._source_log: dict[TrimapEdit, tuple[tuple, tuple]] = {}
        self._scribble_log: dict[TrimapEdit, list[tuple]] = {}

    def reset(self, source: AutoTrimapSource | None = None) -> None:
        """A new automatic trimap from ``source`` (None: the trimap stops being automatic)."""
        self.source = source
        self.scribbles = None
        self.serial += 1

    def snapshot(self, band: int | None) -> tuple:
        """(source, scribbles, band setting): what :meth:`log_change` records."""
        return self.source, self.scribbles, band

    def scribble_copy(self) -> np.ndarray | None:
        # The user keeps painting while the worker reads: it gets its own copy.
        return None if self.scribbles is None else self.scribbles.copy()

    def record_scribbles(self, trimap: np.ndarray, patch: Patch, value: int) -> tuple | None:
        """Mark the pixels ``patch`` changes in ``trimap`` as painted with ``value``; returns what undoing
        that needs (for :meth:`remember_scribbles`), None when it changes nothing."""
        x, y, w, h = patch.rect
        changed = trimap[y : y + h, x : x + w] != patch.values
        if not changed.any():
            return None
        if self.scribbles is None:
            self.scribbles = np.zeros(trimap.shape, dtype=np.uint8)  # untouched pages cost nothing
        region = self.scribbles[y : y + h, x : x + w]
        previous = region[changed]
        code = SCRIBBLE_CODE[value]
        region[changed] = code
        self.serial += 1
        return self.scribbles, x, y, (h, w), np.packbits(changed, axis=None), previous, code

    def remember_scribbles(self, edit: TrimapEdit, record: tuple) -> None:
        """``record`` (of :meth:`record_scribbles`) belongs to the undo step ``edit``."""
        self._scribble_log.setdefault(edit, []).append(record)
        while len(self._scribble_log) > MAX_SCRIBBLE_STEPS:
            self._scribble_log.pop(next(iter(self._scribble_log)))

    def log_change(self, edit: TrimapEdit | None, before: tuple, after: tuple) -> None:
        """Remember the :meth:`snapshot` before and after ``edit``; an edit that grew (merged band changes)
        keeps its first ``before``."""
        if edit is None:
            return
        if edit in self._source_log:
            before = self._source_log.pop(edit)[0]
        self._source_log[edit] = (before, after)
        while len(self._source_log) > MAX_SOURCE_STEPS:
            self._source_log.pop(next(iter(self._source_log)))

    def step(self, edit: TrimapEdit, undone: bool) -> tuple[bool, int | None]:
        """``edit`` was undone or redone: bring the source, applied band and scribbles along, so that
        re-banding after an undo does not resurrect what was undone.

        Returns (whether the source and band setting came back, the band setting of that state); the
        caller puts the band setting back into the document."""
        states = self._source_log.get(edit)
        band = None
        if states is not None:
            self.source, self.scribbles, band = states[0] if undone else states[1]
            self.applied_band = band
        records = self._scribble_log.get(edit, [])
        for array, x, y, (h, w), packed, previous, code in reversed(records) if undone else records:
            changed = np.unpackbits(packed, count=h * w).view(bool).reshape(h, w)
            array[y : y + h, x : x + w][changed] = previous if undone else code
        if states is not None or records:
            self.serial += 1
        return states is not None, band


__all__ = [
    "AutoTrimapSource",
    "AutoTrimapState",
    "MAX_SCRIBBLE_STEPS",
    "MAX_SOURCE_STEPS",
    "SCRIBBLE_CODE",
    "split_scribbles",
    "trimap_from_source",
]
