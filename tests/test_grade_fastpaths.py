"""Grading's shortcuts against the general paths they stand for (issue 17): a student's world shared
by submissions with the same wrong values, and --brief lines laid out without rich's markup parser."""

from __future__ import annotations

import io
from fractions import Fraction
from pathlib import Path

import pytest
from rich.console import Console
from rich.text import Text

from hwsolve.grade.answers import Submission, parse_value
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

    mine = console()
    plain = _plain_lines(lines, mine)
    assert plain is not None
    mine.print(plain, markup=False, highlight=False, emoji=False, soft_wrap=True)
    assert mine.file.getvalue() == _rich_lines(lines, console())


@pytest.mark.parametrize("line", ["[bold]s1  (a.json):  1 / 1  (100%)", "s:smile:  (a.json)", "s\tt", "名前  (a.json)"])
def test_brief_lines_rich_must_read_go_to_rich(line):
    console = Console(file=io.StringIO(), width=80, color_system=None, force_terminal=False)
    assert _plain_lines([line], console) is None
