"""What changes between two derivations (``hwsolve derive A B``), and why.

Seed 002 1.3(a)/(b) ask "what do you need to change in the equations of (b), (c) and (d)". Both
specs are derived in full (each checked against the numeric engine as usual); then the steps are
matched by section and name, and every step whose formula differs is listed with its old form
and the reason: the spec's own differences (a layer's activation, the loss, the layout), traced
to the Jacobians that carry them into each gradient.
"""

from __future__ import annotations

from hwsolve.core.records import Solution, Step
from hwsolve.core.sym import Symbol, to_text
from hwsolve.topics.derive.spec import DeriveProblem, DLayer

COMPARED = ("forward", "jacobians", "algebra", "chain", "answers_forward", "answers_backward")
HEADINGS = {
    "differences": "What differs in the specs",
    "forward": "Forward pass: changed steps",
    "jacobians": "Local derivatives: changed Jacobians",
    "algebra": "Loss algebra: changed lines",
    "chain": "Chain rule: changed gradients",
    "answers_forward": "Forward pass in the allowed symbols: changed",
    "answers_backward": "Gradients in the allowed symbols: changed",
}


def _layer_text(layer: DLayer) -> str:
    if layer.kind == "linear":
        return f"linear (out {layer.out})"
    if layer.kind == "softmax":
        return "softmax"
    scale = f"{layer.scale} * " if layer.scale not in (None, 1) else ""
    return scale + (layer.fn_key or "?")


def spec_differences(a: DeriveProblem, b: DeriveProblem) -> list[tuple[str, str]]:
    """(where, 'old → new') for each layer, the loss and the layout."""
    out = []
    for k in range(max(len(a.layers), len(b.layers))):
        la = _layer_text(a.layers[k]) if k < len(a.layers) else "none"
        lb = _layer_text(b.layers[k]) if k < len(b.layers) else "none"
        if la != lb:
            name = (b.layers[k].name if k < len(b.layers) else None) or f"layer {k + 1}"
            out.append((name, f"{la} → {lb}"))
    if a.loss_key != b.loss_key:
        out.append(("loss", f"{a.loss_key} → {b.loss_key}"))
    if a.layout != b.layout:
        out.append(("layout", f"{a.layout} → {b.layout}"))
    return out


def _keys(sol: Solution) -> list[tuple]:
    """Steps match by section and name; the algebra's lines (most unnamed) by their place."""
    keys: list[tuple[str, int | str]] = []
    place = 0
    for s in sol.steps:
        if s.section == "algebra":
            keys.append((s.section, place))
            place += 1
        else:
            keys.append((s.section, s.name))
    return keys


def _last(step: Step) -> str:
    """The most written-out form of a step: what a reader compares."""
    forms = [e for e in (step.chain, step.formula, step.expression) if e is not None]
    return to_text(forms[-1]) if forms else ""


def _forms(step: Step) -> str:
    return " = ".join(to_text(e) for e in (step.chain, step.formula, step.expression) if e is not None)


def compare(a: DeriveProblem, b: DeriveProblem) -> Solution:
    from hwsolve.topics.derive.solve import solve

    sa, sb = solve(a), solve(b)
    sol = Solution(f"What changes from {a.title} to {b.title}", "derive-diff", sections=dict(HEADINGS))
    diffs = spec_differences(a, b)
    from hwsolve.core.notation import latex_name

    for where, change in diffs:   # labelled in the course's notation (z_2, yhat), never a raw key
        sol.add(Step(where, "differences", value=change, label=Symbol(where, latex_name(where))))
    old = dict(zip(_keys(sa), sa.steps, strict=True))
    changed_jacobians: list[str] = []
    for key, s in zip(_keys(sb), sb.steps, strict=True):
        if s.section not in COMPARED:
            continue
        before = old.get(key)
        if before is not None and _forms(before) == _forms(s):
            continue
        if s.section == "jacobians":
            changed_jacobians.append(s.name)
        was = "new in B" if before is None else "was " + _last(before)
        sol.add(Step(s.name, s.section, chain=s.chain, formula=s.formula, expression=s.expression,
                     shape=s.shape, label=s.label, note=f"{was}; {_why(s, diffs, changed_jacobians)}"))
    unchanged = sum(1 for s in sb.steps if s.section in COMPARED) - sum(1 for s in sol.steps
                                                                        if s.section != "differences")
    sol.notes.append(f"{unchanged} steps are the same in both; both derivations were checked against "
                     "the numeric engine at random numbers.")
    sol.symbolic = True
    return sol


def _why(step: Step, diffs: list[tuple[str, str]], changed_jacobians: list[str]) -> str:
    text = _forms(step)
    if step.section.startswith("answers"):   # the given Jacobians stay symbols there
        return "a written-out forward value changed: " + "; ".join(f"{w}: {c}" for w, c in diffs)
    through = [j for j in changed_jacobians if j != step.name and j in text]
    if through:
        return "because " + ", ".join(through) + " changed"
    own = [f"{where}: {change}" for where, change in diffs
           if step.name == where or step.name.startswith(f"d{where}/") or f"/d{where}" in step.name
           or (where == "loss" and step.section in ("algebra", "jacobians"))]
    return "because of " + ("; ".join(own) if own else "; ".join(f"{w}: {c}" for w, c in diffs))
