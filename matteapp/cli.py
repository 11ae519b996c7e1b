"""Command line interface.  Each sub-command is a thin layer over the Qt-free core."""

from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="matteapp",
        description="Cut subjects out of photos with MEMatte, a memory-efficient token-routed matting transformer.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    models = sub.add_parser("models", help="list model presets, or describe a checkpoint")
    models_sub = models.add_subparsers(dest="models_command", metavar="ACTION")
    info = models_sub.add_parser("info", help="print the architecture inferred from a checkpoint")
    info.add_argument("path", help="checkpoint (.pth official MEMatte/ViTMatte, Hugging Face, .safetensors)")
    return parser


def _cmd_models(args) -> int:
    from .model import preset_config, preset_names

    if args.models_command == "info":
        from .checkpoint import CheckpointError, load_network

        try:
            net = load_network(args.path)
        except CheckpointError as exc:
            print(f"matteapp: {exc}", file=sys.stderr)
            return 2
        cfg = net.config
        n = sum(p.numel() for p in net.parameters())
        print(f"{args.path}: {cfg.kind} ({getattr(net, 'source_layout', '?')} layout), {n / 1e6:.2f} M parameters")
        for key, value in cfg.to_dict().items():
            print(f"  {key:20s} {value}")
        return 0
    print("presets (random weights, for benchmarks and tests):")
    for name in preset_names():
        cfg = preset_config(name)
        print(f"  {name:12s} {cfg.kind:8s} D={cfg.embed_dim} heads={cfg.num_heads}")
    return 0


def run(argv: list[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "models":
        return _cmd_models(args)
    parser.print_help()
    return 0
