"""Small SVG charts made from the run's data, for the HTML report (no plotting
library, no fonts or scripts from anywhere: the report must open offline).

Each function returns one ``<svg>`` element as text, with a <title> for screen
readers and every value escaped.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")
# For charts with many kinds (the fault timeline): 20 colours, PALETTE's first, then
# other and lighter tones (a kind past the 20th repeats one; each bar's tooltip names it).
WIDE_PALETTE = (
    *PALETTE,
    "#bcbd22",
    "#7f7f7f",
    "#aec7e8",
    "#ff9896",
    "#98df8a",
    "#c5b0d5",
    "#ffbb78",
    "#c49c94",
    "#f7b6d2",
    "#9edae5",
    "#dbdb8d",
    "#393b79",
)
FONT = 'font-family="sans-serif" font-size="11"'
NINES = 3.3  # top of the CDF's vertical axis: a little above p99.9, where max sits


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _nice_log_ticks(lo: float, hi: float) -> list[float]:
    ticks = []
    # 1-2-5 ticks over a few decades; only powers of ten over many (labels must fit).
    steps = (1, 2, 5) if math.log10(hi / lo) <= 3 else (1,)
    for exp in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1):
        for m in steps:
            v = m * 10.0**exp
            if lo <= v <= hi:
                ticks.append(v)
    return ticks


def _fmt(v: float) -> str:
    return f"{v:g}" if v >= 1 else f"{v:.2g}"


CHAR_W = 6.5  # width of a character at FONT's size, generously (no font metrics here)


def legend(
    items: Sequence[tuple[str, str]], x: float, y: float, width: float
) -> tuple[list[str], float]:
    """Swatch and label per (name, colour), in as many columns as the longest label
    lets fit in ``width`` (never overlapping); the elements and the height they take."""
    col = max((len(name) for name, _ in items), default=0) * CHAR_W + 24
    per_row = max(1, int(width // col))
    out = []
    for i, (name, color) in enumerate(items):
        lx = x + (i % per_row) * col
        ly = y + 16 * (i // per_row)
        out.append(
            f'<rect x="{lx:.1f}" y="{ly - 9:.1f}" width="10" height="10" fill="{color}"/>'
            f'<text x="{lx + 14:.1f}" y="{ly:.1f}">{_e(name)}</text>'
        )
    return out, 16.0 * math.ceil(len(items) / per_row)


def cdf_chart(
    series: Sequence[tuple[str, Sequence[Sequence[float]], bool, int]],
    title: str,
    width: int = 640,
    height: int = 300,
) -> str:
    """Cumulative distributions: log-latency across, "nines" up (p50, p90, p99,
    p99.9 equally spaced, so the tail gets the room it deserves). ``series``:
    (label, [[ms, fraction], ...], dashed, colour index)."""
    points = [p for _, pts, _, _ in series for p in pts if p[0] > 0]
    if not points:
        return f'<svg width="{width}" height="40"><title>{_e(title)}</title></svg>'
    lo = 10 ** math.floor(math.log10(min(p[0] for p in points)))
    hi = 10 ** math.ceil(math.log10(max(p[0] for p in points)))
    left, right, top, bottom = 50, 150, 20, 35
    pw, ph = width - left - right, height - top - bottom

    def x(ms: float) -> float:
        return left + pw * (math.log10(max(ms, lo)) - math.log10(lo)) / math.log10(hi / lo)

    def nines(frac: float) -> float:
        return min(-math.log10(max(1.0 - frac, 10**-NINES)), NINES)

    def y(frac: float) -> float:
        return top + ph * (1.0 - nines(frac) / NINES)

    out = [
        f'<svg width="{width}" height="{height}" role="img" {FONT}>',
        f"<title>{_e(title)}</title>",
        f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>',
    ]
    for t in _nice_log_ticks(lo, hi):
        out.append(
            f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{top}" y2="{top + ph}" stroke="#eee"/>'
            f'<text x="{x(t):.1f}" y="{top + ph + 14}" text-anchor="middle">{_fmt(t)}</text>'
        )
    for f, name in ((0.0, "p0"), (0.5, "p50"), (0.9, "p90"), (0.99, "p99"), (0.999, "p99.9")):
        out.append(
            f'<line x1="{left}" x2="{left + pw}" y1="{y(f):.1f}" y2="{y(f):.1f}" stroke="#eee"/>'
            f'<text x="{left - 4}" y="{y(f) + 4:.1f}" text-anchor="end">{name}</text>'
        )
    out.append(
        f'<text x="{left + pw / 2}" y="{height - 4}" text-anchor="middle">latency, ms (log)</text>'
    )
    for i, (label, pts, dashed, colour) in enumerate(series):
        color = PALETTE[colour % len(PALETTE)]
        path = " ".join(f"{x(p[0]):.1f},{y(p[1]):.1f}" for p in pts if p[0] > 0)
        dash = ' stroke-dasharray="5,3"' if dashed else ""
        out.append(
            f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="1.6"{dash}>'
            f"<title>{_e(label)}</title></polyline>"
        )
        ly = top + 12 + 14 * i
        out.append(
            f'<line x1="{left + pw + 8}" x2="{left + pw + 28}" y1="{ly - 4}" y2="{ly - 4}" '
            f'stroke="{color}" stroke-width="2"{dash}/>'
            f'<text x="{left + pw + 32}" y="{ly}">{_e(label)}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def stacked_bars(
    rows: Sequence[tuple[str, dict[str, float]]],
    order: Sequence[str],
    title: str,
    width: int = 640,
) -> str:
    """One horizontal bar per row, split into segments in ``order`` (ms); the legend
    below it, in columns as wide as its longest name."""
    left, right, bar, gap, top = 110, 70, 18, 8, 10
    pw = width - left - right
    colors = [(k, PALETTE[i % len(PALETTE)]) for i, k in enumerate(order)]
    ly = top + len(rows) * (bar + gap) + 14
    keys, legend_h = legend(colors, left, ly, width - left)
    height = int(ly + legend_h)
    total = max((sum(v.get(k, 0.0) for k in order) for _, v in rows), default=0.0) or 1.0
    out = [
        f'<svg width="{width}" height="{height}" role="img" {FONT}>',
        f"<title>{_e(title)}</title>",
    ]
    for r, (label, values) in enumerate(rows):
        yy = top + r * (bar + gap)
        out.append(f'<text x="{left - 6}" y="{yy + 13}" text-anchor="end">{_e(label)}</text>')
        xx = float(left)
        for k, color in colors:
            w = pw * values.get(k, 0.0) / total
            if w <= 0:
                continue
            out.append(
                f'<rect x="{xx:.1f}" y="{yy}" width="{w:.1f}" height="{bar}" '
                f'fill="{color}"><title>{_e(k)}: '
                f"{values.get(k, 0.0):.1f} ms</title></rect>"
            )
            xx += w
        out.append(
            f'<text x="{xx + 4:.1f}" y="{yy + 13}">{sum(values.get(k, 0.0) for k in order):.1f}'
            " ms</text>"
        )
    out += keys
    out.append("</svg>")
    return "".join(out)


def grouped_bars(
    groups: Sequence[tuple[str, Sequence[tuple[str, float | None]]]],
    title: str,
    width: int = 640,
    height: int = 260,
) -> str:
    """Vertical bars: per group (e.g. a concurrency level), one bar per series (ms)."""
    left, right, top, bottom = 50, 20, 20, 50
    pw, ph = width - left - right, height - top - bottom
    top_value: float = max((v or 0.0 for _, bars in groups for _, v in bars), default=0.0) or 1.0
    names = [n for n, _ in groups[0][1]] if groups else []
    out = [
        f'<svg width="{width}" height="{height}" role="img" {FONT}>',
        f"<title>{_e(title)}</title>",
        f'<line x1="{left}" x2="{left + pw}" y1="{top + ph}" y2="{top + ph}" stroke="#999"/>',
    ]
    for i in range(5):
        tick = top_value * i / 4
        yy = top + ph - ph * i / 4
        out.append(
            f'<line x1="{left}" x2="{left + pw}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#eee"/>'
            f'<text x="{left - 4}" y="{yy + 4:.1f}" text-anchor="end">{tick:.0f}</text>'
        )
    slot = pw / max(1, len(groups))
    bw = slot * 0.8 / max(1, len(names))
    for g, (label, bars) in enumerate(groups):
        gx = left + g * slot + slot * 0.1
        for b, (name, v) in enumerate(bars):
            h = ph * (v or 0.0) / top_value
            out.append(
                f'<rect x="{gx + b * bw:.1f}" y="{top + ph - h:.1f}" width="{bw * 0.9:.1f}" '
                f'height="{h:.1f}" fill="{PALETTE[b % len(PALETTE)]}"><title>{_e(label)} '
                f"{_e(name)}: {'-' if v is None else f'{v:.1f} ms'}</title></rect>"
            )
        out.append(
            f'<text x="{gx + slot * 0.4:.1f}" y="{top + ph + 14}" text-anchor="middle">'
            f"{_e(label)}</text>"
        )
    for b, name in enumerate(names):
        lx = left + b * 130
        out.append(
            f'<rect x="{lx}" y="{height - 18}" width="10" height="10" '
            f'fill="{PALETTE[b % len(PALETTE)]}"/><text x="{lx + 14}" y="{height - 9}">'
            f"{_e(name)}</text>"
        )
    out.append("</svg>")
    return "".join(out)


def short_label(label: str, room: int) -> str:
    """At most ``room`` characters. A scenario's parameters and target (from the first
    ``[``) are what tell its rows apart: they are kept whole when they leave room for
    the start of the name, which is cut instead; otherwise the middle is elided."""
    if len(label) <= room:
        return label
    cut = label.find("[")
    if cut > 0 and len(label) - cut <= room - 12:
        return label[: room - (len(label) - cut) - 1] + "…" + label[cut:]
    tail = room // 2 - 1
    return label[: room - tail - 1] + "…" + label[-tail:]


def timeline(
    rows: Sequence[tuple[str, Sequence[tuple[str, float, float]]]],
    title: str,
    width: int = 1100,
) -> str:
    """Per row (a scenario) the faults as spans [start, stop] in seconds of the test;
    one colour per kind of fault, named in the legend above the rows."""
    label_chars = 76
    left, right, bar, gap = int(label_chars * CHAR_W) + 10, 20, 14, 6
    end = max((s[2] for _, spans in rows for s in spans), default=0.0) or 1.0
    pw = width - left - right
    kinds = sorted({s[0] for _, spans in rows for s in spans})
    colors = {k: WIDE_PALETTE[i % len(WIDE_PALETTE)] for i, k in enumerate(kinds)}
    keys, legend_h = legend(list(colors.items()), 10, 14, width - 20)
    top = int(legend_h) + 24
    height = top + len(rows) * (bar + gap) + 30
    out = [
        f'<svg width="{width}" height="{height}" role="img" {FONT}>',
        f"<title>{_e(title)}</title>",
        *keys,
    ]
    for r, (label, spans) in enumerate(rows):
        yy = top + r * (bar + gap)
        out.append(
            f'<text x="{left - 6}" y="{yy + 11}" text-anchor="end"><title>{_e(label)}</title>'
            f"{_e(short_label(label, label_chars))}</text>"
        )
        for kind, start, stop in spans:
            x0 = left + pw * start / end
            w = max(2.0, pw * (stop - start) / end)
            out.append(
                f'<rect x="{x0:.1f}" y="{yy}" width="{w:.1f}" height="{bar}" '
                f'fill="{colors[kind]}" opacity="0.8"><title>{_e(kind)}: {start:.2f}-{stop:.2f} s'
                "</title></rect>"
            )
    axis = top + len(rows) * (bar + gap) + 12
    for i in range(6):
        t = end * i / 5
        out.append(
            f'<text x="{left + pw * i / 5:.1f}" y="{axis}" text-anchor="middle">{t:.1f} s</text>'
        )
    out.append("</svg>")
    return "".join(out)
