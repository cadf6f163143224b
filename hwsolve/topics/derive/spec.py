"""The symbolic-derivation spec (kind: derive): dimensions and layer types, no numbers.

    hwsolve: 1
    kind: derive
    layout: numerator          # or gradient
    input: n                   # the input's dimension: a name (n, D) or a whole number
    layers:
      - linear: {out: d}       # W is d x n, b has d entries; `in: n` is checked if given
      - 5 * relu
      - linear: {out: K, name: z_3}
      - {type: identity, name: yhat}
    loss: squared_error
    aliases: {u2: a}           # optional: a course's name for a gradient (u2 = dL/da)
    sizes: {n: 4}              # optional: sizes used for the built-in numeric check

See docs/derive-and-latex.md. Every error names its line and exits with code 2.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction

from hwsolve.core.errors import SpecError
from hwsolve.spec.loader import Doc, Field
from hwsolve.topics.backprop.network_spec import Notation, _name, _notation, _num

# The layer types a derivation supports: each has a Jacobian the derivation spells out and the
# numeric check covers. Element-wise ones are read from engine/functions.py's table.
ELEMENTWISE_SUPPORTED = ("identity", "relu", "leaky_relu", "sigmoid", "tanh")
SUPPORTED = ("linear",) + ELEMENTWISE_SUPPORTED + ("softmax",)
LOSSES_SUPPORTED = ("squared_error", "half_squared_error", "mse", "half_mse", "bce", "cross_entropy")

TOP_KEYS = {"hwsolve", "kind", "title", "notation", "layout", "input", "layers", "loss", "aliases",
            "sizes", "notes", "source"}
LINEAR_KEYS = {"in", "out", "name", "W_name", "b_name", "bias"}
ACT_KEYS = {"type", "name", "scale", "slope"}
DIM_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,15}$")
MAX_LAYERS = 50
MAX_SIZE = 64


@dataclass
class DLayer:
    kind: str                        # "linear" | "activation" | "softmax"
    line: int | None
    fn_key: str | None = None        # element-wise function key
    scale: Fraction | float | None = None
    slope: Fraction | float | None = None
    out: str | int | None = None     # linear: output dimension
    inp: str | int | None = None     # linear: input dimension (set while chaining)
    bias: bool = True
    name: str | None = None
    W_name: str | None = None
    b_name: str | None = None


@dataclass
class DeriveProblem:
    file: str
    title: str
    input_dim: str | int
    layers: list[DLayer]
    loss_key: str
    notation: Notation
    layout: str = "numerator"
    aliases: dict[str, str] = field(default_factory=dict)   # alias -> node name
    sizes: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    doc: Doc | None = None
    kind: str = "derive"

    @property
    def output_dim(self):
        width = self.input_dim
        for layer in self.layers:
            if layer.kind == "linear":
                width = layer.out
        return width


def _dim(f: Field) -> str | int:
    v = f.value
    if isinstance(v, bool) or v is None:
        raise f.error("expected a dimension: a name like n or K, or a whole number")
    if isinstance(v, (int, Fraction)) or (isinstance(v, str) and v.strip().isdigit()):
        n = f.integer(minimum=1)
        if n > 4096:
            raise f.error(f"dimension {n} is larger than the limit 4096")
        return n
    if isinstance(v, str) and DIM_RE.match(v.strip()):
        return v.strip()
    raise f.error(f"'{v}' is not a dimension: a name (a letter, then letters or digits) or a "
                  "whole number")


def _unsupported(f: Field, name: str) -> SpecError:
    return f.error(f"layer type '{name}' is not supported by derive; supported layer types: "
                   + ", ".join(SUPPORTED) + " (an activation may carry a scale: '5 * relu')")


_LAYER_TEXT = re.compile(r"^\s*(?:([-+0-9./]+)\s*\*\s*)?([A-Za-z_][A-Za-z0-9_]*)\s*$")


def _layer(f: Field) -> DLayer:
    v, line = f.value, f.line
    if isinstance(v, str):
        m = _LAYER_TEXT.match(v)
        if not m:
            raise f.error(f"cannot read layer '{v}': expected e.g. relu, '5 * relu', softmax, "
                          "or linear: {out: K}")
        scale, name = m.groups()
        layer = _typed(f, name, line, {})
        if scale:
            if layer.kind != "activation":
                raise f.error(f"only an element-wise activation takes a scale, not {name}")
            layer.scale = _num(f, scale)
        return layer
    if not isinstance(v, dict) or not v:
        raise f.error("expected a layer: a type name like relu, or a mapping such as linear: {out: K}")
    if "type" in v:
        f.mapping(ACT_KEYS | LINEAR_KEYS)
        return _typed(f, f["type"].text(), line, {k: x for k, x in v.items() if k != "type"}, f)
    if len(v) != 1:
        raise f.error("expected one layer per list item, e.g. '- linear: {out: K}' or '- relu'")
    (kind, body), = v.items()
    inner = f[kind]
    if kind == "linear" and not isinstance(body, dict):
        body = {"out": body}  # linear: K
        return _typed(f, kind, line, body, None, short=inner)
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise inner.error("expected a mapping of the layer's settings")
    return _typed(inner, kind, line, body, inner)


def _typed(f: Field, name: str, line, body: dict, settings: Field | None = None,
           short: Field | None = None) -> DLayer:
    from hwsolve.autodiff.functions import ALIASES, ELEMENTWISE

    key = name.strip().lower()
    if key == "linear":
        return _linear(f, line, body, settings, short)
    if key == "softmax":
        layer = DLayer("softmax", line)
    else:
        key = ALIASES.get(key, key)
        if key not in ELEMENTWISE_SUPPORTED or key not in ELEMENTWISE:
            raise _unsupported(f, name)
        layer = DLayer("activation", line, fn_key=key)
    if settings is not None:
        _activation_settings(layer, name, body, settings)
    return layer


def _linear(f: Field, line, body: dict, settings: Field | None, short: Field | None) -> DLayer:
    """A linear layer: its output dimension (`linear: K` is short for `linear: {out: K}`), and
    optionally its input dimension, bias and names."""
    if settings is not None:
        settings.mapping(LINEAR_KEYS | ({"type"} if "type" in (settings.value or {}) else set()))
    if "out" not in body:
        raise (settings or f).error("a linear layer needs its output dimension: linear: {out: K}")
    layer = DLayer("linear", line)
    if short is not None:
        layer.out = _dim(short)
        return layer
    assert settings is not None  # a body with 'out' comes from a settings mapping
    layer.out = _dim(settings["out"])
    if "in" in body:
        layer.inp = _dim(settings["in"])
    if "bias" in body:
        layer.bias = settings["bias"].boolean()
    for k in ("name", "W_name", "b_name"):
        if k in body:
            setattr(layer, k, _name(settings[k]))
    return layer


def _activation_settings(layer: DLayer, name: str, body: dict, settings: Field) -> None:
    """The settings a softmax or an activation may carry: scale, slope (LeakyReLU), name."""
    settings.mapping(ACT_KEYS)
    for k in ("in", "out", "W_name", "b_name", "bias"):
        if k in body:
            raise settings[k].error(f"'{k}' belongs to a linear layer, not {name}")
    if "scale" in body:
        if layer.kind != "activation":
            raise settings["scale"].error("only an element-wise activation takes a scale")
        layer.scale = settings["scale"].number()
    if "slope" in body:
        if layer.fn_key != "leaky_relu":
            raise settings["slope"].error(f"'{name}' has no parameter 'slope'")
        layer.slope = settings["slope"].number()
    if "name" in body:
        layer.name = _name(settings["name"])


def parse_derive(doc: Doc) -> DeriveProblem:
    root = doc.root
    root.mapping(TOP_KEYS)
    if root.has("kind") and root["kind"].value != "derive":
        raise root["kind"].error("expected kind: derive")
    for key in ("input", "layers", "loss"):
        if not root.has(key):
            raise root.error(f"missing required key '{key}'"
                             + (" (the input's dimension, e.g. input: n)" if key == "input" else ""))
    notation = _notation(root)
    input_dim = _dim(root["input"])
    items = root["layers"].items()
    if not items:
        raise root["layers"].error("expected at least one layer")
    if len(items) > MAX_LAYERS:
        raise root["layers"].error(f"{len(items)} layers; the limit is {MAX_LAYERS}")
    layers = _chained(items, input_dim)
    loss_key = _loss(root["loss"], layers[-1])
    layout = root["layout"].text({"gradient", "numerator"}) if root.has("layout") else "numerator"
    aliases: dict[str, str] = {}
    if root.has("aliases"):
        af = root["aliases"]
        for k in af.mapping():
            aliases[_name_key(af, k)] = _name(af[k])
    sizes = _check_sizes(root["sizes"]) if root.has("sizes") else {}
    title = root["title"].text() if root.has("title") else doc.file
    notes = [n.text() for n in root["notes"].items()] if root.has("notes") else []
    return DeriveProblem(doc.file, title, input_dim, layers, loss_key, notation, layout, aliases,
                         sizes, notes, doc)


def _chained(items: list[Field], input_dim: str | int) -> list[DLayer]:
    """The layers, each linear layer's input dimension taken from the layer before it."""
    layers: list[DLayer] = []
    width: str | int | None = input_dim
    for item in items:
        layer = _layer(item)
        if layer.kind == "linear":
            if layer.inp is not None and layer.inp != width:
                raise item.error(f"dimensions do not chain: this linear layer takes {layer.inp} "
                                 f"inputs but the previous layer gives {width} (W would be "
                                 f"{layer.out} x {layer.inp}, and W times a {width}-vector is "
                                 "undefined)")
            layer.inp = width
            width = layer.out
        layers.append(layer)
    return layers


def _loss(lf: Field, last: DLayer) -> str:
    """The loss's table key, when derive supports it and the last layer's outputs suit it."""
    from hwsolve.autodiff.functions import LOSSES, lookup_loss

    lname = lf.text()
    loss = lookup_loss(lname)
    if loss is None:
        raise lf.error(f"unknown loss '{lname}'; expected one of: {', '.join(LOSSES)}")
    if loss.key not in LOSSES_SUPPORTED:
        raise lf.error(f"loss '{lname}' is not supported by derive; supported: "
                       + ", ".join(LOSSES_SUPPORTED))
    if loss.key == "cross_entropy" and last.kind != "softmax":
        raise lf.error("cross_entropy needs a softmax as the last layer (add '- softmax')")
    if loss.key == "bce" and not (last.kind == "softmax" or
                                  (last.fn_key == "sigmoid" and last.scale in (None, 1))):
        raise lf.error("bce needs outputs in (0, 1): end the network with a sigmoid (or softmax)")
    return loss.key


def _check_sizes(sf: Field) -> dict[str, int]:
    """`sizes:` the concrete sizes the numeric check uses for symbolic dimensions."""
    sizes: dict[str, int] = {}
    for k in sf.mapping():
        n = sf[k].integer(minimum=2)
        if n > MAX_SIZE:
            raise sf[k].error(f"a check size above {MAX_SIZE} is slow and proves nothing more")
        sizes[str(k)] = n
    return sizes


def _name_key(f: Field, k) -> str:
    from hwsolve.core.notation import NAME_RE

    if not isinstance(k, str) or not NAME_RE.match(k):
        raise f[k].error(f"'{k}' is not a usable name for a gradient")
    return k


__all__ = ["parse_derive", "DeriveProblem", "DLayer", "SUPPORTED"]
