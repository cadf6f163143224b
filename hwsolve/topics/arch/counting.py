"""Counting for sequence layers, receptive fields and multiply-adds (issue 12, item 7).

Pure Python integers (no numpy): `arch` stays as light as conv-shape.

Conventions, as PyTorch builds the layers and torchinfo counts their parameters:
  * RNN / GRU / LSTM (nn.RNN, nn.GRU, nn.LSTM): G gate blocks (1, 3, 4), each with W_ih (h x i),
    W_hh (h x h) and TWO biases b_ih and b_hh (h each): G (h (i + h) + 2h) per layer; layer 2 on
    reads h inputs. Output: T x h.
  * Multi-head attention (nn.MultiheadAttention, embed d, n heads): the in-projection for Q, K, V
    (3d x d and 3d biases) and the out-projection (d x d and d): 4d^2 + 4d, whatever n (n only
    splits d into heads of d / n).
  * Transformer block (nn.TransformerEncoderLayer(d, n, dim_feedforward=f)): attention 4d^2 + 4d,
    feed-forward d f + f + f d + d, two layer norms 2d each.
  * Multiply-adds: one per weight use, for one input (one image or one sequence); bias additions,
    pooling, norms, activations and softmax are not multiply-adds. Conv: Ho Wo L k_h k_w C;
    FC: n_in N (per token); RNN-type: T G h (i + h) per layer; attention: 4 T d^2 projections +
    T^2 d scores + T^2 d weighted sum.
  * Receptive field of a conv / pool stack: r_0 = 1, j_0 = 1; each layer r += (d(k - 1)) j and
    j *= s (j, the jump, is the distance in input pixels between neighbouring outputs).
"""

from __future__ import annotations

from hwsolve.core.records import Solution, Step
from hwsolve.core.sym import Const, Symbol

GATES = {"rnn": 1, "gru": 3, "lstm": 4}
GATE_NOTE = {"rnn": "one tanh block", "gru": "3 blocks: reset, update, new", "lstm": "4 blocks: input, forget, "
             "cell, output"}


def thousands(n: int) -> str:
    return f"{n:,}"


def sequence_layer(sol: Solution, ly, vol: tuple, pre: str, sec: str) -> tuple[tuple, int, int, str]:
    """A layer on a T x d sequence: (new volume, params, multiply-adds, note for the table)."""
    if len(vol) != 2:
        raise ly.where(f"{ly.label} reads a sequence T x d (INPUT with size [T, d]), but its input "
                       f"is {'x'.join(map(str, vol))}")
    if ly.type == "fc":
        return token_linear(sol, ly, vol, pre, sec)
    fn = recurrent if ly.type in GATES else attention
    return fn(sol, ly, vol, pre, sec)


def token_linear(sol: Solution, ly, vol: tuple, pre: str, sec: str) -> tuple[tuple, int, int, str]:
    """FC-N on a sequence: one n_in x N matrix applied to every token (as nn.Linear does)."""
    T, fin = vol
    n = ly.filters
    w, b = fin * n, (n if ly.bias else 0)
    sol.add(Step(pre + "weights", sec, formula=Symbol("n_in") * Symbol("N"), substituted=Const(fin) * Const(n),
                 value=w, unit="parameters", note=f"one {fin} x {n} matrix shared by all {T} tokens"))
    sol.add(Step(pre + "biases", sec, value=b, unit="parameters", note="one per output" if ly.bias else "bias: false"))
    return (T, n), w + b, T * w, f"{w} weights + {b} biases"


def recurrent(sol: Solution, ly, vol: tuple, pre: str, sec: str) -> tuple[tuple, int, int, str]:
    """An RNN / GRU / LSTM layer on a T x i sequence: (new volume, params, multiply-adds, note)."""
    T, i = vol
    h, g, n = ly.filters, GATES[ly.type], ly.layers
    total = macs = 0
    for layer in range(n):
        inp = i if layer == 0 else h
        w = g * h * (inp + h)
        b = 2 * g * h if ly.bias else 0
        tag = f"[{layer}]" if n > 1 else ""
        gh = Const(g) * Const(h)
        sol.add(Step(pre + "weights" + tag, sec,
                     formula=Symbol("G") * Symbol("h") * (Symbol("i") + Symbol("h")),
                     substituted=gh * (Const(inp) + Const(h)), value=w, unit="parameters",
                     note=f"{ly.type.upper()}: G = {g} ({GATE_NOTE[ly.type]}); W_ih is {g * h} x {inp}, "
                          f"W_hh {g * h} x {h}" + ("" if layer == 0 else "; this layer reads the one below (i = h)")))
        sol.add(Step(pre + "biases" + tag, sec, formula=Const(2) * Symbol("G") * Symbol("h") if ly.bias else None,
                     substituted=Const(2) * gh if ly.bias else None, value=b, unit="parameters",
                     note="PyTorch keeps two biases, b_ih and b_hh (Keras one: subtract G h)" if ly.bias
                     else "bias: false"))
        total += w + b
        macs += T * g * h * (inp + h)
    return (T, h), total, macs, f"{ly.type.upper()} G(h(i + h) + 2h) per layer = {thousands(total)}"


def attention(sol: Solution, ly, vol: tuple, pre: str, sec: str) -> tuple[tuple, int, int, str]:
    """Multi-head attention (type mha) or a transformer encoder block (type transformer)."""
    T, d = vol
    heads = ly.heads
    if d % heads:
        raise ly.where(f"{ly.label}: {heads} heads do not divide the model dimension {d}")
    D = Symbol("d")
    proj = 4 * d * d + (4 * d if ly.bias else 0)
    sol.add(Step(pre + "head_dim", sec, formula=D / Symbol("n_heads"), substituted=Const(d) / Const(heads),
                 value=d // heads, note="each head attends in d / n dimensions; heads do not change the count"))
    sol.add(Step(pre + "attention", sec, formula=Const(4) * D ** 2 + Const(4) * D if ly.bias else Const(4) * D ** 2,
                 substituted=Const(4) * Const(d) ** 2 + Const(4) * Const(d) if ly.bias else Const(4) * Const(d) ** 2,
                 value=proj, unit="parameters",
                 note="W_Q, W_K, W_V, W_O (d x d each) and their biases (PyTorch's in_proj and out_proj)"))
    macs = 4 * T * d * d + 2 * T * T * d
    if ly.type == "mha":
        return (T, d), proj, macs, f"multi-head attention 4d^2 + 4d = {thousands(proj)}"
    f = ly.ff
    F = Symbol("f")
    ffn = 2 * d * f + f + d
    sol.add(Step(pre + "feedforward", sec, formula=D * F + F + F * D + D,
                 substituted=Const(d) * Const(f) + Const(f) + Const(f) * Const(d) + Const(d),
                 value=ffn, unit="parameters", note=f"two linear layers d -> {f} -> d with biases"))
    sol.add(Step(pre + "norms", sec, formula=Const(2) * (Const(2) * D), substituted=Const(2) * (Const(2) * Const(d)),
                 value=4 * d, unit="parameters", note="two layer norms, gamma and beta (d each)"))
    total = proj + ffn + 4 * d
    return (T, d), total, macs + 2 * T * d * f, f"transformer block = {thousands(total)}"


def receptive_field(sol: Solution, convs: list) -> None:
    """rf[i] and jump[i] for each conv / pool layer (index, label, kernel, stride, dilation)."""
    if not convs:
        return
    sol.sections["rf"] = "Receptive field (in input pixels, per axis)"
    r, j = (1, 1), (1, 1)
    for idx, label, k, s, d in convs:
        new_r = tuple(r[a] + d[a] * (k[a] - 1) * j[a] for a in range(2))
        same = new_r[0] == new_r[1] and r[0] == r[1] and j[0] == j[1] and k[0] == k[1] and d[0] == d[1]
        axes = [0] if same else [0, 1]
        for a in axes:
            tag = "" if same else "HW"[a]
            sol.add(Step(f"rf{tag}[{idx}]", "rf", formula=Symbol("r_prev") + Symbol("d") * (Symbol("k") - 1)
                         * Symbol("j_prev"),
                         substituted=Const(r[a]) + Const(d[a]) * (Const(k[a]) - 1) * Const(j[a]),
                         value=new_r[a], unit="pixels",
                         note=f"{label}: a window of {k[a]} outputs of the layer below, {j[a]} input pixels apart"))
        j = tuple(j[a] * s[a] for a in range(2))
        r = new_r
        sol.add(Step(f"jump[{idx}]", "rf", value=j[0] if j[0] == j[1] else j, shape=() if j[0] == j[1] else (2,),
                     unit="pixels", note="input pixels between neighbouring outputs: the strides so far multiplied"))
    sol.add(Step("receptive_field", "rf", value=r[0] if r[0] == r[1] else r, shape=() if r[0] == r[1] else (2,),
                 unit="pixels", note="one output of the last conv / pool layer sees this many input pixels "
                                     "per side (padding included)"))
