"""Identities rewritten one named rule at a time: ``hwsolve prove "tanh(x) = 2*sigmoid(2*x) - 1"``.

Each side is parsed by hwsolve's own grammar (`spec.expr`), built into sympy node by node
(`bridge.to_sympy`) and rewritten by a fixed list of named rules: each function's definition in
exponentials, one common denominator, t = e^x (one variable), cancel to lowest terms. When both
sides reach the same form the proof reads left side = ... = common form = ... = right side. When
they do not, the answer says so plainly: false (with a point where the sides differ), or not
proved (equal at random points, but no rewriting found). Every line is evaluated at random points.
"""

from __future__ import annotations

import math
import random
from typing import Any
from dataclasses import dataclass, field

from hwsolve.core.errors import HwsolveError
from hwsolve.core.records import Solution, Step
from hwsolve.core.sym import Symbol
from hwsolve.spec import expr as E
from hwsolve.topics.prove.bridge import Sigmoid, shown, symbols_of, time_limit, to_sympy

SECTIONS = {"proof": "The identity, one rule per line", "verdict": "Verdict"}


@dataclass
class ProveProblem:
    title: str
    lhs_text: str
    rhs_text: str
    lhs: object            # spec.expr trees
    rhs: object
    notes: list[str] = field(default_factory=list)
    kind: str = "prove"


# -- the rules ----------------------------------------------------------------------------------


def _rules(variables: list) -> list[tuple[str, object]]:
    """(name, rewrite) in the order they are tried; each rewrite maps a sympy expression to one."""
    import sympy

    sigma = Sigmoid.get()
    rules = [
        ("definition of tanh: tanh(u) = (e^u - e^-u) / (e^u + e^-u)", lambda e: e.rewrite(sympy.tanh, sympy.exp)),
        ("definition of the sigmoid: sigma(u) = 1 / (1 + e^-u)", lambda e: e.rewrite(sigma, sympy.exp)),
        ("one common denominator", sympy.together),
    ]
    if len(variables) == 1:
        x = variables[0]
        t = sympy.Symbol("t", positive=True)
        rules.append((f"write t = e^{x}", lambda e: _exp_to_t(e, x, t)))
    rules.append(("cancel common factors (lowest terms)", sympy.cancel))
    return rules


def _exp_to_t(e, x, t):
    """exp(k x) -> t^k when every exponential is of a rational multiple of x."""
    import sympy

    def swap(arg):
        k = sympy.simplify(arg / x)
        return t ** k if k.is_Rational else sympy.exp(arg)

    return e.replace(sympy.exp, swap)


def rewrite_chain(e, rules) -> list[tuple[str, Any]]:
    """The lines a side goes through: (rule, expression), starting with ('', the side itself)."""
    lines = [("", e)]
    for name, rule in rules:
        new = rule(lines[-1][1])
        if new != lines[-1][1]:
            lines.append((name, new))
    return lines


def solve(prob: ProveProblem) -> Solution:
    with time_limit():
        return _solve(prob)


def _solve(prob: ProveProblem) -> Solution:
    import sympy

    table = symbols_of(E.Bin("-", prob.lhs, prob.rhs))
    lhs, rhs = to_sympy(prob.lhs, table), to_sympy(prob.rhs, table)
    variables = list(table.values())
    rules = _rules(variables)
    left, right = rewrite_chain(lhs, rules), rewrite_chain(rhs, rules)
    sol = Solution(prob.title, "prove", sections=dict(SECTIONS))
    sol.inline_notes = ["proof"]
    if sympy.simplify(left[-1][1] - right[-1][1]) == 0 and left[-1][1] == right[-1][1]:
        verdict = "proved: both sides rewrite to the same expression"
        _add_proof(sol, prob, left, right)
    elif sympy.simplify(lhs - rhs) == 0:
        verdict = ("proved, but not by the named rules alone: sympy's simplify reduces left - right to 0 "
                   "(the rule-by-rule forms of each side are shown)")
        _add_proof(sol, prob, left, right, meet=False)
    else:
        verdict = _counterexample(lhs, rhs, variables)
        _add_proof(sol, prob, left, right, meet=False)
    _check_lines(sol, left, right, lhs, variables)
    sol.add(Step("verdict", "verdict", value=verdict))
    sol.notes = list(prob.notes) + ["Every line was evaluated at random points and equals its side there."]
    return sol


def _line_name(sol: Solution) -> str:
    return sol.continued("proof")


def _add_proof(sol: Solution, prob: ProveProblem, left, right, meet: bool = True) -> None:
    lhs_label = shown(left[0][1])
    sol.add(Step(prob.lhs_text, "proof", formula=shown(left[1][1]) if len(left) > 1 else None,
                 label=lhs_label, note=left[1][0] if len(left) > 1 else "the left side"))
    for rule, e in left[2:]:
        sol.add(Step(_line_name(sol), "proof", formula=shown(e), label=Symbol("", ""), note=rule))
    if not meet:
        sol.add(Step(prob.rhs_text, "proof", label=shown(right[0][1]), note="the right side"))
        for rule, e in right[1:]:
            sol.add(Step(_line_name(sol), "proof", formula=shown(e), label=Symbol("", ""), note=rule))
        return
    # read the right side's chain backwards: each line undoes the rule that produced the one below
    for k in range(len(right) - 2, -1, -1):
        sol.add(Step(_line_name(sol), "proof", formula=shown(right[k][1]), label=Symbol("", ""),
                     note=f"{right[k + 1][0]}, read right to left"))


def _values(e, variables, point) -> complex:
    """The expression's value at the point; infinite when it is beyond what can be evaluated
    (exp(exp(exp(exp(exp(x))))) overflows mpmath's integers): undefined there, for the callers."""
    import sympy

    t = sympy.Symbol("t", positive=True)
    subs = dict(zip(variables, point, strict=True))
    if len(variables) == 1:
        subs[t] = sympy.exp(point[0])
    try:   # evalf's subs: the point enters at 30 digits (.subs would first compute with its 15-digit
        #    floats, and an expanded (x + y + z + 1)^25 lost the digits the rule check compares)
        return complex(e.rewrite(Sigmoid.get(), sympy.exp).evalf(30, subs=subs))
    except OverflowError:
        return complex(math.inf)


def _points(variables, count: int = 5, seed: int = 0, low: float = 0.2, high: float = 1.7) -> list[tuple]:
    rng = random.Random(seed)
    return [tuple(rng.choice([-1, 1]) * rng.uniform(low, high) for _ in variables) for _ in range(count)]


def _finite(v: complex) -> bool:
    import cmath

    return cmath.isfinite(v)


def _check_lines(sol, left, right, lhs, variables) -> None:
    for point in _points(variables):
        want_l = _values(lhs, variables, point)
        want_r = _values(right[0][1], variables, point)
        for chain, want in ((left, want_l), (right, want_r)):
            if not _finite(want):
                continue   # undefined there: nothing to compare (the verdict says so)
            for rule, e in chain:
                got = _values(e, variables, point)
                if abs(got - want) > 1e-9 * max(1.0, abs(want)):
                    raise HwsolveError(f"internal: the rule '{rule}' changed the value at {point}")


def _num(v: complex, digits: int = 6) -> str:
    return f"{v.real:.{digits}g}" if abs(v.imag) < 1e-12 else f"{v.real:.{digits}g} + {v.imag:.{digits}g}i"


def _nums(a: complex, b: complex) -> tuple[str, str]:
    """Two values that differ, with digits enough to show it (1 and 1.0000001, not 1 and 1)."""
    for digits in (6, 10, 17):
        texts = _num(a, digits), _num(b, digits)
        if texts[0] != texts[1]:
            break
    return texts


def _counterexample(lhs, rhs, variables) -> str:
    """A point where the sides differ, over the reals: 20 points of size 0.2 to 1.7 and 20 of 2
    to 12 (relu(x - 5) = 0 and max(x, 2) = 2 hold near 0). A point where a side is not a finite real
    number (log of a negative, a division by zero) is skipped: the identity is judged where both
    sides are defined, as log(x y) = log(x) + log(y) is over the reals."""
    undefined: dict[str, str] = {}   # side -> the first point where it is not a finite real number
    agreed = 0
    for point in [*_points(variables, 20, seed=1), *_points(variables, 20, seed=2, low=2, high=12)]:
        a, b = _values(lhs, variables, point), _values(rhs, variables, point)
        where = ", ".join(f"{v} = {p:.4g}" for v, p in zip(variables, point, strict=True)) or "every point"
        for side, v in (("left", a), ("right", b)):
            if not _real(v):
                undefined.setdefault(side, where)
        if not (_real(a) and _real(b)):
            continue
        if abs(a - b) > 1e-9 * max(1.0, abs(a)):
            left, right = _nums(a, b)
            return f"false: at {where} the left side is {left} and the right side {right}"
        agreed += 1
    if not agreed:   # the left side only when the right one was defined at every point
        side = "left" if set(undefined) == {"left"} else "right"
        return (f"cannot decide: the {side} side is not a finite number at {undefined[side]} (a division by "
                "zero, a complex value, or too large to evaluate?)")
    return (f"not proved: the sides agree at {agreed} random points where both are real, but neither the "
            "named rules nor sympy's simplify rewrite one into the other")


def _real(v: complex) -> bool:
    return _finite(v) and abs(v.imag) <= 1e-12 * max(1.0, abs(v.real))
