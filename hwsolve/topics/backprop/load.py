"""Load a spec file for `hwsolve backprop`: a layered network or a computational graph."""

from __future__ import annotations

from hwsolve import topics
from hwsolve.spec.loader import load_yaml

BACKPROP_KINDS = ("network", "graph")


def load_backprop(path: str):
    doc = load_yaml(path)
    kind = topics.kind_of(doc)
    if kind not in BACKPROP_KINDS:
        raise doc.root["kind"].error(f"'backprop' solves kind network or graph; this spec is "
                                     f"kind {kind} (try: hwsolve {kind.replace('_', '-')} {path})")
    return topics.parse(doc, kind)
