"""The bottom layer: helpers that every part of matteapp shares and that import nothing of the project.

Keeping them here (rather than in the modules that first needed them) is what keeps the package free
of import circles: the model, the engine, the document and the I/O all import this module, and it
imports none of them (``tests/test_layers.py`` checks both).
"""

from __future__ import annotations

import atexit
import errno
import os
import secrets
from collections.abc import Callable
from contextlib import ExitStack, suppress
from importlib import resources as _resources
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable


class Cancelled(Exception):
    """Raised inside a long computation (``predict``, closed-form, foreground estimation, an export)
    when the caller's cancel check returns true."""


class OutputExistsError(FileExistsError):
    """The output file exists and overwriting it was not allowed."""

    def __init__(self, path: os.PathLike | str):
        super().__init__(errno.EEXIST, f"{path} already exists: use --force (or confirm overwriting) to replace it")
        self.filename = str(path)

    def __str__(self) -> str:
        # OSError's own format, "[Errno 17] …: 'path'", would name the path twice
        return self.strerror


# ------------------------------------------------------------------------------------------ atomic write


def refuse_existing(path: Path, force: bool) -> None:
    """Raise :class:`OutputExistsError` if ``path`` exists and ``force`` is not set (checked before slow work)."""
    if not force and os.path.lexists(path):
        raise OutputExistsError(path)


def _fsync_directory(directory: Path) -> None:
    # Makes the rename itself durable on POSIX; Windows cannot open a directory for this.
    if os.name != "posix":
        return
    with suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_atomic(path: os.PathLike | str, write: Callable[[Path], None], force: bool = False) -> Path:
    """Create ``path`` by calling ``write(temporary_path)``, then moving the result into place.

    The temporary file lies in the same directory (so that the final rename is atomic) and is
    flushed to disk before the rename.  Without ``force`` an existing ``path`` raises
    :class:`OutputExistsError`, both before ``write`` runs and at the final step, where a hard link
    makes "create only if absent" atomic (a plain existence check is used on file systems without
    hard links).  On any failure, including KeyboardInterrupt, the temporary file is removed and an
    existing ``path`` is left untouched.  Returns ``path`` as a :class:`~pathlib.Path`.
    """
    path = Path(path)
    refuse_existing(path, force)
    directory = path.parent
    temporary = directory / f".{path.name}.{secrets.token_hex(6)}.tmp"
    # O_EXCL: never reuse someone else's file; mode 0o666 lets the umask decide, like a normal create
    os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666))
    try:
        write(temporary)
        with open(temporary, "rb+") as f:
            os.fsync(f.fileno())
        if force:
            os.replace(temporary, path)
        else:
            try:
                os.link(temporary, path)
            except FileExistsError:
                raise OutputExistsError(path) from None
            except (OSError, NotImplementedError):
                refuse_existing(path, force)
                os.replace(temporary, path)
            else:
                os.unlink(temporary)
        _fsync_directory(directory)
    except BaseException:
        with suppress(OSError):
            os.unlink(temporary)
        raise
    return path


# ------------------------------------------------------------------------------------------ package data


def resource(*parts: str) -> Traversable:
    """The file or folder ``matteapp/resources/<parts>`` shipped inside the package (the bundled model,
    its catalog, the sample photos, the icons).

    Looked up through :mod:`importlib.resources` rather than relative to the source tree, so that an
    installed wheel, a pipx venv and a frozen bundle find the same files as a checkout.  The result is a
    :class:`~pathlib.Path` whenever the package lies on the file system; pass it to :func:`real_path`
    where a file name is needed.
    """
    item = _resources.files("matteapp") / "resources"
    for part in parts:
        item = item / part
    return item


_extracted = ExitStack()
_extracted_paths: dict[str, Path] = {}
atexit.register(_extracted.close)


def real_path(item: Traversable) -> Path:
    """A file-system path for the package file ``item`` (see :func:`resource`).

    A package imported from a zip file has no such path: the file is then copied out once and the copy
    lives until the process exits, because callers keep the path (a model source, a recent file).
    """
    if isinstance(item, Path):
        return item
    key = str(item)
    if key not in _extracted_paths:
        _extracted_paths[key] = _extracted.enter_context(_resources.as_file(item))
    return _extracted_paths[key]

