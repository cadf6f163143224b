"""Symbolic gradients of a layered network, step by step, checked against the numeric engine.

One set of rules serves numbers and symbols: the network is compiled by `backprop.compile_network`
(at sizes chosen for the symbolic dimensions and random numbers), and every formula here comes
from the ops' own display rules (`Op.local`, `Op.formula`) and the one backward loop
(`Graph.backward`), called with symbols. What this module adds is what a numeric printout does not
need: the shape of every factor, the chain of Jacobians for each parameter with its shape check,
and the elements of each Jacobian (``dz_2/dz_1 = diag(5 * 1[z_1 > 0])``).

Then it does not trust itself: `check` evaluates every derived formula on the random numbers and
compares it with the numeric engine's gradient (`backprop.solve` on the same network).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from hwsolve.core import values as T
from hwsolve.autodiff.functions import ELEMENTWISE, lookup_loss
from hwsolve.autodiff.graph import Graph, Node
from hwsolve.autodiff.ops import Activation, Ctx, Identity, Linear, LossOp, Softmax
from hwsolve.core.errors import HwsolveError
from hwsolve.core.records import Solution, Step
from hwsolve.core.numfmt import shape_text
from hwsolve.topics.derive.numeric import Eye, evaluate, eye, functions_of, to_matrix
from hwsolve.topics.derive.spec import DeriveProblem
from hwsolve.core.sym import Apply, Const, Expr, Indicator, Symbol, diag, to_text

SECTIONS = {
    "shapes": "Variables and their shapes",
    "forward": "Forward pass",
    "jacobians": "Local derivatives: the elements of each Jacobian",
    "chain": "Chain rule for each gradient: the factors and the shape check",
    "algebra": "The loss and the output layer, one rule per line",
    "backward": "Backward pass, one rule at a time",
    "answers_forward": "Forward pass in the allowed symbols only",
    "answers_backward": "Gradients in the allowed symbols only",
}

PRIMES = (3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47)


# -- the concrete network behind the symbols --------------------------------------------------


@dataclass
class Concrete:
    """The derivation's network at definite sizes with random numbers, compiled and run forward."""

    net: object                      # a spec.network.NetworkProblem
    sizes: dict[str, int]            # symbolic dimension -> size used
    dims: dict[int, object]          # size -> how it prints (a symbol name, or the number)
    compiled: object = None
    graph: Graph | None = None
    loss: Node | None = None

    def dim(self, k: int):
        return self.dims.get(k, k)

    def shape(self, a: np.ndarray) -> tuple:
        return tuple(self.dim(k) for k in T.math_shape(a))

    def rows_cols(self, a: np.ndarray) -> tuple:
        m, n = a.shape
        return (self.dim(m), self.dim(n))


def _sizes(prob: DeriveProblem) -> dict[str, int]:
    names = []
    for d in [prob.input_dim] + [layer.out for layer in prob.layers if layer.kind == "linear"]:
        if isinstance(d, str) and d not in names:
            names.append(d)
    literal = {d for d in [prob.input_dim] + [layer.out for layer in prob.layers] if isinstance(d, int)}
    used = set(literal)
    out = {}
    for n in names:
        if n in prob.sizes:
            k = prob.sizes[n]
            if k in used:
                raise HwsolveError(f"sizes: {n} = {k} is already the size of another dimension; "
                                   "give each dimension its own size")
        else:
            k = next(p for p in PRIMES if p not in used)
        used.add(k)
        out[n] = k
    return out


def concrete(prob: DeriveProblem, seed: int = 0) -> Concrete:
    """Random small rationals at distinct sizes (so each size names one dimension)."""
    from hwsolve.topics.backprop.solve import compile_network
    from hwsolve.spec.loader import Doc
    from hwsolve.topics.backprop.network_spec import Layer, NetworkProblem

    sizes = _sizes(prob)
    size = lambda d: sizes[d] if isinstance(d, str) else d  # noqa: E731
    rng = random.Random(seed)
    num = lambda: Fraction(rng.choice([k for k in range(-6, 7) if k]), 8)  # noqa: E731
    x = [num() for _ in range(size(prob.input_dim))]
    layers = []
    for layer in prob.layers:
        if layer.kind == "linear":
            m, n = size(layer.out), size(layer.inp)
            layers.append(Layer("linear", layer.line, W=[[num() for _ in range(n)] for _ in range(m)],
                                b=[num() for _ in range(m)] if layer.bias else None, name=layer.name,
                                W_name=layer.W_name, b_name=layer.b_name))
        elif layer.kind == "softmax":
            layers.append(Layer("softmax", layer.line, name=layer.name))
        else:
            fn = ELEMENTWISE[layer.fn_key]
            params = fn.bind(layer.params)
            layers.append(Layer("activation", layer.line, fn=fn, params=params, scale=layer.scale, name=layer.name))
    K = size(prob.output_dim)
    loss = lookup_loss(prob.loss_key).with_params(prob.loss_params)
    if loss.key == "cross_entropy":
        hot = rng.randrange(K)
        y = [Fraction(int(i == hot)) for i in range(K)]
    elif loss.key == "bce":
        y = [Fraction(rng.randint(1, 4), 5) for _ in range(K)]
    else:
        y = [num() for _ in range(K)]
    net = NetworkProblem(prob.file, prob.title, x, y, "vector", layers, loss, prob.notation,
                         prob.layout, None, Doc(prob.file, None, {}))
    dims = {v: k for k, v in sizes.items()}
    c = Concrete(net, sizes, dims)
    c.compiled = compile_network(net)
    c.graph, c.loss = c.compiled.graph, c.compiled.loss
    c.graph.forward()
    return c


# -- symbolic output dimension in the loss (the 1/K of MSE and BCE) --------------------------


def _symbolic_k(e, K: int, Ksym):
    """The loss rules print 1/K with K a number; put the dimension's name back (K stays prime)."""
    if not isinstance(Ksym, str):
        return e
    if isinstance(e, Const) and isinstance(e.value, Fraction) and e.value.denominator != 1:
        c = e.value * K
        if c in (1, 2):
            return Const(int(c)) / Symbol(Ksym, Ksym)
        if c == Fraction(1, 2):
            return Const(1) / (Const(2) * Symbol(Ksym, Ksym))
        return e
    if isinstance(e, Apply):
        return Apply(e.op, tuple(_symbolic_k(a, K, Ksym) for a in e.args), e.fn)
    return e


def _replace(e, table: dict):
    """Replace Symbols (by text) with expressions."""
    if isinstance(e, Symbol) and not isinstance(e, (Indicator, Eye)) and e.text in table:
        return table[e.text]
    if isinstance(e, Apply):
        return Apply(e.op, tuple(_replace(a, table) for a in e.args), e.fn)
    return e


# -- the derivation ---------------------------------------------------------------------------

_MARK = Symbol("__up__", "__up__")


@dataclass
class _Jac:
    """d(out)/d(operand) for one consumer: the rule's form, written-out elements, shape, note."""

    symbol: Symbol
    rule: Expr           # as the op's rule writes it (diag(5 ReLU'(z_1)), W^(2), ...)
    elements: Expr       # written out (diag(5 * 1[z_1 > 0]), I, ...)
    rc: tuple            # (rows, cols), symbolic
    note: str
    symmetric: bool      # equal to its transpose (diagonal, identity, softmax Jacobian)
    trivial: bool = False  # the identity: dropped from written-out products


@dataclass
class Derivation:
    problem: DeriveProblem
    c: Concrete
    solution: Solution
    jac: dict = field(default_factory=dict)         # (consumer name, operand index) -> _Jac
    aliases: dict = field(default_factory=dict)     # grad symbol text -> alias Symbol
    exact_checks: int = 0                           # `check`: comparisons made in exact rationals
    fd_entries: int = 0                             # `check`: gradient entries against finite differences
    fd_total: int = 0                               # ... of how many (a sample of each big variable)
    fd_worst: float = 0.0                           # ... their largest difference
    fd_skipped: str = ""                            # ... or why they could not be made at this draw


def _consumers(g: Graph) -> dict:
    out = {n: [] for n in g.nodes}
    for n in g.nodes:
        for i, p in enumerate(n.parents):
            out[p].append((n, i))
    return out


def _ctx(c: Node, layout: str, origin=None) -> Ctx:
    xs = [p.value for p in c.parents]
    return Ctx(layout, tuple(x.shape == (1, 1) for x in xs), c.value.shape == (1, 1), origin, tuple(xs))


def _explicit(op: Activation, z: Symbol, out: Symbol, scalar: bool) -> tuple[Expr, str]:
    """f'(z) written out as the rule table's entry writes it, and a note; scale included."""
    fn = op.fn
    plain = op.scale in (None, 1)
    y = out if plain else fn.apply(z, **op.params)   # what f(z) is called in the network
    d, note = fn.write_derivative(z, y, scalar, **op.params)
    if fn.uses_output and plain:
        note += f", and {fn.text}({z.text}) = {out.text}"
    if not plain:
        d = Const(op.scale) * d
    return d, note


def _jacobian(d: Derivation, c: Node, i: int) -> _Jac:
    """d c / d (operand i) from the op's own numerator-layout rule, with its elements written out."""
    C, g = d.c, d.c.graph
    p = c.parents[i]
    sym = g.partial_symbol(c, p)
    ctx = _ctx(c, "numerator")
    args = [q.label for q in c.parents]
    local = c.op.local(i, _MARK, args, c.label, ctx)
    # the rule multiplies the incoming row by the Jacobian: strip the row off again
    if local == _MARK:
        rule = None
    elif isinstance(local, Apply) and local.op in ("matmul", "mul") and local.args[0] == _MARK:
        rule = local.args[1]
    else:
        raise HwsolveError(f"internal: cannot read the Jacobian of '{c.name}' from its rule")
    rc = (C.dim(c.value.shape[0]), C.dim(p.value.shape[0]))
    scalar = c.value.shape == (1, 1) and p.value.shape == (1, 1)
    n_c = C.dim(c.value.shape[0])
    if isinstance(c.op, Identity):
        e = Const(1) if scalar else eye(c.value.shape[0], n_c)
        return _Jac(sym, e, e, rc, f"{c.name} = {p.name}: a new name, the identity", True, True)
    if isinstance(c.op, Linear):
        return _Jac(sym, rule, rule, rc, f"{shape_text(rc)}: the weight matrix itself "
                    f"(d({c.name})_i / d({p.name})_j = {args[0].text}_ij)", False)
    if isinstance(c.op, Activation):
        dexp, note = _explicit(c.op, p.label, c.label, scalar)
        if c.op.fn.key == "identity":
            el = dexp if scalar else (eye(c.value.shape[0], n_c) if c.op.scale in (None, 1)
                                      else Const(c.op.scale) * eye(c.value.shape[0], n_c))
            return _Jac(sym, rule, el, rc, f"{shape_text(rc)}: the identity" +
                        (f" times {c.op.scale}" if c.op.scale not in (None, 1) else ""), True,
                        c.op.scale in (None, 1))
        el = dexp if scalar else diag(dexp)
        what = "" if scalar else f"{shape_text(rc)} diagonal: entry (i, i) is the derivative at " \
            f"{p.name}_i, off-diagonal entries are 0; "
        return _Jac(sym, rule, el, rc, what + note, True)
    if isinstance(c.op, Softmax):
        fused = ""
        for k, _ in _consumers(g)[c]:
            if isinstance(k.op, LossOp) and k.op.loss.key == "cross_entropy":
                y = k.parents[1].name
                fused = (f"; after the cross-entropy the product (dL/d{c.name})(d{c.name}/d{p.name}) "
                         f"is ({c.name} - {y})^T, because {y} sums to 1")
        return _Jac(sym, rule, rule, rc, f"{shape_text(rc)}: entry (i, j) is "
                    f"{c.name}_i (delta_ij - {c.name}_j)" + fused, True)
    raise HwsolveError(f"internal: no Jacobian rule for '{c.name}'")


def _product(factors: list[Expr], scalars: list[bool]) -> Expr:
    out = factors[0]
    s = scalars[0]
    for f, fs in zip(factors[1:], scalars[1:], strict=False):
        out = out * f if (s or fs) else out @ f
        s = s and fs
    return out


def _shape_check(rcs: list[tuple]) -> tuple[str, tuple]:
    """'(1×K)(K×K)(K×d) → 1×d', checking that neighbours agree."""
    def t(rc):
        return "×".join(str(x) for x in rc)
    acc = None
    for rc in rcs:
        if rc == (1, 1):
            continue  # a scalar factor scales, it does not change the shape
        if acc is None:
            acc = rc
            continue
        if acc[1] != rc[0]:
            raise HwsolveError(f"internal: shapes {t(acc)} and {t(rc)} do not multiply")
        acc = (acc[0], rc[1])
    acc = acc or (1, 1)
    return "".join(f"({t(rc)})" for rc in rcs) + " → " + t(acc), acc


def _label_shape(rc: tuple) -> tuple:
    """(rows, cols) as Step.shape: () scalar, (n,) column, (m, n) otherwise."""
    if rc == (1, 1):
        return ()
    if rc[1] == 1:
        return (rc[0],)
    return rc


def derive(prob: DeriveProblem, seed: int = 0) -> Derivation:
    C = concrete(prob, seed)
    g, loss = C.graph, C.loss
    layout = prob.layout
    num = layout == "numerator"
    K = loss.parents[0].value.shape[0]
    Ksym = C.dim(K)
    sol = Solution(prob.title, "derive", sections=dict(SECTIONS))
    d = Derivation(prob, C, sol)
    cons = _consumers(g)
    _aliases(d)
    _given_and_forward(d, K, Ksym)
    _jacobians(d, cons, K, Ksym)

    # chain rule for every parameter and the input
    targets = [n for n in g.nodes if n.kind == "param"] + [n for n in g.nodes if n.kind == "input"]
    for t in targets:
        _chain_step(d, t, cons, num)

    _backward(d, targets, K, Ksym)
    sol.summary = [g.grad_symbol(t).text for t in targets]
    sol.summary_title = "Gradients" + (" (numerator layout)" if num else " (gradient layout)")
    _notes(d)
    sol.layout = layout
    sol.symbolic = True
    sol.sizes = dict(C.sizes)
    return d


def _aliases(d: Derivation) -> None:
    """A course's names for gradients (u2 = dL/da), checked against the network's values."""
    prob, g = d.problem, d.c.graph
    by_name = {n.name: n for n in g.nodes}
    for alias, target in prob.aliases.items():
        if target not in by_name or by_name[target].kind not in ("op", "input", "param"):
            where = prob.doc.root["aliases"][alias] if prob.doc and prob.doc.data else None
            msg = (f"alias {alias}: no value called '{target}' in this network; the values are: "
                   + ", ".join(n.name for n in g.nodes if n.kind in ("op", "input", "param")))
            raise where.error(msg) if where is not None else HwsolveError(msg)
        d.aliases[g.grad_symbol(by_name[target]).text] = Symbol(alias, _alias_latex(alias))


def _given_and_forward(d: Derivation, K: int, Ksym) -> None:
    """The given leaves with their shapes, then the forward formulas."""
    C, sol, g = d.c, d.solution, d.c.graph
    for n in g.nodes:
        if n.op is None:
            shp = C.shape(n.value)
            sol.add(Step(n.name, "shapes", shape=shp, label=n.label,
                         note=("scalar" if not shp else shape_text(shp)) + _role(n)))
    for n in g.nodes:
        if n.op is None or not n.show:
            continue
        f = n.op.formula([p.label for p in n.parents])
        if isinstance(n.op, LossOp):
            f = _symbolic_k(f, K, Ksym)
        shp = C.shape(n.value)
        sol.add(Step(n.name, "forward", formula=f, shape=shp, label=n.label,
                     note="scalar" if not shp else shape_text(shp)))


def _jacobians(d: Derivation, cons: dict, K: int, Ksym) -> None:
    """The loss's own derivative, then each layer's Jacobian from the output back to the input."""
    g, loss, sol = d.c.graph, d.c.loss, d.solution
    layout = d.problem.layout
    num = layout == "numerator"
    yhat = loss.parents[0]
    lctx = _ctx(loss, layout)
    dl = _symbolic_k(loss.op.local(0, Const(1), [p.label for p in loss.parents], loss.label, lctx),
                     K, Ksym)
    rc_dl = (1, Ksym) if num else (Ksym, 1)
    if K == 1:
        rc_dl = (1, 1)
    sol.add(Step(g.grad_symbol(yhat).text, "jacobians", formula=dl, shape=_label_shape(rc_dl),
                 label=g.grad_symbol(yhat),
                 note=(f"{shape_text(_label_shape(rc_dl)) or 'scalar'}: "
                       + ("a row vector in numerator layout" if num and K != 1 else
                          "a column, the shape of " + yhat.name if K != 1 else "a scalar")
                       + f"; {loss.op.loss.text}")))
    d.jac[("__loss__", 0)] = _Jac(g.grad_symbol(yhat), dl, dl, rc_dl, "", False)
    chain_nodes = _path_to_loss(g, cons, g.nodes[0], loss)
    for c in reversed(chain_nodes[1:-1]):
        i = _vector_operand(c)
        if i is None:
            continue
        j = _jacobian(d, c, i)
        d.jac[(c.name, i)] = j
        forms = j.rule if j.rule is not None else None
        sol.add(Step(j.symbol.text, "jacobians", formula=forms,
                     expression=j.elements if j.elements != forms else None,
                     shape=_label_shape(j.rc) if j.rc != (1, 1) else (), label=j.symbol, note=j.note))


def _backward(d: Derivation, targets: list[Node], K: int, Ksym) -> None:
    """The backward pass, rule by rule, from the one backward loop, in the problem's symbols."""
    prob, C, sol = d.problem, d.c, d.solution
    g, loss = C.graph, C.loss
    layout = prob.layout
    num = layout == "numerator"
    tmp = Solution(prob.title, "backprop")
    g.backward(loss, tmp, layout)
    nodes = {g.grad_symbol(n).text: n for n in g.nodes}
    for s in tmp.steps:
        n = nodes.get(s.name)
        if n is None:
            continue
        gv = n.value.T if num else n.value
        rc = C.rows_cols(gv)
        formula = _replace(_symbolic_k(s.formula, K, Ksym), d.aliases) if s.formula is not None else None
        expr = _symbolic_k(s.expression, K, Ksym) if s.expression is not None else None
        chain = _replace(s.chain, d.aliases) if s.chain is not None else None
        name, label = s.name, s.label
        alias = d.aliases.get(s.name)
        if alias is not None:
            chain = Apply("eq", (g.grad_symbol(n), chain)) if chain is not None else g.grad_symbol(n)
            name, label = alias.text, alias
        final = None
        if alias is not None or n in targets:   # the answer, on its own, for the summary table
            final = to_text(formula)
        sol.add(Step(name, "backward", chain=chain, formula=formula, value=final,
                     expression=expr if expr != formula else None, shape=_label_shape(rc),
                     label=label, note=(shape_text(_label_shape(rc)) or "scalar")
                     + (", the shape of " + n.name if not num else
                        (", the transpose of " + n.name + "'s shape" if rc != (1, 1) else ""))))


def _notes(d: Derivation) -> None:
    sol, num = d.solution, d.problem.layout == "numerator"
    sol.notes = [n for n in d.c.compiled.notes]
    if d.aliases:
        sol.notes.append("Names for gradients: " + "; ".join(
            f"{a.text} = {k}" for k, a in d.aliases.items()) + ".")
    if num:
        sol.notes.append("A Jacobian dv/du has one row per entry of v and one column per entry of "
                         "u; the chain rule multiplies them left to right, from the loss down.")
    else:
        sol.notes.append("A Jacobian dv/du has one row per entry of v and one column per entry of "
                         "u; in gradient layout the chain multiplies their transposes, right to "
                         "left, onto the gradient of the loss with respect to the output (a column).")
    sol.notes.append("For a weight matrix the gradient is not a Jacobian (that would be a tensor): "
                     "as in the sheets, dL/dW is the outer product of the upstream gradient and "
                     "the layer's input.")
    _add_algebra(d)
    if d.problem.answer_in:
        _add_answers(d)
    sol.notes.extend(d.problem.notes)


def _algebra_lines(d: Derivation) -> tuple[str, list, dict] | None:
    """Which rule-by-rule derivation the head of this network has (kind, lines, names), if any."""
    from hwsolve.topics.derive import rules

    loss = d.c.loss
    out, target = loss.parents[0], loss.parents[1]
    key = loss.op.loss.key
    K = out.value.shape[0]
    k_expr = Symbol(d.c.dim(K), d.c.dim(K)) if isinstance(d.c.dim(K), str) else Const(K)
    pre = out.parents[0].label if out.parents else None
    names = {"loss": loss.label.text, "out": out.label.text, "target": target.label.text,
             "pre": pre.text if pre is not None else "", "K": k_expr.text if isinstance(k_expr, Symbol) else "K"}
    sigmoid_out = isinstance(out.op, Activation) and out.op.fn.key == "sigmoid" and out.op.scale in (None, 1)
    if key == "cross_entropy" and isinstance(out.op, Softmax):
        lines = rules.softmax_cross_entropy(loss.label, out.label, target.label, pre)
        half = len(lines) // 2   # the Jacobian route, then the log-sum-exp route
        routes = {"jacobian": lines[:half], "log_sum_exp": lines[half:]}
        return "softmax_ce", routes.get(d.problem.algebra, lines), names
    if key == "bce" and sigmoid_out:
        return "sigmoid_bce", rules.sigmoid_bce(loss.label, out.label, target.label, pre, k_expr), names
    if key in ("squared_error", "mse", "half_squared_error", "half_mse"):
        names["pre"] = "__pre__"
        return key, rules.squared_error(loss.label, out.label, target.label, key, k_expr), names
    return None


def _add_algebra(d: Derivation) -> None:
    """Softmax + cross-entropy to p - y, sigmoid + BCE to (yhat - y)/K, the squared error's 2."""
    from hwsolve.topics.derive import rules

    found = _algebra_lines(d)
    if found is None:
        return
    kind, lines, names = found
    try:
        checked = rules.verify(kind, lines, names)
    except AssertionError as e:
        raise HwsolveError(f"internal: the rule steps do not check out: {e}") from None
    taken = set(d.solution.summary)   # the summary table finds its steps by name
    head = "algebra"
    for line in lines:
        if line.lhs is not None:
            head = line.lhs.text + " (rules)" if line.lhs.text in taken else line.lhs.text
            name = head
        else:
            name = d.solution.continued(head)
        d.solution.add(Step(name, "algebra", formula=line.rhs, note=line.rule,
                            label=line.lhs if line.lhs is not None else Symbol("", "")))
    d.solution.inline_notes.append("algebra")
    d.solution.notes.append(f"The {checked} rule lines were each evaluated at random numbers and agree "
                            "with central finite differences of the loss.")


def _add_answers(d: Derivation) -> None:
    """Seed 002 1.2(b)/(c): the forward values and the gradients in the allowed symbols only."""
    from hwsolve.topics.derive.answers import answer_steps

    prob, sol = d.problem, d.solution
    known = {s.label.text if s.label is not None else s.name for s in sol.steps
             if s.section in ("shapes", "forward")} | {s.name for s in sol.steps if s.section == "jacobians"}
    for k, name in enumerate(prob.answer_in):
        if name not in known:
            msg = f"no symbol '{name}' in this derivation; its symbols are: " + ", ".join(sorted(known))
            where = prob.doc.root["answer_in"].items()[k] if prob.doc and prob.doc.data else None
            raise where.error(msg) if where is not None else HwsolveError(msg)
    for step in answer_steps(sol, prob.answer_in, set(d.c.sizes)):
        sol.add(step)
    sol.notes.append("Answers in the allowed symbols (" + ", ".join(prob.answer_in) + "): every other "
                     "symbol replaced by its definition from the forward pass or its Jacobian's rule.")


def _alias_latex(name: str) -> str:
    from hwsolve.core.notation import latex_name

    return latex_name(name)


def _role(n: Node) -> str:
    return {"input": ", the input", "target": ", the target", "param": ", a parameter"}.get(n.kind, "")


def _vector_operand(c: Node) -> int | None:
    if isinstance(c.op, Linear):
        return 1
    if isinstance(c.op, LossOp):
        return None
    return 0


def _path_to_loss(g: Graph, cons: dict, start: Node, loss: Node) -> list[Node]:
    path = [start]
    node = start
    while node is not loss:
        nxt = [c for c, i in cons[node] if _vector_operand(c) == i or isinstance(c.op, LossOp)]
        if len(nxt) != 1:
            raise HwsolveError(f"internal: '{node.name}' does not lead to the loss along one path")
        node = nxt[0]
        path.append(node)
    return path


def _chain_step(d: Derivation, t: Node, cons: dict, num: bool) -> None:
    """dL/dt as the product of the chain's Jacobians, each with its shape, and the check."""
    C, g, loss = d.c, d.c.graph, d.c.loss
    (c1, i1), = cons[t]
    path = _path_to_loss(g, cons, c1, loss)      # c1 ... yhat-consumer ... L
    inner = path[:-1]                            # op nodes from c1 up to yhat
    # numerator order: dL/dyhat, d(yhat)/d(prev), ..., d(c2)/d(c1)   (all rows x cols)
    facs = [d.jac[("__loss__", 0)]]
    for k in range(len(inner) - 1, 0, -1):
        c = inner[k]
        facs.append(d.jac[(c.name, _vector_operand(c))])
    is_linear_param = isinstance(c1.op, Linear) and i1 != 1
    if not is_linear_param:
        facs.append(d.jac[(c1.name, i1)] if (c1.name, i1) in d.jac else _jacobian(d, c1, i1))
    sym = [f.symbol for f in facs]
    rule = [f.rule if f.rule is not None else f.elements for f in facs]
    elem = [f.elements for f in facs]
    rcs = [f.rc for f in facs]
    keep = [not f.trivial for f in facs]
    if not num:  # gradient layout: transposes, right to left, onto the column dL/dyhat
        facs_t = list(reversed(facs))
        rcs = [(f.rc[1], f.rc[0]) if f is not facs[0] else f.rc for f in facs_t]
        first = facs[0]
        sym = [_tr_symbol(f.symbol) if f is not first and f.rc != (1, 1) else f.symbol for f in facs_t]
        rule = [f.rule if f is first else _tr(f, f.rule if f.rule is not None else f.elements)
                for f in facs_t]
        elem = [f.elements if f is first else _tr(f, f.elements) for f in facs_t]
        keep = [not f.trivial for f in facs_t]
    scal = [rc == (1, 1) for rc in rcs]
    if is_linear_param:
        prev = c1.parents[1]
        prc = C.rows_cols(prev.value)
        b_like = i1 == 2
        if not b_like:
            if num:   # dL/dW = z (dL/da), (n x 1)(1 x m)
                sym, rule, elem = [prev.label] + sym, [prev.label] + rule, [prev.label] + elem
                rcs, keep, scal = [prc] + rcs, [True] + keep, [prc == (1, 1)] + scal
            else:     # dL/dW = (dL/da) z^T, (m x 1)(1 x n)
                pt = prev.label if prc == (1, 1) else prev.label.T
                sym, rule, elem = sym + [pt], rule + [pt], elem + [pt]
                rcs, keep, scal = rcs + [(prc[1], prc[0])], keep + [True], scal + [prc == (1, 1)]
    check, res = _shape_check(rcs)
    want = C.rows_cols(t.value.T if num else t.value)
    if res != want:
        raise HwsolveError(f"internal: dL/d{t.name} came out {res}, expected {want}")
    chain = _product(sym, scal)
    with_w = _product(rule, scal)
    kept = [(e, s) for e, s, k in zip(elem, scal, keep, strict=False) if k] or [(elem[0], scal[0])]
    written = _product([e for e, _ in kept], [s for _, s in kept])
    note = "shape check: " + check
    if is_linear_param and i1 == 0:
        note += "; dL/dW is the outer product of the layer's input and dL/d" + c1.name
    grad = g.grad_symbol(t)
    aliased = _replace(with_w, {})
    sol = d.solution
    sol.add(Step(grad.text, "chain", chain=chain, formula=aliased if aliased != chain else None,
                 expression=written if written not in (chain, aliased) else None,
                 shape=_label_shape(res), label=grad, note=note))


def _tr_symbol(s: Symbol) -> Expr:
    """(dv/du)^T: brackets, so the transpose is of the whole Jacobian."""
    return Symbol(f"({s.text})", rf"\left({s.latex}\right)").T


def _tr(f: _Jac, e: Expr) -> Expr:
    if f.rc == (1, 1) or f.symmetric:
        return e
    if isinstance(e, Apply) and e.op == "T":
        return e.args[0]
    return e.T


def solve(prob: DeriveProblem) -> Solution:
    d = derive(prob)
    worst, count = check(prob, d)
    sizes = ", ".join(f"{k} = {v}" for k, v in d.c.sizes.items())
    if d.exact_checks == count:
        agree = "agree exactly (rational arithmetic) with the numeric backprop engine"
    elif d.exact_checks:
        agree = (f"agree with the numeric backprop engine ({d.exact_checks} exactly in rational arithmetic, "
                 f"the rest in floats, largest difference {worst:.1e})")
    else:
        agree = f"agree with the numeric backprop engine (in floats: largest difference {worst:.1e})"
    sampled = f"all {d.fd_entries}" if d.fd_entries == d.fd_total else f"{d.fd_entries} sampled of the {d.fd_total}"
    fd = (f"; each gradient also agrees with central finite differences of the loss in {sampled} "
          f"entries (largest difference {d.fd_worst:.1e})" if not d.fd_skipped else
          f"; no finite differences at this draw: the input of {d.fd_skipped} sits at its kink")
    d.solution.notes.append(
        f"Checked, not trusted: the {count} formulas above were evaluated at random numbers"
        + (f" ({sizes})" if sizes else "") + f" and {agree}{fd}.")
    # LaTeX / Markdown: each note beside its step's last line, not a line of its own (a page, not five)
    d.solution.inline_notes = list(SECTIONS)
    if prob.show:   # the sections the sheet asks for are printed; every step stays in the records
        #             (JSON, grading), so a TA's key still knows x, W and h
        d.solution.sections = {k: v for k, v in d.solution.sections.items() if k in prob.show}
        if "summary" not in prob.show:
            d.solution.summary = []
        if not {"jacobians", "chain"} & set(prob.show):   # notes that explain those sections only
            d.solution.notes = [n for n in d.solution.notes if not n.startswith(("A Jacobian dv/du", "For a weight"))]
    return d.solution


# -- checking: evaluate the display trees on numbers (numeric.py) and compare ---------------


def check(prob: DeriveProblem, d: Derivation | None = None, seed: int = 0,
          tol: float = 1e-9) -> tuple[float, int]:
    """Evaluate every derived formula at the random numbers and compare with `backprop.solve`.

    Returns (largest absolute difference, number of formulas checked); raises on a mismatch.
    """
    from hwsolve.topics.backprop.solve import solve as numeric_solve

    d = d or derive(prob, seed)
    C, g = d.c, d.c.graph
    # Exact where the network is: every value rational (linear layers, ReLU, leaky ReLU, identity, squared
    # losses), so each formula must equal the engine's value exactly; floats only where a function demands
    exact = all(T.is_exact(n.value) for n in g.nodes)
    numeric = {s.name: to_matrix(s.value, exact) for s in numeric_solve(C.net).steps if s.section == "backward"}
    env = _env(g, C.sizes, exact)
    fns = functions_of(g)
    worst, count = 0.0, 0
    d.exact_checks, d.fd_entries, d.fd_total, d.fd_worst = 0, 0, 0, 0.0
    alias_of = {a.text: k for k, a in d.aliases.items()}

    from hwsolve.topics.derive.answers import ANSWER_SUFFIX

    def compare(what: str, name: str, got: np.ndarray) -> None:
        nonlocal worst, count
        want = numeric[name]
        if want.shape != got.shape and want.size == got.size and 1 in want.shape:
            raise HwsolveError(f"derive check: {what} has shape {got.shape}, expected {want.shape}")
        rational = _rational(want) and _rational(got)
        diff = float(np.max(np.abs(want - got))) if want.shape == got.shape else float("inf")
        allowed = 0.0 if rational else tol * max(1.0, float(np.max(np.abs(want))))
        if not diff <= allowed:
            raise HwsolveError(f"derive check failed: {what} = {got.tolist()} but the numeric engine "
                               f"gives {want.tolist()}" + (" (exact rationals)" if rational else ""))
        worst, count = max(worst, diff), count + 1
        d.exact_checks += rational

    for s in d.solution.steps:
        if s.section == "jacobians":
            made = _check_jacobian(s, env, fns, tol)
            count, d.exact_checks = count + made, d.exact_checks + made * _rational(env[s.name])
        elif s.section == "backward":
            key = alias_of.get(s.name, s.name)
            v = evaluate(s.formula, env, fns)
            env[key] = v
            if s.name != key:
                env[s.name] = v
            compare(f"{s.name} (rule)", key, v)
            if s.expression is not None:
                compare(f"{s.name} (in the problem's symbols)", key, evaluate(s.expression, env, fns))
    for s in d.solution.steps:
        if s.section == "answers_forward":
            made = _check_forward_answer(s, env, fns, tol)
            count, d.exact_checks = count + made, d.exact_checks + made * exact
        elif s.section == "answers_backward":
            compare(s.name, s.name.removesuffix(ANSWER_SUFFIX), evaluate(s.formula, env, fns))
        if s.section == "chain":
            for form, what in _chain_forms(s):
                compare(f"{s.name} ({what})", s.name, evaluate(form, env, fns))
    _finite_differences(d, env)
    return worst, count


def _kink_hit(g: Graph, margin: float) -> str:
    """The name of an activation whose input sits at its kink (ReLU at 0), where differences are meaningless."""
    for n in g.nodes:
        if isinstance(n.op, Activation) and n.op.fn.kink is not None:
            z = T.to_float(n.parents[0].value).astype(float)
            if z.size and float(np.min(np.abs(z - float(n.op.fn.kink)))) < margin:
                return n.name
    return ""


def _loss_at(g: Graph, loss: Node, leaves: dict) -> float:
    """The loss recomputed in floats from the leaves' values (the network's own forward rules)."""
    values: dict = {}
    for n in g.nodes:
        values[n] = leaves[n] if n.op is None else n.op.forward([values[p] for p in n.parents])
    return float(np.sum(values[loss]))


FD_ENTRIES = 64   # entries of one variable checked by finite differences, at most (a seeded sample)


def _finite_differences(d: Derivation, env: dict, h: float = 1e-6, tol: float = 1e-4) -> None:
    """Every gradient the derivation ends with (each parameter's and the input's), evaluated from its
    formula, against central differences of the loss in every entry of its variable: a check that
    shares nothing with the backward rules. Raises on a mismatch; records the count in `d`. The
    tolerance is relative, 1e-4: a wrong formula is off by far more (a factor, a sign, a missing
    term), and a float forward pass through 50 layers of width 64 carries more than 1e-6 of rounding
    into a difference quotient (valid specs failed the check)."""
    g, loss = d.c.graph, d.c.loss
    assert loss is not None
    d.fd_skipped = _kink_hit(g, 10 * h)
    if d.fd_skipped:
        return
    leaves = {n: T.to_float(n.value).astype(float) for n in g.nodes if n.op is None}
    # a difference of two losses carries their rounding, eps |L|, divided by 2h: allowed too
    rounding = 1e-8 * abs(_loss_at(g, loss, leaves))
    rng = np.random.default_rng(0)
    for t in (n for n in g.nodes if n.kind in ("param", "input")):
        derived = np.asarray(env[g.grad_symbol(t).text]).astype(float)
        if d.problem.layout == "numerator":
            derived = derived.T
        entries = list(np.ndindex(leaves[t].shape))
        if len(entries) > FD_ENTRIES:  # each entry costs two forward passes: a seeded sample of a big variable
            entries = [entries[k] for k in sorted(rng.choice(len(entries), FD_ENTRIES, replace=False))]
        for idx in entries:
            up, down = dict(leaves), dict(leaves)
            up[t], down[t] = leaves[t].copy(), leaves[t].copy()
            up[t][idx] += h
            down[t][idx] -= h
            central = (_loss_at(g, loss, up) - _loss_at(g, loss, down)) / (2 * h)
            got = derived[idx] if derived.shape == leaves[t].shape else float("nan")
            diff = abs(central - got)
            if not diff <= tol * max(1.0, abs(central)) + rounding:
                raise HwsolveError(f"derive check failed: entry {tuple(int(i) + 1 for i in idx)} of "
                                   f"{g.grad_symbol(t).text} is {got:.9g} but central finite differences of "
                                   f"the loss give {central:.9g}")
            d.fd_worst = max(d.fd_worst, diff)
        d.fd_entries += len(entries)
        d.fd_total += leaves[t].size


def _env(g: Graph, sizes: dict, exact: bool) -> dict:
    """Each symbol's value at the draw: Fractions (object arrays) when exact, else floats."""
    from hwsolve.topics.derive.numeric import EXACT

    if exact:
        env = {n.label.text: to_matrix(n.value, True) for n in g.nodes}
        env[EXACT] = True
    else:
        env = {n.label.text: T.to_float(n.value).astype(float) for n in g.nodes}
    for k, v in sizes.items():
        env.setdefault(k, to_matrix(v, exact))
    return env


def _rational(a: np.ndarray) -> bool:
    return a.dtype == object and all(isinstance(v, (int, Fraction)) for v in a.flat)


def _chain_forms(s: Step) -> list[tuple[Expr, str]]:
    """The forms a chain step gives for its gradient, each with what it is."""
    forms = ((s.chain, "chain of Jacobians"), (s.formula, "with the weights"), (s.expression, "written out"))
    return [(form, what) for form, what in forms if form is not None]


def _check_forward_answer(s: Step, env: dict, fns: dict, tol: float) -> int:
    """A forward value written in the allowed symbols must equal the forward pass (returns 1)."""
    got, want = evaluate(s.formula, env, fns), env[s.label.text if s.label is not None else s.name]
    scale = 0.0 if _rational(got) and _rational(want) else max(1.0, float(np.max(np.abs(want))))
    if got.shape != want.shape or float(np.max(np.abs(got - want))) > tol * scale:
        raise HwsolveError(f"derive check failed: {s.name} in the allowed symbols = {got.tolist()}, "
                           f"but the forward pass gives {want.tolist()}")
    return 1


def _check_jacobian(s: Step, env: dict, fns: dict, tol: float) -> int:
    """Evaluate a Jacobian step into env; when it has both a rule and its elements, check they
    agree (returns 1: one comparison made)."""
    env[s.name] = evaluate(s.expression if s.expression is not None else s.formula, env, fns)
    if s.formula is None or s.expression is None:
        return 0
    rule = evaluate(s.formula, env, fns)
    diff = float(np.max(np.abs(rule - env[s.name])))
    if diff > (0.0 if _rational(rule) and _rational(env[s.name]) else tol):
        raise HwsolveError(f"derive check failed: the elements of {s.name} differ from its rule")
    return 1


__all__ = ["derive", "solve", "check", "evaluate", "concrete", "Indicator", "Eye"]
