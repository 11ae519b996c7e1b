"""Model ▸ Get Models…: the official models of the catalog, downloaded, installed from a file, removed
or put to use, without leaving the application.

The dialog is a view over the core (:mod:`matteapp.model.catalog`, :mod:`matteapp.model.download`):
the files, their checks and what a failure leaves behind are the core's business; the transfers run on
:class:`~matteapp.gui.model_jobs.ModelJobs`'s thread.  It is not modal, and closing it does not stop a
download: the window keeps the dialog and the job, and shows the download again when it is reopened.
"""

from __future__ import annotations

import html
import time
from collections import deque
from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QStyledItemDelegate,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from matteapp.gui.model_choice import default_model, display_name, size_text
from matteapp.gui.model_dialog import FILE_FILTER
from matteapp.gui.model_jobs import ModelJobs
from matteapp.gui.widgets.panel_layout import compact
from matteapp.model.catalog import (
    Catalog,
    CatalogEntry,
    CatalogError,
    Dataset,
    ModelStatus,
    load_catalog,
    model_statuses,
    models_dir,
    pending_licences,
    pinned_model,
    set_pinned_model,
)
from matteapp.model.download import DownloadError, InstallResult, remove_model
from matteapp.model.predictor import bundled_model_path

BUNDLED = "bundled"
COLUMNS = ("Model", "State", "Size", "Paper scores", "Licence")
ERROR_COLOUR = "#c0392b"
RATE_WINDOW_S = 3.0


class GetModelsDialog(QDialog):
    """The catalog as a table (name, state, size, scores, licence), details of the selected model, and
    Download / Cancel / Remove / Use / Install from File….

    ``jobs``: the downloads (the window's, so that a download outlives a closed dialog).

    Signals: ``defaultChanged()`` after Use or Unpin changed the pinned model (the window loads the
    new default); ``modelsChanged()`` after a model was installed or removed; ``removed(path)`` with
    the deleted file of an installed model.

    For scripts and tests: :attr:`question` is the confirmation box that is open (None: none), and
    :attr:`message_label` holds the last error or result.
    """

    defaultChanged = Signal()
    modelsChanged = Signal()
    removed = Signal(str)

    def __init__(self, jobs: ModelJobs, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Get models")
        self.jobs = jobs
        self.question: QMessageBox | None = None
        self._catalog: Catalog | None = None
        self._statuses: dict[str, ModelStatus] = {}
        self._bundled: Path | None = None
        self._in_use: Path | None = None
        self._agreed: set[str] = set()  # datasets whose terms were accepted this session, before the core records them
        self._rates: deque[tuple[float, int]] = deque()
        self._progress: tuple[int, int | None] | None = None

        layout = compact(QVBoxLayout(self), 12)
        layout.setSpacing(8)
        intro = QLabel(
            "Official MEMatte and ViTMatte weights from their authors. Every file is checked before it is used; "
            "a failed or cancelled download leaves nothing behind."
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)

        self.table = QTreeWidget()
        self.table.setColumnCount(len(COLUMNS))
        self.table.setHeaderLabels(list(COLUMNS))
        self.table.setRootIsDecorated(False)
        self.table.setUniformRowHeights(True)
        self.table.setAlternatingRowColors(True)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setItemDelegate(_RowSpacing(self.table))
        header = self.table.header()
        header.setStretchLastSection(True)
        for column in range(len(COLUMNS) - 1):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.table.currentItemChanged.connect(lambda *_: self._update())
        layout.addWidget(self.table)

        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.setTextFormat(Qt.TextFormat.RichText)
        self.details.setOpenExternalLinks(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.details.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.details.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.details.setMinimumHeight(self.fontMetrics().lineSpacing() * 6)
        self.details.setContentsMargins(2, 0, 2, 0)
        layout.addWidget(self.details, 1)

        progress_row = QHBoxLayout()
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 100)
        self.progress_bar.setTextVisible(True)
        self.progress_label = QLabel()
        self.progress_label.setMinimumWidth(self.fontMetrics().horizontalAdvance("000.0 of 000.0 MB · 00.0 MB/s · 00 min left  "))
        progress_row.addWidget(self.progress_bar, 1)
        progress_row.addWidget(self.progress_label)
        self._progress_widgets = (self.progress_bar, self.progress_label)
        layout.addLayout(progress_row)

        self.message_label = QLabel()
        self.message_label.setWordWrap(True)
        self.message_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        layout.addWidget(self.message_label)

        buttons = QHBoxLayout()
        self.download_button = QPushButton("Download")
        self.cancel_button = QPushButton("Cancel Download")
        self.remove_button = QPushButton("Remove")
        self.use_button = QPushButton("Use")
        self.install_button = QPushButton("Install from File…")
        self.download_button.setToolTip("Download the selected model, check it and install it")
        self.remove_button.setToolTip("Delete the selected model's file (and any unfinished download of it)")
        self.use_button.setToolTip("Run the selected model from now on (it is pinned as the default model)")
        self.install_button.setToolTip(
            "Install a file you downloaded yourself (e.g. in a browser, when a download here fails) as the selected model; "
            "it gets the same checks as a download"
        )
        self.download_button.clicked.connect(lambda: self.download())
        self.cancel_button.clicked.connect(self.cancel_download)
        self.remove_button.clicked.connect(lambda: self.remove())
        self.use_button.clicked.connect(lambda: self.use())
        self.install_button.clicked.connect(lambda: self.install_from_file())
        for button in (self.download_button, self.cancel_button, self.remove_button, self.use_button, self.install_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout.addLayout(buttons)

        footer = QHBoxLayout()
        self.default_label = QLabel()
        self.default_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.default_label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.default_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.unpin_button = QPushButton("Choose Automatically")
        self.unpin_button.setToolTip("Forget the pinned model: the best installed official model runs, else the bundled one")
        self.unpin_button.clicked.connect(self.unpin)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        footer.addWidget(self.default_label, 1)
        footer.addWidget(self.unpin_button)
        footer.addWidget(close)
        layout.addLayout(footer)

        jobs.started.connect(self._on_started)
        jobs.progress.connect(self._on_progress)
        jobs.finished.connect(self._on_finished)
        jobs.failed.connect(self._on_failed)
        jobs.cancelled.connect(self._on_cancelled)

        self._show_progress(False)
        self.resize(1000, 520)
        self.refresh()

    # ============================================================================== the table

    def refresh(self) -> None:
        """Read the catalog and the models folder again (cheap: no network, a few stats)."""
        selected = self.selected()
        try:
            self._catalog = load_catalog()
            self._statuses = {s.entry.name: s for s in model_statuses(self._catalog)}
        except CatalogError as exc:
            self._catalog, self._statuses = None, {}
            self._say(str(exc), error=True)
        self._bundled = bundled_model_path()
        self.table.clear()
        for name, status in self._statuses.items():
            item = QTreeWidgetItem([name, "", size_text(status, self._catalog), _scores_cell(status.entry), _licence_cell(status.entry)])
            item.setData(0, Qt.ItemDataRole.UserRole, name)
            item.setToolTip(0, status.entry.description)
            item.setToolTip(3, "\n".join(status.entry.scores_summary()) or "no published scores")
            item.setToolTip(4, status.entry.licence_summary())
            self.table.addTopLevelItem(item)
        if self._bundled is not None:
            item = QTreeWidgetItem([f"{BUNDLED} ({self._bundled.stem})", "", _file_size(self._bundled), "see its model card", "MIT · synthetic data"])
            item.setData(0, Qt.ItemDataRole.UserRole, BUNDLED)
            item.setToolTip(0, "The compact MEMatte that ships with matteapp, trained by this project on synthetic photos")
            self.table.addTopLevelItem(item)
        self._fit_table()
        for i in range(self.table.topLevelItemCount()):
            self._fill_state(self.table.topLevelItem(i))
        self.select(selected or (self._catalog.default_order[0] if self._catalog and self._catalog.default_order else None))
        self._update()

    def _fit_table(self) -> None:
        # The catalog is short: every row shows without a scroll bar, and the details take the rest.
        rows = self.table.topLevelItemCount()
        row = self.table.indexRowSizeHint(self.table.indexFromItem(self.table.topLevelItem(0))) if rows else 0
        row = row or self.fontMetrics().height() + _RowSpacing.EXTRA
        frame = 2 * self.table.frameWidth()
        self.table.setFixedHeight(self.table.header().sizeHint().height() + max(rows, 3) * row + frame + 2)

    def names(self) -> list[str]:
        """The rows, top to bottom: catalog names, then ``bundled`` when there is a bundled model."""
        return [self.table.topLevelItem(i).data(0, Qt.ItemDataRole.UserRole) for i in range(self.table.topLevelItemCount())]

    def state_text(self, name: str) -> str:
        item = self._item(name)
        return item.text(1) if item is not None else ""

    def selected(self) -> str | None:
        item = self.table.currentItem()
        return item.data(0, Qt.ItemDataRole.UserRole) if item is not None else None

    def select(self, name: str | None) -> None:
        item = self._item(name) if name else None
        if item is None and self.table.topLevelItemCount():
            item = self.table.topLevelItem(0)
        self.table.setCurrentItem(item)

    def set_in_use(self, path: str | Path | None) -> None:
        """The file of the model the window runs now (marked "in use")."""
        self._in_use = Path(path).resolve() if path else None
        for i in range(self.table.topLevelItemCount()):
            self._fill_state(self.table.topLevelItem(i))
        self._update()

    def _item(self, name: str) -> QTreeWidgetItem | None:
        for i in range(self.table.topLevelItemCount()):
            item = self.table.topLevelItem(i)
            if item.data(0, Qt.ItemDataRole.UserRole) == name:
                return item
        return None

    def _path_of(self, name: str) -> Path | None:
        if name == BUNDLED:
            return self._bundled
        status = self._statuses.get(name)
        return status.path if status is not None else None

    def _fill_state(self, item: QTreeWidgetItem) -> None:
        name = item.data(0, Qt.ItemDataRole.UserRole)
        job = self.jobs.current
        path = self._path_of(name)
        status = self._statuses.get(name)
        if job is not None and job[0] == name:
            if self.jobs.cancelling:
                text = "Cancelling…"
            elif job[1] == "install":
                text = "Installing…"
            elif self._progress is not None and self._progress[1]:
                text = f"Downloading {100 * self._progress[0] / self._progress[1]:.0f} %"
            else:
                text = "Downloading…"
        elif path is not None:
            text = "Installed"
            if self._in_use is not None and path.resolve() == self._in_use:
                text += " · in use"
        elif status is not None and status.partial_bytes:
            text = f"Not installed · {status.partial_bytes / 1e6:.1f} MB kept, resumes"
        else:
            text = "Not installed"
        item.setText(1, text)
        font = item.font(1)
        font.setBold(path is not None)
        item.setFont(1, font)

    def _update(self) -> None:
        """Buttons and details for the selected row."""
        name = self.selected()
        status = self._statuses.get(name) if name else None
        busy = self.jobs.busy
        path = self._path_of(name) if name else None
        catalog_row = status is not None
        self.download_button.setEnabled(catalog_row and path is None and not busy)
        self.download_button.setText("Resume Download" if status is not None and status.partial_bytes and path is None else "Download")
        self.cancel_button.setEnabled(busy and not self.jobs.cancelling)
        self.remove_button.setEnabled(catalog_row and (path is not None or bool(status.partial_bytes)) and not (busy and self.jobs.current[0] == name))
        self.use_button.setEnabled(path is not None)
        self.install_button.setEnabled(catalog_row and not busy)
        self.details.setText(self._details_html(name, status))
        self._update_footer()

    def _update_footer(self) -> None:
        choice, problem = default_model()
        pin, origin = pinned_model()
        if choice is None:
            text = problem or ""
        else:
            text = f"Default model: {display_name(choice)}"
        text += f"  ·  Models folder: {_home_relative(models_dir())}"
        self.default_label.setText(text)
        self.default_label.setToolTip(choice.reason if choice is not None else (problem or ""))
        # only a pin of the settings file is this dialog's to undo; MATTEAPP_MODEL belongs to the environment
        self.unpin_button.setVisible(bool(pin) and origin != "MATTEAPP_MODEL")

    def _details_html(self, name: str | None, status: ModelStatus | None) -> str:
        esc = html.escape
        if name == BUNDLED and self._bundled is not None:
            return (
                f"<b>{esc(self._bundled.stem)}</b> — the compact MEMatte bundled with matteapp, trained by this project "
                "on synthetic photos (MIT, no research-only data); fast, but the official models matte real photos better."
                f"<br><span style='color:gray'>{esc(str(self._bundled))}</span>"
            )
        if status is None:
            return ""
        e = status.entry
        lines = [f"<b>{esc(e.name)}</b> — {esc(e.description)}", esc(e.architecture.describe())]
        scores = e.scores_summary()
        if scores:
            lines.append("Paper scores: " + esc("; ".join(scores)))
        lines.append(f"Licence: weights {esc(e.licence.get('weights', 'unknown'))}; code {esc(e.licence.get('code', 'unknown'))}")
        for d in e.training_data:
            mark = " <b>(research / non-commercial only)</b>" if d.research_only else ""
            lines.append(f"Trained on {esc(d.title)}{mark}: {esc(d.licence)}")
        links = []
        if e.homepage:
            links.append(f"<a href='{esc(e.homepage)}'>{esc(e.homepage)}</a>")
        if e.paper:
            links.append(esc(e.paper))
        if links:
            lines.append(" · ".join(links))
        if status.path is not None:
            lines.append(f"<span style='color:gray'>{esc(str(status.path))}</span>")
        return "<br>".join(lines)

    # ============================================================================== commands

    def download(self, name: str | None = None) -> None:
        """Download ``name`` (default: the selected model), after confirming research-only terms once."""
        name = name or self.selected()
        status = self._statuses.get(name or "")
        if status is None or status.installed or self.jobs.busy:
            return
        self._with_licence(status.entry, lambda accept: self.jobs.download(status.entry.name, accept_licence=accept))

    def install_from_file(self, file: str | Path | None = None, name: str | None = None) -> None:
        """Install ``file`` (default: ask for one) as catalog model ``name`` (default: the selected one)."""
        name = name or self.selected()
        status = self._statuses.get(name or "")
        if status is None or self.jobs.busy:
            return
        if file is None:
            start = str(Path.home() / "Downloads") if (Path.home() / "Downloads").is_dir() else str(Path.home())
            file, _ = QFileDialog.getOpenFileName(self, f"Install a file as {name}", start, FILE_FILTER)
            if not file:
                return
        self._with_licence(status.entry, lambda accept: self.jobs.install(status.entry.name, file, accept_licence=accept))

    def cancel_download(self) -> None:
        if self.jobs.busy:
            self.jobs.cancel()
            self._say("Cancelling…")
            self._refresh_states()

    def remove(self, name: str | None = None) -> None:
        """Delete ``name``'s file and partial download, after asking."""
        name = name or self.selected()
        status = self._statuses.get(name or "")
        if status is None or (self.jobs.busy and self.jobs.current[0] == name):
            return
        if status.path is not None:
            text = f"Delete {name} ({_file_size(status.path)}) from {status.path.parent}? You can download it again later."
        elif status.partial_bytes:
            text = f"Discard the unfinished download of {name} ({status.partial_bytes / 1e6:.1f} MB)?"
        else:
            return
        self._ask("Remove model", text, "Remove", lambda: self._remove(name))

    def _remove(self, name: str) -> None:
        path = self._path_of(name)
        try:
            remove_model(name)
        except (DownloadError, OSError) as exc:
            self._say(f"Could not remove {name}: {exc}", error=True)
            self.refresh()
            return
        pin, origin = pinned_model()
        if pin == name and origin != "MATTEAPP_MODEL":
            set_pinned_model(None)  # a pin on a deleted model would only produce "unavailable" notes
        self.refresh()
        self._say(f"Removed {name}." if path is not None else f"Discarded the unfinished download of {name}.")
        if path is not None:
            self.removed.emit(str(path))
        self.modelsChanged.emit()

    def use(self, name: str | None = None) -> None:
        """Pin ``name`` (a catalog name or ``bundled``) as the default model; the window then loads it."""
        name = name or self.selected()
        if not name or self._path_of(name) is None:
            return
        set_pinned_model(name)
        choice, problem = default_model()
        self._update_footer()
        if choice is None or choice.name != name:
            self._say(f"{name} is pinned, but {choice.reason if choice else problem} decides which model runs.", error=True)
            return
        self._say(f"{name} is pinned as the default model and is loading.")
        self.defaultChanged.emit()

    def unpin(self) -> None:
        set_pinned_model(None)
        choice, problem = default_model()
        self._update_footer()
        self._say(f"No model is pinned: {display_name(choice)} runs." if choice else problem or "", error=choice is None)
        if choice is not None:
            self.defaultChanged.emit()

    # ============================================================================== confirmations

    def _with_licence(self, entry: CatalogEntry, go) -> None:
        """``go(accept_licence)`` at once, or after the user accepted the research-only terms it needs."""
        pending = [d for d in pending_licences(entry) if d.id not in self._agreed]
        if not pending:
            go(bool(pending_licences(entry)))  # agreed earlier this session: the core records it on success
            return

        def accepted() -> None:
            self._agreed.update(d.id for d in pending)
            go(True)

        self._ask("Research-only training data", _licence_text(entry, pending), "Accept and Continue", accepted)

    def _ask(self, title: str, text: str, accept_text: str, on_accept) -> None:
        if self.question is not None:
            self.question.close()
        box = QMessageBox(QMessageBox.Icon.Question, title, text, QMessageBox.StandardButton.Cancel, self)
        accept = box.addButton(accept_text, QMessageBox.ButtonRole.AcceptRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        def finished(_result: int) -> None:
            if self.question is box:
                self.question = None
            if box.clickedButton() is accept:
                on_accept()

        box.finished.connect(finished)
        self.question = box
        box.open()

    # ============================================================================== the job

    def _on_started(self, name: str, kind: str) -> None:
        self._rates.clear()
        self._progress = None
        self.progress_bar.setRange(0, 0)  # busy until the first byte says how much there is
        self.progress_label.setText("connecting…" if kind == "download" else "checking the file…")
        self._show_progress(True)
        self._say(f"Downloading {name}…" if kind == "download" else f"Installing {name}…")
        self.select(name)
        self._refresh_states()

    def _on_progress(self, name: str, done: int, total: int | None) -> None:
        now = time.monotonic()
        self._progress = (done, total)
        self._rates.append((now, done))
        while len(self._rates) > 2 and now - self._rates[0][0] > RATE_WINDOW_S:
            self._rates.popleft()
        (t0, d0), rate = self._rates[0], None
        if now - t0 > 0.2:
            rate = (done - d0) / (now - t0)
        if total:
            self.progress_bar.setRange(0, 100)
            self.progress_bar.setValue(min(100, int(100 * done / total)))
        kind = self.jobs.current[1] if self.jobs.current else "download"
        if total and done >= total:
            self.progress_label.setText(f"{total / 1e6:.1f} MB · checking the file…" if kind == "download" else f"{total / 1e6:.1f} MB copied")
        else:
            parts = [f"{done / 1e6:.1f} of {total / 1e6:.1f} MB" if total else f"{done / 1e6:.1f} MB"]
            if rate:
                parts.append(f"{rate / 1e6:.1f} MB/s")
                if total:
                    parts.append(_time_left((total - done) / rate))
            self.progress_label.setText(" · ".join(parts))
        item = self._item(name)
        if item is not None:
            self._fill_state(item)

    def _on_finished(self, name: str, result: InstallResult) -> None:
        self.progress_bar.setRange(0, 100)
        self.progress_bar.setValue(100)
        self.progress_label.setText(f"{_file_size(result.path)} · checked")
        self.refresh()
        text = f"{name} is installed ({_file_size(result.path)}); Use runs it."
        if result.notes:
            text += " " + " ".join(result.notes)
        self._say(text, detail=str(result.path))
        self.modelsChanged.emit()

    def _on_failed(self, name: str, message: str) -> None:
        self._show_progress(False)
        self.refresh()
        self._say(message, error=True, detail=self.jobs.last_error_detail)

    def _on_cancelled(self, name: str) -> None:
        self._show_progress(False)
        self.refresh()
        self._say(f"Cancelled: nothing of {name} was kept.")

    def _refresh_states(self) -> None:
        for i in range(self.table.topLevelItemCount()):
            self._fill_state(self.table.topLevelItem(i))
        self._update()

    def _show_progress(self, on: bool) -> None:
        for widget in self._progress_widgets:
            widget.setVisible(on)

    def _say(self, text: str, error: bool = False, detail: str | None = None) -> None:
        self.message_label.setText(text)
        self.message_label.setToolTip(detail or "")
        palette = self.message_label.palette()
        palette.setColor(QPalette.ColorRole.WindowText, QColor(ERROR_COLOUR) if error else self.palette().color(QPalette.ColorRole.WindowText))
        self.message_label.setPalette(palette)
        self.message_label.setProperty("error", error)

    @property
    def message_is_error(self) -> bool:
        return bool(self.message_label.property("error"))


class _RowSpacing(QStyledItemDelegate):
    """Rows a little taller than the text: eight of them at the default height read as one block."""

    EXTRA = 8

    def sizeHint(self, option, index) -> QSize:
        size = super().sizeHint(option, index)
        return QSize(size.width(), size.height() + self.EXTRA)


def _licence_text(entry: CatalogEntry, datasets: list[Dataset]) -> str:
    terms = "\n\n".join(f"• {d.title}: {d.licence}" for d in datasets)
    return (
        f"{entry.name} was trained on data licensed for non-commercial research only:\n\n{terms}\n\n"
        "Continue only if your use is non-commercial research. You are asked once; matteapp remembers the answer."
    )


def _scores_cell(entry: CatalogEntry) -> str:
    for benchmark, values in entry.scores.items():
        sad, mse = values.get("SAD"), values.get("MSE")
        parts = ([f"SAD {sad:.1f}"] if sad is not None else []) + ([f"MSE×1e3 {mse * 1e3:.1f}"] if mse is not None else [])
        if parts:
            return f"{benchmark}: {' · '.join(parts)}"
    return "—"


def _licence_cell(entry: CatalogEntry) -> str:
    if entry.research_only:
        return "research / non-commercial only"
    return entry.licence.get("weights", "unknown")


def _file_size(path: Path) -> str:
    try:
        size = path.stat().st_size
    except OSError:
        return "?"
    return f"{size / 1e6:,.0f} MB" if size >= 10e6 else f"{size / 1e6:,.1f} MB"


def _home_relative(path: Path) -> str:
    try:
        return str(Path("~") / path.relative_to(Path.home()))
    except ValueError:
        return str(path)


def _time_left(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s left"
    return f"{seconds / 60:.0f} min left"


__all__ = ["BUNDLED", "GetModelsDialog"]
