"""A designer's session without surprises (issue 13), through the real window, offscreen.

Runs keep the picture and show their progress between the model's events; closed-form matting can be
cancelled; the routing panel says what its memory figures mean; exports end with a notice; the first
tool, the questions and the file handling are the ones Photoshop and GIMP users expect.  Every wait is
on a signal or a condition (pytest-qt), with a generous time-out that only guards against a hang.
"""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PIL import Image  # noqa: E402
from PySide6.QtCore import QPoint, Qt  # noqa: E402
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox  # noqa: E402

from matteapp.document.export_plan import ExportPlan  # noqa: E402
from matteapp.engine.trimap import BACKGROUND, FOREGROUND, UNKNOWN  # noqa: E402
from matteapp.gui.main_window import MainWindow  # noqa: E402
from matteapp.gui.window import export as export_part  # noqa: E402
from matteapp.gui.worker import MatteController  # noqa: E402
from matteapp.model import MattingConfig, build_model  # noqa: E402
from matteapp.model.predictor import Cancelled, MattePredictor, ProgressEvent  # noqa: E402

pytestmark = pytest.mark.gui

WAIT_MS = 120_000  # a hang guard: the CPU is shared with other jobs
H, W = 120, 160
SUBJECT = (W // 2, H // 2, 36, 30)


class GatedPredictor(MattePredictor):
    """The tiny model, except that when ``armed`` a run stops after two blocks, as in a global block that
    runs for a long time, until ``release`` is set (or the run is cancelled)."""

    def __init__(self, network):
        super().__init__(network, "cpu", "fp32", source="gated test model")
        self.armed = False
        self.hold_windows = False
        self.inside = threading.Event()
        self.release = threading.Event()

    def predict(self, image, trimap, max_global_tokens=None, progress=None, cancel=None, **kw):
        if self.hold_windows and progress is None:  # a local update: wait inside the model until released
            self._busy_until_released(cancel)
        if self.armed and progress is not None:
            for i in (0, 1):
                progress(ProgressEvent("backbone", 0.0, f"backbone block {i + 1}/{self.config.depth}", block=i))
            self._busy_until_released(cancel)
        return super().predict(image, trimap, max_global_tokens, progress, cancel, **kw)

    def _busy_until_released(self, cancel) -> None:
        """The model is busy inside a block (no events at all) until ``release`` is set or the run is cancelled."""
        self.inside.set()
        while not self.release.wait(0.02):
            if cancel is not None and cancel():
                raise Cancelled("prediction cancelled")


@pytest.fixture(scope="module")
def predictor():
    torch.manual_seed(0)
    return GatedPredictor(build_model(MattingConfig(name="d96", embed_dim=96, num_heads=3)))


@pytest.fixture
def window(qtbot, gui_settings, predictor):
    predictor.armed = predictor.hold_windows = False
    predictor.inside.clear()
    predictor.release.clear()
    controller = MatteController()
    with qtbot.waitSignal(controller.modelReady, timeout=WAIT_MS):
        controller.load_model("tiny test model (random weights)", loader=lambda: predictor)
    w = MainWindow(settings=gui_settings, controller=controller, load_model=False)
    w.canvas.frame_budget_ms = None
    w.resize(1100, 760)
    w.show()
    qtbot.waitExposed(w)
    yield w
    predictor.release.set()
    w.files.ask_unsaved = lambda reason: "discard"
    w.close()
    controller.shutdown()
    w.deleteLater()


def write_photo(path, size=(H, W), seed=0):
    """A muted, noisy green-gray background with a saturated red ellipse (the subject) in the middle."""
    h, w = size
    rng = np.random.default_rng(seed)
    rgb = np.empty((h, w, 3), np.uint8)
    rgb[...] = (70, 110, 80)
    rgb = np.clip(rgb + rng.normal(0, 6, rgb.shape), 0, 255).astype(np.uint8)
    cx, cy, ax, ay = w // 2, h // 2, int(0.22 * w), int(0.25 * h)
    cv2.ellipse(rgb, (cx, cy), (ax, ay), 0, 0, 360, (220, 40, 30), -1)
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return path


def hinted_trimap(size=(H, W)):
    h, w = size
    cx, cy, ax, ay = w // 2, h // 2, int(0.22 * w), int(0.25 * h)
    band = max(6, w // 25)
    trimap = np.zeros((h, w), np.uint8)
    cv2.ellipse(trimap, (cx, cy), (ax + band, ay + band), 0, 0, 360, UNKNOWN, -1)
    cv2.ellipse(trimap, (cx, cy), (ax - band, ay - band), 0, 0, 360, FOREGROUND, -1)
    return trimap


def open_photo(qtbot, w, path):
    with qtbot.waitSignal(w.documentChanged, timeout=WAIT_MS):
        assert w.open_path(path)
    return w.doc


def give_hints(qtbot, w, tmp_path):
    path = tmp_path / "hints.png"
    cv2.imwrite(str(path), hinted_trimap(w.doc.size))
    with qtbot.waitSignal(w.taskFinished, timeout=WAIT_MS, check_params_cb=lambda kind: kind == "import trimap"):
        w.import_trimap(path)


def run(qtbot, w, preview):
    outcomes = []
    w.runEnded.connect(outcomes.append)
    with qtbot.waitSignal(w.runEnded, timeout=WAIT_MS):
        w.run_matte(preview=preview)
    return outcomes[-1]


def pick(w, tool):
    next(a for a in w.tool_panel.shortcut_actions() if a.data() == tool).trigger()


def vp(w, x, y) -> QPoint:
    return w.canvas.map_from_image(x, y).toPoint()


def drag(qtbot, w, points):
    viewport = w.canvas.viewport()
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=vp(w, *points[0]))
    for p in points[1:]:
        qtbot.mouseMove(viewport, pos=vp(w, *p))
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=vp(w, *points[-1]))


def no_modal_box():
    boxes = [b for b in QApplication.topLevelWidgets() if isinstance(b, QMessageBox) and b.isVisible()]
    return QApplication.activeModalWidget() is None and not boxes


# ------------------------------------------------------------------------------------------ runs


def test_a_full_run_keeps_the_preview_on_screen_until_its_tiles_replace_it(qtbot, window, tmp_path):
    w = window
    doc = open_photo(qtbot, w, write_photo(tmp_path / "subject.png"))
    give_hints(qtbot, w, tmp_path)
    assert run(qtbot, w, preview=True) == "finished"
    preview = doc.alpha.copy()
    assert w.canvas.view_mode == "cutout" and w.run_panel.summary().startswith("Preview")

    during = []

    def on_event(event, payload):
        # the first routing map comes before any alpha tile: what is on screen then is the kept preview
        if event == "routing" and payload == 0 and not during:
            during.append((None if doc.alpha is None else doc.alpha.copy(), w.canvas.notice(), w.run_panel.summary()))

    doc.subscribe(on_event)
    assert run(qtbot, w, preview=False) == "finished"
    alpha, notice, summary = during[0]
    assert alpha is not None and np.allclose(alpha, preview, atol=1e-6)  # not a blank checkerboard
    assert "preview" in notice  # and the canvas says what it shows
    assert summary == ""  # the preview's "Preview … · 2.4 s" line is gone while the new run goes
    assert w.run_panel.summary().startswith("Full resolution") and w.canvas.notice() is None


def test_the_bar_and_the_time_left_move_while_a_block_runs_without_events(qtbot, window, predictor, tmp_path):
    w = window
    open_photo(qtbot, w, write_photo(tmp_path / "subject.png"))
    give_hints(qtbot, w, tmp_path)
    predictor.armed = True
    w.run_matte(preview=False)
    qtbot.waitUntil(predictor.inside.is_set, timeout=WAIT_MS)  # two blocks done, the third "runs"
    panel = w.run_panel
    qtbot.waitUntil(lambda: (panel.progress()[1] or 0) > 0 and "left" in panel.time_left_text(), timeout=WAIT_MS)
    first = panel.progress()[1]
    stage = panel.progress()[0]
    # no event arrives while the model is inside the block: only the estimate can move the bar
    qtbot.waitUntil(lambda: panel.progress()[1] > first + 0.005, timeout=WAIT_MS)
    assert panel.progress()[0] == stage == "Transformer" and panel.progress()[1] < 1.0
    predictor.release.set()
    with qtbot.waitSignal(w.runEnded, timeout=WAIT_MS) as ended:
        pass
    assert ended.args == ["finished"] and panel.time_left_text() == ""


def test_closed_form_shows_its_solver_progress_and_cancels(qtbot, window, tmp_path):
    w = window
    size = (480, 640)  # an unknown band of ~60 000 pixels: hundreds of solver iterations
    doc = open_photo(qtbot, w, write_photo(tmp_path / "big.png", size))
    give_hints(qtbot, w, tmp_path)
    doc.update_settings(engine="closed-form")
    reports = []
    w.controller.progress.connect(lambda rid, stage, fraction, message: reports.append((stage, fraction, message)))
    with qtbot.waitSignal(w.controller.progress, timeout=WAIT_MS, check_params_cb=lambda rid, stage, f, m: "solving" in m and f > 0):
        w.run_matte(preview=False)
    stage, fraction, message = reports[-1]
    assert stage == "closed-form" and 0 < fraction < 1 and "iteration" in message
    assert w.run_panel.progress()[0] == "Closed-form" and 0 < w.run_panel.progress()[1] < 1  # not 0 % all along
    with qtbot.waitSignal(w.runEnded, timeout=WAIT_MS) as ended:
        w.cancel_work()
    assert ended.args == ["cancelled"] and doc.result is None
    # the worker is free again: the solve stopped rather than running on behind the cancel
    doc.update_settings(engine="mematte")
    assert run(qtbot, w, preview=True) == "finished"


def test_the_routing_panel_says_what_its_memory_figures_are(qtbot, window, tmp_path):
    w = window
    open_photo(qtbot, w, write_photo(tmp_path / "subject.png"))
    give_hints(qtbot, w, tmp_path)
    assert run(qtbot, w, preview=True) == "finished"
    panel = w.routing_panel
    used, full = panel.cell_text("memory_attention", 0), panel.cell_text("memory_full", 0)
    assert used.endswith(("KB", "MB")) and full.endswith(("KB", "MB", "GB"))
    assert "N×N score matrix" in panel.summary() and "peak memory" in panel.peak_text()


def test_a_failure_is_readable_in_full_in_the_run_panel(qtbot, window, tmp_path):
    w = window
    doc = open_photo(qtbot, w, write_photo(tmp_path / "subject.png"))
    give_hints(qtbot, w, tmp_path)
    doc.update_settings(memory_budget_mb=1.0)  # too small for any run: the session refuses, in words
    assert run(qtbot, w, preview=True) == "failed"
    stage, _, message = w.run_panel.progress()
    assert stage == "Failed" and message == w.last_error.split("\n\n")[0] and "budget is 1 MB" in message
    assert w.run_panel._message.wordWrap()  # wraps instead of cutting the sentence off


# ------------------------------------------------------------------------------------------ export


def test_export_ends_with_a_notice_that_opens_the_folder_and_no_box(qtbot, window, tmp_path, monkeypatch):
    w = window
    open_photo(qtbot, w, write_photo(tmp_path / "subject.png"))
    give_hints(qtbot, w, tmp_path)
    assert run(qtbot, w, preview=True) == "finished"
    out = tmp_path / "out"
    stages = []
    w.tasks._progress.connect(lambda serial, stage, fraction, message: stages.append(message))
    with qtbot.waitSignal(w.exportFinished, timeout=WAIT_MS):
        w.export_with_plan(ExportPlan(cutout=out / "s_cutout.png", alpha=out / "s_alpha.png"))
    qtbot.waitUntil(lambda: w.notice_bar.isVisible(), timeout=WAIT_MS)
    assert no_modal_box()
    assert "Exported 2 files" in w.notice_bar.text() and w.notice_bar.kind() == "success"
    assert any(m.startswith("colour decontamination, tile") for m in stages)  # it moved while it worked
    opened = []
    monkeypatch.setattr(export_part.QDesktopServices, "openUrl", lambda url: opened.append(url.toLocalFile()) or True)
    w.notice_bar.trigger("Show in Folder")
    assert [Path(p) for p in opened] == [out]


# ------------------------------------------------------------------------------- tools and trimaps


def test_a_new_photo_starts_with_the_rectangle_and_says_what_to_do(qtbot, window, tmp_path):
    w = window
    open_photo(qtbot, w, write_photo(tmp_path / "subject.png"))
    assert w.tool_panel.tool() == "rect" and w.canvas.tool == "rect"
    assert w.canvas.view_mode == "photo"  # the photo, not a flat blue Background tint
    assert "rectangle around the subject" in w.canvas.notice()
    assert w.run_panel._blocked.isVisible() and "Mark the subject first" in w.run_panel._blocked.text()
    with qtbot.waitSignal(w.taskFinished, timeout=WAIT_MS, check_params_cb=lambda kind: kind == "auto trimap"):
        drag(qtbot, w, [(20, 10), (90, 60), (140, 110)])
    assert w.doc.has_hints and w.canvas.notice() is None and w.canvas.view_mode == "trimap"
    assert not w.run_panel._blocked.isVisible()


def test_a_second_rectangle_asks_before_it_replaces_brush_corrections(qtbot, window, tmp_path, monkeypatch):
    w = window
    doc = open_photo(qtbot, w, write_photo(tmp_path / "subject.png"))
    with qtbot.waitSignal(w.taskFinished, timeout=WAIT_MS, check_params_cb=lambda kind: kind == "auto trimap"):
        drag(qtbot, w, [(20, 10), (140, 110)])
    pick(w, "brush")
    next(a for a in w.tool_panel.shortcut_actions() if a.data() == BACKGROUND).trigger()
    w.tool_panel.set_brush_size(6)
    drag(qtbot, w, [(70, 60), (90, 60)])  # a correction inside the subject
    assert doc.trimap[60, 80] == BACKGROUND and w.tool_panel.refine_available()
    asked = []
    pick(w, "rect")

    monkeypatch.setattr(w.editing, "ask_replace_trimap", lambda keep_possible: asked.append(keep_possible) or "cancel")
    before = doc.trimap.copy()
    drag(qtbot, w, [(15, 8), (145, 112)])
    assert asked == [True] and np.array_equal(doc.trimap, before) and w.tasks.kind is None

    monkeypatch.setattr(w.editing, "ask_replace_trimap", lambda keep_possible: asked.append(keep_possible) or "keep")
    with qtbot.waitSignal(w.taskFinished, timeout=WAIT_MS, check_params_cb=lambda kind: kind == "auto trimap"):
        drag(qtbot, w, [(15, 8), (145, 112)])
    assert doc.trimap[60, 80] == BACKGROUND  # the correction survived the new rectangle

    monkeypatch.setattr(w.editing, "ask_replace_trimap", lambda keep_possible: asked.append(keep_possible) or "replace")
    with qtbot.waitSignal(w.taskFinished, timeout=WAIT_MS, check_params_cb=lambda kind: kind == "auto trimap"):
        drag(qtbot, w, [(20, 10), (140, 110)])
    assert doc.trimap[60, 80] == FOREGROUND and asked == [True, True, True]
    # and once nothing is painted over it, a new rectangle just replaces the automatic trimap
    monkeypatch.setattr(w.editing, "ask_replace_trimap", lambda keep_possible: pytest.fail("asked with nothing to lose"))
    with qtbot.waitSignal(w.taskFinished, timeout=WAIT_MS, check_params_cb=lambda kind: kind == "auto trimap"):
        drag(qtbot, w, [(18, 9), (142, 111)])


def test_refine_with_strokes_is_in_the_tool_options(qtbot, window, tmp_path):
    w = window
    doc = open_photo(qtbot, w, write_photo(tmp_path / "subject.png"))
    assert not w.tool_panel.refine_available()
    with qtbot.waitSignal(w.taskFinished, timeout=WAIT_MS, check_params_cb=lambda kind: kind == "auto trimap"):
        drag(qtbot, w, [(20, 10), (140, 110)])
    pick(w, "brush")
    w.tool_panel.set_brush_size(4)
    drag(qtbot, w, [(25, 60), (30, 60)])  # foreground outside the subject: GrabCut should learn from it
    assert w.tool_panel.refine_available()
    with qtbot.waitSignal(w.taskFinished, timeout=WAIT_MS, check_params_cb=lambda kind: kind == "auto trimap"):
        w.tool_panel._refine_button.click()
    assert doc.trimap[60, 27] == FOREGROUND and w.undo_stack.undoText() == "Refine auto trimap"


def test_typing_a_band_width_says_what_became_of_auto(qtbot, window, tmp_path):
    w = window
    open_photo(qtbot, w, write_photo(tmp_path / "subject.png"))
    panel = w.tool_panel
    auto = panel.band_width() is None and panel._band_auto.text()
    assert auto.startswith("Auto (") and panel.band_note() == ""
    panel._band_spin.setValue(25)  # as if typed
    assert panel.band_width() == 25 and not panel._band_auto.isChecked()
    note = panel.band_note()
    assert "Fixed at 25 px" in note and "Tick Auto" in note and auto[6:-1] in note  # the automatic width, named
    panel._band_auto.setChecked(True)
    assert panel.band_width() is None and panel.band_note() == ""


def test_the_refine_edge_brush_paints_unknown_and_mattes_under_the_stroke_at_once(qtbot, window, tmp_path):
    w = window
    doc = open_photo(qtbot, w, write_photo(tmp_path / "subject.png"))
    give_hints(qtbot, w, tmp_path)
    assert run(qtbot, w, preview=True) == "finished"
    before = doc.alpha.copy()
    assert doc.trimap[60, 80] == FOREGROUND and before[60, 80] == 1.0
    pick(w, "refine")
    assert w.tool_panel.tool() == "refine" and w.canvas.tool == "brush"
    w.tool_panel.set_brush_size(10)
    with qtbot.waitSignal(w.taskFinished, timeout=WAIT_MS, check_params_cb=lambda kind: kind == "refine edge"):
        drag(qtbot, w, [(75, 60), (85, 60)])
    assert doc.trimap[60, 80] == UNKNOWN
    assert doc.alpha[60, 80] != 1.0  # computed by the model now, not the old Foreground
    assert np.array_equal(doc.alpha[:20], before[:20])  # far from the stroke nothing changed


def auto_run_on(w):
    w.run_panel._auto_run.setChecked(True)
    assert w.doc.settings["auto_run"]


def record_edits(doc):
    """The box (y0, y1, x0, x1) of every trimap pixel changed from now on, as the "trimap" events report it."""
    boxes = []

    def on_event(event, payload):
        if event == "trimap":
            x, y, bw, bh = payload
            boxes.append((y, y + bh, x, x + bw))

    doc.subscribe(on_event)

    def union():
        return min(b[0] for b in boxes), max(b[1] for b in boxes), min(b[2] for b in boxes), max(b[3] for b in boxes)

    return union


LARGE = (896, 1344)  # 4 × 6 attention windows: a stroke's window is a small part of the photo


def test_with_auto_run_a_stroke_on_a_full_result_is_blended_in_at_once_by_a_local_update(qtbot, window, predictor, tmp_path):
    from matteapp.engine.local import rematte_region

    w = window
    doc = open_photo(qtbot, w, write_photo(tmp_path / "large.png", size=LARGE))
    give_hints(qtbot, w, tmp_path)
    assert run(qtbot, w, preview=False) == "finished"
    result, before = doc.result, doc.alpha.copy()
    assert not result.is_preview and before.shape == LARGE
    auto_run_on(w)
    edited = record_edits(doc)
    runs = []
    w.runEnded.connect(runs.append)
    pick(w, "brush")
    w.tool_panel.set_brush_size(20)
    y, x = 448, 377  # in the unknown band, on the subject's left edge
    assert doc.trimap[y, x] == UNKNOWN
    with qtbot.waitSignal(w.taskFinished, timeout=WAIT_MS, check_params_cb=lambda kind: kind == "local update"):
        drag(qtbot, w, [(x, y), (x + 12, y)])
    assert doc.trimap[y, x] == FOREGROUND and doc.alpha[y, x] == 1.0
    # exactly the model's answer for the window around the stroke, blended in; nothing else changed
    assert result.photo_context is not None  # the run kept what a local update needs of the whole photo
    expected = rematte_region(predictor, doc.rgb, doc.trimap, before, edited(), photo_context=result.photo_context)
    assert np.abs(doc.alpha - expected.apply(before)).max() <= 1e-6
    wy0, wy1, wx0, wx1 = expected.window
    outside = np.ones(LARGE, bool)
    outside[wy0:wy1, wx0:wx1] = False
    assert np.array_equal(doc.alpha[outside], before[outside]) and (wy1 - wy0) * (wx1 - wx0) <= 0.5 * doc.alpha.size
    # marked until a full run replaces it; the full-resolution result is not traded for a preview
    assert doc.result is result and not runs
    assert "local update" in (w.canvas.notice() or "").lower() and "local: 1" in w.run_panel.summary()
    assert run(qtbot, w, preview=False) == "finished"
    assert "local update" not in (w.canvas.notice() or "").lower()
    assert np.abs(doc.alpha - predictor.predict(doc.rgb, doc.trimap, doc.settings["max_global_tokens"]).alpha).max() <= 1e-6


def test_an_export_that_cancels_a_local_update_is_followed_by_that_update(qtbot, window, predictor, tmp_path):
    w = window
    doc = open_photo(qtbot, w, write_photo(tmp_path / "large.png", size=LARGE))
    give_hints(qtbot, w, tmp_path)
    assert run(qtbot, w, preview=False) == "finished"
    auto_run_on(w)
    pick(w, "brush")
    w.tool_panel.set_brush_size(20)
    y, x = 448, 377
    predictor.hold_windows = True
    drag(qtbot, w, [(x, y), (x + 12, y)])
    qtbot.waitUntil(predictor.inside.is_set, timeout=WAIT_MS)  # the local update is inside the model
    assert w.tasks.kind == "local update" and doc.alpha[y, x] != 1.0
    predictor.hold_windows = False
    kinds = []
    w.taskFinished.connect(kinds.append)
    with qtbot.waitSignal(w.taskFinished, timeout=WAIT_MS, check_params_cb=lambda kind: kind == "local update"):
        w.export_with_plan(ExportPlan(alpha=tmp_path / "out" / "alpha.png"))  # cancels the update, then redoes it
    assert kinds == ["export", "local update"]
    assert doc.trimap[y, x] == FOREGROUND and doc.alpha[y, x] == 1.0
    assert "1 local update" in (w.canvas.notice() or "")


def test_with_auto_run_a_stroke_on_a_preview_ends_in_a_new_whole_preview(qtbot, window, predictor, tmp_path):
    w = window
    doc = open_photo(qtbot, w, write_photo(tmp_path / "subject.png"))
    give_hints(qtbot, w, tmp_path)
    assert run(qtbot, w, preview=True) == "finished"
    auto_run_on(w)
    pick(w, "brush")
    w.tool_panel.set_brush_size(6)
    assert doc.trimap[60, 49] == UNKNOWN
    outcomes = []
    w.runEnded.connect(outcomes.append)
    with qtbot.waitSignal(w.runEnded, timeout=WAIT_MS):
        drag(qtbot, w, [(49, 60), (51, 60)])
    assert outcomes == ["finished"] and doc.trimap[60, 49] == FOREGROUND
    assert np.abs(doc.alpha - predictor.predict(doc.rgb, doc.trimap, doc.settings["max_global_tokens"]).alpha).max() <= 1e-6
    assert "local update" not in (w.canvas.notice() or "").lower()


def test_a_local_update_never_cancels_an_export_and_a_large_edit_runs_the_whole_preview(qtbot, window, tmp_path):
    w = window
    doc = open_photo(qtbot, w, write_photo(tmp_path / "large.png", size=LARGE))
    give_hints(qtbot, w, tmp_path)
    assert run(qtbot, w, preview=False) == "finished"
    auto_run_on(w)
    kinds = []
    w.taskFinished.connect(kinds.append)
    outcomes = []
    w.runEnded.connect(outcomes.append)
    with qtbot.waitSignal(w.runEnded, timeout=WAIT_MS):
        w.editing.invert_trimap()  # every pixel of the band changes: no window is local
    assert outcomes == ["finished"] and doc.result.is_preview and "local update" not in kinds


# ------------------------------------------------------------------------------------------ files


def test_an_unreadable_file_is_reported_before_any_question_about_unsaved_work(qtbot, window, tmp_path, monkeypatch):
    w = window
    open_photo(qtbot, w, write_photo(tmp_path / "subject.png"))
    pick(w, "brush")
    drag(qtbot, w, [(30, 30), (60, 60)])
    assert w.doc.dirty
    asked = []
    monkeypatch.setattr(w.files, "ask_unsaved", lambda reason: asked.append(reason) or "cancel")
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not an image at all" * 20)
    assert not w.open_path(bad)
    assert asked == [] and "broken.jpg" in w.last_error
    assert not w.open_path(write_photo(tmp_path / "other.png", seed=1))
    assert asked == ["open another file"]  # a readable file: now the question is worth asking


def test_a_truncated_jpeg_opens_with_a_warning_in_plain_words(qtbot, window, tmp_path):
    w = window
    path = tmp_path / "cut.jpg"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (300, 400, 3), dtype=np.uint8)).save(path, quality=90)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    doc = open_photo(qtbot, w, path)
    assert doc.size == (300, 400) and w.last_error is None
    assert w.notice_bar.kind() == "warning" and "cut.jpg is incomplete" in w.notice_bar.text()
    assert "bytes not processed" not in w.notice_bar.text()
    assert no_modal_box()


def test_the_open_dialog_starts_in_the_folder_of_the_last_file(qtbot, window, tmp_path, monkeypatch):
    w = window
    folder = tmp_path / "shoot"
    folder.mkdir()
    open_photo(qtbot, w, write_photo(folder / "subject.png"))  # opened by path (a drop, the command line)
    starts = []
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda parent, caption, start, filters: starts.append(start) or ("", ""))
    w.files.open_dialog()
    assert starts == [str(folder.resolve())]
