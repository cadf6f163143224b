"""derive's check, two independent ways (issue 13, "Checked by"): every formula against the numeric
engine in exact rationals where the network allows (floats only where a function demands), and every
final gradient against central finite differences of the loss, entry by entry."""

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hwsolve.core.errors import HwsolveError
from hwsolve.spec.loader import load_yaml, load_yaml_text
from hwsolve.topics.derive import solve as D
from hwsolve.topics.derive.spec import parse_derive

from conftest import PROBLEMS


def problem(layers: str, loss: str, layout: str = "gradient"):
    text = f"hwsolve: 1\nkind: derive\nlayout: {layout}\ninput: n\nlayers:\n{layers}\nloss: {loss}\n"
    return parse_derive(load_yaml_text(text, "t.yaml"))


RATIONAL = ["relu", "'5 * relu'", "leaky_relu", "identity"]      # rationals map to rationals
SMOOTH = ["sigmoid", "tanh"]                                       # exp: floats


def _entries(d) -> int:
    return sum(n.value.size for n in d.c.graph.nodes if n.kind in ("param", "input"))


@settings(max_examples=25, deadline=None)
@given(hidden=st.sampled_from(RATIONAL), loss=st.sampled_from(["squared_error", "half_mse", "mse"]),
       layout=st.sampled_from(["gradient", "numerator"]), seed=st.integers(0, 50))
def test_a_rational_network_is_checked_exactly(hidden, loss, layout, seed):
    p = problem(f"  - linear: {{out: d}}\n  - {hidden}\n  - linear: {{out: K}}\n  - identity", loss, layout)
    d = D.derive(p, seed)
    worst, count = D.check(p, d, seed)
    assert d.exact_checks == count > 20     # each comparison an equality of Fractions...
    assert worst == 0.0                     # ...so no difference at all, not a small one
    # and the finite differences ran over every entry of every parameter and the input, unless a ReLU's
    # input sat exactly at 0 at this draw (a kink, where a difference quotient means nothing)
    assert d.fd_entries == (0 if d.fd_skipped else _entries(d))


@pytest.mark.parametrize("hidden", SMOOTH)
@pytest.mark.parametrize("head,loss", [("softmax", "cross_entropy"), ("sigmoid", "bce")])
def test_exp_and_log_are_checked_in_floats_and_by_finite_differences(hidden, head, loss):
    p = problem(f"  - linear: {{out: d}}\n  - {hidden}\n  - linear: {{out: K}}\n  - {head}", loss)
    d = D.derive(p)
    worst, count = D.check(p, d)
    assert d.exact_checks == 0 and 0 < worst < 1e-9 and count > 20
    assert not d.fd_skipped and d.fd_entries == _entries(d) and d.fd_worst < 1e-6


def _captured_env(p, d) -> dict:
    """The values check evaluates the derivation at (captured as finite differences start)."""
    seen: dict = {}
    real = D._finite_differences
    D._finite_differences = lambda d, env: seen.update(env)
    try:
        D.check(p, d)
    finally:
        D._finite_differences = real
    return seen


@pytest.mark.parametrize("layout", ["gradient", "numerator"])
def test_finite_differences_catch_a_gradient_the_engine_would_share(layout):
    """A gradient off by a factor would fool a comparison with the same backward rules; the loss's
    own difference quotients do not share them."""
    p = problem("  - linear: {out: d}\n  - tanh\n  - linear: {out: K}\n  - softmax", "cross_entropy", layout)
    d = D.derive(p)
    env = _captured_env(p, d)
    D._finite_differences(d, dict(env))          # as derived: agrees
    g = d.c.graph
    W = next(n for n in g.nodes if n.kind == "param" and n.value.ndim == 2)
    wrong = dict(env)
    wrong[g.grad_symbol(W).text] = 2 * np.asarray(env[g.grad_symbol(W).text], dtype=float)
    with pytest.raises(HwsolveError, match="central finite differences"):
        D._finite_differences(d, wrong)


def test_exact_evaluation_keeps_fractions():
    from hwsolve.core.sym import Const, Symbol
    from hwsolve.topics.derive.numeric import EXACT, evaluate

    env = {EXACT: True, "x": D.to_matrix([Fraction(1, 3), Fraction(-2, 5)], True)}
    got = evaluate(Const(1) / Const(3) * Symbol("x") + Const(1), env, {})
    assert got.tolist() == [[Fraction(10, 9)], [Fraction(13, 15)]]     # 1/3 stays 1/3, not 0.333...


@pytest.mark.parametrize("stem", ["csc6022_q1", "csc6022_q2", "nyu2572_1_2_sym", "nyu2572_1_3a_sym",
                                  "nyu2572_1_3b_sym", "cs4782_p1_2_sym"])
def test_every_derive_spec_says_how_it_was_checked(stem):
    sol = D.solve(parse_derive(load_yaml(PROBLEMS / f"{stem}.yaml")))
    note = next(n for n in sol.notes if n.startswith("Checked, not trusted"))
    assert "central finite differences of the loss" in note
    exact = stem in ("nyu2572_1_2_sym", "cs4782_p1_2_sym")     # 5 ReLU / identity / squared error: rational
    assert ("agree exactly (rational arithmetic)" in note) == exact
