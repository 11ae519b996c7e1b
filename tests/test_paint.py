"""Trimap editing operations: footprints, clipping, hard edges, tight patches, fills."""

import math
import tracemalloc

import cv2
import numpy as np
import pytest

from matteapp.document import paint
from matteapp.document.paint import Patch

BG, UNK, FG = 0, 128, 255


def blank(h=200, w=300, value=BG):
    return np.full((h, w), value, np.uint8)


def painted(trimap, patch):
    """Full-size copy of ``trimap`` with ``patch`` written."""
    out = trimap.copy()
    x, y, w, h = patch.rect
    out[y : y + h, x : x + w] = patch.values
    return out


def changed_mask(trimap, patch):
    return painted(trimap, patch) != trimap


def assert_tight(trimap, patch):
    """The patch rectangle is exactly the bounding box of the pixels it changes."""
    x, y, w, h = patch.rect
    ys, xs = np.nonzero(changed_mask(trimap, patch))
    assert (xs.min(), ys.min(), xs.max() + 1 - xs.min(), ys.max() + 1 - ys.min()) == (x, y, w, h)


def random_trimap(h=120, w=160, seed=0):
    rng = np.random.default_rng(seed)
    small = rng.choice(np.array([BG, UNK, FG], np.uint8), size=(h // 8, w // 8))
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)


# ----------------------------------------------------------------------------------------------- stroke


@pytest.mark.parametrize("radius", [10.5, 25.0, 40.0])
def test_dab_area_is_that_of_the_disc(radius):
    t = blank(200, 200)
    patch = paint.stroke(t, [(100.3, 99.8)], radius, FG)
    area = int((patch.values == FG).sum())
    assert abs(area - math.pi * radius**2) / (math.pi * radius**2) < 0.02
    assert_tight(t, patch)


def test_dab_on_a_pixel_centre_paints_exactly_the_lattice_disc():
    t = blank(100, 100)
    patch = paint.stroke(t, [(50.5, 50.5)], 3, FG)
    rows, cols = np.nonzero(painted(t, patch) == FG)
    # pixel centres within distance 3 of (50.5, 50.5): the 29 lattice points of the radius-3 disc
    assert len(rows) == 29
    assert ((rows - 50) ** 2 + (cols - 50) ** 2 <= 9).all()
    assert patch.rect == (47, 47, 7, 7)


def test_long_segment_area_is_2rL_plus_the_caps():
    t = blank(200, 400)
    # A generic direction: along a rational slope such as 1/6 the pixel grid aliases with the edges
    # and the count is off by over 1 %.
    r, start, end = 6.0, (40.3, 80.1), (340.7, 131.9)
    patch = paint.stroke(t, [start, end], r, UNK)
    length = math.dist(start, end)
    area = int((patch.values == UNK).sum())
    assert abs(area - (2 * r * length + math.pi * r**2)) / (2 * r * length) < 0.01
    assert area / (2 * r * length) == pytest.approx(1.0, abs=0.1)  # dominated by the body for L ≫ r
    assert_tight(t, patch)


def test_polyline_segments_join_without_gaps_and_overlap_counts_once():
    t = blank(200, 200)
    r = 5.0
    # An L: two 120 px bodies overlapping in an r×r square at the corner, two half-disc end caps, and
    # the quarter of the joint's disc that sticks out of both bodies.
    patch = paint.stroke(t, [(30.0, 30.0), (150.0, 30.0), (150.0, 150.0)], r, FG)
    area = int((patch.values == FG).sum())
    expected = 2 * (2 * r * 120) - r * r + math.pi * r**2 * (1 / 2 + 1 / 2 + 1 / 4)
    assert abs(area - expected) / expected < 0.02
    count, _ = cv2.connectedComponents((painted(t, patch) == FG).astype(np.uint8), connectivity=4)
    assert count == 2  # background + one stroke


def test_thinnest_line_has_no_gaps():
    t = blank(60, 60)
    patch = paint.stroke(t, [(0.5, 0.5), (50.5, 20.5)], 0.5, FG)
    mask = painted(t, patch) == FG
    assert all(mask[:, col].any() for col in range(0, 51))
    count, _ = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    assert count == 2


def test_thin_dab_always_paints_the_pixel_under_the_point():
    t = blank(20, 20)
    # At a pixel corner no centre is within 0.5, but the pixel under the cursor is painted anyway.
    patch = paint.stroke(t, [(10.0, 10.0)], 0.5, FG)
    assert patch.rect == (10, 10, 1, 1) and patch.values[0, 0] == FG


def test_stroke_is_clipped_at_the_borders():
    t = blank(100, 120)
    patch = paint.stroke(t, [(0.0, 0.0)], 20, FG)
    assert patch.rect[:2] == (0, 0)
    area = int((patch.values == FG).sum())
    assert abs(area - math.pi * 400 / 4) / (math.pi * 400 / 4) < 0.05
    patch = paint.stroke(t, [(110.0, 90.0), (200.0, 200.0)], 15, FG)
    x, y, w, h = patch.rect
    assert x + w == 120 and y + h == 100
    assert paint.stroke(t, [(-50.0, -50.0), (-30.0, 500.0)], 10, FG) is None  # wholly outside


def test_stroke_over_the_same_class_changes_nothing():
    t = blank(50, 50, FG)
    assert paint.stroke(t, [(25.0, 25.0)], 10, FG) is None


def test_stroke_does_not_modify_its_input_and_keeps_other_pixels():
    t = random_trimap()
    before = t.copy()
    patch = paint.stroke(t, [(20.0, 20.0), (140.0, 100.0)], 9, UNK)
    assert np.array_equal(t, before)
    out = painted(t, patch)
    changed = out != t
    assert (out[changed] == UNK).all()
    assert_tight(t, patch)


def test_a_dab_on_a_large_trimap_allocates_only_its_rectangle():
    t = np.zeros((7000, 7000), np.uint8)  # 49 MB
    tracemalloc.start()
    try:
        patch = paint.stroke(t, [(3500.0, 3500.0), (3520.0, 3510.0)], 12, FG)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert patch.rect[2] * patch.rect[3] < 50 * 40
    assert peak < 200_000  # a whole-image copy or mask would be ≥ 49 MB


# ----------------------------------------------------------------------------------------- shapes


def test_polygon_fills_pixel_centres_inside():
    t = blank(60, 60)
    square = paint.polygon(t, [(10, 10), (30, 10), (30, 30), (10, 30)], FG)
    assert square.rect == (10, 10, 20, 20) and (square.values == FG).all()
    inset = paint.polygon(t, [(10.3, 10.3), (30.2, 10.3), (30.2, 30.2), (10.3, 30.2)], FG)
    assert inset.rect == (10, 10, 20, 20)


def test_polygon_area_matches_the_shoelace_formula():
    t = blank(300, 300)
    rng = np.random.default_rng(1)
    angles = np.sort(rng.uniform(0, 2 * np.pi, 40))
    radii = rng.uniform(60, 120, 40)
    pts = np.c_[150 + radii * np.cos(angles), 150 + radii * np.sin(angles)]
    patch = paint.polygon(t, pts, UNK)
    x, y = pts[:, 0], pts[:, 1]
    shoelace = 0.5 * abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))
    assert abs((patch.values == UNK).sum() - shoelace) / shoelace < 0.01
    assert_tight(t, patch)


def test_self_crossing_lasso_fills_every_loop():
    t = blank(100, 100)
    # A loop drawn twice around the same square winds twice: nonzero still fills it (even-odd would not).
    twice = [(10, 10), (50, 10), (50, 50), (10, 50)] * 2
    assert (paint.polygon(t, twice, FG).values == FG).sum() == 1600
    bow_tie = [(10, 10), (90, 90), (90, 10), (10, 90)]
    mask = changed_mask(t, paint.polygon(t, bow_tie, FG))
    assert mask[50, 20] and mask[50, 80] and not mask[20, 50] and not mask[80, 50]


def test_polygon_clipping_and_degenerate_cases():
    t = blank(50, 60)
    patch = paint.polygon(t, [(-100, -100), (30, -100), (30, 25), (-100, 25)], FG)
    assert patch.rect == (0, 0, 30, 25)
    assert paint.polygon(t, [(5, 5), (20, 20)], FG) is None
    assert paint.polygon(t, [], FG) is None
    assert paint.polygon(t, [(5, 5), (20, 5), (35, 5)], FG) is None  # no area
    assert paint.polygon(t, [(100, 100), (120, 100), (120, 120)], FG) is None  # outside


def test_rectangle_covers_the_pixels_between_its_corners():
    t = blank(50, 60)
    patch = paint.rectangle(t, 20, 30, 10, 10, UNK)  # corners in any order
    assert patch.rect == (10, 10, 10, 20) and (patch.values == UNK).all()
    assert paint.rectangle(t, 10, 10, 10, 40, UNK) is None  # zero width
    clipped = paint.rectangle(t, -5, 45, 100, 1000, FG)
    assert clipped.rect == (0, 45, 60, 5)


def test_rectangle_patch_is_cropped_to_what_changes():
    t = blank(50, 60)
    t[20:30, 20:40] = FG
    patch = paint.rectangle(t, 0, 0, 60, 50, FG)
    assert patch.rect == (0, 0, 60, 50)
    t[:] = FG
    t[5:7, 8:9] = UNK
    assert paint.rectangle(t, 0, 0, 60, 50, FG).rect == (8, 5, 1, 2)


# -------------------------------------------------------------------------------------- whole image


def test_flood_fill_respects_connectivity():
    t = blank(40, 40)
    t[5:15, 5:15] = FG
    t[15:25, 15:25] = FG  # touches the first block only at a corner
    four = paint.flood_fill(t, 7, 7, UNK, connectivity=4)
    assert four.rect == (5, 5, 10, 10)
    eight = paint.flood_fill(t, 7.9, 7.2, UNK, connectivity=8)
    assert eight.rect == (5, 5, 20, 20)
    out = painted(t, eight)
    assert (out == UNK).sum() == 200 and (out[t == BG] == BG).all()


def test_flood_fill_patch_covers_only_the_region():
    t = random_trimap(200, 300, seed=4)
    before = t.copy()
    patch = paint.flood_fill(t, 150, 100, FG if t[100, 150] != FG else BG)
    assert np.array_equal(t, before)
    assert_tight(t, patch)
    labels = cv2.connectedComponents((t == t[100, 150]).astype(np.uint8), connectivity=4)[1]
    region = labels == labels[100, 150]
    assert np.array_equal(changed_mask(t, patch), region)


def test_flood_fill_no_ops_and_read_only_input():
    t = blank(30, 30)
    t[10:20, 10:20] = FG
    assert paint.flood_fill(t, 15, 15, FG) is None
    assert paint.flood_fill(t, -1, 15, BG) is None and paint.flood_fill(t, 15, 30, BG) is None
    t.flags.writeable = False
    assert paint.flood_fill(t, 15, 15, UNK).rect == (10, 10, 10, 10)
    with pytest.raises(ValueError):
        paint.flood_fill(t, 15, 15, UNK, connectivity=6)


def test_fill_clears_to_one_class():
    t = blank(40, 50)
    t[10:20, 5:25] = UNK
    t[12:15, 30:33] = FG
    patch = paint.fill(t, BG)
    assert patch.rect == (5, 10, 28, 10) and (patch.values == BG).all()
    assert paint.fill(blank(), BG) is None
    assert (painted(t, paint.fill(t, FG)) == FG).all()


def test_invert_swaps_foreground_and_background_and_keeps_unknown():
    t = random_trimap()
    patch = paint.invert(t)
    out = painted(t, patch)
    assert (out[t == UNK] == UNK).all()
    assert (out[t == FG] == BG).all() and (out[t == BG] == FG).all()
    assert np.array_equal(painted(out, paint.invert(out)), t)
    assert paint.invert(blank(value=UNK)) is None
    t = blank(value=UNK)
    t[3:5, 7:9] = FG
    assert paint.invert(t).rect == (7, 3, 2, 2)


# ---------------------------------------------------------------------------------- hard edges, checks


def test_outputs_hold_only_trimap_values():
    t = random_trimap()
    patches = [
        paint.stroke(t, [(10.3, 10.7), (77.1, 93.9), (150.2, 5.5)], 7.3, UNK),
        paint.stroke(t, [(80.0, 60.0)], 33.3, FG),
        paint.polygon(t, [(3.3, 4.4), (150.5, 20.2), (90.9, 110.1)], BG),
        paint.rectangle(t, 5.5, 6.6, 99.9, 88.8, FG),
        paint.flood_fill(t, 60, 60, UNK if t[60, 60] != UNK else FG),
        paint.invert(t),
    ]
    for patch in patches:
        assert patch is not None and patch.values.dtype == np.uint8
        assert set(np.unique(patch.values)) <= {BG, UNK, FG}


@pytest.mark.parametrize("value", [1, 127, 254, 256, -1, True, "255"])
def test_values_other_than_the_three_classes_are_refused(value):
    t = blank()
    with pytest.raises(ValueError):
        paint.stroke(t, [(5.0, 5.0)], 3, value)
    with pytest.raises(ValueError):
        paint.fill(t, value)


def test_bad_arguments_are_refused():
    t = blank()
    with pytest.raises(ValueError):
        paint.stroke(t, [(5.0, 5.0)], 0.4, FG)
    with pytest.raises(ValueError):
        paint.stroke(t, [], 3, FG)
    with pytest.raises(ValueError):
        paint.stroke(t, [(5.0, float("nan"))], 3, FG)
    with pytest.raises(ValueError):
        paint.stroke(t.astype(np.float32), [(5.0, 5.0)], 3, FG)
    with pytest.raises(ValueError):
        Patch(0, 0, np.zeros((2, 2), np.int32))


def test_patch_rect_is_x_y_w_h():
    assert Patch(3, 4, np.zeros((5, 7), np.uint8)).rect == (3, 4, 7, 5)
