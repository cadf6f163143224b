"""The package as a user meets it: bundled examples, `init` templates, JSON Schemas that every
spec and every output validates against, file modes, terminal conventions, shell completion."""

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from hwsolve.cli import main
from hwsolve.topics import TOPICS
from hwsolve.spec.schemas import SCHEMA_DIR, schema_names, template_kinds

from conftest import PROBLEMS, ROOT

SPECS = sorted(PROBLEMS.glob("*.yaml"))
KINDS = list(TOPICS)   # every kind the registry knows
# the command that solves each kind on its own (solve reads them all)
COMMAND = {"network": "backprop", "graph": "backprop", "derive": "derive", "hparam": "hparam",
           "gradflow": "gradflow", "conv": "conv", "arch": "arch", "vit": "vit-patches",
           "activations": "activations", "sheet": "solve", "prove": "prove", "layer": "layer",
           "train": "train"}


def validator(name: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((SCHEMA_DIR / f"{name}.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def assert_valid(name: str, instance, what: str) -> None:
    errors = [f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator(name).iter_errors(instance)]
    assert not errors, f"{what} does not validate against {name}: {errors[:3]}"


def kind_of(path: Path) -> str:
    return yaml.safe_load(path.read_text()).get("kind", "network")


def run(args, **kw):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False, **kw)


# --- 1. bundled examples ---------------------------------------------------------------------------


def test_examples_lists_every_spec_once_with_its_kind_and_title():
    out = run(["examples"])
    assert out.exit_code == 0
    lines = out.output.splitlines()
    assert [ln.split()[0] for ln in lines] == [p.stem for p in SPECS]
    p1 = next(ln for ln in lines if ln.startswith("cs4782_p1 "))
    assert p1.split()[1] == "network" and "3-layer ReLU network" in p1


@pytest.mark.parametrize("spelling", ["cs4782_p1", "cs4782_p1.yaml", "problems/cs4782_p1.yaml"])
def test_a_bare_name_finds_the_bundled_example_from_any_folder(spelling, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = run(["backprop", spelling, "--format", "json"])
    assert out.exit_code == 0, out.output
    steps = {s["name"]: s for s in json.loads(out.output)["steps"]}
    assert steps["yhat"]["value"] == 8 and steps["dL/dW[3]"]["value"] == [[-152, -88]]


def test_a_file_of_that_name_wins_over_the_example(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cs4782_p1").write_text("hwsolve: 1\nkind: vit\nimage: 32\npatch: 8\n")
    out = run(["solve", "cs4782_p1", "--format", "json"])
    assert json.loads(out.output)["kind"] == "vit"


def test_an_unknown_name_is_still_a_missing_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = CliRunner().invoke(main, ["backprop", "no_such_example"])
    assert out.exit_code == 2 and "cannot read file" in out.output


def test_activations_takes_a_bare_example_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = run(["activations", "nyu2572_1_5c", "--format", "json"])
    assert out.exit_code == 0 and "GELU" in json.loads(out.output)["title"]


# --- 2. init templates ---------------------------------------------------------------------------


def test_there_is_a_template_and_a_schema_for_every_kind():
    from hwsolve import topics

    assert sorted(KINDS) == sorted(topics.TOPICS) == template_kinds()
    assert {f"spec-{k}" for k in KINDS} | {"solution", "grade", "gradescope"} == set(schema_names())


@pytest.mark.parametrize("kind", KINDS)
def test_init_writes_a_commented_template_that_validates_and_solves(kind, tmp_path):
    path = tmp_path / f"my_{kind}.yaml"
    out = run(["init", kind, path])
    assert out.exit_code == 0, out.output
    text = path.read_text()
    first = text.splitlines()[0]
    assert first.startswith("# yaml-language-server: $schema=file://")
    schema_file = Path(first.split("$schema=file://", 1)[1])
    assert schema_file == SCHEMA_DIR / f"spec-{kind}.json" and schema_file.is_file()
    assert text.count("#") >= 5, "a template explains itself in comments"
    data = yaml.safe_load(text)
    assert data["kind"] == kind
    assert_valid(f"spec-{kind}", data, f"the {kind} template")
    solved = run([COMMAND.get(kind, "solve"), path, "--format", "json"])   # solve reads any kind
    assert solved.exit_code == 0, solved.output
    result = json.loads(solved.output)
    assert_valid("solution", result, f"the {kind} template's solution")
    assert any(s["value"] is not None or s["formula"] for s in result["steps"])   # symbolic kinds: formulas


def test_init_refuses_to_overwrite_without_force(tmp_path):
    path = tmp_path / "net.yaml"
    path.write_text("mine\n")
    out = CliRunner().invoke(main, ["init", "network", str(path)])
    assert out.exit_code == 2 and "--force" in out.output and path.read_text() == "mine\n"
    assert run(["init", "network", path, "--force"]).exit_code == 0
    assert "kind: network" in path.read_text()


def test_a_dash_for_a_file_is_standard_output_as_everywhere(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)   # nothing named "-" may appear here
    template = CliRunner().invoke(main, ["init", "network"]).output
    assert CliRunner().invoke(main, ["init", "network", "-"]).output == template
    assert CliRunner().invoke(main, ["schema", "solution", "-o", "-"]).output == \
        CliRunner().invoke(main, ["schema", "solution"]).output
    spec = tmp_path / "net.yaml"
    spec.write_text(template)
    solved = CliRunner().invoke(main, ["backprop", str(spec), "--format", "json", "-o", "-"])
    assert solved.exit_code == 0 and json.loads(solved.output)["steps"]
    assert list(tmp_path.iterdir()) == [spec]


def test_init_and_schema_reject_unknown_names_in_one_line():
    for args in (["init", "networks"], ["schema", "solutions"]):
        out = CliRunner().invoke(main, args)
        assert out.exit_code == 2 and out.output.count("\n") == 1 and "expected one of" in out.output


# --- 3. JSON Schemas -----------------------------------------------------------------------------


def test_schema_prints_each_shipped_document_and_lists_them():
    listed = run(["schema"]).output.split()
    assert listed == schema_names()
    for name in listed:
        printed = json.loads(run(["schema", name]).output)
        assert printed["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        jsonschema.Draft202012Validator.check_schema(printed)
    assert json.loads(run(["schema", "graph"]).output)["$id"].endswith("spec-graph")


def test_each_spec_schema_allows_exactly_the_keys_its_parser_allows():
    """The schemas' top-level keys against the parsers' own key sets, so neither drifts."""
    from hwsolve.spec.loader import SPEC_WIDE_KEYS
    from hwsolve.topics.arch import spec as arch
    from hwsolve.topics.backprop import graph_spec, network_spec
    from hwsolve.topics.conv import spec as conv
    from hwsolve.topics.derive import spec as derive_spec
    from hwsolve.topics.sheet import spec as sheet
    from hwsolve.topics.train import spec as train_spec

    for kind, keys in (("network", network_spec.TOP_KEYS), ("graph", graph_spec.TOP_KEYS),
                       ("derive", derive_spec.TOP_KEYS), ("sheet", sheet.TOP_KEYS),
                       ("train", train_spec.TOP_KEYS),
                       ("arch", arch.TOP | {"defaults", "layers"}),
                       ("vit", arch.TOP | {"image", "patch", "channels", "dim", "cls_token"}),
                       ("conv", conv.TOP | {"parts"} | conv.APPLY_KEYS)):
        props = json.loads((SCHEMA_DIR / f"spec-{kind}.json").read_text())["properties"]
        assert set(props) == set(keys) | SPEC_WIDE_KEYS, kind


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_every_problem_spec_validates_against_its_kind(path):
    assert_valid(f"spec-{kind_of(path)}", yaml.safe_load(path.read_text()), path.name)


def test_a_spec_schema_catches_a_misspelt_key():
    data = yaml.safe_load((PROBLEMS / "cs4782_p1.yaml").read_text())
    data["layres"] = data.pop("layers")
    errors = list(validator("spec-network").iter_errors(data))
    assert errors and any("layres" in e.message for e in errors)


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_every_command_output_validates_against_the_solution_schema(path):
    for command in {COMMAND.get(kind_of(path), "solve"), "solve"}:
        out = run([command, path, "--format", "json"])
        assert out.exit_code == 0, out.output
        assert_valid("solution", json.loads(out.output), f"{command} {path.name}")


@pytest.mark.parametrize("args", [
    ["conv-shape", "--n", "36", "--k", "3", "--p", "3", "--s", "2", "--filters", "2", "--channels", "3"],
    ["vit-patches", "--image", "224", "--patch", "16", "--dim", "768"],
    ["hparam", "--counts", "10,6,5", "--epochs", "10", "--epoch-time", "2", "--p", "0.05", "--q", "0.95"],
    ["activations", "relu", "gelu", "--derivative"],
])
def test_flag_driven_commands_validate_too(args):
    out = run(args + ["--format", "json"])
    assert out.exit_code == 0, out.output
    assert_valid("solution", json.loads(out.output), " ".join(args))


def test_derive_shapes_are_symbolic_dimension_names():
    """derive's shapes are letters ("D"), as docs/json-schema.md says; numeric engines give integers."""
    steps = json.loads(run(["derive", PROBLEMS / "csc6022_q1.yaml", "--format", "json"]).output)["steps"]
    dims = {d for s in steps for d in s["shape"]}
    assert dims and all(isinstance(d, str) for d in dims) and {"D", "K", "C"} <= dims
    steps = json.loads(run(["backprop", PROBLEMS / "cs4782_p1.yaml", "--format", "json"]).output)["steps"]
    assert {type(d) for s in steps for d in s["shape"]} == {int}


def test_grade_reports_validate(tmp_path):
    data = ROOT / "tests" / "data"
    report, gs = tmp_path / "grades.json", tmp_path / "results.json"
    run(["grade", PROBLEMS / "cs4782_p1.yaml", data / "seed001_answers.yaml", data / "grade_p1_perfect.yaml",
         "--json", report, "--show-key"])
    doc = json.loads(report.read_text())
    assert_valid("grade", doc, "grade --json")
    assert [s["percent"] for s in doc["submissions"]] == [82.5, 100.0]  # 12.375 / 15 under the sheet's rubric
    run(["grade", PROBLEMS / "cs4782_p1.yaml", data / "seed001_answers.yaml", "--gradescope", gs])
    assert_valid("gradescope", json.loads(gs.read_text()), "grade --gradescope")
    for key, answers, rubric in (("cs4782_p2", "seed001_p2_answers", "seed001_p2_rubric"),
                                 ("cs4782_p4", "seed001_p4_answers", "seed001_p4_rubric")):
        run(["grade", PROBLEMS / f"{key}.yaml", data / f"{answers}.yaml", "--rubric", data / f"{rubric}.yaml",
             "--json", report])
        assert_valid("grade", json.loads(report.read_text()), f"grade {key}")


# --- 5. file modes -------------------------------------------------------------------------------


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_output_files_honour_the_umask(umask, mode, tmp_path):
    old = os.umask(umask)
    try:
        out = tmp_path / "p1.json"
        run(["backprop", PROBLEMS / "cs4782_p1.yaml", "--format", "json", "-o", out])
        run(["init", "vit", tmp_path / "v.yaml"])
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == mode
    assert stat.S_IMODE((tmp_path / "v.yaml").stat().st_mode) == mode
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no temporary file left"


def test_a_replaced_file_keeps_its_mode(tmp_path):
    out = tmp_path / "p1.json"
    out.write_text("old")
    out.chmod(0o640)
    run(["backprop", PROBLEMS / "cs4782_p1.yaml", "--format", "json", "-o", out])
    assert stat.S_IMODE(out.stat().st_mode) == 0o640 and json.loads(out.read_text())["kind"] == "backprop"


# --- 6. terminal conventions ---------------------------------------------------------------------


def hwsolve(args, **env):
    base = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "COLUMNS", "TERM")}
    base.update(env)
    return subprocess.run([sys.executable, "-m", "hwsolve", *map(str, args)], capture_output=True,
                          text=True, env=base, check=True).stdout


def widest(text: str) -> int:
    return max(len(line) for line in text.splitlines())


def test_piped_output_follows_columns_and_is_plain():
    narrow = hwsolve(["backprop", PROBLEMS / "cs4782_p1.yaml"], COLUMNS="60")
    assert widest(narrow) <= 60 and "\x1b[" not in narrow and "+---" in narrow
    assert "[[-152, -88]]" in narrow.replace("\n", " ") or "-152" in narrow
    wide = hwsolve(["backprop", PROBLEMS / "cs4782_p1.yaml"])
    assert 60 < widest(wide) <= 120


def test_force_color_colours_and_no_color_removes_colour_only():
    forced = hwsolve(["backprop", PROBLEMS / "cs4782_p1.yaml"], FORCE_COLOR="1", COLUMNS="100", TERM="xterm-256color")
    assert "\x1b[36" in forced or "\x1b[1;36" in forced, "the step column is cyan"
    assert "╭" in forced and widest(_strip_ansi(forced)) <= 100
    both = hwsolve(["backprop", PROBLEMS / "cs4782_p1.yaml"], FORCE_COLOR="1", NO_COLOR="1", COLUMNS="100",
                   TERM="xterm-256color")
    plain = _strip_ansi(both)
    assert "\x1b[1m" in both, "bold stays"
    assert "\x1b[36" not in both and "\x1b[1;36" not in both, "no colour"
    assert "╭" in plain and widest(plain) <= 100, "the terminal layout, not a fixed ASCII one"


def _strip_ansi(text: str) -> str:
    import re

    return re.sub(r"\x1b\[[0-9;]*m", "", text)


# --- 7. shell completion -------------------------------------------------------------------------


def test_bash_completion_script_and_completions():
    env = {"_HWSOLVE_COMPLETE": "bash_source"}
    script = hwsolve_script([], env)
    assert "complete -o nosort -F _hwsolve_completion hwsolve" in script
    words = hwsolve_script([], {"_HWSOLVE_COMPLETE": "bash_complete", "COMP_WORDS": "hwsolve ex",
                                "COMP_CWORD": "1"})
    assert "plain,examples" in words.split()
    words = hwsolve_script([], {"_HWSOLVE_COMPLETE": "bash_complete", "COMP_WORDS": "hwsolve backprop --fo",
                                "COMP_CWORD": "2"})
    assert "plain,--format" in words.split()


def hwsolve_script(args, env):
    """Run the installed `hwsolve` entry point (completion keys on the program name)."""
    exe = Path(sys.executable).with_name("hwsolve")
    full = dict(os.environ, **env)
    return subprocess.run([str(exe), *args], capture_output=True, text=True, env=full, check=True).stdout


def test_a_sheets_missing_part_is_an_error_not_a_bundled_example(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sheet.yaml").write_text("hwsolve: 1\nkind: sheet\nparts:\n  - {id: P1, file: cs4782_p1.yaml}\n")
    out = CliRunner().invoke(main, ["solve", "sheet.yaml"])
    assert out.exit_code == 2 and "cs4782_p1.yaml: cannot read file" in out.output
    # the bundled sheet finds its parts beside it, inside the package
    out = run(["solve", "cs4782_hw1", "--format", "json"])
    assert out.exit_code == 0 and {"P1", "P2", "P4", "P5"} <= {p["id"] for p in json.loads(out.output)["meta"]["parts"]}
