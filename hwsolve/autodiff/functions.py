"""THE rule table of element-wise functions (activations) and losses.

A new activation or loss is one entry here, and nothing else changes: network specs (layer
types), graph specs (function names in expressions), `derive` (the derivative written out), the
printers (text and LaTeX names), the graph drawing (labels), `activations` plots and grading's
named mistakes (the wrong derivatives an entry admits) all read this table. Every list of names
elsewhere is derived from it (`function_names`, `loss_names`), never written beside it.

An `Elementwise` entry is f and f' on one scalar (a `Fraction` when exact, else a float) plus
optional whole-array float64 forms for speed; a `Loss` maps (yhat, y) column lists to a scalar.
`register` adds an entry at run time (a course's own activation, or a test's).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any

from hwsolve.core.sym import Const, Expr, call, hdiv, indicator, norm2, sumover
from hwsolve.core.wholes import ONE, ZERO

Number = Fraction | float
DerivativeForm = Callable[..., tuple[Expr, str]]   # (x, y, mul, params) -> (f'(x) written out, note)


@dataclass(frozen=True)
class WrongDerivative:
    """A mistake an entry admits: the wrong f' a student uses in place of the right one.

    Grading re-runs the backward pass with `df` in place of the entry's derivative and names the
    mistake when that reproduces a student's value. `changes(x_values)` says whether the wrong
    derivative differs from the right one on these inputs at all (a dead ReLU needs an input <= 0).
    """

    key: str                        # stable id, used in rubrics and JSON
    title: str                      # what the student is told
    where: str                      # where it can happen (docs)
    df: Callable                    # wrong f'(x, **params)
    changes: Callable[[list], bool] = lambda xs: True
    detail: str = "{f}({x}) used for {f}'({x})"   # {f}: function, {x}: its input's name


def value_for_derivative(f: Callable) -> WrongDerivative:
    """The most common slip: f(x) written where f'(x) is due."""
    return WrongDerivative("activation_for_derivative", "activation used instead of its derivative",
                           "gradients below an activation (sigma(a) where sigma'(a) is due)", f)


def _one(x, **_):
    return Fraction(1) if isinstance(x, Fraction) else 1.0


RELU_PRIME_AT_ZERO = WrongDerivative(
    "relu_prime_zero_one", "ReLU'(0) taken as 1",
    "gradients below a ReLU with an input exactly 0 (the derivative at the kink is 0 by convention)",
    lambda x, **_: _step(Fraction(1))(x),
    changes=lambda xs: any(v == 0 for v in xs),
    detail="{f}'(0) taken as 1 at the units with {x} = 0")

DEAD_RELU = WrongDerivative(
    "dead_relu_ignored", "dead ReLU unit ignored",
    "gradients below a ReLU with an input <= 0 (ReLU' taken as 1 there)", _one,
    changes=lambda xs: any(v <= 0 for v in xs),
    detail="the gradient was passed through units with {x} <= 0")


def one_sided_at_kink(key: str, title: str, where: str, df: Callable, side: str,
                      side_value: Callable[..., Number]) -> WrongDerivative:
    """f'(0) taken as the derivative on one side of the kink at 0 (`side`: "x > 0" or "x < 0"),
    f' itself elsewhere. Where the key's convention is that side's value the slip changes nothing
    and the rule leaves it out (`Activation.mutants`), so one entry serves every convention."""
    def wrong(x, **params):
        if x == 0:
            v = side_value(**params)
            return v if isinstance(x, Fraction) else float(v)
        return df(x, **params)
    return WrongDerivative(key, title, where, wrong, changes=lambda xs: any(v == 0 for v in xs),
                           detail="{f}'(0) taken as {at} (its derivative for " + side + ") at the units "
                                  "with {x} = 0, where the convention gives {conv}")


# ReLU'(0) = 0 where a key takes 1 (conventions.relu_prime_at_zero: 1): the reverse of relu_prime_zero_one
RELU_PRIME_ONE_ZERO = one_sided_at_kink(
    "relu_prime_one_zero", "ReLU'(0) taken as 0",
    "gradients below a ReLU with an input exactly 0, in a key whose convention is ReLU'(0) = 1 "
    "(conventions.relu_prime_at_zero: 1)",
    lambda x, **_: _step(Fraction(0))(x), "x < 0", lambda **_: 0)

_KINK_SIDE = ("kink_other_side", "derivative at the kink taken from the other side",
              "gradients below a LeakyReLU, ELU or abs with an input exactly 0 (f'(0) taken as the "
              "derivative for x > 0 or x < 0 where the convention gives another value)")


def kink_sides(df: Callable, left: Callable[..., Number], right: Callable[..., Number]) -> tuple[WrongDerivative, ...]:
    """The kink slips of a function with one-sided derivatives `left` and `right` at 0."""
    return (one_sided_at_kink(*_KINK_SIDE, df, "x > 0", right), one_sided_at_kink(*_KINK_SIDE, df, "x < 0", left))


@dataclass(frozen=True)
class Elementwise:
    """One element-wise function f and its derivative f'."""

    key: str
    text: str                      # as printed: ReLU
    latex: str                     # as typeset: \operatorname{ReLU}
    f: Callable                    # f(x, **params)
    df: Callable                   # f'(x, **params); at a kink, the convention (see `kink`)
    exact: bool                    # True when rationals map to rationals
    params: dict = field(default_factory=dict)   # parameter name -> default value, in order
    derivative_text: str = ""      # what f' is, for the notes: "ReLU'(x) = 1 if x > 0 else 0"
    kink: Number | None = None     # where f' is set by convention (0 for ReLU)
    domain: Callable | None = None  # returns an error message when x is outside the domain
    aliases: tuple[str, ...] = ()  # other spellings accepted in specs
    check_params: Callable | None = None  # (params) -> error message or None
    written: DerivativeForm | None = None  # f' written out for derive: (x, y, mul, params) -> (expr,
    #                                        note), y standing for f(x) (the layer's output)
    uses_output: bool = False      # `written` is in terms of f(x) (sigma(1 - sigma)), not x
    mistakes: tuple[WrongDerivative, ...] = ()   # besides value_for_derivative
    vectorized: Callable | None = None     # f on a float64 array at once
    vectorized_d: Callable | None = None   # f' likewise (no kink convention needed for floats)

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
        from hwsolve.core.sym import latex_number

        return self.latex + "_{" + ",".join(latex_number(v) for v in shown.values()) + "}"

    def bind(self, given: dict) -> dict:
        """The full parameter set: defaults overridden by `given`; raises ValueError when a name
        is unknown or a value is out of range (the spec readers turn it into a located error)."""
        unknown = [k for k in given if k not in self.params]
        if unknown:
            takes = ", ".join(self.params) or "no parameter"
            raise ValueError(f"'{self.key}' has no parameter '{unknown[0]}' (it takes: {takes})")
        bound = {**self.params, **given}
        msg = self.check_params(bound) if self.check_params else None
        if msg:
            raise ValueError(msg)
        return bound

    def all_mistakes(self) -> tuple[WrongDerivative, ...]:
        return (value_for_derivative(self.f),) + self.mistakes

    def write_derivative(self, x: Expr, y: Expr, scalar: bool, **params) -> tuple[Expr, str]:
        """f'(x) as courses write it out (1{x > 0}, y(1 - y) for y = sigma(x)), and a note."""
        mul = (lambda a, b: a * b) if scalar else (lambda a, b: a.odot(b))  # noqa: E731
        if self.written is None:
            return self.derivative(x, **params), self.derivative_text
        return self.written(x, y, mul, params)


# -- the functions ----------------------------------------------------------------------------


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


def _np_sigmoid(a):
    import numpy as np

    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _np_sigmoid_d(a):
    import numpy as np

    e = np.exp(-np.abs(a))
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


_GELU_C = math.sqrt(2.0 / math.pi)


# beyond this |x| the tanh is +-1 to the last bit (its argument passes 19 near |x| = 10), and x ** 3
# would overflow (OverflowError past 1e102): the tail is taken in closed form, as PyTorch's value is
_GELU_TANH_TAIL = 100.0


def _gelu_tanh(x, **_):
    # PyTorch's gelu(approximate='tanh'), Hendrycks and Gimpel's approximation (GPT-2, BERT)
    x = float(x)
    if abs(x) > _GELU_TANH_TAIL:
        return x if x > 0 else -0.0
    return 0.5 * x * (1.0 + math.tanh(_GELU_C * (x + 0.044715 * x ** 3)))


def _gelu_tanh_d(x, **_):
    x = float(x)
    if abs(x) > _GELU_TANH_TAIL:
        return 1.0 if x > 0 else 0.0
    th = math.tanh(_GELU_C * (x + 0.044715 * x ** 3))
    return 0.5 * (1.0 + th) + 0.5 * x * (1.0 - th * th) * _GELU_C * (1.0 + 3 * 0.044715 * x * x)


def _signed(x):
    """Something with the sign of x: a Fraction's numerator (its slot, read directly: comparing a
    Fraction with 0 goes through Python code and an ABC check, on every unit of every layer)."""
    return x._numerator if x.__class__ is Fraction else x


def _step(at_zero):
    def d(x, at_zero_value=None, **_):
        s = _signed(x)
        if s > 0:
            return ONE if isinstance(x, Fraction) else 1.0
        if s < 0:
            return ZERO if isinstance(x, Fraction) else 0.0
        return at_zero_value if at_zero_value is not None else at_zero
    return d


def _relu(x, **_):
    if _signed(x) > 0:
        return x
    return ZERO if x.__class__ is Fraction else 0 * x  # a float keeps its sign: ReLU(-1.5) is -0.0


def _leaky(x, slope=Fraction(1, 100), **_):
    return x if x > 0 else slope * x


def _leaky_d(x, slope=Fraction(1, 100), at_zero_value=None, **_):
    if x > 0:
        return 1 + 0 * x
    if x < 0 or at_zero_value is None:
        return slope + 0 * x
    return at_zero_value


def _elu(x, alpha=Fraction(1), **_):
    if x > 0:
        return x
    return float(alpha) * math.expm1(float(x))


def _elu_d(x, alpha=Fraction(1), at_zero_value=None, **_):
    if x > 0:
        return 1 + 0 * x
    if x == 0 and at_zero_value is not None:
        return at_zero_value
    return float(alpha) * math.exp(float(x))


def _positive(name):
    def check(params):
        return None if params[name] > 0 else f"{name} must be > 0, got {params[name]}"
    return check


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


# -- derivatives written out, as `derive` prints them ----------------------------------------------


def _w_identity(x, y, mul, params):
    return Const(1), "id'(x) = 1"


def _w_relu(x, y, mul, params):
    return indicator(x), "ReLU'(x) = 1{x > 0} (the Heaviside step; 0 at 0 by convention)"


def _w_leaky(x, y, mul, params):
    return (indicator(x) + Const(params["slope"]) * indicator(x, "<="),
            "LeakyReLU'(x) = 1 if x > 0, the slope otherwise")


def _w_sigmoid(x, y, mul, params):
    return mul(y, Const(1) - y), "sigmoid'(x) = sigmoid(x)(1 - sigmoid(x))"


def _w_tanh(x, y, mul, params):
    return Const(1) - mul(y, y), "tanh'(x) = 1 - tanh(x)^2"


def _w_elu(x, y, mul, params):
    alpha = Const(params["alpha"])
    exp = call("exp", r"\exp", x)
    return (indicator(x) + mul(alpha * exp, indicator(x, "<=")),
            "ELU'(x) = 1 if x > 0, alpha exp(x) otherwise")


def _vec(name):
    """A numpy ufunc by name, imported only when a float array needs it."""
    def fn(a):
        import numpy as np

        return getattr(np, name)(a)
    return fn


ELEMENTWISE: dict[str, Elementwise] = {e.key: e for e in (
    Elementwise("identity", "id", r"\operatorname{id}", lambda x, **_: x, _one, True,
                derivative_text="id'(x) = 1", aliases=("linear_act", "none"), written=_w_identity,
                vectorized=lambda a: a, vectorized_d=lambda a: a * 0 + 1),
    Elementwise("relu", "ReLU", r"\operatorname{ReLU}", _relu,
                _step(Fraction(0)), True, kink=Fraction(0),
                derivative_text="ReLU'(x) = 1 if x > 0, 0 if x < 0", written=_w_relu,
                mistakes=(RELU_PRIME_AT_ZERO, RELU_PRIME_ONE_ZERO, DEAD_RELU), vectorized=lambda a: a * (a > 0),
                vectorized_d=lambda a: (a > 0) * 1.0),
    Elementwise("leaky_relu", "LeakyReLU", r"\operatorname{LeakyReLU}", _leaky, _leaky_d, True,
                params={"slope": Fraction(1, 100)}, kink=Fraction(0), aliases=("leakyrelu",),
                derivative_text="LeakyReLU'(x) = 1 if x > 0, slope if x < 0", written=_w_leaky,
                mistakes=kink_sides(_leaky_d, lambda slope=Fraction(1, 100), **_: slope, lambda **_: 1)),
    Elementwise("elu", "ELU", r"\operatorname{ELU}", _elu, _elu_d, False,
                params={"alpha": Fraction(1)}, kink=Fraction(0), check_params=_positive("alpha"),
                derivative_text="ELU'(x) = 1 if x > 0, alpha exp(x) if x < 0", written=_w_elu,
                mistakes=kink_sides(_elu_d, lambda alpha=Fraction(1), **_: alpha, lambda **_: 1)),
    Elementwise("sigmoid", "sigmoid", r"\sigma", _sigmoid, _sigmoid_d, False,
                derivative_text="sigmoid'(x) = sigmoid(x)(1 - sigmoid(x))", aliases=("logistic",),
                written=_w_sigmoid, uses_output=True,
                vectorized=_np_sigmoid, vectorized_d=_np_sigmoid_d),
    Elementwise("tanh", "tanh", r"\tanh", lambda x, **_: math.tanh(float(x)),
                lambda x, **_: 1.0 - math.tanh(float(x)) ** 2, False,
                derivative_text="tanh'(x) = 1 - tanh(x)^2", written=_w_tanh, uses_output=True,
                vectorized=_vec("tanh"), vectorized_d=lambda a: 1.0 - _vec("tanh")(a) ** 2),
    Elementwise("softplus", "Softplus", r"\operatorname{Softplus}", _softplus,
                lambda x, beta=1, **_: _sigmoid(float(beta) * float(x)), False,
                params={"beta": Fraction(1)}, check_params=_positive("beta"),
                derivative_text="Softplus'(x) = sigmoid(beta x), Softplus(x) = log(1 + exp(beta x)) / beta"),
    Elementwise("gelu", "GELU", r"\operatorname{GELU}", _gelu, _gelu_d, False,
                derivative_text="GELU(x) = x Phi(x), GELU'(x) = Phi(x) + x phi(x) (exact erf form, "
                                "PyTorch's default)"),
    Elementwise("gelu_tanh", "GELU_tanh", r"\operatorname{GELU}_{\tanh}", _gelu_tanh, _gelu_tanh_d, False,
                aliases=("gelu_approx",),
                derivative_text="GELU_tanh(x) = x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), the tanh "
                                "approximation (PyTorch's gelu(approximate='tanh'))"),
    Elementwise("exp", "exp", r"\exp", lambda x, **_: math.exp(float(x)),
                lambda x, **_: math.exp(float(x)), False, domain=_exp_domain,
                derivative_text="exp'(x) = exp(x)", vectorized=_vec("exp"), vectorized_d=_vec("exp")),
    Elementwise("log", "log", r"\log", lambda x, **_: math.log(float(x)),
                lambda x, **_: 1 / x if isinstance(x, Fraction) else 1.0 / x, False,
                domain=_log_domain, derivative_text="log'(x) = 1/x (natural log)", aliases=("ln",)),
    Elementwise("sqrt", "sqrt", r"\sqrt", _sqrt, _sqrt_d, True, domain=_sqrt_domain,
                derivative_text="sqrt'(x) = 1 / (2 sqrt(x))"),
    Elementwise("abs", "abs", r"\operatorname{abs}", lambda x, **_: abs(x), _sign, True,
                kink=Fraction(0), derivative_text="abs'(x) = sign(x), 0 at 0",
                mistakes=kink_sides(_sign, lambda **_: -1, lambda **_: 1)),
)}


def register(entry: Elementwise | Loss) -> None:
    """Add an entry to its table (or replace the entry of that key)."""
    table: dict[str, Any] = ELEMENTWISE if isinstance(entry, Elementwise) else LOSSES
    table[entry.key] = entry


def unregister(key: str, loss: bool = False) -> None:
    (LOSSES if loss else ELEMENTWISE).pop(key, None)


def _spellings(table: dict) -> dict[str, str]:
    out = {}
    for key, entry in table.items():
        out[key] = key
        for alias in entry.aliases:
            out[alias] = key
    return out


def function_names() -> list[str]:
    """Every name a spec may use for an element-wise function (keys first, then aliases)."""
    return list(_spellings(ELEMENTWISE))


def lookup(name: str) -> Elementwise | None:
    key = name.strip().lower()
    return ELEMENTWISE.get(_spellings(ELEMENTWISE).get(key, key))


# ---------------------------------------------------------------------------------------------
# Losses. Each maps (yhat, y) column vectors to a scalar; `grad` is dL/dyhat in gradient layout.
# Entries with parameters (Huber's delta) are bound with `with_params` from the spec.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GradientFactorSlip:
    """A mistake a loss admits: its gradient off by a constant factor (MSE's 2 dropped), or by a
    factor of the number K of outputs (MSE's 1/K dropped). Grading re-runs the backward loop
    with the loss's gradient times that factor (a factor 1 at this K changes nothing: skipped)."""

    key: str
    title: str
    where: str
    factor: Fraction | Callable[[int], Fraction]

    def factor_at(self, K: int) -> Fraction:
        return self.factor(K) if callable(self.factor) else self.factor


@dataclass(frozen=True)
class Loss:
    """One loss: its value, its gradient in yhat, and how both print."""

    key: str
    text: str
    exact: bool
    value: Callable          # value(yhat: list, y: list, **params) -> number
    grad: Callable           # grad(yhat: list, y: list, **params) -> list
    formula: Callable        # formula(yhat: Expr, y: Expr, K: int, scalar: bool, **params) -> Expr
    grad_formula: Callable   # the same for dL/dyhat (gradient layout)
    domain: Callable | None = None
    needs_probabilities: bool = False
    aliases: tuple[str, ...] = ()
    params: dict = field(default_factory=dict)   # parameter name -> default
    bound: dict = field(default_factory=dict)    # the values in use (defaults until bound)
    check_params: Callable | None = None
    mistakes: tuple[GradientFactorSlip, ...] = ()
    functions: Callable | None = None   # (**params) -> {printed name: numpy function} for the
    #                                     names its formulas print (Huber_1, clip_1): derive's check

    def named_functions(self) -> dict[str, Callable]:
        """What the function names in this loss's printed formulas compute, on float arrays."""
        return self.functions(**self._p()) if self.functions else {}

    def with_params(self, given: dict) -> Loss:
        """This loss with its parameters set; ValueError for an unknown name or a bad value."""
        unknown = [k for k in given if k not in self.params]
        if unknown:
            takes = ", ".join(self.params) or "no parameter"
            raise ValueError(f"loss '{self.key}' has no parameter '{unknown[0]}' (it takes: {takes})")
        bound = {**self.params, **given}
        msg = self.check_params(bound) if self.check_params else None
        if msg:
            raise ValueError(msg)
        return replace(self, bound=bound)

    def _p(self) -> dict:
        return {**self.params, **self.bound}

    def evaluate(self, yh: list, y: list):
        return self.value(yh, y, **self._p())

    def gradient(self, yh: list, y: list) -> list:
        return self.grad(yh, y, **self._p())

    def formula_of(self, yh: Expr, y: Expr, K: int, scalar: bool) -> Expr:
        return self.formula(yh, y, K, scalar, **self._p())

    def grad_formula_of(self, yh: Expr, y: Expr, K: int, scalar: bool) -> Expr:
        return self.grad_formula(yh, y, K, scalar, **self._p())

    @property
    def description(self) -> str:
        if not self.params:
            return self.text
        from hwsolve.core.numfmt import fmt_number

        return self.text + " (" + ", ".join(f"{k} = {fmt_number(v)}" for k, v in self._p().items()) + ")"


def _sq(yh, y):
    return sum((b - a) * (b - a) for a, b in zip(yh, y, strict=True))


def _k(K):
    return Fraction(1, K)


def _sqf(scale):
    def formula(yh: Expr, y: Expr, K: int, scalar: bool, **_) -> Expr:
        core = (y - yh) ** Const(2) if scalar else norm2(yh - y)
        c = scale(K)
        return core if c == 1 else Const(c) * core
    return formula


def _sqg(coef):
    def formula(yh: Expr, y: Expr, K: int, scalar: bool, **_) -> Expr:
        return Const(coef(K)) * (yh - y) if coef(K) != 1 else (yh - y)
    return formula


def _bce_value(yh, y, **_):
    K = len(yh)
    total = 0.0
    for p, t in zip(yh, y, strict=True):
        p, t = float(p), float(t)
        total += -(t * math.log(p) if t else 0.0) - ((1 - t) * math.log(1 - p) if t != 1 else 0.0)
    return total / K


def _bce_grad(yh, y, **_):
    K = len(yh)
    return [(float(p) - float(t)) / (float(p) * (1 - float(p))) / K for p, t in zip(yh, y, strict=True)]


def _prob_domain(yh, y):
    for p in yh:
        if not 0 < float(p) < 1:
            return f"BCE needs every prediction strictly between 0 and 1, got {float(p):.6g}"
    return None


def _ce_domain(yh, y):
    for p, t in zip(yh, y, strict=True):
        if t and not float(p) > 0:
            return f"cross-entropy needs a positive probability where the target is nonzero, got {p}"
    return None


def _log(e: Expr) -> Expr:
    return call("log", r"\log", e)


def _bce_formula(yh, y, K, scalar, **_):
    one = Const(1)
    inner = y.odot(_log(yh)) + (one - y).odot(_log(one - yh)) if not scalar else \
        y * _log(yh) + (one - y) * _log(one - yh)
    core = -inner if scalar else -sumover(inner)
    return core if K == 1 else Const(_k(K)) * core


def _bce_grad_formula(yh, y, K, scalar, **_):
    one = Const(1)
    g = (yh - y) / (yh * (one - yh)) if scalar else hdiv(yh - y, yh.odot(one - yh))
    return g if K == 1 else Const(_k(K)) * g


def _ce_formula(yh, y, K, scalar, **_):
    return -(y * _log(yh)) if scalar else -sumover(y.odot(_log(yh)))


def _ce_grad_formula(yh, y, K, scalar, **_):
    return -(y / yh) if scalar else -hdiv(y, yh)


def _bce_logits_value(z, y, **_):
    # PyTorch's BCEWithLogitsLoss: log(1 + e^z) - y z, written without overflow (max(z, 0) + log1p(e^-|z|))
    total = 0.0
    for a, t in zip(z, y, strict=True):
        a, t = float(a), float(t)
        total += max(a, 0.0) + math.log1p(math.exp(-abs(a))) - t * a
    return total / len(z)


def _bce_logits_grad(z, y, **_):
    K = len(z)
    return [(_sigmoid(a) - float(t)) / K for a, t in zip(z, y, strict=True)]


def _bce_logits_formula(yh, y, K, scalar, **_):
    sp = call("Softplus", r"\operatorname{Softplus}", yh)
    core = sp - y * yh if scalar else sumover(sp - y.odot(yh))
    return core if K == 1 else Const(_k(K)) * core


def _bce_logits_grad_formula(yh, y, K, scalar, **_):
    g = call("sigmoid", r"\sigma", yh) - y
    return g if K == 1 else Const(_k(K)) * g


def _bce_logits_functions(**_) -> dict[str, Callable]:
    return {"Softplus": _np_softplus, "sigmoid": _np_sigmoid}


def _np_softplus(a):
    import numpy as np

    return np.logaddexp(0.0, a)


def _huber_value(yh, y, delta=Fraction(1), **_):
    total: Any = 0
    for a, b in zip(yh, y, strict=True):
        r = abs(a - b)
        total += r * r / 2 if r <= delta else delta * (r - delta / 2)
    return total / len(yh)


def _huber_grad(yh, y, delta=Fraction(1), **_):
    K = len(yh)
    out = []
    for a, b in zip(yh, y, strict=True):
        r = a - b
        out.append(r / K if abs(r) <= delta else (delta if r > 0 else -delta) / K)
    return out


def _per_entry_loss_formula(name: str, parameter, yh, y, K, scalar):
    """name_parameter(yhat - y), summed over the entries and scaled by 1/K: Huber's and Smooth L1's
    formula (one function applied to each residual)."""
    from hwsolve.core.numfmt import fmt_number
    from hwsolve.core.sym import latex_number

    tag = fmt_number(parameter)
    h = call(f"{name}_{tag}", rf"\operatorname{{{name}}}_{{{latex_number(parameter)}}}", yh - y)
    core = h if scalar else sumover(h)
    return core if K == 1 else Const(_k(K)) * core


def _huber_formula(yh, y, K, scalar, delta=Fraction(1), **_):
    return _per_entry_loss_formula("Huber", delta, yh, y, K, scalar)


def _huber_grad_formula(yh, y, K, scalar, delta=Fraction(1), **_):
    from hwsolve.core.numfmt import fmt_number
    from hwsolve.core.sym import latex_number

    g = call(f"clip_{fmt_number(delta)}", rf"\operatorname{{clip}}_{{{latex_number(delta)}}}", yh - y)
    return g if K == 1 else Const(_k(K)) * g


def _huber_functions(delta=Fraction(1), **_) -> dict[str, Callable]:
    from hwsolve.core.numfmt import fmt_number

    d, tag = float(delta), fmt_number(delta)

    def huber(a):
        import numpy as np

        r = np.abs(a)
        return np.where(r <= d, r * r / 2, d * (r - d / 2))

    def clip(a):
        import numpy as np

        return np.clip(a, -d, d)

    return {f"Huber_{tag}": huber, f"clip_{tag}": clip}


def _smooth_l1_value(yh, y, beta=Fraction(1), **_):
    # PyTorch's SmoothL1Loss: Huber with delta = beta, divided by beta (so the linear part has slope 1)
    total: Any = 0
    for a, b in zip(yh, y, strict=True):
        r = abs(a - b)
        total += r * r / (2 * beta) if r < beta else r - beta / 2
    return total / len(yh)


def _smooth_l1_grad(yh, y, beta=Fraction(1), **_):
    K = len(yh)
    out = []
    for a, b in zip(yh, y, strict=True):
        r = a - b
        out.append(r / beta / K if abs(r) < beta else (0 * r + (1 if r > 0 else -1)) / K)
    return out


def _smooth_l1_formula(yh, y, K, scalar, beta=Fraction(1), **_):
    return _per_entry_loss_formula("SmoothL1", beta, yh, y, K, scalar)


def _smooth_l1_grad_formula(yh, y, K, scalar, beta=Fraction(1), **_):
    r = yh - y if beta == 1 else Const(Fraction(1) / beta) * (yh - y)
    g = call("clip_1", r"\operatorname{clip}_{1}", r)
    return g if K == 1 else Const(_k(K)) * g


def _smooth_l1_functions(beta=Fraction(1), **_) -> dict[str, Callable]:
    from hwsolve.core.numfmt import fmt_number

    bt, tag = float(beta), fmt_number(beta)

    def smooth(a):
        import numpy as np

        r = np.abs(a)
        return np.where(r < bt, r * r / (2 * bt), r - bt / 2)

    def clip(a):
        import numpy as np

        return np.clip(a, -1.0, 1.0)

    return {f"SmoothL1_{tag}": smooth, "clip_1": clip}


def _hinge_value(yh, y, margin=Fraction(1), **_):
    # the SVM hinge, labels y in {-1, +1}: mean over the K outputs of max(0, margin - y yhat)
    return sum((max(margin - b * a, 0 * a) for a, b in zip(yh, y, strict=True)), 0 * yh[0]) / len(yh)


def _hinge_grad(yh, y, margin=Fraction(1), **_):
    # at the hinge (margin - y yhat = 0) the derivative is taken as 0, as ReLU'(0) and autograd's relu
    K = len(yh)
    return [-b / K if margin - b * a > 0 else 0 * a for a, b in zip(yh, y, strict=True)]


def _pos(e: Expr) -> Expr:
    return call("pos", r"\operatorname{pos}", e)


def _hinge_formula(yh, y, K, scalar, margin=Fraction(1), **_):
    inner = Const(margin) - (y * yh if scalar else y.odot(yh))
    core = _pos(inner) if scalar else sumover(_pos(inner))
    return core if K == 1 else Const(_k(K)) * core


def _hinge_grad_formula(yh, y, K, scalar, margin=Fraction(1), **_):
    inner = Const(margin) - (y * yh if scalar else y.odot(yh))
    step = call("pos'", r"\operatorname{pos}'", inner)
    g = -(y * step) if scalar else -(y.odot(step))
    return g if K == 1 else Const(_k(K)) * g


def _hinge_functions(**_) -> dict[str, Callable]:
    def pos(a):
        import numpy as np

        return np.maximum(a, 0.0)

    def pos_d(a):
        return (a > 0) * 1.0

    return {"pos": pos, "pos'": pos_d}


FACTOR2_DROPPED = GradientFactorSlip(
    "factor2_dropped", "factor 2 of the squared-error derivative dropped",
    "gradients under a squared-error loss (L = (y - yhat)^2, MSE)", Fraction(1, 2))
FACTOR2_DOUBLED = GradientFactorSlip(
    "factor2_doubled", "factor 2 of the squared-error derivative doubled",
    "gradients under any squared-error loss", Fraction(2))

MEAN_DROPPED = GradientFactorSlip(
    "output_mean_dropped", "1/K of the mean over the outputs dropped",
    "gradients under a loss averaged over K > 1 outputs (mse, half_mse, bce, huber)", lambda K: Fraction(K))
MEAN_ADDED = GradientFactorSlip(
    "output_mean_added", "divided by the number of outputs where the loss sums them",
    "gradients under a summed squared error with K > 1 outputs", lambda K: Fraction(1, K))
HALF_FOR_MEAN = GradientFactorSlip(
    "half_for_mean", "1/2 used where MSE's 1/K is due",
    "gradients under mse with K > 2 outputs (the 1/2 ||yhat - y||^2 convention's yhat - y for 2/K (yhat - y))",
    lambda K: Fraction(K, 2))


LOSSES: dict[str, Loss] = {loss.key: loss for loss in (
    Loss("squared_error", "squared error (y - yhat)^2, summed over outputs = ||yhat - y||^2", True,
         lambda yh, y, **_: _sq(yh, y), lambda yh, y, **_: [2 * (a - b) for a, b in zip(yh, y, strict=True)],
         _sqf(lambda K: 1), _sqg(lambda K: 2), aliases=("se", "sse", "l2"),
         mistakes=(FACTOR2_DROPPED, FACTOR2_DOUBLED, MEAN_ADDED)),
    Loss("half_squared_error", "half squared error 1/2 ||yhat - y||^2", True,
         lambda yh, y, **_: _sq(yh, y) / 2, lambda yh, y, **_: [(a - b) for a, b in zip(yh, y, strict=True)],
         _sqf(lambda K: Fraction(1, 2)), _sqg(lambda K: 1), mistakes=(FACTOR2_DOUBLED, MEAN_ADDED)),
    Loss("mse", "mean squared error 1/K ||yhat - y||^2", True,
         lambda yh, y, **_: _sq(yh, y) / len(yh),
         lambda yh, y, **_: [2 * (a - b) / len(yh) for a, b in zip(yh, y, strict=True)],
         _sqf(_k), _sqg(lambda K: Fraction(2, K)), aliases=("mean_squared_error",),
         mistakes=(FACTOR2_DROPPED, FACTOR2_DOUBLED, MEAN_DROPPED, HALF_FOR_MEAN)),
    Loss("half_mse", "half mean squared error 1/(2K) ||yhat - y||^2", True,
         lambda yh, y, **_: _sq(yh, y) / (2 * len(yh)),
         lambda yh, y, **_: [(a - b) / len(yh) for a, b in zip(yh, y, strict=True)],
         _sqf(lambda K: Fraction(1, 2 * K)), _sqg(_k), mistakes=(FACTOR2_DOUBLED, MEAN_DROPPED)),
    Loss("huber", "Huber loss averaged over the K outputs: r^2/2 where |r| <= delta, "
         "delta (|r| - delta/2) beyond (r = yhat - y)", True,
         _huber_value, _huber_grad, _huber_formula, _huber_grad_formula,
         params={"delta": Fraction(1)}, check_params=_positive("delta"), functions=_huber_functions,
         mistakes=(MEAN_DROPPED,)),
    # not an alias of huber: PyTorch's SmoothL1Loss(beta) is HuberLoss(delta=beta) / beta, the same
    # only at beta = delta = 1 (found by tools/torch_reference.py)
    Loss("smooth_l1", "smooth L1 loss (PyTorch's SmoothL1Loss) averaged over the K outputs: "
         "r^2 / (2 beta) where |r| < beta, |r| - beta/2 beyond (r = yhat - y); Huber_beta / beta", True,
         _smooth_l1_value, _smooth_l1_grad, _smooth_l1_formula, _smooth_l1_grad_formula,
         params={"beta": Fraction(1)}, check_params=_positive("beta"), aliases=("smoothl1",),
         functions=_smooth_l1_functions, mistakes=(MEAN_DROPPED,)),
    # named svm_hinge, not hinge: the tests keep "hinge" as their example of an unknown loss name
    Loss("svm_hinge", "SVM hinge loss averaged over the K outputs: max(0, margin - y yhat), labels y = -1 or +1 "
         "(pos(r) = max(r, 0); pos'(0) taken as 0)", True,
         _hinge_value, _hinge_grad, _hinge_formula, _hinge_grad_formula,
         params={"margin": Fraction(1)}, check_params=_positive("margin"), functions=_hinge_functions,
         mistakes=(MEAN_DROPPED,)),
    Loss("bce", "binary cross-entropy averaged over the K outputs", False,
         _bce_value, _bce_grad, _bce_formula, _bce_grad_formula, _prob_domain, True,
         aliases=("binary_cross_entropy",), mistakes=(MEAN_DROPPED,)),
    # the logits' form (PyTorch's BCEWithLogitsLoss, the usual training loss): yhat is z, no sigmoid layer;
    # finite where bce on a saturated sigmoid (yhat rounded to 1) is refused
    Loss("bce_with_logits", "binary cross-entropy on logits z (PyTorch's BCEWithLogitsLoss) averaged over the K "
         "outputs: Softplus(z) - y z = -[y log sigmoid(z) + (1 - y) log(1 - sigmoid(z))]", False,
         _bce_logits_value, _bce_logits_grad, _bce_logits_formula, _bce_logits_grad_formula,
         aliases=("bce_logits", "binary_cross_entropy_with_logits", "bcewithlogits"),
         functions=_bce_logits_functions, mistakes=(MEAN_DROPPED,)),
    Loss("cross_entropy", "cross-entropy -sum y_i log p_i (p from a softmax layer)", False,
         lambda yh, y, **_: -sum(float(t) * math.log(float(p)) for p, t in zip(yh, y, strict=True) if t),
         lambda yh, y, **_: [(-float(t) / float(p)) if t else 0.0 for p, t in zip(yh, y, strict=True)],
         _ce_formula, _ce_grad_formula, _ce_domain, True, aliases=("ce", "crossentropy", "nll")),
)}


def loss_names() -> list[str]:
    return list(_spellings(LOSSES))


def lookup_loss(name: str) -> Loss | None:
    key = name.strip().lower()
    return LOSSES.get(_spellings(LOSSES).get(key, key))
