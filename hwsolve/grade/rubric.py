"""The rubric: which steps are graded, their points, the tolerance, partial credit and ECF.

Optional `rubric:` mapping in the key spec (or a separate file with `--rubric`); every key has a
default, so a spec without one grades sensibly:

    rubric:
      steps: [a[1], yhat, dL/dW[1]]   # or a mapping name -> points, or name -> {points, layout,
                                      #   precision, tolerance}: a policy for that step alone
      sections: [forward]             # grade every step of these sections too
      points: 1                       # per step, unless `steps` gives them
      layout: either                  # gradients: gradient | numerator | either (default: the key's)
      precision: auto                 # exact | rounded | auto (exact for integer key values)
      tolerance:
        abs: 0                        # |answer - key| <= abs
        rel: 0                        # |answer - key| <= rel * |key|
        sig_figs: 2                   # rounded: the key rounded at the figures written (>= 2)
        sig_figs_max: null            # a cap on the figures checked (null: every figure written)
      partial: true                   # a matrix earns the fraction of its entries that are right
      ecf: true                       # error carried forward
      ecf_penalty: 0                  # fraction of the points an ECF answer loses
      mistake_credit: {transposed: 0.5}

Default steps: for backprop, the forward pass and the gradients the final table lists (the
parameters' and the input's); for other topics, the steps of the solution's summary if it has
one, else every step with a value outside the `given` sections.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

from hwsolve.core.errors import SpecError

RUBRIC_KEYS = {"steps", "sections", "points", "tolerance", "partial", "ecf", "ecf_penalty",
               "mistake_credit", "layout", "precision"}
TOLERANCE_KEYS = {"abs", "rel", "sig_figs", "sig_figs_max"}
STEP_KEYS = {"points", "layout", "precision", "tolerance"}
LAYOUTS = {"gradient", "numerator", "either"}
PRECISIONS = {"auto", "exact", "rounded"}


@dataclass(frozen=True)
class Tolerance:
    """When one answer number stands for one key number.

    precision  exact    the same rational number (counts, integers, fractions): 100 is not 104
               rounded  the key rounded at the figures the student printed, at least `sig_figs`:
                        0.213 passes for 0.2135 (3 figures), 1.172 fails for 1.1711 (4 figures)
               auto     exact when the key value is an integer, else rounded
    abs, rel   bounds that also pass an answer, in any precision
    """

    abs: float = 0.0
    rel: float = 0.0
    sig_figs: int | None = 2
    sig_figs_max: int | None = None
    precision: str = "auto"

    def match(self, answer, key) -> bool:
        """Does one answer number stand for one key number?"""
        if answer == key:
            return True
        a, k = float(answer), float(key)
        if not (math.isfinite(a) and math.isfinite(k)):
            return False
        diff = abs(a - k)
        slack = 1e-12 * max(1.0, abs(k))       # float noise in the key itself
        if diff <= self.abs + slack or diff <= self.rel * abs(k) + slack:
            return True
        if self.mode(key) == "exact" or self.sig_figs is None or a == 0:
            return False
        figs = max(sig_figs_written(answer), self.sig_figs)
        if self.sig_figs_max is not None:
            figs = min(figs, max(self.sig_figs_max, self.sig_figs))
        # the answer must be the key rounded to `figs` significant figures (either way at a tie)
        unit = 10.0 ** (math.floor(math.log10(abs(a))) - figs + 1)
        return diff <= unit / 2 * (1 + 1e-9) + slack

    def mode(self, key) -> str:
        if self.precision != "auto":
            return self.precision
        return "exact" if _is_integer(key) else "rounded"

    def describe(self, key=None) -> str:
        """In words; with a key value, the rule that applied to it."""
        precision = self.mode(key) if key is not None else self.precision
        parts = {"exact": ["exact"], "rounded": [], "auto": ["exact for integers"]}[precision]
        if precision != "exact" and self.sig_figs:
            cap = f"-{max(self.sig_figs_max, self.sig_figs)}" if self.sig_figs_max else "+"
            parts.append(f"{self.sig_figs}{cap} significant figures as written")
        if self.abs:
            parts.append(f"abs {self.abs:g}")
        if self.rel:
            parts.append(f"rel {self.rel:g}")
        return ", ".join(parts) or "exact"

    def as_dict(self) -> dict:
        return {"precision": self.precision, "abs": self.abs, "rel": self.rel, "sig_figs": self.sig_figs,
                "sig_figs_max": self.sig_figs_max}


def _is_integer(x) -> bool:
    if isinstance(x, float):
        return False               # a float key came from a function: it is rounded by nature
    try:
        return Fraction(x).denominator == 1
    except (TypeError, ValueError):
        return False


@dataclass(frozen=True)
class StepPolicy:
    """How one step is judged: its tolerance and, for gradients, the layout required."""

    tolerance: Tolerance
    layout: str | None = None      # None: the key's own layout


def sig_figs_written(x) -> int:
    """Significant figures in the shortest decimal for x: 0.0078 -> 2, 150 -> 2, 8 -> 1.

    Trailing zeros of an integer are not counted (150 may be 2 figures); a rational with no
    finite decimal (1/3 written as a fraction) counts as exact: many figures.
    """
    q = Fraction(x) if not isinstance(x, float) else Fraction(repr(x))
    if q == 0:
        return 1
    q = abs(q)
    d = q.denominator
    twos = fives = 0
    while d % 2 == 0:
        d //= 2
        twos += 1
    while d % 5 == 0:
        d //= 5
        fives += 1
    if d != 1:
        return 99
    places = max(twos, fives)
    digits = str(q.numerator * 10 ** places // q.denominator).rstrip("0")
    return max(1, len(digits))


@dataclass
class Rubric:
    steps: dict[str, float] | None = None       # None: the default steps
    sections: list[str] = field(default_factory=list)
    points: float = 1.0
    tolerance: Tolerance = Tolerance()
    partial: bool = True
    ecf: bool = True
    ecf_penalty: float = 0.0
    mistake_credit: dict[str, float] = field(default_factory=dict)
    source: str = "defaults"
    layout: str | None = None                   # gradient | numerator | either; None: the key's
    overrides: dict[str, dict] = field(default_factory=dict)   # step -> {layout, tolerance}
    lines: dict[str, int] = field(default_factory=dict, repr=False, compare=False)  # step -> its line

    # the policy of every step without an override, made once (a batch asks for it per answer)
    _default: StepPolicy | None = field(default=None, init=False, repr=False, compare=False)

    def policy(self, name: str) -> StepPolicy:
        o = self.overrides.get(name)
        if o is not None:
            return StepPolicy(o.get("tolerance", self.tolerance), o.get("layout", self.layout))
        found = self._default
        if found is None or found.tolerance is not self.tolerance or found.layout != self.layout:
            found = self._default = StepPolicy(self.tolerance, self.layout)
        return found

    def graded(self, solution, default_names: list[str]) -> list[tuple[str, float]]:
        """(step name, points) in the solution's order, then any listed names it lacks."""
        names: dict[str, float] = {}
        in_solution = [s.name for s in solution.steps]
        if self.steps is None and not self.sections:
            for n in default_names:
                names[n] = self.points
        if self.sections:
            for s in solution.steps:
                if s.section in self.sections and s.value is not None:
                    names.setdefault(s.name, self.points)
        if self.steps is not None:
            names.update(self.steps)
        order = {n: i for i, n in enumerate(in_solution)}
        return sorted(names.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0]))


def parse_rubric(f) -> Rubric:
    """Read a `rubric:` mapping from a loader `Field`; errors name the file, line and key."""
    data = f.mapping(RUBRIC_KEYS)
    r = Rubric(source=f"{f.doc.file}:{f.line}" if f.line else f.doc.file)
    if "points" in data:
        r.points = _positive(f["points"])
    if "steps" in data:
        sf = f["steps"]
        v = sf.value
        if isinstance(v, list):
            r.steps = {}
            for item in sf.items():
                r.steps[_name(item)] = r.points
                if item.line:
                    r.lines[_name(item)] = item.line
        elif isinstance(v, dict):
            r.steps = {}
            for k in v:
                r.steps[str(k)] = _step_entry(r, str(k), sf[k])
                if sf[k].line:
                    r.lines[str(k)] = sf[k].line
        else:
            raise sf.error("expected a list of step names or a mapping of step name to points")
    if "sections" in data:
        r.sections = [_name(x) for x in f["sections"].items()]
    if "layout" in data:
        r.layout = f["layout"].text(LAYOUTS)
    r.tolerance = _tolerance(f, Tolerance())
    for o in r.overrides.values():
        if "tolerance" in o:
            o["tolerance"] = _tolerance(o["tolerance"], r.tolerance)
    _credit_options(r, f, data)
    return r


def _credit_options(r: Rubric, f, data: dict) -> None:
    """partial, ecf, ecf_penalty, mistake_credit."""
    from hwsolve.grade.mistakes import mistakes

    if "partial" in data:
        r.partial = f["partial"].boolean()
    if "ecf" in data:
        r.ecf = f["ecf"].boolean()
    if "ecf_penalty" in data:
        r.ecf_penalty = float(_fraction(f["ecf_penalty"]))
    if "mistake_credit" in data:
        mc = f["mistake_credit"]
        keys = {m.key for m in mistakes()}
        for k in mc.mapping(keys):
            r.mistake_credit[k] = float(_fraction(mc[k]))


def _tolerance(f, base: Tolerance) -> Tolerance:
    """`precision:` and `tolerance:` of a rubric or of one step, over `base`."""
    from dataclasses import replace

    tol = base
    if f.has("precision"):
        tol = replace(tol, precision=f["precision"].text(PRECISIONS))
    if not f.has("tolerance"):
        return tol
    t = f["tolerance"]
    tv = t.mapping(TOLERANCE_KEYS)
    if "sig_figs" in tv:
        tol = replace(tol, sig_figs=None if tv["sig_figs"] in (None, 0, False) else t["sig_figs"].integer(minimum=1))
    if "sig_figs_max" in tv:
        tol = replace(tol, sig_figs_max=None if tv["sig_figs_max"] is None else t["sig_figs_max"].integer(minimum=1))
    if "abs" in tv:
        tol = replace(tol, abs=float(_nonneg(t["abs"])))
    if "rel" in tv:
        tol = replace(tol, rel=float(_nonneg(t["rel"])))
    return tol


def _step_entry(r: Rubric, name: str, f) -> float:
    """A step's points, or a mapping {points, layout, precision, tolerance} (read after the
    rubric's own tolerance, which the step's refines)."""
    if not isinstance(f.value, dict):
        return _positive(f, allow_zero=True)
    data = f.mapping(STEP_KEYS)
    o: dict = {}
    if "layout" in data:
        o["layout"] = f["layout"].text(LAYOUTS)
    if "precision" in data or "tolerance" in data:
        o["tolerance"] = f   # resolved once the rubric's tolerance is known
    r.overrides[name] = o
    return _positive(f["points"], allow_zero=True) if "points" in data else r.points


def _name(item) -> str:
    v = item.value
    if isinstance(v, (str, int)) and not isinstance(v, bool):
        return str(v)
    raise item.error("expected a step name")


def _positive(f, allow_zero: bool = False) -> float:
    q = f.number()
    if q < 0 or (q == 0 and not allow_zero) or (isinstance(q, float) and not math.isfinite(q)):
        raise f.error(f"expected a number {'>= 0' if allow_zero else '> 0'}, got {q}")
    return float(q)


def _nonneg(f):
    q = f.number()
    if q < 0 or (isinstance(q, float) and not math.isfinite(q)):
        raise f.error(f"expected a number >= 0, got {q}")
    return q


def _fraction(f):
    q = f.number()
    if not 0 <= q <= 1:
        raise f.error(f"expected a fraction between 0 and 1, got {q}")
    return q


def load_rubric_file(path: str) -> Rubric:
    from hwsolve.spec.loader import load_yaml

    doc = load_yaml(path)
    root = doc.root
    if root.has("rubric"):
        return parse_rubric(root["rubric"])
    return parse_rubric(root)


__all__ = ["Rubric", "Tolerance", "parse_rubric", "load_rubric_file", "SpecError"]
