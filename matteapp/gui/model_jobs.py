"""Downloading and installing catalog models off the GUI thread, one job at a time.

Not on the :class:`~matteapp.gui.worker.MatteController`'s thread: a download takes minutes and that
thread must stay free for matting, and its one-task slot would let the next auto trimap cancel the
download.  The job runs on a plain daemon thread instead (a download blocked in a socket read must not
keep the application from quitting; the core then keeps the partial file for the next attempt), and
reports through a queued signal to this GUI-thread object.
"""

from __future__ import annotations

import itertools
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot

from matteapp.base import Cancelled
from matteapp.model.catalog import CatalogError
from matteapp.model.download import DownloadError, DownloadInterrupted, InstallResult, download_model, install_model_file

log = logging.getLogger(__name__)

BROWSER_ADVICE = "fetch the file in a browser and use Install from File…"


@dataclass
class _Job:
    id: int
    name: str
    kind: str  # "download" | "install"
    cancel: threading.Event
    thread: threading.Thread | None = None
    # The newest (done, total) and whether a report of it is on its way: the thread never queues a
    # second one, so the GUI thread always shows the newest count, including the last before a stall.
    latest: tuple[int, int | None] = (0, None)
    pending: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


def one_line(exc: BaseException) -> str:
    """The core's message as one sentence for the dialog's error line (the full text goes in its tooltip).

    The core writes for the command line ("run `matteapp models install NAME FILE`"); the dialog has a
    button for that instead.
    """
    text = str(exc).strip() or type(exc).__name__
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    first = lines[0].replace(" from every source failed:", ": every source failed:")
    if first.endswith(":") and len(lines) > 1:
        # "could not download X from every source failed:" followed by one "- source: reason" per line
        reasons = [line.lstrip("- ") for line in lines[1:] if line.startswith("-")]
        if reasons:
            more = f" (and {len(reasons) - 1} more; hover for all)" if len(reasons) > 1 else ""
            first = f"{first[:-1]}; {reasons[0]}{more}"
    if isinstance(exc, DownloadInterrupted):
        first = first.replace("run the same download again to resume", "Resume Download continues it")
    elif "matteapp models install" in text:
        first = f"{first.rstrip('.')} — {BROWSER_ADVICE}"
    first = re.sub(r"\s+", " ", first)
    return first[:1].upper() + first[1:]


class ModelJobs(QObject):
    """Runs :func:`~matteapp.model.download.download_model` or :func:`~matteapp.model.download.install_model_file`
    for one model at a time.

    Signals (on the GUI thread): ``started(name, kind)`` with kind "download" or "install";
    ``progress(name, done, total)`` in bytes (total None when the server does not say), as often as the
    GUI thread takes them and always with the newest count; then one of ``finished(name, InstallResult)``,
    ``failed(name, message)`` (one line; :attr:`last_error_detail` has the full text) or
    ``cancelled(name)``; ``busyChanged(bool)`` around the whole.
    """

    started = Signal(str, str)
    progress = Signal(str, object, object)  # object: byte counts pass 2**31
    finished = Signal(str, object)
    failed = Signal(str, str)
    cancelled = Signal(str)
    busyChanged = Signal(bool)

    _report = Signal(int, str, object)  # emitted on the job's thread

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._ids = itertools.count(1)
        self._job: _Job | None = None
        self._closed = False
        self.last_error_detail: str | None = None
        self._report.connect(self._on_report)

    @property
    def busy(self) -> bool:
        return self._job is not None

    @property
    def current(self) -> tuple[str, str] | None:
        """(name, kind) of the running job."""
        return (self._job.name, self._job.kind) if self._job is not None else None

    @property
    def cancelling(self) -> bool:
        return self._job is not None and self._job.cancel.is_set()

    def download(self, name: str, *, accept_licence: bool = False) -> None:
        self._start(name, "download", lambda progress, cancel: download_model(name, accept_licence=accept_licence, progress=progress, cancel=cancel))

    def install(self, name: str, file: str | Path, *, accept_licence: bool = False) -> None:
        self._start(
            name, "install", lambda progress, cancel: install_model_file(name, file, accept_licence=accept_licence, progress=progress, cancel=cancel)
        )

    def cancel(self) -> None:
        """Ask the running job to stop; ``cancelled`` follows once the core has deleted its partial file
        (at its next chunk, which on a stalled connection may take the read timeout)."""
        if self._job is not None:
            self._job.cancel.set()

    def shutdown(self, timeout_s: float = 2.0) -> None:
        """Cancel the running job and wait a little for it; the thread is a daemon, so a job stuck in
        the network does not hold the application open."""
        self._closed = True
        job = self._job
        if job is None:
            return
        job.cancel.set()
        if job.thread is not None:
            job.thread.join(timeout_s)

    # -- the job's thread ----------------------------------------------------------------------------
    def _start(self, name: str, kind: str, fn: Callable) -> None:
        if self._closed:
            raise RuntimeError("model downloads have been shut down")
        if self._job is not None:
            raise RuntimeError(f"{self._job.name} is still being {'downloaded' if self._job.kind == 'download' else 'installed'}")
        job = _Job(next(self._ids), name, kind, threading.Event())
        job.thread = threading.Thread(target=self._run, args=(job, fn), name=f"matteapp-model-{kind}", daemon=True)
        self._job = job
        self.last_error_detail = None
        self.busyChanged.emit(True)
        self.started.emit(name, kind)
        job.thread.start()

    def _run(self, job: _Job, fn: Callable) -> None:
        def progress(done: int, total: int | None) -> None:
            with job.lock:
                job.latest = (done, total)
                if job.pending:
                    return
                job.pending = True
            self._send(job.id, "progress", None)

        try:
            result = fn(progress, job.cancel.is_set)
        except Cancelled:
            self._send(job.id, "cancelled", None)
        except (DownloadError, CatalogError, OSError) as exc:
            log.info("%s of %s failed: %s", job.kind, job.name, exc)
            self._send(job.id, "failed", exc)
        except Exception as exc:  # noqa: BLE001 — every failure becomes a line in the dialog
            log.exception("%s of %s failed", job.kind, job.name)
            self._send(job.id, "failed", exc)
        else:
            self._send(job.id, "finished", result)

    def _send(self, job_id: int, what: str, value) -> None:
        try:
            self._report.emit(job_id, what, value)
        except RuntimeError:
            pass  # the window and this object are gone: nobody is left to tell

    # -- back on the GUI thread ----------------------------------------------------------------------
    @Slot(int, str, object)
    def _on_report(self, job_id: int, what: str, value) -> None:
        job = self._job
        if job is None or job.id != job_id or self._closed:
            return
        if what == "progress":
            with job.lock:
                done, total = job.latest
                job.pending = False
            self.progress.emit(job.name, done, total)
            return
        self._job = None
        if what == "finished":
            result: InstallResult = value
            self.finished.emit(job.name, result)
        elif what == "cancelled":
            self.cancelled.emit(job.name)
        else:
            self.last_error_detail = str(value)
            self.failed.emit(job.name, one_line(value))
        self.busyChanged.emit(False)


__all__ = ["BROWSER_ADVICE", "ModelJobs", "one_line"]
