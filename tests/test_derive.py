"""hwsolve derive: symbolic gradients, checked against the numeric engine (issue 7)."""

import subprocess
import sys
from dataclasses import replace

import pytest
from click.testing import CliRunner

from hwsolve.cli import main
from hwsolve.topics.derive import solve as D
from hwsolve.core.errors import HwsolveError
from hwsolve.topics.derive.spec import parse_derive
from hwsolve.spec.loader import load_yaml, load_yaml_text
from hwsolve.core.sym import Const, to_text

from conftest import PROBLEMS
from hwsolve.topics import load_and_solve


def spec(layers: str, loss: str, layout: str, extra: str = "") -> str:
    return f"hwsolve: 1\nkind: derive\nlayout: {layout}\ninput: n\nlayers:\n{layers}\nloss: {loss}\n{extra}"


def problem(text: str):
    return parse_derive(load_yaml_text(text, "t.yaml"))


HIDDEN = ["relu", "'5 * relu'", "leaky_relu", "{type: leaky_relu, slope: 0.2}", "sigmoid", "tanh",
          "identity", "'3 * tanh'"]
HEADS = [("identity", "squared_error"), ("sigmoid", "mse"), ("sigmoid", "bce"),
         ("softmax", "cross_entropy"), ("softmax", "half_squared_error"), ("tanh", "half_mse")]


@pytest.mark.parametrize("layout", ["numerator", "gradient"])
@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("head,loss", HEADS)
def test_every_derived_formula_equals_the_numeric_gradient(layout, hidden, head, loss):
    layers = (f"  - linear: {{out: d}}\n  - {hidden}\n  - linear: {{out: K}}\n  - {head}")
    p = problem(spec(layers, loss, layout))
    for seed in (0, 1, 2):
        worst, count = D.check(p, seed=seed)
        assert count >= 20 and worst < 1e-9


@pytest.mark.parametrize("layout", ["numerator", "gradient"])
def test_deeper_stacks_scalar_outputs_and_no_bias(layout):
    layers = ("  - linear: {out: d}\n  - relu\n  - linear: {out: m, bias: false}\n  - tanh\n"
              "  - linear: {out: 4}\n  - '2 * sigmoid'\n  - linear: {out: 1}\n  - identity")
    worst, count = D.check(problem(spec(layers, "squared_error", layout)), seed=3)
    assert count > 40 and worst < 1e-9


def test_the_check_catches_a_wrong_formula():
    p = problem(spec("  - linear: {out: d}\n  - relu\n  - linear: {out: K}", "squared_error", "numerator"))
    d = D.derive(p)
    steps = d.solution.steps
    i = next(k for k, s in enumerate(steps) if s.section == "backward" and s.name == "dL/dW[1]")
    steps[i] = replace(steps[i], formula=Const(2) * steps[i].formula)  # a wrong factor of 2
    with pytest.raises(HwsolveError, match="derive check failed"):
        D.check(p, d)


def by_name(sol, section):
    return {s.name: s for s in sol.steps if s.section == section}


def test_seed_003_q1_five_gradients_with_u1_u2():
    sol = D.solve(parse_derive(load_yaml(PROBLEMS / "csc6022_q1.yaml")))
    back = by_name(sol, "backward")
    assert to_text(back["u2"].formula) == "p - y"
    assert to_text(back["u1"].expression) == "(V^T (p - y)) ⊙ ReLU'(z)"  # as seed 003 brackets it
    want = {"dL/dV": ("u2 h^T", ("C", "K")), "dL/db_2": ("u2", ("C",)),
            "dL/dW": ("u1 x^T", ("K", "D")), "dL/db_1": ("u1", ("K",)), "dL/dx": ("W^T u1", ("D",))}
    for name, (formula, shape) in want.items():
        assert to_text(back[name].formula) == formula
        assert back[name].shape == shape
    assert set(sol.summary) == set(want)


def test_seed_002_12_jacobian_elements_in_numerator_layout():
    sol = D.solve(parse_derive(load_yaml(PROBLEMS / "nyu2572_1_2_sym.yaml")))
    jac = by_name(sol, "jacobians")
    assert to_text(jac["dz_2/dz_1"].expression) == "diag(5 * 1{z_1 > 0})"
    assert to_text(jac["dyhat/dz_3"].expression) == "I"
    assert to_text(jac["dl/dyhat"].formula) == "(2(yhat - y))^T"
    assert jac["dl/dyhat"].shape == (1, "K")
    chain = by_name(sol, "chain")
    assert to_text(chain["dl/dW^(1)"].chain) == "x dl/dyhat dyhat/dz_3 dz_3/dz_2 dz_2/dz_1"
    assert chain["dl/dW^(1)"].shape == ("n", "d")   # numerator layout: the transpose of W's shape
    assert "(n×1)(1×K)(K×K)(K×d)(d×d) → n×d" in chain["dl/dW^(1)"].note


def test_seed_002_13_sigmoid_bce_symbolic_k():
    sol = D.solve(parse_derive(load_yaml(PROBLEMS / "nyu2572_1_3b_sym.yaml")))
    jac = by_name(sol, "jacobians")
    assert "1 / K" in to_text(jac["dl/dyhat"].formula)
    assert to_text(jac["dyhat/dz_3"].expression) == "diag(yhat ⊙ (1 - yhat))"
    assert to_text(jac["dz_2/dz_1"].expression) == "diag(1 - z_2 ⊙ z_2)"


@pytest.mark.parametrize("name", ["csc6022_q1", "csc6022_q2", "nyu2572_1_2_sym", "nyu2572_1_3a_sym",
                                  "nyu2572_1_3b_sym"])
@pytest.mark.parametrize("fmt", ["rich", "json", "markdown", "latex"])
def test_cli_prints_every_format(name, fmt):
    r = CliRunner().invoke(main, ["derive", str(PROBLEMS / f"{name}.yaml"), "--format", fmt])
    assert r.exit_code == 0, r.output
    assert "Checked, not trusted" in r.output


BAD = [
    ("  - linear: {out: d}\n  - relu\n  - linear: {in: m, out: K}", "squared_error", "numerator",
     "dimensions do not chain"),
    ("  - linear: {out: d}\n  - log", "squared_error", "numerator",
     "not supported by derive; supported layer types: linear, identity, relu"),
    ("  - linear: {out: d}\n  - conv2d", "squared_error", "numerator", "supported layer types"),
    ("  - linear: {out: d}", "squared_error", "denominator", "unknown value 'denominator'"),
    ("  - linear: {out: d}\n  - relu", "cross_entropy", "numerator", "needs a softmax"),
    ("  - linear: {out: 0}", "squared_error", "numerator", "whole number >= 1"),
]


@pytest.mark.parametrize("layers,loss,layout,message", BAD)
def test_bad_input_exits_2_with_a_clear_message(tmp_path, layers, loss, layout, message):
    f = tmp_path / "bad.yaml"
    f.write_text(spec(layers, loss, layout))
    r = CliRunner().invoke(main, ["derive", str(f)])
    assert r.exit_code == 2
    assert message in r.output
    assert "Traceback" not in r.output


def test_unknown_alias_target(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text(spec("  - linear: {out: d}", "squared_error", "gradient", "aliases: {u1: q}\n"))
    r = CliRunner().invoke(main, ["derive", str(f)])
    assert r.exit_code == 2 and "no value called 'q'" in r.output


def test_help_imports_neither_numpy_nor_sympy():
    code = ("import sys\nfrom click.testing import CliRunner\nfrom hwsolve.cli import main\n"
            "CliRunner().invoke(main, ['derive', '--help']); CliRunner().invoke(main, ['solve', '--help'])\n"
            "print('numpy' in sys.modules, 'sympy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"


def test_a_big_variable_is_checked_by_finite_differences_on_a_seeded_sample():
    """At n = 64 the check ran two forward passes per entry of every 64 x 64 weight (3 s; 50 layers
    ran into the time budget, and deep wide specs failed a 1e-6 tolerance on rounding alone): now
    a seeded sample of 64 entries per variable, within 1e-4 relative."""
    text = ("hwsolve: 1\nkind: derive\nlayout: numerator\ninput: n\nlayers:\n  - linear: {out: n}\n  - softplus\n"
            "  - linear: {out: n}\n  - tanh\nloss: squared_error\nsizes: {n: 64}\n")
    sol = D.solve(parse_derive(load_yaml_text(text, "t.yaml")))
    # x, W[1], b[1], W[2], b[2]: the two 64 x 64 weights sampled, the three vectors whole
    assert any(f"in {5 * 64} sampled of the {2 * 64 * 64 + 3 * 64} entries" in n for n in sol.notes), sol.notes


def test_a_small_variable_is_checked_whole_and_the_note_counts_every_entry():
    _, sol = load_and_solve(str(PROBLEMS / "csc6022_q1.yaml"))
    assert any("finite differences of the loss in all 65 entries" in n for n in sol.notes), sol.notes
