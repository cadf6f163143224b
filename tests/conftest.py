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


def backprop_error_line(tmp_path: Path, body: str) -> str:
    """`hwsolve backprop` on a spec with this text: the one error line it must give (exit 2,
    naming the file and a line, nothing else)."""
    from click.testing import CliRunner

    from hwsolve.cli import main

    path = tmp_path / "bad.yaml"
    path.write_text(body)
    r = CliRunner().invoke(main, ["backprop", str(path)])
    assert r.exit_code == 2, r.output
    line = r.output.strip()
    assert "\n" not in line and line.startswith(f"error: {path}:"), line
    return line
