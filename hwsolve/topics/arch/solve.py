"""Layer tables of CNNs (activation volume, memory, weights and biases) and ViT patch arithmetic.

Pure Python integers, like conv-shape: no numpy or sympy here.

Compact notation (seed 003 Q3): ``INPUT 32x32x1``, ``CONV5-10`` (10 filters 5 x 5 x D),
``POOL2`` (2 x 2 window), ``FC-10`` (10 output neurons); also ``RELU``, ``FLATTEN``, ``BN``,
``DROPOUT``. Padding and stride of CONV / POOL come from the spec's defaults.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction

from hwsolve.topics.conv.solve import ShapeProblem, _s, shape_steps, validate
from hwsolve.core.errors import HwsolveError
from hwsolve.core.records import Solution, Step
from hwsolve.core.sym import Const, Expr, Symbol, sum_of, times

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
    mode: str = "max"  # pooling
    bias: bool = True
    rate: Fraction | None = None  # dropout
    layers: int = 1  # stacked recurrent layers (num_layers)
    heads: int = 0  # attention heads
    ff: int = 0  # transformer feed-forward width
    where: object = None  # callable(message) -> Exception


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


def solve_arch(prob: ArchProblem) -> Solution:
    sol = Solution(title=prob.title or "CNN layer table", kind="arch")
    if prob.source:
        sol.source = prob.source
    layers = prob.layers
    if not layers or layers[0].type != "input":
        raise _err(layers[0] if layers else Layer("input", ""), "the first layer must be INPUT HxWxC")
    vol: tuple = ()
    rows = []  # (index, label, volume, params, param expr, param formula)
    macs: dict[int, int] = {}  # layer index -> multiply-adds
    convs: list = []  # (index, label, kernel, stride, dilation) for the receptive field
    for i, ly in enumerate(layers):
        pre = f"L{i}."
        sec = f"L{i}"
        if ly.type == "input":
            if i:
                raise _err(ly, "INPUT may only be the first layer")
            vol = ly.size
            rows.append((i, ly, vol, 0, None, None, "the input" + (" image" if len(vol) == 3 else "")
                         + ": no parameters"))
            continue
        if i == 0:
            raise _err(ly, "the first layer must be INPUT HxWxC")
        sol.sections[sec] = f"Layer {i}: {ly.label} ({_describe(ly)})"
        if ly.type in ("conv", "pool"):
            if len(vol) != 3:
                raise _err(ly, f"{ly.label} needs an HxWxC volume, but its input is the vector "
                               f"{_vol_text(vol)}")
            H, W, D = vol
            shp = ShapeProblem(n=(H, W), k=ly.kernel, p=ly.padding, s=ly.stride, d=ly.dilation,
                               filters=ly.filters if ly.type == "conv" else None, channels=D,
                               pool=ly.mode if ly.type == "pool" else None)
            shp = validate(shp, lambda key, msg, ly=ly: _err(ly, f"{ly.label}: {msg}"))
            axs = shape_steps(sol, shp, prefix=pre, section=sec, heading=sol.sections[sec],
                              params=False, formula=False, volume=False)
            depth = ly.filters if ly.type == "conv" else D
            new = (axs[0].out, axs[-1].out, depth)
            convs.append((i, ly.label, shp.k, shp.s, shp.d))
            if ly.type == "conv":
                macs[i] = new[0] * new[1] * depth * shp.k[0] * shp.k[1] * D
                k = ly.kernel
                ks = (Symbol("k"), Symbol("k")) if k[0] == k[1] else (_s("k_h"), _s("k_w"))
                w = k[0] * k[1] * D * depth
                b = depth if ly.bias else 0
                sol.add(Step(pre + "weights", sec, formula=ks[0] * ks[1] * Symbol("D") * Symbol("N"),
                             substituted=Const(k[0]) * Const(k[1]) * Const(D) * Const(depth), value=w,
                             unit="parameters", note=f"{depth} filters of {k[0]} x {k[1]} x {D}, D = the "
                                                     "depth of the previous volume"))
                sol.add(Step(pre + "biases", sec, formula=Symbol("N") if ly.bias else None,
                             substituted=Const(depth) if ly.bias else None, value=b,
                             unit="parameters", note="one per filter" if ly.bias else "bias: false"))
                pexpr = (Const(k[0]) * Const(k[1]) * Const(D) + 1) * Const(depth) if ly.bias \
                    else Const(k[0]) * Const(k[1]) * Const(D) * Const(depth)
                pform = (ks[0] * ks[1] * Symbol("D") + 1) * Symbol("N") if ly.bias \
                    else ks[0] * ks[1] * Symbol("D") * Symbol("N")
                rows.append((i, ly, new, w + b, pexpr, pform, f"{w} weights + {b} biases"))
            else:
                rows.append((i, ly, new, 0, None, None, f"{ly.mode} pooling: no parameters"))
            vol = new
        elif _on_sequence(ly, vol):
            from hwsolve.topics.arch.counting import sequence_layer

            vol, p, macs[i], note = sequence_layer(sol, ly, vol, pre, sec)
            rows.append((i, ly, vol, p, None, None, note))
        elif ly.type == "fc":
            fin = vol[0] if len(vol) == 1 else None
            if len(vol) != 1:
                fin = vol[0] * vol[1] * vol[2]
                sol.add(Step(pre + "flatten", sec, formula=_vol_expr(tuple(Symbol(x) for x in "HWD")),
                             substituted=_vol_expr(vol), value=fin, unit="inputs",
                             note=f"the {_vol_text(vol)} volume is flattened to a vector of {fin} "
                                  f"before {ly.label}"))
            n = ly.filters
            w, b = fin * n, (n if ly.bias else 0)
            macs[i] = w
            sol.add(Step(pre + "weights", sec, formula=_s("n_in") * Symbol("N"),
                         substituted=Const(fin) * Const(n), value=w, unit="parameters",
                         note=f"every one of the {n} outputs is connected to every one of the {fin} inputs"))
            sol.add(Step(pre + "biases", sec, formula=Symbol("N") if ly.bias else None,
                         substituted=Const(n) if ly.bias else None, value=b, unit="parameters",
                         note="one per output neuron" if ly.bias else "bias: false"))
            pexpr = (Const(fin) * Const(n) + Const(n)) if ly.bias else Const(fin) * Const(n)
            pform = (_s("n_in") * Symbol("N") + Symbol("N")) if ly.bias else _s("n_in") * Symbol("N")
            vol = (n,)
            rows.append((i, ly, vol, w + b, pexpr, pform, f"{w} weights + {b} biases"))
        elif ly.type == "flatten":
            fin = 1
            for x in vol:
                fin *= x
            sol.add(Step(pre + "flatten", sec, formula=_vol_expr(tuple(Symbol(x) for x in "HWD"))
                         if len(vol) == 3 else None, substituted=_vol_expr(vol), value=fin,
                         unit="values", note="reshape only: no parameters"))
            vol = (fin,)
            rows.append((i, ly, vol, 0, None, None, "reshape: no parameters"))
        elif ly.type == "batchnorm":
            c = vol[-1]
            sol.add(Step(pre + "gamma", sec, formula=Symbol("C"), substituted=Const(c), value=c,
                         unit="parameters", note="one scale per channel (learned)"))
            sol.add(Step(pre + "beta", sec, formula=Symbol("C"), substituted=Const(c), value=c,
                         unit="parameters", note="one shift per channel (learned)"))
            sol.notes.append(f"layer {i} {ly.label}: the running mean and variance ({2 * c} numbers) "
                             "are stored but not learned, so they are not counted as parameters")
            rows.append((i, ly, vol, 2 * c, Const(2) * Const(c), Const(2) * Symbol("C"),
                         f"{c} scales (gamma) + {c} shifts (beta)"))
        else:  # dropout, relu
            what = "dropout" if ly.type == "dropout" else "ReLU"
            rows.append((i, ly, vol, 0, None, None, f"{what}: element-wise, same volume, no parameters"))
    # the sheet's table
    sol.sections["table"] = "Table: activation volume (memory) and parameters per layer"
    for i, ly, v, p, pexpr, pform, note in rows:
        n_act = 1
        for x in v:
            n_act *= x
        sol.add(Step(f"volume[{i}]", "table", formula=None, substituted=_vol_expr(v), value=n_act,
                     unit="activations", note=ly.label))
        sol.add(Step(f"params[{i}]", "table", formula=pform, substituted=pexpr, value=p,
                     unit="parameters", note=_with_thousands(f"{ly.label}: {note}", p)))
        _macs_step(sol, i, ly, macs)
    sol.sections["totals"] = "Totals"
    total_p = sum(r[3] for r in rows)
    acts = []
    for r in rows:
        n_act = 1
        for x in r[2]:
            n_act *= x
        acts.append(n_act)
    sol.add(Step("total_params", "totals", substituted=sum_of([Const(r[3]) for r in rows]),
                 value=total_p, unit="parameters", note=f"weights and biases of every layer: {total_p:,}"))
    total_m = sum(macs.values())
    sol.add(Step("total_macs", "totals", value=total_m, unit="multiply-adds",
                 note=f"{total_m:,} for one input; bias adds, pooling, norms and activations not counted"))
    total_w = sum(_weights(r) for r in rows)
    sol.add(Step("total_weights", "totals", value=total_w, unit="parameters"))
    from hwsolve.topics.arch.counting import receptive_field

    receptive_field(sol, convs)
    sol.add(Step("total_biases", "totals", value=total_p - total_w, unit="parameters",
                 note="batch-norm shifts (beta) count as biases, scales (gamma) as weights"
                 if any(r[1].type == "batchnorm" for r in rows) else ""))
    sol.add(Step("total_activations", "totals", substituted=sum_of([Const(a) for a in acts]),
                 value=sum(acts), unit="activations",
                 note="numbers stored in one forward pass of one image, input included"))
    return sol


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


def _weights(row) -> int:
    i, ly, v, p, *_ = row
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


def parse_token(text: str, defaults: dict, where) -> Layer:
    """One compact layer token; `defaults` maps 'conv'/'pool' to dicts of padding/stride/... ."""
    t = " ".join(text.strip().split())
    up = t.upper()
    for rx, kind in _TOKENS:
        m = rx.match(up)
        if not m:
            continue
        g = m.groups()
        if kind == "input":
            size = tuple(int(x) for x in g)
            if min(size) < 1:
                raise where(f"every input size must be at least 1, got {t}")
            return Layer("input", t, size=size, where=where)
        if kind == "input_seq":
            return Layer("input", t, size=(int(g[0]), int(g[1])), where=where)
        if kind == "recurrent":
            return Layer(g[0].lower(), t, filters=int(g[1]), layers=int(g[2] or 1), where=where)
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
# Vision Transformer patches


@dataclass(frozen=True)
class VitProblem:
    image: tuple[int, int]
    patch: tuple[int, int]
    channels: int = 3
    dim: int | None = None
    cls_token: bool = True
    title: str = ""


def vit_from_flags(image, patch, channels, dim, cls_token: bool) -> VitProblem:
    from hwsolve.topics.conv.sizes import parse_count, parse_pair

    if image is None:
        raise HwsolveError("missing the image size (e.g. --image 224), or give a SPEC file", field="--image")
    if patch is None:
        raise HwsolveError("missing the patch size (e.g. --patch 16)", field="--patch")
    return check_vit(VitProblem(image=parse_pair(image, "--image"), patch=parse_pair(patch, "--patch"),
                                channels=parse_count(channels, "--channels") or 3,
                                dim=parse_count(dim, "--dim"), cls_token=cls_token))


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
