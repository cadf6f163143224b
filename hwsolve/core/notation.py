"""How names print: ASCII for keys (``W[1]``, ``yhat``), LaTeX for write-ups (``W^{[1]}``, ``\\hat{y}``).

The ASCII name is the stable interface (JSON keys, answer-file keys); the LaTeX form is derived
from it, so a course's notation needs to be written once.
"""

from __future__ import annotations

import re

from hwsolve.core.sym import Symbol

INDEX_STYLES = {
    "bracket": ("{b}[{i}]", "{b}^{{[{i}]}}"),     # W[1], as in CS 4782
    "paren": ("{b}^({i})", "{b}^{{({i})}}"),      # W^(1), as in CSCI-GA 2572
    "subscript": ("{b}_{i}", "{b}_{{{i}}}"),      # W_1
    "plain": ("{b}{i}", "{b}_{{{i}}}"),           # W1, as in CSCI 5922
}

GREEK = {"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa",
         "lambda", "mu", "nu", "xi", "pi", "rho", "sigma", "tau", "upsilon", "phi", "chi", "psi",
         "omega", "Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma", "Phi", "Psi", "Omega"}

NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\[[0-9A-Za-z]+\]|\^\([0-9A-Za-z]+\))?$")


def indexed(base: str, index, style: str) -> Symbol:
    text, latex = INDEX_STYLES[style]
    return Symbol(text.format(b=base, i=index), latex.format(b=latex_base(base), i=index))


def latex_base(base: str) -> str:
    """yhat -> \\hat{y}, sigma -> \\sigma, H1 -> H_{1}, b_2 -> b_{2}, W -> W."""
    m = re.fullmatch(r"([A-Za-z]+?)(hat|bar|tilde)", base)
    if m and len(m.group(1)) >= 1 and base not in GREEK:
        return rf"\{m.group(2)}{{{latex_base(m.group(1))}}}"
    if base in GREEK:
        return "\\" + base
    m = re.fullmatch(r"([A-Za-z]+)_?([0-9]+)", base)
    if m:
        return f"{latex_base(m.group(1))}_{{{m.group(2)}}}"
    m = re.fullmatch(r"([A-Za-z]+)_([A-Za-z0-9]+)", base)
    if m:
        return f"{latex_base(m.group(1))}_{{{m.group(2)}}}"
    if len(base) > 1 and base.isalpha():
        return rf"\mathrm{{{base}}}"
    return base.replace("_", r"\_")


def latex_name(name: str) -> str:
    """LaTeX for any ASCII name, indexed or not: W[1], W^(1), W_1, yhat, H4."""
    m = re.fullmatch(r"(.+)\[([^\]]+)\]", name)
    if m:
        return f"{latex_base(m.group(1))}^{{[{m.group(2)}]}}"
    m = re.fullmatch(r"(.+)\^\(([^)]+)\)", name)
    if m:
        return f"{latex_base(m.group(1))}^{{({m.group(2)})}}"
    return latex_base(name)


def symbol(name: str) -> Symbol:
    return Symbol(name, latex_name(name))


_TEXT_SPECIALS = {"#": r"\#", "$": r"\$", "%": r"\%", "&": r"\&", "_": r"\_", "{": r"\{", "}": r"\}",
                  "\\": r"\textbackslash{}", "^": r"\textasciicircum{}", "~": r"\textasciitilde{}",
                  "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}"}


def latex_text(s: str) -> str:
    r"""Free text (a part's name, a step key such as ``dr/dh via (h^3)``) for use inside math:
    ``\text{...}`` with every special character escaped for text mode, where text accents such
    as ``\^{}`` would be an error in math mode. Needs amsmath only."""
    out = []
    for ch in s:
        if ch in _TEXT_SPECIALS:
            out.append(_TEXT_SPECIALS[ch])
        elif ord(ch) < 128:
            out.append(ch)
        else:  # the sign's ASCII letters when it has any (é -> e), else a visible placeholder
            import unicodedata

            out.append(unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode() or "?")
    return r"\text{" + "".join(out) + "}"
