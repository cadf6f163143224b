"""Convolution arithmetic: output sizes (conv-shape) and kernels applied to small images (conv).

Pure Python integers and Fractions. This module must not import numpy or sympy, not even
indirectly: `hwsolve conv-shape` has to start fast (tests/test_conv.py checks it).

Conventions (stated in the printout too):
  * sizes: out = floor((n + 2p - d(k - 1) - 1) / s) + 1 per axis; a transposed convolution gives
    out = (n - 1)s - 2p + d(k - 1) + output_padding + 1 (PyTorch's ConvTranspose2d);
  * ``same`` padding: out = ceil(n / s), total padding max((out - 1)s + d(k - 1) + 1 - n, 0),
    the odd pixel on the bottom / right (TensorFlow's rule; PyTorch allows it for stride 1 only);
  * ``conv`` is cross-correlation (the deep-learning convention) unless true convolution is asked
    for, which flips the kernel in both axes; indices start at 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from hwsolve.core.records import Solution, Step
from hwsolve.core.sym import Const, Symbol, call, floor, sum_of, times
from hwsolve.topics.conv.shape import (  # noqa: F401  (re-exported: conv's sizes live in shape.py)
    MAX_PADDED_CELLS, MAX_SCAN, Axis, ShapeProblem, _fmt, _num, _s, axes, general_formula,
    shape_steps, shape_title, solve_shape, too_many_terms, validate)
from hwsolve.topics.conv.sizes import Blame, flag_blame


# ---------------------------------------------------------------------------------------------
# applying kernels


@dataclass(frozen=True)
class ApplyProblem:
    """A small image (C x H x W) and filters (each C x kh x kw, with a bias), or a pooling window."""

    image: tuple  # C x H x W
    filters: tuple = ()  # of (kernel C x kh x kw, bias or None)
    operation: str = "cross-correlation"  # | "convolution" | "max-pool" | "avg-pool"
    window: tuple[int, int] | None = None  # pooling only
    p: tuple[int, int] = (0, 0)
    s: tuple[int, int] | None = None
    d: tuple[int, int] = (1, 1)


OPERATIONS = ("cross-correlation", "convolution", "max-pool", "avg-pool")


def _matrix(rows) -> tuple:
    return tuple(tuple(_num(v) for v in r) for r in rows)


def check_apply(prob: ApplyProblem, blame: Blame = flag_blame) -> ShapeProblem:
    """The size question behind a kernel application, validated (kernel fits, stride >= 1, ...)."""
    if prob.operation not in OPERATIONS:
        raise blame("operation", f"expected one of {', '.join(OPERATIONS)}, got '{prob.operation}'")
    img = prob.image
    pool = prob.operation.endswith("-pool")
    if pool:
        kh, kw = prob.window
    else:
        kh, kw = len(prob.filters[0][0][0]), len(prob.filters[0][0][0][0])
    s = prob.s or ((kh, kw) if pool else (1, 1))
    shp = ShapeProblem(n=(len(img[0]), len(img[0][0])), k=(kh, kw), p=prob.p, s=s, d=prob.d,
                       filters=None if pool else len(prob.filters), channels=len(img),
                       pool=prob.operation[:3] if pool else None)
    shp = validate(shp, blame)
    ph, pw = prob.p
    cells = (len(img[0]) + 2 * ph) * (len(img[0][0]) + 2 * pw)
    if cells > MAX_PADDED_CELLS:  # before the padded image is built
        raise blame("p", f"the padded image has {cells} cells; the bound is {MAX_PADDED_CELLS}")
    # every output cell is written as its sum: a window per channel, a kernel per filter over every channel
    axs = axes(shp)
    refused = too_many_terms(len(img) * (1 if pool else len(prob.filters)) * axs[0].out * axs[-1].out * kh * kw,
                             "pooling" if pool else "applying the kernels")
    if refused:
        raise blame("p" if prob.p != (0, 0) else "k", refused)
    return shp


def apply_steps(sol: Solution, prob: ApplyProblem, *, prefix: str = "", heading: str = "",
                question: str = "", blame: Blame = flag_blame) -> None:
    """Append the steps of applying filters (or a pooling window) to an image."""
    pre = prefix
    hp = heading + ": " if heading else ""
    img = prob.image
    C_, H, W = len(img), len(img[0]), len(img[0][0])
    shp = check_apply(prob, blame)
    g = pre + "given"
    sol.sections[g] = hp + "input" + (f" -- {question}" if question else "")
    _given_steps(sol, prob, pre, g, shp.k)
    one_c = C_ == 1
    ph, pw = prob.p
    padded = img
    if ph or pw:
        padded = _zero_padded(img, ph, pw)
        for c in range(C_):
            sol.add(Step(pre + ("I_pad" if one_c else f"I_pad[{c}]"), g, value=_matrix(padded[c]),
                         shape=(H + 2 * ph, W + 2 * pw),
                         note=f"{ph} zero rows above and below, {pw} zero columns left and right"
                              + ("; max pooling never picks a padding cell" if prob.operation == "max-pool" else "")))
    axs = shape_steps(sol, shp, prefix=pre, section=pre + "size", heading=hp + "output size",
                      params_heading=hp + "output volume", params=False, formula=False)
    geo = _Cells(pre, hp, padded, "I_pad" if (ph or pw) else "I", (H, W), (ph, pw), shp.k, shp.s, shp.d,
                 (axs[0].out, axs[-1].out))
    if prob.operation.endswith("-pool"):
        _pool_cells(sol, prob, geo)
    else:
        _conv_cells(sol, prob, geo)


@dataclass(frozen=True)
class _Cells:
    """What the arithmetic of every output cell needs: the (padded) image and the window geometry."""

    pre: str                    # step-name prefix
    hp: str                     # section-heading prefix
    padded: tuple               # channels x rows x columns, zero padding included
    isym: str                   # the image's symbol: I, or I_pad when padded
    size: tuple[int, int]       # the image's height and width before padding
    pad: tuple[int, int]
    k: tuple[int, int]
    s: tuple[int, int]
    d: tuple[int, int]
    out: tuple[int, int]        # output height and width

    def taps(self, i: int, j: int):
        """(u, v, y, x): kernel cell (u, v) reads padded input cell (y, x) for output (i, j)."""
        for u in range(self.k[0]):
            for v in range(self.k[1]):
                yield u, v, i * self.s[0] + u * self.d[0], j * self.s[1] + v * self.d[1]


def _zero_padded(img: tuple, ph: int, pw: int) -> tuple:
    W = len(img[0][0])
    return tuple(
        tuple((0,) * (W + 2 * pw) for _ in range(ph))
        + tuple((0,) * pw + tuple(r) + (0,) * pw for r in ch)
        + tuple((0,) * (W + 2 * pw) for _ in range(ph)) for ch in img)


def _given_steps(sol: Solution, prob: ApplyProblem, pre: str, g: str, k: tuple[int, int]) -> None:
    """The image's channels, each filter's kernels (flipped too, for a true convolution), biases."""
    img = prob.image
    C_, H, W = len(img), len(img[0]), len(img[0][0])
    kh, kw = k
    one_c = C_ == 1
    for c in range(C_):
        nm = "I" if one_c else f"I[{c}]"
        sol.add(Step(pre + nm, g, value=_matrix(img[c]), shape=(H, W),
                     note="the image (grayscale)" if one_c else f"input channel {c}"))
    L_ = len(prob.filters)
    flip = prob.operation == "convolution"
    for f, (kern, bias) in enumerate(prob.filters):
        for c in range(C_):
            nm = "K" + (f"[{f}]" if L_ > 1 else "") + (f"[{c}]" if not one_c else "")
            sol.add(Step(pre + nm, g, value=_matrix(kern[c]), shape=(kh, kw),
                         note=(f"filter {f}" if L_ > 1 else "kernel") + ("" if one_c else f", channel {c}")))
            if flip:
                flipped = tuple(tuple(row[::-1]) for row in kern[c][::-1])
                sol.add(Step(pre + nm + "_flipped", g, value=_matrix(flipped), shape=(kh, kw),
                             note="true convolution flips the kernel in both axes (rotate 180 degrees)"))
        if bias is not None:
            sol.add(Step(pre + ("b" + (f"[{f}]" if L_ > 1 else "")), g, value=_num(bias), note="bias"))


def _pool_cells(sol: Solution, prob: ApplyProblem, geo: _Cells) -> None:
    """Each output cell of max or average pooling, as the max or mean of its window."""
    pre, hp, padded, isym, taps = geo.pre, geo.hp, geo.padded, geo.isym, geo.taps
    (H, W), (ph, pw), (kh, kw), (Ho, Wo) = geo.size, geo.pad, geo.k, geo.out
    C_ = len(prob.image)
    one_c = C_ == 1
    sol.sections[pre + "cells"] = hp + f"output cells ({prob.operation}, window {kh}x{kw})"
    outs = []
    for c in range(C_):
        mat = []
        for i in range(Ho):
            row = []
            for j in range(Wo):
                cells = [(y, x) for _, _, y, x in taps(i, j)]
                if prob.operation == "max-pool":
                    cells = [(y, x) for y, x in cells if ph <= y < ph + H and pw <= x < pw + W]
                syms = [_isym(isym, c, one_c, y, x) for y, x in cells]
                vals = [padded[c][y][x] for y, x in cells]
                if prob.operation == "max-pool":
                    val = max(vals)
                    form = call("max", r"\max", *syms)
                    sub = call("max", r"\max", *[Const(_num(x)) for x in vals])
                else:
                    total = sum(vals)
                    val = total / len(vals) if isinstance(total, float) else Fraction(total, len(vals))
                    form = sum_of(syms) / len(syms)
                    sub = sum_of([Const(_num(x)) for x in vals]) / len(vals)
                val = _num(val)
                nm = f"out[{i},{j}]" if one_c else f"out[{c},{i},{j}]"
                sol.add(Step(pre + nm, pre + "cells", formula=form, substituted=sub, value=val,
                             note=f"window rows {cells[0][0]}-{cells[-1][0]}, "
                                  f"columns {min(x for _, x in cells)}-{max(x for _, x in cells)}"
                                  + (f" of {isym}" if isym == "I_pad" else "")))
                row.append(val)
            mat.append(tuple(row))
        outs.append(tuple(mat))
    _result(sol, pre, hp, outs, one_c, "channel")


def _conv_cells(sol: Solution, prob: ApplyProblem, geo: _Cells) -> None:
    """Each output cell of a convolution or cross-correlation, as its sum of products."""
    pre, hp, padded, isym, taps = geo.pre, geo.hp, geo.padded, geo.isym, geo.taps
    (kh, kw), (sh, sw), (Ho, Wo) = geo.k, geo.s, geo.out
    C_ = len(prob.image)
    one_c = C_ == 1
    L_ = len(prob.filters)
    flip = prob.operation == "convolution"
    sol.sections[pre + "cells"] = hp + "output cells: " + (
        "true convolution, sum of I times the flipped kernel" if flip
        else "cross-correlation, sum of products of the window and the kernel")
    outs = []
    for f, (kern, bias) in enumerate(prob.filters):
        mat = []
        for i in range(Ho):
            row = []
            for j in range(Wo):
                fterms, sterms, total = [], [], 0
                for c in range(C_):
                    for u, v, y, x in taps(i, j):
                        ku, kv = (kh - 1 - u, kw - 1 - v) if flip else (u, v)
                        kname = "K" + (f"[{f}]" if L_ > 1 else "") + \
                                (f"[{ku},{kv}]" if one_c else f"[{c},{ku},{kv}]")
                        fterms.append(_isym(isym, c, one_c, y, x) * Symbol(kname))
                        a, b = padded[c][y][x], kern[c][ku][kv]
                        sterms.append(Const(_num(a)) * Const(_num(b)))
                        total = total + a * b
                form, sub = sum_of(fterms), sum_of(sterms)
                if bias is not None:
                    form = form + Symbol("b" + (f"[{f}]" if L_ > 1 else ""))
                    sub = sub + Const(_num(bias))
                    total = total + bias
                total = _num(total)
                nm = f"out[{i},{j}]" if L_ == 1 else f"out[{f},{i},{j}]"
                sol.add(Step(pre + nm, pre + "cells", formula=form, substituted=sub, value=total,
                             note=f"window at row {i * sh}, column {j * sw} of {isym}"))
                row.append(total)
            mat.append(tuple(row))
        outs.append(tuple(mat))
    _result(sol, pre, hp, outs, L_ == 1, "filter")


def _isym(base: str, c: int, one_c: bool, y: int, x: int) -> Symbol:
    return Symbol(f"{base}[{y},{x}]" if one_c else f"{base}[{c},{y},{x}]")


def _result(sol: Solution, pre: str, hp: str, outs: list, single: bool, what: str) -> None:
    sol.sections[pre + "result"] = hp + "output"
    for f, mat in enumerate(outs):
        nm = "out" if single else f"out[{f}]"
        sol.add(Step(pre + nm, pre + "result", value=mat, shape=(len(mat), len(mat[0])),
                     note="the output feature map" + ("" if single else f" of {what} {f}")))


def solve_apply(prob: ApplyProblem, title: str = "", blame: Blame = flag_blame) -> Solution:
    sol = Solution(title=title or f"{prob.operation} of a {len(prob.image[0])}x{len(prob.image[0][0])} image",
                   kind="conv")
    apply_steps(sol, prob, blame=blame)
    return sol


# ---------------------------------------------------------------------------------------------
# the general formula, symbolically (seed 000 P4 part 3)


def formula_steps(sol: Solution, *, prefix: str = "", heading: str = "General formula",
                  dilation: bool = False) -> None:
    """n x n x c input, l filters k x k x c, stride s, padding p: each step explained."""
    sec = prefix + "formula"
    sol.sections[sec] = heading
    n, k, p, s, c, filters_l, d = (Symbol(x) for x in "nkpscld")
    pre = prefix
    span = d * (k - 1) + 1 if dilation else k
    sol.add(Step(pre + "padded", sec, formula=n + 2 * p,
                 note="padding adds p rows on each side (top and bottom; likewise columns)"))
    if dilation:
        sol.add(Step(pre + "span", sec, formula=span,
                     note="a kernel with dilation d reads k cells d apart, spanning d(k - 1) + 1"))
    sol.add(Step(pre + "last_start", sec, formula=n + 2 * p - span,
                 note="the last row a window can start at (0-based) and still fit in the padded input"))
    sol.add(Step(pre + "n_out", sec, formula=floor((n + 2 * p - span) / s) + 1,
                 note="windows start at 0, s, 2s, ...: floor(last start / s) more after the first; "
                      "the floor drops a window that would hang over the edge; the same holds for columns"))
    sol.add(Step(pre + "volume", sec, formula=times(_s("n_out"), _s("n_out"), filters_l),
                 note="each filter spans all c input channels and produces one output channel, so the "
                      "depth is the number of filters l, not c"))
    sol.add(Step(pre + "params", sec, formula=(k * k * c + 1) * filters_l,
                 note="each filter has k * k * c weights and one bias (k * k * c * l weights and l biases)"))


# ---------------------------------------------------------------------------------------------
# a whole `kind: conv` spec: its parts in order (read by `hwsolve.topics.conv.spec`)


@dataclass
class ConvSheet:
    """A parsed `kind: conv` spec: parts of (id, task, question, problem); a single kernel
    application is one part with an empty id."""

    title: str
    source: str = ""
    parts: list[tuple[str, str, str, object]] = field(default_factory=list)


def solve_conv(sheet: ConvSheet) -> Solution:
    sol = Solution(title=sheet.title, kind="conv")
    if sheet.source:
        sol.source = sheet.source
    for pid, task, question, prob in sheet.parts:
        heading = f"Part {pid}" if pid else ""
        asked = f" -- {question}" if question else ""
        pre = pid + "." if pid else ""
        if task == "shape":
            shape_steps(sol, prob, prefix=pre, section=pre + "size", heading=heading + asked,
                        params_heading=heading + ": volume and parameters")
        elif task == "formula":
            formula_steps(sol, prefix=pre, heading=heading + asked, dilation=prob)
        else:
            apply_steps(sol, prob, prefix=pre, heading=heading, question=question)
    return sol


