"""The inference API: numpy image + trimap in, alpha + routing maps out.

A :class:`MattePredictor` owns a network on a device at a precision.  ``predict`` runs the backbone one
block at a time and the decoder tile by tile, so that callers (engine, CLI, GUI worker) can stream
progress and routing maps as they are decided and cancel between stages.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from matteapp.base import Cancelled, real_path, resource
from matteapp.model import MattingNetwork, build_model, preset_names
from matteapp.model.vit import PhotoContext

DEFAULT_DECODER_TILE = 512
BUNDLED_MODEL_DIR = resource("models")  # matteapp/resources/models, package data (see matteapp.base.resource)


@dataclass
class ProgressEvent:
    """One step of a prediction.  ``stage`` is "backbone", "decoder" or "done"."""

    stage: str
    fraction: float                      # overall progress in [0, 1]
    message: str
    block: int | None = None             # backbone block just finished
    routed_index: int | None = None      # 0..3: which router decided (with ``routing``)
    routing: np.ndarray | None = None    # (h, w) bool, True = sent to global attention
    router_probs: np.ndarray | None = None  # (h, w) float32 probability of global attention
    tile: tuple[int, int, int, int] | None = None  # (y0, y1, x0, x1) in image pixels
    alpha_tile: np.ndarray | None = None          # float32 alpha of that tile


@dataclass
class BlockRouting:
    block: int
    routed: int
    total: int
    seconds: float


@dataclass
class MatteResult:
    alpha: np.ndarray                            # (H, W) float32 in [0, 1]
    routing: list[np.ndarray]                    # one (h, w) bool map per routed block
    router_probs: list[np.ndarray]               # one (h, w) float32 map per routed block
    token_grid: tuple[int, int]                  # (h, w) of the padded input's token grid
    block_routing: list[BlockRouting] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    decoder_tiles: tuple[int, int] = (0, 0)      # (tiles decoded, tiles inside the photo): band-only skips the rest
    peak_memory_bytes: int | None = None         # accelerator peak during the run (CUDA only)
    device: str = "cpu"
    precision: str = "fp32"
    max_global_tokens: int | None = None
    photo_context: PhotoContext | None = None    # with keep_context: for local updates of this photo

    @property
    def routed_fraction(self) -> float:
        """Mean fraction of tokens sent to global attention over the routed blocks (nan for ViTMatte)."""
        if not self.routing:
            return float("nan")
        return float(np.mean([m.mean() for m in self.routing]))


ProgressCallback = Callable[[ProgressEvent], None]
CancelCheck = Callable[[], bool]


# ------------------------------------------------------------------------------------ device/precision


def resolve_device(device: str = "auto") -> torch.device:
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if str(device).split(":")[0] not in ("cpu", "cuda", "mps"):
        raise ValueError(f"unknown device {device!r}; use auto, cpu, cuda or mps")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' was asked for, but PyTorch sees no CUDA GPU on this computer")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise RuntimeError("device 'mps' was asked for, but Apple's Metal backend is not available")
    return dev


def cpu_has_fast_bf16() -> bool:
    """True where oneDNN runs bf16 matmuls natively (AVX512-BF16 / AMX)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def resolve_precision(precision: str, device: torch.device) -> str:
    if precision not in ("auto", "fp32", "bf16", "fp16"):
        raise ValueError(f"unknown precision {precision!r}; use auto, fp32, bf16 or fp16")
    if precision != "auto":
        return precision
    # Measured (benchmarks/precision.py): bf16 keeps alpha within ~1e-2 of fp32 and is several times
    # faster where the hardware has bf16 units; fp16 is the fallback on older GPUs and on MPS.
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if device.type == "mps":
        return "fp16"
    return "bf16" if cpu_has_fast_bf16() else "fp32"


_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


# ---------------------------------------------------------------------------------------- preprocessing


def padded_size(height: int, width: int, divisor: int = 32) -> tuple[int, int]:
    """Size after the official padding.  Quirk kept for fidelity: when either side needs padding,
    both sides grow by ``divisor − side % divisor``, so a side already divisible grows by a full
    ``divisor``."""
    if height % divisor == 0 and width % divisor == 0:
        return height, width
    return height + divisor - height % divisor, width + divisor - width % divisor


def validate_inputs(image: np.ndarray, trimap: np.ndarray) -> None:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be an H×W×3 RGB array, got shape {getattr(image, 'shape', None)}")
    if image.dtype != np.uint8:
        raise ValueError(f"image must be uint8, got {image.dtype}")
    if not isinstance(trimap, np.ndarray) or trimap.ndim != 2:
        raise ValueError(f"trimap must be an H×W array, got shape {getattr(trimap, 'shape', None)}")
    if trimap.dtype != np.uint8:
        raise ValueError(f"trimap must be uint8 (0, 128, 255), got {trimap.dtype}")
    if trimap.shape != image.shape[:2]:
        raise ValueError(f"trimap is {trimap.shape[1]}×{trimap.shape[0]} but the image is {image.shape[1]}×{image.shape[0]}")
    if min(image.shape[:2]) < 1:
        raise ValueError("image is empty")


def prepare_input(
    image: np.ndarray, trimap: np.ndarray, mean, std, divisor: int, device: torch.device
) -> torch.Tensor:
    """(1, 4, H', W') float32 in channels-last layout: normalized RGB and trimap/255, zero-padded
    bottom/right.  Built in place in its one buffer: at 50 MP every full-size float temporary costs
    0.6–0.8 GB."""
    h, w = trimap.shape
    hp, wp = padded_size(h, w, divisor)
    x = torch.zeros(1, hp, wp, 4, dtype=torch.float32, device=device)
    rgb = x[0, :h, :w, :3]
    rgb.copy_(torch.from_numpy(np.require(image, requirements=["C", "W"])).to(device))
    rgb.div_(255.0).sub_(torch.tensor(mean, dtype=torch.float32, device=device)).div_(torch.tensor(std, dtype=torch.float32, device=device))
    x[0, :h, :w, 3].copy_(torch.from_numpy(np.require(trimap, requirements=["C", "W"])).to(device)).div_(255.0)
    return x.permute(0, 3, 1, 2)


def _unknown_box(known: np.ndarray, y0: int, x0: int, y1: int, x1: int) -> tuple[int, int, int, int]:
    """The box (y0, y1, x0, x1), in padded-image coordinates, of a tile's unknown pixels (``known`` is
    False there; the tile's kept part starts at (y0, x0)), grown out to the 16-px feature grid and
    clipped to the tile (y1, x1)."""
    rows = np.flatnonzero(~known.all(axis=1))
    cols = np.flatnonzero(~known.all(axis=0))
    return (
        y0 + rows[0] // 16 * 16, min(y1, y0 + -(-(rows[-1] + 1) // 16) * 16),
        x0 + cols[0] // 16 * 16, min(x1, x0 + -(-(cols[-1] + 1) // 16) * 16),
    )  # fmt: skip


def decoder_tiles(height: int, width: int, tile: int, context: int):
    """(output rect, input rect) pairs covering a padded image; rects as (y0, y1, x0, x1)."""
    for y0 in range(0, height, tile):
        for x0 in range(0, width, tile):
            y1, x1 = min(height, y0 + tile), min(width, x0 + tile)
            yield (y0, y1, x0, x1), (max(0, y0 - context), min(height, y1 + context), max(0, x0 - context), min(width, x1 + context))


# ------------------------------------------------------------------------------------------- predictor


class MattePredictor:
    """A loaded matting model, ready to ``predict`` on numpy inputs."""

    def __init__(self, network: MattingNetwork, device: str = "auto", precision: str = "auto", source: str = ""):
        self.device = resolve_device(device)
        self.precision = resolve_precision(precision, self.device)
        self.network = network.eval().to(self.device)
        # oneDNN / cuDNN convolutions are several times faster on NHWC tensors (measured 2.6× on CPU).
        self.network.decoder.to(memory_format=torch.channels_last)
        self.source = source

    # -- description ------------------------------------------------------------------------------
    @property
    def config(self):
        return self.network.config

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def is_routed(self) -> bool:
        return self.config.routed

    @property
    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.network.parameters())

    def describe(self) -> str:
        return (
            f"{self.name} ({self.config.kind}, D={self.config.embed_dim}, {self.num_parameters / 1e6:.1f} M params) "
            f"on {self.device.type} / {self.precision}"
        )

    def _autocast(self):
        if self.precision == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=_DTYPES[self.precision])

    # -- inference --------------------------------------------------------------------------------
    @torch.inference_mode()
    def predict(
        self,
        image: np.ndarray,
        trimap: np.ndarray,
        max_global_tokens: int | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelCheck | None = None,
        decoder_tile: int = DEFAULT_DECODER_TILE,
        band_only: bool = True,
        keep_context: bool = False,
        context: PhotoContext | None = None,
        context_offset: tuple[int, int] = (0, 0),
    ) -> MatteResult:
        """Alpha matte of ``image`` (H×W×3 uint8 RGB) for ``trimap`` (H×W uint8: 0 / 128 / 255).

        ``max_global_tokens`` caps the tokens each routed block sends to global attention.
        ``progress`` receives :class:`ProgressEvent`s; ``cancel`` is polled between blocks and tiles,
        and :class:`Cancelled` is raised when it returns true.  With ``band_only`` the decoder skips
        every tile whose output has no unknown pixel: its alpha is the trimap's either way (known
        pixels are always taken from the trimap), so the result is bit-identical and the decoder's
        cost follows the unknown band instead of the photo.  Skipped tiles still produce their
        progress event with that alpha, so a viewer streaming tiles covers the whole photo.

        ``keep_context``: the result carries a :class:`~matteapp.model.vit.PhotoContext` (what the routed
        blocks saw of the whole photo: a few MB per routed block at 24 MP).  ``context`` (one kept from
        a run on the whole photo) with ``context_offset`` (y, x), in pixels on the 16-px grid: ``image``
        is the window of that photo at that offset, and its tokens get the positions, router averages
        and global-attention partners of the whole photo, so that the window's alpha comes close to
        what a whole run would give there (:mod:`matteapp.engine.local`).  MEMatte models only.
        """
        validate_inputs(image, trimap)
        if max_global_tokens is not None and max_global_tokens < 0:
            raise ValueError("max_global_tokens must be ≥ 0")
        if decoder_tile % 32:
            raise ValueError("decoder_tile must be a multiple of 32")
        cfg = self.config
        emit = progress or (lambda event: None)

        def check_cancel():
            if cancel is not None and cancel():
                raise Cancelled("prediction cancelled")

        timings: dict[str, float] = {}
        t_start = time.perf_counter()
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        h, w = trimap.shape
        x = prepare_input(image, trimap, cfg.pixel_mean, cfg.pixel_std, cfg.size_divisor, self.device)
        x = x.contiguous(memory_format=torch.channels_last)
        tiles = list(decoder_tiles(x.shape[2], x.shape[3], decoder_tile, self.network.decoder.TILE_CONTEXT))
        n_steps = cfg.depth + len(tiles)
        backbone_share = 0.75  # of the wall time, roughly, on CPU and GPU alike

        keep = window = None
        if keep_context or context is not None:
            if not self.is_routed:
                raise ValueError("a photo context needs a MEMatte (routed) model")
            patch = cfg.patch_size
            oy, ox = (int(v) for v in context_offset)
            if oy % patch or ox % patch or oy < 0 or ox < 0:
                raise ValueError(f"context_offset {context_offset} must be ≥ 0 and on the {patch}-px token grid")
            if context is not None and context.owner != id(self.network):
                raise ValueError("this photo context was kept by another model")
            keep = PhotoContext((0, 0), owner=id(self.network)) if keep_context else None
            window = (context, (oy // patch, ox // patch)) if context is not None else None

        routing, probs, block_routing = [], [], []
        t0 = time.perf_counter()
        with self._autocast():
            blocks = self.network.backbone.iter_blocks(x, max_global_tokens, tick=check_cancel, keep=keep, context=window)
            t_block = time.perf_counter()
            for i, tokens, decision in blocks:
                event = ProgressEvent("backbone", backbone_share * (i + 1) / cfg.depth, f"backbone block {i + 1}/{cfg.depth}", block=i)
                now = time.perf_counter()
                if decision is not None:
                    mask = decision.masks()[0].cpu().numpy()
                    prob = decision.probabilities()[0].cpu().numpy().astype(np.float32)
                    routing.append(mask)
                    probs.append(prob)
                    block_routing.append(BlockRouting(i, int(mask.sum()), mask.size, now - t_block))
                    event.routed_index, event.routing, event.router_probs = len(routing) - 1, mask, prob
                    event.message += f": {mask.mean():.0%} of tokens to global attention"
                t_block = now
                emit(event)
                check_cancel()
            features = tokens.permute(0, 3, 1, 2)
            timings["backbone"] = time.perf_counter() - t0

            t0 = time.perf_counter()
            alpha = np.empty((h, w), dtype=np.float32)
            decoded = 0
            for k, ((y0, y1, x0, x1), (cy0, cy1, cx0, cx1)) in enumerate(tiles):
                # keep only the part of the tile that lies inside the original image
                oy1, ox1 = min(y1, h), min(x1, w)
                if oy1 <= y0 or ox1 <= x0:
                    continue  # all padding: nothing of it is kept
                t = trimap[y0:oy1, x0:ox1]
                known = (t == 0) | (t == 255)
                if band_only and known.all():
                    a = (t == 255).astype(np.float32)
                else:
                    if band_only:
                        # decode only the part of the tile the band crosses (on the 16-px feature grid,
                        # with the same context): a thin band crossing a tile's corner costs a corner
                        sy0, sy1, sx0, sx1 = _unknown_box(known, y0, x0, y1, x1)
                        ctx = self.network.decoder.TILE_CONTEXT
                        cy0, cy1 = max(0, sy0 - ctx), min(x.shape[2], sy1 + ctx)
                        cx0, cx1 = max(0, sx0 - ctx), min(x.shape[3], sx1 + ctx)
                    else:
                        sy0, sy1, sx0, sx1 = y0, y1, x0, x1
                    out = self.network.decoder(features[:, :, cy0 // 16 : cy1 // 16, cx0 // 16 : cx1 // 16], x[:, :, cy0:cy1, cx0:cx1])
                    a = (t == 255).astype(np.float32)
                    ry1, rx1 = min(sy1, oy1), min(sx1, ox1)
                    sub = out[0, 0, sy0 - cy0 : ry1 - cy0, sx0 - cx0 : rx1 - cx0].float().cpu().numpy()
                    ts = t[sy0 - y0 : ry1 - y0, sx0 - x0 : rx1 - x0]
                    a[sy0 - y0 : ry1 - y0, sx0 - x0 : rx1 - x0] = np.where(ts == 0, 0.0, np.where(ts == 255, 1.0, sub))
                    decoded += 1
                alpha[y0:oy1, x0:ox1] = a
                emit(
                    ProgressEvent(
                        "decoder",
                        backbone_share + (1 - backbone_share) * (k + 1) / len(tiles),
                        f"decoder tile {k + 1}/{len(tiles)}",
                        tile=(y0, oy1, x0, ox1),
                        alpha_tile=a,
                    )
                )
                check_cancel()
            timings["decoder"] = time.perf_counter() - t0
        timings["total"] = time.perf_counter() - t_start
        peak = torch.cuda.max_memory_allocated(self.device) if self.device.type == "cuda" else None
        emit(ProgressEvent("done", 1.0, "done"))
        return MatteResult(
            alpha=np.clip(alpha, 0.0, 1.0, out=alpha),
            routing=routing,
            router_probs=probs,
            token_grid=tuple(features.shape[2:]),
            block_routing=block_routing,
            timings=timings,
            decoder_tiles=(decoded, sum(1 for (y0, _, x0, _), _ in tiles if y0 < h and x0 < w)),
            peak_memory_bytes=peak,
            device=self.device.type,
            precision=self.precision,
            max_global_tokens=max_global_tokens,
            photo_context=keep,
        )


# ------------------------------------------------------------------------------------------- loading


def bundled_model_path() -> Path | None:
    """The default model shipped in matteapp/resources/models (None until one is bundled)."""
    if not BUNDLED_MODEL_DIR.is_dir():
        return None
    # iterdir, not glob: the folder is an importlib.resources Traversable, which has no glob
    names = sorted(item.name for item in BUNDLED_MODEL_DIR.iterdir() if item.name.endswith(".safetensors") and item.is_file())
    return real_path(BUNDLED_MODEL_DIR / names[0]) if names else None


def resolve_default_model():
    """``(name, path, reason)`` of the model ``load_model(None)`` loads.

    In order: a pinned model (env ``MATTEAPP_MODEL``, else ``model`` in the user's settings.json: a
    catalog name, ``bundled`` or a checkpoint path), the first installed model of the catalog's
    ``default_order`` (official MEMatte weights, real-world model first), the bundled model.
    ``name`` is a catalog name, ``"bundled"`` or the checkpoint's stem; ``reason`` says why, in words.
    """
    from matteapp.model.catalog import choose_default_model

    choice = choose_default_model(bundled_model_path())
    if choice is None:
        raise FileNotFoundError(
            f"no bundled model found in {BUNDLED_MODEL_DIR} and no official model is installed: run "
            "`matteapp models download mematte-s-realworld`, or pass a checkpoint path (official "
            "MEMatte/ViTMatte weights) or a preset name"
        )
    return choice


def load_model(source: str | os.PathLike | None = None, device: str = "auto", precision: str = "auto") -> MattePredictor:
    """Load a matting model for inference.

    ``source``: a checkpoint path (official MEMatte / ViTMatte ``.pth``, Hugging Face VitMatte,
    ``.safetensors``), the name of an installed catalog model (``mematte-s-c1k``, …: see
    ``matteapp models``), a preset name (random weights: ``mematte-s``, ``mematte-b``,
    ``vitmatte-s``, ``vitmatte-b``, …), or None for the default model (:func:`resolve_default_model`).
    """
    from matteapp.model.catalog import catalog_model_path
    from matteapp.model.checkpoint import load_network

    if source is None:
        _, path, _ = resolve_default_model()
        return MattePredictor(load_network(path), device, precision, source=str(path))
    text = os.fspath(source)
    if not Path(text).exists():
        if text in preset_names():
            return MattePredictor(build_model(text), device, precision, source=f"preset:{text}")
        # raises, naming the install command, for a catalog model that is not installed
        path = catalog_model_path(text)
        if path is not None:
            return MattePredictor(load_network(path), device, precision, source=str(path))
    return MattePredictor(load_network(text), device, precision, source=text)
