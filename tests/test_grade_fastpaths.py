"""Grading's shortcuts against the general paths they stand for (issue 17): a student's world shared
by submissions with the same wrong values, and --brief lines laid out without rich's markup parser."""

from __future__ import annotations

import io
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console
from rich.text import Text

from hwsolve.grade.answers import MAX_JSON_DEPTH, AnswerError, Submission, _check_depth, parse_value
from hwsolve.grade.grader import _values_signature, grade, load_key
from hwsolve.grade.report import _plain_lines

ROOT = Path(__file__).resolve().parents[1]
P1 = str(ROOT / "problems" / "cs4782_p1.yaml")

# a slip in a[3] carried forward (ECF), a factor 2 dropped (a named mistake), both again, and the
# same numbers as floats: 8.0 equals 8 but is computed as a float, so it must not share the world
SLIP = {"a[3]": 9, "z[3]": 9, "yhat": 9, "dL/dyhat": -2, "dL/dz[3]": -2, "dL/da[3]": -2, "dL/db[3]": -2,
        "dL/dW[3]": [[-76, -44]]}
HALF = {"dL/dW[2]": [[4, 16, 18], [-6, -24, -27]], "dL/db[2]": [4, -6]}
FLOATS = {k: (float(v) if isinstance(v, int) else [[float(x) for x in r] for r in v]) for k, v in SLIP.items()}


def _sub(answers: dict) -> Submission:
    return Submission("s.json", "s", {k: parse_value(v) for k, v in answers.items()})


@pytest.fixture(scope="module")
def key():
    return load_key(P1)


def test_shared_worlds_grade_as_fresh_ones(key):
    batch = [SLIP, HALF, {**SLIP, **HALF}, SLIP, FLOATS, HALF, FLOATS]
    shared = [grade(key, _sub(a)) for a in batch]
    fresh = []
    for a in batch:
        key.worlds.clear()
        fresh.append(grade(key, _sub(a)))
    assert repr(shared) == repr(fresh)
    assert any(s.verdict == "ecf" for s in shared[0].steps)


def test_equal_values_of_other_types_are_other_worlds():
    ints, floats = parse_value([8, 0]).value, parse_value([8.0, -0.0]).value
    zero = parse_value([8.0, 0.0]).value
    assert ints == floats == zero
    signatures = {_values_signature({"a": v}) for v in (ints, floats, zero)}
    assert len(signatures) == 3
    assert _values_signature({"a": parse_value([Fraction(1, 3)]).value}) == \
        _values_signature({"a": parse_value(["1/3"]).value})


def _rich_lines(lines: list[str], console: Console) -> str:
    console.print(Text("\n").join(console.render_str(line) for line in lines))
    return console.file.getvalue()


@pytest.mark.parametrize("width", [20, 44, 120])
def test_brief_lines_as_rich_lays_them_out(width):
    lines = ["s861881  (subs/00000.json):  13 / 15  (87%)", "x" * 70 + " y", "a  b   c" * 9 + "   ",
             "s2  (subs/2.json):  0 / 15  (0%)  -- could not be graded: invalid JSON: Expecting value (line 1)"]

    def console() -> Console:
        return Console(file=io.StringIO(), width=width, color_system=None, force_terminal=False,
                       highlight=False, emoji=False)

    plain = _plain_lines(lines, console())
    assert plain is not None
    assert plain + "\n" == _rich_lines(lines, console())  # print_results writes it as it is


@pytest.mark.parametrize("line", ["[bold]s1  (a.json):  1 / 1  (100%)", "s:smile:  (a.json)", "s\tt", "名前  (a.json)"])
def test_brief_lines_rich_must_read_go_to_rich(line):
    console = Console(file=io.StringIO(), width=80, color_system=None, force_terminal=False)
    assert _plain_lines([line], console) is None


def _walked_depth_check(data) -> str:
    """The answer files' depth and size check as a plain walk of every value: what `_check_depth`
    (level by level, containers only) must agree with. Too deep is said first."""
    stack, count = [(data, 0)], 0
    while stack:
        v, d = stack.pop()
        count += 1
        if d > MAX_JSON_DEPTH:
            return "deep"
        if isinstance(v, dict):
            stack.extend((x, d + 1) for x in v.values())
        elif isinstance(v, list):
            stack.extend((x, d + 1) for x in v)
    return "many" if count > 300_000 else "ok"


def _checked(data) -> str:
    try:
        _check_depth(data)
    except AnswerError as e:
        return "deep" if "nested" in e.message else "many"
    return "ok"


def _nested(depth: int, leaf) -> object:
    for i in range(depth):
        leaf = [leaf] if i % 2 else {"k": leaf}
    return leaf


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH - 1, MAX_JSON_DEPTH, MAX_JSON_DEPTH + 1])
@pytest.mark.parametrize("leaf", [1, [], {}, [1, 2], "s"])
def test_depth_check_at_the_limit(depth, leaf):
    data = _nested(depth, leaf)
    assert _checked(data) == _walked_depth_check(data)


@pytest.mark.parametrize("n", [299_999, 300_000])
def test_depth_check_counts_values(n):
    for data in ([0] * n, {"a": [[0] * (n // 2), [0] * (n - n // 2)]}, [[0] * n, _nested(MAX_JSON_DEPTH + 1, 0)]):
        assert _checked(data) == _walked_depth_check(data)
    assert _checked([[0] * n, _nested(MAX_JSON_DEPTH + 1, 0)]) == "deep"  # too deep is said whatever the size


json_values = st.recursive(st.one_of(st.integers(), st.text(max_size=3), st.none()),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=2), inner,
                                                                                       max_size=3),
                           max_leaves=60)


@given(json_values, st.integers(0, 40))
def test_depth_check_agrees_with_a_walk(data, depth):
    data = _nested(depth, data)
    assert _checked(data) == _walked_depth_check(data)
