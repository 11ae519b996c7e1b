"""The command line, run in-process on real files."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import DEV_DATA, REFERENCE, require
from PIL import Image

from matteapp.cli import EXIT_EXISTS, EXIT_FAILED, EXIT_INPUT, run
from matteapp.model import MattingConfig, build_model
from matteapp.model.checkpoint import save_network


@pytest.fixture(autouse=True)
def _config_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("MATTEAPP_CONFIG_DIR", str(tmp_path / "config"))


@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("models") / "d96.safetensors"
    save_network(build_model(MattingConfig(name="d96", embed_dim=96, num_heads=3)), path)
    return path


@pytest.fixture
def photo(tmp_path):
    rng = np.random.default_rng(0)
    img = (rng.random((120, 160, 3)) * 255).astype(np.uint8)
    tri = np.zeros((120, 160), np.uint8)
    tri[20:100, 30:130] = 128
    tri[45:75, 60:100] = 255
    Image.fromarray(img).save(tmp_path / "photo.png")
    Image.fromarray(tri).save(tmp_path / "trimap.png")
    return tmp_path / "photo.png", tmp_path / "trimap.png", tri


def test_matte_writes_cutout_alpha_routing_and_refuses_overwrite(tmp_path, photo, small_model, capsys):
    src, tri_path, tri = photo
    out, alpha, routing = tmp_path / "cut.png", tmp_path / "alpha.png", tmp_path / "routing.png"
    args = ["matte", str(src), "--trimap", str(tri_path), "-o", str(out), "--alpha", str(alpha), "--alpha-16bit",
            "--routing", str(routing), "--model", str(small_model), "--device", "cpu", "--precision", "fp32"]
    assert run(args) == 0
    cut = np.asarray(Image.open(out))
    assert cut.shape == (120, 160, 4)
    assert np.all(cut[..., 3][tri == 0] == 0) and np.all(cut[..., 3][tri == 255] == 255)
    a16 = np.asarray(Image.open(alpha))
    assert a16.shape == (120, 160) and a16.max() == 65535
    assert Image.open(routing).size[0] >= 160
    assert "routed to global attention" in capsys.readouterr().out

    before = out.read_bytes()
    assert run(args) == EXIT_EXISTS
    assert out.read_bytes() == before
    assert "--force" in capsys.readouterr().err
    assert run(args + ["--force"]) == 0


def test_matte_auto_trimap_and_mask(tmp_path, photo, small_model):
    src, _, tri = photo
    out = tmp_path / "auto.png"
    tri_out = tmp_path / "auto_trimap.png"
    common = ["--model", str(small_model), "--device", "cpu", "--precision", "fp32"]
    assert run(["matte", str(src), "--auto-trimap", "rect:25,15,110,90", "-o", str(out), "--trimap-out", str(tri_out)] + common) == 0
    t = np.asarray(Image.open(tri_out))
    assert set(np.unique(t)) <= {0, 128, 255} and t[0, 0] == 0
    mask = tmp_path / "mask.png"
    Image.fromarray(np.where(tri > 0, 255, 0).astype(np.uint8)).save(mask)
    assert run(["matte", str(src), "--mask", str(mask), "-o", str(tmp_path / "m.png"), "--band-width", "10"] + common) == 0


def test_matte_bad_inputs_have_clear_errors(tmp_path, photo, small_model, capsys):
    src, tri_path, _ = photo
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg at all")
    assert run(["matte", str(broken), "--trimap", str(tri_path), "-o", str(tmp_path / "x.png"), "--model", str(small_model)]) == EXIT_INPUT
    assert "broken.jpg" in capsys.readouterr().err
    small = tmp_path / "small_trimap.png"
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(small)
    assert run(["matte", str(src), "--trimap", str(small), "-o", str(tmp_path / "x.png"), "--model", str(small_model)]) == EXIT_INPUT
    assert "10×10" in capsys.readouterr().err
    bad_model = tmp_path / "bad.pth"
    bad_model.write_bytes(b"\x80\x04garbage")
    assert run(["matte", str(src), "--trimap", str(tri_path), "-o", str(tmp_path / "x.png"), "--model", str(bad_model)]) == EXIT_INPUT
    assert "bad.pth" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_batch_continues_past_bad_files(tmp_path, photo, small_model, capsys):
    src, tri_path, _ = photo
    inp, tris, out = tmp_path / "in", tmp_path / "tri", tmp_path / "out"
    inp.mkdir(), tris.mkdir()
    for name in ("a", "b"):
        shutil.copy(src, inp / f"{name}.png")
        shutil.copy(tri_path, tris / f"{name}.png")
    (inp / "c.jpg").write_bytes(b"\xff\xd8\xff truncated")
    shutil.copy(tri_path, tris / "c.png")
    shutil.copy(src, inp / "d.png")  # no trimap
    code = run(["batch", str(inp), "--trimaps", str(tris), "-o", str(out), "--model", str(small_model), "--device", "cpu"])
    assert code == EXIT_FAILED
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.png", "manifest.jsonl"]  # the manifest makes a rerun resume
    err = capsys.readouterr().err
    assert "c.jpg" in err and "d.png" in err and "2 failed" in err


def test_eval_closed_form_on_dev_subset_writes_reports(tmp_path, capsys):
    require(DEV_DATA)
    js, cs = tmp_path / "r.json", tmp_path / "r.csv"
    code = run(["eval", "--images", str(DEV_DATA / "image"), "--trimaps", str(DEV_DATA / "trimap1"),
                "--alphas", str(DEV_DATA / "alpha"), "--engine", "closed-form", "--limit", "1", "--json", str(js), "--csv", str(cs)])
    assert code == 0
    table = capsys.readouterr().out
    assert "GT01" in table and "mean (1)" in table
    report = json.loads(js.read_text())
    assert report["engine"] == "closed-form" and len(report["images"]) == 1
    assert 0 < report["mean"]["sad"] < 50
    assert cs.read_text().splitlines()[0].startswith("name,trimap_set,sad")


def test_eval_composition1k_layout(tmp_path, small_model, capsys):
    require(DEV_DATA)
    ds = tmp_path / "c1k"
    for sub, src in (("merged", "image"), ("trimaps", "trimap1"), ("alpha_copy", "alpha")):
        (ds / sub).mkdir(parents=True)
        shutil.copy(DEV_DATA / src / "GT05.png", ds / sub / "GT05.png")
    assert run(["eval", "--dataset", str(ds), "--model", str(small_model), "--device", "cpu", "--precision", "fp32"]) == 0
    assert "GT05" in capsys.readouterr().out


def test_models_list_info_convert(tmp_path, capsys):
    require(REFERENCE)
    assert run(["models"]) == 0
    listing = capsys.readouterr().out
    assert "mematte-s" in listing and "vitmatte-b" in listing
    ckpt = REFERENCE / "mematte_d96.pth"
    assert run(["models", "info", str(ckpt)]) == 0
    assert "MEMatte (official layout)" in capsys.readouterr().out
    out = tmp_path / "d96.safetensors"
    assert run(["models", "convert", str(ckpt), str(out)]) == 0
    assert run(["models", "convert", str(ckpt), str(out)]) == EXIT_EXISTS
    assert run(["models", "info", str(out)]) == 0
    assert "embed_dim            96" in capsys.readouterr().out
    assert run(["models", "list"]) == 0
    assert str(ckpt.resolve()) in capsys.readouterr().out  # remembered as recently used


def test_help_for_every_command():
    for cmd in ("matte", "batch", "eval", "models"):
        out = subprocess.run([sys.executable, "-m", "matteapp", cmd, "--help"], capture_output=True, text=True)
        assert out.returncode == 0 and "example" in out.stdout


@pytest.mark.slow
def test_eval_closed_form_reproduces_published_figure(capsys, tmp_path):
    require(DEV_DATA)
    js = tmp_path / "cf.json"
    code = run(["eval", "--images", str(DEV_DATA / "image"), "--trimaps", str(DEV_DATA / "trimap1"), "--trimaps",
                str(DEV_DATA / "trimap2"), "--alphas", str(DEV_DATA / "alpha"), "--engine", "closed-form", "--json", str(js)])
    assert code == 0
    mean = json.loads(js.read_text())["mean"]
    assert mean["sad"] == pytest.approx(5.385, rel=0.02)
    assert mean["mse"] == pytest.approx(16.24e-3, rel=0.02)
