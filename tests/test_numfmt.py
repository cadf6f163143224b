"""numfmt's shortcuts against the plain definitions they stand for."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from hwsolve.core.numfmt import is_terminating


def _terminates(q: Fraction) -> bool:
    """A finite decimal expansion: the denominator is 2^a 5^b (each factor taken out one by one)."""
    d = q.denominator
    for p in (2, 5):
        while d % p == 0:
            d //= p
    return d == 1


denominators = st.one_of(
    st.integers(1, 10**12),
    st.builds(lambda a, b, c: 2**a * 5**b * c, st.integers(0, 90), st.integers(0, 40), st.sampled_from([1, 1, 3, 7])),
)


@given(st.integers(-10**30, 10**30), denominators)
def test_is_terminating_is_a_denominator_of_twos_and_fives(n, d):
    q = Fraction(n, d)
    assert is_terminating(q) == _terminates(q)
