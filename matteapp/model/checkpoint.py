"""Safe loading of ViTMatte / MEMatte checkpoints in every layout users meet, and saving our own.

Layouts understood (one ``_convert_*`` per foreign layout, as timm does):

* official (detectron2 trainers of ViTMatte and MEMatte): ``torch.save({'model': sd})`` or a flat
  state dict with ``backbone.*`` / ``decoder.*`` keys; a distillation teacher (``teacher_backbone.*``)
  is dropped;
* Hugging Face ``VitMatteForImageMatting`` (``backbone.embeddings.*``, ``backbone.encoder.layer.N.*``,
  ``decoder.fusion_blocks``, ``batch_norm``), whose processor normalizes with mean = std = 0.5;
* ``.safetensors`` files of either layout, and matteapp's own (which carry the config as metadata).

The architecture is inferred from the tensors, so no config file is needed.  Pickles are read with
``weights_only=True`` only: a file that needs arbitrary code to unpickle is refused.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import zipfile
from collections import Counter
from pathlib import Path

import torch

from matteapp.model import MattingConfig, MattingNetwork
from matteapp.model.build import build_model

CONFIG_METADATA_KEY = "matteapp_config"


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used, with a message that says why."""


# --------------------------------------------------------------------------------------------- reading


def read_state_dict(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors and metadata of a checkpoint file, without interpreting the keys."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: the file is empty")
    with open(path, "rb") as fh:
        head = fh.read(16)
    if path.suffix == ".safetensors" or _looks_like_safetensors(head):
        return _read_safetensors(path)
    # torch.save writes a zip (PK…) or, with the legacy format, a raw pickle (protocol byte 0x80);
    # a truncated zip loses its central directory, so sniff the local-header magic, not is_zipfile.
    if not (head[:2] == b"PK" or head[:1] == b"\x80"):
        raise CheckpointError(
            f"{path}: not a PyTorch checkpoint (.pth/.pt) or .safetensors file (unrecognised header {head[:8]!r})"
        )
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # The weights-only unpickler names a forbidden GLOBAL (a class or function that unpickling would
        # import and call); anything else is a stream it could not parse.
        forbidden = [line.strip() for line in str(exc).splitlines() if "GLOBAL" in line]
        if forbidden:
            raise CheckpointError(
                f"{path}: refused to load — the file holds pickled objects other than tensors, which could "
                f"run code on this computer; only plain weight files are accepted ({forbidden[0][:200]})"
            ) from None
        raise CheckpointError(f"{path}: the checkpoint is damaged or truncated (its pickle data cannot be read)") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: the checkpoint is damaged or truncated ({_first_line(exc)})") from None
    return _unwrap(obj, path), {}


def _looks_like_safetensors(head: bytes) -> bool:
    # 8-byte little-endian header length followed by a JSON object.
    return len(head) >= 9 and head[8:9] == b"{"


def _read_safetensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    from safetensors import SafetensorError, safe_open

    try:
        tensors = {}
        with safe_open(str(path), framework="pt", device="cpu") as f:
            metadata = dict(f.metadata() or {})
            for key in f.keys():
                tensors[key] = f.get_tensor(key)
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: not a valid .safetensors file ({_first_line(exc)})") from None
    return tensors, metadata


def _unwrap(obj, path: Path) -> dict[str, torch.Tensor]:
    for key in ("model", "state_dict", "model_state_dict"):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict) or not obj:
        raise CheckpointError(f"{path}: expected a state dict (or {{'model': state_dict}}), found {type(obj).__name__}")
    not_tensors = [k for k, v in obj.items() if not isinstance(v, torch.Tensor)]
    if not_tensors:
        raise CheckpointError(f"{path}: entries that are not tensors: {', '.join(map(str, not_tensors[:5]))}")
    return dict(obj)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


# ------------------------------------------------------------------------------------------ converting

_HF_RENAMES = [
    (re.compile(r"^backbone\.embeddings\.position_embeddings$"), "backbone.pos_embed"),
    (re.compile(r"^backbone\.embeddings\.projection\."), "backbone.patch_embed.proj."),
    (re.compile(r"^backbone\.encoder\.layer\."), "backbone.blocks."),
    (re.compile(r"\.attention\."), ".attn."),
    (re.compile(r"^decoder\.fusion_blocks\."), "decoder.fusion_blks."),
    (re.compile(r"\.batch_norm\."), ".bn."),
]


def detect_layout(sd: dict[str, torch.Tensor]) -> str:
    keys = list(sd)
    if any(k.startswith(("backbone.embeddings.", "backbone.encoder.layer.")) for k in keys):
        return "huggingface"
    if any(k.startswith("backbone.blocks.") for k in keys) and any(k.startswith("decoder.") for k in keys):
        return "official"
    sample = ", ".join(keys[:4])
    raise CheckpointError(
        "not a ViTMatte/MEMatte checkpoint: expected 'backbone.blocks.*' and 'decoder.*' keys "
        f"(official layout) or 'backbone.encoder.layer.*' (Hugging Face layout), found e.g. {sample}"
    )


def _convert_official(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out = {}
    for k, v in sd.items():
        if k.startswith("module."):  # saved from DistributedDataParallel
            k = k[len("module."):]
        if k.startswith("teacher_backbone."):
            continue
        out[k] = v
    return out


def _convert_huggingface(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out = {}
    for k, v in sd.items():
        for pattern, repl in _HF_RENAMES:
            k = pattern.sub(repl, k)
        out[k] = v
    return out


def convert_state_dict(sd: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], str]:
    """Official-layout state dict (what :class:`MattingNetwork` loads) and the source layout's name."""
    sd = _convert_official(sd)
    layout = detect_layout(sd)
    if layout == "huggingface":
        sd = _convert_huggingface(sd)
    unknown = sorted({k.split(".")[0] for k in sd} - {"backbone", "decoder"})
    if unknown:
        raise CheckpointError(f"unexpected top-level entries in checkpoint: {', '.join(unknown)}")
    return sd, layout


# ------------------------------------------------------------------------------------------- inferring


def _block_indices(sd: dict[str, torch.Tensor], suffix: str) -> list[int]:
    pat = re.compile(r"^backbone\.blocks\.(\d+)\." + re.escape(suffix))
    return sorted({int(m.group(1)) for k in sd if (m := pat.match(k))})


def _indexed(sd: dict[str, torch.Tensor], prefix: str, suffix: str) -> list[torch.Tensor]:
    pat = re.compile("^" + re.escape(prefix) + r"(\d+)\." + re.escape(suffix) + "$")
    found = {int(m.group(1)): v for k, v in sd.items() if (m := pat.match(k))}
    return [found[i] for i in sorted(found)]


def _need(sd: dict[str, torch.Tensor], key: str) -> torch.Tensor:
    if key not in sd:
        raise CheckpointError(f"checkpoint lacks '{key}', so its architecture cannot be determined")
    return sd[key]


def infer_config(sd: dict[str, torch.Tensor], name: str = "checkpoint", **overrides) -> MattingConfig:
    """Derive the architecture from an official-layout state dict's tensor shapes."""
    pos = _need(sd, "backbone.pos_embed")
    patch = _need(sd, "backbone.patch_embed.proj.weight")
    dim = pos.shape[-1]
    n_pos = pos.shape[1] - 1
    grid = int(round(n_pos**0.5))
    if grid * grid != n_pos:
        raise CheckpointError(f"backbone.pos_embed has {pos.shape[1]} slots; expected a class slot plus a square grid")
    depth = len(_block_indices(sd, "norm1.weight"))
    if depth == 0:
        raise CheckpointError("checkpoint has no transformer blocks (backbone.blocks.N.*)")

    rel_len = {i: sd[f"backbone.blocks.{i}.attn.rel_pos_h"].shape[0] for i in _block_indices(sd, "attn.rel_pos_h")}
    refined = _block_indices(sd, "efficient_block.fc1.weight")
    residual = _block_indices(sd, "residual.conv1.weight")
    routers = _indexed(sd, "backbone.routers.", "in_conv.1.weight")
    if rel_len:
        head_dim = sd[f"backbone.blocks.{next(iter(rel_len))}.attn.rel_pos_h"].shape[1]
    else:  # no positional tables: fall back to the ViT convention of 64-dim heads
        head_dim = 64
    if dim % head_dim:
        raise CheckpointError(f"embed dim {dim} is not a multiple of the relative-position head dim {head_dim}")

    routed = bool(refined)
    if routed and len(routers) != len(refined):
        raise CheckpointError(f"{len(refined)} routed blocks but {len(routers)} routers")
    if routers and not routed:
        raise CheckpointError("checkpoint has routers but no token-refinement blocks (efficient_block)")
    if routed:
        global_blocks = refined
    elif rel_len and len(rel_len) < depth:
        # Only some blocks carry tables: either the global blocks dropped theirs or the window blocks
        # never had any.  Global blocks are the few (4 of 12 in every official model).
        without = [i for i in range(depth) if i not in rel_len]
        global_blocks = without if len(without) <= len(rel_len) else sorted(rel_len)
    elif rel_len and len(set(rel_len.values())) > 1:
        window_len = Counter(rel_len.values()).most_common(1)[0][0]
        global_blocks = [i for i, n in rel_len.items() if n != window_len]
    else:
        global_blocks = [i for i in (2, 5, 8, 11) if i < depth]
    window_blocks = [i for i in range(depth) if i not in global_blocks]
    window_lens = {rel_len[i] for i in window_blocks if i in rel_len}
    if len(window_lens) > 1:
        raise CheckpointError(f"window blocks disagree on their relative-position table sizes: {sorted(window_lens)}")
    window_size = (window_lens.pop() + 1) // 2 if window_lens else 14
    global_lens = {rel_len[i] for i in global_blocks if i in rel_len}
    if len(global_lens) > 1:
        raise CheckpointError(f"global blocks disagree on their relative-position table sizes: {sorted(global_lens)}")

    fc1 = _need(sd, "backbone.blocks.0.mlp.fc1.weight")
    eca = sd.get(f"backbone.blocks.{refined[0]}.efficient_block.eca.conv.weight") if routed else None
    convstream = [w.shape[0] for w in _indexed(sd, "decoder.convstream.convs.", "conv.weight")]
    fusion = [w.shape[0] for w in _indexed(sd, "decoder.fusion_blks.", "conv.conv.weight")]
    head = _need(sd, "decoder.matting_head.matting_convs.0.weight")
    if len(fusion) != len(convstream) + 1:
        raise CheckpointError(f"decoder has {len(convstream)} conv-stream and {len(fusion)} fusion stages")
    fusion0_in = sd["decoder.fusion_blks.0.conv.conv.weight"].shape[1]
    if fusion0_in != dim + convstream[-1]:
        raise CheckpointError(
            f"decoder expects {fusion0_in - convstream[-1]}-channel features but the backbone produces {dim}"
        )
    fields = dict(
        name=name,
        embed_dim=dim,
        num_heads=dim // head_dim,
        depth=depth,
        patch_size=patch.shape[-1],
        in_chans=patch.shape[1],
        mlp_ratio=fc1.shape[0] / dim,
        pretrain_grid=grid,
        window_size=window_size,
        global_blocks=tuple(global_blocks),
        residual_blocks=tuple(residual),
        window_rel_pos=any(i in rel_len for i in window_blocks),
        global_rel_pos_size=(global_lens.pop() + 1) // 2 if global_lens else None,
        routed=routed,
        eca_kernel=int(eca.shape[-1]) if eca is not None else None,
        convstream_widths=tuple(convstream),
        fusion_widths=tuple(fusion),
        head_mid=head.shape[0],
    )
    fields.update(overrides)
    return MattingConfig(**fields)


# --------------------------------------------------------------------------------------------- loading


def load_network(path: str | os.PathLike) -> MattingNetwork:
    """Build the network a checkpoint describes and load its weights (eval mode, CPU, fp32)."""
    path = Path(path)
    raw, metadata = read_state_dict(path)
    try:
        sd, layout = convert_state_dict(raw)
    except CheckpointError as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    overrides = {}
    if layout == "huggingface":
        overrides.update(pixel_mean=(0.5, 0.5, 0.5), pixel_std=(0.5, 0.5, 0.5))
    if CONFIG_METADATA_KEY in metadata:
        stored = json.loads(metadata[CONFIG_METADATA_KEY])
        overrides.update(
            {k: stored[k] for k in ("name", "pixel_mean", "pixel_std") if k in stored}
        )
        overrides = {k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()}
    try:
        config = infer_config(sd, name=overrides.pop("name", path.stem), **overrides)
    except CheckpointError as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    net = build_model(config)
    sd = {k: v.float() if v.is_floating_point() else v for k, v in sd.items()}
    expected = net.state_dict()
    missing = [k for k in expected if k not in sd]
    unexpected = [k for k in sd if k not in expected]
    mismatched = [f"{k} {tuple(sd[k].shape)} vs {tuple(v.shape)}" for k, v in expected.items() if k in sd and sd[k].shape != v.shape]
    problems = []
    if missing:
        problems.append(f"missing {len(missing)} tensors (e.g. {', '.join(missing[:3])})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected tensors (e.g. {', '.join(unexpected[:3])})")
    if mismatched:
        problems.append(f"{len(mismatched)} tensors of the wrong shape (e.g. {'; '.join(mismatched[:3])})")
    if problems:
        raise CheckpointError(f"{path}: does not match the {config.kind} architecture it describes: " + "; ".join(problems))
    net.load_state_dict(sd, strict=True)
    net.source_layout = layout
    return net.eval()


def save_network(
    net: MattingNetwork, path: str | os.PathLike, metadata: dict[str, str] | None = None, dtype: torch.dtype | None = None
) -> Path:
    """Write weights as .safetensors (official key layout, config in the metadata), atomically.

    ``dtype`` (e.g. ``torch.float16``) stores floating-point tensors in that type: half the size, and
    loading casts them back to the network's parameters.
    """
    from safetensors.torch import save_file

    from matteapp.base import write_atomic

    path = Path(path)
    meta = {CONFIG_METADATA_KEY: json.dumps(net.config.to_dict()), **(metadata or {})}
    tensors = {}
    for k, v in net.state_dict().items():
        v = v.detach().cpu()
        if dtype is not None and v.is_floating_point():
            v = v.to(dtype)
        tensors[k] = v.contiguous()
    write_atomic(path, lambda tmp: save_file(tensors, str(tmp), metadata=meta), force=True)
    return path
