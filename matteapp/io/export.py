"""Writing results: cut-outs, mattes, trimaps, composites and routing heatmaps as PNG files.

Every file is written atomically (a temporary file in the same folder, fsync, then a rename), and an
existing file is never replaced unless ``force`` is given: a failed or refused export leaves whatever
was at the path byte-for-byte as it was, and no partial file behind.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from matteapp.base import OutputExistsError, refuse_existing, write_atomic  # noqa: F401 (re-exported: callers catch it from here)
from matteapp.engine.foreground import estimate_foreground

# Measured on a 24 MP RGBA cut-out (2-core CPU): zlib level 1 writes it in 1–3 s, level 6 (Pillow's
# default) takes 2.5–4× as long for a file only 15 % smaller.
DEFAULT_COMPRESS_LEVEL = 1
TOKEN_SIZE = 16  # pixels per backbone token side
HEATMAP_COLORMAP = cv2.COLORMAP_VIRIDIS


# ------------------------------------------------------------------------------------------------- PNG


def _normalize_dpi(dpi) -> tuple[float, float] | None:
    if dpi is None:
        return None
    if np.isscalar(dpi):
        dpi = (dpi, dpi)
    x, y = (float(v) for v in dpi)
    if not (x > 0 and y > 0):
        raise ValueError(f"dpi must be positive, got {dpi}")
    return x, y


def _pillow_image(array: np.ndarray) -> Image.Image:
    array = np.asarray(array)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.dtype == np.uint16 and array.ndim == 2:
        # 'I;16' is written as a 16-bit grayscale PNG (Pillow swaps to PNG's big-endian order)
        return Image.fromarray(np.ascontiguousarray(array, dtype="<u2"))
    if array.dtype == np.uint8 and (array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (3, 4))):
        return Image.fromarray(np.ascontiguousarray(array))
    raise ValueError(
        f"cannot write a {array.dtype} array of shape {array.shape} as PNG: "
        "use uint8 H×W, H×W×3 or H×W×4, or uint16 H×W"
    )


def _check_icc(icc_profile: bytes | None, mode: str) -> None:
    if icc_profile is None:
        return
    if not isinstance(icc_profile, (bytes, bytearray)) or len(icc_profile) < 128:
        raise ValueError("icc_profile must be the bytes of an ICC profile")
    # PNG requires the profile's colour space (header bytes 16–19) to match the pixels'
    space = bytes(icc_profile[16:20])
    gray = mode in ("L", "I;16")
    if (space == b"GRAY" and not gray) or (space == b"RGB " and gray):
        raise ValueError(f"an ICC profile for {space.decode().strip()} data cannot describe a {mode} PNG")


def save_png(
    path: os.PathLike | str,
    array: np.ndarray,
    icc_profile: bytes | None = None,
    dpi: float | tuple[float, float] | None = None,
    force: bool = False,
    *,
    compress_level: int = DEFAULT_COMPRESS_LEVEL,
) -> Path:
    """Write ``array`` as a PNG at ``path`` atomically (see :func:`write_atomic`).

    ``array``: uint8 H×W (gray), H×W×3 (RGB), H×W×4 (RGBA, straight alpha), or uint16 H×W (16-bit
    gray).  ``icc_profile`` (ICC bytes, e.g. the photo's ``Image.info["icc_profile"]``) is embedded as
    an iCCP chunk and must be an RGB profile for colour and a gray one for gray data; ``dpi`` (a number
    or an (x, y) pair) becomes a pHYs chunk, which stores pixels per metre, so it reads back as e.g.
    299.9994 for 300.  ``compress_level`` is zlib's 0–9.
    """
    image = _pillow_image(array)
    _check_icc(icc_profile, image.mode)
    options = {"format": "PNG", "compress_level": int(compress_level)}
    if icc_profile is not None:
        options["icc_profile"] = bytes(icc_profile)
    if (dpi := _normalize_dpi(dpi)) is not None:
        options["dpi"] = dpi
    return write_atomic(path, lambda temporary: image.save(temporary, **options), force=force)


# --------------------------------------------------------------------------------------------- pixels


def alpha_to_uint8(alpha: np.ndarray) -> np.ndarray:
    """H×W uint8 = round(clip(alpha, 0, 1) · 255)."""
    return np.rint(np.clip(np.asarray(alpha, dtype=np.float32), 0.0, 1.0) * np.float32(255)).astype(np.uint8)


def alpha_to_uint16(alpha: np.ndarray) -> np.ndarray:
    """H×W uint16 = round(clip(alpha, 0, 1) · 65535), computed in float64 (float32 lacks the digits)."""
    return np.rint(np.clip(np.asarray(alpha, dtype=np.float64), 0.0, 1.0) * 65535.0).astype(np.uint16)


def _check_rgb(image: np.ndarray, alpha: np.ndarray, what: str = "image") -> None:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"{what} must be an H×W×3 uint8 RGB array, got {getattr(image, 'dtype', None)} {getattr(image, 'shape', None)}")
    if np.shape(alpha) != image.shape[:2]:
        raise ValueError(f"alpha is {np.shape(alpha)} but the {what} is {image.shape[:2]}")


def cutout_rgba(
    image: np.ndarray, alpha: np.ndarray, foreground: np.ndarray | None = None, *, clear_transparent: bool = True
) -> np.ndarray:
    """H×W×4 uint8 RGBA with straight (not premultiplied) alpha.

    Colours come from ``foreground`` (H×W×3 uint8, e.g. :func:`matteapp.engine.foreground.estimate_foreground`)
    when given, else from ``image``.  With ``clear_transparent`` the colour of pixels whose 8-bit alpha
    is 0 is set to black: they are invisible, the removed background should not survive hidden in the
    file, and the PNG gets about 3× smaller and faster to write.
    """
    _check_rgb(image, alpha)
    colours = image if foreground is None else foreground
    _check_rgb(colours, alpha, "foreground")
    rgba = np.empty(image.shape[:2] + (4,), dtype=np.uint8)
    rgba[..., :3] = colours
    rgba[..., 3] = alpha_to_uint8(alpha)
    if clear_transparent:
        rgba[rgba[..., 3] == 0, :3] = 0
    return rgba


def composite(
    image_or_fg: np.ndarray, alpha: np.ndarray, color: Sequence[int] = (255, 255, 255)
) -> np.ndarray:
    """H×W×3 uint8 RGB: ``image_or_fg`` (H×W×3 uint8) over a solid ``color`` (R, G, B in 0–255), rounded."""
    _check_rgb(image_or_fg, alpha)
    background = np.asarray(color, dtype=np.float32).reshape(1, 1, 3)
    if background.size != 3:
        raise ValueError(f"color must be (R, G, B), got {color}")
    out = np.empty_like(image_or_fg)
    # bands of rows keep the float temporaries of a 24 MP photo small
    for y in range(0, out.shape[0], 512):
        a = np.clip(np.asarray(alpha[y : y + 512], dtype=np.float32), 0, 1)[..., None]
        blended = image_or_fg[y : y + 512] * a + background * (1 - a)
        out[y : y + 512] = np.clip(blended + 0.5, 0, 255).astype(np.uint8)
    return out


# -------------------------------------------------------------------------------------------- routing


def routing_density(routing: list[np.ndarray]) -> np.ndarray:
    """(h, w) float32: for each token, the fraction of the routed blocks that sent it to global attention."""
    if len(routing) == 0:
        raise ValueError("no routing maps (a model without routed blocks has none)")
    shapes = {np.shape(m) for m in routing}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2:
        raise ValueError(f"routing maps must all be (h, w) token grids of one shape, got {sorted(shapes)}")
    return np.mean(np.stack([np.asarray(m, dtype=bool) for m in routing]), axis=0, dtype=np.float32)


def _colorize(values: np.ndarray) -> np.ndarray:
    """RGB uint8 of values in [0, 1] through the heatmap colour map (any shape + 3)."""
    levels = np.rint(np.clip(values, 0, 1) * 255).astype(np.uint8)
    flat = cv2.applyColorMap(levels.reshape(1, -1), HEATMAP_COLORMAP)
    return flat.reshape(levels.shape + (3,))[..., ::-1].copy()


def _text_size(text: str, scale: float, thickness: int) -> tuple[int, int, int]:
    (w, h), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    return w, h, baseline


def _draw_text(canvas, text, x, y_baseline, scale, thickness):
    cv2.putText(canvas, text, (int(x), int(y_baseline)), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thickness, cv2.LINE_AA)


LEGEND_MIN_WIDTH = 480


def _legend_strip(width: int, picture_height: int, title: str | None, opacity: float | None = None) -> np.ndarray:
    """An RGB strip ``width`` px wide: a colour bar (``title=None``: density) or two swatches under ``title``.

    Sizes scale with the picture (text ~10 px tall on a 640-px-wide one, ~100 px on a 6000×4000 one)
    so that the legend reads the same when the whole picture is fitted to a screen; a very wide, low
    picture scales by twice its height instead, so that the strip stays lower than the picture.
    ``opacity``: the heatmap lies over the photo at this opacity; the legend's colours are then blended
    the same way over mid-gray, the photo's average, and the title says so.
    """
    unit = min(width, max(2 * picture_height, LEGEND_MIN_WIDTH)) / 640
    scale, thickness = 0.5 * unit, max(1, round(1.2 * unit))
    pad, bar_h = max(4, round(10 * unit)), max(6, round(16 * unit))
    _, text_h, baseline = _text_size("0%", scale, thickness)
    line = text_h + baseline
    if title is None:
        height = pad + line + pad // 2 + bar_h + pad // 2 + line + pad
    else:
        height = pad + line + pad // 2 + max(bar_h, line) + pad
    strip = np.full((height, width, 3), 255, dtype=np.uint8)
    y = pad + text_h
    x0, x1 = pad, width - pad

    def colours(values: np.ndarray) -> np.ndarray:
        rgb = _colorize(values)
        if opacity is None:
            return rgb
        return np.rint(rgb * opacity + 128 * (1.0 - opacity)).astype(np.uint8)

    over = "" if opacity is None else f", {opacity:.0%} over the photo"
    if title is None:
        _draw_text(strip, f"routed to global attention (fraction of routed blocks){over}", x0, y, scale, thickness)
        top = y + baseline + pad // 2
        strip[top : top + bar_h, x0:x1] = colours(np.linspace(0, 1, x1 - x0))[None]
        y = top + bar_h + pad // 2 + text_h
        for label, at in (("0%", 0.0), ("50%", 0.5), ("100%", 1.0)):
            w = _text_size(label, scale, thickness)[0]
            _draw_text(strip, label, np.clip(x0 + at * (x1 - x0) - w * at, x0, x1 - w), y, scale, thickness)
    else:
        _draw_text(strip, title + over, x0, y, scale, thickness)
        top = y + baseline + pad // 2
        x = x0
        for label, value in (("routed", 1.0), ("not routed", 0.0)):
            strip[top : top + bar_h, x : x + bar_h] = colours(np.array(value))
            x += bar_h + pad // 2
            _draw_text(strip, label, x, top + (bar_h + text_h) // 2, scale, thickness)
            x += _text_size(label, scale, thickness)[0] + 2 * pad
    return strip


def routing_heatmap(
    maps: list[np.ndarray],
    image: np.ndarray | None = None,
    block: int | None = None,
    opacity: float = 0.6,
    legend: bool = True,
    size: tuple[int, int] | None = None,
) -> np.ndarray:
    """RGB uint8 picture of where the routed blocks sent tokens to global attention.

    ``maps``: the per-routed-block (h, w) bool token maps (``MatteResult.routing``) over the padded
    input, each token covering 16×16 px of it; the photo is its top-left corner.  ``block=None``
    shows :func:`routing_density`; an index into ``maps`` (0-based; negative counts from the end)
    shows that block's map (routed = top colour of the map), titled "block k of n" with k 1-based.
    Colours: OpenCV's perceptual viridis map (0 → dark purple, 1 → yellow).

    Without ``image`` the heatmap is (16·h)×(16·w), or cropped to ``size`` (H, W) — the photo's, for the
    heatmap alone; with ``image`` (H×W×3 uint8) it is cropped to H×W and blended over the photo with
    ``opacity``.  ``legend`` appends a white strip below (the picture itself is not covered) with a colour
    bar and labels, blended like the picture when it lies over the photo; for pictures narrower than
    480 px the strip is 480 px wide and the picture is padded on the right with white.
    """
    if len(maps) == 0:
        raise ValueError("no routing maps (a model without routed blocks has none)")
    if block is None:
        values = routing_density(maps)
    else:
        if not -len(maps) <= block < len(maps):
            raise ValueError(f"block {block} is out of range: there are {len(maps)} routed blocks")
        block = block % len(maps)
        values = np.asarray(maps[block], dtype=np.float32)
        if values.ndim != 2:
            raise ValueError(f"routing maps must be (h, w) token grids, got {values.shape}")
    h, w = values.shape
    if image is None and size is not None:
        height, width = (int(v) for v in size)
        if not (0 <= h * TOKEN_SIZE - height < 4 * TOKEN_SIZE and 0 <= w * TOKEN_SIZE - width < 4 * TOKEN_SIZE):
            raise ValueError(f"routing maps of {w}×{h} tokens do not belong to a {width}×{height} photo")
    elif image is None:
        height, width = h * TOKEN_SIZE, w * TOKEN_SIZE
    else:
        if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError("image must be an H×W×3 uint8 RGB array")
        height, width = image.shape[:2]
        if not (0 <= h * TOKEN_SIZE - height < 4 * TOKEN_SIZE and 0 <= w * TOKEN_SIZE - width < 4 * TOKEN_SIZE):
            raise ValueError(
                f"routing maps of {w}×{h} tokens do not belong to a {width}×{height} photo "
                f"(its padded input should be {w * TOKEN_SIZE}×{h * TOKEN_SIZE} px, at most a few tokens larger)"
            )
    # colour the token grid, then repeat each token to 16×16 px (nearest neighbour) and crop
    rows, cols = -(-height // TOKEN_SIZE), -(-width // TOKEN_SIZE)
    tokens = _colorize(values[:rows, :cols])
    heat = np.repeat(np.repeat(tokens, TOKEN_SIZE, axis=0), TOKEN_SIZE, axis=1)[:height, :width]
    if image is not None:
        if not 0.0 <= opacity <= 1.0:
            raise ValueError("opacity must be in [0, 1]")
        heat = cv2.addWeighted(np.ascontiguousarray(image), 1.0 - opacity, heat, opacity, 0.0)
    if not legend:
        return np.ascontiguousarray(heat)
    title = None if block is None else f"block {block + 1} of {len(maps)}: routed / not routed"
    strip = _legend_strip(max(width, LEGEND_MIN_WIDTH), height, title, opacity if image is not None else None)
    out = np.full((height + strip.shape[0], strip.shape[1], 3), 255, dtype=np.uint8)
    out[:height, :width] = heat
    out[height:] = strip
    return out


# -------------------------------------------------------------------------------------------- exports


def export_cutout(
    path: os.PathLike | str,
    image: np.ndarray,
    alpha: np.ndarray,
    *,
    decontaminate: bool = True,
    icc_profile: bytes | None = None,
    dpi: float | tuple[float, float] | None = None,
    force: bool = False,
) -> Path:
    """RGBA PNG of the subject (straight alpha); colours decontaminated unless ``decontaminate=False``."""
    path = Path(path)
    refuse_existing(path, force)  # before the seconds of decontamination
    _check_rgb(image, alpha)
    foreground = None
    if decontaminate:
        foreground = estimate_foreground(image, alpha)
    return save_png(path, cutout_rgba(image, alpha, foreground), icc_profile, dpi, force)


def _gray_profile_or_none(icc_profile: bytes | None) -> bytes | None:
    # Callers pass the photo's profile to every export; on gray data PNG allows only a gray profile.
    if icc_profile is not None and bytes(icc_profile[16:20]) == b"GRAY":
        return icc_profile
    return None


def export_alpha(
    path: os.PathLike | str,
    alpha: np.ndarray,
    bits: int = 8,
    *,
    icc_profile: bytes | None = None,
    dpi: float | tuple[float, float] | None = None,
    force: bool = False,
) -> Path:
    """Gray PNG of the matte (H×W float in [0, 1]), 8 or 16 bits.

    ``icc_profile`` is embedded only when it is a gray profile: the photo's RGB profile cannot
    describe a gray PNG, and a matte is coverage rather than colour anyway.
    """
    if bits == 8:
        data = alpha_to_uint8(alpha)
    elif bits == 16:
        data = alpha_to_uint16(alpha)
    else:
        raise ValueError(f"bits must be 8 or 16, got {bits}")
    if data.ndim != 2:
        raise ValueError(f"alpha must be H×W, got {data.shape}")
    return save_png(path, data, _gray_profile_or_none(icc_profile), dpi, force)


def export_trimap(
    path: os.PathLike | str,
    trimap: np.ndarray,
    *,
    icc_profile: bytes | None = None,
    dpi: float | tuple[float, float] | None = None,
    force: bool = False,
) -> Path:
    """8-bit gray PNG of a trimap (H×W uint8, 0 / 128 / 255), written as it is.

    ``icc_profile`` is embedded only when it is a gray profile, as for :func:`export_alpha`.
    """
    trimap = np.asarray(trimap)
    if trimap.dtype != np.uint8 or trimap.ndim != 2:
        raise ValueError(f"trimap must be an H×W uint8 array, got {trimap.dtype} {trimap.shape}")
    return save_png(path, trimap, _gray_profile_or_none(icc_profile), dpi, force)


def export_routing(
    path: os.PathLike | str,
    maps: list[np.ndarray],
    image: np.ndarray | None = None,
    block: int | None = None,
    *,
    opacity: float = 0.6,
    legend: bool = True,
    size: tuple[int, int] | None = None,
    icc_profile: bytes | None = None,
    dpi: float | tuple[float, float] | None = None,
    force: bool = False,
) -> Path:
    """RGB PNG of :func:`routing_heatmap` (over ``image``, or alone at ``size``)."""
    refuse_existing(Path(path), force)
    return save_png(path, routing_heatmap(maps, image, block, opacity, legend, size), icc_profile, dpi, force)


def export_composite(
    path: os.PathLike | str,
    image: np.ndarray,
    alpha: np.ndarray,
    color: Sequence[int] = (255, 255, 255),
    *,
    decontaminate: bool = True,
    icc_profile: bytes | None = None,
    dpi: float | tuple[float, float] | None = None,
    force: bool = False,
) -> Path:
    """RGB PNG of the subject over a solid ``color``, decontaminated unless ``decontaminate=False``."""
    path = Path(path)
    refuse_existing(path, force)
    _check_rgb(image, alpha)
    colours = image
    if decontaminate:
        colours = estimate_foreground(image, alpha)
    return save_png(path, composite(colours, alpha, color), icc_profile, dpi, force)
