"""Screenshots of the running application, for the README and for looking at the UI.

Run under a display, e.g. a virtual one::

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python tests/benchmarks/screenshots.py

It drives the real main window at 1440×900 with the bundled model (or ``--model``; without a bundled
model, the random-weight preset ``mematte-s``, which the status bar then marks "random weights") and
writes to ``docs/screenshots/``:

``01-empty.png``        the empty state
``02-trimap.png``       the sample photo with an automatic trimap from a rectangle plus brush corrections
``03-routing-live.png`` grabbed while the model runs, right after the second router's map arrived
``04-cutout.png``       the final cut-out over the checkerboard
``06-full-run.png``     a full-resolution run of the sample scaled to 2048 px, mid-backbone: the preview's
                        cut-out stays on screen, the bar follows the time estimate, with the time left
``07-smart-trimap.png`` the automatic trimap's smart radius over the astronaut's hair, at 200 %
``08-local-update.png`` after the full run, auto-run on: a Background stroke over the rocket, shown at
                        once by a local update in the cut-out view

(``05-get-models.png`` comes from ``screenshot_models.py``.)  Settings and autosaves go to a temporary
folder, so the user's own configuration is neither read nor changed.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QEventLoop, QPoint, QSettings, Qt, QTimer  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from matteapp.engine.trimap import BACKGROUND, FOREGROUND, UNKNOWN  # noqa: E402
from matteapp.model.predictor import bundled_model_path  # noqa: E402

WINDOW_SIZE = (1440, 900)
WAIT_MS = 600_000


def wait_for(signal, timeout_ms: int = WAIT_MS, accept=lambda *args: True) -> tuple:
    """Run the event loop until ``signal`` fires with arguments ``accept`` likes; returns them."""
    loop = QEventLoop()
    got: list[tuple] = []

    def on_signal(*args):
        if accept(*args):
            got.append(args)
            loop.quit()

    signal.connect(on_signal)
    QTimer.singleShot(timeout_ms, loop.quit)
    loop.exec()
    signal.disconnect(on_signal)
    if not got:
        raise TimeoutError(f"no {signal} within {timeout_ms / 1000:.0f} s")
    return got[0]


def settle(ms: int = 150) -> None:
    """Let queued paints, layouts and signals run."""
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def grab(window, path: Path) -> None:
    pixmap = window.grab()
    if pixmap.isNull() or not pixmap.save(str(path), "PNG"):
        raise OSError(f"could not write {path}")
    print(f"wrote {path.relative_to(ROOT)} ({pixmap.width()}×{pixmap.height()})")


def stroke(window, points, value: int, diameter: float) -> None:
    """A brush stroke with real mouse events through photo points ``points``."""
    panel = window.tool_panel
    next(a for a in panel.shortcut_actions() if a.data() == "brush").trigger()
    next(a for a in panel.shortcut_actions() if a.data() == value).trigger()
    panel.set_brush_size(diameter)
    window.canvas.set_brush_radius(diameter / 2)
    viewport = window.canvas.viewport()

    def at(x, y) -> QPoint:
        return window.canvas.map_from_image(x, y).toPoint()

    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at(*points[0]))
    for p in points[1:]:
        QTest.mouseMove(viewport, at(*p))
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at(*points[-1]))


def lasso(window, points, value: int) -> None:
    """A freehand lasso with real mouse events through photo points ``points``."""
    panel = window.tool_panel
    next(a for a in panel.shortcut_actions() if a.data() == "lasso").trigger()
    next(a for a in panel.shortcut_actions() if a.data() == value).trigger()
    viewport = window.canvas.viewport()
    path = [window.canvas.map_from_image(x, y).toPoint() for x, y in points + points[:1]]
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, path[0])
    for a, b in zip(path, path[1:]):
        for t in (0.25, 0.5, 0.75, 1.0):  # a hand-drawn outline arrives as many small moves
            QTest.mouseMove(viewport, a + (b - a) * t)
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, path[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="checkpoint or preset (default: the bundled model, else mematte-s)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="matteapp-screenshots-"))
    os.environ["MATTEAPP_CONFIG_DIR"] = str(scratch / "config")
    app = QApplication(sys.argv[:1])
    app.setOrganizationName("matteapp")
    app.setApplicationName("matteapp")
    for fmt in (QSettings.Format.IniFormat, QSettings.Format.NativeFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, str(scratch / "qsettings"))

    from matteapp.gui.main_window import SAMPLE_PHOTO, MainWindow

    settings = QSettings(str(scratch / "settings.ini"), QSettings.Format.IniFormat)
    settings.setValue("recent/files", [str(SAMPLE_PHOTO)])
    window = MainWindow(settings=settings, load_model=False)
    window.resize(*WINDOW_SIZE)
    window.show()
    model = args.model or (None if bundled_model_path() is not None else "mematte-s")
    window.start_model_load(model, "cpu", "fp32")
    wait_for(window.controller.modelReady)
    args.out.mkdir(parents=True, exist_ok=True)
    settle(400)
    grab(window, args.out / "01-empty.png")

    window.open_path(SAMPLE_PHOTO)
    doc = wait_for(window.documentChanged)[0]
    settle()
    # The astronaut: a rectangle around her (GrabCut also takes the rocket behind her shoulder), then
    # what a user would do — a background lasso around the rocket and an unknown stroke over her hair.
    next(a for a in window.tool_panel.shortcut_actions() if a.data() == "rect").trigger()
    window.make_auto_trimap((40, 10, 420, 502))
    wait_for(window.taskFinished, accept=lambda kind: kind == "auto trimap")
    window.set_view_mode("trimap")
    window.canvas.set_zoom(2.0)
    center = window.canvas.map_from_image(250, 130)
    viewport = window.canvas.viewport().rect().center()
    window.canvas.pan_by(viewport.x() - center.x(), viewport.y() - center.y())
    settle(300)
    grab(window, args.out / "07-smart-trimap.png")
    window.canvas.zoom_to_fit()
    lasso(window, [(386, 1), (470, 1), (478, 120), (462, 200), (386, 200)], BACKGROUND)
    stroke(window, [(150, 70), (200, 30), (260, 25), (310, 60)], UNKNOWN, 18)
    # The smart radius also widened the band around GrabCut's holes in her face and on the suit's
    # badges (they are not hair): Foreground strokes put them back, as a user would.
    stroke(window, [(215, 95), (245, 175), (275, 95), (245, 135)], FOREGROUND, 50)
    stroke(window, [(120, 330), (200, 420), (300, 330), (330, 440)], FOREGROUND, 70)
    window.set_view_mode("trimap")
    QTest.mouseMove(window.canvas.viewport(), window.canvas.map_from_image(300, 200).toPoint())
    settle(300)
    grab(window, args.out / "02-trimap.png")

    grabbed = []

    def on_document(event, payload):
        if event == "routing" and payload == 1 and not grabbed:
            QApplication.processEvents()
            grab(window, args.out / "03-routing-live.png")
            grabbed.append(True)

    doc.subscribe(on_document)
    window.routing_panel.set_display("density")
    window.run_matte(preview=True)
    outcome = wait_for(window.runEnded)[0]
    if outcome != "finished":
        print(f"the run ended with {outcome!r}: {window.last_error}", file=sys.stderr)
        return 1
    window.set_backdrop("checker")
    window.set_view_mode("cutout")
    settle(300)
    grab(window, args.out / "04-cutout.png")

    # A photo whose full-resolution run takes a while: the sample at 4 × 4 its size.
    window.files.ask_unsaved = lambda reason: "discard"
    big = scratch / "astronaut-2048.png"
    cv2.imwrite(str(big), cv2.resize(cv2.imread(str(SAMPLE_PHOTO)), None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC))
    window.open_path(big)
    doc = wait_for(window.documentChanged)[0]
    window.make_auto_trimap((160, 40, 1680, 2008))
    wait_for(window.taskFinished, accept=lambda kind: kind == "auto trimap")
    settle()
    stroke(window, [(860, 380), (980, 700), (1100, 380), (980, 540)], FOREGROUND, 200)
    stroke(window, [(480, 1320), (800, 1680), (1200, 1320), (1320, 1760)], FOREGROUND, 280)
    window.run_matte(preview=True)
    if wait_for(window.runEnded)[0] != "finished":
        print(f"the preview failed: {window.last_error}", file=sys.stderr)
        return 1
    window.set_view_mode("cutout")
    settle(300)
    grabbed.clear()

    def on_full_run(event, payload):
        if event == "routing" and payload == 1 and not grabbed:
            grabbed.append(True)
            settle(600)  # a few ticks of the time estimate
            grab(window, args.out / "06-full-run.png")

    doc.subscribe(on_full_run)
    window.run_matte(preview=False)
    if wait_for(window.runEnded)[0] != "finished":
        print(f"the full run failed: {window.last_error}", file=sys.stderr)
        return 1

    # Auto-run on, watching the cut-out: a Background stroke over the rocket behind her shoulder is
    # re-matted locally at once, and the canvas says the result holds a local update.
    window.run_panel._auto_run.setChecked(True)
    window.set_view_mode("cutout")
    stroke(window, [(1700, 40), (1690, 250), (1680, 440)], BACKGROUND, 180)
    wait_for(window.taskFinished, accept=lambda kind: kind == "local update")
    settle(300)
    grab(window, args.out / "08-local-update.png")

    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
