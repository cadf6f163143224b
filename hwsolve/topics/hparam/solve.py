"""Cost of a hyper-parameter search: a grid's size, epochs and time; how many random trials.

Grid search: the number of configurations is the product of each hyper-parameter's count; total
epochs and total time follow, with the time converted to hours and days, and, with K workers, the
wall time ceil(configs / K) runs one after another.

Random search: if a fraction p of the space is good and trials are drawn independently, N trials
find a good one with probability 1 - (1-p)^N. The least N reaching a target q is
ceil(ln(1-q) / ln(1-p)); the ceiling is decided exactly (rational powers, or correctly rounded
logarithms when N is large), never by a floating logarithm that may land on the wrong side of an
integer.

`spec.load(path)` reads a spec (docs/hparam-gradflow.md), `spec.from_flags(...)` the command line;
`solve(problem)` returns a `Solution`.
"""

from __future__ import annotations

import math
from decimal import Decimal, localcontext
from fractions import Fraction

from hwsolve.core.errors import SpecError
from hwsolve.core.numfmt import fmt_number
from hwsolve.core.records import Figure, Mark, Series, Solution, Step
from hwsolve.core.sym import Const, Expr, Symbol, call, ceil
from hwsolve.topics.hparam.spec import MIN_P, HparamProblem

UNITS = {"seconds": Fraction(1, 60), "minutes": Fraction(1), "hours": Fraction(60)}
MAX_TABLE = 60          # rows in the success-probability table
EXACT_BITS = 4_000_000  # above this size of (1-p)^N, compare with correctly rounded logarithms


# ---------------------------------------------------------------------------------------------
# the least number of trials


def success(p: Fraction, n: int) -> Fraction:
    """P(at least one good configuration in n independent trials) = 1 - (1-p)^n, exactly."""
    return 1 - (1 - Fraction(p)) ** n


def _miss_success(p: Fraction, n: int) -> tuple[float, float]:
    """((1-p)^n, 1 - (1-p)^n) as floats, from the exact value when it is small enough, else
    from 50-digit logarithms (an exact (1-p)^n for n in the millions would be gigantic)."""
    r = 1 - Fraction(p)
    if n * (r.numerator.bit_length() + r.denominator.bit_length()) <= 20_000:
        miss = r ** n
        return _float(miss), _float(1 - miss)
    with localcontext() as ctx:
        ctx.prec = 50 + len(str(r.denominator))
        miss = (n * (Decimal(r.numerator).ln() - Decimal(r.denominator).ln())).exp()
        return float(miss), float(1 - miss)


def _reaches(r: Fraction, s: Fraction, n: int) -> bool:
    """True when r^n <= s, i.e. n trials reach the target (r = 1-p, s = 1-q, both in (0, 1))."""
    if n <= 0:
        return s >= 1
    bits = n * (r.numerator.bit_length() + r.denominator.bit_length())
    if bits <= EXACT_BITS or n <= s.denominator.bit_length():
        return r ** n <= s
    # r^n = s would need s's denominator to have >= n bits, so no tie is possible here: compare
    # n ln r with ln s, correctly rounded, with precision raised until the sign is certain.
    digits = 50 + len(str(n))
    while True:
        with localcontext() as ctx:
            ctx.prec = digits
            lhs = n * (Decimal(r.numerator).ln() - Decimal(r.denominator).ln())
            rhs = Decimal(s.numerator).ln() - Decimal(s.denominator).ln()
            diff = lhs - rhs
            scale = max(abs(lhs), abs(rhs), Decimal(1))
            if abs(diff) > scale * Decimal(10) ** (10 - digits):
                return diff < 0
        digits *= 2
        if digits > 100_000:  # pragma: no cover - would need an astronomically close tie
            return r ** n <= s


def least_trials(p, q) -> int:
    """The least N with 1 - (1-p)^N >= q, decided exactly."""
    p, q = Fraction(p), Fraction(q)
    if not (0 < p < 1 and 0 < q < 1):
        raise SpecError("p and q must be strictly between 0 and 1")
    if p < MIN_P:  # ln(1-p) would round to 0; N would be beyond 10^13 trials
        raise SpecError(f"p = {float(p):.3g} is below {float(MIN_P):g}, the smallest p random search takes")
    r, s = 1 - p, 1 - q
    est = math.log(float(s)) / math.log1p(-float(p)) if float(s) > 0 else math.inf
    if not math.isfinite(est):  # q within float rounding of 1: logs of the parts
        est = _log(s) / _log(r)
    n = max(1, math.ceil(est)) if math.isfinite(est) else 1
    # bracket: lo fails (0 always does, since q > 0), hi reaches; the estimate is almost always
    # right or off by one, so each side is probed first and galloped only if needed
    if _reaches(r, s, n):
        hi, lo, step = n, n - 1, 1
        while lo > 0 and _reaches(r, s, lo):
            hi, lo, step = lo, max(0, lo - 2 * step), 2 * step
    else:
        lo, hi, step = n, n + 1, 1
        while not _reaches(r, s, hi):
            lo, hi, step = hi, hi + 2 * step, 2 * step
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _reaches(r, s, mid):
            hi = mid
        else:
            lo = mid
    return hi


def _log(x: Fraction) -> float:
    return math.log(x.numerator) - math.log(x.denominator)


def _float(x: Fraction) -> float:
    """A probability as a float: correctly rounded, and fast even when x is a huge rational."""
    try:
        return float(x)
    except OverflowError:  # pragma: no cover
        return x.numerator / x.denominator


# ---------------------------------------------------------------------------------------------
# solve

_P = Symbol("p", "p")
_N = Symbol("N", "N")


def _ln(x: Expr) -> Expr:
    return call("ln", r"\ln", x)


def solve(prob: HparamProblem) -> Solution:
    sol = Solution(title=prob.title, kind="hparam")
    per_run = None  # minutes of one configuration's training
    if prob.grid:
        sol.sections["grid"] = "Grid search: size and cost"
        per_run = _grid(sol, prob)
    if prob.p is not None:
        sol.sections["random"] = "Random search: least number of trials"
        sol.sections["table"] = "Random search: success probability against N"
        _random(sol, prob, per_run)
    sol.notes.extend(prob.notes)
    return sol


def _grid(sol: Solution, prob: HparamProblem):
    counts = [h.count for h in prob.grid]
    syms = [Symbol(f"n_{h.name}", f"n_{{\\text{{{_tex(h.name)}}}}}") for h in prob.grid]
    for h, s in zip(prob.grid, syms, strict=False):
        note = ("values: " + ", ".join(fmt_number(v) for v in h.values)) if h.values else "count given"
        sol.add(Step(s.text, "grid", value=h.count, note=note, label=s))
    configs = math.prod(counts)
    prod_f = _product(syms)
    prod_s = _product([Const(c) for c in counts])
    configs_sym = Symbol("configs", r"N_{\text{grid}}")
    sol.add(Step("configs", "grid", formula=prod_f, substituted=prod_s, value=configs,
                 label=configs_sym,
                 note="every combination of the listed values is trained once"))
    if prob.epochs is None:
        return None
    e_sym = Symbol("epochs_per_run", r"E")
    total_epochs = configs * prob.epochs
    sol.add(Step("epochs_per_run", "grid", value=prob.epochs, label=e_sym, unit="epochs"))
    sol.add(Step("epochs", "grid", formula=configs_sym * e_sym,
                 substituted=Const(configs) * Const(prob.epochs), value=total_epochs,
                 label=Symbol("epochs", r"E_{\text{total}}"), unit="epochs"))
    if prob.epoch_time is None:
        return None
    t = prob.epoch_time
    t_sym = Symbol("epoch_time", r"t_{\text{epoch}}")
    sol.add(Step("epoch_time", "grid", value=_num(t), unit=prob.unit, label=t_sym))
    total = total_epochs * t  # in prob.unit
    epochs_sym = Symbol("epochs", r"E_{\text{total}}")
    total_sym = Symbol(f"time({prob.unit})", rf"T_{{\text{{{prob.unit}}}}}")
    sol.add(Step(f"time({prob.unit})", "grid", formula=epochs_sym * t_sym,
                 substituted=Const(total_epochs) * Const(_num(t)), value=_num(total),
                 unit=prob.unit, label=total_sym))
    minutes = total * UNITS[prob.unit]
    prev_sym, prev_val = total_sym, total
    if prob.unit == "seconds":
        m_sym = Symbol("time(minutes)", r"T_{\text{minutes}}")
        sol.add(Step("time(minutes)", "grid", formula=total_sym / Const(60),
                     substituted=Const(_num(total)) / Const(60), value=_num(minutes),
                     unit="minutes", label=m_sym))
        prev_sym, prev_val = m_sym, minutes
    hours = minutes / 60
    h_sym = Symbol("time(hours)", r"T_{\text{hours}}")
    if prob.unit != "hours":
        sol.add(Step("time(hours)", "grid", formula=prev_sym / Const(60),
                     substituted=Const(_num(prev_val)) / Const(60), value=_num(hours),
                     unit="hours", label=h_sym))
        prev_sym = h_sym
    days = hours / 24
    sol.add(Step("time(days)", "grid", formula=prev_sym / Const(24),
                 substituted=Const(_num(hours)) / Const(24), value=_num(days), unit="days",
                 label=Symbol("time(days)", r"T_{\text{days}}"), note=_duration_note(minutes)))
    run_minutes = prob.epochs * t * UNITS[prob.unit]
    if prob.workers > 1:
        k = prob.workers
        rounds = -(-configs // k)
        k_sym = Symbol("workers", "K")
        sol.add(Step("workers", "grid", value=k, label=k_sym))
        run_sym = Symbol("run_time(minutes)", r"t_{\text{run}}")
        sol.add(Step("run_time(minutes)", "grid", formula=e_sym * t_sym,
                     substituted=Const(prob.epochs) * Const(_num(t)), value=_num(run_minutes),
                     unit="minutes", label=run_sym,
                     note="" if prob.unit == "minutes" else f"epoch time converted from {prob.unit}"))
        rounds_sym = Symbol("rounds", "R")
        sol.add(Step("rounds", "grid", formula=ceil(configs_sym / k_sym),
                     substituted=ceil(Const(configs) / Const(k)), value=rounds, label=rounds_sym,
                     note="each worker trains one configuration at a time; the last round may "
                          "be partly idle"))
        wall = rounds * run_minutes
        wall_sym = Symbol("wall_time(minutes)", r"T_{\text{wall}}")
        sol.add(Step("wall_time(minutes)", "grid", formula=rounds_sym * run_sym,
                     substituted=Const(rounds) * Const(_num(run_minutes)), value=_num(wall),
                     unit="minutes", label=wall_sym))
        sol.add(Step("wall_time(hours)", "grid", formula=wall_sym / Const(60),
                     substituted=Const(_num(wall)) / Const(60), value=_num(wall / 60),
                     unit="hours", label=Symbol("wall_time(hours)", r"T_{\text{wall, hours}}"),
                     note=_duration_note(wall)))
    return run_minutes


def _random(sol: Solution, prob: HparamProblem, per_run):
    p = prob.p
    sol.add(Step("p", "random", value=_num(p), label=_P,
                 note="fraction of the space that is good = chance one uniform trial is good"))
    sol.add(Step("P(N)", "random", formula=Const(1) - (Const(1) - _P) ** _N,
                 substituted=Const(1) - Const(_num(1 - p)) ** _N,
                 label=Symbol("P(N)", r"P(N)"),
                 note="the chance that at least one of N trials is good: one minus the chance "
                      "that all N miss"))
    found = []
    for q in prob.q:
        qt = fmt_number(q)
        n = least_trials(p, q)
        found.append(n)
        bound_f = _ln(Const(1) - Symbol("q", "q")) / _ln(Const(1) - _P)
        bound_s = _ln(Const(_num(1 - q))) / _ln(Const(_num(1 - p)))
        bound_v = _log(1 - q) / _log(1 - p)
        why = ("1 - (1-p)^N >= q  <=>  N ln(1-p) <= ln(1-q)  <=>  N >= ln(1-q) / ln(1-p) "
               "(dividing by ln(1-p) < 0 flips the inequality); " if q == prob.q[0] else "")
        sol.add(Step(f"N_bound(q={qt})", "random", formula=bound_f, substituted=bound_s,
                     value=bound_v, label=Symbol(f"N_bound(q={qt})", rf"N^*_{{q={qt}}}"),
                     note=f"{why}q = {qt}; N must be a whole number at least this"))
        before = _miss_success(p, n - 1)[1]
        after = _miss_success(p, n)[1]
        k = 6  # digits enough for the printed check to show the sides differ
        while k < 17 and (fmt_number(before, k) == fmt_number(float(q), k)
                          or (after != float(q) and fmt_number(after, k) == fmt_number(float(q), k))):
            k += 1
        sol.add(Step(f"N(q={qt})", "random", formula=ceil(bound_f), substituted=ceil(Const(bound_v)),
                     value=n, label=Symbol(f"N(q={qt})", rf"N_{{q={qt}}}"), unit="trials",
                     note=f"check: P({n - 1}) = {fmt_number(before, k)} < {qt} "
                          f"<= P({n}) = {fmt_number(after, k)}"))
        if per_run is not None:
            cost = n * per_run
            sol.add(Step(f"time(q={qt})", "random",
                         formula=Symbol(f"N(q={qt})", rf"N_{{q={qt}}}") * Symbol("run_time", r"t_{\text{run}}"),
                         substituted=Const(n) * Const(_num(per_run)), value=_num(cost),
                         unit="minutes", note=_duration_note(cost) + " of training, one trial at a time"))
    sol.add(Step("E(trials)", "random", formula=Const(1) / _P, substituted=Const(1) / Const(_num(p)),
                 value=_num(1 / p), label=Symbol("E(trials)", r"\mathbb{E}[T]"), unit="trials",
                 note="trials up to and including the first good one are geometric with "
                      "success probability p; their mean is 1/p"))
    for n in table_points(p, found, prob.table):
        miss, v = _miss_success(p, n)
        sol.add(Step(f"P(N={n})", "table", formula=Const(1) - (Const(1) - _P) ** Const(n),
                     substituted=Const(1) - Const(_num(1 - p)) ** Const(n),
                     value=v, label=Symbol(f"P(N={n})", rf"P({n})"),
                     note="; ".join([f"all miss: (1-p)^N = {fmt_number(miss, 4)}"]
                                    + [f"first N reaching q = {fmt_number(q)}"
                                       for q, m in zip(prob.q, found, strict=False) if m == n])))
    sol.figure = figure(prob, found)


def table_points(p: Fraction, found: list[int], asked: list[int] | None) -> list[int]:
    """The N values of the table: those asked for, or a spread up to past the largest answer."""
    if asked is not None:
        return sorted(set(asked))[:MAX_TABLE]
    top = max(found) if found else math.ceil(1 / p)
    pts = {1, max(1, round(1 / p))}
    for n in found:
        pts.update({n - 1, n})
    base = 1
    while base <= 2 * top:
        for m in (1, 2, 5):
            if base * m <= 2 * top:
                pts.add(base * m)
        base *= 10
    pts.discard(0)
    return sorted(pts)[:MAX_TABLE]


def figure(prob: HparamProblem, found: list[int]) -> Figure:
    """Plot data (plain floats): success probability against N, with the targets marked."""
    top = max(found) if found else math.ceil(1 / prob.p)
    hi = max(2 * top, 10)
    stride = max(1, hi // 200)
    xs = list(range(0, hi + 1, stride))
    return Figure(
        title="Random search: P(at least one good trial) against N",
        xlabel="number of trials N",
        ylabel="P(success) = 1 - (1-p)^N",
        series=[Series("P(success)", f"p = {fmt_number(prob.p)}", xs,
                       [_miss_success(prob.p, n)[1] for n in xs], style="line")],
        hlines=[Mark(float(q), f"q = {fmt_number(q)}") for q in prob.q],
        vlines=[Mark(n, f"N = {n}") for n in found],
    )


# ---------------------------------------------------------------------------------------------
# helpers


def _product(factors: list[Expr]) -> Expr:
    out = factors[0]
    for f in factors[1:]:
        out = out * f
    return out


def _num(x):
    """An exact value as int when whole, else the Fraction."""
    x = Fraction(x)
    return x.numerator if x.denominator == 1 else x


def _duration_note(minutes) -> str:
    total = Fraction(minutes)
    d, rest = divmod(total, 24 * 60)
    h, m = divmod(rest, 60)
    parts = []
    if d:   # fmt_number: str() refuses an int of over 4,300 digits (10^299 configurations each)
        parts.append(f"{fmt_number(int(d))} d")
    if h or d:
        parts.append(f"{int(h)} h")
    parts.append(f"{fmt_number(_num(m)) if m.denominator == 1 else fmt_number(float(m), 3)} min")
    return "= " + " ".join(parts)


def _tex(name: str) -> str:
    from hwsolve.core.texescape import escape_text

    return escape_text(name)


