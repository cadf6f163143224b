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
from hwsolve.autodiff.functions import ELEMENTWISE
from hwsolve.topics.backprop.network_spec import Notation, _name, _notation, _num
from hwsolve.topics.rules_spec import activation_keys, bind_params, read_loss

# The layer types a derivation supports: each has a Jacobian the derivation spells out and the
# numeric check covers. Element-wise ones are read from engine/functions.py's table.


def elementwise_supported() -> list[str]:
    """The table's functions defined on every real number (derive checks its formulas at random
    inputs, so log and sqrt, with their domains, are left to graph specs)."""
    from hwsolve.autodiff.functions import ELEMENTWISE

    return [key for key, fn in ELEMENTWISE.items() if fn.domain is None]


def supported() -> list[str]:
    return ["linear", *elementwise_supported(), "softmax"]


# sections a spec may pick with `show:` (derive's SECTIONS; the answer sections need answer_in)
SHOWABLE = ("shapes", "forward", "jacobians", "chain", "algebra", "backward", "answers_forward",
            "answers_backward", "summary")
TOP_KEYS = {"hwsolve", "kind", "title", "notation", "layout", "input", "layers", "loss", "aliases",
            "sizes", "notes", "source", "answer_in", "show", "algebra"}
LINEAR_KEYS = {"in", "out", "name", "W_name", "b_name", "bias"}
ACT_KEYS = {"type", "name", "scale"}  # + each activation's parameters
DIM_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,15}$")
MAX_LAYERS = 50
MAX_SIZE = 64
# A dimension written as a number is checked at that size: its Jacobians are n x n (3000 took 16 s
# and 690 MB); 256 takes well under a second.
MAX_LITERAL_DIM = 256


@dataclass
class DLayer:
    kind: str                        # "linear" | "activation" | "softmax"
    line: int | None
    fn_key: str | None = None        # element-wise function key
    scale: Fraction | float | None = None
    params: dict = field(default_factory=dict)   # an activation's parameters, as given
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
    answer_in: list[str] = field(default_factory=list)   # the only symbols an answer may use
    show: list[str] = field(default_factory=list)        # sections to print (all when empty)
    algebra: str = "both"                                 # softmax + CE: jacobian | log_sum_exp | both
    notes: list[str] = field(default_factory=list)
    doc: Doc | None = None
    kind: str = "derive"
    loss_params: dict = field(default_factory=dict)   # a loss's parameters (Huber's delta)

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
        if n > MAX_LITERAL_DIM:
            raise f.error(f"dimension {n} is larger than the limit {MAX_LITERAL_DIM} (the numeric check works at "
                          "this size: use a name such as n for a large dimension)")
        return n
    if isinstance(v, str) and DIM_RE.match(v.strip()):
        return v.strip()
    raise f.error(f"'{v}' is not a dimension: a name (a letter, then letters or digits) or a "
                  "whole number")


def _unsupported(f: Field, name: str) -> SpecError:
    return f.error(f"layer type '{name}' is not supported by derive; supported layer types: "
                   + ", ".join(supported()) + " (an activation may carry a scale: '5 * relu')")


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
        f.mapping(ACT_KEYS | LINEAR_KEYS | activation_keys())
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
    from hwsolve.autodiff.functions import lookup

    key = name.strip().lower()
    if key == "linear":
        return _linear(f, line, body, settings, short)
    if key == "softmax":
        layer = DLayer("softmax", line)
    else:
        entry = lookup(key)
        key = entry.key if entry else key
        if key not in elementwise_supported():
            raise _unsupported(f, name)
        layer = DLayer("activation", line, fn_key=key)
    if settings is not None:
        _activation_settings(layer, name, body, settings)
    return layer


def _linear(f: Field, line, body: dict, settings: Field | None, short: Field | None) -> DLayer:
    """linear: K (short form, read from `short`) or linear: {out, in, bias, name, W_name, b_name}."""
    if settings is not None:
        settings.mapping(LINEAR_KEYS | ({"type"} if "type" in (settings.value or {}) else set()))
    if "out" not in body:
        raise (settings or f).error("a linear layer needs its output dimension: linear: {out: K}")
    layer = DLayer("linear", line)
    if settings is None:
        layer.out = _dim(short if short is not None else f)
        return layer
    layer.out = _dim(short if short is not None else settings["out"])
    if "in" in body:
        layer.inp = _dim(settings["in"])
    if "bias" in body:
        layer.bias = settings["bias"].boolean()
    for k in ("name", "W_name", "b_name"):
        if k in body:
            setattr(layer, k, _name(settings[k]))
    return layer


def _activation_settings(layer: DLayer, name: str, body: dict, settings: Field) -> None:
    """The settings of a softmax or an activation given as a mapping: scale, name, parameters."""
    settings.mapping(ACT_KEYS | activation_keys())
    for k in ("in", "out", "W_name", "b_name", "bias"):
        if k in body:
            raise settings[k].error(f"'{k}' belongs to a linear layer, not {name}")
    if "scale" in body:
        if layer.kind != "activation":
            raise settings["scale"].error("only an element-wise activation takes a scale")
        layer.scale = settings["scale"].number()
    given = {k: settings[k].number() for k in activation_keys() if k in body}
    for k in given:
        if layer.fn_key is None or k not in ELEMENTWISE[layer.fn_key].params:
            raise settings[k].error(f"'{name}' has no parameter '{k}'")
    if layer.fn_key is not None:
        bind_params(settings, ELEMENTWISE[layer.fn_key], given)
        layer.params = given
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
    layers = _chain(root["layers"], input_dim)
    lf = root["loss"]
    loss = read_loss(lf)
    _check_loss_fits(lf, loss.key, layers[-1])
    layout = root["layout"].text({"gradient", "numerator"}) if root.has("layout") else "numerator"
    aliases = _aliases(root["aliases"]) if root.has("aliases") else {}
    sizes = _sizes(root["sizes"]) if root.has("sizes") else {}
    title = root["title"].text() if root.has("title") else doc.file
    notes = [n.text() for n in root["notes"].items()] if root.has("notes") else []
    answer_in = [_answer_symbol(f) for f in root["answer_in"].items()] if root.has("answer_in") else []
    show = [f.text(set(SHOWABLE)) for f in root["show"].items()] if root.has("show") else []
    prob = DeriveProblem(doc.file, title, input_dim, layers, loss.key, notation, layout, aliases,
                         sizes, answer_in, show, notes=notes, doc=doc, loss_params=dict(loss.bound))
    if root.has("algebra"):
        prob.algebra = root["algebra"].text({"jacobian", "log_sum_exp", "both"})
    return prob




def _chain(f: Field, input_dim: str | int) -> list[DLayer]:
    """The layers, each linear layer's input dimension set to the width before it."""
    items = f.items()
    if not items:
        raise f.error("expected at least one layer")
    if len(items) > MAX_LAYERS:
        raise f.error(f"{len(items)} layers; the limit is {MAX_LAYERS}")
    layers, width = [], input_dim
    for item in items:
        layer = _layer(item)
        if layer.kind == "linear" and layer.out is not None:  # out: always read by _linear
            if layer.inp is not None and layer.inp != width:
                raise item.error(f"dimensions do not chain: this linear layer takes {layer.inp} "
                                 f"inputs but the previous layer gives {width} (W would be "
                                 f"{layer.out} x {layer.inp}, and W times a {width}-vector is "
                                 "undefined)")
            layer.inp = width
            width = layer.out
        layers.append(layer)
    return layers


def _check_loss_fits(f: Field, loss_key: str, last: DLayer) -> None:
    """Cross-entropy and BCE need probabilities out of the last layer."""
    if loss_key == "cross_entropy" and last.kind != "softmax":
        raise f.error("cross_entropy needs a softmax as the last layer (add '- softmax')")
    if loss_key == "bce" and not (last.kind == "softmax" or
                                  (last.fn_key == "sigmoid" and last.scale in (None, 1))):
        raise f.error("bce needs outputs in (0, 1): end the network with a sigmoid (or softmax)")


def _aliases(f: Field) -> dict[str, str]:
    aliases: dict[str, str] = {}
    for k in f.mapping():
        aliases[_name_key(f, k)] = _name(f[k])
    return aliases


def _sizes(f: Field) -> dict[str, int]:
    """The sizes the symbolic check substitutes for each dimension name."""
    sizes: dict[str, int] = {}
    for k in f.mapping():
        n = f[k].integer(minimum=2)
        if n > MAX_SIZE:
            raise f[k].error(f"a check size above {MAX_SIZE} is slow and proves nothing more")
        sizes[str(k)] = n
    return sizes


def _answer_symbol(f: Field) -> str:
    """One entry of answer_in: a symbol as derive prints it (x, W^(1), dl/dyhat)."""
    v = f.value
    if not isinstance(v, str) or not v.strip() or len(v) > 40:
        raise f.error("expected a symbol as derive prints it, e.g. x, W^(1) or dl/dyhat")
    return v.strip()


def _name_key(f: Field, k) -> str:
    from hwsolve.core.notation import NAME_RE

    if not isinstance(k, str) or not NAME_RE.match(k):
        raise f[k].error(f"'{k}' is not a usable name for a gradient")
    return k


__all__ = ["parse_derive", "DeriveProblem", "DLayer", "supported"]
