"""Markdown with $$ math, for notebooks (Jupyter, VS Code) and write-ups.

Each step is one display block, ``$$\\begin{aligned} ... \\end{aligned}$$``, aligned on ``=`` with
one form per row (the same rows as the LaTeX document), its note in italics below. The final
results are a table with inline ``$...$`` math. A sheet starts with a linked table of contents.
Arrays are written whole, however big (the LaTeX document typesets a big one by its corners).
"""

from __future__ import annotations

import re

from hwsolve.core.records import Solution, Step
from hwsolve.core.numfmt import shape_text
from hwsolve.render.latex import _symbolic, label_latex, shape_latex, step_forms, tex, value_latex
from hwsolve.render.notemath import note_latex


def _cell(s: str) -> str:
    return s.replace("|", r"\|").replace("\n", " ")


def _md(s: str) -> str:
    """Plain text safe in Markdown: no accidental emphasis, headings or HTML."""
    return re.sub(r"([\\`*_{}\[\]<>#|])", r"\\\1", s)


def _note(s: str, heading: bool = False) -> str:
    """A note with its math as inline $...$ (as in LaTeX), spec keys as code, the rest plain text."""
    return note_latex(s, _md, code=lambda k: f"`{k}`", heading=heading)


def _anchor(text: str) -> str:
    """GitHub / Jupyter style heading anchor."""
    a = re.sub(r"[^\w\- ]", "", text.lower()).strip()
    return re.sub(r"\s", "-", a)


def _block(step: Step, precision: int, inline: bool = False) -> list[str]:
    forms = step_forms(step, precision, whole=True)
    rows = [forms[0] + " &= " + f if i == 0 else "&= " + f for i, f in enumerate(forms[1:])] \
        or [forms[0]]
    if _symbolic(step) or (len(forms) == 1 and step.value is not None and step.shape):
        rows[-1] += r" \quad " + shape_latex(step.shape)
    if inline and step.note:  # a rule's name beside its line
        rows[-1] += r" \qquad \text{(" + note_latex(step.note, _text_in_math) + ")}"
    out = ["$$", r"\begin{aligned}", " \\\\\n".join(rows), r"\end{aligned}", "$$"]
    if step.note and not inline:
        out.append(f"*{_note(step.note)}*")
    return out + [""]


def _text_in_math(s: str) -> str:
    """Plain text inside \\text{...} in MathJax/KaTeX: braces, backslashes, $ and ^ escaped."""
    return re.sub(r"([{}$&#%_])", r"\\\1", s.replace("\\", "/")).replace("^", r"\^{}")


def _rule_block(steps: list[Step], precision: int) -> list[str]:
    rows = []
    for s in steps:
        block = _block(s, precision, inline=True)
        rows.append(block[2])
    return ["$$", r"\begin{aligned}", " \\\\\n".join(rows), r"\end{aligned}", "$$", ""]


def _sections(solution: Solution, keys, precision: int, level: str) -> list[str]:
    out = []
    for key in keys:
        steps = solution.in_section(key)
        if not steps or key.endswith("contents"):
            continue
        heading = solution.sections.get(key, key)
        if solution.kind == "sheet":
            heading = heading.split(" · ", 1)[-1]
        out += [f"{level} {_note(heading, heading=True)}", ""]
        inline = key in solution.inline_notes
        if inline:   # one aligned block: each line with its rule named beside it
            out += _rule_block(steps, precision)
            continue
        for s in steps:
            out += _block(s, precision)
    return out


def _summary(solution: Solution, names, title: str, precision: int, level: str) -> list[str]:
    by = solution.by_name()
    steps = [by[n] for n in names if n in by]
    if not steps:
        return []
    out = [f"{level} {_md(title)}", "", "| | result | shape |", "|---|---|---|"]
    for s in steps:
        if isinstance(s.value, str) and s.formula is not None:
            res = tex(s.formula, precision, whole=True)
        else:
            res = value_latex(s, precision, whole=True) or step_forms(s, precision, whole=True)[-1]
        shape = shape_text(s.shape) if (s.shape or s.value is not None) else ""
        out.append(f"| ${_cell(label_latex(s))}$ | ${_cell(res)}$ | {shape} |")
    return out + [""]


def _notes(notes) -> list[str]:
    if not notes:
        return []
    return ["**Notes**", ""] + [f"- {_note(n)}" for n in notes] + [""]


def render(solution: Solution, precision: int) -> str:
    out = [f"# {_note(solution.title, heading=True)}", ""]
    parts = solution.parts if solution.kind == "sheet" else None
    if parts:
        out += ["## Contents", ""]
        for p in parts:
            head = f"{p.id}: {p.title}"
            out.append(f"- [{_md(head)}](#{_anchor(head)}) ({p.kind})")
        out.append("")
        for p in parts:
            out += [f"## {_md(p.id + ': ' + p.title)}", ""]
            out += _sections(solution, p.sections, precision, "###")
            out += _summary(solution, p.summary, p.summary_title, precision, "###")
            out += _notes(p.notes)
        own = [n for n in solution.notes if not any(n.startswith(p.id + ": ") for p in parts)]
        out += _notes(own)
        return "\n".join(out)
    keys = list(solution.sections or dict.fromkeys(s.section for s in solution.steps))
    out += _sections(solution, keys, precision, "##")
    out += _summary(solution, solution.summary, solution.summary_title, precision, "##")
    out += _notes(solution.notes)
    return "\n".join(out)
