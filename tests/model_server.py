"""A web server on 127.0.0.1 for the model-download tests (the core's and the GUI's), and what they
check afterwards.

The server plays a plain host (Range requests, a connection that drops mid-file, a transfer held
half-way until the test lets it go on), a Google-Drive-style confirmation page, a minimal Hugging Face
hub, 404s and HTML error pages; routes map a path to a :class:`Resource`.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from matteapp.model.catalog import models_dir, state_path


@dataclass
class Resource:
    body: bytes
    content_type: str = "application/octet-stream"
    status: int = 200
    headers: dict = field(default_factory=dict)
    drops: int = 0  # the next `drops` GETs send half of what they announce, then close the connection
    ranges: bool = True
    # A GET sends `hold_after` bytes, then waits until `hold` is set before sending the rest: a download
    # that is certainly still running while the test acts on it.
    hold: threading.Event | None = None
    hold_after: int = 0


class Site:
    """A threaded HTTP server on 127.0.0.1 with a request log; routes map a path to a Resource (or a
    function of the query that returns one)."""

    def __init__(self):
        self.routes: dict = {}
        self.log: list[tuple[str, str, dict]] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_HEAD(self):
                self._serve(head=True)

            def do_GET(self):
                self._serve(head=False)

            def log_message(self, *args):
                pass

            def _serve(self, head):
                site.log.append((self.command, self.path, dict(self.headers)))
                parts = urlsplit(self.path)
                res = site.routes.get(parts.path)
                if callable(res):
                    res = res(parse_qs(parts.query))
                if res is None:
                    body = b"not found"
                    self.send_response(404)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(body)))
                    self.send_header("X-Error-Code", "EntryNotFound")
                    self.end_headers()
                    if not head:
                        self.wfile.write(body)
                    return
                body, start, status = res.body, 0, res.status
                m = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
                if m and res.ranges and status == 200:
                    start = int(m.group(1))
                    if start >= len(body):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(body)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    status = 206
                self.send_response(status)
                self.send_header("Content-Type", res.content_type)
                self.send_header("Content-Length", str(len(body) - start))
                self.send_header("Accept-Ranges", "bytes")
                if status == 206:
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                for k, v in res.headers.items():
                    self.send_header(k, v)
                self.end_headers()
                if head:
                    return
                payload = body[start:]
                if res.drops > 0:
                    res.drops -= 1
                    payload = payload[: len(payload) // 2]
                try:
                    if res.hold is not None:
                        self.wfile.write(payload[: res.hold_after])
                        res.hold.wait()
                        payload = payload[res.hold_after :]
                    self.wfile.write(payload)  # HTTP/1.0: the connection closes after this, short or not
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client cancelled

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def gets(self, path: str | None = None) -> list[tuple[str, dict]]:
        return [(p, h) for m, p, h in self.log if m == "GET" and (path is None or urlsplit(p).path == path)]

    def close(self):
        # let a held transfer finish, so that no handler thread outlives the test waiting for it
        for res in self.routes.values():
            if isinstance(res, Resource) and res.hold is not None:
                res.hold.set()
        self.server.shutdown()
        self.server.server_close()


def start_site(monkeypatch) -> Site:
    """A :class:`Site` that the download code reaches directly (no proxy) and retries at once; close it."""
    from matteapp.model import download as download_module

    # a proxy from the environment must not intercept loopback traffic
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setattr(download_module, "RETRY_DELAY", 0.0)
    return Site()


def url_source(url, **kw):
    return {"type": "url", "url": url, "filename": kw.pop("filename", "ref.pth"), "size": kw.pop("size", None), "sha256": kw.pop("sha256", None)}


def leftovers() -> list[str]:
    """Everything in the models folder except installed models (partials, temporaries, probes)."""
    root = models_dir()
    if not root.exists():
        return []
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if not (p.parent == root and p.suffix in (".pth", ".safetensors", ".bin")))


def state() -> dict:
    try:
        return json.loads(state_path().read_text())
    except FileNotFoundError:
        return {}
