"""Error carried forward, computed from the graph the key was solved on.

The student's world: every step the student attempted (and got wrong, with the right shape and a
non-trivial value) replaces the key's value, and everything downstream is recomputed from it with
the graph's own rules: a forward node by its op's `forward` on its parents' world values, a
gradient by the ops' `vjp` from its consumers' world gradients and the world forward values, in
the order of the engine's backward loop. There is no second backprop here: the gradients come
from `autodiff.graph.backward_pass` (the one loop) with hooks that track sources. A step's ECF
value is what its own rule gives from the world values of its inputs, so it can be compared with
what the student wrote.

Each world value also carries its sources: the names of the student's own wrong values it was
computed from, so feedback can say "consistent with your a[3] carried forward".

Mistake variants use the same loop: the backward pass with one rule replaced by a wrong one that
the rule table admits (`Op.mutants`: an activation's derivative by its value, ReLU'(0) = 1, a
loss's factor 2 or 1/K dropped, the batch sum for the mean, W for W^T, softmax's p - y by p, ...),
and the forward pass with one rule's value replaced (`Op.forward_mutants`: f'(a) for f(a)), at a
`Point`: the key's values, or the student's own world (their wrong forward values, their own
gradients carried forward). So "a mistake, then error carried forward" and "error carried
forward, then a mistake" are both reproduced.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from hwsolve.autodiff.graph import FAILURES, Hooks, Term, backward_pass, to_layout, via_name
from hwsolve.core import values as T
from hwsolve.grade.answers import Value

_FAIL = FAILURES


def to_array(v: Value) -> np.ndarray:
    if all(isinstance(x, (int, Fraction)) for x in v.entries()):
        return T.exact([list(r) for r in v.rows])
    return np.array([[float(x) for x in r] for r in v.rows], dtype=np.float64)


def in_shape_of(a: np.ndarray, like: np.ndarray | None) -> np.ndarray:
    """A student's value in the key's own shape: a C x H x W map (or a 4-D kernel) is answered with
    its matrices stacked ((C H) x W, `Value.of`), and the rules need it back in C x H x W."""
    if like is not None and like.ndim > 2 and a.shape != like.shape and a.size == like.size:
        return a.reshape(like.shape)
    return a


def to_value(a: np.ndarray) -> Value:
    return Value.of(T.plain(a))


def is_zero(a: np.ndarray) -> bool:
    return all(x == 0 for x in a.flat)


@dataclass
class Point:
    """Where the backward loop runs: forward values (node -> array) and the student's own
    gradients carried forward (node -> array, replacing the loop's below that node)."""

    vals: Mapping
    carried: Mapping = field(default_factory=dict)
    totals: dict | None = None     # node -> dL/d(node) as the loop sums it here (filled on first use)
    mirrored: Mapping = field(default_factory=dict)   # a bias -> the node its gradient is carried onto
    # nothing here differs from the key's values below any node: the forward values are the key's
    # and every carried gradient is a leaf's (a parameter's dL/dW feeds nothing)
    at_key: bool = False


@dataclass
class World:
    """ECF values (only where they differ from the key) and their sources."""

    values: dict[str, np.ndarray | None] = field(default_factory=dict)   # step name -> ECF value
    sources: dict[str, frozenset] = field(default_factory=dict)
    point: Point | None = None     # the student's values, for mistakes re-run on them
    cache: dict = field(default_factory=dict)    # mistake variants at `point`, computed once


class _Totals(Hooks):
    """Each node's summed gradient, also where a carried gradient replaces it below the node."""

    def __init__(self) -> None:
        self.totals: dict = {}

    def total(self, node, terms, total) -> None:
        self.totals[node] = total


class _Sources(Hooks):
    """Which of the student's own values each gradient was computed from (for "consistent with
    your a[3] carried forward"), and whether it differs from the key's at all."""

    def __init__(self, src: dict, carried_src: dict, replaced: Mapping):
        self.src = src                     # forward node -> sources
        self.carried_src = carried_src     # node -> sources of the student's own gradient
        self.replaced = replaced           # nodes whose rule was replaced (a mistake model)
        self.gsrc: dict = {}               # node -> sources of the gradient used below it
        self.changed: dict = {}            # node -> sources, for gradients in the student's world
        self.terms: dict = {}              # (node, consumer, index) -> term value
        self.mirrored: dict = {}           # node -> (a bias's carried gradient, its sources)

    def term(self, term: Term, grads) -> None:
        self.terms[(term.node, term.consumer, term.index)] = term.value

    def total(self, node, terms, total) -> None:
        sources: frozenset = frozenset()
        dirty = False
        for t in terms:
            c = t.consumer
            s = self.gsrc.get(c, frozenset()) | self.src.get(c, frozenset())
            for p in c.parents:
                s |= self.src.get(p, frozenset())
            sources |= s
            dirty = dirty or bool(s) or c in self.replaced or c in self.changed
        if dirty:
            self.changed[node] = sources
            self.gsrc[node] = sources
        if node in self.carried_src:
            self.gsrc[node] = self.carried_src[node]
        if node in self.mirrored and not _same(total, self.mirrored[node][0]):
            # the student's dL/db differs from what their values give for dL/da: it is used below
            self.gsrc[node] = self.gsrc.get(node, frozenset()) | self.mirrored[node][1]


class _Locals(Hooks):
    """Path terms and local derivatives at given values, named as `StepRecorder` names them."""

    def __init__(self, graph, vals: Mapping):
        self.graph, self.vals = graph, vals
        self.terms: dict = {}
        self.locals: dict[str, Value] = {}
        self.where: dict[str, tuple] = {}     # local step name -> (consumer, operand index)

    def term(self, term: Term, grads) -> None:
        from hwsolve.autodiff.ops import Identity, LossOp

        self.terms[(term.node, term.consumer, term.index)] = term.value
        c, i = term.consumer, term.index
        if c.op is None or isinstance(c.op, (LossOp, Identity)):
            return
        found = c.op.local_factor(i, [self.vals[q] for q in c.parents], self.vals[c])
        if found is not None:
            p = c.parents[i]
            name, _ = c.op.local_name(i, c, p, self.graph.partial_symbol(c, p))
            self.locals.setdefault(name, Value.of(T.plain(found[0], found[1])))
            self.where.setdefault(name, (c, i))


class EcfModel:
    """The key's graph, indexed by step name, ready to recompute from a student's values.

    Nothing here differentiates: every gradient comes from `autodiff.graph.backward_pass`, the one
    backward loop, run on the student's values (with their own gradients carried forward) or
    with one rule replaced by a mistake model."""

    def __init__(self, compiled):
        g = compiled.graph
        if any(n.op is not None and n.value is None for n in g.nodes):
            g.forward()
        self.graph = g
        self.loss = compiled.loss
        self.layout = compiled.layout
        self.nodes = g.nodes
        self.consumers = g.consumers()
        self.order = g.backward_order(self.loss, self.consumers)
        self.forward_steps = {n.name: n for n in g.nodes if n.op is not None and n.show}
        self.key_fwd = {n: n.value for n in g.nodes}
        self.grad_name = {n: g.grad_symbol(n).text for n in g.nodes}
        hooks = _Sources({}, {}, {})
        self.key_grads = backward_pass(g, self.loss, hooks=hooks)
        self.key_point = Point(self.key_fwd, {}, self.key_grads)
        self.key_terms = hooks.terms
        self.grad_steps = {self.grad_name[n]: n for n in self.order if n in self.key_grads}
        self.term_steps: dict[str, tuple] = {}
        for node in self.order:
            ts = [(c, i) for (nd, c, i) in self.key_terms if nd is node]
            if len(ts) > 1:
                twice = {c for c, _ in ts if sum(u is c for u, _ in ts) > 1}
                for c, i in ts:
                    self.term_steps[f"{self.grad_name[node]} via {via_name(c, i, c in twice)}"] = (node, c, i)

    # -- names -----------------------------------------------------------------------------

    def knows(self, name: str) -> bool:
        return name in self.forward_steps or name in self.grad_steps or name in self.term_steps

    def is_gradient(self, name: str) -> bool:
        return name in self.grad_steps or name in self.term_steps

    def _to_layout(self, a: np.ndarray) -> np.ndarray:
        return to_layout(a, self.layout)

    # -- the student's world -------------------------------------------------------------------

    def _forward_world(self, used: dict[str, Value], w: World) -> tuple[dict, dict]:
        """Forward values recomputed from the student's own, each rule applied as in the key."""
        vals = dict(self.key_fwd)
        src: dict = {}
        for node in self.nodes:
            if node.op is None:
                continue
            if any(p in src for p in node.parents):
                xs = [vals.get(p) for p in node.parents]
                v = None
                if all(x is not None for x in xs):
                    try:
                        v = node.op.forward(xs)
                    except FAILURES:
                        v = None
                vals[node] = v
                s = frozenset().union(*(src.get(p, frozenset()) for p in node.parents))
                src[node] = s
                if node.show:
                    w.values[node.name] = v
                    w.sources[node.name] = s
            if node.show and node.name in used:
                vals[node] = in_shape_of(to_array(used[node.name]), self.key_fwd.get(node))
                src[node] = frozenset([node.name])
        return vals, src

    def world(self, used: dict[str, Value], mirror: frozenset = frozenset()) -> World:
        """Recompute from the student's attempted values; `used` maps step name -> value.
        `mirror`: bias steps (`mirrorable`) whose value is also the student's gradient of their
        layer's output (a named mistake made there, carried forward from it)."""
        w = World()
        if not used:
            return w
        vals, src = self._forward_world(used, w)
        carried, carried_src, mirrored = self._carried(used, mirror)
        if not src and not carried:
            return w
        w.point = Point(vals, carried, mirrored=mirrored,
                        at_key=not src and all(n.op is None for n in carried))
        hooks = _Sources(src, carried_src, {})
        hooks.mirrored = {c: (carried[c], carried_src[leaf]) for leaf, c in mirrored.items()}
        backward_pass(self.graph, self.loss, vals, carried=carried, hooks=hooks, tolerant=True)
        for name, node in self.grad_steps.items():
            # a bias's own ECF value comes from above its layer, not from its own carried value
            at = mirrored.get(node, node)
            if at in hooks.changed:
                total = _total_of(hooks.terms, at)
                w.values[name] = None if total is None else self._to_layout(total)
                w.sources[name] = hooks.changed[at]
        for name, (node, c, i) in self.term_steps.items():
            t = hooks.terms.get((node, c, i))
            if not _same(t, self.key_terms.get((node, c, i))):
                w.values[name] = None if t is None else self._to_layout(t)
                w.sources[name] = hooks.changed.get(node, frozenset())
        return w

    def mirrorable(self, used: dict[str, Value]) -> dict[str, object]:
        """Step name -> consumer, for the student's gradients of leaves whose rule passes the
        gradient through (a bias: dL/db = dL/da for one example) where the student did not write
        the consumer's gradient too: their dL/db[2] can stand for their dL/da[2] below."""
        out = {}
        for name in used:
            node = self.grad_steps.get(name)
            if node is None or node.op is not None:
                continue
            for c, i in self.consumers[node]:
                g = self.key_grads.get(c)
                if (c.op is not None and c.op.grad_is_upstream(i) and self.grad_name[c] not in used
                        and g is not None and g.shape == self._to_layout(to_array(used[name])).shape):
                    out[name] = c
        return out

    def _carried(self, used: dict[str, Value], mirror: frozenset) -> tuple[dict, dict, dict]:
        """The student's own gradients by node, their sources, and bias -> the consumer its
        gradient is also carried onto (for the names in `mirror`)."""
        carried, carried_src, mirrored = {}, {}, {}
        for name, node in self.grad_steps.items():
            if name in used:
                carried[node] = in_shape_of(self._to_layout(to_array(used[name])), self.key_grads.get(node))
                carried_src[node] = frozenset([name])
        for name, c in self.mirrorable(used).items():
            if name in mirror:
                node = self.grad_steps[name]
                carried[c] = carried[node]
                mirrored[node] = c
        return carried, carried_src, mirrored

    # -- the key's rules at other values (formula answers are checked at random points) ----------

    def random_values(self, rng) -> dict:
        """Forward values (node -> array) with every input and parameter (and target, unless the
        loss needs probabilities or one-hot targets) a random exact rational of its own shape,
        the rest computed by the graph's own rules; raises what a rule raises (a log of a
        negative value: the caller draws again)."""
        loss = getattr(self.loss.op, "loss", None)
        keep_targets = loss is None or loss.needs_probabilities
        vals: dict = {}
        for n in self.nodes:
            if n.op is not None:
                vals[n] = n.op.forward([vals[p] for p in n.parents])
            elif n.kind in ("input", "param") or (n.kind == "target" and not keep_targets):
                rows, cols = n.val.shape
                vals[n] = T.exact([[Fraction(rng.randint(-9, 9), rng.randint(1, 4)) for _ in range(cols)]
                                   for _ in range(rows)])
            else:
                vals[n] = n.value
        return vals

    def steps_at(self, vals: Mapping) -> dict[str, Value]:
        """Every step the solver prints, at these forward values, as it prints it: given values,
        forward nodes, gradients, path terms and local derivatives (ReLU'(a[2]), dH3/dX1)."""
        hooks = _Locals(self.graph, vals)
        grads = backward_pass(self.graph, self.loss, vals, hooks=hooks)
        out = {n.name: Value.of(T.plain(vals[n], n.matrix if n.op is None else False))
               for n in self.nodes if n.op is None or n.show}
        for name, node in self.grad_steps.items():
            g = grads[node]
            assert g is not None, "a pass that is not tolerant computes every gradient"
            out[name] = Value.of(T.plain(self._to_layout(g), node.matrix))
        for name, (node, c, i) in self.term_steps.items():
            out[name] = Value.of(T.plain(self._to_layout(hooks.terms[(node, c, i)]), node.matrix))
        out.update(hooks.locals)
        return out

    # -- mistake variants ----------------------------------------------------------------------

    def _totals(self, point: Point, ops=None) -> dict:
        if not point.carried:
            return backward_pass(self.graph, self.loss, point.vals, ops=ops, tolerant=True)
        hooks = _Totals()
        backward_pass(self.graph, self.loss, point.vals, ops=ops, carried=point.carried,
                      hooks=hooks, tolerant=True)
        return hooks.totals

    def variant(self, ops=None, point: Point | None = None) -> dict[str, np.ndarray]:
        """Gradient steps (in the step's layout) that change when rules are replaced, at `point`
        (default: the key's values)."""
        point = point or self.key_point
        if point.totals is None:
            point.totals = self._totals(point)
        grads = self._totals(point, ops)
        out = {}
        for name, node in self.grad_steps.items():
            at = point.mirrored.get(node, node)     # a bias's own value comes from above its layer
            g = grads.get(at)
            if g is not None and not _same(g, point.totals.get(at)):
                out[name] = self._to_layout(g)
        return out

    def rule_variants(self, point: Point | None = None) -> dict[str, dict[str, list[tuple[np.ndarray, str]]]]:
        """{mistake key: {step: [(value, detail)]}} for every slip the graph's rules admit
        (`Op.mutants`), each re-run through the loop at `point`: one variant per node, and one
        with the slip at every node that admits it (a student who uses sigma for sigma' does it in
        every layer, and the lower layers' gradients then compound the slip)."""
        point = point or self.key_point
        out: dict[str, dict[str, list]] = {}
        everywhere: dict[str, dict] = {}
        for node in self.nodes:
            if node.op is None or node not in self.key_grads:
                continue        # a leaf, or a node that does not reach the loss
            for key, wrong, detail in self._mutants(node, point):
                changed = {**self.variant(ops={node: wrong}, point=point), **self._local_variants(node, wrong, point)}
                for name, arr in changed.items():
                    out.setdefault(key, {}).setdefault(name, []).append((arr, detail))
                everywhere.setdefault(key, {}).setdefault(node, wrong)
        for key, ops in everywhere.items():
            if len(ops) > 1:
                detail = "in every layer (" + ", ".join(n.name for n in ops) + ")"
                for name, arr in self.variant(ops=ops, point=point).items():
                    out.setdefault(key, {}).setdefault(name, []).append((arr, detail))
        return out

    def forward_variants(self, point: Point | None = None) -> dict[str, dict[str, list[tuple[np.ndarray, str]]]]:
        """{mistake key: {forward step: [(value, detail)]}} for the slips of the forward pass
        (`Op.forward_mutants`: f'(a) for f(a)), each at one node and at every node that admits it,
        with the rest of the forward pass recomputed by the graph's own rules from there."""
        point = point or self.key_point
        out: dict[str, dict[str, list]] = {}
        everywhere: dict[str, dict] = {}
        for node in self.nodes:
            if node.op is None:
                continue
            try:
                found = node.op.forward_mutants(node, point.vals)
            except FAILURES:
                continue
            for key, wrong, detail in found:
                self._add_forward(out, key, point.vals, {node: wrong}, detail)
                everywhere.setdefault(key, {})[node] = wrong
        for key, wrongs in everywhere.items():
            if len(wrongs) > 1:
                detail = "in every layer (" + ", ".join(n.name for n in wrongs) + ")"
                self._add_forward(out, key, point.vals, wrongs, detail)
        return out

    def _add_forward(self, out: dict, key: str, vals: Mapping, wrongs: dict, detail: str) -> None:
        new = self._forward_with(vals, wrongs)
        # compared with the same nodes recomputed by their own rules: at a student's values a node
        # they wrote holds their value, not what their inputs give
        right = self._forward_with(vals, {n: n.op.forward for n in wrongs})
        for name, node in self.forward_steps.items():
            v = new.get(node)
            if v is not None and not _same(v, right.get(node)):
                out.setdefault(key, {}).setdefault(name, []).append((v, detail))

    def _forward_with(self, vals: Mapping, wrongs: dict) -> dict:
        """The forward values that change when the nodes in `wrongs` compute their wrong value
        (node -> xs -> value) from their operands; only those (a failing rule gives None)."""
        cur = dict(vals)
        new: dict = {}
        for node in self.nodes:
            if node.op is None or not (node in wrongs or any(p in new for p in node.parents)):
                continue
            xs = [cur.get(p) for p in node.parents]
            try:
                v = None if any(x is None for x in xs) else wrongs.get(node, node.op.forward)(xs)
            except FAILURES:
                v = None
            cur[node] = new[node] = v
        return new

    @functools.cached_property
    def local_steps(self) -> dict[str, tuple]:
        """Local-derivative steps (dH3/dX1, ReLU'(a[2])) -> (consumer node, operand index), named
        as the solver prints them."""
        hooks = _Locals(self.graph, self.key_fwd)
        try:
            backward_pass(self.graph, self.loss, self.key_fwd, hooks=hooks)
        except FAILURES:
            return {}
        return hooks.where

    def _local_variants(self, node, wrong, point: Point) -> dict[str, np.ndarray]:
        """`node`'s local-derivative steps under the wrong rule, where they differ from the rule's
        own at `point` (dH3/dX1 = 1 when min's gradient is sent to X1)."""
        xs = [point.vals.get(p) for p in node.parents]
        out_v = point.vals.get(node)
        if out_v is None or any(x is None for x in xs):
            return {}
        out = {}
        for name, (c, i) in self.local_steps.items():
            if c is not node:
                continue
            try:
                got, right = wrong.local_factor(i, xs, out_v), node.op.local_factor(i, xs, out_v)
            except FAILURES:
                continue
            if got is not None and right is not None and not _same(got[0], right[0]):
                out[name] = got[0]
        return out

    def _mutants(self, node, point: Point) -> list:
        try:
            return node.op.mutants(node, point.vals)
        except FAILURES:       # a rule that cannot build its slip on these values names nothing
            return []


def _total_of(terms: dict, node):
    parts = [v for (nd, _c, _i), v in terms.items() if nd is node]
    if any(p is None for p in parts):
        return None
    total = parts[0]
    for q in parts[1:]:
        total, q = T.unify(total, q)
        try:
            total = total + q
        except FAILURES:
            return None
    return total


def _same(a, b) -> bool:
    if a is None or b is None or a.shape != b.shape:
        return False
    return all(float(x) == float(y) for x, y in zip(a.flat, b.flat, strict=True))
