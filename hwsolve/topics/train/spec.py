"""The training spec (kind: train): a model, an optimizer, a number of steps.

    hwsolve: 1
    kind: train
    model: {file: cs4782_p1.yaml}          # a network or graph spec beside this one, or inline
    # objective: {params: {w1: 1, w2: -2}, f: "w1^2 + 10*w2^2"}   # or a plain function
    optimizer: {type: adam, lr: 1/10, beta1: 9/10, beta2: 999/1000, eps: 1e-8}
    steps: 3

See docs/training.md. Parsing only: `hwsolve.topics.train.solve` runs the steps on the one graph.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from hwsolve.spec.loader import Doc, Field, load_yaml

TOP_KEYS = {"hwsolve", "kind", "title", "source", "question", "notes", "model", "objective",
            "optimizer", "steps", "show_forward"}
OBJECTIVE_KEYS = {"params", "f", "name"}
MODEL_KEYS_FILE = {"file"}
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam")
OPTIMIZER_KEYS = {"type", "lr", "momentum", "convention", "beta1", "beta2", "rho", "eps",
                  "weight_decay", "decoupled", "initial_accumulator", "schedule"}
# learning-rate schedules, as PyTorch's schedulers stepped once after every update: key -> its settings
SCHEDULES: dict[str, set[str]] = {"step": {"step_size", "gamma"}, "exponential": {"gamma"},
                                  "cosine": {"T_max", "eta_min"}}
ANY_OPTIMIZER = {"type", "lr", "weight_decay", "decoupled", "schedule"}
# which hyper-parameters each optimizer reads (the others are refused, so a typo cannot pass silently)
USES: dict[str, set[str]] = {
    "sgd": set(),
    "momentum": {"momentum", "convention"},
    "nesterov": {"momentum", "convention"},
    "adagrad": {"eps", "initial_accumulator"},
    "rmsprop": {"rho", "eps"},
    "adam": {"beta1", "beta2", "eps"},
}
DEFAULTS: dict[str, Fraction] = {
    "momentum": Fraction(9, 10), "beta1": Fraction(9, 10), "beta2": Fraction(999, 1000),
    "rho": Fraction(99, 100), "eps": Fraction(1, 10**8), "weight_decay": Fraction(0),
    "initial_accumulator": Fraction(0),
}
# where a default differs from PyTorch's, said in the notes when the spec leaves it out
TORCH_DEFAULTS: dict[tuple[str, str], str] = {("adagrad", "eps"): "1e-10"}
MAX_STEPS = 1000


@dataclass
class Optimizer:
    type: str
    lr: Fraction | float
    momentum: Fraction | float = DEFAULTS["momentum"]
    convention: str = "sheet"            # momentum: sheet (m <- mu m - lr g) or pytorch; nesterov: pytorch unless given
    beta1: Fraction | float = DEFAULTS["beta1"]
    beta2: Fraction | float = DEFAULTS["beta2"]
    rho: Fraction | float = DEFAULTS["rho"]
    eps: Fraction | float = DEFAULTS["eps"]
    weight_decay: Fraction | float = DEFAULTS["weight_decay"]
    decoupled: bool = False              # weight decay in the update (AdamW) instead of L2 in the loss
    initial_accumulator: Fraction | float = DEFAULTS["initial_accumulator"]   # AdaGrad's G at t = 0
    schedule: dict | None = None         # {"type": "step" | "exponential" | "cosine", and its settings}
    given: set[str] = field(default_factory=set)


@dataclass
class TrainProblem:
    file: str
    title: str
    model_kind: str                      # "network" | "graph"
    model: object                        # the parsed network or graph problem
    optimizer: Optimizer
    steps: int
    show_forward: bool
    notes: list[str] = field(default_factory=list)
    source: str = ""
    question: str = ""
    doc: Doc | None = None
    kind: str = "train"


def parse_train(doc: Doc) -> TrainProblem:
    root = doc.root
    root.mapping(TOP_KEYS)
    if root.has("model") == root.has("objective"):
        raise root.error("give exactly one of 'model' (a network or graph spec) or 'objective' "
                         "(params: and f: an expression)")
    kind, model = _model(doc, root["model"]) if root.has("model") else _objective(doc, root["objective"])
    if not root.has("optimizer"):
        raise root.error("missing required key 'optimizer' (type: sgd | momentum | nesterov | adagrad | "
                         "rmsprop | adam, and lr:)")
    opt = _optimizer(root["optimizer"])
    steps = root["steps"].integer(minimum=1) if root.has("steps") else 1
    if steps > MAX_STEPS:
        raise root["steps"].error(f"{steps} steps; the limit is {MAX_STEPS}")
    show = root["show_forward"].boolean() if root.has("show_forward") else steps == 1
    title = root["title"].text() if root.has("title") else doc.file
    notes = []
    if root.has("notes"):
        v = root["notes"].value
        notes = [root["notes"].text()] if isinstance(v, str) else [i.text() for i in root["notes"].items()]
    return TrainProblem(doc.file, title, kind, model, opt, steps, show, notes,
                        root["source"].text() if root.has("source") else "",
                        root["question"].text() if root.has("question") else "", doc)


def _subdoc(doc: Doc, f: Field, data) -> Doc:
    n = len(f.path)
    lines = {p[n:]: line for p, line in doc.lines.items() if p[:n] == f.path}
    return Doc(doc.file, data, lines)


def _model(doc: Doc, f: Field) -> tuple[str, object]:
    from hwsolve import topics

    v = f.mapping()
    if "file" in v:
        f.mapping(MODEL_KEYS_FILE)
        rel = f["file"].text()
        p = Path(rel)
        if p.is_absolute() or ".." in p.parts:
            raise f["file"].error(f"'{rel}': the model's file must be a path inside this spec's folder "
                                  "(no absolute paths, no '..')")
        sub = load_yaml(Path(doc.file).parent / p, examples=True)
    else:
        sub = _subdoc(doc, f, v)
    kind = topics.kind_of(sub)
    if kind not in ("network", "graph"):
        raise f.error(f"the model must be a network or graph spec, not kind {kind}")
    problem = topics.parse(sub, kind)
    if kind == "graph" and problem.loss.output and not problem.params:
        raise f.error("the model has no params: nothing to train")
    return kind, problem


def _objective(doc: Doc, f: Field) -> tuple[str, object]:
    """f(w) = ... as a graph spec: params, one node f, its gradients (output: f)."""
    from hwsolve import topics

    v = f.mapping(OBJECTIVE_KEYS)
    for key in ("params", "f"):
        if key not in v:
            raise f.error(f"missing required key '{key}' (objective: {{params: {{w: 1}}, f: 'w^2'}})")
    name = f["name"].text() if "name" in v else "f"
    data = {"hwsolve": 1, "kind": "graph", "params": v["params"], "nodes": {name: v["f"]}, "output": name}
    n = len(f.path)
    lines = {p[n:]: line for p, line in doc.lines.items() if p[:n] == f.path}
    where = lines.get(("f",), f.line)
    if where is not None:
        lines[("nodes", name)] = lines[("output",)] = where
    sub = Doc(doc.file, data, lines)
    return "graph", topics.parse(sub, "graph")


def _rate(f: Field, what: str, low_open: bool = True) -> Fraction | float:
    x = f.number()
    if x < 0 or (low_open and x == 0):
        raise f.error(f"{what} must be {'> 0' if low_open else '>= 0'}, got {x}")
    return x


def _optimizer(f: Field) -> Optimizer:
    v = f.mapping(OPTIMIZER_KEYS)
    if "type" not in v:
        raise f.error("missing required key 'type' (" + " | ".join(OPTIMIZERS) + ")")
    kind = f["type"].text(set(OPTIMIZERS))
    if "lr" not in v:
        raise f.error("missing required key 'lr' (the learning rate, > 0)")
    opt = Optimizer(kind, _rate(f["lr"], "the learning rate lr"), given=set(v))
    for key in sorted(set(v) - ANY_OPTIMIZER):
        if key not in USES[kind]:
            raise f[key].error(f"'{key}' is not a setting of {kind} (it takes: "
                               + ", ".join(sorted(USES[kind] | (ANY_OPTIMIZER - {'type'}))) + ")")
    for key in ("momentum", "beta1", "beta2", "rho"):
        if key in v:
            x = f[key].number()
            if not 0 <= x < 1:
                raise f[key].error(f"{key} must be in [0, 1), got {x}")
            setattr(opt, key, x)
    if "eps" in v:
        opt.eps = _rate(f["eps"], "eps", low_open=False)
    if "initial_accumulator" in v:
        opt.initial_accumulator = _rate(f["initial_accumulator"], "initial_accumulator", low_open=False)
    if "weight_decay" in v:
        opt.weight_decay = _rate(f["weight_decay"], "weight_decay", low_open=False)
    if "decoupled" in v:
        opt.decoupled = f["decoupled"].boolean()
    if "convention" in v:
        opt.convention = f["convention"].text({"sheet", "pytorch"})
    if "schedule" in v:
        opt.schedule = _schedule(f["schedule"])
    if "convention" not in v and (kind == "nesterov" or (kind == "momentum" and opt.schedule)):
        # where the two forms give different weights (Nesterov's always; momentum's once the rate changes) and
        # the spec does not say, PyTorch's default is used (and a note says so); no sheet writes the look-ahead
        opt.convention = "pytorch"
    return opt


def _schedule(f: Field) -> dict:
    """`schedule: {type: step, step_size: 2, gamma: 1/2}` (StepLR), `{type: exponential, gamma: 0.9}`
    (ExponentialLR) or `{type: cosine, T_max: 10, eta_min: 0}` (CosineAnnealingLR)."""
    v = f.mapping({"type"} | set().union(*SCHEDULES.values()))
    if "type" not in v:
        raise f.error("missing required key 'type' (" + " | ".join(SCHEDULES) + ")")
    kind = f["type"].text(set(SCHEDULES))
    for key in sorted(set(v) - {"type"} - SCHEDULES[kind]):
        raise f[key].error(f"'{key}' is not a setting of the {kind} schedule (it takes: "
                           + ", ".join(sorted(SCHEDULES[kind])) + ")")
    out: dict = {"type": kind}
    if kind == "step":
        if "step_size" not in v:
            raise f.error("missing required key 'step_size' (the learning rate is multiplied by gamma every "
                          "step_size steps)")
        out["step_size"] = f["step_size"].integer(minimum=1)
    if kind in ("step", "exponential"):
        if "gamma" not in v:
            raise f.error("missing required key 'gamma' (the factor of each decay, > 0)")
        out["gamma"] = _rate(f["gamma"], "gamma")
    if kind == "cosine":
        if "T_max" not in v:
            raise f.error("missing required key 'T_max' (the steps of the half cosine)")
        out["T_max"] = f["T_max"].integer(minimum=1)
        out["eta_min"] = _rate(f["eta_min"], "eta_min", low_open=False) if "eta_min" in v else Fraction(0)
    return out


__all__ = ["parse_train", "TrainProblem", "Optimizer", "OPTIMIZERS", "TOP_KEYS", "SCHEDULES"]
