"""How far is a local re-matte after a brush stroke from a full re-run, and how fast is it?

    python tests/benchmarks/bench_local_update.py [--model PATH] [--contexts 64 128 224 448] [--edits 3]
    python tests/benchmarks/bench_local_update.py --photos GT01-GT05 --scale 3 --contexts 0 64 128 224 448
    python tests/benchmarks/bench_local_update.py --timing-mp 24      # latency on an upscaled photo

Accuracy: on every dev photo (trimap1), ``--edits`` simulated strokes (a 24-px-radius brush that
marks as foreground the unknown pixels whose true alpha is 1, at a random unknown pixel, seeded)
are applied; for each, the full model run on the edited trimap is compared with
``rematte_region`` at each context size, inside the edited rectangle: mean and 99th percentile of
|Δα|, and both against the true alpha (is the local update worse, or only different?); each without and
with the whole photo's context kept by the first run (``predict(keep_context=True)``: positions, router
averages and global-attention partners of the whole photo).  ``--scale`` upscales the ~800-px dev photos first, so that a window is a small part of the photo
as it is on a photo of many megapixels (at scale 1 a 448-px context covers most of the photo and is
trivially exact).  Timing (``--timing-mp``): one stroke on the GT04 photo upscaled to that many megapixels.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eval_models import DEV, scaled_dev_photos  # noqa: E402
RADIUS = 24


def stroke(trimap: np.ndarray, gt: np.ndarray, rng: np.random.Generator):
    ys, xs = np.nonzero(trimap == 128)
    k = int(rng.integers(len(ys)))
    cy, cx = int(ys[k]), int(xs[k])
    disc = np.zeros(trimap.shape, np.uint8)
    cv2.circle(disc, (cx, cy), RADIUS, 1, -1)
    edited = trimap.copy()
    edited[(disc == 1) & (trimap == 128) & (gt >= 0.999)] = 255
    h, w = trimap.shape
    region = (max(0, cy - RADIUS), min(h, cy + RADIUS + 1), max(0, cx - RADIUS), min(w, cx + RADIUS + 1))
    return edited, region


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None)
    ap.add_argument("--contexts", type=int, nargs="+", default=[64, 128, 224, 448])
    ap.add_argument("--edits", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--photos", default="GT01-GT10", help="dev photos, e.g. GT01-GT05 (choose the context there) or GT06-GT10")
    ap.add_argument("--scale", type=float, default=1.0,
                    help="upscale the dev photos (cubic) so that a window is a small part of the photo, as on a large one")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--timing-mp", type=float, default=0, help="instead: time one local update on a photo of this size")
    args = ap.parse_args()

    import matteapp
    from matteapp.engine.evaluate import load_alpha
    from matteapp.engine.local import rematte_region
    from matteapp.engine.trimap import load_trimap
    from matteapp.io.images import load_image

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    model = matteapp.load_model(args.model)
    print(model.describe())
    if args.timing_mp:
        photo = load_image(DEV / "image" / "GT04.png")
        trimap = load_trimap(DEV / "trimap1" / "GT04.png", expected_size=photo.size)
        gt = load_alpha(DEV / "alpha" / "GT04.png")
        s = (args.timing_mp * 1e6 / trimap.size) ** 0.5
        size = (round(trimap.shape[1] * s), round(trimap.shape[0] * s))
        image = cv2.resize(photo.rgb, size, interpolation=cv2.INTER_CUBIC)
        trimap = cv2.resize(trimap, size, interpolation=cv2.INTER_NEAREST)
        gt = cv2.resize(gt, size, interpolation=cv2.INTER_LINEAR)
        alpha = (trimap == 255).astype(np.float32)  # stands for the previous full run
        edited, region = stroke(trimap, gt, np.random.default_rng(args.seed))
        rematte_region(model, image, edited, alpha, region)  # warm-up
        for context in args.contexts:
            t0 = time.perf_counter()
            up = rematte_region(model, image, edited, alpha, region, context=context)
            wy0, wy1, wx0, wx1 = up.window
            print(f"{size[0]}×{size[1]} ({args.timing_mp:g} MP), context {context}: window {wx1 - wx0}×{wy1 - wy0}, "
                  f"{time.perf_counter() - t0:.2f} s")
        return

    rng = np.random.default_rng(args.seed)
    errors = {(c, k): [] for c in args.contexts for k in (False, True)}
    shares = {c: [] for c in args.contexts}
    truth_err = {(c, k): [] for c in args.contexts for k in (False, True)}
    effect, full_err = [], []
    for _, image, trimap, gt in scaled_dev_photos(args.photos, args.scale):
        kept = model.predict(image, trimap, keep_context=True)
        before, photo_context = kept.alpha, kept.photo_context
        for _ in range(args.edits):
            edited, (y0, y1, x0, x1) = stroke(trimap, gt, rng)
            full = model.predict(image, edited).alpha
            truth = gt[y0:y1, x0:x1]
            effect.append(np.abs(full - before)[y0:y1, x0:x1].ravel())
            full_err.append(np.abs(full[y0:y1, x0:x1] - truth).ravel())
            for c in args.contexts:
                for with_context in (False, True):
                    up = rematte_region(model, image, edited, before, (y0, y1, x0, x1), context=c,
                                        photo_context=photo_context if with_context else None)
                    local = up.apply(before)[y0:y1, x0:x1]
                    errors[c, with_context].append(np.abs(local - full[y0:y1, x0:x1]).ravel())
                    truth_err[c, with_context].append(np.abs(local - truth).ravel())
                wy0, wy1, wx0, wx1 = up.window
                shares[c].append((wy1 - wy0) * (wx1 - wx0) / trimap.size)
    print(f"photos {args.photos} ×{args.scale:g}, {args.edits} strokes each, seed {args.seed}; in the edited region "
          f"the stroke itself changes the full run's alpha by {np.concatenate(effect).mean():.4f} on average, and the "
          f"full run is {np.concatenate(full_err).mean():.4f} from the true alpha")
    print("| context px | photo context | mean abs dα vs the full run | p99 abs dα | mean abs error vs the true alpha | window / photo |")
    print("|---|---|---|---|---|---|")
    for c in args.contexts:
        for k in (False, True):
            d = np.concatenate(errors[c, k])
            print(f"| {c} | {'yes' if k else 'no'} | {d.mean():.4f} | {np.percentile(d, 99):.4f} | "
                  f"{np.concatenate(truth_err[c, k]).mean():.4f} | {np.mean(shares[c]):.0%} |")

if __name__ == "__main__":
    main()
