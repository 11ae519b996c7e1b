"""Checkpoint loading: every layout users meet, architecture inference, bad files, unsafe pickles.

All networks here are small (D=96, 3 heads) so the file runs in seconds on a 2-core CPU; the only
384-dim model is built (never run) to check the ECA kernel inference of ``mematte-s``.
"""

from __future__ import annotations

import functools
import json
import pickle
import struct
from dataclasses import replace

import numpy as np
import pytest
import torch

from matteapp.model import MattingConfig, build_model
from matteapp.model.checkpoint import (
    CONFIG_METADATA_KEY,
    CheckpointError,
    convert_state_dict,
    detect_layout,
    infer_config,
    load_network,
    read_state_dict,
    save_network,
)
from matteapp.model.predictor import MattePredictor, load_model
from matteapp.model.routing import eca_kernel_size

MEMATTE = MattingConfig(name="tiny-mematte", embed_dim=96, num_heads=3, routed=True)
VITMATTE = MattingConfig(name="tiny-vitmatte", embed_dim=96, num_heads=3, routed=False, global_rel_pos_size=32)
CONFIGS = {"mematte": MEMATTE, "vitmatte": VITMATTE}


# ------------------------------------------------------------------------------------------- helpers


@functools.lru_cache(maxsize=None)
def _random_state(config: MattingConfig, seed: int) -> dict[str, torch.Tensor]:
    """Every tensor (BN statistics and zero-initialised norms included) holds distinctive random
    values, so that a loader that drops, swaps or re-initialises anything shows.  Cached: callers
    get clones."""
    net = build_model(config)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in net.state_dict().items():
            if not t.is_floating_point():
                continue
            noise = torch.randn(t.shape, generator=gen)
            if name.endswith("running_var"):
                t.copy_(0.5 + torch.rand(t.shape, generator=gen))
            elif name.endswith("running_mean"):
                t.copy_(0.1 * noise)
            else:
                t.add_(0.02 * noise)
    return net.state_dict()


def official_state_dict(config: MattingConfig, seed: int = 0) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in _random_state(config, seed).items()}


def make_network(config: MattingConfig, seed: int = 0):
    net = build_model(config)
    net.load_state_dict(_random_state(config, seed))
    return net.eval()


def to_huggingface(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Official key names → ``VitMatteForImageMatting`` names (as HF's conversion script renames them)."""
    out = {}
    for k, v in sd.items():
        if k == "backbone.pos_embed":
            k = "backbone.embeddings.position_embeddings"
        elif k.startswith("backbone.patch_embed.proj."):
            k = "backbone.embeddings.projection." + k[len("backbone.patch_embed.proj."):]
        elif k.startswith("backbone.blocks."):
            k = "backbone.encoder.layer." + k[len("backbone.blocks."):]
            k = k.replace(".attn.", ".attention.")
        if k.startswith("decoder.fusion_blks."):
            k = "decoder.fusion_blocks." + k[len("decoder.fusion_blks."):]
        k = k.replace(".bn.", ".batch_norm.")
        out[k] = v
    return out


def arch(config: MattingConfig) -> dict:
    """The architecture part of a config: no name, and a default ECA kernel written out (a config
    with ``eca_kernel=None`` builds the same network as one with ``eca_kernel_size(embed_dim)``)."""
    d = config.to_dict()
    d.pop("name")
    if d["routed"] and d["eca_kernel"] is None:
        d["eca_kernel"] = eca_kernel_size(d["embed_dim"])
    return d


def assert_state_equal(net, expected: dict[str, torch.Tensor]) -> None:
    got = net.state_dict()
    assert set(got) == set(expected)
    for k, v in expected.items():
        assert got[k].shape == v.shape, k
        assert got[k].dtype == (v.float() if v.is_floating_point() else v).dtype, k
        assert torch.equal(got[k], v.to(got[k].dtype)), f"{k} differs from the saved tensor"


def random_inputs(seed: int = 0, height: int = 96, width: int = 128) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    trimap = np.full((height, width), 128, dtype=np.uint8)
    trimap[: height // 4] = 0
    trimap[-height // 4 :] = 255
    return image, trimap


def raises_checkpoint_error(path, *fragments: str) -> str:
    with pytest.raises(CheckpointError) as info:
        load_network(path)
    message = str(info.value)
    assert str(path) in message, message
    for fragment in fragments:
        assert fragment in message, message
    return message


class WritesMarker:
    """Unpickling this runs ``open(marker, 'w')``, which creates the marker file: harmless, but
    proof that the unpickler executed code from the file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


# -------------------------------------------------------------------------------- official layout


@pytest.mark.parametrize("kind", ["mematte", "vitmatte"])
@pytest.mark.parametrize("wrapped", [True, False], ids=["model-dict", "flat"])
def test_official_layout_loads_weights_and_config(tmp_path, kind, wrapped):
    config = CONFIGS[kind]
    sd = official_state_dict(config, seed=1)
    path = tmp_path / "official.pth"
    torch.save({"model": sd} if wrapped else sd, path)

    net = load_network(path)

    assert_state_equal(net, sd)
    assert arch(net.config) == arch(config)
    assert net.config.name == "official"  # the file's stem
    assert net.config.pixel_mean == config.pixel_mean and net.config.pixel_std == config.pixel_std
    assert net.source_layout == "official"
    assert not net.training


def test_detectron2_trainer_checkpoint_with_extra_entries(tmp_path):
    sd = official_state_dict(MEMATTE, seed=2)
    path = tmp_path / "model_final.pth"
    torch.save({"model": sd, "iteration": 9999, "scheduler": {"last_epoch": 3}}, path)
    assert_state_equal(load_network(path), sd)


def test_teacher_backbone_is_ignored(tmp_path):
    sd = official_state_dict(MEMATTE, seed=3)
    teacher = {"teacher_" + k: v + 1.0 for k, v in sd.items() if k.startswith("backbone.")}
    assert len(teacher) > 100
    path = tmp_path / "distilled.pth"
    torch.save({"model": {**sd, **teacher}}, path)

    net = load_network(path)

    assert_state_equal(net, sd)  # the student's weights, not the teacher's (which differ by 1)
    assert arch(net.config) == arch(MEMATTE)


def test_ddp_module_prefix_is_stripped(tmp_path):
    sd = official_state_dict(VITMATTE, seed=4)
    path = tmp_path / "ddp.pth"
    torch.save({"model": {"module." + k: v for k, v in sd.items()}}, path)

    net = load_network(path)

    assert_state_equal(net, sd)
    assert arch(net.config) == arch(VITMATTE)


def test_half_precision_checkpoint_is_loaded_as_fp32(tmp_path):
    sd = official_state_dict(MEMATTE, seed=5)
    half = {k: v.half() if v.is_floating_point() else v for k, v in sd.items()}
    path = tmp_path / "half.pth"
    torch.save(half, path)

    net = load_network(path)

    assert all(p.dtype == torch.float32 for p in net.parameters())
    assert_state_equal(net, half)


def test_legacy_non_zip_torch_save_loads(tmp_path):
    sd = official_state_dict(VITMATTE, seed=6)
    path = tmp_path / "legacy.pth"
    torch.save({"model": sd}, path, _use_new_zipfile_serialization=False)
    assert path.read_bytes()[:1] == b"\x80"
    assert_state_equal(load_network(path), sd)


def test_official_vitmatte_global_blocks_inferred_from_rel_pos_tables():
    sd = official_state_dict(VITMATTE)
    rows = {i: sd[f"backbone.blocks.{i}.attn.rel_pos_h"].shape[0] for i in range(12)}
    assert rows == {i: 63 if i in (2, 5, 8, 11) else 27 for i in range(12)}  # the official layout

    config = infer_config(sd, name="x")

    assert config.global_blocks == (2, 5, 8, 11)
    assert config.global_rel_pos_size == 32
    assert config.window_size == 14
    assert config.routed is False
    assert config.eca_kernel is None
    assert config.num_heads == 3
    assert arch(config) == arch(VITMATTE)


def test_official_mematte_config_inferred():
    config = infer_config(official_state_dict(MEMATTE), name="x")
    assert config.name == "x"
    assert config.routed is True
    assert config.global_blocks == (2, 5, 8, 11)
    assert config.global_rel_pos_size is None
    assert arch(config) == arch(MEMATTE)


def test_infer_config_overrides():
    config = infer_config(official_state_dict(MEMATTE), name="x", pixel_mean=(0.5, 0.5, 0.5), size_divisor=64)
    assert config.pixel_mean == (0.5, 0.5, 0.5)
    assert config.size_divisor == 64


# ----------------------------------------------------------------------------- Hugging Face layout


def test_huggingface_rename_helper_produces_hf_names():
    hf = to_huggingface(official_state_dict(VITMATTE))
    for key in (
        "backbone.embeddings.position_embeddings",
        "backbone.embeddings.projection.weight",
        "backbone.encoder.layer.0.attention.qkv.weight",
        "backbone.encoder.layer.2.attention.rel_pos_h",
        "backbone.encoder.layer.2.residual.conv1.weight",
        "decoder.convstream.convs.0.batch_norm.running_var",
        "decoder.fusion_blocks.0.conv.conv.weight",
        "decoder.fusion_blocks.3.conv.batch_norm.weight",
        "decoder.matting_head.matting_convs.0.weight",
    ):
        assert key in hf, key
    assert not any(".attn." in k or ".bn." in k or "fusion_blks" in k or "backbone.blocks." in k for k in hf)
    assert detect_layout(hf) == "huggingface"


@pytest.mark.parametrize("kind", ["vitmatte", "mematte"])
@pytest.mark.parametrize("filename", ["pytorch_model.bin", "model.safetensors"])
def test_huggingface_layout_loads(tmp_path, kind, filename):
    config = CONFIGS[kind]
    sd = official_state_dict(config, seed=7)
    path = tmp_path / filename
    hf = to_huggingface(sd)
    if filename.endswith(".safetensors"):
        from safetensors.torch import save_file

        save_file(hf, str(path))
    else:
        torch.save(hf, path)

    net = load_network(path)

    assert net.source_layout == "huggingface"
    assert_state_equal(net, sd)
    assert net.config.pixel_mean == (0.5, 0.5, 0.5)
    assert net.config.pixel_std == (0.5, 0.5, 0.5)
    expected = replace(config, pixel_mean=(0.5, 0.5, 0.5), pixel_std=(0.5, 0.5, 0.5))
    assert arch(net.config) == arch(expected)


def test_convert_state_dict_reports_layout():
    sd = official_state_dict(VITMATTE)
    converted, layout = convert_state_dict(to_huggingface(sd))
    assert layout == "huggingface"
    assert set(converted) == set(sd)
    assert all(torch.equal(converted[k], v) for k, v in sd.items())
    converted, layout = convert_state_dict({"module." + k: v for k, v in sd.items()})
    assert layout == "official"
    assert set(converted) == set(sd)


def test_huggingface_normalisation_survives_save_network(tmp_path):
    sd = official_state_dict(VITMATTE, seed=8)
    hf_path = tmp_path / "pytorch_model.bin"
    torch.save(to_huggingface(sd), hf_path)
    net = load_network(hf_path)
    saved = save_network(net, tmp_path / "converted.safetensors")

    again = load_network(saved)

    assert again.source_layout == "official"
    assert again.config.pixel_mean == (0.5, 0.5, 0.5)
    assert again.config.pixel_std == (0.5, 0.5, 0.5)
    assert again.config.name == net.config.name == "pytorch_model"
    assert_state_equal(again, sd)


# ---------------------------------------------------------------------------------------- safetensors


def test_save_network_writes_config_metadata(tmp_path):
    net = make_network(replace(MEMATTE, pixel_mean=(0.1, 0.2, 0.3), pixel_std=(0.4, 0.5, 0.6)), seed=9)
    path = save_network(net, tmp_path / "mine.safetensors", metadata={"note": "hello"})

    tensors, metadata = read_state_dict(path)

    assert metadata["note"] == "hello"
    assert json.loads(metadata[CONFIG_METADATA_KEY]) == json.loads(json.dumps(net.config.to_dict()))
    assert set(tensors) == set(net.state_dict())
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # no temp file left behind

    again = load_network(path)
    assert again.config.name == "tiny-mematte"  # from the metadata, not the file name
    assert again.config.pixel_mean == (0.1, 0.2, 0.3)
    assert again.config.pixel_std == (0.4, 0.5, 0.6)
    assert arch(again.config) == arch(net.config)
    assert_state_equal(again, net.state_dict())


@pytest.mark.parametrize("kind", ["mematte", "vitmatte"])
@pytest.mark.parametrize("writer", ["save_file", "save_network"])
def test_safetensors_round_trip_predicts_identically(tmp_path, kind, writer):
    config = CONFIGS[kind]
    net = make_network(config, seed=10)
    sd = {k: v.clone() for k, v in net.state_dict().items()}
    path = tmp_path / "weights.safetensors"
    if writer == "save_file":
        from safetensors.torch import save_file

        save_file(sd, str(path))  # official layout, no metadata
        assert read_state_dict(path)[1] == {}
    else:
        save_network(net, path)
    image, trimap = random_inputs(seed=11)

    loaded = load_model(path, device="cpu", precision="fp32")
    reference = MattePredictor(net, "cpu", "fp32").predict(image, trimap)
    result = loaded.predict(image, trimap)

    assert_state_equal(loaded.network, sd)
    assert arch(loaded.config) == arch(config)
    assert result.alpha.shape == (96, 128)
    unknown = trimap == 128
    assert result.alpha[unknown].std() > 1e-4  # a real matte, not a constant, so the comparison means something
    np.testing.assert_array_equal(result.alpha, reference.alpha)
    assert len(result.routing) == (4 if config.routed else 0)
    for a, b in zip(result.routing, reference.routing):
        np.testing.assert_array_equal(a, b)


def test_different_weights_predict_differently(tmp_path):
    """Guards the test above: the comparison would catch a loader that kept fresh weights."""
    image, trimap = random_inputs(seed=12)
    a = MattePredictor(make_network(VITMATTE, seed=1), "cpu", "fp32").predict(image, trimap).alpha
    b = MattePredictor(make_network(VITMATTE, seed=2), "cpu", "fp32").predict(image, trimap).alpha
    assert np.abs(a - b).max() > 1e-4


def test_safetensors_detected_by_content_whatever_the_suffix(tmp_path):
    from safetensors.torch import save_file

    sd = official_state_dict(MEMATTE, seed=13)
    path = tmp_path / "weights.bin"
    save_file(sd, str(path))
    assert_state_equal(load_network(path), sd)


# ---------------------------------------------------------------------------- architecture variants


VARIANTS = {
    "mematte-depth6": replace(MEMATTE, depth=6, global_blocks=(2, 5), residual_blocks=(2, 5)),
    "vitmatte-depth6": replace(VITMATTE, depth=6, global_blocks=(2, 5), residual_blocks=(2, 5)),
    "mematte-narrow-decoder": replace(MEMATTE, convstream_widths=(16, 32, 64), fusion_widths=(64, 32, 16, 8)),
    "vitmatte-narrow-decoder": replace(
        VITMATTE, convstream_widths=(16, 32, 64), fusion_widths=(64, 32, 16, 8), head_mid=8
    ),
    "mematte-two-stage-decoder": replace(MEMATTE, convstream_widths=(16, 32), fusion_widths=(64, 32, 16)),
    "mematte-other-global-blocks": replace(MEMATTE, global_blocks=(1, 4, 7, 10), residual_blocks=(0, 3)),
    "vitmatte-other-global-blocks": replace(VITMATTE, global_blocks=(1, 4, 7, 10), residual_blocks=(0, 3)),
    "mematte-eca7": replace(MEMATTE, eca_kernel=7),
    "mematte-6-heads": replace(MEMATTE, num_heads=6),
    "vitmatte-d64-2-heads": replace(VITMATTE, embed_dim=64, num_heads=2),
    "mematte-window7-grid8-mlp2-patch8": replace(MEMATTE, window_size=7, pretrain_grid=8, mlp_ratio=2.0, patch_size=8),
    "vitmatte-window7-grid8": replace(VITMATTE, window_size=7, pretrain_grid=8),
    "vitmatte-no-global-rel-pos": replace(VITMATTE, global_rel_pos_size=None),
    "vitmatte-no-global-rel-pos-depth6-globals-1-4": replace(
        VITMATTE, global_rel_pos_size=None, depth=6, global_blocks=(1, 4), residual_blocks=(1, 4)
    ),
}


@pytest.mark.parametrize("name", list(VARIANTS))
def test_variant_architecture_inferred_without_config(tmp_path, name):
    config = VARIANTS[name]
    sd = official_state_dict(config, seed=14)
    assert arch(infer_config(sd)) == arch(config)

    path = tmp_path / f"{name}.pth"
    torch.save({"model": sd}, path)
    net = load_network(path)
    assert arch(net.config) == arch(config)
    assert_state_equal(net, sd)


def test_eca_kernel_size_rule():
    assert eca_kernel_size(96) == 3
    assert eca_kernel_size(192) == 5
    assert eca_kernel_size(384) == 5
    assert eca_kernel_size(768) == 5
    assert all(eca_kernel_size(c) % 2 == 1 for c in range(8, 2049))


def test_eca_kernel_inferred_from_tensors():
    assert infer_config(official_state_dict(MEMATTE)).eca_kernel == 3
    # mematte-s is only built, never run: D=384 → kernel 5
    sd = build_model("mematte-s").state_dict()
    assert sd["backbone.blocks.2.efficient_block.eca.conv.weight"].shape[-1] == 5
    config = infer_config(sd)
    assert config.eca_kernel == 5
    assert config.embed_dim == 384 and config.num_heads == 6 and config.routed


def test_vitmatte_without_window_rel_pos(tmp_path):
    config = replace(VITMATTE, window_rel_pos=False)
    sd = official_state_dict(config)
    assert arch(infer_config(sd)) == arch(config)
    path = tmp_path / "no_window_rel_pos.pth"
    torch.save({"model": sd}, path)
    assert_state_equal(load_network(path), sd)


# ------------------------------------------------------------------------------------------ bad files


def test_missing_file(tmp_path):
    raises_checkpoint_error(tmp_path / "nope.pth", "no such checkpoint file")


def test_directory_is_not_a_checkpoint(tmp_path):
    raises_checkpoint_error(tmp_path, "no such checkpoint file")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.pth"
    path.write_bytes(b"")
    raises_checkpoint_error(path, "empty")


def test_random_bytes(tmp_path):
    data = np.random.default_rng(0).bytes(4096)
    assert data[:1] != b"\x80" and data[:2] != b"PK" and data[8:9] != b"{"
    path = tmp_path / "random.pth"
    path.write_bytes(data)
    raises_checkpoint_error(path, "not a PyTorch checkpoint", "unrecognised header")


def test_text_file(tmp_path):
    path = tmp_path / "notes.pth"
    path.write_text("This is not a checkpoint, it is a note about one.\n")
    raises_checkpoint_error(path, "not a PyTorch checkpoint", "This is")


def test_truncated_legacy_pth(tmp_path):
    path = tmp_path / "legacy.pth"
    torch.save({"model": official_state_dict(MEMATTE)}, path, _use_new_zipfile_serialization=False)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    raises_checkpoint_error(path, "damaged or truncated")


def test_truncated_zip_pth(tmp_path):
    path = tmp_path / "model.pth"
    torch.save({"model": official_state_dict(MEMATTE)}, path)
    data = path.read_bytes()
    assert data[:4] == b"PK\x03\x04"
    path.write_bytes(data[: len(data) // 2])
    raises_checkpoint_error(path, "damaged or truncated")


def test_corrupt_pickle_stream_is_reported_as_damaged(tmp_path):
    path = tmp_path / "garbage.pth"
    path.write_bytes(b"\x80" + np.random.default_rng(1).bytes(4096))
    message = raises_checkpoint_error(path)
    assert "refused" not in message
    assert "damaged" in message


def test_unrelated_tensors(tmp_path):
    path = tmp_path / "classifier.pth"
    torch.save({"foo.weight": torch.zeros(3, 4), "foo.bias": torch.zeros(3), "head.fc.weight": torch.ones(2)}, path)
    raises_checkpoint_error(path, "not a ViTMatte/MEMatte checkpoint", "backbone.blocks", "foo.weight")


def test_not_a_state_dict(tmp_path):
    path = tmp_path / "tensor.pth"
    torch.save(torch.zeros(3), path)
    raises_checkpoint_error(path, "expected a state dict", "Tensor")


def test_entries_that_are_not_tensors(tmp_path):
    sd = official_state_dict(MEMATTE)
    sd["backbone.note"] = "hello"
    path = tmp_path / "mixed.pth"
    torch.save(sd, path)
    raises_checkpoint_error(path, "not tensors", "backbone.note")


def test_unexpected_top_level_entries(tmp_path):
    sd = official_state_dict(MEMATTE)
    sd["criterion.weight"] = torch.ones(3)
    path = tmp_path / "extra.pth"
    torch.save({"model": sd}, path)
    raises_checkpoint_error(path, "unexpected top-level", "criterion")


def test_wrong_tensor_shape(tmp_path):
    sd = official_state_dict(MEMATTE)
    sd["backbone.blocks.0.attn.qkv.weight"] = torch.zeros(200, 96)
    path = tmp_path / "reshaped.pth"
    torch.save({"model": sd}, path)
    raises_checkpoint_error(path, "wrong shape", "backbone.blocks.0.attn.qkv.weight", "(200, 96)", "(288, 96)")


def test_missing_tensor(tmp_path):
    sd = official_state_dict(VITMATTE)
    del sd["backbone.blocks.3.mlp.fc2.bias"]
    path = tmp_path / "holey.pth"
    torch.save(sd, path)
    raises_checkpoint_error(path, "missing 1 tensors", "backbone.blocks.3.mlp.fc2.bias")


def test_router_count_mismatch(tmp_path):
    sd = official_state_dict(MEMATTE)
    router3 = [k for k in sd if k.startswith("backbone.routers.3.")]
    assert router3
    for k in router3:
        del sd[k]
    path = tmp_path / "three_routers.pth"
    torch.save({"model": sd}, path)
    raises_checkpoint_error(path, "4 routed blocks but 3 routers")


def test_corrupt_safetensors_header(tmp_path):
    header = b"\x8a\xff" * 32  # the declared length is right, the header is not JSON
    path = tmp_path / "corrupt.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header + bytes(256))
    raises_checkpoint_error(path, "not a valid .safetensors file")


def test_truncated_safetensors(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "half.safetensors"
    save_file(official_state_dict(MEMATTE), str(path))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    raises_checkpoint_error(path, "not a valid .safetensors file")


# ------------------------------------------------------------------------------------------- security


def test_payload_really_runs_code_when_unpickled_unsafely(tmp_path):
    """Control for the tests below: the payload does create its marker under a plain unpickler."""
    marker = tmp_path / "control_marker"
    obj = pickle.loads(pickle.dumps({"model": WritesMarker(marker)}))
    obj["model"].close()
    assert marker.exists()


def write_payload(path, payload, writer: str) -> None:
    if writer == "torch.save":
        torch.save(payload, path)
    else:
        protocol = {"pickle-protocol-2": 2, "pickle-default-protocol": pickle.DEFAULT_PROTOCOL}[writer]
        with open(path, "wb") as fh:
            pickle.dump(payload, fh, protocol=protocol)


@pytest.mark.parametrize("writer", ["torch.save", "pickle-protocol-2"])
def test_code_executing_pickle_is_refused(tmp_path, writer):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    write_payload(path, {"model": WritesMarker(marker)}, writer)

    raises_checkpoint_error(path, "refused to load", "open")
    assert not marker.exists(), "loading the checkpoint executed code from it"
    with pytest.raises(CheckpointError, match="refused"):
        read_state_dict(path)
    assert not marker.exists()


def test_code_executing_pickle_in_protocol_4_plus_is_not_run(tmp_path):
    """torch's weights-only unpickler cannot parse protocol ≥ 4 at all (FRAME opcode), so the file is
    rejected before any object is built; the wording may say 'damaged' rather than 'refused'."""
    assert pickle.DEFAULT_PROTOCOL >= 4
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    write_payload(path, {"model": WritesMarker(marker)}, "pickle-default-protocol")
    raises_checkpoint_error(path)
    assert not marker.exists(), "loading the checkpoint executed code from it"


def test_code_executing_pickle_beside_real_weights_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "trojan.pth"
    torch.save({"model": official_state_dict(MEMATTE), "hook": WritesMarker(marker)}, path)
    raises_checkpoint_error(path, "refused to load")
    assert not marker.exists()


# ------------------------------------------------------------------------------------- detect_layout


def test_detect_layout_names_expected_keys():
    with pytest.raises(CheckpointError) as info:
        detect_layout({"foo.weight": torch.zeros(1), "bar.bias": torch.zeros(1)})
    message = str(info.value)
    assert "backbone.blocks.*" in message
    assert "decoder.*" in message
    assert "backbone.encoder.layer.*" in message
    assert "foo.weight" in message


def test_detect_layout_needs_a_decoder_for_the_official_layout():
    backbone_only = {k: v for k, v in official_state_dict(MEMATTE).items() if k.startswith("backbone.")}
    with pytest.raises(CheckpointError, match="decoder"):
        detect_layout(backbone_only)


def test_detect_layout_recognises_both_layouts():
    sd = official_state_dict(MEMATTE)
    assert detect_layout(sd) == "official"
    assert detect_layout(to_huggingface(sd)) == "huggingface"

