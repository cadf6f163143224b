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
from hwsolve.core.sym import Const, _Printer


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


def value_text(step: Step, precision: int, printer: _Printer | None = None) -> str:
    if step.value is None:
        return ""
    printer = printer or _Printer(precision)
    text = step.value if isinstance(step.value, str) else printer.print(Const(step.value))
    return f"{text} {step.unit}" if step.unit else text


def derivation_lines(step: Step, precision: int, printer: _Printer | None = None) -> list[str]:
    """The step's forms, first to last, without repeats: chain, formula, symbols, numbers."""
    printer = printer or _Printer(precision)
    lines: list[str] = []
    for e in (step.chain, step.formula, step.expression, step.substituted):
        if e is None:
            continue
        s = printer.print(e)
        if s not in lines and s != step.name:
            lines.append(s)
    return lines


def _derivation(step: Step, precision: int, printer: _Printer | None = None) -> str:
    lines = derivation_lines(step, precision, printer)
    return "\n".join(("" if i == 0 else "= ") + s for i, s in enumerate(lines))


def _table(title: str, steps: list[Step], precision: int, plain: bool, full: bool = True,
           printer: _Printer | None = None) -> Table:
    printer = printer or _Printer(precision)
    table = Table(title=title, title_justify="left", box=box.ASCII if plain else box.ROUNDED,
                  show_lines=full, title_style="bold", expand=False)
    cols = [("step", lambda s: s.name)]
    if full and any(derivation_lines(s, precision, printer) for s in steps):
        cols.append(("derivation", lambda s: _derivation(s, precision, printer)))
    cols.append(("value", lambda s: value_text(s, precision, printer)))
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


def render(solution: Solution, precision: int, console: Console | None = None, whole: bool = False) -> None:
    """Print the solution; big arrays show their corners unless `whole` (see `ElidingPrinter`)."""
    console = console or make_console()
    printer = _Printer(precision) if whole else ElidingPrinter(precision)
    plain = ascii_rules(console)
    console.print(Text(solution.title, style="bold"))
    sections = solution.sections or {s.section: s.section for s in solution.steps}
    for key, heading in sections.items():
        steps = solution.in_section(key)
        if steps:
            console.print(_table(heading, steps, precision, plain, full=key != "given", printer=printer))
    if solution.summary:
        by = solution.by_name()
        console.print(_table(solution.summary_title, [by[n] for n in solution.summary if n in by],
                             precision, plain, full=False, printer=printer))
    if solution.notes:
        console.print(Text("Notes", style="bold"))
        for n in solution.notes:
            console.print(Text("- " + n))
    if getattr(printer, "elided", 0):
        console.print(Text(ELIDED_NOTE))


# --- Big values elided (issue 17), numpy-style: a 512x512 matrix printed whole is read by nobody.
# Only the terminal elides; JSON, Markdown and LaTeX always carry every number.

ELIDE_LENGTH = 10  # a vector longer than this, or a matrix with more rows or columns, is elided
EDGE_ITEMS = 3  # entries kept at each end of an elided row or column, as numpy does
ELIDED_NOTE = (f"Arrays with more than {ELIDE_LENGTH} rows or columns show their corners and shape; "
               "--full prints them whole.")


def is_big(v: tuple) -> bool:
    """True when an array (nested tuples) is too big to print whole in a terminal."""
    if not v:
        return False
    if isinstance(v[0], tuple):
        return len(v) > ELIDE_LENGTH or len(v[0]) > ELIDE_LENGTH
    return len(v) > ELIDE_LENGTH


def _corners(items: tuple, show) -> str:
    """`[a, b, c, ..., x, y, z]`: the first and last EDGE_ITEMS entries when there are too many."""
    if len(items) <= ELIDE_LENGTH:
        return "[" + ", ".join(show(x) for x in items) + "]"
    head, tail = items[:EDGE_ITEMS], items[-EDGE_ITEMS:]
    return "[" + ", ".join([*(show(x) for x in head), "...", *(show(x) for x in tail)]) + "]"


class ElidingPrinter(_Printer):
    """The text printer, except that a big array prints as its corners followed by its shape."""

    def __init__(self, precision: int):
        super().__init__(precision)
        self.elided = 0  # how many arrays were shortened: the renderer then says how to see them whole

    def array(self, v: tuple) -> str:
        if not is_big(v):
            return super().array(v)
        self.elided += 1
        if isinstance(v[0], tuple):
            body = _corners(v, lambda row: _corners(row, self.number))
            return f"{body} ({len(v)}×{len(v[0])})"
        return f"{_corners(v, self.number)} ({len(v)})"
