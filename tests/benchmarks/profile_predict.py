"""Where the time of one full-resolution ``predict`` goes: per stage, per block kind, per operator.

    python tests/benchmarks/profile_predict.py [--mp 24] [--model bundled|PRESET|PATH] [--cap 0.25] [--ops 15]

The scene is the speed suite's (``bench_suite.py``: dev photo GT04 upscaled, thin 1 %-of-diagonal band).
Module timings come from forward hooks (wall clock between a module's start and end, so nested parts
add up to their parent); ``--ops`` prints torch.profiler's table of the costliest operators as well
(the profiler itself slows the run by a few per cent).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_suite import _model, _scene  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mp", type=float, default=24)
    ap.add_argument("--model", default="bundled")
    ap.add_argument("--cap", type=float, default=None, help="max share of tokens per routed block")
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--ops", type=int, default=0, help="also print the N costliest operators")
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    model, _ = _model(args.model, "cpu", args.precision)
    image, trimap = _scene(args.mp)
    model.predict(image[:512, :512].copy(), trimap[:512, :512].copy())

    times: dict[str, float] = defaultdict(float)
    starts: dict[int, float] = {}

    def hook(name):
        def pre(module, inputs):
            starts[id(module)] = time.perf_counter()

        def post(module, inputs, output):
            times[name] += time.perf_counter() - starts.pop(id(module), time.perf_counter())

        return pre, post

    net = model.network
    handles = []
    for i, blk in enumerate(net.backbone.blocks):
        kind = "routed" if blk.routed else ("global" if blk.window_size == 0 else "window")
        for method in ("forward_grid", "forward_tokens"):  # called directly, not through __call__: no hooks
            original = getattr(blk.attn, method)

            def timed(*a, _original=original, _name=f"{kind} block · attention", **k):
                t = time.perf_counter()
                try:
                    return _original(*a, **k)
                finally:
                    times[_name] += time.perf_counter() - t

            setattr(blk.attn, method, timed)
        parts = {"mlp": blk.mlp, "norm1": blk.norm1, "norm2": blk.norm2}
        if blk.efficient_block is not None:
            parts["ltrm"] = blk.efficient_block
        if blk.residual is not None:
            parts["residual"] = blk.residual
        for part, module in parts.items():
            pre, post = hook(f"{kind} block · {part}")
            handles += [module.register_forward_pre_hook(pre), module.register_forward_hook(post)]
    from matteapp.model import vit

    plain_attend = vit.attend

    def routed_attend(*a, **k):  # the routed blocks' global attention calls attend() itself
        t = time.perf_counter()
        try:
            return plain_attend(*a, **k)
        finally:
            times["routed block · global attention"] += time.perf_counter() - t

    vit.attend = routed_attend
    for j, router in enumerate(net.backbone.routers):
        pre, post = hook("router")
        handles += [router.register_forward_pre_hook(pre), router.register_forward_hook(post)]
    pre, post = hook("patch embed")
    handles += [net.backbone.patch_embed.register_forward_pre_hook(pre), net.backbone.patch_embed.register_forward_hook(post)]

    tokens = (trimap.shape[0] // 16 + 2) * (trimap.shape[1] // 16 + 2)
    cap = int(tokens * args.cap) if args.cap else None
    prof = None
    if args.ops:
        from torch.profiler import ProfilerActivity, profile

        prof = profile(activities=[ProfilerActivity.CPU])
        prof.__enter__()
    t0 = time.perf_counter()
    result = model.predict(image, trimap, max_global_tokens=cap)
    total = time.perf_counter() - t0
    if prof is not None:
        prof.__exit__(None, None, None)
    for h in handles:
        h.remove()

    h, w = trimap.shape
    print(f"{model.describe()}; {w}×{h} ({h * w / 1e6:.1f} MP), {torch.get_num_threads()} threads, "
          f"routed {result.routed_fraction:.1%}; decoder tiles {result.decoder_tiles[0]}/{result.decoder_tiles[1]}")
    print(f"total {total:.2f} s: " + ", ".join(f"{k} {v:.2f} s" for k, v in result.timings.items()))
    print("| part | seconds | share of total |")
    print("|---|---|---|")
    for name, sec in sorted(times.items(), key=lambda kv: -kv[1]):
        print(f"| {name} | {sec:.2f} | {sec / total:.0%} |")
    if prof is not None:
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.ops))


if __name__ == "__main__":
    main()
