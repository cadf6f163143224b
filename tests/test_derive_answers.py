"""derive's answer_in: answers in the symbols a sheet allows (issue 13 item 2, seed 002 1.2(b)/(c))."""

import json

import pytest
from click.testing import CliRunner

from hwsolve.cli import main
from hwsolve.topics.derive import solve as D
from hwsolve.topics.derive.answers import symbols_in
from hwsolve.topics.derive.spec import parse_derive
from hwsolve.spec.loader import load_yaml, load_yaml_text
from hwsolve.core.sym import to_text

from conftest import PROBLEMS
from hwsolve.topics.derive.answers import ANSWER_SUFFIX

ALLOWED_1_2 = ["x", "y", "W^(1)", "b^(1)", "W^(2)", "b^(2)", "dl/dyhat", "dz_2/dz_1", "dyhat/dz_3"]


def test_seed002_1_2_answers_use_only_the_allowed_symbols():
    prob = parse_derive(load_yaml(str(PROBLEMS / "nyu2572_1_2_sym.yaml")))
    assert prob.answer_in == ALLOWED_1_2
    d = D.derive(prob)
    worst, count = D.check(prob, d)          # every answer evaluated against the numeric engine
    assert worst < 1e-9 and count > 0
    fwd = {s.name.removesuffix(ANSWER_SUFFIX): to_text(s.formula) for s in d.solution.in_section("answers_forward")}
    assert fwd["z_2"] == "5 * ReLU(W^(1) x + b^(1))"
    assert fwd["yhat"] == "W^(2) (5 * ReLU(W^(1) x + b^(1))) + b^(2)"   # id(z_3) dropped
    back = {s.name.removesuffix(ANSWER_SUFFIX): to_text(s.formula) for s in d.solution.in_section("answers_backward")}
    # (c): the given Jacobians stay, dz_3/dz_2 becomes W^(2), z_2 is written out
    assert back["dl/dW^(1)"] == "x dl/dyhat dyhat/dz_3 W^(2) dz_2/dz_1"
    assert back["dl/dW^(2)"] == "(5 * ReLU(W^(1) x + b^(1))) dl/dyhat dyhat/dz_3"
    assert back["dl/dx"] == "dl/dyhat dyhat/dz_3 W^(2) dz_2/dz_1 W^(1)"
    for s in d.solution.in_section("answers_forward") + d.solution.in_section("answers_backward"):
        assert symbols_in(s.formula) <= set(ALLOWED_1_2), s.name


HIDDEN = ["relu", "'5 * relu'", "sigmoid", "tanh", "identity"]
HEADS = [("identity", "squared_error"), ("sigmoid", "bce"), ("softmax", "cross_entropy")]


@pytest.mark.parametrize("layout", ["numerator", "gradient"])
@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("head,loss", HEADS)
def test_answers_in_the_leaves_alone_equal_the_numeric_gradient(layout, hidden, head, loss):
    # the strictest list, 1.2(b)'s: only the input, the target and the parameters
    text = (f"hwsolve: 1\nkind: derive\nlayout: {layout}\ninput: n\nlayers:\n  - linear: {{out: d}}\n"
            f"  - {hidden}\n  - linear: {{out: K}}\n  - {head}\nloss: {loss}\n")
    leaves = [s.label.text for s in D.derive(parse_derive(load_yaml_text(text, "t.yaml"))).solution.steps
              if s.section == "shapes"]
    prob = parse_derive(load_yaml_text(text + f"answer_in: {json.dumps(leaves)}\n", "t.yaml"))
    d = D.derive(prob)
    for seed in (0, 1):
        worst, _ = D.check(prob, D.derive(prob, seed))
        assert worst < 1e-9
    answers = d.solution.in_section("answers_backward")
    assert len(answers) == len(d.solution.summary)
    for s in answers:
        assert symbols_in(s.formula) <= set(leaves) | set(d.c.sizes), s.name


def test_an_unknown_answer_symbol_names_its_line(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text((PROBLEMS / "nyu2572_1_2_sym.yaml").read_text().replace("dyhat/dz_3]", "dq/dz_3]"))
    r = CliRunner().invoke(main, ["derive", str(f)])
    assert r.exit_code == 2 and "bad.yaml:18: answer_in[8]: no symbol 'dq/dz_3'" in r.output
    assert "Traceback" not in r.output


def test_gradient_layout_keeps_an_allowed_jacobian_under_its_transpose():
    text = (PROBLEMS / "csc6022_q1.yaml").read_text().replace("show: [algebra, backward, summary]", "")
    prob = parse_derive(load_yaml_text(text + "\nanswer_in: [x, y, W, b_1, V, b_2, dp/da]\n", "q1.yaml"))
    d = D.derive(prob)
    assert D.check(prob, d)[0] < 1e-9
    back = {s.name.removesuffix(ANSWER_SUFFIX): to_text(s.formula) for s in d.solution.in_section("answers_backward")}
    assert back["dL/dV"].startswith("(dp/da)^T (-(y ⊘ softmax(V ReLU(W x + b_1) + b_2)))")
