"""The one table of element-wise functions and the one table of losses.

A new activation is one `Elementwise` entry here: its function, its derivative, how it prints
(text and LaTeX), whether it keeps rationals exact, and its parameters. Layered networks, graph
expressions, derivations and plots all read this table.

Functions take one scalar (a `Fraction` when exact, else a float) and the entry's parameters.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Callable

from hwsolve.core.sym import Const, Expr, call, hdiv, norm2, sumover

Number = Fraction | float


@dataclass(frozen=True)
class Elementwise:
    """One element-wise function f and its derivative f'."""

    key: str
    text: str                      # as printed: ReLU
    latex: str                     # as typeset: \operatorname{ReLU}
    f: Callable                    # f(x, **params)
    df: Callable                   # f'(x, **params); at a kink, the convention (see `kink`)
    exact: bool                    # True when rationals map to rationals
    params: dict = field(default_factory=dict)   # parameter name -> default value
    derivative_text: str = ""      # what f' is, for the notes: "ReLU'(x) = 1 if x > 0 else 0"
    kink: Number | None = None     # where f' is set by convention (0 for ReLU)
    domain: Callable | None = None  # returns an error message when x is outside the domain

    def apply(self, x: Expr, scale=None, **params) -> Expr:
        e = call(self.label(**params), self.latex_label(**params), x)
        return e if scale in (None, 1) else Const(scale) * e

    def derivative(self, x: Expr, scale=None, **params) -> Expr:
        e = call(self.label(**params) + "'", self.latex_label(**params) + "'", x)
        return e if scale in (None, 1) else Const(scale) * e

    def label(self, **params) -> str:
        shown = {k: v for k, v in params.items() if v != self.params.get(k)}
        if not shown:
            return self.text
        from hwsolve.core.numfmt import fmt_number

        return self.text + "_" + ",".join(fmt_number(v) for v in shown.values())

    def latex_label(self, **params) -> str:
        shown = {k: v for k, v in params.items() if v != self.params.get(k)}
        if not shown:
            return self.latex
        from hwsolve.core.numfmt import fmt_number

        return self.latex + "_{" + ",".join(fmt_number(v) for v in shown.values()) + "}"


def _sigmoid(x, **_):
    x = float(x)
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _sigmoid_d(x, **_):
    # e^-|x| / (1 + e^-|x|)^2: the same as s(1 - s) without cancelling when s is near 1
    e = math.exp(-abs(float(x)))
    return e / (1.0 + e) ** 2


def _softplus(x, beta=1, **_):
    bx = float(beta) * float(x)
    # log(1 + e^bx) without overflow
    return (max(bx, 0.0) + math.log1p(math.exp(-abs(bx)))) / float(beta)


def _gelu(x, **_):
    x = float(x)
    return 0.5 * x * (1.0 + math.erf(x / math.sqrt(2.0)))


def _gelu_d(x, **_):
    x = float(x)
    cdf = 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))
    pdf = math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
    return cdf + x * pdf


def _step(at_zero):
    def d(x, at_zero_value=None, **_):
        if x > 0:
            return Fraction(1) if isinstance(x, Fraction) else 1.0
        if x < 0:
            return Fraction(0) if isinstance(x, Fraction) else 0.0
        return at_zero_value if at_zero_value is not None else at_zero
    return d


def _exp_domain(x, **_):
    return None if float(x) < 709 else f"exp({float(x):.4g}) overflows"


def _log_domain(x, **_):
    return None if x > 0 else f"log of a non-positive value ({x})"


def _sqrt_domain(x, **_):
    return None if x >= 0 else f"sqrt of a negative value ({x})"


def _sqrt(x, **_):
    if isinstance(x, Fraction) and x >= 0:
        n, d = math.isqrt(x.numerator), math.isqrt(x.denominator)
        if n * n == x.numerator and d * d == x.denominator:
            return Fraction(n, d)
    return math.sqrt(float(x))


def _sqrt_d(x, **_):
    r = _sqrt(x)
    if r == 0:
        return math.inf
    return 1 / (2 * r) if isinstance(r, Fraction) else 0.5 / r


def _sign(x, **_):
    z = Fraction(0) if isinstance(x, Fraction) else 0.0
    return z + (1 if x > 0 else -1 if x < 0 else 0)


ELEMENTWISE: dict[str, Elementwise] = {e.key: e for e in (
    Elementwise("identity", "id", r"\operatorname{id}", lambda x, **_: x,
                lambda x, **_: Fraction(1) if isinstance(x, Fraction) else 1.0, True,
                derivative_text="id'(x) = 1"),
    Elementwise("relu", "ReLU", r"\operatorname{ReLU}", lambda x, **_: x if x > 0 else 0 * x,
                _step(Fraction(0)), True, kink=Fraction(0),
                derivative_text="ReLU'(x) = 1 if x > 0, 0 if x < 0"),
    Elementwise("leaky_relu", "LeakyReLU", r"\operatorname{LeakyReLU}",
                lambda x, slope=Fraction(1, 100), **_: x if x > 0 else slope * x,
                lambda x, slope=Fraction(1, 100), at_zero_value=None, **_:
                    (1 + 0 * x) if x > 0 else (slope + 0 * x) if x < 0 else
                    (at_zero_value if at_zero_value is not None else slope + 0 * x),
                True, params={"slope": Fraction(1, 100)}, kink=Fraction(0),
                derivative_text="LeakyReLU'(x) = 1 if x > 0, slope if x < 0"),
    Elementwise("sigmoid", "sigmoid", r"\sigma", _sigmoid, _sigmoid_d, False,
                derivative_text="sigmoid'(x) = sigmoid(x)(1 - sigmoid(x))"),
    Elementwise("tanh", "tanh", r"\tanh", lambda x, **_: math.tanh(float(x)),
                lambda x, **_: 1.0 - math.tanh(float(x)) ** 2, False,
                derivative_text="tanh'(x) = 1 - tanh(x)^2"),
    Elementwise("softplus", "Softplus", r"\operatorname{Softplus}", _softplus,
                lambda x, beta=1, **_: _sigmoid(float(beta) * float(x)), False,
                params={"beta": Fraction(1)},
                derivative_text="Softplus'(x) = sigmoid(beta x), Softplus(x) = log(1 + exp(beta x)) / beta"),
    Elementwise("gelu", "GELU", r"\operatorname{GELU}", _gelu, _gelu_d, False,
                derivative_text="GELU(x) = x Phi(x), GELU'(x) = Phi(x) + x phi(x) (exact erf form)"),
    Elementwise("exp", "exp", r"\exp", lambda x, **_: math.exp(float(x)),
                lambda x, **_: math.exp(float(x)), False, domain=_exp_domain,
                derivative_text="exp'(x) = exp(x)"),
    Elementwise("log", "log", r"\log", lambda x, **_: math.log(float(x)),
                lambda x, **_: 1 / x if isinstance(x, Fraction) else 1.0 / x, False,
                domain=_log_domain, derivative_text="log'(x) = 1/x (natural log)"),
    Elementwise("sqrt", "sqrt", r"\sqrt", _sqrt, _sqrt_d, True, domain=_sqrt_domain,
                derivative_text="sqrt'(x) = 1 / (2 sqrt(x))"),
    Elementwise("abs", "abs", r"\operatorname{abs}", lambda x, **_: abs(x), _sign, True,
                kink=Fraction(0), derivative_text="abs'(x) = sign(x), 0 at 0"),
)}

ALIASES = {"linear_act": "identity", "none": "identity", "leakyrelu": "leaky_relu",
           "logistic": "sigmoid", "ln": "log"}


def lookup(name: str) -> Elementwise | None:
    key = name.strip().lower()
    return ELEMENTWISE.get(ALIASES.get(key, key))


# ---------------------------------------------------------------------------------------------
# Losses. Each maps (yhat, y) column vectors to a scalar; `grad` is dL/dyhat in gradient layout.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Loss:
    """One loss: its value, its gradient in yhat, and how both print."""

    key: str
    text: str
    exact: bool
    value: Callable          # value(yhat: list, y: list) -> number
    grad: Callable           # grad(yhat: list, y: list) -> list
    formula: Callable        # formula(yhat: Expr, y: Expr, K: int, scalar: bool) -> Expr
    grad_formula: Callable   # the same for dL/dyhat (gradient layout)
    domain: Callable | None = None
    needs_probabilities: bool = False


def _sq(yh, y):
    return sum((b - a) * (b - a) for a, b in zip(yh, y))


def _k(K):
    return Fraction(1, K)


def _sqf(scale):
    def formula(yh: Expr, y: Expr, K: int, scalar: bool) -> Expr:
        core = (y - yh) ** Const(2) if scalar else norm2(yh - y)
        c = scale(K)
        return core if c == 1 else Const(c) * core
    return formula


def _sqg(coef):
    def formula(yh: Expr, y: Expr, K: int, scalar: bool) -> Expr:
        return Const(coef(K)) * (yh - y) if coef(K) != 1 else (yh - y)
    return formula


def _bce_value(yh, y):
    K = len(yh)
    total = 0.0
    for p, t in zip(yh, y):
        p, t = float(p), float(t)
        total += -(t * math.log(p) if t else 0.0) - ((1 - t) * math.log(1 - p) if t != 1 else 0.0)
    return total / K


def _bce_grad(yh, y):
    K = len(yh)
    return [(float(p) - float(t)) / (float(p) * (1 - float(p))) / K for p, t in zip(yh, y)]


def _prob_domain(yh, y):
    for p in yh:
        if not 0 < float(p) < 1:
            return f"BCE needs every prediction strictly between 0 and 1, got {float(p):.6g}"
    return None


def _ce_domain(yh, y):
    for p, t in zip(yh, y):
        if t and not float(p) > 0:
            return f"cross-entropy needs a positive probability where the target is nonzero, got {p}"
    return None


def _bce_formula(yh, y, K, scalar):
    one = Const(1)
    log = lambda e: call("log", r"\log", e)  # noqa: E731
    inner = y.odot(log(yh)) + (one - y).odot(log(one - yh)) if not scalar else \
        y * log(yh) + (one - y) * log(one - yh)
    core = -inner if scalar else -sumover(inner)
    return core if K == 1 else Const(_k(K)) * core


def _bce_grad_formula(yh, y, K, scalar):
    one = Const(1)
    if scalar:
        g = (yh - y) / (yh * (one - yh))
    else:
        g = hdiv(yh - y, yh.odot(one - yh))
    return g if K == 1 else Const(_k(K)) * g


def _ce_formula(yh, y, K, scalar):
    log = lambda e: call("log", r"\log", e)  # noqa: E731
    return -(y * log(yh)) if scalar else -sumover(y.odot(log(yh)))


def _ce_grad_formula(yh, y, K, scalar):
    return -(y / yh) if scalar else -hdiv(y, yh)


LOSSES: dict[str, Loss] = {l.key: l for l in (
    Loss("squared_error", "squared error (y - yhat)^2, summed over outputs = ||yhat - y||^2", True,
         _sq, lambda yh, y: [2 * (a - b) for a, b in zip(yh, y)],
         _sqf(lambda K: 1), _sqg(lambda K: 2)),
    Loss("half_squared_error", "half squared error 1/2 ||yhat - y||^2", True,
         lambda yh, y: _sq(yh, y) / 2, lambda yh, y: [(a - b) for a, b in zip(yh, y)],
         _sqf(lambda K: Fraction(1, 2)), _sqg(lambda K: 1)),
    Loss("mse", "mean squared error 1/K ||yhat - y||^2", True,
         lambda yh, y: _sq(yh, y) / len(yh), lambda yh, y: [2 * (a - b) / len(yh) for a, b in zip(yh, y)],
         _sqf(_k), _sqg(lambda K: Fraction(2, K))),
    Loss("half_mse", "half mean squared error 1/(2K) ||yhat - y||^2", True,
         lambda yh, y: _sq(yh, y) / (2 * len(yh)), lambda yh, y: [(a - b) / len(yh) for a, b in zip(yh, y)],
         _sqf(lambda K: Fraction(1, 2 * K)), _sqg(_k)),
    Loss("bce", "binary cross-entropy averaged over the K outputs", False,
         _bce_value, _bce_grad, _bce_formula, _bce_grad_formula, _prob_domain, True),
    Loss("cross_entropy", "cross-entropy -sum y_i log p_i (p from a softmax layer)", False,
         lambda yh, y: -sum(float(t) * math.log(float(p)) for p, t in zip(yh, y) if t),
         lambda yh, y: [(-float(t) / float(p)) if t else 0.0 for p, t in zip(yh, y)],
         _ce_formula, _ce_grad_formula, _ce_domain, True),
)}

LOSS_ALIASES = {"se": "squared_error", "sse": "squared_error", "l2": "squared_error",
                "mean_squared_error": "mse", "binary_cross_entropy": "bce", "ce": "cross_entropy",
                "crossentropy": "cross_entropy", "nll": "cross_entropy"}


def lookup_loss(name: str) -> Loss | None:
    key = name.strip().lower()
    return LOSSES.get(LOSS_ALIASES.get(key, key))
