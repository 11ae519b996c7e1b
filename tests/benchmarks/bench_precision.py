"""How far bf16 / fp16 alphas are from fp32, and how much faster they are.

    python tests/benchmarks/bench_precision.py [--model PATH|PRESET] [--device cpu]

Runs on the real photos of ../shared/data/alphamatting-dev (trimap1), default model: the d96
reference checkpoint (random weights: an upper bound, random networks amplify rounding) or any
checkpoint given.  Prints mean / 99.9th-percentile |Δα| over unknown pixels, routing flips and time.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
DEV = ROOT.parent / "shared" / "data" / "alphamatting-dev"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(ROOT.parent / "shared" / "reference" / "mematte-d96" / "mematte_d96.pth"))
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--precisions", nargs="+", default=["bf16"])
    args = ap.parse_args()

    import matteapp
    from matteapp.engine.trimap import load_trimap
    from matteapp.io.images import load_image

    samples = []
    for p in sorted((DEV / "image").glob("*.png")):
        img = load_image(p)
        samples.append((p.stem, img.rgb, load_trimap(DEV / "trimap1" / p.name, expected_size=img.size)))
    models = {prec: matteapp.load_model(args.model, device=args.device, precision=prec) for prec in ["fp32", *args.precisions]}
    for m in models.values():  # warm-up
        m.predict(samples[0][1][:256, :256].copy(), samples[0][2][:256, :256].copy())
    print(f"model {models['fp32'].name}, device {args.device}")
    print("| precision | mean abs diff | p99.9 abs diff | routing flips | time s (sum) | speed-up |")
    print("|---|---|---|---|---|---|")
    ref, t_ref = {}, 0.0
    for prec, model in models.items():
        diffs, flips, total = [], [], 0.0
        for name, image, trimap in samples:
            t0 = time.perf_counter()
            r = model.predict(image, trimap)
            total += time.perf_counter() - t0
            if prec == "fp32":
                ref[name] = r
                continue
            d = np.abs(r.alpha - ref[name].alpha)[trimap == 128]
            diffs.append(d)
            flips += [float((a != b).mean()) for a, b in zip(r.routing, ref[name].routing)]
        if prec == "fp32":
            t_ref = total
            print(f"| fp32 | – | – | – | {total:.2f} | 1.00× |")
            continue
        d = np.concatenate(diffs)
        fl = f"{np.mean(flips):.2%} (max {np.max(flips):.2%})" if flips else "–"
        print(f"| {prec} | {d.mean():.4f} | {np.percentile(d, 99.9):.4f} | {fl} | {total:.2f} | {t_ref / total:.2f}× |")


if __name__ == "__main__":
    main()
