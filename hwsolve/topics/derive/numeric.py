"""What derive's symbols stand for in numbers: the identity matrix `Eye`, and `evaluate`, which
computes a display tree on arrays so `solve.check` can compare every derived formula with the
numeric engine. Shared by solve.py, rules.py (the named algebra) and answers.py (allowed symbols).
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from hwsolve.autodiff.graph import Graph
from hwsolve.autodiff.ops import Activation, LossOp
from hwsolve.core.sym import Const, Indicator, Symbol

# -- display atoms the derivation needs beyond sym.py: each prints as a Symbol ---------------


@dataclass(frozen=True, eq=True)
class Eye(Symbol):
    """The identity matrix I (its size, for evaluation, in `n`)."""

    n: int = 1


def eye(n_conc: int, n_sym) -> Eye:
    return Eye("I", rf"I_{{{n_sym}}}", n_conc)


def to_matrix(v, exact: bool = False) -> np.ndarray:
    """A scalar, vector or matrix as a matrix (a vector as a column): floats, or with `exact`
    Fractions (an int made a Fraction, so 1 / 2 stays 1/2 and never becomes 0.5)."""
    if exact:
        a = np.vectorize(Fraction, otypes=[object])(np.array(v, dtype=object))
        return _as_matrix(a)
    return _as_matrix(np.array(v, dtype=float))


def _as_matrix(a: np.ndarray) -> np.ndarray:
    if a.ndim == 0:
        return a.reshape(1, 1)
    if a.ndim == 1:
        return a.reshape(-1, 1)
    return a


def functions_of(g: Graph) -> dict:
    """Printed function name -> callable on arrays, for every function the graph uses."""
    fns = {"softmax": lambda a: np.exp(a - a.max()) / np.exp(a - a.max()).sum(),
           "log": np.log, "exp": np.exp}
    for n in g.nodes:
        if isinstance(n.op, LossOp):   # the numeric meaning of names its formulas print (clip_1)
            fns.update(n.op.loss.named_functions())
        if isinstance(n.op, Activation):
            op = n.op
            lab = op.fn.label(**op.params)
            at0 = {"at_zero_value": op.at_zero} if op.fn.kink is not None and op.at_zero is not None else {}
            fns[lab] = _elementwise(lambda v, op=op: op.fn.f(v, **op.params), op.fn.exact)
            fns[lab + "'"] = _elementwise(lambda v, op=op, at0=at0: op.fn.df(
                Fraction(v) if op.fn.exact else v, **op.params, **at0), op.fn.exact)
    return fns


def _elementwise(f, exact_rule: bool):
    """f entry by entry: exact (Fractions in, Fractions out) when the array and the rule are, else floats."""
    exact_f = np.vectorize(f, otypes=[object])
    float_f = np.vectorize(lambda v: float(f(float(v))))

    def apply(a: np.ndarray) -> np.ndarray:
        return exact_f(a) if exact_rule and a.dtype == object else float_f(a)
    return apply


# an env holding this key is exact: every value in it is an object array of Fractions, and evaluate
# keeps them so (a function with no rational form, softmax or log, is not in an exact env's network)
EXACT = "<exact>"


def evaluate(e, env: dict, fns: dict) -> np.ndarray:
    """A display tree's value: Symbols from env (by text), functions from fns (by printed name)."""
    ev = lambda x: evaluate(x, env, fns)  # noqa: E731
    exact = env.get(EXACT) is not None
    if isinstance(e, Indicator):
        a = ev(e.arg)
        hit = (a > 0) if e.rel == ">" else (a <= 0)
        return hit.astype(int).astype(object) if exact else hit.astype(float)
    if isinstance(e, Eye):
        return np.eye(e.n, dtype=int).astype(object) if exact else np.eye(e.n)
    if isinstance(e, Symbol):
        if e.text not in env and e.text.startswith("(") and e.text.endswith(")"):
            return env[e.text[1:-1]]  # a bracketed Jacobian symbol, (dv/du)
        if e.text not in env:
            raise KeyError(f"no value for symbol {e.text!r}")
        return env[e.text]
    if isinstance(e, Const):
        return to_matrix(e.value, exact)
    op, a = e.op, e.args
    if op == "eq":
        return ev(a[1])
    if op == "T":
        return ev(a[0]).T
    if op == "neg":
        return -ev(a[0])
    if op in ("norm2", "sum"):
        v = ev(a[0])
        total = np.sum(v * v) if op == "norm2" else np.sum(v)
        return np.array([[total]], dtype=object) if exact else np.array([[float(total)]])
    if op == "call":
        name = e.fn[0]
        if name == "diag":
            v = ev(a[0])
            return v if v.shape == (1, 1) else np.diagflat(v)
        out = np.asarray(fns[name](ev(a[0])))
        return out if exact and out.dtype == object else out.astype(float)
    x, y = ev(a[0]), ev(a[1])
    if op == "matmul":
        return x * y if (x.shape == (1, 1) or y.shape == (1, 1)) else x @ y
    if op not in _BINARY:
        raise KeyError(f"cannot evaluate op {op!r}")
    return _BINARY[op](x, y)


# element-wise binary operators of display trees (a 1x1 operand broadcasts as a scalar)
_BINARY = {"add": operator.add, "sub": operator.sub, "mul": operator.mul, "hadamard": operator.mul,
           "div": operator.truediv, "hdiv": operator.truediv, "pow": operator.pow}
