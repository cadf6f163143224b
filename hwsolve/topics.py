"""Which parser and which solver serve each spec `kind`.

One table, so `backprop`, `grade` and `solve` (whole sheets) dispatch the same way. Entries are
"module:function" strings, imported only when a spec of that kind is loaded, which keeps start-up
free of numpy and sympy. A parser takes a loaded `Doc` (or a `Field` for a part of a sheet) and
returns a problem; a solver takes the problem and returns a `Solution`.
"""

from __future__ import annotations

import importlib

from hwsolve.errors import SpecError
from hwsolve.spec.loader import Doc, load_yaml

# kind -> (parser, solver)
TOPICS: dict[str, tuple[str, str]] = {
    "network": ("hwsolve.spec.network:parse_network", "hwsolve.engine.backprop:solve"),
    "graph": ("hwsolve.spec.graph:parse_graph", "hwsolve.engine.backprop:solve"),
    "derive": ("hwsolve.spec.derive:parse_derive", "hwsolve.engine.derive:solve"),
    "hparam": ("hwsolve.engine.hparam:parse", "hwsolve.engine.hparam:solve"),
    "gradflow": ("hwsolve.engine.gradflow:parse", "hwsolve.engine.gradflow:solve"),
    "conv": ("hwsolve.spec.conv:parse_conv", "hwsolve.spec.conv:solve_conv"),
    "arch": ("hwsolve.spec.arch:parse_arch", "hwsolve.engine.arch:solve_arch"),
    "vit": ("hwsolve.spec.arch:parse_vit", "hwsolve.engine.arch:solve_vit"),
    "activations": ("hwsolve.engine.activation_plot:parse", "hwsolve.engine.activation_plot:solve"),
    "sheet": ("hwsolve.engine.sheet:parse_sheet", "hwsolve.engine.sheet:solve_sheet"),
}


def _resolve(ref: str):
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


def kind_of(doc: Doc, default: str = "network") -> str:
    root = doc.root
    root.mapping()
    if not root.has("kind"):
        return default
    return root["kind"].text(set(TOPICS))


def parse(doc: Doc, kind: str | None = None):
    from hwsolve.spec.network import check_version

    check_version(doc)
    kind = kind or kind_of(doc)
    if kind not in TOPICS:
        raise SpecError(f"unknown kind '{kind}'; expected one of: {', '.join(TOPICS)}", file=doc.file)
    return _resolve(TOPICS[kind][0])(doc)


def solve(problem, kind: str):
    return _resolve(TOPICS[kind][1])(problem)


def load_and_solve(path: str):
    """Load any spec, solve it, return (problem, solution)."""
    doc = load_yaml(path)
    kind = kind_of(doc)
    problem = parse(doc, kind)
    return problem, solve(problem, kind)
