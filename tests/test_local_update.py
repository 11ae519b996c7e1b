"""Local re-matting after an edit: the window, the feathered blend, and agreement with a full run."""

import numpy as np
import pytest
import torch

from matteapp.engine.local import feather_weights, local_window, rematte_region, rematte_region_closed_form
from matteapp.model import MattingConfig, build_model
from matteapp.model.predictor import MattePredictor


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(3)
    return MattePredictor(build_model(MattingConfig(name="d96", embed_dim=96, num_heads=3)), "cpu", "fp32")


@pytest.fixture(scope="module")
def scene():
    rng = np.random.default_rng(5)
    h, w = 480, 700
    image = (rng.random((h, w, 3)) * 255).astype(np.uint8)
    trimap = np.zeros((h, w), np.uint8)
    trimap[100:380, 150:550] = 128
    trimap[160:320, 230:470] = 255
    return image, trimap


def test_window_grows_by_the_context_and_snaps_to_the_attention_grid():
    assert local_window((300, 340, 500, 520), (2000, 3000), context=100, grid=224) == (0, 448, 224, 672)
    # clipped at the photo's edges
    assert local_window((10, 20, 2990, 3000), (2000, 3000), context=100, grid=224) == (0, 224, 2688, 3000)
    with pytest.raises(ValueError, match="outside"):
        local_window((10, 20, 2990, 3010), (2000, 3000), context=100, grid=224)


def test_feather_is_one_inside_and_falls_to_zero_outside():
    w = feather_weights((0, 40, 0, 40), (10, 20, 10, 20), feather=4)
    assert (w[10:20, 10:20] == 1).all()
    assert w[0, 0] == 0 and w[39, 39] == 0
    assert 0 < w[8, 15] < w[9, 15] < 1  # ramps toward the region
    assert (w[:, :5] == 0).all()


def test_a_window_covering_the_photo_reproduces_the_full_run(model, scene):
    image, trimap = scene
    edited = trimap.copy()
    edited[200:230, 300:330] = 0
    full = model.predict(image, edited).alpha
    old = model.predict(image, trimap).alpha
    up = rematte_region(model, image, edited, old, (200, 230, 300, 330), context=10_000)
    assert up.window == (0, 480, 0, 700)
    region = up.apply(old)[200:230, 300:330]
    np.testing.assert_allclose(region, full[200:230, 300:330], atol=1e-6)
    # far from the edit the old alpha is kept untouched
    assert np.array_equal(up.apply(old)[100:150, 160:200], old[100:150, 160:200])


def test_local_update_changes_only_the_window_and_follows_the_edited_trimap(model, scene):
    image, trimap = scene
    old = model.predict(image, trimap).alpha
    edited = trimap.copy()
    edited[120:150, 160:200] = 255
    up = rematte_region(model, image, edited, old, (120, 150, 160, 200), context=32)
    new = up.apply(old)
    wy0, wy1, wx0, wx1 = up.window
    outside = np.ones(old.shape, bool)
    outside[wy0:wy1, wx0:wx1] = False
    assert np.array_equal(new[outside], old[outside])
    assert (new[120:150, 160:200] == 1).all()
    assert up.window[1] - up.window[0] < 480 or up.window[3] - up.window[2] < 700


def test_mismatched_sizes_are_refused(model, scene):
    image, trimap = scene
    with pytest.raises(ValueError, match="one size"):
        rematte_region(model, image, trimap, np.zeros((10, 10), np.float32), (0, 5, 0, 5))


def test_closed_form_results_are_refined_with_closed_form():
    # a Refine Edge stroke on a closed-form matte must not patch in another engine's alpha
    from matteapp.engine.closed_form import closed_form_alpha

    rng = np.random.default_rng(2)
    h, w = 120, 160
    yy, xx = np.mgrid[0:h, 0:w]
    truth = np.clip((xx - 70) / 20.0, 0, 1).astype(np.float32)  # a soft vertical edge
    image = np.clip(truth[..., None] * [220, 80, 40] + (1 - truth[..., None]) * [30, 90, 200] + rng.normal(0, 3, (h, w, 3)), 0, 255).astype(np.uint8)
    trimap = np.where(truth <= 0, 0, np.where(truth >= 1, 255, 128)).astype(np.uint8)
    trimap[:, 60:100] = 128
    full = closed_form_alpha(image, trimap)
    stale = full.copy()
    stale[40:80, 60:100] = 0.0  # what the region looked like before the edit
    update = rematte_region_closed_form(image, trimap, stale, (40, 80, 60, 100))
    y0, y1, x0, x1 = update.window
    assert (y0, y1, x0, x1) == (8, 112, 28, 132)  # the region and 32 px of context
    patched = update.apply(stale)
    assert np.abs(patched[40:80, 60:100] - full[40:80, 60:100]).mean() < 0.02  # close to a whole-photo solve
    assert np.array_equal(patched[:8], stale[:8]) and np.array_equal(patched[:, :28], stale[:, :28])
