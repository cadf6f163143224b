"""JSON output; the schema is documented in docs/json-schema.md and versioned by SCHEMA_VERSION.

Step names are the interface: they are the keys student answer files use.
"""

from __future__ import annotations

import json
from fractions import Fraction

from hwsolve.core.jsontext import dumps_compact_list
from hwsolve.core.numfmt import fmt_exact, json_number
from hwsolve.core.records import Solution, Step
from hwsolve.core.tuplememo import remember
from hwsolve.render.latex import step_latex
from hwsolve.core.sym import to_text

SCHEMA = "hwsolve/solution"
SCHEMA_VERSION = 1


def solution_dict(solution: Solution, precision: int) -> dict:
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "title": solution.title,
        "kind": solution.kind,
        "sections": [{"key": k, "title": v} for k, v in solution.sections.items()],
        "notes": list(solution.notes),
        "steps": [step_dict(s, precision) for s in solution.steps],
        "summary": {"title": solution.summary_title, "steps": list(solution.summary)},
        **({"meta": meta} if (meta := _meta(solution)) else {}),
    }


def _meta(solution: Solution) -> dict:
    """The optional extras, as the "meta" object of the schema (docs/json-schema.md)."""
    out: dict = {}
    if solution.source:
        out["source"] = solution.source
    if solution.question:
        out["question"] = solution.question
    if solution.layout:
        out["layout"] = solution.layout
    if solution.symbolic:
        out["symbolic"] = True
    if solution.sizes:
        out["sizes"] = dict(solution.sizes)
    if solution.figure is not None:
        out["figure"] = solution.figure.to_dict()
    if solution.parts:
        out["parts"] = [p.to_dict() for p in solution.parts]
    return out


def step_dict(step: Step, precision: int) -> dict:
    out = {
        "name": step.name,
        "section": step.section,
        "formula": _t(step.formula, precision),
        "expression": _t(step.expression or step.formula, precision),
        "chain": _t(step.chain, precision),
        "substituted": _t(step.substituted, precision),
        "latex": step_latex(step, precision),
        "value": _value(step.value),
        "shape": list(step.shape),
        "exact": _exact_field(step.value),
    }
    if step.unit:
        out["unit"] = step.unit
    if step.note:
        out["note"] = step.note
    return out


def _t(expr, precision):
    return None if expr is None else to_text(expr, precision)


def _value(v):
    if v is None:
        return None
    if isinstance(v, tuple):
        return remember(v, "json", _json_array)  # a big array is the value of several steps
    if isinstance(v, str):
        return v
    return json_number(v)


def _json_array(v: tuple) -> list:
    if v and isinstance(v[0], tuple):
        return [_json_array(x) for x in v]
    out = []
    done: dict[int, object] = {}  # id -> JSON number: a weight matrix repeats the same few Fractions
    for x in v:
        cls = x.__class__
        if cls is int:
            out.append(x)
            continue
        if cls is float and x - x == 0:  # finite (x - x is 0 only then); -0.0 + 0.0 is 0.0: never print -0
            out.append(x + 0.0)
            continue
        if id(x) not in done:
            done[id(x)] = _value(x)
        out.append(done[id(x)])
    return out


def _exact_field(v):
    """The exact text of a rational value (nested like it); None when any entry is not rational,
    as `Step.exact` decides."""
    if v is None:
        return None
    if isinstance(v, tuple):
        return remember(v, "exact", _exact_array)
    return fmt_exact(v) if _rational(v) else None


def _rational(x) -> bool:
    return isinstance(x, (int, Fraction)) and not isinstance(x, bool)


def _exact_array(v: tuple) -> list | None:
    if any(type(x) is tuple for x in v):
        parts = [_exact_field(x) for x in v]
        return None if any(p is None for p in parts) else parts
    done: dict[int, str] = {}  # id -> text: a weight matrix repeats the same few Fractions
    out = []
    for x in v:
        text = done.get(id(x))
        if text is None:
            if not _rational(x):
                return None
            text = done[id(x)] = fmt_exact(x)
        out.append(text)
    return out


# Above this many numbers in a solution's values, each step is written compactly on a line of its
# own: json's C encoder runs only without `indent`, and the pure-Python one takes seconds on a
# 512x512 network. Same JSON, other whitespace.
COMPACT_ABOVE = 10_000


def render(solution: Solution, precision: int) -> str:
    data = solution_dict(solution, precision)
    if _numbers(solution) <= COMPACT_ABOVE:
        return json.dumps(data, indent=2, ensure_ascii=False)
    return dumps_compact_list(data, "steps")


def _numbers(solution: Solution) -> int:
    total = 0
    for step in solution.steps:
        size = 1
        for n in step.shape:
            size *= n if isinstance(n, int) else 1
        total += size
    return total
