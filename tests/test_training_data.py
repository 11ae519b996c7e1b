"""matteapp.training.synthetic and matteapp.training.data: synthetic mattes, trimaps, datasets."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from conftest import DEV_DATA, require

pytest.importorskip("skimage", reason="scikit-image provides the photos of the synthetic data")

from matteapp.training import synthetic  # noqa: E402
from matteapp.training.data import (  # noqa: E402
    ALPHA_EPS,
    P_WIDE_UNKNOWN,
    TRIMAP_REFERENCE_SIZE,
    WIDE_UNKNOWN_RANGE,
    Composition1KDataset,
    PhotoMattingDataset,
    SyntheticMattingDataset,
    composite,
    held_out_test_set,
    random_trimap,
    widen_unknown,
)
from matteapp.training.synthetic import FEATURES, backgrounds, generate_sample, random_background  # noqa: E402

UNKNOWN_VALUE = np.float32(128 / 255)


def fractional(alpha) -> np.ndarray:
    alpha = np.asarray(alpha)
    return (alpha > ALPHA_EPS) & (alpha < 1 - ALPHA_EPS)


@pytest.fixture(scope="module")
def samples():
    """40 synthetic objects at 512 px: (fg, alpha, info)."""
    return [generate_sample(np.random.default_rng([2024, i]), 512, return_info=True) for i in range(40)]


# ------------------------------------------------------------------------------------------ synthetic


@pytest.mark.parametrize("size", [512, 200])
def test_generate_sample_types_shapes_ranges(size):
    for i in range(3):
        fg, alpha = generate_sample(np.random.default_rng([1, i]), size)
        assert fg.dtype == np.uint8 and fg.shape == (size, size, 3)
        assert alpha.dtype == np.float32 and alpha.shape == (size, size)
        assert np.isfinite(alpha).all()
        assert alpha.min() >= 0 and alpha.max() <= 1
        assert (alpha == 1).any() and (alpha == 0).any()


def test_generate_sample_rejects_tiny_size():
    with pytest.raises(ValueError):
        generate_sample(np.random.default_rng(0), 8)


def test_generate_sample_is_deterministic():
    fg1, a1, info1 = generate_sample(np.random.default_rng([5, 3]), 256, return_info=True)
    fg2, a2, info2 = generate_sample(np.random.default_rng([5, 3]), 256, return_info=True)
    assert np.array_equal(fg1, fg2) and np.array_equal(a1, a2) and info1 == info2
    fg3, a3 = generate_sample(np.random.default_rng([5, 4]), 256)
    assert not np.array_equal(a1, a3)
    assert not np.array_equal(fg1, fg3)


def test_every_feature_appears(samples):
    infos = [info for _, _, info in samples]
    rates = {key: np.mean([info[key] for info in infos]) for key in FEATURES}
    print("feature rates over 40 samples:", rates)
    for key in FEATURES:
        assert 0.1 <= rates[key] <= 0.9, (key, rates[key])
    # Each sample mixes the solid shape with at least one of the structural features.
    assert all(info["strands"] or info["tufts"] or info["semi_transparent"] or info["holes"] for info in infos)
    assert {info["strand_style"] for info in infos} >= {"hair", "fur"}
    assert {info["semi_kind"] for info in infos} >= {"glass", "veil"}
    assert {info["hole_kind"] for info in infos} >= {"lace", "cutouts"}
    assert {kind for info in infos for kind in info["shapes"]} == {"blob", "star", "ellipse", "rounded_rect"}
    assert any(info["texture"] == "noise" for info in infos)
    assert any(info["texture"] in synthetic.PHOTO_NAMES for info in infos)
    for info in infos:
        assert info["n_strands"] > 0 if (info["strands"] or info["tufts"]) else info["n_strands"] == 0
        if info["hair_color"] is not None:
            assert all(0 <= c <= 1 for c in info["hair_color"])
        assert (info["motion_length"] > 0) == info["motion_blur"]


def test_alpha_has_substantial_fractional_pixels(samples):
    shares = np.array([fractional(alpha).mean() for _, alpha, _ in samples])
    print("fractional-alpha share: min %.4f median %.4f" % (shares.min(), np.median(shares)))
    assert (shares > 0.001).all()
    assert (shares > 0.02).mean() >= 0.7


def test_semi_transparent_samples_have_mid_alpha(samples):
    for fg, alpha, info in samples:
        if info["semi_transparent"]:
            mid = ((alpha > 0.15) & (alpha < 0.85)).sum() / max((alpha > 0).sum(), 1)
            assert mid > 0.05, info


def test_strands_reach_out_of_the_solid_shape(samples):
    """Long hair leaves fractional alpha well away from the opaque body."""
    far_shares = []
    for _, alpha, info in samples:
        if info["strand_style"] == "hair" and not info["motion_blur"]:
            solid = (alpha >= 0.5).astype(np.uint8)
            distance = cv2.distanceTransform(1 - solid, cv2.DIST_L2, 3)
            frac = fractional(alpha)
            far_shares.append((frac & (distance > 8)).sum() / frac.sum())
    assert len(far_shares) >= 5
    assert np.median(far_shares) > 0.1


def test_foreground_is_plausible_where_alpha_is_zero(samples):
    """No black or constant fill outside the object: the texture continues."""
    for fg, alpha, _ in samples[:10]:
        outside = fg[alpha == 0]
        assert outside.std() > 2
        assert outside.mean() > 5


def test_backgrounds_pool_and_random_background():
    pool = backgrounds()
    assert len(pool) >= 10
    for image in pool:
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
        assert not image.flags.writeable
    assert backgrounds() is pool
    draws = [random_background(np.random.default_rng([3, i]), 96) for i in range(16)]
    for bg in draws:
        assert bg.dtype == np.uint8 and bg.shape == (96, 96, 3)
    assert len({bg.tobytes() for bg in draws}) == len(draws)
    rect = random_background(np.random.default_rng(1), (40, 70))
    assert rect.shape == (40, 70, 3)
    assert np.array_equal(rect, random_background(np.random.default_rng(1), (40, 70)))
    with pytest.raises(ValueError):
        random_background(np.random.default_rng(0), 0)


# --------------------------------------------------------------------------------------------- trimap


def test_random_trimap_contract(samples):
    for i, (_, alpha, _) in enumerate(samples[:12]):
        trimap = random_trimap(alpha, np.random.default_rng(i))
        assert trimap.dtype == np.uint8 and trimap.shape == alpha.shape
        assert set(np.unique(trimap).tolist()) <= {0, 128, 255}
        assert (trimap[fractional(alpha)] == 128).all()
        assert (alpha[trimap == 255] >= 1 - ALPHA_EPS).all()
        assert (alpha[trimap == 0] <= ALPHA_EPS).all()


def test_random_trimap_kernel_range_and_scaling():
    def band_width(size: int, kernel: int) -> float:
        alpha = np.zeros((size, size), np.float32)
        alpha[:, size // 2 :] = 1
        trimap = random_trimap(alpha, np.random.default_rng(0), kernel, kernel)
        return float((trimap[size // 2] == 128).sum())

    assert band_width(512, 1) == 0
    # An odd elliptical kernel of size k erodes by k // 2 on each side.
    assert band_width(512, 21) == 20
    # The range is defined for 512 px: kernel 22 becomes 11 at 256 px and 42 at 1024 px.
    assert band_width(256, 22) == 10
    assert band_width(1024, 21) == 41

    alpha = np.zeros((512, 512), np.float32)
    alpha[:, 256:] = 1
    widths = {int((random_trimap(alpha, np.random.default_rng(s))[256] == 128).sum()) for s in range(40)}
    assert min(widths) >= 0 and max(widths) <= 2 * 15 and len(widths) > 5
    with pytest.raises(ValueError):
        random_trimap(alpha, np.random.default_rng(0), 5, 2)
    with pytest.raises(ValueError):
        random_trimap(np.zeros((4, 4, 3)), np.random.default_rng(0))


def test_composite_formula():
    fg = np.full((2, 3, 3), 200, np.uint8)
    bg = np.full((2, 3, 3), 100, np.uint8)
    alpha = np.array([[0, 0.5, 1], [0.25, 0.75, 0.1]], np.float32)
    out = composite(fg, alpha, bg)
    expected = np.round((200 * alpha + 100 * (1 - alpha)))[:, :, None].repeat(3, 2)
    assert out.dtype == np.uint8
    assert np.abs(out.astype(int) - expected).max() <= 1
    assert np.array_equal(composite(fg, (alpha * 255).round().astype(np.uint8), bg)[0, 0], [100, 100, 100])
    with pytest.raises(ValueError):
        composite(fg, alpha[:1], bg)


# -------------------------------------------------------------------------------------------- datasets


def check_sample(sample, crop: int, degraded: bool = False) -> None:
    assert set(sample) == {"image", "trimap", "alpha", "fg", "bg"}
    for key, channels in (("image", 3), ("trimap", 1), ("alpha", 1), ("fg", 3), ("bg", 3)):
        tensor = sample[key]
        assert isinstance(tensor, torch.Tensor) and tensor.dtype == torch.float32, key
        assert tensor.shape == (channels, crop, crop), key
        assert tensor.min() >= 0 and tensor.max() <= 1, key
    trimap, alpha = sample["trimap"].numpy(), sample["alpha"].numpy()
    assert set(np.unique(trimap).tolist()) <= {0.0, float(UNKNOWN_VALUE), 1.0}
    assert (trimap[fractional(alpha)] == UNKNOWN_VALUE).all()
    assert (alpha[trimap == 1] >= 1 - ALPHA_EPS).all()
    assert (alpha[trimap == 0] <= ALPHA_EPS).all()
    recomposed = sample["fg"] * sample["alpha"] + sample["bg"] * (1 - sample["alpha"])
    if degraded:  # blur, noise and JPEG move pixels a little, not the picture
        assert (recomposed - sample["image"]).abs().mean() <= 0.03
    else:
        assert (recomposed - sample["image"]).abs().max() <= 1 / 255 + 1e-5


@pytest.fixture(scope="module")
def synthetic_items():
    dataset = SyntheticMattingDataset(24, crop=256, seed=0)
    return [dataset[i] for i in range(len(dataset))]


def test_synthetic_dataset_contract(synthetic_items):
    for sample in synthetic_items:
        check_sample(sample, 256)


def test_synthetic_dataset_crops_contain_unknown_pixels(synthetic_items):
    with_unknown = [bool((s["trimap"] == UNKNOWN_VALUE).any()) for s in synthetic_items]
    with_fractional = [bool(fractional(s["alpha"].numpy()).any()) for s in synthetic_items]
    assert np.mean(with_unknown) >= 0.8
    assert np.mean(with_fractional) >= 0.8


def test_synthetic_dataset_is_deterministic_per_index(synthetic_items):
    again = SyntheticMattingDataset(24, crop=256, seed=0)
    for i in (0, 5):
        for key, tensor in again[i].items():
            assert torch.equal(tensor, synthetic_items[i][key]), key
    assert not torch.equal(synthetic_items[0]["alpha"], synthetic_items[1]["alpha"])
    assert not torch.equal(synthetic_items[0]["image"], synthetic_items[1]["image"])
    other_seed = SyntheticMattingDataset(24, crop=256, seed=1)[0]
    assert not torch.equal(other_seed["image"], synthetic_items[0]["image"])
    assert torch.equal(again[-24]["alpha"], synthetic_items[0]["alpha"])
    with pytest.raises(IndexError):
        again[24]


def test_set_epoch_redraws_augmentations(synthetic_items):
    dataset = SyntheticMattingDataset(24, crop=256, seed=0)
    dataset.set_epoch(1)
    assert not torch.equal(dataset[0]["image"], synthetic_items[0]["image"])
    dataset.set_epoch(0)
    assert torch.equal(dataset[0]["image"], synthetic_items[0]["image"])


def test_synthetic_dataset_identical_across_workers():
    dataset = SyntheticMattingDataset(4, crop=96, seed=3)
    loader = torch.utils.data.DataLoader(dataset, batch_size=2, num_workers=2)
    batches = list(loader)
    direct = [dataset[i] for i in range(4)]
    for b, batch in enumerate(batches):
        assert batch["image"].shape == (2, 3, 96, 96)
        for j in range(2):
            for key in direct[0]:
                assert torch.equal(batch[key][j], direct[2 * b + j][key]), key


def test_held_out_test_set():
    test_set = held_out_test_set(n=3, crop=128)
    assert len(test_set) == 3
    for sample in test_set:
        check_sample(sample, 128)
    again = held_out_test_set(n=3, crop=128)
    assert all(torch.equal(a["image"], b["image"]) for a, b in zip(test_set, again))
    training = SyntheticMattingDataset(3, crop=128, seed=0)
    assert not any(torch.equal(test_set[i]["alpha"], training[i]["alpha"]) for i in range(3))


# ------------------------------------------------------------------------------------- real photos


def _distance_to(mask: np.ndarray) -> np.ndarray:
    """Euclidean distance of every pixel to the nearest True pixel of ``mask``."""
    return cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)


def _ring_trimap(size: int) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    r = np.hypot(yy - size / 2, xx - size / 2)
    return np.where(r < size * 0.2, 255, np.where(r < size * 0.2 + 3, 128, 0)).astype(np.uint8)


@pytest.mark.parametrize("size", [256, 1024])
def test_widen_unknown_dilates_the_unknown_region_by_a_drawn_radius(size):
    trimap = _ring_trimap(size)
    unknown = trimap == 128
    distance = _distance_to(unknown)
    scale = max(1.0, size / TRIMAP_REFERENCE_SIZE)
    reaches = set()
    for seed in range(6):
        out = widen_unknown(trimap, np.random.default_rng(seed))
        assert np.array_equal(out, widen_unknown(trimap, np.random.default_rng(seed)))
        assert set(np.unique(out).tolist()) <= {0, 128, 255}
        widened = out == 128
        assert widened[unknown].all()
        assert np.array_equal(out[~widened], trimap[~widened])  # known pixels only ever become unknown
        reach = float(distance[widened].max())
        assert WIDE_UNKNOWN_RANGE[0] * scale - 1 <= reach <= WIDE_UNKNOWN_RANGE[1] * scale
        assert widened[distance < reach - 1].all()  # a disc around the band: no gaps
        reaches.add(round(reach))
    assert len(reaches) > 1
    known = np.where(trimap == 128, 255, trimap)
    assert np.array_equal(widen_unknown(known, np.random.default_rng(0)), known)


GT01 = ("image/GT01.png", "alpha/GT01.png")


@pytest.fixture(scope="module")
def photo_dataset():
    pair = tuple(require(DEV_DATA / p) for p in GT01)
    return PhotoMattingDataset([pair], crop=128, length=1000, seed=3)


@pytest.fixture(scope="module")
def photo_items(photo_dataset):
    return [photo_dataset[i] for i in range(30)]


def test_photo_dataset_contract(photo_items):
    for sample in photo_items:
        check_sample(sample, 128, degraded=True)
    assert np.mean([fractional(s["alpha"].numpy()).any() for s in photo_items]) >= 0.7


def _unknown_reach(sample) -> float:
    """How far the unknown region reaches past the pixels whose alpha differs from their trimap class:
    GenTrimap's band stays within its erosion kernel, a widened one goes far past it."""
    alpha, trimap = sample["alpha"][0].numpy(), sample["trimap"][0].numpy()
    unknown = trimap == UNKNOWN_VALUE
    if not unknown.any():
        return 0.0
    not_opaque, not_clear = alpha < 1 - ALPHA_EPS, alpha > ALPHA_EPS
    to_edge = np.where(alpha >= 1 - ALPHA_EPS, _distance_to(not_opaque), _distance_to(not_clear))
    return float(to_edge[unknown].max())


def test_photo_dataset_widens_the_unknown_region_for_some_items(photo_items):
    # At a 128 crop GenTrimap erodes by at most 8 px; widening dilates by 10–100 px.
    wide = [_unknown_reach(s) > 8 for s in photo_items]
    assert 0.1 <= np.mean(wide) <= 0.6, f"{sum(wide)} of {len(wide)} widened, expected about {P_WIDE_UNKNOWN:.0%}"


def test_photo_dataset_is_deterministic_per_index(photo_dataset, photo_items):
    again = PhotoMattingDataset(photo_dataset.pairs, crop=128, length=1000, seed=3)
    for i in (0, 7):
        for key, tensor in again[i].items():
            assert torch.equal(tensor, photo_items[i][key]), key
    assert not torch.equal(photo_items[0]["image"], photo_items[1]["image"])
    other = PhotoMattingDataset(photo_dataset.pairs, crop=128, length=1000, seed=4)[0]
    assert not torch.equal(other["image"], photo_items[0]["image"])


def test_photo_dataset_mixes_in_synthetic_items(photo_dataset):
    mixed = PhotoMattingDataset(photo_dataset.pairs, crop=128, length=1000, seed=3, synthetic_share=0.5)
    synthetic = [torch.equal(mixed[i]["alpha"], mixed._synthetic[i]["alpha"]) for i in range(12)]
    assert any(synthetic) and not all(synthetic)
    with pytest.raises(ValueError, match="synthetic_share"):
        PhotoMattingDataset(photo_dataset.pairs, synthetic_share=1.0)
    with pytest.raises(ValueError, match="at least one"):
        PhotoMattingDataset([])


# ------------------------------------------------------------------------------------- Composition-1K


def write_rgb(path, rgb: np.ndarray) -> None:
    assert cv2.imwrite(str(path), np.ascontiguousarray(rgb[:, :, ::-1]))


@pytest.fixture
def comp1k(tmp_path):
    """Two foregrounds (one smaller than the crop, one with an alpha of another extension) and three
    backgrounds."""
    rng = np.random.default_rng(0)
    fg_dir, alpha_dir, bg_dir = tmp_path / "fg", tmp_path / "alpha", tmp_path / "bg"
    for d in (fg_dir, alpha_dir, bg_dir):
        d.mkdir()
    yy, xx = np.mgrid[0:150, 0:120]
    disc = np.clip(40 - np.hypot(yy - 75, xx - 60), 0, 1)  # antialiased disc: soft edge
    write_rgb(fg_dir / "a.png", np.full((150, 120, 3), (200, 40, 40), np.uint8))
    assert cv2.imwrite(str(alpha_dir / "a.png"), (disc * 255).round().astype(np.uint8))
    big = rng.integers(0, 255, (300, 260, 3), dtype=np.uint8)
    write_rgb(fg_dir / "b.jpg", big)
    alpha_b = np.zeros((300, 260), np.uint16)
    alpha_b[50:250, 40:220] = 65535
    alpha_b[50:250, 130] = 30000
    assert cv2.imwrite(str(alpha_dir / "b.png"), alpha_b)
    for i in range(3):
        write_rgb(bg_dir / f"bg{i}.jpg", rng.integers(0, 255, (90 + 20 * i, 140, 3), dtype=np.uint8))
    (bg_dir / "notes.txt").write_text("not an image")
    return fg_dir, alpha_dir, bg_dir


def test_composition1k_reader(comp1k):
    fg_dir, alpha_dir, bg_dir = comp1k
    dataset = Composition1KDataset(fg_dir, alpha_dir, bg_dir, crop=128, seed=0)
    assert len(dataset) == 3  # max(2 foregrounds, 3 backgrounds)
    assert [p[0].name for p in dataset.pairs] == ["a.png", "b.jpg"]
    items = [dataset[i] for i in range(3)]
    for sample in items:
        check_sample(sample, 128)
    # Item 0 is the red disc: where alpha is 1 the image is its (jittered) foreground, and the crop
    # was centred on its soft edge or enlarged to cover the crop, so unknown pixels are there.
    first = items[0]
    opaque = first["alpha"][0] == 1
    assert opaque.any()
    assert torch.allclose(first["image"][:, opaque], first["fg"][:, opaque], atol=1 / 255 + 1e-6)
    assert (first["fg"][0, opaque] > first["fg"][1, opaque]).all()
    again = Composition1KDataset(fg_dir, alpha_dir, bg_dir, crop=128, seed=0)
    assert torch.equal(again[1]["image"], items[1]["image"])
    assert len(Composition1KDataset(fg_dir, alpha_dir, bg_dir, crop=128, length=10)) == 10


def test_composition1k_errors(comp1k, tmp_path):
    fg_dir, alpha_dir, bg_dir = comp1k
    with pytest.raises(ValueError, match="does not exist"):
        Composition1KDataset(tmp_path / "missing", alpha_dir, bg_dir)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="holds no images"):
        Composition1KDataset(fg_dir, alpha_dir, empty)
    (alpha_dir / "b.png").rename(alpha_dir / "c.png")
    with pytest.raises(ValueError, match=r"same file names.*\bb\b.*\bc\b"):
        Composition1KDataset(fg_dir, alpha_dir, bg_dir)
    (alpha_dir / "c.png").unlink()
    assert cv2.imwrite(str(alpha_dir / "b.png"), np.zeros((10, 10), np.uint8))
    dataset = Composition1KDataset(fg_dir, alpha_dir, bg_dir, crop=64)
    with pytest.raises(ValueError, match="alpha"):
        dataset[1]
