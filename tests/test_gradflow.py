"""gradflow: seed 000 P5 series, the residual block factor, the plot, and bad input."""

from fractions import Fraction

import pytest
from click.testing import CliRunner

from hwsolve.cli import main
from hwsolve.topics.gradflow import solve as gradflow
from hwsolve.topics.gradflow import spec as gradflow_spec

P5 = "problems/cs4782_p5.yaml"


@pytest.fixture(autouse=True)
def _cwd(monkeypatch, problems_dir):
    monkeypatch.chdir(problems_dir.parent)


def run(*args):
    return CliRunner().invoke(main, list(args))


def steps():
    sol = gradflow.solve(gradflow_spec.load(P5))
    return sol, sol.by_name()


def test_part2_plain_and_part3_residual():
    _, s = steps()
    assert s["5.2:dL/dx"].value == Fraction(5, 10**6)           # 0.01 * 0.005 * 0.1
    assert s["5.3:dy[1]/dx"].value == Fraction(10005, 10000)     # 1 + 0.005 * 0.1
    assert s["5.3:dL/dx"].value == Fraction(10005, 10**6)        # 0.01 * 1.0005
    assert s["ratio:5.3/5.2"].value == 2001


def test_part5_plain_series_halves():
    _, s = steps()
    for n in range(1, 7):
        assert s[f"5.5:dL/dx(n={n})"].value == Fraction(1, 2) ** (n + 1)
    assert s["5.5:dL/dx(n=1)"].value == Fraction(1, 4)
    assert s["5.5:dL/dx(n=6)"].value == Fraction(1, 128)


def test_part6_residual_series_grows():
    _, s = steps()
    assert s["5.6:dy[1]/dx"].value == Fraction(5, 4)
    expected = {2: Fraction(5, 8), 4: Fraction(25, 32), 6: Fraction(125, 128)}  # 0.5 * 1.25^(n/2)
    for n, v in expected.items():
        assert s[f"5.6:dL/dx(n={n})"].value == v
        assert s[f"5.6:dL/dx(n={n})"].exact


def test_printout_writes_out_products_and_interpretation():
    r = run("gradflow", P5, "--no-chart")
    assert r.exit_code == 0, r.output
    assert "0.01 * 0.005 * 0.1" in r.output
    assert "0.5(1 + 0.5 * 0.5) * (1 + 0.5 * 0.5)" in r.output
    assert "dz_i/dy_{i-2}" in r.output        # the sheet's notation, and how it is read
    assert "0.9765625" in r.output and "0.0078125" in r.output


def test_figure_has_both_curves():
    sol, _ = steps()
    fig = sol.figure.to_dict()
    by_key = {s["key"]: s for s in fig["series"]}
    assert by_key["5.5:plain"]["x"] == [1, 2, 3, 4, 5, 6]
    assert by_key["5.5:plain"]["y"] == [0.5 ** (n + 1) for n in range(1, 7)]
    assert by_key["5.6:residual"]["x"] == [2, 4, 6]
    assert by_key["5.6:residual"]["y"] == [0.625, 0.78125, 0.9765625]


def test_list_of_locals_and_long_stack(tmp_path):
    spec = tmp_path / "g.yaml"
    spec.write_text("hwsolve: 1\nkind: gradflow\nparts:\n"
                    "  - {name: a, structure: residual, block: 3, layers: 6, upstream: 2,"
                    " local: [1, 2, 3, 0.5, 0.5, 0.5]}\n"
                    "  - {name: b, depths: [40], upstream: 1, local: 0.5}\n")
    s = gradflow.solve(gradflow_spec.load(spec)).by_name()
    assert s["a:dy[1]/dx"].value == 7                   # 1 + 3*2*1
    assert s["a:dy[2]/dy[1]"].value == Fraction(9, 8)   # 1 + 0.5^3
    assert s["a:dL/dx"].value == 2 * 7 * Fraction(9, 8)
    assert s["b:dL/dx"].value == Fraction(1, 2 ** 40)
    assert "0.5^40" in str(s["b:dL/dx"].substituted)


@pytest.mark.parametrize("part,message", [
    ("{structure: residual, block: 4, depths: [2, 4, 6], upstream: 1, local: 0.5}",
     "a residual block of 4 layers does not divide the depth 2"),
    ("{structure: residual, block: 2, layers: 3, upstream: 1, local: 0.5}",
     "does not divide the depth 3"),
    ("{layers: 3, upstream: 1, local: [0.5, 0.5]}", "fixes the depth at 2 layers"),
    ("{layers: 0, upstream: 1, local: 0.5}", "expected a whole number >= 1"),
    ("{layers: 2, local: 0.5}", "missing required key 'upstream'"),
    ("{layers: 2, upstream: 1, local: 0.5, structure: resnet}", "unknown value 'resnet'"),
    ("{layers: 2, upstream: 1, local: 0.5, block: 2}", "'block' is for residual stacks"),
])
def test_bad_parts(tmp_path, part, message):
    spec = tmp_path / "bad.yaml"
    spec.write_text(f"hwsolve: 1\nkind: gradflow\nparts:\n  - {part}\n")
    r = run("gradflow", str(spec))
    assert r.exit_code == 2, r.output
    assert message in r.output
    assert "bad.yaml:4:" in r.output
    assert "Traceback" not in r.output


def test_plot_in_missing_folder_writes_nothing(tmp_path):
    r = run("gradflow", P5, "--plot", str(tmp_path / "no" / "flow.png"))
    assert r.exit_code == 2
    assert "does not exist" in r.output
    assert not (tmp_path / "no").exists()
    assert list(tmp_path.iterdir()) == []


def test_thousands_of_depths_are_exact_and_written_short(tmp_path):
    """Depths 1 to 3000 (a plot's x axis): the values exact, 0.9^n and (1 + 0.5^2)^(n/2), each
    chain written by its ends and a power (only the printed factors are made: the whole list per
    depth made the work grow with the square of the depth, 7 s for 2000)."""
    spec = tmp_path / "g.yaml"
    spec.write_text("hwsolve: 1\nkind: gradflow\nparts:\n"
                    "  - {name: p, structure: plain, depths: {from: 1, to: 3000}, upstream: 1, local: 0.9}\n"
                    "  - {name: r, structure: residual, block: 2, depths: {from: 2, to: 3000, step: 2},"
                    " upstream: 2, local: 0.5}\n")
    s = gradflow.solve(gradflow_spec.load(str(spec))).by_name()
    assert s["p:dL/dx(n=3000)"].value == Fraction(9, 10) ** 3000
    assert s["r:dL/dx(n=3000)"].value == 2 * Fraction(5, 4) ** 1500
    assert str(s["p:dL/dx(n=3000)"].substituted) == "1 * 0.9^3000"
    assert str(s["p:dL/dx(n=3000)"].formula) == "dL/dz[3000] * dz[3000]/dz[2999] * ... * dz[1]/dx"


def test_the_fives_of_a_denominator_are_counted_by_squaring():
    from hwsolve.core.numfmt import _fives

    for k in (0, 1, 2, 3, 7, 8, 63, 64, 65, 1000, 4097):
        for rest in (1, 2, 3, 7, 11):
            assert _fives(5 ** k * rest) == (k, rest)
