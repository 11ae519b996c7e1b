"""What a global-token cap costs in quality: the dev photos upscaled, matted with caps of several sizes.

    python tests/benchmarks/bench_cap_quality.py [--photos GT01-GT05] [--scale 3] [--caps 0 8192 4096 2048 1024]

Each photo (trimap1) is upscaled ``--scale``× (cubic; trimap nearest, alpha linear) so that its token
count approaches that of a large photo, and matted by the bundled model (bf16, as the app runs) with
each cap (0: none), i.e. at most that many tokens per routed block in global attention (the most
confident ones).  Prints, per cap, SAD (thousands, at the upscaled size) and MSE×1e3 over the unknown
pixels against the upscaled true alpha, the routed share and the time (``profile_predict.py`` splits it).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eval_models import scaled_dev_photos  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", default="GT01-GT05")
    ap.add_argument("--scale", type=float, default=3.0)
    ap.add_argument("--caps", type=int, nargs="+", default=[0, 8192, 4096, 2048, 1024])
    ap.add_argument("--model", default=None)
    args = ap.parse_args()

    import matteapp

    model = matteapp.load_model(args.model)
    sad = {c: [] for c in args.caps}
    mse = {c: [] for c in args.caps}
    routed = {c: [] for c in args.caps}
    seconds = {c: 0.0 for c in args.caps}
    tokens = []
    for _, image, trimap, gt in scaled_dev_photos(args.photos, args.scale):
        unknown = trimap == 128
        h, w = trimap.shape
        tokens.append((-(-h // 32) * 2) * (-(-w // 32) * 2))
        for cap in args.caps:
            t0 = time.perf_counter()
            result = model.predict(image, trimap, max_global_tokens=cap or None)
            seconds[cap] += time.perf_counter() - t0
            d = result.alpha[unknown] - gt[unknown]
            sad[cap].append(np.abs(d).sum() / 1000)
            mse[cap].append(float(np.mean(d * d)))
            routed[cap].append(result.routed_fraction)
    print(f"{model.describe()}; photos {args.photos} ×{args.scale:g} (about {np.mean(tokens):,.0f} tokens each), trimap1")
    print("| cap (tokens per routed block) | SAD | MSE×1e3 | routed | seconds (all photos) |")
    print("|---|---|---|---|---|")
    for cap in args.caps:
        print(f"| {cap or 'none'} | {np.mean(sad[cap]):.3f} | {1e3 * np.mean(mse[cap]):.2f} | {np.mean(routed[cap]):.1%} | {seconds[cap]:.1f} |")


if __name__ == "__main__":
    main()
