"""The vanilla RNN and one attention head as network layers (issue 12): `type: rnn` and
`type: attention` compile into the rules of autodiff/layer_ops.py and go through the one backward
loop. Every gradient against central differences of a separate plain-numpy implementation (a
direct loop over the time steps; attention written out), the new row and stack rules against
exact central differences, the worked specs in every format, and bad input as one line."""

from __future__ import annotations

import textwrap
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from conftest import backprop_error_line
from hwsolve.autodiff.layer_ops import SequenceRow, StackRows
from hwsolve.render import json_out, latex, markdown
from hwsolve.spec.loader import load_yaml_text
from hwsolve.topics import load_and_solve, parse
from hwsolve.topics.backprop.solve import compile_problem
from conftest import PROBLEMS
from test_layer_ops import exact_array, numeric_grad

SMALL = settings(max_examples=12, deadline=None)


def _rows(a) -> str:
    return "[" + ", ".join("[" + ", ".join(str(Fraction(v)) if Fraction(v).denominator == 1 else f'"{Fraction(v)}"'
                                           for v in row) + "]" for row in np.atleast_2d(a)) + "]"


def _compiled(text: str):
    c = compile_problem(parse(load_yaml_text(textwrap.dedent(text), "seq.yaml")))
    c.graph.forward()
    return c, {n.name: g for n, g in c.graph.gradients(c.loss).items()}


def _central(loss, arrays: dict, h: float = 1e-6) -> dict:
    """d loss / d every entry of every array, by central differences of `loss(**arrays)`."""
    out = {}
    for name, base in arrays.items():
        grad = np.zeros_like(base)
        for idx in np.ndindex(base.shape):
            up, down = dict(arrays), dict(arrays)
            up[name], down[name] = base.copy(), base.copy()
            up[name][idx] += h
            down[name][idx] -= h
            grad[idx] = (loss(**up) - loss(**down)) / (2 * h)
        out[name] = grad
    return out


def _check(grads: dict, want: dict, names: dict) -> None:
    for key, name in names.items():
        got = np.asarray(grads[name], dtype=float).reshape(want[key].shape)
        assert np.allclose(got, want[key], atol=1e-6), (name, got, want[key])


def _halves(draw, shape):
    return np.array([draw(st.integers(-3, 3)) / 2 for _ in range(int(np.prod(shape)))]).reshape(shape)


# -- the two new rules: exact (they only move entries) ----------------------------------------------


@SMALL
@given(st.data())
def test_sequence_row_and_stack_rows_are_exact(data):
    steps, d = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 3))
    x = exact_array(data.draw, (steps, d))
    t = data.draw(st.integers(0, steps - 1))
    g = exact_array(data.draw, (d, 1))
    row = SequenceRow(t)
    assert (row.forward([x])[:, 0] == x[t]).all()
    assert (row.vjp(0, g, [x], row.forward([x])) == numeric_grad(row, [x], 0, g, Fraction(1, 3))).all()
    hs = [exact_array(data.draw, (d, 1)) for _ in range(steps)]
    stack = StackRows()
    out = stack.forward(hs)
    assert out.shape == (steps, d) and all((out[k] == hs[k][:, 0]).all() for k in range(steps))
    up = exact_array(data.draw, (steps, d))
    for i in range(steps):
        assert (stack.vjp(i, up, hs, out) == numeric_grad(stack, hs, i, up, Fraction(1, 3))).all()


# -- the RNN layer against a direct loop ------------------------------------------------------------


def rnn_loss(x, w_hh, w_xh, b, h0, w, c, y, output):
    h, states = h0, []
    for t in range(x.shape[0]):   # h<t> = tanh(W_hh h<t-1> + W_xh x<t> + b), one step a row of x
        h = np.tanh(w_hh @ h + w_xh @ x[t].reshape(-1, 1) + b)
        states.append(h)
    z = h if output == "last" else np.concatenate([s.ravel() for s in states]).reshape(-1, 1)
    return 0.5 * float(((w @ z + c - y) ** 2).sum())


@SMALL
@given(st.data(), st.sampled_from(["last", "all"]))
def test_an_rnn_layer_matches_backprop_through_time_by_finite_differences(data, output):
    steps, d, hidden = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 2)), data.draw(st.integers(1, 2))
    x, w_hh = _halves(data.draw, (steps, d)), _halves(data.draw, (hidden, hidden))
    w_xh = _halves(data.draw, (hidden, d))
    b, h0 = _halves(data.draw, (hidden, 1)), _halves(data.draw, (hidden, 1))
    width = hidden if output == "last" else steps * hidden
    w, c, y = _halves(data.draw, (1, width)), _halves(data.draw, (1, 1)), _halves(data.draw, (1, 1))
    comp, grads = _compiled(f"""\
        hwsolve: 1
        kind: network
        input: {_rows(x)}
        layers:
          - {{type: rnn, W_hh: {_rows(w_hh)}, W_xh: {_rows(w_xh)}, b: {_rows(b.T)}, h0: {_rows(h0.T)},
             output: {output}}}
          {"- flatten" if output == "all" else ""}
          - {{type: linear, W: {_rows(w)}, b: {_rows(c)}}}
        target: {_rows(y)}
        loss: half_squared_error
        """)
    arrays = {"x": x, "w_hh": w_hh, "w_xh": w_xh, "b": b, "h0": h0, "w": w, "c": c}
    assert np.isclose(float(comp.loss.val[0, 0]), rnn_loss(**arrays, y=y, output=output))
    want = _central(lambda **a: rnn_loss(**a, y=y, output=output), arrays)
    _check(grads, want, {"x": "x", "w_hh": "W_hh[1]", "w_xh": "W_xh[1]", "b": "b[1]", "h0": "h<0>",
                         "w": "W[2]", "c": "b[2]"})   # the dense layer is number 2: flatten has none


# -- the attention layer against its formulas written out -----------------------------------------


def attention_loss(x, w_q, w_k, w_v, w, c, y, mask):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    s = np.where(mask, q @ k.T / np.sqrt(w_q.shape[1]), -np.inf)
    a = np.exp(s - s.max(axis=1, keepdims=True))
    a = a / a.sum(axis=1, keepdims=True)
    return 0.5 * float(((w @ (a @ v).reshape(-1, 1) + c - y) ** 2).sum())


@SMALL
@given(st.data(), st.sampled_from(["none", "causal", "given"]))
def test_an_attention_layer_matches_finite_differences(data, masking):
    steps, d, d_k, d_v = (data.draw(st.integers(1, 3)) for _ in range(4))
    x = _halves(data.draw, (steps, d))
    w_q, w_k, w_v = _halves(data.draw, (d, d_k)), _halves(data.draw, (d, d_k)), _halves(data.draw, (d, d_v))
    w, c, y = _halves(data.draw, (1, steps * d_v)), _halves(data.draw, (1, 1)), _halves(data.draw, (1, 1))
    mask = np.ones((steps, steps), dtype=bool)
    text = ""
    if masking == "causal":
        mask, text = np.tril(mask), "mask: causal, "
    elif masking == "given":
        mask = np.array([data.draw(st.booleans()) for _ in range(steps * steps)]).reshape(steps, steps)
        mask[np.arange(steps), np.arange(steps)] = True    # every query may see itself
        text = f"mask: {_rows(mask.astype(int))}, "
    comp, grads = _compiled(f"""\
        hwsolve: 1
        kind: network
        input: {_rows(x)}
        layers:
          - {{type: attention, {text}W_q: {_rows(w_q)}, W_k: {_rows(w_k)}, W_v: {_rows(w_v)}}}
          - flatten
          - {{type: linear, W: {_rows(w)}, b: {_rows(c)}}}
        target: {_rows(y)}
        loss: half_squared_error
        """)
    arrays = {"x": x, "w_q": w_q, "w_k": w_k, "w_v": w_v, "w": w, "c": c}
    assert np.isclose(float(comp.loss.val[0, 0]), attention_loss(**arrays, y=y, mask=mask))
    want = _central(lambda **a: attention_loss(**a, y=y, mask=mask), arrays)
    _check(grads, want, {"x": "x", "w_q": "W_q[1]", "w_k": "W_k[1]", "w_v": "W_v[1]", "w": "W[2]", "c": "b[2]"})


STACKED = """\
        hwsolve: 1
        kind: network
        input: [[1, 0], [0, 1]]
        layers:
          - {type: attention, W_q: [[1], [0]], W_k: [[0], [1]], W_v: [[1, 0], [0, 1]]}
          - {type: rnn, W_hh: [[0]], W_xh: [[1, -1]], output: all}
          - {type: rnn, name: g, W_hh: [[1/2]], W_xh: [[1]]}
          - {type: linear, W: [[2]]}
        target: [1]
        loss: half_squared_error
        """


def test_a_stacked_rnn_over_attention_names_its_rows_by_the_layer_below():
    """attention then an rnn with output: all, then another rnn: one graph, one backward pass."""
    from hwsolve.topics.backprop.solve import solve

    comp, grads = _compiled(STACKED)
    names = {n.name for n in comp.graph.nodes}
    assert {"att[1]<1>", "h<2>", "H[2]", "H[2]<1>", "a_g<2>", "g<2>", "W_hh[3]"} <= names
    assert "W_hh[3]" in grads and "x" in grads
    tex = latex.render(solve(parse(load_yaml_text(textwrap.dedent(STACKED), "seq.yaml"))), 4)
    assert r"{\mathrm{att}^{[1]}}^{\langle 2 \rangle}" in tex and "]}^{\\langle" not in tex   # one superscript each


# -- the worked specs -----------------------------------------------------------------------------


def test_the_worked_rnn_spec_prints_backprop_through_time_and_matches_the_loop():
    _, sol = load_and_solve(str(PROBLEMS / "network_rnn.yaml"))
    names = [s.name for s in sol.steps]
    for t in (1, 2, 3):
        assert f"dL/dW_hh[1] via a<{t}>" in names and f"h<{t}>" in names
    x = np.array([[1, 0], [0, 1], [1, -1]], float)
    arrays = {"x": x, "w_hh": np.array([[0.5, -0.25], [0, 0.5]]), "w_xh": np.array([[1, 0], [-1, 0.5]]),
              "b": np.array([[0], [0.25]]), "h0": np.zeros((2, 1)), "w": np.array([[1.0, -1]]),
              "c": np.array([[0.5]])}
    want = _central(lambda **a: rnn_loss(**a, y=np.array([[1.0]]), output="last"), arrays)
    assert np.isclose(sol.step("L").value, rnn_loss(**arrays, y=np.array([[1.0]]), output="last"))
    for key, name in (("w_hh", "dL/dW_hh[1]"), ("w_xh", "dL/dW_xh[1]"), ("b", "dL/db[1]"), ("x", "dL/dx")):
        assert np.allclose(np.array(sol.step(name).value, float).reshape(want[key].shape), want[key], atol=1e-6)
    terms = sum(np.array(sol.step(f"dL/dW_hh[1] via a<{t}>").value, float) for t in (1, 2, 3))
    assert np.allclose(terms, np.array(sol.step("dL/dW_hh[1]").value, float))   # the sum over time
    assert r"x^{\langle t \rangle}" in latex.render(sol, 4)   # the note's step names typeset


def test_the_worked_attention_spec_prints_every_step():
    _, sol = load_and_solve(str(PROBLEMS / "network_attention.yaml"))
    for name in ("Q[1]", "K[1]", "V[1]", "A[1]", "att[1]", "dL/dA[1]", "dL/dQ[1]", "dL/dK[1]", "dL/dV[1]",
                 "dL/dW_q[1]", "dL/dW_k[1]", "dL/dW_v[1]", "dL/dx"):
        sol.step(name)
    weights = np.array(sol.step("A[1]").value, float)
    assert np.allclose(np.triu(weights, 1), 0) and np.allclose(weights.sum(axis=1), 1)   # causal, rows sum to 1
    for render in (json_out.render, markdown.render, latex.render):
        assert render(sol, 4)


# -- bad input: one line naming the key, exit code 2 ------------------------------------------------

SEQ = "hwsolve: 1\nkind: network\ninput: [[1, 0], [0, 1], [1, 1]]\ntarget: [1]\nloss: mse\nlayers:\n"
RNN = "  - {type: rnn, W_hh: [[1, 0], [0, 1]], W_xh: [[1, 0], [0, 1]]%s}\n  - {type: linear, W: [[1, 1]]}\n"
ATT = ("  - {type: attention, W_q: [[1], [0]], W_k: [[0], [1]], W_v: [[1], [1]]%s}\n  - flatten\n"
       "  - {type: linear, W: [[1, 1, 1]]}\n")
BAD = [
    (SEQ + ATT % ", mask: [[1, 0], [1, 1]]",
     "layers[0].mask: the mask is 2x2: expected 3x3 (queries x keys: one row and one column per token)"),
    (SEQ + ATT % ", mask: [[1, 0, 0], [0, 0, 0], [1, 1, 1]]", "layers[0].mask: row 2 of the mask hides every key"),
    (SEQ + ATT % ", mask: [[1, 0, 0], [1, 2, 0], [1, 1, 1]]", "layers[0].mask: expected 1s (may attend) and 0s"),
    (SEQ.replace("[[1, 0], [0, 1], [1, 1]]", "[]") + RNN % "", "input: the input holds an empty list"),
    (SEQ.replace("[[1, 0], [0, 1], [1, 1]]", "[[]]") + RNN % "", "sequence of length 0"),
    (SEQ + RNN.replace("W_xh: [[1, 0], [0, 1]]", "W_xh: [[1, 0, 1], [0, 1, 1]]") % "",
     "layers[0].W_xh: W_xh has 3 columns but each step of this layer's input has 2 values"),
    (SEQ + RNN.replace("W_hh: [[1, 0], [0, 1]]", "W_hh: [[1, 0, 0], [0, 1, 0]]") % "",
     "layers[0].W_hh: W_hh is 2x3: expected a square matrix (hidden x hidden)"),
    (SEQ + RNN.replace("W_xh: [[1, 0], [0, 1]]", "W_xh: [[1, 0]]") % "", "layers[0].W_xh: W_xh has 1 rows: expected 2"),
    (SEQ + RNN % ", b: [1, 2, 3]", "layers[0].b: b has 3 values: expected 2, one bias per hidden unit"),
    (SEQ + RNN % ", h0: [1]", "layers[0].h0: h0 has 1 value: expected 2"),
    (SEQ + RNN % ", output: first", "layers[0].output"),
    (SEQ + RNN % ", W: [[1]]", "layers[0].W: 'W' belongs to a linear layer, not rnn (its weights are W_hh and W_xh)"),
    (SEQ + ATT.replace("W_k: [[0], [1]]", "W_k: [[0, 1], [1, 0]]") % "", "layers[0].W_k: W_k is 2x2: expected 2x1"),
    (SEQ + ATT.replace("W_v: [[1], [1]]", "W_v: [[1]]") % "", "layers[0].W_v: W_v has 1 rows: expected 2"),
    (SEQ + ATT.replace("W_q: [[1], [0]], W_k: [[0], [1]]", "W_q: [[1]], W_k: [[0]]").replace("W_v: [[1], [1]]",
                                                                                                "W_v: [[1]]") % "",
     "layers[0].W_q: W_q has 1 rows but each token of this layer's input has 2 values"),
    (SEQ + "  - {type: attention, W_q: [[1], [0]], W_v: [[1], [1]]}\n", "layers[0]: an attention layer needs W_q"),
    (SEQ.replace("[[1, 0], [0, 1], [1, 1]]", "[[[1, 0], [0, 1]], [[1, 1], [0, 0]]]") + RNN % "",
     "layers[0]: an rnn layer reads a sequence (T x d: one step a row), and this layer's input is 2x2x2"),
    (SEQ + "  - rnn\n", "a rnn layer needs its settings"),
    (SEQ.replace("[[1, 0], [0, 1], [1, 1]]", "[" + ", ".join(["1"] * 301) + "]")
     + "  - {type: attention, W_q: [[1]], W_k: [[1]], W_v: [[1]]}\n",
     "layers[0]: this layer's input has 301 steps (one a row); an attention layer takes at most 300"),
]


@pytest.mark.parametrize("body, message", BAD)
def test_bad_sequence_layers_are_one_line(tmp_path, body, message):
    line = backprop_error_line(tmp_path, body)
    assert message in line, (message, line)


def test_unmasked_attention_in_a_graph_spec_matches_finite_differences():
    """attention(Q, K, V) without a mask ordered its backward pass over a third operand it lacks."""
    q, k, v = np.array([[1, 0], [0.5, 1]]), np.array([[1, -1], [0, 1], [1, 1]]), np.array([[1], [2], [-1]])
    comp, grads = _compiled(f"""\
        hwsolve: 1
        kind: graph
        inputs: {{Q: {_rows(q)}, K: {_rows(k)}, V: {_rows(v)}}}
        nodes:
          O: sum(attention(Q, K, V))
        output: O
        """)

    def total(q, k, v):
        s = q @ k.T / np.sqrt(2)
        a = np.exp(s) / np.exp(s).sum(axis=1, keepdims=True)
        return float((a @ v).sum())

    assert np.isclose(float(comp.loss.val[0, 0]), total(q, k, v))
    want = _central(total, {"q": q, "k": k.astype(float), "v": v.astype(float)})
    _check(grads, want, {"q": "Q", "k": "K", "v": "V"})


def test_grading_an_rnn_network_carries_a_wrong_step_forward():
    """A student's wrong a<2> is carried forward: their h<2> = tanh(their a<2>) is ECF, computed by
    the key's rules (the one backward loop and forward rules) at their values."""
    from hwsolve.grade.answers import Submission, parse_value
    from hwsolve.grade.grader import grade, load_key

    key = load_key(str(PROBLEMS / "network_rnn.yaml"))
    mine = [0.6, 0.4324]                          # the key's a<2> is [0.5396, 0.4324]
    sub = Submission("s.yaml", "s", {"a<2>": parse_value(mine),
                                     "h<2>": parse_value([round(float(np.tanh(v)), 4) for v in mine])})
    steps = {s.name: s for s in grade(key, sub).steps}
    assert steps["a<2>"].verdict == "wrong" and steps["h<2>"].verdict == "ecf", steps["h<2>"]
