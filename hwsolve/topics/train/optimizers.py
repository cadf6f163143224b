"""The optimizer update rules, each written once and read three ways.

A rule is a function of an algebra `A` (add, sub, mul, div, sq, sqrt, pow) and a `define`
callback. `solve.py` runs it with numbers (the values), with symbols (the formula of every state
variable, in terms of the previous states: ``m(w)[t=1] = mu m(w)[t=0] - alpha g(w)[t=1]``) and
with the numbers put in place of the symbols (the substituted line). So the printed formula is the
formula computed, by construction.

Equations (g the gradient at the previous weights, t counted from 1, states start at 0):
- sgd:                w <- w - alpha g
- momentum, sheet:    m <- mu m - alpha g;  w <- w + m              (seed 000 P3)
- momentum, pytorch:  v <- mu v + g;        w <- w - alpha v        (torch.optim.SGD)
- nesterov, sheet:    g taken at w + mu m (the look-ahead); m <- mu m - alpha g; w <- w + m
- nesterov, pytorch:  v <- mu v + g;        w <- w - alpha (g + mu v)
- adagrad:            G <- G + g^2;         w <- w - alpha g / (sqrt(G) + eps)
- rmsprop:            s <- rho s + (1 - rho) g^2;  w <- w - alpha g / (sqrt(s) + eps)
- adam (Kingma and Ba 2015, Algorithm 1): m <- b1 m + (1 - b1) g; v <- b2 v + (1 - b2) g^2;
  mhat = m / (1 - b1^t); vhat = v / (1 - b2^t); w <- w - alpha mhat / (sqrt(vhat) + eps)
Square roots are taken in floating point (as the sheets' calculators do); everything else stays
exact while the inputs are rational.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import numpy as np

from hwsolve.core import values as T
from hwsolve.core.sym import Const, Expr, call, lift

# the state variables each rule carries from step to step (all start at 0)
STATES: dict[tuple[str, str], tuple[str, ...]] = {
    ("sgd", "sheet"): (), ("sgd", "pytorch"): (),
    ("momentum", "sheet"): ("m",), ("momentum", "pytorch"): ("v",),
    ("nesterov", "sheet"): ("m",), ("nesterov", "pytorch"): ("v",),
    ("adagrad", "sheet"): ("G",), ("adagrad", "pytorch"): ("G",),
    ("rmsprop", "sheet"): ("s",), ("rmsprop", "pytorch"): ("s",),
    ("adam", "sheet"): ("m", "v"), ("adam", "pytorch"): ("m", "v"),
}


def _fix(x):
    """An exact array that picked up a float anywhere becomes float64 (no mixed object arrays)."""
    if isinstance(x, np.ndarray) and x.dtype == object and not all(type(v) is Fraction for v in x.flat):
        return x.astype(np.float64)
    return x


class Numbers:
    """The algebra on values: exact numpy object arrays of Fraction, or float64; scalars as numbers."""

    @staticmethod
    def add(a, b): return _fix(a + b)

    @staticmethod
    def sub(a, b): return _fix(a - b)

    @staticmethod
    def mul(a, b): return _fix(a * b)

    @staticmethod
    def div(a, b): return _fix(a / b)

    @staticmethod
    def sq(a): return _fix(a * a)

    @staticmethod
    def pow(a, n: int): return a ** n

    @staticmethod
    def sqrt(a):
        return np.sqrt(T.to_float(a)) if isinstance(a, np.ndarray) else math.sqrt(a)


class Symbols:
    """The algebra on display trees (`hwsolve.core.sym`): builds the formula, computes nothing."""

    @staticmethod
    def add(a, b): return lift(a) + lift(b)

    @staticmethod
    def sub(a, b): return lift(a) - lift(b)

    @staticmethod
    def mul(a, b): return lift(a) * lift(b)

    @staticmethod
    def div(a, b): return lift(a) / lift(b)

    @staticmethod
    def sq(a): return lift(a) ** Const(2)

    @staticmethod
    def pow(a, n: int): return lift(a) ** Const(n)

    @staticmethod
    def sqrt(a): return call("sqrt", r"\operatorname{sqrt}", a)


Define = Callable[[str, Any], Any]


def rule(kind: str, convention: str) -> Callable[..., Any]:
    """The rule of `kind`: rule(A, define, w, g, state, h, t) -> the new weights (not yet defined,
    so that decoupled weight decay can be added to it)."""
    if kind == "momentum":
        return _momentum_sheet if convention == "sheet" else _momentum_pytorch
    if kind == "nesterov":
        return _momentum_sheet if convention == "sheet" else _nesterov_pytorch
    return {"sgd": _sgd, "adagrad": _adagrad, "rmsprop": _rmsprop, "adam": _adam}[kind]


def _sgd(A, define: Define, w, g, s, h, t):
    return A.sub(w, A.mul(h["lr"], g))


def _momentum_sheet(A, define: Define, w, g, s, h, t):
    m = define("m", A.sub(A.mul(h["momentum"], s["m"]), A.mul(h["lr"], g)))
    return A.add(w, m)


def _momentum_pytorch(A, define: Define, w, g, s, h, t):
    v = define("v", A.add(A.mul(h["momentum"], s["v"]), g))
    return A.sub(w, A.mul(h["lr"], v))


def _nesterov_pytorch(A, define: Define, w, g, s, h, t):
    v = define("v", A.add(A.mul(h["momentum"], s["v"]), g))
    return A.sub(w, A.mul(h["lr"], A.add(g, A.mul(h["momentum"], v))))


def _adagrad(A, define: Define, w, g, s, h, t):
    G = define("G", A.add(s["G"], A.sq(g)))
    return A.sub(w, A.mul(h["lr"], A.div(g, A.add(A.sqrt(G), h["eps"]))))


def _rmsprop(A, define: Define, w, g, s, h, t):
    r = define("s", A.add(A.mul(h["rho"], s["s"]), A.mul(A.sub(1, h["rho"]), A.sq(g))))
    return A.sub(w, A.mul(h["lr"], A.div(g, A.add(A.sqrt(r), h["eps"]))))


def _adam(A, define: Define, w, g, s, h, t):
    m = define("m", A.add(A.mul(h["beta1"], s["m"]), A.mul(A.sub(1, h["beta1"]), g)))
    v = define("v", A.add(A.mul(h["beta2"], s["v"]), A.mul(A.sub(1, h["beta2"]), A.sq(g))))
    mhat = define("mhat", A.div(m, A.sub(1, A.pow(h["beta1"], t))))
    vhat = define("vhat", A.div(v, A.sub(1, A.pow(h["beta2"], t))))
    return A.sub(w, A.mul(h["lr"], A.div(mhat, A.add(A.sqrt(vhat), h["eps"]))))


def decay(A, w_new, w, h):
    """Decoupled weight decay (AdamW, Loshchilov and Hutter 2019): w <- (rule's w) - alpha lambda w."""
    return A.sub(w_new, A.mul(A.mul(h["lr"], h["weight_decay"]), w))


def l2_gradient(A, dw, w, h):
    """L2 in the loss, (lambda/2) ||w||^2: its gradient lambda w is added to dL/dw."""
    return A.add(dw, A.mul(h["weight_decay"], w))


__all__ = ["Numbers", "Symbols", "STATES", "rule", "decay", "l2_gradient", "Expr"]
