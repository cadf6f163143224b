"""The rule table is the one place a new activation or loss goes (issue 10's test of the design).

The shipped ELU and Huber entries are taken out, and this file registers its own definitions,
written here from the formulas, each as ONE `register(...)` call with no other file changed.
Then they must work everywhere: network specs, graph specs, `derive`, LaTeX, the graph drawing
and grading's named mistakes (including a mistake only this entry admits).
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from click.testing import CliRunner

from hwsolve.autodiff import functions as F
from hwsolve.cli import main
from hwsolve.core.sym import Const, call, indicator
from hwsolve.grade.answers import Submission, parse_value
from hwsolve.grade.grader import grade, load_key
from hwsolve.render import renderer
from hwsolve.render.dot import graph_dot
from hwsolve.topics import load_and_solve


def _elu(x, alpha=Fraction(1), **_):
    return x if x > 0 else float(alpha) * math.expm1(float(x))


def _elu_d(x, alpha=Fraction(1), at_zero_value=None, **_):
    if x > 0:
        return 1 + 0 * x
    return float(alpha) * math.exp(float(x))


def _written(x, y, mul, params):
    return (indicator(x) + mul(Const(params["alpha"]) * call("exp", r"\exp", x), indicator(x, "<=")),
            "ELU'(x) = 1 if x > 0, alpha exp(x) otherwise")


# a slip only this entry admits: the alpha dropped from the derivative's negative side
ALPHA_DROPPED = F.WrongDerivative(
    "elu_alpha_dropped", "ELU's alpha dropped from its derivative", "gradients below an ELU",
    lambda x, alpha=Fraction(1), **_: 1 + 0 * x if x > 0 else math.exp(float(x)),
    changes=lambda xs: any(v <= 0 for v in xs), detail="{f}'({x}) taken as exp({x}) for {x} <= 0")

ELU = F.Elementwise("elu", "ELU", r"\operatorname{ELU}", _elu, _elu_d, False,
                    params={"alpha": Fraction(1)}, kink=Fraction(0), written=_written,
                    check_params=lambda p: None if p["alpha"] > 0 else "alpha must be > 0",
                    mistakes=(ALPHA_DROPPED,))


def _huber(yh, y, delta=Fraction(1), **_):
    r = [abs(a - b) for a, b in zip(yh, y, strict=True)]
    return sum(v * v / 2 if v <= delta else delta * (v - delta / 2) for v in r) / len(r)


def _huber_grad(yh, y, delta=Fraction(1), **_):
    return [max(-delta, min(delta, a - b)) / len(yh) for a, b in zip(yh, y, strict=True)]


def _huber_formula(yh, y, K, scalar, delta=Fraction(1), **_):
    return Const(Fraction(1, K)) * call(f"Huber_{delta}", rf"\operatorname{{Huber}}_{{{delta}}}", yh - y)


def _huber_grad_formula(yh, y, K, scalar, delta=Fraction(1), **_):
    return Const(Fraction(1, K)) * call(f"clip_{delta}", rf"\operatorname{{clip}}_{{{delta}}}", yh - y)


def _huber_numpy(delta=Fraction(1), **_):
    d = float(delta)
    return {f"Huber_{delta}": lambda a: np.where(np.abs(a) <= d, a * a / 2, d * (np.abs(a) - d / 2)),
            f"clip_{delta}": lambda a: np.clip(a, -d, d)}


HUBER = F.Loss("huber", "Huber loss, mean over outputs", True, _huber, _huber_grad, _huber_formula,
               _huber_grad_formula, params={"delta": Fraction(1)}, functions=_huber_numpy,
               check_params=lambda p: None if p["delta"] > 0 else "delta must be > 0")


@pytest.fixture()
def table():
    """The shipped entries out, this file's in; the table restored afterwards."""
    shipped_elu, shipped_huber = F.ELEMENTWISE.pop("elu"), F.LOSSES.pop("huber")
    F.register(ELU)
    F.register(HUBER)
    yield
    F.register(shipped_elu)
    F.register(shipped_huber)


NETWORK = """\
hwsolve: 1
kind: network
input: [1, -2]
target: [1/2]
layers:
  - linear: {W: [[1, 1], [2, -1]], b: [0, 1]}
  - {type: elu, alpha: 1/2}
  - linear: {W: [[1, -3]], b: [1]}
loss: {type: huber, delta: 1}
"""


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def _numpy_reference():
    """The same network by hand in float numpy: forward, loss, dL/dW1."""
    x, y = np.array([1.0, -2.0]), np.array([0.5])
    W1, b1, W2, b2 = np.array([[1.0, 1.0], [2.0, -1.0]]), np.array([0.0, 1.0]), np.array([[1.0, -3.0]]), 1.0
    a = W1 @ x + b1
    z = np.where(a > 0, a, 0.5 * np.expm1(a))
    yhat = W2 @ z + b2
    r = yhat - y
    g = np.clip(r, -1, 1)                                  # Huber'(r), delta = 1, K = 1
    dz = W2.T @ g
    da = dz * np.where(a > 0, 1.0, 0.5 * np.exp(a))
    loss = np.where(np.abs(r) <= 1, r * r / 2, np.abs(r) - 0.5).sum()
    return a, yhat, loss, np.outer(da, x)


def test_a_new_activation_and_loss_work_in_network_specs(table, tmp_path):
    _, sol = load_and_solve(_write(tmp_path, "net.yaml", NETWORK))
    a, yhat, loss, dW1 = _numpy_reference()
    assert np.allclose(np.array(sol.step("a[1]").value, dtype=float), a)
    assert math.isclose(float(sol.step("L").value), float(loss))
    assert np.allclose(np.array(sol.step("dL/dW[1]").value, dtype=float), dW1)
    # the local derivative is a step of its own, named by the entry's label and its parameter
    assert any(s.name == "ELU_0.5'(a[1])" for s in sol.in_section("local"))


def test_they_work_in_graph_specs(table, tmp_path):
    spec = """\
hwsolve: 1
kind: graph
inputs: {x: -1}
params: {w: 2}
targets: {y: 3}
nodes:
  h: elu(w * x, 1/2)
  p: 4 * h + 1
loss: {type: huber, delta: 1, prediction: p, target: y}
"""
    _, sol = load_and_solve(_write(tmp_path, "g.yaml", spec))
    h = 0.5 * math.expm1(-2)
    assert math.isclose(float(sol.step("h").value), h)
    # p - y = 4h - 2 < -1: Huber's linear part, dL/dp = -1; dh/d(wx) = 1/2 e^-2; d(wx)/dw = x = -1
    assert math.isclose(float(sol.step("dL/dw").value), -4 * 0.5 * math.exp(-2) * -1)


def test_they_work_in_derive_latex_and_the_drawing(table, tmp_path):
    spec = """\
hwsolve: 1
kind: derive
input: n
layers:
  - linear: {out: d}
  - {type: elu, alpha: 2}
  - linear: {out: K}
loss: {type: huber, delta: 2}
"""
    result = CliRunner().invoke(main, ["derive", _write(tmp_path, "d.yaml", spec), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert "ELU_2'" in result.output and "clip_2" in result.output   # checked against the engine
    _, sol = load_and_solve(_write(tmp_path, "net.yaml", NETWORK))
    latex = renderer("latex").render(sol, 6, fragment=True)
    assert r"\operatorname{ELU}" in latex and r"\operatorname{Huber}" in latex
    dot = graph_dot(sol)
    assert "ELU_0.5" in dot and '"huber"' in dot


def test_grading_names_the_mistakes_the_entry_admits(table, tmp_path):
    key = load_key(_write(tmp_path, "net.yaml", NETWORK))
    a, _, _, _ = _numpy_reference()
    # a[1] = (1, 3): the first unit is on the negative side; its ELU' is 1/2 exp(-1), not exp(-1)
    x, W2 = np.array([1.0, -2.0]), np.array([[1.0, -3.0]])
    z = np.where(a > 0, a, 0.5 * np.expm1(a))
    g = np.clip(W2 @ z + 1.0 - 0.5, -1, 1)
    wrong = {"elu_alpha_dropped": np.where(a > 0, 1.0, np.exp(a)),      # alpha dropped
             "activation_for_derivative": z}                            # ELU(a) used for ELU'(a)
    wrong = {k: np.outer((W2.T @ g) * slope, x) for k, slope in wrong.items()}
    for mistake, value in wrong.items():
        text = [[str(v) for v in row] for row in value.tolist()]
        result = grade(key, Submission("s.yaml", "s", {"dL/dW[1]": parse_value(text)}))
        step = next(s for s in result.steps if s.name == "dL/dW[1]")
        assert step.verdict != "correct" and step.mistake == mistake, (mistake, step)


def test_the_lists_of_names_come_from_the_table(table):
    from hwsolve.grade.mistakes import mistakes
    from hwsolve.topics.derive.spec import supported
    from hwsolve.topics.rules_spec import expression_functions

    assert "elu" in expression_functions() and "elu" in supported()
    assert "elu_alpha_dropped" in {m.key for m in mistakes()}
    F.unregister("elu")
    assert "elu" not in expression_functions() and "elu_alpha_dropped" not in {m.key for m in mistakes()}
    F.register(ELU)
