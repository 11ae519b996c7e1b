"""The Qt-free document: edits with sparse tiled undo, merged strokes, observers, dirty state, results."""

import logging
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import torch

from matteapp.document import paint
from matteapp.document.state import DEFAULT_SETTINGS, EDIT_TILE, EditHistory, MatteDocument, TrimapEdit
from matteapp.engine.session import MattingSession, SessionResult
from matteapp.engine.trimap import TrimapError
from matteapp.io.images import LoadedImage
from matteapp.model import MattingConfig, build_model
from matteapp.model.predictor import MattePredictor

BG, UNK, FG = 0, 128, 255


def photo(h=120, w=160, seed=0):
    rng = np.random.default_rng(seed)
    rgb = (rng.random((h, w, 3)) * 255).astype(np.uint8)
    return LoadedImage(rgb, None, Path("photo.png"), None, None, "RGB", 8, False)


class Recorder:
    def __init__(self, doc):
        self.events = []
        self.unsubscribe = doc.subscribe(lambda event, payload: self.events.append((event, payload)))

    def of(self, kind):
        return [payload for event, payload in self.events if event == kind]


@pytest.fixture
def doc():
    return MatteDocument(photo())


def brush(doc, points, value=FG, radius=4.0, merge_with=None):
    return doc.apply(paint.stroke(doc.trimap, points, radius, value), "Brush", merge_with=merge_with)


def big_document(height, width):
    # np.zeros maps untouched pages lazily, so a photo of hundreds of MB costs no memory until read.
    rgb = np.zeros((height, width, 3), np.uint8)
    return MatteDocument(LoadedImage(rgb, None, Path("big.png"), None, None, "RGB", 8, False))


def drag(doc, points, value, radius):
    """Paint a polyline segment by segment, as the brush tool does, merged into one edit; returns it."""
    edit = None
    for p, q in zip(points, points[1:]):
        edit = brush(doc, [p, q], value, radius, merge_with=edit)
    return edit


def assert_stores_exactly(edit, before, after):
    """``edit`` holds every pixel that differs between the two trimaps, with both values, and nothing else."""
    ys, xs, old, new = edit.changed_pixels()
    expected_ys, expected_xs = np.nonzero(before != after)
    assert sorted(zip(ys, xs)) == sorted(zip(expected_ys, expected_xs))
    assert np.array_equal(old, before[ys, xs]) and np.array_equal(new, after[ys, xs])


def assert_blocks_on_the_grid(edit):
    rects = edit.block_rects
    tiles = [(y // EDIT_TILE, x // EDIT_TILE) for x, y, _, _ in rects]
    assert len(set(tiles)) == len(tiles)  # one block per tile, however often the stroke came back
    for x, y, w, h in rects:
        assert w > 0 and h > 0
        assert (x + w - 1) // EDIT_TILE == x // EDIT_TILE and (y + h - 1) // EDIT_TILE == y // EDIT_TILE


# ---------------------------------------------------------------------------------------- basics


def test_new_document_is_all_background_and_has_no_hints(doc):
    assert doc.size == (120, 160) and doc.rgb is doc.image.rgb
    assert doc.trimap.dtype == np.uint8 and (doc.trimap == BG).all()
    assert not doc.has_hints and not doc.dirty and doc.path is None
    assert doc.region_counts() == (120 * 160, 0, 0)
    assert dict(doc.settings) == dict(DEFAULT_SETTINGS)


def test_given_trimap_is_normalized_and_owned():
    trimap = np.full((120, 160), 100, np.uint8)
    trimap[:, :40] = 200
    doc = MatteDocument(photo(), trimap=trimap)
    assert set(np.unique(doc.trimap)) == {UNK, FG} and doc.trimap is not trimap
    assert doc.has_hints
    with pytest.raises(TrimapError):
        MatteDocument(photo(), trimap=np.zeros((10, 10), np.uint8))


def test_has_hints_needs_unknown_and_foreground(doc):
    brush(doc, [(40.0, 40.0)], UNK, 10)
    assert not doc.has_hints
    brush(doc, [(40.0, 40.0)], FG, 3)
    assert doc.has_hints
    doc.undo()
    assert not doc.has_hints
    doc.redo()
    assert doc.has_hints
    bg, unk, fg = doc.region_counts()
    assert (unk, fg) == (int((doc.trimap == UNK).sum()), int((doc.trimap == FG).sum())) and fg > 0
    doc.apply(paint.fill(doc.trimap, UNK), "Clear")
    assert not doc.has_hints
    assert doc.region_counts() == (0, 120 * 160, 0)


# --------------------------------------------------------------------------------------- editing


def test_apply_undo_redo_restore_exact_pixels(doc):
    rng = np.random.default_rng(5)
    states = [doc.trimap.copy()]
    ops = [
        lambda t: paint.stroke(t, rng.uniform(0, 160, (4, 2)), rng.uniform(1, 12), int(rng.choice([BG, UNK, FG]))),
        lambda t: paint.polygon(t, rng.uniform(-10, 170, (6, 2)), int(rng.choice([BG, UNK, FG]))),
        lambda t: paint.rectangle(t, *rng.uniform(-10, 170, 4), int(rng.choice([BG, UNK, FG]))),
        lambda t: paint.flood_fill(t, *rng.uniform(0, 120, 2), int(rng.choice([BG, UNK, FG]))),
        lambda t: paint.invert(t),
    ]
    for i in range(40):
        if doc.apply(ops[i % len(ops)](doc.trimap), f"op {i}") is not None:
            states.append(doc.trimap.copy())
    assert len(doc.history) == len(states) - 1 > 20
    for expected in reversed(states[:-1]):
        assert doc.undo() is not None
        assert np.array_equal(doc.trimap, expected)
        assert doc.region_counts() == tuple(int((expected == v).sum()) for v in (BG, UNK, FG))
    assert doc.undo() is None
    for expected in states[1:]:
        doc.redo()
        assert np.array_equal(doc.trimap, expected)
    assert doc.redo() is None


def test_edit_stores_only_the_changed_rectangle(doc):
    doc.apply(paint.rectangle(doc.trimap, 10, 10, 50, 50, UNK), "Rect")
    # The patch covers 40×40 but only a 10×5 corner of it is new.
    edit = doc.apply(paint.rectangle(doc.trimap, 10, 10, 50, 50, UNK), "Rect again")
    assert edit is None
    patch = paint.rectangle(doc.trimap, 0, 0, 50, 50, UNK)
    edit = doc.apply(patch, "Bigger rect")
    assert edit.rect == (0, 0, 50, 50)  # an L around the old rect: its bbox
    values = np.full((40, 40), UNK, np.uint8)
    values[30:35, 5:15] = FG
    edit = doc.apply(paint.Patch(10, 10, values), "Corner")
    assert edit.rect == (15, 40, 10, 5) and edit.block_rects == [(15, 40, 10, 5)]
    ys, xs, before, after = edit.changed_pixels()
    assert len(ys) == 50 and (before == UNK).all() and (after == FG).all()
    # One old and one new value: no per-pixel data at all, only the block's bookkeeping, as for one pixel.
    one_pixel = TrimapEdit.from_arrays("Dot", 3, 3, np.full((1, 1), UNK, np.uint8), np.full((1, 1), FG, np.uint8))
    assert edit.nbytes == one_pixel.nbytes


def test_edit_stores_only_the_changed_pixels_of_each_tile():
    doc = MatteDocument(photo(200, 200))
    # A checkerboard change in a 120×80 box straddling four tiles of the grid, over mixed old values.
    doc.replace_trimap(np.random.default_rng(3).choice(np.array([BG, UNK], np.uint8), size=doc.size), "Noise")
    start = doc.trimap.copy()
    values = doc.trimap[90:170, 60:180].copy()
    values[::2, ::2] = FG
    edit = doc.apply(paint.Patch(60, 90, values), "Checker")
    assert edit.rect == (60, 90, 119, 79)
    assert edit.block_rects == [(60, 90, 67, 37), (128, 90, 51, 37), (60, 128, 67, 41), (128, 128, 51, 41)]
    assert_stores_exactly(edit, start, doc.trimap)
    changed = int((start != doc.trimap).sum())
    assert changed == 60 * 40
    # Old values (a byte each), new values (all FG: one number), a bit mask of each block's box and a
    # bounded bookkeeping cost per block: far less than the 2 × 119 × 79 bytes of two copies of the box.
    masks = sum(w * h for _, _, w, h in edit.block_rects) // 8
    assert changed + masks <= edit.nbytes < changed + masks + 4 * 1024 < 2 * 119 * 79
    doc.undo()
    assert np.array_equal(doc.trimap, start)


def test_merged_stroke_is_one_undo_step(doc):
    doc.apply(paint.rectangle(doc.trimap, 60, 0, 100, 120, UNK), "Band")
    original = doc.trimap.copy()
    segments = [[(20.0, 60.0), (50.0, 60.0)], [(50.0, 60.0), (80.0, 70.0)], [(60.0, 62.0), (70.0, 66.0)],
                [(80.0, 70.0), (140.0, 20.0)]]
    band = doc.history.top
    edit = None
    rects = []
    for seg in segments:
        edit = brush(doc, seg, FG, 5, merge_with=edit)
        rects.append(paint.stroke(original, seg, 5, FG).rect)
    assert len(doc.history) == 2 and doc.history.undo_label == "Brush"
    x0 = min(r[0] for r in rects)
    y0 = min(r[1] for r in rects)
    x1 = max(r[0] + r[2] for r in rects)
    y1 = max(r[1] + r[3] for r in rects)
    assert edit.rect == (x0, y0, x1 - x0, y1 - y0)  # the union of the segments
    painted = doc.trimap.copy()
    assert_stores_exactly(edit, original, painted)  # with the values from before the whole stroke
    assert_blocks_on_the_grid(edit)
    assert doc.history.nbytes == band.nbytes + edit.nbytes
    assert doc.undo() is edit
    assert np.array_equal(doc.trimap, original)
    doc.redo()
    assert np.array_equal(doc.trimap, painted)


def test_merge_needs_the_edit_to_still_be_the_newest(doc):
    first = brush(doc, [(20.0, 20.0)])
    doc.undo()
    second = brush(doc, [(30.0, 30.0)], merge_with=first)
    assert second is not first and len(doc.history) == 1
    # A segment that changes nothing keeps the stroke open instead of breaking it in two.
    assert brush(doc, [(30.0, 30.0)], merge_with=second) is second
    assert doc.apply(None, "Brush", merge_with=second) is second
    third = brush(doc, [(30.0, 30.0), (60.0, 30.0)], merge_with=second)
    assert third is second and len(doc.history) == 1


def test_hundred_brush_edits_on_a_large_trimap_store_only_what_they_changed():
    size = 7000
    doc = big_document(size, size)
    rng = np.random.default_rng(0)
    edits = []
    for i in range(100):
        x, y = rng.uniform(0, size, 2)
        edits.append(brush(doc, [(x, y), (x + rng.uniform(-40, 40), y + rng.uniform(-40, 40))], [UNK, FG][i % 2], 15))
    assert len(doc.history) == 100 and len(set(map(id, edits))) == 100
    assert doc.history.nbytes == sum(edit.nbytes for edit in edits)
    assert doc.history.nbytes < 0.02 * doc.trimap.nbytes  # all 100 together: under 2 % of one copy


def test_diagonal_stroke_across_a_large_trimap_is_one_small_undo_step():
    size = 7000
    doc = big_document(size, size)
    # A band of unknown across the middle, so the stroke paints over two classes.
    doc.apply(paint.rectangle(doc.trimap, 0, 3000, size, 3800, UNK), "Band")
    original = doc.trimap.copy()
    rec = Recorder(doc)
    # The mouse reports a point every few pixels: ~1400 segments from corner to corner.
    points = [(float(t), float(t) + 3 * np.sin(t / 50)) for t in np.arange(0, size + 1, 5.0)]
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        edit = drag(doc, points, FG, 20)
        merge_peak = tracemalloc.get_traced_memory()[1] - start
        painted = doc.trimap.copy()
        tracemalloc.reset_peak()
        start = tracemalloc.get_traced_memory()[0]
        assert doc.undo() is edit
        undo_peak = tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()
    assert np.array_equal(doc.trimap, original)
    assert doc.region_counts() == tuple(int((original == v).sum()) for v in (BG, UNK, FG))
    assert doc.redo() is edit
    assert np.array_equal(doc.trimap, painted)
    assert doc.region_counts() == tuple(int((painted == v).sum()) for v in (BG, UNK, FG))

    assert len(doc.history) == 2 and edit.rect == (0, 0, size, size)
    assert edit.nbytes < 0.02 * doc.trimap.nbytes  # a union rectangle would be two full copies
    # Merging never copied the union either, and undo wrote block by block.
    assert merge_peak < 0.02 * doc.trimap.nbytes and undo_peak < 0.002 * doc.trimap.nbytes
    assert_blocks_on_the_grid(edit)
    assert len(edit.block_rects) < 3 * size / EDIT_TILE  # only the tiles along the diagonal
    assert_stores_exactly(edit, original, painted)
    # Each merged segment reported only what it changed; undo and redo the whole stroke.
    segments = rec.of("trimap")
    assert len(segments) > 1000 and max(w * h for _, _, w, h in segments[:-2]) < 60 * 60
    assert segments[-2:] == [edit.rect, edit.rect]


def test_stroke_crossing_its_own_path_keeps_the_original_values(doc):
    rng = np.random.default_rng(7)
    doc.replace_trimap(rng.choice(np.array([BG, UNK, FG], np.uint8), size=doc.size), "Noise")
    original = doc.trimap.copy()
    # A loop that comes back across its start, then, merged into the same step, the other classes over it:
    # pixels changed twice and thrice, in tiles touched by many segments.
    loop = [(20.0, 60.0), (150.0, 60.0), (150.0, 110.0), (60.0, 110.0), (60.0, 10.0), (130.0, 10.0), (130.0, 80.0)]
    edit = drag(doc, loop, FG, 6)
    edit = brush(doc, [(10.0, 60.0), (155.0, 60.0)], UNK, 4, merge_with=edit)
    assert brush(doc, [(60.0, 5.0), (60.0, 115.0)], BG, 3, merge_with=edit) is edit
    assert len(doc.history) == 2
    painted = doc.trimap.copy()
    assert_stores_exactly(edit, original, painted)
    assert_blocks_on_the_grid(edit)
    assert doc.undo() is edit and np.array_equal(doc.trimap, original)
    assert doc.redo() is edit and np.array_equal(doc.trimap, painted)


def test_pixels_painted_back_to_their_original_value_drop_out_of_the_edit(doc):
    edit = brush(doc, [(20.0, 20.0), (140.0, 20.0)], FG, 5)
    # The same stroke, merged, paints the right part back to background: those pixels are no change.
    brush(doc, [(60.0, 20.0), (150.0, 20.0)], BG, 8, merge_with=edit)
    ys, xs = np.nonzero(doc.trimap)
    assert xs.max() < 60 and edit.rect == (xs.min(), ys.min(), xs.max() + 1 - xs.min(), ys.max() + 1 - ys.min())
    assert_stores_exactly(edit, np.zeros(doc.size, np.uint8), doc.trimap)
    brush(doc, [(20.0, 20.0), (60.0, 20.0)], BG, 8, merge_with=edit)
    assert edit.rect == (0, 0, 0, 0) and edit.block_rects == [] and (doc.trimap == BG).all()


def test_replace_trimap_is_one_step_storing_the_changed_box(doc):
    new = doc.trimap.copy()
    new[30:50, 40:90] = 200  # normalized to foreground
    new[35:45, 45:60] = 120  # and unknown
    rec = Recorder(doc)
    edit = doc.replace_trimap(new, "Auto trimap")
    assert edit.rect == (40, 30, 50, 20) and rec.of("trimap") == [(40, 30, 50, 20)]
    assert set(np.unique(doc.trimap)) == {BG, UNK, FG} and doc.has_hints
    assert doc.replace_trimap(doc.trimap.copy(), "Same") is None
    with pytest.raises(TrimapError):
        doc.replace_trimap(np.zeros((10, 10), np.uint8), "Wrong size")
    with pytest.raises(TrimapError):
        doc.replace_trimap(np.zeros((120, 160), np.float32), "Wrong dtype")


def test_patch_outside_the_image_or_with_other_values_is_refused(doc):
    with pytest.raises(ValueError):
        doc.apply(paint.Patch(150, 0, np.full((5, 20), FG, np.uint8)), "Out")
    with pytest.raises(ValueError):
        doc.apply(paint.Patch(10, 10, np.full((5, 20), 77, np.uint8)), "Stray value")
    assert (doc.trimap == BG).all() and len(doc.history) == 0


# --------------------------------------------------------------------------------------- history


def test_history_labels_and_size_limit():
    ramp = np.arange(200, dtype=np.uint8).reshape(10, 20)

    def edit(label, repeat=1):
        # Old values all different, new all equal: one byte a pixel (plus bookkeeping).
        before = np.tile(ramp, (repeat, repeat))
        return TrimapEdit.from_arrays(label, 0, 0, before, np.full(before.shape, 255, np.uint8))

    edits = [edit(f"e{i}") for i in range(4)]
    size = edits[0].nbytes
    assert 200 <= size < 1000 and all(e.nbytes == size for e in edits)
    history = EditHistory(max_bytes=int(2.5 * size))
    history.push(edits[0])
    history.push(edits[1])
    assert (len(history), history.nbytes, history.undo_label, history.redo_label) == (2, 2 * size, "e1", None)
    history.push(edits[2])  # over the limit: the oldest goes
    assert len(history) == 2 and history.nbytes == 2 * size and not history.is_clean
    assert history.undo() is edits[2] and history.redo_label == "e2"
    assert history.undo() is edits[1] and history.undo() is None
    history.push(edits[3])  # drops the redo steps
    assert len(history) == 1 and history.nbytes == size and not history.can_redo
    big = edit("big", 4)
    assert big.nbytes > 2.5 * size
    history.push(big)  # the newest edit is kept even over the limit
    assert history.top is big and len(history) == 1
    history.clear()
    assert len(history) == 0 and history.nbytes == 0 and history.is_clean


def test_dirty_follows_the_saved_state(doc):
    rec = Recorder(doc)
    brush(doc, [(10.0, 10.0)])
    assert doc.dirty
    doc.mark_saved()
    assert not doc.dirty
    brush(doc, [(50.0, 50.0)])
    doc.undo()
    assert not doc.dirty  # back at the saved state
    doc.undo()
    assert doc.dirty
    brush(doc, [(90.0, 90.0)])  # branches off: the saved state cannot be reached by redo any more
    doc.undo()
    doc.redo()
    assert doc.dirty and not doc.history.can_redo
    assert rec.of("dirty") == [True, False, True, False, True]


def test_growing_a_saved_stroke_makes_the_document_dirty(doc):
    edit = brush(doc, [(10.0, 10.0)])
    doc.mark_saved()
    brush(doc, [(10.0, 10.0), (30.0, 10.0)], merge_with=edit)
    assert doc.dirty


# -------------------------------------------------------------------------------------- observers


def test_observers_get_the_changed_rectangles(doc):
    def changed_box(before, after):
        ys, xs = np.nonzero(before != after)
        return xs.min(), ys.min(), xs.max() + 1 - xs.min(), ys.max() + 1 - ys.min()

    rec = Recorder(doc)
    start = doc.trimap.copy()
    edit = brush(doc, [(30.5, 40.5)], FG, 3)
    assert edit.rect == (27, 37, 7, 7)
    middle = doc.trimap.copy()
    second = brush(doc, [(30.5, 40.5), (60.5, 40.5)], FG, 3, merge_with=edit)
    assert second is edit
    # The second segment reports only what it changed, not the union.
    assert rec.of("trimap") == [changed_box(start, middle), changed_box(middle, doc.trimap)]
    assert rec.of("trimap")[1] == (31, 37, 33, 7)
    doc.undo()
    doc.redo()
    assert rec.of("trimap")[2:] == [edit.rect, edit.rect] == [(27, 37, 37, 7)] * 2
    rec.events.clear()
    assert doc.apply(paint.stroke(doc.trimap, [(40.0, 40.0)], 2, FG), "Noop") is None
    assert rec.events == []


def test_a_failing_observer_is_logged_and_the_others_still_run(doc, caplog):
    def broken(event, payload):
        raise RuntimeError("widget is gone")

    doc.subscribe(broken)
    rec = Recorder(doc)
    with caplog.at_level(logging.ERROR, logger="matteapp.document.state"):
        edit = brush(doc, [(10.0, 10.0)])
    assert edit is not None and rec.of("trimap") == [edit.rect]
    assert "widget is gone" in caplog.text
    rec.unsubscribe()
    rec.unsubscribe()  # twice is harmless
    brush(doc, [(80.0, 80.0)])
    assert len(rec.of("trimap")) == 1


def test_observer_unsubscribed_during_a_notification_is_not_called(doc):
    calls = []
    unsubscribe_second = None

    def first(event, payload):
        unsubscribe_second()

    doc.subscribe(first)
    unsubscribe_second = doc.subscribe(lambda e, p: calls.append(e))
    brush(doc, [(10.0, 10.0)])
    assert calls == []


# --------------------------------------------------------------------------------------- settings


def test_update_settings_validates_and_reports_changes(doc):
    rec = Recorder(doc)
    assert doc.update_settings(band_width=12, preview=True) == {"band_width": 12}
    assert rec.of("settings") == [{"band_width": 12}] and doc.dirty
    assert doc.settings["band_width"] == 12
    with pytest.raises(TypeError):
        doc.settings["engine"] = "closed-form"  # read-only view
    for bad in ({"colour": 1}, {"engine": "magic"}, {"band_width": 0}, {"band_width": 2.5},
                {"max_global_tokens": -1}, {"memory_budget_mb": 0}, {"memory_budget_mb": float("nan")},
                {"preview": 1}, {"auto_run": "yes"}):
        with pytest.raises(ValueError):
            doc.update_settings(**{"engine": "closed-form", **bad})
    assert doc.settings["engine"] == "mematte"  # nothing of a refused update is applied
    doc.update_settings(engine="closed-form", memory_budget_mb=2048, max_global_tokens=np.int64(500))
    assert doc.settings["memory_budget_mb"] == 2048.0 and type(doc.settings["max_global_tokens"]) is int
    doc.mark_saved()
    doc.update_settings(auto_run=True)
    assert doc.dirty
    doc.update_settings(auto_run=False)
    assert not doc.dirty  # back to the saved settings
    assert doc.update_settings(auto_run=False) == {} and rec.of("settings")[-1] == {"auto_run": False}


# ---------------------------------------------------------------------------------------- results


def test_progressive_results_then_final(doc):
    rec = Recorder(doc)
    doc.begin_results((60, 80), (4, 5), is_preview=True)
    assert rec.events == [("results", None)] and doc.alpha is None and doc.alpha_is_preview
    keep = np.zeros((4, 5), bool)
    keep[1:3, 2:4] = True
    doc.set_routing(0, keep, np.full((4, 5), 0.3, np.float32))
    doc.set_routing(1, ~keep, None)
    with pytest.raises(ValueError):
        doc.set_routing(3, keep, None)  # map 2 has not arrived
    with pytest.raises(ValueError):
        doc.set_routing(2, np.zeros((3, 3), bool), None)
    tile = np.full((30, 40), 0.5, np.float32)
    doc.set_alpha_tile(40, 30, tile)
    with pytest.raises(ValueError):
        doc.set_alpha_tile(50, 30, tile)
    assert rec.of("routing") == [0, 1] and rec.of("alpha_tile") == [(40, 30, 40, 30)]
    assert doc.alpha.shape == (60, 80) and doc.alpha[30:, 40:].min() == 0.5 and doc.alpha[:30].max() == 0
    assert len(doc.routing) == 2 and doc.router_probs[1] is None
    full = doc.full_alpha()
    assert full.shape == (120, 160) and full.dtype == np.float32

    alpha = np.linspace(0, 1, 60 * 80, dtype=np.float32).reshape(60, 80)
    result = SessionResult(alpha, (60, 80), (120, 160), True, "mematte", routing=[keep, ~keep], token_grid=(4, 5))
    rec.events.clear()
    doc.set_result(result)
    assert rec.events == [("results", None), ("alpha", None)]
    assert doc.result is result and doc.alpha is alpha and doc.token_grid == (4, 5)
    with pytest.raises(RuntimeError):
        doc.set_alpha_tile(0, 0, tile)  # the result is final
    assert doc.previous_alpha is None

    doc.begin_results((120, 160), None, is_preview=False)
    assert doc.previous_alpha is alpha and doc.full_previous_alpha().shape == (120, 160)
    assert doc.alpha is None and doc.routing == [] and doc.result is None
    full_result = SessionResult(np.ones((120, 160), np.float32), (120, 160), (120, 160), False, "closed-form")
    doc.set_result(full_result)
    assert doc.full_alpha() is full_result.alpha and not doc.alpha_is_preview
    assert not doc.dirty  # results are not document edits
    with pytest.raises(ValueError):
        doc.set_result(SessionResult(np.ones((10, 10), np.float32), (10, 10), (10, 10), False, "mematte"))
    doc.clear_results()
    assert doc.alpha is None and doc.previous_alpha is None and doc.full_alpha() is None


def test_a_run_keeps_the_last_matte_on_screen_until_its_tiles_replace_it(doc):
    preview = np.linspace(0, 1, 60 * 80, dtype=np.float32).reshape(60, 80)
    doc.set_result(SessionResult(preview, (60, 80), (120, 160), True, "mematte"))
    rec = Recorder(doc)
    doc.begin_results((120, 160), None, is_preview=False, keep_alpha=True)
    assert rec.events == [("results", None)] and doc.result is None
    # the preview, scaled up to the full run's size, in an array of its own (the preview stays as it was)
    assert doc.alpha.shape == (120, 160) and doc.alpha is not preview and doc.previous_alpha is preview
    np.testing.assert_allclose(doc.alpha, doc.full_previous_alpha(), atol=1e-6)
    kept = doc.alpha.copy()
    doc.set_alpha_tile(0, 0, np.ones((64, 64), np.float32))
    assert np.all(doc.alpha[:64, :64] == 1.0) and np.array_equal(doc.alpha[64:], kept[64:])
    assert preview.min() == 0.0  # untouched
    # without keep_alpha (or with nothing to keep) the run starts blank, as before
    doc.begin_results((120, 160), None, is_preview=False)
    assert doc.alpha is None
    doc.begin_results((60, 80), None, is_preview=True, keep_alpha=True)
    assert doc.alpha is None


def test_patch_alpha_replaces_a_rectangle_of_the_result_in_place(doc):
    with pytest.raises(RuntimeError):
        doc.patch_alpha(0, 0, np.zeros((4, 4), np.float32))
    alpha = np.zeros((120, 160), np.float32)
    doc.set_result(SessionResult(alpha, (120, 160), (120, 160), False, "mematte"))
    rec = Recorder(doc)
    doc.patch_alpha(10, 20, np.full((5, 6), 0.5, np.float32))
    assert rec.events == [("alpha_tile", (10, 20, 6, 5))]
    assert doc.alpha is alpha and alpha[20:25, 10:16].min() == 0.5 and alpha.sum() == pytest.approx(15.0)
    with pytest.raises(ValueError):
        doc.patch_alpha(158, 0, np.zeros((4, 4), np.float32))


def test_alpha_tiles_need_a_run(doc):
    with pytest.raises(RuntimeError):
        doc.set_alpha_tile(0, 0, np.zeros((4, 4), np.float32))


def test_document_follows_a_real_engine_run():
    """Drive the document from a tiny random MEMatte's progress events, as the GUI worker does."""
    torch.manual_seed(0)
    network = build_model(MattingConfig(name="d96", embed_dim=96, num_heads=3))
    session = MattingSession(predictor=MattePredictor(network, "cpu", "fp32"))
    doc = MatteDocument(photo(96, 128, seed=2))
    doc.apply(paint.rectangle(doc.trimap, 20, 16, 108, 80, UNK), "Band")
    doc.apply(paint.rectangle(doc.trimap, 44, 32, 84, 64, FG), "Core")
    assert doc.has_hints
    rec = Recorder(doc)

    def on_progress(event):
        if event.routing is not None:
            if doc.work_size is None:
                doc.begin_results((96, 128), event.routing.shape, is_preview=False)
            doc.set_routing(event.routed_index, event.routing, event.router_probs)
        if event.alpha_tile is not None:
            y0, _, x0, _ = event.tile
            doc.set_alpha_tile(x0, y0, event.alpha_tile)

    result = session.run(doc.rgb, doc.trimap, progress=on_progress)
    streamed = doc.alpha.copy()
    doc.set_result(result)
    assert rec.of("routing") == list(range(len(result.routing))) and len(result.routing) > 0
    assert len(rec.of("alpha_tile")) >= 1
    np.testing.assert_array_equal(streamed, result.alpha)
    assert doc.full_alpha().shape == (96, 128)
    assert all(np.array_equal(a, b) for a, b in zip(doc.routing, result.routing))
