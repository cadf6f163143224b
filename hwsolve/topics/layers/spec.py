"""Read `kind: layer` specs: one layer's forward and backward pass, chosen by `type:`.

    type: conv | pool | batchnorm | layernorm | dropout | rnn | attention

See docs/layers.md for every field. Every error names the file, the line and the field, and says
what was expected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from hwsolve.spec.loader import Doc, Field, check_header
from hwsolve.topics.conv.sizes import parse_pair
from hwsolve.topics.conv.spec import read_matrix, read_number, read_tensor

TYPES = ("conv", "pool", "batchnorm", "layernorm", "dropout", "rnn", "attention")
COMMON = {"hwsolve", "kind", "type", "title", "source", "question"}
KEYS = {
    "conv": {"input", "kernel", "bias", "filters", "stride", "padding", "dilation", "operation", "upstream"},
    "pool": {"input", "mode", "window", "stride", "padding", "count_include_pad", "upstream"},
    "batchnorm": {"input", "gamma", "beta", "epsilon", "upstream", "momentum", "running_mean", "running_var"},
    "layernorm": {"input", "gamma", "beta", "epsilon", "upstream"},
    "dropout": {"input", "mask", "p", "upstream"},
    "rnn": {"W_hh", "W_xh", "b", "h0", "inputs", "targets", "loss"},
    "attention": {"Q", "K", "V", "mask", "upstream"},
}
MAX_CELLS = 4096   # entries of any one array: worked examples are small; this bounds the time
MAX_STEPS = 64     # RNN time steps


@dataclass
class LayerProblem:
    """A parsed spec: the layer type, its arrays (nested tuples) and settings, and where they are."""

    type: str
    title: str
    file: str
    arrays: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    fields: dict[str, Field] = field(default_factory=dict)   # for errors found while solving
    question: str = ""


def parse_layer(doc: Doc) -> LayerProblem:
    root = doc.root
    check_header(root, "layer", "layer")
    data = root.mapping()
    if "type" not in data:
        raise root.error("missing 'type' (" + ", ".join(TYPES) + ")")
    kind = root["type"].text(set(TYPES))
    root.mapping(allowed=COMMON | KEYS[kind])
    prob = LayerProblem(kind, root["title"].text() if "title" in data else "", doc.file,
                        question=root["question"].text() if "question" in data else "")
    READERS[kind](root, prob)
    return prob


def _need(root: Field, key: str, what: str) -> Field:
    if not root.has(key):
        raise root.error(f"missing '{key}' ({what})")
    return root[key]


def _bounded(f: Field, value: tuple) -> tuple:
    n = 1
    v = value
    while isinstance(v, tuple):
        n *= len(v)
        v = v[0]
    if n > MAX_CELLS:
        raise f.error(f"{n} entries; the limit is {MAX_CELLS} (worked examples are small)")
    return value


def _tensor(root: Field, key: str, what: str) -> tuple:
    f = _need(root, key, what)
    return _bounded(f, read_tensor(f, what))


def _matrix(root: Field, key: str, what: str) -> tuple:
    f = _need(root, key, what)
    return _bounded(f, read_matrix(f, what))


def _column(root: Field, key: str, what: str) -> tuple:
    """A vector written as a flat list, returned as a column (n x 1)."""
    f = _need(root, key, what)
    items = f.items() if isinstance(f.value, list) else None
    if not items:
        raise f.error(f"expected {what} as a list of numbers")
    return _bounded(f, tuple((read_number(x),) for x in items))


def _pair_field(root: Field, key: str, default, **kw):
    if not root.has(key):
        return default
    return parse_pair(root[key].value, key, lambda k, m: root[key].error(m), **kw)


def _keep(prob: LayerProblem, root: Field, *keys: str) -> None:
    for k in keys:
        prob.fields[k] = root[k] if root.has(k) else root


def read_conv(root: Field, prob: LayerProblem) -> None:
    x = _tensor(root, "input", "the input X: a matrix, or a list of matrices (channels)")
    kernels, biases = [], []
    if root.has("kernel") == root.has("filters"):
        raise root.error("give either 'kernel' (with an optional 'bias') or 'filters' (a list of {kernel, bias})")
    if root.has("kernel"):
        kernels.append(_tensor(root, "kernel", "the kernel"))
        biases.append(read_number(root["bias"]) if root.has("bias") else None)
    else:
        if root.has("bias"):
            raise root["bias"].error("with 'filters', give each filter its own bias")
        for item in root["filters"].items():
            item.mapping(allowed={"kernel", "bias"})
            kernels.append(_tensor(item, "kernel", "the filter's kernel"))
            biases.append(read_number(item["bias"]) if item.has("bias") else None)
        if not kernels:
            raise root["filters"].error("expected at least one filter")
    for i, k in enumerate(kernels):
        where = root["kernel"] if root.has("kernel") else root["filters"][i]["kernel"]
        if len(k) != len(x):
            raise where.error(f"the kernel has {len(k)} channel(s), the input {len(x)}: one kernel "
                              "matrix per input channel")
        if (len(k[0]), len(k[0][0])) != (len(kernels[0][0]), len(kernels[0][0][0])):
            raise where.error("every filter has one size")
    if any(b is None for b in biases) and not all(b is None for b in biases):
        raise root["filters"].error("give every filter a bias, or none")
    op = root["operation"].text({"cross-correlation", "convolution"}) if root.has("operation") \
        else "cross-correlation"
    prob.arrays.update(X=x, K=tuple(kernels), b=None if biases[0] is None else tuple(biases))
    prob.settings.update(stride=_pair_field(root, "stride", (1, 1)),
                         padding=_pair_field(root, "padding", (0, 0), minimum=0),
                         dilation=_pair_field(root, "dilation", (1, 1)), flip=op == "convolution")
    _read_upstream(root, prob)
    _keep(prob, root, "input", "kernel" if root.has("kernel") else "filters", "padding", "upstream")


def read_pool(root: Field, prob: LayerProblem) -> None:
    prob.arrays["X"] = _tensor(root, "input", "the input X: a matrix, or a list of matrices (channels)")
    prob.settings["mode"] = root["mode"].text({"max", "avg"}) if root.has("mode") else "max"
    window = _pair_field(root, "window", None)
    if window is None:
        raise root.error("missing 'window' (the pooling size, e.g. 2)")
    prob.settings.update(window=window, stride=_pair_field(root, "stride", window),
                         padding=_pair_field(root, "padding", (0, 0), minimum=0))
    include = root["count_include_pad"].boolean() if root.has("count_include_pad") else True
    if not include and prob.settings["mode"] != "avg":
        raise root["count_include_pad"].error("count_include_pad is a setting of average pooling (mode: avg)")
    prob.settings["count_include_pad"] = include
    _read_upstream(root, prob)
    _keep(prob, root, "input", "window", "padding", "upstream")


def _read_upstream(root: Field, prob: LayerProblem) -> None:
    prob.arrays["G"] = _tensor(root, "upstream", "dL/dY, the gradient arriving at the output")


def read_norm(root: Field, prob: LayerProblem) -> None:
    prob.arrays["X"] = _matrix(root, "input", "the batch X, one example a row")
    d = len(prob.arrays["X"][0])
    prob.arrays["gamma"] = _column(root, "gamma", "one scale per feature") if root.has("gamma") \
        else tuple((1,) for _ in range(d))
    prob.arrays["beta"] = _column(root, "beta", "one shift per feature") if root.has("beta") \
        else tuple((0,) for _ in range(d))
    for key in ("gamma", "beta"):
        if len(prob.arrays[key]) != d:
            raise root[key].error(f"expected {d} values (one per feature, the columns of the input), "
                                  f"got {len(prob.arrays[key])}")
    eps = read_number(root["epsilon"]) if root.has("epsilon") else Fraction(1, 100000)
    if eps < 0:
        raise root["epsilon"].error(f"epsilon is >= 0, got {eps}")
    prob.settings["eps"] = Fraction(eps) if not isinstance(eps, float) else eps
    prob.arrays["G"] = _matrix(root, "upstream", "dL/dY, the same shape as the input")
    _keep(prob, root, "input", "upstream")
    if any(root.has(k) for k in ("momentum", "running_mean", "running_var")):
        _read_running(root, prob, d)


def _read_running(root: Field, prob: LayerProblem, d: int) -> None:
    """PyTorch's running statistics, updated by a training-mode step: momentum (default 0.1) and
    the running mean and variance before it (default 0 and 1, as nn.BatchNorm1d starts)."""
    m = read_number(root["momentum"]) if root.has("momentum") else Fraction(1, 10)
    if not 0 <= m <= 1:
        raise root["momentum"].error(f"momentum is in [0, 1] (PyTorch's default 0.1), got {m}")
    start = {}
    for key, default in (("running_mean", 0), ("running_var", 1)):
        start[key] = _column(root, key, "one value per feature") if root.has(key) \
            else tuple((default,) for _ in range(d))
        if len(start[key]) != d:
            raise root[key].error(f"expected {d} values (one per feature), got {len(start[key])}")
    if len(prob.arrays["X"]) < 2:
        raise (root["momentum"] if root.has("momentum") else root["input"]).error(
            "running statistics need at least 2 examples (the unbiased variance divides by N - 1)")
    prob.settings["running"] = (Fraction(m) if not isinstance(m, float) else m, start["running_mean"],
                                start["running_var"])


def read_dropout(root: Field, prob: LayerProblem) -> None:
    prob.arrays["X"] = _matrix(root, "input", "the input, a matrix (a vector as one row or column)")
    mask_f = _need(root, "mask", "the 0/1 mask, the shape of the input")
    mask = _bounded(mask_f, read_matrix(mask_f, "mask"))
    if any(v not in (0, 1) for row in mask for v in row):
        raise mask_f.error("a dropout mask holds 0 (dropped) and 1 (kept) only")
    p = read_number(_need(root, "p", "the drop probability, in [0, 1)"))
    if not 0 <= p < 1:
        raise root["p"].error(f"expected a drop probability in [0, 1), got {p}")
    prob.arrays["mask"] = mask
    prob.settings["p"] = Fraction(p) if not isinstance(p, float) else p
    prob.arrays["G"] = _matrix(root, "upstream", "dL/dY, the same shape as the input")
    _keep(prob, root, "input", "mask", "upstream")


def read_rnn(root: Field, prob: LayerProblem) -> None:
    prob.arrays["W_hh"] = _matrix(root, "W_hh", "the hidden-to-hidden matrix")
    prob.arrays["W_xh"] = _matrix(root, "W_xh", "the input-to-hidden matrix")
    hdim = len(prob.arrays["W_hh"])
    prob.arrays["b"] = _column(root, "b", "the bias") if root.has("b") else tuple((0,) for _ in range(hdim))
    prob.arrays["h0"] = _column(root, "h0", "the initial state") if root.has("h0") \
        else tuple((0,) for _ in range(hdim))
    prob.arrays["x"] = _sequence(root, "inputs", "the inputs x_1 ... x_T")
    if not prob.arrays["x"]:
        raise root["inputs"].error("the sequence has length 0: expected at least one input x_1")
    if root.has("targets"):
        tf = root["targets"]
        if isinstance(tf.value, dict):
            tf.mapping(allowed={"last"})
            prob.arrays["y"] = {len(prob.arrays["x"]): _column(tf, "last", "the target at the last step")}
        else:
            ys = _sequence(root, "targets", "one target per step")
            if len(ys) != len(prob.arrays["x"]):
                raise tf.error(f"expected {len(prob.arrays['x'])} targets (one per step) or "
                               "{last: [...]} for a loss at the last step only")
            prob.arrays["y"] = {t + 1: y for t, y in enumerate(ys)}
    else:
        raise root.error("missing 'targets' (one per step, or {last: [...]})")
    from hwsolve.autodiff.functions import LOSSES, lookup_loss
    from hwsolve.topics.rules_spec import read_loss

    loss = read_loss(root["loss"]) if root.has("loss") else lookup_loss("half_squared_error")
    if loss is None or not loss.exact or loss.needs_probabilities:
        suitable = ", ".join(k for k, v in LOSSES.items() if v.exact and not v.needs_probabilities)
        raise root["loss"].error(f"an RNN's per-step loss must be one of: {suitable}")
    prob.settings["loss"] = loss
    _keep(prob, root, "W_hh", "W_xh", "b", "h0", "inputs", "targets")


def _sequence(root: Field, key: str, what: str) -> tuple:
    f = _need(root, key, what)
    items = f.items()
    if len(items) > MAX_STEPS:
        raise f.error(f"{len(items)} steps; the limit is {MAX_STEPS}")
    out = []
    for it in items:
        v = it.value
        if not isinstance(v, list) or not v:
            raise it.error("expected a vector (a list of numbers)")
        out.append(tuple((read_number(x),) for x in it.items()))
    return tuple(out)


def read_attention(root: Field, prob: LayerProblem) -> None:
    for key, what in (("Q", "the queries, one a row"), ("K", "the keys, one a row"), ("V", "the values, one a row")):
        prob.arrays[key] = _matrix(root, key, what)
    if root.has("mask"):
        mf = root["mask"]
        m = read_matrix(mf, "mask")
        if any(v not in (0, 1) for row in m for v in row):
            raise mf.error("an attention mask holds 1 (may attend) and 0 (hidden) only")
        prob.arrays["mask"] = m
    prob.arrays["G"] = _matrix(root, "upstream", "dL/d(out), one row per query")
    _keep(prob, root, "Q", "K", "V", "mask", "upstream")


READERS = {"conv": read_conv, "pool": read_pool, "batchnorm": read_norm, "layernorm": read_norm,
           "dropout": read_dropout, "rnn": read_rnn, "attention": read_attention}
