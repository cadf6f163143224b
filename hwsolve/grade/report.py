"""Grading reports: a rich summary per submission, a class table, JSON, JUnit XML, Gradescope.

Per-student text (terminal, JUnit messages, Gradescope output) never shows the key's values
unless `show_key` is set: reasons speak of the student's own values, shapes and mistake names.
Everything is in the order the submissions were given and the key lists its steps.
"""

from __future__ import annotations

import csv
import io
import json
import re
import statistics
from collections import Counter
from typing import Any

from hwsolve.grade.answers import Value
from hwsolve.grade.grader import VERDICTS, Key, Result, StepResult, mistake_title
from hwsolve.core.jsontext import dumps_compact_list
from hwsolve.core.numfmt import fmt_number, json_number

SCHEMA = "hwsolve/grade"
COMPACT_ABOVE = 100  # submissions: a bigger report is written one submission per line
SCHEMA_VERSION = 1
LABEL = {"correct": "correct", "ecf": "ECF", "wrong": "wrong", "wrong_shape": "wrong shape",
         "missing": "missing"}


def value_text(v: Value | None, precision: int = 4) -> str:
    if v is None:
        return ""
    p = v.plain()
    if not isinstance(p, tuple):
        return fmt_number(p, precision)
    if p and isinstance(p[0], tuple):
        return "[" + ", ".join("[" + ", ".join(fmt_number(x, precision) for x in r) + "]" for r in p) + "]"
    return "[" + ", ".join(fmt_number(x, precision) for x in p) + "]"


def _json_value(v: Value | None):
    """The value in its math shape (`Value.plain`) as JSON numbers: a scalar, a list, a list of rows."""
    if v is None:
        return None
    rows = v.rows
    if len(rows[0]) == 1:
        return json_number(rows[0][0]) if len(rows) == 1 else [json_number(r[0]) for r in rows]
    return [[json_number(x) for x in r] for r in rows]


def _pts(x: float) -> str:
    return f"{x:g}" if x == int(x) else f"{x:.2f}".rstrip("0")


def feedback(s, show_key: bool) -> str:
    """What the student is told about a step: its reason, also on a correct one when there is one
    ("in the other layout (accepted)", "formula: right at the key's values and 3 random points")."""
    text = s.reason
    if show_key and s.verdict != "correct":
        text = (text + "; " if text else "") + f"key: {value_text(s.expected)}"
    return text


# -- terminal ------------------------------------------------------------------------------------


def print_results(key: Key, results: list[Result], console, show_key: bool = False, brief: bool = False,
                  stats: dict | None = None) -> None:
    """Each submission's results (a line each with `brief`), then the class's (`stats`: its
    class_stats, when the caller has made them already)."""
    from rich import box
    from rich.table import Table

    if brief and results:  # one line each, all printed at once (a console.print per line is slow)
        lines = [_head(r) + (f"  -- {term_safe(r.error)}" if r.error else "") for r in results]
        plain = _plain_lines(lines, console)
        if plain is not None:  # already what rich would print: written as it is
            console.file.write(plain + "\n")
        else:
            from rich.text import Text

            console.print(Text("\n").join(console.render_str(line) for line in lines))
    for r in results if not brief else ():
        head = _head(r)
        if r.error:
            console.print(head)
            console.print(f"  not graded: {term_safe(r.error)}")
            continue
        console.print(head)
        t = Table(box=box.ASCII if not console.is_terminal else box.SIMPLE_HEAVY)
        t.add_column("step")
        t.add_column("answer", overflow="fold", max_width=34)
        t.add_column("verdict")
        t.add_column("points", justify="right")
        t.add_column("feedback", overflow="fold")
        for s in r.steps:
            # escaped: a name such as w[t=1] (or a student's text) is not rich markup
            t.add_row(term_safe(s.name), term_safe(s.formula or value_text(s.answer)), LABEL[s.verdict],
                      f"{_pts(s.points)}/{_pts(s.max_points)}", term_safe(feedback(s, show_key)))
        console.print(t)
        for w in r.warnings:
            console.print(f"  note: {term_safe(w)}")
        console.print()
    if len(results) > 1:
        print_class(key, results, console, stats)


# rich reads these in a line as markup or an emoji code
_MARKUP_LIKE = re.compile(r"\[|:\S*:")


def _plain_lines(lines: list[str], console) -> str | None:
    """The lines as `console.print(console.render_str(line))` would lay them out, wrapped here, for
    a console that prints no styles (piped, no colour) and lines without markup or emoji codes,
    made of one-cell characters; else None. Rich's markup parser and wrapper cost a 5,000-student
    batch a fifth of a second."""
    from hwsolve.render.plaintext import fits, render_line

    if console.is_terminal or console.color_system is not None or not fits(lines) \
            or any(_MARKUP_LIKE.search(line) for line in lines):
        return None
    width = console.width   # a property that asks the terminal each time
    return "\n".join(piece for line in lines for piece in render_line(line, width))


def _head(r: Result) -> str:
    score, top = r.score, r.max_score  # each a sum over the steps: once, not again for the percent
    percent = 100.0 * score / top if top else 0.0  # Result.percent
    return f"{term_safe(r.student)}  ({term_safe(r.path)}):  {_pts(score)} / {_pts(top)}  ({percent:.0f}%)"


# what a terminal would act on rather than show: C0 controls but tab and newline, DEL, C1 controls
# (ESC sequences can clear or retitle the grader's terminal), and bidirectional overrides
_TERM_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def control_safe(text: str) -> str:
    """Characters a terminal acts on written as \\uXXXX (for plain stderr lines)."""
    return _TERM_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def term_safe(text: str) -> str:
    """A student's text for a rich console: `control_safe`, and markup escaped (`[/x]` is text,
    not a closing tag that would stop the report)."""
    from rich.markup import escape

    return escape(control_safe(text))


def print_class(key: Key, results: list[Result], console, stats: dict | None = None) -> None:
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    c = stats if stats is not None else class_stats(key, results)
    console.print(f"Class: {c['count']} submissions, mean {c['mean']:.1f}%, median {c['median']:.1f}%"
                  + (f", {c['unreadable']} unreadable" if c['unreadable'] else ""))
    bx = box.ASCII if not console.is_terminal else box.SIMPLE
    dist = Table(title="Score distribution", title_justify="left", box=bx)
    dist.add_column("score %")
    dist.add_column("n", justify="right")
    dist.add_column("")
    top = max((b["count"] for b in c["distribution"]), default=0) or 1
    for b in c["distribution"]:
        dist.add_row(b["range"], str(b["count"]), "#" * round(30 * b["count"] / top))
    console.print(dist)
    st = Table(title="Per step", title_justify="left", box=bx)
    for col in ("step", "correct", "ECF", "wrong", "wrong shape", "missing", "fraction correct"):
        st.add_column(col, justify="left" if col == "step" else "right")
    for name, d in c["steps"].items():
        st.add_row(escape(name), *(str(d[v]) for v in VERDICTS), f"{d['fraction_correct']:.2f}")
    console.print(st)
    if c["mistakes"]:
        mt = Table(title="Most common mistakes", title_justify="left", box=bx)
        mt.add_column("mistake")
        mt.add_column("count", justify="right")
        mt.add_column("steps")
        for m in c["mistakes"][:10]:
            mt.add_row(m["title"], str(m["count"]), ", ".join(m["steps"][:6]))
        console.print(mt)


def class_stats(key: Key, results: list[Result]) -> dict:
    pcts = [r.percent for r in results]
    buckets: list[dict[str, Any]] = [{"range": f"{lo}-{lo + 9 if lo < 90 else 100}", "count": 0}
                                     for lo in range(0, 100, 10)]
    for p in pcts:
        buckets[min(int(p // 10), 9)]["count"] += 1
    steps = {}
    for name, _ in key.graded:
        d: dict[str, float] = {v: 0 for v in VERDICTS}
        steps[name] = d
    mistakes: Counter = Counter()
    where: dict[str, list] = {}
    for r in results:
        for s in r.steps:
            steps[s.name][s.verdict] += 1
            if s.mistake:
                mistakes[s.mistake] += 1
                if s.name not in where.setdefault(s.mistake, []):
                    where[s.mistake].append(s.name)
    n = len(results) or 1
    for d in steps.values():
        d["fraction_correct"] = round(d["correct"] / n, 4)
    return {
        "count": len(results),
        "unreadable": sum(1 for r in results if r.error),
        "mean": statistics.fmean(pcts) if pcts else 0.0,
        "median": statistics.median(pcts) if pcts else 0.0,
        "distribution": buckets,
        "steps": steps,
        "mistakes": [{"key": k, "title": mistake_title(k), "count": c, "steps": where[k]}
                     for k, c in sorted(mistakes.items(), key=lambda kv: (-kv[1], kv[0]))],
    }


# -- JSON ------------------------------------------------------------------------------------------


def submission_json(r: Result, show_key: bool = False) -> dict:
    """One submission's entry in the JSON report."""
    steps = []
    for s in r.steps:
        d = {"name": s.name, "verdict": s.verdict, "points": round(s.points, 6),
             "max_points": s.max_points, "reason": s.reason, "mistake": s.mistake or None,
             "answer": s.formula or _json_value(s.answer), "ecf_from": list(s.ecf_from)}
        if show_key:
            d["expected"] = _json_value(s.expected)
        steps.append(d)
    return {"path": r.path, "student": r.student, "score": r.score, "max_score": r.max_score,
            "percent": round(r.percent, 4), "error": r.error or None,
            "warnings": r.warnings, "steps": steps}


def submission_json_line(r: Result, show_key: bool = False) -> str:
    """`submission_json` as the one line a class's report gives it (grade --jobs workers write it)."""
    return json.dumps(submission_json(r, show_key), ensure_ascii=False)


def to_json(key: Key, results: list[Result], show_key: bool = False, stats: dict | None = None) -> str:
    """The class's JSON report (`stats`: its class_stats, when the caller has made them already)."""
    rub = key.rubric
    t = rub.tolerance
    c = dict(stats) if stats is not None else class_stats(key, results)
    c["mean"], c["median"] = round(c["mean"], 4), round(c["median"], 4)
    out = {
        "schema": SCHEMA, "schema_version": SCHEMA_VERSION, "key": key.path, "kind": key.kind,
        "rubric": {"source": rub.source, "steps": dict(key.graded),
                   "tolerance": t.as_dict(), "layout": rub.layout,
                   "step_policies": {n: {k: (v.as_dict() if k == "tolerance" else v) for k, v in o.items()}
                                     for n, o in rub.overrides.items()},
                   "partial": rub.partial, "ecf": rub.ecf, "ecf_penalty": rub.ecf_penalty,
                   "mistake_credit": rub.mistake_credit},
        "submissions": [],
        "class": c,
    }
    if len(results) > COMPACT_ABOVE:  # a class's batch: one line per submission, in C (same JSON)
        lines = (r.json_line if r.json_line is not None else submission_json_line(r, show_key) for r in results)
        return dumps_compact_list(out, "submissions", lines)
    out["submissions"] = [submission_json(r, show_key) for r in results]
    return json.dumps(out, indent=2, ensure_ascii=False)


# -- JUnit XML -------------------------------------------------------------------------------------


# characters XML 1.0 cannot hold at all (even escaped): C0 controls but tab, LF, CR; surrogates;
# U+FFFE/U+FFFF. Each becomes a visible \uXXXX so the report still says what the file held.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_safe(text: str) -> str:
    return _XML_ILLEGAL.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _xml_text(text: str) -> str:
    """Element text as ElementTree (3.11 `_escape_cdata`) writes it, made `xml_safe` first."""
    return xml_safe(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# a character `_xml_attr` must change: one ElementTree escapes in an attribute, or one XML cannot
# hold. Most names and paths have none, and one search costs less than the eight passes.
_XML_ATTR_WORK = re.compile('[&<>"\r\n\t' + _XML_ILLEGAL.pattern[1:])


def _xml_attr(text: str) -> str:
    """An attribute value as ElementTree (3.11 `_escape_attrib`) writes it, made `xml_safe` first:
    also quotes, and CR, LF and tab as character references (written raw, a parser would read each
    back as a space)."""
    if not _XML_ATTR_WORK.search(text):
        return text
    return (_xml_text(text).replace('"', "&quot;").replace("\r", "&#13;").replace("\n", "&#10;")
            .replace("\t", "&#09;"))


def to_junit(key: Key, results: list[Result], show_key: bool = False) -> str:
    """<testsuites> with one <testsuite> per submission and one <testcase> per graded step.

    A step with full points passes; any other is a <failure> whose message is the feedback; an
    unreadable submission's steps are <error>s. Points go into <properties>. Text from a
    submission (names, paths, reasons) is made XML-safe: the file always parses.

    Written as text (an ElementTree took a third of a class's grading run), laid out as
    `ET.indent` and escaped as `ET.tostring` would: tests/test_junit_text.py holds the tree
    version and checks the two agree byte for byte."""
    out = [""]  # out[0]: the <testsuites> tag, once the totals are known
    tests = failures = errors = 0
    for r in results:
        fails, errs = _junit_suite(r, show_key, out)
        tests += len(r.steps)
        failures += fails
        errors += errs
    head = (f'<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="{_xml_attr(f"hwsolve grade {key.path}")}" '
            f'tests="{tests}" failures="{failures}" errors="{errors}"')
    if not results:
        return head + " />\n"  # an element with no children is written empty
    out[0] = head + ">\n"
    out.append("</testsuites>\n")
    return "".join(out)


def _junit_suite(r: Result, show_key: bool, out: list[str]) -> tuple[int, int]:
    """One submission's <testsuite>, appended to `out`; returns its failures and errors."""
    errs = len(r.steps) if r.error else 0
    fails = 0 if r.error else sum(1 for s in r.steps if s.points < s.max_points)
    # numbers (the counts, _pts) have nothing to escape
    out.append(f'  <testsuite name="{_xml_attr(r.student)}" hostname="hwsolve" tests="{len(r.steps)}" '
               f'failures="{fails}" errors="{errs}" skipped="0" time="0">\n'
               "    <properties>\n"
               f'      <property name="path" value="{_xml_attr(r.path)}" />\n'
               f'      <property name="score" value="{_pts(r.score)}" />\n'
               f'      <property name="max_score" value="{_pts(r.max_score)}" />\n'
               "    </properties>\n")
    classname = _xml_attr(f"hwsolve.grade.{_cls(r.student)}")
    error = (f'<error message="{_xml_attr(f"submission could not be read: {r.error}")}" type="unreadable">'
             f"{_xml_text(r.error)}</error>") if r.error else ""
    for s in r.steps:
        case = f'    <testcase name="{_xml_attr(s.name)}" classname="{classname}" time="0"'
        child = error or _junit_outcome(s, show_key)
        out.append(f"{case}>\n      {child}\n    </testcase>\n" if child else f"{case} />\n")
    out.append("  </testsuite>\n")
    return fails, errs


def _junit_outcome(s: StepResult, show_key: bool) -> str:
    """A graded step's <failure>, or <system-out> for full points by ECF; "" for a plain pass."""
    failed = s.points < s.max_points
    if not failed and s.verdict != "ecf":
        return ""
    msg = f"{LABEL[s.verdict]}, {_pts(s.points)}/{_pts(s.max_points)} points"
    fb = feedback(s, show_key)
    if failed:
        return (f'<failure message="{_xml_attr(f"{msg}: {fb}" if fb else msg)}" type="{_xml_attr(s.verdict)}">'
                f"{_xml_text(fb or msg)}</failure>")
    return f"<system-out>{_xml_text(f'{msg}: {fb}')}</system-out>"


def _cls(student: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "_-" else "_" for ch in student) or "submission"


# -- Gradescope --------------------------------------------------------------------------------------


_MD_EMPHASIS = re.compile(r"([\\`*_~])")


def md_escape(text: str) -> str:
    """Text that may quote a student's file, shown literally in Markdown: no HTML, no code spans
    or emphasis (brackets stay, so matrices read as written)."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_EMPHASIS.sub(r"\\\1", text)


def to_gradescope(key: Key, result: Result, show_key: bool = False, visibility: str = "visible",
                  execution_time: float | None = None) -> str:
    """Gradescope's results.json for one submission: score, max_score, one test per step with
    the mistake names as `tags`, Markdown output, the visibility chosen, the time taken."""
    tests = []
    for i, s in enumerate(result.steps, 1):
        fb = feedback(s, show_key)
        out = f"**{LABEL[s.verdict]}**" + (f": {md_escape(fb)}" if fb else "")
        if result.error:
            out = f"submission could not be read: {md_escape(result.error)}"
        tests.append({"name": s.name, "number": str(i), "score": round(s.points, 6),
                      "max_score": s.max_points, "status": "passed" if s.points >= s.max_points else "failed",
                      "output": out, "output_format": "md", "tags": [s.mistake] if s.mistake else [],
                      "visibility": visibility})
    summary = (f"{_pts(result.score)} / {_pts(result.max_score)} points"
               + (f". Your file could not be read: {md_escape(result.error)}" if result.error else ""))
    if result.warnings:
        summary += "\n\n" + "\n".join(f"- note: {md_escape(w)}" for w in result.warnings)
    results: dict[str, object] = {"score": result.score, "max_score": result.max_score, "output": summary,
                                  "output_format": "md", "visibility": visibility, "stdout_visibility": "hidden",
                                  "tests": tests}
    if execution_time is not None:
        results["execution_time"] = round(execution_time, 3)
    return json.dumps(results, indent=2, ensure_ascii=False)


# -- CSV gradebook ---------------------------------------------------------------------------------


def _csv_cell(text: str) -> str:
    """A spreadsheet reads a cell starting with = + - @ (or a tab/CR) as a formula: quote it."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _num(x: float) -> str:
    return f"{round(x, 6):.12g}"


def to_csv(key: Key, results: list[Result]) -> str:
    """One row per submission for an LMS upload: student, path, score, max_score, percent, then
    the points of each graded step in the key's order."""
    buf = io.StringIO()
    w = csv.writer(buf, quoting=csv.QUOTE_MINIMAL)   # RFC 4180 CRLF rows: a CR or LF in a name is quoted
    names = [n for n, _ in key.graded]
    w.writerow(["student", "path", "score", "max_score", "percent", *names])
    for r in results:
        by = {s.name: s.points for s in r.steps}
        w.writerow([_csv_cell(r.student), _csv_cell(r.path), _num(r.score), _num(r.max_score),
                     f"{r.percent:.2f}", *(_num(by.get(n, 0.0)) for n in names)])
    return buf.getvalue()
