"""Scores of the bundled MEMatte, its ViTMatte teacher and closed-form matting — the model card's table.

    python tests/benchmarks/eval_models.py --student matteapp/resources/models/mematte-d192.safetensors \\
        --teacher runs/teacher-d192/last.pt [--synthetic 50] [--skip-closed-form]
    python tests/benchmarks/eval_models.py --student matteapp/resources/models/mematte-d192.safetensors \\
        --photos GT06-GT10 --dilate 0 50 100 --synthetic 0      # issue 9's validation

``--photos`` picks dev photos (GT06–GT10 are the validation photos: never train on them); ``--dilate R``
adds runs whose trimaps have their unknown region dilated by R px (elliptic), as a designer paints
"unknown" generously over hair.

Real photos: ../shared/data/alphamatting-dev, both trimaps (evaluation only).  Synthetic: the fixed
held-out set of the generator (seed 12345, never used in training).  Prints SAD / MSE / Grad / Conn,
the routed fraction and the time per photo, and the speed-up of the routed student over its teacher.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
DEV = ROOT.parent / "shared" / "data" / "alphamatting-dev"


def _synthetic(n: int, crop: int):
    from matteapp.training.data import held_out_test_set

    out = []
    for i, s in enumerate(held_out_test_set(n=n, crop=crop)):
        image = (s["image"].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        trimap = np.select([s["trimap"][0].numpy() < 0.25, s["trimap"][0].numpy() > 0.75], [0, 255], 128).astype(np.uint8)
        out.append((f"syn{i:03d}", image, trimap, s["alpha"][0].numpy()))
    return out


def _photo_range(spec: str) -> set[str]:
    """"GT06-GT10" or "GT01,GT03" → the photo stems."""
    names = set()
    for part in spec.split(","):
        if "-" in part:
            a, b = part.split("-")
            names |= {f"GT{i:02d}" for i in range(int(a[2:]), int(b[2:]) + 1)}
        elif part:
            names.add(part)
    return names


def dilate_unknown(trimap: np.ndarray, radius: int) -> np.ndarray:
    import cv2

    if radius <= 0:
        return trimap
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    out = trimap.copy()
    out[cv2.dilate((trimap == 128).astype(np.uint8), kernel) == 1] = 128
    return out


def _dev(photos: set[str] | None = None, dilate: int = 0):
    from matteapp.engine.evaluate import load_alpha
    from matteapp.engine.trimap import load_trimap
    from matteapp.io.images import load_image

    out = []
    for p in sorted((DEV / "image").glob("*.png")):
        if photos and p.stem not in photos:
            continue
        photo = load_image(p)
        gt = load_alpha(DEV / "alpha" / p.name)
        for t in ("trimap1", "trimap2"):
            trimap = dilate_unknown(load_trimap(DEV / t / p.name, expected_size=photo.size), dilate)
            out.append((f"{p.stem}/{t}", photo.rgb, trimap, gt))
    return out


def scaled_dev_photos(spec: str, scale: float = 1.0):
    """(stem, image, trimap1, true alpha) of the dev photos ``spec`` names ("GT01-GT05"), in order,
    upscaled ``scale``× (photo cubic, trimap nearest, alpha linear) so that their token counts approach
    those of large photos."""
    import cv2

    from matteapp.engine.evaluate import load_alpha
    from matteapp.engine.trimap import load_trimap
    from matteapp.io.images import load_image

    for stem in sorted(_photo_range(spec)):
        photo = load_image(DEV / "image" / f"{stem}.png")
        image, trimap = photo.rgb, load_trimap(DEV / "trimap1" / f"{stem}.png", expected_size=photo.size)
        gt = load_alpha(DEV / "alpha" / f"{stem}.png")
        if scale != 1:
            size = (round(trimap.shape[1] * scale), round(trimap.shape[0] * scale))
            image = cv2.resize(image, size, interpolation=cv2.INTER_CUBIC)
            trimap = cv2.resize(trimap, size, interpolation=cv2.INTER_NEAREST)
            gt = cv2.resize(gt, size, interpolation=cv2.INTER_LINEAR)
        yield stem, image, trimap, gt


def _score(name, run, samples):
    from matteapp.engine.metrics import evaluate_alpha

    rows, routed, per_block, seconds = [], [], [], 0.0
    for _, image, trimap, gt in samples:
        t0 = time.perf_counter()
        result = run(image, trimap)
        seconds += time.perf_counter() - t0
        rows.append(evaluate_alpha(result.alpha, gt, trimap))
        if result.routing:
            routed.append(result.routed_fraction)
            per_block.append([float(m.mean()) for m in result.routing])
    mean = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
    r = f"{np.mean(routed):.1%}" if routed else "–"
    if per_block:
        r += " (" + " / ".join(f"{v:.0%}" for v in np.mean(per_block, axis=0)) + ")"
    print(f"| {name} | {mean['sad']:.3f} | {mean['mse'] * 1e3:.2f} | {mean['grad']:.3f} | {mean['conn']:.3f} | {r} | {seconds / len(samples):.2f} |", flush=True)
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--student", required=True)
    ap.add_argument("--teacher")
    ap.add_argument("--synthetic", type=int, default=50)
    ap.add_argument("--crop", type=int, default=512)
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--skip-closed-form", action="store_true")
    ap.add_argument("--closed-form-only", action="store_true", help="score only closed-form matting")
    ap.add_argument("--skip-dev", action="store_true", help="only the synthetic held-out set")
    ap.add_argument("--photos", help="dev photos to score, e.g. GT06-GT10 (default: all ten)")
    ap.add_argument("--dilate", type=int, nargs="+", default=[0], metavar="PX",
                    help="also score with the unknown region dilated by PX (default: 0 only)")
    args = ap.parse_args()

    from matteapp.engine.session import MattingSession
    from matteapp.model.predictor import MattePredictor
    from matteapp.training.trainer import load_run_network

    engines = {} if args.closed_form_only else {"MEMatte (bundled)": MattePredictor(load_run_network(args.student), "cpu", args.precision)}
    if args.teacher and not args.closed_form_only:
        engines["ViTMatte teacher"] = MattePredictor(load_run_network(args.teacher), "cpu", args.precision)
    photos = _photo_range(args.photos) if args.photos else None
    label = args.photos or "GT01-GT10"
    sets = []
    if not args.skip_dev:
        for radius in args.dilate:
            title = f"alphamatting-dev {label}, both trimaps" + (f", unknown dilated by {radius} px" if radius else "")
            sets.append((title, lambda radius=radius: _dev(photos, radius)))
    if args.synthetic:
        sets.append((f"synthetic held-out ({args.synthetic})", lambda: _synthetic(args.synthetic, args.crop)))
    for title, make in sets:
        samples = make()
        print(f"\n{title}\n")
        print("| engine | SAD | MSE×1e3 | Grad | Conn | routed (per block) | s / image |")
        print("|---|---|---|---|---|---|---|")
        times = {}
        for name, model in engines.items():
            model.predict(samples[0][1][:64, :64].copy(), samples[0][2][:64, :64].copy())
            times[name] = _score(name, model.predict, samples)
        if not args.skip_closed_form:
            session = MattingSession()
            _score("closed-form", lambda im, tr: session.run(im, tr, engine="closed-form"), samples)
        if len(times) == 2:
            s, t = times.values()
            print(f"\nrouted student vs. teacher on the same images: {t / s:.2f}× faster")


if __name__ == "__main__":
    main()
