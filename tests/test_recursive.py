"""kind: recursive, the GAN discriminator of seed 003 Q5 with symbolic depth (issue 13 item 7)."""

import numpy as np
import pytest

from hwsolve.core.errors import HwsolveError
from hwsolve.core.sym import to_text
from hwsolve.topics import load_and_solve
from hwsolve.topics.recursive import solve as R

from conftest import PROBLEMS


def test_seed003_q5_parts_in_the_sheets_form():
    _, sol = load_and_solve(str(PROBLEMS / "csc6022_q5.yaml"))
    final = {}
    for s in sol.steps:
        final[s.section] = final.get(s.section, []) + [to_text(s.formula)]
    assert final["base"][1] == "1 / n * (1 - D(X^i))"                   # real sample
    assert final["base"][3] == "-(1 / n * D(G(Z^i)))"                    # generated sample
    assert final["recursion"][2] == "g^l'(z^l) ⊙ ((W^(l+1))^T dL/dz^(l+1))"
    assert final["generator"] == ["(W^1)^T dL/dz^1", "sum_i((grad g(Z^i))^T dL/dG(Z^i))"]   # parts 5 and 6
    assert final["updates"] == ["theta_d^t + alpha * grad L", "theta_g^t - alpha * grad_g L"]  # 7 and 8
    assert all(s.note for s in sol.steps)
    assert sol.inline_notes


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_the_recursion_agrees_with_finite_differences(seed):
    assert R.check(seed) < 1e-6


def test_a_generator_gradient_without_the_sum_over_samples_is_caught(monkeypatch):
    """The check covers part 6 too: theta's finite differences see both generated samples."""
    real = R._formula_gradients

    def first_only(Ws, acts, reals, fakes):
        dWs, gen = real(Ws, acts, reals, fakes)
        return dWs, [gen[0], 0 * gen[1]]
    monkeypatch.setattr(R, "_formula_gradients", first_only)
    with pytest.raises(HwsolveError, match="finite differences"):
        R.check()


def test_a_wrong_base_case_is_caught(monkeypatch):
    real = R._backward

    def flipped(Ws, acts, a0, top):
        return real(Ws, acts, a0, -top)
    monkeypatch.setattr(R, "_backward", flipped)
    with pytest.raises(HwsolveError, match="finite differences"):
        R.check()


def test_without_the_activation_derivative_the_check_fails(monkeypatch):
    acts = R._acts()
    monkeypatch.setattr(R, "_acts", lambda: [(g, lambda v: np.ones_like(v)) for g, _ in acts])
    with pytest.raises(HwsolveError):
        R.check()
