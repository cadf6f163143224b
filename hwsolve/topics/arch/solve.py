"""Layer tables of CNNs (activation volume, memory, weights and biases) and ViT patch arithmetic.

Pure Python integers, like conv-shape: no numpy or sympy here. The problems come from spec.py
(YAML files, compact layer tokens such as CONV5-10, vit-patches flags); nothing here reads text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, NamedTuple

from hwsolve.topics.conv.solve import ShapeProblem, _s, shape_steps, validate
from hwsolve.core.errors import HwsolveError
from hwsolve.core.records import Solution, Step
from hwsolve.core.sym import Const, Expr, Symbol, sum_of, times

if TYPE_CHECKING:
    from collections.abc import Callable

SUM_SHOWN = 40   # a total's terms written out, at most (a table may have 1000 layers)
LAYER_TYPES = ("input", "conv", "pool", "fc", "flatten", "batchnorm", "dropout", "relu",
               "rnn", "lstm", "gru", "mha", "transformer")
SEQUENCE_TYPES = ("rnn", "lstm", "gru", "mha", "transformer")


@dataclass
class Layer:
    """One row of the table. `where` raises an error pointing at the spec line of the layer."""

    type: str
    label: str  # as the sheet writes it: CONV5-10
    size: tuple = ()  # input: (H, W, C) or (N,)
    kernel: tuple[int, int] = (1, 1)
    filters: int = 0  # conv filters / fc units
    padding: tuple[int, int] | str = (0, 0)
    stride: tuple[int, int] | None = None
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1  # conv: grouped convolution (PyTorch's groups; depthwise when groups = channels = filters)
    mode: str = "max"  # pooling
    bias: bool = True
    rate: Fraction | float | None = None  # dropout
    layers: int = 1  # stacked recurrent layers (num_layers)
    heads: int = 0  # attention heads
    ff: int = 0  # transformer feed-forward width
    where: Callable[[str], Exception] | None = None  # message -> an error pointing at the spec line


@dataclass
class ArchProblem:
    title: str
    layers: list[Layer] = field(default_factory=list)
    source: str = ""


def _err(layer: Layer, message: str) -> Exception:
    return layer.where(message) if layer.where else HwsolveError(message)


def _vol_expr(v: tuple) -> Expr:
    return times(*v) if len(v) > 1 else Const(v[0])


def _vol_text(v: tuple) -> str:
    return "x".join(str(x) for x in v)


class _Row(NamedTuple):
    """One row of the sheet's table."""

    number: int  # the layer's index (0: the input)
    layer: Layer
    volume: tuple
    params: int
    params_expr: Expr | None  # the count with the numbers substituted
    params_formula: Expr | None  # the count in symbols
    note: str


@dataclass
class _Tally:
    """What the layer steps accumulate for the table, the totals and the receptive field."""

    rows: list[_Row] = field(default_factory=list)
    macs: dict[int, int] = field(default_factory=dict)  # layer index -> multiply-adds
    convs: list = field(default_factory=list)  # (index, label, kernel, stride, dilation)


def solve_arch(prob: ArchProblem) -> Solution:
    sol = Solution(title=prob.title or "CNN layer table", kind="arch")
    if prob.source:
        sol.source = prob.source
    layers = prob.layers
    if not layers or layers[0].type != "input":
        raise _err(layers[0] if layers else Layer("input", ""), "the first layer must be INPUT HxWxC")
    tally = _Tally()
    vol: tuple = layers[0].size
    tally.rows.append(_Row(0, layers[0], vol, 0, None, None,
                           "the input" + (" image" if len(vol) == 3 else "") + ": no parameters"))
    for i, ly in enumerate(layers[1:], start=1):
        if ly.type == "input":
            raise _err(ly, "INPUT may only be the first layer")
        sol.sections[f"L{i}"] = f"Layer {i}: {ly.label} ({_describe(ly)})"
        steps = _sequence_steps if _on_sequence(ly, vol) else _LAYER_STEPS[ly.type]
        vol = steps(sol, tally, i, ly, vol)
    _table_steps(sol, tally)
    _totals_steps(sol, tally)
    return sol


# One function per layer type: each adds the layer's steps (in section L{i}, names prefixed L{i}.),
# appends its row to the tally and returns the volume it outputs.


def _window_volume(sol: Solution, tally: _Tally, i: int, ly: Layer, vol: tuple) -> tuple[ShapeProblem, tuple]:
    """The output size of a conv or pool layer, axis by axis (conv-shape's steps)."""
    if len(vol) != 3:
        raise _err(ly, f"{ly.label} needs an HxWxC volume, but its input is the vector {_vol_text(vol)}")
    H, W, D = vol
    shp = ShapeProblem(n=(H, W), k=ly.kernel, p=ly.padding, s=ly.stride, d=ly.dilation,
                       filters=ly.filters if ly.type == "conv" else None, channels=D,
                       pool=ly.mode if ly.type == "pool" else None)
    shp = validate(shp, lambda key, msg: _err(ly, f"{ly.label}: {msg}"))
    sec = f"L{i}"
    axs = shape_steps(sol, shp, prefix=sec + ".", section=sec, heading=sol.sections[sec],
                      params=False, formula=False, volume=False)
    tally.convs.append((i, ly.label, shp.k, shp.s, shp.d))
    depth = ly.filters if ly.type == "conv" else D
    return shp, (axs[0].out, axs[-1].out, depth)


def _conv_steps(sol: Solution, tally: _Tally, i: int, ly: Layer, vol: tuple) -> tuple:
    shp, new = _window_volume(sol, tally, i, ly, vol)
    D, depth, G = vol[2], new[2], ly.groups
    if D % G or depth % G:
        raise _err(ly, f"{ly.label}: groups = {G} must divide the input depth {D} and the filters {depth}")
    Dg = D // G      # each filter sees the D / G channels of its group
    tally.macs[i] = new[0] * new[1] * depth * shp.k[0] * shp.k[1] * Dg
    pre, sec = f"L{i}.", f"L{i}"
    k = ly.kernel
    ks = (Symbol("k"), Symbol("k")) if k[0] == k[1] else (_s("k_h"), _s("k_w"))
    dsym = Symbol("D") if G == 1 else Symbol("D") / Symbol("G")
    w = k[0] * k[1] * Dg * depth
    b = depth if ly.bias else 0
    group_note = "" if G == 1 else (f"; groups G = {G}: each filter sees D/G = {Dg} channel{'s' if Dg > 1 else ''}"
                                    + (" (depthwise)" if G == D == depth else ""))
    sol.add(Step(pre + "weights", sec, formula=ks[0] * ks[1] * dsym * Symbol("N"),
                 substituted=Const(k[0]) * Const(k[1]) * Const(Dg) * Const(depth), value=w,
                 unit="parameters", note=f"{depth} filters of {k[0]} x {k[1]} x {Dg}, D = the "
                                         "depth of the previous volume" + group_note))
    sol.add(Step(pre + "biases", sec, formula=Symbol("N") if ly.bias else None,
                 substituted=Const(depth) if ly.bias else None, value=b,
                 unit="parameters", note="one per filter" if ly.bias else "bias: false"))
    pexpr = (Const(k[0]) * Const(k[1]) * Const(Dg) + 1) * Const(depth) if ly.bias \
        else Const(k[0]) * Const(k[1]) * Const(Dg) * Const(depth)
    pform = (ks[0] * ks[1] * dsym + 1) * Symbol("N") if ly.bias \
        else ks[0] * ks[1] * dsym * Symbol("N")
    tally.rows.append(_Row(i, ly, new, w + b, pexpr, pform, f"{w} weights + {b} biases"))
    return new


def _pool_steps(sol: Solution, tally: _Tally, i: int, ly: Layer, vol: tuple) -> tuple:
    _, new = _window_volume(sol, tally, i, ly, vol)
    tally.rows.append(_Row(i, ly, new, 0, None, None, f"{ly.mode} pooling: no parameters"))
    return new


def _sequence_steps(sol: Solution, tally: _Tally, i: int, ly: Layer, vol: tuple) -> tuple:
    """A recurrent or attention layer, or FC applied to every token (see counting.py)."""
    from hwsolve.topics.arch.counting import sequence_layer

    new, p, tally.macs[i], note = sequence_layer(sol, ly, vol, f"L{i}.", f"L{i}")
    tally.rows.append(_Row(i, ly, new, p, None, None, note))
    return new


def _fc_steps(sol: Solution, tally: _Tally, i: int, ly: Layer, vol: tuple) -> tuple:
    pre, sec = f"L{i}.", f"L{i}"
    fin = vol[0]
    if len(vol) != 1:
        fin = vol[0] * vol[1] * vol[2]
        sol.add(Step(pre + "flatten", sec, formula=_vol_expr(tuple(Symbol(x) for x in "HWD")),
                     substituted=_vol_expr(vol), value=fin, unit="inputs",
                     note=f"the {_vol_text(vol)} volume is flattened to a vector of {fin} before {ly.label}"))
    n = ly.filters
    w, b = fin * n, (n if ly.bias else 0)
    tally.macs[i] = w
    sol.add(Step(pre + "weights", sec, formula=_s("n_in") * Symbol("N"),
                 substituted=Const(fin) * Const(n), value=w, unit="parameters",
                 note=f"every one of the {n} outputs is connected to every one of the {fin} inputs"))
    sol.add(Step(pre + "biases", sec, formula=Symbol("N") if ly.bias else None,
                 substituted=Const(n) if ly.bias else None, value=b, unit="parameters",
                 note="one per output neuron" if ly.bias else "bias: false"))
    pexpr = (Const(fin) * Const(n) + Const(n)) if ly.bias else Const(fin) * Const(n)
    pform = (_s("n_in") * Symbol("N") + Symbol("N")) if ly.bias else _s("n_in") * Symbol("N")
    tally.rows.append(_Row(i, ly, (n,), w + b, pexpr, pform, f"{w} weights + {b} biases"))
    return (n,)


def _flatten_steps(sol: Solution, tally: _Tally, i: int, ly: Layer, vol: tuple) -> tuple:
    fin = _count(vol)
    sol.add(Step(f"L{i}.flatten", f"L{i}", formula=_vol_expr(tuple(Symbol(x) for x in "HWD"))
                 if len(vol) == 3 else None, substituted=_vol_expr(vol), value=fin,
                 unit="values", note="reshape only: no parameters"))
    tally.rows.append(_Row(i, ly, (fin,), 0, None, None, "reshape: no parameters"))
    return (fin,)


def _batchnorm_steps(sol: Solution, tally: _Tally, i: int, ly: Layer, vol: tuple) -> tuple:
    pre, sec = f"L{i}.", f"L{i}"
    c = vol[-1]
    sol.add(Step(pre + "gamma", sec, formula=Symbol("C"), substituted=Const(c), value=c,
                 unit="parameters", note="one scale per channel (learned)"))
    sol.add(Step(pre + "beta", sec, formula=Symbol("C"), substituted=Const(c), value=c,
                 unit="parameters", note="one shift per channel (learned)"))
    sol.notes.append(f"layer {i} {ly.label}: the running mean and variance ({2 * c} numbers) "
                     "are stored but not learned, so they are not counted as parameters")
    tally.rows.append(_Row(i, ly, vol, 2 * c, Const(2) * Const(c), Const(2) * Symbol("C"),
                           f"{c} scales (gamma) + {c} shifts (beta)"))
    return vol


def _elementwise_steps(sol: Solution, tally: _Tally, i: int, ly: Layer, vol: tuple) -> tuple:
    """Dropout and ReLU: no steps of their own, only a row of the table."""
    what = "dropout" if ly.type == "dropout" else "ReLU"
    tally.rows.append(_Row(i, ly, vol, 0, None, None, f"{what}: element-wise, same volume, no parameters"))
    return vol


_LAYER_STEPS = {"conv": _conv_steps, "pool": _pool_steps, "fc": _fc_steps, "flatten": _flatten_steps,
                "batchnorm": _batchnorm_steps, "dropout": _elementwise_steps, "relu": _elementwise_steps}


def _count(vol: tuple) -> int:
    """The number of values in a volume: the product of its sizes."""
    n = 1
    for x in vol:
        n *= x
    return n


def _table_steps(sol: Solution, tally: _Tally) -> None:
    """The sheet's table: activation volume, parameters and multiply-adds of every layer."""
    sol.sections["table"] = "Table: activation volume (memory) and parameters per layer"
    for i, ly, v, p, pexpr, pform, note in tally.rows:
        sol.add(Step(f"volume[{i}]", "table", formula=None, substituted=_vol_expr(v), value=_count(v),
                     unit="activations", note=ly.label))
        sol.add(Step(f"params[{i}]", "table", formula=pform, substituted=pexpr, value=p,
                     unit="parameters", note=_with_thousands(f"{ly.label}: {note}", p)))
        _macs_step(sol, i, ly, tally.macs)


def _totals_steps(sol: Solution, tally: _Tally) -> None:
    """Totals over the table, with the receptive field section between weights and biases."""
    from hwsolve.topics.arch.counting import receptive_field

    rows = tally.rows
    sol.sections["totals"] = "Totals"
    total_p = sum(r.params for r in rows)
    # a flatten is a reshape of the numbers above it, stored once: counted there, not again (as
    # the flatten before a fully-connected layer that is not written adds nothing)
    acts = [_count(r.volume) for r in rows if r.layer.type != "flatten"]
    reshaped = any(r.layer.type == "flatten" for r in rows)
    sol.add(Step("total_params", "totals", substituted=sum_of([Const(r.params) for r in rows], SUM_SHOWN),
                 value=total_p, unit="parameters", note=f"weights and biases of every layer: {total_p:,}"))
    total_m = sum(tally.macs.values())
    sol.add(Step("total_macs", "totals", value=total_m, unit="multiply-adds",
                 note=f"{total_m:,} for one input; bias adds, pooling, norms and activations not counted"))
    total_w = sum(_weights(r) for r in rows)
    sol.add(Step("total_weights", "totals", value=total_w, unit="parameters"))
    receptive_field(sol, tally.convs)
    sol.add(Step("total_biases", "totals", value=total_p - total_w, unit="parameters",
                 note="batch-norm shifts (beta) count as biases, scales (gamma) as weights"
                 if any(r.layer.type == "batchnorm" for r in rows) else ""))
    sol.add(Step("total_activations", "totals", substituted=sum_of([Const(a) for a in acts], SUM_SHOWN),
                 value=sum(acts), unit="activations",
                 note="numbers stored in one forward pass of one image, input included" +
                 ("; a flatten reshapes the numbers above it, not counted again" if reshaped else "")))


def _on_sequence(ly: Layer, vol: tuple) -> bool:
    """A sequence layer, or a fully-connected layer applied to every token of a T x d sequence."""
    return ly.type in SEQUENCE_TYPES or (ly.type == "fc" and len(vol) == 2)


def _with_thousands(note: str, n: int) -> str:
    """The count with thousands separators after a note, unless the note already has it."""
    return note if n < 10_000 or f"{n:,}" in note else f"{note} ({n:,})"


def _macs_step(sol: Solution, i: int, ly: Layer, macs: dict) -> None:
    if i == 0:  # the input
        return
    m = macs.get(i, 0)
    sol.add(Step(f"macs[{i}]", "table", value=m, unit="multiply-adds",
                 note=f"{ly.label}: {m:,}" if m else f"{ly.label}: no multiply-adds"))


def _weights(row: _Row) -> int:
    ly, v, p = row.layer, row.volume, row.params
    if ly.type in SEQUENCE_TYPES:
        from hwsolve.topics.arch.counting import GATES

        if ly.type in GATES:
            return p - (2 * GATES[ly.type] * ly.filters * ly.layers if ly.bias else 0)
        d = v[1]
        return 4 * d * d + (2 * d * ly.ff + 2 * d if ly.type == "transformer" else 0)  # + the norms' gammas
    if ly.type == "conv" or ly.type == "fc":
        return p - (ly.filters if ly.bias else 0)
    if ly.type == "batchnorm":
        return p // 2
    return 0


def _describe(ly: Layer) -> str:
    def pair(t):
        return str(t[0]) if t[0] == t[1] else f"{t[0]}x{t[1]}"
    if ly.type == "conv":
        pad = ly.padding if ly.padding == "same" else pair(ly.padding)
        extra = f", dilation {pair(ly.dilation)}" if ly.dilation != (1, 1) else ""
        extra += f", groups {ly.groups}" if ly.groups != 1 else ""
        return (f"{ly.filters} filters {ly.kernel[0]}x{ly.kernel[1]}, padding {pad}, "
                f"stride {pair(ly.stride or (1, 1))}{extra}")
    if ly.type == "pool":
        s = ly.stride or ly.kernel
        return f"{ly.mode} pooling {ly.kernel[0]}x{ly.kernel[1]}, stride {pair(s)}, padding {pair(ly.padding)}"
    if ly.type == "fc":
        return f"fully connected, {ly.filters} outputs"
    if ly.type == "batchnorm":
        return "batch normalisation"
    if ly.type == "dropout":
        return "dropout" + (f" p={ly.rate}" if ly.rate is not None else "")
    if ly.type in ("rnn", "lstm", "gru"):
        return f"{ly.type.upper()}, hidden size {ly.filters}" + (f", {ly.layers} layers" if ly.layers > 1 else "")
    if ly.type == "mha":
        return f"multi-head attention, {ly.heads} heads"
    if ly.type == "transformer":
        return f"transformer encoder block, {ly.heads} heads, feed-forward {ly.ff}"
    return ly.type


# ---------------------------------------------------------------------------------------------
# Vision Transformer patches


@dataclass(frozen=True)
class VitProblem:
    image: tuple[int, int]
    patch: tuple[int, int]
    channels: int = 3
    dim: int | None = None
    cls_token: bool = True
    title: str = ""


def check_vit(prob: VitProblem, blame=None) -> VitProblem:
    blame = blame or (lambda key, msg: HwsolveError(msg, field=key))
    for i, side in enumerate(("height", "width")):
        im, pa = prob.image[i], prob.patch[i]
        if pa > im:
            raise blame("--patch", f"the patch {side} {pa} is larger than the image {side} {im}")
        if im % pa:
            raise blame("--patch", f"the patch {side} {pa} does not divide the image {side} {im} "
                                   f"({im} / {pa} = {_frac_text(Fraction(im, pa))}); ViT patches tile "
                                   "the image exactly: resize or crop the image, or pick a divisor of "
                                   f"{im} such as {_divisors_near(im, pa)}")
    return prob


def _frac_text(q: Fraction) -> str:
    from hwsolve.core.numfmt import fmt_number

    return fmt_number(q)


def _divisors_near(n: int, p: int) -> str:
    divs = [d for d in range(max(1, p - 16), p + 17) if n % d == 0 and d != n]
    divs.sort(key=lambda d: abs(d - p))
    return " or ".join(str(d) for d in sorted(divs[:2])) or "1"


def solve_vit(prob: VitProblem) -> Solution:
    (H, W), (P1, P2), C, D = prob.image, prob.patch, prob.channels, prob.dim
    sq = H == W and P1 == P2
    title = prob.title or (f"ViT patches: {H}x{W}x{C} image, {P1}x{P2} patches"
                           + (f", embedding dimension {D}" if D else ""))
    sol = Solution(title=title, kind="vit")
    sol.sections["patches"] = "Patches"
    if sq:
        sol.add(Step("per_side", "patches", formula=Symbol("H") / Symbol("P"),
                     substituted=Const(H) / Const(P1), value=H // P1,
                     note="patches along each side (the patch divides the image exactly)"))
        form = (Symbol("H") / Symbol("P")) ** 2
        sub = (Const(H) / Const(P1)) ** 2
    else:
        sol.add(Step("rows", "patches", formula=Symbol("H") / _s("P_h"), substituted=Const(H) / Const(P1),
                     value=H // P1, note="patches down the image"))
        sol.add(Step("cols", "patches", formula=Symbol("W") / _s("P_w"), substituted=Const(W) / Const(P2),
                     value=W // P2, note="patches across the image"))
        form = (Symbol("H") / _s("P_h")) * (Symbol("W") / _s("P_w"))
        sub = (Const(H) / Const(P1)) * (Const(W) / Const(P2))
    N = (H // P1) * (W // P2)
    sol.add(Step("num_patches", "patches", formula=form, substituted=sub, value=N,
                 note="non-overlapping patches (a convolution with kernel = stride = patch size)"))
    plen = P1 * P2 * C
    pform = (Symbol("P") ** 2 * Symbol("C")) if sq else _s("P_h") * _s("P_w") * Symbol("C")
    sol.add(Step("patch_len", "patches", formula=pform,
                 substituted=(Const(P1) ** 2 * Const(C)) if sq else Const(P1) * Const(P2) * Const(C),
                 value=plen, note=f"a flattened {P1} x {P2} x {C} patch"
                                  + (" (RGB: 3 channels)" if C == 3 else "")))
    if prob.cls_token:
        sol.add(Step("seq_len", "patches", formula=Symbol("N") + 1, substituted=Const(N) + 1,
                     value=N + 1, note="one token per patch plus the class token [CLS]"))
    else:
        sol.add(Step("seq_len", "patches", formula=Symbol("N"), substituted=Const(N), value=N,
                     note="one token per patch (no class token)"))
    if D:
        sol.sections["embedding"] = "Patch embedding"
        lf = Symbol("P") ** 2 * Symbol("C") if sq else _s("P_h") * _s("P_w") * Symbol("C")
        sol.add(Step("embed_weights", "embedding", formula=lf * Symbol("D"),
                     substituted=Const(plen) * Const(D), value=plen * D, unit="parameters",
                     note=f"the linear projection E maps each {plen}-vector to {D} dimensions"))
        sol.add(Step("embed_biases", "embedding", formula=Symbol("D"), substituted=Const(D), value=D,
                     unit="parameters", note="one bias per embedding dimension"))
        sol.add(Step("embed_params", "embedding", formula=(lf + 1) * Symbol("D"),
                     substituted=(Const(plen) + 1) * Const(D), value=(plen + 1) * D, unit="parameters",
                     note=f"{plen * D} weights + {D} biases (the patch-embedding layer)"))
        extra = []
        if prob.cls_token:
            sol.add(Step("cls_token", "embedding", formula=Symbol("D"), substituted=Const(D), value=D,
                         unit="parameters", note="the learned class-token vector"))
            extra.append(D)
        S = N + 1 if prob.cls_token else N
        sol.add(Step("pos_embed", "embedding", formula=Symbol("L_seq") * Symbol("D"),
                     substituted=Const(S) * Const(D), value=S * D, unit="parameters",
                     note="a learned position embedding per token (sinusoidal ones have none)"))
        extra.append(S * D)
        total = (plen + 1) * D + sum(extra)
        sol.add(Step("embed_total", "embedding",
                     substituted=sum_of([Const((plen + 1) * D)] + [Const(x) for x in extra]), value=total,
                     unit="parameters", note="embedding + class token + learned positions"))
        sol.add(Step("tokens_shape", "embedding", substituted=times(S, D), value=(S, D), shape=(2,),
                     note="what enters the transformer encoder"))
    return sol
