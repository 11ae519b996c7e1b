"""Export: the Export dialog and the files it plans (cut-out, alpha, trimap, routing heatmap), written on the
worker; the trimap alone as a PNG."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QDialog, QFileDialog, QMainWindow

from matteapp.document.export_plan import ExportPlan, run_export
from matteapp.document.state import MatteDocument
from matteapp.gui.export_dialog import ExportDialog
from matteapp.gui.window.common import STATUS_MS, Menus, Messages, make_action
from matteapp.gui.window.tasks import TaskRunner
from matteapp.io.export import export_trimap


class ExportPart(QObject):
    """Writes the document's outputs on the worker (``tasks``), with progress in the run panel.

    When the user asks for a full-resolution run first, it emits ``fullRunRequested()`` and exports once
    :meth:`on_run_ended` reports a full-resolution result (:meth:`forget_pending_export`: the run was
    given up).  ``exportFinished(paths)`` when files were written.
    """

    exportFinished = Signal(list)
    fullRunRequested = Signal()

    def __init__(self, window: QMainWindow, settings: QSettings, tasks: TaskRunner, messages: Messages):
        super().__init__(window)
        self.window = window
        self.settings = settings
        self.tasks = tasks
        self.messages = messages
        self.doc: MatteDocument | None = None
        self._export_after_run = False

    def add_actions(self, menus: Menus) -> None:
        a = partial(make_action, self.window)
        self.action_export_trimap = a("Export &Trimap…", lambda: self.export_trimap(), tip="Write the trimap as an 8-bit PNG")
        self.action_export = a("&Export…", lambda: self.export(), "Ctrl+E", "Write the cut-out, alpha, trimap or routing heatmap")
        menus.file.addAction(self.action_export_trimap)
        menus.file.addAction(self.action_export)
        menus.add_shortcuts(self.action_export)

    def set_document(self, doc: MatteDocument | None) -> None:
        self.doc = doc
        self._export_after_run = False
        for action in (self.action_export_trimap, self.action_export):
            action.setEnabled(doc is not None)

    def on_run_ended(self, outcome: str) -> None:
        doc = self.doc
        if outcome != "finished" or not self._export_after_run or doc is None or doc.result is None or doc.result.is_preview:
            return
        self._export_after_run = False
        QTimer.singleShot(0, self.export)

    def forget_pending_export(self) -> None:
        self._export_after_run = False

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
            parent=self.window,
        )
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        if dialog.full_resolution_first():
            if not doc.has_hints:  # nothing to run
                self.messages.error("Cannot run the model", "Mark the subject first: the trimap needs Foreground and Unknown pixels.")
                return
            self._export_after_run = True
            self.fullRunRequested.emit()
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
            self.messages.error("Nothing to export yet", "Run the model first: only the trimap can be exported without a matte.")
            return None
        rgb, trimap, routing = doc.rgb, doc.trimap.copy(), list(doc.routing)
        icc, dpi = doc.image.icc_profile, doc.image.dpi
        relay = self.tasks.progress_relay()

        def task(cancel):
            if alpha is None:
                plan.trimap.parent.mkdir(parents=True, exist_ok=True)
                return [export_trimap(plan.trimap, trimap, icc_profile=icc, dpi=dpi, force=plan.overwrite)]
            return run_export(plan, rgb, alpha, trimap, routing, icc, dpi, progress=relay, cancel=cancel)

        def done(paths: list[Path]) -> None:
            # A notice, not a box: success needs no answer, and the next thing to do is often to look at the files.
            names = ", ".join(Path(p).name for p in paths)
            folder = Path(paths[0]).parent if paths else Path()
            count = f"{len(paths)} file{'s' if len(paths) != 1 else ''}"
            self.messages.notice(
                f"Exported {count} to {folder}: {names}",
                [("Show in Folder", lambda: self.show_in_folder(folder))],
                kind="success",
            )
            self.messages.status(f"Exported {count} to {folder}", STATUS_MS)
            self.exportFinished.emit([Path(p) for p in paths])

        return self.tasks.start(
            "export",
            task,
            done,
            lambda message: self.messages.error("Export failed", message),
            with_cancel=True,
            message=", ".join(p.name for p in outputs.values()),
        )

    def show_in_folder(self, folder: Path) -> bool:
        """Open ``folder`` in the system's file manager (Finder, Explorer, Files…)."""
        return QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def export_trimap(self, path: str | Path | None = None) -> None:
        """Write the trimap as an 8-bit gray PNG (the file dialog has confirmed any replacement)."""
        doc = self.doc
        if doc is None:
            return
        if path is None:
            start = str(Path(doc.image.path).with_name(f"{Path(doc.image.path).stem}_trimap.png"))
            path, _ = QFileDialog.getSaveFileName(self.window, "Export trimap", start, "PNG (*.png)")
            if not path:
                return
        path = Path(path)
        trimap = doc.trimap.copy()  # painting goes on while the worker writes
        self.tasks.start(
            "export trimap",
            lambda: export_trimap(path, trimap, force=True),
            lambda written: self.messages.status(f"Wrote {Path(written).name}", STATUS_MS),
            lambda message: self.messages.error("Cannot export the trimap", message),
            message=path.name,
        )


__all__ = ["ExportPart"]
