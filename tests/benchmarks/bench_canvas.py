"""Image canvas on a 50-megapixel photo: pyramid build, frame times at several zooms, brush edits, panning.

    QT_QPA_PLATFORM=offscreen python tests/benchmarks/bench_canvas.py [--size 8660x5774] [--viewport 1600x1000]

A frame is ``viewport().grab()`` of the whole viewport (the paint into a fresh pixmap included).
"cold, complete" converts every visible tile first (no frame budget); "cold, first frame" is what the
user waits for with the default budget (missing tiles drawn from a coarser level), followed by how many
frames and how long until every tile is at full resolution; "warm" repaints from cached tiles.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import cv2
import numpy as np


def synthetic_photo(width: int, height: int, seed: int = 0) -> np.ndarray:
    """Smooth colour fields with fine noise (so tiles are not trivially compressible), H×W×3 uint8."""
    rng = np.random.default_rng(seed)
    small = rng.random((height // 96 + 2, width // 96 + 2, 3)).astype(np.float32)
    photo = cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
    photo = cv2.convertScaleAbs(photo, alpha=200.0, beta=20.0)
    noise = rng.integers(0, 24, size=(height, 1024, 3), dtype=np.uint8)  # ≤ 220 + 23: no overflow
    for x in range(0, width, 1024):
        part = photo[:, x : x + 1024]
        np.add(part, noise[:, : part.shape[1]], out=part)
    return photo


def synthetic_trimap(width: int, height: int) -> np.ndarray:
    trimap = np.zeros((height, width), np.uint8)
    centre, axes = (width // 2, height // 2), (width // 4, int(height * 0.35))
    cv2.ellipse(trimap, centre, axes, 0, 0, 360, 255, -1)
    cv2.ellipse(trimap, centre, axes, 0, 0, 360, 128, max(8, width // 120))
    return trimap


def timed(fn, repeat: int = 1) -> list[float]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", default="8660x5774")
    ap.add_argument("--viewport", default="1600x1000")
    args = ap.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    vw, vh = (int(v) for v in args.viewport.split("x"))
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    from PySide6.QtCore import QPointF
    from PySide6.QtWidgets import QApplication

    from matteapp.gui.canvas import DEFAULT_FRAME_BUDGET_MS, ImageCanvas

    app = QApplication.instance() or QApplication([])
    t0 = time.perf_counter()
    photo = synthetic_photo(width, height)
    trimap = synthetic_trimap(width, height)
    print(f"synthetic {width}×{height} photo + trimap ({width * height / 1e6:.1f} MP) made in {time.perf_counter() - t0:.1f} s")

    canvas = ImageCanvas()
    canvas.resize(vw, vh)
    canvas.show()
    app.processEvents()
    assert canvas.viewport().size().width() == vw and canvas.viewport().size().height() == vh

    rows: list[tuple[str, str]] = []

    def report(what: str, times: list[float]) -> None:
        text = f"{statistics.median(times):8.1f} ms" + (f"  (min {min(times):.1f}, max {max(times):.1f}, n={len(times)})" if len(times) > 1 else "")
        rows.append((what, text))
        print(f"{what:<52} {text}", flush=True)

    report("set_photo (pyramid build)", timed(lambda: canvas.set_photo(photo), repeat=3))
    report("set_trimap (trimap pyramid build)", timed(lambda: canvas.set_trimap(trimap), repeat=3))
    alpha_preview = cv2.resize((trimap > 0).astype(np.float32), (1024, round(1024 * height / width)), interpolation=cv2.INTER_AREA)
    report("set_alpha (1024-px preview alpha)", timed(lambda: canvas.set_alpha(alpha_preview), repeat=3))

    def grab():
        canvas.viewport().grab()

    zooms = [("fit", None), ("25 %", 0.25), ("100 %", 1.0), ("400 %", 4.0)]
    for mode in ("photo", "trimap", "cutout"):
        canvas.set_view_mode(mode)
        for label, zoom in zooms:
            if zoom is None:
                canvas.zoom_to_fit()
                label = f"fit ({canvas.zoom * 100:.1f} %)"
            else:
                canvas.set_zoom(zoom)
            canvas.frame_budget_ms = None
            canvas.clear_tile_cache()
            report(f"{mode:<7} {label:<12} cold, complete", timed(grab))
            canvas.frame_budget_ms = DEFAULT_FRAME_BUDGET_MS
            canvas.clear_tile_cache()
            first = timed(grab)
            frames, t_all = 1, time.perf_counter()
            while canvas.refining:  # the next frames the event loop would paint
                grab()
                frames += 1
            report(f"{mode:<7} {label:<12} cold, first frame", first)
            rows.append((f"{mode:<7} {label:<12}   frames until complete", f"{frames} (+{(time.perf_counter() - t_all) * 1000:.0f} ms)"))
            print(f"{rows[-1][0]:<52} {rows[-1][1]}")
            report(f"{mode:<7} {label:<12} warm", timed(grab, repeat=5))

    # panning at 100 %: 40 px per frame, new tiles come in at the edges
    canvas.set_view_mode("trimap")
    canvas.set_zoom(1.0)
    canvas.frame_budget_ms = DEFAULT_FRAME_BUDGET_MS

    def pan_frame():
        canvas.pan_by(-40, -12)
        grab()

    report("trimap  100 % pan 40 px per frame", timed(pan_frame, repeat=60))

    # brush dabs (radius 40 px) on the trimap, then the repaint of just that region / a whole frame
    radius = 40
    for label, zoom in (("100 %", 1.0), ("fit", None)):
        canvas.zoom_to_fit()  # centred on the photo, where the dabs go
        if zoom is not None:
            canvas.set_zoom(zoom)
        grab()
        update_ms, region_ms, frame_ms = [], [], []
        for i in range(20):
            cx, cy = width // 2 + (i - 10) * 30, height // 2 + 200
            x, y = cx - radius, cy - radius
            region = trimap[y : y + 2 * radius + 1, x : x + 2 * radius + 1]
            cv2.circle(region, (radius, radius), radius, 255 if i % 2 else 0, -1)
            update_ms += timed(lambda: canvas.update_trimap_region(x, y, 2 * radius + 1, 2 * radius + 1))
            a, b = canvas.map_from_image(x, y), canvas.map_from_image(x + 2 * radius + 1, y + 2 * radius + 1)
            rect = (int(a.x()) - 1, int(a.y()) - 1, int(b.x() - a.x()) + 3, int(b.y() - a.y()) + 3)
            region_ms += timed(lambda: canvas.viewport().repaint(*rect))
            frame_ms += timed(grab)
        report(f"brush dab r={radius} at {label}: update_trimap_region", update_ms)
        report(f"brush dab r={radius} at {label}: repaint of the dab", region_ms)
        report(f"brush dab r={radius} at {label}: then a whole frame", frame_ms)

    print(f"\ntile cache: {canvas.tile_cache_bytes / 2**20:.0f} MB; viewport {vw}×{vh}; "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}, cv2 threads {cv2.getNumThreads()}, {os.cpu_count()} CPUs")
    print("\n| step | time |\n|---|---|")
    for what, text in rows:
        print(f"| {what.strip()} | {text.strip()} |")


if __name__ == "__main__":
    main()
