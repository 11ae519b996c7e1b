"""Closed-form matting (Levin et al. 2008) through pymatting: the classical baseline beside MEMatte."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from pymatting import estimate_alpha_cf

from matteapp.base import Cancelled
from matteapp.model.predictor import validate_inputs


def closed_form_alpha(
    image: np.ndarray, trimap: np.ndarray, cancel: Callable[[], bool] | None = None
) -> np.ndarray:
    """H×W float32 alpha in [0, 1] of ``image`` (H×W×3 uint8 RGB) for ``trimap`` (H×W uint8 0/128/255).

    Every trimap value other than 0 and 255 counts as unknown; known pixels are exactly 0 or 1.

    ``cancel`` is polled before the solve and again after it, raising
    :class:`~matteapp.model.predictor.Cancelled` when it returns true.  pymatting's solver cannot be
    interrupted, so a cancel during the solve takes effect only when the solve returns; time and memory
    grow with the number of unknown pixels (about 10 s for 220 000 unknown pixels on a 2-core CPU).
    """
    validate_inputs(image, trimap)
    if cancel is not None and cancel():
        raise Cancelled("closed-form matting cancelled")
    known_fg = trimap == 255
    unknown = ~known_fg & (trimap != 0)
    alpha = known_fg.astype(np.float32)
    if not unknown.any():
        return alpha
    # Without samples of one kind the Laplacian's only solution is the other kind everywhere (pymatting
    # refuses such trimaps outright): a trimap with no foreground mattes to nothing, not to an error.
    if not known_fg.any():
        return alpha
    if not (trimap == 0).any():
        alpha[unknown] = 1.0
        return alpha
    # pymatting calls ≤ 0.1 background and ≥ 0.9 foreground and keeps the trimap value on known
    # pixels, so a stray 10 or 240 would become a "known" 0.04 / 0.94: pass it a clean 0 / ½ / 1 trimap
    # in which everything but 0 and 255 is unknown, as everywhere else in the app.
    clean = np.where(known_fg, 1.0, np.where(unknown, 0.5, 0.0))
    solved = estimate_alpha_cf(image.astype(np.float64) / 255.0, clean)
    if cancel is not None and cancel():
        raise Cancelled("closed-form matting cancelled")
    alpha[unknown] = np.clip(solved[unknown], 0.0, 1.0)
    return alpha
