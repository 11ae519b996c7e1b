"""Screenshots of Model ▸ Get Models… mid-download and of the hint bar, for the README and for looking at the UI.

Run under a display, e.g. a virtual one::

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python tests/benchmarks/screenshot_models.py

Writes ``docs/screenshots/05-get-models.png`` (the dialog while ``mematte-s-realworld`` downloads) and,
with ``--hint PATH``, the main window with its "get a better model" bar.  The network is not used: the
built-in catalog is copied with that model's source pointed at a server on 127.0.0.1 that trickles
103 MB of zeros, so the progress line shows a real transfer; the download is cancelled after the
grab (the file would fail the architecture check anyway).  Settings, the models folder and the
licence record live in a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QEventLoop, QSettings, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

SIZE = 103_000_000
RATE = 6_000_000  # bytes a second
SHOWN_AFTER_S = 5.0


def settle(ms: int) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def grab(widget, path: Path) -> None:
    pixmap = widget.grab()
    if pixmap.isNull() or not pixmap.save(str(path), "PNG"):
        raise OSError(f"could not write {path}")
    print(f"wrote {path} ({pixmap.width()}×{pixmap.height()})")


def trickle_server() -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(SIZE))
            self.end_headers()
            block = bytes(RATE // 20)
            sent = 0
            try:
                while sent < SIZE:
                    self.wfile.write(block[: SIZE - sent])
                    sent += len(block)
                    time.sleep(0.05)
            except (BrokenPipeError, ConnectionResetError):
                pass  # cancelled

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots" / "05-get-models.png")
    parser.add_argument("--hint", type=Path, help="also grab the main window with the hint bar to this file")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="matteapp-screenshots-"))
    os.environ["MATTEAPP_CONFIG_DIR"] = str(scratch / "config")
    os.environ["MATTEAPP_MODELS_DIR"] = str(scratch / "models")
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1"
    for name in ("MATTEAPP_MODEL", "MATTEAPP_MODEL_CATALOG"):
        os.environ.pop(name, None)

    from matteapp.model.catalog import BUILTIN_CATALOG, accept_licences, load_catalog

    server = trickle_server()
    catalog = json.loads(Path(BUILTIN_CATALOG).read_text())
    url = f"http://127.0.0.1:{server.server_address[1]}/mematte-s-realworld.pth"
    catalog["models"]["mematte-s-realworld"]["sources"] = [{"type": "url", "url": url, "filename": "mematte-s-realworld.pth"}]
    (scratch / "catalog.json").write_text(json.dumps(catalog))
    os.environ["MATTEAPP_MODEL_CATALOG"] = str(scratch / "catalog.json")
    # the question is answered in the dialog the first time; the picture is of the download itself
    accept_licences(list(load_catalog().get("mematte-s-realworld").training_data))

    app = QApplication(sys.argv[:1])
    app.setOrganizationName("matteapp")
    app.setApplicationName("matteapp")
    for fmt in (QSettings.Format.IniFormat, QSettings.Format.NativeFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, str(scratch / "qsettings"))

    from matteapp.gui.main_window import MainWindow

    settings = QSettings(str(scratch / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings=settings, load_model=True)
    window.resize(1440, 900)
    window.show()
    settle(1500)
    if args.hint is not None:
        args.hint.parent.mkdir(parents=True, exist_ok=True)
        grab(window, args.hint)

    dialog = window.models.open_dialog("mematte-s-realworld")
    dialog.download()
    settle(int(SHOWN_AFTER_S * 1000))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    grab(dialog, args.out)

    dialog.cancel_download()
    loop = QEventLoop()
    window.models.jobs.busyChanged.connect(lambda busy: loop.quit() if not busy else None)
    if window.models.jobs.busy:
        loop.exec()
    window.close()
    server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
