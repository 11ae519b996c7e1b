"""Packaging: the wheel and sdist carry the package data and work outside the source tree; one version
number; the command line's --version, --self-test and unknown options; the desktop files validate; the
icons are there; install-desktop.sh installs and uninstalls.

The bundle itself (packaging/build.sh) is not built here: it takes many minutes and gigabytes.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import textwrap
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import numpy as np
import pytest

import matteapp
from matteapp.gui.arguments import parse_window_args, split_qt_options
from matteapp.selftest import SelfTestError, check_alpha

ROOT = Path(__file__).resolve().parents[1]
LINUX = ROOT / "packaging" / "linux"
APP_ID = "io.github.matteapp.MatteApp"
RESOURCES = [
    "matteapp/resources/models/mematte-d192.safetensors",
    "matteapp/resources/models/README.md",
    "matteapp/resources/models/catalog.json",
    "matteapp/resources/models/logs/student-d192.csv",
    "matteapp/resources/samples/astronaut.png",
    "matteapp/resources/samples/CREDITS.md",
    "matteapp/resources/icons/matteapp-256.png",
    "matteapp/resources/icons/matteapp.svg",
]
SUBPROCESS_TIMEOUT = 600  # a cold start of torch on a shared 2-core machine takes tens of seconds


def _isolated_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a child matteapp: empty config and models folders (so that the bundled model is
    the default whatever this machine pinned), offscreen Qt."""
    env = dict(os.environ)
    env.pop("MATTEAPP_MODEL", None)
    env.pop("MATTEAPP_MODEL_CATALOG", None)
    env.update(
        MATTEAPP_CONFIG_DIR=str(tmp_path / "config"),
        MATTEAPP_MODELS_DIR=str(tmp_path / "models"),
        XDG_CONFIG_HOME=str(tmp_path / "xdg-config"),
        QT_QPA_PLATFORM="offscreen",
        **extra,
    )
    return env


def _copy_tree(dest: Path) -> Path:
    """What the wheel and sdist are built from (pyproject, MANIFEST.in and what they name), without build
    outputs: pip builds in the source folder, and a build/ left there by an earlier build (or by someone
    else's) must not leak into the wheel under test."""
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    dest.mkdir()
    for name in ("matteapp", "packaging"):
        shutil.copytree(ROOT / name, dest / name, ignore=ignore)
    for name in ("pyproject.toml", "MANIFEST.in", "README.md", "Makefile"):
        shutil.copy2(ROOT / name, dest / name)
    return dest


# ------------------------------------------------------------------------------------ the distribution


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, Path]:
    """A wheel and an sdist, built from a copy of the tree without network (no build isolation)."""
    base = tmp_path_factory.mktemp("dist")
    src = _copy_tree(base / "src")
    out = base / "out"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet", "-w", str(out), str(src)],
        check=True,
        timeout=SUBPROCESS_TIMEOUT,
    )
    sdist_code = f"from setuptools import build_meta; print(build_meta.build_sdist({str(out)!r}))"
    subprocess.run([sys.executable, "-c", sdist_code], cwd=src, check=True, timeout=SUBPROCESS_TIMEOUT, capture_output=True)
    (wheel,) = out.glob("*.whl")
    (sdist,) = out.glob("*.tar.gz")
    return {"wheel": wheel, "sdist": sdist, "base": base}


@pytest.mark.slow
def test_wheel_and_sdist_carry_the_package_data_and_the_version(built):
    assert built["wheel"].name == f"matteapp-{matteapp.__version__}-py3-none-any.whl"
    with zipfile.ZipFile(built["wheel"]) as wheel:
        names = set(wheel.namelist())
        metadata = wheel.read(f"matteapp-{matteapp.__version__}.dist-info/METADATA").decode()
    assert set(RESOURCES) <= names
    assert not any(n.startswith(("tests/", "packaging/")) for n in names)
    assert f"\nVersion: {matteapp.__version__}\n" in metadata
    with tarfile.open(built["sdist"]) as sdist:
        members = {m.name.split("/", 1)[1] for m in sdist.getmembers() if "/" in m.name}
    assert set(RESOURCES) <= members
    assert {"packaging/matteapp.spec", "packaging/build.sh", f"packaging/linux/{APP_ID}.desktop"} <= members


@pytest.mark.slow
def test_the_installed_wheel_works_outside_the_source_tree(built, tmp_path):
    target = built["base"] / "target"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", str(target), str(built["wheel"])],
        check=True,
        timeout=SUBPROCESS_TIMEOUT,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = _isolated_env(tmp_path, PYTHONPATH=str(target))
    script = textwrap.dedent(
        f"""
        from pathlib import Path
        import matteapp
        target = Path({str(target)!r}).resolve()
        assert Path(matteapp.__file__).resolve().is_relative_to(target), matteapp.__file__
        model = matteapp.load_model()  # no argument: the bundled model
        assert Path(model.source).resolve().is_relative_to(target), model.source
        from matteapp.gui.window.files import SAMPLE_PHOTO  # what Help > Open Sample Photo opens
        from matteapp.io.images import load_image
        assert SAMPLE_PHOTO.resolve().is_relative_to(target), SAMPLE_PHOTO
        print("sample", load_image(SAMPLE_PHOTO).rgb.shape, "model", model.source)
        """
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=elsewhere, env=env, capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT)
    assert out.returncode == 0, out.stderr
    assert "sample (512, 512, 3)" in out.stdout

    version = subprocess.run([sys.executable, "-m", "matteapp", "--version"], cwd=elsewhere, env=env, capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT)
    assert (version.returncode, version.stdout) == (0, f"matteapp {matteapp.__version__}\n")

    selftest = subprocess.run([sys.executable, "-m", "matteapp", "--self-test"], cwd=elsewhere, env=env, capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT)
    assert selftest.returncode == 0, selftest.stderr
    assert selftest.stdout.startswith("self-test passed: bundled (mematte-d192.safetensors)")


def test_the_version_is_written_in_one_place():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "matteapp.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", matteapp.__version__)
    # the newest release of the AppStream metadata is this version
    releases = ET.parse(LINUX / f"{APP_ID}.metainfo.xml").getroot().find("releases")
    assert releases[0].get("version") == matteapp.__version__
    # the Windows version resource is a template the spec fills in
    template = (ROOT / "packaging" / "windows" / "version_info.txt").read_text()
    assert "@VERSION@" in template and "@VERSION_TUPLE@" in template and matteapp.__version__ not in template


# ------------------------------------------------------------------------------------- command line


def _matteapp(*args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "matteapp", *args], env=_isolated_env(tmp_path), capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT
    )


def test_version_prints_the_version_and_unknown_options_are_refused(tmp_path):
    out = _matteapp("--version", tmp_path=tmp_path)
    assert (out.returncode, out.stdout) == (0, f"matteapp {matteapp.__version__}\n")
    for wrong in (["--bogus"], ["photo.jpg", "--bogus"], ["a.jpg", "b.jpg"], ["--device", "tpu"]):
        out = _matteapp(*wrong, tmp_path=tmp_path)
        assert out.returncode == 2, (wrong, out.stdout, out.stderr)
        assert out.stderr.startswith("usage: matteapp [PHOTO | PROJECT.matte]") and "error:" in out.stderr
    from matteapp.cli import build_parser

    assert "--self-test" in build_parser().format_help()


def test_the_window_arguments_keep_photo_model_device_and_qt_options():
    args, qt = parse_window_args(["-platform", "offscreen", "cat.jpg", "--model", "m.safetensors", "--device", "cpu", "--style=Fusion"])
    assert (str(args.path), args.model, args.device, args.precision) == ("cat.jpg", "m.safetensors", "cpu", None)
    assert qt == ["-platform", "offscreen", "--style=Fusion"]
    assert split_qt_options(["-reverse", "p.matte"]) == (["-reverse"], ["p.matte"])
    args, qt = parse_window_args([])
    assert args.path is None and not args.smoke_test and qt == []


def test_check_alpha_accepts_a_matte_and_names_what_is_wrong_with_a_broken_one():
    trimap = np.zeros((40, 40), np.uint8)
    trimap[10:30, 10:30] = 128
    trimap[15:25, 15:25] = 255
    alpha = np.where(trimap == 255, 1.0, 0.0).astype(np.float32)
    alpha[trimap == 128] = np.linspace(0, 1, int((trimap == 128).sum()))
    figures = check_alpha(alpha, trimap)
    assert figures["near1"] > 0.05 and figures["near0"] > 0.05 and figures["unknown_std"] > 0.2
    broken = {
        "non-finite": np.where(trimap == 128, np.nan, alpha),
        "outside": alpha * 1.5,
        "degenerate": np.full_like(alpha, 0.5),
        "flat": np.where(trimap == 128, 0.5, alpha),
    }
    for word, bad in broken.items():
        with pytest.raises(SelfTestError, match=word):
            check_alpha(bad.astype(np.float32), trimap)


# ----------------------------------------------------------------------------------------- the GUI


@pytest.mark.slow
@pytest.mark.gui
def test_smoke_test_opens_the_window_with_a_photo_and_quits(tmp_path):
    from matteapp.io.images import SAMPLE_PHOTO

    out = _matteapp("--smoke-test", str(SAMPLE_PHOTO), tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "smoke test passed: window up on Qt platform offscreen, astronaut.png shown, model mematte-d192" in out.stdout


@pytest.mark.gui
def test_the_application_has_its_icon_and_opens_files_macos_hands_over(qapp):
    from PySide6.QtCore import QObject
    from PySide6.QtGui import QFileOpenEvent

    from matteapp.gui.app import FileOpenHandler, application_icon

    icon = application_icon()
    assert not icon.isNull() and icon.actualSize(icon.availableSizes()[0]).width() == 256

    class Window(QObject):
        opened: list[str] = []

        def open_path(self, path):
            self.opened.append(path)

    window = Window()
    handler = FileOpenHandler(window)
    assert handler.eventFilter(qapp, QFileOpenEvent("/photos/cat.matte"))
    assert window.opened == ["/photos/cat.matte"]


# ------------------------------------------------------------------------------- desktop integration


def test_desktop_entry_validates():
    if shutil.which("desktop-file-validate") is None:
        pytest.skip("desktop-file-validate is not installed (Debian: desktop-file-utils; .ci/run installs it)")
    out = subprocess.run(["desktop-file-validate", str(LINUX / f"{APP_ID}.desktop")], capture_output=True, text=True)
    assert out.returncode == 0 and "error" not in out.stdout.lower(), out.stdout


def test_metainfo_validates():
    if shutil.which("appstreamcli") is None:
        pytest.skip("appstreamcli is not installed (Debian: appstream; .ci/run installs it)")
    out = subprocess.run(["appstreamcli", "validate", "--no-net", str(LINUX / f"{APP_ID}.metainfo.xml")], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_metainfo_screenshots_are_the_committed_ones():
    root = ET.parse(LINUX / f"{APP_ID}.metainfo.xml").getroot()
    for image in root.iter("image"):
        name = image.text.rsplit("/docs/screenshots/", 1)[1]
        assert (ROOT / "docs" / "screenshots" / name).is_file(), name


def test_mime_type_maps_matte_files_to_the_project_type(tmp_path):
    root = ET.parse(LINUX / "matteapp.xml").getroot()
    ns = "{http://www.freedesktop.org/standards/shared-mime-info}"
    (mime,) = root.findall(f"{ns}mime-type")
    assert mime.get("type") == "application/x-matteapp-project"
    assert [g.get("pattern") for g in mime.findall(f"{ns}glob")] == ["*.matte"]
    desktop = (LINUX / f"{APP_ID}.desktop").read_text()
    assert "application/x-matteapp-project;" in desktop
    if shutil.which("update-mime-database") is None:
        pytest.skip("update-mime-database is not installed (Debian: shared-mime-info)")
    packages = tmp_path / "mime" / "packages"
    packages.mkdir(parents=True)
    shutil.copy(LINUX / "matteapp.xml", packages)
    subprocess.run(["update-mime-database", str(tmp_path / "mime")], check=True, capture_output=True)
    assert "application/x-matteapp-project:*.matte" in (tmp_path / "mime" / "globs2").read_text()


def test_the_magic_rule_matches_a_saved_project(tmp_path):
    # A .matte's first member must stay project.json at offset 30 for the shared-mime-info magic to hold.
    from matteapp.document.project import save_project
    from matteapp.document.state import MatteDocument
    from matteapp.io.images import SAMPLE_PHOTO, load_image

    doc = MatteDocument(load_image(SAMPLE_PHOTO))
    path = tmp_path / "p.matte"
    save_project(doc, path)
    head = path.read_bytes()[:42]
    assert head[:4] == b"PK\x03\x04" and head[30:42] == b"project.json"


def test_icons_are_committed_at_every_size():
    out = subprocess.run([sys.executable, str(ROOT / "packaging" / "icons" / "make_icons.py"), "--check"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_install_desktop_script_installs_and_uninstalls(tmp_path):
    data = tmp_path / "share"
    program = tmp_path / "bin" / "matteapp"
    program.parent.mkdir()
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    env = dict(os.environ, XDG_DATA_HOME=str(data))
    script = str(LINUX / "install-desktop.sh")
    subprocess.run(["sh", script, "--exec", str(program)], env=env, check=True, capture_output=True)
    entry = (data / "applications" / f"{APP_ID}.desktop").read_text()
    assert f"\nExec={program} %f\n" in entry and f"\nTryExec={program}\n" in entry
    installed = [
        data / "metainfo" / f"{APP_ID}.metainfo.xml",
        data / "mime" / "packages" / "matteapp.xml",
        data / "icons" / "hicolor" / "48x48" / "apps" / f"{APP_ID}.png",
        data / "icons" / "hicolor" / "512x512" / "apps" / f"{APP_ID}.png",
        data / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg",
    ]
    assert all(p.is_file() for p in installed)
    if shutil.which("desktop-file-validate"):
        subprocess.run(["desktop-file-validate", str(data / "applications" / f"{APP_ID}.desktop")], check=True)
    subprocess.run(["sh", script, "--uninstall"], env=env, check=True, capture_output=True)
    assert not (data / "applications" / f"{APP_ID}.desktop").exists()
    assert not any(p.exists() for p in installed)
    out = subprocess.run(["sh", script, "--bogus"], env=env, capture_output=True, text=True)
    assert out.returncode == 2 and "--uninstall" in out.stderr
