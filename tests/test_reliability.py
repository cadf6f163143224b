"""Reliability: bounds applied before the work, the time budget, deterministic output, and result
files that are whole or absent when a batch is killed (issue 18). The fuzz harness is tests/fuzz/."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from hwsolve.cli import main
from hwsolve.core.errors import SpecError
from hwsolve.spec.loader import MAX_DEPTH, load_yaml_text

ROOT = Path(__file__).resolve().parents[1]
P1 = str(ROOT / "problems" / "cs4782_p1.yaml")
SEED001 = str(ROOT / "tests" / "data" / "seed001_answers.yaml")


def _error(text: str) -> str:
    with pytest.raises(SpecError) as e:
        load_yaml_text(text, "t.yaml")
    return str(e.value)


def test_deep_nesting_is_refused_at_the_bracket_not_by_a_crash():
    msg = _error("a: " + "[" * 100_000 + "]" * 100_000)
    assert f"nested deeper than {MAX_DEPTH} levels" in msg and msg.startswith("t.yaml:1:")


def test_alias_bomb_is_counted_while_composing():
    bomb = "a0: &a0 [lol, lol, lol, lol, lol]\n" + "".join(
        f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 5)}]\n" for i in range(1, 12))
    start = time.monotonic()
    assert "alias bomb" in _error(bomb)
    assert time.monotonic() - start < 2


def test_aliases_within_the_budget_still_work():
    assert load_yaml_text("a: &x [1, 2]\nb: *x\n").data == {"a": [1, 2], "b": [1, 2]}


@pytest.mark.parametrize("text,expected", [
    ("a: .inf", "'.inf' is not a finite number"), ("a: .nan", "'.nan' is not a finite number"),
    ("a: 1.5e+300", "beyond the bound of 1e300"), ("a: " + "9" * 400, "more than 300 digits"),
    ("a: 1\x00", "NUL"), ("a: !!int 1F", "is not a valid int"), ("a: &a [*a]", "no finished anchor"),
])
def test_numbers_and_text_bounds(text, expected):
    assert expected in _error(text)


def test_time_budget_ends_a_long_run_with_one_line(monkeypatch, tmp_path):
    # 1 ms: a warm process (another test derived the same spec before, in this xdist worker)
    # derives it in about 9 ms, so a 10 ms budget sometimes let it finish
    monkeypatch.setenv("HWSOLVE_TIME_LIMIT", "0.001")
    res = CliRunner().invoke(main, ["derive", str(ROOT / "problems" / "csc6022_q1.yaml")])
    assert res.exit_code == 2
    assert res.stderr.startswith("error: the computation took over 0.001 s, the time budget")
    assert len(res.stderr.strip().splitlines()) == 1


_HASH_ALL = r"""
import hashlib, json, sys, tempfile, pathlib
from click.testing import CliRunner
from hwsolve.cli import main
root = pathlib.Path(sys.argv[1])
out = {}
for spec in sorted((root / "problems").glob("*.yaml")):
    for fmt in ("rich", "json", "markdown", "latex"):
        r = CliRunner().invoke(main, ["solve", str(spec), "--format", fmt])
        out[f"{spec.name} {fmt}"] = [r.exit_code, hashlib.sha256(r.stdout_bytes).hexdigest()]
with tempfile.TemporaryDirectory() as tmp:
    t = pathlib.Path(tmp)
    r = CliRunner().invoke(main, ["grade", str(root / "problems/cs4782_p1.yaml"), str(root / "tests/data"),
                                  "--json", str(t / "g.json"), "--junit", str(t / "g.xml")])
    out["grade"] = [r.exit_code, hashlib.sha256(r.stdout_bytes + (t / "g.json").read_bytes()
                                                + (t / "g.xml").read_bytes()).hexdigest()]
    # formula answers: checked at random points seeded by the parsed formula (its placeholders too)
    (t / "f.yaml").write_text('student: f\nanswers:\n  dL/dH4: "dL/dH5"\n  dL/dH3: "dL/dR * dR/dH3"\n'
                              '  dL/dX1: "dL/dH1 * dH1/dX1 + dL/dH3 * dH3/dX1"\n')
    r = CliRunner().invoke(main, ["grade", str(root / "problems/csci5922_q3b.yaml"), str(t / "f.yaml"),
                                  "--json", str(t / "f.json")])
    report = (r.stdout + (t / "f.json").read_text()).replace(str(t), "TMP")
    out["grade formulas"] = [r.exit_code, hashlib.sha256(report.encode()).hexdigest()]
print(json.dumps(out))
"""


def test_every_spec_in_every_format_gives_the_same_bytes_twice():
    """Two processes with different hash seeds (set and dict order), same bytes."""
    runs = []
    for hash_seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=hash_seed, NO_COLOR="1", COLUMNS="100")
        proc = subprocess.run([sys.executable, "-c", _HASH_ALL, str(ROOT)], env=env, capture_output=True,
                              text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
        runs.append(json.loads(proc.stdout))
    specs = len(list((ROOT / "problems").glob("*.yaml")))
    assert len(runs[0]) == specs * 4 + 2   # every spec in problems/, four formats, and two grade runs
    assert all(code == 0 for code, _ in runs[0].values())
    assert runs[0] == runs[1]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_a_killed_batch_leaves_no_partial_result_file(tmp_path, sig):
    subs = tmp_path / "subs"
    subs.mkdir()
    text = Path(SEED001).read_text()
    for i in range(10000):   # grading got faster: 3,000 could finish within the 3 s below
        (subs / f"s{i:05d}.yaml").write_text(text)
    out_json, out_xml = tmp_path / "grades.json", tmp_path / "junit.xml"
    env = dict(os.environ, HWSOLVE_TIME_LIMIT="0")
    proc = subprocess.Popen([sys.executable, "-m", "hwsolve", "grade", P1, str(subs), "--brief",
                             "--json", str(out_json), "--junit", str(out_xml)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(3)  # in the middle of the batch (10,000 submissions take well over 3 s here)
    assert proc.poll() is None, "the batch finished before the signal; make it bigger"
    proc.send_signal(sig)
    proc.wait(timeout=30)
    assert not out_json.exists() and not out_xml.exists()
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "subs"]
    if sig == signal.SIGTERM:  # SIGKILL cannot clean up; its temporary file is never the result's name
        assert leftovers == []
