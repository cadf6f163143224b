"""JSON text for big documents: the outline indented, one long list written one item per line.

json's C encoder runs only without `indent`; with it, the pure-Python encoder takes seconds on a
512x512 network's solution or a report of 5,000 submissions. The same JSON, other whitespace.

The document is put together as UTF-8 bytes, one item at a time: a Python string holding a
single character beyond ASCII (a formula's ⊙) is stored two bytes per character throughout, so
joining 9.6 MB of mostly-ASCII lines as text would copy and re-encode all of it at that width.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

_MARK = "@@hwsolve-compact-list@@"


def compact_list_utf8(data: dict[str, Any], key: str, texts: Iterable[str] | None = None) -> bytes:
    """json.dumps(data, indent=2, ensure_ascii=False) as UTF-8, except that data[key], a list, has
    each item on one compact line; `texts`, when given, are those lines already made (each
    json.dumps(item, ensure_ascii=False)), and data[key] is not read."""
    n = 0
    while True:   # a mark that nothing else in the outline spells (a title could)
        mark_text = f"{_MARK}{n}"
        mark = json.dumps(mark_text)
        outline = json.dumps({**data, key: mark_text}, indent=2, ensure_ascii=False)
        if outline.count(mark) == 1:
            break
        n += 1
    if texts is None:
        texts = (json.dumps(item, ensure_ascii=False) for item in data[key])
    lines = b",\n    ".join(text.encode("utf-8") for text in texts)
    head, _, tail = outline.partition(mark)
    return b"".join((head.encode("utf-8"), b"[\n    " + lines + b"\n  ]" if lines else b"[]",
                     tail.encode("utf-8")))


def dumps_compact_list(data: dict[str, Any], key: str, texts: Iterable[str] | None = None) -> str:
    """`compact_list_utf8` as text."""
    return compact_list_utf8(data, key, texts).decode("utf-8")
