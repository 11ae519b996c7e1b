"""What the export dialog decided, and carrying it out off the GUI thread (no Qt here).

An :class:`ExportPlan` names one path per chosen output; :func:`run_export` writes them with
:mod:`matteapp.io.export`, doing the slow colour decontamination first (so that it can be cancelled
before any file is touched) and refusing, before writing anything, to replace existing files unless
the plan says the user agreed to.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from matteapp.base import Cancelled
from matteapp.engine.foreground import estimate_foreground
from matteapp.io import export
from matteapp.model.predictor import ProgressEvent

OUTPUTS = ("cutout", "alpha", "trimap", "routing")
"""The outputs a plan can hold, in the order they are written."""

OUTPUT_SUFFIXES = {
    "cutout": "_cutout.png",
    "alpha": "_alpha.png",
    "trimap": "_trimap.png",
    "routing": "_routing.png",
}

# Of the whole export's wall time, the share taken by decontamination when it runs (measured on a
# 24 MP photo: 3–6 s of foreground estimation against 1–3 s per PNG).
_DECONTAMINATION_SHARE = 0.6


@dataclass
class ExportPlan:
    """Paths of the outputs to write (None: not wanted) and how to write them.

    ``alpha_bits``: 8 or 16 for the alpha PNG.  ``decontaminate``: estimate the subject's own colours
    for the cut-out instead of keeping the photo's (which carry the old background into soft edges).
    ``routing_block``: None for the density of all routed blocks, else a 0-based routed-block index.
    ``routing_over_photo``: blend the heatmap over the photo; else the heatmap alone, at the photo's size.
    ``overwrite``: the user agreed to replace existing files; without it :func:`run_export` refuses.
    """

    cutout: Path | None = None
    alpha: Path | None = None
    trimap: Path | None = None
    routing: Path | None = None
    alpha_bits: int = 8
    decontaminate: bool = True
    routing_block: int | None = None
    routing_over_photo: bool = False
    overwrite: bool = False

    def __post_init__(self) -> None:
        for name in OUTPUTS:
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, Path(value))
        if self.alpha_bits not in (8, 16):
            raise ValueError(f"alpha_bits must be 8 or 16, got {self.alpha_bits}")

    def outputs(self) -> dict[str, Path]:
        """``{output name: path}`` of the chosen outputs, in writing order."""
        return {name: getattr(self, name) for name in OUTPUTS if getattr(self, name) is not None}

    def existing(self) -> list[Path]:
        """Chosen paths where something already exists (files, links, folders)."""
        return [path for path in self.outputs().values() if os.path.lexists(path)]


def default_paths(folder: os.PathLike | str, base_name: str) -> dict[str, Path]:
    """``{output name: folder / (base_name + suffix)}``, e.g. ``cat_cutout.png``, ``cat_alpha.png``."""
    folder = Path(folder)
    return {name: folder / f"{base_name}{suffix}" for name, suffix in OUTPUT_SUFFIXES.items()}


def default_plan(photo_path: os.PathLike | str, folder: os.PathLike | str | None = None) -> ExportPlan:
    """The cut-out and 8-bit alpha next to the photo (or in ``folder``), named after its stem."""
    photo_path = Path(photo_path)
    paths = default_paths(photo_path.parent if folder is None else folder, photo_path.stem)
    return ExportPlan(cutout=paths["cutout"], alpha=paths["alpha"])


def _fit_to(array: np.ndarray, size: tuple[int, int], interpolation: int) -> np.ndarray:
    h, w = size
    if array.shape[:2] == (h, w):
        return array
    return cv2.resize(array, (w, h), interpolation=interpolation)


def run_export(
    plan: ExportPlan,
    rgb: np.ndarray,
    alpha: np.ndarray,
    trimap: np.ndarray | None,
    routing: Sequence[np.ndarray] | None,
    icc_profile: bytes | None,
    dpi: float | tuple[float, float] | None,
    progress: Callable[[ProgressEvent], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> list[Path]:
    """Write the outputs of ``plan``; returns the written paths in order.

    ``rgb``: the photo, H×W×3 uint8.  ``alpha``: H'×W' float in [0, 1] — the photo's size, or a
    preview's smaller size, in which case every output is written at the preview's size (photo area-
    downscaled, trimap nearest-downscaled, DPI scaled so the printed size stays) rather than passing an
    upsampled preview off as full resolution.  ``trimap``: H×W uint8 0/128/255 (needed for a trimap
    output).  ``routing``: the run's per-routed-block (h, w) bool token maps (needed for a routing
    output).  ``icc_profile`` and ``dpi`` come from the photo (:class:`matteapp.io.images.LoadedImage`).

    ``progress`` receives ``ProgressEvent("export", fraction, message)``; ``cancel`` is polled during
    decontamination and between files, raising :class:`~matteapp.model.predictor.Cancelled`.  Files written
    before a cancel or an error stay (each is complete: writes are atomic).

    Raises :class:`~matteapp.io.export.OutputExistsError` before writing anything if a chosen path
    exists and ``plan.overwrite`` is false, and ValueError for inputs the plan cannot use.
    """
    outputs = plan.outputs()
    if not outputs:
        raise ValueError("nothing to export: the plan names no output")
    rgb = np.asarray(rgb)
    alpha = np.asarray(alpha, dtype=np.float32)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"rgb must be an H×W×3 uint8 array, got {rgb.dtype} {rgb.shape}")
    if alpha.ndim != 2:
        raise ValueError(f"alpha must be H×W, got {alpha.shape}")
    if "trimap" in outputs and trimap is None:
        raise ValueError("a trimap output was asked for, but no trimap was given")
    if trimap is not None and np.shape(trimap) != rgb.shape[:2]:
        raise ValueError(f"trimap is {np.shape(trimap)} but the photo is {rgb.shape[:2]}")
    if "routing" in outputs and not routing:
        raise ValueError("a routing heatmap was asked for, but this run has no routing maps (ViTMatte or closed-form)")
    if not plan.overwrite:
        existing = plan.existing()
        if existing:
            raise export.OutputExistsError(existing[0])

    emit = progress or (lambda event: None)

    def check_cancel() -> None:
        if cancel is not None and cancel():
            raise Cancelled("export cancelled")

    size = alpha.shape
    scale = size[1] / rgb.shape[1]
    image = _fit_to(rgb, size, cv2.INTER_AREA)
    if trimap is not None:
        trimap = _fit_to(np.asarray(trimap), size, cv2.INTER_NEAREST_EXACT)
    if dpi is not None and scale != 1.0:
        x, y = (dpi, dpi) if np.isscalar(dpi) else dpi
        dpi = (float(x) * scale, float(y) * scale)

    done = 0.0
    foreground = None
    if "cutout" in outputs and plan.decontaminate:
        emit(ProgressEvent("export", 0.0, "colour decontamination"))

        def tile_done(finished: int, total: int) -> None:
            emit(ProgressEvent("export", _DECONTAMINATION_SHARE * finished / total, f"colour decontamination, tile {finished} of {total}"))

        foreground = estimate_foreground(image, alpha, cancel=cancel, progress=tile_done)
        done = _DECONTAMINATION_SHARE

    meta = dict(icc_profile=icc_profile, dpi=dpi, force=plan.overwrite)
    step = (1.0 - done) / len(outputs)
    written: list[Path] = []
    for name, path in outputs.items():
        check_cancel()
        emit(ProgressEvent("export", done, f"writing {path.name}"))
        path.parent.mkdir(parents=True, exist_ok=True)
        if name == "cutout":
            written.append(export.save_png(path, export.cutout_rgba(image, alpha, foreground), **meta))
        elif name == "alpha":
            written.append(export.export_alpha(path, alpha, bits=plan.alpha_bits, **meta))
        elif name == "trimap":
            written.append(export.export_trimap(path, trimap, **meta))
        else:
            if plan.routing_over_photo:
                written.append(export.export_routing(path, list(routing), image=image, block=plan.routing_block, **meta))
            else:
                written.append(export.export_routing(path, list(routing), size=size, block=plan.routing_block, **meta))
        done += step
    emit(ProgressEvent("done", 1.0, f"exported {len(written)} file{'s' if len(written) != 1 else ''}"))
    return written


__all__ = ["OUTPUTS", "OUTPUT_SUFFIXES", "ExportPlan", "default_paths", "default_plan", "run_export"]
