"""Student answer files: YAML or JSON, keys are step names, values are numbers or matrices.

An answer file comes from a stranger, so reading it is bounded and never evaluates anything:
the safe YAML loader (no Python tags, alias bombs and deep nesting stopped), JSON with exact
number parsing and the same limits, number text through `spec.numbers.parse_number`. Whatever
goes wrong becomes `Submission.error`, a one-line reason; nothing here raises for a bad file.

Value forms (a value's math shape follows the solver's convention):
  8, -0.25, "1/3"            a scalar
  [2, 8, 9]                  a column vector (n,)
  [[-152, -88]]              a 1 x 2 matrix (a row)
  [[1, 0], [3, 4]]           a matrix, one list per row; [[2], [8]] is the column [2, 8]
  null (or ~)                left blank: graded as missing
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from hwsolve.core.errors import HwsolveError
from hwsolve.core.wholes import whole
from hwsolve.spec.expr import ExprError, fold, parse
from hwsolve.spec.numbers import parse_number

MAX_FILE_BYTES = 1_000_000     # an answer file is a few hundred numbers; 1 MB is generous
MAX_ANSWERS = 2_000            # keys in one file
MAX_ENTRIES = 10_000           # numbers in one answer
MAX_JSON_DEPTH = 32
ANSWER_SUFFIXES = (".yaml", ".yml", ".json")
META_KEYS = ("student", "answers")


class AnswerError(HwsolveError):
    """An answer file that cannot be graded (the submission gets 0 with this reason)."""


@dataclass(frozen=True)
class Value:
    """One parsed answer: a 2-D grid of exact rationals (or floats for inf/nan-free decimals).

    `rows` is always 2-D, as the engine stores values: a scalar is ((v,),), a column is one
    entry per row. `shape` is the math shape: () scalar, (n,) column, (m, n) matrix.
    """

    rows: tuple[tuple[Any, ...], ...]
    # (rows, columns): read a few times for every Value a batch makes, so set once here (a
    # cached_property's first read costs several times this)
    dims: tuple[int, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "dims", (len(self.rows), len(self.rows[0])))

    @property
    def shape(self) -> tuple[int, ...]:
        m, n = self.dims
        if (m, n) == (1, 1):
            return ()
        if n == 1:
            return (m,)
        return (m, n)

    def entries(self) -> list:
        return [x for row in self.rows for x in row]

    def plain(self):
        """Nested tuples in the math shape (like `Step.value`)."""
        s = self.shape
        if s == ():
            return self.rows[0][0]
        if len(s) == 1:
            return tuple(r[0] for r in self.rows)
        return self.rows

    @staticmethod
    def of(plain) -> Value:
        """From a `Step.value` (nested tuples in math shape). A value of three or more dimensions
        (C x H x W feature maps, F x C x kh x kw kernels) is graded as its matrices stacked: the
        rows of the first channel, then the second's, ... ((C H) x W), as answers write it."""
        if not isinstance(plain, (tuple, list)):
            return Value(((plain,),))
        if plain and isinstance(plain[0], (tuple, list)):
            if plain[0] and isinstance(plain[0][0], (tuple, list)):
                return Value(tuple(r for part in plain for r in Value.of(part).rows))
            return Value(tuple(tuple(r) for r in plain))
        return Value(tuple((x,) for x in plain))


@dataclass
class Answer:
    """What a student wrote for one step: a Value, or the reason it could not be read."""

    value: Value | None = None
    problem: str = ""          # non-empty when the text is not a number/matrix
    formula: str = ""          # text that may be a formula answer ("dL/da[2] z[1]^T")
    size_text: bool = False    # written as "34x34": a size, one number per dimension

    @property
    def blank(self) -> bool:
        return self.value is None and not self.problem


@dataclass
class Submission:
    path: str
    student: str
    answers: dict[str, Answer] = field(default_factory=dict)
    error: str = ""            # the whole file could not be read: graded 0 with this reason
    warnings: list[str] = field(default_factory=list)


# -- reading one value -----------------------------------------------------------------------


def _scalar(v) -> Fraction | float:
    if isinstance(v, bool) or v is None:
        raise ValueError(f"expected a number, got {str(v).lower()}")
    if isinstance(v, int):
        return Fraction(v)
    if isinstance(v, Fraction):
        return v
    if isinstance(v, float):
        if v != v or v in (float("inf"), float("-inf")):
            raise ValueError("expected a finite number")
        return v
    if isinstance(v, str):
        try:
            return parse_number(v)
        except ZeroDivisionError:
            raise ValueError(f"'{v[:40]}' divides by zero") from None
    raise ValueError(f"expected a number, got {type(v).__name__}")


def _scalars(items: list) -> list:
    """`_scalar` of each entry, in order; the numbers JSON and YAML give (int, Fraction) without
    its checks (a batch reads a hundred thousand of them)."""
    out: list[Fraction | float] = []
    for x in items:
        cls = x.__class__
        if cls is int:
            out.append(whole(x))
        else:
            out.append(x if cls is Fraction else _scalar(x))
    return out


# sizes are written with x (docs/grading.md): "4*2" is arithmetic, 8, not a 4 x 2 size
_SIZE_TEXT = re.compile(r"^\s*\d{1,9}(\s*[x×X]\s*\d{1,9}){1,3}\s*$")


def _text_answer(raw: str, problem: str) -> Answer:
    """Text that is not a number: a size such as "34x34" or "20 x 20 x 2"; arithmetic on numbers
    ("2*(8-10)", "100*60"), which is the number it makes; else maybe a formula."""
    if _SIZE_TEXT.match(raw):
        dims = re.split(r"\s*[x×X]\s*", raw.strip())
        return Answer(Value(tuple((Fraction(int(d)),) for d in dims)), size_text=True)
    if any(c.isalpha() or c in "+-*/^()" for c in raw) and len(raw) <= 500:
        value = _arithmetic(raw)
        if value is not None:
            return Answer(Value(((value,),)))
        return Answer(problem=problem, formula=raw.strip())
    return Answer(problem=problem)


def _arithmetic(raw: str) -> Fraction | None:
    """The exact value of text that names nothing ("(8)", "2*(8-10)"), by the expression
    language's own parser and folding (never eval); None for anything else (a formula)."""
    try:
        return fold(parse(raw))
    except ExprError:
        return None


def _parse_text(raw: str) -> Answer:
    try:
        return Answer(Value(((_scalar(raw),),)))
    except ValueError as e:
        return _text_answer(raw, str(e))


def parse_value(raw) -> Answer:
    """A scalar, a flat list (column), or a list of equal-length rows; anything else is a problem."""
    if raw is None:
        return Answer()
    if isinstance(raw, str):
        return _parse_text(raw)
    try:
        if isinstance(raw, list):
            if not raw:
                raise ValueError("an empty list")
            if all(isinstance(r, list) for r in raw):
                width = len(raw[0])
                if width == 0:
                    raise ValueError("an empty row")
                if any(len(r) != width for r in raw):
                    raise ValueError("rows of different lengths")
                if len(raw) * width > MAX_ENTRIES:
                    raise ValueError(f"more than {MAX_ENTRIES} numbers")
                for r in raw:
                    if any(isinstance(x, (list, dict)) for x in r):
                        raise ValueError("nested deeper than a matrix (a C x H x W map is written as its "
                                         "matrices stacked: C H rows)")
                rows = tuple(tuple(_scalars(r)) for r in raw)
            elif any(isinstance(r, (list, dict)) for r in raw):
                raise ValueError("mixes numbers and lists")
            else:
                if len(raw) > MAX_ENTRIES:
                    raise ValueError(f"more than {MAX_ENTRIES} numbers")
                rows = tuple((x,) for x in _scalars(raw))
            return Answer(Value(rows))
        if isinstance(raw, dict):
            raise ValueError("a mapping, expected a number or a list")
        return Answer(Value(((_scalar(raw),),)))
    except ValueError as e:
        return Answer(problem=str(e))


# -- reading one file ------------------------------------------------------------------------


def _read_text(path: Path) -> str:
    try:
        if path.is_dir():
            raise AnswerError("is a folder")
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise AnswerError(f"file is {size} bytes; the limit is {MAX_FILE_BYTES}")
        with open(path, "rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)
    except OSError as e:
        raise AnswerError(f"cannot read file: {e.strerror or e}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise AnswerError(f"file is over {MAX_FILE_BYTES} bytes")
    if b"\x00" in raw:
        raise AnswerError("binary file (contains NUL bytes), expected YAML or JSON text")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise AnswerError(f"not UTF-8 text (byte {e.start})") from None


def _json_number(text: str):
    return parse_number(text)


def _json_int(text: str):
    if len(text) > 400:
        raise ValueError("integer with more than 400 digits")
    return int(text)


def _load_json(text: str):
    try:
        data = json.loads(text, parse_float=_json_number, parse_int=_json_int,
                          parse_constant=lambda c: (_ for _ in ()).throw(ValueError(f"{c} is not a number")))
    except RecursionError:
        raise AnswerError("JSON nested too deeply") from None
    except json.JSONDecodeError as e:
        raise AnswerError(f"invalid JSON: {e.msg} (line {e.lineno})") from None
    except (ValueError, ZeroDivisionError) as e:
        raise AnswerError(f"invalid JSON: {e}") from None
    _check_depth(data)
    return data


def _check_depth(data) -> None:
    """At most MAX_JSON_DEPTH levels and 300,000 values (a file too deep is said to be, whatever
    its size). Level by level through the containers (JSON's dicts and lists): the numbers of a
    list are counted, never visited one by one; the file's size bounds the walk."""
    level = [data] if data.__class__ is dict or data.__class__ is list else []
    count, depth = 1, 0
    while level:
        inner = []
        for v in level:
            items = v.values() if v.__class__ is dict else v
            if items and depth >= MAX_JSON_DEPTH:  # its items lie one level deeper
                raise AnswerError(f"nested deeper than {MAX_JSON_DEPTH} levels")
            count += len(items)
            inner += [x for x in items if x.__class__ is dict or x.__class__ is list]
        level, depth = inner, depth + 1
    if count > 300_000:
        raise AnswerError("too many values")


def _load_yaml(text: str, file: str):
    from hwsolve.core.budget import TimeBudgetExceeded
    from hwsolve.spec.loader import load_yaml_text

    try:
        return load_yaml_text(text, file).data
    except TimeBudgetExceeded:
        raise
    except HwsolveError as e:
        # the loader's message names file and line; keep only the reason and line
        where = f" (line {e.line})" if e.line else ""
        raise AnswerError(f"{e.message}{where}") from None
    except RecursionError:
        raise AnswerError("YAML nested too deeply") from None


def load_submission(path: str | Path) -> Submission:
    """Read one answer file. Never raises for a bad file: `error` says why it scores 0."""
    p = Path(path)
    sub = Submission(str(path), p.stem)
    try:
        text = _read_text(p)
        data = _load_json(text) if p.suffix.lower() == ".json" else _load_yaml(text, str(path))
        _fill(sub, data)
    except AnswerError as e:
        sub.error = e.message
    except (RecursionError, MemoryError):
        sub.error = "input too large or nested too deeply"
    return sub


def _fill(sub: Submission, data) -> None:
    if not isinstance(data, dict):
        raise AnswerError("expected a mapping of step names to values (like `yhat: 8`)")
    answers = data
    if "answers" in data:
        answers = data["answers"]
        if not isinstance(answers, dict):
            raise AnswerError("'answers' must be a mapping of step names to values")
        extra = sorted(str(k) for k in data if k not in META_KEYS)
        if extra:
            sub.warnings.append(f"ignored top-level keys beside 'answers': {', '.join(extra[:5])}")
    if "student" in data:
        s = data["student"]
        if isinstance(s, (str, int)) and not isinstance(s, bool) and 0 < len(str(s)) <= 100:
            sub.student = str(s)
        else:
            sub.warnings.append("'student' should be a short name or id; using the file name")
    if len(answers) > MAX_ANSWERS:
        raise AnswerError(f"{len(answers)} answers; the limit is {MAX_ANSWERS}")
    for k, v in answers.items():
        if k in META_KEYS:
            continue
        name = str(k)
        if len(name) > 200:
            sub.warnings.append("ignored a key longer than 200 characters")
            continue
        sub.answers[name] = parse_value(v)


# -- collecting submissions ------------------------------------------------------------------


def collect(paths) -> list[str]:
    """Files as given, folders searched (recursively, no symlinked folders) for .yaml/.yml/.json
    files; hidden names skipped; sorted and de-duplicated so output order never varies."""
    out: list[str] = []
    for path in paths:
        p = Path(path)
        if _is_dir(p):
            found = []
            for root, dirs, files in os.walk(p, followlinks=False):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for f in files:
                    if not f.startswith(".") and f.lower().endswith(ANSWER_SUFFIXES):
                        found.append(os.path.join(root, f))
            out.extend(sorted(found))
        else:
            out.append(str(p))
    seen, unique = set(), []
    for f in out:
        key = os.path.normpath(f)
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique


def _is_dir(p: Path) -> bool:
    """Path.is_dir, False for a name the system cannot even look up (too long, ...)."""
    try:
        return p.is_dir()
    except (OSError, ValueError):
        return False
