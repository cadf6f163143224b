"""The expression language of graph specs: its own tokenizer and recursive-descent parser.

Grammar (see docs/graph-spec.md)::

    expr    := term (('+' | '-') term)*
    term    := unary (('*' | '/' | '@') unary)*  # @ is the matrix product, * and / entry by entry
    unary   := ('-' | '+') unary | power
    power   := postfix ('^' unary)?           # right-associative; -x^2 is -(x^2)
    postfix := atom ('.T')*                   # transpose: x.T is transpose(x)
    atom    := NUMBER | NAME | NAME '(' args ')' | '(' expr ')'
    args    := arg (',' arg)*
    arg     := expr | 'axis' '=' ['-'] digits   # the one keyword argument
    NUMBER  := digits ['.' digits] [('e'|'E') ['+'|'-'] digits]      (exact: 0.1 is 1/10)
    NAME    := letter (letter | digit | '_')* ['[' (letter | digit)+ ']']

The text is never handed to Python: no eval, exec, compile, sympify or parse_expr. Anything
outside the grammar (quotes, dots after a name, ``**``, ``lambda``, ``__import__``, ...) is a
`ExprError` naming the column. Length and nesting are bounded before any work is done.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction

from hwsolve.spec.numbers import parse_number

MAX_LENGTH = 2000    # characters in one expression
MAX_DEPTH = 40       # nested parentheses, calls, unary signs and powers
MAX_DIGITS = 60      # characters in one number

# The grammar's own functions -> (minimum, maximum) number of arguments. The element-wise
# functions (sigmoid, relu, ...) come from the rule table: the caller passes them to `parse`
# (this layer does not import the engine).
FUNCTIONS: dict[str, tuple[int, int]] = {"min": (2, 16), "max": (2, 16)}


class ExprError(ValueError):
    """Text that is not an expression of the language; `col` is 1-based, or None."""

    def __init__(self, message: str, col: int | None = None):
        super().__init__(message)
        self.message = message
        self.col = col

    def __str__(self) -> str:
        return self.message + (f" (column {self.col})" if self.col else "")


# -- the tree ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Num:
    value: Fraction


@dataclass(frozen=True)
class Name:
    name: str
    col: int = 0


@dataclass(frozen=True)
class Unary:
    op: str          # "-"
    arg: object


@dataclass(frozen=True)
class Bin:
    op: str          # "+", "-", "*", "/", "^"
    left: object
    right: object


@dataclass(frozen=True)
class Call:
    fn: str
    args: tuple
    col: int = 0
    kwargs: tuple = ()   # ((name, value), ...): only ("axis", int) today


def names(node) -> list[str]:
    """The names an expression reads, in order of first appearance."""
    out: list[str] = []

    def walk(n):
        if isinstance(n, Name):
            if n.name not in out:
                out.append(n.name)
        elif isinstance(n, Unary):
            walk(n.arg)
        elif isinstance(n, Bin):
            walk(n.left)
            walk(n.right)
        elif isinstance(n, Call):
            for a in n.args:
                walk(a)

    walk(node)
    return out


MAX_FOLD_BITS = 10_000  # an exact constant larger than this is not folded (9^64^64 would never end)


def fold(tree) -> Fraction | None:
    """The exact value of an expression made of numbers only (+ - * / and whole powers up to 64),
    or None when it names anything, divides by zero or grows past MAX_FOLD_BITS. Its own
    arithmetic on the tree, never Python's eval: `1/2 * x`'s 1/2 in a graph spec, an answer
    written "2*(8-10)" in grading."""
    if isinstance(tree, Num):
        return tree.value
    if isinstance(tree, Unary):
        v = fold(tree.arg)
        return None if v is None else -v
    if not isinstance(tree, Bin):
        return None
    a, b = fold(tree.left), fold(tree.right)
    if a is None or b is None:
        return None
    if tree.op == "+":
        out = a + b
    elif tree.op == "-":
        out = a - b
    elif tree.op == "*":
        out = a * b
    elif tree.op == "/":
        if b == 0:
            return None
        out = a / b
    elif tree.op == "^" and b.denominator == 1 and abs(b) <= 64 and not (a == 0 and b < 0):
        out = a ** int(b)
    else:
        return None
    return out if max(out.numerator.bit_length(), out.denominator.bit_length()) <= MAX_FOLD_BITS else None


# -- tokens -----------------------------------------------------------------------------------

_NUMBER = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*(?:\[[A-Za-z0-9]+\])?")
_SPACE = re.compile(r"[ \t]+")
_DIGITS = frozenset("0123456789")
_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


@dataclass(frozen=True)
class Tok:
    kind: str      # "num" | "name" | "op" | "end"
    text: str
    col: int       # 1-based


def tokenize(text: str) -> list[Tok]:
    if len(text) > MAX_LENGTH:
        raise ExprError(f"expression is {len(text)} characters long; the limit is {MAX_LENGTH}")
    toks: list[Tok] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        m = _SPACE.match(text, i)
        if m:
            i = m.end()
            continue
        if c in _DIGITS or (c == "." and i + 1 < n and text[i + 1] in _DIGITS):
            toks.append(_number_token(text, i))
            i += len(toks[-1].text)
            continue
        if c in _LETTERS:
            toks.append(_name_token(text, i))
            i += len(toks[-1].text)
            continue
        if c == "_":
            m = re.compile(r"_+[A-Za-z0-9_]*").match(text, i)
            assert m is not None  # text[i] is "_"
            raise ExprError(f"'{m.group()}' is not a name: names start with a letter, and "
                            "expressions cannot reach Python (no dunder names)", i + 1)
        if text.startswith("**", i):
            raise ExprError("'**' is not an operator here: write powers with '^' (x^2)", i + 1)
        matrix_tok = _matrix_token(text, i, toks)
        if matrix_tok:
            toks.append(matrix_tok)
            i += len(matrix_tok.text)
            continue
        if c in "+-*/^(),":
            toks.append(Tok("op", c, i + 1))
            i += 1
            continue
        if c in "'\"`":
            raise ExprError("quotes are not part of the expression language (no strings)", i + 1)
        if c in ":;=[]{}.@!<>|&%~#\\$?":
            what = {":": "lambdas and slices", "=": "assignment", ".": "attribute access",
                    "[": "indexing", "{": "dicts and sets", ";": "statements"}.get(c)
            extra = f" ({what} are not supported)" if what else ""
            raise ExprError(f"unexpected character '{c}'{extra}", i + 1)
        raise ExprError(f"unexpected character {c!r}", i + 1)
    toks.append(Tok("end", "", n + 1))
    return toks


def _name_token(text: str, i: int) -> Tok:
    """The name starting at i; Python keywords, attribute access and odd indexes are refused."""
    m = _NAME.match(text, i)
    if m is None:
        raise ExprError(f"expected a name, got {text[i]!r}", i + 1)
    word = m.group()
    if keyword.iskeyword(word) or keyword.issoftkeyword(word):
        raise ExprError(f"'{word}' is Python, not part of the expression language; "
                        "expressions cannot run code", i + 1)
    j = m.end()
    if j < len(text) and text[j] == "." and not _transpose_at(text, j):
        raise ExprError(f"'{word}.' : attribute access is not part of the expression "
                        "language; expressions cannot reach Python objects", j + 1)
    if j < len(text) and text[j] == "[":
        raise ExprError(f"'{word}[' : an index must be letters or digits, like W1[2]", j + 1)
    return Tok("name", word, i + 1)


def _transpose_at(text: str, j: int) -> bool:
    """`.T` at j, not followed by more of a name: the transpose postfix (x.T, (a + b).T)."""
    return text.startswith(".T", j) and not (j + 2 < len(text) and (text[j + 2] in _LETTERS
                                                                     or text[j + 2] in _DIGITS
                                                                     or text[j + 2] == "_"))


def _matrix_token(text: str, i: int, toks: list[Tok]) -> Tok | None:
    """The tokens of matrix expressions: '@', postfix '.T', and '=' of a keyword argument."""
    c = text[i]
    if c == "@":
        return Tok("op", "@", i + 1)
    after_operand = toks and (toks[-1].kind == "name" or toks[-1].text in (")", ".T"))
    if c == "." and after_operand and _transpose_at(text, i):
        return Tok("op", ".T", i + 1)
    keyword_place = len(toks) >= 2 and toks[-1].kind == "name" and toks[-2].text in ("(", ",")
    if c == "=" and keyword_place and not text.startswith("==", i):
        return Tok("op", "=", i + 1)
    return None


# -- parser -----------------------------------------------------------------------------------

def _number_token(text: str, i: int) -> Tok:
    """The number starting at text[i] (a digit, or '.' before a digit)."""
    m = _NUMBER.match(text, i)
    assert m is not None  # the caller saw a digit
    if m.end() - i > MAX_DIGITS:
        raise ExprError(f"number longer than {MAX_DIGITS} characters", i + 1)
    try:
        parse_number(m.group())  # bounds the exponent before Fraction builds 1e999999999
    except (ValueError, ZeroDivisionError) as e:
        raise ExprError(str(e), i + 1) from None
    if m.end() < len(text) and (text[m.end()] in _LETTERS or text[m.end()] in "_."):
        raise ExprError(f"cannot read '{text[i:m.end() + 1]}': write a product with '*' "
                        "(2*x, not 2x)", i + 1)
    return Tok("num", m.group(), i + 1)


def parse(text, functions: Mapping[str, tuple[int, int]] | None = None) -> object:
    """The tree of one expression; numbers (YAML ints/fractions) are accepted as they are.

    `functions`: the function names allowed in calls, with their (minimum, maximum) number of
    arguments, besides the grammar's own min and max.
    """
    if isinstance(text, bool) or text is None:
        raise ExprError("expected an expression (text such as 'W1 * (X1 + X2)')")
    if isinstance(text, (int, Fraction)):
        return Num(Fraction(text))
    if isinstance(text, float):
        raise ExprError("write the number as text so it stays exact, e.g. '0.1' or '1/3'")
    if not isinstance(text, str):
        raise ExprError("expected an expression (text such as 'W1 * (X1 + X2)')")
    if not text.strip():
        raise ExprError("empty expression")
    return _Parser(tokenize(text), {**FUNCTIONS, **(functions or {})}).run()


class _Parser:
    def __init__(self, toks: list[Tok], functions: Mapping[str, tuple[int, int]]):
        self.functions = functions
        self.toks = toks
        self.i = 0
        self.depth = 0

    @property
    def tok(self) -> Tok:
        return self.toks[self.i]

    def take(self) -> Tok:
        t = self.toks[self.i]
        self.i += 1
        return t

    def at(self, text: str) -> bool:
        return self.tok.kind == "op" and self.tok.text == text

    def expect(self, text: str, what: str) -> Tok:
        if not self.at(text):
            raise ExprError(f"expected {what}, found {_found(self.tok)}", self.tok.col)
        return self.take()

    def deeper(self, col: int):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExprError(f"expression nested deeper than {MAX_DEPTH} levels", col)

    def run(self):
        e = self.expr()
        if self.tok.kind != "end":
            t = self.tok
            hint = " (a call is name(...); a product needs '*')" if t.text == "(" else ""
            raise ExprError(f"unexpected {_found(t)} after a complete expression{hint}", t.col)
        return e

    def expr(self):
        e = self.term()
        while self.at("+") or self.at("-"):
            op = self.take().text
            e = Bin(op, e, self.term())
        return e

    def term(self):
        e = self.unary()
        while self.at("*") or self.at("/") or self.at("@"):
            op = self.take().text
            e = Bin(op, e, self.unary())
        return e

    def unary(self):
        if self.at("-") or self.at("+"):
            t = self.take()
            self.deeper(t.col)
            arg = self.unary()
            self.depth -= 1
            return Unary("-", arg) if t.text == "-" else arg
        return self.power()

    def power(self):
        base = self.postfix()
        if self.at("^"):
            t = self.take()
            self.deeper(t.col)
            e = Bin("^", base, self.unary())
            self.depth -= 1
            return e
        return base

    def atom(self):
        t = self.tok
        if t.kind == "num":
            self.take()
            return Num(Fraction(t.text))
        if t.kind == "name":
            self.take()
            if self.at("("):
                return self.call(t)
            return Name(t.text, t.col)
        if self.at("("):
            self.take()
            self.deeper(t.col)
            e = self.expr()
            self.expect(")", f"')' to close the '(' at column {t.col}")
            self.depth -= 1
            return e
        raise ExprError(f"expected a number, a name or '(', found {_found(t)}", t.col)

    def call(self, name: Tok):
        fn = name.text
        if fn not in self.functions:
            import difflib

            close = difflib.get_close_matches(fn.lower(), sorted(self.functions), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ExprError(f"unknown function '{fn}'{hint}; the functions are: "
                            f"{', '.join(self.functions)}", name.col)
        open_ = self.take()
        self.deeper(open_.col)
        args, kwargs = self.arguments(fn)
        self.expect(")", f"',' or ')' in the call to {fn}")
        self.depth -= 1
        lo, hi = self.functions[fn]
        if not lo <= len(args) <= hi:
            want = str(lo) if lo == hi else f"{lo} to {hi}"
            raise ExprError(f"{fn} takes {want} argument{'s' if hi > 1 else ''}, got {len(args)}",
                            name.col)
        return Call(fn, tuple(args), name.col, kwargs)

    # -- matrix expressions: transpose postfix and keyword arguments ---------------------------

    def postfix(self):
        e = self.atom()
        while self.at(".T"):
            t = self.take()
            e = Call("transpose", (e,), t.col)
        return e

    def arguments(self, fn: str) -> tuple[list, tuple]:
        """Positional arguments, then keyword ones (axis=0); a positional after a keyword is an error."""
        args: list = []
        kwargs: list[tuple[str, int]] = []
        while True:
            if self.tok.kind == "name" and self.toks[self.i + 1].text == "=":
                kwargs.append(self.keyword(fn, [k for k, _ in kwargs]))
            elif kwargs:
                raise ExprError(f"a positional argument after a keyword one in the call to {fn}",
                                self.tok.col)
            else:
                args.append(self.expr())
            if not self.at(","):
                return args, tuple(kwargs)
            self.take()

    def keyword(self, fn: str, seen: list[str]) -> tuple[str, int]:
        key = self.take()
        self.take()  # '='
        if key.text != "axis":
            raise ExprError(f"unknown keyword argument '{key.text}' in the call to {fn} (only axis=)",
                            key.col)
        if key.text in seen:
            raise ExprError(f"axis= is given twice in the call to {fn}", key.col)
        sign = -1 if self.at("-") and self.take() else 1
        t = self.tok
        if t.kind != "num" or not t.text.isdigit():
            raise ExprError(f"axis= takes a whole number (axis=0 down each column, axis=1 along "
                            f"each row), found {_found(t)}", t.col)
        self.take()
        return "axis", sign * int(t.text)


def _found(t: Tok) -> str:
    return "the end of the expression" if t.kind == "end" else f"'{t.text}'"
