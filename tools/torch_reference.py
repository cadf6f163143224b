#!/usr/bin/env python3
"""hwsolve against PyTorch: random problems, solved by both, compared value by value.

Not part of the test suite and not a dependency: it needs torch (float64, autograd), e.g.

    python3 -m venv /work/torchvenv && /work/torchvenv/bin/pip install torch numpy pyyaml
    /work/torchvenv/bin/pip install -e .
    /work/torchvenv/bin/python tools/torch_reference.py check --cases 20 --seed 1
    /work/torchvenv/bin/python tools/torch_reference.py freeze --cases 3 --seed 7

`check` generates CASES random problems per area, runs hwsolve on each spec (`--format json`,
in process) and PyTorch on the same numbers, and prints every disagreement (relative 1e-9).
`freeze` writes the cases as fixtures, tests/data/torch_reference/<area>.json: the spec and
the torch-computed values per step name; tests/test_torch_reference.py replays them without torch.

Areas: network (every activation and loss of the rule table, one example), batch (mean / sum),
conv, pool, batchnorm, layernorm, dropout, rnn, attention (kind: layer), arch and conv_shape
(sizes and parameter counts against torch modules), train (every optimizer and convention
against torch.optim or the sheet's equations run on torch autograd), graph (matrix expressions).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
import yaml

torch.set_default_dtype(torch.float64)

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "data" / "torch_reference"
RTOL = 1e-9
ATOL = 1e-12   # times the largest magnitude of the compared array (exact zeros vs 1e-17 noise)

Case = dict[str, Any]   # {"name", "area", "command", "spec" | "args", "expected": {step: value}}


# -- running hwsolve and comparing -----------------------------------------------------------------


def run_hwsolve(case: Case) -> tuple[dict[str, Any], list[str]]:
    """Step name -> JSON value, and the notes, of hwsolve's answer to the case."""
    from click.testing import CliRunner

    from hwsolve.cli import main

    with tempfile.TemporaryDirectory() as tmp:
        argv = [case["command"]]
        if "spec" in case:
            path = Path(tmp) / "spec.yaml"
            path.write_text(yaml.safe_dump(case["spec"], sort_keys=False))
            argv.append(str(path))
        argv += list(case.get("args", [])) + ["--format", "json"]
        result = CliRunner().invoke(main, argv)
    if result.exit_code != 0:
        raise RuntimeError(f"hwsolve {' '.join(argv[:1])} exit {result.exit_code}: {result.output.strip()}")
    out = json.loads(result.output)
    names = [s["name"] for s in out["steps"]]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:   # names are documented as unique within one output (docs/json-schema.md)
        raise RuntimeError(f"step names used twice: {', '.join(twice)}")
    return {s["name"]: s["value"] for s in out["steps"]}, out.get("notes", [])


def as_array(v: Any) -> np.ndarray:
    def num(x):
        if isinstance(x, str):
            return float(x.replace("∞", "inf"))
        return x
    if isinstance(v, list):
        return np.array(_map_nested(v, num), dtype=float)
    return np.array(num(v), dtype=float)


def _map_nested(v, fn):
    return [_map_nested(x, fn) for x in v] if isinstance(v, list) else fn(v)


def compare(expected: dict[str, Any], got: dict[str, Any]) -> list[str]:
    """Every step whose value differs (shape, or beyond RTOL), as one line each."""
    bad = []
    for name, want in expected.items():
        if name not in got:
            bad.append(f"{name}: missing from hwsolve's output")
            continue
        w, g = as_array(want), as_array(got[name])
        if w.shape != g.shape:
            bad.append(f"{name}: shape {list(g.shape)}, torch {list(w.shape)}")
            continue
        scale = float(np.max(np.abs(w[np.isfinite(w)]), initial=1.0))
        same_inf = np.isinf(w) & (w == g)
        close = np.isclose(g, w, rtol=RTOL, atol=ATOL * scale) | same_inf
        if not close.all():
            bad.append(f"{name}: hwsolve {g.tolist()} torch {w.tolist()}")
    return bad


# -- random numbers that both sides read identically ----------------------------------------------


def dec(rng: random.Random, lo: float = -2.0, hi: float = 2.0, places: int = 2) -> float:
    """A short decimal: hwsolve reads it exactly, torch as the nearest double, the same number."""
    while True:
        x = round(rng.uniform(lo, hi), places)
        if x != 0:
            return x


def vec(rng, n, **kw) -> list[float]:
    return [dec(rng, **kw) for _ in range(n)]


def mat(rng, m, n, **kw) -> list[list[float]]:
    return [vec(rng, n, **kw) for _ in range(m)]


def ft(x) -> torch.Tensor:
    """Data (no gradient) in float64."""
    return torch.tensor(x, dtype=torch.float64)


def t(x) -> torch.Tensor:
    return torch.tensor(x, dtype=torch.float64, requires_grad=True)


def plain(x: torch.Tensor) -> Any:
    """A tensor as hwsolve's JSON writes it: scalar, list (a column vector) or list of rows."""
    a = x.detach()
    if a.dim() == 2 and a.shape[1] == 1 and a.shape[0] > 1:
        a = a[:, 0]
    if a.numel() == 1:
        return a.reshape(()).item()
    return a.tolist()


def hw(x: torch.Tensor) -> Any:
    """A value as hwsolve writes it: a matrix stays m x n (even 1 x 1), a vector is a list."""
    return x.detach().tolist() if x.dim() >= 2 else plain(x)


def grad_of(x: torch.Tensor) -> Any:
    """The gradient as hwsolve writes it: a weight matrix stays m x n (even 1 x 1), else `plain`."""
    g = x.grad if x.grad is not None else torch.zeros_like(x)
    return g.tolist() if x.dim() == 2 else plain(g)


def near_kink(*tensors: torch.Tensor, width: float = 1e-6) -> bool:
    """A pre-activation this close to 0 could fall on either side of a kink in float64."""
    return any(bool((x.detach().abs() < width).any()) for x in tensors)


# -- network: one example, every activation and loss -----------------------------------------------

# spec form -> torch function; parameters drawn per case
def _activation(rng: random.Random, name: str) -> tuple[Any, Callable]:
    if name == "relu":
        return "relu", F.relu
    if name == "leaky_relu":
        s = rng.choice([0.01, 0.1, 0.2, 0.3])
        return {"type": "leaky_relu", "slope": s}, lambda a: F.leaky_relu(a, s)
    if name == "elu":
        al = rng.choice([1, 0.5, 2])
        return {"type": "elu", "alpha": al}, lambda a: F.elu(a, al)
    if name == "softplus":
        be = rng.choice([1, 2, 0.5])
        return {"type": "softplus", "beta": be}, lambda a: F.softplus(a, be)
    if name == "scaled_relu":
        c = rng.choice([2, 5, 0.5])
        return {"type": "relu", "scale": c}, lambda a: c * F.relu(a)
    fns = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "gelu": F.gelu, "identity": lambda a: a,
           "gelu_tanh": lambda a: F.gelu(a, approximate="tanh"),
           "abs": torch.abs, "exp": torch.exp}
    return name, fns[name]


ACTIVATIONS = ["relu", "leaky_relu", "elu", "sigmoid", "tanh", "softplus", "gelu", "identity",
               "scaled_relu", "abs", "exp", "softmax", "gelu_tanh"]
KINKED = {"relu", "leaky_relu", "elu", "scaled_relu", "abs"}


def _loss(rng: random.Random, name: str, K: int):
    """(spec form, target for the spec, torch loss(yhat, target tensor), target tensor, last layer)."""
    if name == "cross_entropy":
        if rng.random() < 0.3:    # a soft target (probabilities): torch's cross_entropy with class probabilities
            q = [rng.randint(1, 4) for _ in range(K)]
            probs = [v / sum(q) for v in q]
            target: Any = [f"{v}/{sum(q)}" for v in q]
            return name, target, lambda p, y: -(y * torch.log(p)).sum(), ft(probs), "softmax"
        k = rng.randrange(K)
        y = torch.zeros(K)
        y[k] = 1
        return name, {"class": k}, lambda p, y: -(y * torch.log(p)).sum(), y, "softmax"
    if name == "bce":
        y = [rng.choice([0, 1, 0.25, 0.5]) for _ in range(K)]
        return name, y, lambda p, yy: F.binary_cross_entropy(p, yy), ft(y), "sigmoid"
    if name == "svm_hinge":
        y = [rng.choice([-1, 1]) for _ in range(K)]
        m = rng.choice([1, 0.5, 2])
        return ({"type": "svm_hinge", "margin": m}, y[0] if K == 1 else y,
                lambda p, yy: F.relu(m - yy * p).mean(), ft(y), None)
    y = vec(rng, K)
    target = y[0] if K == 1 else y
    if name == "huber":
        d = rng.choice([1, 0.5, 2, 0.3])
        return {"type": "huber", "delta": d}, target, lambda p, yy: F.huber_loss(p, yy, delta=d), ft(y), None
    if name == "smooth_l1":
        beta = rng.choice([1, 0.5, 2])
        return ({"type": "smooth_l1", "beta": beta}, target, lambda p, yy: F.smooth_l1_loss(p, yy, beta=beta),
                ft(y), None)
    fns = {"squared_error": lambda p, yy: ((p - yy) ** 2).sum(),
           "half_squared_error": lambda p, yy: ((p - yy) ** 2).sum() / 2,
           "mse": lambda p, yy: F.mse_loss(p, yy),
           "half_mse": lambda p, yy: F.mse_loss(p, yy) / 2}
    return name, target, fns[name], ft(y), None


LOSSES = ["squared_error", "half_squared_error", "mse", "half_mse", "huber", "smooth_l1", "bce",
          "cross_entropy", "svm_hinge"]


def network_case(rng: random.Random, i: int) -> Case | None:
    loss_name = LOSSES[i % len(LOSSES)]
    d = rng.randint(1, 3)
    widths = [rng.randint(1, 3) for _ in range(rng.randint(1, 2))]
    K = rng.randint(2, 3) if loss_name == "cross_entropy" else rng.randint(1, 3)
    widths.append(K)
    loss_spec, target, loss_fn, y, last = _loss(rng, loss_name, K)
    x = vec(rng, d)
    layers, params, acts = [], [], []
    fan_in = d
    for li, m in enumerate(widths):
        W, b = mat(rng, m, fan_in, lo=-1.5, hi=1.5), vec(rng, m, lo=-1, hi=1)
        layers.append({"linear": {"W": W, "b": b}})
        params.append((t(W), t(b)))
        if li < len(widths) - 1:
            name = ACTIVATIONS[(i + li * 5) % len(ACTIVATIONS)]
        else:
            name = last or rng.choice(["identity", "tanh", "relu", "leaky_relu", "softplus"])
        if name == "softmax":
            spec_a, fn = "softmax", lambda a: torch.softmax(a, 0)
        else:
            spec_a, fn = _activation(rng, name)
        layers.append(spec_a)
        acts.append((name, fn))
        fan_in = m
    xt = t(x)
    z = xt
    pre = []
    for (W, b), (name, fn) in zip(params, acts, strict=True):
        a = W @ z + b
        if name in KINKED:
            pre.append(a)
        z = fn(a)
    if near_kink(*pre):
        return None
    L = loss_fn(z, y)
    L.backward()
    numerator = i % 5 == 4        # dL/dW is W's transpose, dL/dv a row: torch's grads transposed
    vec_grad = (lambda g: plain(g) if g.numel() == 1 else [g.tolist()]) if numerator else plain
    exp = {"yhat": plain(z), "L": L.item(), "dL/dx": vec_grad(xt.grad)}
    for li, (W, b) in enumerate(params, 1):
        exp[f"dL/dW[{li}]"] = W.grad.T.tolist() if numerator else W.grad.tolist()
        exp[f"dL/db[{li}]"] = vec_grad(b.grad)
    spec = {"hwsolve": 1, "kind": "network", "title": f"torch network {i}: {loss_name}", "input": x,
            "target": target, "layers": layers, "loss": loss_spec}
    if numerator:
        spec["layout"] = "numerator"
    return {"name": f"network-{i}-{loss_name}", "area": "network", "command": "backprop", "spec": spec,
            "expected": exp}


def kink_case(rng: random.Random, i: int) -> Case | None:
    """Integers chosen so pre-activations sit exactly on the kink: hwsolve's conventions there
    (ReLU'(0) = 0, LeakyReLU'(0) = slope, abs'(0) = 0, ELU'(0) = alpha) against torch's."""
    name = ["relu", "leaky_relu", "abs", "elu", "scaled_relu"][i % 5]
    d, m = rng.randint(1, 3), rng.randint(2, 3)
    x = [rng.randint(-2, 2) for _ in range(d)]
    W = [[rng.randint(-2, 2) for _ in range(d)] for _ in range(m)]
    # b makes the first unit's pre-activation exactly 0, the others random
    b = [-sum(w * v for w, v in zip(W[0], x, strict=True))] + [rng.randint(-2, 2) for _ in range(m - 1)]
    W2 = [[rng.randint(-2, 2) or 1 for _ in range(m)]]
    spec_a, fn = _activation(rng, name)
    y = rng.randint(-3, 3)
    Wt, bt, W2t, xt = t(W), t(b), t(W2), t(x)
    yhat = W2t @ fn(Wt @ xt + bt)
    L = ((yhat - y) ** 2).sum()
    L.backward()
    spec = {"hwsolve": 1, "kind": "network", "title": f"torch kink {i}: {name}", "input": x, "target": y,
            "layers": [{"linear": {"W": W, "b": b}}, spec_a, {"linear": {"W": W2}}], "loss": "squared_error"}
    exp = {"L": L.item(), "dL/dW[1]": grad_of(Wt), "dL/db[1]": grad_of(bt), "dL/dW[2]": grad_of(W2t),
           "dL/dx": grad_of(xt)}
    return {"name": f"kink-{i}-{name}", "area": "kink", "command": "backprop", "spec": spec, "expected": exp}


def tie_case(rng: random.Random, i: int) -> Case | None:
    """maximum / minimum with tied entries: torch splits the gradient evenly (min_max_tie: split)."""
    m, n = rng.randint(1, 3), rng.randint(2, 3)
    A = [[rng.randint(-1, 1) for _ in range(n)] for _ in range(m)]
    B = [[rng.randint(-1, 1) for _ in range(n)] for _ in range(m)]
    C = [[rng.randint(1, 3) for _ in range(n)] for _ in range(m)]
    At, Bt, Ct = t(A), t(B), t(C)
    J = (torch.maximum(At, Bt) * Ct).sum() + (torch.minimum(At, Bt) ** 2).sum()
    J.backward()
    spec = {"hwsolve": 1, "kind": "graph", "title": f"torch ties {i}", "params": {"A": A, "B": B},
            "inputs": {"C": C}, "nodes": {"J": "sum(maximum(A, B) * C) + sum(minimum(A, B)^2)"},
            "output": "J", "conventions": {"min_max_tie": "split"}}
    exp = {"J": J.item(), "dJ/dA": grad_of(At), "dJ/dB": grad_of(Bt)}
    return {"name": f"tie-{i}", "area": "tie", "command": "backprop", "spec": spec, "expected": exp}


def activations_case(rng: random.Random, i: int) -> Case | None:
    """`hwsolve activations NAME... --at ... --function --derivative`: f and f' of table entries at
    points including the kink 0, against torch's functions and autograd's derivative there."""
    slope, alpha, beta = rng.choice([0.1, 0.2, 0.01]), rng.choice([0.5, 1, 2]), rng.choice([1, 2, 0.5])

    def tag(x) -> str:
        return f"{x:g}"

    table = [("relu", "ReLU", F.relu), ("sigmoid", "sigmoid", torch.sigmoid), ("tanh", "tanh", torch.tanh),
             (f"leaky_relu:{slope}", "LeakyReLU" + ("" if slope == 0.01 else f"_{tag(slope)}"),
              lambda a: F.leaky_relu(a, slope)),
             (f"elu:{alpha}", "ELU" + ("" if alpha == 1 else f"_{tag(alpha)}"), lambda a: F.elu(a, alpha)),
             (f"softplus:{beta}", "Softplus" + ("" if beta == 1 else f"_{tag(beta)}"), lambda a: F.softplus(a, beta)),
             ("gelu", "GELU", F.gelu), ("gelu_tanh", "GELU_tanh", lambda a: F.gelu(a, approximate="tanh")),
             ("abs", "abs", torch.abs), ("identity", "id", lambda a: a)]
    chosen = rng.sample(table, 3)
    xs = sorted({0.0, *(dec(rng, -3, 3) for _ in range(4))})
    exp: dict[str, Any] = {"x": xs}
    for _, label, fn in chosen:
        xt = t(xs)
        y = fn(xt)
        y.sum().backward()
        exp[f"{label}(x)"] = y.tolist()
        exp[f"{label}'(x)"] = xt.grad.tolist()
    args = [name for name, _, _ in chosen] + ["--at", ",".join(f"{x:g}" for x in xs), "--function", "--derivative"]
    return {"name": f"activations-{i}", "area": "activations", "command": "activations", "args": args,
            "expected": exp}


# -- batch: the same network on n examples, mean or sum ----------------------------------------------

BATCH_LOSSES = ["squared_error", "half_squared_error", "mse", "half_mse", "huber", "bce"]


def batch_case(rng: random.Random, i: int) -> Case | None:
    loss_name = BATCH_LOSSES[i % len(BATCH_LOSSES)]
    reduction = "mean" if i % 2 == 0 else "sum"
    n, d, h, K = rng.randint(2, 4), rng.randint(1, 3), rng.randint(1, 3), rng.randint(1, 2)
    X = mat(rng, n, d)
    W1, b1, W2, b2 = mat(rng, h, d, lo=-1.5, hi=1.5), vec(rng, h), mat(rng, K, h, lo=-1.5, hi=1.5), vec(rng, K)
    act_name = rng.choice(["tanh", "relu", "sigmoid", "elu", "leaky_relu"])
    spec_a, fn = _activation(rng, act_name)
    last = "sigmoid" if loss_name == "bce" else "identity"
    Y = [[rng.choice([0, 1, 0.5]) for _ in range(K)] for _ in range(n)] if loss_name == "bce" else mat(rng, n, K)
    loss_spec: Any = loss_name
    delta = None
    if loss_name == "huber":
        delta = rng.choice([0.5, 1, 2])
        loss_spec = {"type": "huber", "delta": delta}
    Xt, W1t, b1t, W2t, b2t = t(X), t(W1), t(b1), t(W2), t(b2)
    Yt = ft(Y)
    A1 = Xt @ W1t.T + b1t                       # rows are examples
    Z = A1 @ torch.zeros(0, 0) if False else fn(A1)
    A2 = Z @ W2t.T + b2t
    P = torch.sigmoid(A2) if last == "sigmoid" else A2
    if act_name in KINKED and near_kink(A1):
        return None
    per = {"squared_error": lambda: ((P - Yt) ** 2).sum(1), "half_squared_error": lambda: ((P - Yt) ** 2).sum(1) / 2,
           "mse": lambda: ((P - Yt) ** 2).mean(1), "half_mse": lambda: ((P - Yt) ** 2).mean(1) / 2,
           "huber": lambda: F.huber_loss(P, Yt, delta=delta or 1.0, reduction="none").mean(1),
           "bce": lambda: F.binary_cross_entropy(P, Yt, reduction="none").mean(1)}[loss_name]()
    L = per.mean() if reduction == "mean" else per.sum()
    L.backward()
    exp = {"L": L.item(), "dL/dW[1]": grad_of(W1t), "dL/db[1]": grad_of(b1t), "dL/dW[2]": grad_of(W2t),
           "dL/db[2]": grad_of(b2t), "yhat": plain(P.T), "dL/dx": plain(Xt.grad.T)}
    columns = i % 3 == 1          # the same batch written as columns (d x n), target K x n
    Xs, Ys = ([list(c) for c in zip(*X, strict=True)], [list(c) for c in zip(*Y, strict=True)]) if columns else (X, Y)
    spec = {"hwsolve": 1, "kind": "network", "title": f"torch batch {i}", "batch": "columns" if columns else "rows",
            "reduction": reduction, "input": Xs, "target": [r[0] for r in Y] if K == 1 else Ys,
            "layers": [{"linear": {"W": W1, "b": b1}}, spec_a, {"linear": {"W": W2, "b": b2}}, last],
            "loss": loss_spec}
    return {"name": f"batch-{i}-{loss_name}-{reduction}", "area": "batch", "command": "backprop",
            "spec": spec, "expected": exp}


# -- kind: layer --------------------------------------------------------------------------------------


def conv_case(rng: random.Random, i: int) -> Case | None:
    C, Fn = rng.randint(1, 3), rng.randint(1, 3)
    kh, kw = rng.randint(1, 3), rng.randint(1, 3)
    if i % 3 == 2:    # a different setting per axis, written HxW
        s2, p2, d2 = (rng.randint(1, 2), rng.randint(1, 2)), (rng.randint(0, 2), rng.randint(0, 2)), (1, 2)
    else:
        s2, p2, d2 = (rng.randint(1, 2),) * 2, (rng.randint(0, 2),) * 2, (rng.randint(1, 2),) * 2
    H, W = rng.randint(3, 6), rng.randint(3, 6)
    if H + 2 * p2[0] < d2[0] * (kh - 1) + 1 or W + 2 * p2[1] < d2[1] * (kw - 1) + 1:
        return None
    s, p, dil = s2, p2, d2
    flip = i % 4 == 3
    X = [mat(rng, H, W) for _ in range(C)]
    Ks = [[mat(rng, kh, kw) for _ in range(C)] for _ in range(Fn)]
    bs = vec(rng, Fn)
    Xt, Kt, bt = t([X]), t(Ks), t(bs)
    Kuse = torch.flip(Kt, dims=(2, 3)) if flip else Kt
    Y = F.conv2d(Xt, Kuse, bt, stride=s, padding=p, dilation=dil)
    G = ft([mat(rng, Y.shape[2], Y.shape[3]) for _ in range(Fn)])
    (Y[0] * G).sum().backward()
    spec: dict[str, Any] = {"hwsolve": 1, "kind": "layer", "type": "conv", "title": f"torch conv {i}",
                            "input": X[0] if C == 1 else X}
    if Fn == 1 and i % 2 == 0:
        spec["kernel"] = Ks[0][0] if C == 1 else Ks[0]
        spec["bias"] = bs[0]
    else:
        spec["filters"] = [{"kernel": k[0] if C == 1 else k, "bias": b} for k, b in zip(Ks, bs, strict=True)]
    spec.update({"stride": _pair_text(s), "padding": _pair_text(p), "dilation": _pair_text(dil),
                 "operation": "convolution" if flip else "cross-correlation",
                 "upstream": G[0].tolist() if Fn == 1 else G.tolist()})
    exp: dict[str, Any] = {}
    exp.update(_indexed("Y", Y[0], Fn > 1))
    exp.update(_indexed("dL/dX", Xt.grad[0], C > 1))
    for f in range(Fn):
        for c in range(C):
            index = (f"[{f}]" if Fn > 1 else "") + (f"[{c}]" if C > 1 else "")
            name = "dL/dK" + index
            exp[name] = Kt.grad[f, c].tolist()
    exp["dL/db"] = plain(bt.grad) if Fn > 1 else bt.grad[0].item()
    return {"name": f"conv-{i}", "area": "conv", "command": "layer", "spec": spec, "expected": exp}


def _pair_text(v: tuple[int, int]) -> Any:
    """N when both axes agree, else the spec's HxW text."""
    return v[0] if v[0] == v[1] else f"{v[0]}x{v[1]}"


def _indexed(name: str, x: torch.Tensor, several: bool) -> dict[str, Any]:
    """C x H x W as hwsolve names it: name[c] per channel when there are several, else name."""
    if not several:
        return {name: x[0].tolist()}
    return {f"{name}[{c}]": x[c].tolist() for c in range(x.shape[0])}


def pool_case(rng: random.Random, i: int) -> Case | None:
    mode = "max" if i % 2 == 0 else "avg"
    if i % 3 == 2:    # HxW window, stride and padding
        k2 = (rng.randint(1, 3), rng.randint(2, 3))
        s2, p2 = (rng.randint(1, 3), rng.randint(1, 3)), (rng.randint(0, k2[0] // 2), rng.randint(0, k2[1] // 2))
    else:
        k2 = (rng.randint(2, 3),) * 2
        s2, p2 = (rng.randint(1, 3),) * 2, (rng.randint(0, k2[0] // 2),) * 2
    C, H, W = rng.randint(1, 2), rng.randint(3, 6), rng.randint(3, 6)
    if H + 2 * p2[0] < k2[0] or W + 2 * p2[1] < k2[1]:
        return None
    k, s, p = k2, s2, p2
    ties = i % 4 == 0          # small integers: ties in max windows, first maximum takes the gradient
    X = [[[rng.randint(-2, 2) for _ in range(W)] for _ in range(H)] if ties else mat(rng, H, W)
         for _ in range(C)]
    Xt = t([X])
    include = mode == "max" or max(p) == 0 or i % 4 == 1   # count_include_pad=False in some avg cases
    Y = F.max_pool2d(Xt, k, s, p) if mode == "max" else F.avg_pool2d(Xt, k, s, p, count_include_pad=include)
    G = ft([mat(rng, Y.shape[2], Y.shape[3]) for _ in range(C)])
    (Y[0] * G).sum().backward()
    spec = {"hwsolve": 1, "kind": "layer", "type": "pool", "title": f"torch pool {i}",
            "input": X[0] if C == 1 else X, "mode": mode, "window": _pair_text(k), "stride": _pair_text(s),
            "padding": _pair_text(p), **({} if include else {"count_include_pad": False}),
            "upstream": G[0].tolist() if C == 1 else G.tolist()}
    exp = {**_indexed("Y", Y[0], C > 1), **_indexed("dL/dX", Xt.grad[0], C > 1)}
    return {"name": f"pool-{i}-{mode}", "area": "pool", "command": "layer", "spec": spec, "expected": exp}


def norm_case(rng: random.Random, i: int, kind: str) -> Case | None:
    N, D = rng.randint(2, 4), rng.randint(1, 3)
    if kind == "layernorm":
        D = rng.randint(2, 4)
    X, gamma, beta = mat(rng, N, D), vec(rng, D), vec(rng, D)
    eps = rng.choice([None, 0.001, 0.1])
    Xt, gt, bt = t(X), t(gamma), t(beta)
    e = 1e-5 if eps is None else eps
    running = kind == "batchnorm" and i % 2 == 1        # PyTorch's running statistics, updated in place
    rm, rv = ft(vec(rng, D)), ft(vec(rng, D, lo=0.1, hi=2))
    rm0, rv0 = rm.tolist(), rv.tolist()
    mom = rng.choice([0.1, 0.5, 0.01])
    if running:
        Y = F.batch_norm(Xt, rm, rv, gt, bt, training=True, momentum=mom, eps=e)
    elif kind == "batchnorm":
        Y = F.batch_norm(Xt, None, None, gt, bt, training=True, eps=e)
    else:
        Y = F.layer_norm(Xt, (D,), gt, bt, eps=e)
    G = ft(mat(rng, N, D))
    (Y * G).sum().backward()
    spec: dict[str, Any] = {"hwsolve": 1, "kind": "layer", "type": kind, "title": f"torch {kind} {i}",
                            "input": X, "gamma": gamma, "beta": beta, "upstream": G.tolist()}
    if eps is not None:
        spec["epsilon"] = eps
    exp = {"Y": Y.tolist(), "dL/dX": Xt.grad.tolist(), "dL/dgamma": gt.grad.tolist(), "dL/dbeta": bt.grad.tolist()}
    if running:
        spec.update(momentum=mom, running_mean=rm0, running_var=rv0)
        exp.update(running_mean=rm.tolist(), running_var=rv.tolist())
    return {"name": f"{kind}-{i}", "area": kind, "command": "layer", "spec": spec, "expected": exp}


def dropout_case(rng: random.Random, i: int) -> Case | None:
    H, W = rng.randint(1, 4), rng.randint(2, 4)
    p = rng.choice([0.5, 0.25, 0.2, 0.1])
    X = mat(rng, H, W)
    M = [[rng.choice([0, 1]) for _ in range(W)] for _ in range(H)]
    Xt = t(X)
    # torch's own dropout draws its mask; with the mask fixed, F.dropout's result is x * m / (1 - p)
    Y = Xt * ft(M) / (1 - p)
    G = ft(mat(rng, H, W))
    (Y * G).sum().backward()
    spec = {"hwsolve": 1, "kind": "layer", "type": "dropout", "title": f"torch dropout {i}",
            "input": X, "mask": M, "p": p, "upstream": G.tolist()}
    return {"name": f"dropout-{i}", "area": "dropout", "command": "layer", "spec": spec,
            "expected": {"Y": Y.tolist(), "dL/dX": Xt.grad.tolist()}}


def rnn_case(rng: random.Random, i: int) -> Case | None:
    h, d, T = rng.randint(1, 3), rng.randint(1, 3), rng.randint(1, 4)
    loss_name = ["half_squared_error", "squared_error", "mse", "half_mse"][i % 4]
    W_hh, W_xh, b, h0 = mat(rng, h, h, lo=-1, hi=1), mat(rng, h, d, lo=-1, hi=1), vec(rng, h), vec(rng, h)
    if i % 4 == 1:
        h0 = [0.0] * h
    xs = [vec(rng, d) for _ in range(T)]
    last_only = i % 3 == 2
    ys = [vec(rng, h, lo=-0.9, hi=0.9) for _ in range(T)]
    Whh, Wxh, bt, h0t = t(W_hh), t(W_xh), t(b), t(h0)
    # nn.RNN with b_hh = 0 computes the same recurrence; written out to keep the names
    cell = torch.nn.RNN(d, h, bias=True)
    with torch.no_grad():
        cell.weight_hh_l0.copy_(Whh)
        cell.weight_ih_l0.copy_(Wxh)
        cell.bias_ih_l0.copy_(bt)
        cell.bias_hh_l0.zero_()
    hs = []
    hcur = h0t
    for x in xs:
        hcur = torch.tanh(Whh @ hcur + Wxh @ ft(x) + bt)
        hs.append(hcur)
    ref, _ = cell(ft(xs), h0t.detach()[None])
    assert torch.allclose(ref, torch.stack(hs).detach(), rtol=1e-12, atol=1e-14)
    per = {"half_squared_error": lambda a, y: ((a - y) ** 2).sum() / 2,
           "squared_error": lambda a, y: ((a - y) ** 2).sum(),
           "mse": lambda a, y: ((a - y) ** 2).mean(), "half_mse": lambda a, y: ((a - y) ** 2).mean() / 2}[loss_name]
    steps = [T - 1] if last_only else range(T)
    L = sum(per(hs[k], ft(ys[k])) for k in steps)
    L.backward()
    spec = {"hwsolve": 1, "kind": "layer", "type": "rnn", "title": f"torch rnn {i}", "W_hh": W_hh,
            "W_xh": W_xh, "b": b, "h0": h0, "inputs": xs,
            "targets": {"last": ys[-1]} if last_only else ys, "loss": loss_name}
    if not any(h0):
        del spec["h0"]     # the default: zeros
    exp = {"L": L.item(), "dL/dW_hh": grad_of(Whh), "dL/dW_xh": grad_of(Wxh), "dL/db": grad_of(bt),
           "dL/dh[0]": grad_of(h0t)}
    for k, hk in enumerate(hs, 1):
        exp[f"h[{k}]"] = plain(hk)
    return {"name": f"rnn-{i}-{loss_name}", "area": "rnn", "command": "layer", "spec": spec, "expected": exp}


def attention_case(rng: random.Random, i: int) -> Case | None:
    n, m, dk, dv = rng.randint(1, 3), rng.randint(1, 4), rng.randint(1, 3), rng.randint(1, 3)
    Q, K, V = mat(rng, n, dk), mat(rng, m, dk), mat(rng, m, dv)
    mask = None
    if i % 2 == 1:
        mask = [[rng.choice([0, 1]) for _ in range(m)] for _ in range(n)]
        for r in mask:
            r[rng.randrange(m)] = 1
    Qt, Kt, Vt = t(Q), t(K), t(V)
    am = torch.tensor(mask, dtype=torch.bool) if mask else None
    out = F.scaled_dot_product_attention(Qt[None], Kt[None], Vt[None], attn_mask=am)[0]
    G = ft(mat(rng, n, dv))
    (out * G).sum().backward()
    spec: dict[str, Any] = {"hwsolve": 1, "kind": "layer", "type": "attention", "title": f"torch attention {i}",
                            "Q": Q, "K": K, "V": V, "upstream": G.tolist()}
    if mask:
        spec["mask"] = mask
    exp = {"out": out.tolist(), "dL/dQ": Qt.grad.tolist(), "dL/dK": Kt.grad.tolist(), "dL/dV": Vt.grad.tolist()}
    return {"name": f"attention-{i}", "area": "attention", "command": "layer", "spec": spec, "expected": exp}


def nparams(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def arch_case(rng: random.Random, i: int) -> Case | None:
    if i % 2 == 0:
        return _arch_cnn(rng, i)
    return _arch_sequence(rng, i)


def _arch_cnn(rng: random.Random, i: int) -> Case | None:
    C, H = rng.randint(1, 3), rng.randint(12, 32)
    layers: list[Any] = [f"INPUT {H}x{H}x{C}"]
    x = torch.zeros(1, C, H, H)
    exp: dict[str, Any] = {"params[0]": 0, "volume[0]": H * H * C}
    mods = []
    for li in range(1, rng.randint(2, 4) + 1):
        kind = rng.choice(["conv", "conv", "pool", "bn", "relu", "dropout"])
        if kind == "conv":
            k, n, s = rng.randint(1, 5), rng.randint(1, 8), rng.randint(1, 2)
            p, d = rng.randint(0, 2), rng.randint(1, 2)
            bias = rng.random() < 0.8
            mod: torch.nn.Module = torch.nn.Conv2d(x.shape[1], n, k, s, p, d, bias=bias)
            layers.append({"type": "conv", "kernel": k, "filters": n, "stride": s, "padding": p, "dilation": d,
                           "bias": bias})
        elif kind == "pool":
            k, s = rng.randint(2, 3), rng.randint(1, 3)
            p = rng.randint(0, k // 2)
            mode = rng.choice(["max", "avg"])
            mod = torch.nn.MaxPool2d(k, s, p) if mode == "max" else torch.nn.AvgPool2d(k, s, p)
            layers.append({"type": "pool", "size": k, "stride": s, "padding": p, "mode": mode})
        elif kind == "relu":
            mod = torch.nn.ReLU()
            layers.append("RELU")
        elif kind == "dropout":
            mod = torch.nn.Dropout(0.5).eval()
            layers.append("DROPOUT")
        else:
            mod = torch.nn.BatchNorm2d(x.shape[1])
            layers.append("BN")
        try:
            x = mod(x)
        except RuntimeError:
            return None
        if min(x.shape[2:]) < 1:
            return None
        mods.append(mod)
        exp[f"params[{li}]"] = nparams(mod)
        exp[f"volume[{li}]"] = x.numel()
    fc_bias = rng.random() < 0.8
    fc = torch.nn.Linear(x.numel(), rng.randint(1, 10), bias=fc_bias)
    layers.append({"type": "fc", "units": fc.out_features, "bias": fc_bias})
    exp[f"params[{len(mods) + 1}]"] = nparams(fc)
    exp["total_params"] = sum(nparams(m) for m in mods) + nparams(fc)
    spec = {"hwsolve": 1, "kind": "arch", "title": f"torch arch {i}", "layers": layers}
    return {"name": f"arch-{i}-cnn", "area": "arch", "command": "arch", "spec": spec, "expected": exp}


def _arch_sequence(rng: random.Random, i: int) -> Case | None:
    T, d = rng.randint(2, 20), rng.choice([8, 12, 16, 32])
    layers: list[Any] = [f"INPUT {T}x{d}"]
    exp: dict[str, Any] = {}
    total = 0
    width = d
    for li in range(1, 4):
        kind = rng.choice(["rnn", "lstm", "gru", "mha", "transformer", "fc"])
        if kind in ("rnn", "lstm", "gru"):
            hid, nl, bias = rng.randint(1, 12), rng.randint(1, 2), rng.random() < 0.8
            cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind]
            mod: torch.nn.Module = cls(width, hid, num_layers=nl, bias=bias)
            layers.append({"type": kind, "hidden": hid, "layers": nl, "bias": bias})
            width = hid
        elif kind == "mha":
            heads = rng.choice([h for h in (1, 2, 4) if width % h == 0])
            bias = rng.random() < 0.8
            mod = torch.nn.MultiheadAttention(width, heads, bias=bias)
            layers.append({"type": "mha", "heads": heads, "bias": bias})
        elif kind == "transformer":
            heads = rng.choice([h for h in (1, 2, 4) if width % h == 0])
            ff = rng.choice([8, 16, 64])
            mod = torch.nn.TransformerEncoderLayer(width, heads, dim_feedforward=ff)
            layers.append(f"TRANSFORMER-{heads}-{ff}")
        else:
            n = rng.randint(1, 16)
            mod = torch.nn.Linear(width, n)
            layers.append(f"FC-{n}")
            width = n
        exp[f"params[{li}]"] = nparams(mod)
        exp[f"volume[{li}]"] = T * width
        total += nparams(mod)
    exp["total_params"] = total
    spec = {"hwsolve": 1, "kind": "arch", "title": f"torch sequence arch {i}", "layers": layers}
    return {"name": f"arch-{i}-sequence", "area": "arch", "command": "arch", "spec": spec, "expected": exp}


def conv_shape_case(rng: random.Random, i: int) -> Case | None:
    H, W = rng.randint(3, 40), rng.randint(3, 40)
    k, s, p, d = rng.randint(1, 5), rng.randint(1, 3), rng.randint(0, 3), rng.randint(1, 2)
    C, L = rng.randint(1, 4), rng.randint(1, 6)
    mode = ["conv", "transposed", "pool"][i % 3]
    args = ["--n", f"{H}x{W}", "--k", str(k), "--p", str(p), "--s", str(s), "--channels", str(C)]
    x = torch.zeros(1, C, H, W)
    if mode == "conv" and i % 2 == 0:     # 'same': PyTorch allows it at stride 1 only
        mod: torch.nn.Module = torch.nn.Conv2d(C, L, k, 1, "same", d)
        args[5], args[7] = "same", "1"
        args += ["--d", str(d), "--filters", str(L)]
    elif mode == "conv":
        mod = torch.nn.Conv2d(C, L, k, s, p, d)
        args += ["--d", str(d), "--filters", str(L)]
    elif mode == "transposed":
        op = rng.randint(0, max(s, d) - 1)
        mod = torch.nn.ConvTranspose2d(C, L, k, s, p, output_padding=op, dilation=d)
        args += ["--d", str(d), "--filters", str(L), "--transposed", "--output-padding", str(op)]
    else:
        if p > k // 2:
            p = k // 2
            args[5] = str(p)
        mod = torch.nn.MaxPool2d(k, s, p)
        args += ["--pool", "max"]
    try:
        y = mod(x)
    except RuntimeError:
        return None
    if min(y.shape[2:]) < 1:
        return None
    exp: dict[str, Any] = {"volume": [y.shape[2], y.shape[3], y.shape[1]]}
    if mode != "pool":
        exp["params"] = nparams(mod)
        exp["weights"] = mod.weight.numel()
    return {"name": f"conv_shape-{i}-{mode}", "area": "conv_shape", "command": "conv-shape", "args": args,
            "expected": exp}


def convspec_case(rng: random.Random, i: int) -> Case | None:
    """`hwsolve conv SPEC` (kind: conv): kernels or pooling applied to a small image, forward only."""
    operation = ["cross-correlation", "convolution", "max-pool", "avg-pool"][i % 4]
    C, H, W = rng.randint(1, 2), rng.randint(3, 6), rng.randint(3, 6)
    k, s, p = rng.randint(1, 3), rng.randint(1, 2), rng.randint(0, 1)
    X = [mat(rng, H, W) for _ in range(C)]
    Xt = ft([X])
    spec: dict[str, Any] = {"hwsolve": 1, "kind": "conv", "title": f"torch conv spec {i}",
                            "image": X[0] if C == 1 else X, "stride": s, "padding": p, "operation": operation}
    if operation.endswith("pool"):
        k = max(k, 2)
        p = min(p, k // 2)
        spec.update(window=k, padding=p)
        if H + 2 * p < k or W + 2 * p < k:
            return None
        Y = (F.max_pool2d(Xt, k, s, p) if operation == "max-pool" else F.avg_pool2d(Xt, k, s, p))[0]
        exp = {"out": Y[0].tolist()} if C == 1 else {f"out[{c}]": Y[c].tolist() for c in range(C)}
    else:
        Fn = rng.randint(1, 2)
        if H + 2 * p < k or W + 2 * p < k:
            return None
        Ks, bs = [[mat(rng, k, k) for _ in range(C)] for _ in range(Fn)], vec(rng, Fn)
        Kt = ft(Ks)
        Y = F.conv2d(Xt, torch.flip(Kt, (2, 3)) if operation == "convolution" else Kt, ft(bs), s, p)[0]
        if Fn == 1:
            spec.update(kernel=Ks[0][0] if C == 1 else Ks[0], bias=bs[0])
            exp = {"out": Y[0].tolist()}
        else:
            spec["filters"] = [{"kernel": kk[0] if C == 1 else kk, "bias": b} for kk, b in zip(Ks, bs, strict=True)]
            exp = {f"out[{f}]": Y[f].tolist() for f in range(Fn)}
    return {"name": f"convspec-{i}-{operation}", "area": "convspec", "command": "conv", "spec": spec,
            "expected": exp}


def vit_case(rng: random.Random, i: int) -> Case | None:
    """ViT patch embedding as torchvision builds it: Conv2d(C, D, P, stride=P), a class token, positions."""
    P = rng.choice([2, 4, 8, 16])
    H, W = P * rng.randint(1, 14), P * rng.randint(1, 14)
    C, D = rng.randint(1, 4), rng.choice([16, 64, 768])
    cls = i % 2 == 0
    proj = torch.nn.Conv2d(C, D, P, stride=P)
    tokens = proj(torch.zeros(1, C, H, W)).flatten(2).shape[2]
    seq = tokens + (1 if cls else 0)
    args = ["--image", f"{H}x{W}" if H != W else str(H), "--patch", str(P), "--channels", str(C), "--dim", str(D)]
    if not cls:
        args.append("--no-cls")
    exp: dict[str, Any] = {"num_patches": tokens, "patch_len": P * P * C, "seq_len": seq,
                           "embed_params": nparams(proj), "pos_embed": seq * D, "tokens_shape": [seq, D],
                           "embed_total": nparams(proj) + seq * D + (D if cls else 0)}
    if cls:
        exp["cls_token"] = D
    return {"name": f"vit-{i}", "area": "vit", "command": "vit-patches", "args": args, "expected": exp}


# -- train: torch.optim against every optimizer and convention ------------------------------------------

OBJECTIVES = [
    ("w1^2 + 10*w2^2", lambda w1, w2: w1 ** 2 + 10 * w2 ** 2),
    ("(w1 - 1)^2 + w1*w2 + 2*w2^2", lambda w1, w2: (w1 - 1) ** 2 + w1 * w2 + 2 * w2 ** 2),
    ("tanh(w1) * w2 + w2^2 + exp(w1/2)", lambda w1, w2: torch.tanh(w1) * w2 + w2 ** 2 + torch.exp(w1 / 2)),
    ("log(1 + w1^2) + sigmoid(w2) * w1 + w2^4/4",
     lambda w1, w2: torch.log(1 + w1 ** 2) + torch.sigmoid(w2) * w1 + w2 ** 4 / 4),
]

OPTIMIZERS = ["sgd", "momentum-pytorch", "momentum-sheet", "nesterov-pytorch", "nesterov-sheet", "adagrad",
              "rmsprop", "adam", "adamw", "adam-l2", "sgd-l2", "momentum-l2", "adagrad-l2", "rmsprop-l2"]


def _torch_optimizer(kind: str, params, h: dict):
    wd = h.get("weight_decay", 0)
    if kind.startswith("sgd"):
        return torch.optim.SGD(params, lr=h["lr"], weight_decay=wd)
    if kind in ("momentum-pytorch", "momentum-l2"):
        return torch.optim.SGD(params, lr=h["lr"], momentum=h["momentum"], weight_decay=wd)
    if kind == "nesterov-pytorch":
        return torch.optim.SGD(params, lr=h["lr"], momentum=h["momentum"], nesterov=True, weight_decay=wd)
    if kind.startswith("adagrad"):
        return torch.optim.Adagrad(params, lr=h["lr"], eps=h["eps"], weight_decay=wd,
                                   initial_accumulator_value=h.get("initial_accumulator", 0))
    if kind.startswith("rmsprop"):
        return torch.optim.RMSprop(params, lr=h["lr"], alpha=h["rho"], eps=h["eps"], weight_decay=wd)
    if kind == "adamw":
        return torch.optim.AdamW(params, lr=h["lr"], betas=(h["beta1"], h["beta2"]), eps=h["eps"],
                                 weight_decay=h["weight_decay"])
    return torch.optim.Adam(params, lr=h["lr"], betas=(h["beta1"], h["beta2"]), eps=h["eps"], weight_decay=wd)


def _sheet_steps(kind: str, params: list[torch.Tensor], f: Callable, h: dict, steps: int) -> list[list[Any]]:
    """The sheet's momentum (m <- mu m - lr g; w <- w + m) and Nesterov (g at w + mu m), on autograd."""
    ms = [torch.zeros_like(p) for p in params]
    out = []
    for _ in range(steps):
        if kind == "nesterov-sheet":
            ahead = [(p + h["momentum"] * m).detach().requires_grad_(True) for p, m in zip(params, ms, strict=True)]
            f(*ahead).backward()
            gs = [a.grad for a in ahead]
        else:
            ps = [p.detach().requires_grad_(True) for p in params]
            f(*ps).backward()
            gs = [p.grad for p in ps]
        ms = [h["momentum"] * m - h["lr"] * g for m, g in zip(ms, gs, strict=True)]
        params = [(p + m).detach() for p, m in zip(params, ms, strict=True)]
        out.append([hw(p) for p in params])
    return out


def _hyper(rng: random.Random, kind: str) -> tuple[dict, dict]:
    """(torch hyper-parameters, the spec's optimizer mapping)."""
    lr = rng.choice([0.1, 0.05, 0.01, 0.2])
    base = kind.split("-")[0]
    spec: dict[str, Any] = {"type": {"adamw": "adam"}.get(base, base), "lr": lr}
    h: dict[str, Any] = {"lr": lr}
    if base in ("momentum", "nesterov"):
        h["momentum"] = spec["momentum"] = rng.choice([0.9, 0.5, 0.8])
        spec["convention"] = "sheet" if kind.endswith("sheet") else "pytorch"
    if base in ("adagrad", "rmsprop", "adam", "adamw"):
        h["eps"] = spec["eps"] = rng.choice([1e-8, 1e-10, 1e-6, 0.1])
    if base == "adagrad" and rng.random() < 0.5:
        h["initial_accumulator"] = spec["initial_accumulator"] = rng.choice([0.1, 0.5, 1])
    if base == "rmsprop":
        h["rho"] = spec["rho"] = rng.choice([0.99, 0.9, 0.5])
    if base in ("adam", "adamw"):
        h["beta1"] = spec["beta1"] = rng.choice([0.9, 0.8])
        h["beta2"] = spec["beta2"] = rng.choice([0.999, 0.99, 0.9])
    if kind.endswith("-l2") or kind == "adamw":
        h["weight_decay"] = spec["weight_decay"] = rng.choice([0.01, 0.1, 0.5])
        if kind == "adamw":
            spec["decoupled"] = True
    return h, spec


def train_case(rng: random.Random, i: int) -> Case | None:
    kind = OPTIMIZERS[i % len(OPTIMIZERS)]
    if i % 3 == 2:
        return _train_network(rng, i, kind)
    text, f = OBJECTIVES[i % len(OBJECTIVES)]
    w0 = [dec(rng, -1.5, 1.5, 1), dec(rng, -1.5, 1.5, 1)]
    steps = rng.randint(1, 4)
    h, opt_spec = _hyper(rng, kind)
    ws = [t(w) for w in w0]
    if kind.endswith("sheet"):
        traj = _sheet_steps(kind, [w.detach() for w in ws], f, h, steps)
    else:
        opt = _torch_optimizer(kind, ws, h)
        traj = []
        for _ in range(steps):
            opt.zero_grad()
            f(*ws).backward()
            opt.step()
            traj.append([hw(w) for w in ws])
    exp: dict[str, Any] = {}
    for k, wk in enumerate(traj, 1):
        exp[f"w1[t={k}]"], exp[f"w2[t={k}]"] = wk
    with torch.no_grad():
        exp[f"f[t={steps}]"] = f(*(ft(v) for v in traj[-1])).item()
    spec = {"hwsolve": 1, "kind": "train", "title": f"torch train {i}: {kind}",
            "objective": {"params": {"w1": w0[0], "w2": w0[1]}, "f": text}, "optimizer": opt_spec, "steps": steps}
    return {"name": f"train-{i}-{kind}", "area": "train", "command": "train", "spec": spec, "expected": exp}


def _train_network(rng: random.Random, i: int, kind: str) -> Case | None:
    """A small tanh network with MSE, trained by the optimizer: every W and b after every step."""
    d, hdim, K = rng.randint(1, 3), rng.randint(1, 3), rng.randint(1, 2)
    x, y = vec(rng, d), vec(rng, K)
    W1, b1, W2, b2 = mat(rng, hdim, d, lo=-1, hi=1), vec(rng, hdim), mat(rng, K, hdim, lo=-1, hi=1), vec(rng, K)
    steps = rng.randint(1, 3)
    h, opt_spec = _hyper(rng, kind)
    xt, yt = ft(x), ft(y)

    def f(W1, b1, W2, b2):
        return F.mse_loss(W2 @ torch.tanh(W1 @ xt + b1) + b2, yt)

    ps = [t(v) for v in (W1, b1, W2, b2)]
    if kind.endswith("sheet"):
        traj = _sheet_steps(kind, [p.detach() for p in ps], f, h, steps)
    else:
        opt = _torch_optimizer(kind, ps, h)
        traj = []
        for _ in range(steps):
            opt.zero_grad()
            f(*ps).backward()
            opt.step()
            traj.append([hw(p) for p in ps])
    exp: dict[str, Any] = {}
    for k, pk in enumerate(traj, 1):
        for name, v in zip(("W[1]", "b[1]", "W[2]", "b[2]"), pk, strict=True):
            exp[f"{name}[t={k}]"] = v
    with torch.no_grad():
        exp[f"L[t={steps}]"] = f(*(ft(v) for v in traj[-1])).item()
    model = {"hwsolve": 1, "kind": "network", "input": x, "target": y[0] if K == 1 else y,
             "layers": [{"linear": {"W": W1, "b": b1}}, "tanh", {"linear": {"W": W2, "b": b2}}], "loss": "mse"}
    spec = {"hwsolve": 1, "kind": "train", "title": f"torch train network {i}: {kind}", "model": model,
            "optimizer": opt_spec, "steps": steps, "show_forward": False}
    return {"name": f"train-{i}-{kind}-network", "area": "train", "command": "train", "spec": spec,
            "expected": exp}


# -- graph specs with matrix expressions ------------------------------------------------------------


def graph_case(rng: random.Random, i: int) -> Case | None:
    variant = i % 7
    if variant == 4:
        return _graph_library_loss(rng, i)
    if variant == 5:
        return _graph_scalar(rng, i)
    if variant == 6:
        return _graph_reshape(rng, i)
    if variant == 0:
        return _graph_mlp_ce(rng, i)
    if variant == 1:
        return _graph_batch_columns(rng, i)
    if variant == 2:
        return _graph_broadcast(rng, i)
    return _graph_conv_pool(rng, i)


def _graph_mlp_ce(rng, i) -> Case | None:
    d, hdim, K = rng.randint(2, 3), rng.randint(2, 3), rng.randint(2, 4)
    x, W1, b1, W2, b2 = vec(rng, d), mat(rng, hdim, d), vec(rng, hdim), mat(rng, K, hdim), vec(rng, K)
    k = rng.randrange(K)
    y = [1 if j == k else 0 for j in range(K)]
    act = rng.choice(["sigmoid", "tanh", "gelu", "softplus", "elu"])
    xt, W1t, b1t, W2t, b2t = t(x), t(W1), t(b1), t(W2), t(b2)
    fn = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "gelu": F.gelu, "softplus": F.softplus, "elu": F.elu}[act]
    z1 = fn(W1t @ xt + b1t)
    a2 = W2t @ z1 + b2t
    fused = i % 8 == 0
    L = F.cross_entropy(a2[None], torch.tensor([k]))
    L.backward()
    nodes = {"a1": "W1 @ x + b1", "z1": f"{act}(a1)", "a2": "W2 @ z1 + b2"}
    if fused:
        nodes["J"] = "softmax_cross_entropy(a2, y)"
        loss: Any = {"expr": "J"}
        nodes.pop("J")
        loss = "softmax_cross_entropy(a2, y)"
    else:
        nodes["p"] = "softmax(a2)"
        loss = "cross_entropy(p, y)"
    spec = {"hwsolve": 1, "kind": "graph", "title": f"torch graph {i}", "inputs": {"x": x},
            "params": {"W1": W1, "b1": b1, "W2": W2, "b2": b2}, "targets": {"y": y}, "nodes": nodes, "loss": loss}
    exp = {"L": L.item(), "dL/dW1": grad_of(W1t), "dL/db1": grad_of(b1t), "dL/dW2": grad_of(W2t),
           "dL/db2": grad_of(b2t), "dL/dx": grad_of(xt)}
    return {"name": f"graph-{i}-mlp", "area": "graph", "command": "backprop", "spec": spec, "expected": exp}


def _graph_library_loss(rng, i) -> Case | None:
    """A library loss (loss: {type: ...}) on a matrix prediction: torch's mean runs over every entry."""
    m, n = rng.randint(1, 3), rng.randint(1, 3)
    name = ["mse", "half_mse", "squared_error", "huber", "bce", "smooth_l1", "half_squared_error"][(i // 5) % 7]
    A, W = mat(rng, m, n), mat(rng, m, m)
    Y = [[rng.choice([0, 1, 0.5]) for _ in range(n)] for _ in range(m)] if name == "bce" else mat(rng, m, n)
    At, Wt, Yt = t(A), t(W), ft(Y)
    P = torch.sigmoid(Wt @ At) if name == "bce" else torch.tanh(Wt @ At)
    loss: dict[str, Any] = {"type": name, "prediction": "P", "target": "Y"}
    if name == "huber":
        loss["delta"] = d = rng.choice([0.5, 1, 2])
        L = F.huber_loss(P, Yt, delta=d)
    elif name == "smooth_l1":
        loss["beta"] = bt = rng.choice([0.5, 1, 2])
        L = F.smooth_l1_loss(P, Yt, beta=bt)
    else:
        L = {"mse": lambda: F.mse_loss(P, Yt), "half_mse": lambda: F.mse_loss(P, Yt) / 2,
             "squared_error": lambda: ((P - Yt) ** 2).sum(), "half_squared_error": lambda: ((P - Yt) ** 2).sum() / 2,
             "bce": lambda: F.binary_cross_entropy(P, Yt)}[name]()
    L.backward()
    act = "sigmoid" if name == "bce" else "tanh"
    spec = {"hwsolve": 1, "kind": "graph", "title": f"torch graph loss {i}: {name}", "inputs": {"A": A},
            "params": {"W": W}, "targets": {"Y": Y}, "nodes": {"P": f"{act}(W @ A)"}, "loss": loss}
    exp = {"L": L.item(), "dL/dW": grad_of(Wt), "dL/dA": grad_of(At)}
    return {"name": f"graph-{i}-loss-{name}", "area": "graph", "command": "backprop", "spec": spec, "expected": exp}


def _graph_scalar(rng, i) -> Case | None:
    """Numbers only: the scalar rules (min/max of three, powers, quotients, the table's functions)."""
    v = {k: dec(rng, 0.2, 2.0) * rng.choice([1, -1]) for k in ("a", "b", "c")}
    v["d"] = dec(rng, 0.3, 2.0)
    slope, beta, alpha = rng.choice([0.1, 0.2]), rng.choice([1, 2]), rng.choice([0.5, 1, 2])
    tv = {k: t(x) for k, x in v.items()}
    a, b, c, d = (tv[k] for k in "abcd")
    h1 = torch.max(torch.stack([a * b, b + c, c - a]))
    h2 = torch.min(torch.stack([a, b ** 2, d]))
    h3 = F.softplus(a * c, beta) + F.leaky_relu(b - c, slope) + F.elu(a + b, alpha)
    h4 = torch.sqrt(d) * torch.log(d + 1) + torch.exp(-d) / (1 + b ** 2)
    J = h1 * h2 + h3 ** 2 / 2 + h4 - torch.sigmoid(a) * torch.tanh(c)
    if near_kink(a * b - (b + c), a * b - (c - a), b + c - (c - a), a - b ** 2, a - d, b ** 2 - d, b - c, a + b):
        return None
    J.backward()
    spec = {"hwsolve": 1, "kind": "graph", "title": f"torch scalar graph {i}", "params": v,
            "nodes": {"H1": "max(a*b, b + c, c - a)", "H2": "min(a, b^2, d)",
                      "H3": f"softplus(a*c, {beta}) + leaky_relu(b - c, {slope}) + elu(a + b, {alpha})",
                      "H4": "sqrt(d) * log(d + 1) + exp(-d) / (1 + b^2)",
                      "J": "H1 * H2 + H3^2 / 2 + H4 - sigmoid(a) * tanh(c)"},
            "output": "J"}
    exp = {"J": J.item(), **{f"dJ/d{k}": tv[k].grad.item() for k in "abcd"}}
    return {"name": f"graph-{i}-scalar", "area": "graph", "command": "backprop", "spec": spec, "expected": exp}


def _graph_reshape(rng, i) -> Case | None:
    """sum/mean along an axis, reshape (row-major), flatten, transpose, softmax along rows."""
    m, n = rng.choice([(2, 3), (3, 2), (2, 2), (4, 3)])
    A, B = mat(rng, m, n), mat(rng, n, m)
    At, Bt = t(A), t(B)
    R = At.reshape(n, m)                       # row-major, as numpy's C order
    S = torch.softmax(R + Bt, dim=1)
    cs = S.sum(dim=0, keepdim=True)            # 1 x m
    rm = At.mean(dim=1, keepdim=True)          # m x 1
    J = (cs @ rm).sum() + (At.T * Bt).flatten().pow(2).sum() / 3
    J.backward()
    spec = {"hwsolve": 1, "kind": "graph", "title": f"torch reshape graph {i}", "params": {"A": A, "B": B},
            "nodes": {"R": f"reshape(A, {n}, {m})", "S": "softmax(R + B, axis=1)", "c": "sum(S, axis=0)",
                      "r": "mean(A, axis=1)", "J": "sum(c @ r) + sum(flatten(A.T * B)^2) / 3"},
            "output": "J"}
    exp = {"J": J.item(), "dJ/dA": grad_of(At), "dJ/dB": grad_of(Bt)}
    return {"name": f"graph-{i}-reshape", "area": "graph", "command": "backprop", "spec": spec, "expected": exp}


def _graph_batch_columns(rng, i) -> Case | None:
    """Examples as columns: softmax_cross_entropy over columns, summed; mean() of a matrix."""
    d, K, n = rng.randint(2, 3), rng.randint(2, 3), rng.randint(2, 4)
    X, W, b = mat(rng, d, n), mat(rng, K, d), vec(rng, K)
    labels = [rng.randrange(K) for _ in range(n)]
    Y = [[1 if labels[j] == r else 0 for j in range(n)] for r in range(K)]
    Xt, Wt, bt = t(X), t(W), t(b)
    Z = Wt @ Xt + bt[:, None]
    L = F.cross_entropy(Z.T, torch.tensor(labels), reduction="sum") / n + 0.5 * (Wt ** 2).mean()
    L.backward()
    spec = {"hwsolve": 1, "kind": "graph", "title": f"torch graph batch {i}", "inputs": {"X": X},
            "params": {"W": W, "b": b}, "targets": {"Y": Y},
            "nodes": {"Z": "W @ X + b", "J": f"softmax_cross_entropy(Z, Y) / {n} + 0.5 * mean(W^2)"},
            "loss": {"expr": "J"}}
    exp = {"L": L.item(), "dL/dW": grad_of(Wt), "dL/db": grad_of(bt), "dL/dX": grad_of(Xt)}
    return {"name": f"graph-{i}-batch", "area": "graph", "command": "backprop", "spec": spec, "expected": exp}


def _graph_broadcast(rng, i) -> Case | None:
    m, n = rng.randint(2, 3), rng.randint(2, 3)
    A, r, B = mat(rng, m, n), mat(rng, 1, n), mat(rng, n, m)
    At, rt, Bt = t(A), t(r), t(B)
    P = torch.log_softmax((At + rt) * 0.5, dim=1)
    Q = (P.T - Bt).abs() ** 2
    L = Q.sum(dim=0).sum() + torch.maximum(At, torch.zeros_like(At)).mean()
    L.backward()
    spec = {"hwsolve": 1, "kind": "graph", "title": f"torch graph broadcast {i}",
            "params": {"A": A, "r": r, "B": B},
            "nodes": {"P": "log_softmax((A + r) * 0.5, axis=1)", "Q": "abs(P.T - B)^2",
                      "J": "sum(sum(Q, axis=0)) + mean(relu(A))"},
            "output": "J"}
    exp = {"J": L.item(), "dJ/dA": grad_of(At), "dJ/dr": grad_of(rt), "dJ/dB": grad_of(Bt)}
    return {"name": f"graph-{i}-broadcast", "area": "graph", "command": "backprop", "spec": spec, "expected": exp}


def _graph_conv_pool(rng, i) -> Case | None:
    H, k = rng.randint(4, 6), rng.randint(2, 3)
    s, p = rng.randint(1, 2), rng.randint(0, 1)
    X, K = mat(rng, H, H), mat(rng, k, k)
    Xt, Kt = t(X), t(K)
    Y = F.conv2d(Xt[None, None], Kt[None, None], stride=s, padding=p)[0, 0]
    if Y.shape[0] < 2:
        return None
    pool = "maxpool" if i % 2 else "avgpool"
    P = (F.max_pool2d if pool == "maxpool" else F.avg_pool2d)(Y[None], 2, 1)[0]
    L = torch.tanh(P).sum()
    L.backward()
    spec = {"hwsolve": 1, "kind": "graph", "title": f"torch graph conv {i}", "inputs": {"X": X},
            "params": {"K": K},
            "nodes": {"Y": f"conv2d(X, K, {s}, {p})", "P": f"{pool}(Y, 2, 1)", "J": "sum(tanh(P))"},
            "output": "J"}
    exp = {"J": L.item(), "dJ/dK": grad_of(Kt), "dJ/dX": grad_of(Xt)}
    return {"name": f"graph-{i}-{pool}", "area": "graph", "command": "backprop", "spec": spec, "expected": exp}


def twins_case(rng: random.Random, i: int) -> Case | None:
    """Two operations in one graph that print alike but differ: a constant the formula leaves out
    (a pooling stride, a conv stride, softmax's axis, dropout's p), a constant shown rounded
    (2.00000000000001 and 1.99999999999999 both print ≈2), or an operand used twice (S @ S).
    hwsolve once merged the first kinds into one node (wrong values, exit 0)."""
    X, S = mat(rng, 4, 4), mat(rng, 3, 3)
    c = round(rng.uniform(-1, 1), 2)
    Xt, St = t(X), t(S)
    variant = i % 5
    if variant == 0:
        J = F.max_pool2d(Xt[None], 2).sum() + 3 * F.max_pool2d(Xt[None], 2, 1).sum()
        line = "sum(maxpool(X, 2)) + 3 * sum(maxpool(X, 2, 1))"
    elif variant == 1:
        K = mat(rng, 2, 2)
        Kt = t(K)
        J = (F.conv2d(Xt[None, None], Kt[None, None]) ** 2).sum() + F.conv2d(Xt[None, None], Kt[None, None], stride=2).sum()
        line = "sum(conv2d(X, K)^2) + sum(conv2d(X, K, 2))"
    elif variant == 2:
        J = (torch.softmax(St, 0) ** 2).sum() + 3 * (torch.softmax(St, 1) ** 2).sum()
        line = "sum(softmax(S)^2) + 3 * sum(softmax(S, axis=1)^2)"
    elif variant == 3:
        hi, lo = 1 + 1e-14, 1 - 1e-14   # each prints ≈1: two different constants
        J = torch.maximum(St, torch.full_like(St, hi)).sum() + 7 * torch.maximum(St, torch.full_like(St, lo)).sum() \
            + c * (St @ St).sum()
        line = f"sum(maximum(S, 1.00000000000001)) + 7 * sum(maximum(S, 0.99999999999999)) + {c} * sum(S @ S)"
    else:
        M = [[rng.randint(0, 1) for _ in range(4)] for _ in range(4)]
        Mt = torch.tensor(M, dtype=torch.float64)
        J = (Xt * Mt / 0.5).sum() + 3 * (Xt * Mt / 0.75).sum()
        line = "sum(dropout(X, M, 1/2)) + 3 * sum(dropout(X, M, 1/4))"
    if variant == 1:
        params = {"X": X, "K": K}
    elif variant in (2, 3):
        params = {"S": S}
    else:
        params = {"X": X}
    J.backward()
    spec = {"hwsolve": 1, "kind": "graph", "title": f"torch graph twins {i}", "params": params,
            "nodes": {"J": line}, "output": "J"}
    if variant == 4:
        spec["targets"] = {"M": M}
    exp = {"J": J.item(), **{f"dJ/d{name}": grad_of({"X": Xt, "S": St}[name] if name != "K" else Kt)
                             for name in params}}
    return {"name": f"graph-{i}-twins", "area": "twins", "command": "backprop", "spec": spec, "expected": exp}


# -- driver ----------------------------------------------------------------------------------------

AREAS: dict[str, Callable[[random.Random, int], Case | None]] = {
    "network": network_case, "activations": activations_case, "kink": kink_case, "tie": tie_case,
    "batch": batch_case, "conv": conv_case, "pool": pool_case,
    "batchnorm": lambda r, i: norm_case(r, i, "batchnorm"), "layernorm": lambda r, i: norm_case(r, i, "layernorm"),
    "dropout": dropout_case, "rnn": rnn_case, "attention": attention_case, "arch": arch_case,
    "conv_shape": conv_shape_case, "convspec": convspec_case, "vit": vit_case, "train": train_case,
    "graph": graph_case, "twins": twins_case,
}


def generate(area: str, count: int, seed: int) -> list[Case]:
    rng = random.Random(f"{area}:{seed}")
    cases: list[Case] = []
    i = 0
    while len(cases) < count and i < 20 * count:
        case = AREAS[area](rng, i)
        i += 1
        if case is not None:
            cases.append(case)
    return cases


def check(areas: list[str], count: int, seed: int, verbose: bool) -> int:
    failures = 0
    for area in areas:
        cases = generate(area, count, seed)
        bad_cases = 0
        for case in cases:
            try:
                got, notes = run_hwsolve(case)
                bad = compare(case["expected"], got)
            except RuntimeError as e:
                bad = [str(e)]
            if bad:
                bad_cases += 1
                print(f"[{area}] {case['name']}: {len(bad)} step(s) differ")
                for line in bad[: (20 if verbose else 3)]:
                    print("    " + line[:400])
                if verbose:
                    print(yaml.safe_dump(case.get("spec", case.get("args")), sort_keys=False))
        steps = sum(len(c["expected"]) for c in cases)
        print(f"{area:11s} {len(cases):4d} cases {steps:5d} values  {bad_cases} disagree")
        failures += bad_cases
    return failures


# cases per area in the frozen fixtures: enough to reach every loss (network), optimizer (train) and
# graph variant once; small enough for the test suite's time budget
FREEZE_COUNTS = {"network": 18, "activations": 3, "kink": 5, "tie": 3, "batch": 6, "conv": 6, "pool": 8, "batchnorm": 3,
                 "layernorm": 3, "dropout": 2, "rnn": 4, "attention": 4, "arch": 4, "conv_shape": 6,
                 "convspec": 4, "vit": 2,
                 "train": 14, "graph": 14, "twins": 5}


def freeze(areas: list[str], count: int | None, seed: int) -> None:
    FIXTURES.mkdir(parents=True, exist_ok=True)
    for area in areas:
        cases = generate(area, count or FREEZE_COUNTS[area], seed)
        for case in cases:
            got, _ = run_hwsolve(case)
            bad = compare(case["expected"], got)
            if bad:
                raise SystemExit(f"refusing to freeze {case['name']}: hwsolve disagrees with torch: {bad[0]}")
        head = {"generated_by": "tools/torch_reference.py freeze", "torch": torch.__version__, "seed": seed,
                "rtol": RTOL}
        # one case a line: small files, diffs by case
        lines = ",\n".join(json.dumps(c, allow_nan=False, separators=(",", ":")) for c in cases)
        path = FIXTURES / f"{area}.json"
        path.write_text(json.dumps(head)[:-1] + ', "cases": [\n' + lines + "\n]}\n")
        print(f"wrote {path.relative_to(ROOT)} ({len(cases)} cases)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("action", choices=["check", "freeze"])
    ap.add_argument("--cases", type=int, default=None,
                    help="random cases per area (check: 20; freeze: FREEZE_COUNTS)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--area", action="append", choices=list(AREAS), help="only these areas (repeatable)")
    ap.add_argument("-v", "--verbose", action="store_true")
    ns = ap.parse_args(argv)
    areas = ns.area or list(AREAS)
    if ns.action == "freeze":
        freeze(areas, ns.cases, ns.seed)
        return 0
    return 1 if check(areas, ns.cases or 20, ns.seed, ns.verbose) else 0


if __name__ == "__main__":
    sys.exit(main())
