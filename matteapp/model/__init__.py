"""Neural network modules of ViTMatte / MEMatte and their builders (no I/O, no checkpoints)."""

from matteapp.model.build import build_model, preset_config, preset_names
from matteapp.model.network import MattingConfig, MattingNetwork
from matteapp.model.vit import RoutingDecision

__all__ = ["MattingConfig", "MattingNetwork", "RoutingDecision", "build_model", "preset_config", "preset_names"]
