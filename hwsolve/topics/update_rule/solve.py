"""The loss behind an update rule (seed 002 1.4), found step by step (kind: update_rule).

Given yhat = f(s) with s = b + sum_i w_i x_i and an update w_i <- w_i + eta (y - yhat) x_i, the
loss L whose gradient descent step (w_i <- w_i - eta dL/dw_i) is that update:

    1. match the update with gradient descent           dL/dw_i = -(increment) / eta
    2. the chain rule, ds/dw_i = x_i                    dL/ds = dL/dw_i / x_i  (must not depend on i)
    3. yhat = f(s)                                      dL/ds = f(s) - y
    4. integrate in s                                   L = F(s) - y s + C, F an antiderivative of f
    5. a constant that makes L read as a known loss     (s - y)^2 / 2, 2 max(0, -y s), ...

The update is read by hwsolve's own parser (`spec.expr`) and built into sympy node by node; sympy
differentiates the result back, and the loss is checked against the update at random numbers by
finite differences in every weight.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from hwsolve.core.errors import HwsolveError
from hwsolve.core.notation import expression_latex
from hwsolve.core.records import Solution, Step
from hwsolve.core.sym import Symbol
from hwsolve.topics.prove.bridge import shown, to_sympy

SECTIONS = {"model": "The model and the update", "steps": "From the update to the loss, one rule per line",
            "answer": "The loss"}

# output function -> (how it prints, antiderivative rule in words, the known loss it gives)
OUTPUTS = {
    "sign": ("sign(s)", "the antiderivative of sign(s) is |s|",
             "|s| - y s = 2 max(0, -y s) for y in {-1, 1}: the perceptron loss (the 2 is absorbed in eta)"),
    "identity": ("s", "the antiderivative of s is s^2 / 2",
                 "s^2/2 - y s + y^2/2 = (s - y)^2 / 2: half the squared error (Adaline / LMS)"),
    "tanh": ("tanh(s)", "the antiderivative of tanh(s) is log cosh(s)",
             "log cosh(s) - y s: the loss of tanh 'logistic regression' with y in {-1, 1}"),
    "sigmoid": ("sigmoid(s)", "the antiderivative of sigmoid(s) is log(1 + e^s)",
                "log(1 + e^s) - y s: the binary cross-entropy of logistic regression with y in {0, 1}"),
}
DEFAULT_UPDATE = "w_i + eta*(y - yhat)*x_i"


@dataclass
class UpdateProblem:
    title: str
    output: str                      # a key of OUTPUTS
    update_text: str
    update: object                   # spec.expr tree: the new value of w_i
    notes: list[str] = field(default_factory=list)
    kind: str = "update_rule"


def _f(output: str, s):
    import sympy

    from hwsolve.topics.prove.bridge import Sigmoid

    return {"sign": sympy.sign(s), "identity": s, "tanh": sympy.tanh(s), "sigmoid": Sigmoid.get()(s)}[output]


def _antiderivative(output: str, s):
    import sympy

    return {"sign": sympy.Abs(s), "identity": s ** 2 / 2, "tanh": sympy.log(sympy.cosh(s)),
            "sigmoid": sympy.log(1 + sympy.exp(s))}[output]


def derive_loss(prob: UpdateProblem):
    """The lines (lhs, expression, rule) and the loss L(s, y), all sympy."""
    import sympy

    names = {n: sympy.Symbol(n, real=True) for n in ("w_i", "eta", "y", "yhat", "x_i")}
    s = sympy.Symbol("s", real=True)
    w, eta, y, yhat, x = (names[k] for k in ("w_i", "eta", "y", "yhat", "x_i"))
    new_w = to_sympy(prob.update, names)
    increment = sympy.expand(new_w - w)
    dl_dw = sympy.factor(-increment / eta)
    dl_ds = sympy.simplify(dl_dw / x)
    if dl_ds.has(x) or dl_ds.has(w) or dl_ds.has(eta):
        raise HwsolveError(f"update: dL/ds would be {dl_ds}, which still depends on x_i, w_i or eta; this update "
                           "is not gradient descent on a loss of s = b + w . x")
    fs = _f(prob.output, s)
    dl_ds_s = sympy.expand(dl_ds.subs(yhat, fs))
    F = _antiderivative(prob.output, s)
    loss = F - y * s if sympy.simplify(sympy.diff(dl_ds_s, y) + 1) == 0 else sympy.integrate(dl_ds_s, s)
    lines = [
        ("w_i(new)", new_w, "the update rule"),
        ("w_i(new)", w - eta * sympy.Symbol("dL/dw_i"), "gradient descent: w_i <- w_i - eta dL/dw_i"),
        ("dL/dw_i", dl_dw, "match the two: -eta dL/dw_i is the update's increment"),
        ("dL/ds", dl_ds, "chain rule: dL/dw_i = dL/ds * ds/dw_i, and ds/dw_i = x_i for s = b + sum_i w_i x_i"),
        ("dL/ds", dl_ds_s, f"yhat = {OUTPUTS[prob.output][0]}"),
        ("L", sympy.Integral(dl_ds_s, s), "integrate in s: L is an antiderivative of dL/ds"),
        ("L", loss + sympy.Symbol("C"), OUTPUTS[prob.output][1] + ", and of -y is -y s"),
    ]
    if prob.output == "identity":
        lines.append(("L", (s - y) ** 2 / 2, "choose C = y^2/2 (it does not depend on w or b)"))
        loss = (s - y) ** 2 / 2
    return lines, loss, s, y, dl_ds_s


def solve(prob: UpdateProblem) -> Solution:
    from hwsolve.topics.prove.bridge import time_limit

    with time_limit():
        return _solve(prob)


def _solve(prob: UpdateProblem) -> Solution:
    sol = Solution(prob.title, "update_rule", sections=dict(SECTIONS))
    sol.inline_notes = ["steps"]
    lines, loss, s, y, dl_ds = derive_loss(prob)
    f_text = OUTPUTS[prob.output][0]
    f_latex = {"sign(s)": r"\operatorname{sign}(s)", "tanh(s)": r"\tanh(s)",
               "sigmoid(s)": r"\sigma(s)"}.get(f_text, "s")
    sol.add(Step("yhat", "model", formula=Symbol(f"{f_text}, s = b + sum_i w_i x_i",
                                                 f_latex + r",\quad s = b + \sum_i w_i x_i"),
                 label=Symbol("yhat", r"\hat{y}")))
    update = prob.update_text.replace("*", " ")
    sol.add(Step("w_i", "model", formula=Symbol(update, expression_latex(update)),
                 label=Symbol("w_i <-", r"w_i^{\text{new}}"), note="the update rule"))
    last = None
    for lhs, e, rule in lines:
        label = Symbol(lhs, _latex_label(lhs)) if lhs != last else Symbol("", "")
        sol.add(Step(lhs if lhs != last else sol.continued(lhs), "steps", formula=shown(e), label=label, note=rule))
        last = lhs
    checked = check(prob, loss, s, y)
    sol.add(Step("L", "answer", formula=shown(loss), label=Symbol("L", "L"), value=OUTPUTS[prob.output][2]))
    sol.notes = list(prob.notes) + [
        f"Checked: sympy differentiates L(b + w . x) back to the update's gradient, and at {checked} random "
        "points -eta dL/dw_i from central finite differences equals the update's increment."]
    return sol


def _latex_label(lhs: str) -> str:
    return {"w_i(new)": r"w_i^{\text{new}}", "dL/dw_i": r"\frac{\partial L}{\partial w_i}",
            "dL/ds": r"\frac{\partial L}{\partial s}", "L": "L"}.get(lhs, lhs)


def check(prob: UpdateProblem, loss, s, y, points: int = 4) -> int:
    """L(s(w)) differentiated (sympy, then finite differences) equals the update, at random numbers."""
    import sympy

    d = 3
    ws = sympy.symbols(f"w1:{d + 1}", real=True)
    xs = sympy.symbols(f"x1:{d + 1}", real=True)
    b, eta = sympy.Symbol("b", real=True), sympy.Symbol("eta", positive=True)
    s_of_w = b + sum(wk * xk for wk, xk in zip(ws, xs, strict=True))
    L = loss.subs(s, s_of_w)
    from hwsolve.topics.prove.bridge import Sigmoid

    yhat = _f(prob.output, s_of_w).rewrite(Sigmoid.get(), sympy.exp)   # numbers, not sigma(0.3)
    names = {"eta": eta, "y": y, "yhat": yhat}
    rng = random.Random(7)
    for _ in range(points):
        # y as the sheet's labels: +-1 for sign and tanh, 0/1 for the sigmoid, any number for Adaline
        yv = {"sign": rng.choice([-1, 1]), "tanh": rng.choice([-1, 1]), "sigmoid": rng.choice([0, 1])}.get(
            prob.output, sympy.Rational(rng.randint(-9, 9), 4))
        at = {b: sympy.Rational(rng.randint(-9, 9), 8), eta: sympy.Rational(1, 10), y: yv}
        at.update({k: sympy.Rational(rng.choice([v for v in range(-9, 10) if v]), 8) for k in ws + xs})
        for k, (wk, xk) in enumerate(zip(ws, xs, strict=True)):
            names.update(w_i=wk, x_i=xk)
            increment = (to_sympy(prob.update, names) - wk).subs(at)
            symbolic = (-eta * sympy.diff(L, wk)).subs(at)
            h = sympy.Rational(1, 10 ** 6)
            fd = -at[eta] * (L.subs({**at, wk: at[wk] + h}) - L.subs({**at, wk: at[wk] - h})) / (2 * h)
            for what, got in (("sympy's derivative", symbolic), ("finite differences", fd)):
                if abs(complex(sympy.N(got - increment, 30))) > 1e-6:
                    raise HwsolveError(f"internal: {what} of L gives {sympy.N(got)} for w_{k + 1}, "
                                       f"the update {sympy.N(increment)}")
    return points
