"""The plain-text layout (hwsolve/render/plaintext.py) prints exactly what rich prints, without rich.

Piped output and -o files skip rich (issue 17: importing rich's console and laying out with it cost
more than a small problem's whole solution); these tests hold the two layouts to the same text,
character for character: on every example problem at several widths, and on random tables whose
cells have long words, blank lines, leading and trailing spaces and one-cell symbols.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

from hwsolve import topics
from hwsolve.render import plaintext
from hwsolve.render.plaintext import PlainTable, render_line, render_table
from hwsolve.render.text import make_console, render, render_plain

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "problems").glob("*.yaml"))


def _rich_text(solution, width: int, whole: bool = False) -> str:
    buf = io.StringIO()
    render(solution, 4, console=make_console(buf, width=width, plain=True), whole=whole)
    return buf.getvalue()


def test_every_one_cell_character_is_one_cell_for_rich():
    one_cell = [chr(code) for lo, hi in plaintext._SINGLE_CELL_RANGES for code in range(lo, hi + 1)
                if plaintext.is_one_cell(chr(code))]
    assert len(one_cell) > 1700
    assert [c for c in one_cell if cell_len(c) != 1] == []
    assert [c for c in one_cell if c.isspace() and c != " "] == []  # no other whitespace than " "
    assert not plaintext.fits(["a\tb"]) and not plaintext.fits(["\u200b"]) and not plaintext.fits(["中"])
    assert plaintext.fits(["σ(x) ≈ 0.5\n∂L/∂W"])


def test_fits_reads_each_character_as_is_one_cell_does():
    in_ranges = {chr(code) for lo, hi in plaintext._SINGLE_CELL_RANGES for code in range(lo, hi + 1)}
    for code in range(0x2700):  # every range, what lies between them, and some beyond
        c = chr(code)
        assert plaintext.is_one_cell(c) == (c == "\n" or (c in in_ranges and c.isprintable())), hex(code)
        assert plaintext.fits([c]) == plaintext.is_one_cell(c), hex(code)  # ASCII's own path too


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_examples_print_the_same_as_rich(path):
    solution = topics.load_and_solve(str(path))[1]
    for width in (120, 79, 50):
        mine = render_plain(solution, 4, width=width)
        if mine is not None:  # None: some text needs rich, e.g. markup-like "[i,j]" in a title (rich prints it)
            assert mine == _rich_text(solution, width), f"width {width}"


def test_nearly_every_example_is_laid_out_without_rich():
    plain = [render_plain(topics.load_and_solve(str(path))[1], 4) is not None for path in EXAMPLES]
    assert sum(plain) >= 0.9 * len(EXAMPLES)


def test_p1_and_conv_shape_are_laid_out_without_rich():
    from hwsolve.topics.conv.sizes import parse_count, parse_pair
    from hwsolve.topics.conv.shape import ShapeProblem, solve_shape

    conv = solve_shape(ShapeProblem(n=parse_pair("36", "n"), k=parse_pair("3", "k"), p=parse_pair("3", "p"),
                                    s=parse_pair("2", "s"), d=parse_pair("1", "d"),
                                    filters=parse_count(None, "filters"), channels=parse_count(None, "channels"),
                                    pool=None, transposed=False,
                                    output_padding=parse_pair("0", "output_padding", minimum=0)))
    p1 = topics.load_and_solve(str(ROOT / "problems" / "cs4782_p1.yaml"))[1]
    for solution in (conv, p1):
        assert render_plain(solution, 4) == _rich_text(solution, 120)


# --- random tables ---

_ALPHABET = "ab xyz01 \n=×≈∂σ→·-[]()"
_cell = st.text(alphabet=_ALPHABET, max_size=40) | st.text(alphabet="abc", min_size=30, max_size=90)


@st.composite
def _tables(draw):
    ncols = draw(st.integers(1, 5))
    headers = draw(st.lists(st.sampled_from(["step", "derivation", "value", "shape", "note", "a long header"]),
                            min_size=ncols, max_size=ncols))
    rows = draw(st.lists(st.lists(_cell, min_size=ncols, max_size=ncols), max_size=4))
    title = draw(st.text(alphabet="Tt le:x ", max_size=70))
    return PlainTable(title, headers, rows, show_lines=draw(st.booleans()))


def _rich_table_text(table: PlainTable, width: int) -> str:
    rich_table = Table(title=table.title, title_justify="left", box=box.ASCII, show_lines=table.show_lines,
                       title_style="bold", expand=False)
    for h in table.headers:
        rich_table.add_column(h, overflow="fold", ratio=3 if h == "derivation" else None)
    for row in table.rows:
        rich_table.add_row(*(Text(c) for c in row))
    buf = io.StringIO()
    Console(file=buf, width=width, no_color=True, color_system=None, highlight=False, emoji=False,
            force_terminal=False).print(rich_table)
    return buf.getvalue()


@settings(max_examples=300, deadline=None)
@given(_tables(), st.integers(20, 130))
def test_random_tables_match_rich(table, width):
    lines = render_table(table, width)
    if lines is not None:  # None: a column narrower than its padding; rich decides
        assert "".join(line + "\n" for line in lines) == _rich_table_text(table, width)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=_ALPHABET, max_size=200), st.integers(5, 130))
def test_random_lines_match_rich(text, width):
    buf = io.StringIO()
    Console(file=buf, width=width, no_color=True, color_system=None, highlight=False, emoji=False,
            force_terminal=False).print(Text(text))
    assert "".join(line + "\n" for line in render_line(text, width)) == buf.getvalue()
