"""Every kink and tie note names its entries the same way, counting from 1: a column's by row
(`3`), a matrix's as (row, col), a C x H x W map's as (channel, row, col). Checked against the
entries found independently (numpy's argwhere, a direct loop over pooling windows)."""

from __future__ import annotations

import textwrap

import numpy as np
from hypothesis import given, settings, strategies as st

from hwsolve.autodiff.layer_ops import MaxPool2d
from hwsolve.autodiff.ops import entry_list
from hwsolve.core import values as T
from hwsolve.spec.loader import load_yaml_text
from hwsolve.topics import parse
from hwsolve.topics.backprop.solve import solve

SMALL = settings(max_examples=15, deadline=None)


def _solve(text: str):
    return solve(parse(load_yaml_text(textwrap.dedent(text), "kink.yaml")))


def _rows(a) -> str:
    return "[" + ", ".join("[" + ", ".join(str(int(v)) for v in row) + "]" for row in a) + "]"


def _named(hits) -> str:
    return ", ".join("(" + ", ".join(str(k + 1) for k in idx) + ")" for idx in hits)


def test_entry_list_counts_from_one():
    assert entry_list([(2, 0)], (3, 1)) == "3"
    assert entry_list([(0, 1), (2, 0)], (3, 2)) == "(1, 2), (3, 1)"
    assert entry_list([(0, 1)], (1, 3)) == "(1, 2)"   # a row vector is a matrix: (row, col)
    assert entry_list([(1, 0, 2)], (2, 3, 3)) == "(2, 1, 3)"
    assert entry_list([(2, 0)], (3, 1), grid=True) == "(3, 1)"   # a one-column image is still an image


@SMALL
@given(st.data(), st.sampled_from(["relu", "leaky_relu", "abs"]))
def test_a_kink_note_on_a_matrix_names_row_and_column(data, fn):
    shape = (data.draw(st.integers(1, 3)), data.draw(st.integers(2, 3)))
    a = np.array(data.draw(st.lists(st.integers(-1, 1), min_size=shape[0] * shape[1],
                                    max_size=shape[0] * shape[1]))).reshape(shape)
    sol = _solve(f"""\
        hwsolve: 1
        kind: graph
        inputs: {{A: {_rows(a)}}}
        nodes:
          R: {fn}(A)
          J: sum(R)
        output: J
        """)
    note = sol.step("R").note
    hits = [tuple(int(k) for k in idx) for idx in np.argwhere(a == 0)]
    if not hits:
        assert "kink" not in note
        return
    assert note.startswith(f"A entries {_named(hits)} at the kink:"), note


def test_a_kink_note_on_a_column_names_rows():
    sol = _solve("""\
        hwsolve: 1
        kind: network
        input: [1, 0, 2]
        layers:
          - {type: linear, W: [[1, -1, 0], [0, 0, 0], [1, 0, 0], [0, 2, 0]], b: [-1, 0, 1, 0]}
          - relu
          - {type: linear, W: [[1, 1, 1, 1]]}
        target: [1]
        loss: squared_error
        """)
    assert sol.step("z[1]").note.startswith("a[1] entries 1, 2, 4 at the kink: ReLU'(0) taken as 0"), \
        sol.step("z[1]").note


@SMALL
@given(st.data(), st.sampled_from(["maximum", "minimum"]), st.sampled_from(["first", "split"]))
def test_a_tie_note_of_maximum_and_minimum_names_the_tied_entries(data, which, tie):
    n = data.draw(st.integers(2, 3))
    a = np.array(data.draw(st.lists(st.integers(0, 2), min_size=2 * n, max_size=2 * n))).reshape(2, n)
    b = np.array(data.draw(st.lists(st.integers(0, 2), min_size=2 * n, max_size=2 * n))).reshape(2, n)
    sol = _solve(f"""\
        hwsolve: 1
        kind: graph
        conventions: {{min_max_tie: {tie}}}
        inputs: {{A: {_rows(a)}, B: {_rows(b)}}}
        nodes:
          M: {which}(A, B)
          J: sum(M)
        output: J
        """)
    note = sol.step("M").note
    hits = [tuple(int(k) for k in idx) for idx in np.argwhere(a == b)]
    if not hits:
        assert note == ""
        return
    assert f"tie A = B at entr{'y' if len(hits) == 1 else 'ies'} {_named(hits)}: " in note, note
    assert ("first operand, A" if tie == "first" else "split equally") in note


def _pool_ties_by_loop(x3: np.ndarray, k: int, s: int) -> list[tuple]:
    """(output cell, winning input cell, ties) by a direct loop over the windows."""
    out = []
    c_n, h, w = x3.shape
    for c in range(c_n):
        for i in range((h - k) // s + 1):
            for j in range((w - k) // s + 1):
                cells = [(i * s + u, j * s + v) for u in range(k) for v in range(k)]
                best = max(x3[c][cell] for cell in cells)
                winners = [cell for cell in cells if x3[c][cell] == best]
                if len(winners) > 1:
                    out.append(((c, i, j), (c,) + winners[0], len(winners)))
    return out


@SMALL
@given(st.data(), st.booleans())
def test_a_maxpool_tie_note_names_output_and_winner(data, channels):
    shape = ((2,) if channels else ()) + (data.draw(st.integers(2, 4)), data.draw(st.integers(2, 4)))
    size = int(np.prod(shape))
    x = np.array(data.draw(st.lists(st.integers(0, 2), min_size=size, max_size=size))).reshape(shape)
    k, s = 2, data.draw(st.integers(1, 2))
    op = MaxPool2d(k, s)
    xq = T.exact(x.tolist())
    note = op.note([xq], op.forward([xq]), ["z"])
    ties = _pool_ties_by_loop(x.reshape((-1,) + x.shape[-2:]), k, s)
    if not ties:
        assert note == ""
        return
    told = [f"output {_named([o if channels else o[1:]])}: z entry {_named([w if channels else w[1:]])}, "
            f"the first of {n} tied" for o, w, n in ties]
    assert note.endswith(": " + "; ".join(told)), (note, told)


def test_a_two_filter_network_prints_its_maps_as_nested_matrices_in_every_format():
    """A conv layer with two filters makes C x H x W values: text prints them as nested lists of
    numbers (not Python tuples), LaTeX as one bmatrix per channel (it failed on 1e-17 before)."""
    from hwsolve.render import json_out, latex, markdown
    from hwsolve.render.text import value_text

    sol = _solve("""\
        hwsolve: 1
        kind: network
        input: [[1, 0, 2, 1], [0, 1, 1, 0], [2, 1, 0, 1], [1, 3, 1, 2]]
        layers:
          - {type: conv, kernel: [[[[1, 0], [0, -1]]], [[[0, 1], [1, 0]]]], bias: [1, -1]}
          - relu
          - {type: maxpool, window: 2, stride: 1}
          - flatten
          - {type: linear, W: [[1, 0, -1, 1, 0, 1, 1, 0], [0, 1, 1, 0, 1, 0, 0, 1]], b: [0, 1]}
          - softmax
        target: {class: 1}
        loss: cross_entropy
        """)
    assert value_text(sol.step("a[1]"), 4) == \
        "[[[1, 0, 3], [0, 2, 1], [0, 1, -1]], [[-1, 2, 1], [2, 1, -1], [1, 2, 1]]]"
    grad = sol.step("dL/da[1]")
    assert "(" not in value_text(grad, 4) and value_text(grad, 4).startswith("[[[")
    tex = latex.render(sol, 4)
    assert r"\left[ \begin{bmatrix} 1 & 0 & 3 \\ 0 & 2 & 1 \\ 0 & 1 & -1 \end{bmatrix}, \begin{bmatrix}" in tex
    assert "Fraction" not in tex and "(" not in latex.value_latex(grad, 4)
    assert markdown.render(sol, 4) and json_out.render(sol, 4)
