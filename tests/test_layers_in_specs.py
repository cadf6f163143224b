"""The layer rules in graph specs and network specs (issue 12): batchnorm, layernorm, dropout,
attention and rnn_step as graph functions; conv, pooling, flatten, batchnorm and dropout as network
layers. Every new backward pass against central differences of its own forward (exact rationals
where the rule is linear in the operand), the composed graphs against finite differences of the
whole graph, the exact batch-norm gradient against sympy, and the CNN network spec against a
separate plain-numpy implementation.
"""

from __future__ import annotations

import textwrap
from fractions import Fraction

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings, strategies as st

from conftest import backprop_error_line
from hwsolve.autodiff.layer_ops import AttentionWeights, Dropout, Normalize, RNNPreactivation, ScaleShift
from hwsolve.cli import main
from hwsolve.spec.loader import load_yaml_text
from hwsolve.topics import load_and_solve, parse
from hwsolve.topics.backprop.solve import compile_problem
from conftest import PROBLEMS
from test_layer_ops import exact_array, float_array, numeric_grad

SMALL = settings(max_examples=20, deadline=None)


def _exact_vjps_match(op, xs, operands):
    out = op.forward(xs)
    g = np.array([Fraction(k % 5 - 2, 1 + k % 2) for k in range(out.size)], dtype=object).reshape(out.shape)
    for i in operands:
        assert (op.vjp(i, g, xs, out) == numeric_grad(op, xs, i, g, Fraction(1, 7))).all(), i


# -- the rules: exact where linear in the operand -------------------------------------------------


@SMALL
@given(st.data())
def test_dropout_with_the_mask_as_an_operand_is_exact(data):
    shape = (data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3)))
    x = exact_array(data.draw, shape)
    mask = np.array([Fraction(data.draw(st.integers(0, 1))) for _ in range(x.size)], dtype=object).reshape(shape)
    p = Fraction(data.draw(st.integers(0, 3)), 4)
    op = Dropout(None, p)
    _exact_vjps_match(op, [x, mask], [0])
    assert (op.forward([x, mask]) == x * mask / (1 - p)).all()
    assert op.grads_wanted() == (True, False)


@SMALL
@given(st.data(), st.sampled_from(["columns", "rows", "map"]), st.booleans())
def test_scale_shift_is_exact(data, per, three_d):
    shape = (data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3)))
    if per == "map" and three_d:
        shape = (data.draw(st.integers(1, 2)),) + shape
    op = ScaleShift(per)
    d = op.features(shape)
    xs = [exact_array(data.draw, shape), exact_array(data.draw, (d, 1)), exact_array(data.draw, (d, 1))]
    assert op.out_shape(shape, (d, 1), (d, 1)) == shape
    _exact_vjps_match(op, xs, [0, 1, 2])


@SMALL
@given(st.data())
def test_rnn_preactivation_over_a_batch_of_columns_is_exact(data):
    h, d, n = (data.draw(st.integers(1, 3)) for _ in range(3))
    shapes = [(h, h), (h, n), (h, d), (d, n), (h, 1)]
    xs = [exact_array(data.draw, s) for s in shapes]
    op = RNNPreactivation()
    assert op.out_shape(*shapes) == (h, n)
    _exact_vjps_match(op, xs, range(5))


# -- the rules: floats (square roots, softmax) -----------------------------------------------------


@settings(max_examples=15, deadline=None)
@given(st.data(), st.sampled_from(["columns", "rows", "map2", "map3"]))
def test_normalize_vjp_matches_central_differences(data, over):
    n = data.draw(st.integers(2, 4))
    shape = {"columns": (n, 2), "rows": (2, n), "map2": (2, n), "map3": (2, 2, n)}[over]
    x = float_array(data.draw, shape) + np.arange(int(np.prod(shape))).reshape(shape)  # spread: var well above 0
    op = Normalize(Fraction(1, 10), over[:3] if over.startswith("map") else over)
    out = op.forward([x])
    g = float_array(data.draw, out.shape)
    assert np.allclose(op.vjp(0, g, [x], out), numeric_grad(op, [x], 0, g, 1e-6), atol=1e-5)


@settings(max_examples=15, deadline=None)
@given(st.data(), st.booleans())
def test_attention_weights_vjps_match_central_differences(data, masked):
    n, m, d = (data.draw(st.integers(1, 3)) for _ in range(3))
    q, k = float_array(data.draw, (n, d)), float_array(data.draw, (m, d))
    xs = [q, k]
    if masked:
        mask = np.array([[float(j <= i % m or data.draw(st.booleans())) for j in range(m)] for i in range(n)])
        xs.append(mask)
    op = AttentionWeights(masked)
    a = op.forward(xs)
    assert np.allclose(a.sum(axis=1), 1)
    g = float_array(data.draw, a.shape)
    for i in (0, 1):
        assert np.allclose(op.vjp(i, g, xs, a), numeric_grad(op, xs, i, g, 1e-6), atol=1e-5)


# -- graph specs: the composed layers through the one backward loop ------------------------------


def _graph(text: str):
    c = compile_problem(parse(load_yaml_text(textwrap.dedent(text), "g.yaml")))
    c.graph.forward()
    return c


def _graph_fd_check(c, names, exact: bool):
    """Every gradient of the named leaves against central differences of the whole graph."""
    grads = {n.name: g for n, g in c.graph.gradients(c.loss).items()}
    leaves = {n.name: n for n in c.graph.nodes}
    h = Fraction(1, 7) if exact else 1e-6
    for name in names:
        leaf = leaves[name]
        base = leaf.value.copy()
        want = np.empty(base.shape, dtype=base.dtype if exact else float)
        for idx in np.ndindex(base.shape):
            values = []
            for step in (h, -h):
                moved = base.copy()
                moved[idx] = moved[idx] + step
                leaf.value = moved
                c.graph.forward()
                values.append(c.loss.val[0, 0])
            want[idx] = (values[0] - values[1]) / (2 * h)
        leaf.value = base
        c.graph.forward()
        if exact:
            assert (grads[name] == want).all(), name
        else:
            assert np.allclose(np.asarray(grads[name], dtype=float), want, atol=1e-5), name


def _rows(a) -> str:
    return "[" + ", ".join("[" + ", ".join(str(v) for v in row) + "]" for row in a) + "]"


@settings(max_examples=10, deadline=None)
@given(st.data(), st.sampled_from(["batchnorm", "layernorm"]))
def test_norms_in_a_graph_match_finite_differences(data, fn):
    n, d = data.draw(st.integers(2, 3)), data.draw(st.integers(2, 3))
    x = [[data.draw(st.integers(-3, 3)) + 4 * (i + j) for j in range(d)] for i in range(n)]
    width = d
    gamma = [data.draw(st.integers(1, 3)) for _ in range(width)]
    beta = [data.draw(st.integers(-2, 2)) for _ in range(width)]
    weights = [[data.draw(st.integers(-2, 2)) for _ in range(d)] for _ in range(n)]
    c = _graph(f"""
        hwsolve: 1
        kind: graph
        inputs: {{X: {_rows(x)}}}
        params: {{gamma: {gamma}, beta: {beta}}}
        targets: {{G: {_rows(weights)}}}
        nodes:
          Y: {fn}(X, gamma, beta, 1/10)
        loss: sum(G * Y * Y)
        """)
    _graph_fd_check(c, ["X", "gamma", "beta"], exact=False)


@settings(max_examples=10, deadline=None)
@given(st.data())
def test_dropout_and_rnn_step_in_a_graph_are_exact(data):
    h, d = data.draw(st.integers(1, 2)), data.draw(st.integers(1, 2))
    draw = lambda rows, cols: [[Fraction(data.draw(st.integers(-3, 3)), 2) for _ in range(cols)]  # noqa: E731
                               for _ in range(rows)]
    mask = [[data.draw(st.integers(0, 1)) for _ in range(1)] for _ in range(h)]
    c = _graph(f"""
        hwsolve: 1
        kind: graph
        inputs: {{x: {_rows(draw(d, 1))}}}
        params: {{Whh: {_rows(draw(h, h))}, Wxh: {_rows(draw(h, d))}, b: {_rows(draw(h, 1))},
                 h0: {_rows(draw(h, 1))}}}
        targets: {{M: {_rows(mask)}}}
        nodes:
          a: Whh @ dropout(h0, M, 1/3) + Wxh @ x + b
        loss: sum(a * a)
        """)
    _graph_fd_check(c, ["x", "Whh", "Wxh", "b", "h0"], exact=True)
    c = _graph(f"""
        hwsolve: 1
        kind: graph
        inputs: {{x: {_rows(draw(d, 1))}}}
        params: {{Whh: {_rows(draw(h, h))}, Wxh: {_rows(draw(h, d))}, b: {_rows(draw(h, 1))},
                 h0: {_rows(draw(h, 1))}}}
        nodes:
          h1: rnn_step(Whh, h0, Wxh, x, b)
          h2: rnn_step(Whh, h1, Wxh, x, b)
        loss: sum(h2 * h2)
        """)
    _graph_fd_check(c, ["x", "Whh", "Wxh", "b", "h0"], exact=False)


@settings(max_examples=10, deadline=None)
@given(st.data())
def test_attention_in_a_graph_matches_finite_differences(data):
    n, m, d = data.draw(st.integers(1, 3)), data.draw(st.integers(2, 3)), data.draw(st.integers(1, 2))
    ints = lambda rows, cols: [[data.draw(st.integers(-2, 2)) for _ in range(cols)] for _ in range(rows)]  # noqa: E731
    mask = [[int(j == 0 or data.draw(st.booleans())) for j in range(m)] for _ in range(n)]
    c = _graph(f"""
        hwsolve: 1
        kind: graph
        inputs: {{Q: {_rows(ints(n, d))}, K: {_rows(ints(m, d))}, V: {_rows(ints(m, 2))}}}
        targets: {{M: {_rows(mask)}, G: {_rows(ints(n, 2))}}}
        nodes:
          O: attention(Q, K, V, M)
        loss: sum(G * O)
        """)
    _graph_fd_check(c, ["Q", "K", "V"], exact=False)
    weights = c.graph.nodes[[n.name for n in c.graph.nodes].index("O") - 1].val
    assert (weights[np.array(mask) == 0] == 0).all()


def test_batchnorm_graph_is_exact_when_sigma_is_and_matches_sympy():
    """X's columns have variances 1 and 4 (epsilon 0): sigma is rational, so every value and gradient
    is a Fraction; sympy differentiates the same loss symbolically (its own sqrt) for the reference."""
    import sympy as sp

    c = _graph("""
        hwsolve: 1
        kind: graph
        inputs: {X: [[0, 1], [2, 5], [0, 5], [2, 1]]}
        params: {gamma: [2, 1/2], beta: [1, -1]}
        targets: {G: [[1, 2], [0, -1], [3, 1], [1, 1]]}
        nodes:
          Y: batchnorm(X, gamma, beta, 0)
        loss: sum(G * Y * Y)
        """)
    grads = {n.name: g for n, g in c.graph.gradients(c.loss).items()}
    assert all(isinstance(v, Fraction) for v in grads["X"].flat)
    assert all(isinstance(v, Fraction) for v in grads["gamma"].flat)
    xs = sp.Matrix(4, 2, sp.symbols("x0:8"))
    gamma, beta = [2, sp.Rational(1, 2)], [1, -1]
    weights = [[1, 2], [0, -1], [3, 1], [1, 1]]
    loss = 0
    for j in range(2):
        col = [xs[i, j] for i in range(4)]
        mu = sum(col) / 4
        sigma = sp.sqrt(sum((v - mu) ** 2 for v in col) / 4)
        loss += sum(weights[i][j] * (gamma[j] * (col[i] - mu) / sigma + beta[j]) ** 2 for i in range(4))
    point = dict(zip(xs, [0, 1, 2, 5, 0, 5, 2, 1], strict=True))
    for i in range(4):
        for j in range(2):
            want = sp.Rational(sp.simplify(sp.diff(loss, xs[i, j]).subs(point)))
            assert Fraction(int(want.p), int(want.q)) == grads["X"][i, j], (i, j)


# -- network specs: a CNN against plain numpy ------------------------------------------------------


def numpy_cnn(x, k, b1, stride, window, w, b2, cls):
    """conv (cross-correlation) -> ReLU -> max pooling (first maximum wins) -> flatten -> dense ->
    softmax cross-entropy, forward and backward by hand, nothing shared with hwsolve."""
    x, k, w, b2 = (np.array(a, dtype=float) for a in (x, k, w, b2))
    kh, kw = k.shape
    ho, wo = (x.shape[0] - kh) // stride + 1, (x.shape[1] - kw) // stride + 1
    a1 = np.zeros((ho, wo))
    for i in range(ho):
        for j in range(wo):
            a1[i, j] = (x[i * stride:i * stride + kh, j * stride:j * stride + kw] * k).sum() + b1
    z1 = np.maximum(a1, 0)
    po, qo = (ho - window) // window + 1, (wo - window) // window + 1
    pool, arg = np.zeros((po, qo)), {}
    for i in range(po):
        for j in range(qo):
            win = z1[i * window:(i + 1) * window, j * window:(j + 1) * window]
            r, q = divmod(int(np.argmax(win)), window)
            arg[i, j] = (i * window + r, j * window + q)
            pool[i, j] = win[r, q]
    f = pool.reshape(-1)
    a2 = w @ f + b2
    p = np.exp(a2 - a2.max())
    p /= p.sum()
    y = np.eye(len(b2))[cls]
    da2 = p - y
    dw, db2, df = np.outer(da2, f), da2, w.T @ da2
    dpool = df.reshape(po, qo)
    dz1 = np.zeros_like(z1)
    for (i, j), (r, q) in arg.items():
        dz1[r, q] += dpool[i, j]
    da1 = dz1 * (a1 > 0)
    dk, dx = np.zeros_like(k), np.zeros_like(x)
    for i in range(ho):
        for j in range(wo):
            dk += da1[i, j] * x[i * stride:i * stride + kh, j * stride:j * stride + kw]
            dx[i * stride:i * stride + kh, j * stride:j * stride + kw] += da1[i, j] * k
    loss = -np.log(p[cls])
    return {"L": loss, "dL/dK[1]": dk, "dL/db[1]": da1.sum(), "dL/dW[2]": dw, "dL/db[2]": db2, "dL/dx": dx}


def _cnn_spec(x, k, b1, stride, window, w, b2, cls) -> str:
    return textwrap.dedent(f"""\
        hwsolve: 1
        kind: network
        input: {_rows(x)}
        layers:
          - {{type: conv, kernel: {_rows(k)}, bias: {b1}, stride: {stride}}}
          - relu
          - {{type: maxpool, window: {window}}}
          - flatten
          - {{type: linear, W: {_rows(w)}, b: {list(b2)}}}
          - softmax
        target: {{class: {cls}}}
        loss: cross_entropy
        """)


def _check_against_numpy(sol, want):
    for name, value in want.items():
        got = sol.step(name).value
        assert np.allclose(np.array(got, dtype=float).reshape(np.shape(value)), value, atol=1e-9), name


def test_the_cnn_spec_matches_plain_numpy():
    _, sol = load_and_solve(str(PROBLEMS / "network_cnn.yaml"))
    x = [[1, 0, 2, 1, 0], [0, 1, 1, 0, 2], [2, 1, 0, 1, 1], [1, 0, 1, 2, 0], [0, 2, 1, 0, 1]]
    half = Fraction(1, 2)
    want = numpy_cnn(x, [[1, -1], [0, 2]], half, 1, 2, [[1, 0, -1, half], [0, half, half, -1]], [0, half], 0)
    _check_against_numpy(sol, want)
    # by hand: a[1][0, 0] = 1*1 + 0*(-1) + 0*0 + 1*2 + 1/2; the four 2x2 windows' maxima, exact
    assert sol.step("a[1]").value[0][0] == Fraction(7, 2)
    assert sol.step("pool[1]").value == ((Fraction(7, 2), Fraction(11, 2)), (Fraction(11, 2), Fraction(9, 2)))
    assert [s.name for s in sol.in_section("backward")][-4:] == ["dL/dK[1]", "dL/db[1]", "dL/dz[0]", "dL/dx"]


@settings(max_examples=12, deadline=None)
@given(st.data())
def test_random_cnn_specs_match_plain_numpy(data):
    kh, kw = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    stride, window = data.draw(st.integers(1, 2)), data.draw(st.integers(1, 2))
    h = data.draw(st.integers(kh + stride * (window - 1), 6))
    w_ = data.draw(st.integers(kw + stride * (window - 1), 6))
    ints = lambda rows, cols: [[data.draw(st.integers(-2, 3)) for _ in range(cols)] for _ in range(rows)]  # noqa: E731
    x, k = ints(h, w_), ints(kh, kw)
    ho, wo = (h - kh) // stride + 1, (w_ - kw) // stride + 1
    size = ((ho - window) // window + 1) * ((wo - window) // window + 1)
    classes = data.draw(st.integers(2, 3))
    w, b2 = ints(classes, size), [data.draw(st.integers(-1, 1)) for _ in range(classes)]
    b1, cls = Fraction(data.draw(st.integers(-3, 3)), 2), data.draw(st.integers(0, classes - 1))
    spec = _cnn_spec(x, k, b1, stride, window, w, b2, cls)
    sol = compile_and_solve(spec)
    _check_against_numpy(sol, numpy_cnn(x, k, b1, stride, window, w, b2, cls))


def compile_and_solve(text: str):
    from hwsolve.topics.backprop.solve import solve

    return solve(parse(load_yaml_text(text, "cnn.yaml")))


def test_batchnorm_and_dropout_layers_in_a_batch_match_numpy():
    text = textwrap.dedent("""\
        hwsolve: 1
        kind: network
        batch: rows
        input: [[1, 2], [3, 0], [0, 1], [2, 2]]
        target: [1, 0, 0, 1]
        layers:
          - {type: linear, W: [[1, -1], [2, 1]], b: [0, 1]}
          - {type: batchnorm, gamma: [2, 1], beta: [0, 1/2], epsilon: 1/10}
          - {type: dropout, mask: [[1, 0], [1, 1], [0, 1], [1, 1]], p: 1/2}
          - {type: linear, W: [[1, 1]], b: [0]}
        loss: mse
        """)
    sol = compile_and_solve(text)
    x = np.array([[1, 2], [3, 0], [0, 1], [2, 2]], dtype=float).T   # examples as columns
    w1, b1 = np.array([[1, -1], [2, 1]], float), np.array([[0], [1]], float)
    gamma, beta = np.array([[2], [1]], float), np.array([[0], [0.5]])
    mask = np.array([[1, 0], [1, 1], [0, 1], [1, 1]], float).T
    w2 = np.array([[1, 1]], float)
    y = np.array([[1, 0, 0, 1]], float)

    def loss(w1_, gamma_):
        a = w1_ @ x + b1
        xhat = (a - a.mean(axis=1, keepdims=True)) / np.sqrt(a.var(axis=1, keepdims=True) + 0.1)
        d = (gamma_ * xhat + beta) * mask * 2
        return ((w2 @ d - y) ** 2).mean()

    assert np.isclose(sol.step("L").value, loss(w1, gamma))
    for name, arr, fn in (("dL/dW[1]", w1, lambda v: loss(v, gamma)), ("dL/dgamma[1]", gamma, lambda v: loss(w1, v))):
        numeric = np.zeros_like(arr)
        for idx in np.ndindex(arr.shape):
            up, down = arr.copy(), arr.copy()
            up[idx] += 1e-6
            down[idx] -= 1e-6
            numeric[idx] = (fn(up) - fn(down)) / 2e-6
        assert np.allclose(np.array(sol.step(name).value, dtype=float).reshape(arr.shape), numeric, atol=1e-6), name


def test_graph_spec_with_batchnorm_and_attention_prints_every_step():
    _, sol = load_and_solve(str(PROBLEMS / "graph_norm_attention.yaml"))
    names = [s.name for s in sol.steps]
    for name in ("xhat_batch(X)", "H", "dL/dgamma", "dL/dbeta", "dL/dxhat_batch(X)", "dL/dX", "dL/dV", "dL/dQ",
                 "dL/dK"):
        assert name in names, name
    assert any("sigma = sqrt(var + 0) = (1, 2)" in s.note for s in sol.steps)   # exact: the perfect squares
    # by hand: column 1 is 0, 2, 0, 2 (mean 1, sigma 1), column 2 is 1, 5, 5, 1 (mean 3, sigma 2)
    assert sol.step("xhat_batch(X)").value == ((-1, -1), (1, 1), (-1, 1), (1, -1))
    half = Fraction(1, 2)
    assert sol.step("H").value == ((-1, half), (1, 3 * half), (-1, 3 * half), (1, half))
    weights = [s for s in sol.steps if s.name.startswith("softmax_rows")][0].value
    assert weights[0] == (1, 0, 0, 0) and all(w[3] == 0 for w in weights[:3])   # the causal mask


# -- bad input: one line, exit code 2, in every form ------------------------------------------------

NETWORK = ("hwsolve: 1\nkind: network\ninput: [[1, 0, 2], [0, 1, 1], [2, 1, 0]]\ntarget: [1]\n"
           "loss: squared_error\nlayers:\n")
GRAPH = "hwsolve: 1\nkind: graph\n"
BAD = [
    (NETWORK + "  - {type: conv, kernel: [[1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, 1]]}\n",
     "layers[0].kernel: the kernel height 4 is larger than the padded input height 3 + 2*0 = 3"),
    (NETWORK + "  - {type: maxpool, window: 3}\n  - {type: conv, kernel: [[1, 1], [1, 1]]}\n",
     "layers[1].kernel: the kernel height 2 is larger than the padded input height 1 + 2*0 = 1"),
    (NETWORK + "  - {type: dropout, mask: [[1, 0], [1, 1]], p: 1/2}\n",
     "layers[0].mask: the mask is 2x2, this layer's input 3x3: expected one 0/1 entry per input entry"),
    (NETWORK + "  - {type: dropout, mask: [[1, 0, 1], [1, 1, 1], [0, 0, 2]], p: 1/2}\n",
     "layers[0].mask: expected 0s (dropped) and 1s (kept)"),
    (NETWORK + "  - flatten\n  - batchnorm\n", "batch norm of one example's vector (9x1)"),
    (NETWORK + "  - {type: linear, W: [[1, 1, 1]]}\n", "a linear layer needs a vector, and this layer's input is 3x3"),
    (GRAPH + "inputs: {X: [[1, 2], [3, 4]]}\nparams: {K: [[1, 1, 1], [1, 1, 1], [1, 1, 1]]}\n"
     "nodes:\n  C: sum(conv2d(X, K))\noutput: C\n", "larger than the padded input"),
    (GRAPH + "inputs: {X: [[1, 2], [3, 4]]}\ntargets: {M: [[1, 0, 1]]}\nnodes:\n  D: sum(dropout(X, M, 1/2))\n"
     "output: D\n", "node 'D': X, M: the mask is 1x3, the input 2x2: expected one 0/1 entry per input entry"),
    (GRAPH + "inputs: {Q: [[1, 0], [0, 1]], K: [[1, 0], [0, 1], [1, 1]], V: [[1], [2], [3]]}\n"
     "targets: {M: [[1, 1], [1, 0]]}\nnodes:\n  O: sum(attention(Q, K, V, M))\noutput: O\n",
     "the mask is 2x2: expected 2x3 (queries x keys)"),
    (GRAPH + "inputs: {x1: []}\nparams: {Whh: [[1]], Wxh: [[1]], b: [0], h0: [0]}\n"
     "nodes:\n  h1: sum(rnn_step(Whh, h0, Wxh, x1, b))\noutput: h1\n", "inputs.x1: expected a vector"),
    (GRAPH + "inputs: {x1: [1, 2]}\nparams: {Whh: [[1]], Wxh: [[1]], b: [0], h0: [0]}\n"
     "nodes:\n  h1: sum(rnn_step(Whh, h0, Wxh, x1, b))\noutput: h1\n", "x_t has 2 rows, W_xh 1 columns"),
    (GRAPH + "inputs: {X: [[1, 2], [3, 4]]}\nparams: {g: [1, 2, 3], b: [0, 0]}\n"
     "nodes:\n  D: sum(batchnorm(X, g, b))\noutput: D\n", "gamma is 3x1: expected 2 values"),
    (GRAPH + "inputs: {X: [[1, 2], [3, 4]]}\ntargets: {M: [[1, 0], [1, 1]]}\nnodes:\n  D: sum(dropout(X, M, 1))\n"
     "output: D\n", "dropout's p must be in [0, 1), got 1"),
]


@pytest.mark.parametrize("body, message", BAD)
def test_bad_layer_input_in_specs_is_one_line(tmp_path, body, message):
    line = backprop_error_line(tmp_path, body)
    assert message in line, (message, line)


def test_every_new_layer_spec_renders_in_every_format():
    for spec in ("network_cnn.yaml", "graph_norm_attention.yaml"):
        for fmt in ("json", "markdown", "latex"):
            r = CliRunner().invoke(main, ["backprop", str(PROBLEMS / spec), "--format", fmt])
            assert r.exit_code == 0, (spec, fmt, r.output)


def test_a_two_channel_network_with_batchnorm_on_the_map_matches_finite_differences():
    """Two input channels, two filters (F x C x kh x kw), batch norm per channel of the 2 x 3 x 3 map,
    average pooling, dropout, flatten, dense: every gradient against central differences of the
    whole network (floats: the square roots)."""
    c = _graph("""
        hwsolve: 1
        kind: network
        input: [[[1, 0, 2, 1], [0, 1, 1, 0], [2, 1, 0, 1], [1, 3, 1, 2]],
                [[0, 1, 1, 2], [1, 0, 2, 1], [1, 2, 0, 0], [2, 1, 1, 0]]]
        layers:
          - {type: conv, kernel: [[[[1, 0], [0, -1]], [[1, 1], [0, 1]]], [[[0, 1], [1, 0]], [[-1, 0], [2, 1]]]],
             bias: [1, -1]}
          - {type: batchnorm, gamma: [2, 1/2], beta: [0, 1], epsilon: 1/10}
          - {type: avgpool, window: 2, stride: 1}
          - {type: dropout, mask: [[[1, 0], [1, 1]], [[0, 1], [1, 1]]], p: 1/4}
          - flatten
          - {type: linear, W: [[1, -1, 0, 1, 1, 0, -1, 1/2]], b: [1]}
        target: [2]
        loss: squared_error
        """)
    names = [n.name for n in c.graph.nodes]
    assert {"K[1]", "b[1]", "xhat[1]", "bn[1]", "gamma[1]", "beta[1]", "pool[1]", "m[1]", "drop[1]", "flat[1]",
            "W[2]"} <= set(names)
    assert c.graph.nodes[names.index("bn[1]")].val.shape == (2, 3, 3)
    _graph_fd_check(c, ["x", "K[1]", "b[1]", "gamma[1]", "beta[1]", "W[2]"], exact=False)
