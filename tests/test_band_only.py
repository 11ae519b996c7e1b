"""Band-only decoding: tiles without unknown pixels are not decoded, and the alpha stays bit-identical."""

import cv2
import numpy as np
import pytest
import torch
from conftest import DEV_DATA, REFERENCE, require

from matteapp.engine.trimap import load_trimap, trimap_from_mask
from matteapp.io.images import load_image
from matteapp.model import MattingConfig, build_model
from matteapp.model.checkpoint import load_network
from matteapp.model.predictor import MattePredictor


@pytest.fixture(scope="module")
def random_model():
    torch.manual_seed(1)
    return MattePredictor(build_model(MattingConfig(name="d96", embed_dim=96, num_heads=3)), "cpu", "fp32")


def _both(model, image, trimap, tile):
    events = []
    band = model.predict(image, trimap, decoder_tile=tile, progress=events.append)
    full = model.predict(image, trimap, decoder_tile=tile, band_only=False)
    return band, full, events


def _assert_covered(events, shape):
    """The streamed decoder tiles cover every pixel exactly once, as a viewer needs."""
    cover = np.zeros(shape, np.int32)
    for e in events:
        if e.stage == "decoder":
            y0, y1, x0, x1 = e.tile
            cover[y0:y1, x0:x1] += 1
            assert e.alpha_tile.shape == (y1 - y0, x1 - x0)
    assert (cover == 1).all()


def test_reference_photo_is_bit_identical_and_skips_known_tiles():
    model = MattePredictor(load_network(require(REFERENCE / "mematte_d96.pth")), "cpu", "fp32")
    image = cv2.cvtColor(cv2.imread(str(REFERENCE / "image.png")), cv2.COLOR_BGR2RGB)
    trimap = load_trimap(REFERENCE / "trimap.png", expected_size=(image.shape[1], image.shape[0]))
    band, full, events = _both(model, image, trimap, tile=128)
    assert np.array_equal(band.alpha, full.alpha)
    decoded, total = band.decoder_tiles
    assert full.decoder_tiles == (total, total)
    tiles_with_unknown = sum(
        1 for e in events if e.stage == "decoder" and (trimap[e.tile[0] : e.tile[1], e.tile[2] : e.tile[3]] == 128).any()
    )
    assert decoded == tiles_with_unknown < total
    _assert_covered(events, trimap.shape)


@pytest.mark.parametrize("band", [4, 24, 80])
def test_dev_photo_with_bands_of_several_widths(random_model, band):
    photo = load_image(require(DEV_DATA / "image" / "GT04.png"))
    gt = cv2.imread(str(DEV_DATA / "alpha" / "GT04.png"), cv2.IMREAD_GRAYSCALE)
    trimap = trimap_from_mask(gt > 127, band_width=band)
    band_result, full, events = _both(random_model, photo.rgb, trimap, tile=128)
    assert np.array_equal(band_result.alpha, full.alpha)
    decoded, total = band_result.decoder_tiles
    assert 0 < decoded < total
    _assert_covered(events, trimap.shape)


def test_a_trimap_without_unknown_decodes_nothing(random_model):
    rng = np.random.default_rng(0)
    image = (rng.random((200, 300, 3)) * 255).astype(np.uint8)
    trimap = np.zeros((200, 300), np.uint8)
    trimap[50:150, 100:200] = 255
    result = random_model.predict(image, trimap, decoder_tile=64)
    assert result.decoder_tiles[0] == 0
    assert np.array_equal(result.alpha, (trimap == 255).astype(np.float32))


def test_a_band_crossing_a_tile_corner_decodes_only_that_corner():
    from matteapp.model.predictor import _unknown_box

    known = np.ones((128, 128), bool)
    known[100:110, 3:20] = False  # rows 100–109, columns 3–19 of the tile at (256, 512)
    assert _unknown_box(known, 256, 512, 384, 640) == (256 + 96, 256 + 112, 512 + 0, 512 + 32)
    known[:] = True
    known[127, 127] = False
    assert _unknown_box(known, 0, 0, 120, 128) == (112, 120, 112, 128)  # clipped to the tile's end
