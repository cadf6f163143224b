"""Seed 000 (CS 4782 HW1) Problem 1, pinned exactly: every forward value and every gradient."""

import json
from click.testing import CliRunner

from hwsolve.cli import main
from hwsolve.topics.backprop.solve import solve
from hwsolve.topics.backprop.load import load_backprop

from conftest import PROBLEMS

P1 = str(PROBLEMS / "cs4782_p1.yaml")

# Worked by hand from the sheet: x = [2, 1], y = 10, ReLU everywhere, L = (y - yhat)^2.
FORWARD = {
    "z[0]": (2, 1),
    "a[1]": (2, 8, 9),
    "z[1]": (2, 8, 9),
    "a[2]": (38, 22),
    "z[2]": (38, 22),
    "a[3]": 8,
    "z[3]": 8,
    "yhat": 8,
    "L": 4,
}
BACKWARD = {
    "dL/dyhat": -4,
    "dL/dz[3]": -4,
    "dL/da[3]": -4,
    "dL/dW[3]": ((-152, -88),),
    "dL/db[3]": -4,
    "dL/dz[2]": (8, -12),
    "dL/da[2]": (8, -12),
    "dL/dW[2]": ((16, 64, 72), (-24, -96, -108)),
    "dL/db[2]": (8, -12),
    "dL/dz[1]": (16, 12, -4),
    "dL/da[1]": (16, 12, -4),
    "dL/dW[1]": ((32, 16), (24, 12), (-8, -4)),
    "dL/db[1]": (16, 12, -4),
    "dL/dz[0]": (48, 40),
    "dL/dx": (48, 40),
}
# The chain-rule sequence of 1.2, in the sheet's order.
SEQUENCE = list(BACKWARD)


def _solution():
    return solve(load_backprop(P1))


def test_forward_values_exact():
    sol = _solution()
    for name, value in FORWARD.items():
        step = sol.step(name)
        assert step.value == value, name
        assert step.exact, name


def test_gradients_exact_and_shaped_like_parameters():
    sol = _solution()
    for name, value in BACKWARD.items():
        assert sol.step(name).value == value, name
        assert sol.step(name).exact
    assert sol.step("dL/dW[1]").shape == (3, 2)
    assert sol.step("dL/dW[2]").shape == (2, 3)
    assert sol.step("dL/dW[3]").shape == (1, 2)
    assert sol.step("dL/db[3]").shape == ()


def test_chain_rule_sequence_in_the_sheets_order():
    sol = _solution()
    names = [s.name for s in sol.in_section("backward")]
    assert names == SEQUENCE


def test_chain_forms_and_symbolic_expressions():
    sol = _solution()
    a3 = sol.step("dL/da[3]")
    assert str(a3.chain) == "dL/dz[3] * dz[3]/da[3]"
    assert str(a3.expression) == "2(yhat - y) * ReLU'(a[3])"
    assert str(sol.step("dL/dW[3]").formula) == "dL/da[3] * z[2]^T"
    assert str(sol.step("dL/dz[2]").formula) == "W[3]^T * dL/da[3]"
    assert str(sol.step("dL/da[2]").formula) == "dL/dz[2] ⊙ ReLU'(a[2])"
    assert str(sol.step("dL/dW[2]").formula) == "dL/da[2] z[1]^T"
    assert str(sol.step("dL/dz[1]").formula) == "W[2]^T dL/da[2]"
    assert str(sol.step("dL/dz[1]").expression) == \
        "W[2]^T ((W[3]^T * (2(yhat - y) * ReLU'(a[3]))) ⊙ ReLU'(a[2]))"
    assert str(sol.step("dL/dW[2]").substituted) == "[8, -12] [2, 8, 9]^T"
    assert str(sol.step("dL/da[3]").substituted) == "-4 * 1"
    assert str(sol.step("L").substituted) == "(10 - 8)^2"


def test_relu_convention_stated():
    sol = _solution()
    assert any("ReLU'(0) is taken as 0" in n for n in sol.notes)


def test_json_holds_every_value_exactly():
    result = CliRunner().invoke(main, ["backprop", P1, "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["schema"] == "hwsolve/solution" and data["schema_version"] == 1
    steps = {s["name"]: s for s in data["steps"]}
    for name, value in {**FORWARD, **BACKWARD}.items():
        want = json.loads(json.dumps(value))
        assert steps[name]["value"] == want, name
        assert steps[name]["exact"] is not None
    assert steps["dL/dW[3]"]["exact"] == [["-152", "-88"]]
    assert steps["dL/dW[3]"]["shape"] == [1, 2]
    assert steps["yhat"]["value"] == 8 and steps["yhat"]["shape"] == []
    assert steps["a[1]"]["latex"].startswith("a^{[1]} = W^{[1]} z^{[0]} + b^{[1]}")
    assert data["summary"]["steps"][:2] == ["dL/dW[1]", "dL/db[1]"]


def test_relu_prime_at_zero_convention_is_configurable(tmp_path):
    # b[3] = 10 makes a[3] = 0 exactly: the kink
    text = (PROBLEMS / "cs4782_p1.yaml").read_text().replace("b: [18]", "b: [10]")
    spec = tmp_path / "kink.yaml"
    spec.write_text(text)
    sol = solve(load_backprop(str(spec)))
    assert sol.step("a[3]").value == 0
    assert sol.step("dL/da[3]").value == 0
    assert "taken as 0" in sol.step("z[3]").note
    spec.write_text(text + "conventions: {relu_prime_at_zero: 1/2}\n".replace("1/2", '"1/2"'))
    sol = solve(load_backprop(str(spec)))
    # dL/dyhat = 2(0 - 10) = -20, times ReLU'(0) = 1/2
    assert sol.step("dL/da[3]").value == -10
    assert any("taken as 0.5" in n for n in sol.notes)
