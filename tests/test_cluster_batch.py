"""`matteapp batch`: the manifest that makes it resumable, and the Ray pool behind --cluster.

The tests marked ``cluster`` start a local Ray instance in this process (2 CPUs, no dashboard, shut
down at the end of the module) and run the real command on tiny photos with a tiny random model.
"""

import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from matteapp.batch.cluster import ClusterError, PoolSpec, plan_pool
from matteapp.cli import EXIT_FAILED, EXIT_INPUT, EXIT_INTERRUPTED, EXIT_OK, build_parser, cmd_batch, run
from matteapp.model import MattingConfig, build_model
from matteapp.model.checkpoint import save_network

H, W = 96, 128
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _config_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("MATTEAPP_CONFIG_DIR", str(tmp_path / "config"))


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("models") / "tiny.safetensors"
    save_network(build_model(MattingConfig(name="tiny", embed_dim=96, num_heads=3)), path)
    return path


@pytest.fixture(scope="module")
def ray_local():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR")
    try:
        yield ray
    finally:
        ray.shutdown()


def make_shoot(root: Path, good: int, bad: bool = False) -> tuple[Path, Path]:
    """``good`` photos p0… with trimaps; with ``bad``, also a corrupt JPEG and a photo without a trimap."""
    photos, trimaps = root / "shoot", root / "trimaps"
    photos.mkdir(), trimaps.mkdir()
    rng = np.random.default_rng(0)
    trimap = np.zeros((H, W), np.uint8)
    trimap[12:84, 16:112] = 128
    trimap[32:64, 40:88] = 255
    for i in range(good):
        Image.fromarray((rng.random((H, W, 3)) * 255).astype(np.uint8)).save(photos / f"p{i}.png")
        Image.fromarray(trimap).save(trimaps / f"p{i}.png")
    if bad:
        (photos / "corrupt.jpg").write_bytes(b"\xff\xd8\xff truncated")
        Image.fromarray(trimap).save(trimaps / "corrupt.png")
        Image.fromarray((rng.random((H, W, 3)) * 255).astype(np.uint8)).save(photos / "lonely.png")  # no trimap
    return photos, trimaps


def batch_args(photos, trimaps, out, model, *extra) -> list[str]:
    return ["batch", str(photos), "--trimaps", str(trimaps), "-o", str(out), "--model", str(model),
            "--device", "cpu", "--precision", "fp32", *extra]


def manifest_lines(out: Path) -> list[dict]:
    lines = []
    for line in (out / "manifest.jsonl").read_text().splitlines():
        try:
            lines.append(json.loads(line))
        except ValueError:  # a torn line, as a killed batch leaves
            pass
    return lines


def photo_lines(out: Path) -> list[dict]:
    return [entry for entry in manifest_lines(out) if "photo" in entry]


def successes(out: Path) -> Counter:
    return Counter(r["photo"] for r in photo_lines(out) if r["error"] is None)


def pixel_difference(a: Path, b: Path) -> str:
    x, y = (np.asarray(Image.open(p)).astype(np.int32) for p in (a, b))
    if x.shape != y.shape:
        return f"{a.name}: {x.shape} vs {y.shape}"
    d = np.abs(x - y)
    return f"{a.parent.name}/{a.name} differs: {(d > 0).sum()} values, by at most {d.max()}"


def files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# ------------------------------------------------------------------------------- local (no Ray)


def test_local_batch_records_each_photo_and_a_rerun_does_only_what_is_missing(tmp_path, tiny_model, capsys):
    photos, trimaps = make_shoot(tmp_path, good=3, bad=True)
    out, alphas = tmp_path / "out", tmp_path / "alphas"
    cmd = batch_args(photos, trimaps, out, tiny_model, "--alpha-dir", str(alphas))
    assert run(cmd) == EXIT_FAILED
    records = {r["photo"]: r for r in photo_lines(out)}
    assert set(records) == {"p0.png", "p1.png", "p2.png", "corrupt.jpg", "lonely.png"}
    good = records["p0.png"]
    assert good["error"] is None and good["attempt"] == 1 and good["outputs"] == ["p0.png", "../alphas/p0.png"]
    assert good["model"] == str(tiny_model) and good["device"] == "cpu/fp32" and 0 <= good["routed"] <= 1 and good["seconds"] > 0
    assert "corrupt.jpg" in records["corrupt.jpg"]["error"] and "no trimap named lonely" in records["lonely.png"]["error"]
    assert files(out) == ["manifest.jsonl", "p0.png", "p1.png", "p2.png"]
    capsys.readouterr()

    # the rerun retries only the failures; once a trimap appears, that photo goes through
    before = {name: (out / name).stat().st_mtime_ns for name in ("p0.png", "p1.png", "p2.png")}
    shutil.copy(trimaps / "p0.png", trimaps / "lonely.png")
    assert run(cmd) == EXIT_FAILED
    err = capsys.readouterr().err
    assert "3 of 5 photos already done" in err and "1 failed" in err and "corrupt.jpg" in err
    assert {name: (out / name).stat().st_mtime_ns for name in before} == before
    again = [r for r in photo_lines(out) if r["photo"] in ("lonely.png", "corrupt.jpg")]
    assert [(r["photo"], r["attempt"], r["error"] is None) for r in again[2:]] == [("corrupt.jpg", 2, False), ("lonely.png", 2, True)]

    # an output deleted since is made again, and nothing else
    (alphas / "p1.png").unlink()
    (photos / "corrupt.jpg").unlink()
    assert run(cmd) == EXIT_OK
    assert [r["photo"] for r in photo_lines(out)][-1:] == ["p1.png"] and (alphas / "p1.png").exists()
    assert "4 of 4 photos matted" in capsys.readouterr().out


def test_a_batch_killed_between_writing_and_recording_resumes_without_force(tmp_path, tiny_model, capsys):
    photos, trimaps = make_shoot(tmp_path, good=4)
    out = tmp_path / "out"
    cmd = batch_args(photos, trimaps, out, tiny_model)
    assert run(cmd) == EXIT_OK
    # as if killed: p2 and p3 were written but never recorded, the last line is torn, and a write
    # was cut short (its temporary file is still there)
    manifest = out / "manifest.jsonl"
    lines = manifest.read_text().splitlines()
    kept = [line for line in lines if '"p2.png"' not in line and '"p3.png"' not in line]
    manifest.write_text("\n".join(kept) + '\n{"photo": "p2.png", "outp')
    (out / ".p3.png.0123456789ab.tmp").write_bytes(b"half a png")
    # and p0's cutout was deleted: it is not done any more
    (out / "p0.png").unlink()
    capsys.readouterr()
    assert run(cmd) == EXIT_OK
    assert "unreadable line" in capsys.readouterr().err
    assert files(out) == ["manifest.jsonl", "p0.png", "p1.png", "p2.png", "p3.png"]
    assert successes(out) == {"p0.png": 2, "p1.png": 1, "p2.png": 1, "p3.png": 1}


def test_an_output_older_than_the_batch_is_not_replaced_without_force(tmp_path, tiny_model, capsys):
    photos, trimaps = make_shoot(tmp_path, good=2)
    out = tmp_path / "out"
    out.mkdir()
    (out / "p1.png").write_bytes(b"someone else's file")
    old = time.time() - 3600
    os.utime(out / "p1.png", (old, old))
    cmd = batch_args(photos, trimaps, out, tiny_model)
    assert run(cmd) == EXIT_FAILED
    assert (out / "p1.png").read_bytes() == b"someone else's file"
    assert "already exists" in capsys.readouterr().err
    assert run(cmd + ["--force"]) == EXIT_OK
    assert successes(out) == {"p0.png": 1, "p1.png": 1}


def test_pool_options_need_cluster_and_a_second_batch_into_the_same_folder_is_refused(tmp_path, tiny_model, capsys):
    photos, trimaps = make_shoot(tmp_path, good=1)
    out = tmp_path / "out"
    assert run(batch_args(photos, trimaps, out, tiny_model, "--workers", "2")) == EXIT_INPUT
    assert "--workers only apply with --cluster" in capsys.readouterr().err
    from matteapp.batch.manifest import Manifest

    out.mkdir()
    with Manifest.open(out):  # another batch holds the folder
        assert run(batch_args(photos, trimaps, out, tiny_model)) == EXIT_INPUT
    assert "another batch is writing into" in capsys.readouterr().err


def test_ray_is_imported_only_for_cluster_and_its_absence_is_one_clear_line(tmp_path, tiny_model):
    photos, trimaps = make_shoot(tmp_path, good=1)
    local = batch_args(photos, trimaps, tmp_path / "a", tiny_model, "--no-decontaminate")
    cluster = batch_args(photos, trimaps, tmp_path / "b", tiny_model, "--cluster", "ray")
    script = (
        "import sys\n"
        "from matteapp.cli import run\n"
        f"assert run({local!r}) == 0\n"
        "assert 'ray' not in sys.modules, 'a local batch imported ray'\n"
        "sys.modules['ray'] = None  # as if not installed\n"
        f"sys.exit(run({cluster!r}))\n"
    )
    env = {**os.environ, "MATTEAPP_CONFIG_DIR": str(tmp_path / "config")}
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == EXIT_INPUT, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last == "matteapp: --cluster needs Ray, which is not installed: pip install 'matteapp[cluster]'"


def test_the_pool_is_sized_from_the_cluster():
    gpus = plan_pool(PoolSpec(), {"CPU": 16.0, "GPU": 2.0})
    assert (gpus.workers, gpus.cpus, gpus.gpus, gpus.device, gpus.threads) == (2, 4.0, 1.0, "cuda", 4)
    shared = plan_pool(PoolSpec(gpus_per_worker=0.5), {"CPU": 8.0, "GPU": 2.0})
    assert (shared.workers, shared.cpus, shared.gpus) == (4, 2.0, 0.5)
    cpu = plan_pool(PoolSpec(), {"CPU": 2.0})
    assert (cpu.workers, cpu.cpus, cpu.gpus, cpu.device) == (1, 2.0, 0.0, "cpu")
    assert plan_pool(PoolSpec(device="cpu", cpus_per_worker=3), {"CPU": 12.0, "GPU": 4.0}).workers == 4
    with pytest.raises(ClusterError, match="cluster has 0"):
        plan_pool(PoolSpec(gpus_per_worker=1), {"CPU": 4.0})
    with pytest.raises(ClusterError, match="--device cuda needs GPUs"):
        plan_pool(PoolSpec(device="cuda"), {"CPU": 4.0})


# ------------------------------------------------------------------------------------ on Ray


@pytest.mark.cluster
def test_cluster_batch_writes_the_same_bytes_as_the_local_one_and_lists_failures(ray_local, tmp_path, tiny_model, capsys):
    photos, trimaps = make_shoot(tmp_path, good=4, bad=True)
    local, remote = tmp_path / "local", tmp_path / "remote"
    # the workers get one CPU, hence one torch thread: match it, since CPU sums depend on the split
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert run(batch_args(photos, trimaps, local, tiny_model, "--alpha-dir", str(local / "alpha"))) == EXIT_FAILED
    finally:
        torch.set_num_threads(threads)
    capsys.readouterr()
    cluster = ["--cluster", "ray", "--workers", "2", "--cpus-per-worker", "1"]
    assert run(batch_args(photos, trimaps, remote, tiny_model, "--alpha-dir", str(remote / "alpha"), *cluster)) == EXIT_FAILED
    err = capsys.readouterr().err
    assert "cluster: 2 workers × (1 CPU) on cpu" in err
    assert "2 failed" in err and "corrupt.jpg" in err and "lonely.png" in err

    expected = [f"p{i}.png" for i in range(4)]
    for sub in ("", "alpha"):
        names = [n for n in files(local / sub) if n.endswith(".png")]
        assert names == expected and [n for n in files(remote / sub) if n.endswith(".png")] == expected
        for name in names:
            assert (local / sub / name).read_bytes() == (remote / sub / name).read_bytes(), pixel_difference(local / sub / name, remote / sub / name)
    records = photo_lines(remote)
    assert Counter(r["photo"] for r in records) == Counter(expected + ["corrupt.jpg", "lonely.png"])  # one attempt each
    failed = {r["photo"]: r["error"] for r in records if r["error"]}
    assert set(failed) == {"corrupt.jpg", "lonely.png"} and "no trimap named lonely" in failed["lonely.png"]
    assert all(r["worker"] != photo_lines(local)[0]["worker"] for r in records)  # matted in the actors
    run_line = manifest_lines(remote)[0]
    assert run_line["run"] == 1 and run_line["workers"] == 2 and run_line["pending"] == 6


@pytest.mark.cluster
def test_a_worker_killed_mid_batch_is_replaced_and_no_photo_is_lost_or_doubled(ray_local, tmp_path, tiny_model, capsys):
    photos, trimaps = make_shoot(tmp_path, good=5)
    out = tmp_path / "out"
    marker = tmp_path / "killed-once"

    def kill_the_worker_on_p2(path):  # runs in the actor; os._exit is what a crash or the OOM killer looks like
        if path.stem == "p2" and not marker.exists():
            marker.touch()
            os._exit(1)

    # one worker, so that the batch can only finish if the dead one is replaced
    cluster = ["--cluster", "ray", "--workers", "1", "--cpus-per-worker", "1", "--no-decontaminate"]
    args = build_parser().parse_args(batch_args(photos, trimaps, out, tiny_model, *cluster))
    assert cmd_batch(args, before_photo=kill_the_worker_on_p2) == EXIT_OK
    assert marker.exists()
    assert files(out) == ["manifest.jsonl"] + [f"p{i}.png" for i in range(5)]
    assert successes(out) == {f"p{i}.png": 1 for i in range(5)}
    lost = [r for r in photo_lines(out) if r["error"] is not None]
    assert "p2.png" in {r["photo"] for r in lost} and len(lost) <= 2  # p2 and at most the photo queued behind it
    assert all(r.get("retrying") and "died" in r["error"] for r in lost)
    p2 = [r for r in photo_lines(out) if r["photo"] == "p2.png"]
    assert [(r["attempt"], r["error"] is None) for r in p2] == [(1, False), (2, True)]
    assert p2[0]["worker"] != p2[1]["worker"]
    assert "p2.png: worker" in capsys.readouterr().err  # said on the spot, not only in the manifest


@pytest.mark.cluster
def test_an_interrupted_cluster_batch_resumes_with_only_the_rest(ray_local, tmp_path, tiny_model, monkeypatch):
    from matteapp.batch.manifest import Manifest

    photos, trimaps = make_shoot(tmp_path, good=6)
    out = tmp_path / "out"
    # one worker is enough: it holds two photos in flight, which the interruption catches half done
    cluster = ["--cluster", "ray", "--workers", "1", "--cpus-per-worker", "1", "--no-decontaminate"]
    cmd = batch_args(photos, trimaps, out, tiny_model, *cluster)
    append = Manifest.append
    recorded: list[str] = []

    def append_then_interrupt(self, record):  # Ctrl-C after the second photo is recorded
        append(self, record)
        recorded.append(record["photo"])
        if len(recorded) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(Manifest, "append", append_then_interrupt)
    assert run(cmd) == EXIT_INTERRUPTED
    monkeypatch.setattr(Manifest, "append", append)
    first = {name: (out / name).stat().st_mtime_ns for name in recorded}

    # photos in flight at the interruption may have been written without a record: replaced, no --force needed
    assert run(cmd) == EXIT_OK
    assert successes(out) == {f"p{i}.png": 1 for i in range(6)}
    assert {name: (out / name).stat().st_mtime_ns for name in recorded} == first
    lines = manifest_lines(out)
    second = lines.index(next(e for e in lines if e.get("run") == 2))
    assert sorted(e["photo"] for e in lines[second + 1 :]) == sorted({f"p{i}.png" for i in range(6)} - set(recorded))
    assert lines[second]["pending"] == 4
    assert files(out) == ["manifest.jsonl"] + [f"p{i}.png" for i in range(6)]
