"""User-facing errors: the CLI turns these into one clear message and exit code 2.

Anything else that escapes is a bug in hwsolve and keeps its traceback.
"""

from __future__ import annotations


class HwsolveError(Exception):
    """A problem with the user's input, reported without a traceback."""

    exit_code = 2

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 field: str | None = None):
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.field = field

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = self.file + (f":{self.line}" if self.line else "") + ": "
        elif self.line:
            where = f"line {self.line}: "
        field = f"{self.field}: " if self.field else ""
        return f"{where}{field}{self.message}"


class SpecError(HwsolveError):
    """A spec or answer file that is malformed or does not describe a valid problem."""


class MathError(HwsolveError):
    """The problem is well-formed but undefined at its numbers (division by zero, log of 0, ...)."""
