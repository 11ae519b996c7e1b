"""Latency and peak memory of MEMatte vs. its un-routed ViTMatte baseline (random weights).

    python tests/benchmarks/bench_model.py --sizes 1024 2048 --precisions fp32 bf16 [--device cuda]

Each configuration runs in a fresh subprocess so that peak memory (RSS on CPU, the CUDA caching
allocator's peak on GPU) belongs to that run alone.  Random routers send about half of the tokens to
global attention; the paper's trained routers send ~25%, which ``cap=25%`` emulates.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time


def _run_one(spec: dict) -> dict:
    import numpy as np
    import torch

    import matteapp

    torch.manual_seed(0)
    size = spec["size"]
    rng = np.random.default_rng(0)
    image = (rng.random((size, size, 3)) * 255).astype(np.uint8)
    yy, xx = np.mgrid[:size, :size]
    r = np.hypot(yy - size / 2, xx - size / 2)
    trimap = np.where(r < size * 0.3, 255, np.where(r < size * 0.4, 128, 0)).astype(np.uint8)
    model = matteapp.load_model(spec["model"], device=spec["device"], precision=spec["precision"])
    tokens = (size // 16 + 2) ** 2
    cap = int(tokens * spec["cap"]) if spec["cap"] else None
    model.predict(image[:256, :256].copy(), trimap[:256, :256].copy())  # warm-up (kernels, allocator)
    if model.device.type == "cuda":
        torch.cuda.synchronize()
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    result = model.predict(image, trimap, max_global_tokens=cap)
    if model.device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        **spec,
        "seconds": seconds,
        "backbone_s": result.timings["backbone"],
        "decoder_s": result.timings["decoder"],
        "routed": None if not result.routing else result.routed_fraction,
        "peak_mb": (result.peak_memory_bytes / 2**20) if result.peak_memory_bytes else max(peak_rss - base_rss, 0) / 1024,
        "memory_kind": "cuda peak" if result.peak_memory_bytes else "RSS growth",
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1024, 2048])
    ap.add_argument("--precisions", nargs="+", default=["fp32", "bf16"])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--models", nargs="+", default=["vitmatte-s", "mematte-s", "mematte-s@0.25"])
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(_run_one(json.loads(args.one))))
        return
    print(f"| model | size | precision | device | routed | total s | backbone s | decoder s | peak MB ({'CUDA' if args.device == 'cuda' else 'RSS growth'}) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for size in args.sizes:
        for precision in args.precisions:
            for name in args.models:
                model, _, cap = name.partition("@")
                spec = {"model": model, "size": size, "precision": precision, "device": args.device, "cap": float(cap) if cap else None}
                out = subprocess.run([sys.executable, __file__, "--one", json.dumps(spec)], capture_output=True, text=True)
                if out.returncode:
                    print(f"| {name} | {size} | {precision} | failed: {out.stderr.strip().splitlines()[-1]} |")
                    continue
                r = json.loads(out.stdout.strip().splitlines()[-1])
                routed = "–" if r["routed"] is None else f"{r['routed']:.0%}"
                print(
                    f"| {name} | {size}² | {precision} | {args.device} | {routed} | {r['seconds']:.2f} | {r['backbone_s']:.2f} | {r['decoder_s']:.2f} | {r['peak_mb']:.0f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
