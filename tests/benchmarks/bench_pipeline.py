"""End-to-end time and peak memory on a synthetic 24-megapixel photo:
load → automatic trimap (GrabCut) → matte → foreground estimation → export.

    python tests/benchmarks/bench_pipeline.py [--model mematte-s] [--size 6000x4000] [--precision auto]

Peak memory is the process's maximum resident set size after each stage (it only grows).
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np


def synthetic_photo(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A textured background with a soft-edged, hairy subject in the middle (RGB uint8)."""
    rng = np.random.default_rng(seed)
    small = rng.random((height // 64 + 1, width // 64 + 1, 3)).astype(np.float32)
    bg = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    bg = (np.clip(bg, 0, 1) * 160 + 40).astype(np.uint8)
    yy, xx = np.ogrid[:height, :width]
    r = np.sqrt(((xx - width / 2) / (width * 0.25)) ** 2 + ((yy - height / 2) / (height * 0.35)) ** 2)
    alpha = np.clip((1.05 - r) / 0.1, 0, 1).astype(np.float32)
    strands = cv2.GaussianBlur((rng.random((height, width)) > 0.995).astype(np.float32), (0, 0), 3) * 40
    alpha = np.clip(alpha + strands * (r < 1.2), 0, 1)[..., None]
    subject = np.array([200, 120, 80], np.float32)
    return (alpha * subject + (1 - alpha) * bg).astype(np.uint8)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="checkpoint or preset (default: the bundled model)")
    ap.add_argument("--size", default="6000x4000")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--max-global-tokens", type=int)
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.split("x"))

    from matteapp.engine.foreground import estimate_foreground
    from matteapp.engine.session import MattingSession
    from matteapp.engine.trimap import trimap_from_rect
    from matteapp.io.export import export_alpha, export_cutout
    from matteapp.io.images import load_image

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "photo.jpg"
        cv2.imwrite(str(src), cv2.cvtColor(synthetic_photo(w, h), cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92])
        base = rss_mb()

        def stage(name, fn):
            t0 = time.perf_counter()
            out = fn()
            rows.append((name, time.perf_counter() - t0, rss_mb()))
            print(f"{name:<28} {rows[-1][1]:8.2f} s   peak RSS {rows[-1][2]:8.0f} MB", flush=True)
            return out

        print(f"{w}×{h} ({w * h / 1e6:.0f} MP), baseline RSS {base:.0f} MB")
        photo = stage("load (JPEG decode)", lambda: load_image(src))
        rect = (int(w * 0.2), int(h * 0.1), int(w * 0.6), int(h * 0.8))
        trimap = stage("auto-trimap (GrabCut)", lambda: trimap_from_rect(photo.rgb, rect))
        session = MattingSession(args.model, device=args.device, precision=args.precision)
        stage("load model", lambda: session.predictor)
        result = stage("matte", lambda: session.run(photo.rgb, trimap, max_global_tokens=args.max_global_tokens))
        stage("foreground estimation", lambda: estimate_foreground(photo.rgb, result.alpha))
        stage("export cutout (+foreground)", lambda: export_cutout(Path(tmp) / "cut.png", photo.rgb, result.alpha, decontaminate=True))
        stage("export alpha", lambda: export_alpha(Path(tmp) / "alpha.png", result.alpha))
    total = sum(r[1] for r in rows)
    print(f"{'total':<28} {total:8.2f} s   peak RSS {max(r[2] for r in rows):8.0f} MB")
    print(
        f"model {session.describe()}; routed {result.routed_fraction:.1%}; "
        f"backbone {result.timings['backbone']:.1f} s, decoder {result.timings['decoder']:.1f} s; "
        f"memory estimate {result.estimated_memory_bytes / 2**20:.0f} MB"
    )


if __name__ == "__main__":
    main()
