"""The command line: thin click commands that load a spec, call an engine and pick a renderer.

No math here and no heavy imports at module level: `hwsolve --help` and `conv-shape` must not
import numpy or sympy. Engines are imported inside the commands that need them.
"""

from __future__ import annotations

import functools
import sys

import click

from hwsolve import __version__
from hwsolve.errors import HwsolveError
from hwsolve.numfmt import DEFAULT_PRECISION

FORMAT_CHOICES = ("rich", "json", "markdown", "latex")


class _Group(click.Group):
    """Turns user-input errors into one line on stderr and exit code 2, without a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except HwsolveError as e:
            click.echo(f"error: {e}", err=True)
            sys.exit(e.exit_code)
        except RecursionError:
            click.echo("error: input nested too deeply", err=True)
            sys.exit(2)


def output_options(f):
    """The options every solving command shares: --format, --precision, --output, --fragment."""

    @click.option("--format", "fmt", type=click.Choice(FORMAT_CHOICES), default="rich",
                  show_default=True, help="Output format.")
    @click.option("--precision", type=click.IntRange(1, 30), default=DEFAULT_PRECISION,
                  show_default=True, help="Significant digits for values that are not exact.")
    @click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
                  help="Write to this file instead of standard output.")
    @click.option("--fragment", is_flag=True, help="With --format latex: the body only, no preamble.")
    @functools.wraps(f)
    def wrapper(*args, fmt, precision, output, fragment, **kwargs):
        solution = f(*args, **kwargs)
        if solution is not None:
            from hwsolve.render import emit

            emit(solution, fmt, precision, output, fragment)

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
@click.argument("spec", type=click.Path(dir_okay=False))
@output_options
def backprop(spec):
    """Forward pass, chain-rule sequence and gradients of a network or graph SPEC (YAML)."""
    from hwsolve.engine.backprop import solve
    from hwsolve.spec.problems import load_backprop

    return solve(load_backprop(spec))
