"""Smart radius: an unknown band that widens over hair and fur and stays narrow along hard edges.

A rectangle → GrabCut mask has a crisp outline everywhere, hair included: with a fixed band, the hair
mass inside the outline becomes definite foreground and the strands outside definite background, and
no matting engine can recover alpha there.  Along each stretch of the outline this module asks whether
the colours on either side are *mixed*, as they are where strands of the subject lie over the background
(and background shows between strands):

1. local colour models: the Gaussian-weighted mean colour of the subject (pixels of the mask beyond the
   base band) and of the background (beyond the band outside), σ = 3 × the band;
2. every pixel within the search zone gets the position of its colour on the line from the local
   background colour to the local subject colour, t ∈ [0, 1] (the colour-line model of closed-form
   matting, with one colour per side); a pixel outside the mask that looks like the subject, or one
   inside that looks like the background, is "mixed" by that much;
3. the mean mixing over the zone near each point of the outline (Gaussian over half the zone) sets the
   band's half-width there, from half the base band (no mixing below 0.1) up to :data:`ZONE` half-bands
   (mixing of 0.3 and more).

Hard edges against a plain background have almost no mixed pixels beyond the base band; hair, fur,
feathers and lace have many.  The work happens on a copy whose long side is :data:`WORK_LONG_SIDE`
pixels (the statistics are smooth at that scale); the result is brought back to full resolution.
``tests/benchmarks/bench_smart_trimap.py`` measures it against the fixed band and hand-made trimaps.

No Qt here: the GUI, the CLI and the tests share this module.
"""

from __future__ import annotations

import cv2
import numpy as np

WORK_LONG_SIDE = 1024
ZONE = 12.0
"""Widest band, in half base bands: 6 × the base band (60 px on an 800-px photo, 430 px at 22 MP)."""
MIXING_LOW = 0.10
MIXING_HIGH = 0.30
"""Mean mixing in the zone at which the band starts to widen, and at which it reaches its widest.
Chosen on the alphamatting.com dev photos (see the benchmark), which makes its figures there optimistic."""
COLOR_SIGMA = 3.0
"""σ of the local colour models, in base bands: wide enough to reach past the band on both sides."""
_CONTRAST_FLOOR = 100.0
"""Added to |F − B|² (8-bit RGB units²): where subject and background colours are alike, t leans to ½
rather than amplifying noise, so the band widens there too (the outline is uncertain)."""


def mixing_map(image: np.ndarray, mask: np.ndarray, band_width: float) -> tuple[np.ndarray, float]:
    """(mean mixing near the outline, float32 at the working size; scale of the working copy).

    ``image``: H×W×3 uint8 RGB; ``mask``: H×W bool subject; ``band_width``: the base band, photo px.
    Values are in [0, 1]; only pixels within the search zone of the outline are meaningful.
    """
    work, m, scale = _working_copy(image, mask)
    b = max(1.0, band_width * scale)
    sd = _signed_distance(m)
    zone = ZONE * b / 2
    subject = m & (-sd > b / 2)
    background = ~m & (sd > b / 2)
    subject_color = _local_mean(work, subject, COLOR_SIGMA * b)
    background_color = _local_mean(work, background, COLOR_SIGMA * b)
    line = subject_color - background_color
    t = np.einsum("hwc,hwc->hw", work - background_color, line) / (np.einsum("hwc,hwc->hw", line, line) + _CONTRAST_FLOOR)
    np.clip(t, 0.0, 1.0, out=t)
    mixed = np.where(m, 1.0 - t, t).astype(np.float32)
    in_zone = ((np.abs(sd) <= zone) & (np.abs(sd) > b / 2)).astype(np.float32)
    sigma = zone / 2
    total = cv2.GaussianBlur(mixed * in_zone, (0, 0), sigma)
    weight = cv2.GaussianBlur(in_zone, (0, 0), sigma)
    return total / np.maximum(weight, 1e-6), scale


def smart_unknown(image: np.ndarray, mask: np.ndarray, band_width: float) -> np.ndarray:
    """H×W bool: the pixels the smart radius adds to a ``band_width`` band around ``mask``'s outline.

    The half-width at each place is half the band plus up to (:data:`ZONE` − 1) half bands, by how mixed
    the colours around it are (:func:`mixing_map`).  The base band itself is the caller's
    (:func:`matteapp.engine.trimap.trimap_from_mask`); this is what comes on top.
    """
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 2 or mask.shape != np.shape(image)[:2]:
        raise ValueError(f"mask must be an H×W bool array of the image's size, got {mask.shape}")
    height, width = mask.shape
    if not mask.any() or mask.all():
        return np.zeros_like(mask)
    mixing, scale = mixing_map(image, mask, band_width)
    _, m, _ = _working_copy(None, mask)
    b = max(1.0, band_width * scale)
    widen = np.clip((mixing - MIXING_LOW) / (MIXING_HIGH - MIXING_LOW), 0.0, 1.0)
    radius = b / 2 + (ZONE * b / 2 - b / 2) * widen
    unknown = np.abs(_signed_distance(m)) <= radius
    if scale < 1.0:
        unknown = cv2.resize(unknown.view(np.uint8), (width, height), interpolation=cv2.INTER_LINEAR) > 0
    return unknown


def _working_copy(image, mask: np.ndarray):
    height, width = mask.shape
    scale = min(1.0, WORK_LONG_SIDE / max(height, width))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    if scale < 1.0:
        m = cv2.resize(mask.view(np.uint8), size, interpolation=cv2.INTER_AREA) > 0
        work = None if image is None else cv2.resize(image, size, interpolation=cv2.INTER_AREA).astype(np.float32)
    else:
        m = mask
        work = None if image is None else image.astype(np.float32)
    return work, m, scale


def _signed_distance(mask: np.ndarray) -> np.ndarray:
    """Distance to the outline: negative inside ``mask``, positive outside (float32)."""
    inside = np.ascontiguousarray(mask, dtype=np.uint8)
    d_in = cv2.distanceTransform(inside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    d_out = cv2.distanceTransform(1 - inside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return np.where(mask, -d_in, d_out)


def _local_mean(image: np.ndarray, weights: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian-weighted mean colour of the pixels where ``weights`` is set (normalized convolution)."""
    w = weights.astype(np.float32)
    total = cv2.GaussianBlur(image * w[..., None], (0, 0), sigma)
    count = cv2.GaussianBlur(w, (0, 0), sigma)
    return total / np.maximum(count, 1e-6)[..., None]


__all__ = ["COLOR_SIGMA", "MIXING_HIGH", "MIXING_LOW", "WORK_LONG_SIDE", "ZONE", "mixing_map", "smart_unknown"]
