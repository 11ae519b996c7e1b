"""Command line interface.  Each sub-command is a thin layer over the Qt-free core.

Exit codes (stable, for scripts): 0 success; 1 a file of a batch failed or matting failed;
2 bad input (unreadable photo/trimap/checkpoint, bad arguments); 3 an output exists and --force was
not given; 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_INPUT, EXIT_EXISTS, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp"}


class CliError(Exception):
    def __init__(self, message: str, code: int = EXIT_INPUT):
        super().__init__(message)
        self.code = code


# ----------------------------------------------------------------------------------------- arguments


def _add_model_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model")
    g.add_argument(
        "--model",
        metavar="PATH|NAME|PRESET",
        help="checkpoint file, installed catalog model (`matteapp models`) or preset name "
        "(default: the pinned model, else the best installed official model, else the bundled one)",
    )
    g.add_argument("--engine", choices=("mematte", "closed-form"), default="mematte", help="matting engine (default: %(default)s)")
    g.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"), help="default: %(default)s")
    g.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16", "fp16"), help="default: %(default)s")
    cap = g.add_mutually_exclusive_group()
    cap.add_argument("--max-global-tokens", type=int, metavar="N", help="cap the tokens each routed block sends to global attention")
    cap.add_argument("--memory-budget", type=float, metavar="MB", help="choose the cap and decoder tile so the run fits in MB")


def _rect(text: str) -> tuple[int, int, int, int]:
    body = text[5:] if text.startswith("rect:") else text
    try:
        x, y, w, h = (int(v) for v in body.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected rect:x,y,w,h, got {text!r}") from None
    return x, y, w, h


def _color(text: str) -> tuple[int, int, int]:
    t = text.lstrip("#")
    if len(t) != 6:
        raise argparse.ArgumentTypeError(f"expected a colour like #RRGGBB, got {text!r}")
    try:
        return tuple(int(t[i : i + 2], 16) for i in (0, 2, 4))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a colour like #RRGGBB, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    fmt = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="matteapp",
        formatter_class=fmt,
        description="Cut subjects out of photos with MEMatte, a memory-efficient token-routed matting transformer.\n"
        "Without a command, opens the desktop application.",
        epilog="exit codes: 0 ok, 1 failed, 2 bad input, 3 output exists (use --force), 130 interrupted",
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="load the default model, matte the bundled sample photo at preview size and check the alpha; "
        "prints one line, exit code 0 if it passed (for checking an installation or a bundle)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    m = sub.add_parser(
        "matte",
        help="matte one photo",
        formatter_class=fmt,
        description="Matte one photo and write a cutout (RGBA PNG, colours decontaminated) and optional extras.",
        epilog="examples:\n"
        "  matteapp matte cat.jpg --trimap cat_trimap.png -o cat.png\n"
        "  matteapp matte cat.jpg --auto-trimap rect:120,40,800,900 -o cat.png --alpha cat_alpha.png --routing cat_routing.png\n"
        "  matteapp matte big.tif --mask rough_mask.png --band-width 40 -o big_cut.png --memory-budget 4000\n"
        "  matteapp matte cat.jpg --trimap t.png -o cat_cf.png --engine closed-form",
    )
    m.add_argument("photo", type=Path)
    src = m.add_mutually_exclusive_group(required=True)
    src.add_argument("--trimap", type=Path, help="trimap PNG (<85 background, ≥170 foreground, else unknown)")
    src.add_argument("--auto-trimap", type=_rect, metavar="rect:X,Y,W,H", help="make a trimap with GrabCut from a rectangle around the subject")
    src.add_argument("--mask", type=Path, help="make a trimap from a rough mask or a previous alpha")
    m.add_argument("-o", "--output", type=Path, required=True, help="cutout PNG (RGBA, straight alpha)")
    m.add_argument("--alpha", type=Path, help="also write the alpha matte PNG")
    m.add_argument("--alpha-16bit", action="store_true", help="write the alpha matte as 16-bit PNG")
    m.add_argument("--routing", type=Path, help="also write the routing heatmap (over the photo, with legend)")
    m.add_argument("--routing-block", type=int, choices=(1, 2, 3, 4), help="heatmap of one routed block instead of the density")
    m.add_argument("--trimap-out", type=Path, help="also write the trimap used")
    m.add_argument("--composite", type=Path, help="also write the subject over a solid colour")
    m.add_argument("--background", type=_color, default=(255, 255, 255), metavar="#RRGGBB", help="colour for --composite")
    m.add_argument("--band-width", type=int, metavar="PX", help="unknown band width for --auto-trimap / --mask (default scales with the photo)")
    m.add_argument("--resize-trimap", action="store_true", help="resize a trimap of another size to the photo (nearest neighbour)")
    m.add_argument("--no-decontaminate", action="store_true", help="keep the photo's colours in the cutout (no foreground estimation)")
    m.add_argument("--preview", action="store_true", help="run on a copy with a 1024-px long side (outputs are at that size)")
    m.add_argument("--force", action="store_true", help="overwrite existing output files")
    _add_model_args(m)

    b = sub.add_parser(
        "batch",
        help="matte every photo of a folder",
        formatter_class=fmt,
        description="Matte every photo in INPUT_DIR with the trimap of the same name from --trimaps; "
        "keeps going past bad files and lists them at the end (exit code 1 if any failed).\n"
        "Each attempt is recorded in OUTPUT/manifest.jsonl; running the same command again skips the photos\n"
        "already done, so a stopped batch resumes where it stopped.  --cluster spreads the photos over a Ray\n"
        "cluster (the paths must be the same on every node: a shared file system).",
        epilog="examples:\n  matteapp batch shoot/ --trimaps shoot_trimaps/ -o cutouts/ --alpha-dir alphas/\n"
        "  matteapp batch shoot/ --trimaps shoot_trimaps/ -o cutouts/ --cluster ray                 # local Ray, or RAY_ADDRESS\n"
        "  matteapp batch /shared/shoot --trimaps /shared/tri -o /shared/cut --cluster auto --gpus-per-worker 0.5",
    )
    b.add_argument("input_dir", type=Path)
    b.add_argument("--trimaps", type=Path, required=True)
    b.add_argument("-o", "--output", type=Path, required=True, help="folder for the cutouts (and manifest.jsonl)")
    b.add_argument("--alpha-dir", type=Path, help="also write alpha mattes here")
    b.add_argument("--no-decontaminate", action="store_true")
    b.add_argument("--resize-trimap", action="store_true")
    b.add_argument("--force", action="store_true", help="overwrite outputs in the way (photos the manifest has as done are still skipped)")
    _add_model_args(b)
    _add_cluster_args(b)

    e = sub.add_parser(
        "eval",
        help="SAD / MSE / Grad / Conn against ground truth",
        formatter_class=fmt,
        description="Evaluate a model (or closed-form matting) on photos with trimaps and ground-truth alphas.\n"
        "Errors over unknown pixels: SAD = sum|Δ|/1000, MSE, gradient and connectivity errors (/1000),\n"
        "as in the Composition-1K evaluation. --trimaps may be given several times (e.g. trimap1 trimap2).",
        epilog="examples:\n"
        "  matteapp eval --images dev/image --trimaps dev/trimap1 --trimaps dev/trimap2 --alphas dev/alpha\n"
        "  matteapp eval --dataset Composition-1k-testset --model MEMatte_ViTS.pth --json scores.json\n"
        "  matteapp eval --images dev/image --trimaps dev/trimap1 --alphas dev/alpha --engine closed-form --csv cf.csv",
    )
    e.add_argument("--images", type=Path)
    e.add_argument("--trimaps", type=Path, action="append")
    e.add_argument("--alphas", type=Path)
    e.add_argument("--dataset", type=Path, help="a folder in Composition-1K layout (merged/, trimaps/, alpha_copy/)")
    e.add_argument("--json", type=Path, help="write per-image and mean scores as JSON")
    e.add_argument("--csv", type=Path, help="write per-image scores as CSV")
    e.add_argument("--limit", type=int, help="only the first N images")
    e.add_argument("--force", action="store_true")
    _add_model_args(e)

    models = sub.add_parser(
        "models",
        help="list, download, install and remove models; describe or convert a checkpoint",
        formatter_class=fmt,
        description="Official models come from the catalog (matteapp/resources/models/catalog.json, or the file named by\n"
        "MATTEAPP_MODEL_CATALOG) and are kept in the models folder (MATTEAPP_MODELS_DIR overrides it).",
        epilog="examples:\n"
        "  matteapp models\n"
        "  matteapp models download mematte-s-realworld --accept-licence\n"
        "  matteapp models install mematte-s-c1k ~/Downloads/MEMatte_ViTS_DIM.pth\n"
        "  matteapp models default mematte-s-c1k\n"
        "  matteapp models remove mematte-s-c1k\n"
        "  matteapp models info MEMatte_ViTS_DIM.pth\n"
        "  matteapp models convert MEMatte_ViTS_DIM.pth mematte_s.safetensors",
    )
    msub = models.add_subparsers(dest="models_command", metavar="ACTION")
    msub.add_parser("list", help="catalog models (installed or not), the bundled model, presets, recently used checkpoints")
    dl = msub.add_parser("download", help="download a catalog model into the models folder (checked before use)")
    dl.add_argument("name")
    dl.add_argument("--accept-licence", "--accept-license", action="store_true", help="confirm the training data's research-only terms")
    dl.add_argument("--offline", action="store_true", help="never use the network (succeeds only if the model is installed)")
    dl.add_argument("--force", action="store_true", help="download again even if the model is installed")
    ins = msub.add_parser("install", help="install a model file you downloaded yourself (same checks as a download)")
    ins.add_argument("name")
    ins.add_argument("file", type=Path)
    ins.add_argument("--accept-licence", "--accept-license", action="store_true", help="confirm the training data's research-only terms")
    rm = msub.add_parser("remove", help="delete an installed model (and any partial download of it)")
    rm.add_argument("name")
    de = msub.add_parser("default", help="show which model runs by default, or pin one (catalog name, 'bundled' or a file)")
    de.add_argument("model", nargs="?")
    de.add_argument("--clear", action="store_true", help="remove the pin: the best installed official model runs")
    info = msub.add_parser("info", help="print the architecture inferred from a checkpoint")
    info.add_argument("path", type=Path)
    conv = msub.add_parser("convert", help="re-save a checkpoint as .safetensors (official key layout)")
    conv.add_argument("path", type=Path)
    conv.add_argument("out", type=Path)
    conv.add_argument("--force", action="store_true")

    # training lives in matteapp.training; its parser is added there when available
    try:
        from matteapp.training.cli import add_train_parser
    except ImportError:
        pass
    else:
        add_train_parser(sub)
    return parser


# ------------------------------------------------------------------------------------------ helpers


def _err(message: str) -> None:
    print(f"matteapp: {message}", file=sys.stderr)


def _session(args):
    from matteapp.engine.session import MattingSession
    from matteapp.io.recent import remember_checkpoint
    from matteapp.model.predictor import resolve_default_model

    model = args.model
    if model and Path(model).exists():
        remember_checkpoint(Path(model))
    elif not model and args.engine != "closed-form":
        # say which model runs and why: with several installed it is not obvious
        try:
            name, path, reason = resolve_default_model()
        except FileNotFoundError as exc:
            raise CliError(str(exc)) from None
        print(f"model: {name} — {reason}", file=sys.stderr)
        model = str(path)
    return MattingSession(model, device=args.device, precision=args.precision)


def _progress_bar(total_label: str):
    """A tqdm bar fed by ProgressEvents (fractions)."""
    from tqdm import tqdm

    bar = tqdm(total=1000, desc=total_label, leave=False, file=sys.stderr, disable=None, bar_format="{desc} {bar} {percentage:3.0f}%{postfix}")

    def update(event) -> None:
        bar.n = int(event.fraction * 1000)
        bar.set_postfix_str(event.message[:60], refresh=False)
        bar.refresh()

    return bar, update


def _load_photo(path: Path):
    from matteapp.io.images import ImageLoadError, load_image

    try:
        loaded = load_image(path)
    except ImageLoadError as exc:
        raise CliError(str(exc)) from None
    # a truncated file opens as far as it goes: the user must hear that the bottom may be missing
    for warning in loaded.warnings:
        print(f"matteapp: warning: {warning}", file=sys.stderr)
    return loaded


def _load_trimap_for(path: Path, photo, resize: bool):
    from matteapp.engine.trimap import TrimapError, load_trimap

    try:
        return load_trimap(path, expected_size=photo.size, resize=resize)
    except TrimapError as exc:
        raise CliError(str(exc)) from None


def _run_session(session, args, image, trimap, preview=False, label="matting"):
    from matteapp.base import Cancelled

    bar, update = _progress_bar(label)
    try:
        return session.run(
            image,
            trimap,
            engine=args.engine,
            preview=preview,
            max_global_tokens=args.max_global_tokens,
            memory_budget_mb=args.memory_budget,
            progress=update,
        )
    except (Cancelled, KeyboardInterrupt):
        raise CliError("interrupted", EXIT_INTERRUPTED) from None
    except MemoryError as exc:
        raise CliError(str(exc), EXIT_FAILED) from None
    except (FileNotFoundError, ValueError) as exc:
        raise CliError(str(exc)) from None
    finally:
        bar.close()


def _write(fn, *a, **kw):
    from matteapp.io.export import OutputExistsError

    try:
        return fn(*a, **kw)
    except OutputExistsError as exc:
        raise CliError(str(exc), EXIT_EXISTS) from None
    except OSError as exc:
        raise CliError(f"cannot write output: {exc}", EXIT_FAILED) from None


# ------------------------------------------------------------------------------------------ commands


def cmd_matte(args) -> int:
    from matteapp.engine.session import downscale_pair
    from matteapp.engine.trimap import default_band_width, trimap_from_mask, trimap_from_rect
    from matteapp.io import export

    outputs = [p for p in (args.output, args.alpha, args.routing, args.trimap_out, args.composite) if p]
    if not args.force:
        existing = [str(p) for p in outputs if p.exists()]
        if existing:
            raise CliError(f"output exists: {', '.join(existing)} (use --force to overwrite)", EXIT_EXISTS)
    photo = _load_photo(args.photo)
    image = photo.rgb
    h, w = image.shape[:2]
    band = args.band_width or default_band_width(h, w)
    t0 = time.perf_counter()
    if args.trimap:
        trimap = _load_trimap_for(args.trimap, photo, args.resize_trimap)
    elif args.mask:
        mask = _load_mask(args.mask, photo, args.resize_trimap)
        trimap = trimap_from_mask(mask, band_width=band)
    else:
        try:
            trimap = trimap_from_rect(image, args.auto_trimap, band_width=band)
        except ValueError as exc:
            raise CliError(f"--auto-trimap: {exc}") from None
    t_trimap = time.perf_counter() - t0
    session = _session(args)
    result = _run_session(session, args, image, trimap, preview=args.preview, label=args.photo.name)
    if result.is_preview:
        image, trimap = downscale_pair(image, trimap, max(result.size))
        print(f"note: preview run — outputs are {result.size[1]}×{result.size[0]}, not the photo's {w}×{h}", file=sys.stderr)
    meta = dict(icc_profile=photo.icc_profile, dpi=photo.dpi, force=args.force)
    t0 = time.perf_counter()
    _write(export.export_cutout, args.output, image, result.alpha, decontaminate=not args.no_decontaminate, **meta)
    t_cutout = time.perf_counter() - t0
    if args.alpha:
        _write(export.export_alpha, args.alpha, result.alpha, bits=16 if args.alpha_16bit else 8, **meta)
    if args.trimap_out:
        _write(export.export_trimap, args.trimap_out, trimap, **meta)
    if args.composite:
        _write(export.export_composite, args.composite, image, result.alpha, args.background, **meta)
    if args.routing:
        if not result.routing:
            _err("--routing: this engine/model has no routing maps; skipped")
        else:
            block = args.routing_block - 1 if args.routing_block else None
            _write(export.export_routing, args.routing, result.routing, image=image, block=block, **meta)
    routed = "" if not result.routing else f", {result.routed_fraction:.1%} of tokens routed to global attention"
    print(
        f"{args.output}: {result.size[1]}×{result.size[0]} with {result.engine} on {result.device}/{result.precision} "
        f"(trimap {t_trimap:.1f} s, matting {result.timings.get('total', 0):.1f} s, cutout {t_cutout:.1f} s{routed})"
    )
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    return EXIT_OK


def _load_mask(path: Path, photo, resize: bool):
    """A rough mask or previous alpha, as float in [0, 1] at the photo's size."""
    import cv2
    import numpy as np

    m = _load_photo(path)
    gray = m.rgb[..., 0] if m.alpha is None else m.alpha
    if gray.shape != photo.rgb.shape[:2]:
        if not resize:
            raise CliError(f"{path}: mask is {gray.shape[1]}×{gray.shape[0]} but the photo is {photo.size[0]}×{photo.size[1]}; pass --resize-trimap")
        gray = cv2.resize(gray, photo.size, interpolation=cv2.INTER_LINEAR)
    return gray.astype(np.float32) / 255.0


def cmd_batch(args, *, before_photo=None) -> int:
    """``before_photo(path)`` runs just before each photo is matted, in the process that mattes it
    (this one, or a cluster worker): the cluster tests kill a worker with it."""
    import os
    from dataclasses import replace

    from matteapp.batch.manifest import Manifest, ManifestError
    from matteapp.batch.pipeline import BatchOptions, remove_temporaries

    if not args.input_dir.is_dir():
        raise CliError(f"{args.input_dir}: not a folder")
    if not args.trimaps.is_dir():
        raise CliError(f"{args.trimaps}: not a folder")
    if args.cluster is not None:
        from matteapp.batch.cluster import ClusterError, import_ray

        try:
            import_ray()  # before anything slow: without Ray nothing can run
        except ClusterError as exc:
            raise CliError(str(exc)) from None
    else:
        pool_flags = {"--workers": args.workers, "--cpus-per-worker": args.cpus_per_worker,
                      "--gpus-per-worker": args.gpus_per_worker, "--max-attempts": args.max_attempts}
        given = [flag for flag, value in pool_flags.items() if value is not None]
        if given:
            raise CliError(f"{', '.join(given)} only apply with --cluster")
    photos = sorted(p for p in args.input_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not photos:
        raise CliError(f"{args.input_dir}: no photos ({', '.join(sorted(IMAGE_SUFFIXES))})")
    args.output.mkdir(parents=True, exist_ok=True)
    if args.alpha_dir:
        args.alpha_dir.mkdir(parents=True, exist_ok=True)
    options = BatchOptions(
        trimaps=args.trimaps,
        output=args.output,
        alpha_dir=args.alpha_dir,
        decontaminate=not args.no_decontaminate,
        resize_trimap=args.resize_trimap,
        force=args.force,
        engine=args.engine,
        max_global_tokens=args.max_global_tokens,
        memory_budget_mb=args.memory_budget,
    ).absolute()
    try:
        manifest = Manifest.open(args.output)
    except ManifestError as exc:
        raise CliError(str(exc)) from None
    with manifest:
        if manifest.skipped_lines:
            _err(f"note: {manifest.skipped_lines} unreadable line(s) in {manifest.path} ignored; those photos are matted again")
        # one listing per output folder instead of a stat per output: 100,000 stats on a network share take minutes
        present = {os.path.join(folder, name) for folder in {options.output, options.alpha_dir} - {None} for name in os.listdir(folder)}
        pending = [p for p in photos if not manifest.is_done(p.name, options.outputs_for(p), exists=lambda q: str(q) in present)]
        if len(pending) < len(photos):
            print(f"{len(photos) - len(pending)} of {len(photos)} photos already done ({manifest.path}); "
                  f"matting the other {len(pending)}", file=sys.stderr)
        failures: dict[str, str] = {}
        if pending:
            # writes that a killed batch left half done; no one else writes into the folder now (the manifest is locked)
            for folder in {options.output, options.alpha_dir} - {None}:
                remove_temporaries(folder)
            work = [(p.absolute(), manifest.attempts(p.name) + 1) for p in pending]
            run_info = {"source": str(args.input_dir.absolute()), "photos": len(photos), "pending": len(pending)}
            if args.cluster:
                failures = _batch_on_cluster(args, options, manifest, work, run_info, before_photo)
            else:
                session = _session(args)
                model = _load_batch_model(session, args.engine)
                manifest.begin_run(**run_info, model=model, cluster=None, workers=1)
                records = _local_records(session, model, work, replace(options, stale_after=manifest.started), before_photo)
                failures = _record_batch(manifest, records, len(work))
    done = len(photos) - len(failures)
    print(f"{done} of {len(photos)} photos matted into {args.output}")
    if failures:
        print(f"{len(failures)} failed:", file=sys.stderr)
        for name, why in failures.items():
            print(f"  {name}: {why}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _add_cluster_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("cluster (needs Ray: pip install 'matteapp[cluster]')")
    g.add_argument("--cluster", type=_cluster_address, metavar="ray|auto|ray://HOST:PORT",
                   help="run on Ray: 'ray' joins the cluster in RAY_ADDRESS or the one started on this machine, else "
                   "starts a local one; 'auto' joins an existing cluster only; ray://HOST:PORT uses Ray Client")
    g.add_argument("--workers", type=_positive(int), metavar="N", help="actors, each with its own copy of the model (default: as many as fit)")
    g.add_argument("--gpus-per-worker", type=_positive(float, zero=True), metavar="G",
                   help="GPUs per actor, fractions share a GPU (default: 1 when the cluster has GPUs, else 0)")
    g.add_argument("--cpus-per-worker", type=_positive(float), metavar="C", help="CPU cores per actor, also its torch threads (default: up to 4)")
    g.add_argument("--max-attempts", type=_positive(int), metavar="N",
                   help="tries per photo when the worker matting it dies (default: 3); a bad photo is not retried")


def _cluster_address(text: str) -> str:
    import re

    if text in ("ray", "auto") or text.startswith("ray://") or re.fullmatch(r"[\w.-]+:\d+", text):
        return text
    raise argparse.ArgumentTypeError(f"expected ray, auto, ray://HOST:PORT or HOST:PORT, got {text!r}")


def _positive(kind, zero: bool = False):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or value < 0 or (value == 0 and not zero):
            raise argparse.ArgumentTypeError(f"expected a {'non-negative' if zero else 'positive'} number, got {text!r}")
        return value

    return parse


def _load_batch_model(session, engine: str) -> str:
    """Load the model once, before the first photo: a bad --model is one error (exit 2), not one per photo."""
    from matteapp.batch.pipeline import model_label

    try:
        return model_label(session, engine)
    except (FileNotFoundError, ValueError) as exc:
        raise CliError(str(exc)) from None


def _local_records(session, model: str, work, options, before_photo):
    from matteapp.base import Cancelled
    from matteapp.batch.pipeline import process_photo, worker_name

    name = worker_name()
    for path, attempt in work:
        if before_photo is not None:
            before_photo(path)
        bar, update = _progress_bar(path.name)
        try:
            yield process_photo(session, path, options, attempt, model=model, worker=name, progress=update)
        except Cancelled:
            raise CliError("interrupted", EXIT_INTERRUPTED) from None
        finally:
            bar.close()


def _batch_on_cluster(args, options, manifest, work, run_info: dict, before_photo) -> dict[str, str]:
    from dataclasses import replace

    from matteapp.batch.cluster import DEFAULT_MAX_ATTEMPTS, ClusterError, PoolSpec, connected, plan_pool, run_on_cluster

    # the driver resolves the model as the local batch does; the workers get the path, absolute
    model = _session(args).model_source
    if model and Path(model).exists():
        model = str(Path(model).absolute())
    spec = PoolSpec(
        workers=args.workers,
        cpus_per_worker=args.cpus_per_worker,
        gpus_per_worker=args.gpus_per_worker,
        model=model,
        device=args.device,
        precision=args.precision,
        max_attempts=args.max_attempts or DEFAULT_MAX_ATTEMPTS,
    )
    try:
        with connected(args.cluster) as ray:
            pool = plan_pool(spec, ray.cluster_resources())
            print(f"cluster: {pool.describe()}", file=sys.stderr)
            label = "closed-form" if args.engine == "closed-form" else model
            manifest.begin_run(**run_info, model=label, cluster=args.cluster, workers=pool.workers)
            records = run_on_cluster(ray, work, replace(options, stale_after=manifest.started), spec, pool,
                                     before_photo=before_photo, notify=_batch_note)
            return _record_batch(manifest, records, len(work))
    except ClusterError as exc:
        raise CliError(str(exc)) from None


def _batch_note(message: str) -> None:
    from tqdm import tqdm

    tqdm.write(f"note: {message}", file=sys.stderr)


def _record_batch(manifest, records, total: int) -> dict[str, str]:
    """Append each record to the manifest as it comes; a bar shows done, failed, rate and time left.
    Returns the photos that failed for good, with why."""
    from contextlib import closing

    from tqdm import tqdm

    failures: dict[str, str] = {}
    # closing the records on the way out (Ctrl-C included) stops the cluster's actors at once
    with closing(records), tqdm(total=total, desc="batch", unit="photo", file=sys.stderr, dynamic_ncols=True) as bar:
        for record in records:
            manifest.append(record)
            if record.get("retrying"):
                bar.write(f"note: {record['photo']}: {record['error']}; trying again", file=sys.stderr)
                continue
            if record["error"] is None:
                failures.pop(record["photo"], None)
            else:
                failures[record["photo"]] = record["error"]
            bar.update(1)
            bar.set_postfix(failed=len(failures), refresh=False)
    return failures


def cmd_eval(args) -> int:
    from matteapp.engine.evaluate import EvalError, evaluate, find_samples, format_table, write_csv, write_json

    try:
        samples = find_samples(images=args.images, trimaps=args.trimaps, alphas=args.alphas, dataset=args.dataset)
    except EvalError as exc:
        raise CliError(str(exc)) from None
    if args.limit:
        samples = samples[: args.limit]
    for out in (args.json, args.csv):
        if out and out.exists() and not args.force:
            raise CliError(f"output exists: {out} (use --force to overwrite)", EXIT_EXISTS)
    session = _session(args)  # loads the model lazily: closed-form never touches it
    report = evaluate(
        samples,
        lambda image, trimap, label: _run_session(session, args, image, trimap, label=label),
        engine=args.engine,
    )
    print(format_table(report))
    if args.json:
        _write(write_json, args.json, report, force=args.force)
    if args.csv:
        _write(write_csv, args.csv, report, force=args.force)
    return EXIT_OK if not report.failures else EXIT_FAILED


def cmd_models(args) -> int:
    from matteapp.io.recent import remember_checkpoint
    from matteapp.model.checkpoint import CheckpointError, load_network, save_network

    action = args.models_command or "list"
    if action == "info":
        try:
            net = load_network(args.path)
        except CheckpointError as exc:
            raise CliError(str(exc)) from None
        remember_checkpoint(args.path)
        cfg = net.config
        n = sum(p.numel() for p in net.parameters())
        print(f"{args.path}: {cfg.kind} ({getattr(net, 'source_layout', '?')} layout), {n / 1e6:.2f} M parameters")
        for key, value in cfg.to_dict().items():
            print(f"  {key:20s} {value}")
        return EXIT_OK
    if action == "convert":
        if args.out.suffix != ".safetensors":
            raise CliError(f"{args.out}: the output must end in .safetensors")
        if args.out.exists() and not args.force:
            raise CliError(f"output exists: {args.out} (use --force to overwrite)", EXIT_EXISTS)
        try:
            net = load_network(args.path)
        except CheckpointError as exc:
            raise CliError(str(exc)) from None
        save_network(net, args.out, metadata={"converted_from": Path(args.path).name})
        print(f"{args.out}: {net.config.kind} {net.config.name}, official key layout")
        return EXIT_OK
    handlers = {"download": _models_download, "install": _models_install, "remove": _models_remove, "default": _models_default}
    if action in handlers:
        return handlers[action](args)
    return _models_list()


def _catalog():
    from matteapp.model.catalog import CatalogError, load_catalog

    try:
        return load_catalog()
    except CatalogError as exc:
        raise CliError(str(exc)) from None


def _megabytes(n: int | None) -> str:
    return "size ?" if n is None else f"{n / 1e6:,.0f} MB"


def _models_list() -> int:
    from matteapp.io.recent import recent_checkpoints
    from matteapp.model import preset_config, preset_names
    from matteapp.model.catalog import CatalogError, load_catalog, model_statuses, models_dir
    from matteapp.model.predictor import bundled_model_path, resolve_default_model

    bundled = bundled_model_path()
    print("bundled model:")
    print(f"  {bundled if bundled else '(none installed)'}")
    try:
        name, _, reason = resolve_default_model()
        print(f"default model: {name} — {reason}")
    except FileNotFoundError as exc:
        print(f"default model: none — {exc}")
    problem = None
    try:
        catalog = load_catalog()
    except CatalogError as exc:
        problem = str(exc)
    else:
        print(f"official models (catalog {catalog.path}; folder {models_dir()}):")
        for status in model_statuses(catalog):
            e = status.entry
            if status.installed:
                state = "installed"
            elif status.partial_bytes:
                state = f"partial ({status.partial_bytes / 1e6:,.0f} MB, resumes)"
            else:
                state = "downloadable"
            size = _megabytes(status.size_bytes) if status.installed or e.approx_size_mb else "size ?"
            approx = "" if status.installed or not e.approx_size_mb else "~"
            print(f"  {e.name:20s} {state:12s} {approx}{size:>8s}  {e.architecture.describe()}")
            for line in e.scores_summary():
                print(f"      {line}")
            print(f"      licence: {e.licence_summary()}")
        print("  download one with: matteapp models download NAME   (or install a file: matteapp models install NAME FILE)")
    print("presets (random weights, for benchmarks and tests):")
    for name in preset_names():
        cfg = preset_config(name)
        print(f"  {name:12s} {cfg.kind:8s} D={cfg.embed_dim} heads={cfg.num_heads}")
    recent = recent_checkpoints()
    print("recently used checkpoints:")
    for p in recent or ["(none)"]:
        print(f"  {p}")
    if problem:
        raise CliError(problem)
    return EXIT_OK


def _download_progress(label: str):
    """A byte-counting tqdm bar and the ``progress(done, total)`` callback that feeds it."""
    from tqdm import tqdm

    bar = tqdm(desc=label, unit="B", unit_scale=True, unit_divisor=1024, leave=False, file=sys.stderr, disable=None)

    def update(done: int, total: int | None) -> None:
        if total != bar.total:
            bar.total = total
        bar.n = done
        bar.refresh()

    return bar, update


def _with_licence_prompt(run_once, accept: bool):
    """Run ``run_once(accept)``; on a licence not yet accepted, ask on a terminal (y/N) and run again."""
    from matteapp.model.download import LicenceNotAccepted

    try:
        return run_once(accept)
    except LicenceNotAccepted as exc:
        if not sys.stdin.isatty():
            raise CliError(f"{exc}\nNothing was downloaded.") from None
        print(str(exc).rsplit("\n", 1)[0], file=sys.stderr)
        answer = input("Use these weights under these terms? [y/N] ").strip().lower()
        if answer not in ("y", "yes"):
            raise CliError("licence not accepted; nothing was downloaded") from None
        return run_once(True)


def _report(result, verb: str) -> None:
    for note in result.notes:
        print(f"warning: {note}", file=sys.stderr)
    digest = f" (sha256 {result.sha256[:16]}…)" if result.sha256 else ""
    print(f"{result.name}: {verb} {result.path}{digest}")


def _models_download(args) -> int:
    from matteapp.base import Cancelled
    from matteapp.model.catalog import CatalogError
    from matteapp.model.download import DownloadError, DownloadInterrupted, LicenceNotAccepted, download_model

    catalog = _catalog()
    bar, update = _download_progress(args.name)
    try:
        result = _with_licence_prompt(
            lambda accept: download_model(
                args.name, accept_licence=accept, offline=args.offline, force=args.force, progress=update, catalog=catalog
            ),
            args.accept_licence,
        )
    except CatalogError as exc:
        raise CliError(str(exc)) from None
    except LicenceNotAccepted as exc:
        raise CliError(str(exc)) from None
    except (Cancelled, KeyboardInterrupt):
        raise CliError("interrupted; run the same command again to resume the download", EXIT_INTERRUPTED) from None
    except DownloadInterrupted as exc:
        raise CliError(str(exc), EXIT_FAILED) from None
    except DownloadError as exc:
        raise CliError(str(exc), EXIT_FAILED) from None
    finally:
        bar.close()
    if result.already_installed:
        print(f"{result.name}: already installed at {result.path} (--force downloads it again)")
    else:
        _report(result, "installed")
    return EXIT_OK


def _models_install(args) -> int:
    from matteapp.base import Cancelled
    from matteapp.model.catalog import CatalogError
    from matteapp.model.download import DownloadError, ModelsFolderError, NotEnoughSpace, install_model_file

    catalog = _catalog()
    bar, update = _download_progress(f"copying {args.file.name}")
    try:
        result = _with_licence_prompt(
            lambda accept: install_model_file(args.name, args.file, accept_licence=accept, progress=update, catalog=catalog),
            args.accept_licence,
        )
    except CatalogError as exc:
        raise CliError(str(exc)) from None
    except (Cancelled, KeyboardInterrupt):
        raise CliError("interrupted; nothing was installed", EXIT_INTERRUPTED) from None
    except (NotEnoughSpace, ModelsFolderError) as exc:
        raise CliError(str(exc), EXIT_FAILED) from None
    except DownloadError as exc:  # the file is not the model (nothing was copied), or unreadable
        raise CliError(str(exc)) from None
    finally:
        bar.close()
    _report(result, "installed")
    return EXIT_OK


def _models_remove(args) -> int:
    from matteapp.model.download import NotInstalled, remove_model

    try:
        removed = remove_model(args.name)
    except NotInstalled as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"cannot remove {args.name}: {exc}", EXIT_FAILED) from None
    for p in removed:
        print(f"removed {p}")
    return EXIT_OK


def _models_default(args) -> int:
    from matteapp.model.catalog import CatalogError, installed_path, load_catalog, set_pinned_model, settings_path
    from matteapp.model.predictor import resolve_default_model

    if args.clear and args.model:
        raise CliError("give a model to pin, or --clear, not both")
    if args.clear:
        set_pinned_model(None)
    elif args.model:
        value = args.model
        if Path(value).is_file():
            value = str(Path(value).resolve())
        elif value != "bundled" and installed_path(value) is None:
            try:
                known = value in load_catalog()
            except CatalogError:
                known = False
            hint = f": run `matteapp models download {value}` first" if known else " (see `matteapp models`)"
            raise CliError(f"{value!r} is not an installed model, 'bundled' or a checkpoint file{hint}")
        set_pinned_model(value)
        print(f"pinned {value} in {settings_path()}")
    try:
        name, path, reason = resolve_default_model()
    except FileNotFoundError as exc:
        raise CliError(str(exc)) from None
    print(f"default model: {name} ({path}) — {reason}")
    return EXIT_OK


def launch_gui(argv: list[str]) -> int:
    try:
        from matteapp.gui.arguments import parse_window_args
    except ModuleNotFoundError:
        pass
    else:
        parse_window_args(argv)  # a typo is refused (usage, exit 2) before Qt and torch take seconds to load
    try:
        from matteapp.gui.app import main as gui_main
    except ModuleNotFoundError as exc:
        if not (exc.name or "").startswith("matteapp.gui"):
            raise
        build_parser().print_help()
        _err("the desktop application is not part of this build yet; the commands above work")
        return EXIT_OK
    return gui_main(argv)


COMMANDS = {"matte": cmd_matte, "batch": cmd_batch, "eval": cmd_eval, "models": cmd_models}


def run(argv: list[str]) -> int:
    if argv == ["--version"]:
        # before build_parser, which imports the training commands and so torch: seconds for one line
        from matteapp import __version__

        print(f"matteapp {__version__}")
        return EXIT_OK
    # Anything that is not a subcommand or the CLI's own help goes to the desktop app, including its
    # options (`matteapp --model X photo.jpg`).
    if not argv or (argv[0] not in COMMANDS and argv[0] != "train" and argv[0] not in ("-h", "--help", "--version", "--self-test")):
        return launch_gui(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        parser.error("--version takes no other arguments")
    if args.self_test:
        from matteapp.selftest import main as self_test

        return self_test()
    handler = COMMANDS.get(args.command) or getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return EXIT_OK
    try:
        return handler(args)
    except CliError as exc:
        _err(str(exc))
        return exc.code
    except KeyboardInterrupt:
        _err("interrupted")
        return EXIT_INTERRUPTED
