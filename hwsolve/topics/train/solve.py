"""Training steps on the one graph: gradients from `Graph.gradients`, then an optimizer's update.

The model (a network, a graph, or a plain function f(w)) compiles to the `Graph` backprop uses
(`compile_problem`); each step runs its forward pass, takes every parameter's gradient from the
one backward loop, and applies the rule of `optimizers.py`. Every state variable is a `Step` with a
stable name: ``W[1][t=2]`` (a parameter after step 2), ``g(W[1])[t=2]`` (the gradient used in step
2), ``m(W[1])[t=2]``, ``L[t=2]`` (the loss at the weights after step 2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any

import numpy as np

from hwsolve.autodiff.graph import Graph, Node
from hwsolve.core import values as T
from hwsolve.core.numfmt import fmt_number
from hwsolve.core.records import Solution, Step
from hwsolve.core.sym import Const, Symbol, to_latex
from hwsolve.topics.backprop.solve import compile_problem
from hwsolve.topics.train import optimizers as O
from hwsolve.topics.train.spec import TORCH_DEFAULTS, USES, TrainProblem

HYPER = {"lr": ("alpha", r"\alpha"), "momentum": ("mu", r"\mu"), "beta1": ("beta1", r"\beta_1"),
         "beta2": ("beta2", r"\beta_2"), "rho": ("rho", r"\rho"), "eps": ("eps", r"\epsilon"),
         "weight_decay": ("lambda", r"\lambda"), "initial_accumulator": ("G0", r"G_0")}
NAMES = {"sgd": "SGD", "momentum": "SGD with momentum", "nesterov": "Nesterov momentum",
         "adagrad": "AdaGrad", "rmsprop": "RMSProp", "adam": "Adam"}


def _val(node: Node) -> np.ndarray:
    assert node.value is not None, f"{node.name} has no value yet"   # forward() runs first
    return node.value


def state_name(state: str, param: Node, t: int) -> Symbol:
    """`m(W[1])[t=2]`; a parameter's own value is `W[1][t=2]`."""
    if state == "w":
        return Symbol(f"{param.name}[t={t}]", rf"{{{to_latex(param.label)}}}_{{({t})}}")
    latex = {"mhat": r"\hat{m}", "vhat": r"\hat{v}", "w_ahead": r"\tilde{w}"}.get(state, state)
    return Symbol(f"{state}({param.name})[t={t}]", rf"{latex}_{{{t}}}({to_latex(param.label)})")


@dataclass
class _Param:
    node: Node
    state: dict[str, np.ndarray] = field(default_factory=dict)


class _Run:
    """One run of T steps: the graph, the optimizer's settings, the records written so far."""

    def __init__(self, p: TrainProblem):
        self.p, self.opt = p, p.optimizer
        self.compiled = compile_problem(p.model)
        self.g: Graph = self.compiled.graph
        self.loss = self.compiled.loss
        self.params = [_Param(n) for n in self.g.nodes if n.kind == "param"]
        self.convention = self.opt.convention
        self.h = {k: getattr(self.opt, k) for k in HYPER}
        self.h_sym = {k: Symbol(*HYPER[k]) for k in HYPER}
        self.h_const = {k: Const(v) for k, v in self.h.items()}
        self.sol = Solution(p.title, "train", sections={"given": "Given (t = 0)"})
        self.sol.source, self.sol.question = p.source, p.question
        self.losses: list[Any] = []
        self.grads_seen: list[dict[str, np.ndarray]] = []
        self.lrs: list[Any] = []     # the learning rate each step used (a schedule changes it)
        self.base_lr = self.h["lr"]
        self.floated = 0             # the step after which the weights went on in float64 (0: exact)

    # -- records ------------------------------------------------------------------------------

    def add(self, name: Symbol, section: str, value: np.ndarray, formula=None, substituted=None,
            note: str = "", matrix: bool = False) -> None:
        self.sol.add(Step(name.text, section, formula=formula, value=T.plain(value, matrix),
                          shape=T.math_shape(value, matrix), substituted=substituted, note=note, label=name))

    def loss_step(self, t: int, section: str) -> None:
        sym = Symbol(f"{self.loss.name}[t={t}]", rf"{to_latex(self.loss.label)}_{{({t})}}")
        self.losses.append(T.plain(_val(self.loss)))
        self.add(sym, section, _val(self.loss), formula=self.loss.label,
                 note="the loss at the weights of step t" if t else "the loss before training")

    # -- the steps ----------------------------------------------------------------------------

    def given(self) -> None:
        for prm in self.params:
            self.add(state_name("w", prm.node, 0), "given", _val(prm.node), matrix=prm.node.matrix)
            for s in O.STATES[(self.opt.type, self.convention)]:
                prm.state[s] = T.zeros_like(_val(prm.node))
            if self.opt.type == "adagrad" and self.opt.initial_accumulator:
                # PyTorch's initial_accumulator_value (Keras: 0.1): G starts there, not at 0
                prm.state["G"] = O.Numbers.add(prm.state["G"], self.opt.initial_accumulator)
        self.g.forward()
        self.loss_step(0, "given")

    def step(self, t: int) -> None:
        section = f"t{t}"
        self.sol.sections[section] = f"Step {t}"
        if self.opt.schedule:
            self.scheduled_lr(t, section)
        self.lrs.append(self.h["lr"])
        if self.opt.type == "nesterov" and self.convention == "sheet":
            self.look_ahead(t, section)
        self.g.forward()
        grads = self.g.gradients(self.loss)
        self.grads_seen.append({})
        new_values = []
        for prm in self.params:
            w = _val(prm.node) if "w_ahead" not in prm.state else prm.state.pop("w_before")
            dw = grads.get(prm.node)
            dw = T.zeros_like(w) if dw is None else dw
            self.grads_seen[-1][prm.node.name] = dw
            new_values.append(self.update(prm, w, dw, t, section))
        for prm, value in zip(self.params, new_values, strict=True):
            prm.node.value = value
        if not self.floated and any(_too_long(v) for v in new_values):
            self.to_floats(t)
        self.g.forward()
        self.loss_step(t, section)

    def to_floats(self, t: int) -> None:
        """Weights and optimizer states in float64 from here on: exact ones gain the learning rate's
        digits every step, and their arithmetic slows with them (1,000 steps of 30-digit decimals
        ran into the time budget), while nobody reads 600 digits."""
        for prm in self.params:
            prm.node.value = T.to_float(_val(prm.node))
            prm.state = {k: T.to_float(v) if T.is_exact(v) else v for k, v in prm.state.items()}
        self.floated = t
        self.sol.notes.append(f"After step {t} the exact weights had more than {EXACT_TRAIN_BITS * 3 // 10} digits: "
                              "the later steps are computed in float64 (printed to the precision asked).")

    def scheduled_lr(self, t: int, section: str) -> None:
        """alpha for step t, as PyTorch's scheduler gives it when stepped after every update: step t
        sees the schedule at t - 1 (step 1 uses the base rate). The update formulas then read lr[t=t]."""
        assert self.opt.schedule is not None    # step() calls this only with a schedule
        value, formula, substituted = schedule_value(self.opt.schedule, self.base_lr, t)
        sym = Symbol(f"lr[t={t}]", rf"\alpha_{{{t}}}")
        self.add(sym, section, T.exact([[value]]) if isinstance(value, Fraction) else np.array([[value]]),
                 formula=formula, substituted=substituted, note=f"the learning rate of step {t}")
        self.h["lr"], self.h_sym["lr"], self.h_const["lr"] = value, sym, Const(value)

    def look_ahead(self, t: int, section: str) -> None:
        """Nesterov (Sutskever et al. 2013): the gradient is taken at w + mu m, not at w."""
        for prm in self.params:
            w, m = _val(prm.node), prm.state["m"]
            ahead = O.Numbers.add(w, O.Numbers.mul(self.h["momentum"], m))
            sw, sm = state_name("w", prm.node, t - 1), state_name("m", prm.node, t - 1)
            self.add(state_name("w_ahead", prm.node, t), section, ahead, formula=sw + self.h_sym["momentum"] * sm,
                     substituted=Const(T.plain(w)) + self.h_const["momentum"] * Const(T.plain(m)),
                     note="the look-ahead point, where the gradient is taken", matrix=prm.node.matrix)
            prm.state["w_before"], prm.state["w_ahead"] = w, ahead
            prm.node.value = ahead

    def update(self, prm: _Param, w: np.ndarray, dw: np.ndarray, t: int, section: str) -> np.ndarray:
        node, opt = prm.node, self.opt
        prm.state.pop("w_ahead", None)
        gsym = state_name("g", node, t)
        dsym = self.g.grad_symbol(node)
        ahead = opt.type == "nesterov" and self.convention == "sheet"
        where = "the look-ahead point" if ahead else f"{node.name}[t={t - 1}]"
        if opt.weight_decay and not opt.decoupled:
            g = O.l2_gradient(O.Numbers, dw, w, self.h)
            self.add(gsym, section, g, formula=O.l2_gradient(O.Symbols, dsym, state_name("w", node, t - 1), self.h_sym),
                     substituted=O.l2_gradient(O.Symbols, Const(T.plain(dw, node.matrix)),
                                               Const(T.plain(w, node.matrix)), self.h_const),
                     note=f"{dsym.text} at {where}, plus the L2 term's gradient lambda w", matrix=node.matrix)
        else:
            g = dw
            self.add(gsym, section, g, formula=dsym, note=f"{dsym.text} at {where}", matrix=node.matrix)
        return self.apply_rule(prm, w, g, t, section)

    def apply_rule(self, prm: _Param, w, g, t: int, section: str) -> np.ndarray:
        node, opt = prm.node, self.opt
        fn = O.rule(opt.type, self.convention)
        made: dict[str, np.ndarray] = {}

        def numeric(name, value):
            made[name] = value
            return value

        w_new = fn(O.Numbers, numeric, w, g, prm.state, self.h, t)
        formulas: dict[str, Any] = {}

        def symbolic(name, expr):
            formulas[name] = expr
            return state_name(name, node, t)

        sym_state = {k: state_name(k, node, t - 1) for k in prm.state}
        w_sym = fn(O.Symbols, symbolic, state_name("w", node, t - 1), state_name("g", node, t), sym_state,
                   self.h_sym, t)
        substituted: dict[str, Any] = {}

        def numbers(name, expr):
            substituted[name] = expr
            return Const(T.plain(made[name], node.matrix))

        const_state = {k: Const(T.plain(v, node.matrix)) for k, v in prm.state.items()}
        w_const, g_const = Const(T.plain(w, node.matrix)), Const(T.plain(g, node.matrix))
        w_sub = fn(O.Symbols, numbers, w_const, g_const, const_state, self.h_const, t)
        if opt.weight_decay and opt.decoupled:
            w_new = O.decay(O.Numbers, w_new, w, self.h)
            w_sym = O.decay(O.Symbols, w_sym, state_name("w", node, t - 1), self.h_sym)
            w_sub = O.decay(O.Symbols, w_sub, w_const, self.h_const)
        for name, value in made.items():
            self.add(state_name(name, node, t), section, value, formula=formulas[name],
                     substituted=substituted[name], matrix=node.matrix)
            if name in prm.state:
                prm.state[name] = value
        self.add(state_name("w", node, t), section, w_new, formula=w_sym, substituted=w_sub, matrix=node.matrix)
        return w_new


# cos(pi q) for the q where it is rational: a cosine schedule stays exact there (no 6e-17 for 0)
_EXACT_COS = {Fraction(0): Fraction(1), Fraction(1, 3): Fraction(1, 2), Fraction(1, 2): Fraction(0),
              Fraction(2, 3): Fraction(-1, 2), Fraction(1): Fraction(-1)}


def schedule_value(sched: dict, base, t: int) -> tuple[Any, Any, Any]:
    """(alpha_t, its formula, the numbers substituted) of a schedule at step t (PyTorch's closed forms
    of StepLR, ExponentialLR and CosineAnnealingLR at epoch t - 1)."""
    alpha = Symbol("alpha", r"\alpha")
    kind, e = sched["type"], t - 1
    if kind in ("step", "exponential"):
        k = e // sched["step_size"] if kind == "step" else e
        gamma = sched["gamma"]
        value = base * gamma ** k
        gsym = Symbol("gamma", r"\gamma")
        return value, alpha * gsym ** Const(k), Const(base) * Const(gamma) ** Const(k)
    T_max, eta = sched["T_max"], sched["eta_min"]
    q = Fraction(e, T_max) % 2
    exact = isinstance(base, Fraction) and isinstance(eta, Fraction) and q in _EXACT_COS
    cos = _EXACT_COS[q] if exact else math.cos(math.pi * e / T_max)
    value = eta + (base - eta) * (1 + cos) / 2 if exact else float(eta) + (float(base) - float(eta)) * (1 + cos) / 2
    pi_term = Symbol(f"cos(pi * {e}/{T_max})", rf"\cos(\pi \cdot {e}/{T_max})")
    eta_sym = Symbol("eta_min", r"\eta_{\min}")
    formula = eta_sym + (alpha - eta_sym) * (Const(1) + pi_term) / Const(2)
    return value, formula, Const(eta) + (Const(base) - Const(eta)) * (Const(1) + Const(cos)) / Const(2)


EXACT_TRAIN_BITS = 2000   # about 600 digits: past them a weight goes on in float64 (_Run.to_floats)


def _too_long(a) -> bool:
    return T.is_exact(a) and any(max(x.numerator.bit_length(), x.denominator.bit_length()) > EXACT_TRAIN_BITS
                                 for x in a.flat)


def solve(p: TrainProblem) -> Solution:
    run = _Run(p)
    sol = run.sol
    if p.show_forward:
        _first_pass(run)
    run.given()
    for t in range(1, p.steps + 1):
        run.step(t)
    if p.show_forward:
        _forward_after(run)
    sol.notes[:0] = _notes(run) + list(p.notes)
    sol.summary = [state_name("w", prm.node, p.steps).text for prm in run.params] + \
        [f"{run.loss.name}[t={t}]" for t in range(p.steps + 1)]
    sol.summary_title = f"After {p.steps} step{'s' if p.steps != 1 else ''}"
    return sol


def _first_pass(run: _Run) -> None:
    """One training step as a student writes it: the forward pass and the chain rule first."""
    g, sol = run.g, run.sol
    g.forward()
    sol.sections["forward"] = "Forward pass (t = 0)"
    sol.sections["backward"] = "Backward pass (t = 0: the gradients of step 1)"
    g.forward_steps(sol, "forward")
    g.backward(run.loss, sol, "gradient", "backward", None)


def _forward_after(run: _Run) -> None:
    t = run.p.steps
    key = "after"
    run.sol.sections[key] = f"Forward pass after step {t}"
    scratch = Solution("", "")
    run.g.forward_steps(scratch, key)
    taken = {s.name for s in run.sol.steps}
    for s in scratch.steps:
        # the loss after the last step is a step already (L[t=T]): the same name twice would be two keys
        if f"{s.name}[t={t}]" not in taken:
            run.sol.add(replace(s, name=f"{s.name}[t={t}]"))


def _notes(run: _Run) -> list[str]:
    opt, h = run.opt, run.h
    h = {**h, "lr": run.base_lr}     # a schedule changes h["lr"] step by step: the setting is the base rate
    settings = ", ".join(f"{HYPER[k][0]} = {fmt_number(h[k])}" for k in _settings(run))
    notes = [f"Optimizer: {NAMES[opt.type]}" + _convention_text(run) + f"; {settings}."]
    for (kind, key), theirs in TORCH_DEFAULTS.items():
        if opt.type == kind and key not in opt.given:
            notes.append(f"{key} = {fmt_number(h[key])} is hwsolve's default (not given); PyTorch's "
                         f"default for {NAMES[kind]} is {theirs}: give {key} to match a key computed with it.")
    if opt.weight_decay:
        if opt.decoupled:
            notes.append("Weight decay is decoupled (AdamW): w <- (the rule's w) - alpha lambda w[t-1], "
                         "not added to the gradient; " + DECOUPLED_VS_L2[opt.type])
        else:
            notes.append(f"L2 in the loss: {run.loss.name} + (lambda/2) ||w||^2, so g = dL/dw + lambda w; "
                         f"the {run.loss.name}[t] lines are the loss without the L2 term.")
    if opt.schedule:
        notes.append(_schedule_note(opt.schedule))
    if "convention" not in opt.given and (opt.type == "nesterov" or (opt.type == "momentum" and opt.schedule)):
        why = ("Nesterov's two forms give different weights" if opt.type == "nesterov"
               else "With a schedule the momentum conventions give different weights")
        other = ("the look-ahead form, g at w + mu m" if opt.type == "nesterov"
                 else "m <- mu m - alpha_t g, w <- w + m")
        notes.append(f"{why}; the convention was not given, so PyTorch's is used (torch.optim.SGD"
                     f"{'(nesterov=True)' if opt.type == 'nesterov' else ''}); convention: sheet for {other}.")
    if opt.type in ("adagrad", "rmsprop", "adam"):
        notes.append("Square roots are taken in floating point; the other states stay exact while "
                     "the inputs are rational.")
    notes += _momentum_agreement(run)
    notes.append(_trend(run))
    return notes


# how decoupled decay differs from L2 in the loss, per rule (the note used to say "with Adam" for all)
DECOUPLED_VS_L2 = {
    "sgd": "for plain SGD this is the same step as L2 in the loss.",
    "momentum": "with momentum this differs from L2 in the loss, whose lambda w enters the velocity and "
                "is carried into later steps (SGDW, Loshchilov and Hutter 2019).",
    "nesterov": "with momentum this differs from L2 in the loss, whose lambda w enters the velocity and "
                "is carried into later steps (SGDW, Loshchilov and Hutter 2019).",
    "adagrad": "with AdaGrad this differs from L2 in the loss, whose lambda w is divided by sqrt(G) "
               "with the rest of the gradient (and adds to G).",
    "rmsprop": "with RMSProp this differs from L2 in the loss, whose lambda w is divided by sqrt(s) "
               "with the rest of the gradient (and adds to s).",
    "adam": "with Adam this differs from L2 in the loss, whose lambda w is rescaled by 1 / sqrt(vhat).",
}


def _schedule_note(sched: dict) -> str:
    kind = sched["type"]
    if kind == "step":
        what = (f"StepLR(step_size={sched['step_size']}, gamma={fmt_number(sched['gamma'])}): "
                "alpha_t = alpha gamma^floor((t - 1) / step_size)")
    elif kind == "exponential":
        what = f"ExponentialLR(gamma={fmt_number(sched['gamma'])}): alpha_t = alpha gamma^(t - 1)"
    else:
        what = (f"CosineAnnealingLR(T_max={sched['T_max']}, eta_min={fmt_number(sched['eta_min'])}): alpha_t = "
                "eta_min + (alpha - eta_min)(1 + cos(pi (t - 1) / T_max)) / 2")
    return ("Learning-rate schedule: PyTorch's " + what + ", the scheduler stepped once after every update "
            "(step 1 uses alpha itself); lr[t] is the rate step t used.")


def _settings(run: _Run) -> list[str]:
    keys = ["lr"] + sorted(USES[run.opt.type] - {"convention", "initial_accumulator"})
    if run.opt.type == "adagrad" and run.opt.initial_accumulator:
        keys.append("initial_accumulator")
    if run.opt.weight_decay:
        keys.append("weight_decay")
    return keys


def _convention_text(run: _Run) -> str:
    if run.opt.type == "momentum":
        return (" (the sheet's convention: m <- mu m - alpha g, w <- w + m)" if run.convention == "sheet"
                else " (PyTorch's convention: v <- mu v + g, w <- w - alpha v)")
    if run.opt.type == "nesterov":
        return (" (look-ahead form: g at w + mu m; m <- mu m - alpha g, w <- w + m)" if run.convention == "sheet"
                else " (PyTorch's form: v <- mu v + g, w <- w - alpha (g + mu v))")
    return ""


def _momentum_agreement(run: _Run) -> list[str]:
    """Run the other momentum convention on the same gradients and say whether the weights agree."""
    if run.opt.type != "momentum":
        return []
    mu = run.h["momentum"]
    agree = True
    for prm in run.params:
        m = v = T.zeros_like(_val(prm.node))
        for lr, grads in zip(run.lrs, run.grads_seen, strict=True):
            g = grads[prm.node.name]
            m = O.Numbers.sub(O.Numbers.mul(mu, m), O.Numbers.mul(lr, g))
            v = O.Numbers.add(O.Numbers.mul(mu, v), g)
            agree = agree and _same(m, O.Numbers.mul(-lr, v))
    if agree:
        return ["The two momentum conventions agree at every step: the sheet's m is PyTorch's "
                "-alpha v (constant alpha, both starting at 0), so the weights are the same."]
    why = (": the learning rate changes, and m keeps each step's own rate while -alpha v applies the new "
           "rate to the whole velocity" if len(set(map(str, run.lrs))) > 1 else " (m differs from -alpha v)")
    return [f"The two momentum conventions do NOT agree here{why}; the weights above follow the "
            f"{'sheet' if run.convention == 'sheet' else 'PyTorch'} convention."]


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = T.unify(a, b)
    if T.is_exact(a):
        return bool((a == b).all())
    return bool(np.allclose(a, b, rtol=1e-9, atol=1e-12))


def _trend(run: _Run) -> str:
    first, last = run.losses[0], run.losses[-1]
    name, steps = run.loss.name, run.p.steps
    span = f"after {steps} step{'s' if steps != 1 else ''}"
    if not isinstance(first, (int, float)) and not hasattr(first, "denominator"):
        return f"The loss went from {first} to {last} {span}."
    a, b = fmt_number(first), fmt_number(last)
    if last < first:
        return f"The loss {name} went from {a} to {b} {span}: down."
    if last > first:
        return (f"The loss {name} went from {a} to {b} {span}: UP, the step overshot "
                "(the learning rate is too large for this point).")
    return f"The loss {name} stayed at {a} {span}."
