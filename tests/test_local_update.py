"""Local re-matting after an edit: the window, the feathered blend, and agreement with a full run."""

from pathlib import Path

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


# ------------------------------------------------------------------------- the whole photo's context

DEV = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "alphamatting-dev"


@pytest.fixture(scope="module")
def dev_scene():
    """The bundled model (fp32) on dev photo GT04 at twice its size (1600 × 1126: 7 × 5 attention windows)."""
    if not (DEV / "image" / "GT04.png").is_file():
        pytest.skip(f"the dev photos are not at {DEV} (../shared/data/alphamatting-dev)")
    import cv2

    import matteapp
    from matteapp.engine.trimap import load_trimap
    from matteapp.io.images import load_image

    photo = load_image(DEV / "image" / "GT04.png")
    trimap = load_trimap(DEV / "trimap1" / "GT04.png", expected_size=photo.size)
    image = cv2.resize(photo.rgb, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
    trimap = cv2.resize(trimap, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)
    return matteapp.load_model(None, precision="fp32"), image, trimap


def test_keeping_the_context_changes_nothing_and_it_belongs_to_its_model(model, scene):
    image, trimap = scene
    plain = model.predict(image, trimap)
    kept = model.predict(image, trimap, keep_context=True)
    assert np.array_equal(plain.alpha, kept.alpha)
    ctx = kept.photo_context
    assert ctx.grid == kept.token_grid and len(ctx.keys) == len(ctx.means) == len(ctx.positions) == 4
    assert [int(p.numel()) for p in ctx.positions] == [int(m.sum()) for m in kept.routing]
    torch.manual_seed(4)
    other = MattePredictor(build_model(MattingConfig(name="d96", embed_dim=96, num_heads=3)), "cpu", "fp32")
    with pytest.raises(ValueError, match="another model"):
        other.predict(image[:224, :224], trimap[:224, :224], context=ctx)
    with pytest.raises(ValueError, match="token grid"):
        model.predict(image[:224, :224], trimap[:224, :224], context=ctx, context_offset=(8, 0))
    with pytest.raises(ValueError, match="does not fit"):
        model.predict(image[:224, :448], trimap[:224, :448], context=ctx, context_offset=(0, 448))


def test_with_the_photo_context_a_window_comes_far_closer_to_the_whole_run(dev_scene):
    from matteapp.engine.trimap import UNKNOWN

    model, image, trimap = dev_scene
    whole = model.predict(image, trimap, keep_context=True)
    y0, y1, x0, x1 = 224, 896, 448, 1120  # 3 × 3 attention windows inside the photo
    crop = (np.ascontiguousarray(image[y0:y1, x0:x1]), np.ascontiguousarray(trimap[y0:y1, x0:x1]))
    plain = model.predict(*crop).alpha
    with_context = model.predict(*crop, context=whole.photo_context, context_offset=(y0, x0)).alpha
    # the unknown pixels of the middle window, 224 px from the window's edges as in a local update
    inner = (slice(224, 448), slice(224, 448))
    unknown = crop[1][inner] == UNKNOWN
    assert unknown.sum() > 1000
    reference = whole.alpha[y0:y1, x0:x1][inner][unknown]
    err_plain = np.abs(plain[inner][unknown] - reference).mean()
    err_context = np.abs(with_context[inner][unknown] - reference).mean()
    assert err_context < 1e-3 and err_context < err_plain / 4, (err_plain, err_context)


def test_a_local_update_with_the_context_follows_an_edit_as_the_whole_run_does(dev_scene):
    model, image, trimap = dev_scene
    before = model.predict(image, trimap, keep_context=True)
    ys, xs = np.nonzero(trimap[420:700, 650:950] == 128)
    cy, cx = 420 + int(ys[len(ys) // 2]), 650 + int(xs[len(xs) // 2])
    region = (cy - 30, cy + 30, cx - 30, cx + 30)
    box = (slice(region[0], region[1]), slice(region[2], region[3]))
    edited = trimap.copy()
    # a stroke that marks as Foreground the unknown pixels the model already called nearly opaque
    edited[box][(trimap[box] == 128) & (before.alpha[box] > 0.9)] = 255
    still_unknown = edited[box] == 128
    assert (edited != trimap).sum() > 50 and still_unknown.sum() > 300
    whole = model.predict(image, edited).alpha[box][still_unknown]
    plain = rematte_region(model, image, edited, before.alpha, region).apply(before.alpha)[box][still_unknown]
    update = rematte_region(model, image, edited, before.alpha, region, photo_context=before.photo_context)
    near = update.apply(before.alpha)[box][still_unknown]
    err_plain, err_context = np.abs(plain - whole).mean(), np.abs(near - whole).mean()
    assert err_context < err_plain / 2, (err_plain, err_context)
