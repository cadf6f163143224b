"""Error carried forward, computed from the graph the key was solved on.

The student's world: every step the student attempted (and got wrong, with the right shape and a
non-trivial value) replaces the key's value, and everything downstream is recomputed from it with
the graph's own rules: a forward node by its op's `forward` on its parents' world values, a
gradient by the ops' `vjp` from its consumers' world gradients and the world forward values, in
the order of the engine's backward loop. There is no second backprop here: only `Op.forward`,
`Op.vjp` and `Graph._backward_order` are called. A step's ECF value is what its own rule gives
from the world values of its inputs, so it can be compared with what the student wrote.

Each world value also carries its sources: the names of the student's own wrong values it was
computed from, so feedback can say "consistent with your a[3] carried forward".

Mistake variants use the same loop: the backward pass of the key's forward values with one rule
replaced (an activation's derivative by its value, a dead ReLU's mask by 1) or one gradient
overridden (softmax's p - y by p).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from fractions import Fraction

import numpy as np

from hwsolve.core import values as T
from hwsolve.autodiff.ops import Activation
from hwsolve.core.errors import HwsolveError
from hwsolve.grade.answers import Value

_FAIL = (HwsolveError, ArithmeticError, ValueError, FloatingPointError, TypeError, OverflowError)


def to_array(v: Value) -> np.ndarray:
    if all(isinstance(x, (int, Fraction)) for x in v.entries()):
        return T.exact([list(r) for r in v.rows])
    return np.array([[float(x) for x in r] for r in v.rows], dtype=np.float64)


def to_value(a: np.ndarray) -> Value:
    return Value.of(T.plain(a))


def is_zero(a: np.ndarray) -> bool:
    return all(x == 0 for x in a.flat)


@dataclass
class World:
    """ECF values (only where they differ from the key) and their sources."""

    values: dict[str, np.ndarray | None] = field(default_factory=dict)   # step name -> ECF value
    sources: dict[str, frozenset] = field(default_factory=dict)


class EcfModel:
    """The key's graph, indexed by step name, ready to recompute from a student's values."""

    def __init__(self, compiled):
        g = compiled.graph
        if any(n.op is not None and n.value is None for n in g.nodes):
            g.forward()
        self.graph = g
        self.loss = compiled.loss
        self.layout = compiled.layout
        self.nodes = g.nodes
        self.consumers = {n: [] for n in g.nodes}
        for n in g.nodes:
            for i, p in enumerate(n.parents):
                self.consumers[p].append((n, i))
        self.order = g._backward_order(self.loss, self.consumers)
        self.forward_steps = {n.name: n for n in g.nodes if n.op is not None and n.show}
        self.key_fwd = {n: n.value for n in g.nodes}
        self.grad_name = {n: g.grad_symbol(n).text for n in g.nodes}
        grads, terms, _, _ = self._backward(self.key_fwd, {}, {}, force=True)
        self.key_grads = grads
        self.key_terms = terms
        self.grad_steps = {self.grad_name[n]: n for n in self.order if n in grads}
        self.term_steps: dict[str, tuple] = {}
        for node in self.order:
            ts = [(c, i) for (nd, c, i) in terms if nd is node]
            if len(ts) > 1:
                twice = {c for c, _ in ts if sum(u is c for u, _ in ts) > 1}
                for c, i in ts:
                    via = f"{c.name} (operand {i + 1})" if c in twice else c.name
                    self.term_steps[f"{self.grad_name[node]} via {via}"] = (node, c, i)

    # -- names -----------------------------------------------------------------------------

    def knows(self, name: str) -> bool:
        return name in self.forward_steps or name in self.grad_steps or name in self.term_steps

    def is_gradient(self, name: str) -> bool:
        return name in self.grad_steps or name in self.term_steps

    def _to_layout(self, a: np.ndarray) -> np.ndarray:
        return a.T if self.layout == "numerator" else a

    # -- the loops ---------------------------------------------------------------------------

    def _vjp(self, c, i, grads, vals, ops):
        g = grads.get(c)
        xs = [vals.get(p) for p in c.parents]
        out = vals.get(c)
        if g is None or out is None or any(x is None for x in xs):
            return None
        op = ops.get(c, c.op)
        try:
            return op.vjp(i, g, xs, out)
        except _FAIL:
            return None

    def _backward(self, vals, used_grads, src, force=False, ops=None, overrides=None):
        """One pass of the backward loop over world values; returns (grads, terms, ecf, ecf_src):
        every gradient, every term, and the gradients that differ from the key's with their sources.

        used_grads: node -> the student's own gradient (gradient layout), replacing the computed
        one downstream. With force=False, terms whose inputs all equal the key's are reused.
        """
        ops = ops or {}
        overrides = overrides or {}
        grads = {self.loss: T.ones((1, 1))}
        terms: dict[tuple, np.ndarray | None] = {}
        gsrc: dict = {}
        ecf: dict = {}
        ecf_src: dict = {}
        for node in self.order:
            parts, changed, sources = [], False, frozenset()
            for c, i in self.consumers[node]:
                if c not in grads or not _wanted(c, i):
                    continue
                dirty = force or c in gsrc or c in src or any(p in src for p in c.parents) or c in ops
                if dirty:
                    t = self._vjp(c, i, grads, vals, ops)
                    sources |= gsrc.get(c, frozenset()) | src.get(c, frozenset())
                    for p in c.parents:
                        sources |= src.get(p, frozenset())
                    changed = changed or not force or c in ops
                else:
                    t = self.key_terms[(node, c, i)]
                terms[(node, c, i)] = t
                parts.append(t)
            if not parts:
                continue
            if node in overrides:
                total, changed = overrides[node], True
            elif changed or force:
                total = _sum(parts)
            else:
                total = self.key_grads[node]
            grads[node] = total
            if changed:
                ecf[node] = total
                ecf_src[node] = gsrc[node] = sources
            if node in used_grads:
                grads[node] = used_grads[node][0]
                gsrc[node] = used_grads[node][1]
        return grads, terms, ecf, ecf_src

    def world(self, used: dict[str, Value]) -> World:
        """Recompute from the student's attempted values; `used` maps step name -> value."""
        w = World()
        if not used:
            return w
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
                    except _FAIL:
                        v = None
                vals[node] = v
                s = frozenset().union(*(src.get(p, frozenset()) for p in node.parents))
                src[node] = s
                if node.show:
                    w.values[node.name] = v
                    w.sources[node.name] = s
            if node.show and node.name in used:
                vals[node] = to_array(used[node.name])
                src[node] = frozenset([node.name])
        used_grads = {}
        for name, node in self.grad_steps.items():
            if name in used:
                used_grads[node] = (self._to_layout(to_array(used[name])), frozenset([name]))
        if not src and not used_grads:
            return w
        grads, terms, ecf, ecf_src = self._backward(vals, used_grads, src)
        for name, node in self.grad_steps.items():
            if node in ecf:
                v = ecf[node]
                w.values[name] = None if v is None else self._to_layout(v)
                w.sources[name] = ecf_src[node]
        for name, (node, c, i) in self.term_steps.items():
            t = terms.get((node, c, i))
            if t is not self.key_terms.get((node, c, i)):
                w.values[name] = None if t is None else self._to_layout(t)
                w.sources[name] = ecf_src.get(node, frozenset())
        return w

    # -- mistake variants ----------------------------------------------------------------------

    def variant(self, ops=None, overrides=None) -> dict[str, np.ndarray]:
        """Gradient steps (in the step's layout) that change when rules are replaced or one
        gradient is overridden, from the key's forward values."""
        grads, _, _, _ = self._backward(self.key_fwd, {}, {}, force=True, ops=ops, overrides=overrides)
        out = {}
        for name, node in self.grad_steps.items():
            g = grads.get(node)
            if g is not None and not _same(g, self.key_grads.get(node)):
                out[name] = self._to_layout(g)
        return out

    def activations(self):
        return [n for n in self.nodes if isinstance(n.op, Activation)]


def _wanted(c, i) -> bool:
    w = c.op.grads_wanted()
    return w is None or w[i]


def _sum(parts):
    if any(p is None for p in parts):
        return None
    total = parts[0]
    for p in parts[1:]:
        total, q = T.unify(total, p)
        try:
            total = total + q
        except _FAIL:
            return None
    return total


def _same(a, b) -> bool:
    if a is None or b is None or a.shape != b.shape:
        return False
    return all(float(x) == float(y) for x, y in zip(a.flat, b.flat))


def with_derivative(op: Activation, df) -> Activation:
    """A copy of an activation rule whose derivative is `df` (a wrong one, from the entry's
    mistakes): the backward loop then reproduces the student's slip."""
    kwargs = {f.name: getattr(op, f.name) for f in fields(op)}
    wrong = _WrongDerivative(**kwargs)
    wrong.wrong_df = df
    return wrong


class _WrongDerivative(Activation):
    wrong_df = None

    def derivative_values(self, x):
        d = T.elementwise(lambda v: self.wrong_df(v, **self.params), x, self.fn.exact)
        return d if self.scale in (None, 1) else d * self.scale
