"""Reading a gradient-flow spec (docs/hparam-gradflow.md) into a `GradflowProblem`.

Parsing only: `hwsolve.topics.gradflow.solve` computes. `load(path)` reads a file, `parse(doc)` a
loaded `Doc` (the `hwsolve.topics` parser signature).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

MAX_DEPTH = 10_000     # layers; the products stay exact, so keep them a sensible size


@dataclass
class Part:
    name: str
    structure: str                     # "plain" or "residual"
    depths: list[int]
    upstream: Fraction                 # dL/dz[n] (plain) or dL/dy[B] (residual)
    local: Fraction | list[Fraction]   # one value for every layer, or one per layer (input first)
    block: int = 1                     # layers per residual block
    interpretation: str = ""


@dataclass
class GradflowProblem:
    title: str = "Gradient flow"
    parts: list[Part] = field(default_factory=list)
    plot: list[str] | None = None      # names of the parts drawn; None = every part with > 1 depth
    compare: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def load(path) -> GradflowProblem:
    from hwsolve.spec.loader import load_yaml

    return parse(load_yaml(path))


def parse(doc) -> GradflowProblem:
    """A problem from a loaded `Doc` (the `hwsolve.topics` parser signature)."""
    from hwsolve.spec.loader import check_header

    root = doc.root
    root.mapping(allowed={"hwsolve", "kind", "title", "source", "notes", "parts", "plot", "compare"})
    check_header(root, "gradflow")
    prob = GradflowProblem(title=root["title"].text() if root.has("title") else GradflowProblem.title)
    if root.has("notes"):
        prob.notes = [f.text() for f in root["notes"].items()]
    if not root.has("parts"):
        raise root.error("missing required key 'parts' (a list of stacks to solve)")
    items = root["parts"].items()
    if not items:
        raise root["parts"].error("expected at least one part")
    names = set()
    for i, f in enumerate(items):
        part = _part(f, i)
        if part.name in names:
            raise f["name"].error(f"part name '{part.name}' appears twice")
        names.add(part.name)
        prob.parts.append(part)
    if root.has("plot"):
        pf = root["plot"]
        pf.mapping(allowed={"parts"})
        prob.plot = []
        for g in pf["parts"].items():
            n = str(g.value)
            if n not in names:
                raise g.error(f"no part named '{n}'; parts are: {', '.join(sorted(names))}")
            prob.plot.append(n)
    if root.has("compare"):
        for g in root["compare"].items():
            pair = [str(h.value) for h in g.items()]
            if len(pair) != 2:
                raise g.error("expected two part names, e.g. [\"5.3\", \"5.2\"]")
            for n, h in zip(pair, g.items(), strict=False):
                if n not in names:
                    raise h.error(f"no part named '{n}'; parts are: {', '.join(sorted(names))}")
            prob.compare.append((pair[0], pair[1]))
    return prob


def _part(f, i: int) -> Part:
    f.mapping(allowed={"name", "structure", "layers", "depths", "upstream", "local", "block",
                       "interpretation"})
    name = str(f.get("name", i + 1))
    structure = f["structure"].text(choices={"plain", "residual"}) if f.has("structure") else "plain"
    depths, where = _depths(f)
    if not f.has("upstream"):
        raise f.error("missing required key 'upstream' (dL/dz[n], or dL/dy for a residual stack)")
    upstream = _exact(f["upstream"])
    if not f.has("local"):
        raise f.error("missing required key 'local' (the layers' local derivatives)")
    local = _local(f["local"], depths)
    block = 1
    if structure == "residual":
        block = f["block"].integer(minimum=1) if f.has("block") else 2
        bad = [n for n in depths if n % block]
        if bad:
            raise (f["block"] if f.has("block") else where).error(
                f"a residual block of {block} layers does not divide the depth {bad[0]}")
    elif f.has("block"):
        raise f["block"].error("'block' is for residual stacks (structure: residual)")
    interp = f["interpretation"].text() if f.has("interpretation") else ""
    return Part(name, structure, sorted(set(depths)), upstream, local, block, interp)


def _depths(f) -> tuple[list[int], Any]:
    """The depths asked (`layers: n`, `depths: [...]` or `depths: {from, to, step}`) and the field
    that gave them (for later errors)."""
    if f.has("layers") and f.has("depths"):
        raise f.error("give 'layers' (one depth) or 'depths' (several), not both")
    if f.has("depths"):
        df = f["depths"]
        if isinstance(df.value, dict):
            df.mapping(allowed={"from", "to", "step"})
            lo, hi = df["from"].integer(minimum=1), df["to"].integer(minimum=1)
            if hi > MAX_DEPTH:  # before range() builds the list
                raise df["to"].error(f"depth {hi} is over the limit of {MAX_DEPTH} layers")
            st = df["step"].integer(minimum=1) if df.has("step") else 1
            if hi < lo:
                raise df.error(f"'to' ({hi}) is below 'from' ({lo})")
            depths = list(range(lo, hi + 1, st))
        else:
            depths = [g.integer(minimum=1) for g in df.items()]
        if not depths:
            raise df.error("expected at least one depth")
        where = df
    elif f.has("layers"):
        depths = [f["layers"].integer(minimum=1)]
        where = f["layers"]
    elif f.has("local") and isinstance(f["local"].value, list) and f["local"].value:
        # a list of local derivatives fixes the depth (docs/hparam-gradflow.md): no need to repeat it
        depths = [len(f["local"].value)]
        where = f["local"]
    else:
        raise f.error("missing required key 'layers' (or 'depths', or a list of local derivatives)")
    if max(depths) > MAX_DEPTH:
        raise where.error(f"depth {max(depths)} is over the limit of {MAX_DEPTH} layers")
    return depths, where


def _local(lf, depths: list[int]) -> Fraction | list[Fraction]:
    """One local derivative for every layer, or a list of one per layer (which fixes the depth)."""
    if not isinstance(lf.value, list):
        return _exact(lf)
    local = [_exact(g) for g in lf.items()]
    if not local:
        raise lf.error("expected at least one local derivative")
    if len(set(depths)) != 1 or depths[0] != len(local):
        raise lf.error(f"a list of {len(local)} local derivatives fixes the depth at "
                       f"{len(local)} layers; depths asked: {', '.join(map(str, depths))}")
    return local


def _exact(f) -> Fraction:
    v = f.number()
    if isinstance(v, float):
        if not math.isfinite(v):
            raise f.error(f"expected a finite number, got {v}")
        return Fraction(v)
    return v


