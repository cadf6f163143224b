"""Number formatting shared by every printer: exact where exact, floats to a chosen precision.

No numpy here: renderers must work for commands that never import it.
"""

from __future__ import annotations

import math
from fractions import Fraction

from hwsolve.core.precision import DEFAULT_PRECISION  # noqa: F401  (re-exported: significant digits for floats)


def is_terminating(q: Fraction) -> bool:
    """True when q has a finite decimal expansion (its denominator is 2^a 5^b)."""
    d = q.denominator
    for p in (2, 5):
        while d % p == 0:
            d //= p
    return d == 1


def fmt_exact(q: Fraction | int) -> str:
    """The exact text of a rational: ``-1/5``, ``8``."""
    if q.__class__ is int:
        return str(q)
    if q.__class__ is not Fraction:
        q = Fraction(q)
    return str(q.numerator) if q.denominator == 1 else f"{q.numerator}/{q.denominator}"


# Text already made, by (type, value, precision): a big array is printed several times per output
# (its value, the substituted formula, text and LaTeX), and weights repeat values. The type is part
# of the key because Fraction(1, 1024) == 2**-10 as a float, yet the two print differently.
_TEXT: dict = {}
_TEXT_LIMIT = 300_000  # about 40 MB at most; past it, numbers are formatted every time


def fmt_number(x, precision: int = DEFAULT_PRECISION) -> str:
    """Text for one scalar (see `_fmt_number`), remembered for the next time it is printed."""
    cls = x.__class__
    if cls is int:
        return str(x)
    # a Fraction's own hash is slow (a modular inverse); its numerator and denominator are not
    key = (x.numerator, x.denominator, precision) if cls is Fraction else (cls, x, precision)
    try:
        return _TEXT[key]
    except KeyError:
        cacheable = True
    except TypeError:  # an unhashable value, formatted without the cache
        cacheable = False
    text = _fmt_number(x, precision)
    if cacheable and len(_TEXT) < _TEXT_LIMIT:
        _TEXT[key] = text
    return text


def _fmt_number(x, precision: int) -> str:
    """Text for one scalar.

    Integers print as integers. A rational prints as a decimal when its expansion terminates in
    at most 12 places (1/20 -> 0.05, as students write it) and as p/q otherwise (1/3). A float
    prints to `precision` significant digits, in fixed notation unless very large or small, so
    0.1 + 0.2 prints as 0.3.
    """
    if isinstance(x, bool):
        return str(x).lower()
    if isinstance(x, int):
        return str(x)
    if isinstance(x, Fraction):
        if x.denominator == 1:
            return str(x.numerator)
        if is_terminating(x):
            places = _decimal_places(x)
            if places <= 12:
                return _strip(f"{float(x):.{places}f}") if abs(x) < 10**15 else fmt_exact(x)
        return fmt_exact(x)
    return fmt_float(float(x), precision)


def _decimal_places(q: Fraction) -> int:
    d, n = q.denominator, 0
    while d != 1:
        n += 1
        g2, g5 = d % 2 == 0, d % 5 == 0
        d //= (2 if g2 else 1) * (5 if g5 else 1)
    return n


def fmt_float(x: float, precision: int = DEFAULT_PRECISION) -> str:
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == 0:
        return "0"
    precision = max(1, precision)
    exp = math.floor(math.log10(abs(x)))
    if -7 <= exp < 12:
        places = max(0, precision - 1 - exp)
        s = _strip(f"{x:.{places}f}")
        return "0" if s in ("-0", "") else s
    mant, _, e = f"{x:.{precision - 1}e}".partition("e")
    return f"{_strip(mant)}e{int(e)}"


def _strip(s: str) -> str:
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return s


def json_number(x):
    """A JSON-ready scalar: int stays int, a rational or float becomes a float."""
    cls = x.__class__
    if cls is int or (cls is float and math.isfinite(x)):  # the common cases first: big arrays
        return x
    if isinstance(x, bool):
        return x
    if isinstance(x, int):
        return x
    if isinstance(x, Fraction):
        return x.numerator if x.denominator == 1 else float(x)
    f = float(x)
    if math.isnan(f) or math.isinf(f):
        return str(f)
    return f


def shape_text(shape: tuple) -> str:
    """A shape as readers write it: scalar, 3, 2×3."""
    if not shape:
        return "scalar"
    if len(shape) == 1:
        return str(shape[0])
    return "×".join(str(n) for n in shape)
