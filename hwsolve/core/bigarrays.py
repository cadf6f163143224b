"""Big arrays made cheap: exact products on integers, and conversions made once per array.

A network with a 512x512 weight matrix multiplies, converts and prints that matrix several times
(its forward product, the float product of the backward pass, its value and the numbers
substituted into two formulas). Two things keep that fast without changing one number:

- An exact array is one integer array over a common denominator (its `scaled` form): the matrix
  product of two exact arrays is the integer product over the product of the denominators, and
  its float is the integers divided by that denominator. `Fraction(n, d)` normalises, so every
  entry is the same rational the Fraction loop makes; a float is n / d rounded once, as
  `float(Fraction)` rounds it.
- A conversion of a big array (`memo`) is remembered with the array it came from and reused while
  that array holds the same entries (checked by comparing its bytes: the values of a float array,
  the addresses of an exact array's Fractions, kept alive by a copy).

Small arrays take the plain path: the bookkeeping costs more than it saves.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from hwsolve.core.wholes import lowest

if TYPE_CHECKING:
    import numpy as np
else:
    from hwsolve.core.lazy_numpy import np  # not imported by the small exact path that loads this module

BIG = 1024          # entries: from this size on, conversions are remembered
SMALL_PRODUCT = 4096  # multiplications: below this, the Fraction loop is as fast as the integers
_MEMO_LIMIT = 48    # arrays remembered at once (a 512-wide network has about 20 big ones)
_INT64_SAFE = 2**62
_FLOAT_SAFE = 2**53  # integers up to this size are floats exactly
# Past this many bits a common denominator makes the integer path slower than the Fractions it
# replaces (measured on a 50x120 by 120x2 product: 6x faster at 300 bits, even at 2,200, 8x
# slower at 11,000; denominators that are distinct primes multiply up): then it is not taken
_COMMON_BITS = 1024

R = TypeVar("R")
# (address, shape, strides, type) -> (the array, its bytes, a copy keeping an exact array's
# Fractions alive, {what: result}): one entry per array, whatever was made from it
_MEMO: dict[tuple, tuple[np.ndarray, bytes, Any, dict[str, Any]]] = {}


def memo(a: np.ndarray, what: str, make: Callable[[np.ndarray], R]) -> R:
    """make(a), remembered for a big array `a` while its entries stay the same.

    Kept by where the entries lie (address, shape, strides, type), not by the array object: a
    transpose is a new view each time it is taken (W.T in every backward step), and views of the
    same memory laid out alike hold the same entries. The array is kept alive with its results, so
    its memory is not handed to another array; equal bytes are then equal entries. Everything made
    from one array (its codes, its common denominator, its plain form) shares one entry and one
    copy of it."""
    interface = getattr(a, "__array_interface__", None)  # None for a QMatrix: it keeps its own
    if a.size < BIG or interface is None:
        return make(a)
    key = (interface["data"][0], a.shape, a.strides, a.dtype.str)
    found = _MEMO.get(key)
    data = a.tobytes()
    if found is None or found[1] != data:
        if len(_MEMO) >= _MEMO_LIMIT:
            _MEMO.clear()
        # the copy keeps an exact array's Fractions alive, so their addresses cannot be reused
        found = _MEMO[key] = (a, data, a.copy() if a.dtype == object else None, {})
    made = found[3]
    if what not in made:
        made[what] = make(a)
    return made[what]


class Scaled(NamedTuple):
    """An exact array as integers over one denominator: entry k (C order) is numerators[k] / den."""

    numerators: np.ndarray  # int64 when every numerator fits, else Python integers (object)
    den: int
    largest: int  # the largest |numerator|


def scaled(a: np.ndarray) -> Scaled | None:
    """An exact array over its common denominator; None if an entry is not a Fraction, or the
    common denominator is too big to help (`_COMMON_BITS`)."""
    return memo(a, "scaled", _scaled)


def entries_by_identity(a: np.ndarray) -> tuple[np.ndarray, list]:
    """An exact array's entries as (codes, distinct): entry k in C order is distinct[codes[k]],
    each distinct object once. Made once per big array, from the addresses the array holds (its
    bytes), without a Python object per entry: a weight matrix read from a spec repeats a few
    shared Fractions, and its common denominator and plain form both start from them."""
    return memo(a, "by identity", _by_identity)


def _by_identity(a: np.ndarray) -> tuple[np.ndarray, list]:
    flat = a.reshape(-1)
    addresses = np.frombuffer(flat.tobytes(), dtype=np.uintp)  # an object array holds pointers
    unique, codes = np.unique(addresses, return_inverse=True)
    where = np.empty(len(unique), dtype=np.intp)
    where[codes] = np.arange(len(flat))  # an index of each distinct object (all its copies alike)
    return codes.reshape(-1), flat[where].tolist()


def _scaled(a: np.ndarray) -> Scaled | None:
    codes, distinct = entries_by_identity(a)
    if not all(type(x) is Fraction for x in distinct):
        return None
    common = 1
    for d in {x.denominator for x in distinct}:
        common = math.lcm(common, d)
        if common.bit_length() > _COMMON_BITS:
            return None
    tops = [x.numerator * (common // x.denominator) for x in distinct]
    largest = max(map(abs, tops), default=0)
    if largest < _INT64_SAFE:
        by_code = np.array(tops, dtype=np.int64)
    else:
        by_code = np.empty(len(tops), dtype=object)  # Python integers of any size
        by_code[:] = tops
    return Scaled(by_code[codes].reshape(a.shape), common, largest)


def exact_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray | None:
    """a @ b for two exact 2-d arrays, on integers; None when the plain Fraction product is the
    better way (small, not 2-d, or an entry that is not a Fraction)."""
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0] or a.size * b.shape[1] < SMALL_PRODUCT \
            or not a.size or not b.size:
        return None
    sa, sb = scaled(a), scaled(b)
    if sa is None or sb is None:
        return None
    ia, ib = sa.numerators, sb.numerators
    # int64 when no sum of products can overflow; otherwise Python integers, still far faster than Fractions
    if sa.largest * sb.largest * a.shape[1] >= _INT64_SAFE:
        ia, ib = ia.astype(object), ib.astype(object)
    product = (ia @ ib).reshape(-1).tolist()
    den = sa.den * sb.den
    out = np.empty(len(product), dtype=object)
    out[:] = [lowest(int(n), den) for n in product]
    return out.reshape(a.shape[0], b.shape[1])


def exact_to_float(a: np.ndarray) -> np.ndarray:
    """The float64 array of an exact one, each entry rounded once as float(Fraction) rounds it
    (a copy of the remembered one: callers may change theirs)."""
    return memo(a, "float", _to_float).copy(order="K")


def _to_float(a: np.ndarray) -> np.ndarray:
    if a.ndim == 2 and a.flags.f_contiguous and not a.flags.c_contiguous:
        # a transpose (W.T in dL/dz = W^T delta): its floats are W's, transposed, laid out as
        # astype lays out W.T's (column-major); W's own are often made already
        return memo(a.T, "float", _to_float).T
    found = scaled(a) if a.size >= BIG else None
    if found is not None and found.den < _FLOAT_SAFE and found.largest < _FLOAT_SAFE:
        # both exact as floats, so one IEEE division rounds n / den correctly, as Fraction does
        # laid out in memory as astype lays it out (a transpose stays one): BLAS sums in that order
        out = np.empty_like(a, dtype=np.float64)
        out[...] = found.numerators.astype(np.float64) / found.den
        return out
    return a.astype(np.float64)
