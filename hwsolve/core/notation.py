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
    m = re.fullmatch(r"(.+?)<([^<>]+)>", name)
    if m:  # h<2>: an RNN's time step (deeplearning.ai's a^<t>), apart from the layer index a[2]
        base = latex_name(m.group(1))
        base = "{" + base + "}" if "^" in base else base   # att[1]<2>: {att^{[1]}}^{<2>}, one superscript each
        return rf"{base}^{{\langle {m.group(2)} \rangle}}"
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


# -- a step's key as the course writes it (issue 13 item 8: never a raw key in a write-up) -------
#
# Steps carry a stable ASCII key (``p1.n_out``, ``dL/dX2 via (X1 + X2)``, ``Y[0,1]``); most also
# carry a label, but where an engine gives none the LaTeX and Markdown printers read the key with
# this small grammar instead of printing it as text. Each form below is a kind of key some engine
# makes; anything the grammar does not know still prints as math, never as a raw key.

# what a part's or a layer's quantity is called (conv, arch, vit, layer keys ``p1.n_out``)
QUANTITIES = {
    "formula": r"n_{\text{out}}", "n_out": r"n_{\text{out}}", "n_quot": r"n_{\text{quot}}",
    "n_rem": r"n_{\text{rem}}", "padded": r"n + 2p", "last_start": r"s_{\text{last}}",
    "volume": r"\text{volume}", "activations": r"\#\text{activations}", "weights": r"\#\text{weights}",
    "biases": r"\#\text{biases}", "params": r"\#\text{params}", "out": r"\text{out}",
    "I": "I", "K": "K", "head_dim": r"d_{\text{head}}", "attention": r"\#\text{params}_{\text{attention}}",
    "feedforward": r"\#\text{params}_{\text{FFN}}", "norms": r"\#\text{params}_{\text{norm}}",
    "per_side": r"n_{\text{side}}", "num_patches": r"N_{\text{patches}}", "patch_len": r"d_{\text{patch}}",
    "seq_len": r"N_{\text{seq}}",
}

_SUFFIX = re.compile(r"(.+) \(([a-z][a-z ]*?)( [0-9]+)?\)")
_PARTIAL = re.compile(r"d([A-Za-z][^/ ]*|\([^()]+\))/d([A-Za-z][^/ ]*|\([^()]+\))")
_DOTTED = re.compile(r"([A-Za-z][A-Za-z0-9]*)\.([A-Za-z][A-Za-z0-9_]*(?:\[[0-9,]+\])?)")
_ENTRY = re.compile(r"([A-Za-z][A-Za-z0-9_]*)((?:\[[0-9]+(?:,[0-9]+)+\])|(?:\[[0-9]+\]){2,})")
_CALL = re.compile(r"([A-Za-z][A-Za-z0-9_]*)\(([^()]*)\)")
_TOKEN = re.compile(r"\s*(?:([A-Za-z][A-Za-z0-9_]*(?:\[[0-9A-Za-z,]+\]|\^\([0-9A-Za-z]+\))?)|([0-9]+(?:\.[0-9]+)?)"
                    r"|(\*\*|[-+*/()=^,]))")
_SUPERSCRIPT_END = re.compile(r"\^\{[^{}]*\}$")
_POWER = re.compile(r"\s*(-?[0-9]+(?:\.[0-9]+)?|-?[A-Za-z][A-Za-z0-9]*)")
_SIGNS = {"*": r" \cdot ", "/": " / ", "+": " + ", "-": " - ", "=": " = ", "(": "(", ")": ")",
          "**": "^{}", "^": "^{}", ",": ", "}     # a caret with no exponent after it: empty, still valid


def step_label(name: str) -> Symbol:
    """The LaTeX label of a step key that has none: ``dL/dX2 via (X1 + X2)`` ->
    ``\\frac{\\partial L}{\\partial X_{2}}\\ \\text{via}\\ X_{1} + X_{2}``, ``p3.n_out`` ->
    ``n_{\\text{out}}^{(\\mathrm{p3})}``, ``Y[0,1]`` -> ``Y_{0,1}``."""
    if re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", name):
        return Symbol(name, name)     # a plain name (H4, L) is already how the course writes it
    return Symbol(name, key_latex(name))


def key_latex(name: str) -> str:
    m = _SUFFIX.fullmatch(name)
    if m:
        number = rf"\ {m.group(3).strip()}" if m.group(3) else ""
        return key_latex(m.group(1)) + rf"\ (\text{{{m.group(2)}}}{number})"
    if " via " in name:
        head, _, via = name.partition(" via ")
        return key_latex(head) + r"\ \text{via}\ " + expression_latex(via.strip())
    m = _PARTIAL.fullmatch(name)
    if m:
        top, bottom = (expression_latex(g[1:-1] if g.startswith("(") else g) for g in m.groups())
        return rf"\frac{{\partial {top}}}{{\partial {bottom}}}"
    m = _DOTTED.fullmatch(name)
    if m:
        part, what = m.group(1), m.group(2)
        return "{" + _quantity(what) + r"}^{(\mathrm{" + part + "})}"
    m = re.fullmatch(r"ratio:([0-9.]+)/([0-9.]+)", name)
    if m:   # gradflow: the ratio of two parts' gradients
        return rf"\mathrm{{ratio}}_{{{m.group(1)} / {m.group(2)}}}"
    return expression_latex(name)


def _quantity(what: str) -> str:
    m = re.fullmatch(r"([A-Za-z][A-Za-z0-9_]*)\[([0-9,]+)\]", what)
    if m:
        return _subscripted(_quantity(m.group(1)), m.group(2))
    if what in QUANTITIES:
        return QUANTITIES[what]
    m = re.fullmatch(r"([A-Za-z])_([A-Za-z]+)", what)
    if m:
        return rf"{m.group(1)}_{{\text{{{m.group(2)}}}}}"
    return latex_text(what.replace("_", " "))


def _subscripted(base: str, index: str) -> str:
    """base_{index}; a base with its own subscript braced first ({X_{pad}}_{0,1}), never a double one."""
    return ("{" + base + "}" if "_" in base or "^" in base else base) + "_{" + index + "}"


def expression_latex(text: str) -> str:
    """A key's expression (``(X[1] * W1[1])``, ``sqrt(d)``, ``time(q=0.95)``) as math: names in
    the course's notation, signs typeset; text it cannot read is \\text, never raw."""
    m = _ENTRY.fullmatch(text)
    if m:   # an entry: Y[0,1] or K[0][1] -> Y_{0,1}, K_{0,1}
        return _subscripted(latex_name(m.group(1)), m.group(2).replace("][", ",").strip("[]"))
    if text in QUANTITIES:
        return QUANTITIES[text]
    m = _CALL.fullmatch(text)
    if m and m.group(1) == "sqrt":
        return r"\sqrt{" + expression_latex(m.group(2)) + "}"
    if m and m.group(1) == "time":      # hparam: the search time at a quantile, time(q=0.95)
        return "T_{" + expression_latex(m.group(2)) + "}"
    out: list[str] = []
    pos = 0
    while pos < len(text):
        t = _TOKEN.match(text, pos)
        if t is None or t.end() == pos:
            return "".join(out) + latex_text(text[pos:])
        name, number, sign = t.groups()
        power = _POWER.match(text, t.end()) if sign in ("^", "**") else None
        if power:    # h^12, x^-2: the exponent braced, never h^1 2; a second one after an empty group
            out.append(("{}" if out and _SUPERSCRIPT_END.search(out[-1]) else "") + "^{" + power.group(1) + "}")
            pos = power.end()
            continue
        if name or number:
            if out and re.search(r"[A-Za-z0-9}]$", out[-1]):
                out.append(" ")       # two names side by side: a product, \eta y, never \etay
            out.append(_name_in_key(name) if name else number)
        else:
            again = sign in ("^", "**") and out and _SUPERSCRIPT_END.search(out[-1])
            out.append(("{}" if again else "") + _SIGNS[sign])
        pos = t.end()
    return "".join(out).strip()


def _name_in_key(name: str) -> str:
    if re.fullmatch(r"[A-Za-z]+(_[A-Za-z0-9]+){2,}", name):     # W_hh_norm: W_{hh,norm}
        base, *subs = name.split("_")
        return latex_base(base) + r"_{\text{" + ",".join(subs) + "}}"
    if name in QUANTITIES and len(name) > 1:
        return QUANTITIES[name]
    if name in ("sqrt", "log", "exp", "tanh", "max", "min"):
        return "\\" + name if name != "sqrt" else r"\operatorname{sqrt}"
    if name in ("time", "out"):
        return rf"\mathrm{{{name}}}"
    return latex_name(name)
