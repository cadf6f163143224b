"""Matrix expressions in graph specs: seed 000 P1 and a softmax classifier (seed 003 Q1) as graphs."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import PROBLEMS
from hwsolve.cli import main
from hwsolve.core import values as T
from hwsolve.core.errors import SpecError
from hwsolve.spec.loader import load_yaml_text
from hwsolve.topics.backprop.graph_compile import compile_graph
from hwsolve.topics.backprop.graph_spec import parse_graph
from hwsolve.topics.backprop.load import load_backprop
from hwsolve.topics.backprop.solve import compile_problem


def run(problem):
    """Forward values and gradients (gradient layout) of a compiled problem, by node name."""
    c = compile_problem(problem)
    c.graph.forward()
    grads = c.graph.gradients(c.loss)
    values = {n.name: n.value for n in c.graph.nodes}
    return values, {n.name: g for n, g in grads.items()}


def graph(text: str):
    return parse_graph(load_yaml_text("hwsolve: 1\nkind: graph\n" + text, "spec.yaml"))


def same_exactly(a: np.ndarray, b: np.ndarray) -> bool:
    return T.is_exact(a) and T.is_exact(b) and a.shape == b.shape and (a == b).all()


# -- seed 000 P1: the layered spec and the graph spec give the same numbers ---------------------

NAMES = {"a1": "a[1]", "z1": "z[1]", "a2": "a[2]", "z2": "z[2]", "a3": "a[3]", "yhat": "yhat", "L": "L"}
PARAMS = {"W1": "W[1]", "b1": "b[1]", "W2": "W[2]", "b2": "b[2]", "W3": "W[3]", "b3": "b[3]"}


def test_seed000_p1_as_a_graph_gives_the_layered_values_exactly():
    net_values, net_grads = run(load_backprop(str(PROBLEMS / "cs4782_p1.yaml")))
    g_values, g_grads = run(load_backprop(str(PROBLEMS / "cs4782_p1_graph.yaml")))
    for mine, theirs in NAMES.items():
        assert same_exactly(g_values[mine], net_values[theirs]), mine
        if mine != "L":
            assert same_exactly(g_grads[mine], net_grads[theirs]), f"dL/d{mine}"
    for mine, theirs in PARAMS.items():
        assert same_exactly(g_values[mine], net_values[theirs]), mine
        assert same_exactly(g_grads[mine], net_grads[theirs]), f"dL/d{mine}"
    assert same_exactly(g_grads["x"], net_grads["z[0]"])
    assert g_values["L"].tolist() == [[4]]        # (10 - 8)^2, by hand from the sheet


def test_seed000_p1_graph_prints_from_the_cli():
    out = CliRunner().invoke(main, ["backprop", str(PROBLEMS / "cs4782_p1_graph.yaml")])
    assert out.exit_code == 0, out.output
    assert "dL/dW1" in out.output and "[[32, 16], [24, 12], [-8, -4]]" in out.output


# -- seed 003 Q1: softmax + cross-entropy classifier, against the closed forms ------------------

CLASSIFIER = """
inputs: {{x: {x}}}
params: {{W1: {W1}, b1: {b1}, V: {V}, c: {c}}}
targets: {{y: {y}}}
nodes:
  z1: W1 @ x + b1
  h: relu(z1)
  z2: V @ h + c
{tail}
"""
PROBS = "  p: softmax(z2)\nloss: cross_entropy(p, y)"          # cross-entropy of probabilities
LOGITS = "loss: softmax_cross_entropy(z2, y)"                    # the fused form, from logits

SMALL = st.integers(-4, 4).map(lambda k: Fraction(k, 2))


def _yaml(a: np.ndarray, column: bool = False) -> str:
    if column:
        return "[" + ", ".join(str(v) for v in a[:, 0]) + "]"
    return "[" + ", ".join("[" + ", ".join(str(v) for v in row) + "]" for row in a) + "]"


@st.composite
def classifiers(draw):
    d, m, k = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(2, 4))

    def mat(r, c):
        return np.array([[draw(SMALL) for _ in range(c)] for _ in range(r)], dtype=object)

    y = np.zeros((k, 1), dtype=object)
    y[draw(st.integers(0, k - 1)), 0] = 1
    return mat(d, 1), mat(m, d), mat(m, 1), mat(k, m), mat(k, 1), y


@settings(max_examples=25, deadline=None)
@given(classifiers(), st.sampled_from([PROBS, LOGITS]))
def test_softmax_classifier_matches_seed003_closed_forms(case, tail):
    x, W1, b1, V, c, y = case
    text = CLASSIFIER.format(x=_yaml(x, True), W1=_yaml(W1), b1=_yaml(b1, True), V=_yaml(V),
                             c=_yaml(c, True), y=_yaml(y, True), tail=tail)
    values, grads = run(graph(text))
    # the closed forms of seed 003 Q1, in plain numpy floats
    xf, Wf, bf, Vf, cf, yf = (a.astype(float) for a in (x, W1, b1, V, c, y))
    z1 = Wf @ xf + bf
    h = np.maximum(z1, 0)
    z2 = Vf @ h + cf
    p = np.exp(z2 - z2.max()) / np.exp(z2 - z2.max()).sum()
    u2 = p - yf
    u1 = (Vf.T @ u2) * (z1 > 0)
    assert np.allclose(T.to_float(values["z2"]), z2)
    assert np.allclose(T.to_float(grads["z2"]), u2)
    assert np.allclose(T.to_float(grads["V"]), u2 @ h.T)
    assert np.allclose(T.to_float(grads["c"]), u2)
    assert np.allclose(T.to_float(grads["z1"]), u1)
    assert np.allclose(T.to_float(grads["W1"]), u1 @ xf.T)
    assert np.allclose(T.to_float(grads["b1"]), u1)
    assert np.isclose(float(values["L"][0, 0]), -np.log(p[yf[:, 0] == 1][0, 0]))


# -- matrix operators, broadcasting, axes -------------------------------------------------------


def test_transpose_sum_mean_and_broadcasting_exact():
    p = graph("""
inputs: {X: [[1, 2, 3], [4, 5, 6]], v: [1, -1]}
params: {r: [[1, 0, 2]]}
nodes:
  S: X + r                    # 2x3 + 1x3: r is added to each row
  C: sum(S * v, axis=0)       # scale row i by v_i, then sum down each column: 1x3
  M: mean(X.T @ v)            # X^T v is 3x1
  J: sum(C) + M ^ 2
output: J
""")
    values, grads = run(p)
    assert values["S"].tolist() == [[2, 2, 5], [5, 5, 8]]
    assert values["C"].tolist() == [[-3, -3, -3]]
    assert values["M"].tolist() == [[-3]]
    assert values["J"].tolist() == [[0]]
    # dJ/dr: each of r's entries is added to both rows, then weighted by v and summed: 1 - 1 = 0
    assert grads["r"].tolist() == [[0, 0, 0]]
    # dJ/dX = v 1^T (from C) + 2 M / 3 v 1^T (from M) = (1 - 2) v 1^T
    assert grads["X"].tolist() == [[-1, -1, -1], [1, 1, 1]]
    assert all(T.is_exact(g) for g in grads.values())


def test_reshape_flatten_minimum_and_functions_on_matrices():
    p = graph("""
inputs: {A: [[1, -2], [3, -4], [5, 6]]}
nodes:
  F: flatten(A)               # row by row: [1, -2, 3, -4, 5, 6]
  R: reshape(F, 2, 3)
  Q: maximum(relu(R), 2) - minimum(abs(R), 3)
  J: sum(Q)
output: J
""")
    values, grads = run(p)
    assert values["F"][:, 0].tolist() == [1, -2, 3, -4, 5, 6]
    assert values["R"].tolist() == [[1, -2, 3], [-4, 5, 6]]
    assert values["Q"].tolist() == [[1, 0, 0], [-1, 2, 3]]
    # entry by entry d max(relu(r), 2)/dr - d min(|r|, 3)/dr, for R = [[1, -2, 3], [-4, 5, 6]]:
    # [[0 - 1, 0 + 1, 1 - 1], [0 - 0, 1 - 0, 1 - 0]] (|3| = 3 ties: the first operand takes it),
    # then read back row by row into A's 3x2 shape
    assert grads["A"].tolist() == [[-1, 1], [0, 0], [1, 1]]


def test_scalar_specs_keep_the_scalar_rules():
    from hwsolve.autodiff import ops

    c = compile_graph(load_backprop(str(PROBLEMS / "csci5922_q3b.yaml")))
    kinds = {type(n.op) for n in c.graph.nodes if n.op is not None}
    assert kinds <= {ops.Sum, ops.Product, ops.Quotient, ops.Extremum, ops.Function, ops.LossOp,
                     ops.Identity}


@pytest.mark.parametrize("body, message", [
    ("inputs: {x: [1, 2, 3]}\nparams: {W1: [[1, 2], [3, 4]]}\nnodes:\n  a1: W1 @ x\noutput: a1\n",
     "node 'a1': W1 @ x needs W1's columns (2) = x's rows (3)"),
    ("inputs: {x: [1, 2, 3]}\nparams: {b: [1, 2]}\nnodes:\n  a: x + b\noutput: a\n",
     "node 'a': the terms have shapes 3x1, 2x1, which do not broadcast"),
    ("inputs: {x: [1, 2]}\nnodes:\n  s: sum(x, axis=2)\noutput: s\n",
     "node 's': axis=2 does not exist: the operand is 2x1"),
    ("inputs: {x: [1, 2]}\nnodes:\n  s: relu(x, axis=0)\noutput: s\n",
     "node 's': relu takes no axis="),
    ("inputs: {x: [1, 2]}\nnodes:\n  s: reshape(x, 3)\noutput: s\n",
     "node 's': cannot reshape 2x1 (2 entries) to 3x1"),
    ("inputs: {x: [1, 2], k: 2}\nnodes:\n  s: x ^ k\noutput: s\n",
     "node 's': a vector or matrix can be raised to a number only"),
    ("inputs: {x: [[1, 2], [3]]}\nnodes:\n  s: sum(x)\noutput: s\n",
     "a matrix needs rows of one same, nonzero length"),
    ("inputs: {x: [1, [2]]}\nnodes:\n  s: sum(x)\noutput: s\n", "mix of numbers and lists"),
    ("inputs: {x: [1, 2]}\ntargets: {y: [1, 0, 0]}\nnodes:\n  p: softmax(x)\n"
     "loss: cross_entropy(p, y)\n", "the probabilities and the target must have the same shape"),
    ("inputs: {x: [1, 2]}\ntargets: {y: [1, 0, 0]}\nnodes:\n  p: softmax(x)\nloss: mse\n",
     "the prediction p is 2x1 but the target y is 3x1"),
    ("inputs: {x: [1, 2]}\ntargets: {y: [1, 0]}\nloss: (x - y)^2\nnodes:\n  p: x\n",
     "'L' is 2x1: the value differentiated must be a number (1x1); reduce it first"),
    ("inputs: {x: [1, 2]}\nnodes:\n  p: 2 * x\noutput: p\n", "'p' is 2x1"),
])
def test_shape_errors_are_one_line_naming_node_and_shapes(body, message):
    with pytest.raises(SpecError) as e:
        compile_graph(graph(body))
    assert message in str(e.value)
    assert "\n" not in str(e.value)


# -- the grammar --------------------------------------------------------------------------------


def test_grammar_matrix_product_transpose_and_axis():
    from hwsolve.spec.expr import Bin, Call, ExprError, Name, parse
    from hwsolve.topics.rules_spec import expression_functions as graph_functions

    fns = graph_functions()
    assert parse("W1 @ x + b1", fns) == Bin("+", Bin("@", Name("W1", 1), Name("x", 6)), Name("b1", 10))
    # @ binds like *, tighter than +; .T binds tighter than everything
    assert parse("a * B @ c", fns) == Bin("@", Bin("*", Name("a", 1), Name("B", 5)), Name("c", 9))
    assert parse("(a + b).T", fns) == Call("transpose", (Bin("+", Name("a", 2), Name("b", 6)),), 8)
    assert parse("x.T^2", fns) == Bin("^", Call("transpose", (Name("x", 1),), 2), parse("2"))
    assert parse("sum(x, axis=0)", fns).kwargs == (("axis", 0),)
    assert parse("softmax(z, axis=-1)", fns).kwargs == (("axis", -1),)
    for bad, message in [("x.Tx", "attribute access"), ("x = 1", "assignment"),
                         ("sum(axis=0, x)", "positional argument after a keyword"),
                         ("sum(x, foo=1)", "unknown keyword argument 'foo'"),
                         ("sum(x, axis=y)", "axis= takes a whole number"),
                         ("x.__class__", "attribute access"), ("2.T", "write a product"),
                         ("sum(x, axis=0, axis=1)", "given twice")]:
        with pytest.raises(ExprError, match=message):
            parse(bad, fns)


def test_every_table_function_is_callable_in_a_graph_spec():
    from hwsolve.autodiff.functions import ELEMENTWISE
    from hwsolve.topics.rules_spec import expression_functions as graph_functions

    assert set(ELEMENTWISE) - {"identity"} <= set(graph_functions())


def test_seed000_p1_with_the_loss_as_a_matrix_expression():
    """loss: sum((y - yhat)^2) through Add, ElementPower and Reduce gives the library loss's numbers."""
    text = (PROBLEMS / "cs4782_p1_graph.yaml").read_text().replace(
        "loss: {type: squared_error, prediction: yhat, target: y}", "loss: sum((y - yhat)^2)")
    assert "sum((y - yhat)^2)" in text
    values, grads = run(parse_graph(load_yaml_text(text, "p1.yaml")))
    ref_values, ref_grads = run(load_backprop(str(PROBLEMS / "cs4782_p1_graph.yaml")))
    assert values["L"].tolist() == [[4]]
    for name in ("yhat", "a1", "z2", *PARAMS, "x"):
        assert same_exactly(grads[name], ref_grads[name]), name


def test_convolution_and_pooling_are_functions_of_graph_expressions():
    """conv2d and maxpool inside a graph spec: the same one loop, checked by hand.
    C = X correlated with K; P = max of C (the first of two 5s, at (0, 2)); L = (P - 3)^2."""
    from hwsolve.topics import load_and_solve

    _, sol = load_and_solve(str(PROBLEMS / "graph_conv_pool.yaml"))
    assert sol.step("C").value == ((-1, 4, 5), (3, 0, 3), (3, 0, 5))
    assert sol.step("P").value == 5
    assert sol.step("dL/dC").value == ((0, 0, 4), (0, 0, 0), (0, 0, 0))
    assert sol.step("dL/dK").value == ((0, 4), (12, 8))          # 4 * X[0:2, 2:4]
    dX = [[0] * 4 for _ in range(4)]
    for u, row in enumerate(((1, -1), (2, 0))):                   # 4 * K placed at (0, 2)
        for v, k in enumerate(row):
            dX[u][2 + v] += 4 * k
    assert sol.step("dL/dX").value == tuple(map(tuple, dX))


def test_a_kernel_larger_than_the_input_is_one_located_line(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text("hwsolve: 1\nkind: graph\ninputs: {X: [[1, 2], [3, 4]]}\n"
                    "params: {K: [[1, 1, 1], [1, 1, 1], [1, 1, 1]]}\n"
                    "nodes:\n  C: sum(conv2d(X, K))\noutput: C\n")
    from click.testing import CliRunner

    from hwsolve.cli import main

    r = CliRunner().invoke(main, ["backprop", str(spec)])
    assert r.exit_code == 2 and "larger than the padded input" in r.output and "bad.yaml:6" in r.output
