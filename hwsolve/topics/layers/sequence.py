"""A vanilla RNN over T steps (backprop through time) and one head of attention, step by step."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from hwsolve.autodiff.functions import ELEMENTWISE
from hwsolve.autodiff.graph import Graph
from hwsolve.autodiff.layer_ops import GivenUpstream, RNNPreactivation, ScaledDotProductAttention
from hwsolve.autodiff.ops import Activation, LossOp, Sum
from hwsolve.core import values as T
from hwsolve.core.records import Solution, Step
from hwsolve.core.sym import Symbol, call
from hwsolve.topics.layers.solve import SECTIONS, arr, dims, fail, mat
from hwsolve.topics.layers.spec import LayerProblem


def _sym(name: str, t: int | None = None) -> Symbol:
    """h[2] / h_{2}; W_hh / W_{hh}."""
    if t is None:
        base, _, sub = name.partition("_")
        return Symbol(name, f"{base}_{{{sub}}}" if sub else name)
    return Symbol(f"{name}[{t}]", f"{name}_{{{t}}}")


def _check_rnn_shapes(prob: LayerProblem, a: dict) -> None:
    h = a["W_hh"].shape[0]
    if a["W_hh"].shape != (h, h):
        raise fail(prob, "W_hh", f"W_hh is {dims(a['W_hh'].shape)}: expected a square matrix (hidden x hidden)")
    d = a["x"][0].shape[0]
    if a["W_xh"].shape != (h, d):
        raise fail(prob, "W_xh", f"W_xh is {dims(a['W_xh'].shape)}: expected {h}x{d} (hidden x input)")
    for key in ("b", "h0"):
        if a[key].shape != (h, 1):
            raise fail(prob, key, f"expected {h} values (the hidden size), got {a[key].shape[0]}")
    for t, x in enumerate(a["x"], 1):
        if x.shape != (d, 1):
            raise fail(prob, "inputs", f"x_{t} has {x.shape[0]} entries, x_1 {d}: every input has one size")
    for t, y in a["y"].items():
        if y.shape != (h, 1):
            raise fail(prob, "targets", f"the target at step {t} has {y.shape[0]} entries: expected {h} "
                                        "(the loss compares h_t with it)")


def solve_rnn(prob: LayerProblem, sol: Solution) -> None:
    a: dict[str, Any] = {k: arr(prob.arrays[k]) for k in ("W_hh", "W_xh", "b", "h0")}
    a["x"] = [arr(x) for x in prob.arrays["x"]]
    a["y"] = {t: arr(y) for t, y in prob.arrays["y"].items()}
    _check_rnn_shapes(prob, a)
    loss_fn = prob.settings["loss"]
    graph = Graph(file=prob.file)
    w_hh = graph.leaf("W_hh", _sym("W_hh"), "param", a["W_hh"], matrix=True)
    w_xh = graph.leaf("W_xh", _sym("W_xh"), "param", a["W_xh"], matrix=True)
    b = graph.leaf("b", Symbol("b"), "param", a["b"])
    h = graph.leaf("h[0]", _sym("h", 0), "input", a["h0"])
    xs = [graph.leaf(f"x[{t}]", _sym("x", t), "input", x) for t, x in enumerate(a["x"], 1)]
    tanh = ELEMENTWISE["tanh"]
    states, losses = [], []
    for t, x in enumerate(xs, 1):
        pre = graph.apply(RNNPreactivation(), (w_hh, h, w_xh, x, b), f"a[{t}]", _sym("a", t))
        h = graph.apply(Activation(tanh), (pre,), f"h[{t}]", _sym("h", t))
        states.append(h)
        if t in a["y"]:
            y = graph.leaf(f"y[{t}]", _sym("y", t), "target", a["y"][t])
            name = "L" if len(a["y"]) == 1 else f"L[{t}]"
            losses.append(graph.apply(LossOp(loss_fn, y.label, K=a["y"][t].shape[0]), (h, y), name,
                                      Symbol(name) if len(a["y"]) == 1 else _sym("L", t)))
    loss = losses[0] if len(losses) == 1 else \
        graph.apply(Sum((1,) * len(losses)), losses, "L", Symbol("L"))
    graph.forward()
    sol.sections.update(SECTIONS)
    for node in graph.nodes:
        if node.op is None and node.value is not None:  # a leaf: its value is given
            sol.add(Step(node.name, "given", value=T.plain(node.value, node.matrix),
                         shape=T.math_shape(node.value, node.matrix), label=node.label))
    graph.forward_steps(sol)
    graph.backward(loss, sol)
    sol.summary = ["dL/dW_hh", "dL/dW_xh", "dL/db", "dL/dh[0]"]
    sol.summary_title = "Gradients"
    _norm_product(sol, a["W_hh"], [s.value for s in states])
    steps = len(xs)
    sol.notes += [
        f"Loss: {loss_fn.text}, " + ("at the last step only." if len(losses) == 1 else
                                     f"at every step, summed: L = L[1] + ... + L[{steps}]."),
        f"The graph is unrolled over T = {steps} steps; W_hh, W_xh and b are shared, so their gradient is "
        "the sum of one term per step (the 'via a[t]' lines): dL/dW_hh = sum_t dL/da[t] h[t-1]^T.",
        "Gradient layout: each gradient has the shape of its variable.",
    ]
    sol.layout = "gradient"


def _norm_product(sol: Solution, w_hh: np.ndarray, hs: list) -> None:
    """||dh[t]/dh[t-1]|| = ||diag(1 - h_t^2) W_hh|| per step and their product (vanishing/exploding)."""
    if len(hs) < 2:
        return
    sec = "bptt"
    sol.sections[sec] = "Why gradients vanish or explode: the Jacobians backprop through time multiplies"
    w = T.to_float(w_hh)
    total = np.eye(w.shape[0])
    product = 1.0
    jac = Symbol("diag(1 - h[t]^2) W_hh", r"\operatorname{diag}(1 - h_t^2) W_{hh}")
    for t in range(len(hs), 1, -1):
        h = T.to_float(hs[t - 1])
        j = np.diag(1 - h[:, 0] ** 2) @ w
        total = total @ j
        n = float(np.linalg.norm(j, 2))
        product *= n
        sol.add(Step(f"jacobian_norm[{t}]", sec, formula=call("norm", r"\lVert\cdot\rVert", jac),
                     value=n, note=f"||dh[{t}]/dh[{t - 1}]||, the spectral norm of one step's Jacobian"))
    T_ = len(hs)
    sol.add(Step("norm_product", sec, value=product,
                 note=f"the product of the norms, an upper bound on ||dh[{T_}]/dh[1]||: below 1 per step it "
                      "shrinks geometrically (vanishing gradients), above 1 it can grow geometrically (exploding)"))
    sol.add(Step("bptt_norm", sec, value=float(np.linalg.norm(total, 2)),
                 note=f"||dh[{T_}]/dh[1]||, the norm of the whole product of Jacobians"))
    s = float(np.linalg.norm(w, 2))
    sol.add(Step("W_hh_norm", sec, value=s,
                 note="tanh' <= 1, so each step's norm is at most ||W_hh||: with ||W_hh|| < 1 the gradient "
                      "must vanish over long sequences" if s < 1 else
                      "tanh' <= 1, so each step's norm is at most ||W_hh||; with ||W_hh|| > 1 the gradient "
                      "can explode unless tanh saturates"))


# ---------------------------------------------------------------------------------------------
# attention


def solve_attention(prob: LayerProblem, sol: Solution) -> None:
    q, k, v = (T.to_float(arr(prob.arrays[n])) for n in ("Q", "K", "V"))
    n, d = q.shape
    m = k.shape[0]
    if k.shape[1] != d:
        raise fail(prob, "K", f"K is {dims(k.shape)}: expected {m}x{d} (one key a row, d = {d} like Q)")
    if v.shape[0] != m:
        raise fail(prob, "V", f"V has {v.shape[0]} rows: expected {m}, one value per key")
    mask = None
    if "mask" in prob.arrays:
        mask = np.array(prob.arrays["mask"], dtype=bool)
        if mask.shape != (n, m):
            raise fail(prob, "mask", f"the mask is {dims(mask.shape)}: expected {n}x{m} (queries x keys)")
        if not mask.any(axis=1).all():
            raise fail(prob, "mask", "a row of the mask hides every key: expected at least one 1 per row")
    g = T.to_float(arr(prob.arrays["G"]))
    if g.shape != (n, v.shape[1]):
        raise fail(prob, "upstream", f"dL/d(out) is {dims(g.shape)}: expected {n}x{v.shape[1]} (queries x value size)")
    op = ScaledDotProductAttention(mask)
    graph = Graph(file=prob.file)
    nodes = [graph.leaf(name, Symbol(name), "input", val, matrix=True) for name, val in (("Q", q), ("K", k), ("V", v))]
    out = graph.apply(op, nodes, "out", Symbol("out"))
    loss = graph.apply(GivenUpstream(g), (out,), "L", Symbol("L"))
    graph.forward()
    grads = graph.gradients(loss)
    sol.sections.update(SECTIONS)
    for name, val in (("Q", q), ("K", k), ("V", v)):
        sol.add(Step(name, "given", value=mat(val), shape=val.shape, note="one row per token"))
    if mask is not None:
        sol.add(Step("mask", "given", value=mat(mask.astype(int)), shape=mask.shape,
                     note="1: query i may attend to key j; 0: hidden (score set to -inf)"))
    sol.add(Step("dL/d(out)", "given", value=mat(g), shape=g.shape, note="the gradient arriving at the output (given)"))
    S, A = Symbol("S"), Symbol("A")
    sqrt_d = call("sqrt", r"\operatorname{sqrt}", Symbol("d"))
    scores = op.scores(q, k)
    weights = op.weights(q, k)
    sol.add(Step("sqrt(d)", "forward", value=math.sqrt(d), note=f"d = {d}, the key size: keeps the scores' "
                                                                "variance about 1"))
    sol.add(Step("S", "forward", formula=Symbol("Q") @ Symbol("K").T / sqrt_d, value=_masked(scores),
                 shape=scores.shape, note="scores; masked entries are -inf" if mask is not None else "scores"))
    sol.add(Step("A", "forward", formula=call("softmax", r"\operatorname{softmax}", S), value=mat(weights),
                 shape=weights.shape, note="softmax of each row: each row sums to 1"))
    out_value = out.value
    assert out_value is not None, "graph.forward() has run"
    sol.add(Step("out", "forward", formula=A @ Symbol("V"), value=mat(out_value), shape=out_value.shape))
    da = g @ v.T
    ds = weights * (da - (da * weights).sum(axis=1, keepdims=True))
    G = Symbol("dL/d(out)")
    dA, dS = Symbol("dL/dA"), Symbol("dL/dS")
    sol.add(Step("dL/dV", "backward", formula=A.T @ G, value=mat(grads[nodes[2]]), shape=v.shape))
    sol.add(Step("dL/dA", "backward", formula=G @ Symbol("V").T, value=mat(da), shape=da.shape))
    sol.add(Step("dL/dS", "backward", formula=A.odot(dA - call("rowsum", r"\operatorname{rowsum}", dA.odot(A))),
                 value=mat(ds), shape=ds.shape,
                 note="the softmax Jacobian diag(a) - a a^T applied to each row: dS_ij = A_ij (dA_ij - sum_k "
                      "dA_ik A_ik); masked entries get 0"))
    sol.add(Step("dL/dQ", "backward", formula=dS @ Symbol("K") / sqrt_d, value=mat(grads[nodes[0]]), shape=q.shape))
    sol.add(Step("dL/dK", "backward", formula=dS.T @ Symbol("Q") / sqrt_d, value=mat(grads[nodes[1]]), shape=k.shape))
    sol.summary = ["dL/dQ", "dL/dK", "dL/dV"]
    sol.summary_title = "Gradients"
    sol.notes.append("One head: out = softmax(Q K^T / sqrt(d)) V, softmax along each row (over the keys); "
                     "floats, since softmax takes exponentials.")


def _masked(s: np.ndarray) -> tuple:
    return tuple(tuple(float(x) for x in row) for row in s)
