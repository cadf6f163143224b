"""The JSON Schema documents (draft 2020-12) and the commented spec templates shipped with hwsolve.

hwsolve/schemas/ holds one schema per spec kind (`spec-network`, ...) and one per output
(`solution` for --format json, `grade` for grade --json, `gradescope` for --gradescope);
hwsolve/templates/ one commented starting spec per kind, written by `hwsolve init KIND`.
"""

from __future__ import annotations

from pathlib import Path

from hwsolve.core.errors import SpecError

_PACKAGE = Path(__file__).resolve().parent.parent
SCHEMA_DIR = _PACKAGE / "schemas"
TEMPLATE_DIR = _PACKAGE / "templates"


def schema_names() -> list[str]:
    return sorted(p.stem for p in SCHEMA_DIR.glob("*.json"))


def template_kinds() -> list[str]:
    return sorted(p.stem for p in TEMPLATE_DIR.glob("*.yaml"))


def schema_path(name: str) -> Path:
    """The schema file of `name`: a schema name, or a spec kind (`network` is `spec-network`)."""
    names = schema_names()
    if name not in names and f"spec-{name}" in names:
        name = f"spec-{name}"
    if name not in names:
        raise SpecError(f"unknown schema '{name}'; expected one of: {', '.join(names)}", field="NAME")
    return SCHEMA_DIR / f"{name}.json"


def template_text(kind: str) -> str:
    """The commented template of `kind`, its first line pointing editors at the schema (the
    yaml-language-server convention, which VS Code's YAML extension and others read)."""
    if kind not in template_kinds():
        raise SpecError(f"unknown kind '{kind}'; expected one of: {', '.join(template_kinds())}", field="KIND")
    uri = schema_path(f"spec-{kind}").as_uri()
    return f"# yaml-language-server: $schema={uri}\n" + (TEMPLATE_DIR / f"{kind}.yaml").read_text(encoding="utf-8")
