"""Issue 15: per-student variants. A template of seed 000 P1 gives every student of a roster their
own numbers (deterministic from the template, the id and the course secret), each draw meets its
constraints and is solved right (checked against an independent numpy pass), sheets compile, and
each submission is graded against its own variant."""

import json
import shutil
import subprocess

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from hwsolve.cli import main
from hwsolve.core.errors import SpecError
from hwsolve.variants.template import load_template, make_variant

from conftest import PROBLEMS

TEMPLATE = PROBLEMS / "cs4782_p1_template.yaml"
SECRET = b"course-secret-0123456789abcdef"


def run(args):
    return CliRunner().invoke(main, [str(a) for a in args])


def _independent(key: dict) -> dict:
    """Forward and backward pass of the 3-layer ReLU net in float numpy, written from the math."""
    x = np.array(key["input"], float)
    Ws = [np.array(key["layers"][i]["linear"]["W"], float) for i in (0, 2, 4)]
    bs = [np.array(key["layers"][i]["linear"]["b"], float) for i in (0, 2, 4)]
    zs, As = [x], []
    for W, b in zip(Ws, bs, strict=True):
        As.append(W @ zs[-1] + b)
        zs.append(np.maximum(As[-1], 0))
    out = {"a[3]": As[2][0], "yhat": zs[3][0]}
    g = 2 * (zs[3] - float(key["target"]))
    for layer in (2, 1, 0):
        da = g * (As[layer] > 0)
        out[f"dL/dW[{layer + 1}]"] = np.outer(da, zs[layer])
        out[f"dL/db[{layer + 1}]"] = da
        g = Ws[layer].T @ da
    return out


def _check_variant(v) -> None:
    by = v.solution.by_name()
    ref = _independent(yaml.safe_load(v.text))
    for name, want in ref.items():
        assert np.allclose(np.array(by[name].value, float).reshape(np.shape(want)), want), name
    forward = [s for s in v.solution.steps if s.section == "forward"]
    for s in forward:       # the template's constraints
        vals = np.array(s.value, dtype=object).ravel()
        assert all(int(x) == x and abs(x) <= 150 for x in vals), s.name
    for a in ("a[1]", "a[2]", "a[3]"):
        assert all(x != 0 for x in np.array(by[a].value, dtype=object).ravel()), a
    dead = sum(int(x < 0) for a in ("a[1]", "a[2]", "a[3]") for x in np.array(by[a].value, dtype=object).ravel())
    assert dead <= 2
    for name, _ in v.graded:
        assert any(x != 0 for x in np.array(by[name].value, dtype=object).ravel()), name


@settings(max_examples=25, deadline=None)
@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=12),
       st.binary(min_size=16, max_size=40))
def test_every_variant_meets_its_constraints_and_is_solved_right(student, secret):
    _check_variant(make_variant(load_template(str(TEMPLATE)), student, secret))


def test_the_draw_depends_on_id_and_secret_only():
    t = load_template(str(TEMPLATE))
    a = make_variant(t, "alice", SECRET)
    assert make_variant(load_template(str(TEMPLATE)), "alice", SECRET).text == a.text
    assert make_variant(t, "bob", SECRET).text != a.text
    assert make_variant(t, "alice", SECRET + b"x").text != a.text


def test_impossible_constraints_fail_with_one_clear_error(tmp_path):
    text = TEMPLATE.read_text().replace("answers_max_abs: 2000", "answers_max_abs: 1/1000").replace(
        "tries: 500", "tries: 20")
    p = tmp_path / "t.yaml"
    p.write_text(text)
    with pytest.raises(SpecError, match="no draw met the constraints in 20 tries.*beyond"):
        make_variant(load_template(str(p)), "alice", SECRET)


def test_a_draw_of_a_path_the_spec_lacks_is_an_error_with_its_line(tmp_path):
    p = tmp_path / "t.yaml"
    p.write_text(TEMPLATE.read_text().replace("layers[4].linear.b:", "layers[9].linear.b:"))
    out = run(["variants", p, "--roster", p, "--secret-file", p, "-o", tmp_path / "o"])
    assert out.exit_code == 2 and "layers[9].linear.b" in out.output and "line" in out.output


def test_the_question_prints_what_is_given_and_asked_without_answers():
    for fmt in ("rich", "json", "markdown", "latex"):
        out = run(["question", PROBLEMS / "cs4782_p1.yaml", "--format", fmt])
        assert out.exit_code == 0, out.output
        assert "dL/dW[3]" in out.output or r"\partial W^{[3]}" in out.output
        assert "-152" not in out.output            # the answer dL/dW[3] = [[-152, -88]] is not shown
    steps = json.loads(run(["question", PROBLEMS / "cs4782_p1.yaml", "--format", "json"]).output)["steps"]
    assert {s["name"]: s["value"] for s in steps if s["section"] == "given"}["W[1]"] == [[1, 0], [3, 4], [1, 2]]
    assert all(s["value"] is None for s in steps if s["section"] != "given")
    for spec in ("cs4782_p4.yaml", "csci5922_q3b.yaml", "cs4782_p2.yaml", "layer_conv.yaml"):
        assert run(["question", PROBLEMS / spec, "--format", "json"]).exit_code == 0, spec


@pytest.fixture(scope="module")
def class_of_30(tmp_path_factory):
    d = tmp_path_factory.mktemp("class")
    (d / "roster.csv").write_text("student,name\n" + "".join(f"s{i:02d},Student {i}\n" for i in range(30)))
    (d / "course.secret").write_bytes(SECRET + b"\n")
    args = ["variants", TEMPLATE, "--roster", d / "roster.csv", "--secret-file", d / "course.secret"]
    out = run(args + ["-o", d / "out"])
    assert out.exit_code == 0, out.output
    again = run(args + ["-o", d / "again"])
    assert again.exit_code == 0
    return d


def test_thirty_students_get_thirty_distinct_variants_and_identical_bytes_on_a_rerun(class_of_30):
    d = class_of_30
    manifest = json.loads((d / "out" / "manifest.json").read_text())
    assert len(manifest["students"]) == 30 and manifest["distinct_variants"] == 30
    assert len({(d / "out" / f"s{i:02d}" / "key.yaml").read_text() for i in range(30)}) == 30
    for f in sorted((d / "out").rglob("*")):
        if f.is_file():
            assert f.read_bytes() == (d / "again" / f.relative_to(d / "out")).read_bytes(), f


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is installed by make test")
def test_every_sheet_compiles(class_of_30, tmp_path):
    for i in range(30):
        sheet = class_of_30 / "out" / f"s{i:02d}" / "sheet.tex"
        r = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "-output-directory",
                            str(tmp_path), str(sheet)], capture_output=True, timeout=60)
        assert r.returncode == 0, r.stdout[-2000:]
        md = sheet.with_suffix(".md").read_text()
        assert f"s{i:02d}" in md and "W^{[1]}" in md


def _answers(key_file, student, slip=None):
    from hwsolve import topics

    _, sol = topics.load_and_solve(str(key_file))
    by = sol.by_name()
    steps = [n for n in yaml.safe_load(key_file.read_text())["rubric"]["steps"]]

    def plain(v):
        return [plain(x) for x in v] if isinstance(v, tuple) else str(v)
    ans = {n: plain(by[n].value) for n in steps}
    if slip:   # a wrong a[3], and z[3] and yhat carried forward from it
        a3 = int(by["a[3]"].value) + 1
        ans.update({"a[3]": a3, "z[3]": a3, "yhat": a3})
    return {"student": student, "answers": ans}


def test_a_batch_is_graded_each_against_its_own_variant(class_of_30, tmp_path):
    d = class_of_30
    subs = tmp_path / "subs"
    subs.mkdir()
    keys = {f"s{i:02d}": d / "out" / f"s{i:02d}" / "key.yaml" for i in range(6)}
    files = {"right0": _answers(keys["s00"], "s00"), "right1": _answers(keys["s01"], "s01"),
             "ecf2": _answers(keys["s02"], "s02", slip=True),
             "wrong3": _answers(keys["s04"], "s03"),           # s04's numbers handed in by s03
             "stranger": _answers(keys["s05"], "zz99")}
    for name, data in files.items():
        (subs / f"{name}.yaml").write_text(yaml.safe_dump(data))
    out = run(["grade", TEMPLATE, "--roster", d / "roster.csv", "--secret-file", d / "course.secret", subs,
               "--json", tmp_path / "g.json", "--jobs", "2"])
    assert out.exit_code == 3, out.output             # the stranger is a row with a reason
    report = json.loads((tmp_path / "g.json").read_text())
    by = {s["path"].rsplit("/", 1)[-1]: s for s in report["submissions"]}
    assert by["right0.yaml"]["percent"] == 100 and by["right1.yaml"]["percent"] == 100
    ecf = {s["name"]: s for s in by["ecf2.yaml"]["steps"]}
    assert ecf["a[3]"]["verdict"] == "wrong" and ecf["yhat"]["verdict"] == "ecf"
    assert by["wrong3.yaml"]["percent"] < 40
    assert "not on the roster" in by["stranger.yaml"]["error"]
    assert report["class"]["steps"]["dL/dW[1]"]["correct"] >= 3   # aggregated per step across variants


def test_rational_and_choice_draws(tmp_path):
    text = TEMPLATE.read_text().replace("    layers[4].linear.b: {int: [-4, 8]}",
                                        "    layers[4].linear.b: {rational: [-4, 8], denominator: 2}\n"
                                        "    loss: {choice: [squared_error, half_squared_error]}")
    text = text.replace("forward_integer: true", "forward_integer: false")
    p = tmp_path / "t.yaml"
    p.write_text(text)
    t = load_template(str(p))
    seen_losses, halves = set(), set()
    for i in range(12):
        data = yaml.safe_load(make_variant(t, f"s{i}", SECRET).text)
        seen_losses.add(data["loss"])
        b = data["layers"][4]["linear"]["b"][0]
        halves.add(isinstance(b, str) and b.endswith("/2"))
    assert seen_losses == {"squared_error", "half_squared_error"} and halves == {True, False}
