"""JSON output; the schema is documented in docs/json-schema.md and versioned by SCHEMA_VERSION.

Step names are the interface: they are the keys student answer files use.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from fractions import Fraction

from hwsolve.core.jsontext import compact_list_chunks
from hwsolve.core.numfmt import fmt_exact, json_number
from hwsolve.core.records import Solution, Step
from hwsolve.core.tuplememo import BIG, count, entries, remember
from hwsolve.render.latex import step_latex
from hwsolve.core.sym import to_text

SCHEMA = "hwsolve/solution"
SCHEMA_VERSION = 1


def solution_dict(solution: Solution, precision: int, steps: bool = True, whole: bool = False) -> dict:
    """The solution as JSON-ready data; without `steps`, its steps list is left empty. Every
    number is in the values; each step's LaTeX typesets a big array by its corners unless `whole`
    (render.latex.CornersLatexPrinter)."""
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "title": solution.title,
        "kind": solution.kind,
        "sections": [{"key": k, "title": v} for k, v in solution.sections.items()],
        "notes": list(solution.notes),
        "steps": [step_dict(s, precision, whole=whole) for s in solution.steps] if steps else [],
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


def step_dict(step: Step, precision: int, arrays: bool = True, whole: bool = False) -> dict:
    """One step as JSON-ready data; without `arrays`, its value and exact fields are left None
    (`step_line` writes them as text)."""
    out = {
        "name": step.name,
        "section": step.section,
        "formula": _t(step.formula, precision),
        "expression": _t(step.expression or step.formula, precision),
        "chain": _t(step.chain, precision),
        "substituted": _t(step.substituted, precision),
        "latex": step_latex(step, precision, whole),
        "value": _value(step.value) if arrays else None,
        "shape": list(step.shape),
        "exact": _exact_field(step.value) if arrays else None,
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


def render(solution: Solution, precision: int, whole: bool = False) -> str:
    return b"".join(render_chunks(solution, precision, whole)).decode("utf-8")


def render_chunks(solution: Solution, precision: int, whole: bool = False) -> Iterator[bytes]:
    """`render` as UTF-8, in pieces made as they are taken: a big solution's steps one by one
    (written into a file as they come), its whole text never one string."""
    if _numbers(solution) <= COMPACT_ABOVE:
        yield json.dumps(solution_dict(solution, precision, whole=whole), indent=2, ensure_ascii=False).encode("utf-8")
        return
    yield from compact_list_chunks(solution_dict(solution, precision, steps=False), "steps",
                                   texts=(step_line(s, precision, whole) for s in solution.steps))


_VALUE_MARK, _EXACT_MARK = '"@@hwsolve-value-6f1c@@"', '"@@hwsolve-exact-6f1c@@"'


def step_line(step: Step, precision: int, whole: bool = False) -> str:
    """json.dumps(step_dict(step, precision, whole=whole), ensure_ascii=False), with a big array's numbers
    written as JSON text directly: each distinct number once, where the encoder would format every
    entry of a 784x128 matrix (and its value is that of two steps: W[1] and da[1]/dz[0])."""
    value = step.value
    texts = None
    if type(value) is tuple and count(value) >= BIG:
        texts = remember(value, "json texts", _array_texts)
    if texts is None:
        return json.dumps(step_dict(step, precision, whole=whole), ensure_ascii=False)
    line = json.dumps({**step_dict(step, precision, arrays=False, whole=whole), "value": _VALUE_MARK[1:-1],
                       "exact": _EXACT_MARK[1:-1]}, ensure_ascii=False)
    if line.count(_VALUE_MARK) != 1 or line.count(_EXACT_MARK) != 1:  # a title spelling a mark
        return json.dumps(step_dict(step, precision, whole=whole), ensure_ascii=False)
    return line.replace(_EXACT_MARK, texts[1]).replace(_VALUE_MARK, texts[0])


def _array_texts(v: tuple) -> tuple[str, str] | None:
    """The JSON texts of a big array's value and exact fields, as json.dumps writes `_value(v)`
    and `_exact_field(v)`, each distinct number written once; None for an array its `Entries`
    do not describe (written entry by entry)."""
    found = entries(v)
    if found is None:
        return None
    if found.keys is None:  # floats
        value = found.map(_float_json)
        return _nest(value, found.shape), "null"
    value = found.map(lambda x: json.dumps(_value(x), ensure_ascii=False))
    if not all(_rational(x) for x in found.distinct.values()):
        return _nest(value, found.shape), "null"
    exact = found.map(lambda x: json.dumps(fmt_exact(x), ensure_ascii=False))
    return _nest(value, found.shape), _nest(exact, found.shape)


def _float_json(x: float) -> str:
    """json.dumps(_value(x)) of a float: -0.0 as 0.0, inf and nan as strings."""
    return float.__repr__(x + 0.0) if math.isfinite(x) else json.dumps(_value(x))


def _nest(texts: list[str], shape: list[int]) -> str:
    """The texts as JSON nested lists of that shape, items separated as json.dumps separates them."""
    for n in reversed(shape[1:]):
        texts = ["[" + ", ".join(texts[i:i + n]) + "]" for i in range(0, len(texts), n)]
    return "[" + ", ".join(texts) + "]"


def _numbers(solution: Solution) -> int:
    total = 0
    for step in solution.steps:
        size = 1
        for n in step.shape:
            size *= n if isinstance(n, int) else 1
        total += size
    return total
