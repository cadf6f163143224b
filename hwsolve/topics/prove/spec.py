"""Read `kind: prove` specs and the identity text of `hwsolve prove "A = B"`.

The sides are read by hwsolve's own expression grammar (`bridge.parse_symbolic`), never by sympy.
"""

from __future__ import annotations

from hwsolve.core.errors import HwsolveError
from hwsolve.spec import expr as E
from hwsolve.topics.prove.bridge import parse_symbolic
from hwsolve.topics.prove.solve import ProveProblem

MAX_LENGTH = 400


def parse_identity(text: str, title: str | None = None) -> ProveProblem:
    """'A = B' with A and B in the expression language; the '=' is the only thing read here."""
    if not isinstance(text, str) or text.count("=") != 1:
        raise HwsolveError("expected one identity 'left = right', e.g. \"tanh(x) = 2*sigmoid(2*x) - 1\"")
    if len(text) > MAX_LENGTH:
        raise HwsolveError(f"the identity is {len(text)} characters long; the limit is {MAX_LENGTH}")
    left, right = (part.strip() for part in text.split("="))
    sides = []
    for side, where in ((left, "left"), (right, "right")):
        try:
            sides.append(parse_symbolic(side))
        except E.ExprError as e:
            raise HwsolveError(f"the {where} side: {e}") from None
    return ProveProblem(title or f"Show that {left} = {right}", left, right, *sides)


def parse(doc) -> ProveProblem:
    """kind: prove, with `identity: "A = B"` (and optional title, notes)."""
    from hwsolve.spec.loader import check_header

    root = doc.root
    root.mapping(allowed={"hwsolve", "kind", "title", "source", "notes", "identity"})
    check_header(root, "prove")
    if not root.has("identity"):
        raise root.error("missing required key 'identity' (text such as \"tanh(x) = 2*sigmoid(2*x) - 1\")")
    f = root["identity"]
    text, title = f.text(), root["title"].text() if root.has("title") else None  # each says where itself
    try:
        prob = parse_identity(text, title)
    except HwsolveError as e:   # the identity's own problems, placed at its line
        raise f.error(str(e)) from None
    prob.notes = [n.text() for n in root["notes"].items()] if root.has("notes") else []
    return prob
