"""Per-block router calibration: make each router send its target share of tokens at inference.

Training routes with Gumbel noise; a router whose "global" probabilities all sit below 0.5 still
routes its share in training and none at inference (the first bundled model routed 33–44 % in its
first global block and nothing in the other three).  Annealing the noise to 0 (``--gumbel-anneal``)
aligns training with inference but leaves saturated routers stuck, since their straight-through
gradient vanishes.  This step shifts each router's "global" output bias by the margin quantile that
routes ``target`` of the tokens of a set of training photos — block by block, because a block's
routing changes the features the next router sees.  Only a threshold moves: which tokens rank
highest is still the router's own choice, and the images' differences in routed share remain.
"""

from __future__ import annotations

import numpy as np
import torch

from matteapp.model.network import MattingNetwork
from matteapp.model.predictor import prepare_input
from matteapp.model.routing import routing_margin


@torch.inference_mode()
def _margins(net: MattingNetwork, inputs: list[torch.Tensor], router_index: int) -> torch.Tensor:
    """The routing margins of ``router_index`` over every token of every input (current routing)."""
    block = net.backbone.routed_blocks[router_index]
    out = []
    for x in inputs:
        for i, tokens, decision in net.backbone.iter_blocks(x):
            if i == block:
                out.append(routing_margin(decision.log_probs.float()).flatten())
                break
    return torch.cat(out)


def calibrate_routers(
    net: MattingNetwork, samples: list[tuple[np.ndarray, np.ndarray]], target: float = 0.25
) -> list[dict]:
    """Shift the routers of ``net`` (in place) so that each routes ``target`` of the tokens of
    ``samples`` ((image H×W×3 uint8, trimap H×W uint8) pairs, training photos only).

    Returns, per router: the shift applied and the routed share before and after.
    """
    if not net.config.routed:
        raise ValueError("calibration needs a routed (MEMatte) network")
    if not 0.0 < target < 1.0:
        raise ValueError(f"target must be in (0, 1), got {target}")
    net = net.eval()
    cfg = net.config
    inputs = [prepare_input(image, trimap, cfg.pixel_mean, cfg.pixel_std, cfg.size_divisor, torch.device("cpu")) for image, trimap in samples]
    report = []
    for k, router in enumerate(net.backbone.routers):
        margins = _margins(net, inputs, k)
        before = float((margins > 0).float().mean())
        # route the tokens whose margin is in the top `target`: shift the threshold to that quantile
        shift = -float(torch.quantile(margins.double(), 1.0 - target))
        last = router.out_conv[-2]
        with torch.no_grad():
            last.bias[0] += shift / 2
            last.bias[1] -= shift / 2
        after = float((_margins(net, inputs, k) > 0).float().mean())
        report.append({"router": k, "block": net.backbone.routed_blocks[k], "shift": shift, "before": before, "after": after})
    return report


__all__ = ["calibrate_routers"]
