"""Scores of the bundled MEMatte, its ViTMatte teacher and closed-form matting — the model card's table.

    python tests/benchmarks/eval_models.py --student resources/models/mematte-d192.safetensors \\
        --teacher runs/teacher-d192/last.pt [--synthetic 50] [--skip-closed-form]

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


def _dev():
    from matteapp.evaluate import load_alpha
    from matteapp.imageio import load_image
    from matteapp.trimap import load_trimap

    out = []
    for p in sorted((DEV / "image").glob("*.png")):
        photo = load_image(p)
        gt = load_alpha(DEV / "alpha" / p.name)
        for t in ("trimap1", "trimap2"):
            out.append((f"{p.stem}/{t}", photo.rgb, load_trimap(DEV / t / p.name, expected_size=photo.size), gt))
    return out


def _score(name, run, samples):
    from matteapp.metrics import evaluate_alpha

    rows, routed, seconds = [], [], 0.0
    for _, image, trimap, gt in samples:
        t0 = time.perf_counter()
        result = run(image, trimap)
        seconds += time.perf_counter() - t0
        rows.append(evaluate_alpha(result.alpha, gt, trimap))
        if result.routing:
            routed.append(result.routed_fraction)
    mean = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
    r = f"{np.mean(routed):.1%}" if routed else "–"
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
    args = ap.parse_args()

    from matteapp.predictor import MattePredictor
    from matteapp.session import MattingSession
    from matteapp.training.trainer import load_run_network

    engines = {} if args.closed_form_only else {"MEMatte (bundled)": MattePredictor(load_run_network(args.student), "cpu", args.precision)}
    if args.teacher and not args.closed_form_only:
        engines["ViTMatte teacher"] = MattePredictor(load_run_network(args.teacher), "cpu", args.precision)
    sets = [] if args.skip_dev else [("alphamatting-dev (10 photos × 2 trimaps)", _dev)]
    sets.append((f"synthetic held-out ({args.synthetic})", lambda: _synthetic(args.synthetic, args.crop)))
    for title, make in sets:
        samples = make()
        print(f"\n{title}\n")
        print("| engine | SAD | MSE×1e3 | Grad | Conn | routed | s / image |")
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
