"""Number formatting shared by every printer: exact where exact, floats to a chosen precision.

No numpy here: renderers must work for commands that never import it.
"""

from __future__ import annotations

import math
from fractions import Fraction

from hwsolve.core.precision import DEFAULT_PRECISION  # noqa: F401  (re-exported: significant digits for floats)


def is_terminating(q: Fraction) -> bool:
    """True when q has a finite decimal expansion (its denominator is 2^a 5^b)."""
    return _decimal_places(q.denominator) is not None


MAX_EXACT_DIGITS = 1000  # longer integers print as a float approximation (1.234e5000)


def fmt_exact(q: Fraction | int) -> str:
    """The exact text of a rational: ``-1/5``, ``8``; beyond MAX_EXACT_DIGITS, its approximation."""
    if q.__class__ is int and q.bit_length() <= MAX_EXACT_DIGITS * 3.32:
        return str(q)
    if q.__class__ is not Fraction:
        q = Fraction(q)
    if max(q.numerator.bit_length(), q.denominator.bit_length()) > MAX_EXACT_DIGITS * 3.32:
        return fmt_huge(q)
    return str(q.numerator) if q.denominator == 1 else f"{q.numerator}/{q.denominator}"


def fmt_huge(q: Fraction, precision: int = DEFAULT_PRECISION) -> str:
    """Scientific text for a rational of any size (str() refuses integers over 4300 digits and
    float() overflows past 1e308): from logarithms, which Python takes of integers of any size."""
    if q == 0:
        return "0"
    exp10 = math.log10(abs(q.numerator)) - math.log10(q.denominator)
    exp = math.floor(exp10)
    mant = 10 ** (exp10 - exp)
    if round(mant, precision - 1) >= 10:
        mant, exp = mant / 10, exp + 1
    return f"{'-' if q < 0 else ''}{_strip(f'{mant:.{precision - 1}f}')}e{exp}"


def to_float(x) -> float:
    """float(x), or +-inf when x is too large for a float (a stated approximation for plots)."""
    try:
        return float(x)
    except OverflowError:
        return math.inf if x > 0 else -math.inf


# Text already made, by (type, value, precision): a big array is printed several times per output
# (its value, the substituted formula, text and LaTeX), and weights repeat values. The type is part
# of the key because Fraction(1, 1024) == 2**-10 as a float, yet the two print differently.
_TEXT: dict = {}
_TEXT_LIMIT = 300_000  # about 40 MB at most; past it, numbers are formatted every time


def fmt_number(x, precision: int = DEFAULT_PRECISION) -> str:
    """Text for one scalar (see `_fmt_number`), remembered for the next time it is printed."""
    cls = x.__class__
    if cls is int and x.bit_length() <= MAX_EXACT_DIGITS * 3.32:
        return str(x)
    # a Fraction's own hash is slow (a modular inverse); its numerator and denominator are not,
    # read from its slots (the properties are Python calls: a deep network prints thousands)
    key = (x._numerator, x._denominator, precision) if cls is Fraction else (cls, x, precision)
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


# p/q with a numerator or denominator of more bits than this (about 12 digits) is printed as ≈ a
# decimal: nobody compares 606265962284114069/610351562500000000 with their answer by eye.
LONG_FRACTION_BITS = 40


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
        return fmt_exact(x)
    if isinstance(x, Fraction):
        n, d = x._numerator, x._denominator  # type: ignore[attr-defined]  # the slots, as fmt_number
        if d == 1:
            return fmt_exact(x)
        # 12 places at most: a denominator 2^a 5^b over 10^12 has more, so its fives need no count
        places = _decimal_places(d) if d <= 10**12 else None
        if places is not None and places <= 12:  # float(x) is n / d, correctly rounded
            return _strip(f"{n / d:.{places}f}") if abs(n) < 10**15 * d else fmt_exact(x)
        if max(n.bit_length(), d.bit_length()) > LONG_FRACTION_BITS:
            # a rational nobody reads (a few exact optimizer steps make 100-digit ones): its value
            # to `precision` digits, marked; the exact text stays in JSON's `exact` field
            return "≈" + _fmt_long_fraction(x, precision)
        return fmt_exact(x)
    try:
        return fmt_float(float(x), precision)
    except (TypeError, ValueError):  # not a number at all: show it, do not fail the whole report
        return str(x)[:80]
    except OverflowError:
        return fmt_huge(Fraction(x), precision)


def _fmt_long_fraction(q: Fraction, precision: int) -> str:
    """A long rational's value: as a float when it is in float range, else from logarithms (float()
    overflows past 1e308 and a tiny nonzero value would print as 0)."""
    try:
        value = float(q)
    except OverflowError:
        return fmt_huge(q, precision)
    return fmt_float(value, precision) if value != 0 else fmt_huge(q, precision)


def _decimal_places(d: int) -> int | None:
    """Digits after the point of p/d in lowest terms: max(a, b) for a denominator 2^a 5^b, None
    when the expansion does not terminate (another prime divides d)."""
    twos = (d & -d).bit_length() - 1  # the power of 2 at once: deep exact networks make 2^64
    d >>= twos
    fives, d = _fives(d)
    return max(twos, fives) if d == 1 else None


def _fives(d: int) -> tuple[int, int]:
    """(k, d / 5^k) for the largest k with 5^k | d. By powers 5^(2^i), largest first: each divides
    at most once, as k < 2^(i+1); one 5 at a time took 10^4 long divisions for 0.9^10000's
    denominator 10^10000 (gradient flow through 10,000 layers)."""
    powers = [5]
    while d % powers[-1] == 0 and powers[-1].bit_length() * 2 <= d.bit_length() + 1:
        powers.append(powers[-1] * powers[-1])
    k = 0
    for i in range(len(powers) - 1, -1, -1):
        if d % powers[i] == 0:
            d //= powers[i]
            k += 1 << i
    return k, d


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
    """A JSON-ready scalar: int stays int, a rational or float becomes a float. Negative zero (a
    ReLU's gradient -1.5 * 0.0) is 0.0: no format prints -0."""
    cls = x.__class__
    if cls is int and x.bit_length() < 3000:  # the common cases first: big arrays
        return x
    if cls is float and math.isfinite(x):
        return x + 0.0  # -0.0 + 0.0 is 0.0, every other float itself
    if cls is Fraction and x.denominator == 1 and x.numerator.bit_length() < 3000:  # a graded answer's whole number
        return x.numerator
    if isinstance(x, bool):
        return x
    if isinstance(x, int):   # past 3,000 bits, the scientific text (the JSON encoder's str() refuses 4,300 digits)
        return x if x.bit_length() < 3000 else fmt_huge(Fraction(x))
    if isinstance(x, Fraction):
        if x.denominator == 1:
            return x.numerator if x.numerator.bit_length() < 3000 else fmt_huge(x)
        try:
            return float(x)
        except OverflowError:  # beyond 1e308: the same scientific text the other formats print
            return fmt_huge(x)
    f = float(x)
    if math.isnan(f) or math.isinf(f):
        return str(f)
    return f + 0.0


# The units of counts (hwsolve arch): their values print with thousands separators, as torchinfo
# prints its totals and as the notes beside them write them; JSON keeps plain integers.
COUNT_UNITS = frozenset({"parameters", "activations", "multiply-adds"})


def grouped_count(value, unit: str) -> str | None:
    """`3,152,384` for a whole-number count of a counting unit; None for any other value."""
    if unit not in COUNT_UNITS or isinstance(value, bool):
        return None
    if isinstance(value, Fraction) and value.denominator == 1:
        value = value.numerator
    return f"{value:,}" if isinstance(value, int) else None


def shape_text(shape: tuple) -> str:
    """A shape as readers write it: scalar, 3, 2×3."""
    if not shape:
        return "scalar"
    if len(shape) == 1:
        return str(shape[0])
    return "×".join(str(n) for n in shape)
