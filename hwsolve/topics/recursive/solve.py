"""Backpropagation through L layers with symbolic depth: the GAN discriminator (seed 003 Q5).

kind: recursive. The discriminator has layers l = 1..L, no biases, z^l = W^l A^(l-1), A^l = g^l(z^l),
A^0 its input and D = A^L = sigmoid(z^L). The objective is the GAN's
L = (1/n) sum_i [log D(X^i) + log(1 - D(G(Z^i)))]. Derived, one named rule per line:

    the gradient in terms of grad D        (d/du log u = 1/u, chain rule)
    the base case dL/dz^L for each term    (sigmoid' = D (1 - D))
    the recursion dL/dz^l from dL/dz^(l+1) (z^(l+1) = W^(l+1) g^l(z^l))
    dL/dW^l, and the generator's gradient dL/dG(Z^i) = (W^1)^T dL/dz^1
    the generator's parameters' gradient   (the chain rule through G, summed over the samples)
    one mini-batch step for each player     (the discriminator ascends L, the generator descends it)

`check` builds a concrete 3-layer discriminator with random weights and compares every formula
with central finite differences of the objective.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hwsolve.core.errors import HwsolveError
from hwsolve.core.records import Solution, Step
from hwsolve.core.sym import Const, Symbol, call, diag

SECTIONS = {
    "setup": "The network (layers l = 1, ..., L; no biases)",
    "objective": "The objective in terms of grad D",
    "base": "Base case: the sigmoid output layer, for each term of the objective",
    "recursion": "Recursion: dL/dz^l from dL/dz^(l+1)",
    "generator": "Through the discriminator's first layer to the generator",
    "updates": "One mini-batch step each: the discriminator maximises L, the generator minimises it",
}


@dataclass
class RecursiveProblem:
    title: str
    objective: str = "gan"
    notes: list[str] = field(default_factory=list)
    kind: str = "recursive"


def _s(text: str, latex: str) -> Symbol:
    return Symbol(text, latex)


def _grad(of: str, of_tex: str) -> Symbol:
    return _s(f"dL/d{of}", rf"\frac{{\partial L}}{{\partial {of_tex}}}")


z_l, z_next, z_last, z_1 = (_s("z^l", "z_d^{l}"), _s("z^(l+1)", "z_d^{l+1}"), _s("z^L", "z_d^{L_d}"),
                            _s("z^1", "z_d^{1}"))
A_prev, A_l = _s("A^(l-1)", "A_d^{l-1}"), _s("A^l", "A_d^{l}")
W_l, W_next, W_1 = _s("W^l", "W_d^{l}"), _s("W^(l+1)", "W_d^{l+1}"), _s("W^1", "W_d^{1}")
D_real, D_fake = _s("D(X^i)", r"D(X^i)"), _s("D(G(Z^i))", r"D(G(Z^i))")
n = _s("n", "n")
one = Const(1)


def _g(z: Symbol):
    return call("g^l", "g_d^{l}", z)


def _gp(z: Symbol):
    return call("g^l'", "{g_d^{l}}'", z)


def lines() -> list[tuple[str, Symbol | None, object, str]]:
    """(section, lhs or None to continue, rhs, rule)."""
    dLz, dLzn, dLzL = _grad("z^l", "z_d^{l}"), _grad("z^(l+1)", "z_d^{l+1}"), _grad("z^L", "z_d^{L_d}")
    gradD_real = _s("grad D(X^i)", r"\nabla_{\theta_d} D(X^i)")
    gradD_fake = _s("grad D(G(Z^i))", r"\nabla_{\theta_d} D(G(Z^i))")
    grad_L = _s("grad L", r"\nabla_{\theta_d} L")
    sum_i = lambda e: call("sum_i", r"\sum_{i=1}^{n}", e)  # noqa: E731
    gen = _s("dL/dG(Z^i)", r"\frac{\partial L}{\partial G(Z^i)}")
    grad_g = _s("grad_g L", r"\nabla_{\theta_g} L")
    theta_d, theta_g, alpha = _s("theta_d^t", r"\theta_d^{t}"), _s("theta_g^t", r"\theta_g^{t}"), _s("alpha", r"\alpha")
    dz1 = _grad("z^1", r"z_d^{1}")   # for the generated sample G(Z^i)
    return [
        ("setup", z_l, W_l @ A_prev, "a layer without bias; A^0 is the discriminator's input"),
        ("setup", A_l, _g(z_l), "the activation of layer l"),
        ("setup", _s("D", "D"), call("sigmoid", r"\sigma", z_last), "the last layer is a sigmoid, so D is in (0, 1)"),
        ("objective", grad_L, (one / n) * sum_i(hdiv_(gradD_real, D_real) - hdiv_(gradD_fake, one - D_fake)),
         "d/du log u = 1/u with the chain rule, term by term; grad(1 - D) = -grad D"),
        ("base", dLzL, (one / n) * (hdiv_(one, D_real) * (D_real * (one - D_real))),
         "real sample X^i: dL/dD = 1/(n D), and dD/dz^L = sigmoid'(z^L) = D (1 - D)"),
        ("base", None, (one / n) * (one - D_real), "cancel D"),
        ("base", dLzL, (one / n) * (-hdiv_(one, one - D_fake) * (D_fake * (one - D_fake))),
         "generated sample G(Z^i): dL/dD = -1/(n (1 - D)), and the same sigmoid'"),
        ("base", None, -((one / n) * D_fake), "cancel 1 - D"),
        ("recursion", dLz, (_jac_t("dA^l/dz^l", r"\frac{\partial A_d^{l}}{\partial z_d^{l}}")
                            @ _jac_t("dz^(l+1)/dA^l", r"\frac{\partial z_d^{l+1}}{\partial A_d^{l}}")) @ dLzn,
         "chain rule in gradient layout: z^l -> A^l -> z^(l+1)"),
        ("recursion", None, (diag(_gp(z_l)) @ W_next.T) @ dLzn,
         "dz^(l+1)/dA^l = W^(l+1); dA^l/dz^l = diag(g^l'(z^l)), which is symmetric"),
        ("recursion", None, _gp(z_l).odot(W_next.T @ dLzn), "diag(v) u = v ⊙ u"),
        ("recursion", _grad("W^l", "W_d^{l}"), dLz @ A_prev.T,
         "z^l = W^l A^(l-1): the outer product with the layer's input, summed over the samples"),
        ("generator", gen, W_1.T @ dz1, "z^1 = W^1 A^0 with A^0 = G(Z^i): the recursion one step further, "
         "to the input (dL/dz^1 of the generated sample)"),
        ("generator", grad_g, sum_i(_s("(grad g(Z^i))^T", r"\left(\nabla_{\theta_g} g(Z^i)\right)^\top") @ gen),
         "only log(1 - D(G(Z^i))) depends on theta_g: the chain rule through each generated sample, "
         "its Jacobian transposed times dL/dG(Z^i) (which holds the 1/n)"),
        ("updates", _s("theta_d^(t+1)", r"\theta_d^{t+1}"), theta_d + alpha * grad_L,
         "gradient ascent: the discriminator maximises L"),
        ("updates", _s("theta_g^(t+1)", r"\theta_g^{t+1}"), theta_g - alpha * grad_g,
         "gradient descent: the generator minimises L"),
    ]


def hdiv_(a, b):
    return a / b


def _jac_t(text: str, latex: str):
    return Symbol(f"({text})", rf"\left({latex}\right)").T


def solve(prob: RecursiveProblem) -> Solution:
    sol = Solution(prob.title, "recursive", sections=dict(SECTIONS))
    sol.inline_notes = list(SECTIONS)
    head = "L"
    for section, lhs, rhs, rule in lines():
        head = lhs.text if lhs is not None else head
        sol.add(Step(lhs.text if lhs is not None else sol.continued(head), section, formula=rhs,
                     label=lhs if lhs is not None else Symbol("", ""), note=rule))
    worst = check()
    sol.notes = list(prob.notes) + [
        "Maximising L: D(X^i) -> 1 makes log D(X^i) -> 0 (its largest value) and D(G(Z^i)) -> 0 makes "
        "log(1 - D(G(Z^i))) -> 0: the discriminator is a binary classifier trained by gradient ascent on "
        "the log-likelihood of the labels real = 1, generated = 0.",
        f"Checked: on a 3-layer discriminator with random weights (tanh, ReLU, sigmoid) and a linear "
        f"generator G(Z) = theta Z, the base cases, the recursion, dL/dW^l, dL/dG(Z^i) and grad_g L agree with "
        f"central finite differences of L (largest difference {worst:.1e}).",
    ]
    return sol


# -- the check --------------------------------------------------------------------------------


def _forward(Ws, acts, a0):
    zs, As = [], [a0]
    for W, (g, _) in zip(Ws, acts, strict=True):
        zs.append(W @ As[-1])
        As.append(g(zs[-1]))
    return zs, As


def _acts():
    import numpy as np

    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    return [(np.tanh, lambda v: 1 - np.tanh(v) ** 2),
            (lambda v: np.maximum(v, 0), lambda v: (v > 0).astype(float)),
            (sig, lambda v: sig(v) * (1 - sig(v)))]


def _objective(Ws, acts, reals, fakes) -> float:
    import numpy as np

    total = sum(np.log(_forward(Ws, acts, x)[1][-1][0, 0]) for x in reals)
    total += sum(np.log(1 - _forward(Ws, acts, g)[1][-1][0, 0]) for g in fakes)
    return float(total / len(reals))   # n = the batch size, one real and one generated sample each


def _backward(Ws, acts, a0, top: float):
    """The derived formulas: dL/dz^l by the recursion from the base case `top`, then dL/dW^l, dL/dA^0."""
    import numpy as np

    zs, As = _forward(Ws, acts, a0)
    deltas: list[Any] = [None] * len(Ws)
    deltas[-1] = np.array([[top]])
    for k in range(len(Ws) - 2, -1, -1):
        deltas[k] = acts[k][1](zs[k]) * (Ws[k + 1].T @ deltas[k + 1])      # g^l'(z^l) ⊙ (W^(l+1))^T delta
    dWs = [d @ As[k].T for k, d in enumerate(deltas)]
    return dWs, Ws[0].T @ deltas[0]


def _formula_gradients(Ws, acts, reals, fakes):
    """dL/dW^l summed over the batch (base case per term, then the recursion), and dL/dG(Z^i)."""
    import numpy as np

    n_batch = len(reals)
    dWs = [np.zeros_like(W) for W in Ws]
    gen = []
    for sample, real in [(x, True) for x in reals] + [(g, False) for g in fakes]:
        d = _forward(Ws, acts, sample)[1][-1][0, 0]
        top = (1 - d) / n_batch if real else -d / n_batch      # the two base cases
        parts, d_input = _backward(Ws, acts, sample, top)
        dWs = [a + b for a, b in zip(dWs, parts, strict=True)]
        if not real:
            gen.append(d_input)
    return dWs, gen


def _central(f, arrays, k, idx, h=1e-6) -> float:
    """Central difference of f(list of arrays) in entry idx of arrays[k]."""
    up, down = [a.copy() for a in arrays], [a.copy() for a in arrays]
    up[k][idx] += h
    down[k][idx] -= h
    return (f(up) - f(down)) / (2 * h)


def check(seed: int = 3) -> float:
    """The derived formulas against finite differences on a random 3-layer discriminator."""
    import numpy as np

    rng = np.random.default_rng(seed)
    widths = [4, 5, 3, 1]
    Ws = [rng.normal(scale=0.8, size=(widths[k + 1], widths[k])) for k in range(3)]
    acts = _acts()
    reals = [rng.normal(size=(4, 1)) for _ in range(2)]
    theta, zs = rng.normal(size=(4, 3)), [rng.normal(size=(3, 1)) for _ in range(2)]   # G(Z) = theta Z
    fakes = [theta @ z for z in zs]
    dWs, gen = _formula_gradients(Ws, acts, reals, fakes)
    worst = 0.0
    for k, W in enumerate(Ws):
        for idx in np.ndindex(W.shape):
            fd = _central(lambda ws: _objective(ws, acts, reals, fakes), Ws, k, idx)
            worst = max(worst, abs(fd - dWs[k][idx]))
    for j, g in enumerate(fakes):
        for r in range(g.shape[0]):
            fd = _central(lambda fk: _objective(Ws, acts, reals, fk), fakes, j, (r, 0))
            worst = max(worst, abs(fd - gen[j][r, 0]))
    grad_theta = sum(g @ z.T for g, z in zip(gen, zs, strict=True))   # sum_i (grad g)^T dL/dG(Z^i)
    for idx in np.ndindex(theta.shape):
        fd = _central(lambda th: _objective(Ws, acts, reals, [th[0] @ z for z in zs]), [theta], 0, idx)
        worst = max(worst, abs(fd - grad_theta[idx]))
    if worst > 1e-6:
        raise HwsolveError(f"internal: the recursive formulas differ from finite differences by {worst:.2e}")
    return worst
