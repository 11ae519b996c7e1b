"""The whole matting network (backbone + decoder) and the configuration that describes it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import torch
from torch import nn

from matteapp.model.decoder import DetailCapture
from matteapp.model.vit import ViTBackbone

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class MattingConfig:
    """Everything needed to build a ViTMatte / MEMatte network (and to preprocess its input)."""

    name: str = "mematte-s"
    embed_dim: int = 384
    num_heads: int = 6
    depth: int = 12
    patch_size: int = 16
    in_chans: int = 4
    mlp_ratio: float = 4.0
    pretrain_grid: int = 14
    window_size: int = 14
    global_blocks: tuple[int, ...] = (2, 5, 8, 11)
    residual_blocks: tuple[int, ...] = (2, 5, 8, 11)
    window_rel_pos: bool = True
    global_rel_pos_size: int | None = None  # ViTMatte: 32 (512-px training crops); MEMatte: none
    routed: bool = True
    eca_kernel: int | None = None
    convstream_widths: tuple[int, ...] = (48, 96, 192)
    fusion_widths: tuple[int, ...] = (256, 128, 64, 32)
    head_mid: int = 16
    pixel_mean: tuple[float, float, float] = IMAGENET_MEAN
    pixel_std: tuple[float, float, float] = IMAGENET_STD
    size_divisor: int = 32
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def kind(self) -> str:
        return "MEMatte" if self.routed else "ViTMatte"

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d.pop("extra")
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "MattingConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown model configuration keys: {sorted(unknown)}")
        tuples = {"global_blocks", "residual_blocks", "convstream_widths", "fusion_widths", "pixel_mean", "pixel_std"}
        return cls(**{k: tuple(v) if k in tuples else v for k, v in d.items()})


class MattingNetwork(nn.Module):
    """Input (B, 4, H, W): normalized RGB + trimap/255, H and W multiples of 32 → alpha (B, 1, H, W)."""

    def __init__(self, config: MattingConfig):
        super().__init__()
        self.config = config
        self.backbone = ViTBackbone(
            in_chans=config.in_chans,
            patch_size=config.patch_size,
            embed_dim=config.embed_dim,
            depth=config.depth,
            num_heads=config.num_heads,
            mlp_ratio=config.mlp_ratio,
            pretrain_grid=config.pretrain_grid,
            window_size=config.window_size,
            global_blocks=config.global_blocks,
            residual_blocks=config.residual_blocks,
            window_rel_pos=config.window_rel_pos,
            global_rel_pos_size=config.global_rel_pos_size,
            routed=config.routed,
            eca_kernel=config.eca_kernel,
        )
        self.decoder = DetailCapture(
            in_chans=config.embed_dim,
            img_chans=config.in_chans,
            convstream_widths=config.convstream_widths,
            fusion_widths=config.fusion_widths,
            head_mid=config.head_mid,
        )

    def forward(self, x: torch.Tensor, max_global_tokens: int | None = None) -> torch.Tensor:
        return self.decoder(self.backbone(x, max_global_tokens), x)
