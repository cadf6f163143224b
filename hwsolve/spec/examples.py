"""The example specs that ship with hwsolve (the repo's problems/, copied into the package).

A bare name such as `cs4782_p1` finds a bundled example when no file of that name exists, so the
README's commands work from any folder after `pip install`.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent.parent


def examples_dir() -> Path:
    """hwsolve/problems/ in an installed wheel; the repo's problems/ in a clone or editable install."""
    installed = _PACKAGE / "problems"
    return installed if installed.is_dir() else _PACKAGE.parent / "problems"


def example_names() -> list[str]:
    folder = examples_dir()
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


def find_example(path: str | Path) -> Path | None:
    """The bundled example a missing path names: `cs4782_p1`, `cs4782_p1.yaml` or
    `problems/cs4782_p1.yaml` (the README's spelling); None when it names none."""
    p = Path(path)
    bare = len(p.parts) == 1 or (len(p.parts) == 2 and p.parts[0] == "problems")
    name = p.name[:-5] if p.name.endswith(".yaml") else p.name
    if not bare:
        return None
    try:   # an existing file first: listing the examples folder costs every run that names a file
        if p.exists():
            return None
    except OSError:   # a name the file system refuses (too long): not a file, so maybe an example
        pass
    if name not in example_names():
        return None
    return examples_dir() / f"{name}.yaml"


def resolve_spec_path(path: str | Path) -> str | Path:
    found = find_example(path)
    return path if found is None else found


def example_summary(path: Path, data: object) -> tuple[str, str]:
    """(kind, one-line description) of the example at `path`, loaded as `data`: the spec's `title:`,
    else its first comment line. (The caller loads it: the loader itself looks examples up here.)"""
    kind = str(data.get("kind", "network")) if isinstance(data, dict) else "?"
    title = data.get("title") if isinstance(data, dict) else None
    if not title:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("#") and not line.startswith("# yaml-language-server"):
                title = line.lstrip("# ").strip()
                break
    return kind, str(title or "")
