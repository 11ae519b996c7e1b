"""The main window: builds the canvas, the side panels and the menu bar, and composes the parts that do the work.

The window owns no image state.  :class:`~matteapp.document.state.MatteDocument` holds the photo, trimap, undo
history, results and settings; widgets show it by observing its events; tools change it through
``doc.apply`` (one :class:`~matteapp.gui.commands.DocumentEditCommand` per undo step); everything slow —
opening a photo, GrabCut, re-banding, matting, exporting — runs on the
:class:`~matteapp.gui.worker.MatteController`'s thread and comes back as a value applied on the GUI thread.

That work is split by concern into parts (:mod:`matteapp.gui.window`), each of which talks to the document
and the worker but not to another part:

- :class:`~matteapp.gui.window.files.FilesPart`: opening, saving, autosave and recovery, recent files,
  drops, the questions about unsaved work, the title;
- :class:`~matteapp.gui.window.editing.TrimapPart`: the tools, the automatic trimap and its band, refining
  with scribbles, trimap from alpha, invert, clear, trimap import, undo;
- :class:`~matteapp.gui.window.running.RunPart`: matting requests and their results into the document,
  auto-run, the model;
- :class:`~matteapp.gui.window.views.ViewPart`: view modes, backdrop, compare, token grid, zoom, the
  routing display, the status-bar labels;
- :class:`~matteapp.gui.window.export.ExportPart`: the Export dialog and its files, the trimap PNG;
- :class:`~matteapp.gui.window.models.ModelsPart`: Model ▸ Get Models… (downloads of official models),
  the hint bar that offers one, putting a model to use;
- :class:`~matteapp.gui.window.help.HelpPart`: the shortcut table and About.

What remains here: the widgets and their layout, the menu bar the parts fill, the wiring of one part's
signals to another's slots, handing a newly opened document to every part, and closing.
"""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtGui import QAction, QColor, QKeySequence
from PySide6.QtWidgets import QDockWidget, QHBoxLayout, QLabel, QMainWindow, QStackedWidget, QVBoxLayout, QWidget

from matteapp.document.export_plan import ExportPlan
from matteapp.document.state import MatteDocument
from matteapp.gui.canvas import ImageCanvas
from matteapp.gui.widgets import RoutingPanel, RunPanel, ToolOptionsPanel
from matteapp.gui.widgets.empty_state import EmptyState
from matteapp.gui.widgets.model_hint import HintBar
from matteapp.gui.widgets.notice_bar import NoticeBar
from matteapp.gui.window.auto_trimap import AutoTrimapSource, split_scribbles, trimap_from_source
from matteapp.gui.window.common import STATUS_MS, Menus, Messages, make_action
from matteapp.gui.window.editing import TrimapPart
from matteapp.gui.window.export import ExportPart
from matteapp.gui.window.files import SAMPLE_PHOTO, FilesPart, MissingPhoto, open_project_or_missing, project_photo_missing
from matteapp.gui.window.help import HelpPart
from matteapp.gui.window.models import ModelsPart
from matteapp.gui.window.running import RunPart
from matteapp.gui.window.tasks import TaskRunner
from matteapp.gui.window.views import ViewPart
from matteapp.gui.worker import MatteController


class MainWindow(QMainWindow):
    """matteapp's main window.  See the module docstring; :mod:`matteapp.gui.app` starts it.

    ``settings``: where window state, recent files and dialog choices are kept (default
    ``QSettings("matteapp", "matteapp")``).  ``controller``: the worker (default: a new one, shut down
    when the window closes, as an injected one is too).  ``load_model``: load the model chosen last time
    (or the default model: a pinned one, else the best installed official model, else the bundled one)
    right away.

    Signals, for scripts and tests: ``documentChanged(doc)`` once a photo or project is open;
    ``taskFinished(kind)`` / ``taskFailed(kind, message)`` when a background task of the window ends
    ("open", "auto trimap", "band", "trimap from alpha", "import trimap", "export trimap", "export",
    "refine edge", "local update");
    ``runEnded(outcome)`` with "finished", "failed" or "cancelled"; ``exportFinished(paths)``.

    The parts are :attr:`files`, :attr:`editing`, :attr:`running`, :attr:`views`, :attr:`exporting`,
    :attr:`models` and :attr:`help_part`.  The window's own methods are the commands scripts drive it
    with; each hands over to the part that owns it, where every other command lives.
    """

    documentChanged = Signal(object)
    taskFinished = Signal(str)
    taskFailed = Signal(str, str)
    runEnded = Signal(str)
    exportFinished = Signal(list)

    def __init__(
        self,
        settings: QSettings | None = None,
        controller: MatteController | None = None,
        load_model: bool = True,
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.settings = settings if settings is not None else QSettings("matteapp", "matteapp")
        self.controller = controller if controller is not None else MatteController(self)
        self.doc: MatteDocument | None = None

        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks | QMainWindow.DockOption.AllowNestedDocks)
        self._build_widgets()
        self._build_status_bar()

        self.messages = Messages(self, self.notice_bar)
        self.tasks = TaskRunner(self.controller, self.run_panel, self)
        self.files = FilesPart(self, self.settings, self.tasks, self.messages, self.empty_state)
        self.editing = TrimapPart(self, self.canvas, self.tool_panel, self.tasks, self.messages)
        self.running = RunPart(
            self, self.settings, self.controller, self.tasks, self.messages, self.run_panel, self.routing_panel, self.canvas, self.model_label
        )
        self.exporting = ExportPart(self, self.settings, self.tasks, self.messages)
        self.models = ModelsPart(self, self.settings, self.controller, self.messages, self.model_hint)
        self.views = ViewPart(
            self, self.canvas, self.routing_panel, self.routing_dock, self.messages, self.cursor_label, self.zoom_label, self.memory_label
        )
        self.help_part = HelpPart(self)
        # The order a new document reaches them in: the old one's autosave goes first.
        self._parts = (self.files, self.editing, self.running, self.exporting, self.views)
        self._build_menus()
        self._connect_parts()

        # The undo stack and the actions scripts and tests trigger, under the window's names.
        e, r = self.editing, self.running
        self.undo_stack = e.undo_stack
        self.action_undo, self.action_redo, self.action_rect_tool = e.action_undo, e.action_redo, e.action_rect_tool
        self.action_refine, self.action_invert, self.action_clear = e.action_refine, e.action_invert, e.action_clear
        self.action_preview, self.action_full, self.action_cancel = r.action_preview, r.action_full, r.action_cancel

        self.resize(1440, 900)
        self._restore_window_state()
        for part in self._parts:
            part.set_document(None)
        self.stack.setCurrentWidget(self.empty_state)
        if load_model:
            self.running.load_model_from_settings()
        else:
            self.running.set_model_label(self.controller.model_info)
        self.models.update_hint()

    # ============================================================================== construction

    def _build_widgets(self) -> None:
        self.canvas = ImageCanvas()
        # Drops go to the window (photos and projects), not to the graphics scene.
        self.canvas.setAcceptDrops(False)
        self.canvas.viewport().setAcceptDrops(False)
        self.empty_state = EmptyState()
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty_state)
        self.stack.addWidget(self.canvas)
        # Above the canvas rather than in the empty state: a photo opened from the command line would hide it.
        self.model_hint = HintBar("Get Models…")
        self.model_hint.hide()
        central = QWidget()
        column = QVBoxLayout(central)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.model_hint)
        # Exports done and files opened with a warning: news that must not block the window as a box would.
        self.notice_bar = NoticeBar()
        notice_row = QHBoxLayout()
        notice_row.setContentsMargins(6, 6, 6, 0)
        notice_row.addWidget(self.notice_bar)
        column.addLayout(notice_row)
        column.addWidget(self.stack, 1)
        self.setCentralWidget(central)

        self.tool_panel = ToolOptionsPanel()
        self.run_panel = RunPanel()
        self.routing_panel = RoutingPanel()
        self.tools_dock = self._dock("Tools", "toolsDock", self.tool_panel, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.run_dock = self._dock("Run", "runDock", self.run_panel, Qt.DockWidgetArea.RightDockWidgetArea)
        self.routing_dock = self._dock("Routing", "routingDock", self.routing_panel, Qt.DockWidgetArea.RightDockWidgetArea)
        self.splitDockWidget(self.run_dock, self.routing_dock, Qt.Orientation.Vertical)
        self.tools_dock.setMinimumWidth(240)
        self.run_dock.setMinimumWidth(300)
        # The routing table's four block columns need about 380 px; the tools fit in 260.
        self.resizeDocks([self.tools_dock, self.run_dock], [260, 390], Qt.Orientation.Horizontal)
        self.resizeDocks([self.run_dock, self.routing_dock], [330, 520], Qt.Orientation.Vertical)

    def _dock(self, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)  # saveState() needs names
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable | QDockWidget.DockWidgetFeature.DockWidgetFloatable | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        self.addDockWidget(area, dock)
        return dock

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.cursor_label = QLabel()
        self.zoom_label = QLabel()
        self.memory_label = QLabel()
        self.memory_label.setToolTip("Memory held by the undo history (only the changed pixels of each edit are kept)")
        self.model_label = QLabel()
        for label in (self.cursor_label, self.zoom_label, self.memory_label, self.model_label):
            label.setContentsMargins(8, 0, 8, 0)
            bar.addPermanentWidget(label)
        self.cursor_label.setMinimumWidth(190)

    def _build_menus(self) -> None:
        # Each part fills the menus it owns; the order of these calls is the order of the menu items.
        bar = self.menuBar()
        menus = Menus(self, bar.addMenu("&File"), bar.addMenu("&Edit"), bar.addMenu("&View"), bar.addMenu("&Model"), bar.addMenu("&Help"))
        self.files.add_actions(menus)
        self.editing.add_actions(menus)
        self.exporting.add_actions(menus)
        self.action_quit = make_action(self, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        self.action_quit.setMenuRole(QAction.MenuRole.QuitRole)
        menus.file.addSeparator()
        menus.file.addAction(self.action_quit)
        menus.add_shortcuts(self.action_quit)
        self.views.add_actions(menus)
        panels = menus.view.addMenu("Pa&nels")
        for dock in (self.tools_dock, self.run_dock, self.routing_dock):
            panels.addAction(dock.toggleViewAction())
        self.running.add_actions(menus)
        self.models.add_actions(menus)
        self.help_part.add_actions(menus)

    def _connect_parts(self) -> None:
        files, editing, running, views, exporting, tasks = self.files, self.editing, self.running, self.views, self.exporting, self.tasks
        files.aboutToOpen.connect(running.cancel_everything)
        files.documentOpened.connect(self._set_document)
        editing.viewWanted.connect(views.set_view_mode)
        editing.strokeActive.connect(running.hold_auto_run)
        editing.trimapTaskStarting.connect(running.make_room_for_trimap_task)
        editing.refineEdgeRequested.connect(running.refine_edge)
        tasks.settled.connect(editing.resume_pending_band)
        running.viewWanted.connect(views.set_view_mode)
        running.runActive.connect(views.set_run_active)
        running.runEnded.connect(exporting.on_run_ended)
        running.runStopped.connect(exporting.forget_pending_export)
        exporting.fullRunRequested.connect(lambda: running.run_matte(preview=False))
        self.models.defaultModelWanted.connect(lambda device, precision: running.start_model_load(None, device, precision, explicit=True))

        tasks.taskFinished.connect(self.taskFinished)
        tasks.taskFailed.connect(self.taskFailed)
        running.runEnded.connect(self.runEnded)
        exporting.exportFinished.connect(self.exportFinished)

    def _set_document(self, doc: MatteDocument) -> None:
        """Show ``doc``, replacing the current document (the user has already agreed to that)."""
        self.doc = doc
        for part in self._parts:
            part.set_document(doc)
        self.stack.setCurrentWidget(self.canvas)
        self.canvas.setFocus()
        if not doc.has_hints:
            self.messages.status(
                "Drag a rectangle around the subject with the Rectangle tool (R), or paint Foreground (1) and "
                "an Unknown band (3) along its edge.",
                2 * STATUS_MS,
            )
        if doc.notices:
            self.messages.info("About this project", "\n\n".join(doc.notices))
            doc.notices.clear()
        self.documentChanged.emit(doc)

    # ============================================================================= for scripts

    @property
    def last_error(self) -> str | None:
        """The text of the last error shown to the user (message boxes are non-modal)."""
        return self.messages.last_error

    @property
    def last_message(self) -> str | None:
        """The text of the last information box (export finished, notices)."""
        return self.messages.last_message

    def open_path(self, path: str | Path) -> bool:
        """:meth:`FilesPart.open_path <matteapp.gui.window.files.FilesPart.open_path>`."""
        return self.files.open_path(path)

    def offer_recovery(self) -> bool:
        return self.files.offer_recovery()

    def recent_files(self) -> list[str]:
        return self.files.recent_files()

    def save_project(self) -> bool:
        return self.files.save_project()

    def save_project_as(self, path: str | Path | None = None) -> bool:
        return self.files.save_project_as(path)

    def autosave_now(self) -> threading.Thread | None:
        return self.files.autosave_now()

    def make_auto_trimap(self, rect: tuple[int, int, int, int]) -> None:
        self.editing.make_auto_trimap(rect)

    def import_trimap(self, path: str | Path | None = None) -> None:
        self.editing.import_trimap(path)

    def export_trimap(self, path: str | Path | None = None) -> None:
        self.exporting.export_trimap(path)

    def export(self) -> None:
        self.exporting.export()

    def export_with_plan(self, plan: ExportPlan) -> int | None:
        return self.exporting.export_with_plan(plan)

    def run_matte(self, preview: bool, auto: bool = False) -> int | None:
        return self.running.run_matte(preview, auto)

    def cancel_work(self) -> None:
        self.running.cancel_work()

    def start_model_load(self, source: str | None, device: str = "auto", precision: str = "auto", explicit: bool = False) -> None:
        self.running.start_model_load(source, device, precision, explicit)

    def set_view_mode(self, mode: str) -> None:
        self.views.set_view_mode(mode)

    def set_backdrop(self, kind: str | QColor) -> None:
        self.views.set_backdrop(kind)

    # ================================================================================== closing

    def closeEvent(self, event) -> None:
        if self.controller.is_shut_down:  # closed before: everything below has been done
            event.accept()
            return
        if not self.files.may_replace("close"):
            event.ignore()
            return
        self.running.stop_auto_run()
        self.models.shut()
        self.files.shut()
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self.settings.sync()
        self.controller.shutdown()
        event.accept()

    def _restore_window_state(self) -> None:
        geometry = self.settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        state = self.settings.value("window/state")
        if state is not None:
            self.restoreState(state)


__all__ = [
    "AutoTrimapSource",
    "MainWindow",
    "MissingPhoto",
    "SAMPLE_PHOTO",
    "open_project_or_missing",
    "project_photo_missing",
    "split_scribbles",
    "trimap_from_source",
]
