"""Values as 2-D numpy arrays: column vectors (n, 1), scalars (1, 1), matrices (m, n).

Exact values are object arrays of `Fraction`; anything else is float64. An operation stays exact
only while all its inputs are exact and its function keeps rationals rational.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np


def exact(rows) -> np.ndarray:
    """An exact 2-D array from nested lists of Fractions/ints (a flat list is a column)."""
    a = np.array(rows, dtype=object)
    if a.ndim == 0:
        a = a.reshape(1, 1)
    elif a.ndim == 1:
        a = a.reshape(-1, 1)
    return np.vectorize(_fraction, otypes=[object])(a) if a.size else a


def _fraction(x) -> Fraction:
    return x if type(x) is Fraction else Fraction(x)


def is_exact(a: np.ndarray) -> bool:
    return a.dtype == object


def to_float(a: np.ndarray) -> np.ndarray:
    return a.astype(np.float64) if a.dtype == object else a


def unify(*arrays: np.ndarray) -> list[np.ndarray]:
    """All exact as they are, or all float."""
    if all(is_exact(a) for a in arrays):
        return list(arrays)
    return [to_float(a) for a in arrays]


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = unify(a, b)
    return a @ b


def elementwise(fn, a: np.ndarray, keep_exact: bool) -> np.ndarray:
    """Apply a scalar function to every entry; exact in, exact out only when keep_exact."""
    if is_exact(a) and keep_exact:
        out = np.empty(a.shape, dtype=object)
        for idx, x in np.ndenumerate(a):
            out[idx] = fn(x)
        if all(isinstance(x, Fraction) for x in out.flat):
            return out
        return out.astype(np.float64)
    src = a if is_exact(a) else a
    out = np.empty(a.shape, dtype=np.float64)
    for idx, x in np.ndenumerate(src):
        out[idx] = float(fn(x if is_exact(a) and keep_exact else float(x)))
    return out


def math_shape(a: np.ndarray, matrix: bool = False) -> tuple[int, ...]:
    """(1, 1) is a scalar, (n, 1) a column vector, anything else a matrix.

    A weight matrix stays a matrix whatever its size (`matrix=True`): a 2x1 W is not a vector.
    """
    if a.ndim != 2:  # a volume (C x H x W) keeps its shape
        return tuple(a.shape)
    m, n = a.shape
    if matrix:
        return (m, n)
    if (m, n) == (1, 1):
        return ()
    if n == 1:
        return (m,)
    return (m, n)


def plain(a: np.ndarray, matrix: bool = False):
    """Nested tuples of Python numbers in the array's mathematical shape (ints where integral)."""
    if a.ndim > 2:  # a volume: one matrix per leading index
        return tuple(plain(sub, True) for sub in a)
    shape = math_shape(a, matrix)
    rows = a.tolist()  # one C-level pass; then only exact entries need normalising
    if is_exact(a):
        rows = [[_exact_scalar(x) for x in row] for row in rows]
    if shape == ():
        return rows[0][0]
    if len(shape) == 1:
        return tuple(row[0] for row in rows)
    return tuple(map(tuple, rows))


def _exact_scalar(x):
    if type(x) is not Fraction:
        x = Fraction(x)
    return x.numerator if x.denominator == 1 else x


def ones(shape, exact_: bool = True) -> np.ndarray:
    if exact_:
        return exact(np.ones(shape, dtype=int).tolist())
    return np.ones(shape)
