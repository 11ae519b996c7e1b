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
