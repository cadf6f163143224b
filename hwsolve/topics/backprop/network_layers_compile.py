"""The conv, pooling, flatten, batch-norm, dropout, rnn and attention layers of a network spec as
graph nodes.

Each uses the rules of autodiff/layer_ops.py (the ones `hwsolve layer` and graph specs use) and
the one backward loop. Names follow the network's notation: with the layered style a conv layer
is a weight layer of its own (K[l], b[l], its output the pre-activation a[l]); pooling gives
pool[l], flatten flat[l], dropout drop[l] (its mask m[l]), batch norm xhat[l] and bn[l] (gamma[l],
beta[l]), l being the number of the last weight layer; the sequential style numbers every output
by its position. `name:` renames a layer's output. An rnn layer (a weight layer: W_hh[l], W_xh[l],
b[l]) unrolls into x<t>, a<t>, h<t> per step (`name:` renames its hidden states, g<t> and a_g<t>);
attention (W_q[l], W_k[l], W_v[l]) gives Q[l], K[l], V[l], the weights A[l] (its mask M[l]) and
att[l] = A[l] V[l].
"""

from __future__ import annotations

from hwsolve.autodiff import layer_ops as LO
from hwsolve.autodiff.graph import Graph, Node
from hwsolve.autodiff.functions import ELEMENTWISE
from hwsolve.autodiff.ops import Activation, Identity, Op
from hwsolve.autodiff.tensor_ops import MatMul, Reshape
from hwsolve.core import values as T
from hwsolve.core.errors import SpecError
from hwsolve.core.notation import indexed, symbol
from hwsolve.core.sym import Symbol

# the default name of each layer's output (layered style)
OUTPUT_BASE = {"maxpool": "pool", "avgpool": "pool", "flatten": "flat", "dropout": "drop", "batchnorm": "bn"}


def _claim(names: set[str], sym: Symbol, p, where, i: int) -> Symbol:
    if sym.text in names:
        raise SpecError(f"two values would both be called '{sym.text}': give this layer a "
                        "different name (name: ...)", file=p.file, line=where, field=f"layers[{i}]")
    names.add(sym.text)
    return sym


def _name(p, layer, base: str, block: int, i: int) -> Symbol:
    """The name of a layer's output or auxiliary value: base[block] (layered), or by position (sequential)."""
    n = p.notation
    if n.style == "sequential":
        return indexed(n.post if base == "out" else base, i + 1, n.index)
    return indexed(base, block, n.index)


def add_shaped(g: Graph, p, layer, current: Node, block: int, i: int, names: set[str],
               where) -> tuple[Node, list[Node]]:
    """The layer's node(s) after `current`; returns the output node and the new parameters."""
    n = p.notation
    params: list[Node] = []
    parents: list[Node] = [current]
    e = layer.extra
    if layer.kind == "conv":
        params = _conv_params(g, p, layer, block, i, names, where)
        op: Op = LO.Conv2d(stride=e["stride"], padding=e["padding"], dilation=e["dilation"],
                           has_bias="bias" in e)
        parents = [current, *params]
        base = n.pre if n.style == "layered" else "out"
    elif layer.kind in ("maxpool", "avgpool"):
        op = (LO.MaxPool2d if layer.kind == "maxpool" else LO.AvgPool2d)(e["window"], e["stride"], e["padding"])
        base = OUTPUT_BASE[layer.kind] if n.style == "layered" else "out"
    elif layer.kind == "flatten":
        op = Reshape(None)
        base = OUTPUT_BASE["flatten"] if n.style == "layered" else "out"
    elif layer.kind == "dropout":
        m = _claim(names, _name(p, layer, "m", block, i), p, where, i)
        parents.append(g.leaf(m.text, m, "target", T.exact(e["mask"]), line=where, matrix=True))
        op = LO.Dropout(None, e["p"])
        base = OUTPUT_BASE["dropout"] if n.style == "layered" else "out"
    elif layer.kind == "rnn":
        return _rnn(g, p, layer, current, block, i, names, where)
    elif layer.kind == "attention":
        return _attention(g, p, layer, current, block, i, names, where)
    else:
        return _batchnorm(g, p, layer, current, block, i, names, where)
    out = symbol(layer.name) if layer.name else _name(p, layer, base, block, i)
    _claim(names, out, p, where, i)
    return g.apply(op, parents, out.text, out, line=where), params


def _conv_params(g: Graph, p, layer, block: int, i: int, names: set[str], where) -> list[Node]:
    n = p.notation
    e = layer.extra
    k_sym = symbol(e["K_name"]) if "K_name" in e else _name(p, layer, "K", block, i)
    out = [g.leaf(k_sym.text, k_sym, "param", T.exact(e["kernel"]), line=where, matrix=True)]
    if "bias" in e:
        b_sym = _name(p, layer, n.bias, block, i)
        out.append(g.leaf(b_sym.text, b_sym, "param", T.exact([[v] for v in e["bias"]]), line=where))
    return out


def _batchnorm(g: Graph, p, layer, current: Node, block: int, i: int, names: set[str],
               where) -> tuple[Node, list[Node]]:
    """xhat (the statistics; the compact backward form), then gamma ⊙ xhat + beta."""
    n = p.notation
    e = layer.extra
    over = "rows" if e["form"] == "batch" else "map"
    xhat_sym = _claim(names, _name(p, layer, "xhat", block, i), p, where, i)
    xhat = g.apply(LO.Normalize(e["epsilon"], over), (current,), xhat_sym.text, xhat_sym, line=where)
    params = []
    for key in ("gamma", "beta"):
        sym = _name(p, layer, key, block, i)
        params.append(g.leaf(sym.text, sym, "param", T.exact([[v] for v in e[key]]), line=where))
    out = symbol(layer.name) if layer.name else _name(p, layer, "bn" if n.style == "layered" else "out", block, i)
    _claim(names, out, p, where, i)
    return g.apply(LO.ScaleShift(over), (xhat, *params), out.text, out, line=where), params


def _params(g: Graph, p, layer, keys: list[tuple[str, str]], block: int, i: int, where) -> list[Node]:
    """The layer's weight matrices, key -> the name's base (W_hh -> W_hh[2])."""
    out = []
    for key, base in keys:
        sym = _name(p, layer, base, block, i)
        out.append(g.leaf(sym.text, sym, "param", T.exact(layer.extra[key]), line=where, matrix=True))
    return out


def _step_symbol(base: str, t: int) -> Symbol:
    """A time step's value: h<2> (in LaTeX with angle brackets), apart from the layer indices a[2], W[2]."""
    return symbol(f"{base}<{t}>")  # LaTeX with langle/rangle: notation.latex_name


def _rnn(g: Graph, p, layer, current: Node, block: int, i: int, names: set[str],
         where) -> tuple[Node, list[Node]]:
    """Unrolled over the rows of its input: x<t> = row t, a<t> = W_hh h<t-1> + W_xh x<t> + b,
    h<t> = tanh(a<t>); the same three parameters at every step, so their gradients are sums over t."""
    e = layer.extra
    n = p.notation
    params = _params(g, p, layer, [("W_hh", "W_hh"), ("W_xh", "W_xh")], block, i, where)
    b_sym = _name(p, layer, n.bias, block, i)
    params.append(g.leaf(b_sym.text, b_sym, "param", T.exact([[v] for v in e["b"]]), line=where))
    w_hh, w_xh, b = params
    hidden = layer.name or "h"
    pre = "a" if not layer.name else f"a_{layer.name}"
    reads_input = current.op is None or (isinstance(current.op, Identity) and current.parents[0].op is None)
    row = n.input if reads_input else current.name
    h0 = _step_symbol(hidden, 0)
    h = g.leaf(_claim(names, h0, p, where, i).text, h0, "input", T.exact([[v] for v in e["h0"]]), line=where)
    states = []
    for t in range(1, e["steps"] + 1):
        x_t = _claim(names, _step_symbol(row, t), p, where, i)
        x = g.apply(LO.SequenceRow(t - 1), (current,), x_t.text, x_t, line=where)
        a_t = _claim(names, _step_symbol(pre, t), p, where, i)
        a = g.apply(LO.RNNPreactivation(), (w_hh, h, w_xh, x, b), a_t.text, a_t, line=where)
        h_t = _claim(names, _step_symbol(hidden, t), p, where, i)
        h = g.apply(Activation(ELEMENTWISE["tanh"]), (a,), h_t.text, h_t, line=where)
        states.append(h)
    if e["output"] == "last":
        return h, params
    out = _claim(names, _name(p, layer, "H" if n.style == "layered" else "out", block, i), p, where, i)
    return g.apply(LO.StackRows(), states, out.text, out, line=where), params


def _attention(g: Graph, p, layer, current: Node, block: int, i: int, names: set[str],
               where) -> tuple[Node, list[Node]]:
    """Q = X W_q, K = X W_k, V = X W_v (one token a row); A = softmax(Q K^T / sqrt(d_k) [+ mask]) row by
    row; the output A V."""
    e = layer.extra
    params = _params(g, p, layer, [("W_q", "W_q"), ("W_k", "W_k"), ("W_v", "W_v")], block, i, where)
    qkv = []
    for w, base in zip(params, ("Q", "K", "V"), strict=True):
        sym = _claim(names, _name(p, layer, base, block, i), p, where, i)
        qkv.append(g.apply(MatMul(), (current, w), sym.text, sym, line=where))
    operands = qkv[:2]
    if "mask" in e:
        m = _claim(names, _name(p, layer, "M", block, i), p, where, i)
        operands.append(g.leaf(m.text, m, "target", T.exact(e["mask"]), line=where, matrix=True))
    a_sym = _claim(names, _name(p, layer, "A", block, i), p, where, i)
    weights = g.apply(LO.AttentionWeights(masked="mask" in e), operands, a_sym.text, a_sym, line=where)
    out = symbol(layer.name) if layer.name else _name(p, layer, "att" if p.notation.style == "layered" else "out",
                                                      block, i)
    _claim(names, out, p, where, i)
    return g.apply(MatMul(), (weights, qkv[2]), out.text, out, line=where), params


NOTES = {
    "conv": "conv is cross-correlation, as libraries compute it (zero padding): dL/dK = z correlated with dL/da, "
            "dL/dz = dL/da (dilated by the stride) fully convolved with rot180(K), dL/db = sum dL/da.",
    "maxpool": "maxpool: each window's gradient goes to its arg-max; of tied maxima the first in row-major order "
               "takes it (PyTorch's CPU kernel); padding never wins.",
    "avgpool": "avgpool divides by the whole window, padding included (count_include_pad); each cell gets "
               "dL/dpool / (k k) from every window containing it.",
    "flatten": "flatten reads the map row by row (channel by channel): C x H x W becomes a column of C H W.",
    "batchnorm": "batchnorm in training mode: xhat = (v - mu) / sqrt(var + epsilon) with the mean and biased "
                 "variance (divide by N) of each feature (a row of the batch, or a channel of a map, over its "
                 "positions), then gamma ⊙ xhat + beta; dL/dv is the compact form. sigma is exact when var + "
                 "epsilon is the square of a rational, otherwise a float.",
    "dropout": "dropout is inverted, with the given mask m: m ⊙ v / (1 - p); the backward pass uses the same mask "
               "and scale (dropped entries get 0).",
    "rnn": "rnn is unrolled over the rows of its input (one step a row): x<t> is row t, a<t> = W_hh h<t-1> + "
           "W_xh x<t> + b, h<t> = tanh(a<t>), from h<0> (given, or zeros). W_hh, W_xh and b are shared by every "
           "step, so each gradient is the sum of one term per step (the via a<t> lines): backprop through time. "
           "output: last passes h<T> on; output: all passes H, every h<t> as a row.",
    "attention": "attention is one head over the rows (tokens) of its input X: Q = X W_q, K = X W_k, V = X W_v, "
                 "A = softmax(Q K^T / sqrt(d_k)) row by row (masked scores, M = 0, are -inf: weight 0; the mask "
                 "gets no gradient), then A V; dL/dA goes back through the softmax Jacobian row by row. Floats, "
                 "since softmax takes exponentials.",
}


def shaped_notes(kinds: set[str]) -> list[str]:
    return [note for key, note in NOTES.items() if key in kinds]


__all__ = ["add_shaped", "shaped_notes"]
