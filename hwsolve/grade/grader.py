"""Grade answer files against a key spec: solve the key once, then judge every graded step.

Per step the verdict is one of
  correct      within tolerance of the key
  ecf          wrong, but what the step's own rule gives from the student's earlier (wrong,
               attempted) values: error carried forward, computed from the graph (backprop)
  wrong        neither; a known mistake is named when one reproduces the value
  wrong_shape  not the key's shape (a transposed answer names the mistake)
  missing      no answer, or a value that cannot be read
and the points follow the rubric. Nothing here prints; `report.py` renders `Result`s.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from hwsolve.core.errors import SpecError
from hwsolve.grade.answers import Answer, Submission, Value, load_submission
from hwsolve.grade.mistakes import BY_KEY, Site, identify, prepare_all, same
from hwsolve.grade.rubric import Rubric, load_rubric_file, parse_rubric

BACKPROP_KINDS = ("network", "graph")
VERDICTS = ("correct", "ecf", "wrong", "wrong_shape", "missing")


@dataclass
class Key:
    path: str
    kind: str
    problem: object
    solution: object
    rubric: Rubric
    graded: list[tuple[str, float]]
    values: dict[str, Value]
    model: object = None                  # ecf.EcfModel for backprop kinds
    prepared: dict = field(default_factory=dict)
    ecf_names: set = field(default_factory=set)   # steps ECF can recompute

    @property
    def max_score(self) -> float:
        return sum(p for _, p in self.graded)



def _equal_as_floats(a, b) -> bool:
    """a == b after rounding both to floats; exactly, when one is too large for a float."""
    try:
        return float(a) == float(b)
    except OverflowError:
        return a == b

def load_key(path: str, rubric_path: str | None = None) -> Key:
    """Load, parse and solve the key spec (once), read its rubric, prepare the mistake models."""
    from hwsolve import topics
    from hwsolve.spec.loader import load_yaml

    doc = load_yaml(path)
    kind = topics.kind_of(doc)
    rubric = Rubric()
    if isinstance(doc.data, dict) and "rubric" in doc.data:
        rubric = parse_rubric(doc.root["rubric"])
        del doc.data["rubric"]   # topics' parsers need not know about grading
    if rubric_path:
        rubric = load_rubric_file(rubric_path)
    problem = topics.parse(doc, kind)
    return make_key(path, kind, problem, topics.solve(problem, kind), rubric, rubric_path)


def make_key(path: str, kind: str, problem, solution, rubric: Rubric | None = None,
             rubric_path: str | None = None) -> Key:
    """A key from a parsed and solved problem (what `load_key` does after the topic registry)."""
    rubric = rubric or Rubric()
    values = {s.name: Value.of(s.value) for s in solution.steps if s.value is not None}
    key = Key(path, kind, problem, solution, rubric, [], values)
    if kind in BACKPROP_KINDS:
        from hwsolve.topics.backprop.solve import compile_problem
        from hwsolve.grade.ecf import EcfModel, to_value

        key.model = EcfModel(compile_problem(problem))
        # ECF only where the model reproduces the key's own step exactly
        m = key.model
        for name in values:
            node = m.forward_steps.get(name)
            arr = node.value if node is not None else None
            if arr is None and name in m.grad_steps:
                arr = m._to_layout(m.key_grads[m.grad_steps[name]])
            if arr is None and name in m.term_steps:
                arr = m._to_layout(m.key_terms[m.term_steps[name]])
            if arr is not None and same(to_value(arr), values[name], _equal_as_floats):
                key.ecf_names.add(name)
    key.graded = rubric.graded(solution, default_steps(solution, kind))
    for name, _ in key.graded:
        if name not in values:
            close = difflib.get_close_matches(name, list(values), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            what = "has no numeric value" if any(s.name == name for s in solution.steps) else "is not a step of the key"
            raise SpecError(f"rubric grades step '{name}', which {what}{hint}", file=rubric_path or path)
    if not key.graded:
        raise SpecError("the rubric grades no steps", file=rubric_path or path)
    key.prepared = prepare_all(key)
    return key


def default_steps(solution, kind: str) -> list[str]:
    """Backprop: the forward pass and the summary gradients. Others: the summary, else every
    step with a value outside the `given` sections."""
    with_value = [s for s in solution.steps if s.value is not None]
    if kind in BACKPROP_KINDS:
        names = [s.name for s in with_value if s.section == "forward"]
        return names + [n for n in solution.summary if n not in names]
    if solution.summary:
        return list(solution.summary)
    return [s.name for s in with_value if not (s.section == "given" or s.section.endswith(".given"))]


@dataclass
class StepResult:
    name: str
    verdict: str
    points: float
    max_points: float
    reason: str = ""
    mistake: str = ""              # a key of mistakes.MISTAKES, or ""
    answer: Value | None = None
    expected: Value | None = None
    ecf_from: tuple[str, ...] = ()


@dataclass
class Result:
    path: str
    student: str
    steps: list[StepResult]
    error: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def score(self) -> float:
        return round(sum(s.points for s in self.steps), 6)

    @property
    def max_score(self) -> float:
        return round(sum(s.max_points for s in self.steps), 6)

    @property
    def percent(self) -> float:
        return 100.0 * self.score / self.max_score if self.max_score else 0.0


def grade_file(key: Key, path: str) -> Result:
    return grade(key, load_submission(path))


def grade(key: Key, sub: Submission) -> Result:
    if sub.error:
        steps = [StepResult(n, "missing", 0.0, p, "submission could not be read", expected=key.values[n])
                 for n, p in key.graded]
        return Result(sub.path, sub.student, steps, error=sub.error, warnings=sub.warnings)
    rub = key.rubric
    match = rub.tolerance.match
    warnings = list(sub.warnings)
    unknown = [n for n in sub.answers if n not in key.values]
    for n in unknown[:10]:
        close = difflib.get_close_matches(n, list(key.values), n=1)
        warnings.append(f"'{n[:60]}' is not a step of this problem" + (f" (did you mean '{close[0]}'?)" if close else ""))
    if len(unknown) > 10:
        warnings.append(f"... and {len(unknown) - 10} more unknown names")

    # which answers are right, and which wrong ones the student's world is built from
    right: dict[str, bool] = {}
    used: dict[str, Value] = {}
    for name, ans in sub.answers.items():
        kv = key.values.get(name)
        if kv is None or ans.value is None:
            continue
        ok = same(ans.value, kv, match)
        right[name] = ok
        if (not ok and rub.ecf and name in key.ecf_names and ans.value.dims == kv.dims
                and not _trivial(ans.value, kv)):
            used[name] = ans.value
    world = key.model.world(used) if (used and key.model is not None) else None

    steps = []
    for name, pts in key.graded:
        steps.append(_judge(key, name, pts, sub.answers.get(name), right.get(name, False), world, match))
    return Result(sub.path, sub.student, steps, warnings=warnings)


def _trivial(v: Value, key: Value) -> bool:
    """All zeros where the key is not: a value that would make everything downstream easy."""
    return all(x == 0 for x in v.entries()) and any(x != 0 for x in key.entries())


def _judge(key: Key, name: str, pts: float, ans: Answer | None, right: bool, world, match) -> StepResult:
    from hwsolve.grade.ecf import to_value

    rub = key.rubric
    kv = key.values[name]
    r = StepResult(name, "missing", 0.0, pts, "no answer", expected=kv)
    if ans is None or ans.blank:
        return r
    if ans.value is None:
        r.reason = f"cannot read the value: {ans.problem}"
        return r
    v = r.answer = ans.value
    if right:
        r.verdict, r.points, r.reason = "correct", pts, ""
        return r
    ecf_v = None
    if world is not None and name in world.values and world.values[name] is not None:
        ecf_v = to_value(world.values[name])
        if same(ecf_v, kv, match) or _trivial(ecf_v, kv):
            ecf_v = None
    if ecf_v is not None and same(v, ecf_v, match):
        r.verdict = "ecf"
        r.points = pts * (1 - rub.ecf_penalty)
        r.ecf_from = tuple(sorted(world.sources.get(name, ())))
        r.reason = "consistent with your " + (", ".join(r.ecf_from) or "earlier values") + " carried forward"
        return r
    found = identify(Site(name, kv, ecf_v, key), v, match)
    credit = 0.0
    if found:
        m, detail = found
        r.mistake = m.key
        credit = rub.mistake_credit.get(m.key, m.credit)
        r.reason = m.title + (f": {detail}" if detail else "")
    if v.dims != kv.dims:
        r.verdict = "wrong_shape"
        if not found:
            r.reason = "wrong shape"
    else:
        r.verdict = "wrong"
        n = len(kv.entries())
        if n > 1:
            good = sum(match(a, b) for a, b in zip(v.entries(), kv.entries()))
            if ecf_v is not None:
                ecf_good = sum(match(a, b) for a, b in zip(v.entries(), ecf_v.entries()))
                good = max(good, ecf_good * (1 - rub.ecf_penalty))
            if rub.partial and good:
                credit = max(credit, good / n)
            part = f"{int(good) if good == int(good) else round(good, 2)} of {n} entries right"
            r.reason = f"{r.reason}; {part}" if r.reason else part
        elif not found:
            r.reason = (f"wrong value (checked to {rub.tolerance.describe()}); "
                        "no known mistake reproduces it")
    r.points = round(pts * credit, 6)
    return r


def mistake_title(key: str) -> str:
    m = BY_KEY.get(key)
    return m.title if m else key
