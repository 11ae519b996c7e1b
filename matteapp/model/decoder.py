"""ViTMatte's detail-capture decoder: a light conv stream fused with the ViT features, coarse to fine."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


class ConvBNReLU(nn.Module):
    """3×3 conv (no bias) + BatchNorm + ReLU; ``conv`` / ``bn`` names match the official checkpoints."""

    def __init__(self, in_ch: int, out_ch: int, stride: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, 3, stride, 1, bias=False)
        self.bn = nn.BatchNorm2d(out_ch)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn(self.conv(x)))


class ConvStream(nn.Module):
    """Stride-2 conv stages on the raw 4-channel input; returns [input, 1/2, 1/4, 1/8] maps."""

    def __init__(self, in_ch: int = 4, widths: Sequence[int] = (48, 96, 192)):
        super().__init__()
        chans = [in_ch, *widths]
        self.convs = nn.ModuleList(ConvBNReLU(chans[i], chans[i + 1], stride=2) for i in range(len(widths)))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        maps = [x]
        for conv in self.convs:
            maps.append(conv(maps[-1]))
        return maps


class FusionBlock(nn.Module):
    """Upsample features ×2, concatenate with the detail map of that scale, 3×3 conv."""

    def __init__(self, in_ch: int, out_ch: int):
        super().__init__()
        self.conv = ConvBNReLU(in_ch, out_ch, stride=1)

    def forward(self, features: torch.Tensor, detail: torch.Tensor) -> torch.Tensor:
        up = F.interpolate(features, scale_factor=2, mode="bilinear", align_corners=False)
        return self.conv(torch.cat([detail, up], dim=1))


class MattingHead(nn.Module):
    def __init__(self, in_ch: int = 32, mid_ch: int = 16):
        super().__init__()
        self.matting_convs = nn.Sequential(
            nn.Conv2d(in_ch, mid_ch, 3, 1, 1), nn.BatchNorm2d(mid_ch), nn.ReLU(inplace=True), nn.Conv2d(mid_ch, 1, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.matting_convs(x)


class DetailCapture(nn.Module):
    """Decoder: (features at 1/16, 4-channel input) → alpha in [0, 1] at full resolution."""

    # Context a tile needs on each side so that its centre equals the untiled result (receptive field
    # of the decoder is < 48 px; 64 keeps tile origins on the 16-px feature grid).
    TILE_CONTEXT = 64

    def __init__(
        self,
        in_chans: int = 384,
        img_chans: int = 4,
        convstream_widths: Sequence[int] = (48, 96, 192),
        fusion_widths: Sequence[int] = (256, 128, 64, 32),
        head_mid: int = 16,
    ):
        super().__init__()
        if len(fusion_widths) != len(convstream_widths) + 1:
            raise ValueError("fusion_widths needs one stage more than convstream_widths")
        self.convstream = ConvStream(img_chans, convstream_widths)
        detail_chans = [img_chans, *convstream_widths][::-1]
        ins = [in_chans, *fusion_widths[:-1]]
        self.fusion_blks = nn.ModuleList(
            FusionBlock(ins[i] + detail_chans[i], fusion_widths[i]) for i in range(len(fusion_widths))
        )
        self.matting_head = MattingHead(fusion_widths[-1], head_mid)

    def forward(self, features: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        details = self.convstream(images)[::-1]
        x = features
        for blk, detail in zip(self.fusion_blks, details):
            x = blk(x, detail)
        return torch.sigmoid(self.matting_head(x))
