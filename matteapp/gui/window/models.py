"""Getting official models from inside the application: Model ▸ Get Models…, the hint that offers one
while only the bundled model is installed, and putting a model to use."""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtWidgets import QMainWindow

from matteapp.gui.model_choice import default_model, size_text
from matteapp.gui.model_jobs import ModelJobs
from matteapp.gui.models_dialog import GetModelsDialog
from matteapp.gui.widgets.model_hint import HintBar
from matteapp.gui.window.common import STATUS_MS, Menus, Messages, make_action
from matteapp.gui.worker import MatteController, ModelInfo
from matteapp.model.catalog import CatalogEntry, CatalogError, load_catalog, model_statuses

log = logging.getLogger(__name__)

HINT_DISMISSED = "hints/getModelsDismissed"


class ModelsPart(QObject):
    """Owns the Get Models dialog (made on first use, then kept, so that a download outlives a closed
    dialog), the downloads (:attr:`jobs`) and the hint bar ``hint``.

    Use in the dialog pins a model; this part then asks for the default model to be loaded
    (``defaultModelWanted(device, precision)``, which the window hands to the run part) and forgets a
    checkpoint file chosen in Model & Device, so that the pin is also what runs at the next start.
    Removing the model that runs asks for the next default the same way.
    """

    defaultModelWanted = Signal(str, str)

    def __init__(
        self,
        window: QMainWindow,
        settings: QSettings,
        controller: MatteController,
        messages: Messages,
        hint: HintBar,
    ):
        super().__init__(window)
        self.window = window
        self.settings = settings
        self.controller = controller
        self.messages = messages
        self.hint = hint
        self.jobs = ModelJobs(self)
        self.dialog: GetModelsDialog | None = None
        self._hint_closed = False  # the ✕: hidden until the next start
        # The running model's file, noted while it exists: Remove must recognise it after deleting it.
        self._running_file = _file_of(controller.model_info)

        hint.actionRequested.connect(lambda: self.open_dialog(hint.property("model")))
        hint.dismissed.connect(self._hint_dismissed)
        controller.modelReady.connect(self._on_model_ready)
        self.jobs.finished.connect(self._on_job_finished)
        self.jobs.failed.connect(self._on_job_failed)

    def add_actions(self, menus: Menus) -> None:
        self.action_get_models = make_action(
            self.window,
            "&Get Models…",
            lambda: self.open_dialog(),
            tip="Download official MEMatte and ViTMatte models, install one from a file, choose which one runs",
        )
        menus.model.addAction(self.action_get_models)

    # ============================================================================== the dialog

    def open_dialog(self, name: str | None = None) -> GetModelsDialog:
        """Show the Get Models dialog (selecting ``name``); returns it."""
        if self.dialog is None:
            self.dialog = GetModelsDialog(self.jobs, self.window)
            self.dialog.defaultChanged.connect(partial(self.load_default, "Loading the chosen model…"))
            self.dialog.modelsChanged.connect(self.update_hint)
            self.dialog.removed.connect(self._on_removed)
        else:
            self.dialog.refresh()
        self.dialog.set_in_use(self._running_file)
        if name:
            self.dialog.select(name)
        self.dialog.show()
        self.dialog.raise_()
        self.dialog.activateWindow()
        return self.dialog

    def load_default(self, note: str | None = None) -> None:
        """Load the default model (a pin, else the best installed official model, else the bundled one)
        with the device and precision chosen last."""
        self.settings.setValue("model/source", "")
        self.settings.sync()
        device = str(self.settings.value("model/device", "auto") or "auto")
        precision = str(self.settings.value("model/precision", "auto") or "auto")
        if note:
            self.messages.status(note, STATUS_MS)
        self.defaultModelWanted.emit(device, precision)

    def shut(self) -> None:
        """Before the window closes: cancel a download.  The core deletes what it wrote once it sees the
        cancel; a transfer stuck in the network leaves its partial file, which the next download resumes."""
        self.jobs.shutdown()
        if self.dialog is not None:
            self.dialog.close()

    def _on_model_ready(self, info: ModelInfo) -> None:
        self._running_file = _file_of(info)
        if self.dialog is not None:
            self.dialog.set_in_use(self._running_file)

    def _on_removed(self, path: str) -> None:
        if self._running_file is not None and self._running_file == Path(path).resolve():
            self.load_default("The removed model was running: loading the default model…")

    def _on_job_finished(self, name: str, result) -> None:
        self.update_hint()
        if self.dialog is None or not self.dialog.isVisible():
            self.messages.status(f"{name} is installed: Model ▸ Get Models… ▸ Use runs it", 2 * STATUS_MS)

    def _on_job_failed(self, name: str, message: str) -> None:
        if self.dialog is None or not self.dialog.isVisible():
            self.messages.status_error(f"{name}: {message}")

    # ============================================================================== the hint

    def update_hint(self) -> None:
        """Show the hint while only the bundled model is there (and the user has not said no)."""
        entry = None if self._hint_closed else offered_model(self.settings)
        if entry is None:
            self.hint.hide()
            return
        self.hint.setProperty("model", entry.name)
        size = size_text(next(s for s in model_statuses() if s.entry.name == entry.name), load_catalog())
        terms = "non-commercial research use only" if entry.research_only else f"weights {entry.licence.get('weights', '')}"
        self.hint.set_text(
            f"The bundled model is small. For better mattes of real photos, get {entry.name} "
            f"({entry.architecture.describe().split(' (')[0]}, {size}; {terms}).",
            entry.licence_summary(),
        )
        self.hint.show()

    def _hint_dismissed(self, forever: bool) -> None:
        self._hint_closed = True
        if forever:
            self.settings.setValue(HINT_DISMISSED, True)
            self.settings.sync()


def offered_model(settings: QSettings) -> CatalogEntry | None:
    """The catalog's first choice, when the bundled model is all there is and the hint was not dismissed."""
    if settings.value(HINT_DISMISSED, False, type=bool):
        return None
    if str(settings.value("model/source", "") or ""):
        return None  # the user runs a checkpoint of their own
    choice, _ = default_model()
    if choice is None or choice.name != "bundled" or choice.reason.startswith("pinned"):
        return None
    try:
        catalog = load_catalog()
        statuses = model_statuses(catalog)
    except (CatalogError, OSError) as exc:
        log.info("no model hint: %s", exc)
        return None
    if any(s.installed for s in statuses) or not catalog.default_order:
        return None
    return catalog.get(catalog.default_order[0])


def _file_of(info: ModelInfo | None) -> Path | None:
    if info is None or not info.source or info.source.startswith("preset:"):
        return None
    path = Path(info.source)
    return path.resolve() if path.is_file() else None


__all__ = ["HINT_DISMISSED", "ModelsPart", "offered_model"]
