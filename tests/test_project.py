"""Project files and autosaves: round trips, relocating the photo, readable errors, no silent overwrite."""

import hashlib
import json
import os
import shutil
import zipfile
from datetime import datetime, timezone

import numpy as np
import pytest
from PIL import Image

from matteapp.document import paint, project
from matteapp.document.project import (
    ProjectError,
    autosave,
    discard_autosave,
    find_autosaves,
    load_project,
    save_project,
)
from matteapp.document.state import MatteDocument
from matteapp.engine.session import SessionResult
from matteapp.io.export import OutputExistsError
from matteapp.io.images import load_image

BG, UNK, FG = 0, 128, 255


@pytest.fixture(autouse=True)
def config_dir(tmp_path, monkeypatch):
    directory = tmp_path / "config"
    monkeypatch.setenv("MATTEAPP_CONFIG_DIR", str(directory))
    return directory


def write_photo(path, h=48, w=64, seed=0):
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((rng.random((h, w, 3)) * 255).astype(np.uint8)).save(path)
    return path


@pytest.fixture
def doc(tmp_path):
    d = MatteDocument(load_image(write_photo(tmp_path / "shoot" / "photo.png")))
    d.apply(paint.rectangle(d.trimap, 8, 6, 56, 42, UNK), "Band")
    d.apply(paint.stroke(d.trimap, [(20.0, 20.0), (44.0, 30.0)], 5, FG), "Brush")
    d.update_settings(band_width=7, engine="closed-form", memory_budget_mb=1500, auto_run=True)
    return d


def final_result(doc, seed=1):
    rng = np.random.default_rng(seed)
    alpha = rng.random(doc.size).astype(np.float32)
    alpha[0, :3] = [0.0, 1.0, 0.5]
    return SessionResult(alpha, doc.size, doc.size, False, "closed-form")


def rewrite(path, drop=(), manifest_changes=None):
    """Copy of a project with members dropped or project.json changed (as another version might write)."""
    with zipfile.ZipFile(path) as src:
        members = {name: src.read(name) for name in src.namelist() if name not in drop}
    if manifest_changes is not None:
        manifest = json.loads(members["project.json"])
        manifest.update(manifest_changes)
        members["project.json"] = json.dumps(manifest).encode()
    path.unlink()
    with zipfile.ZipFile(path, "w") as dst:
        for name, data in members.items():
            dst.writestr(name, data)


# ------------------------------------------------------------------------------------------- round trip


def test_round_trip_restores_trimap_settings_and_alpha(doc, tmp_path):
    doc.set_result(final_result(doc))
    target = tmp_path / "shoot" / "cutout.matte"
    assert doc.dirty
    assert save_project(doc, target) == target
    assert doc.path == target and not doc.dirty

    loaded = load_project(target)
    assert np.array_equal(loaded.trimap, doc.trimap)
    assert dict(loaded.settings) == dict(doc.settings)
    assert loaded.settings["engine"] == "closed-form" and loaded.settings["memory_budget_mb"] == 1500.0
    assert loaded.alpha.dtype == np.float32 and not loaded.alpha_is_preview
    np.testing.assert_allclose(loaded.alpha, doc.alpha, atol=0.5 / 65535 + 1e-7)  # 16-bit PNG
    assert loaded.alpha[0, :2].tolist() == [0.0, 1.0]
    assert loaded.result.engine == "closed-form"
    assert np.array_equal(loaded.rgb, doc.rgb) and loaded.image.path == doc.image.path.resolve()
    assert loaded.path == target and not loaded.dirty and len(loaded.history) == 0
    assert loaded.notices == []

    with zipfile.ZipFile(target) as archive:
        assert sorted(archive.namelist()) == ["alpha.png", "project.json", "trimap.png"]
        manifest = json.loads(archive.read("project.json"))
        with archive.open("trimap.png") as f, Image.open(f) as png:
            assert png.mode == "L"
        with archive.open("alpha.png") as f, Image.open(f) as png:
            assert png.mode.startswith("I;16")
    assert manifest["photo"]["relative_path"] == "photo.png"
    assert manifest["photo"]["width"] == 64 and manifest["photo"]["height"] == 48
    assert manifest["photo"]["file_size"] == (tmp_path / "shoot" / "photo.png").stat().st_size


def test_previews_and_missing_results_are_not_saved(doc, tmp_path):
    doc.set_result(SessionResult(np.ones((24, 32), np.float32), (24, 32), doc.size, True, "mematte"))
    save_project(doc, tmp_path / "a.matte")
    with zipfile.ZipFile(tmp_path / "a.matte") as archive:
        assert "alpha.png" not in archive.namelist()
    assert load_project(tmp_path / "a.matte").alpha is None


def test_save_refuses_to_overwrite_without_force(doc, tmp_path):
    target = save_project(doc, tmp_path / "a.matte")
    original = target.read_bytes()
    doc.apply(paint.fill(doc.trimap, FG), "Fill")
    with pytest.raises(OutputExistsError):
        save_project(doc, target)
    assert target.read_bytes() == original and doc.dirty
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    save_project(doc, target, force=True)
    assert (load_project(target).trimap == FG).all() and not doc.dirty


# ----------------------------------------------------------------------------------------- relocation


def test_moved_folder_is_found_by_the_relative_path(doc, tmp_path):
    save_project(doc, tmp_path / "shoot" / "a.matte")
    shutil.move(tmp_path / "shoot", tmp_path / "archive")
    loaded = load_project(tmp_path / "archive" / "a.matte")
    assert loaded.image.path == (tmp_path / "archive" / "photo.png").resolve()
    assert np.array_equal(loaded.trimap, doc.trimap)


def test_missing_photo_names_where_it_looked_and_can_be_relocated(doc, tmp_path):
    (tmp_path / "projects").mkdir()
    target = save_project(doc, tmp_path / "projects" / "a.matte")
    moved = tmp_path / "elsewhere" / "renamed.png"
    moved.parent.mkdir()
    shutil.move(tmp_path / "shoot" / "photo.png", moved)
    with pytest.raises(ProjectError) as error:
        load_project(target)
    message = str(error.value)
    assert str((tmp_path / "shoot" / "photo.png").resolve()) in message and "a.matte" in message
    assert error.value.path == target

    loaded = load_project(target, photo=moved)
    assert loaded.image.path == moved.resolve() and np.array_equal(loaded.trimap, doc.trimap)
    save_project(loaded, target, force=True)  # the new place is recorded
    assert load_project(target).image.path == moved.resolve()

    with pytest.raises(ProjectError, match="nothere.png"):
        load_project(target, photo=tmp_path / "nothere.png")


def test_photo_of_another_size_is_refused(doc, tmp_path):
    target = save_project(doc, tmp_path / "a.matte")
    other = write_photo(tmp_path / "small.png", 30, 40)
    with pytest.raises(ProjectError, match=r"40×30 pixels but the trimap of a\.matte is 64×48"):
        load_project(target, photo=other)


def test_edited_photo_is_reported(doc, tmp_path):
    target = save_project(doc, tmp_path / "a.matte")
    photo = tmp_path / "shoot" / "photo.png"
    write_photo(photo, seed=9)
    stamp = photo.stat().st_mtime + 60
    os.utime(photo, (stamp, stamp))
    loaded = load_project(target)
    assert len(loaded.notices) == 1 and "photo.png" in loaded.notices[0]


# --------------------------------------------------------------------------------------------- errors


def test_not_a_zip(tmp_path):
    path = tmp_path / "notes.matte"
    path.write_text("just text")
    with pytest.raises(ProjectError, match="not a zip archive"):
        load_project(path)
    with pytest.raises(ProjectError, match="There is no project file at"):
        load_project(tmp_path / "absent.matte")


@pytest.mark.parametrize("member", ["project.json", "trimap.png"])
def test_missing_members(doc, tmp_path, member):
    target = save_project(doc, tmp_path / "a.matte")
    rewrite(target, drop=[member])
    with pytest.raises(ProjectError, match=f"has no {member}"):
        load_project(target)


def test_missing_alpha_member(doc, tmp_path):
    doc.set_result(final_result(doc))
    target = save_project(doc, tmp_path / "a.matte")
    rewrite(target, drop=["alpha.png"])
    with pytest.raises(ProjectError, match="incomplete: it has no alpha.png"):
        load_project(target)


def test_newer_format_version(doc, tmp_path):
    target = save_project(doc, tmp_path / "a.matte")
    rewrite(target, manifest_changes={"version": project.FORMAT_VERSION + 1})
    with pytest.raises(ProjectError, match="newer version of matteapp"):
        load_project(target)


def test_other_zip_and_damaged_members(doc, tmp_path):
    target = save_project(doc, tmp_path / "a.matte")
    rewrite(target, manifest_changes={"format": "something-else"})
    with pytest.raises(ProjectError, match="not a matteapp project"):
        load_project(target)
    target = save_project(doc, tmp_path / "b.matte")
    with zipfile.ZipFile(target) as src:
        manifest = src.read("project.json")
    target.unlink()
    with zipfile.ZipFile(target, "w") as dst:
        dst.writestr("project.json", manifest)
        dst.writestr("trimap.png", b"not a png")
    with pytest.raises(ProjectError, match="damaged: its trimap.png"):
        load_project(target)


def test_invalid_saved_setting_is_reset_with_a_notice(doc, tmp_path):
    target = save_project(doc, tmp_path / "a.matte")
    rewrite(target, manifest_changes={"settings": {"band_width": -3, "preview": False, "from_the_future": 1}})
    loaded = load_project(target)
    assert loaded.settings["band_width"] is None and loaded.settings["preview"] is False
    assert len(loaded.notices) == 1 and "band_width" in loaded.notices[0]
    assert not loaded.dirty


# ------------------------------------------------------------------------------------------- autosave


def test_autosave_is_found_recovered_and_discarded(doc, tmp_path, config_dir):
    project_file = save_project(doc, tmp_path / "a.matte")
    doc.apply(paint.stroke(doc.trimap, [(10.0, 40.0)], 4, FG), "Brush")
    path = autosave(doc)
    expected_name = hashlib.sha1(str((tmp_path / "shoot" / "photo.png").resolve()).encode()).hexdigest()
    assert path == config_dir / "autosave" / f"{expected_name}.matte"
    assert doc.dirty and doc.path == project_file  # autosaving is not saving
    before = datetime.now(timezone.utc)
    assert autosave(doc) == path  # its own autosave is replaced
    after = datetime.now(timezone.utc)

    infos = find_autosaves()
    assert [i.path for i in infos] == [path]
    assert infos[0].photo_path == (tmp_path / "shoot" / "photo.png").resolve()
    assert infos[0].project_path == project_file.resolve()
    assert before <= infos[0].saved_at <= after

    recovered = load_project(infos[0].path)
    assert np.array_equal(recovered.trimap, doc.trimap)
    assert recovered.path == project_file.resolve() and recovered.dirty  # recovered work is unsaved

    assert discard_autosave(doc) and not path.exists()
    assert not discard_autosave(doc)
    assert find_autosaves() == []


def test_autosaves_are_listed_newest_first_and_broken_ones_skipped(tmp_path, config_dir, monkeypatch):
    docs = [MatteDocument(load_image(write_photo(tmp_path / f"p{i}.png", seed=i))) for i in range(3)]
    # A clock a minute apart per save, so the order does not rest on the real clock's resolution.
    saves = iter(datetime(2026, 1, 1, 12, minute, tzinfo=timezone.utc) for minute in range(3))

    class SteppedClock(datetime):
        @classmethod
        def now(cls, tz=None):
            return next(saves)

    with monkeypatch.context() as patch:
        patch.setattr(project, "datetime", SteppedClock)
        paths = [autosave(d) for d in docs]
    (config_dir / "autosave" / "garbage.matte").write_bytes(b"PK\x03\x04 broken")
    infos = find_autosaves()
    assert [i.path for i in infos] == paths[::-1]
    assert [i.photo_path.name for i in infos] == ["p2.png", "p1.png", "p0.png"]
    assert all(i.project_path is None for i in infos)
    assert load_project(infos[0].path).path is None

    assert discard_autosave(infos[1].path) and not paths[1].exists()
    with pytest.raises(ValueError):
        discard_autosave(tmp_path / "p0.png")  # never deletes anything outside the autosave folder


def test_autosave_leaves_out_the_alpha_unless_asked(doc):
    doc.set_result(final_result(doc))
    with zipfile.ZipFile(autosave(doc)) as archive:
        assert "alpha.png" not in archive.namelist()
    with zipfile.ZipFile(autosave(doc, include_alpha=True)) as archive:
        assert "alpha.png" in archive.namelist()


def test_no_autosave_folder_means_no_autosaves(config_dir):
    assert not (config_dir / "autosave").exists()
    assert find_autosaves() == []
    assert project.autosave_dir() == config_dir / "autosave"
