"""The layer types of the later sheets in network specs: conv, maxpool, avgpool, flatten, batchnorm,
dropout, rnn, attention (docs/layers.md). Reading a layer's settings, and checking it against the shape that
reaches it, so a kernel larger than the padded input or a mask of the wrong shape is one line at
its own key. Pure Python: the rules themselves (autodiff/layer_ops.py) run in compile_network.

Shapes are the stored values' shapes: (n, 1) a vector, (d, n) a batch of n examples as columns,
(H, W) a one-channel image or feature map, (C, H, W) one with C channels, (T, d) a sequence of T
steps (tokens), one a row.
"""

from __future__ import annotations

from fractions import Fraction

from hwsolve.spec.loader import Field

MAX_ENTRIES = 100_000
MAX_STEPS = {"rnn": 1000, "attention": 300}  # an rnn is 3 nodes a step; attention T x T scores, all printed


def _dims(shape) -> str:
    return "x".join(str(n) for n in shape)


def _nested(f: Field, depth_max: int) -> list:
    """Numbers, or lists of them to `depth_max` levels, rectangular; numbers as Fractions."""
    v = f.value
    if not isinstance(v, list):
        return f.number()  # type: ignore[return-value]
    if not v:
        raise f.error("expected a non-empty list")
    if depth_max == 0:
        raise f.error("too many levels of lists")
    out = [_nested(item, depth_max - 1) for item in f.items()]
    shapes = {_shape(x) for x in out}
    if len(shapes) != 1:
        raise f.error("the entries have different shapes: expected a rectangular array (every row as long)")
    return out


def _shape(v) -> tuple[int, ...]:
    return (len(v),) + _shape(v[0]) if isinstance(v, list) else ()


def _count(shape) -> int:
    out = 1
    for n in shape:
        out *= n
    return out


def _as_column(v) -> list:
    """A flat list of numbers is a column (n x 1), as vectors are everywhere else."""
    return [[x] for x in v] if isinstance(v, list) and v and not isinstance(v[0], list) else v


def _whole(f: Field, key: str, minimum: int, default: int | None) -> int | None:
    return f[key].integer(minimum=minimum) if f.has(key) else default


def read_shaped(f: Field, kind: str, body: dict) -> dict:
    """A conv / maxpool / avgpool / flatten / batchnorm / dropout layer's settings (not yet its
    shapes): the layer's `extra`."""
    extra: dict = {}
    reader = {"conv": _read_conv, "maxpool": _read_pool, "avgpool": _read_pool, "batchnorm": _read_norm,
              "dropout": _read_dropout, "rnn": _read_rnn, "attention": _read_attention}.get(kind)
    if reader is not None:
        reader(f, kind, body, extra)
    return extra


def _read_conv(f: Field, kind: str, body: dict, extra: dict) -> None:
    if "kernel" not in body:
        raise f.error("a conv layer needs a kernel (a matrix; a list of matrices, one per channel; or "
                      "a list of such filters)")
    extra["kernel"] = _nested(f["kernel"], 4)
    if not isinstance(extra["kernel"], list) or len(_shape(extra["kernel"])) < 2:
        raise f["kernel"].error("expected a kernel matrix, e.g. [[1, 0], [0, -1]]")
    if _count(_shape(extra["kernel"])) > MAX_ENTRIES:
        raise f["kernel"].error(f"more than {MAX_ENTRIES} kernel entries")
    if "bias" in body:
        extra["bias"] = _nested(f["bias"], 1)
    extra["stride"] = _whole(f, "stride", 1, 1)
    extra["padding"] = _whole(f, "padding", 0, 0)
    extra["dilation"] = _whole(f, "dilation", 1, 1)


def _read_pool(f: Field, kind: str, body: dict, extra: dict) -> None:
    if "window" not in body:
        raise f.error(f"a {kind} layer needs a window (its side, e.g. window: 2)")
    extra["window"] = f["window"].integer(minimum=1)
    extra["stride"] = _whole(f, "stride", 1, extra["window"])
    extra["padding"] = _whole(f, "padding", 0, 0)
    if extra["padding"] > extra["window"] // 2:
        raise f["padding"].error(f"padding {extra['padding']} is more than half the window "
                                 f"{extra['window']}: some windows would hold padding only")


def _read_norm(f: Field, kind: str, body: dict, extra: dict) -> None:
    for key in ("gamma", "beta"):
        if key in body:
            extra[key] = _nested(f[key], 1)
    extra["epsilon"] = f["epsilon"].number() if "epsilon" in body else Fraction(1, 100000)
    if extra["epsilon"] < 0:
        raise f["epsilon"].error("expected epsilon >= 0")


def _read_dropout(f: Field, kind: str, body: dict, extra: dict) -> None:
    for key in ("mask", "p"):
        if key not in body:
            raise f.error(f"a dropout layer needs {key} (mask: 0/1 entries, one per input entry; "
                          "p: the drop probability)")
    extra["mask"] = _nested(f["mask"], 3)
    extra["p"] = f["p"].number()
    if not 0 <= extra["p"] < 1:
        raise f["p"].error(f"expected a drop probability in [0, 1), got {f['p'].value}")
    if any(v not in (0, 1) for v in _flatten(extra["mask"])):
        raise f["mask"].error("expected 0s (dropped) and 1s (kept)")


def _matrix(f: Field, what: str) -> list:
    """A matrix (a list of equal rows of numbers); a flat list is one row."""
    m = _nested(f, 2)
    if not isinstance(m, list):
        raise f.error(f"expected {what} as a matrix, e.g. [[1, 0], [0, 1]]")
    m = m if isinstance(m[0], list) else [m]
    if _count(_shape(m)) > MAX_ENTRIES:
        raise f.error(f"more than {MAX_ENTRIES} entries")
    return m


def _column(f: Field, size: int, what: str) -> list:
    """`size` numbers (a flat list, a column, one row, or one number when size is 1)."""
    v = _nested(f, 2)
    flat = _flatten(v)
    if isinstance(v, list) and isinstance(v[0], list) and len(v) > 1 and any(len(r) != 1 for r in v):
        raise f.error(f"expected {what}: {size} numbers (a flat list or a column)")
    if len(flat) != size:
        raise f.error(f"{f.path[-1]} has {len(flat)} value{'s' if len(flat) != 1 else ''}: expected {size}, "
                      f"{what}")
    return flat


def _read_rnn(f: Field, kind: str, body: dict, extra: dict) -> None:
    """h<t> = tanh(W_hh h<t-1> + W_xh x<t> + b) over the rows of the layer's input."""
    for key in ("W_hh", "W_xh"):
        if key not in body:
            raise f.error(f"an rnn layer needs W_hh (hidden x hidden) and W_xh (hidden x input); {key} is missing")
    w_hh, w_xh = _matrix(f["W_hh"], "W_hh"), _matrix(f["W_xh"], "W_xh")
    hidden = len(w_hh)
    if len(w_hh[0]) != hidden:
        raise f["W_hh"].error(f"W_hh is {_dims(_shape(w_hh))}: expected a square matrix (hidden x hidden)")
    if len(w_xh) != hidden:
        raise f["W_xh"].error(f"W_xh has {len(w_xh)} rows: expected {hidden}, one per hidden unit (W_hh is "
                              f"{hidden}x{hidden})")
    extra.update(W_hh=w_hh, W_xh=w_xh)
    for key, what in (("b", "one bias per hidden unit"), ("h0", "the hidden state before step 1")):
        extra[key] = _column(f[key], hidden, what) if key in body else [Fraction(0)] * hidden
    extra["output"] = f["output"].text({"last", "all"}) if "output" in body else "last"


def _read_attention(f: Field, kind: str, body: dict, extra: dict) -> None:
    """One head over the rows (tokens) of the layer's input X: Q = X W_q, K = X W_k, V = X W_v."""
    for key in ("W_q", "W_k", "W_v"):
        if key not in body:
            raise f.error(f"an attention layer needs W_q, W_k (d x d_k) and W_v (d x d_v); {key} is missing")
        extra[key] = _matrix(f[key], key)
    d, d_k = len(extra["W_q"]), len(extra["W_q"][0])
    if _shape(extra["W_k"]) != (d, d_k):
        raise f["W_k"].error(f"W_k is {_dims(_shape(extra['W_k']))}: expected {d}x{d_k}, the shape of W_q "
                             "(queries and keys have one size d_k)")
    if len(extra["W_v"]) != d:
        raise f["W_v"].error(f"W_v has {len(extra['W_v'])} rows: expected {d}, as W_q (one per input feature)")
    if "mask" in body:
        mf = f["mask"]
        if mf.value == "causal":
            extra["mask"] = "causal"
        else:
            extra["mask"] = _matrix(mf, "mask")
            if any(v not in (0, 1) for v in _flatten(extra["mask"])):
                raise mf.error("expected 1s (may attend) and 0s (hidden), or mask: causal")


def _flatten(v) -> list:
    if not isinstance(v, list):
        return [v]
    return [x for item in v for x in _flatten(item)]


def shaped_layer(item: Field, layer, shape: tuple[int, ...], batch: str | None) -> tuple[int, ...]:
    """Check the layer against the shape reaching it; return the shape it gives."""
    if batch and layer.kind not in ("batchnorm", "dropout"):
        raise item.error(f"{layer.kind} takes one example (an image or a sequence); batch: is for dense layers, "
                         "batch norm and dropout")
    if layer.kind in ("rnn", "attention"):
        return _sequence_shape(item, layer, shape)
    if layer.kind == "flatten":
        return (_count(shape), 1)
    if layer.kind == "conv":
        return _conv_shape(item, layer, shape)
    if layer.kind in ("maxpool", "avgpool"):
        return _pool_shape(item, layer, shape)
    if layer.kind == "batchnorm":
        return _norm_shape(item, layer, shape, batch)
    return _dropout_shape(item, layer, shape, batch)


def _map(item: Field, kind: str, shape) -> tuple[int, int, int]:
    """(C, H, W) of an image or feature map; a vector (n x 1) counts as an n x 1 image."""
    if len(shape) == 3:
        return shape[0], shape[1], shape[2]
    return 1, shape[0], shape[1]


def _fits(f: Field, what: str, n: int, k: int, stride: int, pad: int, dil: int, side: str) -> int:
    span = dil * (k - 1) + 1
    if span > n + 2 * pad:
        raise f.error(f"the {what} {side} {k}" + (f" (span {span} with dilation {dil})" if dil > 1 else "")
                      + f" is larger than the padded input {side} {n} + 2*{pad} = {n + 2 * pad}")
    return (n + 2 * pad - span) // stride + 1


def _conv_shape(item: Field, layer, shape) -> tuple[int, ...]:
    e = layer.extra
    c, h, w = _map(item, "conv", shape)
    kshape = _shape(e["kernel"])
    kf = item["kernel"] if item.has("kernel") else item
    filters = kshape[0] if len(kshape) == 4 else 1
    channels = 1 if len(kshape) == 2 else kshape[-3]
    if channels != c:
        raise kf.error(f"the kernel has {channels} channel{'s' if channels != 1 else ''} but this layer's "
                       f"input has {c} ({_dims(shape)})")
    ho = _fits(kf, "kernel", h, kshape[-2], e["stride"], e["padding"], e["dilation"], "height")
    wo = _fits(kf, "kernel", w, kshape[-1], e["stride"], e["padding"], e["dilation"], "width")
    if "bias" in e:
        bias = e["bias"] if isinstance(e["bias"], list) else [e["bias"]]
        if len(bias) != filters:
            raise item["bias"].error(f"bias has {len(bias)} value{'s' if len(bias) != 1 else ''}: expected "
                                     f"{filters}, one per filter")
        e["bias"] = bias
    return (ho, wo) if len(kshape) < 4 else (filters, ho, wo)


def _pool_shape(item: Field, layer, shape) -> tuple[int, ...]:
    e = layer.extra
    c, h, w = _map(item, layer.kind, shape)
    wf = item["window"] if item.has("window") else item
    ho = _fits(wf, "window", h, e["window"], e["stride"], e["padding"], 1, "height")
    wo = _fits(wf, "window", w, e["window"], e["stride"], e["padding"], 1, "width")
    return (c, ho, wo) if len(shape) == 3 else (ho, wo)


def _norm_shape(item: Field, layer, shape, batch: str | None) -> tuple[int, ...]:
    """Batch norm of a batch (examples as columns: a mean per row) or of a feature map (a mean per
    channel, over its positions). One example's vector has one value per feature: an error."""
    e = layer.extra
    if batch:
        features, per, form = shape[0], shape[1], "batch"
    elif len(shape) == 3 or shape[1] != 1:
        features = shape[0] if len(shape) == 3 else 1
        per, form = _count(shape) // features, "map"
    else:
        raise item.error(f"batch norm of one example's vector ({_dims(shape)}) would normalise each feature "
                         "over 1 value; give a batch (batch: rows or columns) or put it after a conv layer")
    if per < 2:
        raise item.error(f"batch norm over {per} value per feature: give at least 2 examples")
    e["form"] = form
    for key, default in (("gamma", 1), ("beta", 0)):
        given = e.get(key, [Fraction(default)] * features)
        given = given if isinstance(given, list) else [given]
        if len(given) != features:
            where = "row of the batch" if form == "batch" else "channel"
            raise item[key].error(f"{key} has {len(given)} value{'s' if len(given) != 1 else ''}: expected "
                                  f"{features}, one per feature (per {where})")
        e[key] = given
    return shape


def _sequence_shape(item: Field, layer, shape) -> tuple[int, ...]:
    """An rnn or attention layer reads a sequence: T x d, one step (token) a row."""
    e = layer.extra
    if len(shape) != 2:
        raise item.error(f"an {layer.kind} layer reads a sequence (T x d: one step a row), and this layer's "
                         f"input is {_dims(shape)}")
    steps, d = shape
    if steps > MAX_STEPS[layer.kind]:
        raise item.error(f"this layer's input has {steps} steps (one a row); an {layer.kind} layer takes at most "
                         f"{MAX_STEPS[layer.kind]}, each printed")
    e["steps"] = steps
    if layer.kind == "rnn":
        if len(e["W_xh"][0]) != d:
            raise item["W_xh"].error(f"W_xh has {len(e['W_xh'][0])} columns but each step of this layer's input "
                                     f"has {d} value{'s' if d != 1 else ''} (the input is {_dims(shape)}: "
                                     "one step a row)")
        hidden = len(e["W_hh"])
        return (hidden, 1) if e["output"] == "last" else (steps, hidden)
    if len(e["W_q"]) != d:
        raise item["W_q"].error(f"W_q has {len(e['W_q'])} rows but each token of this layer's input has {d} "
                                f"value{'s' if d != 1 else ''} (the input is {_dims(shape)}: one token a row)")
    if e.get("mask") == "causal":
        e["mask"] = [[Fraction(int(j <= i)) for j in range(steps)] for i in range(steps)]
    elif "mask" in e:
        if _shape(e["mask"]) != (steps, steps):
            raise item["mask"].error(f"the mask is {_dims(_shape(e['mask']))}: expected {steps}x{steps} "
                                     "(queries x keys: one row and one column per token)")
        for i, row in enumerate(e["mask"]):
            if not any(row):
                raise item["mask"].error(f"row {i + 1} of the mask hides every key: its softmax is undefined")
    return (steps, len(e["W_v"][0]))


def _dropout_shape(item: Field, layer, shape, batch: str | None) -> tuple[int, ...]:
    e = layer.extra
    mask = _as_column(e["mask"])
    if batch == "rows" and isinstance(mask, list) and isinstance(mask[0], list):
        mask = [list(col) for col in zip(*mask, strict=True)]  # one row per example, as the input
    if _shape(mask) != tuple(shape):
        raise item["mask"].error(f"the mask is {_dims(_shape(mask))}, this layer's input {_dims(shape)}: "
                                 "expected one 0/1 entry per input entry")
    e["mask"] = mask
    return shape


__all__ = ["read_shaped", "shaped_layer"]
