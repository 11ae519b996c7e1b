"""Latency and peak memory of MEMatte vs. its un-routed ViTMatte baseline (random weights).

    python tests/benchmarks/bench_model.py --sizes 1024 2048 --precisions fp32 bf16 [--device cuda]
    python tests/benchmarks/bench_model.py --decoder-layout [--precisions fp32 bf16] [--repeats 5]

Each configuration runs in a fresh subprocess so that peak memory (RSS on CPU, the CUDA caching
allocator's peak on GPU) belongs to that run alone.  Random routers send about half of the tokens to
global attention; the paper's trained routers send ~25%, which ``cap=25%`` emulates.

``--decoder-layout`` instead times the decoder alone on one tile as the predictor feeds it (512 px
plus 64 px of context on each side, mematte-s features), with its weights and inputs channels-first
(NCHW) and channels-last (NHWC, what the predictor uses), in each precision; the repeats of all
configurations are interleaved and the median is printed.
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


def _decoder_layouts(device: str, precisions: list[str], repeats: int, model: str = "mematte-s", tile: int = 640) -> None:
    import contextlib
    import copy
    import statistics

    import torch

    from matteapp.model import build_model

    torch.manual_seed(0)
    net = build_model(model).eval()
    layouts = {"NCHW": torch.contiguous_format, "NHWC": torch.channels_last}
    decoders = {name: copy.deepcopy(net.decoder).to(device=device, memory_format=fmt) for name, fmt in layouts.items()}
    x = torch.randn(1, 4, tile, tile, device=device)
    features = torch.randn(1, net.config.embed_dim, tile // 16, tile // 16, device=device)
    dtypes = {"bf16": torch.bfloat16, "fp16": torch.float16}

    def run(precision: str, layout: str) -> float:
        fmt = layouts[layout]
        autocast = torch.autocast(torch.device(device).type, dtype=dtypes[precision]) if precision in dtypes else contextlib.nullcontext()
        xi, fi = x.contiguous(memory_format=fmt), features.contiguous(memory_format=fmt)
        t0 = time.perf_counter()
        with torch.no_grad(), autocast:
            decoders[layout](fi, xi)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        return time.perf_counter() - t0

    cases = [(p, layout) for p in precisions for layout in layouts]
    for case in cases:  # warm-up: oneDNN primitives, allocator
        run(*case)
    times = {case: [] for case in cases}
    for _ in range(repeats):
        for case in cases:
            times[case].append(run(*case))
    median = {case: statistics.median(t) for case, t in times.items()}
    base = median.get(("fp32", "NCHW"))
    print(f"decoder of {model} on one {tile}² tile, device {device}, median of {repeats}")
    print("| precision | layout | seconds | speed-up vs fp32 NCHW |")
    print("|---|---|---|---|")
    for (precision, layout), seconds in median.items():
        speedup = f"{base / seconds:.2f}×" if base else "–"
        print(f"| {precision} | {layout} | {seconds:.3f} | {speedup} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1024, 2048])
    ap.add_argument("--precisions", nargs="+", default=["fp32", "bf16"])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--models", nargs="+", default=["vitmatte-s", "mematte-s", "mematte-s@0.25"])
    ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("--decoder-layout", action="store_true", help="time the decoder in NCHW and NHWC instead")
    ap.add_argument("--repeats", type=int, default=5, help="--decoder-layout: runs per configuration")
    args = ap.parse_args()
    if args.decoder_layout:
        _decoder_layouts(args.device, args.precisions, args.repeats)
        return
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
