"""Gradient flow through a stack of layers, plain or with residual (skip) blocks.

Plain stack of n layers, x -> z[1] -> ... -> z[n] -> L:

    dL/dx = dL/dz[n] * dz[n]/dz[n-1] * ... * dz[2]/dz[1] * dz[1]/dx

Residual stack: blocks of m layers; block j maps y[j-1] to y[j] = z[jm] + y[j-1] (y[0] = x), so

    dy[j]/dy[j-1] = 1 + dz[jm]/dz[jm-1] * ... * dz[(j-1)m+1]/dy[j-1]
    dL/dx = dL/dy[B] * dy[B]/dy[B-1] * ... * dy[1]/dx           (B = n/m blocks)

The "1 +" is the skip path. Every number is kept exact (0.5 is 1/2), so long products stay exact.

`spec.load(path)` reads a spec (docs/hparam-gradflow.md); `solve(problem)` returns a `Solution`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction

from hwsolve.core.notation import latex_text
from hwsolve.core.numfmt import fmt_number, to_float
from hwsolve.core.records import Figure, Series, Solution, Step
from hwsolve.core.sym import DOTS, Const, Expr, Symbol
from hwsolve.topics.gradflow.spec import GradflowProblem, Part

WRITE_OUT = 8          # factors written out one by one up to this many, then a power / "..."


# ---------------------------------------------------------------------------------------------
# symbols


def _z(i: int) -> tuple[str, str]:
    return f"z[{i}]", f"z_{{{i}}}"


def _y(j: int) -> tuple[str, str]:
    return ("x", "x") if j == 0 else (f"y[{j}]", f"y_{{{j}}}")


def _d(num: tuple[str, str], den: tuple[str, str]) -> Symbol:
    return Symbol(f"d{num[0]}/d{den[0]}", rf"\frac{{\partial {num[1]}}}{{\partial {den[1]}}}")


_L = ("L", "L")
_X = ("x", "x")


def _prod(factors: list[Expr]) -> Expr:
    out = factors[0]
    for f in factors[1:]:
        out = out * f
    return out


def _num(x: Fraction):
    return x.numerator if x.denominator == 1 else x


def _locals(part: Part, n: int) -> list[Fraction]:
    """Local derivatives of layers 1..n, input first."""
    return list(part.local) if isinstance(part.local, list) else [part.local] * n


def _chain(count: int, part_at: Callable[[int], Expr], const_at: Callable[[int], Fraction],
           uniform: bool) -> tuple[Expr, Expr]:
    """(symbolic product, substituted product) of `count` factors, the k-th `part_at(k)` with the
    number `const_at(k)`, shortened when long: only the factors written are made, so a part of
    depths 1 to 10,000 costs what it prints, not the square of its depth. `uniform`: every factor
    after the first has the same number (written as a power)."""
    if count <= WRITE_OUT + 1:
        return _prod([part_at(k) for k in range(count)]), _prod([Const(_num(const_at(k))) for k in range(count)])
    sym = _prod([part_at(0), part_at(1), DOTS, part_at(count - 1)])
    if uniform:
        sub = Const(_num(const_at(0))) * Const(_num(const_at(1))) ** Const(count - 1)
    else:
        sub = _prod([Const(_num(const_at(0))), Const(_num(const_at(1))), DOTS, Const(_num(const_at(count - 1)))])
    return sym, sub


def _power_product(values: list[Fraction]) -> Fraction:
    """The product of the values, as a power when they are all one number (a uniform stack)."""
    if values and values.count(values[0]) == len(values):
        return values[0] ** len(values)
    return math.prod(values, start=Fraction(1))


# ---------------------------------------------------------------------------------------------
# solve


def solve(prob: GradflowProblem) -> Solution:
    sol = Solution(title=prob.title, kind="gradflow")
    results: dict[str, dict[int, Fraction]] = {}
    for part in prob.parts:
        key = f"part:{part.name}"
        kind = "plain stack" if part.structure == "plain" else f"residual blocks of {part.block}"
        sol.sections[key] = f"Part {part.name}: {kind}"
        results[part.name] = (_plain if part.structure == "plain" else _residual)(sol, part, key)
    if prob.compare:
        sol.sections["compare"] = "Comparison"
        for a, b in prob.compare:
            _compare(sol, prob, results, a, b)
    sol.notes.extend(prob.notes)
    sol.figure = figure(prob, results)
    return sol


def _name(part: Part, what: str, n: int | None = None) -> str:
    suffix = f"(n={n})" if n is not None and len(part.depths) > 1 else ""
    return f"{part.name}:{what}{suffix}"


def _label(n: int | None, part: Part) -> Symbol:
    if n is None or len(part.depths) == 1:
        return Symbol("dL/dx", r"\frac{\partial L}{\partial x}")
    return Symbol(f"dL/dx(n={n})", rf"\left.\frac{{\partial L}}{{\partial x}}\right|_{{n={n}}}")


def _plain(sol: Solution, part: Part, section: str) -> dict[int, Fraction]:
    out = {}
    single = len(part.depths) == 1
    sol.notes.append(f"Part {part.name}: " + (part.interpretation or (
        "the spec's numbers are read as: upstream = dL/dz_n (n = the last layer), local = "
        "dz_1/dx for the first layer and dz_i/dz_{i-1} for 1 < i <= n; by the chain rule dL/dx "
        "is their product: n local factors and the upstream one")))
    uniform = not isinstance(part.local, list)   # one number for every layer (several depths)
    for n in part.depths:
        loc = part.local if uniform else _locals(part, n)
        # factor 0 is dL/dz_n, factor k is dz_{n-k+1}/dz_{n-k} (z_0 = x), each with its number
        f, s = _chain(n + 1, lambda k, n=n: _d(_L, _z(n)) if k == 0 else _d(_z(n - k + 1), _z(n - k) if k < n else _X),
                      lambda k, n=n, loc=loc: part.upstream if k == 0 else loc if uniform else loc[n - k],
                      uniform or len(set(loc)) == 1)
        value = part.upstream * (loc ** n if uniform else _power_product(loc))
        out[n] = value
        sol.add(Step(_name(part, "dL/dx", None if single else n), section, formula=f,
                     substituted=s, value=_num(value), label=_label(n, part),
                     note=f"{n} layer{'s' if n > 1 else ''}: {n} local factor{'s' if n > 1 else ''}"
                          f" and dL/dz_{n}"))
    return out


def _residual(sol: Solution, part: Part, section: str) -> dict[int, Fraction]:
    m = part.block
    first_z = "z_{j}" if m == 1 else f"z_{{{m}j-{m - 1}}}"
    last_z = "z_j" if m == 1 else f"z_{{{m}j}}"
    sol.notes.append(f"Part {part.name}: " + (part.interpretation or (
        f"the spec's numbers are read as: upstream = dL/dy_B, the output of the last of B = n/{m} "
        f"blocks; block j computes {first_z} .. {last_z} from its input y_{{j-1}} "
        f"(y_0 = x) and outputs y_j = {last_z} + y_{{j-1}}; local = the derivative of each "
        f"layer's output with respect to its own input (y_{{j-1}} for a block's first layer, the "
        f"previous z otherwise)")))
    uniform = not isinstance(part.local, list)
    max_blocks = max(part.depths) // m
    loc_all = _locals(part, max(part.depths))
    factors: list[tuple[Expr, Expr, Fraction]] = []   # per block: (formula, substituted, value)
    for j in range(1, max_blocks + 1):
        first = (j - 1) * m + 1
        chain = [_d(_z(i), _z(i - 1)) for i in range(j * m, first, -1)] + [_d(_z(first), _y(j - 1))]
        vals = loc_all[first - 1:j * m][::-1]
        inner_f, inner_s = _chain(m, chain.__getitem__, vals.__getitem__, len(set(vals[1:])) == 1)
        value = 1 + _power_product(vals)
        factors.append((Const(1) + inner_f, Const(1) + inner_s, value))
        if uniform and j > 1:
            continue
        note = ("the skip path contributes dy_{j-1}/dy_{j-1} = 1, the layers their product"
                + ("; the same for every block (every local derivative is equal)" if uniform
                   and max_blocks > 1 else ""))
        sol.add(Step(f"{part.name}:d{_y(j)[0]}/d{_y(j - 1)[0]}", section, formula=Const(1) + inner_f,
                     substituted=Const(1) + inner_s, value=_num(value),
                     label=_d(_y(j), _y(j - 1)), note=note))
    out = {}
    single = len(part.depths) == 1
    for n in part.depths:
        b = n // m
        alike = uniform or len({f[2] for f in factors[:b]}) == 1   # a list of locals: one depth only
        # factor 0 is dL/dy_b, factor k is dy_{b-k+1}/dy_{b-k}, the number of block b - k + 1
        formula, substituted = _chain(b + 1, lambda k, b=b: _d(_L, _y(b)) if k == 0 else _d(_y(b - k + 1), _y(b - k)),
                                      lambda k, b=b: part.upstream if k == 0 else factors[b - k][2], alike)
        expression = None
        if b <= 4:
            expression = _prod([_d(_L, _y(b))] + [factors[j - 1][0] for j in range(b, 0, -1)])
            substituted = _prod([Const(_num(part.upstream))] + [factors[j - 1][1] for j in range(b, 0, -1)])
        elif alike:
            substituted = Const(_num(part.upstream)) * Const(_num(factors[0][2])) ** Const(b)
        value = part.upstream * (factors[0][2] ** b if uniform else _power_product([f[2] for f in factors[:b]]))
        out[n] = value
        sol.add(Step(_name(part, "dL/dx", None if single else n), section, formula=formula,
                     expression=expression, substituted=substituted, value=_num(value),
                     label=_label(n, part),
                     note=f"{n} layers = {b} block{'s' if b > 1 else ''} of {m}"))
    return out


def _compare(sol, prob, results, a: str, b: str) -> None:
    ra, rb = results[a], results[b]
    common = sorted(set(ra) & set(rb))
    pairs = [(n, n) for n in common] or [(max(ra), max(rb))]
    for na, nb in pairs:
        va, vb = ra[na], rb[nb]
        if vb == 0:
            continue
        suffix = f"(n={na})" if len(ra) > 1 else ""
        # part names are free text: escaped for math mode ("5.2" as well as "p^2 & co")
        sa = Symbol(f"{a}:dL/dx{suffix}", rf"\left.\frac{{\partial L}}{{\partial x}}\right|_{{{latex_text(a)}}}")
        sb = Symbol(f"{b}:dL/dx{suffix}", rf"\left.\frac{{\partial L}}{{\partial x}}\right|_{{{latex_text(b)}}}")
        ratio = va / vb
        sol.add(Step(f"ratio:{a}/{b}{suffix}", "compare", formula=sa / sb,
                     substituted=Const(_num(va)) / Const(_num(vb)), value=_num(ratio),
                     note=f"part {a}'s gradient is {fmt_number(_num(ratio))} times part {b}'s"))


def figure(prob: GradflowProblem, results: dict[str, dict[int, Fraction]]) -> Figure:
    """Plot data: dL/dx against the number of layers, one series per part (plain floats)."""
    names = prob.plot if prob.plot is not None else [
        p.name for p in prob.parts if len(p.depths) > 1] or [p.name for p in prob.parts]
    by_name = {p.name: p for p in prob.parts}
    series = []
    for n in names:
        p = by_name[n]
        r = results[n]
        label = f"{n} plain" if p.structure == "plain" else f"{n} residual (blocks of {p.block})"
        series.append(Series(f"{n}:{p.structure}", label, sorted(r), [to_float(r[d]) for d in sorted(r)]))
    return Figure("Gradient at the input dL/dx against depth", xlabel="number of layers n", ylabel="dL/dx",
                  series=series)
