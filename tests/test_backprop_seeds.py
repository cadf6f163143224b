"""The other seeds' layered networks, pinned against values worked out here in closed form."""

import math
from fractions import Fraction as F

import numpy as np
import pytest

from hwsolve.topics.backprop.solve import solve
from hwsolve.topics.backprop.load import load_backprop

from conftest import PROBLEMS


def _solve(name):
    return solve(load_backprop(str(PROBLEMS / name)))


def _sigmoid(x):
    return 1 / (1 + math.exp(-x))


def test_seed_004_q3a_leaky_relu_sigmoid_bce():
    sol = _solve("csci5922_q3a.yaml")
    # exact up to the sigmoid: z = W X + B = [-2, 2], H = LeakyReLU_0.1(z) = [-1/5, 2], z3 = 4/5
    assert sol.step("z").value == (-2, 2)
    assert sol.step("H").value == (F(-1, 5), 2)
    assert sol.step("z3").value == F(4, 5)
    s = _sigmoid(0.8)
    assert sol.step("Yhat").value == pytest.approx(s)
    assert sol.step("L").value == pytest.approx(-math.log(1 - s))
    # sigmoid + BCE with Y = 0: dL/dz3 = s - Y = s; everything below is s times a rational
    want = {"dL/dz3": s, "dL/dW3": ((-s / 5, 2 * s),), "dL/dB3": s, "dL/dH": (s, s),
            "dL/dz": (s / 10, s), "dL/dW": ((-s / 10, s / 10), (-s, s)), "dL/dB": (s / 10, s),
            "dL/dX": (-0.9 * s, 0.4 * s)}
    for name, value in want.items():
        assert np.allclose(np.array(sol.step(name).value, dtype=float), value, rtol=1e-12), name
    # the student's table, to its 2-3 figures: dX = [-0.621, 0.276], dW3 = [-0.138, 1.38]
    assert round(sol.step("dL/dX").value[0], 3) == -0.621
    assert round(sol.step("dL/dX").value[1], 3) == 0.276


def test_seed_004_ec_b_tanh_half_squared_error():
    sol = _solve("csci5922_ec_b.yaml")
    t = math.tanh(0.8)
    assert sol.step("Yhat").value == pytest.approx(t)
    assert sol.step("L").value == pytest.approx(0.5 * (t + 1) ** 2)  # 1.385 in the student's text
    assert sol.step("dL/dz3").value == pytest.approx((t + 1) * (1 - t * t))


def test_seed_003_q1_numeric_u2_is_p_minus_y():
    sol = _solve("csc6022_q1_numeric.yaml")
    x = np.array([1, -2.0])
    W = np.array([[1, 2], [-1, 0], [0.5, -1]])
    b1 = np.array([1, 0, -1.0])
    V = np.array([[1, -1, 2], [0, 1, -1.0]])
    b2 = np.array([0, 1.0])
    z = W @ x + b1
    h = np.maximum(z, 0)
    a = V @ h + b2
    p = np.exp(a) / np.exp(a).sum()
    y = np.array([0, 1.0])
    u2 = p - y
    u1 = (V.T @ u2) * (z > 0)
    assert sol.step("z").value == (-2, -1, F(3, 2))
    assert np.allclose(sol.step("dL/da").value, u2)
    assert np.allclose(sol.step("dL/dV").value, np.outer(u2, h))
    assert np.allclose(sol.step("dL/db_2").value, u2)
    assert np.allclose(sol.step("dL/dz").value, u1)
    assert np.allclose(sol.step("dL/dW").value, np.outer(u1, x))
    assert np.allclose(sol.step("dL/dx").value, W.T @ u1)
    assert str(sol.step("dL/da").formula) == "p - y"


def test_seed_002_1_2_numerator_layout_rows_and_transposes():
    sol = _solve("nyu2572_1_2.yaml")
    x = np.array([1, 2.0])
    W1 = np.array([[1, -1], [2, 0], [0, 1.0]])
    b1 = np.array([0, -1, 1.0])
    W2 = np.array([[0.2, 0, -1], [0, 0.1, 0.2]])
    b2 = np.array([1, 0.0])
    y = np.array([1, -1.0])
    z1 = W1 @ x + b1
    z2 = 5 * np.maximum(z1, 0)
    yhat = W2 @ z2 + b2
    g = 2 * (yhat - y)                       # dl/dyhat as a column
    g1 = (W2.T @ g) * 5 * (z1 > 0)           # dl/dz1 as a column
    assert sol.step("dl/dyhat").shape == (1, 2)           # a row vector
    assert np.allclose(sol.step("dl/dyhat").value, [g])
    assert sol.step("dl/dW^(1)").shape == (2, 3)          # the transpose of W1's 3x2
    assert np.allclose(sol.step("dl/dW^(1)").value, np.outer(g1, x).T)
    assert np.allclose(sol.step("dl/dx").value, [W1.T @ g1])
    assert str(sol.step("dl/dz_1").formula) == "dl/dz_2 diag(5 * ReLU'(z_1))"
    assert sol.step("dl/dW^(1)").exact  # ReLU, linear and squared error stay exact


@pytest.mark.parametrize("name", ["nyu2572_1_3a.yaml", "nyu2572_1_3b.yaml"])
def test_seed_002_1_3_tanh_sigmoid(name):
    sol = _solve(name)
    x = np.array([1, 2.0])
    W1 = np.array([[1, -1], [2, 0], [0, 1.0]])
    b1 = np.array([0, -1, 1.0])
    W2 = np.array([[0.2, 0, -1], [0, 0.1, 0.2]])
    b2 = np.array([1, 0.0])
    y = np.array([1, 0.0])
    z2 = np.tanh(W1 @ x + b1)
    yhat = 1 / (1 + np.exp(-(W2 @ z2 + b2)))
    g = 2 * (yhat - y) if "1_3a" in name else (yhat - y) / (yhat * (1 - yhat)) / 2
    g3 = g * yhat * (1 - yhat)
    g1 = (W2.T @ g3) * (1 - z2 ** 2)
    assert np.allclose(sol.step("dl/dW^(2)").value, np.outer(g3, z2).T)
    assert np.allclose(sol.step("dl/dW^(1)").value, np.outer(g1, x).T)
