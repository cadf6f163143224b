"""Write result files whole or not at all."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path

from hwsolve.core.errors import HwsolveError


def _current_umask() -> int:
    # os.umask can only be read by setting it; set it back at once (the CLI is single-threaded)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _mode_for(p: Path) -> int:
    """A replaced file keeps its mode; a new one gets what open() would give it: 0666 less the
    umask (0644 by default). mkstemp alone would leave every output 0600."""
    try:
        return stat.S_IMODE(p.stat().st_mode)
    except OSError:
        return 0o666 & ~_current_umask()


class WriteError(HwsolveError, OSError):
    """A result file could not be written: one error line for the CLI, and still an OSError for
    callers that handle write failures as such."""


def _shown(path: str | Path) -> str:
    text = str(path)
    return text if len(text) <= 120 else text[:117] + "..."


def exists(path: str | Path) -> bool:
    """Whether `path` exists; a name the system refuses (too long, a NUL) does not."""
    try:
        return Path(path).exists()
    except (OSError, ValueError):
        return False


def make_folder(path: str | Path, parents: bool = False) -> None:
    """mkdir (an existing folder is fine); a folder that cannot be made (a name too long, a file
    in the way, no permission) is one error naming it."""
    try:
        Path(path).mkdir(parents=parents, exist_ok=True)
    except OSError as e:
        raise WriteError(f"cannot make the folder: {e.strerror or e}", field=_shown(path)) from None


def write_atomic(path: str | Path, data: str | bytes | Iterable[bytes]) -> None:
    """Write to a temporary file beside `path`, then rename it into place. `data` may also be
    pieces of bytes, written as they are made. A path that cannot be written (a name too long,
    no permission, a full disk) is one error naming it."""
    try:
        _write_atomic(Path(path), data)
    except OSError as e:
        raise WriteError(f"cannot write the file: {e.strerror or e}", field=_shown(path)) from None


def _write_atomic(p: Path, data: str | bytes | Iterable[bytes]) -> None:
    folder = p.parent if str(p.parent) else Path(".")
    if not folder.is_dir():
        raise HwsolveError(f"folder '{_shown(folder)}' does not exist", field=_shown(p))
    mode = _mode_for(p)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{p.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), mode)
            if isinstance(data, (str, bytes)):
                f.write(data.encode("utf-8") if isinstance(data, str) else data)
            else:
                f.writelines(data)
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
