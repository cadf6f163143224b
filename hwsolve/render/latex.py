"""LaTeX for one step (used by JSON and Markdown) and for a whole solution."""

from __future__ import annotations

from hwsolve.records import Solution, Step
from hwsolve.sym import Const, Symbol, to_latex


def label_latex(step: Step) -> str:
    if step.label is not None:
        return to_latex(step.label)
    return to_latex(Symbol(step.name, _escape(step.name)))


def step_latex(step: Step, precision: int) -> str:
    """``label = chain = formula = expression = substituted = value``, skipping absent parts."""
    parts = [label_latex(step)]
    for e in (step.chain, step.formula, step.expression, step.substituted):
        if e is not None:
            s = to_latex(e, precision)
            if s not in parts:
                parts.append(s)
    if step.value is not None:
        v = to_latex(Const(step.value), precision)
        if step.unit:
            v += rf"\ \text{{{_escape(step.unit)}}}"
        if v != parts[-1]:
            parts.append(v)
    return " = ".join(parts)


def _escape(s: str) -> str:
    out = []
    for ch in s:
        if ch in "#$%&_{}":
            out.append("\\" + ch)
        elif ch == "\\":
            out.append(r"\textbackslash{}")
        elif ch in "^~":
            out.append(r"\text{" + ch + "}" if ch == "^" else r"\sim ")
        else:
            out.append(ch)
    return "".join(out)


def escape_text(s: str) -> str:
    return _escape(s)


def render(solution: Solution, precision: int, fragment: bool = False) -> str:
    body = [rf"\section*{{{_escape(solution.title)}}}"]
    sections = solution.sections or {s.section: s.section for s in solution.steps}
    for key, heading in sections.items():
        steps = solution.in_section(key)
        if not steps:
            continue
        body.append(rf"\subsection*{{{_escape(heading)}}}")
        body.append(r"\begin{align*}")
        lines = []
        for s in steps:
            eq = step_latex(s, precision).replace(" = ", " &= ", 1)
            lines.append(eq)
        body.append(" \\\\\n".join(lines))
        body.append(r"\end{align*}")
    if solution.notes:
        body.append(r"\paragraph{Notes}")
        body.append(r"\begin{itemize}")
        body.extend(rf"\item {_escape(n)}" for n in solution.notes)
        body.append(r"\end{itemize}")
    text = "\n".join(body)
    if fragment:
        return text
    return "\n".join([
        r"\documentclass[10pt]{article}",
        r"\usepackage[margin=2cm]{geometry}",
        r"\usepackage{amsmath,amssymb}",
        r"\allowdisplaybreaks",
        r"\begin{document}",
        text,
        r"\end{document}",
    ])
