"""Recently used checkpoints, shared by the command line and the GUI (a small JSON file)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

MAX_RECENT = 10


def config_dir() -> Path:
    base = os.environ.get("MATTEAPP_CONFIG_DIR") or os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "matteapp" if "MATTEAPP_CONFIG_DIR" not in os.environ else Path(base)


def _recent_file() -> Path:
    return config_dir() / "recent_checkpoints.json"


def recent_checkpoints() -> list[str]:
    """Most recent first; files that no longer exist are left out."""
    try:
        items = json.loads(_recent_file().read_text())
    except (OSError, ValueError):
        return []
    return [p for p in items if isinstance(p, str) and Path(p).is_file()]


def remember_checkpoint(path: str | os.PathLike) -> None:
    """Put ``path`` first in the list (best effort: an unwritable config dir is not an error)."""
    path = str(Path(path).resolve())
    items = [path] + [p for p in recent_checkpoints() if p != path]
    target = _recent_file()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".recent.", suffix=".tmp")
        with os.fdopen(fd, "w") as fh:
            json.dump(items[:MAX_RECENT], fh, indent=1)
        os.replace(tmp, target)
    except OSError:
        pass
