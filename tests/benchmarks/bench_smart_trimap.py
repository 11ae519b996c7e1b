"""Automatic trimaps on the dev photos: fixed band, smart radius, a first model pass, and hand-made trimaps.

    nice -n 10 python tests/benchmarks/bench_smart_trimap.py [--engines closed-form mematte] [--photos GT01 GT04]

For each alphamatting.com dev photo a user's rectangle is simulated by the bounding box of the ground
truth's visible alpha (> 0.02) grown by 2 % of the image diagonal (a subject that fills the frame on
every side keeps a 4-px frame for GrabCut to learn the background from).  GrabCut runs once per photo
(:func:`matteapp.engine.trimap.grabcut_mask`), and its mask gets

* ``fixed``: the fixed unknown band (:func:`matteapp.engine.trimap.default_band_width`, 1 % of the diagonal);
* ``smart``: the same band widened by :func:`matteapp.engine.smart_trimap.smart_unknown`;
* ``model pass``: a first run of the bundled model at preview size on a 3× band, whose alpha is banded
  again (:func:`matteapp.engine.session.trimap_from_model`: soft alpha and the fixed band are unknown);
* ``trimap1`` / ``trimap2``: the dev set's hand-made trimaps, for reference.

Each trimap is matted at full size by closed-form matting and by the bundled model.  Errors are over
the **whole photo** (SAD / 1000, MSE), not over each trimap's own unknown pixels: a trimap that calls
hair definite foreground makes its error on known pixels, which an unknown-only score would not count.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
DEV = ROOT.parent / "shared" / "data" / "alphamatting-dev"
KINDS = ("fixed", "smart", "model pass", "trimap1", "trimap2")


def user_rect(gt: np.ndarray) -> tuple[int, int, int, int]:
    h, w = gt.shape
    ys, xs = np.nonzero(gt > 0.02)
    margin = round(0.02 * math.hypot(h, w))
    x0, y0 = max(0, int(xs.min()) - margin), max(0, int(ys.min()) - margin)
    x1, y1 = min(w, int(xs.max()) + 1 + margin), min(h, int(ys.max()) + 1 + margin)
    return x0, y0, x1 - x0, y1 - y0


def grabcut(image, gt):
    from matteapp.engine.trimap import grabcut_mask

    x, y, w, h = rect = user_rect(gt)
    try:
        return rect, grabcut_mask(image, rect)
    except ValueError:
        height, width = gt.shape
        x0, y0, x1, y1 = max(x, 4), max(y, 4), min(x + w, width - 4), min(y + h, height - 4)
        rect = (x0, y0, x1 - x0, y1 - y0)
        return rect, grabcut_mask(image, rect)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--engines", nargs="+", default=["closed-form", "mematte"])
    ap.add_argument("--photos", nargs="+", help="dev photo names (default: all ten)")
    ap.add_argument("--json", type=Path, help="write every figure here too")
    args = ap.parse_args()

    from matteapp.engine.evaluate import load_alpha
    from matteapp.engine.session import MattingSession, trimap_from_model
    from matteapp.engine.smart_trimap import smart_unknown
    from matteapp.engine.trimap import default_band_width, load_trimap, trimap_from_grabcut_mask
    from matteapp.io.images import load_image

    session = MattingSession()  # the bundled model, for the model pass and the "mematte" engine
    names = args.photos or sorted(p.stem for p in (DEV / "image").glob("*.png"))
    rows: list[dict] = []
    for name in names:
        image = load_image(DEV / "image" / f"{name}.png").rgb
        gt = load_alpha(DEV / "alpha" / f"{name}.png").astype(np.float64)
        h, w = gt.shape
        t0 = time.perf_counter()
        rect, mask = grabcut(image, gt)
        band = default_band_width(h, w)
        trimaps = {
            "fixed": trimap_from_grabcut_mask(mask, rect, band),
            "smart": trimap_from_grabcut_mask(mask, rect, band, unknown=smart_unknown(image, mask, band)),
            "model pass": trimap_from_model(session, image, trimap_from_grabcut_mask(mask, rect, 3 * band), band),
            "trimap1": load_trimap(DEV / "trimap1" / f"{name}.png"),
            "trimap2": load_trimap(DEV / "trimap2" / f"{name}.png"),
        }
        print(f"{name}: GrabCut and trimaps in {time.perf_counter() - t0:.1f} s", flush=True)
        for kind, trimap in trimaps.items():
            for engine in args.engines:
                t0 = time.perf_counter()
                alpha = session.run(image, trimap, engine=engine).alpha.astype(np.float64)
                error = np.abs(alpha - gt)
                row = {
                    "photo": name,
                    "trimap": kind,
                    "engine": engine,
                    "sad": float(error.sum() / 1000),
                    "mse": float(np.square(error).mean()),
                    "unknown_kpx": float((trimap == 128).sum() / 1000),
                    "seconds": time.perf_counter() - t0,
                }
                rows.append(row)
                print(f"  {kind:10s} {engine:11s} SAD {row['sad']:7.2f}  MSE×1e3 {row['mse'] * 1e3:6.2f}  unknown {row['unknown_kpx']:6.1f} kpx  {row['seconds']:5.1f} s", flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))

    print(f"\nMean over {len(names)} photos, errors over the whole photo:\n")
    header = "| trimap | unknown kpx | " + " | ".join(f"{e} SAD | {e} MSE×1e3" for e in args.engines) + " |"
    print(header)
    print("|" + "---|" * (2 + 2 * len(args.engines)))
    for kind in KINDS:
        mine = [r for r in rows if r["trimap"] == kind]
        if not mine:
            continue
        unknown = np.mean([r["unknown_kpx"] for r in mine if r["engine"] == args.engines[0]])
        cells = []
        for engine in args.engines:
            sel = [r for r in mine if r["engine"] == engine]
            cells += [f"{np.mean([r['sad'] for r in sel]):.2f}", f"{np.mean([r['mse'] for r in sel]) * 1e3:.2f}"]
        print(f"| {kind} | {unknown:.1f} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
