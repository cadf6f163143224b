"""Backpropagation as a student writes it: given values, forward pass, chain rule, gradients.

A layered network compiles into graph nodes (`compile_network`); a graph spec compiles into the
same `Graph` (see engine/graphspec.py). Both then go through one forward and one backward pass.
"""

from __future__ import annotations

from hwsolve.core import values as T
from hwsolve.autodiff.graph import Graph, Node
from hwsolve.topics.backprop.compiled import Compiled, kink_notes
from hwsolve.topics.backprop.network_spec import SHAPED_TYPES
from hwsolve.autodiff.batch_ops import BatchLinear, BatchLoss
from hwsolve.autodiff.ops import Activation, Identity, Linear, LossOp, Op, Softmax
from hwsolve.core.errors import SpecError
from hwsolve.core.notation import indexed, symbol
from hwsolve.core.records import Solution, Step

SECTIONS = {
    "given": "Given",
    "forward": "Forward pass",
    "backward": "Backward pass (chain rule, from the loss back to the input)",
    "local": "Local derivatives (each chain-rule factor on its own)",
}


def compile_network(p) -> Compiled:
    """A layered network as graph nodes: W z + b for a linear layer, one rule per activation."""
    n = p.notation
    g = Graph(loss_name=n.loss, loss_latex=symbol(n.loss).latex, file=p.file)
    batch = getattr(p, "batch", None)   # a batch: the examples are the columns of X and Y
    image = getattr(p, "image", None)     # an image for conv layers: H x W or C x H x W
    x = g.leaf(n.input, symbol(n.input), "input", T.exact(p.X if batch else image if image is not None else p.x),
               line=p.doc.lines.get(("input",)), matrix=bool(batch) or image is not None)
    y = g.leaf(n.target, symbol(n.target), "target", T.exact(p.Y if batch else p.y),
               line=p.doc.lines.get(("target",)), matrix=bool(batch))
    current = x
    if n.style == "layered" and n.z0:
        current = g.apply(Identity(), (x,), *_named(indexed(n.post, 0, n.index)))
    params: list[Node] = []
    names = {n.input, n.target, n.loss}
    biases: set[str] = set()     # left out of weight decay's L2 term with biases: false
    linear_no = 0
    for i, layer in enumerate(p.layers):
        where = p.doc.lines.get(("layers", i))
        if layer.kind in SHAPED_TYPES:
            from hwsolve.topics.backprop.network_layers_compile import add_shaped

            # a layer with weights (conv, rnn, attention) counts as a layer, as a dense one
            linear_no += layer.kind in ("conv", "rnn", "attention")
            current, new_params = add_shaped(g, p, layer, current, linear_no, i, names, where)
            params += new_params
            if layer.kind == "conv" and len(new_params) == 2:
                biases.add(new_params[1].name)
            continue
        if layer.kind == "linear":
            linear_no += 1
            parents = _linear_params(g, p, layer, linear_no, where)
            params += parents
            if layer.b is not None:
                biases.add(parents[1].name)
            op: Op = (BatchLinear if batch else Linear)(has_bias=layer.b is not None)
            parents.insert(1, current)
            default = indexed(n.pre, linear_no, n.index) if n.style == "layered" else indexed(n.post, i + 1, n.index)
        else:
            op = Softmax(batch=bool(batch)) if layer.kind == "softmax" else Activation(
                layer.fn, dict(layer.params), layer.scale, p.relu_at_zero if layer.fn.kink is not None else None)
            parents = [current]
            default = indexed(n.post, linear_no if n.style == "layered" else i + 1, n.index)
        sym = symbol(layer.name) if layer.name else default
        if sym.text in names:
            raise SpecError(f"two values would both be called '{sym.text}': give this layer a "
                            "different name (name: ...)", file=p.file, line=where, field=f"layers[{i}]")
        names.add(sym.text)
        current = g.apply(op, parents, sym.text, sym, line=where)
    if n.output and current.name != n.output:
        current = g.apply(Identity(), (current,), *_named(symbol(n.output)))
    loss_op = (BatchLoss(p.loss, y.label, len(p.Y), len(p.X[0]), p.reduction) if batch
               else LossOp(p.loss, y.label, K=len(p.y)))
    if getattr(p, "weight_decay", None) is not None:
        loss = _with_weight_decay(g, p, loss_op, current, y, [q for q in params if p.decay_biases or
                                                              q.name not in biases], names)
    else:
        loss = g.apply(loss_op, (current, y), n.loss, symbol(n.loss), line=p.doc.lines.get(("loss",)))
    seen: set[str] = set()
    for prm in params:
        if prm.name in seen or prm.name in names:
            raise SpecError(f"two parameters are both called '{prm.name}'", file=p.file, line=prm.line)
        seen.add(prm.name)
    return Compiled(g, loss, [*params, x], _network_notes(p), p.layout)


def _with_weight_decay(g: Graph, p, loss_op: Op, current: Node, y: Node, decayed: list[Node],
                       names: set[str]) -> Node:
    """L = L_data + R, R = lambda/2 (the sum of the squared parameters): L2 in the loss (weight decay).
    Each decayed parameter then has two paths to L, through its layer and through R: dL/dW = ... + lambda W."""
    from hwsolve.autodiff.ops import L2Penalty, Sum

    n, where = p.notation, p.doc.lines.get(("loss",))
    data_sym, r_sym = symbol(f"{n.loss}_data"), symbol("R")
    for sym in (data_sym, r_sym):
        if sym.text in names:
            raise SpecError(f"'{sym.text}' is the name of the data loss or the L2 term with weight_decay: "
                            "rename the layer", file=p.file, line=where)
        names.add(sym.text)
    data = g.apply(loss_op, (current, y), data_sym.text, data_sym, line=where)
    penalty = g.apply(L2Penalty(p.weight_decay), decayed, r_sym.text, r_sym, line=p.doc.lines.get(("weight_decay",)))
    return g.apply(Sum((1, 1)), (data, penalty), n.loss, symbol(n.loss), line=where)


def _linear_params(g: Graph, p, layer, number: int, where) -> list[Node]:
    """W (and b) of the number-th linear layer, named by the course's notation or the spec."""
    n = p.notation
    w_sym = symbol(layer.W_name) if layer.W_name else indexed(n.weight, number, n.index)
    out = [g.leaf(w_sym.text, w_sym, "param", T.exact(layer.W), line=where, matrix=True)]
    if layer.b is not None:
        b_sym = symbol(layer.b_name) if layer.b_name else indexed(n.bias, number, n.index)
        out.append(g.leaf(b_sym.text, b_sym, "param", T.exact([[v] for v in layer.b]), line=where))
    return out


def _network_notes(p) -> list[str]:
    notes = [f"Loss: {p.loss.description}."]
    if getattr(p, "weight_decay", None) is not None:
        from hwsolve.core.numfmt import fmt_number

        over = ("every weight and bias (as PyTorch's weight_decay)" if p.decay_biases
                else "the weights only (biases: false)")
        notes.append(f"Weight decay as L2 in the loss: {p.notation.loss} = {p.notation.loss}_data + R, R = lambda/2 "
                     f"(sum of squares) over {over}, lambda = {fmt_number(p.weight_decay)}; so each decayed "
                     f"parameter's gradient gains lambda times itself (the path through R).")
    if getattr(p, "batch", None):
        notes += _batch_notes(p)
    shaped = {layer.kind for layer in p.layers if layer.kind in SHAPED_TYPES}
    if shaped:
        from hwsolve.topics.backprop.network_layers_compile import shaped_notes

        notes += shaped_notes(shaped)
    notes += kink_notes([(layer.fn, layer.params) for layer in p.layers if layer.kind == "activation"],
                        p.relu_at_zero)
    if p.layout == "numerator":
        notes.append("Numerator layout: dL/dv is a row vector (the Jacobian of L), and dL/dW "
                     "is the transpose of W's shape.")
    else:
        notes.append("Gradient layout: each gradient has the shape of its variable "
                     "(numerator-layout Jacobians are their transposes).")
    return notes


def _batch_notes(p) -> list[str]:
    m = len(p.X[0])
    given = "one example per row of the spec" if p.batch == "rows" else "one example per column"
    factor = (f"the MEAN over the {m} examples: L = 1/{m} * sum_j L_j (the factor 1/{m} is in every "
              "gradient)" if p.reduction == "mean" else
              f"the SUM over the {m} examples: L = sum_j L_j (no 1/{m}; reduction: mean divides by {m})")
    return [f"Batch of {m} examples ({given}); computed with the examples as the columns of "
            f"{p.notation.input} ({len(p.X)}x{m}): W X + b adds b to every column, and dL/dW = "
            "dL/dA X^T and dL/db = dL/dA 1 sum over the examples.", f"Batch loss: {factor}."]


def _named(sym):
    return sym.text, sym


def compile_problem(problem) -> Compiled:
    if problem.kind == "graph":
        from hwsolve.topics.backprop.graph_compile import compile_graph

        return compile_graph(problem)
    return compile_network(problem)


# A network at most this wide is solved on pure-Python exact matrices (QMatrix) while its values
# are rational: numpy's import costs more than such a network's whole solution (issue 17).
SMALL_EXACT_WIDTH = 64


def small_exact(problem) -> bool:
    """True for a one-example layered network no wider than SMALL_EXACT_WIDTH."""
    if getattr(problem, "kind", None) != "network" or getattr(problem, "batch", None):
        return False
    widths = [len(problem.x), *(len(layer.W) for layer in problem.layers if layer.kind == "linear")]
    return max(widths) <= SMALL_EXACT_WIDTH


def solve(problem, picture: bool = True) -> Solution:
    """The solution; `picture`: also the graph's drawing record (`Solution.graph`, read only by
    render/dot). The command line asks for it only with --dot, --svg or --png."""
    with T.small_exact(small_exact(problem)):
        return _solve(problem, picture)


def _solve(problem, picture: bool = True) -> Solution:
    c = compile_problem(problem)
    g = c.graph
    g.forward()
    sol = Solution(problem.title, "backprop", sections=dict(SECTIONS))
    for node in g.nodes:
        if node.op is None:
            sol.add(Step(node.name, "given", value=T.plain(node.val, node.matrix),
                         shape=T.math_shape(node.val, node.matrix),
                         label=node.label))
    g.forward_steps(sol)
    g.backward(c.loss, sol, c.layout)
    for node in g.unreachable(c.loss):
        sol.notes.append(f"'{node.name}' does not reach the loss: its gradient is 0.")
    sol.notes[:0] = c.notes
    if picture:
        output_mode = getattr(getattr(problem, "loss", None), "output", False)
        printed = {s.name: s.value for s in sol.in_section("backward")}
        sol.graph = g.picture(sol.title, c.loss, printed, loss_drawn=not output_mode)
    grad_names = [g.grad_symbol(n).text for n in c.summary]
    written = {s.name for s in sol.steps}
    sol.summary = [name for name in grad_names if name in written]
    sol.summary_title = "Gradients"
    if getattr(problem, "per_example", False):
        _per_example(problem, c, sol)
    sol.layout = c.layout
    return sol


def _per_example(p, batch: Compiled, sol: Solution) -> None:
    """Each example alone (the one-example network on column j): its output, loss and gradients,
    named `yhat (example 1)`, `dL/dW[1] (example 1)`. The batch's gradient is their mean or sum."""
    from dataclasses import replace

    sol.sections["examples"] = "Per example (each alone; the batch gradient is their " + \
        ("mean)" if p.reduction == "mean" else "sum)")
    wanted = [n.name for n in batch.summary if n.kind == "param"]
    for j in range(len(p.X[0])):
        one = replace(p, batch=None, x=[row[j] for row in p.X], y=[row[j] for row in p.Y], per_example=False)
        c = compile_network(one)
        c.graph.forward()
        grads = c.graph.gradients(c.loss)
        out = c.loss.parents[0]   # the output the loss reads
        shown = [(out.name, out.val, False), (c.loss.name, c.loss.val, False)]
        shown += [(c.graph.grad_symbol(n).text, grads[n], n.matrix) for n in c.graph.nodes
                  if n.name in wanted and n in grads]
        for name, value, matrix in shown:
            sol.add(Step(f"{name} (example {j + 1})", "examples", value=T.plain(value, matrix),
                         shape=T.math_shape(value, matrix)))
