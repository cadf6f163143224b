"""The conv, pooling, flatten, batch-norm and dropout layers of a network spec as graph nodes.

Each uses the rules of autodiff/layer_ops.py (the ones `hwsolve layer` and graph specs use) and
the one backward loop. Names follow the network's notation: with the layered style a conv layer
is a weight layer of its own (K[l], b[l], its output the pre-activation a[l]); pooling gives
pool[l], flatten flat[l], dropout drop[l] (its mask m[l]), batch norm xhat[l] and bn[l] (gamma[l],
beta[l]), l being the number of the last weight layer; the sequential style numbers every output
by its position. `name:` renames a layer's output.
"""

from __future__ import annotations

from hwsolve.autodiff import layer_ops as LO
from hwsolve.autodiff.graph import Graph, Node
from hwsolve.autodiff.ops import Op
from hwsolve.autodiff.tensor_ops import Reshape
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
}


def shaped_notes(kinds: set[str]) -> list[str]:
    return [note for key, note in NOTES.items() if key in kinds]


__all__ = ["add_shaped", "shaped_notes"]
