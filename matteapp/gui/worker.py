"""Matting, model loading and other slow jobs on one background thread, never on the GUI thread.

The pattern is napari's / Orange3's: the GUI thread captures a request (:class:`MatteRequest`, with a
snapshot of the trimap), a worker ``QObject`` living on a ``QThread`` computes it without touching any
widget, and everything it reports travels back as queued signals carrying numpy objects.  The
:class:`MatteController` (on the GUI thread) tags every request with an id, lets only the current id's
signals through, and offers one newest-wins slot per kind of job, so the queue never grows:

* a new :meth:`~MatteController.submit` sets the running request's cancel event and replaces a request
  that has not started yet;
* a new :meth:`~MatteController.run_task` does the same to the previous task;
* :meth:`~MatteController.load_model` replaces a pending load; requests wait for it (loads go first).

While a MEMatte request runs, each router's keep map is forwarded as soon as its block has run
(``routing``), the decoder's alpha tiles follow one by one (``alphaTile``), and then the result
(``finished``).  ``progress`` is throttled to about 30 events a second; routing maps, tiles and the
result never are.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
import torch
from PySide6.QtCore import QCoreApplication, QObject, QThread, QTimer, Signal, Slot

from matteapp.engine.progress import FractionEstimator, RunEstimator, model_steps
from matteapp.engine.session import ENGINES, PREVIEW_LONG_SIDE, MattingSession, plan_for_budget, preview_size
from matteapp.gui.model_choice import describe_default
from matteapp.model.predictor import (
    DEFAULT_DECODER_TILE,
    Cancelled,
    MattePredictor,
    ProgressEvent,
    load_model,
    validate_inputs,
)

log = logging.getLogger(__name__)

PROGRESS_INTERVAL_S = 1 / 30
OOM_ADVICE = "try a preview, a memory budget (global-token cap), or a smaller photo"


# ------------------------------------------------------------------------------------------ requests


@dataclass(frozen=True, eq=False)
class MatteRequest:
    """One matting job, captured on the GUI thread.

    ``image``: H×W×3 uint8 RGB, read (never written) by the worker, so the caller must not modify it
    in place while the request runs.  ``trimap``: H×W uint8 0/128/255 — copied here, because the user
    keeps painting on the document's trimap while the worker reads this one.
    ``preview`` runs at ``preview_long_side``; ``memory_budget_mb`` overrides ``max_global_tokens``.
    """

    image: np.ndarray
    trimap: np.ndarray
    engine: str = "mematte"
    preview: bool = True
    preview_long_side: int = PREVIEW_LONG_SIDE
    max_global_tokens: int | None = None
    memory_budget_mb: float | None = None

    def __post_init__(self):
        object.__setattr__(self, "trimap", np.array(self.trimap, copy=True, order="C"))

    @property
    def work_size(self) -> tuple[int, int]:
        """(H, W) the engine runs at: the photo's size, or the preview's."""
        h, w = self.image.shape[:2]
        return preview_size(h, w, self.preview_long_side) if self.preview else (h, w)


@dataclass(frozen=True)
class ModelInfo:
    """What the UI shows about the loaded model."""

    name: str            # preset or checkpoint config name, e.g. "mematte-s"
    source: str          # checkpoint path, "preset:NAME", or what a custom loader described
    parameters: int
    size_mb: float       # weights in memory (fp32), MB
    device: str          # "cpu", "cuda", "mps"
    precision: str       # "fp32", "bf16", "fp16"
    routed: bool         # MEMatte (token routing) rather than ViTMatte
    num_heads: int = 0   # attention heads per block, for session.global_attention_savings
    embed_dim: int = 0   # token width, for the memory global attention held
    attention_grid: int = 224  # px of one attention window (patch × window size): local updates align to it

    @classmethod
    def from_predictor(cls, predictor: MattePredictor, source: str | None = None) -> ModelInfo:
        params = list(predictor.network.parameters())
        return cls(
            name=predictor.name,
            source=source or predictor.source,
            parameters=sum(p.numel() for p in params),
            size_mb=sum(p.numel() * p.element_size() for p in params) / 2**20,
            device=predictor.device.type,
            precision=predictor.precision,
            routed=predictor.is_routed,
            num_heads=int(predictor.config.num_heads),
            embed_dim=int(predictor.config.embed_dim),
            attention_grid=int(predictor.config.patch_size * predictor.config.window_size),
        )

    def describe(self) -> str:
        kind = "MEMatte" if self.routed else "ViTMatte"
        return f"{self.name} ({kind}, {self.parameters / 1e6:.1f} M parameters, {self.size_mb:.0f} MB) on {self.device} / {self.precision}"


# --------------------------------------------------------------------------------- failures, progress


def is_out_of_memory(exc: BaseException) -> bool:
    if isinstance(exc, (MemoryError, torch.cuda.OutOfMemoryError)):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)


def _exception_text(exc: BaseException) -> str:
    text = str(exc).strip()
    # KeyError's text is just the quoted key, and some exceptions carry none: name the type then.
    if not text or isinstance(exc, KeyError):
        return f"{type(exc).__name__}: {text}".rstrip(": ")
    return text


def describe_failure(exc: BaseException) -> tuple[str, str]:
    """(kind, readable message) for an exception from a matting request or task.

    kind: "oom" (out of memory, with advice), "input" (ValueError: bad photo, trimap, file or
    settings) or "error" (anything else; its message).
    """
    if is_out_of_memory(exc):
        text = _exception_text(exc) if isinstance(exc, MemoryError) else ""
        if text and "try" in text:  # the session's own message already gives advice
            return "oom", text
        detail = f" ({text.splitlines()[0]})" if text and text != "MemoryError" else ""
        return "oom", f"Not enough memory to finish{detail}; {OOM_ADVICE}."
    if isinstance(exc, ValueError):
        return "input", _exception_text(exc)
    return "error", _exception_text(exc)


def load_failure_message(exc: BaseException, description: str) -> str:
    """Readable reason a model did not load (checkpoint errors already name the file)."""
    from matteapp.model.checkpoint import CheckpointError

    if is_out_of_memory(exc):
        return f"Not enough memory to load {description}; close other programs or choose a smaller model."
    if isinstance(exc, (CheckpointError, FileNotFoundError)):
        return _exception_text(exc)
    return f"Could not load {description}: {_exception_text(exc)}"


def validate_predictor(predictor: object) -> MattePredictor:
    """Checks a freshly loaded model end to end on a 32×32 input; raises ValueError / TypeError.

    The checkpoint loader already checks names and shapes; this catches weights that load but
    compute nothing usable (NaN/inf) before the first real photo does.
    """
    if not isinstance(predictor, MattePredictor):
        raise TypeError(f"the model loader returned a {type(predictor).__name__}, not a MattePredictor")
    image = np.zeros((32, 32, 3), np.uint8)
    trimap = np.full((32, 32), 128, np.uint8)
    alpha = predictor.predict(image, trimap).alpha
    if not np.isfinite(alpha).all():
        raise ValueError(f"{predictor.name}: the model computes NaN or infinite alpha on a test input, so its weights are damaged")
    return predictor


class ProgressThrottle:
    """Lets a progress event through at most every ``interval_s``, except the first of each stage
    and the last (fraction ≥ 1), so the bar never lags a stage behind."""

    def __init__(self, interval_s: float = PROGRESS_INTERVAL_S, clock: Callable[[], float] = time.monotonic):
        self.interval_s = interval_s
        self._clock = clock
        self._stage: str | None = None
        self._last = -float("inf")

    def allow(self, stage: str, fraction: float) -> bool:
        now = self._clock()
        if stage != self._stage or fraction >= 1.0 or now - self._last >= self.interval_s:
            self._stage, self._last = stage, now
            return True
        return False


# ------------------------------------------------------------------------------------------- mailbox


class _LoadJob:
    __slots__ = ("id", "source", "device", "precision", "loader", "description", "implicit")

    def __init__(self, job_id, source, device, precision, loader, description, implicit=False):
        self.id, self.source, self.device, self.precision = job_id, source, device, precision
        self.loader, self.description, self.implicit = loader, description, implicit


class _RequestJob:
    __slots__ = ("id", "request", "cancel")

    def __init__(self, job_id: int, request: MatteRequest):
        self.id, self.request, self.cancel = job_id, request, threading.Event()


class _TaskJob:
    __slots__ = ("id", "fn", "with_cancel", "with_session", "cancel")

    def __init__(self, job_id: int, fn: Callable, with_cancel: bool, with_session: bool = False):
        self.id, self.fn, self.with_cancel, self.with_session = job_id, fn, with_cancel, with_session
        self.cancel = threading.Event()


class _Mailbox:
    """The jobs waiting for the worker: one slot per kind, a newer job replaces a waiting one."""

    def __init__(self):
        self._lock = threading.Lock()
        self._slots: dict[str, object | None] = {"load": None, "request": None, "task": None}
        self._closed = False

    def put(self, kind: str, job) -> None:
        with self._lock:
            self._slots[kind] = job

    def withdraw(self, kind: str, job_id: int) -> bool:
        """Removes the job if it is still waiting; False once the worker has taken it."""
        with self._lock:
            job = self._slots[kind]
            if job is not None and job.id == job_id:
                self._slots[kind] = None
                return True
            return False

    def take(self):
        """The next job: a load first (requests need the model), then the older of request and task."""
        with self._lock:
            if self._closed:
                return None
            if self._slots["load"] is not None:
                kind = "load"
            else:
                waiting = [k for k in ("request", "task") if self._slots[k] is not None]
                if not waiting:
                    return None
                kind = min(waiting, key=lambda k: self._slots[k].id)
            job, self._slots[kind] = self._slots[kind], None
            return job

    def newer_load_waiting(self, job_id: int) -> bool:
        with self._lock:
            job = self._slots["load"]
            return job is not None and job.id > job_id

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._slots = dict.fromkeys(self._slots)


# -------------------------------------------------------------------------------------------- worker


class _InferenceWorker(QObject):
    """Lives on the inference thread; runs what the mailbox holds and reports with signals only."""

    modelLoading = Signal(int, str)
    modelReady = Signal(int, object)
    modelFailed = Signal(int, str)
    started = Signal(int)
    timing = Signal(int, object)
    progress = Signal(int, str, float, str)
    routing = Signal(int, int, object, object, tuple)
    alphaTile = Signal(int, tuple, object, tuple)
    finished = Signal(int, object)
    failed = Signal(int, str, str)
    cancelled = Signal(int)
    taskDone = Signal(int, object)
    taskFailed = Signal(int, str)
    taskCancelled = Signal(int)

    def __init__(self, mailbox: _Mailbox):
        super().__init__()
        self._mailbox = mailbox
        self._session: MattingSession | None = None
        # What earlier runs measured on this machine, per (model, device, precision): seconds per
        # multiply-accumulate by kind of step, and the routers' shares, to time the next run from its start.
        self._rates: dict[tuple, dict[str, float]] = {}
        self._routed_shares: dict[tuple, list[float]] = {}

    @Slot()
    def drain(self) -> None:
        # One wake-up may find several jobs (or none: an earlier wake-up already ran them).
        while (job := self._mailbox.take()) is not None:
            if isinstance(job, _LoadJob):
                self._load(job)
            elif isinstance(job, _RequestJob):
                self._matte(job)
            else:
                self._task(job)

    # -- model --------------------------------------------------------------------------------------
    def _load(self, job: _LoadJob) -> str | None:
        """Loads and installs a model; returns the failure message, or None on success."""
        self.modelLoading.emit(job.id, job.description)
        t0 = time.perf_counter()
        try:
            if job.loader is not None:
                predictor = job.loader()
            else:
                predictor = load_model(job.source, device=job.device, precision=job.precision)
            validate_predictor(predictor)
        except Exception as exc:  # noqa: BLE001 — every failure becomes a message for the user
            message = load_failure_message(exc, job.description)
            log.warning("model load failed: %s", message, exc_info=not isinstance(exc, (ValueError, OSError)))
            self.modelFailed.emit(job.id, message)
            return message
        log.info("loaded %s in %.1f s", predictor.describe(), time.perf_counter() - t0)
        if job.implicit or not self._mailbox.newer_load_waiting(job.id):
            self._session = MattingSession(predictor=predictor)
        self.modelReady.emit(job.id, ModelInfo.from_predictor(predictor, source=job.description if job.loader else None))
        return None

    def _session_for(self, request: MatteRequest, request_id: int) -> MattingSession:
        if request.engine == "closed-form":
            return self._session or MattingSession()  # closed-form never touches the model
        return self._model_session(request_id)

    def _model_session(self, request_id: int) -> MattingSession:
        if self._session is None:
            description = describe_default()
            self.progress.emit(request_id, "model", 0.0, f"loading {description}")
            job = _LoadJob(request_id, None, "auto", "auto", None, description, implicit=True)
            failure = self._load(job)
            if failure is not None:
                raise RuntimeError(f"No model is loaded. {failure}")
        return self._session

    # -- matting ------------------------------------------------------------------------------------
    def _matte(self, job: _RequestJob) -> None:
        rid, request, cancel = job.id, job.request, job.cancel
        if cancel.is_set():
            self.cancelled.emit(rid)
            return
        self.started.emit(rid)
        t0 = time.perf_counter()
        try:
            if request.engine not in ENGINES:
                raise ValueError(f"unknown engine {request.engine!r}; choose {' or '.join(ENGINES)}")
            validate_inputs(request.image, request.trimap)
            session = self._session_for(request, rid)
            if cancel.is_set():
                raise Cancelled("cancelled while the model loaded")
            work_size = request.work_size
            throttle = ProgressThrottle()
            estimator, key = self._estimator_for(session, request)
            self.timing.emit(rid, estimator)

            def relay(event: ProgressEvent) -> None:
                estimator.observe(event)
                if cancel.is_set():
                    return  # the controller would drop it: spare the GUI thread the delivery
                if event.routing is not None:
                    grid = tuple(event.routing.shape)
                    self.routing.emit(rid, event.routed_index, event.routing, event.router_probs, grid)
                if event.alpha_tile is not None:
                    y0, y1, x0, x1 = event.tile
                    self.alphaTile.emit(rid, (x0, y0, x1 - x0, y1 - y0), event.alpha_tile, work_size)
                if throttle.allow(event.stage, event.fraction):
                    self.progress.emit(rid, event.stage, float(event.fraction), event.message)

            result = session.run(
                request.image,
                request.trimap,
                engine=request.engine,
                preview=request.preview,
                preview_long_side=request.preview_long_side,
                max_global_tokens=request.max_global_tokens,
                memory_budget_mb=request.memory_budget_mb,
                progress=relay,
                cancel=cancel.is_set,
                keep_context=True,  # local updates after an edit see the whole photo as this run did
            )
        except Cancelled:
            log.info("request %d cancelled after %.2f s", rid, time.perf_counter() - t0)
            self.cancelled.emit(rid)
        except Exception as exc:  # noqa: BLE001 — every failure becomes a message for the user
            kind, message = describe_failure(exc)
            if kind == "error":
                log.exception("request %d failed", rid)
            else:
                log.info("request %d failed (%s): %s", rid, kind, message)
            self.failed.emit(rid, kind, message)
        else:
            if key is not None:
                self._rates[key] = estimator.rates()
                self._routed_shares[key] = estimator.routed_shares()
            self.finished.emit(rid, result)

    def _estimator_for(self, session: MattingSession, request: MatteRequest):
        """(estimator of the run's progress, key its measurements are kept under, None: not kept)."""
        if request.engine == "closed-form":
            return FractionEstimator(), None
        predictor = session.predictor
        config = predictor.config
        trimap = request.trimap
        h, w = request.work_size
        if (h, w) != trimap.shape:
            trimap = cv2.resize(trimap, (w, h), interpolation=cv2.INTER_NEAREST)  # as the session's preview does
        cap, tile = request.max_global_tokens, DEFAULT_DECODER_TILE
        if request.memory_budget_mb is not None:
            try:
                cap, tile = plan_for_budget(config, h, w, request.memory_budget_mb, predictor.precision)
            except ValueError:
                return FractionEstimator(), None  # the run itself will say why it cannot start
        key = (predictor.source, predictor.device.type, predictor.precision)
        try:
            steps = model_steps(config, trimap, cap, tile)
        except Exception:  # noqa: BLE001 — an unusual model's cost model must not stop the run itself
            log.warning("cannot time a run of %s; its progress shows the model's own fractions", predictor.name, exc_info=True)
            return FractionEstimator(), None
        return RunEstimator(steps, self._rates.get(key), self._routed_shares.get(key)), key

    # -- generic tasks ------------------------------------------------------------------------------
    def _task(self, job: _TaskJob) -> None:
        if job.cancel.is_set():
            self.taskCancelled.emit(job.id)
            return
        try:
            args = ([self._model_session(job.id)] if job.with_session else []) + ([job.cancel.is_set] if job.with_cancel else [])
            value = job.fn(*args)
        except Cancelled:
            self.taskCancelled.emit(job.id)
        except Exception as exc:  # noqa: BLE001 — every failure becomes a message for the user
            kind, message = describe_failure(exc)
            if kind == "error":
                log.exception("task %d failed", job.id)
            self.taskFailed.emit(job.id, message)
        else:
            self.taskDone.emit(job.id, value)


# ---------------------------------------------------------------------------------------- controller


class _TaskState:
    __slots__ = ("job", "on_done", "on_error")

    def __init__(self, job: _TaskJob, on_done, on_error):
        self.job, self.on_done, self.on_error = job, on_done, on_error


class MatteController(QObject):
    """The GUI thread's handle on the inference thread (create it on the GUI thread).

    Every public signal is emitted on the GUI thread and only for the current id: signals of a
    request that was replaced or cancelled never get through, except ``cancelled(id)`` confirming the
    cancel of the current one.  Call :meth:`shutdown` before the application exits (it is also
    connected to ``QCoreApplication.aboutToQuit``).
    """

    modelLoading = Signal(str)                          # what is being loaded
    modelReady = Signal(object)                         # ModelInfo
    modelFailed = Signal(str)                           # readable message
    started = Signal(int)                               # request id
    timing = Signal(int, object)                        # id, its RunEstimator / FractionEstimator (ask it any time)
    progress = Signal(int, str, float, str)             # id, stage, fraction 0..1, message
    routing = Signal(int, int, object, object, tuple)   # id, router 0..3, keep bool (gh, gw), probs float32 (gh, gw), (gh, gw)
    alphaTile = Signal(int, tuple, object, tuple)       # id, (x, y, w, h) work coords, float32 (h, w) tile, work size (H, W)
    finished = Signal(int, object)                      # id, SessionResult
    failed = Signal(int, str, str)                      # id, "oom" | "error" | "input", readable message
    cancelled = Signal(int)                             # id
    busyChanged = Signal(bool)

    _wake = Signal()

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._ids = itertools.count(1)
        self._mailbox = _Mailbox()
        self._request: _RequestJob | None = None
        self._task: _TaskState | None = None
        self._load_id = 0                     # newest explicit load; older model signals are stale
        self._loading_id: int | None = None   # that load, while it has not reported
        self._model_info: ModelInfo | None = None
        self._busy = False
        self._closed = False

        self._thread = QThread(self)
        self._thread.setObjectName("matteapp-inference")
        self._worker = _InferenceWorker(self._mailbox)
        self._worker.moveToThread(self._thread)
        self._thread.finished.connect(self._worker.deleteLater)
        self._wake.connect(self._worker.drain)
        # The slots are methods of this GUI-thread object, so these connections are queued: they run
        # on the GUI thread, in the order the worker emitted them.
        w = self._worker
        w.modelLoading.connect(self._on_model_loading)
        w.modelReady.connect(self._on_model_ready)
        w.modelFailed.connect(self._on_model_failed)
        w.started.connect(self._on_started)
        w.timing.connect(self._on_timing)
        w.progress.connect(self._on_progress)
        w.routing.connect(self._on_routing)
        w.alphaTile.connect(self._on_alpha_tile)
        w.finished.connect(self._on_finished)
        w.failed.connect(self._on_failed)
        w.cancelled.connect(self._on_cancelled)
        w.taskDone.connect(self._on_task_done)
        w.taskFailed.connect(self._on_task_failed)
        w.taskCancelled.connect(self._on_task_cancelled)
        self._thread.start()
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

    # -- state --------------------------------------------------------------------------------------
    @property
    def is_busy(self) -> bool:
        """A request, a task or an explicit model load has not finished yet."""
        return self._busy

    @property
    def current_id(self) -> int | None:
        """Id of the current matting request (until its finished/failed/cancelled), else None."""
        return self._request.id if self._request is not None else None

    @property
    def model_info(self) -> ModelInfo | None:
        """The model that loaded last (None until one has)."""
        return self._model_info

    @property
    def is_shut_down(self) -> bool:
        return self._closed

    def _update_busy(self) -> None:
        busy = not self._closed and (self._request is not None or self._task is not None or self._loading_id is not None)
        if busy != self._busy:
            self._busy = busy
            self.busyChanged.emit(busy)

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the inference worker has been shut down")

    # -- commands -----------------------------------------------------------------------------------
    def load_model(
        self,
        source: str | None,
        device: str = "auto",
        precision: str = "auto",
        *,
        loader: Callable[[], MattePredictor] | None = None,
    ) -> None:
        """Loads a model on the worker: ``source`` None = the default model (a pinned one, else the best
        installed official model, else the bundled one: :func:`~matteapp.model.predictor.resolve_default_model`),
        else a checkpoint path or preset name (see :func:`matteapp.model.predictor.load_model`).  ``loader``, if given, is called on
        the worker instead and must return a :class:`MattePredictor` (``source`` then only describes
        it).  Answers with ``modelLoading`` then ``modelReady`` or ``modelFailed``; a failed load keeps
        the previous model."""
        self._check_open()
        load_id = next(self._ids)
        self._load_id = self._loading_id = load_id
        self._mailbox.put("load", _LoadJob(load_id, source, device, precision, loader, _describe_source(source, loader)))
        self._wake.emit()
        self._update_busy()

    def submit(self, request: MatteRequest) -> int:
        """Queues ``request`` (replacing and cancelling the previous one); returns its id.

        Without a loaded model, the worker loads the default model first (``modelLoading`` …).
        """
        self._check_open()
        if not isinstance(request, MatteRequest):
            raise TypeError(f"submit() takes a MatteRequest, not {type(request).__name__}")
        if self._request is not None:
            self._request.cancel.set()
        job = _RequestJob(next(self._ids), request)
        self._request = job
        self._mailbox.put("request", job)
        self._wake.emit()
        self._update_busy()
        return job.id

    def cancel(self) -> None:
        """Cancels the current request (``cancelled(id)`` follows) and the current task (its callbacks
        are not called).  A request that has not started is confirmed at once; a running one at its
        next check (between blocks and decoder tiles)."""
        job = self._request
        if job is not None and not job.cancel.is_set():
            job.cancel.set()
            if self._mailbox.withdraw("request", job.id):
                QTimer.singleShot(0, self, lambda: self._on_cancelled(job.id))
        state = self._task
        if state is not None and not state.job.cancel.is_set():
            state.job.cancel.set()
            if self._mailbox.withdraw("task", state.job.id):
                self._task = None
                self._update_busy()

    def run_task(
        self,
        fn: Callable[..., object],
        on_done: Callable[[object], None],
        on_error: Callable[[str], None],
        *,
        with_cancel: bool = False,
        with_session: bool = False,
    ) -> int:
        """Runs ``fn()`` on the worker (after the job ahead of it); returns the task id.

        ``on_done(value)`` or ``on_error(message)`` is then called on the GUI thread — unless a newer
        task replaced this one or :meth:`cancel` was called, in which case neither is.  With
        ``with_cancel``, ``fn`` is called as ``fn(cancel)`` where ``cancel()`` is true once the task is
        stale (``fn`` may raise :class:`~matteapp.model.predictor.Cancelled`, e.g. by passing it on to
        :func:`~matteapp.engine.session.trimap_from_model`).  With ``with_session``, the worker's
        :class:`~matteapp.engine.session.MattingSession` comes first: ``fn(session)`` or ``fn(session, cancel)``
        (the bundled model is loaded for it if none is).
        """
        self._check_open()
        if self._task is not None:
            self._task.job.cancel.set()
        job = _TaskJob(next(self._ids), fn, with_cancel, with_session)
        self._task = _TaskState(job, on_done, on_error)
        self._mailbox.put("task", job)
        self._wake.emit()
        self._update_busy()
        return job.id

    def shutdown(self, timeout_ms: int = 5000) -> bool:
        """Cancels everything, stops the thread and joins it; True if it stopped within ``timeout_ms``.

        A job that cannot be interrupted (a model load, a task without
        ``with_cancel``) delays the join until it returns.
        """
        if self._closed:
            return self._thread.isFinished()
        self._closed = True
        for job in (self._request, self._task.job if self._task else None):
            if job is not None:
                job.cancel.set()
        self._mailbox.close()
        self._thread.quit()
        joined = self._thread.wait(timeout_ms)
        if not joined:
            log.warning("the inference thread did not stop within %d ms", timeout_ms)
        self._request, self._task, self._loading_id = None, None, None
        self._update_busy()
        app = QCoreApplication.instance()
        if app is not None:
            try:
                app.aboutToQuit.disconnect(self.shutdown)
            except (RuntimeError, TypeError):
                pass  # already disconnected (e.g. called from aboutToQuit itself)
        return joined

    # -- worker reports (GUI thread) ----------------------------------------------------------------
    def _live(self, request_id: int) -> bool:
        job = self._request
        return not self._closed and job is not None and job.id == request_id and not job.cancel.is_set()

    def _end_request(self, request_id: int) -> _RequestJob | None:
        job = self._request
        if self._closed or job is None or job.id != request_id:
            return None
        self._request = None
        return job

    @Slot(int, str)
    def _on_model_loading(self, load_id: int, description: str) -> None:
        if not self._closed and load_id >= self._load_id:
            self.modelLoading.emit(description)

    @Slot(int, object)
    def _on_model_ready(self, load_id: int, info: ModelInfo) -> None:
        if self._closed or load_id < self._load_id:
            return
        self._model_info = info
        if load_id == self._loading_id:
            self._loading_id = None
        self.modelReady.emit(info)
        self._update_busy()

    @Slot(int, str)
    def _on_model_failed(self, load_id: int, message: str) -> None:
        if self._closed or load_id < self._load_id:
            return
        if load_id == self._loading_id:
            self._loading_id = None
        self.modelFailed.emit(message)
        self._update_busy()

    @Slot(int)
    def _on_started(self, request_id: int) -> None:
        if self._live(request_id):
            self.started.emit(request_id)

    @Slot(int, object)
    def _on_timing(self, request_id: int, estimator) -> None:
        if self._live(request_id):
            self.timing.emit(request_id, estimator)

    @Slot(int, str, float, str)
    def _on_progress(self, request_id: int, stage: str, fraction: float, message: str) -> None:
        if self._live(request_id):
            self.progress.emit(request_id, stage, fraction, message)

    @Slot(int, int, object, object, tuple)
    def _on_routing(self, request_id, router, keep, probs, grid) -> None:
        if self._live(request_id):
            self.routing.emit(request_id, router, keep, probs, grid)

    @Slot(int, tuple, object, tuple)
    def _on_alpha_tile(self, request_id, rect, tile, work_size) -> None:
        if self._live(request_id):
            self.alphaTile.emit(request_id, rect, tile, work_size)

    @Slot(int, object)
    def _on_finished(self, request_id: int, result) -> None:
        job = self._end_request(request_id)
        if job is None:
            return
        # A cancel that came after the worker's last check still wins: the user asked for it.
        if job.cancel.is_set():
            self.cancelled.emit(request_id)
        else:
            self.finished.emit(request_id, result)
        self._update_busy()

    @Slot(int, str, str)
    def _on_failed(self, request_id: int, kind: str, message: str) -> None:
        job = self._end_request(request_id)
        if job is None:
            return
        if job.cancel.is_set():
            self.cancelled.emit(request_id)
        else:
            self.failed.emit(request_id, kind, message)
        self._update_busy()

    @Slot(int)
    def _on_cancelled(self, request_id: int) -> None:
        if self._end_request(request_id) is None:
            return
        self.cancelled.emit(request_id)
        self._update_busy()

    def _end_task(self, task_id: int) -> _TaskState | None:
        state = self._task
        if self._closed or state is None or state.job.id != task_id:
            return None
        self._task = None
        return None if state.job.cancel.is_set() else state

    @Slot(int, object)
    def _on_task_done(self, task_id: int, value) -> None:
        state = self._end_task(task_id)
        try:
            if state is not None:
                state.on_done(value)
        finally:
            self._update_busy()

    @Slot(int, str)
    def _on_task_failed(self, task_id: int, message: str) -> None:
        state = self._end_task(task_id)
        try:
            if state is not None:
                state.on_error(message)
        finally:
            self._update_busy()

    @Slot(int)
    def _on_task_cancelled(self, task_id: int) -> None:
        self._end_task(task_id)
        self._update_busy()


def _describe_source(source: str | None, loader) -> str:
    if loader is not None:
        return source or "a custom model"
    if source is None:
        return describe_default()
    from matteapp.model import preset_names

    if source in preset_names():
        return f"preset {source} (random weights)"
    return str(source)


__all__ = [
    "MatteController",
    "MatteRequest",
    "ModelInfo",
    "ProgressThrottle",
    "describe_failure",
    "is_out_of_memory",
    "load_failure_message",
    "validate_predictor",
]
