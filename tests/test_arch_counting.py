"""arch counting for sequence layers, receptive fields and multiply-adds (issue 12, item 7),
against the closed forms PyTorch's layers have and an independent interval walk."""

from __future__ import annotations

import textwrap

from hypothesis import given, settings, strategies as st

from hwsolve.topics.arch.solve import solve_arch
from hwsolve.topics.arch.spec import load_arch

from conftest import PROBLEMS


def values(sol):
    return {s.name: s.value for s in sol.steps}


def arch(tmp_path, layers: list[str]):
    p = tmp_path / "a.yaml"
    p.write_text("hwsolve: 1\nkind: arch\nlayers:\n" + "".join(f"  - {x}\n" for x in layers))
    return values(solve_arch(load_arch(p)))


def test_sequence_spec_pinned_against_pytorch_counts():
    v = values(solve_arch(load_arch(PROBLEMS / "arch_sequence.yaml")))
    assert v["params[1]"] == 3_152_384      # nn.TransformerEncoderLayer(512, 8, 2048)
    assert v["params[2]"] == 1_050_624      # nn.MultiheadAttention(512, 8)
    assert v["params[3]"] == 788_480        # nn.LSTM(512, 256)
    assert v["params[4]"] == 247_296        # nn.GRU(256, 128, num_layers=2)
    assert v["params[5]"] == 12_416         # nn.RNN(128, 64)
    assert v["params[6]"] == 650            # nn.Linear(64, 10) on every token
    assert v["volume[6]"] == 500


@settings(max_examples=30, deadline=None)
@given(st.sampled_from([("RNN", 1), ("GRU", 3), ("LSTM", 4)]), st.integers(1, 300), st.integers(1, 300),
       st.integers(1, 3), st.integers(1, 20))
def test_recurrent_params_and_macs_closed_form(tmp_path_factory, kind, i, h, layers, T):
    name, g = kind
    v = arch(tmp_path_factory.mktemp("a"), [f"INPUT {T}x{i}", f"{name}-{h}x{layers}"])
    want = sum(g * (h * ((i if n == 0 else h) + h) + 2 * h) for n in range(layers))
    assert v["params[1]"] == want
    assert v["macs[1]"] == T * sum(g * h * ((i if n == 0 else h) + h) for n in range(layers))
    assert v["volume[1]"] == T * h


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 16), st.integers(1, 64), st.integers(1, 300), st.integers(1, 30))
def test_attention_and_transformer_closed_forms(tmp_path_factory, heads, per_head, ff, T):
    d = heads * per_head
    v = arch(tmp_path_factory.mktemp("a"), [f"INPUT {T}x{d}", f"MHA-{heads}", f"TRANSFORMER-{heads}-{ff}"])
    assert v["params[1]"] == 4 * d * d + 4 * d
    assert v["params[2]"] == 4 * d * d + 4 * d + 2 * d * ff + ff + d + 4 * d
    assert v["macs[1]"] == 4 * T * d * d + 2 * T * T * d


def interval_rf(layers):
    """The input pixels output 0 of the last layer reads: walk the interval back layer by layer."""
    lo, hi = 0, 0
    for k, s, d in reversed(layers):
        lo, hi = lo * s, hi * s + d * (k - 1)
    return hi - lo + 1


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 5), st.integers(1, 3), st.integers(1, 2)), min_size=1, max_size=4))
def test_receptive_field_against_the_interval_walk(tmp_path_factory, stack):
    tokens = ["INPUT 512x512x1"] + [f"{{type: conv, kernel: {k}, filters: 2, stride: {s}, dilation: {d}}}"
                                    for k, s, d in stack]
    v = arch(tmp_path_factory.mktemp("a"), tokens)
    assert v["receptive_field"] == interval_rf(stack)


def test_conv_macs_and_thousands_in_the_table(tmp_path):
    p = tmp_path / "a.yaml"
    p.write_text(textwrap.dedent("""\
        hwsolve: 1
        kind: arch
        defaults: {conv: {padding: 1}}
        layers: [INPUT 224x224x3, CONV3-64, POOL2, FC-1000]
        """))
    sol = solve_arch(load_arch(p))
    v = values(sol)
    assert v["macs[1]"] == 224 * 224 * 64 * 3 * 3 * 3
    assert v["macs[2]"] == 0
    assert v["macs[3]"] == 112 * 112 * 64 * 1000
    assert "86,704,128" in sol.step("macs[1]").note
    assert v["receptive_field"] == 4 and v["jump[2]"] == 2


def test_sequence_layer_on_an_image_is_one_line_error(tmp_path):
    from click.testing import CliRunner
    from hwsolve.cli import main

    p = tmp_path / "a.yaml"
    p.write_text("hwsolve: 1\nkind: arch\nlayers: [INPUT 8x8x1, LSTM-4]\n")
    r = CliRunner().invoke(main, ["arch", str(p)])
    assert r.exit_code == 2
    assert r.output.strip() == (f"error: {p}:3: layers[1]: LSTM-4 reads a sequence T x d (INPUT with size "
                                "[T, d]), but its input is 8x8x1")
