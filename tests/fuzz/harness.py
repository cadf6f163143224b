"""The fuzz harness: cases, structure-aware mutations, and running one case in-process.

A case is a command, its arguments and the files it reads (written into a fresh folder). Its
outcome is good when the command ends with exit 0, 1 or 2, an exit 2 says what is wrong on an
`error:` line, nothing escapes as an exception, and the marker file that hostile payloads try to
create does not exist. Used by test_fuzz.py (a small budget in `make test`) and run_fuzz.py (the
long `make fuzz` run, in a process pool with a time and memory cap per input).
"""

from __future__ import annotations

import copy
import json
import os
import random
import re
import shutil
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
PROBLEMS = ROOT / "problems"
DATA = ROOT / "tests" / "data"
REGRESSIONS = Path(__file__).resolve().parent / "regressions"

MARKER = "@MARKER@"  # replaced by the absolute path of the marker file when the case runs
FORMATS = ("rich", "json", "markdown", "latex")

# A structured mutation whose YAML dump is larger than this is drawn again, so the generator's
# time and memory stay flat over a long run. The loader's own bounds (8 MB files, depth 64,
# alias expansion) are tested by a few text mutations written as text directly (see _text_mutation).
MAX_CASE_BYTES = 256 * 1024


def cli_commands() -> tuple[str, ...]:
    """Every command of the click group: a new command is fuzzed (and must get seeds) without
    editing this file. Importing hwsolve.cli is light (no numpy or sympy)."""
    from hwsolve.cli import main

    return tuple(sorted(main.commands))


COMMANDS = cli_commands()

# which command reads which spec kind (`question` reads every kind)
KIND_COMMANDS = {"network": ("backprop", "solve"), "graph": ("backprop", "solve"), "derive": ("derive", "solve"),
                 "conv": ("conv", "solve"), "arch": ("arch", "solve"), "vit": ("vit-patches", "solve"),
                 "hparam": ("hparam", "solve"), "gradflow": ("gradflow", "solve"),
                 "activations": ("activations", "solve"), "sheet": ("solve",),
                 "layer": ("layer", "solve"), "prove": ("prove", "solve"), "update_rule": ("solve",),
                 "recursive": ("solve",), "train": ("train", "solve")}

DERIVE_PAIRS = [("problems/nyu2572_1_3a_sym.yaml", "problems/nyu2572_1_3b_sym.yaml"),
                ("problems/csc6022_q1.yaml", "problems/csc6022_q2.yaml")]

# per-student variants: a template, a roster, a secret and (for grading) one student's answers
TEMPLATE = "problems/cs4782_p1_template.yaml"
ROSTER = "student,name\ns00,Ann Example\ns01,Bo Example\n"
SECRET = "course-secret-0123456789abcdef\n"

GRADE_PAIRS = [  # (key spec, answer file, rubric or None)
    ("problems/cs4782_p1.yaml", "tests/data/seed001_answers.yaml", None),
    ("problems/cs4782_p1.yaml", "tests/data/grade_p1_perfect.yaml", None),
    ("problems/cs4782_p2.yaml", "tests/data/seed001_p2_answers.yaml", None),   # rubrics in the specs
    ("problems/cs4782_p4.yaml", "tests/data/seed001_p4_answers.yaml", None),
    ("problems/cs4782_p5.yaml", "tests/data/seed001_p5_answers.yaml", "tests/data/rubric_defaults.yaml"),
    ("problems/csci5922_q3b.yaml", "tests/data/seed004_q3b_answers.yaml", None),
    ("tests/data/grade_dead_relu.yaml", "tests/data/seed001_answers.yaml", None),
    ("tests/data/grade_softmax.yaml", "tests/data/seed001_answers.yaml", None),
]

FLAG_CASES = [
    ["conv-shape", "--n", "36", "--k", "3", "--p", "3", "--s", "2", "--filters", "2", "--channels", "3"],
    ["conv-shape", "--n", "36x28", "--k", "3x5", "--p", "same", "--d", "2"],
    ["conv-shape", "--n", "8", "--k", "2", "--pool", "max"],
    ["conv-shape", "--n", "5", "--k", "3", "--s", "2", "--transposed", "--output-padding", "1"],
    ["vit-patches", "--image", "224", "--patch", "16", "--dim", "768"],
    ["vit-patches", "--image", "224x160", "--patch", "16x8", "--channels", "1", "--no-cls"],
    ["hparam", "--counts", "10,6,5", "--epochs", "10", "--epoch-time", "2", "--p", "0.05", "--q", "0.95",
     "--q", "0.995"],
    ["hparam", "--p", "0.05", "--q", "0.95", "--table", "10,20,59"],
    ["activations", "relu", "leaky_relu:0.01", "softplus:1", "gelu", "--derivative"],
    ["activations", "sigmoid", "tanh", "--range", "-4,4", "--at", "-2,-1,0,1,2", "--function", "--derivative"],
    ["prove", "tanh(x) = 2*sigmoid(2*x) - 1"],
    ["prove", "sigmoid(x) * (1 - sigmoid(x)) = exp(-x) / (1 + exp(-x))^2"],
    ["prove", "relu(x) - relu(-x) = x"],
    ["prove", "tanh(x) = sigmoid(x)"],
    ["examples"],
    ["init", "network"],
    ["init", "graph", "new.yaml"],
    ["schema"],
    ["schema", "network"],
    ["schema", "grade"],
]


@dataclass
class Case:
    """One invocation: argv (file names relative to the case folder) and the files' text."""

    args: list[str]
    files: dict[str, str] = field(default_factory=dict)
    note: str = ""

    @property
    def command(self) -> str:
        return self.args[0]

    def to_json(self) -> str:
        return json.dumps({"args": self.args, "files": self.files, "note": self.note}, indent=1,
                          ensure_ascii=True)

    @classmethod
    def from_json(cls, text: str) -> Case:
        d = json.loads(text)
        return cls(list(d["args"]), dict(d.get("files", {})), d.get("note", ""))


@dataclass
class Outcome:
    kind: str          # ok | traceback | bad-exit | payload | hang | signal | memory
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.kind == "ok"


# --- seed cases: every problem spec with every command that reads it, grading pairs, flags ---


def _read(rel: str) -> str:
    return (ROOT / rel).read_text(encoding="utf-8")


def _kind(text: str) -> str | None:
    m = re.search(r"^kind:\s*(\w+)", text, re.M)
    return m.group(1) if m else None


def seed_cases() -> list[Case]:
    cases = []
    for spec in sorted(PROBLEMS.glob("*.yaml")):
        text = spec.read_text(encoding="utf-8")
        for command in KIND_COMMANDS.get(_kind(text) or "", ()) + ("question",):
            files = {spec.name: text}
            for part in re.findall(r"file:\s*([\w.]+)", text):   # a sheet's parts, a train spec's model
                if (PROBLEMS / part).is_file():
                    files[part] = (PROBLEMS / part).read_text(encoding="utf-8")
            cases.append(Case([command, spec.name], files))
    for key, answers, rubric in GRADE_PAIRS:
        files = {"key.yaml": _read(key), "answers.yaml": _read(answers)}
        args = ["grade", "key.yaml", "answers.yaml"]
        if rubric:
            files["rubric.yaml"] = _read(rubric)
            args += ["--rubric", "rubric.yaml"]
        cases.append(Case(args, files))
    for first, second in DERIVE_PAIRS:   # `derive A B`: what changes between two specs
        cases.append(Case(["derive", "a.yaml", "b.yaml"], {"a.yaml": _read(first), "b.yaml": _read(second)}))
    cases += _variant_cases()
    cases += [Case(list(a)) for a in FLAG_CASES]
    return cases


def _variant_cases() -> list[Case]:
    """`variants` and roster grading (each student against their own variant)."""
    files = {"template.yaml": _read(TEMPLATE), "roster.csv": ROSTER, "course.secret": SECRET}
    roster = ["--roster", "roster.csv", "--secret-file", "course.secret"]
    answers = _read("tests/data/seed001_answers.yaml").replace("student: seed001", "student: s00")
    return [Case(["variants", "template.yaml", *roster, "-o", "out"], dict(files)),
            Case(["grade", "template.yaml", *roster, "answers.yaml"], {**files, "answers.yaml": answers})]


# --- mutations ---

HOSTILE_TEXT = [
    "__import__('os').system('touch @MARKER@')",
    "exec(\"open('@MARKER@', 'w')\")",
    "eval('open(\"@MARKER@\", \"w\")')",
    "().__class__.__base__.__subclasses__()",
    "lambda: open('@MARKER@', 'w')",
    "x" + " + x" * 3000,
    "(" * 5000 + "x" + ")" * 5000,
    "-" * 5000 + "x",
    "exp(" * 300 + "x" + ")" * 300,
    "x ** 99999999 ** 99999999",
    "9" * 5000,
    "1e999999999",
    "1/0", "0/0", "-0", "1e-400", "1e308 * 1e308", "log(0)", "sqrt(-1)", "x / 0",
    "\\input{@MARKER@}", "\\write18{touch @MARKER@}", "$(touch @MARKER@)", "`touch @MARKER@`",
    "{{7*7}}", "%s%s%s%n", "\x00", "\x1b[31mred", "\u202e\u0041", "🙂" * 50, "é" * 300,
    "\ud7ff", "a\rb", "line\nbreak", "\t", " ", "", "~", "null", "true", ".nan", ".inf", "-.inf",
]

EXTREME_NUMBERS = [0, -1, 1, 2, -0.0, 10**18, -10**18, 10**399, 2**1000, 1e308, 5e-324, 1e-300,
                   "1/3", "-2/0.5", "1e300", "1e-300", "1e301", "9" * 60, "9" * 70, "1/0", "0/0",
                   0.1, 123456789, 65536, 100000, 10**6, 10**9, 2**31, 2**63]

WRONG_TYPES = [None, True, False, "text", [], {}, [1, 2], {"a": 1}, [[1, 2], [3]], [[[1]]], ["x"]]

TEXT_MUTATIONS = ("alias_bomb", "deep_flow", "deep_block", "tag", "cycle", "dup_line", "truncate", "control",
                  "bom", "long_line", "tabs")


def _paths(data, prefix=()):
    """Every path to a value inside plain data."""
    out = [prefix]
    if isinstance(data, dict):
        for k, v in data.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += _paths(v, prefix + (i,))
    return out


def _set(data, path, value):
    if not path:
        return value
    parent = data
    for p in path[:-1]:
        parent = parent[p]
    parent[path[-1]] = value
    return data


def _get(data, path):
    for p in path:
        data = data[p]
    return data


class TooBig(Exception):
    """A structured mutation grew past MAX_CASE_BYTES: the case is drawn again."""


def _size(data, limit: int = MAX_CASE_BYTES) -> int:
    """About the bytes of `data`'s YAML dump, counting shared references once per use (as the dump
    and the loader expand them); stops counting past `limit`, so it is cheap on any structure."""
    total, stack = 0, [data]
    while stack and total <= limit:
        v = stack.pop()
        if isinstance(v, dict):
            total += 4 + 4 * len(v)
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, list):
            total += 4 + 2 * len(v)
            stack.extend(v)
        else:
            total += len(str(v)) + 2
    return total


def _check_size(data) -> None:
    if _size(data) > MAX_CASE_BYTES:
        raise TooBig


def _repeat(v: list, n: int) -> list:
    """v repeated n times, as copies (a shared reference would let a later mutation of one item
    change all of them at once, and the dump would expand them into a huge document)."""
    if all(not isinstance(x, (list, dict)) for x in v):
        return v * n
    return [copy.deepcopy(x) for _ in range(n) for x in v]


def _grow(data, path, rng: random.Random):
    v = _get(data, path)
    n = rng.choice((2, 10, 200, 5000))
    if isinstance(v, list):  # as many copies as fit the case's size bound
        n = max(1, min(n, MAX_CASE_BYTES // max(1, _size(v))))
        return _set(data, path, _repeat(v, n) if v else [1] * n)
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return _set(data, path, v * rng.choice((1000, 10**6, 10**12, -1)))
    if isinstance(v, str):
        return _set(data, path, v * max(1, min(n, 500, MAX_CASE_BYTES // max(1, len(v)))))
    return data


def _value_mutation(data, rng: random.Random):
    paths = _paths(data)
    numbers = [p for p in paths if isinstance(_get(data, p), (int, float)) and not isinstance(_get(data, p), bool)]
    texts = [p for p in paths if isinstance(_get(data, p), str)]
    lists = [p for p in paths if isinstance(_get(data, p), list)]
    # mostly type-preserving changes, so inputs get past validation into the arithmetic
    op = rng.choice(("number", "number", "number", "number", "hostile", "hostile", "grow", "grow", "duplicate",
                     "delete", "wrong", "nest", "key", "swap"))
    pool = {"number": numbers, "hostile": texts, "grow": lists + numbers, "duplicate": lists}.get(op) or paths
    path = rng.choice(pool)
    if op == "duplicate" and isinstance(_get(data, path), list) and _get(data, path):
        v = _get(data, path)
        v.insert(rng.randrange(len(v)), copy.deepcopy(v[rng.randrange(len(v))]))
        return data
    if op == "delete" and path:
        parent = _get(data, path[:-1])
        del parent[path[-1]]
        return data
    if op == "number":
        return _set(data, path, rng.choice(EXTREME_NUMBERS))
    if op == "wrong":
        return _set(data, path, rng.choice(WRONG_TYPES))
    if op == "hostile":
        return _set(data, path, rng.choice(HOSTILE_TEXT))
    if op == "duplicate" and path and isinstance(_get(data, path[:-1]), list):
        parent = _get(data, path[:-1])
        parent.insert(path[-1], copy.deepcopy(parent[path[-1]]))
        return data
    if op == "grow":
        return _grow(data, path, rng)
    if op == "nest":
        v = _get(data, path)
        for _ in range(rng.choice((2, 5, 30, 63, 70))):
            v = [v]
        return _set(data, path, v)
    if op == "key":
        v = _get(data, path)
        if isinstance(v, dict):
            v[rng.choice(["kind", "hwsolve", "type", "unknown", "", "W", "x", "loss", "parts", "answers",
                          "layers", "nodes", "rubric", "conventions", "layout"])] = rng.choice(
                EXTREME_NUMBERS + WRONG_TYPES + HOSTILE_TEXT)
            return data
    if op == "swap":
        other = _get(data, rng.choice(paths))
        return _set(data, path, json.loads(json.dumps(other, default=str)) if other is not data else 1)
    return data


def _text_mutation(text: str, rng: random.Random) -> str:
    op = rng.choice(TEXT_MUTATIONS)
    lines = text.splitlines()
    if op == "alias_bomb":
        bomb = "zz0: &zz0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
            f"zz{i}: &zz{i} [{', '.join([f'*zz{i - 1}'] * 9)}]\n" for i in range(1, 10))
        return bomb + text
    if op == "deep_flow":
        n = rng.choice((65, 1000, 100000))
        return text + "\nzzdeep: " + "[" * n + "1" + "]" * n + "\n"
    if op == "deep_block":
        n = rng.choice((65, 300, 2000))
        return text + "\nzzdeep:\n" + "".join(" " * i + "- \n" for i in range(1, n)) + " " * n + "- 1\n"
    if op == "tag":
        tag = rng.choice(["!!python/object/apply:os.system ['touch @MARKER@']", "!!binary aGVsbG8=", "!!set {a, b}",
                          "!!timestamp 2001-12-14", "!!python/name:os.system", "!custom x", "!!float nan",
                          "!!int 0x1F", "!!str 3", "!!omap [a: 1]", "!!float .inf", "!!int 1_000"])
        i = rng.randrange(len(lines) + 1)
        m = re.match(r"^(\s*[\w\[\]/().-]+:)\s*\S", lines[i] if i < len(lines) else "")
        if m:
            lines[i] = f"{m.group(1)} {tag}"
        else:
            lines.insert(i, f"zztag: {tag}")
        return "\n".join(lines) + "\n"
    if op == "cycle":
        return text + "\nzzcycle: &c [1, *c]\nzzself: &s {a: *s}\n"
    if op == "dup_line" and lines:
        i = rng.randrange(len(lines))
        lines.insert(i, lines[i])
        return "\n".join(lines) + "\n"
    if op == "truncate" and text:
        return text[:rng.randrange(len(text))]
    if op == "control" and text:
        i = rng.randrange(len(text))
        return text[:i] + rng.choice(["\x00", "\x07", "\x1b", "\ufeff", "\x85", "\u2028", "\r", "\t", "\udcff"
                                      if False else "\x7f"]) + text[i:]
    if op == "bom":
        return "\ufeff" + text
    if op == "long_line":
        return text + "\nzzlong: " + "a" * rng.choice((1000, 100000)) + "\n"
    if op == "tabs":
        return text.replace("  ", "\t", rng.randint(1, 5))
    return text


def _mutate_text(name: str, text: str, rng: random.Random) -> str:
    """A YAML file's structure (most of the time) or its text; other files (a roster, a secret)
    as text. Raises TooBig when a structured mutation grows past MAX_CASE_BYTES."""
    if rng.random() < 0.001:   # over the loader's 8,000,000-byte bound: refused before it is read
        return text + "\n#" + "x" * 8_000_000 + "\n"
    if not name.endswith(".yaml") or rng.random() < 0.15:
        return _text_mutation(text, rng)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return _text_mutation(text, rng)
    for _ in range(rng.choice((1, 1, 2, 3))):
        data = _value_mutation(data, rng)
        _check_size(data)   # before the next mutation walks it or the dump expands it
    dumped = yaml.safe_dump(data, allow_unicode=rng.random() < 0.5, sort_keys=False, width=rng.choice((80, 10**6)))
    if len(dumped) > MAX_CASE_BYTES:
        raise TooBig
    return dumped


FLAG_VALUES = ["0", "-1", "1", "3x", "x3", "0x0", "1e400", "9" * 5000, "nan", "inf", "1/0", "2/3", "", ",",
               "1,", "same", "99999999999", "3x5x7", "\x00", "1e-400", "0.5", "-0.5", "1e300", "100000",
               "1000000000", "10,6,5", "0,0", "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20",
               "0.999999999999", "1e-300", "relu", "softplus:0", "softplus:-1", "leaky_relu:1e300",
               "elu:1e308", "gelu", "sigmoid", "swish:1e300", "x" * 300]


FUNCTIONS = ("exp", "log", "tanh", "sigmoid", "softplus", "sqrt", "relu", "abs", "sin")
PROVE_HARD = ["(x + 1)^200 = (1 + x)^200", "exp(x)^999 = exp(999*x)", "x^99999 = x^99999",
              "tanh(tanh(tanh(tanh(x)))) = sigmoid(sigmoid(sigmoid(x)))", "sigmoid(x)^50 * tanh(x)^50 = 1",
              "log(exp(x)) = x", "sqrt(x^2) = x", "x/0 = 1", "1 = 1", "x = y", "= x", "x =", "a = b = c",
              "exp(exp(exp(exp(x)))) = exp(exp(exp(exp(-x))))", "2^2^2^2^2^2 = x", "x^(1/3) = x^0.3333",
              "sigmoid(x) = 1 / (1 + exp(-x))", "tanh(x)^2 + 1/cosh(x)^2 = 1"]


def _mutate_identity(text: str, rng: random.Random) -> str:
    """`prove`'s identity: wrapped in functions, raised to powers, or replaced by a hard one."""
    op = rng.random()
    if op < 0.3:
        return rng.choice(PROVE_HARD)
    left, _, right = text.partition("=")
    if op < 0.6:
        f = rng.choice(FUNCTIONS)
        return f"{f}({left.strip()}) = {f}({right.strip()})"
    if op < 0.8:
        k = rng.choice((2, 7, 30, 300, 10**6))
        return f"({left.strip()})^{k} = ({right.strip()})^{k}"
    return rng.choice(HOSTILE_TEXT)


def _mutate_flags(args: list[str], rng: random.Random) -> list[str]:
    args = list(args)
    if args[0] == "prove" and len(args) > 1 and rng.random() < 0.7:
        args[1] = _mutate_identity(args[1], rng)
        return args
    for _ in range(rng.choice((1, 1, 2, 3))):
        i = rng.randrange(1, len(args)) if len(args) > 1 else 1
        op = rng.random()
        if op < 0.6 and i < len(args):
            args[i] = rng.choice(FLAG_VALUES)
        elif op < 0.8 and i < len(args):
            del args[i]
        else:
            args.insert(i, rng.choice(FLAG_VALUES + ["--q", "--p", "--range", "--at", "--dim", "--n"]))
    return args


def mutate(case: Case, rng: random.Random) -> Case:
    """A mutated copy of a case: its files' structure or text, or its flags."""
    args, files = list(case.args), dict(case.files)
    if not files or rng.random() < 0.08:
        args = _mutate_flags(args, rng)
    else:
        name = rng.choice(sorted(files))
        for _ in range(20):   # a mutation that grew too big is drawn again (the same for the same seed)
            try:
                files[name] = _mutate_text(name, case.files[name], rng)
                break
            except TooBig:
                continue
    flag_only = args[0] in ("vit-patches", "hparam", "activations")
    if (args[0] == "conv-shape" or (args[0] != "grade" and rng.random() < 0.5)
            or (flag_only and rng.random() < 0.5)):
        args += ["--format", rng.choice(FORMATS)]
    if args[0] == "grade" and rng.random() < 0.3:
        args += ["--json", "out.json", "--junit", "out.xml"]
    return Case(args, files, case.note)


def generate(seed: int, n: int) -> Iterator[Case]:
    """n mutated cases, made one at a time, the same for the same seed; every command is covered
    in turn. Nothing is kept from one case to the next."""
    rng = random.Random(seed)
    base = seed_cases()
    by_command = {c: [s for s in base if s.command == c] for c in COMMANDS}
    for made in range(n):
        yield mutate(rng.choice(by_command[COMMANDS[made % len(COMMANDS)]]), rng)


# --- running one case in-process ---


def run_case(case: Case, folder: Path) -> Outcome:
    """Run a case through click's test runner with its files in `folder` (emptied first)."""
    from click.testing import CliRunner

    from hwsolve.cli import main

    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(old)
        else:
            old.unlink()
    marker = folder / "PAYLOAD_EXECUTED"
    for name, text in case.files.items():
        (folder / name).write_text(text.replace(MARKER, str(marker)), encoding="utf-8", errors="surrogatepass")
    args = [a.replace(MARKER, str(marker)) for a in case.args]
    args = [str(folder / a) if a in case.files or a in ("out.json", "out.xml", "out") else a for a in args]
    runner = CliRunner()
    cwd = os.getcwd()
    os.chdir(folder)   # any file a command writes by a relative name (init's FILE, -o) lands in the case folder
    try:
        result = runner.invoke(main, args, catch_exceptions=True)
    except BaseException as e:  # the runner itself should never raise; count it as a traceback
        return Outcome("traceback", f"{type(e).__name__}: {e}"[:300])
    finally:
        os.chdir(cwd)
    if marker.exists():
        return Outcome("payload", "marker file created")
    return classify(result)


def classify(result) -> Outcome:
    exc = result.exception
    if exc is not None and not isinstance(exc, SystemExit):
        kind = "memory" if isinstance(exc, MemoryError) else "traceback"
        frames = traceback.extract_tb(result.exc_info[2]) if result.exc_info else []
        ours = [f for f in frames if "/hwsolve/" in f.filename] or frames[-1:]
        where = " < ".join(f"{Path(f.filename).parent.name}/{Path(f.filename).name}:{f.lineno}" for f in ours[::-1][:3])
        return Outcome(kind, f"{type(exc).__name__}: {str(exc)[:200]} at {where}")
    code = result.exit_code
    # 0 done, 1 grade --fail-under not met, 2 bad input, 3 grade: a submission could not be read
    if code not in (0, 1, 2, 3):
        return Outcome("bad-exit", f"exit code {code}")
    err = result.stderr
    if "Traceback" in err:
        return Outcome("traceback", err[-300:])
    if code == 2 and not re.search(r"^(error|Error): \S", err, re.M):
        return Outcome("bad-exit", f"exit 2 without an error line: {err[:200]!r}")
    return Outcome("ok", f"exit {code}")


def load_regressions() -> list[tuple[str, Case]]:
    return [(p.name, Case.from_json(p.read_text(encoding="utf-8"))) for p in sorted(REGRESSIONS.glob("*.json"))]
