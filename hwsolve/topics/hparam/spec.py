"""Reading a hyper-parameter search problem, from a spec (`kind: hparam`) or from command-line flags.

Parsing only: `hwsolve.topics.hparam.solve` computes. `load(path)` reads a file, `parse(doc)` a
loaded `Doc` (the `hwsolve.topics` parser signature), `from_flags(...)` the command line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from hwsolve.core.errors import SpecError
from hwsolve.core.numfmt import fmt_number
from hwsolve.spec.loader import check_header

UNIT_ALIASES = {"s": "seconds", "sec": "seconds", "second": "seconds", "seconds": "seconds",
                "min": "minutes", "minute": "minutes", "minutes": "minutes",
                "h": "hours", "hour": "hours", "hours": "hours"}


@dataclass
class Hyper:
    name: str
    count: int
    values: tuple | None = None  # the values, when the spec lists them


@dataclass
class HparamProblem:
    title: str = "Hyper-parameter search"
    grid: list[Hyper] = field(default_factory=list)
    epochs: int | None = None              # epochs per configuration
    epoch_time: Fraction | None = None     # time of one epoch, in `unit`
    unit: str = "minutes"
    workers: int = 1
    p: Fraction | None = None              # fraction of the space that is good
    q: list[Fraction] = field(default_factory=list)
    table: list[int] | None = None         # N values for the success table; None = automatic
    notes: list[str] = field(default_factory=list)


# validation shared by the spec loader and the command-line flags


MIN_P = Fraction(1, 10**12)  # below it ln(1 - p) rounds to 0, and N would be beyond 10^13 trials
MAX_LIST = 1000   # target probabilities, or rows of the success table: a sheet asks for a few


def check_length(n: int, what: str, err) -> None:
    """A list of at most MAX_LIST entries (targets, table rows, flag lists)."""
    if n > MAX_LIST:
        raise err(f"{n} {what}; the limit is {MAX_LIST}")


def check_good_fraction(value, err) -> Fraction:
    """Random search's p: a probability, and at least MIN_P."""
    p = check_probability(value, "p", err)
    if p < MIN_P:
        msg = f"p = {float(p):.3g} is below {float(MIN_P):g}, the smallest p random search takes"
        raise err(msg) if err else SpecError(msg)
    return p


def check_probability(value, what: str, err=None) -> Fraction:
    """p or q must lie strictly between 0 and 1."""
    v = Fraction(value) if not isinstance(value, float) else Fraction(value)
    if not 0 < v < 1:
        msg = f"{what} must be strictly between 0 and 1, got {fmt_number(value)}"
        raise err(msg) if err else SpecError(msg)
    return v


def unit_name(text: str, err=None) -> str:
    u = UNIT_ALIASES.get(str(text).strip().lower())
    if u is None:
        msg = f"unknown time unit '{text}'; expected one of: seconds, minutes, hours"
        raise err(msg) if err else SpecError(msg)
    return u


def load(path) -> HparamProblem:
    from hwsolve.spec.loader import load_yaml

    return parse(load_yaml(path))


def parse(doc) -> HparamProblem:
    """A problem from a loaded `Doc` (the `hwsolve.topics` parser signature)."""
    root = doc.root
    root.mapping(allowed={"hwsolve", "kind", "title", "source", "notes", "grid", "random",
                          "workers"})
    check_header(root, "hparam")
    prob = HparamProblem(title=root["title"].text() if root.has("title") else HparamProblem.title)
    if root.has("notes"):
        prob.notes = [f.text() for f in root["notes"].items()]
    if not root.has("grid") and not root.has("random"):
        raise root.error("expected a 'grid' section, a 'random' section, or both")
    if root.has("grid"):
        _grid(root["grid"], prob)
    if root.has("random"):
        _random(root["random"], prob)
    if root.has("workers"):
        prob.workers = root["workers"].integer(minimum=1)
    return prob


def _grid(g, prob: HparamProblem) -> None:
    """The `grid:` section: hyper-parameters, epochs per configuration, time of an epoch."""
    g.mapping(allowed={"hyperparameters", "epochs", "epoch_time", "unit"})
    if not g.has("hyperparameters"):
        raise g.error("missing required key 'hyperparameters'")
    hp = g["hyperparameters"]
    if hp.value is None:
        raise hp.error("the grid is empty: list at least one hyper-parameter")
    entries = hp.mapping()
    if not entries:
        raise hp.error("the grid is empty: list at least one hyper-parameter")
    for name in entries:
        prob.grid.append(_hyper(hp[name], str(name)))
    if g.has("epochs"):
        prob.epochs = g["epochs"].integer(minimum=1)
    if g.has("epoch_time"):
        t = g["epoch_time"].number()
        if not t > 0:
            raise g["epoch_time"].error(f"expected a time > 0, got {fmt_number(t)}")
        prob.epoch_time = Fraction(t)
        if prob.epochs is None:
            raise g.error("'epoch_time' needs 'epochs' (epochs per configuration)")
    if g.has("unit"):
        prob.unit = unit_name(g["unit"].text(), g["unit"].error)


def _random(r, prob: HparamProblem) -> None:
    """The `random:` section: the good fraction p, the targets q, the rows of the table."""
    r.mapping(allowed={"p", "q", "table"})
    if not r.has("p"):
        raise r.error("missing required key 'p' (the fraction of the space that is good)")
    prob.p = check_good_fraction(r["p"].number(), r["p"].error)
    if not r.has("q"):
        raise r.error("missing required key 'q' (the success probability wanted)")
    qf = r["q"]
    qs = qf.items() if isinstance(qf.value, list) else [qf]
    if not qs:
        raise qf.error("expected at least one target probability")
    check_length(len(qs), "target probabilities", qf.error)
    prob.q = [check_probability(f.number(), "q", f.error) for f in qs]
    if r.has("table"):
        rows = r["table"].items()
        check_length(len(rows), "rows", r["table"].error)
        prob.table = [f.integer(minimum=0) for f in rows]
        if not prob.table:
            raise r["table"].error("expected at least one number of trials")


def _hyper(f, name: str) -> Hyper:
    v = f.value
    if isinstance(v, list):
        if not v:
            raise f.error(f"hyper-parameter '{name}' has no values")
        return Hyper(name, len(v), tuple(x.number() for x in f.items()))
    if isinstance(v, dict):
        f.mapping(allowed={"count", "values"})
        if f.has("values"):
            return _hyper(f["values"], name)
        return Hyper(name, _count(f["count"] if f.has("count") else f, name))
    return Hyper(name, _count(f, name))


def _count(f, name: str) -> int:
    n = f.integer()
    if n < 1:
        raise f.error(f"hyper-parameter '{name}' needs a count >= 1, got {n}")
    return n


# ---------------------------------------------------------------------------------------------
# the quick case: command-line flags instead of a spec


def _flag_number(text: str, flag: str) -> Fraction:
    from hwsolve.spec.numbers import parse_number

    try:
        return parse_number(str(text))
    except (ValueError, ZeroDivisionError) as e:
        raise SpecError(str(e) if isinstance(e, ValueError) else f"zero denominator in '{text}'",
                        field=flag) from None


def _flag_list(text: str, flag: str) -> list[str]:
    parts = [t.strip() for t in str(text).split(",")]
    if not parts or any(t == "" for t in parts):
        raise SpecError(f"expected a comma-separated list of numbers, got '{text}'", field=flag)
    check_length(len(parts), "numbers", lambda m: SpecError(m, field=flag))
    return parts


def from_flags(*, counts=None, epochs=None, epoch_time=None, unit="minutes", p=None, q=(),
               table=None, workers=1) -> HparamProblem:
    """A problem from the command line: ``--counts 10,6,5 --epochs 10 --epoch-time 2 --p 0.05 --q 0.95``."""
    prob = HparamProblem(workers=workers)
    if counts is None and p is None:
        raise SpecError("give a SPEC file, or --counts (grid search) and/or --p with --q (random search)")
    if counts is not None:
        prob.grid = _counts_flag(counts)
    elif epochs is not None or epoch_time is not None:
        raise SpecError("--epochs and --epoch-time need --counts (the grid)")
    if epochs is not None:
        if epochs < 1:
            raise SpecError(f"expected a whole number >= 1, got {epochs}", field="--epochs")
        prob.epochs = epochs
    if epoch_time is not None:
        if prob.epochs is None:
            raise SpecError("--epoch-time needs --epochs (epochs per configuration)")
        t = _flag_number(epoch_time, "--epoch-time")
        if not t > 0:
            raise SpecError(f"expected a time > 0, got {epoch_time}", field="--epoch-time")
        prob.epoch_time = t
    prob.unit = unit_name(unit, lambda m: SpecError(m, field="--unit"))
    if p is not None:
        prob.p = check_good_fraction(_flag_number(p, "--p"), lambda m: SpecError(m, field="--p"))
        if not q:
            raise SpecError("--p needs at least one --q (the success probability wanted)")
        check_length(len(q), "target probabilities", lambda m: SpecError(m, field="--q"))
        prob.q = [check_probability(_flag_number(t, "--q"), "q", lambda m: SpecError(m, field="--q"))
                  for t in q]
    elif q:
        raise SpecError("--q needs --p (the fraction of the space that is good)")
    if table is not None:
        prob.table = table_flag(table)
    return prob


def _counts_flag(text: str) -> list[Hyper]:
    """--counts 10,6,5: one hyper-parameter per count, named h1, h2, ..."""
    grid = []
    for i, t in enumerate(_flag_list(text, "--counts")):
        n = _flag_number(t, "--counts")
        if n.denominator != 1:
            raise SpecError(f"a count must be a whole number, got '{t}'", field="--counts")
        if n < 1:
            raise SpecError(f"each hyper-parameter needs a count >= 1, got {t}", field="--counts")
        grid.append(Hyper(f"h{i + 1}", int(n)))
    return grid


def table_flag(text: str) -> list[int]:
    out = []
    for t in _flag_list(text, "--table"):
        n = _flag_number(t, "--table")
        if n.denominator != 1 or n < 0:
            raise SpecError(f"expected whole numbers >= 0, got '{t}'", field="--table")
        out.append(int(n))
    return out
