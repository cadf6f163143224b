"""Rules for the layers of the later sheets: convolution, pooling, normalisation, dropout,
the vanilla-RNN pre-activation and one attention head.

Same contract as `ops.py` (forward, vjp, formula, local); the one backward loop in `graph.py`
walks them. Values follow the value model: a matrix is (m, n), a conv volume C x H x W; exact
(Fraction object arrays) wherever the inputs are exact and the math is rational: convolution,
pooling, dropout, the means and variances of the norms (and their square roots when they are
perfect squares); softmax and other square roots are floats.

Conventions (printed by the topic too):
  * Conv2d is cross-correlation, as deep-learning libraries compute it; ``flip=True`` is true
    convolution (the kernel rotated 180 degrees). Zero padding. Shapes: X is C x H x W (a matrix
    is one channel); K is F x C x kh x kw (C x kh x kw is one filter, kh x kw one filter of one
    channel); b is a column of F (or a scalar); Y is F x Ho x Wo, or Ho x Wo for one filter.
  * MaxPool2d: padding never wins (PyTorch pads with -inf); of tied maxima the first in
    row-major order takes the whole gradient (what PyTorch's CPU kernel does).
  * AvgPool2d divides by the full window, padding cells included (PyTorch's count_include_pad).
  * BatchNorm: X is N x D (one example a row), statistics per column, biased variance (divide by
    N) plus epsilon; LayerNorm: the same per row. gamma, beta are columns of D.
  * Dropout: out = m ⊙ x / (1 - p), the given 0/1 mask m (inverted dropout).
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from hwsolve.autodiff.ops import Op, entry_list
from hwsolve.core import values as T
from hwsolve.core.errors import MathError
from hwsolve.core.numfmt import fmt_number
from hwsolve.core.sym import Const, Expr, Symbol, call, sumover


def _pair(v) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _zeros(shape, exact: bool) -> np.ndarray:
    if exact:
        out = np.empty(shape, dtype=object)
        out.fill(Fraction(0))
        return out
    return np.zeros(shape)


def _pad(x: np.ndarray, ph: int, pw: int, fill) -> np.ndarray:
    """x (C, H, W) with ph rows above and below and pw columns left and right of `fill`."""
    if not (ph or pw):
        return x
    c, h, w = x.shape
    out = np.empty((c, h + 2 * ph, w + 2 * pw), dtype=x.dtype)
    out.fill(fill)
    out[:, ph:ph + h, pw:pw + w] = x
    return out


def out_size(n: int, k: int, s: int, p: int, d: int) -> int:
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def exact_sqrt(q):
    """sqrt(q): a Fraction when q is the square of a rational, a float otherwise."""
    if isinstance(q, Fraction) and q >= 0:
        rn, rd = math.isqrt(q.numerator), math.isqrt(q.denominator)
        if rn * rn == q.numerator and rd * rd == q.denominator:
            return Fraction(rn, rd)
    return math.sqrt(float(q))


# ---------------------------------------------------------------------------------------------
# convolution


class Conv2d(Op):
    """Y[f] = sum_c X[c] ⋆ K[f, c] + b[f]   (dL/dK = X ⋆ dL/dY, dL/dX = full conv of dL/dY with
    rot180(K), dL/db = sum dL/dY)"""

    key = "conv2d"
    backward_order: tuple[int, ...] | None = (1, 2, 0)  # dL/dK, dL/db, then dL/dX

    def __init__(self, stride=1, padding=0, dilation=1, flip: bool = False, has_bias: bool = True):
        self.stride, self.padding, self.dilation = _pair(stride), _pair(padding), _pair(dilation)
        self.flip = flip
        self.has_bias = has_bias
        if not has_bias:
            self.backward_order = (1, 0)

    def constants(self):
        return (("stride", self.stride), ("padding", self.padding), ("dilation", self.dilation))

    # shapes: everything 3-D / 4-D inside
    @staticmethod
    def _x3(x: np.ndarray) -> np.ndarray:
        return x.reshape((1,) + x.shape) if x.ndim == 2 else x

    @staticmethod
    def _k4(k: np.ndarray) -> np.ndarray:
        if k.ndim == 2:
            return k.reshape((1, 1) + k.shape)
        if k.ndim == 3:
            return k.reshape((1,) + k.shape)
        return k

    def out_shape(self, x_shape, k_shape) -> tuple[int, ...]:
        c, h, w = (1,) + tuple(x_shape) if len(x_shape) == 2 else tuple(x_shape)
        k4 = self._k4(np.empty(k_shape)).shape
        if k4[1] != c:
            raise MathError(f"the kernel has {k4[1]} channels, the input {c}")
        ho = out_size(h, k4[2], self.stride[0], self.padding[0], self.dilation[0])
        wo = out_size(w, k4[3], self.stride[1], self.padding[1], self.dilation[1])
        if ho < 1 or wo < 1:
            raise MathError("the kernel is larger than the padded input")
        return (ho, wo) if len(k_shape) < 4 else (k4[0], ho, wo)

    def _taps(self, kh: int, kw: int, ho: int, wo: int):
        """(u, v, row slice, column slice): the padded-input cells kernel tap (u, v) meets."""
        (sh, sw), (dh, dw) = self.stride, self.dilation
        for u in range(kh):
            for v in range(kw):
                yield u, v, slice(u * dh, u * dh + sh * (ho - 1) + 1, sh), \
                    slice(v * dw, v * dw + sw * (wo - 1) + 1, sw)

    def _kernel(self, k4: np.ndarray) -> np.ndarray:
        return k4[:, :, ::-1, ::-1] if self.flip else k4

    def forward(self, xs):
        shape = self.out_shape(xs[0].shape, xs[1].shape)
        x, k = T.unify(xs[0], xs[1])
        x3, k4 = self._x3(x), self._kernel(self._k4(k))
        exact = T.is_exact(x)
        xp = _pad(x3, *self.padding, Fraction(0) if exact else 0.0)
        f_, c_, kh, kw = k4.shape
        ho, wo = shape[-2:]
        y = _zeros((f_, ho, wo), exact)
        for u, v, rs, cs in self._taps(kh, kw, ho, wo):
            patch = xp[:, rs, cs]  # C x Ho x Wo
            for f in range(f_):
                for c in range(c_):
                    y[f] = y[f] + k4[f, c, u, v] * patch[c]
        if self.has_bias:
            y, b = T.unify(y, xs[2])
            bias = b.reshape(-1)
            for f in range(f_):
                y[f] = y[f] + bias[f if bias.size > 1 else 0]
        return y.reshape(shape)

    def vjp(self, i, g, xs, out):
        x, k, g = T.unify(xs[0], xs[1], g)
        exact = T.is_exact(x)
        x3, k4 = self._x3(x), self._kernel(self._k4(k))
        f_, c_, kh, kw = k4.shape
        g3 = g.reshape((f_,) + g.shape[-2:])
        ho, wo = g3.shape[1:]
        if i == 2:
            return np.array([[g3[f].sum()] for f in range(f_)], dtype=g.dtype).reshape(xs[2].shape)
        if i == 1:
            xp = _pad(x3, *self.padding, Fraction(0) if exact else 0.0)
            dk = _zeros(k4.shape, exact)
            for u, v, rs, cs in self._taps(kh, kw, ho, wo):
                patch = xp[:, rs, cs]
                for f in range(f_):
                    for c in range(c_):
                        dk[f, c, u, v] = (g3[f] * patch[c]).sum()
            if self.flip:
                dk = dk[:, :, ::-1, ::-1]
            return np.ascontiguousarray(dk).reshape(xs[1].shape)
        ph, pw = self.padding
        dxp = _zeros((c_, x3.shape[1] + 2 * ph, x3.shape[2] + 2 * pw), exact)
        for u, v, rs, cs in self._taps(kh, kw, ho, wo):
            for c in range(c_):
                acc = dxp[c, rs, cs]
                for f in range(f_):
                    acc = acc + k4[f, c, u, v] * g3[f]
                dxp[c, rs, cs] = acc
        dx = dxp[:, ph:ph + x3.shape[1], pw:pw + x3.shape[2]]
        return np.ascontiguousarray(dx).reshape(xs[0].shape)

    @property
    def name(self) -> tuple[str, str]:
        return ("conv", r"\ast") if self.flip else ("corr", r"\star")

    def formula(self, args):
        e = call(self.name[0], r"\operatorname{" + self.name[0] + "}", args[0], args[1])
        return e + args[2] if self.has_bias else e

    def local(self, i, up, args, out, ctx):
        if i == 2:
            return sumover(up)
        if i == 1:
            return call("corr", r"\operatorname{corr}", args[0], up)
        return call("full_conv", r"\operatorname{full\_conv}", call("dilate_s", r"\operatorname{dilate}_s", up),
                    call("rot180", r"\operatorname{rot180}", args[1]))


def conv2d_reference(x: np.ndarray, k: np.ndarray, stride=1, padding=0, dilation=1) -> np.ndarray:
    """Cross-correlation of one channel x with one kernel k by the textbook double loop (tests)."""
    (sh, sw), (ph, pw), (dh, dw) = _pair(stride), _pair(padding), _pair(dilation)
    h, w = x.shape
    kh, kw = k.shape
    ho, wo = out_size(h, kh, sh, ph, dh), out_size(w, kw, sw, pw, dw)
    out = np.empty((ho, wo), dtype=object)
    for i in range(ho):
        for j in range(wo):
            total = 0
            for u in range(kh):
                for v in range(kw):
                    r, c = i * sh + u * dh - ph, j * sw + v * dw - pw
                    if 0 <= r < h and 0 <= c < w:
                        total += x[r, c] * k[u, v]
            out[i, j] = total
    return out


# ---------------------------------------------------------------------------------------------
# pooling


class _Pool2d(Op):
    def __init__(self, window, stride=None, padding=0):
        self.window = _pair(window)
        self.stride = _pair(stride) if stride is not None else self.window
        self.padding = _pair(padding)

    def constants(self):
        return (("window", self.window), ("stride", self.stride), ("padding", self.padding))

    def out_shape(self, x_shape) -> tuple[int, ...]:
        h, w = x_shape[-2:]
        ho = out_size(h, self.window[0], self.stride[0], self.padding[0], 1)
        wo = out_size(w, self.window[1], self.stride[1], self.padding[1], 1)
        if ho < 1 or wo < 1:
            raise MathError("the pooling window is larger than the padded input")
        return tuple(x_shape[:-2]) + (ho, wo)

    def windows(self, x_shape):
        """((i, j), [(row, column) of the input inside window (i, j)]) in row-major order."""
        h, w = x_shape[-2:]
        ho, wo = self.out_shape(x_shape)[-2:]
        (kh, kw), (sh, sw), (ph, pw) = self.window, self.stride, self.padding
        for i in range(ho):
            for j in range(wo):
                cells = [(i * sh + u - ph, j * sw + v - pw) for u in range(kh) for v in range(kw)]
                yield (i, j), [(r, c) for r, c in cells if 0 <= r < h and 0 <= c < w]

    @staticmethod
    def _x3(x):
        return x.reshape((1,) + x.shape) if x.ndim == 2 else x


class MaxPool2d(_Pool2d):
    """Y[i, j] = max of window (i, j)   (dL/dX: each dL/dY[i, j] goes to its window's arg-max)"""

    key = "maxpool2d"

    def argmax(self, x: np.ndarray) -> dict:
        """(c, i, j) -> (row, column) of the winner: the first maximum in row-major order."""
        x3 = self._x3(x)
        out = {}
        for c in range(x3.shape[0]):
            for (i, j), cells in self.windows(x.shape):
                best = cells[0]
                for r, q in cells[1:]:
                    if x3[c, r, q] > x3[c, best[0], best[1]]:
                        best = (r, q)
                out[(c, i, j)] = best
        return out

    def forward(self, xs):
        x = xs[0]
        shape = self.out_shape(x.shape)
        y = np.empty((self._x3(x).shape[0],) + shape[-2:], dtype=x.dtype)
        x3 = self._x3(x)
        for (c, i, j), (r, q) in self.argmax(x).items():
            y[c, i, j] = x3[c, r, q]
        return y.reshape(shape)

    def vjp(self, i, g, xs, out):
        x = xs[0]
        x3 = self._x3(x)
        g3 = self._x3(g)
        dx = _zeros(x3.shape, T.is_exact(g))
        for (c, a, b), (r, q) in self.argmax(x).items():
            dx[c, r, q] = dx[c, r, q] + g3[c, a, b]
        return dx.reshape(x.shape)

    def formula(self, args):
        return call("maxpool", r"\operatorname{maxpool}", args[0])

    def note(self, xs, out, names):
        """The windows whose maximum is tied, and the entry that takes their gradient."""
        x = xs[0]
        x3 = self._x3(x)
        three_d = len(x.shape) == 3
        windows = dict(self.windows(x.shape))
        told = []
        for (c, i, j), (r, q) in self.argmax(x).items():
            tied = sum(1 for a, b in windows[(i, j)] if x3[c, a, b] == x3[c, r, q])
            if tied > 1:
                at_out, at_in = ((c, i, j), (c, r, q)) if three_d else ((i, j), (r, q))
                told.append(f"output {entry_list([at_out], out.shape, grid=True)}: {names[0]} entry "
                            f"{entry_list([at_in], x.shape, grid=True)}, the first of {tied} tied")
        if not told:
            return ""
        return ("tied maxima: the first in row-major order takes the gradient (PyTorch's CPU kernel): "
                + "; ".join(told))

    def local(self, i, up, args, out, ctx):
        return call("route_to_argmax", r"\operatorname{route}_{\arg\max}", up)


def _reciprocal(n: int, exact: bool):
    return Fraction(1, n) if exact else 1.0 / n


class AvgPool2d(_Pool2d):
    """Y[i, j] = (sum of window (i, j)) / (kh kw)   (dL/dX: dL/dY[i, j] / (kh kw) to every cell)

    With count_include_pad=False (PyTorch's option, Keras' 'same' pooling) the divisor is the
    number of image cells in the window instead: padding does not dilute the mean."""

    key = "avgpool2d"

    def __init__(self, window, stride=None, padding=0, count_include_pad: bool = True):
        super().__init__(window, stride, padding)
        self.count_include_pad = count_include_pad

    def constants(self):
        return (*super().constants(), ("count_include_pad", self.count_include_pad))

    def divisor(self, cells: list) -> int:
        return self.window[0] * self.window[1] if self.count_include_pad else len(cells)

    def forward(self, xs):
        x = xs[0]
        shape = self.out_shape(x.shape)
        x3 = self._x3(x)
        exact = T.is_exact(x)
        y = _zeros((x3.shape[0],) + shape[-2:], exact)
        for c in range(x3.shape[0]):
            for (i, j), cells in self.windows(x.shape):
                scale = _reciprocal(self.divisor(cells), exact)
                y[c, i, j] = sum((x3[c, r, q] for r, q in cells), y[c, i, j]) * scale
        return y.reshape(shape)

    def vjp(self, i, g, xs, out):
        x3 = self._x3(xs[0])
        g3 = self._x3(g)
        exact = T.is_exact(g)
        dx = _zeros(x3.shape, exact)
        for c in range(x3.shape[0]):
            for (a, b), cells in self.windows(xs[0].shape):
                scale = _reciprocal(self.divisor(cells), exact)
                for r, q in cells:
                    dx[c, r, q] = dx[c, r, q] + g3[c, a, b] * scale
        return dx.reshape(xs[0].shape)

    def formula(self, args):
        return call("avgpool", r"\operatorname{avgpool}", args[0])

    def local(self, i, up, args, out, ctx):
        if not self.count_include_pad:   # the divisor varies by window: the image cells it holds
            return call("spread_mean", r"\operatorname{spread}_{\text{mean}}", up)
        return call("spread", r"\operatorname{spread}", up) / Const(self.window[0] * self.window[1])


# ---------------------------------------------------------------------------------------------
# dropout


class Dropout(Op):
    """out = m ⊙ x / (1 - p)   (dL/dx = m ⊙ dL/dout / (1 - p))

    The mask is given to the rule (`Dropout(mask, p)`: the layer topic) or is its second operand
    (`Dropout(None, p)`, operands x and m: graph and network specs), which gets no gradient."""

    key = "dropout"

    def __init__(self, mask: np.ndarray | None, p):
        self.mask = mask
        self.p = p

    def constants(self):
        return (("p", self.p),)

    @property
    def scale(self):
        if isinstance(self.p, Fraction):
            return 1 / (1 - self.p)
        return 1.0 / (1.0 - float(self.p))

    def out_shape(self, x_shape, m_shape=None) -> tuple[int, ...]:
        m_shape = self.mask.shape if self.mask is not None else m_shape
        if tuple(m_shape) != tuple(x_shape):
            raise MathError(f"the mask is {dims(m_shape)}, the input {dims(x_shape)}: expected one 0/1 "
                            "entry per input entry")
        return tuple(x_shape)

    def mask_of(self, xs) -> np.ndarray:
        mask = self.mask if self.mask is not None else xs[1]
        if any(v not in (0, 1) for v in mask.flat):
            raise MathError("the dropout mask must hold 0s (dropped) and 1s (kept)")
        return mask

    def _apply(self, a: np.ndarray, mask: np.ndarray) -> np.ndarray:
        if a.shape != mask.shape:
            raise MathError(f"the mask is {mask.shape}, the input {a.shape}")
        if T.is_exact(a) and T.is_exact(mask) and isinstance(self.p, Fraction):
            return a * mask * self.scale
        return T.to_float(a) * T.to_float(mask) * float(self.scale)

    def forward(self, xs):
        return self._apply(xs[0], self.mask_of(xs))

    def vjp(self, i, g, xs, out):
        return self._apply(g, self.mask_of(xs))

    def grads_wanted(self):
        return None if self.mask is not None else (True, False)

    def _symbols(self, numbers: bool, args):
        """m and p, or their values when the formula is being written with numbers."""
        p: Expr = Symbol("p")
        if numbers:
            p = Const(T.plain(T.exact([[self.p]]) if isinstance(self.p, Fraction) else np.array([[float(self.p)]])))
        if self.mask is None:
            return args[1], p
        return (Const(T.plain(self.mask)) if numbers else Symbol("m")), p

    def formula(self, args):
        m, p = self._symbols(isinstance(args[0], Const), args)
        return m.odot(args[0]) / (Const(1) - p)

    def local(self, i, up, args, out, ctx):
        m, p = self._symbols(isinstance(up, Const), args)
        return m.odot(up) / (Const(1) - p)


def dims(shape) -> str:
    return "x".join(str(n) for n in shape)


# ---------------------------------------------------------------------------------------------
# batch norm and layer norm


class _Norm(Op):
    """Shared by BatchNorm (statistics per column) and LayerNorm (per row)."""

    axis = 0
    backward_order: tuple[int, ...] | None = (1, 2, 0)  # dL/dgamma, dL/dbeta, then dL/dX

    def __init__(self, eps=Fraction(1, 100000)):
        self.eps = eps

    def constants(self):
        return (("eps", self.eps),)

    def stats(self, x: np.ndarray) -> dict:
        """mean, variance, sigma = sqrt(var + eps), xhat; exact while the square roots are."""
        xt = x if self.axis == 0 else x.T  # statistics down the columns of xt
        n = xt.shape[0]
        exact = T.is_exact(x) and isinstance(self.eps, Fraction)
        if not exact:
            xt = T.to_float(xt)
        mean = xt.sum(axis=0) * (Fraction(1, n) if exact else 1.0 / n)
        var = ((xt - mean) ** 2).sum(axis=0) * (Fraction(1, n) if exact else 1.0 / n)
        eps = self.eps if exact else float(self.eps)
        sig = [exact_sqrt(v + eps) if exact else math.sqrt(v + eps) for v in var]
        if any(s == 0 for s in sig):
            raise MathError("a variance plus epsilon is 0: cannot normalise")
        if not all(isinstance(s, Fraction) for s in sig):
            xt, mean, var = T.to_float(xt), mean.astype(float), var.astype(float)
            sig = [float(s) for s in sig]
        sigma = np.array(sig, dtype=object if isinstance(sig[0], Fraction) else float)
        xhat = (xt - mean) / sigma
        flip = (lambda a: a) if self.axis == 0 else (lambda a: a.T)
        return {"n": n, "mean": mean, "var": var, "sigma": sigma, "xhat": flip(xhat)}

    def _affine(self, xhat, gamma, beta):
        """gamma, beta scale the features: the columns of X for both norms."""
        xhat, gamma, beta = T.unify(xhat, gamma, beta)
        return xhat * gamma.reshape(1, -1) + beta.reshape(1, -1)

    def forward(self, xs):
        return self._affine(self.stats(xs[0])["xhat"], xs[1], xs[2])

    def vjp(self, i, g, xs, out):
        st = self.stats(xs[0])
        g, xhat, gamma = T.unify(g, st["xhat"], xs[1])
        if i == 1:
            return (g * xhat).sum(axis=0).reshape(-1, 1)
        if i == 2:
            return g.sum(axis=0).reshape(-1, 1)
        return self.compact(st, g * gamma.reshape(1, -1))

    def compact(self, st: dict, dxhat: np.ndarray) -> np.ndarray:
        """dL/dX from dL/dxhat: (N dxhat - sum dxhat - xhat sum(dxhat ⊙ xhat)) / (N sigma), the sums
        taken over the values sharing one mean and variance."""
        xhat = st["xhat"]
        dxhat, xhat = T.unify(dxhat, xhat)
        if self.axis == 1:
            dxhat, xhat = dxhat.T, xhat.T
        n = st["n"]
        sigma = st["sigma"]
        if T.is_exact(dxhat) != (sigma.dtype == object):
            dxhat, xhat, sigma = T.to_float(dxhat), T.to_float(xhat), T.to_float(sigma)
        dx = (n * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0)) / (n * sigma)
        return dx if self.axis == 0 else dx.T

    def formula(self, args):
        return Symbol("gamma", r"\gamma").odot(Symbol("xhat", r"\hat{x}")) + Symbol("beta", r"\beta")

    def local(self, i, up, args, out, ctx):
        xhat = Symbol("xhat", r"\hat{x}")
        if i == 1:
            return sumover(up.odot(xhat))
        if i == 2:
            return sumover(up)
        n, sig = Symbol("N"), Symbol("sigma", r"\sigma")
        dxh = Symbol("dL/dxhat", r"\frac{\partial L}{\partial \hat{x}}")
        return (n * dxh - sumover(dxh) - xhat.odot(sumover(dxh.odot(xhat)))) / (n * sig)


class BatchNorm(_Norm):
    """y = gamma ⊙ (x - mu_B) / sqrt(var_B + eps) + beta, statistics over the batch (down columns)"""

    key = "batchnorm"
    axis = 0


class LayerNorm(_Norm):
    """y = gamma ⊙ (x - mu) / sqrt(var + eps) + beta, statistics over each example's features"""

    key = "layernorm"
    axis = 1


class Normalize(_Norm):
    """xhat = (x - mu) / sqrt(var + eps), the statistics over the values that share them

    dL/dx = (N dL/dxhat - sum dL/dxhat - xhat ⊙ sum(dL/dxhat ⊙ xhat)) / (N sigma), the compact form.
    `over="columns"`: down each column (batch norm, one example a row; a mean per feature);
    `over="rows"`: along each row (layer norm of examples as rows; batch norm of examples as
    columns); `over="map"`: per channel of a C x H x W map, over its H W positions (batch norm after
    a convolution; a H x W map is one channel).
    Graph and network specs pair it with `ScaleShift`, so xhat, dL/dxhat and dL/dgamma are steps.
    """

    key = "normalize"
    backward_order = (0,)

    def __init__(self, eps=Fraction(1, 100000), over: str = "columns", label: str = "xhat"):
        super().__init__(eps)
        self.axis = 0 if over == "columns" else 1
        self.map = over == "map"   # a feature map: per channel (a H x W map is one channel)
        self.label = label

    def _2d(self, x: np.ndarray) -> np.ndarray:
        """x with the values sharing a statistic down a column (axis 0) or along a row (axis 1)."""
        if self.map:
            return x.reshape(x.shape[0] if x.ndim == 3 else 1, -1)
        return x

    def out_shape(self, x_shape) -> tuple[int, ...]:
        x_shape = tuple(x_shape)
        if len(x_shape) == 3 and not self.map:
            raise MathError("a C x H x W map is normalised per channel (over='map')")
        per = int(np.prod(x_shape)) // (x_shape[0] if len(x_shape) == 3 else 1) if self.map else x_shape[self.axis]
        if per < 2:
            raise MathError(f"each mean and variance would be of 1 value (the input is {dims(x_shape)}): "
                            "every normalised value would be 0; give at least 2 values per statistic")
        return x_shape

    def forward(self, xs):
        return self.stats(self._2d(xs[0]))["xhat"].reshape(xs[0].shape)

    def vjp(self, i, g, xs, out):
        x2 = self._2d(xs[0])
        return self.compact(self.stats(x2), g.reshape(x2.shape)).reshape(xs[0].shape)

    def formula(self, args):
        return call(self.label, r"\operatorname{" + self.label.replace("_", r"\_") + "}", args[0])

    def local(self, i, up, args, out, ctx):
        if isinstance(up, Const) and ctx is not None and ctx.values:
            st = self.stats(self._2d(ctx.values[0]))
            n, xhat = Const(st["n"]), Const(T.plain(st["xhat"]))
            sig = Const(T.plain(T.at_least_2d(st["sigma"])))
            dxh: Expr = up
        else:
            n, sig, xhat = Symbol("N"), Symbol("sigma", r"\sigma"), Symbol("xhat", r"\hat{x}")
            dxh = up
        over = "rowsum" if self.axis == 1 else "colsum"
        total = lambda e: call(over, r"\operatorname{" + over + "}", e)  # noqa: E731
        return (n * dxh - total(dxh) - xhat.odot(total(dxh.odot(xhat)))) / (n * sig)

    def note(self, xs, out, names):
        st = self.stats(self._2d(xs[0]))
        vec = lambda a: "(" + ", ".join(fmt_number(v) for v in a) + ")"  # noqa: E731
        which = "each column" if self.axis == 0 else ("each channel" if self.map else "each row")
        exact = st["sigma"].dtype == object
        return (f"statistics of {which} (N = {st['n']}): mu = {vec(st['mean'])}, var = {vec(st['var'])} "
                f"(divide by N), sigma = sqrt(var + {fmt_number(self.eps)}) = {vec(st['sigma'])}"
                + ("" if exact else " (a float: var + epsilon is not the square of a rational)"))

    def draw_label(self):
        return "normalize"


class ScaleShift(Op):
    """y = gamma ⊙ xhat + beta, gamma and beta one per feature

    dL/dxhat = dL/dy ⊙ gamma, dL/dgamma = sum dL/dy ⊙ xhat, dL/dbeta = sum dL/dy, the sums over the
    values of each feature. `per="columns"`: a feature is a column (N x D, one example a row);
    `per="rows"`: a row (D x N, examples as columns); `per="map"`: a channel of a C x H x W map (a
    H x W map is one channel).
    """

    key = "scale_shift"
    backward_order = (1, 2, 0)  # dL/dgamma, dL/dbeta, then dL/dxhat

    def __init__(self, per: str = "columns"):
        self.per = per

    def features(self, shape) -> int:
        if self.per == "map":  # a channel of a C x H x W map; a H x W map is one channel
            return shape[0] if len(shape) == 3 else 1
        return shape[1] if self.per == "columns" else shape[0]

    def _grid(self, x: np.ndarray, a: np.ndarray) -> np.ndarray:
        """gamma or beta shaped to broadcast over x's features."""
        if self.per == "columns":
            return a.reshape(1, -1)
        if self.per == "map" and x.ndim == 2:
            return a.reshape(1, 1)
        return a.reshape((-1,) + (1,) * (x.ndim - 1))

    def _others(self, x: np.ndarray) -> tuple[int, ...]:
        if self.per == "map" and x.ndim == 2:
            return (0, 1)
        return (0,) if self.per == "columns" else tuple(range(1, x.ndim))

    def out_shape(self, x_shape, gamma_shape, beta_shape) -> tuple[int, ...]:
        want = self.features(x_shape)
        for name, shape in (("gamma", gamma_shape), ("beta", beta_shape)):
            if int(np.prod(shape)) != want or (len(shape) == 2 and min(shape) != 1):
                raise MathError(f"{name} is {dims(shape)}: expected {want} values, one per feature "
                                f"(the {dict(columns='columns', rows='rows', map='channels')[self.per]} of the input)")
        return tuple(x_shape)

    def forward(self, xs):
        x, gamma, beta = T.unify(*xs)
        return x * self._grid(x, gamma) + self._grid(x, beta)

    def vjp(self, i, g, xs, out):
        x, gamma, g = T.unify(xs[0], xs[1], g)
        if i == 0:
            return g * self._grid(x, gamma)
        part = g * x if i == 1 else g
        return part.sum(axis=self._others(x), keepdims=True).reshape(xs[i].shape)

    def formula(self, args):
        return args[1].odot(args[0]) + args[2]

    def local(self, i, up, args, out, ctx):
        if i == 0:
            return up.odot(args[1])
        return sumover(up.odot(args[0])) if i == 1 else sumover(up)

    def draw_label(self):
        return "gamma xhat + beta"


# ---------------------------------------------------------------------------------------------
# the vanilla RNN's pre-activation


class RNNPreactivation(Op):
    """a_t = W_hh h_{t-1} + W_xh x_t + b   (operands W_hh, h_{t-1}, W_xh, x_t, b)"""

    key = "rnn_pre"
    backward_order = (0, 2, 4, 1, 3)

    def out_shape(self, w_hh, h, w_xh, x, b) -> tuple[int, ...]:
        size = w_hh[0]
        if tuple(w_hh) != (size, size):
            raise MathError(f"W_hh is {dims(w_hh)}: expected a square matrix (hidden x hidden)")
        if h[0] != size:
            raise MathError(f"h_(t-1) has {h[0]} rows, W_hh {size}: expected a hidden state of {size}")
        if w_xh[0] != size:
            raise MathError(f"W_xh has {w_xh[0]} rows: expected {size} (one per hidden unit)")
        if x[0] != w_xh[1]:
            raise MathError(f"x_t has {x[0]} rows, W_xh {w_xh[1]} columns: they must agree")
        if x[1] != h[1] or len(x) != 2 or len(h) != 2:
            raise MathError(f"x_t is {dims(x)} and h_(t-1) {dims(h)}: expected columns (one per example)")
        if tuple(b) not in ((size, 1), (size, h[1])):
            raise MathError(f"b is {dims(b)}: expected {size}x1 (one bias per hidden unit)")
        return (size, h[1])

    def forward(self, xs):
        w_hh, h, w_xh, x, b = T.unify(*xs)
        return w_hh @ h + w_xh @ x + b

    def vjp(self, i, g, xs, out):
        vals = T.unify(*xs, g)
        g = vals[-1]
        if i in (0, 2):
            return g @ vals[i + 1].T
        if i in (1, 3):
            return vals[i - 1].T @ g
        return g if g.shape == xs[4].shape else g.sum(axis=1, keepdims=True)  # b added to every column

    def formula(self, args):
        return args[0] @ args[1] + args[2] @ args[3] + args[4]

    def local(self, i, up, args, out, ctx):
        if i in (0, 2):
            return up @ args[i + 1].T
        if i in (1, 3):
            return args[i - 1].T @ up
        return up


# ---------------------------------------------------------------------------------------------
# a sequence's steps: a network's RNN layer reads row t of its input and may give every hidden state


def _from_rows(rows: list[list], exact: bool) -> np.ndarray:
    return T.exact(rows) if exact else np.array(rows, dtype=np.float64)


class SequenceRow(Op):
    """x<t> = row t of a sequence X (T x d, one step a row), as a column (d x 1)

    dL/dX is dL/dx<t>^T in row t and 0 in every other row (the rows are separate inputs)."""

    key = "sequence_row"

    def __init__(self, t: int):
        self.t = t  # from 0

    def forward(self, xs):
        x = xs[0]
        return _from_rows([[x[self.t, j]] for j in range(x.shape[1])], T.is_exact(x))

    def vjp(self, i, g, xs, out):
        steps, d = xs[0].shape
        exact = T.is_exact(g) and T.is_exact(xs[0])
        zero = Fraction(0) if exact else 0.0
        rows = [[g[j, 0] for j in range(d)] if r == self.t else [zero] * d for r in range(steps)]
        return _from_rows(rows, exact)

    def formula(self, args):
        return call(f"row_{self.t + 1}", rf"\operatorname{{row}}_{{{self.t + 1}}}", args[0])

    def local(self, i, up, args, out, ctx):
        return call(f"into_row_{self.t + 1}", rf"\operatorname{{into\,row}}_{{{self.t + 1}}}", up)

    def note(self, xs, out, names):
        return f"step {self.t + 1} of {names[0]}: its row {self.t + 1}, as a column"

    def draw_label(self):
        return f"row {self.t + 1}"


class StackRows(Op):
    """H = the columns h<1>, ..., h<T> laid down as rows (T x h), one step a row like the input

    dL/dh<t> = row t of dL/dH, as a column."""

    key = "stack_rows"

    def forward(self, xs):
        return _from_rows([[h[j, 0] for j in range(h.shape[0])] for h in xs], all(T.is_exact(h) for h in xs))

    def vjp(self, i, g, xs, out):
        return _from_rows([[g[i, j]] for j in range(g.shape[1])], T.is_exact(g))

    def formula(self, args):
        return call("stack_rows", r"\operatorname{stack}", *args)

    def local(self, i, up, args, out, ctx):
        return call(f"row_{i + 1}", rf"\operatorname{{row}}_{{{i + 1}}}", up)

    def draw_label(self):
        return "stack rows"


# ---------------------------------------------------------------------------------------------
# scaled dot-product attention


class ScaledDotProductAttention(Op):
    """out = softmax(Q K^T / sqrt(d) + M) V, row by row; M is 0 where allowed, -inf where masked.

    dV = A^T G, dA = G V^T, dS = A ⊙ (dA - rowsum(dA ⊙ A)), dQ = dS K / sqrt(d), dK = dS^T Q / sqrt(d).
    """

    key = "attention"
    exact = False
    backward_order: tuple[int, ...] = (0, 1, 2)

    def __init__(self, mask: np.ndarray | None = None):
        self.mask = mask  # n x m of booleans (True: may attend), or None

    def scores(self, q: np.ndarray, k: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        q, k = T.to_float(q), T.to_float(k)
        if q.shape[1] != k.shape[1]:
            raise MathError(f"Q has {q.shape[1]} columns, K {k.shape[1]}: they must agree (d)")
        s = q @ k.T / math.sqrt(q.shape[1])
        mask = self.mask if mask is None else mask
        if mask is not None:
            if mask.shape != s.shape:
                raise MathError(f"the mask is {mask.shape[0]}x{mask.shape[1]}, the scores "
                                f"{s.shape[0]}x{s.shape[1]}")
            if not mask.any(axis=1).all():
                raise MathError("a row of the mask hides every key: its softmax is undefined")
            s = np.where(mask, s, -np.inf)
        return s

    def weights(self, q: np.ndarray, k: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        s = self.scores(q, k, mask)
        e = np.exp(s - s.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def forward(self, xs):
        a = self.weights(xs[0], xs[1])
        v = T.to_float(xs[2])
        if v.shape[0] != a.shape[1]:
            raise MathError(f"V has {v.shape[0]} rows, K {a.shape[1]}: one value per key")
        return a @ v

    def vjp(self, i, g, xs, out):
        q, k, v = (T.to_float(x) for x in xs)
        g = T.to_float(g)
        a = self.weights(q, k)
        if i == 2:
            return a.T @ g
        da = g @ v.T
        ds = a * (da - (da * a).sum(axis=1, keepdims=True))
        scale = math.sqrt(q.shape[1])
        return ds @ k / scale if i == 0 else ds.T @ q / scale

    def formula(self, args):
        root_d = call("sqrt", r"\operatorname{sqrt}", Symbol("d"))
        sm = call("softmax", r"\operatorname{softmax}", args[0] @ args[1].T / root_d)
        return sm @ args[2]

    def local(self, i, up, args, out, ctx):
        A, dS = Symbol("A"), Symbol("dL/dS", r"\frac{\partial L}{\partial S}")
        sq = call("sqrt", r"\operatorname{sqrt}", Symbol("d"))
        if i == 2:
            return A.T @ up
        if i == 0:
            return dS @ args[1] / sq
        return dS.T @ args[0] / sq


class AttentionWeights(ScaledDotProductAttention):
    """A = softmax(Q K^T / sqrt(d) + mask(M)) row by row; mask(M) is 0 where M = 1, -inf where M = 0

    dS = A ⊙ (dL/dA - rowsum(dL/dA ⊙ A)) (the softmax Jacobian, row by row); dL/dQ = dS K / sqrt(d),
    dL/dK = dS^T Q / sqrt(d). Graph specs follow it with `A @ V`, so attention(Q, K, V) shows A,
    dL/dV = A^T dL/dY and dL/dA = dL/dY V^T as steps of their own. Operands Q, K[, M]; M gets no
    gradient.
    """

    key = "attention_weights"
    backward_order: tuple[int, ...] = (0, 1, 2)

    def __init__(self, masked: bool = False):
        super().__init__(None)
        self.masked = masked
        self.backward_order = (0, 1, 2) if masked else (0, 1)   # the operands there are: Q, K[, M]

    def out_shape(self, q, k, m=None) -> tuple[int, ...]:
        if len(q) != 2 or len(k) != 2 or q[1] != k[1]:
            raise MathError(f"Q is {dims(q)}, K {dims(k)}: expected n x d and m x d (the same d)")
        if m is not None and tuple(m) != (q[0], k[0]):
            raise MathError(f"the mask is {dims(m)}: expected {q[0]}x{k[0]} (queries x keys)")
        return (q[0], k[0])

    def given_mask(self, xs) -> np.ndarray | None:
        if not self.masked:
            return None
        if any(v not in (0, 1) for v in xs[2].flat):
            raise MathError("the attention mask must hold 1s (may attend) and 0s (hidden)")
        return T.to_float(xs[2]) > 0

    def forward(self, xs):
        return self.weights(xs[0], xs[1], self.given_mask(xs))

    def vjp(self, i, g, xs, out):
        q, k = T.to_float(xs[0]), T.to_float(xs[1])
        a = self.weights(q, k, self.given_mask(xs))
        g = T.to_float(g)
        ds = a * (g - (g * a).sum(axis=1, keepdims=True))
        scale = math.sqrt(q.shape[1])
        return ds @ k / scale if i == 0 else ds.T @ q / scale

    def grads_wanted(self):
        return (True, True, False) if self.masked else None

    def _root_d(self, args, ctx=None):
        d = ctx.values[0].shape[1] if ctx is not None and ctx.values and isinstance(args[0], Const) else None
        return call("sqrt", r"\operatorname{sqrt}", Symbol("d") if d is None else Const(d))

    def formula(self, args):
        scores = args[0] @ args[1].T / self._root_d(args)
        if self.masked:
            scores = scores + call("mask", r"\operatorname{mask}", args[2])
        return call("softmax_rows", r"\operatorname{softmax}_{\text{rows}}", scores)

    def local(self, i, up, args, out, ctx):
        ds = out.odot(up - call("rowsum", r"\operatorname{rowsum}", up.odot(out)))
        return (ds @ args[1] if i == 0 else ds.T @ args[0]) / self._root_d(args, ctx)

    def note(self, xs, out, names):
        s = self.scores(xs[0], xs[1], self.given_mask(xs))
        rows = "; ".join(", ".join("-inf" if np.isinf(v) else fmt_number(float(v)) for v in row) for row in s)
        return f"the scores S = Q K^T / sqrt({xs[0].shape[1]}) (masked: -inf), row by row: {rows}"

    def draw_label(self):
        return "softmax(Q K^T / sqrt(d))"


__all__ = ["Conv2d", "GivenUpstream", "MaxPool2d", "AvgPool2d", "Dropout", "BatchNorm", "LayerNorm",
           "RNNPreactivation", "ScaledDotProductAttention", "AttentionWeights", "Normalize", "ScaleShift", "dims",
           "SequenceRow", "StackRows",
           "conv2d_reference", "exact_sqrt", "out_size"]


class GivenUpstream(Op):
    """L = sum(G ⊙ Y) for a given G: a stand-in loss whose gradient dL/dY is exactly G.

    Layer exercises give dL/dY (the gradient arriving from the layers above) instead of a loss."""

    key = "given_upstream"
    backward_order = (0,)

    def __init__(self, upstream: np.ndarray):
        self.upstream = upstream

    def forward(self, xs):
        if xs[0].shape != self.upstream.shape:
            raise MathError(f"dL/dY is {'x'.join(map(str, self.upstream.shape))}, the output "
                            f"{'x'.join(map(str, xs[0].shape))}")
        y, g = T.unify(xs[0], self.upstream)
        return np.array([[(y * g).sum()]], dtype=y.dtype)

    def vjp(self, i, g, xs, out):
        up, g = T.unify(self.upstream, g)
        return up * g[0, 0]

    def formula(self, args):
        return sumover(Symbol("G").odot(args[0]))

    def local(self, i, up, args, out, ctx):
        return Const(T.plain(self.upstream)) if isinstance(args[0], Const) else Symbol("G")
