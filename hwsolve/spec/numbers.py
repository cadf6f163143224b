"""Parse number text exactly and safely: ``3``, ``-0.25``, ``1e-3``, ``"1/3"``, ``"-2/0.5"``.

No eval, and bounded: `fractions.Fraction("1e999999999")` would build a billion-digit integer,
so the digits and the exponent are limited before any arithmetic happens.
"""

from __future__ import annotations

import re
from fractions import Fraction

MAX_CHARS = 80
MAX_EXPONENT = 300
MAX_MAGNITUDE = 10**MAX_EXPONENT  # every number read fits a float, with room for a few products

_DECIMAL = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_NUMBER = re.compile(rf"^\s*({_DECIMAL})\s*(?:/\s*({_DECIMAL})\s*)?$")
_INTEGER = re.compile(r"^\s*[+-]?\d{1,60}\s*$")


_PARSED: dict[str, Fraction] = {}  # text -> its value: a network's weights repeat the same few texts
_PARSED_LIMIT = 200_000
_PLAIN_DECIMAL = re.compile(r"^-?\d{1,30}\.\d{1,30}$")


def parse_number(text: str) -> Fraction:
    """The exact rational a number text denotes; ValueError (or ZeroDivisionError) if it is not one."""
    try:
        return _PARSED[text]  # Fractions are immutable, so one value can serve every occurrence
    except KeyError:
        pass
    value = _parse_number(text)
    if len(_PARSED) < _PARSED_LIMIT:
        _PARSED[text] = value
    return value


def _parse_number(text: str) -> Fraction:
    if _PLAIN_DECIMAL.match(text):  # 0.25, -1.5: digits over a power of ten, no regex inside Fraction
        whole, _, places = text.partition(".")
        return Fraction(int(whole + places), 10 ** len(places))
    if len(text) > MAX_CHARS:
        raise ValueError(f"number text longer than {MAX_CHARS} characters")
    if _INTEGER.match(text):  # the common case, without the general parse
        return Fraction(int(text))
    return check_magnitude(_parse(text))


def check_magnitude(q: Fraction) -> Fraction:
    """q itself when |q| < 10^MAX_EXPONENT, so that every number read converts to a float."""
    if abs(q) >= MAX_MAGNITUDE:
        raise ValueError(f"number of magnitude 1e{_digits(q) - 1} is beyond the bound of 1e{MAX_EXPONENT}")
    return q


def _digits(q: Fraction) -> int:
    return max(1, len(str(abs(q.numerator) // q.denominator)))


def _parse(text: str) -> Fraction:
    m = _NUMBER.match(text)
    if not m:
        raise ValueError(f"expected a number (like 3, -0.5, 1e-3 or \"1/3\"), got '{text.strip()[:40]}'")
    num = _decimal(m.group(1))
    if m.group(2) is None:
        return num
    den = _decimal(m.group(2))
    if den == 0:
        raise ZeroDivisionError(text)
    return num / den


def _decimal(s: str) -> Fraction:
    if "e" not in s and "E" not in s:
        return Fraction(s)
    mant, _, exp = s.lower().partition("e")
    if abs(int(exp)) > MAX_EXPONENT:
        raise ValueError(f"exponent {exp} out of range (|exponent| <= {MAX_EXPONENT})")
    return Fraction(s)
