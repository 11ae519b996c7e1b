"""The public inference API: inputs, padding, progress streaming, cancellation, devices, precisions."""

import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import DEV_DATA, require

import matteapp
from matteapp.model import MattingConfig, build_model
from matteapp.model import predictor as predictor_module
from matteapp.model.checkpoint import CheckpointError, save_network
from matteapp.model.predictor import (
    Cancelled,
    MattePredictor,
    bundled_model_path,
    cpu_has_fast_bf16,
    padded_size,
    resolve_device,
    resolve_precision,
)


@pytest.fixture(scope="module")
def predictor():
    torch.manual_seed(0)
    return MattePredictor(build_model(MattingConfig(name="d96", embed_dim=96, num_heads=3)), "cpu", "fp32")


@pytest.fixture(scope="module")
def inputs():
    rng = np.random.default_rng(0)
    image = (rng.random((150, 210, 3)) * 255).astype(np.uint8)
    trimap = np.zeros((150, 210), np.uint8)
    trimap[30:120, 40:170] = 128
    trimap[60:90, 80:130] = 255
    return image, trimap


def test_padding_quirk_of_official_inference():
    assert padded_size(530, 700) == (544, 704)
    assert padded_size(512, 700) == (544, 704)  # a side already divisible still grows by 32
    assert padded_size(512, 512) == (512, 512)
    assert padded_size(1, 1) == (32, 32)


def test_predict_returns_public_result(predictor, inputs):
    image, trimap = inputs
    result = predictor.predict(image, trimap)
    assert result.alpha.shape == (150, 210) and result.alpha.dtype == np.float32
    assert result.alpha.min() >= 0 and result.alpha.max() <= 1
    assert np.all(result.alpha[trimap == 0] == 0) and np.all(result.alpha[trimap == 255] == 1)
    assert result.token_grid == (160 // 16, 224 // 16)
    assert len(result.routing) == 4 and len(result.router_probs) == 4
    for mask, prob, stats in zip(result.routing, result.router_probs, result.block_routing):
        assert mask.dtype == bool and mask.shape == result.token_grid
        assert np.array_equal(mask, prob > 0.5)
        assert stats.routed == mask.sum() and stats.total == mask.size
    assert [s.block for s in result.block_routing] == [2, 5, 8, 11]
    assert set(result.timings) >= {"backbone", "decoder", "total"}


def test_vitmatte_has_no_routing(inputs):
    torch.manual_seed(0)
    cfg = MattingConfig(name="v96", embed_dim=96, num_heads=3, routed=False, global_rel_pos_size=32)
    result = MattePredictor(build_model(cfg), "cpu", "fp32").predict(*inputs)
    assert result.routing == [] and result.router_probs == []
    assert np.isnan(result.routed_fraction)


def test_cap_bounds_every_routing_map(predictor, inputs):
    result = predictor.predict(*inputs, max_global_tokens=5)
    assert all(m.sum() <= 5 for m in result.routing)
    with pytest.raises(ValueError):
        predictor.predict(*inputs, max_global_tokens=-1)


def test_progress_streams_routing_maps_before_alpha_tiles(predictor, inputs):
    events = []
    result = predictor.predict(*inputs, progress=events.append, decoder_tile=64)
    stages = [e.stage for e in events]
    assert stages.count("backbone") == 12 and stages[-1] == "done"
    routed = [e for e in events if e.routing is not None]
    assert [e.routed_index for e in routed] == [0, 1, 2, 3]
    assert [e.block for e in routed] == [2, 5, 8, 11]
    first_tile = stages.index("decoder")
    assert all(events.index(e) < first_tile for e in routed)
    fractions = [e.fraction for e in events]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    # the streamed tiles assemble to the final alpha
    assembled = np.full(result.alpha.shape, -1.0, np.float32)
    for e in events:
        if e.alpha_tile is not None:
            y0, y1, x0, x1 = e.tile
            assembled[y0:y1, x0:x1] = e.alpha_tile
    assert np.array_equal(assembled, result.alpha)
    for e, mask in zip(routed, result.routing):
        assert np.array_equal(e.routing, mask)


def test_cancel_between_stages(predictor, inputs):
    events = []

    def cancel():
        return sum(e.stage == "backbone" for e in events) >= 3

    with pytest.raises(Cancelled):
        predictor.predict(*inputs, progress=events.append, cancel=cancel)
    assert [e.stage for e in events] == ["backbone"] * 3


@pytest.mark.parametrize(
    "image, trimap, message",
    [
        (np.zeros((10, 10), np.uint8), np.zeros((10, 10), np.uint8), "H×W×3"),
        (np.zeros((10, 10, 3), np.float32), np.zeros((10, 10), np.uint8), "uint8"),
        (np.zeros((10, 10, 3), np.uint8), np.zeros((10, 12), np.uint8), "trimap is 12×10"),
        (np.zeros((10, 10, 3), np.uint8), np.zeros((10, 10), np.float32), "trimap must be uint8"),
    ],
)
def test_bad_inputs_are_explained(predictor, image, trimap, message):
    with pytest.raises(ValueError, match=message):
        predictor.predict(image, trimap)


def test_load_model_sources(tmp_path):
    model = matteapp.load_model("mematte-s", device="cpu", precision="fp32")
    assert model.config.embed_dim == 384 and model.is_routed and model.source == "preset:mematte-s"
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        matteapp.load_model(tmp_path / "missing.pth", device="cpu")


def test_load_model_without_a_source_uses_the_bundled_folder(tmp_path, monkeypatch):
    # Both branches run whatever matteapp/resources/models holds: the folder is redirected.
    empty = tmp_path / "empty"
    monkeypatch.setattr(predictor_module, "BUNDLED_MODEL_DIR", empty)
    assert bundled_model_path() is None
    with pytest.raises(FileNotFoundError, match="no bundled model"):
        matteapp.load_model()
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="no bundled model"):
        matteapp.load_model()

    bundled = tmp_path / "bundled"
    bundled.mkdir()
    torch.manual_seed(1)
    net = build_model(MattingConfig(name="d96", embed_dim=96, num_heads=3))
    save_network(net, bundled / "b-second.safetensors")
    save_network(net, bundled / "a-first.safetensors")
    monkeypatch.setattr(predictor_module, "BUNDLED_MODEL_DIR", bundled)
    assert bundled_model_path() == bundled / "a-first.safetensors"
    model = matteapp.load_model(device="cpu", precision="fp32")
    assert model.source == str(bundled / "a-first.safetensors")
    assert model.config.embed_dim == 96 and model.is_routed
    loaded = model.network.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in net.state_dict().items())


def test_device_and_precision_resolution():
    assert resolve_device("cpu").type == "cpu"
    auto = resolve_device("auto")
    assert auto.type == ("cuda" if torch.cuda.is_available() else auto.type)
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="no CUDA GPU"):
            resolve_device("cuda")
    with pytest.raises(ValueError):
        resolve_device("tpu")
    assert resolve_precision("auto", torch.device("cpu")) == ("bf16" if cpu_has_fast_bf16() else "fp32")
    assert resolve_precision("fp16", torch.device("cpu")) == "fp16"
    with pytest.raises(ValueError):
        resolve_precision("int8", torch.device("cpu"))


def test_core_imports_without_qt():
    code = (
        "import sys; sys.modules['PySide6'] = None; "
        "import matteapp, matteapp.model.checkpoint, matteapp.model.predictor, matteapp.model, matteapp.cli; "
        "assert not any(m.startswith('PySide6') and sys.modules[m] is not None for m in sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_bundled_model_mattes_a_real_photo_and_routes_a_sensible_fraction():
    path = bundled_model_path()
    if path is None:
        pytest.skip("no bundled model in matteapp/resources/models")
    require(DEV_DATA)
    from matteapp.engine.metrics import sad
    from matteapp.engine.trimap import load_trimap
    from matteapp.io.images import load_image

    photo = load_image(DEV_DATA / "image" / "GT04.png")
    trimap = load_trimap(DEV_DATA / "trimap1" / "GT04.png", expected_size=photo.size)
    gt = np.asarray(load_image(DEV_DATA / "alpha" / "GT04.png").rgb[..., 0], np.float32) / 255
    model = matteapp.load_model(device="cpu")
    result = model.predict(photo.rgb, trimap)
    assert path.stat().st_size <= 30e6
    assert len(result.routing) == 4
    # trained toward 25 %: on real photos the hard routers keep some tokens, never all or none
    assert 0.02 < result.routed_fraction < 0.5
    # far better than the trivial matte (unknown = 0.5); model-card figures are in matteapp/resources/models/README.md
    trivial = np.where(trimap == 255, 1.0, np.where(trimap == 0, 0.0, 0.5)).astype(np.float32)
    assert sad(result.alpha, gt, trimap) < 0.7 * sad(trivial, gt, trimap)
