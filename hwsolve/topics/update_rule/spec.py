"""Read `kind: update_rule` specs: the output function and the update of w_i (by hwsolve's own
expression grammar, never by sympy)."""

from __future__ import annotations

from hwsolve.spec import expr as E
from hwsolve.topics.prove.bridge import parse_symbolic
from hwsolve.topics.update_rule.solve import DEFAULT_UPDATE, OUTPUTS, UpdateProblem


def parse(doc) -> UpdateProblem:
    """kind: update_rule; output: sign | identity | tanh | sigmoid; update: the new w_i."""
    from hwsolve.spec.loader import check_header

    root = doc.root
    root.mapping(allowed={"hwsolve", "kind", "title", "source", "notes", "output", "update"})
    check_header(root, "update_rule")
    if not root.has("output"):
        raise root.error("missing required key 'output' (yhat = f(s): one of " + ", ".join(OUTPUTS) + ")")
    output = root["output"].text(set(OUTPUTS))
    text = root["update"].text() if root.has("update") else DEFAULT_UPDATE
    try:
        tree = parse_symbolic(text)
    except E.ExprError as e:
        raise (root["update"] if root.has("update") else root).error(f"update: {e}") from None
    extra = set(E.names(tree)) - {"w_i", "eta", "y", "yhat", "x_i"}
    if extra:
        raise root["update"].error(f"update: unknown names {', '.join(sorted(extra))}; the update may use "
                                   "w_i, eta, y, yhat and x_i")
    title = root["title"].text() if root.has("title") else f"The loss behind the update for yhat = {output}(s)"
    notes = [n.text() for n in root["notes"].items()] if root.has("notes") else []
    return UpdateProblem(title, output, text, tree, notes)
