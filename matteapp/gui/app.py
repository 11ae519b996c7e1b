"""Starting the desktop application: ``matteapp [PHOTO | PROJECT.matte] [--model PATH] [--device D] [--precision P]``.

:func:`main` is what ``matteapp`` (and ``python -m matteapp``) runs when no command is given.
"""

from __future__ import annotations

import logging
import sys
import tempfile
import time
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QSettings, QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from matteapp import __version__
from matteapp.base import real_path, resource
from matteapp.gui.arguments import DEVICES, PRECISIONS, build_parser, parse_window_args
from matteapp.gui.main_window import MainWindow
from matteapp.gui.model_choice import default_model

ORGANIZATION = APPLICATION = "matteapp"
# The desktop entry's name (packaging/linux): lets Wayland compositors and docks match the window to it.
DESKTOP_FILE_NAME = "io.github.matteapp.MatteApp"
SMOKE_TEST_TIMEOUT_S = 300  # a CPU build loads torch and the model in a few seconds; a cold disk is slower


def application_icon() -> QIcon:
    """The application icon (package data), for every window and dialog; an empty icon if it is missing."""
    icon = QIcon()
    png = resource("icons", "matteapp-256.png")
    if png.is_file():
        icon.addFile(str(real_path(png)))
    return icon


class FileOpenHandler(QObject):
    """Opens the files macOS hands over as events rather than arguments: a ``.matte`` project or a photo
    double-clicked in the Finder or dropped on the Dock icon (the bundle's Info.plist declares them)."""

    def __init__(self, window: MainWindow):
        super().__init__(window)
        self.window = window

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.FileOpen and event.file():
            self.window.open_path(event.file())
            return True
        return super().eventFilter(watched, event)


def main(argv: list[str]) -> int:
    """Run the application until its window closes; returns the exit code.

    ``argv``: the arguments after the program name (see :func:`matteapp.gui.arguments.build_parser`);
    Qt's own options (``-platform``, ``-style``, …) are passed on to Qt, any other unknown option prints
    the usage and exits with code 2.
    """
    args, qt_args = parse_window_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "matteapp", *qt_args])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName("matteapp")
    app.setApplicationVersion(__version__)
    app.setDesktopFileName(DESKTOP_FILE_NAME)
    app.setWindowIcon(application_icon())

    if args.smoke_test:
        # A throwaway settings file: a build check must not change the user's recent files or model choice.
        smoke_dir = tempfile.TemporaryDirectory(prefix="matteapp-smoke-")
        settings = QSettings(str(Path(smoke_dir.name) / "settings.ini"), QSettings.Format.IniFormat)
    else:
        settings = QSettings(ORGANIZATION, APPLICATION)
    explicit_model = args.model is not None or args.device is not None or args.precision is not None
    window = MainWindow(settings=settings, load_model=not explicit_model)
    if explicit_model:
        source = args.model if args.model is not None else (str(settings.value("model/source", "") or "") or None)
        device = args.device or str(settings.value("model/device", "auto") or "auto")
        precision = args.precision or str(settings.value("model/precision", "auto") or "auto")
        no_model = default_model()[1] if source is None else None
        if no_model is not None:
            window.statusBar().showMessage(no_model)
        else:
            window.start_model_load(source, device, precision, explicit=True)
    app.installEventFilter(FileOpenHandler(window))
    window.show()

    def start() -> None:
        # After the window shows, so that the questions appear over it.
        recovered = False if args.smoke_test else window.offer_recovery()
        if args.path is not None and not recovered:
            window.open_path(args.path)

    QTimer.singleShot(0, start)
    if args.smoke_test:
        _watch_smoke_test(app, window, args.path)
    return app.exec()


def _watch_smoke_test(app: QApplication, window: MainWindow, path: Path | None) -> None:
    """Quit once ``path`` (if any) is shown and the model is loaded, with exit code 0; with 1 and a line on
    stderr as soon as either fails, or after :data:`SMOKE_TEST_TIMEOUT_S`."""
    started = time.monotonic()
    failures: list[str] = []
    window.controller.modelFailed.connect(lambda message: failures.append(f"the model did not load: {message}"))
    window.taskFailed.connect(lambda kind, message: failures.append(f"{kind} failed: {message}"))
    poll = QTimer(window)

    def finish(code: int, line: str) -> None:
        poll.stop()
        print(line, file=sys.stdout if code == 0 else sys.stderr, flush=True)
        window.files.ask_unsaved = lambda reason: "discard"
        window.close()
        app.exit(code)

    def check() -> None:
        elapsed = time.monotonic() - started
        if failures:
            finish(1, f"smoke test FAILED: {failures[0]}")
        elif (path is None or window.doc is not None) and window.controller.model_info is not None:
            info = window.controller.model_info
            shown = f"{Path(window.doc.image.path).name} shown, " if window.doc is not None else ""
            model = f"model {info.name} loaded on {info.device}/{info.precision}"
            finish(0, f"smoke test passed: window up on Qt platform {app.platformName()}, {shown}{model}; {elapsed:.1f} s")
        elif elapsed > SMOKE_TEST_TIMEOUT_S:
            finish(1, f"smoke test FAILED: no photo and model after {SMOKE_TEST_TIMEOUT_S} s ({window.messages.last_error or 'no error shown'})")

    poll.timeout.connect(check)
    poll.start(100)


__all__ = ["DEVICES", "PRECISIONS", "FileOpenHandler", "application_icon", "build_parser", "main"]
