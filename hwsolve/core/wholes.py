"""Fractions made cheaply: small whole numbers shared, and n/d in lowest terms without the constructor.

A Fraction is immutable, so the 0s and 1s of identities, ReLU's derivatives and outer products,
and the small whole numbers of weight matrices and students' answers, need not each be made anew:
making one costs about half a microsecond, and a deep network or a class's batch makes thousands.
"""

from __future__ import annotations

from fractions import Fraction
from math import gcd

WHOLE_MAX = 256
_WHOLE = [Fraction(i) for i in range(-WHOLE_MAX, WHOLE_MAX + 1)]
ZERO, ONE = _WHOLE[WHOLE_MAX], _WHOLE[WHOLE_MAX + 1]


def whole(n: int) -> Fraction:
    """Fraction(n), shared when |n| <= WHOLE_MAX."""
    return _WHOLE[n + WHOLE_MAX] if -WHOLE_MAX <= n <= WHOLE_MAX else Fraction(n)


_new = object.__new__


def lowest(n: int, d: int) -> Fraction:
    """Fraction(n, d) for ints with d > 0: divided by their gcd and stored in Fraction's two slots
    directly, as its constructor stores them after the same division, at a third of the cost of
    its argument checks (an exact product makes one per entry: a 16 x 16 outer product per layer
    of a deep network). tests/test_qmatrix.py compares it with Fraction(n, d)."""
    g = gcd(n, d)
    f = _new(Fraction)
    f._numerator = n // g  # type: ignore[attr-defined]
    f._denominator = d // g  # type: ignore[attr-defined]
    return f
