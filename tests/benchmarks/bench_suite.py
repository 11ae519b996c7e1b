"""The speed suite: full-resolution matting by photo size, preview latency, local-update latency.

    python tests/benchmarks/bench_suite.py                                  # CPU, the default set
    python tests/benchmarks/bench_suite.py --mp 1 4 12 24 50 --models bundled mematte-s@0.25 vitmatte-s \\
        --max-mp vitmatte-s=12 --json bench.json --readme README.md
    python tests/benchmarks/bench_suite.py --device cuda --precisions fp16 bf16 --mp 8.3 33 24 \\
        --models mematte-s mematte-b vitmatte-s vitmatte-b                 # the GPU cases

Every full-resolution case runs in a fresh process (peak memory = growth of the process's peak RSS
during ``predict`` on CPU, ``torch.cuda.max_memory_allocated`` on CUDA).  The photo is the dev photo
GT04 upscaled to the size, with a realistic thin band: the ground-truth subject's outline banded to
1 % of the diagonal (``trimap_from_mask``, the app's default width).  ``model@0.25`` caps every routed
block at 25 % of the tokens.  The exponent k of time ∝ pixels^k is fitted (least squares in log-log)
over the sizes from 4 MP up.  Preview latency is request → alpha through ``MattingSession.run`` at the
1024-px preview; the local update is :func:`matteapp.engine.local.rematte_region` after one brush
stroke on the largest size ≤ 24 MP.  ``--json`` writes every figure; ``--readme`` replaces the block
between ``<!-- bench-suite -->`` markers with the tables.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEV = ROOT.parent / "shared" / "data" / "alphamatting-dev"
MARK = "<!-- bench-suite -->"


def _scene(mp: float):
    import cv2
    import numpy as np

    from matteapp.engine.evaluate import load_alpha
    from matteapp.engine.trimap import trimap_from_mask
    from matteapp.io.images import load_image

    photo = load_image(DEV / "image" / "GT04.png")
    gt = load_alpha(DEV / "alpha" / "GT04.png")
    h, w = gt.shape
    s = math.sqrt(mp * 1e6 / (h * w))
    size = (round(w * s), round(h * s))
    image = cv2.resize(photo.rgb, size, interpolation=cv2.INTER_CUBIC)
    mask = cv2.resize((gt > 0.5).astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
    return image, trimap_from_mask(mask)


def _model(name: str, device: str, precision: str):
    import torch

    import matteapp

    torch.manual_seed(0)
    base, _, cap = name.partition("@")
    model = matteapp.load_model(None if base == "bundled" else base, device=device, precision=precision)
    return model, float(cap) if cap else None


def _sync(model) -> None:
    import torch

    if model.device.type == "cuda":
        torch.cuda.synchronize()


def run_full(spec: dict) -> dict:
    model, cap = _model(spec["model"], spec["device"], spec["precision"])
    image, trimap = _scene(spec["mp"])
    model.predict(image[:512, :512].copy(), trimap[:512, :512].copy())  # warm-up: kernels, allocator
    _sync(model)
    tokens = (trimap.shape[0] // 16 + 2) * (trimap.shape[1] // 16 + 2)
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    result = model.predict(image, trimap, max_global_tokens=int(tokens * cap) if cap else None)
    _sync(model)
    seconds = time.perf_counter() - t0
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        **spec,
        "pixels": int(trimap.size),
        "seconds": seconds,
        "backbone_s": result.timings["backbone"],
        "decoder_s": result.timings["decoder"],
        "decoder_tiles": list(result.decoder_tiles),
        "routed": None if not result.routing else float(result.routed_fraction),
        "peak_mb": (result.peak_memory_bytes / 2**20) if result.peak_memory_bytes else max(peak_rss - base_rss, 0) / 1024,
        "memory_kind": "cuda max_memory_allocated" if result.peak_memory_bytes else "RSS growth",
    }


def run_preview(spec: dict) -> dict:
    from matteapp.engine.session import MattingSession

    model, _ = _model(spec["model"], spec["device"], spec["precision"])
    session = MattingSession(predictor=model)
    image, trimap = _scene(spec["mp"])
    session.run(image, trimap, preview=True)  # warm-up
    t0 = time.perf_counter()
    session.run(image, trimap, preview=True)
    return {**spec, "seconds": time.perf_counter() - t0}


def run_local(spec: dict) -> dict:
    import cv2
    import numpy as np

    from matteapp.engine.local import rematte_region

    model, _ = _model(spec["model"], spec["device"], spec["precision"])
    image, trimap = _scene(spec["mp"])
    ys, xs = np.nonzero(trimap == 128)
    k = len(ys) // 3
    cy, cx, r = int(ys[k]), int(xs[k]), 40
    edited = trimap.copy()
    cv2.circle(edited, (cx, cy), r, 128, -1)  # a "refine edge" dab
    alpha = (trimap == 255).astype(np.float32)  # stands for the previous full run
    region = (max(0, cy - r), cy + r + 1, max(0, cx - r), cx + r + 1)
    rematte_region(model, image, edited, alpha, region)  # warm-up
    t0 = time.perf_counter()
    update = rematte_region(model, image, edited, alpha, region)
    return {**spec, "seconds": time.perf_counter() - t0, "window": list(update.window)}


RUNNERS = {"full": run_full, "preview": run_preview, "local": run_local}


def _spawn(kind: str, spec: dict) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--one", json.dumps({"kind": kind, **spec})], capture_output=True, text=True
    )
    if out.returncode:
        lines = (out.stderr or out.stdout).strip().splitlines()
        return {"kind": kind, **spec, "error": lines[-1] if lines else f"exit {out.returncode}"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def fit_exponent(rows: list[dict], min_mp: float = 4.0) -> float | None:
    pts = [(math.log(r["pixels"]), math.log(r["seconds"])) for r in rows if "error" not in r and r["mp"] >= min_mp]
    if len(pts) < 2:
        return None
    mx = sum(p[0] for p in pts) / len(pts)
    my = sum(p[1] for p in pts) / len(pts)
    return sum((x - mx) * (y - my) for x, y in pts) / sum((x - mx) ** 2 for x, _ in pts)


def tables(report: dict) -> str:
    lines = [
        f"CPU/GPU: {report['machine']}; device {report['device']}; command: `{report['command']}`",
        "",
        "| model | MP | precision | total s | backbone s | decoder s | decoder share | tiles decoded | routed | peak MB |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["full"]:
        if "error" in r:
            lines.append(f"| {r['model']} | {r['mp']:g} | {r['precision']} | failed: {r['error']} |||||||")
            continue
        routed = "–" if r["routed"] is None else f"{r['routed']:.0%}"
        d, t = r["decoder_tiles"]
        lines.append(
            f"| {r['model']} | {r['mp']:g} | {r['precision']} | {r['seconds']:.2f} | {r['backbone_s']:.2f} | {r['decoder_s']:.2f} | "
            f"{r['decoder_s'] / r['seconds']:.0%} | {d}/{t} | {routed} | {r['peak_mb']:.0f} |"
        )
    lines += ["", "| model | precision | k (time ∝ pixels^k, ≥ 4 MP) |", "|---|---|---|"]
    for key, k in report["exponents"].items():
        lines.append(f"| {key.replace('|', ' | ')} | {'–' if k is None else f'{k:.2f}'} |")
    lines += ["", "| latency | model | photo | seconds |", "|---|---|---|---|"]
    for r in report["preview"]:
        lines.append(f"| preview (1024 px), request → alpha | {r['model']} | {r['mp']:g} MP | {r.get('seconds', float('nan')):.2f} |")
    for r in report["local"]:
        lines.append(f"| local update after a stroke | {r['model']} | {r['mp']:g} MP | {r.get('seconds', float('nan')):.2f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mp", type=float, nargs="+", default=[1, 4, 12, 24])
    ap.add_argument("--models", nargs="+", default=["bundled", "mematte-s@0.25", "vitmatte-s"])
    ap.add_argument("--max-mp", nargs="*", default=["vitmatte-s=12", "mematte-s@0.25=24"], metavar="MODEL=MP",
                    help="skip a model above this size (CPU time)")
    ap.add_argument("--precisions", nargs="+", default=["auto"])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--json", help="write every figure here")
    ap.add_argument("--readme", help="replace the block between <!-- bench-suite --> markers in this file")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        spec = json.loads(args.one)
        print(json.dumps(RUNNERS[spec.pop("kind")](spec)))
        return

    limits = {k: float(v) for k, v in (item.split("=") for item in args.max_mp)}
    report = {
        "machine": f"{platform.processor() or platform.machine()} ({_cpu_flags()})",
        "device": args.device,
        "command": "python tests/benchmarks/bench_suite.py " + " ".join(sys.argv[1:]),
        "full": [], "preview": [], "local": [], "exponents": {},
    }
    for precision in args.precisions:
        for model in args.models:
            rows = []
            for mp in args.mp:
                if mp > limits.get(model, math.inf):
                    continue
                r = _spawn("full", {"model": model, "mp": mp, "precision": precision, "device": args.device})
                rows.append(r)
                print(json.dumps(r), flush=True)
            report["full"] += rows
            report["exponents"][f"{model}|{precision}"] = fit_exponent(rows)
    local_mp = max([m for m in args.mp if m <= 24] or [min(args.mp)])
    for precision in args.precisions:
        r = _spawn("preview", {"model": "bundled", "mp": local_mp, "precision": precision, "device": args.device})
        report["preview"].append(r)
        print(json.dumps(r), flush=True)
        r = _spawn("local", {"model": "bundled", "mp": local_mp, "precision": precision, "device": args.device})
        report["local"].append(r)
        print(json.dumps(r), flush=True)
    text = tables(report)
    print("\n" + text)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    if args.readme:
        path = Path(args.readme)
        doc = path.read_text()
        if doc.count(MARK) != 2:
            raise SystemExit(f"{path} needs two {MARK} lines around the block to replace")
        head, _, rest = doc.partition(MARK)
        _, _, tail = rest.partition(MARK)
        path.write_text(f"{head}{MARK}\n{text}\n{MARK}{tail}")


def _cpu_flags() -> str:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown CPU flags"
    have = [f for f in ("amx_bf16", "avx512_bf16", "avx512f", "avx2") if f" {f}" in flags]
    return ", ".join(have) or "no AVX2"


if __name__ == "__main__":
    main()
