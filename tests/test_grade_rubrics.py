"""Issue 14: the rubrics in problems/ grade what each sheet asks, with its layout and precision.

A perfect submission (exactly the graded steps, the key's values) scores 100% on every seed key
with a numeric answer; the same values rounded to 3 significant figures still do where the key is
not an integer. The symbolic `kind: derive` specs take formula answers: their perfect submissions
are in tests/test_grade_formula.py.
"""

from fractions import Fraction
from pathlib import Path

import pytest

from hwsolve.grade.answers import Submission, Value, load_submission, parse_value
from hwsolve.grade.grader import grade, load_key

ROOT = Path(__file__).resolve().parents[1]
PROBLEMS = ROOT / "problems"
SEED_KEYS = ["cs4782_p1", "cs4782_p2", "cs4782_p4", "cs4782_p5", "csc6022_q1_numeric", "csc6022_q3",
             "csc6022_q4", "csci5922_q3a", "csci5922_ec_b", "csci5922_q3a_graph", "csci5922_q3b",
             "nyu2572_1_2", "nyu2572_1_3a", "nyu2572_1_3b", "nyu2572_1_5b", "nyu2572_1_5c", "cs4782_p1_template"]


def _key(name):
    return load_key(str(PROBLEMS / f"{name}.yaml"))


def _sub(answers: dict) -> Submission:
    return Submission("s.yaml", "s", {k: parse_value(v) for k, v in answers.items()})


def _raw(v: Value, f=lambda x: x):
    """An answer-file value (lists, number text) for a Value, each number through f."""
    def num(x):
        y = f(x)
        return str(y) if isinstance(y, Fraction) else y
    if v.shape == ():
        return num(v.rows[0][0])
    if len(v.shape) == 1:
        return [num(r[0]) for r in v.rows]
    return [[num(x) for x in r] for r in v.rows]


def _round3(x):
    if isinstance(x, int) or (isinstance(x, Fraction) and x.denominator == 1):
        return x                  # an integer is exact: never rounded
    return float(f"{float(x):.3g}")


@pytest.mark.parametrize("name", SEED_KEYS)
def test_every_seed_key_has_a_rubric_and_a_perfect_submission_scores_100(name):
    key = _key(name)
    assert key.rubric.source != "defaults", name
    r = grade(key, _sub({n: _raw(key.values[n]) for n, _ in key.graded}))
    assert r.percent == 100.0, [(s.name, s.verdict, s.reason) for s in r.steps if s.verdict != "correct"]
    rounded = grade(key, _sub({n: _raw(key.values[n], _round3) for n, _ in key.graded}))
    assert rounded.percent == 100.0, [(s.name, s.reason) for s in rounded.steps if s.verdict != "correct"]


def test_every_rubric_in_problems_is_checked():
    """The perfect-submission tests cover every spec in problems/ that carries a rubric (read from
    the files, so a new one cannot be missed): the numeric ones above, the symbolic ones with formula
    answers in tests/test_grade_formula.py, the whole sheet below."""
    from test_grade_formula import SYMBOLIC

    with_rubric = {p.stem for p in PROBLEMS.glob("*.yaml") if "\nrubric:" in p.read_text()}
    assert with_rubric <= set(SEED_KEYS) | set(SYMBOLIC), with_rubric - set(SEED_KEYS) - set(SYMBOLIC)


def test_arguments_are_refused_not_scored_zero():
    """Seed keys whose answer is an argument (a proof, the loss derived from an update rule, the
    GAN recursion in symbols) are refused with one line, exit 2, before solving: graded by value,
    every student, right or not, would score 0."""
    from click.testing import CliRunner

    from hwsolve.cli import main
    from hwsolve.core.errors import SpecError
    from hwsolve.grade.grader import ARGUMENT_KINDS
    from hwsolve.spec.loader import load_yaml
    from hwsolve.topics import kind_of

    arguments = [p for p in sorted(PROBLEMS.glob("*.yaml")) if kind_of(load_yaml(p)) in ARGUMENT_KINDS]
    assert {p.stem for p in arguments} >= {"csci5922_ec_a", "nyu2572_1_4_adaline", "csc6022_q5"}
    for p in arguments:
        with pytest.raises(SpecError, match="grade it by hand"):
            load_key(str(p))
    res = CliRunner().invoke(main, ["grade", str(arguments[0]), str(ROOT / "tests" / "data" / "seed001_answers.yaml")])
    assert res.exit_code == 2 and "grade it by hand" in res.output and "Traceback" not in res.output


def test_graph_keys_grade_named_nodes_only():
    for name in ("csci5922_q3a_graph", "csci5922_q3b", "nyu2572_1_5b"):
        for step, _ in _key(name).graded:
            assert not step.startswith("(") and "/d(" not in step and " via " not in step, (name, step)


def test_graph_default_steps_skip_generated_subexpressions(tmp_path):
    text = (PROBLEMS / "csci5922_q3a_graph.yaml").read_text()
    spec = tmp_path / "g.yaml"
    spec.write_text(text[:text.index("\nrubric:")] + "\n")
    graded = [n for n, _ in load_key(str(spec)).graded]
    assert "(X[1] * W1[1])" not in graded and "dL/d(X[1] * W1[1])" not in graded
    assert {"H1", "H2", "Yhat", "dL/dW1[1]", "dL/dX[2]"} <= set(graded)


def test_seed001_graded_as_the_sheet_intends():
    """Seed 001 against P1's rubric: the column dL/dW[3] is right (the sheet fixes no layout),
    a[3] = 9 is wrong, z[3] and yhat carry it forward, the 2x2 dL/dW[1] is wrong."""
    key = _key("cs4782_p1")
    r = grade(key, load_submission(ROOT / "tests" / "data" / "seed001_answers.yaml"))
    v = {s.name: s for s in r.steps}
    assert v["dL/dW[3]"].verdict == "correct" and "other layout" in v["dL/dW[3]"].reason
    assert v["a[3]"].verdict == "wrong"
    assert v["z[3]"].verdict == v["yhat"].verdict == "ecf"
    assert v["dL/dW[1]"].verdict == "wrong_shape"
    assert "L" not in v and "dL/dx" not in v
    # 7 forward values at 5/8 (a[3] lost), the gradients but dL/dW[1]: 2 + 2 + 3 x 4/3
    assert r.score == pytest.approx(7 * 0.625 + 2 + 2 + 4) and r.max_score == pytest.approx(15)


def test_layout_either_takes_both_orientations():
    key = _key("cs4782_p1")
    for ans in ([[-152, -88]], [-152, -88]):
        assert {s.name: s for s in grade(key, _sub({"dL/dW[3]": ans})).steps}["dL/dW[3]"].verdict == "correct"
    # dL/dW[1] (3x2) written 2x3: the transpose, also accepted
    v = {s.name: s for s in grade(key, _sub({"dL/dW[1]": [[32, 24, -8], [16, 12, -4]]})).steps}
    assert v["dL/dW[1]"].verdict == "correct"


def test_layout_numerator_a_missing_transpose_is_wrong():
    key = _key("nyu2572_1_2")
    kv = key.values["dl/dW^(1)"]
    t = Value(tuple(zip(*kv.rows, strict=True)))
    v = {s.name: s for s in grade(key, _sub({"dl/dW^(1)": _raw(t)})).steps}["dl/dW^(1)"]
    assert v.mistake == "transposed" and v.points == 0


def test_layout_gradient_required_of_a_numerator_key(tmp_path):
    text = (PROBLEMS / "nyu2572_1_2.yaml").read_text()
    spec = tmp_path / "k.yaml"
    spec.write_text(text.replace("  layout: numerator\n", "  layout: gradient\n"))
    key = load_key(str(spec))
    kv = key.values["dl/dW^(1)"]      # numerator layout: the transpose of W's shape
    t = Value(tuple(zip(*kv.rows, strict=True)))
    v = {s.name: s for s in grade(key, _sub({"dl/dW^(1)": _raw(t), "dl/db^(1)": _raw(key.values["dl/db^(1)"])})).steps}
    assert v["dl/dW^(1)"].verdict == "correct"
    assert v["dl/db^(1)"].mistake == "transposed" and "gradient layout required" in v["dl/db^(1)"].reason


def test_per_step_policy(tmp_path):
    spec = tmp_path / "k.yaml"
    spec.write_text((PROBLEMS / "cs4782_p2.yaml").read_text().replace(
        "    N(q=0.95): 2.5\n", "    N(q=0.95): {points: 2.5, precision: rounded, tolerance: {sig_figs: 1}}\n"))
    key = load_key(str(spec))
    v = {s.name: s for s in grade(key, _sub({"N(q=0.95)": 60, "N(q=0.995)": 100})).steps}
    assert v["N(q=0.95)"].verdict == "correct"      # 59 to 1 figure, as this step allows
    assert v["N(q=0.995)"].verdict == "wrong"       # 104: exact


def test_counts_are_exact_on_p2():
    key = _key("cs4782_p2")
    v = {s.name: s for s in grade(key, _sub({"N(q=0.995)": 100, "epochs": 3000})).steps}
    assert v["N(q=0.995)"].verdict == "wrong" and v["epochs"].verdict == "correct"


def test_a_partly_right_matrix_reads_as_answered():
    key = _key("cs4782_p1")
    v = {s.name: s for s in grade(key, _sub({"dL/dW[2]": [[16, 64, 72], [-24, -96, 0]]})).steps}["dL/dW[2]"]
    assert v.reason == "5 of 6 entries right" and "no answer" not in v.reason


def test_a_whole_sheet_is_graded_by_its_parts_rubrics():
    key = _key("cs4782_hw1")
    parts = {p: _key(f"cs4782_{p.lower()}") for p in ("P1", "P2", "P4", "P5")}
    assert [n for n, _ in key.graded] == [f"{p}/{n}" for p, k in parts.items() for n, _ in k.graded]
    assert key.max_score == pytest.approx(sum(k.max_score for k in parts.values()))   # 15 + 10 + 16 + 16
    r = grade(key, _sub({n: _raw(key.values[n]) for n, _ in key.graded}))
    assert r.percent == 100.0
    v = {s.name: s for s in grade(key, _sub({"P1/dL/dW[3]": [-152, -88], "P2/N(q=0.995)": 100})).steps}
    assert v["P1/dL/dW[3]"].verdict == "correct"          # P1's layout: either
    assert v["P2/N(q=0.995)"].verdict == "wrong"          # P2's precision: exact


@pytest.mark.parametrize("name", ["csci5922_q3a_graph", "csci5922_q3b"])
def test_seed004_every_correctly_rounded_value_passes_and_its_two_local_derivative_slips_are_caught(name):
    """Seed 004 rounds to 2-3 figures; checked at the figures it printed, each of its table values
    is right. Its two errors are local derivatives, which are steps of their own: sigma'(z3) =
    0.213 (the key 0.2139... is 0.214 at 3 figures) and dH3/dX1 = 1 (min takes H1: it is 0)."""
    part = name.split("_")[1]
    r = grade(_key(name), load_submission(ROOT / "tests" / "data" / f"seed004_{part}_answers.yaml"))
    wrong = {s.name for s in r.steps if s.verdict != "correct"}
    assert wrong == ({"sigmoid'(z3)"} if part == "q3a" else {"dH3/dX1"}), \
        [(s.name, s.reason) for s in r.steps if s.verdict != "correct"]
    right = {s.name for s in r.steps if s.verdict == "correct"}
    assert (right >= {"dR/dH3", "dH5/dH4", "dH3/dH1"}) if part == "q3b" else "L" in right
    if part == "q3b":       # dH3/dX1 = 1 is min's other branch (a rounding slip, 0.213, names nothing)
        assert {s.name: s for s in r.steps}["dH3/dX1"].mistake == "other_branch"


def test_seed004_a_wrong_fourth_figure_fails():
    key = _key("csci5922_q3a_graph")
    v = {s.name: s for s in grade(key, _sub({"L": "1.172", "dL/dW3[1]": "-0.139", "Yhat": "0.690"})).steps}
    assert v["L"].verdict == "wrong"            # the key is 1.1711...: 1.171 at 4 figures
    assert v["dL/dW3[1]"].verdict == "wrong"    # -0.1380... at 3 figures
    assert v["Yhat"].verdict == "correct"       # 0.6899... is 0.690 at 3 figures
