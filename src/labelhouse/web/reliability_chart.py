"""Server-side SVG reliability chart: consensus confidence against accuracy on gold.

A calibrated confidence sits on the diagonal (tasks shown at 0.8 are right 80% of the
time); points below it are overconfident. Raw confidence bins are drawn in the warning
colour, calibrated (out-of-fold) bins in the accent colour; every text is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

from labelhouse.quality.calibration import ReliabilityBin


def reliability_chart(
    before: Sequence[ReliabilityBin],
    after: Sequence[ReliabilityBin],
    *,
    label: str,
    width: int = 320,
    height: int = 260,
) -> Markup:
    """Bins as points (x: mean confidence, y: accuracy), point area by count."""
    left, right, top, bottom = 56, 12, 12, 40
    plot_w, plot_h = width - left - right, height - top - bottom

    def x_of(v: float) -> float:
        return left + plot_w * min(max(v, 0.0), 1.0)

    def y_of(v: float) -> float:
        return top + plot_h - plot_h * min(max(v, 0.0), 1.0)

    parts = [
        f'<svg class="chart scatter reliability" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">'
    ]
    for i in range(5):
        v = i / 4
        parts.append(
            f'<line class="grid" x1="{left}" x2="{width - right}" y1="{y_of(v):.1f}" '
            f'y2="{y_of(v):.1f}"/><text class="axis y" x="{left - 6}" y="{y_of(v) + 4:.1f}">'
            f'{v:g}</text><text class="axis x" x="{x_of(v):.1f}" y="{top + plot_h + 16}">'
            f"{v:g}</text>"
        )
    parts.append(
        f'<line class="baseline diagonal" x1="{x_of(0):.1f}" y1="{y_of(0):.1f}" '
        f'x2="{x_of(1):.1f}" y2="{y_of(1):.1f}"/>'
        f'<text class="axis x" x="{left + plot_w / 2:.1f}" y="{height - 4}">confidence</text>'
        f'<text class="axis title-y" x="{-(top + plot_h / 2):.1f}" y="12" '
        f'transform="rotate(-90)">accuracy on gold</text>'
    )
    total = max(sum(b.count for b in before), 1)
    for bins, cls, name in ((before, "point flagged", "raw"), (after, "point", "calibrated")):
        for b in bins:
            radius = 3 + 6 * (b.count / total) ** 0.5
            title = (
                f"{name}: {b.count} gold task{'s' if b.count != 1 else ''} at confidence "
                f"{b.lower:.1f}–{b.upper:.1f} (mean {b.confidence:.3f}), accuracy {b.accuracy:.3f}"
            )
            parts.append(
                f'<g class="{cls}"><title>{escape(title)}</title><circle '
                f'cx="{x_of(b.confidence):.1f}" cy="{y_of(b.accuracy):.1f}" r="{radius:.1f}"/></g>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text is escaped above
