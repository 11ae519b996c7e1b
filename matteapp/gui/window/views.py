"""What the canvas shows: view modes, the backdrop behind the cut-out, comparing with the previous result,
the token grid, zoom, the routing maps as they stream in, and the status-bar labels that describe the view."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np
from PySide6.QtCore import QObject, QSignalBlocker
from PySide6.QtGui import QAction, QActionGroup, QColor
from PySide6.QtWidgets import QColorDialog, QDockWidget, QLabel, QMainWindow

from matteapp.document.state import MatteDocument
from matteapp.gui.canvas import ImageCanvas
from matteapp.gui.widgets import RoutingPanel
from matteapp.gui.widgets.routing_panel import format_megabytes
from matteapp.gui.window.common import CLASS_NAMES, STATUS_MS, Menus, Messages, make_action

VIEW_MODES = {
    # canvas mode: (menu text, key)
    "photo": ("&Photo", "P"),
    "trimap": ("&Trimap", "T"),
    "alpha": ("&Alpha Matte", "A"),
    "cutout": ("&Cutout", "C"),
    "split": ("&Split Photo | Cutout", "S"),
    "routing": ("&Routing", "O"),
}
BACKDROPS = {"checker": "Checkerboard", "black": "Black", "white": "White"}


class ViewPart(QObject):
    """Shows the document on ``canvas`` and its routing in ``routing_panel`` as they change, and owns the
    View menu.  ``cursor_label``, ``zoom_label`` and ``memory_label`` are status-bar labels it keeps current
    (the class under the mouse, the zoom, the undo history's memory).

    :meth:`set_run_active` tells it whether a run is under way (no comparing with a result that is being
    replaced)."""

    def __init__(
        self,
        window: QMainWindow,
        canvas: ImageCanvas,
        routing_panel: RoutingPanel,
        routing_dock: QDockWidget,
        messages: Messages,
        cursor_label: QLabel,
        zoom_label: QLabel,
        memory_label: QLabel,
    ):
        super().__init__(window)
        self.window = window
        self.canvas = canvas
        self.routing_panel = routing_panel
        self.routing_dock = routing_dock
        self.messages = messages
        self.cursor_label = cursor_label
        self.zoom_label = zoom_label
        self.memory_label = memory_label
        self.doc: MatteDocument | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._run_active = False
        self._canvas_alpha: np.ndarray | None = None
        self._backdrop_color: QColor | None = None
        self._hover_token = (-1, -1)

        canvas.zoomChanged.connect(lambda scale: zoom_label.setText(f"{scale * 100:.0f} %"))
        canvas.hovered.connect(self._on_hovered)
        canvas.tokenHovered.connect(self._on_token_hovered)
        routing_panel.displayChanged.connect(canvas.set_routing_display)
        routing_panel.gridToggled.connect(self._grid_toggled)

    def add_actions(self, menus: Menus) -> None:
        a = partial(make_action, self.window)
        self.view_group = QActionGroup(self.window)
        self.view_actions: dict[str, QAction] = {}
        for mode, (text, key) in VIEW_MODES.items():
            action = a(text, None, key, checkable=True)
            action.setData(mode)
            self.view_group.addAction(action)
            self.view_actions[mode] = action
        self.view_group.triggered.connect(lambda action: self.set_view_mode(action.data()))
        self.backdrop_group = QActionGroup(self.window)
        self.backdrop_actions: dict[str, QAction] = {}
        for name, text in BACKDROPS.items():
            action = a(text, None, checkable=True)
            action.setData(name)
            self.backdrop_group.addAction(action)
            self.backdrop_actions[name] = action
        self.action_backdrop_color = a("Colour…", checkable=True)
        self.action_backdrop_color.setData("color")
        self.backdrop_group.addAction(self.action_backdrop_color)
        self.backdrop_actions["checker"].setChecked(True)
        self.backdrop_group.triggered.connect(self._backdrop_chosen)
        self.action_cycle_backdrop = a("Next Backdrop", self.cycle_backdrop, "K")
        self.action_compare = a("Compare with Previous Result", self._compare_toggled, "Y", "Show the previous run's matte while checked", checkable=True)
        self.action_grid = a("Token Grid", self._grid_toggled, tip="Outline the model's 16×16-pixel tokens (zoom in to see them)", checkable=True)
        self.action_fit = a("&Fit to Window", self.canvas.zoom_to_fit, "Ctrl+0")
        self.action_actual = a("&100 %", self.canvas.zoom_actual, "Ctrl+1")
        self.action_zoom_in = a("Zoom &In", self.canvas.zoom_in, ["Ctrl+=", "Ctrl++"])
        self.action_zoom_out = a("Zoom &Out", self.canvas.zoom_out, "Ctrl+-")
        self._zoom_actions = (self.action_fit, self.action_actual, self.action_zoom_in, self.action_zoom_out)

        view = menus.view
        for action in self.view_actions.values():
            view.addAction(action)
        view.addSeparator()
        backdrop = view.addMenu("&Backdrop")
        for action in self.backdrop_actions.values():
            backdrop.addAction(action)
        backdrop.addAction(self.action_backdrop_color)
        backdrop.addSeparator()
        backdrop.addAction(self.action_cycle_backdrop)
        view.addAction(self.action_compare)
        view.addAction(self.action_grid)
        view.addSeparator()
        for action in self._zoom_actions:
            view.addAction(action)
        view.addSeparator()
        menus.add_shortcuts(*self.view_actions.values(), self.action_cycle_backdrop, self.action_compare, *self._zoom_actions)

    def set_document(self, doc: MatteDocument | None) -> None:
        """Show ``doc``: its photo and trimap, its matte (the cut-out) if it has one, its routing."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self.doc = doc
        self._run_active = False
        self._canvas_alpha = None
        with QSignalBlocker(self.action_compare):
            self.action_compare.setChecked(False)
        if doc is not None:
            self._unsubscribe = doc.subscribe(self._on_document_event)
            self.canvas.set_photo(doc.rgb)
            self.canvas.set_trimap(doc.trimap)
            self.routing_panel.clear()
            if doc.alpha is not None:
                self._show_alpha(doc.alpha)
            self._show_routing()
            # A new photo shows the photo itself: its trimap is still Background everywhere, a flat tint
            self.set_view_mode("cutout" if doc.alpha is not None else "trimap" if doc.has_hints else "photo")
        for action in (*self.view_actions.values(), *self._zoom_actions):
            action.setEnabled(doc is not None)
        self._update_memory_label()
        self._update_compare_action()
        self.zoom_label.setText(f"{self.canvas.zoom * 100:.0f} %" if doc is not None else "")
        self.cursor_label.setText("")

    def set_run_active(self, active: bool) -> None:
        self._run_active = active
        self._update_compare_action()

    # =========================================================================== document events

    def _on_document_event(self, event: str, payload) -> None:
        if event == "trimap":
            x, y, w, h = payload
            if w > 0 and h > 0:  # undoing an edit that changed nothing reports (0, 0, 0, 0)
                self.canvas.update_trimap_region(x, y, w, h)
            self._update_memory_label()
        elif event == "results":
            self._on_results()
        elif event == "routing":
            self._on_routing(payload)
        elif event == "alpha_tile":
            self._on_alpha_tile(payload)
        elif event == "alpha":
            self._show_alpha(self.doc.alpha)

    def _on_results(self) -> None:
        doc = self.doc
        if doc.result is None:
            # A run began or results were cleared: the final alpha (if any) arrives as an "alpha" event.
            self._show_alpha(doc.alpha)
            self.routing_panel.clear()
        self._show_routing()
        self._update_compare_action()

    def _show_routing(self) -> None:
        doc = self.doc
        self.canvas.set_routing(doc.routing, doc.router_probs, doc.token_grid, doc.work_size)
        if doc.routing:
            if len(doc.routing) > self.routing_panel.num_blocks():
                self.routing_panel.set_num_blocks(len(doc.routing))
            if doc.result is None:
                for index, keep in enumerate(doc.routing):
                    self.routing_panel.set_block_live(index, keep)
        self.routing_panel.set_soft_available(any(p is not None for p in doc.router_probs))

    def _on_routing(self, index: int) -> None:
        doc = self.doc
        self.canvas.set_routing(doc.routing, doc.router_probs, doc.token_grid, doc.work_size)
        if index >= self.routing_panel.num_blocks():
            self.routing_panel.set_num_blocks(index + 1)  # clears: show every map so far again
            for i, keep in enumerate(doc.routing[:index]):
                self.routing_panel.set_block_live(i, keep)
        self.routing_panel.set_block_live(index, doc.routing[index])
        self.routing_panel.set_soft_available(any(p is not None for p in doc.router_probs))
        self._on_token_hovered(*self._hover_token)  # the token under the mouse has one more decision

    def _on_alpha_tile(self, rect: tuple[int, int, int, int]) -> None:
        doc = self.doc
        if self._canvas_alpha is not doc.alpha:
            self._show_alpha(doc.alpha)  # the run's first tile: the document has just made its alpha array
        else:
            self.canvas.update_alpha_region(*rect)

    def _show_alpha(self, alpha: np.ndarray | None) -> None:
        if self.action_compare.isChecked():
            with QSignalBlocker(self.action_compare):
                self.action_compare.setChecked(False)
        self.canvas.set_alpha(alpha)
        self._canvas_alpha = alpha
        self._update_compare_action()

    # ================================================================================ view options

    def set_view_mode(self, mode: str) -> None:
        """One of :data:`VIEW_MODES` (keys P, T, A, C, S, O)."""
        self.canvas.set_view_mode(mode)
        self.view_actions[mode].setChecked(True)
        if mode == "routing" and self.routing_dock.isHidden():
            self.routing_dock.show()

    def _backdrop_chosen(self, action: QAction) -> None:
        name = action.data()
        if name == "color":
            color = QColorDialog.getColor(self._backdrop_color or QColor(40, 120, 200), self.window, "Backdrop colour")
            if not color.isValid():
                self.backdrop_actions["checker"].setChecked(True)
                self.canvas.set_backdrop("checker")
                return
            self._backdrop_color = color
            self.canvas.set_backdrop(color)
        else:
            self.canvas.set_backdrop(name)

    def set_backdrop(self, kind: str | QColor) -> None:
        """"checker", "black", "white" or a QColor behind the cut-out."""
        if isinstance(kind, QColor):
            self._backdrop_color = QColor(kind)
            self.action_backdrop_color.setChecked(True)
        else:
            self.backdrop_actions[kind].setChecked(True)
        self.canvas.set_backdrop(kind)

    def cycle_backdrop(self) -> None:
        """Checkerboard → black → white → the chosen colour (once there is one) → checkerboard (K)."""
        order: list[str | QColor] = list(BACKDROPS)
        if self._backdrop_color is not None:
            order.append(self._backdrop_color)
        current = self.backdrop_group.checkedAction()
        index = len(BACKDROPS) if current is self.action_backdrop_color else list(BACKDROPS).index(current.data())
        self.set_backdrop(order[(index + 1) % len(order)])
        if self.canvas.view_mode not in ("cutout", "split"):
            self.set_view_mode("cutout")

    def _update_compare_action(self) -> None:
        doc = self.doc
        self.action_compare.setEnabled(doc is not None and doc.previous_alpha is not None and not self._run_active)

    def _compare_toggled(self, on: bool) -> None:
        doc = self.doc
        if doc is None or doc.previous_alpha is None:
            with QSignalBlocker(self.action_compare):
                self.action_compare.setChecked(False)
            return
        self.canvas.set_alpha(doc.previous_alpha if on else doc.alpha)
        self._canvas_alpha = doc.previous_alpha if on else doc.alpha
        if on:
            if self.canvas.view_mode not in ("alpha", "cutout", "split"):
                self.set_view_mode("cutout")
            self.messages.status("Showing the previous result — press Y to go back", STATUS_MS)
        else:
            self.messages.clear_status()

    def _grid_toggled(self, on: bool) -> None:
        self.canvas.set_show_token_grid(on)
        self.routing_panel.set_grid(on)
        with QSignalBlocker(self.action_grid):
            self.action_grid.setChecked(on)

    # ================================================================================ status labels

    def _on_hovered(self, x: float, y: float) -> None:
        doc = self.doc
        if doc is None:
            return
        height, width = doc.size
        col, row = int(np.floor(x)), int(np.floor(y))
        if 0 <= col < width and 0 <= row < height:
            value = int(doc.trimap[row, col])
            self.cursor_label.setText(f"{col:,}, {row:,} · {CLASS_NAMES.get(value, value)}")
        else:
            self.cursor_label.setText("")

    def _on_token_hovered(self, row: int, col: int) -> None:
        self._hover_token = (row, col)
        doc = self.doc
        grid = doc.routing[0].shape if doc is not None and doc.routing else (0, 0)
        if not (0 <= row < grid[0] and 0 <= col < grid[1]):
            self.routing_panel.set_hover(None, None, None, None)
            return
        routed = [bool(m[row, col]) for m in doc.routing]
        probs = doc.router_probs
        scores = [float(p[row, col]) for p in probs] if probs and all(p is not None for p in probs) else None
        self.routing_panel.set_hover(row, col, scores, routed)

    def _update_memory_label(self) -> None:
        doc = self.doc
        self.memory_label.setText(f"Undo {format_megabytes(doc.history.nbytes / 2**20)}" if doc is not None else "")


__all__ = ["BACKDROPS", "VIEW_MODES", "ViewPart"]
