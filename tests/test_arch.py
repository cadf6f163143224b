"""arch and vit-patches (issue 4): seed 003 Q3 table and Q4 patches pinned, every bad input."""

from __future__ import annotations

import json
import textwrap

import pytest
from click.testing import CliRunner

from hwsolve.cli import main
from hwsolve.topics.arch.solve import solve_arch, solve_vit
from hwsolve.topics.arch.spec import load_arch, load_vit

from conftest import PROBLEMS


def run(*args):
    return CliRunner().invoke(main, list(args))


def values(sol):
    return {s.name: s.value for s in sol.steps}


def test_seed003_q3_table():
    sol = solve_arch(load_arch(PROBLEMS / "csc6022_q3.yaml"))
    v = values(sol)
    table = [(str(sol.step(f"volume[{i}]").substituted), v[f"params[{i}]"]) for i in range(6)]
    assert table == [
        ("32 x 32 x 1", 0),      # INPUT
        ("32 x 32 x 10", 260),   # CONV5-10: (5*5*1 + 1)*10, pad 2 keeps 32
        ("16 x 16 x 10", 0),     # POOL2
        ("16 x 16 x 10", 2510),  # CONV5-10: (5*5*10 + 1)*10
        ("8 x 8 x 10", 0),       # POOL2
        ("10", 6410),            # FC-10: 8*8*10 = 640 inputs, 640*10 + 10
    ]
    assert [v[f"volume[{i}]"] for i in range(6)] == [1024, 10240, 2560, 2560, 640, 10]
    assert v["L5.flatten"] == 640
    assert (v["total_params"], v["total_weights"], v["total_biases"]) == (9180, 9150, 30)
    assert v["L1.weights"] == 250 and v["L1.biases"] == 10


def test_seed003_q3_cli_json():
    r = run("arch", str(PROBLEMS / "csc6022_q3.yaml"), "--format", "json")
    assert r.exit_code == 0, r.output
    d = {s["name"]: s["value"] for s in json.loads(r.output)["steps"]}
    assert d["params[5]"] == 6410 and d["total_params"] == 9180


def test_seed003_q4_vit_patches():
    v = values(solve_vit(load_vit(PROBLEMS / "csc6022_q4.yaml")))
    assert v["num_patches"] == 196  # (224/16)^2
    assert v["patch_len"] == 768    # 16*16*3
    assert v["seq_len"] == 197      # with the class token


def test_vit_cli_with_dim():
    r = run("vit-patches", "--image", "224", "--patch", "16", "--channels", "3", "--dim", "768",
            "--format", "json")
    assert r.exit_code == 0, r.output
    d = {s["name"]: s["value"] for s in json.loads(r.output)["steps"]}
    assert d["embed_weights"] == 768 * 768 and d["embed_biases"] == 768
    assert d["embed_params"] == 769 * 768 and d["pos_embed"] == 197 * 768
    r = run("vit-patches", "--image", "224x160", "--patch", "16", "--no-cls", "--format", "json")
    d = {s["name"]: s["value"] for s in json.loads(r.output)["steps"]}
    assert d["num_patches"] == 14 * 10 and d["seq_len"] == 140


def write(tmp_path, text):
    p = tmp_path / "spec.yaml"
    p.write_text(textwrap.dedent(text))
    return str(p)


def test_explicit_layers_and_extras(tmp_path):
    path = write(tmp_path, """\
        hwsolve: 1
        kind: arch
        layers:
          - {type: input, size: 28x28x3}
          - {type: conv, kernel: 3, filters: 8, padding: same}
          - BN
          - RELU
          - {type: pool, size: 2, mode: avg}
          - FLATTEN
          - {type: dropout, rate: 0.5}
          - {type: fc, units: 5, bias: false}
        """)
    v = values(solve_arch(load_arch(path)))
    assert v["volume[1]"] == 28 * 28 * 8 and v["params[1]"] == (3 * 3 * 3 + 1) * 8
    assert v["params[2]"] == 16  # gamma and beta per channel
    assert v["volume[4]"] == 14 * 14 * 8
    assert v["volume[5]"] == 1568 and v["params[7]"] == 1568 * 5
    assert v["total_params"] == 224 + 16 + 7840


@pytest.mark.parametrize("body, message", [
    ("layers: [INPUT 32x32x1, CONV5x10]", "spec.yaml:3: layers[1]: unknown layer token 'CONV5x10'"),
    ("layers: [INPUT 32x32x1, DECONV3-4]", "unknown layer token 'DECONV3-4'; expected one of: INPUT HxWxC"),
    ("layers: [CONV5-10]", "the first layer must be INPUT"),
    ("layers: [INPUT 32x32x1, FC-10, CONV3-2]", "CONV3-2 needs an HxWxC volume, but its input is the vector 10"),
    ("layers: [INPUT 4x4x1, CONV7-2]", "layers[1]: CONV7-2: the kernel height 7 is larger than the padded input"),
    ("layers: [INPUT 32x32x1, CONV0-2]", "layers[1]: CONV0-2: must be at least 1, got 0"),
    ("layers:\n  - {type: input, size: 32.5x32x1}", "layers[0].size: expected sizes like 32x32x1"),
    ("layers:\n  - INPUT 8x8x1\n  - {type: conv, kernel: 3, filters: 2, stride: 0}",
     "spec.yaml:5: layers[1].stride: must be at least 1, got 0"),
    ("layers:\n  - INPUT 8x8x1\n  - {type: conv, kernel: 3, filters: 2, padding: -1}",
     "layers[1].padding: cannot be negative, got -1"),
    ("layers:\n  - INPUT 8x8x1\n  - {type: conv, kernel: 3}", "layers[1]: a conv layer needs 'filters'"),
    ("layers:\n  - INPUT 8x8x1\n  - {type: convolution, kernel: 3}", "layers[1].type: unknown value 'convolution'"),
    ("defaults: {conv: {padding: 2, strides: 1}}\nlayers: [INPUT 8x8x1]",
     "defaults.conv.strides: unknown key 'strides' (did you mean 'stride'?)"),
    ("layers: []", "expected at least the INPUT layer"),
])
def test_arch_bad_input(tmp_path, body, message):
    r = run("arch", write(tmp_path, "hwsolve: 1\nkind: arch\n" + body + "\n"))
    assert r.exit_code == 2, r.output
    assert message in r.stderr
    assert "Traceback" not in r.output


@pytest.mark.parametrize("args, message", [
    (["--image", "225", "--patch", "16"], "--patch: the patch height 16 does not divide the image height 225"),
    (["--image", "224", "--patch", "300"], "larger than the image"),
    (["--image", "224", "--patch", "0"], "--patch: must be at least 1, got 0"),
    (["--image", "22.4", "--patch", "16"], "--image: expected a whole number or HxW"),
    (["--patch", "16"], "--image: missing the image size"),
    (["--image", "224", "--patch", "16", "--dim", "-3"], "--dim: must be at least 1, got -3"),
])
def test_vit_bad_input(args, message):
    r = run("vit-patches", *args)
    assert r.exit_code == 2, r.output
    assert message in r.stderr


def test_vit_spec_bad_patch(tmp_path):
    r = run("vit-patches", write(tmp_path, "hwsolve: 1\nkind: vit\nimage: 100\npatch: 16\n"))
    assert r.exit_code == 2
    assert "spec.yaml:4: patch: the patch height 16 does not divide the image height 100" in r.stderr


def test_a_written_flatten_stores_no_second_copy_of_the_volume(tmp_path):
    """A flatten is a reshape: total_activations is the same whether it is written or left to the
    fully-connected layer (it counted the 192 numbers twice when written; found by a helper review)."""
    head = "hwsolve: 1\nkind: arch\nlayers:\n  - INPUT 8x8x3\n"
    totals = []
    for body in ("  - FLATTEN\n  - FC-2\n", "  - FC-2\n"):
        (tmp_path / "a.yaml").write_text(head + body)
        totals.append(values(solve_arch(load_arch(str(tmp_path / "a.yaml"))))["total_activations"])
    assert totals == [192 + 2, 192 + 2]


def test_a_table_of_a_thousand_layers_totals_without_a_sum_too_deep_to_print(tmp_path):
    """999 FC layers: the totals' sums were 1,000 terms deep and the printer refused them ('input
    nested too deeply'); a total writes its first terms, ..., and the last."""
    (tmp_path / "a.yaml").write_text("hwsolve: 1\nkind: arch\nlayers:\n  - INPUT 8x8x1\n" + "  - FC-10\n" * 999)
    r = run("arch", str(tmp_path / "a.yaml"), "--format", "json")
    assert r.exit_code == 0, r.output
    steps = {s["name"]: s for s in json.loads(r.output)["steps"]}
    assert steps["total_params"]["value"] == 650 + 998 * 110
    assert "... + 110" in steps["total_params"]["substituted"]
