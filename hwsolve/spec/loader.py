"""Load YAML safely, remembering the line of every value, with bounded size and depth.

Specs and answer files may come from strangers, so: the safe loader only (no Python tags), a byte
limit, a node budget that stops alias bombs (``&a [*a, *a, ...]`` nested), a nesting limit, and
numbers parsed by `numbers.parse_number`, never by eval.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from hwsolve.spec import yaml_startup  # before yaml: it skips a start-up cost of PyYAML's (see there)

import yaml

from hwsolve.core.errors import SpecError
from hwsolve.spec import number_lists
from hwsolve.spec.numbers import MAX_EXPONENT, parse_number

yaml_startup.forget()

MAX_BYTES = 8_000_000   # a 512-512-512 network written out is about 5.5 MB
MAX_NODES = 1_200_000   # values after alias expansion
MAX_DEPTH = 64
MAX_INT_CHARS = MAX_EXPONENT + 1  # a sign and 300 digits: below 1e300, like every other number

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
    if "\x00" in str(path):   # os.stat raises ValueError on it (a spec's `file:` can name one)
        raise SpecError("a file name cannot contain a NUL character", file=str(path).replace("\x00", "\\0"))
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
    if "\x00" in text:
        raise SpecError(f"contains a NUL character (line {text.count(chr(10), 0, text.index(chr(0))) + 1})",
                        file=file)
    short = number_lists.shorten(text)
    if short is not None:
        try:
            return _load(short.text, file, max_nodes, short.lists)
        except (SpecError, _NotWhole):
            pass  # the original text is read the ordinary way, and says what is wrong, if anything
    return _load(text, file, max_nodes)


class _NotWhole(Exception):
    """A placeholder of `number_lists.shorten` did not come back as a whole value."""


def _load(text: str, file: str, max_nodes: int, lists: dict[str, list] | None = None) -> Doc:
    doc = Doc(file, None)
    try:
        doc.data = _Builder(doc, max_nodes, lists).build(_COMPOSER(text))
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else None
        what = e.problem or e.context or "malformed YAML"
        raise SpecError(f"invalid YAML: {what}", file=file, line=line) from None
    except yaml.YAMLError as e:
        raise SpecError(f"invalid YAML: {e}", file=file) from None
    if doc.data is _MISSING:
        raise SpecError("the file is empty", file=file)
    return doc


# libyaml's parser when PyYAML has it (about 10x faster on large specs); same events, same safe
# tag resolution, so line numbers and bounds work the same
_COMPOSER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_COLLECTION_TAGS = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")


class _Open:
    """A mapping or list being built: its value, its path, its first line, and a pending key for mappings."""

    __slots__ = ("value", "path", "key", "size", "anchor", "line")

    def __init__(self, value, path: tuple, anchor, line: int = 0):
        self.value, self.path, self.key, self.size, self.anchor = value, path, _MISSING, 1, anchor
        self.line = line


# Plain (unquoted, untagged) number texts that YAML's own resolver reads as a float or a decimal
# int, and that `scalar` would turn into the same values: the fast path for big weight lists.
_PLAIN_FLOAT = number_lists.PLAIN_FLOAT
_PLAIN_INT = number_lists.PLAIN_INT


class _Builder:
    """Builds plain data straight from the parser's events, without yaml.compose.

    yaml.compose recurses once per nesting level (in C with libyaml: a spec nested 100,000 deep
    overflowed the C stack), and it expands aliases only after the whole tree is read. Here the
    stack is explicit, the depth is checked at each opening bracket, and an alias counts the values
    it stands for the moment it is met, so an alias bomb stops at the budget, before any copying.
    """

    def __init__(self, doc: Doc, max_nodes: int = MAX_NODES, lists: dict[str, list] | None = None):
        self.doc = doc
        self.lists = dict(lists or {})  # placeholder -> its numbers, until it is met (number_lists)
        self.max_nodes = max_nodes
        self.count = 0
        self.anchors: dict[str, tuple[Any, int]] = {}  # anchor -> (value, number of values in it)
        self.constructor = yaml.SafeLoader("")  # only for its scalar constructors

    def error(self, message: str, event, path: tuple = ()) -> SpecError:
        return SpecError(message, file=self.doc.file, line=event.start_mark.line + 1,
                         field=_path_text(path) or None)

    def build(self, parser):
        stack: list[_Open] = []
        result = _MISSING
        try:
            while parser.check_event():
                event = parser.get_event()
                if isinstance(event, (yaml.StreamStartEvent, yaml.DocumentStartEvent, yaml.DocumentEndEvent)):
                    continue
                if isinstance(event, yaml.StreamEndEvent):
                    break
                if result is not _MISSING and not stack:
                    raise self.error("more than one YAML document in the file", event)
                if stack and type(event) is yaml.ScalarEvent and type(stack[-1].value) is list:
                    event = self.list_numbers(parser, event, stack[-1])
                done = self.step(event, stack)
                if done is not _MISSING:
                    result = done
        finally:
            parser.dispose()
        if self.lists:
            raise _NotWhole  # a list was cut from inside a string or a comment
        return result

    def step(self, event, stack: list[_Open]):
        """Handle one event; returns the whole document's value when its last bracket closes."""
        cls = type(event)
        if cls is yaml.ScalarEvent:  # the common case first: big specs are mostly numbers
            return self.on_scalar(event, stack)
        if cls is yaml.SequenceEndEvent or cls is yaml.MappingEndEvent:
            done = stack.pop()
            if done.anchor is not None:
                self.anchors[done.anchor] = (done.value, done.size)
            return self.place(stack, done.value, done.size)
        path = self.child_path(stack)
        if stack and stack[-1].key is _MISSING and isinstance(stack[-1].value, dict):
            raise self.error("a mapping key must be a plain name", event, stack[-1].path)
        if cls is yaml.AliasEvent:
            if event.anchor not in self.anchors:
                raise self.error(f"alias *{event.anchor} refers to no finished anchor &{event.anchor}",
                                 event, path)
            value, size = self.anchors[event.anchor]
            self.charge(size, event)
            return self.place(stack, value, size)  # shared, as yaml.safe_load shares it
        self.charge(1, event)
        if len(stack) >= MAX_DEPTH:
            raise self.error(f"nested deeper than {MAX_DEPTH} levels (the nesting limit)", event)
        self.doc.lines.setdefault(path, event.start_mark.line + 1)
        kind = yaml.MappingNode if cls is yaml.MappingStartEvent else yaml.SequenceNode
        tag = event.tag if event.tag not in (None, "!") else self.constructor.resolve(kind, None, event.implicit)
        if tag not in _COLLECTION_TAGS:
            raise self.error(f"unsupported YAML tag {tag!r}", event, path)
        # the line Field.line finds for the list's path: its numbers on that line need no entry of their own
        stack.append(_Open({} if kind is yaml.MappingNode else [], path, event.anchor, self.doc.lines[path]))
        return _MISSING

    def list_numbers(self, parser, event, top: _Open):
        """Plain numbers inside a list, read without the general scalar path, from `event` on;
        returns the first event that is not one (for `step`).

        A 512x512 weight matrix is a quarter of a million of these: no YAML node, no resolver, and
        no line entry when a number sits on its list's first line (`Field.line` finds that line
        from the list's own), yet the same values, the same node budget and the same error lines.
        """
        items, lines = top.value, self.doc.lines
        while type(event) is yaml.ScalarEvent and event.tag is None and not event.style and event.anchor is None:
            text = event.value  # a plain scalar: style None (or "" from libyaml), no tag, no anchor
            value: int | Fraction
            if _PLAIN_FLOAT(text):
                value = parse_number(text)
            elif _PLAIN_INT(text):
                value = int(text)
            else:
                break
            self.count += 1
            if self.count > self.max_nodes:
                self.charge(0, event)
            line = event.start_mark.line + 1 if event.start_mark is not None else top.line
            if line != top.line:
                lines.setdefault(top.path + (len(items),), line)
            items.append(value)
            top.size += 1
            event = parser.get_event()
        return event

    def on_scalar(self, event, stack: list[_Open]):
        if self.lists and event.value in self.lists:
            return self.on_number_list(event, stack)
        self.count += 1
        if self.count > self.max_nodes:
            self.charge(0, event)
        if stack:
            top = stack[-1]
            if top.key is _MISSING and type(top.value) is dict:
                return self.take_key(top, event)
        path = self.child_path(stack)
        self.doc.lines.setdefault(path, event.start_mark.line + 1)
        value = self.scalar(event, path)
        if event.anchor is not None:
            self.anchors[event.anchor] = (value, 1)
        return self.place(stack, value, 1)

    def on_number_list(self, event, stack: list[_Open]):
        """A list `number_lists.shorten` cut out, back in its place, counted and placed as `step`
        and `list_numbers` would have; _NotWhole where it is not a whole value (the ordinary path
        then reads the original text, and says what is wrong with it)."""
        numbers = self.lists.pop(event.value)
        in_key = bool(stack) and stack[-1].key is _MISSING and type(stack[-1].value) is dict
        if event.style != '"' or event.tag is not None or in_key or len(stack) >= MAX_DEPTH:
            raise _NotWhole
        size = len(numbers) + 1  # the list and its numbers, as the event path counts them
        self.charge(size, event)
        path = self.child_path(stack)
        self.doc.lines.setdefault(path, event.start_mark.line + 1)
        if event.anchor is not None:
            self.anchors[event.anchor] = (numbers, size)
        return self.place(stack, numbers, size)

    def charge(self, size: int, event) -> None:
        self.count += size
        if self.count > self.max_nodes:
            raise self.error(f"too many values (over {self.max_nodes} after alias expansion; "
                             "an alias bomb?)", event)

    @staticmethod
    def child_path(stack: list[_Open]) -> tuple:
        if not stack:
            return ()
        top = stack[-1]
        if isinstance(top.value, list):
            return top.path + (len(top.value),)
        return top.path if top.key is _MISSING else top.path + (top.key,)

    def take_key(self, top: _Open, event):
        if not isinstance(event, yaml.ScalarEvent):
            raise self.error("a mapping key must be a plain name", event, top.path)
        key = str(self.scalar(event, top.path))
        if key in top.value:
            raise self.error(f"key '{key}' appears twice", event, top.path + (key,))
        # a key's own line, so `c:` is blamed, not the first line of what follows it
        if event.start_mark is not None:
            self.doc.lines[top.path + (key,)] = event.start_mark.line + 1
        top.key = key
        return _MISSING

    @staticmethod
    def place(stack: list[_Open], value, size: int):
        if not stack:
            return value
        top = stack[-1]
        top.size += size
        if type(top.value) is list:
            top.value.append(value)
        else:
            top.value[top.key] = value
            top.key = _MISSING
        return _MISSING

    def scalar(self, event, path: tuple):
        tag = event.tag
        if tag is None or tag == "!":
            tag = self.constructor.resolve(yaml.ScalarNode, event.value, event.implicit)
        if tag == "tag:yaml.org,2002:str":
            return event.value
        node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
        return self.scalar_value(node, path)

    def scalar_value(self, node, path):
        tag = node.tag
        if tag == "tag:yaml.org,2002:float":
            # Keep what the user wrote exactly: 0.1 is 1/10, not 0.1000000000000000055...
            try:
                return parse_number(node.value)
            except (ValueError, ZeroDivisionError) as e:
                # .inf and .nan are not numbers any problem here can use, and Fraction cannot hold them
                msg = str(e) if any(c.isdigit() for c in node.value) else f"'{node.value}' is not a finite number"
                raise SpecError(msg, file=self.doc.file,
                                line=node.start_mark.line + 1, field=_path_text(path) or None) from None
        if tag in ("tag:yaml.org,2002:str", "tag:yaml.org,2002:int", "tag:yaml.org,2002:bool",
                   "tag:yaml.org,2002:null"):
            if tag == "tag:yaml.org,2002:int" and len(node.value) > MAX_INT_CHARS:
                raise SpecError(f"integer with more than {MAX_EXPONENT} digits (the bound is 1e{MAX_EXPONENT})",
                                file=self.doc.file, line=node.start_mark.line + 1, field=_path_text(path))
            try:
                return self.constructor.construct_object(node)
            except (ValueError, yaml.YAMLError):  # an explicit !!int or !!bool on other text
                raise SpecError(f"'{node.value[:40]}' is not a valid {tag.rpartition(':')[2]}",
                                file=self.doc.file, line=node.start_mark.line + 1,
                                field=_path_text(path) or None) from None
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
        for i, p in enumerate(self.path):
            try:
                v = v[p]
            except (KeyError, IndexError, TypeError):
                # a caller read a key it did not check for: say which, rather than a KeyError
                raise Field(self.doc, self.path[:i]).error(f"missing required key '{p}'") from None
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
    import difflib  # only for a misspelt key: not on every run's start-up path

    close = difflib.get_close_matches(str(k), sorted(allowed), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"unknown {what} '{k}'{hint}; expected one of: {', '.join(sorted(allowed))}"
