"""A per-run time budget: a computation that runs too long ends with one clear line, not a hang.

Bounds on sizes come first (the loaders reject what is too big before any work); the budget is
the backstop for arithmetic that is slow although every size is within its bound. It uses
SIGALRM, so it applies in the main thread on POSIX and is skipped elsewhere.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from hwsolve.core.errors import HwsolveError

DEFAULT_SECONDS = 60.0
ENV = "HWSOLVE_TIME_LIMIT"


class TimeBudgetExceeded(HwsolveError):
    """The run took longer than its time budget."""


def budget_seconds() -> float:
    """The budget from HWSOLVE_TIME_LIMIT (seconds; 0 turns it off), else the default."""
    text = os.environ.get(ENV, "")
    try:
        value = float(text) if text else DEFAULT_SECONDS
    except ValueError:
        raise HwsolveError(f"expected a number of seconds, got '{text[:40]}'", field=ENV) from None
    if not value >= 0 or value == float("inf"):
        raise HwsolveError(f"expected a number of seconds >= 0, got '{text[:40]}'", field=ENV)
    return value


_deadline: float | None = None   # time.monotonic() at which the innermost active budget ends


@contextmanager
def time_budget(seconds: float, message: str | None = None) -> Iterator[None]:
    """End the block with TimeBudgetExceeded after `seconds`. Budgets nest: an inner one (sympy's
    limit in `prove`) never outlives the run's, and the run's timer is re-armed when it ends."""
    global _deadline
    usable = seconds > 0 and hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    outer = _deadline
    mine = time.monotonic() + seconds
    if not usable or (outer is not None and outer <= mine):
        yield   # no timer here, or the enclosing budget ends first: leave its timer alone
        return
    text = message or (f"the computation took over {seconds:g} s, the time budget (set {ENV} to "
                       "change it; the input may be too large)")

    fired: list[bool] = []
    active = [True]

    def expired(signum, frame):
        if not active[0]:   # the block is ending: leave its cleanup alone
            return
        fired.append(True)
        # Again in 50 ms: an exception raised while a gc callback or __del__ runs is swallowed
        # ("Exception ignored in ..."), so one alarm alone may not end the block.
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        raise TimeBudgetExceeded(text)

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    _deadline = mine
    try:
        yield
        # The alarm can land where Python cannot raise (a gc callback, as hypothesis installs, prints
        # "Exception ignored" and goes on): a run that finished after its budget ran out still did not fit it.
        # Only the run's own budget: an inner one (prove's sympy limit) keeps its caller's handling.
        if fired and outer is None:
            raise TimeBudgetExceeded(text)
    finally:
        active[0] = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        _deadline = outer
        if outer is not None:   # the enclosing budget keeps counting from where it was
            signal.setitimer(signal.ITIMER_REAL, max(outer - time.monotonic(), 0.001))
