"""hwsolve solve SHEET: every part through its topic, one report with a table of contents."""

from click.testing import CliRunner

from hwsolve.cli import main

from conftest import PROBLEMS

HW1 = PROBLEMS / "cs4782_hw1.yaml"


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_cs4782_hw1_every_part_in_every_format():
    r = run("solve", HW1)
    assert r.exit_code == 0, r.output
    assert "Contents" in r.output
    for pid in ("P1", "P2", "P4", "P5"):
        assert f"{pid} · " in r.output
    assert "P1/dL/dW[1]" in r.output
    md = run("solve", HW1, "--format", "markdown").output
    assert "## Contents" in md and "- [P1: " in md and "\n## P5: " in md
    tex = run("solve", HW1, "--format", "latex").output
    assert tex.count("\\section*{P") == 4 and "\\subsection*{Contents}" in tex
    js = run("solve", HW1, "--format", "json")
    assert js.exit_code == 0 and '"kind": "sheet"' in js.output


def test_inline_parts_and_single_specs(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text("hwsolve: 1\nkind: sheet\ntitle: T\nparts:\n"
                 "  - id: A\n    spec:\n      kind: derive\n      input: n\n"
                 "      layers: [{linear: {out: K}}, sigmoid]\n      loss: bce\n"
                 "  - id: B\n    spec: {kind: hparam, grid: {hyperparameters: {a: 3}, epochs: 2, "
                 "epoch_time: 1}}\n")
    r = run("solve", f)
    assert r.exit_code == 0, r.output
    assert "A/dL/dW[1]" in r.output and "B · " in r.output
    r = run("solve", PROBLEMS / "csc6022_q1.yaml")   # a single spec of any kind
    assert r.exit_code == 0 and "u1 x^T" in r.output


def test_bad_sheets_exit_2(tmp_path):
    cases = {
        "parts:\n  - {id: A, file: ../x.yaml}\n": "inside the sheet's folder",
        "parts:\n  - {id: A, file: /etc/hostname}\n": "inside the sheet's folder",
        "parts:\n  - {id: A}\n": "exactly one of 'file'",
        "parts: []\n": "at least one part",
        "parts:\n  - {id: A, file: me.yaml}\n": "cannot itself be a sheet",
        "parts:\n  - {id: A, spec: {kind: network}}\n  - {id: A, spec: {kind: network}}\n": "",
        "parts:\n  - {id: A, spec: {kind: nosuch}}\n": "unknown value 'nosuch'",
    }
    for body, message in cases.items():
        f = tmp_path / "me.yaml"
        f.write_text("hwsolve: 1\nkind: sheet\n" + body)
        r = run("solve", f)
        assert r.exit_code == 2, (body, r.output)
        assert message in r.output and "Traceback" not in r.output
