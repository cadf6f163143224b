"""A note's math typeset as math in LaTeX: "sum_k y_k = 1 (y is one-hot)" -> $\\sum_{k} y_{k} = 1$ (y is one-hot).

Notes are written for the terminal in ASCII math. Here each word that is plainly math (it has a
subscript, a superscript, an operator sign or a Greek letter, or it is one letter) is set in
math mode, and runs of such words (with the signs between them) become one $...$. Words are
whitelisted character by character, and only balanced braces are added, so a note can never
break the document; anything else stays text and is escaped as before.
"""

from __future__ import annotations

import re

_SAFE = re.compile(r"^[A-Za-z0-9_^'()+\-*/=.⊙⊘δ]+$")
_MATHY = re.compile(r"[_^=/⊙⊘δ]")   # a subscript, a superscript, a sign or a Greek letter
_JOINERS = {"-", "+", "=", "*", "/", "⊙", "⊘", "->"}
_WORDS = {"yhat": r"\hat{y}", "sum": r"\sum", "log": r"\log", "exp": r"\exp", "diag": r"\operatorname{diag}",
          "sigmoid": r"\sigma", "sigma": r"\sigma", "tanh": r"\tanh", "cosh": r"\cosh", "eta": r"\eta"}


def _word_tex(w: str) -> str:
    w = w.replace("->", r"\to ")
    w = re.sub(r"[A-Za-z]+", lambda m: _WORDS.get(m.group(), m.group()), w)
    w = re.sub(r"\^T\b", r"^\\top", w)
    w = re.sub(r"\^\(([A-Za-z0-9+\-]*)\)", r"^{(\1)}", w)
    w = re.sub(r"\^(-?[A-Za-z0-9]+)", r"^{\1}", w)
    w = re.sub(r"_([A-Za-z0-9]+)", r"_{\1}", w)
    # never a double subscript or superscript (LaTeX rejects them): W_2_ij -> W_{2,ij}, x^{a}^\top -> x^{a\top}
    w = re.sub(r"_\{([^{}]*)\}_\{([^{}]*)\}", r"_{\1,\2}", w)
    w = re.sub(r"\^\{([^{}]*)\}\^\\top", r"^{\1\\top}", w)
    w = re.sub(r"\^\{([^{}]*)\}\^\{([^{}]*)\}", r"^{\1\2}", w)
    w = re.sub(r"\^\{([^{}]*)\}'", r"^{\1\\prime}", w)      # g^{l}' is g^{l\prime}
    return w.replace("⊙", r"\odot ").replace("⊘", r"\oslash ").replace("δ", r"\delta ").replace("*", r"\cdot ")


def _split_punct(word: str) -> tuple[str, str]:
    core = word.rstrip(",;:.")
    return core, word[len(core):]


def _is_math(core: str, run: list[str]) -> bool:
    if not core or not _SAFE.match(core):
        return False
    if _MATHY.search(core.strip("()")) or core in _JOINERS:
        return bool(_MATHY.search(core.strip("()"))) or bool(run)
    return bool(run) and run[-1] in _JOINERS      # a number or a name after a sign: 1 in "y_k = 1"


def _emit(run: list[str], escape) -> list[str]:
    """A run as one $...$ when its brackets balance; otherwise the words as text."""
    trailing: list[str] = []
    while run and run[-1] in _JOINERS:        # a sign at the end of a run belongs to the text
        trailing.insert(0, escape(run.pop()))
    if not run:
        return trailing
    for k in range(len(run), 0, -1):          # the longest prefix whose brackets balance is math
        text = " ".join(run[:k])
        if text.count("(") == text.count(")") and run[k - 1] not in _JOINERS:
            return ["$" + " ".join(_word_tex(w) for w in run[:k]) + "$"] + [escape(w) for w in run[k:]] + trailing
    return [escape(w) for w in run] + trailing


def note_latex(note: str, escape) -> str:
    """The note with its math in $...$; `escape` escapes the text parts (render.latex._escape)."""
    out: list[str] = []
    run: list[str] = []
    for word in note.split(" "):
        core, punct = _split_punct(word)
        if _is_math(core, run):
            run.append(core)
            if punct:
                out.extend(_emit(run, escape))
                run = []
                out[-1] += escape(punct)
            continue
        out.extend(_emit(run, escape))
        run = []
        out.append(escape(word))
    out.extend(_emit(run, escape))
    return " ".join(out)
