"""The model catalog, downloads and installs, against a web server on 127.0.0.1 (tests/model_server.py).

The server plays a plain host (Range requests, a connection that drops mid-file), a Google-Drive-style
"can't scan for viruses" page, a minimal Hugging Face hub (what ``hf_hub_download`` asks for: HEAD
and GET ``/{repo}/resolve/{revision}/{filename}`` with ``X-Repo-Commit``, ``ETag`` and
``Content-Length``), 404s and HTML error pages.  Each case ends with the model usable or one clear
error, nothing left behind in the models folder and the state file unchanged.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import torch
from conftest import REFERENCE, require
from model_server import Resource, leftovers, start_site, state, url_source

import matteapp
from matteapp.base import Cancelled
from matteapp.cli import EXIT_FAILED, EXIT_INPUT, run
from matteapp.model import MattingConfig, build_model
from matteapp.model import catalog as catalog_module
from matteapp.model import download as download_module
from matteapp.model import predictor as predictor_module
from matteapp.model.catalog import CatalogError, hf_endpoint, load_catalog, model_statuses, models_dir
from matteapp.model.download import (
    DownloadError,
    DownloadInterrupted,
    LicenceNotAccepted,
    ModelsFolderError,
    NotEnoughSpace,
    OfflineError,
    VerificationError,
    confirmation_url,
    download_model,
    drive_download_url,
    install_model_file,
    remove_model,
)

NAME = "ref-d96"
D96 = {"kind": "mematte", "embed_dim": 96, "depth": 12, "num_heads": 3, "routed": True}
COMMIT = "0123456789abcdef0123456789abcdef01234567"


# --------------------------------------------------------------------------------------------- server


@pytest.fixture
def site(monkeypatch):
    s = start_site(monkeypatch)
    yield s
    s.close()


# ------------------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def reference_bytes() -> bytes:
    path = REFERENCE / "mematte_d96.pth"
    if not path.exists():
        pytest.skip(f"{path} is absent: the shared reference checkpoint (../shared beside the checkout) is needed")
    return path.read_bytes()


@pytest.fixture(scope="module")
def other_bytes(tmp_path_factory) -> bytes:
    """An official-format checkpoint of another architecture (ViTMatte, D=64, 2 heads)."""
    torch.manual_seed(0)
    net = build_model(MattingConfig(name="other", embed_dim=64, num_heads=2, routed=False, global_rel_pos_size=32))
    path = tmp_path_factory.mktemp("other") / "other.pth"
    torch.save({"model": net.state_dict()}, path)
    return path.read_bytes()


def write_catalog(tmp_path, monkeypatch, sources, *, extra=None, default_order=(NAME,), research_only=True, **entry) -> Path:
    model = {
        "description": "the d96 reference checkpoint, served locally",
        "architecture": D96,
        "licence": {"code": "MIT", "weights": "MIT"},
        "training_data": ["research-set"],
        "scores": {"Test": {"SAD": 1.0, "MSE": 0.001}},
        "sources": sources,
        **entry,
    }
    data = {
        "format": 1,
        "default_order": list(default_order),
        "datasets": {"research-set": {"title": "Research Set", "licence": "non-commercial research only", "research_only": research_only}},
        "models": {NAME: model, **(extra or {})},
    }
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(data))
    monkeypatch.setenv("MATTEAPP_MODEL_CATALOG", str(path))
    return path


def assert_clean_failure(before_state: dict) -> None:
    assert leftovers() == []
    assert not list(models_dir().glob(f"{NAME}.*")) if models_dir().exists() else True
    assert state() == before_state


# ---------------------------------------------------------------------------------------- the catalog


def test_the_builtin_catalog_lists_the_official_models():
    cat = load_catalog(catalog_module.BUILTIN_CATALOG)
    assert cat.names() == [
        "mematte-s-realworld", "mematte-s-c1k", "mematte-b-c1k",
        "vitmatte-s-c1k", "vitmatte-b-c1k", "vitmatte-s-d646", "vitmatte-b-d646",
    ]  # fmt: skip
    assert cat.default_order[0] == "mematte-s-realworld"
    assert all(cat.get(n).architecture.kind == "mematte" for n in cat.default_order)
    for entry in cat.entries.values():
        a = entry.architecture
        assert a.depth == 12 and (a.embed_dim, a.num_heads) in ((384, 6), (768, 12)) and a.routed == (a.kind == "mematte")
        assert entry.research_only and entry.sources and entry.description
        assert all(s.sha256 is None for s in entry.sources)  # none published: recorded at the first download
        assert entry.licence["code"] == "MIT"
    assert cat.get("mematte-s-c1k").scores["Composition-1K"] == {"SAD": 21.90, "MSE": 0.00337, "Grad": 7.43, "Conn": 16.77}
    assert cat.get("vitmatte-b-d646").sources[0].repo == "hustvl/vitmatte-base-distinctions-646"
    assert "apache-2.0" in cat.get("vitmatte-s-c1k").licence["weights"]
    drive = cat.get("mematte-b-c1k").sources[0]
    assert drive_download_url(drive.url) == "https://drive.google.com/uc?export=download&id=1NOV64zMSFtoKPASqvEvxQKI_PRY9m5IA"


def test_a_broken_catalog_is_explained(tmp_path, monkeypatch):
    monkeypatch.setenv("MATTEAPP_MODEL_CATALOG", str(tmp_path / "missing.json"))
    with pytest.raises(CatalogError, match="missing.json.*MATTEAPP_MODEL_CATALOG.*does not exist"):
        load_catalog()
    path = write_catalog(tmp_path, monkeypatch, [url_source("http://127.0.0.1:9/x")], default_order=("nope",))
    with pytest.raises(CatalogError, match="'default_order' names models it does not define: nope"):
        load_catalog()
    data = json.loads(path.read_text())
    data["default_order"] = []
    data["models"][NAME]["architecture"]["kind"] = "unet"
    path.write_text(json.dumps(data))
    with pytest.raises(CatalogError, match="'kind' must be one of mematte, vitmatte"):
        load_catalog()
    assert run(["models"]) == EXIT_INPUT  # the listing says what is wrong instead of a traceback


def test_hf_endpoint_precedence(monkeypatch, tmp_path):
    write_catalog(tmp_path, monkeypatch, [url_source("http://127.0.0.1:9/x")])
    cat = load_catalog()
    assert hf_endpoint(cat) == "https://huggingface.co"
    cat = catalog_module.Catalog(cat.path, cat.entries, cat.default_order, hf_endpoint="http://mirror.test/")
    assert hf_endpoint(cat) == "http://mirror.test"
    monkeypatch.setenv("HF_ENDPOINT", "http://hf-env.test")
    assert hf_endpoint(cat) == "http://hf-env.test"
    monkeypatch.setenv("MATTEAPP_HF_ENDPOINT", "http://matteapp-env.test")
    assert hf_endpoint(cat) == "http://matteapp-env.test"


def test_confirmation_pages_of_every_vintage():
    base = "http://127.0.0.1:1/uc?export=download&id=ABC"
    form = (
        '<html><form id="download-form" action="/download" method="get">'
        '<input type="submit" value="Download anyway"/><input type="hidden" name="id" value="ABC">'
        '<input type="hidden" name="export" value="download"><input type="hidden" name="confirm" value="t">'
        '<input type="hidden" name="uuid" value="u-1"></form></html>'
    )
    assert confirmation_url(form, base) == "http://127.0.0.1:1/download?id=ABC&export=download&confirm=t&uuid=u-1"
    link = '<a id="uc-download-link" href="/uc?export=download&amp;confirm=Xy_9&amp;id=ABC">Download anyway</a>'
    assert confirmation_url(link, base) == "http://127.0.0.1:1/uc?export=download&confirm=Xy_9&id=ABC"
    assert confirmation_url("<p>go on: confirm=Q1w2</p>", base) == "http://127.0.0.1:1/uc?export=download&id=ABC&confirm=Q1w2"
    assert confirmation_url("<html><title>Sign in</title><form action='/login' method='post'></form></html>", base) is None
    assert drive_download_url("https://drive.google.com/file/d/1R5N-b_x/view?usp=drive_link").endswith("uc?export=download&id=1R5N-b_x")
    assert drive_download_url("https://example.org/file/d/1/view") == "https://example.org/file/d/1/view"


# ------------------------------------------------------------------------------------------ downloads


def test_plain_download_is_verified_installed_and_loadable(site, tmp_path, monkeypatch, reference_bytes):
    site.routes["/ref.pth"] = Resource(reference_bytes, headers={"ETag": '"v1"'})
    write_catalog(tmp_path, monkeypatch, [url_source(site.url("/ref.pth"), size=len(reference_bytes))])
    seen = []
    result = download_model(NAME, accept_licence=True, progress=lambda done, total: seen.append((done, total)))
    assert result.path == models_dir() / f"{NAME}.pth" and result.path.read_bytes() == reference_bytes
    assert result.sha256 == hashlib.sha256(reference_bytes).hexdigest() and not result.notes
    assert seen[-1] == (len(reference_bytes), len(reference_bytes)) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert leftovers() == []
    recorded = state()
    assert "research-set" in recorded["accepted_licences"]
    assert recorded["sha256"][NAME][f"url:{site.url('/ref.pth')}"]["sha256"] == result.sha256

    model = matteapp.load_model(NAME, device="cpu", precision="fp32")
    assert model.source == str(result.path) and model.config.embed_dim == 96 and model.is_routed
    name, path, reason = matteapp.resolve_default_model()
    assert (name, path) == (NAME, result.path) and "best installed official model" in reason
    assert [s.installed for s in model_statuses()] == [True]

    again = download_model(NAME)  # installed: no request, no licence question
    assert again.already_installed and again.path == result.path and len(site.gets()) == 1


def test_the_licence_is_confirmed_once_and_only_on_success(site, tmp_path, monkeypatch, reference_bytes):
    site.routes["/ref.pth"] = Resource(reference_bytes)
    write_catalog(tmp_path, monkeypatch, [url_source(site.url("/ref.pth"))])
    with pytest.raises(LicenceNotAccepted, match="(?s)non-commercial research only.*--accept-licence"):
        download_model(NAME)
    assert site.log == [] and state() == {}
    assert run(["models", "download", NAME]) == EXIT_INPUT  # no terminal to ask on: the flag is needed
    assert site.log == [] and state() == {}
    assert run(["models", "download", NAME, "--accept-licence"]) == 0
    remove_model(NAME)
    assert download_model(NAME).path.is_file()  # remembered: no flag needed the second time


def test_a_dropped_connection_resumes_with_a_range_request(site, tmp_path, monkeypatch, reference_bytes):
    site.routes["/ref.pth"] = Resource(reference_bytes, headers={"ETag": '"v1"'}, drops=1)
    write_catalog(tmp_path, monkeypatch, [url_source(site.url("/ref.pth"))])
    result = download_model(NAME, accept_licence=True)
    assert result.path.read_bytes() == reference_bytes
    (_, first), (_, second) = site.gets()
    # it resumes from what reached the disk: up to half the file (a chunk cut short is read again)
    resumed = int(re.fullmatch(r"bytes=(\d+)-", second["Range"]).group(1))
    assert "Range" not in first and 0 < resumed <= len(reference_bytes) // 2 and second["If-Range"] == '"v1"'
    assert leftovers() == []


def test_an_interrupted_download_is_kept_and_the_next_attempt_resumes_it(site, tmp_path, monkeypatch, reference_bytes):
    monkeypatch.setattr(download_module, "MAX_ATTEMPTS", 1)  # give up after the first drop
    site.routes["/ref.pth"] = Resource(reference_bytes, drops=2)
    write_catalog(tmp_path, monkeypatch, [url_source(site.url("/ref.pth"))])
    assert run(["models", "download", NAME, "--accept-licence"]) == EXIT_FAILED
    partial = list((models_dir() / ".downloads").glob(f"{NAME}@*.part"))
    assert len(partial) == 1 and 0 < (kept := partial[0].stat().st_size) <= len(reference_bytes) // 2
    assert model_statuses()[0].partial_bytes == kept
    with pytest.raises(DownloadInterrupted, match="run the same download again to resume"):
        download_model(NAME, accept_licence=True)
    assert site.gets()[-1][1]["Range"] == f"bytes={kept}-"
    monkeypatch.setattr(download_module, "MAX_ATTEMPTS", 200)
    result = download_model(NAME, accept_licence=True)  # the server behaves now
    assert result.path.read_bytes() == reference_bytes and leftovers() == []
    assert site.gets()[-1][1]["Range"].startswith("bytes=") and len(site.gets()) == 3


def test_a_google_drive_virus_scan_page_is_confirmed(site, tmp_path, monkeypatch, reference_bytes):
    warning = (
        "<!DOCTYPE html><html><head><title>Google Drive - Virus scan warning</title></head><body>"
        "<p>Google Drive can't scan this file for viruses.</p>"
        '<form id="download-form" action="{action}" method="get">'
        '<input type="submit" id="uc-download-link" value="Download anyway"/>'
        '<input type="hidden" name="id" value="FILEID"><input type="hidden" name="export" value="download">'
        '<input type="hidden" name="confirm" value="t"><input type="hidden" name="uuid" value="1234-abcd"></form></body></html>'
    )
    site.routes["/uc"] = Resource(warning.format(action=site.url("/download")).encode(), content_type="text/html; charset=utf-8")
    site.routes["/download"] = lambda q: Resource(reference_bytes) if q.get("confirm") == ["t"] and q.get("id") == ["FILEID"] else None
    write_catalog(tmp_path, monkeypatch, [url_source(site.url("/uc?export=download&id=FILEID"))])
    result = download_model(NAME, accept_licence=True)
    assert result.path.read_bytes() == reference_bytes and leftovers() == []
    assert [urlsplit(p).path for p, _ in site.gets()] == ["/uc", "/download"]


def test_a_hugging_face_endpoint_override(site, tmp_path, monkeypatch, reference_bytes):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False, raising=False)
    digest = hashlib.sha256(reference_bytes).hexdigest()
    site.routes["/org/ref-d96/resolve/main/model.pth"] = Resource(reference_bytes, headers={"X-Repo-Commit": COMMIT, "ETag": f'"{digest}"'})
    source = {"type": "huggingface", "repo": "org/ref-d96", "filename": "model.pth", "revision": "main", "size": None, "sha256": digest}
    path = write_catalog(tmp_path, monkeypatch, [source])
    data = json.loads(path.read_text())
    data["hf_endpoint"] = "http://127.0.0.1:9"  # the environment wins over the catalog
    path.write_text(json.dumps(data))
    monkeypatch.setenv("MATTEAPP_HF_ENDPOINT", site.url(""))
    seen = []
    result = download_model(NAME, accept_licence=True, progress=lambda d, t: seen.append(d))
    assert result.path.read_bytes() == reference_bytes and result.sha256 == digest
    assert seen and seen[-1] == len(reference_bytes)
    assert {(m, urlsplit(p).path) for m, p, _ in site.log} == {("HEAD", "/org/ref-d96/resolve/main/model.pth"), ("GET", "/org/ref-d96/resolve/main/model.pth")}
    assert all("authorization" not in {k.lower() for k in h} for _, _, h in site.log)  # no user token sent
    assert leftovers() == []

    remove_model(NAME)
    with pytest.raises(Cancelled):  # cancel reaches into the hub client's read loop
        download_model(NAME, cancel=lambda: True)
    assert leftovers() == []

    before = state()
    source["filename"] = "absent.safetensors"
    write_catalog(tmp_path, monkeypatch, [source])
    with pytest.raises(DownloadError, match="org/ref-d96/absent.safetensors@main not found on http://127.0.0.1"):
        download_model(NAME)
    assert_clean_failure(before)


def test_a_missing_source_falls_through_to_the_next_one(site, tmp_path, monkeypatch, reference_bytes):
    site.routes["/ref.pth"] = Resource(reference_bytes)
    write_catalog(tmp_path, monkeypatch, [url_source(site.url("/gone.pth")), url_source(site.url("/ref.pth"))])
    assert download_model(NAME, accept_licence=True).path.read_bytes() == reference_bytes

    remove_model(NAME)
    before = state()
    write_catalog(tmp_path, monkeypatch, [url_source(site.url("/gone.pth"))])
    with pytest.raises(DownloadError, match=r"(?s)not found \(HTTP 404\).*matteapp models install ref-d96 FILE") as info:
        download_model(NAME)
    assert "every source" not in str(info.value)  # one source, one reason
    assert_clean_failure(before)


@pytest.mark.parametrize("content_type", ["text/html; charset=utf-8", "application/octet-stream"])
def test_a_web_page_instead_of_weights_is_refused(site, tmp_path, monkeypatch, content_type):
    page = b"<!DOCTYPE html><html><head><title>Quota exceeded</title></head><body>Too many users have viewed or downloaded this file recently.</body></html>"
    site.routes["/ref.pth"] = Resource(page, content_type=content_type)
    write_catalog(tmp_path, monkeypatch, [url_source(site.url("/ref.pth"))], research_only=False)
    with pytest.raises(DownloadError, match="quota|web page"):
        download_model(NAME)
    assert_clean_failure({})


def test_a_wrong_size_is_refused_before_the_body_is_read(site, tmp_path, monkeypatch, reference_bytes):
    site.routes["/ref.pth"] = Resource(reference_bytes)
    write_catalog(tmp_path, monkeypatch, [url_source(site.url("/ref.pth"), size=len(reference_bytes) + 1)], research_only=False)
    with pytest.raises(DownloadError, match=f"offers {len(reference_bytes):,} bytes but the catalog's ref-d96 is"):
        download_model(NAME)
    assert_clean_failure({})


def test_a_wrong_sha256_is_refused(site, tmp_path, monkeypatch, reference_bytes):
    site.routes["/ref.pth"] = Resource(reference_bytes)
    write_catalog(tmp_path, monkeypatch, [url_source(site.url("/ref.pth"), sha256="0" * 64)], research_only=False)
    with pytest.raises(DownloadError, match="SHA-256 .* not the catalog's 0000"):
        download_model(NAME)
    assert_clean_failure({})


def test_a_file_of_another_architecture_is_refused(site, tmp_path, monkeypatch, other_bytes):
    site.routes["/ref.pth"] = Resource(other_bytes)
    write_catalog(tmp_path, monkeypatch, [url_source(site.url("/ref.pth"))], research_only=False)
    with pytest.raises(DownloadError, match="holds a different model: ViTMatte D=64, 2 heads.*ref-d96 is MEMatte D=96"):
        download_model(NAME)
    assert_clean_failure({})


def test_a_changed_upstream_file_is_reported(site, tmp_path, monkeypatch, reference_bytes, capsys):
    site.routes["/ref.pth"] = Resource(reference_bytes)
    write_catalog(tmp_path, monkeypatch, [url_source(site.url("/ref.pth"))], research_only=False)
    first = download_model(NAME)
    remove_model(NAME)
    # same architecture, other bytes: the flat state dict instead of {'model': …}
    flat = tmp_path / "flat.pth"
    torch.save(torch.load(REFERENCE / "mematte_d96.pth", weights_only=True)["model"], flat)
    site.routes["/ref.pth"] = Resource(flat.read_bytes())
    assert run(["models", "download", NAME]) == 0
    err = capsys.readouterr().err
    assert "warning:" in err and "differs from the first verified download" in err
    assert state()["sha256"][NAME][f"url:{site.url('/ref.pth')}"]["sha256"] == first.sha256  # the first stays


def test_cancel_deletes_the_partial_download(site, tmp_path, monkeypatch, reference_bytes):
    site.routes["/ref.pth"] = Resource(reference_bytes)
    write_catalog(tmp_path, monkeypatch, [url_source(site.url("/ref.pth"))], research_only=False)
    progress = []
    with pytest.raises(Cancelled):
        download_model(NAME, progress=lambda d, t: progress.append(d), cancel=lambda: bool(progress and progress[-1] > 0))
    assert 0 < progress[-1] < len(reference_bytes)
    assert_clean_failure({})


def test_a_full_disk_is_found_before_and_during_the_download(site, tmp_path, monkeypatch, reference_bytes):
    site.routes["/ref.pth"] = Resource(reference_bytes)
    write_catalog(tmp_path, monkeypatch, [url_source(site.url("/ref.pth"))], research_only=False, approx_size_mb=13)

    class Usage:
        total, used, free = 10**9, 10**9 - 10**6, 10**6

    with monkeypatch.context() as m:
        m.setattr(download_module.shutil, "disk_usage", lambda path: Usage)
        with pytest.raises(NotEnoughSpace, match=r"needs about 13 MB, 1 MB are free"):
            download_model(NAME)
    assert site.log == []  # checked before any request
    assert_clean_failure({})

    class FillsUp:
        def __init__(self, fh):
            self.fh, self.written = fh, 0

        def write(self, data):
            if self.written + len(data) > 3 << 20:
                raise OSError(errno.ENOSPC, "No space left on device")
            self.written += len(data)
            return self.fh.write(data)

        def __getattr__(self, name):
            return getattr(self.fh, name)

    real_open = download_module._open_part
    monkeypatch.setattr(download_module, "_open_part", lambda part: FillsUp(real_open(part)))
    with pytest.raises(NotEnoughSpace, match="the disk filled up while writing ref-d96.*partial file was deleted"):
        download_model(NAME)
    assert_clean_failure({})


def test_a_read_only_models_folder_is_explained(site, tmp_path, monkeypatch, reference_bytes):
    site.routes["/ref.pth"] = Resource(reference_bytes)
    write_catalog(tmp_path, monkeypatch, [url_source(site.url("/ref.pth"))], research_only=False)
    folder = models_dir()
    folder.mkdir(parents=True)
    if os.geteuid() != 0:
        folder.chmod(0o555)
    else:  # root writes through permission bits: simulate a read-only mount instead

        def read_only(*args, **kwargs):
            raise OSError(errno.EROFS, "Read-only file system")

        monkeypatch.setattr(download_module.tempfile, "mkstemp", read_only)
    try:
        with pytest.raises(ModelsFolderError, match="cannot write to the models folder .*MATTEAPP_MODELS_DIR"):
            download_model(NAME)
        assert run(["models", "download", NAME]) == EXIT_FAILED
    finally:
        folder.chmod(0o755)
    assert site.log == [] and list(folder.iterdir()) == [] and state() == {}


def test_offline_never_touches_the_network(site, tmp_path, monkeypatch, reference_bytes):
    import socket

    site.routes["/ref.pth"] = Resource(reference_bytes)
    write_catalog(tmp_path, monkeypatch, [url_source(site.url("/ref.pth"))], research_only=False)

    def no_network(*args, **kwargs):
        raise AssertionError("offline mode opened a connection")

    with monkeypatch.context() as m:
        m.setattr(socket.socket, "connect", no_network)
        with pytest.raises(OfflineError, match="--offline forbids downloading.*matteapp models install ref-d96 FILE"):
            download_model(NAME, offline=True)
        assert run(["models", "download", NAME, "--offline"]) == EXIT_FAILED
    download_model(NAME)
    with monkeypatch.context() as m:
        m.setattr(socket.socket, "connect", no_network)
        assert download_model(NAME, offline=True).already_installed


def test_importing_and_listing_use_no_network():
    code = (
        "import socket\n"
        "def boom(*a, **k): raise SystemExit('network used')\n"
        "socket.socket.connect = boom\n"
        "import matteapp, matteapp.cli, matteapp.model.download\n"
        "raise SystemExit(matteapp.cli.run(['models']))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "mematte-s-realworld" in out.stdout and "downloadable" in out.stdout


# -------------------------------------------------------------------------------- install, CLI, default


def test_install_a_file_from_the_browser_and_remove_it(tmp_path, monkeypatch, reference_bytes, other_bytes, capsys):
    write_catalog(tmp_path, monkeypatch, [url_source("http://127.0.0.1:9/never-fetched.pth", filename="ref.pth")])
    other = tmp_path / "other.pth"
    other.write_bytes(other_bytes)
    assert run(["models", "install", NAME, str(other), "--accept-licence"]) == EXIT_INPUT
    assert "holds a different model" in capsys.readouterr().err
    assert not models_dir().exists() or list(models_dir().iterdir()) == []  # nothing copied
    assert state() == {}

    downloaded = tmp_path / "ref.pth"  # the catalog's file name: its recorded digest applies
    downloaded.write_bytes(reference_bytes)
    assert run(["models", "install", NAME, str(downloaded)]) == EXIT_INPUT  # licence first
    assert run(["models", "install", NAME, str(downloaded), "--accept-licence"]) == 0
    installed = models_dir() / f"{NAME}.pth"
    assert installed.read_bytes() == reference_bytes and leftovers() == []
    assert f"{NAME}: installed {installed}" in capsys.readouterr().out
    assert run(["models"]) == 0
    listing = capsys.readouterr().out
    assert re.search(rf"{NAME}\s+installed", listing) and "Test: SAD 1.00  MSE×1e3 1" in listing
    assert "research / non-commercial only" in listing and "mematte-s" in listing  # presets stay

    assert run(["models", "remove", NAME]) == 0
    assert not installed.exists() and leftovers() == []
    assert run(["models", "remove", NAME]) == EXIT_INPUT
    assert run(["models", "download", "no-such-model"]) == EXIT_INPUT
    assert "no model named 'no-such-model'" in capsys.readouterr().err
    with pytest.raises(DownloadError, match="no such file"):
        install_model_file(NAME, tmp_path / "absent.pth")


def test_the_default_model_and_its_pins(tmp_path, monkeypatch, reference_bytes):
    bundled_dir = tmp_path / "bundled"
    bundled_dir.mkdir()
    torch.manual_seed(3)
    from matteapp.model.checkpoint import save_network

    save_network(build_model(MattingConfig(name="tiny", embed_dim=64, num_heads=2)), bundled_dir / "tiny.safetensors")
    monkeypatch.setattr(predictor_module, "BUNDLED_MODEL_DIR", bundled_dir)
    write_catalog(tmp_path, monkeypatch, [url_source("http://127.0.0.1:9/never.pth")], research_only=False)

    name, path, reason = matteapp.resolve_default_model()
    assert (name, path) == ("bundled", bundled_dir / "tiny.safetensors") and "models download ref-d96" in reason
    with pytest.raises(FileNotFoundError, match="not installed.*matteapp models download ref-d96"):
        matteapp.load_model(NAME)

    downloaded = tmp_path / "ref.pth"
    downloaded.write_bytes(reference_bytes)
    install_model_file(NAME, downloaded)
    assert matteapp.resolve_default_model()[0] == NAME
    assert matteapp.load_model(device="cpu", precision="fp32").config.embed_dim == 96

    assert run(["models", "default", "bundled"]) == 0
    name, _, reason = matteapp.resolve_default_model()
    assert name == "bundled" and "pinned by" in reason and "settings.json" in reason
    assert run(["models", "default", "vitmatte-x"]) == EXIT_INPUT
    assert run(["models", "default", "--clear"]) == 0 and matteapp.resolve_default_model()[0] == NAME

    catalog_module.set_pinned_model(NAME)
    remove_model(NAME)  # a settings pin that went away falls back and says so
    name, _, reason = matteapp.resolve_default_model()
    assert name == "bundled" and "is unavailable" in reason
    monkeypatch.setenv("MATTEAPP_MODEL", NAME)  # an environment pin is strict
    with pytest.raises(FileNotFoundError, match="MATTEAPP_MODEL=ref-d96: ref-d96 is not installed"):
        matteapp.load_model()
