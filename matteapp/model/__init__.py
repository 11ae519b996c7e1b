"""Neural network modules of ViTMatte / MEMatte and their builders (no I/O, no checkpoints)."""

from .build import build_model, preset_config, preset_names
from .network import MattingConfig, MattingNetwork
from .vit import RoutingDecision

__all__ = ["MattingConfig", "MattingNetwork", "RoutingDecision", "build_model", "preset_config", "preset_names"]
