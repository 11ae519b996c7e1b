"""Closed-form matting baseline: known regions, cancellation, and the published numbers on the dev set."""

import cv2
import numpy as np
import pytest
from conftest import DEV_DATA, require
from PIL import Image

from matteapp.engine.closed_form import closed_form_alpha
from matteapp.engine.metrics import mse, sad
from matteapp.model.predictor import Cancelled

NAMES = [f"GT{i:02d}.png" for i in range(1, 11)]
TRIMAPS = ["trimap1", "trimap2"]
README_SAD = 5.385
README_MSE = 16.24e-3


def load(name, trimap_dir):
    image = np.asarray(Image.open(require(DEV_DATA / "image" / name)).convert("RGB"))
    trimap = np.asarray(Image.open(require(DEV_DATA / trimap_dir / name)).convert("L"))
    gt = np.asarray(Image.open(require(DEV_DATA / "alpha" / name)))[..., 0].astype(np.float64) / 255.0
    return image, trimap, gt


def test_downscaled_photo_known_regions_and_range():
    image, trimap, _ = load("GT05.png", "trimap1")
    size = (image.shape[1] // 4, image.shape[0] // 4)
    image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    trimap = cv2.resize(trimap, size, interpolation=cv2.INTER_NEAREST)
    assert set(np.unique(trimap)) == {0, 128, 255}
    alpha = closed_form_alpha(image, trimap)
    assert alpha.shape == trimap.shape and alpha.dtype == np.float32
    assert np.all(alpha[trimap == 0] == 0.0) and np.all(alpha[trimap == 255] == 1.0)
    assert alpha.min() >= 0.0 and alpha.max() <= 1.0
    unknown = alpha[trimap == 128]
    assert 0.05 < unknown.mean() < 0.95 and unknown.std() > 0.1  # an actual matte, not a constant


def test_stray_trimap_values_count_as_unknown():
    rng = np.random.default_rng(0)
    image = (rng.random((40, 40, 3)) * 255).astype(np.uint8)
    trimap = np.full((40, 40), 10, np.uint8)  # pymatting alone would call this "known background" 0.04
    trimap[:, :8] = 0
    trimap[:, -8:] = 255
    alpha = closed_form_alpha(image, trimap)
    assert np.all(alpha[:, :8] == 0) and np.all(alpha[:, -8:] == 1)
    assert np.ptp(alpha[:, 8:-8]) > 0.1


def test_fully_known_trimap_needs_no_solve():
    image = np.zeros((5, 6, 3), np.uint8)
    trimap = np.zeros((5, 6), np.uint8)
    trimap[2:] = 255
    alpha = closed_form_alpha(image, trimap)
    assert np.array_equal(alpha, (trimap == 255).astype(np.float32))


def test_cancel_before_the_solve():
    image = np.zeros((20, 20, 3), np.uint8)
    trimap = np.full((20, 20), 128, np.uint8)
    with pytest.raises(Cancelled):
        closed_form_alpha(image, trimap, cancel=lambda: True)


def test_invalid_inputs_are_rejected():
    with pytest.raises(ValueError):
        closed_form_alpha(np.zeros((20, 20, 3), np.float32), np.zeros((20, 20), np.uint8))
    with pytest.raises(ValueError):
        closed_form_alpha(np.zeros((20, 20, 3), np.uint8), np.zeros((20, 21), np.uint8))


@pytest.fixture(scope="module")
def dev_set_errors():
    sads, mses = [], []
    for trimap_dir in TRIMAPS:
        for name in NAMES:
            image, trimap, gt = load(name, trimap_dir)
            alpha = closed_form_alpha(image, trimap)
            sads.append(sad(alpha, gt, trimap))
            mses.append(mse(alpha, gt, trimap))
    print(f"\nclosed-form on 10 images × 2 trimaps: mean SAD {np.mean(sads):.4f}, mean MSE {np.mean(mses) * 1e3:.3f}e-3")
    return np.array(sads), np.array(mses)


@pytest.mark.slow
def test_dev_set_reproduces_published_closed_form_errors(dev_set_errors):
    sads, mses = dev_set_errors
    assert len(sads) == 20
    assert sads.mean() == pytest.approx(README_SAD, rel=0.02)
    assert mses.mean() == pytest.approx(README_MSE, rel=0.02)


@pytest.mark.parametrize("known, expected", [(0, 0.0), (255, 1.0)])
def test_trimap_with_one_known_kind_mattes_to_that_kind(known, expected):
    # pymatting refuses trimaps without foreground (or background); a user's trimap may lack one
    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    trimap = np.full((40, 50), known, np.uint8)
    trimap[10:30, 10:40] = 128
    alpha = closed_form_alpha(image, trimap)
    assert alpha.dtype == np.float32
    assert np.all(alpha[10:30, 10:40] == expected)
    assert np.all(alpha[trimap == 255] == 1.0) and np.all(alpha[trimap == 0] == 0.0)


def test_matches_pymatting_closed_form_on_a_dev_photo():
    # the same method taken apart (tiled Laplacian, IC(0)-preconditioned CG): the same alpha up to the
    # solver's tolerance
    from pymatting import estimate_alpha_cf

    image, trimap, _ = load("GT05.png", "trimap1")
    size = (image.shape[1] // 2, image.shape[0] // 2)
    image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    trimap = cv2.resize(trimap, size, interpolation=cv2.INTER_NEAREST)
    ours = closed_form_alpha(image, trimap)
    clean = np.where(trimap == 255, 1.0, np.where(trimap == 0, 0.0, 0.5))
    theirs = np.clip(estimate_alpha_cf(image.astype(np.float64) / 255.0, clean), 0, 1)
    assert np.abs(ours - theirs).max() < 5e-3


def test_progress_goes_from_the_laplacian_through_the_solver_to_done():
    image, trimap, _ = load("GT02.png", "trimap1")
    size = (image.shape[1] // 2, image.shape[0] // 2)
    image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    trimap = cv2.resize(trimap, size, interpolation=cv2.INTER_NEAREST)
    events = []
    closed_form_alpha(image, trimap, progress=lambda fraction, message: events.append((fraction, message)))
    fractions = [f for f, _ in events]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    phases = [m.split(",")[0] for _, m in events]
    assert phases.index("closed-form: matting Laplacian") < phases.index("closed-form: preconditioner") < phases.index("closed-form: solving")
    solving = [f for f, m in events if "iteration" in m]
    assert len(solving) > 10 and 0 < solving[0] < solving[-1] <= 1  # it moves with the iterations


@pytest.mark.parametrize("phase", ["matting Laplacian", "preconditioner", "solving"])
def test_a_cancel_stops_at_the_next_check_in_every_phase(phase):
    image, trimap, _ = load("GT02.png", "trimap1")
    requested = []
    checks_after = []
    reports_after = []

    def progress(fraction, message):
        if requested:
            reports_after.append(message)
        elif phase in message:
            requested.append(message)  # the user presses Cancel while this phase runs

    def cancel():
        if requested:
            checks_after.append(True)
        return bool(requested)

    with pytest.raises(Cancelled):
        closed_form_alpha(image, trimap, cancel=cancel, progress=progress)
    # every step between checks is a Laplacian tile, a chunk of the factorization or one solver
    # iteration: the first check after the request stops the run, and nothing is reported after it
    assert requested and checks_after == [True] and reports_after == []


def test_the_session_reports_closed_form_progress_and_cancels():
    from matteapp.engine.session import MattingSession

    image, trimap, _ = load("GT01.png", "trimap1")
    size = (image.shape[1] // 2, image.shape[0] // 2)
    image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    trimap = cv2.resize(trimap, size, interpolation=cv2.INTER_NEAREST)
    events = []
    MattingSession().run(image, trimap, engine="closed-form", progress=events.append)
    inner = [e.fraction for e in events if e.stage == "closed-form"]
    assert any(0 < f < 1 for f in inner) and events[-1].stage == "done"
    seen = []
    with pytest.raises(Cancelled):
        MattingSession().run(image, trimap, engine="closed-form", progress=seen.append, cancel=lambda: any("solving" in e.message for e in seen))
