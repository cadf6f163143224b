"""Figures from an engine's plot data: a PNG/SVG file with matplotlib, and a chart in the terminal.

Engines put plain data in ``solution.figure`` (a `hwsolve.core.records.Figure`: title, axis
labels, series of points or lines, horizontal and vertical reference marks) and never draw. This
module draws it. matplotlib is imported only inside `render_figure`, with the non-interactive Agg
canvas and no pyplot (no global state, no display needed), so start-up and every command that does
not plot never pay for it.

The same data always gives the same bytes: fixed size, DejaVu fonts drawn as paths, a fixed SVG
hash salt, no dates, and no software version in the metadata. The plotted data is embedded in the
file's metadata (PNG tEXt / SVG dc:description ``Description``) as JSON, so a test or a reader can
check what was plotted without reading pixels.
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

from hwsolve.core.errors import HwsolveError
from hwsolve.core.records import Figure, Series, Solution, Step

SUFFIXES = (".png", ".svg")
SIZE_INCHES = (8.0, 5.0)
DPI = 100                  # PNG: 800 x 500 pixels; SVG: 576 x 360 pt
LOG_SPAN = 100             # log scale when max / min >= this (all values > 0)
BAR_WIDTH = 40
SPARK = " ▁▂▃▄▅▆▇█"
SPARK_WIDTH = 48
MAX_BAR_POINTS = 16        # more points than this: a sparkline instead of one bar per point


def check_plot_path(path: str) -> Path:
    """Reject a plot path before any work is done: wrong suffix, missing folder, a folder."""
    p = Path(path)
    if p.suffix.lower() not in SUFFIXES:
        raise HwsolveError(f"plot file must end in .png or .svg, got '{p.name}'", field="--plot")
    folder = p.parent if str(p.parent) else Path(".")
    if not folder.is_dir():
        raise HwsolveError(f"folder '{folder}' does not exist", field="--plot")
    if p.is_dir():
        raise HwsolveError(f"'{p}' is a folder", field="--plot")
    return p


def use_log_scale(values) -> bool:
    vals = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if not vals or min(vals) <= 0:
        return False
    return max(vals) / min(vals) >= LOG_SPAN


def _all_y(fig: Figure) -> list[float]:
    return [y for s in fig.series for y in s.y]


def render_figure(fig: Figure):
    """A matplotlib `Figure` of the data (not saved). Imported here, never at start-up."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=SIZE_INCHES, dpi=DPI)
    FigureCanvasAgg(figure)
    ax = figure.add_subplot(1, 1, 1)
    markers = "osD^v<>"
    for i, s in enumerate(fig.series):
        if s.style == "line":  # dashes too, so curves that coincide (ReLU', LeakyReLU') stay visible
            ax.plot(s.x, s.y, linestyle=("-", "--", "-.", ":")[i % 4], label=s.label,
                    linewidth=1.8)
        else:
            ax.plot(s.x, s.y, "-", marker=markers[i % len(markers)], label=s.label,
                    linewidth=1.5, markersize=6)
    for h in fig.hlines:
        ax.axhline(h.at, linestyle="--", linewidth=1, color="grey")
        ax.annotate(h.label, (0, h.at), xycoords=("axes fraction", "data"),
                    xytext=(4, 3), textcoords="offset points", fontsize=8, color="grey")
    for v in fig.vlines:
        ax.axvline(v.at, linestyle=":", linewidth=1, color="grey")
        ax.annotate(v.label, (v.at, 0), xycoords=("data", "axes fraction"),
                    xytext=(3, 4), textcoords="offset points", fontsize=8, color="grey",
                    rotation=90)
    if use_log_scale(_all_y(fig)):
        ax.set_yscale("log")
        ax.set_ylabel(fig.ylabel + " (log scale)")
    else:
        ax.set_ylabel(fig.ylabel)
    ax.set_xlabel(fig.xlabel)
    ax.set_title(fig.title)
    xs = [x for s in fig.series for x in s.x]
    if xs and all(float(x).is_integer() for x in xs) and len(set(xs)) <= 20:
        ax.set_xticks(sorted(set(xs)))
    ax.grid(True, which="both", alpha=0.3)
    if len(fig.series) > 1 or fig.hlines:
        ax.legend(loc="best")
    figure.tight_layout()
    return figure


def figure_bytes(fig: Figure, fmt: str) -> bytes:
    """The picture as PNG or SVG bytes, identical on every run."""
    import matplotlib

    figure = render_figure(fig)
    data = json.dumps(_plain(fig.to_dict()), sort_keys=True, separators=(",", ":"))
    buf = io.BytesIO()
    with matplotlib.rc_context({"svg.hashsalt": "hwsolve", "svg.fonttype": "path"}):
        if fmt == "svg":
            figure.savefig(buf, format="svg", metadata={"Date": None, "Creator": None,
                                                        "Title": fig.title, "Description": data})
        else:
            figure.savefig(buf, format="png", dpi=DPI,
                           metadata={"Software": None, "Title": fig.title, "Description": data})
    return buf.getvalue()


def save_plot(fig: Figure, path: str) -> Path:
    """Draw the figure and write it whole (temporary file, then rename) or not at all."""
    from hwsolve.core.fileio import write_atomic

    p = check_plot_path(path)
    data = figure_bytes(fig, p.suffix.lower().lstrip("."))
    write_atomic(p, data)
    return p


def _plain(fig: dict) -> dict:
    def conv(v):
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [conv(x) for x in v]
        if isinstance(v, (int, float, str)) or v is None:
            return v
        return float(v)
    return conv(fig)


# ---------------------------------------------------------------------------------------------
# the terminal chart: records, not printing


def chart_steps(fig: Figure) -> list[Step]:
    """Steps of a ``chart`` section drawing the data in plain text.

    A series of a few points gets one row per point with a bar of ``#`` (log-scaled when the
    values span orders of magnitude); a long series gets one row with a sparkline.
    """
    out: list[Step] = []
    ys = [float(y) for y in _all_y(fig) if math.isfinite(float(y))]
    if not ys:
        return out
    log = use_log_scale(ys)
    lo, hi = min(ys), max(ys)
    for s in fig.series:
        key = s.key or s.label
        if len(s.x) <= MAX_BAR_POINTS:
            for x, y in zip(s.x, s.y, strict=True):
                out.append(Step(f"chart:{key}({_xtext(x)})", "chart", value=y,
                                note=_bar(float(y), lo, hi, log)))
        else:
            out.append(Step(f"chart:{key}", "chart", note=_sparkline(s, fig, lo, hi)))
    return out


def add_chart(solution: Solution) -> None:
    """Append the terminal chart of ``solution.figure``, if any, as a section."""
    fig = solution.figure
    if fig is None:
        return
    steps = chart_steps(fig)
    if not steps:
        return
    scale = " (bars on a log scale)" if use_log_scale(_all_y(fig)) else ""
    solution.sections["chart"] = f"Chart: {fig.ylabel} against {fig.xlabel}{scale}"
    solution.steps.extend(steps)


def _xtext(x) -> str:
    from hwsolve.core.numfmt import fmt_number

    return fmt_number(x)


def _bar(y: float, lo: float, hi: float, log: bool) -> str:
    if not math.isfinite(y):
        return "?"
    if log:
        frac = 1.0 if hi == lo else (math.log(y) - math.log(lo)) / (math.log(hi) - math.log(lo))
        n = 1 + round(frac * (BAR_WIDTH - 1))
    else:
        base = min(lo, 0.0)
        top = max(hi, 0.0)
        frac = 0.0 if top == base else (y - base) / (top - base)
        n = round(frac * BAR_WIDTH)
    return "#" * n + "." * (BAR_WIDTH - n)


def _sparkline(s: Series, fig: Figure, lo: float, hi: float) -> str:
    """One line of block characters; every series of a figure shares the same vertical scale."""
    from hwsolve.core.numfmt import fmt_number

    xs, ys = s.x, [float(y) for y in s.y]
    n = len(ys)
    idx = [round(i * (n - 1) / (SPARK_WIDTH - 1)) for i in range(min(SPARK_WIDTH, n))]
    sample = [ys[i] for i in idx]
    finite = [y for y in ys if math.isfinite(y)]
    chars = []
    for y in sample:
        if not math.isfinite(y):
            chars.append("?")
            continue
        level = 0 if hi == lo else round((y - lo) / (hi - lo) * (len(SPARK) - 2))
        chars.append(SPARK[1 + level])
    return (f"{''.join(chars)}  {fig.xlabel} {fmt_number(xs[0])}..{fmt_number(xs[-1])}, "
            f"values {fmt_number(min(finite))}..{fmt_number(max(finite))}")
