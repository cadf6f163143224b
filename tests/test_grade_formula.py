"""Issue 14, item 6: formula answers (hwsolve's own tokenizer, exact evaluation, no eval) and
sizes written as "34x34"."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hwsolve.grade.answers import Submission, parse_value
from hwsolve.grade.formula import parse_formula
from hwsolve.grade.grader import grade, load_key
from hwsolve.spec.expr import ExprError

ROOT = Path(__file__).resolve().parents[1]
PROBLEMS = ROOT / "problems"
DEFAULTS = str(ROOT / "tests" / "data" / "rubric_defaults.yaml")


def _verdicts(key, answers):
    sub = Submission("s.yaml", "s", {k: parse_value(v) for k, v in answers.items()})
    return {s.name: s for s in grade(key, sub).steps}


@pytest.fixture(scope="module")
def p1():
    return load_key(str(PROBLEMS / "cs4782_p1.yaml"), DEFAULTS)     # the key's own layout


def test_backprop_formulas_checked_at_the_key_values(p1):
    # dL/db[3] is 2 (yhat - y) ReLU'(a[3]): the top layer has a ReLU too (2 (yhat - y) alone is
    # right at the key's a[3] = 8 only; test_a_formula_right_at_one_point_only_is_wrong)
    v = _verdicts(p1, {"dL/dW[2]": "dL/da[2] z[1]^T", "dL/dW[1]": "dL/da[1] @ x^T", "a[1]": "W[1] x + b[1]",
                       "z[1]": "relu(a[1])", "dL/db[1]": "hadamard(W[2]^T dL/da[2], relu'(a[1]))",
                       "dL/db[3]": "2(yhat - y) relu'(a[3])", "dL/db[2]": "dL/da[2] + 1"})
    for name in ("dL/dW[2]", "dL/dW[1]", "a[1]", "z[1]", "dL/db[1]", "dL/db[3]"):
        assert v[name].verdict == "correct", (name, v[name].reason)
    assert v["dL/db[2]"].verdict == "wrong" and v["dL/db[2]"].formula == "dL/da[2] + 1"


def test_a_formula_right_at_one_point_only_is_wrong(p1, monkeypatch):
    """At the key's values every ReLU of seed 000 P1 is active (a[1] = (2, 8, 9), a[2] = (38, 22),
    a[3] = 8), so a formula without the ReLU' masks gives the key's numbers there; at random
    inputs and weights (exact rationals, every step recomputed by the key's own rules) it does not."""
    from hwsolve.grade import formula

    slips = {"dL/db[1]": "W[2]^T dL/da[2]", "dL/db[3]": "2(yhat - y)", "dL/db[2]": "W[3]^T dL/dz[3]",
             "a[2]": "W[2] a[1] + b[2]"}
    with monkeypatch.context() as m:          # the key's point alone accepts every one of them
        m.setattr(formula, "RANDOM_POINTS", 0)
        assert all(s.verdict == "correct" for s in _verdicts(p1, slips).values() if s.formula)
    for step, r in _verdicts(p1, slips).items():
        if r.formula:
            assert r.verdict == "wrong" and "not in general" in r.reason, (step, r.reason)
    # the general forms pass at every point
    v = _verdicts(p1, {"dL/db[2]": "hadamard(W[3]^T dL/da[3], relu'(a[2]))", "a[2]": "W[2] z[1] + b[2]",
                       "dL/dW[3]": "dL/da[3] z[2]^T", "dL/dx": "W[1]^T dL/da[1]"})
    assert all(s.verdict == "correct" for s in v.values() if s.formula), {n: s.reason for n, s in v.items()}


def test_formulas_at_random_points_on_a_graph_key():
    """A graph key (seed 004 Q3b: min, max, a quotient, a sigmoid, floats): the chain rule written
    with the local derivatives is right everywhere; a shortcut that matches the key's branch of
    min only at the key's values is not."""
    key = load_key(str(PROBLEMS / "csci5922_q3b.yaml"))
    # H5 = max(H4, H1) takes H4 = 2 over H1 = 1.5: dL/dH4 = dL/dH5 there, not where H1 > H4
    v = _verdicts(key, {"dL/dH5": "-dL/dR", "dL/dH3": "dL/dR * dR/dH3", "dL/dH4": "dL/dH5"})
    assert v["dL/dH5"].verdict == "correct" and v["dL/dH3"].verdict == "correct", v
    assert v["dL/dH4"].verdict == "wrong" and "not in general" in v["dL/dH4"].reason
    assert _verdicts(key, {"dL/dH4": "dL/dH5 * dH5/dH4"})["dL/dH4"].verdict == "correct"


def test_a_missing_transpose_is_named(p1):
    v = _verdicts(p1, {"dL/dW[2]": "dL/da[2] z[1]", "dL/dW[3]": "dL/da[3] z[2]", "dL/dW[1]": "x dL/da[1]^T"})
    # dL/da[2] is 2x1 and z[1] 3x1: the product does not fit
    assert v["dL/dW[2]"].verdict == "wrong_shape" and "2x1 times 3x1" in v["dL/dW[2]"].reason
    assert v["dL/dW[3]"].mistake == "transposed" and "missing transpose" in v["dL/dW[3]"].reason
    assert "2x1 where 1x2 is due" in v["dL/dW[3]"].reason
    assert v["dL/dW[1]"].mistake == "transposed"


def test_layout_either_accepts_a_formula_in_the_other_layout():
    key = load_key(str(PROBLEMS / "cs4782_p1.yaml"))
    assert _verdicts(key, {"dL/dW[3]": "dL/da[3] z[2]"})["dL/dW[3]"].verdict == "correct"


def test_a_formula_cannot_name_its_own_step(p1):
    v = _verdicts(p1, {"dL/dW[2]": "dL/dW[2]"})["dL/dW[2]"]
    assert v.verdict != "correct" and "unknown name" in v.reason


def test_conv_size_formula_at_random_sizes():
    key = load_key(str(PROBLEMS / "cs4782_p4.yaml"))
    v = _verdicts(key, {"p1.n_out": "floor((n + 2p - k)/s) + 1", "p2.volume": "20x20x2"})
    assert v["p1.n_out"].verdict == "correct" and v["p2.volume"].verdict == "correct"
    for wrong in ("ceil((n + 2p - k)/s) + 1", "(n + 2p - k)/s + 1", "floor((n + p - k)/s) + 1"):
        r = _verdicts(key, {"p1.n_out": wrong})["p1.n_out"]
        assert r.verdict == "wrong" and " is due" in r.reason, wrong
    assert "names q" in _verdicts(key, {"p1.n_out": "q + 1"})["p1.n_out"].reason


def test_sizes_as_text():
    key = load_key(str(PROBLEMS / "cs4782_p4.yaml"))
    assert _verdicts(key, {"p1.n_out": "34x34"})["p1.n_out"].verdict == "correct"
    assert _verdicts(key, {"p1.n_out": "34 × 35"})["p1.n_out"].verdict != "correct"
    assert _verdicts(key, {"p2.volume": "20 x 20"})["p2.volume"].verdict == "wrong_shape"


@pytest.mark.parametrize("text", ["__import__('os')", "x.__class__", "lambda: 1", "x**2", "open('f')", "a; b",
                                  "(" * 100 + "x" + ")" * 100])
def test_formulas_are_never_evaluated_as_python(text, p1):
    with pytest.raises(ExprError):
        parse_formula(text, list(p1.values))
    v = _verdicts(p1, {"dL/dW[2]": text})["dL/dW[2]"]
    assert v.verdict != "correct" and v.points == 0


def test_huge_powers_are_refused(p1):
    v = _verdicts(p1, {"dL/db[3]": "((((9^64)^64)^64)^64)"})["dL/db[3]"]
    assert v.verdict != "correct" and "too large" in v.reason


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=60))
def test_any_text_answer_is_graded_without_raising(text):
    key = load_key(str(PROBLEMS / "cs4782_p1.yaml"))
    r = grade(key, Submission("s.yaml", "s", {"dL/dW[2]": parse_value(text), "a[1]": parse_value(text)}))
    assert {s.verdict for s in r.steps} <= {"correct", "ecf", "wrong", "wrong_shape", "missing"}


SYMBOLIC = ["nyu2572_1_2_sym", "nyu2572_1_3a_sym", "nyu2572_1_3b_sym", "csc6022_q1", "csc6022_q2"]


@pytest.mark.parametrize("name", SYMBOLIC)
def test_symbolic_keys_a_perfect_formula_submission_scores_100(name):
    key = load_key(str(PROBLEMS / f"{name}.yaml"))
    assert key.rubric.source != "defaults"
    r = grade(key, Submission("s.yaml", "s", {n: parse_value(key.values[n].rows[0][0]) for n, _ in key.graded}))
    assert r.percent == 100.0, [(s.name, s.reason) for s in r.steps if s.verdict != "correct"]


def test_symbolic_equivalence_transpose_and_shapes():
    key = load_key(str(PROBLEMS / "nyu2572_1_2_sym.yaml"))       # numerator layout: dl/db^(2) is 1xK
    v = _verdicts(key, {"dl/dW^(2)": "z_2 (dl/dz_3 + dl/dz_3) / 2", "dl/db^(2)": "dl/dz_3^T",
                        "dl/dW^(1)": "dl/dz_1 x", "dl/db^(1)": "2 dl/dz_1"})
    assert v["dl/dW^(2)"].verdict == "correct"                   # equal at every random point
    assert v["dl/db^(2)"].mistake == "transposed" and v["dl/db^(2)"].points == 0    # the sheet: wrong
    assert "missing transpose: the formula gives Kx1 where 1xK is due" in v["dl/db^(2)"].reason
    # dl/dz_1 is 1xd (d = 5) and x is nx1 (n = 3): the product does not fit
    assert v["dl/dW^(1)"].verdict == "wrong_shape" and "1x5 times 3x1" in v["dl/dW^(1)"].reason
    assert v["dl/db^(1)"].verdict == "wrong"
    assert "not a quantity" in _verdicts(key, {"dl/db^(1)": "q dl/dz_1"})["dl/db^(1)"].reason


def test_formulas_at_random_points_in_a_sheets_backprop_part():
    key = load_key(str(PROBLEMS / "cs4782_hw1.yaml"))
    v = _verdicts(key, {"P1/dL/dW[2]": "P1/dL/da[2] P1/z[1]^T", "P1/dL/db[1]": "P1/W[2]^T P1/dL/da[2]"})
    assert v["P1/dL/dW[2]"].verdict == "correct" and "8 random points" in v["P1/dL/dW[2]"].reason
    assert v["P1/dL/db[1]"].verdict == "wrong" and "not in general" in v["P1/dL/db[1]"].reason


def test_conv_size_formula_in_a_sheets_conv_part():
    key = load_key(str(PROBLEMS / "cs4782_hw1.yaml"))
    assert _verdicts(key, {"P4/p1.n_out": "floor((n + 2p - k)/s) + 1"})["P4/p1.n_out"].verdict == "correct"
    r = _verdicts(key, {"P4/p1.n_out": "(n + 2p - k)/s + 1"})["P4/p1.n_out"]
    assert r.verdict == "wrong" and " is due" in r.reason


def test_placeholders_do_not_depend_on_set_order():
    """The parsed text seeds the random points: names of one length (dL/dH5, dH5/dH4) get the same
    placeholders in every process, whatever the hash seed, so a verdict never changes between runs."""
    code = ("from hwsolve.grade.formula import parse_formula, _text\n"
            "t, p = parse_formula('dL/dH5 * dH5/dH4 + dL/dH3', ['dL/dH5', 'dH5/dH4', 'dL/dH3', 'dH3/dX1', 'dL/dR'])\n"
            "print(_text(t), sorted(p.items()))")
    outs = {subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONHASHSEED=seed),
                           capture_output=True, text=True, check=True).stdout for seed in ("1", "2", "3", "4")}
    assert len(outs) == 1, outs
