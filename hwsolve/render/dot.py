"""Graphviz DOT of a backprop problem's graph, every value with its value and gradient.

Shapes follow the convention of the course sheets: values (variables) are ellipses, operators
are rounded boxes holding the operator, the loss is a red box. Observed values (inputs and
targets) are filled grey; parameters are drawn bold; numbers in expressions are plain text.
An operation inside a spec line has no variable of its own: its box carries its value and
gradient. SVG and PNG are rendered by Graphviz's `dot` program when it is installed.
"""

from __future__ import annotations

import shutil
import subprocess

from hwsolve.core.errors import HwsolveError
from hwsolve.core.numfmt import DEFAULT_PRECISION
from hwsolve.core.records import PictureNode, Solution
from hwsolve.core.sym import Const, to_text

INSTALL_HINT = ("Graphviz's 'dot' program is not installed, so --svg/--png cannot render the "
                "drawing. Install Graphviz (Debian/Ubuntu: sudo apt-get install graphviz; macOS: "
                "brew install graphviz; Windows: winget install graphviz; or "
                "https://graphviz.org/download/), or write the DOT text with --dot FILE and "
                "render it elsewhere.")
RENDER_TIMEOUT = 60


def _q(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def graph_dot(solution: Solution, precision: int = DEFAULT_PRECISION) -> str:
    """The DOT text of the solution's graph record: what was printed, drawn."""
    if solution.graph is None:
        raise HwsolveError("this solution has no computation graph to draw")
    nodes = solution.graph.nodes

    def num(v) -> str:
        return to_text(Const(v), precision)

    def label(n: PictureNode, *first: str) -> str:
        out = [*first, n.name, f"= {num(n.value)}"]
        if n.gradient is not None:
            out.append(f"grad {num(n.gradient)}")
        elif n.wants_grad:
            out.append("grad 0 (does not reach the output)")
        return "\n".join(out)

    # a spec line's own node (or a network's) is a variable drawn after its operator's box;
    # an operation inside a line is one box holding its operator, value and gradient
    drawn_as_value = {"input", "target", "param", "const", "const_named", "named", "loss"}
    lines = [f"digraph {_q(solution.title)} {{",
             "  // values: ellipses (grey = observed input or target, bold = parameter);",
             "  // operators: rounded boxes; the loss: a red box; numbers: plain text.",
             "  rankdir=LR;",
             f"  label={_q(solution.title)}; labelloc=t; fontsize=14;",
             '  node [fontname="Helvetica", fontsize=11];',
             '  edge [fontname="Helvetica", fontsize=9];']
    for k, n in enumerate(nodes):
        lines += _node_lines(n, k, label, num)
    for k, n in enumerate(nodes):
        if n.role in ("input", "target", "param") or (n.role.startswith("const") and not n.parents):
            continue
        for src, lab in n.parents:
            p = nodes[src]
            source = f"n{src}" if p.role in drawn_as_value else f"o{src}"
            attrs = ([f"label={_q(lab)}"] if lab else []) + (["style=dashed"] if lab == "target" else [])
            lines.append(f"  {source} -> o{k}{' [' + ', '.join(attrs) + ']' if attrs else ''};")
    lines.append("}")
    return "\n".join(lines) + "\n"


_LEAF_STYLE = {"input": 'style=filled, fillcolor="#dddddd"', "target": 'style=filled, fillcolor="#dddddd"',
               "param": "style=bold"}


def _node_lines(n: PictureNode, k: int, label, num) -> list[str]:
    if n.role in _LEAF_STYLE:
        return [f"  n{k} [label={_q(label(n))}, shape=ellipse, {_LEAF_STYLE[n.role]}];"]
    if n.role == "const_named":   # a spec node defined as a number
        text = n.name + "\n= " + num(n.value)
        return [f"  n{k} [label={_q(text)}, shape=ellipse];"]
    if n.role == "const":
        return [f"  n{k} [label={_q(num(n.value))}, shape=plaintext];"]
    if n.role == "inner":
        return [f"  o{k} [label={_q(label(n, n.operator))}, shape=box, style=rounded];"]
    box = f"  o{k} [label={_q(n.operator)}, shape=box, style=rounded];"
    if n.role == "loss":
        value = f'  n{k} [label={_q(label(n))}, shape=box, style=filled, fillcolor="#f4cccc"];'
    else:
        value = f"  n{k} [label={_q(label(n))}, shape=ellipse];"
    return [box, value, f"  o{k} -> n{k};"]


def require_dot() -> str:
    path = shutil.which("dot")
    if path is None:
        raise HwsolveError(INSTALL_HINT)
    return path


def render_with_dot(text: str, fmt: str) -> bytes:
    exe = require_dot()
    try:
        r = subprocess.run([exe, f"-T{fmt}"], input=text.encode("utf-8"), capture_output=True,
                           timeout=RENDER_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise HwsolveError(f"Graphviz 'dot' took longer than {RENDER_TIMEOUT} s") from None
    except OSError as e:
        raise HwsolveError(f"cannot run Graphviz 'dot': {e.strerror or e}") from None
    if r.returncode != 0 or not r.stdout:
        err = r.stderr.decode("utf-8", "replace").strip().splitlines()
        raise HwsolveError(f"Graphviz 'dot' failed: {err[-1] if err else 'no output'}")
    return r.stdout


def write_drawings(solution: Solution, precision: int, dot: str | None = None,
                   svg: str | None = None, png: str | None = None) -> None:
    """Write each requested file whole (or not at all); renders everything before writing."""
    from hwsolve.core.fileio import write_atomic

    text = graph_dot(solution, precision)
    out: list[tuple[str, bytes | str]] = []
    if dot:
        out.append((dot, text))
    if svg:
        out.append((svg, render_with_dot(text, "svg")))
    if png:
        out.append((png, render_with_dot(text, "png")))
    for path, data in out:
        write_atomic(path, data)
