"""Tensor rules for matrix expressions in graph specs: ``W @ x + b``, ``x.T``, ``sum(x, axis=0)``, ...

Values follow `hwsolve.core.values`: numpy arrays with at least 2 dims (a scalar is (1, 1), a
vector a column (n, 1)); exact `Fraction` object arrays while every operand is exact and the
rule keeps rationals rational, float64 otherwise.

Broadcasting is numpy's: shapes are aligned from the right and a size-1 axis stretches to the
other operand's size. The gradient of an operand that was stretched is summed over the axes it
was stretched along (`unbroadcast`), so it always has the operand's own shape.

Axes: ``axis=0`` runs down the rows (over each column), ``axis=1`` along the columns (over each
row). Reductions keep their axis (``sum`` of a 2x3 matrix over axis 0 is 1x3), so every value
stays at least 2-D. Softmax, log-softmax and the cross-entropies work over axis 0 by default: a
column vector of scores is one example; a matrix holds one example per column.

Each rule also has `shape(in_shapes)`, used at compile time: the output shape, or a `ShapeError`
whose message names the operands' shapes (the compiler adds the node and the operands' names).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from hwsolve.autodiff.functions import Elementwise, function_names, lookup
from hwsolve.autodiff.ops import (POWER_FACTOR, SIGN_LOST, SOFTMAX_WITHOUT_Y, WEIGHT_NOT_TRANSPOSED, Activation,
                                  Function, GraphOp, Mutant, _untransposed, entry_list, sign_lost, signed_sum,
                                  without_y)
from hwsolve.core import values as T
from hwsolve.core.errors import MathError
from hwsolve.core.sym import Apply, Const, Expr, Symbol, call, hdiv

Shape = tuple[int, ...]
MAX_EXACT_BITS = 200_000  # as the scalar rules: larger exact numbers are an error


class ShapeError(ValueError):
    """Operand shapes a rule cannot take; `message` says what it needed, with the shapes.

    The message may name the operands as {0}, {1}: the compiler formats in their names.
    """

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def fmt_shape(s: Shape) -> str:
    return "x".join(str(d) for d in s)


# -- helpers on values --------------------------------------------------------------------------


def broadcast_shape(shapes: list[Shape], what: str = "operands") -> Shape:
    """numpy's broadcast of the shapes, or a ShapeError listing them."""
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        listed = ", ".join(fmt_shape(s) for s in shapes)
        raise ShapeError(f"the {what} have shapes {listed}, which do not broadcast (each axis must "
                         "match or be 1)") from None


def unbroadcast(g: np.ndarray, shape: Shape) -> np.ndarray:
    """Sum the gradient g over the axes an operand of `shape` was stretched along."""
    extra = g.ndim - len(shape)
    if extra > 0:
        g = g.sum(axis=tuple(range(extra)))
    axes = tuple(k for k, n in enumerate(shape) if n == 1 and g.shape[k] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g.reshape(shape)


def _checked(a: np.ndarray, owner: str | None) -> np.ndarray:
    """The value itself, unless it holds a huge exact number or a non-finite float."""
    where = f" (in node '{owner}')" if owner else ""
    if T.is_exact(a):
        for x in a.flat:
            if max(x.numerator.bit_length(), x.denominator.bit_length()) > MAX_EXACT_BITS:
                raise MathError(f"the exact value has more than {MAX_EXACT_BITS * 3 // 10} digits" + where)
        return a
    if not np.all(np.isfinite(a)):
        raise MathError("the value is not a finite number" + where)
    return a


def _fractions(a: np.ndarray) -> np.ndarray:
    """Entries that are ints after an exact reduction (an empty sum) become Fractions."""
    if not T.is_exact(a):
        return a
    out = np.empty(a.shape, dtype=object)
    for idx, x in np.ndenumerate(a):
        out[idx] = x if type(x) is Fraction else Fraction(x)
    return out


def _ones_like(shape: Shape) -> Symbol:
    dims = r" \times ".join(str(d) for d in shape)
    return Symbol(f"ones({fmt_shape(shape)})", rf"\mathbf{{1}}_{{{dims}}}")


def _reduced(up: Expr, shape: Shape, out_shape: Shape) -> Expr:
    """Display of `unbroadcast`: sum(up, axis=k) where the operand was stretched along k."""
    extra = len(out_shape) - len(shape)
    axes = list(range(extra)) + [k + extra for k, n in enumerate(shape) if n == 1 and out_shape[k + extra] != 1]
    if not axes:
        return up
    if len(axes) == len(out_shape):
        return sum_call(up, None)
    return sum_call(up, axes[0] if len(axes) == 1 else tuple(axes))


def scaled(up: Expr, e: Expr) -> Expr:
    """up * e, or e alone when up is the loss's own dL/dL = 1."""
    return e if isinstance(up, Const) and up.value == 1 else up * e


def sum_call(x: Expr, axis) -> Apply:
    if axis is None:
        return call("sum", r"\sum", x)
    return call(f"sum_axis{axis}", rf"\sum_{{\text{{axis }}{axis}}}", x)


def over_axis_call(name: str, latex: str, x: Expr, axis: int) -> Apply:
    """softmax(z) over axis 0, the default (each column); over another axis it says which, as
    sum_axis1 does: softmax_axis1(z). Over rows and over columns are different values."""
    if axis == 0:
        return call(name, latex, x)
    return call(f"{name}_axis{axis}", rf"{latex}_{{\text{{axis }}{axis}}}", x)


SOFTMAX = ("softmax", r"\operatorname{softmax}")
LOG_SOFTMAX = ("log_softmax", r"\log\operatorname{softmax}")


class TensorOp(GraphOp):
    """A rule on tensors; `shape` checks operand shapes at compile time."""

    def shape(self, shapes: list[Shape]) -> Shape:
        raise NotImplementedError

    elementwise = False   # entry by entry: the Jacobian is diagonal where no operand is broadcast

    def partial(self, i, args, out, ctx):
        return None  # printed as its value (the local factor step), not as a formula

    def local_factor(self, i, xs, out):
        """Entry-by-entry rules: d out_k / d x_k for every entry (the Jacobian's diagonal), as the
        vjp of an upstream of ones; a broadcast operand has no such diagonal."""
        if self.elementwise and xs[i].shape == out.shape:
            return self.vjp(i, T.ones(out.shape, T.is_exact(out)), xs, out), False
        return super().local_factor(i, xs, out)

    def local_note(self, i, names):
        return "entry by entry (the Jacobian is diagonal with these entries)" if self.elementwise else ""


# -- products and transposes ---------------------------------------------------------------------


class MatMul(TensorOp):
    """out = A @ B   (dL/dA = dL/dout B^T, dL/dB = A^T dL/dout)"""

    key = "@"

    def shape(self, shapes):
        a, b = shapes
        if len(a) != 2 or len(b) != 2:
            raise ShapeError(f"{{0}} @ {{1}} multiplies matrices (2-D), got {fmt_shape(a)} and {fmt_shape(b)}")
        if a[1] != b[0]:
            raise ShapeError(f"{{0}} @ {{1}} needs {{0}}'s columns ({a[1]}) = {{1}}'s rows ({b[0]})")
        return (a[0], b[1])

    def forward(self, xs):
        return _checked(T.matmul(xs[0], xs[1]), self.owner)

    def vjp(self, i, g, xs, out):
        return T.matmul(g, xs[1].T) if i == 0 else T.matmul(xs[0].T, g)

    mistakes = (WEIGHT_NOT_TRANSPOSED,)

    def mutants(self, node, values):
        return _untransposed(self, node, values)

    def formula(self, args):
        return args[0] @ args[1]

    def local(self, i, up, args, out, ctx):
        if ctx.out_scalar:  # a scalar upstream gradient multiplies: dL/dout * z^T
            return up * args[1].T if i == 0 else args[0].T * up
        return up @ args[1].T if i == 0 else args[0].T @ up

    def local_factor(self, i, xs, out):
        # the factor the chain rule uses: dL/dA = dL/dout B^T, and d(A z)/dz = A (a Jacobian)
        return (T.unify(xs[1])[0].T, True) if i == 0 else (xs[0], True)

    def partial(self, i, args, out, ctx):
        return args[1].T if i == 0 else args[0]


class Transpose(TensorOp):
    """out = x^T   (dL/dx = (dL/dout)^T); on 3+ dims, the last two axes are swapped"""

    key = "T"

    def shape(self, shapes):
        s = shapes[0]
        return s[:-2] + (s[-1], s[-2])

    def forward(self, xs):
        return np.swapaxes(xs[0], -1, -2).copy()

    def vjp(self, i, g, xs, out):
        return np.swapaxes(g, -1, -2).copy()

    def formula(self, args):
        return args[0].T

    def local(self, i, up, args, out, ctx):
        return up.T


# -- element-wise arithmetic with broadcasting ----------------------------------------------------


class Add(TensorOp):
    """out = ±x1 ± x2 ± ... entry by entry, broadcast   (dL/dxi = ±dL/dout, summed over stretched axes)"""

    elementwise = True

    key = "+"

    def edge_label(self, i):
        return "-" if self.signs[i] < 0 else ""

    def __init__(self, signs: tuple[int, ...]):
        self.signs = tuple(signs)

    def shape(self, shapes):
        return broadcast_shape(shapes, "terms")

    def forward(self, xs):
        xs = T.unify(*xs)
        return _checked(signed_sum(xs, self.signs), self.owner)

    def vjp(self, i, g, xs, out):
        g = unbroadcast(g, xs[i].shape)
        return g if self.signs[i] > 0 else -g

    mistakes = (SIGN_LOST,)

    def mutants(self, node, values):
        return sign_lost(self, node, self.signs)

    def formula(self, args):
        return signed_sum(args, self.signs)

    def local(self, i, up, args, out, ctx):
        shapes = [v.shape for v in ctx.values]
        e = _reduced(up, shapes[i], broadcast_shape(shapes))
        return e if self.signs[i] > 0 else -e


class Mul(TensorOp):
    """out = x1 ⊙ x2 ⊙ ... entry by entry, broadcast   (dL/dxi = dL/dout ⊙ the other factors)"""

    elementwise = True

    key = "*"

    def shape(self, shapes):
        return broadcast_shape(shapes, "factors")

    def forward(self, xs):
        xs = T.unify(*xs)
        out = xs[0]
        for x in xs[1:]:
            out = out * x
        return _checked(out, self.owner)

    def vjp(self, i, g, xs, out):
        g, *xs = T.unify(g, *xs)
        for j, x in enumerate(xs):
            if j != i:
                g = g * x
        return unbroadcast(g, xs[i].shape)

    def formula(self, args):
        out = args[0]
        for a in args[1:]:
            out = out.odot(a)
        return out

    def local(self, i, up, args, out, ctx):
        e = up
        for j, a in enumerate(args):
            if j != i:
                e = e.odot(a)
        shapes = [v.shape for v in ctx.values]
        return _reduced(e, shapes[i], broadcast_shape(shapes))


class Div(TensorOp):
    """out = a ⊘ b entry by entry, broadcast   (dL/da = dL/dout ⊘ b, dL/db = -dL/dout ⊙ a ⊘ b^2)"""

    elementwise = True

    key = "/"

    def shape(self, shapes):
        return broadcast_shape(shapes, "numerator and divisor")

    def forward(self, xs):
        a, b = T.unify(*xs)
        if any(x == 0 for x in b.flat):
            raise self.fail("division by zero: an entry of the divisor is 0")
        return _checked(a / b, self.owner)

    def vjp(self, i, g, xs, out):
        g, a, b = T.unify(g, *xs)
        return unbroadcast(g / b if i == 0 else -(g * a) / (b * b), xs[i].shape)

    def formula(self, args):
        return hdiv(args[0], args[1])

    def local(self, i, up, args, out, ctx):
        e = hdiv(up, args[1]) if i == 0 else -hdiv(up.odot(args[0]), args[1] ** Const(2))
        shapes = [v.shape for v in ctx.values]
        return _reduced(e, shapes[i], broadcast_shape(shapes))


class ElementPower(TensorOp):
    """out = x^c entry by entry, c a number   (dL/dx = dL/dout ⊙ c x^(c-1))"""

    elementwise = True

    key = "^"

    def __init__(self, exponent: Fraction):
        self.exponent = exponent

    def constants(self):
        return (("exponent", self.exponent),)

    def shape(self, shapes):
        return shapes[0]

    def _pow(self, x, c):
        if isinstance(x, Fraction) and c.denominator == 1:
            if x == 0 and c < 0:
                raise self.fail(f"0 to the power {c} divides by zero")
            if abs(c) > 10_000:
                raise self.fail("the exact power is too large to compute")
            return x ** int(c)
        x = float(x)
        if x < 0 and c.denominator != 1:
            raise self.fail(f"a negative base ({x:g}) to a fractional power is not a real number")
        if x == 0 and c < 0:
            raise self.fail(f"0 to the power {c} divides by zero")
        return x ** float(c)

    def _map(self, x: np.ndarray, c: Fraction) -> np.ndarray:
        exact = T.is_exact(x) and c.denominator == 1
        return _checked(T.elementwise(lambda v: self._pow(v, c), x, exact), self.owner)

    def forward(self, xs):
        return self._map(xs[0], self.exponent)

    def vjp(self, i, g, xs, out):
        c = self.exponent
        d = self._map(xs[0], c - 1) if c != 0 else xs[0] * 0
        d = d * c if T.is_exact(d) else d * float(c)
        g, d = T.unify(g, d)
        return g * d

    mistakes = (POWER_FACTOR,)

    def mutants(self, node, values):
        c = self.exponent
        if c in (0, 1):
            return []

        def wrong(i, g, xs, out):
            g, d = T.unify(g, self._map(xs[0], c - 1))
            return g * d
        x = node.parents[0].name
        return [(POWER_FACTOR.key, Mutant(self, wrong),
                 f"at {node.name}: d{node.name}/d{x} taken as {x}^({c} - 1), without the factor {c}")]

    def formula(self, args):
        return args[0] ** Const(self.exponent)

    def local(self, i, up, args, out, ctx):
        c = self.exponent
        return up.odot(Const(c) * args[0] ** Const(c - 1))


class Extreme(TensorOp):
    """out = minimum(a, b) or maximum(a, b) entry by entry, broadcast

    dL/da = dL/dout where a is taken, 0 elsewhere (and dL/db likewise). On a tie "first" gives
    the gradient to a, "split" half to each.
    """

    elementwise = True

    def __init__(self, which: str, tie: str = "first"):
        assert which in ("minimum", "maximum") and tie in ("first", "split")
        self.which, self.tie = which, tie
        self.key = which

    def shape(self, shapes):
        return broadcast_shape(shapes, "operands")

    def _share(self, xs: list[np.ndarray], i: int) -> np.ndarray:
        """d out / d operand i entry by entry: 1, 0, or 1/2 on a split tie (exact)."""
        a, b = np.broadcast_arrays(*T.unify(*xs))
        first_wins = (a < b) if self.which == "minimum" else (a > b)
        tie = a == b
        half = Fraction(1, 2) if self.tie == "split" else Fraction(1 - i)
        out = np.empty(a.shape, dtype=object)
        for idx in np.ndindex(a.shape):
            if tie[idx]:
                out[idx] = half
            else:
                out[idx] = Fraction(int(bool(first_wins[idx]) == (i == 0)))
        return out

    def forward(self, xs):
        a, b = T.unify(*xs)
        pick = np.minimum if self.which == "minimum" else np.maximum
        if T.is_exact(a):
            a, b = np.broadcast_arrays(a, b)
            out = np.empty(a.shape, dtype=object)
            for idx in np.ndindex(a.shape):
                out[idx] = min(a[idx], b[idx]) if self.which == "minimum" else max(a[idx], b[idx])
            return out
        return pick(a, b)

    def vjp(self, i, g, xs, out):
        share = self._share(xs, i)
        g, share = T.unify(g, share)
        return unbroadcast(g * share, xs[i].shape)

    def formula(self, args):
        return call(self.which, rf"\operatorname{{{self.which}}}", *args)

    def note(self, xs, out, names):
        """The tied entries and who takes their gradient (the graph's min_max_tie convention)."""
        a, b = np.broadcast_arrays(*T.unify(*xs))
        ties = [idx for idx in np.ndindex(a.shape) if a[idx] == b[idx]]
        if not ties:
            return ""
        who = (f"the gradient goes to the first operand, {names[0]}" if self.tie == "first"
               else "the gradient is split equally between them")
        return (f"tie {names[0]} = {names[1]} at entr{'y' if len(ties) == 1 else 'ies'} "
                f"{entry_list(ties, a.shape)}: {who} (convention)")

    def local(self, i, up, args, out, ctx):
        sel = call(f"d{self.which}/d{'ab'[i]}", rf"\mathbb{{1}}_{{{'ab'[i]}}}", *args)
        shapes = [v.shape for v in ctx.values]
        return _reduced(up.odot(sel), shapes[i], broadcast_shape(shapes))


class TensorFunction(Function):
    """out = f(x) entry by entry, for every function of the table   (dL/dx = dL/dout ⊙ f'(x))"""

    def shape(self, shapes: list[Shape]) -> Shape:
        return shapes[0]

    def vjp(self, i, g, xs, out):
        if self.fn.key == "sqrt" and any(v == 0 for v in xs[0].flat):
            raise MathError("the derivative of sqrt at 0 is infinite"
                            + (f" (in node '{self.owner}')" if self.owner else ""))
        return Activation.vjp(self, i, g, xs, out)  # Function's own check reads entry (0, 0) only


# -- reductions and reshapes ----------------------------------------------------------------------


class Reduce(TensorOp):
    """out = sum(x) or mean(x), over every entry (axis None) or one axis, keeping the axis

    dL/dx = dL/dout stretched back over the summed axis (divided by the count for the mean).
    """

    def __init__(self, how: str, axis: int | None = None):
        assert how in ("sum", "mean")
        self.how, self.axis = how, axis
        self.key = how

    def _axis(self, ndim: int) -> tuple[int, ...]:
        return tuple(range(ndim)) if self.axis is None else (self.axis,)

    def shape(self, shapes):
        s = shapes[0]
        if self.axis is not None and not 0 <= self.axis < len(s):
            raise ShapeError(f"axis={self.axis} does not exist: the operand is {fmt_shape(s)} "
                             f"(axes 0 to {len(s) - 1})")
        return tuple(1 if k in self._axis(len(s)) else n for k, n in enumerate(s))

    def _count(self, x: np.ndarray) -> int:
        return int(np.prod([x.shape[k] for k in self._axis(x.ndim)]))

    def forward(self, xs):
        x = xs[0]
        out = _fractions(np.sum(x, axis=self._axis(x.ndim), keepdims=True))
        if self.how == "mean":
            out = out / Fraction(self._count(x)) if T.is_exact(out) else out / self._count(x)
        return out

    def vjp(self, i, g, xs, out):
        x = xs[0]
        g = np.broadcast_to(g, x.shape).copy()
        if self.how == "mean":
            g = g / Fraction(self._count(x)) if T.is_exact(g) else g / self._count(x)
        return g

    def formula(self, args):
        if self.how == "sum":
            return sum_call(args[0], self.axis)
        name = "mean" if self.axis is None else f"mean_axis{self.axis}"
        latex = r"\operatorname{mean}" if self.axis is None else rf"\operatorname{{mean}}_{{\text{{axis }}{self.axis}}}"
        return call(name, latex, args[0])

    def local(self, i, up, args, out, ctx):
        x = ctx.values[0]
        e = scaled(up, _ones_like(x.shape))
        return Const(Fraction(1, self._count(x))) * e if self.how == "mean" else e


class Reshape(TensorOp):
    """out = x read row by row into a new shape   (dL/dx = dL/dout reshaped back)

    `flatten(x)` is the column vector of x's entries, row by row (numpy's C order).
    """

    key = "reshape"

    def __init__(self, target: Shape | None):
        self.target = target  # None: flatten to a column

    def shape(self, shapes):
        s = shapes[0]
        size = int(np.prod(s))
        want = (size, 1) if self.target is None else self.target
        if int(np.prod(want)) != size:
            raise ShapeError(f"cannot reshape {fmt_shape(s)} ({size} entries) to {fmt_shape(want)} "
                             f"({int(np.prod(want))} entries)")
        return want

    def forward(self, xs):
        return xs[0].reshape(self.shape([xs[0].shape])).copy()

    def vjp(self, i, g, xs, out):
        return g.reshape(xs[0].shape).copy()

    def formula(self, args):
        if self.target is None:
            return call("flatten", r"\operatorname{vec}", args[0])
        return call("reshape", r"\operatorname{reshape}", args[0], *(Const(n) for n in self.target))

    def local(self, i, up, args, out, ctx):
        back = ctx.values[0].shape
        return call("reshape", r"\operatorname{reshape}", up, *(Const(n) for n in back))


# -- softmax and cross-entropy --------------------------------------------------------------------


def _softmax(z: np.ndarray, axis: int) -> np.ndarray:
    z = T.to_float(z)
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _log_softmax(z: np.ndarray, axis: int) -> np.ndarray:
    z = T.to_float(z)
    m = z.max(axis=axis, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=axis, keepdims=True))


class _OverAxis(TensorOp):
    exact = False

    def __init__(self, axis: int = 0):
        self.axis = axis

    def shape(self, shapes):
        s = shapes[0]
        if not 0 <= self.axis < len(s):
            raise ShapeError(f"axis={self.axis} does not exist: the operand is {fmt_shape(s)}")
        return s

    def constants(self):
        return (("axis", self.axis),)


class TensorSoftmax(_OverAxis):
    """p = softmax(z) over an axis (0: each column)   (dL/dz = p ⊙ (dL/dp - sum(p ⊙ dL/dp)))"""

    key = "softmax"
    mistakes = (SOFTMAX_WITHOUT_Y,)

    def mutants(self, node, values):
        return without_y(self, node, self.axis)

    def forward(self, xs):
        return _softmax(xs[0], self.axis)

    def vjp(self, i, g, xs, out):
        g = T.to_float(g)
        return out * (g - (out * g).sum(axis=self.axis, keepdims=True))

    def formula(self, args):
        return over_axis_call(*SOFTMAX, args[0], self.axis)

    def local(self, i, up, args, out, ctx):
        origin = ctx.upstream_origin
        if origin is not None and isinstance(origin.op, CrossEntropy) and _distributions(origin.parents[1].value,
                                                                                         self.axis):
            # -y ⊘ p through the softmax Jacobian is p - y when y sums to 1: what courses call u2
            target = origin.parents[1]
            return out - (Const(T.plain(target.value)) if isinstance(out, Const) else target.label)
        return out.odot(up - sum_call(out.odot(up), self.axis))


def _distributions(y: np.ndarray, axis: int) -> bool:
    return bool(np.all(T.to_float(y).sum(axis=axis) == 1))


class LogSoftmax(_OverAxis):
    """out = log softmax(z) over an axis   (dL/dz = dL/dout - softmax(z) ⊙ sum(dL/dout))"""

    key = "log_softmax"

    def forward(self, xs):
        return _log_softmax(xs[0], self.axis)

    def vjp(self, i, g, xs, out):
        g = T.to_float(g)
        return g - np.exp(out) * g.sum(axis=self.axis, keepdims=True)

    def formula(self, args):
        return over_axis_call(*LOG_SOFTMAX, args[0], self.axis)

    def local(self, i, up, args, out, ctx):
        return up - over_axis_call(*SOFTMAX, args[0], self.axis).odot(sum_call(up, self.axis))


def _same_shape(shapes: list[Shape], what: str) -> Shape:
    if shapes[0] != shapes[1]:
        raise ShapeError(f"{what} and the target must have the same shape, got {fmt_shape(shapes[0])} "
                         f"and {fmt_shape(shapes[1])}")
    return (1, 1)


class CrossEntropy(TensorOp):
    """L = cross_entropy(p, y) = -sum(y ⊙ log p) over every entry, p PROBABILITIES

    dL/dp = -y ⊘ p (dL/dy = -log p). Entries with y = 0 add nothing, whatever p is.
    """

    key = "cross_entropy"
    exact = False

    def shape(self, shapes):
        return _same_shape(shapes, "the probabilities")

    def forward(self, xs):
        p, y = T.to_float(xs[0]), T.to_float(xs[1])
        if np.any((y != 0) & (p <= 0)):
            raise self.fail("cross_entropy needs a positive probability where the target is nonzero")
        logs = np.log(np.where(y != 0, p, 1.0))
        return np.array([[float(-(y * logs).sum())]])

    def vjp(self, i, g, xs, out):
        p, y = T.to_float(xs[0]), T.to_float(xs[1])
        g0 = float(T.to_float(g)[0, 0])
        if i == 0:
            return g0 * np.where(y != 0, -y / np.where(p != 0, p, 1.0), 0.0)
        return g0 * -np.log(np.where(p > 0, p, 1.0))

    def formula(self, args):
        return -call("sum", r"\sum", args[1].odot(call("log", r"\log", args[0])))

    def local(self, i, up, args, out, ctx):
        if i == 0:
            return scaled(up, -hdiv(args[1], args[0]))
        return scaled(up, -call("log", r"\log", args[0]))

    def grads_wanted(self):
        return (True, False)


class SoftmaxCrossEntropy(TensorOp):
    """L = softmax_cross_entropy(z, y) = -sum(y ⊙ log_softmax(z)), z LOGITS, softmax over axis 0

    dL/dz = softmax(z) ⊙ sum(y) - y, which is p - y when each column of y sums to 1.
    """

    key = "softmax_cross_entropy"
    exact = False

    def __init__(self, axis: int = 0):
        self.axis = axis

    def constants(self):
        return (("axis", self.axis),)

    def shape(self, shapes):
        return _same_shape(shapes, "the logits")

    def forward(self, xs):
        y = T.to_float(xs[1])
        return np.array([[float(-(y * _log_softmax(xs[0], self.axis)).sum())]])

    def vjp(self, i, g, xs, out):
        y = T.to_float(xs[1])
        g0 = float(T.to_float(g)[0, 0])
        if i == 0:
            return g0 * (_softmax(xs[0], self.axis) * y.sum(axis=self.axis, keepdims=True) - y)
        return g0 * -_log_softmax(xs[0], self.axis)

    def formula(self, args):
        return -call("sum", r"\sum", args[1].odot(over_axis_call(*LOG_SOFTMAX, args[0], self.axis)))

    def local(self, i, up, args, out, ctx):
        if i == 0:
            return scaled(up, over_axis_call(*SOFTMAX, args[0], self.axis) - args[1])
        return scaled(up, -over_axis_call(*LOG_SOFTMAX, args[0], self.axis))

    def grads_wanted(self):
        return (True, False)


# -- the names a graph spec may call --------------------------------------------------------------

# tensor functions -> (minimum, maximum) positional arguments; `axis=` is a keyword where allowed.
# reshape takes 1 or 2 sizes: graph values print as vectors and matrices (the rules themselves
# work on any number of axes).
TENSOR_FUNCTIONS: dict[str, tuple[int, int]] = {
    "transpose": (1, 1), "sum": (1, 1), "mean": (1, 1), "flatten": (1, 1), "reshape": (2, 3),
    "softmax": (1, 1), "log_softmax": (1, 1), "cross_entropy": (2, 2),
    "softmax_cross_entropy": (2, 2), "minimum": (2, 2), "maximum": (2, 2),
    # the layer rules (autodiff/layer_ops.py): conv2d(X, K[, stride[, padding]]),
    # maxpool(X, window[, stride]), avgpool(X, window[, stride]); the numbers are constants
    "conv2d": (2, 4), "maxpool": (2, 3), "avgpool": (2, 3),
    # batchnorm(X, gamma, beta[, eps]), layernorm(X, gamma, beta[, eps]), dropout(X, M, p),
    # attention(Q, K, V[, M]), rnn_step(W_hh, h, W_xh, x, b) (docs/layers.md)
    "batchnorm": (3, 4), "layernorm": (3, 4), "dropout": (3, 3), "attention": (3, 4), "rnn_step": (5, 5),
}
LAYER_FUNCTIONS = frozenset({"conv2d", "maxpool", "avgpool", "batchnorm", "layernorm", "dropout", "attention",
                             "rnn_step"})
AXIS_FUNCTIONS = frozenset({"sum", "mean", "softmax", "log_softmax", "softmax_cross_entropy"})
EXTREMA: dict[str, tuple[int, int]] = {"min": (2, 16), "max": (2, 16)}


def table_functions() -> dict[str, Elementwise]:
    """Every function of the activation table, callable by its key or an alias (`identity`
    excepted: in an expression it is just the operand)."""
    out = {}
    for name in function_names():
        entry = lookup(name)
        if entry is not None and entry.key != "identity":
            out[name] = entry
    return out


def graph_functions() -> dict[str, tuple[int, int]]:
    """name -> (min, max) arguments of every function a graph-spec expression may call.

    A table function takes its operand and then its parameters in order (leaky_relu(z, 0.1)).
    """
    out = dict(EXTREMA)
    for k, e in table_functions().items():
        out[k] = (1, 1 + len(e.params))
    out.update(TENSOR_FUNCTIONS)
    return out


__all__ = ["ShapeError", "TensorOp", "MatMul", "Transpose", "Add", "Mul", "Div", "ElementPower",
           "Extreme", "TensorFunction", "Reduce", "Reshape", "TensorSoftmax", "LogSoftmax",
           "CrossEntropy", "SoftmaxCrossEntropy", "broadcast_shape", "unbroadcast",
           "graph_functions", "table_functions", "TENSOR_FUNCTIONS", "AXIS_FUNCTIONS"]
