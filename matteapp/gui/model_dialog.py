"""The "Model & device" dialog: which weights, on which device, at which precision.

Choosing a file only runs :func:`check_checkpoint_file` (a stat and a 16-byte read); the main window
loads the model in the worker thread, where a damaged or foreign checkpoint is reported properly.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QGridLayout,
    QLabel,
    QPushButton,
    QRadioButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from matteapp.gui.model_choice import default_model, display_name
from matteapp.gui.widgets.panel_layout import compact, section_header
from matteapp.io.recent import recent_checkpoints

CHECKPOINT_EXTENSIONS = (".pth", ".pt", ".ckpt", ".safetensors", ".bin")
FILE_FILTER = "Model checkpoints (*.pth *.pt *.ckpt *.safetensors *.bin);;All files (*)"
PRECISIONS = {
    "auto": ("Automatic", "bf16 where the hardware has bf16 units, fp16 on older GPUs and Apple, else fp32."),
    "fp32": ("fp32 (exact)", "Full precision: slowest, the reference result."),
    "bf16": ("bf16", "Half the memory; alpha within about 1/100 of fp32. Fast on recent GPUs and CPUs with AMX/AVX-512 BF16."),
    "fp16": ("fp16", "Half the memory; for GPUs without bf16 and for Apple silicon."),
}


@dataclass(frozen=True)
class ModelChoice:
    """What to load: ``source`` a checkpoint path or None for the default model; ``device``
    "auto" | "cpu" | "cuda" | "mps"; ``precision`` "auto" | "fp32" | "bf16" | "fp16" (the arguments
    of :func:`matteapp.model.predictor.load_model`)."""

    source: str | None
    device: str = "auto"
    precision: str = "auto"


def check_checkpoint_file(path: os.PathLike | str) -> str | None:
    """None if ``path`` looks like a checkpoint worth loading, else a sentence saying why not.

    Cheap on purpose (no deserialising): it exists, is a readable non-empty file with a known
    extension, and starts like a safetensors file (an 8-byte length, then JSON) or a torch.save file
    (a zip, or a pickle's protocol byte).
    """
    path = Path(path).expanduser()
    if not str(path).strip():
        return "Choose a checkpoint file."
    if not path.exists():
        return f"{path.name}: no such file."
    if not path.is_file():
        return f"{path.name} is a folder, not a checkpoint file."
    if path.suffix.lower() not in CHECKPOINT_EXTENSIONS:
        return f"{path.name}: unknown kind of file; expected {', '.join(CHECKPOINT_EXTENSIONS)}."
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(16)
    except OSError as exc:
        return f"{path.name} cannot be read ({exc.strerror or exc})."
    if size == 0:
        return f"{path.name} is empty."
    safetensors = len(head) >= 9 and head[8:9] == b"{"
    torch_save = head[:2] == b"PK" or head[:1] == b"\x80"
    if not (safetensors or torch_save):
        return f"{path.name} is not a PyTorch (.pth/.pt) or .safetensors checkpoint."
    return None


@functools.lru_cache(maxsize=1)
def available_devices() -> dict[str, str]:
    """``{device: label}`` of the devices PyTorch can use here, "auto" first.

    Cached: naming the GPU initialises CUDA, a noticeable pause the second dialog need not repeat.
    """
    devices = {"auto": "Automatic", "cpu": "CPU"}
    if torch.cuda.is_available():
        devices["cuda"] = f"CUDA GPU — {torch.cuda.get_device_name(0)}"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        devices["mps"] = "Apple GPU (Metal)"
    best = "cuda" if "cuda" in devices else "mps" if "mps" in devices else "cpu"
    devices["auto"] = f"Automatic ({devices[best].split(' — ')[0]})"
    return devices


def _human_size(size: int) -> str:
    return f"{size / 2**20:.1f} MB" if size < 2**30 else f"{size / 2**30:.2f} GB"


class ModelDialog(QDialog):
    """Pick the default model (a pinned one, else the best installed official model, else the bundled
    one) or a checkpoint file, the device and the precision.

    The choice is remembered in ``settings`` (default ``QSettings("matteapp", "matteapp")``) on OK
    and offered again next time.  :meth:`result` → :class:`ModelChoice`.  Recently used checkpoints
    come from :mod:`matteapp.io.recent`; adding a checkpoint there is the main window's job once it has
    loaded.
    """

    def __init__(self, settings: QSettings | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Model & device")
        self._settings = settings if settings is not None else QSettings("matteapp", "matteapp")
        layout = compact(QVBoxLayout(self), 12)
        layout.setSpacing(6)

        # -- model
        layout.addWidget(section_header("Model"))
        grid = compact(QGridLayout(), 0)
        grid.setColumnStretch(1, 1)
        default, problem = default_model()
        self._has_bundled = default is not None  # the name predates official downloads: "a default model exists"
        self._bundled = QRadioButton(
            f"Default model: {display_name(default)}" if default is not None else "Default model (none installed)"
        )
        self._bundled.setToolTip(
            f"{default.path}\n{default.reason}\nModel ▸ Get Models… downloads official models and pins one." if default is not None else problem
        )
        self._bundled.setEnabled(self._has_bundled)
        self._file = QRadioButton("Checkpoint file")
        self._file.setToolTip(
            "Official MEMatte or ViTMatte weights (.pth), Hugging Face VitMatte (.bin / .safetensors), "
            "or a checkpoint trained with matteapp."
        )
        self._source_group = QButtonGroup(self)
        self._source_group.addButton(self._bundled)
        self._source_group.addButton(self._file)
        self._path = QComboBox()
        self._path.setEditable(True)
        self._path.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self._path.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self._path.setMinimumContentsLength(36)
        self._path.lineEdit().setPlaceholderText("Path to a .pth, .safetensors, … file")
        self._path.setToolTip("Recently used checkpoints are in the list.")
        for recent in recent_checkpoints():
            self._path.addItem(recent)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        self._status = QLabel()
        self._status.setWordWrap(True)
        self._status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        grid.addWidget(self._bundled, 0, 0, 1, 3)
        grid.addWidget(self._file, 1, 0)
        grid.addWidget(self._path, 1, 1)
        grid.addWidget(browse, 1, 2)
        grid.addWidget(self._status, 2, 1, 1, 2)
        layout.addLayout(grid)

        # -- device
        layout.addWidget(section_header("Device"))
        device_grid = compact(QGridLayout(), 0)
        device_grid.setColumnStretch(1, 1)
        self._device = QComboBox()
        for name, label in dict(available_devices()).items():
            self._device.addItem(label, name)
        self._device.setToolTip("Where the model runs. A GPU is typically 10–50× faster than the CPU.")
        self._precision = QComboBox()
        for name, (label, tip) in PRECISIONS.items():
            self._precision.addItem(label, name)
            self._precision.setItemData(self._precision.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
        self._precision.setToolTip("Numeric precision of the computation.")
        device_grid.addWidget(QLabel("Device"), 0, 0)
        device_grid.addWidget(self._device, 0, 1)
        device_grid.addWidget(QLabel("Precision"), 1, 0)
        device_grid.addWidget(self._precision, 1, 1)
        self._device_note = QLabel()
        self._device_note.setWordWrap(True)
        self._device_note.setVisible(False)
        device_grid.addWidget(self._device_note, 2, 1)
        layout.addLayout(device_grid)

        self._buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self._buttons.accepted.connect(self.accept)
        self._buttons.rejected.connect(self.reject)
        layout.addWidget(self._buttons)

        self._restore()
        self._source_group.buttonToggled.connect(self._validate)
        self._path.currentTextChanged.connect(self._path_edited)
        self._validate()

    # -- settings ------------------------------------------------------------------------------------
    def _restore(self) -> None:
        source = str(self._settings.value("model/source", "") or "")
        if source:
            self.set_source(source)
        else:
            self._bundled.setChecked(self._has_bundled)
            self._file.setChecked(not self._has_bundled)
        device = str(self._settings.value("model/device", "auto"))
        index = self._device.findData(device)
        if index < 0:
            self._device_note.setText(f"The device chosen last time ({device}) is not available here; using Automatic.")
            self._device_note.setVisible(True)
            index = 0
        self._device.setCurrentIndex(index)
        self._precision.setCurrentIndex(max(0, self._precision.findData(str(self._settings.value("model/precision", "auto")))))

    def set_source(self, source: str | None) -> None:
        """None selects the default model; a path selects (and fills in) the checkpoint file."""
        if source is None:
            self._bundled.setChecked(True)
        else:
            self._file.setChecked(True)
            self._path.setEditText(str(source))
        self._validate()

    def set_device(self, device: str) -> None:
        index = self._device.findData(device)
        if index < 0:
            raise ValueError(f"device {device!r} is not available here; choose one of {self.devices()}")
        self._device.setCurrentIndex(index)

    def devices(self) -> list[str]:
        return [self._device.itemData(i) for i in range(self._device.count())]

    def set_precision(self, precision: str) -> None:
        index = self._precision.findData(precision)
        if index < 0:
            raise ValueError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
        self._precision.setCurrentIndex(index)

    def recent_paths(self) -> list[str]:
        return [self._path.itemText(i) for i in range(self._path.count())]

    # -- validation ----------------------------------------------------------------------------------
    def _path_edited(self, _text: str) -> None:
        if not self._file.isChecked() and self._path.currentText().strip():
            self._file.setChecked(True)  # typing or picking a path means "use this file"
        self._validate()

    def problem(self) -> str | None:
        """Why OK is disabled, or None."""
        if self._file.isChecked():
            return check_checkpoint_file(self._path.currentText().strip())
        if not self._has_bundled:
            return "No model is installed: choose a checkpoint file, or get one in Model ▸ Get Models…"
        return None

    def _validate(self, *_args) -> None:
        problem = self.problem()
        self._buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(problem is None)
        if problem is not None:
            self._status.setText(problem)
            self._status.setStyleSheet("color: #c0392b;")
        elif self._file.isChecked():
            path = Path(self._path.currentText().strip()).expanduser()
            self._status.setText(f"{path.name} · {_human_size(path.stat().st_size)} — loads when you press OK")
            self._status.setStyleSheet("")
        else:
            self._status.setText("")

    def _browse(self) -> None:
        current = Path(self._path.currentText().strip()).expanduser()
        start = str(current.parent if current.parent.is_dir() else Path.home())
        chosen, _ = QFileDialog.getOpenFileName(self, "Choose a model checkpoint", start, FILE_FILTER)
        if chosen:
            self.set_source(chosen)

    # -- result --------------------------------------------------------------------------------------
    def result(self) -> ModelChoice:  # noqa: D401 — shadows QDialog.result() on purpose
        """The choice as shown in the dialog."""
        source = str(Path(self._path.currentText().strip()).expanduser()) if self._file.isChecked() else None
        return ModelChoice(source=source, device=self._device.currentData(), precision=self._precision.currentData())

    def accept(self) -> None:
        if self.problem() is not None:
            return
        choice = self.result()
        self._settings.setValue("model/source", choice.source or "")
        self._settings.setValue("model/device", choice.device)
        self._settings.setValue("model/precision", choice.precision)
        self._settings.sync()
        super().accept()
