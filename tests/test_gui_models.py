"""Model ▸ Get Models… and the default model in the window, against the local web server of
``model_server`` and a test catalog with one small MEMatte (D=64, random weights, official format).

Each test waits on signals; the server can hold a transfer half-way (``Resource.hold``) so that a
cancel certainly lands while the download runs.
"""

from __future__ import annotations

import json
import threading

import pytest
import torch

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from model_server import Resource, leftovers, start_site, state, url_source  # noqa: E402
from PySide6.QtWidgets import QMessageBox  # noqa: E402

from matteapp.gui.main_window import MainWindow  # noqa: E402
from matteapp.gui.model_jobs import ModelJobs  # noqa: E402
from matteapp.gui.models_dialog import GetModelsDialog  # noqa: E402
from matteapp.gui.window.models import HINT_DISMISSED  # noqa: E402
from matteapp.gui.worker import MatteController  # noqa: E402
from matteapp.model import MattingConfig, build_model  # noqa: E402
from matteapp.model import download as download_module  # noqa: E402
from matteapp.model import predictor as predictor_module  # noqa: E402
from matteapp.model.catalog import installed_path, models_dir, pinned_model, set_pinned_model  # noqa: E402
from matteapp.model.checkpoint import save_network  # noqa: E402
from matteapp.model.download import install_model_file  # noqa: E402
from matteapp.model.predictor import MattePredictor  # noqa: E402

pytestmark = pytest.mark.gui

WAIT_MS = 120_000  # a hang guard, not a speed limit: the CPU is shared with other jobs
NAME = "tiny-d64"
TINY = {"kind": "mematte", "embed_dim": 64, "depth": 12, "num_heads": 2, "routed": True}


@pytest.fixture(scope="module")
def tiny_bytes(tmp_path_factory) -> bytes:
    """An official-format checkpoint ({"model": state dict}) of the catalog entry's architecture."""
    torch.manual_seed(0)
    net = build_model(MattingConfig(name="tiny", embed_dim=64, num_heads=2))
    path = tmp_path_factory.mktemp("tiny") / "tiny.pth"
    torch.save({"model": net.state_dict()}, path)
    return path.read_bytes()


@pytest.fixture
def site(monkeypatch):
    # small chunks: the progress bar moves many times even for a small file
    monkeypatch.setattr(download_module, "CHUNK", 64 << 10)
    s = start_site(monkeypatch)
    yield s
    s.close()


@pytest.fixture
def bundled(tmp_path, monkeypatch):
    """A bundled model of our own (the real one may be absent from a checkout), so that the default is known."""
    folder = tmp_path / "bundled"
    folder.mkdir()
    torch.manual_seed(3)
    save_network(build_model(MattingConfig(name="mematte-tiny", embed_dim=64, num_heads=2)), folder / "mematte-tiny.safetensors")
    monkeypatch.setattr(predictor_module, "BUNDLED_MODEL_DIR", folder)
    return folder / "mematte-tiny.safetensors"


def write_catalog(tmp_path, monkeypatch, sources, research_only=True):
    data = {
        "format": 1,
        "default_order": [NAME],
        "datasets": {"research-set": {"title": "Research Set", "licence": "non-commercial research only", "research_only": research_only}},
        "models": {
            NAME: {
                "description": "a small MEMatte served locally",
                "architecture": TINY,
                "licence": {"code": "MIT", "weights": "MIT"},
                "training_data": ["research-set"],
                "scores": {"Test": {"SAD": 1.0, "MSE": 0.001}},
                "sources": sources,
            }
        },
    }
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(data))
    monkeypatch.setenv("MATTEAPP_MODEL_CATALOG", str(path))
    return path


@pytest.fixture
def jobs():
    j = ModelJobs()
    yield j
    j.shutdown()


def make_dialog(qtbot, jobs) -> GetModelsDialog:
    dialog = GetModelsDialog(jobs)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.select(NAME)
    return dialog


def answer(qtbot, dialog, accept: bool) -> str:
    """Click the open confirmation's accept (or Cancel) button; returns its text."""
    qtbot.waitUntil(lambda: dialog.question is not None and dialog.question.isVisible(), timeout=WAIT_MS)
    box = dialog.question
    text = box.text()
    if accept:
        button = next(b for b in box.buttons() if box.buttonRole(b) == QMessageBox.ButtonRole.AcceptRole)
    else:
        button = box.button(QMessageBox.StandardButton.Cancel)
    button.click()
    return text


def download(qtbot, dialog, jobs, *, licence: bool):
    """Click Download (answering the licence question when one is expected) and wait for the end."""
    ended = []

    def record(*args):
        ended.append(args)

    signals = (jobs.finished, jobs.failed, jobs.cancelled)
    for signal in signals:
        signal.connect(record)
    try:
        dialog.download_button.click()
        if licence:
            answer(qtbot, dialog, accept=True)
        else:
            assert dialog.question is None
        assert jobs.busy or ended
        qtbot.waitUntil(lambda: bool(ended), timeout=WAIT_MS)
    finally:
        for signal in signals:
            signal.disconnect(record)


@pytest.fixture
def window(qtbot, gui_settings, bundled):
    torch.manual_seed(1)
    predictor = MattePredictor(build_model(MattingConfig(name="loaded-d64", embed_dim=64, num_heads=2)), "cpu", "fp32")
    controller = MatteController()
    with qtbot.waitSignal(controller.modelReady, timeout=WAIT_MS):
        controller.load_model("a model loaded by the test", loader=lambda: predictor)
    w = MainWindow(settings=gui_settings, controller=controller, load_model=False)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.files.ask_unsaved = lambda reason: "discard"
    w.close()
    controller.shutdown()
    w.deleteLater()


# ------------------------------------------------------------------------------------------- download


def test_a_download_shows_its_progress_to_100_percent_and_the_model_installed(qtbot, site, tmp_path, monkeypatch, tiny_bytes, jobs):
    site.routes["/tiny.pth"] = Resource(tiny_bytes)
    write_catalog(tmp_path, monkeypatch, [url_source(site.url("/tiny.pth"))])
    dialog = make_dialog(qtbot, jobs)
    assert dialog.names() == [NAME, "bundled"] or dialog.names() == [NAME]
    assert dialog.state_text(NAME) == "Not installed" and dialog.download_button.isEnabled()
    assert not dialog.use_button.isEnabled() and not dialog.remove_button.isEnabled()
    seen, changed = [], []
    jobs.progress.connect(lambda name, done, total: seen.append((done, total, dialog.progress_bar.value())))
    dialog.modelsChanged.connect(lambda: changed.append(True))

    download(qtbot, dialog, jobs, licence=True)

    assert not dialog.message_is_error, dialog.message_label.text()
    assert seen and seen[-1][:2] == (len(tiny_bytes), len(tiny_bytes)) and seen[-1][2] == 100
    assert [d for d, _, _ in seen] == sorted(d for d, _, _ in seen)
    assert dialog.progress_bar.value() == 100 and dialog.progress_bar.isVisible()
    assert installed_path(NAME).read_bytes() == tiny_bytes and leftovers() == []
    assert dialog.state_text(NAME) == "Installed" and dialog.use_button.isEnabled() and dialog.remove_button.isEnabled()
    assert not dialog.download_button.isEnabled() and changed == [True]
    assert f"{NAME} is installed" in dialog.message_label.text()
    assert "research-set" in state()["accepted_licences"]


def test_the_research_only_licence_is_asked_once(qtbot, site, tmp_path, monkeypatch, tiny_bytes, jobs):
    site.routes["/tiny.pth"] = Resource(tiny_bytes)
    write_catalog(tmp_path, monkeypatch, [url_source(site.url("/tiny.pth"))])
    dialog = make_dialog(qtbot, jobs)

    dialog.download_button.click()
    text = answer(qtbot, dialog, accept=False)  # declined: nothing is fetched or recorded
    assert "Research Set: non-commercial research only" in text and NAME in text
    assert site.log == [] and not jobs.busy and state() == {}

    download(qtbot, dialog, jobs, licence=True)
    assert installed_path(NAME) is not None

    dialog.remove_button.click()
    answer(qtbot, dialog, accept=True)
    assert installed_path(NAME) is None
    download(qtbot, dialog, jobs, licence=False)  # remembered: no second question
    assert installed_path(NAME) is not None and len(site.gets()) == 2

    # a new session (another dialog) reads the answer from the state file
    dialog.remove("tiny-d64")
    answer(qtbot, dialog, accept=True)
    again = make_dialog(qtbot, jobs)
    download(qtbot, again, jobs, licence=False)
    assert installed_path(NAME) is not None


def test_cancel_mid_download_leaves_nothing_and_keeps_the_model(qtbot, site, tmp_path, monkeypatch, tiny_bytes, window):
    hold = threading.Event()
    site.routes["/tiny.pth"] = Resource(tiny_bytes, hold=hold, hold_after=len(tiny_bytes) // 2)
    write_catalog(tmp_path, monkeypatch, [url_source(site.url("/tiny.pth"))])
    label_before = window.model_label.text()
    info_before = window.controller.model_info
    dialog = window.models.open_dialog(NAME)
    jobs = window.models.jobs

    with qtbot.waitSignal(jobs.progress, timeout=WAIT_MS, check_params_cb=lambda name, done, total: done > 0):
        dialog.download_button.click()
        answer(qtbot, dialog, accept=True)
    assert dialog.cancel_button.isEnabled() and dialog.state_text(NAME).startswith("Downloading")
    assert list((models_dir() / ".downloads").glob(f"{NAME}@*.part"))  # it is being written now
    with qtbot.waitSignal(jobs.cancelled, timeout=WAIT_MS):
        dialog.cancel_button.click()
        assert dialog.state_text(NAME) == "Cancelling…" and not dialog.cancel_button.isEnabled()
        hold.set()  # the next chunk arrives, the core sees the cancel between chunks

    assert leftovers() == [] and installed_path(NAME) is None and state() == {}
    assert dialog.state_text(NAME) == "Not installed" and not dialog.message_is_error
    assert "Cancelled" in dialog.message_label.text() and not dialog.progress_bar.isVisible()
    assert window.controller.model_info is info_before and window.model_label.text() == label_before
    assert pinned_model() == (None, "")


@pytest.mark.parametrize(
    "route, expected",
    [
        (None, "not found (HTTP 404)"),
        (Resource(b"<!DOCTYPE html><html><head><title>Quota exceeded</title></head><body>Too many users</body></html>", content_type="text/html"), "quota"),
    ],
    ids=["404", "web page"],
)
def test_a_failing_source_shows_one_error_line(qtbot, site, tmp_path, monkeypatch, jobs, route, expected):
    if route is not None:
        site.routes["/tiny.pth"] = route
    write_catalog(tmp_path, monkeypatch, [url_source(site.url("/tiny.pth"))], research_only=False)
    dialog = make_dialog(qtbot, jobs)
    failures = []
    jobs.failed.connect(lambda name, message: failures.append(message))
    download(qtbot, dialog, jobs, licence=False)

    line = dialog.message_label.text()
    assert failures == [line] and dialog.message_is_error and "\n" not in line
    assert expected in line and "Install from File…" in line and "matteapp models" not in line
    assert "matteapp models install" in dialog.message_label.toolTip()  # the full text, for the curious
    assert leftovers() == [] and installed_path(NAME) is None and state() == {}
    assert dialog.state_text(NAME) == "Not installed" and dialog.download_button.isEnabled()


# ------------------------------------------------------------------------------ install, remove, use


def test_install_from_file_then_remove(qtbot, tmp_path, monkeypatch, tiny_bytes, jobs):
    write_catalog(tmp_path, monkeypatch, [url_source("http://127.0.0.1:9/never-fetched.pth")], research_only=False)
    dialog = make_dialog(qtbot, jobs)
    other = tmp_path / "other.pth"
    torch.save({"model": build_model(MattingConfig(name="o", embed_dim=64, num_heads=2, routed=False, global_rel_pos_size=32)).state_dict()}, other)
    with qtbot.waitSignal(jobs.failed, timeout=WAIT_MS):
        dialog.install_from_file(other)
    assert dialog.message_is_error and "holds a different model" in dialog.message_label.text()
    assert installed_path(NAME) is None and leftovers() == []

    fetched = tmp_path / "fetched-in-a-browser.pth"
    fetched.write_bytes(tiny_bytes)
    with qtbot.waitSignal(jobs.finished, timeout=WAIT_MS):
        dialog.install_from_file(fetched)
    assert installed_path(NAME).read_bytes() == tiny_bytes and dialog.state_text(NAME) == "Installed"

    set_pinned_model(NAME)
    removed = []
    dialog.removed.connect(removed.append)
    dialog.remove_button.click()
    text = answer(qtbot, dialog, accept=True)
    assert f"Delete {NAME}" in text
    assert installed_path(NAME) is None and leftovers() == [] and removed == [str(models_dir() / f"{NAME}.pth")]
    assert pinned_model() == (None, "")  # a pin on a deleted model is dropped with it
    assert dialog.state_text(NAME) == "Not installed" and not dialog.remove_button.isEnabled()


def test_use_pins_the_model_and_loads_it(qtbot, tmp_path, monkeypatch, tiny_bytes, window, gui_settings, bundled):
    write_catalog(tmp_path, monkeypatch, [url_source("http://127.0.0.1:9/never-fetched.pth")], research_only=False)
    fetched = tmp_path / "tiny.pth"
    fetched.write_bytes(tiny_bytes)
    install_model_file(NAME, fetched)
    gui_settings.setValue("model/source", str(bundled))  # a file chosen earlier in Model & Device
    dialog = window.models.open_dialog(NAME)
    assert dialog.state_text(NAME) == "Installed" and dialog.use_button.isEnabled()

    with qtbot.waitSignal(window.controller.modelReady, timeout=WAIT_MS) as ready:
        dialog.use_button.click()
    assert ready.args[0].source == str(installed_path(NAME)) and ready.args[0].name == NAME
    assert pinned_model()[0] == NAME and gui_settings.value("model/source") == ""
    assert window.model_label.text().startswith(f"{NAME} (pinned) · MEMatte")
    engines = window.run_panel._engine
    assert engines.itemText(engines.findData("mematte")) == f"MEMatte — {NAME} (pinned)"
    assert dialog.state_text(NAME) == "Installed · in use"
    assert f"Default model: {NAME} (pinned)" in dialog.default_label.text() and dialog.unpin_button.isVisible()

    # removing the model that runs loads the next default: the bundled one
    with qtbot.waitSignal(window.controller.modelReady, timeout=WAIT_MS) as ready:
        dialog.remove(NAME)
        answer(qtbot, dialog, accept=True)
    assert ready.args[0].source == str(bundled) and window.model_label.text().startswith("mematte-tiny (bundled) · ")
    assert pinned_model() == (None, "") and installed_path(NAME) is None


def test_the_window_starts_with_the_best_installed_model_and_says_why(qtbot, tmp_path, monkeypatch, tiny_bytes, gui_settings, bundled):
    write_catalog(tmp_path, monkeypatch, [url_source("http://127.0.0.1:9/never-fetched.pth")], research_only=False)
    controller = MatteController()
    w = MainWindow(settings=gui_settings, controller=controller, load_model=False)
    try:
        with qtbot.waitSignal(controller.modelReady, timeout=WAIT_MS):
            w.running.load_model_from_settings()
        assert w.model_label.text().startswith("mematte-tiny (bundled) · ")
        assert "no official model is installed" in w.model_label.toolTip()

        fetched = tmp_path / "tiny.pth"
        fetched.write_bytes(tiny_bytes)
        install_model_file(NAME, fetched)
        with qtbot.waitSignal(controller.modelReady, timeout=WAIT_MS) as ready:
            w.running.load_model_from_settings()
        assert ready.args[0].name == NAME and w.model_label.text().startswith(f"{NAME} (best installed) · ")
    finally:
        w.close()
        controller.shutdown()
        w.deleteLater()


# ------------------------------------------------------------------------------------------- the hint


def test_the_hint_offers_the_first_official_model_until_dismissed(qtbot, window, gui_settings):
    # the built-in catalog, only the (test's) bundled model installed
    hint = window.model_hint
    assert hint.isVisible()
    text = hint.label.text()
    assert "mematte-s-realworld" in text and "MB" in text and "non-commercial" in text
    assert hint.never_button.isVisible() and not window.models.jobs.busy  # an offer, not a download

    hint.action_button.click()
    dialog = window.models.dialog
    assert dialog is not None and dialog.isVisible() and dialog.selected() == "mematte-s-realworld"
    assert not dialog.isModal() and hint.isVisible()
    dialog.close()

    hint.never_button.click()
    assert not hint.isVisible() and gui_settings.value(HINT_DISMISSED, type=bool)
    other = MainWindow(settings=gui_settings, controller=MatteController(), load_model=False)
    try:
        other.show()
        assert not other.model_hint.isVisible()
    finally:
        other.close()
        other.controller.shutdown()
        other.deleteLater()


def test_no_hint_once_an_official_model_is_installed(qtbot, tmp_path, monkeypatch, tiny_bytes, gui_settings, bundled):
    write_catalog(tmp_path, monkeypatch, [url_source("http://127.0.0.1:9/never-fetched.pth")], research_only=False)
    w = MainWindow(settings=gui_settings, controller=MatteController(), load_model=False)
    try:
        w.show()
        assert w.model_hint.isVisible() and NAME in w.model_hint.label.text()
        fetched = tmp_path / "tiny.pth"
        fetched.write_bytes(tiny_bytes)
        dialog = w.models.open_dialog(NAME)
        with qtbot.waitSignal(w.models.jobs.finished, timeout=WAIT_MS):
            dialog.install_from_file(fetched)
        assert not w.model_hint.isVisible()  # the dialog's install put it away
    finally:
        w.close()
        w.controller.shutdown()
        w.deleteLater()
