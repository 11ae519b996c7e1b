"""PNG exports: atomic writes, refusal to overwrite, exact pixels, ICC/DPI metadata, routing heatmaps."""

import os
import stat

import cv2
import numpy as np
import pytest
from PIL import Image, ImageCms

import matteapp.io.export as export
from matteapp.engine.foreground import estimate_foreground
from matteapp.io.export import (
    OutputExistsError,
    alpha_to_uint8,
    alpha_to_uint16,
    composite,
    cutout_rgba,
    export_alpha,
    export_composite,
    export_cutout,
    export_routing,
    export_trimap,
    routing_density,
    routing_heatmap,
    save_png,
    write_atomic,
)


@pytest.fixture(scope="module")
def srgb_icc():
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


@pytest.fixture
def scene():
    rng = np.random.default_rng(0)
    image = (rng.random((64, 80, 3)) * 255).astype(np.uint8)
    alpha = np.zeros((64, 80), np.float32)
    alpha[16:48, 20:60] = 1.0
    alpha[16:48, 14:20] = np.linspace(0, 1, 8)[1:-1]  # a soft left edge
    return image, alpha


def leftovers(directory):
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


def read(path):
    with Image.open(path) as im:
        im.load()
        return im


# ------------------------------------------------------------------------------------------ atomic write


def test_refuses_to_overwrite_and_leaves_the_file_untouched(tmp_path):
    target = tmp_path / "out.png"
    target.write_bytes(b"precious bytes")
    calls = []
    with pytest.raises(OutputExistsError) as excinfo:
        write_atomic(target, lambda p: calls.append(p))
    assert isinstance(excinfo.value, FileExistsError)
    assert "--force" in str(excinfo.value) and excinfo.value.filename == str(target)
    assert calls == []  # refused before any work
    assert target.read_bytes() == b"precious bytes"
    assert leftovers(tmp_path) == []
    with pytest.raises(OutputExistsError):
        save_png(target, np.zeros((4, 4), np.uint8))
    assert target.read_bytes() == b"precious bytes"


def test_force_overwrites(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    assert write_atomic(target, lambda p: p.write_bytes(b"new"), force=True) == target
    assert target.read_bytes() == b"new"
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("error", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_failing_writer_leaves_old_file_and_no_temporary(tmp_path, error):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")

    def writer(p):
        p.write_bytes(b"half a fi")
        raise error

    with pytest.raises(type(error)):
        write_atomic(target, writer, force=True)
    assert target.read_bytes() == b"old"
    assert leftovers(tmp_path) == []
    with pytest.raises(type(error)):
        write_atomic(tmp_path / "new.bin", writer)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]


def test_file_appearing_during_the_write_is_not_replaced(tmp_path):
    target = tmp_path / "out.bin"

    def writer(p):
        p.write_bytes(b"mine")
        target.write_bytes(b"someone else's")  # another program created it meanwhile

    with pytest.raises(OutputExistsError):
        write_atomic(target, writer)
    assert target.read_bytes() == b"someone else's"
    assert leftovers(tmp_path) == []


def test_works_without_hard_links(tmp_path, monkeypatch):
    def no_links(*args):
        raise PermissionError("this file system has no hard links")

    monkeypatch.setattr(os, "link", no_links)
    target = write_atomic(tmp_path / "a.bin", lambda p: p.write_bytes(b"x"))
    assert target.read_bytes() == b"x"
    with pytest.raises(OutputExistsError):
        write_atomic(target, lambda p: p.write_bytes(b"y"))
    assert target.read_bytes() == b"x" and leftovers(tmp_path) == []


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_new_file_gets_ordinary_permissions(tmp_path):
    umask = os.umask(0o022)
    try:
        target = write_atomic(tmp_path / "a.bin", lambda p: p.write_bytes(b"x"))
    finally:
        os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o644  # not mkstemp's 0o600


# ------------------------------------------------------------------------------------------------- PNG


@pytest.mark.parametrize(
    "shape, mode", [((5, 7), "L"), ((5, 7, 1), "L"), ((5, 7, 3), "RGB"), ((5, 7, 4), "RGBA")]
)
def test_uint8_round_trip(tmp_path, shape, mode):
    data = np.random.default_rng(1).integers(0, 256, shape, dtype=np.uint8)
    path = save_png(tmp_path / "a.png", data)
    im = read(path)
    assert im.format == "PNG" and im.mode == mode
    assert np.array_equal(np.asarray(im), data.reshape(shape[:2]) if len(shape) == 3 and shape[2] == 1 else data)


def test_uint16_round_trip_is_exact(tmp_path):
    data = np.random.default_rng(2).integers(0, 65536, (33, 47), dtype=np.uint16)
    data[0, :6] = [0, 1, 255, 256, 257, 65535]
    path = save_png(tmp_path / "a16.png", data)
    im = read(path)
    assert im.mode in ("I;16", "I")
    assert np.array_equal(np.asarray(im).astype(np.int64), data.astype(np.int64))
    # and a reader that knows nothing of Pillow sees 16 bits too
    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert raw.dtype == np.uint16 and np.array_equal(raw, data)


def test_icc_profile_and_dpi_survive(tmp_path, srgb_icc):
    rgb = np.zeros((4, 6, 3), np.uint8)
    im = read(save_png(tmp_path / "a.png", rgb, icc_profile=srgb_icc, dpi=300))
    assert im.info["icc_profile"] == srgb_icc
    assert im.info["dpi"] == pytest.approx((300, 300), abs=0.01)  # pHYs stores pixels per metre
    im = read(save_png(tmp_path / "b.png", np.zeros((4, 6, 4), np.uint8), icc_profile=srgb_icc, dpi=(72, 144)))
    assert im.info["icc_profile"] == srgb_icc and im.info["dpi"] == pytest.approx((72, 144), abs=0.01)
    gray_icc = bytes(16) + b"GRAY" + bytes(108)  # stand-in: only the header's colour space is read
    im = read(save_png(tmp_path / "c.png", np.zeros((4, 6), np.uint16), icc_profile=gray_icc))
    assert im.info["icc_profile"] == gray_icc
    plain = read(save_png(tmp_path / "d.png", rgb))
    assert "icc_profile" not in plain.info and "dpi" not in plain.info


def test_png_input_checks(tmp_path, srgb_icc):
    for bad in (np.zeros((4, 4), np.float32), np.zeros((4, 4, 3), np.uint16), np.zeros((4, 4, 2), np.uint8)):
        with pytest.raises(ValueError):
            save_png(tmp_path / "x.png", bad)
    with pytest.raises(ValueError, match="ICC"):
        save_png(tmp_path / "x.png", np.zeros((4, 4), np.uint8), icc_profile=srgb_icc)
    with pytest.raises(ValueError):
        save_png(tmp_path / "x.png", np.zeros((4, 4), np.uint8), dpi=0)
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------------------------- pixels


def test_alpha_quantization_rounds():
    alpha = np.array([-0.2, 0.0, 0.49 / 255, 0.51 / 255, 0.5, 254.49 / 255, 1.0, 1.3], np.float32)
    assert alpha_to_uint8(alpha).tolist() == [0, 0, 0, 1, 128, 254, 255, 255]
    levels = np.arange(65536)
    assert np.array_equal(alpha_to_uint16((levels / 65535).astype(np.float32)), levels)
    assert np.array_equal(alpha_to_uint8((np.arange(256) / 255).astype(np.float32)), np.arange(256))
    assert alpha_to_uint16(np.array([0.5 / 65535 + 1e-9, 1.49 / 65535])).tolist() == [1, 1]


def test_cutout_is_straight_alpha(scene):
    image, alpha = scene
    rgba = cutout_rgba(image, alpha)
    assert rgba.dtype == np.uint8 and rgba.shape == (64, 80, 4)
    assert np.array_equal(rgba[..., 3], alpha_to_uint8(alpha))
    visible = rgba[..., 3] > 0
    assert np.array_equal(rgba[visible, :3], image[visible])  # colours not multiplied by alpha
    assert np.all(rgba[~visible, :3] == 0)
    kept = cutout_rgba(image, alpha, clear_transparent=False)
    assert np.array_equal(kept[..., :3], image)
    fg = np.full_like(image, 7)
    assert np.all(cutout_rgba(image, alpha, fg)[visible, :3] == 7)
    with pytest.raises(ValueError):
        cutout_rgba(image, alpha[:, :-1])


def test_composite_by_hand():
    fg = np.array([[[200, 100, 0], [200, 100, 0], [200, 100, 0]]], np.uint8)
    alpha = np.array([[0.0, 0.5, 1.0]], np.float32)
    out = composite(fg, alpha, (0, 0, 255))
    assert out.tolist() == [[[0, 0, 255], [100, 50, 128], [200, 100, 0]]]
    assert composite(fg, alpha).tolist()[0][0] == [255, 255, 255]


# -------------------------------------------------------------------------------------------- routing


def viridis(level):
    """RGB of one 0–255 level through OpenCV's viridis, as the heatmap should use it."""
    return cv2.applyColorMap(np.array([[level]], np.uint8), cv2.COLORMAP_VIRIDIS)[0, 0, ::-1]


@pytest.fixture
def maps():
    m = np.zeros((4, 3, 5), bool)
    m[:, 0, 0] = True                 # routed in all 4 blocks
    m[:2, 1, 2] = True                # in 2 of 4
    m[3, 2, 4] = True                 # in 1 of 4 (block 3 only)
    return list(m)


def test_routing_density(maps):
    density = routing_density(maps)
    assert density.dtype == np.float32 and density.shape == (3, 5)
    assert density[0, 0] == 1.0 and density[1, 2] == 0.5 and density[2, 4] == 0.25 and density[2, 0] == 0.0
    with pytest.raises(ValueError):
        routing_density([])
    with pytest.raises(ValueError):
        routing_density([maps[0], maps[0][:2]])


def test_density_heatmap_colours_at_known_tokens(maps):
    heat = routing_heatmap(maps, legend=False)
    assert heat.shape == (48, 80, 3) and heat.dtype == np.uint8
    for (row, col), level in {(0, 0): 255, (1, 2): 128, (2, 4): 64, (2, 0): 0}.items():
        token = heat[16 * row : 16 * row + 16, 16 * col : 16 * col + 16]
        assert np.all(token == viridis(level)), (row, col)  # every pixel of the 16×16 token


def test_block_heatmap_shows_that_block_only(maps):
    heat = routing_heatmap(maps, block=3, legend=False)
    assert np.all(heat[40, 72] == viridis(255))   # token (2, 4): routed in block 3
    assert np.all(heat[24, 40] == viridis(0))     # token (1, 2): routed in blocks 0 and 1 only
    assert np.array_equal(routing_heatmap(maps, block=-1, legend=False), heat)
    assert np.all(routing_heatmap(maps, block=0, legend=False)[24, 40] == viridis(255))
    with pytest.raises(ValueError):
        routing_heatmap(maps, block=4)


def test_heatmap_over_the_photo_is_cropped_and_blended(maps):
    photo = np.random.default_rng(3).integers(0, 256, (40, 70, 3), dtype=np.uint8)  # pads to 3×5 tokens
    blended = routing_heatmap(maps, photo, opacity=0.6, legend=False)
    assert blended.shape == photo.shape
    heat = routing_heatmap(maps, legend=False)[:40, :70].astype(np.float64)
    expected = 0.4 * photo + 0.6 * heat
    assert np.abs(blended - expected).max() <= 1
    assert np.array_equal(routing_heatmap(maps, photo, opacity=0.0, legend=False), photo)
    with pytest.raises(ValueError):
        routing_heatmap(maps, np.zeros((100, 70, 3), np.uint8))  # 3 token rows cannot cover 100 px


def over_gray(level, opacity=0.6):
    """A legend colour over the photo: the heatmap's colour blended like the picture, over mid-gray."""
    return np.rint(viridis(level) * opacity + 128 * (1 - opacity)).astype(np.uint8)


def test_legend_is_a_strip_below_the_picture(maps):
    photo = np.full((40, 70, 3), 90, np.uint8)
    plain = routing_heatmap(maps, photo, legend=False)
    with_legend = routing_heatmap(maps, photo)
    h, w = photo.shape[:2]
    assert with_legend.shape[0] > h
    assert np.array_equal(with_legend[:h, :w], plain)  # the picture is not covered
    strip = with_legend[h:]
    # over the photo the legend's colours are blended as the picture's are, so they do not promise
    # the pure colours that appear nowhere in the picture
    assert (np.all(strip == over_gray(0), axis=-1)).any() and (np.all(strip == over_gray(255), axis=-1)).any()
    assert not (np.all(strip == viridis(255), axis=-1)).any()
    assert (strip.max(axis=-1) < 60).sum() > 50  # dark text on the white strip
    block = routing_heatmap(maps, photo, block=2)
    assert block.shape[0] > h and (np.all(block[h:] == over_gray(255), axis=-1)).any()


def test_heatmap_alone_at_the_photo_size_has_the_legend_colours(maps):
    alone = routing_heatmap(maps, size=(40, 70))
    h, w = 40, 70
    picture, strip = alone[:h, :w], alone[h:]
    assert np.array_equal(picture, routing_heatmap(maps, legend=False)[:40, :70])  # cropped, not blended
    for level in (0, 255):  # the picture's colours are the legend's own
        assert (np.all(picture == viridis(level), axis=-1)).any() and (np.all(strip == viridis(level), axis=-1)).any()
    with pytest.raises(ValueError):
        routing_heatmap(maps, size=(100, 70))


def test_legend_scales_with_the_picture():
    small = routing_heatmap([np.ones((40, 40), bool)], np.zeros((640, 640, 3), np.uint8))
    large = routing_heatmap([np.ones((250, 375), bool)], np.zeros((4000, 6000, 3), np.uint8))
    small_strip, large_strip = small.shape[0] - 640, large.shape[0] - 4000
    assert large.shape[1] == 6000
    assert 6 < large_strip / small_strip < 13  # grows with the picture, stays a small fraction of it
    assert large_strip < 0.25 * 4000


# -------------------------------------------------------------------------------------------- exports


def test_export_cutout(tmp_path, srgb_icc):
    # A red subject over a smooth gradient, blended by a known alpha: the soft pixels' true colour is
    # the red, and decontamination must recover it from the blend.
    h, w = 64, 80
    red = np.array([200, 40, 40], np.float32)
    yy, xx = np.mgrid[:h, :w].astype(np.float32)
    background = np.stack([yy * 255 / h, np.full((h, w), 120, np.float32), 255 - xx * 255 / w], axis=-1)
    alpha = np.zeros((h, w), np.float32)
    alpha[16:48, 20:60] = 1.0
    alpha[16:48, 8:20] = np.linspace(0, 1, 14)[1:-1]  # a soft left edge
    image = np.clip(red * alpha[..., None] + background * (1 - alpha[..., None]) + 0.5, 0, 255).astype(np.uint8)
    path = export_cutout(tmp_path / "cut.png", image, alpha, icc_profile=srgb_icc, dpi=240)
    im = read(path)
    rgba = np.asarray(im)
    assert im.mode == "RGBA" and im.info["icc_profile"] == srgb_icc and im.info["dpi"] == pytest.approx((240, 240), abs=0.01)
    assert np.array_equal(rgba[..., 3], np.round(alpha * 255).astype(np.uint8))
    opaque, soft, clear = alpha == 1, (alpha > 0) & (alpha < 1), alpha == 0
    assert np.array_equal(rgba[opaque, :3], image[opaque])
    assert (rgba[clear, :3] == 0).all()
    decontaminated = np.abs(rgba[soft, :3].astype(np.float32) - red).max(axis=1)
    blended = np.abs(image[soft].astype(np.float32) - red).max(axis=1)
    assert decontaminated.max() <= 20  # 14 measured; the photo's own colours there are 44–166 away
    assert blended.mean() > 80

    raw = np.asarray(read(export_cutout(tmp_path / "raw.png", image, alpha, decontaminate=False)))
    assert np.array_equal(raw[..., 3], rgba[..., 3])
    assert np.array_equal(raw[~clear, :3], image[~clear]) and (raw[clear, :3] == 0).all()


def test_exports_refuse_existing_files_before_working(tmp_path, scene, monkeypatch):
    image, alpha = scene
    target = tmp_path / "cut.png"
    target.write_bytes(b"keep me")

    def fail(*args, **kwargs):
        raise AssertionError("decontamination ran although the export was refused")

    monkeypatch.setattr(export, "estimate_foreground", fail)
    with pytest.raises(OutputExistsError):
        export_cutout(target, image, alpha)
    with pytest.raises(OutputExistsError):
        export_composite(target, image, alpha)
    for call in (
        lambda: export_alpha(target, alpha),
        lambda: export_trimap(target, np.zeros((4, 4), np.uint8)),
        lambda: export_routing(target, [np.zeros((4, 5), bool)]),
    ):
        with pytest.raises(OutputExistsError):
            call()
    assert target.read_bytes() == b"keep me"
    export_cutout(target, image, alpha, decontaminate=False, force=True)
    assert np.array_equal(np.asarray(read(target)), cutout_rgba(image, alpha))


def test_export_alpha_8_and_16_bits(tmp_path, scene, srgb_icc):
    _, alpha = scene
    im = read(export_alpha(tmp_path / "a8.png", alpha, icc_profile=srgb_icc, dpi=300))
    a8 = np.asarray(im)
    assert a8.dtype == np.uint8 and np.array_equal(a8, alpha_to_uint8(alpha))
    # the photo's RGB profile cannot describe a gray PNG: left out, not an error
    assert "icc_profile" not in im.info and im.info["dpi"] == pytest.approx((300, 300), abs=0.01)
    im = read(export_alpha(tmp_path / "a16.png", alpha, bits=16))
    assert im.mode in ("I;16", "I") and np.array_equal(np.asarray(im).astype(np.int64), alpha_to_uint16(alpha))
    assert np.asarray(im).max() == 65535
    with pytest.raises(ValueError):
        export_alpha(tmp_path / "a12.png", alpha, bits=12)


def test_export_trimap_routing_composite(tmp_path, scene, maps, srgb_icc):
    image, alpha = scene
    trimap = np.where(alpha == 1, 255, np.where(alpha > 0, 128, 0)).astype(np.uint8)
    im = read(export_trimap(tmp_path / "t.png", trimap, icc_profile=srgb_icc))
    assert np.array_equal(np.asarray(im), trimap) and "icc_profile" not in im.info
    gray_icc = bytes(16) + b"GRAY" + bytes(108)
    assert read(export_trimap(tmp_path / "t2.png", trimap, icc_profile=gray_icc)).info["icc_profile"] == gray_icc

    photo = image[:40, :70]
    routing = np.asarray(read(export_routing(tmp_path / "r.png", maps, photo, icc_profile=srgb_icc)))
    assert np.array_equal(routing, routing_heatmap(maps, photo))
    block = np.asarray(read(export_routing(tmp_path / "r1.png", maps, block=1, legend=False)))
    assert np.array_equal(block, routing_heatmap(maps, block=1, legend=False))

    green = np.asarray(read(export_composite(tmp_path / "c.png", image, alpha, (0, 255, 0), decontaminate=False)))
    assert np.array_equal(green, composite(image, alpha, (0, 255, 0)))
    assert np.all(green[alpha == 0] == (0, 255, 0))
    clean = np.asarray(read(export_composite(tmp_path / "c2.png", image, alpha)))
    assert np.array_equal(clean, composite(estimate_foreground(image, alpha), alpha))


@pytest.mark.slow
def test_24_megapixel_rgba_round_trips(tmp_path):
    # how long the write takes: tests/benchmarks/bench_export.py
    rng = np.random.default_rng(4)
    h, w = 4000, 6000
    # photo-like content: smooth gradients plus sensor noise (pure noise would not compress at all)
    y = np.linspace(0, 255, h, dtype=np.float32)[:, None]
    x = np.linspace(0, 255, w, dtype=np.float32)[None, :]
    base = np.stack([y + 0 * x, 0.5 * (x + y), 255 - x + 0 * y], axis=-1)
    image = np.clip(base + rng.standard_normal((h, w, 3), dtype=np.float32) * 3, 0, 255).astype(np.uint8)
    r = np.hypot(np.arange(h)[:, None] - h / 2, np.arange(w)[None, :] - w / 2)
    alpha = np.clip((1400 - r) / 40, 0, 1).astype(np.float32)
    rgba = cutout_rgba(image, alpha)
    path = save_png(tmp_path / "big.png", rgba)
    assert np.array_equal(np.asarray(read(path)), rgba)
