"""Renderers read `Solution` records and print them; they never compute.

Each format is one module with ``render(solution, precision) -> str`` (the rich one also takes a
console). They are imported lazily so a command pays only for the format it prints.
"""

from __future__ import annotations

import importlib

FORMATS = ("rich", "json", "markdown", "latex")

_MODULES = {"rich": "text", "json": "json_out", "markdown": "markdown", "latex": "latex"}


def renderer(fmt: str):
    return importlib.import_module(f"hwsolve.render.{_MODULES[fmt]}")


def emit(solution, fmt: str, precision: int, output: str | None = None, fragment: bool = False,
         whole: bool = False) -> None:
    """Print a solution in a format, to stdout or to a file (written whole or not at all).

    `whole`: big arrays whole instead of their corners, in the terminal and in LaTeX (JSON's
    values and Markdown always carry every number).
    """
    mod = renderer(fmt)
    if fmt == "rich":
        if not output:
            mod.render(solution, precision, whole=whole)
            return
        plain = mod.render_plain(solution, precision, whole=whole)  # rich's layout, without importing rich
        if plain is None:
            import io

            buf = io.StringIO()
            mod.render(solution, precision, console=mod.make_console(buf, plain=True), whole=whole)
            plain = buf.getvalue()
        text = plain.rstrip("\n")
    elif fmt == "json":  # UTF-8 pieces, made a step at a time: never one 10 MB string
        _emit_utf8(mod.render_chunks(solution, precision, whole), output)
        return
    else:
        text = mod.render(solution, precision, fragment=fragment, whole=whole) if fmt == "latex" \
            else mod.render(solution, precision)
    if output:
        from hwsolve.core.fileio import write_atomic

        write_atomic(output, text + "\n")
    else:
        import click

        click.echo(text)


def _emit_utf8(chunks, output: str | None) -> None:
    """UTF-8 pieces and a newline: into a file as they are made (whole or not at all), or to stdout
    once all are made, in one write as click.echo writes them, so that an error on the way (the
    time limit) leaves stdout empty, and a reader that stops early (`| head`) is met as before."""
    if output:
        from itertools import chain

        from hwsolve.core.fileio import write_atomic

        write_atomic(output, chain(chunks, (b"\n",)))
        return
    import click

    data = b"".join([*chunks, b"\n"])  # the newline joined in: click.echo's would copy it all again
    click.echo(data if _utf8_stdout() else data.decode("utf-8"), nl=False)  # bytes: the binary stream


def _utf8_stdout() -> bool:
    """May UTF-8 bytes go to stdout's binary buffer as they are? Only when the text stream above
    it would write the same bytes: it encodes UTF-8 and writes "\n" as "\n" (not Windows'
    translation); a StringIO put in its place has no buffer at all."""
    import codecs
    import os
    import sys

    encoding = getattr(sys.stdout, "encoding", None)
    if getattr(sys.stdout, "buffer", None) is None or not encoding or os.linesep != "\n":
        return False
    try:
        return codecs.lookup(encoding).name == "utf-8"
    except LookupError:
        return False
