"""Files and projects: opening photos and ``.matte`` projects (by dialog, recent list or drop), saving,
autosave and recovery, and the questions about unsaved work."""

from __future__ import annotations

import json
import logging
import threading
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path, PurePosixPath

from PySide6.QtCore import QEvent, QObject, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMessageBox

from matteapp.document.project import (
    MANIFEST,
    PROJECT_SUFFIX,
    AutosaveInfo,
    ProjectError,
    autosave,
    discard_autosave,
    find_autosaves,
    load_project,
    save_project,
)
from matteapp.document.state import MatteDocument
from matteapp.gui.widgets.empty_state import EmptyState
from matteapp.gui.window.common import STATUS_MS, Menus, Messages, make_action
from matteapp.gui.window.tasks import TaskRunner
from matteapp.io.export import OutputExistsError
from matteapp.io.images import SAMPLE_PHOTO, ImageLoadError, LoadedImage, load_image, probe_image

log = logging.getLogger(__name__)

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".bmp")
_PHOTO_GLOBS = " ".join(f"*{s}" for s in PHOTO_SUFFIXES)
OPEN_FILTER = (
    f"Photos and projects ({_PHOTO_GLOBS} *{PROJECT_SUFFIX});;Photos ({_PHOTO_GLOBS});;"
    f"matteapp projects (*{PROJECT_SUFFIX});;All files (*)"
)
MAX_RECENT_FILES = 10
AUTOSAVE_INTERVAL_MS = 30_000


@dataclass(frozen=True)
class MissingPhoto:
    """A project opened fine except that its photo is not where it was: ``message`` says where it looked."""

    project: Path
    message: str


def project_photo_missing(path: Path) -> bool:
    """True when the project at ``path`` is readable but its photo is at neither its saved absolute path
    nor its path relative to the project (the lookup of :func:`matteapp.document.project.load_project`)."""
    try:
        with zipfile.ZipFile(path) as archive:
            photo = json.loads(archive.read(MANIFEST))["photo"]
    except (OSError, KeyError, TypeError, ValueError, zipfile.BadZipFile):
        return False
    candidates = [Path(photo["path"])] if isinstance(photo.get("path"), str) else []
    relative = photo.get("relative_path")
    if isinstance(relative, str) and relative:
        candidates.append(path.parent.resolve() / Path(*PurePosixPath(relative).parts))
    return bool(candidates) and not any(c.is_file() for c in candidates)


def open_project_or_missing(path: Path, photo: Path | None = None) -> MatteDocument | MissingPhoto:
    """:func:`load_project`, except that a missing photo comes back as :class:`MissingPhoto` (so that the
    window can ask where it is) instead of as a :class:`ProjectError`."""
    try:
        return load_project(path, photo=photo)
    except ProjectError as exc:
        if photo is None and project_photo_missing(path):
            return MissingPhoto(path, str(exc))
        raise


def unreadable_reason(path: Path) -> str | None:
    """Why ``path`` cannot be opened, as a sentence, when its header already says so; None when it looks
    like a photo or project matteapp reads (damage deeper inside shows when it is loaded)."""
    if path.suffix.lower() != PROJECT_SUFFIX:
        try:
            probe_image(path)
        except ImageLoadError as exc:
            return str(exc)
        return None
    if not path.is_file():
        return f"Cannot open {path.name}: there is no file at {path}."
    try:
        with zipfile.ZipFile(path) as archive:
            json.loads(archive.read(MANIFEST))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return f"Cannot open {path.name}: it is not a matteapp project, or the file is damaged."
    return None


class FilesPart(QObject):
    """Opening, saving, autosave and recovery, recent files, drops on ``window``, and the window's title.

    Loading happens on the worker (``tasks``); the loaded document comes out as ``documentOpened(doc)``
    for the window to show (which then calls :meth:`set_document`).  ``aboutToOpen()`` comes first: work
    on the current document should stop.  Recent files live in ``settings`` (``recent/files``).

    The questions it asks (:meth:`ask_unsaved`, :meth:`ask_recovery`, :meth:`locate_photo`,
    :meth:`confirm_overwrite`) are plain methods so that tests and scripts can answer them instead.
    """

    documentOpened = Signal(object)
    aboutToOpen = Signal()

    def __init__(self, window: QMainWindow, settings: QSettings, tasks: TaskRunner, messages: Messages, empty_state: EmptyState):
        super().__init__(window)
        self.window = window
        self.settings = settings
        self.tasks = tasks
        self.messages = messages
        self.empty_state = empty_state
        self.doc: MatteDocument | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._autosave_thread: threading.Thread | None = None
        self._owns_autosave = False  # this window wrote (or recovered from) the document's autosave

        empty_state.set_sample_available(SAMPLE_PHOTO.is_file())
        empty_state.openRequested.connect(lambda: self.open_dialog())
        empty_state.sampleRequested.connect(self.open_sample)
        empty_state.recentRequested.connect(self.open_path)
        window.setAcceptDrops(True)
        window.installEventFilter(self)

        self._autosave_timer = QTimer(self)
        self._autosave_timer.setInterval(AUTOSAVE_INTERVAL_MS)
        self._autosave_timer.timeout.connect(self.autosave_now)
        self._autosave_timer.start()
        self.refresh_recent_files()

    def add_actions(self, menus: Menus) -> None:
        a = partial(make_action, self.window)
        self.action_open = a("&Open…", lambda: self.open_dialog(), QKeySequence.StandardKey.Open, "Open a photo or a .matte project")
        self.action_open_sample = a("Open &Sample Photo", self.open_sample, tip="Open the bundled sample portrait")
        self.action_open_sample.setEnabled(SAMPLE_PHOTO.is_file())
        self.action_save = a("&Save Project", lambda: self.save_project(), QKeySequence.StandardKey.Save, "Save the photo's trimap and settings as a .matte project")
        self.action_save_as = a("Save Project &As…", lambda: self.save_project_as(), "Ctrl+Shift+S")

        menus.file.addAction(self.action_open)
        self.recent_menu = menus.file.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        menus.file.addAction(self.action_open_sample)
        menus.file.addSeparator()
        menus.file.addAction(self.action_save)
        menus.file.addAction(self.action_save_as)
        menus.file.addSeparator()
        menus.help.addAction(self.action_open_sample)
        menus.add_shortcuts(self.action_open, self.action_save, self.action_save_as)

    def set_document(self, doc: MatteDocument | None) -> None:
        """Track ``doc`` (the window shows it now); the old document's autosave goes (the user has already
        agreed to replace it)."""
        old = self.doc
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if old is not None and old is not doc:
            self._drop_autosave(old)
        self._owns_autosave = False
        self.doc = doc
        if doc is not None:
            self._unsubscribe = doc.subscribe(self._on_document_event)
        for action in (self.action_save, self.action_save_as):
            action.setEnabled(doc is not None)
        self._update_title()

    def _on_document_event(self, event: str, payload) -> None:
        if event == "dirty":
            self.window.setWindowModified(bool(payload))

    def _update_title(self) -> None:
        doc = self.doc
        if doc is None:
            self.window.setWindowTitle("matteapp")
            self.window.setWindowModified(False)
            return
        name = doc.path.name if doc.path is not None else Path(doc.image.path).name
        self.window.setWindowTitle(f"{name}[*] — matteapp")
        self.window.setWindowModified(doc.dirty)

    # ================================================================================ opening

    def open_dialog(self) -> None:
        """Ask for a photo or a project and open it, starting in the folder of the last file opened."""
        path, _ = QFileDialog.getOpenFileName(self.window, "Open photo or project", self.open_folder(), OPEN_FILTER)
        if path:
            self.open_path(path)

    def open_folder(self) -> str:
        """Where the Open dialog starts: the folder of the last file opened (by any means, as Photoshop and
        GIMP do), else the current photo's, else the home folder."""
        remembered = self.settings.value("paths/open", "")
        if remembered and Path(str(remembered)).is_dir():
            return str(remembered)
        doc = self.doc
        if doc is not None and Path(doc.image.path).parent.is_dir():
            return str(Path(doc.image.path).parent)
        return str(Path.home())

    def _remember_folder(self, path: Path) -> None:
        if Path(path).resolve() != SAMPLE_PHOTO.resolve():  # the sample lives among the app's own files
            self.settings.setValue("paths/open", str(Path(path).resolve().parent))

    def open_sample(self) -> None:
        self.open_path(SAMPLE_PHOTO)

    def open_path(self, path: str | Path) -> bool:
        """Open a photo or a ``.matte`` project (off the GUI thread; ``documentOpened`` follows, or a message).

        Asks first when the current work is unsaved.  Returns False when the user kept the current
        document; True once loading has started.
        """
        path = Path(path)
        # A file that cannot be opened is said so at once: asking first whether to save the current work
        # would be a question about nothing.
        problem = unreadable_reason(path)
        if problem is not None:
            title = "Cannot open the project" if path.suffix.lower() == PROJECT_SUFFIX else "Cannot open the photo"
            self.messages.error(title, problem)
            return False
        if not self.may_replace("open another file"):
            return False
        self.aboutToOpen.emit()
        if path.suffix.lower() == PROJECT_SUFFIX:
            self._open_project(path, remember=True)
        else:
            self._open_photo(path)
        return True

    def _open_photo(self, path: Path) -> None:
        def opened(image: LoadedImage) -> None:
            self.documentOpened.emit(MatteDocument(image))
            self._add_recent_file(path)
            self._remember_folder(path)
            self.messages.status(f"Opened {path.name} ({image.size[0]:,} × {image.size[1]:,} px)", STATUS_MS)
            if image.warnings:
                self.messages.notice(" ".join(image.warnings), kind="warning")

        self.tasks.start(
            "open",
            lambda: load_image(path),
            opened,
            lambda message: self.messages.error("Cannot open the photo", message),
            message=f"opening {path.name}",
        )

    def _open_project(self, path: Path, remember: bool, photo: Path | None = None, recovered: bool = False) -> None:
        def opened(value) -> None:
            if isinstance(value, MissingPhoto):
                located = self.locate_photo(value)
                if located is not None:
                    self._open_project(path, remember, Path(located), recovered)
                else:
                    self.messages.error("Cannot open the project", value.message)
                return
            self.documentOpened.emit(value)
            self._owns_autosave = recovered  # saving or discarding the recovered work deletes it
            if remember:
                self._add_recent_file(path)
                self._remember_folder(path)
            self.messages.status(f"Recovered unsaved work on {Path(value.image.path).name}" if recovered else f"Opened {path.name}", STATUS_MS)

        self.tasks.start(
            "open",
            lambda: open_project_or_missing(path, photo),
            opened,
            lambda message: self.messages.error("Cannot open the project", message),
            message=f"opening {path.name}",
        )

    def locate_photo(self, missing: MissingPhoto) -> str | None:
        """Ask where the photo of a project went; None if the user gives up."""
        answer = QMessageBox.question(
            self.window,
            "Photo not found",
            f"{missing.message}\n\nLocate the photo?",
            QMessageBox.StandardButton.Open | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Open,
        )
        if answer != QMessageBox.StandardButton.Open:
            return None
        path, _ = QFileDialog.getOpenFileName(self.window, "Locate the photo", str(missing.project.parent), f"Photos ({_PHOTO_GLOBS});;All files (*)")
        return path or None

    def offer_recovery(self) -> bool:
        """Offer to recover work left in autosaves (a crash, or a close without saving); True when the
        newest is being opened.  Called once the window shows."""
        try:
            found = find_autosaves()
        except OSError as exc:
            log.warning("cannot look for autosaves: %s", exc)
            return False
        if not found:
            return False
        answer = self.ask_recovery(found)
        if answer == "recover":
            self.aboutToOpen.emit()
            self._open_project(found[0].path, remember=False, recovered=True)
            return True
        if answer == "discard":
            for info in found:
                try:
                    discard_autosave(info.path)
                except (OSError, ValueError) as exc:
                    log.warning("could not delete autosave %s: %s", info.path, exc)
        return False

    def ask_recovery(self, found: list[AutosaveInfo]) -> str:
        """"recover" (open the newest), "discard" (delete them all) or "later"."""
        newest = found[0]
        others = f"\n\n{len(found) - 1} older autosave(s) will be offered again next time." if len(found) > 1 else ""
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Recover unsaved work?",
            f"matteapp did not close normally. Unsaved work on {newest.photo_path.name} was autosaved at "
            f"{newest.saved_at.astimezone():%H:%M on %d %b %Y}.{others}",
            QMessageBox.StandardButton.NoButton,
            self.window,
        )
        recover = box.addButton("Recover", QMessageBox.ButtonRole.AcceptRole)
        discard = box.addButton("Discard", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton("Later", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(recover)
        box.exec()
        clicked = box.clickedButton()
        return "recover" if clicked is recover else "discard" if clicked is discard else "later"

    # ---------------------------------------------------------------------------------- recent files

    def recent_files(self) -> list[str]:
        """Recently opened photos and projects, most recent first (QSettings ``recent/files``)."""
        value = self.settings.value("recent/files", [])
        items = [value] if isinstance(value, str) else list(value or [])
        return [str(p) for p in items if p][:MAX_RECENT_FILES]

    def _add_recent_file(self, path: Path) -> None:
        text = str(Path(path).resolve())
        items = [text] + [p for p in self.recent_files() if p != text]
        self.settings.setValue("recent/files", items[:MAX_RECENT_FILES])
        self.refresh_recent_files()

    def refresh_recent_files(self) -> None:
        self.empty_state.set_recent_files([p for p in self.recent_files() if Path(p).exists()])

    def _fill_recent_menu(self) -> None:
        menu = self.recent_menu
        menu.clear()
        items = self.recent_files()
        for i, path in enumerate(items):
            p = Path(path)
            action = menu.addAction(f"&{(i + 1) % 10}  {p.name}")
            action.setToolTip(path)
            action.setStatusTip(path)
            action.setEnabled(p.exists())
            action.triggered.connect(lambda _=False, path=path: self.open_path(path))
        if not items:
            menu.addAction("No recent files").setEnabled(False)
        else:
            menu.addSeparator()
            menu.addAction("Clear Recent Files", self._clear_recent_files)

    def _clear_recent_files(self) -> None:
        self.settings.setValue("recent/files", [])
        self.refresh_recent_files()

    # ------------------------------------------------------------------------------------ drag & drop

    @staticmethod
    def dropped_path(event) -> Path | None:
        """The first local photo or project among a drag's URLs."""
        mime = event.mimeData()
        if not mime.hasUrls():
            return None
        for url in mime.urls():
            if url.isLocalFile():
                path = Path(url.toLocalFile())
                if path.suffix.lower() in PHOTO_SUFFIXES + (PROJECT_SUFFIX,):
                    return path
        return None

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # Drags over the window's children that do not take drops themselves end up at the window.
        if watched is not self.window:
            return False
        kind = event.type()
        if kind == QEvent.Type.DragEnter:
            if self.dropped_path(event) is not None:
                event.acceptProposedAction()
                self.empty_state.set_drop_highlight(True)
            else:
                event.ignore()
            return True
        if kind == QEvent.Type.DragLeave:
            self.empty_state.set_drop_highlight(False)
            return False
        if kind == QEvent.Type.Drop:
            self.empty_state.set_drop_highlight(False)
            path = self.dropped_path(event)
            if path is None:
                event.ignore()
                return True
            event.acceptProposedAction()
            # Opening may ask a question; let the drag finish first.
            QTimer.singleShot(0, lambda: self.open_path(path))
            return True
        return False

    # ========================================================================== project and autosave

    def save_project(self) -> bool:
        """Save to the project file the document came from, else ask for one (Save As).  True if saved."""
        doc = self.doc
        if doc is None:
            return False
        if doc.path is None or doc.path.suffix.lower() != PROJECT_SUFFIX:
            return self.save_project_as()
        return self._write_project(doc.path, force=True)

    def save_project_as(self, path: str | Path | None = None) -> bool:
        """Save as ``path`` (``.matte`` is added), asking for it when None.  An existing file is replaced
        only after a yes (the file dialog asks itself).  True if saved."""
        doc = self.doc
        if doc is None:
            return False
        force = False
        if path is None:
            stem = doc.path.stem if doc.path is not None else Path(doc.image.path).stem
            start = str((doc.path or Path(doc.image.path)).with_name(f"{stem}{PROJECT_SUFFIX}"))
            path, _ = QFileDialog.getSaveFileName(self.window, "Save project", start, f"matteapp projects (*{PROJECT_SUFFIX})")
            if not path:
                return False
            force = True
        path = Path(path)
        if path.suffix.lower() != PROJECT_SUFFIX:
            path = path.with_name(path.name + PROJECT_SUFFIX)
        return self._write_project(path, force)

    def _write_project(self, path: Path, force: bool) -> bool:
        doc = self.doc
        QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            save_project(doc, path, force=force)
        except OutputExistsError:
            QGuiApplication.restoreOverrideCursor()
            if self.confirm_overwrite(path):
                return self._write_project(path, True)
            return False
        except (OSError, ValueError) as exc:
            QGuiApplication.restoreOverrideCursor()
            self.messages.error("Cannot save the project", f"{path.name} could not be written: {exc}")
            return False
        QGuiApplication.restoreOverrideCursor()
        self._drop_autosave(doc)
        self._add_recent_file(path)
        self._update_title()
        self.messages.status(f"Saved {path.name}", STATUS_MS)
        return True

    def confirm_overwrite(self, path: Path) -> bool:
        answer = QMessageBox.question(
            self.window,
            "Replace the file?",
            f"{path.name} already exists in {path.parent}. Replace it?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        return answer == QMessageBox.StandardButton.Yes

    def autosave_now(self) -> threading.Thread | None:
        """Write a recovery copy of unsaved work on a plain thread (the worker may be busy matting);
        returns that thread, or None when there was nothing to do.  Runs every 30 s."""
        doc = self.doc
        if doc is None or not doc.dirty:
            return None
        if self._autosave_thread is not None and self._autosave_thread.is_alive():
            return None
        # One copy of the trimap on the GUI thread (tens of ms at 50 MP); the rest happens on the thread.
        image, trimap, settings, project = doc.image, doc.trimap.copy(), dict(doc.settings), doc.path

        def write() -> None:
            try:
                snapshot = MatteDocument(image, path=project, trimap=trimap)
                snapshot.update_settings(**settings)
                autosave(snapshot)
            except Exception:  # noqa: BLE001 — a failed autosave must not take the app down; try again later
                log.exception("autosave failed")

        thread = threading.Thread(target=write, name="matteapp-autosave", daemon=True)
        self._autosave_thread = thread
        self._owns_autosave = True
        thread.start()
        return thread

    def _join_autosave(self, timeout: float = 30.0) -> None:
        thread = self._autosave_thread
        if thread is not None:
            thread.join(timeout)
            self._autosave_thread = None

    def _drop_autosave(self, doc: MatteDocument) -> None:
        """Delete ``doc``'s autosave (it was saved, or the user discarded the changes) — only one this
        window wrote or recovered from: an older session's autosave of the same photo stays on offer."""
        self._join_autosave()  # else a write in flight would bring it back
        if not self._owns_autosave:
            return
        self._owns_autosave = False
        try:
            discard_autosave(doc)
        except (OSError, ValueError) as exc:
            log.warning("could not delete the autosave: %s", exc)

    # ========================================================================= unsaved work, closing

    def may_replace(self, reason: str) -> bool:
        """True when the current document may be replaced (or the window closed, ``reason`` "close"): it has
        no unsaved work, or the user saved or discarded it."""
        doc = self.doc
        if doc is None or not doc.dirty:
            return True
        answer = self.ask_unsaved(reason)
        if answer == "save":
            return self.save_project()
        return answer == "discard"

    def ask_unsaved(self, reason: str) -> str:
        """"save", "discard" or "cancel": what to do with unsaved work before ``reason`` (e.g. "close")."""
        doc = self.doc
        name = doc.path.name if doc is not None and doc.path is not None else Path(doc.image.path).name
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            "Unsaved changes",
            f"Save the changes to {name} before you {reason}?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            self.window,
        )
        box.setInformativeText("Your trimap and settings will be lost if you don't save them.")
        box.setDefaultButton(QMessageBox.StandardButton.Save)
        answer = box.exec()
        if answer == QMessageBox.StandardButton.Save:
            return "save"
        if answer == QMessageBox.StandardButton.Discard:
            return "discard"
        return "cancel"

    def shut(self) -> None:
        """The window closes (its unsaved work saved or discarded): no more autosaves, and none left behind."""
        self._autosave_timer.stop()
        if self.doc is not None:
            self._drop_autosave(self.doc)  # saved, clean or discarded: nothing to recover


__all__ = [
    "FilesPart",
    "MissingPhoto",
    "OPEN_FILTER",
    "PHOTO_SUFFIXES",
    "SAMPLE_PHOTO",
    "open_project_or_missing",
    "project_photo_missing",
]
