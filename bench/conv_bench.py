"""Start-up time of `hwsolve conv-shape` (issue 4: no numpy or sympy on that path).

    .venv/bin/python bench/conv_bench.py [runs]

Runs each command in a fresh interpreter `runs` times and prints the median and best wall time,
next to a bare `python -c pass` and to `import numpy, sympy` for scale. Not a test: timings
depend on the machine.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

CASES = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "conv-shape (rich)": [sys.executable, "-m", "hwsolve", "conv-shape", "--n", "36", "--k", "3",
                          "--p", "3", "--s", "2", "--filters", "2", "--channels", "3"],
    "conv-shape --format json": [sys.executable, "-m", "hwsolve", "conv-shape", "--n", "36", "--k",
                                 "3", "--format", "json"],
    "conv-shape --help": [sys.executable, "-m", "hwsolve", "conv-shape", "--help"],
    "import numpy, sympy": [sys.executable, "-c", "import numpy, sympy"],
}


def time_once(cmd: list[str]) -> float:
    env = dict(os.environ, NO_COLOR="1")
    t0 = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, env=env)
    return time.perf_counter() - t0


def bench_conv_shape(runs: int = 15) -> dict[str, tuple[float, float]]:
    out = {}
    for name, cmd in CASES.items():
        time_once(cmd)  # warm the file cache
        ts = [time_once(cmd) for _ in range(runs)]
        out[name] = (statistics.median(ts), min(ts))
    return out


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    for name, (med, best) in bench_conv_shape(runs).items():
        print(f"{name:28s} median {med * 1000:7.1f} ms   best {best * 1000:7.1f} ms")


if __name__ == "__main__":
    main()
