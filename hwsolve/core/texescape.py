"""Plain text made safe inside a LaTeX document: specials escaped, the few non-ASCII signs the
engines print (×, →, ⊙, Greek letters, ...) written as LaTeX. Here in core, not in render, because
engines name LaTeX symbols too (a hyper-parameter's name in a subscript)."""

from __future__ import annotations

import unicodedata

_UNICODE = {
    "×": r"$\times$", "→": r"$\to$", "←": r"$\leftarrow$", "⊙": r"$\odot$", "⊘": r"$\oslash$",
    "∈": r"$\in$", "≈": r"$\approx$", "≤": r"$\le$", "≥": r"$\ge$", "≠": r"$\ne$", "·": r"$\cdot$",
    "−": "-", "–": "--", "—": "---", "‘": "`", "’": "'", "“": "``", "”": "''", "…": r"\dots{}",
    "√": r"$\surd$", "∑": r"$\Sigma$", "∂": r"$\partial$", "∞": r"$\infty$", "±": r"$\pm$",
    "α": r"$\alpha$", "β": r"$\beta$", "λ": r"$\lambda$", "σ": r"$\sigma$", "η": r"$\eta$",
    "μ": r"$\mu$", "δ": r"$\delta$", "θ": r"$\theta$", "ε": r"$\varepsilon$", "°": r"$^\circ$",
    "²": r"$^2$", "³": r"$^3$", "½": r"$\frac12$",
}


def escape_text(s: str) -> str:
    out = []
    for ch in str(s):
        if ch in "#$%&_{}":
            out.append("\\" + ch)
        elif ch == "\\":
            out.append(r"\textbackslash{}")
        elif ch == "^":
            out.append(r"\^{}")
        elif ch == "~":
            out.append(r"\~{}")
        elif ch in "<>|":
            out.append({"<": r"$<$", ">": r"$>$", "|": r"$|$"}[ch])
        elif ord(ch) < 128:
            out.append(ch)
        elif ch in _UNICODE:
            out.append(_UNICODE[ch])
        else:
            plain = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode()
            out.append(escape_text(plain) if plain else "?")
    return "".join(out)
