"""Multi-head self-attention over a 2-D token grid, through ``scaled_dot_product_attention``.

Three uses share one module (so that official checkpoints map onto ``attn.qkv`` / ``attn.proj`` /
``attn.rel_pos_h`` / ``attn.rel_pos_w``):

* window attention (14×14 windows) with decomposed relative position bias;
* ViTMatte's global attention with decomposed relative position bias over the whole grid, computed in
  query chunks so that the bias never needs N² · heads memory at once;
* MEMatte's routed global attention among an arbitrary subset of tokens, with no positional term.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

MATERIALIZE_SCORES = False
"""Benchmarks only (``bench_suite.py --attention eager``): attend as the official ViTMatte / MEMatte code
does, with the whole N×N score matrix in memory (softmax(q·kᵀ/√d)·v, no query chunks), so that the
memory the paper's comparison is about can be measured against what matteapp's fused kernels hold."""


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, attn_mask: torch.Tensor | None = None) -> torch.Tensor:
    """Scaled dot-product attention: torch's fused kernels, or the eager N×N form (:data:`MATERIALIZE_SCORES`)."""
    if not MATERIALIZE_SCORES:
        return F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
    scores = (q * q.shape[-1] ** -0.5) @ k.transpose(-2, -1)
    if attn_mask is not None:
        scores = scores.masked_fill(~attn_mask, float("-inf")) if attn_mask.dtype == torch.bool else scores + attn_mask
    return scores.softmax(dim=-1) @ v


# Upper bound for one materialized bias block (heads × queries × keys elements).  At fp32 this is
# 256 MB; it bounds the memory of relative-position attention on huge grids.
BIAS_BLOCK_ELEMENTS = 64 * 1024 * 1024


def resize_rel_pos(rel_pos: torch.Tensor, length: int) -> torch.Tensor:
    """Linearly resample a (L, head_dim) relative-position table to ``length`` rows."""
    if rel_pos.shape[0] == length:
        return rel_pos
    resized = F.interpolate(rel_pos.t().unsqueeze(0).float(), size=length, mode="linear")
    return resized.squeeze(0).t().to(rel_pos.dtype)


def rel_pos_table(q_size: int, k_size: int, rel_pos: torch.Tensor) -> torch.Tensor:
    """Relative-position embeddings for every (query, key) coordinate pair along one axis.

    Returns (q_size, k_size, head_dim).  Sizes that differ are scaled to a common range, as in
    the ViTDet formulation the official checkpoints were trained with.
    """
    max_dist = 2 * max(q_size, k_size) - 1
    table = resize_rel_pos(rel_pos, max_dist)
    q_coords = torch.arange(q_size, device=rel_pos.device)[:, None] * max(k_size / q_size, 1.0)
    k_coords = torch.arange(k_size, device=rel_pos.device)[None, :] * max(q_size / k_size, 1.0)
    rel = (q_coords - k_coords) + (k_size - 1) * max(q_size / k_size, 1.0)
    return table[rel.long()]


def decomposed_rel_pos_bias(
    q: torch.Tensor, rh: torch.Tensor, rw: torch.Tensor, q_rows: slice, grid: tuple[int, int]
) -> torch.Tensor:
    """Additive attention bias for queries ``q`` (B, heads, n, hd) lying on rows ``q_rows`` of ``grid``.

    ``rh`` is (Hq, Hk, hd), ``rw`` is (Wq, Wk, hd) from :func:`rel_pos_table`.  The queries cover whole
    grid rows, so the result is (B, heads, n, Hk·Wk).  Note that the bias uses the *unscaled* query,
    as the official implementation does.
    """
    b, h, n, d = q.shape
    rows = q_rows.stop - q_rows.start
    gh, gw = grid
    r_q = q.reshape(b, h, rows, gw, d)
    bias_h = torch.einsum("bhywc,ykc->bhywk", r_q, rh[q_rows].to(q.dtype))
    bias_w = torch.einsum("bhywc,wkc->bhywk", r_q, rw.to(q.dtype))
    kh, kw = rh.shape[1], rw.shape[1]
    bias = bias_h[..., :, None] + bias_w[..., None, :]
    return bias.reshape(b, h, n, kh * kw)


class Attention(nn.Module):
    """Multi-head attention with optional decomposed relative position embeddings.

    ``forward_grid`` takes (B, H, W, C) tokens (a window batch or the whole grid) and attends among all
    of them; ``forward_tokens`` takes (B, N, C) tokens with no positional term (MEMatte's routed path).
    """

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True, rel_pos_size: int | None = None):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        if rel_pos_size is not None:
            self.rel_pos_h = nn.Parameter(torch.zeros(2 * rel_pos_size - 1, self.head_dim))
            self.rel_pos_w = nn.Parameter(torch.zeros(2 * rel_pos_size - 1, self.head_dim))
            nn.init.trunc_normal_(self.rel_pos_h, std=0.02)
            nn.init.trunc_normal_(self.rel_pos_w, std=0.02)
        else:
            self.rel_pos_h = None
            self.rel_pos_w = None

    @property
    def use_rel_pos(self) -> bool:
        return self.rel_pos_h is not None

    def _qkv(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        b, n, _ = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        # SDPA's fused CPU/CUDA kernels want dense (B, heads, N, hd) blocks.
        return q.contiguous(), k.contiguous(), v.contiguous()

    def _merge(self, out: torch.Tensor) -> torch.Tensor:
        b, h, n, d = out.shape
        return self.proj(out.transpose(1, 2).reshape(b, n, h * d))

    def forward_tokens(self, x: torch.Tensor, attn_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Plain attention among the (B, N, C) tokens given; ``attn_mask`` as SDPA takes it."""
        q, k, v = self._qkv(x)
        out = attend(q, k, v, attn_mask=attn_mask)
        return self._merge(out)

    def forward_grid(self, x: torch.Tensor, tick: Callable[[], None] | None = None) -> torch.Tensor:
        """Attention among all tokens of each (H, W) grid in the batch x: (B, H, W, C).

        ``tick`` is called between chunks (cooperative cancellation on huge inputs).
        """
        b, gh, gw, c = x.shape
        n = gh * gw
        if not self.use_rel_pos:
            return self.forward_tokens(x.reshape(b, n, c)).reshape(b, gh, gw, c)
        q, k, v = self._qkv(x.reshape(b, n, c))
        rh = rel_pos_table(gh, gh, self.rel_pos_h)
        rw = rel_pos_table(gw, gw, self.rel_pos_w)
        # Bound the bias block: chunk over the batch (windows) and over query rows (global grids).
        per_row = self.num_heads * gw * n
        rows = max(1, min(gh, BIAS_BLOCK_ELEMENTS // max(per_row, 1)))
        batch_chunk = max(1, BIAS_BLOCK_ELEMENTS // (per_row * gh)) if rows == gh else 1
        if MATERIALIZE_SCORES:
            rows, batch_chunk = gh, b  # as the official code: one N×N block
        out = torch.empty_like(q)
        for b0 in range(0, b, batch_chunk):
            bs = slice(b0, min(b, b0 + batch_chunk))
            for r0 in range(0, gh, rows):
                rs = slice(r0, min(gh, r0 + rows))
                ts = slice(rs.start * gw, rs.stop * gw)
                qc = q[bs, :, ts]
                bias = decomposed_rel_pos_bias(qc, rh, rw, rs, (gh, gw))
                out[bs, :, ts] = attend(qc, k[bs], v[bs], attn_mask=bias)
                if tick is not None:
                    tick()
        return self._merge(out).reshape(b, gh, gw, c)
