"""The printers bracket by precedence: printed trees read back as the same tree (issue 13, item 1)."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hwsolve.topics.rules_spec import expression_functions
from hwsolve.core.sym import Apply, Const, Symbol, call, to_latex, to_text
from hwsolve.spec import expr as E
from hwsolve.spec.display import parse_display

FUNCTIONS = {"ReLU'": r"\operatorname{ReLU}'", "sigma": r"\sigma", "diag": r"\operatorname{diag}",
             "exp": r"\exp", "log": r"\log", "tanh": r"\tanh"}
NAMES = ["x", "y", "p", "V", "W[1]", "z_2", "yhat", "b1"]


def _relu_prime(x):
    return call("ReLU'", FUNCTIONS["ReLU'"], x)


def test_elementwise_then_matrix_product_is_bracketed():
    # seed 003 Q1: dL/dW = ((V^T (p - y)) ⊙ ReLU'(z)) x^T; unbracketed it reads as a dimension error
    V, p, y, z, x = (Symbol(n) for n in "Vpyzx")
    e = ((V.T @ (p - y)).odot(_relu_prime(z))) @ x.T
    assert to_text(e) == "((V^T (p - y)) ⊙ ReLU'(z)) x^T"
    assert to_latex(e) == (r"\left(\left(V^\top \left(p - y\right)\right) \odot "
                           r"\operatorname{ReLU}'\left(z\right)\right) x^\top")
    assert parse_display(to_text(e), FUNCTIONS) == e


def test_same_kind_products_chain_without_brackets():
    a, b, c = Symbol("a"), Symbol("b"), Symbol("c")
    assert to_text(a @ b @ c) == "a b c"
    assert to_text(a.odot(b).odot(c)) == "a ⊙ b ⊙ c"
    assert to_text(a * b / c) == "a * b / c"
    assert to_text((a * b) @ c) == "(a * b) c"
    assert to_text(a.odot(b @ c)) == "a ⊙ (b c)"


# -- random trees of the whole display language -----------------------------------------------

_leaf = st.one_of(st.sampled_from(NAMES).map(Symbol), st.integers(0, 9).map(Const))


def _grow(children):
    binary = st.tuples(st.sampled_from(["add", "sub", "mul", "div", "matmul", "hadamard", "hdiv"]),
                       children, children).map(lambda t: Apply(t[0], (t[1], t[2])))
    unary = st.tuples(st.sampled_from(["neg", "T", "norm2"]), children).map(lambda t: Apply(t[0], (t[1],)))
    power = st.tuples(children, st.one_of(st.integers(0, 4).map(Const), st.sampled_from(NAMES).map(Symbol))) \
        .map(lambda t: Apply("pow", t))
    calls = st.tuples(st.sampled_from(sorted(FUNCTIONS)), children).map(lambda t: call(t[0], FUNCTIONS[t[0]], t[1]))
    return st.one_of(binary, unary, power, calls)


display_trees = st.recursive(_leaf, _grow, max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(display_trees)
def test_text_round_trips_through_the_display_grammar(tree):
    assert parse_display(to_text(tree), FUNCTIONS) == tree


def _latex_groups_balance(s: str) -> bool:
    return s.count(r"\left") == s.count(r"\right") and s.count("{") == s.count("}")


@settings(max_examples=200, deadline=None)
@given(display_trees)
def test_latex_brackets_where_text_does(tree):
    # every bracket the text needs is in the LaTeX too (LaTeX adds none of its own except \frac)
    text, latex = to_text(tree), to_latex(tree)
    assert _latex_groups_balance(latex)
    assert latex.count(r"\left(") >= text.count("(") - sum(1 for _ in _calls(tree)) - _fraction_brackets(tree)


def _calls(tree):
    if isinstance(tree, Apply):
        if tree.op == "call":
            yield tree
        for a in tree.args:
            yield from _calls(a)


def _fraction_brackets(tree) -> int:
    """Brackets text needs around a quotient's operands that LaTeX's \\frac makes unnecessary."""
    if not isinstance(tree, Apply):
        return 0
    own = 2 if tree.op == "div" else 0
    return own + sum(_fraction_brackets(a) for a in tree.args)


# -- the scalar part, through the graph-spec grammar (spec/expr.py) ----------------------------

_SPEC_FUNCTIONS = {"exp": r"\exp", "log": r"\log", "tanh": r"\tanh", "sigmoid": r"\sigma"}


def _from_spec(node):
    """spec.expr's tree as a core.sym tree, so the two can be compared."""
    if isinstance(node, E.Num):
        return Const(node.value)
    if isinstance(node, E.Name):
        return Symbol(node.name)
    if isinstance(node, E.Unary):
        return Apply("neg", (_from_spec(node.arg),))
    if isinstance(node, E.Bin):
        op = {"+": "add", "-": "sub", "*": "mul", "/": "div", "^": "pow"}[node.op]
        return Apply(op, (_from_spec(node.left), _from_spec(node.right)))
    return call(node.fn, _SPEC_FUNCTIONS[node.fn], *(_from_spec(a) for a in node.args))


_scalar_leaf = st.sampled_from(["x", "y", "W1", "b1", "yhat"]).map(Symbol)


def _grow_scalar(children):
    binary = st.tuples(st.sampled_from(["add", "sub", "mul", "div"]), children, children) \
        .map(lambda t: Apply(t[0], (t[1], t[2])))
    neg = children.map(lambda c: Apply("neg", (c,)))
    power = st.tuples(children, st.integers(0, 4).map(lambda k: Const(Fraction(k)))).map(lambda t: Apply("pow", t))
    calls = st.tuples(st.sampled_from(sorted(_SPEC_FUNCTIONS)), children) \
        .map(lambda t: call(t[0], _SPEC_FUNCTIONS[t[0]], t[1]))
    return st.one_of(binary, neg, power, calls)


@settings(max_examples=300, deadline=None)
@given(st.recursive(_scalar_leaf, _grow_scalar, max_leaves=12))
def test_scalar_text_round_trips_through_the_spec_grammar(tree):
    assert _from_spec(E.parse(to_text(tree), expression_functions())) == tree


@pytest.mark.parametrize("text", ["a ⊙ (b", "||x|| ^ 3", "f(x", "x ^", "x $ y"])
def test_display_grammar_rejects_broken_text(text):
    with pytest.raises(E.ExprError):
        parse_display(text)


def test_seed000_p1_2_sequence_brackets_the_elementwise_product_before_z_transpose():
    # the bug of issue 13 in a real derivation: dL/dW[2] = (... ⊙ ReLU'(a[2])) z[1]^T
    from conftest import PROBLEMS
    from hwsolve.spec.loader import load_yaml
    from hwsolve.topics.derive import solve as D
    from hwsolve.topics.derive.spec import parse_derive

    d = D.derive(parse_derive(load_yaml(str(PROBLEMS / "cs4782_p1_2_sym.yaml"))))
    step = next(s for s in d.solution.in_section("backward") if s.name == "dL/dW[2]")
    text = to_text(step.expression)
    assert text == "((W[3]^T * (2(yhat - y) * ReLU'(a[3]))) ⊙ ReLU'(a[2])) z[1]^T"
    assert parse_display(text, FUNCTIONS) == _text_only(step.expression)
    assert D.check(parse_derive(load_yaml(str(PROBLEMS / "cs4782_p1_2_sym.yaml"))))[0] < 1e-9


def _text_only(e):
    """The tree with each name's LaTeX dropped: the text printer does not print it."""
    if isinstance(e, Symbol):
        return Symbol(e.text)
    if isinstance(e, Apply):
        return Apply(e.op, tuple(_text_only(a) for a in e.args), e.fn)
    return e
