"""Reading the sizes of a convolution, "36", "36x28", [36, 28] or "same", from the conv-shape
command's options or from a spec's values. Kept apart from the spec reader (which loads YAML) so
that conv-shape stays light, and apart from the solver, which never reads input.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hwsolve.core.errors import HwsolveError

Blame = Callable[[str, str], Exception]  # (parameter key, message) -> the error to raise


FLAGS = {"n": "--n", "k": "--k", "p": "--p", "s": "--s", "d": "--d", "filters": "--filters",
         "channels": "--channels", "pool": "--pool", "transposed": "--transposed",
         "output_padding": "--output-padding"}

MAX_SIZE = 10**9  # sizes beyond this are not homework; it also bounds the coverage scan


def flag_blame(key: str, message: str) -> Exception:
    return HwsolveError(message, field=FLAGS.get(key, key))


def parse_pair(text: Any, key: str, blame: Blame = flag_blame, *, allow_same: bool = False,
               minimum: int = 1) -> tuple[int, int] | str:
    """``36`` -> (36, 36); ``36x28`` -> (36, 28); ``[36, 28]`` -> (36, 28); ``same`` if allowed."""
    if isinstance(text, bool):
        raise blame(key, f"expected a whole number or HxW, got '{str(text).lower()}'")
    if isinstance(text, (list, tuple)):
        if len(text) != 2:
            raise blame(key, f"expected [height, width], got a list of {len(text)}")
        parts = [str(v) for v in text]
    elif isinstance(text, int):
        parts = [str(text)]
    elif isinstance(text, str):
        t = text.strip()
        if allow_same and t.lower() == "same":
            return "same"
        parts = [x.strip() for x in t.lower().replace("×", "x").split("x")]
        if len(parts) > 2:
            hint = "; give the channels separately (--channels / channels:)" if key == "n" else ""
            raise blame(key, f"expected a whole number or HxW, got '{text}'{hint}")
    else:
        raise blame(key, f"expected a whole number or HxW, got '{text}'")
    vals = []
    for part in parts:
        try:
            v = int(part, 10)
        except ValueError:
            extra = " or 'same'" if allow_same else ""
            raise blame(key, f"expected a whole number or HxW{extra}, got '{text}'") from None
        if v < minimum:
            raise blame(key, f"cannot be negative, got {v}" if minimum == 0
                        else f"must be at least {minimum}, got {v}")
        if v > MAX_SIZE:
            raise blame(key, f"{v} is too large (limit {MAX_SIZE})")
        vals.append(v)
    return (vals[0], vals[-1])


def parse_count(text: Any, key: str, blame: Blame = flag_blame) -> int | None:
    """A whole number >= 1 (filters, channels), or None when not given."""
    if text is None:
        return None
    if isinstance(text, bool) or not isinstance(text, (int, str)):
        raise blame(key, f"expected a whole number, got '{text}'")
    try:
        v = int(str(text).strip(), 10)
    except ValueError:
        raise blame(key, f"expected a whole number, got '{text}'") from None
    if v < 1:
        raise blame(key, f"must be at least 1, got {v}")
    if v > MAX_SIZE:
        raise blame(key, f"{v} is too large (limit {MAX_SIZE})")
    return v


