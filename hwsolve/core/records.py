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
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hwsolve.core.records_extra import Figure, Mark, Series, SheetPart  # noqa: F401  (re-exported)
    from hwsolve.core.records_graph import GraphPicture, PictureNode  # noqa: F401  (re-exported)

# built on first use (module __getattr__): `from hwsolve.core.records import Figure` still works
_EXTRA = ("Figure", "GraphPicture", "Mark", "PictureNode", "Series", "SheetPart")


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


def _is_exact(value: Any) -> bool:
    if isinstance(value, tuple):
        return all(_is_exact(v) for v in value)
    return isinstance(value, (int, Fraction)) and not isinstance(value, bool)


def __getattr__(name: str) -> Any:
    if name in ("GraphPicture", "PictureNode"):
        from hwsolve.core import records_graph

        return getattr(records_graph, name)
    if name in _EXTRA:
        from hwsolve.core import records_extra

        return getattr(records_extra, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
