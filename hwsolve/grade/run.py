"""`hwsolve grade`: the batch loop behind the command (the click command in cli.py stays thin)."""

from __future__ import annotations

import sys
from pathlib import Path

from hwsolve.core.budget import TimeBudgetExceeded
from hwsolve.core.errors import HwsolveError
from hwsolve.grade.answers import collect, load_submission
from hwsolve.grade.grader import Result, StepResult, grade, load_key

# what grading one hostile value may raise; the submission gets 0 and the batch goes on
_SUBMISSION_FAILURES = (HwsolveError, ArithmeticError, ValueError, OverflowError, RecursionError,
                        MemoryError, TypeError)


def grade_all(key, paths: list[str]) -> list[Result]:
    results = []
    for path in paths:
        sub = load_submission(path)
        try:
            results.append(grade(key, sub))
        except TimeBudgetExceeded:
            raise  # the whole run is out of time, not this submission
        except _SUBMISSION_FAILURES as e:
            msg = getattr(e, "message", None) or str(e) or type(e).__name__
            steps = [StepResult(n, "missing", 0.0, p, "submission could not be graded", expected=key.values[n])
                     for n, p in key.graded]
            results.append(Result(sub.path, sub.student, steps, error=f"could not be graded: {msg[:200]}"))
    return results


def _check_out(path: str | None, what: str) -> None:
    if path is None:
        return
    folder = Path(path).parent
    if str(folder) and not folder.is_dir():
        raise HwsolveError(f"folder '{folder}' does not exist", field=what)
    if Path(path).is_dir():
        raise HwsolveError(f"'{path}' is a folder", field=what)


def run_grade(key_spec, submissions, *, rubric=None, json_file=None, junit=None, gradescope=None,
              fail_under=None, show_key=False, brief=False, console=None) -> int:
    """Grade every submission; write the result files (each whole or not at all); return the
    exit code: 1 when --fail-under is given and a submission scores below it, else 0."""
    for path, what in ((json_file, "--json"), (junit, "--junit"), (gradescope, "--gradescope")):
        _check_out(path, what)
    paths = collect(submissions)
    if not paths:
        raise HwsolveError("no answer files found (.yaml, .yml or .json)", field="SUBMISSION")
    if gradescope and len(paths) != 1:
        raise HwsolveError(f"--gradescope writes one submission's results.json; got {len(paths)} "
                           "submissions", field="--gradescope")
    key = load_key(key_spec, rubric)
    results = grade_all(key, paths)

    from hwsolve.core.fileio import write_atomic
    from hwsolve.grade import report

    if console is None:
        from hwsolve.render.text import make_console

        console = make_console()
    report.print_results(key, results, console, show_key=show_key, brief=brief)
    if json_file:
        write_atomic(json_file, report.to_json(key, results, show_key) + "\n")
    if junit:
        write_atomic(junit, report.to_junit(key, results, show_key))
    if gradescope:
        write_atomic(gradescope, report.to_gradescope(key, results[0], show_key) + "\n")
    if fail_under is not None:
        low = [r for r in results if r.percent < fail_under]
        if low:
            names = ", ".join(f"{r.student} ({r.percent:.1f}%)" for r in low[:10])
            more = f" and {len(low) - 10} more" if len(low) > 10 else ""
            print(f"below --fail-under {fail_under:g}%: {names}{more}", file=sys.stderr)
            return 1
    return 0
