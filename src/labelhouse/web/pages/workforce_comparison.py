"""The project's workforce comparison page: staff and vendors side by side, as a table
(server-rendered) and charts (``static/js/workforce-chart.js`` draws them from the JSON
embedded in the page), with the CSV download. Project managers and up."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from labelhouse.projects.service import get_project
from labelhouse.quality_report.workforces import Comparison, compare_workforces
from labelhouse.web.deps import Ctx
from labelhouse.web.pages.common import page_session, project_tabs, render
from labelhouse.web.params import Id

router = APIRouter(include_in_schema=False)


def chart_data(comparison: Comparison) -> list[dict[str, Any]]:
    """What the charts draw, per workforce: gold accuracy with its interval, and cost per
    correct label with the interval the gold interval gives it."""
    return [
        {
            "name": r.name,
            "kind": r.kind,
            "gold": {
                "accuracy": r.gold_accuracy,
                "low": r.gold_ci_low,
                "high": r.gold_ci_high,
                "checked": r.gold_checked,
            },
            "cost_per_correct": {
                "value": r.cost_per_correct,
                "low": r.cost_per_correct_low,
                "high": r.cost_per_correct_high,
                "currency": r.currency,
            },
        }
        for r in comparison.rows
    ]


@router.get("/projects/{project_id}/workforces", response_class=HTMLResponse)
def workforce_comparison_page(project_id: Id, ctx: Ctx) -> HTMLResponse:
    with page_session(ctx) as (s, actor, csrf):
        comparison = compare_workforces(s, actor, [project_id])
        return render(
            ctx.request,
            "workforce_comparison.html",
            actor=actor.in_project(project_id),
            csrf_token=csrf,
            project=get_project(s, actor, project_id),
            tabs=project_tabs(actor, project_id),
            current_tab="quality",
            comparison=comparison,
            chart=chart_data(comparison),
            pairs={
                (r.workforce_id, p.workforce_id): p
                for r in comparison.rows
                for p in r.agreement_with
            },
        )
