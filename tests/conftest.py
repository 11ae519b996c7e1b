import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
REFERENCE = SHARED / "reference" / "mematte-d96"
DEV_DATA = SHARED / "data" / "alphamatting-dev"


@pytest.fixture(autouse=True)
def _private_user_folders(tmp_path_factory, monkeypatch):
    """Every test gets its own empty models folder and config folder (settings.json, the models state
    file, recent checkpoints), and no pinned model, custom catalog or Hugging Face mirror from the
    environment: a test never sees, nor writes to, the real user's files.  A separate temporary folder
    (not ``tmp_path``) keeps tests that list their own ``tmp_path`` unaffected."""
    user = tmp_path_factory.mktemp("user")
    monkeypatch.setenv("MATTEAPP_MODELS_DIR", str(user / "models"))
    monkeypatch.setenv("MATTEAPP_CONFIG_DIR", str(user / "config"))
    for name in ("MATTEAPP_MODEL", "MATTEAPP_MODEL_CATALOG", "MATTEAPP_HF_ENDPOINT", "HF_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    return user


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
