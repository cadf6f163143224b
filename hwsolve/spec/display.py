"""Read back the plain-text form that `core.sym.to_text` prints: the printers' own grammar.

It exists so the printers can be tested against a parser (print a tree, read it back, get the
same tree): a formula that reads two ways, such as ``a ⊙ b x^T``, cannot pass. It is kept apart
from `spec.expr` (the graph-spec language, which must stay small and strict for strangers' text)
because the display language has things a spec never needs: juxtaposition for matrix products,
``⊙``/``⊘``, postfix ``^T``, primed function names (``ReLU'(z)``) and ``||x||^2``.

    sum      := product (('+' | '-') product)*
    product  := signed ((('*' | '/' | '⊙' | '⊘') signed) | juxtaposed)*
    juxtaposed := signed written after a space (a matrix product ``W x``), or ``(`` right after a
                number (the coefficient ``2(yhat - y)``)
    signed   := '-' signed | postfix
    postfix  := atom ['^T' | '^' atom]
    atom     := NUMBER | NAME | NAME '(' sum (',' sum)* ')' | '(' sum ')' | '||' sum '||^2'

Whitespace matters in exactly the two places the printer makes it matter: ``f(x)`` is a call and
``W (x + y)`` a product; ``2(a + b)`` is the coefficient form of ``2 * (a + b)``. Text never reaches
Python: this is a recursive-descent parser over a regular tokenizer, bounded in length and depth.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from hwsolve.spec.expr import MAX_DEPTH, MAX_LENGTH, ExprError

_TOKEN = re.compile(r"""
    (?P<num>[0-9]+)
  | (?P<name>[A-Za-z][A-Za-z0-9_]*(?:\[[A-Za-z0-9]+\])?'*)
  | (?P<op>\|\||\^T(?![A-Za-z0-9_\[])|[-+*/⊙⊘^(),])
""", re.VERBOSE)

_BINARY = {"*": "mul", "/": "div", "⊙": "hadamard", "⊘": "hdiv"}


@dataclass(frozen=True)
class _Tok:
    kind: str      # "num" | "name" | "op" | "end"
    text: str
    col: int       # 1-based
    spaced: bool   # whitespace before it


def _tokenize(text: str) -> list[_Tok]:
    if len(text) > MAX_LENGTH:
        raise ExprError(f"expression is {len(text)} characters long; the limit is {MAX_LENGTH}")
    toks: list[_Tok] = []
    i, spaced = 0, False
    while i < len(text):
        if text[i] == " ":
            i, spaced = i + 1, True
            continue
        m = _TOKEN.match(text, i)
        if not m:
            raise ExprError(f"unexpected character {text[i]!r}", i + 1)
        kind = m.lastgroup
        assert kind is not None, "every alternative of _TOKEN is a named group"
        toks.append(_Tok(kind, m.group(), i + 1, spaced))
        i, spaced = m.end(), False
    toks.append(_Tok("end", "", len(text) + 1, spaced))
    return toks


def parse_display(text: str, functions: dict[str, str] | None = None):
    """The `core.sym` tree of a printed formula. `functions` maps call names to their LaTeX."""
    parser = _Parser(_tokenize(text), functions or {})
    tree = parser.sum()
    if parser.tok.kind != "end":
        raise ExprError(f"unexpected '{parser.tok.text}' after a complete expression", parser.tok.col)
    return tree


class _Parser:
    def __init__(self, toks: list[_Tok], functions: dict[str, str]):
        self.toks, self.i, self.depth, self.functions = toks, 0, 0, functions

    @property
    def tok(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        self.i += 1
        return self.toks[self.i - 1]

    def at(self, text: str) -> bool:
        return self.tok.kind == "op" and self.tok.text == text

    def expect(self, text: str) -> None:
        if not self.at(text):
            raise ExprError(f"expected '{text}', found '{self.tok.text or 'the end'}'", self.tok.col)
        self.take()

    def nested(self, parse, col: int):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExprError(f"expression nested deeper than {MAX_DEPTH} levels", col)
        out = parse()
        self.depth -= 1
        return out

    def sum(self):
        from hwsolve.core.sym import Apply

        e = self.product()
        while self.at("+") or self.at("-"):
            op = "add" if self.take().text == "+" else "sub"
            e = Apply(op, (e, self.product()))
        return e

    def product(self):
        from hwsolve.core.sym import Apply, Const

        e = self.signed()
        while True:
            t = self.tok
            if t.kind == "op" and t.text in _BINARY:
                self.take()
                e = Apply(_BINARY[t.text], (e, self.signed()))
            elif self.at("(") and not t.spaced and isinstance(e, Const):
                e = Apply("mul", (e, self.atom()))       # the coefficient form 2(yhat - y)
            elif t.spaced and (t.kind in ("name", "num") or self.at("(") or self.at("||")):
                e = Apply("matmul", (e, self.signed()))
            else:
                return e

    def signed(self):
        from hwsolve.core.sym import Apply

        if self.at("-"):
            col = self.take().col
            return Apply("neg", (self.nested(self.signed, col),))
        return self.postfix()

    def postfix(self):
        from hwsolve.core.sym import Apply

        base = self.atom()
        if self.at("^T"):
            self.take()
            return Apply("T", (base,))
        if self.at("^"):
            self.take()
            return Apply("pow", (base, self.atom()))
        return base

    def atom(self):
        from hwsolve.core.sym import Apply, Const, Symbol, call

        t = self.take()
        if t.kind == "num":
            return Const(int(t.text)) if t.text.isdigit() else Const(Fraction(t.text))
        if t.kind == "name" and self.at("(") and not self.tok.spaced:
            return call(t.text, self.functions.get(t.text, t.text), *self.nested(self.arguments, t.col))
        if t.kind == "name":
            return Symbol(t.text)
        if t.text == "(":
            e = self.nested(self.sum, t.col)
            self.expect(")")
            return e
        if t.text == "||":
            e = self.nested(self.sum, t.col)
            self.expect("||")
            self.expect("^")
            if self.take().text != "2":
                raise ExprError("expected ||x||^2", t.col)
            return Apply("norm2", (e,))
        raise ExprError(f"expected a number, a name or '(', found '{t.text or 'the end'}'", t.col)

    def arguments(self) -> list:
        self.expect("(")
        args = [self.sum()]
        while self.at(","):
            self.take()
            args.append(self.sum())
        self.expect(")")
        return args
