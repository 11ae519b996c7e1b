"""Dockable side panels of the main window: they present state and emit requests, nothing more."""

from matteapp.gui.widgets.routing_panel import RoutingPanel
from matteapp.gui.widgets.run_panel import RunPanel
from matteapp.gui.widgets.tool_options_panel import ToolOptionsPanel

__all__ = ["RoutingPanel", "RunPanel", "ToolOptionsPanel"]
