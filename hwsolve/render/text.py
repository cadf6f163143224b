"""Terminal output with rich: one table per section, columns only for fields the steps use.

On a terminal it is coloured; piped, or with NO_COLOR set, it is plain text with ASCII rules.
"""

from __future__ import annotations

import os
import sys

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from hwsolve.records import Solution, Step
from hwsolve.render import shape_text
from hwsolve.sym import Const, to_text

# (header, how to read it off a step) in display order; a column shows only if some step has it
COLUMNS = (
    ("step", lambda s, p: s.name),
    ("chain rule", lambda s, p: _txt(s.chain, p)),
    ("formula", lambda s, p: _txt(s.formula, p)),
    ("in symbols", lambda s, p: _txt(s.expression, p)),
    ("substituted", lambda s, p: _txt(s.substituted, p)),
    ("value", lambda s, p: value_text(s, p)),
    ("shape", lambda s, p: shape_text(s.shape) if s.value is not None and s.shape else ""),
    ("note", lambda s, p: s.note),
)


def make_console(file=None, width: int | None = None, plain: bool | None = None) -> Console:
    file = file or sys.stdout
    if plain is None:
        plain = bool(os.environ.get("NO_COLOR")) or not getattr(file, "isatty", lambda: False)()
    return Console(file=file, width=width or (None if not plain else 120), no_color=plain,
                   color_system=None if plain else "auto", highlight=False, soft_wrap=False,
                   emoji=False, force_terminal=None if not plain else False)


def value_text(step: Step, precision: int) -> str:
    if step.value is None:
        return ""
    text = to_text(Const(step.value), precision)
    return f"{text} {step.unit}" if step.unit else text


def _txt(expr, precision) -> str:
    return "" if expr is None else to_text(expr, precision)


def render(solution: Solution, precision: int, console: Console | None = None) -> None:
    console = console or make_console()
    plain = console.no_color
    console.print(Text(solution.title, style="bold"), justify="left")
    sections = solution.sections or {s.section: s.section for s in solution.steps}
    for key, heading in sections.items():
        steps = solution.in_section(key)
        if not steps:
            continue
        table = Table(title=heading, title_justify="left", box=box.ASCII if plain else box.ROUNDED,
                      show_lines=True, title_style="bold")
        cols = [(h, get) for h, get in COLUMNS if any(get(s, precision) for s in steps)]
        for h, _ in cols:
            table.add_column(h, overflow="fold", style="bold cyan" if h == "step" and not plain else None)
        for s in steps:
            table.add_row(*(get(s, precision) for _, get in cols))
        console.print(table)
    if solution.notes:
        console.print(Text("Notes", style="bold"))
        for n in solution.notes:
            console.print(Text("- " + n))
