"""matteapp.io.images: every supported format and pixel format, EXIF orientation, metadata, broken files.

All inputs are written into tmp_path by the test itself (Pillow, OpenCV, or by hand for the odd headers
no encoder will produce), so the expected pixels are known exactly.
"""

from __future__ import annotations

import io
import struct
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image, ImageCms

from matteapp.io import images as imageio
from matteapp.io.images import MAX_IMAGE_PIXELS, ImageLoadError, LoadedImage, load_image

RNG = np.random.default_rng(1234)
NOISE = RNG.integers(0, 256, (24, 32, 3), dtype=np.uint8)  # H=24, W=32: orientation mistakes change the shape


def smooth_rgb(height: int = 48, width: int = 64) -> np.ndarray:
    """A gradient JPEG reproduces closely (noise would not)."""
    y, x = np.mgrid[0:height, 0:width]
    channels = [x * 255 // (width - 1), y * 255 // (height - 1), (x + y) * 255 // (width + height - 2)]
    return np.stack(channels, axis=-1).astype(np.uint8)


def assert_working_copy(loaded: LoadedImage, width: int, height: int) -> None:
    assert loaded.rgb.shape == (height, width, 3)
    assert loaded.rgb.dtype == np.uint8
    assert loaded.rgb.flags.c_contiguous and loaded.rgb.flags.writeable
    assert loaded.size == (width, height)
    if loaded.alpha is not None:
        assert loaded.alpha.shape == (height, width) and loaded.alpha.dtype == np.uint8


def png_bytes(width: int, height: int, bit_depth: int, color_type: int, rows: bytes, extra_chunks=()) -> bytes:
    """A PNG built chunk by chunk, for headers and layouts that no encoder here writes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    body = chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows))
    for kind, data in extra_chunks:
        body += chunk(kind, data)
    return b"\x89PNG\r\n\x1a\n" + body + chunk(b"IEND", b"")


def exif_with_orientation(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif


# How a viewer shows the stored pixels for each EXIF orientation value (EXIF 2.3, tag 0x0112).
DISPLAY = {
    1: lambda a: a,
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: np.swapaxes(a, 0, 1),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: np.rot90(a[:, ::-1], -1),
    8: lambda a: np.rot90(a, 1),
}


# ----------------------------------------------------------------------------------------------- formats


@pytest.mark.parametrize(
    "suffix, options",
    [("png", {}), ("tif", {}), ("tif", {"compression": "tiff_lzw"}), ("webp", {"lossless": True}), ("bmp", {})],
)
def test_lossless_formats_round_trip_exactly(tmp_path, suffix, options):
    path = tmp_path / f"noise.{suffix}"
    Image.fromarray(NOISE).save(path, **options)
    loaded = load_image(path)
    assert_working_copy(loaded, 32, 24)
    np.testing.assert_array_equal(loaded.rgb, NOISE)
    assert loaded.alpha is None
    assert (loaded.mode, loaded.bit_depth, loaded.exif_transposed) == ("RGB", 8, False)
    assert loaded.path == path


def test_jpeg_round_trips_approximately(tmp_path):
    original = smooth_rgb()
    path = tmp_path / "gradient.jpg"
    Image.fromarray(original).save(path, quality=95)
    loaded = load_image(str(path))  # str paths are accepted too
    assert_working_copy(loaded, 64, 48)
    assert np.abs(loaded.rgb.astype(int) - original).mean() < 2.0
    assert loaded.mode == "RGB" and loaded.bit_depth == 8


def test_mpo_jpeg_from_a_phone_loads_first_frame(tmp_path):
    # Phones write JPEGs with an MPF index, which Pillow opens as "MPO".
    path = tmp_path / "phone.jpg"
    first = Image.fromarray(smooth_rgb())
    first.save(path, format="MPO", save_all=True, append_images=[Image.new("RGB", first.size, "red")], quality=95)
    assert Image.open(path).format == "MPO"
    assert np.abs(load_image(path).rgb.astype(int) - smooth_rgb()).mean() < 2.0


def test_unsupported_format_is_refused_by_name(tmp_path):
    path = tmp_path / "anim.gif"
    Image.fromarray(NOISE).save(path)
    with pytest.raises(ImageLoadError, match=r"anim\.gif.*JPEG, PNG, TIFF, WebP or BMP"):
        load_image(path)


# ------------------------------------------------------------------------------------------- orientation


def test_exif_orientation_6_rotates_jpeg_clockwise(tmp_path):
    original = smooth_rgb(48, 64)
    path = tmp_path / "portrait.jpg"
    Image.fromarray(original).save(path, exif=exif_with_orientation(6), quality=95)
    loaded = load_image(path)
    assert loaded.exif_transposed
    assert_working_copy(loaded, 48, 64)
    assert np.abs(loaded.rgb.astype(int) - np.rot90(original, -1)).mean() < 2.0


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_on_png_with_alpha(tmp_path, orientation):
    alpha = RNG.integers(0, 256, NOISE.shape[:2], dtype=np.uint8)
    path = tmp_path / f"o{orientation}.png"
    Image.fromarray(np.dstack([NOISE, alpha])).save(path, exif=exif_with_orientation(orientation))
    loaded = load_image(path)
    np.testing.assert_array_equal(loaded.rgb, DISPLAY[orientation](NOISE))
    np.testing.assert_array_equal(loaded.alpha, DISPLAY[orientation](alpha))  # alpha turns with the picture
    assert loaded.exif_transposed == (orientation != 1)


def test_tiff_orientation_tag_is_applied(tmp_path):
    path = tmp_path / "rotated.tif"
    Image.fromarray(NOISE).save(path, tiffinfo={0x0112: 8})
    loaded = load_image(path)
    assert loaded.exif_transposed
    np.testing.assert_array_equal(loaded.rgb, np.rot90(NOISE, 1))


def test_sixteen_bit_png_orientation_is_applied(tmp_path):
    # 16-bit colour is decoded by OpenCV, so orientation is carried over separately; the eXIf chunk
    # sits after IDAT, where Pillow only finds it by decoding the file.
    values = RNG.integers(0, 65536, (3, 4, 3), dtype=np.uint16)
    rows = b"".join(b"\x00" + row.astype(">u2").tobytes() for row in values)
    path = tmp_path / "rot16.png"
    path.write_bytes(png_bytes(4, 3, 16, 2, rows, [(b"eXIf", exif_with_orientation(6).tobytes())]))
    loaded = load_image(path)
    assert loaded.exif_transposed and loaded.bit_depth == 16
    expected = ((values.astype(np.uint32) + 128) // 257).astype(np.uint8)
    np.testing.assert_array_equal(loaded.rgb, np.rot90(expected, -1))


# ---------------------------------------------------------------------------------------- pixel formats


def test_grayscale_becomes_equal_channels(tmp_path):
    gray = NOISE[:, :, 0]
    path = tmp_path / "gray.png"
    Image.fromarray(gray).save(path)
    loaded = load_image(path)
    assert loaded.mode == "L" and loaded.alpha is None
    np.testing.assert_array_equal(loaded.rgb, np.dstack([gray] * 3))


def test_one_bit_image(tmp_path):
    bits = NOISE[:, :, 0] > 127
    path = tmp_path / "bits.bmp"
    Image.fromarray(bits).save(path)
    loaded = load_image(path)
    assert loaded.mode == "1"
    np.testing.assert_array_equal(loaded.rgb[:, :, 1], np.where(bits, 255, 0))


def test_palette_image_uses_palette_colours(tmp_path):
    palette = RNG.integers(0, 256, (256, 3), dtype=np.uint8)
    indices = RNG.integers(0, 256, (24, 32), dtype=np.uint8)
    image = Image.fromarray(indices, "P")
    image.putpalette(palette.ravel().tolist())
    path = tmp_path / "palette.png"
    image.save(path)
    loaded = load_image(path)
    assert loaded.mode == "P" and loaded.alpha is None
    np.testing.assert_array_equal(loaded.rgb, palette[indices])


def test_palette_transparency_becomes_alpha(tmp_path):
    indices = np.array([[0, 1, 2], [2, 1, 0]], dtype=np.uint8)
    image = Image.fromarray(indices, "P")
    image.putpalette([10, 20, 30, 200, 100, 50, 7, 8, 9] + [0] * (253 * 3))
    path = tmp_path / "transparent.png"
    image.save(path, transparency=bytes([0, 128, 255]))  # per-entry alpha (tRNS)
    loaded = load_image(path)
    np.testing.assert_array_equal(loaded.alpha, np.array([[0, 128, 255], [255, 128, 0]]))
    np.testing.assert_array_equal(loaded.rgb[0], [[10, 20, 30], [200, 100, 50], [7, 8, 9]])


def test_gray_alpha(tmp_path):
    gray, alpha = NOISE[:, :, 0], NOISE[:, :, 1]
    path = tmp_path / "la.png"
    Image.fromarray(np.dstack([gray, alpha]), "LA").save(path)
    loaded = load_image(path)
    assert loaded.mode == "LA"
    np.testing.assert_array_equal(loaded.rgb, np.dstack([gray] * 3))
    np.testing.assert_array_equal(loaded.alpha, alpha)


def test_rgba_keeps_alpha_and_unpremultiplied_colour(tmp_path):
    alpha = NOISE[:, :, 0].copy()
    alpha[0, 0] = 0  # colour under fully transparent pixels must survive too
    path = tmp_path / "rgba.png"
    Image.fromarray(np.dstack([NOISE, alpha])).save(path)
    loaded = load_image(path)
    assert loaded.mode == "RGBA"
    np.testing.assert_array_equal(loaded.rgb, NOISE)
    np.testing.assert_array_equal(loaded.alpha, alpha)


CMYK = np.array([[[0, 0, 0, 0], [0, 0, 0, 128], [0, 0, 0, 255], [255, 0, 0, 0], [0, 255, 255, 0]]], dtype=np.uint8)


@pytest.mark.parametrize("suffix", ["tif", "jpg"])
def test_cmyk_without_profile_uses_plain_conversion(tmp_path, suffix):
    path = tmp_path / f"cmyk.{suffix}"
    Image.fromarray(CMYK, "CMYK").save(path, **({"quality": 100} if suffix == "jpg" else {}))
    loaded = load_image(path)
    assert loaded.mode == "CMYK" and loaded.icc_profile is None
    expected = np.array([[[255, 255, 255], [127, 127, 127], [0, 0, 0], [0, 255, 255], [255, 0, 0]]])
    assert np.abs(loaded.rgb.astype(int) - expected).max() <= (0 if suffix == "tif" else 3)


def cmyk_test_profile() -> bytes:
    """A tiny but valid ICC v2 CMYK output profile: ink darkens neutrally, L* = 100·Π(1 − ink).

    No CMYK profile ships with the test environment, and LittleCMS cannot create one, so it is built
    here from the ICC v2 layout: header, tag table, desc/wtpt/cprt and an A2B0 lut8 with a 2⁴ grid.
    """

    def s15(value: float) -> bytes:
        return struct.pack(">i", round(value * 65536))

    d50 = s15(0.9642) + s15(1.0) + s15(0.8249)
    text = b"matteapp test CMYK\0"
    desc = b"desc" + bytes(4) + struct.pack(">I", len(text)) + text + bytes(8) + bytes(3) + bytes(67)
    clut = bytearray()
    for c in (0, 1):
        for m in (0, 1):
            for y in (0, 1):
                for k in (0, 1):
                    lightness = 100 * (1 - c) * (1 - m) * (1 - y) * (1 - k)
                    clut += bytes([round(lightness * 255 / 100), 128, 128])
    ramp = bytes(range(256))
    identity = b"".join(s15(1.0 if i % 4 == 0 else 0.0) for i in range(9))
    a2b0 = b"mft1" + bytes(4) + bytes([4, 3, 2, 0]) + identity + ramp * 4 + bytes(clut) + ramp * 3
    wtpt = b"XYZ " + bytes(4) + d50
    cprt = b"text" + bytes(4) + b"none\0"
    tags = [(b"desc", desc), (b"wtpt", wtpt), (b"cprt", cprt), (b"A2B0", a2b0)]
    offset = 128 + 4 + 12 * len(tags)
    table, data = b"", b""
    for signature, body in tags:
        body += bytes(-len(body) % 4)
        table += signature + struct.pack(">II", offset + len(data), len(body))
        data += body
    header = (
        struct.pack(">I", offset + len(data)) + bytes(4) + struct.pack(">I", 0x02100000)
        + b"prtr" + b"CMYK" + b"Lab " + bytes(12) + b"acsp" + bytes(4 + 4 + 4 + 4 + 8 + 4) + d50 + bytes(4 + 16 + 28)
    )  # fmt: skip
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + data


@pytest.mark.parametrize("suffix", ["tif", "jpg"])
def test_cmyk_with_profile_is_colour_managed_to_srgb(tmp_path, suffix):
    path = tmp_path / f"managed.{suffix}"
    options = {"quality": 100} if suffix == "jpg" else {}
    Image.fromarray(CMYK[:, :3], "CMYK").save(path, icc_profile=cmyk_test_profile(), **options)
    loaded = load_image(path)
    # White paper, L* ≈ 50 (sRGB ≈ 118, where the naive conversion would give 127), full black.
    assert np.abs(loaded.rgb[0].astype(int) - [[255] * 3, [118] * 3, [0] * 3]).max() <= 2
    # The kept profile must describe the RGB data: sRGB, not the file's CMYK profile.
    profile = ImageCms.ImageCmsProfile(io.BytesIO(loaded.icc_profile)).profile
    assert profile.xcolor_space.strip() == "RGB"
    assert "sRGB" in profile.profile_description


def test_cmyk_with_unusable_profile_falls_back_without_profile(tmp_path):
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    path = tmp_path / "wrong_profile.tif"
    Image.fromarray(CMYK, "CMYK").save(path, icc_profile=srgb)  # an RGB profile cannot convert CMYK
    loaded = load_image(path)
    assert loaded.icc_profile is None
    assert loaded.rgb[0, 1].tolist() == [127, 127, 127]


# 16-bit samples chosen where round(v / 257) and truncation (v >> 8) disagree.
SIXTEEN = np.array([[0, 128, 129, 257], [385, 386, 32896, 65535]], dtype=np.uint16)
SIXTEEN_TO_8 = np.array([[0, 0, 1, 1], [1, 2, 128, 255]], dtype=np.uint8)


def test_round_16_to_8_matches_exact_formula_for_every_value():
    values = np.arange(65536, dtype=np.uint32)
    expected = ((values + 128) // 257).astype(np.uint8)  # == round(v / 257); no value is a tie
    rounded = imageio._round_16_to_8(values.astype(np.uint16).reshape(256, 256))
    np.testing.assert_array_equal(rounded.ravel(), expected)


@pytest.mark.parametrize("suffix", ["png", "tif"])
def test_sixteen_bit_gray_rounds_to_8_bit(tmp_path, suffix):
    path = tmp_path / f"gray16.{suffix}"
    assert cv2.imwrite(str(path), SIXTEEN)
    loaded = load_image(path)
    assert loaded.mode.startswith("I;16") and loaded.bit_depth == 16
    np.testing.assert_array_equal(loaded.rgb, np.dstack([SIXTEEN_TO_8] * 3))


def test_big_endian_16_bit_tiff(tmp_path):
    path = tmp_path / "big_endian.tif"
    Image.frombytes("I;16B", (4, 2), SIXTEEN.astype(">u2").tobytes()).save(path)
    loaded = load_image(path)
    assert loaded.mode == "I;16B"
    np.testing.assert_array_equal(loaded.rgb[:, :, 0], SIXTEEN_TO_8)


def test_32_bit_integer_gray_is_read_on_the_16_bit_scale(tmp_path):
    path = tmp_path / "int32.tif"
    values = SIXTEEN.astype(np.int32)
    values[0, 0] = -5  # out of range: clipped
    Image.fromarray(values).save(path)
    loaded = load_image(path)
    assert loaded.mode == "I" and loaded.bit_depth == 16
    np.testing.assert_array_equal(loaded.rgb[:, :, 2], SIXTEEN_TO_8)


@pytest.mark.parametrize("suffix", ["png", "tif"])
def test_sixteen_bit_rgb_rounds_to_8_bit(tmp_path, suffix):
    rgb16 = np.stack([SIXTEEN, SIXTEEN[::-1], 65535 - SIXTEEN], axis=-1)
    path = tmp_path / f"rgb16.{suffix}"
    assert cv2.imwrite(str(path), rgb16[:, :, ::-1])  # OpenCV writes BGR
    loaded = load_image(path)
    assert loaded.mode == "RGB" and loaded.bit_depth == 16 and loaded.alpha is None
    np.testing.assert_array_equal(loaded.rgb[:, :, 0], SIXTEEN_TO_8)
    np.testing.assert_array_equal(loaded.rgb[:, :, 1], SIXTEEN_TO_8[::-1])
    assert loaded.rgb[1, 2].tolist() == [128, 1, 127]  # from (32896, 129, 32639); truncation gives 0 for 129
    expected = ((rgb16.astype(np.uint32) + 128) // 257).astype(np.uint8)
    np.testing.assert_array_equal(loaded.rgb, expected)


@pytest.mark.parametrize("suffix", ["png", "tif"])
def test_sixteen_bit_rgba_keeps_rounded_alpha(tmp_path, suffix):
    rgba16 = np.stack([SIXTEEN, SIXTEEN, SIXTEEN, SIXTEEN[:, ::-1]], axis=-1)
    path = tmp_path / f"rgba16.{suffix}"
    assert cv2.imwrite(str(path), rgba16[:, :, [2, 1, 0, 3]])
    loaded = load_image(path)
    assert loaded.bit_depth == 16
    np.testing.assert_array_equal(loaded.rgb[:, :, 1], SIXTEEN_TO_8)
    np.testing.assert_array_equal(loaded.alpha, SIXTEEN_TO_8[:, ::-1])


def test_sixteen_bit_gray_alpha_png(tmp_path):
    pairs = np.stack([SIXTEEN, SIXTEEN[:, ::-1]], axis=-1)
    rows = b"".join(b"\x00" + row.astype(">u2").tobytes() for row in pairs)
    path = tmp_path / "la16.png"
    path.write_bytes(png_bytes(4, 2, 16, 4, rows))
    loaded = load_image(path)
    assert loaded.bit_depth == 16
    np.testing.assert_array_equal(loaded.rgb, np.dstack([SIXTEEN_TO_8] * 3))
    np.testing.assert_array_equal(loaded.alpha, SIXTEEN_TO_8[:, ::-1])


def test_unsupported_pixel_format(tmp_path):
    path = tmp_path / "float.tif"
    Image.fromarray(np.zeros((4, 4), np.float32)).save(path)
    with pytest.raises(ImageLoadError, match=r"float\.tif.*floating point.*not supported"):
        load_image(path)


# -------------------------------------------------------------------------------------------- metadata

SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


@pytest.mark.parametrize("suffix", ["png", "jpg", "tif", "webp"])
def test_icc_profile_is_kept(tmp_path, suffix):
    path = tmp_path / f"profiled.{suffix}"
    Image.fromarray(NOISE).save(path, icc_profile=SRGB)
    assert load_image(path).icc_profile == SRGB


@pytest.mark.parametrize("suffix", ["png", "jpg", "tif", "bmp"])
def test_dpi_is_kept(tmp_path, suffix):
    path = tmp_path / f"print.{suffix}"
    Image.fromarray(NOISE).save(path, dpi=(300, 150))
    assert load_image(path).dpi == pytest.approx((300, 150), abs=0.05)  # PNG and BMP store dots per metre


def test_no_metadata_gives_none(tmp_path):
    path = tmp_path / "bare.png"
    Image.fromarray(NOISE).save(path)
    loaded = load_image(path)
    assert loaded.icc_profile is None and loaded.dpi is None


def test_non_rgb_profile_is_not_attached_to_rgb_data(tmp_path):
    lab_profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()  # stands in for a gray one
    path = tmp_path / "gray_profiled.jpg"
    Image.fromarray(NOISE[:, :, 0]).save(path, icc_profile=lab_profile)
    assert load_image(path).icc_profile is None


# --------------------------------------------------------------------------------------- broken files


def make_broken(tmp_path, kind: str):
    """Write one kind of broken input; returns its path."""
    noise = Image.fromarray(RNG.integers(0, 256, (300, 400, 3), dtype=np.uint8))
    if kind == "missing":
        return tmp_path / "missing.png"
    if kind == "directory":
        path = tmp_path / "x.png"
        path.mkdir()
        return path
    if kind == "empty":
        path = tmp_path / "empty.jpg"
        path.write_bytes(b"")
        return path
    if kind == "text":
        path = tmp_path / "notes.png"
        path.write_text("this is not a picture\n" * 20)
        return path
    if kind == "random":
        path = tmp_path / "random.jpg"
        path.write_bytes(RNG.integers(0, 256, 5000, dtype=np.uint8).tobytes())
        return path
    if kind in ("truncated_png", "truncated_jpeg", "truncated_png16"):
        names = {"truncated_png": "cut.png", "truncated_jpeg": "cut.jpg", "truncated_png16": "cut16.png"}
        path = tmp_path / names[kind]
        if kind == "truncated_png16":
            cv2.imwrite(str(path), np.asarray(noise).astype(np.uint16) * 257)
        else:
            noise.save(path)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
        return path
    if kind == "corrupt_png":
        path = tmp_path / "bitrot.png"
        # Noise is stored in uncompressed deflate blocks, so the damage decodes without any error:
        # only the chunk's CRC reveals it.
        noise.save(path)
        data = bytearray(path.read_bytes())
        data[len(data) // 2 : len(data) // 2 + 64] = b"\xaa" * 64
        path.write_bytes(bytes(data))
        return path
    if kind == "zero_size":
        path = tmp_path / "zero.png"
        path.write_bytes(png_bytes(0, 5, 8, 0, b""))
        return path
    if kind == "huge_header":
        path = tmp_path / "bomb.png"
        path.write_bytes(png_bytes(30000, 30000, 8, 2, bytes(100)))  # 900 megapixels claimed, 100 bytes stored
        return path
    raise AssertionError(kind)


BROKEN = [
    "missing", "directory", "empty", "text", "random", "truncated_png16", "corrupt_png", "zero_size", "huge_header",
]  # fmt: skip


@pytest.mark.parametrize("kind", BROKEN)
def test_broken_files_give_one_clear_error(tmp_path, kind):
    path = make_broken(tmp_path, kind)
    with pytest.raises(ImageLoadError) as caught:  # any other exception type fails the test
        load_image(path)
    message = str(caught.value)
    assert path.name in message
    assert "\n" not in message and "Traceback" not in message
    assert caught.value.path == path
    assert isinstance(caught.value, ValueError)


def test_messages_say_what_is_wrong(tmp_path):
    expectations = {
        "missing": "no file",
        "directory": "folder",
        "empty": "empty",
        "text": "not a JPEG, PNG, TIFF, WebP or BMP image",
        "truncated_png16": "truncated",
        "huge_header": "900 megapixels, more than the limit of 200 megapixels",
    }
    for kind, words in expectations.items():
        with pytest.raises(ImageLoadError, match=words):
            load_image(make_broken(tmp_path, kind))


@pytest.mark.parametrize("kind", ["truncated_jpeg", "truncated_png"])
def test_a_file_cut_short_opens_as_far_as_it_goes_with_a_warning_in_plain_words(tmp_path, kind):
    # Photoshop and GIMP open what is there; so does matteapp, and says what happened without Pillow's words
    path = make_broken(tmp_path, kind)  # 400×300 noise, cut after half its bytes
    loaded = load_image(path)
    assert loaded.rgb.shape == (300, 400, 3)
    (warning,) = loaded.warnings
    assert path.name in warning and "incomplete" in warning and "cut short" in warning
    assert "bytes not processed" not in warning and "Truncated File Read" not in warning
    assert np.ptp(loaded.rgb[:20]) > 100  # the top decodes (noise) ...
    assert np.ptp(loaded.rgb[-20:]) == 0  # ... what is missing at the bottom is flat
    # the switch Pillow offers for this is process-wide: it must be off again after the load
    from PIL import ImageFile

    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_a_complete_file_has_no_warnings(tmp_path):
    path = tmp_path / "whole.png"
    Image.fromarray(NOISE).save(path)
    assert load_image(path).warnings == []


def test_pixel_limit_is_enforced_by_our_own_check(tmp_path, monkeypatch):
    assert MAX_IMAGE_PIXELS == 200_000_000 and Image.MAX_IMAGE_PIXELS == MAX_IMAGE_PIXELS
    path = tmp_path / "big.png"
    Image.fromarray(NOISE).save(path)
    monkeypatch.setattr(imageio, "MAX_IMAGE_PIXELS", 500)
    with pytest.raises(ImageLoadError, match=r"big\.png.*32×24 pixels.*limit"):
        load_image(path)


def test_pillow_guard_above_twice_its_limit_is_reported_with_the_size(tmp_path, monkeypatch):
    path = tmp_path / "bigger.png"
    Image.fromarray(NOISE).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # Pillow refuses > 200 px before we see the size
    with pytest.raises(ImageLoadError, match=r"bigger\.png: the image has 768 pixels, more than the limit of 100 "):
        load_image(path)
