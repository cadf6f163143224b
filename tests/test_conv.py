"""conv-shape and conv (issue 4): seed 000 P4 pinned, sizes against a direct count of window
positions, outputs against an independent numpy sliding window, every bad input, start-up imports."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from fractions import Fraction

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from hwsolve.cli import main
from hwsolve.core.errors import HwsolveError
from hwsolve.topics.conv.solve import (ApplyProblem, ShapeProblem, axes, solve_apply, solve_conv, solve_shape,
                                       validate)
from hwsolve.topics.conv.spec import load_conv

from conftest import PROBLEMS, ROOT


def run(*args):
    return CliRunner().invoke(main, list(args))


def values(sol):
    return {s.name: s.value for s in sol.steps}


# --------------------------------------------------------------------------------- seed 000 P4


def test_seed000_p4_all_parts():
    v = values(solve_conv(load_conv(PROBLEMS / "cs4782_p4.yaml")))
    # 1: 3x3 filter, 36x36 grayscale, p=0, s=1 -> 34 x 34
    assert v["p1.n_out"] == 34 and v["p1.volume"] == (34, 34, 1)
    # 2: two 3x3x3 filters on 36x36x3, p=3, s=2 -> floor(39/2) + 1 = 20 -> 20 x 20 x 2
    assert v["p2.n_quot"] == Fraction(39, 2)
    assert v["p2.n_out"] == 20 and v["p2.volume"] == (20, 20, 2)
    assert (v["p2.weights"], v["p2.biases"], v["p2.params"]) == (54, 2, 56)
    assert v["p2.n_rem"] == 1
    # 4: K = [[1, 0], [0, -1]] on I, stride 1, no padding
    assert v["p4.out"] == ((2, -1), (-4, 4))
    assert v["p4.out[0,0]"] == 2 and v["p4.out[1,0]"] == -4


def test_seed000_p4_general_formula_is_symbolic():
    sol = solve_conv(load_conv(PROBLEMS / "cs4782_p4.yaml"))
    f = sol.step("p3.n_out")
    assert f.value is None
    assert str(f.formula) == "floor((n + 2 * p - k) / s) + 1"
    assert str(sol.step("p3.volume").formula) == "n_out x n_out x l"
    assert str(sol.step("p3.params").formula) == "(k * k * c + 1) * l"


def test_p4_cell_shows_its_sum_of_products():
    s = solve_conv(load_conv(PROBLEMS / "cs4782_p4.yaml")).step("p4.out[0,0]")
    assert str(s.formula) == "I[0,0] * K[0,0] + I[0,1] * K[0,1] + I[1,0] * K[1,0] + I[1,1] * K[1,1]"
    assert str(s.substituted) == "6 * 1 + 0 * 0 + 3 * 0 + 4 * (-1)"


def test_conv_shape_done_when_printout():
    r = run("conv-shape", "--n", "36", "--k", "3", "--p", "3", "--s", "2", "--filters", "2",
            "--channels", "3")
    assert r.exit_code == 0, r.output
    out = r.output
    for piece in ("floor((n + 2 * p - d * (k - 1) - 1) / s) + 1", "(36 + 2 * 3 - 3) / 2", "19.5",
                  "floor(19.5) + 1", "20 x 20 x 2", "(3 * 3 * 3 + 1) * 2", "56 parameters",
                  "54 weights + 2 biases", "warning", "41 (padding)"):
        assert piece in out, piece


def test_conv_shape_json_names_are_stable():
    r = run("conv-shape", "--n", "36x28", "--k", "3x5", "--s", "2", "--format", "json")
    assert r.exit_code == 0, r.output
    d = {s["name"]: s["value"] for s in json.loads(r.output)["steps"]}
    assert d["H_out"] == 17 and d["W_out"] == 12 and d["volume"] == [17, 12, 1]
    assert d["params"] == 16


@pytest.mark.parametrize("fmt", ["markdown", "latex", "json", "rich"])
def test_every_format_renders(fmt):
    assert run("conv", str(PROBLEMS / "cs4782_p4.yaml"), "--format", fmt).exit_code == 0
    assert run("conv-shape", "--n", "7", "--k", "4", "--p", "same", "--s", "2", "--d", "2",
               "--format", fmt).exit_code == 0


def test_same_padding_and_transposed():
    v = values(solve_shape(ShapeProblem(n=(7, 7), k=(4, 4), p="same", s=(2, 2))))
    assert v["n_out"] == 4 and v["n_pad"] == 3  # ceil(7/2) = 4, 1 before and 2 after
    v = values(solve_shape(ShapeProblem(n=(5, 5), k=(3, 3), p=(1, 1), s=(2, 2), transposed=True,
                                        output_padding=(1, 1))))
    assert v["n_out"] == 10  # (5-1)*2 - 2 + 2 + 1 + 1, as torch.nn.ConvTranspose2d


def test_pool_defaults_stride_to_window_and_has_no_parameters():
    v = values(solve_shape(ShapeProblem(n=(32, 32), k=(2, 2), pool="max", channels=10)))
    assert v["n_out"] == 16 and v["volume"] == (16, 16, 10) and v["params"] == 0


# ------------------------------------------------------------------- sizes vs a direct count


def direct_count(n, k, p, s, d):
    padded = n + 2 * p
    return sum(1 for start in range(0, padded, s) if start + d * (k - 1) <= padded - 1)


def direct_uncovered(n, k, p, s, d):
    padded = n + 2 * p
    covered = set()
    for start in range(0, padded, s):
        if start + d * (k - 1) <= padded - 1:
            covered.update(start + j * d for j in range(k))
    return sorted(set(range(padded)) - covered)


dims = st.tuples(st.integers(1, 40), st.integers(1, 7), st.integers(0, 4), st.integers(1, 6),
                 st.integers(1, 4))


@settings(max_examples=300, deadline=None)
@given(dims)
def test_size_matches_direct_count(case):
    n, k, p, s, d = case
    if d * (k - 1) + 1 > n + 2 * p:
        with pytest.raises(Exception, match="larger than the padded input"):
            validate(ShapeProblem(n=(n, n), k=(k, k), p=(p, p), s=(s, s), d=(d, d)))
        return
    prob = validate(ShapeProblem(n=(n, n), k=(k, k), p=(p, p), s=(s, s), d=(d, d)))
    ax = axes(prob)[0]
    assert ax.out == direct_count(n, k, p, s, d)
    got = [x for a, b in ax.uncovered for x in range(a, b + 1)]
    assert got == direct_uncovered(n, k, p, s, d)
    sol = solve_shape(prob)
    assert any(n.startswith("warning") for n in sol.notes) == bool(got)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 12), st.integers(1, 5), st.integers(0, 3), st.integers(1, 4), st.integers(1, 3),
       st.integers(0, 3))
def test_transposed_size_matches_scatter(n, k, p, s, d, op):
    if op >= max(s, d):
        return
    full = max(i * s + j * d for i in range(n) for j in range(k)) + 1  # cells the scatter touches
    expect = full - 2 * p + op
    prob = ShapeProblem(n=(n, n), k=(k, k), p=(p, p), s=(s, s), d=(d, d), transposed=True,
                        output_padding=(op, op))
    if expect < 1:
        with pytest.raises(HwsolveError):
            validate(prob)
        return
    assert axes(validate(prob))[0].out == expect


# ---------------------------------------------------------- conv outputs vs numpy sliding window


def np_apply(image, filters, op, window, p, s, d):
    x = np.array(image, dtype=object)
    C, H, W = x.shape
    ph, pw = p
    fill = None if op == "max-pool" else 0
    xp = np.full((C, H + 2 * ph, W + 2 * pw), fill, dtype=object)
    xp[:, ph:ph + H, pw:pw + W] = x
    if op.endswith("pool"):
        kh, kw = window
    else:
        kh, kw = np.array(filters[0][0], dtype=object).shape[1:]
    sh, sw = s
    dh, dw = d
    oh = (H + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (W + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    outs = []
    if op.endswith("pool"):
        for c in range(C):
            m = np.empty((oh, ow), dtype=object)
            for i in range(oh):
                for j in range(ow):
                    win = xp[c, i * sh:i * sh + dh * (kh - 1) + 1:dh, j * sw:j * sw + dw * (kw - 1) + 1:dw]
                    cells = [v for v in win.ravel()]
                    if op == "max-pool":
                        m[i, j] = max(v for v in cells if v is not None)
                    else:
                        m[i, j] = Fraction(sum(cells), len(cells))
            outs.append(m.tolist())
        return outs
    for kern, bias in filters:
        k = np.array(kern, dtype=object)
        if op == "convolution":
            k = k[:, ::-1, ::-1]
        m = np.empty((oh, ow), dtype=object)
        for i in range(oh):
            for j in range(ow):
                win = xp[:, i * sh:i * sh + dh * (kh - 1) + 1:dh, j * sw:j * sw + dw * (kw - 1) + 1:dw]
                m[i, j] = (win * k).sum() + (bias or 0)
        outs.append(m.tolist())
    return outs


def as_lists(t):
    return [as_lists(x) for x in t] if isinstance(t, tuple) else t


small = st.integers(-5, 5)


@st.composite
def apply_cases(draw):
    op = draw(st.sampled_from(["cross-correlation", "convolution", "max-pool", "avg-pool"]))
    C = draw(st.integers(1, 3))
    H, W = draw(st.integers(2, 6)), draw(st.integers(2, 6))
    image = [[[draw(small) for _ in range(W)] for _ in range(H)] for _ in range(C)]
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    p = (draw(st.integers(0, 1)), draw(st.integers(0, 1)))
    if op.endswith("pool"):
        p = (min(p[0], kh // 2), min(p[1], kw // 2))  # torch: padding at most half the window
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    d = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    if d[0] * (kh - 1) + 1 > H + 2 * p[0] or d[1] * (kw - 1) + 1 > W + 2 * p[1]:
        d = (1, 1)
    if kh > H + 2 * p[0] or kw > W + 2 * p[1]:
        kh, kw = 1, 1
        if op.endswith("pool"):
            p = (0, 0)
    filters = []
    if not op.endswith("pool"):
        for _ in range(draw(st.integers(1, 2))):
            kern = [[[draw(small) for _ in range(kw)] for _ in range(kh)] for _ in range(C)]
            filters.append((kern, draw(st.one_of(st.none(), small))))
    return op, image, filters, (kh, kw), p, s, d


@settings(max_examples=150, deadline=None)
@given(apply_cases())
def test_apply_matches_numpy_sliding_window(case):
    op, image, filters, window, p, s, d = case
    prob = ApplyProblem(image=tuple(tuple(tuple(r) for r in ch) for ch in image),
                        filters=tuple((tuple(tuple(tuple(r) for r in ch) for ch in k), b) for k, b in filters),
                        operation=op, window=window if op.endswith("pool") else None, p=p, s=s, d=d)
    sol = solve_apply(prob)
    expect = np_apply(image, filters, op, window, p, s, d)
    single = len(expect) == 1
    got = [as_lists(sol.step("out" if single else f"out[{f}]").value) for f in range(len(expect))]
    assert got == expect
    # every output cell is its own step, and each conv cell has C * kh * kw products
    cells = [st_ for st_ in sol.steps if st_.name.startswith("out[") and st_.name.count(",") >= 1]
    assert len(cells) == sum(len(m) * len(m[0]) for m in expect)
    if not op.endswith("pool"):
        terms = str(cells[0].substituted).count(" * ")
        assert terms == len(image) * window[0] * window[1] if filters else True


def test_true_convolution_flips_the_kernel():
    prob = ApplyProblem(image=(((6, 0, 1), (3, 4, 1), (1, 7, 0)),),
                        filters=(((((1, 0), (0, -1)),), None),), operation="convolution")
    sol = solve_apply(prob)
    # rot180(K) = [[-1, 0], [0, 1]]: out[0,0] = 6*(-1) + 4*1 = -2, the negative of the correlation
    assert sol.step("out").value == ((-2, 1), (4, -4))
    assert sol.step("K_flipped").value == ((-1, 0), (0, 1))


def test_avg_pool_is_exact():
    prob = ApplyProblem(image=(((1, 2), (2, 2)),), operation="avg-pool", window=(2, 2))
    assert solve_apply(prob).step("out[0,0]").value == Fraction(7, 4)


# ------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("args, message", [
    (["--n", "36", "--k", "0"], "--k: must be at least 1, got 0"),
    (["--n", "36", "--k", "3", "--s", "0"], "--s: must be at least 1, got 0"),
    (["--n", "36", "--k", "3", "--p", "-1"], "--p: cannot be negative, got -1"),
    (["--n", "3.5", "--k", "3"], "--n: expected a whole number or HxW, got '3.5'"),
    (["--n", "36", "--k", "abc"], "--k: expected a whole number or HxW"),
    (["--n", "36x28x3", "--k", "3"], "give the channels separately"),
    (["--n", "4", "--k", "7"], "--k: the kernel height 7 is larger than the padded input height 4 + 2*0 = 4"),
    (["--n", "5", "--k", "3", "--d", "3"], "effective size 7 with dilation 3"),
    (["--n", "36", "--k", "3", "--d", "0"], "--d: must be at least 1, got 0"),
    (["--n", "36", "--k", "3", "--filters", "0"], "--filters: must be at least 1"),
    (["--n", "36", "--k", "3", "--channels", "2.5"], "--channels: expected a whole number"),
    (["--n", "8", "--k", "2", "--pool", "max", "--filters", "3"], "--filters: pooling has no filters"),
    (["--n", "8", "--k", "3", "--output-padding", "1"], "output padding applies to transposed"),
    (["--n", "8", "--k", "2", "--s", "2", "--transposed", "--output-padding", "2"],
     "must be smaller than the stride or the dilation"),
    (["--n", "8", "--k", "3", "--p", "same", "--transposed"], "'same' padding is defined here"),
    (["--n", "8", "--k", "2", "--p", "2", "--pool", "max"], "--p: pooling padding 2 is more than half"),
])
def test_conv_shape_bad_input(args, message):
    r = run("conv-shape", *args)
    assert r.exit_code == 2
    assert message in r.stderr
    assert "Traceback" not in r.output


def write(tmp_path, text, name="spec.yaml"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return str(p)


HEAD = "hwsolve: 1\nkind: conv\n"


@pytest.mark.parametrize("body, message", [
    ("image:\n  - [1, 2, 3]\n  - [4, 5]\nkernel: [[1]]\n",
     "spec.yaml:5: image[1]: this row has 2 values, the first has 3: the image must be rectangular"),
    ("image: [[1, 2], [3, 4]]\nkernel: [[1, 1, 1], [1, 1, 1], [1, 1, 1]]\n",
     "kernel: the kernel height 3 is larger than the padded input height 2 + 2*0 = 2"),
    ("image: [[1, 2], [3, 4]]\nkernel: [[1]]\nstride: 0\n", "spec.yaml:5: stride: must be at least 1, got 0"),
    ("image: [[1, 2], [3, 4]]\nkernel: [[1]]\npadding: -1\n", "padding: cannot be negative, got -1"),
    ("image: [[1, 2], [3, 4]]\nkernel: [[1]]\nstride: 1.5\n", "stride: expected a whole number or HxW"),
    ("image: [[1, x], [3, 4]]\nkernel: [[1]]\n", "image[0][1]: expected a number"),
    ("image: [[[1, 2], [3, 4]], [[1, 2], [3, 4]]]\nkernel: [[1]]\n",
     "kernel: the image has 2 channels, so the kernel needs 2 matrices"),
    ("image: [[1, 2], [3, 4]]\noperation: max-pool\n", "needs 'window'"),
    ("image: [[1, 2], [3, 4]]\nkernel: [[1]]\noperation: dilate\n", "operation: unknown value 'dilate'"),
    ("image: [[1, 2], [3, 4]]\nkernal: [[1]]\n", "unknown key 'kernal' (did you mean 'kernel'?)"),
    ("parts:\n  - task: shape\n    n: 4\n    k: 0\n", "parts[0].k: must be at least 1, got 0"),
    ("parts:\n  - task: shape\n    n: 4\n    k: 9\n", "parts[0].k: the kernel height 9 is larger"),
    ("parts:\n  - task: bake\n", "parts[0].task: unknown value 'bake'"),
])
def test_conv_spec_bad_input(tmp_path, body, message):
    path = write(tmp_path, HEAD + body)
    r = run("conv", path)
    assert r.exit_code == 2, r.output
    assert message in r.stderr


def test_spec_header_is_required(tmp_path):
    r = run("conv", write(tmp_path, "kind: conv\nimage: [[1]]\nkernel: [[1]]\n"))
    assert r.exit_code == 2 and "missing 'hwsolve: 1'" in r.stderr
    r = run("conv", write(tmp_path, "hwsolve: 1\nkind: arch\nlayers: [INPUT 2x2x1]\n"))
    assert r.exit_code == 2 and "`hwsolve conv` reads 'kind: conv'" in r.stderr


# ---------------------------------------------------------------------- start-up imports


@pytest.mark.parametrize("args", [
    ["conv-shape", "--n", "36", "--k", "3", "--p", "3", "--s", "2", "--filters", "2", "--channels", "3"],
    ["conv-shape", "--help"],
    ["conv-shape", "--n", "36", "--k", "3", "--format", "json"],
    ["vit-patches", "--image", "224", "--patch", "16"],
])
def test_conv_shape_imports_neither_numpy_nor_sympy(args):
    code = textwrap.dedent(f"""
        import sys
        from hwsolve.cli import main
        try:
            main({args!r}, standalone_mode=False)
        except SystemExit:
            pass
        heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('numpy', 'sympy', 'scipy'))
        sys.stderr.write('HEAVY:' + ','.join(heavy))
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                       env={"NO_COLOR": "1", "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip().endswith("HEAVY:"), r.stderr[-500:]


def test_an_application_too_big_to_write_out_is_refused_at_its_field_before_any_cell(tmp_path):
    """One pixel padded by 200 (160,801 products of zeros) took 4 s and 580 MB, a 100x100 image
    with a 50x50 kernel 4.9 GB before the time budget; each is now one line at its field (found by a
    helper review of inputs within the limits)."""
    spec = tmp_path / "c.yaml"
    spec.write_text("hwsolve: 1\nkind: conv\nimage: [[1]]\nkernel: [[2]]\npadding: 200\n")
    r = CliRunner().invoke(main, ["conv", str(spec)])
    assert r.exit_code == 2 and "c.yaml:5: padding: applying the kernels would write 160,801 products" in r.output
    spec.write_text("hwsolve: 1\nkind: conv\nimage: [[1]]\nkernel: [[2]]\npadding: 100\n")
    assert CliRunner().invoke(main, ["conv", str(spec), "--format", "json"]).exit_code == 0   # 40,401
