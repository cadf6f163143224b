"""Element-wise activations and their derivatives: values at chosen points and plot data.

The functions come from the one table, `hwsolve.autodiff.functions.ELEMENTWISE` (the same entries
backprop uses), so a derivative printed here is the derivative used in a backward pass, including
the convention at a kink (ReLU'(0) = 0). A name may carry the entry's first parameter after a
colon, as in network specs: ``leaky_relu:0.01`` (slope), ``softplus:2`` (beta).

`load(path)` / `from_names(...)` build a problem; `solve(problem)` returns a `Solution` whose
``meta["figure"]`` holds the curves for `hwsolve.render.plot`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from hwsolve.core.numfmt import fmt_number, to_float
from hwsolve.core.errors import SpecError
from hwsolve.core.records import Solution, Step
from hwsolve.core.sym import Symbol

DEFAULT_RANGE = (Fraction(-4), Fraction(4))
DEFAULT_POINTS = tuple(Fraction(v) for v in ("-3", "-1", "-0.5", "0", "0.5", "1", "3"))
SAMPLES = 801            # points on the plotted grid (odd, so 0 is on it for a symmetric range)
MAX_POINTS = 50          # table points
MAX_FUNCTIONS = 12


@dataclass
class Activation:
    spec: str            # as the user wrote it: leaky_relu:0.01
    fn: object           # functions.Elementwise
    params: dict


@dataclass
class ActivationsProblem:
    title: str = ""
    functions: list[Activation] = field(default_factory=list)
    show_function: bool = False
    show_derivative: bool = True
    lo: Fraction = DEFAULT_RANGE[0]
    hi: Fraction = DEFAULT_RANGE[1]
    points: tuple = DEFAULT_POINTS
    notes: list[str] = field(default_factory=list)


def parse_activation(text: str, err=None) -> Activation:
    """``relu``, ``leaky_relu:0.01``, ``softplus:1``: an entry of the table and its parameter."""
    from hwsolve.autodiff.functions import ELEMENTWISE, lookup
    from hwsolve.spec.numbers import parse_number

    err = err or (lambda m: SpecError(m))
    name, _, param = str(text).partition(":")
    fn = lookup(name)
    if fn is None:
        raise err(f"unknown activation '{name}'; expected one of: {', '.join(sorted(ELEMENTWISE))}")
    params = dict(fn.params)
    if param.strip():
        if not fn.params:
            raise err(f"'{name}' takes no parameter, got '{text}'")
        try:
            value = parse_number(param)
        except (ValueError, ZeroDivisionError):
            raise err(f"cannot read the parameter of '{text}': expected a number") from None
        key = next(iter(fn.params))
        if key == "beta" and not value > 0:
            raise err(f"Softplus needs beta > 0, got {param.strip()}")
        params[key] = value
    return Activation(str(text), fn, params)


def _range(lo, hi, err):
    if not lo < hi:
        raise err(f"the range needs low < high, got {fmt_number(lo)}..{fmt_number(hi)}")
    if hi - lo > 10_000:
        raise err("the range is wider than 10000")
    return Fraction(lo), Fraction(hi)


def from_names(names, *, function=False, derivative=False, lo=None, hi=None, points=None,
               title="") -> ActivationsProblem:
    if not names:
        raise SpecError("name at least one activation, e.g. relu leaky_relu:0.01 softplus:1 gelu")
    if len(names) > MAX_FUNCTIONS:
        raise SpecError(f"at most {MAX_FUNCTIONS} functions at once")
    prob = ActivationsProblem(title=title)
    prob.functions = [parse_activation(n) for n in names]
    prob.show_function = function or not derivative
    prob.show_derivative = derivative
    if lo is not None or hi is not None:
        prob.lo, prob.hi = _range(lo if lo is not None else DEFAULT_RANGE[0],
                                  hi if hi is not None else DEFAULT_RANGE[1],
                                  lambda m: SpecError(m, field="--range"))
    if points is not None:
        if not points or len(points) > MAX_POINTS:
            raise SpecError(f"give 1 to {MAX_POINTS} points", field="--at")
        prob.points = tuple(points)
    return prob


def load(path) -> ActivationsProblem:
    from hwsolve.spec.loader import load_yaml

    return parse(load_yaml(path))


def parse(doc) -> ActivationsProblem:
    """A problem from a loaded `Doc` (the `hwsolve.topics` parser signature)."""
    from hwsolve.spec.loader import check_header

    root = doc.root
    root.mapping(allowed={"hwsolve", "kind", "title", "source", "notes", "functions", "show",
                          "range", "at"})
    check_header(root, "activations")
    if not root.has("functions"):
        raise root.error("missing required key 'functions' (e.g. [relu, 'leaky_relu:0.01'])")
    items = root["functions"].items()
    if not items or len(items) > MAX_FUNCTIONS:
        raise root["functions"].error(f"expected 1 to {MAX_FUNCTIONS} functions")
    prob = ActivationsProblem(title=root["title"].text() if root.has("title") else "")
    prob.functions = [parse_activation(f.text(), f.error) for f in items]
    show = root["show"].text(choices={"function", "derivative", "both"}) if root.has("show") else "function"
    prob.show_function = show in ("function", "both")
    prob.show_derivative = show in ("derivative", "both")
    if root.has("range"):
        r = root["range"].items()
        if len(r) != 2:
            raise root["range"].error("expected [low, high]")
        prob.lo, prob.hi = _range(r[0].number(), r[1].number(), root["range"].error)
    if root.has("at"):
        pts = root["at"].items()
        if not pts or len(pts) > MAX_POINTS:
            raise root["at"].error(f"expected 1 to {MAX_POINTS} points")
        prob.points = tuple(Fraction(f.number()) for f in pts)
    if root.has("notes"):
        prob.notes = [f.text() for f in root["notes"].items()]
    return prob


# ---------------------------------------------------------------------------------------------


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
    sol.meta["figure"] = figure(prob, which)
    return sol


def grid(lo: Fraction, hi: Fraction, n: int = SAMPLES) -> list[Fraction]:
    return [lo + (hi - lo) * Fraction(i, n - 1) for i in range(n)]


def figure(prob: ActivationsProblem, which: list[bool]) -> dict:
    xs = grid(prob.lo, prob.hi)
    series = []
    for d in which:
        for a in prob.functions:
            ys = [float(_eval(a, x, d)) for x in xs]
            label = _label(a) + (" derivative" if d else "")
            series.append({"key": a.spec + ("'" if d else ""), "label": label,
                           "x": [float(x) for x in xs], "y": ys, "style": "line"})
    what = "Derivatives" if which == [True] else "Functions" if which == [False] else \
        "Functions and derivatives"
    return {"title": f"{what}: " + ", ".join(_label(a) for a in prob.functions),
            "xlabel": "x", "ylabel": "f'(x)" if which == [True] else "f(x)" if which == [False]
            else "f(x), f'(x)", "series": series}
