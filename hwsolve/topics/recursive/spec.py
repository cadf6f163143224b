"""Read `kind: recursive` specs (the GAN discriminator of the sheet: only the title, notes and
the objective are settings)."""

from __future__ import annotations

from hwsolve.topics.recursive.solve import RecursiveProblem


def parse(doc) -> RecursiveProblem:
    from hwsolve.spec.loader import check_header

    root = doc.root
    root.mapping(allowed={"hwsolve", "kind", "title", "source", "notes", "objective", "output"})
    check_header(root, "recursive")
    objective = root["objective"].text({"gan"}) if root.has("objective") else "gan"
    if root.has("output"):
        root["output"].text({"sigmoid"})   # the discriminator's output is a probability
    title = root["title"].text() if root.has("title") else "Backpropagation through an L-layer discriminator"
    notes = [n.text() for n in root["notes"].items()] if root.has("notes") else []
    return RecursiveProblem(title, objective, notes)
