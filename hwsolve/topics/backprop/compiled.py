"""What a backprop spec compiles into, whichever its kind (layered network or graph)."""

from __future__ import annotations

from dataclasses import dataclass

from hwsolve.autodiff.graph import Graph, Node
from hwsolve.core.numfmt import fmt_number


@dataclass
class Compiled:
    """A graph ready to solve, and what the printout needs to know about it."""

    graph: Graph
    loss: Node
    summary: list[Node]       # the nodes whose gradients the final table lists
    notes: list[str]
    layout: str = "gradient"


def kink_notes(used: list, relu_at_zero, suffix: str = "(a convention; conventions.relu_prime_at_zero changes it).",
               prefix: bool = False) -> list[str]:
    """f'(kink) as computed, once per function and parameter set: with the layer's own parameters
    (ELU_0.5'(0) is alpha = 0.5, PyTorch's value, not the default entry's 1)."""
    seen: dict[tuple, str] = {}
    for fn, params in used:
        if fn is None or fn.kink is None:
            continue
        bound = {**fn.params, **params}
        key = (fn.key, tuple(sorted((k, str(v)) for k, v in bound.items())))
        at = relu_at_zero if relu_at_zero is not None else fn.df(fn.kink, **bound)
        head = f"At {fmt_number(fn.kink)}, " if prefix else ""
        # parameters in words, not fn.label's subscript (LeakyReLU_0.1): the note is prose in LaTeX too
        shown = [f"{k} = {fmt_number(v)}" for k, v in bound.items() if v != fn.params.get(k)]
        with_params = f" (with {', '.join(shown)})" if shown else ""
        seen.setdefault(key, f"{head}{fn.text}'({fmt_number(fn.kink)}){with_params} is taken as {fmt_number(at)} "
                             f"{suffix}")
    return [seen[k] for k in sorted(seen)]
