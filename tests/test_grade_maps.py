"""Grading conv networks whose values have three or more dimensions (C x H x W maps, F x C x kh x kw
kernels): the key loads, an answer is written with its matrices stacked, a wrong-shaped
answer is a clear "wrong shape" verdict, and a student's wrong map is carried forward (ECF). The
tolerant backward pass gives None, not a traceback, where a carried value has the wrong shape."""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pytest
from click.testing import CliRunner

from hwsolve.autodiff.graph import backward_pass
from hwsolve.cli import main
from hwsolve.core import values as T
from hwsolve.grade.answers import Value, parse_value
from hwsolve.spec.loader import load_yaml_text
from hwsolve.topics import parse
from hwsolve.topics.backprop.solve import compile_problem, solve

CNN2 = textwrap.dedent("""\
    hwsolve: 1
    kind: network
    title: two filters
    input: [[1, 0, 2, 1], [0, 1, 1, 0], [2, 1, 0, 1], [1, 3, 1, 2]]
    layers:
      - {type: conv, kernel: [[[[1, 0], [0, -1]]], [[[0, 1], [1, 0]]]], bias: [1, -1]}
      - relu
      - {type: maxpool, window: 2, stride: 1}
      - flatten
      - {type: linear, W: [[1, 0, -1, 1, 0, 1, 1, 0], [0, 1, 1, 0, 1, 0, 0, 1]], b: [0, 1]}
    target: [1, 0]
    loss: squared_error
    """)


def _plain(v):
    return [_plain(x) for x in v] if isinstance(v, tuple) else int(v)


def test_a_map_key_is_its_matrices_stacked_and_answers_are_matrices():
    assert Value.of((((1, 2), (3, 4)), ((5, 6), (7, 8)))) == parse_value([[1, 2], [3, 4], [5, 6], [7, 8]]).value
    assert Value.of(((((1, 2),), ((3, 4),)),)).dims == (2, 2)          # F x C x kh x kw: 1 x 2 x 1 x 2
    nested = parse_value([[[1, 2], [3, 4]], [[5, 6], [7, 8]]])
    assert nested.value is None and "written as its matrices stacked" in nested.problem


def test_the_tolerant_pass_gives_none_for_a_wrong_shaped_carried_value():
    c = compile_problem(parse(load_yaml_text(CNN2, "cnn2.yaml")))
    c.graph.forward()
    pool = next(n for n in c.graph.nodes if n.name == "pool[1]")
    a1 = next(n for n in c.graph.nodes if n.name == "a[1]")
    kernel = next(n for n in c.graph.nodes if n.name == "K[1]")
    wrong = T.exact([[1, 2, 3], [4, 5, 6]])       # pool[1] is 2 x 2 x 2
    with pytest.raises((IndexError, ValueError)):
        backward_pass(c.graph, c.loss, carried={pool: wrong})
    grads = backward_pass(c.graph, c.loss, carried={pool: wrong}, tolerant=True)
    assert grads[a1] is None and grads[kernel] is None   # nothing below it can be computed


def test_grading_a_two_filter_network_through_the_cli(tmp_path):
    key = tmp_path / "cnn2.yaml"
    key.write_text(CNN2)
    sol = solve(parse(load_yaml_text(CNN2, str(key))))
    a1, z1, dk = (_plain(sol.step(n).value) for n in ("a[1]", "z[1]", "dL/dK[1]"))
    assert np.array(a1).shape == (2, 3, 3) and np.array(dk).shape == (2, 1, 2, 2)
    a1_rows, dk_rows = [r for ch in a1 for r in ch], [r for f in dk for ch in f for r in ch]
    slip = [[row[:] for row in ch] for ch in a1]
    slip[0][0][0] += 5                               # a[1] wrong in one entry (1 -> 6) ...
    z_ecf = [[[max(v, 0) for v in row] for row in ch] for ch in slip]   # ... and ReLU of it
    subs = tmp_path / "subs"
    subs.mkdir()
    stacked = [row for ch in z1 for row in ch]
    (subs / "right.json").write_text(json.dumps({"answers": {"a[1]": a1_rows, "z[1]": stacked,
                                                             "dL/dK[1]": dk_rows}}))
    (subs / "shape.json").write_text(json.dumps({"answers": {"a[1]": [[1, 2, 3], [4, 5, 6]],
                                                             "pool[1]": [[1, 2, 3], [4, 5, 6], [7, 8, 9]]}}))
    (subs / "slip.json").write_text(json.dumps({"answers": {"a[1]": [r for ch in slip for r in ch],
                                                            "z[1]": [r for ch in z_ecf for r in ch]}}))
    out = tmp_path / "grades.json"
    r = CliRunner().invoke(main, ["grade", str(key), str(subs), "--json", str(out), "--brief"])
    assert r.exit_code == 0 and "Traceback" not in r.output, r.output
    verdicts = {s["path"].rsplit("/", 1)[-1]: {st["name"]: st for st in s["steps"]}
                for s in json.loads(out.read_text())["submissions"]}
    right, shape, slipped = verdicts["right.json"], verdicts["shape.json"], verdicts["slip.json"]
    assert [right[n]["verdict"] for n in ("a[1]", "z[1]", "dL/dK[1]")] == ["correct"] * 3
    assert shape["a[1]"]["verdict"] == shape["pool[1]"]["verdict"] == "wrong_shape"
    assert "the key is 2x3x3" in shape["a[1]"]["reason"] and "6x3" in shape["a[1]"]["reason"]
    assert slipped["a[1]"]["verdict"] == "wrong" and slipped["z[1]"]["verdict"] == "ecf", slipped["z[1]"]
