"""Plain (uncoloured, ASCII-ruled) tables laid out exactly as rich lays them out, without rich.

Why: importing rich's console and table modules and running its layout costs more than the rest
of a small command together (`conv-shape`, a small `backprop`): issue 17 wants those within 1.5x
and 2.5x of `import click, rich`. Piped output and files written with -o are plain text, so for
them this module reproduces, step for step, what rich 15 does for the one kind of table
hwsolve prints (`rich.table.Table` with `box.ASCII`, padding (0, 1), `overflow="fold"`, no
`expand`, a left-justified title; rows as `rich.text.Text`), and what `Console.print(Text(...))`
does for a line of text. The functions below are named after the rich methods they mirror.

Only text whose every character rich counts as one terminal cell is laid out here (`fits`);
anything else (wide or combining characters, tabs, control characters, markup in a title) goes
to rich, as does every terminal. `tests/test_plaintext.py` checks the two agree character for
character on every example problem and on random tables.
"""

from __future__ import annotations

import functools
import re

# Characters one terminal cell wide for rich (rich.cells.cell_len == 1, checked by a test), and
# that no str.split/splitlines treats specially other than "\n": printable Latin, Greek and
# Cyrillic, dashes and quotes, super- and subscripts, letterlike symbols, arrows, mathematical
# operators, box drawing.
_SINGLE_CELL_RANGES = ((0x20, 0x7E), (0xA1, 0xAC), (0xAE, 0x2FF), (0x370, 0x482), (0x2010, 0x2027),
                       (0x2030, 0x205E), (0x2070, 0x2071), (0x2074, 0x208E), (0x2090, 0x209C),
                       (0x2100, 0x214F), (0x2190, 0x21FF), (0x2200, 0x22FF), (0x2500, 0x25FC))
_WORD = re.compile(r"\s*\S+\s*")
_TRAILING_SPACE = re.compile(r"\s+$")


def is_one_cell(c: str) -> bool:
    """True for "\n" and for a printable character in the ranges above."""
    return _not_one_cell().search(c) is None


class PlainTable:
    """What hwsolve's rich table shows: a title, column headers, rows of cell texts.

    (A plain class, not a dataclass: building a dataclass costs start-up time this path exists to save.)"""

    __slots__ = ("title", "headers", "rows", "show_lines")

    def __init__(self, title: str, headers: list[str], rows: list[list[str]], show_lines: bool = True):
        self.title, self.headers, self.rows, self.show_lines = title, headers, rows, show_lines


def fits(texts) -> bool:
    """True when every text is made of one-cell characters (and newlines) only."""
    for text in texts:
        if text.isascii():  # the common case, without looking at each character
            if not text.replace("\n", "").isprintable():
                return False
        elif _not_one_cell().search(text):
            return False
    return True


@functools.cache
def _not_one_cell() -> re.Pattern[str]:
    """A character that is neither "\n" nor printable in the ranges above: one scan in C of a
    derivation's text (its × and ⊙ make it not ASCII), where a set of its characters looked up
    one by one took three times as long. Made the first time a text is not ASCII (half a millisecond,
    compiling the class)."""
    runs: list[tuple[int, int]] = []
    for lo, hi in _SINGLE_CELL_RANGES:
        for code in range(lo, hi + 1):
            if not chr(code).isprintable():  # unassigned code points in the Greek block
                continue
            if runs and runs[-1][1] == code - 1:
                runs[-1] = (runs[-1][0], code)
            else:
                runs.append((code, code))
    allowed = "".join(re.escape(chr(a)) + (f"-{re.escape(chr(b))}" if b > a else "") for a, b in runs)
    return re.compile(f"[^\n{allowed}]")


def table_fits(table: PlainTable) -> bool:
    return "[" not in table.title and fits([table.title, *table.headers]) and \
        all(fits(row) for row in table.rows)


# --- rich.text.Text.wrap and rich._wrap.divide_line, for one-cell characters ---


def _divide_line(text: str, width: int) -> list[int]:
    """Offsets where a line breaks to fit `width` (rich's divide_line with fold=True)."""
    if len(text) <= width:  # every word fits where it is
        return []
    breaks = _divide_at_line_ends(text, width)
    return breaks if breaks is not None else _divide_word_by_word(text, width)


def _divide_at_line_ends(text: str, width: int) -> list[int] | None:
    """`_divide_word_by_word`'s breaks found a line at a time: a line from `start` holds every word
    that ends by start + width, so it breaks at the start of the word over that mark. None when a
    word must be folded or the text begins with a space (its first word then includes the spaces).
    The only space a text that `fits` can hold is " ". A long derivation is hundreds of words."""
    if text[0] == " ":
        return None
    breaks: list[int] = []
    start, n = 0, len(text)
    while start + width < n:
        mark = start + width
        if text[mark] == " ":  # every word before the mark fits; the next one starts the next line
            word = mark + 1
            while word < n and text[word] == " ":
                word += 1
            if word == n:
                break
        else:
            word = text.rfind(" ", start, mark) + 1
            if word <= start:
                return None
        end = text.find(" ", word)
        if (n if end < 0 else end) - word > width:
            return None
        breaks.append(word)
        start = word
    return breaks


def _divide_word_by_word(text: str, width: int) -> list[int]:
    """rich's divide_line, word by word."""
    breaks: list[int] = []
    offset = 0
    for match in _WORD.finditer(text):  # words are contiguous from the line's first non-space
        start, word = match.start(), match.group(0)
        word_length = len(word.rstrip())
        if width - offset >= word_length:
            offset += len(word)
        elif word_length > width:  # fold the word over several lines
            pieces = [word[i:i + width] for i in range(0, len(word), width)]
            for i, piece in enumerate(pieces):
                if start:
                    breaks.append(start)
                if i == len(pieces) - 1:
                    offset = len(piece)
                else:
                    start += len(piece)
        elif offset and start:
            breaks.append(start)
            offset = len(word)
    return breaks


def wrap(text: str, width: int, pad: bool) -> list[str]:
    """Text.wrap with overflow "fold"; `pad` is justify "left" (pad every line to `width`)."""
    lines = text.split("\n")
    if max(map(len, lines)) <= width:  # every line fits as it is (most cells): nothing to divide
        return [line.ljust(width) for line in lines] if pad else lines
    out: list[str] = []
    for line in lines:
        if len(line) <= width:  # fits as it is: nothing to divide, strip or cut
            out.append(line.ljust(width) if pad else line)
            continue
        bounds = [0, *_divide_line(line, width), len(line)]
        for start, end in zip(bounds, bounds[1:], strict=False):
            piece = line[start:end]
            if len(piece) > width:  # a break's space at the end, or a folded word
                piece = _rstrip_end(piece, width)[:width]
            out.append(piece.ljust(width) if pad else piece)
    return out


def _rstrip_end(piece: str, width: int) -> str:
    if len(piece) > width:
        match = _TRAILING_SPACE.search(piece)
        if match is not None:
            return piece[:len(piece) - min(len(match.group(0)), len(piece) - width)]
    return piece


# --- rich.measure.Measurement of a padded Text cell, and rich.table.Table's column widths ---


@functools.lru_cache(maxsize=4096)
def _longest_line(text: str) -> int:
    """Text.__rich_measure__'s maximum (a column is measured twice when it shrinks). Its minimum,
    the longest word, rich reads only for an expanded table or one measured inside another, and
    hwsolve prints neither."""
    return max(map(len, text.splitlines()), default=0)


def _column_width(cells: list[str], max_width: int) -> int:
    """The widest a column of padded cells wants to be under this max_width: the maximum over its
    cells of Measurement.get(Padding(Text, (0, 1))), as rich's Table measures a column."""
    if max_width < 1:
        return 0
    if not cells or max_width < 3:  # no room for text beside the padding: all it is given
        return max_width
    longest = max(map(_longest_line, cells))
    return min(longest + 2, max_width) if longest >= 1 else 0


def _ratio_reduce(total: int, ratios: list[int], maximums: list[int], values: list[int]) -> list[int]:
    """rich._ratio.ratio_reduce."""
    ratios = [ratio if maximum else 0 for ratio, maximum in zip(ratios, maximums, strict=True)]
    total_ratio = sum(ratios)
    if not total_ratio:
        return values[:]
    remaining = total
    result = []
    for ratio, maximum, value in zip(ratios, maximums, values, strict=True):
        if ratio and total_ratio > 0:
            distributed = min(maximum, round(ratio * remaining / total_ratio))
            result.append(value - distributed)
            remaining -= distributed
            total_ratio -= ratio
        else:
            result.append(value)
    return result


def _collapse_widths(widths: list[int], max_width: int) -> list[int]:
    """Table._collapse_widths with every column wrappable: shrink the widest columns first."""
    total = sum(widths)
    excess = total - max_width
    while total and excess > 0:
        widest = max(widths)
        second = max((w if w != widest else 0) for w in widths)
        difference = widest - second
        ratios = [1 if w == widest else 0 for w in widths]
        if not any(ratios) or not difference:
            break
        widths = _ratio_reduce(excess, ratios, [min(excess, difference)] * len(widths), widths)
        total = sum(widths)
        excess = total - max_width
    return widths


def column_widths(columns: list[list[str]], max_width: int) -> list[int]:
    """Table._calculate_column_widths (no expand, no fixed widths): each column's width with its padding."""
    widths = [_column_width(cells, max_width) or 1 for cells in columns]
    if sum(widths) > max_width:
        widths = _collapse_widths(widths, max_width)
        if sum(widths) > max_width:  # last resort: reduce every column evenly
            widths = _ratio_reduce(sum(widths) - max_width, [1] * len(widths), widths, widths)
        widths = [_column_width(cells, width) for cells, width in zip(columns, widths, strict=True)]
    return widths


# --- rendering ---


def _cell_lines(text: str, width: int) -> list[str]:
    """A padded cell of this width (padding included), as rich's Padding renders it."""
    inner = width - 2
    if len(text) <= inner and "\n" not in text:  # one line that fits (most cells): nothing to wrap
        return [f" {text:<{inner}} "]
    return [" " + line + " " for line in wrap(text, inner, pad=True)]  # each exactly width - 2


def render_table(table: PlainTable, console_width: int) -> list[str] | None:
    """The lines rich prints for the table (title included), trailing spaces as rich leaves them;
    None when a column would be too narrow for its padding (rich then decides)."""
    ncols = len(table.headers)
    columns = [[h, *(row[i] for row in table.rows)] for i, h in enumerate(table.headers)]
    widths = column_widths(columns, console_width - (ncols + 1))
    if min(widths) < 3:
        return None
    table_width = sum(widths) + ncols + 1
    lines = [line[:console_width] for line in wrap(table.title, table_width, pad=True)] if table.title else []
    rule = "|" + "+".join("-" * w for w in widths) + "|"
    lines.append("+" + "-" * (table_width - 2) + "+")
    rows = [table.headers, *table.rows]
    for index, row in enumerate(rows):
        cells = [_cell_lines(text, w) for text, w in zip(row, widths, strict=True)]
        height = max(map(len, cells))
        for cell, w in zip(cells, widths, strict=True):
            if len(cell) < height:
                blank = [" " * w] * (height - len(cell))
                cell[:] = blank + cell if index == 0 else cell + blank  # headers sit at the bottom
        lines += ["|" + "|".join(parts) + "|" for parts in zip(*cells, strict=True)]
        if index == 0 or (table.show_lines and index < len(rows) - 1):  # under the headers; between rows
            lines.append(rule)
    lines.append("+" + "-" * (table_width - 2) + "+")
    return [line[:console_width] for line in lines]


def render_line(text: str, console_width: int) -> list[str]:
    """What Console.print(Text(text)) prints: wrapped to the console, not padded."""
    return wrap(text, console_width, pad=False)
