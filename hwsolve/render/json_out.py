"""JSON output; the schema is documented in docs/json-schema.md and versioned by SCHEMA_VERSION.

Step names are the interface: they are the keys student answer files use.
"""

from __future__ import annotations

import json

from hwsolve.core.numfmt import fmt_exact, json_number
from hwsolve.core.records import Solution, Step
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
        "exact": _exact(step.value) if step.exact else None,
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
        return [_value(x) for x in v]
    if isinstance(v, str):
        return v
    return json_number(v)


def _exact(v):
    if isinstance(v, tuple):
        return [_exact(x) for x in v]
    return fmt_exact(v)


# Above this many numbers in a solution's values, each step is written compactly on a line of its
# own: json's C encoder runs only without `indent`, and the pure-Python one takes seconds on a
# 512x512 network. Same JSON, other whitespace.
COMPACT_ABOVE = 10_000
_STEPS_MARK = "@@hwsolve-steps@@"


def render(solution: Solution, precision: int) -> str:
    data = solution_dict(solution, precision)
    if _numbers(solution) <= COMPACT_ABOVE:
        return json.dumps(data, indent=2, ensure_ascii=False)
    steps, data["steps"] = data["steps"], _STEPS_MARK
    outline = json.dumps(data, indent=2, ensure_ascii=False)
    if outline.count(json.dumps(_STEPS_MARK)) != 1:  # the mark also in a title or note: no shortcut
        data["steps"] = steps
        return json.dumps(data, indent=2, ensure_ascii=False)
    lines = ",\n    ".join(json.dumps(s, ensure_ascii=False) for s in steps)
    return outline.replace(json.dumps(_STEPS_MARK), "[\n    " + lines + "\n  ]" if steps else "[]")


def _numbers(solution: Solution) -> int:
    total = 0
    for step in solution.steps:
        size = 1
        for n in step.shape:
            size *= n if isinstance(n, int) else 1
        total += size
    return total
