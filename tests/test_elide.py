"""Big arrays in the terminal print their corners and shape (issue 17); --full and every other format
keep every number. Rendered at a fixed console width so the layout does not depend on the terminal."""

import io
import json
import re

import yaml
from click.testing import CliRunner

from hwsolve.cli import main
from hwsolve.core.records import Solution, Step
from hwsolve.render.text import ELIDED_NOTE, make_console, render

WIDTH = 100


def _matrix(rows: int, cols: int) -> tuple:
    # entry (i, j) is 1000 i + j + 1: each one distinct, so the test can tell which were printed
    return tuple(tuple(1000 * i + j + 1 for j in range(cols)) for i in range(rows))


def _printed(value: tuple, shape: tuple, whole: bool = False) -> str:
    sol = Solution(title="t", kind="test", steps=[Step(name="W", section="given", value=value, shape=shape)])
    buf = io.StringIO()
    render(sol, 4, console=make_console(buf, width=WIDTH, plain=True), whole=whole)
    return buf.getvalue()


def _numbers(text: str) -> set[int]:
    return {int(n) for n in re.findall(r"(?<![\d×])\d+(?![\d×])", text)}


def test_small_matrix_prints_whole():
    out = _printed(_matrix(10, 10), (10, 10))
    assert _numbers(out) >= {1000 * i + j + 1 for i in range(10) for j in range(10)}
    assert "..." not in out and ELIDED_NOTE not in out


def test_big_matrix_prints_corners_and_shape():
    out = _printed(_matrix(512, 512), (512, 512))
    corners = {1000 * i + j + 1 for i in (0, 1, 2, 509, 510, 511) for j in (0, 1, 2, 509, 510, 511)}
    table = "\n".join(line for line in out.splitlines() if line.startswith("|"))
    assert _numbers(table) == corners  # 512 is an entry (0, 511) as well as the shape
    assert "(512×512)" in out
    assert " ..., " in out and "], ..., [" in out
    assert ELIDED_NOTE in " ".join(out.split())  # the note may wrap at the console width
    assert max(len(line) for line in out.splitlines()) <= WIDTH
    assert len(out.splitlines()) < 20


def test_long_vector_and_wide_matrix():
    out = _printed(tuple(range(1, 12)), (11,))
    assert "[1, 2, 3, ..., 9, 10, 11] (11)" in out
    wide = _printed(_matrix(2, 11), (2, 11))  # 2 rows, 11 columns: only the columns are elided
    assert "[[1, 2, 3, ..., 9, 10, 11], [1001, 1002, 1003, ..., 1009, 1010, 1011]] (2×11)" in wide


def test_whole_prints_every_entry():
    out = _printed(_matrix(12, 12), (12, 12), whole=True)
    assert _numbers(out) >= {1000 * i + j + 1 for i in range(12) for j in range(12)}
    assert "..." not in out and ELIDED_NOTE not in out


def _spec(tmp_path, width: int = 12) -> str:
    # a 12-12-2 network: W[1] is 12x12 (elided in the terminal), W[2] 2x12
    w1 = [[f"{i}/{j + 1}" for j in range(width)] for i in range(width)]
    spec = {"input": list(range(width)), "target": [1, 2],
            "layers": [{"type": "linear", "W": w1, "b": [0] * width}, "relu",
                       {"type": "linear", "W": [[1] * width, [-1] * width], "b": [0, 0]}],
            "loss": "squared_error"}
    path = tmp_path / "wide.yaml"
    path.write_text(yaml.safe_dump(spec))
    return str(path)


def test_cli_full_flag_and_other_formats(tmp_path):
    spec = _spec(tmp_path)
    runner = CliRunner()
    rich = runner.invoke(main, ["backprop", spec])
    assert rich.exit_code == 0, rich.output
    assert "(12×12)" in rich.output and ELIDED_NOTE in " ".join(rich.output.split())
    full = runner.invoke(main, ["backprop", spec, "--full"])
    assert full.exit_code == 0 and "..." not in full.output and ELIDED_NOTE not in full.output
    data = json.loads(runner.invoke(main, ["backprop", spec, "--format", "json"]).output)
    w1 = next(s for s in data["steps"] if s["name"] == "W[1]")
    assert len(w1["value"]) == 12 and all(len(row) == 12 for row in w1["value"])
    for fmt in ("markdown", "latex"):
        out = runner.invoke(main, ["backprop", spec, "--format", fmt]).output
        assert "..." not in out and "dots" not in out, fmt
