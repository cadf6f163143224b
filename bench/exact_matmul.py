"""Exact matrix products: numpy object arrays of Fraction vs python-flint vs sympy's DomainMatrix.

Issue 17 item 3, a measurement for deciding, not part of `make bench` and not adopted. Each library
multiplies the same two n x n matrices of small rationals (numerators -4..4, denominators 1..4,
the kind hwsolve's network specs hold) and the products are checked to be the same rationals.

    python bench/exact_matmul.py [SIZES...]        # default 16 64 256

Needs numpy; measures what else is installed: python-flint (`fmpq_mat`), sympy's `DomainMatrix`
over QQ with gmpy2 ground types (SYMPY_GROUND_TYPES=gmpy) and with flint ground types. Every
library runs in its own interpreter so their ground types do not mix. Not in the project's
dependencies: install them into a scratch venv (`pip install numpy sympy python-flint gmpy2`).
At 256 the Fraction product (16.7 million Fraction multiply-adds) would take minutes on a busy
machine, so by default it multiplies the first 32 rows only and scales the time by 256/32 (said in
the output); BENCH_FULL=1 runs it whole.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

CHILD = r"""
import json, random, sys, time
from fractions import Fraction
method, n, rows = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(n)
def mat():
    return [[Fraction(rng.randint(-4, 4), rng.randint(1, 4)) for _ in range(n)] for _ in range(n)]
A, B = mat(), mat()
A = A[:rows]

def best(f, budget=1.0):
    times, out = [], None
    t_end = time.perf_counter() + budget
    while not times or (time.perf_counter() < t_end and len(times) < 7):
        t = time.perf_counter(); out = f(); times.append(time.perf_counter() - t)
    return min(times), out

if method == "fraction":
    import numpy as np
    a, b = np.array(A, dtype=object), np.array(B, dtype=object)
    secs, C = best(lambda: a.dot(b))
    C = [[Fraction(x) for x in row] for row in C]
elif method == "flint":
    import flint
    a = flint.fmpq_mat([[flint.fmpq(x.numerator, x.denominator) for x in r] for r in A])
    b = flint.fmpq_mat([[flint.fmpq(x.numerator, x.denominator) for x in r] for r in B])
    secs, C = best(lambda: a * b)
    C = [[Fraction(int(C[i, j].p), int(C[i, j].q)) for j in range(C.ncols())] for i in range(C.nrows())]
else:  # sympy DomainMatrix over QQ; the ground types come from SYMPY_GROUND_TYPES
    from sympy import QQ
    from sympy.polys.matrices import DomainMatrix
    a = DomainMatrix([[QQ(x.numerator, x.denominator) for x in r] for r in A], (len(A), n), QQ)
    b = DomainMatrix([[QQ(x.numerator, x.denominator) for x in r] for r in B], (n, n), QQ)
    secs, C = best(lambda: a.matmul(b))
    C = [[Fraction(int(QQ.numer(x)), int(QQ.denom(x))) for x in row] for row in C.to_list()]
digest = hash(tuple(tuple(r) for r in C))
print(json.dumps({"secs": secs, "digest": digest}))
"""

METHODS = {  # label -> (child method, extra environment)
    "Fraction object array (numpy)": ("fraction", {}),
    "python-flint fmpq_mat": ("flint", {}),
    "sympy DomainMatrix QQ (gmpy2)": ("domain", {"SYMPY_GROUND_TYPES": "gmpy"}),
    "sympy DomainMatrix QQ (flint)": ("domain", {"SYMPY_GROUND_TYPES": "flint"}),
}


def run(method: str, env: dict, n: int, rows: int) -> dict | None:
    proc = subprocess.run([sys.executable, "-c", CHILD, method, str(n), str(rows)], capture_output=True,
                          text=True, env={**os.environ, **env, "PYTHONHASHSEED": "0"})
    if proc.returncode != 0:
        return None  # library not installed (or failed): reported as n/a
    return json.loads(proc.stdout)


def main(sizes: list[int]) -> None:
    full = os.environ.get("BENCH_FULL") == "1"
    print("| method | " + " | ".join(f"n = {n}" for n in sizes) + " |")
    print("|---|" + "---|" * len(sizes))
    base: dict[int, float] = {}
    digests: dict[int, int] = {}
    for label, (method, env) in METHODS.items():
        cells = []
        for n in sizes:
            rows = n if (full or method != "fraction" or n <= 64) else 32
            res = run(method, env, n, rows)
            if res is None:
                cells.append("n/a")
                continue
            secs = res["secs"] * n / rows
            if rows == n:
                digests.setdefault(n, res["digest"])
                same = "" if digests[n] == res["digest"] else " DIFFERENT RESULT"
            else:
                same = f" (from {rows} rows, scaled)"
            if method == "fraction":
                base[n] = secs
            ratio = f", {base[n] / secs:.0f}x faster" if n in base and method != "fraction" else ""
            cells.append(f"{secs * 1000:.2f} ms{ratio}{same}")
        print(f"| {label} | " + " | ".join(cells) + " |")
        sys.stdout.flush()


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [16, 64, 256])
