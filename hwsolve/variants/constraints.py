"""What makes a drawn variant a good exercise, checked on the engine's own solution of it.

    require:
      kink: false              # no activation input exactly at its kink (a ReLU input of 0); default false
      ties: false              # no min/max (graph specs) with tied operands; default false
      dead_units: [0, 1]       # how many ReLU-family inputs lie below the kink (dead units), low..high
      forward_integer: true    # every forward-pass value an integer; default false
      forward_max_abs: 100     # |every forward-pass value| <= this
      answers_nonzero: true    # no graded answer all zeros (yhat = y would zero every gradient); default true
      answers_max_abs: 1000    # |every graded value| <= this
      divides: true            # conv output sizes come out exact (no floor); default true

Each check returns a reason; a draw with any reason is rejected and the next one is tried.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

REQUIRE_KEYS = {"kink", "ties", "dead_units", "forward_integer", "forward_max_abs", "answers_nonzero",
                "answers_max_abs", "divides"}


@dataclass(frozen=True)
class Require:
    kink: bool = False
    ties: bool = False
    dead_units: tuple[int, int] | None = None
    forward_integer: bool = False
    forward_max_abs: Fraction | None = None
    answers_nonzero: bool = True
    answers_max_abs: Fraction | None = None
    divides: bool = True


def parse_require(f) -> Require:
    data = f.mapping(REQUIRE_KEYS)
    kw: dict = {}
    for name in ("kink", "ties", "forward_integer", "answers_nonzero", "divides"):
        if name in data:
            kw[name] = f[name].boolean()
    for name in ("forward_max_abs", "answers_max_abs"):
        if name in data:
            v = f[name].number()
            if not v > 0:
                raise f[name].error("expected a number > 0")
            kw[name] = v
    if "dead_units" in data:
        du = f["dead_units"]
        if isinstance(du.value, list):
            items = du.items()
            if len(items) != 2:
                raise du.error("expected [low, high] or one whole number")
            lo, hi = items[0].integer(0), items[1].integer(0)
            if lo > hi:
                raise du.error("expected low <= high")
            kw["dead_units"] = (lo, hi)
        else:
            n = du.integer(0)
            kw["dead_units"] = (n, n)
    return Require(**kw)


def _entries(value) -> list:
    if isinstance(value, tuple):
        return [x for v in value for x in _entries(v)]
    return [value]


def _numbers(value) -> list:
    return [x for x in _entries(value) if isinstance(x, (int, Fraction, float)) and not isinstance(x, bool)]


def violations(req: Require, kind: str, problem, solution, graded: list[tuple[str, float]]) -> list[str]:
    """Why this solved draw is not a good exercise ([] when it is)."""
    out: list[str] = []
    if kind in ("network", "graph"):
        out += _graph_checks(req, problem)
    if kind == "conv" and req.divides:
        out += _conv_checks(problem)
    out += _value_checks(req, solution, graded)
    return out


def _value_checks(req: Require, solution, graded) -> list[str]:
    out = []
    forward = [s for s in solution.steps if s.section == "forward" or s.section.endswith("/forward")]
    for s in forward:
        nums = _numbers(s.value)
        if req.forward_integer and any(not (isinstance(x, int) or getattr(x, "denominator", 0) == 1)
                                       for x in nums):
            out.append(f"forward value {s.name} is not an integer")
            break
        if req.forward_max_abs is not None and any(abs(x) > req.forward_max_abs for x in nums):
            out.append(f"forward value {s.name} is beyond {req.forward_max_abs}")
            break
    by = solution.by_name()
    for name, _ in graded:
        step = by.get(name)
        nums = _numbers(step.value) if step is not None else []
        if req.answers_nonzero and nums and all(x == 0 for x in nums):
            out.append(f"answer {name} is all zeros")
            break
        if req.answers_max_abs is not None and any(abs(x) > req.answers_max_abs for x in nums):
            out.append(f"answer {name} is beyond {req.answers_max_abs}")
            break
    return out


def _graph_checks(req: Require, problem) -> list[str]:
    from hwsolve.autodiff.ops import Activation, Extremum
    from hwsolve.topics.backprop.solve import compile_problem

    g = compile_problem(problem).graph
    g.forward()
    out = []
    dead = 0
    for node in g.nodes:
        op = node.op
        if isinstance(op, Activation) and op.fn.kink is not None:
            xs = list(_flat(node.parents[0].value))
            if not req.kink and any(x == op.fn.kink for x in xs):
                out.append(f"an input of {node.name} sits exactly on the kink of {op.fn.text}")
            dead += sum(1 for x in xs if x < op.fn.kink)
        elif isinstance(op, Extremum) and not req.ties:
            vals = [_flat(p.value)[0] for p in node.parents]
            best = min(vals) if op.which == "min" else max(vals)
            if sum(1 for v in vals if v == best) > 1:
                out.append(f"{node.name} = {op.which}(...) has tied operands")
    if req.dead_units is not None and not req.dead_units[0] <= dead <= req.dead_units[1]:
        lo, hi = req.dead_units
        out.append(f"{dead} dead units (inputs below the kink), not {lo}" + (f" to {hi}" if hi != lo else ""))
    return out


def _conv_checks(problem) -> list[str]:
    out = []
    for pid, _task, _q, prob in getattr(problem, "parts", []):
        if type(prob).__name__ != "ShapeProblem" or prob.transposed or isinstance(prob.p, str):
            continue
        s = prob.s or (prob.k if prob.pool else (1, 1))
        for n, k, p, st, d in zip(prob.n, prob.k, prob.p, s, prob.d, strict=True):
            if (n + 2 * p - d * (k - 1) - 1) % st:
                out.append(f"part {pid}: (n + 2p - k) is not a multiple of the stride")
                break
    return out


def _flat(value) -> list:
    return [] if value is None else list(value.flat)
