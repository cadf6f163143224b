"""spec.expr trees to sympy and back to display symbols: sympy never sees text (issue 13).

`to_sympy` walks a tree built by hwsolve's own parser (`spec.expr.parse`) and builds the sympy
expression node by node; no string ever reaches sympify or parse_expr. `shown` wraps a sympy
expression as a display `Symbol` whose text and LaTeX are sympy's own printouts, so the renderers
print it like any other formula. sympy is imported inside the functions (start-up stays light).
"""

from __future__ import annotations

from hwsolve.core.errors import HwsolveError
from hwsolve.core.sym import Symbol
from hwsolve.spec import expr as E

MAX_NODES = 400   # a bound on the work sympy is given
MAX_EXPONENT = 1000        # a numeric exponent larger than this is refused before sympy computes it
MAX_BITS = 4096            # a number**number whose result would need more bits is refused
TIME_LIMIT = 20            # seconds of sympy work per problem (where signals are available)


class Sigmoid:
    """The logistic function as an unevaluated sympy function, built on first use."""

    _cls = None

    @classmethod
    def get(cls):
        if cls._cls is None:
            import sympy

            class sigma(sympy.Function):  # noqa: N801  (prints as \sigma)
                @classmethod
                def eval(cls, arg):  # safe: sympy's Function.eval hook, not Python's eval
                    return None

                def _eval_rewrite_as_exp(self, arg, **kwargs):
                    return 1 / (1 + sympy.exp(-arg))

                def fdiff(self, argindex=1):
                    s = sigma(self.args[0])
                    return s * (1 - s)

            cls._cls = sigma
        return cls._cls


def symbols_of(node) -> dict:
    import sympy

    return {n: sympy.Symbol(n.replace("[", "_").replace("]", ""), real=True) for n in E.names(node)}


def to_sympy(node, table: dict | None = None):
    """The sympy expression of a spec.expr tree (names become real sympy Symbols)."""
    import sympy

    table = table if table is not None else symbols_of(node)
    count = [0]

    def walk(n):
        count[0] += 1
        if count[0] > MAX_NODES:
            raise HwsolveError(f"expression has more than {MAX_NODES} parts; the limit keeps sympy quick")
        if isinstance(n, E.Num):
            return sympy.Rational(n.value.numerator, n.value.denominator)
        if isinstance(n, E.Name):
            return table[n.name]
        if isinstance(n, E.Unary):
            return -walk(n.arg)
        if isinstance(n, E.Bin):
            a, b = walk(n.left), walk(n.right)
            if n.op == "^":
                _check_power(a, b)
            return {"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b, "/": lambda: a / b,
                    "^": lambda: a ** b}[n.op]()
        if isinstance(n, E.Call):
            return _call(n.fn, [walk(a) for a in n.args])
        raise HwsolveError(f"internal: not an expression node: {n!r}")

    return walk(node)


def _check_power(base, exponent) -> None:
    """Refuse a power sympy would spend minutes or gigabytes on (2^(2^40) is computed eagerly)."""
    import math

    if not exponent.is_Number:
        return
    if abs(exponent) > MAX_EXPONENT:
        raise HwsolveError(f"an exponent of {exponent} is beyond the limit {MAX_EXPONENT}")
    if base.is_Number and base != 0 and abs(exponent) * math.log2(abs(float(base)) + 2) > MAX_BITS:
        raise HwsolveError(f"the power {base}^{exponent} is too large to work with exactly")


def time_limit():
    """Stop sympy after TIME_LIMIT seconds with a one-line error, within the run's own budget."""
    from hwsolve.core.budget import time_budget

    return time_budget(TIME_LIMIT, f"gave up after {TIME_LIMIT} s of symbolic work; simplify the expression")


# the functions this bridge can hand to sympy (one argument each), besides min and max
SYMBOLIC_FUNCTIONS = ("exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu")


def parse_symbolic(text):
    """hwsolve's own grammar, with the functions this bridge can translate (never sympify)."""
    from hwsolve.spec import expr as E

    return E.parse(text, {name: (1, 1) for name in SYMBOLIC_FUNCTIONS})


def _call(fn: str, args: list):
    import sympy

    one = {"exp": sympy.exp, "log": sympy.log, "sqrt": sympy.sqrt, "abs": sympy.Abs, "tanh": sympy.tanh,
           "sigmoid": Sigmoid.get(), "relu": lambda u: sympy.Max(0, u)}
    assert set(one) == set(SYMBOLIC_FUNCTIONS)
    if fn in one:
        return one[fn](*args)
    if fn in ("min", "max"):
        return (sympy.Min if fn == "min" else sympy.Max)(*args)
    raise HwsolveError(f"the function {fn} has no symbolic form here")


def shown(e) -> Symbol:
    """A sympy expression as a display symbol: sympy's text and LaTeX printouts."""
    import sympy

    return Symbol(sympy.sstr(e).replace("**", "^"), sympy.latex(e))
