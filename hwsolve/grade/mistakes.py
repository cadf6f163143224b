"""Known mistakes: ONE table, each mistake one entry that reproduces a wrong value.

For a wrong answer the grader tries the entries in order and names the first that reproduces
it. An entry either transforms a reference value (the key's, or the student's own ECF value) --
transposed, sign flip, the squared-error factor 2 -- or looks up values prepared once per key by
re-running a topic's rule with the mistake built in: the backward loop with an activation's value
used for its derivative, with a dead ReLU unit passed through, with softmax's p for p - y; conv
output sizes with ceiling for floor, with the padding counted on one side only.

Adding a mistake: one `Mistake(...)` in `mistakes()` (or, for a rule, in its rule-table entry), with a
`check` (and a `prepare` when it needs the key's problem or graph), and a test in
tests/test_grade_mistakes.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Callable
from typing import Any

from hwsolve.grade.answers import Value


@dataclass
class Site:
    """One wrong answer in context: the step, the key's value, the ECF value (if it differs)."""

    name: str
    key: Value
    ecf: Value | None
    context: Any               # grader.Key: .model (EcfModel or None), .problem, .kind, .prepared

    def refs(self):
        yield self.key, ""
        if self.ecf is not None:
            yield self.ecf, " (applied to your own earlier values)"

    @property
    def is_gradient(self) -> bool:
        m = self.context.model
        return m is not None and m.is_gradient(self.name)

    @property
    def loss_key(self) -> str | None:
        m = self.context.model
        loss = getattr(getattr(m, "loss", None), "op", None) if m else None
        return getattr(getattr(loss, "loss", None), "key", None)


@dataclass(frozen=True)
class Mistake:
    key: str                   # stable id, used in rubrics (mistake_credit) and JSON
    title: str                 # what the student is told
    where: str                 # where it can happen (for the docs)
    credit: float              # default fraction of the step's points
    check: Callable            # (site, answer Value, match) -> detail text or None
    prepare: Callable | None = None   # (key) -> {step name: [(Value, detail), ...]}


# -- helpers ---------------------------------------------------------------------------------


def same(a: Value, b: Value, match) -> bool:
    return a.dims == b.dims and all(match(x, y) for x, y in zip(a.entries(), b.entries(), strict=False))


def mapped(v: Value, f) -> Value:
    return Value(tuple(tuple(f(x) for x in r) for r in v.rows))


def transpose(v: Value) -> Value:
    return Value(tuple(zip(*v.rows, strict=False)))


def _nonzero(v: Value) -> bool:
    return any(x != 0 for x in v.entries())


def _dims_text(v: Value) -> str:
    s = v.shape
    if s == ():
        return "a scalar"
    if len(s) == 1:
        return f"a column of {s[0]}"
    if s[0] == 1:
        return f"a 1x{s[1]} row"
    return f"{s[0]}x{s[1]}"


def _prepared(key: str):
    def check(site: Site, ans: Value, match):
        for cand, detail in site.context.prepared.get(key, {}).get(site.name, []):
            if same(ans, cand, match):
                return detail
        return None
    return check


# -- the checks ------------------------------------------------------------------------------


def _transposed(site: Site, ans: Value, match):
    for ref, how in site.refs():
        t = transpose(ref)
        if t.dims == ref.dims and same(t, ref, lambda a, b: a == b):
            continue  # symmetric or scalar: transposing changes nothing
        if same(ans, t, match):
            return f"{_dims_text(ans)} where {_dims_text(ref)} is due{how}"
    return None


def _wrong_shape(site: Site, ans: Value, match):
    if ans.dims != site.key.dims:
        return f"{_dims_text(ans)} where {_dims_text(site.key)} is due"
    return None


def _scaled(factor, when):
    def check(site: Site, ans: Value, match):
        if not when(site):
            return None
        for ref, how in site.refs():
            if _nonzero(ref) and same(ans, mapped(ref, lambda x: x * factor), match):
                return how.strip()
        return None
    return check


def _loss_admits(slip_key: str):
    """The step is a gradient under a loss whose table entry admits this slip."""
    def when(site: Site) -> bool:
        from hwsolve.autodiff.functions import lookup_loss

        loss = lookup_loss(site.loss_key) if site.is_gradient and site.loss_key else None
        return loss is not None and any(s.key == slip_key for s in loss.mistakes)
    return when


# -- preparations (once per key) ---------------------------------------------------------------


def _to_value(a):
    from hwsolve.grade.ecf import to_value

    return to_value(a)


def _prep_wrong_derivative(mistake_key: str):
    """Re-run the backward pass with each activation's wrong derivative of this key, as the
    activation's table entry defines it; one variant per activation node."""
    def prepare(key) -> dict:
        from hwsolve.grade.ecf import with_derivative

        m = key.model
        if m is None:
            return {}
        out: dict = {}
        for node in m.activations():
            fn, x = node.op.fn, node.parents[0]
            wrong = next((w for w in fn.all_mistakes() if w.key == mistake_key), None)
            if wrong is None or not wrong.changes(list(x.value.flat)):
                continue
            detail = "at " + node.name + ": " + wrong.detail.format(f=fn.text, x=x.name)
            for name, arr in m.variant(ops={node: with_derivative(node.op, wrong.df)}).items():
                out.setdefault(name, []).append((_to_value(arr), detail))
        return out
    return prepare


def _prep_softmax(key) -> dict:
    from hwsolve.autodiff.ops import LossOp, Softmax

    m = key.model
    if m is None:
        return {}
    out: dict = {}
    for node in m.nodes:
        if not isinstance(node.op, Softmax):
            continue
        if not _feeds_cross_entropy(m, node, LossOp):
            continue
        a = node.parents[0]
        detail = f"dL/d{a.name} taken as {node.name} instead of {node.name} - y"
        for name, arr in m.variant(overrides={a: node.value}).items():
            out.setdefault(name, []).append((_to_value(arr), detail))
    return out


def _feeds_cross_entropy(m, node, LossOp) -> bool:
    """Does `node` reach a cross-entropy loss directly or through renamings (yhat = p)?"""
    from hwsolve.autodiff.ops import Identity

    todo = [node]
    while todo:
        n = todo.pop()
        for c, _ in m.consumers[n]:
            if isinstance(c.op, LossOp) and c.op.loss.key == "cross_entropy":
                return True
            if isinstance(c.op, Identity):
                todo.append(c)
    return False


def _conv_sizes(key, rule):
    """Per shape part of a conv sheet: output size, volume and activation count under `rule`."""
    out: dict = {}
    parts = getattr(key.problem, "parts", None) or []
    for part in parts:
        if not (isinstance(part, tuple) and len(part) == 4 and part[1] == "shape"):
            continue
        pid, _, _, prob = part
        if getattr(prob, "transposed", False) or getattr(prob, "p", None) == "same":
            continue
        pre = f"{pid}." if pid else ""
        s = prob.s or (prob.k if prob.pool else (1, 1))
        sizes = []
        for i in range(2):
            span = prob.d[i] * (prob.k[i] - 1) + 1
            sizes.append(rule(prob.n[i], prob.p[i], span, s[i]))
        if None in sizes or min(sizes) < 1:
            continue
        steps = key.values
        if f"{pre}n_out" in steps and sizes[0] == sizes[1]:
            out.setdefault(f"{pre}n_out", []).append((Value(((sizes[0],),)), ""))
        vol = steps.get(f"{pre}volume")
        if vol is not None and vol.shape == (3,):
            depth = vol.rows[2][0]
            out.setdefault(f"{pre}volume", []).append((Value(((sizes[0],), (sizes[1],), (depth,))), ""))
            if f"{pre}activations" in steps:
                out.setdefault(f"{pre}activations", []).append((Value(((sizes[0] * sizes[1] * depth,),)), ""))
    return out


def _ceil_rule(n, p, span, s):
    return -(-(n + 2 * p - span) // s) + 1


def _once_rule(n, p, span, s):
    if n + p < span:
        return None
    return (n + p - span) // s + 1


def _prep_conv(rule, detail):
    def prepare(key) -> dict:
        if key.kind != "conv":
            return {}
        out = _conv_sizes(key, rule)
        for name in out:
            out[name] = [(v, detail) for v, _ in out[name] if not same(v, key.values[name], lambda a, b: a == b)]
        return out
    return prepare


# -- THE table -------------------------------------------------------------------------------

def _rule_mistakes() -> list[Mistake]:
    """The mistakes the rule table's entries admit: a loss's gradient off by a factor, an
    activation's wrong derivative. Derived on every call, so a newly registered entry counts."""
    from hwsolve.autodiff.functions import ELEMENTWISE, LOSSES

    out: dict[str, Mistake] = {}
    for loss in LOSSES.values():
        for s in loss.mistakes:
            out.setdefault(s.key, Mistake(s.key, s.title, s.where, 0.0,
                                          _scaled(s.factor, _loss_admits(s.key))))
    for fn in ELEMENTWISE.values():
        for w in fn.all_mistakes():
            out.setdefault(w.key, Mistake(w.key, w.title, w.where, 0.0, _prepared(w.key),
                                          _prep_wrong_derivative(w.key)))
    return list(out.values())


def mistakes() -> tuple[Mistake, ...]:
    """THE table: general slips, then the rule table's, then the topic-specific ones."""
    return (
        Mistake("transposed", "transposed", "any matrix or vector", 0.5, _transposed),
        Mistake("wrong_shape", "wrong shape", "any matrix or vector", 0.0, _wrong_shape),
        Mistake("sign_flip", "sign flipped", "any value", 0.0, _scaled(-1, lambda site: True)),
        *_rule_mistakes(),
        Mistake("softmax_without_y", "softmax gradient without the - y",
                "gradients below softmax + cross-entropy (p where p - y is due)", 0.0,
                _prepared("softmax_without_y"), _prep_softmax),
        Mistake("ceil_for_floor", "ceiling used instead of floor",
                "conv output sizes (floor((n + 2p - k)/s) + 1)", 0.0,
                _prepared("ceil_for_floor"), _prep_conv(_ceil_rule, "ceil((n + 2p - k)/s) + 1")),
        Mistake("padding_once", "padding counted once",
                "conv output sizes (n + p where n + 2p is due)", 0.0,
                _prepared("padding_once"), _prep_conv(_once_rule, "n + p - k where n + 2p - k is due")),
    )


def by_key() -> dict[str, Mistake]:
    return {m.key: m for m in mistakes()}


def prepare_all(key) -> dict:
    """{mistake key: {step name: [(Value, detail)]}} for the entries that need the key."""
    from hwsolve.grade.ecf import _FAIL

    out = {}
    for m in mistakes():
        if m.prepare is not None:
            try:
                out[m.key] = m.prepare(key)
            except _FAIL:  # a mistake model that cannot run on this key names nothing
                out[m.key] = {}
    return out


def identify(site: Site, ans: Value, match) -> tuple[Mistake, str] | None:
    """The first mistake in the table that reproduces `ans`, with its detail."""
    for m in mistakes():
        detail = m.check(site, ans, match)
        if detail is not None:
            return m, detail
    return None
