"""Grading behaviours a review of the grader against a careful TA's verdicts found wrong
(a helper session, on problems/cs4782_p1.yaml: y = 10, yhat = 8, dL/dyhat = 2 (yhat - y) = -4)."""

from pathlib import Path

from hwsolve.grade.answers import Submission, parse_value
from hwsolve.grade.grader import grade, load_key

ROOT = Path(__file__).resolve().parents[1]
P1 = str(ROOT / "problems" / "cs4782_p1.yaml")
DEFAULTS = str(ROOT / "tests" / "data" / "rubric_defaults.yaml")


def _graded(answers: dict, rubric: str = DEFAULTS):
    sub = Submission("s.yaml", "s", {k: parse_value(v) for k, v in answers.items()})
    return {s.name: s for s in grade(load_key(P1, rubric), sub).steps}


def test_a_sign_slip_in_the_loss_derivative_is_carried_forward_as_a_dropped_factor_2_is():
    """2(y - yhat) = 4 for -4 flips every gradient below it; what the student computed from it is
    ECF, as it is after 1(yhat - y) = -2 (the factor 2 dropped). It cost every later gradient."""
    for slip, below in ((4, [-8, 12]), (-2, [4, -6])):
        steps = _graded({"dL/db[3]": slip, "dL/db[2]": below})
        assert steps["dL/db[3]"].verdict == "wrong" and steps["dL/db[3]"].mistake
        assert steps["dL/db[2]"].verdict == "ecf", steps["dL/db[2]"].reason
        assert steps["dL/db[2]"].ecf_from == ("dL/db[3]",)


def test_arithmetic_on_numbers_is_the_number_it_makes():
    """"4*2" was read as a 4 x 2 size, "(8)" and "2*(8-10)" as formulas that hold only at the key's
    values; sizes are written with x (docs/grading.md)."""
    steps = _graded({"yhat": "4*2", "a[3]": "(8)", "dL/db[3]": "2*(8-10)", "z[3]": "16/2"})
    assert all(steps[n].verdict == "correct" for n in ("yhat", "a[3]", "dL/db[3]", "z[3]")), \
        {n: steps[n].reason for n in steps}
    assert parse_value("34x34").size_text and parse_value("20 x 20 x 2").size_text
    assert parse_value("4*2").value.rows == ((8,),)


def test_a_formula_with_names_is_still_a_formula():
    answer = parse_value("2*(yhat - y)")
    assert answer.value is None and answer.formula == "2*(yhat - y)"


def test_in_numerator_layout_a_transposed_answer_is_described_as_written(tmp_path):
    """The comparison turns the answer round into the key's layout; the feedback gave the sizes
    turned round too: '3x2 where 2x3 is due' for the student's 2x3 under a required 3x2."""
    rubric = tmp_path / "r.yaml"
    rubric.write_text("rubric:\n  layout: numerator\n  steps:\n    dL/dW[2]: 1\n    dL/dW[3]: 1\n")
    steps = _graded({"dL/dW[2]": [[16, 64, 72], [-24, -96, -108]], "dL/dW[3]": [[-152, -88]]}, str(rubric))
    assert steps["dL/dW[2]"].mistake == "transposed"
    assert "2x3 where 3x2 is due" in steps["dL/dW[2]"].reason, steps["dL/dW[2]"].reason
    assert "a 1x2 row where a column of 2 is due" in steps["dL/dW[3]"].reason, steps["dL/dW[3]"].reason


def test_text_that_cannot_be_read_is_missing_as_the_verdict_table_says():
    """'nan' and '104 trials' were wrong_shape ('unknown name'), '[[2,-1],[-4,4]]' wrong; all are
    a value that cannot be read: missing, 0 points, the reason saying why."""
    steps = _graded({"yhat": "nan", "a[3]": "104 trials", "z[3]": "[[2,-1],[-4,4]]"})
    for name in ("yhat", "a[3]", "z[3]"):
        assert steps[name].verdict == "missing" and steps[name].points == 0
        assert steps[name].reason.startswith("cannot read the formula"), steps[name].reason


def test_a_correct_answer_with_a_note_shows_it_in_the_feedback():
    from hwsolve.grade.report import feedback

    steps = _graded({"dL/dW[3]": [-152, -88]}, P1)   # P1's own rubric: layout either; W[3] is 1x2
    s = steps["dL/dW[3]"]
    assert s.verdict == "correct" and feedback(s, show_key=False) == "in the other layout (accepted)"


def test_a_rubric_step_that_is_no_step_of_the_key_is_placed_at_its_line(tmp_path):
    import pytest

    from hwsolve.core.errors import SpecError

    rubric = tmp_path / "r.yaml"
    rubric.write_text("rubric:\n  steps:\n    yhat: 1\n    dL/dW[9]: 1\n")
    with pytest.raises(SpecError, match=r"r.yaml:4: rubric grades step 'dL/dW\[9\]'.*did you mean 'dL/dW\[3\]'"):
        load_key(P1, str(rubric))
