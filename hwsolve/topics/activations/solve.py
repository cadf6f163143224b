"""Element-wise activations and their derivatives: values at chosen points and plot data.

The functions come from the one table, `hwsolve.autodiff.functions.ELEMENTWISE` (the same entries
backprop uses), so a derivative printed here is the derivative used in a backward pass, including
the convention at a kink (ReLU'(0) = 0). A name may carry the entry's first parameter after a
colon, as in network specs: ``leaky_relu:0.01`` (slope), ``softplus:2`` (beta).

`spec.load(path)` / `spec.from_names(...)` build a problem; `solve(problem)` returns a `Solution` whose
``figure`` holds the curves for `hwsolve.render.plot`.
"""

from __future__ import annotations

from fractions import Fraction

from hwsolve.core.numfmt import fmt_number, to_float
from hwsolve.core.records import Figure, Series, Solution, Step
from hwsolve.core.sym import Symbol
from hwsolve.topics.activations.spec import Activation, ActivationsProblem

SAMPLES = 801            # points on the plotted grid (odd, so 0 is on it for a symmetric range)


def _label(a: Activation) -> str:
    shown = ", ".join(f"{k}={fmt_number(v)}" for k, v in a.params.items())
    return a.fn.text + (f"({shown})" if shown else "")


def _eval(a: Activation, x, derivative: bool):
    """f(x) or f'(x): exact for a rational x when the entry is exact, else a float."""
    fn = a.fn.df if derivative else a.fn.f
    try:
        if a.fn.exact and isinstance(x, Fraction):
            v = fn(x, **a.params)
            return v.numerator if isinstance(v, Fraction) and v.denominator == 1 else v
        return float(fn(to_float(x), **a.params))
    except (OverflowError, ValueError, ZeroDivisionError):  # exp(1e300), log(0), sqrt(-1)
        from hwsolve.core.errors import MathError

        what = "derivative" if derivative else "function"
        raise MathError(f"the {what} is undefined or out of float range at x = {fmt_number(x)}",
                        field=str(getattr(a, "name", "activation"))) from None


def solve(prob: ActivationsProblem) -> Solution:
    which = [d for d, on in ((False, prob.show_function), (True, prob.show_derivative)) if on]
    names = ", ".join(_label(a) for a in prob.functions)
    what = " and ".join(["functions"] * prob.show_function + ["derivatives"] * prob.show_derivative)
    sol = Solution(title=prob.title or f"Activation {what}: {names}", kind="activations")
    sol.sections["points"] = "Values at chosen points"
    xs = tuple(x.numerator if x.denominator == 1 else x for x in prob.points)
    sol.add(Step("x", "points", value=xs, shape=(len(xs),), label=Symbol("x", "x"),
                 note="the points where each function below is evaluated, in this order"))
    xsym = Symbol("x", "x")
    for a in prob.functions:
        for d in which:
            label = a.fn.label(**a.params) + ("'" if d else "")
            expr = a.fn.derivative(xsym, **a.params) if d else a.fn.apply(xsym, **a.params)
            values = tuple(_eval(a, x, d) for x in prob.points)
            note = a.fn.derivative_text if d else ""
            if d and a.fn.kink is not None and a.fn.kink in prob.points:
                note += (f"; not differentiable at x = {fmt_number(a.fn.kink)}: the value there is "
                         f"the convention used in backprop")
            if _label(a) != a.fn.text:
                note = f"{_label(a)}; " + note if note else _label(a)
            sol.add(Step(f"{label}(x)", "points", formula=expr, value=values, shape=(len(values),),
                         label=Symbol(f"{label}(x)"), note=note))
    sol.notes.extend(prob.notes)
    sol.figure = figure(prob, which)
    return sol


def grid(lo: Fraction, hi: Fraction, n: int = SAMPLES) -> list[Fraction]:
    return [lo + (hi - lo) * Fraction(i, n - 1) for i in range(n)]


def figure(prob: ActivationsProblem, which: list[bool]) -> Figure:
    xs = grid(prob.lo, prob.hi)
    series = []
    for d in which:
        for a in prob.functions:
            ys = [float(_eval(a, x, d)) for x in xs]
            label = _label(a) + (" derivative" if d else "")
            series.append(Series(a.spec + ("'" if d else ""), label, [float(x) for x in xs], ys, style="line"))
    what = "Derivatives" if which == [True] else "Functions" if which == [False] else \
        "Functions and derivatives"
    return Figure(f"{what}: " + ", ".join(_label(a) for a in prob.functions), xlabel="x",
                  ylabel="f'(x)" if which == [True] else "f(x)" if which == [False] else "f(x), f'(x)",
                  series=series)
