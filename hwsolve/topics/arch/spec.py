"""Read `kind: arch` (CNN layer tables) and `kind: vit` (ViT patches) specs.

See docs/conv-and-arch.md for the format. Every error names the file, the line and the field.
"""

from __future__ import annotations

from hwsolve.topics.arch.solve import (LAYER_TYPES, SEQUENCE_TYPES, ArchProblem, Layer, VitProblem, check_vit,
                                       parse_token)
from hwsolve.topics.conv.sizes import parse_count, parse_pair
from hwsolve.spec.loader import Doc, Field, check_header, load_yaml

TOP = {"hwsolve", "kind", "title", "source", "question"}
DEFAULT_KEYS = {"conv": {"padding", "stride", "dilation", "bias"},
                "pool": {"padding", "stride", "mode"},
                "fc": {"bias"}}
LAYER_KEYS = {
    "input": {"size"},
    "conv": {"kernel", "filters", "padding", "stride", "dilation", "bias"},
    "pool": {"size", "stride", "padding", "mode"},
    "fc": {"units", "bias"},
    "flatten": set(), "batchnorm": set(), "relu": set(), "dropout": {"rate"},
    "rnn": {"hidden", "layers", "bias"}, "lstm": {"hidden", "layers", "bias"}, "gru": {"hidden", "layers", "bias"},
    "mha": {"heads", "bias"}, "transformer": {"heads", "ff"},
}


def load_arch(path) -> ArchProblem:
    return parse_arch(load_yaml(path))


def load_vit(path) -> VitProblem:
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


def parse_arch(doc: Doc) -> ArchProblem:
    root = doc.root
    check_header(root, "arch", "arch")
    data = root.mapping(allowed=TOP | {"defaults", "layers"})
    defaults = _defaults(root["defaults"]) if "defaults" in data else {}
    if "layers" not in data:
        raise root.error("missing 'layers' (a list such as INPUT 32x32x1, CONV5-10, POOL2, FC-10)")
    items = root["layers"].items()
    if not items:
        raise root["layers"].error("expected at least the INPUT layer")
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
    d = defaults.get(t, {})
    name = f["name"].text() if "name" in v else ""

    def need(key):
        if key not in v:
            raise f.error(f"a {t} layer needs '{key}'")
        return f[key]

    if t == "input":
        sz = need("size")
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
    if t == "conv":
        k = _pair(need("kernel"), "kernel")
        n = need("filters").integer(minimum=1)
        lay = Layer("conv", name or f"CONV{k[0]}" + (f"x{k[1]}" if k[1] != k[0] else "") + f"-{n}",
                    kernel=k, filters=n,
                    padding=_pair(f["padding"], "padding", allow_same=True, minimum=0) if "padding" in v
                    else d.get("padding", (0, 0)),
                    stride=_pair(f["stride"], "stride") if "stride" in v else d.get("stride", (1, 1)),
                    dilation=_pair(f["dilation"], "dilation") if "dilation" in v else d.get("dilation", (1, 1)),
                    bias=f["bias"].boolean() if "bias" in v else d.get("bias", True), where=f.error)
        return lay
    if t == "pool":
        k = _pair(need("size"), "size")
        mode = f["mode"].text(choices={"max", "avg"}) if "mode" in v else d.get("mode", "max")
        return Layer("pool", name or f"POOL{k[0]}" + (f"x{k[1]}" if k[1] != k[0] else ""), kernel=k,
                     padding=_pair(f["padding"], "padding", minimum=0) if "padding" in v
                     else d.get("padding", (0, 0)),
                     stride=_pair(f["stride"], "stride") if "stride" in v else d.get("stride"),
                     mode=mode, where=f.error)
    if t == "fc":
        n = need("units").integer(minimum=1)
        return Layer("fc", name or f"FC-{n}", filters=n,
                     bias=f["bias"].boolean() if "bias" in v else d.get("bias", True), where=f.error)
    if t in SEQUENCE_TYPES:
        return _sequence_layer(f, t, name, need)
    if t == "dropout":
        rate = None
        if "rate" in v:
            rate = f["rate"].number()
            if not 0 <= rate < 1:
                raise f["rate"].error(f"a dropout rate is in [0, 1), got {rate}")
        return Layer("dropout", name or "DROPOUT", rate=rate, where=f.error)
    return Layer(t, name or t.upper(), where=f.error)


def _sequence_layer(f: Field, t: str, name: str, need) -> Layer:
    """rnn / lstm / gru {hidden, layers, bias}; mha {heads, bias}; transformer {heads, ff}."""
    bias = f["bias"].boolean() if f.has("bias") else True
    if t in ("rnn", "lstm", "gru"):
        h = need("hidden").integer(minimum=1)
        return Layer(t, name or f"{t.upper()}-{h}", filters=h,
                     layers=f["layers"].integer(minimum=1) if f.has("layers") else 1, bias=bias, where=f.error)
    heads = need("heads").integer(minimum=1)
    ff = need("ff").integer(minimum=1) if t == "transformer" else 0
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
    root = doc.root
    check_header(root, "vit", "vit-patches")
    data = root.mapping(allowed=TOP | {"image", "patch", "channels", "dim", "cls_token"})
    for key in ("image", "patch"):
        if key not in data:
            raise root.error(f"missing '{key}' (e.g. image: 224, patch: 16)")
    prob = VitProblem(
        image=_pair(root["image"], "image"), patch=_pair(root["patch"], "patch"),
        channels=parse_count(data.get("channels", 3), "channels", lambda k, m: root["channels"].error(m)),
        dim=parse_count(data.get("dim"), "dim", lambda k, m: root["dim"].error(m)),
        cls_token=root["cls_token"].boolean() if "cls_token" in data else True,
        title=root["title"].text() if "title" in data else "")
    return check_vit(prob, lambda key, msg: root["patch"].error(msg))
