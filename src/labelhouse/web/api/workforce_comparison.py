"""Comparing workforces (staff and vendors): JSON and CSV, for one project (its managers) or
across projects (organization owners and managers). The figures are defined in
:mod:`labelhouse.quality_report.workforces`."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import Field

from labelhouse.exports.writers import neutralise_formula
from labelhouse.quality_report.service import as_json
from labelhouse.quality_report.workforces import (
    Comparison,
    compare_across_projects,
    compare_workforces,
)
from labelhouse.web.deps import Ctx
from labelhouse.web.params import ID_MAX, Id

router = APIRouter(prefix="/api", tags=["workforces"])

ProjectIds = Annotated[
    list[Annotated[int, Field(ge=1, le=ID_MAX)]] | None,
    Query(
        alias="project_id",
        max_length=1000,
        description="repeat for several projects (project_id=1&project_id=2); none: all",
    ),
]

# Row fields, in CSV column order; then one "agreement_with:<name>" column per workforce.
COLUMNS = (
    "workforce_id",
    "name",
    "kind",
    "currency",
    "people",
    "tasks_done",
    "hours",
    "throughput_per_hour",
    "median_seconds",
    "gold_answers",
    "gold_checked",
    "gold_correct",
    "gold_accuracy",
    "gold_ci_low",
    "gold_ci_high",
    "consensus_agreement",
    "consensus_scored",
    "ds_accuracy",
    "ds_answers",
    "reviewed",
    "accepted",
    "review_acceptance",
    "price_per_task",
    "price_per_hour",
    "cost",
    "cost_per_correct",
    "cost_per_correct_low",
    "cost_per_correct_high",
)


def _cell(value: Any) -> Any:
    """Empty for None, floats to 6 decimals; text a spreadsheet would run as a formula gets
    a ``'`` in front (team names are whatever people typed), as in the CSV export."""
    if value is None:
        return ""
    if isinstance(value, float):
        return round(value, 6)
    return neutralise_formula(value)


def comparison_csv(comparison: Comparison) -> str:
    """One row per workforce, with a header row."""
    others = [(r.workforce_id, r.name) for r in comparison.rows]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*COLUMNS, *(_cell(f"agreement_with:{name}") for _, name in others)])
    for row in comparison.rows:
        agreement = {p.workforce_id: p.agreement for p in row.agreement_with}
        writer.writerow(
            [_cell(getattr(row, c)) for c in COLUMNS]
            + [_cell(agreement.get(wf)) for wf, _ in others]
        )
    return out.getvalue()


def _csv_response(comparison: Comparison, filename: str) -> Response:
    return Response(
        comparison_csv(comparison),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/projects/{project_id}/workforces/comparison")
def project_comparison(project_id: Id, ctx: Ctx) -> dict[str, Any]:
    """Per workforce of the project (and lab people in no workforce): tasks done,
    throughput, median time per task, gold accuracy with a 95% Wilson interval, agreement
    with consensus and with each other workforce, Dawid–Skene accuracy, review acceptance,
    cost and cost per correct label (project managers and up)."""
    with ctx.read() as (s, actor):
        return as_json(compare_workforces(s, actor, [project_id]))  # type: ignore[no-any-return]


@router.get("/projects/{project_id}/workforces/comparison.csv")
def project_comparison_csv(project_id: Id, ctx: Ctx) -> Response:
    """The comparison as CSV (one row per workforce, a header row)."""
    with ctx.read() as (s, actor):
        comparison = compare_workforces(s, actor, [project_id])
    return _csv_response(comparison, f"workforces-project-{project_id}.csv")


@router.get("/workforces/comparison")
def organization_comparison(ctx: Ctx, project_ids: ProjectIds = None) -> dict[str, Any]:
    """The comparison pooled over several projects (default: every project, archived ones
    included) — organization owners and managers."""
    with ctx.read() as (s, actor):
        return as_json(compare_across_projects(s, actor, project_ids))  # type: ignore[no-any-return]


@router.get("/workforces/comparison.csv")
def organization_comparison_csv(ctx: Ctx, project_ids: ProjectIds = None) -> Response:
    """The pooled comparison as CSV."""
    with ctx.read() as (s, actor):
        comparison = compare_across_projects(s, actor, project_ids)
    return _csv_response(comparison, "workforces.csv")
