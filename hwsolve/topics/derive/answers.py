"""Answers in the symbols a sheet allows (``answer_in``): intermediates substituted away.

Seed 002 1.2(b)/(c) allows only x, y, W^(1), b^(1), W^(2), b^(2) and three given Jacobians in
the answer. The derivation's own steps name intermediates (z_1, z_2, yhat, dz_3/dz_2); here every
symbol that is not allowed is replaced by what defines it (its forward formula, or its Jacobian's
rule) until only allowed symbols remain. ``id(z)`` and identity Jacobians are dropped on the way,
as a student would. The results are checked like every other formula (`solve.check`).
"""

from __future__ import annotations

from hwsolve.core.errors import HwsolveError
from hwsolve.core.records import Solution, Step
from hwsolve.core.sym import Apply, Const, Expr, Symbol

MAX_ROUNDS = 60   # substitution depth: more than any network derive accepts (50 layers)


def definitions(sol: Solution) -> dict[str, Expr]:
    """Symbol text -> what defines it: forward formulas and the Jacobians' rules."""
    from hwsolve.topics.derive.numeric import Eye

    table: dict[str, Expr] = {}
    for s in sol.steps:
        if s.section == "forward" and s.formula is not None:
            table[s.label.text if s.label is not None else s.name] = s.formula
        elif s.section == "jacobians" and s.formula is not None:
            table[s.name] = s.formula
        elif s.section == "jacobians" and isinstance(s.expression, Eye):
            table[s.name] = s.expression
    return table


def rewrite(e: Expr, allowed: set[str], table: dict[str, Expr]) -> Expr:
    """`e` with every symbol outside `allowed` replaced by its definition, then tidied."""
    for _ in range(MAX_ROUNDS):
        out = _tidy(_substitute(e, allowed, table))
        if out == e:
            return out
        e = out
    raise HwsolveError("answer_in: the substitutions do not end (a symbol defined by itself?)")


def _substitute(e: Expr, allowed: set[str], table: dict[str, Expr]) -> Expr:
    from hwsolve.core.sym import Indicator
    from hwsolve.topics.derive.numeric import Eye

    if isinstance(e, (Indicator, Eye)):  # kept whole: symbols_in reports an indicator's argument
        return e
    if isinstance(e, Symbol):
        text = e.text
        if text.startswith("(") and text.endswith(")") and text[1:-1] in table:
            text = text[1:-1]   # gradient layout's bracketed Jacobian, (dv/du)^T
        if text in allowed or text not in table:
            return e
        return table[text]
    if isinstance(e, Apply):
        return Apply(e.op, tuple(_substitute(a, allowed, table) for a in e.args), e.fn)
    return e


def _tidy(e: Expr) -> Expr:
    """id(z) -> z, diag(id'(z)) -> I, and identity factors dropped from products."""
    from hwsolve.topics.derive.numeric import Eye

    if not isinstance(e, Apply):
        return e
    args = tuple(_tidy(a) for a in e.args)
    if e.op == "call" and e.fn is not None and e.fn[0] == "id":
        return args[0]
    if e.op == "call" and e.fn is not None and e.fn[0] == "diag" and isinstance(args[0], Apply) \
            and args[0].op == "call" and args[0].fn is not None and args[0].fn[0] == "id'":
        return Eye("I", "I")
    if e.op in ("matmul", "mul"):
        if isinstance(args[1], Eye) or args[1] == Const(1):
            return args[0]
        if isinstance(args[0], Eye) or args[0] == Const(1):
            return args[1]
    return Apply(e.op, args, e.fn)


def symbols_in(e: Expr) -> set[str]:
    from hwsolve.core.sym import Indicator
    from hwsolve.topics.derive.numeric import Eye

    if isinstance(e, Indicator):
        return {e.arg.text}
    if isinstance(e, Eye):
        return set()
    if isinstance(e, Symbol):   # gradient layout's (dv/du)^T is the symbol dv/du
        bracketed = e.text.startswith("(") and e.text.endswith(")") and "/" in e.text
        return {e.text[1:-1] if bracketed else e.text}
    if isinstance(e, Apply):
        return set().union(*(symbols_in(a) for a in e.args)) if e.args else set()
    return set()


ANSWER_SUFFIX = " in allowed symbols"


def answer_steps(sol: Solution, allowed: list[str], sizes: set[str]) -> list[Step]:
    """One step per forward value and per gradient in the summary, in the allowed symbols only."""
    table = definitions(sol)
    ok = set(allowed) | sizes
    out: list[Step] = []
    for s in sol.steps:
        if s.section == "forward" and s.formula is not None:
            label = s.label.text if s.label is not None else s.name
            if label in ok:
                continue
            out.append(_answer(s, s.formula, ok, table, "answers_forward"))
    for name in sol.summary:
        chain = next((s for s in sol.steps if s.section == "chain" and s.name == name), None)
        if chain is None:
            continue
        out.append(_answer(chain, chain.chain, ok, table, "answers_backward"))
    return out


def _answer(s: Step, form: Expr, ok: set[str], table: dict[str, Expr], section: str) -> Step:
    e = rewrite(form, ok, table)
    extra = sorted(symbols_in(e) - ok)
    if extra:
        raise HwsolveError(f"answer_in: {s.name} cannot be written without {', '.join(extra)} "
                           "(add it to answer_in, or a definition of it to the network)")
    from hwsolve.core.sym import to_text

    value = to_text(e) if section == "answers_backward" else None   # the summary table's answer
    # a name of its own: step names are the keys of JSON and answer files, one step each
    return Step(f"{s.name}{ANSWER_SUFFIX}", section, formula=e, value=value, shape=s.shape, label=s.label,
                note="only " + ", ".join(sorted(symbols_in(e))) + " appear")
