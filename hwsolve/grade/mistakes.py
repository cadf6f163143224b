"""Known mistakes: ONE table, each mistake one entry that reproduces a wrong value.

For a wrong answer the grader tries the entries in order and names the first that reproduces
it. An entry either transforms a reference value (the key's, or the student's own ECF value) --
transposed, sign flip -- or looks up values prepared by re-running a topic's rule with the
mistake built in. For backprop keys that is the one backward loop with a rule replaced by a
wrong one its rule-table entry admits (`Op.mutants`: an activation's value for its derivative,
ReLU'(0) = 1 or 0 against the key's convention, a kink's derivative taken from the other side
(LeakyReLU, ELU, abs), a dead ReLU unit passed through, a loss's factor 2 or 1/K, the batch sum for
the mean, W for W^T, a lost minus sign, the power rule's factor, min/max's other branch, softmax's
p for p - y), and the forward pass with an activation's derivative for its value
(`Op.forward_mutants`), run once per key at the key's values and, when the student has wrong
values of their own, once per submission at those (so a slip made on carried-forward values is
named too); for conv output sizes, ceiling for floor and the padding counted on one side only.

Adding a mistake: a rule's slip is an entry of its rule-table entry (autodiff/functions.py:
`WrongDerivative`, `GradientFactorSlip`; autodiff/ops.py: `RuleMistake` in an `Op`'s `mistakes`
with its `mutants`); any other is one `Mistake(...)` in `mistakes()`, with a `check` (and a
`prepare` when it needs the key's problem or graph). Each has a test in
tests/test_grade_mistakes.py.
"""

from __future__ import annotations

import functools
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
    world: Any = None          # ecf.World of this submission (the student's own values), or None

    def refs(self):
        yield self.key, ""
        if self.ecf is not None:
            yield self.ecf, " (applied to your own earlier values)"

    @property
    def is_gradient(self) -> bool:
        m = self.context.model
        return m is not None and m.is_gradient(self.name)


OWN = " (applied to your own earlier values)"
RULES = "rules"          # key.prepared[RULES]: the rule table's slips, {mistake: {step: [(Value, detail)]}}
FORWARD = "forward"      # a student's world's cache: the forward pass's slips only


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
    # most answers are right: every entry equal (answers are finite numbers, never nan), and every
    # match passes an equal pair
    if a.rows == b.rows:
        return True
    return a.dims == b.dims and all(match(x, y) for ra, rb in zip(a.rows, b.rows, strict=True)
                                    for x, y in zip(ra, rb, strict=True))


def mapped(v: Value, f) -> Value:
    return Value(tuple(tuple(f(x) for x in r) for r in v.rows))


def transpose(v: Value) -> Value:
    return Value(tuple(zip(*v.rows, strict=False)))


def _nonzero(v: Value) -> bool:
    return any(x != 0 for x in v.entries())


def dims_text(v: Value) -> str:
    s = v.shape
    if s == ():
        return "a scalar"
    if len(s) == 1:
        return f"a column of {s[0]}"
    if s[0] == 1:
        return f"a 1x{s[1]} row"
    return f"{s[0]}x{s[1]}"


def _prepared(key: str, group: str | None = None):
    """Look the answer up among the values prepared for this mistake at the key's values, then
    among those re-run at the student's own values (computed once per submission, when needed)."""
    def check(site: Site, ans: Value, match):
        prepared = site.context.prepared
        at_key = prepared.get(group, {}).get(key, {}) if group else prepared.get(key, {})
        for cand, detail in at_key.get(site.name, []):
            if same(ans, cand, match):
                return detail
        if group is None:
            return None
        for cand, detail in _at_own_values(site, group).get(key, {}).get(site.name, []):
            if same(ans, cand, match):
                return (detail + OWN).strip()
        return None
    return check


def _at_own_values(site: Site, group: str) -> dict:
    """The preparation `group` re-run at the student's world, cached on it."""
    w = site.world
    if w is None or w.point is None or w.point.at_key:
        return {}      # nothing of the student's differs from the key's: prepared at the key's values
    prepare = _PREPARE_AT[group]
    if not site.is_gradient and site.name not in site.context.model.local_steps:
        if group != RULES:
            return {}  # a forward value changes only with the forward pass's slips
        group, prepare = FORWARD, _prep_forward
    if group not in w.cache:
        from hwsolve.grade.ecf import _FAIL

        try:
            w.cache[group] = prepare(site.context, w.point)
        except _FAIL:
            w.cache[group] = {}
    return w.cache[group]


# -- the checks ------------------------------------------------------------------------------


def _transposed(site: Site, ans: Value, match):
    for ref, how in site.refs():
        t = transpose(ref)
        if t.dims == ref.dims and same(t, ref, lambda a, b: a == b):
            continue  # symmetric or scalar: transposing changes nothing
        if same(ans, t, match):
            return f"{dims_text(ans)} where {dims_text(ref)} is due{how}"
    return None


def _wrong_shape(site: Site, ans: Value, match):
    if ans.dims != site.key.dims:
        return f"{dims_text(ans)} where {dims_text(site.key)} is due"
    return None


def _sign_flipped(site: Site, ans: Value, match):
    for ref, how in site.refs():
        if _nonzero(ref) and same(ans, mapped(ref, lambda x: -x), match):
            return how.strip()
    return None


# -- preparations (once per key) ---------------------------------------------------------------


def _to_value(a):
    from hwsolve.grade.ecf import to_value

    return to_value(a)


def _prep_rules(key, point=None) -> dict:
    """{mistake key: {step: [(Value, detail)]}}: every slip the key graph's rules admit, re-run
    through the backward loop at `point` (default: the key's values), and the forward pass's."""
    m = key.model
    if m is None:
        return {}
    out = _as_values(m.rule_variants(point))
    for mk, steps in _prep_forward(key, point).items():
        for name, cands in steps.items():
            out.setdefault(mk, {}).setdefault(name, []).extend(cands)
    return out


def _prep_forward(key, point=None) -> dict:
    """The forward pass's slips only (`Op.forward_mutants`), for a wrong forward value."""
    m = key.model
    return {} if m is None else _as_values(m.forward_variants(point))


def _as_values(variants: dict) -> dict:
    return {mk: {name: [(_to_value(a), d) for a, d in cands] for name, cands in steps.items()}
            for mk, steps in variants.items()}


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

@functools.cache
def _op_mistakes() -> list:
    """Every slip the rules admit (`Op.mistakes` of every rule class, in class order). Rules are
    classes of the engine's modules, all imported here: derived once."""
    from hwsolve.autodiff import batch_ops, layer_ops, ops, tensor_ops  # noqa: F401 -- their rules count

    out: dict = {}
    todo: list[type] = [ops.Op]
    while todo:
        cls = todo.pop(0)
        for m in cls.__dict__.get("mistakes", ()):
            out.setdefault(m.key, m)
        todo.extend(cls.__subclasses__())
    return list(out.values())


def _rule_mistakes() -> list[Mistake]:
    """The mistakes the rule table's entries admit: the rules' own (`Op.mistakes`: the batch
    reduction, W for W^T, a lost minus sign, the power rule's factor, min/max's other branch), a
    loss's gradient off by a factor, an activation's wrong derivatives. Derived on every call, so
    a newly registered entry counts. All are re-run through the one backward loop (`_prep_rules`)."""
    from hwsolve.autodiff.functions import ELEMENTWISE, LOSSES, GradientFactorSlip, WrongDerivative
    from hwsolve.autodiff.ops import RuleMistake

    slips: list[RuleMistake | GradientFactorSlip | WrongDerivative] = [
        *_op_mistakes(), *(s for loss in LOSSES.values() for s in loss.mistakes),
        *(w for fn in ELEMENTWISE.values() for w in fn.all_mistakes())]
    out: dict[str, Mistake] = {}
    for s in slips:
        out.setdefault(s.key, Mistake(s.key, s.title, s.where, 0.0, _prepared(s.key, RULES)))
    return list(out.values())


_TABLE: dict = {}      # the table, rebuilt when the rule table's entries change (`register`)


def mistakes() -> tuple[Mistake, ...]:
    """THE table: general slips, then the rule table's, then the topic-specific ones."""
    from hwsolve.autodiff.functions import ELEMENTWISE, LOSSES

    entries = (*ELEMENTWISE.values(), *LOSSES.values())
    cached = _TABLE.get("entries", ())
    if len(cached) != len(entries) or any(a is not b for a, b in zip(cached, entries, strict=True)):
        _TABLE.update(entries=entries, table=_table())     # holds the entries: no id is reused
    return _TABLE["table"]


def _table() -> tuple[Mistake, ...]:
    return (
        Mistake("transposed", "transposed", "any matrix or vector", 0.5, _transposed),
        Mistake("wrong_shape", "wrong shape", "any matrix or vector", 0.0, _wrong_shape),
        Mistake("sign_flip", "sign flipped", "any value", 0.0, _sign_flipped),
        *_rule_mistakes(),
        Mistake("ceil_for_floor", "ceiling used instead of floor",
                "conv output sizes (floor((n + 2p - k)/s) + 1)", 0.0,
                _prepared("ceil_for_floor"), _prep_conv(_ceil_rule, "ceil((n + 2p - k)/s) + 1")),
        Mistake("padding_once", "padding counted once",
                "conv output sizes (n + p where n + 2p is due)", 0.0,
                _prepared("padding_once"), _prep_conv(_once_rule, "n + p - k where n + 2p - k is due")),
    )


def by_key() -> dict[str, Mistake]:
    return {m.key: m for m in mistakes()}


# preparations re-run at a student's own values: group -> (key, Point) -> {mistake: {step: [...]}}
_PREPARE_AT = {RULES: _prep_rules}


def prepare_all(key) -> dict:
    """{mistake key: {step name: [(Value, detail)]}} for the entries that need the key; the
    backward loop's mistake models by group ({group: {mistake key: ...}})."""
    from hwsolve.grade.ecf import _FAIL

    out = {}
    for group, prep in _PREPARE_AT.items():
        try:
            out[group] = prep(key)
        except _FAIL:  # a mistake model that cannot run on this key names nothing
            out[group] = {}
    for m in mistakes():
        if m.prepare is not None:
            try:
                out[m.key] = m.prepare(key)
            except _FAIL:
                out[m.key] = {}
    return out


def student_world(key, used: dict[str, Value]):
    """The student's world (ecf.World) from their attempted wrong values. A wrong dL/db that a
    mistake of the rule table or a sign flip reproduces also stands for the student's dL/da of
    that layer, so what they computed from it below is error carried forward: "a mistake, then
    ECF" (2(y - yhat) for 2(yhat - y) flips every gradient below it: each computed from it is ECF,
    as with a dropped factor 2). Any other wrong dL/db is not carried there: a value explained by
    nothing earns nothing below it."""
    m = key.model
    w = m.world(used)
    mirror = []
    for name in m.mirrorable(used):
        site = Site(name, key.values[name], None, key, w)
        match = key.rubric.policy(name).tolerance.match
        own = w.values.get(name)
        if own is not None and same(used[name], _to_value(own), match):
            continue       # their own ECF value: carrying it changes nothing
        if _sign_flipped(site, used[name], match) is not None or \
                any(_prepared(mk, RULES)(site, used[name], match) is not None
                    for mk in site.context.prepared.get(RULES, {})):
            mirror.append(name)
    return m.world(used, frozenset(mirror)) if mirror else w


def identify(site: Site, ans: Value, match) -> tuple[Mistake, str] | None:
    """The first mistake in the table that reproduces `ans`, with its detail."""
    for m in mistakes():
        detail = m.check(site, ans, match)
        if detail is not None:
            return m, detail
    return None
