"""Plain ViT backbone of ViTMatte / MEMatte: window blocks, global blocks, residual conv necks, routing."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from timm.layers import LayerNorm2d, Mlp
from torch import nn

from matteapp.model.attention import Attention, attend
from matteapp.model.routing import Router, TokenRefinement, routing_margin, select_routed

Tick = Callable[[], None]
# Tokens per slab of the MLP at inference (bounds the 4×D hidden activation: 32k × 1536 × 4 B = 200 MB).
MLP_CHUNK_TOKENS = 32768


def window_partition(x: torch.Tensor, window: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """(B, H, W, C) → (B·nW, window, window, C), zero-padding H and W up to multiples of ``window``.

    The padded tokens take part in attention as keys, unmasked, exactly as in the official models.
    """
    b, h, w, c = x.shape
    pad_h, pad_w = (-h) % window, (-w) % window
    if pad_h or pad_w:
        x = F.pad(x, (0, 0, 0, pad_w, 0, pad_h))
    hp, wp = h + pad_h, w + pad_w
    x = x.view(b, hp // window, window, wp // window, window, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, window, window, c), (hp, wp)


def window_unpartition(windows: torch.Tensor, window: int, padded: tuple[int, int], size: tuple[int, int]) -> torch.Tensor:
    hp, wp = padded
    h, w = size
    b = windows.shape[0] // ((hp // window) * (wp // window))
    x = windows.view(b, hp // window, wp // window, window, window, -1).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(b, hp, wp, -1)[:, :h, :w].contiguous()


def resize_abs_pos(pos_embed: torch.Tensor, grid: tuple[int, int], has_cls: bool = True) -> torch.Tensor:
    """(1, 1+S², C) pretraining position table → (1, H, W, C), resized bicubically when needed."""
    pos = pos_embed[:, 1:] if has_cls else pos_embed
    size = int(round(pos.shape[1] ** 0.5))
    pos = pos.reshape(1, size, size, -1)
    if (size, size) != tuple(grid):
        pos = F.interpolate(pos.permute(0, 3, 1, 2).float(), size=grid, mode="bicubic", align_corners=False)
        pos = pos.permute(0, 2, 3, 1).to(pos_embed.dtype)
    return pos


class PatchEmbed(nn.Module):
    def __init__(self, in_chans: int, dim: int, patch: int):
        super().__init__()
        self.proj = nn.Conv2d(in_chans, dim, kernel_size=patch, stride=patch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).permute(0, 2, 3, 1)  # (B, H, W, C)


class ResBottleneck(nn.Module):
    """1×1 → 3×3 → 1×1 conv bottleneck with channels-first LayerNorms, added to its input."""

    def __init__(self, dim: int, bottleneck: int):
        super().__init__()
        self.conv1 = nn.Conv2d(dim, bottleneck, 1, bias=False)
        self.norm1 = LayerNorm2d(bottleneck, eps=1e-6)
        self.act1 = nn.GELU()
        self.conv2 = nn.Conv2d(bottleneck, bottleneck, 3, padding=1, bias=False)
        self.norm2 = LayerNorm2d(bottleneck, eps=1e-6)
        self.act2 = nn.GELU()
        self.conv3 = nn.Conv2d(bottleneck, dim, 1, bias=False)
        self.norm3 = LayerNorm2d(dim, eps=1e-6)
        # Start as the identity so a fresh neck does not disturb the backbone it is added to.
        nn.init.zeros_(self.norm3.weight)
        nn.init.zeros_(self.norm3.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, H, W, C) channels-last; the convs run channels-first."""
        y = x.permute(0, 3, 1, 2)
        out = self.act1(self.norm1(self.conv1(y)))
        out = self.act2(self.norm2(self.conv2(out)))
        out = self.norm3(self.conv3(out))
        return (y + out).permute(0, 2, 3, 1)


class Block(nn.Module):
    """Pre-norm transformer block on a (B, H, W, C) grid.

    ``window_size > 0``: window attention.  ``window_size == 0``: global attention; with
    ``refinement`` (MEMatte) only the tokens a router selects attend globally, the rest go through
    the LTRM.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        window_size: int = 0,
        rel_pos_size: int | None = None,
        residual: bool = False,
        refinement: bool = False,
        eca_kernel: int | None = None,
    ):
        super().__init__()
        self.window_size = window_size
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, num_heads, qkv_bias=qkv_bias, rel_pos_size=rel_pos_size)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), act_layer=nn.GELU)
        self.residual = ResBottleneck(dim, dim // 2) if residual else None
        self.efficient_block = TokenRefinement(dim, eca_kernel=eca_kernel) if refinement else None

    @property
    def routed(self) -> bool:
        return self.efficient_block is not None

    def _finish(self, x: torch.Tensor, tick: Tick | None = None) -> torch.Tensor:
        if torch.is_grad_enabled() or x.shape[1] * x.shape[2] <= MLP_CHUNK_TOKENS:
            x = x + self.mlp(self.norm2(x))
        else:
            # The 4×-wide hidden layer dominates activation memory on huge photos: run it in slabs
            # of rows, in place (inference only).
            rows = max(1, MLP_CHUNK_TOKENS // x.shape[2])
            for r0 in range(0, x.shape[1], rows):
                sl = x[:, r0 : r0 + rows]
                sl += self.mlp(self.norm2(sl)).to(sl.dtype)
                if tick is not None:
                    tick()
        if self.residual is not None:
            x = self.residual(x)
        return x

    def forward(self, x: torch.Tensor, tick: Tick | None = None) -> torch.Tensor:
        """Un-routed path (window blocks, ViTMatte's global blocks)."""
        b, h, w, c = x.shape
        y = self.norm1(x)
        if self.window_size > 0:
            windows, padded = window_partition(y, self.window_size)
            y = window_unpartition(self.attn.forward_grid(windows, tick), self.window_size, padded, (h, w))
        else:
            y = self.attn.forward_grid(y, tick)
        return self._finish(x + y, tick)

    def forward_routed(
        self,
        x: torch.Tensor,
        routed: Sequence[torch.Tensor],
        tick: Tick | None = None,
        extra_kv: tuple[torch.Tensor, torch.Tensor] | None = None,
        keep_kv: list | None = None,
    ) -> torch.Tensor:
        """Inference path of a routed block: ``routed[b]`` holds the flat indices of image b's
        tokens that attend globally (among themselves, without positional terms).

        ``extra_kv`` (keys, values), each (heads, n, head dim): further routed tokens the queries also
        attend to (those of the rest of the photo when ``x`` is a window of it; batch of one).
        ``keep_kv``: append each image's routed (keys, values) to this list."""
        b, h, w, c = x.shape
        y = self.efficient_block(x).reshape(b, h * w, c)
        flat = x.reshape(b, h * w, c)
        for i, idx in enumerate(routed):
            if not idx.numel():
                if keep_kv is not None:
                    empty = flat.new_zeros((self.attn.num_heads, 0, self.attn.head_dim))
                    keep_kv.append((empty, empty))
                continue
            q, k, v = self.attn._qkv(self.norm1(flat[i, idx].unsqueeze(0)))
            if keep_kv is not None:
                keep_kv.append((k[0], v[0]))
            if extra_kv is not None and extra_kv[0].shape[1]:
                k = torch.cat([k, extra_kv[0][None].to(k.dtype)], dim=2)
                v = torch.cat([v, extra_kv[1][None].to(v.dtype)], dim=2)
            out = self.attn._merge(attend(q, k, v))
            y[i].index_copy_(0, idx, out[0].to(y.dtype))
            if tick is not None:
                tick()
        return self._finish(x + y.reshape(b, h, w, c), tick)

    def forward_policy(self, x: torch.Tensor, policy: torch.Tensor) -> torch.Tensor:
        """Training path: ``policy`` (B, N, 1) in {0, 1} (straight-through Gumbel decisions).

        Every token is computed both ways; attention is masked so tokens only see routed keys (and
        themselves), which equals inference-time routing for the hard decisions while letting the
        gradient reach the router through the mix.
        """
        b, h, w, c = x.shape
        n = h * w
        y_cheap = self.efficient_block(x).reshape(b, n, c)
        keep = policy.detach().reshape(b, 1, 1, n) > 0.5
        keep = keep | torch.eye(n, dtype=torch.bool, device=x.device).view(1, 1, n, n)
        y_attn = self.attn.forward_tokens(self.norm1(x.reshape(b, n, c)), attn_mask=keep)
        y = policy * y_attn + (1.0 - policy) * y_cheap
        return self._finish(x + y.reshape(b, h, w, c))


@dataclass
class PhotoContext:
    """What the routed blocks of one run saw of the whole photo, so that a later run on a window of it
    (a local update after an edit) can score and attend as the whole-photo run did: per routed block
    the routers' global average and the keys and values of the tokens sent to global attention, with
    their flat positions on the photo's token ``grid``.  Batch of one."""

    grid: tuple[int, int]
    owner: int = 0  # id() of the network that kept it: another model's context means nothing
    means: list[torch.Tensor] = field(default_factory=list)      # (1, 1, C/2) each
    keys: list[torch.Tensor] = field(default_factory=list)       # (heads, k, head dim) each
    values: list[torch.Tensor] = field(default_factory=list)
    positions: list[torch.Tensor] = field(default_factory=list)  # (k,) each

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in (*self.means, *self.keys, *self.values, *self.positions))

    def outside(self, j: int, offset: tuple[int, int], grid: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Routed block ``j``'s keys and values of the tokens outside the window of token ``grid`` (h, w)
        at token ``offset`` (y, x) — those a run on the window does not compute itself."""
        pos = self.positions[j]
        r, c = pos // self.grid[1], pos % self.grid[1]
        inside = (r >= offset[0]) & (r < offset[0] + grid[0]) & (c >= offset[1]) & (c < offset[1] + grid[1])
        return self.keys[j][:, ~inside], self.values[j][:, ~inside]


@dataclass
class RoutingDecision:
    """What the router in front of a routed block decided for a batch."""

    block: int                 # index of the block in the backbone
    log_probs: torch.Tensor    # (B, N, 2)
    routed: list[torch.Tensor]  # per image: flat token indices sent to global attention
    grid: tuple[int, int]

    def masks(self) -> torch.Tensor:
        """(B, H, W) bool: True where the token was sent to global attention."""
        b = self.log_probs.shape[0]
        m = torch.zeros(b, self.grid[0] * self.grid[1], dtype=torch.bool, device=self.log_probs.device)
        for i, idx in enumerate(self.routed):
            m[i, idx] = True
        return m.reshape(b, *self.grid)

    def probabilities(self) -> torch.Tensor:
        """(B, H, W) router probability of global attention."""
        return self.log_probs[..., 0].float().exp().reshape(-1, *self.grid)


class ViTBackbone(nn.Module):
    def __init__(
        self,
        in_chans: int = 4,
        patch_size: int = 16,
        embed_dim: int = 384,
        depth: int = 12,
        num_heads: int = 6,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        pretrain_grid: int = 14,
        window_size: int = 14,
        global_blocks: Sequence[int] = (2, 5, 8, 11),
        residual_blocks: Sequence[int] = (2, 5, 8, 11),
        window_rel_pos: bool = True,
        global_rel_pos_size: int | None = None,
        routed: bool = True,
        eca_kernel: int | None = None,
    ):
        super().__init__()
        self.patch_size = patch_size
        self.embed_dim = embed_dim
        self.patch_embed = PatchEmbed(in_chans, embed_dim, patch_size)
        self.pos_embed = nn.Parameter(torch.zeros(1, pretrain_grid * pretrain_grid + 1, embed_dim))
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        blocks = []
        for i in range(depth):
            is_global = i in global_blocks
            blocks.append(
                Block(
                    embed_dim,
                    num_heads,
                    mlp_ratio,
                    qkv_bias,
                    window_size=0 if is_global else window_size,
                    rel_pos_size=(global_rel_pos_size if is_global else (window_size if window_rel_pos else None)),
                    residual=i in residual_blocks,
                    refinement=routed and is_global,
                    eca_kernel=eca_kernel,
                )
            )
        self.blocks = nn.ModuleList(blocks)
        self.routed_blocks = [i for i, blk in enumerate(self.blocks) if blk.routed]
        self.routers = nn.ModuleList(Router(embed_dim) for _ in self.routed_blocks) if routed else nn.ModuleList()

    def embed(self, x: torch.Tensor, window: tuple[tuple[int, int], tuple[int, int]] | None = None) -> torch.Tensor:
        """Patch embedding plus the absolute positions, resized to the token grid; ``window`` ((y, x)
        token offset, (H, W) grid of the whole photo): ``x`` is that window of the photo, and takes the
        positions the whole photo's tokens there have."""
        x = self.patch_embed(x)
        if window is None:
            return x + resize_abs_pos(self.pos_embed, x.shape[1:3]).to(x.dtype)
        (ty, tx), grid = window
        h, w = x.shape[1:3]
        if ty + h > grid[0] or tx + w > grid[1]:
            raise ValueError(f"a {w}×{h}-token window at token ({tx}, {ty}) does not fit the photo's {grid[1]}×{grid[0]} grid")
        return x + resize_abs_pos(self.pos_embed, grid)[:, ty : ty + h, tx : tx + w].to(x.dtype)

    @staticmethod
    def _route(router: Router, tokens: torch.Tensor, global_mean=None, means=None) -> torch.Tensor:
        # Decisions are thresholds on a small margin: score in fp32 even under autocast so that
        # reduced precision elsewhere flips as few of them as possible (the router is cheap).
        with torch.autocast(tokens.device.type, enabled=False):
            return router(tokens.float(), global_mean=global_mean, means=means)

    def iter_blocks(
        self,
        x: torch.Tensor,
        max_global_tokens: int | None = None,
        tick: Tick | None = None,
        keep: PhotoContext | None = None,
        context: tuple[PhotoContext, tuple[int, int]] | None = None,
    ) -> Iterator[tuple[int, torch.Tensor, RoutingDecision | None]]:
        """Run the blocks one at a time (inference): yields (block index, tokens, routing decision).

        The caller can stop between blocks and stream routing maps; ``tick`` is also called between
        the chunks inside a block, so that it can raise to cancel within a fraction of a block.
        ``keep``: an empty :class:`PhotoContext` to fill with what the routed blocks saw (batch of one).
        ``context``: (a kept context, (y, x) token offset): ``x`` is a window of that photo; positions,
        router averages and the global attention's other tokens come from the whole photo's run.
        """
        photo, offset = context if context is not None else (None, (0, 0))
        x = self.embed(x, (offset, photo.grid) if photo is not None else None)
        b, h, w, _ = x.shape
        if (keep is not None or photo is not None) and b != 1:
            raise ValueError("a photo context is kept or used for a batch of one image only")
        if keep is not None:
            keep.grid = (h, w)
        router_of = dict(zip(self.routed_blocks, self.routers))
        for i, blk in enumerate(self.blocks):
            decision = None
            if blk.routed:
                j = self.routed_blocks.index(i)
                mean = photo.means[j] if photo is not None else None
                log_probs = self._route(router_of[i], x.reshape(b, h * w, -1), mean, keep.means if keep is not None else None)
                margin = routing_margin(log_probs)
                routed = [select_routed(margin[k], max_global_tokens) for k in range(b)]
                decision = RoutingDecision(i, log_probs, routed, (h, w))
                extra = photo.outside(j, offset, (h, w)) if photo is not None else None
                kv = [] if keep is not None else None
                x = blk.forward_routed(x, routed, tick, extra_kv=extra, keep_kv=kv)
                if keep is not None:
                    keep.keys.append(kv[0][0])
                    keep.values.append(kv[0][1])
                    keep.positions.append(routed[0])
            else:
                x = blk(x, tick)
            yield i, x, decision

    def forward(self, x: torch.Tensor, max_global_tokens: int | None = None) -> torch.Tensor:
        """(B, C_in, H, W) → (B, D, H/16, W/16) features."""
        for _, x, _ in self.iter_blocks(x, max_global_tokens):
            pass
        return x.permute(0, 3, 1, 2)

    def forward_train(
        self, x: torch.Tensor, tau: float = 1.0, hard: bool = True, noise: float = 1.0
    ) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
        """Training forward with Gumbel-softmax routing.

        ``noise`` scales the Gumbel noise (1: standard Gumbel-softmax).  Annealing it to 0 makes the
        training decisions the inference decisions (probability > 0.5): with full noise a router whose
        probabilities all sit below 0.5 still routes its share in training and none at inference.

        Returns (features (B, D, h, w), per-routed-block policies (B, N) in {0, 1} carrying
        straight-through gradients, per-block outputs (B, h, w, D) for feature distillation).
        """
        x = self.embed(x)
        b, h, w, _ = x.shape
        policies, outputs = [], []
        router_of = dict(zip(self.routed_blocks, self.routers))
        for i, blk in enumerate(self.blocks):
            if blk.routed:
                log_probs = router_of[i](x.reshape(b, h * w, -1))
                policy = _gumbel_policy(log_probs.float(), tau, hard, noise).to(x.dtype)
                policies.append(policy.squeeze(-1))
                x = blk.forward_policy(x, policy)
            else:
                x = blk(x)
            outputs.append(x)
        return x.permute(0, 3, 1, 2), policies, outputs


def _gumbel_policy(log_probs: torch.Tensor, tau: float, hard: bool, noise: float) -> torch.Tensor:
    """(…, 2) router log-probabilities → (…, 1) policy of the "global" class: Gumbel-softmax with the
    noise scaled by ``noise``; ``hard`` gives {0, 1} decisions with straight-through gradients."""
    logits = log_probs
    if noise > 0:
        gumbels = -torch.empty_like(log_probs).exponential_().log()
        logits = logits + noise * gumbels
    soft = (logits / tau).softmax(-1)
    if not hard:
        return soft[..., 0:1]
    index = soft.argmax(-1, keepdim=True)
    hard_y = torch.zeros_like(soft).scatter_(-1, index, 1.0)
    return (hard_y - soft.detach() + soft)[..., 0:1]

