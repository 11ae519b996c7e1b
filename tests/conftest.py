import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
REFERENCE = SHARED / "reference" / "mematte-d96"
DEV_DATA = SHARED / "data" / "alphamatting-dev"


def require(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is absent: the shared data folder (../shared beside the checkout) is needed")
    return path


@pytest.fixture
def gui_settings(tmp_path, monkeypatch):
    """An INI QSettings in ``tmp_path`` for a GUI test, with every default-location QSettings and the
    matteapp config folder (recent checkpoints, autosaves: MATTEAPP_CONFIG_DIR) pointed into ``tmp_path``
    too, so that the test never reads or writes the user's own configuration."""
    from PySide6.QtCore import QSettings

    monkeypatch.setenv("MATTEAPP_CONFIG_DIR", str(tmp_path / "config"))
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    for fmt in (QSettings.Format.IniFormat, QSettings.Format.NativeFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, str(tmp_path / "qsettings"))
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
