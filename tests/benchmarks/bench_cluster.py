"""Photos per minute of ``matteapp batch`` on one machine against ``--cluster ray`` with 1 and 2 workers.

    python tests/benchmarks/bench_cluster.py [--photos 24] [--size 1024x768] [--model PATH|PRESET]
                                             [--workers 1 2] [--device cpu] [--gpus-per-worker G]

Makes ``--photos`` synthetic photos with trimaps in a temporary folder, then runs the real command on
them: once locally (all of this machine's cores in one process), then on a local Ray instance with
each worker count (the machine's CPUs split evenly among the workers, unless --cpus-per-worker).
Every run starts cold (model loading and, for Ray, starting the actors included), as a user's does.

Reported per run, from the wall clock and the manifest's ``finished``/``seconds`` fields:

- wall s: the whole command; start-up s: until the first photo finished, less that photo's time
- photos/min overall (wall clock) and steady (between the first and the last photo finished: what a
  long batch approaches once the start-up is amortized)
- overhead ms/photo: per worker, the time between photos that was not spent inside the per-photo
  pipeline (dispatch, result hand-off, manifest), i.e. workers / steady rate − mean photo seconds.

Print the table and paste it into README.md at ``<!-- cluster-bench -->``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_pipeline import synthetic_photo  # noqa: E402


def make_photos(folder: Path, count: int, width: int, height: int) -> tuple[Path, Path]:
    photos, trimaps = folder / "photos", folder / "trimaps"
    photos.mkdir(parents=True)
    trimaps.mkdir()
    yy, xx = np.ogrid[:height, :width]
    r = np.sqrt(((xx - width / 2) / (width * 0.25)) ** 2 + ((yy - height / 2) / (height * 0.35)) ** 2)
    trimap = np.where(r < 0.9, 255, np.where(r < 1.2, 128, 0)).astype(np.uint8)
    for i in range(count):
        Image.fromarray(synthetic_photo(width, height, seed=i)).save(photos / f"photo{i:04d}.jpg", quality=92)
        Image.fromarray(trimap).save(trimaps / f"photo{i:04d}.png")
    return photos, trimaps


def measure(label: str, argv: list[str], out: Path, workers: int, cpus: float | None) -> dict:
    from matteapp.cli import run

    t0 = time.time()
    code = run(argv)
    wall = time.time() - t0
    if code != 0:
        raise SystemExit(f"{label}: matteapp batch exited with {code}")
    records = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    done = sorted((r for r in records if "photo" in r and r["error"] is None), key=lambda r: r["finished"])
    first, last = done[0], done[-1]
    span = last["finished"] - first["finished"]
    steady = (len(done) - 1) / span * 60 if span > 0 else float("nan")
    # the steady rate leaves the first photo out, so does its mean (the first also pays for warming up)
    mean_seconds = statistics.mean(r["seconds"] for r in done[1:] or done)
    overhead = (workers * 60 / steady - mean_seconds) * 1000 if span > 0 else float("nan")
    return {
        "label": label,
        "workers": workers,
        "cpus": cpus,
        "photos": len(done),
        "wall": wall,
        "startup": first["finished"] - t0 - first["seconds"],
        "overall": len(done) / wall * 60,
        "steady": steady,
        "photo_s": mean_seconds,
        "overhead_ms": overhead,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", type=int, default=24)
    ap.add_argument("--size", default="1024x768", help="WxH of the synthetic photos")
    ap.add_argument("--model", help="checkpoint or preset (default: the default model)")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--cpus", type=int, default=os.cpu_count(), help="CPUs given to Ray (default: all)")
    ap.add_argument("--cpus-per-worker", type=float, help="default: --cpus split evenly among the workers")
    ap.add_argument("--gpus-per-worker", type=float)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--precision", default="auto")
    args = ap.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))

    import ray

    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_cluster_") as tmp:
        root = Path(tmp)
        photos, trimaps = make_photos(root, args.photos, width, height)
        common = ["--trimaps", str(trimaps), "--device", args.device, "--precision", args.precision]
        if args.model:
            common += ["--model", args.model]
        out = root / "local"
        rows.append(measure("local batch", ["batch", str(photos), "-o", str(out), *common], out, 1, None))
        ray.init(num_cpus=args.cpus, include_dashboard=False, logging_level="ERROR")
        try:
            for n in args.workers:
                cpus = args.cpus_per_worker or max(1.0, float(args.cpus // n))
                out = root / f"ray{n}"
                pool = ["--cluster", "ray", "--workers", str(n), "--cpus-per-worker", f"{cpus:g}"]
                if args.gpus_per_worker is not None:
                    pool += ["--gpus-per-worker", f"{args.gpus_per_worker:g}"]
                rows.append(measure(f"--cluster ray, {n} worker{'s' if n > 1 else ''}", ["batch", str(photos), "-o", str(out), *common, *pool], out, n, cpus))
        finally:
            ray.shutdown()

    print(f"\n{args.photos} photos of {width}×{height}, model {args.model or '(default)'}, device {args.device}, "
          f"{args.cpus} CPUs, {os.cpu_count()} on the machine")
    print("| run | CPUs/worker | wall s | start-up s | photos/min overall | photos/min steady | s/photo in worker | overhead ms/photo |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        cpus = "all" if r["cpus"] is None else f"{r['cpus']:g}"
        print(f"| {r['label']} | {cpus} | {r['wall']:.1f} | {r['startup']:.1f} | {r['overall']:.1f} | {r['steady']:.1f} "
              f"| {r['photo_s']:.2f} | {r['overhead_ms']:.0f} |")


if __name__ == "__main__":
    main()
