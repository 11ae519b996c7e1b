"""How long the GUI thread freezes while the background worker mattes a full-resolution photo.

    python tests/benchmarks/bench_gui_stall.py [--size 6000x4000] [--model PATH|PRESET] [--device auto]

Builds a synthetic photo (textured background, soft-edged hairy subject, trimap banded from its true
alpha), starts a QApplication (offscreen unless a display exists) with a progress bar and a label,
loads the model through :class:`~matteapp.gui.worker.MatteController` (the bundled model if one is
shipped, else preset ``mematte-s`` with random weights), and runs one full-resolution MEMatte request
while a :class:`~matteapp.gui.stall.StallMonitor` ticks every 5 ms on the GUI thread.  The GUI-side
handlers do what the app does with each signal: paste alpha tiles into the displayed matte, upscale
each routing map into an overlay, update the progress bar.

Prints the total time, how many routing maps / alpha tiles / progress events arrived, and the GUI
thread's longest stall and gap percentiles during model loading and during the run.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import cv2
import numpy as np


def synthetic_photo(width: int, height: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(RGB uint8 H×W×3, true alpha float32 H×W): a soft-edged subject with fine strands over texture."""
    rng = np.random.default_rng(seed)
    small = rng.random((height // 64 + 1, width // 64 + 1, 3)).astype(np.float32)
    bg = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    grain = rng.standard_normal((height // 4 + 1, width // 4 + 1, 1)).astype(np.float32)
    grain = cv2.resize(grain, (width, height), interpolation=cv2.INTER_LINEAR)[..., None] * 0.05
    bg = np.clip(bg + grain, 0, 1) * 160 + 40
    yy, xx = np.ogrid[:height, :width]
    r = np.sqrt(((xx - width / 2) / (width * 0.25)) ** 2 + ((yy - height / 2) / (height * 0.35)) ** 2)
    alpha = np.clip((1.05 - r) / 0.1, 0, 1).astype(np.float32)
    strands = cv2.GaussianBlur((rng.random((height, width)) > 0.995).astype(np.float32), (0, 0), 3) * 40
    alpha = np.clip(alpha + strands * (r < 1.2), 0, 1).astype(np.float32)
    subject = np.array([200, 120, 80], np.float32)
    image = (alpha[..., None] * subject + (1 - alpha[..., None]) * bg).astype(np.uint8)
    return image, alpha


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", default="6000x4000", help="WIDTHxHEIGHT of the synthetic photo (default 24 MP)")
    ap.add_argument("--model", default=None, help="checkpoint or preset (default: the bundled model, else mematte-s random)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--max-global-tokens", type=int)
    ap.add_argument("--timeout", type=float, default=3600, help="cancel the run after this many seconds")
    args = ap.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))

    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) and sys.platform.startswith("linux"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEventLoop, QTimer, qInstallMessageHandler
    from PySide6.QtWidgets import QApplication, QLabel, QProgressBar, QVBoxLayout, QWidget

    from matteapp.engine.trimap import trimap_from_mask
    from matteapp.gui.stall import StallMonitor
    from matteapp.gui.worker import MatteController, MatteRequest
    from matteapp.model.predictor import bundled_model_path

    if args.model is not None:
        source, which = args.model, f"{args.model} (given)"
    elif (path := bundled_model_path()) is not None:
        source, which = None, f"the bundled model {path.name}"
    else:
        source, which = "mematte-s", "preset mematte-s with RANDOM weights (no bundled model)"

    t0 = time.perf_counter()
    image, true_alpha = synthetic_photo(width, height)
    trimap = trimap_from_mask(true_alpha)
    print(f"photo {width}×{height} ({width * height / 1e6:.1f} MP) built in {time.perf_counter() - t0:.1f} s; "
          f"unknown {np.mean(trimap == 128):.1%} of pixels", flush=True)

    def quiet(mode, context, message):
        # The offscreen platform warns on every window resize; nothing to act on.
        if "propagateSizeHints" not in message:
            sys.stderr.write(message + "\n")

    previous_handler = qInstallMessageHandler(quiet)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    window = QWidget()
    layout = QVBoxLayout(window)
    label, bar = QLabel("idle"), QProgressBar()
    bar.setRange(0, 1000)
    layout.addWidget(label)
    layout.addWidget(bar)
    window.resize(480, 80)
    window.show()

    controller = MatteController()
    monitor = StallMonitor(interval_ms=5)
    loop = QEventLoop()
    outcome: dict = {}

    controller.modelReady.connect(lambda info: (outcome.update(model=info), loop.quit()))
    controller.modelFailed.connect(lambda msg: (outcome.update(model_error=msg), loop.quit()))
    monitor.start()
    t_load = time.perf_counter()
    controller.load_model(source, device=args.device, precision=args.precision)
    loop.exec()
    monitor.stop()
    load_s = time.perf_counter() - t_load
    if "model" not in outcome:
        print(f"model failed to load: {outcome.get('model_error')}")
        controller.shutdown()
        sys.exit(1)
    info = outcome["model"]
    print(f"model: {which}: {info.describe()}; loaded in {load_s:.1f} s, GUI stall meanwhile: {monitor.summary()}", flush=True)
    load_longest = monitor.longest_ms
    monitor.reset()

    counts = {"routing": 0, "tile": 0, "progress": 0}
    shown = {"alpha": None, "overlay": None}
    times: dict[str, float] = {}

    def on_progress(rid, stage, fraction, message):
        counts["progress"] += 1
        bar.setValue(round(fraction * 1000))
        label.setText(f"{stage}: {message}")

    def on_routing(rid, index, keep, probs, grid):
        counts["routing"] += 1
        times.setdefault("first routing", time.perf_counter() - t_run)
        h, w = shown["alpha"].shape if shown["alpha"] is not None else (height, width)
        # The overlay is drawn at display resolution; nearest keeps the token blocks crisp.
        shown["overlay"] = cv2.resize(keep.astype(np.uint8) * 255, (min(w, 1600), min(h, 1600)), interpolation=cv2.INTER_NEAREST)

    def on_tile(rid, rect, tile, work_size):
        counts["tile"] += 1
        times.setdefault("first tile", time.perf_counter() - t_run)
        if shown["alpha"] is None or shown["alpha"].shape != work_size:
            shown["alpha"] = np.zeros(work_size, np.float32)
        x, y, w, h = rect
        shown["alpha"][y : y + h, x : x + w] = tile

    def on_end(kind, *payload):
        outcome[kind] = payload
        times["end"] = time.perf_counter() - t_run
        loop.quit()

    controller.progress.connect(on_progress)
    controller.routing.connect(on_routing)
    controller.alphaTile.connect(on_tile)
    controller.finished.connect(lambda rid, result: on_end("finished", result))
    controller.failed.connect(lambda rid, kind, msg: on_end("failed", kind, msg))
    controller.cancelled.connect(lambda rid: on_end("cancelled"))
    QTimer.singleShot(int(args.timeout * 1000), controller.cancel)

    monitor.start()
    t_run = time.perf_counter()
    request = MatteRequest(image, trimap, preview=False, max_global_tokens=args.max_global_tokens)
    controller.submit(request)
    submit_ms = (time.perf_counter() - t_run) * 1000
    loop.exec()
    monitor.stop()
    total = time.perf_counter() - t_run
    controller.shutdown()
    qInstallMessageHandler(previous_handler)

    if "finished" not in outcome:
        print(f"run did not finish: {outcome}")
        sys.exit(1)
    result = outcome["finished"][0]
    sad = float(np.abs(result.alpha - true_alpha).sum()) / 1000
    print(f"total {total:.1f} s (submit() itself {submit_ms:.1f} ms on the GUI thread); "
          f"first routing map after {times.get('first routing', float('nan')):.1f} s, first alpha tile after {times.get('first tile', float('nan')):.1f} s")
    print(f"engine: backbone {result.timings.get('backbone', 0):.1f} s, decoder {result.timings.get('decoder', 0):.1f} s, "
          f"routed {result.routed_fraction:.1%} of tokens, {result.device}/{result.precision}; SAD vs the true alpha {sad:.1f}k"
          + (" (meaningless: random weights)" if "RANDOM" in which else ""))
    print(f"signals received: {counts['routing']} routing maps, {counts['tile']} alpha tiles, {counts['progress']} progress events")
    print(f"GUI thread during the run: longest stall {monitor.longest_ms:.1f} ms, p99 gap {monitor.percentile(99):.1f} ms "
          f"(p50 {monitor.percentile(50):.1f} ms, {monitor.ticks} ticks of 5 ms; the longest ended {monitor.longest_at_s:.1f} s in); "
          f"during model load: longest stall {load_longest:.1f} ms")
    print("gap histogram (ms):", ", ".join(f"{k}: {v}" for k, v in monitor.histogram().items()))


if __name__ == "__main__":
    main()
