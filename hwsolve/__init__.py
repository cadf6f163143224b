"""hwsolve: step-by-step solver and derivation printer for deep-learning homework.

Nothing heavy is imported here: `hwsolve --help` and `conv-shape` must start fast.
"""

__version__ = "0.1.1"
