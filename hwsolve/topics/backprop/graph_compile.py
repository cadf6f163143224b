"""Compile a graph spec (kind: graph) into the one `Graph` that layered networks also use.

Every operation becomes a node: the operation at the top of a spec line takes the line's name
(H4), an operation inside it is named by its own expression, bracketed: ``(H2 / H1)``,
``(X1 + X2)``, ``sigmoid(R)``. Chains of + and - become one sum node, chains of * one product node,
so ``X1 * X2 * X3 + B1`` is two nodes, as a student draws it. Numbers are constants (no gradient)
and an all-number sub-expression is folded exactly (``1/2`` is the constant 1/2).

The same name always means the same operation on the same operands, so a repeated
sub-expression is one node used twice, and its gradient is summed over both uses.
There is no backward pass here: `Graph.backward` is the only one.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from hwsolve.core import values as T
from hwsolve.topics.backprop.compiled import Compiled, kink_notes
from hwsolve.autodiff import tensor_ops as TO
from hwsolve.autodiff.functions import ELEMENTWISE, Elementwise
from hwsolve.autodiff.graph import Graph, Node
from hwsolve.autodiff.ops import (ConstOp, Extremum, Function, Identity, LossOp, Negate, Op, Power,
                                Product, Quotient, Sum)
from hwsolve.core.errors import MathError, SpecError
from hwsolve.core.notation import symbol
from hwsolve.core.numfmt import fmt_exact, fmt_number
from hwsolve.spec import expr as E
from hwsolve.core.sym import Apply, Const, Symbol, to_latex, to_text

MAX_GRAPH_NODES = 5000
SCALAR = (1, 1)


def _value(v) -> np.ndarray:
    """A spec value as an array: a number is (1, 1); rows of numbers are exact unless one is a float."""
    rows = v if isinstance(v, list) else [[v]]
    if all(isinstance(x, Fraction) for row in rows for x in row):
        return T.exact(rows)
    return np.array([[float(x) for x in row] for row in rows])


class _Builder:
    def __init__(self, p, g: Graph):
        self.p = p
        self.g = g
        self.env: dict[str, Node] = {}
        self.made: dict[str, Node] = {}       # a constant's key -> its node
        # an operation inside a line, by its name, rule (class and constants) and operands -> its node
        self.operations: dict[tuple, Node] = {}
        self.names: set[str] = set()          # the names those operations took
        self.spec_nodes: set[str] = set()
        self.kinds: set[str] = set()          # which kinds of rule were used, for the notes
        self.kinked: list = []                # (entry, bound parameters) of every kinked function used
        self.shapes: dict[Node, tuple[int, ...]] = {}   # every operation's shape, known at compile time

    def error(self, owner: str, line, message: str) -> SpecError:
        field = "loss" if owner == self.p.loss.name and not self.p.loss.output else f"nodes.{owner}"
        return SpecError(f"node '{owner}': {message}", file=self.p.file, line=line, field=field)

    # -- one spec line ------------------------------------------------------------------------

    def line(self, name: str, tree, line) -> Node:
        node = self.build(tree, name, line, top=name)
        self.spec_nodes.add(name)
        self.env[name] = node
        return node

    def build(self, tree, owner: str, line, top: str | None = None) -> Node:
        folded = E.fold(tree)
        if folded is not None:
            return self.const(folded, owner, line, top)
        if isinstance(tree, E.Name):
            src = self.env[tree.name]
            if top is None:
                return src
            return self.op(Identity(), (src,), owner, line, top)
        if isinstance(tree, E.Unary):
            return self.op(Negate(), (self.build(tree.arg, owner, line),), owner, line, top)
        if isinstance(tree, E.Bin):
            return self.binary(tree, owner, line, top)
        if isinstance(tree, E.Call):
            return self.call(tree, owner, line, top)
        raise AssertionError(f"unknown expression node {tree!r}")

    def binary(self, tree: E.Bin, owner, line, top) -> Node:
        """Scalar operands keep the scalar rules (Sum, Product, ...); any tensor operand takes
        the element-wise, broadcasting ones (Add, Mul, ...)."""
        if tree.op in "+-":
            terms = _terms(tree)
            parents = tuple(self.build(t, owner, line) for _, t in terms)
            signs = tuple(s for s, _ in terms)
            return self.op(Sum(signs) if self.scalars(parents) else TO.Add(signs), parents, owner, line, top)
        if tree.op == "*":
            parents = tuple(self.build(t, owner, line) for t in _factors(tree))
            return self.op(Product() if self.scalars(parents) else TO.Mul(), parents, owner, line, top)
        a, b = self.build(tree.left, owner, line), self.build(tree.right, owner, line)
        if tree.op == "@":
            return self.op(TO.MatMul(), (a, b), owner, line, top)
        if tree.op == "/":
            if isinstance(b.op, ConstOp) and b.op.value == 0:
                raise self.error(owner, line, "division by zero: the divisor is the number 0")
            return self.op(Quotient() if self.scalars((a, b)) else TO.Div(), (a, b), owner, line, top)
        if self.scalars((a, b)):
            return self.op(Power(), (a, b), owner, line, top)
        exponent = E.fold(tree.right)
        if exponent is None:
            raise self.error(owner, line, "a vector or matrix can be raised to a number only "
                             "(x^2, entry by entry), not to a value of the graph")
        return self.op(TO.ElementPower(exponent), (a,), owner, line, top)

    def call(self, tree: E.Call, owner, line, top) -> Node:
        axis = dict(tree.kwargs).get("axis")
        if axis is not None and tree.fn not in TO.AXIS_FUNCTIONS:
            raise self.error(owner, line, f"{tree.fn} takes no axis= (axis= is for "
                             f"{', '.join(sorted(TO.AXIS_FUNCTIONS))})")
        table = TO.table_functions()
        if tree.fn in table:
            return self.function(table[tree.fn], tree, owner, line, top)
        if tree.fn in TO.LAYER_FUNCTIONS:
            return self.layer(tree, owner, line, top)
        parents = tuple(self.build(a, owner, line) for a in tree.args)
        if tree.fn in ("min", "max") and self.scalars(parents):
            self.kinds.add("extremum")
            return self.op(Extremum(tree.fn, self.p.tie), parents, owner, line, top)
        return self.op(self.tensor_rule(tree, parents, axis, owner, line), parents, owner, line, top)

    def layer(self, tree: E.Call, owner, line, top) -> Node:
        """The layer rules of autodiff/layer_ops.py as functions: conv2d(X, K[, stride[, padding]]),
        max/avg pooling(X, window[, stride]); batchnorm / layernorm(X, gamma, beta[, eps]),
        dropout(X, M, p), attention(Q, K, V[, M]), rnn_step(W_hh, h, W_xh, x, b). Sizes and
        probabilities are numbers; a layer made of two rules (normalise then scale and shift,
        weights then A @ V, pre-activation then tanh) is two nodes, so each step prints."""
        if tree.fn in ("conv2d", "maxpool", "avgpool"):
            return self.conv_or_pool(tree, owner, line, top)
        if tree.fn in ("batchnorm", "layernorm"):
            return self.norm(tree, owner, line, top)
        if tree.fn == "dropout":
            return self.dropout(tree, owner, line, top)
        if tree.fn == "attention":
            return self.attention(tree, owner, line, top)
        return self.rnn_step(tree, owner, line, top)

    def conv_or_pool(self, tree: E.Call, owner, line, top) -> Node:
        from hwsolve.autodiff import layer_ops as LO

        operands = 2 if tree.fn == "conv2d" else 1
        sizes = []
        for k, arg in enumerate(tree.args[operands:]):
            n = E.fold(arg)
            if n is None or n.denominator != 1 or n < (1 if tree.fn != "conv2d" or k == 0 else 0):
                raise self.error(owner, line, f"{tree.fn}'s sizes (argument {operands + k + 1}) must be "
                                 f"whole numbers, e.g. {tree.fn}(X, {'K, 2, 1' if operands == 2 else '2'})")
            sizes.append(int(n))
        parents = tuple(self.build(a, owner, line) for a in tree.args[:operands])
        if tree.fn == "conv2d":
            stride, padding = (sizes + [1, 0][len(sizes):])[:2]
            rule: Op = LO.Conv2d(stride=stride, padding=padding, has_bias=False)
        else:
            pool = LO.MaxPool2d if tree.fn == "maxpool" else LO.AvgPool2d
            rule = pool(sizes[0], sizes[1] if len(sizes) > 1 else None)
        self.kinds.add(tree.fn)
        return self.op(rule, parents, owner, line, top)

    def number_arg(self, tree: E.Call, k: int, owner, line, what: str, example: str) -> Fraction:
        value = E.fold(tree.args[k])
        if value is None:
            raise self.error(owner, line, f"{tree.fn}'s {what} (argument {k + 1}) must be a number, "
                             f"e.g. {example}")
        return value

    def norm(self, tree: E.Call, owner, line, top) -> Node:
        """xhat = normalize(X) (the statistics), then gamma ⊙ xhat + beta: two nodes."""
        from hwsolve.autodiff import layer_ops as LO

        eps = Fraction(1, 100000)
        if len(tree.args) == 4:
            eps = self.number_arg(tree, 3, owner, line, "epsilon", f"{tree.fn}(X, gamma, beta, 1/100000)")
            if eps < 0:
                raise self.error(owner, line, f"{tree.fn}'s epsilon must be 0 or more, got {fmt_number(eps)}")
        x, gamma, beta = (self.build(a, owner, line) for a in tree.args[:3])
        batch = tree.fn == "batchnorm"
        normalise = LO.Normalize(eps, "columns" if batch else "rows", "xhat_batch" if batch else "xhat_layer")
        xhat = self.op(normalise, (x,), owner, line, None)
        self.kinds.add(tree.fn)
        return self.op(LO.ScaleShift("columns"), (xhat, gamma, beta), owner, line, top)

    def dropout(self, tree: E.Call, owner, line, top) -> Node:
        from hwsolve.autodiff import layer_ops as LO

        p = self.number_arg(tree, 2, owner, line, "drop probability p", "dropout(X, M, 1/2)")
        if not 0 <= p < 1:
            raise self.error(owner, line, f"dropout's p must be in [0, 1), got {fmt_number(p)}")
        parents = tuple(self.build(a, owner, line) for a in tree.args[:2])
        self.kinds.add("dropout")
        return self.op(LO.Dropout(None, p), parents, owner, line, top)

    def attention(self, tree: E.Call, owner, line, top) -> Node:
        """A = softmax(Q K^T / sqrt(d) [+ mask]) row by row, then A @ V: two nodes."""
        from hwsolve.autodiff import layer_ops as LO

        q, k, v, *mask = (self.build(a, owner, line) for a in tree.args)
        weights = self.op(LO.AttentionWeights(masked=bool(mask)), (q, k, *mask), owner, line, None)
        self.kinds.add("attention")
        return self.op(TO.MatMul(), (weights, v), owner, line, top)

    def rnn_step(self, tree: E.Call, owner, line, top) -> Node:
        """a = W_hh h + W_xh x + b, then h' = tanh(a): two nodes."""
        from hwsolve.autodiff import layer_ops as LO

        parents = tuple(self.build(a, owner, line) for a in tree.args)
        pre = self.op(LO.RNNPreactivation(), parents, owner, line, None)
        tanh = ELEMENTWISE["tanh"]
        rule = Function if self.scalars((pre,)) else TO.TensorFunction
        self.kinds.add("rnn_step")
        return self.op(rule(tanh, dict(tanh.params), None, None), (pre,), owner, line, top)

    def function(self, fn: Elementwise, tree: E.Call, owner, line, top) -> Node:
        """A function of the activation table: its operand, then its parameters as numbers."""
        given = {}
        for k, (name, arg) in enumerate(zip(fn.params, tree.args[1:], strict=False)):
            value = E.fold(arg)
            if value is None:
                raise self.error(owner, line, f"the {name} of {tree.fn} (argument {k + 2}) must be a "
                                 f"number, e.g. {tree.fn}(z1, 0.1)")
            given[name] = value
        try:
            params = fn.bind(given)
        except ValueError as e:
            raise self.error(owner, line, str(e)) from None
        at_zero = self.p.relu_at_zero if fn.kink is not None else None
        if fn.kink is not None:
            self.kinds.add(fn.key)
            self.kinked.append((fn, params))
        parent = self.build(tree.args[0], owner, line)
        rule = Function if self.scalars((parent,)) else TO.TensorFunction
        return self.op(rule(fn, params, None, at_zero), (parent,), owner, line, top)

    def tensor_rule(self, tree: E.Call, parents, axis, owner, line) -> TO.TensorOp:
        fn = tree.fn
        if fn in ("min", "max", "minimum", "maximum"):
            if len(parents) != 2:
                raise self.error(owner, line, f"{fn} of vectors or matrices takes two operands, "
                                 "entry by entry (minimum(a, b))")
            self.kinds.add("elementwise extremum")
            return TO.Extreme({"min": "minimum", "max": "maximum"}.get(fn, fn), self.p.tie)
        if fn == "transpose":
            return TO.Transpose()
        if fn in ("sum", "mean"):
            return TO.Reduce(fn, self.axis(axis, parents[0]))
        if fn == "flatten":
            return TO.Reshape(None)
        if fn == "reshape":
            return TO.Reshape(self.dims(tree, owner, line))
        over = self.axis(axis, parents[0])
        over = 0 if over is None else over
        rules = {"softmax": TO.TensorSoftmax, "log_softmax": TO.LogSoftmax,
                 "softmax_cross_entropy": TO.SoftmaxCrossEntropy}
        if fn in rules:
            return rules[fn](over)
        if fn == "cross_entropy":
            return TO.CrossEntropy()
        raise AssertionError(f"no rule for the function {fn}")

    def axis(self, axis: int | None, parent: Node) -> int | None:
        """axis=-1 is the last axis, as in numpy."""
        if axis is None or axis >= 0:
            return axis
        return axis + len(self.shape_of(parent))

    def dims(self, tree: E.Call, owner, line) -> tuple[int, ...]:
        dims = []
        for arg in tree.args[1:]:
            n = E.fold(arg)
            if n is None or n.denominator != 1 or n < 1:
                raise self.error(owner, line, "reshape's sizes must be positive whole numbers, "
                                 "e.g. reshape(x, 2, 3)")
            dims.append(int(n))
        if len(dims) == 1:
            dims.append(1)  # reshape(x, 6) is a column, as a list value is
        return tuple(dims)

    # -- shapes -------------------------------------------------------------------------------

    def shape_of(self, node: Node) -> tuple[int, ...]:
        if node.op is None:
            return node.val.shape
        return SCALAR if isinstance(node.op, ConstOp) else self.shapes[node]

    def scalars(self, parents) -> bool:
        return all(self.shape_of(p) == SCALAR for p in parents)

    def check_shape(self, op, parents, owner, line, names) -> tuple[int, ...]:
        """The output's shape, or the one-line error naming the node and the operands' shapes."""
        shapes = [self.shape_of(p) for p in parents]
        if isinstance(op, (TO.TensorOp, TO.TensorFunction)):
            try:
                return op.shape(shapes)
            except TO.ShapeError as e:
                raise self.error(owner, line, e.message.format(*names)) from None
        if hasattr(op, "out_shape"):   # a layer rule (convolution, pooling)
            try:
                return tuple(op.out_shape(*shapes))
            except MathError as e:
                raise self.error(owner, line, f"{', '.join(names)}: {e.message}") from None
        if isinstance(op, (Identity, Negate)):
            return shapes[0]
        if isinstance(op, LossOp) and shapes[0] != shapes[1]:
            raise self.error(owner, line, f"the prediction {names[0]} is {TO.fmt_shape(shapes[0])} but the "
                             f"target {names[1]} is {TO.fmt_shape(shapes[1])}")
        return SCALAR

    # -- nodes --------------------------------------------------------------------------------

    def const(self, value: Fraction, owner, line, top) -> Node:
        op = ConstOp(value)
        if top is not None:  # a node defined as a number: shown, no gradient
            node = self.g.apply(op, (), top, symbol(top), line=line)
            node.kind = "const"
            return node
        key = "const " + str(value)
        if key not in self.made:
            node = self.g.apply(op, (), fmt_number(value), Const(value), line=line, show=False)
            node.kind = "const"
            self.made[key] = node
        return self.made[key]

    def op(self, op, parents, owner, line, top) -> Node:
        if len(self.g.nodes) >= MAX_GRAPH_NODES:
            raise self.error(owner, line, f"the graph has more than {MAX_GRAPH_NODES} operations")
        formula = op.formula([p.label for p in parents])
        shape = self.check_shape(op, parents, owner, line, [to_text(p.label) for p in parents])
        if top is not None:
            op.owner = None
            node = self.g.apply(op, parents, top, symbol(top), line=line)
            self.shapes[node] = shape
            return node
        bare = isinstance(formula, Apply) and formula.op == "call"   # f(x), min(a, b), sum(x)
        text = to_text(formula) if bare else f"({to_text(formula)})"
        latex = to_latex(formula) if bare else rf"\left({to_latex(formula)}\right)"
        # The same rule with the same constants on the same operand nodes: the same operation, one
        # node used twice. A name alone is not enough: a formula leaves some constants out
        # (maxpool(X) of window 2 or of window 3) and prints a long one rounded (max(a, ≈2) for
        # 2.00000000000001 and 1.99999999999999, two constant nodes). Another operation with a
        # name already taken is named with its constants, never merged with it.
        key = (text, op.__class__, op.constants(), tuple(parents))
        if key in self.operations:
            return self.operations[key]
        if text in self.names:
            text, latex = _with_constants(text, latex, op.constants(), self.names)
        op.owner = owner
        node = self.g.apply(op, parents, text, Symbol(text, latex), line=line)
        self.operations[key] = node
        self.names.add(text)
        self.shapes[node] = shape
        return node


def _with_constants(text: str, latex: str, constants, taken: set[str]) -> tuple[str, str]:
    """`maxpool(X)` as `maxpool(X; window=3, stride=3, padding=0)`: the name of a sub-expression
    whose formula is already another operation's name, the constants inside its last bracket
    (numbered as a last resort, when even those are taken: a rule that prints none)."""
    words = ", ".join(f"{name}={_constant_text(value)}" for name, value in constants)
    inner, close = (text[:-1], ")") if text.endswith(")") else (text, "")
    inner_tex, close_tex = (latex[:-len(r"\right)")], r"\right)") if latex.endswith(r"\right)") else (latex, "")
    for k in range(1, MAX_GRAPH_NODES + 2):
        extra = ", ".join(w for w in (words, f"#{k}" if k > 1 else "") if w)
        if not extra:
            continue
        name = f"{inner}; {extra}{close}"
        if name not in taken:
            return name, rf"{inner_tex};\ \text{{{_latex_text(extra)}}}{close_tex}"
    raise AssertionError("unreachable: fewer names are taken than there are operations")


def _constant_text(value) -> str:
    """2 for (2, 2) (a square window or stride), (2, 1) for two sizes, 0.00001, false; a number
    that prints rounded (≈0.1235) exactly, as it tells two constants apart."""
    if isinstance(value, tuple):
        return _constant_text(value[0]) if len(set(value)) == 1 else \
            "(" + ", ".join(_constant_text(v) for v in value) + ")"
    text = fmt_number(value)
    return fmt_exact(value) if text.startswith("≈") and isinstance(value, (int, Fraction)) else text


def _latex_text(text: str) -> str:
    return text.replace("#", r"\#").replace("_", r"\_")


def _terms(tree) -> list[tuple[int, object]]:
    """a - b + c as [(+1, a), (-1, b), (+1, c)]: the left spine of + and -."""
    out = []
    while isinstance(tree, E.Bin) and tree.op in "+-" and E.fold(tree) is None:
        out.append((1 if tree.op == "+" else -1, tree.right))
        tree = tree.left
    if isinstance(tree, E.Unary) and E.fold(tree) is None:
        out.append((-1, tree.arg))
    else:
        out.append((1, tree))
    return out[::-1]


def _factors(tree) -> list[object]:
    out = []
    while isinstance(tree, E.Bin) and tree.op == "*" and E.fold(tree) is None:
        out.append(tree.right)
        tree = tree.left
    out.append(tree)
    return out[::-1]


LAYER_NOTES = {
    "batchnorm": "batchnorm(X, gamma, beta, eps) in training mode: xhat_batch(X) normalises each column (a feature) "
                 "with the batch's mean and biased variance (divide by N), sigma = sqrt(var + eps) (exact when "
                 "var + eps is the square of a rational, a float otherwise; eps defaults to 1/100000), then "
                 "gamma ⊙ xhat + beta; dL/dX is the compact form.",
    "layernorm": "layernorm(X, gamma, beta, eps): xhat_layer(X) normalises each row (an example) over its "
                 "features (biased variance, sigma = sqrt(var + eps)), then gamma ⊙ xhat + beta per column.",
    "dropout": "dropout(X, M, p) is inverted dropout with the given 0/1 mask M: M ⊙ X / (1 - p); the backward "
               "pass uses the same mask and scale; M gets no gradient.",
    "attention": "attention(Q, K, V, M) is one head: A = softmax(Q K^T / sqrt(d)) row by row (masked scores, "
                 "M = 0, are -inf: weight 0), then A @ V; dL/dA goes back through the softmax Jacobian row by "
                 "row; M gets no gradient.",
    "rnn_step": "rnn_step(W_hh, h, W_xh, x, b) is one vanilla-RNN step: the pre-activation W_hh h + W_xh x + b, "
                "then tanh; unroll it by writing one line per time step.",
}


def _layer_notes(kinds: set[str]) -> list[str]:
    return [note for key, note in LAYER_NOTES.items() if key in kinds]


def compile_graph(p) -> Compiled:
    g = Graph(loss_name=p.loss.name, loss_latex=symbol(p.loss.name).latex, file=p.file)
    b = _Builder(p, g)
    for kind, vals in (("input", p.inputs), ("param", p.params), ("target", p.targets)):
        for v in vals:
            b.env[v.name] = g.leaf(v.name, symbol(v.name), kind, _value(v.value), line=v.line,
                                   matrix=getattr(v, "matrix", False))
    for n in p.nodes:
        b.line(n.name, n.tree, n.line)
    loss = p.loss
    if loss.output:
        out = b.env[loss.prediction]
    elif loss.library is not None:
        pair = (b.env[loss.prediction], b.env[loss.target])
        rows, cols = b.shape_of(pair[0])
        # K = every entry of the prediction: the 1/K of mse, bce, huber is printed and computed alike
        op = LossOp(loss.library, b.env[loss.target].label, K=rows * cols)
        b.check_shape(op, pair, loss.name, loss.line, [loss.prediction, loss.target])
        out = g.apply(op, pair, loss.name, symbol(loss.name), line=loss.line)
        b.shapes[out] = SCALAR
    else:
        out = b.line(loss.name, loss.tree, loss.line)
    if out.kind == "const":
        raise SpecError(f"'{out.name}' is a constant: there is nothing to differentiate",
                        file=p.file, line=loss.line)
    if b.shape_of(out) != SCALAR:
        shape = TO.fmt_shape(b.shape_of(out))
        raise SpecError(f"'{out.name}' is {shape}: the value differentiated must be a number (1x1); "
                        f"reduce it first, e.g. sum(...) or mean(...)", file=p.file, line=loss.line)

    notes = []
    if loss.output:
        notes.append(f"No loss: the gradients are of the output {loss.name} "
                     f"(d{loss.name}/dv for every value v).")
    elif loss.library is not None:
        notes.append(f"Loss: {loss.name} = {loss.library.text} of {loss.prediction} "
                     f"against {loss.target}.")
    else:
        notes.append(f"Loss: {loss.name} = {loss.text}.")
    if any(n.op is not None and n.kind == "op" and n.name not in b.spec_nodes and n is not out
           for n in g.nodes):
        notes.append("Each operation is one node: an operation inside a line is named by its own "
                     "expression in brackets, e.g. (X1 + X2); a node used by several others gets "
                     "the sum of one chain-rule term per use.")
    if "extremum" in b.kinds:
        notes.append("min/max pass the gradient to the operand they take (derivative 1) and 0 to "
                     "the others; on a tie " + (
                         "the first tied operand listed takes it (convention; set "
                         "conventions.min_max_tie: split to share it)." if p.tie == "first" else
                         "it is split equally between the tied operands (convention)."))
    # a kinked function of the table beyond the classic three, with its own parameters (ELU_0.5'(0) = 0.5)
    notes += kink_notes([(fn, prm) for fn, prm in b.kinked if fn.key not in ("relu", "leaky_relu", "abs")],
                        p.relu_at_zero, "(convention; set conventions.relu_prime_at_zero to change it).", prefix=True)
    if b.kinds & {"relu", "leaky_relu", "abs"}:
        at = p.relu_at_zero
        notes.append("At 0, ReLU'(0) and LeakyReLU'(0) are taken as "
                     + (fmt_number(at) if at is not None else "0 and the slope")
                     + " (convention; set conventions.relu_prime_at_zero to change it); "
                     "abs'(0) = 0.")
    notes += _layer_notes(b.kinds)
    notes += list(p.notes)
    order = {name: i for i, name in enumerate(p.spec_order)}
    named = sorted((b.env[n] for n in b.spec_nodes if b.env[n] is not out),
                   key=lambda n: -order.get(n.name, -1))
    params = [b.env[v.name] for v in p.params]
    inputs = [b.env[v.name] for v in p.inputs]
    return Compiled(g, out, named + params + inputs, notes, "gradient")
