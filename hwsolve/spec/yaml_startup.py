"""Importing PyYAML without compiling its unused printable-character regex first (issue 17).

`yaml.reader` compiles, at import, a character class spanning all of Unicode (NON_PRINTABLE):
about 3.5 ms of CPU, a tenth of everything `python -c "import click, rich"` costs, on every
command that reads a spec. hwsolve parses with libyaml (CSafeLoader), which never uses it; the only
use is the pure-Python reader's printable check (and `SafeLoader("")`, whose check of "" finds
nothing). So before the first `import yaml`, the regex cache gets a stand-in for that one pattern
that compiles the real one the first time a non-empty string is searched.

This relies on `re`'s module cache (CPython 3.11, the version hwsolve runs on); anywhere else, or
when yaml is already imported, nothing is done and PyYAML compiles its pattern as usual.
tests/test_plaintext.py checks the stand-in finds what the pattern finds.
"""

from __future__ import annotations

import re
import sys
from typing import Any

NON_PRINTABLE = "[^\x09\x0A\x0D\x20-\x7E\x85\xA0-\uD7FF\uE000-\uFFFD\U00010000-\U0010ffff]"


class LazyPattern:
    """A compiled pattern made on first real use; searching "" needs no pattern."""

    def __init__(self, source: str):
        self.source = source
        self._compiled: re.Pattern[str] | None = None

    def compiled(self) -> re.Pattern[str]:
        if self._compiled is None:
            # a group around it: another cache key (not this stand-in again), the same matches
            self._compiled = re.compile(f"(?:{self.source})")
        return self._compiled

    def search(self, string: str, *args: Any) -> re.Match[str] | None:
        if not string and not args:
            return None
        return self.compiled().search(string, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.compiled(), name)


_KEY = (str, NON_PRINTABLE, 0)


def seed() -> None:
    """Put the stand-in where `re.compile(NON_PRINTABLE)` will find it (only before yaml is imported)."""
    cache = getattr(re, "_cache", None)
    if "yaml" in sys.modules or sys.version_info[:2] != (3, 11) or not isinstance(cache, dict):
        return
    cache.setdefault(_KEY, LazyPattern(NON_PRINTABLE))


def forget() -> None:
    """Once yaml is imported (its reader holds the stand-in), the cache returns to plain patterns."""
    cache = getattr(re, "_cache", None)
    if isinstance(cache, dict) and isinstance(cache.get(_KEY), LazyPattern):
        del cache[_KEY]


seed()
