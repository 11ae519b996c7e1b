"""How far a matting run is and how long it has left, also between the engine's own progress events.

The model reports after every backbone block and every decoder tile.  On a 20-megapixel photo a routed
block's global attention runs for ten seconds and more without an event, and the blocks and tiles differ
in cost by orders of magnitude, so counting events (block 2 of 12: 12 %) says little about time.

:class:`RunEstimator` predicts every step's cost in multiply-accumulates from the model's configuration
and the run's size — per token for the backbone's linear layers, per token pair for attention, per pixel
for the decoder — and converts cost into seconds with rates measured on the steps already done, one
rate per kind of step (window block, routed block, decoder tile), so that the time of the step under
way is known from the ones before it.  Asked between events (a GUI timer does that), it places the
current step by its elapsed time against that prediction; a step that overruns keeps moving, ever more
slowly, instead of stopping at its predicted end.  Rates measured by one run seed the next.

Closed-form matting reports its own fractions (solver iterations); :class:`FractionEstimator` only adds
the time left to those.

No Qt here: the worker feeds events on its thread, the GUI asks on its own (both lock).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from matteapp.model.decoder import DetailCapture
from matteapp.model.predictor import DEFAULT_DECODER_TILE, ProgressEvent, decoder_tiles, padded_size

OVERRUN_TAIL = 0.15
"""A step past its predicted time is assumed to need this fraction of its elapsed time again."""
DEFAULT_ROUTED_SHARE = 0.1
"""Share of tokens a router is assumed to send to global attention before any run has shown it
(the bundled model routes 7.8 %, MEMatte's trained routers aim at 10–25 %)."""


@dataclass(frozen=True)
class Step:
    """One unit of work that ends with a progress event: a backbone block or a decoder tile.

    ``kind``: "window" (window-attention block), "global" (a routed block, or ViTMatte's global one),
    "decoder" (a decoded tile) or "copy" (a tile whose alpha is the trimap's, at no cost).  ``cost``:
    multiply-accumulates, except the routed tokens' attention among themselves; for "global" steps of a
    routed model ``tokens`` is the token count the router chooses from and ``dim`` the embedding width,
    so that the attention of ``k`` routed tokens adds 2·k²·dim.
    """

    kind: str
    cost: float
    tokens: int = 0
    dim: int = 0
    routed: bool = False

    def macs(self, routed_tokens: float) -> float:
        if not self.routed:
            return self.cost
        k = min(float(self.tokens), max(0.0, routed_tokens))
        return self.cost + 4.0 * self.dim * self.dim * k + 2.0 * k * k * self.dim


def decoder_macs_per_pixel(config) -> float:
    """Multiply-accumulates of the detail-capture decoder per pixel of its input."""
    macs = 0.0
    chans = [4, *config.convstream_widths]
    for i in range(len(chans) - 1):
        macs += 9 * chans[i] * chans[i + 1] / 4 ** (i + 1)
    details = chans[::-1]
    ins = [config.embed_dim, *config.fusion_widths[:-1]]
    stages = len(config.fusion_widths)
    for i, out in enumerate(config.fusion_widths):
        macs += 9 * (ins[i] + details[i]) * out / 4 ** (stages - 1 - i)
    macs += 9 * config.fusion_widths[-1] * config.head_mid + config.head_mid
    return macs


def model_steps(
    config,
    trimap: np.ndarray,
    max_global_tokens: int | None = None,
    decoder_tile: int = DEFAULT_DECODER_TILE,
    band_only: bool = True,
) -> list[Step]:
    """The steps of ``predict`` on a photo with this (H×W uint8) ``trimap``, in the order their events come."""
    h, w = trimap.shape
    hp, wp = padded_size(h, w, config.size_divisor)
    n = (hp // config.patch_size) * (wp // config.patch_size)
    d = config.embed_dim
    linear = (4 + 2 * config.mlp_ratio) * d * d  # qkv, projection and MLP, per token
    steps = []
    for i in range(config.depth):
        extra = 3.25 * d * d if i in config.residual_blocks else 0.0  # the residual bottleneck's convolutions
        if i == 0:
            extra += config.patch_size**2 * config.in_chans * d  # the patch embedding runs before block 0
        if i not in config.global_blocks:
            steps.append(Step("window", n * (linear + extra + 2 * config.window_size**2 * d)))
        elif config.routed:
            # the token-refinement path (2× expansion, 5×5 depth-wise) and the MLP run on every token;
            # qkv, projection and attention only on the routed ones (Step.macs adds those)
            everyone = 4 * d * d + 50 * d + 2 * config.mlp_ratio * d * d + extra
            steps.append(Step("global", n * everyone, tokens=n if max_global_tokens is None else min(n, max_global_tokens), dim=d, routed=True))
        else:
            steps.append(Step("global", n * (linear + extra) + 2.0 * n * n * d))
    per_pixel = decoder_macs_per_pixel(config)
    for (y0, y1, x0, x1), (cy0, cy1, cx0, cx1) in decoder_tiles(hp, wp, decoder_tile, DetailCapture.TILE_CONTEXT):
        oy1, ox1 = min(y1, h), min(x1, w)
        if oy1 <= y0 or ox1 <= x0:
            continue  # all padding: the predictor skips it without an event
        t = trimap[y0:oy1, x0:ox1]
        if band_only and not np.any((t != 0) & (t != 255)):
            steps.append(Step("copy", 0.0))
        else:
            steps.append(Step("decoder", per_pixel * (cy1 - cy0) * (cx1 - cx0)))
    return steps


def format_duration(seconds: float) -> str:
    """Rounded the way a person says it: "8 s", "40 s", "1 min 20 s", "12 min"."""
    seconds = max(0.0, float(seconds))
    if seconds < 10:
        return f"{max(1, round(seconds))} s"
    if seconds < 60:
        return f"{round(seconds / 5) * 5} s"
    minutes, rest = divmod(round(seconds / 10) * 10, 60)
    if minutes >= 10:
        return f"{round(seconds / 60)} min"
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"


class RunEstimator:
    """Fraction done and seconds left of a model run, from its :func:`model_steps` and the events so far.

    Feed it every :class:`~matteapp.model.predictor.ProgressEvent` (:meth:`observe`) on the thread that
    gets them; ask :meth:`estimate` from any thread.  ``rates``: seconds per multiply-accumulate by kind,
    from an earlier run (:meth:`rates`); ``routed_shares``: per routed block, the share of tokens an
    earlier run routed there (the routed attention's cost grows with its square).  ``clock``: seconds.
    """

    def __init__(
        self,
        steps: Sequence[Step],
        rates: dict[str, float] | None = None,
        routed_shares: Sequence[float] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._steps = list(steps)
        self._clock = clock
        self._lock = threading.Lock()
        self._prior = dict(rates or {})
        self._spent = {kind: 0.0 for kind in ("window", "global", "decoder")}
        self._macs = {kind: 0.0 for kind in ("window", "global", "decoder")}
        self._shares = list(routed_shares or [])
        self._routed_seen: list[float] = []
        self._global_index = [i for i, s in enumerate(self._steps) if s.kind == "global" and s.routed]
        self._depth = sum(1 for s in self._steps if s.kind in ("window", "global"))
        self._done = 0
        self._decoder_events = 0
        self._start = clock()
        self._last = self._start
        self._finished = False
        self._shown = 0.0

    # -- events (worker thread) ----------------------------------------------------------------------
    def observe(self, event: ProgressEvent) -> None:
        now = self._clock()
        with self._lock:
            if event.stage == "done":
                self._finished = True
                return
            if event.stage == "retry":  # out of memory: the run starts over with smaller settings
                self._done, self._decoder_events, self._last = 0, 0, now
                return
            if event.stage == "backbone" and event.block is not None:
                index = event.block
            elif event.stage == "decoder":
                index = self._depth + self._decoder_events
                self._decoder_events += 1
            else:
                return
            if event.routing is not None:
                self._routed_seen.append(float(np.count_nonzero(event.routing)))
            for i in range(self._done, min(index + 1, len(self._steps))):
                step = self._steps[i]
                seconds = (now - self._last) if i == index else 0.0
                if step.kind in self._spent:
                    self._spent[step.kind] += seconds
                    self._macs[step.kind] += step.macs(self._routed_tokens(i, observed=True))
            self._done = max(self._done, min(index + 1, len(self._steps)))
            self._last = now

    # -- estimate (any thread) -----------------------------------------------------------------------
    def estimate(self) -> tuple[float, float | None]:
        """(fraction done in [0, 1], seconds left or None while nothing is known about this machine)."""
        now = self._clock()
        with self._lock:
            if self._finished:
                self._shown = 1.0
                return 1.0, 0.0
            rates = self._current_rates()
            if rates is None:
                return self._shown, None
            remaining = [self._predict(i, rates) for i in range(self._done, len(self._steps))]
            spent = now - self._start
            if remaining:
                elapsed = now - self._last
                current = max(remaining[0] - elapsed, OVERRUN_TAIL * elapsed)
                left = current + sum(remaining[1:])
            else:
                left = 0.0
            fraction = spent / (spent + left) if spent + left > 0 else 0.0
            self._shown = max(self._shown, min(fraction, 0.999))
            return self._shown, left

    def rates(self) -> dict[str, float]:
        """Seconds per multiply-accumulate by kind of step, as measured so far (or as seeded)."""
        with self._lock:
            return dict(self._prior, **{k: self._spent[k] / self._macs[k] for k in self._spent if self._macs[k] > 0})

    def routed_shares(self) -> list[float]:
        """Per routed block seen so far: the share of tokens sent to global attention."""
        with self._lock:
            return [k / max(1, self._steps[i].tokens) for k, i in zip(self._routed_seen, self._global_index)]

    # -- internals -----------------------------------------------------------------------------------
    def _current_rates(self) -> dict[str, float] | None:
        measured = {k: self._spent[k] / self._macs[k] for k in self._spent if self._macs[k] > 0 and self._spent[k] > 0}
        rates = dict(self._prior, **measured)
        if not rates:
            return None
        # a kind not seen yet borrows the rate of one that was (each is a rate of the same arithmetic)
        fallback = measured.get("window") or next(iter(measured.values()), None) or next(iter(rates.values()))
        for kind in ("window", "global", "decoder"):
            rates.setdefault(kind, fallback)
        return rates

    def _routed_tokens(self, index: int, observed: bool = False) -> float:
        step = self._steps[index]
        if not step.routed:
            return 0.0
        order = self._global_index.index(index)
        if order < len(self._routed_seen) and observed:
            return self._routed_seen[order]
        if self._routed_seen:
            return self._routed_seen[-1]  # neighbouring routed blocks route similar shares
        share = self._shares[order] if order < len(self._shares) else DEFAULT_ROUTED_SHARE
        return share * step.tokens

    def _predict(self, index: int, rates: dict[str, float]) -> float:
        step = self._steps[index]
        if step.kind == "copy":
            return 0.0
        return rates[step.kind] * step.macs(self._routed_tokens(index))


class FractionEstimator:
    """For engines that report their own fraction done (closed-form): adds the time left to it."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._start = clock()
        self._fraction = 0.0

    def observe(self, event: ProgressEvent) -> None:
        with self._lock:
            if event.stage == "done":
                self._fraction = 1.0
            elif event.stage != "retry":
                self._fraction = max(self._fraction, min(1.0, float(event.fraction)))

    def estimate(self) -> tuple[float, float | None]:
        with self._lock:
            f = self._fraction
            if f >= 1.0:
                return 1.0, 0.0
            if f < 0.02:
                return f, None
            spent = self._clock() - self._start
            return f, spent * (1.0 - f) / f

    def rates(self) -> dict[str, float]:
        return {}

    def routed_shares(self) -> list[float]:
        return []


__all__ = [
    "DEFAULT_ROUTED_SHARE",
    "FractionEstimator",
    "RunEstimator",
    "Step",
    "decoder_macs_per_pixel",
    "format_duration",
    "model_steps",
]
