"""``OUT/manifest.jsonl``: what a batch has done, one JSON object per line, appended as it goes.

Two kinds of line.  A run line opens every run of the batch in this folder::

    {"run": 2, "started": 1733140000.12, "source": "/data/shoot", "photos": 100000, "pending": 61234, "workers": 8, ...}

and a photo line records each attempt at a photo as it ends::

    {"photo": "IMG_0001.jpg", "outputs": ["IMG_0001.png", "../alphas/IMG_0001.png"], "model": "/models/mematte.safetensors",
     "device": "cuda/bf16", "seconds": 1.93, "routed": 0.081, "error": null, "attempt": 1, "finished": 1733140002.05,
     "worker": "node3:4711"}

``error`` is null for a success, else the reason; ``attempt`` counts the tries at that photo over all
runs; ``seconds`` is the time the photo took where it ran, ``finished`` when it ended (epoch seconds); ``"retrying": true`` marks an attempt whose worker died and that was handed to another worker.
``outputs`` are relative to the manifest's folder.  A photo is done when its last line has no error
and its outputs are still there, so a rerun skips it; anything else is matted again.  Lines are flushed
one by one, so a killed batch loses at most the photos that were in flight; a torn last line is
skipped when read.  One batch at a time may write into a folder (a lock on the manifest says so).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

MANIFEST_NAME = "manifest.jsonl"
_FSYNC_EVERY_S = 5.0  # flushes make each line survive a killed process; fsyncs (rarer) a lost machine


class ManifestError(Exception):
    """The manifest cannot be used (unreadable, or another batch is writing into the same folder)."""


class Manifest:
    """Reads the history of a batch folder and appends to it.  Use :meth:`open`; close when done."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.folder = self.path.parent
        self.runs = 0
        self.started: float | None = None  # when the first run began: its outputs are this batch's
        self._attempts: dict[str, int] = {}
        self._done: set[str] = set()
        self.skipped_lines = 0
        self._file = None
        self._last_sync = 0.0

    @classmethod
    def open(cls, folder: Path) -> Manifest:
        manifest = cls(Path(folder) / MANIFEST_NAME)
        manifest._read()
        manifest._open_for_append()
        return manifest

    # ------------------------------------------------------------------------------------- reading

    def _read(self) -> None:
        try:
            f = open(self.path, encoding="utf-8")
        except FileNotFoundError:
            return
        except OSError as exc:
            raise ManifestError(f"cannot read {self.path}: {exc}") from None
        with f:
            for line in f:
                try:
                    entry = json.loads(line)
                except ValueError:  # a line torn by a killed batch, or not ours: the photo is redone
                    self.skipped_lines += 1
                    continue
                if not isinstance(entry, dict):
                    self.skipped_lines += 1
                elif "run" in entry:
                    self.runs = max(self.runs, _count(entry.get("run")))
                    if self.started is None and isinstance(entry.get("started"), (int, float)):
                        self.started = float(entry["started"])
                elif isinstance(entry.get("photo"), str):
                    name = entry["photo"]
                    self._note(name, entry)

    def _note(self, name: str, entry: dict) -> None:
        self._attempts[name] = max(self._attempts.get(name, 0), _count(entry.get("attempt")))
        if entry.get("error") is None:
            self._done.add(name)
        else:
            self._done.discard(name)

    def attempts(self, photo: str) -> int:
        """How many attempts at ``photo`` earlier runs recorded."""
        return self._attempts.get(photo, 0)

    def is_done(self, photo: str, outputs: list[Path], exists: Callable[[Path], bool] = os.path.exists) -> bool:
        """The last attempt at ``photo`` succeeded and the outputs asked for now are all there
        (``exists``: a faster check than one stat per file, e.g. against one listing of the folder)."""
        return photo in self._done and all(exists(p) for p in outputs)

    # ------------------------------------------------------------------------------------- writing

    def _open_for_append(self) -> None:
        try:
            self._file = open(self.path, "a+b")
        except OSError as exc:
            raise ManifestError(f"cannot write {self.path}: {exc}") from None
        self._lock()
        # a batch killed mid-line left no newline: start on a fresh line so the next record parses
        self._file.seek(0, os.SEEK_END)
        if self._file.tell():
            self._file.seek(-1, os.SEEK_END)
            if self._file.read(1) != b"\n":
                self._file.write(b"\n")

    def _lock(self) -> None:
        if sys.platform == "win32":
            return
        import fcntl

        try:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._file.close()
            raise ManifestError(f"{self.path} is in use: another batch is writing into {self.folder}") from None
        except OSError:
            pass  # a file system without locks (some network mounts): run unguarded

    def begin_run(self, **info) -> dict:
        """Append the line that opens a run; the first run's start time dates this batch's outputs."""
        now = time.time()
        if self.started is None:
            self.started = now
        self.runs += 1
        entry = {"run": self.runs, "started": round(now, 3), **info}
        self._write(entry, sync=True)
        return entry

    def append(self, record: dict) -> None:
        """Append one photo's attempt (``outputs`` made relative to the manifest's folder)."""
        entry = dict(record)
        entry["outputs"] = [self._relative(p) for p in record.get("outputs") or ()]
        self._note(entry["photo"], entry)
        self._write(entry, sync=time.monotonic() - self._last_sync > _FSYNC_EVERY_S)

    def _relative(self, path) -> str:
        try:
            return os.path.relpath(path, self.folder)
        except ValueError:  # another drive (Windows)
            return str(path)

    def _write(self, entry: dict, sync: bool) -> None:
        # one write per line, so that a killed process leaves at worst one torn line at the end
        self._file.write((json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8"))
        self._file.flush()
        if sync:
            os.fsync(self._file.fileno())
            self._last_sync = time.monotonic()

    def close(self) -> None:
        if self._file is not None and not self._file.closed:
            try:
                self._file.flush()
                os.fsync(self._file.fileno())
            finally:
                self._file.close()

    def __enter__(self) -> Manifest:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _count(value) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


__all__ = ["MANIFEST_NAME", "Manifest", "ManifestError"]
