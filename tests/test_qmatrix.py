"""The pure-Python exact matrices (QMatrix) agree exactly with numpy object arrays of Fractions.

A small exact network is solved on QMatrix values so that numpy is never imported (issue 17);
these tests hold that path to the numpy one: the same rationals in every step, the same text,
on random networks (exact activations and float ones, whose values leave QMatrix for numpy).
"""

from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hwsolve.core import values as T
from hwsolve.core.qmatrix import QMatrix
from hwsolve.render.json_out import render as render_json
from hwsolve.spec.loader import load_yaml_text
from hwsolve.topics.backprop import solve as backprop
from hwsolve.topics.backprop.network_spec import parse_network

ROOT = Path(__file__).resolve().parents[1]
small = st.fractions(min_value=-3, max_value=3, max_denominator=4)


def matrices(m: int, n: int):
    return st.lists(st.lists(small, min_size=n, max_size=n), min_size=m, max_size=m)


def _pair(rows):
    return QMatrix([list(r) for r in rows]), np.array(rows, dtype=object)


def _same(q, a) -> None:
    assert isinstance(q, QMatrix)
    assert q.shape == a.shape
    assert q.tolist() == a.tolist()
    assert all(type(v) is Fraction for v in q.flat)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 4), st.data())
def test_arithmetic_matches_numpy_object_arrays(m, k, n, data):
    qa, na = _pair(data.draw(matrices(m, k)))
    qb, nb = _pair(data.draw(matrices(k, n)))
    qc, nc = _pair(data.draw(matrices(m, k)))
    qs, ns = _pair(data.draw(matrices(1, 1)))
    c = data.draw(small)
    _same(qa @ qb, na @ nb)
    _same(qa + qc, na + nc)
    _same(qa - qc, na - nc)
    _same(qa * qc, na * nc)
    _same(qa * qs, na * ns)  # a 1 x 1 broadcasts, as in numpy
    _same(qs * qa, ns * na)
    _same(qa * c, na * c)
    _same(c * qa, c * na)
    _same(-qa, -na)
    _same(qa.T, na.T)
    assert qa[m - 1, k - 1] == na[m - 1, k - 1]
    assert qa[:, 0] == list(na[:, 0])
    assert list(T.ndenumerate(qa)) == [(tuple(i), v) for i, v in np.ndenumerate(na)]
    assert T.plain(qa) == T.plain(na) and T.plain(qa, matrix=True) == T.plain(na, matrix=True)


wide = st.fractions(min_value=-(2**20), max_value=2**20, max_denominator=2**40)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 3), st.data())
def test_the_backward_product_from_cached_rows_and_entry_arithmetic_on_long_fractions(k, m, n, data):
    """W.T @ G after W @ z reads W's integer rows (`_transposed_product`); + - * of entries are
    made from Fraction's slots. Both give numpy's rationals, on entries with long denominators."""
    rows = data.draw(st.lists(st.lists(wide, min_size=m, max_size=m), min_size=k, max_size=k))
    qw, nw = _pair(rows)
    qg, ng = _pair(data.draw(st.lists(st.lists(wide, min_size=n, max_size=n), min_size=k, max_size=k)))
    qz, nz = _pair(data.draw(st.lists(st.lists(wide, min_size=1, max_size=1), min_size=m, max_size=m)))
    _same(qw.T @ qg, nw.T @ ng)   # before W's rows are kept: W.T's own rows
    _same(qw @ qz, nw @ nz)       # the forward product keeps them
    assert (qw._integer_rows is not None) == (m > 1)   # an inner size of 1 is an outer product
    _same(qw.T @ qg, nw.T @ ng)   # from W's rows
    qv, nv = _pair(data.draw(st.lists(st.lists(wide, min_size=m, max_size=m), min_size=k, max_size=k)))
    _same(qw + qv, nw + nv)
    _same(qw - qv, nw - nv)
    _same(qw * qv, nw * nv)


@settings(max_examples=300, deadline=None)
@given(st.integers(-(2**80), 2**80), st.integers(1, 2**70))
def test_lowest_is_fraction_of_n_and_d(n, d):
    """wholes.lowest stores Fraction's slots itself: the same rational, in the same lowest terms,
    equal, hashing alike and printing alike."""
    from hwsolve.core.wholes import lowest

    made, want = lowest(n, d), Fraction(n, d)
    assert type(made) is Fraction and made == want and hash(made) == hash(want)
    assert (made.numerator, made.denominator) == (want.numerator, want.denominator)
    assert str(made) == str(want) and made + 1 == want + 1 and float(made) == float(want)


def test_what_it_does_not_do_itself_numpy_does():
    q, a = _pair([[Fraction(1, 2), Fraction(3)], [Fraction(-1), Fraction(0)]])
    assert (q.reshape(-1) == a.reshape(-1)).all()
    assert (q + np.ones((2, 2)) == a + np.ones((2, 2))).all()  # numpy defers to QMatrix's reflected add
    assert (np.ones((2, 2)) * q == np.ones((2, 2)) * a).all()
    assert (T.to_float(q) == T.to_float(a)).all() and T.to_float(q).dtype == np.float64
    assert (q * 0.5 == a * 0.5).all()


def test_exact_makes_qmatrix_only_inside_small_exact():
    assert not isinstance(T.exact([[1, 2]]), QMatrix)
    with T.small_exact():
        assert isinstance(T.exact([[1, 2]]), QMatrix) and isinstance(T.ones((2, 1)), QMatrix)
        assert isinstance(T.exact([1, Fraction(1, 3)]), QMatrix) and T.exact([1, 2]).shape == (2, 1)
        assert not isinstance(T.exact([[0.5]]), QMatrix)  # a float is not rational: numpy
    assert not isinstance(T.exact([[1, 2]]), QMatrix)


# -- whole networks: the QMatrix path and the numpy path give the same solution ----------------

ACTIVATIONS = ["relu", "leaky_relu", "identity", "5 * relu", "sigmoid", "tanh"]


@st.composite
def networks(draw):
    widths = draw(st.lists(st.integers(1, 4), min_size=2, max_size=4))
    layers = []
    for n_in, n_out in zip(widths, widths[1:], strict=False):
        layers.append({"type": "linear", "W": [[str(draw(small)) for _ in range(n_in)] for _ in range(n_out)],
                       "b": [str(draw(small)) for _ in range(n_out)]})
        layers.append(draw(st.sampled_from(ACTIVATIONS)))
    loss = draw(st.sampled_from(["squared_error", "mse"]))
    return {"hwsolve": 1, "kind": "network", "input": [str(draw(small)) for _ in range(widths[0])],
            "target": [str(draw(small)) for _ in range(widths[-1])], "layers": layers, "loss": loss}


def _steps(solution):
    return [(s.name, s.section, s.value, s.shape, s.note) for s in solution.steps]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks())
def test_both_paths_give_the_same_solution(spec):
    problem = parse_network(load_yaml_text(yaml.safe_dump(spec), "random.yaml"))
    assert backprop.small_exact(problem)
    with_qmatrix = backprop.solve(problem)     # small and exact: QMatrix values
    with_numpy = backprop._solve(problem)      # the same solver on numpy object arrays
    assert _steps(with_qmatrix) == _steps(with_numpy)
    assert with_qmatrix.notes == with_numpy.notes
    assert json.loads(render_json(with_qmatrix, 4)) == json.loads(render_json(with_numpy, 4))


@pytest.mark.parametrize("widths", [(2, 32), (3, 40, 2)])
def test_a_matrix_of_a_thousand_entries_or_more_takes_the_qmatrix_path(widths):
    """32 x 32 (the db Jacobian of a 32-wide layer) is where conversions are remembered for big
    arrays: a QMatrix keeps its own and must not reach the numpy memo."""
    layers = []
    for n_in, n_out in zip(widths, widths[1:], strict=False):
        layers += [{"type": "linear", "W": [[(i + j) % 3 - 1 for j in range(n_in)] for i in range(n_out)],
                    "b": [i % 2 for i in range(n_out)]}, "relu"]
    spec = {"hwsolve": 1, "kind": "network", "input": list(range(1, widths[0] + 1)), "target": [0] * widths[-1],
            "layers": layers, "loss": "squared_error"}
    problem = parse_network(load_yaml_text(yaml.safe_dump(spec), "wide.yaml"))
    assert backprop.small_exact(problem)
    with_qmatrix, with_numpy = backprop.solve(problem), backprop._solve(problem)
    assert _steps(with_qmatrix) == _steps(with_numpy)
    assert render_json(with_qmatrix, 4) == render_json(with_numpy, 4)


def test_whole_numbers_times_an_int_stay_fractions():
    with T.small_exact():
        for q in (T.eye(2) * 3, 3 * T.ones((2, 1)), T.ones((1, 2)) * 0, T.eye(2) - 1, T.eye(2) / 2):
            assert isinstance(q, QMatrix) and all(type(v) is Fraction for v in q.flat)
        assert T.plain(T.eye(2) * 3) == ((3, 0), (0, 3)) and T.plain(T.ones((1, 2)) * 0) == ((0, 0),)


@pytest.mark.parametrize("args", [["backprop", "problems/cs4782_p1.yaml"],
                                  ["backprop", "problems/cs4782_p1.yaml", "--format", "json"]])
def test_p1_never_imports_numpy(args):
    # cli.main, not the console script: that one ends the process before anything can be printed
    code = ("import sys\nfrom hwsolve.cli import main\n"
            "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
            "print('NUMPY' if 'numpy' in sys.modules else 'NO NUMPY', file=sys.stderr)")
    res = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True)
    assert res.stderr.strip().splitlines()[-1] == "NO NUMPY", res.stderr[-2000:]
