"""Module-level behaviour of the backbone, routing, LTRM/ECA and decoder."""


import numpy as np
import pytest
import torch
import torch.nn.functional as F

from matteapp.model import MattingConfig, build_model
from matteapp.model import attention as attention_mod
from matteapp.model.predictor import MattePredictor
from matteapp.model.routing import ECA, TokenRefinement, eca_kernel_size, routing_margin, select_routed
from matteapp.model.vit import Block, resize_abs_pos, window_partition, window_unpartition

SMALL = MattingConfig(name="d96", embed_dim=96, num_heads=3)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def test_network_shapes_and_range():
    net = build_model(SMALL)
    x = torch.randn(2, 4, 64, 96)
    with torch.no_grad():
        feats = net.backbone(x)
        alpha = net(x)
    assert feats.shape == (2, 96, 4, 6)
    assert alpha.shape == (2, 1, 64, 96)
    assert alpha.min() >= 0 and alpha.max() <= 1


def test_presets_have_official_sizes():
    for name, dim, heads, routed in [("mematte-s", 384, 6, True), ("mematte-b", 768, 12, True), ("vitmatte-s", 384, 6, False), ("vitmatte-b", 768, 12, False)]:
        net = build_model(name)
        cfg = net.config
        assert (cfg.embed_dim, cfg.num_heads, cfg.routed) == (dim, heads, routed)
        assert len(net.backbone.routers) == (4 if routed else 0)
        assert net.backbone.routed_blocks == ([2, 5, 8, 11] if routed else [])
        rel = [b.attn.rel_pos_h.shape[0] if b.attn.use_rel_pos else None for b in net.backbone.blocks]
        assert rel[0] == 27 and rel[2] == (None if routed else 63)


# ------------------------------------------------------------------------------------------- routing


def test_select_routed_threshold_and_cap_exactness():
    margin = torch.tensor([0.5, -1.0, 2.0, 0.1, -0.2, 3.0, 0.0, 1.5])
    assert select_routed(margin, None).tolist() == [0, 2, 3, 5, 7]  # strictly positive margins
    assert select_routed(margin, 3).tolist() == [2, 5, 7]           # the three largest, sorted
    assert select_routed(margin, 5).tolist() == [0, 2, 3, 5, 7]
    assert select_routed(margin, 100).tolist() == [0, 2, 3, 5, 7]
    assert select_routed(margin, 0).tolist() == []


def test_router_uses_global_average_of_half_the_channels():
    net = build_model(SMALL)
    router = net.backbone.routers[0]
    x = torch.randn(1, 50, 96)
    out = router(x)
    assert out.shape == (1, 50, 2)
    assert torch.allclose(out.exp().sum(-1), torch.ones(1, 50), atol=1e-5)
    # the decision of token 0 depends on other tokens only through the averaged half
    x2 = x.clone()
    x2[0, 1:] = torch.randn(49, 96)
    assert not torch.allclose(router(x2)[0, 0], out[0, 0])
    # explicit recomputation
    y = router.in_conv(x)
    feats = torch.cat([y[..., :48], y[..., 48:].mean(1, keepdim=True).expand(-1, 50, -1)], -1)
    assert torch.allclose(router.out_conv(feats), out, atol=1e-6)


def _routed_block(dim=96, heads=3):
    blk = Block(dim, heads, window_size=0, refinement=True, residual=False).eval()
    return blk


def test_routed_tokens_attend_only_among_themselves():
    blk = _routed_block()
    x = torch.randn(1, 6, 7, 96)
    idx = torch.tensor([0, 3, 10, 20, 41])
    with torch.no_grad():
        out = blk.forward_routed(x, [idx])
        flat = x.reshape(1, 42, 96)
        sub = blk.attn.forward_tokens(blk.norm1(flat[:, idx]))
        mixed = blk.efficient_block(x).reshape(1, 42, 96).clone()
        mixed[0, idx] = sub[0]
        y = flat + mixed
        expected = y + blk.mlp(blk.norm2(y))
        assert torch.allclose(out.reshape(1, 42, 96), expected, atol=1e-5)

        # perturbing a non-routed token changes nothing at routed positions
        x2 = x.clone().reshape(1, 42, 96)
        x2[0, 5] += 3.0
        out2 = blk.forward_routed(x2.reshape(1, 6, 7, 96), [idx]).reshape(1, 42, 96)
        assert torch.allclose(out2[0, idx], out.reshape(1, 42, 96)[0, idx], atol=1e-5)
        assert not torch.allclose(out2[0, 5], out.reshape(1, 42, 96)[0, 5])


def test_training_policy_path_equals_inference_routing_for_hard_decisions():
    blk = _routed_block()
    x = torch.randn(1, 5, 6, 96)
    idx = torch.tensor([1, 4, 7, 8, 22, 29])
    policy = torch.zeros(1, 30, 1)
    policy[0, idx] = 1.0
    with torch.no_grad():
        a = blk.forward_routed(x, [idx])
        b = blk.forward_policy(x, policy)
    assert torch.allclose(a, b, atol=1e-5)


def test_backbone_cap_keeps_top_margin_tokens():
    net = build_model(SMALL)
    x = torch.randn(1, 4, 160, 192)
    with torch.no_grad():
        uncapped = [d for _, _, d in net.backbone.iter_blocks(x) if d is not None]
        capped = [d for _, _, d in net.backbone.iter_blocks(x, max_global_tokens=7) if d is not None]
    assert all(len(d.routed[0]) <= 7 for d in capped)
    # the first router sees the same input with or without the cap
    first = uncapped[0]
    margin = routing_margin(first.log_probs[0].float())
    positives = int((margin > 0).sum())
    expected = torch.topk(margin, k=min(7, positives)).indices.sort().values
    assert capped[0].routed[0].tolist() == expected.tolist()
    assert len(first.routed[0]) == positives
    # hard decision: routed ⇔ probability of global attention > 0.5
    assert torch.equal(first.masks()[0], first.probabilities()[0] > 0.5)


# ------------------------------------------------------------------------------------------ LTRM/ECA


def test_eca_kernel_sizes():
    assert eca_kernel_size(384) == 5
    assert eca_kernel_size(768) == 5
    assert eca_kernel_size(96) == 3
    assert all(eca_kernel_size(c) % 2 == 1 for c in range(8, 2049, 8))


def test_eca_and_ltrm_match_explicit_formula():
    ltrm = TokenRefinement(96).eval()
    assert ltrm.eca.conv.kernel_size == (3,) and ltrm.dwconv.kernel_size == (5, 5)
    x = torch.randn(2, 5, 7, 96)
    with torch.no_grad():
        y = F.gelu(x @ ltrm.fc1.weight.T + ltrm.fc1.bias)
        y = F.conv2d(y.permute(0, 3, 1, 2), ltrm.dwconv.weight, ltrm.dwconv.bias, padding=2, groups=192)
        y = F.gelu(y).permute(0, 2, 3, 1) @ ltrm.fc2.weight.T + ltrm.fc2.bias
        pooled = y.mean((1, 2))[:, None, :]
        w = torch.sigmoid(F.conv1d(pooled, ltrm.eca.conv.weight, padding=1))[:, 0][:, None, None, :]
        expected = y + y * w
        assert torch.allclose(ltrm(x), expected, atol=1e-5)
        eca = ECA(384)
        assert eca(torch.randn(1, 3, 3, 384)).shape == (1, 1, 1, 384)


# ------------------------------------------------------------------------------------------- windows


def test_window_partition_pads_odd_grids_and_round_trips():
    x = torch.randn(2, 17, 23, 8)
    windows, padded = window_partition(x, 14)
    assert padded == (28, 28) and windows.shape == (2 * 4, 14, 14, 8)
    # padding is zero and lies bottom/right
    assert torch.count_nonzero(windows[1][:, 9:]) == 0  # window (0,1) columns 23..27
    assert torch.equal(window_unpartition(windows, 14, padded, (17, 23)), x)


def test_window_block_on_odd_grid_matches_per_window_computation():
    blk = Block(96, 3, window_size=14, rel_pos_size=14).eval()
    x = torch.randn(1, 17, 20, 96)
    with torch.no_grad():
        out = blk(x)
        # window (0, 0) computed on its own: the 14×14 top-left tokens only
        y = blk.norm1(x)
        win = blk.attn.forward_grid(y[:, :14, :14])
        z = x[:, :14, :14] + win
        z = z + blk.mlp(blk.norm2(z))
        assert torch.allclose(out[:, :14, :14], z, atol=1e-5)
        # bottom-right window contains 3×6 real tokens and zero padding, which still acts as keys
        pad = torch.zeros(1, 14, 14, 96)
        pad[:, :3, :6] = y[:, 14:17, 14:20]
        win = blk.attn.forward_grid(pad)[:, :3, :6]
        z = x[:, 14:17, 14:20] + win
        z = z + blk.mlp(blk.norm2(z))
        assert torch.allclose(out[:, 14:17, 14:20], z, atol=1e-5)


def _naive_rel_pos_attention(attn, x):
    b, h, w, c = x.shape
    q, k, v = attn._qkv(x.reshape(b, h * w, c))
    rh = attention_mod.rel_pos_table(h, h, attn.rel_pos_h)
    rw = attention_mod.rel_pos_table(w, w, attn.rel_pos_w)
    bias = attention_mod.decomposed_rel_pos_bias(q, rh, rw, slice(0, h), (h, w))
    scores = (q * attn.head_dim**-0.5) @ k.transpose(-1, -2) + bias
    return attn._merge(scores.softmax(-1) @ v).reshape(b, h, w, c)


def test_global_rel_pos_attention_in_query_chunks_equals_full(monkeypatch):
    attn = attention_mod.Attention(96, 3, rel_pos_size=32).eval()
    x = torch.randn(1, 9, 11, 96)
    with torch.no_grad():
        full = _naive_rel_pos_attention(attn, x)
        # force one grid row per chunk
        monkeypatch.setattr(attention_mod, "BIAS_BLOCK_ELEMENTS", 3 * 11 * 99)
        chunked = attn.forward_grid(x)
    assert torch.allclose(full, chunked, atol=1e-5)


def test_rel_pos_table_is_interpolated_linearly_when_sizes_differ():
    table = torch.arange(63, dtype=torch.float32)[:, None].repeat(1, 4)
    resized = attention_mod.resize_rel_pos(table, 21)
    assert resized.shape == (21, 4)
    # a linear ramp stays a linear ramp under linear resampling
    diffs = resized[1:, 0] - resized[:-1, 0]
    assert torch.allclose(diffs, diffs.mean().expand_as(diffs), atol=1e-4)
    rel = attention_mod.rel_pos_table(5, 5, table[:9])
    assert rel.shape == (5, 5, 4) and rel[0, 0, 0] == 4 and rel[4, 0, 0] == 8 and rel[0, 4, 0] == 0


def test_abs_pos_embed_resized_bicubically():
    pos = torch.randn(1, 197, 8)
    same = resize_abs_pos(pos, (14, 14))
    assert torch.equal(same, pos[:, 1:].reshape(1, 14, 14, 8))
    grid = resize_abs_pos(pos, (34, 44))
    ref = F.interpolate(pos[:, 1:].reshape(1, 14, 14, 8).permute(0, 3, 1, 2), size=(34, 44), mode="bicubic", align_corners=False)
    assert torch.allclose(grid, ref.permute(0, 2, 3, 1))


# ------------------------------------------------------------------------------------------- decoder


def test_decoder_tiling_equals_untiled():
    net = build_model(SMALL)
    rng = np.random.default_rng(1)
    image = (rng.random((230, 330, 3)) * 255).astype(np.uint8)
    trimap = np.full((230, 330), 128, np.uint8)
    trimap[:40] = 0
    trimap[-30:, :50] = 255
    pred = MattePredictor(net, "cpu", "fp32")
    whole = pred.predict(image, trimap, decoder_tile=1024)
    tiled = pred.predict(image, trimap, decoder_tile=64)
    assert np.abs(whole.alpha - tiled.alpha).max() < 1e-5
    assert whole.alpha[:40].max() == 0 and whole.alpha[-30:, :50].min() == 1
    assert 0.0 < whole.alpha[trimap == 128].std()


def test_mlp_in_row_slabs_equals_whole(monkeypatch):
    from matteapp.model import vit

    blk = Block(96, 3, window_size=14, rel_pos_size=14, residual=True).eval()
    x = torch.randn(1, 9, 13, 96)
    with torch.no_grad():
        whole = blk(x.clone())
        monkeypatch.setattr(vit, "MLP_CHUNK_TOKENS", 20)  # one 13-token row per slab
        ticks = []
        slabs = blk(x.clone(), tick=lambda: ticks.append(1))
    assert torch.allclose(whole, slabs, atol=1e-5)
    assert len(ticks) >= 9


@pytest.mark.parametrize("dtype", [None, torch.bfloat16])
@pytest.mark.parametrize("chunk", [13, 40, 130])  # one row, three rows (+ halo) and a remainder slab
def test_ltrm_in_row_slabs_equals_whole(monkeypatch, dtype, chunk):
    from matteapp.model import routing

    torch.manual_seed(0)
    ltrm = TokenRefinement(96).eval()
    x = torch.randn(1, 11, 13, 96)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype is not None):
        whole = ltrm(x)
        monkeypatch.setattr(routing, "LTRM_CHUNK_TOKENS", chunk)
        slabs = ltrm(x)
    assert slabs.dtype == whole.dtype and torch.equal(whole, slabs)


def test_tick_can_cancel_inside_a_block(monkeypatch):
    from matteapp.model import vit

    monkeypatch.setattr(vit, "MLP_CHUNK_TOKENS", 16)
    net = build_model(SMALL)

    class Stop(Exception):
        pass

    calls = []

    def tick():
        calls.append(1)
        if len(calls) == 3:
            raise Stop

    with torch.no_grad(), pytest.raises(Stop):
        for _ in net.backbone.iter_blocks(torch.randn(1, 4, 96, 128), tick=tick):
            pytest.fail("the first block should not have completed")


@pytest.mark.parametrize("routed", [True, False])
def test_the_eager_n_by_n_attention_of_the_benchmarks_equals_the_fused_one(monkeypatch, routed):
    from matteapp.model import attention

    torch.manual_seed(0)
    model = MattePredictor(build_model(MattingConfig(name="d96", embed_dim=96, num_heads=3, routed=routed)), "cpu", "fp32")
    rng = np.random.default_rng(0)
    image = (rng.random((96, 128, 3)) * 255).astype(np.uint8)
    trimap = np.full((96, 128), 128, np.uint8)
    fused = model.predict(image, trimap).alpha
    monkeypatch.setattr(attention, "MATERIALIZE_SCORES", True)
    eager = model.predict(image, trimap).alpha
    assert np.abs(fused - eager).max() < 1e-4
