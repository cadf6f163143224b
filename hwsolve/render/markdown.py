"""Markdown with $...$ math, for notebooks and write-ups: one table per section."""

from __future__ import annotations

from hwsolve.records import Solution
from hwsolve.render import shape_text
from hwsolve.render.latex import label_latex
from hwsolve.sym import Const, to_latex


def _cell(s: str) -> str:
    return s.replace("|", r"\|").replace("\n", " ")


def render(solution: Solution, precision: int) -> str:
    out = [f"# {solution.title}", ""]
    sections = solution.sections or {s.section: s.section for s in solution.steps}
    for key, heading in sections.items():
        steps = solution.in_section(key)
        if not steps:
            continue
        out += [f"## {heading}", ""]
        cols = [("step", lambda s: f"${label_latex(s)}$")]
        for h, attr in (("chain rule", "chain"), ("formula", "formula"), ("in symbols", "expression"),
                        ("substituted", "substituted")):
            if any(getattr(s, attr) is not None for s in steps):
                cols.append((h, lambda s, a=attr: f"${to_latex(getattr(s, a), precision)}$"
                             if getattr(s, a) is not None else ""))
        cols.append(("value", lambda s: (f"${to_latex(Const(s.value), precision)}$" if s.value is not None
                                         else "") + (f" {s.unit}" if s.unit else "")))
        cols.append(("shape", lambda s: shape_text(s.shape) if s.value is not None else ""))
        if any(s.note for s in steps):
            cols.append(("note", lambda s: s.note))
        out.append("| " + " | ".join(h for h, _ in cols) + " |")
        out.append("|" + "|".join("---" for _ in cols) + "|")
        for s in steps:
            out.append("| " + " | ".join(_cell(get(s)) for _, get in cols) + " |")
        out.append("")
    if solution.notes:
        out += ["**Notes**", ""] + [f"- {n}" for n in solution.notes] + [""]
    return "\n".join(out)
