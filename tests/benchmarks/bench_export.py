"""The two slow steps of a cutout export on a 24-megapixel photo: colour decontamination and the PNG write.

    python tests/benchmarks/bench_export.py [--size 6000x4000] [--whole]

The photo is a red disc with a 40-px soft edge over blue (plus noise), as in tests/test_foreground.py.
Decontamination is :func:`~matteapp.engine.foreground.estimate_foreground` (pymatting on the tiles that
hold soft pixels); ``--whole`` also times one whole-image pymatting call, which the tiles replace.  The
write is :func:`~matteapp.io.export.save_png` of the RGBA cutout of a photo-like image (gradients plus
sensor noise) at the default compression level.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def disc_scene(h: int, w: int, soft: int = 40, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.arange(h, dtype=np.float32)[:, None] - h / 2
    x = np.arange(w, dtype=np.float32)[None, :] - w / 2
    radius = 0.35 * min(h, w)
    alpha = np.clip((radius + soft / 2 - np.sqrt(y * y + x * x)) / soft, 0, 1)
    band = (alpha > 0) & (alpha < 1)
    alpha[band] = np.clip(alpha[band] + rng.normal(0, 0.05, int(band.sum())), 0, 1)
    fg, bg = np.array([200, 60, 40], np.float32), np.array([30, 120, 220], np.float32)
    image = alpha[..., None] * fg + (1 - alpha[..., None]) * bg
    image += rng.standard_normal(image.shape, dtype=np.float32) * 4
    return np.clip(image + 0.5, 0, 255).astype(np.uint8), alpha


def photo_like_rgba(h: int, w: int, seed: int = 4) -> np.ndarray:
    from matteapp.io.export import cutout_rgba

    rng = np.random.default_rng(seed)
    y = np.linspace(0, 255, h, dtype=np.float32)[:, None]
    x = np.linspace(0, 255, w, dtype=np.float32)[None, :]
    base = np.stack([y + 0 * x, 0.5 * (x + y), 255 - x + 0 * y], axis=-1)
    image = np.clip(base + rng.standard_normal((h, w, 3), dtype=np.float32) * 3, 0, 255).astype(np.uint8)
    r = np.hypot(np.arange(h)[:, None] - h / 2, np.arange(w)[None, :] - w / 2)
    alpha = np.clip((0.35 * min(h, w) - r) / 40, 0, 1).astype(np.float32)
    return cutout_rgba(image, alpha)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", default="6000x4000", help="WIDTHxHEIGHT")
    ap.add_argument("--whole", action="store_true", help="also time one whole-image pymatting call")
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.lower().split("x"))

    from pymatting import estimate_foreground_ml

    import matteapp.io.export as export
    from matteapp.engine.foreground import estimate_foreground, soft_tiles

    image, alpha = disc_scene(h, w)
    estimate_foreground(image[:256, :256], alpha[:256, :256])  # numba's compile / cache load is not the subject
    print(f"| step ({w}×{h}) | seconds | note |")
    print("|---|---|---|")
    t0 = time.perf_counter()
    estimate_foreground(image, alpha)
    print(f"| decontamination, tiled | {time.perf_counter() - t0:.2f} | {len(soft_tiles(alpha))} tiles of 512 px |", flush=True)
    if args.whole:
        t0 = time.perf_counter()
        estimate_foreground_ml(image.astype(np.float32) / 255, alpha)
        print(f"| decontamination, whole image | {time.perf_counter() - t0:.2f} | pymatting, one call |", flush=True)
    del image, alpha

    rgba = photo_like_rgba(h, w)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        path = export.save_png(Path(tmp) / "big.png", rgba)
        seconds = time.perf_counter() - t0
        size_mb = path.stat().st_size / 1e6
    print(f"| RGBA PNG write | {seconds:.2f} | compress level {export.DEFAULT_COMPRESS_LEVEL}, {size_mb:.1f} MB |")


if __name__ == "__main__":
    main()
