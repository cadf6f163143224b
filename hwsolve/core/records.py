"""The plain records every engine returns and every renderer reads.

A `Step` is one line of a derivation: a stable ASCII name (the key of JSON output and of student
answer files), the symbolic formula, the numbers substituted into it, and the value. A `Solution`
is the ordered list of steps plus the notes a reader needs (conventions, warnings), and the typed
extras some topics add: a `Figure` (plot data), the `SheetPart`s of a whole sheet, the layout
convention of a derivation.

Values are plain Python (int, Fraction, float, or nested tuples of them), never numpy arrays, so
renderers and graders can read them without importing numpy. Formulas are `hwsolve.core.sym` trees,
printed as text or LaTeX by the renderers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any


@dataclass(frozen=True)
class Step:
    """One line of a derivation.

    name:        stable ASCII key, e.g. ``a[1]`` or ``dL/dW[3]``.
    section:     which part of the printout it belongs to (``forward``, ``backward``, ...).
    formula:     the defining formula, in terms of nearby symbols (a `sym.Expr`), or None.
    expression:  the same quantity written out in the problem's own symbols (backprop's
                 fully expanded chain rule), or None when it equals the formula.
    chain:       the Leibniz chain form of a backward step (``dL/dz[3] * dz[3]/da[3]``), or None.
    substituted: the formula with numbers in place of symbols, or None.
    value:       the result: a scalar, or nested tuples in ``shape``; None for purely symbolic steps.
    shape:       the mathematical shape: () scalar, (n,) column vector, (m, n) matrix.
    note:        one sentence for the reader (a convention used, a branch taken), or "".
    label:       the name as the reader's course writes it, as a `sym.Expr` (for LaTeX), or None.
    """

    name: str
    section: str
    formula: Any = None
    value: Any = None
    shape: tuple[int, ...] = ()
    substituted: Any = None
    expression: Any = None
    chain: Any = None
    note: str = ""
    label: Any = None
    unit: str = ""

    @property
    def exact(self) -> bool:
        """True when the value is rational (no float anywhere in it)."""
        return self.value is not None and _is_exact(self.value)


@dataclass(frozen=True)
class PictureNode:
    """One node of a computation graph as drawn: what it is, its value and its gradient.

    role:     "input" | "target" | "param" | "const" (a number) | "named" (a spec line's or a
              layer's own value) | "inner" (an operation inside a spec line) | "loss"
    operator: the rule's drawing label ("+", "ReLU", "W z + b"); "" for a leaf.
    parents:  (index of the operand in `GraphPicture.nodes`, edge label) per operand.
    gradient: the printed dL/d(node), or None (the loss itself, or a node off every path).
    """

    name: str
    role: str
    operator: str = ""
    value: Any = None
    gradient: Any = None
    wants_grad: bool = False
    parents: tuple[tuple[int, str], ...] = ()


@dataclass(frozen=True)
class GraphPicture:
    """A computation graph as a renderer draws it (render/dot.py): nodes in topological order."""

    title: str
    nodes: tuple[PictureNode, ...]


@dataclass
class Solution:
    """The answer to one problem: its steps in order, the sections they fall in, and notes."""

    title: str
    kind: str
    steps: list[Step] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    sections: dict[str, str] = field(default_factory=dict)  # section key -> heading, in order
    summary: list[str] = field(default_factory=list)   # names of the steps the final table repeats
    summary_title: str = "Results"
    source: str = ""                     # where the problem comes from (a course, a sheet)
    question: str = ""                   # the sheet's question, as the spec quotes it
    layout: str = ""                     # "numerator" or "gradient": the Jacobian convention used
    symbolic: bool = False               # a derivation in symbols (derive), not numbers
    sizes: dict[str, int] = field(default_factory=dict)  # derive: the sizes used for its numeric check
    figure: Figure | None = None         # plot data, drawn by hwsolve.render.plot
    parts: list[SheetPart] = field(default_factory=list)  # a sheet's table of contents, in order
    inline_notes: list[str] = field(default_factory=list)  # sections whose notes sit beside their lines
    graph: GraphPicture | None = None    # backprop: the graph, for drawings

    def add(self, step: Step) -> Step:
        self.steps.append(step)
        return step

    def continued(self, head: str) -> str:
        """The stable name of a continuation line of `head`'s derivation (`dL/da (line 2)`):
        a line that continues the one above still needs a name, the key of JSON output."""
        k = sum(1 for s in self.steps if s.name == head or s.name.startswith(f"{head} (line "))
        return f"{head} (line {k + 1})"

    def step(self, name: str) -> Step:
        for s in self.steps:
            if s.name == name:
                return s
        raise KeyError(name)

    def by_name(self) -> dict[str, Step]:
        return {s.name: s for s in self.steps}

    def in_section(self, section: str) -> list[Step]:
        return [s for s in self.steps if s.section == section]


@dataclass(frozen=True)
class Series:
    """One curve or set of points: ``style`` is "points" (markers joined) or "line" (a smooth curve)."""

    key: str                  # stable ASCII name (chart step names use it)
    label: str                # the legend text
    x: list
    y: list[float]
    style: str = "points"


@dataclass(frozen=True)
class Mark:
    """A reference line across the plot: horizontal at y = ``at``, or vertical at x = ``at``."""

    at: float
    label: str


@dataclass
class Figure:
    """Plot data from an engine (plain numbers); renderers draw it, engines never do."""

    title: str
    xlabel: str
    ylabel: str
    series: list[Series] = field(default_factory=list)
    hlines: list[Mark] = field(default_factory=list)
    vlines: list[Mark] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain data: the JSON output's ``meta.figure`` and what plot files embed."""
        out: dict[str, Any] = {
            "title": self.title, "xlabel": self.xlabel, "ylabel": self.ylabel,
            "series": [{"key": s.key, "label": s.label, "x": list(s.x), "y": list(s.y), "style": s.style}
                       for s in self.series]}
        if self.hlines:
            out["hlines"] = [{"y": m.at, "label": m.label} for m in self.hlines]
        if self.vlines:
            out["vlines"] = [{"x": m.at, "label": m.label} for m in self.vlines]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Figure:
        return cls(data["title"], data["xlabel"], data["ylabel"],
                   [Series(s["key"], s["label"], s["x"], s["y"], s.get("style", "points")) for s in data["series"]],
                   [Mark(m["y"], m["label"]) for m in data.get("hlines", [])],
                   [Mark(m["x"], m["label"]) for m in data.get("vlines", [])])


@dataclass(frozen=True)
class SheetPart:
    """One part of a sheet's report: its id and title, and which sections, notes and summary are its own."""

    id: str
    title: str
    kind: str
    sections: list[str]
    notes: list[str]
    summary: list[str]
    summary_title: str = "Results"

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "kind": self.kind, "sections": list(self.sections),
                "notes": list(self.notes), "summary": list(self.summary), "summary_title": self.summary_title}


def _is_exact(value: Any) -> bool:
    if isinstance(value, tuple):
        return all(_is_exact(v) for v in value)
    return isinstance(value, (int, Fraction)) and not isinstance(value, bool)
