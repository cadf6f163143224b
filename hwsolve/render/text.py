"""Terminal output with rich: one table per section, each step's derivation stacked in one cell.

A derivation cell reads like a worked line: the chain rule, then ``= formula``, ``= the same in
the problem's symbols``, ``= numbers substituted``; the value and shape have their own columns.
On a terminal it is coloured (NO_COLOR: without colour); piped, it is plain text with ASCII rules.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from hwsolve.core.numfmt import grouped_count, shape_text
from hwsolve.core.records import Solution, Step
from hwsolve.core.sym import Const, _Printer
from hwsolve.render.plaintext import PlainTable, fits, render_line, render_table, table_fits

if TYPE_CHECKING:  # rich is imported only when rich itself prints (a terminal, or text plaintext can't lay out)
    from rich.console import Console
    from rich.table import Table


# piped without COLUMNS, rich would use 80 columns; tables of derivations read better wider
PIPED_WIDTH = 120


def make_console(file=None, width: int | None = None, plain: bool | None = None) -> Console:
    """A console that follows the usual conventions through rich's own handling: NO_COLOR removes
    colour only, FORCE_COLOR (or TTY_COMPATIBLE=1) forces a terminal, COLUMNS sets the width also
    when piped. `plain=True` (files written with -o, tests) means no styles and ASCII rules."""
    from rich.console import Console

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
    text = step.value if isinstance(step.value, str) else \
        grouped_count(step.value, step.unit) or printer.print(Const(step.value))
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


def _table_data(title: str, steps: list[Step], precision: int, full: bool = True,
                printer: _Printer | None = None) -> PlainTable:
    """The table of a section: its columns (only those some step fills) and one row of texts per step."""
    printer = printer or _Printer(precision)
    cols = [("step", lambda s: s.name)]
    if full and any(derivation_lines(s, precision, printer) for s in steps):
        cols.append(("derivation", lambda s: _derivation(s, precision, printer)))
    cols.append(("value", lambda s: value_text(s, precision, printer)))
    if any(s.shape for s in steps):
        cols.append(("shape", lambda s: shape_text(s.shape) if s.value is not None else ""))
    if full and any(s.note for s in steps):
        cols.append(("note", lambda s: s.note))
    return PlainTable(title, [h for h, _ in cols], [[get(s) for _, get in cols] for s in steps], show_lines=full)


def _rich_table(data: PlainTable, plain: bool) -> Table:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(title=data.title, title_justify="left", box=box.ASCII if plain else box.ROUNDED,
                  show_lines=data.show_lines, title_style="bold", expand=False)
    for h in data.headers:
        table.add_column(h, overflow="fold", style="bold cyan" if h == "step" and not plain else None,
                         ratio=3 if h == "derivation" else None)
    for row in data.rows:
        # Text, not str: rich would read "[z > 0]" or "W[l]" as markup and silently drop it
        table.add_row(*(Text(cell) for cell in row))
    return table


# a line of text and its style on a terminal ("bold" or ""), or a table
Block = tuple[str, str] | PlainTable


def _blocks(solution: Solution, precision: int, printer: _Printer) -> list[Block]:
    """What the terminal shows, in order: the title line, a table per section, the summary, notes."""
    blocks: list[Block] = [(solution.title, "bold")]
    sections = solution.sections or {s.section: s.section for s in solution.steps}
    for key, heading in sections.items():
        steps = solution.in_section(key)
        if steps:
            blocks.append(_table_data(heading, steps, precision, full=key != "given", printer=printer))
    if solution.summary:
        by = solution.by_name()
        blocks.append(_table_data(solution.summary_title, [by[n] for n in solution.summary if n in by],
                                  precision, full=False, printer=printer))
    if solution.notes:
        blocks.append(("Notes", "bold"))
        blocks += [("- " + n, "") for n in solution.notes]
    if getattr(printer, "elided", 0):
        blocks.append((ELIDED_NOTE, ""))
    return blocks


def _plain_text(blocks: list[Block], width: int) -> str | None:
    """The blocks as rich prints them plain at this width, or None when rich must lay them out."""
    lines: list[str] = []
    for block in blocks:
        if isinstance(block, tuple):
            if not fits([block[0]]):
                return None
            lines += render_line(block[0], width)
            continue
        table = render_table(block, width) if table_fits(block) else None
        if table is None:
            return None
        lines += table
    return "\n".join(lines) + "\n" if lines else ""


def piped_width() -> int | None:
    """The width rich would use for plain (uncoloured, ASCII-ruled) output to stdout, or None when
    stdout is a terminal as rich sees one (TTY_COMPATIBLE, FORCE_COLOR, isatty; see
    rich.console.Console.is_terminal) or COLUMNS asks for a width too narrow to bother with."""
    env = os.environ
    tty_compatible = env.get("TTY_COMPATIBLE", "")
    if tty_compatible == "1":
        return None
    if tty_compatible != "0":
        force_color = env.get("FORCE_COLOR")
        if force_color is not None:
            if force_color != "":
                return None
        elif _isatty(sys.stdout):
            return None
    columns = env.get("COLUMNS", "")
    if columns.isdigit():
        return int(columns) if int(columns) >= 20 else None
    return PIPED_WIDTH


def _isatty(stream) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return False if isatty is None else bool(isatty())
    except ValueError:
        return False


def render_plain(solution: Solution, precision: int, width: int = PIPED_WIDTH, whole: bool = False) -> str | None:
    """The text `render` prints to a plain console of this width, laid out without rich; None when
    some text needs rich (characters wider or narrower than one cell, markup in a title)."""
    printer = _Printer(precision) if whole else ElidingPrinter(precision)
    return _plain_text(_blocks(solution, precision, printer), width)


def render(solution: Solution, precision: int, console: Console | None = None, whole: bool = False) -> None:
    """Print the solution; big arrays show their corners unless `whole` (see `ElidingPrinter`).

    Without a console, plain output to stdout (piped) is laid out here without importing rich."""
    printer = _Printer(precision) if whole else ElidingPrinter(precision)
    blocks = _blocks(solution, precision, printer)
    if console is None:
        width = piped_width()
        text = None if width is None else _plain_text(blocks, width)
        if text is not None:
            sys.stdout.write(text)
            return
        console = make_console()
    from rich.text import Text

    plain = ascii_rules(console)
    for block in blocks:
        if isinstance(block, tuple):
            console.print(Text(block[0], style=block[1]))
        else:
            console.print(_rich_table(block, plain))


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
        return "[" + ", ".join([show(x) for x in items]) + "]"
    return "[" + ", ".join([*map(show, items[:EDGE_ITEMS]), "...", *map(show, items[-EDGE_ITEMS:])]) + "]"


class ElidingPrinter(_Printer):
    """The text printer, except that a big array prints as its corners followed by its shape."""

    def __init__(self, precision: int):
        super().__init__(precision)
        self.elided = 0  # how many arrays were shortened: the renderer then says how to see them whole
        # id -> (array, its text): a deep network prints each layer's values in several steps
        # (the value, the numbers substituted, the next layer's operands), the same tuples
        self._shortened: dict[int, tuple[tuple, str]] = {}

    def array(self, v: tuple) -> str:
        if not is_big(v):
            return super().array(v)
        self.elided += 1
        found = self._shortened.get(id(v))
        if found is not None and found[0] is v:
            return found[1]
        if isinstance(v[0], tuple):
            body = _corners(v, lambda row: _corners(row, self.number))
            text = f"{body} ({len(v)}×{len(v[0])})"
        else:
            text = f"{_corners(v, self.number)} ({len(v)})"
        self._shortened[id(v)] = (v, text)
        return text
