"""`hwsolve grade`: the batch loop behind the command (the click command in cli.py stays thin).

Order of work, so a pipe that closes early (`| head`) never loses a result file: grade every
submission, write every result file, and only then print to stdout. Exit codes: 0 graded;
1 a submission scored below --fail-under; 3 a submission was missing or unreadable (it still
scores 0 in every result file); 2 a bad key, rubric or command line (raised, never returned).
"""

from __future__ import annotations

import gc
import operator
import sys
import time
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path

from hwsolve.core.budget import TimeBudgetExceeded
from hwsolve.core.errors import HwsolveError
from typing import Any, Protocol

from hwsolve.grade.answers import Submission, Value, collect, load_submission
from hwsolve.grade.grader import Key, Result, StepResult, grade, load_key

# what grading one hostile value may raise; the submission gets 0 and the batch goes on
_SUBMISSION_FAILURES = (HwsolveError, ArithmeticError, ValueError, OverflowError, RecursionError,
                        MemoryError, TypeError)
EXIT_FAIL_UNDER = 1
EXIT_UNREADABLE = 3
VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")

_WORKER_KEY: Any = None  # the key a forked worker grades against (inherited, never pickled)
_WORKER_JSON: dict[str, bool | None] = {"show_key": None}  # a worker writes JSON lines unless None


class KeySource(Protocol):
    """Picks each submission's own key (per-student variants, docs/variants.md). `key` is the
    key the reports are laid out by (the same graded steps as every key it hands out)."""

    key: Key

    def key_for(self, sub: Submission) -> Key:
        """The submission's key; raises HwsolveError with the reason when it has none."""
        ...


def report_key(key: Key | KeySource) -> Key:
    return key if isinstance(key, Key) else key.key


def grade_path(key: Key | KeySource, path: str) -> Result:
    """One submission, never raising for a bad one: it scores 0 with the reason."""
    start = time.perf_counter()
    sub = load_submission(path)
    try:
        if not isinstance(key, Key):
            key = key.key_for(sub) if not sub.error else key.key
        result = grade(key, sub)
    except TimeBudgetExceeded:
        raise  # the whole run is out of time, not this submission
    except _SUBMISSION_FAILURES as e:
        msg = getattr(e, "message", None) or str(e) or type(e).__name__
        base = report_key(key)
        steps = [StepResult(n, "missing", 0.0, p, "submission could not be graded", expected=base.values.get(n))
                 for n, p in base.graded]
        result = Result(sub.path, sub.student, steps, error=f"could not be graded: {msg[:200]}")
    result.seconds = time.perf_counter() - start
    _encodable(result)
    return result


def _utf8(text: str) -> str:
    # a JSON "\\ud800" or a file name that is not UTF-8 leaves lone surrogates, which no report
    # file can encode: each becomes '?'
    return text.encode("utf-8", "replace").decode("utf-8")


def _encodable(r: Result) -> None:
    r.student, r.path, r.error = _utf8(r.student), _utf8(r.path), _utf8(r.error)
    r.warnings = [_utf8(w) for w in r.warnings]
    for s in r.steps:
        s.reason = _utf8(s.reason)


def _grade_in_worker(path: str) -> tuple:
    """One submission graded in a worker, sent back as plain tuples (`_packed`), with its line of
    the JSON report when one is written (the parent would otherwise make 5,000 of them alone)."""
    assert _WORKER_KEY is not None
    result = grade_path(_WORKER_KEY, path)
    if _WORKER_JSON["show_key"] is not None:
        from hwsolve.grade.report import submission_json_line

        result.json_line = submission_json_line(result, _WORKER_JSON["show_key"])
    return _packed(result, report_key(_WORKER_KEY).values)


_FROM_KEY = "key"  # a packed step's `expected` that is the report key's own value
_STEP_FIELDS = tuple(f.name for f in fields(StepResult))
_RESULT_FIELDS = tuple(f.name for f in fields(Result) if f.name != "steps")


def _packed(r: Result, key_values: dict) -> tuple:
    """A result as tuples of its fields (a Value as its rows): pickled and unpickled in a fraction
    of the time of the dataclasses (the parent unpickles every result while both workers grade).
    A step's `expected` that is the key's own value (always, but for per-student variants) is not
    sent at all: the parent holds the same key and puts its value back."""
    steps = []
    for s in r.steps:
        step = list(_step_fields(s))
        step[_ANSWER] = None if s.answer is None else s.answer.rows
        step[_EXPECTED] = (_FROM_KEY if s.expected is not None and s.expected is key_values.get(s.name)
                           else None if s.expected is None else s.expected.rows)
        steps.append(tuple(step))
    return tuple(getattr(r, f) for f in _RESULT_FIELDS), tuple(steps)


_step_fields = operator.attrgetter(*_STEP_FIELDS)
_ANSWER, _EXPECTED = _STEP_FIELDS.index("answer"), _STEP_FIELDS.index("expected")


def _unpacked(packed: tuple, key_values: dict) -> Result:
    head, steps = packed
    out = []
    for values in steps:
        step = list(values)
        answer, expected = step[_ANSWER], step[_EXPECTED]
        step[_ANSWER] = None if answer is None else Value(answer)
        step[_EXPECTED] = key_values[step[0]] if expected == _FROM_KEY else \
            None if expected is None else Value(expected)
        out.append(StepResult(*step))
    return Result(steps=out, **dict(zip(_RESULT_FIELDS, head, strict=True)))


def grade_all(key, paths: list[str], jobs: int = 1, progress=None, json_show_key: bool | None = None) -> list[Result]:
    """Every submission, in the order given. jobs > 1: forked worker processes, each grading
    whole files against the key it inherited (and, unless json_show_key is None, writing each
    result's line of the JSON report); results come back in order, so every report is byte for
    byte the same as with one job."""
    if jobs > 1 and len(paths) > 1:
        _WORKER_JSON["show_key"] = json_show_key
        try:
            results = _grade_parallel(key, paths, jobs, progress)
        finally:
            _WORKER_JSON["show_key"] = None
    else:
        results = []
        for path in paths:
            results.append(grade_path(key, path))
            if progress:
                progress(len(results), len(paths))
    disambiguate(results)
    return results


def _grade_parallel(key, paths: list[str], jobs: int, progress) -> list[Result]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    global _WORKER_KEY
    _WORKER_KEY = key
    try:
        ctx = multiprocessing.get_context("fork")
    except ValueError:          # no fork (Windows): one process
        return grade_all(key, paths, 1, progress)
    results = []
    chunk = max(1, min(64, len(paths) // (jobs * 8) or 1))
    try:
        with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
            key_values = report_key(key).values
            for packed in pool.map(_grade_in_worker, paths, chunksize=chunk):
                results.append(_unpacked(packed, key_values))
                if progress:
                    progress(len(results), len(paths))
    finally:
        _WORKER_KEY = None
    return results


def disambiguate(results: list[Result]) -> None:
    """Two submissions with the same student name get the file path beside it, so every report
    (JUnit suites, CSV rows, JSON) names each one apart."""
    from collections import Counter

    counts = Counter(r.student for r in results)
    for r in results:
        if counts[r.student] > 1:
            r.student = f"{r.student} ({r.path})"
            r.json_line = None   # it named the student as they were


class Progress:
    """A bar on stderr while a batch is graded; silent when stderr is not a terminal."""

    def __init__(self, stream=None, width: int = 30):
        self.stream = stream or sys.stderr
        self.width = width
        self.on = bool(getattr(self.stream, "isatty", lambda: False)())
        self.last = -1.0

    def __call__(self, done: int, total: int) -> None:
        if not self.on or total < 2:
            return
        now = time.monotonic()
        if done < total and now - self.last < 0.1:
            return
        self.last = now
        filled = round(self.width * done / total)
        self.stream.write(f"\rgrading [{'#' * filled}{'.' * (self.width - filled)}] {done}/{total}")
        if done == total:
            self.stream.write("\r" + " " * (self.width + 30) + "\r")
        self.stream.flush()


def _check_out(path: str | None, what: str) -> None:
    if path is None:
        return
    folder = Path(path).parent
    if str(folder) and not folder.is_dir():
        raise HwsolveError(f"folder '{folder}' does not exist", field=what)
    if Path(path).is_dir():
        raise HwsolveError(f"'{path}' is a folder", field=what)


def run_grade(key_spec, submissions, *, rubric=None, json_file=None, junit=None, gradescope=None,
              csv_file=None, visibility="visible", jobs=1, fail_under=None, show_key=False, brief=False,
              console=None, key_source: KeySource | None = None) -> int:
    """Grade every submission; write the result files (each whole or not at all), then print;
    return the exit code (see the module docstring)."""
    outputs = ((json_file, "--json"), (junit, "--junit"), (gradescope, "--gradescope"), (csv_file, "--csv"))
    for path, what in outputs:
        _check_out(path, what)
    if jobs < 1:
        raise HwsolveError(f"expected a whole number >= 1, got {jobs}", field="--jobs")
    if visibility not in VISIBILITIES:
        raise HwsolveError(f"expected one of {', '.join(VISIBILITIES)}, got '{visibility}'", field="--visibility")
    paths = collect(submissions)
    if not paths:
        raise HwsolveError("no answer files found (.yaml, .yml or .json)", field="SUBMISSION")
    if gradescope and len(paths) != 1:
        raise HwsolveError(f"--gradescope writes one submission's results.json; got {len(paths)} "
                           "submissions", field="--gradescope")
    source = key_source if key_source is not None else load_key(key_spec, rubric)
    with _batch_collections():
        return _grade_and_report(source, paths, jobs, json_file=json_file, junit=junit, gradescope=gradescope,
                                 csv_file=csv_file, visibility=visibility, fail_under=fail_under,
                                 show_key=show_key, brief=brief, console=console)


@contextmanager
def _batch_collections():
    """Python's cycle collector, tuned for a batch that keeps every result alive.

    5,000 results are half a million objects, and each full collection walks all of them: that
    was half the parent's time (unpickling the workers' results, building the JSON report). Here
    what exists before the batch (modules, the key) is frozen out of the collector, which then
    runs a hundred times less often; it still runs, and everything is as before afterwards.
    """
    old = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(old[0], 70_000), *old[1:])
    try:
        yield
    finally:
        gc.set_threshold(*old)
        gc.unfreeze()


def _grade_and_report(source, paths: list[str], jobs: int, *, json_file, junit, gradescope, csv_file,
                      visibility, fail_under, show_key, brief, console) -> int:
    key = report_key(source)
    start = time.perf_counter()
    results = grade_all(source, paths, jobs, Progress(), json_show_key=show_key if json_file else None)
    elapsed = time.perf_counter() - start

    from hwsolve.core.fileio import write_atomic
    from hwsolve.grade import report

    # made once for the JSON report and the printout (5,000 results by 15 steps)
    stats = report.class_stats(key, results) if json_file or len(results) > 1 else None
    # every result file first: stdout may be a pipe that closes early
    if json_file:
        write_atomic(json_file, report.to_json(key, results, show_key, stats) + "\n")
    if junit:
        write_atomic(junit, report.to_junit(key, results, show_key))
    if gradescope:
        write_atomic(gradescope, report.to_gradescope(key, results[0], show_key, visibility, elapsed) + "\n")
    if csv_file:
        write_atomic(csv_file, report.to_csv(key, results))

    if console is None:
        from hwsolve.render.text import make_console

        console = make_console()
    report.print_results(key, results, console, show_key=show_key, brief=brief, stats=stats)
    return _exit_code(results, fail_under)


def _exit_code(results: list[Result], fail_under: float | None) -> int:
    from hwsolve.grade.report import control_safe

    unreadable = [r for r in results if r.error]
    if unreadable:
        names = ", ".join(control_safe(r.path) for r in unreadable[:10])
        more = f" and {len(unreadable) - 10} more" if len(unreadable) > 10 else ""
        print(f"could not read {len(unreadable)} submission(s): {names}{more}", file=sys.stderr)
    low = [r for r in results if fail_under is not None and r.percent < fail_under]
    if low:
        names = ", ".join(f"{control_safe(r.student)} ({r.percent:.1f}%)" for r in low[:10])
        more = f" and {len(low) - 10} more" if len(low) > 10 else ""
        print(f"below --fail-under {fail_under:g}%: {names}{more}", file=sys.stderr)
    if unreadable:
        return EXIT_UNREADABLE
    return EXIT_FAIL_UNDER if low else 0
