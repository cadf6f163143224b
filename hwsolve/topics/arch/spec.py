"""Read `kind: arch` (CNN layer tables) and `kind: vit` (ViT patches) specs, the compact layer
tokens (INPUT 32x32x1, CONV5-10, POOL2, FC-10, LSTM-64, ...) and the vit-patches flags.

See docs/conv-and-arch.md for the format. Every error names the file, the line and the field.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from hwsolve.core.errors import HwsolveError
from hwsolve.topics.arch.solve import LAYER_TYPES, SEQUENCE_TYPES, ArchProblem, Layer, VitProblem, check_vit
from hwsolve.topics.conv.sizes import parse_count, parse_pair

if TYPE_CHECKING:  # the loader pulls in PyYAML: vit-patches with flags reads no YAML
    from hwsolve.spec.loader import Doc, Field

TOP = {"hwsolve", "kind", "title", "source", "question"}
DEFAULT_KEYS = {"conv": {"padding", "stride", "dilation", "bias"},
                "pool": {"padding", "stride", "mode"},
                "fc": {"bias"}}
LAYER_KEYS = {
    "input": {"size"},
    "conv": {"kernel", "filters", "padding", "stride", "dilation", "bias", "groups"},
    "pool": {"size", "stride", "padding", "mode"},
    "fc": {"units", "bias"},
    "flatten": set(), "batchnorm": set(), "relu": set(), "dropout": {"rate"},
    "rnn": {"hidden", "layers", "bias"}, "lstm": {"hidden", "layers", "bias"}, "gru": {"hidden", "layers", "bias"},
    "mha": {"heads", "bias"}, "transformer": {"heads", "ff"},
}


def load_arch(path) -> ArchProblem:
    from hwsolve.spec.loader import load_yaml

    return parse_arch(load_yaml(path))


def load_vit(path) -> VitProblem:
    from hwsolve.spec.loader import load_yaml

    return parse_vit(load_yaml(path))


def _pair(f: Field, key: str, **kw):
    return parse_pair(f.value, key, lambda k, m: f.error(m), **kw)


def _defaults(f: Field) -> dict:
    out: dict = {}
    f.mapping(allowed=set(DEFAULT_KEYS))
    for kind, allowed in DEFAULT_KEYS.items():
        if not f.has(kind):
            continue
        g = f[kind]
        g.mapping(allowed=allowed)
        d = out.setdefault(kind, {})
        if g.has("padding"):
            d["padding"] = _pair(g["padding"], "padding", allow_same=kind == "conv", minimum=0)
        if g.has("stride"):
            d["stride"] = _pair(g["stride"], "stride")
        if g.has("dilation"):
            d["dilation"] = _pair(g["dilation"], "dilation")
        if g.has("bias"):
            d["bias"] = g["bias"].boolean()
        if g.has("mode"):
            d["mode"] = g["mode"].text(choices={"max", "avg"})
    return out


MAX_LAYERS = 1000      # layers in one arch spec: far above any real network's table
MAX_STACKED = 100      # stacked recurrent layers (num_layers): each gets its own rows
MAX_DIGITS = 300       # a size in a compact token, as YAML integers (Python refuses int() past 4300 digits)


def parse_arch(doc: Doc) -> ArchProblem:
    from hwsolve.spec.loader import check_header

    root = doc.root
    check_header(root, "arch", "arch")
    data = root.mapping(allowed=TOP | {"defaults", "layers"})
    defaults = _defaults(root["defaults"]) if "defaults" in data else {}
    if "layers" not in data:
        raise root.error("missing 'layers' (a list such as INPUT 32x32x1, CONV5-10, POOL2, FC-10)")
    items = root["layers"].items()
    if not items:
        raise root["layers"].error("expected at least the INPUT layer")
    if len(items) > MAX_LAYERS:
        raise root["layers"].error(f"{len(items)} layers; the limit is {MAX_LAYERS}")
    prob = ArchProblem(title=root["title"].text() if "title" in data else "",
                       source=root["source"].text() if "source" in data else "")
    for f in items:
        prob.layers.append(_layer(f, defaults))
    return prob


def _layer(f: Field, defaults: dict) -> Layer:
    v = f.value
    if isinstance(v, str):
        return parse_token(v, defaults, f.error)
    if not isinstance(v, dict):
        raise f.error(f"expected a layer token (like CONV5-10) or a mapping with 'type', got {v!r}")
    if "type" not in v:
        raise f.error("missing 'type' (" + ", ".join(LAYER_TYPES) + ")")
    t = f["type"].text(choices=set(LAYER_TYPES))
    f.mapping(allowed=LAYER_KEYS[t] | {"type", "name"})
    name = f["name"].text() if "name" in v else ""
    if t in _MAPPING_LAYERS:
        return _MAPPING_LAYERS[t](f, name, defaults.get(t, {}))
    if t in SEQUENCE_TYPES:
        return _sequence_layer(f, t, name)
    return _simple_layer(f, t, name)


# One reader per layer type given as a mapping: (the layer's field, its name or "", the spec's
# defaults for its type) -> Layer. The keys were checked against LAYER_KEYS already.


def _need(f: Field, key: str) -> Field:
    if not f.has(key):
        raise f.error(f"a {f['type'].value} layer needs '{key}'")
    return f[key]


def _kernel_label(k: tuple[int, int]) -> str:
    return f"{k[0]}" + (f"x{k[1]}" if k[1] != k[0] else "")


def _input_layer(f: Field, name: str, d: dict) -> Layer:
    sz = _need(f, "size")
    val = sz.value
    if isinstance(val, list):
        dims = tuple(x.integer(minimum=1) for x in sz.items())
    elif isinstance(val, int) and not isinstance(val, bool):
        dims = (sz.integer(minimum=1),)
    else:
        dims = tuple(_dims_text(sz))
    if len(dims) not in (1, 2, 3):
        raise sz.error(f"expected HxWxC, TxD (a sequence) or one number (a vector), got {len(dims)} sizes")
    return Layer("input", name or "INPUT " + "x".join(map(str, dims)), size=dims, where=f.error)


def _conv_layer(f: Field, name: str, d: dict) -> Layer:
    k = _pair(_need(f, "kernel"), "kernel")
    n = _need(f, "filters").integer(minimum=1)
    return Layer("conv", name or f"CONV{_kernel_label(k)}-{n}", kernel=k, filters=n,
                 padding=_pair(f["padding"], "padding", allow_same=True, minimum=0) if f.has("padding")
                 else d.get("padding", (0, 0)),
                 stride=_pair(f["stride"], "stride") if f.has("stride") else d.get("stride", (1, 1)),
                 dilation=_pair(f["dilation"], "dilation") if f.has("dilation") else d.get("dilation", (1, 1)),
                 bias=f["bias"].boolean() if f.has("bias") else d.get("bias", True),
                 groups=f["groups"].integer(minimum=1) if f.has("groups") else 1, where=f.error)


def _pool_layer(f: Field, name: str, d: dict) -> Layer:
    k = _pair(_need(f, "size"), "size")
    mode = f["mode"].text(choices={"max", "avg"}) if f.has("mode") else d.get("mode", "max")
    return Layer("pool", name or f"POOL{_kernel_label(k)}", kernel=k,
                 padding=_pair(f["padding"], "padding", minimum=0) if f.has("padding")
                 else d.get("padding", (0, 0)),
                 stride=_pair(f["stride"], "stride") if f.has("stride") else d.get("stride"),
                 mode=mode, where=f.error)


def _fc_layer(f: Field, name: str, d: dict) -> Layer:
    n = _need(f, "units").integer(minimum=1)
    return Layer("fc", name or f"FC-{n}", filters=n,
                 bias=f["bias"].boolean() if f.has("bias") else d.get("bias", True), where=f.error)


def _dropout_layer(f: Field, name: str, d: dict) -> Layer:
    rate = None
    if f.has("rate"):
        rate = f["rate"].number()
        if not 0 <= rate < 1:
            raise f["rate"].error(f"a dropout rate is in [0, 1), got {rate}")
    return Layer("dropout", name or "DROPOUT", rate=rate, where=f.error)


_MAPPING_LAYERS: dict[str, Callable[[Field, str, dict], Layer]] = {
    "input": _input_layer, "conv": _conv_layer, "pool": _pool_layer, "fc": _fc_layer, "dropout": _dropout_layer,
}


def _simple_layer(f: Field, t: str, name: str) -> Layer:
    """flatten, batchnorm, relu: nothing to read but the name."""
    return Layer(t, name or t.upper(), where=f.error)


def _stacked(f: Field) -> int:
    n = f["layers"].integer(minimum=1)
    if n > MAX_STACKED:
        raise f["layers"].error(f"{n} stacked layers; the limit is {MAX_STACKED}")
    return n


def _sequence_layer(f: Field, t: str, name: str) -> Layer:
    """rnn / lstm / gru {hidden, layers, bias}; mha {heads, bias}; transformer {heads, ff}."""
    bias = f["bias"].boolean() if f.has("bias") else True
    if t in ("rnn", "lstm", "gru"):
        h = _need(f, "hidden").integer(minimum=1)
        return Layer(t, name or f"{t.upper()}-{h}", filters=h,
                     layers=_stacked(f) if f.has("layers") else 1, bias=bias, where=f.error)
    heads = _need(f, "heads").integer(minimum=1)
    ff = _need(f, "ff").integer(minimum=1) if t == "transformer" else 0
    return Layer(t, name or (f"MHA-{heads}" if t == "mha" else f"TRANSFORMER-{heads}-{ff}"), heads=heads,
                 ff=ff, bias=bias, where=f.error)


def _dims_text(f: Field):
    text = f.text()
    parts = [x.strip() for x in text.lower().replace("×", "x").split("x")]
    for p in parts:
        if not p.isdigit() or int(p) < 1:
            raise f.error(f"expected sizes like 32x32x1, got '{text}'")
        yield int(p)


def parse_vit(doc: Doc) -> VitProblem:
    from hwsolve.spec.loader import check_header

    root = doc.root
    check_header(root, "vit", "vit-patches")
    data = root.mapping(allowed=TOP | {"image", "patch", "channels", "dim", "cls_token"})
    for key in ("image", "patch"):
        if key not in data:
            raise root.error(f"missing '{key}' (e.g. image: 224, patch: 16)")
    prob = VitProblem(
        image=_pair(root["image"], "image"), patch=_pair(root["patch"], "patch"),
        channels=parse_count(data.get("channels", 3), "channels", lambda k, m: root["channels"].error(m)) or 3,
        dim=parse_count(data.get("dim"), "dim", lambda k, m: root["dim"].error(m)),
        cls_token=root["cls_token"].boolean() if "cls_token" in data else True,
        title=root["title"].text() if "title" in data else "")
    return check_vit(prob, lambda key, msg: root["patch"].error(msg))


# ---------------------------------------------------------------------------------------------
# compact notation

_TOKENS = [
    (re.compile(r"^INPUT\s+(\d+)\s*[xX×]\s*(\d+)\s*[xX×]\s*(\d+)$"), "input"),
    (re.compile(r"^INPUT\s+(\d+)$"), "input_vec"),
    (re.compile(r"^CONV(\d+)(?:[xX×](\d+))?-(\d+)$"), "conv"),
    (re.compile(r"^(MAX|AVG)?POOL(\d+)(?:[xX×](\d+))?$"), "pool"),
    (re.compile(r"^FC-(\d+)$"), "fc"),
    (re.compile(r"^(FLATTEN|RELU|BN|BATCHNORM|DROPOUT)$"), "simple"),
    (re.compile(r"^INPUT\s+(\d+)\s*[xX×]\s*(\d+)$"), "input_seq"),
    (re.compile(r"^(RNN|LSTM|GRU)-(\d+)(?:[xX×](\d+))?$"), "recurrent"),
    (re.compile(r"^MHA-(\d+)$"), "mha"),
    (re.compile(r"^TRANSFORMER-(\d+)-(\d+)$"), "transformer"),
]
TOKEN_HELP = ("INPUT HxWxC, INPUT TxD (a sequence), CONVk-N, POOLk, FC-N, FLATTEN, RELU, BN, DROPOUT, "
              "LSTM-h (or RNN-h, GRU-h; LSTM-hx2 for 2 layers), MHA-heads, TRANSFORMER-heads-ff")


def _check_digits(groups: tuple, t: str, where) -> None:
    if any(x is not None and len(x) > MAX_DIGITS for x in groups):
        raise where(f"a size in '{t[:40]}...' has more than {MAX_DIGITS} digits")


def _recurrent_token(g: tuple, t: str, where) -> Layer:
    stacked = int(g[2] or 1)
    if stacked > MAX_STACKED:
        raise where(f"{t}: {stacked} stacked layers; the limit is {MAX_STACKED}")
    return Layer(g[0].lower(), t, filters=int(g[1]), layers=stacked, where=where)


def parse_token(text: str, defaults: dict, where) -> Layer:
    """One compact layer token; `defaults` maps 'conv'/'pool' to dicts of padding/stride/... ."""
    t = " ".join(text.strip().split())
    up = t.upper()
    for rx, kind in _TOKENS:
        m = rx.match(up)
        if not m:
            continue
        g = m.groups()
        _check_digits(g, t, where)
        if kind == "input":
            size = tuple(int(x) for x in g)
            if min(size) < 1:
                raise where(f"every input size must be at least 1, got {t}")
            return Layer("input", t, size=size, where=where)
        if kind == "input_seq":
            return Layer("input", t, size=(int(g[0]), int(g[1])), where=where)
        if kind == "recurrent":
            return _recurrent_token(g, t, where)
        if kind == "mha":
            return Layer("mha", t, heads=int(g[0]), where=where)
        if kind == "transformer":
            return Layer("transformer", t, heads=int(g[0]), ff=int(g[1]), where=where)
        if kind == "input_vec":
            return Layer("input", t, size=(int(g[0]),), where=where)
        if kind == "conv":
            k = (int(g[0]), int(g[1] or g[0]))
            d = defaults.get("conv", {})
            n = int(g[2])
            if n < 1:
                raise where(f"{t}: a convolution needs at least 1 filter")
            return Layer("conv", t, kernel=k, filters=n, padding=d.get("padding", (0, 0)),
                         stride=d.get("stride", (1, 1)), dilation=d.get("dilation", (1, 1)),
                         bias=d.get("bias", True), where=where)
        if kind == "pool":
            k = (int(g[1]), int(g[2] or g[1]))
            d = defaults.get("pool", {})
            mode = {"MAX": "max", "AVG": "avg"}.get(g[0] or "", d.get("mode", "max"))
            return Layer("pool", t, kernel=k, padding=d.get("padding", (0, 0)),
                         stride=d.get("stride"), mode=mode, where=where)
        if kind == "fc":
            n = int(g[0])
            if n < 1:
                raise where(f"{t}: a fully-connected layer needs at least 1 output")
            return Layer("fc", t, filters=n, bias=defaults.get("fc", {}).get("bias", True), where=where)
        simple = {"FLATTEN": "flatten", "RELU": "relu", "BN": "batchnorm", "BATCHNORM": "batchnorm",
                  "DROPOUT": "dropout"}[g[0]]
        return Layer(simple, t, where=where)
    raise where(f"unknown layer token '{t}'; expected one of: {TOKEN_HELP} "
                "(or a mapping such as {type: conv, kernel: 5, filters: 10})")

# ---------------------------------------------------------------------------------------------
# vit-patches flags


def _sides(text: str, flag: str) -> tuple[int, int]:
    pair = parse_pair(text, flag)
    assert isinstance(pair, tuple), "parse_pair gives 'same' only when allowed"
    return pair


def vit_from_flags(image, patch, channels, dim, cls_token: bool) -> VitProblem:
    if image is None:
        raise HwsolveError("missing the image size (e.g. --image 224), or give a SPEC file", field="--image")
    if patch is None:
        raise HwsolveError("missing the patch size (e.g. --patch 16)", field="--patch")
    return check_vit(VitProblem(image=_sides(image, "--image"), patch=_sides(patch, "--patch"),
                                channels=parse_count(channels, "--channels") or 3,
                                dim=parse_count(dim, "--dim"), cls_token=cls_token))
