"""One layer's forward and backward pass, every step in the course's notation.

Each problem compiles into a `Graph` of the rules in autodiff/layer_ops.py, closed by
`GivenUpstream` (the gradient dL/dY the exercise gives) or a loss; the one backward loop gives the
gradients; this module writes them out the way a student does: each cell of dL/dX, dL/dK and
dL/db as its sum of products, the identities behind them, the max-pool routing, the batch-norm
statistics, the dropout mask, backprop through time, the attention softmax Jacobian.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from hwsolve.autodiff.graph import Graph
from hwsolve.autodiff.layer_ops import AvgPool2d, Conv2d, GivenUpstream, MaxPool2d
from hwsolve.core import values as T
from hwsolve.core.errors import MathError, SpecError
from hwsolve.core.records import Solution, Step
from hwsolve.core.sym import Const, Symbol, call, sum_of
from hwsolve.topics.conv.shape import too_many_terms
from hwsolve.topics.layers.spec import LayerProblem


def arr(value) -> np.ndarray:
    """Nested tuples of ints / Fractions / floats -> an exact array, or float if any is a float."""
    a = np.array(value, dtype=object)
    if any(isinstance(v, float) for v in a.flat):
        return a.astype(float)
    out = np.empty(a.shape, dtype=object)
    for idx, v in np.ndenumerate(a):
        out[idx] = Fraction(v)
    return out


def num(v):
    """A plain Python number for display: whole Fractions as int."""
    if isinstance(v, Fraction):
        return v.numerator if v.denominator == 1 else v
    if isinstance(v, (np.floating, float)):
        return float(v)
    return v


def mat(a: np.ndarray) -> tuple:
    return tuple(tuple(num(v) for v in row) for row in a)


def c(v) -> Const:
    return Const(num(v))


def dims(shape) -> str:
    """3x4, or 2x3x4 for several channels (one channel prints as its matrix)."""
    shape = tuple(shape)
    if len(shape) == 3 and shape[0] == 1:
        shape = shape[1:]
    return "x".join(map(str, shape))


def fail(prob: LayerProblem, key: str, message: str) -> SpecError:
    f = prob.fields.get(key)
    if f is None:
        return SpecError(message, file=prob.file)
    return f.error(message)


def solve_layer(prob: LayerProblem) -> Solution:
    sol = Solution(prob.title or TITLES[prob.type], "layer")
    if prob.question:
        sol.question = prob.question
    try:
        _solver(prob.type)(prob, sol)
    except MathError as e:
        if e.file:
            raise
        raise MathError(e.message, file=prob.file) from None
    return sol


def _section(sol: Solution, key: str, heading: str) -> str:
    sol.sections[key] = heading
    return key


def _given_matrix(sol: Solution, sec: str, name: str, a: np.ndarray, note: str = "") -> None:
    sol.add(Step(name, sec, value=mat(a), shape=a.shape, note=note, label=Symbol(name)))


def _channels(prefix: str, a: np.ndarray, one: bool) -> list[tuple[str, np.ndarray]]:
    """(name, matrix) per leading index: X, or X[0], X[1], ..."""
    if one:
        return [(prefix, a.reshape(a.shape[-2:]))]
    return [(f"{prefix}[{i}]", a[i]) for i in range(a.shape[0])]


# =============================================================================================
# convolution


class _ConvNames:
    """Index names: one channel and one filter print X[r,q], K[u,v]; else X[c,r,q], K[f,c,u,v]."""

    def __init__(self, channels: int, filters: int, padded: bool):
        self.one_c, self.one_f = channels == 1, filters == 1
        self.xname = "X_pad" if padded else "X"

    def x(self, ch: int, r: int, q: int, padded: bool = True) -> str:
        base = self.xname if padded else "X"
        return f"{base}[{r},{q}]" if self.one_c else f"{base}[{ch},{r},{q}]"

    def k(self, f: int, ch: int, u: int, v: int) -> str:
        idx = ([] if self.one_f else [f]) + ([] if self.one_c else [ch]) + [u, v]
        return "K[" + ",".join(map(str, idx)) + "]"

    def y(self, f: int, i: int, j: int) -> str:
        return f"Y[{i},{j}]" if self.one_f else f"Y[{f},{i},{j}]"

    def g(self, f: int, i: int, j: int) -> str:
        return "dL/d" + self.y(f, i, j)

    def b(self, f: int) -> str:
        return "b" if self.one_f else f"b[{f}]"


def _conv_inputs(prob: LayerProblem):
    x = arr(prob.arrays["X"])                      # C x H x W
    k = arr(prob.arrays["K"])                      # F x C x kh x kw
    b = None if prob.arrays["b"] is None else arr([[v] for v in prob.arrays["b"]])
    g = arr(prob.arrays["G"])                      # F x Ho x Wo
    x, k, g = T.unify(x, k, g) if b is None else T.unify(x, k, g, b)[:3]
    if b is not None:
        b = T.unify(x, b)[1]
    return x, k, b, g


def _check_conv_fits(prob: LayerProblem, op: Conv2d, x: np.ndarray, k: np.ndarray) -> tuple:
    (ph, pw), (dh, dw) = op.padding, op.dilation
    for side, n, kk, p, d in (("height", x.shape[1], k.shape[2], ph, dh), ("width", x.shape[2], k.shape[3], pw, dw)):
        span = d * (kk - 1) + 1
        if span > n + 2 * p:
            eff = f" (spanning {span} with dilation {d})" if d != 1 else ""
            raise fail(prob, "kernel" if "kernel" in prob.fields else "filters",
                       f"the kernel {side} {kk}{eff} is larger than the padded input {side} "
                       f"{n} + 2*{p} = {n + 2 * p}; expected a kernel that fits")
    shape = op.out_shape(x.shape, k.shape)
    # every output cell, and every cell of dL/dK and dL/dX, is written as its sum of products
    refused = too_many_terms(3 * int(np.prod(shape)) * k.shape[1] * k.shape[2] * k.shape[3],
                             "the convolution forward and backward")
    if refused:
        raise fail(prob, "kernel" if "kernel" in prob.fields else "filters", refused)
    return shape


def solve_conv(prob: LayerProblem, sol: Solution) -> None:
    s = prob.settings
    x, k, b, g = _conv_inputs(prob)
    op = Conv2d(s["stride"], s["padding"], s["dilation"], s["flip"], has_bias=b is not None)
    shape = _check_conv_fits(prob, op, x, k)
    if g.shape != shape:
        raise fail(prob, "upstream", f"dL/dY is {dims(g.shape)}, the output Y is {dims(shape)}: "
                                     "expected one gradient per output cell")
    F, C, kh, kw = k.shape
    graph = Graph(file=prob.file)
    xs_node = graph.leaf("X", Symbol("X"), "input", x)
    k_node = graph.leaf("K", Symbol("K"), "param", k)
    parents = [xs_node, k_node] + ([graph.leaf("b", Symbol("b"), "param", b)] if b is not None else [])
    y_node = graph.apply(op, parents, "Y", Symbol("Y"))
    loss = graph.apply(GivenUpstream(g), (y_node,), "L", Symbol("L"))
    graph.forward()
    grads = graph.gradients(loss)
    (ph, pw) = op.padding
    names = _ConvNames(C, F, bool(ph or pw))
    xp = np.zeros((C, x.shape[1] + 2 * ph, x.shape[2] + 2 * pw), dtype=x.dtype)
    if T.is_exact(x):
        xp = xp.astype(object) * Fraction(1)
    xp[:, ph:ph + x.shape[1], pw:pw + x.shape[2]] = x
    kern = k[:, :, ::-1, ::-1] if op.flip else k     # the kernel as cross-correlation uses it
    _conv_given(sol, prob, op, x, xp, k, kern, b, g, names)
    y_value = y_node.value
    assert y_value is not None, "graph.forward() has run"
    _conv_forward(sol, op, xp, kern, b, y_value.reshape((F,) + shape[-2:]), names)
    _conv_backward(sol, op, x, xp, kern, g, grads, (xs_node, k_node, parents[2] if b is not None else None),
                   names)
    _conv_identities(sol, op, xp, k, g, grads[xs_node], grads[k_node])
    sol.summary_title = "Gradients"
    sol.notes += [
        ("True convolution (operation: convolution): the kernel is rotated 180 degrees first, so "
         "the sums use rot180(K)." if op.flip else
         "Cross-correlation, as deep-learning libraries compute 'convolution': no kernel flip."),
        "Indices start at 0; zero padding; Y[i,j] reads X_pad rows i*s + u*d and columns j*s + v*d.",
        "Each gradient has the shape of its variable.",
    ]


def _conv_given(sol, prob, op, x, xp, k, kern, b, g, names) -> None:
    sec = _section(sol, "given", "Given")
    F, C = k.shape[:2]
    for nm, m in _channels("X", x, C == 1):
        _given_matrix(sol, sec, nm, m, "the input" + ("" if C == 1 else f", channel {nm[2:-1]}"))
    for f in range(F):
        for ch in range(C):
            nm = "K" + ("" if F == 1 else f"[{f}]") + ("" if C == 1 else f"[{ch}]")
            _given_matrix(sol, sec, nm, k[f, ch], "the kernel" if F == C == 1 else f"filter {f}, channel {ch}")
            if op.flip:
                _given_matrix(sol, sec, f"rot180({nm})", kern[f, ch], "true convolution uses the kernel "
                              "rotated 180 degrees")
    if b is not None:
        for f in range(F):
            sol.add(Step(names.b(f), sec, value=num(b[f, 0]), note="bias"))
    if op.padding != (0, 0):
        for nm, m in _channels("X_pad", xp, C == 1):
            _given_matrix(sol, sec, nm, m, f"{op.padding[0]} zero rows above and below, "
                                           f"{op.padding[1]} zero columns left and right")
    for nm, m in _channels("dL/dY", g, F == 1):
        _given_matrix(sol, sec, nm, m, "the gradient arriving at the output (given)")


def _taps(op: Conv2d, kh: int, kw: int, i: int, j: int):
    (sh, sw), (dh, dw) = op.stride, op.dilation
    for u in range(kh):
        for v in range(kw):
            yield u, v, i * sh + u * dh, j * sw + v * dw


def _conv_forward(sol, op, xp, kern, b, y, names) -> None:
    sec = _section(sol, "forward", "Forward pass: Y[i,j] = sum of the window times the kernel"
                   + (" (+ bias)" if b is not None else ""))
    F, C, kh, kw = kern.shape
    for f in range(F):
        for i in range(y.shape[1]):
            for j in range(y.shape[2]):
                form, subst = [], []
                for ch in range(C):
                    for u, v, r, q in _taps(op, kh, kw, i, j):
                        ku, kv = (kh - 1 - u, kw - 1 - v) if op.flip else (u, v)
                        form.append(Symbol(names.x(ch, r, q)) * Symbol(names.k(f, ch, ku, kv)))
                        subst.append(c(xp[ch, r, q]) * c(kern[f, ch, u, v]))
                fe, se = sum_of(form), sum_of(subst)
                if b is not None:
                    fe, se = fe + Symbol(names.b(f)), se + c(b[f, 0])
                sol.add(Step(names.y(f, i, j), sec, formula=fe, substituted=se, value=num(y[f, i, j])))
    for nm, m in _channels("Y", y, F == 1):
        sol.add(Step(nm, sec, value=mat(m), shape=m.shape, note="the output feature map"))


def _conv_backward(sol, op, x, xp, kern, g, grads, nodes, names) -> None:
    x_node, k_node, b_node = nodes
    F, C, kh, kw = kern.shape
    g3 = g.reshape((F,) + g.shape[-2:])
    ho, wo = g3.shape[1:]
    sec = gsec = _section(sol, "backward", "Backward pass, cell by cell")
    if b_node is not None:
        db = grads[b_node].reshape(-1)
        for f in range(F):
            terms = [(names.g(f, i, j), g3[f, i, j]) for i in range(ho) for j in range(wo)]
            sol.add(Step("dL/d" + names.b(f), sec, formula=sum_of(Symbol(t) for t, _ in terms),
                         substituted=sum_of(c(v) for _, v in terms), value=num(db[f]),
                         note="the bias is added to every output cell: sum of dL/dY"
                         + ("" if F == 1 else f"[{f}]")))
    dk = grads[k_node].reshape(kern.shape)
    dk_used = dk[:, :, ::-1, ::-1] if op.flip else dk  # gradient per tap as the sum uses it
    for f in range(F):
        for ch in range(C):
            for u in range(kh):
                for v in range(kw):
                    form, subst = [], []
                    for i in range(ho):
                        for j in range(wo):
                            r, q = i * op.stride[0] + u * op.dilation[0], j * op.stride[1] + v * op.dilation[1]
                            form.append(Symbol(names.g(f, i, j)) * Symbol(names.x(ch, r, q)))
                            subst.append(c(g3[f, i, j]) * c(xp[ch, r, q]))
                    ku, kv = (kh - 1 - u, kw - 1 - v) if op.flip else (u, v)
                    sol.add(Step("dL/d" + names.k(f, ch, ku, kv), sec, formula=sum_of(form),
                                 substituted=sum_of(subst), value=num(dk_used[f, ch, u, v]),
                                 note="every output cell this weight touched, times the input it met"))
    _conv_dx_cells(sol, sec, op, x, kern, g3, grads[x_node].reshape((C,) + x.shape[-2:]), names)
    if b_node is not None and F > 1:   # with one filter, the cell-by-cell step above is dL/db already
        _whole(sol, gsec, "dL/db", grads[b_node], "one per filter")
    whole = [((f"dL/dK[{f}]" if F > 1 else "dL/dK") + (f"[{ch}]" if C > 1 else ""), dk[f, ch])
             for f in range(F) for ch in range(C)]
    whole += _channels("dL/dX", grads[x_node].reshape((C,) + x.shape[-2:]), C == 1)
    for nm, m in whole:
        sol.add(Step(nm, gsec, value=mat(m), shape=m.shape))
    sol.summary += (["dL/db"] if b_node is not None else []) + [nm for nm, _ in whole]


def _whole(sol, sec, name, a, note=""):
    v = a.reshape(-1)
    sol.add(Step(name, sec, value=num(v[0]) if v.size == 1 else tuple(num(t) for t in v),
                 shape=() if v.size == 1 else (v.size,), note=note))


def _conv_dx_cells(sol, sec, op, x, kern, g3, dx, names) -> None:
    F, C, kh, kw = kern.shape
    (ph, pw) = op.padding
    ho, wo = g3.shape[1:]
    for ch in range(C):
        for r in range(x.shape[1]):
            for q in range(x.shape[2]):
                form, subst = [], []
                for f in range(F):
                    for i in range(ho):
                        for j in range(wo):
                            for u, v, rr, qq in _taps(op, kh, kw, i, j):
                                if (rr - ph, qq - pw) != (r, q):
                                    continue
                                ku, kv = (kh - 1 - u, kw - 1 - v) if op.flip else (u, v)
                                form.append(Symbol(names.g(f, i, j)) * Symbol(names.k(f, ch, ku, kv)))
                                subst.append(c(g3[f, i, j]) * c(kern[f, ch, u, v]))
                name = "dL/d" + names.x(ch, r, q, padded=False)
                if not form:
                    sol.add(Step(name, sec, value=num(dx[ch, r, q]),
                                 note="no window reads this input cell: its gradient is 0"))
                    continue
                sol.add(Step(name, sec, formula=sum_of(form), substituted=sum_of(subst),
                             value=num(dx[ch, r, q]),
                             note="every output cell whose window read this input, times the weight it met"))


def dilate(a: np.ndarray, s: tuple[int, int]) -> np.ndarray:
    """s - 1 zeros between neighbouring cells of each matrix (the last two axes)."""
    *lead, h, w = a.shape
    out = np.zeros(tuple(lead) + ((h - 1) * s[0] + 1, (w - 1) * s[1] + 1), dtype=a.dtype)
    if a.dtype == object:
        out = out * Fraction(1)
    out[..., ::s[0], ::s[1]] = a
    return out


def full_conv_dx(op: Conv2d, x_shape, k: np.ndarray, g: np.ndarray) -> np.ndarray:
    """dL/dX by the identity: dL/dY dilated by the stride, zero-padded by the kernel span - 1,
    cross-correlated with rot180(K) (dilated like K), then cropped by the padding."""
    F, C, kh, kw = k.shape
    kern = k[:, :, ::-1, ::-1] if op.flip else k
    rot = np.ascontiguousarray(kern[:, :, ::-1, ::-1])
    gd = dilate(g.reshape((F,) + g.shape[-2:]), op.stride)
    span = (op.dilation[0] * (kh - 1), op.dilation[1] * (kw - 1))
    ph, pw = op.padding
    hp, wp = x_shape[-2] + 2 * ph, x_shape[-1] + 2 * pw
    out = []
    for ch in range(C):
        full = Conv2d(1, span, op.dilation, has_bias=False).forward(
            [gd, np.ascontiguousarray(rot[:, ch])])
        padded = np.zeros((hp, wp), dtype=full.dtype) * (Fraction(1) if full.dtype == object else 1)
        fh, fw = min(full.shape[0], hp), min(full.shape[1], wp)  # rows past the last window get 0
        padded[:fh, :fw] = full[:fh, :fw]
        out.append(padded[ph:ph + x_shape[-2], pw:pw + x_shape[-1]])
    return np.array(out, dtype=out[0].dtype)


def corr_dk(op: Conv2d, xp: np.ndarray, g: np.ndarray, k_shape) -> np.ndarray:
    """dL/dK by the identity: the padded input cross-correlated with dL/dY (dilated by the
    stride inside the correlation), read at the kernel's dilation."""
    F, C, kh, kw = k_shape
    g3 = g.reshape((F,) + g.shape[-2:])
    out = np.zeros((F, C, kh, kw), dtype=xp.dtype) * (Fraction(1) if xp.dtype == object else 1)
    for f in range(F):
        for ch in range(C):
            full = Conv2d(op.dilation, 0, op.stride, has_bias=False).forward([xp[ch], g3[f]])
            out[f, ch] = full[:kh, :kw]
    return out[:, :, ::-1, ::-1] if op.flip else out


def _conv_identities(sol, op, xp, k, g, dx, dk) -> None:
    sec = _section(sol, "identities", "The same gradients as whole-array identities")
    F, C, kh, kw = k.shape
    dk_id = corr_dk(op, xp, g, k.shape)
    dx_id = full_conv_dx(op, dx.shape, k, g)
    X, G, K = Symbol("X_pad" if op.padding != (0, 0) else "X"), Symbol("dL/dY"), Symbol("K")
    stride = "" if op.stride == (1, 1) else f" (dL/dY's cells {op.stride[0]} apart: the stride)"
    form_k = call("corr", r"\operatorname{corr}", X, G)
    if op.flip:
        form_k = call("rot180", r"\operatorname{rot180}", form_k)
    for f in range(F):
        for ch in range(C):
            nm = "dL/dK" + ("" if F == 1 else f"[{f}]") + ("" if C == 1 else f"[{ch}]")
            sol.add(Step(nm + " (identity)", sec, formula=form_k, value=mat(dk_id[f, ch]), shape=(kh, kw),
                         note="dL/dK = X correlated with dL/dY" + stride
                         + ("; rotated back for true convolution" if op.flip else "")
                         + ("; matches the cell-by-cell sums" if (dk_id[f, ch] == dk.reshape(k.shape)[f, ch]).all()
                            else "; DOES NOT match the sums (please report)")))
    kk = call("rot180", r"\operatorname{rot180}", call("rot180", "", K) if op.flip else K)
    form_x = call("full_conv", r"\operatorname{full\_conv}", call("dilate_s", r"\operatorname{dilate}_s", G), kk)
    for ch in range(C):
        nm = "dL/dX" + ("" if C == 1 else f"[{ch}]")
        sol.add(Step(nm + " (identity)", sec, formula=form_x, value=mat(dx_id[ch]), shape=dx_id[ch].shape,
                     note=f"dL/dY dilated by the stride {op.stride} (s - 1 zeros between cells), "
                          f"padded by the kernel span - 1, correlated with the kernel rotated 180 degrees, "
                          f"then the padding {op.padding} cropped"
                          + ("; matches the cell-by-cell sums" if (dx_id[ch] == dx.reshape(dx_id.shape)[ch]).all()
                             else "; DOES NOT match the sums (please report)")))


# =============================================================================================
# pooling


def _check_pool(prob: LayerProblem, op, x: np.ndarray, g: np.ndarray) -> tuple:
    for axis, side in ((0, "height"), (1, "width")):
        n, kk, p = x.shape[1 + axis], op.window[axis], op.padding[axis]
        if kk > n + 2 * p:
            raise fail(prob, "window", f"the window {side} {kk} is larger than the padded input {side} "
                                       f"{n} + 2*{p} = {n + 2 * p}; expected a window that fits")
        if 2 * p > kk:
            raise fail(prob, "padding", f"padding {p} is more than half the window {side} {kk}: a window "
                                        "could hold only padding (PyTorch refuses this too)")
    shape = op.out_shape(x.shape)
    if g.shape != shape:
        raise fail(prob, "upstream", f"dL/dY is {dims(g.shape)}, the output Y is {dims(shape)}: "
                                     "expected one gradient per output cell")
    return shape


def _cell(name: str, ch: int, a: int, b: int, one: bool) -> str:
    return f"{name}[{a},{b}]" if one else f"{name}[{ch},{a},{b}]"


def solve_pool(prob: LayerProblem, sol: Solution) -> None:
    s = prob.settings
    x, g = T.unify(arr(prob.arrays["X"]), arr(prob.arrays["G"]))
    op = MaxPool2d(s["window"], s["stride"], s["padding"]) if s["mode"] == "max" else \
        AvgPool2d(s["window"], s["stride"], s["padding"], s.get("count_include_pad", True))
    shape = _check_pool(prob, op, x, g)
    graph = Graph(file=prob.file)
    xn = graph.leaf("X", Symbol("X"), "input", x)
    yn = graph.apply(op, (xn,), "Y", Symbol("Y"))
    loss = graph.apply(GivenUpstream(g), (yn,), "L", Symbol("L"))
    graph.forward()
    dx = graph.gradients(loss)[xn]
    C = x.shape[0]
    one = C == 1
    sec = _section(sol, "given", "Given")
    for nm, m in _channels("X", x, one):
        _given_matrix(sol, sec, nm, m, "the input")
    for nm, m in _channels("dL/dY", g, one):
        _given_matrix(sol, sec, nm, m, "the gradient arriving at the output (given)")
    assert yn.value is not None, "graph.forward() has run"
    y = yn.value.reshape((C,) + shape[-2:])
    routes = _pool_forward(sol, op, s["mode"], x, y, one)
    _pool_backward(sol, op, s["mode"], x, g.reshape(y.shape), dx.reshape((C,) + x.shape[-2:]), routes, one)
    for nm, m in _channels("Y", y, one):
        sol.add(Step(nm, "forward", value=mat(m), shape=m.shape, note="the pooled output"))
    for nm, m in _channels("dL/dX", dx.reshape((C,) + x.shape[-2:]), one):
        sol.add(Step(nm, "backward", value=mat(m), shape=m.shape))
        sol.summary.append(nm)
    sol.summary_title = "Gradients"
    sol.notes.append("Max pooling: padding never wins (PyTorch pads with -inf); of tied maxima the first "
                     "in row-major order takes the whole gradient (PyTorch's CPU rule); windows that "
                     "overlap add their gradients." if s["mode"] == "max" else
                     ("Average pooling divides by the whole window, padding cells included "
                      "(PyTorch's count_include_pad=True)." if s.get("count_include_pad", True) else
                      "Average pooling divides by the image cells of each window, padding excluded "
                      "(count_include_pad: false, PyTorch's count_include_pad=False)."))


def _pool_forward(sol: Solution, op, mode: str, x: np.ndarray, y: np.ndarray, one: bool) -> dict:
    """One step per output cell; returns input cell -> the windows that send it gradient."""
    fsec = _section(sol, "forward", f"Forward pass: {mode} pooling, window {op.window[0]}x{op.window[1]}, "
                                    f"stride {op.stride[0]}x{op.stride[1]}, padding {op.padding[0]}x{op.padding[1]}")
    x3 = x.reshape(y.shape[:1] + x.shape[-2:])
    winners = op.argmax(x) if mode == "max" else {}
    area = op.window[0] * op.window[1]
    routes: dict = {}
    for ch in range(y.shape[0]):
        for (i, j), cells in op.windows(x.shape):
            syms = [Symbol(_cell("X", ch, r, q, one)) for r, q in cells]
            vals = [c(x3[ch, r, q]) for r, q in cells]
            if mode == "max":
                r, q = winners[(ch, i, j)]
                form, sub = call("max", r"\max", *syms), call("max", r"\max", *vals)
                tied = sum(1 for a, b in cells if x3[ch, a, b] == x3[ch, r, q])
                note = f"arg-max {_cell('X', ch, r, q, one)}" + (
                    f" (tied {tied} ways: the first in row-major order wins)" if tied > 1 else "")
                routes.setdefault((ch, r, q), []).append((i, j))
            else:
                n = op.divisor(cells)
                form, sub = sum_of(syms) / Const(n), sum_of(vals) / Const(n)
                note = "" if len(cells) == area else (
                    "divided by the whole window, padding cells included" if n == area
                    else f"divided by its {n} image cells, padding excluded")
                for r, q in cells:
                    routes.setdefault((ch, r, q), []).append((i, j))
            sol.add(Step(_cell("Y", ch, i, j, one), fsec, formula=form, substituted=sub, value=num(y[ch, i, j]),
                         note=note))
    return routes


def _pool_backward(sol: Solution, op, mode: str, x, g3, dx3, routes: dict, one: bool) -> None:
    bsec = _section(sol, "backward", "Backward pass: " + (
        "each dL/dY[i,j] goes to the arg-max of its window" if mode == "max"
        else "each dL/dY[i,j] is spread evenly over its window"))
    windows = dict(op.windows(x.shape))
    for (ch, r, q), _ in np.ndenumerate(dx3):
        got = routes.get((ch, r, q), [])
        name = "dL/d" + _cell("X", ch, r, q, one)
        if not got:
            why = "never the arg-max of a window" if mode == "max" else "in no window"
            sol.add(Step(name, bsec, value=num(dx3[ch, r, q]), note=f"{why}: gradient 0"))
            continue
        terms = [Symbol("dL/d" + _cell("Y", ch, i, j, one)) for i, j in got]
        subs = [c(g3[ch, i, j]) for i, j in got]
        if mode == "avg":
            ns = [op.divisor(windows[(i, j)]) for i, j in got]
            terms = [t / Const(n) for t, n in zip(terms, ns, strict=True)]
            subs = [t / Const(n) for t, n in zip(subs, ns, strict=True)]
        sol.add(Step(name, bsec, formula=sum_of(terms), substituted=sum_of(subs), value=num(dx3[ch, r, q]),
                     note=("arg-max of " if mode == "max" else "inside ")
                     + ", ".join(f"window ({i},{j})" for i, j in got)))


TITLES = {"conv": "Backprop through a convolution", "pool": "Backprop through pooling",
          "batchnorm": "Batch normalisation (training mode)", "layernorm": "Layer normalisation",
          "dropout": "Inverted dropout", "rnn": "A vanilla RNN: backprop through time",
          "attention": "One head of scaled dot-product attention"}

SECTIONS = {"given": "Given", "forward": "Forward pass", "backward": "Backward pass (chain rule)"}

# type -> (module, function); the modules import this one, so they are looked up when needed
SOLVERS = {"conv": ("solve", "solve_conv"), "pool": ("solve", "solve_pool"),
           "dropout": ("norms", "solve_dropout"), "batchnorm": ("norms", "solve_norm"),
           "layernorm": ("norms", "solve_norm"), "rnn": ("sequence", "solve_rnn"),
           "attention": ("sequence", "solve_attention")}


def _solver(kind: str):
    import importlib

    module, name = SOLVERS[kind]
    return getattr(importlib.import_module(f"hwsolve.topics.layers.{module}"), name)
