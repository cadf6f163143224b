"""Small exact matrices in pure Python: a numpy-free stand-in for an object array of Fractions.

Why: importing numpy costs more than twice all of click and rich (issue 17), and a homework-sized
exact network (P1: a 2-3-2-1 ReLU network) needs none of it. `QMatrix` holds a 2-D matrix of
`Fraction`s and does in Python what the backprop path does with numpy object arrays: `@`, `+`,
`-`, `*` (entry by entry, numpy's broadcasting of a 1 x 1 or a scalar), `.T`, indexing, `.flat`,
`.tolist()`. It is never changed in place (no item assignment): values on the backprop path
never are, and a copy that silently disagreed with its transpose would be worse than an error.
The arithmetic is the same Fraction arithmetic numpy runs entry by entry, so results are the
same rationals (tests/test_qmatrix.py checks both on random networks).

Anything else (a numpy function, a method not written here, an operation with a numpy array)
converts it to the numpy object array it stands for, so code written for numpy keeps working;
it is only slower and imports numpy. `hwsolve.core.values` makes QMatrix values only inside
`small_exact()` (the backprop solver of a small exact network); elsewhere exact values stay numpy.
"""

from __future__ import annotations

import math
import operator
from fractions import Fraction
from typing import Any

from hwsolve.core.wholes import ONE, ZERO, lowest, whole


class QMatrix:
    """An m x n matrix of Fractions (rows: lists of Fractions), with numpy's array interface in part."""

    __slots__ = ("rows", "shape", "base", "_plain", "_column", "_integer_rows")
    dtype = object          # what `values.is_exact` reads: exact, like an object array
    ndim = 2
    __array_ufunc__ = None  # numpy defers `ndarray + QMatrix` to our reflected methods
    __hash__ = None  # type: ignore[assignment]  # mutable, compared entry by entry, like an array

    def __init__(self, rows: list[list[Fraction]], base: QMatrix | None = None):
        self.rows = rows
        self.shape = (len(rows), len(rows[0]) if rows else 0)
        # the matrix this is the transpose of: numpy's `a.T` is a view in column-major order, and a
        # float copy of it keeps that order, which decides how BLAS sums (the last bit of a float)
        self.base = base
        self._plain: tuple | None = None
        self._column: tuple | None = None
        self._integer_rows: list[tuple[list[int], int]] | None = None

    # -- numpy interoperability ----------------------------------------------------------

    def to_numpy(self):
        import numpy as np

        if self.base is not None:
            return self.base.to_numpy().T
        out = np.empty(self.shape, dtype=object)
        for i, row in enumerate(self.rows):
            for j, v in enumerate(row):
                out[i, j] = v
        return out

    def __array__(self, dtype=None, copy=None):
        a = self.to_numpy()
        return a if dtype is None else a.astype(dtype)

    def __getattr__(self, name: str) -> Any:
        # reached only for what this class does not define (reshape, copy, sum, ...): numpy's
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.to_numpy(), name)

    # -- the array interface the backprop path uses ---------------------------------------

    @property
    def size(self) -> int:
        return self.shape[0] * self.shape[1]

    @property
    def T(self) -> QMatrix:  # noqa: N802  (numpy's name)
        return QMatrix([list(col) for col in zip(*self.rows, strict=True)], base=self)

    @property
    def flat(self):
        return (v for row in self.rows for v in row)

    def tolist(self) -> list[list[Fraction]]:
        return [list(row) for row in self.rows]

    def plain_rows(self) -> tuple:
        """The rows as tuples of ints (whole entries) and Fractions, made once: printing a step
        reads the same value several times (its value, its operands, the graph drawing)."""
        if self._plain is None:
            # Fraction's slots read directly (CPython's fractions.py since 2.6; typeshed leaves them
            # out): its numerator and denominator properties are Python calls, two thirds of this
            # for a deep network's hundred 16x16 matrices
            self._plain = tuple([tuple([v._numerator if v._denominator == 1 else v  # type: ignore[attr-defined]
                                        for v in row]) for row in self.rows])
        return self._plain

    def plain_column(self) -> tuple:
        """An n x 1 matrix's plain rows as one flat tuple (a vector's math shape), made once."""
        if self._column is None:
            self._column = tuple([v._numerator if v._denominator == 1 else v  # type: ignore[attr-defined]
                                  for (v,) in self.rows])
        return self._column

    def integer_rows(self) -> list[tuple[list[int], int]]:
        """Each row as whole numbers over its own common denominator (`_integers`), made once: a
        layer's W multiplies in the forward pass, and its transpose in the backward pass reads
        the same rows (`_transposed_product`)."""
        if self._integer_rows is None:
            self._integer_rows = [_integers(row) for row in self.rows]
        return self._integer_rows

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key):
        if isinstance(key, tuple) and len(key) == 2:
            i, j = key
            if isinstance(i, int) and isinstance(j, int):
                return self.rows[i][j]
            if i == slice(None) and isinstance(j, int):  # a column, as numpy's a[:, j] (1-D)
                return [row[j] for row in self.rows]
        return self.to_numpy()[key]

    def __matmul__(self, other):
        if not isinstance(other, QMatrix):
            return self.to_numpy() @ other
        m, k = self.shape
        k2, n = other.shape
        if k != k2:
            raise ValueError(f"matmul: shapes {self.shape} and {other.shape} do not align")
        if not k:  # an empty inner dimension: numpy's zeros
            return self.to_numpy() @ other.to_numpy()
        if k == 1:
            return QMatrix(_outer([row[0] for row in self.rows], other.rows[0]))
        if not n:
            return QMatrix([[] for _ in range(m)])
        if self.base is not None and self.base._integer_rows is not None:  # W.T @ g after W @ z
            return QMatrix(_transposed_product(self.base._integer_rows, other.rows))
        rows = self.integer_rows()
        cols = [_integers(col) for col in zip(*other.rows, strict=True)]
        return QMatrix([[_dot(row, col) for col in cols] for row in rows])

    def __rmatmul__(self, other):
        return other @ self.to_numpy()

    def _entrywise(self, other, op, reflected: bool = False):
        if isinstance(other, QMatrix):
            a, b = (other, self) if reflected else (self, other)
            return _broadcast(a, b, op)
        if isinstance(other, (int, Fraction)) and not isinstance(other, bool):
            if type(other) is int:  # every entry stays a Fraction (the slots read above, _mul's shortcuts)
                other = whole(other)
            if reflected:
                return QMatrix([[op(other, v) for v in row] for row in self.rows])
            return QMatrix([[op(v, other) for v in row] for row in self.rows])
        mine, op = self.to_numpy(), _ARRAY_OP[op]  # the entry functions read Fraction's slots
        return op(other, mine) if reflected else op(mine, other)

    def __add__(self, other):
        return self._entrywise(other, _add)

    def __radd__(self, other):
        return self._entrywise(other, _add, reflected=True)

    def __sub__(self, other):
        return self._entrywise(other, _sub)

    def __rsub__(self, other):
        return self._entrywise(other, _sub, reflected=True)

    def __mul__(self, other):
        return self._entrywise(other, _mul)

    def __rmul__(self, other):
        return self._entrywise(other, _mul, reflected=True)

    def __truediv__(self, other):
        return self._entrywise(other, _div)

    def __rtruediv__(self, other):
        return self._entrywise(other, _div, reflected=True)

    def __neg__(self) -> QMatrix:
        return QMatrix([[-v for v in row] for row in self.rows])

    def __eq__(self, other):  # entry by entry, as numpy
        return self.to_numpy() == (other.to_numpy() if isinstance(other, QMatrix) else other)

    def __ne__(self, other):
        return self.to_numpy() != (other.to_numpy() if isinstance(other, QMatrix) else other)

    def __iter__(self):
        return iter(self.to_numpy())

    def __bool__(self) -> bool:
        return bool(self.to_numpy())

    def __repr__(self) -> str:
        return f"QMatrix({self.rows!r})"


def _integers(vector) -> tuple[list[int], int]:
    """A vector of Fractions as whole numbers over one common denominator: (numerators, denominator).
    Fraction's slots are read directly, as in `plain_rows`: a third of the time of its properties."""
    common = math.lcm(*[v._denominator for v in vector])
    return [v._numerator * (common // v._denominator) for v in vector], common


def _dot(row: tuple[list[int], int], col: tuple[list[int], int]) -> Fraction:
    """The dot product of two vectors over common denominators: integer products, one Fraction at
    the end (in lowest terms, so the same rational as summing Fraction products one by one)."""
    return lowest(sum(map(operator.mul, row[0], col[0])), row[1] * col[1])


def _transposed_product(rows: list[tuple[list[int], int]], other: list[list[Fraction]]) -> list[list[Fraction]]:
    """W.T @ G from W's integer rows (W = N_i / d_i row by row): entry (j, l) is the sum over i of
    N_ij G_il / d_i. For each column l of G, the factors G_il / d_i go over one common denominator
    C as whole numbers m_i, and the entry is (sum of m_i N_ij) / C in lowest terms: the same
    rational as summing Fraction products, without reading W's Fractions again."""
    numerator_columns = list(zip(*[numerators for numerators, _ in rows], strict=True))  # W.T's rows
    out_columns = []
    for column in zip(*other, strict=True):
        denominators = [g._denominator * d for g, (_, d) in zip(column, rows, strict=True)]
        common = math.lcm(*denominators)
        factors = [g._numerator * (common // d)
                   for g, d in zip(column, denominators, strict=True)]
        out_columns.append([lowest(sum(map(operator.mul, factors, numerators)), common)
                            for numerators in numerator_columns])
    return [list(row) for row in zip(*out_columns, strict=True)]


def _outer(column: list[Fraction], row: list[Fraction]) -> list[list[Fraction]]:
    """column @ row, the outer product (dL/dW = delta a^T, once per layer): the row over one
    common denominator, each entry one Fraction of integer products, and a zero column entry
    (a ReLU's dead unit) a row of shared zeros."""
    numerators, denominator = _integers(row)
    zeros = [ZERO] * len(row)
    out = []
    for x in column:
        n = x._numerator  # type: ignore[attr-defined]  # the slots, as in plain_rows
        if n == 0:
            out.append(zeros.copy())
            continue
        d = x._denominator * denominator  # type: ignore[attr-defined]
        out.append([lowest(n * y, d) if y else ZERO for y in numerators])
    return out


# Entry by entry, both operands are Fractions (`_entrywise` makes an int one). Their sum, difference
# and product are made from the slots, in lowest terms by `lowest`: the rational Fraction's own
# operators return, at a third of their cost (theirs read the properties and dispatch through
# `_operator_fallbacks`), for a deep network's biases and ReLU derivatives, layer after layer.


def _add(a, b):
    da, db = a._denominator, b._denominator
    if da == db:
        return lowest(a._numerator + b._numerator, da)
    return lowest(a._numerator * db + b._numerator * da, da * db)


def _sub(a, b):
    da, db = a._denominator, b._denominator
    if da == db:
        return lowest(a._numerator - b._numerator, da)
    return lowest(a._numerator * db - b._numerator * da, da * db)


def _mul(a, b):
    # a ReLU's derivative is shared 1s and 0s (core/wholes.py): the product is known without
    # making a Fraction (entries are Fractions, so x * 1 is x itself and x * 0 is 0)
    if b is ONE:
        return a
    if a is ONE:
        return b
    if a is ZERO or b is ZERO:
        return ZERO
    return lowest(a._numerator * b._numerator, a._denominator * b._denominator)


def _div(a, b):
    return a / b


_ARRAY_OP = {_add: operator.add, _sub: operator.sub, _mul: operator.mul, _div: operator.truediv}


def _broadcast(a: QMatrix, b: QMatrix, op) -> QMatrix:
    """op entry by entry with numpy's broadcasting of 2-D shapes (a dimension of 1 stretches)."""
    (m1, n1), (m2, n2) = a.shape, b.shape
    if (m1 != m2 and 1 not in (m1, m2)) or (n1 != n2 and 1 not in (n1, n2)):
        raise ValueError(f"operands could not be broadcast together with shapes {a.shape} {b.shape}")
    m, n = max(m1, m2), max(n1, n2)
    ar, br = a.rows, b.rows
    if (m1, n1) == (m2, n2):
        return QMatrix([[op(x, y) for x, y in zip(ra, rb, strict=True)] for ra, rb in zip(ar, br, strict=True)])
    return QMatrix([[op(ar[i if m1 > 1 else 0][j if n1 > 1 else 0], br[i if m2 > 1 else 0][j if n2 > 1 else 0])
                     for j in range(n)] for i in range(m)])
