"""What a backprop spec compiles into, whichever its kind (layered network or graph)."""

from __future__ import annotations

from dataclasses import dataclass

from hwsolve.autodiff.graph import Graph, Node


@dataclass
class Compiled:
    """A graph ready to solve, and what the printout needs to know about it."""

    graph: Graph
    loss: Node
    summary: list[Node]       # the nodes whose gradients the final table lists
    notes: list[str]
    layout: str = "gradient"
