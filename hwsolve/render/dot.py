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

INSTALL_HINT = ("Graphviz's 'dot' program is not installed, so --svg/--png cannot render the "
                "drawing. Install Graphviz (Debian/Ubuntu: sudo apt-get install graphviz; macOS: "
                "brew install graphviz; Windows: winget install graphviz; or "
                "https://graphviz.org/download/), or write the DOT text with --dot FILE and "
                "render it elsewhere.")
RENDER_TIMEOUT = 60


def _q(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def operator_text(op) -> str:
    from hwsolve.autodiff import ops as O

    if isinstance(op, O.Sum):
        return "+"
    if isinstance(op, O.Product):
        return "*"
    if isinstance(op, O.Quotient):
        return "/"
    if isinstance(op, O.Power):
        return "^"
    if isinstance(op, O.Negate):
        return "-"
    if isinstance(op, O.Extremum):
        return op.which
    if isinstance(op, O.Activation):
        return op.fn.label(**op.params)
    if isinstance(op, O.Identity):
        return "="
    if isinstance(op, O.LossOp):
        return op.loss.key
    if isinstance(op, O.Linear):
        return "W z + b"
    if isinstance(op, O.Softmax):
        return "softmax"
    return op.key


def _edge_label(op, i: int) -> str:
    from hwsolve.autodiff import ops as O

    if isinstance(op, O.Sum) and op.signs[i] < 0:
        return "-"
    if isinstance(op, O.Quotient):
        return ("numerator", "denominator")[i]
    if isinstance(op, O.Power):
        return ("base", "exponent")[i]
    if isinstance(op, O.LossOp) and i == 1:
        return "target"
    return ""


def graph_dot(problem, solution, precision: int = DEFAULT_PRECISION) -> str:
    """The DOT text: compiles the problem again (cheap) for the structure and values, and takes
    the gradients from the solution's backward steps, so the drawing shows what was printed."""
    from hwsolve.core import values as T
    from hwsolve.topics.backprop.solve import compile_problem
    from hwsolve.core.sym import Const, to_text

    c = compile_problem(problem)
    g = c.graph
    g.forward()
    steps = solution.by_name()

    def num(v) -> str:
        return to_text(Const(v), precision)

    def value_lines(node) -> list[str]:
        out = [f"= {num(T.plain(node.value))}"]
        if node is c.loss:
            return out
        s = steps.get(g.grad_symbol(node).text)
        if s is not None:
            out.append(f"grad {num(s.value)}")
        elif node.wants_grad:
            out.append("grad 0 (does not reach the output)" if node.kind != "target" else "")
        return [x for x in out if x]

    ids = {node: f"n{i}" for i, node in enumerate(g.nodes)}
    # a spec line's own node (or a network's) is a variable; an operation inside a line is not
    named = {n for n in g.nodes if n.op is not None and n.kind != "const"
             and getattr(n.op, "owner", None) is None}
    lines = [f"digraph {_q(solution.title)} {{",
             "  // values: ellipses (grey = observed input or target, bold = parameter);",
             "  // operators: rounded boxes; the loss: a red box; numbers: plain text.",
             "  rankdir=LR;",
             f"  label={_q(solution.title)}; labelloc=t; fontsize=14;",
             '  node [fontname="Helvetica", fontsize=11];',
             '  edge [fontname="Helvetica", fontsize=9];']
    for node in g.nodes:
        nid = ids[node]
        if node.op is None:
            style = {"input": 'style=filled, fillcolor="#dddddd"',
                     "target": 'style=filled, fillcolor="#dddddd"',
                     "param": "style=bold"}.get(node.kind, "")
            label = "\n".join([node.name] + value_lines(node))
            lines.append(f"  {nid} [label={_q(label)}, shape=ellipse{', ' + style if style else ''}];")
            continue
        if node.kind == "const":
            if node.show:  # a spec node defined as a number
                label = f"{node.name}\n= {num(T.plain(node.value))}"
                lines.append(f"  {nid} [label={_q(label)}, shape=ellipse];")
            else:
                lines.append(f"  {nid} [label={_q(num(T.plain(node.value)))}, shape=plaintext];")
            continue
        op_id = f"o{nid[1:]}"
        if node in named:
            lines.append(f"  {op_id} [label={_q(operator_text(node.op))}, shape=box, style=rounded];")
            if node is c.loss and not (getattr(problem, "loss", None) is not None
                                       and getattr(problem.loss, "output", False)):
                label = "\n".join([node.name] + value_lines(node))
                lines.append(f'  {nid} [label={_q(label)}, shape=box, style=filled, fillcolor="#f4cccc"];')
            else:
                label = "\n".join([node.name] + value_lines(node))
                lines.append(f"  {nid} [label={_q(label)}, shape=ellipse];")
            lines.append(f"  {op_id} -> {nid};")
        else:
            label = "\n".join([operator_text(node.op), node.name] + value_lines(node))
            lines.append(f"  {op_id} [label={_q(label)}, shape=box, style=rounded];")
    for node in g.nodes:
        if node.op is None or node.kind == "const" and not node.parents:
            continue
        target = f"o{ids[node][1:]}"
        for i, p in enumerate(node.parents):
            src = ids[p] if (p.op is None or p.kind == "const" or p in named) else f"o{ids[p][1:]}"
            lab = _edge_label(node.op, i)
            attrs = []
            if lab:
                attrs.append(f"label={_q(lab)}")
            if lab == "target":
                attrs.append("style=dashed")
            lines.append(f"  {src} -> {target}{' [' + ', '.join(attrs) + ']' if attrs else ''};")
    lines.append("}")
    return "\n".join(lines) + "\n"


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


def write_drawings(problem, solution, precision: int, dot: str | None = None,
                   svg: str | None = None, png: str | None = None) -> None:
    """Write each requested file whole (or not at all); renders everything before writing."""
    from hwsolve.core.fileio import write_atomic

    text = graph_dot(problem, solution, precision)
    out: list[tuple[str, bytes | str]] = []
    if dot:
        out.append((dot, text))
    if svg:
        out.append((svg, render_with_dot(text, "svg")))
    if png:
        out.append((png, render_with_dot(text, "png")))
    for path, data in out:
        write_atomic(path, data)
