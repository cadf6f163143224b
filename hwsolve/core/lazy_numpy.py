"""numpy, imported on first use: a small exact network (QMatrix values) never needs it, and
importing numpy costs more than the rest of such a run (docs/performance.md)."""

from __future__ import annotations

from typing import Any


class LazyNumpy:
    def __getattr__(self, name: str) -> Any:
        import numpy

        return getattr(numpy, name)


np = LazyNumpy()
