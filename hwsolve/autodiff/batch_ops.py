"""Rules for a batch of examples held as the columns of one matrix (issue 11).

A network's batch is compiled as the same network with X (d x n, one example per column) in place
of x: W X + b broadcasts b over the columns, element-wise activations work as they are, and only
two rules differ from the one-example ones:

- `BatchLinear`: dL/db sums dL/dA over the examples (b is shared by every column);
- `BatchLoss`: the loss of each column, reduced by the mean (factor 1/n) or the sum (factor 1)
  over the batch, the factor printed in the formula because it is the classic mistake.

dL/dW = dL/dA X^T already sums over the examples (the matrix product does it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
else:
    from hwsolve.core.values import np  # numpy, imported on first use (a small exact network never needs it)

from fractions import Fraction


from hwsolve.autodiff.ops import LossOp, Linear, RuleMistake
from hwsolve.core import values as T
from hwsolve.core.errors import MathError
from hwsolve.core.sym import Apply, Expr, Symbol


class BatchLinear(Linear):
    """A = W X + b 1^T for a batch X (d x n): dL/db = dL/dA 1 (the sum over the examples)."""

    def grad_is_upstream(self, i):
        return False     # dL/db sums dL/dA over the examples: not dL/dA itself

    def vjp(self, i, g, xs, out):
        if i == 2:
            return _row_sum(g)
        return super().vjp(i, g, xs, out)

    def local_factor(self, i, xs, out):
        if i == 2:   # dL/db = dL/dA 1: the factor is the column of ones
            n = out.shape[1]
            return (T.exact([[1]] * n) if T.is_exact(out) else np.ones((n, 1))), False
        return super().local_factor(i, xs, out)

    def partial(self, i, args, out, ctx):
        return Symbol("1", r"\mathbf{1}") if i == 2 else super().partial(i, args, out, ctx)

    def local_note(self, i, names):
        if i == 2:
            return "b is added to every example: dL/db sums dL/dA over the batch (dL/dA 1)"
        return super().local_note(i, names)


def _row_sum(g: np.ndarray) -> np.ndarray:
    if T.is_exact(g):
        out = np.empty((g.shape[0], 1), dtype=object)
        for r in range(g.shape[0]):
            total = Fraction(0)
            for v in g[r]:
                total += v
            out[r, 0] = total
        return out
    return g.sum(axis=1, keepdims=True)


MEAN_VS_SUM = RuleMistake(
    "mean_vs_sum", "batch mean and sum confused",
    "gradients under a batch loss (the sum over the n examples where the mean is due: n times too "
    "large; or the mean where the sum is due)")


class BatchLoss(LossOp):
    """L = factor * sum over examples j of loss(yhat_j, y_j); factor 1/n (mean) or 1 (sum)."""

    mistakes = (MEAN_VS_SUM,)

    def mutants(self, node, values):
        """The other reduction (first: the classic mistake), then the loss entry's own slips."""
        if self.n == 1:
            return super().mutants(node, values)
        other = "sum" if self.reduction == "mean" else "mean"
        wrong = BatchLoss(self.loss, self.target_symbol, self.K, self.n, other)
        detail = (f"summed over the {self.n} examples where the mean is due" if other == "sum"
                  else f"averaged over the {self.n} examples where the sum is due")
        return [(MEAN_VS_SUM.key, wrong, detail), *super().mutants(node, values)]

    def __init__(self, loss, target_symbol: Expr, K: int, n: int, reduction: str):
        super().__init__(loss, target_symbol, K)
        self.n, self.reduction = n, reduction
        self.factor = Fraction(1, n) if reduction == "mean" else Fraction(1)

    def _columns(self, xs):
        yh, y = T.unify(xs[0], xs[1])
        return [(list(yh[:, j]), list(y[:, j])) for j in range(yh.shape[1])]

    def forward(self, xs):
        exact_ = self.loss.exact and T.is_exact(xs[0]) and T.is_exact(xs[1])
        total = Fraction(0) if exact_ else 0.0
        for yh, y in self._columns(xs):
            if self.loss.domain:
                msg = self.loss.domain(yh, y)
                if msg:
                    raise MathError(msg)
            v = self.loss.evaluate(yh, y)
            total = total + (v if exact_ else float(v))
        total = total * (self.factor if exact_ else float(self.factor))
        return T.exact([[total]]) if exact_ else np.array([[float(total)]])

    def vjp(self, i, g, xs, out):
        exact_ = self.loss.exact and T.is_exact(xs[0]) and T.is_exact(xs[1])
        cols = [self.loss.gradient(yh, y) for yh, y in self._columns(xs)]
        rows = [[cols[j][r] for j in range(len(cols))] for r in range(len(cols[0]))]
        grad = T.exact(rows) if exact_ else np.array(rows, dtype=np.float64)
        grad = grad * (self.factor if exact_ else float(self.factor))
        g, grad = T.unify(g, grad)
        return grad * g[0, 0]

    def formula(self, args):
        per = self.loss.formula_of(_jth(args[0]), _jth(args[1]), self.K, self.K == 1)
        total = Apply("call", (per,), ("sum_j", r"\sum_j"))
        return self._scaled(total)

    def scaled_expr(self, e):
        return self._scaled(e)

    def _scaled(self, e):
        """1/n * e for the mean (the factor printed as a fraction: it is the point of the note)."""
        if self.reduction != "mean":
            return e
        return Symbol(f"1/{self.n}", rf"\frac{{1}}{{{self.n}}}") * e

    def local(self, i, up, args, out, ctx):
        g = self.loss.grad_formula_of(args[0], args[1], self.K, False)
        return self._scaled(g)


def _jth(e):
    """yhat -> yhat_j: the j-th example's column (numbers substituted stay whole matrices)."""
    if isinstance(e, Symbol):
        return Symbol(f"{e.text}_j", f"{{{e.latex}}}_{{j}}")
    return e
