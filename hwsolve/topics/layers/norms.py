"""Dropout, batch norm and layer norm, step by step (see solve.py for the common frame)."""

from __future__ import annotations

import numpy as np

from hwsolve.autodiff.graph import Graph
from hwsolve.autodiff.layer_ops import BatchNorm, Dropout, GivenUpstream, LayerNorm
from hwsolve.core import values as T
from hwsolve.core.records import Solution, Step
from hwsolve.core.sym import Const, Symbol, call, sumover
from hwsolve.topics.layers.solve import SECTIONS, arr, c, dims, fail, mat, num
from hwsolve.topics.layers.spec import LayerProblem


def _upstream(prob: LayerProblem, shape) -> np.ndarray:
    g = arr(prob.arrays["G"])
    if g.shape != tuple(shape):
        raise fail(prob, "upstream", f"dL/dY is {dims(g.shape)}, the output Y is {dims(shape)}: "
                                     "expected one gradient per output entry")
    return g


def solve_dropout(prob: LayerProblem, sol: Solution) -> None:
    x, mask = arr(prob.arrays["X"]), arr(prob.arrays["mask"])
    if mask.shape != x.shape:
        raise fail(prob, "mask", f"the mask is {dims(mask.shape)}, the input {dims(x.shape)}: "
                                 "expected one 0/1 entry per input entry")
    g = _upstream(prob, x.shape)
    p = prob.settings["p"]
    op = Dropout(mask, p)
    graph = Graph(file=prob.file)
    xn = graph.leaf("X", Symbol("X"), "input", x, matrix=True)
    yn = graph.apply(op, (xn,), "Y", Symbol("Y"))
    loss = graph.apply(GivenUpstream(g), (yn,), "L", Symbol("L"), show=False)
    graph.forward()
    sol.sections.update(SECTIONS)
    sol.add(Step("X", "given", value=mat(x), shape=x.shape, note="the input"))
    sol.add(Step("m", "given", value=mat(mask), shape=mask.shape, note="the mask: 1 keeps an entry, 0 drops it"))
    sol.add(Step("p", "given", value=num(p), note="the drop probability"))
    # dL/dY (given) is the backward pass's first step (dL/dY = G); a "given" step too would be a
    # second step of the same name
    sol.add(Step("scale", "forward", formula=Const(1) / (Const(1) - Symbol("p")), substituted=Const(1) / (1 - c(p)),
                 value=num(op.scale), note="inverted dropout scales the kept entries up at training time, so "
                                           "nothing changes at test time"))
    graph.forward_steps(sol)
    graph.backward(loss, sol)
    sol.summary = ["dL/dX"]
    sol.summary_title = "Gradients"
    sol.notes.append("Inverted dropout: Y = m ⊙ X / (1 - p); the backward pass uses the same mask and scale: "
                     "dropped entries get gradient 0.")


def solve_norm(prob: LayerProblem, sol: Solution) -> None:
    x = arr(prob.arrays["X"])
    gamma, beta = arr(prob.arrays["gamma"]), arr(prob.arrays["beta"])
    g = _upstream(prob, x.shape)
    batch = prob.type == "batchnorm"
    op = (BatchNorm if batch else LayerNorm)(prob.settings["eps"])
    graph = Graph(file=prob.file)
    xn = graph.leaf("X", Symbol("X"), "input", x, matrix=True)
    gn = graph.leaf("gamma", Symbol("gamma", r"\gamma"), "param", gamma)
    bn = graph.leaf("beta", Symbol("beta", r"\beta"), "param", beta)
    yn = graph.apply(op, (xn, gn, bn), "Y", Symbol("Y"))
    loss = graph.apply(GivenUpstream(g), (yn,), "L", Symbol("L"))
    graph.forward()
    grads = graph.gradients(loss)
    st = op.stats(x)
    n = st["n"]
    over = "each column (feature) over the N examples of the batch" if batch else \
        "each row (example) over its D features"
    sol.sections.update(SECTIONS)
    sol.add(Step("X", "given", value=mat(x), shape=x.shape, note="one example a row, one feature a column"))
    sol.add(Step("gamma", "given", value=tuple(num(v) for v in gamma[:, 0]), shape=(len(gamma),), note="scale"))
    sol.add(Step("beta", "given", value=tuple(num(v) for v in beta[:, 0]), shape=(len(beta),), note="shift"))
    sol.add(Step("epsilon", "given", value=num(op.eps), note="added to the variance before the square root"))
    sol.add(Step("dL/dY", "given", value=mat(g), shape=g.shape, note="the gradient arriving at the output (given)"))
    N = Symbol("N" if batch else "D")
    xs = Symbol("x_i")
    sol.add(Step("mu", "forward", formula=sumover(xs) / N, value=_vec(st["mean"]), shape=(len(st["mean"]),),
                 note=f"the mean of {over}, N = {n}" if batch else f"the mean of {over}, D = {n}"))
    sol.add(Step("var", "forward", formula=sumover((xs - Symbol("mu", r"\mu")) ** 2) / N, value=_vec(st["var"]),
                 shape=(len(st["var"]),), note="the biased variance (divide by " + ("N" if batch else "D")
                 + "), as training-mode normalisation uses"))
    sol.add(Step("sigma", "forward", formula=_sqrt(Symbol("var") + Symbol("epsilon", r"\epsilon")),
                 value=_vec(st["sigma"]), shape=(len(st["sigma"]),),
                 note="exact when var + epsilon is a perfect square, otherwise a float"))
    xhat = st["xhat"]
    sol.add(Step("xhat", "forward", formula=(Symbol("x") - Symbol("mu", r"\mu")) / Symbol("sigma", r"\sigma"),
                 value=mat(xhat), shape=xhat.shape, note="the normalised values: mean 0, variance about 1"))
    y = yn.value
    assert y is not None, "graph.forward() has run"
    sol.add(Step("Y", "forward", formula=op.formula([xn.label, gn.label, bn.label]), value=mat(y), shape=y.shape,
                 note="scaled and shifted per feature (per column)"))
    if batch and "running" in prob.settings:
        _running_steps(sol, prob.settings["running"], st)
    dxhat = T.unify(g, gamma.reshape(1, -1))
    dxhat = dxhat[0] * dxhat[1]
    sum_g = Symbol("dL/dY")
    sol.add(Step("dL/dbeta", "backward", formula=sumover(sum_g), value=_vec(grads[bn][:, 0]),
                 shape=(len(beta),), note="summed down each column: beta is added to every example"))
    sol.add(Step("dL/dgamma", "backward", formula=sumover(sum_g.odot(Symbol("xhat"))), value=_vec(grads[gn][:, 0]),
                 shape=(len(gamma),), note="summed down each column"))
    sol.add(Step("dL/dxhat", "backward", formula=sum_g.odot(Symbol("gamma", r"\gamma")), value=mat(dxhat),
                 shape=dxhat.shape, note="each column times its gamma"))
    sol.add(Step("dL/dX", "backward", formula=op.local(0, sum_g, [], None, None), value=mat(grads[xn]),
                 shape=x.shape,
                 note=f"the compact form, sums taken {'down each column' if batch else 'along each row'}, "
                      f"N = {n}: the mean and the variance both depend on every x, which gives the two "
                      "correction terms"))
    sol.summary = ["dL/dgamma", "dL/dbeta", "dL/dX"]
    sol.summary_title = "Gradients"
    sol.notes.append(("Batch norm in training mode: statistics of this batch, per feature (column); "
                      if batch else "Layer norm: statistics per example (row), over its features; ")
                     + f"epsilon = {num(op.eps)} inside the square root.")


def _running_steps(sol: Solution, running: tuple, st: dict) -> None:
    """PyTorch's update of the running statistics (nn.BatchNorm in training mode): the new batch
    weighs `momentum`; the running variance takes the UNBIASED variance (divide by N - 1) while the
    normalisation above uses the biased one."""
    m, rm0, rv0 = running
    n = st["n"]
    mom, one = Symbol("momentum"), Const(1)
    unbiased = [v * n / (n - 1) for v in st["var"]]
    sol.add(Step("running_mean[0]", "given", value=tuple(num(v[0]) for v in rm0), shape=(len(rm0),),
                 note="the running mean before this batch"))
    sol.add(Step("running_var[0]", "given", value=tuple(num(v[0]) for v in rv0), shape=(len(rv0),),
                 note="the running variance before this batch"))
    sol.add(Step("var_unbiased", "forward", formula=Symbol("var") * Symbol("N") / (Symbol("N") - one),
                 value=_vec(unbiased), shape=(len(unbiased),),
                 note=f"N / (N - 1) = {n}/{n - 1} times the biased variance: what the running variance takes"))
    new_mean = [(1 - m) * a[0] + m * b for a, b in zip(rm0, st["mean"], strict=True)]
    new_var = [(1 - m) * a[0] + m * b for a, b in zip(rv0, unbiased, strict=True)]
    sol.add(Step("running_mean", "forward",
                 formula=(one - mom) * Symbol("running_mean[0]") + mom * Symbol("mu", r"\mu"),
                 value=_vec(new_mean), shape=(len(new_mean),), note=f"momentum = {num(m)} (PyTorch's default 0.1)"))
    sol.add(Step("running_var", "forward",
                 formula=(one - mom) * Symbol("running_var[0]") + mom * Symbol("var_unbiased"),
                 value=_vec(new_var), shape=(len(new_var),),
                 note="PyTorch's rule: the unbiased variance of the batch, not the biased one used to normalise"))
    sol.notes.append("Running statistics (PyTorch's nn.BatchNorm): running <- (1 - momentum) running + momentum "
                     "(batch statistic), with the unbiased variance for running_var; eval mode normalises "
                     "with them instead of the batch's.")


def _vec(a) -> tuple:
    return tuple(num(v) for v in a)


def _sqrt(e):
    return call("sqrt", r"\operatorname{sqrt}", e)
