"""Training datasets for matting: synthetic objects or Composition-1K, composited on the fly.

Both datasets return :class:`MattingSample` dicts of tensors and apply the augmentations of the
GCA / ViTMatte / MEMatte training pipelines: random scale, a crop centred on an unknown pixel most of
the time, horizontal flip, HSV jitter of the foreground, a random background, and a random trimap made
by eroding the definite regions of the ground-truth alpha (``GenTrimap``).

Every item is a pure function of ``(seed, index)`` (and the epoch, see ``set_epoch``), so DataLoader
workers agree with each other and runs are reproducible.

Arrays here: images ``uint8`` H×W×3 RGB, alphas ``float32`` H×W in [0, 1], trimaps ``uint8`` H×W in
{0, 128, 255}.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TypedDict

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from matteapp.engine.trimap import BACKGROUND, FOREGROUND, UNKNOWN
from matteapp.training.synthetic import color_jitter, generate_sample, random_background

ALPHA_EPS = 1e-5
"""Alpha at most this is definite background, at least 1 − this definite foreground (as GenTrimap)."""

TRIMAP_REFERENCE_SIZE = 512
"""The crop size for which the trimap erosion kernel range is specified."""

P_CROP_ON_UNKNOWN = 0.8
SCALE_RANGE = (0.5, 1.5)
SYNTHETIC_MARGIN = 1.25
"""Synthetic objects are generated this much bigger than the crop, so that scaling down still leaves
room around them."""

HELD_OUT_SEED = 12345

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"})


class MattingSample(TypedDict):
    """One training example; S is the crop size.

    ``image``: float32 3×S×S in [0, 1], the composite, quantized to 8 bits like a real photo and not
    normalized (the trainer normalizes).  ``trimap``: float32 1×S×S in {0, 128/255, 1} (the official
    trimap/255 convention).  ``alpha``: float32 1×S×S in [0, 1].  ``fg`` / ``bg``: float32 3×S×S in
    [0, 1], with ``image ≈ fg·alpha + bg·(1 − alpha)`` up to 8-bit rounding.
    """

    image: torch.Tensor
    trimap: torch.Tensor
    alpha: torch.Tensor
    fg: torch.Tensor
    bg: torch.Tensor


# --------------------------------------------------------------------------------------------- trimap


@functools.lru_cache(maxsize=128)
def _ellipse_kernel(size: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))


def random_trimap(
    alpha: np.ndarray, rng: np.random.Generator, min_kernel: int = 1, max_kernel: int = 30
) -> np.ndarray:
    """A training trimap for ``alpha`` (float32 H×W in [0, 1]): ``uint8`` H×W of {0, 128, 255}.

    As ViTMatte / MEMatte's ``GenTrimap``: the definite foreground (α ≥ 1 − :data:`ALPHA_EPS`) and the
    definite background (α ≤ :data:`ALPHA_EPS`) are each eroded with an elliptical kernel whose size is
    drawn independently from [``min_kernel``, ``max_kernel``]; everything else is unknown, so every
    fractional-alpha pixel is unknown.  The range is specified for a 512-pixel crop and is scaled by
    min(H, W) / 512 (at least 1).
    """
    alpha = np.asarray(alpha, dtype=np.float32)
    if alpha.ndim != 2 or alpha.size == 0:
        raise ValueError(f"alpha must be a non-empty H×W array, got shape {alpha.shape}")
    if not 1 <= min_kernel <= max_kernel:
        raise ValueError(f"need 1 <= min_kernel <= max_kernel, got {min_kernel} and {max_kernel}")
    scale = min(alpha.shape) / TRIMAP_REFERENCE_SIZE
    lo = max(1, round(min_kernel * scale))
    hi = max(lo, round(max_kernel * scale))
    fg_kernel, bg_kernel = (int(k) for k in rng.integers(lo, hi + 1, 2))
    definite_fg = (alpha >= 1 - ALPHA_EPS).astype(np.uint8)
    definite_bg = (alpha <= ALPHA_EPS).astype(np.uint8)
    # Erosion treats the outside of the image as set, so a region touching the border is not eroded
    # from there: the crop edge is not an object edge.
    definite_fg = cv2.erode(definite_fg, _ellipse_kernel(fg_kernel))
    definite_bg = cv2.erode(definite_bg, _ellipse_kernel(bg_kernel))
    trimap = np.full(alpha.shape, UNKNOWN, np.uint8)
    trimap[definite_fg == 1] = FOREGROUND
    trimap[definite_bg == 1] = BACKGROUND
    return trimap


def composite(fg: np.ndarray, alpha: np.ndarray, bg: np.ndarray) -> np.ndarray:
    """``fg·α + bg·(1 − α)`` in [0, 1], rounded to ``uint8`` H×W×3.

    ``fg`` and ``bg``: ``uint8`` H×W×3; ``alpha``: float H×W in [0, 1] (``uint8`` is read as /255).
    """
    fg, bg, alpha = np.asarray(fg), np.asarray(bg), np.asarray(alpha)
    if fg.ndim != 3 or fg.shape[2] != 3 or fg.shape != bg.shape or alpha.shape != fg.shape[:2]:
        raise ValueError(
            f"composite needs fg and bg of the same H×W×3 shape and an H×W alpha, got "
            f"{fg.shape}, {bg.shape} and {alpha.shape}"
        )
    a = alpha.astype(np.float32) * (1 / 255) if alpha.dtype == np.uint8 else alpha.astype(np.float32)
    a = np.clip(a, 0, 1)[:, :, None]
    f = fg.astype(np.float32) * (1 / 255)
    b = bg.astype(np.float32) * (1 / 255)
    out = f * a + b * (1 - a)
    return cv2.convertScaleAbs(out, alpha=255)


# ---------------------------------------------------------------------------------------- augmentation


def _resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize without overshoot (area when shrinking, bilinear when enlarging), so alpha stays in [0, 1]."""
    shrinking = width * height < image.shape[0] * image.shape[1]
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)


def _crop_origin(alpha: np.ndarray, crop: int, rng: np.random.Generator) -> tuple[int, int]:
    """Top-left (y, x) of a crop×crop window: centred on a random fractional-alpha pixel with
    probability :data:`P_CROP_ON_UNKNOWN` (and when there is one), uniform otherwise."""
    h, w = alpha.shape
    on_unknown = rng.random() < P_CROP_ON_UNKNOWN
    if on_unknown:
        candidates = np.flatnonzero((alpha > ALPHA_EPS) & (alpha < 1 - ALPHA_EPS))
        if candidates.size:
            centre = int(candidates[rng.integers(candidates.size)])
            cy, cx = divmod(centre, w)
            return (int(np.clip(cy - crop // 2, 0, h - crop)), int(np.clip(cx - crop // 2, 0, w - crop)))
    return int(rng.integers(0, h - crop + 1)), int(rng.integers(0, w - crop + 1))


def augment_pair(
    fg: np.ndarray,
    alpha: np.ndarray,
    rng: np.random.Generator,
    crop: int,
    pad_small: bool,
    scale_range: tuple[float, float] = SCALE_RANGE,
) -> tuple[np.ndarray, np.ndarray]:
    """Scale, crop, flip and colour-jitter a foreground (``uint8`` H×W×3) and its alpha (float32 H×W).

    After scaling by a factor from ``scale_range``, an image smaller than the crop is either padded
    (``pad_small``: alpha 0, foreground reflected; right for isolated synthetic objects, which then
    appear smaller) or enlarged to cover the crop (as the literature does for real photos, whose
    subjects may touch the image border).  Returns crop×crop arrays.
    """
    h, w = alpha.shape
    scale = rng.uniform(*scale_range)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    if not pad_small and min(nh, nw) < crop:
        cover = crop / min(nh, nw)
        nh, nw = max(crop, round(nh * cover)), max(crop, round(nw * cover))
    if (nh, nw) != (h, w):
        fg = _resize(fg, nw, nh)
        alpha = _resize(alpha, nw, nh)
    if pad_small and (nh < crop or nw < crop):
        # Centre the object in the padded frame, with a random offset.
        py, px = max(crop - nh, 0), max(crop - nw, 0)
        top, left = int(rng.integers(0, py + 1)), int(rng.integers(0, px + 1))
        fg = cv2.copyMakeBorder(fg, top, py - top, left, px - left, cv2.BORDER_REFLECT_101)
        alpha = cv2.copyMakeBorder(alpha, top, py - top, left, px - left, cv2.BORDER_CONSTANT, value=0)
    y, x = _crop_origin(alpha, crop, rng)
    fg = fg[y : y + crop, x : x + crop]
    alpha = alpha[y : y + crop, x : x + crop]
    if rng.random() < 0.5:
        fg, alpha = fg[:, ::-1], alpha[:, ::-1]
    fg = color_jitter(np.ascontiguousarray(fg), rng)
    alpha = np.clip(alpha, 0, 1)
    # Resampling leaves rounding residue such as 0.99999994 in flat regions; snap it so that alpha == 1
    # and alpha == 0 mean what the trimap says.
    alpha[alpha < ALPHA_EPS] = 0
    alpha[alpha > 1 - ALPHA_EPS] = 1
    return fg, alpha


def make_sample(fg: np.ndarray, alpha: np.ndarray, bg: np.ndarray, trimap: np.ndarray) -> MattingSample:
    """Tensors of the :class:`MattingSample` contract from crop-sized numpy arrays."""
    image = composite(fg, alpha, bg)

    def rgb(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1))).float().div_(255)

    return MattingSample(
        image=rgb(image),
        trimap=torch.from_numpy(trimap[None].astype(np.float32) / 255),
        alpha=torch.from_numpy(np.ascontiguousarray(alpha[None], dtype=np.float32)),
        fg=rgb(fg),
        bg=rgb(bg),
    )


class _EpochMixin:
    seed: int
    length: int
    epoch: int = 0

    def __len__(self) -> int:
        return self.length

    def _item(self, index: int) -> tuple[int, np.random.Generator]:
        """``index`` normalized as a sequence does (negative counts from the end) and its generator."""
        if not -self.length <= index < self.length:
            raise IndexError(f"index {index} out of range for {self.length} samples")
        index %= self.length
        return index, self._rng(index)

    def set_epoch(self, epoch: int) -> None:
        """Draw different augmentations for every item from now on (epoch 0 is the default).

        Item i uses ``np.random.default_rng([seed, i])`` in epoch 0 and ``[seed, i, epoch]`` after.  With
        persistent DataLoader workers call this before the workers start: they hold their own copy."""
        if epoch < 0:
            raise ValueError(f"epoch must be >= 0, got {epoch}")
        self.epoch = int(epoch)

    def _rng(self, index: int) -> np.random.Generator:
        # SeedSequence ignores trailing zeros ([s, i] == [s, i, 0]), so epoch 0 is exactly [seed, i].
        key = [self.seed, index] if self.epoch == 0 else [self.seed, index, self.epoch]
        return np.random.default_rng(key)


# ------------------------------------------------------------------------------------------- datasets


class SyntheticMattingDataset(_EpochMixin, Dataset):
    """``length`` synthetic composites of ``crop``×``crop`` pixels (see :mod:`.synthetic`).

    Item i is generated from ``np.random.default_rng([seed, i])``: an object of
    :data:`SYNTHETIC_MARGIN` × crop pixels, augmented by :func:`augment_pair`, composited on
    :func:`random_background`, with a :func:`random_trimap`.  About 40–60 ms per 512 crop on one core.
    """

    def __init__(self, length: int, crop: int = 512, seed: int = 0):
        if length < 0:
            raise ValueError(f"length must be >= 0, got {length}")
        if crop < 32:
            raise ValueError(f"crop must be at least 32, got {crop}")
        self.length, self.crop, self.seed = int(length), int(crop), int(seed)

    def __getitem__(self, index: int) -> MattingSample:
        _, rng = self._item(index)
        size = round(self.crop * SYNTHETIC_MARGIN)
        fg, alpha = generate_sample(rng, size)
        fg, alpha = augment_pair(fg, alpha, rng, self.crop, pad_small=True)
        bg = random_background(rng, self.crop)
        trimap = random_trimap(alpha, rng)
        return make_sample(fg, alpha, bg, trimap)


def held_out_test_set(n: int = 50, crop: int = 512, seed: int = HELD_OUT_SEED) -> list[MattingSample]:
    """A fixed synthetic test set: items 0..n−1 of ``SyntheticMattingDataset(n, crop, seed)``.

    Disjoint from training as long as training does not use ``seed`` (default :data:`HELD_OUT_SEED`).
    Held in memory: about 11 MB per 512 crop (550 MB for the defaults).
    """
    dataset = SyntheticMattingDataset(n, crop, seed)
    return [dataset[i] for i in range(n)]


def _list_images(folder: Path | str, role: str) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"The {role} folder {folder} does not exist or is not a folder.")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
    if not files:
        raise ValueError(
            f"The {role} folder {folder} holds no images ({', '.join(sorted(IMAGE_EXTENSIONS))})."
        )
    return files


def _pair_files(fg_files: list[Path], alpha_files: list[Path]) -> list[tuple[Path, Path]]:
    """Match foregrounds to alphas by file name, or else by stem (fg ``x.jpg`` with alpha ``x.png``)."""
    by_name = {p.name: p for p in alpha_files}
    if all(p.name in by_name for p in fg_files) and len(alpha_files) == len(fg_files):
        return [(p, by_name[p.name]) for p in fg_files]
    fg_stems = {p.stem: p for p in fg_files}
    alpha_stems = {p.stem: p for p in alpha_files}
    unique_stems = len(fg_stems) == len(fg_files) and len(alpha_stems) == len(alpha_files)
    if unique_stems and fg_stems.keys() == alpha_stems.keys():
        return [(fg_stems[s], alpha_stems[s]) for s in sorted(fg_stems)]
    missing_alpha = sorted(set(fg_stems) - set(alpha_stems))
    missing_fg = sorted(set(alpha_stems) - set(fg_stems))
    parts = []
    if missing_alpha:
        parts.append(f"{len(missing_alpha)} foreground(s) without an alpha (e.g. {', '.join(missing_alpha[:5])})")
    if missing_fg:
        parts.append(f"{len(missing_fg)} alpha(s) without a foreground (e.g. {', '.join(missing_fg[:5])})")
    if not parts:
        parts.append("some file names are used by several images with different extensions")
    raise ValueError("The foreground and alpha folders do not hold the same file names: " + "; ".join(parts) + ".")


def _read(path: Path, flags: int) -> np.ndarray:
    # imdecode from bytes: cv2.imread cannot report why it failed and mishandles some paths.
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise ValueError(f"Cannot read {path}: {exc}") from exc
    image = cv2.imdecode(data, flags)
    if image is None:
        raise ValueError(f"Cannot decode {path}: not an image OpenCV can read.")
    return image


def _to_uint8(image: np.ndarray) -> np.ndarray:
    if image.dtype == np.uint16:
        return (image.astype(np.float32) * (255 / 65535) + 0.5).astype(np.uint8)
    if image.dtype != np.uint8:
        raise ValueError(f"unsupported image depth {image.dtype}")
    return image


def load_foreground(path: Path | str) -> np.ndarray:
    """A foreground image as ``uint8`` H×W×3 RGB (gray repeated, an alpha channel dropped)."""
    image = _to_uint8(_read(Path(path), cv2.IMREAD_UNCHANGED))
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def load_alpha(path: Path | str) -> np.ndarray:
    """A ground-truth alpha as float32 H×W in [0, 1] (8- or 16-bit gray; of a colour file, the first
    channel, which the Adobe set stores as R = G = B)."""
    image = _read(Path(path), cv2.IMREAD_UNCHANGED)
    scale = 1 / 65535 if image.dtype == np.uint16 else 1 / 255
    if image.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"Cannot use {path} as an alpha: unsupported depth {image.dtype}.")
    if image.ndim == 3:
        image = image[:, :, 0]
    return image.astype(np.float32) * scale


class Composition1KDataset(_EpochMixin, Dataset):
    """The Adobe / Composition-1K training layout, composited on the fly.

    ``fg_dir`` and ``alpha_dir`` hold foregrounds and alphas with the same file names (or the same
    stems); ``bg_dir`` holds backgrounds (COCO, VOC, …).  Item i is foreground i mod n_fg on a
    background drawn by the item's generator, augmented as :class:`SyntheticMattingDataset` except
    that foregrounds smaller than the crop after scaling are enlarged, not padded.  ``length`` defaults
    to max(n_fg, n_bg).  Raises ``ValueError`` for missing or empty folders or mismatched names.
    """

    def __init__(
        self,
        fg_dir: Path | str,
        alpha_dir: Path | str,
        bg_dir: Path | str,
        crop: int = 512,
        length: int | None = None,
        seed: int = 0,
    ):
        if crop < 32:
            raise ValueError(f"crop must be at least 32, got {crop}")
        self.pairs = _pair_files(_list_images(fg_dir, "foreground"), _list_images(alpha_dir, "alpha"))
        self.backgrounds = _list_images(bg_dir, "background")
        if length is not None and length < 0:
            raise ValueError(f"length must be >= 0, got {length}")
        self.length = max(len(self.pairs), len(self.backgrounds)) if length is None else int(length)
        self.crop, self.seed = int(crop), int(seed)

    def __getitem__(self, index: int) -> MattingSample:
        index, rng = self._item(index)
        fg_path, alpha_path = self.pairs[index % len(self.pairs)]
        fg, alpha = load_foreground(fg_path), load_alpha(alpha_path)
        if fg.shape[:2] != alpha.shape:
            raise ValueError(
                f"{fg_path.name} is {fg.shape[1]}×{fg.shape[0]} but its alpha {alpha_path.name} is "
                f"{alpha.shape[1]}×{alpha.shape[0]}."
            )
        fg, alpha = augment_pair(fg, alpha, rng, self.crop, pad_small=False)
        bg_path = self.backgrounds[int(rng.integers(len(self.backgrounds)))]
        bg = _cover_crop(load_foreground(bg_path), self.crop, rng)
        trimap = random_trimap(alpha, rng)
        return make_sample(fg, alpha, bg, trimap)


def _cover_crop(image: np.ndarray, crop: int, rng: np.random.Generator) -> np.ndarray:
    """A random crop×crop window of ``image`` after scaling it so that its short side is 1–1.5× the crop,
    flipped half the time (``uint8`` crop×crop×3)."""
    h, w = image.shape[:2]
    scale = crop / min(h, w) * rng.uniform(1.0, 1.5)
    nh, nw = max(crop, round(h * scale)), max(crop, round(w * scale))
    image = _resize(image, nw, nh)
    y, x = int(rng.integers(0, nh - crop + 1)), int(rng.integers(0, nw - crop + 1))
    image = image[y : y + crop, x : x + crop]
    if rng.random() < 0.5:
        image = image[:, ::-1]
    return np.ascontiguousarray(image)


# ------------------------------------------------------------------------ real photos with known alpha


P_WIDE_UNKNOWN = 0.3
"""Share of photo samples whose unknown region is dilated far past GenTrimap's band: designers paint
"unknown" generously over hair, and the model must not fog over such areas."""
WIDE_UNKNOWN_RANGE = (10, 100)
"""Dilation of the unknown region (px at :data:`TRIMAP_REFERENCE_SIZE`) for those samples."""


@functools.lru_cache(maxsize=16)
def _photo_foreground(image_path: str, alpha_path: str) -> tuple[np.ndarray, np.ndarray]:
    """The foreground colours of a photo with known alpha (pymatting's multilevel estimate), cached per
    process: a photo's own background would otherwise bleed into every new composite at soft pixels."""
    from matteapp.engine.foreground import estimate_foreground

    image = load_foreground(image_path)
    alpha = load_alpha(alpha_path)
    if image.shape[:2] != alpha.shape:
        raise ValueError(
            f"{Path(image_path).name} is {image.shape[1]}×{image.shape[0]} but its alpha is {alpha.shape[1]}×{alpha.shape[0]}."
        )
    fg = estimate_foreground(image, alpha, threads=1)
    fg.setflags(write=False)
    alpha.setflags(write=False)
    return fg, alpha


def degrade(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Camera and file degradations of a composite (``uint8`` H×W×3): sometimes a slight blur, sensor
    noise and JPEG round-trip, each independently, so the model does not rely on clean 8-bit edges."""
    if rng.random() < 0.2:
        image = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.3, 1.0))
    if rng.random() < 0.3:
        noise = rng.normal(0, rng.uniform(1, 5), image.shape).astype(np.float32)
        image = np.clip(image.astype(np.float32) + noise, 0, 255).astype(np.uint8)
    if rng.random() < 0.3:
        ok, buf = cv2.imencode(".jpg", image[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(60, 96))])
        if ok:
            image = np.ascontiguousarray(cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1])
    return image


def widen_unknown(trimap: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``trimap`` with its unknown region dilated by a random radius from :data:`WIDE_UNKNOWN_RANGE`
    (scaled to the crop as :func:`random_trimap` does)."""
    scale = max(1.0, min(trimap.shape) / TRIMAP_REFERENCE_SIZE)
    radius = int(rng.integers(*WIDE_UNKNOWN_RANGE) * scale)
    unknown = cv2.dilate((trimap == UNKNOWN).astype(np.uint8), _ellipse_kernel(2 * radius + 1))
    out = trimap.copy()
    out[unknown == 1] = UNKNOWN
    return out


def _rotate_pair(fg: np.ndarray, alpha: np.ndarray, rng: np.random.Generator, max_angle: float = 15.0):
    """A small random rotation of a foreground and its alpha (edges reflected / alpha clamped)."""
    h, w = alpha.shape
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), rng.uniform(-max_angle, max_angle), 1.0)
    fg = cv2.warpAffine(fg, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    alpha = cv2.warpAffine(alpha, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return fg, alpha


class PhotoMattingDataset(_EpochMixin, Dataset):
    """Real photos with ground-truth alpha, re-composited: Composition-1K's recipe on a few photos.

    ``pairs`` are (photo, alpha) files.  Each photo's foreground colours are estimated once
    (pymatting, see :func:`_photo_foreground`); item i takes photo i mod n, rotates it slightly
    (half the time), scales / crops / flips / colour-jitters it (:func:`augment_pair`), composites it
    over a new background (:func:`random_background`, or another of the photos), degrades the result
    (:func:`degrade`: blur, noise, JPEG) and draws a GenTrimap, dilated far past the soft region for
    :data:`P_WIDE_UNKNOWN` of the items.  With ``synthetic_share`` > 0 that share of the items is a
    :class:`SyntheticMattingDataset` sample instead, so hair / veil / hole shapes the photos lack stay
    in the mix.
    """

    def __init__(
        self,
        pairs: list[tuple[Path | str, Path | str]],
        crop: int = 512,
        length: int = 10**9,
        seed: int = 0,
        synthetic_share: float = 0.0,
    ):
        if not pairs:
            raise ValueError("PhotoMattingDataset needs at least one (photo, alpha) pair")
        if crop < 32:
            raise ValueError(f"crop must be at least 32, got {crop}")
        if not 0.0 <= synthetic_share < 1.0:
            raise ValueError(f"synthetic_share must be in [0, 1), got {synthetic_share}")
        self.pairs = [(str(a), str(b)) for a, b in pairs]
        self.length, self.crop, self.seed = int(length), int(crop), int(seed)
        self.synthetic_share = float(synthetic_share)
        self._synthetic = SyntheticMattingDataset(length=self.length, crop=self.crop, seed=self.seed + 7919)
        # Estimate the foregrounds here, in the parent: DataLoader workers inherit the cache, and
        # numba's thread pool deadlocks when first used in a forked worker.
        for pair in self.pairs:
            _photo_foreground(*pair)

    def __getitem__(self, index: int) -> MattingSample:
        index, rng = self._item(index)
        if rng.random() < self.synthetic_share:
            return self._synthetic[index]
        fg, alpha = _photo_foreground(*self.pairs[index % len(self.pairs)])
        fg, alpha = np.array(fg), np.array(alpha)
        if rng.random() < 0.5:
            fg, alpha = _rotate_pair(fg, alpha, rng)
        fg, alpha = augment_pair(fg, alpha, rng, self.crop, pad_small=False)
        if len(self.pairs) > 1 and rng.random() < 0.2:
            other = load_foreground(self.pairs[int(rng.integers(len(self.pairs)))][0])
            bg = _cover_crop(other, self.crop, rng)
        else:
            bg = random_background(rng, self.crop)
        trimap = random_trimap(alpha, rng)
        if rng.random() < P_WIDE_UNKNOWN:
            trimap = widen_unknown(trimap, rng)
        sample = make_sample(fg, alpha, bg, trimap)
        image = (sample["image"].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        sample["image"] = torch.from_numpy(np.ascontiguousarray(degrade(image, rng).transpose(2, 0, 1))).float().div_(255)
        return sample
