"""hparam: seed 000 P2 numbers, the exact ceiling against brute force, and bad input."""

import json
import math
from fractions import Fraction

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from hwsolve.cli import main
from hwsolve.topics.hparam import solve as hparam

P2 = "problems/cs4782_p2.yaml"


def run(*args):
    return CliRunner().invoke(main, list(args))


def solved(*args):
    r = run(*args, "--format", "json")
    assert r.exit_code == 0, r.output
    return {s["name"]: s for s in json.loads(r.output)["steps"]}


@pytest.fixture(autouse=True)
def _cwd(monkeypatch, problems_dir):
    monkeypatch.chdir(problems_dir.parent)


def test_seed_p2_grid_and_random():
    s = solved("hparam", P2)
    assert s["configs"]["value"] == 300
    assert s["configs"]["substituted"] == "10 * 6 * 5"
    assert s["epochs"]["value"] == 3000
    assert s["time(minutes)"]["value"] == 6000
    assert s["time(hours)"]["value"] == 100
    assert s["time(days)"]["exact"] == "25/6"
    assert s["N(q=0.95)"]["value"] == 59
    assert s["N(q=0.995)"]["value"] == 104
    assert s["N(q=0.95)"]["substituted"] == "ceil(58.4)"
    assert s["N_bound(q=0.95)"]["substituted"] == "ln(0.05) / ln(0.95)"
    assert s["E(trials)"]["value"] == 20
    assert s["time(q=0.95)"]["value"] == 59 * 20


def test_flags_match_spec_and_workers():
    s = solved("hparam", "--counts", "10,6,5", "--epochs", "10", "--epoch-time", "2",
               "--p", "0.05", "--q", "0.95", "--q", "0.995", "--workers", "7")
    assert s["configs"]["value"] == 300 and s["N(q=0.995)"]["value"] == 104
    assert s["rounds"]["value"] == 43            # ceil(300 / 7)
    assert s["wall_time(minutes)"]["value"] == 43 * 20


def test_units_seconds_and_hours():
    s = solved("hparam", "--counts", "2,3", "--epochs", "5", "--epoch-time", "90", "--unit", "s")
    assert s["time(seconds)"]["value"] == 2700
    assert s["time(minutes)"]["value"] == 45
    assert s["time(hours)"]["value"] == 0.75
    s = solved("hparam", "--counts", "4", "--epochs", "3", "--epoch-time", "2", "--unit", "hours")
    assert s["time(hours)"]["value"] == 24 and s["time(days)"]["value"] == 1


def brute(p: Fraction, q: Fraction) -> int:
    n = 0
    while 1 - (1 - p) ** n < q:
        n += 1
    return n


probs = st.fractions(min_value=Fraction(1, 200), max_value=Fraction(199, 200),
                     max_denominator=1000).filter(lambda f: 0 < f < 1)


@settings(max_examples=200, deadline=None)
@given(p=probs, q=probs)
def test_least_trials_matches_brute_force(p, q):
    assert hparam.least_trials(p, q) == brute(p, q)


@pytest.mark.parametrize("p,q,n", [
    (Fraction(1, 2), Fraction(7, 8), 3),          # exact tie: (1/2)^3 = 1/8
    (Fraction(1, 2), Fraction(3, 4), 2),
    (Fraction(1, 10), Fraction(1) - Fraction(9, 10) ** 40, 40),  # tie at a larger N
    (Fraction(1, 20), Fraction(95, 100), 59),
])
def test_ties_land_on_the_right_side(p, q, n):
    # a float log of a tie can give 2.9999999999999996 or 3.0000000000000004
    assert hparam.least_trials(p, q) == n
    assert 1 - (1 - p) ** n >= q > 1 - (1 - p) ** (n - 1)


def test_large_n_uses_high_precision_logs():
    p, q = Fraction(1, 10**9), Fraction(1, 2)
    n = hparam.least_trials(p, q)
    assert n == math.ceil(math.log(2) / -math.log1p(-1e-9))  # 693147181, far from an integer
    assert hparam._reaches(1 - p, 1 - q, n) and not hparam._reaches(1 - p, 1 - q, n - 1)


@pytest.mark.parametrize("args,message", [
    (["--p", "0", "--q", "0.9"], "p must be strictly between 0 and 1"),
    (["--p", "1", "--q", "0.9"], "p must be strictly between 0 and 1"),
    (["--p", "0.05", "--q", "1"], "q must be strictly between 0 and 1"),
    (["--p", "0.05", "--q", "-0.5"], "q must be strictly between 0 and 1"),
    (["--p", "0.05"], "--p needs at least one --q"),
    (["--counts", "3,-1"], "needs a count >= 1, got -1"),
    (["--counts", "3,0"], "needs a count >= 1, got 0"),
    (["--counts", "3,,2"], "comma-separated"),
    (["--counts", "3", "--epochs", "2", "--epoch-time", "1", "--unit", "weeks"], "unknown time unit"),
    ([], "give a SPEC file"),
    (["--p", "0.05", "--q", "0.9", "--workers", "0"], "expected a whole number >= 1"),
])
def test_bad_flags(args, message):
    r = run("hparam", *args)
    assert r.exit_code == 2, r.output
    assert message in r.output
    assert "Traceback" not in r.output


@pytest.mark.parametrize("body,message,line", [
    ("grid:\n  hyperparameters: {}\n", "the grid is empty", 4),
    ("grid:\n  hyperparameters:\n", "the grid is empty", 4),
    ("grid:\n  hyperparameters:\n    a: []\n", "'a' has no values", 5),
    ("grid:\n  hyperparameters:\n    a: -3\n", "needs a count >= 1, got -3", 5),
    ("random:\n  p: 1.5\n  q: 0.9\n", "p must be strictly between 0 and 1", 4),
    ("random:\n  p: 0.1\n  q: [0.9, 1]\n", "q must be strictly between 0 and 1", 5),
    ("random:\n  p: 0.1\n", "missing required key 'q'", 3),
    ("grdi: {}\n", "unknown key 'grdi' (did you mean 'grid'?)", 3),
])
def test_bad_specs(tmp_path, body, message, line):
    spec = tmp_path / "bad.yaml"
    spec.write_text("hwsolve: 1\nkind: hparam\n" + body)
    r = run("hparam", str(spec))
    assert r.exit_code == 2, r.output
    assert message in r.output
    assert f"bad.yaml:{line}:" in r.output


def test_wrong_kind_and_version(tmp_path):
    spec = tmp_path / "k.yaml"
    spec.write_text("hwsolve: 1\nkind: gradflow\nrandom: {p: 0.1, q: 0.5}\n")
    r = run("hparam", str(spec))
    assert r.exit_code == 2 and "reads 'kind: hparam'" in r.output
    spec.write_text("hwsolve: 2\nkind: hparam\nrandom: {p: 0.1, q: 0.5}\n")
    r = run("hparam", str(spec))
    assert r.exit_code == 2 and "unsupported spec version" in r.output


def test_rich_printout_has_every_step():
    r = run("hparam", P2)
    assert r.exit_code == 0
    for text in ("10 * 6 * 5", "3000 epochs", "6000 minutes", "100 hours", "ceil(58.4)",
                 "59 trials", "104 trials", "P(N=59)"):
        assert text in r.output


def test_tiny_p_is_solved_in_closed_form_and_its_check_note_tells_the_sides_apart():
    # 138 million trials: a loop over them would stall the suite (speed itself is make bench's job)
    s = solved("hparam", "--p", "1e-7", "--q", "0.999999")
    assert s["N(q=0.999999)"]["value"] == 138155099
    note = s["N(q=0.999999)"]["note"]
    before, after = note.split(" = ")[1].split(" <")[0], note.split(" = ")[-1]
    assert float(before) < 0.999999 <= float(after)


def test_a_good_fraction_below_the_smallest_is_placed_at_its_field(tmp_path):
    """It named no file, line or field (found by a helper review)."""
    spec = tmp_path / "h.yaml"
    spec.write_text("hwsolve: 1\nkind: hparam\nrandom:\n  p: 0.0000000000001\n  q: 0.9\n")
    r = CliRunner().invoke(main, ["hparam", str(spec)])
    assert r.exit_code == 2 and "h.yaml:4: random.p: p = 1e-13 is below 1e-12" in r.output
    r = CliRunner().invoke(main, ["hparam", "--p", "1e-13", "--q", "0.9"])
    assert r.exit_code == 2 and "--p: p = 1e-13 is below 1e-12" in r.output


def test_a_grid_of_more_days_than_str_prints_has_its_note_in_scientific_form(tmp_path):
    """15 hyper-parameters of 10^299 values each: the days in the note were int -> str, which Python
    refuses past 4,300 digits (a traceback, exit 1)."""
    spec = tmp_path / "h.yaml"
    spec.write_text("hwsolve: 1\nkind: hparam\ngrid:\n  hyperparameters:\n"
                    + "".join(f"    h{i}: {{count: {10 ** 299}}}\n" for i in range(15))
                    + "  epochs: 1\n  epoch_time: 1\n")
    r = CliRunner().invoke(main, ["hparam", str(spec), "--format", "json"])
    assert r.exit_code == 0, r.output
    assert "e4481 d" in r.output


def test_lists_of_targets_and_table_rows_are_bounded_at_their_field(tmp_path):
    """20,000 target probabilities took 6 s and 260 MB (a helper review): a sheet asks for a few."""
    spec = tmp_path / "h.yaml"
    spec.write_text("hwsolve: 1\nkind: hparam\nrandom:\n  p: 0.05\n  q: [" + ", ".join(["0.9"] * 1001) + "]\n")
    r = CliRunner().invoke(main, ["hparam", str(spec)])
    assert r.exit_code == 2 and "h.yaml:5: random.q: 1001 target probabilities; the limit is 1000" in r.output
    r = CliRunner().invoke(main, ["hparam", "--p", "0.05", "--q", "0.9", "--table", ",".join(["3"] * 1001)])
    assert r.exit_code == 2 and "--table: 1001 numbers; the limit is 1000" in r.output
    r = CliRunner().invoke(main, ["hparam", "--p", "0.05", *(["--q", "0.9"] * 1001)])
    assert r.exit_code == 2 and "--q: 1001 target probabilities; the limit is 1000" in r.output
