"""Benchmark: grade 1,000 generated submissions of seed 000 P1 in one `hwsolve grade` run.

Reports submissions per second and the ratio of the whole batch to one `hwsolve backprop` run
(target: under 20). Submissions are generated from the key with a fixed seed: about a third
right, the rest with a slip somewhere and its consequences carried forward, a named mistake, a
missing step or a rounded value, so ECF, the mistake table and partial credit all run.

    .venv/bin/python bench/grade_bench.py [N]
"""

from __future__ import annotations

import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KEY = ROOT / "problems" / "cs4782_p1.yaml"
HWSOLVE = str(Path(sys.executable).parent / "hwsolve")


def key_values() -> dict:
    out = subprocess.run([HWSOLVE, "backprop", str(KEY), "--format", "json"], capture_output=True,
                         text=True, check=True).stdout
    steps = json.loads(out)["steps"]
    return {s["name"]: s["value"] for s in steps if s["section"] in ("forward", "backward")}


def _map(v, f):
    return [_map(x, f) for x in v] if isinstance(v, list) else f(v)


def generate(values: dict, rng: random.Random) -> dict:
    a = dict(values)
    kind = rng.random()
    if kind < 0.33:
        pass
    elif kind < 0.5:   # slip in a[3], carried forward as the student would
        a["a[3]"] = a["z[3]"] = a["yhat"] = 9
        a["dL/dyhat"] = a["dL/dz[3]"] = a["dL/da[3]"] = a["dL/db[3]"] = -2
        a["dL/dW[3]"] = [[-76, -44]]
    elif kind < 0.6:
        a["dL/dW[1]"] = [list(r) for r in zip(*a["dL/dW[1]"], strict=False)]          # transposed
    elif kind < 0.7:
        a["dL/db[2]"] = _map(a["dL/db[2]"], lambda x: -x)                 # sign flip
    elif kind < 0.8:
        a["dL/dW[2]"] = _map(a["dL/dW[2]"], lambda x: x / 2)              # factor 2 dropped
    elif kind < 0.9:
        for k in rng.sample(sorted(a), 3):
            del a[k]                                                      # missing steps
    else:
        a["dL/dx"] = _map(a["dL/dx"], lambda x: round(x * 1.013, 1))      # rounded, slightly off
    return {"student": f"s{rng.randrange(10**6):06d}", "answers": a}


def timed(cmd) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def main(n: int = 1000) -> None:
    rng = random.Random(6)
    values = key_values()
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d) / "subs"
        folder.mkdir()
        for i in range(n):
            (folder / f"{i:04d}.json").write_text(json.dumps(generate(values, rng)))
        single = statistics.median(timed([HWSOLVE, "backprop", str(KEY)]) for _ in range(5))
        out = Path(d) / "grades.json"
        batch = timed([HWSOLVE, "grade", str(KEY), str(folder), "--brief", "--json", str(out),
                       "--junit", str(Path(d) / "junit.xml")])
        data = json.loads(out.read_text())
    assert len(data["submissions"]) == n
    print(f"one `hwsolve backprop` run:        {single * 1000:.0f} ms (median of 5)")
    print(f"`hwsolve grade` of {n} submissions: {batch:.2f} s  ({n / batch:.0f} submissions/s)")
    print(f"batch / single run:                {batch / single:.1f}x  (target < 20x)")
    print(f"class mean {data['class']['mean']:.1f}%, mistakes: "
          + ", ".join(f"{m['key']} {m['count']}" for m in data["class"]["mistakes"]))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
