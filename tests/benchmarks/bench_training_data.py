"""How long one training sample takes to make: the synthetic generator, and the two datasets built on it.

    python tests/benchmarks/bench_training_data.py [--crop 512] [--samples 20]

A DataLoader worker must make a batch faster than a training step consumes it; these per-sample
times (one core) size ``--workers``.  The photo dataset uses GT01 of ../shared/data/alphamatting-dev
when that folder is there.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

DEV = Path(__file__).resolve().parents[3] / "shared" / "data" / "alphamatting-dev"


def _timed(make, n: int) -> np.ndarray:
    make(-1)  # warm-up: texture pools, caches
    times = []
    for i in range(n):
        t0 = time.perf_counter()
        make(i)
        times.append(time.perf_counter() - t0)
    return np.array(times) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--crop", type=int, default=512)
    ap.add_argument("--samples", type=int, default=20)
    args = ap.parse_args()

    from matteapp.training.data import PhotoMattingDataset, SyntheticMattingDataset
    from matteapp.training.synthetic import generate_sample

    rows = {
        f"generate_sample({args.crop})": lambda i: generate_sample(np.random.default_rng([77, i + 1]), args.crop),
        "SyntheticMattingDataset item": SyntheticMattingDataset(10**6, crop=args.crop).__getitem__,
    }
    if (DEV / "image" / "GT01.png").exists():
        photos = PhotoMattingDataset([(DEV / "image" / "GT01.png", DEV / "alpha" / "GT01.png")], crop=args.crop)
        rows["PhotoMattingDataset item (GT01)"] = photos.__getitem__
    else:
        print(f"({DEV} is absent: no photo dataset timing)")
    print(f"| sample ({args.crop} px, {args.samples} each) | mean ms | median ms | max ms |")
    print("|---|---|---|---|")
    for name, make in rows.items():
        ms = _timed(make, args.samples)
        print(f"| {name} | {ms.mean():.1f} | {np.median(ms):.1f} | {ms.max():.1f} |", flush=True)


if __name__ == "__main__":
    main()
