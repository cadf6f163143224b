"""Reading an activations problem, from a spec (`kind: activations`) or from command-line names.

Parsing only: `hwsolve.topics.activations.solve` computes. `load(path)` reads a file, `parse(doc)` a
loaded `Doc` (the `hwsolve.topics` parser signature), `from_names(...)` the command line's names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from hwsolve.core.errors import SpecError
from hwsolve.core.numfmt import fmt_number

DEFAULT_RANGE = (Fraction(-4), Fraction(4))
DEFAULT_POINTS = tuple(Fraction(v) for v in ("-3", "-1", "-0.5", "0", "0.5", "1", "3"))
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


