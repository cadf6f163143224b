"""The graph-spec expression language: grammar, exact numbers, bounds, and no way into Python."""

from __future__ import annotations

import builtins
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hwsolve.spec import expr as E
import contextlib

from hwsolve.spec.expr import Bin, Call, ExprError, Name, Num, Unary
from hwsolve.topics.rules_spec import expression_functions


def parse(text):
    """The grammar with the rule table's functions, as graph specs read it."""
    return E.parse(text, expression_functions())


def test_precedence_and_associativity():
    assert parse("a - b - c") == Bin("-", Bin("-", Name("a", 1), Name("b", 5)), Name("c", 9))
    assert parse("2^3^2") == Bin("^", Num(2), Bin("^", Num(3), Num(2)))
    # -x^2 is -(x^2), as on paper
    assert parse("-x^2") == Unary("-", Bin("^", Name("x", 2), Num(2)))
    assert parse("a + b * c") == Bin("+", Name("a", 1), Bin("*", Name("b", 5), Name("c", 9)))
    assert parse("(a + b) * c") == Bin("*", Bin("+", Name("a", 2), Name("b", 6)), Name("c", 11))


def test_numbers_are_exact():
    assert parse("0.1") == Num(Fraction(1, 10))
    assert parse("1e-3") == Num(Fraction(1, 1000))
    assert parse("1/3") == Bin("/", Num(1), Num(3))
    assert parse(7) == Num(Fraction(7))
    assert parse(Fraction(1, 2)) == Num(Fraction(1, 2))


def test_calls_and_indexed_names():
    t = parse("leaky_relu(W1[2] * X[1], 0.1)")
    assert isinstance(t, Call) and t.fn == "leaky_relu" and t.args[1] == Num(Fraction(1, 10))
    assert E.names(t) == ["W1[2]", "X[1]"]
    assert E.names(parse("min(X1, H1) + max(H1, X1, Z)")) == ["X1", "H1", "Z"]


@pytest.mark.parametrize("text, message", [
    ("__import__('os')", "not a name"),
    ("x.real", "attribute access"),
    ("(1).__class__", "unexpected character '.'"),
    ("lambda x: x", "'lambda' is Python"),
    ("import os", "'import' is Python"),
    ("x ** 2", "'**' is not an operator"),
    ("'a'", "quotes"),
    ("foo(x)", "unknown function 'foo'"),
    ("eval(x)", "unknown function 'eval'"),
    ("exec(x)", "unknown function 'exec'"),
    ("sigmod(x)", "did you mean 'sigmoid'"),
    ("2x", "write a product with '*'"),
    ("x y", "after a complete expression"),
    ("x +", "found the end"),
    ("(x + y", "')' to close"),
    ("min(x)", "min takes 2 to 16 arguments, got 1"),
    ("exp(x, y)", "exp takes 1 argument, got 2"),
    ("x[0:1]", "index must be letters or digits"),
    ("x = 1", "assignment"),
    ("", "empty expression"),
])
def test_rejected(text, message):
    with pytest.raises(ExprError) as e:
        parse(text)
    assert message in str(e.value)


def test_depth_and_length_bounds():
    deep = "(" * (E.MAX_DEPTH + 1) + "x" + ")" * (E.MAX_DEPTH + 1)
    with pytest.raises(ExprError, match="nested deeper than"):
        parse(deep)
    with pytest.raises(ExprError, match="nested deeper than"):
        parse("-" * (E.MAX_DEPTH + 1) + "x")
    with pytest.raises(ExprError, match="nested deeper than"):
        parse("exp(" * (E.MAX_DEPTH + 1) + "x" + ")" * (E.MAX_DEPTH + 1))
    parse("(" * (E.MAX_DEPTH - 1) + "x" + ")" * (E.MAX_DEPTH - 1))
    with pytest.raises(ExprError, match="characters long"):
        parse("x + " * E.MAX_LENGTH + "x")
    with pytest.raises(ExprError, match="number longer"):
        parse("1" * (E.MAX_DIGITS + 1))


def test_a_float_from_yaml_is_refused():
    with pytest.raises(ExprError, match="as text"):
        parse(0.1)


# -- round trip: print a random tree fully bracketed, parse it back --------------------------

NAMES = st.sampled_from(["x", "y", "W1", "H2", "X[1]", "b_2"])
LEAF = st.one_of(NAMES.map(lambda n: ("name", n)),
                 st.fractions(min_value=0, max_value=50, max_denominator=8).map(lambda q: ("num", q)))


def _node(children):
    return st.one_of(
        st.tuples(st.sampled_from("+-*/^"), children, children).map(lambda t: ("bin",) + t),
        children.map(lambda c: ("neg", c)),
        st.tuples(st.sampled_from(["min", "max"]), st.lists(children, min_size=2, max_size=3))
        .map(lambda t: ("call", t[0], tuple(t[1]))),
        st.tuples(st.sampled_from(["exp", "log", "sqrt", "abs", "sigmoid", "tanh", "relu"]), children)
        .map(lambda t: ("call", t[0], (t[1],))),
    )


TREES = st.recursive(LEAF, _node, max_leaves=12)


def _text(t) -> str:
    kind = t[0]
    if kind == "name":
        return t[1]
    if kind == "num":
        q = t[1]
        return f"({q.numerator}/{q.denominator})" if q.denominator != 1 else str(q.numerator)
    if kind == "neg":
        return f"(-{_text(t[1])})"
    if kind == "bin":
        return f"({_text(t[2])} {t[1]} {_text(t[3])})"
    return f"{t[1]}({', '.join(_text(a) for a in t[2])})"


def _same(t, tree) -> bool:
    kind = t[0]
    if kind == "name":
        return isinstance(tree, Name) and tree.name == t[1]
    if kind == "num":
        if t[1].denominator != 1:
            return tree == Bin("/", Num(Fraction(t[1].numerator)), Num(Fraction(t[1].denominator)))
        return tree == Num(t[1])
    if kind == "neg":
        return isinstance(tree, Unary) and _same(t[1], tree.arg)
    if kind == "bin":
        return isinstance(tree, Bin) and tree.op == t[1] and _same(t[2], tree.left) and _same(t[3], tree.right)
    return (isinstance(tree, Call) and tree.fn == t[1] and len(tree.args) == len(t[2])
            and all(_same(a, b) for a, b in zip(t[2], tree.args, strict=False)))


@settings(max_examples=200, deadline=None)
@given(TREES)
def test_round_trip(t):
    assert _same(t, parse(_text(t)))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_any_text_parses_or_fails_cleanly(text):
    with contextlib.suppress(ExprError):
        parse(text)


# -- no expression text ever reaches Python's eval -------------------------------------------

def test_no_eval_exec_or_sympify(monkeypatch, problems_dir, tmp_path):
    """Parse and solve every graph spec, and a hostile one, with eval/exec/compile and sympy's
    text parsers replaced by traps (after one warm-up run, so that importing modules, which
    legitimately compiles code, is done)."""
    from click.testing import CliRunner

    from hwsolve.cli import main

    runner = CliRunner()
    specs = [str(problems_dir / s) for s in
             ("csci5922_q3b.yaml", "csci5922_q3a_graph.yaml", "nyu2572_1_5b.yaml")]
    bad = tmp_path / "bad.yaml"
    bad.write_text("hwsolve: 1\nkind: graph\ninputs: {x: 1}\nnodes:\n"
                   "  h: \"__import__('os').system('echo pwned')\"\noutput: h\n")
    for spec in specs + [str(bad)]:  # warm-up: imports happen here
        for fmt in ("json", "rich", "latex", "markdown"):
            runner.invoke(main, ["backprop", spec, "--format", fmt])

    calls = []

    def trap(name):
        def f(*a, **k):
            calls.append((name, str(a[:1])[:80]))
            raise RuntimeError(f"{name} was called")
        return f

    import sympy
    import sympy.parsing.sympy_parser as sp

    results = []
    with monkeypatch.context() as m:
        for name in ("eval", "exec", "compile"):
            m.setattr(builtins, name, trap(name))
        m.setattr(sympy, "sympify", trap("sympify"))
        m.setattr(sp, "parse_expr", trap("parse_expr"))
        for spec in specs:
            for fmt in ("json", "rich", "latex", "markdown"):
                r = runner.invoke(main, ["backprop", spec, "--format", fmt])
                results.append((spec, fmt, r.exit_code, r.output[-300:]))
        r = runner.invoke(main, ["backprop", str(bad)])
        results.append(("bad", "rich", r.exit_code, r.output))
    assert calls == []
    assert all(code == 0 for _, _, code, _ in results[:-1]), results
    assert results[-1][2] == 2 and "not a name" in results[-1][3]
