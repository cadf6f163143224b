"""The fuzz harness's small budget (in `make test`) and every crash it has found, kept as regressions.

The long run is `make fuzz` (tests/fuzz/run_fuzz.py)."""

from __future__ import annotations

import random

import pytest
from harness import Case, load_regressions, mutate, run_case, seed_cases
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SEEDS = seed_cases()


@pytest.fixture(autouse=True)
def _budget(monkeypatch):
    monkeypatch.setenv("HWSOLVE_TIME_LIMIT", "5")  # a slow case ends with the budget's error line


@pytest.mark.parametrize("name,case", load_regressions(), ids=[n for n, _ in load_regressions()])
def test_regression(name: str, case: Case, tmp_path):
    outcome = run_case(case, tmp_path)
    assert outcome.ok, f"{name}: {outcome.kind} {outcome.detail}"


def test_every_command_has_seed_cases():
    from harness import COMMANDS

    assert {c.command for c in SEEDS} == set(COMMANDS)


@settings(max_examples=300, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
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
