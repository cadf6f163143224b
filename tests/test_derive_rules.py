"""The loss algebra one named rule per line (issue 13 item 3), each line against finite differences."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hwsolve.core.sym import Symbol, to_text
from hwsolve.topics.derive import rules
from hwsolve.topics.derive import solve as D
from hwsolve.topics.derive.spec import parse_derive
from hwsolve.spec.loader import load_yaml

from conftest import PROBLEMS

L, p, y, a, z, yhat, K = (Symbol(s) for s in ["L", "p", "y", "a", "z", "yhat", "K"])
NAMES_CE = {"loss": "L", "out": "p", "target": "y", "pre": "a"}
NAMES_BCE = {"loss": "L", "out": "yhat", "target": "y", "pre": "z"}


def test_softmax_cross_entropy_ends_in_p_minus_y_both_ways():
    lines = rules.softmax_cross_entropy(L, p, y, a)
    finals = [to_text(line.rhs) for k, line in enumerate(lines)
              if k + 1 == len(lines) or lines[k + 1].lhs is not None]
    assert finals == ["p - y", "-(y^T a) + log(1^T exp(a))", "p - y"]
    assert to_text(lines[1].rhs) == "(diag(p) - p p^T)^T (-(y ⊘ p))"   # the softmax Jacobian
    assert all(line.rule for line in lines)


def test_sigmoid_bce_ends_in_yhat_minus_y_over_k():
    lines = rules.sigmoid_bce(L, yhat, y, z, K)
    assert to_text(lines[-1].rhs) == "(yhat - y) / K"
    assert "sigmoid'(z) = sigmoid(z)(1 - sigmoid(z))" in lines[-2].rule


@pytest.mark.parametrize("key,last", [("squared_error", "2(yhat - y)"), ("mse", "2 / K * (yhat - y)"),
                                      ("half_squared_error", "yhat - y"), ("half_mse", "(yhat - y) / K")])
def test_squared_errors_keep_or_cancel_the_factor_two(key, last):
    lines = rules.squared_error(L, yhat, y, key, K)
    assert to_text(lines[-1].rhs) == last
    assert rules.verify(key, lines, NAMES_BCE) == 3


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 9), st.integers(0, 10_000))
def test_every_rule_line_agrees_with_finite_differences(width, seed):
    assert rules.verify("softmax_ce", rules.softmax_cross_entropy(L, p, y, a), NAMES_CE, width, seed) == 12
    assert rules.verify("sigmoid_bce", rules.sigmoid_bce(L, yhat, y, z, K), NAMES_BCE, width, seed) == 6


def test_a_wrong_rule_line_is_caught():
    lines = rules.sigmoid_bce(L, yhat, y, z, K)
    wrong = lines[:-1] + [rules.Line(None, yhat - y, "forgot the 1/K", "z")]
    with pytest.raises(AssertionError, match="forgot the 1/K"):
        rules.verify("sigmoid_bce", wrong, NAMES_BCE)


@pytest.mark.parametrize("spec,final", [("csc6022_q1.yaml", "p - y"),
                                        ("nyu2572_1_3b_sym.yaml", "(yhat - y) / K"),
                                        ("nyu2572_1_2_sym.yaml", "2(yhat - y)")])
def test_derive_shows_the_algebra_in_the_problems_symbols(spec, final):
    d = D.derive(parse_derive(load_yaml(str(PROBLEMS / spec))))
    algebra = d.solution.in_section("algebra")
    assert algebra and to_text(algebra[-1].formula) == final
    assert "algebra" in d.solution.inline_notes
