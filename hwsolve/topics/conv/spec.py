"""Read `kind: conv` specs: one kernel application, or `parts:` mixing sizes, formula and kernels.

See docs/conv-and-arch.md for the format. Every error names the file, the line and the field.
"""

from __future__ import annotations

import math
from fractions import Fraction

from hwsolve.spec.loader import Doc, Field, check_header, load_yaml
from hwsolve.topics.conv.sizes import parse_count, parse_pair
from hwsolve.topics.conv.solve import OPERATIONS, ApplyProblem, ConvSheet, ShapeProblem, check_apply, validate

SHAPE_KEYS = {"n", "k", "p", "s", "d", "filters", "channels", "pool", "transposed", "output_padding", "groups"}
APPLY_KEYS = {"image", "kernel", "bias", "filters", "operation", "window", "stride", "padding",
              "dilation"}
PART_COMMON = {"id", "question", "task"}
TOP = {"hwsolve", "kind", "title", "source", "question"}


def load_conv(path) -> ConvSheet:
    return parse_conv(load_yaml(path))


def parse_conv(doc: Doc) -> ConvSheet:
    """Read and validate a whole spec (every error is raised here, with its line)."""
    root = doc.root
    check_header(root, "conv", "conv")
    data = root.mapping()
    sheet = ConvSheet(title=root["title"].text() if "title" in data else "",
                      source=root["source"].text() if "source" in data else "")
    if "parts" in data:
        root.mapping(allowed=TOP | {"parts"})
        parts = root["parts"].items()
        if not parts:
            raise root["parts"].error("expected at least one part")
        seen: set = set()
        for i, part in enumerate(parts):
            sheet.parts.append(read_part(part, i, seen))
        sheet.title = sheet.title or "Convolution"
        return sheet
    root.mapping(allowed=TOP | APPLY_KEYS)
    prob = read_apply(root)
    question = root["question"].text() if "question" in data else ""
    sheet.parts.append(("", "apply", question, prob))
    sheet.title = sheet.title or f"{prob.operation} of a {len(prob.image[0])}x{len(prob.image[0][0])} image"
    return sheet


def read_part(part: Field, i: int, seen: set) -> tuple[str, str, str, object]:
    data = part.mapping()
    pid = str(data.get("id", f"p{i + 1}"))
    if not pid or not pid.replace("_", "").replace("-", "").isalnum() or not pid.isascii():
        raise part["id"].error(f"a part id is letters, digits, '-' and '_', got '{pid}'")
    if pid in seen:
        raise part["id"].error(f"part id '{pid}' appears twice")
    seen.add(pid)
    if "task" not in data:
        raise part.error("missing 'task' (shape, formula or apply)")
    task = part["task"].text(choices={"shape", "formula", "apply"})
    question = part["question"].text() if "question" in data else ""
    if task == "shape":
        part.mapping(allowed=PART_COMMON | SHAPE_KEYS)
        return pid, task, question, validate(read_shape(part), _shape_blame(part))
    if task == "formula":
        part.mapping(allowed=PART_COMMON | {"dilation"})
        return pid, task, question, part["dilation"].boolean() if "dilation" in data else False
    part.mapping(allowed=PART_COMMON | APPLY_KEYS)
    return pid, task, question, read_apply(part)


def _shape_blame(f: Field):
    def blame(key, message):
        return f[key].error(message) if f.has(key) else f.error(f"{key}: {message}")
    return blame


_APPLY_FIELD = {"n": "image", "k": "kernel", "p": "padding", "s": "stride", "d": "dilation"}


def _apply_blame(f: Field):
    def blame(key, message):
        k = _APPLY_FIELD.get(key, key)
        if key == "k" and f.has("window"):
            k = "window"
        if key == "k" and f.has("filters") and not f.has("kernel"):
            k = "filters"
        return f[k].error(message) if f.has(k) else f.error(f"{k}: {message}")
    return blame


def read_shape(f: Field) -> ShapeProblem:
    data = f.mapping()
    blame = _shape_blame(f)

    def pair(key, default, **kw):
        return parse_pair(data[key], key, blame, **kw) if key in data else default

    if "n" not in data or "k" not in data:
        raise f.error("a shape task needs 'n' (input size) and 'k' (kernel size)")
    pool = f["pool"].text(choices={"max", "avg"}) if "pool" in data else None
    return ShapeProblem(
        n=pair("n", None), k=pair("k", None), p=pair("p", (0, 0), allow_same=True, minimum=0),
        s=pair("s", None), d=pair("d", (1, 1)),
        filters=parse_count(data.get("filters"), "filters", blame),
        channels=parse_count(data.get("channels"), "channels", blame), pool=pool,
        transposed=f["transposed"].boolean() if "transposed" in data else False,
        output_padding=pair("output_padding", (0, 0), minimum=0),
        groups=parse_count(data.get("groups"), "groups", blame) or 1)


def read_number(f: Field):
    v = f.number()
    if isinstance(v, float) and not math.isfinite(v):
        raise f.error(f"expected a finite number, got {v}")
    if isinstance(v, Fraction) and v.denominator == 1:
        return int(v)
    return v


def read_matrix(f: Field, what: str) -> tuple:
    rows = f.items()
    if not rows:
        raise f.error(f"{what} is empty")
    out = []
    width = None
    for r in rows:
        if not isinstance(r.value, list):
            raise r.error(f"expected a row (a list of numbers) of the {what}, got {r.value!r}")
        vals = tuple(read_number(x) for x in r.items())
        if not vals:
            raise r.error(f"row of the {what} is empty")
        if width is None:
            width = len(vals)
        elif len(vals) != width:
            raise r.error(f"this row has {len(vals)} values, the first has {width}: "
                          f"the {what} must be rectangular")
        out.append(vals)
    return tuple(out)


def _depth(v) -> int:
    d = 0
    while isinstance(v, list) and v:
        d += 1
        v = v[0]
    return d


def read_tensor(f: Field, what: str) -> tuple:
    """A matrix (one channel) or a list of matrices (channels): returns C x H x W."""
    depth = _depth(f.value)
    if depth == 2:
        return (read_matrix(f, what),)
    if depth == 3:
        chans = tuple(read_matrix(c, what) for c in f.items())
        for i, c in enumerate(chans[1:], 1):
            if (len(c), len(c[0])) != (len(chans[0]), len(chans[0][0])):
                raise f[i].error(f"channel {i} is {len(c)}x{len(c[0])}, channel 0 is "
                                 f"{len(chans[0])}x{len(chans[0][0])}: every channel has one size")
        return chans
    raise f.error(f"expected the {what} as a matrix (a list of rows) or a list of matrices "
                  "(one per channel)")


def read_apply(f: Field) -> ApplyProblem:
    data = f.mapping()
    blame = _apply_blame(f)
    op = f["operation"].text(choices=set(OPERATIONS)) if "operation" in data else "cross-correlation"
    if "image" not in data:
        raise f.error("missing 'image' (a matrix, or a list of matrices for several channels)")
    image = read_tensor(f["image"], "image")
    C = len(image)
    pool = op.endswith("-pool")
    filters = []
    window = None
    if pool:
        for k in ("kernel", "filters", "bias"):
            if k in data:
                raise f[k].error(f"{op} takes a 'window' size, not a {k}")
        if "window" not in data:
            raise f.error(f"{op} needs 'window' (the pooling size, e.g. 2)")
        window = parse_pair(data["window"], "window", lambda k, m: f["window"].error(m))
    else:
        if "window" in data:
            raise f["window"].error(f"'window' is for pooling; {op} takes a kernel")
        if ("kernel" in data) == ("filters" in data):
            raise f.error("give either 'kernel' (with an optional 'bias') or 'filters' "
                          "(a list of {kernel, bias})")
        if "kernel" in data:
            filters.append((_kernel(f["kernel"], C), read_number(f["bias"]) if "bias" in data else None))
        else:
            if "bias" in data:
                raise f["bias"].error("with 'filters', give each filter its own bias")
            items = f["filters"].items()
            if not items:
                raise f["filters"].error("expected at least one filter")
            for it in items:
                it.mapping(allowed={"kernel", "bias"})
                filters.append((_kernel(it["kernel"], C),
                                read_number(it["bias"]) if it.has("bias") else None))
            shape0 = (len(filters[0][0][0]), len(filters[0][0][0][0]))
            for i, (k, _) in enumerate(filters):
                if (len(k[0]), len(k[0][0])) != shape0:
                    raise items[i]["kernel"].error(f"filter {i} is {len(k[0])}x{len(k[0][0])}, filter 0 "
                                                   f"is {shape0[0]}x{shape0[1]}: all filters have one size")

    def pair(key, default, **kw):
        return parse_pair(data[key], key, lambda k, m: f[key].error(m), **kw) if key in data else default

    prob = ApplyProblem(image=image, filters=tuple(filters), operation=op, window=window,
                        p=pair("padding", (0, 0), minimum=0), s=pair("stride", None),
                        d=pair("dilation", (1, 1)))
    check_apply(prob, blame)
    return prob


def _kernel(f: Field, channels: int) -> tuple:
    k = read_tensor(f, "kernel")
    if len(k) == 1 and channels > 1 and _depth(f.value) == 2:
        raise f.error(f"the image has {channels} channels, so the kernel needs {channels} matrices "
                      "(one per channel)")
    if len(k) != channels:
        raise f.error(f"the kernel has {len(k)} channels, the image {channels}")
    return k
