"""Fetching, installing, verifying and removing the catalog's models.

Hugging Face sources go through ``huggingface_hub.hf_hub_download`` (its endpoint override, retries
and in-call resume); plain links and Google Drive links through ``requests`` with our own resumable
loop, because Drive answers large files with a "can't scan for viruses" HTML page whose form must be
followed, and a dropped connection should resume with an HTTP Range request instead of starting over.

Every file, downloaded or brought by the user, is checked before it is used: its size (when the
catalog knows it, and against Content-Length), that it is not a web page, its SHA-256 (when the
catalog knows it; otherwise the first verified download's digest is recorded and a later change is
reported), and the architecture read off its tensors with the weights-only loader, which must be the
catalog entry's.  A file that fails is deleted and the error says which check failed.

Partial downloads live in ``<models>/.downloads`` (``NAME@SOURCE.suffix.part``).  A dropped
connection keeps the partial file so that the next attempt resumes it; a cancel, a failed check or a
full disk deletes it.  A finished file is renamed into ``<models>/NAME.suffix`` in one step.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import html.parser
import json
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

from matteapp.base import Cancelled
from matteapp.model.catalog import (
    MODEL_SUFFIXES,
    Catalog,
    CatalogEntry,
    Dataset,
    Source,
    accept_licences,
    hf_endpoint,
    installed_files,
    installed_path,
    load_catalog,
    models_dir,
    pending_licences,
    record_sha256,
    recorded_sha256,
)

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int, "int | None"], None]  # (bytes done, total bytes or None)
CancelCheck = Callable[[], bool]

CHUNK = 1 << 20
TIMEOUT = (15, 60)  # connect, read (seconds)
MAX_RETRIES = 4  # consecutive attempts without a new byte before giving up on a source
MAX_ATTEMPTS = 200  # hard bound, even for a server that drops the connection after every chunk
RETRY_DELAY = 1.0  # seconds, times the attempt number
SPACE_MARGIN = 16 << 20  # keep this much free beyond the model itself
HTML_LIMIT = 2 << 20  # the most of a web page read while looking for a confirmation form
PARTIAL_DIR = ".downloads"


# --------------------------------------------------------------------------------------------- errors


class DownloadError(Exception):
    """A model could not be downloaded or installed; the message says why and what to do."""


class LicenceNotAccepted(DownloadError):
    """The model was trained on research-only data and the user has not confirmed its terms yet."""

    def __init__(self, entry: CatalogEntry, datasets: list[Dataset]):
        self.entry = entry
        self.datasets = datasets
        terms = "\n".join(f"  {d.title}: {d.licence}" for d in datasets)
        super().__init__(
            f"{entry.name} was trained on data licensed for non-commercial research only:\n{terms}\n"
            "Confirm once that you accept these terms: pass --accept-licence (command line) or "
            "accept_licence=True (Python)."
        )


class VerificationError(DownloadError):
    """The file is not the model the catalog describes (it has been deleted)."""


class NotEnoughSpace(DownloadError):
    pass


class ModelsFolderError(DownloadError):
    """The models folder cannot be created or written."""


class DownloadInterrupted(DownloadError):
    """The connection kept dropping; the partial file is kept and the next attempt resumes it."""


class OfflineError(DownloadError):
    pass


class NotInstalled(DownloadError):
    pass


class _SourceFailed(DownloadError):
    """This source did not deliver (not found, unreachable, a web page): the next source may."""

    def __init__(self, message: str, transient: bool = False):
        super().__init__(message)
        self.transient = transient  # a network hiccup worth retrying


class _Dropped(Exception):
    """The body ended before Content-Length said it would (or the connection broke)."""


@dataclass
class InstallResult:
    name: str
    path: Path
    sha256: str | None
    source: Source | None  # None: installed from a file of unknown origin, or already installed
    already_installed: bool = False
    notes: list[str] = field(default_factory=list)  # warnings worth showing (e.g. the file changed upstream)


@dataclass
class Verified:
    size: int
    sha256: str
    config: object  # the MattingConfig read off the tensors


# ------------------------------------------------------------------------------------------- the API


def download_model(
    name: str,
    *,
    accept_licence: bool = False,
    offline: bool = False,
    force: bool = False,
    progress: ProgressCallback | None = None,
    cancel: CancelCheck | None = None,
    catalog: Catalog | None = None,
) -> InstallResult:
    """Download catalog model ``name`` into the models folder, check it and return where it is.

    Sources are tried in the catalog's order; one that is missing, unreachable or serves something
    else is skipped and its reason reported if none works.  ``offline`` never touches the network:
    it succeeds only if the model is installed already.  ``progress(done_bytes, total_bytes)`` is
    called for every chunk (total None when unknown); ``cancel()`` is polled between chunks and a
    true result raises :class:`~matteapp.base.Cancelled` after deleting the partial file.
    """
    catalog = catalog or load_catalog()
    entry = catalog.get(name)
    existing = installed_path(name)
    if existing is not None and not force:
        return InstallResult(name, existing, None, None, already_installed=True)
    if offline:
        raise OfflineError(
            f"{name} is not installed and --offline forbids downloading it. Fetch it in a browser from "
            f"{_manual_sources(entry, catalog)} and run `matteapp models install {name} FILE`."
        )
    confirmed = _confirm_licence(entry, accept_licence)
    directory = _prepare_folder()
    _check_space(directory, entry.expected_size, name)
    endpoint = hf_endpoint(catalog)
    failures: list[str] = []
    for source in entry.sources:
        where = source.describe(endpoint)
        try:
            result = _download_from(entry, source, directory, endpoint, progress, cancel)
            accept_licences(confirmed)
            return result
        except (_SourceFailed, VerificationError) as exc:
            log.info("%s: %s failed: %s", name, where, exc)
            failures.append(f"{where}: {exc}")
    if len(failures) == 1:
        problem = failures[0]
    else:
        problem = "every source failed:\n" + "\n".join(f"  - {f}" for f in failures)
    raise DownloadError(
        f"could not download {name} from {problem}\n"
        f"You can download it in a browser and run `matteapp models install {name} FILE`."
    )


def install_model_file(
    name: str,
    file: str | os.PathLike,
    *,
    accept_licence: bool = False,
    progress: ProgressCallback | None = None,
    cancel: CancelCheck | None = None,
    catalog: Catalog | None = None,
) -> InstallResult:
    """Install a file the user fetched (e.g. in a browser) as catalog model ``name``.

    The same checks as a download run on the file where it is, before anything is copied: a file of
    another architecture raises :class:`VerificationError` and leaves the models folder untouched.
    An installed copy of ``name`` is replaced.
    """
    catalog = catalog or load_catalog()
    entry = catalog.get(name)
    src = Path(file).expanduser()
    if not src.is_file():
        raise DownloadError(f"{src}: no such file")
    confirmed = _confirm_licence(entry, accept_licence)
    # A file that keeps an official download's name is taken to come from that source: its size,
    # digest and recorded digest apply.  Otherwise any source's known size/digest may match.
    named = [s for s in entry.sources if s.filename and s.filename == src.name]
    candidates = named or list(entry.sources)
    verified = verify_model_file(src, entry, candidates, cancel=cancel, what=str(src))
    directory = _prepare_folder()
    _check_space(directory, verified.size, name)
    suffix = src.suffix.lower() if src.suffix.lower() in MODEL_SUFFIXES else candidates[0].suffix
    part = _partial_path(directory, name, "local", suffix)
    try:
        digest = _copy(src, part, verified.size, progress, cancel)
        if digest != verified.sha256:
            raise VerificationError(f"{src} changed while it was being copied; try again")
        path = _land(part, directory, name, suffix)
    except BaseException as exc:
        _discard(part)
        _raise_disk_error(exc, name, directory)
        raise
    finally:
        _tidy(directory)
    accept_licences(confirmed)
    notes = _check_recorded_digest(name, named[0], verified) if len(named) == 1 else []
    return InstallResult(name, path, verified.sha256, named[0] if len(named) == 1 else None, notes=notes)


def remove_model(name: str) -> list[Path]:
    """Delete the installed files and any partial download of ``name``; returns what was deleted."""
    directory = models_dir()
    files = installed_files(name, directory)
    partial = directory / PARTIAL_DIR
    if partial.is_dir() and "/" not in name and "\\" not in name:
        files += [p for p in partial.glob(f"{glob_escape(name)}@*") if p.is_file() or p.is_dir()]
    if not files:
        raise NotInstalled(f"{name} is not installed (nothing of it in {directory})")
    for p in files:
        if p.is_dir():
            shutil.rmtree(p)
        else:
            p.unlink()
    _tidy(directory)
    return files


def glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


# ------------------------------------------------------------------------------------- verification


def verify_model_file(
    path: Path, entry: CatalogEntry, sources: list[Source], cancel: CancelCheck | None = None, what: str | None = None
) -> Verified:
    """Check ``path`` against ``entry`` (see the module's docstring); raises :class:`VerificationError`."""
    what = what or entry.name
    size = path.stat().st_size
    sizes = [s.size for s in sources]
    if sizes and all(s is not None for s in sizes) and size not in sizes:
        expected = " or ".join(f"{s:,}" for s in sorted(set(sizes)))
        raise VerificationError(f"{what} is {size:,} bytes but the catalog's {entry.name} is {expected} bytes: truncated or a different file")
    with open(path, "rb") as fh:
        head = fh.read(1024)
    if _looks_like_html(head):
        raise VerificationError(
            f"{what} is a web page (HTML), not model weights — the link probably led to a sign-in, quota or "
            "error page. Download the file in a browser and use `matteapp models install`."
        )
    digest = _sha256(path, cancel)
    shas = [s.sha256 for s in sources]
    if shas and all(s is not None for s in shas) and digest not in shas:
        raise VerificationError(
            f"the SHA-256 of {what} is {digest}, not the catalog's {' or '.join(sorted(set(shas)))}: "
            "the file is damaged or not the published one"
        )
    config = _architecture(path, entry, what)
    return Verified(size, digest, config)


def _architecture(path: Path, entry: CatalogEntry, what: str):
    from matteapp.model.checkpoint import CheckpointError, convert_state_dict, infer_config, read_state_dict

    try:
        raw, _ = read_state_dict(path)
        sd, _ = convert_state_dict(raw)
        config = infer_config(sd, name=entry.name)
    except CheckpointError as exc:
        # the loader's messages start with the (temporary) path, which means nothing to the user
        message = str(exc).removeprefix(f"{path}: ")
        raise VerificationError(f"{what} is not a usable {entry.architecture.describe()} checkpoint: {message}") from None
    a = entry.architecture
    found = (config.routed, config.embed_dim, config.num_heads, config.depth)
    if found != (a.routed, a.embed_dim, a.num_heads, a.depth):
        kind = "MEMatte (routed)" if config.routed else "ViTMatte"
        raise VerificationError(
            f"{what} holds a different model: {kind} D={config.embed_dim}, {config.num_heads} heads, "
            f"{config.depth} blocks, but {entry.name} is {a.describe()}"
        )
    return config


def _looks_like_html(head: bytes) -> bool:
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return text.startswith((b"<!doctype", b"<html", b"<head", b"<body", b"<?xml", b"<!--")) or b"<html" in text[:512]


def _sha256(path: Path, cancel: CancelCheck | None) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            if cancel is not None and cancel():
                raise Cancelled()
            h.update(chunk)
    return h.hexdigest()


def _check_recorded_digest(name: str, source: Source, verified: Verified) -> list[str]:
    """Record the first verified digest of ``source`` (trust on first use) and report a change."""
    if source.sha256 is not None:
        return []  # the catalog's digest was checked already
    previous = recorded_sha256(name, source)
    if previous is None:
        record_sha256(name, source, verified.sha256, verified.size)
        return []
    if previous == verified.sha256:
        return []
    note = (
        f"{name}: the file from {source.key.partition(':')[2]} differs from the first verified download "
        f"(SHA-256 {previous[:16]}… then, {verified.sha256[:16]}… now). It passed every check, but the "
        "publisher may have replaced it; the first digest stays on record."
    )
    log.warning(note)
    return [note]


# -------------------------------------------------------------------------------------- downloading


def _download_from(
    entry: CatalogEntry, source: Source, directory: Path, endpoint: str, progress, cancel
) -> InstallResult:
    part = _partial_path(directory, entry.name, hashlib.sha1(source.key.encode()).hexdigest()[:10], source.suffix)
    keep_partial = False
    try:
        if source.type == "huggingface":
            _fetch_hf(source, part, endpoint, progress, cancel)
        else:
            _fetch_url(entry, source, part, progress, cancel)
        verified = verify_model_file(part, entry, [source], cancel=cancel, what=f"the file from {source.describe(endpoint)}")
        path = _land(part, directory, entry.name, source.suffix)
    except (DownloadInterrupted, KeyboardInterrupt):
        keep_partial = True  # resumable: the next attempt continues where this one stopped
        raise
    except _Busy:
        keep_partial = True  # another process is writing it
        raise
    except BaseException as exc:
        _raise_disk_error(exc, entry.name, directory)
        raise
    finally:
        if not keep_partial:
            _discard(part)
        _tidy(directory)
    notes = _check_recorded_digest(entry.name, source, verified)
    return InstallResult(entry.name, path, verified.sha256, source, notes=notes)


class _Busy(DownloadError):
    pass


def _fetch_url(entry: CatalogEntry, source: Source, part: Path, progress, cancel) -> None:
    import requests

    from matteapp import __version__

    url = drive_download_url(source.url)
    meta = part.with_name(part.name + ".json")
    part.parent.mkdir(parents=True, exist_ok=True)
    fh = _open_part(part)
    try:
        _lock(fh, part, entry.name)
        with requests.Session() as session:
            # identity: a gzip-encoded body would not match Content-Length or resume at a byte offset
            session.headers.update({"User-Agent": f"matteapp/{__version__}", "Accept-Encoding": "identity"})
            stalled = 0
            for attempt in range(1, MAX_ATTEMPTS + 1):
                fh.seek(0, os.SEEK_END)
                before = fh.tell()
                try:
                    _fetch_once(session, url, fh, meta, entry, source, progress, cancel)
                    return
                except (_Dropped, _SourceFailed) as exc:
                    if isinstance(exc, _SourceFailed) and not exc.transient:
                        raise
                    fh.seek(0, os.SEEK_END)
                    stalled = 0 if fh.tell() > before else stalled + 1
                    if stalled >= MAX_RETRIES or attempt == MAX_ATTEMPTS:
                        if fh.tell() > 0:
                            raise DownloadInterrupted(
                                f"the connection to {urlsplit(url).hostname} kept dropping ({exc}); "
                                f"{fh.tell() / 1e6:.1f} MB are kept — run the same download again to resume"
                            ) from None
                        raise _SourceFailed(str(exc)) from None
                    log.info("%s: %s; resuming at byte %d", entry.name, exc, fh.tell())
                    _sleep(RETRY_DELAY * max(stalled, 1), cancel)
    finally:
        fh.close()


def _fetch_once(session, url: str, fh, meta: Path, entry: CatalogEntry, source: Source, progress, cancel) -> None:
    import requests

    offset = fh.tell()
    headers = {}
    if offset:
        headers["Range"] = f"bytes={offset}-"
        validator = _read_validator(meta)
        if validator:
            # If-Range: when the file changed since the partial download began, the server sends all of
            # it (200) instead of the rest of a different file
            headers["If-Range"] = validator
    response = _open(session, url, headers)
    with contextlib.closing(response):
        total = None
        if offset and response.status_code == 416:
            total = _content_range(response.headers.get("Content-Range"))[1]
            if total == offset:
                return  # the partial file is already complete
            _restart(fh, meta)
            raise _Dropped("the server refused to resume; starting over")
        if offset and response.status_code == 206:
            start, total = _content_range(response.headers.get("Content-Range"))
            if start != offset:
                _restart(fh, meta)
                raise _Dropped(f"the server resumed at byte {start}, not {offset}; starting over")
        elif response.status_code == 200:
            if offset:
                _restart(fh, meta)  # the server ignored the Range request (or the file changed): all of it comes again
                offset = 0
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
        else:
            raise _SourceFailed(f"unexpected answer HTTP {response.status_code} {response.reason}")
        if source.size is not None and total is not None and total != source.size:
            raise VerificationError(
                f"the server offers {total:,} bytes but the catalog's {entry.name} is {source.size:,} bytes: a different file"
            )
        if total is not None:
            _check_space(fh_dir(fh), total - offset, entry.name)
        if not offset:
            _write_validator(meta, response.headers)
        done = offset
        if progress is not None:
            progress(done, total)
        try:
            for chunk in response.iter_content(CHUNK):
                if cancel is not None and cancel():
                    raise Cancelled()
                if not chunk:
                    continue
                fh.write(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, total)
        except (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError, requests.exceptions.Timeout) as exc:
            fh.flush()
            raise _Dropped(f"connection lost after {done:,} of {f'{total:,}' if total else '?'} bytes") from exc
        fh.flush()
        os.fsync(fh.fileno())
        if total is not None and done < total:
            raise _Dropped(f"the server sent {done:,} of {total:,} bytes")
        if total is not None and done > total:
            raise VerificationError(f"the server sent {done:,} bytes, more than the {total:,} it announced")


def fh_dir(fh) -> Path:
    return Path(fh.name).parent


def _open(session, url: str, headers: dict):
    """GET ``url`` as a stream, following "download anyway" confirmation pages; the response is the file."""
    import requests

    for _ in range(4):
        try:
            response = session.get(url, headers=headers, stream=True, timeout=TIMEOUT)
        except requests.exceptions.RequestException as exc:
            raise _SourceFailed(f"cannot reach {urlsplit(url).hostname}: {_reason(exc)}", transient=True) from None
        status = response.status_code
        if status in (404, 410):
            response.close()
            raise _SourceFailed(f"not found (HTTP {status}) at {url}")
        if status in (408, 429) or status >= 500:
            response.close()
            raise _SourceFailed(f"the server is unavailable (HTTP {status} {response.reason})", transient=True)
        if status >= 400 and status != 416:
            response.close()
            hint = " (the file may not be public, or its download quota is used up)" if status == 403 else ""
            raise _SourceFailed(f"the server refused the download (HTTP {status} {response.reason}){hint}")
        if "text/html" in response.headers.get("Content-Type", "").lower():
            page = _read_limited(response, HTML_LIMIT)
            response.close()
            nxt = confirmation_url(page, response.url, session.cookies)
            if nxt is not None and nxt != url:
                url = nxt
                continue
            raise _SourceFailed(describe_web_page(page))
        return response
    raise _SourceFailed("the server kept answering with confirmation pages")


def _read_limited(response, limit: int) -> str:
    data = b""
    for chunk in response.iter_content(64 << 10):
        data += chunk
        if len(data) >= limit:
            break
    return data.decode(response.encoding or "utf-8", errors="replace")


def _reason(exc: BaseException) -> str:
    text = str(exc)
    m = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", text)  # the OS error, out of urllib3's quotes and brackets
    if m:
        return m.group(1)
    return text.splitlines()[0][:200] if text else type(exc).__name__


def _content_range(value: str | None) -> tuple[int | None, int | None]:
    """(first byte, total size) of a Content-Range header: ``bytes 100-199/200`` or ``bytes */200``."""
    m = re.match(r"\s*bytes\s+(?:(\d+)-\d+|\*)/(\d+|\*)", value or "")
    if not m:
        return None, None
    start = int(m.group(1)) if m.group(1) is not None else None
    total = int(m.group(2)) if m.group(2) != "*" else None
    return start, total


def _restart(fh, meta: Path) -> None:
    fh.seek(0)
    fh.truncate()
    with contextlib.suppress(OSError):
        meta.unlink()


def _read_validator(meta: Path) -> str | None:
    try:
        data = json.loads(meta.read_text())
    except (OSError, ValueError):
        return None
    value = data.get("etag") or data.get("last_modified") if isinstance(data, dict) else None
    # a weak ETag cannot be used with If-Range (RFC 9110 13.1.5)
    return None if not isinstance(value, str) or value.startswith("W/") else value


def _write_validator(meta: Path, headers) -> None:
    data = {"etag": headers.get("ETag"), "last_modified": headers.get("Last-Modified")}
    if any(data.values()):
        meta.write_text(json.dumps(data))
    else:
        with contextlib.suppress(OSError):
            meta.unlink()


def _sleep(seconds: float, cancel: CancelCheck | None) -> None:
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        if cancel is not None and cancel():
            raise Cancelled()
        time.sleep(min(left, 0.1))


# ---------------------------------------------------------------------------------- Google Drive etc.


def drive_download_url(url: str) -> str:
    """The direct-download form of a Google Drive sharing link (other links are returned unchanged)."""
    parts = urlsplit(url)
    if parts.hostname not in ("drive.google.com", "docs.google.com"):
        return url
    m = re.search(r"/file/d/([A-Za-z0-9_-]+)", parts.path)
    file_id = m.group(1) if m else (parse_qs(parts.query).get("id") or [None])[0]
    if not file_id:
        return url
    return f"https://drive.google.com/uc?export=download&id={file_id}"


class _PageParser(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[dict] = []
        self.links: list[str] = []
        self._form: dict | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._form = {"id": a.get("id", ""), "action": a.get("action", ""), "method": a.get("method", "get").lower(), "inputs": {}}
            self.forms.append(self._form)
        elif tag == "input" and self._form is not None and a.get("name") and a.get("type", "text").lower() != "submit":
            self._form["inputs"][a["name"]] = a.get("value", "")
        elif tag == "a" and a.get("href"):
            self.links.append(a["href"])

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None


def confirmation_url(page: str, base_url: str, cookies=None) -> str | None:
    """Where a "this file is too large to scan for viruses — download anyway?" page leads, or None.

    Understood (from any host, so that it can be tested locally): a GET form with id
    ``download-form`` or a ``confirm`` field (Drive since 2024), a link carrying ``confirm=``, a
    ``download_warning`` cookie, and a bare ``confirm=TOKEN`` in the page (older Drive pages).
    """
    parser = _PageParser()
    with contextlib.suppress(Exception):  # a malformed page yields whatever was parsed
        parser.feed(page)
        parser.close()
    for form in parser.forms:
        if form["method"] == "get" and (form["id"] == "download-form" or "confirm" in form["inputs"]):
            action = urljoin(base_url, form["action"] or base_url)
            return action + ("&" if "?" in action else "?") + urlencode(form["inputs"])
    for href in parser.links:
        if "confirm=" in href and ("export=download" in href or "/download" in href or "/uc" in href):
            return urljoin(base_url, href)
    token = None
    for cookie in cookies or ():
        if cookie.name.startswith("download_warning"):
            token = cookie.value
    if token is None:
        m = re.search(r"confirm=([0-9A-Za-z_-]+)", page)
        token = m.group(1) if m else None
    if token is None:
        return None
    parts = urlsplit(base_url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query["confirm"] = token
    return parts._replace(query=urlencode(query)).geturl()


def describe_web_page(page: str) -> str:
    low = page.lower()
    if "too many users have viewed or downloaded" in low or "quota" in low:
        return "Google Drive refuses the download for now (the file's download quota is used up); try again later or in a browser"
    if "accounts.google.com" in low or "servicelogin" in low or ">sign in<" in low:
        return "the link leads to a sign-in page: the file is not public"
    title = re.search(r"<title[^>]*>(.*?)</title>", page, re.I | re.S)
    named = f" ({' '.join(title.group(1).split())[:80]})" if title else ""
    return f"the server sent a web page{named} instead of the model file"


# ------------------------------------------------------------------------------------- Hugging Face


def _fetch_hf(source: Source, part: Path, endpoint: str, progress, cancel) -> None:
    import inspect

    from huggingface_hub import hf_hub_download

    from matteapp import __version__

    staging = part.with_name(f"{part.name}.{os.getpid()}.hf")  # the library's local_dir, private to this process
    shutil.rmtree(staging, ignore_errors=True)
    cancelled = []
    part.parent.mkdir(parents=True, exist_ok=True)
    kwargs = dict(
        repo_id=source.repo,
        filename=source.filename,
        revision=source.revision,
        local_dir=staging,
        endpoint=endpoint,
        token=False,  # never send the user's Hugging Face token (the endpoint may be a catalog's mirror)
        library_name="matteapp",
        library_version=__version__,
    )
    if "tqdm_class" in inspect.signature(hf_hub_download).parameters:
        kwargs["tqdm_class"] = _progress_bar_class(progress, cancel, cancelled)
    try:
        path = Path(hf_hub_download(**kwargs))
        if cancelled or (cancel is not None and cancel()):
            raise Cancelled()
        part.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, part)
    except (Cancelled, KeyboardInterrupt):
        raise
    except Exception as exc:  # noqa: BLE001 — the hub client raises many types across versions
        if getattr(exc, "errno", None) == errno.ENOSPC or isinstance(exc, (PermissionError, ModelsFolderError)):
            raise
        raise _hf_failure(exc, source, endpoint) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _hf_failure(exc: Exception, source: Source, endpoint: str) -> _SourceFailed:
    name = type(exc).__name__
    what = f"{source.repo}/{source.filename}@{source.revision}"
    status = getattr(getattr(exc, "response", None), "status_code", None)
    # checked before "NotFound": the library reports an unreachable server as a file missing from its cache
    if name in ("LocalEntryNotFoundError", "OfflineModeIsEnabled") or "Connect" in name or "Timeout" in name:
        return _SourceFailed(f"cannot reach {endpoint} ({_reason(exc.__cause__ or exc)})")
    if "NotFound" in name or status == 404:
        return _SourceFailed(f"{what} not found on {endpoint}")
    if status is not None:
        return _SourceFailed(f"{endpoint} answered HTTP {status} for {what}")
    return _SourceFailed(f"{what}: {name}: {_reason(exc)}")


def _progress_bar_class(progress: ProgressCallback | None, cancel: CancelCheck | None, cancelled: list):
    """A tqdm look-alike for ``hf_hub_download(tqdm_class=…)``: forwards progress and polls ``cancel``."""

    class Bar:
        def __init__(self, *args, total=None, initial=0, **kwargs):
            self.total = total
            self.n = initial or 0

        def update(self, n=1):
            self.n += n or 0
            if progress is not None:
                progress(self.n, self.total)
            if cancel is not None and cancel():
                # raised inside the library's read loop, which deletes its temporary file; where the
                # callback runs on a transfer thread that swallows it, the flag discards the result
                cancelled.append(True)
                raise Cancelled()

        def update_transfer(self, n=1):
            # Defined on the class so that the Xet reporter shares this one bar instead of making a second
            # one for network bytes: progress then counts bytes on disk only, never two interleaved counts.
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def __getattr__(self, name):  # refresh, set_description, close, reset, …: nothing to draw
            return lambda *a, **k: None

    return Bar


# ---------------------------------------------------------------------------------- files and space


def _prepare_folder() -> Path:
    directory = models_dir()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=directory, prefix=".write-test-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ModelsFolderError(
            f"cannot write to the models folder {directory} ({exc.strerror or exc}): make it writable "
            "or set MATTEAPP_MODELS_DIR to a folder you can write"
        ) from None
    return directory


def _check_space(directory: Path, needed: int | None, name: str) -> None:
    if not needed:
        return
    free = shutil.disk_usage(directory).free
    if free < needed + SPACE_MARGIN:
        raise NotEnoughSpace(
            f"not enough free disk space for {name} in {directory}: it needs about {needed / 1e6:,.0f} MB, "
            f"{free / 1e6:,.0f} MB are free. Free some space or set MATTEAPP_MODELS_DIR to a larger disk."
        )


def _raise_disk_error(exc: BaseException, name: str, directory: Path) -> None:
    """Turn a write failure into a clear error (the caller deletes the partial file)."""
    if isinstance(exc, DownloadError) or not isinstance(exc, OSError):
        return
    if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
        raise NotEnoughSpace(
            f"the disk filled up while writing {name} into {directory}; the partial file was deleted. "
            "Free some space or set MATTEAPP_MODELS_DIR to a larger disk."
        ) from None
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        raise ModelsFolderError(f"cannot write {name} into {directory} ({exc.strerror}): set MATTEAPP_MODELS_DIR to a writable folder") from None
    raise DownloadError(f"cannot write {name} into {directory}: {exc.strerror or exc}") from None


def _partial_path(directory: Path, name: str, tag: str, suffix: str) -> Path:
    # "@" cannot occur in a catalog name, so "NAME@*" never matches another model whose name extends NAME
    return directory / PARTIAL_DIR / f"{name}@{tag}{suffix}.part"


def _open_part(part: Path):
    """The partial file, opened for appending (a seam for tests that simulate a full disk)."""
    return open(part, "ab+")


def _lock(fh, part: Path, name: str) -> None:
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; two concurrent downloads would only waste bandwidth
        return
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fh.close()
        raise _Busy(f"another download of {name} is writing {part} right now") from None


def _copy(src: Path, part: Path, total: int, progress, cancel) -> str:
    part.parent.mkdir(parents=True, exist_ok=True)
    h = hashlib.sha256()
    done = 0
    with open(src, "rb") as fin, _open_part(part) as fout:
        fout.truncate(0)
        while chunk := fin.read(CHUNK):
            if cancel is not None and cancel():
                raise Cancelled()
            fout.write(chunk)
            h.update(chunk)
            done += len(chunk)
            if progress is not None:
                progress(done, total)
        fout.flush()
        os.fsync(fout.fileno())
    return h.hexdigest()


def _land(part: Path, directory: Path, name: str, suffix: str) -> Path:
    """Rename the checked file into place in one step, then drop copies of ``name`` in other formats."""
    final = directory / f"{name}{suffix}"
    os.replace(part, final)
    for other in installed_files(name, directory):
        if other != final:
            other.unlink()
    if os.name == "posix":
        with contextlib.suppress(OSError):
            fd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    return final


def _discard(part: Path) -> None:
    for p in (part, part.with_name(part.name + ".json")):
        with contextlib.suppress(OSError):
            p.unlink()


def _tidy(directory: Path) -> None:
    with contextlib.suppress(OSError):
        (directory / PARTIAL_DIR).rmdir()  # only when empty


def _confirm_licence(entry: CatalogEntry, accept: bool) -> list[Dataset]:
    """The datasets whose terms this call confirms; they are recorded only once the model is
    installed, so that a failed attempt leaves the state file as it was."""
    pending = pending_licences(entry)
    if pending and not accept:
        raise LicenceNotAccepted(entry, pending)
    return pending


def _manual_sources(entry: CatalogEntry, catalog: Catalog) -> str:
    endpoint = hf_endpoint(catalog)
    return " or ".join(s.describe(endpoint) for s in entry.sources)
