"""The real main window, offscreen: opening, painting with the mouse, undo, auto-trimap, runs, export, projects.

A tiny random-weight MEMatte (D=96, 3 heads) runs in the real worker thread on a 160×120 photo, so each run
takes well under a second on a busy CPU.
"""

import threading
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import QPoint, Qt  # noqa: E402
from PySide6.QtWidgets import QSpinBox  # noqa: E402

from matteapp.document.export_plan import ExportPlan  # noqa: E402
from matteapp.document.project import find_autosaves  # noqa: E402
from matteapp.engine.trimap import BACKGROUND, FOREGROUND, UNKNOWN  # noqa: E402
from matteapp.gui.imaging import rgba_from_qimage  # noqa: E402
from matteapp.gui.main_window import MainWindow  # noqa: E402
from matteapp.gui.worker import MatteController  # noqa: E402
from matteapp.model import MattingConfig, build_model  # noqa: E402
from matteapp.model.predictor import MattePredictor  # noqa: E402

pytestmark = pytest.mark.gui

WAIT_MS = 60_000  # generous: the CPU is shared with other jobs
H, W = 120, 160
SUBJECT = (W // 2, H // 2, 36, 30)  # ellipse centre x, y and half-axes


@pytest.fixture(scope="module")
def predictor():
    torch.manual_seed(0)
    return MattePredictor(build_model(MattingConfig(name="d96", embed_dim=96, num_heads=3)), "cpu", "fp32")


@pytest.fixture
def window(qtbot, gui_settings, predictor):
    controller = MatteController()
    with qtbot.waitSignal(controller.modelReady, timeout=WAIT_MS):
        controller.load_model("tiny test model (random weights)", loader=lambda: predictor)
    w = MainWindow(settings=gui_settings, controller=controller, load_model=False)
    # Not qtbot.addWidget: pytest-qt would close it before this fixture can answer the unsaved-work question.
    w.canvas.frame_budget_ms = None  # whole frames: some tests read pixels off the screen
    w.resize(1100, 760)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.files.ask_unsaved = lambda reason: "discard"
    w.close()
    controller.shutdown()
    w.deleteLater()


def write_photo(path, seed=0):
    """A muted, noisy green-gray background with a saturated red ellipse (the subject) in the middle."""
    rng = np.random.default_rng(seed)
    rgb = np.empty((H, W, 3), np.uint8)
    rgb[...] = (70, 110, 80)
    rgb = np.clip(rgb + rng.normal(0, 6, rgb.shape), 0, 255).astype(np.uint8)
    cx, cy, ax, ay = SUBJECT
    cv2.ellipse(rgb, (cx, cy), (ax, ay), 0, 0, 360, (220, 40, 30), -1)
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return path


def open_file(qtbot, w, path, tool="brush"):
    """Open ``path`` and pick ``tool`` as a user would with its key (a new photo starts with the Rectangle)."""
    with qtbot.waitSignal(w.documentChanged, timeout=WAIT_MS):
        assert w.open_path(path)
    if tool is not None:
        next(a for a in w.tool_panel.shortcut_actions() if a.data() == tool).trigger()
    return w.doc


def vp(w, x, y) -> QPoint:
    """Viewport position of photo point (x, y)."""
    return w.canvas.map_from_image(x, y).toPoint()


def mouse_drag(qtbot, w, points):
    viewport = w.canvas.viewport()
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=vp(w, *points[0]))
    for p in points[1:]:
        qtbot.mouseMove(viewport, pos=vp(w, *p))
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=vp(w, *points[-1]))


def hinted_trimap():
    """FG inside the ellipse's inner part, an unknown ring around its edge, BG elsewhere."""
    cx, cy, ax, ay = SUBJECT
    trimap = np.zeros((H, W), np.uint8)
    cv2.ellipse(trimap, (cx, cy), (ax + 6, ay + 6), 0, 0, 360, UNKNOWN, -1)
    cv2.ellipse(trimap, (cx, cy), (ax - 6, ay - 6), 0, 0, 360, FOREGROUND, -1)
    return trimap


def import_hints(qtbot, w, tmp_path):
    path = tmp_path / "hints_trimap.png"
    cv2.imwrite(str(path), hinted_trimap())
    with qtbot.waitSignal(w.taskFinished, timeout=WAIT_MS, check_params_cb=lambda kind: kind == "import trimap"):
        w.import_trimap(path)
    np.testing.assert_array_equal(w.doc.trimap, hinted_trimap())


def run_and_wait(qtbot, w, action):
    outcomes = []
    w.runEnded.connect(outcomes.append)
    with qtbot.waitSignal(w.runEnded, timeout=WAIT_MS):
        action.trigger()
    return outcomes[-1]


def screen_rgb(w, x, y):
    shot = rgba_from_qimage(w.canvas.viewport().grab().toImage())
    p = vp(w, x, y)
    return shot[p.y(), p.x(), :3].astype(int)


# ------------------------------------------------------------------------------------------- opening


def test_opens_a_photo_off_the_gui_thread_and_shows_it(qtbot, window, tmp_path):
    w = window
    assert w.stack.currentWidget() is w.empty_state and w.windowTitle() == "matteapp"
    doc = open_file(qtbot, w, write_photo(tmp_path / "subject.png"), tool=None)
    assert doc.size == (H, W) and doc.rgb[H // 2, W // 2].tolist() == [220, 40, 30]
    assert w.stack.currentWidget() is w.canvas and w.canvas.image_size == (H, W)
    assert w.windowTitle() == "subject.png[*] — matteapp" and not w.isWindowModified()
    # the photo itself, the Rectangle, and the next step on the canvas; why Preview is off in the panel
    assert w.canvas.view_mode == "photo" and not w.action_preview.isEnabled()  # no hints yet
    assert w.tool_panel.tool() == "rect" and w.canvas.tool == "rect" and "rectangle" in w.canvas.notice()
    assert w.recent_files() == [str((tmp_path / "subject.png").resolve())]
    assert "d96" in w.model_label.text() and "random weights" in w.model_label.text()


def test_a_corrupt_photo_gives_a_readable_error_and_keeps_the_document(qtbot, window, tmp_path):
    w = window
    doc = open_file(qtbot, w, write_photo(tmp_path / "subject.png"))
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 this is not really a JPEG" + bytes(200))
    assert not w.open_path(bad)  # its header already says so: no load, no question
    assert w.last_error and "broken.jpg" in w.last_error and "Traceback" not in w.last_error
    assert w.doc is doc and w.stack.currentWidget() is w.canvas
    assert w.windowTitle().startswith("subject.png")


# ------------------------------------------------------------------------------------------- painting


def test_mouse_strokes_paint_the_trimap_and_undo_redo_restore_exact_pixels(qtbot, window, tmp_path):
    w = window
    doc = open_file(qtbot, w, write_photo(tmp_path / "subject.png"))
    assert w.tool_panel.tool() == "brush" and w.tool_panel.trimap_class() == FOREGROUND
    w.tool_panel.set_brush_size(10)  # diameter: radius 5 on the canvas side
    mouse_drag(qtbot, w, [(30, 40.5), (60, 40.5), (90, 40.5), (120, 40.5)])

    painted = doc.trimap.copy()
    assert (painted[40, 30:121] == FOREGROUND).all()
    assert (painted[36:45, 75] == FOREGROUND).all() and painted[33, 75] == BACKGROUND and painted[48, 75] == BACKGROUND
    assert painted[80, 75] == BACKGROUND and (painted == FOREGROUND).sum() < 12 * 100
    assert w.undo_stack.count() == 1 and w.action_undo.text() == "&Undo Brush Foreground"
    assert w.isWindowModified()

    # A second stroke in another class: its own undo step.
    next(a for a in w.tool_panel.shortcut_actions() if a.data() == UNKNOWN).trigger()
    mouse_drag(qtbot, w, [(75, 20), (75, 100)])
    after_second = doc.trimap.copy()
    assert after_second[100, 75] == UNKNOWN and after_second[40, 75] == UNKNOWN and after_second[40, 40] == FOREGROUND
    assert w.undo_stack.count() == 2

    w.action_undo.trigger()
    np.testing.assert_array_equal(doc.trimap, painted)
    w.action_undo.trigger()
    assert (doc.trimap == BACKGROUND).all() and not w.isWindowModified()
    w.action_redo.trigger()
    np.testing.assert_array_equal(doc.trimap, painted)
    w.action_redo.trigger()
    np.testing.assert_array_equal(doc.trimap, after_second)
    assert doc.region_counts() == tuple(int((after_second == v).sum()) for v in (BACKGROUND, UNKNOWN, FOREGROUND))


def test_lasso_fill_and_brush_size_keys(qtbot, window, tmp_path):
    w = window
    doc = open_file(qtbot, w, write_photo(tmp_path / "subject.png"))
    actions = {a.data(): a for a in w.tool_panel.shortcut_actions() if a.data() is not None}
    larger = next(a for a in w.tool_panel.shortcut_actions() if a.text() == "Larger brush")
    size = w.tool_panel.brush_size()
    larger.trigger()
    assert w.tool_panel.brush_size() > size and w.canvas.brush_radius == w.tool_panel.brush_size() / 2

    actions["lasso"].trigger()
    actions[UNKNOWN].trigger()
    assert w.canvas.tool == "lasso"
    mouse_drag(qtbot, w, [(20, 20), (140, 20), (140, 100), (20, 100), (20, 21)])
    assert doc.trimap[60, 80] == UNKNOWN and doc.trimap[10, 10] == BACKGROUND and doc.trimap[110, 150] == BACKGROUND

    actions["fill"].trigger()
    actions[FOREGROUND].trigger()
    viewport = w.canvas.viewport()
    qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=vp(w, 80, 60))
    assert doc.trimap[60, 80] == FOREGROUND and doc.trimap[10, 10] == BACKGROUND
    assert w.undo_stack.count() == 2 and w.action_undo.text() == "&Undo Fill Foreground"

    actions["pan"].trigger()
    assert w.canvas.tool == "none"  # the panel's "pan" is the canvas's "none"


def test_clear_asks_and_invert_is_undoable(qtbot, window, tmp_path, monkeypatch):
    w = window
    doc = open_file(qtbot, w, write_photo(tmp_path / "subject.png"))
    import_hints(qtbot, w, tmp_path)
    w.action_invert.trigger()
    inverted = hinted_trimap()
    inverted[hinted_trimap() == FOREGROUND], inverted[hinted_trimap() == BACKGROUND] = BACKGROUND, FOREGROUND
    np.testing.assert_array_equal(doc.trimap, inverted)

    monkeypatch.setattr(w.editing, "confirm_clear", lambda: False)
    w.action_clear.trigger()
    np.testing.assert_array_equal(doc.trimap, inverted)
    monkeypatch.setattr(w.editing, "confirm_clear", lambda: True)
    w.action_clear.trigger()
    assert (doc.trimap == BACKGROUND).all()
    w.action_undo.trigger()
    w.action_undo.trigger()
    np.testing.assert_array_equal(doc.trimap, hinted_trimap())


# --------------------------------------------------------------------------------------- auto trimap


def test_rectangle_makes_an_auto_trimap_and_the_band_slider_rebands_in_one_undo_step(qtbot, window, tmp_path):
    w = window
    doc = open_file(qtbot, w, write_photo(tmp_path / "subject.png"))
    w.action_rect_tool.trigger()
    assert w.canvas.tool == "rect"
    with qtbot.waitSignal(w.taskFinished, timeout=WAIT_MS, check_params_cb=lambda kind: kind == "auto trimap"):
        mouse_drag(qtbot, w, [(25, 15), (80, 60), (135, 105)])
    auto = doc.trimap.copy()
    cx, cy, ax, ay = SUBJECT
    assert auto[cy, cx] == FOREGROUND and auto[cy, cx - ax + 10] == FOREGROUND
    assert auto[5, 5] == BACKGROUND and auto[110, 150] == BACKGROUND and auto[cy, 28] == BACKGROUND
    assert auto[cy, cx - ax] == UNKNOWN and auto[cy - ay, cx] == UNKNOWN  # the band along the subject's edge
    assert w.undo_stack.count() == 1 and doc.has_hints and w.action_preview.isEnabled()

    band_spin = next(s for s in w.tool_panel.findChildren(QSpinBox) if s.maximum() == 500)
    unknown_auto = int((auto == UNKNOWN).sum())
    with qtbot.waitSignal(w.taskFinished, timeout=WAIT_MS, check_params_cb=lambda kind: kind == "band"):
        band_spin.setValue(16)
    wide = doc.trimap.copy()
    assert int((wide == UNKNOWN).sum()) > unknown_auto * 1.3
    assert doc.settings["band_width"] == 16 and w.undo_stack.count() == 2
    with qtbot.waitSignal(w.taskFinished, timeout=WAIT_MS, check_params_cb=lambda kind: kind == "band"):
        band_spin.setValue(8)
    assert unknown_auto < int((doc.trimap == UNKNOWN).sum()) < int((wide == UNKNOWN).sum())  # auto: 4 px
    assert w.undo_stack.count() == 2  # consecutive band changes are one step

    w.action_undo.trigger()
    np.testing.assert_array_equal(doc.trimap, auto)


def test_foreground_scribbles_survive_rebanding(qtbot, window, tmp_path):
    w = window
    doc = open_file(qtbot, w, write_photo(tmp_path / "subject.png"))
    with qtbot.waitSignal(w.taskFinished, timeout=WAIT_MS, check_params_cb=lambda kind: kind == "auto trimap"):
        w.make_auto_trimap((25, 15, 110, 90))
    w.tool_panel.set_tool("brush")
    w.canvas.set_tool("brush")
    w.tool_panel.set_brush_size(4)
    mouse_drag(qtbot, w, [(10, 60), (20, 60)])  # foreground outside the rectangle
    assert doc.trimap[60, 15] == FOREGROUND and w.action_refine.isEnabled()
    band_spin = next(s for s in w.tool_panel.findChildren(QSpinBox) if s.maximum() == 500)
    with qtbot.waitSignal(w.taskFinished, timeout=WAIT_MS, check_params_cb=lambda kind: kind == "band"):
        band_spin.setValue(12)
    assert doc.trimap[60, 15] == FOREGROUND  # re-banding kept the correction

    # Undone strokes stay undone when the band is laid again; undoing the band restores its width too.
    w.action_undo.trigger()
    assert doc.settings["band_width"] is None and w.tool_panel.band_width() is None
    w.action_undo.trigger()
    assert doc.trimap[60, 15] == BACKGROUND and w.undo_stack.count() == 3
    with qtbot.waitSignal(w.taskFinished, timeout=WAIT_MS, check_params_cb=lambda kind: kind == "band"):
        band_spin.setValue(14)
    assert doc.trimap[60, 15] == BACKGROUND and w.undo_stack.count() == 2

    # Undoing the automatic trimap itself takes its source away: the slider no longer re-bands.
    w.action_undo.trigger()
    w.action_undo.trigger()
    assert (doc.trimap == BACKGROUND).all() and not w.action_refine.isEnabled()
    band_spin.setValue(20)
    assert w.undo_stack.index() == 0 and (doc.trimap == BACKGROUND).all()


# ------------------------------------------------------------------------------------------ running


def test_run_streams_four_routing_maps_before_the_alpha_then_shows_the_cutout(qtbot, window, tmp_path):
    w = window
    doc = open_file(qtbot, w, write_photo(tmp_path / "subject.png"))
    import_hints(qtbot, w, tmp_path)
    events = []
    doc.subscribe(lambda event, payload: events.append((event, payload)))
    trimap_before = doc.trimap.copy()

    views = []
    doc.subscribe(lambda event, payload: views.append(w.canvas.view_mode) if event == "routing" else None)
    assert run_and_wait(qtbot, w, w.action_preview) == "finished"

    names = [e for e, _ in events]
    routing = [p for e, p in events if e == "routing"]
    assert routing == [0, 1, 2, 3]
    first_alpha = min(i for i, e in enumerate(names) if e in ("alpha_tile", "alpha"))
    assert max(i for i, e in enumerate(names) if e == "routing") < first_alpha
    assert names[-2:] == ["results", "alpha"]
    assert views and set(views) == {"routing"}  # the live routing view while it ran

    assert doc.result is not None and len(doc.routing) == 4 and doc.token_grid == doc.routing[0].shape
    np.testing.assert_array_equal(doc.trimap, trimap_before)
    assert doc.alpha.shape == (H, W) and (doc.alpha[trimap_before == FOREGROUND] == 1).all()
    assert w.canvas.view_mode == "cutout"
    assert w.routing_panel.cell_text("tokens", 0) != "—" and "All 4 blocks" in w.routing_panel.summary()

    # On screen: the subject's core is opaque photo, the background is the checkerboard.
    assert screen_rgb(w, 80, 60).tolist() == [220, 40, 30]
    assert screen_rgb(w, 5, 5).tolist() in ([204, 204, 204], [153, 153, 153])
    w.set_view_mode("routing")
    assert screen_rgb(w, 80, 60).tolist() != [220, 40, 30]  # the routing overlay covers the photo
    w.set_view_mode("photo")
    assert screen_rgb(w, 80, 60).tolist() == [220, 40, 30]


def test_cancel_mid_run_keeps_the_trimap_and_clears_partial_results(qtbot, window, tmp_path):
    w = window
    doc = open_file(qtbot, w, write_photo(tmp_path / "subject.png"))
    import_hints(qtbot, w, tmp_path)
    trimap_before = doc.trimap.copy()

    def cancel_on_first_map(event, payload):
        if event == "routing" and payload == 0:
            assert w.action_cancel.isEnabled()
            w.action_cancel.trigger()  # Esc while busy

    doc.subscribe(cancel_on_first_map)
    assert run_and_wait(qtbot, w, w.action_full) == "cancelled"
    np.testing.assert_array_equal(doc.trimap, trimap_before)
    assert doc.alpha is None and doc.routing == [] and doc.result is None
    assert w.statusBar().currentMessage() == "Cancelled — trimap kept"
    qtbot.waitUntil(lambda: not w.controller.is_busy, timeout=WAIT_MS)
    assert w.action_preview.isEnabled() and not w.action_cancel.isEnabled()


def test_a_failed_run_shows_a_message_and_restores_the_previous_result(qtbot, window, tmp_path):
    w = window
    doc = open_file(qtbot, w, write_photo(tmp_path / "subject.png"))
    import_hints(qtbot, w, tmp_path)
    assert run_and_wait(qtbot, w, w.action_preview) == "finished"
    result = doc.result
    # A memory budget no plan fits: the session refuses the run before it starts.
    doc.update_settings(memory_budget_mb=1.0)
    assert run_and_wait(qtbot, w, w.action_preview) == "failed"
    assert w.last_error and "budget is 1 MB" in w.last_error and "trimap is unchanged" in w.last_error
    assert doc.result is result and doc.alpha is result.alpha  # the work is kept


# ------------------------------------------------------------------------------------------- export


def test_export_with_plan_writes_the_alpha_and_cutout_pixels(qtbot, window, tmp_path):
    w = window
    doc = open_file(qtbot, w, write_photo(tmp_path / "subject.png"))
    import_hints(qtbot, w, tmp_path)
    assert run_and_wait(qtbot, w, w.action_preview) == "finished"
    out = tmp_path / "out"
    plan = ExportPlan(cutout=out / "s_cutout.png", alpha=out / "s_alpha.png", trimap=out / "s_trimap.png", routing=out / "s_routing.png")
    with qtbot.waitSignal(w.exportFinished, timeout=WAIT_MS) as blocker:
        w.export_with_plan(plan)
    assert [p.name for p in blocker.args[0]] == ["s_cutout.png", "s_alpha.png", "s_trimap.png", "s_routing.png"]
    expected = np.rint(np.clip(doc.full_alpha(), 0, 1) * 255).astype(np.uint8)
    alpha = cv2.imread(str(out / "s_alpha.png"), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(alpha, expected)
    cutout = cv2.imread(str(out / "s_cutout.png"), cv2.IMREAD_UNCHANGED)
    assert cutout.shape == (H, W, 4)
    np.testing.assert_array_equal(cutout[..., 3], expected)
    np.testing.assert_array_equal(cv2.imread(str(out / "s_trimap.png"), cv2.IMREAD_UNCHANGED), doc.trimap)
    assert "Exported 4 files" in w.last_message and w.notice_bar.action_labels() == ["Show in Folder"]

    # Existing files are not replaced without the plan's consent: a readable message, nothing written.
    before = (out / "s_alpha.png").stat().st_mtime_ns
    with qtbot.waitSignal(w.taskFailed, timeout=WAIT_MS):
        w.export_with_plan(ExportPlan(alpha=out / "s_alpha.png"))
    assert "s_alpha.png" in w.last_error and (out / "s_alpha.png").stat().st_mtime_ns == before


# ----------------------------------------------------------------------------------- project, closing


def test_save_project_then_reopen_gives_the_same_trimap(qtbot, window, tmp_path):
    w = window
    doc = open_file(qtbot, w, write_photo(tmp_path / "subject.png"))
    mouse_drag(qtbot, w, [(30, 30), (130, 90)])
    painted = doc.trimap.copy()
    assert w.isWindowModified()
    assert w.save_project_as(tmp_path / "work")
    assert doc.path == tmp_path / "work.matte" and not doc.dirty and not w.isWindowModified()
    assert w.windowTitle() == "work.matte[*] — matteapp"

    reopened = open_file(qtbot, w, tmp_path / "work.matte")
    assert reopened is not doc and reopened.path == tmp_path / "work.matte"
    np.testing.assert_array_equal(reopened.trimap, painted)
    assert w.undo_stack.count() == 0


def test_closing_with_unsaved_work_asks_and_cancel_keeps_the_window(qtbot, window, tmp_path, monkeypatch):
    w = window
    open_file(qtbot, w, write_photo(tmp_path / "subject.png"))
    asked = []
    monkeypatch.setattr(w.files, "ask_unsaved", lambda reason: asked.append(reason) or "cancel")
    mouse_drag(qtbot, w, [(30, 30), (60, 60)])
    assert not w.close()
    assert asked == ["close"] and w.isVisible() and not w.controller.is_shut_down

    # Undone back to the saved state: nothing to lose, so it closes without asking.
    w.action_undo.trigger()
    assert not w.doc.dirty
    assert w.close()
    assert asked == ["close"] and not w.isVisible() and w.controller.is_shut_down


def test_closing_and_discarding_unsaved_work(qtbot, window, tmp_path, monkeypatch):
    w = window
    open_file(qtbot, w, write_photo(tmp_path / "subject.png"))
    mouse_drag(qtbot, w, [(30, 30), (60, 60)])
    asked = []
    monkeypatch.setattr(w.files, "ask_unsaved", lambda reason: asked.append(reason) or "discard")
    assert w.close()
    assert asked == ["close"] and w.controller.is_shut_down


def test_opening_another_file_over_unsaved_work_asks_first(qtbot, window, tmp_path, monkeypatch):
    w = window
    doc = open_file(qtbot, w, write_photo(tmp_path / "subject.png"))
    mouse_drag(qtbot, w, [(30, 30), (60, 60)])
    monkeypatch.setattr(w.files, "ask_unsaved", lambda reason: "cancel")
    assert not w.open_path(write_photo(tmp_path / "other.png", seed=1))
    assert w.doc is doc
    monkeypatch.setattr(w.files, "ask_unsaved", lambda reason: "discard")
    assert open_file(qtbot, w, tmp_path / "other.png") is not doc


def test_autosave_is_offered_for_recovery_in_a_new_window(qtbot, window, tmp_path, gui_settings, predictor):
    w = window
    doc = open_file(qtbot, w, write_photo(tmp_path / "subject.png"))
    mouse_drag(qtbot, w, [(30, 30), (130, 90)])
    thread = w.autosave_now()
    assert isinstance(thread, threading.Thread)
    thread.join(30)
    found = find_autosaves()
    assert len(found) == 1 and found[0].photo_path == (tmp_path / "subject.png").resolve()

    # As after a crash: a second window finds the autosave and recovers it.
    other = MainWindow(settings=gui_settings, controller=MatteController(), load_model=False)
    other.files.ask_recovery = lambda infos: "recover"
    with qtbot.waitSignal(other.documentChanged, timeout=WAIT_MS):
        assert other.offer_recovery()
    np.testing.assert_array_equal(other.doc.trimap, doc.trimap)
    assert other.doc.dirty and other.isWindowModified()
    other.files.ask_unsaved = lambda reason: "discard"
    other.close()
    other.deleteLater()
    assert find_autosaves() == []  # discarding the recovered work removes its autosave


def test_a_project_whose_photo_moved_asks_where_it_is(qtbot, window, tmp_path, monkeypatch):
    w = window
    (tmp_path / "shoot").mkdir()
    doc = open_file(qtbot, w, write_photo(tmp_path / "shoot" / "subject.png"))
    mouse_drag(qtbot, w, [(30, 30), (130, 90)])
    painted = doc.trimap.copy()
    (tmp_path / "projects").mkdir()
    assert w.save_project_as(tmp_path / "projects" / "work.matte")
    moved = (tmp_path / "shoot" / "subject.png").rename(tmp_path / "renamed.png")

    asked = []
    monkeypatch.setattr(w.files, "locate_photo", lambda missing: asked.append(missing.message) or str(moved))
    reopened = open_file(qtbot, w, tmp_path / "projects" / "work.matte")
    assert asked and "subject.png" in asked[0]
    np.testing.assert_array_equal(reopened.trimap, painted)
    assert reopened.image.path == moved


def test_dropping_a_photo_on_the_window_opens_it(qtbot, window, tmp_path):
    from PySide6.QtCore import QMimeData, QPointF, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDropEvent
    from PySide6.QtWidgets import QApplication

    w = window
    path = write_photo(tmp_path / "dropped.png")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    args = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    target = w.empty_state  # what is under the pointer before a photo is open
    enter = QDragEnterEvent(QPointF(200, 200), *args)
    QApplication.sendEvent(target, enter)
    assert enter.isAccepted()
    with qtbot.waitSignal(w.documentChanged, timeout=WAIT_MS):
        QApplication.sendEvent(target, QDropEvent(QPointF(200, 200), *args))
    assert Path(w.doc.image.path) == path


def test_main_opens_the_photo_named_on_the_command_line(qtbot, gui_settings, tmp_path):
    from PySide6.QtCore import QCoreApplication, QTimer
    from PySide6.QtWidgets import QApplication

    from matteapp.gui import app

    photo = write_photo(tmp_path / "cli.png")
    seen = {}

    def finish_when_open():
        windows = [x for x in QApplication.topLevelWidgets() if isinstance(x, MainWindow) and x.isVisible()]
        if windows and windows[0].doc is not None:
            seen["title"] = windows[0].windowTitle()
            seen["org"] = QCoreApplication.organizationName()
            windows[0].close()
            QApplication.quit()
        else:
            poll.start(20)

    def give_up():
        seen["gave_up"] = True
        for x in QApplication.topLevelWidgets():
            if isinstance(x, MainWindow):
                x.close()
        QApplication.quit()

    poll, deadline = QTimer(singleShot=True), QTimer(singleShot=True)
    poll.timeout.connect(finish_when_open)
    deadline.timeout.connect(give_up)
    poll.start(0)
    deadline.start(WAIT_MS)
    # Closing the last window would also post a quit of its own, which could end a later test's event
    # loop: this test quits explicitly instead.
    qapp = QApplication.instance()
    quit_on_close = qapp.quitOnLastWindowClosed()
    qapp.setQuitOnLastWindowClosed(False)
    try:
        assert app.main([str(photo)]) == 0
    finally:
        poll.stop()
        deadline.stop()
        qapp.setQuitOnLastWindowClosed(quit_on_close)
    assert not seen.get("gave_up")
    assert seen["title"] == "cli.png[*] — matteapp" and seen["org"] == "matteapp"
