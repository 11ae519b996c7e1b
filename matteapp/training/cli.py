"""`matteapp train …`: the training pipeline on the command line."""

from __future__ import annotations

import argparse
import dataclasses
import sys

from matteapp.training.trainer import TrainConfig


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in text.split(","))


def add_train_parser(sub) -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    d = TrainConfig()
    p = sub.add_parser(
        "train",
        help="train a ViTMatte teacher and a MEMatte student",
        formatter_class=fmt,
        description="Train with MEMatte's recipe: first a full-attention ViTMatte teacher, then the MEMatte student\n"
        "(Gumbel-softmax hard routing, distillation from the teacher, BATR ratio loss). Runs resume from\n"
        "OUT/last.pt; progress is logged to OUT/log.csv.",
        epilog="examples:\n"
        "  matteapp train teacher --out runs/teacher --steps 3000\n"
        "  matteapp train student --teacher runs/teacher/last.pt --out runs/student --steps 1500\n"
        "  matteapp train teacher --data composition1k --fg-dir Adobe/fg --alpha-dir Adobe/alpha --bg-dir coco --out runs/c1k\n"
        "  matteapp train export runs/student matteapp/resources/models/mematte.safetensors",
    )
    p.set_defaults(handler=_cmd_train)
    p.add_argument("stage", choices=("teacher", "student", "export", "calibrate"), help="what to do")
    p.add_argument("run", nargs="?", help="export / calibrate: the run folder (or last.pt, or weights)")
    p.add_argument("dest", nargs="?", help="export / calibrate: the .safetensors file to write")
    p.add_argument("--out", help="run folder (checkpoints, log.csv); default runs/<stage>")
    g = p.add_argument_group("model")
    g.add_argument("--embed-dim", type=int, default=d.embed_dim, help="ViT width (default %(default)s)")
    g.add_argument("--num-heads", type=int, default=d.num_heads, help="attention heads (default %(default)s)")
    g.add_argument("--convstream-widths", type=_ints, default=d.convstream_widths, metavar="A,B,C", help="decoder conv stream (default 32,64,96)")
    g.add_argument("--fusion-widths", type=_ints, default=d.fusion_widths, metavar="A,B,C,D", help="decoder fusion stages (default 128,64,32,16)")
    g.add_argument("--teacher", help="student: the trained ViTMatte teacher (run last.pt or weights)")
    g.add_argument("--init", help="teacher: timm ViT weights to start the backbone from (e.g. DINO ViT-S/16)")
    o = p.add_argument_group("optimization")
    o.add_argument("--steps", type=int, default=d.steps, help="total steps (default %(default)s)")
    o.add_argument("--batch-size", type=int, default=d.batch_size, help="default %(default)s")
    o.add_argument("--crop", type=int, default=d.crop, help="training crop in px, multiple of 32 (default %(default)s)")
    o.add_argument("--lr", type=float, default=d.lr, help="peak learning rate (default %(default)s)")
    o.add_argument("--weight-decay", type=float, default=d.weight_decay, help="default %(default)s")
    o.add_argument("--warmup", type=int, default=d.warmup, help="warm-up steps (default %(default)s)")
    o.add_argument("--seed", type=int, default=d.seed, help="default %(default)s")
    o.add_argument("--no-bf16", dest="bf16", action="store_false", help="train in fp32 (bf16 autocast is the default)")
    o.add_argument("--threads", type=int, help="torch threads (default: all cores)")
    o.add_argument("--workers", type=int, default=d.workers, help="data-loading processes (default %(default)s)")
    r = p.add_argument_group("MEMatte student")
    r.add_argument("--target-ratio", type=float, default=d.target_ratio, help="BATR target fraction of routed tokens (default %(default)s)")
    r.add_argument("--distill-weight", type=float, default=d.distill_weight, help="default %(default)s")
    r.add_argument("--ratio-weight", type=float, default=d.ratio_weight, help="default %(default)s")
    r.add_argument("--gumbel-anneal", type=float, default=d.gumbel_anneal, metavar="SHARE",
                   help="let the Gumbel noise fall to 0 over this share of the steps, so training decides as inference does (default %(default)s: never)")
    g.add_argument("--init-weights", help="start from these weights (a run's last.pt or a .safetensors/.pth of the same size): warm start")
    r.add_argument("--gumbel-tau", type=float, default=d.gumbel_tau, help="default %(default)s")
    s = p.add_argument_group("data")
    s.add_argument("--data", choices=("synthetic", "composition1k", "photos"), default=d.data, help="default %(default)s")
    s.add_argument("--fg-dir", help="composition1k: foreground folder; photos: folder of the photos")
    s.add_argument("--alpha-dir", help="composition1k / photos: alpha folder (same names as the foregrounds / photos)")
    s.add_argument("--photos", type=lambda t: tuple(v for v in t.split(",") if v), metavar="NAME,NAME",
                   help="photos: the photo names (stems) to train on; name each, so validation photos in the same folder stay out")
    s.add_argument("--trimap-dir", action="append", default=[],
                   help="calibrate: a folder of trimaps for the --photos in --fg-dir (repeatable)")
    s.add_argument("--synthetic-share", type=float, default=d.synthetic_share, help="photos: share of synthetic samples (default %(default)s)")
    s.add_argument("--bg-dir", help="composition1k: background photos")
    l = p.add_argument_group("logging")
    l.add_argument("--checkpoint-every", type=int, default=d.checkpoint_every, help="default %(default)s")
    l.add_argument("--log-every", type=int, default=d.log_every, help="default %(default)s")
    p.add_argument("--force", action="store_true", help="export: overwrite")
    p.add_argument("--fp32", action="store_true", help="export: keep fp32 weights (default: fp16, half the size)")


def _cmd_train(args) -> int:
    from tqdm import tqdm

    from matteapp.training.trainer import export_run, train

    if args.stage == "calibrate":
        return _cmd_calibrate(args)
    if args.stage == "export":
        if not (args.run and args.dest):
            print("matteapp: train export needs RUN and DEST", file=sys.stderr)
            return 2
        try:
            path = export_run(args.run, args.dest, force=args.force, half=not args.fp32)
        except FileExistsError as exc:
            print(f"matteapp: {exc}", file=sys.stderr)
            return 3
        print(path)
        return 0
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    values = {k: v for k, v in vars(args).items() if k in fields and v is not None}
    values["stage"] = args.stage
    values["out"] = args.out or f"runs/{args.stage}"
    cfg = TrainConfig(**values)
    bar = tqdm(total=cfg.steps, desc=f"train {cfg.stage}", file=sys.stderr, dynamic_ncols=True)

    def progress(row: dict) -> None:
        bar.n = row["step"]
        post = {"loss": f"{row['loss']:.4f}"}
        if "routed" in row and "routed_0" in row:
            post["routed"] = "/".join(f"{row[k]:.0%}" for k in sorted(row) if k.startswith("routed_"))
        elif "routed" in row:
            post["routed"] = f"{row['routed']:.0%}"
        bar.set_postfix(post, refresh=True)

    try:
        last = train(cfg, progress=progress)
    except ValueError as exc:
        print(f"matteapp: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nmatteapp: interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    finally:
        bar.close()
    print(f"{last} (step {cfg.steps})")
    return 0


def _cmd_calibrate(args) -> int:
    """Shift each router's threshold so it routes --target-ratio of the tokens of training photos at
    inference (see matteapp.training.calibrate), then save fp16 weights like export."""
    from pathlib import Path

    import torch

    from matteapp.engine.trimap import load_trimap
    from matteapp.io.images import load_image
    from matteapp.model.checkpoint import save_network

    from .calibrate import calibrate_routers
    from .trainer import load_run_network

    if not (args.run and args.dest and args.fg_dir and args.trimap_dir and args.photos):
        print("matteapp: train calibrate needs RUN DEST --fg-dir DIR --trimap-dir DIR --photos NAME,…", file=sys.stderr)
        return 2
    dest = Path(args.dest)
    if dest.exists() and not args.force:
        print(f"matteapp: {dest} exists (use --force)", file=sys.stderr)
        return 3
    samples = []
    for stem in args.photos:
        hits = sorted(Path(args.fg_dir).glob(f"{stem}.*"))
        if not hits:
            print(f"matteapp: no photo named {stem!r} in {args.fg_dir}", file=sys.stderr)
            return 2
        photo = load_image(hits[0])
        for folder in args.trimap_dir:
            found = sorted(Path(folder).glob(f"{stem}.*"))
            if found:
                samples.append((photo.rgb, load_trimap(found[0], expected_size=photo.size)))
    if not samples:
        print("matteapp: no trimap found for the photos", file=sys.stderr)
        return 2
    run = Path(args.run)
    net = load_run_network(run / "last.pt" if run.is_dir() else run)
    for row in calibrate_routers(net, samples, args.target_ratio):
        print(f"router {row['router']} (block {row['block']}): routed {row['before']:.1%} → {row['after']:.1%} "
              f"(margin shift {row['shift']:+.3f})")
    print(save_network(net, dest, dtype=None if args.fp32 else torch.float16))
    return 0

