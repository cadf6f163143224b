"""Every bad spec gets one clear line: file, line, field, what was expected; exit code 2."""

import pytest
from click.testing import CliRunner

from hwsolve.cli import main

GOOD_TAIL = "loss: squared_error\n"

CASES = {
    "broken YAML": ("input: [1, 2\nlayers: []\n", 2, "invalid YAML"),
    "unknown key": ("input: [1]\ntarget: 1\nlayers: [relu]\nloss: mse\nlayerz: 3\n", 5,
                    "unknown key 'layerz' (did you mean 'layers'?)"),
    "shapes do not chain": ("input: [1, 2]\ntarget: 1\nlayers:\n  - linear:\n      W: [[1, 2, 3]]\n"
                            "      b: [0]\nloss: mse\n", 4, "W has 3 columns but this layer's input has 2"),
    "bias length": ("input: [1, 2]\ntarget: 1\nlayers:\n  - linear:\n      W: [[1, 2]]\n"
                    "      b: [0, 1]\nloss: mse\n", 4, "b has 2 entries but W has 1 rows"),
    "ragged matrix": ("input: [1, 2]\ntarget: 1\nlayers:\n  - linear:\n      W: [[1, 2], [3]]\n"
                      "loss: mse\n", 5, "row 2 has 1 entries but row 1 has 2"),
    "non-numeric entry": ("input: [1, two]\ntarget: 1\nlayers: [relu]\nloss: mse\n", 1,
                          "input[1]: expected a number"),
    "missing target": ("input: [1]\nlayers: [relu]\nloss: mse\n", 1, "missing required key 'target'"),
    "zero denominator": ('input: ["1/0"]\ntarget: 1\nlayers: [relu]\nloss: mse\n', 1,
                         "fraction '1/0' has a zero denominator"),
    "target size": ("input: [1, 2]\ntarget: [1, 2, 3]\nlayers: [relu]\nloss: mse\n", 2,
                    "target has 3 entries but the network outputs 2"),
    "class out of range": ("input: [1, 2]\ntarget: {class: 5}\nlayers: [softmax]\nloss: ce\n", 2,
                           "class 5 does not exist"),
    "unknown layer": ("input: [1]\ntarget: 1\nlayers: [relux]\nloss: mse\n", 3,
                      "unknown layer type 'relux'"),
    "unknown loss": ("input: [1]\ntarget: 1\nlayers: [relu]\nloss: hinge\n", 4, "unknown loss 'hinge'"),
    "layout": ("input: [1]\ntarget: 1\nlayers: [relu]\nloss: mse\nlayout: diagonal\n", 5,
               "unknown value 'diagonal'"),
    "python tag": ("input: !!python/object/apply:os.system ['echo hi']\n", 1, "unsupported YAML tag"),
    "huge exponent": ("input: [1e999999]\ntarget: 1\nlayers: [relu]\nloss: mse\n", 1, "out of range"),
    "version": ("hwsolve: 7\ninput: [1]\n", 1, "spec format version 1, not 7"),
    "wrong kind": ("hwsolve: 1\nkind: sandwich\n", 2, "unknown value 'sandwich'"),
    "ce without softmax": ("input: [1, 2]\ntarget: {class: 1}\nlayers: [relu]\nloss: cross_entropy\n", 4,
                           "needs a softmax"),
    "empty file": ("", None, "the file is empty"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_spec_gets_one_clear_line(tmp_path, case):
    text, line, message = CASES[case]
    spec = tmp_path / "bad.yaml"
    spec.write_text(text)
    result = CliRunner().invoke(main, ["backprop", str(spec)])
    assert result.exit_code == 2, result.output
    err = result.stderr if hasattr(result, "stderr") else result.output
    assert message in err
    where = f"{spec}:{line}:" if line else f"{spec}:"
    assert where in err
    assert "Traceback" not in result.output
    assert err.count("\n") == 1  # one line


def test_missing_file(tmp_path):
    result = CliRunner().invoke(main, ["backprop", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    assert "cannot read file" in result.output


def test_alias_bomb_is_bounded(tmp_path):
    lines = ["a0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    spec = tmp_path / "bomb.yaml"
    spec.write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(main, ["backprop", str(spec)])
    assert result.exit_code == 2
    assert "too many values" in result.output


def test_oversized_network_is_refused(tmp_path):
    spec = tmp_path / "big.yaml"
    row = "[" + ", ".join(["1"] * 5000) + "]"
    spec.write_text(f"input: {row}\ntarget: 1\nlayers: [relu]\nloss: mse\n")
    result = CliRunner().invoke(main, ["backprop", str(spec)])
    assert result.exit_code == 2
    assert "the limit is 4096" in result.output


def test_log_of_zero_at_the_evaluation_point_is_a_math_error(tmp_path):
    spec = tmp_path / "bce.yaml"
    # sigmoid(1000) is exactly 1.0 in floats: BCE with y = 0 needs log(1 - 1)
    spec.write_text("input: [1000]\ntarget: 0\nlayers: [sigmoid]\nloss: bce\n")
    result = CliRunner().invoke(main, ["backprop", str(spec)])
    assert result.exit_code == 2
    assert "node 'L'" in result.output and "strictly between 0 and 1" in result.output
