"""Synthetic foreground / alpha pairs for training matting networks without a matting dataset.

:func:`generate_sample` draws one "object": a union of soft-edged solid shapes, optionally with hair or
fur strands growing out of its outline, wispy fur tufts, semi-transparent glass or veil areas, holes
(lace or cut-outs) and linear motion blur.  Colours come from crops of the photographs bundled with
scikit-image and from procedural fractal-noise textures.  :func:`random_background` crops the same
photographs (or draws procedural backgrounds) to composite the objects on.

Every function takes a :class:`numpy.random.Generator` and draws all its randomness from it, so a sample
is a pure function of the generator's state.  Lengths are specified for a 512-pixel sample and scale
with ``size``; line widths and antialiasing are in pixels and do not.

Images are ``uint8`` H×W×3 RGB in 0..255; alphas are ``float32`` H×W in [0, 1].
"""

from __future__ import annotations

import functools
import math

import cv2
import numpy as np

REFERENCE_SIZE = 512
"""The sample size the length parameters below are tuned for."""

PHOTO_NAMES = (
    "astronaut",
    "chelsea",
    "coffee",
    "rocket",
    "hubble_deep_field",
    "immunohistochemistry",
    "retina",
    "motorcycle_left",
    "motorcycle_right",
    "camera",
    "coins",
    "moon",
    "page",
    "clock",
    "brick",
    "grass",
    "gravel",
)
"""Photographs shipped inside the scikit-image wheel (no download).  Synthetic images (colorwheel, logo,
horse, checkerboard, phantom) are left out: they would teach the network flat-colour statistics."""

FEATURES = ("strands", "tufts", "semi_transparent", "holes", "motion_blur", "soft_edges")
"""The boolean keys of the ``info`` dict of :func:`generate_sample`."""

# Probabilities of the optional alpha features; at least one of the first four is forced on.
P_STRANDS = 0.5
P_TUFTS = 0.25
P_SEMI = 0.4
P_HOLES = 0.35
P_MOTION = 0.2
P_SOFT = 0.45

# Supersampling factor of the strand canvas: a 1-pixel antialiased line there is a quarter-pixel strand.
STRAND_SUPERSAMPLE = 4

# Unpremultiplying divides by alpha + this; where alpha is ~0 the colour falls back to the extended
# texture instead of being undefined.
_UNPREMULTIPLY_EPS = 0.01

_HAIR_COLORS = np.array(
    [
        (0.05, 0.04, 0.04),  # black
        (0.17, 0.11, 0.07),  # dark brown
        (0.33, 0.21, 0.12),  # brown
        (0.52, 0.38, 0.24),  # light brown
        (0.80, 0.67, 0.44),  # blond
        (0.90, 0.86, 0.76),  # platinum
        (0.50, 0.18, 0.09),  # auburn
        (0.74, 0.39, 0.18),  # ginger
        (0.55, 0.54, 0.52),  # grey
        (0.92, 0.91, 0.88),  # white fur
    ],
    dtype=np.float32,
)


# ----------------------------------------------------------------------------------------------- photos


def _load_photo(name: str) -> tuple[np.ndarray, bool]:
    try:
        from skimage import data
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "scikit-image is needed for the synthetic training data (its bundled photos are the textures "
            "and backgrounds): pip install scikit-image"
        ) from exc
    if name in ("motorcycle_left", "motorcycle_right"):
        left, right, _ = data.stereo_motorcycle()
        image = left if name == "motorcycle_left" else right
    else:
        image = getattr(data, name)()
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise RuntimeError(f"skimage.data.{name} is {image.dtype}, expected uint8")
    gray = image.ndim == 2
    if gray:
        image = np.repeat(image[:, :, None], 3, axis=2)
    image = np.ascontiguousarray(image[:, :, :3])
    image.setflags(write=False)
    return image, gray


@functools.lru_cache(maxsize=4)
def _photo_pool(names: tuple[str, ...]) -> tuple[tuple[np.ndarray, ...], tuple[bool, ...]]:
    loaded = [_load_photo(name) for name in names]
    return tuple(image for image, _ in loaded), tuple(gray for _, gray in loaded)


def backgrounds(names: tuple[str, ...] = PHOTO_NAMES) -> tuple[np.ndarray, ...]:
    """The photo pool: each named scikit-image photo as a read-only ``uint8`` H×W×3 RGB array.

    Loaded once per process (about 0.5 s) and cached; gray photos are repeated to three channels.
    Both foreground textures and backgrounds are drawn from this pool; procedural backgrounds are made
    on the fly by :func:`random_background`.
    """
    return _photo_pool(tuple(names))[0]


def _gray_flags(names: tuple[str, ...] = PHOTO_NAMES) -> tuple[bool, ...]:
    return _photo_pool(tuple(names))[1]


# ------------------------------------------------------------------------------------- small helpers


def _hsv_to_rgb(h: np.ndarray, s: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Vectorized HSV → RGB; all inputs in [0, 1], result (..., 3) float32 in [0, 1]."""
    h6 = (np.asarray(h) % 1.0) * 6.0
    i = np.floor(h6).astype(np.int64) % 6
    f = h6 - np.floor(h6)
    p = v * (1 - s)
    q = v * (1 - f * s)
    t = v * (1 - (1 - f) * s)
    r = np.choose(i, [v, q, p, p, t, v])
    g = np.choose(i, [t, v, v, q, p, p])
    b = np.choose(i, [p, p, t, v, v, q])
    return np.stack([r, g, b], axis=-1).astype(np.float32)


def _random_colors(rng: np.random.Generator, n: int) -> np.ndarray:
    """n "natural" colours, (n, 3) float32 in [0, 1]: muted saturations, mid values, sometimes
    analogous hues (one scheme per call)."""
    if rng.random() < 0.5:
        hue = rng.uniform(0, 1) + rng.normal(0, 0.06, n)
    else:
        hue = rng.uniform(0, 1, n)
    sat = rng.beta(1.5, 2.5, n)
    val = rng.uniform(0.12, 0.95, n)
    return _hsv_to_rgb(hue, sat, val)


def _palette_lut(colors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A (256, 1, 3) uint8 lookup table interpolating ``colors`` ((n, 3) in [0, 1]) at random stops."""
    n = len(colors)
    stops = np.sort(rng.uniform(0, 1, n))
    stops[0], stops[-1] = 0.0, 1.0
    x = np.linspace(0, 1, 256)
    lut = np.stack([np.interp(x, stops, colors[:, c]) for c in range(3)], axis=-1)
    return np.round(lut * 255).astype(np.uint8).reshape(256, 1, 3)


def _smooth_field(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Low-frequency noise: a ``cells``×``cells`` Gaussian grid upsampled bicubically to size×size
    (float32, roughly zero-mean, std ~0.7)."""
    grid = rng.standard_normal((cells + 1, cells + 1)).astype(np.float32)
    return cv2.resize(grid, (size, size), interpolation=cv2.INTER_CUBIC)


def _fractal_noise(rng: np.random.Generator, size: int, beta: float, base: int = 4) -> np.ndarray:
    """1/f^beta noise (float32 size×size, arbitrary scale): octaves are added on a pyramid whose finest
    level is half the output, so only the last resize touches all pixels."""
    noise = rng.standard_normal((base, base)).astype(np.float32)
    cells, amp = base, 1.0
    while cells * 2 <= max(size // 2, base):
        cells *= 2
        amp *= 2.0 ** (-beta / 2)
        noise = cv2.resize(noise, (cells, cells), interpolation=cv2.INTER_CUBIC)
        noise += amp * rng.standard_normal((cells, cells)).astype(np.float32)
    return cv2.resize(noise, (size, size), interpolation=cv2.INTER_CUBIC)


def _to_uint8_range(field: np.ndarray) -> np.ndarray:
    lo, hi = float(field.min()), float(field.max())
    scale = 255.0 / max(hi - lo, 1e-6)
    return cv2.convertScaleAbs(field, alpha=scale, beta=-lo * scale)


def color_jitter(
    image: np.ndarray,
    rng: np.random.Generator,
    hue: float = 10.0,
    saturation: tuple[float, float] = (0.7, 1.3),
    value: tuple[float, float] = (0.75, 1.25),
) -> np.ndarray:
    """Random HSV jitter of a ``uint8`` H×W×3 RGB image (returns a new array).

    ``hue`` is the largest shift in OpenCV hue units (180 per turn, so 10 = 20°); saturation and value
    are multiplied by factors drawn from the given ranges.
    """
    hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV)
    shift = int(round(rng.uniform(-hue, hue)))
    hue_lut = ((np.arange(256) + shift) % 180).astype(np.uint8)
    sat_lut = np.clip(np.arange(256) * rng.uniform(*saturation), 0, 255).astype(np.uint8)
    val_lut = np.clip(np.arange(256) * rng.uniform(*value), 0, 255).astype(np.uint8)
    lut = np.stack([hue_lut, sat_lut, val_lut], axis=-1).reshape(256, 1, 3)
    return cv2.cvtColor(cv2.LUT(hsv, lut), cv2.COLOR_HSV2RGB)


def _warp_photo(
    rng: np.random.Generator, photo: np.ndarray, size: int, zoom: tuple[float, float], rotate: bool
) -> np.ndarray:
    """A size×size view of ``photo``: scaled so that its short side covers ``zoom``× the output,
    rotated, flipped, and centred on a random point (edges reflected), uint8 RGB."""
    h, w = photo.shape[:2]
    scale = size / min(h, w) * rng.uniform(*zoom)
    angle = rng.uniform(0, 360) if rotate else 0.0
    centre = (rng.uniform(0.3, 0.7) * w, rng.uniform(0.3, 0.7) * h)
    matrix = cv2.getRotationMatrix2D(centre, angle, scale)
    if rng.random() < 0.5:
        matrix[0] *= -1
        matrix[0, 2] += 2 * centre[0]
    matrix[:, 2] += (size / 2 - centre[0], size / 2 - centre[1])
    return cv2.warpAffine(photo, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)


# ------------------------------------------------------------------------------------------ textures


def _photo_texture(rng: np.random.Generator, size: int) -> tuple[np.ndarray, str]:
    pool, gray = backgrounds(), _gray_flags()
    index = int(rng.integers(len(pool)))
    tex = _warp_photo(rng, pool[index], size, zoom=(0.5, 2.0), rotate=True)
    if gray[index]:
        # Gray photos get a palette so that the network sees their structure in colour too.
        lut = _palette_lut(_random_colors(rng, int(rng.integers(2, 4))), rng)
        tex = cv2.LUT(tex, lut)
    return color_jitter(tex, rng, hue=12), PHOTO_NAMES[index]


def _noise_texture(rng: np.random.Generator, size: int) -> np.ndarray:
    noise = _to_uint8_range(_fractal_noise(rng, size, beta=rng.uniform(1.4, 2.6)))
    if rng.random() < 0.5:
        colors = _random_colors(rng, int(rng.integers(2, 6)))
    else:
        # Colours picked from a photo look more natural than random hues.
        photo = backgrounds()[int(rng.integers(len(backgrounds())))]
        ys = rng.integers(0, photo.shape[0], 5)
        xs = rng.integers(0, photo.shape[1], 5)
        colors = photo[ys, xs].astype(np.float32) / 255.0
        colors = colors[np.argsort(colors.sum(axis=1))]
    tex = cv2.LUT(cv2.merge([noise, noise, noise]), _palette_lut(colors, rng))
    if rng.random() < 0.4:
        # Fine grain, as in fabric or skin.
        grain = rng.normal(0, rng.uniform(2, 10), (size, size, 1)).astype(np.float32)
        tex = cv2.add(tex.astype(np.float32), np.repeat(grain, 3, axis=2))
        tex = np.clip(tex, 0, 255).astype(np.uint8)
    return tex


def _texture(rng: np.random.Generator, size: int) -> tuple[np.ndarray, str]:
    """A foreground texture (uint8 size×size×3) and its name: a photo crop, fractal noise, or both
    mixed through a soft random mask."""
    u = rng.random()
    if u < 0.5:
        return _photo_texture(rng, size)
    if u < 0.8:
        return _noise_texture(rng, size), "noise"
    photo, name = _photo_texture(rng, size)
    noise = _noise_texture(rng, size)
    mask = np.clip(_smooth_field(rng, size, int(rng.integers(2, 6))) * 2 + 0.5, 0, 1)[:, :, None]
    mixed = photo.astype(np.float32) * mask + noise.astype(np.float32) * (1 - mask)
    return mixed.astype(np.uint8), f"mix:{name}"


# -------------------------------------------------------------------------------------------- shapes


def _fill(size: int, polygons: list[np.ndarray]) -> np.ndarray:
    """Antialiased fill of float (n, 2) xy polygons (pixel centres at integers): uint8 size×size."""
    canvas = np.zeros((size, size), np.uint8)
    pts = [np.round(p * 16).astype(np.int32) for p in polygons]
    cv2.fillPoly(canvas, pts, 255, lineType=cv2.LINE_AA, shift=4)
    return canvas


def _star_polygon(
    rng: np.random.Generator, centre: np.ndarray, radius: float, roughness: float, n: int = 192
) -> np.ndarray:
    """Star-shaped closed outline whose log-radius is a random Fourier series (smooth, like a periodic
    spline through random radii); the mean radius is ``radius``."""
    theta = np.linspace(0, 2 * np.pi, n, endpoint=False)
    k = np.arange(1, 9)[:, None]
    amp = rng.normal(0, roughness, (8, 1)) / k**1.2
    phase = rng.uniform(0, 2 * np.pi, (8, 1))
    log_r = (amp * np.cos(k * theta + phase)).sum(axis=0)
    r = radius * np.exp(log_r - log_r.mean())
    return centre + np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1)


def _ellipse_polygon(rng: np.random.Generator, centre: np.ndarray, radius: float, n: int = 128) -> np.ndarray:
    a, b = radius * rng.uniform(0.6, 1.3), radius * rng.uniform(0.5, 1.1)
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return _rotate(np.stack([a * np.cos(t), b * np.sin(t)], axis=1), rng.uniform(0, np.pi)) + centre


def _rounded_rect_polygon(rng: np.random.Generator, centre: np.ndarray, radius: float) -> np.ndarray:
    hw, hh = radius * rng.uniform(0.45, 1.0), radius * rng.uniform(0.45, 1.0)
    rc = min(hw, hh) * rng.uniform(0.0, 0.9)
    t = np.linspace(0, np.pi / 2, 12)
    corners = []
    for (sx, sy), start in zip(((1, 1), (-1, 1), (-1, -1), (1, -1)), (0, np.pi / 2, np.pi, 1.5 * np.pi)):
        cx, cy = sx * (hw - rc), sy * (hh - rc)
        corners.append(np.stack([cx + rc * np.cos(t + start), cy + rc * np.sin(t + start)], axis=1))
    return _rotate(np.concatenate(corners), rng.uniform(0, np.pi)) + centre


def _rotate(points: np.ndarray, angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return points @ np.array([[c, s], [-s, c]])


def _blob(rng: np.random.Generator, size: int, centre: np.ndarray, radius: float) -> np.ndarray:
    """Thresholded low-frequency field with a radial falloff: an organic, possibly multi-part blob
    (uint8 size×size), antialiased by dividing the field's offset by its gradient (a first-order
    signed distance)."""
    low = 64
    scale = low / size
    cells = int(rng.integers(3, 7))
    field = rng.standard_normal((cells, cells)).astype(np.float32)
    field = cv2.resize(field, (low, low), interpolation=cv2.INTER_CUBIC)
    yy, xx = np.mgrid[0:low, 0:low].astype(np.float32)
    d2 = ((xx - centre[0] * scale) ** 2 + (yy - centre[1] * scale) ** 2) / (radius * scale) ** 2
    field = field * rng.uniform(0.3, 0.9) - d2
    # Threshold for the intended area, so that blobs are neither empty nor fill the frame.
    target = np.pi * radius**2 / size**2 * rng.uniform(0.7, 1.2)
    threshold = float(np.quantile(field, 1 - min(target, 0.5)))
    full = cv2.resize((field - threshold).astype(np.float32), (size, size), interpolation=cv2.INTER_CUBIC)
    gx = cv2.Sobel(full, cv2.CV_32F, 1, 0, ksize=1)
    gy = cv2.Sobel(full, cv2.CV_32F, 0, 1, ksize=1)
    grad = cv2.magnitude(gx, gy) * 0.5 + 1e-6
    return cv2.convertScaleAbs(np.clip(full / grad + 0.5, 0, 1), alpha=255)


def _shape_union(rng: np.random.Generator, size: int, info: dict) -> np.ndarray:
    """1–3 overlapping solid shapes, antialiased: uint8 size×size."""
    centre = size / 2 + rng.normal(0, 0.06 * size, 2)
    radius = rng.uniform(0.16, 0.3) * size
    mask = np.zeros((size, size), np.uint8)
    polygons = []
    kinds = []
    for part in range(int(rng.choice([1, 1, 2, 3]))):
        if part == 0:
            c, r = centre, radius
        else:
            # Secondary parts overlap the main one, like a head on a body or a handle on a cup.
            angle = rng.uniform(0, 2 * np.pi)
            c = centre + radius * rng.uniform(0.5, 1.0) * np.array([math.cos(angle), math.sin(angle)])
            r = radius * rng.uniform(0.25, 0.6)
        kind = str(rng.choice(["blob", "star", "ellipse", "rounded_rect"], p=[0.3, 0.35, 0.2, 0.15]))
        kinds.append(kind)
        if kind == "blob":
            mask = np.maximum(mask, _blob(rng, size, c, r))
        elif kind == "star":
            polygons.append(_star_polygon(rng, c, r, roughness=rng.uniform(0.05, 0.35)))
        elif kind == "ellipse":
            polygons.append(_ellipse_polygon(rng, c, r))
        else:
            polygons.append(_rounded_rect_polygon(rng, c, r))
    for polygon in polygons:
        # One fill per polygon: fillPoly with several polygons would XOR their overlaps.
        mask = np.maximum(mask, _fill(size, [polygon]))
    if int(mask.max()) < 255:
        mask = _fill(size, [_star_polygon(rng, centre, radius, 0.1)])
    info["shapes"] = kinds
    return mask


# --------------------------------------------------------------------------------------------- holes


@functools.lru_cache(maxsize=8)
def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    yy.setflags(write=False)
    xx.setflags(write=False)
    return xx, yy


def _soft_region(
    rng: np.random.Generator, size: int, coverage: float, within: np.ndarray | None = None
) -> np.ndarray:
    """A random smooth region covering about ``coverage`` of the frame, or of the ``within`` mask
    (uint8 size×size, ≥ 128 inside) when given, with edges a few pixels soft (float32 size×size in
    [0, 1])."""
    low = 64
    field = cv2.resize(rng.standard_normal((int(rng.integers(2, 6)),) * 2).astype(np.float32), (low, low),
                       interpolation=cv2.INTER_CUBIC)
    values = field
    if within is not None:
        inside = cv2.resize(within, (low, low), interpolation=cv2.INTER_AREA) >= 128
        if inside.any():
            values = field[inside]
    threshold = float(np.quantile(values, 1 - coverage))
    spread = float(field.std()) * rng.uniform(0.05, 0.3) + 1e-6
    # Upsample the field, not the clipped region: clipping at low resolution leaves blocky isolines.
    full = cv2.resize(((field - threshold) / spread).astype(np.float32), (size, size), interpolation=cv2.INTER_CUBIC)
    return np.clip(full + 0.5, 0, 1, out=full)


def _lace(rng: np.random.Generator, size: int) -> np.ndarray:
    """A net or dot-hole pattern: float32 size×size, 1 inside holes, 0 on the threads, antialiased
    analytically from the distance to the threads."""
    u = size / REFERENCE_SIZE
    xx, yy = _grid(size)
    angle = rng.uniform(0, np.pi)
    c, s = math.cos(angle), math.sin(angle)
    period = rng.uniform(6, 26) * max(u, 0.5)
    warp = rng.uniform(0, 0.8) * period
    wu = _smooth_field(rng, size, int(rng.integers(2, 6))) * warp
    wv = _smooth_field(rng, size, int(rng.integers(2, 6))) * warp
    pu = (xx * c + yy * s + wu) / period
    pv = (yy * c - xx * s + wv) / period
    fu = np.abs(pu - np.floor(pu + 0.5)) * period
    fv = np.abs(pv - np.floor(pv + 0.5)) * period
    if rng.random() < 0.5:
        width = rng.uniform(0.6, min(4.0, period * 0.5))
        return np.clip(np.minimum(fu, fv) - width / 2 + 0.5, 0, 1)
    hole_radius = rng.uniform(0.2, 0.45) * period
    # Distance from the cell corner, i.e. round holes in the middle between the threads' crossings.
    du = period / 2 - fu
    dv = period / 2 - fv
    return np.clip(hole_radius - np.sqrt(du * du + dv * dv) + 0.5, 0, 1)


def _cutouts(rng: np.random.Generator, size: int, mask: np.ndarray) -> np.ndarray | None:
    """1–6 random holes centred inside the shape (uint8 size×size, 255 in the holes), or None when the
    shape has no interior."""
    step = 8
    inside = np.flatnonzero(cv2.erode(mask[::step, ::step], np.ones((5, 5), np.uint8)) == 255)
    if inside.size == 0:
        return None
    u = size / REFERENCE_SIZE
    n = int(rng.integers(1, 7))
    picks = rng.choice(inside, n)
    width = mask[::step, ::step].shape[1]
    polygons = []
    for p in picks:
        centre = np.array([(p % width) * step, (p // width) * step], dtype=np.float64)
        polygons.append(_star_polygon(rng, centre, rng.uniform(6, 45) * u, rng.uniform(0.05, 0.5), n=64))
    holes = np.zeros((size, size), np.uint8)
    for polygon in polygons:
        holes = np.maximum(holes, _fill(size, [polygon]))
    return holes


# ------------------------------------------------------------------------------------------- strands


def _outline(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Points along the longest outer contour of ``mask`` ≥ 128 and their outward unit normals, both
    (n, 2) float64 xy; None when the outline is too short to grow strands on."""
    contours, _ = cv2.findContours((mask >= 128).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not contours:
        return None
    contour = max(contours, key=len)[:, 0, :].astype(np.float64)
    if len(contour) < 40:
        return None
    tangent = np.roll(contour, -4, axis=0) - np.roll(contour, 4, axis=0)
    normal = np.stack([tangent[:, 1], -tangent[:, 0]], axis=1)
    normal /= np.linalg.norm(normal, axis=1, keepdims=True) + 1e-9
    # The contour's orientation decides the normal's sign; probe a few pixels out and flip if inside.
    probe = np.round(contour + 3 * normal).astype(np.int64)
    probe[:, 0] = np.clip(probe[:, 0], 0, mask.shape[1] - 1)
    probe[:, 1] = np.clip(probe[:, 1], 0, mask.shape[0] - 1)
    if (mask[probe[:, 1], probe[:, 0]] >= 128).mean() > 0.5:
        normal = -normal
    return contour, normal


def _walk_strands(
    rng: np.random.Generator,
    roots: np.ndarray,
    angles: np.ndarray,
    lengths: np.ndarray,
    segments: int,
    curl: float,
    wiggle: float,
) -> np.ndarray:
    """Smooth curves from integrated random-walk directions: (n, segments + 1, 2) xy points.

    ``curl`` is the std of the per-strand turning over the whole strand (radians); ``wiggle`` the std of
    the per-segment random turn."""
    n = len(roots)
    turn = rng.normal(0, 1, (n, 1)) * curl / segments + rng.normal(0, 1) * curl / segments
    dtheta = turn + rng.normal(0, wiggle, (n, segments))
    theta = angles[:, None] + np.cumsum(dtheta, axis=1) - dtheta[:, :1] / 2
    step = (lengths / segments)[:, None]
    steps = np.stack([np.cos(theta) * step, np.sin(theta) * step], axis=2)
    return np.concatenate([roots[:, None, :], roots[:, None, :] + np.cumsum(steps, axis=1)], axis=1)


def _bezier_tufts(
    rng: np.random.Generator, contour: np.ndarray, normal: np.ndarray, u: float
) -> np.ndarray:
    """Wispy tufts: fans of quadratic Bézier strands from a patch of the outline converging towards a
    shared tip.  Returns (n, 9, 2) xy points."""
    n_tufts = int(rng.integers(3, 13))
    idx = rng.integers(0, len(contour), n_tufts)
    counts = rng.integers(6, 25, n_tufts)
    tuft = np.repeat(np.arange(n_tufts), counts)
    root_c, nrm = contour[idx][tuft], normal[idx][tuft]
    tan = np.stack([-nrm[:, 1], nrm[:, 0]], axis=1)
    length = (rng.uniform(12, 60, n_tufts) * u)[tuft]
    bend = rng.normal(0, 0.25, n_tufts)[tuft]
    direction = _rotate_vectors(nrm, rng.normal(0, 0.4, n_tufts)[tuft])
    spread = (rng.uniform(2, 9, n_tufts) * u)[tuft]
    m = len(tuft)
    # Strands of a tuft start spread along the outline and end near a shared tip, with varied
    # lengths so that the tuft thins out towards the tip instead of ending in a solid point.
    reach = length * rng.uniform(0.6, 1.0, m)
    roots = root_c - nrm * rng.uniform(0, 4 * u, (m, 1)) + tan * (rng.uniform(-1, 1, (m, 1)) * spread[:, None])
    tips = root_c + direction * reach[:, None] + rng.normal(0, 1, (m, 2)) * (0.12 * reach[:, None] + 1)
    perp = np.stack([-direction[:, 1], direction[:, 0]], axis=1)
    ctrl = (roots + tips) / 2 + perp * (bend * reach * rng.uniform(0.5, 1.0, m))[:, None] + rng.normal(0, 1, (m, 2))
    s = np.linspace(0, 1, 9)[None, :, None]
    return (1 - s) ** 2 * roots[:, None] + 2 * (1 - s) * s * ctrl[:, None] + s**2 * tips[:, None]


def _rotate_vectors(v: np.ndarray, angle: np.ndarray) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.stack([v[:, 0] * c - v[:, 1] * s, v[:, 0] * s + v[:, 1] * c], axis=1)


def _hair_strands(
    rng: np.random.Generator, contour: np.ndarray, normal: np.ndarray, u: float, style: str
) -> np.ndarray:
    """Strands growing outward from an arc of the outline: (n, k, 2) xy points.  "hair" is long and
    combed along a common flow direction; "fur" is short, dense and all around."""
    m = len(contour)
    if style == "hair":
        n = int(rng.integers(80, 400))
        arc = rng.uniform(0.2, 0.75)
        base_len = rng.uniform(25, 150) * u
        flow_weight, spread, segments = rng.uniform(0, 0.7), rng.uniform(0.1, 0.35), 12
        curl, wiggle = rng.uniform(0, 2.5), rng.uniform(0.01, 0.12)
    else:
        n = int(rng.integers(300, 1200))
        arc = rng.uniform(0.5, 1.0)
        base_len = rng.uniform(4, 22) * u
        flow_weight, spread, segments = rng.uniform(0, 0.3), rng.uniform(0.2, 0.5), 4
        curl, wiggle = rng.uniform(0, 1.0), rng.uniform(0.02, 0.2)
    start = int(rng.integers(m))
    idx = (start + rng.integers(0, max(int(arc * m), 2), n)) % m
    nrm = normal[idx]
    flow_angle = rng.uniform(0, 2 * np.pi)
    flow = np.array([math.cos(flow_angle), math.sin(flow_angle)])
    direction = nrm * (1 - flow_weight) + flow * flow_weight
    # Where the flow opposes the normal, strands would grow inward; keep them pointing out.
    direction = np.where((direction * nrm).sum(axis=1, keepdims=True) < 0.2, nrm, direction)
    angles = np.arctan2(direction[:, 1], direction[:, 0]) + rng.normal(0, spread, n)
    lengths = base_len * rng.lognormal(0, 0.35, n)
    tan = np.stack([-nrm[:, 1], nrm[:, 0]], axis=1)
    roots = contour[idx] - nrm * rng.uniform(0, 6 * u, (n, 1)) + tan * rng.uniform(-1, 1, (n, 1))
    return _walk_strands(rng, roots, angles, lengths, segments, curl, wiggle)


def _keep_inside(strands: np.ndarray, size: int, margin: float) -> np.ndarray:
    """Shrink each strand ((n, k, 2) xy) towards its root just enough to end ``margin`` pixels inside
    the frame: hair running off the frame would leave a straight cut when the sample is padded."""
    root = strands[:, :1]
    offset = strands - root
    lo, hi = margin, size - 1 - margin
    with np.errstate(divide="ignore", invalid="ignore"):
        limit = np.where(offset > 0, (hi - root) / offset, np.where(offset < 0, (lo - root) / offset, np.inf))
    factor = np.clip(limit.reshape(len(strands), -1).min(axis=1), 0, 1)
    return root + offset * factor[:, None, None]


def _render_strands(
    rng: np.random.Generator, size: int, strands: list[np.ndarray], base_color: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Draw strand curves into an alpha (float32 size×size) and a colour layer (float32 size×size×3).

    Strands are split among a few layers, each drawn with one ``cv2.polylines`` call at
    :data:`STRAND_SUPERSAMPLE`× resolution with its own line width and opacity; inside a layer LINE_AA
    composites overlapping strands like "over", and the layers are combined the same way after an area
    downsample, so sub-pixel strands get fractional alpha.  Tips go to a fainter, thinner layer."""
    k = STRAND_SUPERSAMPLE
    all_pts = np.concatenate([s.reshape(-1, 2) for s in strands])
    x0 = int(np.clip(np.floor(all_pts[:, 0].min()) - 4, 0, size))
    y0 = int(np.clip(np.floor(all_pts[:, 1].min()) - 4, 0, size))
    x1 = int(np.clip(np.ceil(all_pts[:, 0].max()) + 5, 0, size))
    y1 = int(np.clip(np.ceil(all_pts[:, 1].max()) + 5, 0, size))
    alpha = np.zeros((size, size), np.float32)
    color = np.empty((size, size, 3), np.float32)
    # The colour layer exists everywhere so that unpremultiplying near strands reads hair colour.
    variation = _smooth_field(rng, size, int(rng.integers(2, 6)))[:, :, None] * rng.uniform(0.05, 0.2)
    color[:] = np.clip(base_color * (1 + variation), 0, 1)
    if x1 <= x0 or y1 <= y0:
        return alpha, color

    n_layers = int(rng.integers(2, 5))
    widths = rng.choice([1, 1, 2, 2, 3, 4, 6], n_layers)
    opacities = rng.uniform(0.35, 1.0, n_layers)
    layer_lines: list[list[np.ndarray]] = [[] for _ in range(n_layers + 1)]
    color_lines: list[list[np.ndarray]] = [[] for _ in range(8)]
    origin = np.array([x0, y0], np.float64)
    for group in strands:
        # Coordinates in 1/4 pixel (shift=2); on the supersampled canvas, output pixel x spans
        # supersampled pixels k·x … k·x + k − 1, whose centre is (x + 0.5)·k − 0.5.
        ss = np.round(((group - origin + 0.5) * k - 0.5) * 4).astype(np.int32)
        out = np.round(group * 4).astype(np.int32)
        tip_start = max(1, int(group.shape[1] * rng.uniform(0.55, 0.8)))
        bases = np.ascontiguousarray(ss[:, : tip_start + 1])
        layer_of = rng.integers(0, n_layers, len(group))
        color_of = rng.integers(0, 8, len(group))
        for j in range(n_layers):
            layer_lines[j].extend(bases[layer_of == j])
        layer_lines[n_layers].extend(np.ascontiguousarray(ss[:, tip_start:]))
        for g in range(8):
            color_lines[g].extend(out[color_of == g])

    shape = ((y1 - y0) * k, (x1 - x0) * k)
    transparency = np.ones((y1 - y0, x1 - x0), np.float32)
    tip_width = int(widths.min())
    tip_opacity = float(opacities.min()) * 0.6
    for j, lines in enumerate(layer_lines):
        if not lines:
            continue
        width, opacity = (int(widths[j]), float(opacities[j])) if j < n_layers else (tip_width, tip_opacity)
        canvas = np.zeros(shape, np.uint8)
        cv2.polylines(canvas, lines, False, 255, thickness=width, lineType=cv2.LINE_AA, shift=2)
        coverage = cv2.resize(canvas, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)
        transparency *= 1 - coverage.astype(np.float32) * (opacity / 255)
    alpha[y0:y1, x0:x1] = 1 - transparency

    # Strand colours scatter around the base colour (mostly in brightness, a little in hue).
    shades = base_color * rng.uniform(0.7, 1.3, (8, 1)) * rng.uniform(0.92, 1.08, (8, 3))
    shades = np.clip(shades, 0, 1)
    for g, lines in enumerate(color_lines):
        if lines:
            cv2.polylines(color, lines, False, tuple(float(c) for c in shades[g]), thickness=1, shift=2)
    return alpha, color


def _hair_color(rng: np.random.Generator) -> np.ndarray:
    if rng.random() < 0.15:
        return _random_colors(rng, 1)[0]
    base = _HAIR_COLORS[int(rng.integers(len(_HAIR_COLORS)))]
    return np.clip(base * rng.uniform(0.85, 1.15) + rng.normal(0, 0.02, 3), 0, 1).astype(np.float32)


# ---------------------------------------------------------------------------------------- compositing


def _zone(alpha: np.ndarray, size: int) -> np.ndarray:
    """Where a layer is, spread out by ~10 px and saturated: weight (float32 size×size in [0, 1]) for
    extending its colour into the transparent surroundings.  Computed at 1/8 resolution."""
    low = max(size // 8, 1)
    small = cv2.resize(alpha, (low, low), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(cv2.dilate(small, np.ones((3, 3), np.uint8)), (0, 0), 1.0)
    return np.clip(cv2.resize(small, (size, size), interpolation=cv2.INTER_LINEAR) * 4, 0, 1)


def _motion_kernel(rng: np.random.Generator, u: float) -> tuple[np.ndarray, float, float]:
    length = rng.uniform(3, 30) * u
    angle = rng.uniform(0, np.pi)
    half = int(math.ceil(length / 2)) + 1
    kernel = np.zeros((2 * half + 1, 2 * half + 1), np.float32)
    dx, dy = math.cos(angle) * length / 2, math.sin(angle) * length / 2
    p0 = (round((half - dx) * 16), round((half - dy) * 16))
    p1 = (round((half + dx) * 16), round((half + dy) * 16))
    cv2.line(kernel, p0, p1, 1.0, thickness=1, lineType=cv2.LINE_AA, shift=4)
    return kernel / kernel.sum(), length, angle


def generate_sample(
    rng: np.random.Generator, size: int = 512, return_info: bool = False
) -> tuple[np.ndarray, np.ndarray] | tuple[np.ndarray, np.ndarray, dict]:
    """One synthetic object.

    Returns ``fg`` (``uint8`` size×size×3 RGB, a plausible colour everywhere, also where alpha is 0)
    and ``alpha`` (``float32`` size×size in [0, 1]; values within half an 8-bit step of 0 or 1 are
    snapped to exactly 0 or 1).  With ``return_info`` a third value, a dict, tells what was drawn: the
    booleans of :data:`FEATURES` plus ``shapes``, ``softness`` (Gaussian sigma in px, 0 = sharp),
    ``strand_style``, ``n_strands``, ``semi_kind``, ``hole_kind``, ``motion_length``, ``texture`` and
    ``hair_color``.

    A pure function of ``rng``'s state.  About 20–40 ms at 512×512 on one core.
    """
    if size < 32:
        raise ValueError(f"size must be at least 32, got {size}")
    u = size / REFERENCE_SIZE
    info: dict = {
        "strands": rng.random() < P_STRANDS,
        "tufts": rng.random() < P_TUFTS,
        "semi_transparent": rng.random() < P_SEMI,
        "holes": rng.random() < P_HOLES,
        "motion_blur": rng.random() < P_MOTION,
        "soft_edges": rng.random() < P_SOFT,
    }
    if not any(info[k] for k in ("strands", "tufts", "semi_transparent", "holes")):
        info[str(rng.choice(["strands", "tufts", "semi_transparent", "holes"]))] = True
    info.update(strand_style=None, n_strands=0, semi_kind=None, hole_kind=None, motion_length=0.0,
                motion_angle=None, softness=0.0, hair_color=None)

    shape = _shape_union(rng, size, info)
    body = shape.astype(np.float32) * (1 / 255)
    texture, info["texture"] = _texture(rng, size)
    body_color = texture.astype(np.float32) * (1 / 255)

    if info["holes"]:
        holes = None
        if rng.random() < 0.5:
            holes = _cutouts(rng, size, shape)
            if holes is not None:
                info["hole_kind"] = "cutouts"
                body *= 1 - holes.astype(np.float32) * (1 / 255)
        if holes is None:
            info["hole_kind"] = "lace"
            region = _soft_region(rng, size, rng.uniform(0.3, 0.9), shape) if rng.random() < 0.6 else 1.0
            body *= 1 - _lace(rng, size) * region

    if info["soft_edges"]:
        sigma = float(rng.uniform(0.5, 2.0) if rng.random() < 0.7 else rng.uniform(2.0, 6.0)) * max(u, 0.5)
        info["softness"] = sigma
        blurred = cv2.GaussianBlur(body, (0, 0), sigma)
        if rng.random() < 0.3:
            # Depth of field: part of the outline is in focus, part is not.
            weight = _soft_region(rng, size, rng.uniform(0.3, 0.7))
            body = body + (blurred - body) * weight
        else:
            body = blurred

    layers: list[tuple[np.ndarray, np.ndarray]] = [(body, body_color)]
    fallback = body_color

    if info["semi_transparent"]:
        if rng.random() < 0.5:
            info["semi_kind"] = "glass"
            region = _soft_region(rng, size, rng.uniform(0.25, 0.7), shape) if rng.random() < 0.7 else 1.0
            level = _transparency_level(rng, size)
            body *= 1 - region * (1 - level)
        else:
            info["semi_kind"] = "veil"
            veil, veil_color = _veil(rng, size, u)
            if rng.random() < 0.5:
                layers.insert(0, (veil, veil_color))
            else:
                layers.append((veil, veil_color))
            zone = _zone(veil, size)[:, :, None]
            fallback = fallback + (veil_color - fallback) * zone

    if info["strands"] or info["tufts"]:
        outline = _outline(shape)
        if outline is None:
            info["strands"] = info["tufts"] = False
        else:
            contour, normal = outline
            strands = []
            if info["strands"]:
                info["strand_style"] = "hair" if rng.random() < 0.6 else "fur"
                strands.append(_hair_strands(rng, contour, normal, u, info["strand_style"]))
            if info["tufts"]:
                strands.append(_bezier_tufts(rng, contour, normal, u))
            strands = [_keep_inside(group, size, 2.0) for group in strands]
            info["n_strands"] = int(sum(len(s) for s in strands))
            base = _hair_color(rng)
            info["hair_color"] = tuple(float(c) for c in base)
            hair, hair_color = _render_strands(rng, size, strands, base)
            if info["softness"] > 2 and rng.random() < 0.5:
                hair = cv2.GaussianBlur(hair, (0, 0), info["softness"] * 0.4)
            layers.append((hair, hair_color))
            zone = _zone(hair, size)[:, :, None]
            fallback = fallback + (hair_color - fallback) * zone

    # Back-to-front "over" of premultiplied colours, in place: this runs on full-size 3-channel arrays.
    premult = layers[0][1] * layers[0][0][:, :, None]
    alpha = layers[0][0].copy()
    for a, c in layers[1:]:
        premult *= (1 - a)[:, :, None]
        premult += c * a[:, :, None]
        alpha += a * (1 - alpha)

    if info["motion_blur"]:
        kernel, info["motion_length"], info["motion_angle"] = _motion_kernel(rng, u)
        # Premultiplied colour and alpha are 0 outside the object's bounding box, so only the box
        # (grown by the kernel radius) needs filtering: about half the cost of the whole frame.
        x, y, w, h = cv2.boundingRect((alpha > 0).astype(np.uint8))
        r = kernel.shape[0] // 2
        x0, y0, x1, y1 = max(x - r, 0), max(y - r, 0), min(x + w + r, size), min(y + h + r, size)
        stacked = cv2.merge([premult[y0:y1, x0:x1], alpha[y0:y1, x0:x1, None]])
        stacked = cv2.filter2D(stacked, -1, kernel, borderType=cv2.BORDER_CONSTANT)
        premult[y0:y1, x0:x1] = stacked[:, :, :3]
        alpha[y0:y1, x0:x1] = stacked[:, :, 3]

    np.clip(alpha, 0, 1, out=alpha)
    eps = _UNPREMULTIPLY_EPS
    premult += fallback * eps
    premult /= (alpha + eps)[:, :, None]
    fg = cv2.convertScaleAbs(premult, alpha=255)
    snap = 0.5 / 255
    alpha[alpha < snap] = 0
    alpha[alpha > 1 - snap] = 1
    if return_info:
        return fg, alpha, info
    return fg, alpha


def _transparency_level(rng: np.random.Generator, size: int) -> np.ndarray | float:
    """Alpha of a semi-transparent area, within [0.2, 0.8]: a constant, or a smooth field, or folds."""
    lo = rng.uniform(0.2, 0.6)
    hi = rng.uniform(lo, 0.8)
    u = rng.random()
    if u < 0.4:
        return float(rng.uniform(0.2, 0.8))
    if u < 0.75:
        field = _smooth_field(rng, size, int(rng.integers(2, 5)))
        return lo + (hi - lo) * np.clip(field * 0.7 + 0.5, 0, 1)
    # Folds of cloth: bands of varying density along a random direction.
    xx, yy = _grid(size)
    angle = rng.uniform(0, np.pi)
    period = rng.uniform(20, 90) * size / REFERENCE_SIZE
    warp = _smooth_field(rng, size, 3) * period * 0.5
    phase = (xx * math.cos(angle) + yy * math.sin(angle) + warp) * (2 * np.pi / period)
    return lo + (hi - lo) * (0.5 + 0.5 * np.sin(phase))


def _veil(rng: np.random.Generator, size: int, u: float) -> tuple[np.ndarray, np.ndarray]:
    """A semi-transparent layer (float32 alpha within [0, 0.8]) and its colour (float32 size×size×3)."""
    centre = size / 2 + rng.normal(0, 0.12 * size, 2)
    polygon = _star_polygon(rng, centre, rng.uniform(0.15, 0.35) * size, rng.uniform(0.05, 0.3))
    mask = _fill(size, [polygon]).astype(np.float32) * (1 / 255)
    mask = cv2.GaussianBlur(mask, (0, 0), rng.uniform(0.5, 6.0) * max(u, 0.5))
    alpha = mask * _transparency_level(rng, size)
    if rng.random() < 0.5:
        tint = _random_colors(rng, 1)[0]
        shade = 1 + _smooth_field(rng, size, int(rng.integers(2, 5)))[:, :, None] * rng.uniform(0.03, 0.15)
        color = np.clip(tint * shade, 0, 1).astype(np.float32)
    else:
        color = _texture(rng, size)[0].astype(np.float32) * (1 / 255)
    return alpha.astype(np.float32), color


# --------------------------------------------------------------------------------------- backgrounds


def random_background(rng: np.random.Generator, size: int | tuple[int, int]) -> np.ndarray:
    """A background image, ``uint8`` H×W×3 RGB, for ``size`` = S (square) or (H, W).

    About 65 % are crops of the photo pool (random zoom, flip, colour jitter, sometimes defocused), the
    rest procedural: blurred fractal noise, linear/radial colour gradients, or bokeh discs.
    """
    h, w = (size, size) if isinstance(size, (int, np.integer)) else (int(size[0]), int(size[1]))
    if h <= 0 or w <= 0:
        raise ValueError(f"size must be positive, got {size}")
    side = max(h, w)
    u = rng.random()
    if u < 0.65:
        pool, gray = backgrounds(), _gray_flags()
        index = int(rng.integers(len(pool)))
        bg = _warp_photo(rng, pool[index], side, zoom=(1.0, 2.5), rotate=False)
        if gray[index] and rng.random() < 0.5:
            bg = cv2.LUT(bg, _palette_lut(_random_colors(rng, 2), rng))
        bg = color_jitter(bg, rng)
        if rng.random() < 0.3:
            bg = cv2.GaussianBlur(bg, (0, 0), rng.uniform(1, 6) * side / REFERENCE_SIZE)
    elif u < 0.77:
        noise = _to_uint8_range(_fractal_noise(rng, side, beta=rng.uniform(1.5, 3.0)))
        bg = cv2.LUT(cv2.merge([noise, noise, noise]), _palette_lut(_random_colors(rng, int(rng.integers(2, 5))), rng))
        bg = cv2.GaussianBlur(bg, (0, 0), rng.uniform(0.5, 4) * side / REFERENCE_SIZE)
    elif u < 0.88:
        bg = _gradient(rng, side)
    else:
        bg = _bokeh(rng, side)
    return np.ascontiguousarray(bg[:h, :w])


def _gradient(rng: np.random.Generator, size: int) -> np.ndarray:
    xx, yy = _grid(size)
    if rng.random() < 0.5:
        angle = rng.uniform(0, 2 * np.pi)
        t = (xx * math.cos(angle) + yy * math.sin(angle)) / size
    else:
        cx, cy = rng.uniform(0, size, 2)
        t = np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2) / size
    t = _to_uint8_range(t + _smooth_field(rng, size, 3) * 0.05)
    bg = cv2.LUT(cv2.merge([t, t, t]), _palette_lut(_random_colors(rng, int(rng.integers(2, 4))), rng))
    noise = rng.normal(0, rng.uniform(0.5, 4), (size, size, 1)).astype(np.float32)
    return np.clip(bg.astype(np.float32) + noise, 0, 255).astype(np.uint8)


def _bokeh(rng: np.random.Generator, size: int) -> np.ndarray:
    base = _gradient(rng, size).astype(np.float32) * rng.uniform(0.3, 0.8)
    lights = np.zeros((size, size, 3), np.float32)
    colors = _random_colors(rng, 4)
    for _ in range(int(rng.integers(10, 60))):
        cx, cy = int(rng.integers(0, size)), int(rng.integers(0, size))
        radius = int(rng.uniform(4, 40) * size / REFERENCE_SIZE) + 1
        color = colors[int(rng.integers(4))] * rng.uniform(40, 160)
        # Discs add up like overlapping out-of-focus lights; each is drawn on its own small patch.
        x0, y0 = max(cx - radius - 1, 0), max(cy - radius - 1, 0)
        x1, y1 = min(cx + radius + 2, size), min(cy + radius + 2, size)
        disc = np.zeros((y1 - y0, x1 - x0, 3), np.float32)
        cv2.circle(disc, (cx - x0, cy - y0), radius, tuple(float(c) for c in color), -1, lineType=cv2.LINE_AA)
        lights[y0:y1, x0:x1] += disc
    lights = cv2.GaussianBlur(lights, (0, 0), rng.uniform(1, 4) * size / REFERENCE_SIZE)
    return np.clip(base + lights, 0, 255).astype(np.uint8)
