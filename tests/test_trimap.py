"""matteapp.engine.trimap: loading, normalizing, banding masks, GrabCut from a rectangle, statistics."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from conftest import DEV_DATA, require
from PIL import Image

from matteapp.engine.trimap import (
    BACKGROUND,
    BAND_FRACTION,
    FOREGROUND,
    MIN_BAND_WIDTH,
    UNKNOWN,
    TrimapError,
    TrimapStats,
    default_band_width,
    load_trimap,
    normalize_trimap,
    trimap_from_mask,
    trimap_from_rect,
    trimap_stats,
)

VALUES = {BACKGROUND, UNKNOWN, FOREGROUND}


def values_of(trimap: np.ndarray) -> set[int]:
    return set(np.unique(trimap).tolist())


# ------------------------------------------------------------------------------------------ normalize


def test_constants():
    assert (BACKGROUND, UNKNOWN, FOREGROUND) == (0, 128, 255)


def test_normalize_thresholds_match_vitmatte():
    gray = np.array([[0, 1, 84, 85, 127, 128, 169, 170, 200, 255]], dtype=np.uint8)
    expected = [[0, 0, 0, 128, 128, 128, 128, 255, 255, 255]]
    np.testing.assert_array_equal(normalize_trimap(gray), expected)


def test_normalize_every_value():
    out = normalize_trimap(np.arange(256, dtype=np.uint8).reshape(16, 16)).ravel()
    assert (out[:85] == 0).all() and (out[85:170] == 128).all() and (out[170:] == 255).all()


@pytest.mark.parametrize(
    "bad", [np.zeros((4, 4), np.float32), np.zeros((4, 4, 3), np.uint8), np.zeros((0, 4), np.uint8)]
)
def test_normalize_rejects_non_trimaps(bad):
    with pytest.raises(TrimapError):
        normalize_trimap(bad)


# -------------------------------------------------------------------------------------------- loading


@pytest.mark.parametrize("folder", ["trimap1", "trimap2"])
def test_dev_palette_trimaps_load_as_their_gray_values(folder):
    path = require(DEV_DATA / folder / "GT01.png")
    photo = Image.open(require(DEV_DATA / "image" / "GT01.png"))
    assert Image.open(path).mode == "P"
    trimap = load_trimap(path, expected_size=photo.size)
    assert trimap.dtype == np.uint8 and trimap.shape == (photo.height, photo.width)
    assert values_of(trimap) == VALUES
    np.testing.assert_array_equal(trimap, np.asarray(Image.open(path).convert("L")))


def test_gray_file_values_are_normalized(tmp_path):
    path = tmp_path / "soft.png"
    Image.fromarray(np.array([[84, 85, 169, 170]], dtype=np.uint8)).save(path)
    np.testing.assert_array_equal(load_trimap(path), [[0, 128, 128, 255]])


def test_rgb_trimap_uses_luminance(tmp_path):
    gray = np.array([[0, 128, 255], [255, 128, 0]], dtype=np.uint8)
    rgb = np.dstack([gray] * 3)
    rgb[0, 0] = (200, 0, 0)  # luminance 60: background
    rgb[1, 0] = (0, 255, 0)  # luminance 150: unknown
    path = tmp_path / "rgb_trimap.png"
    Image.fromarray(rgb).save(path)
    np.testing.assert_array_equal(load_trimap(path), [[0, 128, 255], [128, 128, 0]])


def test_rgba_trimap_ignores_alpha(tmp_path):
    gray = np.array([[0, 128, 255]], dtype=np.uint8)
    path = tmp_path / "rgba_trimap.png"
    Image.fromarray(np.dstack([gray, gray, gray, np.array([[0, 10, 255]], np.uint8)])).save(path)
    np.testing.assert_array_equal(load_trimap(path), gray)


def test_sixteen_bit_trimap_is_scaled_first(tmp_path):
    path = tmp_path / "trimap16.png"
    assert cv2.imwrite(str(path), np.array([[0, 128 * 257, 65535, 84 * 257 + 100]], dtype=np.uint16))
    np.testing.assert_array_equal(load_trimap(path), [[0, 128, 255, 0]])


def test_size_mismatch_is_an_error_unless_resizing(tmp_path):
    path = tmp_path / "small.png"
    Image.fromarray(np.zeros((480, 640), np.uint8)).save(path)
    with pytest.raises(TrimapError, match=r"small\.png is 640×480 but the photo is 800×600; pass resize=True"):
        load_trimap(path, expected_size=(800, 600))
    assert load_trimap(path, expected_size=(800, 600), resize=True).shape == (600, 800)
    assert load_trimap(path, expected_size=(640, 480)).shape == (480, 640)


def test_resize_is_nearest_neighbour(tmp_path):
    small = np.array([[0, 128, 255], [255, 0, 128]], dtype=np.uint8)
    path = tmp_path / "tiny.png"
    Image.fromarray(small).save(path)
    resized = load_trimap(path, expected_size=(6, 4), resize=True)
    np.testing.assert_array_equal(resized, np.kron(small, np.ones((2, 2), np.uint8)))  # no blended values


@pytest.mark.parametrize("content", [b"", b"not an image at all", b"\x89PNG\r\n\x1a\n\x00\x00"])
def test_unreadable_trimap_files(tmp_path, content):
    path = tmp_path / "broken_trimap.png"
    path.write_bytes(content)
    with pytest.raises(TrimapError, match=r"trimap broken_trimap\.png"):
        load_trimap(path)


def test_missing_trimap(tmp_path):
    with pytest.raises(TrimapError, match=r"nowhere\.png") as caught:
        load_trimap(tmp_path / "nowhere.png")
    assert caught.value.path == tmp_path / "nowhere.png"


# ----------------------------------------------------------------------------------------- band width


def test_default_band_width_scales_with_the_diagonal():
    assert BAND_FRACTION == pytest.approx(0.01)
    assert default_band_width(600, 800) == 10
    assert default_band_width(4000, 6000) == round(BAND_FRACTION * np.hypot(4000, 6000))
    assert default_band_width(20, 30) == MIN_BAND_WIDTH
    with pytest.raises(ValueError):
        default_band_width(0, 10)


# ---------------------------------------------------------------------------------- trimap_from_mask


def half_mask(height: int = 60, width: int = 100, edge: int = 40) -> np.ndarray:
    mask = np.zeros((height, width), bool)
    mask[:, :edge] = True
    return mask


@pytest.mark.parametrize("band_width", [1, 2, 7, 10, 25])
def test_band_has_the_requested_width_across_a_straight_edge(band_width):
    trimap = trimap_from_mask(half_mask(edge=40), band_width=band_width)
    assert values_of(trimap) <= VALUES
    for row in trimap:
        unknown = np.flatnonzero(row == UNKNOWN)
        assert len(unknown) == band_width
        assert unknown[0] == 40 - band_width // 2  # band_width // 2 inside the subject, the rest outside
        assert (row[: unknown[0]] == FOREGROUND).all() and (row[unknown[-1] + 1 :] == BACKGROUND).all()


def test_band_width_zero_gives_a_hard_trimap():
    trimap = trimap_from_mask(half_mask(), band_width=0)
    assert values_of(trimap) == {BACKGROUND, FOREGROUND}


def test_band_is_measured_perpendicular_to_a_diagonal_edge():
    y, x = np.mgrid[0:200, 0:200]
    trimap = trimap_from_mask(x + y < 200, band_width=20)
    # Along the anti-diagonal direction the band spans 20 px of Euclidean distance.
    distance_to_edge = (x + y - 199.5) / np.sqrt(2)
    unknown = trimap == UNKNOWN
    assert np.abs(distance_to_edge[unknown]).max() <= 10.5
    assert (unknown[np.abs(distance_to_edge) < 9]).all()


def test_subject_touching_the_frame_stays_foreground_to_the_edge():
    trimap = trimap_from_mask(half_mask(edge=40), band_width=10)
    assert (trimap[:, 0] == FOREGROUND).all() and (trimap[0, :35] == FOREGROUND).all()


def test_default_band_width_is_used():
    trimap = trimap_from_mask(half_mask(600, 800, 400))
    assert (trimap[300] == UNKNOWN).sum() == default_band_width(600, 800)


def test_bool_uint8_uint16_float_masks_agree():
    mask = np.zeros((80, 120), bool)
    cv2.circle(mask.view(np.uint8), (60, 40), 25, 1, -1)
    expected = trimap_from_mask(mask, band_width=8)
    np.testing.assert_array_equal(trimap_from_mask(mask.astype(np.uint8) * 255, band_width=8), expected)
    np.testing.assert_array_equal(trimap_from_mask(mask.astype(np.uint16) * 65535, band_width=8), expected)
    np.testing.assert_array_equal(trimap_from_mask(mask.astype(np.float32), band_width=8), expected)
    np.testing.assert_array_equal(trimap_from_mask(mask.astype(np.float64), band_width=8), expected)


def test_threshold_decides_foreground():
    alpha = np.zeros((50, 50), np.float32)
    alpha[:, :25] = 0.99
    alpha[:, 25:] = 0.01
    alpha[:, 10:15] = 0.6  # soft, and foreground at threshold 0.5 only
    at_half = trimap_from_mask(alpha, band_width=2, threshold=0.5)
    at_high = trimap_from_mask(alpha, band_width=2, threshold=0.7)
    assert (at_half[:, 0] == FOREGROUND).all() and (at_half[:, 20] == FOREGROUND).all()
    assert (at_high[:, 20] == FOREGROUND).all()
    assert (at_high[:, 12] == UNKNOWN).all()  # soft either way


def test_soft_alpha_becomes_unknown():
    alpha = np.zeros((100, 100), np.float32)
    alpha[20:80, 20:80] = 1.0
    alpha[40:60, 40:60] = 0.5  # semi-transparent patch deep inside the subject
    alpha[5, 5] = 0.03  # faint haze far outside
    alpha[50, 50] = 0.99  # nearly opaque counts as opaque
    alpha[0, 0] = 0.015  # below the soft range: background
    soft = (alpha > 0.02) & (alpha < 0.98)
    assert soft.sum() == 400  # the patch minus its nearly opaque centre, plus the haze pixel
    for mask in (alpha, np.round(alpha * 255).astype(np.uint8)):
        trimap = trimap_from_mask(mask, band_width=4)
        assert (trimap[soft] == UNKNOWN).all()
        assert trimap[5, 5] == UNKNOWN
        assert trimap[50, 50] == FOREGROUND
        assert trimap[0, 0] == BACKGROUND
        assert trimap[30, 30] == FOREGROUND and trimap[90, 90] == BACKGROUND


def test_bool_masks_have_no_soft_region():
    mask = np.zeros((50, 50), bool)
    mask[10:40, 10:40] = True
    assert trimap_stats(trimap_from_mask(mask, band_width=4)).unknown_components == 1


@pytest.mark.parametrize(
    "mask, kwargs",
    [
        (np.zeros((4, 4, 3), np.uint8), {}),
        (np.zeros((0, 4), bool), {}),
        (np.zeros((4, 4), np.int64), {}),
        (np.full((4, 4), 255.0), {}),  # 0..255 floats would silently threshold everything to foreground
        (np.full((4, 4), np.nan), {}),
        (np.zeros((4, 4), bool), {"band_width": -1}),
        (np.zeros((4, 4), bool), {"band_width": 2.5}),
        (np.zeros((4, 4), bool), {"threshold": 0}),
    ],
)
def test_trimap_from_mask_validates(mask, kwargs):
    with pytest.raises(ValueError):
        trimap_from_mask(mask, **kwargs)


# ----------------------------------------------------------------------------------- trimap_from_rect


def disk_scene(height: int = 300, width: int = 400):
    """A saturated orange disk on a textured blue-gray background, and the disk's mask."""
    rng = np.random.default_rng(5)
    image = np.empty((height, width, 3), np.uint8)
    image[:] = (70, 90, 120)
    image = np.clip(image + rng.normal(0, 12, image.shape), 0, 255).astype(np.uint8)
    mask = np.zeros((height, width), np.uint8)
    cv2.circle(mask, (width // 2, height // 2), min(height, width) // 4, 1, -1)
    image[mask == 1] = np.clip(np.array((235, 140, 30)) + rng.normal(0, 10, (int(mask.sum()), 3)), 0, 255)
    return image, mask.astype(bool)


@pytest.fixture(autouse=True)
def _deterministic_grabcut():
    cv2.setRNGSeed(12345)  # GrabCut's k-means starts from OpenCV's global RNG


def test_rect_trimap_on_a_synthetic_disk():
    image, disk = disk_scene()
    trimap = trimap_from_rect(image, (100, 50, 200, 200), band_width=10)
    assert trimap.shape == disk.shape and trimap.dtype == np.uint8 and values_of(trimap) == VALUES
    inner = cv2.erode(disk.view(np.uint8), np.ones((13, 13), np.uint8)).astype(bool)
    outer = ~cv2.dilate(disk.view(np.uint8), np.ones((13, 13), np.uint8)).astype(bool)
    assert (trimap[inner] == FOREGROUND).mean() > 0.99
    assert (trimap[outer] == BACKGROUND).mean() > 0.99
    assert (trimap[:, :100] == BACKGROUND).all() and (trimap[:, 300:] == BACKGROUND).all()  # outside the rect


def test_rect_trimap_on_a_real_photo():
    image = np.asarray(Image.open(require(DEV_DATA / "image" / "GT01.png")).convert("RGB"))
    alpha = np.asarray(Image.open(require(DEV_DATA / "alpha" / "GT01.png")).convert("L")) / 255.0
    height, width = alpha.shape
    ys, xs = np.nonzero(alpha > 0)
    x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    grow_x, grow_y = round(0.05 * (x1 - x0)), round(0.05 * (y1 - y0))
    x0, y0, x1, y1 = max(0, x0 - grow_x), max(0, y0 - grow_y), min(width, x1 + grow_x), min(height, y1 + grow_y)

    trimap = trimap_from_rect(image, (x0, y0, x1 - x0, y1 - y0))

    opaque, clear = alpha > 0.95, alpha < 0.05
    assert (trimap[opaque] != BACKGROUND).mean() >= 0.90
    assert (trimap[clear] != FOREGROUND).mean() >= 0.90
    # An all-unknown trimap would pass the two checks above; the trimap must actually commit.
    stats = trimap_stats(trimap)
    assert stats.fraction_unknown < 0.2
    assert (trimap[opaque] == FOREGROUND).mean() > 0.7 and (trimap[clear] == BACKGROUND).mean() > 0.7


def test_scribbles_are_honoured_at_full_resolution():
    image, disk = disk_scene()
    fg = np.zeros(disk.shape, bool)
    bg = np.zeros(disk.shape, bool)
    fg[20:23, 110:300] = True  # background area the user claims (a thin stroke, even outside the rect)
    bg[148:151, 180:220] = True  # a stroke through the middle of the disk
    trimap = trimap_from_rect(image, (100, 50, 200, 200), band_width=10, fg_scribbles=fg, bg_scribbles=bg)
    assert (trimap[fg] == FOREGROUND).all()
    assert (trimap[bg] == BACKGROUND).all()


def test_overlapping_scribbles_become_unknown():
    image, disk = disk_scene()
    fg = np.zeros(disk.shape, bool)
    fg[140:160, 190:210] = True
    bg = np.zeros(disk.shape, bool)
    bg[150:170, 200:220] = True
    trimap = trimap_from_rect(image, (100, 50, 200, 200), fg_scribbles=fg, bg_scribbles=bg)
    assert (trimap[fg & bg] == UNKNOWN).all()
    assert (trimap[fg & ~bg] == FOREGROUND).all() and (trimap[bg & ~fg] == BACKGROUND).all()


def test_downscaled_work_copy_still_finds_the_subject():
    image, disk = disk_scene(600, 800)
    trimap = trimap_from_rect(image, (200, 100, 400, 400), work_long_side=200, band_width=24)
    inner = cv2.erode(disk.view(np.uint8), np.ones((29, 29), np.uint8)).astype(bool)
    assert (trimap[inner] == FOREGROUND).mean() > 0.99
    assert trimap[10, 10] == BACKGROUND


def test_one_pixel_scribble_steers_grabcut_on_the_downscaled_copy():
    # An orange and a green disk inside the rect; a one-pixel background stroke across the green one
    # must survive the 4× downscale and teach GrabCut that green is background.
    rng = np.random.default_rng(6)
    height, width = 600, 800
    image = np.clip(np.full((height, width, 3), (70, 90, 120)) + rng.normal(0, 12, (height, width, 3)), 0, 255)
    orange, green = np.zeros((height, width), np.uint8), np.zeros((height, width), np.uint8)
    cv2.circle(orange, (300, 300), 100, 1, -1)
    cv2.circle(green, (560, 300), 70, 1, -1)
    image[orange == 1] = (235, 140, 30)
    image[green == 1] = (40, 200, 60)
    image = np.clip(image + rng.normal(0, 8, image.shape), 0, 255).astype(np.uint8)
    rect = (150, 150, 520, 300)

    without = trimap_from_rect(image, rect, work_long_side=200, band_width=20)
    assert without[300, 560] == FOREGROUND
    stroke = np.zeros((height, width), bool)
    stroke[300, 500:620] = True
    steered = trimap_from_rect(image, rect, work_long_side=200, band_width=20, bg_scribbles=stroke)
    assert steered[300, 300] == FOREGROUND
    assert (steered[green == 1] == FOREGROUND).mean() < 0.05


def test_rect_over_the_whole_frame_needs_background_scribbles():
    image, disk = disk_scene()
    whole = (0, 0, 400, 300)
    with pytest.raises(ValueError, match="background"):
        trimap_from_rect(image, whole)
    bg = np.zeros(disk.shape, bool)
    bg[:20, :] = bg[-20:, :] = True
    trimap = trimap_from_rect(image, whole, bg_scribbles=bg, band_width=10)
    assert trimap[150, 200] == FOREGROUND and trimap[150, 10] == BACKGROUND


@pytest.mark.parametrize(
    "rect",
    [
        (-1, 0, 10, 10), (0, -5, 10, 10), (0, 0, 0, 10), (0, 0, 10, -3),
        (350, 0, 100, 10), (0, 250, 10, 60), (1, 2, 3), "abcd",
    ],  # fmt: skip
)
def test_bad_rects_are_value_errors(rect):
    image, _ = disk_scene()
    with pytest.raises(ValueError, match="rect"):
        trimap_from_rect(image, rect)


def test_bad_inputs_are_value_errors():
    image, disk = disk_scene()
    rect = (100, 50, 200, 200)
    with pytest.raises(ValueError, match="image"):
        trimap_from_rect(image[:, :, 0], rect)
    with pytest.raises(ValueError, match="image"):
        trimap_from_rect(image.astype(np.float32), rect)
    with pytest.raises(ValueError, match="fg_scribbles"):
        trimap_from_rect(image, rect, fg_scribbles=disk[:-1])
    with pytest.raises(ValueError, match="iterations"):
        trimap_from_rect(image, rect, iterations=0)


# -------------------------------------------------------------------------------------------- stats


def test_stats_of_a_hand_made_trimap():
    trimap = np.zeros((10, 10), np.uint8)  # 100 pixels
    trimap[0:2, 0:2] = FOREGROUND  # foreground component 1: 4 px
    trimap[5:8, 5:8] = FOREGROUND  # foreground component 2: 9 px
    trimap[9, 9] = FOREGROUND  # component 3, diagonal to nothing: 1 px
    trimap[0, 5] = UNKNOWN  # unknown component 1
    trimap[1, 6] = UNKNOWN  # diagonal neighbour: same 8-connected component
    trimap[4, 0:3] = UNKNOWN  # unknown component 2: 3 px
    stats = trimap_stats(trimap)
    assert stats == TrimapStats(
        fraction_unknown=0.05,
        fraction_foreground=0.14,
        fraction_background=0.81,
        unknown_components=2,
        foreground_components=3,
    )


def test_stats_of_a_uniform_trimap():
    stats = trimap_stats(np.full((4, 6), UNKNOWN, np.uint8))
    assert (stats.fraction_unknown, stats.unknown_components, stats.foreground_components) == (1.0, 1, 0)


def test_stats_reject_unnormalized_trimaps():
    with pytest.raises(ValueError, match="normalize_trimap"):
        trimap_stats(np.array([[0, 100, 255]], np.uint8))


# ------------------------------------------------------------------------------------------ smart radius


def hairy_scene(h=240, w=320, seed=0):
    """A bright disc over a dark background whose right half has strands of the subject's colour reaching
    out across its edge (hair) while its left half ends in a hard edge.  The strands are thinner than a
    pixel, as hair is in a photo: each pixel they cross mixes their colour with the background's."""
    rng = np.random.default_rng(seed)
    subject, background = np.array((230, 200, 150), np.float32), np.array((40, 60, 90), np.float32)
    cy, cx, r = h // 2, w // 2, 70
    coverage = np.zeros((h, w), np.float32)
    cv2.circle(coverage, (cx, cy), r, 1.0, -1)
    strands = np.zeros((h, w), np.float32)
    for _ in range(700):  # strands from inside the disc outwards on the right side
        angle = rng.uniform(-1.2, 1.2)
        start = (int(cx + (r - 15) * np.cos(angle)), int(cy + (r - 15) * np.sin(angle)))
        length = rng.uniform(20, 45)
        end = (int(start[0] + length * np.cos(angle)), int(start[1] + length * np.sin(angle)))
        cv2.line(strands, start, end, 0.7, 1, cv2.LINE_AA)
    coverage = np.maximum(coverage, strands)
    image = np.clip(coverage[..., None] * subject + (1 - coverage[..., None]) * background + 0.5, 0, 255).astype(np.uint8)
    mask = np.zeros((h, w), bool)
    yy, xx = np.mgrid[0:h, 0:w]
    mask[(yy - cy) ** 2 + (xx - cx) ** 2 <= r * r] = True
    return image, mask, (cy, cx, r)


def test_smart_radius_widens_the_band_over_strands_and_not_along_a_hard_edge():
    from matteapp.engine.smart_trimap import ZONE, smart_unknown

    image, mask, (cy, cx, r) = hairy_scene()
    band = 8
    extra = smart_unknown(image, mask, band)
    row = extra[cy]
    right = np.flatnonzero(row[cx:]) + cx  # across the strands
    left = np.flatnonzero(row[:cx])  # across the hard edge
    assert right.max() - right.min() > 3 * band  # the strands' zone is unknown, on both sides of the outline
    assert right.max() > cx + r + 2 * band
    assert left.max() - left.min() <= band + 2  # the hard edge keeps about the base band
    assert right.max() - right.min() <= ZONE * band + 2


def test_smart_trimap_from_a_rectangle_is_the_default_and_keeps_its_rules(monkeypatch):
    from matteapp.engine import trimap as trimap_module
    from matteapp.engine.trimap import trimap_from_grabcut_mask

    from matteapp.engine.smart_trimap import smart_unknown

    # GrabCut on a photo's blurred hair gives a smooth outline, like this disc (on these synthetic,
    # perfectly sharp strands it outlines every strand, and the base band covers them already)
    image, mask, (cy, cx, r) = hairy_scene()
    rect = (cx - r - 60, cy - r - 20, 2 * r + 120, 2 * r + 40)

    wider = smart_unknown(image, mask, 8)
    wider[:, :3] = True  # outside the rectangle: must stay background
    smart = trimap_from_grabcut_mask(mask, rect, 8, unknown=wider)
    plain = trimap_from_grabcut_mask(mask, rect, 8)
    assert values_of(smart) <= VALUES
    assert (smart == UNKNOWN).sum() > (plain == UNKNOWN).sum()
    assert np.all(smart[plain == UNKNOWN] == UNKNOWN)  # the base band stays
    x, y, w, h = rect
    outside = np.ones(smart.shape, bool)
    outside[y : y + h, x : x + w] = False
    assert np.all(smart[outside] == BACKGROUND)
    # the rectangle tool's trimap is the smart one unless asked otherwise
    calls = []
    monkeypatch.setattr(trimap_module, "smart_unknown", lambda *a: calls.append(a) or np.zeros(a[1].shape, bool))
    trimap_from_rect(image, rect, band_width=8)
    trimap_from_rect(image, rect, band_width=8, smart=False)
    assert len(calls) == 1


def test_smart_radius_on_the_dev_photos_makes_hair_unknown_that_the_fixed_band_calls_foreground():
    # GT04 (troll hair): the smart band must turn soft ground-truth alpha that the fixed band had marked
    # known into unknown, while a hard-edged toy (GT05) keeps a band close to the fixed one.
    from matteapp.engine.smart_trimap import smart_unknown
    from matteapp.engine.trimap import grabcut_mask, trimap_from_grabcut_mask

    def soft_known(name):
        image = np.asarray(Image.open(require(DEV_DATA / "image" / name)).convert("RGB"))
        gt = np.asarray(Image.open(require(DEV_DATA / "alpha" / name)).convert("L")) / 255.0
        ys, xs = np.nonzero(gt > 0.02)
        rect = (int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1))
        mask = grabcut_mask(image, rect)
        band = default_band_width(*gt.shape)
        fixed = trimap_from_grabcut_mask(mask, rect, band)
        smart = trimap_from_grabcut_mask(mask, rect, band, unknown=smart_unknown(image, mask, band))
        soft = (gt > 0.05) & (gt < 0.95)
        return [int((soft & (t != UNKNOWN)).sum()) for t in (fixed, smart)], [int((t == UNKNOWN).sum()) for t in (fixed, smart)]

    (fixed_missed, smart_missed), _ = soft_known("GT04.png")
    assert smart_missed < 0.85 * fixed_missed
    _, (fixed_area, smart_area) = soft_known("GT05.png")
    assert smart_area < 2 * fixed_area
