"""Start-up costs kept off the small commands (issue 17), and the stand-ins that do it behave.

- piped `conv-shape` and `backprop` print without importing rich's console (render/plaintext.py);
- PyYAML's NON_PRINTABLE regex is compiled only when the pure-Python reader needs it
  (spec/yaml_startup.py): the stand-in finds exactly what the pattern finds.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hwsolve.spec import yaml_startup

ROOT = Path(__file__).resolve().parents[1]


def _modules_after(args: list[str]) -> set[str]:
    # cli.main, not the console script: that one ends the process before anything can be printed
    code = ("import sys\nfrom hwsolve.cli import main\n"
            "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
            "print(' '.join(sorted(sys.modules)), file=sys.stderr)")
    res = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True)
    return set(res.stderr.strip().splitlines()[-1].split())


@pytest.mark.parametrize("args", [["conv-shape", "--n", "36", "--k", "3", "--p", "3", "--s", "2"],
                                  ["backprop", "problems/cs4782_p1.yaml"]])
def test_piped_output_does_not_import_rich_console(args):
    loaded = _modules_after(args)
    assert "hwsolve.render.plaintext" in loaded
    assert not {"rich.console", "rich.table", "numpy", "sympy"} & loaded


def test_conv_shape_loads_only_its_size_arithmetic():
    loaded = _modules_after(["conv-shape", "--n", "36", "--k", "3"])
    assert "hwsolve.topics.conv.shape" in loaded and "hwsolve.topics.conv.solve" not in loaded


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=30))
def test_the_yaml_regex_stand_in_finds_what_the_pattern_finds(text):
    real = re.compile(f"(?:{yaml_startup.NON_PRINTABLE})|[^\\s\\S]")  # the same class, another cache key
    lazy = yaml_startup.LazyPattern(yaml_startup.NON_PRINTABLE)
    mine, theirs = lazy.search(text), real.search(text)
    assert (mine and (mine.span(), mine.group())) == (theirs and (theirs.span(), theirs.group()))


def test_yaml_still_rejects_a_non_printable_character():
    import yaml

    from hwsolve.spec import loader  # noqa: F401  (imports yaml through the stand-in)

    assert yaml.safe_load("a: 1") == {"a": 1}
    with pytest.raises(yaml.YAMLError, match="unacceptable character"):
        yaml.safe_load("a: \x01")
    assert isinstance(re.compile(yaml_startup.NON_PRINTABLE), re.Pattern)  # the cache holds real patterns again
