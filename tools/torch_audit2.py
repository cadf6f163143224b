#!/usr/bin/env python3
"""A second, adversarial round against PyTorch: combinations the first audit left out.

Needs torch (like tools/torch_reference.py, whose helpers it reuses):

    PYTHONPATH=. /work/torchvenv/bin/python tools/torch_audit2.py check --cases 30 --seed 1
    PYTHONPATH=. /work/torchvenv/bin/python tools/torch_audit2.py freeze --seed 7

Where the first round compared answers (L, the parameter gradients, yhat), this one compares every
value hwsolve prints that torch also has: each pre-activation a[l], activation z[l], dL/da[l] and
dL/dz[l] of a deeper network (no-bias layers, several examples, every activation), every optimizer
state of long training runs (PyTorch's `momentum_buffer`, `exp_avg`, `exp_avg_sq`, `sum`,
`square_avg`; Nesterov with L2; AdamW and L2 on networks; decoupled decay on SGD and momentum, as
SGDW), receptive fields measured on autograd (the support of one output's gradient), multiply-adds
counted by forward hooks, activations at large inputs (against mpmath at 50 digits, where torch's
own float64 formulas lose digits), hyper-parameter search and gradient-flow numbers from exact
fractions. `freeze` writes tests/data/torch_reference/audit2_<area>.json, replayed by
tests/test_torch_reference.py.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
from fractions import Fraction
from pathlib import Path
from typing import Any

import mpmath
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
import torch_reference as R  # noqa: E402

from torch_reference import Case, dec, ft, grad_of, mat, plain, t, vec  # noqa: E402

# -- network: one example, every intermediate value ------------------------------------------------------

ACTS = ["relu", "leaky_relu", "elu", "sigmoid", "tanh", "softplus", "gelu", "gelu_tanh", "identity"]


def _act(rng: random.Random, name: str):
    return R._activation(rng, name)


def _forward_steps(layer_specs, x_or_X, params, acts, batch: bool):
    """Run the layers on autograd keeping a[l], z[l] (retain_grad for dL/da, dL/dz)."""
    z = x_or_X
    keep = []
    for (W, b), (_, fn) in zip(params, acts, strict=True):
        a = W @ z + (b[:, None] if batch and b is not None else (b if b is not None else 0))
        a.retain_grad()
        zz = fn(a)
        if zz is a:
            zz = a.clone()
        zz.retain_grad()
        keep.append((a, zz))
        z = zz
    return keep


def network2_case(rng: random.Random, i: int) -> Case | None:
    """One example, 2-4 layers, no-bias layers, every intermediate value and gradient."""
    losses = ["cross_entropy", "cross_entropy_onehot", "bce", "mse", "half_squared_error", "huber", "smooth_l1",
              "svm_hinge", "squared_error", "bce_with_logits"]
    loss_name = losses[i % len(losses)]
    depth = rng.randint(2, 4)
    d = rng.randint(1, 3)
    K = rng.randint(2, 4) if loss_name.startswith("cross") else rng.randint(1, 3)
    widths = [rng.randint(1, 3) for _ in range(depth - 1)] + [K]
    x = vec(rng, d)
    layers, params, acts = [], [], []
    fan_in = d
    kinked = []
    for li, m in enumerate(widths):
        W = mat(rng, m, fan_in, lo=-1.5, hi=1.5)
        has_b = rng.random() < 0.6
        b = vec(rng, m, lo=-1, hi=1) if has_b else None
        layers.append({"linear": {"W": W, **({"b": b} if has_b else {})}})
        params.append((t(W), t(b) if has_b else None))
        if li < len(widths) - 1:
            name = ACTS[(i * 3 + li) % len(ACTS)]
        else:   # what the loss reads: probabilities, a sigmoid's output, logits, or any activation
            name = LAST_LAYER.get(loss_name.split("_onehot")[0]) or rng.choice(["identity", "tanh", "softplus", "elu"])
        if name == "softmax":
            spec_a, fn = "softmax", (lambda a: torch.softmax(a, 0))
        else:
            spec_a, fn = _act(rng, name)
        layers.append(spec_a)
        acts.append((name, fn))
        if name in R.KINKED:
            kinked.append(li)
        fan_in = m
    xt = t(x)
    keep = _forward_steps(layers, xt, params, acts, batch=False)
    if R.near_kink(*(keep[li][0] for li in kinked)):
        return None
    yhat = keep[-1][1]
    spec_loss, target, L = _network2_loss(rng, loss_name, K, keep[-1][0], yhat)
    decay = _maybe_decay(rng, i, params)
    if decay is not None:
        lam, biases, R_ = decay
        L = L + R_
    L.backward()
    exp: dict[str, Any] = {"L": L.item(), "yhat": plain(yhat), "dL/dx": plain(xt.grad)}
    if not loss_name.startswith("cross"):
        exp["dL/dyhat"] = plain(yhat.grad)
    for li, ((W, b), (a, z)) in enumerate(zip(params, keep, strict=True), 1):
        exp[f"a[{li}]"] = plain(a)
        exp[f"z[{li}]"] = plain(z)
        exp[f"dL/da[{li}]"] = plain(a.grad)
        if li < len(params) or not loss_name.startswith("cross"):
            exp[f"dL/dz[{li}]"] = plain(z.grad)
        exp[f"dL/dW[{li}]"] = W.grad.tolist()
        if b is not None:
            exp[f"dL/db[{li}]"] = plain(b.grad)
    spec = {"hwsolve": 1, "kind": "network", "title": f"audit2 network {i}: {loss_name}", "input": x,
            "target": target, "layers": layers, "loss": spec_loss}
    if decay is not None:
        spec["weight_decay"] = lam if biases else {"lambda": lam, "biases": False}
    return {"name": f"audit2-network-{i}-{loss_name}", "area": "network2", "command": "backprop", "spec": spec,
            "expected": exp}


LAST_LAYER = {"cross_entropy": "softmax", "bce": "sigmoid", "bce_with_logits": "identity"}


def _network2_loss(rng: random.Random, loss_name: str, K: int, logits, yhat) -> tuple[Any, Any, torch.Tensor]:
    """(the spec's loss, the spec's target, the loss on torch) of one example."""
    if loss_name.startswith("cross"):
        k = rng.randrange(K)
        target: Any = {"class": k} if loss_name == "cross_entropy" else [int(c == k) for c in range(K)]
        return "cross_entropy", target, F.cross_entropy(logits[None], torch.tensor([k]))
    if loss_name in ("bce", "bce_with_logits"):
        yl = [rng.choice([0, 1, 0.25]) for _ in range(K)]
        y = ft(yl)
        L = F.binary_cross_entropy(yhat, y) if loss_name == "bce" else F.binary_cross_entropy_with_logits(yhat, y)
        return loss_name, (yl[0] if K == 1 else yl), L
    spec_loss, target, loss_fn, y, _ = R._loss(rng, loss_name, K)
    return spec_loss, target, loss_fn(yhat, y)


def _maybe_decay(rng: random.Random, i: int, params) -> tuple[float, bool, torch.Tensor] | None:
    """In some cases, L2 in the loss: lambda/2 times the sum of the squared W (and b, as PyTorch's
    weight_decay adds lambda p to every parameter's gradient)."""
    if i % 3 != 2:
        return None
    lam, biases = rng.choice([0.01, 0.1, 0.5]), rng.random() < 0.5
    R_ = sum((W ** 2).sum() + ((b ** 2).sum() if biases and b is not None else 0) for W, b in params)
    return lam, biases, lam / 2 * R_


def batch2_case(rng: random.Random, i: int) -> Case | None:
    """n examples, 2-3 layers (some without bias), every intermediate matrix, mean or sum."""
    losses = ["smooth_l1", "svm_hinge", "huber", "mse", "bce", "half_mse", "squared_error", "half_squared_error",
              "cross_entropy", "bce_with_logits"]
    loss_name = losses[i % len(losses)]
    reduction = "sum" if i % 3 == 0 else "mean"
    n, d, K = rng.randint(2, 4), rng.randint(1, 3), rng.randint(1, 3)
    if loss_name == "cross_entropy":
        K = rng.randint(2, 4)
    depth = rng.randint(2, 3)
    widths = [rng.randint(1, 3) for _ in range(depth - 1)] + [K]
    X = mat(rng, n, d)
    layers, params, acts, kinked = [], [], [], []
    fan_in = d
    for li, m in enumerate(widths):
        W = mat(rng, m, fan_in, lo=-1.5, hi=1.5)
        has_b = rng.random() < 0.6
        b = vec(rng, m, lo=-1, hi=1) if has_b else None
        layers.append({"linear": {"W": W, **({"b": b} if has_b else {})}})
        params.append((t(W), t(b) if has_b else None))
        if li < len(widths) - 1:
            name = ACTS[(i * 5 + li) % len(ACTS)]
        else:
            name = {"bce": "sigmoid", "cross_entropy": "softmax"}.get(loss_name) or rng.choice(["identity", "tanh"])
        if name == "softmax":    # over each example: a column of the d x n batch
            spec_a, fn = "softmax", (lambda a: torch.softmax(a, 0))
        else:
            spec_a, fn = _act(rng, name)
        layers.append(spec_a)
        acts.append((name, fn))
        if name in R.KINKED:
            kinked.append(li)
        fan_in = m
    Y, labels = _batch2_targets(rng, loss_name, n, K)
    Xt = t(X)
    keep = _forward_steps(layers, Xt.T, params, acts, batch=True)     # columns are examples
    if R.near_kink(*(keep[li][0] for li in kinked)):
        return None
    P, Yt = keep[-1][1], ft(Y).T
    found = _batch2_loss(rng, loss_name, P, Yt, keep[-1][0], labels)
    if found is None:
        return None
    loss_spec, per = found
    L = per.mean() if reduction == "mean" else per.sum()
    decay = _maybe_decay(rng, i, params)
    if decay is not None:
        lam, biases, R_ = decay
        L = L + R_
    L.backward()
    exp: dict[str, Any] = {"L": L.item(), "yhat": P.tolist(), "dL/dyhat": P.grad.tolist(), "dL/dx": Xt.grad.T.tolist()}
    for li, ((W, b), (a, z)) in enumerate(zip(params, keep, strict=True), 1):
        exp[f"a[{li}]"], exp[f"z[{li}]"] = a.tolist(), z.tolist()
        exp[f"dL/da[{li}]"], exp[f"dL/dz[{li}]"] = a.grad.tolist(), z.grad.tolist()
        exp[f"dL/dW[{li}]"] = W.grad.tolist()
        if b is not None:
            exp[f"dL/db[{li}]"] = plain(b.grad)
    columns = i % 2 == 1
    Xs = [list(c) for c in zip(*X, strict=True)] if columns else X
    Ys: Any = [list(c) for c in zip(*Y, strict=True)] if columns else Y
    if K == 1:
        Ys = [r[0] for r in Y]
    if loss_name == "cross_entropy" and (i // 9) % 2 == 0:     # else one-hot rows or columns
        Ys = {"class": labels}
    spec = {"hwsolve": 1, "kind": "network", "title": f"audit2 batch {i}", "batch": "columns" if columns else "rows",
            "reduction": reduction, "input": Xs, "target": Ys, "layers": layers, "loss": loss_spec}
    if decay is not None:
        spec["weight_decay"] = lam if biases else {"lambda": lam, "biases": False}
    return {"name": f"audit2-batch-{i}-{loss_name}-{reduction}", "area": "batch2", "command": "backprop",
            "spec": spec, "expected": exp}


def _batch2_targets(rng: random.Random, loss_name: str, n: int, K: int) -> tuple[list[list[Any]], list[int]]:
    """Y as rows (n x K), and the class of each example for cross-entropy (one-hot rows)."""
    if loss_name in ("bce", "bce_with_logits"):
        return [[rng.choice([0, 1, 0.5]) for _ in range(K)] for _ in range(n)], []
    if loss_name == "svm_hinge":
        return [[rng.choice([-1, 1]) for _ in range(K)] for _ in range(n)], []
    if loss_name == "cross_entropy":
        labels = [rng.randrange(K) for _ in range(n)]
        return [[int(k == c) for c in range(K)] for k in labels], labels
    return mat(rng, n, K), []


def _batch2_loss(rng: random.Random, loss_name: str, P, Yt, logits, labels: list[int]):
    """(the spec's loss, the per-example losses on torch), or None near the hinge's kink."""
    loss_spec: Any = loss_name
    if loss_name == "huber":
        delta = rng.choice([0.5, 1, 2])
        return {"type": "huber", "delta": delta}, F.huber_loss(P, Yt, delta=delta, reduction="none").mean(0)
    if loss_name == "smooth_l1":
        beta = rng.choice([0.5, 1, 2])
        return {"type": "smooth_l1", "beta": beta}, F.smooth_l1_loss(P, Yt, beta=beta, reduction="none").mean(0)
    if loss_name == "svm_hinge":
        margin = rng.choice([0.5, 1, 2])
        if R.near_kink(margin - Yt * P):
            return None
        return {"type": "svm_hinge", "margin": margin}, F.relu(margin - Yt * P).mean(0)
    if loss_name == "cross_entropy":     # -sum y log p per example (so yhat has a gradient) ...
        per = -(Yt * torch.log(P)).sum(0)
        # ... which is PyTorch's integer-target cross_entropy on the logits (the softmax's input)
        assert torch.allclose(per, F.cross_entropy(logits.T, torch.tensor(labels), reduction="none"))
        return loss_spec, per
    per = {"squared_error": lambda: ((P - Yt) ** 2).sum(0),
           "half_squared_error": lambda: ((P - Yt) ** 2).sum(0) / 2,
           "mse": lambda: ((P - Yt) ** 2).mean(0), "half_mse": lambda: ((P - Yt) ** 2).mean(0) / 2,
           "bce": lambda: F.binary_cross_entropy(P, Yt, reduction="none").mean(0),
           "bce_with_logits": lambda: F.binary_cross_entropy_with_logits(P, Yt, reduction="none").mean(0),
           }[loss_name]()
    return loss_spec, per


# -- train: long runs, every optimizer state --------------------------------------------------------------

TRAIN_KINDS = ["momentum-pytorch", "nesterov-pytorch-l2", "adam", "adamw", "rmsprop", "adagrad", "momentum-sheet-l2",
               "adam-l2", "sgdw", "momentumw", "nesterov-sheet", "rmsprop-l2", "adagradw", "rmspropw"]
DECOUPLED = ("adamw", "sgdw", "momentumw", "adagradw", "rmspropw")
MANUAL = ("momentum-sheet-l2", "nesterov-sheet", "sgdw", "momentumw", "adagradw", "rmspropw")


def _hyper2(rng: random.Random, kind: str) -> tuple[dict, dict]:
    lr = rng.choice([0.1, 0.05, 0.01, 0.3])
    base = kind.removesuffix("w") if kind in DECOUPLED and kind != "adamw" else kind.split("-")[0]
    spec: dict[str, Any] = {"type": "adam" if base == "adamw" else base, "lr": lr}
    h: dict[str, Any] = {"lr": lr}
    if base in ("momentum", "nesterov"):
        h["momentum"] = spec["momentum"] = rng.choice([0.9, 0.5, 0.8, 0.99])
        spec["convention"] = "sheet" if "sheet" in kind else "pytorch"
    if base in ("adagrad", "rmsprop", "adam", "adamw"):
        h["eps"] = spec["eps"] = rng.choice([1e-8, 1e-10, 1e-3])
    if base == "adagrad":
        h["initial_accumulator"] = spec["initial_accumulator"] = rng.choice([0, 0.1, 1])
    if base == "rmsprop":
        h["rho"] = spec["rho"] = rng.choice([0.99, 0.9, 0.5])
    if base in ("adam", "adamw"):
        h["beta1"] = spec["beta1"] = rng.choice([0.9, 0.8, 0.5])
        h["beta2"] = spec["beta2"] = rng.choice([0.999, 0.99, 0.9])
    if kind.endswith("l2") or kind in DECOUPLED:
        h["weight_decay"] = spec["weight_decay"] = rng.choice([0.01, 0.1, 0.5])
        if kind in DECOUPLED:
            spec["decoupled"] = True
    if rng.random() < 0.5:      # a learning-rate schedule, as torch.optim.lr_scheduler stepped after each update
        sched = rng.choice([{"type": "step", "step_size": rng.randint(1, 3), "gamma": rng.choice([0.5, 0.1, 0.9])},
                            {"type": "exponential", "gamma": rng.choice([0.5, 0.9, 0.99])},
                            {"type": "cosine", "T_max": rng.randint(2, 8), "eta_min": rng.choice([0, 0.001])}])
        h["schedule"] = spec["schedule"] = sched
    return h, spec


def _lr_at(h: dict, t: int) -> float:
    """PyTorch's closed forms at epoch t - 1 (the scheduler stepped after every update)."""
    sched, e = h.get("schedule"), t - 1
    if sched is None:
        return h["lr"]
    if sched["type"] == "step":
        return h["lr"] * sched["gamma"] ** (e // sched["step_size"])
    if sched["type"] == "exponential":
        return h["lr"] * sched["gamma"] ** e
    return sched["eta_min"] + (h["lr"] - sched["eta_min"]) * (1 + math.cos(math.pi * e / sched["T_max"])) / 2


def _torch_scheduler(opt, h: dict):
    sched = h.get("schedule")
    if sched is None:
        return None
    S = torch.optim.lr_scheduler
    if sched["type"] == "step":
        return S.StepLR(opt, sched["step_size"], sched["gamma"])
    if sched["type"] == "exponential":
        return S.ExponentialLR(opt, sched["gamma"])
    return S.CosineAnnealingLR(opt, sched["T_max"], sched["eta_min"])


def _torch_opt(kind: str, ps, h):
    wd = h.get("weight_decay", 0)
    if kind == "momentum-pytorch":
        return torch.optim.SGD(ps, lr=h["lr"], momentum=h["momentum"])
    if kind == "nesterov-pytorch-l2":
        return torch.optim.SGD(ps, lr=h["lr"], momentum=h["momentum"], nesterov=True, weight_decay=wd)
    if kind == "adam" or kind == "adam-l2":
        return torch.optim.Adam(ps, lr=h["lr"], betas=(h["beta1"], h["beta2"]), eps=h["eps"], weight_decay=wd)
    if kind == "adamw":
        return torch.optim.AdamW(ps, lr=h["lr"], betas=(h["beta1"], h["beta2"]), eps=h["eps"], weight_decay=wd)
    if kind.startswith("rmsprop"):
        return torch.optim.RMSprop(ps, lr=h["lr"], alpha=h["rho"], eps=h["eps"], weight_decay=wd)
    if kind == "adagrad":
        return torch.optim.Adagrad(ps, lr=h["lr"], eps=h["eps"], initial_accumulator_value=h["initial_accumulator"])
    raise ValueError(kind)


def _run_manual(kind: str, ps: list[torch.Tensor], f, h, steps: int):
    """The conventions torch.optim has no class for, on autograd: the sheet's momentum with L2 (g + lambda w
    into m <- mu m - lr g), the look-ahead Nesterov, SGDW and momentum SGDW (Loshchilov and Hutter:
    w <- w - lr (update) - lr lambda w, the decay outside the momentum)."""
    ws = [p.detach().clone() for p in ps]
    st = [torch.zeros_like(w) for w in ws]
    traj = []
    base = h
    for step in range(1, steps + 1):
        h = {**base, "lr": _lr_at(base, step)}
        at = [(w + h["momentum"] * m) if kind == "nesterov-sheet" else w for w, m in zip(ws, st, strict=True)]
        leaves = [a.detach().requires_grad_(True) for a in at]
        f(*leaves).backward()
        gs = [leaf.grad for leaf in leaves]
        wd = h.get("weight_decay", 0)
        new, rec = [], []
        for w, m, g in zip(ws, st, gs, strict=True):
            if kind == "momentum-sheet-l2":
                g = g + wd * w
                m = h["momentum"] * m - h["lr"] * g
                w2 = w + m
            elif kind == "nesterov-sheet":
                m = h["momentum"] * m - h["lr"] * g
                w2 = w + m
            elif kind == "sgdw":
                w2 = w - h["lr"] * g - h["lr"] * wd * w
            elif kind == "adagradw":     # AdaGrad's G starts at initial_accumulator
                m = (m if len(traj) else m + h["initial_accumulator"]) + g * g
                w2 = w - h["lr"] * g / (m.sqrt() + h["eps"]) - h["lr"] * wd * w
            elif kind == "rmspropw":
                m = h["rho"] * m + (1 - h["rho"]) * g * g
                w2 = w - h["lr"] * g / (m.sqrt() + h["eps"]) - h["lr"] * wd * w
            else:   # momentumw, PyTorch's buffer
                m = h["momentum"] * m + g
                w2 = w - h["lr"] * m - h["lr"] * wd * w
            new.append((w2, m))
            state = {"sgdw": {}, "adagradw": {"G": m.clone()}, "rmspropw": {"s": m.clone()}}.get(kind, {"m": m.clone()})
            rec.append({"g": g.clone(), "w": w2.clone(), **state})
        if kind == "nesterov-sheet":     # the look-ahead point where this step's gradient was taken
            for r, a in zip(rec, at, strict=True):
                r["w_ahead"] = a.clone()
        for r in rec:
            r["lr"] = h["lr"]
        ws, st = [a for a, _ in new], [b for _, b in new]
        traj.append(rec)
    return traj


def _run_torch(kind: str, ps: list[torch.Tensor], f, h, steps: int):
    opt = _torch_opt(kind, ps, h)
    scheduler = _torch_scheduler(opt, h)
    traj = []
    for _ in range(steps):
        lr_now = opt.param_groups[0]["lr"]
        opt.zero_grad()
        f(*ps).backward()
        gs = [p.grad.clone() for p in ps]
        wd = h.get("weight_decay", 0)
        coupled = wd and kind != "adamw"
        g_used = [g + wd * p.detach() if coupled else g for g, p in zip(gs, ps, strict=True)]
        opt.step()
        rec = []
        for p, g in zip(ps, g_used, strict=True):
            s = opt.state[p]
            r = {"g": g, "w": p.detach().clone()}
            if "momentum_buffer" in s:
                r["v"] = s["momentum_buffer"].clone()
            if "exp_avg" in s:
                k = int(s["step"])
                b1, b2 = h["beta1"], h["beta2"]
                r["m"], r["v"] = s["exp_avg"].clone(), s["exp_avg_sq"].clone()
                r["mhat"], r["vhat"] = r["m"] / (1 - b1 ** k), r["v"] / (1 - b2 ** k)
            if "square_avg" in s:
                r["s"] = s["square_avg"].clone()
            if "sum" in s:
                r["G"] = s["sum"].clone()
            r["lr"] = lr_now
            rec.append(r)
        traj.append(rec)
        if scheduler is not None:
            scheduler.step()
    return traj


STATE_NAMES = {"momentum-pytorch": "v", "nesterov-pytorch-l2": "v", "momentum-sheet-l2": "m", "nesterov-sheet": "m",
               "momentumw": "v"}


def _train_expected(kind, traj, names, matrix_names, h) -> dict[str, Any]:
    exp: dict[str, Any] = {}
    for k, rec in enumerate(traj, 1):
        for name, r in zip(names, rec, strict=True):
            val = R.hw if name in matrix_names else plain
            exp[f"{name}[t={k}]"] = val(r["w"])
            exp[f"g({name})[t={k}]"] = val(r["g"])
            if "schedule" in h:
                exp[f"lr[t={k}]"] = r["lr"]
            for key in ("m", "v", "mhat", "vhat", "s", "G", "w_ahead"):
                if key in r:
                    state = STATE_NAMES.get(kind, key) if key in ("m", "v") and kind in STATE_NAMES else key
                    exp[f"{state}({name})[t={k}]"] = val(r[key])
    return exp


TRAIN_OBJECTIVES = R.OBJECTIVES + [
    ("softplus(w1 - w2) + (w1 + 2*w2 - 1)^2 / 2", lambda w1, w2: F.softplus(w1 - w2) + (w1 + 2 * w2 - 1) ** 2 / 2),
]


def train2_case(rng: random.Random, i: int) -> Case | None:
    kind = TRAIN_KINDS[i % len(TRAIN_KINDS)]
    h, opt_spec = _hyper2(rng, kind)
    steps = rng.randint(4, 7)
    manual = kind in MANUAL
    if i % 3 == 1:
        return _train2_network(rng, i, kind, h, opt_spec, steps, manual)
    text, f = TRAIN_OBJECTIVES[i % len(TRAIN_OBJECTIVES)]
    w0 = [dec(rng, -1.5, 1.5, 1), dec(rng, -1.5, 1.5, 1)]
    ps = [t(w) for w in w0]
    traj = _run_manual(kind, ps, f, h, steps) if manual else _run_torch(kind, ps, f, h, steps)
    exp = _train_expected(kind, traj, ["w1", "w2"], set(), h)
    with torch.no_grad():
        exp[f"f[t={steps}]"] = f(*(r["w"] for r in traj[-1])).item()
    spec = {"hwsolve": 1, "kind": "train", "title": f"audit2 train {i}: {kind}",
            "objective": {"params": {"w1": w0[0], "w2": w0[1]}, "f": text}, "optimizer": opt_spec, "steps": steps}
    return {"name": f"audit2-train-{i}-{kind}", "area": "train2", "command": "train", "spec": spec, "expected": exp}


def _train2_network(rng, i, kind, h, opt_spec, steps, manual) -> Case | None:
    """A batch network (rows, mean) trained: softplus hidden layer, a no-bias output layer, MSE."""
    n, d, hdim, K = rng.randint(2, 3), rng.randint(1, 2), rng.randint(1, 3), rng.randint(1, 2)
    X, Y = mat(rng, n, d), mat(rng, n, K)
    W1, b1, W2 = mat(rng, hdim, d, lo=-1, hi=1), vec(rng, hdim), mat(rng, K, hdim, lo=-1, hi=1)
    Xt, Yt = ft(X), ft(Y)

    def f(W1, b1, W2):
        P = F.softplus(Xt @ W1.T + b1) @ W2.T
        return ((P - Yt) ** 2).mean(1).mean()

    ps = [t(v) for v in (W1, b1, W2)]
    show = i % 2 == 0     # the forward and backward pass before step 1, the forward pass after the last
    if show:
        first = [t(v) for v in (W1, b1, W2)]
        L0 = f(*first)
        L0.backward()
        before = {"L": L0.item(), "dL/dW[1]": first[0].grad.tolist(), "dL/db[1]": plain(first[1].grad),
                  "dL/dW[2]": first[2].grad.tolist()}
    traj = _run_manual(kind, ps, f, h, steps) if manual else _run_torch(kind, ps, f, h, steps)
    exp = _train_expected(kind, traj, ["W[1]", "b[1]", "W[2]"], {"W[1]", "W[2]"}, h)
    with torch.no_grad():
        exp[f"L[t={steps}]"] = f(*(r["w"] for r in traj[-1])).item()
        if show:
            Wl, bl, W2l = (r["w"] for r in traj[-1])
            A1 = Wl @ Xt.T + bl[:, None]
            exp.update(before)
            exp[f"a[1][t={steps}]"] = A1.tolist()
            exp[f"yhat[t={steps}]"] = (W2l @ F.softplus(A1)).tolist()
    model = {"hwsolve": 1, "kind": "network", "batch": "rows", "reduction": "mean", "input": X,
             "target": [r[0] for r in Y] if K == 1 else Y,
             "layers": [{"linear": {"W": W1, "b": b1}}, "softplus", {"linear": {"W": W2}}], "loss": "mse"}
    spec = {"hwsolve": 1, "kind": "train", "title": f"audit2 train network {i}: {kind}", "model": model,
            "optimizer": opt_spec, "steps": steps, "show_forward": show}
    return {"name": f"audit2-train-{i}-{kind}-network", "area": "train2", "command": "train", "spec": spec,
            "expected": exp}


# -- arch: receptive fields on autograd, multiply-adds by hooks -------------------------------------------


def _measured_rf(mods: list[torch.nn.Module], C: int, H: int) -> int | None:
    """The receptive field of one central output, per axis: the extent of its gradient's support on a
    large input (positive weights, average pooling for max: no cancellation, no arg-max)."""
    size = 4 * H + 1
    x = torch.ones(1, C, size, size, requires_grad=True)
    y = x
    for m in mods:
        y = m(y)
    i0, j0 = y.shape[2] // 2, y.shape[3] // 2
    y[0, :, i0, j0].sum().backward()
    rows = (x.grad[0].abs().sum(0).sum(1) > 0).nonzero()
    if len(rows) == 0:
        return None
    return int(rows.max() - rows.min() + 1)


def arch2_case(rng: random.Random, i: int) -> Case | None:
    C, H = rng.randint(1, 3), rng.randint(16, 40)
    layers: list[Any] = [f"INPUT {H}x{H}x{C}"]
    x = torch.zeros(1, C, H, H)
    exp: dict[str, Any] = {}
    geo: list[torch.nn.Module] = []     # the same geometry with positive weights, for the receptive field
    macs_total = 0
    ch = C
    for li in range(1, rng.randint(2, 5) + 1):
        kind = rng.choice(["conv", "conv", "conv", "pool"])
        if kind == "conv":
            k, nf, s = rng.randint(1, 5), rng.randint(1, 6), rng.randint(1, 2)
            p, dl = rng.randint(0, 2), rng.randint(1, 3)
            G = rng.choice([gg for gg in (1, 1, 2, 3, ch) if ch % gg == 0])     # grouped, depthwise
            nf = G * max(1, nf // G)
            mod: torch.nn.Module = torch.nn.Conv2d(ch, nf, k, s, p, dl, groups=G)
            g = torch.nn.Conv2d(ch, nf, k, s, p, dl, bias=False, groups=G)
            torch.nn.init.constant_(g.weight, 1.0)
            layers.append({"type": "conv", "kernel": k, "filters": nf, "stride": s, "padding": p, "dilation": dl,
                           **({"groups": G} if G > 1 else {})})
            exp[f"params[{li}]"] = R.nparams(mod)
        else:
            k, s = rng.randint(2, 3), rng.randint(1, 3)
            p = rng.randint(0, k // 2)
            mode = rng.choice(["max", "avg"])
            mod = torch.nn.MaxPool2d(k, s, p) if mode == "max" else torch.nn.AvgPool2d(k, s, p)
            g = torch.nn.AvgPool2d(k, s, p)
            layers.append({"type": "pool", "size": k, "stride": s, "padding": p, "mode": mode})
        try:
            y = mod(x)
        except RuntimeError:
            return None
        if min(y.shape[2:]) < 1:
            return None
        # one multiply-add per weight use; pooling has none
        macs = y.numel() * mod.weight[0].numel() if isinstance(mod, torch.nn.Conv2d) else 0
        exp[f"macs[{li}]"] = macs
        exp[f"volume[{li}]"] = y.numel()
        macs_total += macs
        x, ch = y, y.shape[1]
        geo.append(g)
    fc = torch.nn.Linear(x.numel(), rng.randint(2, 10))
    layers.append({"type": "fc", "units": fc.out_features})
    exp[f"macs[{len(geo) + 1}]"] = fc.weight.numel()
    exp["total_macs"] = macs_total + fc.weight.numel()
    rf = _measured_rf(geo, C, max(H, 64))
    if rf is None:
        return None
    exp["receptive_field"] = rf
    spec = {"hwsolve": 1, "kind": "arch", "title": f"audit2 arch {i}", "layers": layers}
    return {"name": f"audit2-arch-{i}", "area": "arch2", "command": "arch", "spec": spec, "expected": exp}


# -- activations at large inputs: mpmath at 50 digits -------------------------------------------------------

mpmath.mp.dps = 50


def _mp_table(slope, alpha, beta):
    mp = mpmath

    def sig(x):
        return 1 / (1 + mp.exp(-x))

    def gelu(x):
        return x * mp.ncdf(x)

    def gelu_d(x):
        return mp.ncdf(x) + x * mp.npdf(x)

    c = mp.sqrt(2 / mp.pi)

    def gt(x):
        return x / 2 * (1 + mp.tanh(c * (x + mp.mpf("0.044715") * x ** 3)))

    def gt_d(x):
        th = mp.tanh(c * (x + mp.mpf("0.044715") * x ** 3))
        return (1 + th) / 2 + x / 2 * (1 - th ** 2) * c * (1 + 3 * mp.mpf("0.044715") * x ** 2)

    return [
        ("sigmoid", "sigmoid", sig, lambda x: sig(x) * (1 - sig(x))),
        ("tanh", "tanh", mp.tanh, lambda x: 1 - mp.tanh(x) ** 2),
        (f"softplus:{beta}", "Softplus" + ("" if beta == 1 else f"_{beta:g}"),
         lambda x: mp.log1p(mp.exp(beta * x)) / beta, lambda x: sig(beta * x)),
        (f"elu:{alpha}", "ELU" + ("" if alpha == 1 else f"_{alpha:g}"),
         lambda x: x if x > 0 else alpha * mp.expm1(x), lambda x: 1 if x > 0 else alpha * mp.exp(x)),
        ("gelu", "GELU", gelu, gelu_d),
        ("gelu_tanh", "GELU_tanh", gt, gt_d),
        (f"leaky_relu:{slope}", "LeakyReLU" + ("" if slope == 0.01 else f"_{slope:g}"),
         lambda x: x if x > 0 else slope * x, lambda x: 1 if x > 0 else slope),
    ]


def activations2_case(rng: random.Random, i: int) -> Case | None:
    slope, alpha, beta = rng.choice([0.1, 0.2, 0.01]), rng.choice([0.5, 1, 2]), rng.choice([1, 2, 0.5])
    table = _mp_table(slope, alpha, beta)
    chosen = rng.sample(table, 3)
    big = [rng.choice([15, 20, 25, 30, 37, 40, 50, 100, 710, 800, 1000, 1e5, 1e120]) for _ in range(3)]
    xs = sorted({x * sgn for x in big for sgn in (1, -1)} | {dec(rng, -3, 3)})
    exp: dict[str, Any] = {"x": xs}
    def num(v) -> float:
        # below 1e-300 as 0: the fixtures sit under tests/data, where `grade` reads every JSON file with the
        # bounded number reader (exponents up to 300); the comparison's absolute floor covers the difference
        f = float(v)
        return 0.0 if abs(f) < 1e-300 else f

    for _, label, fn, dfn in chosen:
        exp[f"{label}(x)"] = [num(fn(mpmath.mpf(x))) for x in xs]
        exp[f"{label}'(x)"] = [num(dfn(mpmath.mpf(x))) for x in xs]
    args = [name for name, *_ in chosen] + ["--at", ",".join(f"{x:g}" for x in xs), "--function", "--derivative"]
    return {"name": f"audit2-activations-{i}", "area": "activations2", "command": "activations", "args": args,
            "expected": exp}


# -- hparam and gradflow: exact fractions -------------------------------------------------------------------


def hparam2_case(rng: random.Random, i: int) -> Case | None:
    counts = [rng.randint(1, 12) for _ in range(rng.randint(1, 4))]
    epochs, epoch_time = rng.randint(1, 50), rng.choice([1, 2, 3, 5, 0.5, 1.5])
    unit = rng.choice(["minutes", "seconds", "hours"])
    p = rng.choice([0.05, 0.01, 0.1, 0.02, 0.2, 0.001])
    qs = sorted({rng.choice([0.9, 0.95, 0.99, 0.995, 0.5, 0.999]) for _ in range(2)})
    workers = rng.choice([1, 2, 3, 4, 8])
    configs = math.prod(counts)
    per_run = Fraction(str(epoch_time)) * epochs
    total = per_run * configs
    to_min = {"seconds": Fraction(1, 60), "minutes": Fraction(1), "hours": Fraction(60)}[unit]
    exp: dict[str, Any] = {"configs": configs, "epochs": configs * epochs, f"time({unit})": float(total),
                           "time(hours)": float(total * to_min / 60), "time(days)": float(total * to_min / 60 / 24),
                           "E(trials)": float(1 / Fraction(str(p)))}
    if workers > 1:
        rounds = -(-configs // workers)
        exp["rounds"] = rounds
        exp["wall_time(minutes)"] = float(rounds * per_run * to_min)
    pf = Fraction(str(p))
    for q in qs:
        qf = Fraction(str(q))
        N = 1
        while (1 - pf) ** N > 1 - qf:
            N += 1
        tag = f"{q:g}"
        exp[f"N(q={tag})"] = N
        exp[f"N_bound(q={tag})"] = math.log(1 - q) / math.log(1 - p)
        exp[f"time(q={tag})"] = float(N * per_run * to_min)     # minutes, whatever the unit
        for k in (N - 1, N):
            if k >= 1:
                exp[f"P(N={k})"] = float(1 - (1 - pf) ** k)
    args = ["--counts", ",".join(map(str, counts)), "--epochs", str(epochs), "--epoch-time", f"{epoch_time:g}",
            "--unit", unit, "--p", f"{p:g}", "--workers", str(workers)]
    for q in qs:
        args += ["--q", f"{q:g}"]
    return {"name": f"audit2-hparam-{i}", "area": "hparam2", "command": "hparam", "args": args, "expected": exp}


def gradflow2_case(rng: random.Random, i: int) -> Case | None:
    """A plain and a residual stack with per-layer locals, on autograd: y_j = f_j(y_{j-1}) + y_{j-1}."""
    block = rng.choice([1, 2, 3])
    nblocks = rng.randint(1, 4)
    n = block * nblocks
    locs = [rng.choice([0.5, 0.25, 2, -0.5, 0.1, 1.5, -1]) for _ in range(n)]
    up = rng.choice([1, 0.5, 0.01, -2])
    x = torch.tensor(1.0, requires_grad=True)
    z = x
    for c in locs:
        z = c * z
    (up * z).backward()
    plain_g = x.grad.item()
    x2 = torch.tensor(1.0, requires_grad=True)
    y = x2
    for j in range(nblocks):
        z = y
        for c in locs[j * block:(j + 1) * block]:
            z = c * z
        y = z + y
    (up * y).backward()
    res_g = x2.grad.item()
    spec = {"hwsolve": 1, "kind": "gradflow",
            "parts": [{"name": "plain", "structure": "plain", "upstream": up, "local": locs},
                      {"name": "res", "structure": "residual", "layers": n, "block": block, "upstream": up,
                       "local": locs}]}
    return {"name": f"audit2-gradflow-{i}", "area": "gradflow2", "command": "gradflow", "spec": spec,
            "args": ["--no-chart"], "expected": {"plain:dL/dx": plain_g, "res:dL/dx": res_g}}


def conv_shape2_case(rng: random.Random, i: int) -> Case | None:
    """Pooling with padding and stride != window; dilated convolutions of HxW kernels; conv + 'same'."""
    H, W = rng.randint(5, 64), rng.randint(5, 64)
    C, Lf = rng.randint(1, 8), rng.randint(1, 16)
    mode = ["pool-avg", "conv-hw", "conv-same", "conv-groups"][i % 4]
    x = torch.zeros(1, C, H, W)
    if mode == "pool-avg":
        k, s = rng.randint(2, 5), rng.randint(1, 4)
        p = rng.randint(0, k // 2)
        mod: torch.nn.Module = torch.nn.AvgPool2d(k, s, p)
        args = ["--n", f"{H}x{W}", "--k", str(k), "--s", str(s), "--p", str(p), "--channels", str(C), "--pool", "avg"]
    elif mode == "conv-hw":
        kh, kw = rng.randint(1, 5), rng.randint(1, 5)
        sh, sw, ph, pw = rng.randint(1, 3), rng.randint(1, 3), rng.randint(0, 3), rng.randint(0, 3)
        dh, dw = rng.randint(1, 3), rng.randint(1, 3)
        mod = torch.nn.Conv2d(C, Lf, (kh, kw), (sh, sw), (ph, pw), (dh, dw))
        args = ["--n", f"{H}x{W}", "--k", f"{kh}x{kw}", "--s", f"{sh}x{sw}", "--p", f"{ph}x{pw}", "--d", f"{dh}x{dw}",
                "--channels", str(C), "--filters", str(Lf)]
    elif mode == "conv-groups":      # grouped, depthwise (G = C = L) or transposed
        G = rng.choice([1, 2, 3, 4])
        C, Lf = G * rng.randint(1, 4), G * rng.randint(1, 4)
        if rng.random() < 0.3:
            C = Lf = G
        k, s_, p = rng.randint(1, 5), rng.randint(1, 3), rng.randint(0, 2)
        x = torch.zeros(1, C, H, W)
        transposed = rng.random() < 0.3
        mod = (torch.nn.ConvTranspose2d if transposed else torch.nn.Conv2d)(C, Lf, k, s_, p, groups=G)
        args = ["--n", f"{H}x{W}", "--k", str(k), "--s", str(s_), "--p", str(p), "--channels", str(C),
                "--filters", str(Lf), "--groups", str(G)] + (["--transposed"] if transposed else [])
    else:
        k, dl = rng.randint(1, 6), rng.randint(1, 3)
        mod = torch.nn.Conv2d(C, Lf, k, 1, "same", dl)
        args = ["--n", f"{H}x{W}", "--k", str(k), "--s", "1", "--p", "same", "--d", str(dl), "--channels", str(C),
                "--filters", str(Lf)]
    try:
        y = mod(x)
    except RuntimeError:
        return None
    if min(y.shape[2:]) < 1:
        return None
    exp: dict[str, Any] = {"volume": [y.shape[2], y.shape[3], y.shape[1]], "activations": y.numel()}
    if mode != "pool-avg":
        exp.update(params=R.nparams(mod), weights=mod.weight.numel(), biases=mod.bias.numel())
    return {"name": f"audit2-conv_shape-{i}-{mode}", "area": "conv_shape2", "command": "conv-shape", "args": args,
            "expected": exp}


def graph2_case(rng: random.Random, i: int) -> Case | None:
    """Library losses on matrix logits in a graph spec: bce_with_logits with large logits (where a sigmoid
    rounds to 1 and bce is refused), averaged over every entry as PyTorch's mean."""
    m, n = rng.randint(1, 3), rng.randint(1, 4)
    A, W = mat(rng, m, n), mat(rng, m, m, lo=-20, hi=20, places=1)
    Y = [[rng.choice([0, 1, 0.5, 0.25]) for _ in range(n)] for _ in range(m)]
    At, Wt = t(A), t(W)
    Z = Wt @ At
    L = F.binary_cross_entropy_with_logits(Z, ft(Y))
    L.backward()
    spec = {"hwsolve": 1, "kind": "graph", "title": f"audit2 graph {i}: bce_with_logits", "inputs": {"A": A},
            "params": {"W": W}, "targets": {"Y": Y}, "nodes": {"Z": "W @ A"},
            "loss": {"type": "bce_with_logits", "prediction": "Z", "target": "Y"}}
    exp = {"Z": plain(Z), "L": L.item(), "dL/dW": grad_of(Wt), "dL/dA": grad_of(At)}
    return {"name": f"audit2-graph-{i}-bce_with_logits", "area": "graph2", "command": "backprop", "spec": spec,
            "expected": exp}


def cnn2_case(rng: random.Random, i: int) -> Case | None:
    """A small CNN as one network spec: conv (channels, filters, stride, padding, dilation) -> activation ->
    max or average pooling (padding) -> [batch norm over the map] -> flatten -> dense -> loss; every value."""
    C, Fn = rng.randint(1, 2), rng.randint(1, 2)
    H = rng.randint(4, 7)
    k, s_, p, dl = rng.randint(2, 3), rng.randint(1, 2), rng.randint(0, 1), rng.choice([1, 1, 2])
    X = [mat(rng, H, H) for _ in range(C)]
    Kf = [[mat(rng, k, k) for _ in range(C)] for _ in range(Fn)]
    bf = vec(rng, Fn)
    Xt, Kt, bt = t([X]), t(Kf), t(bf)
    if H + 2 * p < dl * (k - 1) + 1:
        return None
    A1 = F.conv2d(Xt, Kt, bt, stride=s_, padding=p, dilation=dl)
    if min(A1.shape[2:]) < 2:
        return None
    act = rng.choice(["relu", "tanh", "leaky_relu", "elu"])
    spec_a, fn = _act(rng, act)
    if act in R.KINKED and R.near_kink(A1):
        return None
    Z1 = fn(A1)
    pool = rng.choice(["maxpool", "avgpool"])
    w, ps = 2, rng.randint(1, 2)
    pp = rng.randint(0, 1) if pool == "avgpool" else 0      # zeros counted, PyTorch's count_include_pad
    P1 = F.max_pool2d(Z1, w, ps) if pool == "maxpool" else F.avg_pool2d(Z1, w, ps, pp)
    if pool == "maxpool" and _max_ties(Z1, w, ps):
        return None
    drop = i % 4 == 3       # inverted dropout with a given mask, after the pooling
    mask = [[[rng.choice([0, 1]) for _ in range(P1.shape[3])] for _ in range(P1.shape[2])] for _ in range(Fn)]
    pdrop = rng.choice([0.5, 0.25])
    if drop:
        P1 = P1 * ft([mask]) / (1 - pdrop)
    use_bn = i % 3 == 1 and P1.shape[2] * P1.shape[3] > 1
    gamma, beta = vec(rng, Fn), vec(rng, Fn)
    gt, bet = t(gamma), t(beta)
    B = F.batch_norm(P1, None, None, gt, bet, training=True, eps=1e-5) if use_bn else P1
    flat = B.reshape(-1)
    K = rng.randint(2, 3)
    W2, b2 = mat(rng, K, flat.numel()), vec(rng, K)
    W2t, b2t = t(W2), t(b2)
    a2 = W2t @ flat + b2t
    cls = rng.randrange(K)
    L = F.cross_entropy(a2[None], torch.tensor([cls]))
    L.backward()
    layers: list[Any] = [{"type": "conv", "kernel": Kf if Fn > 1 else (Kf[0] if C > 1 else Kf[0][0]),
                          "bias": bf if Fn > 1 else bf[0], "stride": s_, "padding": p, "dilation": dl},
                         spec_a, {"type": pool, "window": w, "stride": ps, **({"padding": pp} if pp else {})}]
    if drop:
        layers.append({"type": "dropout", "mask": mask if Fn > 1 else mask[0], "p": pdrop})
    if use_bn:
        layers.append({"type": "batchnorm", "gamma": gamma, "beta": beta})
    layers += ["flatten", {"type": "linear", "W": W2, "b": b2}, "softmax"]
    spec = {"hwsolve": 1, "kind": "network", "title": f"audit2 cnn {i}", "input": X if C > 1 else X[0],
            "layers": layers, "target": {"class": cls}, "loss": "cross_entropy"}
    exp: dict[str, Any] = {"L": L.item(), "dL/dK[1]": Kt.grad.tolist() if Fn > 1 else
                           (Kt.grad[0].tolist() if C > 1 else Kt.grad[0, 0].tolist()),
                           "dL/db[1]": bt.grad.tolist() if Fn > 1 else bt.grad[0].item(),
                           "dL/dW[2]": W2t.grad.tolist(), "dL/db[2]": plain(b2t.grad),
                           "dL/dx": Xt.grad[0].tolist() if C > 1 else Xt.grad[0, 0].tolist()}
    if use_bn:
        exp["dL/dgamma[1]"], exp["dL/dbeta[1]"] = plain(gt.grad), plain(bet.grad)
    return {"name": f"audit2-cnn-{i}", "area": "cnn2", "command": "backprop", "spec": spec, "expected": exp}


def _max_ties(Z: torch.Tensor, w: int, s: int) -> bool:
    """Two equal maxima in one pooling window (within 1e-9) could be routed either way in float64."""
    win = Z.unfold(2, w, s).unfold(3, w, s).reshape(*Z.shape[:2], -1, w * w) if Z.dim() == 4 else None
    top = win.topk(2, dim=-1).values
    return bool(((top[..., 0] - top[..., 1]).abs() < 1e-9).any())


AREAS = {"network2": network2_case, "cnn2": cnn2_case, "graph2": graph2_case, "batch2": batch2_case,
         "train2": train2_case, "arch2": arch2_case, "activations2": activations2_case, "hparam2": hparam2_case,
         "gradflow2": gradflow2_case, "conv_shape2": conv_shape2_case}
FREEZE_COUNTS = {"network2": 10, "cnn2": 8, "graph2": 3, "batch2": 20, "train2": 14, "arch2": 6, "activations2": 3,
                 "hparam2": 3, "gradflow2": 3, "conv_shape2": 8}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("action", choices=["check", "freeze"])
    ap.add_argument("--cases", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--area", action="append", choices=list(AREAS))
    ap.add_argument("-v", "--verbose", action="store_true")
    ns = ap.parse_args(argv)
    R.AREAS.clear()
    R.AREAS.update(AREAS)
    R.FREEZE_COUNTS.clear()
    R.FREEZE_COUNTS.update(FREEZE_COUNTS)
    areas = ns.area or list(AREAS)
    if ns.action == "freeze":
        R.FIXTURES = R.FIXTURES     # same folder; files named audit2_<area>.json
        _freeze(areas, ns.cases, ns.seed)
        return 0
    return 1 if R.check(areas, ns.cases or 20, ns.seed, ns.verbose) else 0


def _freeze(areas: list[str], count: int | None, seed: int) -> None:
    for area in areas:
        cases = R.generate(area, count or FREEZE_COUNTS[area], seed)
        for case in cases:
            got, _ = R.run_hwsolve(case)
            bad = R.compare(case["expected"], got)
            if bad:
                raise SystemExit(f"refusing to freeze {case['name']}: hwsolve disagrees: {bad[0]}")
        head = {"generated_by": "tools/torch_audit2.py freeze", "torch": torch.__version__, "seed": seed,
                "rtol": R.RTOL}
        lines = ",\n".join(json.dumps(c, allow_nan=False, separators=(",", ":")) for c in cases)
        path = R.FIXTURES / f"audit2_{area}.json"
        path.write_text(json.dumps(head)[:-1] + ', "cases": [\n' + lines + "\n]}\n")
        print(f"wrote {path.relative_to(R.ROOT)} ({len(cases)} cases)")


if __name__ == "__main__":
    sys.exit(main())
