"""One computation graph and THE backward loop, for layered networks and arbitrary graphs alike.

`Graph` holds nodes in topological order (the order they were added). `forward` computes every
value. `backward_pass` is the only backward loop in hwsolve: it walks the nodes once in reverse
topological order, asks each consumer's rule for its vector-Jacobian product, sums the terms of a
node used several times, and tells its `Hooks` about every term and every total. Everything that
needs gradients goes through it with its own hooks:

- `StepRecorder` writes the chain rule as a student does (the Leibniz chain, the local rule, the
  expression in the problem's own symbols, the numbers substituted, the value), one `Step` per
  gradient, one per path term, and one per local derivative (``ReLU'(a[2])``, ``dH3/dX1``);
- grading's error carried forward runs it on a student's values (`values`, `carried`), with a
  rule replaced to reproduce a named mistake (`ops`);
- `Graph.gradients` runs it with no hooks, for solvers that need numbers only.

Operands are tuples and ready nodes are taken first in, first out: the output is the same on
every run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from hwsolve.core.records_graph import GraphPicture
else:
    from hwsolve.core.values import np  # numpy, imported on first use (a small exact network never needs it)

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field


from hwsolve.autodiff.ops import Ctx, Identity, LossOp, Op, const_of
from hwsolve.core import values as T
from hwsolve.core.errors import HwsolveError, MathError
from hwsolve.core.records import Solution, Step
from hwsolve.core.sym import Apply, Const, Expr, Symbol, sum_of, to_latex

MAX_EXPANDED = 80  # operations in a fully expanded chain-rule expression before we stop expanding

# what a rule may raise on values it was not built for (a student's wrong-shaped matrix: numpy's
# broadcasting raises ValueError, a rule that indexes cells (convolution, pooling) IndexError)
FAILURES = (HwsolveError, ArithmeticError, ValueError, FloatingPointError, TypeError, OverflowError,
            IndexError)


@dataclass(eq=False)
class Node:
    """A value in the graph: a leaf (input, parameter, target, constant) or an operation."""

    name: str                       # stable ASCII name: a[1], W[2], H4
    label: Expr                     # how it prints: a Symbol (text and LaTeX), or a Const (a number)
    kind: str                       # "input" | "param" | "target" | "const" | "op"
    op: Op | None = None
    parents: tuple[Node, ...] = ()
    value: np.ndarray | None = None
    line: int | None = None         # where the spec defines it, for error messages
    show: bool = True               # list it in the forward pass
    matrix: bool = False            # a weight matrix: printed 2-D whatever its size

    @property
    def wants_grad(self) -> bool:
        return self.kind in ("input", "param", "op")

    @property
    def val(self) -> np.ndarray:
        """The computed value (after `Graph.forward`; leaves have theirs from the start)."""
        assert self.value is not None, f"'{self.name}' has no value yet: run Graph.forward first"
        return self.value

    @property
    def rule(self) -> Op:
        assert self.op is not None, f"'{self.name}' is a leaf, not an operation"
        return self.op


@dataclass(frozen=True)
class Term:
    """One chain-rule term: the part of dL/d`node` that flows back through `consumer`'s operand
    `index`. `value` is None when it cannot be computed (tolerant passes over a student's values)."""

    node: Node
    consumer: Node
    index: int
    value: np.ndarray | None


class Hooks:
    """What a caller of the backward loop wants to know; the loop itself records nothing."""

    def term(self, term: Term, grads: Mapping[Node, np.ndarray | None]) -> None:
        """A term was computed (before the node's total)."""

    def total(self, node: Node, terms: list[Term], total: np.ndarray | None) -> None:
        """dL/d`node` is the sum of `terms` (or an override)."""


@dataclass
class Graph:
    """The computation graph: its nodes in the order they were added (parents first)."""

    nodes: list[Node] = field(default_factory=list)
    loss_name: str = "L"
    loss_latex: str = "L"
    file: str | None = None
    # node -> dL/d(node): asked for by every step that reads or prints the gradient, made once
    _grad_symbols: dict[Node, Symbol] = field(default_factory=dict, init=False, repr=False, compare=False)

    def leaf(self, name: str, label: Expr, kind: str, value: np.ndarray, line: int | None = None,
             matrix: bool = False) -> Node:
        return self._add(Node(name, label, kind, value=value, line=line, matrix=matrix))

    def apply(self, op: Op, parents, name: str, label: Expr, line: int | None = None,
              show: bool = True) -> Node:
        return self._add(Node(name, label, "op", op, tuple(parents), line=line, show=show))

    def _add(self, node: Node) -> Node:
        self.nodes.append(node)
        return node

    # -- names -----------------------------------------------------------------------------

    def grad_symbol(self, node: Node) -> Symbol:
        found = self._grad_symbols.get(node)
        if found is None:
            found = self._grad_symbols[node] = Symbol(
                f"d{self.loss_name}/d{node.name}",
                rf"\frac{{\partial {self.loss_latex}}}{{\partial {to_latex(node.label)}}}")
        return found

    @staticmethod
    def partial_symbol(num: Node, den: Node) -> Symbol:
        return Symbol(f"d{num.name}/d{den.name}",
                      rf"\frac{{\partial {to_latex(num.label)}}}{{\partial {to_latex(den.label)}}}")

    def consumers(self) -> dict[Node, list[tuple[Node, int]]]:
        """node -> the (consumer, operand index) pairs that use it, in graph order."""
        out: dict[Node, list[tuple[Node, int]]] = {n: [] for n in self.nodes}
        for n in self.nodes:
            for i, p in enumerate(n.parents):
                out[p].append((n, i))
        return out

    # -- forward ---------------------------------------------------------------------------

    def forward(self) -> None:
        for node in self.nodes:
            if node.op is None:
                continue
            try:
                node.value = node.op.forward([p.val for p in node.parents])
            except MathError as e:
                raise MathError(f"node '{node.name}': {e.message}", file=self.file, line=node.line) from None
            except (ZeroDivisionError, FloatingPointError):
                raise MathError(f"node '{node.name}': division by zero", file=self.file,
                                line=node.line) from None
            except OverflowError:
                raise MathError(f"node '{node.name}': value overflows", file=self.file,
                                line=node.line) from None

    def forward_steps(self, solution: Solution, section: str = "forward") -> None:
        for node in self.nodes:
            if node.op is None or not node.show:
                continue
            args: list[Expr] = [p.label for p in node.parents]
            formula = node.op.formula(args)
            substituted = None
            if not isinstance(node.op, Identity):
                substituted = node.op.formula([Const(T.plain(p.val, p.matrix)) for p in node.parents])
            note = node.op.note([p.val for p in node.parents], node.val, [p.name for p in node.parents])
            solution.add(Step(node.name, section, formula=formula, value=T.plain(node.val),
                              shape=T.math_shape(node.val), substituted=substituted, note=note,
                              label=node.label))

    # -- backward --------------------------------------------------------------------------

    def backward(self, loss: Node, solution: Solution, layout: str = "gradient",
                 section: str = "backward", local_section: str | None = "local") -> dict[Node, np.ndarray]:
        """Append the chain-rule steps from dL/d(loss) down to every input; return the gradients.

        With `local_section`, every chain-rule factor is also a step of its own there."""
        recorder = StepRecorder(self, loss, solution, layout, section, local_section)
        grads = backward_pass(self, loss, hooks=recorder)
        return {n: g for n, g in grads.items() if g is not None}

    def gradients(self, loss: Node) -> dict[Node, np.ndarray]:
        """dL/d(node) for every node that reaches the loss, in gradient layout, without records.

        The values must be computed (`forward`) first. For solvers that need gradients as numbers
        only (training steps, optimizers, checks).
        """
        return {n: g for n, g in backward_pass(self, loss).items() if g is not None}

    def backward_order(self, loss: Node, consumers=None) -> list[Node]:
        """Reverse topological order; operands listed in each rule's `backward_order`.

        A node is ready once every consumer that leads to the loss is done; ready nodes are taken
        first in, first out, so a layer's dL/dW and dL/db come right after dL/d(its output), as the
        sheets list them.
        """
        consumers = consumers if consumers is not None else self.consumers()
        reach = self._reaching(loss)
        pending = {n: sum(1 for c, _ in consumers[n] if c in reach) for n in reach}
        order, queue = [], deque([loss])
        seen = {loss}
        while queue:
            n = queue.popleft()
            if n is not loss:
                order.append(n)
            idxs = n.op.backward_order if n.op and n.op.backward_order else range(len(n.parents))
            for i in idxs:
                p = n.parents[i]
                pending[p] -= 1
                if pending[p] == 0 and p not in seen and p.wants_grad:
                    seen.add(p)
                    queue.append(p)
            # operands appearing twice in one rule (x * x) are counted once per use above
        return order

    def _reaching(self, loss: Node) -> set[Node]:
        reach = {loss}
        for n in reversed(self.nodes):
            if n in reach:
                reach.update(n.parents)
        return reach

    def picture(self, title: str, loss: Node, printed: Mapping[str, object], loss_drawn: bool) -> GraphPicture:
        """The graph as a drawing record: each node's role, its rule's label, its value and the
        gradient printed for it (`printed`: step name -> value). `loss_drawn`: the last node is
        a loss (red box), not a plain output."""
        from hwsolve.core.records_graph import GraphPicture, PictureNode  # only when a drawing is made

        index = {n: k for k, n in enumerate(self.nodes)}
        out = []
        for n in self.nodes:
            if n.op is None:
                role = n.kind
            elif n.kind == "const":
                role = "const_named" if n.show else "const"
            elif getattr(n.op, "owner", None) is not None:
                role = "inner"
            else:
                role = "loss" if n is loss and loss_drawn else "named"
            grad = printed.get(self.grad_symbol(n).text) if n.wants_grad and n is not loss else None
            out.append(PictureNode(n.name, role, n.op.draw_label() if n.op else "", T.plain(n.val),
                                   grad, n.wants_grad and n is not loss and n.kind != "target",
                                   tuple((index[p], n.op.edge_label(i)) for i, p in enumerate(n.parents))
                                   if n.op else ()))
        return GraphPicture(title, tuple(out))

    def unreachable(self, loss: Node) -> list[Node]:
        reach = self._reaching(loss)
        return [n for n in self.nodes if n not in reach and n.kind in ("op", "param", "input")]


def backward_pass(graph: Graph, loss: Node, values: Mapping[Node, np.ndarray | None] | None = None, *,
                  ops: Mapping[Node, Op] | None = None,
                  carried: Mapping[Node, np.ndarray] | None = None,
                  hooks: Hooks | None = None, tolerant: bool = False) -> dict[Node, np.ndarray | None]:
    """THE backward loop: dL/d(node) for every node on a path to the loss.

    values:    the forward values to differentiate at (default: the graph's own).
    ops:       a rule replaced for some nodes (grading's named mistakes).
    carried:   a node's gradient replaced *below* it by a given one, after its own total is
               reported (a student's own gradient, carried forward).
    tolerant:  a rule that fails on these values gives None instead of raising, and None
               propagates (a student's value of the wrong shape).
    """
    values = values if values is not None else {n: n.value for n in graph.nodes}
    ops, carried = ops or {}, carried or {}
    hooks = hooks or Hooks()
    consumers = graph.consumers()
    grads: dict[Node, np.ndarray | None] = {loss: T.ones((1, 1))}
    for node in graph.backward_order(loss, consumers):
        terms = []
        for c, i in consumers[node]:
            if c not in grads or not _wanted(c, i):
                continue
            try:
                term = Term(node, c, i, _vjp(ops.get(c, c.op), i, grads[c], c, values, tolerant))
            except MathError as e:   # name where it happened, as the forward pass does
                raise MathError(f"the gradient through node '{c.name}': {e.message}", file=e.file or graph.file,
                                line=e.line or c.line) from None
            hooks.term(term, grads)
            terms.append(term)
        if not terms:
            continue
        total = _sum([t.value for t in terms], tolerant)
        grads[node] = total
        hooks.total(node, terms, total)
        if node in carried:
            grads[node] = carried[node]
    return grads


def _vjp(op: Op | None, i: int, g, c: Node, values, tolerant: bool):
    xs = [values.get(p) for p in c.parents]
    out = values.get(c)
    if op is None or g is None or out is None or any(x is None for x in xs):
        return None
    if not tolerant:
        return op.vjp(i, g, xs, out)
    try:
        return op.vjp(i, g, xs, out)
    except FAILURES:
        return None


def _sum(parts: list, tolerant: bool):
    if any(p is None for p in parts):
        return None
    total = parts[0]
    for p in parts[1:]:
        total, q = T.unify(total, p)
        if not tolerant:
            total = total + q
            continue
        try:
            total = total + q
        except FAILURES:
            return None
    return total


def _wanted(c: Node, i: int) -> bool:
    w = c.op.grads_wanted() if c.op else None
    return w is None or w[i]


def _given(a: np.ndarray | None) -> np.ndarray:
    """A gradient the recorder prints: computed (the recorder runs only on non-tolerant passes)."""
    assert a is not None
    return a


def to_layout(g: np.ndarray, layout: str) -> np.ndarray:
    """Gradient layout is the parameter's shape; numerator layout is its transpose (row vectors)."""
    return g.T if layout == "numerator" else g


def _too_big(e) -> bool:
    """Has the expression more than MAX_EXPANDED nodes? Counted only that far: a deep network's
    expansion, once too big, grows with every layer below."""
    stack, seen = [e], 0
    while stack:
        seen += 1
        if seen > MAX_EXPANDED:
            return True
        x = stack.pop()
        if isinstance(x, Apply):
            stack.extend(x.args)
    return False


@dataclass
class _Written:
    """One term as printed: the local rule, the numbers, the expanded form, the Leibniz chain."""

    term: Term
    local: Expr
    substituted: Expr
    expanded: Expr | None
    chain: Expr


class StepRecorder(Hooks):
    """Writes the backward pass as a student does: one `Step` per gradient (and per path term
    where a node has several consumers), and one per local derivative."""

    def __init__(self, graph: Graph, loss: Node, solution: Solution, layout: str, section: str,
                 local_section: str | None):
        self.g, self.loss, self.sol, self.layout = graph, loss, solution, layout
        self.section, self.local_section = section, local_section
        self.expanded: dict[Node, Expr | None] = {loss: Const(1)}
        self.origin: dict[Node, Node | None] = {loss: None}
        self.written: dict[tuple[Node, int], _Written] = {}
        self.locals_done: set[tuple[Node, int]] = set()
        self.local_names: set[str] = set()

    def term(self, term: Term, grads) -> None:
        c, i, rule = term.consumer, term.index, term.consumer.rule
        xs = [p.val for p in c.parents]
        ctx = Ctx(self.layout, tuple(T.is_scalar(x) for x in xs), T.is_scalar(c.val),
                  self.origin.get(c), tuple(xs))
        args: list[Expr] = [p.label for p in c.parents]
        up_sym: Expr = self.g.grad_symbol(c) if c is not self.loss else Const(1)
        local = rule.local(i, up_sym, args, c.label, ctx)
        up_val = Const(T.plain(to_layout(_given(grads[c]), self.layout), c.matrix))
        operands: list[Expr] = [Const(T.plain(p.val, p.matrix)) for p in c.parents]
        subst = rule.local(i, up_val, operands, const_of(c.val), ctx)
        exp = None
        above = self.expanded.get(c)
        if above is not None:
            exp = rule.local(i, above, args, c.label, ctx)
            if _too_big(exp):
                exp = None
        chain = (self.g.grad_symbol(c) * self.g.partial_symbol(c, term.node)) if c is not self.loss \
            else self.g.partial_symbol(c, term.node)
        self.written[(c, i)] = _Written(term, local, subst, exp, chain)
        self._local_step(c, i, ctx)

    def total(self, node: Node, terms: list[Term], total) -> None:
        ws = [self.written[(t.consumer, t.index)] for t in terms]
        self.origin[node] = terms[0].consumer if len(terms) == 1 else None
        many = len(terms) > 1
        if many:
            self._path_steps(node, ws)
        exps = [w.expanded for w in ws]
        expanded = sum_of(exps) if all(e is not None for e in exps) else None
        if expanded is not None and _too_big(expanded):
            expanded = None
        self.expanded[node] = expanded
        value = to_layout(_given(total), self.layout)
        self.sol.add(Step(
            self.g.grad_symbol(node).text, self.section,
            chain=sum_of(w.chain for w in ws),
            formula=sum_of(w.local for w in ws),
            expression=expanded if not (many and expanded is None) else None,
            substituted=sum_of(Const(T.plain(to_layout(_given(w.term.value), self.layout), node.matrix))
                               for w in ws) if many else ws[0].substituted,
            value=T.plain(value, node.matrix), shape=T.math_shape(value, node.matrix),
            note=f"sum over {len(terms)} paths ({', '.join(t.consumer.name for t in terms)})" if many else "",
            label=self.g.grad_symbol(node)))

    def _path_steps(self, node: Node, ws: list[_Written]) -> None:
        twice = {w.term.consumer for w in ws if sum(u.term.consumer is w.term.consumer for u in ws) > 1}
        for w in ws:
            c, i = w.term.consumer, w.term.index
            g = to_layout(_given(w.term.value), self.layout)
            self.sol.add(Step(f"{self.g.grad_symbol(node).text} via {via_name(c, i, c in twice)}",
                              self.section, chain=w.chain, formula=w.local, expression=w.expanded,
                              substituted=w.substituted, value=T.plain(g, node.matrix),
                              shape=T.math_shape(g, node.matrix), note="one path's term", label=None))

    def _local_step(self, c: Node, i: int, ctx: Ctx) -> None:
        """The chain-rule factor d c / d operand i as a step of its own (not for the loss: its
        local derivative is dL/dyhat, already a step). Whatever the loss's rule (a library loss, a
        graph's expression `J: H1 * a + H1`, a given upstream), d(loss)/d(operand) would be named
        like the operand's gradient dJ/dH1 and could differ from it (1 against 3 there): one name,
        two values. Its value is the path term `dJ/dH1 via J` already."""
        rule = c.rule
        if self.local_section is None or isinstance(rule, (LossOp, Identity)) or c is self.loss \
                or (c, i) in self.locals_done:
            return
        self.locals_done.add((c, i))
        p = c.parents[i]
        found = rule.local_factor(i, [q.val for q in c.parents], c.val)
        if found is None:
            return
        value, matrix = found
        name, label = rule.local_name(i, c, p, self.g.partial_symbol(c, p))
        if c.parents.count(p) > 1:   # S @ S, a * b * a: one factor per use, each named (names are unique)
            name = f"{name} (operand {i + 1})"
            label = Symbol(f"{label.text} (operand {i + 1})", rf"{label.latex}\ (\text{{operand {i + 1}}})")
        if name in self.local_names:  # two rules whose factors print alike (a slope shown rounded)
            name = f"{name} in {c.name}"
            label = Symbol(name, rf"{label.latex}\ \text{{in }}{to_latex(c.label)}")
        self.local_names.add(name)
        args: list[Expr] = [q.label for q in c.parents]
        self.sol.add(Step(name, self.local_section, formula=rule.partial(i, args, c.label, ctx),
                          value=T.plain(value, matrix), shape=T.math_shape(value, matrix),
                          note=rule.local_note(i, [q.name for q in c.parents]), label=label))


def via_name(consumer: Node, index: int, twice: bool) -> str:
    """How a path term is named: `dL/dH1 via H3`, or `via H4 (operand 2)` for x * x."""
    return f"{consumer.name} (operand {index + 1})" if twice else consumer.name
