"""The window's command line, ``matteapp [PHOTO | PROJECT.matte] [--model PATH] [--device D] [--precision P]``.

No Qt here, so that ``matteapp --typo`` is refused (usage, exit code 2) before PySide6 and torch load.
"""

from __future__ import annotations

import argparse
from pathlib import Path

DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")

# The options QGuiApplication / QApplication take out of argv themselves (Qt 6 documentation), with
# whether each takes a value.  Anything else that looks like an option is a mistake, not Qt's business.
QT_OPTIONS = {
    "platform": True,
    "platformpluginpath": True,
    "platformtheme": True,
    "plugin": True,
    "qmljsdebugger": True,
    "qwindowgeometry": True,
    "qwindowicon": True,
    "qwindowtitle": True,
    "session": True,
    "style": True,
    "stylesheet": True,
    "display": True,
    "geometry": True,
    "name": True,
    "title": True,
    "visual": True,
    "reverse": False,
    "widgetcount": False,
    "nograb": False,
    "dograb": False,
    "sync": False,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="matteapp",
        usage="matteapp [PHOTO | PROJECT.matte] [--model PATH] [--device D] [--precision P]\n"
        "       matteapp COMMAND ...   (matte, batch, eval, models, train: see matteapp --help)\n"
        "       matteapp --version | --self-test",
        description="The matteapp desktop application: cut subjects out of photos with MEMatte.",
        epilog="Qt's own options (-platform offscreen, -style Fusion, …) are passed on to Qt.",
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
    parser.add_argument(
        "--smoke-test",
        action="store_true",
        help="check a build: open the window (and PATH), quit once the photo is shown and the model has "
        "loaded; exit code 0 if both worked, 1 otherwise (nothing is remembered, no recovery question)",
    )
    return parser


def split_qt_options(argv: list[str]) -> tuple[list[str], list[str]]:
    """``(qt_args, rest)``: Qt's options in ``argv`` (``-style X``, ``--style=X``; Qt accepts one or two
    dashes) with their values, and the arguments left for the window's parser.

    Taken out before argparse sees them, which would otherwise read ``offscreen`` in ``-platform
    offscreen`` as the photo to open.
    """
    qt_args: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        name, has_value, _ = arg.lstrip("-").partition("=")
        if arg.startswith("-") and name in QT_OPTIONS:
            qt_args.append(arg)
            if QT_OPTIONS[name] and not has_value and i + 1 < len(argv):
                i += 1
                qt_args.append(argv[i])
        else:
            rest.append(arg)
        i += 1
    return qt_args, rest


def parse_window_args(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """``(args, qt_args)``; an unknown option or a second path prints the usage and exits with code 2."""
    qt_args, rest = split_qt_options(argv)
    return build_parser().parse_args(rest), qt_args


__all__ = ["DEVICES", "PRECISIONS", "QT_OPTIONS", "build_parser", "parse_window_args", "split_qt_options"]
