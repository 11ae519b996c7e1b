"""One photo of a batch, from its path to its written outputs.

:func:`process_photo` is the whole per-photo pipeline (find the trimap, load both, matte, write the
cutout and the alpha atomically) and is called unchanged by the local loop of ``matteapp batch`` and by
each cluster worker; that is what makes their outputs byte-identical for the same model, precision and
device type.  On the CPU that includes the number of threads: matrix products summed in another order
move alpha by about 1e-7, which can flip the rounding of a pixel.

Workers receive paths, never pixels, so the folder of photos, the trimaps and the output folders must
be reachable under the same paths wherever the function runs (one machine, or a shared file system).
"""

from __future__ import annotations

import math
import os
import re
import socket
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from matteapp.base import Cancelled, OutputExistsError

TRIMAP_SUFFIXES = (".png", ".PNG", ".tif", ".tiff", ".bmp", ".jpg", ".jpeg", ".webp")
# write_atomic's temporary name: ".{name}.{12 hex digits}.tmp" beside the output
_TEMPORARY = re.compile(r"\.(?P<name>.+)\.[0-9a-f]{12}\.tmp")


class PhotoFailed(Exception):
    """This photo cannot be matted; ``str(error)`` says why, for the user.  The batch goes on."""


@dataclass(frozen=True)
class BatchOptions:
    """What every photo of a batch is matted with; sent once to each worker (all paths absolute)."""

    trimaps: Path
    output: Path
    alpha_dir: Path | None = None
    decontaminate: bool = True
    resize_trimap: bool = False
    force: bool = False
    engine: str = "mematte"
    max_global_tokens: int | None = None
    memory_budget_mb: float | None = None
    # Outputs of a photo that is not done yet and that were written at or after this time (seconds
    # since the epoch: when the batch first started in this output folder) were left by an attempt
    # that was interrupted before the manifest recorded it, so they are replaced without --force.
    stale_after: float | None = None

    def outputs_for(self, photo: Path) -> list[Path]:
        """The files a photo's success leaves: the cutout, then the alpha when asked for."""
        outputs = [self.output / f"{photo.stem}.png"]
        if self.alpha_dir is not None:
            outputs.append(self.alpha_dir / f"{photo.stem}.png")
        return outputs

    def absolute(self) -> BatchOptions:
        """The same options with absolute paths, valid in a worker whose working directory differs."""
        return BatchOptions(
            **{
                **self.__dict__,
                "trimaps": Path(os.path.abspath(self.trimaps)),
                "output": Path(os.path.abspath(self.output)),
                "alpha_dir": Path(os.path.abspath(self.alpha_dir)) if self.alpha_dir is not None else None,
            }
        )


def find_trimap(folder: Path, stem: str) -> Path | None:
    """The trimap of the photo named ``stem`` in ``folder`` (any image suffix), or None."""
    for suffix in TRIMAP_SUFFIXES:
        p = folder / f"{stem}{suffix}"
        if p.is_file():
            return p
    return None


def model_label(session, engine: str) -> str:
    """What made the alphas, for the manifest; loads the session's model (the slow part) if needed."""
    if engine == "closed-form":
        return "closed-form"
    return session.predictor.source


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def matte_photo(session, photo: Path, options: BatchOptions, *, progress=None, cancel=None) -> dict:
    """Matte ``photo`` and write its outputs.  Returns the manifest fields of the success.

    Raises :class:`PhotoFailed` for what a user can fix (no or bad trimap, unreadable photo, an output
    in the way, not enough memory) and lets :class:`~matteapp.base.Cancelled` / KeyboardInterrupt and
    unexpected errors through.
    """
    from matteapp.engine.trimap import TrimapError, load_trimap
    from matteapp.io.export import export_alpha, export_cutout
    from matteapp.io.images import ImageLoadError, load_image

    trimap_path = find_trimap(options.trimaps, photo.stem)
    if trimap_path is None:
        raise PhotoFailed(f"no trimap named {photo.stem}.* in {options.trimaps}")
    try:
        loaded = load_image(photo)
    except ImageLoadError as exc:
        raise PhotoFailed(str(exc)) from None
    try:
        trimap = load_trimap(trimap_path, expected_size=loaded.size, resize=options.resize_trimap)
    except TrimapError as exc:
        raise PhotoFailed(str(exc)) from None
    try:
        result = session.run(
            loaded.rgb,
            trimap,
            engine=options.engine,
            max_global_tokens=options.max_global_tokens,
            memory_budget_mb=options.memory_budget_mb,
            progress=progress,
            cancel=cancel,
        )
    except (MemoryError, FileNotFoundError, ValueError) as exc:
        raise PhotoFailed(str(exc)) from None
    outputs = options.outputs_for(photo)
    meta = dict(icc_profile=loaded.icc_profile, dpi=loaded.dpi, force=options.force or _left_by_interrupted_attempt(outputs, options.stale_after))
    try:
        export_cutout(outputs[0], loaded.rgb, result.alpha, decontaminate=options.decontaminate, **meta)
        if options.alpha_dir is not None:
            export_alpha(outputs[1], result.alpha, **meta)
    except OutputExistsError as exc:
        raise PhotoFailed(str(exc)) from None
    except OSError as exc:
        raise PhotoFailed(f"cannot write output: {exc}") from None
    routed = result.routed_fraction
    return {
        "outputs": [str(p) for p in outputs],
        "device": f"{result.device}/{result.precision}",
        "routed": None if math.isnan(routed) else round(routed, 6),
    }


def process_photo(
    session,
    photo: Path,
    options: BatchOptions,
    attempt: int,
    *,
    model: str,
    worker: str | None = None,
    progress=None,
    cancel=None,
) -> dict:
    """The manifest record of one attempt at ``photo``: matted and written, or ``error`` set.

    A bad photo never raises (the batch goes on); only an interruption (Cancelled, KeyboardInterrupt)
    does.  ``model`` and ``worker`` are copied into the record.
    """
    t0 = time.perf_counter()
    record = {"photo": photo.name, "outputs": [], "model": model, "seconds": None, "routed": None, "error": None, "attempt": attempt}
    try:
        record.update(matte_photo(session, photo, options, progress=progress, cancel=cancel))
    except PhotoFailed as exc:
        record["error"] = str(exc)
    except (Cancelled, KeyboardInterrupt):
        raise
    except Exception as exc:  # noqa: BLE001 — a batch reports every failure and goes on
        record["error"] = f"{type(exc).__name__}: {exc}"
    record["seconds"] = round(time.perf_counter() - t0, 3)
    record["finished"] = round(time.time(), 3)
    record["worker"] = worker or worker_name()
    return record


def _left_by_interrupted_attempt(outputs: list[Path], stale_after: float | None) -> bool:
    """True when every output already there was written by an earlier attempt of this same batch.

    A worker killed after writing a photo's outputs but before the manifest recorded it leaves
    complete files with no record.  They belong to this batch (nothing else writes these names in this
    folder while it runs), so they may be replaced.  Files older than the batch are someone else's:
    they are kept, and the export refuses them as usual unless --force.
    """
    existing = [p for p in outputs if os.path.lexists(p)]
    if not existing or stale_after is None:
        return False
    try:
        return all(p.lstat().st_mtime >= stale_after for p in existing)
    except OSError:
        return False


def remove_temporaries(folder: Path, names: set[str] | None = None) -> int:
    """Delete the temporary files that writes killed midway left in ``folder``; returns how many.

    Only write_atomic's own pattern is touched, and only for the output ``names`` given (all of them
    when None).  Called when no worker is writing those names: at the start of a batch and after a
    worker died.  One pass over the folder, so never per photo (an output folder may hold 100,000).
    """
    removed = 0
    with suppress(OSError), os.scandir(folder) as entries:
        for entry in entries:
            m = _TEMPORARY.fullmatch(entry.name)
            if m and (names is None or m["name"] in names):
                with suppress(OSError):
                    os.unlink(entry.path)
                    removed += 1
    return removed


BeforePhoto = Callable[[Path], None]
"""Called with a photo's path just before it is matted, where it is matted (a local or a worker
process): the tests use it to kill a worker on a chosen photo."""

__all__ = [
    "BatchOptions",
    "BeforePhoto",
    "PhotoFailed",
    "find_trimap",
    "matte_photo",
    "model_label",
    "process_photo",
    "remove_temporaries",
    "worker_name",
]
