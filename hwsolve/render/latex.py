"""LaTeX for one step (used by JSON and Markdown) and for a whole solution or sheet.

The document compiles with pdflatex from texlive-latex-base alone (amsmath, amssymb, geometry,
graphicx): matrices are ``bmatrix``, each step is aligned on ``=`` with one form per row, so a long
derivation breaks across lines and (``\\allowdisplaybreaks``) across pages, and a single form wider
than the line is scaled down to fit (``\\hwfit``) instead of running off the page. Text is escaped
and the few non-ASCII signs the engines print (×, →, ⊙, ...) are written as LaTeX, so a title or a
note cannot break the document. One pdflatex pass is enough: the table of contents of a sheet is
written out, not left to ``\\tableofcontents``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from hwsolve.core.notation import latex_text, step_label
from hwsolve.core.numfmt import grouped_count
from hwsolve.core.records import Solution, Step
from hwsolve.core.sym import Apply, Const, Symbol, _deeper_than_matrix, _LatexPrinter, lift, to_latex, to_text
from hwsolve.core.tuplememo import count, remember
from hwsolve.core.texescape import escape_text

# a form longer than this (visible characters, roughly) is wrapped in \hwfit
LONG = 60
# a step whose forms together are at most this long is written on one row
SHORT = 40
# a row at most this long leaves room for its note beside it (a \parbox of 0.36 of the line)
BESIDE = 45
# summary rows at most this long are set two to a line
PAIRED = 30
# An array with more rows or columns (or maps) than this is typeset by its corners, as numpy
# summarises: a bmatrix holds at most MaxMatrixCols columns (30 in both preambles, raised under
# `--full`) and TeX reads lines of at most 200,000 characters, so a 784-wide layer cannot be typeset
# whole. Maps (C x H x W, F x C x kh x kw) of more than numpy's 1,000 entries are summarised as
# numpy summarises them, every axis longer than twice the edge: 20 maps of 28 x 28 made a
# 217,000-character line, and six of them whole still ran out of TeX's memory.
# JSON's values and Markdown keep every number.
LATEX_ELIDE_LENGTH = 30
LATEX_ELIDE_ENTRIES = 1000  # numpy's summarisation threshold
LATEX_EDGE_ITEMS = 3  # entries (rows, columns, maps) kept at each end of a shortened axis
ELIDED_LATEX_NOTE = (rf"Arrays with more than {LATEX_ELIDE_LENGTH} rows or columns (maps of more than "
                     + f"{LATEX_ELIDE_ENTRIES:,}".replace(",", "{,}")   # {,}: no space after the separator
                     + r" numbers) show their corners, with their shape as a subscript; "
                     r"\texttt{--format json} and \texttt{markdown} carry every number.")


def note_latex(note: str, escape, code=None, heading: bool = False) -> str:
    """`notemath.note_latex`, imported on first use: a JSON run typesets every step's LaTeX but
    no note (a step's value in words is the only note-like text in `step_latex`), and the note
    tokenizer's regular expressions cost a small run 1-2 ms to build."""
    from hwsolve.render.notemath import note_latex as typeset

    return typeset(note, escape, code, heading)


PREAMBLE = r"""\documentclass[10pt]{article}
\usepackage[margin=2cm,top=1.3cm,bottom=1.4cm]{geometry}
\usepackage{amsmath,amssymb}
\usepackage{graphicx}
\allowdisplaybreaks
% a derivation is many short displays: tighter rows and display gaps keep a short one on one page
\setlength{\jot}{2pt}
\makeatletter
\g@addto@macro\normalsize{\setlength\abovedisplayskip{5pt plus 2pt}\setlength\belowdisplayskip{5pt plus 2pt}%
  \setlength\abovedisplayshortskip{2pt plus 2pt}\setlength\belowdisplayshortskip{3pt plus 2pt}}
\renewcommand\section{\@startsection{section}{1}{\z@}{-2.5ex \@plus -1ex \@minus -.2ex}{1.2ex \@plus .2ex}%
  {\normalfont\Large\bfseries}}
\renewcommand\subsection{\@startsection{subsection}{2}{\z@}{-2ex \@plus -.5ex \@minus -.2ex}{.8ex \@plus .2ex}%
  {\normalfont\large\bfseries}}
\makeatother
\setcounter{MaxMatrixCols}{30}
\setlength{\parindent}{0pt}
% a formula wider than the space left on its line is scaled down to fit
\newcommand{\hwfit}[1]{\resizebox{\ifdim\width>0.82\linewidth 0.82\linewidth\else\width\fi}{!}{$\displaystyle #1$}}
"""

# A fragment is \input into a document whose preamble we do not know; only amsmath is assumed.
# \providecommand defines nothing the document already has: with graphicx loaded, \hwfit scales
# as in the full preamble; without it, the formula is set as is; \mathbb falls back to bold.
FRAGMENT_HEADER = r"""% hwsolve fragment: needs amsmath; \input it after \begin{document}
\makeatletter
\providecommand{\hwfit}[1]{\@ifundefined{resizebox}{#1}{%
  \resizebox{\ifdim\width>0.82\linewidth 0.82\linewidth\else\width\fi}{!}{$\displaystyle #1$}}}
\makeatother
\providecommand{\mathbb}[1]{\mathbf{#1}}
\ifnum\value{MaxMatrixCols}<30 \setcounter{MaxMatrixCols}{30}\fi
"""




def _dims(v: tuple) -> list[int]:
    """The lengths of a nested tuple's levels, read along its first entries."""
    out = []
    while type(v) is tuple and v:
        out.append(len(v))
        v = v[0]
    return out


def _is_matrix(v: tuple) -> bool:
    """Equal-length, non-empty rows of numbers (a ragged or empty array is typeset whole)."""
    n = len(v[0]) if v and type(v[0]) is tuple else 0
    return n > 0 and all(type(r) is tuple and len(r) == n for r in v)


def _longest_kept(v: tuple) -> int:
    """The longest axis typeset whole: LATEX_ELIDE_LENGTH, or for maps of more than
    LATEX_ELIDE_ENTRIES numbers twice the edge (numpy's summary)."""
    if _deeper_than_matrix(v) and count(v) > LATEX_ELIDE_ENTRIES:
        return 2 * LATEX_EDGE_ITEMS
    return LATEX_ELIDE_LENGTH


def _shortened(v: tuple, longest: int) -> bool:
    if not v:
        return False
    if _deeper_than_matrix(v):
        return len(v) > longest or any(_shortened(part, longest) for part in v)
    if type(v[0]) is not tuple:   # a vector: one column
        return len(v) > longest and not any(type(x) is tuple for x in v)
    return _is_matrix(v) and (len(v) > longest or len(v[0]) > longest)


def is_big_latex(v: tuple) -> bool:
    """True when the LaTeX printer shortens the array (`CornersLatexPrinter`): a vector or matrix
    with more than LATEX_ELIDE_LENGTH entries, rows or columns; maps with more than that many, or
    of more than LATEX_ELIDE_ENTRIES numbers in all; or maps with one so shortened."""
    return _shortened(v, _longest_kept(v))


def _kept(n: int, longest: int) -> list[int | None]:
    """The indexes of an axis that are typeset, None where the rest are left out."""
    if n <= longest:
        return list(range(n))
    return [*range(LATEX_EDGE_ITEMS), None, *range(n - LATEX_EDGE_ITEMS, n)]


class CornersLatexPrinter(_LatexPrinter):
    r"""The LaTeX printer, except that a big array (`is_big_latex`) is typeset by its corners, as
    numpy summarises: its first and last LATEX_EDGE_ITEMS rows and columns with \cdots, \vdots
    and \ddots between, and its shape as a subscript, e.g. ``\begin{bmatrix} ... \end{bmatrix}_{128 \times 784}``."""

    def array(self, v: tuple) -> str:
        longest = _longest_kept(v)
        if not _shortened(v, longest):  # typeset as the plain printer does, sharing its remembered text
            return remember(v, ("latex", self.precision), self._array)
        return self._corners(v, longest)

    def _corners(self, v: tuple, longest: int) -> str:
        shape = "_{" + r" \times ".join(map(str, _dims(v))) + "}"
        if _deeper_than_matrix(v):  # C x H x W: its maps, each as a matrix
            parts = [r"\ldots" if i is None else
                     self._corners(v[i], longest) if _shortened(v[i], longest) else self._array(v[i])
                     for i in _kept(len(v), longest)]
            return r"\left[ " + ", ".join(parts) + r" \right]" + (shape if len(v) > longest else "")
        rows = v if type(v[0]) is tuple else tuple((x,) for x in v)   # a vector is a column
        cols = _kept(len(rows[0]), longest)
        lines = []
        for i in _kept(len(rows), longest):
            if i is None:
                lines.append(" & ".join(r"\vdots" if j is not None else r"\ddots" for j in cols))
            else:
                lines.append(" & ".join(r"\cdots" if j is None else self.number(rows[i][j]) for j in cols))
        return r"\begin{bmatrix} " + r" \\ ".join(lines) + r" \end{bmatrix}" + shape


def _widest(v: tuple) -> int:
    """The most columns a bmatrix of this array has (a vector is one column)."""
    if not v or type(v[0]) is not tuple:
        return 1
    if _deeper_than_matrix(v):
        return max(map(_widest, v))
    return max(len(r) for r in v if type(r) is tuple)


def _latex_printer(precision: int, whole: bool) -> _LatexPrinter:
    return _LatexPrinter(precision) if whole else CornersLatexPrinter(precision)


def _arrays(e) -> Iterator[tuple]:
    """The arrays an expression holds as constants."""
    if isinstance(e, Const):
        if isinstance(e.value, tuple):
            yield e.value
    elif isinstance(e, Apply):
        for a in e.args:
            yield from _arrays(a)


def _all_arrays(solution: Solution) -> Iterator[tuple]:
    """Every array the LaTeX of a solution typesets: its steps' values and the numbers
    substituted into their formulas."""
    for s in solution.steps:
        if isinstance(s.value, tuple):
            yield s.value
        for e in (s.chain, s.formula, s.expression, s.substituted):
            if e is not None:
                yield from _arrays(e)


def elides(solution: Solution) -> bool:
    """Whether the LaTeX of a solution shortens any array."""
    return any(is_big_latex(a) for a in _all_arrays(solution))


def _max_cols(solution: Solution) -> str:
    r"""Under `--full`: \setcounter{MaxMatrixCols} to the widest array's columns, when that is
    more than the preamble's 30 (amsmath's bmatrix refuses more columns than the counter)."""
    widest = max(map(_widest, _all_arrays(solution)), default=0)
    return rf"\setcounter{{MaxMatrixCols}}{{{widest}}}" if widest > LATEX_ELIDE_LENGTH else ""


def label_latex(step: Step) -> str:
    if step.label is not None:
        return to_latex(_latexed(step.label))
    # any other key (`dX2 via (X1 + X2)`, `p3.n_out`) read as the course writes it, never as raw text
    return to_latex(step_label(step.name))


def shape_latex(shape: tuple) -> str:
    r"""``\in \mathbb{R}^{K \times D}`` for a symbolic or numeric shape; ``\in \mathbb{R}`` for ()."""
    if not shape:
        return r"\in \mathbb{R}"
    return r"\in \mathbb{R}^{" + r" \times ".join(_dim(d) for d in shape) + "}"


def _dim(d) -> str:
    s = str(d)
    if len(s) == 1 or s.isdigit():
        return s
    return rf"\mathrm{{{s}}}" if re.fullmatch(r"[A-Za-z0-9]+", s) else latex_text(s)


def _latexed(e):
    """Every name an engine gave no LaTeX form (``dL/dY``, ``x_i``) in the course's notation, as a
    label without one is (core.notation.step_label): a key is never printed raw, even inside math."""
    from hwsolve.core.sym import Apply

    if type(e) is Symbol and not e.latex and e.text:
        return step_label(e.text)
    if isinstance(e, Apply):
        return Apply(e.op, tuple(_latexed(a) for a in e.args), e.fn)
    return e


def _braced(e):
    """Brace a superscripted name before a transpose or power: {z^{[2]}}^\\top, not z^{[2]}^\\top
    (a double superscript, which pdflatex rejects)."""
    from hwsolve.core.sym import Apply

    if isinstance(e, Apply):
        args = tuple(_braced(a) for a in e.args)
        if e.op in ("T", "pow") and type(args[0]) is Symbol and "^" in (args[0].latex or ""):
            args = (Symbol(args[0].text, "{" + args[0].latex + "}"),) + args[1:]
        return Apply(e.op, args, e.fn)
    return e


def tex(e, precision: int, whole: bool = False) -> str:
    """An expression in LaTeX; a big array by its corners unless `whole` (CornersLatexPrinter)."""
    return _latex_printer(precision, whole).print(lift(_braced(_latexed(e))))


def step_forms(step: Step, precision: int, whole: bool = False) -> list[str]:
    """The step's forms in order, without repeats: label, chain, formula, expression, numbers, value."""
    parts = [label_latex(step)]
    for e in (step.chain, step.formula, step.expression, step.substituted):
        if e is not None:
            s = tex(e, precision, whole)
            if s not in parts:
                parts.append(s)
    v = value_latex(step, precision, whole)
    if v is not None and v != parts[-1]:
        parts.append(v)
    return parts


def value_latex(step: Step, precision: int, whole: bool = False) -> str | None:
    if step.value is None:
        return None
    if isinstance(step.value, str):
        # a symbolic result already printed as its formula, or a word such as "undefined"
        shown = [to_text(e, precision) for e in (step.formula, step.expression) if e is not None]
        if step.value in shown:
            return None
        return rf"\text{{{note_latex(step.value, escape_text)}}}"   # its math typeset, as a note's
    grouped = grouped_count(step.value, step.unit)
    # {,} keeps TeX from spacing after the separator as after a list's comma
    v = grouped.replace(",", "{,}") if grouped else _latex_printer(precision, whole).print(Const(step.value))
    if step.unit:
        v += rf"\ \text{{{escape_text(step.unit)}}}"
    return v


def step_latex(step: Step, precision: int, whole: bool = False) -> str:
    """``label = chain = formula = expression = substituted = value``, skipping absent parts."""
    return " = ".join(step_forms(step, precision, whole))


def _symbolic(step: Step) -> bool:
    return bool(step.shape) and (step.value is None or isinstance(step.value, str))


def _visible(s: str) -> int:
    """A rough count of printed characters in a LaTeX string."""
    s = re.sub(r"\\(left|right|operatorname|mathrm|mathbb|begin\{[a-z]*\}|end\{[a-z]*\})", "", s)
    s = re.sub(r"\\[A-Za-z]+", "x", s)
    return len(re.sub(r"[{}^_&\s]", "", s))


def _fit(s: str) -> str:
    return rf"\hwfit{{{s}}}" if _visible(s) > LONG else s


def _step_rows(step: Step, precision: int, whole: bool) -> list[str]:
    """One row per form, aligned on '='; the shape of a symbolic result at the end."""
    forms = step_forms(step, precision, whole)
    rest = forms[1:]
    if not rest:
        rows = [forms[0] + " & "]
    elif len(rest) > 1 and sum(_visible(f) for f in rest) <= SHORT:
        rows = [forms[0] + " &= " + " = ".join(rest)]   # a short chain reads best on one line
    else:
        rows = [(forms[0] if i == 0 else "") + " &= " + _fit(f) for i, f in enumerate(rest)]
    if _symbolic(step) or (len(forms) == 1 and step.value is not None and step.shape):
        rows[-1] += r" \quad " + shape_latex(step.shape)
    return rows


def _fits_beside(step: Step, precision: int, whole: bool) -> bool:
    """A note goes beside its step only when the widest row leaves it room (else a line of its own)."""
    return max((_visible(r) for r in _step_rows(step, precision, whole)), default=0) <= BESIDE


def _align(steps: list[Step], precision: int, whole: bool, inline: bool = False) -> list[str]:
    if not steps:
        return []
    text = ""
    for k, s in enumerate(steps):
        text += " \\\\\n".join(_step_rows(s, precision, whole))
        if s.note and inline and _fits_beside(s, precision, whole):  # the note beside the step's last line
            text += r" && \parbox[t]{0.36\linewidth}{\raggedright\footnotesize " + note_latex(s.note, escape_text) + "}"
            text += " \\\\\n" if k < len(steps) - 1 else ""
        elif s.note and k == len(steps) - 1:   # after the block: an \intertext last leaves an empty row
            return [r"\begin{align*}", text.rstrip("\n"), r"\end{align*}",
                    rf"{{\small\emph{{{note_latex(s.note, escape_text)}}}}}\par"]
        elif s.note:  # \intertext comes right after a row end and needs none after it
            text += " \\\\\n" + rf"\intertext{{\small\emph{{{note_latex(s.note, escape_text)}}}}}" + "\n"
        elif k < len(steps) - 1:
            text += " \\\\\n"
    return [r"\begin{align*}", text.rstrip("\n"), r"\end{align*}"]


def _sections(solution: Solution, keys: list[str], precision: int, level: str, whole: bool) -> list[str]:
    out = []
    for key in keys:
        steps = solution.in_section(key)
        if not steps:
            continue
        heading = solution.sections.get(key, key)
        if "/" in key and solution.kind == "sheet":
            heading = heading.split(" · ", 1)[-1]
        out.append(rf"\{level}*{{{note_latex(heading, escape_text, heading=True)}}}")
        if key.endswith("contents"):
            continue
        out.extend(_align(steps, precision, whole, inline=key in solution.inline_notes))
    return out


def _summary(solution: Solution, names: list[str], title: str, precision: int, level: str,
             whole: bool) -> list[str]:
    by = solution.by_name()
    steps = [by[n] for n in names if n in by]
    rows = []
    for s in steps:
        forms = step_forms(s, precision, whole)
        last = forms[-1] if len(forms) > 1 else ""
        if isinstance(s.value, str) and s.formula is not None:
            last = tex(s.formula, precision, whole)
        row = forms[0] + (" &= " + _fit(last) if last else " & ")
        if _symbolic(s) or (s.value is not None and s.shape):
            row += r" \quad " + shape_latex(s.shape)
        rows.append(row)
    if not rows:
        return []
    if len(rows) > 2 and max(_visible(r) for r in rows) <= PAIRED:   # short answers two to a line
        rows = [" & ".join(rows[k:k + 2]) for k in range(0, len(rows), 2)]
    return [rf"\{level}*{{{escape_text(title)}}}", r"\begin{align*}", " \\\\\n".join(rows), r"\end{align*}"]


def _notes(notes: list[str], level: str = "paragraph") -> list[str]:
    if not notes:
        return []
    # notes in small type, no gaps between items: they support the answer, they are not it
    return [rf"\{level}{{Notes}}", r"\begin{itemize}\setlength{\itemsep}{0pt}\setlength{\topsep}{2pt}\footnotesize"] \
        + [rf"\item {note_latex(n, escape_text)}" for n in notes] \
        + [r"\end{itemize}"]


def render(solution: Solution, precision: int, fragment: bool = False, whole: bool = False) -> str:
    """The solution as a LaTeX document (or, with `fragment`, its body to \\input); big arrays by
    their corners, said in a last line, unless `whole`."""
    if solution.kind == "sheet" and solution.parts:
        body = _sheet(solution, precision, whole)
    else:
        body = [rf"\section*{{{note_latex(solution.title, escape_text, heading=True)}}}"]
        keys = list(solution.sections or dict.fromkeys(s.section for s in solution.steps))
        body += _sections(solution, keys, precision, "subsection", whole)
        body += _summary(solution, solution.summary, solution.summary_title, precision, "subsection", whole)
        body += _notes(solution.notes)
    if not whole and elides(solution):
        body.append(rf"\par\medskip{{\footnotesize\emph{{{ELIDED_LATEX_NOTE}}}}}\par")
    if whole and (counter := _max_cols(solution)):
        body.insert(0, counter)
    text = "\n".join(body)
    if fragment:
        return FRAGMENT_HEADER + text
    return PREAMBLE + "\\begin{document}\n" + text + "\n\\end{document}"


def _sheet(solution: Solution, precision: int, whole: bool) -> list[str]:
    parts = solution.parts
    body = [r"\begin{center}{\Large\bfseries " + escape_text(solution.title) + r"}\end{center}",
            r"\subsection*{Contents}", r"\begin{enumerate}"]
    body += [rf"\item[{escape_text(p.id)}] {escape_text(p.title)} \hfill {{\small {escape_text(p.kind)}}}"
             for p in parts]
    body.append(r"\end{enumerate}")
    for p in parts:
        body.append(r"\clearpage")
        body.append(rf"\section*{{{escape_text(p.id)}: {escape_text(p.title)}}}")
        body += _sections(solution, p.sections, precision, "subsection", whole)
        body += _summary(solution, p.summary, p.summary_title, precision, "subsection", whole)
        body += _notes(p.notes)
    own = [n for n in solution.notes if not any(n.startswith(p.id + ": ") for p in parts)]
    body += _notes(own)
    return body
