"""Big arrays made cheap (hwsolve/core/bigarrays.py, tuplememo.py, the YAML list fast path, grade's
packed results): every shortcut gives exactly what the general path gives, checked against it."""

from __future__ import annotations

import json
import math
import random
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hwsolve.core import bigarrays
from hwsolve.core import values as T
from hwsolve.core.numfmt import fmt_number
from hwsolve.core.records import Solution, Step
from hwsolve.core.sym import Const, Symbol, _LatexPrinter, to_latex, to_text
from hwsolve.core.errors import SpecError
from hwsolve.spec import loader
from hwsolve.spec.loader import load_yaml_text

def _array(rng: random.Random, rows: int, cols: int, huge: bool = False) -> np.ndarray:
    top, den = (10**30, 10**20) if huge else (10**6, 400)
    return T.exact([[Fraction(rng.randint(-top, top), rng.randint(1, den)) for _ in range(cols)]
                    for _ in range(rows)])


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**32), st.booleans())
def test_exact_matmul_on_integers_is_the_fraction_product(seed, huge):
    rng = random.Random(seed)
    m, k, n = rng.randint(40, 60), rng.randint(103, 130), rng.randint(1, 3)
    a, b = _array(rng, m, k, huge), _array(rng, k, n, huge)
    fast = bigarrays.exact_matmul(a, b)
    slow = a @ b  # numpy's object loop: a Fraction per product
    if huge:   # 20-digit denominators: a common one has thousands of digits, slower than Fractions
        assert fast is None and T.matmul(a, b).tolist() == slow.tolist()
        return
    assert fast is not None and fast.shape == (m, n)
    for x, y in zip(fast.flat, slow.flat, strict=True):
        assert type(x) is Fraction and (x.numerator, x.denominator) == (y.numerator, y.denominator)
    assert T.matmul(a, b).tolist() == slow.tolist()


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**32))
def test_float_of_an_exact_array_is_rounded_as_float_of_each_fraction(seed):
    a = _array(random.Random(seed), 40, 30)
    for view in (a, a.T):   # a transpose keeps its memory order: BLAS then sums in the same order
        want, got = view.astype(np.float64), T.to_float(view)
        assert np.array_equal(want.view(np.int64), got.view(np.int64))  # bit for bit
        assert want.strides == got.strides
        got[0, 0] = 12345.0  # a caller's copy: changing it changes nothing remembered
        assert T.to_float(view)[0, 0] == float(view[0, 0])


def test_plain_is_remembered_only_while_the_array_is_unchanged():
    a = np.arange(2000, dtype=np.float64).reshape(40, 50)
    first = T.plain(a, True)
    assert T.plain(a, True) is first
    a[3, 4] = -1.5
    again = T.plain(a, True)
    assert again[3][4] == -1.5 and again is not first
    assert T.plain(T.exact([[Fraction(3, 1)] * 1100]), True)[0][0] == 3


def test_a_view_taken_again_finds_what_was_made_for_its_entries():
    a = _array(random.Random(3), 40, 30)
    first = T.plain(a.T)
    assert T.plain(a.T) is first  # W.T is a new view each time: remembered by where its entries lie
    a[0, 0] = Fraction(7, 3)      # the same memory with other entries: made again
    assert T.plain(a.T)[0][0] == Fraction(7, 3)
    assert T.plain(a[:20].T) is not first and len(T.plain(a[:20].T)) == 30


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**32), st.sampled_from([(40, 30), (1100, 1), (3, 400), (4, 16, 20)]))
def test_entries_by_identity_and_the_seeded_entries_are_the_arrays_entries(seed, shape):
    """The codes found from the addresses an object array holds give back each entry (the very
    object), and the Entries plain() seeds for its printers map as Entries found from the tuple."""
    from hwsolve.core import tuplememo

    rng = random.Random(seed)
    pool = [Fraction(rng.randint(-9, 9), rng.randint(1, 4)) for _ in range(rng.randint(1, 40))] + [Fraction(5)]
    a = np.empty(shape, dtype=object)
    a.reshape(-1)[:] = [rng.choice(pool) if rng.random() < 0.9 else Fraction(rng.randint(-99, 99), 7)
                        for _ in range(a.size)]
    for view in (a, a.T if a.ndim == 2 else a[::-1]):
        codes, distinct = bigarrays.entries_by_identity(view)
        flat = view.reshape(-1).tolist()
        assert len({id(x) for x in distinct}) == len(distinct) == len({id(x) for x in flat})
        assert all(distinct[c] is x for c, x in zip(codes.tolist(), flat, strict=True))
        value = T.plain(view)
        seeded = tuplememo.entries(value)
        assert max(seeded.keys) < len(distinct)  # codes, as plain() seeded them (ids are addresses)
        found = tuplememo.Entries(value)
        for fn in (repr, str, lambda x: type(x).__name__):
            assert seeded.map(fn) == found.map(fn)
        assert seeded.shape == found.shape and seeded.kinds == found.kinds


def test_big_json_printed_to_a_text_only_stdout(monkeypatch, capsys):
    import io

    from hwsolve.render import emit
    from hwsolve.render.json_out import render

    sol = Solution("big", "backprop")
    sol.add(Step("W", "given", value=tuple(tuple(Fraction(i * j, 7) for j in range(120)) for i in range(100)),
                 shape=(100, 120), formula=Symbol("W ⊙ 1")))
    out = io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    emit(sol, "json", 4)
    assert out.getvalue() == render(sol, 4) + "\n"


def _big_solution() -> Solution:
    sol = Solution("big ⊙", "backprop")
    sol.add(Step("W", "given", value=tuple(tuple(Fraction(i * j, 7) for j in range(120)) for i in range(100)),
                 shape=(100, 120), formula=Symbol("W ⊙ 1")))
    sol.add(Step("x", "given", value=tuple(float(i) / 3 for i in range(50)), shape=(50,)))
    return sol


def test_big_json_is_written_in_pieces_to_stdout_and_to_a_file(tmp_path, capsysbinary):
    """A big solution's JSON is made a step at a time (into a file as it is made, to stdout once
    made): the same bytes as `render`."""
    from hwsolve.render import emit
    from hwsolve.render.json_out import render, render_chunks

    sol = _big_solution()
    whole = render(sol, 4).encode("utf-8")
    assert len(list(render_chunks(sol, 4))) > 4 and b"".join(render_chunks(sol, 4)) == whole
    emit(sol, "json", 4)
    assert capsysbinary.readouterr().out == whole + b"\n"
    emit(sol, "json", 4, output=str(tmp_path / "big.json"))
    assert (tmp_path / "big.json").read_bytes() == whole + b"\n"
    assert json.loads(whole)["steps"][1]["value"][3] == 1.0


def test_an_error_while_the_json_is_made_leaves_stdout_empty(monkeypatch, capsysbinary):
    """The time limit can end a run while its steps are being written out: nothing of the
    document reaches stdout (the error line goes to stderr, from the command)."""
    from hwsolve.core.errors import HwsolveError
    from hwsolve.render import emit, json_out

    made = []

    def line(step, precision, whole=False):
        if len(made) == 1:
            raise HwsolveError("the computation took over 0.1 s")
        made.append(step.name)
        return json.dumps({"name": step.name})

    monkeypatch.setattr(json_out, "step_line", line)
    with pytest.raises(HwsolveError):
        emit(_big_solution(), "json", 4)
    assert made == ["W"] and capsysbinary.readouterr().out == b""


@pytest.mark.parametrize("big", [False, True])
def test_a_reader_that_stops_early_ends_the_run_quietly(tmp_path, big):
    """`hwsolve ... --format json | head -c 100`: exit 0 and nothing on stderr, as for every format."""
    import subprocess
    import sys

    import yaml

    width = 120 if big else 2   # 120: over COMPACT_ABOVE numbers, the JSON is made step by step
    spec = {"hwsolve": 1, "kind": "network", "input": list(range(width)), "target": [1],
            "layers": [{"type": "linear", "W": [[1] * width] * width, "b": [0] * width}, "relu",
                       {"type": "linear", "W": [[1] * width], "b": [0]}], "loss": "squared_error"}
    (tmp_path / "n.yaml").write_text(yaml.safe_dump(spec))
    for _ in range(3):
        proc = subprocess.Popen([sys.executable, "-m", "hwsolve", "backprop", str(tmp_path / "n.yaml"),
                                 "--format", "json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdout is not None and proc.stdout.read(100).startswith(b"{")
        proc.stdout.close()
        assert proc.wait(timeout=60) == 0 and proc.stderr.read() == b""


def test_a_file_written_in_pieces_is_whole_or_absent(tmp_path):
    from hwsolve.core.fileio import write_atomic

    def pieces():
        yield b"half"
        raise RuntimeError("stopped")

    (tmp_path / "out.json").write_bytes(b"before")
    with pytest.raises(RuntimeError):
        write_atomic(tmp_path / "out.json", pieces())
    assert (tmp_path / "out.json").read_bytes() == b"before" and len(list(tmp_path.iterdir())) == 1


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**32), st.sampled_from([8, 70]))
def test_float_path_agrees_with_the_exact_path_on_random_rational_networks(seed, width):
    """The same network run on Fractions and on float64 (every leaf turned float): 1e-12 relative.
    At width 70 the exact products run on integers."""
    from hwsolve.topics.backprop.network_spec import parse_network
    from hwsolve.topics.backprop.solve import compile_network

    rng = random.Random(seed)

    def rows(n: int, m: int) -> list:
        return [[f"{rng.randint(-300, 300)}/{rng.randint(1, 40)}" for _ in range(m)] for _ in range(n)]

    def column(n: int) -> list:
        return [r[0] for r in rows(n, 1)]

    layers = "".join(f"  - linear:\n      W: {rows(width, width)}\n      b: {column(width)}\n  - relu\n"
                     for _ in range(2))
    text = (f"kind: network\ninput: {column(width)}\ntarget: {column(width)}\n"
            f"layers:\n{layers}loss: squared_error\n").replace("'", '"')
    doc = load_yaml_text(text)
    exact_net = compile_network(parse_network(doc))
    float_net = compile_network(parse_network(doc))
    for node in float_net.graph.nodes:
        if node.op is None:
            node.value = T.to_float(node.value)
    results = []
    for c in (exact_net, float_net):
        c.graph.forward()
        grads = c.graph.gradients(c.loss)
        results.append({n.name: (n.value, grads.get(n)) for n in c.graph.nodes})
    for name, (value, grad) in results[0].items():
        f_value, f_grad = results[1][name]
        assert T.is_exact(value) and not T.is_exact(f_value)
        _close(f_value, value.astype(float))
        if grad is not None:
            _close(T.to_float(f_grad), T.to_float(grad))


def _close(got: np.ndarray, want: np.ndarray) -> None:
    """1e-12 relative to the array's largest entry: an entry that is a difference of big terms
    (16678533.36544 inside a gradient of 2e11s) carries the terms' rounding, not its own."""
    scale = float(np.max(np.abs(want))) if want.size else 0.0
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12 * scale + 1e-300)


SPECIALS = (0.0, -0.0, 1e-8, -2.5e12, math.inf, -math.inf, math.nan, 1 / 3, 0.1 + 0.2, 7, 10**30,
            Fraction(1, 3), Fraction(1, 20), Fraction(-7, 4), Fraction(10**25 + 1, 3), Fraction(5))


def _big_values() -> dict[str, tuple]:
    """Big values of every kind a step can hold: floats with every special, exact with shared and
    whole Fractions and one beyond a float, ints, mixed floats and Fractions, 3-D, ragged."""
    rng = random.Random(7)
    floats = [SPECIALS[i % 8] if i % 5 == 0 else rng.uniform(-1e3, 1e3) for i in range(40 * 30)]
    shared = [Fraction(rng.randint(-5, 5), 20) for _ in range(11)]
    exact = [shared[rng.randrange(11)] if i % 3 else Fraction(rng.randint(-10**6, 10**6), rng.randint(1, 99))
             for i in range(40 * 30)]
    exact[5] = Fraction(10**400, 3)  # beyond a float: JSON prints it as text
    exact[6] = 7

    def matrix(cells: list) -> tuple:
        return tuple(tuple(cells[r * 30:(r + 1) * 30]) for r in range(40))

    mixed = exact[:]
    mixed[0] = 0.5
    spread = np.random.default_rng(1)  # every magnitude from 1e-9 to 1e14, with every special among them
    wide = [SPECIALS[i % len(SPECIALS)] if i % 7 == 0 else float(x)
            for i, x in enumerate(spread.normal(size=1200) * 10.0 ** spread.integers(-9, 14, size=1200))]
    return {"floats": matrix(floats), "float column": tuple(floats), "exact": matrix(exact),
            "every magnitude": matrix(wide), "every magnitude column": tuple(wide),
            "exact column": tuple(exact), "mixed": matrix(mixed),
            "3-d": tuple(matrix(exact)[r:r + 10] for r in range(0, 40, 10)),
            "ragged": matrix(exact)[:-1] + (tuple(exact[:29]),),
            "ints": matrix([rng.randint(-9, 9) for _ in range(1200)])}


@pytest.mark.parametrize("kind", _big_values().keys())
def test_a_big_arrays_json_line_is_json_dumps_of_its_step(kind):
    """step_line writes a big array's numbers itself, once per distinct number: the same bytes as
    json.dumps of the step's dict."""
    from hwsolve.core.records import Step
    from hwsolve.render import json_out

    value = _big_values()[kind]
    step = Step("W[1]", "given", value=value, shape=(40, 30))
    assert json_out.step_line(step, 4) == json.dumps(json_out.step_dict(step, 4), ensure_ascii=False)


@pytest.mark.parametrize("kind", ["floats", "float column", "exact", "exact column", "mixed", "ints",
                                  "every magnitude", "every magnitude column"])
@pytest.mark.parametrize("precision", [3, 6])
def test_a_big_arrays_text_and_latex_are_those_of_each_number(kind, precision):
    v = _big_values()[kind]
    latex = _LatexPrinter(precision)
    rows = v if isinstance(v[0], tuple) else (v,)
    want_text = ", ".join("[" + ", ".join(fmt_number(x, precision) for x in r) + "]" for r in rows)
    assert to_text(Const(v), precision) == (f"[{want_text}]" if rows is v else want_text)
    want_tex = r" \\ ".join(" & ".join(map(latex.number, r)) for r in rows) if rows is v \
        else r" \\ ".join(map(latex.number, v))
    assert to_latex(Const(v), precision) == r"\begin{bmatrix} " + want_tex + r" \end{bmatrix}"
    assert to_text(Const(v), precision) is to_text(Const(v), precision)  # made once


# -- the YAML fast path for plain numbers in lists -----------------------------------------------

YAML_CASES = [
    "a: [0.25, -3, 012, 0x1f, 1_000, +3, .5, 1e3, 1.5e3, -0, 0.0, 00.5, 7.]\n",
    "a: [[1, 2.5, '3'], [\"4\", !!str 5, ~, null, true, x]]\n",
    "a: [1, 2,\n    3.25, -4]\nb: 2\n",
    "a:\n  - 1\n  - 2.5\n  - [3, 4]\n",
    "a: &w [1, 2, 3]\nb: *w\nc: [&x 4, *x, 5]\n",
    "a: [1, 2, 3.]\n",
    "a: [1, 2, 99999999999999999999999]\n",
]


def _general(text: str):
    original = loader._Builder.list_numbers
    loader._Builder.list_numbers = lambda self, parser, event, top: event  # every scalar the general way
    try:
        return load_yaml_text(text)
    finally:
        loader._Builder.list_numbers = original


@pytest.mark.parametrize("text", YAML_CASES)
def test_list_numbers_read_as_the_general_path_reads_them(text):
    fast, general = load_yaml_text(text), _general(text)
    assert repr(fast.data) == repr(general.data)  # same values and types (Fraction, int, str)

    def paths(v, path=()):
        yield path
        items = v.items() if isinstance(v, dict) else enumerate(v) if isinstance(v, list) else ()
        for k, x in items:
            yield from paths(x, path + (k,))

    for p in paths(fast.data):
        assert fast.root.__class__(fast, p).line == general.root.__class__(general, p).line, p


def test_list_numbers_keep_the_node_budget_and_the_error_lines():
    text = "a: [" + ", ".join(["0.5"] * 50) + "]\n"
    with pytest.raises(SpecError, match="too many values"):
        load_yaml_text(text, max_nodes=20)
    doc = load_yaml_text("a: [1, 2,\n  x, 3]\n")
    assert doc.root["a"][2].line == 2 and doc.root["a"][3].line == 2 and doc.root["a"][0].line == 1


# -- grade --jobs: results sent as tuples --------------------------------------------------------


def test_packed_results_unpack_to_the_same_results(tmp_path):
    from hwsolve.grade import run
    from hwsolve.grade.grader import load_key

    key = load_key("problems/cs4782_p1.yaml", None)
    right = tmp_path / "a.yaml"
    right.write_text("student: ann\nanswers:\n  a[1]: [2, 8, 9]\n  z[1]: [2, 8, 10]\n  dL/dW[3]: '1/3'\n")
    broken = tmp_path / "b.yaml"
    broken.write_text("answers: [1, 2\n")
    for path in (right, broken):
        result = run.grade_path(key, str(path))
        packed = run._packed(result, key.values)
        assert any(step[run._EXPECTED] == run._FROM_KEY for step in packed[1])  # the key's values stay home
        back = run._unpacked(packed, key.values)
        assert back == result
        assert all(b.expected is s.expected for b, s in zip(back.steps, result.steps, strict=True))
