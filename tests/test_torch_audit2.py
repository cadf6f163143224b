"""What the second round against PyTorch found (tools/torch_audit2.py), pinned with numbers worked by hand.

The agreeing cases themselves are fixtures (tests/data/torch_reference/audit2_*.json), replayed by
tests/test_torch_reference.py with the first round's.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from hwsolve.cli import main


def solve_json(argv: list[str], tmp_path: Path, text: str | None = None) -> tuple[dict[str, Any], list[str]]:
    if text is not None:
        spec = tmp_path / "spec.yaml"
        spec.write_text(text)
        argv = [argv[0], str(spec), *argv[1:]]
    result = CliRunner().invoke(main, [*argv, "--format", "json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    return {s["name"]: s["value"] for s in out["steps"]}, out["notes"]


def test_gelu_tanh_at_large_inputs_is_its_limit_not_an_error(tmp_path):
    # x ** 3 overflowed past |x| ~ 1e102 ("out of float range"); PyTorch gives x and 0 there, and the
    # tail is exact to double precision well before: tanh(sqrt(2/pi)(x + 0.044715 x^3)) is 1.0 from x ~ 10
    got, _ = solve_json(["activations", "gelu_tanh", "--at", "-1e120,-150,-20,20,150,1e120", "--function",
                         "--derivative"], tmp_path)
    assert got["GELU_tanh(x)"] == [-0.0, -0.0, -0.0, 20, 150, 1e120]
    assert got["GELU_tanh'(x)"] == [0, 0, 0, 1, 1, 1]
    # the formula and the tail meet: at 20 (formula) the value is already 20 to the last bit
    assert 0.5 * 20 * (1 + math.tanh(math.sqrt(2 / math.pi) * (20 + 0.044715 * 20 ** 3))) == 20


GRADFLOW = """hwsolve: 1
kind: gradflow
parts:
  - name: p
    upstream: 0.5
    local: [2, -0.25, 4]
  - name: r
    structure: residual
    block: 1
    upstream: 0.5
    local: [2, -0.25, 4]
"""


def test_a_list_of_local_derivatives_fixes_the_depth(tmp_path):
    # docs/hparam-gradflow.md: "a list fixes the depth"; the parser still asked for 'layers'
    got, _ = solve_json(["gradflow", "--no-chart"], tmp_path, GRADFLOW)
    assert got["p:dL/dx"] == 0.5 * 2 * -0.25 * 4                  # -1
    assert got["r:dL/dx"] == 0.5 * (1 + 2) * (1 - 0.25) * (1 + 4)   # 5.625


def test_a_list_that_disagrees_with_layers_is_still_refused(tmp_path):
    spec = tmp_path / "spec.yaml"
    first = "    local: [2, -0.25, 4]\n  - name: r"
    spec.write_text(GRADFLOW.replace(first, "    layers: 2\n" + first, 1))
    result = CliRunner().invoke(main, ["gradflow", str(spec), "--no-chart"])
    assert result.exit_code == 2 and "fixes the depth at 3 layers" in result.output


@pytest.mark.parametrize(("kind", "says"), [
    ("sgd", "same step as L2"), ("momentum", "enters the velocity"), ("nesterov", "enters the velocity"),
    ("adagrad", "divided by sqrt(G)"), ("rmsprop", "divided by sqrt(s)"), ("adam", "1 / sqrt(vhat)")])
def test_the_decoupled_decay_note_names_the_optimizer_in_use(tmp_path, kind, says):
    # the note said "with Adam this differs ..." for momentum, AdaGrad and RMSProp too
    text = f"""hwsolve: 1
kind: train
objective: {{params: {{w: 1}}, f: "w^2"}}
optimizer: {{type: {kind}, lr: 0.1, weight_decay: 0.5, decoupled: true}}
steps: 2
"""
    got, notes = solve_json(["train"], tmp_path, text)
    note = next(n for n in notes if n.startswith("Weight decay is decoupled"))
    assert says in note
    assert ("with Adam " in note) == (kind == "adam")
    if kind == "sgd":    # w <- w - 0.1 (2 w) - 0.1 (0.5 w) = 0.75 w, twice
        assert got["w[t=2]"] == pytest.approx(0.5625, rel=1e-15)
    if kind == "momentum":   # sheet: m1 = -0.2, w1 = 1 - 0.2 - 0.05 = 0.75; m2 = 0.9 m1 - 0.1 (1.5) = -0.33,
        # w2 = 0.75 - 0.33 - 0.0375 = 0.3825 (the decay outside the velocity: SGDW)
        assert got["w[t=2]"] == pytest.approx(0.3825, rel=1e-12)


BATCH_CE = """hwsolve: 1
kind: network
batch: rows
reduction: {reduction}
input: [[0, 0], [1, 0]]
target: {target}
layers:
  - linear: {{W: [[1, 0], [0, 1]]}}
  - softmax
loss: cross_entropy
"""


@pytest.mark.parametrize("target", ["{class: [0, 1]}", "[[1, 0], [0, 1]]"])
def test_softmax_cross_entropy_on_a_batch_with_integer_or_one_hot_targets(tmp_path, target):
    # was refused ("softmax with a batch is not supported yet"): PyTorch's F.cross_entropy(logits, [0, 1])
    # averages -log p_class over the examples. Example 1: logits [0, 0], p = [1/2, 1/2], loss ln 2;
    # example 2: logits [1, 0], p = [e, 1] / (e + 1), loss ln(e + 1) (class 1)
    e = math.e
    got, notes = solve_json(["backprop"], tmp_path, BATCH_CE.format(reduction="mean", target=target))
    assert got["L"] == pytest.approx((math.log(2) + math.log(e + 1)) / 2, rel=1e-12)
    # dL/dA = (P - Y) / 2, one column per example; dL/dW = dL/dA X^T: only example 2 has x != 0
    assert np.allclose(got["dL/da[1]"], [[-1 / 4, e / (e + 1) / 2], [1 / 4, (1 / (e + 1) - 1) / 2]], rtol=1e-12)
    assert np.allclose(got["dL/dW[1]"], [[e / (e + 1) / 2, 0], [(1 / (e + 1) - 1) / 2, 0]], rtol=1e-12, atol=0)
    summed, _ = solve_json(["backprop"], tmp_path, BATCH_CE.format(reduction="sum", target=target))
    assert summed["L"] == pytest.approx(2 * got["L"], rel=1e-12)


def test_the_batch_softmax_prints_column_by_column(tmp_path):
    text = BATCH_CE.format(reduction="mean", target="{class: [0, 1]}")
    spec = tmp_path / "spec.yaml"
    spec.write_text(text)
    steps = {s["name"]: s for s in json.loads(CliRunner().invoke(
        main, ["backprop", str(spec), "--format", "json"]).output)["steps"]}
    # not (diag(P) - P P^T) dL/dP, which is one example's Jacobian applied to a matrix
    assert "sum_axis0" in steps["dL/da[1]"]["formula"] and "diag" not in steps["dL/da[1]"]["formula"]
    spec.write_text(text + "notation: {output: null}\n")
    steps = {s["name"]: s for s in json.loads(CliRunner().invoke(
        main, ["backprop", str(spec), "--format", "json"]).output)["steps"]}
    assert steps["dL/da[1]"]["formula"].replace(" ", "") == "1/2*(z[1]-y)"    # the mean's 1/n in front of P - Y


@pytest.mark.parametrize(("target", "says"), [
    ("{class: [0, 2]}", "class 2 does not exist"), ("{class: [0]}", "1 class indices for 2 examples"),
    ("{class: 1}", "one class index per example")])
def test_bad_class_targets_of_a_batch_are_one_line_errors(tmp_path, target, says):
    spec = tmp_path / "spec.yaml"
    spec.write_text(BATCH_CE.format(reduction="mean", target=target))
    result = CliRunner().invoke(main, ["backprop", str(spec)])
    assert result.exit_code == 2 and says in result.output and "Traceback" not in result.output


def test_cross_entropy_on_a_batch_needs_the_softmax(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(BATCH_CE.format(reduction="mean", target="{class: [0, 1]}").replace("  - softmax\n", ""))
    result = CliRunner().invoke(main, ["backprop", str(spec)])
    assert result.exit_code == 2 and "needs a softmax" in result.output


LOGITS = """hwsolve: 1
kind: network
input: [1]
target: {target}
layers:
  - linear: {{W: {W}}}
loss: {loss}
"""


def test_bce_with_logits_is_pytorchs_and_finite_where_a_sigmoid_saturates(tmp_path):
    # z = [0, 0], y = [1, 1/4]: Softplus(0) - y 0 = ln 2 each, mean ln 2; dL/dz = (sigmoid(0) - y) / 2
    got, notes = solve_json(["backprop"], tmp_path, LOGITS.format(target="[1, 0.25]", W="[[0], [0]]",
                                                                   loss="bce_with_logits"))
    assert got["L"] == pytest.approx(math.log(2), rel=1e-15)
    assert got["dL/dyhat"] == [-0.25, 0.125]
    assert any("BCEWithLogitsLoss" in n for n in notes)
    # z = 40, y = 0: the loss is 40 + log(1 + e^-40), the gradient sigmoid(40); bce after a sigmoid layer
    # sees yhat = 1.0 in floats and is refused (PyTorch's BCELoss clamps its log at -100 and returns 100, 0)
    got, _ = solve_json(["backprop"], tmp_path, LOGITS.format(target="0", W="[[40]]", loss="bce_with_logits"))
    assert got["L"] == pytest.approx(40 + math.log1p(math.exp(-40)), rel=1e-15)
    assert got["dL/dW[1]"] == [[pytest.approx(1 / (1 + math.exp(-40)), rel=1e-15)]]
    spec = tmp_path / "sig.yaml"
    sat = LOGITS.format(target="0", W="[[40]]", loss="bce").replace("loss: bce", "  - sigmoid\nloss: bce")
    spec.write_text(sat)
    result = CliRunner().invoke(main, ["backprop", str(spec)])
    assert result.exit_code == 2 and "strictly between 0 and 1" in result.output


def test_depthwise_separable_convolution_counts(tmp_path):
    # MobileNet's block on 32x32x16: depthwise 3x3 (groups = 16, no bias) then pointwise 1x1 to 32.
    # nn.Conv2d(16, 16, 3, padding=1, groups=16, bias=False) has 16 * 1 * 3 * 3 = 144 weights and
    # 32 * 32 * 16 * 9 = 147,456 multiply-adds; nn.Conv2d(16, 32, 1): 512 + 32 parameters, 524,288 MACs
    text = """hwsolve: 1
kind: arch
layers:
  - INPUT 32x32x16
  - {type: conv, kernel: 3, filters: 16, padding: 1, groups: 16, bias: false}
  - {type: conv, kernel: 1, filters: 32}
"""
    got, _ = solve_json(["arch"], tmp_path, text)
    assert (got["params[1]"], got["macs[1]"], got["params[2]"], got["macs[2]"]) == (144, 147456, 544, 524288)
    assert got["total_params"] == 688
    flags, _ = solve_json(["conv-shape", "--n", "32", "--k", "3", "--p", "1", "--channels", "16", "--filters", "16",
                           "--groups", "16"], tmp_path)
    assert (flags["weights"], flags["biases"], flags["params"]) == (144, 16, 160)


@pytest.mark.parametrize("argv", [["--channels", "6", "--filters", "4", "--groups", "3"],
                                  ["--pool", "max", "--channels", "4", "--groups", "2"]])
def test_groups_that_cannot_be_are_one_line_errors(argv):
    result = CliRunner().invoke(main, ["conv-shape", "--n", "8", "--k", "3", *argv])
    assert result.exit_code == 2 and "groups" in result.output and "Traceback" not in result.output


SCHEDULED = """hwsolve: 1
kind: train
objective: {{params: {{w: 1}}, f: "{f}"}}
optimizer: {{type: {type}, lr: {lr}, {extra}schedule: {schedule}}}
steps: {steps}
"""


def test_a_step_schedule_with_momentum_is_pytorchs(tmp_path):
    # torch.optim.SGD([w], lr=0.1, momentum=0.5) + StepLR(step_size=2, gamma=0.5), scheduler.step() after each
    # update, on f = w^2 from w = 1: w = 0.8, 0.54, 0.421, 0.3194 (v = 2, 2.6, 2.38, 2.032)
    text = SCHEDULED.format(f="w^2", type="momentum", lr=0.1, extra="momentum: 0.5, ",
                            schedule="{type: step, step_size: 2, gamma: 0.5}", steps=4)
    got, notes = solve_json(["train"], tmp_path, text)
    assert [got[f"lr[t={t}]"] for t in range(1, 5)] == [0.1, 0.1, 0.05, 0.05]
    assert [got[f"w[t={t}]"] for t in range(1, 5)] == [0.8, 0.54, 0.421, 0.3194]     # exact decimals
    assert [got[f"v(w)[t={t}]"] for t in range(1, 5)] == [2, 2.6, 2.38, 2.032]
    assert any("PyTorch's is used" in n for n in notes)          # the convention the spec left open
    assert any("do NOT agree" in n and "learning rate changes" in n for n in notes)
    assert any("alpha = 0.1," in n for n in notes)               # the base rate, not the last one
    # the sheet's form, asked for, keeps each step's rate in m: m3 = 0.5 m2 - 0.05 g3 (w differs from step 3)
    sheet, _ = solve_json(["train"], tmp_path, text.replace("momentum: 0.5, ", "momentum: 0.5, convention: sheet, "))
    assert [sheet[f"w[t={t}]"] for t in (1, 2, 3)] == [0.8, 0.54, 0.356]     # 0.54 + (0.5 (-0.26) - 0.05 (1.08))


def test_a_cosine_schedule_stays_exact_where_the_cosine_is_rational(tmp_path):
    # CosineAnnealingLR(T_max=2, eta_min=0): alpha, alpha/2, 0 at t = 1, 2, 3 (cos 0, cos pi/2, cos pi)
    text = SCHEDULED.format(f="w^2/4", type="sgd", lr="1/2", extra="", schedule="{type: cosine, T_max: 2}", steps=3)
    got, _ = solve_json(["train"], tmp_path, text)
    assert [got[f"lr[t={t}]"] for t in (1, 2, 3)] == [0.5, 0.25, 0]
    # g = w/2: w1 = 1 - 1/4 = 3/4, w2 = 3/4 - (1/4)(3/8) = 21/32, w3 = w2 (a rate of 0)
    assert (got["w[t=1]"], got["w[t=2]"], got["w[t=3]"]) == (0.75, 21 / 32, 21 / 32)


@pytest.mark.parametrize(("schedule", "says"), [
    ("{type: step, gamma: 0.5}", "step_size"), ("{type: exponential, step_size: 2, gamma: 0.5}", "'step_size' is not"),
    ("{type: linear}", "expected one of"), ("{type: exponential, gamma: 0}", "gamma must be > 0")])
def test_bad_schedules_are_one_line_errors(tmp_path, schedule, says):
    spec = tmp_path / "spec.yaml"
    spec.write_text(SCHEDULED.format(f="w^2", type="sgd", lr=0.1, extra="", schedule=schedule, steps=2))
    result = CliRunner().invoke(main, ["train", str(spec)])
    assert result.exit_code == 2 and says in result.output and "Traceback" not in result.output, result.output


def test_nesterov_without_a_convention_is_pytorchs_and_says_so(tmp_path):
    # torch.optim.SGD([w], lr=0.1, momentum=0.9, nesterov=True) on w^2 from 1: v = 2, w = 1 - 0.1 (2 + 1.8) = 0.62;
    # g = 1.24, v = 3.04, w = 0.62 - 0.1 (1.24 + 2.736) = 0.2224. The look-ahead form (the old default) gives 0.8
    text = """hwsolve: 1
kind: train
objective: {params: {w: 1}, f: "w^2"}
optimizer: {type: nesterov, lr: 0.1, momentum: 0.9}
steps: 2
"""
    got, notes = solve_json(["train"], tmp_path, text)
    assert (got["w[t=1]"], got["w[t=2]"]) == (0.62, 0.2224)
    assert any("convention was not given, so PyTorch's is used" in n for n in notes)
    sheet, notes = solve_json(["train"], tmp_path, text.replace("momentum: 0.9}", "momentum: 0.9, convention: sheet}"))
    assert sheet["w[t=1]"] == 0.8 and not any("was not given" in n for n in notes)


DECAYED = """hwsolve: 1
kind: network
input: [2, 1]
target: 10
weight_decay: {decay}
layers:
  - linear: {{W: [[1, 0], [3, 4]], b: [0, -2]}}
  - relu
  - linear: {{W: [[-2, 3]], b: [1]}}
loss: half_squared_error
"""


def test_weight_decay_in_a_network_loss(tmp_path):
    # a[1] = [2, 8], yhat = -4 + 24 + 1 = 21, L_data = (21 - 10)^2 / 2 = 60.5; with every W and b (PyTorch's
    # weight_decay): R = 0.1/2 (1 + 9 + 16 + 0 + 4 + 4 + 9 + 1) = 2.2. dL/dW[2] = 11 z[1]^T + 0.1 W[2]
    got, notes = solve_json(["backprop"], tmp_path, DECAYED.format(decay="0.1"))
    assert (got["L_data"], got["R"], got["L"]) == (60.5, 2.2, 62.7)           # exact
    assert got["dL/dW[2]"] == [[21.8, 88.3]] and got["dL/db[2]"] == 11.1
    assert got["dL/dW[1] via R"] == [[0.1, 0], [0.3, 0.4]]
    assert got["dL/db[1]"] == [-22, 32.8] and got["dL/dx"] == [77, 132]       # the input is not decayed
    assert any("as PyTorch's weight_decay" in n for n in notes)
    # the weights only: R = 0.05 (26 + 13) = 1.95, the biases' gradients are the data loss's
    got, notes = solve_json(["backprop"], tmp_path, DECAYED.format(decay="{lambda: 0.1, biases: false}"))
    assert (got["R"], got["L"], got["dL/db[2]"], got["dL/db[1]"]) == (1.95, 62.45, 11, [-22, 33])
    assert got["dL/dW[2]"] == [[21.8, 88.3]] and any("the weights only" in n for n in notes)


@pytest.mark.parametrize(("decay", "says"), [("-0.1", "must be >= 0"), ("{biases: false}", "'lambda'"),
                                             ("{lambda: 0.1, bias: false}", "bias")])
def test_bad_weight_decay_is_a_one_line_error(tmp_path, decay, says):
    spec = tmp_path / "spec.yaml"
    spec.write_text(DECAYED.format(decay=decay))
    result = CliRunner().invoke(main, ["backprop", str(spec)])
    assert result.exit_code == 2 and says in result.output and "Traceback" not in result.output, result.output


CNN_2CH = """hwsolve: 1
kind: network
input: [[[1, 2], [3, 4]], [[0, 1/2], [1, 0]]]
layers:
  - {type: conv, kernel: [[[1]], [[2]]], bias: 1}
  - flatten
  - {type: linear, W: [[1, 0, 0, -1]]}
target: 0
loss: half_squared_error
"""


@pytest.mark.parametrize("fmt", ["rich", "json", "markdown", "latex"])
def test_a_multichannel_image_prints_in_every_format(tmp_path, fmt):
    # a 2 x 2 x 2 input: 3-axis values printed as Python reprs cut at 80 characters ("(Fraction(-59, 100), ...")
    # in text, and LaTeX (so JSON and markdown) crashed with a traceback
    spec = tmp_path / "spec.yaml"
    spec.write_text(CNN_2CH)
    result = CliRunner().invoke(main, ["backprop", str(spec), "--format", fmt])
    assert result.exit_code == 0, result.output
    assert "Fraction(" not in result.output and "(1," not in result.output
    if fmt == "rich":
        assert "[[[1, 2], [3, 4]], [[0, 0.5], [1, 0]]]" in result.output.replace("\n|          | ", " ")
    if fmt == "latex":
        assert r"\left[ \begin{bmatrix} 1 & 2 \\ 3 & 4 \end{bmatrix}, \begin{bmatrix}" in result.output
    if fmt == "json":
        got = {s["name"]: s["value"] for s in json.loads(result.output)["steps"]}
        # a[1] = x0 + 2 x1 + 1 = [[2, 4], [6, 5]]; yhat = 2 - 5 = -3; dL/da[1] = -3 [[1, 0], [0, -1]]
        assert got["a[1]"] == [[2, 4], [6, 5]] and got["yhat"] == -3
        assert got["dL/dx"] == [[[-3, 0], [0, 3]], [[-6, 0], [0, 6]]]
        assert got["dL/dK[1]"] == [[[-3 * 1 + 3 * 4]], [[-3 * 0 + 3 * 0]]]
