"""The run's time budget and the inner limits inside it (prove's sympy limit) share one timer."""

from __future__ import annotations

import time

import pytest

from hwsolve.core.budget import TimeBudgetExceeded, time_budget


def _spin(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def test_an_inner_limit_ends_its_block_and_the_outer_budget_still_counts():
    with pytest.raises(TimeBudgetExceeded, match="the computation took over 0.6 s"), time_budget(0.6):
        with pytest.raises(TimeBudgetExceeded, match="inner"), time_budget(0.1, "inner"):
            _spin(1)
        _spin(2)                       # the run's budget was re-armed: it ends this


def test_an_inner_limit_longer_than_what_is_left_of_the_run_never_outlives_it():
    start = time.monotonic()
    with pytest.raises(TimeBudgetExceeded, match="the computation took over 0.3 s"), time_budget(0.3), \
            time_budget(20, "inner"):
        _spin(3)
    assert time.monotonic() - start < 1.5
