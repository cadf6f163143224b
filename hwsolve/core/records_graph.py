"""A computation graph as drawn (`GraphPicture`, `PictureNode`): what backprop's solver records
for render/dot.py. Apart from records.py (which re-exports them) because each dataclass costs
start-up time to build (issue 17); plot data and sheet parts are in records_extra.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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
