"""activations and plot files: valid images of the expected size whose embedded data is checked."""

import json
import math
import subprocess
import sys
import xml.etree.ElementTree as ET
from fractions import Fraction

import pytest
from click.testing import CliRunner

from hwsolve.render import plot
from hwsolve.cli import main
from hwsolve.core.records import Figure
from hwsolve.topics.activations import solve as activation_plot
from hwsolve.topics.activations import spec as activation_spec
from hwsolve.topics.gradflow import solve as gradflow
from hwsolve.topics.gradflow import spec as gradflow_spec

PIL = pytest.importorskip("PIL.Image")


@pytest.fixture(autouse=True)
def _cwd(monkeypatch, problems_dir):
    monkeypatch.chdir(problems_dir.parent)


def run(*args):
    return CliRunner().invoke(main, list(args))


def png_data(path):
    with PIL.open(path) as im:
        im.verify()
    with PIL.open(path) as im:
        return im.format, im.size, json.loads(im.info["Description"])


def svg_data(path):
    root = ET.parse(path).getroot()
    ns = {"dc": "http://purl.org/dc/elements/1.1/"}
    desc = root.find(".//dc:description", ns)
    return root.get("width"), root.get("height"), json.loads(desc.text)


def test_seed_002_derivative_values():
    sol = activation_plot.solve(activation_spec.load("problems/nyu2572_1_5c.yaml"))
    s = sol.by_name()
    assert s["x"].value == (-3, -1, Fraction(-1, 2), 0, Fraction(1, 2), 1, 3)
    assert s["ReLU'(x)"].value == (0, 0, 0, 0, 1, 1, 1)
    assert s["LeakyReLU'(x)"].value[:3] == (Fraction(1, 100),) * 3
    sp = s["Softplus'(x)"].value
    assert sp[3] == pytest.approx(0.5) and sp[0] == pytest.approx(1 / (1 + math.e ** 3))
    gelu = s["GELU'(x)"].value
    phi = lambda x: math.exp(-x * x / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    cdf = lambda x: 0.5 * (1 + math.erf(x / math.sqrt(2)))  # noqa: E731
    assert gelu[1] == pytest.approx(cdf(-1) - phi(-1))
    assert "not differentiable at x = 0" in s["ReLU'(x)"].note


def test_png_of_derivatives_is_valid_and_carries_its_data(tmp_path):
    out = tmp_path / "d.png"
    r = run("activations", "relu", "leaky_relu:0.01", "softplus:1", "gelu", "--derivative",
            "--plot", str(out))
    assert r.exit_code == 0, r.output
    fmt, size, data = png_data(out)
    assert fmt == "PNG" and size == (800, 500)
    labels = [s["label"] for s in data["series"]]
    assert labels == ["ReLU derivative", "LeakyReLU(slope=0.01) derivative",
                      "Softplus(beta=1) derivative", "GELU derivative"]
    relu = data["series"][0]
    assert relu["x"][0] == -4 and relu["x"][-1] == 4 and len(relu["x"]) == activation_plot.SAMPLES
    for x, y in zip(relu["x"], relu["y"], strict=False):
        assert y == (1.0 if x > 0 else 0.0)
    leaky = data["series"][1]
    assert min(leaky["y"]) == pytest.approx(0.01)
    gelu = data["series"][3]
    assert min(gelu["y"]) == pytest.approx(-0.1289, abs=1e-3)   # at x = -sqrt(2)
    assert data["xlabel"] == "x" and data["ylabel"] == "f'(x)"
    assert list(tmp_path.iterdir()) == [out]


def test_gradflow_png_has_both_curves_on_log_scale(tmp_path):
    out = tmp_path / "flow.png"
    r = run("gradflow", "problems/cs4782_p5.yaml", "--plot", str(out))
    assert r.exit_code == 0, r.output
    _, size, data = png_data(out)
    assert size == (800, 500)
    ys = {s["key"]: s["y"] for s in data["series"]}
    assert ys["5.5:plain"][-1] == 0.0078125 and ys["5.6:residual"][-1] == 0.9765625
    fig = plot.render_figure(Figure.from_dict(data))
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"                       # 0.0078 .. 0.98 spans two decades
    assert "dL/dx" in ax.get_ylabel() and ax.get_xlabel() == "number of layers n"
    assert ax.get_title()
    lines = [line for line in ax.get_lines() if line.get_label() in ("5.5 plain", "5.6 residual (blocks of 2)")]
    assert [list(line.get_xdata()) for line in lines] == [[1, 2, 3, 4, 5, 6], [2, 4, 6]]


def test_svg_is_valid_sized_and_deterministic(tmp_path):
    a, b = tmp_path / "a.svg", tmp_path / "b.svg"
    for p in (a, b):
        r = run("activations", "problems/nyu2572_1_5c.yaml", "--plot", str(p))
        assert r.exit_code == 0, r.output
    assert a.read_bytes() == b.read_bytes()
    w, h, data = svg_data(a)
    assert (w, h) == ("576pt", "360pt")
    assert len(data["series"]) == 4
    c, d = tmp_path / "c.png", tmp_path / "d.png"
    for p in (c, d):
        assert run("hparam", "problems/cs4782_p2.yaml", "--plot", str(p)).exit_code == 0
    assert c.read_bytes() == d.read_bytes()
    _, _, data = png_data(c)
    assert [h["y"] for h in data["hlines"]] == [0.95, 0.995]
    assert [v["x"] for v in data["vlines"]] == [59, 104]


def test_linear_scale_when_values_do_not_span_decades():
    assert not plot.use_log_scale([0.1, 0.5, 1])
    assert plot.use_log_scale([0.001, 1])
    assert not plot.use_log_scale([0, 1, 1000])       # zero: a log axis cannot show it


@pytest.mark.parametrize("args,message", [
    (["relu", "swish"], "unknown activation 'swish'"),
    (["relu:2"], "'relu' takes no parameter"),
    (["softplus:0"], "Softplus needs beta > 0"),
    (["leaky_relu:abc"], "cannot read the parameter"),
    (["relu", "--range", "3,1"], "the range needs low < high"),
    (["relu", "--at", "1,x"], "expected comma-separated numbers"),
    ([], "name at least one activation"),
    (["relu", "--plot", "out.pdf"], "plot file must end in .png or .svg"),
    (["relu", "--plot", "missing_folder/out.png"], "folder 'missing_folder' does not exist"),
])
def test_bad_input(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    r = run("activations", *args)
    assert r.exit_code == 2, r.output
    assert message in r.output
    assert "Traceback" not in r.output
    assert list(tmp_path.iterdir()) == []


def test_no_half_written_plot_when_writing_fails(tmp_path, monkeypatch):
    import os

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    target = tmp_path / "flow.png"
    prob = gradflow_spec.load("problems/cs4782_p5.yaml")
    with pytest.raises(OSError):
        plot.save_plot(gradflow.solve(prob).figure, str(target))
    assert list(tmp_path.iterdir()) == []


def test_existing_plot_is_kept_when_drawing_fails(tmp_path, monkeypatch):
    target = tmp_path / "flow.png"
    target.write_bytes(b"old")

    def broken(fig, fmt):
        raise RuntimeError("renderer failed")

    monkeypatch.setattr(plot, "figure_bytes", broken)
    r = run("gradflow", "problems/cs4782_p5.yaml", "--plot", str(target))
    assert r.exit_code != 0
    assert target.read_bytes() == b"old"
    assert list(tmp_path.iterdir()) == [target]


def test_matplotlib_not_imported_at_start_up():
    code = ("import sys, hwsolve.cli; from click.testing import CliRunner;"
            "r = CliRunner().invoke(hwsolve.cli.main, ['hparam', '--p', '0.05', '--q', '0.95']);"
            "assert r.exit_code == 0, r.output;"
            "assert 'matplotlib' not in sys.modules, 'matplotlib imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
