"""Running the model: matting requests to the worker, its signals, and their results into the document
(progress, routing maps, alpha tiles, the result); automatic runs after edits; loading the model."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QSettings, QTimer, Signal
from PySide6.QtWidgets import QDialog, QLabel, QMainWindow

from matteapp.document.state import MatteDocument
from matteapp.engine.local import (
    CLOSED_FORM_CONTEXT,
    DEFAULT_CONTEXT,
    local_window,
    rematte_region,
    rematte_region_closed_form,
)
from matteapp.engine.session import SessionResult, downscale_pair, global_attention_savings
from matteapp.gui.canvas import ImageCanvas
from matteapp.gui.model_dialog import ModelDialog
from matteapp.gui.widgets import RoutingPanel, RunPanel
from matteapp.gui.window.common import STATUS_MS, Menus, Messages, make_action, update_settings
from matteapp.gui.window.tasks import TaskRunner
from matteapp.gui.worker import MatteController, MatteRequest, ModelInfo
from matteapp.io.recent import remember_checkpoint
from matteapp.gui.model_choice import default_model, origin_of

log = logging.getLogger(__name__)

AUTO_RUN_DELAY_MS = 700
LOCAL_TASKS = ("local update", "refine edge")
LOCAL_UPDATE_MAX_SHARE = 0.5
"""A local update whose window would cover more than this share of the result runs as a whole run instead."""
ESTIMATE_INTERVAL_MS = 250
"""How often the progress bar and the time left are re-estimated between the engine's own events."""


class RunPart(QObject):
    """Submits the document's trimap to ``controller`` and writes what comes back into the document,
    which the views then show; ``run_panel`` holds the run settings, the progress line and the summary.

    A run keeps what it would replace (the last result) until it ends: a failure or a cancel puts that
    back.  With the run panel's "auto" on, an edit of the trimap is shown at once by a local update: a
    window around the edited pixels is matted again at the result's resolution and blended into it
    (:mod:`matteapp.engine.local`), marked on the canvas until a run replaces it.  On a preview the
    whole preview then runs again after :data:`AUTO_RUN_DELAY_MS` of pause (none while a stroke is being
    painted: :meth:`hold_auto_run`); a full-resolution result keeps its local updates until the user runs
    Full Resolution, rather than being traded for a preview.  An edit too large to be local (its window
    over :data:`LOCAL_UPDATE_MAX_SHARE` of the photo) starts the preview run as before.

    Signals: ``runEnded(outcome)`` "finished", "failed" or "cancelled"; ``runActive(bool)`` while a run
    has not ended; ``runStopped()`` when the user cancelled or the worker gave a run up (whatever waited
    for its result should stop waiting); ``viewWanted(mode)`` when a run started or ended by hand has
    something to show (its live routing, then the cut-out).
    """

    runEnded = Signal(str)
    runActive = Signal(bool)
    runStopped = Signal()
    viewWanted = Signal(str)

    def __init__(
        self,
        window: QMainWindow,
        settings: QSettings,
        controller: MatteController,
        tasks: TaskRunner,
        messages: Messages,
        run_panel: RunPanel,
        routing_panel: RoutingPanel,
        canvas: ImageCanvas,
        model_label: QLabel,
    ):
        super().__init__(window)
        self.window = window
        self.settings = settings
        self.controller = controller
        self.tasks = tasks
        self.messages = messages
        self.run_panel = run_panel
        self.routing_panel = routing_panel
        self.canvas = canvas
        self.model_label = model_label
        self.doc: MatteDocument | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._run_id: int | None = None
        self._run_preview = True
        self._run_auto = False
        self._before_run: tuple[SessionResult | None, object] | None = None
        self._held = False  # a stroke is being painted: the auto-run waits for its end
        self._changed_while_held = False
        self._pending: tuple[int, int, int, int] | None = None  # photo box (x0, y0, x1, y1) edited since the result
        self._local_inflight: tuple[int, int, int, int] | None = None
        self._local_updates = 0  # blended into the result on screen since a run made it
        self._model_info: ModelInfo | None = None
        self._model_request: tuple[str | None, bool, tuple[str, str] | None] | None = None
        self._model_origin: tuple[str, str] | None = None  # why this model runs: ("bundled", the whole reason)
        self._estimator = None
        self._summary_before_run = ""

        # Between events (a routed block's global attention can run for ten seconds and more) the bar
        # follows the run's time estimate instead of standing still.
        self._estimate_timer = QTimer(self)
        self._estimate_timer.setInterval(ESTIMATE_INTERVAL_MS)
        self._estimate_timer.timeout.connect(self._show_estimate)

        self._auto_run_timer = QTimer(self)
        self._auto_run_timer.setSingleShot(True)
        self._auto_run_timer.setInterval(AUTO_RUN_DELAY_MS)
        self._auto_run_timer.timeout.connect(self._auto_run)

        tasks.settled.connect(self._on_tasks_settled)
        run_panel.runRequested.connect(lambda preview: self.run_matte(preview))
        run_panel.cancelRequested.connect(self.cancel_work)
        run_panel.autoRunChanged.connect(lambda on: self._update_setting(auto_run=bool(on)))
        run_panel.engineChanged.connect(lambda name: self._update_setting(engine=name))
        run_panel.capChanged.connect(lambda cap: self._update_setting(max_global_tokens=cap))
        run_panel.budgetChanged.connect(lambda mb: self._update_setting(memory_budget_mb=mb))

        k = controller
        k.modelLoading.connect(self._on_model_loading)
        k.modelReady.connect(self._on_model_ready)
        k.modelFailed.connect(self._on_model_failed)
        k.timing.connect(self._on_run_timing)
        k.progress.connect(self._on_run_progress)
        k.routing.connect(self._on_run_routing)
        k.alphaTile.connect(self._on_run_alpha_tile)
        k.finished.connect(self._on_run_finished)
        k.failed.connect(self._on_run_failed)
        k.cancelled.connect(self._on_run_cancelled)
        k.busyChanged.connect(self._on_busy_changed)

    def add_actions(self, menus: Menus) -> None:
        a = partial(make_action, self.window)
        self.action_preview, self.action_full = self.run_panel.shortcut_actions()
        self.action_preview.setText("Run &Preview")
        self.action_full.setText("Run &Full Resolution")
        self.action_cancel = a("&Cancel", self.cancel_work, "Esc", "Stop the running job; the trimap stays")
        self.action_cancel.setEnabled(False)
        self.action_model = a("&Model && Device…", self.choose_model)

        model = menus.model
        model.addAction(self.action_preview)
        model.addAction(self.action_full)
        model.addAction(self.action_cancel)
        model.addSeparator()
        model.addAction(self.action_model)
        menus.add_shortcuts(self.action_cancel)

    def set_document(self, doc: MatteDocument | None) -> None:
        """Run ``doc`` from now on; a run still going for the old one no longer counts."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self.doc = doc
        self._run_id = None
        self._before_run = None
        self._stop_estimates()
        self._held = self._changed_while_held = False
        self._pending = None
        self._forget_local_updates()
        self._auto_run_timer.stop()
        if doc is not None:
            self._unsubscribe = doc.subscribe(self._on_document_event)
            settings = doc.settings
            self.run_panel.set_engine(settings["engine"])
            if settings["memory_budget_mb"] is not None:
                self.run_panel.set_budget(settings["memory_budget_mb"])
            elif settings["max_global_tokens"] is not None:
                self.run_panel.set_cap(settings["max_global_tokens"])
            else:
                self.run_panel.set_cap(None)
                self.run_panel.set_budget(None)
            self.run_panel.set_auto_run(bool(settings["auto_run"]))
            self.run_panel.set_progress("idle", 0.0, "")
            self.run_panel.set_summary("")
        self._update_hints()

    def _on_document_event(self, event: str, payload) -> None:
        if event == "trimap":
            self._update_hints()
            x, y, w, h = payload
            if w > 0 and h > 0:
                self._pending = _union(self._pending, (x, y, x + w, y + h))
            if self._held:
                self._changed_while_held = True
            else:
                self._after_edit()

    def _update_setting(self, **changes) -> None:
        if update_settings(self.doc, self.messages, **changes) and changes.get("auto_run"):
            # bring the matte up to date with the edits made while auto-run was off (none: nothing to run)
            if self.doc.result is None or self._pending is not None:
                self._after_edit()

    def _update_hints(self) -> None:
        doc = self.doc
        if doc is None:
            self.run_panel.set_enabled_for_hints(False, "Open a photo first (File ▸ Open, or drop one on the window).")
        else:
            self.run_panel.set_enabled_for_hints(doc.has_hints)

    # ================================================================================ auto-run

    def hold_auto_run(self, on: bool) -> None:
        """While ``on``, trimap changes do not start the auto-run; when released, one change made while
        held starts it once."""
        if on:
            self._auto_run_timer.stop()
            self._held, self._changed_while_held = True, False
            return
        if not self._held:
            return
        self._held = False
        if self._changed_while_held:
            self._after_edit()

    def stop_auto_run(self) -> None:
        self._auto_run_timer.stop()

    def _after_edit(self) -> None:
        """With auto-run on: show the edit at once with a local update of the result on screen, then (for a
        preview, or when the edit is not local) run the whole preview after the pause."""
        doc = self.doc
        if doc is None or not doc.settings["auto_run"] or not doc.has_hints:
            return
        inflight, pending = self._local_inflight, self._pending
        covered = inflight is not None and pending is not None and _contains(inflight, pending)  # by Refine Edge
        local = covered or self._start_local_update("local update", self._pending) is not None
        # a full-resolution result is not traded for a preview after every stroke: its local updates
        # stay marked until the user runs Full Resolution again
        if not local or doc.result is None or doc.result.is_preview:
            self._schedule_auto_run()

    def _on_tasks_settled(self) -> None:
        # Another task (an export, a re-banding) cancels a local update in flight: when the worker is
        # free again, show the edits that update was for.
        if self.tasks.kind is None and self._pending is not None and self._local_inflight is not None:
            self._local_inflight = None
            self._after_edit()

    def _schedule_auto_run(self) -> None:
        doc = self.doc
        if doc is not None and doc.settings["auto_run"] and doc.has_hints and not self._held:
            self._auto_run_timer.start()

    def _auto_run(self) -> None:
        if self._held or self.doc is None or not self.doc.has_hints:
            return
        if self.tasks.kind is not None:
            self._auto_run_timer.start()  # the trimap is about to change again
            return
        self.run_matte(preview=True, auto=True)

    # ================================================================================ requests

    def run_matte(self, preview: bool, auto: bool = False) -> int | None:
        """Start matting the current trimap on the worker (preview: the 1024-px copy); returns the request id.

        Results stream into the document (routing maps, alpha tiles, then the result); a run started by
        hand shows the routing view while it runs and the cut-out when it ends."""
        doc = self.doc
        if doc is None or not doc.has_hints:
            return None
        settings = doc.settings
        request = MatteRequest(
            doc.rgb,
            doc.trimap,
            engine=settings["engine"],
            preview=preview,
            max_global_tokens=settings["max_global_tokens"],
            memory_budget_mb=settings["memory_budget_mb"],
        )
        if self._run_id is None:
            self._before_run = (doc.result, doc.previous_alpha)  # what a cancel or a failure restores
            self._summary_before_run = self.run_panel.summary()
        self._auto_run_timer.stop()
        self._stop_estimates()
        if self.tasks.kind in LOCAL_TASKS:
            self.controller.cancel()  # the run covers the edit the local update was for
            self.tasks.abandon()
        self._pending = None
        self._run_id = self.controller.submit(request)
        self._run_preview, self._run_auto = preview, auto
        self.runActive.emit(True)
        # the last result stays on screen (scaled to the new size) until this run's tiles replace it
        kept_preview = doc.alpha is not None and doc.alpha_is_preview and not preview
        doc.begin_results(request.work_size, None, preview, keep_alpha=True)
        if kept_preview:
            self.canvas.set_notice("run", "Showing the preview until the full-resolution tiles replace it")
        info = self._model_info
        routed = settings["engine"] == "mematte" and (info is None or info.routed)
        if not auto and routed and self.canvas.view_mode in ("photo", "trimap"):
            self.viewWanted.emit("routing")
        h, w = request.work_size
        what = f"{'preview' if preview else 'full resolution'}, {w:,} × {h:,} px"
        self.run_panel.set_progress("starting", 0.0, what)
        self.run_panel.set_summary("")  # the last run's line would read as this one's
        self.messages.status(f"Matting ({what}) — Esc cancels")
        return self._run_id

    def refine_edge(self, rect: tuple[int, int, int, int]) -> int | None:
        """Matte again the photo rectangle (x, y, w, h) a Refine Edge stroke painted Unknown, with the engine
        of the result on screen, and blend it in (:mod:`matteapp.engine.local`); returns the task serial.

        Without a result there is nothing to refine: the stroke has marked the area for the next run."""
        x, y, w, h = rect
        box = (x, y, x + w, y + h)
        # the edits made since the last result ride along when they are close by
        pending = _union(self._pending, box)
        serial = self._start_local_update("refine edge", pending) or self._start_local_update("refine edge", box, bounded=False)
        if serial is None and self._run_id is None and (self.doc is None or self.doc.result is None):
            self.messages.status("Marked as Unknown — the next run mattes it (Preview: Ctrl+Return)", STATUS_MS)
        return serial

    def _start_local_update(self, kind: str, box: tuple[int, int, int, int] | None, bounded: bool = True) -> int | None:
        """Re-matte the photo rectangle ``box`` (x0, y0, x1, y1) of the result on screen on the worker, with
        that result's engine and resolution, and blend it in when done; returns the task serial, or None
        when that is not possible (no result, a run or another task busy, or — ``bounded`` — an edit too
        large to be local)."""
        doc = self.doc
        result = None if doc is None else doc.result
        if result is None or box is None or self._run_id is not None:
            return None
        if self.tasks.kind is not None and self.tasks.kind not in LOCAL_TASKS:
            return None  # an export or a trimap task is running: never cancel it for a preview of an edit
        if self.tasks.kind is not None:
            box = _union(box, self._local_inflight)  # the new task cancels the running one: cover its edit too
        height, width = doc.size
        work_h, work_w = result.alpha.shape
        sx, sy = work_w / width, work_h / height
        x0, y0, x1, y1 = box
        region = (
            max(0, int(y0 * sy)), min(work_h, int(np.ceil(y1 * sy))),
            max(0, int(x0 * sx)), min(work_w, int(np.ceil(x1 * sx))),
        )  # fmt: skip
        if region[1] <= region[0] or region[3] <= region[2]:
            return None
        engine = result.engine
        if engine == "closed-form":
            context, grid = CLOSED_FORM_CONTEXT, 1
        else:
            info = self._model_info
            context, grid = DEFAULT_CONTEXT, (info.attention_grid if info is not None else 224)
        window = local_window(region, (work_h, work_w), context, grid)
        wy0, wy1, wx0, wx1 = window
        if bounded and (wy1 - wy0) * (wx1 - wx0) > LOCAL_UPDATE_MAX_SHARE * work_h * work_w:
            return None  # most of the photo: a whole run costs about the same and is exact
        local = (region[0] - wy0, region[1] - wy0, region[2] - wx0, region[3] - wx0)
        full_size = (work_h, work_w) == (height, width)
        if full_size:
            # Only the window travels to the worker: copying a 24 MP trimap would cost the GUI thread
            # more than the whole update's budget for it.  The window's corner lies on the attention grid,
            # so the model groups the same pixels as it would in the whole photo.
            rgb = doc.rgb[wy0:wy1, wx0:wx1]
            trimap = doc.trimap[wy0:wy1, wx0:wx1].copy()
        else:
            rgb, trimap = doc.rgb, doc.trimap.copy()  # a preview: the window is cut after downscaling
        alpha = result.alpha[wy0:wy1, wx0:wx1].copy()
        photo_context = result.photo_context

        def task(session, cancel):
            image, work_trimap = rgb, trimap
            if not full_size:
                image, work_trimap = downscale_pair(rgb, trimap, max(work_h, work_w))
                image, work_trimap = image[wy0:wy1, wx0:wx1], work_trimap[wy0:wy1, wx0:wx1]
            if engine == "closed-form":
                return rematte_region_closed_form(image, work_trimap, alpha, local, context=context, cancel=cancel)
            return rematte_region(
                session.predictor, image, work_trimap, alpha, local, context=context, cancel=cancel,
                photo_context=photo_context, origin=(wy0, wx0),
            )  # fmt: skip

        def done(update) -> None:
            self._local_inflight = None
            if self._pending is not None and _contains(box, self._pending):
                self._pending = None  # no edit since this one started: all is on screen
            if self.doc is not doc or doc.result is not result or self._run_id is not None:
                return  # a run replaced the result meanwhile: it already saw the edit
            uy0, _, ux0, _ = update.window
            doc.patch_alpha(wx0 + ux0, wy0 + uy0, update.alpha)
            self._local_updates += 1
            self._show_local_updates()
            what = "Edge refined" if kind == "refine edge" else "Local update"
            self.messages.status(f"{what} in {update.seconds:.1f} s", STATUS_MS)

        def failed(message: str) -> None:
            self._local_inflight = None
            self.messages.error("Refine Edge failed" if kind == "refine edge" else "The local update failed", message)

        self._local_inflight = box
        h, w = region[1] - region[0], region[3] - region[2]
        return self.tasks.start(kind, task, done, failed, with_cancel=True, with_session=True, message=f"{w:,} × {h:,} px")

    def _show_local_updates(self) -> None:
        doc = self.doc
        count = self._local_updates
        if not count or doc is None or doc.result is None:
            self.canvas.set_notice("local", None)
            return
        edits = "1 local update" if count == 1 else f"{count} local updates"
        if doc.result.is_preview:
            text = f"Preview with {edits} — the whole preview runs again when you pause"
        else:
            text = f"{edits.capitalize()} — Full Resolution re-mattes the whole photo exactly"
        self.canvas.set_notice("local", text)
        summary = self.run_panel.summary().split(" · local")[0]
        self.run_panel.set_summary(f"{summary} · local: {count}")

    def _forget_local_updates(self) -> None:
        self._local_updates = 0
        self._local_inflight = None
        self.canvas.set_notice("local", None)

    def make_room_for_trimap_task(self) -> None:
        """A trimap task is about to be queued on the worker, behind any run."""
        # A preview in flight is about to be stale, and it would hold the worker: drop it.  A
        # full-resolution run is the user's explicit request; the task waits behind it instead.
        if self._run_id is not None and self._run_preview:
            self.controller.cancel()
        elif self._run_id is not None:
            self.messages.status("Waiting for the full-resolution run to finish (Esc cancels it)…", STATUS_MS)

    def cancel_work(self) -> None:
        """Cancel the running matting request and the running task (Esc, Cancel); the trimap stays."""
        self.controller.cancel()
        self.runStopped.emit()
        kind = self.tasks.abandon()
        if kind is not None:
            self.messages.status(f"Cancelled {kind}", STATUS_MS)

    def cancel_everything(self) -> None:
        """Before another document replaces this one."""
        if self._run_id is not None or self.tasks.kind is not None:
            self.cancel_work()

    def _on_busy_changed(self, busy: bool) -> None:
        self.run_panel.set_busy(busy)
        self.action_cancel.setEnabled(busy)

    def _on_run_timing(self, request_id: int, estimator) -> None:
        if request_id == self._run_id:
            self._estimator = estimator
            self._estimate_timer.start()

    def _on_run_progress(self, request_id: int, stage: str, fraction: float, message: str) -> None:
        if request_id != self._run_id:
            return
        if self._estimator is None:
            self.run_panel.set_progress(stage, fraction, message)
        else:
            self.run_panel.set_progress(stage, self._estimator.estimate()[0], message)
            self._show_estimate()

    def _show_estimate(self) -> None:
        estimator = self._estimator
        if estimator is None or self._run_id is None:
            return
        fraction, left = estimator.estimate()
        self.run_panel.set_fraction(fraction)
        self.run_panel.set_time_left(left)

    def _stop_estimates(self) -> None:
        self._estimate_timer.stop()
        self._estimator = None
        self.run_panel.set_time_left(None)
        self.canvas.set_notice("run", None)

    def _on_run_routing(self, request_id: int, index: int, keep, probs, grid) -> None:
        doc = self.doc
        if request_id != self._run_id or doc is None:
            return
        if doc.token_grid is None:
            doc.token_grid = tuple(int(v) for v in grid)
        doc.set_routing(index, keep, probs)

    def _on_run_alpha_tile(self, request_id: int, rect, tile, work_size) -> None:
        doc = self.doc
        if request_id != self._run_id or doc is None:
            return
        doc.set_alpha_tile(rect[0], rect[1], tile)

    def _on_run_finished(self, request_id: int, result: SessionResult) -> None:
        doc = self.doc
        if request_id != self._run_id or doc is None:
            return
        self._run_id = None
        self._before_run = None
        self._stop_estimates()
        self.runActive.emit(False)
        try:
            doc.set_result(result)
        except ValueError as exc:
            self.messages.error("The result does not fit the photo", str(exc))
            self.runEnded.emit("failed")
            return
        self._forget_local_updates()
        self._show_savings(result)
        h, w = result.size
        seconds = result.timings.get("total")
        took = f" · {seconds:.1f} s" if seconds is not None else ""
        kind = "Preview" if result.is_preview else "Full resolution"
        self.run_panel.set_summary(f"{kind} {w:,} × {h:,}{took} on {result.device}/{result.precision}")
        self.run_panel.set_progress("done", 1.0, "")
        for note in result.notes:
            log.info("run note: %s", note)
        if not self._run_auto:
            self.viewWanted.emit("cutout")
        self.messages.status(f"{kind} matte done{took}", STATUS_MS)
        self.runEnded.emit("finished")

    def _show_savings(self, result: SessionResult) -> None:
        info = self._model_info
        if result.block_stats and info is not None and info.num_heads:
            self.routing_panel.set_savings(global_attention_savings(result, info.num_heads, info.embed_dim))
        self.routing_panel.set_peak_memory(result.process_peak_bytes, result.peak_scope, result.peak_memory_bytes)

    def _restore_before_run(self) -> None:
        doc, before = self.doc, self._before_run
        self._run_id = None
        self._before_run = None
        self._stop_estimates()
        self.run_panel.set_summary(self._summary_before_run)  # the restored result's own line
        if doc is None:
            self.runActive.emit(False)
            return
        result, previous = before if before is not None else (None, None)
        if result is not None:
            doc.set_result(result)
            self._show_savings(result)
        else:
            doc.clear_results()
        doc.previous_alpha = previous
        self.runActive.emit(False)

    def _on_run_failed(self, request_id: int, kind: str, message: str) -> None:
        if request_id != self._run_id:
            return
        self._restore_before_run()
        self.runStopped.emit()
        self.run_panel.set_progress("error", 0.0, message)
        self.messages.status("Matting failed — trimap kept", STATUS_MS)
        self.messages.error("Out of memory" if kind == "oom" else "Matting failed", f"{message}\n\nThe trimap is unchanged.")
        self.runEnded.emit("failed")

    def _on_run_cancelled(self, request_id: int) -> None:
        if request_id != self._run_id:
            return
        self._restore_before_run()
        self.runStopped.emit()
        self.run_panel.set_progress("cancelled", 0.0, "trimap kept")
        self.messages.status("Cancelled — trimap kept", STATUS_MS)
        self.runEnded.emit("cancelled")

    # ================================================================================== model

    def load_model_from_settings(self) -> None:
        """The checkpoint chosen last time in Model & Device (QSettings ``model/…``), else the default model
        (a pinned one, else the best installed official model, else the bundled one)."""
        source = str(self.settings.value("model/source", "") or "") or None
        device = str(self.settings.value("model/device", "auto") or "auto")
        precision = str(self.settings.value("model/precision", "auto") or "auto")
        if source is None:
            choice, problem = default_model()
            if choice is None:
                self.set_model_label(None, "No model installed — Model ▸ Get Models…")
                self.messages.status_error(problem)
                return
        self.start_model_load(source, device, precision)

    def start_model_load(self, source: str | None, device: str = "auto", precision: str = "auto", explicit: bool = False) -> None:
        """Load ``source`` (a checkpoint path, a preset name, or None for the default model) on the worker.
        ``explicit``: the user asked for it (a failure then opens a message box, not only the status bar)."""
        self._model_request = (source, explicit, origin_of(source))
        self.controller.load_model(source, device, precision)

    def choose_model(self) -> None:
        dialog = ModelDialog(self.settings, self.window)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            choice = dialog.result()
            self.start_model_load(choice.source, choice.device, choice.precision, explicit=True)

    def _on_model_loading(self, description: str) -> None:
        self.model_label.setText(f"Loading {description}…")
        self.messages.status(f"Loading {description}…")
        if self._run_id is None and self.tasks.kind is None:
            self.run_panel.set_progress("loading", None, description)

    def _model_load_ended(self) -> None:
        if self._run_id is None and self.tasks.kind is None:
            self.run_panel.set_progress("idle", 0.0, "")

    def _on_model_ready(self, info: ModelInfo) -> None:
        self._model_info = info
        request, self._model_request = self._model_request, None
        # no request: the worker loaded the default model itself, for a run
        self._model_origin = request[2] if request else origin_of(None)
        self.set_model_label(info)
        self._model_load_ended()
        source = request[0] if request else None
        if source is not None and Path(source).is_file():
            remember_checkpoint(source)
        self.messages.status(f"Model ready: {info.describe()}", STATUS_MS)

    def _on_model_failed(self, message: str) -> None:
        request, self._model_request = self._model_request, None
        self.set_model_label(self._model_info, None if self._model_info else "No model loaded")
        self.model_label.setToolTip(message)
        self._model_load_ended()
        if request is not None and request[1]:
            self.messages.error("The model did not load", message)
        else:
            self.messages.status_error(message)

    def set_model_label(self, info: ModelInfo | None, text: str | None = None) -> None:
        """Describe ``info`` in the status bar and the run panel (None: ``text``, or "No model loaded")."""
        self._model_info = info or self._model_info
        if info is None:
            self.model_label.setText(text or "No model loaded")
            self.model_label.setToolTip("Model ▸ Model & Device… to choose one")
            return
        kind = "MEMatte" if info.routed else "ViTMatte"
        random_weights = info.source.startswith("preset:") or "random" in info.source
        origin = self._model_origin
        name = f"{info.name} ({origin[0]})" if origin else info.name
        self.model_label.setText(
            f"{name} · {kind} · {info.parameters / 1e6:.1f} M · {info.size_mb:.0f} MB · "
            f"{info.device}/{info.precision}{' · random weights' if random_weights else ''}"
        )
        self.model_label.setToolTip(f"{info.describe()}\n{info.source}" + (f"\nWhy: {origin[1]}" if origin else ""))
        self.run_panel.set_model_label(f"{kind} — {name}")


def _union(a, b):
    """The bounding box of two (x0, y0, x1, y1) boxes, either of which may be None."""
    if a is None:
        return b
    if b is None:
        return a
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])


def _contains(outer, inner) -> bool:
    return outer[0] <= inner[0] and outer[1] <= inner[1] and outer[2] >= inner[2] and outer[3] >= inner[3]


__all__ = ["AUTO_RUN_DELAY_MS", "LOCAL_UPDATE_MAX_SHARE", "RunPart"]
