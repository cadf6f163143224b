"""The layered-network spec (kind: network): input, target, layers in order, loss, notation.

See docs/spec-format.md. Parsing checks everything a solver would trip on later (shapes that do
not chain, non-numbers, a missing target) and reports it at the field's line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction

from hwsolve.autodiff.functions import LOSSES, Elementwise, Loss, function_names, lookup
from hwsolve.topics.backprop.network_layers import read_shaped, shaped_layer
from hwsolve.topics.rules_spec import activation_keys, bind_params, read_loss
from hwsolve.core.errors import SpecError
from hwsolve.core.notation import INDEX_STYLES, NAME_RE
from hwsolve.spec.loader import Doc, Field
from hwsolve.spec.numbers import parse_number

MAX_WIDTH = 4096
MAX_LAYERS = 200
MAX_PARAMETERS = 2_000_000

TOP_KEYS = {"hwsolve", "kind", "title", "notation", "layout", "conventions", "input", "target",
            "layers", "loss", "rubric", "notes", "batch", "reduction",
            "per_example", "weight_decay"}
NOTATION_KEYS = {"style", "pre", "post", "index", "input", "output", "target", "loss", "weight",
                 "bias", "z0"}
LAYER_KEYS = {"type", "W", "b", "name", "W_name", "b_name", "scale"}  # + each activation's parameters
# the keys of the layer types of the later sheets (docs/layers.md): which types take each
SHAPED_KEYS = {"kernel": {"conv"}, "bias": {"conv"}, "stride": {"conv", "maxpool", "avgpool"},
               "padding": {"conv", "maxpool", "avgpool"}, "dilation": {"conv"}, "window": {"maxpool", "avgpool"},
               "gamma": {"batchnorm"}, "beta": {"batchnorm"}, "epsilon": {"batchnorm"},
               "mask": {"dropout", "attention"}, "p": {"dropout"}, "K_name": {"conv"},
               "W_hh": {"rnn"}, "W_xh": {"rnn"}, "h0": {"rnn"}, "output": {"rnn"},
               "W_q": {"attention"}, "W_k": {"attention"}, "W_v": {"attention"}}
SHAPED_TYPES = {"conv", "maxpool", "avgpool", "flatten", "batchnorm", "dropout", "rnn", "attention"}
MAX_ENTRIES = 100_000  # numbers in one image or kernel


@dataclass
class Notation:
    """The names a course gives a network's values (a[l], z[l], W[l], yhat, ...)."""

    style: str = "layered"     # layered: pre[l] / post[l] per layer; sequential: post_k per layer
    pre: str = "a"
    post: str = "z"
    index: str = "bracket"
    input: str = "x"
    output: str | None = "yhat"
    target: str = "y"
    loss: str = "L"
    weight: str = "W"
    bias: str = "b"
    z0: bool = True            # print z[0] = x (as seed 000 does)


@dataclass
class Layer:
    """One entry of `layers:`: a linear layer's W and b, an activation or softmax, or a shaped layer."""

    kind: str                                  # "linear" | "activation" | "softmax"
    line: int | None
    W: list[list[Fraction]] | None = None
    b: list[Fraction] | None = None
    fn: Elementwise | None = None
    params: dict = field(default_factory=dict)
    scale: Fraction | None = None
    name: str | None = None
    W_name: str | None = None
    b_name: str | None = None
    extra: dict = field(default_factory=dict)  # conv, pool, batchnorm, dropout: their settings and arrays


@dataclass
class NetworkProblem:
    """A layered network spec, read: input, target, layers, loss and notation."""

    file: str
    title: str
    x: list[Fraction]
    y: list[Fraction]
    y_given_as: str                            # "scalar" | "vector" | "class"
    layers: list[Layer]
    loss: Loss
    notation: Notation
    layout: str = "gradient"
    relu_at_zero: Fraction | None = None
    doc: Doc | None = None
    kind: str = "network"
    batch: str | None = None                   # "rows" | "columns": how the spec writes the examples
    X: list[list[Fraction]] | None = None      # a batch, one example per COLUMN (d x n) whatever batch says
    Y: list[list[Fraction]] | None = None      # its targets, one per column (k x n)
    reduction: str = "mean"                    # the batch loss: mean or sum over the examples
    per_example: bool = False                  # also each example's output, loss and gradients alone
    image: list | None = None                  # an image input (H x W rows, or C x H x W) for conv layers
    weight_decay: Fraction | float | None = None   # L2 in the loss: L = loss + lambda/2 sum ||P||^2
    decay_biases: bool = True                  # ... over the biases too (PyTorch's weight_decay), or W only


def parse_network(doc: Doc) -> NetworkProblem:
    root = doc.root
    root.mapping(TOP_KEYS)
    notation = _notation(root)
    if root.has("batch"):
        return _parse_batch(doc, root, notation)
    x, image = _input(root["input"]) if root.has("input") else (None, None)
    for key in ("reduction", "per_example"):
        if root.has(key):
            raise root[key].error(f"{key} needs a batch (batch: rows or columns)")
    if x is None:
        raise root.error("missing required key 'input' (the input vector x)")
    if not root.has("target"):
        raise root.error("missing required key 'target' (y: a number, a vector, or {class: i})")
    if not root.has("layers"):
        raise root.error("missing required key 'layers'")
    if not root.has("loss"):
        raise root.error("missing required key 'loss' (one of: " + ", ".join(LOSSES) + ")")
    layers, out_shape = _layers(root["layers"], _shape_of(image) if image is not None else (len(x), 1))
    if len(out_shape) != 2 or out_shape[1] != 1:
        raise root["layers"].error(f"the network's output is {'x'.join(map(str, out_shape))}: the loss compares "
                                   "vectors; end with flatten and a linear layer")
    y, given_as = _target(root["target"], out_shape[0])
    loss = read_loss(root["loss"])
    if loss.needs_probabilities and loss.key == "cross_entropy" and layers[-1].kind != "softmax":
        raise root["loss"].error("cross_entropy needs a softmax as the last layer (add '- softmax')")
    layout = root["layout"].text({"gradient", "numerator"}) if root.has("layout") else "gradient"
    relu0 = None
    if root.has("conventions"):
        conv = root["conventions"]
        conv.mapping({"relu_prime_at_zero"})
        if conv.has("relu_prime_at_zero"):
            relu0 = conv["relu_prime_at_zero"].number()
    title = root["title"].text() if root.has("title") else doc.file
    p = NetworkProblem(doc.file, title, x, y, given_as, layers, loss, notation, layout, relu0, doc, image=image)
    _weight_decay(root, p)
    return p


def _weight_decay(root: Field, p: NetworkProblem) -> None:
    """`weight_decay: 0.01` (every W and b, as PyTorch's weight_decay) or `{lambda: 0.01, biases: false}`."""
    if not root.has("weight_decay"):
        return
    f = root["weight_decay"]
    if isinstance(f.value, dict):
        f.mapping({"lambda", "biases"})
        if not f.has("lambda"):
            raise f.error("missing required key 'lambda' (the L2 coefficient, >= 0)")
        lam_f = f["lambda"]
        p.decay_biases = f["biases"].boolean() if f.has("biases") else True
    else:
        lam_f = f
    lam = lam_f.number()
    if lam < 0:
        raise lam_f.error(f"weight_decay must be >= 0, got {lam}")
    if p.per_example:
        raise f.error("per_example runs each example alone; with weight_decay its L2 term would count once "
                      "per example")
    p.weight_decay = lam


def _parse_batch(doc: Doc, root: Field, notation: Notation) -> NetworkProblem:
    """A batch of n examples (issue 11): input and target as matrices, rows or columns per `batch`."""
    batch = root["batch"].text({"rows", "columns"})
    for key in ("input", "target", "layers", "loss"):
        if not root.has(key):
            raise root.error(f"missing required key '{key}'")
    X = _examples(root["input"], batch)
    layers, out_shape = _layers(root["layers"], (len(X), len(X[0])), batch=batch)
    width = out_shape[0]
    n = len(X[0])
    loss = read_loss(root["loss"])
    if loss.key == "cross_entropy" and layers[-1].kind != "softmax":
        raise root["loss"].error("cross_entropy needs a softmax as the last layer (add '- softmax')")
    if isinstance(root["target"].value, dict):
        Y = _class_targets(root["target"], width, n)
    else:
        Y = _examples(root["target"], batch, flat_ok=width == 1)
    if len(Y) != width or len(Y[0]) != n:
        raise root["target"].error(f"target is {len(Y)}x{len(Y[0])} as columns but the network gives "
                                   f"{width} output{'s' if width != 1 else ''} for each of {n} examples")
    reduction = root["reduction"].text({"mean", "sum"}) if root.has("reduction") else "mean"
    layout = root["layout"].text({"gradient"}) if root.has("layout") else "gradient"
    title = root["title"].text() if root.has("title") else doc.file
    p = NetworkProblem(doc.file, title, [row[0] for row in X], [row[0] for row in Y], "batch", layers,
                       loss, notation, layout, None, doc, batch=batch, X=X, Y=Y,
                       reduction=reduction,
                       per_example=root["per_example"].boolean() if root.has("per_example") else False)
    if p.per_example and any(layer.kind in ("batchnorm", "dropout") for layer in layers):
        raise root["per_example"].error("per_example runs each example alone, which batch norm (statistics "
                                        "of the batch) and dropout (a mask per example) cannot")
    if root.has("conventions"):
        conv = root["conventions"]
        conv.mapping({"relu_prime_at_zero"})
        if conv.has("relu_prime_at_zero"):
            p.relu_at_zero = conv["relu_prime_at_zero"].number()
    _weight_decay(root, p)
    return p


def _class_targets(f: Field, width: int, n: int) -> list[list[Fraction]]:
    """`target: {class: [2, 0, 1]}`: one class index per example (0-based, PyTorch's integer targets),
    as the one-hot columns of Y (width x n)."""
    f.mapping({"class"})
    cf = f["class"]
    if not isinstance(cf.value, list):
        raise cf.error(f"expected one class index per example (a list of {n}), e.g. [2, 0, 1]")
    ks = [item.integer(minimum=0) for item in cf.items()]
    if len(ks) != n:
        raise cf.error(f"{len(ks)} class indices for {n} examples")
    for item, k in zip(cf.items(), ks, strict=True):
        if k >= width:
            raise item.error(f"class {k} does not exist: the output has {width} entries (classes 0 to {width - 1})")
    return [[Fraction(int(k == c)) for k in ks] for c in range(width)]


def _examples(f: Field, batch: str, flat_ok: bool = False) -> list[list[Fraction]]:
    """Examples as columns (d x n). With batch: rows, each row of the spec is an example; a flat
    list is one number per example when `flat_ok` (a single output)."""
    v = f.value
    if isinstance(v, list) and v and not isinstance(v[0], list):
        if not flat_ok and batch == "rows":
            raise f.error("expected one row per example, e.g. [[2, 1], [0, 3]] (batch: rows)")
        return [_vector(f)]
    rows = _matrix(f)
    return rows if batch == "columns" else [list(c) for c in zip(*rows, strict=True)]


def _notation(root: Field) -> Notation:
    n = Notation()
    if not root.has("notation"):
        return n
    f = root["notation"]
    f.mapping(NOTATION_KEYS)
    for key in NOTATION_KEYS:
        if not f.has(key):
            continue
        if key == "style":
            n.style = f[key].text({"layered", "sequential"})
        elif key == "index":
            n.index = f[key].text(set(INDEX_STYLES))
        elif key == "z0":
            n.z0 = f[key].boolean()
        elif key == "output" and f[key].value is None:
            n.output = None
        else:
            setattr(n, key, _name(f[key]))
    return n


def _name(f: Field) -> str:
    v = f.text()
    if not NAME_RE.match(v) or len(v) > 40:
        raise f.error(f"'{v}' is not a usable name: a letter, then letters, digits or _ "
                      "(optionally an index like [1] or ^(1))")
    return v


def _given_numbers(v: list) -> list[Fraction] | None:
    """The list as Fractions when the loader gave only numbers (a one-line number list gives
    Fractions and ints): without a Field per entry. None when an entry needs reading."""
    kinds = set(map(type, v))
    if kinds == {Fraction}:
        return list(v)
    if kinds <= {Fraction, int}:
        return [c if type(c) is Fraction else Fraction(c) for c in v]
    return None


def _vector(f: Field) -> list[Fraction]:
    v = f.value
    if isinstance(v, list):
        if not v:
            raise f.error("expected a non-empty list of numbers")
        if len(v) > MAX_WIDTH:
            raise f.error(f"{len(v)} entries; the limit is {MAX_WIDTH}")
        given = _given_numbers(v)
        if given is not None:
            return given
        out = []
        for item in f.items():
            if isinstance(item.value, list):
                if len(item.value) != 1:
                    raise item.error("expected a number (a vector is a flat list, or a column [[a], [b]])")
                item = item[0]
            out.append(item.number())
        return out
    return [f.number()]


def _matrix(f: Field) -> list[list[Fraction]]:
    v = f.value
    if not isinstance(v, list) or not v:
        raise f.error("expected a matrix: a list of rows, e.g. [[1, 0], [3, 4]]")
    if not isinstance(v[0], list):
        return [_vector(f)]  # one row written flat: W: [-2, 3]
    rows = []
    for r in f.items():
        row = r.value
        if not isinstance(row, list):
            raise r.error("expected a row (a list of numbers); every row of a matrix must be a list")
        given = _given_numbers(row)
        rows.append(given if given is not None else [c.number() for c in r.items()])
    n = len(rows[0])
    for i, r in enumerate(rows):
        if len(r) != n:
            raise f[i].error(f"row {i + 1} has {len(r)} entries but row 1 has {n}")
    if len(rows) > MAX_WIDTH or n > MAX_WIDTH:
        raise f.error(f"matrix is {len(rows)}x{n}; the limit is {MAX_WIDTH} per side")
    return rows


_LAYER_TEXT = re.compile(r"^\s*(?:([-+0-9./eE]+)\s*\*\s*)?([A-Za-z_]+)\s*(?::\s*([-+0-9./eE]+))?\s*$")


def _layers(f: Field, shape: tuple[int, ...], batch: str | None = None) -> tuple[list[Layer], tuple[int, ...]]:
    """The layers, checked against the shape flowing through them: (n, 1) a vector, (d, n) a batch
    of n examples as columns, (H, W) or (C, H, W) an image; returns them and the output's shape."""
    items = f.items()
    if not items:
        raise f.error("expected at least one layer")
    if len(items) > MAX_LAYERS:
        raise f.error(f"{len(items)} layers; the limit is {MAX_LAYERS}")
    layers, params = [], 0
    for item in items:
        layer = _layer(item)
        if layer.kind == "linear":
            shape = _linear_shape(item, layer, shape, batch)
            params += len(layer.W) * len(layer.W[0]) + len(layer.W)
            if params > MAX_PARAMETERS:
                raise item.error(f"more than {MAX_PARAMETERS} parameters")
        elif layer.kind in SHAPED_TYPES:
            shape = shaped_layer(item, layer, shape, batch)
        layers.append(layer)
    return layers, shape


def _linear_shape(item: Field, layer: Layer, shape: tuple[int, ...], batch: str | None) -> tuple[int, ...]:
    rows, cols = len(layer.W), len(layer.W[0])
    if len(shape) != 2 or (shape[1] != 1 and not batch):
        raise item.error(f"a linear layer needs a vector, and this layer's input is {'x'.join(map(str, shape))}: "
                         "add '- flatten' before it")
    width = shape[0]
    if cols != width:
        raise item.error(f"W has {cols} column{'s' if cols != 1 else ''} but this layer's input "
                         f"has {width} value{'s' if width != 1 else ''} (W must be "
                         f"outputs x {width})")
    if layer.b is not None and len(layer.b) != rows:
        raise item.error(f"b has {len(layer.b)} entries but W has {rows} rows")
    return (rows, shape[1])


def _input(f: Field) -> tuple[list[Fraction], list | None]:
    """The input: a vector x (a flat list, or a column [[a], [b]]), or an image for conv layers:
    a matrix H x W (one list per row, rows longer than 1) or a list of such matrices (C x H x W).
    An image's x is its entries row by row."""
    v = f.value
    if _has_empty_list(v):
        raise f.error("the input holds an empty list: expected a vector, an image, or a sequence of at least one "
                      "step (one a row; a sequence of length 0 has nothing to unroll)")
    is_image = isinstance(v, list) and v and isinstance(v[0], list) and (len(v[0]) != 1 or isinstance(v[0][0], list))
    if not is_image:
        return _vector(f), None
    if isinstance(v[0][0], list):
        image: list = [_matrix(c) for c in f.items()]
        for i, channel in enumerate(image):
            if (len(channel), len(channel[0])) != (len(image[0]), len(image[0][0])):
                raise f[i].error(f"channel {i + 1} is {len(channel)}x{len(channel[0])} but channel 1 is "
                                 f"{len(image[0])}x{len(image[0][0])}")
    else:
        image = _matrix(f)
    shape = _shape_of(image)
    if _count(shape) > MAX_ENTRIES:
        raise f.error(f"the image has {_count(shape)} entries; the limit is {MAX_ENTRIES}")
    flat = [x for row in (image if len(shape) == 2 else [r for c in image for r in c]) for x in row]
    return flat, image


def _has_empty_list(v, depth: int = 0) -> bool:
    """[] anywhere in the first levels of a value (the loader bounds the nesting)."""
    if not isinstance(v, list):
        return False
    return not v or (depth < 4 and any(_has_empty_list(x, depth + 1) for x in v))


def _shape_of(nested: list) -> tuple[int, ...]:
    shape = []
    while isinstance(nested, list):
        shape.append(len(nested))
        nested = nested[0]
    return tuple(shape)


def _count(shape: tuple[int, ...]) -> int:
    out = 1
    for n in shape:
        out *= n
    return out


def _layer(f: Field) -> Layer:
    v = f.value
    line = f.line
    if isinstance(v, str):
        m = _LAYER_TEXT.match(v)
        if not m:
            raise f.error(f"cannot read layer '{v}': expected e.g. relu, '5 * relu', leaky_relu:0.1, "
                          "softmax, or a mapping with type: linear")
        scale, name, param = m.groups()
        layer = _activation(f, name, line)
        if scale:
            layer.scale = _num(f, scale)
        if param:
            if not layer.fn or not layer.fn.params:
                raise f.error(f"'{name}' takes no parameter")
            layer.params = bind_params(f, layer.fn, {next(iter(layer.fn.params)): _num(f, param)})
        return layer
    if not isinstance(v, dict):
        raise f.error("expected a layer: a name like relu, or a mapping with type: ...")
    if len(v) == 1 and "type" not in v:
        # {linear: {W: ..., b: ...}} or {leaky_relu: {slope: 0.1}}
        (kind, body), = v.items()
        inner = f[kind]
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise inner.error("expected a mapping of the layer's settings")
        return _mapping_layer(inner, kind, body, line)
    f.mapping(LAYER_KEYS | set(SHAPED_KEYS) | activation_keys())
    kind = f["type"].text() if "type" in v else None
    if kind is None:
        raise f.error("missing required key 'type' (linear, relu, sigmoid, ...)")
    return _mapping_layer(f, kind, {k: x for k, x in v.items() if k != "type"}, line)


def _mapping_layer(f: Field, kind: str, body: dict, line) -> Layer:
    f.mapping(LAYER_KEYS | set(SHAPED_KEYS) | activation_keys())
    for key in body:
        # beta is batch norm's shift and softplus's sharpness: an activation's own parameter wins
        if key in SHAPED_KEYS and kind not in SHAPED_KEYS[key] and key not in activation_keys():
            raise f[key].error(f"'{key}' belongs to a {' or '.join(sorted(SHAPED_KEYS[key]))} layer, not {kind}")
    if kind in SHAPED_TYPES:
        return _shaped_layer(f, kind, body, line)
    if kind == "linear":
        if "W" not in body:
            raise f.error("a linear layer needs W")
        W = _matrix(f["W"])
        b = _vector(f["b"]) if "b" in body else None
        layer = Layer("linear", line, W=W, b=b)
        layer.W_name = _name(f["W_name"]) if "W_name" in body else None
        layer.b_name = _name(f["b_name"]) if "b_name" in body else None
    else:
        layer = _activation(f, kind, line)
        given = {p: f[p].number() for p in activation_keys() if p in body}
        for p in given:
            if not layer.fn or p not in layer.fn.params:
                raise f[p].error(f"'{kind}' has no parameter '{p}'")
        if layer.fn is not None:
            layer.params = bind_params(f, layer.fn, given)
        if "scale" in body:
            layer.scale = f["scale"].number()
        for k in ("W", "b", "W_name", "b_name"):
            if k in body:
                raise f[k].error(f"'{k}' belongs to a linear layer, not {kind}")
    if "name" in body:
        layer.name = _name(f["name"])
    return layer


def _shaped_layer(f: Field, kind: str, body: dict, line) -> Layer:
    for key in body:
        if key in LAYER_KEYS - {"name"} and not (key == "b" and kind == "rnn"):
            raise f[key].error(f"'{key}' belongs to a linear layer, not {kind}" +
                               (" (its weights are W_hh and W_xh)" if kind == "rnn" else
                                " (its weights are W_q, W_k and W_v)" if kind == "attention" else ""))
    layer = Layer(kind, line, extra=read_shaped(f, kind, body))
    if "K_name" in body:
        layer.extra["K_name"] = _name(f["K_name"])
    if "name" in body:
        layer.name = _name(f["name"])
    return layer


def _activation(f: Field, name: str, line) -> Layer:
    if name.lower() == "softmax":
        return Layer("softmax", line)
    if name.lower() in ("flatten", "batchnorm"):  # no setting needed: batchnorm's gamma 1, beta 0
        return Layer(name.lower(), line)
    if name.lower() in SHAPED_TYPES:
        raise f.error(f"a {name} layer needs its settings: write it as a mapping, e.g. "
                      + {"conv": "{type: conv, kernel: [[1, 0], [0, 1]]}", "dropout": "{type: dropout, mask: "
                         "[1, 0, 1], p: 1/2}", "rnn": "{type: rnn, W_hh: [[1, 0], [0, 1]], W_xh: [[1], [2]]}",
                         "attention": "{type: attention, W_q: [[1, 0], [0, 1]], W_k: [[1, 0], [0, 1]], "
                         "W_v: [[1], [0]]}"}.get(name.lower(), f"{{type: {name.lower()}, window: 2}}"))
    if name.lower() == "linear":
        raise f.error("a linear layer needs W (and usually b): write it as a mapping")
    fn = lookup(name)
    if fn is None:
        known = ", ".join(function_names()) + ", softmax, linear, " + ", ".join(sorted(SHAPED_TYPES))
        raise f.error(f"unknown layer type '{name}'; expected one of: {known}")
    return Layer("activation", line, fn=fn, params=dict(fn.params))


def _num(f: Field, text: str) -> Fraction:
    try:
        return parse_number(text)
    except (ValueError, ZeroDivisionError) as e:
        raise f.error(f"cannot read number '{text}': {e}") from None


def _target(f: Field, width: int) -> tuple[list[Fraction], str]:
    v = f.value
    if isinstance(v, dict):
        f.mapping({"class"})
        k = f["class"].integer(minimum=0)
        if k >= width:
            raise f["class"].error(f"class {k} does not exist: the output has {width} entries "
                                   f"(classes 0 to {width - 1})")
        return [Fraction(int(i == k)) for i in range(width)], "class"
    y = _vector(f)
    if len(y) != width:
        raise f.error(f"target has {len(y)} entr{'y' if len(y) == 1 else 'ies'} but the network "
                      f"outputs {width}")
    return y, ("vector" if isinstance(v, list) else "scalar")


__all__ = ["parse_network", "NetworkProblem", "Layer", "Notation", "SpecError"]
