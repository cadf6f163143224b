"""A note's math typeset as math: "(y - yhat)^2, W^(2)_ij" -> $(y - \\hat{y})^{2}$, $W^{(2)}_{ij}$.

Notes are written for the terminal in ASCII math. Each word is read with a small tokenizer
(names, indices, ``_`` and ``^`` scripts, ``dL/dW[3]`` partials, signs, brackets); a word whose
names are all math names (one letter, a letter with digits, an indexed name, ``yhat``, a Greek
letter, a known function) is math, any other word is text. Runs of math words (with the signs
between them) become one $...$ when they hold something plainly math (a script, a sign between
two operands, an index, a known function); a lone ``a`` stays a word. A spec key such as
``conventions.relu_prime_at_zero`` is code (``\\texttt``). Only balanced braces are added and a
run's brackets must balance, so a note can never break the document; the rest is escaped text.
"""

from __future__ import annotations

import re

from hwsolve.core.notation import GREEK, latex_name

_SAFE = re.compile(r"^[A-Za-z0-9_^'()+\-*/=.,⊙⊘δ\[\]|<>{}]+$")
_JOINERS = {"-", "+", "=", "*", "/", "⊙", "⊘", "->", "<", ">", "<=", ">="}
_WORDS = {"yhat": r"\hat{y}", "sum": r"\sum", "log": r"\log", "exp": r"\exp", "diag": r"\operatorname{diag}",
          "sigmoid": r"\sigma", "sigma": r"\sigma", "tanh": r"\tanh", "cosh": r"\cosh", "eta": r"\eta",
          "ReLU": r"\operatorname{ReLU}", "softmax": r"\operatorname{softmax}", "max": r"\max", "min": r"\min",
          "floor": r"\operatorname{floor}", "id": r"\operatorname{id}", "sqrt": r"\operatorname{sqrt}", "mod": r"\bmod"}
_FUNCTIONS = set(_WORDS) - {"yhat", "sigma", "eta"}   # named alone in prose they are words
_HATS = {"ohat", "xhat", "zhat", "phat", "uhat", "vhat"}
_NAME = r"[A-Za-z][A-Za-z0-9]*(?:\[[0-9A-Za-z,+\-]+\]|<[0-9A-Za-z+\-]+>)?"   # W[2]; h<t>: an RNN's step t
_SCRIPT = r"(?:\{[A-Za-z0-9+\-,]+\}|\([^()]*\)|[A-Za-z0-9]+)"
_TOKEN = re.compile(
    rf"(?P<partial>d(?P<num>{_NAME}(?:_{_SCRIPT})?)/d(?P<den>{_NAME}(?:_{_SCRIPT})?))"
    rf"|(?P<name>{_NAME})"
    r"|(?P<number>[0-9]+(?:\.[0-9]+)?)"
    rf"|(?P<sub>_{_SCRIPT})"
    r"|(?P<sup>\^(?:\{[A-Za-z0-9+\-,]+\}|\([^()]*\)|-?[A-Za-z0-9]+))"
    r"|(?P<sign>->|<=|>=|[-+*/=⊙⊘()\[\]',.<>|δ])")
_SIGNS = {"->": r"\to ", "*": r"\cdot ", "⊙": r"\odot ", "⊘": r"\oslash ", "δ": r"\delta ", "<=": r"\le ",
          ">=": r"\ge "}
_CODE = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]+)+")


def _math_name(name: str) -> str | None:
    """The name's LaTeX if it is a math name, else None (an English word)."""
    if "[" in name or "<" in name:
        return latex_name(name)
    if name in _WORDS:
        return _WORDS[name]
    if name in GREEK:
        return "\\" + name
    if re.fullmatch(r"[A-Za-z][0-9]*", name):
        return latex_name(name)
    if re.fullmatch(r"[0-9]*[A-Za-z]", name):     # 2p, 2s: a coefficient and a letter
        return name
    if name in _HATS:                              # ohat, xhat; never "what" or "that"
        return rf"\hat{{{name[0]}}}"
    return None


def _differential(name: str, word: str, end: int) -> str | None:
    """dyhat in d(yhat_i - y_i)/dyhat_i, dS in dS_ij: a d before a math name, only where the word
    is plainly a derivative (a slash in it, or a subscript after the name), never an English 'do'."""
    if len(name) < 2 or name[0] != "d" or not ("/" in word or word[end:end + 1] == "_"):
        return None
    rest = _math_name(name[1:])
    return None if rest is None else r"\mathrm{d}" + rest


def _partial_name(name: str) -> str:
    """z_1, z_{2j-1}, W[3], out in dz_1/dx, dL/dout."""
    base, _, sub = name.partition("_")
    tex = _math_name(base) or rf"\mathrm{{{base}}}"
    return tex + ("_{" + _script(sub) + "}" if sub else "")


def _tokens(word: str) -> list[tuple[str, str]] | None:
    """(kind, text) pairs of a word, or None when the word is not math (an English word, a symbol)."""
    if re.fullmatch(r"[0-9]+(x[0-9]+)+", word):    # 3x3: a size, written as the sheets do
        return None
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(word):
        m = _TOKEN.match(word, pos)
        if m is None:
            return None
        kind = m.lastgroup if m.lastgroup not in ("num", "den") else "partial"
        if kind == "name" and _math_name(m.group()) is None:
            if _differential(m.group(), word, m.end()) is None:
                return None
            kind = "differential"
        out.append((kind or "", m.group()))
        pos = m.end()
    return out


def _script(body: str) -> str:
    body = body[1:-1] if body.startswith("{") else body
    body = body[1:-1] if body.startswith("(") and body.endswith(")") and body.count("(") == 1 else body
    if re.fullmatch(r"[A-Za-z]{3,}", body):
        return rf"\text{{{body}}}"
    return body


def _word_tex(word: str) -> str:
    """LaTeX of a math word (its tokens); scripts merged, never a double sub- or superscript."""
    tokens = _tokens(word) or []
    out: list[str] = []
    last = ""          # "sub" or "sup" when the previous piece was a script (to merge the next one)
    for kind, text in tokens:
        if kind == "partial":
            m = _TOKEN.match(text)
            assert m is not None
            num, den = (_partial_name(m.group(g)) for g in ("num", "den"))
            out.append(rf"\partial {num} / \partial {den}")
        elif kind == "name":
            out.append(_math_name(text) or text)
        elif kind == "differential":
            out.append(r"\mathrm{d}" + (_math_name(text[1:]) or ""))
        elif kind in ("sub", "sup"):
            body = text[1:]
            tex = r"\top" if kind == "sup" and body == "T" else (
                "(" + _script(body) + ")" if body.startswith("(") and kind == "sup" else _script(body))
            mark = "_" if kind == "sub" else "^"
            if last == kind:   # W_2_ij -> W_{2,ij}; x^{a}^T -> x^{a\top}
                out[-1] = out[-1][:-1] + ("," if kind == "sub" else " ") + tex + "}"
            else:
                if kind == "sup" and out and "^" in out[-1] and last != "sub":
                    out[-1] = "{" + out[-1] + "}"     # {z^{[2]}}^\top, not z^{[2]}^\top
                out.append(mark + "{" + tex + "}")
            last = kind
            continue
        elif kind == "sign" and text == "'" and last == "sup":
            out[-1] = out[-1][:-1] + r"\prime}"     # g^l' is g^{l\prime}
            continue
        elif kind == "sign" and text == "'" and out and "^" in out[-1]:
            out[-1] = "{" + out[-1] + "}'"          # a prime is a superscript: {a^{[t]}}', never a^{[t]}'
        else:
            out.append(_SIGNS.get(text, text))
        # a piece ending in a subscript (z_{2} of dz_2/..., z_{1} of z1) takes the next one into it
        last = "sub" if kind != "sign" and re.search(r"_\{[^{}]*\}$", out[-1]) else ""
    return "".join(out)


def _strong(word: str, heading: bool = False) -> bool:
    """Plainly math on its own: a script, an index, a partial, a known function or Greek name, a sign."""
    if word in _JOINERS:
        return False
    tokens = _tokens(word) or []
    for kind, text in tokens:
        if kind in ("sub", "sup", "partial", "differential") or (kind == "sign" and text in "=⊙⊘δ'/"):
            return True
        # a function's name alone ("identity -> sigmoid") is a word; applied (tanh(s)) it is math
        if heading and re.fullmatch(r"[A-Za-z][0-9]+", text):
            continue      # Q1, P4 in a title are the sheet's question numbers, not names
        if kind == "name" and not re.fullmatch(r"[A-Za-z]|[0-9]+[A-Za-z]", text) \
                and (text not in _FUNCTIONS or len(tokens) > 1):
            return True
    return False


def _is_math(core: str) -> bool:
    return bool(core) and bool(_SAFE.match(core)) and (core in _JOINERS or _tokens(core) is not None)


def _split_punct(word: str) -> tuple[str, str]:
    core = word.rstrip(",;:.?!")
    return core, word[len(core):]


def _balance(run: list[str]) -> tuple[str, list[str], str]:
    """Move an unmatched '(' at the run's start or ')' at its end out to the text around it."""
    before = after = ""
    while run:
        text = " ".join(run)
        opened, closed = text.count("("), text.count(")")
        if opened > closed and run[0].startswith("(") and len(run[0]) > 1:
            before, run[0] = before + "(", run[0][1:]
        elif closed > opened and run[-1].endswith(")") and len(run[-1]) > 1:
            after, run[-1] = ")" + after, run[-1][:-1]
        else:
            break
    return before, run, after


def _emit(run: list[str], escape, heading: bool = False) -> list[str]:
    """A run as one $...$ when it is plainly math and its brackets balance; otherwise the words as text."""
    trailing: list[str] = []
    while run and run[-1] in _JOINERS:        # a sign at the end of a run belongs to the text
        trailing.insert(0, escape(run.pop()))
    if not run:
        return trailing
    operands = sum(1 for w in run if w not in _JOINERS)
    if not (any(_strong(w, heading) for w in run) or (operands > 1 and len(run) > operands)):
        return [escape(w) for w in run] + trailing
    before, run, after = _balance(list(run))
    for k in range(len(run), 0, -1):          # the longest prefix whose brackets balance is math
        text = " ".join(run[:k])
        if text.count("(") == text.count(")") and text.count("[") == text.count("]") and run[k - 1] not in _JOINERS:
            math = "$" + " ".join(_word_tex(w) for w in run[:k]) + "$"
            rest = _emit(run[k:], escape, heading) if run[k:] else []   # the rest: math again where it can be
            if rest:
                rest[-1] += escape(after)
            else:
                math += escape(after)
            return [escape(before) + math] + rest + trailing
    return [escape(before + " ".join(run) + after)] + trailing


def _is_code(core: str) -> bool:
    """A spec key or a library's name (conventions.relu_prime_at_zero, in_proj): set as code."""
    if _CODE.fullmatch(core) and ("_" in core or core.count(".") > 1):
        return True
    m = re.fullmatch(r"([a-z]{2,})(_[a-z0-9]+)+", core)
    return m is not None and _math_name(m.group(1)) is None and m.group(1) not in ("sum", "log", "exp")


def note_latex(note: str, escape, code=None, heading: bool = False) -> str:
    """The note with its math in $...$; `escape` escapes the text parts (core.texescape.escape_text),
    `code` sets a spec key (LaTeX: \\texttt; Markdown: backticks); in a `heading` a name such as Q1
    alone stays text (a question number)."""
    code = code or (lambda s: r"\texttt{" + escape(s) + "}")
    out: list[str] = []
    run: list[str] = []
    for word in note.split(" "):
        core, punct = _split_punct(word)
        key = re.fullmatch(r"(\(*)([a-z][a-z0-9_.]*)(.*)", core)
        if key and not _is_math(core) and _is_code(key.group(2)):   # (in_proj, out_proj), cross_entropy(p, y)
            out.extend(_emit(run, escape, heading))
            run = []
            out.append(escape(key.group(1)) + code(key.group(2)) + escape(key.group(3) + punct))
            continue
        if _is_math(core):
            run.append(core)
            if punct:
                out.extend(_emit(run, escape, heading))
                run = []
                if out:
                    out[-1] += escape(punct)
                else:
                    out.append(escape(punct))
            continue
        out.extend(_emit(run, escape, heading))
        run = []
        out.append(escape(word))
    out.extend(_emit(run, escape, heading))
    return " ".join(out)
