"""`hwsolve layer` (issue 12): pinned worked examples, the identities against the rules on random
cases, every cell's written sum against its value, and the one-line errors."""

from __future__ import annotations

import textwrap
from fractions import Fraction

import numpy as np
from click.testing import CliRunner
from hypothesis import given, settings, strategies as st

from hwsolve import topics
from hwsolve.autodiff.layer_ops import Conv2d
from hwsolve.cli import main
from hwsolve.core.sym import Apply, Const
from hwsolve.topics.layers.solve import corr_dk, full_conv_dx

from conftest import PROBLEMS


def solve(name):
    return topics.load_and_solve(str(PROBLEMS / name))[1]


def values(sol):
    return {s.name: s.value for s in sol.steps}


def evaluate(e):
    """The number a substituted display expression stands for (sums and products of constants)."""
    if isinstance(e, Const):
        return e.value
    assert isinstance(e, Apply)
    a = [evaluate(x) for x in e.args]
    ops = {"add": lambda: a[0] + a[1], "sub": lambda: a[0] - a[1], "mul": lambda: a[0] * a[1],
           "div": lambda: Fraction(a[0]) / a[1], "neg": lambda: -a[0]}
    if e.op == "call" and e.fn[0] == "max":
        return max(a)
    return ops[e.op]()


def assert_sums_match(sol):
    """Every step that shows numbers substituted adds up to the value it states."""
    checked = 0
    for s in sol.steps:
        if s.substituted is not None and isinstance(s.value, (int, Fraction)):
            assert evaluate(s.substituted) == s.value, s.name
            checked += 1
    assert checked


def test_conv_worked_example_pinned():
    sol = solve("layer_conv.yaml")
    v = values(sol)
    assert v["Y"] == ((0, 5), (4, 1))
    assert v["dL/db"] == 3
    assert v["dL/dK"] == ((6, 4), (1, 7))
    assert v["dL/dX"] == ((1, 1, -2), (1, 6, -1), (-2, 2, 0))
    assert str(sol.step("dL/dK[0,0]").formula) == \
        "dL/dY[0,0] * X[0,0] + dL/dY[0,1] * X[0,1] + dL/dY[1,0] * X[1,0] + dL/dY[1,1] * X[1,1]"
    assert v["dL/dK (identity)"] == v["dL/dK"] and v["dL/dX (identity)"] == v["dL/dX"]
    assert sol.summary == ["dL/db", "dL/dK", "dL/dX"]
    assert_sums_match(sol)


def test_conv_two_channels_two_filters_stride_padding():
    sol = solve("layer_conv_stride.yaml")
    v = values(sol)
    assert v["dL/db"] == (2, Fraction(5, 2))
    for name in ("dL/dK[0][0]", "dL/dK[1][1]", "dL/dX[0]", "dL/dX[1]"):
        assert v[name + " (identity)"] == v[name]
    assert_sums_match(sol)


def test_maxpool_routes_to_the_argmax_with_ties_first():
    sol = solve("layer_maxpool.yaml")
    v = values(sol)
    assert v["Y"] == ((4, 5), (2, 3))
    # the window (1,1) holds 3, 3, 3, 1: X[2,2] comes first in row-major order
    assert v["dL/dX"] == ((0, 0, 0, 0), (1, 0, 0, -2), (0, 0, Fraction(1, 2), 0), (0, 3, 0, 0))
    assert "tied 3 ways" in sol.step("Y[1,1]").note
    assert_sums_match(sol)


@st.composite
def conv_case(draw):
    c, f = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    s, p, d = (draw(st.integers(1, 3)), draw(st.integers(1, 2))), draw(st.integers(0, 2)), draw(st.integers(1, 2))
    h = draw(st.integers(max(1, d * (kh - 1) + 1 - 2 * p), 6))
    w = draw(st.integers(max(1, d * (kw - 1) + 1 - 2 * p), 6))

    def ints(shape):
        return np.array([Fraction(draw(st.integers(-3, 3))) for _ in range(int(np.prod(shape)))],
                        dtype=object).reshape(shape)
    op = Conv2d(s, p, d, flip=draw(st.booleans()), has_bias=False)
    x, k = ints((c, h, w)), ints((f, c, kh, kw))
    g = ints(op.out_shape(x.shape, k.shape))
    return op, x, k, g


@settings(max_examples=40, deadline=None)
@given(conv_case())
def test_identities_equal_the_rule_gradients(case):
    op, x, k, g = case
    y = op.forward([x, k])
    ph, pw = op.padding
    xp = np.zeros((x.shape[0], x.shape[1] + 2 * ph, x.shape[2] + 2 * pw), dtype=object) * Fraction(1)
    xp[:, ph:ph + x.shape[1], pw:pw + x.shape[2]] = x
    assert (corr_dk(op, xp, g, k.shape) == op.vjp(1, g, [x, k], y)).all()
    assert (full_conv_dx(op, x.shape, k, g) == op.vjp(0, g, [x, k], y)).all()


def test_true_convolution_flips_the_kernel():
    spec = PROBLEMS / "layer_conv.yaml"
    text = spec.read_text() + "operation: convolution\n"
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "c.yaml"
        p.write_text(text)
        v = values(topics.load_and_solve(str(p))[1])
    assert v["rot180(K)"] == ((0, 2), (-1, 1))
    assert v["dL/dK (identity)"] == v["dL/dK"]
    assert v["dL/dX (identity)"] == v["dL/dX"]


# ------------------------------------------------------------------------------ bad input


def run_spec(tmp_path, body):
    p = tmp_path / "s.yaml"
    p.write_text(textwrap.dedent(body))
    r = CliRunner().invoke(main, ["layer", str(p)])
    return r, str(p)


def test_kernel_larger_than_the_padded_input(tmp_path):
    r, p = run_spec(tmp_path, """\
        hwsolve: 1
        kind: layer
        type: conv
        input: [[1, 2], [3, 4]]
        kernel: [[1, 0, 1], [0, 1, 0], [1, 1, 1]]
        upstream: [[1]]
        """)
    assert r.exit_code == 2
    assert r.output.strip().count("\n") == 0
    assert r.output.startswith(f"error: {p}:5: kernel: the kernel height 3 is larger than the padded input")
    assert "Traceback" not in r.output


def test_upstream_of_the_wrong_shape(tmp_path):
    r, p = run_spec(tmp_path, """\
        hwsolve: 1
        kind: layer
        type: pool
        input: [[1, 2], [3, 4]]
        window: 1
        upstream: [[1, 2, 3]]
        """)
    assert r.exit_code == 2
    assert r.output.strip() == (f"error: {p}:6: upstream: dL/dY is 1x3, the output Y is 2x2: "
                                "expected one gradient per output cell")


# ------------------------------------------------------------------- dropout, norms, RNN, attention


def test_dropout_pinned_exact():
    v = values(solve("layer_dropout.yaml"))
    assert v["scale"] == 2
    assert v["Y"] == ((4, 0, 8), (0, 6, -4))
    assert v["dL/dX"] == ((2, 0, -2), (0, -4, 1))


def test_batchnorm_pinned_exact_when_sigma_is():
    sol = solve("layer_batchnorm.yaml")
    v = values(sol)
    assert v["mu"] == (3, 4) and v["var"] == (4, 4) and v["sigma"] == (2, 2)
    assert v["xhat"] == ((-1, -1), (-1, 1), (1, -1), (1, 1))
    assert v["dL/dbeta"] == (2, 2) and v["dL/dgamma"] == (0, -2)
    half = Fraction(1, 2)
    assert v["dL/dX"] == ((half, -half), (-half, half), (-3 * half, half), (3 * half, -half))
    assert sol.summary == ["dL/dgamma", "dL/dbeta", "dL/dX"]


def test_layernorm_rows_sum_to_zero_gradient(tmp_path):
    p = tmp_path / "ln.yaml"
    p.write_text((PROBLEMS / "layer_batchnorm.yaml").read_text().replace("type: batchnorm", "type: layernorm")
                 .replace("gamma: [2, 1]", "gamma: [1, 1]").replace("epsilon: 0 ", "epsilon: 1/100 "))
    v = values(topics.load_and_solve(str(p))[1])
    for row in v["dL/dX"]:  # with gamma = 1, shifting a row does not change its output
        assert abs(sum(row)) < 1e-12


def test_rnn_gradients_against_finite_differences_of_the_whole_unrolled_loss():
    from hwsolve.topics.layers.spec import parse_layer
    from hwsolve.spec.loader import load_yaml

    sol = solve("layer_rnn.yaml")
    v = values(sol)
    prob = parse_layer(load_yaml(PROBLEMS / "layer_rnn.yaml"))

    def loss(w_hh):
        h = np.zeros((2, 1))
        total = 0.0
        for x, t in zip(prob.arrays["x"], sorted(prob.arrays["y"]), strict=True):
            h = np.tanh(w_hh @ h + np.array(prob.arrays["W_xh"], dtype=float) @ np.array(x, dtype=float)
                        + np.array(prob.arrays["b"], dtype=float))
            total += 0.5 * float(((h - np.array(prob.arrays["y"][t], dtype=float)) ** 2).sum())
        return total

    w = np.array(prob.arrays["W_hh"], dtype=float)
    num = np.zeros_like(w)
    for idx in np.ndindex(w.shape):
        e = np.zeros_like(w)
        e[idx] = 1e-6
        num[idx] = (loss(w + e) - loss(w - e)) / 2e-6
    assert np.allclose(np.array(v["dL/dW_hh"], dtype=float), num, atol=1e-7)
    # the sum over time steps adds up
    terms = sum(np.array(v[f"dL/dW_hh via a[{t}]"], dtype=float) for t in (1, 2, 3))
    assert np.allclose(terms, np.array(v["dL/dW_hh"], dtype=float))
    assert v["norm_product"] >= v["bptt_norm"]
    assert np.isclose(v["norm_product"], v["jacobian_norm[3]"] * v["jacobian_norm[2]"])


def test_attention_pinned_against_an_independent_softmax():
    v = values(solve("layer_attention.yaml"))
    q = np.array([[1, 0], [0, 1], [1, 1]], dtype=float)
    k = np.array([[1, 0], [0, 1], [1, -1]], dtype=float)
    s = q @ k.T / np.sqrt(2) + np.where(np.tril(np.ones((3, 3))) > 0, 0, -np.inf)
    a = np.exp(s - s.max(axis=1, keepdims=True))
    a /= a.sum(axis=1, keepdims=True)
    assert np.allclose(np.array(v["A"]), a)
    assert v["A"][0] == (1, 0, 0)
    g = np.array([[1, 0], [0, 1], [1, 0]], dtype=float)
    assert np.allclose(np.array(v["dL/dV"]), a.T @ g)


BAD = [
    ("type: attention\nQ: [[1, 0]]\nK: [[1, 0], [0, 1]]\nV: [[1], [2]]\nmask: [[1, 0, 1]]\nupstream: [[1]]\n",
     "mask: the mask is 1x3: expected 1x2 (queries x keys)"),
    ("type: rnn\nW_hh: [[1]]\nW_xh: [[1]]\ninputs: []\ntargets: {last: [1]}\n",
     "inputs: the sequence has length 0: expected at least one input x_1"),
    ("type: dropout\ninput: [[1, 2]]\nmask: [[1, 0, 1]]\np: 1/2\nupstream: [[1, 1]]\n",
     "mask: the mask is 1x3, the input 1x2: expected one 0/1 entry per input entry"),
    ("type: dropout\ninput: [[1, 2]]\nmask: [[1, 0]]\np: 1\nupstream: [[1, 1]]\n",
     "p: expected a drop probability in [0, 1), got 1"),
    ("type: batchnorm\ninput: [[1, 2]]\ngamma: [1]\nupstream: [[1, 1]]\n",
     "gamma: expected 2 values (one per feature, the columns of the input), got 1"),
    ("type: pool\ninput: [[1, 2], [3, 4]]\nwindow: 3\nupstream: [[1]]\n",
     "window: the window height 3 is larger than the padded input height 2 + 2*0 = 2"),
    ("type: lstm\n", "type: unknown value 'lstm'"),
]


def test_bad_input_is_one_line_with_file_and_field(tmp_path):
    for body, message in BAD:
        r, p = run_spec(tmp_path, "hwsolve: 1\nkind: layer\n" + body)
        assert r.exit_code == 2, (body, r.output)
        line = r.output.strip()
        assert "\n" not in line and line.startswith(f"error: {p}:"), line
        assert message in line, (message, line)


def test_every_layer_spec_renders_in_every_format():
    for spec in sorted(PROBLEMS.glob("layer_*.yaml")):
        for fmt in ("json", "markdown", "latex"):
            r = CliRunner().invoke(main, ["layer", str(spec), "--format", fmt])
            assert r.exit_code == 0, (spec, fmt, r.output)
            assert "dL/d" in r.output or "frac{\\partial" in r.output


def test_rnn_loss_at_the_last_step_only(tmp_path):
    p = tmp_path / "rnn.yaml"
    p.write_text(textwrap.dedent("""\
        hwsolve: 1
        kind: layer
        type: rnn
        W_hh: [[2]]
        W_xh: [[1]]
        inputs: [[0], [0]]
        h0: [1/2]
        targets: {last: [0]}
        """))
    sol = topics.load_and_solve(str(p))[1]
    v = values(sol)
    h1 = np.tanh(1.0)            # tanh(2 * 1/2)
    h2 = np.tanh(2 * h1)
    d_a2 = h2 * (1 - h2 ** 2)    # half squared error: dL/dh2 = h2 - 0
    d_a1 = d_a2 * 2 * (1 - h1 ** 2)
    assert np.isclose(v["dL/dW_hh"], d_a2 * h1 + d_a1 * 0.5)
    assert np.isclose(v["dL/dW_hh via a[1]"], d_a1 * 0.5) and np.isclose(v["dL/dW_hh via a[2]"], d_a2 * h1)
    assert np.isclose(v["jacobian_norm[2]"], 2 * (1 - h2 ** 2))
    assert "at the last step only" in sol.notes[0]


def test_a_convolution_too_big_to_write_out_is_refused_at_its_kernel(tmp_path):
    """32x32 input, 16x16 kernel: 74,000 products forward and as many in each gradient took 26 s
    and 500 MB; refused at the kernel's line."""
    from hwsolve.cli import main

    x = [[1] * 32 for _ in range(32)]
    k = [[1] * 16 for _ in range(16)]
    spec = tmp_path / "l.yaml"
    spec.write_text(f"hwsolve: 1\nkind: layer\ntype: conv\ninput: {x}\nkernel: {k}\n"
                    f"upstream: {[[1] * 17 for _ in range(17)]}\n")
    r = CliRunner().invoke(main, ["layer", str(spec)])
    assert r.exit_code == 2 and "l.yaml:5: kernel: the convolution forward and backward would write 221,952" in r.output
