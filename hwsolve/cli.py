"""The command line: thin click commands that load a spec, call an engine and pick a renderer.

No math here and no heavy imports at module level: `hwsolve --help` and `conv-shape` must never
load numpy or sympy. Engines are imported inside the commands that need them.
"""

from __future__ import annotations

import functools
import sys

import click

from hwsolve import __version__
from hwsolve.core.errors import HwsolveError
from hwsolve.core.precision import DEFAULT_PRECISION
from hwsolve.render import FORMATS


class _Path(click.Path):
    """click.Path that rejects a NUL character (os.stat raises ValueError on it, not OSError)."""

    def convert(self, value, param, ctx):
        if isinstance(value, str) and "\x00" in value:
            self.fail("a file name cannot contain a NUL character", param, ctx)
        return super().convert(value, param, ctx)


# One instance per kind, shared by every option: click.Path's constructor looks its name up in
# gettext's catalogues (about 20 us a call, and 30 file options are built on every start-up).
# A ParamType holds no per-use state, so sharing it changes nothing.
_FILE = _Path(dir_okay=False)
_FOLDER = _Path(file_okay=False)
_ANY_PATH = _Path()


class _Group(click.Group):
    """Turns user-input errors into one line on stderr and exit code 2, without a traceback."""

    def invoke(self, ctx):
        from hwsolve.core.budget import budget_seconds, time_budget

        _exit_on_sigterm()
        try:
            with time_budget(budget_seconds()):
                return super().invoke(ctx)
        except HwsolveError as e:
            click.echo(f"error: {e}", err=True)
            sys.exit(e.exit_code)
        except RecursionError:
            click.echo("error: input nested too deeply", err=True)
            sys.exit(2)


def _exit_on_sigterm() -> None:
    """SIGTERM as SystemExit, so `finally` blocks run: a result file being written is removed, not
    left half written (write_atomic renames only a whole file into place)."""
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


def output_options(f):
    """The options every solving command shares: --format, --precision, --output, --fragment, --full."""

    @click.option("--format", "fmt", type=click.Choice(FORMATS), default="rich",
                  show_default=True, help="Output format.")
    @click.option("--precision", type=click.IntRange(1, 30), default=DEFAULT_PRECISION,
                  show_default=True, help="Significant digits for values that are not exact.")
    @click.option("-o", "--output", type=_FILE, default=None,
                  help="Write to this file instead of standard output ('-': standard output).")
    @click.option("--fragment", is_flag=True, help="With --format latex: the body only, no preamble.")
    @click.option("--full", "whole", is_flag=True,
                  help="Print big arrays whole, not just their corners (rich and LaTeX; "
                       "JSON values and Markdown are always whole).")
    @functools.wraps(f)
    def wrapper(*args, fmt, precision, output, fragment, whole, **kwargs):
        solution = f(*args, **kwargs)
        if solution is not None:
            from hwsolve.render import emit

            emit(solution, fmt, precision, None if output == "-" else output, fragment, whole=whole)

    return wrapper


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hwsolve")
def main():
    """Solve deep-learning homework step by step: every intermediate value, every chain-rule
    factor, the formula, the numbers substituted and the result.

    \b
    Examples:
      hwsolve backprop problems/cs4782_p1.yaml
      hwsolve backprop problems/cs4782_p1.yaml --format json
    """


@main.command()
@click.argument("spec", type=_FILE)
@click.option("--dot", "dot_file", type=_FILE, default=None,
              help="Also write the graph as Graphviz DOT, each node with its value and gradient.")
@click.option("--svg", "svg_file", type=_FILE, default=None,
              help="Also draw the graph as SVG (needs Graphviz's 'dot').")
@click.option("--png", "png_file", type=_FILE, default=None,
              help="Also draw the graph as PNG (needs Graphviz's 'dot').")
@output_options
def backprop(spec, dot_file, svg_file, png_file):
    """Forward pass, chain-rule sequence and gradients of a network or graph SPEC (YAML).

    \b
    Example:
      hwsolve backprop problems/csci5922_q3b.yaml --dot q3b.dot
    """
    from hwsolve.topics.backprop.solve import solve
    from hwsolve.topics.backprop.load import load_backprop

    if svg_file or png_file:
        from hwsolve.render.dot import require_dot

        require_dot()  # before any work: without Graphviz, fail fast and write nothing
    problem = load_backprop(spec)
    solution = solve(problem, picture=bool(dot_file or svg_file or png_file))
    if dot_file or svg_file or png_file:
        from hwsolve.render.dot import write_drawings

        precision = click.get_current_context().params.get("precision", DEFAULT_PRECISION)
        write_drawings(solution, precision, dot=dot_file, svg=svg_file, png=png_file)
    return solution


# --- hyper-parameter search, gradient flow, activation plots (issue 5) ---


def _plot_options(f):
    """--plot FILE (PNG or SVG by suffix) and --chart/--no-chart (the terminal chart)."""
    f = click.option("--no-chart", "no_chart", is_flag=True,
                     help="Leave out the text chart section.")(f)
    return click.option("--plot", "plot", type=_FILE, default=None,
                        help="Also draw the figure into this .png or .svg file.")(f)


def _check_plot(plot):
    if plot:
        from hwsolve.render.plot import check_plot_path

        check_plot_path(plot)  # before any work: a bad path fails fast, nothing is written


def _finish_figure(solution, plot, no_chart):
    from hwsolve.render.plot import add_chart, save_plot

    if plot:
        save_plot(solution.figure, plot)
    # the text chart is for reading in a terminal; JSON, Markdown and LaTeX carry the data instead
    if not no_chart and click.get_current_context().params.get("fmt", "rich") == "rich":
        add_chart(solution)
    return solution


@main.command()
@click.argument("spec", type=_FILE, required=False)
@click.option("--counts", help="Grid: values per hyper-parameter, e.g. 10,6,5.")
@click.option("--epochs", type=int, help="Grid: epochs per configuration.")
@click.option("--epoch-time", help="Grid: time of one epoch (see --unit).")
@click.option("--unit", default="minutes", show_default=True, help="seconds, minutes or hours.")
@click.option("--p", "p", help="Random search: fraction of the space that is good, in (0, 1).")
@click.option("--q", "q", multiple=True, help="Random search: success probability wanted, in "
              "(0, 1); repeat for several.")
@click.option("--table", help="Random search: N values for the success table, e.g. 10,20,59.")
@click.option("--workers", type=int, default=None, help="Parallel workers for the grid's wall time.")
@_plot_options
@output_options
def hparam(spec, counts, epochs, epoch_time, unit, p, q, table, workers, plot, no_chart):
    """Grid-search cost and the least number of random-search trials, from a SPEC or flags.

    \b
    Examples:
      hwsolve hparam problems/cs4782_p2.yaml --workers 4
      hwsolve hparam --counts 10,6,5 --epochs 10 --epoch-time 2 --p 0.05 --q 0.95 --q 0.995
    """
    from hwsolve.core.errors import SpecError
    from hwsolve.topics.hparam import spec as reader
    from hwsolve.topics.hparam.solve import solve as solve_hparam

    if workers is not None and workers < 1:
        raise SpecError(f"expected a whole number >= 1, got {workers}", field="--workers")
    _check_plot(plot)
    if spec is not None:
        if any(v is not None for v in (counts, epochs, epoch_time, p)) or q:
            raise SpecError("give a SPEC file or the grid/random flags, not both")
        prob = reader.load(spec)
        if workers is not None:
            prob.workers = workers
        if table is not None:
            prob.table = reader.table_flag(table)
    else:
        prob = reader.from_flags(counts=counts, epochs=epochs, epoch_time=epoch_time, unit=unit,
                                 p=p, q=q, table=table, workers=workers or 1)
    solution = solve_hparam(prob)
    if plot and solution.figure is None:
        raise SpecError("nothing to plot: --plot draws the random-search curve; give p and q")
    return _finish_figure(solution, plot, no_chart)


@main.command()
@click.argument("spec", type=_FILE)
@_plot_options
@output_options
def gradflow(spec, plot, no_chart):
    """dL/dx through a plain stack or residual blocks, for each depth in SPEC (YAML).

    \b
    Example:
      hwsolve gradflow problems/cs4782_p5.yaml --plot flow.png
    """
    from hwsolve.topics.gradflow.solve import solve as solve_gradflow
    from hwsolve.topics.gradflow.spec import load

    _check_plot(plot)
    return _finish_figure(solve_gradflow(load(spec)), plot, no_chart)


@main.command()
@click.argument("names", nargs=-1)
@click.option("--function", "function", is_flag=True, help="Show the functions (the default).")
@click.option("--derivative", is_flag=True, help="Show the derivatives (with --function: both).")
@click.option("--range", "xrange", default=None, help="Plotted x range LOW,HIGH (default -4,4).")
@click.option("--at", "at", default=None, help="Table points, e.g. -2,-1,0,1,2.")
@_plot_options
@output_options
def activations(names, function, derivative, xrange, at, plot, no_chart):
    """Activation functions and/or their derivatives: a table of values and a plot.

    NAMES are table entries (relu, leaky_relu:0.01, softplus:1, gelu, sigmoid, tanh, ...), or one
    SPEC file (.yaml).

    \b
    Example:
      hwsolve activations relu leaky_relu:0.01 softplus:1 gelu --derivative --plot d.png
      hwsolve activations problems/nyu2572_1_5c.yaml --plot d.svg
    """
    from hwsolve.topics.activations import spec as reader
    from hwsolve.topics.activations.solve import solve as solve_activations

    _check_plot(plot)
    if len(names) == 1 and _is_spec_name(names[0]):
        prob = reader.load(names[0])
        if function or derivative:
            prob.show_function, prob.show_derivative = function or not derivative, derivative
    else:
        lo = hi = pts = None
        if xrange is not None:
            lo, hi = _number_list(xrange, "--range", 2)
        if at is not None:
            pts = _number_list(at, "--at")
        prob = reader.from_names(list(names), function=function, derivative=derivative,
                                 lo=lo, hi=hi, points=pts)
    return _finish_figure(solve_activations(prob), plot, no_chart)


def _is_spec_name(name: str) -> bool:
    """A .yaml file, or the bare name of a bundled example (`nyu2572_1_5c`), not a function name."""
    from hwsolve.spec.examples import find_example

    return name.lower().endswith((".yaml", ".yml")) or find_example(name) is not None


def _number_list(text, flag, count=None):
    from hwsolve.core.errors import SpecError
    from hwsolve.spec.numbers import parse_number

    try:
        out = [parse_number(t) for t in text.split(",")]
    except (ValueError, ZeroDivisionError):
        raise SpecError(f"expected comma-separated numbers, got '{text}'", field=flag) from None
    if count is not None and len(out) != count:
        raise SpecError(f"expected {count} numbers, got {len(out)}", field=flag)
    return out


# --- convolution and architecture arithmetic (issue 4) ---


@main.command("conv-shape")
@click.option("--n", "n", required=True, help="Input size: 36, or HxW such as 36x28.")
@click.option("--k", "k", required=True, help="Kernel (or pooling window) size: 3, or 3x5.")
@click.option("--p", "p", default="0", show_default=True, help="Padding per side: 3, 1x2, or 'same'.")
@click.option("--s", "s", default=None, help="Stride: 2, or 2x1. [default: 1; the window for --pool]")
@click.option("--d", "d", default="1", show_default=True, help="Dilation: 2, or 2x1.")
@click.option("--filters", type=str, default=None, help="Number of filters L (output depth). [default: 1]")
@click.option("--channels", type=str, default=None, help="Input channels C (filter depth). [default: 1]")
@click.option("--pool", type=click.Choice(["max", "avg"]), default=None,
              help="A pooling layer instead of a convolution.")
@click.option("--transposed", is_flag=True, help="A transposed convolution (PyTorch's ConvTranspose2d).")
@click.option("--output-padding", "output_padding", default="0", show_default=True,
              help="Extra rows/columns on one side of a transposed convolution's output.")
@click.option("--groups", type=str, default=None,
              help="Grouped convolution G (PyTorch's groups; depthwise: G = C = L). [default: 1]")
@output_options
def conv_shape(n, k, p, s, d, filters, channels, pool, transposed, output_padding, groups):
    """Output size, volume and parameter count of a convolution or pooling layer, step by step.

    \b
    Example:
      hwsolve conv-shape --n 36 --k 3 --p 3 --s 2 --filters 2 --channels 3
    """
    from hwsolve.topics.conv.sizes import parse_count, parse_pair
    from hwsolve.topics.conv.shape import ShapeProblem, solve_shape

    return solve_shape(ShapeProblem(
        n=parse_pair(n, "n"), k=parse_pair(k, "k"), p=parse_pair(p, "p", allow_same=True, minimum=0),
        s=None if s is None else parse_pair(s, "s"), d=parse_pair(d, "d"),
        filters=parse_count(filters, "filters"), channels=parse_count(channels, "channels"), pool=pool,
        transposed=transposed, output_padding=parse_pair(output_padding, "output_padding", minimum=0),
        groups=parse_count(groups, "groups") or 1))


@main.command()
@click.argument("spec", type=_FILE)
@output_options
def conv(spec):
    """Apply kernels (or pooling) to a small image from SPEC (YAML): every output cell as its sum
    of products. A spec with `parts:` may also ask for output sizes and the general formula."""
    from hwsolve.topics.conv.solve import solve_conv
    from hwsolve.topics.conv.spec import load_conv

    return solve_conv(load_conv(spec))


@main.command()
@click.argument("spec", type=_FILE)
@output_options
def arch(spec):
    """Layer table of a CNN from SPEC (YAML): activation volume, memory, weights and biases per
    layer, and totals. Layers in compact notation (INPUT 32x32x1, CONV5-10, POOL2, FC-10) or as
    mappings."""
    from hwsolve.topics.arch.solve import solve_arch
    from hwsolve.topics.arch.spec import load_arch

    return solve_arch(load_arch(spec))


@main.command("vit-patches")
@click.argument("spec", type=_FILE, required=False)
@click.option("--image", default=None, help="Image size: 224, or HxW.")
@click.option("--patch", default=None, help="Patch size: 16, or HxW.")
@click.option("--channels", default=None, help="Image channels (3 for RGB). [default: 3]")
@click.option("--dim", default=None, help="Embedding dimension D: adds the patch-embedding parameters.")
@click.option("--no-cls", "no_cls", is_flag=True, help="No class token in the sequence.")
@output_options
def vit_patches(spec, image, patch, channels, dim, no_cls):
    """Patches of a Vision Transformer: count, flattened length, sequence length, embedding size.

    Give the numbers as options, or a SPEC (YAML, kind: vit).
    """
    from hwsolve.topics.arch.solve import solve_vit
    from hwsolve.topics.arch.spec import load_vit, vit_from_flags

    if spec is not None:
        if any(v is not None for v in (image, patch, channels, dim)) or no_cls:
            raise click.UsageError("give either a SPEC file or the options, not both")
        return solve_vit(load_vit(spec))
    return solve_vit(vit_from_flags(image, patch, channels, dim, not no_cls))


# --- one layer's backward pass: conv, pooling, norms, dropout, RNN, attention (issue 12) ---


@main.command()
@click.argument("spec", type=_FILE)
@output_options
def layer(spec):
    """Forward and backward pass of one layer from SPEC (YAML, kind: layer, type: conv | pool |
    batchnorm | layernorm | dropout | rnn | attention): every cell of every gradient as its sum.

    \b
    Examples:
      hwsolve layer problems/layer_conv.yaml
      hwsolve layer problems/layer_rnn.yaml --format markdown
    """
    from hwsolve.topics import solve_file_of_kind

    return solve_file_of_kind(spec, "layer", "layer")


# --- training steps and optimizers (issue 11) ---


@main.command()
@click.argument("spec", type=_FILE)
@output_options
def train(spec):
    """Training steps on SPEC (YAML, kind: train): gradients from the backward pass, then SGD,
    momentum, Nesterov, AdaGrad, RMSProp or Adam, every state variable at every step.

    \b
    Examples:
      hwsolve train problems/adam_quadratic.yaml
      hwsolve train problems/cs4782_p1_momentum.yaml --format json
    """
    from hwsolve.topics import solve_file_of_kind

    return solve_file_of_kind(spec, "train", "train")


# --- grading (issue 6) ---


@main.command()
@click.argument("key_spec", type=_FILE)
@click.argument("submissions", nargs=-1, required=True, type=_ANY_PATH)
@click.option("--rubric", "rubric", type=_FILE, default=None,
              help="Rubric YAML (overrides the key spec's `rubric:`).")
@click.option("--json", "json_file", type=_FILE, default=None,
              help="Write every verdict and the class statistics as JSON.")
@click.option("--junit", type=_FILE, default=None,
              help="Write JUnit XML: one test case per graded step.")
@click.option("--gradescope", type=_FILE, default=None,
              help="Write Gradescope's results.json (one submission).")
@click.option("--visibility", type=click.Choice(["hidden", "after_due_date", "after_published", "visible"]),
              default="visible", show_default=True, help="Gradescope visibility of the results.")
@click.option("--csv", "csv_file", type=_FILE, default=None,
              help="Write a CSV gradebook: student, score, points per step.")
@click.option("--jobs", "-j", type=click.IntRange(1, 256), default=1, show_default=True,
              help="Grade in N processes (reports are the same byte for byte).")
@click.option("--fail-under", "fail_under", type=click.FloatRange(0, 100), default=None,
              help="Exit 1 when a submission scores below this percentage.")
@click.option("--show-key", "show_key", is_flag=True, help="Include the key's values in feedback.")
@click.option("--brief", is_flag=True, help="One line per submission, then the class table.")
@click.option("--roster", type=_FILE, default=None,
              help="KEY_SPEC is a template: grade each student against their own variant (with --secret-file).")
@click.option("--secret-file", "secret_file", type=_FILE, default=None,
              help="The course secret the variants were drawn with.")
def grade(key_spec, submissions, rubric, json_file, junit, gradescope, visibility, csv_file, jobs, fail_under,
          show_key, brief, roster, secret_file):
    """Grade answer files (or folders of them) against KEY_SPEC: tolerance, partial credit,
    error carried forward and named mistakes, per step. Exit 0 graded, 1 below --fail-under,
    3 a submission missing or unreadable (it scores 0 in every report), 2 bad key or usage.

    \b
    Examples:
      hwsolve grade problems/cs4782_p1.yaml tests/data/seed001_answers.yaml
      hwsolve grade problems/cs4782_p1.yaml submissions/ --json grades.json --junit junit.xml
    """
    from hwsolve.grade.run import run_grade

    key_source = None
    if roster or secret_file:   # per-student variants (issue 15)
        if not (roster and secret_file):
            raise click.UsageError("--roster and --secret-file go together")
        from hwsolve.variants.grading import VariantKeys

        key_source = VariantKeys(key_spec, roster, secret_file, rubric)
    code = run_grade(key_spec, submissions, rubric=rubric, json_file=json_file, junit=junit,
                     gradescope=gradescope, csv_file=csv_file, visibility=visibility, jobs=jobs,
                     fail_under=fail_under, show_key=show_key, brief=brief, key_source=key_source)
    sys.exit(code)


# --- derivations and whole sheets (issue 7) ---


@main.command()
@click.argument("spec", type=_FILE)
@click.argument("other", type=_FILE, required=False)
@output_options
def derive(spec, other):
    """General gradients of a layered network from SPEC (YAML, kind: derive): dimensions and layer
    types, no numbers. Every Jacobian with its elements and shape, the chain for every parameter
    and the input with its shape check, in numerator or gradient layout; checked against the
    numeric engine at random numbers.

    \b
    Examples:
      hwsolve derive problems/csc6022_q1.yaml
      hwsolve derive problems/nyu2572_1_2_sym.yaml --format latex > q12.tex
      hwsolve derive problems/nyu2572_1_3a_sym.yaml problems/nyu2572_1_3b_sym.yaml   # what changes
    """
    from hwsolve import topics
    from hwsolve.spec.loader import load_yaml

    problems = []
    for path in (spec, other) if other else (spec,):
        doc = load_yaml(path)
        kind = topics.kind_of(doc, default="derive")
        if kind != "derive":
            raise doc.root["kind"].error(f"'derive' reads kind derive; this spec is kind {kind}")
        problems.append(topics.parse(doc, kind))
    if other:
        from hwsolve.topics.derive.compare import compare

        return compare(*problems)
    return topics.solve(problems[0], "derive")


@main.command()
@click.argument("sheet", type=_FILE)
@output_options
def solve(sheet):
    """Every part of a homework SHEET (YAML, kind: sheet), each by its topic, in one report with
    a table of contents; also solves a single spec of any kind.

    \b
    Examples:
      hwsolve solve problems/cs4782_hw1.yaml
      hwsolve solve problems/cs4782_hw1.yaml --format latex -o hw1.tex && pdflatex hw1.tex
    """
    from hwsolve import topics

    return topics.load_and_solve(sheet)[1]


# --- the package's own examples, templates and schemas (issue 16) ---


@main.command()
def examples():
    """List the example specs that ship with hwsolve, one line each.

    A bare name finds one from any folder: `hwsolve backprop cs4782_p1`.
    """
    from hwsolve.spec.examples import example_names, example_summary, examples_dir
    from hwsolve.spec.loader import load_yaml

    for name in example_names():
        path = examples_dir() / f"{name}.yaml"
        kind, title = example_summary(path, load_yaml(path).data)
        click.echo(f"{name:<22} {kind:<12} {title}")


@main.command()
@click.argument("kind")
@click.argument("file", type=_FILE, required=False)
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
def init(kind, file, force):
    """Write a commented template spec of KIND to FILE (default, or '-': standard output).

    KIND is one of network, graph, derive, hparam, gradflow, conv, arch, vit, activations, sheet,
    layer, prove, update_rule, recursive.

    \b
    Example:
      hwsolve init network my_net.yaml && hwsolve backprop my_net.yaml
    """
    from hwsolve.core.errors import SpecError
    from hwsolve.core.fileio import exists, write_atomic
    from hwsolve.spec.schemas import template_text

    text = template_text(kind)
    if file is None or file == "-":
        click.echo(text, nl=False)
        return
    if exists(file) and not force:
        raise SpecError("exists; give --force to replace it", file=file)
    write_atomic(file, text)
    click.echo(f"wrote {file} (kind: {kind})", err=True)


@main.command()
@click.argument("name", required=False)
@click.option("-o", "--output", type=_FILE, default=None,
              help="Write to this file instead of standard output ('-': standard output).")
def schema(name, output):
    """Print the JSON Schema (draft 2020-12) NAME: a spec kind (network, graph, ...), `solution`
    (--format json), `grade` (grade --json) or `gradescope`. Without NAME: list the names."""
    from hwsolve.spec.schemas import schema_names, schema_path

    if name is None:
        click.echo("\n".join(schema_names()))
        return
    text = schema_path(name).read_text(encoding="utf-8")
    if output and output != "-":
        from hwsolve.core.fileio import write_atomic

        write_atomic(output, text)
    else:
        click.echo(text, nl=False)


# --- identities (issue 13) ---


@main.command()
@click.argument("identity")
@output_options
def prove(identity):
    """Show an IDENTITY ("left = right", in the graph-spec expression language) one named rule
    per line: definitions in exponentials, a common denominator, t = e^x, lowest terms. Says
    plainly when it is false (with a point where the sides differ) or when no rewriting is found.
    A path to a spec (kind: prove) works too.

    \b
    Examples:
      hwsolve prove "tanh(x) = 2*sigmoid(2*x) - 1"
      hwsolve prove problems/csci5922_ec_a.yaml --format latex
    """
    from hwsolve.topics.prove.solve import solve as solve_identity
    from hwsolve.topics.prove.spec import parse_identity

    if "=" not in identity and identity.endswith((".yaml", ".yml")):
        from hwsolve import topics

        return topics.load_and_solve(identity)[1]
    return solve_identity(parse_identity(identity))


# --- per-student variants and problem statements (issue 15) ---


@main.command()
@click.argument("spec", type=_FILE)
@output_options
def question(spec):
    """The problem statement of SPEC without its solution: what is given (weights, inputs, the
    model's formulas) and what to compute (the steps the rubric grades, with their points).

    \b
    Examples:
      hwsolve question problems/cs4782_p1.yaml --format latex -o p1_question.tex
      hwsolve question problems/csci5922_q3b.yaml --format markdown
    """
    from hwsolve.variants.question import question_of

    return question_of(spec)


@main.command()
@click.argument("template", type=_FILE)
@click.option("--roster", required=True, type=_FILE,
              help="CSV of students: a column student (or id, netid, email), optionally name.")
@click.option("--secret-file", "secret_file", required=True, type=_FILE,
              help="The course secret (16+ bytes); without it no one can recompute a variant.")
@click.option("-o", "--output", "out_dir", required=True, type=_FOLDER,
              help="Folder for the sheets, keys and manifest.json (created if missing).")
@click.option("--precision", type=click.IntRange(1, 30), default=DEFAULT_PRECISION, show_default=True,
              help="Significant digits for values that are not exact.")
def variants(template, roster, secret_file, out_dir, precision):
    """Per student of the roster, a variant of TEMPLATE (a spec with `variants:`): the problem
    sheet (LaTeX and Markdown), the key spec and an answer-file skeleton; and manifest.json.

    \b
    Example:
      hwsolve variants problems/cs4782_p1_template.yaml --roster roster.csv --secret-file course.secret -o hw1/
      hwsolve grade problems/cs4782_p1_template.yaml --roster roster.csv --secret-file course.secret submissions/
    """
    from hwsolve.variants.generate import write_variants

    manifest = write_variants(template, roster, secret_file, out_dir, precision)
    shared = manifest["shared_variants"]
    click.echo(f"wrote {len(manifest['students'])} variants ({manifest['distinct_variants']} distinct) "
               f"to {out_dir}/ and {out_dir}/manifest.json", err=True)
    for ids in shared:
        click.echo(f"warning: these students share a variant: {', '.join(ids)} (widen the template's ranges)",
                   err=True)


def run() -> None:
    """The `hwsolve` console script: `main`, then the process ends without tearing the
    interpreter down object by object. A 784-128-10 network's solution holds a few hundred
    thousand numbers and strings, and freeing them one by one at exit took about 45 ms, a tenth
    of the run. Every output is written by then (files are renamed into place inside the
    command; stdout and stderr are flushed here), hwsolve registers no atexit work and starts
    no threads, and grading's worker pools are closed inside the command."""
    import os

    try:
        main()
        code: object = 0
    except SystemExit as e:
        code = e.code
    except BrokenPipeError:  # `hwsolve ... | head`: the reader has what it wanted
        code = 1
    except UnicodeEncodeError as e:  # a terminal or pipe set to latin-1 or ASCII meets ⊙ or a name
        print(f"error: the output has characters the standard output's encoding ({e.encoding}) cannot "
              "write; set PYTHONIOENCODING=utf-8 or write to a file with -o", file=sys.stderr)
        code = 1
    except OSError as e:  # standard output on a full disk
        print(f"error: cannot write the output: {e.strerror or e}", file=sys.stderr)
        code = 1
    if code is not None and not isinstance(code, int):  # sys.exit("message"), as Python prints it
        print(code, file=sys.stderr)
        code = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`| head`): nothing more can be written
            code = code or 1
    os._exit(code or 0)
