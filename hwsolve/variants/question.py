"""The problem statement of any spec, without its solution: what is given and what to compute.

A `Solution` record like any other (so every renderer prints it): a "Given" section (the spec's
numbers as the course writes them), for backprop specs the definitions of the forward pass
(formulas only: `a[1] = W[1] z[0] + b[1]`), and "To compute": one line per step the rubric
grades (its points beside it), no values. Topics without a given section of their own list the
spec's fields (`p1.n = 36`).
"""

from __future__ import annotations

from fractions import Fraction

from hwsolve.core.records import Solution, Step

BACKPROP = ("network", "graph")
# spec keys that say how to print or grade, not what is given
_META = {"hwsolve", "kind", "title", "source", "question", "notes", "notation", "conventions", "layout",
         "rubric", "variants", "id", "task"}


def graded_steps(solution, kind: str, rubric_field=None) -> list[tuple[str, float]]:
    """(step, points) the rubric grades (the spec's own `rubric:` or the default steps)."""
    from hwsolve.grade.grader import default_steps
    from hwsolve.grade.rubric import Rubric, parse_rubric

    rubric = parse_rubric(rubric_field) if rubric_field is not None else Rubric()
    return rubric.graded(solution, default_steps(solution, kind))


def build_question(solution: Solution, kind: str, data: dict, graded: list[tuple[str, float]]) -> Solution:
    q = Solution(solution.title, "question", source=solution.source, question=solution.question,
                 layout=solution.layout)
    given = [s for s in solution.steps if s.section == "given" or s.section.endswith(("/given", ".given"))]
    if given:
        q.sections["given"] = "Given"
        for s in given:
            q.add(Step(s.name, "given", value=s.value, shape=s.shape, label=s.label, unit=s.unit))
    else:
        q.sections["given"] = "Given"
        for name, value in _spec_fields(data):
            q.add(Step(name, "given", value=value, shape=_shape(value)))
    if kind in BACKPROP:
        q.sections["model"] = "The model (forward pass)"
        for s in solution.in_section("forward"):
            if s.formula is not None and _named(s.name):
                q.add(Step(s.name, "model", formula=s.formula, label=s.label))
        q.notes = [n for n in solution.notes if not n.startswith("'")]
    q.sections["asked"] = "To compute"
    by = solution.by_name()
    for name, pts in graded:
        found = by.get(name)
        shape = found.shape if found is not None else ()
        q.add(Step(name, "asked", label=found.label if found is not None else None, shape=shape,
                   note=f"{_points(pts)} point{'' if pts == 1 else 's'}"))
    return q


def _named(name: str) -> bool:
    return not (name.startswith("(") or "/d(" in name or " via " in name)


def _points(p: float) -> str:
    f = Fraction(p).limit_denominator(1000)
    return str(f.numerator) if f.denominator == 1 else f"{f.numerator}/{f.denominator}"


def _shape(value) -> tuple:
    if isinstance(value, tuple) and value:
        if isinstance(value[0], tuple):
            return (len(value), len(value[0]))
        return (len(value),)
    return ()


def _spec_fields(data, prefix: str = "") -> list[tuple[str, object]]:
    """Every number (or list of numbers, or short text) of the spec, by its path."""
    out: list[tuple[str, object]] = []
    if isinstance(data, dict):
        for k, v in data.items():
            if k in _META:
                continue
            out += _spec_fields(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(data, list):
        if data and all(_is_number(x) for x in data):
            return [(prefix, tuple(_num(x) for x in data))]
        if data and all(isinstance(r, list) and r and all(_is_number(x) for x in r) for r in data):
            return [(prefix, tuple(tuple(_num(x) for x in r) for r in data))]
        for i, v in enumerate(data):
            tag = v.get("id") if isinstance(v, dict) and isinstance(v.get("id"), str) else None
            out += _spec_fields(v, f"{prefix}.{tag}" if tag and prefix else (tag or f"{prefix}[{i}]"))
    elif _is_number(data):
        out.append((prefix, _num(data)))
    elif isinstance(data, str) and prefix:
        out.append((prefix, data))
    return out


def _is_number(x) -> bool:
    if isinstance(x, bool):
        return False
    if isinstance(x, (int, Fraction)):
        return True
    if isinstance(x, str):
        from hwsolve.spec.numbers import parse_number

        try:
            parse_number(x)
            return True
        except (ValueError, ZeroDivisionError):
            return False
    return False


def _num(x):
    if isinstance(x, str):
        from hwsolve.spec.numbers import parse_number

        return parse_number(x)
    return Fraction(x) if isinstance(x, int) else x


def question_of(path: str) -> Solution:
    """`hwsolve question SPEC`: load any spec (a template too: its own numbers), solve it, keep the question."""
    from hwsolve import topics
    from hwsolve.spec.loader import Doc, load_yaml

    doc = load_yaml(path)
    data = {k: v for k, v in doc.data.items() if k not in ("rubric", "variants")} \
        if isinstance(doc.data, dict) else doc.data
    kind = topics.kind_of(doc)
    rubric_field = doc.root["rubric"] if doc.root.has("rubric") else None
    solution = topics.solve(topics.parse(Doc(doc.file, data, doc.lines), kind), kind)
    return build_question(solution, kind, data, graded_steps(solution, kind, rubric_field))
