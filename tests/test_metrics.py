"""Matting errors against hand-computed values and independent filter/label implementations."""

import cv2
import numpy as np
import pytest
from scipy import ndimage

from matteapp.engine.metrics import connectivity_error, evaluate_alpha, gradient_error, mse, sad


@pytest.fixture
def tiny():
    pred = np.array(
        [[0.0, 0.5, 1.0, 1.0],
         [0.2, 0.4, 0.6, 0.8],
         [0.0, 0.0, 0.3, 1.0],
         [1.0, 1.0, 1.0, 1.0]]
    )
    gt = np.array(
        [[0.0, 0.0, 1.0, 1.0],
         [0.0, 0.5, 0.5, 1.0],
         [0.0, 0.0, 0.0, 1.0],
         [0.0, 0.0, 0.0, 0.0]]
    )
    trimap = np.array(
        [[0, 128, 255, 255],
         [128, 128, 128, 128],
         [0, 0, 128, 255],
         [0, 0, 0, 0]],
        dtype=np.uint8,
    )
    return pred, gt, trimap


def test_sad_and_mse_by_hand(tiny):
    pred, gt, trimap = tiny
    # unknown pixels: (0,1) |0.5-0|, (1,0) 0.2, (1,1) 0.1, (1,2) 0.1, (1,3) 0.2, (2,2) 0.3
    diffs = [0.5, 0.2, 0.1, 0.1, 0.2, 0.3]
    assert sad(pred, gt, trimap) == pytest.approx(sum(diffs) / 1000)  # 1.4 / 1000
    assert mse(pred, gt, trimap) == pytest.approx(sum(d * d for d in diffs) / 6)  # 0.44 / 6
    # the bottom row differs by 1 everywhere but is known background: it must not count
    assert sad(pred, gt, trimap) == pytest.approx(0.0014)


def test_no_unknown_pixels_gives_zero(tiny):
    pred, gt, _ = tiny
    trimap = np.full((4, 4), 255, np.uint8)
    assert evaluate_alpha(pred, gt, trimap) == {"sad": 0.0, "mse": 0.0, "grad": 0.0, "conn": 0.0}


def test_shape_mismatch_is_rejected(tiny):
    pred, gt, trimap = tiny
    with pytest.raises(ValueError):
        sad(pred[:3], gt, trimap)


def reference_gradient_magnitude(alpha, sigma=1.4):
    """The reference construction: a full 2-D kernel G(i)·G'(j), L2-normalized, replicated borders."""
    half = int(np.ceil(sigma * np.sqrt(-2 * np.log(np.sqrt(2 * np.pi) * sigma * 1e-2))))
    assert half == 4
    hx = np.zeros((2 * half + 1, 2 * half + 1))
    for i in range(2 * half + 1):
        for j in range(2 * half + 1):
            y, x = i - half, j - half
            gy = np.exp(-y * y / (2 * sigma**2)) / (sigma * np.sqrt(2 * np.pi))
            gx = np.exp(-x * x / (2 * sigma**2)) / (sigma * np.sqrt(2 * np.pi))
            hx[i, j] = gy * (-x * gx / sigma**2)
    hx /= np.sqrt((hx**2).sum())
    # cv2.filter2D correlates instead of convolving: only the sign of the gradient flips
    gx = cv2.filter2D(alpha, cv2.CV_64F, hx, borderType=cv2.BORDER_REPLICATE)
    gy = cv2.filter2D(alpha, cv2.CV_64F, np.ascontiguousarray(hx.T), borderType=cv2.BORDER_REPLICATE)
    return np.sqrt(gx**2 + gy**2)


def test_gradient_error_of_identical_maps_is_zero():
    rng = np.random.default_rng(1)
    alpha = rng.random((40, 50))
    trimap = np.full((40, 50), 128, np.uint8)
    assert gradient_error(alpha, alpha, trimap) == 0.0


def test_gradient_error_step_edge_against_flat_map():
    h, w = 30, 40
    step = np.zeros((h, w))
    step[:, 20:] = 1.0
    flat = np.full((h, w), 0.5)
    trimap = np.zeros((h, w), np.uint8)
    trimap[5:25, 10:30] = 128
    expected = (reference_gradient_magnitude(step) ** 2)[trimap == 128].sum() / 1000
    assert expected > 0.1
    assert gradient_error(step, flat, trimap) == pytest.approx(expected, rel=1e-9)
    assert gradient_error(flat, step, trimap) == pytest.approx(expected, rel=1e-9)

    # Independent closed form: rows are constant, so the y-derivative vanishes and the separable kernel
    # gives |∇|(x) = (Σg/||g||)·|Σ_{u ≤ x-20} G'(u)|/||G'|| (convolution sees step[x-u] = 1 iff u ≤ x-20).
    u = np.arange(-4, 5)
    g = np.exp(-(u**2) / (2 * 1.4**2))
    dg = -u * g
    columns = np.arange(10, 30)
    magnitude = g.sum() / np.linalg.norm(g) * np.array([abs(dg[u <= x - 20].sum()) for x in columns]) / np.linalg.norm(dg)
    assert np.allclose(reference_gradient_magnitude(step)[15, 10:30], magnitude)
    assert expected == pytest.approx(20 * (magnitude**2).sum() / 1000)


def test_gradient_error_on_random_maps_matches_reference_filters():
    rng = np.random.default_rng(2)
    pred = ndimage.gaussian_filter(rng.random((60, 70)), 2)
    gt = ndimage.gaussian_filter(rng.random((60, 70)), 3)
    trimap = np.zeros((60, 70), np.uint8)
    trimap[:, 10:50] = 128
    expected = ((reference_gradient_magnitude(pred) - reference_gradient_magnitude(gt)) ** 2)[trimap == 128].sum() / 1000
    assert gradient_error(pred, gt, trimap) == pytest.approx(expected, rel=1e-9)


def blob_scene(extra_pred, extra_gt, at):
    """A 12×12 scene: a 4×4 opaque block (pred = gt = 1) and one extra pixel ``at``; all unknown."""
    pred = np.zeros((12, 12))
    pred[2:6, 2:6] = 1.0
    gt = pred.copy()
    pred[at], gt[at] = extra_pred, extra_gt
    return pred, gt, np.full((12, 12), 128, np.uint8)


def test_connectivity_of_identical_maps_is_zero():
    rng = np.random.default_rng(3)
    alpha = ndimage.gaussian_filter(rng.random((50, 50)), 2)
    alpha = (alpha - alpha.min()) / (alpha.max() - alpha.min())
    trimap = np.full((50, 50), 128, np.uint8)
    assert connectivity_error(alpha, alpha, trimap) == 0.0


def test_connectivity_isolated_bright_pixel():
    # Far from the block, the pixel is in (pred ≥ t) ∧ (gt ≥ t) at t = 0.1 but not in the largest
    # component, so it loses connection at once: l = 0.  d_pred = 0.9 → φ = 0.1; d_gt = 0.1 < 0.15 → φ = 1.
    pred, gt, trimap = blob_scene(0.9, 0.1, (9, 9))
    assert connectivity_error(pred, gt, trimap) == pytest.approx(0.9 / 1000)
    # Touching the block it stays connected until gt drops out at t = 0.2: l = 0.1,
    # d_pred = 0.8 → φ = 0.2, d_gt = 0 → φ = 1: error 0.8 (every other pixel has φ_pred = φ_gt).
    pred, gt, trimap = blob_scene(0.9, 0.1, (6, 3))
    assert connectivity_error(pred, gt, trimap) == pytest.approx(0.8 / 1000)
    # The pixel is not unknown: nothing counts.
    trimap[6, 3] = 0
    assert connectivity_error(pred, gt, trimap) == 0.0


def test_connectivity_diagonal_neighbour_depends_on_connectivity():
    pred, gt, trimap = blob_scene(0.9, 0.1, (6, 6))  # touches the block's corner (5, 5) only
    assert connectivity_error(pred, gt, trimap, connectivity=8) == pytest.approx(0.8 / 1000)
    assert connectivity_error(pred, gt, trimap) == pytest.approx(0.9 / 1000)  # 4 by default, as MATLAB
    with pytest.raises(ValueError):
        connectivity_error(pred, gt, trimap, connectivity=6)


def reference_connectivity(pred, gt, trimap, step=0.1):
    """The MATLAB script's loop with scipy's labelling (4-connected, the MATLAB script's choice)."""
    thresholds = np.arange(round(1 / step) + 1) / round(1 / step)
    level = -np.ones(pred.shape)
    for i in range(1, len(thresholds)):
        labels, n = ndimage.label((pred >= thresholds[i]) & (gt >= thresholds[i]))
        omega = np.zeros(pred.shape, bool)
        if n:
            omega = labels == 1 + np.argmax(np.bincount(labels.ravel())[1:])
        level[(level == -1) & ~omega] = thresholds[i - 1]
    level[level == -1] = 1
    d_pred, d_gt = pred - level, gt - level
    return np.abs(d_pred * (d_pred >= 0.15) - d_gt * (d_gt >= 0.15))[trimap == 128].sum() / 1000


def test_connectivity_matches_reference_loop_on_random_mattes():
    rng = np.random.default_rng(4)
    gt = np.clip(ndimage.gaussian_filter(rng.random((80, 80)), 3) * 8 - 3.5, 0, 1)
    pred = np.clip(gt + ndimage.gaussian_filter(rng.normal(0, 0.6, (80, 80)), 1.5), 0, 1)
    pred = np.round(pred * 255) / 255  # 8-bit levels hit thresholds such as 153/255 = 0.6 exactly
    trimap = np.full((80, 80), 128, np.uint8)
    trimap[:10] = 0
    expected = reference_connectivity(pred, gt, trimap)
    assert expected > 0.01
    assert connectivity_error(pred, gt, trimap, connectivity=4) == pytest.approx(expected, rel=1e-12)


def test_errors_ignore_pixels_outside_the_unknown_region():
    rng = np.random.default_rng(5)
    gt = np.zeros((60, 60))
    gt[20:40, 20:40] = 1.0
    gt[18:42, 18:42] = np.maximum(gt[18:42, 18:42], 0.5)
    pred = np.clip(gt + rng.normal(0, 0.1, gt.shape), 0, 1)
    trimap = np.zeros((60, 60), np.uint8)
    trimap[25:35, 25:35] = 255
    trimap[15:45, 15:45][trimap[15:45, 15:45] != 255] = 128
    base = evaluate_alpha(pred, gt, trimap)

    changed = pred.copy()
    changed[trimap == 255] = rng.random(int((trimap == 255).sum()))  # inside the known foreground
    changed[0:5, :] = 0.7                                           # far into the known background
    after = evaluate_alpha(changed, gt, trimap)
    assert after["sad"] == base["sad"] and after["mse"] == base["mse"]
    # gradients reach 4 px: change only known pixels farther than that from the unknown band
    far = pred.copy()
    far[0:8, :] = 0.7
    far_gt = gt.copy()
    far[54:56, 54:56] = far_gt[54:56, 54:56] = 0.95  # a small blob of its own: never the largest component
    after = evaluate_alpha(far, far_gt, trimap)
    assert after == pytest.approx(base, rel=1e-12)
    assert min(base.values()) > 0
