"""LaTeX and Markdown a student pastes (issue 13 item 8): never a raw step name, notes typeset as math.

Every spec in problems/ is solved once and printed both ways; the text-mode parts of each output
(outside $...$ and the display blocks, and inside \\text, \\intertext, \\parbox, \\emph) must hold
no step-name pattern: no dotted key (p3.n_out), no slash between names (dL/dX2), no dL/d, no
underscore, no caret. Spec keys set as code (\\texttt, backticks) are exempt: they are what a user
types. And the labels themselves: each step's LaTeX label is math, never \\text{its key}.
"""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hwsolve.core.notation import key_latex, step_label
from hwsolve.core.texescape import escape_text
from hwsolve.render import latex as L
from hwsolve.render import markdown as M
from hwsolve.render.notemath import note_latex
from hwsolve.topics import load_and_solve

from conftest import PROBLEMS

SPECS = sorted(PROBLEMS.glob("*.yaml"))

PATTERNS = {
    "a dotted key (p3.n_out)": re.compile(r"\b[A-Za-z_][A-Za-z0-9_]+\.[A-Za-z_][A-Za-z0-9_]+"),
    "a slash between names (dL/dX2)": re.compile(r"\b[A-Za-z][A-Za-z0-9_\[\]]*/[A-Za-z(]"),
    "dL/d outside math": re.compile(r"\bd[A-Za-z]\w*/d"),
    "an underscore outside math": re.compile(r"\\_|(?<!\\)_"),
    "a caret outside math": re.compile(r"\\\^\{\}|\\textasciicircum|\^"),
}


def _group_end(s: str, i: int) -> int:
    """s[i] is '{': the index just after its matching '}'."""
    depth = 0
    for k in range(i, len(s)):
        if s[k] in "{}" and k > 0 and s[k - 1] == "\\":
            continue
        depth += {"{": 1, "}": -1}.get(s[k], 0)
        if depth == 0:
            return k + 1
    return len(s)


def _text_only(t: str) -> str:
    t = re.sub(r"\\texttt\{[^{}]*\}", " ", t)           # code: a spec key as typed
    t = re.sub(r"`[^`]*`", " ", t)
    return re.sub(r"(?<!\\)\$(?:[^$\\]|\\.)*?(?<!\\)\$", " ", t)


def _groups(doc: str, opener: str) -> list[str]:
    return [doc[m.end():_group_end(doc, m.end() - 1) - 1] for m in re.finditer(opener, doc)]


def latex_text_parts(doc: str) -> list[str]:
    body = doc.split("\\begin{document}", 1)[-1]
    parts = _groups(body, r"\\(?:text|intertext|emph)\{") + _groups(body, r"\\parbox\[t\]\{[^{}]*\}\{")
    parts.append(re.sub(r"\\begin\{(align\*|aligned)\}.*?\\end\{\1\}", " ", body, flags=re.S))
    return [_text_only(p) for p in parts]


def markdown_text_parts(doc: str) -> list[str]:
    parts = _groups(doc, r"\\text\{") + [re.sub(r"\$\$.*?\$\$", " ", doc, flags=re.S)]
    return [_text_only(p) for p in parts]


def raw_names(parts: list[str]) -> list[str]:
    found = []
    for text in parts:
        for what, pattern in PATTERNS.items():
            for m in pattern.finditer(text):
                found.append(f"{what}: ...{text[max(0, m.start() - 30):m.end() + 20]}...")
    return found


@pytest.fixture(scope="module")
def solutions():
    return {p.stem: load_and_solve(str(p))[1] for p in SPECS}


@pytest.mark.parametrize("stem", [p.stem for p in SPECS])
def test_no_raw_step_name_in_text_mode(solutions, stem):
    sol = solutions[stem]
    tex, md = L.render(sol, 4), M.render(sol, 4)
    assert raw_names(latex_text_parts(tex)) == []
    assert raw_names(markdown_text_parts(md)) == []
    for out in (tex, md):    # the issue's examples of notes left as ASCII
        assert "(y - yhat)^2" not in out and "W^(2)_ij" not in out and "yhat" not in out


@pytest.mark.parametrize("stem", [p.stem for p in SPECS])
def test_every_label_is_math_not_its_key(solutions, stem):
    for step in solutions[stem].steps:
        label = L.label_latex(step)
        assert not label.startswith(r"\text{"), (step.name, label)
        if "/" in step.name or "." in step.name:
            assert step.name not in label, (step.name, label)


def test_the_issues_examples():
    sheet = load_and_solve(str(PROBLEMS / "cs4782_hw1.yaml"))[1]
    assert L.label_latex(sheet.step("P4/p3.n_out")) == r"{n_{\text{out}}}^{(\mathrm{p3})}"
    q3b = load_and_solve(str(PROBLEMS / "csci5922_q3b.yaml"))[1]
    assert L.label_latex(q3b.step("dL/dX2 via (X1 + X2)")) == \
        r"\frac{\partial L}{\partial X_{2}}\ \text{via}\ (X_{1} + X_{2})"
    q3a = load_and_solve(str(PROBLEMS / "csci5922_q3a_graph.yaml"))[1]
    assert L.label_latex(q3a.step("dL/dX[1] via (X[1] * W1[1])")) == \
        r"\frac{\partial L}{\partial X^{[1]}}\ \text{via}\ (X^{[1]} \cdot W_{1}^{[1]})"
    assert key_latex("Y[0,1]") == "Y_{0,1}" and key_latex("dL/dK[0][1] (identity)") == \
        r"\frac{\partial L}{\partial K_{0,1}}\ (\text{identity})"
    assert key_latex("dr/dh via (h^12)").endswith("(h^{12})")     # the exponent braced
    assert step_label("H4").latex == "H4"                          # a plain name stays as it is


def test_notes_are_math():
    assert note_latex("squared error (y - yhat)^2, summed", escape_text) == \
        r"squared error $(y - \hat{y})^{2}$, summed"
    assert note_latex("W^(2)_ij is one weight", escape_text) == r"$W^{(2)}_{ij}$ is one weight"
    assert note_latex("dL/dW[3] = dL/dout z[2]^T (the full", escape_text) == \
        r"$\partial L / \partial W^{[3]} = \partial L / \partial \mathrm{out} {z^{[2]}}^{\top}$ (the full"
    # English stays English: a lone 'a', 'what', 'that', a function named alone, a size
    assert note_latex("what a 3x3 filter does; identity → sigmoid", escape_text) == \
        r"what a 3x3 filter does; identity $\to$ sigmoid"
    assert note_latex("see conventions.relu_prime_at_zero", escape_text) == \
        r"see \texttt{conventions.relu\_prime\_at\_zero}"


WORDS = ["y_k", "=", "1", "(y", "is)", "W^(2)_ij", "g^l'(z^l)", "x^T", "a", "-", "⊙", "dz_2/dz_1", "a[t]'",
         "p_i", "{x", ">", "0}", "#", "%", "d/du", "sum_k", "log", "yhat", "u^2,", "\\", "dS_ij", "(dA_ij",
         "z_{2j-1}", "W[3]^T", "what", "cross_entropy(p,", "z1_j", "ReLU'(0)", "n_out)", "h^-2", "e.g."]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(WORDS), max_size=14))
def test_note_math_stays_well_formed(words):
    """Any note: $ balanced, braces balanced, no double script in the math, no raw key in the text."""
    tex = note_latex(" ".join(words), escape_text)
    assert len(re.findall(r"(?<!\\)\$", tex)) % 2 == 0
    depth = 0
    for ch in re.sub(r"\\[{}$]", "", tex):
        depth += {"{": 1, "}": -1}.get(ch, 0)
        assert depth >= 0
    assert depth == 0
    for math in re.findall(r"(?<!\\)\$(.*?)(?<!\\)\$", tex):
        assert not re.search(r"_\{[^{}]*\}_|\^\{[^{}]*\}\^|\^\{[^{}]*\}'", math), math


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="dLXWxy12[],./_^*+-() via:ratio", max_size=24))
def test_any_key_reads_as_well_formed_math(key):
    """Keys come from spec names too: whatever the key, its label keeps braces balanced, ends no
    script open and never holds a double subscript."""
    tex = key_latex(key)
    depth = 0
    for ch in re.sub(r"\\[{}]", "", tex):
        depth += {"{": 1, "}": -1}.get(ch, 0)
        assert depth >= 0, tex
    assert depth == 0, tex
    assert not re.search(r"(?<!\\)[_^]\s*$", tex), tex
    assert not re.search(r"_\{[^{}]*\}_|\^\{[^{}]*\}\^", tex), tex
