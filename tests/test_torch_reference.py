"""hwsolve against PyTorch, without PyTorch: cases frozen by tools/torch_reference.py.

Each fixture in tests/data/torch_reference/ holds a random problem's spec and the values torch
(float64, autograd, torch.optim, torch.nn modules) computed for it, keyed by hwsolve's step names.
Here hwsolve solves the spec again and must agree to 1e-9 relative. Regenerate (needs torch):
`python tools/torch_reference.py freeze --seed 7`. The second half pins the discrepancies the
comparison found, each with numbers worked by hand.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from hwsolve.cli import main

FIXTURES = Path(__file__).parent / "data" / "torch_reference"
RTOL = 1e-9
ATOL = 1e-12   # times the largest magnitude in the compared array: exact 0 against torch's 1e-17


def _cases() -> list[Any]:
    out = []
    for path in sorted(FIXTURES.glob("*.json")):
        for case in json.loads(path.read_text())["cases"]:
            out.append(pytest.param(case, id=case["name"]))
    return out


CASES = _cases()


def run(case: dict, tmp_path: Path) -> dict[str, Any]:
    """hwsolve's JSON answer to a case: step name -> value (names must be unique)."""
    argv = [case["command"]]
    if "spec" in case:
        spec = tmp_path / "spec.yaml"
        spec.write_text(yaml.safe_dump(case["spec"], sort_keys=False))
        argv.append(str(spec))
    result = CliRunner().invoke(main, argv + list(case.get("args", [])) + ["--format", "json"])
    assert result.exit_code == 0, result.output
    steps = json.loads(result.output)["steps"]
    names = [s["name"] for s in steps]
    assert len(names) == len(set(names)), sorted({n for n in names if names.count(n) > 1})
    return {s["name"]: s["value"] for s in steps}


def as_array(v: Any) -> np.ndarray:
    def num(x):
        return float(x) if isinstance(x, str) else x   # "-inf" (a masked attention score)

    def walk(x):
        return [walk(e) for e in x] if isinstance(x, list) else num(x)

    return np.array(walk(v), dtype=float)


def test_the_fixtures_cover_every_area():
    areas = {case.values[0]["area"] for case in CASES}
    assert areas >= {"network", "activations", "kink", "tie", "batch", "conv", "pool", "batchnorm", "layernorm",
                     "dropout", "rnn", "attention", "arch", "conv_shape", "convspec", "vit", "train", "graph"}
    losses = {json.dumps(c.values[0]["spec"]["loss"]) for c in CASES if c.values[0]["area"] == "network"}
    assert all(any(name in x for x in losses) for name in ("smooth_l1", "huber", "svm_hinge", "bce", "cross_entropy"))
    optimizers = {c.values[0]["name"].split("-", 2)[2] for c in CASES if c.values[0]["area"] == "train"}
    assert {"sgd", "momentum-pytorch", "momentum-sheet", "nesterov-pytorch", "nesterov-sheet", "adagrad",
            "rmsprop", "adam", "adamw"} <= {o.removesuffix("-network") for o in optimizers}


def test_every_fixture_spec_passes_its_json_schema():
    import jsonschema

    from hwsolve.spec.schemas import schema_path

    checked = 0
    for param in CASES:
        spec = param.values[0].get("spec")
        if spec is None:
            continue
        schema = json.loads(schema_path(spec["kind"]).read_text())
        errors = list(jsonschema.Draft202012Validator(schema).iter_errors(spec))
        assert not errors, (param.id, errors[0].message)
        checked += 1
    assert checked > 80


@pytest.mark.parametrize("case", CASES)
def test_hwsolve_agrees_with_torch(case, tmp_path):
    got = run(case, tmp_path)
    assert case["expected"], "a case with nothing to compare"
    for name, want in case["expected"].items():
        assert name in got, f"{name} missing from hwsolve's output"
        w, g = as_array(want), as_array(got[name])
        assert g.shape == w.shape, f"{name}: shape {g.shape}, torch {w.shape}"
        scale = float(np.max(np.abs(w[np.isfinite(w)]), initial=1.0))
        close = np.isclose(g, w, rtol=RTOL, atol=ATOL * scale) | (np.isinf(w) & (g == w))
        assert close.all(), f"{name}: hwsolve {g.tolist()}, torch {w.tolist()}"


# -- what the comparison found, pinned by hand ---------------------------------------------------------


def solve_json(text: str, command: str, tmp_path: Path) -> tuple[dict[str, Any], list[str]]:
    spec = tmp_path / "spec.yaml"
    spec.write_text(text)
    result = CliRunner().invoke(main, [command, str(spec), "--format", "json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    names = [s["name"] for s in out["steps"]]
    assert len(names) == len(set(names)), sorted({n for n in names if names.count(n) > 1})
    return {s["name"]: s["value"] for s in out["steps"]}, out["notes"]


NET = """hwsolve: 1
kind: network
input: [2, 1]
target: [10, 0.5]
layers:
  - linear: {{W: [[1, 0], [0, 1]], b: [0, 0]}}
  - identity
loss: {loss}
"""


def test_smooth_l1_is_pytorchs_with_beta_not_huber(tmp_path):
    # yhat - y = [-8, 0.5]; beta = 2: |-8| - 1 = 7 (linear), 0.25 / 4 = 1/16 (quadratic); mean of 2
    got, notes = solve_json(NET.format(loss="{type: smooth_l1, beta: 2}"), "backprop", tmp_path)
    assert got["L"] == pytest.approx((7 + 1 / 16) / 2, rel=1e-12)
    assert got["dL/dyhat"] == pytest.approx([-1 / 2, 0.5 / 2 / 2], rel=1e-12)   # sign / K, r / beta / K
    assert any("SmoothL1Loss" in n and "beta = 2" in n for n in notes)
    # Huber with delta 2 is twice that (HuberLoss(delta) = delta SmoothL1Loss(beta = delta))
    huber, _ = solve_json(NET.format(loss="{type: huber, delta: 2}"), "backprop", tmp_path)
    assert huber["L"] == pytest.approx(2 * got["L"], rel=1e-12)


def test_the_kink_note_uses_the_layers_own_parameters(tmp_path):
    text = """hwsolve: 1
kind: network
input: [1]
target: 1
layers:
  - linear: {W: [[1]], b: [-1]}
  - {type: elu, alpha: 0.5}
  - linear: {W: [[1]]}
  - {type: leaky_relu, slope: 0.2}
loss: squared_error
"""
    got, notes = solve_json(text, "backprop", tmp_path)
    # a[1] = 0 exactly: ELU_0.5'(0) = alpha = 0.5 as PyTorch computes it, and the note says so
    assert got["ELU_0.5'(a[1])"] == 0.5
    assert ("ELU'(0) (with alpha = 0.5) is taken as 0.5 "
            "(a convention; conventions.relu_prime_at_zero changes it).") in notes
    assert any(n.startswith("LeakyReLU'(0) (with slope = 0.2) is taken as 0.2") for n in notes)
    assert not any("taken as 1 " in n or "taken as 0.01" in n for n in notes)


def test_a_graph_library_loss_averages_every_entry_of_a_matrix(tmp_path):
    text = """hwsolve: 1
kind: graph
params: {P: [[1, 2], [3, 4]]}
targets: {Y: [[0, 0], [0, 0]]}
nodes: {Q: 2 * P}
loss: {type: mse, prediction: Q, target: Y}
"""
    got, _ = solve_json(text, "backprop", tmp_path)
    # (4 + 16 + 36 + 64) / 4 = 30; dL/dQ = 2 Q / 4, dL/dP = 2 dL/dQ = P * 2 (column 0 alone before)
    assert got["L"] == 30
    assert got["dL/dP"] == [[2, 4], [6, 8]]


def test_the_printed_mean_matches_the_value_for_a_vector_prediction(tmp_path):
    text = """hwsolve: 1
kind: graph
inputs: {A: [1, 2, 3]}
params: {w: 2}
targets: {Y: [1, 0, 2]}
nodes: {P: w * A}
loss: {type: mse, prediction: P, target: Y}
"""
    spec = tmp_path / "spec.yaml"
    spec.write_text(text)
    out = json.loads(CliRunner().invoke(main, ["backprop", str(spec), "--format", "json"]).output)
    steps = {s["name"]: s for s in out["steps"]}
    assert steps["L"]["value"] == 11 and steps["L"]["formula"].startswith("1/3")
    assert steps["dL/dP"]["formula"].startswith("2/3")


def test_no_local_step_shares_a_gradients_name(tmp_path):
    text = """hwsolve: 1
kind: graph
params: {a: 2, b: 3}
nodes:
  H1: a * b
  J: H1 * a + H1
output: J
"""
    got, _ = solve_json(text, "backprop", tmp_path)   # asserts the names are unique
    assert got["dJ/dH1"] == 3 and got["dJ/dH1 via J"] == 1 and got["dJ/dH1 via (H1 * a)"] == 2
    assert got["dJ/da"] == 15 and got["dJ/db"] == 6


def test_adagrad_initial_accumulator_and_the_default_eps_note(tmp_path):
    text = """hwsolve: 1
kind: train
objective: {params: {w: 1}, f: "w^2"}
optimizer: {type: adagrad, lr: 1/2, initial_accumulator: 0.25, eps: 0}
steps: 1
"""
    got, notes = solve_json(text, "train", tmp_path)
    # g = 2, G = 0.25 + 4 = 4.25, w = 1 - 0.5 * 2 / sqrt(4.25)
    assert got["G(w)[t=1]"] == pytest.approx(4.25)
    assert got["w[t=1]"] == pytest.approx(1 - 1 / math.sqrt(4.25), rel=1e-12)
    assert not any("PyTorch's default" in n for n in notes)    # eps was given
    _, notes = solve_json(text.replace(", eps: 0", ""), "train", tmp_path)
    assert any("eps = 0.00000001 is hwsolve's default" in n and "1e-10" in n for n in notes)


def test_gelu_tanh_is_pytorchs_approximation(tmp_path):
    text = """hwsolve: 1
kind: graph
params: {x: 0.5}
nodes: {y: gelu_tanh(x)}
output: y
"""
    got, _ = solve_json(text, "backprop", tmp_path)
    c = math.sqrt(2 / math.pi)
    inner = c * (0.5 + 0.044715 * 0.125)
    assert got["y"] == pytest.approx(0.25 * (1 + math.tanh(inner)), rel=1e-12)
    d = 0.5 * (1 + math.tanh(inner)) + 0.25 * (1 - math.tanh(inner) ** 2) * c * (1 + 3 * 0.044715 * 0.25)
    assert got["dy/dx"] == pytest.approx(d, rel=1e-12)


def test_average_pooling_can_leave_the_padding_out(tmp_path):
    text = """hwsolve: 1
kind: layer
type: pool
mode: avg
input: [[4, 8], [2, 6]]
window: 2
stride: 2
padding: 1
count_include_pad: {include}
upstream: [[1, 1], [1, 1]]
"""
    # windows hold one image cell each: /4 with the padding (PyTorch's default), /1 without
    got, notes = solve_json(text.format(include="true"), "layer", tmp_path)
    assert got["Y"] == [[1, 2], [0.5, 1.5]] and got["dL/dX"] == [[0.25, 0.25], [0.25, 0.25]]
    got, notes = solve_json(text.format(include="false"), "layer", tmp_path)
    assert got["Y"] == [[4, 8], [2, 6]] and got["dL/dX"] == [[1, 1], [1, 1]]
    assert any("padding excluded" in n and "count_include_pad=False" in n for n in notes)


def test_batchnorm_running_statistics_as_pytorch_updates_them(tmp_path):
    text = """hwsolve: 1
kind: layer
type: batchnorm
input: [[1], [3], [5]]
epsilon: 0
momentum: 0.5
running_mean: [2]
running_var: [1]
upstream: [[1], [0], [0]]
"""
    got, notes = solve_json(text, "layer", tmp_path)
    # mu = 3, biased var = 8/3 (normalises), unbiased 4 (runs): mean (2 + 3)/2, var (1 + 4)/2
    assert got["var"] == [pytest.approx(8 / 3)] and got["var_unbiased"] == [4]
    assert got["running_mean"] == [2.5] and got["running_var"] == [2.5]
    assert any("unbiased variance for running_var" in n for n in notes)


def test_hinge_loss_with_pytorchs_kink_convention(tmp_path):
    text = NET.format(loss="svm_hinge").replace("target: [10, 0.5]", "target: [1, -1]").replace(
        "[[1, 0], [0, 1]]", "[[1, -1], [0.5, 1]]")
    got, _ = solve_json(text, "backprop", tmp_path)
    # yhat = [1, 2]: max(0, 1 - 1) = 0 (on the hinge: derivative 0, as relu'(0)), max(0, 1 + 2) = 3
    assert got["L"] == pytest.approx(1.5) and got["dL/dyhat"] == [0, 0.5]
