"""The `hwsolve` command: its console script and `python -m hwsolve`.

The cyclic garbage collector is tuned here, before anything else is imported. A run is one short
process that builds a solution of many small objects (Fractions, tuples, steps, formulas) and
frees none of them until it ends; hwsolve's values hold no reference cycles, so a collection
finds almost nothing. CPython's default looks at the young objects every 700 new ones: hundreds
of passes in a deep network's run (a tenth of it at depth 32) and 40 during the imports alone.
Every 100,000 it runs a few times; peak memory is the same (measured on the width-512 network),
as only cyclic garbage, which there is little of, waits longer. Grading tunes it further for a
batch (grade/run.py).
"""

import gc


def main() -> None:
    gc.set_threshold(100_000, *gc.get_threshold()[1:])
    from hwsolve.cli import run

    run()


if __name__ == "__main__":
    main()
