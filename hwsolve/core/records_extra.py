"""The records only some topics produce: plot data (`Figure`, `Series`, `Mark`) and a sheet's parts
(`SheetPart`); a drawn graph is in records_graph.py.

Apart from records.py (which re-exports them) because each dataclass costs start-up time to build,
and `conv-shape` or a small `backprop` should not pay for plots and sheets (issue 17).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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
