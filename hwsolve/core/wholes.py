"""Small whole numbers as shared Fractions.

A Fraction is immutable, so the 0s and 1s of identities, ReLU's derivatives and outer products,
and the small whole numbers of weight matrices and students' answers, need not each be made anew:
making one costs about half a microsecond, and a deep network or a class's batch makes thousands.
"""

from __future__ import annotations

from fractions import Fraction

WHOLE_MAX = 256
_WHOLE = [Fraction(i) for i in range(-WHOLE_MAX, WHOLE_MAX + 1)]
ZERO, ONE = _WHOLE[WHOLE_MAX], _WHOLE[WHOLE_MAX + 1]


def whole(n: int) -> Fraction:
    """Fraction(n), shared when |n| <= WHOLE_MAX."""
    return _WHOLE[n + WHOLE_MAX] if -WHOLE_MAX <= n <= WHOLE_MAX else Fraction(n)
