"""Loading photos into the 8-bit RGB working copy the matting core expects.

:func:`load_image` reads JPEG, PNG, TIFF, WebP and BMP files of any common pixel format and returns a
:class:`LoadedImage`: an H×W×3 ``uint8`` RGB array in display orientation (EXIF orientation applied), the
file's own alpha channel when it has one, and the metadata an export needs to write a faithful result
(ICC profile, DPI).  Every failure is an :class:`ImageLoadError` whose message names the file and says
what is wrong in words a user can act on.

No Qt here: the GUI, the CLI and the tests all share this module.
"""

from __future__ import annotations

import io
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import ExifTags, Image, ImageFile, ImageOps, UnidentifiedImageError

from matteapp.base import real_path, resource

MAX_IMAGE_PIXELS = 200_000_000
"""Largest image, in pixels (width × height), that :func:`load_image` accepts.

Pillow's default decompression-bomb guard (about 89 megapixels) rejects real photos from medium-format
and stitched panoramas, so the limit is raised to 200 megapixels (an 8-bit RGB copy is 600 MB) rather
than switched off: a tiny file whose header claims a gigapixel size must still be refused before it is
decoded.  Pillow's own guard is set to the same value at import.
"""

Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS

SAMPLE_PHOTO = real_path(resource("samples", "astronaut.png"))
"""The bundled public-domain sample photo (package data, like the bundled model): what the window's
Open Sample Photo and ``matteapp --self-test`` open."""

SUPPORTED_FORMATS = ("JPEG", "PNG", "TIFF", "WEBP", "BMP")
"""Pillow format names accepted by :func:`load_image` (JPEGs with an MPF index open as "MPO")."""

_FORMAT_NAMES = "JPEG, PNG, TIFF, WebP or BMP"

# Modes whose samples fit in 8 bits; Pillow converts them to RGB (or RGBA) without loss of meaning.
_EIGHT_BIT_MODES = frozenset({"1", "L", "LA", "P", "PA", "RGB", "RGBA", "RGBa", "RGBX", "YCbCr", "CMYK"})
_SIXTEEN_BIT_GRAY_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I"})

_ORIENTATION = ExifTags.Base.Orientation


class ImageLoadError(ValueError):
    """A photo could not be loaded.  ``str(error)`` is a complete sentence for the user; ``path`` is the file."""

    def __init__(self, message: str, path: Path | str | None = None):
        super().__init__(message)
        self.path = Path(path) if path is not None else None


@dataclass
class LoadedImage:
    """A photo decoded into the working format.

    ``rgb``: H×W×3 ``uint8`` RGB, C-contiguous and writable, in display orientation.
    ``alpha``: H×W ``uint8`` alpha channel from the file (RGBA, LA, palette or tRNS transparency), in the
    same orientation as ``rgb``, or ``None``.  It is kept for reference only; ``rgb`` is not premultiplied.
    ``icc_profile``: the embedded ICC profile describing ``rgb`` (sRGB after a CMYK conversion), or ``None``.
    ``dpi``: (horizontal, vertical) resolution from the file, or ``None``.
    ``mode``: Pillow's mode of the file as opened, e.g. "RGB", "P", "I;16", "CMYK".
    ``bit_depth``: bits per channel in the file, 16 or 8 (8 also for 1-bit and palette files).
    ``exif_transposed``: whether an EXIF orientation other than "normal" was applied.
    ``warnings``: sentences for the user about how the file was read (a truncated file opened as far as
    it goes); empty for a complete file.
    """

    rgb: np.ndarray
    alpha: np.ndarray | None
    path: Path
    icc_profile: bytes | None
    dpi: tuple[float, float] | None
    mode: str
    bit_depth: int
    exif_transposed: bool
    warnings: list[str] = field(default_factory=list)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels, as Pillow reports sizes."""
        return self.rgb.shape[1], self.rgb.shape[0]


def load_image(path: str | Path) -> LoadedImage:
    """Decode a JPEG, PNG, TIFF, WebP or BMP file into a :class:`LoadedImage`.

    Grayscale, palette, gray+alpha, RGBA, CMYK and 16-bit files all become 8-bit RGB: 16-bit samples are
    rounded (``round(v / 257)``), CMYK goes through the embedded ICC profile to sRGB when there is one.
    The whole file is decoded here, so corrupt files fail now, not later in the pipeline.  A file that
    merely ends too early (a download or copy cut short) opens as far as it goes, as Photoshop and GIMP
    open it, with a sentence about it in :attr:`LoadedImage.warnings`.

    Raises :class:`ImageLoadError` for anything that is not a supported image.
    """
    path = Path(path)
    with _open_checked(path) as src:
        width, height = src.size
        try:
            return _decode(src, path)
        except ImageLoadError:
            raise
        except OSError as exc:
            if not _is_truncation(exc):
                raise ImageLoadError(f"Cannot load {path.name}: the file is damaged ({_reason(exc)}).", path) from exc
            truncation = exc
        except MemoryError as exc:
            raise ImageLoadError(
                f"Cannot load {path.name}: not enough memory for a {width}×{height} image.", path
            ) from exc
        except Exception as exc:
            # Decoders report corruption as OSError, SyntaxError, ValueError, struct.error, zlib.error...:
            # whatever the type, the user-facing meaning is the same.
            raise ImageLoadError(f"Cannot load {path.name}: the file is damaged ({_reason(exc)}).", path) from exc
    return _load_truncated(path, truncation)


def probe_image(path: str | Path) -> tuple[int, int]:
    """(width, height) of a photo that :func:`load_image` would open, from its header alone (milliseconds,
    whatever its size); raises :class:`ImageLoadError` as :func:`load_image` would for a file that is not
    a supported image at all.  Damage further into the file only shows when it is decoded."""
    path = Path(path)
    with _open_checked(path) as src:
        return src.size


def _open_checked(path: Path) -> Image.Image:
    """The file opened by Pillow (header read, pixels not decoded), its size and pixel format checked."""
    _check_file(path)
    try:
        src = Image.open(path, formats=SUPPORTED_FORMATS)
    except Image.DecompressionBombError as exc:
        raise ImageLoadError(_too_large_message(path, exc), path) from exc
    except UnidentifiedImageError as exc:
        raise ImageLoadError(
            f"Cannot load {path.name}: it is not a {_FORMAT_NAMES} image, or its header is damaged.", path
        ) from exc
    except OSError as exc:
        raise ImageLoadError(f"Cannot load {path.name}: the file cannot be read ({_reason(exc)}).", path) from exc
    except Exception as exc:  # Pillow plugins raise assorted types on malformed headers
        raise ImageLoadError(f"Cannot load {path.name}: the file is damaged ({_reason(exc)}).", path) from exc

    try:
        width, height = src.size
        if width <= 0 or height <= 0:
            raise ImageLoadError(f"Cannot load {path.name}: the image is empty ({width}×{height} pixels).", path)
        if width * height > MAX_IMAGE_PIXELS:
            raise ImageLoadError(
                f"Cannot load {path.name}: the image is {width}×{height} pixels ({_amount(width * height)}), "
                f"more than the limit of {_amount(MAX_IMAGE_PIXELS)}.",
                path,
            )
        mode = src.mode
        if mode not in _EIGHT_BIT_MODES and mode not in _SIXTEEN_BIT_GRAY_MODES:
            raise ImageLoadError(
                f"Cannot load {path.name}: its pixel format ({_describe_mode(mode)}) is not supported.", path
            )
    except BaseException:
        src.close()
        raise
    return src


_TRUNCATED_LOCK = threading.Lock()


def _is_truncation(exc: BaseException) -> bool:
    # Pillow's words when the data stops before the image does: "image file is truncated (19 bytes not
    # processed)" from the decoders, "Truncated File Read" from the PNG chunk reader.
    return "truncated" in str(exc).lower()


def _load_truncated(path: Path, cause: OSError) -> LoadedImage:
    """Decode a file that ends early as far as it goes, with a warning in plain words."""
    # Pillow only has a process-wide switch for this: it is turned on for this one decode, and the lock
    # keeps another thread's load from seeing it on (or turning it off halfway through this one).
    with _TRUNCATED_LOCK:
        previous = ImageFile.LOAD_TRUNCATED_IMAGES
        ImageFile.LOAD_TRUNCATED_IMAGES = True
        try:
            with Image.open(path, formats=SUPPORTED_FORMATS) as src:
                loaded = _decode(src, path, verify=False)
        except ImageLoadError:
            raise
        except Exception as exc:
            raise ImageLoadError(f"Cannot load {path.name}: the file is cut short and what is there cannot be read ({_reason(exc)}).", path) from exc
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES = previous
    loaded.warnings.append(
        f"{path.name} is incomplete: the file ends before the picture does, as when a download or a copy "
        "is cut short. It is open as far as it goes; the part that is missing is filled with flat gray (black in some formats). "
        "If you have the complete file, open that one instead."
    )
    return loaded


def _check_file(path: Path) -> None:
    # Checked up front because Pillow's messages for these cases ("cannot identify image file",
    # "[Errno 21] Is a directory") do not tell a user what to do.
    if not path.exists():
        raise ImageLoadError(f"Cannot load {path.name}: there is no file at {path}.", path)
    if path.is_dir():
        raise ImageLoadError(f"Cannot load {path.name}: {path} is a folder, not an image file.", path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ImageLoadError(f"Cannot load {path.name}: the file cannot be read ({_reason(exc)}).", path) from exc
    if size == 0:
        raise ImageLoadError(f"Cannot load {path.name}: the file is empty (0 bytes).", path)


def _decode(src: Image.Image, path: Path, verify: bool = True) -> LoadedImage:
    info = dict(src.info)
    mode = src.mode
    sixteen_bit_color = _has_16_bit_color(src)  # reads the tile list, which loading clears
    bit_depth = 16 if sixteen_bit_color or mode in _SIXTEEN_BIT_GRAY_MODES else 8
    icc_profile = info.get("icc_profile") or None

    if src.format == "PNG" and verify:
        _verify_png_checksums(path)

    # Pillow's TIFF plugin applies the EXIF orientation itself while loading and drops the tag, so the
    # orientation stored in a TIFF is read first (getexif() does not decode TIFFs).
    stored_orientation = _exif_orientation(src) if src.format == "TIFF" else None
    if not sixteen_bit_color or src.format == "PNG":
        # The full decode happens here, outside the lenient EXIF reading, so that truncation and
        # corruption surface as errors.  16-bit PNGs are decoded again by OpenCV below, but Pillow's
        # getexif() would decode them anyway to look for an eXIf chunk after the image data.
        src.load()
    orientation = _exif_orientation(src)  # what is left to apply
    if stored_orientation is None:
        stored_orientation = orientation

    if sixteen_bit_color:
        size = src.size
        src.close()  # release Pillow's 8-bit decode before OpenCV's full-depth one
        rgb, alpha = _decode_16_bit_color(path, size)
        if orientation != 1:
            rgb = _oriented_array(Image.fromarray(rgb), orientation)
            alpha = _oriented_array(Image.fromarray(alpha), orientation) if alpha is not None else None
    else:
        rgb_img, alpha_img, icc_profile = _to_rgb(src, icc_profile)
        if rgb_img is not src:
            # Free the decoded original before the working copies are transposed and copied out.
            src.close()
        alpha = _oriented_array(alpha_img, orientation) if alpha_img is not None else None
        rgb = _oriented_array(rgb_img, orientation)

    return LoadedImage(
        rgb=rgb,
        alpha=alpha,
        path=path,
        icc_profile=_rgb_profile_or_none(icc_profile),
        dpi=_dpi(info),
        mode=mode,
        bit_depth=bit_depth,
        exif_transposed=stored_orientation != 1,
    )


def _verify_png_checksums(path: Path) -> None:
    # Pillow's PNG decoder checks neither the CRCs of the image-data chunks nor the zlib checksum, so a
    # damaged block can decode into garbage without an error.  verify() checks every chunk's CRC; it
    # reads the file once more, without decompressing it.
    with Image.open(path, formats=["PNG"]) as png:
        png.verify()


def _to_rgb(src: Image.Image, icc_profile: bytes | None) -> tuple[Image.Image, Image.Image | None, bytes | None]:
    """(RGB image, L alpha image or None, ICC profile describing the RGB image)."""
    mode = src.mode
    if mode in _SIXTEEN_BIT_GRAY_MODES:
        return _sixteen_bit_gray_to_rgb(src), None, icc_profile
    if mode == "CMYK":
        return _cmyk_to_rgb(src, icc_profile)
    if mode == "RGB" and not src.has_transparency_data:
        return src, None, icc_profile
    if mode in ("RGBA", "LA") or src.has_transparency_data:
        # Palette, gray and RGB files with a tRNS key colour or transparent palette entries need
        # Pillow's RGBA conversion to turn that into an alpha channel.
        rgba = src if mode == "RGBA" else src.convert("RGBA")
        return rgba.convert("RGB"), rgba.getchannel("A"), icc_profile
    return src.convert("RGB"), None, icc_profile


def _sixteen_bit_gray_to_rgb(src: Image.Image) -> Image.Image:
    values = np.asarray(src)
    if values.dtype != np.uint16:
        # Mode "I" is 32-bit signed; older Pillow decoders and some TIFF writers keep 16-bit gray in it,
        # so it is read on that scale.
        values = np.clip(values, 0, 65535).astype(np.uint16)
    elif not values.dtype.isnative:
        values = values.astype(np.uint16)  # OpenCV needs native byte order ("I;16B" arrives big-endian)
    return Image.fromarray(_round_16_to_8(values)).convert("RGB")


def _round_16_to_8(values: np.ndarray) -> np.ndarray:
    # round(v / 257) maps 0..65535 onto 0..255 with 257·k ↦ k exactly; OpenCV rounds to nearest and
    # no v / 257 is a tie, so this equals the exact integer formula in one pass without a float copy.
    return cv2.convertScaleAbs(values, alpha=1.0 / 257.0)


def _has_16_bit_color(src: Image.Image) -> bool:
    # Pillow has no 16-bit colour modes: 16-bit RGB(A) PNG/TIFF and 16-bit gray+alpha PNG open as
    # "RGB"/"RGBA" and are decoded by keeping only the high byte, which truncates instead of rounding.
    # The raw mode of the decoder tile ("RGB;16B", "RGBA;16N", "LA;16B"...) reveals them before decoding.
    if src.format not in ("PNG", "TIFF") or src.mode not in ("RGB", "RGBA"):
        return False
    for tile in src.tile:
        args = tile.args
        rawmode = args if isinstance(args, str) else (args[0] if isinstance(args, tuple) and args else None)
        if isinstance(rawmode, str) and re.search(r";16[BLN]?$", rawmode):
            return True
    return False


def _decode_16_bit_color(path: Path, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray | None]:
    """(H×W×3 uint8 RGB, H×W uint8 alpha or None) from a 16-bit RGB(A) or gray+alpha PNG/TIFF."""
    # OpenCV decodes these at full depth.  cv2.imread cannot open non-ASCII paths on Windows, so those
    # go through imdecode, at the cost of holding the (large, for 16-bit) file in memory meanwhile.
    flags = cv2.IMREAD_UNCHANGED
    if str(path).isascii():
        decoded = cv2.imread(str(path), flags)
    else:
        decoded = cv2.imdecode(np.fromfile(path, dtype=np.uint8), flags)
    width, height = size
    if (
        decoded is None
        or decoded.dtype != np.uint16
        or decoded.ndim != 3
        or decoded.shape[:2] != (height, width)
        or decoded.shape[2] not in (3, 4)
    ):
        raise ImageLoadError(f"Cannot load {path.name}: the 16-bit image data is truncated or damaged.", path)
    eight = _round_16_to_8(decoded)
    del decoded
    if eight.shape[2] == 3:
        return cv2.cvtColor(eight, cv2.COLOR_BGR2RGB, dst=eight), None
    rgb = cv2.cvtColor(eight, cv2.COLOR_BGRA2RGB)
    alpha = np.ascontiguousarray(eight[:, :, 3])
    return rgb, alpha


def _cmyk_to_rgb(src: Image.Image, icc_profile: bytes | None) -> tuple[Image.Image, None, bytes | None]:
    if icc_profile:
        try:
            from PIL import ImageCms

            cmyk_profile = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
            srgb_profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
            rgb = ImageCms.profileToProfile(src, cmyk_profile, srgb_profile, outputMode="RGB")
            return rgb, None, srgb_profile.tobytes()
        except Exception:
            # A damaged or non-CMYK profile, or Pillow built without LittleCMS: the naive conversion
            # is still a usable picture, and no profile is kept because none describes its colours.
            pass
    return src.convert("RGB"), None, None


def _rgb_profile_or_none(icc_profile: bytes | None) -> bytes | None:
    # Gray files can carry gray profiles (and damaged files anything); a profile that does not describe
    # RGB data would mislead whoever colour-manages the output.
    if not icc_profile:
        return None
    try:
        from PIL import ImageCms

        space = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile)).profile.xcolor_space
    except Exception:
        return None
    return icc_profile if space.strip() == "RGB" else None


def _exif_orientation(src: Image.Image) -> int:
    try:
        orientation = int(src.getexif().get(_ORIENTATION, 1))
    except Exception:
        return 1  # unreadable EXIF must not make a decodable photo fail
    return orientation if 1 <= orientation <= 8 else 1


def _oriented_array(img: Image.Image, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1..8) to ``img`` and return its pixels as a writable uint8 array;
    ``img`` is closed."""
    if orientation != 1:
        # Converted and re-built working images no longer carry the source's EXIF, so the orientation
        # read from the file is written onto them for exif_transpose (getexif() returns the cached Exif).
        img.getexif()[_ORIENTATION] = orientation
        ImageOps.exif_transpose(img, in_place=True)
    width, height = img.size
    bands = len(img.getbands())
    out = np.empty((height, width, bands) if bands > 1 else (height, width), dtype=np.uint8)
    # Copied out in stripes: np.asarray(img) on the whole image would hold Pillow's buffer (4 bytes a
    # pixel for RGB), tobytes()'s chunks and their joined copy at once, and then still be read-only.
    rows = max(1, (16 << 20) // (4 * width))
    for top in range(0, height, rows):
        out[top : top + rows] = np.asarray(img.crop((0, top, width, min(height, top + rows))))
    img.close()
    return out


def _dpi(info: dict) -> tuple[float, float] | None:
    dpi = info.get("dpi")
    try:
        x, y = (float(v) for v in dpi)
    except (TypeError, ValueError):
        return None
    return (x, y) if x > 0 and y > 0 else None


def _too_large_message(path: Path, exc: Exception) -> str:
    # Pillow refuses sizes above twice its limit before we can read the size; its message has the count.
    match = re.search(r"\((\d+) pixels\)", str(exc))
    size = f"has {_amount(int(match.group(1)))}" if match else "is too large"
    limit = min(MAX_IMAGE_PIXELS, Image.MAX_IMAGE_PIXELS or MAX_IMAGE_PIXELS)
    return f"Cannot load {path.name}: the image {size}, more than the limit of {_amount(limit)}."


def _amount(pixels: int) -> str:
    return f"{pixels / 1e6:.3g} megapixels" if pixels >= 1_000_000 else f"{pixels:,} pixels"


def _describe_mode(mode: str) -> str:
    names = {"F": "32-bit floating point", "I;16S": "signed 16-bit", "LAB": "Lab colour", "HSV": "HSV colour"}
    return f"{names[mode]}, mode {mode}" if mode in names else f"mode {mode}"


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return text.rstrip(".")
