"""The window's background tasks — opening, GrabCut, re-banding, trimap import and export, exporting — one
at a time on the worker, with their progress in the run panel.

Shaped like Orange3's ``ConcurrentWidgetMixin``: a part hands :meth:`TaskRunner.start` a function and what
to do with its value or its error; the function runs on the :class:`~matteapp.gui.worker.MatteController`'s
thread, and the answer comes back on the GUI thread through this narrow interface.  Matting requests
are not tasks: :mod:`matteapp.gui.window.running` submits those to the controller itself.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from matteapp.gui.widgets import RunPanel
from matteapp.gui.worker import MatteController
from matteapp.model.predictor import ProgressEvent

# What the run panel's progress line calls each of the window's background tasks.
TASK_TITLES = {
    "open": "opening",
    "auto trimap": "auto trimap",
    "band": "unknown band",
    "trimap from alpha": "trimap from alpha",
    "import trimap": "importing trimap",
    "export trimap": "exporting trimap",
    "export": "export",
    "refine edge": "refining the edge",
    "local update": "local update",
}


class TaskRunner(QObject):
    """Runs the window's tasks on ``controller`` and shows them in ``run_panel``'s progress line.

    The controller keeps one task at a time (a newer one cancels the older), so :attr:`kind` names the
    one that counts (None: none).  Signals: ``taskFinished(kind)`` / ``taskFailed(kind, message)`` when it
    ends, then ``settled()``.
    """

    taskFinished = Signal(str)
    taskFailed = Signal(str, str)
    settled = Signal()
    _progress = Signal(int, str, float, str)  # task serial, stage, fraction, message; emitted on the worker

    def __init__(self, controller: MatteController, run_panel: RunPanel, parent: QObject | None = None):
        super().__init__(parent)
        self.controller = controller
        self.run_panel = run_panel
        self.kind: str | None = None
        self._serial = 0
        self._progress.connect(self._on_progress)

    def start(
        self,
        kind: str,
        fn: Callable,
        on_done: Callable[[object], None],
        on_error: Callable[[str], None],
        *,
        with_cancel: bool = False,
        with_session: bool = False,
        message: str = "",
    ) -> int:
        """Run ``fn`` on the worker; ``on_done(value)`` / ``on_error(message)`` on the GUI thread after.
        ``with_cancel`` / ``with_session``: as :meth:`MatteController.run_task` passes them.  Returns the
        task's serial."""
        self._serial += 1
        serial = self._serial
        self.kind = kind

        def done(value) -> None:
            if serial != self._serial:
                return
            self.kind = None
            try:
                on_done(value)
            finally:
                if kind == "open":
                    self.run_panel.set_progress("idle", 0.0, "")
                else:
                    self.run_panel.set_progress(TASK_TITLES.get(kind, kind), 1.0, "done")
                self.taskFinished.emit(kind)
                self.settled.emit()

        def failed(text: str) -> None:
            if serial != self._serial:
                return
            self.kind = None
            try:
                on_error(text)
            finally:
                self.run_panel.set_progress("error", 0.0, text)
                self.taskFailed.emit(kind, text)
                self.settled.emit()

        self.controller.run_task(fn, done, failed, with_cancel=with_cancel, with_session=with_session)
        self.run_panel.set_progress(TASK_TITLES.get(kind, kind), None, message)
        return serial

    def progress_relay(self) -> Callable[[ProgressEvent], None]:
        """A progress callback, to be called on the worker thread, for the task the next :meth:`start` runs."""
        serial = self._serial + 1

        def relay(event: ProgressEvent) -> None:
            self._progress.emit(serial, event.stage, float(event.fraction), event.message)

        return relay

    def abandon(self) -> str | None:
        """After the controller's ``cancel()``: forget the running task, whose callbacks would not come,
        and say so in the progress line.  Returns its kind (None when none was running)."""
        kind = self.kind
        if kind is not None:
            self.kind = None
            self._serial += 1  # its callbacks no longer count
            self.run_panel.set_progress("cancelled", 0.0, kind)
        return kind

    def _on_progress(self, serial: int, stage: str, fraction: float, message: str) -> None:
        if serial == self._serial and self.kind is not None:
            self.run_panel.set_progress(stage, fraction, message)


__all__ = ["TASK_TITLES", "TaskRunner"]
