"""Side panels, export and model dialogs (offscreen Qt), and the Qt-free export plan they produce."""

import os

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("pytestqt")
from PySide6.QtCore import QSettings, Qt  # noqa: E402
from PySide6.QtWidgets import QMessageBox, QPushButton, QToolButton  # noqa: E402

from matteapp.io import export  # noqa: E402
from matteapp.document.export_plan import ExportPlan, default_paths, default_plan, run_export  # noqa: E402
from matteapp.engine.session import SessionResult, global_attention_savings  # noqa: E402
from matteapp.gui.export_dialog import ExportDialog  # noqa: E402
from matteapp.gui.model_dialog import ModelChoice, ModelDialog, check_checkpoint_file  # noqa: E402
from matteapp.gui.widgets import RoutingPanel, RunPanel, ToolOptionsPanel  # noqa: E402
from matteapp.gui.widgets.routing_panel import format_megabytes  # noqa: E402
from matteapp.gui.widgets.tool_options_panel import BRUSH_MAX, _brush_to_slider, _slider_to_brush  # noqa: E402
from matteapp.io.recent import remember_checkpoint  # noqa: E402
from matteapp.model.predictor import BlockRouting, Cancelled, bundled_model_path  # noqa: E402

pytestmark = pytest.mark.gui


@pytest.fixture(autouse=True, scope="module")
def _settings_in_temp(tmp_path_factory):
    # QSettings("matteapp", "matteapp") must never touch the real user's configuration
    folder = tmp_path_factory.mktemp("qsettings")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    for fmt in (QSettings.Format.IniFormat, QSettings.Format.NativeFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, str(folder))
    return folder


@pytest.fixture
def settings(tmp_path):
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture(autouse=True)
def _config_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("MATTEAPP_CONFIG_DIR", str(tmp_path / "config"))


def _button(widget, text):
    for button in [*widget.findChildren(QToolButton), *widget.findChildren(QPushButton)]:
        if button.text() == text:
            return button
    raise LookupError(text)


# ------------------------------------------------------------------------------------- tool options


def test_tool_buttons_emit_names_once_and_tooltips_name_shortcuts(qtbot):
    panel = ToolOptionsPanel()
    qtbot.addWidget(panel)
    for text, name, key in (("Lasso", "lasso", "L"), ("Fill", "fill", "G"), ("Rectangle", "rect", "R"), ("Hand", "pan", "H"), ("Brush", "brush", "B")):
        button = _button(panel, text)
        assert f"({key})" in button.toolTip()
        with qtbot.waitSignal(panel.toolChanged) as blocker:
            button.click()
        assert blocker.args == [name] and panel.tool() == name
    with qtbot.assertNotEmitted(panel.toolChanged):
        _button(panel, "Brush").click()  # already the tool
        panel.set_tool("lasso")  # setters are silent
    assert panel.tool() == "lasso" and _button(panel, "Lasso").isChecked()
    with pytest.raises(ValueError):
        panel.set_tool("eraser")


def test_single_key_shortcuts_switch_tool_and_class(qtbot):
    panel = ToolOptionsPanel()
    qtbot.addWidget(panel)
    panel.show()
    qtbot.waitExposed(panel)
    panel.activateWindow()
    qtbot.waitUntil(panel.isActiveWindow)
    with qtbot.waitSignal(panel.toolChanged) as blocker:
        qtbot.keyClick(panel, Qt.Key.Key_L)
    assert blocker.args == ["lasso"]
    with qtbot.waitSignal(panel.classChanged) as blocker:
        qtbot.keyClick(panel, Qt.Key.Key_3)
    assert blocker.args == [128]
    with qtbot.waitSignal(panel.brushSizeChanged) as blocker:
        panel.set_tool("brush")
        qtbot.keyClick(panel, Qt.Key.Key_BracketRight)
    assert blocker.args == [50.0]  # 40 px × 1.25


def test_class_buttons_swap_and_availability(qtbot):
    panel = ToolOptionsPanel()
    qtbot.addWidget(panel)
    assert panel.trimap_class() == 255
    for text, value, key in (("Background", 0, "2"), ("Unknown", 128, "3"), ("Foreground", 255, "1")):
        assert f"({key})" in _button(panel, text).toolTip()
        with qtbot.waitSignal(panel.classChanged) as blocker:
            _button(panel, text).click()
        assert blocker.args == [value]
    swap = next(a for a in panel.shortcut_actions() if a.shortcut().toString() == "X")
    with qtbot.waitSignal(panel.classChanged) as blocker:
        swap.trigger()
    assert blocker.args == [0]
    with qtbot.waitSignal(panel.classChanged) as blocker:
        swap.trigger()
    assert blocker.args == [255]
    panel.set_tool("rect")  # the rectangle makes its own trimap: no class to choose
    assert not _button(panel, "Unknown").isEnabled() and not swap.isEnabled()
    panel.set_tool("fill")
    assert _button(panel, "Unknown").isEnabled()
    with qtbot.assertNotEmitted(panel.classChanged):
        panel.set_class(128)
    assert panel.trimap_class() == 128 and _button(panel, "Unknown").isChecked()


def test_brush_slider_is_logarithmic_and_spin_box_agrees(qtbot):
    assert _slider_to_brush(0) == 1 and _slider_to_brush(1000) == BRUSH_MAX
    assert 30 <= _slider_to_brush(500) <= 33  # √1000: half the travel covers 1–32 px
    for size in (1, 2, 7, 40, 333, 1000):
        assert _slider_to_brush(_brush_to_slider(size)) == size
    panel = ToolOptionsPanel()
    qtbot.addWidget(panel)
    with qtbot.waitSignal(panel.brushSizeChanged) as blocker:
        panel._size_slider.setValue(_brush_to_slider(120))
    assert blocker.args == [120.0] and panel._size_spin.value() == 120
    with qtbot.waitSignal(panel.brushSizeChanged) as blocker:
        panel._size_spin.setValue(8)
    assert blocker.args == [8.0] and panel._size_slider.value() == _brush_to_slider(8)
    with qtbot.assertNotEmitted(panel.brushSizeChanged):
        panel.set_brush_size(2500)
    assert panel.brush_size() == 1000.0 and panel._size_slider.value() == 1000


def test_opacity_and_band_emit_live_and_auto_gives_none(qtbot):
    panel = ToolOptionsPanel()
    qtbot.addWidget(panel)
    with qtbot.waitSignal(panel.opacityChanged) as blocker:
        panel._opacity_slider.setValue(30)
    assert blocker.args == [pytest.approx(0.3)] and panel._opacity_spin.value() == 30

    panel.set_auto_band_width(24)
    assert panel.band_width() is None and panel._band_spin.value() == 24
    received = []
    panel.bandWidthChanged.connect(received.append)
    panel._band_slider.setSliderDown(True)  # a drag in progress: every step is emitted
    for px in (25, 30, 41):
        panel._band_slider.setValue(px)
    panel._band_slider.setSliderDown(False)
    assert received == [25, 30, 41]
    assert panel.band_width() == 41 and not panel._band_auto.isChecked()
    panel._band_auto.setChecked(True)
    assert received[-1] is None and panel._band_spin.value() == 24
    panel._band_auto.setChecked(False)
    assert received[-1] == 24
    received.clear()
    panel.set_band_width(None)
    panel.set_band_width(77)
    panel.set_opacity(0.9)
    assert received == [] and panel.band_width() == 77 and panel.opacity() == pytest.approx(0.9)


def test_trimap_buttons_emit_requests(qtbot):
    panel = ToolOptionsPanel()
    qtbot.addWidget(panel)
    from_alpha = _button(panel, "Trimap from alpha")
    assert not from_alpha.isEnabled()
    panel.set_alpha_available(True)
    for text, signal in (("Trimap from alpha", panel.trimapFromAlphaRequested), ("Invert", panel.invertRequested), ("Clear…", panel.clearRequested)):
        with qtbot.waitSignal(signal):
            _button(panel, text).click()
    assert "Ctrl+Shift+I" in _button(panel, "Invert").toolTip()


# ------------------------------------------------------------------------------------------ run panel


def test_run_buttons_busy_state_and_cancel(qtbot):
    panel = RunPanel()
    qtbot.addWidget(panel)
    preview, full, cancel = _button(panel, "Preview"), _button(panel, "Full resolution"), _button(panel, "Cancel")
    assert not cancel.isEnabled()
    with qtbot.waitSignal(panel.runRequested) as blocker:
        preview.click()
    assert blocker.args == [True]
    with qtbot.waitSignal(panel.runRequested) as blocker:
        full.click()
    assert blocker.args == [False]
    panel.set_busy(True)
    assert cancel.isEnabled() and not preview.isEnabled() and not full.isEnabled()
    panel.set_progress("backbone", 0.42, "backbone block 5/12: 23% of tokens to global attention")
    stage, fraction, message = panel.progress()
    assert stage == "Transformer" and fraction == pytest.approx(0.42) and "block 5/12" in message
    panel.set_progress("loading", None, "reading weights")
    assert panel.progress()[1] is None  # indeterminate
    with qtbot.waitSignal(panel.cancelRequested):
        cancel.click()
    panel.set_progress("cancelled", 0.0, "")
    panel.set_busy(False)
    assert not cancel.isEnabled() and preview.isEnabled() and panel.progress()[0] == "Cancelled"


def test_run_disabled_without_hints_explains_why(qtbot):
    panel = RunPanel()
    qtbot.addWidget(panel)
    preview = _button(panel, "Preview")
    panel.set_enabled_for_hints(False)
    assert not preview.isEnabled() and "Unknown" in preview.toolTip() and "Foreground" in preview.toolTip()
    with qtbot.assertNotEmitted(panel.runRequested):
        panel.shortcut_actions()[0].trigger()  # Ctrl+Return is disabled too
    panel.set_enabled_for_hints(False, "The trimap has no Foreground.")
    assert "no Foreground" in preview.toolTip()
    panel.set_enabled_for_hints(True)
    assert preview.isEnabled() and "no Foreground" not in preview.toolTip()


def test_limits_are_alternatives(qtbot):
    panel = RunPanel()
    qtbot.addWidget(panel)
    caps, budgets = [], []
    panel.capChanged.connect(caps.append)
    panel.budgetChanged.connect(budgets.append)
    assert panel.limits() == (None, None) and not panel._cap.isEnabled()
    panel._radio_cap.setChecked(True)
    assert caps == [4096] and budgets == [] and panel._cap.isEnabled()
    panel._cap.setValue(1000)
    assert caps == [4096, 1000]
    panel._radio_budget.setChecked(True)
    assert caps[-1] is None and budgets == [4096.0]
    panel._budget.setValue(2048)
    assert budgets[-1] == 2048.0 and panel.limits() == (None, 2048.0)
    panel._radio_none.setChecked(True)
    assert budgets[-1] is None and panel.limits() == (None, None)
    n_caps, n_budgets = len(caps), len(budgets)
    panel.set_cap(512)
    assert panel.limits() == (512, None)
    panel.set_budget(900)
    assert panel.limits() == (None, 900.0)
    panel.set_budget(None)
    assert panel.limits() == (None, None)
    assert (len(caps), len(budgets)) == (n_caps, n_budgets)  # setters are silent


def test_engine_and_auto_run(qtbot):
    panel = RunPanel()
    qtbot.addWidget(panel)
    with qtbot.waitSignal(panel.engineChanged) as blocker:
        panel._engine.setCurrentIndex(panel._engine.findData("closed-form"))
    assert blocker.args == ["closed-form"] and not panel._radio_cap.isEnabled()  # no tokens to cap
    with qtbot.waitSignal(panel.autoRunChanged) as blocker:
        panel._auto_run.click()
    assert blocker.args == [True]
    with qtbot.assertNotEmitted(panel.autoRunChanged), qtbot.assertNotEmitted(panel.engineChanged):
        panel.set_auto_run(False)
        panel.set_engine("mematte")
    assert not panel.auto_run() and panel._radio_cap.isEnabled()


# -------------------------------------------------------------------------------------- routing panel


def _session_result(totals=(600, 600, 600, 600), routed=(60, 150, 0, 600), heads=3):
    stats = [BlockRouting(block, k, n, 0.25 + i) for i, (block, k, n) in enumerate(zip((2, 5, 8, 11), routed, totals))]
    return SessionResult(alpha=np.zeros((8, 8), np.float32), size=(8, 8), full_size=(8, 8), is_preview=False,
                         engine="mematte", block_stats=stats), heads


def test_routing_table_from_live_maps_then_savings(qtbot):
    panel = RoutingPanel()
    qtbot.addWidget(panel)
    keep = np.zeros((20, 30), bool)
    keep[:5, :12] = True  # 60 of 600
    panel.set_block_live(0, keep)
    assert panel.cell_text("tokens", 0) == "60" and panel.cell_text("total", 0) == "600"
    assert panel.cell_text("share", 0) == "10.0%" and panel.cell_text("time", 0) == "…"
    assert panel.cell_text("tokens", 1) == "—"
    with pytest.raises(ValueError):
        panel.set_block_live(4, keep)

    result, heads = _session_result()
    rows = global_attention_savings(result, heads, embed_dim=96)
    panel.set_savings(rows)
    assert panel.cell_text("tokens", 1) == "150" and panel.cell_text("share", 1) == "25.0%"
    assert panel.cell_text("time", 1) == "1.25 s" and panel.cell_text("time", 0) == "250 ms"
    assert panel.cell_text("memory_full", 0) == format_megabytes(heads * 600 * 600 * 4 / 2**20)
    # what the run held (q, k, v and output of the 150 routed tokens, fp32), not a k×k matrix
    assert panel.cell_text("memory_attention", 1) == format_megabytes(4 * 150 * 96 * 4 / 2**20)
    assert panel.cell_text("compute", 1) == "6.2%"  # (150/600)² = 6.25 %
    assert panel.cell_text("compute", 2) == "0.0%" and panel.cell_text("compute", 3) == "100.0%"
    expected = (60**2 + 150**2 + 600**2) / (4 * 600**2)
    assert f"{expected:.1%}" in panel.summary()
    panel.clear()
    assert panel.cell_text("tokens", 1) == "—" and panel.summary() == ""


def test_routing_display_choice_legend_and_grid(qtbot):
    panel = RoutingPanel()
    qtbot.addWidget(panel)
    assert panel.display() == ("density", 0, False)
    with qtbot.waitSignal(panel.displayChanged) as blocker:
        panel._display.setCurrentIndex(2)
    assert blocker.args == ["block", 1, False]
    assert panel.legend().texts()[3] is True  # two swatches for a hard map
    with qtbot.waitSignal(panel.displayChanged) as blocker:
        panel._soft.click()
    assert blocker.args == ["block", 1, True] and panel.legend().texts()[3] is False
    with qtbot.waitSignal(panel.gridToggled) as blocker:
        panel._grid.click()
    assert blocker.args == [True]
    with qtbot.assertNotEmitted(panel.displayChanged), qtbot.assertNotEmitted(panel.gridToggled):
        panel.set_display("density", soft=False)
        panel.set_grid(False)
    assert panel.display() == ("density", 0, False) and "all 4" in panel.legend().texts()[2]
    panel.set_num_blocks(2)
    assert panel._display.count() == 3
    with pytest.raises(ValueError):
        panel.set_display("block", 2)
    with pytest.raises(ValueError):
        panel.set_colormap(np.zeros((10, 3), np.uint8))


def test_routing_hover_scores(qtbot):
    panel = RoutingPanel()
    qtbot.addWidget(panel)
    panel.set_hover(3, 7, [0.91, 0.2, 0.55, 0.04], [True, False, True, False])
    assert [panel.cell_text("hover", i) for i in range(4)] == ["0.91 ●", "0.20 ○", "0.55 ●", "0.04 ○"]
    assert "(3, 7)" in panel.hover_text() and "2 of 4" in panel.hover_text()
    panel.set_hover(0, 0, None, [True, False])  # live: two blocks decided, no probabilities kept
    assert [panel.cell_text("hover", i) for i in range(4)] == ["global", "local", "—", "—"]
    panel.set_hover(-1, -1, None, None)
    assert panel.hover_text() == "" and panel.cell_text("hover", 0) == "—"


# ------------------------------------------------------------------------------------- export dialog


def _photo(tmp_path, name="cat.jpg"):
    path = tmp_path / name
    path.write_bytes(b"not read by the dialog")
    return path


def test_export_dialog_default_names_and_plan(qtbot, tmp_path, settings):
    photo = _photo(tmp_path)
    dialog = ExportDialog(photo, (400, 600), (400, 600), routing_blocks=4, settings=settings)
    qtbot.addWidget(dialog)
    plan = dialog.result()
    assert plan.cutout == tmp_path / "cat_cutout.png" and plan.decontaminate and not plan.overwrite
    assert plan.alpha is None and plan.trimap is None and plan.routing is None  # only the cut-out by default
    assert not dialog.is_preview() and "600 × 400" in dialog._size.text()
    dialog.set_output("alpha", True)
    dialog.set_alpha_bits(16)
    dialog.set_output("routing", True)
    dialog._routing_block.setCurrentIndex(2)
    dialog.set_base_name("portrait")
    plan = dialog.result()
    assert plan.alpha == tmp_path / "portrait_alpha.png" and plan.alpha_bits == 16
    assert plan.routing == tmp_path / "portrait_routing.png" and plan.routing_block == 1
    assert dialog._names["trimap"].text() == "portrait_trimap.png"


def test_export_dialog_refuses_bad_names_and_remembers_choices(qtbot, tmp_path, settings):
    photo = _photo(tmp_path)
    dialog = ExportDialog(photo, (40, 60), (40, 60), settings=settings)
    qtbot.addWidget(dialog)
    export_button = dialog._export_button
    dialog.set_base_name("a/b")
    assert not export_button.isEnabled() and "cannot contain" in dialog._problem.text()
    dialog.set_base_name("")
    assert not export_button.isEnabled()
    dialog.set_base_name("ok")
    dialog.set_output("cutout", False)
    assert not export_button.isEnabled() and "at least one" in dialog._problem.text()
    dialog.set_output("trimap", True)
    dialog.set_folder(tmp_path / "new" / "folder")
    assert export_button.isEnabled() and "will be created" in dialog._existing_text.text()
    dialog.set_decontaminate(False)
    with qtbot.waitSignal(dialog.accepted):
        export_button.click()
    again = ExportDialog(photo, (40, 60), (40, 60), settings=settings)
    qtbot.addWidget(again)
    assert again.chosen_outputs() == ["trimap"] and not again.result().decontaminate


def test_export_dialog_asks_before_overwriting(qtbot, tmp_path, settings, monkeypatch):
    photo = _photo(tmp_path)
    (tmp_path / "cat_cutout.png").write_bytes(b"old")
    questions = []
    answer = QMessageBox.StandardButton.Cancel

    def question(parent, title, text, *args):
        questions.append(text)
        return answer

    monkeypatch.setattr(QMessageBox, "question", question)
    dialog = ExportDialog(photo, (40, 60), (40, 60), settings=settings)
    qtbot.addWidget(dialog)
    assert dialog.existing_files() == [tmp_path / "cat_cutout.png"]
    assert dialog._existing_box.isVisibleTo(dialog) and "cat_cutout.png" in dialog._existing_text.text()
    with qtbot.assertNotEmitted(dialog.accepted):
        dialog._export_button.click()
    assert len(questions) == 1 and "cat_cutout.png" in questions[0] and not dialog.result().overwrite
    answer = QMessageBox.StandardButton.Yes
    with qtbot.waitSignal(dialog.accepted):
        dialog._export_button.click()
    assert dialog.result().overwrite and len(questions) == 2
    assert (tmp_path / "cat_cutout.png").read_bytes() == b"old"  # the dialog only decides

    questions.clear()
    fresh = ExportDialog(photo, (40, 60), (40, 60), settings=settings)
    qtbot.addWidget(fresh)
    fresh.set_base_name("other")
    with qtbot.waitSignal(fresh.accepted):
        fresh._export_button.click()
    assert questions == [] and not fresh.result().overwrite  # nothing to replace, nothing asked


def test_export_dialog_preview_offers_full_resolution_first(qtbot, tmp_path, settings):
    photo = _photo(tmp_path)
    dialog = ExportDialog(photo, (4000, 6000), (683, 1024), routing_blocks=0, settings=settings)
    qtbot.addWidget(dialog)
    assert dialog.is_preview() and dialog._preview_box.isVisibleTo(dialog)
    assert "1,024 × 683" in dialog._preview_text.text() and "6,000 × 4,000" in dialog._size.text()
    assert not dialog._checks["routing"].isEnabled()
    with qtbot.waitSignal(dialog.accepted):
        dialog._full_button.click()
    assert dialog.full_resolution_first() and dialog.result().cutout == tmp_path / "cat_cutout.png"

    no_matte = ExportDialog(photo, (40, 60), None, settings=settings)
    qtbot.addWidget(no_matte)
    assert no_matte.chosen_outputs() == ["trimap"] and not no_matte._checks["cutout"].isEnabled()
    assert not no_matte._preview_box.isVisibleTo(no_matte)


# -------------------------------------------------------------------------------------- model dialog


def _safetensors_file(path):
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(2, 2)}, str(path))
    return path


def test_check_checkpoint_file(tmp_path):
    good = _safetensors_file(tmp_path / "model.safetensors")
    assert check_checkpoint_file(good) is None
    pth = tmp_path / "model.pth"
    torch.save({"w": torch.zeros(1)}, pth)
    assert check_checkpoint_file(pth) is None
    (tmp_path / "empty.pth").write_bytes(b"")
    assert "empty" in check_checkpoint_file(tmp_path / "empty.pth")
    (tmp_path / "notes.txt").write_bytes(b"hello")
    assert "unknown kind" in check_checkpoint_file(tmp_path / "notes.txt")
    (tmp_path / "fake.pth").write_bytes(b"<html>404 not found</html>")
    assert "not a PyTorch" in check_checkpoint_file(tmp_path / "fake.pth")
    assert "no such file" in check_checkpoint_file(tmp_path / "missing.pth")
    assert "folder" in check_checkpoint_file(tmp_path)


def test_model_dialog_recent_validation_and_remembered_choice(qtbot, tmp_path, _settings_in_temp):
    good = _safetensors_file(tmp_path / "mine.safetensors")
    older = _safetensors_file(tmp_path / "older.safetensors")
    remember_checkpoint(older)
    remember_checkpoint(good)
    dialog = ModelDialog()  # the default QSettings("matteapp", "matteapp"), redirected to a temp folder
    qtbot.addWidget(dialog)
    assert dialog.recent_paths() == [str(good.resolve()), str(older.resolve())]
    assert "cpu" in dialog.devices() and dialog.devices()[0] == "auto"
    assert ("cuda" in dialog.devices()) == torch.cuda.is_available()
    ok = dialog._buttons.button(dialog._buttons.StandardButton.Ok)
    if bundled_model_path() is None:
        assert not dialog._bundled.isEnabled() and dialog._file.isChecked()

    (tmp_path / "broken.pth").write_bytes(b"")
    dialog.set_source(str(tmp_path / "broken.pth"))
    assert not ok.isEnabled() and "empty" in dialog._status.text()
    with qtbot.assertNotEmitted(dialog.accepted):
        dialog.accept()
    dialog.set_source(str(good))
    assert ok.isEnabled() and "mine.safetensors" in dialog._status.text()
    dialog.set_device("cpu")
    dialog.set_precision("bf16")
    with pytest.raises(ValueError):
        dialog.set_precision("int4")
    assert dialog.result() == ModelChoice(str(good), "cpu", "bf16")
    with qtbot.waitSignal(dialog.accepted):
        ok.click()

    assert list((_settings_in_temp / "matteapp").glob("matteapp.*"))  # .conf on Unix, .ini where forced
    again = ModelDialog()
    qtbot.addWidget(again)
    assert again.result() == ModelChoice(str(good), "cpu", "bf16")


def test_model_dialog_typing_a_path_selects_the_file(qtbot, tmp_path, settings):
    good = _safetensors_file(tmp_path / "typed.safetensors")
    dialog = ModelDialog(settings=settings)
    qtbot.addWidget(dialog)
    dialog._path.setEditText("")
    if bundled_model_path() is not None:
        dialog._bundled.setChecked(True)
    dialog._path.lineEdit().setText(str(good))
    assert dialog._file.isChecked() and dialog.problem() is None
    assert dialog.result().source == str(good)


# ---------------------------------------------------------------------------------------- export plan


@pytest.fixture
def tiny():
    h, w = 40, 56
    rng = np.random.default_rng(5)
    rgb = (rng.random((h, w, 3)) * 255).astype(np.uint8)
    yy, xx = np.mgrid[0:h, 0:w]
    alpha = np.clip((xx - 12) / 30.0, 0, 1).astype(np.float32)  # a soft ramp: 16 bits have something to show
    trimap = np.where(alpha <= 0, 0, np.where(alpha >= 1, 255, 128)).astype(np.uint8)
    grid = (-(-(h + 24) // 16), -(-(w + 8) // 16))  # the padded input's token grid (64×64 px → 4×4)
    routing = [np.arange(grid[0] * grid[1]).reshape(grid) % (k + 2) == 0 for k in range(4)]
    return rgb, alpha, trimap, routing


def test_default_names():
    paths = default_paths("/photos", "cat")
    assert {k: v.name for k, v in paths.items()} == {
        "cutout": "cat_cutout.png", "alpha": "cat_alpha.png", "trimap": "cat_trimap.png", "routing": "cat_routing.png"
    }
    plan = default_plan("/photos/cat.jpeg")
    assert plan.outputs() == {"cutout": paths["cutout"], "alpha": paths["alpha"]} and plan.alpha_bits == 8
    with pytest.raises(ValueError):
        ExportPlan(alpha="/x.png", alpha_bits=12)


def test_run_export_writes_16_bit_alpha_and_every_output(tmp_path, tiny):
    rgb, alpha, trimap, routing = tiny
    paths = default_paths(tmp_path, "tiny")
    plan = ExportPlan(**paths, alpha_bits=16, routing_block=None)
    events = []
    written = run_export(plan, rgb, alpha, trimap, routing, None, (300, 300), progress=events.append)
    assert written == list(paths.values())

    with Image.open(paths["alpha"]) as im:
        assert im.mode == "I;16" and im.size == (56, 40)
        back = np.asarray(im, dtype=np.uint16)
    expected = np.rint(alpha.astype(np.float64) * 65535).astype(np.uint16)
    np.testing.assert_array_equal(back, expected)
    assert np.any(back % 257 != 0)  # levels an 8-bit matte cannot hold

    with Image.open(paths["cutout"]) as im:
        assert im.mode == "RGBA"
        rgba = np.asarray(im)
        assert im.info["dpi"] == pytest.approx((300, 300), abs=0.01)
    np.testing.assert_array_equal(rgba[..., 3], export.alpha_to_uint8(alpha))
    opaque = alpha >= 1
    np.testing.assert_array_equal(rgba[opaque, :3], rgb[opaque])
    soft = (alpha > 0.05) & (alpha < 0.95)
    assert np.abs(rgba[soft, :3].astype(int) - rgb[soft]).mean() > 1  # decontaminated, not the photo's colours
    with Image.open(paths["trimap"]) as im:
        np.testing.assert_array_equal(np.asarray(im), trimap)
    with Image.open(paths["routing"]) as im:
        assert im.width >= 56 and im.height > 40  # the heatmap and its legend strip
    fractions = [e.fraction for e in events]
    assert fractions == sorted(fractions) and events[-1].stage == "done"
    # decontamination reports each tile it finishes, so the bar moves during it rather than after
    tiles = [e.message for e in events if e.message.startswith("colour decontamination, tile")]
    assert tiles and tiles[-1].endswith(f"tile {len(tiles)} of {len(tiles)}")


def test_run_export_writes_the_heatmap_alone_or_over_the_photo(tmp_path, tiny):
    rgb, alpha, trimap, routing = tiny
    alone, over = tmp_path / "alone.png", tmp_path / "over.png"
    run_export(ExportPlan(routing=alone), rgb, alpha, trimap, routing, None, None)
    run_export(ExportPlan(routing=over, routing_over_photo=True), rgb, alpha, trimap, routing, None, None)
    heat_alone, heat_over = (np.asarray(Image.open(p).convert("RGB")) for p in (alone, over))
    np.testing.assert_array_equal(heat_alone[:40, :56], export.routing_heatmap(routing, size=(40, 56), legend=False))
    np.testing.assert_array_equal(heat_over[:40, :56], export.routing_heatmap(routing, rgb, legend=False))


def test_run_export_never_replaces_silently(tmp_path, tiny):
    rgb, alpha, trimap, routing = tiny
    paths = default_paths(tmp_path, "tiny")
    paths["alpha"].write_bytes(b"keep me")
    plan = ExportPlan(cutout=paths["cutout"], alpha=paths["alpha"], decontaminate=False)
    with pytest.raises(export.OutputExistsError):
        run_export(plan, rgb, alpha, trimap, routing, None, None)
    assert paths["alpha"].read_bytes() == b"keep me" and not paths["cutout"].exists()  # checked before any write
    plan.overwrite = True
    run_export(plan, rgb, alpha, trimap, routing, None, None)
    with Image.open(paths["alpha"]) as im:
        np.testing.assert_array_equal(np.asarray(im), export.alpha_to_uint8(alpha))
    with Image.open(paths["cutout"]) as im:
        np.testing.assert_array_equal(np.asarray(im)[alpha > 0, :3], rgb[alpha > 0])  # no decontamination


def test_run_export_of_a_preview_writes_the_preview_size(tmp_path, tiny):
    rgb, alpha, trimap, routing = tiny
    big_rgb = np.repeat(np.repeat(rgb, 2, axis=0), 2, axis=1)
    big_trimap = np.repeat(np.repeat(trimap, 2, axis=0), 2, axis=1)
    paths = default_paths(tmp_path, "preview")
    plan = ExportPlan(**paths, decontaminate=False)
    run_export(plan, big_rgb, alpha, big_trimap, routing, None, 300)
    for path in paths.values():
        with Image.open(path) as im:
            assert im.size[0] >= 56 and (im.size == (56, 40) or path == paths["routing"])
    with Image.open(paths["trimap"]) as im:
        np.testing.assert_array_equal(np.asarray(im), trimap)
        assert im.info["dpi"] == pytest.approx((150, 150), abs=0.05)  # same printed size as the photo


def test_run_export_cancel_and_bad_requests(tmp_path, tiny):
    rgb, alpha, trimap, routing = tiny
    paths = default_paths(tmp_path, "tiny")
    with pytest.raises(Cancelled):
        run_export(ExportPlan(**paths), rgb, alpha, trimap, routing, None, None, cancel=lambda: True)
    assert not any(p.exists() for p in paths.values())  # cancelled during decontamination, before writing
    with pytest.raises(ValueError, match="routing"):
        run_export(ExportPlan(routing=paths["routing"]), rgb, alpha, trimap, [], None, None)
    with pytest.raises(ValueError, match="trimap"):
        run_export(ExportPlan(trimap=paths["trimap"]), rgb, alpha, None, routing, None, None)
    with pytest.raises(ValueError, match="nothing"):
        run_export(ExportPlan(), rgb, alpha, trimap, routing, None, None)


def test_dialog_plan_runs(qtbot, tmp_path, settings, tiny):
    rgb, alpha, trimap, routing = tiny
    photo = _photo(tmp_path, "shot.png")
    dialog = ExportDialog(photo, rgb.shape[:2], alpha.shape, routing_blocks=len(routing), settings=settings)
    qtbot.addWidget(dialog)
    dialog.set_output("alpha", True)
    dialog.set_output("trimap", True)
    dialog.set_decontaminate(False)
    with qtbot.waitSignal(dialog.accepted):
        dialog._export_button.click()
    written = run_export(dialog.result(), rgb, alpha, trimap, routing, None, None)
    assert [p.name for p in written] == ["shot_cutout.png", "shot_alpha.png", "shot_trimap.png"]
    assert all(os.path.getsize(p) > 0 for p in written)
