"""Server-side SVG charts: plain markup the page embeds, with no JavaScript and no inline
styles (colours come from CSS classes, so the strict CSP holds).

Pure functions of their inputs — no database, no request — so tests check the markup
directly. Every piece of text goes through ``markupsafe.escape``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from markupsafe import Markup, escape


@dataclass(frozen=True)
class Bar:
    label: str  # shown under the bar (may be thinned out, see ``label_every``)
    value: float
    title: str  # tooltip and accessible name of the bar


def axis_scale(
    max_value: float, *, target_ticks: int = 4, integer: bool = True
) -> tuple[float, float]:
    """(top, step) of a y axis: a round step (1, 2 or 5 × 10ⁿ, whole numbers for counts)
    giving about ``target_ticks`` gridlines, and the first multiple of it at or above
    ``max_value``. An empty chart gets the axis 0–1."""
    if max_value <= 0:
        return 1.0, 1.0
    raw = max_value / target_ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw * 0.75)
    if integer:
        step = max(1.0, float(math.ceil(step)))
    return math.ceil(max_value / step - 1e-9) * step, step


def _number(value: float) -> str:
    return f"{value:g}" if value != int(value) else str(int(value))


def bar_chart(
    bars: Sequence[Bar],
    *,
    label: str,
    width: int = 480,
    height: int = 200,
    label_every: int = 1,
    integer: bool = True,
) -> Markup:
    """A vertical bar chart with a y axis (round gridlines, see :func:`axis_scale`) and
    category labels under every ``label_every``-th bar.

    The SVG scales to its container (``viewBox``); ``label`` names the chart for screen
    readers. Bars of value 0 still get an (empty) hit area carrying their ``<title>``.
    """
    left, right, top, bottom = 34, 6, 10, 24
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value, step = axis_scale(max((b.value for b in bars), default=0), integer=integer)
    ticks = round(top_value / step)
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">'
    ]
    for i in range(ticks + 1):
        value = top_value * i / ticks
        y = top + plot_h - plot_h * i / ticks
        parts.append(
            f'<line class="grid" x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="axis y" x="{left - 6}" y="{y + 4:.1f}">{escape(_number(value))}</text>'
        )
    slot = plot_w / max(len(bars), 1)
    gap = min(4.0, slot * 0.2)
    for i, bar in enumerate(bars):
        x = left + i * slot + gap / 2
        h = plot_h * (bar.value / top_value) if bar.value > 0 else 0.0
        y = top + plot_h - h
        parts.append(
            f'<g class="bar"><title>{escape(bar.title)}</title>'
            f'<rect class="hit" x="{x:.1f}" y="{top}" width="{slot - gap:.1f}" height="{plot_h}"/>'
            f'<rect class="value" x="{x:.1f}" y="{y:.1f}" width="{slot - gap:.1f}" '
            f'height="{h:.1f}"/></g>'
        )
        if label_every > 0 and i % label_every == 0:
            parts.append(
                f'<text class="axis x" x="{x + (slot - gap) / 2:.1f}" y="{height - 8}">'
                f"{escape(bar.label)}</text>"
            )
    parts.append(
        f'<line class="baseline" x1="{left}" x2="{width - right}" '
        f'y1="{top + plot_h}" y2="{top + plot_h}"/></svg>'
    )
    return Markup("".join(parts))  # noqa: S704 - every interpolated text is escaped above


def daily_bars(per_day: Sequence[tuple[date, int]], *, noun: str = "annotation") -> list[Bar]:
    """Bars for counts per day: ``MM-DD`` labels, ``YYYY-MM-DD: n annotations`` titles."""
    return [
        Bar(
            label=day.strftime("%m-%d"),
            value=count,
            title=f"{day.isoformat()}: {count} {noun}{'' if count == 1 else 's'}",
        )
        for day, count in per_day
    ]


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    label: str  # short text drawn next to the point
    title: str  # tooltip and accessible name
    flagged: bool = False


def scatter_chart(
    points: Sequence[Point],
    *,
    label: str,
    x_label: str,
    y_label: str,
    y_max: float = 1.0,
    width: int = 480,
    height: int = 260,
) -> Markup:
    """A scatter plot with round-step axes from 0 (x: :func:`axis_scale`; y: 0..``y_max``).

    Flagged points get the ``flagged`` class (drawn in the warning colour by CSS); every
    point carries a ``<title>`` and a short label, all escaped.
    """
    left, right, top, bottom = 58, 14, 12, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    x_top, x_step = axis_scale(max((p.x for p in points), default=0), integer=False)
    y_step = y_max / 4
    parts = [
        f'<svg class="chart scatter" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">'
    ]
    for i in range(5):
        value = y_step * i
        y = top + plot_h - plot_h * value / y_max
        parts.append(
            f'<line class="grid" x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="axis y" x="{left - 6}" y="{y + 4:.1f}">'
            f"{escape(_number(round(value, 4)))}</text>"
        )
    ticks = round(x_top / x_step)
    for i in range(ticks + 1):
        value = x_step * i
        x = left + plot_w * value / x_top
        parts.append(
            f'<text class="axis x" x="{x:.1f}" y="{top + plot_h + 16}">'
            f"{escape(_number(round(value, 6)))}</text>"
        )
    parts.append(
        f'<line class="baseline" x1="{left}" x2="{width - right}" '
        f'y1="{top + plot_h}" y2="{top + plot_h}"/>'
        f'<line class="baseline" x1="{left}" x2="{left}" y1="{top}" y2="{top + plot_h}"/>'
        f'<text class="axis x" x="{left + plot_w / 2:.1f}" y="{height - 4}">'
        f"{escape(x_label)}</text>"
        f'<text class="axis title-y" x="{-(top + plot_h / 2):.1f}" y="14" '
        f'transform="rotate(-90)">{escape(y_label)}</text>'
    )
    for p in points:
        x = left + plot_w * min(max(p.x, 0.0), x_top) / x_top
        y = top + plot_h - plot_h * min(max(p.y, 0.0), y_max) / y_max
        anchor = "end" if x > left + plot_w * 0.75 else "start"
        dx = -8 if anchor == "end" else 8
        parts.append(
            f'<g class="point{" flagged" if p.flagged else ""}"><title>{escape(p.title)}</title>'
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5"/>'
            f'<text class="point-label {anchor}" x="{x + dx:.1f}" y="{y + 4:.1f}">'
            f"{escape(p.label)}</text></g>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text is escaped above
