"""JSON text for big documents: the outline indented, one long list written one item per line.

json's C encoder runs only without `indent`; with it, the pure-Python encoder takes seconds on a
512x512 network's solution or a report of 5,000 submissions. The same JSON, other whitespace.

The document is made as UTF-8 bytes, one item at a time, and handed out in pieces
(`compact_list_chunks`): a file is written as they come, and a 784-128-10 network's lines are
never one string. Joining them as text would also be slow: a Python string holding a single
character beyond ASCII (a formula's ⊙) is stored two bytes per character throughout, so the whole
document would be copied and re-encoded at that width.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

_MARK = "@@hwsolve-compact-list@@"


def compact_list_chunks(data: dict[str, Any], key: str, texts: Iterable[str] | None = None) -> Iterator[bytes]:
    """json.dumps(data, indent=2, ensure_ascii=False) as UTF-8, in pieces, except that data[key],
    a list, has each item on one compact line; `texts`, when given, are those lines (each
    json.dumps(item, ensure_ascii=False)), made one by one as the pieces are taken, and data[key]
    is not read."""
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
    head, _, tail = outline.partition(mark)
    yield head.encode("utf-8")
    before = b"[\n    "
    for text in texts:
        yield before
        yield text.encode("utf-8")
        before = b",\n    "
    yield b"[]" if before == b"[\n    " else b"\n  ]"
    yield tail.encode("utf-8")


def dumps_compact_list(data: dict[str, Any], key: str, texts: Iterable[str] | None = None) -> str:
    """`compact_list_chunks` joined, as text."""
    return b"".join(compact_list_chunks(data, key, texts)).decode("utf-8")
