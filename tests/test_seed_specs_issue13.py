"""Specs added for issue 13 that are numeric: seed 004 EC.b's second half (the Q3b graph with tanh)."""

import math

from hwsolve.topics import load_and_solve

from conftest import PROBLEMS


def test_ec_b_q3b_half_tanh_output_and_half_squared_error():
    _, sol = load_and_solve(str(PROBLEMS / "csci5922_ec_b_q3b.yaml"))
    assert float(sol.step("R").value) == -0.5                                   # as in Q3b
    yhat = math.tanh(-0.5)
    assert math.isclose(float(sol.step("Yhat").value), yhat, rel_tol=1e-12)
    assert math.isclose(float(sol.step("L").value), 0.5 * (1 - yhat) ** 2, rel_tol=1e-12)
    # dL/dR = (Yhat - Y)(1 - Yhat^2), independently
    assert math.isclose(float(sol.step("dL/dR").value), (yhat - 1) * (1 - yhat ** 2), rel_tol=1e-9)
