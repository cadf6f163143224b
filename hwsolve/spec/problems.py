"""Load a spec file and hand it to the parser for its kind."""

from __future__ import annotations

from hwsolve.spec.loader import load_yaml
from hwsolve.spec.network import check_version, parse_network

BACKPROP_KINDS = ("network", "graph")


def load_backprop(path: str):
    doc = load_yaml(path)
    check_version(doc)
    root = doc.root
    kind = root["kind"].text(set(BACKPROP_KINDS)) if root.has("kind") else "network"
    if kind == "graph":
        from hwsolve.spec.graph import parse_graph

        return parse_graph(doc)
    return parse_network(doc)
