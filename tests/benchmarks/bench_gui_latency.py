"""Latency in the real window on a large photo: preview on a click, local update after a brush stroke.

    python tests/benchmarks/bench_gui_latency.py [--size 6000x4000] [--strokes 5] [--previews 3] [--model PATH] [--full-run]

Opens the real :class:`~matteapp.gui.main_window.MainWindow` offscreen on a synthetic photo (the
textured, hairy subject of ``bench_gui_stall.py``) with its trimap.  Preview: Run Preview is clicked
``--previews`` times; each time, the time from the click to the preview's alpha written into the document
and repainted (the first click also pays for the kernels' first use, so the median of the others is the
figure).  Local update: the window gets a full-resolution result
(``--full-run``: a real run of the model, timed; otherwise the trimap's foreground stands for the last
run's alpha, which is all a local update reads), turns auto-run on, shows the cut-out and paints
``--strokes`` foreground brush strokes with the mouse across the subject's unknown edge.  For each:
the time from the mouse release to the blended alpha written into the document and repainted (the
"local update" task's end plus the event loop's next pass), and, over the whole session, the GUI
thread's longest stall (:class:`~matteapp.gui.stall.StallMonitor`, 5-ms ticks).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_gui_stall import synthetic_photo  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", default="6000x4000", help="WIDTHxHEIGHT (default 24 MP)")
    ap.add_argument("--strokes", type=int, default=5)
    ap.add_argument("--previews", type=int, default=3)
    ap.add_argument("--brush", type=int, default=40, help="brush diameter, photo px")
    ap.add_argument("--model", default=None, help="checkpoint or preset (default: the bundled model)")
    ap.add_argument("--full-run", action="store_true", help="make the result with a real full-resolution run")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    from PySide6.QtCore import QEventLoop, QPoint, QSettings, Qt, QTimer, qInstallMessageHandler
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from matteapp.engine.session import SessionResult
    from matteapp.engine.trimap import FOREGROUND, UNKNOWN, trimap_from_mask
    from matteapp.gui.main_window import MainWindow
    from matteapp.gui.stall import StallMonitor
    from matteapp.gui.worker import MatteController

    qInstallMessageHandler(lambda mode, context, message: None if "propagateSizeHints" in message else sys.stderr.write(message + "\n"))
    app = QApplication.instance() or QApplication(sys.argv[:1])
    tmp = Path(tempfile.mkdtemp(prefix="bench-local-"))
    image, true_alpha = synthetic_photo(width, height)
    trimap = trimap_from_mask(true_alpha)
    cv2.imwrite(str(tmp / "photo.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 1])
    cv2.imwrite(str(tmp / "trimap.png"), trimap)

    settings = QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat)
    controller = MatteController()
    loop = QEventLoop()

    def wait(signal, accept=lambda *a: True):
        def on(*payload):
            if accept(*payload):
                loop.quit()
        signal.connect(on)
        loop.exec()
        signal.disconnect(on)

    t0 = time.perf_counter()
    controller.load_model(args.model)
    wait(controller.modelReady)
    w = MainWindow(settings=settings, controller=controller, load_model=False)
    w.resize(1400, 900)
    w.show()
    w.open_path(tmp / "photo.png")
    wait(w.documentChanged)
    doc = w.doc
    w.import_trimap(tmp / "trimap.png")
    wait(w.taskFinished, lambda kind: kind == "import trimap")
    print(f"{w.running._model_info.describe()}; photo {width}×{height} ({width * height / 1e6:.1f} MP) open in "
          f"{time.perf_counter() - t0:.1f} s", flush=True)

    monitor = StallMonitor(interval_ms=5)
    preview_s = []
    button = w.run_panel._preview_button
    monitor.start()
    for _ in range(args.previews):
        app.processEvents()
        clicked = time.perf_counter()
        QTest.mouseClick(button, Qt.MouseButton.LeftButton)
        wait(w.runEnded)
        app.processEvents()
        preview_s.append(time.perf_counter() - clicked)
    monitor.stop()
    if preview_s:
        rest = preview_s[1:] or preview_s
        print(f"preview ({doc.result.size[1]}×{doc.result.size[0]}): click → alpha on screen median {np.median(rest):.2f} s "
              f"after the first ({preview_s[0]:.2f} s); GUI longest stall {monitor.longest_ms:.0f} ms", flush=True)
    monitor.reset()

    if args.full_run:
        t = time.perf_counter()
        w.run_matte(preview=False)
        wait(w.runEnded)
        print(f"full-resolution run: {time.perf_counter() - t:.1f} s ({doc.result.timings})", flush=True)
    else:
        alpha = (doc.trimap == FOREGROUND).astype(np.float32)
        doc.set_result(SessionResult(alpha=alpha, size=alpha.shape, full_size=alpha.shape, is_preview=False, engine="mematte"))
        w.running._pending = None  # as after a run: the result is up to date with the trimap
    w.run_panel._auto_run.setChecked(True)
    w.set_view_mode("cutout")
    next(a for a in w.tool_panel.shortcut_actions() if a.data() == "brush").trigger()
    w.tool_panel.set_brush_size(args.brush)

    # strokes across the subject's left and right edges, where the trimap is unknown
    ys = np.linspace(0.35, 0.65, args.strokes) * height
    points = []
    for i, y in enumerate(ys):
        row = np.nonzero(doc.trimap[int(y)] == UNKNOWN)[0]
        x = int(row[0] if i % 2 == 0 else row[-1])
        points.append((x, int(y)))

    viewport = w.canvas.viewport()
    latencies = []
    monitor.start()
    for x, y in points:
        app.processEvents()
        p = w.canvas.map_from_image(x, y).toPoint()
        QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, p)
        for dx in range(0, 41, 8):
            QTest.mouseMove(viewport, p + QPoint(dx, 0))
        released = time.perf_counter()
        QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, p + QPoint(40, 0))
        wait(w.taskFinished, lambda kind: kind == "local update")
        app.processEvents()  # the repaint the patched alpha asked for
        latencies.append(time.perf_counter() - released)
    monitor.stop()
    print(f"{len(points)} strokes (brush {args.brush} px, cut-out view): stroke end → blended alpha on screen "
          f"median {np.median(latencies):.2f} s, max {max(latencies):.2f} s ({', '.join(f'{v:.2f}' for v in latencies)})")
    print(f"GUI thread meanwhile: longest stall {monitor.longest_ms:.0f} ms, p99 gap {monitor.percentile(99):.1f} ms")
    print(f"canvas notice: {w.canvas.notice()!r}")
    if args.json:
        import json

        args.json.write_text(json.dumps({
            "size": [width, height], "strokes": len(points), "latency_s": latencies, "preview_s": preview_s,
            "longest_stall_ms": monitor.longest_ms, "model": w.running._model_info.describe(),
        }, indent=1))
    w.files.ask_unsaved = lambda reason: "discard"
    w.close()
    controller.shutdown()


if __name__ == "__main__":
    main()
