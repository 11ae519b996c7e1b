"""Trimap editing: the tools on the canvas, the automatic trimap (GrabCut in a rectangle, or from a matte)
with its band width and its refinement by scribbles, invert, clear, trimap import, and undo."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QColor, QKeySequence, QUndoStack
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMessageBox

from matteapp.document import paint
from matteapp.document.paint import Patch
from matteapp.document.state import MatteDocument, TrimapEdit
from matteapp.engine.trimap import BACKGROUND, FOREGROUND, UNKNOWN, default_band_width, grabcut_mask, load_trimap
from matteapp.gui.canvas import ImageCanvas
from matteapp.gui.commands import push_edit
from matteapp.gui.imaging import TRIMAP_BACKGROUND_TINT, TRIMAP_FOREGROUND_TINT, TRIMAP_UNKNOWN_TINT
from matteapp.gui.widgets import ToolOptionsPanel
from matteapp.gui.window.auto_trimap import AutoTrimapSource, AutoTrimapState, split_scribbles, trimap_from_source
from matteapp.gui.window.common import CLASS_NAMES, STATUS_MS, Menus, Messages, make_action, update_settings
from matteapp.gui.window.tasks import TaskRunner

_CLASS_TINTS = {FOREGROUND: TRIMAP_FOREGROUND_TINT, BACKGROUND: TRIMAP_BACKGROUND_TINT, UNKNOWN: TRIMAP_UNKNOWN_TINT}


class TrimapPart(QObject):
    """Turns the canvas's gestures and ``tool_panel``'s requests into trimap edits of the document, one
    :attr:`undo_stack` step each; GrabCut and re-banding run on the worker (``tasks``).

    Beside the trimap it keeps an :class:`~matteapp.gui.window.auto_trimap.AutoTrimapState`, so that moving
    the band slider lays the automatic trimap's band again (with what was painted over it kept) and undo
    brings back the source the trimap came from.

    Signals, for the window to route: ``viewWanted(mode)`` (the tools paint the trimap: show it),
    ``strokeActive(bool)`` when a brush stroke begins and ends (one stroke is one change, however many
    pixels it paints along the way), ``trimapTaskStarting()`` just before GrabCut or re-banding is queued
    on the worker, ``refineEdgeRequested((x, y, w, h))`` when a Refine Edge stroke ends, with the photo
    rectangle it painted.  :meth:`confirm_clear` and :meth:`ask_replace_trimap` are the questions before
    clearing and before a new rectangle replaces hand-made work; tests answer them instead.
    """

    viewWanted = Signal(str)
    strokeActive = Signal(bool)
    trimapTaskStarting = Signal()
    refineEdgeRequested = Signal(tuple)

    def __init__(self, window: QMainWindow, canvas: ImageCanvas, tool_panel: ToolOptionsPanel, tasks: TaskRunner, messages: Messages):
        super().__init__(window)
        self.window = window
        self.canvas = canvas
        self.tool_panel = tool_panel
        self.tasks = tasks
        self.messages = messages
        self.doc: MatteDocument | None = None
        self.undo_stack = QUndoStack(window)
        self.auto = AutoTrimapState()
        self._unsubscribe: Callable[[], None] | None = None
        self._stroking = False
        self._stroke_edit: TrimapEdit | None = None
        self._stroke_last = (0.0, 0.0)
        self._stroke_box: list[float] | None = None  # x0, y0, x1, y1 the stroke has painted, photo px
        self._band_edit: TrimapEdit | None = None
        self._band_pending = False

        tool_panel.set_class_colors({value: QColor(*rgb) for value, rgb in _CLASS_TINTS.items()})
        canvas.set_brush_radius(tool_panel.brush_size() / 2)
        canvas.set_overlay_opacity(tool_panel.opacity())
        canvas.set_tool(self._canvas_tool(tool_panel.tool()))

        canvas.strokeStarted.connect(self._on_stroke_started)
        canvas.strokeMoved.connect(self._on_stroke_moved)
        canvas.strokeFinished.connect(self._on_stroke_finished)
        canvas.polygonFinished.connect(self._on_polygon)
        canvas.rectFinished.connect(self._on_rect)
        canvas.fillClicked.connect(self._on_fill)
        tool_panel.toolChanged.connect(self._on_tool_changed)
        tool_panel.brushSizeChanged.connect(lambda diameter: canvas.set_brush_radius(max(paint.MIN_RADIUS, diameter / 2)))
        tool_panel.opacityChanged.connect(canvas.set_overlay_opacity)
        tool_panel.bandWidthChanged.connect(self._on_band_width)
        tool_panel.smartRadiusChanged.connect(self._on_smart_radius)
        tool_panel.refineRequested.connect(self.refine_auto_trimap)
        tool_panel.trimapFromAlphaRequested.connect(self.trimap_from_alpha)
        tool_panel.invertRequested.connect(self.invert_trimap)
        tool_panel.clearRequested.connect(self.clear_trimap)

    def add_actions(self, menus: Menus) -> None:
        a = partial(make_action, self.window)
        self.action_import_trimap = a("&Import Trimap…", lambda: self.import_trimap(), tip="Replace the trimap with a PNG (can be undone)")
        self.action_undo = self.undo_stack.createUndoAction(self.window, "&Undo")
        self.action_undo.setShortcuts([QKeySequence(QKeySequence.StandardKey.Undo)])
        self.action_redo = self.undo_stack.createRedoAction(self.window, "&Redo")
        self.action_redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        panel_actions = self.tool_panel.shortcut_actions()
        self.action_rect_tool = next(x for x in panel_actions if x.data() == "rect")
        self.action_invert = next(x for x in panel_actions if x.shortcut() == QKeySequence("Ctrl+Shift+I"))
        self.action_refine = a("Refine Auto Trimap with Scribbles", self.refine_auto_trimap, tip="Run GrabCut again, steered by your Foreground and Background strokes")
        self.action_from_alpha = a("Trimap from &Alpha", self.trimap_from_alpha, tip="Rebuild the trimap from the current matte")
        self.action_clear = a("C&lear Trimap…", self.clear_trimap, tip="Set the whole trimap to Background (can be undone)")

        menus.file.addAction(self.action_import_trimap)
        edit = menus.edit
        edit.addAction(self.action_undo)
        edit.addAction(self.action_redo)
        edit.addSeparator()
        edit.addAction(self.action_rect_tool)
        edit.addAction(self.action_refine)
        edit.addAction(self.action_from_alpha)
        edit.addSeparator()
        edit.addAction(self.action_invert)
        edit.addAction(self.action_clear)
        edit.addSeparator()
        tools = edit.addMenu("T&ools")
        for action in panel_actions:
            if action is not self.action_invert:
                tools.addAction(action)
        menus.add_shortcuts(self.action_undo, self.action_redo)

    def set_document(self, doc: MatteDocument | None) -> None:
        """Edit ``doc`` from now on, with a fresh undo history and no automatic trimap."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self.undo_stack.clear()
        self.doc = doc
        self._stroking = False
        self._stroke_edit = self._band_edit = None
        self._band_pending = False
        self.auto = AutoTrimapState(doc.settings["band_width"] if doc is not None else None)
        if doc is not None:
            self._unsubscribe = doc.subscribe(self._on_document_event)
            height, width = doc.size
            self.tool_panel.set_auto_band_width(default_band_width(height, width))
            self.tool_panel.set_band_width(doc.settings["band_width"])
            self.tool_panel.set_alpha_available(doc.alpha is not None)
            if not doc.has_hints:
                # A new photo starts where Photoshop's Select Subject and GIMP's Foreground Select do: with
                # the rectangle around the subject, not with a brush whose first click paints Foreground.
                self.tool_panel.set_tool("rect")
                self.canvas.set_tool("rect")
        self._update_next_step()
        self.tool_panel.setEnabled(doc is not None)
        for action in (self.action_import_trimap, self.action_invert, self.action_clear):
            action.setEnabled(doc is not None)
        self._update_source_actions()

    def _on_document_event(self, event: str, payload) -> None:
        if event == "results":
            doc = self.doc
            self.tool_panel.set_alpha_available(doc.alpha is not None and doc.result is not None)
            self._update_source_actions()
        elif event == "trimap":
            self._update_next_step()

    def _update_next_step(self) -> None:
        """The hint on the canvas while the photo has no trimap yet: what to do first."""
        doc = self.doc
        text = None
        if doc is not None and not doc.has_hints:
            text = "Next: drag a rectangle around the subject (R) — or paint it with the Brush (B), Foreground (1)"
        self.canvas.set_notice("next step", text)

    # ================================================================================== painting

    def _paint(self, patch: Patch | None, label: str, merge_with: TrimapEdit | None = None, value: int | None = None) -> TrimapEdit | None:
        """Apply ``patch`` as an undo step (or into ``merge_with``, the open edit of the same gesture).

        While an automatic trimap can still be re-banded, the pixels a tool paints with ``value`` are
        also remembered as scribbles, so that re-banding and refining keep them.
        """
        doc = self.doc
        record = None
        if patch is not None and value is not None and self.auto.source is not None:
            record = self.auto.record_scribbles(doc.trimap, patch, value)
            if record is not None:
                self._update_source_actions()
        edit = doc.apply(patch, label, merge_with=merge_with)
        self._push(edit, merge_with)
        if edit is not None and record is not None:
            self.auto.remember_scribbles(edit, record)
        return edit

    def _push(self, edit: TrimapEdit | None, merged_into: TrimapEdit | None = None) -> None:
        push_edit(self.undo_stack, self.doc, edit, merged_into, on_step=self._on_edit_step)

    def _on_edit_step(self, edit: TrimapEdit, undone: bool) -> None:
        restored, band = self.auto.step(edit, undone)
        if restored:
            self._band_edit = None
            if self.doc.settings["band_width"] != band:
                self.doc.update_settings(band_width=band)
                self.tool_panel.set_band_width(band)
        self._update_source_actions()

    def _paint_value(self) -> int:
        return UNKNOWN if self.tool_panel.tool() == "refine" else self.tool_panel.trimap_class()

    def _on_tool_changed(self, tool: str) -> None:
        self.canvas.set_tool(self._canvas_tool(tool))
        doc = self.doc
        # the tools paint the trimap: show it — but a rectangle on a photo without a trimap yet is drawn
        # over the photo itself, not over a trimap that is background everywhere
        if tool != "pan" and doc is not None and self.canvas.view_mode != "trimap" and (tool != "rect" or doc.has_hints):
            if not self._paints_over_result(tool):
                self.viewWanted.emit("trimap")

    def _paints_over_result(self, tool: str) -> bool:
        """With auto-run on, a stroke updates the matte on screen at once (a local update): the designer
        keeps watching the matte or the cut-out while painting, as in Select and Mask, instead of being
        sent to the trimap view."""
        doc = self.doc
        return (
            tool in ("brush", "refine")
            and doc is not None
            and doc.result is not None
            and bool(doc.settings["auto_run"])
            and self.canvas.view_mode in ("alpha", "cutout", "split")
        )

    @staticmethod
    def _canvas_tool(tool: str) -> str:
        return {"pan": "none", "refine": "brush"}.get(tool, tool)

    def _on_stroke_started(self, x: float, y: float) -> None:
        if self.doc is None:
            return
        if self.canvas.view_mode != "trimap" and not self._paints_over_result(self.tool_panel.tool()):
            self.viewWanted.emit("trimap")
        self._stroking = True
        self.strokeActive.emit(True)
        self._stroke_edit = None
        self._stroke_last = (x, y)
        self._stroke_box = [x, y, x, y]
        self._stroke_segment([(x, y)])

    def _on_stroke_moved(self, x: float, y: float) -> None:
        if not self._stroking or self.doc is None:
            return
        points = [self._stroke_last, (x, y)]
        self._stroke_last = (x, y)
        box = self._stroke_box
        box[0], box[1], box[2], box[3] = min(box[0], x), min(box[1], y), max(box[2], x), max(box[3], y)
        self._stroke_segment(points)

    def _stroke_segment(self, points: list[tuple[float, float]]) -> None:
        value = self._paint_value()
        radius = max(paint.MIN_RADIUS, self.tool_panel.brush_size() / 2)
        patch = paint.stroke(self.doc.trimap, points, radius, value)
        self._stroke_edit = self._paint(patch, f"Brush {CLASS_NAMES[value]}", merge_with=self._stroke_edit, value=value)

    def _on_stroke_finished(self) -> None:
        if not self._stroking:
            return
        self._stroking = False
        painted = self._stroke_edit is not None
        self._stroke_edit = None
        # Refine Edge first: its re-matte covers the stroke, so releasing the auto-run after it finds
        # nothing left to update locally.
        if painted and self.tool_panel.tool() == "refine" and self.doc is not None:
            radius = max(paint.MIN_RADIUS, self.tool_panel.brush_size() / 2)
            height, width = self.doc.size
            x0, y0, x1, y1 = self._stroke_box
            x0, y0 = max(0, int(x0 - radius)), max(0, int(y0 - radius))
            x1, y1 = min(width, int(x1 + radius) + 1), min(height, int(y1 + radius) + 1)
            if x1 > x0 and y1 > y0:
                self.refineEdgeRequested.emit((x0, y0, x1 - x0, y1 - y0))
        self.strokeActive.emit(False)

    def _on_polygon(self, points: list) -> None:
        if self.doc is None:
            return
        value = self._paint_value()
        self._paint(paint.polygon(self.doc.trimap, points, value), f"Lasso {CLASS_NAMES[value]}", value=value)

    def _on_fill(self, x: float, y: float) -> None:
        if self.doc is None:
            return
        value = self._paint_value()
        self._paint(paint.flood_fill(self.doc.trimap, x, y, value), f"Fill {CLASS_NAMES[value]}", value=value)

    def invert_trimap(self) -> None:
        """Swap Foreground and Background (one undo step)."""
        if self.doc is None:
            return
        auto = self.auto
        before = auto.snapshot(auto.applied_band)
        self._set_auto_source(None)  # re-banding the automatic trimap would swap them back
        edit = self._paint(paint.invert(self.doc.trimap), "Invert trimap")
        auto.log_change(edit, before, auto.snapshot(auto.applied_band))

    def clear_trimap(self) -> None:
        """Set the whole trimap to Background after asking (one undo step)."""
        if self.doc is None or not self.confirm_clear():
            return
        auto = self.auto
        before = auto.snapshot(auto.applied_band)
        self._set_auto_source(None)
        edit = self._paint(paint.fill(self.doc.trimap, BACKGROUND), "Clear trimap")
        auto.log_change(edit, before, auto.snapshot(auto.applied_band))

    def confirm_clear(self) -> bool:
        answer = QMessageBox.question(
            self.window,
            "Clear the trimap?",
            "Set the whole trimap to Background? You can undo this.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Yes,
        )
        return answer == QMessageBox.StandardButton.Yes

    def import_trimap(self, path: str | Path | None = None) -> None:
        """Replace the trimap with a PNG of the photo's size (one undo step; errors become a message)."""
        doc = self.doc
        if doc is None:
            return
        if path is None:
            start = str(Path(doc.image.path).parent)
            path, _ = QFileDialog.getOpenFileName(self.window, "Import trimap", start, "Images (*.png *.tif *.tiff *.bmp *.jpg *.jpeg *.webp);;All files (*)")
            if not path:
                return
        path = Path(path)
        height, width = doc.size

        def done(trimap) -> None:
            if doc is not self.doc:
                return
            auto = self.auto
            before = auto.snapshot(auto.applied_band)
            self._set_auto_source(None)
            edit = doc.replace_trimap(trimap, "Import trimap")
            self._push(edit)
            auto.log_change(edit, before, auto.snapshot(auto.applied_band))
            self.messages.status(f"Imported {path.name}", STATUS_MS)

        self.tasks.start(
            "import trimap",
            lambda: load_trimap(path, expected_size=(width, height)),
            done,
            lambda message: self.messages.error("Cannot import the trimap", message),
            message=path.name,
        )

    # ============================================================================ automatic trimap

    def _band_width(self) -> int:
        doc = self.doc
        return doc.settings["band_width"] or default_band_width(*doc.size)

    def _set_auto_source(self, source: AutoTrimapSource | None) -> None:
        self.auto.reset(source)
        self._band_edit = None
        self._update_source_actions()

    def _update_source_actions(self) -> None:
        source = self.auto.source
        refinable = source is not None and source.kind == "grabcut" and self.auto.scribbles is not None
        self.action_refine.setEnabled(refinable)
        self.tool_panel.set_refine_available(refinable)
        doc = self.doc
        self.action_from_alpha.setEnabled(doc is not None and doc.alpha is not None and doc.result is not None)

    def _on_rect(self, rect: tuple) -> None:
        doc = self.doc
        if doc is None:
            return
        rect = tuple(int(v) for v in rect)
        corrected = self.auto.scribbles is not None  # strokes painted over the last automatic trimap
        handmade = self.auto.source is None and doc.has_hints  # painted or imported without a rectangle
        if corrected or handmade:
            # Replacing them is one Ctrl+Z away, but nobody expects a second rectangle to wipe them out.
            answer = self.ask_replace_trimap(keep_possible=corrected)
            if answer == "cancel":
                return
            if answer == "keep":
                self._grabcut(rect, scribbles=self.auto.scribble_copy(), label="Auto trimap")
                return
        self.make_auto_trimap(rect)

    def ask_replace_trimap(self, keep_possible: bool) -> str:
        """"keep" (a new rectangle, with the strokes painted so far), "replace" or "cancel"."""
        box = QMessageBox(self.window)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Replace the trimap?")
        if keep_possible:
            box.setText("Keep your brush corrections in the new automatic trimap?")
            box.setInformativeText("The new rectangle replaces the old one; your Foreground, Background and Unknown strokes can stay on top of it.")
            keep = box.addButton("Keep Corrections", QMessageBox.ButtonRole.AcceptRole)
        else:
            box.setText("Replace the trimap you painted with an automatic one from this rectangle?")
            box.setInformativeText("You can undo this (Ctrl+Z).")
            keep = None
        replace = box.addButton("Replace" if keep_possible else "Replace Trimap", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(keep or replace)
        box.exec()
        clicked = box.clickedButton()
        if keep is not None and clicked is keep:
            return "keep"
        return "replace" if clicked is replace else "cancel"

    def make_auto_trimap(self, rect: tuple[int, int, int, int]) -> None:
        """GrabCut inside ``rect`` (x, y, w, h photo pixels) on the worker, then the trimap with the current
        band width (one undo step).  The mask is kept for re-banding and refining."""
        self._grabcut(rect, scribbles=None, label="Auto trimap")

    def refine_auto_trimap(self) -> None:
        """GrabCut again on the last rectangle, steered by the Foreground/Background strokes since."""
        source = self.auto.source
        if self.doc is None or source is None or source.kind != "grabcut":
            return
        self._grabcut(source.rect, scribbles=self.auto.scribble_copy(), label="Refine auto trimap")

    def _grabcut(self, rect, scribbles: np.ndarray | None, label: str) -> None:
        doc = self.doc
        rgb, band, serial = doc.rgb, self._band_width(), self.auto.serial
        band_setting = doc.settings["band_width"]
        smart = self.tool_panel.smart_radius()

        def task():
            fg, bg, _ = split_scribbles(scribbles)
            mask = grabcut_mask(rgb, rect, fg, bg)
            source = AutoTrimapSource.from_grabcut(rect, mask, smart=smart)
            del mask
            return source, trimap_from_source(source, band, scribbles, rgb)

        def done(value) -> None:
            if doc is not self.doc:
                return
            source, trimap = value
            auto = self.auto
            before = auto.snapshot(auto.applied_band)
            kept = auto.scribbles if scribbles is not None else None
            painted_meanwhile = kept is not None and auto.serial != serial
            self._set_auto_source(source)
            if kept is not None:  # refining keeps the strokes, including those made while GrabCut ran
                auto.scribbles = kept
                self._update_source_actions()
            auto.applied_band = band_setting
            edit = doc.replace_trimap(trimap, label)
            self._push(edit)
            auto.log_change(edit, before, auto.snapshot(band_setting))
            if band != self._band_width() or painted_meanwhile:
                self._regenerate_band()
            if self.canvas.view_mode in ("photo", "trimap"):
                self.viewWanted.emit("trimap")
            self.messages.status(f"{label} ready — adjust the Unknown band, or paint corrections and Refine", STATUS_MS)

        self._start_trimap_task("auto trimap", task, done, "GrabCut on a 512-px copy")

    def trimap_from_alpha(self) -> None:
        """Rebuild the trimap from the current matte: soft alpha and a band along its edge become Unknown."""
        doc = self.doc
        if doc is None or doc.alpha is None or doc.result is None:
            return
        alpha, size = doc.alpha, doc.size
        band, band_setting = self._band_width(), doc.settings["band_width"]

        def task():
            source = AutoTrimapSource.from_alpha(alpha, size)
            return source, trimap_from_source(source, band)

        def done(value) -> None:
            if doc is not self.doc:
                return
            source, trimap = value
            auto = self.auto
            before = auto.snapshot(auto.applied_band)
            self._set_auto_source(source)
            auto.applied_band = band_setting
            edit = doc.replace_trimap(trimap, "Trimap from alpha")
            self._push(edit)
            auto.log_change(edit, before, auto.snapshot(band_setting))
            if band != self._band_width():
                self._regenerate_band()

        self._start_trimap_task("trimap from alpha", task, done, "thresholding the matte")

    def _on_band_width(self, px: int | None) -> None:
        if self.doc is None:
            return
        update_settings(self.doc, self.messages, band_width=px)
        if self.auto.source is not None:
            self._regenerate_band()

    def _on_smart_radius(self, on: bool) -> None:
        source = self.auto.source
        if self.doc is None or source is None or source.kind != "grabcut" or source.smart == on:
            return
        # the same GrabCut mask, banded the other way; undo brings the previous source back with the trimap
        self.auto.source = dataclasses.replace(source, smart=on)
        self.auto.serial += 1
        self._regenerate_band()

    def _regenerate_band(self) -> None:
        """Lay the automatic trimap's unknown band again at the current width (off the GUI thread).

        Consecutive band changes merge into one undo step.  While another of the window's tasks runs,
        the change waits for it (a newer task would cancel it)."""
        doc, source = self.doc, self.auto.source
        if doc is None or source is None:
            return
        if self.tasks.kind is not None and self.tasks.kind != "band":
            self._band_pending = True
            return
        self._band_pending = False
        band, serial, scribbles = self._band_width(), self.auto.serial, self.auto.scribble_copy()
        band_setting = doc.settings["band_width"]
        rgb = doc.rgb

        def done(trimap) -> None:
            auto = self.auto
            if doc is not self.doc or source is not auto.source:
                return
            before = auto.snapshot(auto.applied_band)
            edit = doc.apply(Patch(0, 0, trimap), "Unknown band width", merge_with=self._band_edit)
            self._push(edit, self._band_edit)
            auto.applied_band = band_setting
            auto.log_change(edit, before, auto.snapshot(band_setting))
            if edit is not None:
                self._band_edit = edit
            if band != self._band_width() or serial != auto.serial:
                self._regenerate_band()  # the slider moved on, or strokes came in, while this ran

        self._start_trimap_task("band", lambda: trimap_from_source(source, band, scribbles, rgb), done, f"unknown band {band} px")

    def resume_pending_band(self) -> None:
        """The window's task has ended: lay the band that waited for it."""
        if self._band_pending and self.tasks.kind is None:
            self._regenerate_band()

    def _start_trimap_task(self, kind: str, fn: Callable, on_done: Callable, message: str) -> None:
        if self.tasks.kind == "export":
            # A new task would cancel the export (the worker keeps one task at a time).
            self.messages.status("Wait for the export to finish (Esc cancels it).", STATUS_MS)
            return
        self.trimapTaskStarting.emit()
        self.tasks.start(kind, fn, on_done, lambda m: self.messages.error("Automatic trimap failed", m), message=message)


__all__ = ["TrimapPart"]
