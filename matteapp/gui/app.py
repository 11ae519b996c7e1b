"""Starting the desktop application: ``matteapp [PHOTO | PROJECT.matte] [--model PATH] [--device D] [--precision P]``.

:func:`main` is what ``matteapp`` (and ``python -m matteapp``) runs when no command is given.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication

from matteapp.gui.main_window import MainWindow
from matteapp.gui.model_choice import default_model

ORGANIZATION = APPLICATION = "matteapp"
DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="matteapp",
        description="The matteapp desktop application: cut subjects out of photos with MEMatte.",
    )
    parser.add_argument("path", nargs="?", type=Path, help="a photo (JPEG, PNG, TIFF, WebP, BMP) or a .matte project to open")
    parser.add_argument(
        "--model",
        metavar="PATH",
        help="checkpoint to load (official MEMatte/ViTMatte weights, .safetensors) or a preset name; "
        "default: the one chosen last time in Model & Device, else the bundled model",
    )
    parser.add_argument("--device", choices=DEVICES, help="where the model runs (default: as chosen last time, else auto)")
    parser.add_argument("--precision", choices=PRECISIONS, help="numeric precision (default: as chosen last time, else auto)")
    return parser


def main(argv: list[str]) -> int:
    """Run the application until its window closes; returns the exit code.

    ``argv``: the arguments after the program name (see :func:`build_parser`); arguments Qt knows
    (``-platform``, ``-style``, …) are passed on to Qt.
    """
    args, qt_args = build_parser().parse_known_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "matteapp", *qt_args])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName("matteapp")

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
    window.show()

    def start() -> None:
        # After the window shows, so that the questions appear over it.
        recovered = window.offer_recovery()
        if args.path is not None and not recovered:
            window.open_path(args.path)

    QTimer.singleShot(0, start)
    return app.exec()


__all__ = ["build_parser", "main"]
