"""--fragment LaTeX compiles when \\input into a student's own plain article (only amsmath), and
hostile names (^ _ & % # $ { } \\) are escaped right in text and in math mode."""

import shutil
import subprocess

import pytest
from click.testing import CliRunner

from hwsolve.cli import main
from hwsolve.core.notation import latex_text

from conftest import PROBLEMS

SPECS = sorted(PROBLEMS.glob("*.yaml"))
needs_tex = pytest.mark.skipif(not shutil.which("pdflatex"), reason="pdflatex not installed (make test installs it)")
HOSTILE = "^ _ & % # $ { } \\ ~ < > |"


def latex(args, tmp_path, name, fragment=True):
    out = tmp_path / f"{name}.tex"
    r = CliRunner().invoke(main, [*map(str, args), "--format", "latex", "-o", str(out)]
                           + (["--fragment"] if fragment else []))
    assert r.exit_code == 0, r.output
    return out


def compile_tex(tmp_path, name: str, body: str, packages=("amsmath",)) -> str:
    doc = tmp_path / f"{name}.doc.tex"
    doc.write_text("\\documentclass{article}\n" + "".join(f"\\usepackage{{{p}}}\n" for p in packages)
                   + "\\begin{document}\n" + body + "\n\\end{document}\n")
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", doc.name], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    log = (tmp_path / f"{name}.doc.log").read_text(errors="replace")
    assert run.returncode == 0, log[-2500:]
    return log


@needs_tex
@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_every_fragment_compiles_in_a_plain_article_with_only_amsmath(path, tmp_path):
    frag = latex(["solve", path], tmp_path, path.stem)
    assert "\\documentclass" not in frag.read_text()
    log = compile_tex(tmp_path, path.stem, f"Before.\n\\input{{{frag.name}}}\nAfter.")
    assert "Output written" in log


@needs_tex
def test_a_fragment_scales_long_forms_when_the_document_has_graphicx(tmp_path):
    frag = latex(["backprop", PROBLEMS / "cs4782_p1.yaml"], tmp_path, "q1")
    assert "\\hwfit{" in frag.read_text(), "this spec has forms long enough to be fitted"
    compile_tex(tmp_path, "q1", f"\\input{{{frag.name}}}", packages=("amsmath", "graphicx"))
    # a document that defines \hwfit itself keeps its own definition
    compile_tex(tmp_path, "own", "\\newcommand{\\hwfit}[1]{[#1]}\n" + f"\\input{{{frag.name}}}")


POWER_GRAPH = """hwsolve: 1
kind: graph
title: 'a power on several paths'
inputs: {x: 2}
params: {w: 3}
nodes:
  h: w * x
  p: h ^ 2
  q: p + h ^ 3
  r: p * q
output: r
"""


@needs_tex
@pytest.mark.parametrize("fragment", [False, True])
def test_a_power_used_on_several_paths_compiles(tmp_path, fragment):
    spec = tmp_path / "power.yaml"
    spec.write_text(POWER_GRAPH)
    tex = latex(["backprop", spec], tmp_path, "power", fragment)
    text = tex.read_text()
    # the key is read as math (issue 13 item 8: never a raw step name), the power braced
    assert "\\frac{\\partial r}{\\partial h}\\ \\text{via}\\ (h^{3}) &=" in text
    assert "dr/dh" not in text
    if fragment:
        compile_tex(tmp_path, "power", f"\\input{{{tex.name}}}")
    else:
        run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", tex.name], cwd=tmp_path,
                             capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, (tmp_path / "power.log").read_text(errors="replace")[-2500:]


def hostile_specs(tmp_path):
    """Free text everywhere a spec allows it: titles, notes, questions, part and hyper-parameter names."""
    q = HOSTILE.replace("\\", "\\\\").replace('"', '\\"')
    (tmp_path / "hp.yaml").write_text(f"""hwsolve: 1
kind: hparam
title: "hp {q}"
notes: ["note {q}"]
grid:
  hyperparameters: {{"a^_&%#$": [1, 2], "b{{}}\\\\~": 3}}
  epochs: 2
  epoch_time: 1
random: {{p: 0.05, q: [0.9]}}
""")
    (tmp_path / "gf.yaml").write_text(f"""hwsolve: 1
kind: gradflow
title: "gf {q}"
parts:
  - {{name: "p {q}", structure: plain, layers: 2, upstream: 0.5, local: 0.5}}
  - {{name: "r^2 & co", structure: residual, block: 2, layers: 2, upstream: 0.5, local: 0.5}}
compare: [["r^2 & co", "p {q}"]]
""")
    (tmp_path / "cv.yaml").write_text(f"""hwsolve: 1
kind: conv
parts:
  - {{id: a_1, question: "q {q}", task: shape, n: 8, k: 3}}
""")
    (tmp_path / "sheet.yaml").write_text(f"""hwsolve: 1
kind: sheet
title: "sheet {q}"
parts:
  - {{id: P_1, title: "t {q}", file: cv.yaml}}
  - {{id: P_2, file: hp.yaml}}
  - {{id: P_3, file: gf.yaml}}
  - {{id: P_4, title: "power {q}", file: power.yaml}}
notes: ["sheet note {q}"]
""")
    (tmp_path / "power.yaml").write_text(POWER_GRAPH.replace("'a power on several paths'", f'"power {q}"'))
    return tmp_path / "sheet.yaml"


@needs_tex
@pytest.mark.parametrize("fragment", [False, True])
def test_hostile_names_compile_and_print_as_written(tmp_path, fragment):
    sheet = hostile_specs(tmp_path)
    tex = latex(["solve", sheet], tmp_path, "hostile", fragment)
    if fragment:
        compile_tex(tmp_path, "hostile", f"\\input{{{tex.name}}}")
    else:
        run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", tex.name], cwd=tmp_path,
                             capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, (tmp_path / "hostile.log").read_text(errors="replace")[-2500:]
    if shutil.which("pdftotext"):
        pdf = tmp_path / ("hostile.doc.pdf" if fragment else "hostile.pdf")
        words = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
        # pdftotext gives the accents as spacing signs and the OT1 underscore (a rule) not at all
        def squeeze(t):
            return "".join(t.replace("ˆ", "^").replace("˜", "~").replace("_", "").split())

        assert squeeze("sheet " + HOSTILE) in squeeze(words), "the title prints as written"
        assert squeeze("r^2 & co") in squeeze(words)


def test_latex_text_escapes_every_special_for_math_mode():
    assert latex_text(HOSTILE) == (r"\text{\textasciicircum{} \_ \& \% \# \$ \{ \} \textbackslash{} "
                                   r"\textasciitilde{} \textless{} \textgreater{} \textbar{}}")
    assert latex_text("5.2") == r"\text{5.2}" and latex_text("é") == r"\text{e}"
