"""The session's memory model (``estimate_memory_bytes``) against measured peaks.

    python tests/benchmarks/bench_memory.py [--model mematte-s] [--sizes 1024 2048 4096] [--device cpu]

Each run is a fresh subprocess.  On CUDA the measured figure is the caching allocator's peak; on the
CPU it is the growth of the process's peak RSS during ``predict`` (it includes allocator slack, and
the photo / trimap arrays that the estimate also counts).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time


def one(spec: dict) -> dict:
    import numpy as np
    import torch

    import matteapp
    from matteapp.engine.session import estimate_memory_bytes

    torch.manual_seed(0)
    s = spec["size"]
    image = np.random.default_rng(0).integers(0, 255, (s, s, 3), dtype=np.uint8)
    trimap = np.full((s, s), 128, np.uint8)
    model = matteapp.load_model(spec["model"], device=spec["device"], precision=spec["precision"])
    model.predict(image[:128, :128].copy(), trimap[:128, :128].copy())
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    r = model.predict(image, trimap, max_global_tokens=spec["cap"])
    seconds = time.perf_counter() - t0
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024
    measured = r.peak_memory_bytes if r.peak_memory_bytes else grown
    est = estimate_memory_bytes(model.config, s, s, spec["cap"], 512, model.precision)
    # on the CPU the weights were resident before the run; the estimate counts them
    if not r.peak_memory_bytes:
        est -= model.num_parameters * 4
    return {**spec, "precision": model.precision, "measured_mb": measured / 2**20, "estimate_mb": est / 2**20, "seconds": seconds}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="mematte-s")
    ap.add_argument("--sizes", type=int, nargs="+", default=[1024, 2048, 4096])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--cap", type=float, default=0.25, help="cap as a fraction of the tokens (random routers route ~50%%)")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(json.loads(args.one))))
        return
    print("| model | size | precision | cap | estimate MB | measured MB | ratio | time s |")
    print("|---|---|---|---|---|---|---|---|")
    for s in args.sizes:
        cap = int((s // 16) ** 2 * args.cap) if args.cap else None
        spec = {"model": args.model, "size": s, "device": args.device, "precision": args.precision, "cap": cap}
        out = subprocess.run([sys.executable, __file__, "--one", json.dumps(spec)], capture_output=True, text=True)
        if out.returncode:
            print(f"| {args.model} | {s}² | failed: {out.stderr.strip().splitlines()[-1]} |")
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"| {r['model']} | {s}² | {r['precision']} | {cap} | {r['estimate_mb']:.0f} | {r['measured_mb']:.0f} | {r['measured_mb'] / r['estimate_mb']:.2f} | {r['seconds']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
