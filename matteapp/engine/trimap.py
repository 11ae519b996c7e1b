"""Trimaps: loading them, and making them from masks or from a rectangle around the subject.

A trimap is an H×W ``uint8`` array holding exactly three values: :data:`BACKGROUND` (0), :data:`UNKNOWN`
(128) and :data:`FOREGROUND` (255).  The matting network only estimates alpha in the unknown region, so a
trimap should mark as unknown every pixel whose alpha is neither 0 nor 1: a band along the subject's
outline, plus any soft regions (hair, fur, motion blur, glass).

No Qt here: the GUI, the CLI and the tests all share this module.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from matteapp.engine.smart_trimap import smart_unknown
from matteapp.io.images import ImageLoadError, load_image

BACKGROUND = 0
UNKNOWN = 128
FOREGROUND = 255

BAND_FRACTION = 0.01
"""Default unknown-band width as a fraction of the image diagonal (800×600 → 10 px, 6000×4000 → 72 px)."""

MIN_BAND_WIDTH = 4
"""Narrowest default band, in pixels: below this a band cannot cover a one-pixel antialiased edge plus
the error of a hand-drawn or downscaled mask."""

SOFT_ALPHA_LOW = 0.02
SOFT_ALPHA_HIGH = 0.98
"""Alpha strictly between these is "soft": :func:`trimap_from_mask` marks it unknown."""


class TrimapError(ValueError):
    """A trimap could not be used.  ``str(error)`` is a complete sentence; it names the file (also in
    ``path``) when the trimap came from one."""

    def __init__(self, message: str, path: Path | str | None = None):
        super().__init__(message)
        self.path = Path(path) if path is not None else None


@dataclass(frozen=True)
class TrimapStats:
    """Share of each region (fractions of all pixels, summing to 1) and 8-connected component counts."""

    fraction_unknown: float
    fraction_foreground: float
    fraction_background: float
    unknown_components: int
    foreground_components: int


# The thresholds of the official ViTMatte / MEMatte data pipelines, as a lookup table.
_NORMALIZE_LUT = np.full(256, UNKNOWN, dtype=np.uint8)
_NORMALIZE_LUT[:85] = BACKGROUND
_NORMALIZE_LUT[170:] = FOREGROUND


def normalize_trimap(arr: np.ndarray) -> np.ndarray:
    """Map an H×W ``uint8`` gray trimap onto {0, 128, 255}: < 85 → 0, ≥ 170 → 255, otherwise 128.

    Returns a new H×W ``uint8`` array.  Raises :class:`TrimapError` for other shapes or dtypes.
    """
    arr = np.asarray(arr)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim != 2 or arr.dtype != np.uint8:
        raise TrimapError(f"a trimap must be an H×W uint8 array, got shape {arr.shape} and dtype {arr.dtype}")
    if arr.size == 0:
        raise TrimapError(f"the trimap is empty ({arr.shape[1]}×{arr.shape[0]} pixels)")
    return cv2.LUT(np.ascontiguousarray(arr), _NORMALIZE_LUT)


def load_trimap(
    path: str | Path, expected_size: tuple[int, int] | None = None, resize: bool = False
) -> np.ndarray:
    """Read a trimap file into an H×W ``uint8`` array of {0, 128, 255}.

    Any image :func:`matteapp.io.images.load_image` reads is accepted: 8-bit gray, palette (gray value of
    each entry), RGB/RGBA (luminance; alpha is ignored), 16-bit (rounded to 8 bits first).  Gray values
    are then mapped with :func:`normalize_trimap`.

    ``expected_size`` is the photo's (width, height).  A trimap of another size raises
    :class:`TrimapError`, unless ``resize`` is true: then it is scaled to that size, nearest neighbour,
    so no new values appear.
    """
    path = Path(path)
    try:
        loaded = load_image(path)
    except ImageLoadError as exc:
        raise TrimapError(str(exc).replace("Cannot load ", "Cannot load trimap ", 1), path) from exc
    # Palette and gray trimaps arrive as R = G = B, for which this luminance is exact (weights sum to 1).
    gray = cv2.cvtColor(loaded.rgb, cv2.COLOR_RGB2GRAY)
    del loaded
    trimap = normalize_trimap(gray)

    if expected_size is not None:
        width, height = (int(v) for v in expected_size)
        if width <= 0 or height <= 0:
            raise ValueError(f"expected_size must be a positive (width, height), got {expected_size}")
        if trimap.shape != (height, width):
            if not resize:
                raise TrimapError(
                    f"The trimap {path.name} is {trimap.shape[1]}×{trimap.shape[0]} but the photo is "
                    f"{width}×{height}; pass resize=True to scale it.",
                    path,
                )
            # INTER_NEAREST_EXACT samples pixel centres like Pillow's NEAREST; plain INTER_NEAREST is
            # shifted by up to a pixel.
            trimap = cv2.resize(trimap, (width, height), interpolation=cv2.INTER_NEAREST_EXACT)
    return trimap


def default_band_width(height: int, width: int) -> int:
    """Unknown-band width in pixels for an image of this size: :data:`BAND_FRACTION` of the diagonal,
    at least :data:`MIN_BAND_WIDTH`."""
    if height <= 0 or width <= 0:
        raise ValueError(f"image size must be positive, got {width}×{height}")
    return max(MIN_BAND_WIDTH, round(BAND_FRACTION * math.hypot(height, width)))


def trimap_from_mask(mask: np.ndarray, band_width: int | None = None, threshold: float = 0.5) -> np.ndarray:
    """Build a trimap from a mask or a previous alpha.

    ``mask``: H×W ``bool``, ``uint8`` (0..255), ``uint16`` (0..65535) or float alpha in [0, 1].  It is
    thresholded (value ≥ ``threshold`` × full scale is foreground), then an unknown band of ``band_width``
    pixels in total is laid along the boundary: ``band_width // 2`` inside, the rest outside.  Unless the
    mask is bool, pixels with soft alpha (between :data:`SOFT_ALPHA_LOW` and :data:`SOFT_ALPHA_HIGH` of full
    scale) are unknown as well, so re-banding a previous alpha keeps its hair and blur open.

    ``band_width`` defaults to :func:`default_band_width`.  Returns an H×W ``uint8`` trimap.
    """
    mask = np.asarray(mask)
    if mask.ndim != 2 or mask.size == 0:
        raise ValueError(f"mask must be a non-empty H×W array, got shape {mask.shape}")
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    height, width = mask.shape
    if band_width is None:
        band_width = default_band_width(height, width)
    elif int(band_width) != band_width or band_width < 0:
        raise ValueError(f"band_width must be a whole number of pixels ≥ 0, got {band_width}")
    band_width = int(band_width)

    if mask.dtype == np.bool_:
        binary, soft = mask, None
    else:
        full_scale = _full_scale(mask)
        binary = mask >= threshold * full_scale
        soft = (mask > SOFT_ALPHA_LOW * full_scale) & (mask < SOFT_ALPHA_HIGH * full_scale)

    trimap = _band(binary, band_width)
    if soft is not None:
        trimap[soft] = UNKNOWN
    return trimap


def _full_scale(mask: np.ndarray) -> float:
    if mask.dtype == np.uint8:
        return 255.0
    if mask.dtype == np.uint16:
        return 65535.0
    if np.issubdtype(mask.dtype, np.floating):
        low, high = float(mask.min()), float(mask.max())
        # Written so that NaN fails too.  A 0..255 float mask would otherwise threshold to nonsense.
        if not (low >= -1e-3 and high <= 1.0 + 1e-3):
            raise ValueError(f"a float mask must hold alpha in [0, 1], got values from {low} to {high}")
        return 1.0
    raise ValueError(
        f"mask must be bool, uint8, uint16 or float alpha, got {mask.dtype}; convert it with astype(bool)"
    )


def _band(binary: np.ndarray, band_width: int) -> np.ndarray:
    """Trimap of a binary H×W mask with an unknown band of exactly ``band_width`` px across straight edges."""
    inward = band_width // 2
    outward = band_width - inward
    fg = np.ascontiguousarray(binary, dtype=np.bool_).view(np.uint8)
    trimap = np.full(fg.shape, BACKGROUND, dtype=np.uint8)
    x, y, w, h = cv2.boundingRect(fg)
    if w == 0:
        return trimap
    # Pixels farther than the outer band from the subject's bounding box are plain background, so
    # the distance transforms only run on the box grown by the band (exact: the ring around the box
    # is background, so no nearest pixel of either side lies beyond it).
    height, width = fg.shape
    margin = outward + 1
    x0, y0 = max(0, x - margin), max(0, y - margin)
    x1, y1 = min(width, x + w + margin), min(height, y + h + margin)
    fg = fg[y0:y1, x0:x1]
    roi = trimap[y0:y1, x0:x1]
    roi[...] = UNKNOWN
    # Exact Euclidean distance from each pixel to the nearest pixel of the other side (1 for pixels
    # touching the boundary); the image border does not count as either side, so a subject cut off by
    # the frame stays foreground up to the edge.
    distance = cv2.distanceTransform(fg, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    roi[distance > inward] = FOREGROUND
    distance = cv2.distanceTransform(1 - fg, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    roi[distance > outward] = BACKGROUND
    return trimap


def grabcut_mask(
    image: np.ndarray,
    rect: tuple[int, int, int, int],
    fg_scribbles: np.ndarray | None = None,
    bg_scribbles: np.ndarray | None = None,
    work_long_side: int = 512,
    iterations: int = 5,
) -> np.ndarray:
    """The subject inside a rectangle, refined by optional scribbles, via GrabCut: an H×W ``bool`` mask.

    ``image``: H×W×3 ``uint8`` RGB.  ``rect``: (x, y, w, h) in full-resolution pixels, inside the image.
    ``fg_scribbles`` / ``bg_scribbles``: H×W masks (bool, or nonzero = marked) of pixels the user marked
    as subject / background; they steer GrabCut (the mask itself is not forced to them: that is
    :func:`trimap_from_grabcut_mask`'s job, so that it also holds outside the rectangle).

    GrabCut runs on a copy whose long side is ``work_long_side`` pixels: it is far too slow at full
    resolution, and its max-flow time grows faster than the pixel count (640 px took 3–7 s of CPU on
    some dev photos, 512 px 1–2 s).  Its result is scaled back up bilinearly and thresholded, so the
    outline is smooth rather than made of working-pixel steps.  Everything outside ``rect`` is False.

    Keeping this mask lets a caller re-band it (:func:`trimap_from_grabcut_mask`) at another band width
    without running GrabCut again.  Raises ``ValueError`` for bad arguments and when GrabCut has no
    background to learn from (a rect covering the whole frame without background scribbles).
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(
            f"image must be an H×W×3 uint8 RGB array, got shape {image.shape} and dtype {image.dtype}"
        )
    height, width = image.shape[:2]
    if height == 0 or width == 0:
        raise ValueError("image is empty")
    x, y, w, h = _check_rect(rect, width, height)
    fg_scribbles = _check_scribbles(fg_scribbles, "fg_scribbles", height, width)
    bg_scribbles = _check_scribbles(bg_scribbles, "bg_scribbles", height, width)
    if work_long_side < 8:
        raise ValueError(f"work_long_side must be at least 8 pixels, got {work_long_side}")
    if iterations < 1:
        raise ValueError(f"iterations must be at least 1, got {iterations}")

    scale = min(1.0, work_long_side / max(height, width))
    work_size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = image if scale == 1.0 else cv2.resize(image, work_size, interpolation=cv2.INTER_AREA)
    sx, sy = work_size[0] / width, work_size[1] / height

    # Grow the rect outwards when scaling so that a thin subject never vanishes at the working size.
    x0, y0 = math.floor(x * sx), math.floor(y * sy)
    x1 = min(work_size[0], max(x0 + 1, math.ceil((x + w) * sx)))
    y1 = min(work_size[1], max(y0 + 1, math.ceil((y + h) * sy)))
    work_rect = (x0, y0, x1 - x0, y1 - y0)

    gc_mask = np.zeros(small.shape[:2], dtype=np.uint8)
    bgd_model = np.zeros((1, 65), dtype=np.float64)
    fgd_model = np.zeros((1, 65), dtype=np.float64)
    small = np.ascontiguousarray(small)
    rect_leaves_background = work_rect != (0, 0, work_size[0], work_size[1])
    scribbled = fg_scribbles is not None or bg_scribbles is not None
    try:
        if rect_leaves_background or not scribbled:
            cv2.grabCut(small, gc_mask, work_rect, bgd_model, fgd_model, iterations, cv2.GC_INIT_WITH_RECT)
        else:
            # A subject filling the frame: the background colours can only come from the scribbles, so
            # start from the mask GC_INIT_WITH_RECT would have made and go straight to the mask pass.
            gc_mask[...] = cv2.GC_PR_FGD
        if scribbled:
            small_fg = _shrink_scribbles(fg_scribbles, work_size)
            small_bg = _shrink_scribbles(bg_scribbles, work_size)
            if small_fg is not None and small_bg is not None:
                overlap = small_fg & small_bg  # both kinds in one working pixel: let GrabCut decide
                small_fg &= ~overlap
                small_bg &= ~overlap
            if small_fg is not None:
                gc_mask[small_fg] = cv2.GC_FGD
            if small_bg is not None:
                gc_mask[small_bg] = cv2.GC_BGD
            cv2.grabCut(small, gc_mask, None, bgd_model, fgd_model, iterations, cv2.GC_INIT_WITH_MASK)
    except cv2.error as exc:
        # GrabCut needs colour samples of both kinds; a rect covering the whole frame leaves no background.
        raise ValueError(
            "GrabCut could not separate subject and background: leave some background outside the "
            f"rectangle or mark some with background scribbles (OpenCV: {exc.err})"
        ) from exc
    del small

    small_fg_mask = np.where((gc_mask == cv2.GC_FGD) | (gc_mask == cv2.GC_PR_FGD), 255, 0).astype(np.uint8)
    del gc_mask
    if scale == 1.0:
        full_mask = small_fg_mask > 127
    else:
        full_mask = cv2.resize(small_fg_mask, (width, height), interpolation=cv2.INTER_LINEAR) > 127
    del small_fg_mask
    # Background outside the rect before banding, so the band follows the rect edge where the subject
    # is cut there.
    _clear_outside(full_mask, x, y, w, h, False)
    return full_mask


def trimap_from_grabcut_mask(
    mask: np.ndarray,
    rect: tuple[int, int, int, int],
    band_width: int | None = None,
    fg_scribbles: np.ndarray | None = None,
    bg_scribbles: np.ndarray | None = None,
    unknown: np.ndarray | None = None,
) -> np.ndarray:
    """Trimap of a :func:`grabcut_mask` result: an unknown band along its outline, scribbles forced.

    ``mask``: H×W ``bool`` subject mask.  ``rect``: the (x, y, w, h) it was made from; everything outside
    stays background.  The band is laid by :func:`trimap_from_mask` with ``band_width`` (default
    :func:`default_band_width`); ``unknown`` (H×W bool, e.g. :func:`matteapp.engine.smart_trimap.smart_unknown`)
    adds pixels to it inside the rectangle.  Scribbled pixels (H×W masks) are then forced to foreground /
    background (unknown where the two overlap), so they win even outside the rectangle.  Returns an
    H×W ``uint8`` trimap.
    """
    mask = np.asarray(mask)
    if mask.ndim != 2 or mask.size == 0:
        raise ValueError(f"mask must be a non-empty H×W array, got shape {mask.shape}")
    height, width = mask.shape
    x, y, w, h = _check_rect(rect, width, height)
    fg_scribbles = _check_scribbles(fg_scribbles, "fg_scribbles", height, width)
    bg_scribbles = _check_scribbles(bg_scribbles, "bg_scribbles", height, width)
    trimap = trimap_from_mask(mask.astype(bool, copy=False), band_width=band_width)
    if unknown is not None:
        if np.shape(unknown) != (height, width):
            raise ValueError(f"unknown must be an H×W mask of the image size ({width}×{height}), got shape {np.shape(unknown)}")
        trimap[np.asarray(unknown, dtype=bool)] = UNKNOWN
    _clear_outside(trimap, x, y, w, h, BACKGROUND)
    if fg_scribbles is not None:
        trimap[fg_scribbles] = FOREGROUND
    if bg_scribbles is not None:
        trimap[bg_scribbles] = BACKGROUND
        if fg_scribbles is not None:
            trimap[fg_scribbles & bg_scribbles] = UNKNOWN
    return trimap


def trimap_from_rect(
    image: np.ndarray,
    rect: tuple[int, int, int, int],
    band_width: int | None = None,
    fg_scribbles: np.ndarray | None = None,
    bg_scribbles: np.ndarray | None = None,
    work_long_side: int = 512,
    iterations: int = 5,
    smart: bool = True,
) -> np.ndarray:
    """Trimap from a rectangle drawn around the subject, refined by optional scribbles, via GrabCut.

    ``image``: H×W×3 ``uint8`` RGB.  ``rect``: (x, y, w, h) in full-resolution pixels, inside the image.
    ``fg_scribbles`` / ``bg_scribbles``: H×W bool masks of pixels the user marked as subject / background.

    The composition of :func:`grabcut_mask` (GrabCut on a ``work_long_side`` copy, see there) and
    :func:`trimap_from_grabcut_mask` (banding at full resolution with ``band_width``, default
    :func:`default_band_width`).  With ``smart`` the band widens over hair and fur
    (:func:`matteapp.engine.smart_trimap.smart_unknown`).  Everything outside ``rect`` is background;
    scribbled pixels are then forced to foreground / background (unknown where the two overlap), so they
    win even outside the rectangle.  Raises ``ValueError`` for bad arguments and when GrabCut has no
    background to learn from (a rect covering the whole frame without background scribbles).  Returns an
    H×W ``uint8`` trimap.
    """
    mask = grabcut_mask(image, rect, fg_scribbles, bg_scribbles, work_long_side, iterations)
    unknown = None
    if smart:
        unknown = smart_unknown(image, mask, band_width or default_band_width(*mask.shape))
    return trimap_from_grabcut_mask(mask, rect, band_width, fg_scribbles, bg_scribbles, unknown)


def _clear_outside(arr: np.ndarray, x: int, y: int, w: int, h: int, value) -> None:
    arr[:y, :] = value
    arr[y + h :, :] = value
    arr[:, :x] = value
    arr[:, x + w :] = value


def _check_rect(rect, width: int, height: int) -> tuple[int, int, int, int]:
    try:
        x, y, w, h = (int(v) for v in rect)
    except (TypeError, ValueError):
        raise ValueError(f"rect must be (x, y, width, height) in pixels, got {rect!r}") from None
    if w <= 0 or h <= 0:
        raise ValueError(f"rect {(x, y, w, h)} is empty: width and height must be positive")
    if x < 0 or y < 0 or x + w > width or y + h > height:
        raise ValueError(f"rect {(x, y, w, h)} (x, y, width, height) is not inside the {width}×{height} image")
    return x, y, w, h


def _check_scribbles(scribbles, name: str, height: int, width: int) -> np.ndarray | None:
    if scribbles is None:
        return None
    scribbles = np.asarray(scribbles)
    if scribbles.shape != (height, width):
        raise ValueError(
            f"{name} must be an H×W mask of the image size ({width}×{height}), got shape {scribbles.shape}"
        )
    if scribbles.dtype != np.bool_:
        scribbles = scribbles != 0
    return scribbles if scribbles.any() else None


def _shrink_scribbles(scribbles: np.ndarray | None, work_size: tuple[int, int]) -> np.ndarray | None:
    """Working-size bool mask marking every working pixel that covers at least one scribbled pixel."""
    if scribbles is None:
        return None
    work_width, work_height = work_size
    height, width = scribbles.shape
    # Resampling would average a one-pixel stroke away at large downscale factors; mapping the
    # scribbled pixels themselves keeps every stroke, at a cost that grows with the strokes only.
    ys, xs = np.nonzero(scribbles)
    small = np.zeros((work_height, work_width), dtype=bool)
    small[ys * work_height // height, xs * work_width // width] = True
    return small


def trimap_stats(trimap: np.ndarray) -> TrimapStats:
    """Region fractions and 8-connected component counts of an H×W ``uint8`` {0, 128, 255} trimap."""
    trimap = np.asarray(trimap)
    if trimap.ndim != 2 or trimap.dtype != np.uint8 or trimap.size == 0:
        raise ValueError(
            f"trimap must be a non-empty H×W uint8 array, got shape {trimap.shape} and dtype {trimap.dtype}"
        )
    counts = np.bincount(trimap.ravel(), minlength=256)
    total = trimap.size
    stray = total - counts[BACKGROUND] - counts[UNKNOWN] - counts[FOREGROUND]
    if stray:
        raise ValueError(
            f"trimap has {stray} pixels that are not 0, 128 or 255; pass it through normalize_trimap first"
        )
    return TrimapStats(
        fraction_unknown=float(counts[UNKNOWN] / total),
        fraction_foreground=float(counts[FOREGROUND] / total),
        fraction_background=float(counts[BACKGROUND] / total),
        unknown_components=_components(trimap == UNKNOWN),
        foreground_components=_components(trimap == FOREGROUND),
    )


def _components(region: np.ndarray) -> int:
    count, _ = cv2.connectedComponents(region.view(np.uint8), connectivity=8)
    return int(count) - 1  # label 0 is everything outside the region
