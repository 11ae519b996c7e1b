"""Project files (``*.matte``) and autosaves for crash recovery.

A project file is a zip archive holding

``project.json``  format name and version, the photo (absolute path, path relative to the project,
                  size in pixels, file size and modification time to notice a changed photo), the settings
``trimap.png``    the trimap, 8-bit gray, lossless
``alpha.png``     the final full-resolution alpha, 16-bit gray — only when one exists (previews are not
                  kept: they are quick to recompute)

The photo itself is not copied in: projects stay small, and the photo is found again by its absolute path,
then by its path relative to the project (a folder moved as a whole), or where the user points
(``load_project(..., photo=...)``).  Files are written atomically and never replace an existing file unless
asked to (:func:`matteapp.io.export.write_atomic`).

Autosaves are project files in :func:`autosave_dir`, one per photo, named after a hash of the photo's path.

No Qt here.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import zipfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath

import cv2
import numpy as np

from matteapp import __version__
from matteapp.document.state import DEFAULT_SETTINGS, MatteDocument
from matteapp.engine.session import SessionResult
from matteapp.engine.trimap import TrimapError, normalize_trimap
from matteapp.io import recent
from matteapp.io.export import alpha_to_uint16, write_atomic
from matteapp.io.images import ImageLoadError, load_image

logger = logging.getLogger(__name__)

FORMAT = "matteapp-project"
FORMAT_VERSION = 1
PROJECT_SUFFIX = ".matte"

MANIFEST = "project.json"
TRIMAP_MEMBER = "trimap.png"
ALPHA_MEMBER = "alpha.png"

# Trimaps are long runs of three values: zlib's run-length strategy at level 1 compresses a 24 MP trimap
# about as well as the default strategy, several times faster.
_TRIMAP_PNG_PARAMS = [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE]
_ALPHA_PNG_PARAMS = [cv2.IMWRITE_PNG_COMPRESSION, 1]
_ALPHA_BAND_ROWS = 512  # alpha_to_uint16 works in float64: bands keep its temporaries small


class ProjectError(ValueError):
    """A project file could not be opened.  ``str(error)`` is a sentence for the user; ``path`` is the file."""

    def __init__(self, message: str, path: Path | str | None = None):
        super().__init__(message)
        self.path = Path(path) if path is not None else None


@dataclass(frozen=True)
class AutosaveInfo:
    """An autosave found on disk: the file, the photo it belongs to, when it was written, and the project
    file the document had been saved as (None if it never was)."""

    path: Path
    photo_path: Path
    saved_at: datetime
    project_path: Path | None = None


# ------------------------------------------------------------------------------------------------ save


def save_project(doc: MatteDocument, path: Path | str, force: bool = False) -> Path:
    """Write ``doc`` to ``path`` (a ``.matte`` file), set ``doc.path`` and mark the document saved.

    An existing file is replaced only with ``force`` (else :class:`~matteapp.io.export.OutputExistsError`).
    """
    path = Path(path)
    _write_project(doc, path, force=force, autosave=False, include_alpha=True)
    doc.path = path
    doc.mark_saved()
    return path


def _photo_path(doc: MatteDocument) -> Path:
    return Path(doc.image.path).resolve()


def _has_final_alpha(doc: MatteDocument) -> bool:
    return (
        doc.result is not None
        and doc.alpha is not None
        and not doc.alpha_is_preview
        and doc.alpha.shape == doc.size
    )


def _write_project(doc: MatteDocument, path: Path, *, force: bool, autosave: bool, include_alpha: bool) -> None:
    photo = _photo_path(doc)
    try:
        stat = photo.stat()
        file_size, mtime = stat.st_size, stat.st_mtime
    except OSError:  # the photo was deleted while open: the project still records where it was
        file_size = mtime = None
    try:
        relative = PurePosixPath(*Path(os.path.relpath(photo, path.parent.resolve())).parts).as_posix()
    except ValueError:  # Windows: photo and project on different drives
        relative = None
    height, width = doc.size
    with_alpha = include_alpha and _has_final_alpha(doc)
    manifest = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "app_version": __version__,
        "saved_at": datetime.now(timezone.utc).isoformat(),
        "photo": {
            "path": str(photo),
            "relative_path": relative,
            "width": width,
            "height": height,
            "file_size": file_size,
            "mtime": mtime,
        },
        "settings": dict(doc.settings),
        "alpha": with_alpha,
    }
    if with_alpha:
        manifest["result"] = {"engine": doc.result.engine}
    if autosave:
        manifest["autosave"] = {"project_path": str(Path(doc.path).resolve()) if doc.path is not None else None}

    members = [(MANIFEST, json.dumps(manifest, indent=1).encode(), zipfile.ZIP_DEFLATED)]
    members.append((TRIMAP_MEMBER, _encode_png(doc.trimap, _TRIMAP_PNG_PARAMS), zipfile.ZIP_STORED))
    if with_alpha:
        members.append((ALPHA_MEMBER, _encode_png(_alpha_uint16(doc.alpha), _ALPHA_PNG_PARAMS), zipfile.ZIP_STORED))

    def write(temporary: Path) -> None:
        with zipfile.ZipFile(temporary, "w") as archive:
            for name, data, compression in members:
                archive.writestr(name, data, compress_type=compression)

    write_atomic(path, write, force=force)


def _encode_png(array: np.ndarray, params: list[int]) -> bytes:
    ok, buffer = cv2.imencode(".png", array, params)
    if not ok:
        raise OSError(f"could not encode a {array.dtype} {array.shape} array as PNG")
    return buffer.tobytes()


def _alpha_uint16(alpha: np.ndarray) -> np.ndarray:
    out = np.empty(alpha.shape, dtype=np.uint16)
    for y in range(0, alpha.shape[0], _ALPHA_BAND_ROWS):
        out[y : y + _ALPHA_BAND_ROWS] = alpha_to_uint16(alpha[y : y + _ALPHA_BAND_ROWS])
    return out


# ------------------------------------------------------------------------------------------------ load


def _read_manifest(archive: zipfile.ZipFile, path: Path) -> dict:
    name = path.name
    if MANIFEST not in archive.namelist():
        raise ProjectError(f"{name} is not a matteapp project, or it is damaged: it has no {MANIFEST}.", path)
    try:
        manifest = json.loads(archive.read(MANIFEST))
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ProjectError(f"{name} is damaged: its {MANIFEST} cannot be read ({exc}).", path) from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ProjectError(f"{name} is not a matteapp project: its {MANIFEST} is of another format.", path)
    version = manifest.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ProjectError(f"{name} is damaged: its format version {version!r} is not valid.", path)
    if version > FORMAT_VERSION:
        raise ProjectError(
            f"{name} was saved by a newer version of matteapp (project format {version}; this version reads "
            f"up to format {FORMAT_VERSION}). Update matteapp to open it.",
            path,
        )
    photo = manifest.get("photo")
    if not isinstance(photo, dict) or not isinstance(photo.get("path"), str):
        raise ProjectError(f"{name} is damaged: its {MANIFEST} does not say which photo it belongs to.", path)
    return manifest


def _open_archive(path: Path) -> zipfile.ZipFile:
    if not path.is_file():
        raise ProjectError(f"There is no project file at {path}.", path)
    try:
        return zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise ProjectError(f"{path.name} is not a matteapp project: it is not a zip archive.", path) from exc
    except OSError as exc:
        raise ProjectError(f"{path.name} cannot be read ({exc.strerror or exc}).", path) from exc


def _read_member(archive: zipfile.ZipFile, member: str, path: Path) -> bytes:
    if member not in archive.namelist():
        raise ProjectError(f"{path.name} is incomplete: it has no {member}.", path)
    try:
        return archive.read(member)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ProjectError(f"{path.name} is damaged: its {member} cannot be read ({exc}).", path) from exc


def _decode_png(data: bytes, dtype, member: str, path: Path) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None or image.ndim != 2 or image.dtype != dtype:
        raise ProjectError(
            f"{path.name} is damaged: its {member} is not a {np.dtype(dtype).itemsize * 8}-bit gray PNG.", path
        )
    return image


def _locate_photo(manifest: dict, path: Path, photo: Path | str | None) -> Path:
    if photo is not None:
        candidates = [Path(photo)]
    else:
        info = manifest["photo"]
        candidates = [Path(info["path"])]
        relative = info.get("relative_path")
        if isinstance(relative, str) and relative:
            candidates.append(path.parent.resolve() / Path(*PurePosixPath(relative).parts))
    for candidate in candidates:
        if candidate.is_file():
            return candidate.resolve()
    looked = " or at ".join(str(c) for c in dict.fromkeys(candidates))
    raise ProjectError(
        f"The photo of {path.name} was not found at {looked}. If it was moved or renamed, choose where it is now.",
        path,
    )


def _changed_since_saved(photo: Path, info: dict) -> bool:
    try:
        stat = photo.stat()
    except OSError:
        return False
    size, mtime = info.get("file_size"), info.get("mtime")
    return (size is not None and size != stat.st_size) or (mtime is not None and mtime != stat.st_mtime)


def load_project(path: Path | str, photo: Path | str | None = None) -> MatteDocument:
    """Open a project file: the photo, trimap, settings and final alpha, as a clean document.

    The photo is looked for at its saved absolute path, then at its path relative to the project; ``photo``
    names it instead (a relocated photo; the next save records the new place).  Raises
    :class:`ProjectError` when the file is not a project, is incomplete or damaged, comes from a newer
    matteapp, or when the photo is missing, unreadable or not the size of the trimap.  A photo that may
    have changed since saving, and settings that are no longer valid (reset to defaults), are reported in
    ``doc.notices``.

    An autosave opens with ``doc.path`` set to the project it belonged to (None if it was never saved)
    and marked modified, since its contents are not saved there.
    """
    path = Path(path)
    with _open_archive(path) as archive:
        manifest = _read_manifest(archive, path)
        trimap_png = _read_member(archive, TRIMAP_MEMBER, path)
        alpha_png = _read_member(archive, ALPHA_MEMBER, path) if manifest.get("alpha") else None

    photo_path = _locate_photo(manifest, path, photo)
    try:
        image = load_image(photo_path)
    except ImageLoadError as exc:
        raise ProjectError(f"The photo of {path.name} cannot be opened: {exc}", path) from exc

    trimap = _decode_png(trimap_png, np.uint8, TRIMAP_MEMBER, path)
    del trimap_png
    height, width = image.rgb.shape[:2]
    if trimap.shape != (height, width):
        raise ProjectError(
            f"The photo {photo_path} is {width}×{height} pixels but the trimap of {path.name} is "
            f"{trimap.shape[1]}×{trimap.shape[0]}: it is not the photo the project was made for, or it has "
            "been resized or rotated since.",
            path,
        )
    try:
        trimap = normalize_trimap(trimap)
    except TrimapError as exc:
        raise ProjectError(f"{path.name} is damaged: {exc}.", path) from exc
    doc = MatteDocument(image, path=path, trimap=trimap)
    del trimap

    settings = manifest.get("settings")
    for key, value in (settings.items() if isinstance(settings, dict) else ()):
        if key not in DEFAULT_SETTINGS:
            continue  # written by a newer matteapp of the same format; nothing here uses it
        try:
            doc.update_settings(**{key: value})
        except ValueError as exc:
            doc.notices.append(f"The saved setting {key} was not valid and was reset ({exc}).")

    if alpha_png is not None:
        alpha16 = _decode_png(alpha_png, np.uint16, ALPHA_MEMBER, path)
        del alpha_png
        if alpha16.shape != (height, width):
            raise ProjectError(f"{path.name} is damaged: its {ALPHA_MEMBER} is not the size of the photo.", path)
        alpha = alpha16.astype(np.float32)
        alpha *= np.float32(1 / 65535)
        del alpha16
        result_info = manifest.get("result") if isinstance(manifest.get("result"), dict) else {}
        doc.set_result(
            SessionResult(
                alpha=alpha,
                size=(height, width),
                full_size=(height, width),
                is_preview=False,
                engine=str(result_info.get("engine", "mematte")),
                notes=[f"loaded from {path.name}"],
            )
        )

    if _changed_since_saved(photo_path, manifest["photo"]):
        doc.notices.append(
            f"{photo_path.name} may have been edited since the project was saved (its file size or date "
            "differs); check the trimap and run the matting again if needed."
        )

    doc.mark_saved()
    autosave_info = manifest.get("autosave")
    if isinstance(autosave_info, dict):
        project_path = autosave_info.get("project_path")
        doc.path = Path(project_path) if isinstance(project_path, str) else None
        doc.mark_modified()
    return doc


# -------------------------------------------------------------------------------------------- autosave


def autosave_dir() -> Path:
    """Folder of the autosaves: ``autosave`` in :func:`matteapp.io.recent.config_dir`."""
    return recent.config_dir() / "autosave"


def autosave_path(doc: MatteDocument) -> Path:
    """Where :func:`autosave` writes ``doc``: ``<sha1 of the photo's absolute path>.matte``."""
    digest = hashlib.sha1(os.fsencode(str(_photo_path(doc)))).hexdigest()
    return autosave_dir() / f"{digest}{PROJECT_SUFFIX}"


def autosave(doc: MatteDocument, include_alpha: bool = False) -> Path:
    """Write a recovery copy of ``doc`` (atomically, replacing its previous autosave) and return its path.

    The document stays dirty: only :func:`save_project` saves.  The final alpha is left out unless
    ``include_alpha``, because it can be recomputed and a 16-bit PNG of a 50 MP alpha takes seconds to
    write, which a periodic autosave should not.
    """
    target = autosave_path(doc)
    target.parent.mkdir(parents=True, exist_ok=True)
    _write_project(doc, target, force=True, autosave=True, include_alpha=include_alpha)
    return target


def find_autosaves() -> list[AutosaveInfo]:
    """Autosaves left in :func:`autosave_dir` (by a crash, or a session closed without saving), newest
    first.  Files that cannot be read as projects are skipped."""
    directory = autosave_dir()
    if not directory.is_dir():
        return []
    found = []
    for file in directory.glob(f"*{PROJECT_SUFFIX}"):
        try:
            with zipfile.ZipFile(file) as archive:
                manifest = _read_manifest(archive, file)
            saved_at = datetime.fromisoformat(manifest["saved_at"])
            project = (manifest.get("autosave") or {}).get("project_path")
        except (OSError, zipfile.BadZipFile, ProjectError, KeyError, TypeError, ValueError, AttributeError) as exc:
            logger.warning("skipping unreadable autosave %s: %s", file, exc)
            continue
        found.append(
            AutosaveInfo(
                path=file,
                photo_path=Path(manifest["photo"]["path"]),
                saved_at=saved_at,
                project_path=Path(project) if isinstance(project, str) else None,
            )
        )
    found.sort(key=lambda info: info.saved_at, reverse=True)
    return found


def discard_autosave(doc_or_path: MatteDocument | Path | str) -> bool:
    """Delete the autosave of a document (or the autosave file given); True if there was one.

    A path outside :func:`autosave_dir` raises ValueError: this never deletes a user's own project.
    """
    if isinstance(doc_or_path, MatteDocument):
        target = autosave_path(doc_or_path)
    else:
        target = Path(doc_or_path)
        if target.resolve().parent != autosave_dir().resolve() or target.suffix != PROJECT_SUFFIX:
            raise ValueError(f"{target} is not an autosave (those are in {autosave_dir()})")
    try:
        target.unlink()
    except FileNotFoundError:
        return False
    return True


__all__ = [
    "FORMAT_VERSION",
    "PROJECT_SUFFIX",
    "AutosaveInfo",
    "ProjectError",
    "autosave",
    "autosave_dir",
    "autosave_path",
    "discard_autosave",
    "find_autosaves",
    "load_project",
    "save_project",
]
