"""Issue 14, item 7 and 8: CI outputs a class can rely on, and parallel grading.

JUnit stays valid XML whatever bytes a submission holds; a missing or unreadable submission exits
3 with every report written; result files are written before stdout is touched; a progress bar
only on a terminal; duplicate student names told apart; Gradescope tags, Markdown, visibility and
execution time; a CSV gradebook; --jobs N gives the same reports byte for byte.
"""

import contextlib
import csv
import io
import json
from pathlib import Path
from xml.etree import ElementTree as ET

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hwsolve.cli import main
from hwsolve.grade.grader import load_key
from hwsolve.grade.report import to_csv, to_gradescope, to_json, to_junit, xml_safe
from hwsolve.grade.run import Progress, grade_all, run_grade

ROOT = Path(__file__).resolve().parents[1]
P1 = str(ROOT / "problems" / "cs4782_p1.yaml")
SEED001 = str(ROOT / "tests" / "data" / "seed001_answers.yaml")
KEY = load_key(P1)


def _reports(results) -> dict:
    return {"json": to_json(KEY, results), "junit": to_junit(KEY, results), "csv": to_csv(KEY, results),
            "gs": to_gradescope(KEY, results[0])}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300), st.text(max_size=40))
def test_any_bytes_in_a_submission_keep_every_report_valid(tmp_path, raw, name):
    d = tmp_path / "b"
    d.mkdir(exist_ok=True)
    raw_file = d / "raw.yaml"
    raw_file.write_bytes(raw)
    # the same stranger text as a student name, an unknown step and an unreadable value
    named = d / "named.json"
    named.write_text(json.dumps({"student": name or "x", "answers": {name or "k": name, "yhat": 8}}))
    results = grade_all(KEY, [str(raw_file), str(named)])
    reps = _reports(results)
    ET.fromstring(reps["junit"].encode("utf-8"))          # parses: no illegal character survives
    json.loads(reps["json"])
    json.loads(reps["gs"])
    rows = list(csv.reader(io.StringIO(reps["csv"])))
    assert len(rows) == 3 and all(len(r) == len(rows[0]) for r in rows)
    for rep in reps.values():
        rep.encode("utf-8")                               # every report can be written


def test_xml_safe_names_what_it_replaced():
    assert xml_safe("a\x00b\x1bc\td") == "a\\u0000b\\u001bc\td"
    root = ET.fromstring(to_junit(KEY, grade_all(KEY, [SEED001])).encode())
    assert root.tag == "testsuites"


def test_missing_or_unreadable_submission_exits_3_with_reports_written(tmp_path):
    out = tmp_path / "g.json"
    res = CliRunner().invoke(main, ["grade", P1, SEED001, str(tmp_path / "nope.yaml"), "--json", str(out)])
    assert res.exit_code == 3
    subs = json.loads(out.read_text())["submissions"]
    assert subs[1]["score"] == 0 and "cannot read file" in subs[1]["error"]
    assert subs[0]["score"] == 12.375
    assert CliRunner().invoke(main, ["grade", P1, SEED001]).exit_code == 0


class _StdoutGone(Exception):
    pass


class _ClosedPipe(io.StringIO):
    """stdout that fails at the first write, as `| head` does once it has its lines (a plain
    exception: rich turns a BrokenPipeError into exit 1 and redirects the real stdout)."""

    def write(self, s):
        raise _StdoutGone()


def test_result_files_are_written_before_stdout(tmp_path):
    from rich.console import Console

    junit, js, cs = tmp_path / "j.xml", tmp_path / "g.json", tmp_path / "g.csv"
    console = Console(file=_ClosedPipe(), no_color=True)
    with contextlib.suppress(_StdoutGone):
        run_grade(P1, [SEED001], junit=str(junit), json_file=str(js), csv_file=str(cs), console=console)
    assert junit.is_file() and js.is_file() and cs.is_file()


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_only_on_a_terminal():
    quiet = io.StringIO()
    p = Progress(quiet)
    for i in range(1, 4):
        p(i, 3)
    assert quiet.getvalue() == ""
    tty = _Tty()
    p = Progress(tty)
    p(1, 3)
    p(3, 3)
    assert "grading [" in tty.getvalue() and "1/3" in tty.getvalue()


def test_duplicate_student_names_are_told_apart(tmp_path):
    for n in ("a", "b"):
        (tmp_path / f"{n}.yaml").write_text("student: jdoe\nyhat: 8\n")
    out = tmp_path / "j.xml"
    CliRunner().invoke(main, ["grade", P1, str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml"), "--junit", str(out)])
    names = [s.get("name") for s in ET.parse(out).getroot().findall("testsuite")]
    assert len(set(names)) == 2 and all(n.startswith("jdoe (") for n in names)


def test_gradescope_tags_markdown_visibility_time(tmp_path):
    out = tmp_path / "r.json"
    res = CliRunner().invoke(main, ["grade", P1, SEED001, "--gradescope", str(out), "--visibility", "after_published"])
    assert res.exit_code == 0
    data = json.loads(out.read_text())
    assert data["output_format"] == "md" and data["visibility"] == "after_published"
    assert isinstance(data["execution_time"], float) and data["execution_time"] >= 0
    tests = {t["name"]: t for t in data["tests"]}
    assert tests["dL/dW[1]"]["tags"] == ["wrong_shape"] and tests["a[1]"]["tags"] == []
    assert all(t["visibility"] == "after_published" and t["output_format"] == "md" for t in data["tests"])
    bad = CliRunner().invoke(main, ["grade", P1, SEED001, "--gradescope", str(out), "--visibility", "public"])
    assert bad.exit_code == 2


def test_csv_gradebook(tmp_path):
    (tmp_path / "evil.yaml").write_text("student: '=HYPERLINK(1)'\nyhat: 8\n")
    out = tmp_path / "g.csv"
    CliRunner().invoke(main, ["grade", P1, SEED001, str(tmp_path / "evil.yaml"), "--csv", str(out)])
    rows = list(csv.reader(out.open()))
    assert rows[0][:5] == ["student", "path", "score", "max_score", "percent"]
    assert rows[0][5:] == [n for n, _ in KEY.graded]
    seed = rows[1]
    assert seed[0] == "seed001" and seed[2] == "12.375" and seed[3] == "15"
    by = dict(zip(rows[0], seed, strict=True))
    assert by["a[3]"] == "0" and by["z[3]"] == "0.625" and by["dL/dW[1]"] == "0"
    assert rows[2][0] == "'=HYPERLINK(1)"       # no formula reaches the spreadsheet


def test_jobs_give_byte_identical_reports(tmp_path):
    d = tmp_path / "subs"
    d.mkdir()
    base = Path(SEED001).read_text()
    for i in range(12):
        (d / f"s{i:02d}.yaml").write_text(base.replace("student: seed001", f"student: s{i}")
                                          .replace("a[3]: 9 ", f"a[3]: {i} "))
    (d / "zz_bad.yaml").write_bytes(b"\x00\x01")
    outs = {}
    for jobs in ("1", "2", "3"):
        files = [tmp_path / f"{jobs}.{ext}" for ext in ("json", "xml", "csv")]
        res = CliRunner().invoke(main, ["grade", P1, str(d), "--jobs", jobs, "--brief", "--json", str(files[0]),
                                        "--junit", str(files[1]), "--csv", str(files[2])])
        assert res.exit_code == 3                       # zz_bad.yaml is unreadable
        outs[jobs] = (res.output, *(f.read_bytes() for f in files))
    assert outs["1"] == outs["2"] == outs["3"]
    assert b"s11" in outs["2"][1]


def test_a_students_text_cannot_break_or_drive_the_terminal(tmp_path):
    """A name that is rich markup (`[/x]` stopped the whole report with a traceback) and text with
    escape sequences (ESC ] 0; retitles a terminal, ESC [ 2J clears it) are shown, not acted on."""
    sub = tmp_path / "s.json"
    sub.write_text(json.dumps({"student": "[/x] \x1b]0;owned\x07", "answers": {"yhat": "\x1b[2J[bold]", "a[3]": 9,
                                                                              "z[3]\u202e": 9}}))
    for flags in ([], ["--brief"], ["--fail-under", "50"]):
        res = CliRunner().invoke(main, ["grade", P1, str(sub), SEED001, *flags])
        assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
        assert res.exit_code == (1 if flags[:1] == ["--fail-under"] else 0), res.output
        out = res.output
        assert "[/x] \\u001b]0;owned\\u0007" in out
        assert not any(ch in out for ch in "\x1b\x07\u202e"), repr(out[:300])


def test_a_class_report_is_the_same_with_workers_writing_its_lines(tmp_path):
    """Over COMPACT_ABOVE submissions the JSON report is one line per submission, and with --jobs
    the workers write those lines: the same bytes as one process, duplicate names (renamed after
    grading) and --show-key included."""
    from hwsolve.grade.report import COMPACT_ABOVE

    d = tmp_path / "subs"
    d.mkdir()
    base = Path(SEED001).read_text()
    for i in range(COMPACT_ABOVE + 5):
        name = "twin" if i in (3, 70) else f"s{i}"
        (d / f"s{i:03d}.yaml").write_text(base.replace("student: seed001", f"student: {name}")
                                          .replace("a[3]: 9 ", f"a[3]: {i % 11} "))
    outs = {}
    for jobs in ("1", "2"):
        out = tmp_path / f"{jobs}.json"
        res = CliRunner().invoke(main, ["grade", P1, str(d), "--jobs", jobs, "--brief", "--show-key",
                                        "--json", str(out)])
        assert res.exit_code == 0, res.output
        outs[jobs] = out.read_bytes()
    assert outs["1"] == outs["2"]
    report = json.loads(outs["2"])
    assert len(report["submissions"]) == COMPACT_ABOVE + 5
    assert sum(s["student"].startswith("twin (") for s in report["submissions"]) == 2
    assert outs["2"].count(b"\n    {") == COMPACT_ABOVE + 5    # one line each
