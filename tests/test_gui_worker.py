"""The background inference worker: streaming order, stale-drop, cancel, errors, model loading, tasks."""

import threading
from types import SimpleNamespace

import numpy as np
import pytest
import torch

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import QCoreApplication, QTimer  # noqa: E402

from matteapp.engine.session import SessionResult, estimate_memory_bytes  # noqa: E402
from matteapp.gui import stall as stall_module  # noqa: E402
from matteapp.gui.stall import StallMonitor  # noqa: E402
from matteapp.gui.worker import (  # noqa: E402
    MatteController,
    MatteRequest,
    ModelInfo,
    ProgressThrottle,
    describe_failure,
)
from matteapp.model import MattingConfig, build_model  # noqa: E402
from matteapp.model import predictor as predictor_module  # noqa: E402
from matteapp.model.checkpoint import save_network  # noqa: E402
from matteapp.model.predictor import MattePredictor, bundled_model_path  # noqa: E402

pytestmark = pytest.mark.gui

SMALL = MattingConfig(name="d96", embed_dim=96, num_heads=3)
WAIT_MS = 60_000  # generous: the CPU is shared with other jobs


@pytest.fixture(scope="module")
def predictor():
    torch.manual_seed(0)
    return MattePredictor(build_model(SMALL), "cpu", "fp32")


@pytest.fixture
def controller(qtbot):
    c = MatteController()
    yield c
    c.shutdown()


@pytest.fixture
def loaded(controller, predictor, qtbot):
    with qtbot.waitSignal(controller.modelReady, timeout=WAIT_MS):
        controller.load_model("test model d96", loader=lambda: predictor)
    return controller


def make_photo(h=96, w=128, seed=0):
    rng = np.random.default_rng(seed)
    image = (rng.random((h, w, 3)) * 255).astype(np.uint8)
    trimap = np.zeros((h, w), np.uint8)
    trimap[h // 8 : h - h // 8, w // 8 : w - w // 8] = 128
    trimap[h // 4 : h - h // 4, w // 4 : w - w // 4] = 255
    return image, trimap


def record(controller):
    """Every public signal, in arrival order, as (name, id, payload)."""
    events = []
    controller.started.connect(lambda i: events.append(("started", i, None)))
    controller.progress.connect(lambda i, stage, f, msg: events.append(("progress", i, (stage, f))))
    controller.routing.connect(lambda i, k, keep, probs, grid: events.append(("routing", i, (k, keep, probs, grid))))
    controller.alphaTile.connect(lambda i, rect, tile, size: events.append(("tile", i, (rect, tile, size))))
    controller.finished.connect(lambda i, r: events.append(("finished", i, r)))
    controller.failed.connect(lambda i, kind, msg: events.append(("failed", i, (kind, msg))))
    controller.cancelled.connect(lambda i: events.append(("cancelled", i, None)))
    return events


class Hold:
    """A task that holds the worker until ``release()`` (keeps later jobs waiting in the mailbox)."""

    def __init__(self, controller):
        self.gate, self.entered, self.left = threading.Event(), threading.Event(), threading.Event()
        controller.run_task(self._run, lambda v: None, lambda m: None)
        assert self.entered.wait(30)

    def _run(self):
        self.entered.set()
        try:
            return self.gate.wait(60)
        finally:
            self.left.set()

    def release(self):
        self.gate.set()


def worker_idle(controller) -> threading.Event:
    """An event the worker sets once it has run every job queued so far (tasks run in id order
    after the current request), without the GUI thread delivering any of their signals."""
    done = threading.Event()
    controller.run_task(done.set, lambda v: None, lambda m: None)
    return done


def test_routing_maps_and_tiles_stream_before_the_result(loaded, qtbot):
    events = record(loaded)
    busy = []
    loaded.busyChanged.connect(busy.append)
    image, trimap = make_photo()
    with qtbot.waitSignal(loaded.finished, timeout=WAIT_MS):
        rid = loaded.submit(MatteRequest(image, trimap, preview=False))
    assert loaded.current_id is None and not loaded.is_busy
    assert busy == [True, False]
    names = [e[0] for e in events]
    assert names[0] == "started" and names[-1] == "finished"
    assert all(e[1] == rid for e in events)
    result = events[-1][2]
    assert isinstance(result, SessionResult) and result.alpha.shape == (96, 128) and not result.is_preview

    routing = [e[2] for e in events if e[0] == "routing"]
    assert [r[0] for r in routing] == [0, 1, 2, 3]
    for (k, keep, probs, grid), final_keep in zip(routing, result.routing):
        assert keep.dtype == bool and keep.shape == grid == result.token_grid == (6, 8)
        assert probs.shape == grid and probs.dtype == np.float32
        np.testing.assert_array_equal(keep, final_keep)
    # The overlay needs each map as soon as its router has decided: before any alpha exists.
    first_tile = names.index("tile")
    assert max(i for i, n in enumerate(names) if n == "routing") < first_tile

    assembled = np.full((96, 128), np.nan, np.float32)
    for (x, y, w, h), tile, size in (e[2] for e in events if e[0] == "tile"):
        assert size == (96, 128) and tile.shape == (h, w)
        assembled[y : y + h, x : x + w] = tile
    np.testing.assert_allclose(assembled, result.alpha, atol=1e-6)

    progress = [e[2] for e in events if e[0] == "progress"]
    assert progress[-1] == ("done", 1.0)
    assert all(0.0 <= f <= 1.0 for _, f in progress)


def test_preview_tiles_are_in_work_coordinates_and_none_are_dropped(loaded, qtbot):
    events = record(loaded)
    image, trimap = make_photo(600, 840, seed=1)
    # A budget that fits 256-px decoder tiles but not 512: the 300×420 preview decodes in 4 tiles.
    fits = estimate_memory_bytes(SMALL, 300, 420, None, 256, "fp32") / 2**20
    assert estimate_memory_bytes(SMALL, 300, 420, None, 512, "fp32") / 2**20 > fits + 1
    request = MatteRequest(image, trimap, preview=True, preview_long_side=420, memory_budget_mb=fits + 1)
    assert request.work_size == (300, 420)
    with qtbot.waitSignal(loaded.finished, timeout=WAIT_MS):
        loaded.submit(request)
    result = events[-1][2]
    assert result.is_preview and result.size == (300, 420) and result.full_size == (600, 840)
    tiles = [e[2] for e in events if e[0] == "tile"]
    assert len(tiles) == 4
    covered = np.zeros((300, 420), np.int32)
    for (x, y, w, h), tile, size in tiles:
        assert size == result.size
        covered[y : y + h, x : x + w] += 1
        np.testing.assert_array_equal(tile, result.alpha[y : y + h, x : x + w])
    assert (covered == 1).all()


def test_cancel_while_running_emits_cancelled_and_no_result(loaded, qtbot):
    events = record(loaded)
    image, trimap = make_photo()
    loaded.routing.connect(lambda *a: loaded.cancel())  # cancel as soon as the run is under way
    with qtbot.waitSignal(loaded.cancelled, timeout=WAIT_MS) as blocker:
        rid = loaded.submit(MatteRequest(image, trimap, preview=False))
    assert blocker.args == [rid]
    assert loaded.current_id is None and not loaded.is_busy
    # Everything the worker still sends for it precedes the next request's signals: none gets through.
    loaded.routing.disconnect()
    with qtbot.waitSignal(loaded.finished, timeout=WAIT_MS):
        second = loaded.submit(MatteRequest(image, trimap, preview=False))
    names_first = [e[0] for e in events if e[1] == rid]
    assert "finished" not in names_first and names_first.count("cancelled") == 1
    assert "tile" not in names_first[names_first.index("routing") :]
    assert [e[1] for e in events if e[0] == "finished"] == [second]


def test_cancel_of_a_waiting_request_is_confirmed_without_the_worker(loaded, qtbot):
    events = record(loaded)
    hold = Hold(loaded)
    try:
        image, trimap = make_photo()
        rid = loaded.submit(MatteRequest(image, trimap, preview=False))
        with qtbot.waitSignal(loaded.cancelled, timeout=WAIT_MS) as blocker:
            loaded.cancel()
        assert blocker.args == [rid] and not hold.left.is_set()
    finally:
        hold.release()
    qtbot.waitUntil(lambda: not loaded.is_busy, timeout=WAIT_MS)
    assert [e[0] for e in events] == ["cancelled"]


def test_cancel_that_comes_after_the_last_check_still_wins(loaded, qtbot):
    events = record(loaded)
    image, trimap = make_photo()
    rid = loaded.submit(MatteRequest(image, trimap, preview=False))
    assert worker_idle(loaded).wait(60)  # the result is queued for the GUI thread but not delivered
    with qtbot.waitSignal(loaded.cancelled, timeout=WAIT_MS):
        loaded.cancel()
    qtbot.waitUntil(lambda: not loaded.is_busy, timeout=WAIT_MS)
    assert [e[0] for e in events] == ["cancelled"] and events[0][1] == rid


def test_signals_already_queued_for_a_replaced_request_are_dropped(loaded, qtbot):
    events = record(loaded)
    image, trimap = make_photo()
    first = loaded.submit(MatteRequest(image, trimap, preview=False))
    assert worker_idle(loaded).wait(60)  # all of the first run's signals wait in the GUI queue
    with qtbot.waitSignal(loaded.finished, timeout=WAIT_MS) as blocker:
        second = loaded.submit(MatteRequest(image, trimap, preview=False))
    assert blocker.args[0] == second
    assert {e[1] for e in events} == {second}


def test_only_the_newest_waiting_request_runs(loaded, qtbot):
    events = record(loaded)
    image, trimap = make_photo()
    hold = Hold(loaded)
    ids = [loaded.submit(MatteRequest(image, trimap, preview=False)) for _ in range(3)]
    assert loaded.current_id == ids[-1]
    with qtbot.waitSignal(loaded.finished, timeout=WAIT_MS) as blocker:
        hold.release()
    assert blocker.args[0] == ids[-1]
    assert {e[1] for e in events} == {ids[-1]}
    assert [e[0] for e in events].count("started") == 1


def test_jobs_run_in_the_order_they_were_given(loaded, qtbot):
    order = []
    loaded.finished.connect(lambda i, r: order.append("request"))
    hold = Hold(loaded)
    image, trimap = make_photo()
    loaded.submit(MatteRequest(image, trimap, preview=False))
    with qtbot.waitSignal(loaded.busyChanged, timeout=WAIT_MS):
        loaded.run_task(lambda: None, lambda v: order.append("task"), lambda m: None)
        hold.release()
    # Both callbacks run on the GUI thread, in the order the worker reported.
    assert order == ["request", "task"]


def test_second_quick_submit_makes_the_first_stale(loaded, qtbot):
    events = record(loaded)
    image, trimap = make_photo()
    first = loaded.submit(MatteRequest(image, trimap, preview=False))
    with qtbot.waitSignal(loaded.finished, timeout=WAIT_MS) as blocker:
        inverted = np.where(trimap == 128, 128, 255 - trimap).astype(np.uint8)
        second = loaded.submit(MatteRequest(image, inverted, preview=False))
    assert blocker.args[0] == second
    assert first not in {e[1] for e in events}
    result = blocker.args[1]
    assert result.alpha.shape == (96, 128)
    # The second request's own trimap was used: its inner region is background now.
    assert result.alpha[40:56, 50:78].max() == 0.0


def test_request_snapshots_the_trimap(predictor):
    image, trimap = make_photo()
    request = MatteRequest(image, trimap)
    trimap[:] = 0
    assert request.trimap is not trimap and (request.trimap == 255).any()
    assert request.work_size == (96, 128)  # preview long side 1024 > 128: no downscale


def test_model_loads_off_the_gui_thread_before_the_request_runs(controller, predictor, qtbot):
    order, threads = [], []
    controller.modelLoading.connect(lambda d: order.append(("loading", d)))
    controller.modelReady.connect(lambda info: order.append(("ready", info)))
    controller.started.connect(lambda i: order.append(("started", i)))

    def loader():
        threads.append(threading.get_ident())
        return predictor

    image, trimap = make_photo()
    controller.load_model("test model d96", loader=loader)
    assert controller.is_busy
    with qtbot.waitSignal(controller.finished, timeout=WAIT_MS):
        rid = controller.submit(MatteRequest(image, trimap, preview=False))
    assert threads and threads[0] != threading.get_ident()
    assert [o[0] for o in order] == ["loading", "ready", "started"] and order[2][1] == rid
    info = order[1][1]
    assert isinstance(info, ModelInfo) and controller.model_info == info
    assert info.name == "d96" and info.routed and info.device == "cpu" and info.precision == "fp32"
    assert info.parameters == predictor.num_parameters and info.size_mb == pytest.approx(info.parameters * 4 / 2**20)
    assert info.source == "test model d96"


def test_missing_and_damaged_checkpoints_give_readable_messages(loaded, qtbot, tmp_path):
    before = loaded.model_info
    missing = tmp_path / "missing.pth"
    with qtbot.waitSignal(loaded.modelFailed, timeout=WAIT_MS) as blocker:
        loaded.load_model(str(missing))
    assert str(missing) in blocker.args[0] and "no such checkpoint file" in blocker.args[0]

    damaged = tmp_path / "damaged.pth"
    damaged.write_bytes(b"PK\x03\x04 this is not a checkpoint" * 10)
    with qtbot.waitSignal(loaded.modelFailed, timeout=WAIT_MS) as blocker:
        loaded.load_model(str(damaged))
    assert str(damaged) in blocker.args[0] and "Traceback" not in blocker.args[0]
    assert not loaded.is_busy and loaded.model_info == before

    # The previous model is kept: requests still run.
    image, trimap = make_photo()
    with qtbot.waitSignal(loaded.finished, timeout=WAIT_MS):
        loaded.submit(MatteRequest(image, trimap, preview=False))


def test_a_model_computing_nan_is_rejected(controller, qtbot):
    net = build_model(SMALL)
    with torch.no_grad():
        for p in net.parameters():
            p.fill_(float("nan"))
    with qtbot.waitSignal(controller.modelFailed, timeout=WAIT_MS) as blocker:
        controller.load_model("nan weights", loader=lambda: MattePredictor(net, "cpu", "fp32"))
    assert "NaN" in blocker.args[0] and controller.model_info is None

    with qtbot.waitSignal(controller.modelFailed, timeout=WAIT_MS) as blocker:
        controller.load_model("not a model", loader=lambda: "a string")
    assert "not a MattePredictor" in blocker.args[0]


def test_request_without_any_model_fails_with_the_reason(controller, qtbot, tmp_path, monkeypatch):
    monkeypatch.setattr(predictor_module, "BUNDLED_MODEL_DIR", tmp_path / "no-models")
    assert bundled_model_path() is None
    failures = []
    controller.modelFailed.connect(failures.append)
    image, trimap = make_photo()
    with qtbot.waitSignal(controller.failed, timeout=WAIT_MS) as blocker:
        rid = controller.submit(MatteRequest(image, trimap, preview=False))
    assert blocker.args[:2] == [rid, "error"]
    assert "No model is loaded" in blocker.args[2] and "bundled model" in blocker.args[2]
    assert failures and "bundled model" in failures[0]


def test_request_without_a_loaded_model_loads_the_bundled_one(controller, qtbot, tmp_path, monkeypatch):
    torch.manual_seed(2)
    save_network(build_model(SMALL), tmp_path / "tiny.safetensors")
    monkeypatch.setattr(predictor_module, "BUNDLED_MODEL_DIR", tmp_path)
    loading, ready = [], []
    controller.modelLoading.connect(loading.append)
    controller.modelReady.connect(ready.append)
    image, trimap = make_photo()
    with qtbot.waitSignal(controller.finished, timeout=WAIT_MS) as blocker:
        rid = controller.submit(MatteRequest(image, trimap, preview=False))
    assert blocker.args[0] == rid and blocker.args[1].alpha.shape == trimap.shape
    assert loading and "tiny.safetensors" in loading[0]
    assert len(ready) == 1 and ready[0].source == str(tmp_path / "tiny.safetensors") and ready[0].routed
    assert controller.model_info == ready[0]


def test_bad_inputs_fail_as_input_errors(loaded, qtbot):
    image, trimap = make_photo()
    with qtbot.waitSignal(loaded.failed, timeout=WAIT_MS) as blocker:
        rid = loaded.submit(MatteRequest(image, trimap[:50], preview=False))
    assert blocker.args[:2] == [rid, "input"] and "trimap" in blocker.args[2]
    with qtbot.waitSignal(loaded.failed, timeout=WAIT_MS) as blocker:
        loaded.submit(MatteRequest(image, trimap, engine="magic"))
    assert blocker.args[1] == "input" and "unknown engine" in blocker.args[2]
    assert not loaded.is_busy


def test_failure_kinds_and_messages():
    session_oom = MemoryError("not enough memory to matte a 6000×4000 photo on the CPU; try a preview")
    assert describe_failure(session_oom) == ("oom", str(session_oom))
    kind, message = describe_failure(RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    assert kind == "oom" and "preview" in message and "Traceback" not in message
    kind, message = describe_failure(MemoryError())
    assert kind == "oom" and message.startswith("Not enough memory")
    assert describe_failure(ValueError("trimap is 3×4 but the photo is 5×6")) == ("input", "trimap is 3×4 but the photo is 5×6")
    assert describe_failure(KeyError("alpha")) == ("error", "KeyError: 'alpha'")
    assert describe_failure(ZeroDivisionError("division by zero")) == ("error", "division by zero")


def test_run_task_success_error_and_stale_drop(controller, qtbot):
    done, errors, threads = [], [], []

    def work():
        threads.append(threading.get_ident())
        return 42

    with qtbot.waitCallback(timeout=WAIT_MS) as callback:
        controller.run_task(work, callback, errors.append)
    assert callback.args == [42] and not errors and threads[0] != threading.get_ident()

    def boom():
        raise RuntimeError("GrabCut found no foreground")

    with qtbot.waitCallback(timeout=WAIT_MS) as callback:
        controller.run_task(boom, done.append, callback)
    assert callback.args == ["GrabCut found no foreground"] and not done

    hold = Hold(controller)  # this task is stale once another one is started
    with qtbot.waitCallback(timeout=WAIT_MS) as callback:
        controller.run_task(lambda: "newest", callback, errors.append)
        hold.release()
    assert callback.args == ["newest"] and not errors and not done
    qtbot.waitUntil(lambda: not controller.is_busy, timeout=WAIT_MS)


def test_cancelled_task_calls_nothing(controller, qtbot):
    calls = []
    entered, gate = threading.Event(), threading.Event()

    def cancellable(cancel):
        entered.set()
        gate.wait(30)
        return cancel()

    controller.run_task(cancellable, calls.append, calls.append, with_cancel=True)
    assert entered.wait(30)
    controller.cancel()
    gate.set()
    qtbot.waitUntil(lambda: not controller.is_busy, timeout=WAIT_MS)
    assert calls == []


def test_shutdown_joins_the_thread_and_drops_late_results(loaded, qtbot):
    events = record(loaded)
    image, trimap = make_photo()
    with qtbot.waitSignal(loaded.started, timeout=WAIT_MS):
        loaded.submit(MatteRequest(image, trimap, preview=False))
    assert loaded.shutdown(timeout_ms=WAIT_MS)
    assert loaded._thread.isFinished() and not loaded.is_busy and loaded.is_shut_down
    QCoreApplication.processEvents()  # deliver whatever the worker posted before it stopped
    assert not [e for e in events if e[0] in ("finished", "failed")]
    with pytest.raises(RuntimeError, match="shut down"):
        loaded.submit(MatteRequest(image, trimap))
    assert loaded.shutdown()  # a second call is harmless


def test_progress_throttle_keeps_stage_changes_and_the_end():
    now = [0.0]
    throttle = ProgressThrottle(interval_s=0.1, clock=lambda: now[0])
    allowed = []
    for i in range(10):
        now[0] = i * 0.01
        allowed.append(throttle.allow("backbone", i / 20))
    assert allowed == [True] + [False] * 9
    assert throttle.allow("decoder", 0.6)  # a new stage always shows
    now[0] = 0.12
    assert not throttle.allow("decoder", 0.7)
    assert throttle.allow("done", 1.0)
    now[0] = 0.5
    assert throttle.allow("decoder", 0.9)


def test_stall_monitor_sees_a_blocked_event_loop(qtbot, monkeypatch):
    # The monitor reads a clock that advances exactly 5 ms per reading, and the "frozen" slot moves it
    # on by 120 ms: a real timer drives the ticks, and every figure is known exactly.
    now = [0.0]

    def clock():
        now[0] += 0.005
        return now[0] - 0.005

    monkeypatch.setattr(stall_module, "time", SimpleNamespace(perf_counter=clock))
    monitor = StallMonitor(interval_ms=5)
    monitor.start()
    qtbot.waitUntil(lambda: monitor.ticks >= 5, timeout=WAIT_MS)
    frozen_at = []

    def freeze():
        frozen_at.append(now[0])
        now[0] += 0.120

    QTimer.singleShot(0, freeze)
    qtbot.waitUntil(lambda: bool(frozen_at) and monitor.ticks >= 20, timeout=WAIT_MS)
    monitor.stop()
    assert not monitor.running
    gaps = monitor.gaps_ms()
    assert len(gaps) == monitor.ticks and sorted(gaps)[:-1] == pytest.approx([5.0] * (len(gaps) - 1))
    assert monitor.longest_gap_ms == pytest.approx(125.0)
    assert monitor.longest_ms == pytest.approx(120.0)
    assert monitor.percentile(50) == pytest.approx(5.0) and monitor.percentile(100) == monitor.longest_gap_ms
    # the longest gap ends at the first reading after the frozen slot
    assert monitor.longest_at_s == pytest.approx(frozen_at[0] + 0.120)
    histogram = monitor.histogram()
    assert histogram["<10"] == monitor.ticks - 1 and histogram["100–250"] == 1 and sum(histogram.values()) == monitor.ticks
    assert "longest stall 120.0 ms" in monitor.summary()
    monitor.reset()
    assert monitor.ticks == 0 and monitor.longest_ms == 0.0
