"""Evaluation of an engine against ground-truth alphas (folder layouts, per-image scores, reports)."""

from __future__ import annotations

import csv
import io
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from matteapp.engine.metrics import evaluate_alpha
from matteapp.engine.trimap import TrimapError, load_trimap
from matteapp.io.images import ImageLoadError, load_image

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")
METRICS = ("sad", "mse", "grad", "conn")


class EvalError(ValueError):
    pass


@dataclass
class Sample:
    name: str
    image: Path
    trimap: Path
    alpha: Path
    trimap_set: str


@dataclass
class Row:
    name: str
    trimap_set: str
    sad: float
    mse: float
    grad: float
    conn: float
    seconds: float
    routed_fraction: float


@dataclass
class Report:
    engine: str
    rows: list[Row] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)

    def mean(self) -> dict[str, float]:
        out = {m: float(np.mean([getattr(r, m) for r in self.rows])) if self.rows else math.nan for m in METRICS}
        routed = [r.routed_fraction for r in self.rows if not math.isnan(r.routed_fraction)]
        out["routed_fraction"] = float(np.mean(routed)) if routed else math.nan
        out["seconds"] = float(np.mean([r.seconds for r in self.rows])) if self.rows else math.nan
        return out


def _files_by_stem(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        raise EvalError(f"{folder}: not a folder")
    return {p.stem: p for p in sorted(folder.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES}


def find_samples(
    images: Path | None = None,
    trimaps: Sequence[Path] | None = None,
    alphas: Path | None = None,
    dataset: Path | None = None,
) -> list[Sample]:
    """Match photos, trimaps and alphas by file stem.

    Either ``images`` + one or more ``trimaps`` folders + ``alphas``, or ``dataset`` in the
    Composition-1K layout (``merged/``, ``trimaps/``, ``alpha_copy/``).
    """
    if dataset is not None:
        images, trimaps, alphas = dataset / "merged", [dataset / "trimaps"], dataset / "alpha_copy"
        if not alphas.is_dir() and (dataset / "alpha").is_dir():
            alphas = dataset / "alpha"
    if images is None or not trimaps or alphas is None:
        raise EvalError("give --images, --trimaps and --alphas, or --dataset with a Composition-1K layout")
    photos = _files_by_stem(images)
    gts = _files_by_stem(alphas)
    samples = []
    for tri_dir in trimaps:
        tris = _files_by_stem(tri_dir)
        for stem, photo in photos.items():
            if stem in tris and stem in gts:
                samples.append(Sample(stem, photo, tris[stem], gts[stem], tri_dir.name))
    if not samples:
        raise EvalError(f"no photo in {images} has both a trimap and an alpha of the same name")
    return samples


def load_alpha(path: Path) -> np.ndarray:
    """Ground-truth alpha as float32 in [0, 1] (gray, or RGB with equal channels)."""
    img = load_image(path)
    gray = img.alpha if (img.alpha is not None and img.mode in ("LA",)) else img.rgb[..., 0]
    return gray.astype(np.float32) / 255.0


def evaluate(
    samples: Sequence[Sample],
    run: Callable[[np.ndarray, np.ndarray, str], object],
    engine: str = "mematte",
    progress: Callable[[int, int, Row | None], None] | None = None,
) -> Report:
    """Score ``run(image, trimap, label) -> SessionResult`` on every sample; failures are recorded."""
    report = Report(engine=engine)
    for i, s in enumerate(samples):
        row = None
        try:
            photo = load_image(s.image)
            trimap = load_trimap(s.trimap, expected_size=photo.size)
            gt = load_alpha(s.alpha)
            if gt.shape != trimap.shape:
                raise EvalError(f"{s.alpha}: alpha is {gt.shape[1]}×{gt.shape[0]}, photo is {photo.size[0]}×{photo.size[1]}")
            t0 = time.perf_counter()
            result = run(photo.rgb, trimap, f"{s.name} ({s.trimap_set})")
            seconds = time.perf_counter() - t0
            scores = evaluate_alpha(result.alpha, gt, trimap)
            row = Row(s.name, s.trimap_set, scores["sad"], scores["mse"], scores["grad"], scores["conn"], seconds, result.routed_fraction)
            report.rows.append(row)
        except (ImageLoadError, TrimapError, EvalError) as exc:
            report.failures.append((f"{s.name} ({s.trimap_set})", str(exc)))
        if progress:
            progress(i + 1, len(samples), row)
    return report


def format_table(report: Report) -> str:
    lines = [f"{'image':<16} {'trimap':<10} {'SAD':>8} {'MSE×1e3':>8} {'Grad':>8} {'Conn':>8} {'routed':>7} {'time s':>7}"]

    def fmt(name, tset, sad, mse, grad, conn, routed, secs):
        r = "–" if math.isnan(routed) else f"{routed:.0%}"
        return f"{name:<16} {tset:<10} {sad:8.3f} {mse * 1e3:8.3f} {grad:8.3f} {conn:8.3f} {r:>7} {secs:7.2f}"

    for r in report.rows:
        lines.append(fmt(r.name, r.trimap_set, r.sad, r.mse, r.grad, r.conn, r.routed_fraction, r.seconds))
    m = report.mean()
    lines.append("-" * len(lines[0]))
    lines.append(fmt(f"mean ({len(report.rows)})", report.engine[:10], m["sad"], m["mse"], m["grad"], m["conn"], m["routed_fraction"], m["seconds"]))
    for name, why in report.failures:
        lines.append(f"FAILED {name}: {why}")
    return "\n".join(lines)


def report_dict(report: Report) -> dict:
    return {
        "engine": report.engine,
        "mean": report.mean(),
        "images": [asdict(r) for r in report.rows],
        "failures": [{"image": n, "error": e} for n, e in report.failures],
    }


def write_json(path: Path, report: Report, force: bool = False) -> None:
    from matteapp.base import write_atomic

    text = json.dumps(report_dict(report), indent=2, allow_nan=True)
    write_atomic(Path(path), lambda tmp: Path(tmp).write_text(text), force=force)


def write_csv(path: Path, report: Report, force: bool = False) -> None:
    from matteapp.base import write_atomic

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(Row.__dataclass_fields__))
    writer.writeheader()
    for r in report.rows:
        writer.writerow(asdict(r))
    write_atomic(Path(path), lambda tmp: Path(tmp).write_text(buf.getvalue()), force=force)
