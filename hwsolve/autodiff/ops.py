"""The rules of the computation graph: one class per operation, its docstring the formula.

Each rule knows four things: its forward value, its vector-Jacobian product (how dL/d(output)
becomes dL/d(input i), in gradient layout), and the same two as display formulas. The backward
loop in `graph.py` is the only place that walks the graph; rules never see it.

In the formulas, ``up`` is the gradient flowing in (dL/d(output)), ``args`` the operands'
symbols, ``out`` the output's symbol. ``ctx`` says which operands are scalars (so a scalar is
multiplied with `*` and never transposed) and the layout: in ``numerator`` layout a gradient is a
row vector and the chain rule multiplies Jacobians left to right.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
else:
    from hwsolve.core.values import np  # numpy, imported on first use (a small exact network never needs it)

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field


from hwsolve.core import values as T
from hwsolve.autodiff.functions import Elementwise, Loss
from hwsolve.core.errors import MathError
from hwsolve.core.sym import Apply, Const, Expr, Symbol, diag, norm2


@dataclass
class Ctx:
    """What a rule needs to know to print a backward formula the way a course writes it."""

    layout: str = "gradient"                 # "gradient" or "numerator"
    scalar: tuple[bool, ...] = ()            # per operand
    out_scalar: bool = False
    upstream_origin: object = None           # the node whose rule produced `up`, if just one
    values: tuple = ()                       # operand values (for notes)

    @property
    def numerator(self) -> bool:
        return self.layout == "numerator"


def emul(a: Expr, b: Expr, scalar: bool) -> Expr:
    """a times b entry by entry: `*` for scalars, the Hadamard product otherwise."""
    return a * b if scalar else a.odot(b)


def tr(e: Expr, scalar: bool) -> Expr:
    """Transpose, except of a scalar."""
    return e if scalar else e.T


@dataclass(frozen=True)
class RuleMistake:
    """A slip a rule admits, as an entry of the rule table (`Op.mistakes`): grading replaces the
    rule at a node by the wrong one `Op.mutants` builds and re-runs the one backward loop, at the
    key's values and at a student's own carried-forward ones; the slip is named when that
    reproduces the student's value. (Element-wise functions' slips are `WrongDerivative`s of
    their table entries, losses' `GradientFactorSlip`s; both come out of `mutants` too.)"""

    key: str                        # stable id, used in rubrics and JSON
    title: str                      # what the student is told
    where: str                      # where it can happen (docs)


Mutation = tuple[str, "Op", str]    # (mistake key, the wrong rule, detail for the student)
# (mistake key, the wrong forward value from the operands' values, detail for the student)
ForwardMutation = tuple[str, Callable, str]


class Op:
    """A node's operation. Subclasses set `key` and implement the four methods below."""

    key = "op"
    exact = True
    backward_order: tuple[int, ...] | None = None  # order in which operand gradients are listed
    mistakes: tuple[RuleMistake, ...] = ()          # the slips this rule admits (see `mutants`)

    def mutants(self, node, values: Mapping) -> list[Mutation]:
        """This rule with each slip it admits built in, at `node` with these forward values
        (node -> array), where the slip changes anything; grading re-runs the backward loop with
        each. `values` may be a student's own values, so a rule must not read `node.value`."""
        return []

    def forward_mutants(self, node, values: Mapping) -> list[ForwardMutation]:
        """Slips in the forward pass (an activation's derivative for its value): each a wrong
        forward value from the operands' values; grading recomputes what follows from it."""
        return []

    def grad_is_upstream(self, i: int) -> bool:
        """d out / d operand i is the identity (dL/db = dL/da for one example): a student's
        gradient of that operand is their gradient of the output too (error carried forward)."""
        return False

    def forward(self, xs: Sequence[np.ndarray]) -> np.ndarray:
        raise NotImplementedError

    def vjp(self, i: int, g: np.ndarray, xs: Sequence[np.ndarray], out: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def formula(self, args: Sequence[Expr]) -> Expr:
        raise NotImplementedError

    def local(self, i: int, up: Expr, args: Sequence[Expr], out: Expr, ctx: Ctx) -> Expr:
        raise NotImplementedError

    def note(self, xs: Sequence[np.ndarray], out: np.ndarray, names: list[str]) -> str:
        return ""

    def constants(self) -> tuple[tuple[str, object], ...]:
        """The rule's constant arguments that its formula leaves out (a pooling window, a stride,
        epsilon, dropout's p), as (name, value) pairs. A graph spec names a sub-expression by its
        formula: two with one name are one node only when these agree as well."""
        return ()

    def partial(self, i: int, args: Sequence[Expr], out: Expr, ctx: Ctx) -> Expr | None:
        """d(out)/d(operand i) on its own, when it is worth printing (graphs); None otherwise."""
        return None

    def grads_wanted(self) -> tuple[bool, ...] | None:
        return None

    # -- the local derivative as a value of its own (a step: ReLU'(a[2]), dH3/dX1) ----------------

    def local_factor(self, i: int, xs: Sequence[np.ndarray], out: np.ndarray) -> tuple[np.ndarray, bool] | None:
        """d out / d operand i as the chain rule uses it, and whether it prints as a matrix.

        By default, for a scalar output: the vjp of an upstream 1 (the gradient of out). Rules
        with vector outputs say what their factor is (a derivative vector, a Jacobian)."""
        if out.shape != (1, 1):
            return None
        return self.vjp(i, T.ones((1, 1), T.is_exact(out)), xs, out), False

    def local_name(self, i: int, out_node, operand, partial: Symbol) -> tuple[str, Symbol]:
        """The stable name of that factor (the key of JSON output and answer files)."""
        return partial.text, partial

    def local_note(self, i: int, names: list[str]) -> str:
        return ""

    # -- how the rule is drawn (render/dot.py reads these through the GraphPicture record) -------

    def draw_label(self) -> str:
        return self.key

    def edge_label(self, i: int) -> str:
        return ""


class Mutant(Op):
    """A rule with one slip built in (a grading mistake model): the wrong vector-Jacobian
    product `wrong_vjp(i, g, xs, out)`; the forward value and the rest are the rule's own."""

    def __init__(self, rule: Op, wrong_vjp: Callable):
        self.rule, self.wrong_vjp = rule, wrong_vjp
        self.key, self.exact = rule.key, rule.exact

    def forward(self, xs):
        return self.rule.forward(xs)

    def vjp(self, i, g, xs, out):
        return self.wrong_vjp(i, g, xs, out)

    def grads_wanted(self):
        return self.rule.grads_wanted()

    def local_factor(self, i, xs, out):
        """The wrong local derivative (dH3/dX1, sigmoid'(z3)), where the rule's is the vjp of
        ones: a scalar output or an element-wise rule; None elsewhere."""
        right = self.rule.local_factor(i, xs, out)
        if right is None or not (out.shape == (1, 1) or isinstance(self.rule, Activation)):
            return None
        return self.vjp(i, T.ones(out.shape, T.is_exact(out)), xs, out), right[1]


def _square_not_symmetric(W) -> bool:
    return W is not None and W.ndim == 2 and W.shape[0] == W.shape[1] > 1 and \
        any(W[r, c] != W[c, r] for r in range(W.shape[0]) for c in range(r))


WEIGHT_NOT_TRANSPOSED = RuleMistake(
    "weight_not_transposed", "transpose missing in the backward pass",
    "gradients below W z or A @ B with a square, non-symmetric W (W dL/dout where W^T dL/dout is due)")


def _untransposed(rule: Op, node, values: Mapping) -> list[Mutation]:
    """dL/dz = W dL/dout for W^T dL/dout: only a square W lets the student's shapes fit."""
    W = values.get(node.parents[0])
    if not _square_not_symmetric(W):
        return []
    def wrong(i, g, xs, out):
        return T.matmul(xs[0], g) if i == 1 else rule.vjp(i, g, xs, out)
    w, z = node.parents[0].name, node.parents[1].name
    return [(WEIGHT_NOT_TRANSPOSED.key, Mutant(rule, wrong),
             f"at {node.name}: dL/d{z} taken as {w} dL/d{node.name} where {w}^T dL/d{node.name} is due")]


class Identity(Op):
    """out = x   (a new name for the same value: z[0] = x, yhat = z[3])"""

    key = "identity"

    def draw_label(self):
        return "="

    def forward(self, xs):
        return xs[0]

    def vjp(self, i, g, xs, out):
        return g

    def formula(self, args):
        return args[0]

    def local(self, i, up, args, out, ctx):
        return up


class Linear(Op):
    """out = W z + b   (dL/dW = dL/dout z^T, dL/dz = W^T dL/dout, dL/db = dL/dout)"""

    key = "linear"

    def draw_label(self):
        return "W z + b"
    backward_order: tuple[int, ...] | None = (0, 2, 1)  # dL/dW, dL/db, then dL/dz, as the sheets list them

    mistakes = (WEIGHT_NOT_TRANSPOSED,)

    def __init__(self, has_bias: bool = True):
        self.has_bias = has_bias
        if not has_bias:
            self.backward_order = (0, 1)

    def mutants(self, node, values):
        return _untransposed(self, node, values)

    def grad_is_upstream(self, i):
        return i == 2

    def forward(self, xs):
        out = T.matmul(xs[0], xs[1])
        if self.has_bias:
            out, b = T.unify(out, xs[2])
            out = out + b
        return out

    def vjp(self, i, g, xs, out):
        if i == 0:
            return T.matmul(g, xs[1].T)
        if i == 1:
            return T.matmul(xs[0].T, g)
        return g

    def formula(self, args):
        e = args[0] @ args[1]
        return e + args[2] if self.has_bias else e

    def local_factor(self, i, xs, out):
        if i == 0:   # the chain rule's factor for W: dL/dW = dL/dout z^T
            return T.unify(xs[1])[0].T, True
        if i == 1:   # the Jacobian d out / d z is W itself
            return xs[0], True
        n = out.shape[0]
        eye = T.eye(n, T.is_exact(out))
        return eye, n > 1

    def partial(self, i, args, out, ctx):
        if i == 0:
            return tr(args[1], ctx.scalar[1] if ctx.scalar else False)
        if i == 1:
            return args[0]
        return Symbol("I", "I")

    def local_note(self, i, names):
        if i == 0:
            return (f"the factor the chain rule uses for {names[0]}: dL/d{names[0]} = dL/dout {names[1]}^T "
                    "(the full Jacobian has three indices)")
        if i == 1:
            return f"the Jacobian of W z + b in z is W: {names[0]}"
        return "the Jacobian of W z + b in b is the identity"

    def local(self, i, up, args, out, ctx):
        up_s = ctx.out_scalar
        if ctx.numerator:
            if i == 0:  # numerator layout: dL/dW is n x m, z times the row dL/dout
                return _juxt(args[1], up, ctx.scalar[1], up_s)
            if i == 1:
                return _juxt(up, args[0], up_s, False)
            return up
        if i == 0:
            return _juxt(up, tr(args[1], ctx.scalar[1]), up_s, ctx.scalar[1])
        if i == 1:
            return _juxt(tr(args[0], False), up, False, up_s)
        return up


def _juxt(a: Expr, b: Expr, a_scalar: bool, b_scalar: bool) -> Expr:
    """a b as matrices, or a * b when one side is a scalar."""
    return a * b if (a_scalar or b_scalar) else a @ b


DERIVATIVE_FOR_ACTIVATION = RuleMistake(
    "derivative_for_activation", "derivative used instead of the activation",
    "forward values at and after an activation (f'(a) where f(a) is due)")


@dataclass
class Activation(Op):
    """out = c f(x) entry by entry   (dL/dx = dL/dout ⊙ c f'(x))"""

    fn: Elementwise
    params: dict = field(default_factory=dict)
    scale: object = None               # the c in 5 ReLU(x); None for 1
    at_zero: object = None             # f'(kink) convention, e.g. ReLU'(0) = 0
    # (x, f'(x)) of the last call: the backward step, its numbers and its local factor each ask
    # for f' at the same x. x is kept, so its id is not reused while the entry stands.
    _last_derivative: tuple | None = field(default=None, init=False, repr=False, compare=False)

    key = "activation"
    mistakes = (DERIVATIVE_FOR_ACTIVATION,)     # the backward slips are the table entry's (`mutants`)

    def draw_label(self):
        return self.fn.label(**self.params)

    def forward_mutants(self, node, values):
        """f'(x) computed where f(x) is due (the reverse of activation_for_derivative)."""
        x, name = values.get(node.parents[0]), node.parents[0].name
        if x is None or self._same_derivative(self.fn.f, list(x.flat)):
            return []          # f = f' at these values (exp, or ReLU on 0s and 1s): nothing to see
        return [(DERIVATIVE_FOR_ACTIVATION.key, lambda xs: self.derivative_values(xs[0]),
                 f"at {node.name}: {self.fn.text}'({name}) used for {self.fn.text}({name})")]

    @property
    def exact(self):
        return self.fn.exact and not isinstance(self.scale, float)

    def _check(self, x: np.ndarray, name: str = ""):
        if self.fn.domain is None:
            return
        for v in x.flat:
            msg = self.fn.domain(v, **self.params)
            if msg:
                raise MathError(msg)

    def forward(self, xs):
        self._check(xs[0])
        f = lambda v: self.fn.f(v, **self.params)  # noqa: E731
        vec = self.fn.vectorized if not self.params else None
        out = T.elementwise(f, xs[0], self.fn.exact, vec)
        return out if self.scale in (None, 1) else _scaled(out, self.scale)

    def constants(self):
        scaled = () if self.scale in (None, 1) else (("scale", self.scale),)
        return (*sorted(self.params.items()), *scaled)

    def derivative_values(self, x: np.ndarray) -> np.ndarray:
        last = self._last_derivative
        if last is not None and last[0] is x:  # values are never changed in place
            return last[1]
        out = self._derivative_values(x)
        self._last_derivative = (x, out)
        return out

    def _derivative_values(self, x: np.ndarray) -> np.ndarray:
        extra = {"at_zero_value": self.at_zero} if self.fn.kink is not None and self.at_zero is not None else {}
        d = lambda v: self.fn.df(v, **self.params, **extra)  # noqa: E731
        vec = self.fn.vectorized_d if not (self.params or extra) else None
        out = T.elementwise(d, x, self.fn.exact, vec)
        return out if self.scale in (None, 1) else _scaled(out, self.scale)

    def vjp(self, i, g, xs, out):
        d = self.derivative_values(xs[0])
        g, d = T.unify(g, d)
        return g * d

    def mutants(self, node, values):
        """The wrong derivatives of the function's table entry (f for f', ReLU'(0) = 1, ...)."""
        x, name = values.get(node.parents[0]), node.parents[0].name
        if x is None:
            return []
        xs = list(x.flat)
        out = []
        for w in self.fn.all_mistakes():
            if not w.changes(xs) or self._same_derivative(w.df, xs):
                continue       # the slip changes nothing here (a kink slip that is the key's own convention)
            out.append((w.key, Mutant(self, _with_derivative(self, w.df)),
                        f"at {node.name}: " + w.detail.format(f=self.fn.text, x=name, **self._kink_words(w.df))))
        return out

    def _same_derivative(self, df: Callable, xs: list) -> bool:
        extra = {"at_zero_value": self.at_zero} if self.fn.kink is not None and self.at_zero is not None else {}
        return all(df(v, **self.params) == self.fn.df(v, **self.params, **extra) for v in xs)

    def _kink_words(self, df: Callable) -> dict[str, str]:
        """{at}: the wrong derivative `df` at the kink, {conv}: the key's convention there."""
        if self.fn.kink is None:
            return {}
        from hwsolve.core.numfmt import fmt_number

        conv = self.at_zero if self.at_zero is not None else self.fn.df(self.fn.kink, **self.params)
        return {"conv": fmt_number(conv), "at": fmt_number(df(self.fn.kink, **self.params))}

    def formula(self, args):
        return self.fn.apply(args[0], self.scale, **self.params)

    def local(self, i, up, args, out, ctx):
        if isinstance(args[0], Const):  # substituting numbers: show f'(x) evaluated, as students do
            d = Const(T.plain(self.derivative_values(ctx.values[0])))
        else:
            d = self.fn.derivative(args[0], self.scale, **self.params)
        if ctx.numerator and not ctx.scalar[0]:
            return up @ diag(d)
        return emul(up, d, ctx.scalar[0] and ctx.out_scalar)

    def partial(self, i, args, out, ctx):
        return self.fn.derivative(args[0], self.scale, **self.params)

    def local_factor(self, i, xs, out):
        return self.derivative_values(xs[0]), False

    def local_name(self, i, out_node, operand, partial):
        if self.scale not in (None, 1):
            return partial.text, partial
        d = self.fn.derivative(operand.label, **self.params)
        from hwsolve.core.sym import to_latex, to_text

        return to_text(d), Symbol(to_text(d), to_latex(d))

    def local_note(self, i, names):
        return "entry by entry (the Jacobian is diagonal with these entries)" if self.fn.key != "identity" else ""

    def note(self, xs, out, names):
        if self.fn.kink is None:
            return ""
        hits = [idx for idx, v in T.ndenumerate(xs[0]) if v == self.fn.kink]
        if not hits:
            return ""
        at = self.at_zero if self.at_zero is not None else self.fn.df(self.fn.kink, **self.params)
        where = names[0] if xs[0].size == 1 else f"{names[0]} entries {entry_list(hits, xs[0].shape)}"
        from hwsolve.core.numfmt import fmt_number

        kink = fmt_number(self.fn.kink)
        return f"{where} at the kink: {self.fn.text}'({kink}) taken as {fmt_number(at)} (convention)"


def entry_list(indices, shape, grid: bool = False) -> str:
    """Entries as every note names them, counting from 1: a column's by its row (`3`), any other
    value's as (row, col) (`(2, 1)`), a C x H x W map's as (channel, row, col). `grid`: the value
    is an image or feature map even when it is one column wide."""
    column = len(shape) == 2 and shape[1] == 1 and not grid
    return ", ".join(str(idx[0] + 1) if column else "(" + ", ".join(str(k + 1) for k in idx) + ")"
                     for idx in indices)


def _scaled(a: np.ndarray, c) -> np.ndarray:
    if T.is_exact(a) and not isinstance(c, float):
        return a * c
    return T.to_float(a) * float(c)


def _with_derivative(rule: Activation, df: Callable) -> Callable:
    """The activation's vector-Jacobian product with a wrong derivative `df` in place of f'."""
    def wrong(i, g, xs, out):
        d = T.elementwise(lambda v: df(v, **rule.params), xs[0], rule.fn.exact)
        d = d if rule.scale in (None, 1) else _scaled(d, rule.scale)
        g, d = T.unify(g, d)
        return g * d
    return wrong


def _times_factor(rule: Op, factor) -> Callable:
    """The rule's vector-Jacobian product off by a constant factor (a loss's 2 dropped)."""
    def wrong(i, g, xs, out):
        return _scaled(rule.vjp(i, g, xs, out), factor)
    return wrong


SOFTMAX_WITHOUT_Y = RuleMistake(
    "softmax_without_y", "softmax gradient without the - y",
    "gradients below softmax + cross-entropy (p where p - y is due)")


def without_y(rule: Op, node, axis: int = 0) -> list[Mutation]:
    """dL/da = p where p - y is due. Only below a cross-entropy: its dL/dp = -y / p gives y back
    as -dL/dp p (distributions along `axis`); any other upstream gradient has no y to leave out."""
    def wrong(i, g, xs, out):
        y = -T.to_float(g) * out
        if (y < -1e-9).any() or (abs(y.sum(axis=axis) - 1) > 1e-9).any():
            return rule.vjp(i, g, xs, out)
        return out
    a = node.parents[0].name
    return [(SOFTMAX_WITHOUT_Y.key, Mutant(rule, wrong), f"dL/d{a} taken as {node.name} instead of {node.name} - y")]


class Softmax(Op):
    """p = softmax(a), p_i = exp(a_i) / sum_j exp(a_j)   (dL/da = (diag(p) - p p^T) dL/dp)

    Over each column: one example's vector, or each example of a batch (the examples as columns).
    """

    key = "softmax"
    exact = False
    mistakes = (SOFTMAX_WITHOUT_Y,)

    def mutants(self, node, values):
        return without_y(self, node)

    def __init__(self, batch: bool = False):
        self.batch = batch      # the examples of a batch as columns: the rule prints column by column

    def forward(self, xs):
        a = T.to_float(xs[0])
        e = np.exp(a - a.max(axis=0, keepdims=True))
        return e / e.sum(axis=0, keepdims=True)

    def vjp(self, i, g, xs, out):
        g = T.to_float(g)
        return out * (g - (out * g).sum(axis=0, keepdims=True))

    def formula(self, args):
        from hwsolve.core.sym import call

        return call("softmax", r"\operatorname{softmax}", args[0])

    def local(self, i, up, args, out, ctx):
        origin = ctx.upstream_origin
        if origin is not None and isinstance(origin.op, LossOp) and origin.op.loss.key == "cross_entropy":
            # -y ⊘ p through the softmax Jacobian is p - y (y sums to 1): what courses call u2
            target = origin.parents[1]
            y = const_of(target.value) if isinstance(out, Const) else target.label
            e = origin.op.scaled_expr(out - y)     # a batch's mean: 1/n (P - Y)
            return e.T if ctx.numerator else e
        if self.batch:   # each column's (diag(p) - p p^T) g, written for all columns at once
            from hwsolve.core.sym import call

            return out.odot(up - call("sum_axis0", r"\sum_{\text{axis }0}", out.odot(up)))
        jac = diag(out) - out @ out.T
        return up @ jac if ctx.numerator else jac @ up

    def local_factor(self, i, xs, out):
        p = T.to_float(out)
        if p.shape[1] != 1:
            return None     # a batch: one Jacobian per example, no single matrix to print
        return np.diagflat(p) - p @ p.T, True

    def partial(self, i, args, out, ctx):
        return None if self.batch else diag(out) - out @ out.T

    def local_note(self, i, names):
        if self.batch:
            return ("the softmax Jacobian diag(p) - p p^T of each example (column): "
                    "p ⊙ (g - sum over the column of p ⊙ g)")
        return "the softmax Jacobian diag(p) - p p^T"


class LossOp(Op):
    """L = loss(yhat, y)   (dL/dyhat from the loss table)"""

    key = "loss"

    def draw_label(self):
        return self.loss.key

    def edge_label(self, i):
        return "target" if i == 1 else ""
    backward_order = (0,)

    def __init__(self, loss: Loss, target_symbol: Expr, K: int = 1):
        self.loss = loss
        self.target_symbol = target_symbol
        self.K = K  # outputs averaged over (mse, bce); printed as 1/K
        self.exact = loss.exact

    def _lists(self, xs):
        # every entry, row by row: a matrix prediction (a graph spec's) is averaged over all its
        # entries as PyTorch's reduction='mean' does; column 0 alone was a bug (tools/torch_reference.py)
        yh, y = T.unify(xs[0], xs[1])
        return list(yh.flat), list(y.flat)   # .flat: numpy and the small exact QMatrix alike

    def forward(self, xs):
        yh, y = self._lists(xs)
        if self.loss.domain:
            msg = self.loss.domain(yh, y)
            if msg:
                raise MathError(msg)
        v = self.loss.evaluate(yh, y)
        return T.exact([[v]]) if self.loss.exact and T.is_exact(xs[0]) and T.is_exact(xs[1]) else np.array([[float(v)]])

    def vjp(self, i, g, xs, out):
        yh, y = self._lists(xs)
        grad = self.loss.gradient(yh, y)
        exact_ = self.loss.exact and T.is_exact(xs[0]) and T.is_exact(xs[1])
        shape = tuple(xs[0].shape)
        if len(shape) == 2:  # rows of the prediction's shape, built directly (no reshape: the small exact path)
            width = shape[1]
            rows = [grad[k * width:(k + 1) * width] for k in range(shape[0])]
            col = T.exact(rows) if exact_ else np.array([[float(v) for v in row] for row in rows])
            g, col = T.unify(g, col)
            return col * g[0, 0]
        col = T.exact([[v] for v in grad]) if exact_ else np.array([[float(v)] for v in grad])
        g, col = T.unify(g, col)
        return col.reshape(shape) * g[0, 0]

    def formula(self, args):
        return self.loss.formula_of(args[0], args[1], self.K, self.K == 1)

    def local(self, i, up, args, out, ctx):
        g = self.loss.grad_formula_of(args[0], args[1], self.K, ctx.scalar[0])
        return tr(g, ctx.scalar[0]) if ctx.numerator else g

    def grads_wanted(self):
        return (True, False)

    def scaled_expr(self, e: Expr) -> Expr:
        """e times the factor this loss puts in front of its per-example loss (1 here; a batch's 1/n)."""
        return e

    def mutants(self, node, values):
        """The loss's gradient off by the factors its table entry admits (MSE's 2, its 1/K)."""
        return [(s.key, Mutant(self, _times_factor(self, f)), "")
                for s in self.loss.mistakes if (f := s.factor_at(self.K)) != 1]


class L2Penalty(Op):
    """R = lambda/2 (||P1||^2 + ||P2||^2 + ...), the sum of every entry squared   (dR/dPi = lambda Pi)

    The L2 term of a regularised loss (weight decay in the loss): exact on rational parameters.
    """

    key = "l2"

    def __init__(self, lam):
        self.lam = lam
        self.exact = isinstance(lam, Fraction)

    def forward(self, xs):
        exact_ = self.exact and all(T.is_exact(x) for x in xs)
        total = Fraction(0) if exact_ else 0.0
        for x in xs:
            for v in x.flat:
                total = total + (v * v if exact_ else float(v) ** 2)
        half = self.lam / 2 if exact_ else float(self.lam) / 2
        return T.exact([[half * total]]) if exact_ else np.array([[half * total]])

    def vjp(self, i, g, xs, out):
        x, g = T.unify(xs[i], g)
        lam = self.lam if T.is_exact(x) and self.exact else float(self.lam)
        return x * (lam * g[0, 0])

    def formula(self, args):
        total = norm2(args[0])
        for a in args[1:]:
            total = total + norm2(a)
        return Const(self.lam / 2) * total

    def local(self, i, up, args, out, ctx):
        return Const(self.lam) * args[i] if isinstance(up, Const) and up.value == 1 else \
            up * (Const(self.lam) * args[i])

    def local_note(self, i, names):
        return "the L2 term's gradient: lambda times the parameter"


def const_of(a: np.ndarray) -> Const:
    return Const(T.plain(a))


__all__ = ["Op", "Ctx", "RuleMistake", "Mutant", "Identity", "Linear", "Activation", "Softmax", "LossOp", "L2Penalty",
           "Apply",
           "emul", "tr", "const_of"]


# =============================================================================================
# Scalar rules for computational-graph specs (issue 3): sum, product, quotient, power, negation,
# min / max, named constants and the element-wise functions with the spec node they belong to.
# Values are (1, 1) arrays: exact Fractions while every operand is exact, floats otherwise.
# `owner` is the spec node an intermediate operation belongs to (for error messages).
# =============================================================================================

from fractions import Fraction  # noqa: E402

from hwsolve.core.sym import call  # noqa: E402

MAX_EXACT_BITS = 200_000  # an exact value larger than this (numerator or denominator) is an error


def _scalars(xs) -> tuple[list, bool]:
    xs = T.unify(*xs)
    return [x[0, 0] for x in xs], T.is_exact(xs[0])


def _box(v) -> np.ndarray:
    if isinstance(v, Fraction):
        if max(v.numerator.bit_length(), v.denominator.bit_length()) > MAX_EXACT_BITS:
            raise MathError(f"the exact value has more than {MAX_EXACT_BITS * 3 // 10} digits")
        return T.exact([[v]])
    v = _float(v)
    if v != v or v in (float("inf"), float("-inf")):
        raise MathError("the value is not a finite number")
    return np.array([[v]])


def _float(v) -> float:
    """float(v); an exact value past float range (1/b for a tiny b) is a math error, not OverflowError."""
    try:
        return float(v)
    except OverflowError:
        raise MathError("a value is beyond the range of floating point (about 1e308)") from None


def _times(g: np.ndarray, v) -> np.ndarray:
    """The upstream gradient g (1 x 1) times a scalar, exact when both are."""
    g0 = g[0, 0]
    if isinstance(g0, Fraction) and isinstance(v, Fraction):
        return _box(g0 * v)
    return _box(_float(g0) * _float(v))


def _product(exprs: list[Expr]) -> Expr:
    out = exprs[0]
    for e in exprs[1:]:
        out = out * e
    return out


def _where(owner) -> str:
    return f" (in node '{owner}')" if owner else ""


class GraphOp(Op):
    owner: str | None = None

    def fail(self, message: str) -> MathError:
        return MathError(message + _where(self.owner))


class ConstOp(GraphOp):
    """c   (a number written in an expression: no operands, no gradient)"""

    key = "const"

    def __init__(self, value: Fraction):
        self.value = value

    def forward(self, xs):
        return _box(self.value)

    def vjp(self, i, g, xs, out):
        raise AssertionError("a constant has no operands")

    def formula(self, args):
        return Const(self.value)

    def local(self, i, up, args, out, ctx):
        raise AssertionError("a constant has no operands")


def signed_sum(terms, signs):
    """±t1 ± t2 ± ...: values or display expressions alike."""
    out = terms[0] if signs[0] > 0 else -terms[0]
    for s, t in zip(signs[1:], terms[1:], strict=True):
        out = out + t if s > 0 else out - t
    return out


SIGN_LOST = RuleMistake(
    "subtraction_sign_lost", "minus sign lost in the derivative",
    "gradients below a subtraction or a negation (d(a - b)/db taken as +1 where -1 is due)")


def sign_lost(rule: Op, node, signs) -> list[Mutation]:
    """d(a - b)/db taken as +1: every operand's gradient passed on with a plus sign."""
    minus = [node.parents[j].name for j, s in enumerate(signs) if s < 0]
    if not minus:
        return []
    plus = Mutant(rule, lambda i, g, xs, out: rule.vjp(i, g, xs, out) * (1 if signs[i] > 0 else -1))
    return [(SIGN_LOST.key, plus, f"at {node.name}: d{node.name}/d{minus[0]} taken as +1 where -1 is due")]


class Sum(GraphOp):
    """out = ±x1 ± x2 ± ...   (d out / d xi = ±1)"""

    key = "sum"

    def draw_label(self):
        return "+"

    def edge_label(self, i):
        return "-" if self.signs[i] < 0 else ""

    mistakes = (SIGN_LOST,)

    def __init__(self, signs: tuple[int, ...]):
        self.signs = tuple(signs)

    def mutants(self, node, values):
        return sign_lost(self, node, self.signs)

    def forward(self, xs):
        vals, _ = _scalars(xs)
        total = vals[0] * self.signs[0]
        for s, v in zip(self.signs[1:], vals[1:], strict=True):
            total = total + v if s > 0 else total - v
        return _box(total)

    def vjp(self, i, g, xs, out):
        return g if self.signs[i] > 0 else -g

    def formula(self, args):
        return signed_sum(args, self.signs)

    def local(self, i, up, args, out, ctx):
        return up if self.signs[i] > 0 else up * Const(-1)

    def partial(self, i, args, out, ctx):
        return Const(self.signs[i])


class Product(GraphOp):
    """out = x1 * x2 * ... * xn   (d out / d xi = the product of the other operands)"""

    key = "product"

    def draw_label(self):
        return "*"

    def forward(self, xs):
        vals, _ = _scalars(xs)
        out = vals[0]
        for v in vals[1:]:
            out = out * v
        return _box(out)

    def vjp(self, i, g, xs, out):
        vals, _ = _scalars(xs)
        p = Fraction(1) if all(isinstance(v, Fraction) for v in vals) else 1.0
        for j, v in enumerate(vals):
            if j != i:
                p = p * v
        return _times(g, p)

    def formula(self, args):
        return _product(list(args))

    def partial(self, i, args, out, ctx):
        others = [a for j, a in enumerate(args) if j != i]
        return _product(others)

    def local(self, i, up, args, out, ctx):
        return up * self.partial(i, args, out, ctx)


class Quotient(GraphOp):
    """out = a / b   (d out / d a = 1 / b, d out / d b = -a / b^2)"""

    key = "quotient"

    def draw_label(self):
        return "/"

    def edge_label(self, i):
        return ("numerator", "denominator")[i]

    def forward(self, xs):
        (a, b), _ = _scalars(xs)
        if b == 0:
            raise self.fail("division by zero: the divisor is 0")
        return _box(a / b)

    def vjp(self, i, g, xs, out):
        (a, b), _ = _scalars(xs)
        return _times(g, 1 / b) if i == 0 else _times(g, -a / (b * b))

    def formula(self, args):
        return args[0] / args[1]

    def partial(self, i, args, out, ctx):
        if i == 0:
            return Const(1) / args[1]
        return (-args[0]) / args[1] ** Const(2)

    def local(self, i, up, args, out, ctx):
        return up * self.partial(i, args, out, ctx)


POWER_FACTOR = RuleMistake(
    "power_rule_factor_dropped", "factor of the power rule dropped",
    "gradients below a power x^c (c x^(c-1) written x^(c-1))")


def _num(v) -> str:
    from hwsolve.core.numfmt import fmt_number

    return fmt_number(v)


class Power(GraphOp):
    """out = a ^ b   (d out / d a = b a^(b-1), d out / d b = a^b log(a))"""

    key = "power"

    def draw_label(self):
        return "^"

    def edge_label(self, i):
        return ("base", "exponent")[i]
    MAX_EXACT_EXPONENT = 10_000

    def _pow(self, a, b):
        if isinstance(a, Fraction) and isinstance(b, Fraction) and b.denominator == 1:
            n = int(b)
            if a == 0 and n < 0:
                raise self.fail(f"0 to the power {n} divides by zero")
            bits = max(a.numerator.bit_length(), a.denominator.bit_length())
            if abs(n) > self.MAX_EXACT_EXPONENT or bits * abs(n) > MAX_EXACT_BITS:
                raise self.fail("the exact power is too large to compute")
            return a ** n
        a, b = float(a), float(b)
        if a < 0 and b != int(b):
            raise self.fail(f"a negative base ({a:g}) to a fractional power is not a real number")
        if a == 0 and b < 0:
            raise self.fail(f"0 to the power {b:g} divides by zero")
        try:
            return a ** b
        except OverflowError:
            raise self.fail("the power overflows") from None

    def forward(self, xs):
        (a, b), _ = _scalars(xs)
        return _box(self._pow(a, b))

    mistakes = (POWER_FACTOR,)

    def mutants(self, node, values):
        xs = [values.get(p) for p in node.parents]
        if any(x is None for x in xs) or _scalars(xs)[0][1] in (0, 1):
            return []
        b = _scalars(xs)[0][1]

        def wrong(i, g, xs_, out):
            if i != 0:
                return self.vjp(i, g, xs_, out)
            (a_, b_), _ = _scalars(xs_)
            return _times(g, self._pow(a_, b_ - 1))
        base = node.parents[0].name
        return [(POWER_FACTOR.key, Mutant(self, wrong),
                 f"at {node.name}: d{node.name}/d{base} taken as {base}^({_num(b)} - 1), without the factor {_num(b)}")]

    def vjp(self, i, g, xs, out):
        (a, b), _ = _scalars(xs)
        if i == 0:
            if b == 0:
                return _times(g, b)
            return _times(g, b * self._pow(a, b - 1))
        if not a > 0:
            raise self.fail(f"d(a^b)/db = a^b log(a) needs a > 0, but a = {a}")
        import math

        return _times(g, float(out[0, 0]) * math.log(float(a)))

    def formula(self, args):
        return args[0] ** args[1]

    def partial(self, i, args, out, ctx):
        a, b = args
        if i == 0:
            exponent = _one_number(b.value) if isinstance(b, Const) else None
            if exponent is not None:   # the numbers substituted: b a^(b - 1) with b - 1 worked out
                return Const(exponent) * a ** Const(exponent - 1)
            return b * a ** (b - Const(1))
        return out * call("log", r"\log", a)

    def local(self, i, up, args, out, ctx):
        return up * self.partial(i, args, out, ctx)


def _one_number(v):
    """The number of a scalar written as itself or as a 1 x 1 matrix ((3,),); None otherwise."""
    while isinstance(v, tuple) and len(v) == 1:
        v = v[0]
    return None if isinstance(v, tuple) else v


class Negate(GraphOp):
    """out = -x   (d out / d x = -1)"""

    key = "negate"

    def draw_label(self):
        return "-"

    def forward(self, xs):
        return -T.unify(xs[0])[0]

    def vjp(self, i, g, xs, out):
        return -g

    mistakes = (SIGN_LOST,)

    def mutants(self, node, values):
        return sign_lost(self, node, (-1,))

    def formula(self, args):
        return -args[0]

    def partial(self, i, args, out, ctx):
        return Const(-1)

    def local(self, i, up, args, out, ctx):
        return up * Const(-1)


OTHER_BRANCH = RuleMistake(
    "other_branch", "min/max gradient sent to the operand it did not take",
    "gradients below a min or max (dH3/dX1 = 1 where min took H1)")


class Extremum(GraphOp):
    """out = min(x1, ..., xn) or max(...)   (d out / d xi = 1 for the operand taken, else 0)

    On a tie the convention decides: "first" gives the whole gradient to the first operand
    listed among the tied ones; "split" shares it equally between them.
    """

    key = "extremum"

    def draw_label(self):
        return self.which

    def __init__(self, which: str, tie: str = "first"):
        assert which in ("min", "max") and tie in ("first", "split")
        self.which, self.tie = which, tie

    def _best(self, vals):
        best = min(vals) if self.which == "min" else max(vals)
        return best, [j for j, v in enumerate(vals) if v == best]

    def other_branch(self, taken: int) -> Extremum:
        """The mistake this rule admits: the gradient sent to operand `taken`, whatever the values
        (a student who misreads which operand min/max took)."""
        wrong = Extremum(self.which, self.tie)
        wrong.forced = taken
        wrong.owner = self.owner
        return wrong

    forced: int | None = None   # set only on a mistake model (other_branch)

    mistakes = (OTHER_BRANCH,)

    def mutants(self, node, values):
        """The gradient sent to each operand min/max did not take."""
        xs = [values.get(p) for p in node.parents]
        if any(x is None for x in xs):
            return []
        vals, _ = _scalars(xs)
        return [(OTHER_BRANCH.key, self.other_branch(j),
                 f"at {node.name}: {self.which}'s gradient sent to {p.name}, which it did not take")
                for j, p in enumerate(node.parents) if self.share(vals, j) != 1]

    def share(self, vals, i):
        """d out / d operand i at these values: 1, 0, or 1/k on a split tie."""
        if self.forced is not None:
            return Fraction(int(i == self.forced))
        _, idx = self._best(vals)
        if self.tie == "first":
            return Fraction(1) if i == idx[0] else Fraction(0)
        return Fraction(1, len(idx)) if i in idx else Fraction(0)

    def forward(self, xs):
        vals, _ = _scalars(xs)
        return _box(self._best(vals)[0])

    def vjp(self, i, g, xs, out):
        vals, _ = _scalars(xs)
        return _times(g, self.share(vals, i))

    def formula(self, args):
        return call(self.which, rf"\{self.which}", *args)

    def partial(self, i, args, out, ctx):
        if ctx.values:
            vals, _ = _scalars(list(ctx.values))
            return Const(self.share(vals, i))
        return None

    def local(self, i, up, args, out, ctx):
        return up * self.partial(i, args, out, ctx)

    def note(self, xs, out, names):
        from hwsolve.core.numfmt import fmt_number

        vals, _ = _scalars(xs)
        best, idx = self._best(vals)
        if len(idx) == 1:
            rest = ", ".join(names[j] for j in range(len(names)) if j != idx[0])
            return (f"{self.which} takes {names[idx[0]]} = {fmt_number(best)}: derivative 1 "
                    f"for {names[idx[0]]}, 0 for {rest}")
        tied = " = ".join(names[j] for j in idx)
        if self.tie == "first":
            return (f"tie {tied} = {fmt_number(best)}: the gradient goes to the first, "
                    f"{names[idx[0]]} (convention)")
        return f"tie {tied} = {fmt_number(best)}: the gradient is split equally (convention)"


class Function(Activation):
    """out = f(x) for a function of the table (exp, log, sqrt, abs, sigmoid, tanh, relu, ...)"""

    owner: str | None = None

    def forward(self, xs):
        try:
            return super().forward(xs)
        except MathError as e:
            raise MathError(e.message + _where(self.owner)) from None
        except (OverflowError, ValueError):
            raise MathError(f"{self.fn.text} is undefined or overflows here" + _where(self.owner)) from None

    def vjp(self, i, g, xs, out):
        if self.fn.key == "sqrt" and xs[0][0, 0] == 0:
            raise MathError("the derivative of sqrt at 0 is infinite" + _where(self.owner))
        return super().vjp(i, g, xs, out)

