"""hwsolve grade: the seed-001 case, ECF, tolerance, answer files, hostile batches, outputs, CLI."""

import json
from fractions import Fraction
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from click.testing import CliRunner

from hwsolve.cli import main
from hwsolve.grade.answers import Submission, load_submission, parse_value
from hwsolve.grade.grader import grade, load_key
from hwsolve.grade.rubric import Tolerance, sig_figs_written

ROOT = Path(__file__).resolve().parents[1]
P1 = str(ROOT / "problems" / "cs4782_p1.yaml")
SEED001 = str(ROOT / "tests" / "data" / "seed001_answers.yaml")
# the default rubric (grade every forward value and summary gradient, the key's own layout): the
# mechanism tests below use it; tests/test_grade_rubrics.py grades P1 by the sheet's own rubric
DEFAULTS = str(ROOT / "tests" / "data" / "rubric_defaults.yaml")


def _p1_without_rubric() -> str:
    text = Path(P1).read_text()
    return text[:text.index("\nrubric:")] + "\n"


@pytest.fixture(scope="module")
def key():
    return load_key(P1, DEFAULTS)


def _grade(key, answers: dict):
    sub = Submission("s.yaml", "s", {k: parse_value(v) for k, v in answers.items()})
    return {s.name: s for s in grade(key, sub).steps}


# -- the real case: seed 001, Problem 1 ------------------------------------------------------


def test_seed001_verdicts(key):
    """Derived by hand from the seed texts (see tests/data/seed001_answers.yaml):
    a[3] = -2*38 + 3*22 + 18 = 8, the student writes 9 (the slip is here, not in yhat);
    z[3] = ReLU(9) = 9 and yhat = z[3] = 9 follow from it: ECF. The gradients use yhat = 8
    (2 x (8 - 10) = -4) and are right, not ECF. dL/dW[3] is written as a column where W[3] is a
    1x2 row; dL/dW[1] is 2x2 where 3x2 is due."""
    r = grade(key, load_submission(SEED001))
    v = {s.name: s for s in r.steps}
    for name in ("z[0]", "a[1]", "z[1]", "a[2]", "z[2]", "dL/db[3]", "dL/dW[2]", "dL/db[2]", "dL/db[1]"):
        assert v[name].verdict == "correct", name
    assert v["a[3]"].verdict == "wrong" and v["a[3]"].mistake == ""
    assert v["z[3]"].verdict == "ecf" and v["z[3]"].ecf_from == ("a[3]",)
    assert v["yhat"].verdict == "ecf" and v["yhat"].ecf_from == ("z[3]",)
    assert v["dL/dW[3]"].verdict == "wrong_shape" and v["dL/dW[3]"].mistake == "transposed"
    assert v["dL/dW[1]"].verdict == "wrong_shape" and v["dL/dW[1]"].mistake == "wrong_shape"
    assert "2x2 where 3x2 is due" in v["dL/dW[1]"].reason
    assert v["L"].verdict == v["dL/dx"].verdict == "missing"
    assert (r.score, r.max_score) == (11.5, 16)


def test_seed001_gradients_are_correct_not_ecf(key):
    """Had the student carried yhat = 9 into the gradients, dL/db[3] would be 2(9 - 10) = -2:
    that is ECF; the -4 they wrote is simply right."""
    v = _grade(key, {"yhat": 9, "dL/dyhat": -2, "dL/db[3]": -2, "dL/dW[3]": [[-76, -44]]})
    assert v["dL/db[3]"].verdict == "ecf" and v["dL/dW[3]"].verdict == "ecf"
    v = _grade(key, {"yhat": 9, "dL/db[3]": -4})
    assert v["dL/db[3]"].verdict == "correct"


# -- error carried forward ---------------------------------------------------------------------


def test_ecf_through_the_whole_graph(key):
    # a[2] = [38, 23] (slip): z[2] = [38, 23], a[3] = -76 + 69 + 18 = 11, yhat = 11
    # dL/dyhat = 2 (11 - 10) = 2, dL/db[2] = W[3]^T 2 = [-4, 6], dL/dW[2] = [-4, 6] z[1]^T
    v = _grade(key, {"a[2]": [38, 23], "z[2]": [38, 23], "a[3]": 11, "z[3]": 11, "yhat": 11,
                     "dL/db[3]": 2, "dL/db[2]": [-4, 6], "dL/dW[2]": [[-8, -32, -36], [12, 48, 54]],
                     "dL/dW[3]": [[76, 46]]})
    assert v["a[2]"].verdict == "wrong"
    for name in ("z[2]", "a[3]", "z[3]", "yhat", "dL/db[3]", "dL/db[2]", "dL/dW[2]", "dL/dW[3]"):
        assert v[name].verdict == "ecf", (name, v[name].reason)
    # dL/dW[3] = dL/da[3] z[2]^T: from the student's z[2] and (through dL/dyhat) their yhat
    assert {"z[2]", "yhat"} <= set(v["dL/dW[3]"].ecf_from)
    assert "a[2]" not in v["dL/dW[3]"].ecf_from   # used only through z[2], which they wrote


def test_no_ecf_from_an_unattempted_step(key):
    # yhat left out: a wrong gradient cannot be ECF of anything
    v = _grade(key, {"dL/db[3]": -2})
    assert v["dL/db[3]"].verdict == "wrong"


def test_no_ecf_for_a_trivial_value(key):
    # yhat = y = 10 makes every gradient 0: no credit for the zeros
    v = _grade(key, {"yhat": 10, "dL/db[3]": 0, "dL/db[1]": [0, 0, 0]})
    assert v["dL/db[3]"].verdict == "wrong" and v["dL/db[1]"].verdict == "wrong"
    # and an all-zero upstream value is not carried forward
    v = _grade(key, {"z[2]": [0, 0], "a[3]": 18})
    assert v["a[3]"].verdict == "wrong"


def test_ecf_off_and_penalty(key):
    from hwsolve.grade.rubric import Rubric

    key.rubric = Rubric(ecf=False)
    try:
        v = _grade(key, {"a[3]": 9, "z[3]": 9})
        assert v["z[3]"].verdict == "wrong"
        key.rubric = Rubric(ecf_penalty=0.25)
        v = _grade(key, {"a[3]": 9, "z[3]": 9})
        assert v["z[3]"].verdict == "ecf" and v["z[3]"].points == 0.75
    finally:
        key.rubric = Rubric()


def test_partial_credit_per_entry(key):
    v = _grade(key, {"dL/dW[2]": [[16, 64, 72], [-24, -96, 0]]})
    assert v["dL/dW[2]"].verdict == "wrong"
    assert v["dL/dW[2]"].points == pytest.approx(5 / 6)
    assert "5 of 6 entries right" in v["dL/dW[2]"].reason


# -- tolerance -----------------------------------------------------------------------------------


def test_sig_figs_written():
    assert sig_figs_written(Fraction("0.0078")) == 2
    assert sig_figs_written(150) == 2
    assert sig_figs_written(Fraction("151.9")) == 4
    assert sig_figs_written(Fraction(1, 3)) == 99


# The old single rule (2 to 3 figures, everything else unchecked) is still the `rounded` precision
# with `sig_figs_max: 3`; these are its cases, unchanged.
@pytest.mark.parametrize("answer,key_value,ok", [
    ("0.0078", Fraction(78125, 10**7), True),   # 0.0078125 to 2 figures
    ("0.33", Fraction(1, 3), True),
    ("0.3", Fraction(1, 3), False),             # 1 figure is not enough
    ("9", 8, False),
    ("8.4", 8, False),
    ("-150", -152, True),                       # a correct 2-figure rounding
    ("151", 152, False),                        # 3 figures written, the third is wrong
    ("151.9", 152, True),                       # beyond 3 figures nothing is checked
    ("0.00005", Fraction(5, 10**6), False),     # seed 001, 5.2: off by a factor 10
    ("1/3", Fraction(1, 3), True),
])
def test_tolerance_rounded_capped(answer, key_value, ok):
    from hwsolve.spec.numbers import parse_number

    tol = Tolerance(precision="rounded", sig_figs_max=3)
    assert tol.match(parse_number(answer), Fraction(key_value)) is ok


# The default (issue 14): integer keys are exact, others are checked at every figure written.
@pytest.mark.parametrize("answer,key_value,ok", [
    ("0.0078", Fraction(78125, 10**7), True),   # 0.0078125 to 2 figures
    ("0.33", Fraction(1, 3), True),
    ("0.3", Fraction(1, 3), False),             # 1 figure is not enough
    ("-150", -152, False),                      # an integer key is exact
    ("100", 104, False),                        # a count of trials is exact
    ("104.0", 104, True),
    ("151.9", 152, False),
    ("1.172", 1.1711, False),                   # 4 figures written: the key is 1.171 there
    ("1.171", 1.1711, True),
    ("0.213", 0.2135, True),                    # 3 figures, a tie rounds either way
    ("0.2135", 0.2135, True),
    ("0.21", 0.2135, True),
    ("0.214", 0.21349, False),
    ("1/3", Fraction(1, 3), True),
])
def test_tolerance_default(answer, key_value, ok):
    from hwsolve.spec.numbers import parse_number

    key = key_value if isinstance(key_value, float) else Fraction(key_value)
    assert Tolerance().match(parse_number(answer), key) is ok


def test_precision_exact_and_rounded():
    assert not Tolerance(precision="exact").match(Fraction(33, 100), Fraction(1, 3))
    assert Tolerance(precision="exact").match(Fraction(2, 6), Fraction(1, 3))
    assert Tolerance(precision="rounded").match(Fraction(-150), Fraction(-152))   # 2 figures, chosen
    assert not Tolerance(precision="rounded", sig_figs=3).match(Fraction(-150), Fraction(-152))


def test_abs_and_rel_tolerance():
    assert Tolerance(abs=0.5, sig_figs=None).match(Fraction(17, 2), 8)
    assert not Tolerance(sig_figs=None).match(Fraction(801, 100), 8)
    assert Tolerance(rel=0.01, sig_figs=None).match(Fraction(801, 100), 8)


# -- answer files ----------------------------------------------------------------------------------


def test_answer_values():
    assert parse_value("-1/5").value.plain() == Fraction(-1, 5)
    assert parse_value([[2], [8]]).value.plain() == (2, 8)       # a 2x1 matrix is the column
    assert parse_value([[1, 2]]).value.shape == (1, 2)
    assert parse_value(None).blank
    for bad in ([[1, 2], [3]], "two", True, [[[1]]], [], {"a": 1}, "1/0"):
        a = parse_value(bad)
        assert a.value is None and a.problem, bad


def test_json_answer_file(tmp_path, key):
    f = tmp_path / "s.json"
    f.write_text(json.dumps({"student": "js", "answers": {"yhat": 8, "a[3]": "8", "dL/db[2]": [8.0, -12]}}))
    sub = load_submission(f)
    assert sub.student == "js" and not sub.error
    v = {s.name: s for s in grade(key, sub).steps}
    assert v["yhat"].verdict == v["a[3]"].verdict == v["dL/db[2]"].verdict == "correct"


def test_unknown_names_warn(tmp_path, key):
    f = tmp_path / "s.yaml"
    f.write_text("a1: [2, 8, 9]\nyhat: 8\n")
    r = grade(key, load_submission(f))
    assert any("did you mean 'a[1]'" in w for w in r.warnings)


# -- hostile submissions in a batch ------------------------------------------------------------------


def _hostile(tmp_path: Path) -> dict[str, str]:
    d = tmp_path / "subs"
    d.mkdir()
    (d / "a_good.yaml").write_text(Path(SEED001).read_text())
    bomb = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for i in range(1, 9):
        prev = "a" if i == 1 else f"a{i - 1}"
        bomb.append(f"a{i}: &a{i} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]")
    (d / "b_bomb.yaml").write_text("\n".join(bomb) + "\n")
    (d / "c_deep.yaml").write_text("yhat: " + "[" * 5000 + "]" * 5000 + "\n")
    (d / "d_python.yaml").write_text("yhat: !!python/object/apply:os.system ['echo pwned']\n")
    (d / "e_huge.yaml").write_text("yhat: 8\n" + "# " + "x" * (10 * 1024 * 1024) + "\n")
    (d / "f_junk.yaml").write_bytes(bytes(range(256)) * 64)
    (d / "g_deep.json").write_text('{"yhat": ' + "[" * 100000 + "]" * 100000 + "}")
    (d / "h_notmap.yaml").write_text("- 1\n- 2\n")
    (d / "i_bigint.json").write_text('{"yhat": ' + "9" * 5000 + "}")
    (d / "z_good.json").write_text(json.dumps({"yhat": 8, "a[3]": 8}))
    return {"dir": str(d)}


def test_hostile_batch_graded_zero_and_batch_goes_on(tmp_path):
    d = _hostile(tmp_path)["dir"]
    out = tmp_path / "grades.json"
    res = CliRunner().invoke(main, ["grade", P1, d, "--json", str(out), "--brief"])
    assert res.exit_code == 3, res.output   # unreadable files (issue 14): exit 3, every report still written
    data = json.loads(out.read_text())
    subs = {Path(s["path"]).name: s for s in data["submissions"]}
    assert [Path(s["path"]).name for s in data["submissions"]] == sorted(subs)   # deterministic order
    assert subs["a_good.yaml"]["score"] == 12.375 and subs["a_good.yaml"]["error"] is None
    assert subs["z_good.json"]["score"] == 1.25   # yhat and a[3] at 5/8 each (P1 part 1: 5 points, 8 terms)
    for bad in ("b_bomb.yaml", "c_deep.yaml", "d_python.yaml", "e_huge.yaml", "f_junk.yaml",
                "g_deep.json", "h_notmap.yaml", "i_bigint.json"):
        assert subs[bad]["score"] == 0 and subs[bad]["error"], bad
    assert "alias bomb" in subs["b_bomb.yaml"]["error"] or "too many" in subs["b_bomb.yaml"]["error"]
    assert "python" in subs["d_python.yaml"]["error"]
    assert "bytes" in subs["e_huge.yaml"]["error"]
    assert data["class"]["unreadable"] == 8


def test_output_is_deterministic(tmp_path):
    d = _hostile(tmp_path)["dir"]
    outs = []
    for i in range(2):
        o = tmp_path / f"g{i}.json"
        CliRunner().invoke(main, ["grade", P1, d, "--json", str(o), "--brief"])
        outs.append(o.read_text())
    assert outs[0] == outs[1]


# -- output formats ------------------------------------------------------------------------------------


def test_junit_xml(tmp_path):
    d = _hostile(tmp_path)["dir"]
    out = tmp_path / "junit.xml"
    res = CliRunner().invoke(main, ["grade", P1, d, "--junit", str(out), "--brief"])
    assert res.exit_code == 3   # unreadable files (issue 14): exit 3, every report still written
    root = ET.parse(out).getroot()
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert len(suites) == 10
    total = 0
    for s in suites:
        for attr in ("name", "tests", "failures", "errors", "skipped", "time"):
            assert attr in s.attrib
        cases = s.findall("testcase")
        assert int(s.get("tests")) == len(cases) == 14   # P1's rubric: 8 forward values, 6 gradients
        assert int(s.get("failures")) == sum(1 for c in cases if c.find("failure") is not None)
        assert int(s.get("errors")) == sum(1 for c in cases if c.find("error") is not None)
        for c in cases:
            assert c.get("name") and c.get("classname") and float(c.get("time")) == 0
            assert len([e for e in c if e.tag in ("failure", "error", "skipped")]) <= 1
            for e in c:
                assert e.tag in ("failure", "error", "skipped", "system-out", "system-err")
                if e.tag in ("failure", "error"):
                    assert "message" in e.attrib and "type" in e.attrib
        total += len(cases)
    assert int(root.get("tests")) == total
    good = next(s for s in suites if s.get("name") == "seed001")
    fails = {c.get("name"): c.find("failure") for c in good.findall("testcase")}
    assert fails["a[1]"] is None and fails["dL/dW[1]"] is not None
    assert "wrong shape" in fails["dL/dW[1]"].get("message")


GRADESCOPE_VISIBILITY = {"hidden", "after_due_date", "after_published", "visible"}


def _check_gradescope(data):
    assert isinstance(data["score"], (int, float)) and isinstance(data.get("max_score"), (int, float))
    assert data.get("visibility", "visible") in GRADESCOPE_VISIBILITY
    assert data.get("stdout_visibility", "hidden") in GRADESCOPE_VISIBILITY
    assert isinstance(data["tests"], list) and data["tests"]
    for t in data["tests"]:
        assert isinstance(t["name"], str) and t["name"]
        assert isinstance(t["score"], (int, float)) and isinstance(t["max_score"], (int, float))
        assert 0 <= t["score"] <= t["max_score"]
        assert isinstance(t["output"], str)
        assert t["visibility"] in GRADESCOPE_VISIBILITY
        assert t.get("status", "passed") in ("passed", "failed")
        assert isinstance(t.get("number", ""), str)
    assert data["score"] == pytest.approx(sum(t["score"] for t in data["tests"]))


def test_gradescope_results(tmp_path):
    out = tmp_path / "results.json"
    res = CliRunner().invoke(main, ["grade", P1, SEED001, "--gradescope", str(out)])
    assert res.exit_code == 0
    data = json.loads(out.read_text())
    _check_gradescope(data)
    assert data["score"] == 12.375 and data["max_score"] == 15
    tests = {t["name"]: t for t in data["tests"]}
    assert tests["z[3]"]["output"].startswith("**ECF**")   # Markdown output (output_format: md)
    # no key values in the feedback: the right a[3] is 8, the right dL/dW[1] has a 24
    assert "8" not in tests["a[3]"]["output"] and "24" not in tests["dL/dW[1]"]["output"]


def test_gradescope_unreadable_submission(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("yhat: !!python/name:os.system\n")
    out = tmp_path / "results.json"
    res = CliRunner().invoke(main, ["grade", P1, str(bad), "--gradescope", str(out)])
    assert res.exit_code == 3   # unreadable files (issue 14): exit 3, every report still written
    data = json.loads(out.read_text())
    _check_gradescope(data)
    assert data["score"] == 0 and "could not be read" in data["output"]


def test_show_key(tmp_path):
    out = tmp_path / "r.json"
    for flag, shown in (([], False), (["--show-key"], True)):
        CliRunner().invoke(main, ["grade", P1, SEED001, "--gradescope", str(out), *flag])
        tests = {t["name"]: t for t in json.loads(out.read_text())["tests"]}
        assert ("key: 8" in tests["a[3]"]["output"]) is shown
        assert ("key: [[32, 16], [24, 12], [-8, -4]]" in tests["dL/dW[1]"]["output"]) is shown


# -- CLI exit codes and file writing -------------------------------------------------------------------


def test_fail_under_exit_codes():
    r = CliRunner()
    assert r.invoke(main, ["grade", P1, SEED001, "--fail-under", "80"]).exit_code == 0   # 82.5%
    res = r.invoke(main, ["grade", P1, SEED001, "--fail-under", "85"])
    assert res.exit_code == 1
    assert "below --fail-under 85%" in res.output
    assert r.invoke(main, ["grade", P1, SEED001, "--fail-under", "101"]).exit_code == 2


def test_usage_errors(tmp_path):
    r = CliRunner()
    assert r.invoke(main, ["grade", P1]).exit_code == 2                               # no submission
    res = r.invoke(main, ["grade", P1, SEED001, SEED001.replace("seed001_", "x"), "--gradescope",
                          str(tmp_path / "r.json")])
    assert res.exit_code == 2 and not (tmp_path / "r.json").exists()
    res = r.invoke(main, ["grade", str(tmp_path / "nokey.yaml"), SEED001])
    assert res.exit_code == 2 and "error:" in res.output
    res = r.invoke(main, ["grade", P1, SEED001, "--json", str(tmp_path / "missing" / "g.json")])
    assert res.exit_code == 2 and not (tmp_path / "missing").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert r.invoke(main, ["grade", P1, str(empty)]).exit_code == 2


def test_rubric_in_key_spec(tmp_path):
    spec = tmp_path / "key.yaml"
    spec.write_text(_p1_without_rubric() + """
rubric:
  steps:
    yhat: 2
    dL/dW[1]: 3
    dL/db[1]: 1
  tolerance: {sig_figs: 2}
  mistake_credit: {wrong_shape: 0.5}
""")
    key = load_key(str(spec))
    assert [n for n, _ in key.graded] == ["yhat", "dL/dW[1]", "dL/db[1]"]
    r = grade(key, load_submission(SEED001))
    assert (r.score, r.max_score) == (2 + 1.5 + 1, 6)   # yhat ECF 2, dL/dW[1] half of 3, dL/db[1] 1
    # `hwsolve backprop` still reads the spec
    assert CliRunner().invoke(main, ["backprop", str(spec)]).exit_code == 0


def test_rubric_errors(tmp_path):
    spec = tmp_path / "key.yaml"
    spec.write_text(_p1_without_rubric() + "rubric:\n  steps: [y_hat]\n")
    res = CliRunner().invoke(main, ["grade", str(spec), SEED001])
    assert res.exit_code == 2 and "did you mean 'yhat'" in res.output
    spec.write_text(_p1_without_rubric() + "rubric:\n  tolerence: {abs: 1}\n")
    res = CliRunner().invoke(main, ["grade", str(spec), SEED001])
    line = spec.read_text().splitlines().index("  tolerence: {abs: 1}") + 1
    assert res.exit_code == 2
    assert f"{spec}:{line}: rubric.tolerence: unknown key 'tolerence' (did you mean 'tolerance'?)" in res.output


def test_class_table():
    res = CliRunner().invoke(main, ["grade", P1, SEED001, str(ROOT / "tests" / "data" / "grade_p1_perfect.yaml")])
    assert res.exit_code == 0
    assert "Score distribution" in res.output and "Most common mistakes" in res.output
    assert "wrong shape" in res.output


# -- seed 001, Problems 2, 4 and 5 (when their topics are registered) ----------------------------


@pytest.mark.parametrize("problem,kind,expected", [
    # 2: 300 configurations, 3000 epochs, 6000 min, 59 and 104 trials: all right
    ("p2", "hparam", {"epochs": "correct", "time(minutes)": "correct",
                      "N(q=0.95)": "correct", "N(q=0.995)": "correct"}),
    # 4: 34, 20 (floor(39/2) + 1), 20x20x2, and I * K = [[2, -1], [-4, 4]] despite the typos
    # in the student's copy of I and K: all right
    ("p4", "conv", {"p1.n_out": "correct", "p2.volume": "correct",
                    "p4.out": "correct"}),
    # 5: 0.01 x 0.005 x 0.1 = 0.000005, not 0.00005; the first ResNet value is 0.5 x 1.25 = 0.625,
    # not 0.525; everything else right
    ("p5", "gradflow", {"5.2:dL/dx": "wrong", "5.3:dL/dx": "correct", "5.5:dL/dx(n=6)": "correct",
                        "5.6:dL/dx(n=2)": "wrong", "5.6:dL/dx(n=4)": "correct",
                        "5.6:dL/dx(n=6)": "correct"}),
])
def test_seed001_other_problems(problem, kind, expected):
    from hwsolve import topics

    if kind not in topics.TOPICS:
        pytest.skip(f"kind {kind} is not in the topic registry yet")
    data = ROOT / "tests" / "data"
    key = load_key(str(ROOT / "problems" / f"cs4782_{problem}.yaml"))   # the spec's own rubric
    r = grade(key, load_submission(data / f"seed001_{problem}_answers.yaml"))
    got = {s.name: s.verdict for s in r.steps}
    for name, verdict in expected.items():
        assert got[name] == verdict, name
    assert not r.warnings


def test_ecf_on_a_graph_spec():
    """kind: graph (a = x*y + z, b = (x+x)*a, w = a*b at x, y, z = 1, 2, 3), ECF by hand from a
    slip a = 6 (right: 5): b = 2*6 = 12, w = 6*12 = 72, dw/db = a = 6, dw/da = 2*6 + b = 24
    (12 via each path), dw/dz = 24, dw/d(x + x) = 6*6 = 36, dw/dx = 24*2 + 36 + 36 = 120."""
    from hwsolve import topics
    from hwsolve.grade.rubric import Rubric

    if "graph" not in topics.TOPICS:
        pytest.skip("graph specs not registered")
    key = load_key(str(ROOT / "problems" / "nyu2572_1_5b.yaml"))
    key.rubric = Rubric()
    answers = {"a": 6, "b": 12, "w": 72, "dw/db": 6, "dw/da via b": 12, "dw/da via w": 12,
               "dw/da": 24, "dw/dz": 24, "dw/d(x + x)": 36, "dw/dx via (x + x) (operand 1)": 36,
               "dw/dx": 120, "dw/dy": 24}
    key.graded = [(n, 1.0) for n in answers]
    v = _grade(key, answers)
    assert v["a"].verdict == "wrong"
    for name in answers:
        if name != "a":
            assert v[name].verdict == "ecf", (name, v[name].reason)
    # the same values without the slip written down earn nothing
    v = _grade(key, {k: x for k, x in answers.items() if k != "a"})
    assert v["b"].verdict == "wrong"        # nothing upstream of b was attempted
    assert v["w"].verdict == "wrong"        # from the key's a = 5 and their b = 12, w would be 60
    assert _grade(key, {"b": 12, "w": 60})["w"].verdict == "ecf"


def test_a_forward_value_of_zero_from_wrong_earlier_values_is_ecf():
    """Seed 004 Q3b's graph: H4 = 1 (the key has 2) makes H5 = max(1, 1.5) = 1.5 and R = H3 - H5 =
    1.5 - 1.5 = 0; that 0 is what the student's values give, so it earns ECF. (An all-zero gradient
    still never does: test_no_ecf_for_a_trivial_value.)"""
    key = load_key(str(Path(__file__).resolve().parents[1] / "problems" / "csci5922_q3b.yaml"))
    answers = {"H1": 1.5, "H2": -1, "H3": 1.5, "H4": 1, "H5": 1.5, "R": 0, "Yhat": 0.5}
    sub = Submission("s.yaml", "s", {k: parse_value(v) for k, v in answers.items()})
    got = {s.name: s for s in grade(key, sub).steps}
    assert got["H4"].verdict == "wrong"
    assert got["H5"].verdict == "ecf" and got["R"].verdict == "ecf" and got["Yhat"].verdict == "ecf"
