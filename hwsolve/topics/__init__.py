"""Which parser and which solver serve each spec `kind`.

One table, so `backprop`, `grade` and `solve` (whole sheets) dispatch the same way. Entries are
"module:function" strings, imported only when a spec of that kind is loaded, which keeps start-up
free of numpy and sympy. A parser takes a loaded `Doc` (or a `Field` for a part of a sheet) and
returns a problem; a solver takes the problem and returns a `Solution`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from hwsolve.core.errors import SpecError

if TYPE_CHECKING:  # the loader pulls in PyYAML: not for commands such as conv-shape that read no spec
    from hwsolve.spec.loader import Doc

# kind -> (parser, solver)
TOPICS: dict[str, tuple[str, str]] = {
    "network": ("hwsolve.topics.backprop.network_spec:parse_network", "hwsolve.topics.backprop.solve:solve"),
    "graph": ("hwsolve.topics.backprop.graph_spec:parse_graph", "hwsolve.topics.backprop.solve:solve"),
    "derive": ("hwsolve.topics.derive.spec:parse_derive", "hwsolve.topics.derive.solve:solve"),
    "hparam": ("hwsolve.topics.hparam.spec:parse", "hwsolve.topics.hparam.solve:solve"),
    "gradflow": ("hwsolve.topics.gradflow.spec:parse", "hwsolve.topics.gradflow.solve:solve"),
    "conv": ("hwsolve.topics.conv.spec:parse_conv", "hwsolve.topics.conv.solve:solve_conv"),
    "arch": ("hwsolve.topics.arch.spec:parse_arch", "hwsolve.topics.arch.solve:solve_arch"),
    "vit": ("hwsolve.topics.arch.spec:parse_vit", "hwsolve.topics.arch.solve:solve_vit"),
    "activations": ("hwsolve.topics.activations.spec:parse", "hwsolve.topics.activations.solve:solve"),
    "sheet": ("hwsolve.topics.sheet.spec:parse_sheet", "hwsolve.topics.sheet.solve:solve_sheet"),
    "prove": ("hwsolve.topics.prove.spec:parse", "hwsolve.topics.prove.solve:solve"),
    "update_rule": ("hwsolve.topics.update_rule.spec:parse", "hwsolve.topics.update_rule.solve:solve"),
    "recursive": ("hwsolve.topics.recursive.spec:parse", "hwsolve.topics.recursive.solve:solve"),
    "layer": ("hwsolve.topics.layers.spec:parse_layer", "hwsolve.topics.layers.solve:solve_layer"),
    "train": ("hwsolve.topics.train.spec:parse_train", "hwsolve.topics.train.solve:solve"),
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
    from hwsolve.spec.loader import check_version

    check_version(doc)
    kind = kind or kind_of(doc)
    if kind not in TOPICS:
        raise SpecError(f"unknown kind '{kind}'; expected one of: {', '.join(TOPICS)}", file=doc.file)
    return _resolve(TOPICS[kind][0])(doc)


def solve(problem, kind: str):
    return _resolve(TOPICS[kind][1])(problem)


def solve_file_of_kind(path: str, kind: str, command: str):
    """The solution of a spec that must be of one kind (a command's own); a spec of another kind is
    a one-line error naming the command to use."""
    from hwsolve.spec.loader import load_yaml

    doc = load_yaml(path)
    found = kind_of(doc, default=kind)
    if found != kind:
        raise doc.root["kind"].error(f"'{command}' reads kind {kind}; this spec is kind {found}")
    return solve(parse(doc, kind), kind)


def load_and_solve(path: str):
    """Load any spec, solve it, return (problem, solution)."""
    from hwsolve.spec.loader import load_yaml

    doc = load_yaml(path)
    kind = kind_of(doc)
    problem = parse(doc, kind)
    return problem, solve(problem, kind)
