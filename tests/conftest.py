import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROBLEMS = ROOT / "problems"
SEEDS = ROOT.parent / "shared" / "seeds"

os.environ.setdefault("NO_COLOR", "1")


@pytest.fixture
def problems_dir() -> Path:
    return PROBLEMS
