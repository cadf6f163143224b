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
from fractions import Fraction
from typing import Any, overload

from hwsolve.core.errors import SpecError
from hwsolve.core.records import Solution
from hwsolve.grade.answers import Answer, Submission, Value
from hwsolve.grade.mistakes import (OWN, Site, by_key, dims_text, identify, prepare_all, same, student_world,
                                    transpose)
from hwsolve.grade.rubric import Rubric, load_rubric_file, parse_rubric

BACKPROP_KINDS = ("network", "graph")
# topics whose answer is an argument (a proof, a loss derived from an update rule, a recursion in
# symbols), not a value or formula the grader can compare: grading them would score every student 0
ARGUMENT_KINDS = ("prove", "update_rule", "recursive")
VERDICTS = ("correct", "ecf", "wrong", "wrong_shape", "missing")


@dataclass
class Key:
    path: str
    kind: str
    problem: object
    solution: Solution
    rubric: Rubric
    graded: list[tuple[str, float]]
    values: dict[str, Value]
    model: Any = None                     # ecf.EcfModel for backprop kinds
    prepared: dict = field(default_factory=dict)
    ecf_names: set = field(default_factory=set)   # steps ECF can recompute
    # the student's world by the wrong values it is built from (`_world`): in a class, many
    # submissions carry the same slip forward, and rebuilding it is most of grading one
    worlds: dict = field(default_factory=dict, repr=False, compare=False)

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
    _check_gradable(kind, path)
    rubric = Rubric()
    if isinstance(doc.data, dict) and "rubric" in doc.data:
        rubric = parse_rubric(doc.root["rubric"])
        del doc.data["rubric"]   # topics' parsers need not know about grading
    elif kind == "sheet":
        rubric = sheet_rubric(doc) or rubric
    if rubric_path:
        rubric = load_rubric_file(rubric_path)
    problem = topics.parse(doc, kind)
    return make_key(path, kind, problem, topics.solve(problem, kind), rubric, rubric_path)


def sheet_rubric(doc) -> Rubric | None:
    """A sheet without a rubric of its own grades each part by the part's rubric, its step names
    prefixed with the part's id (P1/dL/dW[1]), as `hwsolve solve` names them."""
    from hwsolve.spec.loader import load_yaml
    from hwsolve.topics.sheet.spec import _part_file

    parts = doc.data.get("parts") if isinstance(doc.data, dict) else None
    if not isinstance(parts, list):
        return None
    steps: dict[str, float] = {}
    merged = Rubric(steps=steps, source=f"{doc.file} (the parts' rubrics)")
    for i, item in enumerate(doc.root["parts"].items()):
        if not isinstance(item.value, dict):
            return None
        pid = str(item.value.get("id", f"Part {i + 1}"))
        if item.has("file"):
            sub = load_yaml(_part_file(item["file"], doc.file)).root
        elif item.has("spec"):
            sub = item["spec"]
        else:
            return None
        part = parse_rubric(sub["rubric"]) if sub.has("rubric") else None
        if part is None or part.steps is None or part.sections:
            return None          # a part graded by default steps: no whole-sheet rubric to build
        for name, pts in part.steps.items():
            steps[f"{pid}/{name}"] = pts
            merged.overrides[f"{pid}/{name}"] = {"tolerance": part.policy(name).tolerance,
                                                 "layout": part.policy(name).layout}
        merged.mistake_credit.update(part.mistake_credit)
    return merged


def make_key(path: str, kind: str, problem, solution, rubric: Rubric | None = None,
             rubric_path: str | None = None) -> Key:
    """A key from a parsed and solved problem (what `load_key` does after the topic registry)."""
    _check_gradable(kind, path)
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
            where = rubric.lines.get(name)   # the rubric's own file, or the key's rubric: section
            raise SpecError(f"rubric grades step '{name}', which {what}{hint}", file=rubric_path or path, line=where)
    if not key.graded:
        raise SpecError("the rubric grades no steps", file=rubric_path or path)
    key.prepared = prepare_all(key)
    return key


def _check_gradable(kind: str, path: str) -> None:
    if kind in ARGUMENT_KINDS:
        raise SpecError(f"a key of kind '{kind}' asks for an argument (a proof or derivation), which hwsolve does not "
                        "grade: grade it by hand (`hwsolve solve` prints the worked derivation)", file=path)


def default_steps(solution, kind: str) -> list[str]:
    """Backprop: the forward pass and the summary gradients. Others: the summary, else every
    step with a value outside the `given` sections."""
    with_value = [s for s in solution.steps if s.value is not None]
    if kind in BACKPROP_KINDS:
        names = [s.name for s in with_value if s.section == "forward"]
        names += [n for n in solution.summary if n not in names]
        return [n for n in names if is_named(n)]
    if solution.summary:
        return list(solution.summary)
    return [s.name for s in with_value if not (s.section == "given" or s.section.endswith(".given"))]


def is_named(step: str) -> bool:
    """A step the spec named (a[1], H3, dL/dW1), not a generated sub-expression of a graph
    spec ((X[1] * W1[1]), dL/d(H2 / H1)) or one path's share (dL/dX1 via H3)."""
    return not (step.startswith("(") or "/d(" in step or " via " in step)


def key_layout(key: Key) -> str:
    return key.solution.layout or "gradient"


def is_gradient_step(key: Key, name: str) -> bool:
    if key.model is not None:
        return key.model.is_gradient(name)
    return "/d" in name


@overload
def oriented(key: Key, name: str, layout: str | None, ans: Value) -> tuple[Value, str]: ...
@overload
def oriented(key: Key, name: str, layout: str | None, ans: None) -> tuple[None, str]: ...
def oriented(key: Key, name: str, layout: str | None, ans: Value | None) -> tuple[Value | None, str]:
    """The answer in the key's orientation under the step's layout policy, and a note.

    either: a gradient written in the other layout is turned round (a column dL/dW[3] for a 1x2
    W[3] is right). gradient/numerator: when the key is in the other layout, the answer is turned
    round, so an answer in the key's own layout reads as transposed."""
    if ans is None or layout is None or not is_gradient_step(key, name):
        return ans, ""
    kv = key.values[name]
    if layout == "either":
        m, n = ans.dims   # the transpose is made only when it is what decides
        if (m, n) != kv.dims and (n, m) == kv.dims:
            return transpose(ans), "in the other layout (accepted)"
        if (m, n) == kv.dims and m == n and m != 1:
            match = lambda a, b: a == b  # noqa: E731 -- exact test for a square matrix
            if not same(ans, kv, match) and same(t := transpose(ans), kv, match):
                return t, "in the other layout (accepted)"
        return ans, ""
    if layout != key_layout(key):
        return transpose(ans), f"{layout} layout required"
    return ans, ""


@dataclass
class StepResult:
    name: str
    verdict: str
    points: float
    max_points: float
    reason: str = ""
    mistake: str = ""              # a key of mistakes.mistakes(), or ""
    answer: Value | None = None
    expected: Value | None = None
    ecf_from: tuple[str, ...] = ()
    formula: str = ""              # a formula answer, as written


@dataclass
class Result:
    path: str
    student: str
    steps: list[StepResult]
    error: str = ""
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0           # time spent grading it (Gradescope's execution_time only)
    # its line of a class's JSON report, when a grade --jobs worker wrote it (report.to_json)
    json_line: str | None = field(default=None, repr=False, compare=False)

    @property
    def score(self) -> float:
        return round(sum(s.points for s in self.steps), 6)

    @property
    def max_score(self) -> float:
        return round(sum(s.max_points for s in self.steps), 6)

    @property
    def percent(self) -> float:
        top = self.max_score
        return 100.0 * self.score / top if top else 0.0


def grade(key: Key, sub: Submission) -> Result:
    if sub.error:
        steps = [StepResult(n, "missing", 0.0, p, "submission could not be read", expected=key.values[n])
                 for n, p in key.graded]
        return Result(sub.path, sub.student, steps, error=sub.error, warnings=sub.warnings)
    rub = key.rubric
    warnings = list(sub.warnings)
    unknown = [n for n in sub.answers if n not in key.values]
    for n in unknown[:10]:
        close = difflib.get_close_matches(n, list(key.values), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        warnings.append(f"'{n[:60]}' is not a step of this problem{hint}")
    if len(unknown) > 10:
        warnings.append(f"... and {len(unknown) - 10} more unknown names")

    # which answers are right, and which wrong ones the student's world is built from
    right: dict[str, bool] = {}
    used: dict[str, Value] = {}
    turned: dict[str, tuple[Value | None, str]] = {}
    for name, ans in sub.answers.items():
        kv = key.values.get(name)
        if kv is None or ans.value is None:
            continue
        pol = rub.policy(name)
        v, note = turned[name] = oriented(key, name, pol.layout, sized(ans, kv))
        ok = same(v, kv, pol.tolerance.match)
        right[name] = ok
        if (not ok and rub.ecf and name in key.ecf_names and v.dims == kv.dims
                and not _trivial(v, kv)):
            used[name] = v
    world = _world(key, used) if (used and key.model is not None) else None

    steps = []
    for name, pts in key.graded:
        steps.append(_judge(key, name, pts, sub.answers.get(name), turned.get(name), right.get(name, False),
                            world))
    return Result(sub.path, sub.student, steps, warnings=warnings)


WORLDS_KEPT = 512  # distinct worlds remembered per key (a batch of any size stays bounded)


def _world(key: Key, used: dict[str, Value]):
    """`student_world(key, used)`, built once per distinct `used` in a batch.

    A world depends on the key and `used` only, and grading only reads it (its `cache` holds
    mistake variants computed at its own values), so submissions with the same wrong values can
    share it. The same values means the same names in the same order with entries of the same
    types: 8 and 8.0, or 0.0 and -0.0, are equal but not computed alike, so they never share."""
    found = key.worlds.get(signature := _values_signature(used))
    if found is None:
        if len(key.worlds) >= WORLDS_KEPT:
            key.worlds.clear()
        found = key.worlds[signature] = student_world(key, used)
    return found


def _values_signature(used: dict[str, Value]) -> tuple:
    """Each name with its entries as (type, value), a float by its exact bits (float.hex)."""
    return tuple((name, tuple((x.__class__, x.hex() if x.__class__ is float else x) for row in v.rows for x in row),
                  v.dims) for name, v in used.items())


def _trivial(v: Value, key: Value) -> bool:
    """All zeros where the key is not: a value that would make everything downstream easy."""
    return all(x == 0 for x in v.entries()) and any(x != 0 for x in key.entries())


def _ecf_value(world, key: Key, name: str, kv: Value, match) -> Value | None:
    """The step's value in the student's world, when it differs from the key's (and, for a gradient,
    is not trivial: dead units from a wrong forward value would make every gradient below 0 and
    easy). A forward value of 0 is simply what the student's values give (R = 1.5 - 1.5)."""
    from hwsolve.grade.ecf import to_value

    if world is None or world.values.get(name) is None:
        return None
    ecf_v = to_value(world.values[name])
    if same(ecf_v, kv, match) or (_trivial(ecf_v, kv) and is_gradient_step(key, name)):
        return None
    return ecf_v


def _judge(key: Key, name: str, pts: float, ans: Answer | None, turned, right: bool, world) -> StepResult:
    rub = key.rubric
    match = rub.policy(name).tolerance.match
    kv = key.values[name]
    r = StepResult(name, "missing", 0.0, pts, "no answer", expected=kv)
    if ans is None or ans.blank:
        return r
    if ans.value is None:
        if ans.formula:
            return _judge_formula(key, r, ans.formula, match)
        r.reason = f"cannot read the value: {ans.problem}"
        return r
    r.answer = ans.value
    v, layout_note = turned
    r.reason = ""       # from here on the step was answered
    if right:
        r.verdict, r.points, r.reason = "correct", pts, layout_note if "accepted" in layout_note else ""
        return r
    ecf_v = _ecf_value(world, key, name, kv, match)
    if ecf_v is not None and same(v, ecf_v, match):
        r.verdict = "ecf"
        r.points = pts * (1 - rub.ecf_penalty)
        r.ecf_from = tuple(sorted(world.sources.get(name, ())))
        r.reason = "consistent with your " + (", ".join(r.ecf_from) or "earlier values") + " carried forward"
        return r
    found = identify(Site(name, kv, ecf_v, key, world), v, match)
    credit = 0.0
    if found:
        m, detail = found
        if layout_note and "required" in layout_note and m.key in ("transposed", "wrong_shape"):
            # the sizes as the student wrote them and as the required layout has them (the
            # comparison ran on both turned round, in the key's layout)
            detail = f"{dims_text(ans.value)} where {dims_text(transpose(kv))} is due" + \
                (OWN if detail.endswith(OWN) else "")
        r.mistake = m.key
        credit = rub.mistake_credit.get(m.key, m.credit)
        r.reason = m.title + (f": {detail}" if detail else "")
        if layout_note and "required" in layout_note:
            r.reason += f" ({layout_note})"
    if v.dims != kv.dims:
        r.verdict = "wrong_shape"
        if not found:
            r.reason = "wrong shape"
        r.reason += _stacked_note(key, name, kv)
    else:
        r.verdict = "wrong"
        n = len(kv.entries())
        if n > 1:
            good: float = sum(match(a, b) for a, b in zip(v.entries(), kv.entries(), strict=False))
            if ecf_v is not None:
                ecf_good = sum(match(a, b) for a, b in zip(v.entries(), ecf_v.entries(), strict=False))
                good = max(good, ecf_good * (1 - rub.ecf_penalty))
            if rub.partial and good:
                credit = max(credit, good / n)
            part = f"{int(good) if good == int(good) else round(good, 2)} of {n} entries right"
            r.reason = f"{r.reason}; {part}" if r.reason else part
        elif not found:
            r.reason = (f"wrong value (checked: {rub.policy(name).tolerance.describe(kv.entries()[0])}); "
                        "no known mistake reproduces it")
    r.points = round(pts * credit, 6)
    return r


def _stacked_note(key: Key, name: str, kv: Value) -> str:
    """For a key of three or more dimensions (a C x H x W map), how its answer is written."""
    shape = next((st.shape for st in key.solution.steps if st.name == name), ())
    if len(shape) < 3:
        return ""
    m, n = kv.dims
    return (f" (the key is {'x'.join(map(str, shape))}: write its {shape[-2]}x{shape[-1]} matrices stacked, "
            f"one {m}x{n} matrix)")


def sized(ans: Answer, kv: Value) -> Value:
    """A size written as text ("34x34") for a key that is one number per side (n_out = 34) or a
    volume whose last sizes are 1 ("34x34" for 34x34x1)."""
    v = ans.value
    assert v is not None, "only answers with a value are sized"
    if not ans.size_text:
        return v
    sides = [x for r in v.rows for x in r]
    if kv.dims == (1, 1) and len(set(sides)) == 1:
        return Value(((sides[0],),))
    want = kv.entries()
    if kv.dims[1] == 1 and len(sides) < len(want) and all(x == 1 for x in want[len(sides):]):
        return Value(tuple((x,) for x in sides + [Fraction(1)] * (len(want) - len(sides))))
    return v


def _judge_formula(key: Key, r: StepResult, text: str, match) -> StepResult:
    from hwsolve.grade.formula import judge

    j = judge(key, r.name, text, match)
    either = key.rubric.policy(r.name).layout == "either"
    if j.mistake == "transposed" and either and is_gradient_step(key, r.name):
        j = type(j)("correct", "formula: right at the key's values, in the other layout (accepted)")
    r.formula = text
    r.verdict, r.reason, r.mistake = j.verdict, j.reason, j.mistake
    credit = 0.0
    if j.verdict == "correct":
        credit = 1.0
    elif j.mistake:
        credit = key.rubric.mistake_credit.get(j.mistake, by_key()[j.mistake].credit)
    r.points = round(r.max_points * credit, 6)
    return r


def mistake_title(key: str) -> str:
    m = by_key().get(key)
    return m.title if m else key
