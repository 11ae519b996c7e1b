"""The Export dialog: which files to write, where, and confirmation before anything is replaced.

It only decides; :func:`matteapp.document.export_plan.run_export` writes the files, in the worker thread.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from matteapp.document.export_plan import OUTPUTS, ExportPlan, default_paths
from matteapp.gui.widgets.panel_layout import compact, section_header

_OUTPUT_INFO = {
    "cutout": ("Cut-out (RGBA PNG)", "The subject with a transparent background, straight alpha, 8 bits per channel."),
    "alpha": ("Alpha matte (PNG)", "The matte alone as a gray image: white = subject, black = background."),
    "trimap": ("Trimap (PNG)", "The trimap as painted: 0 background, 128 unknown, 255 foreground."),
    "routing": ("Routing heatmap (PNG)", "Where the model used global attention, with a legend: the heatmap alone (its colours are the legend's) or over the photo."),
}
_DEFAULT_CHOSEN = {"cutout": True, "alpha": False, "trimap": False, "routing": False}
_FORBIDDEN_IN_NAME = set('/\\:*?"<>|')


def _megapixels(h: int, w: int) -> str:
    return f"{w:,} × {h:,} px ({w * h / 1e6:.1f} MP)"


class ExportDialog(QDialog):
    """Choose outputs, folder and base name for exporting the current matte.

    ``photo_path``: the photo (defaults: its folder and stem; None: the home folder and "untitled").
    ``photo_size``: (H, W) of the photo.  ``alpha_size``: (H, W) of the current matte — smaller than
    the photo for a preview (the dialog warns and offers a full-resolution run first), None when
    there is no matte yet (only the trimap can be exported).  ``routing_blocks``: number of routed
    blocks of the run (0: no routing maps, the heatmap is unavailable).  ``settings``: where the
    output choices are remembered (default ``QSettings("matteapp", "matteapp")``).

    After ``exec()`` returns Accepted, :meth:`result` is the :class:`ExportPlan` and
    :meth:`full_resolution_first` tells whether the user asked to run at full resolution before
    exporting.  Existing files are listed while choosing and replaced only after a yes to a question.
    """

    def __init__(
        self,
        photo_path: os.PathLike | str | None,
        photo_size: tuple[int, int],
        alpha_size: tuple[int, int] | None = None,
        routing_blocks: int = 0,
        settings: QSettings | None = None,
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.setWindowTitle("Export")
        self._photo_path = Path(photo_path) if photo_path is not None else None
        self._photo_size = tuple(photo_size)
        self._alpha_size = tuple(alpha_size) if alpha_size is not None else None
        self._routing_blocks = int(routing_blocks)
        self._settings = settings if settings is not None else QSettings("matteapp", "matteapp")
        self._overwrite = False
        self._full_first = False
        self._accepted = False
        layout = compact(QVBoxLayout(self), 12)
        layout.setSpacing(6)

        # -- outputs
        layout.addWidget(section_header("Outputs"))
        outputs = compact(QGridLayout(), 0)
        outputs.setColumnStretch(2, 1)
        self._checks: dict[str, QCheckBox] = {}
        self._names: dict[str, QLabel] = {}
        row = 0
        for name in OUTPUTS:
            text, tip = _OUTPUT_INFO[name]
            check = QCheckBox(text)
            check.setToolTip(tip)
            check.setChecked(self._settings.value(f"export/{name}", _DEFAULT_CHOSEN[name], type=bool))
            check.toggled.connect(self._refresh)
            self._checks[name] = check
            label = QLabel()
            label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self._names[name] = label
            outputs.addWidget(check, row, 0)
            outputs.addWidget(label, row, 2, Qt.AlignmentFlag.AlignRight)
            row += 1
            if name == "cutout":
                self._decontaminate = QCheckBox("Colour decontamination")
                self._decontaminate.setToolTip(
                    "Re-estimate the subject's own colours where it is semi-transparent, so that hair and soft edges "
                    "do not carry the old background's colour onto a new one. Adds a few seconds on large photos."
                )
                self._decontaminate.setChecked(self._settings.value("export/decontaminate", True, type=bool))
                self._decontaminate.setStyleSheet("QCheckBox { margin-left: 20px; }")  # under the cut-out's box
                outputs.addWidget(self._decontaminate, row, 0, 1, 2)
                row += 1
            elif name == "alpha":
                self._bits = QComboBox()
                self._bits.addItem("8-bit", 8)
                self._bits.addItem("16-bit", 16)
                self._bits.setToolTip(
                    "16-bit keeps the matte's fine gradations (65,536 levels instead of 256) for compositing "
                    "and further editing."
                )
                self._bits.setCurrentIndex(1 if self._settings.value("export/alpha_bits", 8, type=int) == 16 else 0)
                outputs.addWidget(self._bits, row - 1, 1)
            elif name == "routing":
                self._routing_block = QComboBox()
                self._routing_block.addItem("Density", None)
                for i in range(max(self._routing_blocks, 0)):
                    self._routing_block.addItem(f"Block {i + 1}", i)
                self._routing_block.setToolTip(
                    "Density: share of the routed blocks that sent each token to global attention; "
                    "Block k: that block's choices alone."
                )
                outputs.addWidget(self._routing_block, row - 1, 1)
                self._routing_over_photo = QCheckBox("Over the photo")
                self._routing_over_photo.setToolTip(
                    "Blend the heatmap over the photo (60 %) to see what was routed where; unticked, the heatmap "
                    "alone, whose colours read exactly off the legend."
                )
                self._routing_over_photo.setChecked(self._settings.value("export/routing_over_photo", False, type=bool))
                self._routing_over_photo.setStyleSheet("QCheckBox { margin-left: 20px; }")
                outputs.addWidget(self._routing_over_photo, row, 0, 1, 2)
                row += 1
        layout.addLayout(outputs)

        # -- destination
        layout.addWidget(section_header("Destination"))
        form = compact(QGridLayout(), 0)
        form.setColumnStretch(1, 1)
        default_folder = self._photo_path.parent if self._photo_path is not None else Path.home()
        self._folder = QLineEdit(str(default_folder))
        self._folder.setToolTip("Folder the files go into; it is created if it does not exist.")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        self._base = QLineEdit(self._photo_path.stem if self._photo_path is not None else "untitled")
        self._base.setToolTip("Each file is named <base name>_cutout.png, <base name>_alpha.png, …")
        self._folder.textChanged.connect(self._refresh)
        self._base.textChanged.connect(self._refresh)
        form.addWidget(QLabel("Folder"), 0, 0)
        form.addWidget(self._folder, 0, 1)
        form.addWidget(browse, 0, 2)
        form.addWidget(QLabel("Base name"), 1, 0)
        form.addWidget(self._base, 1, 1, 1, 2)
        layout.addLayout(form)

        # -- size, preview warning, existing files
        layout.addWidget(section_header("Size"))
        self._size = QLabel()
        layout.addWidget(self._size)
        self._preview_box = self._notice(QStyle.StandardPixmap.SP_MessageBoxWarning)
        self._preview_text = self._preview_box.findChild(QLabel, "text")
        self._full_button = QPushButton("Run full resolution first")
        self._full_button.setToolTip("Close this dialog, run the model on every pixel, then export with these settings.")
        self._full_button.clicked.connect(self._run_full_first)
        self._preview_box.layout().addWidget(self._full_button, 0, Qt.AlignmentFlag.AlignTop)
        layout.addWidget(self._preview_box)
        self._existing_box = self._notice(QStyle.StandardPixmap.SP_MessageBoxInformation)
        self._existing_text = self._existing_box.findChild(QLabel, "text")
        layout.addWidget(self._existing_box)
        self._problem = QLabel()
        self._problem.setWordWrap(True)
        self._problem.setStyleSheet("color: #c0392b;")
        layout.addWidget(self._problem)

        self._buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self._export_button = self._buttons.addButton("Export", QDialogButtonBox.ButtonRole.AcceptRole)
        self._export_button.setDefault(True)
        self._buttons.accepted.connect(self.accept)
        self._buttons.rejected.connect(self.reject)
        layout.addWidget(self._buttons)

        self._configure_availability()
        self._refresh()
        self.setMinimumWidth(520)

    def _notice(self, icon: QStyle.StandardPixmap) -> QFrame:
        frame = QFrame()
        frame.setFrameShape(QFrame.Shape.StyledPanel)
        row = compact(QHBoxLayout(frame), 6)
        symbol = QLabel()
        size = self.style().pixelMetric(QStyle.PixelMetric.PM_SmallIconSize)
        symbol.setPixmap(self.style().standardIcon(icon).pixmap(size, size))
        text = QLabel()
        text.setObjectName("text")
        text.setWordWrap(True)
        text.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        row.addWidget(symbol, 0, Qt.AlignmentFlag.AlignTop)
        row.addWidget(text, 1)
        return frame

    def _configure_availability(self) -> None:
        h, w = self._photo_size
        if self._alpha_size is None:
            for name in ("cutout", "alpha"):
                self._checks[name].setChecked(False)
                self._checks[name].setEnabled(False)
                self._checks[name].setToolTip("There is no matte yet: run the model first.")
            self._checks["trimap"].setChecked(True)
        if self._routing_blocks <= 0:
            self._checks["routing"].setChecked(False)
            self._checks["routing"].setEnabled(False)
            self._checks["routing"].setToolTip("This result has no routing maps (ViTMatte, closed-form, or no run yet).")
        preview = self.is_preview()
        if preview:
            ph, pw = self._alpha_size
            self._size.setText(f"Full resolution {_megapixels(h, w)}; the current matte is a {pw:,} × {ph:,} px preview")
            self._preview_text.setText(
                "The current matte is a preview. Exporting now writes files at the preview's size, "
                f"{pw:,} × {ph:,} px, not the photo's {w:,} × {h:,} px."
            )
        else:
            self._size.setText(f"Full resolution {_megapixels(h, w)}")
        self._preview_box.setVisible(preview)
        self._full_button.setDefault(preview)
        self._export_button.setText("Export preview" if preview else "Export")

    # -- state -------------------------------------------------------------------------------------
    def is_preview(self) -> bool:
        """The matte is smaller than the photo."""
        return self._alpha_size is not None and self._alpha_size != self._photo_size

    def full_resolution_first(self) -> bool:
        """The dialog was closed with "Run full resolution first"."""
        return self._full_first

    def folder(self) -> Path:
        return Path(os.path.expanduser(self._folder.text().strip()))

    def base_name(self) -> str:
        return self._base.text().strip()

    def set_folder(self, folder: os.PathLike | str) -> None:
        self._folder.setText(str(folder))

    def set_base_name(self, name: str) -> None:
        self._base.setText(name)

    def set_output(self, name: str, on: bool) -> None:
        self._checks[name].setChecked(on)

    def set_alpha_bits(self, bits: int) -> None:
        self._bits.setCurrentIndex(self._bits.findData(int(bits)))

    def set_decontaminate(self, on: bool) -> None:
        self._decontaminate.setChecked(on)

    def chosen_outputs(self) -> list[str]:
        return [name for name in OUTPUTS if self._checks[name].isChecked() and self._checks[name].isEnabled()]

    def result(self) -> ExportPlan:  # noqa: D401 — shadows QDialog.result() on purpose: the plan is the result
        """The plan as chosen: the paths of the chosen outputs (None for the others) and their options."""
        paths = default_paths(self.folder(), self.base_name())
        chosen = self.chosen_outputs()
        return ExportPlan(
            **{name: paths[name] if name in chosen else None for name in OUTPUTS},
            alpha_bits=int(self._bits.currentData()),
            decontaminate=self._decontaminate.isChecked(),
            routing_block=self._routing_block.currentData(),
            routing_over_photo=self._routing_over_photo.isChecked(),
            overwrite=self._overwrite,
        )

    def existing_files(self) -> list[Path]:
        """Chosen output paths that already exist (listed in the dialog, confirmed before replacing)."""
        return [] if self._problems() else self.result().existing()

    def _problems(self) -> list[str]:
        problems = []
        base = self.base_name()
        if not self.chosen_outputs():
            problems.append("Choose at least one output.")
        if not base:
            problems.append("Enter a base name for the files.")
        elif set(base) & _FORBIDDEN_IN_NAME or base in (".", ".."):
            problems.append(f"The base name cannot contain any of {' '.join(sorted(_FORBIDDEN_IN_NAME))}.")
        folder_text = self._folder.text().strip()
        if not folder_text:
            problems.append("Choose a folder.")
        else:
            folder = self.folder()
            if folder.exists() and not folder.is_dir():
                problems.append(f"{folder} is a file, not a folder.")
            elif folder.is_dir() and not os.access(folder, os.W_OK):
                problems.append(f"You cannot write to {folder}.")
        return problems

    def _refresh(self, *_args) -> None:
        self._decontaminate.setEnabled(self._checks["cutout"].isChecked() and self._checks["cutout"].isEnabled())
        self._bits.setEnabled(self._checks["alpha"].isChecked())
        self._routing_block.setEnabled(self._checks["routing"].isChecked() and self._checks["routing"].isEnabled())
        self._routing_over_photo.setEnabled(self._routing_block.isEnabled())
        paths = default_paths(self.folder(), self.base_name() or "…")
        for name, label in self._names.items():
            label.setText(paths[name].name)
            label.setEnabled(self._checks[name].isChecked())
        problems = self._problems()
        self._problem.setText("\n".join(problems))
        self._problem.setVisible(bool(problems))
        self._export_button.setEnabled(not problems)
        self._full_button.setEnabled(not problems)
        existing = self.existing_files()
        if existing:
            names = ", ".join(p.name for p in existing)
            self._existing_text.setText(
                f"Already in this folder: {names}. You will be asked before {'it is' if len(existing) == 1 else 'they are'} replaced."
            )
        elif not problems and not self.folder().exists():
            self._existing_text.setText(f"The folder {self.folder()} will be created.")
        else:
            self._existing_text.setText("")
        self._existing_box.setVisible(bool(self._existing_text.text()))

    # -- actions -----------------------------------------------------------------------------------
    def _browse(self) -> None:
        start = self.folder() if self.folder().is_dir() else Path.home()
        chosen = QFileDialog.getExistingDirectory(self, "Export to folder", str(start))
        if chosen:
            self._folder.setText(chosen)

    def _run_full_first(self) -> None:
        self._full_first = True
        self.accept()
        if not self._accepted:  # a problem, or the user kept the existing files: stay open as before
            self._full_first = False

    def _confirm_overwrite(self, existing: list[Path]) -> bool:
        names = "\n".join(f"  {p.name}" for p in existing)
        answer = QMessageBox.question(
            self,
            "Replace existing files?",
            f"{'This file exists' if len(existing) == 1 else 'These files exist'} in {existing[0].parent}:\n\n"
            f"{names}\n\nReplace {'it' if len(existing) == 1 else 'them'}?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        return answer == QMessageBox.StandardButton.Yes

    def accept(self) -> None:
        """Export (or "run full resolution first"): refuse with problems, ask before replacing files."""
        self._accepted = False
        if self._problems():
            return
        existing = self.existing_files()
        if existing and not self._confirm_overwrite(existing):
            return
        self._overwrite = bool(existing)
        for name in OUTPUTS:
            if self._checks[name].isEnabled():
                self._settings.setValue(f"export/{name}", self._checks[name].isChecked())
        self._settings.setValue("export/decontaminate", self._decontaminate.isChecked())
        self._settings.setValue("export/alpha_bits", int(self._bits.currentData()))
        self._settings.setValue("export/routing_over_photo", self._routing_over_photo.isChecked())
        self._settings.sync()
        self._accepted = True
        super().accept()
