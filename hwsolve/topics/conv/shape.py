"""Convolution arithmetic, output sizes (`hwsolve conv-shape`): pure Python integers and Fractions.

This module must not import numpy or sympy, not even indirectly: `hwsolve conv-shape` has to start
fast (tests/test_conv.py checks it); it is apart from the kernels applied to images (solve.py) so
that conv-shape loads only what it runs. Conventions: see solve.py's docstring.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from hwsolve.core.records import Solution, Step
from hwsolve.core.sym import Const, Expr, Symbol, call, floor, mod, times
from hwsolve.topics.conv.sizes import Blame, flag_blame

MAX_PADDED_CELLS = 1_000_000  # cells of one padded channel when kernels are applied
MAX_SCAN = 4_000_000  # window taps examined when looking for interior gaps
# products written out when every output cell is shown as its sum (about 4 KB each, held and
# printed): a 28x28 image, a 3x3 kernel and 8 filters is 49,000; 100 padding around one pixel
# made 40,000 cells of zeros, and a 100x100 image with a 50x50 kernel 6.5 million (4.9 GB)
MAX_WRITTEN_TERMS = 100_000


def too_many_terms(terms: int, what: str) -> str | None:
    """Why an application whose every cell is written out is refused, before any cell is made (the
    caller raises it where the spec or flag is); None when it fits."""
    if terms <= MAX_WRITTEN_TERMS:
        return None
    return (f"{what} would write {terms:,} products, one per kernel entry in every output cell; the bound is "
            f"{MAX_WRITTEN_TERMS:,}: use a smaller input, kernel or padding (hwsolve conv-shape gives the sizes alone)")


def _num(x):
    """Plain Python: a whole Fraction becomes an int."""
    if isinstance(x, Fraction) and x.denominator == 1:
        return int(x)
    return x


def _fmt(x) -> str:
    from hwsolve.core.numfmt import fmt_number

    return fmt_number(_num(x))

# ---------------------------------------------------------------------------------------------
# output size


@dataclass(frozen=True)
class ShapeProblem:
    """A conv-shape question. Pairs are (height, width)."""

    n: tuple[int, int]
    k: tuple[int, int]
    p: tuple[int, int] | str = (0, 0)
    s: tuple[int, int] | None = None  # None: 1, or the window size for pooling
    d: tuple[int, int] = (1, 1)
    filters: int | None = None
    channels: int | None = None
    pool: str | None = None  # "max" | "avg"
    transposed: bool = False
    output_padding: tuple[int, int] = (0, 0)
    groups: int = 1  # grouped convolution: each filter sees C / groups channels (depthwise: groups = C = L)


@dataclass
class Axis:
    """The size arithmetic along one axis, with everything the steps print."""

    label: str  # "n" when both axes agree, else "H" / "W"
    what: str  # "rows", "columns", "rows and columns"
    n: int
    k: int
    s: int
    d: int
    pb: int  # padding before (top / left)
    pa: int  # padding after (bottom / right)
    same: bool = False
    op: int = 0
    transposed: bool = False
    out: int = 0
    quot: Fraction = Fraction(0)
    span: int = 0
    uncovered: list[tuple[int, int]] = field(default_factory=list)  # padded index ranges
    gaps_checked: bool = True

    @property
    def padded(self) -> int:
        return self.n + self.pb + self.pa


def validate(prob: ShapeProblem, blame: Blame = flag_blame) -> ShapeProblem:
    """Check a problem against the rules below; return it with defaults filled in."""
    _check_combination(prob, blame)
    s = prob.s or (prob.k if prob.pool else (1, 1))
    _check_ranges(prob, s, blame)
    for i in range(2):
        if prob.transposed:
            _check_transposed_axis(prob, s, i, blame)
        elif prob.p != "same":
            _check_window_fits(prob, i, blame)
    return ShapeProblem(prob.n, prob.k, prob.p, s, prob.d, prob.filters, prob.channels, prob.pool,
                        prob.transposed, prob.output_padding, prob.groups)


def _check_combination(prob: ShapeProblem, blame: Blame) -> None:
    """Options that do not go together (pooling with filters, 'same' on a transposed layer, ...)."""
    if prob.pool not in (None, "max", "avg"):
        raise blame("pool", f"expected max or avg, got '{prob.pool}'")
    if prob.pool and prob.transposed:
        raise blame("transposed", "a transposed convolution cannot also be a pooling layer")
    if prob.pool and prob.filters is not None:
        raise blame("filters", "pooling has no filters: it keeps the channel count")
    if prob.p == "same" and (prob.transposed or prob.pool):
        raise blame("p", "'same' padding is defined here for ordinary convolutions only")
    if prob.output_padding != (0, 0) and not prob.transposed:
        raise blame("output_padding", "output padding applies to transposed convolutions only")
    if prob.groups != 1:
        if prob.pool:
            raise blame("groups", "pooling has no filters to group")
        c, f = prob.channels or 1, prob.filters or 1
        if prob.groups < 1 or c % prob.groups or f % prob.groups:
            raise blame("groups", f"must divide the channels ({c}) and the filters ({f}), got {prob.groups}")


def _check_ranges(prob: ShapeProblem, s: tuple[int, int], blame: Blame) -> None:
    """Sizes, strides, dilations and counts at least 1; padding not negative."""
    for key, pair in (("n", prob.n), ("k", prob.k), ("s", s), ("d", prob.d)):
        for v in pair:
            if v < 1:
                raise blame(key, f"must be at least 1, got {v}")
    if prob.p != "same":
        for v in prob.p:
            if v < 0:
                raise blame("p", f"padding cannot be negative, got {v}")
    for key, v in (("filters", prob.filters), ("channels", prob.channels)):
        if v is not None and v < 1:
            raise blame(key, f"must be at least 1, got {v}")


def _check_transposed_axis(prob: ShapeProblem, s: tuple[int, int], i: int, blame: Blame) -> None:
    """A transposed convolution's output padding, and an output of at least one cell, on axis i."""
    span = prob.d[i] * (prob.k[i] - 1) + 1
    side = ("height", "width")[i]
    op = prob.output_padding[i]
    if op < 0:
        raise blame("output_padding", f"cannot be negative, got {op}")
    if op >= max(s[i], prob.d[i]):
        raise blame("output_padding", f"must be smaller than the stride or the dilation "
                                       f"({max(s[i], prob.d[i])}), got {op}")
    if (prob.n[i] - 1) * s[i] - 2 * prob.p[i] + span + op < 1:
        raise blame("p", f"padding {prob.p[i]} removes the whole output {side}")


def _check_window_fits(prob: ShapeProblem, i: int, blame: Blame) -> None:
    """On axis i the (dilated) window fits in the padded input, and pooling padding is at most
    half the window."""
    span = prob.d[i] * (prob.k[i] - 1) + 1
    side = ("height", "width")[i]
    if prob.pool and 2 * prob.p[i] > span:
        raise blame("p", f"pooling padding {prob.p[i]} is more than half the window {side} {span}: "
                         "a window could hold only padding (PyTorch refuses this too)")
    padded = prob.n[i] + 2 * prob.p[i]
    if span > padded:
        eff = f" (effective size {span} with dilation {prob.d[i]})" if prob.d[i] != 1 else ""
        raise blame("k", f"the kernel {side} {prob.k[i]}{eff} is larger than the padded input "
                         f"{side} {prob.n[i]} + 2*{prob.p[i]} = {padded}")


def axes(prob: ShapeProblem) -> list[Axis]:
    """The arithmetic per axis: one Axis labelled n when height and width agree, else H and W."""
    out = []
    for i, (label, what) in enumerate((("H", "rows"), ("W", "columns"))):
        n, k, s, d = prob.n[i], prob.k[i], prob.s[i], prob.d[i]
        span = d * (k - 1) + 1
        if prob.p == "same":
            size = -(-n // s)
            total = max((size - 1) * s + span - n, 0)
            pb, pa = total // 2, total - total // 2
        else:
            pb = pa = prob.p[i]
        ax = Axis(label, what, n, k, s, d, pb, pa, same=prob.p == "same",
                  op=prob.output_padding[i], transposed=prob.transposed, span=span)
        if ax.transposed:
            ax.out = (n - 1) * s - 2 * pb + span + ax.op
        else:
            ax.quot = Fraction(ax.padded - span, s)
            ax.out = (ax.padded - span) // s + 1
            ax.uncovered, ax.gaps_checked = _uncovered(ax)
        out.append(ax)
    h, w = out
    if (h.n, h.k, h.s, h.d, h.pb, h.pa, h.op) == (w.n, w.k, w.s, w.d, w.pb, w.pa, w.op):
        h.label, h.what = "n", "rows and columns"
        return [h]
    return out


def _uncovered(ax: Axis) -> tuple[list[tuple[int, int]], bool]:
    """Padded indices no window ever reads, as inclusive ranges; and whether gaps were checked."""
    P, out, s, d, k, span = ax.padded, ax.out, ax.s, ax.d, ax.k, ax.span
    last = (out - 1) * s + span - 1  # last index the last window reads
    ranges: list[tuple[int, int]] = []
    checked = True
    if d == 1:
        if s > k:  # a gap of s - k between consecutive windows
            for i in range(min(out - 1, 50)):
                ranges.append((i * s + k, (i + 1) * s - 1))
    elif out * k <= MAX_SCAN and last < 4 * MAX_SCAN:  # the bytearray below is last + 1 long
        hit = bytearray(last + 1)
        for i in range(out):
            base = i * s
            for j in range(k):
                hit[base + j * d] = 1
        start = None
        for x in range(last + 2):
            if x <= last and not hit[x]:
                start = x if start is None else start
            elif start is not None:
                ranges.append((start, x - 1))
                start = None
    else:
        checked = False
    if last < P - 1:
        ranges.append((last + 1, P - 1))
    return ranges, checked


# the symbols of the general formula
N, K, P, S, D, C, L = (Symbol(x) for x in "nkpsdCL")
PT, PB = Symbol("p_before", "p_{\\text{before}}"), Symbol("p_after", "p_{\\text{after}}")
OP = Symbol("output_padding", "p_{\\text{out}}")


def _s(name: str) -> Symbol:
    """A symbol with a subscript: H_out -> H_{\\text{out}}, k_h -> k_{h}."""
    base, _, sub = name.partition("_")
    return Symbol(name, f"{base}_{{{sub}}}" if len(sub) == 1 else f"{base}_{{\\text{{{sub}}}}}")


def _leaves(ax: Axis | None) -> dict[str, Expr]:
    if ax is None:
        return {"n": N, "k": K, "p": P, "s": S, "d": D, "pb": PT, "pa": PB, "op": OP}
    return {"n": Const(ax.n), "k": Const(ax.k), "p": Const(ax.pb), "s": Const(ax.s),
            "d": Const(ax.d), "pb": Const(ax.pb), "pa": Const(ax.pa), "op": Const(ax.op)}


def _pad_term(v: dict, symmetric: bool) -> Expr:
    return (Const(2) * v["p"]) if symmetric else (v["pb"] + v["pa"])


def general_formula(transposed: bool = False) -> Expr:
    v = _leaves(None)
    if transposed:
        return (v["n"] - 1) * v["s"] - 2 * v["p"] + v["d"] * (v["k"] - 1) + v["op"] + 1
    return floor((v["n"] + 2 * v["p"] - v["d"] * (v["k"] - 1) - 1) / v["s"]) + 1


def _numerator(v: dict, ax: Axis, d1: bool) -> Expr:
    pad = _pad_term(v, ax.pb == ax.pa)
    if d1:
        return v["n"] + pad - v["k"]
    return v["n"] + pad - v["d"] * (v["k"] - 1) - 1


def _cover_text(ax: Axis) -> str:
    parts = []
    for a, b in ax.uncovered[:8]:
        rng = str(a) if a == b else f"{a}-{b}"
        kinds = []
        if a < ax.pb:
            kinds.append("padding")
        if b >= ax.pb and a < ax.pb + ax.n:
            lo, hi = max(a, ax.pb) - ax.pb, min(b, ax.pb + ax.n - 1) - ax.pb
            kinds.append("image " + ax.what.split()[0][:-1] + (f" {lo}" if lo == hi else f"s {lo}-{hi}"))
        if b >= ax.pb + ax.n:
            kinds.append("padding")
        parts.append(f"{rng} ({', '.join(dict.fromkeys(kinds))})")
    more = f" and {len(ax.uncovered) - 8} more ranges" if len(ax.uncovered) > 8 else ""
    return "; ".join(parts) + more


def shape_steps(sol: Solution, prob: ShapeProblem, *, prefix: str = "", section: str = "size",
                heading: str = "Output size", params_heading: str = "Output volume and parameters",
                params: bool = True, formula: bool = True, volume: bool = True) -> list[Axis]:
    """Append the steps of a conv-shape question to `sol`; return the per-axis arithmetic.

    params=False leaves out the weights and biases (when the kernels are given as numbers)."""
    axs = axes(prob)
    fsec, psec = section, section + ".params"
    sol.sections[section] = heading
    if volume:
        sol.sections[psec] = params_heading
    pre = prefix
    who = f"{prefix[:-1]}: " if prefix else ""
    name = "transposed convolution" if prob.transposed else \
        (f"{prob.pool} pooling" if prob.pool else "convolution")
    d1 = all(a.d == 1 for a in axs)
    if formula:
        note = ("a dilated kernel spans d(k - 1) + 1 input cells; the padded input has n + 2p; "
                "window starts 0, s, 2s, ... must leave room for the span, so there are "
                "floor((n + 2p - span) / s) + 1 of them")
        if prob.transposed:
            note = "each input cell scatters a kernel s cells further on; padding p crops each side"
        sol.add(Step(pre + "formula", fsec, formula=general_formula(prob.transposed),
                     note=f"{name}: {note}"))
    for ax in axs:
        c = _leaves(ax)
        lab = ax.label
        if ax.same:
            sol.add(Step(pre + f"{lab}_pad", section,
                         formula=call("max", r"\max", (floor((N - 1) / S)) * S + D * (K - 1) + 1 - N, 0),
                         substituted=call("max", r"\max", floor((c["n"] - 1) / c["s"]) * c["s"]
                                          + c["d"] * (c["k"] - 1) + 1 - c["n"], 0),
                         value=ax.pb + ax.pa, unit="cells",
                         note=f"'same' padding: {ax.pb} before, {ax.pa} after"
                              + (" (the odd cell goes after)" if ax.pa != ax.pb else "")))
        if ax.transposed:
            sol.add(Step(pre + f"{lab}_out", section, formula=general_formula(True),
                         substituted=(c["n"] - 1) * c["s"] - 2 * c["p"] + c["d"] * (c["k"] - 1)
                         + c["op"] + 1, value=ax.out,
                         note=f"output {ax.what} of the transposed convolution"))
            continue
        _ordinary_axis_steps(sol, ax, pre, section, d1, name, who)
    if volume:
        _volume_steps(sol, prob, axs, pre, psec, who, params)
    return axs


def _ordinary_axis_steps(sol: Solution, ax: Axis, pre: str, section: str, d1: bool, name: str,
                         who: str) -> None:
    """The span, quotient, output size and remainder of one axis of an ordinary (not transposed)
    convolution or pooling, with a warning when the windows do not cover the padded input."""
    v, c = _leaves(None), _leaves(ax)
    lab = ax.label
    if ax.d != 1:
        sol.add(Step(pre + f"{lab}_span", section, formula=v["d"] * (v["k"] - 1) + 1,
                     substituted=c["d"] * (c["k"] - 1) + 1, value=ax.span,
                     note="input cells one dilated kernel covers"))
    use_d1 = d1 and ax.d == 1
    sol.add(Step(pre + f"{lab}_quot", section,
                 formula=_numerator(v, ax, use_d1) / v["s"],
                 substituted=_numerator(c, ax, use_d1) / c["s"],
                 value=_num(ax.quot),
                 note=("d = 1, so d(k - 1) + 1 = k; " if use_d1 else "")
                 + f"(padded size - kernel span) / stride = {ax.padded - ax.span} / {ax.s}: "
                   "how many strides fit after the first window"))
    fl = ax.quot.numerator // ax.quot.denominator
    sol.add(Step(pre + f"{lab}_out", section, formula=floor(_s(lab + "_quot")) + 1,
                 substituted=floor(Const(_num(ax.quot))) + 1, value=ax.out,
                 note=(f"floor({_fmt(ax.quot)}) = {fl}: the last partial window is dropped; "
                       if ax.quot.denominator != 1 else f"{fl} is whole: nothing to round; ")
                 + f"+ 1 for the first window -> {ax.out} output {ax.what}"))
    rem = (ax.padded - ax.span) % ax.s
    if ax.uncovered:
        lost = sum(max(0, min(b, ax.pb + ax.n - 1) - max(a, ax.pb) + 1) for a, b in ax.uncovered)
        tail = ("only padding is skipped, no image pixel is lost" if not lost else
                f"{lost} image {ax.what} never reach the output")
        warn = (f"{name} with stride {ax.s} does not tile the padded input ({ax.padded} "
                f"{ax.what}, 0-based): never covered by any window: {_cover_text(ax)}; {tail}")
        sol.notes.append(who + "warning: " + warn)
        note = f"{rem} left over; never covered: " + _cover_text(ax)
    else:
        note = "the windows tile the padded input exactly"
        if not ax.gaps_checked:
            note += " at the end (interior gaps of the dilated kernel not checked: too large)"
    sol.add(Step(pre + f"{lab}_rem", section, formula=mod(_numerator(v, ax, use_d1), v["s"]),
                 substituted=mod(_numerator(c, ax, use_d1), c["s"]), value=rem,
                 note=note))


def _volume_steps(sol: Solution, prob: ShapeProblem, axs: list[Axis], pre: str, psec: str, who: str,
                  params: bool) -> None:
    """The output volume and, unless the kernels are given as numbers, the weights and biases."""
    h, w = axs[0], axs[-1]
    hs, ws = (_s("n_out"), _s("n_out")) if len(axs) == 1 else (_s("H_out"), _s("W_out"))
    if prob.pool:
        depth, dsym, dnote = prob.channels or 1, C, "pooling keeps the channel count C"
    else:
        depth, dsym, dnote = prob.filters or 1, L, "one output channel per filter"
    assumed = []
    if prob.channels is None:
        assumed.append("C = 1 (one input channel, grayscale)")
    if prob.filters is None and not prob.pool:
        assumed.append("L = 1 filter")
    if assumed:
        sol.notes.append(who + "assumed " + " and ".join(assumed)
                         + ("" if pre else "; set --channels / --filters to change it"))
    sol.add(Step(pre + "volume", psec, formula=times(hs, ws, dsym),
                 substituted=times(h.out, w.out, depth), value=(h.out, w.out, depth), shape=(3,),
                 note=f"height x width x depth; {dnote}"))
    sol.add(Step(pre + "activations", psec, formula=hs * ws * dsym,
                 substituted=Const(h.out) * Const(w.out) * Const(depth), value=h.out * w.out * depth,
                 unit="values", note="numbers stored for the output (its memory)"))
    if not params:
        return
    if prob.pool:
        sol.add(Step(pre + "params", psec, value=0, unit="parameters",
                     note=f"{prob.pool} pooling has no weights and no biases"))
        return
    G = prob.groups
    # a grouped convolution's filter spans the C / G channels of its group (a transposed one likewise)
    ch, kh, kw = (prob.channels or 1) // G, prob.k[0], prob.k[1]
    csym = C if G == 1 else C / _s("G")
    ksyms = (K, K) if kh == kw else (_s("k_h"), _s("k_w"))
    gnote = "" if G == 1 else (f"; groups G = {G}: each filter sees C/G = {ch} channel{'s' if ch > 1 else ''}"
                               + (" (depthwise)" if G == (prob.channels or 1) == depth else ""))
    sol.add(Step(pre + "weights", psec, formula=ksyms[0] * ksyms[1] * csym * L,
                 substituted=Const(kh) * Const(kw) * Const(ch) * Const(depth), value=kh * kw * ch * depth,
                 unit="parameters",
                 note=(f"each of the {depth} filters is {kh} x {kw} x {ch}" if depth > 1
                       else f"the filter is {kh} x {kw} x {ch}") + gnote))
    sol.add(Step(pre + "biases", psec, formula=L, substituted=Const(depth), value=depth,
                 unit="parameters", note="one bias per filter"))
    sol.add(Step(pre + "params", psec, formula=(ksyms[0] * ksyms[1] * csym + 1) * L,
                 substituted=(Const(kh) * Const(kw) * Const(ch) + 1) * Const(depth),
                 value=(kh * kw * ch + 1) * depth, unit="parameters",
                 note=f"{kh * kw * ch * depth} weights + {depth} bias{'es' if depth > 1 else ''}"))


def _pair(t) -> str:
    return str(t[0]) if t[0] == t[1] else f"{t[0]}x{t[1]}"


def shape_title(prob: ShapeProblem) -> str:
    kind = "transposed convolution" if prob.transposed else \
        (f"{prob.pool} pooling" if prob.pool else "convolution")
    what = f"window {prob.k[0]}x{prob.k[1]}" if prob.pool else \
        f"{prob.filters or 1} filter(s) {prob.k[0]}x{prob.k[1]}x{(prob.channels or 1) // max(prob.groups, 1)}"
    p = prob.p if prob.p == "same" else _pair(prob.p)
    extra = f", d={_pair(prob.d)}" if prob.d != (1, 1) else ""
    extra += f", groups {prob.groups}" if prob.groups != 1 else ""
    if prob.transposed and prob.output_padding != (0, 0):
        extra += f", output padding {_pair(prob.output_padding)}"
    return (f"Output size of a {kind}: input {prob.n[0]}x{prob.n[1]}x{prob.channels or 1}, {what}, "
            f"p={p}, s={_pair(prob.s)}{extra}")


def solve_shape(prob: ShapeProblem, blame: Blame = flag_blame) -> Solution:
    prob = validate(prob, blame)
    sol = Solution(title=shape_title(prob), kind="conv-shape")
    shape_steps(sol, prob)
    return sol
