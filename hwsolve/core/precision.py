"""The default number of significant digits for values that are not exact.

A module of its own so the command line can show it in `--help` without importing `fractions`
(and `decimal` with it) through numfmt.
"""

DEFAULT_PRECISION = 4
