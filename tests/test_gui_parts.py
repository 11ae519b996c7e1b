"""The main window's parts (matteapp.gui.window) on their own, each in a bare QMainWindow host with only the
widgets it is given, and the Qt-free auto-trimap bookkeeping with no Qt at all."""

import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl  # noqa: E402
from PySide6.QtGui import QColor, QDragEnterEvent, QDropEvent  # noqa: E402
from PySide6.QtWidgets import QApplication, QDialog, QDockWidget, QLabel, QMainWindow  # noqa: E402

from matteapp.document.export_plan import ExportPlan  # noqa: E402
from matteapp.document.paint import Patch  # noqa: E402
from matteapp.document.state import MatteDocument  # noqa: E402
from matteapp.engine.session import SessionResult  # noqa: E402
from matteapp.engine.trimap import BACKGROUND, FOREGROUND, UNKNOWN  # noqa: E402
from matteapp.gui.canvas import ImageCanvas  # noqa: E402
from matteapp.gui.widgets import RoutingPanel, RunPanel, ToolOptionsPanel  # noqa: E402
from matteapp.gui.widgets.empty_state import EmptyState  # noqa: E402
from matteapp.gui.window import export as export_module  # noqa: E402
from matteapp.gui.window.auto_trimap import AutoTrimapSource, AutoTrimapState, split_scribbles, trimap_from_source  # noqa: E402
from matteapp.gui.window.common import Menus, Messages  # noqa: E402
from matteapp.gui.window.editing import TrimapPart  # noqa: E402
from matteapp.gui.window.export import ExportPart  # noqa: E402
from matteapp.gui.window.files import FilesPart  # noqa: E402
from matteapp.gui.window.tasks import TaskRunner  # noqa: E402
from matteapp.gui.window.views import ViewPart  # noqa: E402
from matteapp.gui.worker import MatteController  # noqa: E402
from matteapp.io.images import load_image  # noqa: E402
from matteapp.model.predictor import ProgressEvent  # noqa: E402

pytestmark = pytest.mark.gui

WAIT_MS = 30_000
H, W = 30, 40


@pytest.fixture
def host(qtbot):
    window = QMainWindow()
    qtbot.addWidget(window)
    bar = window.menuBar()
    menus = Menus(window, bar.addMenu("File"), bar.addMenu("Edit"), bar.addMenu("View"), bar.addMenu("Model"), bar.addMenu("Help"))
    return window, menus


@pytest.fixture
def controller():
    controller = MatteController()
    yield controller
    controller.shutdown()


@pytest.fixture
def photo(tmp_path):
    rgb = np.full((H, W, 3), 90, np.uint8)
    rgb[8:22, 12:28] = (220, 40, 30)
    path = tmp_path / "p.png"
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return path


def result(alpha_value: float, preview: bool = False) -> SessionResult:
    return SessionResult(alpha=np.full((H, W), alpha_value, np.float32), size=(H, W), full_size=(H, W), is_preview=preview, engine="mematte")


# ------------------------------------------------------------------------------------------ TaskRunner


def test_task_runner_answers_only_the_newest_task_and_shows_it_in_the_run_panel(qtbot, controller):
    panel = RunPanel()
    runner = TaskRunner(controller, panel)
    answers, finished = [], []
    runner.taskFinished.connect(finished.append)
    gate = threading.Event()
    runner.start("band", lambda: gate.wait(WAIT_MS / 1000) and "stale", answers.append, answers.append, message="unknown band 8 px")
    assert runner.kind == "band" and panel.progress()[0].lower() == "unknown band" and panel.progress()[1] is None

    relay, resume = runner.progress_relay(), threading.Event()

    def newer():
        relay(ProgressEvent("decoder", 0.5, "half way"))  # on the worker thread
        resume.wait(WAIT_MS / 1000)
        return "fresh"

    runner.start("auto trimap", newer, answers.append, answers.append)
    gate.set()
    qtbot.waitUntil(lambda: panel.progress()[1:] == (0.5, "half way"), timeout=WAIT_MS)
    with qtbot.waitSignal(runner.settled, timeout=WAIT_MS):
        resume.set()
    assert answers == ["fresh"] and finished == ["auto trimap"] and runner.kind is None
    assert panel.progress() == ("Auto trimap", 1.0, "done")

    # Cancelled: the worker still finishes the function, but nobody hears of it.
    gate.clear()
    runner.start("export", lambda: gate.wait(WAIT_MS / 1000) and "late", answers.append, answers.append)
    controller.cancel()
    assert runner.abandon() == "export" and runner.kind is None and runner.abandon() is None
    gate.set()
    qtbot.waitUntil(lambda: not controller.is_busy, timeout=WAIT_MS)
    qtbot.wait(50)
    assert answers == ["fresh"] and finished == ["auto trimap"]
    assert panel.progress()[0].lower() == "cancelled" and panel.progress()[2] == "export"


# ------------------------------------------------------------------------------------------- FilesPart


def test_files_part_opens_titles_saves_and_asks_before_replacing_unsaved_work(qtbot, host, controller, photo, tmp_path, gui_settings):
    window, menus = host
    files = FilesPart(window, gui_settings, TaskRunner(controller, RunPanel()), Messages(window), EmptyState())
    files.add_actions(menus)
    files.set_document(None)
    files.documentOpened.connect(files.set_document)  # the window's part: hand the new document to everyone
    assert window.windowTitle() == "matteapp" and not files.action_save.isEnabled()

    with qtbot.waitSignal(files.documentOpened, timeout=WAIT_MS) as opened:
        assert files.open_path(photo)
    doc = opened.args[0]
    assert files.doc is doc and doc.size == (H, W) and files.action_save.isEnabled()
    assert window.windowTitle() == "p.png[*] — matteapp" and not window.isWindowModified()
    assert files.recent_files() == [str(photo.resolve())]

    doc.apply(Patch(0, 0, np.full((4, 4), FOREGROUND, np.uint8)), "paint")
    assert window.isWindowModified()
    asked = []
    files.ask_unsaved = lambda reason: asked.append(reason) or "cancel"
    assert not files.open_path(photo) and not files.may_replace("close")
    assert asked == ["open another file", "close"] and files.doc is doc

    assert files.save_project_as(tmp_path / "work")
    assert (tmp_path / "work.matte").is_file() and not window.isWindowModified()
    assert window.windowTitle() == "work.matte[*] — matteapp"
    assert files.recent_files() == [str((tmp_path / "work.matte").resolve()), str(photo.resolve())]
    assert files.may_replace("close") and asked == ["open another file", "close"]  # saved: nothing to ask


def test_files_part_takes_dropped_photos_and_refuses_other_files(qtbot, host, controller, photo, tmp_path, gui_settings):
    window, menus = host
    empty_state = EmptyState()
    window.setCentralWidget(empty_state)
    files = FilesPart(window, gui_settings, TaskRunner(controller, RunPanel()), Messages(window), empty_state)
    files.add_actions(menus)
    files.set_document(None)
    window.show()

    def drag(path: Path) -> tuple[QDragEnterEvent, QDropEvent, QMimeData]:
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(str(path))])
        args = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
        # The events only point at the mime data: the caller keeps it alive.
        return QDragEnterEvent(QPointF(10, 10), *args), QDropEvent(QPointF(10, 10), *args), mime

    notes = tmp_path / "notes.txt"
    notes.write_text("not a photo")
    enter, _, mime = drag(notes)
    QApplication.sendEvent(empty_state, enter)
    assert not enter.isAccepted()

    enter, drop, mime = drag(photo)
    QApplication.sendEvent(empty_state, enter)
    assert enter.isAccepted()
    with qtbot.waitSignal(files.documentOpened, timeout=WAIT_MS) as opened:
        QApplication.sendEvent(empty_state, drop)
    assert Path(opened.args[0].image.path) == photo


# ------------------------------------------------------------------------------------------ TrimapPart


@pytest.fixture
def trimap_part(host, controller, photo):
    window, menus = host
    canvas, tool_panel = ImageCanvas(), ToolOptionsPanel()
    window.setCentralWidget(canvas)
    tasks = TaskRunner(controller, RunPanel())
    part = TrimapPart(window, canvas, tool_panel, tasks, Messages(window))
    part.add_actions(menus)
    doc = MatteDocument(load_image(photo))
    canvas.set_photo(doc.rgb)
    canvas.set_trimap(doc.trimap)
    part.set_document(doc)
    return part, doc


def test_trimap_part_turns_a_stroke_into_one_undo_step_and_says_when_it_paints(qtbot, trimap_part):
    part, doc = trimap_part
    part.canvas.set_view_mode("cutout")
    wanted, active = [], []
    part.viewWanted.connect(wanted.append)
    part.strokeActive.connect(active.append)
    part.tool_panel.set_brush_size(4)

    part.canvas.strokeStarted.emit(5.0, 5.0)
    part.canvas.strokeMoved.emit(20.0, 5.0)
    part.canvas.strokeMoved.emit(35.0, 5.0)
    part.canvas.strokeFinished.emit()
    assert wanted == ["trimap"] and active == [True, False]
    assert (doc.trimap[5, 5:36] == FOREGROUND).all() and doc.trimap[20, 20] == BACKGROUND
    assert part.undo_stack.count() == 1 and part.action_undo.text() == "&Undo Brush Foreground"

    part.confirm_clear = lambda: False
    part.clear_trimap()
    assert doc.trimap[5, 20] == FOREGROUND and part.undo_stack.count() == 1
    part.invert_trimap()
    assert doc.trimap[5, 20] == BACKGROUND and doc.trimap[20, 20] == FOREGROUND
    part.action_undo.trigger()
    part.action_undo.trigger()
    assert (doc.trimap == BACKGROUND).all()


def test_trimap_part_leaves_a_running_export_alone(qtbot, trimap_part):
    part, doc = trimap_part
    starting = []
    part.trimapTaskStarting.connect(lambda: starting.append(True))
    gate = threading.Event()
    part.tasks.start("export", lambda: gate.wait(WAIT_MS / 1000), lambda value: None, lambda message: None)
    part.make_auto_trimap((8, 4, 24, 22))
    assert starting == [] and part.tasks.kind == "export"
    assert "Wait for the export" in part.window.statusBar().currentMessage()
    gate.set()
    qtbot.waitUntil(lambda: part.tasks.kind is None, timeout=WAIT_MS)

    with qtbot.waitSignal(part.tasks.taskFinished, timeout=WAIT_MS):
        part.make_auto_trimap((8, 4, 24, 22))
    assert starting == [True] and part.undo_stack.count() == 1
    assert doc.trimap[15, 20] == FOREGROUND and (doc.trimap == UNKNOWN).any() and doc.trimap[1, 1] == BACKGROUND


# -------------------------------------------------------------------------------------------- ViewPart


def test_view_part_follows_the_document_and_keeps_compare_off_while_a_run_is_under_way(qtbot, host, photo):
    window, menus = host
    canvas, routing_panel = ImageCanvas(), RoutingPanel()
    window.setCentralWidget(canvas)
    dock = QDockWidget("Routing", window)
    dock.setWidget(routing_panel)
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
    labels = QLabel(), QLabel(), QLabel()
    views = ViewPart(window, canvas, routing_panel, dock, Messages(window), *labels)
    views.add_actions(menus)
    views.set_document(None)
    assert not views.view_actions["cutout"].isEnabled() and labels[2].text() == ""

    doc = MatteDocument(load_image(photo))
    views.set_document(doc)
    # a new photo shows the photo, not a trimap that is flat Background everywhere
    assert canvas.view_mode == "photo" and views.view_actions["photo"].isChecked() and views.view_actions["cutout"].isEnabled()
    assert labels[2].text().startswith("Undo")
    hinted = MatteDocument(load_image(photo), trimap=np.where(np.arange(W) < W // 2, 255, 128).astype(np.uint8)[None].repeat(H, 0))
    views.set_document(hinted)
    assert canvas.view_mode == "trimap" and views.view_actions["trimap"].isChecked()
    views.set_document(doc)

    doc.set_result(result(1.0))
    assert not views.action_compare.isEnabled()  # nothing to compare with yet
    views.set_run_active(True)
    doc.begin_results((H, W), None, False)
    doc.set_routing(0, np.ones((2, 3), bool), None)
    assert doc.previous_alpha is not None and not views.action_compare.isEnabled()
    assert routing_panel.num_blocks() >= 1
    doc.set_result(result(0.5))
    views.set_run_active(False)
    assert views.action_compare.isEnabled()

    views.set_view_mode("photo")
    views.action_compare.trigger()
    assert canvas.view_mode == "cutout" and views.view_actions["cutout"].isChecked()

    dock.hide()
    views.set_view_mode("routing")
    assert not dock.isHidden()

    order = []
    views.set_backdrop(QColor(10, 20, 30))
    for _ in range(4):
        views.cycle_backdrop()
        checked = views.backdrop_group.checkedAction()
        order.append(checked.data())
    assert order == ["checker", "black", "white", "color"] and canvas.view_mode == "cutout"


# ------------------------------------------------------------------------------------------ ExportPart


def test_export_part_waits_for_a_full_resolution_result_before_exporting(qtbot, host, photo, gui_settings, monkeypatch):
    window, menus = host
    shown = []

    class Dialog:
        def __init__(self, *args, **kwargs):
            shown.append(kwargs["alpha_size"])

        def exec(self):
            # The third time round, the user has seen enough: no run, no export.
            return QDialog.DialogCode.Rejected if len(shown) == 3 else QDialog.DialogCode.Accepted

        def full_resolution_first(self):
            return True

        def result(self):
            return ExportPlan(alpha=Path("unused.png"))

    monkeypatch.setattr(export_module, "ExportDialog", Dialog)
    messages = Messages(window)
    part = ExportPart(window, gui_settings, None, messages)
    part.add_actions(menus)
    doc = MatteDocument(load_image(photo))
    part.set_document(doc)
    requested = []
    part.fullRunRequested.connect(lambda: requested.append(True))

    part.export()  # no hints: nothing could run
    assert requested == [] and "Mark the subject first" in messages.last_error

    doc.apply(Patch(10, 5, np.array([[FOREGROUND, UNKNOWN]], np.uint8)), "hints")
    part.export()
    assert requested == [True] and len(shown) == 2
    doc.set_result(result(1.0, preview=True))
    part.on_run_ended("finished")  # a preview that came in meanwhile: keep waiting
    qtbot.wait(20)
    assert len(shown) == 2
    doc.set_result(result(1.0))
    part.on_run_ended("finished")
    qtbot.waitUntil(lambda: len(shown) == 3)  # the dialog again, now with the matte to export

    part.export()
    assert requested == [True, True]
    part.forget_pending_export()  # the run was cancelled: no dialog when a later one finishes
    part.on_run_ended("finished")
    qtbot.wait(20)
    assert len(shown) == 4


# ------------------------------------------------------------------------------------------ Qt-free


def test_auto_trimap_state_brings_source_band_and_scribbles_back_with_undo_and_redo(photo):
    doc = MatteDocument(load_image(photo))
    state = AutoTrimapState(applied_band=None)
    mask = np.zeros((H, W), bool)
    mask[8:22, 12:28] = True
    source = AutoTrimapSource.from_grabcut((10, 6, 20, 18), mask)
    assert (source.mask() == mask).all()

    before = state.snapshot(state.applied_band)
    state.reset(source)
    auto = doc.replace_trimap(trimap_from_source(source, 4), "Auto trimap")
    state.applied_band = 6
    state.log_change(auto, before, state.snapshot(6))

    serial = state.serial
    stroke = Patch(2, 2, np.full((2, 3), FOREGROUND, np.uint8))
    record = state.record_scribbles(doc.trimap, stroke, FOREGROUND)
    brush = doc.apply(stroke, "Brush Foreground")
    state.remember_scribbles(brush, record)
    assert state.serial > serial and split_scribbles(state.scribbles)[0][2:4, 2:5].all()
    assert state.record_scribbles(doc.trimap, stroke, FOREGROUND) is None  # paints nothing new
    assert trimap_from_source(source, 8, state.scribbles)[3, 3] == FOREGROUND  # re-banding keeps the stroke

    doc.undo()
    assert state.step(brush, undone=True) == (False, None)
    assert not split_scribbles(state.scribbles)[0].any()
    doc.undo()
    assert state.step(auto, undone=True) == (True, None) and state.source is None
    doc.redo()
    assert state.step(auto, undone=False) == (True, 6) and state.source is source and state.applied_band == 6
