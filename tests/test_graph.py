"""Graph specs (kind: graph): seed values, path sums, random graphs against an independent
forward-mode derivative, the DOT drawing, and every bad input of issue 3."""

from __future__ import annotations

import math
import os
import re
import stat
import subprocess
import sys
from fractions import Fraction

import pytest
from click.testing import CliRunner
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from hwsolve.cli import main
from hwsolve.topics.backprop.solve import solve
from hwsolve.core.errors import HwsolveError
from hwsolve.topics.backprop.graph_spec import parse_graph
from hwsolve.spec.loader import load_yaml, load_yaml_text


def run(path):
    doc = load_yaml(path)
    return solve(parse_graph(doc))


def values(sol) -> dict:
    return {s.name: s.value for s in sol.steps}


# -- seed 004 Q3b ---------------------------------------------------------------------------

def test_q3b_forward_is_exact(problems_dir):
    v = values(run(problems_dir / "csci5922_q3b.yaml"))
    assert v["H1"] == Fraction(3, 2) and v["H2"] == -1 and v["H3"] == Fraction(3, 2)
    assert v["(H2 / H1)"] == Fraction(-2, 3) and v["H4"] == 2 and v["H5"] == 2
    assert v["R"] == Fraction(-1, 2)


def test_q3b_gradients(problems_dir):
    """Worked by hand: with s = sigmoid(1/2), dL/dR = sigmoid(R) - Y = -s, and every gradient is
    a rational multiple of s (H1 collects s*(-1) via H3, (4/3)(-s) via H2/H1, 0 via H5)."""
    v = values(run(problems_dir / "csci5922_q3b.yaml"))
    s = 1 / (1 + math.exp(-0.5))
    expected = {
        "Yhat": 1 - s, "L": math.log(1 + math.exp(0.5)),
        "dL/dR": -s, "dL/dH3": -s, "dL/dH5": s, "dL/dH4": s,
        "dL/dW2": -2 * s / 3, "dL/dH2": -2 * s, "dL/dB1": -2 * s,
        "dL/dH1": -7 * s / 3, "dL/dW1": -7 * s / 3,
        "dL/dX3": 4 * s, "dL/dX2": -7.5 * s, "dL/dX1": -1.5 * s,
        "dL/dH1 via H3": -s, "dL/dH1 via (H2 / H1)": -4 * s / 3, "dL/dH1 via H5": 0,
        "dL/dX1 via H3": 0,
    }
    for name, want in expected.items():
        assert v[name] == pytest.approx(want, rel=1e-12, abs=1e-15), name
    # the student's table (seed 004, 2-3 figures) agrees once rounded
    student = {"Yhat": 0.378, "L": 0.974, "dL/dH5": 0.622, "dL/dH4": 0.622, "dL/dH3": -0.622,
               "dL/dH2": -1.24, "dL/dH1": -1.45, "dL/dW2": -0.415, "dL/dW1": -1.45,
               "dL/dB1": -1.24, "dL/dX3": 2.49, "dL/dX2": -4.67, "dL/dX1": -0.934}
    for name, got in student.items():
        assert v[name] == pytest.approx(got, abs=0.006), name


def test_q3b_prints_path_sums_and_branches(problems_dir):
    sol = run(problems_dir / "csci5922_q3b.yaml")
    by = sol.by_name()
    assert by["dL/dH1"].note == "sum over 3 paths (H3, (H2 / H1), H5)"
    assert "sum over 3 paths" in by["dL/dX1"].note and "sum over 2 paths" in by["dL/dX2"].note
    assert "min takes H1" in by["H3"].note and "max takes H4" in by["H5"].note
    from hwsolve.core.sym import to_text

    assert to_text(by["dL/dH1 via H5"].formula) == "dL/dH5 * 0"
    assert to_text(by["dL/dH1 via (H2 / H1)"].formula) == "dL/d(H2 / H1) * (-H2 / H1^2)"
    assert to_text(by["dL/dX3"].formula) == "dL/d(X1 * X2 * X3) * (X1 * X2)"
    assert sol.summary[:3] == ["dL/dYhat", "dL/dR", "dL/dH5"]
    assert {"dL/dW1", "dL/dB1", "dL/dW2", "dL/dX1", "dL/dX2", "dL/dX3"} <= set(sol.summary)


def test_q3b_is_deterministic(problems_dir):
    a = run(problems_dir / "csci5922_q3b.yaml")
    b = run(problems_dir / "csci5922_q3b.yaml")
    assert [(s.name, s.value) for s in a.steps] == [(s.name, s.value) for s in b.steps]


def test_q3a_graph_matches_the_table(problems_dir):
    v = values(run(problems_dir / "csci5922_q3a_graph.yaml"))
    assert v["z1"] == -2 and v["H1"] == Fraction(-1, 5) and v["z2"] == 2 and v["z3"] == Fraction(4, 5)
    d = 1 / (1 + math.exp(-0.8))  # dL/dz3 = Yhat - Y with Y = 0
    want = {"dL/dz3": d, "dL/dW3[1]": -d / 5, "dL/dW3[2]": 2 * d, "dL/dB3": d, "dL/dH1": d,
            "dL/dH2": d, "dL/dz1": d / 10, "dL/dz2": d, "dL/dW1[1]": -d / 10, "dL/dW1[2]": d / 10,
            "dL/dB1": d / 10, "dL/dW2[1]": -d, "dL/dW2[2]": d, "dL/dB2": d,
            "dL/dX[1]": -d + d / 10, "dL/dX[2]": d / 2 - d / 10}
    for name, w in want.items():
        assert v[name] == pytest.approx(w, rel=1e-12), name
    assert v["L"] == pytest.approx(-math.log(1 - d), rel=1e-12)


def test_nyu_graph_exact(problems_dir):
    sol = run(problems_dir / "nyu2572_1_5b.yaml")
    v = values(sol)
    # w = a b = 2 x a^2 with a = x y + z: dw/dx = 2 a^2 + 4 x a y, dw/dy = 4 x a x, dw/dz = 4 x a
    assert (v["a"], v["b"], v["w"]) == (5, 10, 50)
    assert (v["dw/dx"], v["dw/dy"], v["dw/dz"], v["dw/da"], v["dw/db"]) == (90, 20, 20, 20, 5)
    assert v["dw/dx via (x + x) (operand 1)"] == 25
    assert all(s.exact for s in sol.steps if s.value is not None)


# -- random graphs against forward-mode dual numbers (an independent method) --------------

class Kink(Exception):
    """At a point where the derivative is not defined (a tie, ReLU at 0, division by 0)."""


def dual(op, args):
    """(value, derivative) of op applied to dual numbers: forward mode, exact Fractions."""
    if op == "+":
        return args[0][0] + args[1][0], args[0][1] + args[1][1]
    if op == "-":
        return args[0][0] - args[1][0], args[0][1] - args[1][1]
    if op == "*":
        (a, da), (b, db) = args
        return a * b, da * b + a * db
    if op == "/":
        (a, da), (b, db) = args
        if b == 0:
            raise ZeroDivisionError
        return a / b, (da * b - a * db) / (b * b)
    if op in ("^2", "^3"):
        n = int(op[1])
        a, da = args[0]
        return a ** n, n * a ** (n - 1) * da
    if op == "neg":
        return -args[0][0], -args[0][1]
    if op in ("min", "max"):
        vals = [a for a, _ in args]
        best = min(vals) if op == "min" else max(vals)
        if vals.count(best) > 1:
            raise Kink
        return args[vals.index(best)]
    if op in ("relu", "abs"):
        a, da = args[0]
        if a == 0:
            raise Kink
        if op == "relu":
            return (a, da) if a > 0 else (Fraction(0), Fraction(0))
        return (a, da) if a > 0 else (-a, -da)
    raise AssertionError(op)


def text_of(op, args):
    if op in "+-*/":
        return f"({args[0]} {op} {args[1]})"
    if op in ("^2", "^3"):
        return f"({args[0]})^{op[1]}"
    if op == "neg":
        return f"-({args[0]})"
    return f"{op}({', '.join(args)})"


ARITY = {"+": 2, "-": 2, "*": 2, "/": 2, "^2": 1, "^3": 1, "neg": 1, "min": 2, "max": 2,
         "relu": 1, "abs": 1}
Q = st.fractions(min_value=-3, max_value=3, max_denominator=4)


@st.composite
def graphs(draw):
    n_in = draw(st.integers(1, 3))
    inputs = {f"x{i}": draw(Q) for i in range(n_in)}
    nodes = []  # (name, tree); tree = ("var", name) | ("num", q) | (op, [trees])
    names = list(inputs)

    def tree(depth):
        if depth == 0 or draw(st.booleans()):
            if draw(st.integers(0, 5)) == 0:
                return ("num", draw(Q))
            return ("var", draw(st.sampled_from(names)))
        op = draw(st.sampled_from(sorted(ARITY)))
        return (op, [tree(depth - 1) for _ in range(ARITY[op])])

    for k in range(draw(st.integers(1, 5))):
        t = tree(2)
        if t[0] in ("var", "num") or not has_var(t):
            t = ("+", [t, ("var", draw(st.sampled_from(names)))])
        nodes.append((f"h{k}", t))
        names.append(f"h{k}")
    return inputs, nodes


def has_var(t) -> bool:
    return t[0] == "var" or (t[0] != "num" and any(has_var(a) for a in t[1]))


def render(t):
    if t[0] == "var":
        return t[1]
    if t[0] == "num":
        q = t[1]
        return f"({q.numerator}/{q.denominator})"
    return text_of(t[0], [render(a) for a in t[1]])


def evaluate(t, env):
    if t[0] == "var":
        return env[t[1]]
    if t[0] == "num":
        return (t[1], Fraction(0))
    return dual(t[0], [evaluate(a, env) for a in t[1]])


def forward_mode(inputs, nodes, wrt):
    env = {k: (v, Fraction(int(k == wrt))) for k, v in inputs.items()}
    for name, t in nodes:
        env[name] = evaluate(t, env)
    return env


def spec_text(inputs, nodes) -> str:
    lines = ["hwsolve: 1", "kind: graph", "inputs:"]
    lines += [f'  {k}: "{v}"' for k, v in inputs.items()]
    lines += ["nodes:"] + [f'  {n}: "{render(t)}"' for n, t in nodes]
    lines.append(f"output: {nodes[-1][0]}")
    return "\n".join(lines) + "\n"


@settings(max_examples=150, deadline=None)
@given(graphs())
def test_random_graphs_match_forward_mode_exactly(g):
    inputs, nodes = g
    out = nodes[-1][0]
    try:
        want = {x: forward_mode(inputs, nodes, x)[out] for x in inputs}
    except Kink:
        assume(False)
    except ZeroDivisionError:
        with pytest.raises(HwsolveError, match="division by zero"):
            solve(parse_graph(load_yaml_text(spec_text(inputs, nodes), "g.yaml")))
        return
    for v, _ in want.values():
        assume(max(v.numerator.bit_length(), v.denominator.bit_length()) < 2000)
    sol = solve(parse_graph(load_yaml_text(spec_text(inputs, nodes), "g.yaml")))
    got = values(sol)
    for x, (value, deriv) in want.items():
        assert got[out] == value
        assert got.get(f"d{out}/d{x}", 0) == deriv, (x, spec_text(inputs, nodes))


@settings(max_examples=60, deadline=None)
@given(graphs())
def test_random_graphs_match_finite_differences(g):
    """Exact central differences: for a rational function the error shrinks like h^2."""
    inputs, nodes = g
    out = nodes[-1][0]
    try:
        for x in inputs:  # forward mode at every input: a kink or a zero division is skipped
            forward_mode(inputs, nodes, x)
    except (Kink, ZeroDivisionError):
        assume(False)
    sol = solve(parse_graph(load_yaml_text(spec_text(inputs, nodes), "g.yaml")))
    got = values(sol)
    h = Fraction(1, 10**9)
    for x in inputs:
        try:
            up = forward_mode({**inputs, x: inputs[x] + h}, nodes, x)[out][0]
            down = forward_mode({**inputs, x: inputs[x] - h}, nodes, x)[out][0]
        except (Kink, ZeroDivisionError):
            continue
        fd = (up - down) / (2 * h)
        g_ = got.get(f"d{out}/d{x}", 0)
        assert abs(fd - g_) <= Fraction(1, 10**6) * (1 + abs(g_)), x


def test_float_functions_against_finite_differences():
    text = ("hwsolve: 1\nkind: graph\ninputs: {a: 0.3, b: 2}\nnodes:\n"
            "  u: exp(a) * log(b) + sqrt(b) / tanh(a)\n  v: sigmoid(u - a^2) + leaky_relu(a - 1, 0.2)\n"
            "output: v\n")
    got = values(solve(parse_graph(load_yaml_text(text))))

    def f(a, b):
        u = math.exp(a) * math.log(b) + math.sqrt(b) / math.tanh(a)
        return 1 / (1 + math.exp(-(u - a * a))) + 0.2 * (a - 1)

    h = 1e-6
    assert got["dv/da"] == pytest.approx((f(0.3 + h, 2) - f(0.3 - h, 2)) / (2 * h), rel=1e-6)
    assert got["dv/db"] == pytest.approx((f(0.3, 2 + h) - f(0.3, 2 - h)) / (2 * h), rel=1e-6)


def test_min_max_tie_conventions():
    base = "hwsolve: 1\nkind: graph\ninputs: {a: 1, b: 1}\nnodes:\n  m: max(a, b)\noutput: m\n"
    v = values(solve(parse_graph(load_yaml_text(base))))
    assert (v["dm/da"], v.get("dm/db")) == (1, 0)
    split = base + "conventions: {min_max_tie: split}\n"
    sol = solve(parse_graph(load_yaml_text(split)))
    v = values(sol)
    assert (v["dm/da"], v["dm/db"]) == (Fraction(1, 2), Fraction(1, 2))
    assert "split equally" in sol.by_name()["m"].note


def test_relu_at_zero_convention():
    text = ("hwsolve: 1\nkind: graph\ninputs: {a: 0}\nnodes:\n  r: relu(a)\noutput: r\n"
            "conventions: {relu_prime_at_zero: 1}\n")
    sol = solve(parse_graph(load_yaml_text(text)))
    assert values(sol)["dr/da"] == 1 and "kink" in sol.by_name()["r"].note


# -- the drawing ----------------------------------------------------------------------------

def parse_dot(text):
    nodes = dict(re.findall(r'^\s*([no]\d+) \[label="((?:[^"\\]|\\.)*)"', text, re.M))
    edges = re.findall(r"^\s*([no]\d+) -> ([no]\d+)", text, re.M)
    shapes = dict(re.findall(r"^\s*([no]\d+) \[.*shape=(\w+)", text, re.M))
    return nodes, edges, shapes


def test_dot_of_q3b(problems_dir, tmp_path):
    out = tmp_path / "q3b.dot"
    r = CliRunner().invoke(main, ["backprop", str(problems_dir / "csci5922_q3b.yaml"), "--dot", str(out)])
    assert r.exit_code == 0, r.output
    text = out.read_text()
    assert text.startswith("digraph ") and text.rstrip().endswith("}")
    nodes, edges, shapes = parse_dot(text)
    # 7 given values; 3 inner operations (boxes); 7 lines and the loss, each an operator box
    # and a value
    assert len(nodes) == 7 + 3 + 2 * 8
    # operand edges: 2+2+3+2+2+2+2+2+2+1+2 = 22, plus one operator -> value edge per line
    assert len(edges) == 22 + 8
    labels = set(nodes.values())
    assert r"H1\n= 1.5\ngrad -1.452" in labels
    assert r"X1\n= 2\ngrad -0.9337" in labels
    assert r"/\n(H2 / H1)\n= -2/3\ngrad -1.867" in labels
    assert any(label.startswith(r"L\n= 0.9741") for label in labels)
    ids = {v: k for k, v in nodes.items()}
    assert shapes[ids[r"H1\n= 1.5\ngrad -1.452"]] == "ellipse"
    assert shapes[ids["min"]] == "box" and shapes[ids["max"]] == "box"
    # every edge joins declared nodes
    assert all(a in nodes and b in nodes for a, b in edges)


def test_dot_of_nyu_shapes(problems_dir, tmp_path):
    out = tmp_path / "w.dot"
    r = CliRunner().invoke(main, ["backprop", str(problems_dir / "nyu2572_1_5b.yaml"), "--dot", str(out)])
    assert r.exit_code == 0, r.output
    nodes, edges, shapes = parse_dot(out.read_text())
    variables = {label.split("\\n")[0] for k, label in nodes.items() if shapes[k] == "ellipse"}
    operators = [label.split("\\n")[0] for k, label in nodes.items() if shapes[k] == "box"]
    assert variables == {"x", "y", "z", "a", "b", "w"}
    assert sorted(operators) == ["*", "*", "*", "+", "+"]
    assert edges.count(("n0", "o5")) == 2  # x + x: two edges from x


def test_dot_of_a_network_spec(problems_dir, tmp_path):
    out = tmp_path / "p1.dot"
    r = CliRunner().invoke(main, ["backprop", str(problems_dir / "cs4782_p1.yaml"), "--dot", str(out)])
    assert r.exit_code == 0, r.output
    nodes, edges, _ = parse_dot(out.read_text())
    assert any(label.startswith(r"W[1]\n= [[1, 0], [3, 4], [1, 2]]") for label in nodes.values())


def _fake_dot(folder, body):
    exe = folder / "dot"
    exe.write_text(f"#!{sys.executable}\nimport sys\n{body}\n")
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)


def test_svg_and_png_with_dot(problems_dir, tmp_path, monkeypatch):
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    _fake_dot(bin_, "data = sys.stdin.read()\nassert data.startswith('digraph')\n"
                    "fmt = sys.argv[1][2:]\nsys.stdout.write('<svg>' + fmt + '</svg>')")
    monkeypatch.setenv("PATH", str(bin_) + os.pathsep + os.environ.get("PATH", ""))
    svg, png = tmp_path / "g.svg", tmp_path / "g.png"
    r = CliRunner().invoke(main, ["backprop", str(problems_dir / "csci5922_q3b.yaml"),
                                  "--svg", str(svg), "--png", str(png)])
    assert r.exit_code == 0, r.output
    assert svg.read_text() == "<svg>svg</svg>" and png.read_text() == "<svg>png</svg>"


def test_dot_failure_writes_nothing(problems_dir, tmp_path, monkeypatch):
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    _fake_dot(bin_, "sys.stderr.write('Error: syntax error in line 1\\n'); sys.exit(1)")
    monkeypatch.setenv("PATH", str(bin_))
    svg = tmp_path / "g.svg"
    r = CliRunner().invoke(main, ["backprop", str(problems_dir / "csci5922_q3b.yaml"), "--svg", str(svg)])
    assert r.exit_code == 2 and "syntax error" in r.output
    assert not svg.exists() and list(tmp_path.glob(".g.svg*")) == []


def test_without_graphviz(problems_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    svg, dot = tmp_path / "g.svg", tmp_path / "g.dot"
    r = CliRunner().invoke(main, ["backprop", str(problems_dir / "csci5922_q3b.yaml"),
                                  "--svg", str(svg), "--dot", str(dot)])
    assert r.exit_code == 2
    assert "apt-get install graphviz" in r.output and "brew install graphviz" in r.output
    assert not svg.exists() and not dot.exists()
    assert "Forward pass" not in r.output  # failed before solving


def test_help_imports_no_numpy_or_sympy():
    code = ("import sys\nfrom click.testing import CliRunner\nfrom hwsolve.cli import main\n"
            "r = CliRunner().invoke(main, ['--help'])\nassert r.exit_code == 0\n"
            "r = CliRunner().invoke(main, ['backprop', '--help'])\nassert '--svg' in r.output\n"
            "bad = [m for m in ('numpy', 'sympy') if m in sys.modules]\nprint(bad)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- bad input ------------------------------------------------------------------------------

HEAD = "hwsolve: 1\nkind: graph\ninputs: {X: 1, Z: 0}\nparams: {W: 2}\ntargets: {Y: 1}\nnodes:\n"


def invoke(tmp_path, body, name="bad.yaml"):
    p = tmp_path / name
    p.write_text(HEAD + body)
    r = CliRunner().invoke(main, ["backprop", str(p)])
    return r, str(p)


@pytest.mark.parametrize("body, line, words", [
    ("  A: W * X\n  B: A + Q\noutput: B\n", 8, ["node 'B'", "'Q'", "not defined"]),
    ("  A: W * B\n  B: A + X\noutput: B\n", 7, ["cycle: A -> B -> A"]),
    ("  A: A + X\noutput: A\n", 7, ["cycle: A -> A"]),
    ("  A: foo(X)\noutput: A\n", 7, ["node 'A'", "unknown function 'foo'"]),
    ("  A: W / Z\n  B: A + X\noutput: B\n", 7, ["'A'", "division by zero"]),
    ("  A: X + W / (X - 1)\noutput: A\n", 7, ["division by zero", "in node 'A'"]),
    ("  A: W * X\n  B: log(A - 2)\noutput: B\n", 8, ["log of a non-positive value", "B"]),
    ("  A: W * X\n  B: sqrt(Z - A)\noutput: B\n", 8, ["sqrt of a negative value"]),
    ("  A: 1 / 0 + X\noutput: A\n", 7, ["node 'A'", "division by zero"]),
    ("  A: " + "(" * 60 + "X" + ")" * 60 + "\noutput: A\n", 7, ["node 'A'", "nested deeper than"]),
    ("  A: \"__import__('os')\"\noutput: A\n", 7, ["node 'A'", "not a name", "cannot reach Python"]),
    ("  A: X.__class__\noutput: A\n", 7, ["node 'A'", "attribute access"]),
    ("  A: \"lambda: 0\"\noutput: A\n", 7, ["node 'A'", "'lambda' is Python"]),
    ("  A: W * X\nloss: {type: bce, prediction: A, target: Y}\n", 8, ["BCE needs every prediction"]),
    ("  A: W * X\nloss: hinge\n", 8, ["not defined"]),
    ("  A: W * X\nloss: {type: hinge}\n", 8, ["unknown loss 'hinge'"]),
    ("  X: W\noutput: X\n", 7, ["already a input"]),
    ("  exp: W\noutput: exp\n", 7, ["function"]),
    ("  A: W * X\n", 1, ["missing required key 'loss'"]),
    ("  A: W * X\noutput: B\n", 8, ["'B'", "not defined"]),
    ("  A: leaky_relu(X, W)\noutput: A\n", 7, ["slope of leaky_relu", "must be a number"]),
    ("  A: 3\noutput: A\n", 8, ["constant"]),
])
def test_bad_input(tmp_path, body, line, words):
    r, path = invoke(tmp_path, body)
    assert r.exit_code == 2, r.output
    msg = r.output.strip()
    assert msg.startswith(f"error: {path}:{line}:"), msg
    for w in words:
        assert w in msg, msg
    assert "Traceback" not in msg and len(msg.splitlines()) == 1


def test_unreachable_node_is_a_note(tmp_path):
    r, _ = invoke(tmp_path, "  A: W * X\n  B: X + Z\n  C: sigmoid(A)\nloss: {type: bce, prediction: C, target: Y}\n")
    assert r.exit_code == 0, r.output
    assert "'B' does not reach the loss" in r.output
    assert "'Z' does not reach the loss" in r.output


def test_expression_loss(tmp_path):
    r, p = invoke(tmp_path, "  A: W * X\nloss: (A - Y)^2 / 2\n")
    assert r.exit_code == 0, r.output
    v = values(solve(parse_graph(load_yaml(p))))
    assert v["L"] == Fraction(1, 2) and v["dL/dW"] == 1 and v["dL/dX"] == 2


def test_huge_exact_values_are_bounded(tmp_path):
    body = "  A: X + 1\n" + "".join(f"  P{i}: {'A' if i == 0 else f'P{i - 1}'}^9\n" for i in range(12))
    r, _ = invoke(tmp_path, body + "output: P11\n")
    assert r.exit_code == 2 and ("too large" in r.output or "digits" in r.output), r.output
