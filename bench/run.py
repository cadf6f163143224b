"""hwsolve benchmarks (`make bench`). Figures are ratios measured in one run: the machine is shared.

Start-up: `hwsolve --help` and `hwsolve backprop problems/cs4782_p1.yaml`, each against
`python -c "import click, rich"` (target: backprop within 4x). Scale: a 64-64-64 network in exact
mode and a 512-512-512 network in float mode, one example each: time and peak memory. Then the
other topics' benchmarks in this folder, if present.
"""

from __future__ import annotations

import os
import runpy
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
REPEAT = int(os.environ.get("BENCH_REPEAT", "15"))


def median_seconds(cmd: list[str]) -> float:
    times = []
    for _ in range(REPEAT):
        t = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def startup() -> None:
    base = median_seconds([PY, "-c", "import click, rich"])
    rows = [
        ("python -c 'import click, rich'", base),
        ("hwsolve --help", median_seconds([PY, "-m", "hwsolve", "--help"])),
        ("hwsolve backprop cs4782_p1 (rich)", median_seconds([PY, "-m", "hwsolve", "backprop",
                                                              "problems/cs4782_p1.yaml"])),
        ("hwsolve backprop cs4782_p1 --format json", median_seconds(
            [PY, "-m", "hwsolve", "backprop", "problems/cs4782_p1.yaml", "--format", "json"])),
    ]
    print(f"start-up, median of {REPEAT} runs")
    for name, t in rows:
        print(f"  {name:42s} {t * 1000:7.1f} ms   {t / base:4.2f}x baseline")


SCALE_CODE = r"""
import random, resource, sys, time
from fractions import Fraction
import yaml
from hwsolve.topics.backprop.solve import solve
from hwsolve.spec.loader import load_yaml_text
from hwsolve.topics.backprop.network_spec import parse_network

width, act, loss = int(sys.argv[1]), sys.argv[2], sys.argv[3]
rng = random.Random(0)
def num():
    return f"{rng.randint(-4, 4)}/{rng.randint(1, 4)}"
layers = []
for _ in range(2):
    layers.append({"type": "linear", "W": [[num() for _ in range(width)] for _ in range(width)],
                   "b": [num() for _ in range(width)]})
    layers.append(act)
spec = {"input": [num() for _ in range(width)], "target": [num() for _ in range(width)],
        "layers": layers, "loss": loss}
text = yaml.safe_dump(spec)
t = time.perf_counter()
problem = parse_network(load_yaml_text(text, "bench.yaml"))
sol = solve(problem)
elapsed = time.perf_counter() - t
exact = all(s.exact for s in sol.steps if s.value is not None)
print(f"{elapsed:.3f} {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f} {exact}")
"""


def scale() -> None:
    print("scale: one example, parse + forward + backward + every step record")
    for label, width, act, loss in (("64-64-64 exact (ReLU, squared error)", 64, "relu", "squared_error"),
                                    ("512-512-512 float (sigmoid, squared error)", 512, "sigmoid",
                                     "squared_error")):
        out = subprocess.run([PY, "-c", SCALE_CODE, str(width), act, loss], cwd=ROOT, check=True,
                             capture_output=True, text=True).stdout.split()
        secs, rss, exact = out
        print(f"  {label:44s} {float(secs):6.2f} s   peak memory (max RSS) {rss} MiB   all exact: {exact}")


def main() -> None:
    startup()
    scale()
    for other in sorted(Path(__file__).parent.glob("*_bench.py")):
        print(f"\n== {other.name}")
        sys.stdout.flush()
        runpy.run_path(str(other), run_name="__main__")


if __name__ == "__main__":
    main()
