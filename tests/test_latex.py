"""--format latex compiles: every spec in problems/, through pdflatex, page 1 to PNG, not blank."""

import shutil
import subprocess

import pytest
from click.testing import CliRunner

from hwsolve.cli import main
from hwsolve.core.texescape import escape_text as _escape

from conftest import PROBLEMS

SPECS = sorted(PROBLEMS.glob("*.yaml"))
TOOLS = shutil.which("pdflatex") and shutil.which("pdftoppm")


def latex_of(path, tmp_path):
    out = tmp_path / (path.stem + ".tex")
    r = CliRunner().invoke(main, ["solve", str(path), "--format", "latex", "-o", str(out)])
    assert r.exit_code == 0, r.output
    return out


@pytest.mark.skipif(not TOOLS, reason="pdflatex/pdftoppm not installed (make test installs them)")
@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_every_problem_compiles_with_pdflatex_and_page_one_is_not_blank(path, tmp_path):
    import matplotlib.image

    tex = latex_of(path, tmp_path)
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", tex.name],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    log = (tmp_path / (path.stem + ".log")).read_text(errors="replace")
    assert run.returncode == 0, log[-3000:]
    assert "Overfull \\hbox" not in log or log.count("Overfull \\hbox") <= 2, "lines run off the page"
    subprocess.run(["pdftoppm", "-r", "40", "-png", "-f", "1", "-l", "1", path.stem + ".pdf", "page"],
                   cwd=tmp_path, check=True, timeout=60)
    png = next(tmp_path.glob("page*.png"))
    img = matplotlib.image.imread(png)
    dark = (img[..., :3].mean(axis=-1) < 0.5).mean()
    assert dark > 0.0005, f"page 1 of {path.name} looks blank ({dark:.4%} dark pixels)"


def _pdflatex(tmp_path, name: str) -> None:
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", name + ".tex"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, (tmp_path / (name + ".log")).read_text(errors="replace")[-3000:]


@pytest.mark.skipif(not TOOLS, reason="pdflatex/pdftoppm not installed (make test installs them)")
@pytest.mark.parametrize("width, flags", [(40, []), (31, ["--full"]), (31, ["--fragment"])])
def test_a_network_wider_than_a_page_compiles(tmp_path, width, flags):
    """A 40-40-2 network: its 40 x 40 weights and 40-long vectors are typeset by their corners (a
    bmatrix holds at most 30 columns; a 784-wide layer's line would overflow TeX's buffer). With
    --full, a 31-wide one whole: the document raises the column limit. A fragment is \\input."""
    import yaml

    spec = {"input": list(range(width)), "target": [1, 2],
            "layers": [{"type": "linear", "W": [[f"{i}/{j + 1}" for j in range(width)] for i in range(width)],
                        "b": [0] * width}, "relu",
                       {"type": "linear", "W": [[1] * width, [-1] * width], "b": [0, 0]}],
            "loss": "squared_error"}
    (tmp_path / "wide.yaml").write_text(yaml.safe_dump(spec))
    r = CliRunner().invoke(main, ["backprop", str(tmp_path / "wide.yaml"), "--format", "latex",
                                  "-o", str(tmp_path / "wide.tex"), *flags])
    assert r.exit_code == 0, r.output
    if "--fragment" in flags:
        (tmp_path / "doc.tex").write_text("\\documentclass{article}\\usepackage{amsmath,graphicx}\n"
                                          "\\begin{document}\n\\input{wide}\n\\end{document}\n")
        _pdflatex(tmp_path, "doc")
    else:
        _pdflatex(tmp_path, "wide")


@pytest.mark.skipif(not TOOLS, reason="pdflatex/pdftoppm not installed (make test installs them)")
def test_many_big_maps_compile(tmp_path):
    """20 maps of 28 x 28, no axis over 30: whole, a 217,000-character line pdflatex refused."""
    from hwsolve.core.records import Solution, Step
    from hwsolve.render.latex import render

    maps = tuple(tuple(tuple((k + i * j) % 7 for j in range(28)) for i in range(28)) for k in range(20))
    sol = Solution("maps", "layer", steps=[Step("X", "given", value=maps, shape=(20, 28, 28)),
                                           Step("Y", "forward", value=maps, shape=(20, 28, 28))])
    (tmp_path / "maps.tex").write_text(render(sol, 4))
    _pdflatex(tmp_path, "maps")


def test_fragment_has_no_preamble(tmp_path):
    r = CliRunner().invoke(main, ["derive", str(PROBLEMS / "csc6022_q1.yaml"), "--format", "latex",
                                  "--fragment"])
    assert r.exit_code == 0
    assert "\\documentclass" not in r.output and "\\begin{align*}" in r.output


def test_document_structure():
    r = CliRunner().invoke(main, ["derive", str(PROBLEMS / "nyu2572_1_2_sym.yaml"), "--format", "latex"])
    out = r.output
    assert out.startswith("\\documentclass") and "\\allowdisplaybreaks" in out
    assert "\\mathbf{1}[z_{1} > 0]" in out and "\\in \\mathbb{R}^{n \\times d}" in out
    r = CliRunner().invoke(main, ["backprop", str(PROBLEMS / "cs4782_p1.yaml"), "--format", "latex"])
    assert "\\begin{bmatrix}" in r.output
    assert "{z^{[2]}}^\\top" in r.output  # braced before a transpose: no double superscript


def test_text_is_escaped_including_unicode():
    assert _escape("a_b & 50% #1 ~x^2 {}") == r"a\_b \& 50\% \#1 \~{}x\^{}2 \{\}"
    assert _escape("K×D → ⊙") == r"K$\times$D $\to$ $\odot$"
    assert _escape("\u4e2d") == "?"


def test_markdown_uses_display_math():
    r = CliRunner().invoke(main, ["derive", str(PROBLEMS / "csc6022_q1.yaml"), "--format", "markdown"])
    assert r.exit_code == 0
    assert "$$\n\\begin{aligned}" in r.output
    assert "| $\\frac{\\partial L}{\\partial W}$ | $u_{2}" not in r.output
    assert "u_{1} x^\\top" in r.output


def test_a_parameter_printed_rounded_is_typeset_with_approx(tmp_path):
    """A leaky ReLU slope or a Huber delta of more than 40 bits prints as ≈0.1235; its LaTeX name
    carried that ≈, which stops pdflatex ('Unicode character ≈'). Now \\approx, as numbers have."""
    spec = tmp_path / "g.yaml"
    spec.write_text("hwsolve: 1\nkind: graph\nparams: {c: [[-1, 2]], a: 2}\nnodes:\n"
                    "  J: sum(leaky_relu(c, 0.12345000000001)) + max(a, 2.00000000000001)\noutput: J\n")
    r = CliRunner().invoke(main, ["backprop", str(spec), "--format", "latex", "-o", str(tmp_path / "g.tex")])
    assert r.exit_code == 0, r.output
    tex = (tmp_path / "g.tex").read_text()
    assert "≈" not in tex and r"\operatorname{LeakyReLU}_{\approx 0.1235}" in tex
    if TOOLS:
        _pdflatex(tmp_path, "g")
