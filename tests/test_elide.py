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


# -- LaTeX: a bmatrix holds at most 30 columns and TeX reads lines of at most 200,000 characters, so
# an array with more than 30 rows or columns is typeset by its corners (issue 17: "LaTeX: say what
# was elided"); JSON's values and Markdown keep every number, and --full typesets it whole.

def _latex_of(value) -> str:
    from hwsolve.core.sym import Const
    from hwsolve.render.latex import CornersLatexPrinter

    return CornersLatexPrinter(4).print(Const(value))


def test_latex_corners_of_a_matrix_a_vector_and_maps():
    rows = [0, 1, 2, 28, 29, 30]
    line = lambda i, cols: " & ".join(str(1000 * i + j + 1) for j in cols)  # noqa: E731
    head, tail = [0, 1, 2], [28, 29, 30]
    expected = (r"\begin{bmatrix} "
                + r" \\ ".join([*(line(i, head) + r" & \cdots & " + line(i, tail) for i in rows[:3]),
                                " & ".join([r"\vdots"] * 3 + [r"\ddots"] + [r"\vdots"] * 3),
                                *(line(i, head) + r" & \cdots & " + line(i, tail) for i in rows[3:])])
                + r" \end{bmatrix}_{31 \times 31}")
    assert _latex_of(_matrix(31, 31)) == expected
    assert _latex_of(tuple(range(1, 32))) == \
        r"\begin{bmatrix} 1 \\ 2 \\ 3 \\ \vdots \\ 29 \\ 30 \\ 31 \end{bmatrix}_{31}"
    assert _latex_of(_matrix(2, 31)) == (
        r"\begin{bmatrix} 1 & 2 & 3 & \cdots & 29 & 30 & 31 \\ "
        r"1001 & 1002 & 1003 & \cdots & 1029 & 1030 & 1031 \end{bmatrix}_{2 \times 31}")
    maps = tuple(((k, k), (k, k)) for k in range(31))   # 31 maps of 2 x 2: the maps are shortened
    one = lambda k: rf"\begin{{bmatrix}} {k} & {k} \\ {k} & {k} \end{{bmatrix}}"  # noqa: E731
    assert _latex_of(maps) == (r"\left[ " + ", ".join([one(0), one(1), one(2), r"\ldots", one(28), one(29), one(30)])
                               + r" \right]_{31 \times 2 \times 2}")


def test_latex_prints_arrays_of_30_whole():
    from hwsolve.core.sym import to_latex, Const

    for value in (_matrix(30, 30), tuple(range(30)), _matrix(1, 30)):
        assert _latex_of(value) == to_latex(Const(value))
        assert "dots" not in _latex_of(value)


def test_cli_latex_shortens_big_arrays_and_says_so_json_and_markdown_keep_every_number(tmp_path):
    from hwsolve.render.latex import ELIDED_LATEX_NOTE

    spec = _spec(tmp_path, width=40)
    runner = CliRunner()
    latex = runner.invoke(main, ["backprop", spec, "--format", "latex"])
    assert latex.exit_code == 0, latex.output
    assert r"\end{bmatrix}_{40 \times 40}" in latex.output and r"\ddots" in latex.output
    assert ELIDED_LATEX_NOTE in latex.output
    # entry (i, j) is i/(j + 1): (37, 38) is a corner, (38, 20) is not
    assert r"\frac{37}{39}" in latex.output and r"\frac{38}{21}" not in latex.output
    full = runner.invoke(main, ["backprop", spec, "--format", "latex", "--full"])
    assert full.exit_code == 0 and "dots" not in full.output and ELIDED_LATEX_NOTE not in full.output
    assert r"\frac{38}{21}" in full.output

    data = json.loads(runner.invoke(main, ["backprop", spec, "--format", "json"]).output)
    w1 = next(s for s in data["steps"] if s["name"] == "W[1]")
    assert len(w1["value"]) == 40 and all(len(row) == 40 for row in w1["value"])
    assert w1["exact"][38][20] == "38/21"
    assert w1["latex"].endswith(r"\end{bmatrix}_{40 \times 40}") and r"\ddots" in w1["latex"]
    whole = json.loads(runner.invoke(main, ["backprop", spec, "--format", "json", "--full"]).output)
    w1 = next(s for s in whole["steps"] if s["name"] == "W[1]")
    assert "dots" not in w1["latex"] and r"\frac{38}{21}" in w1["latex"]

    markdown = runner.invoke(main, ["backprop", spec, "--format", "markdown"]).output
    assert "dots" not in markdown and r"\frac{38}{21}" in markdown


def test_maps_of_more_than_a_thousand_numbers_are_summarised_as_numpy_does():
    """20 maps of 28 x 28 (no axis over 30) made a 217,000-character line that pdflatex refused:
    maps beyond 1,000 numbers keep the first and last 3 of every axis longer than 6."""
    from hwsolve.render.latex import is_big_latex

    maps = tuple(tuple(tuple(1000 * k + 30 * i + j for j in range(28)) for i in range(28)) for k in range(20))
    out = _latex_of(maps)
    assert is_big_latex(maps) and out.endswith(r" \right]_{20 \times 28 \times 28}")
    assert out.count(r"\begin{bmatrix}") == 6 and out.count(r"\ldots") == 1
    first = out[out.index(r"\begin{bmatrix}"):out.index(r"\end{bmatrix}")]
    assert first.startswith(r"\begin{bmatrix} 0 & 1 & 2 & \cdots & 25 & 26 & 27 \\ 30 & 31")
    assert first.count(r"\\") == 6 and r"\ddots" in first   # 3 rows, the dots, 3 rows
    small = maps[:1]   # one map of 784 numbers: whole, as before
    assert not is_big_latex(small) and "dots" not in _latex_of(small)


def test_what_latex_cannot_shorten_prints_whole_and_is_not_called_shortened():
    from hwsolve.core.sym import Const, to_latex
    from hwsolve.render.latex import elides, is_big_latex

    empty_rows = ((),) * 31
    ragged = (tuple(range(31)), (1, 2))
    for value in (empty_rows, ragged):
        assert not is_big_latex(value) and _latex_of(value) == to_latex(Const(value))
        sol = Solution(title="t", kind="test", steps=[Step(name="v", section="given", value=value, shape=())])
        assert not elides(sol)


def test_full_latex_of_an_array_over_30_columns_raises_the_column_limit():
    from hwsolve.render.latex import render

    assert r"\setcounter{MaxMatrixCols}{31}" in render(_solution(31), 4, whole=True)
    assert "MaxMatrixCols}{3" not in render(_solution(31), 4).partition(r"\begin{document}")[2]
    assert "MaxMatrixCols}{3" not in render(_solution(30), 4, whole=True).partition(r"\begin{document}")[2]


def _solution(cols: int) -> Solution:
    return Solution(title="t", kind="test", steps=[Step(name="W", section="given", value=_matrix(2, cols),
                                                        shape=(2, cols))])


def test_a_students_variant_sheet_shows_every_number_of_theirs(tmp_path):
    """A question sheet (`hwsolve variants`) is typeset whole: the numbers are the student's own."""
    template = {"hwsolve": 1, "kind": "network", "title": "tall", "input": [1, 2],
                "layers": [{"linear": {"W": [[1, 0]] * 32, "b": [0] * 32}}], "loss": "squared_error",
                "target": [1] * 32, "rubric": {"steps": {"dL/dW[1]": 1}},
                "variants": {"draw": {"target": {"int": [0, 5]}}, "tries": 50}}
    (tmp_path / "t.yaml").write_text(yaml.safe_dump(template))
    (tmp_path / "roster.csv").write_text("student,name\nalice,Alice\n")
    (tmp_path / "s.secret").write_text("course-secret-0123456789abcdef")
    r = CliRunner().invoke(main, ["variants", str(tmp_path / "t.yaml"), "--roster", str(tmp_path / "roster.csv"),
                                  "--secret-file", str(tmp_path / "s.secret"), "-o", str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
    sheet = (tmp_path / "out" / "alice" / "sheet.tex").read_text()
    assert "dots" not in sheet and "MaxMatrixCols}{3" not in sheet.partition(r"\begin{document}")[2]
    assert sheet.count(r" \\ ") >= 31
