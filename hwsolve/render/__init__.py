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
    elif fmt == "json":  # UTF-8 pieces, written as they are made: a big network's steps one by one
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
    """Write UTF-8 pieces and a newline to a file (whole or not at all) or to stdout."""
    import sys
    from itertools import chain

    if output:
        from hwsolve.core.fileio import write_atomic

        write_atomic(output, chain(chunks, (b"\n",)))
    elif _utf8_stdout():
        sys.stdout.flush()  # anything printed as text before comes first (as click.echo of bytes)
        out = sys.stdout.buffer
        for chunk in chunks:
            out.write(chunk)
        out.write(b"\n")
        out.flush()
    else:
        import click

        click.echo(b"".join(chunks).decode("utf-8"))  # the stream encodes it, as every other format's text


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
