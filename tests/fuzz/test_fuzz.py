"""The fuzz harness's small budget (in `make test`) and every crash it has found, kept as regressions.

The long run is `make fuzz` (tests/fuzz/run_fuzz.py)."""

from __future__ import annotations

import os
import random

import pytest
from harness import MAX_CASE_BYTES, Case, generate, load_regressions, mutate, run_case, seed_cases
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SEEDS = seed_cases()

# `make test` runs the small profile (about 15 s of CPU); HWSOLVE_FUZZ_PROFILE=fuzz-deep for a longer
# in-process session. The long run across every command is `make fuzz`.
_COMMON = {"deadline": None, "database": None,
           "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]}
settings.register_profile("fuzz-small", max_examples=300, **_COMMON)
settings.register_profile("fuzz-deep", max_examples=5000, **_COMMON)
PROFILE = settings.get_profile(os.environ.get("HWSOLVE_FUZZ_PROFILE", "fuzz-small"))


@pytest.fixture(autouse=True)
def _budget(monkeypatch):
    monkeypatch.setenv("HWSOLVE_TIME_LIMIT", "5")  # a slow case ends with the budget's error line


@pytest.mark.parametrize("name,case", load_regressions(), ids=[n for n, _ in load_regressions()])
def test_regression(name: str, case: Case, tmp_path):
    outcome = run_case(case, tmp_path)
    assert outcome.ok, f"{name}: {outcome.kind} {outcome.detail}"


def test_every_command_has_seed_cases():
    from harness import COMMANDS

    from hwsolve.cli import main

    assert set(COMMANDS) == set(main.commands)   # derived from the click group, not listed by hand
    assert {c.command for c in SEEDS} == set(COMMANDS)
    from harness import PROBLEMS, _kind

    from hwsolve.topics import TOPICS

    seeded = {_kind(f.read_text(encoding="utf-8")) for c in SEEDS for f in map(PROBLEMS.joinpath, c.files)
              if f.is_file()}
    assert set(TOPICS) <= seeded   # every spec kind reaches the fuzzer through a spec in problems/
    assert any(c.command == "derive" and len(c.files) == 2 for c in SEEDS)        # derive A B
    assert any(c.command == "grade" and "--roster" in c.args for c in SEEDS)      # grading against variants


def test_every_seed_case_runs_as_it_should(tmp_path, monkeypatch):
    """The seeds themselves work (exit 0, or 2 where a seed is meant to be refused), so mutations
    start from inputs that reach the arithmetic."""
    monkeypatch.setenv("HWSOLVE_TIME_LIMIT", "60")   # the budget is wall time: no flake on a busy machine
    bad = []
    for case in SEEDS:
        outcome = run_case(case, tmp_path)
        if outcome.detail != "exit 0" and case.args[1:2] != ["tanh(x) = sigmoid(x)"]:
            bad.append((case.args, outcome.kind, outcome.detail))
    assert not bad


def test_generated_cases_stay_small():
    """A structured mutation is redrawn past MAX_CASE_BYTES (the generator's time and memory stay flat
    over 20,000 cases); only the few text mutations that test the loader's own bounds are bigger."""
    sizes = [sum(len(t) for t in case.files.values()) for case in generate(7, 400)]
    assert max(sizes) <= 8_100_000
    assert sum(size > MAX_CASE_BYTES for size in sizes) < len(sizes) // 20


@settings(PROFILE)
@given(case=st.sampled_from(SEEDS), seed=st.integers(0, 2**32 - 1))
def test_mutated_inputs_end_cleanly(case: Case, seed: int, tmp_path_factory):
    mutated = mutate(case, random.Random(seed))
    outcome = run_case(mutated, tmp_path_factory.mktemp("case"))
    assert outcome.ok, f"{outcome.kind} {outcome.detail}\n{mutated.to_json()[:2000]}"


# Findings whose input is too big to keep as a case file: built here, run the same way.
def _roster_case(roster: str) -> Case:
    seed = next(c for c in SEEDS if c.command == "variants")
    return Case(list(seed.args), {**seed.files, "roster.csv": roster})


BUILT_REGRESSIONS = {
    # csv.Error "field larger than field limit (131072)" escaped load_roster as a traceback
    "variants-roster-field-over-csv-limit": _roster_case("student,name\ns00,Ann\nzzdeep: " + "[" * 140_000 + "\n"),
}


@pytest.mark.parametrize("name", sorted(BUILT_REGRESSIONS))
def test_built_regression(name: str, tmp_path):
    outcome = run_case(BUILT_REGRESSIONS[name], tmp_path)
    assert outcome.ok, f"{name}: {outcome.kind} {outcome.detail}"
