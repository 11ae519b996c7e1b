"""Training loop for the ViTMatte teacher and the MEMatte student (MEMatte's recipe, CPU-friendly).

Stage ``teacher``: a full-attention ViTMatte trained with the matting losses.
Stage ``student``: MEMatte initialized from the teacher (shared weights copied, routers and LTRMs
fresh), trained with Gumbel-softmax hard routing and policy-masked attention, feature distillation
from the frozen teacher and the BATR ratio loss toward ``target_ratio``.

Runs are resumable: ``<out>/last.pt`` holds weights, optimizer and step; the data stream and the
Gumbel noise are functions of (seed, step), so a resumed run continues exactly where it stopped.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from matteapp.model import MattingConfig, MattingNetwork, build_model
from matteapp.model.checkpoint import load_network, save_network
from matteapp.training.data import IMAGE_EXTENSIONS
from matteapp.training.losses import batr_loss, distillation_loss, matting_losses


@dataclass
class TrainConfig:
    stage: str = "teacher"                 # "teacher" (ViTMatte) or "student" (MEMatte)
    out: str = "runs/teacher"
    embed_dim: int = 192
    num_heads: int = 3
    convstream_widths: tuple[int, ...] = (32, 64, 96)
    fusion_widths: tuple[int, ...] = (128, 64, 32, 16)
    teacher: str | None = None             # student: teacher checkpoint (.pt run file or weights)
    init: str | None = None                # timm ViT weights (.pth / .safetensors) for the backbone
    steps: int = 2000
    batch_size: int = 4
    crop: int = 320
    lr: float = 5e-4
    backbone_lr_scale: float = 1.0
    weight_decay: float = 0.1
    warmup: int = 100
    seed: int = 0
    checkpoint_every: int = 100
    log_every: int = 10
    target_ratio: float = 0.25
    distill_weight: float = 1.0
    ratio_weight: float = 2.0
    gumbel_tau: float = 1.0
    gumbel_anneal: float = 0.0             # >0: Gumbel noise falls linearly to 0 over this share of the steps
    init_weights: str | None = None        # start from these weights (e.g. the bundled model: warm start)
    bf16: bool = True
    threads: int | None = None
    data: str = "synthetic"                # "synthetic", "composition1k" or "photos"
    fg_dir: str | None = None
    alpha_dir: str | None = None
    bg_dir: str | None = None
    photos: tuple[str, ...] = ()           # "photos": stems of the photos in fg_dir / alpha_dir to train on
    synthetic_share: float = 0.3           # "photos": share of synthetic samples in the mix
    workers: int = 1

    def model_config(self) -> MattingConfig:
        routed = self.stage == "student"
        return MattingConfig(
            name=f"{'mematte' if routed else 'vitmatte'}-d{self.embed_dim}",
            embed_dim=self.embed_dim,
            num_heads=self.num_heads,
            routed=routed,
            global_rel_pos_size=None if routed else 32,
            convstream_widths=tuple(self.convstream_widths),
            fusion_widths=tuple(self.fusion_widths),
        )


# -------------------------------------------------------------------------------------------- helpers


def normalize_batch(batch: dict, config: MattingConfig) -> torch.Tensor:
    """(B, 4, S, S) network input from a data batch (image in [0, 1], trimap in {0, 128/255, 1})."""
    mean = torch.tensor(config.pixel_mean).view(1, 3, 1, 1)
    std = torch.tensor(config.pixel_std).view(1, 3, 1, 1)
    return torch.cat([(batch["image"] - mean) / std, batch["trimap"]], dim=1)


def unknown_mask(trimap: torch.Tensor) -> torch.Tensor:
    return ((trimap > 0.25) & (trimap < 0.75)).float()


def copy_shared_weights(student: MattingNetwork, teacher: MattingNetwork) -> list[str]:
    """Copy every tensor the two networks share by name and shape (backbone and decoder);
    returns the student keys left at their fresh initialization (routers, LTRMs)."""
    t_sd = teacher.state_dict()
    s_sd = student.state_dict()
    fresh = []
    for k, v in s_sd.items():
        if k in t_sd and t_sd[k].shape == v.shape:
            s_sd[k] = t_sd[k].clone()
        else:
            fresh.append(k)
    student.load_state_dict(s_sd)
    return fresh


def init_from_timm(net: MattingNetwork, path: str | os.PathLike) -> int:
    """Initialize the backbone from a timm ViT checkpoint (e.g. DINO ViT-S/16).

    The 3-channel patch embedding is extended with a zero-initialized trimap channel, so the
    pretrained features are unchanged at the start.  Returns the number of tensors copied.
    """
    from matteapp.model.checkpoint import read_state_dict

    sd, _ = read_state_dict(path)
    sd = {k.removeprefix("module.").removeprefix("backbone."): v for k, v in sd.items()}
    own = net.backbone.state_dict()
    copied = 0
    for k, v in sd.items():
        if k == "patch_embed.proj.weight" and v.shape[1] == 3 and own[k].shape[1] == 4:
            v = torch.cat([v, torch.zeros_like(v[:, :1])], dim=1)
        if k == "pos_embed" and k in own and v.shape != own[k].shape:
            continue
        if k in own and own[k].shape == v.shape:
            own[k] = v.float()
            copied += 1
    if copied == 0:
        raise ValueError(f"{path}: no tensor matched the backbone (is it a ViT with D={net.config.embed_dim}?)")
    net.backbone.load_state_dict(own)
    return copied


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up, then cosine decay to 5% of the peak."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    t = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, t))))


def _make_dataset(cfg: TrainConfig):
    from matteapp.training.data import Composition1KDataset, PhotoMattingDataset, SyntheticMattingDataset

    if cfg.data == "synthetic":
        return SyntheticMattingDataset(length=10**9, crop=cfg.crop, seed=cfg.seed)
    if cfg.data == "composition1k":
        if not (cfg.fg_dir and cfg.alpha_dir and cfg.bg_dir):
            raise ValueError("--data composition1k needs --fg-dir, --alpha-dir and --bg-dir")
        # an endless index stream: item i takes foreground i mod n with its own augmentation and
        # background, so no epoch repeats another
        return Composition1KDataset(cfg.fg_dir, cfg.alpha_dir, cfg.bg_dir, crop=cfg.crop, length=10**9, seed=cfg.seed)
    if cfg.data == "photos":
        return PhotoMattingDataset(photo_pairs(cfg), crop=cfg.crop, seed=cfg.seed, synthetic_share=cfg.synthetic_share)
    raise ValueError(f"unknown data source {cfg.data!r}")


def photo_pairs(cfg: TrainConfig) -> list[tuple[Path, Path]]:
    """The (photo, alpha) files that ``--data photos`` trains on: the stems named in ``cfg.photos``,
    looked up in ``fg_dir`` (photos) and ``alpha_dir``.  Naming them one by one keeps validation photos
    that share the folders out of training."""
    if not (cfg.fg_dir and cfg.alpha_dir and cfg.photos):
        raise ValueError("--data photos needs --fg-dir (photos), --alpha-dir and --photos NAME,NAME,…")
    pairs = []
    for stem in cfg.photos:
        found = []
        for folder in (cfg.fg_dir, cfg.alpha_dir):
            hits = sorted(p for p in Path(folder).glob(f"{stem}.*") if p.suffix.lower() in IMAGE_EXTENSIONS)
            if not hits:
                raise ValueError(f"no image named {stem!r} in {folder}")
            found.append(hits[0])
        pairs.append((found[0], found[1]))
    return pairs


def gumbel_noise_at(step: int, cfg: TrainConfig) -> float:
    """Scale of the Gumbel noise at ``step``: 1, or falling linearly to 0 over ``gumbel_anneal`` of the run."""
    if cfg.gumbel_anneal <= 0:
        return 1.0
    return max(0.0, 1.0 - step / (cfg.gumbel_anneal * cfg.steps))


class _StepSampler(torch.utils.data.Sampler):
    """Indices step·B … for the steps still to run: the data stream is a function of the step."""

    def __init__(self, start_step: int, steps: int, batch: int):
        self.start, self.stop = start_step * batch, steps * batch

    def __iter__(self):
        return iter(range(self.start, self.stop))

    def __len__(self):
        return max(0, self.stop - self.start)


def _truncate_log(path: Path, step: int) -> None:
    """Drop the log rows after ``step``: a run stopped between two checkpoints repeats those steps on
    resume, and the log must show each step once."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        return
    keep = [rows[0]] + [r for r in rows[1:] if r and int(r[0]) <= step]
    if len(keep) != len(rows):
        tmp = path.with_suffix(".tmp")
        with open(tmp, "w", newline="") as f:
            csv.writer(f).writerows(keep)
        os.replace(tmp, path)


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """SIGTERM (a scheduler stopping the job, ``kill``) saves the run like Ctrl-C does; background jobs
    started from a script ignore SIGINT, so this is the signal that reaches them."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _save_run(path: Path, net, optimizer, step: int, cfg: TrainConfig) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save({"model": net.state_dict(), "optimizer": optimizer.state_dict(), "step": step,
                "train_config": json.dumps(dataclasses.asdict(cfg)), "model_config": json.dumps(net.config.to_dict())}, tmp)
    os.replace(tmp, path)


def load_run_network(path: str | os.PathLike) -> MattingNetwork:
    """The network of a run checkpoint (``last.pt``) or of any weights file the loader knows."""
    path = Path(path)
    if path.suffix == ".pt":
        blob = torch.load(path, map_location="cpu", weights_only=True)
        net = build_model(MattingConfig.from_dict(json.loads(blob["model_config"])))
        net.load_state_dict(blob["model"])
        return net.eval()
    return load_network(path)


# ----------------------------------------------------------------------------------------------- train


def train(cfg: TrainConfig, progress: Callable[[dict], None] | None = None) -> Path:
    """Run (or resume) a training stage; returns the path of ``last.pt``."""
    if cfg.stage not in ("teacher", "student"):
        raise ValueError("stage must be 'teacher' or 'student'")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    last = out / "last.pt"
    torch.manual_seed(cfg.seed)
    net = build_model(cfg.model_config()).train()

    teacher = None
    if cfg.stage == "student" and cfg.teacher:
        teacher = load_run_network(cfg.teacher).eval()
        for p in teacher.parameters():
            p.requires_grad_(False)
    elif cfg.stage == "student" and not cfg.init_weights:
        raise ValueError("the student stage needs --teacher (a trained ViTMatte checkpoint) or --init-weights")
    elif cfg.init:
        init_from_timm(net, cfg.init)

    decay, no_decay = [], []
    for name, p in net.named_parameters():
        (no_decay if p.ndim <= 1 or "pos_embed" in name or "rel_pos" in name else decay).append(p)
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr, betas=(0.9, 0.999)
    )
    start = 0
    if last.exists():
        blob = torch.load(last, map_location="cpu", weights_only=True)
        net.load_state_dict(blob["model"])
        optimizer.load_state_dict(blob["optimizer"])
        start = int(blob["step"])
    elif cfg.init_weights:
        fresh = copy_shared_weights(net, load_run_network(cfg.init_weights))
        if len(fresh) == len(net.state_dict()):
            raise ValueError(f"{cfg.init_weights}: no tensor matches a D={cfg.embed_dim} {cfg.stage} network")
    elif teacher is not None:
        copy_shared_weights(net, teacher)

    dataset = _make_dataset(cfg)
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_size=cfg.batch_size,
        sampler=_StepSampler(start, cfg.steps, cfg.batch_size),
        num_workers=cfg.workers,
        persistent_workers=False,
        prefetch_factor=2 if cfg.workers else None,
        drop_last=True,
    )
    log_path = out / "log.csv"
    new_log = not log_path.exists() or start == 0
    if not new_log:
        _truncate_log(log_path, start)
    log_file = open(log_path, "w" if new_log else "a", newline="")
    writer = None
    autocast = torch.autocast("cpu", dtype=torch.bfloat16) if cfg.bf16 else contextlib.nullcontext()
    t_last = time.perf_counter()
    completed = start  # optimizer steps applied so far: what a checkpoint must record
    stop_on_sigterm = _sigterm_as_interrupt()
    stop_on_sigterm.__enter__()
    try:
        for step_offset, batch in enumerate(loader):
            step = start + step_offset
            lr = lr_at(step, cfg)
            for group in optimizer.param_groups:
                group["lr"] = lr
            torch.manual_seed(cfg.seed * 1_000_003 + step)  # Gumbel noise, resumable
            x = normalize_batch(batch, net.config)
            target = batch["alpha"]
            unknown = unknown_mask(batch["trimap"])
            with autocast:
                if cfg.stage == "teacher":
                    pred = net(x)
                    parts = matting_losses(pred.float(), target, unknown)
                else:
                    feats, policies, outputs = net.backbone.forward_train(
                        x, tau=cfg.gumbel_tau, noise=gumbel_noise_at(step, cfg)
                    )
                    pred = net.decoder(feats, x)
                    parts = matting_losses(pred.float(), target, unknown)
                    if teacher is not None:
                        with torch.no_grad():
                            t_outputs = [o for _, o, _ in teacher.backbone.iter_blocks(x)]
                        parts["distill"] = cfg.distill_weight * distillation_loss(outputs, t_outputs)
                    parts["ratio"] = cfg.ratio_weight * batr_loss(policies, cfg.target_ratio)
            loss = sum(parts.values())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            optimizer.step()
            completed = done = step + 1

            if done % cfg.log_every == 0 or done == cfg.steps:
                now = time.perf_counter()
                row = {"step": done, "loss": loss.item(), **{k: v.item() for k, v in parts.items()}, "lr": lr,
                       "sec_per_step": (now - t_last) / cfg.log_every}
                if cfg.stage == "student":
                    shares = [float(p.detach().float().mean()) for p in policies]
                    row["routed"] = sum(shares) / len(shares)
                    row.update({f"routed_{i}": v for i, v in enumerate(shares)})
                t_last = now
                if writer is None:
                    writer = csv.DictWriter(log_file, fieldnames=list(row))
                    if new_log:
                        writer.writeheader()
                writer.writerow(row)
                log_file.flush()
                if progress:
                    progress(row)
            if done % cfg.checkpoint_every == 0 or done == cfg.steps:
                _save_run(last, net, optimizer, done, cfg)
    except KeyboardInterrupt:
        _save_run(last, net, optimizer, completed, cfg)
        raise
    finally:
        stop_on_sigterm.__exit__(None, None, None)
        log_file.close()
    return last


def export_run(
    run: str | os.PathLike, out: str | os.PathLike, name: str | None = None, force: bool = False, half: bool = True
) -> Path:
    """Save a run's network as .safetensors in the official key layout (what matteapp ships).

    ``half`` stores fp16 weights: half the file, and inference runs in bf16/fp16 or casts back to fp32
    anyway (the round-off, ~5e-4 relative, is far below what bf16 inference itself changes).
    """
    out = Path(out)
    if out.exists() and not force:
        raise FileExistsError(f"{out} exists (use --force)")
    net = load_run_network(Path(run) / "last.pt" if Path(run).is_dir() else run)
    if name:
        net.config = dataclasses.replace(net.config, name=name)
    return save_network(net, out, dtype=torch.float16 if half else None)


__all__ = ["TrainConfig", "copy_shared_weights", "export_run", "init_from_timm", "load_run_network", "lr_at", "train"]

