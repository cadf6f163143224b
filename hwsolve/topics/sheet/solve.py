"""A whole homework sheet (kind: sheet): several problems, each solved by its topic, one report.

The sheet is read by `hwsolve.topics.sheet.spec`. Each part goes through `hwsolve.topics` (the same
parser and solver as its own command), and the parts' solutions are put together into one
`Solution`: the part id in front of every step name and section, a table of contents
(`Solution.parts`, and a `contents` section for the terminal).
"""

from __future__ import annotations

from dataclasses import replace

from hwsolve.core.notation import step_label
from hwsolve.core.records import SheetPart, Solution, Step
from hwsolve.topics.sheet.spec import Sheet


def solve_sheet(sheet: Sheet) -> Solution:
    from hwsolve import topics

    out = Solution(sheet.title, "sheet", sections={"contents": "Contents"})
    out.summary_title = "Results"
    for part in sheet.parts:
        sol = topics.solve(part.problem, part.kind)
        title = part.title or sol.title
        keys = []
        for key, heading in (sol.sections or {s.section: s.section for s in sol.steps}).items():
            if any(s.section == key for s in sol.steps):
                out.sections[f"{part.id}/{key}"] = f"{part.id} · {heading}"
                keys.append(f"{part.id}/{key}")
        for s in sol.steps:
            # the part id goes in front of the key (unique JSON keys), never into the printed label
            label = s.label if s.label is not None else step_label(s.name)
            out.add(replace(s, name=f"{part.id}/{s.name}", section=f"{part.id}/{s.section}", label=label))
        out.summary += [f"{part.id}/{n}" for n in sol.summary]
        out.notes += [f"{part.id}: {n}" for n in sol.notes]
        out.parts.append(SheetPart(part.id, title, part.kind, sections=keys, notes=list(sol.notes),
                                   summary=[f"{part.id}/{n}" for n in sol.summary],
                                   summary_title=sol.summary_title))
        out.steps.insert(len(out.parts) - 1,
                         Step(part.id, "contents", value=title, note=f"kind {part.kind}, "
                              f"{len(keys)} section{'s' if len(keys) != 1 else ''}"))
    out.notes += sheet.notes
    return out


