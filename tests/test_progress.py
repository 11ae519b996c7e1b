"""matteapp.engine.progress: the time a run's steps take, predicted from the ones already done."""

from __future__ import annotations

import numpy as np
import pytest

from matteapp.engine.progress import FractionEstimator, RunEstimator, Step, decoder_macs_per_pixel, format_duration, model_steps
from matteapp.model import MattingConfig
from matteapp.model.predictor import ProgressEvent


class Clock:
    """A stepped clock: every gap between events is known exactly, so no test waits on real time."""

    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def block(i: int, routing=None) -> ProgressEvent:
    return ProgressEvent("backbone", 0.0, f"block {i + 1}", block=i, routing=routing)


def test_steps_follow_the_blocks_and_the_decoder_tiles_of_predict():
    config = MattingConfig(name="d96", embed_dim=96, num_heads=3)
    trimap = np.zeros((1000, 1500), np.uint8)
    trimap[200:300, 200:400] = 128  # only the tiles over this band are decoded
    steps = model_steps(config, trimap)
    kinds = [s.kind for s in steps]
    assert kinds[: config.depth] == ["global" if i in config.global_blocks else "window" for i in range(config.depth)]
    tiles = kinds[config.depth :]
    assert len(tiles) == 2 * 3 and tiles.count("decoder") == 1  # 1024×1536 padded: 2×3 tiles of 512
    routed = steps[config.global_blocks[0]]
    assert routed.routed and routed.macs(1000) - routed.macs(0) == pytest.approx(4 * 96 * 96 * 1000 + 2 * 1000**2 * 96)
    capped = model_steps(config, trimap, max_global_tokens=50)[config.global_blocks[0]]
    assert capped.macs(10**6) == capped.macs(50)  # a cap bounds the attention's cost
    assert decoder_macs_per_pixel(config) > 1000


def test_a_long_global_block_moves_the_bar_and_the_time_left_without_events():
    steps = [Step("window", 1e9), Step("window", 1e9), Step("global", 1e9, tokens=1000, dim=100, routed=True), Step("decoder", 1e9)]
    clock = Clock()
    est = RunEstimator(steps, routed_shares=[0.5], clock=clock)
    assert est.estimate() == (0.0, None)  # nothing measured on this machine yet
    clock.now += 2.0
    est.observe(block(0))
    clock.now += 2.0
    est.observe(block(1))  # a window block takes 2 s: 2e-9 s per multiply-accumulate
    f0, left0 = est.estimate()
    # the routed block: 1e9 + 4·100²·500 + 2·500²·100 = 1.07e9 MACs → 2.14 s; the decoder borrows 2 s
    assert left0 == pytest.approx(2.14 + 2.0, rel=1e-3)
    assert f0 == pytest.approx(4.0 / (4.0 + left0))
    seen = [f0]
    for _ in range(6):  # inside the block, no event for 6 s: the bar keeps moving, the time left shrinks then holds
        clock.now += 1.0
        fraction, left = est.estimate()
        assert fraction > seen[-1] and left > 0
        seen.append(fraction)
    assert seen[-1] < 1.0
    keep = np.zeros((10, 100), bool)
    keep[:2] = True  # 200 tokens routed
    est.observe(block(2, routing=keep))
    assert est.routed_shares() == [0.2]
    assert est.rates()["global"] == pytest.approx(6.0 / steps[2].macs(200))  # its own rate, from its real time
    est.observe(ProgressEvent("decoder", 0.9, "tile 1"))
    est.observe(ProgressEvent("done", 1.0, "done"))
    assert est.estimate() == (1.0, 0.0)


def test_rates_from_an_earlier_run_time_the_first_block():
    steps = [Step("window", 1e9), Step("decoder", 1e9)]
    clock = Clock()
    est = RunEstimator(steps, rates={"window": 1e-9, "decoder": 3e-9}, clock=clock)
    fraction, left = est.estimate()
    assert fraction == 0.0 and left == pytest.approx(4.0)
    clock.now += 0.5
    assert est.estimate()[1] == pytest.approx(3.5)


def test_copied_tiles_take_no_time_and_a_retry_starts_over():
    steps = [Step("window", 1e9), Step("copy", 0.0), Step("decoder", 1e9)]
    clock = Clock()
    est = RunEstimator(steps, clock=clock)
    clock.now += 1.0
    est.observe(block(0))
    est.observe(ProgressEvent("decoder", 0.5, "tile 1"))
    assert est.estimate()[1] == pytest.approx(1.0)  # only the decoded tile is left
    est.observe(ProgressEvent("retry", 0.0, "out of memory"))
    assert est.estimate()[1] == pytest.approx(2.0)


def test_fraction_estimator_adds_the_time_left_to_reported_fractions():
    clock = Clock()
    est = FractionEstimator(clock=clock)
    assert est.estimate() == (0.0, None)
    clock.now += 10.0
    est.observe(ProgressEvent("closed-form", 0.25, "solving"))
    assert est.estimate() == (0.25, pytest.approx(30.0))
    est.observe(ProgressEvent("closed-form", 0.2, "solving"))  # never backwards
    assert est.estimate()[0] == 0.25


@pytest.mark.parametrize("seconds, text", [(0.2, "1 s"), (8.4, "8 s"), (42, "40 s"), (80, "1 min 20 s"), (120, "2 min"), (725, "12 min")])
def test_durations_read_the_way_people_say_them(seconds, text):
    assert format_duration(seconds) == text
