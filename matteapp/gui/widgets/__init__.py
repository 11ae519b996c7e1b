"""Dockable side panels of the main window: they present state and emit requests, nothing more."""

from .routing_panel import RoutingPanel
from .run_panel import RunPanel
from .tool_options_panel import ToolOptionsPanel

__all__ = ["RoutingPanel", "RunPanel", "ToolOptionsPanel"]
