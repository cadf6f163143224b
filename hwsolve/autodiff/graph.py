"""One computation graph and one backward loop, for layered networks and arbitrary graphs alike.

`Graph` holds nodes in topological order (the order they were added). `forward` computes every
value; `backward` walks the nodes once in reverse topological order and appends one `Step` per
gradient (and one per term where a node feeds several consumers), the way a student writes the
chain rule: the Leibniz chain, the local rule, the expression in the problem's own symbols, the
numbers substituted, the value. Operands are tuples, so the output is the same on every run.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from hwsolve.core import values as T
from hwsolve.autodiff.ops import Ctx, Identity, Op, const_of
from hwsolve.core.errors import MathError
from hwsolve.core.records import Solution, Step
from hwsolve.core.sym import Apply, Const, Expr, Symbol, sum_of

MAX_EXPANDED = 80  # operations in a fully expanded chain-rule expression before we stop expanding


@dataclass(eq=False)
class Node:
    """A value in the graph: a leaf (input, parameter, target, constant) or an operation."""

    name: str                       # stable ASCII name: a[1], W[2], H4
    label: Symbol                   # how it prints (text and LaTeX)
    kind: str                       # "input" | "param" | "target" | "const" | "op"
    op: Op | None = None
    parents: tuple["Node", ...] = ()
    value: np.ndarray | None = None
    line: int | None = None         # where the spec defines it, for error messages
    show: bool = True               # list it in the forward pass
    matrix: bool = False            # a weight matrix: printed 2-D whatever its size

    @property
    def wants_grad(self) -> bool:
        return self.kind in ("input", "param", "op")


@dataclass
class Graph:
    nodes: list[Node] = field(default_factory=list)
    loss_name: str = "L"
    loss_latex: str = "L"
    file: str | None = None

    def leaf(self, name: str, label: Symbol, kind: str, value: np.ndarray, line: int | None = None,
             matrix: bool = False) -> Node:
        return self._add(Node(name, label, kind, value=value, line=line, matrix=matrix))

    def apply(self, op: Op, parents, name: str, label: Symbol, line: int | None = None,
              show: bool = True) -> Node:
        return self._add(Node(name, label, "op", op, tuple(parents), line=line, show=show))

    def _add(self, node: Node) -> Node:
        self.nodes.append(node)
        return node

    # -- names -----------------------------------------------------------------------------

    def grad_symbol(self, node: Node) -> Symbol:
        return Symbol(f"d{self.loss_name}/d{node.name}",
                      rf"\frac{{\partial {self.loss_latex}}}{{\partial {node.label.latex}}}")

    @staticmethod
    def partial_symbol(num: Node, den: Node) -> Symbol:
        return Symbol(f"d{num.name}/d{den.name}",
                      rf"\frac{{\partial {num.label.latex}}}{{\partial {den.label.latex}}}")

    # -- forward ---------------------------------------------------------------------------

    def forward(self) -> None:
        for node in self.nodes:
            if node.op is None:
                continue
            try:
                node.value = node.op.forward([p.value for p in node.parents])
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
            args = [p.label for p in node.parents]
            formula = node.op.formula(args)
            substituted = None
            if not isinstance(node.op, Identity):
                substituted = node.op.formula([Const(T.plain(p.value, p.matrix)) for p in node.parents])
            note = node.op.note([p.value for p in node.parents], node.value, [p.name for p in node.parents])
            solution.add(Step(node.name, section, formula=formula, value=T.plain(node.value),
                              shape=T.math_shape(node.value), substituted=substituted, note=note,
                              label=node.label))

    # -- backward --------------------------------------------------------------------------

    def backward(self, loss: Node, solution: Solution, layout: str = "gradient",
                 section: str = "backward") -> dict[Node, np.ndarray]:
        """Append the chain-rule steps from dL/d(loss) down to every input; return the gradients."""
        consumers: dict[Node, list[tuple[Node, int]]] = {n: [] for n in self.nodes}
        for n in self.nodes:
            for i, p in enumerate(n.parents):
                consumers[p].append((n, i))

        grads: dict[Node, np.ndarray] = {loss: T.ones((1, 1))}
        expanded: dict[Node, Expr | None] = {loss: Const(1)}
        origin: dict[Node, Node | None] = {loss: None}
        for node in self._backward_order(loss, consumers):
            terms = []
            for c, i in consumers[node]:
                if c not in grads or not _wanted(c, i):
                    continue
                xs = [p.value for p in c.parents]
                g = c.op.vjp(i, grads[c], xs, c.value)
                ctx = Ctx(layout, tuple(p.value.shape == (1, 1) for p in c.parents),
                          c.value.shape == (1, 1), origin.get(c), tuple(xs))
                args = [p.label for p in c.parents]
                up_sym = self.grad_symbol(c) if c is not loss else Const(1)
                local = c.op.local(i, up_sym, args, c.label, ctx)
                up_val = Const(T.plain(_layout(grads[c], layout), c.matrix))
                operands = [Const(T.plain(p.value, p.matrix)) for p in c.parents]
                subst = c.op.local(i, up_val, operands, const_of(c.value), ctx)
                exp = None
                if expanded.get(c) is not None:
                    exp = c.op.local(i, expanded[c], args, c.label, ctx)
                    if _size(exp) > MAX_EXPANDED:
                        exp = None
                chain = (self.grad_symbol(c) * self.partial_symbol(c, node)) if c is not loss \
                    else self.partial_symbol(c, node)
                terms.append((c, g, local, subst, exp, chain, i))
            if not terms:
                continue
            total = terms[0][1]
            for t in terms[1:]:
                total, g = T.unify(total, t[1])
                total = total + g
            grads[node] = total
            origin[node] = terms[0][0] if len(terms) == 1 else None
            if len(terms) > 1:
                twice = {t[0] for t in terms if sum(u[0] is t[0] for u in terms) > 1}
                for c, g, local, subst, exp, chain, i in terms:
                    via = f"{c.name} (operand {i + 1})" if c in twice else c.name
                    solution.add(Step(f"{self.grad_symbol(node).text} via {via}", section,
                                      chain=chain, formula=local, expression=exp, substituted=subst,
                                      value=T.plain(_layout(g, layout), node.matrix),
                                      shape=T.math_shape(_layout(g, layout), node.matrix),
                                      note="one path's term", label=None))
            exps = [t[4] for t in terms]
            expanded[node] = sum_of(exps) if all(e is not None for e in exps) else None
            if expanded[node] is not None and _size(expanded[node]) > MAX_EXPANDED:
                expanded[node] = None
            value = _layout(total, layout)
            many = len(terms) > 1
            solution.add(Step(
                self.grad_symbol(node).text, section,
                chain=sum_of(t[5] for t in terms),
                formula=sum_of(t[2] for t in terms),
                expression=expanded[node] if not (many and expanded[node] is None) else None,
                substituted=sum_of(Const(T.plain(_layout(t[1], layout), node.matrix)) for t in terms)
                if many else terms[0][3],
                value=T.plain(value, node.matrix), shape=T.math_shape(value, node.matrix),
                note=f"sum over {len(terms)} paths ({', '.join(t[0].name for t in terms)})" if many else "",
                label=self.grad_symbol(node)))
        return grads

    def gradients(self, loss: Node) -> dict[Node, np.ndarray]:
        """dL/d(node) for every node that reaches the loss, in gradient layout, without records.

        The values must be computed (`forward`) first. For solvers that need gradients as numbers
        only (training steps, optimizers, checks).
        """
        return self.backward(loss, Solution("", ""), "gradient")

    def _backward_order(self, loss: Node, consumers) -> list[Node]:
        """Reverse topological order; operands listed in each rule's `backward_order`.

        A node is ready once every consumer that leads to the loss is done; ready nodes are taken
        first in, first out, so a layer's dL/dW and dL/db come right after dL/d(its output), as the
        sheets list them.
        """
        reach = {loss}
        for n in reversed(self.nodes):
            if n in reach:
                reach.update(n.parents)
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

    def unreachable(self, loss: Node) -> list[Node]:
        reach = {loss}
        for n in reversed(self.nodes):
            if n in reach:
                reach.update(n.parents)
        return [n for n in self.nodes if n not in reach and n.kind in ("op", "param", "input")]


def _wanted(c: Node, i: int) -> bool:
    w = c.op.grads_wanted()
    return w is None or w[i]


def _layout(g: np.ndarray, layout: str) -> np.ndarray:
    """Gradient layout is the parameter's shape; numerator layout is its transpose (row vectors)."""
    return g.T if layout == "numerator" else g


def _size(e) -> int:
    if isinstance(e, Apply):
        return 1 + sum(_size(a) for a in e.args)
    return 1
