"""report.to_junit writes its XML as text: byte for byte what the ElementTree version it replaced
wrote (kept below as the reference), for real results and for any text a submission can hold."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hwsolve.grade.answers import Submission, load_submission, parse_value
from hwsolve.grade.grader import VERDICTS, Key, Result, StepResult, grade, load_key
from hwsolve.grade.report import LABEL, _pts, feedback, to_junit, xml_safe

ROOT = Path(__file__).resolve().parents[1]
P1 = str(ROOT / "problems" / "cs4782_p1.yaml")
DATA = ROOT / "tests" / "data"


# -- the reference: to_junit as it was, built with ElementTree ------------------------------------


def _xml_clean(elem: ET.Element) -> None:
    for e in elem.iter():
        for k, v in e.attrib.items():
            e.set(k, xml_safe(v))
        if e.text:
            e.text = xml_safe(e.text)


def _cls(student: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "_-" else "_" for ch in student) or "submission"


def reference_junit(key: Key, results: list[Result], show_key: bool = False) -> str:
    root = ET.Element("testsuites", name=f"hwsolve grade {key.path}")
    tot = {"tests": 0, "failures": 0, "errors": 0}
    for r in results:
        suite = ET.SubElement(root, "testsuite", name=r.student, hostname="hwsolve")
        props = ET.SubElement(suite, "properties")
        ET.SubElement(props, "property", name="path", value=r.path)
        ET.SubElement(props, "property", name="score", value=_pts(r.score))
        ET.SubElement(props, "property", name="max_score", value=_pts(r.max_score))
        fails = errs = 0
        for s in r.steps:
            tc = ET.SubElement(suite, "testcase", name=s.name, classname=f"hwsolve.grade.{_cls(r.student)}",
                               time="0")
            msg = f"{LABEL[s.verdict]}, {_pts(s.points)}/{_pts(s.max_points)} points"
            fb = feedback(s, show_key)
            if r.error:
                errs += 1
                e = ET.SubElement(tc, "error", message=f"submission could not be read: {r.error}", type="unreadable")
                e.text = r.error
            elif s.points < s.max_points:
                fails += 1
                f = ET.SubElement(tc, "failure", message=f"{msg}: {fb}" if fb else msg, type=s.verdict)
                f.text = fb or msg
            elif s.verdict == "ecf":
                so = ET.SubElement(tc, "system-out")
                so.text = f"{msg}: {fb}"
        suite.set("tests", str(len(r.steps)))
        suite.set("failures", str(fails))
        suite.set("errors", str(errs))
        suite.set("skipped", "0")
        suite.set("time", "0")
        tot["tests"] += len(r.steps)
        tot["failures"] += fails
        tot["errors"] += errs
    for k, v in tot.items():
        root.set(k, str(v))
    _xml_clean(root)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


# -- helpers ----------------------------------------------------------------------------------------


KEY = load_key(P1)

# a slip carried forward (ECF steps), a factor 2 dropped (a named mistake), as in test_grade_fastpaths
SLIP = {"a[3]": 9, "z[3]": 9, "yhat": 9, "dL/dyhat": -2, "dL/dz[3]": -2, "dL/da[3]": -2, "dL/db[3]": -2,
        "dL/dW[3]": [[-76, -44]]}
HALF = {"dL/dW[2]": [[4, 16, 18], [-6, -24, -27]], "dL/db[2]": [4, -6]}


def _sub(student: str, answers: dict) -> Submission:
    return Submission(f"subs/{student}.json", student, {k: parse_value(v) for k, v in answers.items()})


def _same(key: Key, results: list[Result], show_key: bool = False) -> str:
    """to_junit's text, checked against the reference byte for byte and parsed back."""
    new = to_junit(key, results, show_key)
    old = reference_junit(key, results, show_key)
    assert new.encode("utf-8") == old.encode("utf-8")
    root = ET.fromstring(new.encode("utf-8"))
    assert root.tag == "testsuites" and len(root) == len(results)
    return new


def _step(name: str, verdict: str, points: float, max_points: float, reason: str = "") -> StepResult:
    return StepResult(name, verdict, points, max_points, reason, expected=KEY.values.get(name))


# -- real results --------------------------------------------------------------------------------


def _graded() -> list[Result]:
    subs = [_sub("slip", SLIP), _sub("half", HALF), _sub("both", {**SLIP, **HALF}), _sub("none", {}),
            load_submission(str(DATA / "seed001_answers.yaml")),
            load_submission(str(DATA / "grade_p1_perfect.yaml")),
            Submission("subs/bad.json", "bad", {}, error="invalid JSON: Expecting value (line 1)")]
    return [grade(KEY, s) for s in subs]


@pytest.mark.parametrize("show_key", [False, True])
def test_real_results_as_the_reference_wrote_them(show_key):
    results = _graded()
    verdicts = {s.verdict for r in results for s in r.steps}
    assert verdicts == set(VERDICTS) and any(r.error for r in results)   # every branch is taken
    text = _same(KEY, results, show_key)
    assert "<system-out>" in text and "<failure " in text and "<error " in text


def test_one_submission_and_none():
    _same(KEY, _graded()[:1])
    assert _same(KEY, []).endswith('tests="0" failures="0" errors="0" />\n')   # no suites: an empty element


# -- odd cases built by hand -------------------------------------------------------------------


HOSTILE = ['', ' ', 'a"b\'c', 'x & y <z> ]]>', 'line\nbreak\r\nand\rcr\ttab', '\x00\x01\x08\x0b\x0c\x0e\x1f',
           '\x7f\x85\x9f', '?\ud800?\udfff', '\ufffe\uffff\ufffd', 'é中文😀', '\\u0000', '&amp;&#10;', '\u2028\u202e',
           '  leading and trailing  ', '\n', '\t']


@pytest.mark.parametrize("text", HOSTILE)
@pytest.mark.parametrize("show_key", [False, True])
def test_hostile_text_everywhere(text, show_key):
    steps = [_step(text, "correct", 1, 1, text), _step("yhat", "ecf", 1, 1, text), _step("yhat", "ecf", 0.5, 1, text),
             _step("L", "wrong", 0, 2, text), _step(text, "wrong_shape", 0.375, 1.125, ""),
             _step("a[3]", "wrong", 1, 1, text), _step("z[3]", "missing", 0, 1, "")]
    results = [Result(text, text, steps), Result(text, text, steps, error=text or "x"),
               Result(f"p/{text}", f"s{text}", steps[:2], warnings=[text])]
    _same(dataclasses.replace(KEY, path=text), results, show_key)


def test_no_steps_and_unreadable_without_steps():
    results = [Result("a.json", "a", []), Result("b.json", "b", [], error="cannot read file"),
               Result("c.json", "c", [_step("L", "missing", 0, 1, "no answer")])]
    _same(KEY, results)


# -- any text ----------------------------------------------------------------------------------------

# every code point (surrogates too), with the characters XML escapes or cannot hold made common
_char = st.characters(codec=None, exclude_categories=()) | st.sampled_from(
    list("&<>\"'\r\n\t \x00\x0b\x1b\x7f\x85\ud800\udc00\ufffe\uffff\\]"))
_text = st.text(_char, max_size=30)
_points = st.sampled_from([0, 0.5, 1, 1.5, 2, 0.125, 1 / 3])


@st.composite
def _results(draw) -> list[Result]:
    out = []
    for _ in range(draw(st.integers(0, 4))):
        steps = [StepResult(draw(_text), draw(st.sampled_from(VERDICTS)), draw(_points), draw(_points),
                            draw(_text)) for _ in range(draw(st.integers(0, 4)))]
        error = draw(st.just("") | _text)
        out.append(Result(draw(_text), draw(_text), steps, error=error))
    return out


@settings(max_examples=300, deadline=None)
@given(_results(), _text, st.booleans())
def test_any_text_as_the_reference_wrote_it(results, key_path, show_key):
    key = dataclasses.replace(KEY, path=key_path)
    root = ET.fromstring(_same(key, results, show_key).encode("utf-8"))
    # attribute values come back as written, made XML-safe (a parser keeps &#10; &#13; &#09;)
    assert [s.get("name") for s in root] == [xml_safe(r.student) for r in results]
    assert [[c.get("name") for c in s.iter("testcase")] for s in root] == \
        [[xml_safe(step.name) for step in r.steps] for r in results]
