"""Work on a big value done once per value: its text, its LaTeX, its JSON numbers.

A step's value is nested tuples (immutable), and one big array's tuples are shared by every step
that prints it (`values.plain` converts an array once): a 512x512 weight matrix is the value of
W[1], the Jacobian da[1]/dz[0] and the numbers substituted into a[1] = W[1] z[0] + b[1], in text
and in LaTeX. Keyed by the tuple's identity, kept alive here so that identity is not reused.
No numpy: renderers use this.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar

BIG = 1024     # numbers: smaller values are simply recomputed
_LIMIT = 256   # results remembered at once (a value may have several: text, LaTeX, JSON, ...)

R = TypeVar("R")
_MEMO: dict[tuple[int, Hashable], tuple[Any, Any]] = {}


def count(value: Any) -> int:
    """How many numbers a (rectangular) nested tuple holds, from its first entry at each level."""
    n = 1
    while type(value) is tuple:
        n *= len(value)
        if not value:
            return 0
        value = value[0]
    return n


def remember(value: tuple, what: Hashable, make: Callable[[Any], R]) -> R:
    """make(value), computed once per big nested tuple and `what` (which work, with its options)."""
    if count(value) < BIG:
        return make(value)
    key = (id(value), what)
    found = _MEMO.get(key)
    if found is not None and found[0] is value:
        return found[1]
    result = make(value)
    if len(_MEMO) >= _LIMIT:
        _MEMO.clear()
    _MEMO[key] = (value, result)
    return result
