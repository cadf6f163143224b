"""A template spec: any spec with a `variants:` section naming the numbers drawn per student.

    variants:
      draw:                              # path in the spec -> how its numbers are drawn
        input: {int: [1, 3]}             # every number at the path: an integer in [1, 3]
        layers[0].linear.W: {int: [-2, 4], exclude: [0]}
        target: {rational: [5, 15], denominator: 2}   # multiples of 1/2 in [5, 15]
        loss: {choice: [squared_error, half_squared_error]}   # one item of the list, whole
      require: {...}                     # constraints, see constraints.py
      tries: 500                         # rejection sampling gives up after this many draws

A draw depends only on the template's bytes, the student id and the course secret: the seed of
`random.Random` is HMAC-SHA256(secret, template bytes + NUL + id), so the same inputs give the
same variant byte for byte, and a student who lacks the secret cannot compute another's.
Each draw is written out as YAML and read back by the ordinary loader, so a variant is solved
exactly as its key file will be.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from hwsolve.core.errors import SpecError
from hwsolve.spec.loader import Doc, Field, load_yaml_text
from hwsolve.variants.constraints import Require, parse_require, violations

VARIANT_KEYS = {"draw", "require", "tries"}
MAX_TRIES = 10_000
MAX_CHOICES = 1_000
MAX_SPAN = 10**6          # values one int/rational draw may choose among
_PATH_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


@dataclass(frozen=True)
class Draw:
    """How the numbers at one path are drawn."""

    path: tuple
    text: str                 # the path as written, for messages
    kind: str                 # "int" | "rational" | "choice"
    low: Fraction = Fraction(0)
    high: Fraction = Fraction(0)
    denominator: int = 1
    exclude: frozenset = frozenset()
    choices: tuple = ()

    def sample(self, rng: random.Random) -> Fraction:
        lo, hi = self.low * self.denominator, self.high * self.denominator
        first, last = -((-lo.numerator) // lo.denominator), hi.numerator // hi.denominator  # ceil, floor
        for _ in range(1000):
            v = Fraction(rng.randint(first, last), self.denominator)
            if v not in self.exclude:
                return v
        raise SpecError(f"every value of the draw for '{self.text}' is excluded")


@dataclass
class Template:
    file: str
    raw: bytes
    doc: Doc                                 # the template as loaded (its own numbers)
    draws: list[Draw]
    require: Require
    tries: int = 500
    data: dict = field(default_factory=dict)  # the spec without `variants:`


@dataclass
class Variant:
    student: str
    text: str                 # the key spec, YAML
    doc: Doc
    kind: str
    problem: Any
    solution: Any
    graded: list[tuple[str, float]]
    tries: int                # draws it took
    id: str = ""              # a short hash of the key spec's text: equal ids, equal variants


def is_template(doc: Doc) -> bool:
    return isinstance(doc.data, dict) and "variants" in doc.data


def load_template(path: str) -> Template:
    from hwsolve.spec.loader import load_yaml

    doc = load_yaml(path)
    if not is_template(doc):
        raise doc.root.error("not a template: it has no `variants:` section (docs/variants.md)")
    raw = Path(doc.file).read_bytes()
    return parse_template(doc, raw)


def parse_template(doc: Doc, raw: bytes) -> Template:
    vf = doc.root["variants"]
    vf.mapping(VARIANT_KEYS)
    data = {k: v for k, v in doc.data.items() if k != "variants"}
    draws = [_parse_draw(vf["draw"][name], name, data) for name in vf["draw"].mapping()]
    if not draws:
        raise vf["draw"].error("expected at least one path to draw")
    tries = vf["tries"].integer(1) if vf.has("tries") else 500
    if tries > MAX_TRIES:
        raise vf["tries"].error(f"at most {MAX_TRIES} tries")
    require = parse_require(vf["require"]) if vf.has("require") else Require()
    return Template(doc.file, raw, doc, draws, require, tries, data)


def parse_path(text: str) -> tuple:
    out: list = []
    pos = 0
    for m in _PATH_TOKEN.finditer(text):
        if m.start() != pos and text[pos:m.start()] != ".":
            raise ValueError(f"cannot read the path '{text}'")
        out.append(int(m.group(2)) if m.group(2) is not None else m.group(1).strip())
        pos = m.end()
    if pos != len(text) or not out:
        raise ValueError(f"cannot read the path '{text}' (write it as layers[0].linear.W)")
    return tuple(out)


def _get(data, path: tuple):
    v = data
    for p in path:
        found = (isinstance(p, int) and isinstance(v, list) and p < len(v)) or \
            (isinstance(p, str) and isinstance(v, dict) and p in v)
        if not found:
            raise KeyError(p)
        v = v[p]
    return v


def _parse_draw(f: Field, name: str, data: dict) -> Draw:
    try:
        path = parse_path(name)
        _get(data, path)
    except ValueError as e:
        raise f.error(str(e)) from None
    except KeyError as e:
        raise f.error(f"the spec has no '{name}' (no {e.args[0]!r} there)") from None
    if path[0] == "rubric":
        raise f.error("the rubric is not drawn")
    spec = f.mapping({"int", "rational", "denominator", "exclude", "choice"})
    kinds = [k for k in ("int", "rational", "choice") if k in spec]
    if len(kinds) != 1:
        raise f.error("expected exactly one of int: [low, high], rational: [low, high], choice: [...]")
    kind = kinds[0]
    if kind == "choice":
        items = f["choice"].items()
        if not items or len(items) > MAX_CHOICES:
            raise f["choice"].error(f"expected a list of 1 to {MAX_CHOICES} values")
        return Draw(path, name, "choice", choices=tuple(i.value for i in items))
    bounds = f[kind].items()
    if len(bounds) != 2:
        raise f[kind].error("expected [low, high]")
    low, high = (b.number() for b in bounds)
    if not isinstance(low, Fraction) or not isinstance(high, Fraction) or low > high:
        raise f[kind].error("expected exact numbers with low <= high")
    den = 1
    if kind == "rational":
        den = f["denominator"].integer(1) if "denominator" in spec else 1
    elif "denominator" in spec:
        raise f["denominator"].error("a denominator goes with rational:, not int:")
    if (high - low) * den > MAX_SPAN:
        raise f[kind].error(f"more than {MAX_SPAN} values to draw from")
    exclude = frozenset(x.number() for x in f["exclude"].items()) if "exclude" in spec else frozenset()
    draw = Draw(path, name, kind, low, high, den, exclude)
    if kind == "int" and (low.denominator != 1 or high.denominator != 1):
        raise f[kind].error("int: bounds are whole numbers")
    _check_numbers(f, _get(data, path), name)
    return draw


def _check_numbers(f: Field, value, name: str) -> None:
    if isinstance(value, list):
        for v in value:
            _check_numbers(f, v, name)
    elif isinstance(value, bool) or not isinstance(value, (int, Fraction, float, str)):
        raise f.error(f"'{name}' holds {type(value).__name__}, not numbers: use choice: for it")


# -- drawing ---------------------------------------------------------------------------------------


def seed_of(raw: bytes, student: str, secret: bytes) -> int:
    digest = hmac.new(secret, raw + b"\0" + student.encode("utf-8"), hashlib.sha256).digest()
    return int.from_bytes(digest, "big")


def _fill(value, draw: Draw, rng: random.Random):
    if isinstance(value, list):
        return [_fill(v, draw, rng) for v in value]
    return _plain(draw.sample(rng))


def _plain(v):
    if isinstance(v, Fraction):
        return int(v) if v.denominator == 1 else f"{v.numerator}/{v.denominator}"
    if isinstance(v, list):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    return v


def _set(data, path: tuple, value) -> None:
    parent = _get(data, path[:-1]) if len(path) > 1 else data
    parent[path[-1]] = value


def draw_data(t: Template, rng: random.Random) -> dict:
    import copy

    data = copy.deepcopy(t.data)
    for d in t.draws:
        if d.kind == "choice":
            new = copy.deepcopy(d.choices[rng.randrange(len(d.choices))])
        else:
            new = _fill(_get(data, d.path), d, rng)
        _set(data, d.path, new)
    return _plain(data)


def spec_text(data: dict, header: str = "") -> str:
    import yaml

    body = yaml.safe_dump(_plain(data), sort_keys=False, default_flow_style=None, allow_unicode=True, width=100)
    return header + body


def solve_text(text: str, file: str):
    """Load, parse and solve spec text: (doc, kind, problem, solution, graded steps)."""
    from hwsolve import topics
    from hwsolve.variants.question import graded_steps

    doc = load_yaml_text(text, file)
    kind = topics.kind_of(doc)
    rubric_field = doc.root["rubric"] if doc.root.has("rubric") else None
    data = dict(doc.data)
    data.pop("rubric", None)
    problem = topics.parse(Doc(doc.file, data, doc.lines), kind)
    solution = topics.solve(problem, kind)
    return doc, kind, problem, solution, graded_steps(solution, kind, rubric_field)


# what solving a bad draw may raise (a division by zero in a graph, log of a negative number)
_DRAW_FAILURES = (SpecError, ArithmeticError, ValueError, OverflowError)


def make_variant(t: Template, student: str, secret: bytes) -> Variant:
    """The student's variant: the first draw of their seeded stream that meets the constraints."""
    rng = random.Random(seed_of(t.raw, student, secret))
    failed: Counter = Counter()
    name = Path(t.file).name
    for attempt in range(1, t.tries + 1):
        text = spec_text(draw_data(t, rng))
        try:
            doc, kind, problem, solution, graded = solve_text(text, f"{name} (variant of {student})")
        except _DRAW_FAILURES as e:
            failed[f"does not solve: {getattr(e, 'message', None) or e}"[:120]] += 1
            continue
        bad = violations(t.require, kind, problem, solution, graded)
        if bad:
            failed[bad[0]] += 1
            continue
        vid = hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
        return Variant(student, text, doc, kind, problem, solution, graded, attempt, vid)
    common = "; ".join(f"{why} ({n} times)" for why, n in failed.most_common(3))
    raise SpecError(f"no draw met the constraints in {t.tries} tries for student '{student}'; "
                    f"most common failures: {common}. Widen the ranges, relax `require:` or raise "
                    "`tries:`", file=t.file, field="variants")
