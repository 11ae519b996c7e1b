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
block at 25 % of the tokens, ``model@4096`` at 4096 tokens.  The exponent k of time ∝ pixels^k is fitted (least squares in log-log)
over the sizes from 4 MP up.  MEMatte and ViTMatte of one size are compared as ratios where both ran
at one photo size (the 4K photo: 8.3 MP), the backbone's own peak as well (the process's peak when the
decoder starts: the decoder is the same network in both).  ``--eager-mp`` sizes run both again with
the N×N score matrix of the official implementations (``attention.MATERIALIZE_SCORES``), the memory
the paper's comparison is about.  Preview latency is request → alpha through ``MattingSession.run`` at the
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
    if spec.get("attention") == "eager":
        from matteapp.model import attention

        attention.MATERIALIZE_SCORES = True
    model, cap = _model(spec["model"], spec["device"], spec["precision"])
    image, trimap = _scene(spec["mp"])
    model.predict(image[:512, :512].copy(), trimap[:512, :512].copy())  # warm-up: kernels, allocator
    _sync(model)
    tokens = (trimap.shape[0] // 16 + 2) * (trimap.shape[1] // 16 + 2)
    maxrss = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # noqa: E731
    base_rss = maxrss()
    stage_peak = {}

    def progress(event):
        # the process's peak when the decoder starts is the backbone's (on CPU)
        if event.stage == "decoder" and "backbone" not in stage_peak:
            stage_peak["backbone"] = maxrss()

    t0 = time.perf_counter()
    limit = None if not cap else int(cap) if cap > 1 else int(tokens * cap)  # @4096: tokens; @0.25: a share
    result = model.predict(image, trimap, max_global_tokens=limit, progress=progress)
    _sync(model)
    seconds = time.perf_counter() - t0
    peak_rss = maxrss()
    return {
        **spec,
        "pixels": int(trimap.size),
        "seconds": seconds,
        "backbone_s": result.timings["backbone"],
        "decoder_s": result.timings["decoder"],
        "decoder_tiles": list(result.decoder_tiles),
        "routed": None if not result.routing else float(result.routed_fraction),
        "peak_mb": (result.peak_memory_bytes / 2**20) if result.peak_memory_bytes else max(peak_rss - base_rss, 0) / 1024,
        "backbone_peak_mb": None if result.peak_memory_bytes else max(stage_peak.get("backbone", peak_rss) - base_rss, 0) / 1024,
        "attention": spec.get("attention", "fused"),
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
    h, w = trimap.shape
    region = (max(0, cy - r), min(h, cy + r + 1), max(0, cx - r), min(w, cx + r + 1))
    full = model.predict(image, trimap, keep_context=model.is_routed)  # the result on screen, as in the app
    rematte_region(model, image, edited, full.alpha, region, photo_context=full.photo_context)  # warm-up
    t0 = time.perf_counter()
    update = rematte_region(model, image, edited, full.alpha, region, photo_context=full.photo_context)
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
        "| model | MP | precision | total s | backbone s | decoder s | decoder share | tiles decoded | routed | peak MB (backbone) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["full"]:
        if "error" in r:
            lines.append(f"| {r['model']} | {r['mp']:g} | {r['precision']} | failed: {r['error']} |||||||")
            continue
        lines.append(_row(r))
    pairs = _pairs(report["full"])
    if pairs:
        lines += ["", "| MEMatte vs ViTMatte | MP | time ratio | peak memory ratio | backbone peak ratio |", "|---|---|---|---|---|"]
        for (m, v) in pairs:
            lines.append(
                f"| {m['model']} / {v['model']} | {m['mp']:g} | {m['seconds'] / v['seconds']:.2f}× | "
                f"{m['peak_mb'] / v['peak_mb']:.2f}× | {_ratio(m.get('backbone_peak_mb'), v.get('backbone_peak_mb'))} |"
            )
    if report.get("eager"):
        lines += ["", "Attention as the official code computes it (the N×N score matrix in memory), same scene:", "",
                  "| model | MP | precision | total s | backbone s | decoder s | decoder share | tiles decoded | routed | peak MB (backbone) |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        lines += [_row(r) if "error" not in r else f"| {r['model']} | {r['mp']:g} | {r['precision']} | failed: {r['error']} |||||||"
                  for r in report["eager"]]
    lines += ["", "| model | precision | k (time ∝ pixels^k, ≥ 4 MP) |", "|---|---|---|"]
    for key, k in report["exponents"].items():
        lines.append(f"| {key.replace('|', ' | ')} | {'–' if k is None else f'{k:.2f}'} |")
    lines += ["", "| latency | model | photo | seconds |", "|---|---|---|---|"]
    for what, key in (("preview (1024 px), request → alpha", "preview"), ("local update after a stroke (engine)", "local")):
        for r in report[key]:
            value = f"{r['seconds']:.2f}" if "seconds" in r else f"failed: {r.get('error')}"
            lines.append(f"| {what} | {r['model']} | {r['mp']:g} MP | {value} |")
    return "\n".join(lines)


def _row(r: dict) -> str:
    routed = "–" if r["routed"] is None else f"{r['routed']:.0%}"
    d, t = r["decoder_tiles"]
    backbone = "" if r.get("backbone_peak_mb") is None else f" ({r['backbone_peak_mb']:.0f})"
    return (
        f"| {r['model']} | {r['mp']:g} | {r['precision']} | {r['seconds']:.2f} | {r['backbone_s']:.2f} | {r['decoder_s']:.2f} | "
        f"{r['decoder_s'] / r['seconds']:.0%} | {d}/{t} | {routed} | {r['peak_mb']:.0f}{backbone} |"
    )


def _ratio(a, b) -> str:
    return "–" if not a or not b else f"{a / b:.2f}×"


def _pairs(rows: list[dict]) -> list[tuple[dict, dict]]:
    """(mematte-X…, vitmatte-X) rows of the same size and precision."""
    ok = [r for r in rows if "error" not in r]
    out = []
    for m in ok:
        base = m["model"].split("@")[0]
        if not base.startswith("mematte-"):
            continue
        peer = base.replace("mematte-", "vitmatte-")
        for v in ok:
            if v["model"] == peer and v["mp"] == m["mp"] and v["precision"] == m["precision"]:
                out.append((m, v))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mp", type=float, nargs="+", default=[1, 4, 8.3, 12, 24, 50])
    ap.add_argument("--models", nargs="+", default=["bundled", "mematte-s@0.25", "vitmatte-s"])
    ap.add_argument("--max-mp", nargs="*", default=["vitmatte-s=8.3", "mematte-s@0.25=24"], metavar="MODEL=MP",
                    help="skip a model above this size (CPU time)")
    ap.add_argument("--eager-mp", type=float, nargs="*", default=[1, 2],
                    help="also run mematte-s@0.25 and vitmatte-s at these sizes with the N×N attention of the official code")
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
        "full": [], "preview": [], "local": [], "exponents": {}, "eager": [],
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
    for mp in args.eager_mp:
        for model in ("mematte-s@0.25", "vitmatte-s"):
            r = _spawn("full", {"model": model, "mp": mp, "precision": args.precisions[0], "device": args.device, "attention": "eager"})
            report["eager"].append(r)
            print(json.dumps(r), flush=True)
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
