"""How far bf16 / fp16 alphas are from fp32, and how much faster they are.

    python tests/benchmarks/bench_precision.py [--model PATH|PRESET] [--device cpu] [--reduced-routers] [--photos N | --reference]

Runs on the real photos of ../shared/data/alphamatting-dev (trimap1), default model: the d96
reference checkpoint (random weights: an upper bound, random networks amplify rounding) or any
checkpoint given; ``--reference`` runs on the reference case's own photo (../shared/reference/mematte-d96)
instead.  Prints mean / 99.9th-percentile |Δα| over unknown pixels, routing flips (share of
tokens whose decision differs from fp32; mean over photos and routers, and the worst one) and time.

The routers score in fp32 even under autocast.  ``--reduced-routers`` adds a row per reduced precision
with the routers scored in that precision instead (as autocast alone would run them), to show what
the fp32 routers save in flips.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
DEV = ROOT.parent / "shared" / "data" / "alphamatting-dev"
REFERENCE = ROOT.parent / "shared" / "reference" / "mematte-d96"


@contextlib.contextmanager
def routers_in_autocast_precision():
    """Score the routers under the ambient autocast, as the backbone would without its fp32 rule."""
    from matteapp.model.vit import ViTBackbone

    fp32_route = ViTBackbone.__dict__["_route"]
    ViTBackbone._route = staticmethod(lambda router, tokens: router(tokens))
    try:
        yield
    finally:
        ViTBackbone._route = fp32_route


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(REFERENCE / "mematte_d96.pth"))
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--precisions", nargs="+", default=["bf16"])
    ap.add_argument("--reduced-routers", action="store_true", help="also score the routers in the reduced precision")
    ap.add_argument("--photos", type=int, help="only the first N dev photos")
    ap.add_argument("--reference", action="store_true", help="the reference case's photo and trimap instead of the dev photos")
    args = ap.parse_args()

    import matteapp
    from matteapp.engine.trimap import load_trimap
    from matteapp.io.images import load_image

    samples = []
    if args.reference:
        img = load_image(REFERENCE / "image.png")
        samples.append(("reference", img.rgb, load_trimap(REFERENCE / "trimap.png", expected_size=img.size)))
    for p in [] if args.reference else sorted((DEV / "image").glob("*.png"))[: args.photos]:
        img = load_image(p)
        samples.append((p.stem, img.rgb, load_trimap(DEV / "trimap1" / p.name, expected_size=img.size)))
    models = {prec: matteapp.load_model(args.model, device=args.device, precision=prec) for prec in ["fp32", *args.precisions]}
    runs = [(prec, prec, model, contextlib.nullcontext) for prec, model in models.items()]
    if args.reduced_routers:
        runs += [(f"{p}, {p} routers", p, models[p], routers_in_autocast_precision) for p in args.precisions]
    for m in models.values():  # warm-up
        m.predict(samples[0][1][:256, :256].copy(), samples[0][2][:256, :256].copy())
    print(f"model {models['fp32'].name}, device {args.device}")
    print("| precision | mean abs diff | p99.9 abs diff | routing flips | time s (sum) | speed-up |")
    print("|---|---|---|---|---|---|")
    ref, t_ref = {}, 0.0
    for label, prec, model, routers in runs:
        diffs, flips, total = [], [], 0.0
        for name, image, trimap in samples:
            with routers():
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
        print(f"| {label} | {d.mean():.4f} | {np.percentile(d, 99.9):.4f} | {fl} | {total:.2f} | {t_ref / total:.2f}× |", flush=True)


if __name__ == "__main__":
    main()
