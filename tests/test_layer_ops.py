"""The layer rules (autodiff/layer_ops.py) against independent methods.

Every vjp is checked against central differences of its own forward pass: exact rationals where
the rule is piecewise linear (conv, pooling, dropout: the difference quotient with a tiny rational
step is the derivative exactly), floats elsewhere. Convolution is also checked against the
textbook double loop.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from hypothesis import given, settings, strategies as st

from hwsolve.autodiff.layer_ops import (AvgPool2d, BatchNorm, Conv2d, Dropout, LayerNorm, MaxPool2d,
                                        RNNPreactivation, ScaledDotProductAttention, conv2d_reference,
                                        exact_sqrt)
from hwsolve.core import values as T

SMALL = settings(max_examples=25, deadline=None)


def exact_array(draw, shape, lo=-4, hi=4):
    flat = [Fraction(draw(st.integers(lo, hi)), draw(st.sampled_from([1, 2]))) for _ in range(int(np.prod(shape)))]
    return np.array(flat, dtype=object).reshape(shape)


def float_array(draw, shape):
    flat = [draw(st.floats(-2, 2, allow_nan=False, width=32)) for _ in range(int(np.prod(shape)))]
    return np.array(flat, dtype=float).reshape(shape)


def loss_of(op, xs, g):
    """<g, op(xs)>: its gradient w.r.t. operand i is exactly op.vjp(i, g, ...)."""
    out = op.forward(xs)
    return (out * g).sum()


def numeric_grad(op, xs, i, g, h):
    """Central differences of <g, op(xs)> w.r.t. every entry of operand i."""
    base = xs[i]
    grad = np.empty(base.shape, dtype=base.dtype)
    for idx in np.ndindex(base.shape):
        plus, minus = base.copy(), base.copy()
        plus[idx] = plus[idx] + h
        minus[idx] = minus[idx] - h
        xp, xm = list(xs), list(xs)
        xp[i], xm[i] = plus, minus
        grad[idx] = (loss_of(op, xp, g) - loss_of(op, xm, g)) / (2 * h)
    return grad


@st.composite
def conv_case(draw):
    c, f = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    s, p, d = draw(st.integers(1, 2)), draw(st.integers(0, 1)), draw(st.integers(1, 2))
    h = draw(st.integers(max(1, d * (kh - 1) + 1 - 2 * p), 5))
    w = draw(st.integers(max(1, d * (kw - 1) + 1 - 2 * p), 5))
    op = Conv2d(stride=s, padding=p, dilation=d, flip=draw(st.booleans()))
    x = exact_array(draw, (c, h, w))
    k = exact_array(draw, (f, c, kh, kw))
    b = exact_array(draw, (f, 1))
    return op, [x, k, b]


@SMALL
@given(conv_case(), st.data())
def test_conv_vjp_matches_exact_central_differences(case, data):
    op, xs = case
    out = op.forward(xs)
    g = exact_array(data.draw, out.shape)
    for i in range(3):
        assert (op.vjp(i, g, xs, out) == numeric_grad(op, xs, i, g, Fraction(1, 7))).all()


@SMALL
@given(conv_case())
def test_conv_forward_matches_double_loop(case):
    op, (x, k, b) = case
    out = op.forward([x, k, b])
    for f in range(k.shape[0]):
        kern = k[f][:, ::-1, ::-1] if op.flip else k[f]
        want = sum(conv2d_reference(x[c], kern[c], op.stride, op.padding, op.dilation)
                   for c in range(x.shape[0])) + b[f, 0]
        assert (out[f] == want).all()


def test_conv_single_channel_shapes_and_known_answer():
    # 3x3 input, 2x2 kernel, stride 1: Y[0,0] = 1*1 + 2*0 + 4*0 + 5*(-1) = -4
    x = T.exact([[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    k = T.exact([[1, 0], [0, -1]])
    b = T.exact([[1]])
    op = Conv2d()
    y = op.forward([x, k, b])
    assert y.shape == (2, 2) and T.plain(y) == ((-3, -3), (-3, -3))
    g = T.ones((2, 2))
    assert T.plain(op.vjp(1, g, [x, k, b], y)) == ((12, 16), (24, 28))  # dK = X ⋆ dY
    assert op.vjp(2, g, [x, k, b], y)[0, 0] == 4
    # dX = full convolution of dY with rot180(K)
    assert T.plain(op.vjp(0, g, [x, k, b], y)) == ((1, 1, 0), (1, 0, -1), (0, -1, -1))


@st.composite
def pool_case(draw, distinct: bool):
    c = draw(st.integers(1, 2))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    s = draw(st.integers(1, 3))
    p = draw(st.integers(0, min(kh, kw) // 2))
    h, w = draw(st.integers(kh, 5)), draw(st.integers(kw, 5))
    if distinct:  # a strict arg-max everywhere: the max is differentiable there
        vals = draw(st.permutations(list(range(c * h * w))))
        x = np.array([Fraction(v) for v in vals], dtype=object).reshape(c, h, w)
    else:
        x = exact_array(draw, (c, h, w))
    return (kh, kw), s, p, x


@SMALL
@given(pool_case(distinct=True), st.data())
def test_maxpool_vjp_matches_central_differences(case, data):
    window, s, p, x = case
    op = MaxPool2d(window, s, p)
    out = op.forward([x])
    g = exact_array(data.draw, out.shape)
    assert (op.vjp(0, g, [x], out) == numeric_grad(op, [x], 0, g, Fraction(1, 4))).all()


@SMALL
@given(pool_case(distinct=False), st.data())
def test_avgpool_vjp_matches_central_differences(case, data):
    window, s, p, x = case
    op = AvgPool2d(window, s, p)
    out = op.forward([x])
    g = exact_array(data.draw, out.shape)
    assert (op.vjp(0, g, [x], out) == numeric_grad(op, [x], 0, g, Fraction(1, 3))).all()


def test_maxpool_ties_go_to_the_first_in_row_major_order():
    x = T.exact([[3, 3], [1, 3]])
    op = MaxPool2d(2)
    assert op.forward([x])[0, 0] == 3
    dx = op.vjp(0, T.exact([[5]]), [x], None)
    assert dx.tolist() == [[5, 0], [0, 0]]


@SMALL
@given(st.data())
def test_dropout_vjp_exact(data):
    shape = (data.draw(st.integers(1, 4)), data.draw(st.integers(1, 3)))
    x = exact_array(data.draw, shape)
    mask = np.array([Fraction(data.draw(st.integers(0, 1))) for _ in range(x.size)], dtype=object).reshape(shape)
    op = Dropout(mask, Fraction(data.draw(st.integers(0, 3)), 4))
    out = op.forward([x])
    g = exact_array(data.draw, shape)
    assert (op.vjp(0, g, [x], out) == numeric_grad(op, [x], 0, g, Fraction(1, 5))).all()
    assert (out == x * mask / (1 - op.p)).all()


@settings(max_examples=20, deadline=None)
@given(st.data(), st.sampled_from([BatchNorm, LayerNorm]))
def test_norm_vjps_match_central_differences(data, cls):
    n, d = data.draw(st.integers(2, 4)), data.draw(st.integers(2, 3))
    x = float_array(data.draw, (n, d)) + np.arange(n * d).reshape(n, d) * 0.37  # not all equal
    gamma, beta = float_array(data.draw, (d, 1)), float_array(data.draw, (d, 1))
    op = cls(eps=Fraction(1, 100))
    xs = [x, gamma, beta]
    out = op.forward(xs)
    g = float_array(data.draw, out.shape)
    for i in range(3):
        assert np.allclose(op.vjp(i, g, xs, out), numeric_grad(op, xs, i, g, 1e-6), atol=1e-5)


def test_batchnorm_exact_when_the_square_roots_are():
    # column 0: 1, 3 -> mean 2, var 1, eps 0 -> sigma 1; column 1: 0, 8 -> mean 4, var 16 -> sigma 4
    x = T.exact([[1, 0], [3, 8]])
    op = BatchNorm(eps=Fraction(0))
    out = op.forward([x, T.exact([[2], [1]]), T.exact([[0], [1]])])
    assert T.is_exact(out) and out.tolist() == [[-2, 0], [2, 2]]
    assert exact_sqrt(Fraction(9, 4)) == Fraction(3, 2) and isinstance(exact_sqrt(Fraction(2)), float)


@SMALL
@given(st.data())
def test_rnn_preactivation_vjp_exact(data):
    hdim, xdim = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    shapes = [(hdim, hdim), (hdim, 1), (hdim, xdim), (xdim, 1), (hdim, 1)]
    xs = [exact_array(data.draw, s) for s in shapes]
    op = RNNPreactivation()
    out = op.forward(xs)
    g = exact_array(data.draw, out.shape)
    for i in range(5):
        assert (op.vjp(i, g, xs, out) == numeric_grad(op, xs, i, g, Fraction(1, 3))).all()


@settings(max_examples=20, deadline=None)
@given(st.data(), st.booleans())
def test_attention_vjps_match_central_differences(data, masked):
    n, m, d, dv = (data.draw(st.integers(1, 3)) for _ in range(4))
    q, k, v = float_array(data.draw, (n, d)), float_array(data.draw, (m, d)), float_array(data.draw, (m, dv))
    mask = None
    if masked:
        mask = np.array([[data.draw(st.booleans()) for _ in range(m)] for _ in range(n)])
        mask[:, 0] = True  # every query sees at least one key
    op = ScaledDotProductAttention(mask)
    xs = [q, k, v]
    out = op.forward(xs)
    g = float_array(data.draw, out.shape)
    for i in range(3):
        assert np.allclose(op.vjp(i, g, xs, out), numeric_grad(op, xs, i, g, 1e-6), atol=1e-5)


def test_attention_masked_keys_get_no_weight():
    q = np.array([[1.0, 0.0], [0.0, 1.0]])
    k = np.array([[1.0, 0.0], [0.0, 1.0]])
    mask = np.array([[True, False], [True, True]])
    a = ScaledDotProductAttention(mask).weights(q, k)
    assert a[0, 1] == 0 and a[0, 0] == 1
    assert np.isclose(a[1, 1], np.exp(1 / np.sqrt(2)) / (1 + np.exp(1 / np.sqrt(2))))
