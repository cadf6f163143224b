"""The command line as a whole: help everywhere, a lazy start, every output format."""

import io
import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from hwsolve.cli import main
from hwsolve.topics.backprop.solve import solve
from hwsolve.render.text import make_console, render
from hwsolve.topics.backprop.load import load_backprop

from conftest import PROBLEMS

P1 = str(PROBLEMS / "cs4782_p1.yaml")


def test_every_command_has_help():
    runner = CliRunner()
    assert main.commands, "no commands registered"
    for name, command in main.commands.items():
        assert command.help, f"'{name}' has no help text"
        result = runner.invoke(main, [name, "--help"])
        assert result.exit_code == 0, name
        assert "Usage:" in result.output


def test_top_level_help_lists_commands():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    assert "backprop" in result.output


@pytest.mark.parametrize("args", [["--help"], ["backprop", "--help"]])
def test_help_imports_neither_numpy_nor_sympy(args):
    code = ("import sys\nfrom hwsolve.cli import main\n"
            f"try:\n    main({args!r})\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('numpy', 'sympy', 'matplotlib') if m in sys.modules]\n"
            "print('HEAVY', heavy, file=sys.stderr)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "HEAVY []" in out.stderr


def test_backprop_path_does_not_import_sympy():
    code = ("import sys\nfrom hwsolve.cli import main\n"
            f"try:\n    main(['backprop', {P1!r}, '--format', 'json'])\nexcept SystemExit:\n    pass\n"
            "print('SYMPY', 'sympy' in sys.modules, file=sys.stderr)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "SYMPY False" in out.stderr


def test_rich_text_at_fixed_width():
    buf = io.StringIO()
    render(solve(load_backprop(P1)), 4, console=make_console(buf, width=100, plain=True))
    text = buf.getvalue()
    assert text.startswith("CS 4782 HW1 Problem 1")
    for line in ("| yhat ", "| 8 ", "dL/dz[3] * dz[3]/da[3]", "= 2(yhat - y) * ReLU'(a[3])",
                 "| dL/dW[3] ", "[[-152, -88]]", "[[16, 64, 72], [-24, -96, -108]]", "Gradients",
                 "ReLU'(0) is taken as 0"):
        assert line in text, line
    assert max(len(line) for line in text.splitlines()) <= 100
    assert "\x1b[" not in text  # plain: no colour codes


def test_markdown_and_latex_formats():
    runner = CliRunner()
    md = runner.invoke(main, ["backprop", P1, "--format", "markdown"])
    assert md.exit_code == 0
    assert "## Forward pass" in md.output and "a^{[1]}" in md.output and "$$" in md.output
    tex = runner.invoke(main, ["backprop", P1, "--format", "latex"])
    assert tex.exit_code == 0
    assert r"\begin{document}" in tex.output and r"\frac{\partial L}{\partial W^{[3]}}" in tex.output


def test_output_file_is_written_whole(tmp_path):
    out = tmp_path / "p1.json"
    result = CliRunner().invoke(main, ["backprop", P1, "--format", "json", "-o", str(out)])
    assert result.exit_code == 0
    assert json.loads(out.read_text())["steps"]
    bad = CliRunner().invoke(main, ["backprop", P1, "--format", "json", "-o", str(tmp_path / "no" / "x.json")])
    assert bad.exit_code == 2 and "does not exist" in bad.output


def test_float_values_print_without_noise():
    from hwsolve.core.numfmt import fmt_number
    assert fmt_number(0.1 + 0.2) == "0.3"
    assert fmt_number(0.1 + 0.2, precision=17) == "0.30000000000000004"


def test_rationals_print_as_students_compare_them():
    """Short rationals stay exact (1/3, 0.05); one with a 13-digit part or longer prints as ≈ its
    decimal, as two momentum steps on seed 000 P1 make (the JSON keeps it exact)."""
    from fractions import Fraction

    from hwsolve.core.numfmt import fmt_number
    assert fmt_number(Fraction(1, 3)) == "1/3"
    assert fmt_number(Fraction(1, 20)) == "0.05"
    assert fmt_number(Fraction(123456, 999999)) == "41152/333333"
    assert fmt_number(Fraction(91699153562579761, 610351562500000000)) == "≈0.1502"
    assert fmt_number(Fraction(-4085600215885931, 1220703125000000000), precision=3) == "≈-0.00335"


def test_every_problem_spec_solves():
    """Each spec in problems/ runs through the command its kind belongs to, in JSON."""
    from hwsolve.spec.loader import load_yaml
    from hwsolve.topics import TOPICS, kind_of

    runner = CliRunner()
    specs = sorted(PROBLEMS.glob("*.yaml"))
    assert len(specs) >= 6
    for spec in specs:
        kind = kind_of(load_yaml(spec))
        assert kind in TOPICS, f"{spec.name}: kind '{kind}' is not registered in hwsolve/topics.py"
        if kind in ("network", "graph"):
            result = runner.invoke(main, ["backprop", str(spec), "--format", "json"])
            assert result.exit_code == 0, (spec.name, result.output)
            assert json.loads(result.output)["steps"]


def test_brackets_in_names_are_printed_not_taken_as_markup():
    from hwsolve.core.records import Solution, Step
    from hwsolve.core.sym import Symbol

    sol = Solution("t", "t", sections={"s": "S"})
    sol.add(Step("W[l]", "s", formula=Symbol("1[z > 0]"), value=1))
    buf = io.StringIO()
    render(sol, 4, console=make_console(buf, width=80, plain=True))
    assert "W[l]" in buf.getvalue() and "1[z > 0]" in buf.getvalue()


def _console_script(*args: str, stdout=subprocess.PIPE) -> subprocess.CompletedProcess:
    """`hwsolve ARGS` as the installed console script runs it (hwsolve.__main__.main: cli.run,
    which ends the process with os._exit after flushing)."""
    code = "import sys\nfrom hwsolve.__main__ import main\nsys.argv[1:] = " + repr(list(args)) + "\nmain()\n"
    return subprocess.run([sys.executable, "-c", code], stdout=stdout, stderr=subprocess.PIPE)


def test_the_console_script_writes_everything_and_keeps_the_exit_codes(tmp_path):
    whole = _console_script("backprop", P1, "--format", "json")
    assert whole.returncode == 0 and json.loads(whole.stdout)["steps"]  # flushed before the process ends
    assert whole.stdout.decode() == CliRunner().invoke(main, ["backprop", P1, "--format", "json"]).output
    out = tmp_path / "p1.json"
    assert _console_script("backprop", P1, "--format", "json", "-o", str(out)).returncode == 0
    assert json.loads(out.read_text()) == json.loads(whole.stdout)
    missing = _console_script("backprop", str(tmp_path / "nope.yaml"))
    assert missing.returncode == 2 and missing.stderr.decode().startswith("error: ") and not missing.stdout
    assert _console_script("--help").returncode == 0
    assert _console_script("no-such-command").returncode == 2


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs Linux's /dev/full")
def test_a_full_disk_is_one_line_not_a_traceback():
    with open("/dev/full", "w") as full:
        result = _console_script("backprop", P1, "--format", "json", stdout=full)
    assert result.returncode == 1
    assert result.stderr.decode().strip() == "error: cannot write the output: No space left on device"


def test_the_console_script_collects_cycles_rarely(monkeypatch):
    import gc

    from hwsolve import __main__ as entry
    from hwsolve import cli

    seen = []
    before = gc.get_threshold()
    monkeypatch.setattr(cli, "run", lambda: seen.append(gc.get_threshold()))
    try:
        entry.main()
    finally:
        gc.set_threshold(*before)
    assert seen == [(100_000, *before[1:])]


@pytest.mark.parametrize("encoding", ["latin-1", "utf-16", "utf-8"])
def test_json_on_stdout_is_encoded_as_the_stream_encodes(tmp_path, encoding):
    """JSON goes to stdout as UTF-8 bytes only where the text stream would write those bytes."""
    spec = tmp_path / "cafe.yaml"
    spec.write_text('hwsolve: 1\nkind: network\ntitle: "Café"\ninput: [1]\ntarget: [0]\n'
                    "layers: [{type: linear, W: [[1]], b: [0]}]\nloss: squared_error\n", encoding="utf-8")
    code = ("from hwsolve.__main__ import main\nimport sys\n"
            "sys.argv[1:] = ['backprop', sys.argv[1], '--format', 'json']\nmain()\n")
    out = subprocess.run([sys.executable, "-c", code, str(spec)], capture_output=True,
                         env={**os.environ, "PYTHONIOENCODING": encoding}).stdout
    text = CliRunner().invoke(main, ["backprop", str(spec), "--format", "json"]).output
    assert "Café" in text and out.decode(encoding) == text  # (a UTF-16 pipe may go without a BOM)


def test_an_encoding_that_cannot_write_the_output_is_one_line():
    code = ("from hwsolve.__main__ import main\nimport sys\n"
            f"sys.argv[1:] = ['backprop', {P1!r}]\nmain()\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True,
                          env={**os.environ, "PYTHONIOENCODING": "latin-1"})
    assert done.returncode == 1
    assert done.stderr.decode().strip() == ("error: the output has characters the standard output's encoding "
                                            "(latin-1) cannot write; set PYTHONIOENCODING=utf-8 or write to a "
                                            "file with -o")
