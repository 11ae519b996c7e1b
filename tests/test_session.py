"""The engine session: preview runs, memory budgets, out-of-memory recovery, cancellation."""

import threading

import cv2
import numpy as np
import pytest
import torch

from matteapp.engine.session import (
    MattingSession,
    downscale_pair,
    estimate_memory_bytes,
    global_attention_savings,
    plan_for_budget,
)
from matteapp.model import MattingConfig, build_model, preset_config
from matteapp.model.predictor import Cancelled, MattePredictor

SMALL = MattingConfig(name="d96", embed_dim=96, num_heads=3)


@pytest.fixture(scope="module")
def session():
    torch.manual_seed(0)
    return MattingSession(predictor=MattePredictor(build_model(SMALL), "cpu", "fp32"))


@pytest.fixture(scope="module")
def photo():
    rng = np.random.default_rng(3)
    image = (rng.random((300, 420, 3)) * 255).astype(np.uint8)
    trimap = np.zeros((300, 420), np.uint8)
    trimap[50:250, 60:360] = 128
    trimap[100:200, 120:300] = 255
    return image, trimap


def test_preview_runs_downscaled_and_is_flagged(session, photo):
    image, trimap = photo
    result = session.run(image, trimap, preview=True, preview_long_side=140)
    assert result.is_preview and result.size == (100, 140) and result.full_size == (300, 420)
    shown = result.display_alpha()
    assert shown.shape == (300, 420)
    full = session.run(image, trimap)
    assert not full.is_preview and full.alpha.shape == (300, 420)
    assert full.display_alpha() is full.alpha


def test_downscale_keeps_trimap_values():
    rng = np.random.default_rng(0)
    trimap = rng.choice(np.array([0, 128, 255], np.uint8), size=(500, 700))
    image = np.zeros((500, 700, 3), np.uint8)
    small_img, small_tri = downscale_pair(image, trimap, 100)
    assert small_tri.shape == (71, 100) and small_img.shape == (71, 100, 3)
    assert set(np.unique(small_tri)) <= {0, 128, 255}


def test_memory_estimate_grows_with_size_and_shrinks_with_cap():
    cfg = preset_config("mematte-s")
    small = estimate_memory_bytes(cfg, 1000, 1000, None, 512, "bf16")
    big = estimate_memory_bytes(cfg, 4000, 6000, None, 512, "bf16")
    capped = estimate_memory_bytes(cfg, 4000, 6000, 1000, 512, "bf16")
    assert small < big and capped < big
    assert estimate_memory_bytes(cfg, 4000, 6000, None, 512, "fp32") > big


def test_budget_plan_fits_or_explains():
    cfg = preset_config("mematte-s")
    generous = plan_for_budget(cfg, 4000, 6000, 64_000, "bf16")
    assert generous == (None, 1024)
    need_none = estimate_memory_bytes(cfg, 4000, 6000, None, 256, "bf16")
    cap, tile = plan_for_budget(cfg, 4000, 6000, need_none / 2**20 - 1, "bf16")
    assert cap is not None and tile == 256
    assert estimate_memory_bytes(cfg, 4000, 6000, cap, tile, "bf16") <= (need_none / 2**20 - 1) * 2**20
    with pytest.raises(ValueError, match="needs at least"):
        plan_for_budget(cfg, 4000, 6000, 10, "bf16")


def test_memory_budget_sets_cap_in_result(session, photo):
    image, trimap = photo
    result = session.run(image, trimap, memory_budget_mb=100_000)
    assert result.max_global_tokens is None and result.decoder_tile == 1024
    assert any("memory budget" in n for n in result.notes)


class _OutOfMemoryOnce(MattePredictor):
    """Raises the CUDA out-of-memory error for uncapped runs, as a too-small GPU would."""

    def __init__(self, net, always=False):
        super().__init__(net, "cpu", "fp32")
        self.caps = []
        self.always = always

    def predict(self, image, trimap, max_global_tokens=None, **kw):
        self.caps.append(max_global_tokens)
        if max_global_tokens is None or self.always:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        return super().predict(image, trimap, max_global_tokens=max_global_tokens, **kw)


def test_out_of_memory_retries_with_a_cap_and_says_so(photo):
    torch.manual_seed(0)
    image = np.zeros((1024, 1024, 3), np.uint8)
    trimap = np.full((1024, 1024), 128, np.uint8)
    flaky = _OutOfMemoryOnce(build_model(SMALL))
    events = []
    result = MattingSession(predictor=flaky).run(image, trimap, progress=events.append)
    assert flaky.caps[0] is None and flaky.caps[1] == (1024 // 16) ** 2 // 4  # 1024 needs no padding
    assert result.max_global_tokens == flaky.caps[1]
    assert any("ran out of memory" in n for n in result.notes)
    assert any(e.stage == "retry" for e in events)


def test_out_of_memory_everywhere_is_a_clear_error(photo):
    flaky = _OutOfMemoryOnce(build_model(SMALL), always=True)
    with pytest.raises(MemoryError, match="not enough memory"):
        MattingSession(predictor=flaky).run(*photo)


def test_cancel_from_another_thread_stops_at_the_next_check(session):
    image = np.zeros((1024, 1536, 3), np.uint8)
    trimap = np.full((1024, 1536), 128, np.uint8)
    in_second_block, stop, finished = threading.Event(), threading.Event(), threading.Event()
    checks_after_stop = []
    events_after_stop = []
    outcome = {}

    def cancel():
        if stop.is_set():
            checks_after_stop.append(stop)
            return True
        return False

    def progress(event):
        if stop.is_set():
            events_after_stop.append(event)
        elif event.stage == "backbone":
            in_second_block.set()

    def work():
        try:
            session.run(image, trimap, progress=progress, cancel=cancel)
        except Cancelled:
            outcome["cancelled"] = True
        finally:
            finished.set()

    t = threading.Thread(target=work)
    t.start()
    assert in_second_block.wait(120)
    stop.set()
    assert finished.wait(120)
    t.join()
    assert outcome.get("cancelled")
    # The run stops at the first check after the request (checks come after every block and between
    # the chunks of large ones): at most the rest of one block runs, and none of the decoder.
    assert len(checks_after_stop) == 1
    assert [e.stage for e in events_after_stop] in ([], ["backbone"])


def test_attention_savings_table(session, photo):
    result = session.run(*photo)
    rows = global_attention_savings(result, num_heads=3)
    assert [r["block"] for r in rows] == [2, 5, 8, 11]
    for r, mask in zip(rows, result.routing):
        assert r["routed"] == mask.sum() and r["total"] == mask.size
        assert r["flops_ratio"] == pytest.approx(r["fraction"] ** 2)
        assert r["scores_mb_routed"] <= r["scores_mb_full"]
    # with the width: what the run's global attention held (q, k, v, out of the routed tokens)
    element = 2 if result.precision in ("bf16", "fp16") else 4
    for r in global_attention_savings(result, num_heads=3, embed_dim=96):
        assert r["attention_mb"] == pytest.approx(4 * r["routed"] * 96 * element / 2**20)
    # and the process's own peak, beside those per-block figures
    assert result.process_peak_bytes is None or result.process_peak_bytes > 50 * 2**20
    assert result.peak_scope in ("run", "process")


def test_unknown_engine_and_size_mismatch(session, photo):
    image, trimap = photo
    with pytest.raises(ValueError, match="unknown engine"):
        session.run(image, trimap, engine="magic")
    with pytest.raises(ValueError, match="trimap is"):
        session.run(image, trimap[:-1])


def test_trimap_from_model_rebands_at_full_resolution(session, photo):
    from matteapp.engine.session import trimap_from_model

    image, trimap = photo
    out = trimap_from_model(session, image, trimap, band_width=12, long_side=160)
    assert out.shape == trimap.shape and set(np.unique(out)) <= {0, 128, 255}
    assert (out == 128).any()
    # Known regions of the rough trimap cannot flip: the model's alpha there was clamped to 0 / 1 by
    # the trimap.  Next to the rough band they may open up (the preview's alpha is upsampled), but
    # farther than the band plus one preview pixel they are kept exactly.
    assert not np.any(out[trimap == 0] == 255)
    assert not np.any(out[trimap == 255] == 0)
    from_band = cv2.distanceTransform((trimap != 128).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    far = from_band > 12 + 420 / 160
    assert far.sum() > 0.3 * far.size
    assert np.array_equal(out[far], trimap[far])
