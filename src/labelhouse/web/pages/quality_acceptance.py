"""The quality page's acceptance section: the report and its bar chart, as template
variables (kept apart from ``quality.py`` so the page's other sections grow on their own)."""

from __future__ import annotations

from typing import Any

from labelhouse.quality_report.acceptance import AcceptanceReport
from labelhouse.web.charts import Bar, bar_chart


def _bars(report: AcceptanceReport) -> list[Bar]:
    return [
        Bar(
            label=f"{r.field} · {r.model_version or 'unnamed'}",
            value=round(100 * (r.kept_rate or 0), 1),
            title=f"{r.field}, model {r.model_version or 'unnamed'}: "
            f"{r.kept} kept, {r.changed} changed, {r.cleared} cleared of {r.prefilled}",
        )
        for r in report.rows
    ]


def acceptance_context(report: AcceptanceReport | None) -> dict[str, Any]:
    """``acceptance`` (the report, read from the stored analysis with the rest of the
    page) and ``acceptance_chart`` (kept share per model version and field, percent; None
    when nothing was pre-filled) for ``_quality_acceptance.html``."""
    chart = (
        bar_chart(
            _bars(report),
            label="Pre-filled answers kept, percent, per field and model version",
            height=180,
        )
        if report is not None and report.rows
        else None
    )
    return {"acceptance": report, "acceptance_chart": chart}
