"""The long fuzz run (`make fuzz`): mutated inputs across every command, in a pool of worker
processes, each input capped at 10 s and each worker at 1 GB of address space.

A worker that does not answer within the time limit is killed (a hang); one that dies by a signal
(a segfault) or raises MemoryError under the cap is counted; each failing input is saved as a
case file under tests/fuzz/found/ (move it to tests/fuzz/regressions/ once fixed). The LAST line
printed is the counts.

    python tests/fuzz/run_fuzz.py --count 20000 --workers 2 --seed 1
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import multiprocessing as mp
import os
import resource
import signal
import sys
import tempfile
import time
from multiprocessing.connection import wait
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Case, Outcome, generate, run_case  # noqa: E402

TIME_LIMIT = 10.0
MEMORY_LIMIT = 1 << 30
RECYCLE = 200        # inputs per worker process: whatever a command leaves behind (caches) is dropped
READY_LIMIT = 60.0   # seconds a new worker may take to start on a busy machine
FOUND = Path(__file__).resolve().parent / "found"


def rss_mb() -> int:
    """This process's resident memory now, in MB."""
    with open("/proc/self/status") as f:
        return next((int(line.split()[1]) // 1024 for line in f if line.startswith("VmRSS:")), 0)


HEAVY_MB = 512       # an input that takes a worker past this is saved as found/heavy-*.json (not counted)


def _save(case: Case, name: str, note: str) -> None:
    FOUND.mkdir(exist_ok=True)
    case.note = note
    (FOUND / f"{name}.json").write_text(case.to_json())


def import_everything() -> None:
    """numpy, sympy and every hwsolve module, once in the parent before any worker is forked: a
    worker starts at once (its inputs' clocks do not count imports), and the whole run tests the
    code as it was when the run began, even if files are edited meanwhile."""
    import importlib
    import pkgutil

    import numpy  # noqa: F401
    import sympy  # noqa: F401

    import hwsolve

    for mod in pkgutil.walk_packages(hwsolve.__path__, "hwsolve."):
        if not mod.name.endswith("__main__"):   # that one runs the CLI
            importlib.import_module(mod.name)


def _worker(conn, folder: str) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    conn.send("ready")
    while True:
        try:
            text = conn.recv()
        except EOFError:
            return
        try:
            outcome = run_case(Case.from_json(text), Path(folder))
        except MemoryError:
            outcome = Outcome("memory", "MemoryError outside the command")
        conn.send((outcome.kind, outcome.detail, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024))


class Slot:
    """One worker process and the input it is working on."""

    def __init__(self, ctx, root: Path, index: int):
        self.ctx, self.folder = ctx, root / f"w{index}"
        self.start()

    def start(self):
        self.conn, child = self.ctx.Pipe()
        self.proc = self.ctx.Process(target=_worker, args=(child, str(self.folder)), daemon=True)
        self.proc.start()
        child.close()
        self.case: Case | None = None
        self.deadline = 0.0
        self.served = 0
        self.peak = 0   # this worker process's peak RSS so far, MB
        if not self.conn.poll(READY_LIMIT) or self.conn.recv() != "ready":
            raise SystemExit(f"a fuzz worker did not start within {READY_LIMIT:.0f} s")

    def give(self, index: int, case: Case):
        if self.served >= RECYCLE:
            self.restart()
        self.index, self.case, self.deadline = index, case, time.monotonic() + TIME_LIMIT
        self.served += 1
        self.conn.send(case.to_json())

    def restart(self):
        self.conn.close()
        if self.proc.is_alive():
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.join()
        self.start()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=20000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    opts = ap.parse_args()
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # threads reserve address space under the cap
    os.environ.setdefault("NO_COLOR", "1")
    os.environ.setdefault("MPLBACKEND", "Agg")
    import_everything()
    # the generator bounds every case (harness.MAX_CASE_BYTES); this cap is only a backstop
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, resource.getrlimit(resource.RLIMIT_AS)[1]))
    cases = generate(opts.seed, opts.count)
    counts = collections.Counter()
    per_command = collections.Counter()
    sites = collections.Counter()
    exits = collections.Counter()
    ctx = mp.get_context("fork")
    started = lap = time.monotonic()
    worker_peak = 0
    with tempfile.TemporaryDirectory(prefix="hwsolve-fuzz-") as tmp:
        slots = [Slot(ctx, Path(tmp), i) for i in range(opts.workers)]
        queue = enumerate(cases)
        done, pending = 0, next(queue, None)
        while pending is not None or any(s.case for s in slots):
            for s in slots:
                if s.case is None and pending is not None:
                    s.give(*pending)
                    pending = next(queue, None)
            busy = [s for s in slots if s.case is not None]
            timeout = max(0.0, min(s.deadline for s in busy) - time.monotonic())
            ready = wait([s.conn for s in busy] + [s.proc.sentinel for s in busy], timeout=timeout)
            for s in busy:
                case, outcome = s.case, None
                if s.conn in ready:
                    with contextlib.suppress(EOFError):   # the worker died: judged just below
                        kind, detail, peak = s.conn.recv()
                        outcome, worker_peak = Outcome(kind, detail), max(worker_peak, peak)
                        if peak > HEAVY_MB and peak > s.peak:   # near the cap: worth a look, not a failure
                            _save(case, f"heavy-{case.command}-{s.index}", f"worker peak {peak} MB")
                        s.peak = peak
                if outcome is None and not s.proc.is_alive():
                    s.proc.join()
                    code = s.proc.exitcode
                    outcome = Outcome("signal" if code and code < 0 else "bad-exit", f"worker exit {code}")
                    s.restart()
                elif outcome is None and time.monotonic() > s.deadline:
                    outcome = Outcome("hang", f"over {TIME_LIMIT:.0f} s")
                    s.restart()
                if outcome is None:
                    continue
                done += 1
                counts[outcome.kind] += 1
                per_command[case.command] += 1
                if outcome.ok:
                    exits[outcome.detail] += 1
                if not outcome.ok:
                    sites[(outcome.kind, case.command, outcome.detail[:160])] += 1
                    _save(case, f"{outcome.kind}-{case.command}-{s.index}", f"{outcome.kind}: {outcome.detail}")
                s.case = None
                if done % 1000 == 0:
                    now = time.monotonic()
                    print(f"{done} inputs, {now - started:.0f} s, {1000 / (now - lap):.1f} inputs/s, parent "
                          f"{rss_mb()} MB, worker peak {worker_peak} MB, {dict(counts)}", flush=True)
                    lap = now
        for s in slots:
            s.conn.close()
            s.proc.kill()
    for (kind, command, detail), n in sites.most_common():
        print(f"{n:5d}  {kind:9s} {command:12s} {detail}")
    print("good outcomes: " + ", ".join(f"{e} {n}" for e, n in sorted(exits.items())))
    print("inputs per command: " + ", ".join(f"{c} {n}" for c, n in sorted(per_command.items())))
    bad = counts["traceback"] + counts["bad-exit"]
    print(f"fuzz: {done} inputs in {time.monotonic() - started:.0f} s: {bad} tracebacks, {counts['signal']} signals, "
          f"{counts['hang']} hangs over {TIME_LIMIT:.0f} s, {counts['memory']} processes over 1 GB, "
          f"{counts['payload']} payloads executed")
    return 0 if done == counts["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
