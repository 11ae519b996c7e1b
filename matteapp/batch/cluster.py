"""A batch on a Ray cluster: a pool of actors that each load the model once and matte photo after photo.

The driver (``matteapp batch --cluster …``) sends each actor photo *paths*, at most
:data:`IN_FLIGHT_PER_WORKER` at a time, and gets back the small manifest record of each photo; the
actor reads the photo and trimap and writes the outputs itself, through the same
:func:`~matteapp.batch.pipeline.process_photo` as the local loop.  So the driver holds no pixels and
only a bounded number of tasks, whatever the number of photos, and every node needs the photos,
trimaps and output folders under the same paths (a shared file system) and matteapp installed.

A worker that dies (its process killed, out of memory, its node lost) takes its in-flight photos with
it: each is recorded as a failed attempt, handed to a healthy worker *on its own* (so that a photo that
kills workers is found out and does not drag others down with it) up to ``max_attempts`` times, and the
dead worker is replaced.  A photo that merely fails (corrupt, no trimap) is recorded and not retried.

This is the only module of matteapp that imports Ray, and only inside functions: nothing imports it
unless ``--cluster`` is given.
"""

from __future__ import annotations

import itertools
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from matteapp.batch.pipeline import BatchOptions, BeforePhoto, model_label, process_photo, remove_temporaries, worker_name

INSTALL_HINT = "pip install 'matteapp[cluster]'"
# One photo computing and one waiting in the actor's queue: the actor never idles while the driver
# hands out the next path, and a lost actor takes at most two photos with it.
IN_FLIGHT_PER_WORKER = 2
DEFAULT_MAX_ATTEMPTS = 3
DEFAULT_CPUS_PER_WORKER = 4  # torch's CPU kernels gain little from more threads on one photo
WAITING_NOTE_AFTER_S = 60.0

# Ray exceptions meaning that the worker (or its node), not the photo, failed.
_WORKER_LOST = ("RayActorError", "WorkerCrashedError", "OutOfMemoryError", "NodeDiedError", "ObjectLostError", "OwnerDiedError")


class ClusterError(Exception):
    """The cluster cannot run this batch at all: no Ray, no cluster, or workers that cannot start."""


def import_ray():
    try:
        import ray
    except ImportError:
        raise ClusterError(f"--cluster needs Ray, which is not installed: {INSTALL_HINT}") from None
    return ray


@contextmanager
def connected(address: str):
    """Ray, connected for the duration of the block, then shut down.

    ``address``: "ray" (the cluster in RAY_ADDRESS, else the one last started on this machine, else a
    new local instance), "auto" (an existing cluster only), "ray://HOST:PORT" (Ray Client) or
    "HOST:PORT" (a cluster's head).  A Ray that is already initialized (a program embedding matteapp,
    the tests) is used as it is and left running.
    """
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    try:
        ray.init(address=None if address == "ray" else address, include_dashboard=False, logging_level=logging.WARNING)
    except ImportError as exc:  # Ray Client needs grpc, which the plain ray wheel does not bring
        raise ClusterError(f"cannot connect to {address}: {exc}; Ray Client needs pip install 'ray[client]'") from None
    except Exception as exc:  # noqa: BLE001 — ConnectionError, RuntimeError, ValueError… all mean "no cluster there"
        raise ClusterError(f"cannot connect to a Ray cluster at {address}: {_first_line(exc)}") from None
    try:
        yield ray
    finally:
        ray.shutdown()


# ------------------------------------------------------------------------------------------- the pool


@dataclass
class PoolSpec:
    """What the user asked for (None: decided from the cluster's resources by :func:`plan_pool`)."""

    workers: int | None = None
    cpus_per_worker: float | None = None
    gpus_per_worker: float | None = None
    model: str | None = None            # checkpoint path (absolute) or preset; None: the bundled model
    device: str = "auto"
    precision: str = "auto"
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    in_flight_per_worker: int = IN_FLIGHT_PER_WORKER


@dataclass(frozen=True)
class Pool:
    workers: int
    cpus: float      # Ray CPUs reserved per worker
    gpus: float      # Ray GPUs reserved per worker (fractions share a GPU)
    device: str      # what each worker runs the model on
    threads: int     # torch threads per worker

    def describe(self) -> str:
        gpu = f", {self.gpus:g} GPU" if self.gpus else ""
        return f"{self.workers} worker{'s' if self.workers != 1 else ''} × ({self.cpus:g} CPU{gpu}) on {self.device}"


def plan_pool(spec: PoolSpec, resources: dict) -> Pool:
    """Size the pool from the cluster's total resources: an actor per GPU when there are GPUs (and the
    device allows them), else an actor per few CPU cores.  Raises ClusterError when one worker asks
    for more than the whole cluster has, which would otherwise wait forever."""
    total_cpus = float(resources.get("CPU", 0))
    total_gpus = float(resources.get("GPU", 0))
    if spec.gpus_per_worker is not None:
        gpus = float(spec.gpus_per_worker)
    else:
        gpus = 1.0 if total_gpus >= 1 and spec.device in ("auto", "cuda") else 0.0
    if gpus and spec.device in ("cpu", "mps"):
        raise ClusterError(f"--device {spec.device} leaves the GPUs unused: drop --gpus-per-worker or the --device")
    if spec.device == "cuda" and not gpus:
        raise ClusterError("--device cuda needs GPUs, and the cluster has none (or pass --gpus-per-worker)")
    if spec.cpus_per_worker is not None:
        cpus = float(spec.cpus_per_worker)
    elif gpus:
        # share the CPUs among the GPU workers: decoding, decontamination and PNG encoding run there
        per_gpu_worker = total_cpus / max(1.0, total_gpus / gpus)
        cpus = float(max(1, min(DEFAULT_CPUS_PER_WORKER, math.floor(per_gpu_worker))))
    else:
        cpus = float(max(1, min(DEFAULT_CPUS_PER_WORKER, math.floor(total_cpus))))
    if gpus > total_gpus:
        raise ClusterError(f"a worker needs {gpus:g} GPU but the cluster has {total_gpus:g}")
    if cpus > total_cpus:
        raise ClusterError(f"a worker needs {cpus:g} CPU but the cluster has {total_cpus:g}")
    if spec.workers is not None:
        workers = spec.workers
    else:
        fits = [total_cpus // cpus] + ([total_gpus // gpus] if gpus else [])
        workers = max(1, int(min(fits)))
    device = spec.device if spec.device != "auto" else ("cuda" if gpus else "cpu")
    return Pool(workers=workers, cpus=cpus, gpus=gpus, device=device, threads=max(1, int(cpus)))


class BatchWorker:
    """One member of the pool (made a Ray actor by :func:`run_on_cluster`): loads the model once, then
    mattes the photos it is sent, one at a time."""

    def __init__(self, options: BatchOptions, model: str | None, device: str, precision: str, threads: int, before_photo: BeforePhoto | None = None):
        import torch

        # what the first photo would otherwise import (OpenCV, numba and pymatting take seconds): the
        # start-up is paid before the worker reports ready, and the manifest's seconds stay per photo
        import matteapp.engine.trimap  # noqa: F401
        import matteapp.io.export  # noqa: F401
        import matteapp.io.images  # noqa: F401
        from matteapp.engine.session import MattingSession

        # Ray sets OMP_NUM_THREADS from the actor's CPUs; torch must use the same number, or it
        # oversubscribes the node (and the thread count is part of what makes CPU results repeatable).
        torch.set_num_threads(threads)
        self.options = options
        self.before_photo = before_photo
        self.name = worker_name()
        self.session = MattingSession(model, device=device, precision=precision)
        self.model, self.error = None, None
        try:
            self.model = model_label(self.session, options.engine)
        except (FileNotFoundError, ValueError) as exc:  # no such checkpoint here, or not a checkpoint
            self.error = str(exc)
        except Exception as exc:  # noqa: BLE001 — reported to the driver, which decides
            self.error = f"{type(exc).__name__}: {exc}"

    def ready(self) -> dict:
        return {"worker": self.name, "model": self.model, "error": self.error}

    def process(self, photo: str, attempt: int) -> dict:
        path = Path(photo)
        if self.before_photo is not None:
            self.before_photo(path)
        return process_photo(self.session, path, self.options, attempt, model=self.model, worker=self.name)


@dataclass
class _Item:
    photo: Path
    attempt: int           # over all runs (the manifest's count)
    tries: int = 1         # in this run
    suspect: bool = False  # was in flight on a worker that died: runs alone on its next worker


@dataclass(eq=False)
class _Worker:
    handle: object
    number: int
    created: float = field(default_factory=time.monotonic)
    ready: bool = False
    name: str = ""
    model: str | None = None
    tasks: dict = field(default_factory=dict)  # ObjectRef → _Item
    solo: bool = False  # running a suspect: nothing else alongside it

    @property
    def label(self) -> str:
        return self.name or f"#{self.number}"


def run_on_cluster(
    ray,
    photos: Iterable[tuple[Path, int]],
    options: BatchOptions,
    spec: PoolSpec,
    pool: Pool,
    *,
    before_photo: BeforePhoto | None = None,
    notify: Callable[[str], None] | None = None,
) -> Iterator[dict]:
    """Matte ``photos`` ((absolute path, attempt number) pairs) on a pool of Ray actors; yields each
    attempt's manifest record as it ends (a record with ``"retrying": True`` is followed later by
    another one for the same photo).  Every photo ends with exactly one record without "retrying".

    Raises ClusterError if no worker ever starts (e.g. none can load the model).  Closing the
    generator early (an interrupted batch) kills the actors.
    """
    yield from _Dispatcher(ray, photos, options, spec, pool, before_photo, notify or (lambda message: None)).run()


class _Dispatcher:
    def __init__(self, ray, photos, options, spec, pool, before_photo, notify):
        self.ray = ray
        self.fresh = iter(photos)
        self.options = options
        self.spec = spec
        self.pool = pool
        self.notify = notify
        self.actor = ray.remote(BatchWorker).options(num_cpus=pool.cpus, num_gpus=pool.gpus, max_restarts=0, max_task_retries=0)
        self.before_photo = before_photo
        self.lost_errors = tuple(getattr(ray.exceptions, n) for n in _WORKER_LOST if hasattr(ray.exceptions, n))
        self.retry: deque[_Item] = deque()
        self.refs: dict = {}  # ObjectRef → (_Worker, _Item, or None for the readiness probe)
        self.workers: list[_Worker] = []
        self.numbers = itertools.count(1)
        # enough to replace every worker a few times, not to loop forever on a cluster that kills them all
        self.replacements = pool.workers * spec.max_attempts
        self.anyone_ready = False
        self.waiting_noted = False
        self.exhausted = False  # every photo has been handed out once

    # -------------------------------------------------------------------------------- the pool

    def start_worker(self) -> None:
        handle = self.actor.remote(self.options, self.spec.model, self.pool.device, self.spec.precision, self.pool.threads, self.before_photo)
        worker = _Worker(handle, next(self.numbers))
        self.refs[handle.ready.remote()] = (worker, None)
        self.workers.append(worker)

    def retire(self, worker: _Worker) -> None:
        if worker in self.workers:
            self.workers.remove(worker)
        for ref in worker.tasks:
            self.refs.pop(ref, None)
        for ref in [r for r, (w, item) in self.refs.items() if w is worker]:
            del self.refs[ref]
        with suppress(Exception):
            self.ray.kill(worker.handle, no_restart=True)

    def replace(self, worker: _Worker) -> None:
        self.retire(worker)
        if self.replacements > 0:
            self.replacements -= 1
            self.start_worker()
        elif not self.workers:
            self.notify("every worker has died and none is left to replace them; the remaining photos fail")

    # ------------------------------------------------------------------------------- the photos

    def take(self, idle: bool) -> _Item | None:
        if self.retry:
            # a suspect runs only on an idle worker; busy workers take nothing meanwhile so one drains
            return self.retry.popleft() if idle else None
        nxt = next(self.fresh, None)
        if nxt is None:
            self.exhausted = True
            return None
        return _Item(Path(nxt[0]), int(nxt[1]))

    def feed(self) -> None:
        for worker in self.workers:
            while worker.ready and not worker.solo and len(worker.tasks) < self.spec.in_flight_per_worker:
                item = self.take(idle=not worker.tasks)
                if item is None:
                    break
                ref = worker.handle.process.remote(str(item.photo), item.attempt)
                worker.tasks[ref] = item
                self.refs[ref] = (worker, item)
                worker.solo = item.suspect

    def record(self, item: _Item, error: str, worker: _Worker | None) -> dict:
        return {
            "photo": item.photo.name,
            "outputs": [],
            "model": worker.model if worker else None,
            "seconds": None,
            "routed": None,
            "error": error,
            "attempt": item.attempt,
            "finished": round(time.time(), 3),
            "worker": worker.label if worker else None,
        }

    def lose(self, worker: _Worker, why: str) -> Iterator[dict]:
        """The worker died: record and requeue its photos, clean up after its writes, replace it."""
        items = list(worker.tasks.values())
        self.replace(worker)
        if items:
            names = {p.name for item in items for p in self.options.outputs_for(item.photo)}
            for folder in {self.options.output, self.options.alpha_dir} - {None}:
                remove_temporaries(folder, names)  # a write it was in the middle of
        for item in items:
            rec = self.record(item, f"worker {worker.label} died: {why}", worker)
            if item.tries < self.spec.max_attempts:
                rec["retrying"] = True
                self.retry.append(_Item(item.photo, item.attempt + 1, item.tries + 1, suspect=True))
            else:
                rec["error"] += f" (gave up after {item.tries} attempts)"
            yield rec

    def note_waiting(self) -> None:
        now = time.monotonic()
        waiting = [w for w in self.workers if not w.ready and now - w.created > WAITING_NOTE_AFTER_S]
        if waiting and not self.waiting_noted:
            self.waiting_noted = True
            gpu = f", {self.pool.gpus:g} GPU" if self.pool.gpus else ""
            self.notify(
                f"{len(waiting)} of {len(self.workers)} workers are still starting after {WAITING_NOTE_AFTER_S:.0f} s "
                f"(each needs {self.pool.cpus:g} CPU{gpu}; the cluster has {self.ray.cluster_resources()}); the others go on"
            )

    def run(self) -> Iterator[dict]:
        ray = self.ray
        try:
            for _ in range(self.pool.workers):
                self.start_worker()
            while True:
                self.feed()
                if self.exhausted and not self.retry and not any(w.tasks for w in self.workers):
                    break  # all done: workers still starting (a replacement, one the cluster has no room for) are not waited for
                if not self.refs:
                    break  # no worker is left, running or starting
                done, _ = ray.wait(list(self.refs), num_returns=1, timeout=5.0)
                if not done:
                    self.note_waiting()
                    continue
                ref = done[0]
                worker, item = self.refs.pop(ref)
                try:
                    value = ray.get(ref)
                except self.lost_errors as exc:
                    if item is None and not self.anyone_ready:
                        # no worker has started yet: if none can, the batch cannot run (matteapp
                        # missing on the nodes, say); one that died while others start is let go
                        self.retire(worker)
                        if not self.workers:
                            raise ClusterError(f"the workers could not start: {_reason(exc)}") from None
                        self.notify(f"a worker could not start ({_reason(exc)}); going on with the others")
                        continue
                    yield from self.lose(worker, _reason(exc))
                    continue
                except ray.exceptions.RayTaskError as exc:
                    # process_photo turns every Exception into a record, so this is a BaseException
                    # raised in the worker (SystemExit from a library, say): this photo fails, once
                    if item is None:
                        yield from self.lose(worker, _reason(exc))
                        continue
                    worker.tasks.pop(ref, None)
                    worker.solo = False
                    yield self.record(item, _reason(exc), worker)
                    continue
                if item is None:
                    if value["error"] is not None:
                        if not self.anyone_ready:
                            raise ClusterError(f"a worker on {value['worker']} could not load the model: {value['error']}")
                        self.notify(f"a worker on {value['worker']} could not load the model ({value['error']}); replacing it")
                        self.replace(worker)
                    else:
                        worker.ready, worker.name, worker.model = True, value["worker"], value["model"]
                        self.anyone_ready = True
                    continue
                del worker.tasks[ref]
                if item.suspect:
                    worker.solo = False
                yield value
            # whatever is left never found a worker to run on
            for item in itertools.chain(self.retry, (_Item(Path(p), int(a)) for p, a in self.fresh)):
                yield self.record(item, "no worker left to matte it: every worker died", None)
        finally:
            for worker in list(self.workers):
                with suppress(Exception):
                    ray.kill(worker.handle, no_restart=True)


def _first_line(exc: BaseException) -> str:
    return next((line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__)


def _reason(exc: BaseException) -> str:
    """One line for the manifest out of Ray's many-line messages."""
    text = str(exc)
    why = f"{type(exc).__name__}: {_first_line(exc)}"[:300]
    if "OutOfMemory" in type(exc).__name__ or "memory pressure" in text or "out of memory" in text.lower():
        why += " (out of memory)"
    return why


__all__ = [
    "DEFAULT_MAX_ATTEMPTS",
    "INSTALL_HINT",
    "IN_FLIGHT_PER_WORKER",
    "BatchWorker",
    "ClusterError",
    "Pool",
    "PoolSpec",
    "connected",
    "import_ray",
    "plan_pool",
    "run_on_cluster",
]
