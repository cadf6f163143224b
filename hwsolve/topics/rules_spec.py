"""Reading rule-table entries from specs: one place for every topic.

Which activation and loss names a spec may use, which parameters they take and what the error
says when a name or a value is wrong all come from the rule table (autodiff/functions.py); no
topic lists them. A course's own entry added with `functions.register` is accepted everywhere.
"""

from __future__ import annotations

from fractions import Fraction

from hwsolve.autodiff.functions import (ELEMENTWISE, LOSSES, Elementwise, Loss, function_names, lookup,
                                        lookup_loss, loss_names)
from hwsolve.spec.loader import Field


def expression_functions() -> dict[str, tuple[int, int]]:
    """Function name -> (min, max) arguments for graph expressions: the table's functions take
    their operand, then their parameters in order (leaky_relu(z, 0.1)); the tensor functions
    (sum, softmax, ...) come with the tensor rules."""
    from hwsolve.autodiff.tensor_ops import graph_functions

    return graph_functions()


def activation_keys() -> set[str]:
    """Every parameter name an activation layer mapping may carry."""
    return {p for fn in ELEMENTWISE.values() for p in fn.params}


def loss_param_keys() -> set[str]:
    """Every parameter name a loss mapping may carry."""
    return {p for loss in LOSSES.values() for p in loss.params}


def read_function(f: Field, name: str, extra: str = "") -> Elementwise:
    """The table entry for `name`, or a located error listing the names a spec may use."""
    fn = lookup(name)
    if fn is None:
        raise f.error(f"unknown function '{name}'; expected one of: {', '.join(function_names())}{extra}")
    return fn


def bind_params(f: Field, fn: Elementwise, given: dict[str, Fraction | float]) -> dict:
    """The entry's parameters with `given` applied and checked by the entry itself."""
    try:
        return fn.bind(given)
    except ValueError as e:
        raise f.error(str(e)) from None


def read_loss(f: Field, extra_keys: frozenset[str] = frozenset(), hint: str = "") -> Loss:
    """A loss by name (`mse`) or as a mapping (`{type: huber, delta: 2}`), its parameters bound.

    `extra_keys` are other settings the caller reads from the same mapping (prediction, target).
    """
    v = f.value
    if isinstance(v, dict):
        if "type" not in v:
            raise f.error("missing required key 'type' (one of: " + ", ".join(loss_names()) + ")")
        name = f["type"].text()
        loss = _loss_entry(f["type"], name, hint)
        f.mapping({"type"} | set(loss.params) | set(extra_keys))
        given = {k: f[k].number() for k in loss.params if f.has(k)}
        try:
            return loss.with_params(given)
        except ValueError as e:
            raise f.error(str(e)) from None
    if isinstance(v, str):
        return _loss_entry(f, v, hint)
    raise f.error("expected a loss name, e.g. squared_error")


def _loss_entry(f: Field, name: str, hint: str) -> Loss:
    loss = lookup_loss(name)
    if loss is None:
        raise f.error(f"unknown loss '{name}'; expected one of: {', '.join(loss_names())}{hint}")
    return loss
