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
