"""Colour decontamination: the foreground colours F of ``image = α·F + (1 − α)·B`` near soft alpha.

pymatting's multi-level estimator (Germer et al. 2020) on a whole 24 MP photo takes 3.5–6 s and 1.8 GB
on a 2-core CPU, although F only matters where 0 < α < 1, usually a thin band around the subject.  :func:`estimate_foreground` therefore runs it
on tiles that contain soft pixels, each with a margin of context, and leaves the rest of the photo alone.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
from pymatting import estimate_foreground_ml

from matteapp.base import Cancelled

# Alpha that rounds to 0 or 255 in an 8-bit export: such pixels show no mixed colour.
SOFT_EPSILON = 0.5 / 255
DEFAULT_TILE = 512
DEFAULT_MARGIN = 64


def soft_mask(alpha: np.ndarray) -> np.ndarray:
    """H×W bool: pixels whose alpha is visibly neither 0 nor 1 (strictly inside [0.5/255, 1 − 0.5/255])."""
    return (alpha > SOFT_EPSILON) & (alpha < 1.0 - SOFT_EPSILON)


def soft_tiles(alpha: np.ndarray, tile: int = DEFAULT_TILE) -> list[tuple[int, int, int, int]]:
    """``(y0, y1, x0, x1)`` of the cells of a ``tile``-px grid that hold at least one soft pixel."""
    h, w = alpha.shape
    soft = soft_mask(alpha)
    rows, cols = -(-h // tile), -(-w // tile)
    padded = np.zeros((rows * tile, cols * tile), dtype=bool)
    padded[:h, :w] = soft
    occupied = padded.reshape(rows, tile, cols, tile).any(axis=(1, 3))
    return [
        (int(r) * tile, min(h, (int(r) + 1) * tile), int(c) * tile, min(w, (int(c) + 1) * tile))
        for r, c in zip(*np.nonzero(occupied))
    ]


def _numba_threads_are_safe() -> bool:
    # Only the tbb and omp layers accept parallel kernels launched from several threads at once;
    # the fallback "workqueue" layer aborts the process.  The layer is known once a kernel has run.
    try:
        return numba.threading_layer() in ("tbb", "omp")
    except ValueError:
        return False


def _check_inputs(image, alpha) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"image must be an H×W×3 uint8 array, got {getattr(image, 'dtype', None)} {getattr(image, 'shape', None)}")
    alpha = np.clip(np.asarray(alpha, dtype=np.float32), 0.0, 1.0)
    if alpha.shape != image.shape[:2]:
        raise ValueError(f"alpha is {alpha.shape} but the image is {image.shape[:2]}")
    return alpha


def estimate_foreground(
    image: np.ndarray,
    alpha: np.ndarray,
    *,
    tile: int = DEFAULT_TILE,
    margin: int = DEFAULT_MARGIN,
    threads: int | None = None,
    cancel: Callable[[], bool] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """H×W×3 uint8 decontaminated foreground of ``image`` (H×W×3 uint8 RGB) for ``alpha`` (H×W float in [0, 1]).

    Pixels with alpha ≥ 1 − 0.5/255 keep the photo's colours exactly.  Soft pixels (see
    :func:`soft_mask`) and the transparent pixels near them get ``estimate_foreground_ml``'s colours,
    computed per ``tile``-px grid cell that holds a soft pixel (:func:`soft_tiles`), on a crop with
    ``margin`` px of context on each side (:func:`estimate_foreground_regions`).  Transparent pixels
    far from any soft pixel keep the photo's colours: at alpha 0 they are invisible.  When the crops
    would cover as many pixels as the photo, one call on the whole photo is made instead, which is
    then exactly pymatting's result.

    See :func:`estimate_foreground_regions` for ``threads``, ``cancel`` and ``progress``.
    """
    alpha = _check_inputs(image, alpha)
    if tile < 1 or margin < 0:
        raise ValueError("tile must be ≥ 1 and margin ≥ 0")
    h, w = alpha.shape
    cells = soft_tiles(alpha, tile)
    covered = sum((min(h, y1 + margin) - max(0, y0 - margin)) * (min(w, x1 + margin) - max(0, x0 - margin)) for y0, y1, x0, x1 in cells)
    if covered >= h * w:
        cells = [(0, h, 0, w)]
    return estimate_foreground_regions(image, alpha, cells, margin=margin, threads=threads, cancel=cancel, progress=progress)


def estimate_foreground_regions(
    image: np.ndarray,
    alpha: np.ndarray,
    regions: list[tuple[int, int, int, int]],
    *,
    margin: int = DEFAULT_MARGIN,
    threads: int | None = None,
    cancel: Callable[[], bool] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """H×W×3 uint8: ``image`` with its colours replaced by the estimated foreground inside ``regions``.

    ``regions`` are ``(y0, y1, x0, x1)`` rectangles (non-overlapping, or the last one written wins);
    each is estimated on a crop grown by ``margin`` px, and within it pixels with
    alpha ≥ 1 − 0.5/255 keep the photo's colours.  Outside the regions the photo is copied unchanged.

    The multi-level estimator's result depends on its pyramid's sampling grid, so a crop does not
    reproduce a whole-image call exactly — nor does a whole-image call reproduce itself on the photo
    shifted by one pixel (mean change of 1–3/255 on soft pixels of the alphamatting.com photos); the
    differences are a small fraction of the estimator's own error against a known foreground.

    Up to ``threads`` regions (default: the CPU count, at most 4) run concurrently when numba's
    threading layer allows it.  ``cancel`` is polled before each region;
    :class:`~matteapp.model.predictor.Cancelled` is raised when it returns true.  ``progress(done, total)``
    is called after each region, from the thread that ran it.
    """
    alpha = _check_inputs(image, alpha)
    h, w = alpha.shape
    out = image.copy()
    if not regions:
        return out
    cancelled = threading.Event()
    finished = 0
    count_lock = threading.Lock()

    def run(region):
        y0, y1, x0, x1 = region
        cy0, cy1, cx0, cx1 = max(0, y0 - margin), min(h, y1 + margin), max(0, x0 - margin), min(w, x1 + margin)
        if cancelled.is_set() or (cancel is not None and cancel()):
            cancelled.set()
            return
        # pymatting's resize kernels are numba-parallel; with regions already spread over the cores,
        # nested threads only oversubscribe them (the count is per calling thread)
        numba.set_num_threads(1)
        crop = image[cy0:cy1, cx0:cx1].astype(np.float32) / np.float32(255)
        fg = estimate_foreground_ml(crop, alpha[cy0:cy1, cx0:cx1])[y0 - cy0 : y1 - cy0, x0 - cx0 : x1 - cx0]
        fg = np.clip(fg * 255.0 + 0.5, 0, 255).astype(np.uint8)
        opaque = alpha[y0:y1, x0:x1] >= 1.0 - SOFT_EPSILON
        out[y0:y1, x0:x1] = np.where(opaque[..., None], image[y0:y1, x0:x1], fg)
        if progress is not None:
            nonlocal finished
            with count_lock:  # reported under the lock, so that the counts arrive in order
                finished += 1
                progress(finished, len(regions))

    threads = min(os.cpu_count() or 1, 4) if threads is None else max(1, threads)
    previous_threads = numba.get_num_threads()
    try:
        run(regions[0])  # also starts numba's threading layer, so that its thread safety can be asked
        rest = list(regions[1:])
        if threads > 1 and len(rest) > 1 and _numba_threads_are_safe():
            with ThreadPoolExecutor(max_workers=threads) as pool:
                list(pool.map(run, rest))
        else:
            for region in rest:
                run(region)
    finally:
        numba.set_num_threads(previous_threads)
    if cancelled.is_set():
        raise Cancelled("foreground estimation cancelled")
    return out
