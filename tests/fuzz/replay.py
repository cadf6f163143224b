"""Replay saved fuzz cases: `python tests/fuzz/replay.py CASE.json...` prints what changed from the
seed file, the outcome and the time, and after 8 s the stack of a case that hangs."""

from __future__ import annotations

import difflib
import faulthandler
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import DATA, PROBLEMS, Case, run_case  # noqa: E402


def main(paths: list[str]) -> None:
    for path in paths:
        case = Case.from_json(Path(path).read_text())
        print(f"== {path}: {case.args}  ({case.note[:150]})")
        for name, text in case.files.items():
            seed = next((d / name for d in (PROBLEMS, DATA) if (d / name).exists()), None)
            if seed is not None:
                diff = difflib.unified_diff(seed.read_text().splitlines(), text.splitlines(), lineterm="", n=0)
                print("\n".join(line[:200] for line in list(diff)[2:30]))
        faulthandler.dump_traceback_later(8, exit=True)
        start = time.monotonic()
        with tempfile.TemporaryDirectory() as tmp:
            outcome = run_case(case, Path(tmp))
        faulthandler.cancel_dump_traceback_later()
        print(f"-> {outcome.kind} {outcome.detail[:300]} in {time.monotonic() - start:.2f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
