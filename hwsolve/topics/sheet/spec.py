"""Reading a whole homework sheet (kind: sheet): its parts, each parsed by its own topic.

    hwsolve: 1
    kind: sheet
    title: "CS 4782 Homework 1"
    parts:
      - {id: P1, file: cs4782_p1.yaml}          # a spec file beside the sheet
      - id: P2
        spec: {kind: hparam, grid: {...}}       # or the spec inline

Parsing only: `hwsolve.topics.sheet.solve` solves the parts and puts them together.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from hwsolve.spec.loader import Doc, Field, load_yaml

TOP_KEYS = {"hwsolve", "kind", "title", "source", "notes", "parts"}
PART_KEYS = {"id", "title", "file", "spec"}
MAX_PARTS = 50




@dataclass
class Part:
    id: str
    kind: str
    problem: object
    title: str | None = None


@dataclass
class Sheet:
    file: str
    title: str
    parts: list[Part] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    kind: str = "sheet"


def _subdoc(doc: Doc, f: Field) -> Doc:
    """The part of a document under `f`, as a document of its own (lines kept)."""
    n = len(f.path)
    lines = {p[n:]: line for p, line in doc.lines.items() if p[:n] == f.path}
    data = f.value
    if isinstance(data, dict) and "hwsolve" not in data and isinstance(doc.data, dict) \
            and "hwsolve" in doc.data:
        data = {"hwsolve": doc.data["hwsolve"], **data}   # an inline part has the sheet's version
    return Doc(doc.file, data, lines)


def _part_file(f: Field, sheet_file: str) -> Path:
    rel = f.text()
    p = Path(rel)
    if p.is_absolute() or ".." in p.parts:
        raise f.error(f"'{rel}': a part's file must be a path inside the sheet's folder "
                      "(no absolute paths, no '..')")
    return Path(sheet_file).parent / p


def parse_sheet(doc: Doc) -> Sheet:
    from hwsolve import topics

    root = doc.root
    root.mapping(TOP_KEYS)
    if not root.has("parts"):
        raise root.error("missing required key 'parts' (a list of {id, file} or {id, spec})")
    items = root["parts"].items()
    if not items:
        raise root["parts"].error("expected at least one part")
    if len(items) > MAX_PARTS:
        raise root["parts"].error(f"{len(items)} parts; the limit is {MAX_PARTS}")
    sheet = Sheet(doc.file, root["title"].text() if root.has("title") else doc.file)
    if root.has("notes"):
        sheet.notes = [n.text() for n in root["notes"].items()]
    seen = set()
    for i, item in enumerate(items):
        item.mapping(PART_KEYS)
        pid = item["id"].text() if item.has("id") else f"Part {i + 1}"
        if pid in seen:
            raise item["id"].error(f"two parts are both called '{pid}'")
        seen.add(pid)
        if item.has("file") == item.has("spec"):
            raise item.error("a part needs exactly one of 'file' (a spec file) or 'spec' (inline)")
        if item.has("file"):
            # a part's file is beside the sheet; a missing one is an error, never a bundled example
            sub = load_yaml(_part_file(item["file"], doc.file), examples=False)
        else:
            item["spec"].mapping()
            sub = _subdoc(doc, item["spec"])
        kind = topics.kind_of(sub)
        if kind == "sheet":
            where = item["file"] if item.has("file") else item["spec"]
            raise where.error("a sheet's part cannot itself be a sheet")
        problem = topics.parse(sub, kind)
        sheet.parts.append(Part(pid, kind, problem, item["title"].text() if item.has("title") else None))
    return sheet


