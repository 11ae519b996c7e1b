"""Training losses of ViTMatte / MEMatte.

Matting losses (ViTMatte): L1 over the unknown and over the known region, a Laplacian-pyramid loss
and a gradient penalty.  MEMatte adds feature distillation from a full-attention teacher and BATR,
the batch-level constraint that pulls the fraction of routed tokens toward a target.
All maps are (B, 1, H, W) in [0, 1]; ``unknown`` is a (B, 1, H, W) {0, 1} mask.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def region_l1(pred: torch.Tensor, target: torch.Tensor, region: torch.Tensor) -> torch.Tensor:
    """Mean absolute error over the pixels of ``region`` (the official losses' normalization, which
    keeps a small unknown band as heavy as a large one)."""
    return ((pred - target).abs() * region).sum() / region.sum().clamp_min(1.0)


def _gauss_kernel(device, dtype) -> torch.Tensor:
    k = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0], device=device, dtype=dtype)
    k = torch.outer(k, k)
    return (k / k.sum()).view(1, 1, 5, 5)


def _laplacian_pyramid(x: torch.Tensor, levels: int) -> list[torch.Tensor]:
    kernel = _gauss_kernel(x.device, x.dtype)
    pyramid, current = [], x
    for _ in range(levels):
        blurred = F.conv2d(F.pad(current, (2, 2, 2, 2), mode="replicate"), kernel)
        down = blurred[:, :, ::2, ::2]
        up = torch.zeros_like(current)
        up[:, :, ::2, ::2] = down * 4
        up = F.conv2d(F.pad(up, (2, 2, 2, 2), mode="replicate"), kernel)
        pyramid.append(current - up)
        current = down
    pyramid.append(current)
    return pyramid


def laplacian_loss(pred: torch.Tensor, target: torch.Tensor, region: torch.Tensor, levels: int = 5) -> torch.Tensor:
    """Mean over the ``levels`` band-pass levels of the L1 between Laplacian bands in ``region``,
    level i weighted by 2^i (coarser bands differ less per pixel); the low-pass residual is left out."""
    pred_pyr = _laplacian_pyramid(pred * region, levels)
    target_pyr = _laplacian_pyramid(target * region, levels)
    return sum((2**i) * F.l1_loss(pred_pyr[i], target_pyr[i]) for i in range(levels)) / levels


def _sobel(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], device=x.device, dtype=x.dtype).view(1, 1, 3, 3)
    padded = F.pad(x, (1, 1, 1, 1), mode="replicate")
    return F.conv2d(padded, kx), F.conv2d(padded, kx.transpose(-1, -2))


def gradient_penalty(pred: torch.Tensor, target: torch.Tensor, region: torch.Tensor) -> torch.Tensor:
    """L1 between Sobel gradients in ``region`` plus a small penalty on the prediction's gradients
    (discourages noise in flat areas)."""
    px, py = _sobel(pred)
    tx, ty = _sobel(target)
    return (
        F.l1_loss(px * region, tx * region)
        + F.l1_loss(py * region, ty * region)
        + 0.01 * (px * region).abs().mean()
        + 0.01 * (py * region).abs().mean()
    )


def matting_losses(pred: torch.Tensor, target: torch.Tensor, unknown: torch.Tensor) -> dict[str, torch.Tensor]:
    known = 1.0 - unknown
    return {
        "l1_unknown": region_l1(pred, target, unknown),
        "l1_known": region_l1(pred, target, known),
        "laplacian": laplacian_loss(pred, target, unknown),
        "gradient": gradient_penalty(pred, target, unknown),
    }


def distillation_loss(student: list[torch.Tensor], teacher: list[torch.Tensor]) -> torch.Tensor:
    """Mean over blocks of the MSE between student and (detached) teacher block outputs."""
    if len(student) != len(teacher):
        raise ValueError(f"{len(student)} student vs {len(teacher)} teacher feature maps")
    return sum(F.mse_loss(s.float(), t.detach().float()) for s, t in zip(student, teacher)) / len(student)


def batr_loss(policies: list[torch.Tensor], target: float) -> torch.Tensor:
    """BATR: for each routed block, (fraction of the batch's tokens routed − target)², summed.

    The constraint is on the batch mean, so individual images may route more or fewer tokens
    (hard images more, easy ones fewer), which is what makes the routing adaptive.
    """
    return sum((p.float().mean() - target) ** 2 for p in policies)
