"""The main window: wires the canvas and the side panels to the document and to the background worker.

The window owns no image state.  :class:`~matteapp.document.state.MatteDocument` holds the photo, trimap, undo
history, results and settings; widgets show it by observing its events; tools change it through
``doc.apply`` (one :class:`~matteapp.gui.commands.DocumentEditCommand` per undo step); everything slow —
opening a photo, GrabCut, re-banding, matting, exporting — runs on the
:class:`~matteapp.gui.worker.MatteController`'s thread and comes back as a value applied here, on the GUI
thread.  What remains in this module is that wiring, the menus, and the questions asked of the user.
"""

from __future__ import annotations

import json
import logging
import threading
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import cv2
import numpy as np
from PySide6.QtCore import QObject, QSettings, QSignalBlocker, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QColor, QGuiApplication, QKeySequence, QUndoStack
from PySide6.QtWidgets import (
    QAbstractItemView,
    QColorDialog,
    QDialog,
    QDialogButtonBox,
    QDockWidget,
    QFileDialog,
    QHeaderView,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from matteapp import __version__
from matteapp.document import paint
from matteapp.document.export_plan import ExportPlan, run_export
from matteapp.document.paint import Patch
from matteapp.document.project import (
    MANIFEST,
    PROJECT_SUFFIX,
    AutosaveInfo,
    ProjectError,
    autosave,
    discard_autosave,
    find_autosaves,
    load_project,
    save_project,
)
from matteapp.document.state import MatteDocument, TrimapEdit
from matteapp.engine.session import SessionResult, global_attention_savings
from matteapp.engine.trimap import (
    BACKGROUND,
    FOREGROUND,
    UNKNOWN,
    default_band_width,
    grabcut_mask,
    load_trimap,
    trimap_from_grabcut_mask,
    trimap_from_mask,
)
from matteapp.gui.canvas import ImageCanvas
from matteapp.gui.commands import push_edit
from matteapp.gui.export_dialog import ExportDialog
from matteapp.gui.imaging import TRIMAP_BACKGROUND_TINT, TRIMAP_FOREGROUND_TINT, TRIMAP_UNKNOWN_TINT
from matteapp.gui.model_dialog import ModelDialog
from matteapp.gui.widgets import RoutingPanel, RunPanel, ToolOptionsPanel
from matteapp.gui.widgets.empty_state import EmptyState
from matteapp.gui.widgets.routing_panel import format_megabytes
from matteapp.gui.worker import MatteController, MatteRequest, ModelInfo
from matteapp.io.export import OutputExistsError, alpha_to_uint8, export_trimap
from matteapp.io.images import LoadedImage, load_image
from matteapp.io.recent import remember_checkpoint
from matteapp.model.predictor import ProgressEvent, bundled_model_path

log = logging.getLogger(__name__)

SAMPLE_PHOTO = Path(__file__).resolve().parents[2] / "resources" / "samples" / "astronaut.png"
"""The bundled public-domain sample photo (located like :data:`matteapp.model.predictor.BUNDLED_MODEL_DIR`)."""

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".bmp")
_PHOTO_GLOBS = " ".join(f"*{s}" for s in PHOTO_SUFFIXES)
OPEN_FILTER = (
    f"Photos and projects ({_PHOTO_GLOBS} *{PROJECT_SUFFIX});;Photos ({_PHOTO_GLOBS});;"
    f"matteapp projects (*{PROJECT_SUFFIX});;All files (*)"
)
MAX_RECENT_FILES = 10
MAX_SOURCE_STEPS = 16
"""Undo steps that remember which automatic-trimap source (GrabCut mask, alpha) came before them; older
steps still undo the trimap, but no longer bring back the source that could re-band it."""
MAX_SCRIBBLE_STEPS = 512
AUTOSAVE_INTERVAL_MS = 30_000
AUTO_RUN_DELAY_MS = 700
STATUS_MS = 6000

CLASS_NAMES = {FOREGROUND: "Foreground", BACKGROUND: "Background", UNKNOWN: "Unknown"}
_CLASS_TINTS = {FOREGROUND: TRIMAP_FOREGROUND_TINT, BACKGROUND: TRIMAP_BACKGROUND_TINT, UNKNOWN: TRIMAP_UNKNOWN_TINT}

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

# What the run panel's progress line calls each of the window's background tasks.
_TASK_TITLES = {
    "open": "opening",
    "auto trimap": "auto trimap",
    "band": "unknown band",
    "trimap from alpha": "trimap from alpha",
    "import trimap": "importing trimap",
    "export trimap": "exporting trimap",
    "export": "export",
}

# Scribble codes: what the user painted by hand over an automatic trimap, kept so that re-banding or
# refining the automatic trimap keeps the corrections.
_SCRIBBLE_CODE = {BACKGROUND: 1, UNKNOWN: 2, FOREGROUND: 3}


# ---------------------------------------------------------------------------------- Qt-free helpers


@dataclass(frozen=True)
class AutoTrimapSource:
    """What an automatic trimap was made from, so that its unknown band can be laid again at another width.

    ``kind`` "grabcut": the :func:`~matteapp.engine.trimap.grabcut_mask` of ``rect`` (x, y, w, h), kept as
    ``packed_mask`` (``np.packbits``: 6 MB for 50 MP rather than 50); ``kind`` "alpha": ``alpha``, a run's
    matte as uint8 (h, w) at the size it ran at.  ``size``: (H, W) of the photo.  Undo keeps a few of these
    alive, hence the compact forms.
    """

    kind: str
    size: tuple[int, int]
    rect: tuple[int, int, int, int] | None = None
    packed_mask: np.ndarray | None = None
    alpha: np.ndarray | None = None

    @classmethod
    def from_grabcut(cls, rect: tuple[int, int, int, int], mask: np.ndarray) -> AutoTrimapSource:
        """From an H×W bool mask."""
        return cls("grabcut", mask.shape, rect=tuple(rect), packed_mask=np.packbits(mask, axis=None))

    @classmethod
    def from_alpha(cls, alpha: np.ndarray, size: tuple[int, int]) -> AutoTrimapSource:
        """From a float alpha in [0, 1] of any size, for a photo of ``size`` (H, W)."""
        return cls("alpha", tuple(size), alpha=alpha_to_uint8(alpha))

    def mask(self) -> np.ndarray:
        """The H×W bool GrabCut mask."""
        height, width = self.size
        return np.unpackbits(self.packed_mask, count=height * width).view(bool).reshape(height, width)


def split_scribbles(scribbles: np.ndarray | None) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """(foreground, background, unknown) H×W bool masks of a scribble array (None: no scribbles)."""
    if scribbles is None:
        return None, None, None
    return (
        scribbles == _SCRIBBLE_CODE[FOREGROUND],
        scribbles == _SCRIBBLE_CODE[BACKGROUND],
        scribbles == _SCRIBBLE_CODE[UNKNOWN],
    )


def trimap_from_source(source: AutoTrimapSource, band_width: int | None, scribbles: np.ndarray | None = None) -> np.ndarray:
    """H×W uint8 trimap of ``source`` with an unknown band of ``band_width`` px and the hand-painted
    ``scribbles`` (uint8 H×W of :data:`_SCRIBBLE_CODE`, or None) forced on top."""
    fg, bg, unknown = split_scribbles(scribbles)
    if source.kind == "grabcut":
        trimap = trimap_from_grabcut_mask(source.mask(), source.rect, band_width, fg, bg)
    elif source.kind == "alpha":
        height, width = source.size
        alpha = source.alpha
        if alpha.shape != (height, width):
            alpha = cv2.resize(alpha, (width, height), interpolation=cv2.INTER_LINEAR)
        trimap = trimap_from_mask(alpha, band_width=band_width)
        if fg is not None:
            trimap[fg] = FOREGROUND
            trimap[bg] = BACKGROUND
    else:
        raise ValueError(f"unknown auto-trimap source {source.kind!r}")
    if unknown is not None:
        trimap[unknown] = UNKNOWN
    return trimap


@dataclass(frozen=True)
class MissingPhoto:
    """A project opened fine except that its photo is not where it was: ``message`` says where it looked."""

    project: Path
    message: str


def project_photo_missing(path: Path) -> bool:
    """True when the project at ``path`` is readable but its photo is at neither its saved absolute path
    nor its path relative to the project (the lookup of :func:`matteapp.document.project.load_project`)."""
    try:
        with zipfile.ZipFile(path) as archive:
            photo = json.loads(archive.read(MANIFEST))["photo"]
    except (OSError, KeyError, TypeError, ValueError, zipfile.BadZipFile):
        return False
    candidates = [Path(photo["path"])] if isinstance(photo.get("path"), str) else []
    relative = photo.get("relative_path")
    if isinstance(relative, str) and relative:
        candidates.append(path.parent.resolve() / Path(*PurePosixPath(relative).parts))
    return bool(candidates) and not any(c.is_file() for c in candidates)


def open_project_or_missing(path: Path, photo: Path | None = None) -> MatteDocument | MissingPhoto:
    """:func:`load_project`, except that a missing photo comes back as :class:`MissingPhoto` (so that the
    window can ask where it is) instead of as a :class:`ProjectError`."""
    try:
        return load_project(path, photo=photo)
    except ProjectError as exc:
        if photo is None and project_photo_missing(path):
            return MissingPhoto(path, str(exc))
        raise


class _TaskProgress(QObject):
    """Carries a worker task's progress to the GUI thread (the signal is emitted on the worker)."""

    progress = Signal(int, str, float, str)  # task serial, stage, fraction, message


# -------------------------------------------------------------------------------------------- window


class MainWindow(QMainWindow):
    """matteapp's main window.  See the module docstring; :mod:`matteapp.gui.app` starts it.

    ``settings``: where window state, recent files and dialog choices are kept (default
    ``QSettings("matteapp", "matteapp")``).  ``controller``: the worker (default: a new one, shut down
    when the window closes, as an injected one is too).  ``load_model``: load the model chosen last time
    (or the bundled one) right away.

    Signals, for scripts and tests: ``documentChanged(doc)`` once a photo or project is open;
    ``taskFinished(kind)`` / ``taskFailed(kind, message)`` when a background task of the window ends
    ("open", "auto trimap", "band", "trimap from alpha", "import trimap", "export trimap", "export");
    ``runEnded(outcome)`` with "finished", "failed" or "cancelled"; ``exportFinished(paths)``.
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
        self.last_error: str | None = None
        """The text of the last error shown to the user (message boxes are non-modal)."""
        self.last_message: str | None = None
        """The text of the last information box (export finished, notices)."""
        self.undo_stack = QUndoStack(self)

        self._unsubscribe: Callable[[], None] | None = None
        self._canvas_alpha: np.ndarray | None = None
        self._stroking = False
        self._stroke_changed = False
        self._stroke_edit: TrimapEdit | None = None
        self._stroke_last = (0.0, 0.0)
        self._band_edit: TrimapEdit | None = None
        self._band_pending = False
        self._auto_source: AutoTrimapSource | None = None
        self._scribbles: np.ndarray | None = None
        self._scribble_serial = 0
        self._applied_band: int | None = None  # band setting the current automatic trimap was made with
        # Beside the trimap's own undo, per undo step: the auto-trimap source and band before and after it,
        # and the scribble pixels it painted (see _on_edit_step).
        self._source_log: dict[TrimapEdit, tuple[tuple, tuple]] = {}
        self._scribble_log: dict[TrimapEdit, list[tuple]] = {}
        self._run_id: int | None = None
        self._run_preview = True
        self._run_auto = False
        self._before_run: tuple[SessionResult | None, np.ndarray | None] | None = None
        self._export_after_run = False
        self._task_kind: str | None = None
        self._task_serial = 0
        self._model_info: ModelInfo | None = None
        self._model_request: tuple[str | None, bool] | None = None
        self._backdrop_color: QColor | None = None
        self._hover_token = (-1, -1)
        self._autosave_thread: threading.Thread | None = None
        self._owns_autosave = False  # this window wrote (or recovered from) the document's autosave
        self._message_box: QMessageBox | None = None
        self._task_progress = _TaskProgress(self)
        self._task_progress.progress.connect(self._on_task_progress)

        self.setAcceptDrops(True)
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks | QMainWindow.DockOption.AllowNestedDocks)
        self._build_widgets()
        self._build_actions()
        self._build_menus()
        self._build_status_bar()
        self._connect()

        self._auto_run_timer = QTimer(self)
        self._auto_run_timer.setSingleShot(True)
        self._auto_run_timer.setInterval(AUTO_RUN_DELAY_MS)
        self._auto_run_timer.timeout.connect(self._auto_run)
        self._autosave_timer = QTimer(self)
        self._autosave_timer.setInterval(AUTOSAVE_INTERVAL_MS)
        self._autosave_timer.timeout.connect(self.autosave_now)
        self._autosave_timer.start()

        self.resize(1440, 900)
        self._restore_window_state()
        self._refresh_recent_files()
        self._show_document_state()
        if load_model:
            self._load_model_from_settings()
        else:
            self._set_model_label(self.controller.model_info)

    # ============================================================================== construction

    def _build_widgets(self) -> None:
        self.canvas = ImageCanvas()
        # Drops go to the window (photos and projects), not to the graphics scene.
        self.canvas.setAcceptDrops(False)
        self.canvas.viewport().setAcceptDrops(False)
        self.empty_state = EmptyState()
        self.empty_state.set_sample_available(SAMPLE_PHOTO.is_file())
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty_state)
        self.stack.addWidget(self.canvas)
        self.setCentralWidget(self.stack)

        self.tool_panel = ToolOptionsPanel()
        self.tool_panel.set_class_colors({value: QColor(*rgb) for value, rgb in _CLASS_TINTS.items()})
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

        self.canvas.set_brush_radius(self.tool_panel.brush_size() / 2)
        self.canvas.set_overlay_opacity(self.tool_panel.opacity())
        self.canvas.set_tool(self._canvas_tool(self.tool_panel.tool()))

    def _dock(self, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)  # saveState() needs names
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable | QDockWidget.DockWidgetFeature.DockWidgetFloatable | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        self.addDockWidget(area, dock)
        return dock

    def _action(self, text: str, slot: Callable | None = None, shortcut=None, tip: str | None = None, checkable: bool = False) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            shortcuts = shortcut if isinstance(shortcut, list) else [shortcut]
            action.setShortcuts([QKeySequence(s) for s in shortcuts])
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(tip)
        action.setCheckable(checkable)
        if slot is not None:
            (action.toggled if checkable else action.triggered).connect(slot)
        return action

    def _build_actions(self) -> None:
        a = self._action
        # -- file
        self.action_open = a("&Open…", lambda: self.open_dialog(), QKeySequence.StandardKey.Open, "Open a photo or a .matte project")
        self.action_open_sample = a("Open &Sample Photo", self.open_sample, tip="Open the bundled sample portrait")
        self.action_open_sample.setEnabled(SAMPLE_PHOTO.is_file())
        self.action_save = a("&Save Project", lambda: self.save_project(), QKeySequence.StandardKey.Save, "Save the photo's trimap and settings as a .matte project")
        self.action_save_as = a("Save Project &As…", lambda: self.save_project_as(), "Ctrl+Shift+S")
        self.action_import_trimap = a("&Import Trimap…", lambda: self.import_trimap(), tip="Replace the trimap with a PNG (can be undone)")
        self.action_export_trimap = a("Export &Trimap…", lambda: self.export_trimap(), tip="Write the trimap as an 8-bit PNG")
        self.action_export = a("&Export…", lambda: self.export(), "Ctrl+E", "Write the cut-out, alpha, trimap or routing heatmap")
        self.action_quit = a("&Quit", self.close, QKeySequence.StandardKey.Quit)
        self.action_quit.setMenuRole(QAction.MenuRole.QuitRole)

        # -- edit
        self.action_undo = self.undo_stack.createUndoAction(self, "&Undo")
        self.action_undo.setShortcuts([QKeySequence(QKeySequence.StandardKey.Undo)])
        self.action_redo = self.undo_stack.createRedoAction(self, "&Redo")
        self.action_redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        panel_actions = self.tool_panel.shortcut_actions()
        self.action_rect_tool = next(x for x in panel_actions if x.data() == "rect")
        self.action_invert = next(x for x in panel_actions if x.shortcut() == QKeySequence("Ctrl+Shift+I"))
        self.action_refine = a("Refine Auto Trimap with Scribbles", self.refine_auto_trimap, tip="Run GrabCut again, steered by your Foreground and Background strokes")
        self.action_from_alpha = a("Trimap from &Alpha", self.trimap_from_alpha, tip="Rebuild the trimap from the current matte")
        self.action_clear = a("C&lear Trimap…", self.clear_trimap, tip="Set the whole trimap to Background (can be undone)")

        # -- view
        self.view_group = QActionGroup(self)
        self.view_actions: dict[str, QAction] = {}
        for mode, (text, key) in VIEW_MODES.items():
            action = a(text, None, key, checkable=True)
            action.setData(mode)
            self.view_group.addAction(action)
            self.view_actions[mode] = action
        self.view_group.triggered.connect(lambda action: self.set_view_mode(action.data()))
        self.backdrop_group = QActionGroup(self)
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

        # -- model
        self.action_preview, self.action_full = self.run_panel.shortcut_actions()
        self.action_preview.setText("Run &Preview")
        self.action_full.setText("Run &Full Resolution")
        self.action_cancel = a("&Cancel", self.cancel_work, "Esc", "Stop the running job; the trimap stays")
        self.action_cancel.setEnabled(False)
        self.action_model = a("&Model && Device…", self.choose_model)

        # -- help
        self.action_shortcuts = a("&Keyboard Shortcuts", self.show_shortcuts, QKeySequence.StandardKey.HelpContents)
        self.action_about = a("&About matteapp", self.show_about)
        self.action_about.setMenuRole(QAction.MenuRole.AboutRole)

        for action in self._window_actions():
            self.addAction(action)  # shortcuts work while the menus are closed, wherever focus is

    def _window_actions(self) -> list[QAction]:
        return [
            self.action_open, self.action_save, self.action_save_as, self.action_export, self.action_quit,
            self.action_undo, self.action_redo, *self.view_actions.values(), self.action_cycle_backdrop,
            self.action_compare, self.action_fit, self.action_actual, self.action_zoom_in, self.action_zoom_out,
            self.action_cancel, self.action_shortcuts,
        ]  # fmt: skip

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file = bar.addMenu("&File")
        file.addAction(self.action_open)
        self.recent_menu = file.addMenu("Open &Recent")
        file.addAction(self.action_open_sample)
        file.addSeparator()
        file.addAction(self.action_save)
        file.addAction(self.action_save_as)
        file.addSeparator()
        file.addAction(self.action_import_trimap)
        file.addAction(self.action_export_trimap)
        file.addAction(self.action_export)
        file.addSeparator()
        file.addAction(self.action_quit)

        edit = bar.addMenu("&Edit")
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
        for action in self.tool_panel.shortcut_actions():
            if action is not self.action_invert:
                tools.addAction(action)

        view = bar.addMenu("&View")
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
        for action in (self.action_fit, self.action_actual, self.action_zoom_in, self.action_zoom_out):
            view.addAction(action)
        view.addSeparator()
        panels = view.addMenu("Pa&nels")
        for dock in (self.tools_dock, self.run_dock, self.routing_dock):
            panels.addAction(dock.toggleViewAction())

        model = bar.addMenu("&Model")
        model.addAction(self.action_preview)
        model.addAction(self.action_full)
        model.addAction(self.action_cancel)
        model.addSeparator()
        model.addAction(self.action_model)

        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self.action_open_sample)
        help_menu.addAction(self.action_shortcuts)
        help_menu.addSeparator()
        help_menu.addAction(self.action_about)

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

    def _connect(self) -> None:
        c = self.canvas
        c.strokeStarted.connect(self._on_stroke_started)
        c.strokeMoved.connect(self._on_stroke_moved)
        c.strokeFinished.connect(self._on_stroke_finished)
        c.polygonFinished.connect(self._on_polygon)
        c.rectFinished.connect(self._on_rect)
        c.fillClicked.connect(self._on_fill)
        c.zoomChanged.connect(lambda scale: self.zoom_label.setText(f"{scale * 100:.0f} %"))
        c.hovered.connect(self._on_hovered)
        c.tokenHovered.connect(self._on_token_hovered)

        t = self.tool_panel
        t.toolChanged.connect(self._on_tool_changed)
        t.brushSizeChanged.connect(lambda diameter: self.canvas.set_brush_radius(max(paint.MIN_RADIUS, diameter / 2)))
        t.opacityChanged.connect(self.canvas.set_overlay_opacity)
        t.bandWidthChanged.connect(self._on_band_width)
        t.trimapFromAlphaRequested.connect(self.trimap_from_alpha)
        t.invertRequested.connect(self.invert_trimap)
        t.clearRequested.connect(self.clear_trimap)

        r = self.run_panel
        r.runRequested.connect(lambda preview: self.run_matte(preview))
        r.cancelRequested.connect(self.cancel_work)
        r.autoRunChanged.connect(lambda on: self._update_setting(auto_run=bool(on)))
        r.engineChanged.connect(lambda name: self._update_setting(engine=name))
        r.capChanged.connect(lambda cap: self._update_setting(max_global_tokens=cap))
        r.budgetChanged.connect(lambda mb: self._update_setting(memory_budget_mb=mb))

        self.routing_panel.displayChanged.connect(self.canvas.set_routing_display)
        self.routing_panel.gridToggled.connect(self._grid_toggled)

        e = self.empty_state
        e.openRequested.connect(lambda: self.open_dialog())
        e.sampleRequested.connect(self.open_sample)
        e.recentRequested.connect(self.open_path)
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)

        k = self.controller
        k.modelLoading.connect(self._on_model_loading)
        k.modelReady.connect(self._on_model_ready)
        k.modelFailed.connect(self._on_model_failed)
        k.progress.connect(self._on_run_progress)
        k.routing.connect(self._on_run_routing)
        k.alphaTile.connect(self._on_run_alpha_tile)
        k.finished.connect(self._on_run_finished)
        k.failed.connect(self._on_run_failed)
        k.cancelled.connect(self._on_run_cancelled)
        k.busyChanged.connect(self._on_busy_changed)

    # ================================================================================ opening

    def open_dialog(self) -> None:
        """Ask for a photo or a project and open it."""
        start = str(self.settings.value("paths/open", str(Path.home())))
        path, _ = QFileDialog.getOpenFileName(self, "Open photo or project", start, OPEN_FILTER)
        if path:
            self.settings.setValue("paths/open", str(Path(path).parent))
            self.open_path(path)

    def open_sample(self) -> None:
        self.open_path(SAMPLE_PHOTO)

    def open_path(self, path: str | Path) -> bool:
        """Open a photo or a ``.matte`` project (off the GUI thread; ``documentChanged`` follows, or a message).

        Asks first when the current work is unsaved.  Returns False when the user kept the current
        document; True once loading has started.
        """
        path = Path(path)
        if not self._confirm_replace("open another file"):
            return False
        self._cancel_everything()
        if path.suffix.lower() == PROJECT_SUFFIX:
            self._open_project(path, remember=True)
        else:
            self._open_photo(path)
        return True

    def _open_photo(self, path: Path) -> None:
        def opened(image: LoadedImage) -> None:
            self._set_document(MatteDocument(image))
            self._add_recent_file(path)
            self.statusBar().showMessage(f"Opened {path.name} ({image.size[0]:,} × {image.size[1]:,} px)", STATUS_MS)

        self._start_task(
            "open",
            lambda: load_image(path),
            opened,
            lambda message: self._show_error("Cannot open the photo", message),
            message=f"opening {path.name}",
        )

    def _open_project(self, path: Path, remember: bool, photo: Path | None = None, recovered: bool = False) -> None:
        def opened(value) -> None:
            if isinstance(value, MissingPhoto):
                located = self._locate_photo(value)
                if located is not None:
                    self._open_project(path, remember, Path(located), recovered)
                else:
                    self._show_error("Cannot open the project", value.message)
                return
            self._set_document(value)
            self._owns_autosave = recovered  # saving or discarding the recovered work deletes it
            if remember:
                self._add_recent_file(path)
            self.statusBar().showMessage(f"Recovered unsaved work on {Path(value.image.path).name}" if recovered else f"Opened {path.name}", STATUS_MS)

        self._start_task(
            "open",
            lambda: open_project_or_missing(path, photo),
            opened,
            lambda message: self._show_error("Cannot open the project", message),
            message=f"opening {path.name}",
        )

    def _locate_photo(self, missing: MissingPhoto) -> str | None:
        """Ask where the photo of a project went; None if the user gives up."""
        answer = QMessageBox.question(
            self,
            "Photo not found",
            f"{missing.message}\n\nLocate the photo?",
            QMessageBox.StandardButton.Open | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Open,
        )
        if answer != QMessageBox.StandardButton.Open:
            return None
        path, _ = QFileDialog.getOpenFileName(self, "Locate the photo", str(missing.project.parent), f"Photos ({_PHOTO_GLOBS});;All files (*)")
        return path or None

    def offer_recovery(self) -> bool:
        """Offer to recover work left in autosaves (a crash, or a close without saving); True when the
        newest is being opened.  Called once the window shows."""
        try:
            found = find_autosaves()
        except OSError as exc:
            log.warning("cannot look for autosaves: %s", exc)
            return False
        if not found:
            return False
        answer = self._ask_recovery(found)
        if answer == "recover":
            self._cancel_everything()
            self._open_project(found[0].path, remember=False, recovered=True)
            return True
        if answer == "discard":
            for info in found:
                try:
                    discard_autosave(info.path)
                except (OSError, ValueError) as exc:
                    log.warning("could not delete autosave %s: %s", info.path, exc)
        return False

    def _ask_recovery(self, found: list[AutosaveInfo]) -> str:
        """"recover" (open the newest), "discard" (delete them all) or "later"."""
        newest = found[0]
        others = f"\n\n{len(found) - 1} older autosave(s) will be offered again next time." if len(found) > 1 else ""
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Recover unsaved work?",
            f"matteapp did not close normally. Unsaved work on {newest.photo_path.name} was autosaved at "
            f"{newest.saved_at.astimezone():%H:%M on %d %b %Y}.{others}",
            QMessageBox.StandardButton.NoButton,
            self,
        )
        recover = box.addButton("Recover", QMessageBox.ButtonRole.AcceptRole)
        discard = box.addButton("Discard", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton("Later", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(recover)
        box.exec()
        clicked = box.clickedButton()
        return "recover" if clicked is recover else "discard" if clicked is discard else "later"

    def _set_document(self, doc: MatteDocument) -> None:
        """Show ``doc``, replacing the current document (the user has already agreed to that)."""
        old = self.doc
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if old is not None and old is not doc:
            self._drop_autosave(old)
        self._owns_autosave = False
        self.undo_stack.clear()
        self.doc = doc
        self._run_id = None
        self._before_run = None
        self._export_after_run = False
        self._stroking = False
        self._stroke_edit = self._band_edit = None
        self._band_pending = False
        self._set_auto_source(None)
        self._source_log.clear()
        self._scribble_log.clear()
        self._applied_band = doc.settings["band_width"]
        self._auto_run_timer.stop()
        self._canvas_alpha = None
        with QSignalBlocker(self.action_compare):
            self.action_compare.setChecked(False)
        self._unsubscribe = doc.subscribe(self._on_document_event)

        self.canvas.set_photo(doc.rgb)
        self.canvas.set_trimap(doc.trimap)
        self.routing_panel.clear()
        if doc.alpha is not None:
            self._show_alpha(doc.alpha)
        self._show_routing()

        height, width = doc.size
        self.tool_panel.set_auto_band_width(default_band_width(height, width))
        self.tool_panel.set_band_width(doc.settings["band_width"])
        self.tool_panel.set_alpha_available(doc.alpha is not None)
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

        self.set_view_mode("cutout" if doc.alpha is not None else "trimap")
        self._show_document_state()
        self.canvas.setFocus()
        if not doc.has_hints:
            self.statusBar().showMessage(
                "Drag a rectangle around the subject with the Rectangle tool (R), or paint Foreground (1) and "
                "an Unknown band (3) along its edge.",
                2 * STATUS_MS,
            )
        if doc.notices:
            self._show_info("About this project", "\n\n".join(doc.notices))
            doc.notices.clear()
        self.documentChanged.emit(doc)

    def _show_document_state(self) -> None:
        """Title, page, enabled actions and labels for the current document (or none)."""
        doc = self.doc
        has_doc = doc is not None
        self.stack.setCurrentWidget(self.canvas if has_doc else self.empty_state)
        for action in (
            self.action_save, self.action_save_as, self.action_import_trimap, self.action_export_trimap,
            self.action_export, self.action_invert, self.action_clear, *self.view_actions.values(),
            self.action_fit, self.action_actual, self.action_zoom_in, self.action_zoom_out,
        ):  # fmt: skip
            action.setEnabled(has_doc)
        self.tools_dock.widget().setEnabled(has_doc)
        self._update_title()
        self._update_hints()
        self._update_source_actions()
        self._update_memory_label()
        self._update_compare_action()
        self.zoom_label.setText(f"{self.canvas.zoom * 100:.0f} %" if has_doc else "")
        self.cursor_label.setText("")

    def _update_title(self) -> None:
        doc = self.doc
        if doc is None:
            self.setWindowTitle("matteapp")
            self.setWindowModified(False)
            return
        name = doc.path.name if doc.path is not None else Path(doc.image.path).name
        self.setWindowTitle(f"{name}[*] — matteapp")
        self.setWindowModified(doc.dirty)

    # ---------------------------------------------------------------------------------- recent files

    def recent_files(self) -> list[str]:
        """Recently opened photos and projects, most recent first (QSettings ``recent/files``)."""
        value = self.settings.value("recent/files", [])
        items = [value] if isinstance(value, str) else list(value or [])
        return [str(p) for p in items if p][:MAX_RECENT_FILES]

    def _add_recent_file(self, path: Path) -> None:
        text = str(Path(path).resolve())
        items = [text] + [p for p in self.recent_files() if p != text]
        self.settings.setValue("recent/files", items[:MAX_RECENT_FILES])
        self._refresh_recent_files()

    def _refresh_recent_files(self) -> None:
        self.empty_state.set_recent_files([p for p in self.recent_files() if Path(p).exists()])

    def _fill_recent_menu(self) -> None:
        menu = self.recent_menu
        menu.clear()
        items = self.recent_files()
        for i, path in enumerate(items):
            p = Path(path)
            action = menu.addAction(f"&{(i + 1) % 10}  {p.name}")
            action.setToolTip(path)
            action.setStatusTip(path)
            action.setEnabled(p.exists())
            action.triggered.connect(lambda _=False, path=path: self.open_path(path))
        if not items:
            menu.addAction("No recent files").setEnabled(False)
        else:
            menu.addSeparator()
            menu.addAction("Clear Recent Files", self._clear_recent_files)

    def _clear_recent_files(self) -> None:
        self.settings.setValue("recent/files", [])
        self._refresh_recent_files()

    # ------------------------------------------------------------------------------------ drag & drop

    @staticmethod
    def _dropped_path(event) -> Path | None:
        mime = event.mimeData()
        if not mime.hasUrls():
            return None
        for url in mime.urls():
            if url.isLocalFile():
                path = Path(url.toLocalFile())
                if path.suffix.lower() in PHOTO_SUFFIXES + (PROJECT_SUFFIX,):
                    return path
        return None

    def dragEnterEvent(self, event) -> None:
        if self._dropped_path(event) is not None:
            event.acceptProposedAction()
            self.empty_state.set_drop_highlight(True)
        else:
            event.ignore()

    def dragLeaveEvent(self, event) -> None:
        self.empty_state.set_drop_highlight(False)
        super().dragLeaveEvent(event)

    def dropEvent(self, event) -> None:
        self.empty_state.set_drop_highlight(False)
        path = self._dropped_path(event)
        if path is None:
            event.ignore()
            return
        event.acceptProposedAction()
        # Opening may ask a question; let the drag finish first.
        QTimer.singleShot(0, lambda: self.open_path(path))

    # =========================================================================== document events

    def _on_document_event(self, event: str, payload) -> None:
        if event == "trimap":
            self._on_trimap_changed(payload)
        elif event == "results":
            self._on_results()
        elif event == "routing":
            self._on_routing(payload)
        elif event == "alpha_tile":
            self._on_alpha_tile(payload)
        elif event == "alpha":
            self._show_alpha(self.doc.alpha)
        elif event == "dirty":
            self.setWindowModified(bool(payload))

    def _on_trimap_changed(self, rect: tuple[int, int, int, int]) -> None:
        x, y, w, h = rect
        if w > 0 and h > 0:  # undoing an edit that changed nothing reports (0, 0, 0, 0)
            self.canvas.update_trimap_region(x, y, w, h)
        self._update_hints()
        self._update_memory_label()
        if self._stroking:
            self._stroke_changed = True
        else:
            self._schedule_auto_run()

    def _on_results(self) -> None:
        doc = self.doc
        if doc.result is None:
            # A run began or results were cleared: the final alpha (if any) arrives as an "alpha" event.
            self._show_alpha(doc.alpha)
            self.routing_panel.clear()
        self._show_routing()
        self.tool_panel.set_alpha_available(doc.alpha is not None and doc.result is not None)
        self._update_source_actions()
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

    # ================================================================================== painting

    def _paint(self, patch: Patch | None, label: str, merge_with: TrimapEdit | None = None, value: int | None = None) -> TrimapEdit | None:
        """Apply ``patch`` as an undo step (or into ``merge_with``, the open edit of the same gesture).

        While an automatic trimap can still be re-banded, the pixels a tool paints with ``value`` are
        also remembered as scribbles, so that re-banding and refining keep them.
        """
        doc = self.doc
        record = None
        if patch is not None and value is not None and self._auto_source is not None:
            record = self._record_scribbles(patch, value)
        edit = doc.apply(patch, label, merge_with=merge_with)
        self._push(edit, merge_with)
        if edit is not None and record is not None:
            self._scribble_log.setdefault(edit, []).append(record)
            while len(self._scribble_log) > MAX_SCRIBBLE_STEPS:
                self._scribble_log.pop(next(iter(self._scribble_log)))
        return edit

    def _push(self, edit: TrimapEdit | None, merged_into: TrimapEdit | None = None) -> None:
        push_edit(self.undo_stack, self.doc, edit, merged_into, on_step=self._on_edit_step)

    def _record_scribbles(self, patch: Patch, value: int) -> tuple | None:
        """Mark the pixels ``patch`` changes as painted with ``value``; returns what undoing that needs."""
        x, y, w, h = patch.rect
        changed = self.doc.trimap[y : y + h, x : x + w] != patch.values
        if not changed.any():
            return None
        if self._scribbles is None:
            self._scribbles = np.zeros(self.doc.size, dtype=np.uint8)  # untouched pages cost nothing
        region = self._scribbles[y : y + h, x : x + w]
        previous = region[changed]
        code = _SCRIBBLE_CODE[value]
        region[changed] = code
        self._scribble_serial += 1
        self._update_source_actions()
        return self._scribbles, x, y, (h, w), np.packbits(changed, axis=None), previous, code

    def _log_source_change(self, edit: TrimapEdit | None, before: tuple, after: tuple) -> None:
        """Remember the (source, scribbles, band setting) before and after ``edit``; an edit that grew
        (merged band changes) keeps its first ``before``."""
        if edit is None:
            return
        if edit in self._source_log:
            before = self._source_log.pop(edit)[0]
        self._source_log[edit] = (before, after)
        while len(self._source_log) > MAX_SOURCE_STEPS:
            self._source_log.pop(next(iter(self._source_log)))

    def _source_state(self, band: int | None) -> tuple:
        return self._auto_source, self._scribbles, band

    def _on_edit_step(self, edit: TrimapEdit, undone: bool) -> None:
        """An undo step was undone or redone: bring the auto-trimap source, band setting and scribbles
        along, so that re-banding after an undo does not resurrect what was undone."""
        states = self._source_log.get(edit)
        if states is not None:
            source, scribbles, band = states[0] if undone else states[1]
            self._auto_source, self._scribbles = source, scribbles
            self._band_edit = None
            self._applied_band = band
            if self.doc.settings["band_width"] != band:
                self.doc.update_settings(band_width=band)
                self.tool_panel.set_band_width(band)
        records = self._scribble_log.get(edit, [])
        for array, x, y, (h, w), packed, previous, code in reversed(records) if undone else records:
            changed = np.unpackbits(packed, count=h * w).view(bool).reshape(h, w)
            array[y : y + h, x : x + w][changed] = previous if undone else code
        if states is not None or records:
            self._scribble_serial += 1
            self._update_source_actions()

    def _paint_value(self) -> int:
        return self.tool_panel.trimap_class()

    def _on_tool_changed(self, tool: str) -> None:
        self.canvas.set_tool(self._canvas_tool(tool))
        if tool != "pan" and self.doc is not None and self.canvas.view_mode != "trimap":
            self.set_view_mode("trimap")  # the tools paint the trimap: show it

    @staticmethod
    def _canvas_tool(tool: str) -> str:
        return "none" if tool == "pan" else tool

    def _on_stroke_started(self, x: float, y: float) -> None:
        if self.doc is None:
            return
        if self.canvas.view_mode != "trimap":
            self.set_view_mode("trimap")
        self._auto_run_timer.stop()
        self._stroking, self._stroke_changed = True, False
        self._stroke_edit = None
        self._stroke_last = (x, y)
        self._stroke_segment([(x, y)])

    def _on_stroke_moved(self, x: float, y: float) -> None:
        if not self._stroking or self.doc is None:
            return
        points = [self._stroke_last, (x, y)]
        self._stroke_last = (x, y)
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
        self._stroke_edit = None
        if self._stroke_changed:
            self._schedule_auto_run()

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
        before = self._source_state(self._applied_band)
        self._set_auto_source(None)  # re-banding the automatic trimap would swap them back
        edit = self._paint(paint.invert(self.doc.trimap), "Invert trimap")
        self._log_source_change(edit, before, self._source_state(self._applied_band))

    def clear_trimap(self) -> None:
        """Set the whole trimap to Background after asking (one undo step)."""
        if self.doc is None or not self._confirm_clear():
            return
        before = self._source_state(self._applied_band)
        self._set_auto_source(None)
        edit = self._paint(paint.fill(self.doc.trimap, BACKGROUND), "Clear trimap")
        self._log_source_change(edit, before, self._source_state(self._applied_band))

    def _confirm_clear(self) -> bool:
        answer = QMessageBox.question(
            self,
            "Clear the trimap?",
            "Set the whole trimap to Background? You can undo this.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Yes,
        )
        return answer == QMessageBox.StandardButton.Yes

    # ============================================================================ automatic trimap

    def _band_width(self) -> int:
        doc = self.doc
        return doc.settings["band_width"] or default_band_width(*doc.size)

    def _set_auto_source(self, source: AutoTrimapSource | None) -> None:
        self._auto_source = source
        self._scribbles = None
        self._scribble_serial += 1
        self._band_edit = None
        self._update_source_actions()

    def _update_source_actions(self) -> None:
        source = self._auto_source
        self.action_refine.setEnabled(source is not None and source.kind == "grabcut" and self._scribbles is not None)
        doc = self.doc
        self.action_from_alpha.setEnabled(doc is not None and doc.alpha is not None and doc.result is not None)

    def _scribble_snapshot(self) -> np.ndarray | None:
        # The user keeps painting while the worker reads: it gets its own copy.
        return None if self._scribbles is None else self._scribbles.copy()

    def _on_rect(self, rect: tuple) -> None:
        if self.doc is not None:
            self.make_auto_trimap(tuple(int(v) for v in rect))

    def make_auto_trimap(self, rect: tuple[int, int, int, int]) -> None:
        """GrabCut inside ``rect`` (x, y, w, h photo pixels) on the worker, then the trimap with the current
        band width (one undo step).  The mask is kept for re-banding and refining."""
        self._grabcut(rect, scribbles=None, label="Auto trimap")

    def refine_auto_trimap(self) -> None:
        """GrabCut again on the last rectangle, steered by the Foreground/Background strokes since."""
        source = self._auto_source
        if self.doc is None or source is None or source.kind != "grabcut":
            return
        self._grabcut(source.rect, scribbles=self._scribble_snapshot(), label="Refine auto trimap")

    def _grabcut(self, rect, scribbles: np.ndarray | None, label: str) -> None:
        doc = self.doc
        rgb, band, serial = doc.rgb, self._band_width(), self._scribble_serial
        band_setting = doc.settings["band_width"]

        def task():
            fg, bg, _ = split_scribbles(scribbles)
            mask = grabcut_mask(rgb, rect, fg, bg)
            source = AutoTrimapSource.from_grabcut(rect, mask)
            del mask
            return source, trimap_from_source(source, band, scribbles)

        def done(value) -> None:
            if doc is not self.doc:
                return
            source, trimap = value
            before = self._source_state(self._applied_band)
            kept = self._scribbles if scribbles is not None else None
            painted_meanwhile = kept is not None and self._scribble_serial != serial
            self._set_auto_source(source)
            if kept is not None:  # refining keeps the strokes, including those made while GrabCut ran
                self._scribbles = kept
                self._update_source_actions()
            self._applied_band = band_setting
            edit = doc.replace_trimap(trimap, label)
            self._push(edit)
            self._log_source_change(edit, before, self._source_state(band_setting))
            if band != self._band_width() or painted_meanwhile:
                self._regenerate_band()
            self.statusBar().showMessage(f"{label} ready — adjust the Unknown band, or paint corrections and Refine", STATUS_MS)

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
            before = self._source_state(self._applied_band)
            self._set_auto_source(source)
            self._applied_band = band_setting
            edit = doc.replace_trimap(trimap, "Trimap from alpha")
            self._push(edit)
            self._log_source_change(edit, before, self._source_state(band_setting))
            if band != self._band_width():
                self._regenerate_band()

        self._start_trimap_task("trimap from alpha", task, done, "thresholding the matte")

    def _on_band_width(self, px: int | None) -> None:
        if self.doc is None:
            return
        self._update_setting(band_width=px)
        if self._auto_source is not None:
            self._regenerate_band()

    def _regenerate_band(self) -> None:
        """Lay the automatic trimap's unknown band again at the current width (off the GUI thread).

        Consecutive band changes merge into one undo step.  While another of the window's tasks runs,
        the change waits for it (a newer task would cancel it)."""
        doc, source = self.doc, self._auto_source
        if doc is None or source is None:
            return
        if self._task_kind is not None and self._task_kind != "band":
            self._band_pending = True
            return
        self._band_pending = False
        band, serial, scribbles = self._band_width(), self._scribble_serial, self._scribble_snapshot()
        band_setting = doc.settings["band_width"]

        def done(trimap) -> None:
            if doc is not self.doc or source is not self._auto_source:
                return
            before = self._source_state(self._applied_band)
            edit = doc.apply(Patch(0, 0, trimap), "Unknown band width", merge_with=self._band_edit)
            self._push(edit, self._band_edit)
            self._applied_band = band_setting
            self._log_source_change(edit, before, self._source_state(band_setting))
            if edit is not None:
                self._band_edit = edit
            if band != self._band_width() or serial != self._scribble_serial:
                self._regenerate_band()  # the slider moved on, or strokes came in, while this ran

        self._start_trimap_task("band", lambda: trimap_from_source(source, band, scribbles), done, f"unknown band {band} px")

    def _start_trimap_task(self, kind: str, fn: Callable, on_done: Callable, message: str) -> None:
        if self._task_kind == "export":
            # A new task would cancel the export (the worker keeps one task at a time).
            self.statusBar().showMessage("Wait for the export to finish (Esc cancels it).", STATUS_MS)
            return
        # A preview in flight is about to be stale, and it would hold the worker: drop it.  A
        # full-resolution run is the user's explicit request; the task waits behind it instead.
        if self._run_id is not None and self._run_preview:
            self.controller.cancel()
        elif self._run_id is not None:
            self.statusBar().showMessage("Waiting for the full-resolution run to finish (Esc cancels it)…", STATUS_MS)
        self._start_task(kind, fn, on_done, lambda m: self._show_error("Automatic trimap failed", m), message=message)

    # ================================================================================ background tasks

    def _start_task(
        self,
        kind: str,
        fn: Callable,
        on_done: Callable[[object], None],
        on_error: Callable[[str], None],
        *,
        with_cancel: bool = False,
        message: str = "",
    ) -> int:
        """Run ``fn`` on the worker; ``on_done(value)`` / ``on_error(message)`` on the GUI thread after.

        The controller keeps one task at a time (a newer one cancels the older), so ``kind`` names the
        one running; ``taskFinished`` / ``taskFailed`` tell scripts and tests that it ended.
        """
        self._task_serial += 1
        serial = self._task_serial
        self._task_kind = kind

        def done(value) -> None:
            if serial != self._task_serial:
                return
            self._task_kind = None
            try:
                on_done(value)
            finally:
                if kind == "open":
                    self.run_panel.set_progress("idle", 0.0, "")
                else:
                    self.run_panel.set_progress(_TASK_TITLES.get(kind, kind), 1.0, "done")
                self.taskFinished.emit(kind)
                self._resume_pending_band()

        def failed(text: str) -> None:
            if serial != self._task_serial:
                return
            self._task_kind = None
            try:
                on_error(text)
            finally:
                self.run_panel.set_progress("error", 0.0, text.splitlines()[0] if text else "")
                self.taskFailed.emit(kind, text)
                self._resume_pending_band()

        self.controller.run_task(fn, done, failed, with_cancel=with_cancel)
        self.run_panel.set_progress(_TASK_TITLES.get(kind, kind), None, message)
        return serial

    def _resume_pending_band(self) -> None:
        if self._band_pending and self._task_kind is None:
            self._regenerate_band()

    def _on_task_progress(self, serial: int, stage: str, fraction: float, message: str) -> None:
        if serial == self._task_serial and self._task_kind is not None:
            self.run_panel.set_progress(stage, fraction, message)

    def _relay_progress(self, serial: int) -> Callable[[ProgressEvent], None]:
        """A progress callback for a task that runs on the worker thread."""

        def relay(event: ProgressEvent) -> None:
            self._task_progress.progress.emit(serial, event.stage, float(event.fraction), event.message)

        return relay

    def cancel_work(self) -> None:
        """Cancel the running matting request and the running task (Esc, Cancel); the trimap stays."""
        kind = self._task_kind
        self.controller.cancel()
        self._export_after_run = False
        if kind is not None:
            self._task_kind = None
            self._task_serial += 1  # its callbacks no longer count
            self.run_panel.set_progress("cancelled", 0.0, kind)
            self.statusBar().showMessage(f"Cancelled {kind}", STATUS_MS)

    def _cancel_everything(self) -> None:
        if self._run_id is not None or self._task_kind is not None:
            self.cancel_work()

    # ================================================================================ running

    def _update_setting(self, **changes) -> None:
        if self.doc is None:
            return
        try:
            self.doc.update_settings(**changes)
        except ValueError as exc:
            self._show_error("Invalid setting", str(exc))
            return
        if "auto_run" in changes and changes["auto_run"]:
            self._schedule_auto_run()

    def _update_hints(self) -> None:
        doc = self.doc
        if doc is None:
            self.run_panel.set_enabled_for_hints(False, "Open a photo first (File ▸ Open, or drop one on the window).")
        else:
            self.run_panel.set_enabled_for_hints(doc.has_hints)

    def _schedule_auto_run(self) -> None:
        doc = self.doc
        if doc is not None and doc.settings["auto_run"] and doc.has_hints and not self._stroking:
            self._auto_run_timer.start()

    def _auto_run(self) -> None:
        if self._stroking or self.doc is None or not self.doc.has_hints:
            return
        if self._task_kind is not None:
            self._auto_run_timer.start()  # the trimap is about to change again
            return
        self.run_matte(preview=True, auto=True)

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
        self._auto_run_timer.stop()
        self._run_id = self.controller.submit(request)
        self._run_preview, self._run_auto = preview, auto
        doc.begin_results(request.work_size, None, preview)
        info = self._model_info
        routed = settings["engine"] == "mematte" and (info is None or info.routed)
        if not auto and routed and self.canvas.view_mode in ("photo", "trimap"):
            self.set_view_mode("routing")
        h, w = request.work_size
        what = f"{'preview' if preview else 'full resolution'}, {w:,} × {h:,} px"
        self.run_panel.set_progress("starting", 0.0, what)
        self.statusBar().showMessage(f"Matting ({what}) — Esc cancels")
        return self._run_id

    def _on_busy_changed(self, busy: bool) -> None:
        self.run_panel.set_busy(busy)
        self.action_cancel.setEnabled(busy)

    def _on_run_progress(self, request_id: int, stage: str, fraction: float, message: str) -> None:
        if request_id == self._run_id:
            self.run_panel.set_progress(stage, fraction, message)

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
        try:
            doc.set_result(result)
        except ValueError as exc:
            self._show_error("The result does not fit the photo", str(exc))
            self.runEnded.emit("failed")
            return
        info = self._model_info
        if result.block_stats and info is not None and info.num_heads:
            self.routing_panel.set_savings(global_attention_savings(result, info.num_heads))
        h, w = result.size
        seconds = result.timings.get("total")
        took = f" · {seconds:.1f} s" if seconds is not None else ""
        kind = "Preview" if result.is_preview else "Full resolution"
        self.run_panel.set_summary(f"{kind} {w:,} × {h:,}{took} on {result.device}/{result.precision}")
        self.run_panel.set_progress("done", 1.0, "")
        for note in result.notes:
            log.info("run note: %s", note)
        if not self._run_auto:
            self.set_view_mode("cutout")
        self.statusBar().showMessage(f"{kind} matte done{took}", STATUS_MS)
        self.runEnded.emit("finished")
        if self._export_after_run and not result.is_preview:
            self._export_after_run = False
            QTimer.singleShot(0, self.export)

    def _restore_before_run(self) -> None:
        doc, before = self.doc, self._before_run
        self._run_id = None
        self._before_run = None
        if doc is None:
            return
        result, previous = before if before is not None else (None, None)
        if result is not None:
            doc.set_result(result)
            info = self._model_info
            if result.block_stats and info is not None and info.num_heads:
                self.routing_panel.set_savings(global_attention_savings(result, info.num_heads))
        else:
            doc.clear_results()
        doc.previous_alpha = previous
        self._update_compare_action()

    def _on_run_failed(self, request_id: int, kind: str, message: str) -> None:
        if request_id != self._run_id:
            return
        self._restore_before_run()
        self._export_after_run = False
        self.run_panel.set_progress("error", 0.0, message.splitlines()[0] if message else "")
        self.statusBar().showMessage("Matting failed — trimap kept", STATUS_MS)
        self._show_error("Out of memory" if kind == "oom" else "Matting failed", f"{message}\n\nThe trimap is unchanged.")
        self.runEnded.emit("failed")

    def _on_run_cancelled(self, request_id: int) -> None:
        if request_id != self._run_id:
            return
        self._restore_before_run()
        self._export_after_run = False
        self.run_panel.set_progress("cancelled", 0.0, "trimap kept")
        self.statusBar().showMessage("Cancelled — trimap kept", STATUS_MS)
        self.runEnded.emit("cancelled")

    # ================================================================================== model

    def _load_model_from_settings(self) -> None:
        source = str(self.settings.value("model/source", "") or "") or None
        device = str(self.settings.value("model/device", "auto") or "auto")
        precision = str(self.settings.value("model/precision", "auto") or "auto")
        if source is None and bundled_model_path() is None:
            self._set_model_label(None, "No model installed — choose one in Model ▸ Model & Device…")
            return
        self.start_model_load(source, device, precision)

    def start_model_load(self, source: str | None, device: str = "auto", precision: str = "auto", explicit: bool = False) -> None:
        """Load ``source`` (a checkpoint path, a preset name, or None for the bundled model) on the worker.
        ``explicit``: the user asked for it (a failure then opens a message box, not only the status bar)."""
        self._model_request = (source, explicit)
        self.controller.load_model(source, device, precision)

    def choose_model(self) -> None:
        dialog = ModelDialog(self.settings, self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            choice = dialog.result()
            self.start_model_load(choice.source, choice.device, choice.precision, explicit=True)

    def _on_model_loading(self, description: str) -> None:
        self.model_label.setText(f"Loading {description}…")
        self.statusBar().showMessage(f"Loading {description}…")
        if self._run_id is None and self._task_kind is None:
            self.run_panel.set_progress("loading", None, description)

    def _model_load_ended(self) -> None:
        if self._run_id is None and self._task_kind is None:
            self.run_panel.set_progress("idle", 0.0, "")

    def _on_model_ready(self, info: ModelInfo) -> None:
        self._model_info = info
        self._set_model_label(info)
        self._model_load_ended()
        request, self._model_request = self._model_request, None
        source = request[0] if request else None
        if source is not None and Path(source).is_file():
            remember_checkpoint(source)
        self.statusBar().showMessage(f"Model ready: {info.describe()}", STATUS_MS)

    def _on_model_failed(self, message: str) -> None:
        request, self._model_request = self._model_request, None
        self._set_model_label(self._model_info, None if self._model_info else "No model loaded")
        self.model_label.setToolTip(message)
        self._model_load_ended()
        if request is not None and request[1]:
            self._show_error("The model did not load", message)
        else:
            self.last_error = message
            self.statusBar().showMessage(message, 2 * STATUS_MS)

    def _set_model_label(self, info: ModelInfo | None, text: str | None = None) -> None:
        self._model_info = info or self._model_info
        if info is None:
            self.model_label.setText(text or "No model loaded")
            self.model_label.setToolTip("Model ▸ Model & Device… to choose one")
            return
        kind = "MEMatte" if info.routed else "ViTMatte"
        random_weights = info.source.startswith("preset:") or "random" in info.source
        self.model_label.setText(
            f"{info.name} · {kind} · {info.parameters / 1e6:.1f} M · {info.size_mb:.0f} MB · "
            f"{info.device}/{info.precision}{' · random weights' if random_weights else ''}"
        )
        self.model_label.setToolTip(f"{info.describe()}\n{info.source}")
        self.run_panel.set_model_label(f"{kind} — {info.name}")

    # ================================================================================== view

    def set_view_mode(self, mode: str) -> None:
        """One of :data:`VIEW_MODES` (keys P, T, A, C, S, O)."""
        self.canvas.set_view_mode(mode)
        self.view_actions[mode].setChecked(True)
        if mode == "routing" and self.routing_dock.isHidden():
            self.routing_dock.show()

    def _backdrop_chosen(self, action: QAction) -> None:
        name = action.data()
        if name == "color":
            color = QColorDialog.getColor(self._backdrop_color or QColor(40, 120, 200), self, "Backdrop colour")
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
        self.action_compare.setEnabled(doc is not None and doc.previous_alpha is not None and self._run_id is None)

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
            self.statusBar().showMessage("Showing the previous result — press Y to go back", STATUS_MS)
        else:
            self.statusBar().clearMessage()

    def _grid_toggled(self, on: bool) -> None:
        self.canvas.set_show_token_grid(on)
        self.routing_panel.set_grid(on)
        with QSignalBlocker(self.action_grid):
            self.action_grid.setChecked(on)

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

    # ================================================================================ trimap files

    def import_trimap(self, path: str | Path | None = None) -> None:
        """Replace the trimap with a PNG of the photo's size (one undo step; errors become a message)."""
        doc = self.doc
        if doc is None:
            return
        if path is None:
            start = str(Path(doc.image.path).parent)
            path, _ = QFileDialog.getOpenFileName(self, "Import trimap", start, "Images (*.png *.tif *.tiff *.bmp *.jpg *.jpeg *.webp);;All files (*)")
            if not path:
                return
        path = Path(path)
        height, width = doc.size

        def done(trimap) -> None:
            if doc is not self.doc:
                return
            before = self._source_state(self._applied_band)
            self._set_auto_source(None)
            edit = doc.replace_trimap(trimap, "Import trimap")
            self._push(edit)
            self._log_source_change(edit, before, self._source_state(self._applied_band))
            self.statusBar().showMessage(f"Imported {path.name}", STATUS_MS)

        self._start_task(
            "import trimap",
            lambda: load_trimap(path, expected_size=(width, height)),
            done,
            lambda message: self._show_error("Cannot import the trimap", message),
            message=path.name,
        )

    def export_trimap(self, path: str | Path | None = None) -> None:
        """Write the trimap as an 8-bit gray PNG (the file dialog has confirmed any replacement)."""
        doc = self.doc
        if doc is None:
            return
        if path is None:
            start = str(Path(doc.image.path).with_name(f"{Path(doc.image.path).stem}_trimap.png"))
            path, _ = QFileDialog.getSaveFileName(self, "Export trimap", start, "PNG (*.png)")
            if not path:
                return
        path = Path(path)
        trimap = doc.trimap.copy()  # painting goes on while the worker writes
        self._start_task(
            "export trimap",
            lambda: export_trimap(path, trimap, force=True),
            lambda written: self.statusBar().showMessage(f"Wrote {Path(written).name}", STATUS_MS),
            lambda message: self._show_error("Cannot export the trimap", message),
            message=path.name,
        )

    # ================================================================================== export

    def export(self) -> None:
        """The Export dialog, then :meth:`export_with_plan` (or a full-resolution run first)."""
        doc = self.doc
        if doc is None:
            return
        final = doc.alpha is not None and doc.result is not None
        dialog = ExportDialog(
            doc.image.path,
            doc.size,
            alpha_size=doc.alpha.shape if final else None,
            routing_blocks=len(doc.routing) if final else 0,
            settings=self.settings,
            parent=self,
        )
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        if dialog.full_resolution_first():
            self._export_after_run = True
            if self.run_matte(preview=False) is None:
                self._export_after_run = False
                self._show_error("Cannot run the model", "Mark the subject first: the trimap needs Foreground and Unknown pixels.")
            return
        self.export_with_plan(dialog.result())

    def export_with_plan(self, plan: ExportPlan) -> int | None:
        """Write ``plan``'s files on the worker, with progress in the run panel; returns the task serial.

        ``exportFinished(paths)`` follows, or a message (existing files without ``plan.overwrite``,
        a full disk, …).  The outputs come from the last result (a preview's at its size)."""
        doc = self.doc
        if doc is None:
            return None
        outputs = plan.outputs()
        alpha = doc.alpha if doc.result is not None else None
        if alpha is None and set(outputs) - {"trimap"}:
            self._show_error("Nothing to export yet", "Run the model first: only the trimap can be exported without a matte.")
            return None
        rgb, trimap, routing = doc.rgb, doc.trimap.copy(), list(doc.routing)
        icc, dpi = doc.image.icc_profile, doc.image.dpi
        serial = self._task_serial + 1  # the serial _start_task gives this task
        relay = self._relay_progress(serial)

        def task(cancel):
            if alpha is None:
                plan.trimap.parent.mkdir(parents=True, exist_ok=True)
                return [export_trimap(plan.trimap, trimap, icc_profile=icc, dpi=dpi, force=plan.overwrite)]
            return run_export(plan, rgb, alpha, trimap, routing, icc, dpi, progress=relay, cancel=cancel)

        def done(paths: list[Path]) -> None:
            names = "\n".join(f"  {Path(p).name}" for p in paths)
            folder = Path(paths[0]).parent if paths else ""
            self._show_info("Export finished", f"Wrote {len(paths)} file{'s' if len(paths) != 1 else ''} to {folder}:\n\n{names}")
            self.statusBar().showMessage(f"Exported {len(paths)} file{'s' if len(paths) != 1 else ''} to {folder}", STATUS_MS)
            self.exportFinished.emit([Path(p) for p in paths])

        return self._start_task(
            "export",
            task,
            done,
            lambda message: self._show_error("Export failed", message),
            with_cancel=True,
            message=", ".join(p.name for p in outputs.values()),
        )

    # ========================================================================== project and autosave

    def save_project(self) -> bool:
        """Save to the project file the document came from, else ask for one (Save As).  True if saved."""
        doc = self.doc
        if doc is None:
            return False
        if doc.path is None or doc.path.suffix.lower() != PROJECT_SUFFIX:
            return self.save_project_as()
        return self._write_project(doc.path, force=True)

    def save_project_as(self, path: str | Path | None = None) -> bool:
        """Save as ``path`` (``.matte`` is added), asking for it when None.  An existing file is replaced
        only after a yes (the file dialog asks itself).  True if saved."""
        doc = self.doc
        if doc is None:
            return False
        force = False
        if path is None:
            stem = doc.path.stem if doc.path is not None else Path(doc.image.path).stem
            start = str((doc.path or Path(doc.image.path)).with_name(f"{stem}{PROJECT_SUFFIX}"))
            path, _ = QFileDialog.getSaveFileName(self, "Save project", start, f"matteapp projects (*{PROJECT_SUFFIX})")
            if not path:
                return False
            force = True
        path = Path(path)
        if path.suffix.lower() != PROJECT_SUFFIX:
            path = path.with_name(path.name + PROJECT_SUFFIX)
        return self._write_project(path, force)

    def _write_project(self, path: Path, force: bool) -> bool:
        doc = self.doc
        QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            save_project(doc, path, force=force)
        except OutputExistsError:
            QGuiApplication.restoreOverrideCursor()
            if self._confirm_overwrite(path):
                return self._write_project(path, True)
            return False
        except (OSError, ValueError) as exc:
            QGuiApplication.restoreOverrideCursor()
            self._show_error("Cannot save the project", f"{path.name} could not be written: {exc}")
            return False
        QGuiApplication.restoreOverrideCursor()
        self._drop_autosave(doc)
        self._add_recent_file(path)
        self._update_title()
        self.statusBar().showMessage(f"Saved {path.name}", STATUS_MS)
        return True

    def _confirm_overwrite(self, path: Path) -> bool:
        answer = QMessageBox.question(
            self,
            "Replace the file?",
            f"{path.name} already exists in {path.parent}. Replace it?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        return answer == QMessageBox.StandardButton.Yes

    def autosave_now(self) -> threading.Thread | None:
        """Write a recovery copy of unsaved work on a plain thread (the worker may be busy matting);
        returns that thread, or None when there was nothing to do.  Runs every 30 s."""
        doc = self.doc
        if doc is None or not doc.dirty:
            return None
        if self._autosave_thread is not None and self._autosave_thread.is_alive():
            return None
        # One copy of the trimap on the GUI thread (tens of ms at 50 MP); the rest happens on the thread.
        image, trimap, settings, project = doc.image, doc.trimap.copy(), dict(doc.settings), doc.path

        def write() -> None:
            try:
                snapshot = MatteDocument(image, path=project, trimap=trimap)
                snapshot.update_settings(**settings)
                autosave(snapshot)
            except Exception:  # noqa: BLE001 — a failed autosave must not take the app down; try again later
                log.exception("autosave failed")

        thread = threading.Thread(target=write, name="matteapp-autosave", daemon=True)
        self._autosave_thread = thread
        self._owns_autosave = True
        thread.start()
        return thread

    def _join_autosave(self, timeout: float = 30.0) -> None:
        thread = self._autosave_thread
        if thread is not None:
            thread.join(timeout)
            self._autosave_thread = None

    def _drop_autosave(self, doc: MatteDocument) -> None:
        """Delete ``doc``'s autosave (it was saved, or the user discarded the changes) — only one this
        window wrote or recovered from: an older session's autosave of the same photo stays on offer."""
        self._join_autosave()  # else a write in flight would bring it back
        if not self._owns_autosave:
            return
        self._owns_autosave = False
        try:
            discard_autosave(doc)
        except (OSError, ValueError) as exc:
            log.warning("could not delete the autosave: %s", exc)

    # ================================================================================== closing

    def _confirm_replace(self, reason: str) -> bool:
        """True when the current document may be replaced: it has no unsaved work, or the user saved or
        discarded it."""
        doc = self.doc
        if doc is None or not doc.dirty:
            return True
        answer = self._ask_unsaved(reason)
        if answer == "save":
            return self.save_project()
        return answer == "discard"

    def _ask_unsaved(self, reason: str) -> str:
        """"save", "discard" or "cancel": what to do with unsaved work before ``reason`` (e.g. "close")."""
        doc = self.doc
        name = doc.path.name if doc is not None and doc.path is not None else Path(doc.image.path).name
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            "Unsaved changes",
            f"Save the changes to {name} before you {reason}?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            self,
        )
        box.setInformativeText("Your trimap and settings will be lost if you don't save them.")
        box.setDefaultButton(QMessageBox.StandardButton.Save)
        answer = box.exec()
        if answer == QMessageBox.StandardButton.Save:
            return "save"
        if answer == QMessageBox.StandardButton.Discard:
            return "discard"
        return "cancel"

    def closeEvent(self, event) -> None:
        if self.controller.is_shut_down:  # closed before: everything below has been done
            event.accept()
            return
        if self.doc is not None and self.doc.dirty:
            answer = self._ask_unsaved("close")
            if answer == "cancel" or (answer == "save" and not self.save_project()):
                event.ignore()
                return
        self._auto_run_timer.stop()
        self._autosave_timer.stop()
        if self.doc is not None:
            self._drop_autosave(self.doc)  # saved, clean or discarded: nothing to recover
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

    # ================================================================================== messages

    def _show_error(self, title: str, message: str) -> None:
        """A non-modal warning (the window stays usable); the text is kept in :attr:`last_error`."""
        self.last_error = message
        log.info("%s: %s", title, message)
        self._show_box(QMessageBox.Icon.Warning, title, message)

    def _show_info(self, title: str, message: str) -> None:
        self.last_message = message
        self._show_box(QMessageBox.Icon.Information, title, message)

    def _show_box(self, icon: QMessageBox.Icon, title: str, message: str) -> None:
        if self._message_box is not None:
            self._message_box.close()
        box = QMessageBox(icon, title, message, QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.destroyed.connect(lambda *_: setattr(self, "_message_box", None) if self._message_box is box else None)
        self._message_box = box
        box.open()

    def show_shortcuts(self) -> None:
        """A table of every menu command with a shortcut, and the canvas's mouse and key gestures."""
        rows: list[tuple[str, str]] = []

        def collect(menu: QMenu, prefix: str) -> None:
            for action in menu.actions():
                if action.menu() is not None:
                    collect(action.menu(), f"{prefix}{action.menu().title().replace('&', '')} ▸ ")
                elif not action.isSeparator() and not action.shortcut().isEmpty():
                    keys = ", ".join(s.toString(QKeySequence.SequenceFormat.NativeText) for s in action.shortcuts())
                    rows.append((prefix + action.text().replace("&&", "\0").replace("&", "").replace("\0", "&"), keys))

        for menu_action in self.menuBar().actions():
            collect(menu_action.menu(), f"{menu_action.text().replace('&', '')} ▸ ")
        rows += [
            ("Canvas ▸ Pan", "Space + drag, middle drag, or the Hand tool"),
            ("Canvas ▸ Zoom", "Mouse wheel, pinch, Ctrl + wheel"),
            ("Canvas ▸ Lasso polygon", "Click points, double-click or Enter to close, Esc to drop"),
        ]
        dialog = QDialog(self)
        dialog.setWindowTitle("Keyboard shortcuts")
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        layout = QVBoxLayout(dialog)
        table = QTableWidget(len(rows), 2)
        table.setHorizontalHeaderLabels(["Command", "Shortcut"])
        table.verticalHeader().setVisible(False)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        table.setAlternatingRowColors(True)
        table.setShowGrid(False)
        for i, (command, keys) in enumerate(rows):
            table.setItem(i, 0, QTableWidgetItem(command))
            table.setItem(i, 1, QTableWidgetItem(keys))
        table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        layout.addWidget(table)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(dialog.close)
        layout.addWidget(buttons)
        dialog.resize(620, 640)
        dialog.show()

    def show_about(self) -> None:
        QMessageBox.about(
            self,
            "About matteapp",
            f"<b>matteapp {__version__}</b><br><br>Image matting for large photos with MEMatte, a "
            "memory-efficient, token-routed matting transformer. The routing view shows which parts of the "
            "photo the model sent to global attention, live.<br><br>Sample photo: public domain (see "
            "resources/samples/CREDITS.md).",
        )


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
