"""A small display-expression tree and its two printers (plain text and LaTeX).

The engines build these trees for formulas, chain-rule forms and substitutions; renderers print
them. It is deliberately not sympy: printing a derivation must not pay sympy's import time, and
the trees must print exactly the operations a student writes (transposes, element-wise
products, ``ReLU'(a[3])``), not a simplified canonical form.

    >>> from hwsolve.core.sym import Symbol, Const, call
    >>> e = Symbol("W[1]", "W^{[1]}") @ Symbol("z[0]", "z^{[0]}") + Symbol("b[1]", "b^{[1]}")
    >>> to_text(e)
    'W[1] z[0] + b[1]'
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from hwsolve.core.numfmt import DEFAULT_PRECISION, MAX_EXACT_DIGITS, fmt_float, fmt_number
from hwsolve.core.tuplememo import entries, remember

# Binding strength: larger binds tighter.
ATOM, POSTFIX, POW, NEG, MUL, ADD, REL = 100, 90, 80, 70, 60, 50, 10


class Expr:
    """Base of the tree. Operators build trees; they never compute."""

    def __add__(self, other): return Apply("add", (self, lift(other)))
    def __radd__(self, other): return Apply("add", (lift(other), self))
    def __sub__(self, other): return Apply("sub", (self, lift(other)))
    def __rsub__(self, other): return Apply("sub", (lift(other), self))
    def __mul__(self, other): return Apply("mul", (self, lift(other)))
    def __rmul__(self, other): return Apply("mul", (lift(other), self))
    def __matmul__(self, other): return Apply("matmul", (self, lift(other)))
    def __truediv__(self, other): return Apply("div", (self, lift(other)))
    def __rtruediv__(self, other): return Apply("div", (lift(other), self))
    def __neg__(self): return Apply("neg", (self,))
    def __pow__(self, other): return Apply("pow", (self, lift(other)))

    @property
    def T(self): return Apply("T", (self,))

    def odot(self, other): return Apply("hadamard", (self, lift(other)))

    def __str__(self): return to_text(self)


@dataclass(frozen=True, eq=True)
class Symbol(Expr):
    """A named quantity: ``text`` is ASCII (``W[1]``), ``latex`` its typeset form (``W^{[1]}``)."""

    text: str
    latex: str = ""

    def __str__(self): return self.text


@dataclass(frozen=True, eq=True)
class Const(Expr):
    """A number, or a vector / matrix as nested tuples (depth 1 = column vector)."""

    value: Any

    def __str__(self): return to_text(self)


@dataclass(frozen=True, eq=True)
class Apply(Expr):
    """An operation. ``op`` is a key of `OPS`, or ``call`` with ``fn`` = (text name, latex name)."""

    op: str
    args: tuple
    fn: tuple | None = None  # for op == "call": (text, latex); prime marks a derivative

    def __str__(self): return to_text(self)


def lift(x) -> Expr:
    return x if isinstance(x, Expr) else Const(x)


def call(text: str, latex: str, *args) -> Apply:
    """A named function applied to arguments: ``call("ReLU'", r"\\operatorname{ReLU}'", a)``."""
    return Apply("call", tuple(lift(a) for a in args), (text, latex))


DOTS = Symbol("...", r"\cdots")   # the terms of a long sum or product left out


def sum_of(terms, shown: int | None = None) -> Expr:
    """t1 + t2 + ...; with `shown`, at most that many terms written: the first ones, `...`, the
    last (a 1000-layer table's total: every term would make a tree too deep to print)."""
    terms = list(terms)
    if shown is not None and len(terms) > shown:
        terms = [*terms[:shown - 2], DOTS, terms[-1]]
    out = terms[0]
    for t in terms[1:]:
        out = out + t
    return out


def diag(x) -> Apply:
    return call("diag", r"\operatorname{diag}", x)


def hdiv(a, b) -> Apply:
    """Element-wise division a ⊘ b."""
    return Apply("hdiv", (lift(a), lift(b)))


def norm2(x) -> Apply:
    return Apply("norm2", (lift(x),))


def sumover(x) -> Apply:
    return Apply("sum", (lift(x),))


def ceil(x) -> Apply:
    """The least integer >= x, printed ceil(x) / \\lceil x \\rceil."""
    return Apply("ceil", (lift(x),))


# op -> (precedence, text format, latex format). "{0}" / "{1}" are the printed operands.
OPS: dict[str, tuple[int, str, str]] = {
    "add": (ADD, "{0} + {1}", "{0} + {1}"),
    "sub": (ADD, "{0} - {1}", "{0} - {1}"),
    "mul": (MUL, "{0} * {1}", r"{0} \cdot {1}"),
    "matmul": (MUL, "{0} {1}", "{0} {1}"),
    "hadamard": (MUL, "{0} ⊙ {1}", r"{0} \odot {1}"),
    "div": (MUL, "{0} / {1}", r"\frac{{{0}}}{{{1}}}"),
    "hdiv": (MUL, "{0} ⊘ {1}", r"{0} \oslash {1}"),
    "neg": (NEG, "-{0}", "-{0}"),
    "pow": (POW, "{0}^{1}", "{0}^{{{1}}}"),
    "T": (POSTFIX, "{0}^T", r"{0}^\top"),
    "norm2": (ATOM, "||{0}||^2", r"\left\lVert {0} \right\rVert^2"),
    "sum": (ATOM, "sum({0})", r"\sum {0}"),
    "eq": (REL, "{0} = {1}", "{0} = {1}"),
    "call": (ATOM, "{f}({args})", r"{f}\left({args}\right)"),
    "ceil": (ATOM, "ceil({0})", r"\left\lceil {0} \right\rceil"),
}


class _Printer:
    latex = False

    def __init__(self, precision: int = DEFAULT_PRECISION):
        self.precision = precision
        # id -> (operation, its text): a chain-rule expansion holds the one above it as a subtree
        # (the same object), and a layer's formulas reappear in the steps below it
        self._printed: dict[int, tuple[Apply, str]] = {}

    def __call__(self, e: Expr) -> str:
        return self.print(e)

    def print(self, e: Expr) -> str:
        if isinstance(e, Symbol):
            return (e.latex or e.text) if self.latex else e.text
        if isinstance(e, Const):
            return self.const(e.value)
        if isinstance(e, Apply):
            found = self._printed.get(id(e))
            if found is not None and found[0] is e:
                return found[1]
            text = self.apply(e)
            self._printed[id(e)] = (e, text)
            return text
        raise TypeError(f"not an expression: {e!r}")

    def prec(self, e: Expr) -> int:
        if isinstance(e, Apply):
            return OPS[e.op][0]
        if isinstance(e, Const) and _is_negative(e.value):
            return NEG
        if isinstance(e, Const) and not self.latex and _is_fraction_text(e.value):
            return MUL
        return ATOM

    def operand(self, e: Expr, need: int, strict: bool = False) -> str:
        s = self.print(e)
        p = self.prec(e)
        if p < need or (strict and p == need):
            return (r"\left(" + s + r"\right)") if self.latex else "(" + s + ")"
        return s

    def base(self, e: Expr) -> str:
        """The base of a transpose or power; in text a name with its own superscript is bracketed,
        (W^(2))^T, never W^(2)^T (LaTeX braces it instead: render.latex._braced)."""
        if not self.latex and isinstance(e, Symbol) and "^" in e.text and not e.text.startswith("("):
            return "(" + e.text + ")"
        return self.operand(e, ATOM)

    def apply(self, e: Apply) -> str:
        prec, tfmt, lfmt = OPS[e.op]
        fmt = lfmt if self.latex else tfmt
        a = e.args
        if e.op in _BRACKETS:
            return fmt.format(self.print(a[0]))
        if e.op == "call":
            assert e.fn is not None  # every call node is built with its (text, LaTeX) name
            args = ", ".join(self.print(x) for x in a)
            return fmt.format(f=e.fn[1] if self.latex else e.fn[0], args=args)
        if e.op in ("norm2", "sum", "ceil"):
            return fmt.format(self.print(a[0]))
        if e.op == "eq":
            return fmt.format(self.print(a[0]), self.print(a[1]))
        if e.op == "neg":
            return fmt.format(self.operand(a[0], NEG + 1))
        if e.op == "T":
            return fmt.format(self.base(a[0]))
        if e.op == "pow":
            exp = self.print(a[1]) if self.latex else self.operand(a[1], ATOM)
            return fmt.format(self.base(a[0]), exp)
        if e.op == "div" and self.latex:
            return fmt.format(self.print(a[0]), self.print(a[1]))
        if e.op == "mul" and isinstance(a[0], Const) and not _is_negative(a[0].value) \
                and isinstance(a[1], Apply) and a[1].op in ("add", "sub"):
            # a coefficient before a bracket is written 2(yhat - y), as students do
            return self.print(a[0]) + self.operand(a[1], MUL)
        # Products of different kinds never chain unbracketed: (V^T u) ⊙ f'(z) as the sheets write
        # it, and ((V^T u) ⊙ f'(z)) x^T, which read without brackets as a dimension error.
        left = self.operand(a[0], prec, strict=_mixes_products(e.op, a[0]))
        right = self.operand(a[1], prec, strict=e.op in _RIGHT_STRICT)
        if self.prec(a[1]) == NEG and not (self.latex and e.op == "div"):
            right = self.operand(a[1], ATOM)  # 5 - (-3), never 5 - -3
        return fmt.format(left, right)

    def const(self, v) -> str:
        if isinstance(v, tuple):
            return self.array(v)
        return self.number(v)

    def number(self, v) -> str:
        return fmt_number(v, self.precision)

    def array(self, v: tuple) -> str:
        if type(self) is _Printer:  # a subclass may print differently (or count what it prints)
            return remember(v, ("text", self.precision), self._array)
        return self._array(v)

    def _array(self, v: tuple) -> str:
        if _deeper_than_matrix(v):  # C x H x W (a conv layer's maps): one matrix per channel
            return "[" + ", ".join(self._array(part) for part in v) + "]"
        if v and isinstance(v[0], tuple):
            return "[" + ", ".join("[" + ", ".join(row) + "]" for row in self.rows(v)) + "]"
        return "[" + ", ".join(self.rows(v)[0]) + "]"

    def rows(self, value: tuple) -> list[list[str]]:
        """self.number of each entry of a vector (one row) or a matrix, row by row, each different
        number formatted once: a float by its value (0.0 and -0.0 print as 0), anything else by
        identity (a weight matrix repeats a few Fractions: the spec's number cache shares them).
        The analysis is shared with the other printers of the same big value (`tuplememo.entries`)."""
        nested = bool(value) and isinstance(value[0], tuple)
        found = entries(value)
        if found is None:  # ragged, or floats among Fractions: entry by entry
            return [[self.float_text(x) if x.__class__ is float else self.number(x) for x in row]
                    for row in (value if nested else (value,))]
        texts = found.map(self.float_text if found.keys is None else self.number)
        if not nested:
            return [texts]
        n = found.shape[-1]
        return [texts[start:start + n] for start in range(0, len(texts), n)]

    def float_text(self, x: float) -> str:
        """self.number of a float, for `numbers`: what fmt_number makes of it, without its cache (a
        subclass that prints differently goes through its own number)."""
        return fmt_float(x, self.precision) if type(self) is _Printer else self.number(x)


def _deeper_than_matrix(v: tuple) -> bool:
    """Three or more levels of nesting (a C x H x W map, an F x C x kh x kw kernel)."""
    return bool(v) and isinstance(v[0], tuple) and bool(v[0]) and isinstance(v[0][0], tuple)


_LATEX_NUMBERS: dict = {}  # (value key, precision) -> LaTeX text, as numfmt's cache of plain text


class _LatexPrinter(_Printer):
    latex = True

    def number(self, v) -> str:
        cls = v.__class__
        if cls is int and v.bit_length() <= MAX_EXACT_DIGITS * 3.32:  # longer: str() refuses; approximated below
            return str(v)
        # remembered like fmt_number's text: a big array is typeset more than once per output
        key = (v._numerator, v._denominator, self.precision) if cls is Fraction \
            else (cls, v, self.precision)  # slots: as numfmt.fmt_number
        try:
            return _LATEX_NUMBERS[key]
        except KeyError:
            cacheable = True
        except TypeError:  # an unhashable value, typeset without the cache
            cacheable = False
        text = self._number(v)
        if cacheable and len(_LATEX_NUMBERS) < 300_000:
            _LATEX_NUMBERS[key] = text
        return text

    def _number(self, v) -> str:
        if isinstance(v, Fraction) and v.denominator != 1 and "/" in fmt_number(v, self.precision):
            sign = "-" if v < 0 else ""
            return rf"{sign}\frac{{{abs(v.numerator)}}}{{{v.denominator}}}"
        s = fmt_number(v, self.precision)
        approx = s.startswith("≈")   # a rational too long to read, shown by its value
        s = s.lstrip("≈")
        if "e" in s and "inf" not in s:
            mant, _, ex = s.partition("e")
            s = rf"{mant} \times 10^{{{int(ex)}}}"
        return (r"\approx " if approx else "") + s.replace("inf", r"\infty")

    def array(self, v: tuple) -> str:
        if type(self) is _LatexPrinter:
            return remember(v, ("latex", self.precision), self._array)
        return self._array(v)

    def _array(self, v: tuple) -> str:
        if _deeper_than_matrix(v):  # C x H x W: a bracketed list of one matrix per channel
            return r"\left[ " + ", ".join(self._array(part) for part in v) + r" \right]"
        nested = bool(v) and isinstance(v[0], tuple)
        rows = [" & ".join(row) for row in self.rows(v)] if nested else self.rows(v)[0]
        return r"\begin{bmatrix} " + r" \\ ".join(rows) + r" \end{bmatrix}"

    def float_text(self, x: float) -> str:
        if type(self) is not _LatexPrinter:
            return self.number(x)
        text = fmt_float(x, self.precision)
        return self._number(x) if "e" in text or "i" in text else text  # 1e-08 and inf are typeset


# A right operand of the same precedence is bracketed: x + (y + z) is printed as built, so the text
# reads back as the same tree (tests/test_sym_printers.py).
_RIGHT_STRICT = frozenset({"add", "sub", "div", "hdiv", "mul", "matmul", "hadamard"})

# Products that may chain on the left without brackets: a * b / c, a ⊙ b ⊘ c, A B C.
_PRODUCT_FAMILY = {"mul": "scalar", "div": "scalar", "hadamard": "elementwise", "hdiv": "elementwise",
                   "matmul": "matrix", "times": "times", "mod": "mod"}


def _mixes_products(op: str, left: Expr) -> bool:
    """True when `left`, a product, is a different kind of product than `op` (brackets needed)."""
    if not (isinstance(left, Apply) and left.op in _PRODUCT_FAMILY and op in _PRODUCT_FAMILY):
        return False
    return _PRODUCT_FAMILY[left.op] != _PRODUCT_FAMILY[op]


def _is_negative(v) -> bool:
    if isinstance(v, tuple):
        return False
    try:
        return v < 0
    except TypeError:
        return False


def _is_fraction_text(v) -> bool:
    return isinstance(v, Fraction) and "/" in fmt_number(v)


def to_text(e: Expr, precision: int = DEFAULT_PRECISION) -> str:
    if isinstance(e, Symbol):  # as a printer prints one (a name, printed for every gradient's label)
        return e.text
    return _Printer(precision).print(lift(e))


def latex_number(v, precision: int = DEFAULT_PRECISION) -> str:
    """A number as LaTeX typesets it (a fraction, \\approx for a rational too long to read, a power
    of ten): for names built from a parameter, LeakyReLU_{0.1} or clip_{\\approx 0.1235}, where the
    text's ≈ would stop pdflatex."""
    return _LatexPrinter(precision).number(v)


def to_latex(e: Expr, precision: int = DEFAULT_PRECISION) -> str:
    if isinstance(e, Symbol):
        return e.latex or e.text
    return _LatexPrinter(precision).print(lift(e))


# Integer arithmetic for convolution sizes (issue 4): floor brackets, "x" between the dimensions
# of a volume (32 x 32 x 10), and the remainder of a division.
OPS.update({
    "floor": (ATOM, "floor({0})", r"\left\lfloor {0} \right\rfloor"),
    "times": (MUL, "{0} x {1}", r"{0} \times {1}"),
    "mod": (MUL, "{0} mod {1}", r"{0} \bmod {1}"),
})
_BRACKETS = frozenset({"floor"})  # one operand, printed inside its own brackets


def floor(x) -> Apply:
    """The greatest integer <= x, printed floor(x) / \\lfloor x \\rfloor."""
    return Apply("floor", (lift(x),))


def times(*dims) -> Expr:
    """Dimensions of a volume: ``times(32, 32, 10)`` prints 32 x 32 x 10."""
    out = lift(dims[0])
    for d in dims[1:]:
        out = Apply("times", (out, lift(d)))
    return out


def mod(a, b) -> Apply:
    """The remainder of a divided by b."""
    return Apply("mod", (lift(a), lift(b)))


@dataclass(frozen=True, eq=True)
class Indicator(Symbol):
    """1[x > 0] (or 1[x <= 0]) entry by entry: the derivative of ReLU, the Heaviside step."""

    arg: Any = None
    rel: str = ">"


def indicator(x: Symbol, rel: str = ">") -> Indicator:
    lrel = {">": ">", "<=": r"\le"}[rel]
    # text uses braces (as seed 003 Q2's I{z > 0}): rich would read "[z > 0]" as a style tag
    return Indicator(f"1{{{x.text} {rel} 0}}", rf"\mathbf{{1}}[{x.latex or x.text} {lrel} 0]", x, rel)
