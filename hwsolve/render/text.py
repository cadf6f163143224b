"""Terminal output with rich: one table per section, each step's derivation stacked in one cell.

A derivation cell reads like a worked line: the chain rule, then ``= formula``, ``= the same in
the problem's symbols``, ``= numbers substituted``; the value and shape have their own columns.
On a terminal it is coloured (NO_COLOR: without colour); piped, it is plain text with ASCII rules.
"""

from __future__ import annotations

import os
import sys

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from hwsolve.core.records import Solution, Step
from hwsolve.core.numfmt import shape_text
from hwsolve.core.sym import Const, to_text


# piped without COLUMNS, rich would use 80 columns; tables of derivations read better wider
PIPED_WIDTH = 120


def make_console(file=None, width: int | None = None, plain: bool | None = None) -> Console:
    """A console that follows the usual conventions through rich's own handling: NO_COLOR removes
    colour only, FORCE_COLOR (or TTY_COMPATIBLE=1) forces a terminal, COLUMNS sets the width also
    when piped. `plain=True` (files written with -o, tests) means no styles and ASCII rules."""
    file = file or sys.stdout
    if plain:
        return Console(file=file, width=width or PIPED_WIDTH, no_color=True, color_system=None,
                       highlight=False, emoji=False, force_terminal=False)
    console = Console(file=file, width=width, highlight=False, emoji=False)
    if width is None and not console.is_terminal and not os.environ.get("COLUMNS", "").isdigit():
        console.width = PIPED_WIDTH
    return console


def ascii_rules(console: Console) -> bool:
    """Box-drawing characters only on a terminal; piped text and files get ASCII rules."""
    return not console.is_terminal


def value_text(step: Step, precision: int) -> str:
    if step.value is None:
        return ""
    text = step.value if isinstance(step.value, str) else to_text(Const(step.value), precision)
    return f"{text} {step.unit}" if step.unit else text


def derivation_lines(step: Step, precision: int) -> list[str]:
    """The step's forms, first to last, without repeats: chain, formula, symbols, numbers."""
    lines: list[str] = []
    for e in (step.chain, step.formula, step.expression, step.substituted):
        if e is None:
            continue
        s = to_text(e, precision)
        if s not in lines and s != step.name:
            lines.append(s)
    return lines


def _derivation(step: Step, precision: int) -> str:
    lines = derivation_lines(step, precision)
    return "\n".join(("" if i == 0 else "= ") + s for i, s in enumerate(lines))


def _table(title: str, steps: list[Step], precision: int, plain: bool, full: bool = True) -> Table:
    table = Table(title=title, title_justify="left", box=box.ASCII if plain else box.ROUNDED,
                  show_lines=full, title_style="bold", expand=False)
    cols = [("step", lambda s: s.name)]
    if full and any(derivation_lines(s, precision) for s in steps):
        cols.append(("derivation", lambda s: _derivation(s, precision)))
    cols.append(("value", lambda s: value_text(s, precision)))
    if any(s.shape for s in steps):
        cols.append(("shape", lambda s: shape_text(s.shape) if s.value is not None else ""))
    if full and any(s.note for s in steps):
        cols.append(("note", lambda s: s.note))
    for h, _ in cols:
        table.add_column(h, overflow="fold", style="bold cyan" if h == "step" and not plain else None,
                         ratio=3 if h == "derivation" else None)
    for s in steps:
        # Text, not str: rich would read "[z > 0]" or "W[l]" as markup and silently drop it
        table.add_row(*(Text(get(s)) for _, get in cols))
    return table


def render(solution: Solution, precision: int, console: Console | None = None) -> None:
    console = console or make_console()
    plain = ascii_rules(console)
    console.print(Text(solution.title, style="bold"))
    sections = solution.sections or {s.section: s.section for s in solution.steps}
    for key, heading in sections.items():
        steps = solution.in_section(key)
        if steps:
            console.print(_table(heading, steps, precision, plain, full=key != "given"))
    if solution.summary:
        by = solution.by_name()
        console.print(_table(solution.summary_title, [by[n] for n in solution.summary if n in by],
                             precision, plain, full=False))
    if solution.notes:
        console.print(Text("Notes", style="bold"))
        for n in solution.notes:
            console.print(Text("- " + n))
