"""The matting engine that the GUI worker and the command line drive.

A :class:`MattingSession` owns the loaded model (device, precision), runs full-resolution or preview
passes, picks the global-token cap and decoder tile for a memory budget, survives CUDA running out
of memory (smaller cap, then CPU), and offers closed-form matting as a classical comparison engine.
"""

from __future__ import annotations

import functools
import sys
from dataclasses import dataclass, field

import cv2
import numpy as np
import torch

from matteapp.model.predictor import (
    DEFAULT_DECODER_TILE,
    CancelCheck,
    Cancelled,
    MattePredictor,
    MatteResult,
    ProgressCallback,
    ProgressEvent,
    load_model,
    padded_size,
)

ENGINES = ("mematte", "closed-form")
PREVIEW_LONG_SIDE = 1024
DEFAULT_TOKEN_CAP = 4096
"""The desktop app's default cap on the tokens each routed block sends to global attention (the API and
the command line cap nothing unless asked).  Global attention is quadratic in those tokens: without a cap
the bundled model routes 30 % of a 24 MP photo's 94k tokens, and that attention takes 59 % of the run
(``tests/benchmarks/profile_predict.py``).  With 4096, the dev photos upscaled 3× and 5× (16k–44k tokens)
score within 0.7 % SAD of no cap (2048 starts to cost: +2 %) (``tests/benchmarks/bench_cap_quality.py``); below about 1 MP
nothing changes."""


@dataclass
class SessionResult:
    """Alpha and everything the UI shows about how it was made."""

    alpha: np.ndarray                  # float32 at ``size`` (the preview size for previews)
    size: tuple[int, int]              # (H, W) the model ran at
    full_size: tuple[int, int]         # (H, W) of the photo
    is_preview: bool
    engine: str
    routing: list[np.ndarray] = field(default_factory=list)
    router_probs: list[np.ndarray] = field(default_factory=list)
    token_grid: tuple[int, int] | None = None
    block_stats: list = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    peak_memory_bytes: int | None = None
    estimated_memory_bytes: int | None = None
    device: str = "cpu"
    precision: str = "fp32"
    max_global_tokens: int | None = None
    decoder_tile: int = DEFAULT_DECODER_TILE
    notes: list[str] = field(default_factory=list)
    process_peak_bytes: int | None = None  # resident memory of the whole process at its peak (see peak_scope)
    peak_scope: str = "run"                # "run": the peak during this run; "process": since the process started
    photo_context: object | None = None    # a MEMatte run's PhotoContext (keep_context), for local updates

    @property
    def routed_fraction(self) -> float:
        if not self.routing:
            return float("nan")
        return float(np.mean([m.mean() for m in self.routing]))

    def display_alpha(self) -> np.ndarray:
        """Alpha at the photo's size, for display only (previews are upsampled bilinearly)."""
        if not self.is_preview:
            return self.alpha
        h, w = self.full_size
        return cv2.resize(self.alpha, (w, h), interpolation=cv2.INTER_LINEAR)


# ------------------------------------------------------------------------------------------- memory


def estimate_memory_bytes(
    config, height: int, width: int, max_global_tokens: int | None, decoder_tile: int, precision: str
) -> int:
    """Peak memory of one ``predict`` on an accelerator, as a sum of the live tensors at the peak.

    Model: weights (fp32) + the padded 4-channel input + the token stream (the fp32 residual, the
    normalized copy, qkv and attention output at compute precision) + the widest transient of a
    block (the MLP's 4·D hidden for one slab of tokens, or the LTRM's 2·D expansion over the whole
    grid) + routed attention's q/k/v/out for the routed tokens (SDPA's fused kernels keep no N×N
    matrix) + one decoder tile with its context (about 220 channels at full resolution summed over
    the stages) + the output alpha.  ``tests/benchmarks/bench_memory.py`` compares it with measured
    peaks.
    """
    from matteapp.model import vit

    hp, wp = padded_size(height, width, config.size_divisor)
    n = (hp // config.patch_size) * (wp // config.patch_size)
    d = config.embed_dim
    e = 4 if precision == "fp32" else 2
    params = _param_count(config) * 4
    inputs = 4 * hp * wp * 4
    stream = n * d * 4 * 2 + n * d * e * 5
    mlp = min(n, vit.MLP_CHUNK_TOKENS) * int(d * config.mlp_ratio) * e * 2
    ltrm = n * 2 * d * e * 3 if config.routed else 0
    if config.routed:
        routed = n if max_global_tokens is None else min(n, max_global_tokens)
        attn = routed * d * e * 5
    else:
        attn = n * d * e * 4 + 64 * 1024 * 1024 * e  # one relative-position bias block
    tile = (decoder_tile + 2 * 64) ** 2
    decoder = tile * 220 * e
    out = height * width * 4
    return int(params + inputs + stream + max(mlp, ltrm) + attn + decoder + out)


@functools.lru_cache(maxsize=32)
def _param_count(config) -> int:
    from matteapp.model import build_model

    with torch.device("meta"):  # shapes only: no memory, no initialization
        net = build_model(config)
    return sum(p.numel() for p in net.parameters())


def plan_for_budget(config, height: int, width: int, budget_mb: float, precision: str) -> tuple[int | None, int]:
    """(max_global_tokens, decoder_tile) that keep the estimate within ``budget_mb``.

    Prefers no cap and big tiles; shrinks the tile first (cheap in speed), then caps the routed
    tokens.  Raises ValueError if even the smallest settings do not fit.
    """
    budget = budget_mb * 2**20
    hp, wp = padded_size(height, width, config.size_divisor)
    n = (hp // config.patch_size) * (wp // config.patch_size)
    for tile in (1024, 512, 256):
        if estimate_memory_bytes(config, height, width, None, tile, precision) <= budget:
            return None, tile
    caps = [n // 4, n // 16, n // 64, 0] if config.routed else []
    for cap in caps:
        if estimate_memory_bytes(config, height, width, cap, 256, precision) <= budget:
            return cap, 256
    need = estimate_memory_bytes(config, height, width, 0 if config.routed else None, 256, precision)
    raise ValueError(
        f"a {width}×{height} photo needs at least {need / 2**20:.0f} MB with this model; the budget is {budget_mb:.0f} MB"
    )


def reset_peak_rss() -> bool:
    """Start measuring the process's peak resident memory afresh; False where the system cannot (then
    :func:`peak_rss` is the peak since the process started)."""
    try:  # Linux ≥ 4.0: writing 5 resets this process's VmHWM
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_rss() -> int | None:
    """The process's peak resident memory in bytes (since :func:`reset_peak_rss`, where that works)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak) if sys.platform == "darwin" else int(peak) * 1024  # macOS counts bytes, Linux KiB


def _is_oom(exc: BaseException) -> bool:
    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)


# ------------------------------------------------------------------------------------------- session


class MattingSession:
    """Owns a model and runs matting requests (one at a time) for the GUI and the command line."""

    def __init__(
        self,
        model: str | None = None,
        device: str = "auto",
        precision: str = "auto",
        predictor: MattePredictor | None = None,
    ):
        self.model_source = model
        self.device = device
        self.precision = precision
        self._predictor = predictor

    @property
    def predictor(self) -> MattePredictor:
        if self._predictor is None:
            self._predictor = load_model(self.model_source, device=self.device, precision=self.precision)
        return self._predictor

    def describe(self) -> str:
        return self.predictor.describe()

    def run(
        self,
        image: np.ndarray,
        trimap: np.ndarray,
        *,
        engine: str = "mematte",
        preview: bool = False,
        preview_long_side: int = PREVIEW_LONG_SIDE,
        max_global_tokens: int | None = None,
        memory_budget_mb: float | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelCheck | None = None,
        keep_context: bool = False,
    ) -> SessionResult:
        """Matte ``image`` (H×W×3 uint8) with ``trimap`` (H×W uint8 0/128/255).

        ``preview`` runs on a copy whose long side is ``preview_long_side`` (result flagged so it is
        never exported as full resolution).  ``memory_budget_mb`` overrides ``max_global_tokens``.
        ``keep_context``: a MEMatte result carries its :attr:`SessionResult.photo_context`, which local
        updates of the result use (:mod:`matteapp.engine.local`).
        """
        if engine not in ENGINES:
            raise ValueError(f"unknown engine {engine!r}; choose {' or '.join(ENGINES)}")
        if trimap.shape != image.shape[:2]:
            raise ValueError(f"trimap is {trimap.shape[1]}×{trimap.shape[0]} but the photo is {image.shape[1]}×{image.shape[0]}")
        full_size = image.shape[:2]
        scope = "run" if reset_peak_rss() else "process"
        work_image, work_trimap = image, trimap
        if preview:
            work_image, work_trimap = downscale_pair(image, trimap, preview_long_side)
        if engine == "closed-form":
            result = self._run_closed_form(work_image, work_trimap, full_size, preview, progress, cancel)
        else:
            result = self._run_model(work_image, work_trimap, full_size, preview, max_global_tokens, memory_budget_mb, progress, cancel, keep_context)
        result.process_peak_bytes, result.peak_scope = peak_rss(), scope
        return result

    def _run_closed_form(self, image, trimap, full_size, preview, progress, cancel) -> SessionResult:
        import time

        from matteapp.engine.closed_form import closed_form_alpha

        emit = progress or (lambda e: None)
        emit(ProgressEvent("closed-form", 0.0, "closed-form matting"))
        t0 = time.perf_counter()
        alpha = closed_form_alpha(image, trimap, cancel=cancel, progress=lambda f, m: emit(ProgressEvent("closed-form", f, m)))
        emit(ProgressEvent("done", 1.0, "done"))
        return SessionResult(
            alpha=alpha,
            size=image.shape[:2],
            full_size=full_size,
            is_preview=preview,
            engine="closed-form",
            timings={"total": time.perf_counter() - t0},
        )

    def _run_model(self, image, trimap, full_size, preview, cap, budget_mb, progress, cancel, keep_context=False) -> SessionResult:
        predictor = self.predictor
        h, w = image.shape[:2]
        tile = DEFAULT_DECODER_TILE
        notes: list[str] = []
        if budget_mb is not None:
            cap, tile = plan_for_budget(predictor.config, h, w, budget_mb, predictor.precision)
            notes.append(f"memory budget {budget_mb:.0f} MB: global-token cap {cap if cap is not None else 'none'}, decoder tile {tile}px")
        emit = progress or (lambda e: None)
        attempt_cap = cap
        while True:
            try:
                result = predictor.predict(
                    image, trimap, max_global_tokens=attempt_cap, progress=progress, cancel=cancel, decoder_tile=tile,
                    keep_context=keep_context and predictor.is_routed,
                )
                break
            except Cancelled:
                raise
            except Exception as exc:  # noqa: BLE001 — only out-of-memory is handled, the rest re-raised
                if not _is_oom(exc):
                    raise
                if predictor.device.type == "cuda":
                    torch.cuda.empty_cache()
                where = predictor.device.type.upper()
                hp, wp = padded_size(h, w, predictor.config.size_divisor)
                n = (hp // predictor.config.patch_size) * (wp // predictor.config.patch_size)
                next_cap = (n // 4) if attempt_cap is None else attempt_cap // 4
                if predictor.config.routed and next_cap >= 256:
                    note = f"{where} ran out of memory; retrying with at most {next_cap} global tokens per block"
                    attempt_cap, tile = next_cap, 256
                elif predictor.device.type != "cpu":
                    note = f"{where} ran out of memory; retrying on the CPU"
                    predictor = MattePredictor(predictor.network.cpu(), "cpu", "auto", source=predictor.source)
                    self._predictor = predictor
                    attempt_cap, tile = cap, DEFAULT_DECODER_TILE
                else:
                    raise MemoryError(
                        f"not enough memory to matte a {w}×{h} photo on the {where}, even with a global-token cap; "
                        "try a preview, a memory budget, or a smaller photo"
                    ) from None
                notes.append(note)
                emit(ProgressEvent("retry", 0.0, note))
        estimate = estimate_memory_bytes(predictor.config, h, w, attempt_cap, tile, predictor.precision)
        return _from_matte(result, full_size, preview, notes, estimate, tile)


def _from_matte(r: MatteResult, full_size, preview, notes, estimate, tile) -> SessionResult:
    return SessionResult(
        alpha=r.alpha,
        size=r.alpha.shape,
        full_size=full_size,
        is_preview=preview,
        engine="mematte" if r.routing else "vitmatte",
        routing=r.routing,
        router_probs=r.router_probs,
        token_grid=r.token_grid,
        block_stats=r.block_routing,
        timings=r.timings,
        peak_memory_bytes=r.peak_memory_bytes,
        estimated_memory_bytes=estimate,
        device=r.device,
        precision=r.precision,
        max_global_tokens=r.max_global_tokens,
        decoder_tile=tile,
        notes=notes,
        photo_context=r.photo_context,
    )


def preview_size(height: int, width: int, long_side: int) -> tuple[int, int]:
    """(H, W) of a photo scaled so that its long side is at most ``long_side`` (unchanged if smaller)."""
    scale = long_side / max(height, width)
    if scale >= 1:
        return height, width
    return max(1, round(height * scale)), max(1, round(width * scale))


def downscale_pair(image: np.ndarray, trimap: np.ndarray, long_side: int) -> tuple[np.ndarray, np.ndarray]:
    """Photo (area filter) and trimap (nearest, so it keeps its three values) at :func:`preview_size`."""
    h, w = trimap.shape
    new_h, new_w = preview_size(h, w, long_side)
    if (new_h, new_w) == (h, w):
        return image, trimap
    size = (new_w, new_h)
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA), cv2.resize(trimap, size, interpolation=cv2.INTER_NEAREST)


def global_attention_savings(result: SessionResult, num_heads: int, embed_dim: int = 0) -> list[dict]:
    """Per routed block: tokens routed / total and the attention cost with and without routing.

    Attention FLOPs ∝ n²·D.  Memory: ``attention_mb`` is what this run's global attention held — the
    queries, keys, values and output of its k routed tokens, 4·k·D values at the run's precision (needs
    ``embed_dim``; the fused kernels keep no k×k matrix); ``scores_mb_full`` is what attending all n tokens
    with an N×N score matrix (heads·n² fp32 values) would need, as a plain implementation allocates;
    ``scores_mb_routed`` the same matrix for the k routed tokens only.
    """
    element = 2 if result.precision in ("bf16", "fp16") else 4
    rows = []
    for stats in result.block_stats:
        n, k = stats.total, stats.routed
        rows.append(
            {
                "block": stats.block,
                "routed": k,
                "total": n,
                "fraction": k / n if n else 0.0,
                "flops_ratio": (k * k) / (n * n) if n else 0.0,
                "scores_mb_full": num_heads * n * n * 4 / 2**20,
                "scores_mb_routed": num_heads * k * k * 4 / 2**20,
                "attention_mb": 4 * k * embed_dim * element / 2**20,
                "seconds": stats.seconds,
            }
        )
    return rows


__all__ = [
    "ENGINES",
    "MattingSession",
    "SessionResult",
    "downscale_pair",
    "estimate_memory_bytes",
    "global_attention_savings",
    "plan_for_budget",
    "preview_size",
    "trimap_from_model",
]


def trimap_from_model(
    session: MattingSession,
    image: np.ndarray,
    trimap: np.ndarray,
    band_width: int | None = None,
    long_side: int = PREVIEW_LONG_SIDE,
    cancel: CancelCheck | None = None,
) -> np.ndarray:
    """Re-band a rough trimap (e.g. from GrabCut) with the model's own low-resolution alpha.

    The model runs on a ``long_side`` copy; its alpha, upsampled, is thresholded and banded at full
    resolution by :func:`matteapp.engine.trimap.trimap_from_mask` (soft alpha stays unknown).
    """
    from matteapp.engine.trimap import trimap_from_mask

    preview = session.run(image, trimap, preview=True, preview_long_side=long_side, cancel=cancel)
    return trimap_from_mask(preview.display_alpha(), band_width=band_width)
