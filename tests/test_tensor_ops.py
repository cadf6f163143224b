"""Every tensor rule's vector-Jacobian product against central differences, on random shapes.

Rules that are polynomial of degree <= 2 in each entry, or piecewise linear away from their kinks
(MatMul, Add, Mul, Reduce, Reshape, Transpose, x^2, minimum/maximum, ReLU, abs), are checked
EXACTLY: with rationals a central difference of such a function is the derivative itself. The
others (softmax, log-softmax, the cross-entropies, division, every float function of the table)
are checked against float central differences.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hwsolve.autodiff import tensor_ops as TO
from hwsolve.core import values as T

H_EXACT = Fraction(1, 1000)
H_FLOAT = 1e-6
SETTINGS = settings(max_examples=25, deadline=None)

QUARTERS = st.integers(-12, 12).map(lambda k: Fraction(k, 4))


@st.composite
def arrays(draw, shape, values=QUARTERS):
    rows = [[draw(values) for _ in range(shape[1])] for _ in range(shape[0])]
    return T.exact(rows)


SIZES = st.integers(1, 3)
SHAPES = st.tuples(SIZES, SIZES)


@st.composite
def broadcast_pair(draw):
    """Two operand shapes that broadcast: the second may be 1 along either axis."""
    m, n = draw(SHAPES)
    other = draw(st.sampled_from([(m, n), (m, 1), (1, n), (1, 1)]))
    first, second = ((m, n), other) if draw(st.booleans()) else (other, (m, n))
    return draw(arrays(first)), draw(arrays(second))


def central(op, xs, i, k, g, h):
    """d <g, f(xs)> / d xs[i][k] by a central difference of step h."""
    def at(delta):
        moved = [x.copy() for x in xs]
        moved[i][k] = moved[i][k] + delta
        return op.forward(moved)
    plus, minus = T.unify(at(h), at(-h))
    g, plus, minus = T.unify(g, plus, minus)
    return (g * (plus - minus)).sum() / (2 * h)


def check(op, xs, exact: bool, operands=None, g=None):
    if not exact:
        xs = [T.to_float(x) for x in xs]
    out = op.forward(xs)
    if g is None:
        g = T.exact((np.arange(out.size).reshape(out.shape) % 5 - 2).tolist())
    if not exact:
        g = T.to_float(g)
    for i in (range(len(xs)) if operands is None else operands):
        got = op.vjp(i, g, xs, out)
        assert got.shape == xs[i].shape, (op, i, got.shape, xs[i].shape)
        for k in np.ndindex(xs[i].shape):
            want = central(op, xs, i, k, g, H_EXACT if exact else H_FLOAT)
            if exact:
                assert T.is_exact(got) and got[k] == want, (op, i, k, got[k], want)
            else:
                assert float(got[k]) == pytest.approx(float(want), rel=1e-4, abs=1e-5), (op, i, k)


@SETTINGS
@given(st.data())
def test_matmul_and_transpose_exact(data):
    m, n, p = data.draw(SIZES), data.draw(SIZES), data.draw(SIZES)
    a, b = data.draw(arrays((m, n))), data.draw(arrays((n, p)))
    check(TO.MatMul(), [a, b], exact=True)
    check(TO.Transpose(), [a], exact=True)
    assert TO.MatMul().shape([(m, n), (n, p)]) == (m, p)


@SETTINGS
@given(broadcast_pair(), st.sampled_from([(1, 1), (1, -1), (-1, 1)]))
def test_add_and_mul_broadcast_exact(pair, signs):
    check(TO.Add(signs), list(pair), exact=True)
    check(TO.Mul(), list(pair), exact=True)
    assert TO.Add(signs).forward(list(pair)).shape == TO.broadcast_shape([p.shape for p in pair])


@SETTINGS
@given(broadcast_pair())
def test_div_broadcast(pair):
    a, b = pair[0], np.abs(pair[1]) + Fraction(1, 2)
    check(TO.Div(), [a, b], exact=False)
    assert T.is_exact(TO.Div().forward([a, b]))


@SETTINGS
@given(st.data(), st.sampled_from(["sum", "mean"]), st.sampled_from([None, 0, 1]))
def test_reductions_exact(data, how, axis):
    x = data.draw(arrays(data.draw(SHAPES)))
    check(TO.Reduce(how, axis), [x], exact=True)


@SETTINGS
@given(st.data())
def test_reshape_flatten_exact(data):
    m, n = data.draw(SHAPES)
    x = data.draw(arrays((m, n)))
    check(TO.Reshape((n, m)), [x], exact=True)
    check(TO.Reshape(None), [x], exact=True)
    assert TO.Reshape(None).forward([x])[:, 0].tolist() == x.flatten().tolist()  # row by row


@SETTINGS
@given(st.data())
def test_square_exact_and_fractional_power_float(data):
    x = data.draw(arrays(data.draw(SHAPES)))
    check(TO.ElementPower(Fraction(2)), [x], exact=True)
    x = np.abs(x) + Fraction(1, 4)
    check(TO.ElementPower(Fraction(3, 2)), [x], exact=False)
    check(TO.ElementPower(Fraction(3)), [x], exact=False)


@SETTINGS
@given(broadcast_pair(), st.sampled_from(["minimum", "maximum"]))
def test_minimum_maximum_exact_away_from_ties(pair, which):
    a, b = pair[0], pair[1] + Fraction(1, 8)   # quarters never tie with quarters + 1/8
    check(TO.Extreme(which), [a, b], exact=True)


def test_minimum_tie_conventions():
    a, b = T.exact([1, 2]), T.exact([1, 3])
    g = T.exact([1, 1])
    first, split = TO.Extreme("minimum", "first"), TO.Extreme("minimum", "split")
    assert first.vjp(0, g, [a, b], None).tolist() == [[1], [1]]
    assert first.vjp(1, g, [a, b], None).tolist() == [[0], [0]]
    assert split.vjp(1, g, [a, b], None).tolist() == [[Fraction(1, 2)], [0]]


KINKED = {"relu", "leaky_relu", "abs"}  # piecewise linear: exact away from 0


@pytest.mark.parametrize("key", sorted({fn.key for fn in TO.table_functions().values()}))
@SETTINGS
@given(data=st.data())
def test_every_table_function_elementwise(key, data):
    fn = TO.table_functions()[key]
    x = data.draw(arrays(data.draw(SHAPES)))
    x = x + Fraction(1, 8)                      # away from the kinks at 0
    if key in ("log", "sqrt"):
        x = np.abs(x)
    rule = TO.TensorFunction(fn, dict(fn.params), None, None)
    check(rule, [x], exact=key in KINKED)
    assert rule.forward([x]).shape == x.shape


def probabilities(data, shape):
    raw = T.to_float(data.draw(arrays(shape, st.integers(1, 9).map(Fraction))))
    return raw / raw.sum(axis=0, keepdims=True)


def one_hot(data, shape):
    y = np.zeros(shape)
    for j in range(shape[1]):
        y[data.draw(st.integers(0, shape[0] - 1)), j] = 1
    return y


@SETTINGS
@given(st.data(), st.sampled_from([0, 1]))
def test_softmax_and_log_softmax(data, axis):
    z = data.draw(arrays(data.draw(SHAPES)))
    check(TO.TensorSoftmax(axis), [z], exact=False)
    check(TO.LogSoftmax(axis), [z], exact=False)
    p = TO.TensorSoftmax(axis).forward([z])
    assert np.allclose(p.sum(axis=axis), 1)


@SETTINGS
@given(st.data())
def test_cross_entropies(data):
    shape = data.draw(SHAPES)
    p, y = probabilities(data, shape), one_hot(data, shape)
    check(TO.CrossEntropy(), [p, y], exact=False, operands=[0])
    z = T.to_float(data.draw(arrays(shape)))
    check(TO.SoftmaxCrossEntropy(), [z, y], exact=False, operands=[0])
    # with one-hot columns, d/dz of softmax-cross-entropy is p - y
    got = TO.SoftmaxCrossEntropy().vjp(0, np.ones((1, 1)), [z, y], None)
    assert np.allclose(got, TO.TensorSoftmax(0).forward([z]) - y)


def test_unbroadcast_sums_over_stretched_axes():
    g = np.arange(6.0).reshape(2, 3)
    assert TO.unbroadcast(g, (1, 3)).tolist() == [[3.0, 5.0, 7.0]]
    assert TO.unbroadcast(g, (2, 1)).tolist() == [[3.0], [12.0]]
    assert TO.unbroadcast(g, (1, 1)).tolist() == [[15.0]]


def test_shape_errors_name_both_shapes():
    with pytest.raises(TO.ShapeError) as e:
        TO.MatMul().shape([(3, 2), (3, 1)])
    assert e.value.message.format("W1", "x") == "W1 @ x needs W1's columns (2) = x's rows (3)"
    with pytest.raises(TO.ShapeError, match="2x3, 3x1"):
        TO.Add((1, 1)).shape([(2, 3), (3, 1)])
    with pytest.raises(TO.ShapeError, match="axis=2"):
        TO.Reduce("sum", 2).shape([(2, 3)])
    with pytest.raises(TO.ShapeError, match="6 entries"):
        TO.Reshape((4, 1)).shape([(2, 3)])
