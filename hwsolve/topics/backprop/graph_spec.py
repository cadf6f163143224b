"""The computational-graph spec (kind: graph): named values and nodes defined by expressions.

    hwsolve: 1
    kind: graph
    inputs:  {X1: 2, X2: -1}
    params:  {W1: 1.5}
    targets: {Y: 1}
    nodes:
      H1: W1 * (X1 + X2)
      Yhat: sigmoid(H1)
    loss: bce                      # or {type: bce, prediction: Yhat, target: Y}, or an expression

See docs/graph-spec.md. Parsing checks names, cycles, functions and the expressions' syntax, and
sorts the nodes topologically; values are computed later by the engine (engine/graphspec.py).
"""

from __future__ import annotations

import difflib
import keyword
import re
from dataclasses import dataclass, field
from fractions import Fraction

from hwsolve.autodiff.functions import Loss, lookup_loss
from hwsolve.topics.rules_spec import expression_functions, loss_param_keys, read_loss
from hwsolve.core.errors import SpecError
from hwsolve.spec import expr as E
from hwsolve.spec.loader import Doc, Field

TOP_KEYS = {"hwsolve", "kind", "title", "inputs", "params", "parameters", "targets", "nodes",
            "loss", "output", "conventions", "notes", "rubric"}
CONVENTION_KEYS = {"relu_prime_at_zero", "min_max_tie"}
MAX_NODES = 500
MAX_VALUES = 500

NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\[[A-Za-z0-9]+\])?$")


@dataclass
class Value:
    name: str
    value: Fraction | float | list   # a number, or rows of numbers (a column vector is [[1], [2]])
    line: int | None
    matrix: bool = False             # written as a list of lists: printed 2-D whatever its shape


@dataclass
class NodeSpec:
    name: str
    text: str
    tree: object
    line: int | None
    deps: list[str] = field(default_factory=list)


@dataclass
class LossSpec:
    name: str = "L"
    library: Loss | None = None
    prediction: str | None = None
    target: str | None = None
    tree: object = None           # an expression loss
    text: str = ""
    output: bool = False          # `output: w`: the gradients are of a node, no loss
    line: int | None = None


@dataclass
class GraphProblem:
    file: str
    title: str
    inputs: list[Value]
    params: list[Value]
    targets: list[Value]
    nodes: list[NodeSpec]          # in topological order (spec order where free)
    loss: LossSpec
    relu_at_zero: Fraction | float | None = None
    tie: str = "first"
    notes: list[str] = field(default_factory=list)
    doc: Doc | None = None
    kind: str = "graph"
    spec_order: list[str] = field(default_factory=list)


def parse_graph(doc: Doc) -> GraphProblem:
    root = doc.root
    root.mapping(TOP_KEYS)
    title = root["title"].text() if root.has("title") else doc.file
    inputs, params, targets, given = _given_values(root, doc)
    nodes = _nodes(root, given)
    nf = root["nodes"]
    known = set(given) | {n.name for n in nodes}
    for n in nodes:
        for dep in n.deps:
            if dep not in known:
                raise nf[n.name].error(_undefined(dep, n.name, known))
    order = _toposort(nodes, nf)
    loss = _loss(root, nodes, targets, known)
    relu0, tie = _conventions(root)
    notes = []
    if root.has("notes"):
        v = root["notes"].value
        notes = [root["notes"].text()] if isinstance(v, str) else [i.text() for i in root["notes"].items()]
    return GraphProblem(doc.file, title, inputs, params, targets, order, loss, relu0, tie, notes,
                        doc, spec_order=[n.name for n in nodes])


def _given_values(root: Field, doc: Doc) -> tuple[list[Value], list[Value], list[Value], dict[str, str]]:
    """inputs, params (or parameters) and targets, and which of them each name is."""
    inputs = _values(root, "inputs")
    pkey = "parameters" if root.has("parameters") else "params"
    if root.has("params") and root.has("parameters"):
        raise root["parameters"].error("give 'params' or 'parameters', not both")
    params = _values(root, pkey)
    targets = _values(root, "targets")
    given: dict[str, str] = {}
    for kind, vals in (("input", inputs), ("parameter", params), ("target", targets)):
        for v in vals:
            if v.name in given:
                raise SpecError(f"'{v.name}' is defined twice (as {given[v.name]} and as {kind})",
                                file=doc.file, line=v.line, field=v.name)
            given[v.name] = kind
    if not inputs and not params:
        raise root.error("a graph needs at least one input or parameter (inputs: {x: 1})")
    return inputs, params, targets, given


def _nodes(root: Field, given: dict[str, str]) -> list[NodeSpec]:
    """The `nodes:` lines, each parsed by hwsolve's own grammar (never eval)."""
    if not root.has("nodes"):
        raise root.error("missing required key 'nodes' (name: expression lines)")
    nf = root["nodes"]
    raw = nf.mapping()
    if not raw:
        raise nf.error("expected at least one node (name: expression)")
    if len(raw) > MAX_NODES:
        raise nf.error(f"{len(raw)} nodes; the limit is {MAX_NODES}")
    nodes: list[NodeSpec] = []
    for name in raw:
        f = nf[name]
        _check_name(f, name)
        if name in given:
            raise f.error(f"'{name}' is already a {given[name]}; a node needs its own name")
        try:
            tree = E.parse(f.value, expression_functions())
        except E.ExprError as e:
            raise _expr_error(f, name, e) from None
        text = f.value if isinstance(f.value, str) else str(f.value)
        nodes.append(NodeSpec(name, text, tree, f.line, E.names(tree)))
    return nodes


def _conventions(root: Field) -> tuple[Fraction | float | None, str]:
    relu0, tie = None, "first"
    if root.has("conventions"):
        c = root["conventions"]
        c.mapping(CONVENTION_KEYS)
        if c.has("relu_prime_at_zero"):
            relu0 = c["relu_prime_at_zero"].number()
        if c.has("min_max_tie"):
            tie = c["min_max_tie"].text({"first", "split"})
    return relu0, tie


def _check_name(f: Field, name) -> None:
    if not isinstance(name, str) or not NAME.match(name) or len(name) > 40:
        raise f.error(f"'{name}' is not a usable name: a letter, then letters, digits or _ "
                      "(optionally an index like W1[2])")
    if name in E.FUNCTIONS or name in expression_functions() or keyword.iskeyword(name):
        raise f.error(f"'{name}' is a function (or Python keyword) name; choose another name")


def _values(root: Field, key: str) -> list[Value]:
    if not root.has(key):
        return []
    f = root[key]
    if f.value is None:
        return []
    m = f.mapping()
    if len(m) > MAX_VALUES:
        raise f.error(f"{len(m)} values; the limit is {MAX_VALUES}")
    out = []
    for name, v in m.items():
        _check_name(f[name], name)
        value = _array(f[name]) if isinstance(v, list) else f[name].number()
        matrix = isinstance(v, list) and any(isinstance(i, list) for i in v)
        out.append(Value(name, value, f[name].line, matrix))
    return out


MAX_ENTRIES = 10_000  # numbers in one vector or matrix value


def _array(f: Field) -> list[list]:
    """A list is a column vector, a list of lists a matrix (one list per row); rows as lists."""
    items = f.items()
    if not items:
        raise f.error("expected a vector [1, 2] or a matrix [[1, 2], [3, 4]], got an empty list")
    if not any(isinstance(i.value, list) for i in items):
        rows = [[i.number()] for i in items]
    elif all(isinstance(i.value, list) for i in items):
        rows = [[e.number() for e in i.items()] for i in items]
        widths = {len(r) for r in rows}
        if len(widths) != 1 or 0 in widths:
            raise f.error("a matrix needs rows of one same, nonzero length; got lengths "
                          + ", ".join(str(len(r)) for r in rows))
    else:
        raise f.error("mix of numbers and lists: write a vector [1, 2] or a matrix [[1, 2], [3, 4]]")
    if len(rows) * len(rows[0]) > MAX_ENTRIES:
        raise f.error(f"{len(rows) * len(rows[0])} entries; the limit is {MAX_ENTRIES}")
    return rows


def _expr_error(f: Field, name: str, e: E.ExprError) -> SpecError:
    return f.error(f"node '{name}': {e}")


def _undefined(dep: str, node: str, known: set[str]) -> str:
    close = difflib.get_close_matches(dep, sorted(known), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return (f"node '{node}' uses '{dep}', which is not defined{hint}: define it under inputs, "
            "params, targets or nodes")


def _toposort(nodes: list[NodeSpec], nf: Field) -> list[NodeSpec]:
    """Kahn's algorithm, always taking the earliest ready node in spec order (deterministic)."""
    by = {n.name: n for n in nodes}
    waiting = {n.name: {d for d in n.deps if d in by} for n in nodes}
    done: list[NodeSpec] = []
    left = [n.name for n in nodes]
    while left:
        ready = next((x for x in left if not waiting[x]), None)
        if ready is None:
            cycle = _find_cycle(left, waiting)
            raise nf[cycle[0]].error("the nodes form a cycle: " + " -> ".join(cycle)
                                     + " (a node may use only values computed before it)")
        left.remove(ready)
        done.append(by[ready])
        for x in left:
            waiting[x].discard(ready)
    return done


def _find_cycle(left: list[str], waiting: dict[str, set[str]]) -> list[str]:
    path, seen = [left[0]], {left[0]: 0}
    while True:
        nxt = sorted(waiting[path[-1]], key=left.index)[0]
        if nxt in seen:
            return path[seen[nxt]:] + [nxt]
        seen[nxt] = len(path)
        path.append(nxt)


def _loss(root: Field, nodes: list[NodeSpec], targets: list[Value], known: set[str]) -> LossSpec:
    if root.has("loss") and root.has("output"):
        raise root["output"].error("give 'loss' (a loss to minimise) or 'output' (a node to "
                                   "differentiate), not both")
    if root.has("output"):
        f = root["output"]
        name = f.text()
        if name not in {n.name for n in nodes}:
            raise f.error(_undefined(name, "output", {n.name for n in nodes}))
        return LossSpec(name=name, output=True, line=f.line, prediction=name)
    if not root.has("loss"):
        raise root.error("missing required key 'loss' (bce, mse, ce, an expression such as "
                         "'(Yhat - Y)^2', or output: NODE to differentiate a node)")
    f = root["loss"]
    v = f.value
    spec = LossSpec(line=f.line)
    if isinstance(v, dict):
        f.mapping({"type", "prediction", "target", "expr", "name"} | loss_param_keys())
        if f.has("name"):
            spec.name = f["name"].text()
            _check_name(f["name"], spec.name)
            if spec.name in known:
                raise f["name"].error(f"'{spec.name}' is already a value; the loss needs its own name")
        if f.has("type") == f.has("expr"):
            raise f.error("give the loss as type: (bce, mse, ce) or as expr: (an expression)")
        if f.has("expr"):
            return _expr_loss(f["expr"], spec, known)
        return _library_loss(f["type"], f, spec, nodes, targets, known)
    if isinstance(v, str) and lookup_loss(v) is not None:
        return _library_loss(f, None, spec, nodes, targets, known)
    if isinstance(v, str):
        return _expr_loss(f, spec, known)
    raise f.error("expected a loss: bce, mse, ce, an expression, or a mapping with type: or expr:")


def _library_loss(tf: Field, f: Field | None, spec: LossSpec, nodes, targets, known) -> LossSpec:
    hint = " (or write the loss as an expression with expr:)"
    loss = read_loss(f if f is not None else tf, frozenset({"prediction", "target", "name"}), hint)
    name = loss.key
    spec.library = loss
    if f is not None and f.has("prediction"):
        spec.prediction = f["prediction"].text()
        if spec.prediction not in {n.name for n in nodes}:
            raise f["prediction"].error(_undefined(spec.prediction, "loss", {n.name for n in nodes}))
    else:
        spec.prediction = _last(nodes)
    if f is not None and f.has("target"):
        spec.target = f["target"].text()
        if spec.target not in {t.name for t in targets}:
            raise f["target"].error(f"the loss's target '{spec.target}' is not under targets:")
    else:
        if len(targets) != 1:
            raise tf.error(f"a {name} loss needs one target: give targets: {{Y: ...}} "
                           "(or loss: {type: ..., prediction: ..., target: ...})")
        spec.target = targets[0].name
    return spec


def _last(nodes: list[NodeSpec]) -> str:
    """The prediction by default: the node nothing else uses, last in spec order."""
    used = {d for n in nodes for d in n.deps}
    free = [n.name for n in nodes if n.name not in used]
    return free[-1] if free else nodes[-1].name


def _expr_loss(f: Field, spec: LossSpec, known: set[str]) -> LossSpec:
    try:
        spec.tree = E.parse(f.value, expression_functions())
    except E.ExprError as e:
        raise f.error(f"loss: {e}") from None
    spec.text = str(f.value)
    for dep in E.names(spec.tree):
        if dep not in known:
            raise f.error(_undefined(dep, spec.name, known))
    spec.line = f.line
    return spec


__all__ = ["parse_graph", "GraphProblem", "NodeSpec", "LossSpec", "Value"]
