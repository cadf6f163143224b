"""Work on a big value done once per value: its text, its LaTeX, its JSON numbers.

A step's value is nested tuples (immutable), and one big array's tuples are shared by every step
that prints it (`values.plain` converts an array once): a 512x512 weight matrix is the value of
W[1], the Jacobian da[1]/dz[0] and the numbers substituted into a[1] = W[1] z[0] + b[1], in text
and in LaTeX. Keyed by the tuple's identity, kept alive here so that identity is not reused.
No numpy: renderers use this.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from itertools import chain
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
    _keep(key, value, result)
    return result


def _keep(key: tuple[int, Hashable], value: tuple, result: Any) -> None:
    if len(_MEMO) >= _LIMIT:
        _MEMO.clear()
    _MEMO[key] = (value, result)


def by_identity(items: list) -> tuple[list[int], dict[int, Any]]:
    """The id of each entry, and each distinct object once, by id. A weight matrix read from a
    spec repeats a few shared Fractions (the spec's number cache), and Fraction's numerator and
    denominator are Python properties: work on the distinct ones, then map the ids back
    (`list(map(done.__getitem__, ids))`). The ids stay valid while `items` keeps the entries alive."""
    ids = list(map(id, items))
    return ids, dict(zip(ids, items, strict=True))


class Entries:
    """The numbers of a rectangular nested tuple, in order, with each distinct one once: a float
    by its value (equal floats print alike), anything else by a key per object (its id, or a code
    its maker gave it: `seed_entries`). Made once per big value (`entries`) and shared by its
    text, its LaTeX and its JSON."""

    __slots__ = ("flat", "shape", "kinds", "keys", "distinct")

    def __init__(self, value: tuple):
        shape, x = [], value
        while type(x) is tuple and x:
            shape.append(len(x))
            x = x[0]
        flat: list = list(value)
        for n in shape[1:]:
            if any(type(part) is not tuple or len(part) != n for part in flat):
                raise ValueError("not a rectangular array")
            flat = list(chain.from_iterable(flat))
        self.flat, self.shape = flat, shape
        self.kinds = frozenset(map(type, flat))
        self.keys: list[int] | None = None  # None: floats, each its own key
        self.distinct: Any
        if self.kinds == {float}:
            self.distinct = set(flat)
        else:
            self.keys, self.distinct = by_identity(flat)

    def map(self, fn: Callable[[Any], R]) -> list[R]:
        """fn of each entry, in order, computed once per distinct entry (the mapping back runs in C)."""
        if self.keys is None:
            by_value = {x: fn(x) for x in self.distinct}
            return list(map(by_value.__getitem__, self.flat))
        by_key = {k: fn(x) for k, x in self.distinct.items()}
        return list(map(by_key.__getitem__, self.keys))


def entries(value: tuple) -> Entries | None:
    """The `Entries` of a rectangular array of numbers (remembered for a big one); None for
    anything else (ragged, nested unevenly, or floats mixed with other numbers), which its
    printers print entry by entry."""
    return remember(value, "entries", _entries)


def _entries(value: tuple) -> Entries | None:
    try:
        found = Entries(value)
    except ValueError:
        return None
    if tuple in found.kinds or list in found.kinds or (found.keys is not None and float in found.kinds):
        return None
    return found


def seed_entries(value: tuple, flat: list, shape: list[int], codes: list[int], distinct: list) -> None:
    """Remember the `Entries` of a big rectangular tuple of ints and Fractions that its maker
    (values.plain) built from codes: entry k of `flat` (C order) is distinct[codes[k]]. Its
    printers then start from those codes instead of finding each entry's object again."""
    if count(value) < BIG:
        return
    found = Entries.__new__(Entries)
    found.flat, found.shape = flat, shape
    found.kinds = frozenset(map(type, distinct))
    found.keys, found.distinct = codes, dict(enumerate(distinct))
    _keep((id(value), "entries"), value, found)
