"""Load YAML safely, remembering the line of every value, with bounded size and depth.

Specs and answer files may come from strangers, so: the safe loader only (no Python tags), a byte
limit, a node budget that stops alias bombs (``&a [*a, *a, ...]`` nested), a nesting limit, and
numbers parsed by `numbers.parse_number`, never by eval.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import yaml

from hwsolve.core.errors import SpecError
from hwsolve.spec.numbers import parse_number

MAX_BYTES = 8_000_000   # a 512-512-512 network written out is about 5.5 MB
MAX_NODES = 1_200_000   # values after alias expansion
MAX_DEPTH = 64

_MISSING = object()
# top-level keys any spec kind may carry, read by another command (`rubric:` by `hwsolve grade`,
# `variants:` by `hwsolve variants`)
SPEC_WIDE_KEYS = frozenset({"rubric", "variants"})


@dataclass
class Doc:
    """A loaded YAML document: plain data, plus the line (1-based) of each value by path."""

    file: str
    data: Any
    lines: dict[tuple, int] = field(default_factory=dict)

    @property
    def root(self) -> Field:
        return Field(self, ())


def load_yaml(path: str | Path, max_bytes: int = MAX_BYTES, max_nodes: int = MAX_NODES,
              examples: bool = True) -> Doc:
    """Load a spec; with `examples`, a bare name (`cs4782_p1`) that is no file finds a bundled one."""
    if examples:
        from hwsolve.spec.examples import resolve_spec_path

        path = resolve_spec_path(path)
    p = Path(path)
    try:
        size = p.stat().st_size
    except OSError as e:
        raise SpecError(f"cannot read file: {e.strerror or e}", file=str(path)) from None
    if p.is_dir():
        raise SpecError("is a folder, expected a YAML file", file=str(path))
    if size > max_bytes:
        raise SpecError(f"file is {size} bytes; the limit is {max_bytes}", file=str(path))
    try:
        raw = p.read_bytes()
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise SpecError(f"not UTF-8 text (byte {e.start})", file=str(path)) from None
    except OSError as e:
        raise SpecError(f"cannot read file: {e.strerror or e}", file=str(path)) from None
    return load_yaml_text(text, str(path), max_bytes, max_nodes)


def load_yaml_text(text: str, file: str = "<string>", max_bytes: int = MAX_BYTES,
                   max_nodes: int = MAX_NODES) -> Doc:
    if len(text) > max_bytes:
        raise SpecError(f"text is {len(text)} characters; the limit is {max_bytes}", file=file)
    try:
        node = yaml.compose(text, Loader=_COMPOSER)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else None
        what = e.problem or e.context or "malformed YAML"
        raise SpecError(f"invalid YAML: {what}", file=file, line=line) from None
    except yaml.YAMLError as e:
        raise SpecError(f"invalid YAML: {e}", file=file) from None
    except RecursionError:
        raise SpecError(f"YAML nested too deeply (limit {MAX_DEPTH})", file=file) from None
    doc = Doc(file, None)
    if node is None:
        raise SpecError("the file is empty", file=file)
    builder = _Builder(doc, max_nodes)
    doc.data = builder.build(node, (), 0)
    return doc


# libyaml's composer when PyYAML has it (about 10x faster on large specs); same node tree, same
# safe tag resolution, so line numbers and bounds work the same
_COMPOSER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_COLLECTION_TAGS = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")


class _Builder:
    def __init__(self, doc: Doc, max_nodes: int = MAX_NODES):
        self.doc = doc
        self.max_nodes = max_nodes
        self.count = 0
        self.constructor = yaml.SafeLoader("")  # only for its scalar constructors

    def build(self, node, path: tuple, depth: int):
        self.count += 1
        line = node.start_mark.line + 1
        if self.count > self.max_nodes:
            raise SpecError(f"too many values (over {self.max_nodes}; an alias bomb?)",
                            file=self.doc.file, line=line)
        if depth > MAX_DEPTH:
            raise SpecError(f"nested deeper than {MAX_DEPTH} levels", file=self.doc.file, line=line)
        self.doc.lines.setdefault(path, line)
        if not isinstance(node, yaml.ScalarNode) and node.tag not in _COLLECTION_TAGS:
            raise SpecError(f"unsupported YAML tag {node.tag!r}", file=self.doc.file, line=line,
                            field=_path_text(path) or None)
        if isinstance(node, yaml.MappingNode):
            out = {}
            for knode, vnode in node.value:
                if not isinstance(knode, yaml.ScalarNode):
                    raise SpecError("a mapping key must be a plain name", file=self.doc.file,
                                    line=knode.start_mark.line + 1)
                key = str(self.scalar(knode, path))
                if key in out:
                    raise SpecError(f"key '{key}' appears twice", file=self.doc.file,
                                    line=knode.start_mark.line + 1, field=_path_text(path + (key,)))
                # a key's own line, so `c:` is blamed, not the first line of what follows it
                self.doc.lines[path + (key,)] = knode.start_mark.line + 1
                out[key] = self.build(vnode, path + (key,), depth + 1)
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(v, path + (i,), depth + 1) for i, v in enumerate(node.value)]
        return self.scalar(node, path)

    def scalar(self, node, path):
        tag = node.tag
        if tag == "tag:yaml.org,2002:float":
            # Keep what the user wrote exactly: 0.1 is 1/10, not 0.1000000000000000055...
            try:
                return parse_number(node.value)
            except ValueError:
                return float(self.constructor.construct_object(node))  # .inf, .nan
        if tag in ("tag:yaml.org,2002:str", "tag:yaml.org,2002:int", "tag:yaml.org,2002:bool",
                   "tag:yaml.org,2002:null"):
            if tag == "tag:yaml.org,2002:int" and len(node.value) > 400:
                raise SpecError("integer with more than 400 digits", file=self.doc.file,
                                line=node.start_mark.line + 1, field=_path_text(path))
            return self.constructor.construct_object(node)
        raise SpecError(f"unsupported YAML tag {tag!r}", file=self.doc.file,
                        line=node.start_mark.line + 1, field=_path_text(path))


def _path_text(path: tuple) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


class Field:
    """A place in a document: reads values and raises errors that say where they are."""

    def __init__(self, doc: Doc, path: tuple):
        self.doc = doc
        self.path = path

    @property
    def value(self) -> Any:
        v = self.doc.data
        for p in self.path:
            v = v[p]
        return v

    @property
    def name(self) -> str:
        return _path_text(self.path) or "(top level)"

    @property
    def line(self) -> int | None:
        path = self.path
        while path and path not in self.doc.lines:
            path = path[:-1]
        return self.doc.lines.get(path)

    def error(self, message: str) -> SpecError:
        return SpecError(message, file=self.doc.file, line=self.line,
                         field=_path_text(self.path) or None)

    def __getitem__(self, key) -> Field:
        return Field(self.doc, self.path + (key,))

    def has(self, key) -> bool:
        v = self.value
        return isinstance(v, dict) and key in v

    def get(self, key, default=_MISSING):
        """The value at key, or default; without a default, a missing key is an error."""
        v = self.mapping()
        if key in v:
            return v[key]
        if default is _MISSING:
            raise self.error(f"missing required key '{key}'")
        return default

    def mapping(self, allowed: set[str] | None = None) -> dict:
        v = self.value
        if not isinstance(v, dict):
            raise self.error(f"expected a mapping (key: value lines), got {_describe(v)}")
        if allowed is not None:
            for k in v:
                if k not in allowed and not (self.path == () and k in SPEC_WIDE_KEYS):
                    raise self[k].error(_unknown(k, allowed))
        return v

    def items(self) -> list[Field]:
        v = self.value
        if not isinstance(v, list):
            raise self.error(f"expected a list, got {_describe(v)}")
        return [self[i] for i in range(len(v))]

    def text(self, choices: set[str] | None = None) -> str:
        v = self.value
        if not isinstance(v, str):
            raise self.error(f"expected text, got {_describe(v)}")
        if choices is not None and v not in choices:
            raise self.error(_unknown(v, choices, what="value"))
        return v

    def number(self) -> Fraction | float:
        return _number(self, self.value)

    def integer(self, minimum: int | None = None) -> int:
        v = self.value
        if isinstance(v, bool) or not isinstance(v, (int, Fraction, str)):
            raise self.error(f"expected a whole number, got {_describe(v)}")
        q = _number(self, v)
        if not isinstance(q, Fraction) or q.denominator != 1:
            raise self.error(f"expected a whole number, got {v}")
        n = int(q)
        if minimum is not None and n < minimum:
            raise self.error(f"expected a whole number >= {minimum}, got {n}")
        return n

    def boolean(self) -> bool:
        v = self.value
        if not isinstance(v, bool):
            raise self.error(f"expected true or false, got {_describe(v)}")
        return v


def check_version(doc: Doc) -> None:
    """The optional `hwsolve:` format-version key that any spec may carry (network specs may omit it)."""
    root = doc.root
    root.mapping()
    if root.has("hwsolve"):
        ver = root["hwsolve"].integer()
        if ver != 1:
            raise root["hwsolve"].error(f"this hwsolve reads spec format version 1, not {ver}")


def check_header(root: Field, kind: str, command: str | None = None) -> None:
    """The `hwsolve: 1` version key and the `kind:` key every single-topic spec carries."""
    root.mapping()
    version = root.get("hwsolve", None)
    if version is None:
        raise root.error("missing 'hwsolve: 1' (the spec format version) at the top")
    if isinstance(version, bool) or version != 1:
        raise root["hwsolve"].error(f"unsupported spec version {version!r}; this hwsolve reads version 1")
    if not root.has("kind"):
        raise root.error(f"missing 'kind: {kind}'")
    got = root["kind"].text()
    if got != kind:
        raise root["kind"].error(f"this is a '{got}' spec; `hwsolve {command or kind}` reads 'kind: {kind}'")


def _number(f: Field, v) -> Fraction | float:
    if isinstance(v, bool) or v is None:
        raise f.error(f"expected a number, got {_describe(v)}")
    if isinstance(v, int):
        return Fraction(v)
    if isinstance(v, (Fraction, float)):
        return v
    if isinstance(v, str):
        try:
            return parse_number(v)
        except ZeroDivisionError:
            raise f.error(f"fraction '{v}' has a zero denominator") from None
        except ValueError as e:
            raise f.error(str(e)) from None
    raise f.error(f"expected a number, got {_describe(v)}")


def _describe(v) -> str:
    if v is None:
        return "nothing (null)"
    if isinstance(v, bool):
        return f"'{str(v).lower()}'"
    if isinstance(v, dict):
        return "a mapping"
    if isinstance(v, list):
        return f"a list of {len(v)}"
    if isinstance(v, str):
        return f"'{v[:40]}'"
    if isinstance(v, Fraction):
        return f"the number {v}"
    return f"'{v}'"


def _unknown(k, allowed, what="key") -> str:
    close = difflib.get_close_matches(str(k), sorted(allowed), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"unknown {what} '{k}'{hint}; expected one of: {', '.join(sorted(allowed))}"
