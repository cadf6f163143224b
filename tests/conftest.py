import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROBLEMS = ROOT / "problems"
SEEDS = ROOT.parent / "shared" / "seeds"

os.environ.setdefault("NO_COLOR", "1")
# Printouts are tested at hwsolve's own piped width, whatever the caller's terminal says (pytest-xdist's
# workers set COLUMNS=80 and LINES=24); a test that wants a width asks for it
os.environ.pop("COLUMNS", None)
os.environ.pop("LINES", None)


@pytest.fixture
def problems_dir() -> Path:
    return PROBLEMS
