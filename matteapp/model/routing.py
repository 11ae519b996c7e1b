"""MEMatte's token routing: the per-block router and the Lightweight Token Refinement Module (LTRM)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def eca_kernel_size(channels: int) -> int:
    """ECA-Net's adaptive kernel size: odd, growing with log2(channels) (5 for 384/768, 3 for 96)."""
    k = int(math.log2(channels) / 2 + 0.5)
    return k if k % 2 else k + 1


class Router(nn.Module):
    """Scores each token for global attention (MEMatte's router, a DynamicViT-style predictor).

    Half of the projected features stay per token; the other half is averaged over the tokens the
    policy keeps (all of them at inference) so every decision also sees the image as a whole.
    Output: (B, N, 2) log-probabilities; index 0 = "route to global attention".
    """

    def __init__(self, dim: int):
        super().__init__()
        self.in_conv = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, dim), nn.GELU())
        self.out_conv = nn.Sequential(
            nn.Linear(dim, dim // 2),
            nn.GELU(),
            nn.Linear(dim // 2, dim // 4),
            nn.GELU(),
            nn.Linear(dim // 4, 2),
            nn.LogSoftmax(dim=-1),
        )

    def forward(
        self,
        x: torch.Tensor,
        policy: torch.Tensor | None = None,
        global_mean: torch.Tensor | None = None,
        means: list[torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """``global_mean`` (B, 1, C/2): use this average instead of the tokens' own (a window of a photo
        scored as in the whole photo); ``means``: append the average used to this list."""
        x = self.in_conv(x)
        half = x.shape[-1] // 2
        local_x, global_x = x[..., :half], x[..., half:]
        if global_mean is not None:
            global_x = global_mean.to(global_x.dtype)
        elif policy is None:
            global_x = global_x.mean(dim=1, keepdim=True)
        else:  # (B, N, 1) weights in [0, 1]
            global_x = (global_x * policy).sum(1, keepdim=True) / policy.sum(1, keepdim=True).clamp_min(1e-6)
        if means is not None:
            means.append(global_x)
        x = torch.cat([local_x, global_x.expand_as(local_x)], dim=-1)
        return self.out_conv(x)


def routing_margin(log_probs: torch.Tensor) -> torch.Tensor:
    """score[0] − score[1]: positive means the router sends the token to global attention."""
    return log_probs[..., 0] - log_probs[..., 1]


def select_routed(margin: torch.Tensor, max_tokens: int | None) -> torch.Tensor:
    """Indices (sorted) of the tokens routed to global attention for one image's (N,) margins.

    A token is routed when its margin is positive; with ``max_tokens`` only the ``max_tokens`` most
    confident of those are kept, which bounds the memory of the global block.
    """
    idx = torch.nonzero(margin > 0, as_tuple=False).flatten()
    if max_tokens is not None and idx.numel() > max_tokens:
        top = torch.topk(margin[idx], k=max(int(max_tokens), 0)).indices
        idx = idx[top].sort().values
    return idx


class ECA(nn.Module):
    """Efficient channel attention: a 1-D conv across the globally pooled channel descriptor."""

    def __init__(self, channels: int, kernel_size: int | None = None):
        super().__init__()
        k = kernel_size or eca_kernel_size(channels)
        self.conv = nn.Conv1d(1, 1, kernel_size=k, padding=k // 2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, H, W, C) → channel weights (B, 1, 1, C) before the sigmoid."""
        b, _, _, c = x.shape
        pooled = x.mean(dim=(1, 2)).reshape(b, 1, c)
        return self.conv(pooled).reshape(b, 1, 1, c)


LTRM_CHUNK_TOKENS = 32768
"""Above this many tokens the LTRM runs in slabs of rows at inference (see :meth:`TokenRefinement.forward`)."""


class TokenRefinement(nn.Module):
    """LTRM: the cheap path for tokens the router keeps out of global attention.

    Linear expand → GELU → depthwise 5×5 conv on the token grid → GELU → Linear project, then the
    result is re-weighted by ECA channel attention (y + y·σ(ECA(y))).
    """

    def __init__(self, dim: int, expansion: int = 2, kernel_size: int = 5, eca_kernel: int | None = None):
        super().__init__()
        hidden = dim * expansion
        self.fc1 = nn.Linear(dim, hidden)
        self.dwconv = nn.Conv2d(hidden, hidden, kernel_size, padding=kernel_size // 2, groups=hidden)
        self.fc2 = nn.Linear(hidden, dim)
        self.eca = ECA(dim, eca_kernel)

    def _refine(self, x: torch.Tensor) -> torch.Tensor:
        y = F.gelu(self.fc1(x))
        y = self.dwconv(y.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        return self.fc2(F.gelu(y))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, H, W, C) → (B, H, W, C)."""
        b, h, w, _ = x.shape
        if torch.is_grad_enabled() or h * w <= LTRM_CHUNK_TOKENS:
            y = self._refine(x)
        else:
            # MEMatte runs the LTRM on every token of a routed block: its expanded hidden layers
            # (4 × 2C values a token) were the largest allocation of the whole backbone on big photos.
            # Slabs of rows with a halo as wide as the conv's reach give the same values.
            rows = max(1, LTRM_CHUNK_TOKENS // w)
            reach = self.dwconv.padding[0]
            y = None
            for r0 in range(0, h, rows):
                r1 = min(h, r0 + rows)
                a0, a1 = max(0, r0 - reach), min(h, r1 + reach)
                part = self._refine(x[:, a0:a1])[:, r0 - a0 : r1 - a0]
                if y is None:
                    y = part.new_empty((b, h, w, part.shape[-1]))
                y[:, r0:r1] = part
        return y + y * torch.sigmoid(self.eca(y))
