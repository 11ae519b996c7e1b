"""Local re-matting: after a trimap edit, re-run the model on a window around the edited rectangle only.

A brush stroke changes a few hundred pixels of a photo whose full run takes tens of seconds; the
alpha far from the stroke does not change in any way a user would see.  :func:`rematte_region` runs
the model on the edited rectangle plus ``context`` pixels on each side and blends the result into the
current alpha: the rectangle takes the new alpha, a ``feather``-pixel ramp around it joins it to the
old one.  The update is an approximation of a full run (the backbone's global attention sees only
the window) unless the run on the whole photo kept its context (``photo_context``), which brings it
within a few thousandths of a whole run; ``tests/benchmarks/bench_local_update.py`` measures how far it
is from a full re-run, and :data:`DEFAULT_CONTEXT` comes from that measurement.

The window is aligned to the backbone's attention-window grid (token size × window size, 224 px for
the official models) so that the window-attention blocks group the same pixels as in the full run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from matteapp.model.predictor import CancelCheck, MattePredictor
from matteapp.model.vit import PhotoContext

DEFAULT_CONTEXT = 224
"""Context on each side of the edited rectangle, px at the run's resolution.  Chosen on dev photos
GT01–GT05 (×3, 20 strokes; ``bench_local_update.py``): with the whole photo's context, 224 px is the
smallest context whose update is indistinguishable from a whole run in the edited region (mean |Δα|
0.0003, p99 0.004; 128 px: 0.003 / 0.055), and 448 px gains nothing more for 2.3× the window."""
DEFAULT_FEATHER = 16
"""Width of the ramp between the new and the old alpha around the edited rectangle, px."""

Rect = tuple[int, int, int, int]  # (y0, y1, x0, x1), end exclusive


@dataclass
class LocalUpdate:
    """The result of :func:`rematte_region`.

    ``alpha`` is the blended alpha of ``window`` (to be written at ``window`` into the current alpha);
    ``region`` is the edited rectangle, where the new alpha replaces the old one entirely.
    """

    alpha: np.ndarray
    window: Rect
    region: Rect
    seconds: float
    routed_fraction: float

    def apply(self, alpha: np.ndarray) -> np.ndarray:
        """A copy of ``alpha`` (the whole photo's) with this update written into it."""
        out = alpha.copy()
        y0, y1, x0, x1 = self.window
        out[y0:y1, x0:x1] = self.alpha
        return out


def _grid(predictor: MattePredictor) -> int:
    cfg = predictor.config
    return cfg.patch_size * cfg.window_size


def local_window(region: Rect, shape: tuple[int, int], context: int, grid: int) -> Rect:
    """The window to re-matte for ``region``: the region grown by ``context`` on each side, then out to
    the ``grid`` (attention-window) lines around it, clipped to the photo ``shape`` (H, W)."""
    h, w = shape
    y0, y1, x0, x1 = region
    if not (0 <= y0 < y1 <= h and 0 <= x0 < x1 <= w):
        raise ValueError(f"region {region} is empty or outside the {w}×{h} photo")
    wy0 = max(0, (y0 - context) // grid * grid)
    wx0 = max(0, (x0 - context) // grid * grid)
    wy1 = min(h, -(-(y1 + context) // grid) * grid)
    wx1 = min(w, -(-(x1 + context) // grid) * grid)
    return wy0, wy1, wx0, wx1


def feather_weights(window: Rect, region: Rect, feather: int) -> np.ndarray:
    """Weight of the new alpha over ``window``: 1 inside ``region``, falling linearly to 0 over
    ``feather`` px outside it (Chebyshev distance), float32."""
    wy0, wy1, wx0, wx1 = window
    y0, y1, x0, x1 = region
    ys = np.arange(wy0, wy1, dtype=np.float32)
    xs = np.arange(wx0, wx1, dtype=np.float32)
    dy = np.maximum(np.maximum(y0 - ys, ys - (y1 - 1)), 0)
    dx = np.maximum(np.maximum(x0 - xs, xs - (x1 - 1)), 0)
    d = np.maximum(dy[:, None], dx[None, :])
    if feather <= 0:
        return (d == 0).astype(np.float32)
    return np.clip(1.0 - d / (feather + 1), 0.0, 1.0).astype(np.float32)


def rematte_region(
    predictor: MattePredictor,
    image: np.ndarray,
    trimap: np.ndarray,
    alpha: np.ndarray,
    region: Rect,
    context: int = DEFAULT_CONTEXT,
    feather: int = DEFAULT_FEATHER,
    max_global_tokens: int | None = None,
    cancel: CancelCheck | None = None,
    photo_context: PhotoContext | None = None,
    origin: tuple[int, int] = (0, 0),
) -> LocalUpdate:
    """Re-matte ``region`` of ``image`` (H×W×3 uint8) for the edited ``trimap`` (H×W uint8) and blend
    it into the current ``alpha`` (H×W float32, e.g. the last full run's), all at the run's resolution.

    Only a window around the region (see :func:`local_window`) goes through the model.  Returns a
    :class:`LocalUpdate`; ``alpha`` is not modified.

    ``photo_context``: the :class:`~matteapp.model.vit.PhotoContext` the last run on the whole photo
    kept (``predict(keep_context=True)``); the window's tokens then take the whole photo's positions,
    router averages and global-attention partners, which brings the update 20–100× closer to a whole
    run (``tests/benchmarks/bench_local_update.py``).  ``origin`` (y, x): where ``image[0, 0]`` lies in
    that photo, when the arrays given are a crop of it on the attention-window grid.
    """
    # a context kept by another model (the user switched models since the run) is of no use
    use_context = photo_context is not None and predictor.is_routed and photo_context.owner == id(predictor.network)

    def run(image_crop, trimap_crop, window):
        offset = (origin[0] + window[0], origin[1] + window[2])
        result = predictor.predict(
            image_crop, trimap_crop, max_global_tokens=max_global_tokens, cancel=cancel,
            context=photo_context if use_context else None, context_offset=offset if use_context else (0, 0),
        )  # fmt: skip
        return result.alpha, result.routed_fraction

    return _blend_local(image, trimap, alpha, region, context, _grid(predictor), feather, run)


def _blend_local(image, trimap, alpha, region, context, grid, feather, run) -> LocalUpdate:
    """The shared part of a local re-matte: check sizes, cut the window, let ``run(image, trimap)`` matte
    it (→ alpha, routed fraction), feather the result into ``alpha`` and pin the known pixels."""
    if alpha.shape != trimap.shape or image.shape[:2] != trimap.shape:
        raise ValueError(f"image {image.shape[:2]}, trimap {trimap.shape} and alpha {alpha.shape} must have one size")
    t0 = time.perf_counter()
    window = local_window(region, trimap.shape, max(0, int(context)), grid)
    wy0, wy1, wx0, wx1 = window
    t = np.ascontiguousarray(trimap[wy0:wy1, wx0:wx1])
    new, routed = run(np.ascontiguousarray(image[wy0:wy1, wx0:wx1]), t, window)
    weight = feather_weights(window, region, feather)
    blended = weight * new + (1.0 - weight) * alpha[wy0:wy1, wx0:wx1].astype(np.float32)
    # known pixels follow the edited trimap everywhere in the window, ramp or not
    blended = np.where(t == 0, 0.0, np.where(t == 255, 1.0, blended)).astype(np.float32)
    return LocalUpdate(
        alpha=blended,
        window=window,
        region=tuple(int(v) for v in region),
        seconds=time.perf_counter() - t0,
        routed_fraction=routed,
    )


CLOSED_FORM_CONTEXT = 32
"""Context for closed-form matting: its Laplacian couples pixels two apart, so a few dozen pixels of
known colour around the edit are all the solve needs (no attention windows to align with)."""


def rematte_region_closed_form(
    image: np.ndarray,
    trimap: np.ndarray,
    alpha: np.ndarray,
    region: Rect,
    context: int = CLOSED_FORM_CONTEXT,
    feather: int = DEFAULT_FEATHER,
    cancel: CancelCheck | None = None,
) -> LocalUpdate:
    """:func:`rematte_region` for a result of closed-form matting: the same engine on the window around
    ``region``, blended in the same way, so that an edit does not mix two engines' mattes."""
    from matteapp.engine.closed_form import closed_form_alpha

    def run(image_crop, trimap_crop, window):
        return closed_form_alpha(image_crop, trimap_crop, cancel=cancel), float("nan")

    return _blend_local(image, trimap, alpha, region, context, 1, feather, run)


__all__ = [
    "CLOSED_FORM_CONTEXT",
    "DEFAULT_CONTEXT",
    "DEFAULT_FEATHER",
    "LocalUpdate",
    "feather_weights",
    "local_window",
    "rematte_region",
    "rematte_region_closed_form",
]
