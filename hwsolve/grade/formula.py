"""Formula answers: `dL/dW[2]: "dL/da[2] z[1]^T"`, `p1.n_out: "floor((n + 2p - k)/s) + 1"`.

The text goes through hwsolve's own tokenizer (`spec.expr.tokenize`: no eval, no sympify) after a
few rewrites that only make the answer's notation tokenizable: the key's step names (which hold
`/`, `[`, `^`) become placeholder names, `^T`/`ᵀ`/`^\\top` a transpose, `2p` the product `2*p`,
`relu'(` the call `relu_prime(`. The small parser below adds what answers need beyond the
graph-spec grammar: a product written by juxtaposition (`W x`), a postfix transpose, and the
functions of FUNCTIONS. Values are 2-D numpy object arrays of Fractions (a scalar is 1x1), so
the comparison with the key is exact; a product of non-scalars is the matrix product, and shapes
that do not fit are named (`2x3 times 2x1`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from hwsolve.spec.expr import ExprError, Tok, tokenize

MAX_FORMULA = 500           # characters in one formula answer
MAX_DEPTH = 30
MAX_BITS = 4096             # a power's result; products of bounded numbers stay small enough


class ShapeError(ValueError):
    """Operands whose shapes do not fit, in the student's terms."""


@dataclass(frozen=True)
class F:
    """A formula tree node: kind in num, name, neg, add, sub, mul, div, pow, T, call."""

    kind: str
    args: tuple = ()
    text: str = ""


# name -> number of arguments
# the formula language's own functions; every element-wise function of the rule table (and its
# derivative, written f_prime) is accepted too, by its table name (`_table_entry`)
FUNCTIONS = {"floor": 1, "ceil": 1, "transpose": 1, "sum": 1, "hadamard": 2, "min": 2, "max": 2}
_ALIASES = {"ReLU": "relu", "Relu": "relu", "H": "relu_prime", "step": "relu_prime"}


def _table_entry(fn: str):
    """(entry, derivative?) for a rule-table function written `f` or `f_prime`, else None."""
    from hwsolve.autodiff.functions import lookup

    base, prime = (fn[:-len("_prime")], True) if fn.endswith("_prime") else (fn, False)
    entry = lookup(base)
    return (entry, prime) if entry is not None else None


def _arity(fn: str) -> int | None:
    if fn in FUNCTIONS:
        return FUNCTIONS[fn]
    return 1 if _table_entry(fn) is not None else None


# -- text to tokens --------------------------------------------------------------------------------


def rewrite(text: str, names: list[str]) -> tuple[str, dict[str, str]]:
    """Text the tokenizer reads, and placeholder -> step name for the names it replaced."""
    if len(text) > MAX_FORMULA:
        raise ExprError(f"formula is {len(text)} characters long; the limit is {MAX_FORMULA}")
    t = text.replace("ᵀ", "^T").replace("^\\top", "^T").replace("^{T}", "^T").replace("^{\\top}", "^T")
    t = t.replace("·", "*").replace("⋅", "*").replace("@", " ")
    places: dict[str, str] = {}
    # longest first (W[1] before W); ties by name, not set order: the placeholders, and so the
    # random points seeded by the parsed text, are the same in every process
    for i, name in enumerate(sorted(set(names), key=lambda n: (-len(n), n))):
        if not name or name.isidentifier() and "[" not in name:
            continue                           # plain names tokenize as they are
        pattern = r"(?<![A-Za-z0-9_])" + re.escape(name) + r"(?![A-Za-z0-9_\[])"
        ph = f"Qstep{i}Q"
        t, n = re.subn(pattern, ph, t)
        if n:
            places[ph] = name
    t = re.sub(r"([A-Za-z]\w*)'\s*\(", lambda m: f"{m.group(1)}_prime(", t)
    # 2p -> 2*p, 3(x) -> 3*(x); not the e of 1e-3
    t = re.sub(r"(?<![A-Za-z0-9_.])(\d+(?:\.\d+)?)(?=[A-DF-Za-df-z_(]|[eE](?![+-]?\d))", r"\1*", t)
    return t, places


def parse_formula(text: str, names: list[str]) -> tuple[F, dict[str, str]]:
    t, places = rewrite(text, names)
    return _Parser(tokenize(t)).run(), places


class _Parser:
    def __init__(self, toks: list[Tok]):
        self.toks, self.i, self.depth = toks, 0, 0

    @property
    def tok(self) -> Tok:
        return self.toks[self.i]

    def at(self, s: str) -> bool:
        return self.tok.kind == "op" and self.tok.text == s

    def take(self) -> Tok:
        t = self.toks[self.i]
        self.i += 1
        return t

    def run(self) -> F:
        e = self.expr()
        if self.tok.kind != "end":
            raise ExprError(f"unexpected '{self.tok.text}' after a complete formula", self.tok.col)
        return e

    def expr(self) -> F:
        e = self.term()
        while self.at("+") or self.at("-"):
            op = self.take().text
            e = F("add" if op == "+" else "sub", (e, self.term()))
        return e

    def term(self) -> F:
        e = self.unary()
        while True:
            if self.at("*") or self.at("/"):
                op = self.take().text
                e = F("mul" if op == "*" else "div", (e, self.unary()))
            elif self.tok.kind in ("num", "name") or self.at("("):
                e = F("mul", (e, self.unary()))          # juxtaposition: W x
            else:
                return e

    def unary(self) -> F:
        if self.at("-") or self.at("+"):
            sign = self.take().text
            self._deeper()
            arg = self.unary()
            self.depth -= 1
            return F("neg", (arg,)) if sign == "-" else arg
        return self.power()

    def power(self) -> F:
        e = self.atom()
        while self.at("^"):
            self.take()
            if self.tok.kind == "name" and self.tok.text == "T":
                self.take()
                e = F("T", (e,))
            else:
                self._deeper()
                e = F("pow", (e, self.unary()))
                self.depth -= 1
        return e

    def atom(self) -> F:
        t = self.tok
        if t.kind == "num":
            self.take()
            return F("num", text=t.text)
        if t.kind == "name":
            self.take()
            if self.at("(") and _arity(_ALIASES.get(t.text, t.text.lower())) is not None:
                return self.call(t)
            return F("name", text=t.text)           # z_2 (a + b): a product, not a call
        if self.at("("):
            self.take()
            self._deeper()
            e = self.expr()
            if not self.at(")"):
                raise ExprError("expected ')'", self.tok.col)
            self.take()
            self.depth -= 1
            return e
        raise ExprError(f"expected a number, a name or '(', found '{t.text or 'the end'}'", t.col)

    def call(self, t: Tok) -> F:
        fn = _ALIASES.get(t.text, t.text.lower())
        if _arity(fn) is None:
            raise ExprError(f"unknown function '{t.text}'; formulas may use {', '.join(FUNCTIONS)} and the "
                            "activations (relu, sigmoid, tanh, ..., and their derivatives as relu_prime, ...)", t.col)
        self.take()
        self._deeper()
        args = [self.expr()]
        while self.at(","):
            self.take()
            args.append(self.expr())
        if not self.at(")"):
            raise ExprError(f"expected ',' or ')' in the call to {t.text}", self.tok.col)
        self.take()
        self.depth -= 1
        if len(args) != _arity(fn):
            raise ExprError(f"{t.text} takes {_arity(fn)} argument(s), got {len(args)}", t.col)
        return F("call", tuple(args), fn)

    def _deeper(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExprError(f"formula nested deeper than {MAX_DEPTH} levels", self.tok.col)


def free_names(f: F) -> set[str]:
    if f.kind == "name":
        return {f.text}
    out: set[str] = set()
    for a in f.args:
        out |= free_names(a)
    return out


# -- evaluation on exact arrays ----------------------------------------------------------------------


def dims_text(a) -> str:
    m, n = a.shape
    return "a scalar" if (m, n) == (1, 1) else f"{m}x{n}"


def evaluate(f: F, env: dict):
    """The value of `f` with names from `env` (2-D object arrays of Fractions)."""
    import numpy as np

    k = f.kind
    if k == "num":
        return np.array([[Fraction(f.text)]], dtype=object)
    if k == "name":
        if f.text not in env:  # a text that is no formula of this key ("nan", "104 trials"): unreadable
            raise ExprError(f"unknown name '{f.text}'")
        return env[f.text]
    xs = [evaluate(a, env) for a in f.args]
    if k == "neg":
        return -xs[0]
    if k == "T":
        return xs[0].T
    if k in ("add", "sub"):
        a, b = _broadcast(xs[0], xs[1], "plus" if k == "add" else "minus")
        return a + b if k == "add" else a - b
    if k == "mul":
        return _product(xs[0], xs[1])
    if k == "div":
        if xs[1].shape != (1, 1):
            raise ShapeError(f"division by {dims_text(xs[1])}: only by a scalar")
        if xs[1][0, 0] == 0:
            raise ZeroDivisionError("division by zero")
        return xs[0] * Fraction(1) / xs[1][0, 0]
    if k == "pow":
        e = xs[1]
        if e.shape != (1, 1) or Fraction(e[0, 0]).denominator != 1 or not 0 <= e[0, 0] <= 64:
            raise ShapeError("powers must be whole numbers from 0 to 64")
        if xs[0].shape != (1, 1):
            raise ShapeError(f"power of {dims_text(xs[0])}: only of a scalar")
        base = Fraction(xs[0][0, 0])
        bits = max(base.numerator.bit_length(), base.denominator.bit_length())
        if bits * int(e[0, 0]) > MAX_BITS:
            raise ShapeError(f"a power too large to check (over {MAX_BITS} bits)")
        return np.array([[base ** int(e[0, 0])]], dtype=object)
    return _call(f.text, xs)


def _broadcast(a, b, what: str):
    if a.shape == b.shape:
        return a, b
    if a.shape == (1, 1) or b.shape == (1, 1):
        return a, b
    raise ShapeError(f"{dims_text(a)} {what} {dims_text(b)}: the shapes do not match")


def _product(a, b):
    if a.shape == (1, 1) or b.shape == (1, 1):
        return a * b
    if a.shape[1] == b.shape[0]:
        return a.dot(b)
    raise ShapeError(f"{dims_text(a)} times {dims_text(b)}: the inner sizes differ")


def _call(fn: str, xs: list):
    import math

    import numpy as np

    a = xs[0]
    if fn == "transpose":
        return a.T
    if fn == "sum":
        return np.array([[sum(a.flat, Fraction(0))]], dtype=object)
    if fn == "hadamard":
        return np.multiply(*_broadcast(a, xs[1], "element-wise times"))
    if fn in ("min", "max"):
        a, b = _broadcast(a, xs[1], fn)
        pick = min if fn == "min" else max
        return np.vectorize(pick, otypes=[object])(a, b)
    if fn in ("floor", "ceil"):
        rounding = math.floor if fn == "floor" else math.ceil
        return np.vectorize(lambda x: Fraction(rounding(x)), otypes=[object])(a)
    entry, prime = _table_entry(fn)  # the parser admitted only these
    f = entry.df if prime else entry.f
    from hwsolve.core import values as T

    return T.elementwise(lambda x: f(x, **entry.params), a, entry.exact)


# -- judging a formula answer against a key ------------------------------------------------------------


@dataclass
class Judgement:
    verdict: str            # correct | wrong | wrong_shape | missing (text that cannot be read)
    reason: str
    mistake: str = ""


def _array(v):
    import numpy as np

    return np.array([list(r) for r in v.rows], dtype=object)


def _value(a):
    from hwsolve.grade.answers import Value

    return Value(tuple(tuple(r) for r in a.tolist()))


def judge(key, name: str, text: str, match) -> Judgement:
    """A formula answer for step `name`: conv output sizes at the part's numbers and at random
    sizes against floor((n + 2p - d(k - 1) - 1)/s) + 1; symbolic keys at random points; any other
    step at the key's own values of the steps it names (the step itself excluded), compared with
    the key, and for backprop keys then at random points too (`_judge_at_random_points`)."""
    from hwsolve.grade.mistakes import same

    try:
        if key.kind == "conv" and name.endswith("n_out"):
            return _judge_conv_size(key, name, text)
        conv_part = _sheet_conv_part(key, name)
        if conv_part is not None:       # a sheet's conv part: its output sizes at random sizes too
            return _judge_conv_size(conv_part, name.split("/", 1)[1], text)
        if key.kind == "derive":
            return _judge_symbolic(key, name, text)
        names = [n for n in key.values if n != name]
        tree, places = parse_formula(text, names)
        env = {ph: _array(key.values[n]) for ph, n in places.items()}
        env.update({n: _array(key.values[n]) for n in names if n.isidentifier() and "[" not in n})
        env.pop(name, None)
        got = evaluate(tree, env)
    except ExprError as e:   # docs/grading.md: a value that cannot be read is missing
        return Judgement("missing", f"cannot read the formula: {e}")
    except ShapeError as e:
        return Judgement("wrong_shape", f"the formula does not fit: {e}")
    except (ArithmeticError, TypeError, ValueError, OverflowError) as e:
        return Judgement("wrong", f"cannot evaluate the formula: {e}")
    kv = key.values[name]
    val = _value(got)
    if same(val, kv, match):
        checked, failed = _judge_at_random_points(key, name, tree, places, False)
        return failed or Judgement("correct", "formula: right at the key's values" + _where_checked(checked))
    if same(_value(got.T), kv, match) and val.dims != kv.dims:
        checked, failed = _judge_at_random_points(key, name, tree, places, True)
        return failed or Judgement("wrong_shape", f"missing transpose: the formula gives {dims_text(got)} where "
                                   f"{dims_text(got.T)} is due", "transposed")
    if val.dims != kv.dims:
        return Judgement("wrong_shape", f"shape mismatch: the formula gives {dims_text(got)} where "
                         f"{dims_text(_array(kv))} is due", "wrong_shape")
    return Judgement("wrong", "formula: wrong value at the key's values")


# -- backprop keys: the formula at random points of the right shapes -------------------------------

RANDOM_POINTS = 8        # random points a formula must also be right at (after the key's own)


def _where_checked(random_points: int) -> str:
    if random_points:
        return f" and at {random_points} random points"
    return " (checked there only: this key cannot be recomputed at other values)"


def _judge_at_random_points(key, name: str, tree: F, places: dict, transposed: bool) -> tuple[int, Judgement | None]:
    """A formula right at the key's values, checked at RANDOM_POINTS random points: every input and
    parameter a random exact rational of its shape, every step recomputed by the key's own graph
    rules (`EcfModel.steps_at`), the formula evaluated on those steps. So a formula that agrees
    with the key only where the key's point does not look (a ReLU mask that is all ones, a
    target that happens to be 0) is wrong. None when the formula passes (the caller's verdict
    stands); the judgement when it fails; and how many points were checked (0 for a key without a
    graph, or a formula naming a step the graph cannot recompute: the key's point is all there is)."""
    import random

    found = _graph_of(key, name)
    if found is None:
        return 0, None
    model, prefix = found
    rng = random.Random(f"{name}:{_text(tree)}")   # not the path: a key gives the same verdicts on any clone
    checked = 0
    for _ in range(6 * RANDOM_POINTS):
        # redrawn: a point a rule cannot take (a log of a negative), and one where the step and the
        # formula are both all zeros (every ReLU above dead): any formula linear in the gradients agrees
        if checked == RANDOM_POINTS:
            break
        try:
            steps = {prefix + n: v for n, v in model.steps_at(model.random_values(rng)).items()}
            env = {ph: _array(steps[n]) for ph, n in places.items()}
            env.update({n: _array(v) for n, v in steps.items() if n.isidentifier() and "[" not in n and n != name})
            got, want = evaluate(tree, env), _array(steps[name])
        except (ShapeError, ExprError, KeyError):
            return 0, None   # a name the graph cannot recompute: the key's point is all there is
        except (ArithmeticError, TypeError, ValueError, OverflowError, *_failures()):
            continue
        if all(x == 0 for x in want.flat) and all(x == 0 for x in got.flat):
            continue
        checked += 1
        if not _agree(got.T if transposed else got, want):
            return checked, Judgement("wrong", "formula: right at the key's values but not in general (it "
                                      "differs from the key's rule at random values of the right shapes)")
    return checked, None


def _graph_of(key, name: str):
    """(EcfModel, step-name prefix) of the graph `name` belongs to: the key's own, or for a sheet
    the backprop part's (`P1/dL/dW[2]`, built once per key); None for a key without one."""
    if key.model is not None:
        return key.model, ""
    if key.kind != "sheet" or "/" not in name:
        return None
    pid = name.split("/", 1)[0]
    models = key.prepared.setdefault("formula_graphs", {})   # part id -> model (or None), once per key
    if pid not in models:
        from hwsolve.grade.ecf import EcfModel
        from hwsolve.topics.backprop.solve import compile_problem

        part = next((p for p in getattr(key.problem, "parts", []) if p.id == pid), None)
        models[pid] = EcfModel(compile_problem(part.problem)) if part and part.kind in ("network", "graph") else None
    return (models[pid], pid + "/") if models[pid] is not None else None


def _sheet_conv_part(key, name: str):
    """For `P4/p1.n_out` on a sheet: its conv part, as the key `_judge_conv_size` reads (path and
    problem); else None."""
    if key.kind != "sheet" or "/" not in name or not name.endswith("n_out"):
        return None
    from types import SimpleNamespace

    pid = name.split("/", 1)[0]
    part = next((p for p in getattr(key.problem, "parts", []) if p.id == pid), None)
    return SimpleNamespace(path=key.path, problem=part.problem) if part and part.kind == "conv" else None


def _failures() -> tuple:
    from hwsolve.autodiff.graph import FAILURES

    return FAILURES


def _agree(a, b) -> bool:
    """Equal entry by entry: exactly for rationals, to 1e-9 relative where a float entered."""
    import math

    if a.shape != b.shape:
        return False
    for x, y in zip(a.flat, b.flat, strict=True):
        if isinstance(x, float) or isinstance(y, float):
            if not math.isclose(float(x), float(y), rel_tol=1e-9, abs_tol=1e-12):
                return False
        elif x != y:
            return False
    return True


def _text(f: F) -> str:
    return f"{f.kind}:{f.text}(" + ",".join(_text(a) for a in f.args) + ")"


SIZE_NAMES = {"n", "p", "k", "s", "d"}


def _conv_part(key, name: str):
    pid = name[: -len("n_out")].rstrip(".")
    for part in getattr(key.problem, "parts", None) or []:
        if isinstance(part, tuple) and len(part) == 4 and part[1] == "shape" and (part[0] or "") == pid:
            return part[3]
    return None


def _judge_conv_size(key, name: str, text: str) -> Judgement:
    import random

    import numpy as np

    prob = _conv_part(key, name)
    tree, _ = parse_formula(text, [])
    extra = free_names(tree) - SIZE_NAMES
    if extra:
        return Judgement("wrong", f"the formula names {', '.join(sorted(extra))}; a size formula uses n, p, k, s"
                         " (and d for dilation)")
    if prob is None or getattr(prob, "transposed", False) or getattr(prob, "p", None) == "same":
        return Judgement("wrong", "this size is not checked as a formula")
    s = prob.s or (prob.k if prob.pool else (1, 1))
    points = [(prob.n[0], prob.p[0], prob.k[0], s[0], prob.d[0])]
    rng = random.Random(f"{name}:{text}")       # the same points every run, on any clone
    while len(points) < 8:
        k, p, st = rng.randint(1, 7), rng.randint(0, 3), rng.randint(1, 4)
        points.append((rng.randint(k, 64), p, k, st, 1))
    for n, p, k, st, d in points:
        env = {x: np.array([[Fraction(v)]], dtype=object) for x, v in zip("npksd", (n, p, k, st, d), strict=True)}
        want = (n + 2 * p - (d * (k - 1) + 1)) // st + 1
        got = evaluate(tree, env)
        if got.shape != (1, 1) or got[0, 0] != want:
            where = f"n={n}, p={p}, k={k}, s={st}" + (f", d={d}" if d != 1 else "")
            return Judgement("wrong", f"formula: gives {_show(got)} at {where}, where {want} is due")
    return Judgement("correct", "formula: right at the sheet's sizes and 7 random ones")


def _show(a) -> str:
    return str(a[0, 0]) if a.shape == (1, 1) else dims_text(a)


# -- symbolic keys (kind: derive): equivalence at random points of the right shapes -------------------


def _shapes(key) -> tuple[dict[str, tuple], dict[str, int]]:
    """Step name -> shape (symbols or numbers) from the derivation, and a size for each symbol:
    the spec's sizes, distinct, so a product of the wrong shapes cannot pass by accident."""
    shapes: dict[str, tuple] = {}
    for st in key.solution.steps:
        if st.shape is not None and st.name not in shapes:
            shapes[st.name] = tuple(st.shape)
    sizes = dict(key.solution.sizes)
    free = sorted({d for sh in shapes.values() for d in sh if isinstance(d, str)} - set(sizes))
    used = set(sizes.values())
    nxt = 2
    for sym in free:
        while nxt in used:
            nxt += 1
        sizes[sym] = nxt
        used.add(nxt)
    return shapes, sizes


def _random_env(shapes, sizes, places, rng):
    import numpy as np

    env = {}
    for ph, name in places.items():
        dims = [sizes[d] if isinstance(d, str) else int(d) for d in shapes[name]]
        m, n = (1, 1) if not dims else (dims[0], 1) if len(dims) == 1 else (dims[0], dims[1])
        vals = [[Fraction(rng.randint(-9, 9), rng.randint(1, 5)) for _ in range(n)] for _ in range(m)]
        env[ph] = np.array(vals, dtype=object)
    return env


def _judge_symbolic(key, name: str, text: str) -> Judgement:
    """The student's formula and the key's, both over the derivation's named quantities, at three
    random points of the right shapes (exact rationals): equal at all three, or the difference named."""
    import random

    kv = key.values[name]
    want_text = kv.rows[0][0] if kv.dims == (1, 1) and isinstance(kv.rows[0][0], str) else None
    if want_text is None:
        return Judgement("wrong", "this step has no formula to compare with")
    shapes, sizes = _shapes(key)
    names = [n for n in shapes if n != name]
    want, wplaces = parse_formula(want_text, names)
    got, gplaces = parse_formula(text, names)
    plain = {n for n in names if n.isidentifier() and "[" not in n}
    for tree, places in ((want, wplaces), (got, gplaces)):
        places.update({n: n for n in free_names(tree) & plain})
    unknown = free_names(got) - set(gplaces)
    if unknown:
        return Judgement("wrong", f"the formula names {', '.join(sorted(unknown))}, not a quantity of this problem")
    rng = random.Random(f"{name}:{text}")      # the same points on any clone
    places = {**wplaces, **gplaces}
    for _ in range(3):
        env = _random_env(shapes, sizes, places, rng)
        w, g = evaluate(want, env), evaluate(got, env)
        if g.shape == w.shape and (g == w).all():
            continue
        if g.shape == w.T.shape and (w == g.T).all() and g.shape != w.shape:
            return Judgement("wrong_shape", f"missing transpose: the formula gives {_sym_dims(g, sizes)} where "
                             f"{_sym_dims(w, sizes)} is due", "transposed")
        if g.shape != w.shape:
            return Judgement("wrong_shape", f"shape mismatch: the formula gives {_sym_dims(g, sizes)} where "
                             f"{_sym_dims(w, sizes)} is due", "wrong_shape")
        return Judgement("wrong", "formula: not equal to the key's at random values of the right shapes")
    return Judgement("correct", "formula: equal to the key's at 3 random points")


def _sym_dims(a, sizes: dict[str, int]) -> str:
    """2x5 as d-by-K terms when the sizes say so (5 is d)."""
    back = {v: k for k, v in sizes.items()}
    m, n = a.shape
    return "a scalar" if (m, n) == (1, 1) else f"{back.get(m, m)}x{back.get(n, n)}"
