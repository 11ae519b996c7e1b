"""The four standard alpha-matting errors of Rhemann et al. (CVPR 2009): SAD, MSE, gradient, connectivity.

They follow the Composition-1K evaluation code (the MATLAB scripts by Ning Xu used by DIM, GCA,
MatteFormer, ViTMatte, and Yaoyi Li's Python port of them), with one change of convention: alphas here
are floats in [0, 1] rather than 8-bit images in [0, 255], so the ``/ 255`` those scripts apply first is
already done by the caller.

Every function takes

* ``pred``, ``gt``: H×W float arrays (any float or integer dtype holding values in [0, 1]),
* ``trimap``: H×W uint8 with 0 (background), 128 (unknown), 255 (foreground),

and sums or averages the error over the unknown pixels (``trimap == 128``) only.  SAD, gradient and
connectivity are divided by 1000, as every paper reports them; MSE is the plain per-pixel mean.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy import ndimage

UNKNOWN = 128


def _prepare(pred, gt, trimap) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    trimap = np.asarray(trimap)
    if pred.ndim != 2 or pred.shape != gt.shape or pred.shape != trimap.shape:
        raise ValueError(
            f"pred, gt and trimap must be H×W arrays of one shape, got {pred.shape}, {gt.shape}, {trimap.shape}"
        )
    return pred, gt, trimap == UNKNOWN


def sad(pred, gt, trimap) -> float:
    """Sum of absolute differences over the unknown pixels, / 1000."""
    pred, gt, unknown = _prepare(pred, gt, trimap)
    return float(np.abs(pred - gt)[unknown].sum() / 1000.0)


def mse(pred, gt, trimap) -> float:
    """Mean squared difference per unknown pixel (0 when the trimap has no unknown pixel)."""
    pred, gt, unknown = _prepare(pred, gt, trimap)
    n = int(unknown.sum())
    if n == 0:
        return 0.0
    return float(np.square(pred - gt)[unknown].sum() / n)


def gaussian_gradient_kernels(sigma: float = 1.4) -> tuple[np.ndarray, np.ndarray]:
    """The 1-D factors ``(g, dg)`` of the reference 2-D filter ``hx = outer(g, dg)``, each of unit L2 norm.

    The reference ``gaussgradient`` builds a (2r+1)×(2r+1) kernel ``hx[i, j] = G(i − r) · G'(j − r)`` with
    r = ceil(σ·sqrt(−2·ln(sqrt(2π)·σ·0.01))) (r = 4 for σ = 1.4, a 9×9 kernel) and divides it by its L2
    norm.  That kernel is separable and ||outer(g, dg)|| = ||g||·||dg||, so normalizing each factor gives
    the same filter while two 1-D passes cost 2·9 instead of 81 multiplies per pixel.
    """
    epsilon = 1e-2
    half = int(np.ceil(sigma * np.sqrt(-2.0 * np.log(np.sqrt(2.0 * np.pi) * sigma * epsilon))))
    u = np.arange(-half, half + 1, dtype=np.float64)
    g = np.exp(-(u**2) / (2.0 * sigma**2)) / (sigma * np.sqrt(2.0 * np.pi))
    dg = -u * g / sigma**2
    return g / np.linalg.norm(g), dg / np.linalg.norm(dg)


def gradient_magnitude(alpha: np.ndarray, sigma: float = 1.4) -> np.ndarray:
    """H×W float64 |∇alpha| with the reference's normalized first-order Gaussian derivative filters.

    Borders are replicated (MATLAB ``imfilter(..., 'replicate', 'conv')``, scipy ``mode='nearest'``).
    """
    g, dg = gaussian_gradient_kernels(sigma)
    alpha = np.asarray(alpha, dtype=np.float64)
    gx = ndimage.convolve1d(ndimage.convolve1d(alpha, dg, axis=1, mode="nearest"), g, axis=0, mode="nearest")
    gy = ndimage.convolve1d(ndimage.convolve1d(alpha, g, axis=1, mode="nearest"), dg, axis=0, mode="nearest")
    return np.hypot(gx, gy)


def gradient_error(pred, gt, trimap, sigma: float = 1.4) -> float:
    """Sum over unknown pixels of (|∇pred| − |∇gt|)², / 1000.

    Reading of the reference (``compute_gradient_loss`` in the Composition-1K MATLAB code and its Python
    port): each map is first brought to [0, 1] (MATLAB ``mat2gray``; the port divides the 8-bit image by
    255, which is the same for a matte spanning 0..255) — our inputs already are in [0, 1] and are used
    as they are, so a prediction that never reaches 0 or 1 is *not* stretched as ``mat2gray`` would do.
    The gradient filters are normalized to unit L2 norm (not unit sum: see
    :func:`gaussian_gradient_kernels`), which fixes the scale of the published numbers.

    The gradients look 4 px beyond the unknown region (σ = 1.4), so pixels just outside it still count.
    """
    pred, gt, unknown = _prepare(pred, gt, trimap)
    error = np.square(gradient_magnitude(pred, sigma) - gradient_magnitude(gt, sigma))
    return float(error[unknown].sum() / 1000.0)


def _thresholds(step: float) -> np.ndarray:
    # k / n rather than k · step: 0.6 must be exactly 0.6 so that an 8-bit 153/255 is "≥ 0.6",
    # as it is in MATLAB's single precision.
    n = round(1.0 / step)
    if n >= 1 and abs(n * step - 1.0) < 1e-9:
        return np.arange(n + 1) / n
    return np.arange(0.0, 1.0 + 1e-9, step)


def _largest_component(mask: np.ndarray, connectivity: int) -> np.ndarray:
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=connectivity)
    if count <= 1:
        return np.zeros(mask.shape, dtype=bool)
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    return labels == largest


def connectivity_error(pred, gt, trimap, step: float = 0.1, *, connectivity: int = 4) -> float:
    """Connectivity error, / 1000.

    For thresholds t = step, 2·step, …, 1: Ω(t) is the largest ``connectivity``-connected component of
    (pred ≥ t) ∧ (gt ≥ t) (empty when the intersection is empty); a pixel's level l is the previous
    threshold at the first t where it is outside Ω(t), or 1 if it never leaves.  Then
    d = alpha − l, φ = 1 − d·[d ≥ 0.15] for pred and gt, and the error is Σ_unknown |φ_pred − φ_gt| / 1000.

    4-connectivity as in the Composition-1K MATLAB script (``bwconncomp(..., 4)``) and its Python
    port (``label(..., connectivity=1)``), so the numbers compare with published ones.  Like MATLAB
    (and unlike Python ports that skip an empty threshold), an empty intersection disconnects every
    pixel still connected.  Ties between equally large components are broken in row-major label order.
    """
    if connectivity not in (4, 8):
        raise ValueError("connectivity must be 4 or 8")
    pred, gt, unknown = _prepare(pred, gt, trimap)
    thresholds = _thresholds(step)
    level = np.full(pred.shape, -1.0)
    for previous, t in zip(thresholds[:-1], thresholds[1:]):
        omega = _largest_component((pred >= t) & (gt >= t), connectivity)
        level[(level == -1.0) & ~omega] = previous
    level[level == -1.0] = 1.0

    def phi(alpha):
        d = alpha - level
        return 1.0 - d * (d >= 0.15)

    return float(np.abs(phi(pred) - phi(gt))[unknown].sum() / 1000.0)


def evaluate_alpha(pred, gt, trimap) -> dict[str, float]:
    """``{"sad", "mse", "grad", "conn"}`` for one prediction (see the functions above for units)."""
    return {
        "sad": sad(pred, gt, trimap),
        "mse": mse(pred, gt, trimap),
        "grad": gradient_error(pred, gt, trimap),
        "conn": connectivity_error(pred, gt, trimap),
    }
