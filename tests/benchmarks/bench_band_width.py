"""Which unknown-band width gives the best alpha on the dev photos (trimaps made from masks).

    python tests/benchmarks/bench_band_width.py [--engine closed-form] [--fractions 0.005 0.01 0.02 0.03]

For each photo the mask is the ground truth thresholded at 0.5 (standing in for a user's rough mask
or GrabCut result); ``trimap_from_mask`` bands it with width = fraction × image diagonal; the engine
mattes it and the errors are measured over the pixels that any of the trimaps marks unknown, so that
all widths are compared on the same pixels.  One global default is chosen (nothing per image).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

DEV = Path(__file__).resolve().parents[3] / "shared" / "data" / "alphamatting-dev"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--engine", default="closed-form")
    ap.add_argument("--model")
    ap.add_argument("--fractions", type=float, nargs="+", default=[0.005, 0.01, 0.02, 0.03, 0.05])
    args = ap.parse_args()

    from matteapp.engine.evaluate import load_alpha
    from matteapp.engine.metrics import mse, sad
    from matteapp.engine.session import MattingSession
    from matteapp.engine.trimap import trimap_from_mask
    from matteapp.io.images import load_image

    session = MattingSession(args.model)
    sums = {f: [0.0, 0.0] for f in args.fractions}
    names = sorted(p.stem for p in (DEV / "image").glob("*.png"))
    for name in names:
        photo = load_image(DEV / "image" / f"{name}.png")
        gt = load_alpha(DEV / "alpha" / f"{name}.png")
        h, w = gt.shape
        diag = float(np.hypot(h, w))
        tris = {f: trimap_from_mask(gt >= 0.5, band_width=max(4, round(f * diag))) for f in args.fractions}
        region = np.zeros_like(gt, dtype=bool)
        for t in tris.values():
            region |= t == 128
        common = np.where(region, 128, 0).astype(np.uint8)
        for f, t in tris.items():
            alpha = session.run(photo.rgb, t, engine=args.engine).alpha
            sums[f][0] += sad(alpha, gt, common)
            sums[f][1] += mse(alpha, gt, common)
        print(f"{name}: done", flush=True)
    print(f"| band (fraction of diagonal) | mean SAD | mean MSE×1e3 |  ({args.engine}, {len(names)} photos)")
    print("|---|---|---|")
    for f, (s, m) in sums.items():
        print(f"| {f:.3f} | {s / len(names):.3f} | {m / len(names) * 1e3:.3f} |")


if __name__ == "__main__":
    main()
