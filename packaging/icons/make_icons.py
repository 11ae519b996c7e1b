"""Render packaging/icons/matteapp.svg into every icon file the packages use, and copy it into the package.

    python packaging/icons/make_icons.py          # writes the files below (they are committed)
    python packaging/icons/make_icons.py --check  # exit 1 if a committed PNG is missing or has the wrong size

Writes:
  packaging/linux/icons/hicolor/NxN/apps/APP_ID.png   N = 16 24 32 48 64 128 256 512 (freedesktop theme)
  packaging/linux/icons/hicolor/scalable/apps/APP_ID.svg
  packaging/windows/matteapp.ico                      16 … 256, for PyInstaller and Inno Setup
  packaging/macos/matteapp.icns                       16 … 1024, for PyInstaller's BUNDLE
  matteapp/resources/icons/matteapp-256.png, matteapp.svg   the window icon (package data)

Renders with rsvg-convert (Debian: librsvg2-bin) when it is installed, else cairosvg (PyPI), else
PySide6's QtSvg, which the app's own dependencies already bring; the ICO and ICNS come from the PNGs
through Pillow.  The three renderers differ in anti-aliasing by a grey level or so, not in shape.
"""

from __future__ import annotations

import argparse
import io
import shutil
import subprocess
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "packaging" / "icons" / "matteapp.svg"
APP_ID = "io.github.matteapp.MatteApp"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
HICOLOR = ROOT / "packaging" / "linux" / "icons" / "hicolor"
ICO = ROOT / "packaging" / "windows" / "matteapp.ico"
ICNS = ROOT / "packaging" / "macos" / "matteapp.icns"
PACKAGE_ICONS = ROOT / "matteapp" / "resources" / "icons"


def render(size: int) -> Image.Image:
    """The SVG at size×size pixels, RGBA."""
    if shutil.which("rsvg-convert"):
        png = subprocess.run(
            ["rsvg-convert", "--width", str(size), "--height", str(size), str(SOURCE)], check=True, capture_output=True
        ).stdout
        return Image.open(io.BytesIO(png)).convert("RGBA")
    try:
        import cairosvg
    except ImportError:
        return _render_qt(size)
    png = cairosvg.svg2png(url=str(SOURCE), output_width=size, output_height=size)
    return Image.open(io.BytesIO(png)).convert("RGBA")


def _render_qt(size: int) -> Image.Image:
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication.instance() or QGuiApplication(["make_icons", "-platform", "offscreen"])  # noqa: F841
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(0)
    painter = QPainter(image)
    QSvgRenderer(str(SOURCE)).render(painter)
    painter.end()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    return Image.open(io.BytesIO(bytes(data))).convert("RGBA")


def png_path(size: int) -> Path:
    return HICOLOR / f"{size}x{size}" / "apps" / f"{APP_ID}.png"


def write_all() -> None:
    images = {}
    for size in SIZES:
        images[size] = render(size)
        path = png_path(size)
        path.parent.mkdir(parents=True, exist_ok=True)
        images[size].save(path, optimize=True)
    scalable = HICOLOR / "scalable" / "apps" / f"{APP_ID}.svg"
    scalable.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SOURCE, scalable)

    # Each ICO entry from its own rendering: Pillow would otherwise shrink the largest, blurring 16 and 24.
    ico_sizes = [s for s in SIZES if s <= 256]
    ICO.parent.mkdir(parents=True, exist_ok=True)
    images[256].save(ICO, format="ICO", sizes=[(s, s) for s in ico_sizes], append_images=[images[s] for s in ico_sizes])
    ICNS.parent.mkdir(parents=True, exist_ok=True)
    render(1024).save(ICNS, format="ICNS", append_images=[images[s] for s in (16, 32, 64, 128, 256, 512)])

    PACKAGE_ICONS.mkdir(parents=True, exist_ok=True)
    images[256].save(PACKAGE_ICONS / "matteapp-256.png", optimize=True)
    shutil.copyfile(SOURCE, PACKAGE_ICONS / "matteapp.svg")
    for path in [*(png_path(s) for s in SIZES), scalable, ICO, ICNS, PACKAGE_ICONS / "matteapp-256.png"]:
        print(f"{path.relative_to(ROOT)}  {path.stat().st_size:,} bytes")


def check() -> list[str]:
    problems = []
    for size in SIZES:
        path = png_path(size)
        if not path.is_file():
            problems.append(f"{path.relative_to(ROOT)} is missing")
            continue
        with Image.open(path) as image:
            if image.size != (size, size) or image.mode != "RGBA":
                problems.append(f"{path.relative_to(ROOT)} is {image.size} {image.mode}, expected ({size}, {size}) RGBA")
    for path in (ICO, ICNS, PACKAGE_ICONS / "matteapp-256.png", PACKAGE_ICONS / "matteapp.svg"):
        if not path.is_file():
            problems.append(f"{path.relative_to(ROOT)} is missing")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check the committed files")
    args = parser.parse_args()
    if args.check:
        problems = check()
        for line in problems:
            print(line, file=sys.stderr)
        return 1 if problems else 0
    write_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
