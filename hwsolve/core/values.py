"""The one value model: n-d numpy arrays, exact where the inputs are rational.

Shapes follow the notation of the homework sheets (as MATLAB does): every value has at least two
dimensions. A scalar is (1, 1), a vector a column (n, 1), a matrix (m, n); a value with three or
more dimensions (a C x H x W feature map, a batch) keeps its shape. `math_shape` turns that into
the shape a student writes: () for a scalar, (n,) for a vector, (m, n), or the n-d shape.

Exact values are object arrays of `Fraction`; anything else is float64. An operation stays exact
only while all its inputs are exact and its function keeps rationals rational.

Answer files use the same rules (`shape_of` and `nested_plain` work on plain nested lists), so the
engine and the grader agree on what a "column of 3" or a "1 x 2 row" is.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from itertools import chain
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from hwsolve.core.bigarrays import BIG, entries_by_identity, exact_matmul, exact_to_float, memo
from hwsolve.core.qmatrix import QMatrix
from hwsolve.core.tuplememo import seed_entries
from hwsolve.core.wholes import ONE, ZERO, whole

if TYPE_CHECKING:
    import numpy as np

    Array = np.ndarray
else:
    from hwsolve.core.lazy_numpy import np

# Inside `small_exact()`, exact values are QMatrix (pure Python) rather than numpy object arrays.
_SMALL = {"on": False}


@contextlib.contextmanager
def small_exact(on: bool = True) -> Iterator[None]:
    """Within this block, `exact`, `ones` and `zeros_like` make pure-Python QMatrix values where
    they can (2-D, rational): for a small exact problem, numpy is then never imported."""
    before = _SMALL["on"]
    _SMALL["on"] = on
    try:
        yield
    finally:
        _SMALL["on"] = before


def _small_rows(rows: Any) -> list[list[Fraction]] | None:
    """Rows of Fractions when `rows` is a scalar, a flat list (a column) or a list of equal-length
    lists of ints and Fractions; None when it is anything else (numpy then decides)."""
    if isinstance(rows, QMatrix):
        return rows.tolist()
    if not isinstance(rows, (list, tuple)):
        rows = [[rows]]
    elif not rows or not isinstance(rows[0], (list, tuple)):
        rows = [[v] for v in rows]
    if not rows or not rows[0] or any(not isinstance(r, (list, tuple)) or len(r) != len(rows[0]) for r in rows):
        return None
    out = []
    for r in rows:
        row = _as_fractions(r)
        if row is None:
            return None
        out.append(row)
    return out


def _as_fractions(items) -> list[Fraction] | None:
    """The items as Fractions, an int as its (shared) whole Fraction; None if one is neither."""
    kinds = set(map(type, items))
    if kinds == {Fraction}:
        return list(items)
    if kinds <= {Fraction, int}:
        return [whole(x) if type(x) is int else x for x in items]
    return None


def exact(rows: Any) -> Array:
    """An exact array from nested lists of Fractions/ints (a flat list is a column)."""
    if _SMALL["on"]:
        small = _small_rows(rows)
        if small is not None:
            return QMatrix(small)  # type: ignore[return-value]  # stands in for the object array
    a = _rows_array(rows)
    if a is not None:
        return a
    a = np.array(rows, dtype=object)
    a = at_least_2d(a)
    if not a.size:
        return a
    items = a.reshape(-1).tolist()
    if all(type(x) is Fraction for x in items):
        return a  # a new array already (np.array copies)
    out = np.empty(a.shape, dtype=object)
    out.reshape(-1)[:] = [x if type(x) is Fraction else Fraction(x) for x in items]
    return out


def _rows_array(rows: Any) -> Array | None:
    """`exact` of a list of equal-length lists of Fractions and ints (a spec's weight matrix), from
    its entries in order: np.array discovers a nested list's shape entry by entry, about ten times
    slower on a 128 x 784 matrix. None for anything else."""
    if type(rows) is not list or not rows or type(rows[0]) is not list or not rows[0]:
        return None
    n = len(rows[0])
    if any(type(r) is not list or len(r) != n for r in rows):
        return None
    flat = _as_fractions(list(chain.from_iterable(rows)))
    if flat is None:
        return None
    return np.fromiter(flat, dtype=object, count=len(flat)).reshape(len(rows), n)


def at_least_2d(a: Array) -> Array:
    """A 0-d value becomes (1, 1) and a 1-d one a column (n, 1); others keep their shape."""
    if a.ndim == 0:
        return a.reshape(1, 1)
    if a.ndim == 1:
        return a.reshape(-1, 1)
    return a


def is_exact(a: Array) -> bool:
    return bool(a.dtype == object)


def to_float(a: Array) -> Array:
    if a.dtype != object:
        return a
    return exact_to_float(a) if a.size >= BIG else a.astype(np.float64)


def unify(*arrays: Array) -> list[Array]:
    """All exact as they are, or all float."""
    if all(is_exact(a) for a in arrays):
        return list(arrays)
    return [to_float(a) for a in arrays]


def matmul(a: Array, b: Array) -> Array:
    a, b = unify(a, b)
    if is_exact(a) and not isinstance(a, QMatrix):   # QMatrix multiplies on integers itself
        on_integers = exact_matmul(a, b)  # the same rationals, without a Fraction per product
        if on_integers is not None:
            return on_integers
    return a @ b


def elementwise(fn, a: Array, keep_exact: bool, vectorized=None) -> Array:
    """Apply a scalar function to every entry; exact in, exact out only when keep_exact.

    `vectorized`, when given, computes the same function on a whole float64 array at once (numpy
    ufuncs): float values never go through Python one entry at a time.
    """
    if isinstance(a, QMatrix) and keep_exact:  # the same entries in the same order, without numpy
        rows = [[fn(x) for x in row] for row in a.rows]
        if all(issubclass(k, Fraction) for k in set(map(type, chain.from_iterable(rows)))):
            return QMatrix(rows)
        return np.array(rows, dtype=object).astype(np.float64)
    if is_exact(a) and keep_exact:
        out = np.empty(a.shape, dtype=object)
        for idx, x in np.ndenumerate(a):
            out[idx] = fn(x)
        if all(isinstance(x, Fraction) for x in out.flat):
            return out
        return out.astype(np.float64)
    floats = to_float(a)
    if vectorized is not None:
        with np.errstate(all="ignore"):
            return np.asarray(vectorized(floats), dtype=np.float64)
    out = np.empty(a.shape, dtype=np.float64)
    for idx, x in np.ndenumerate(floats):
        out[idx] = float(fn(float(x)))
    return out


def shape_of(dims: tuple[int, ...], matrix: bool = False) -> tuple[int, ...]:
    """The math shape of a value stored with these dims: (1, 1) is a scalar, (n, 1) a column
    vector, anything else as it is. A weight matrix stays a matrix whatever its size
    (`matrix=True`): a 2x1 W is not a vector."""
    if len(dims) != 2 or matrix:
        return tuple(dims)
    m, n = dims
    if (m, n) == (1, 1):
        return ()
    if n == 1:
        return (m,)
    return (m, n)


def math_shape(a: Array, matrix: bool = False) -> tuple[int, ...]:
    return shape_of(tuple(a.shape), matrix)


def plain(a: Array, matrix: bool = False):
    """Nested tuples of Python numbers in the array's mathematical shape (ints where integral)."""
    if a.__class__ is QMatrix:  # first: a deep exact network asks a thousand times, and a QMatrix keeps its own
        return _plain_small(a, matrix)
    if a.size >= BIG:  # a big array is printed several times: converted once
        return memo(a, "plain matrix" if matrix else "plain", lambda x: _plain(x, matrix))
    return _plain(a, matrix)


def _plain_small(a: QMatrix, matrix: bool):
    m, n = a.shape
    if matrix or n != 1:
        return a.plain_rows()
    if m != 1:
        return a.plain_column()
    return a.plain_rows()[0][0]  # 1 x 1: a scalar


def _plain(a: Array, matrix: bool):
    shape = math_shape(a, matrix)
    if not a.size:
        return _as_tuples(a.tolist())
    if not is_exact(a):
        return _shaped(a.reshape(-1).tolist(), shape, a.shape)
    codes, distinct = entries_by_identity(a)
    whole_ = np.empty(len(distinct), dtype=object)
    whole_[:] = [exact_scalar(x) for x in distinct]  # each distinct object converted once
    flat = whole_[codes].tolist()
    out = _shaped(flat, shape, a.shape)
    if a.size >= BIG:  # its printers start from the same codes (tuplememo.Entries)
        seed_entries(out, flat, [len(out)] if len(shape) == 1 else list(a.shape), codes.tolist(), list(whole_))
    return out


def _shaped(flat: list, shape: tuple[int, ...], dims: tuple[int, ...]):
    """Entries in C order as the value's nested tuples: a scalar, a flat tuple or nested ones."""
    if shape == ():
        return flat[0]
    if len(shape) == 1:  # a column (n, 1) or a 1-d array: one flat tuple
        return tuple(flat)
    return _nested(flat, dims)


def _as_tuples(items: list) -> tuple:
    """Nested lists as nested tuples, at every level."""
    if items and isinstance(items[0], list):
        return tuple(_as_tuples(x) for x in items)
    return tuple(items)


def _nested(flat: list, shape: tuple[int, ...]) -> tuple:
    """Entries in C order as nested tuples of that (non-empty) shape, a row at a time by slicing:
    a 784x128 matrix never goes through an object array's tolist."""
    items = flat
    for n in reversed(shape[1:]):
        items = [tuple(items[i:i + n]) for i in range(0, len(items), n)]
    return tuple(items)


def exact_scalar(x) -> int | Fraction:
    """A rational as an int when it is whole."""
    if type(x) is not Fraction:
        x = Fraction(x)
    return x.numerator if x.denominator == 1 else x


def ones(shape, exact_: bool = True) -> Array:
    if exact_ and _SMALL["on"] and len(shape) == 2:
        return exact([[1] * shape[1] for _ in range(shape[0])])
    if exact_:
        return at_least_2d(np.full(shape, ONE, dtype=object))  # one shared Fraction (immutable)
    return np.ones(shape)


def zeros_like(a: Array) -> Array:
    if is_exact(a) and _SMALL["on"] and len(a.shape) == 2:
        return exact([[0] * a.shape[1] for _ in range(a.shape[0])])
    if is_exact(a):
        return at_least_2d(np.full(a.shape, ZERO, dtype=object))
    return np.zeros(a.shape)


def eye(n: int, exact_: bool = True) -> Array:
    """The n x n identity: exact (Fractions) or float64."""
    if exact_ and _SMALL["on"] and n:
        return _small_eye(n)  # type: ignore[return-value]
    if exact_:  # a linear layer's db Jacobian, 128 x 128 in an MNIST-shaped network: no Fraction per entry
        out = np.full((n, n), ZERO, dtype=object)
        np.fill_diagonal(out, ONE)
        return out
    return np.eye(n)


@functools.lru_cache(maxsize=8)
def _small_eye(n: int) -> QMatrix:
    """The n x n identity as a QMatrix, one per size: a QMatrix is never changed, and a deep
    network's every layer has the same identity (d a / d b) to print."""
    return QMatrix([[ONE if i == j else ZERO for j in range(n)] for i in range(n)])


def ndenumerate(a: Array):
    """((index), entry) in row-major order, as numpy.ndenumerate."""
    if isinstance(a, QMatrix):
        return (((i, j), v) for i, row in enumerate(a.rows) for j, v in enumerate(row))
    return np.ndenumerate(a)


def is_scalar(a: Array) -> bool:
    return a.shape == (1, 1)
