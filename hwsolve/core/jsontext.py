"""JSON text for big documents: the outline indented, one long list written one item per line.

json's C encoder runs only without `indent`; with it, the pure-Python encoder takes seconds on a
512x512 network's solution or a report of 5,000 submissions. The same JSON, other whitespace.
"""

from __future__ import annotations

import json
from typing import Any

_MARK = "@@hwsolve-compact-list@@"


def dumps_compact_list(data: dict[str, Any], key: str) -> str:
    """json.dumps(data, indent=2), except that data[key], a list, has each item on one compact line."""
    items = data[key]
    outline = json.dumps({**data, key: _MARK}, indent=2, ensure_ascii=False)
    mark = json.dumps(_MARK)
    if outline.count(mark) != 1:  # the mark also in a title or a name: no shortcut
        return json.dumps(data, indent=2, ensure_ascii=False)
    lines = ",\n    ".join(json.dumps(item, ensure_ascii=False) for item in items)
    return outline.replace(mark, "[\n    " + lines + "\n  ]" if items else "[]")
