"""Long one-line lists of plain numbers, read before YAML sees them (issue 17).

A 784x128 weight matrix is 100,352 numbers; libyaml makes a Python event object for each (about
two thirds of a microsecond apiece, 65 ms for that matrix) before hwsolve reads a single value. A
list written on one line with nothing in it but plain decimals and commas, `[0.25, -0.5, 3]`, is
what every YAML writer and every student produces for a weight row, and its meaning needs no
parser: so `shorten` cuts each such list of at least `MIN_NUMBERS` numbers out of the text, puts a
quoted placeholder of its own in its place (on the same line, so every line number after it is
unchanged) and reads its numbers with the same regular expressions and the same `parse_number`
the loader's event path uses: the same values, the same shared Fractions.

The cut is made without knowing the YAML context (a list could sit inside a quoted string, a
comment or a block scalar). That is safe because the loader takes the result only when every
placeholder came back exactly once, as a whole double-quoted scalar in a value's place, untagged;
anything else (a placeholder inside a string, as a key, under a tag, missing, or any error at all)
and the original text is loaded the ordinary way. A placeholder carries a random nonce, so no spec
can spell one.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from fractions import Fraction

from hwsolve.spec.numbers import parse_number

MIN_NUMBERS = 8  # shorter lists cost libyaml little: they take the ordinary path

# `[` then only what a list of plain decimals is made of, up to its `]`, on one line
_CANDIDATE = re.compile(r"\[([-0-9., ]*)\]")
# the plain scalars YAML's resolver reads as a float or a decimal int and the loader's event path
# turns into the same values (its _PLAIN_FLOAT and _PLAIN_INT)
PLAIN_FLOAT = re.compile(r"-?[0-9]{1,30}\.[0-9]{1,30}").fullmatch
PLAIN_INT = re.compile(r"-?(?:0|[1-9][0-9]{0,17})").fullmatch


@dataclass
class Shortened:
    """The text with placeholders, and each placeholder's numbers (by the placeholder's value)."""

    text: str
    lists: dict[str, list[int | Fraction]]


def shorten(text: str, min_numbers: int = MIN_NUMBERS) -> Shortened | None:
    """The text with its long one-line number lists cut out; None when it has none."""
    if text.count(",") < min_numbers:
        return None
    nonce = secrets.token_hex(8)
    lists: dict[str, list[int | Fraction]] = {}
    values: dict[str, int | Fraction] = {}  # text -> value: a weight matrix repeats a few texts

    def cut(match: re.Match[str]) -> str:
        parts = match.group(1).replace(" ", "").split(",")
        if len(parts) < min_numbers:
            return match.group(0)
        for t in set(parts).difference(values):
            if PLAIN_FLOAT(t):
                values[t] = parse_number(t)
            elif PLAIN_INT(t):
                values[t] = int(t)
            else:
                return match.group(0)  # `[1.5, 2., -]`: not all plain numbers; YAML reads it
        name = f"hwsolve-numbers-{nonce}-{len(lists)}"
        lists[name] = list(map(values.__getitem__, parts))
        return f'"{name}"'

    short = _CANDIDATE.sub(cut, text)
    return Shortened(short, lists) if lists else None
