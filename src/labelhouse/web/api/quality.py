"""Quality report and consensus labels (reviewers and up)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from labelhouse.quality_report import service as quality
from labelhouse.quality_report.acceptance import acceptance_report
from labelhouse.web.deps import Ctx
from labelhouse.web.params import Cursor, Id

router = APIRouter(prefix="/api", tags=["quality"])

METHOD = Query(default="majority", description="majority, dawid_skene or gold_weighted")


@router.get("/projects/{project_id}/quality")
def quality_report(
    project_id: Id,
    ctx: Ctx,
    method: str = METHOD,
    hotspots: int = Query(default=quality.HOTSPOTS, ge=0, le=500),
) -> dict[str, Any]:
    """Agreement per field, consensus summary, annotator scorecards, Bradley–Terry scores
    and preference checks, and the tasks annotators disagree on most."""
    with ctx.read() as (s, actor):
        report = quality.project_report(s, actor, project_id, method=method, hotspots=hotspots)
    return quality.as_json(report)  # type: ignore[no-any-return]


@router.get("/projects/{project_id}/quality/acceptance")
def acceptance(project_id: Id, ctx: Ctx) -> dict[str, Any]:
    """Per model version and field: pre-filled answers kept, changed or cleared, agreement
    with and without pre-fill, and the anchoring warnings (docs/quality.md)."""
    with ctx.read() as (s, actor):
        report = acceptance_report(s, actor, project_id)
    return quality.as_json(report)  # type: ignore[no-any-return]


@router.get("/projects/{project_id}/consensus")
def consensus(
    project_id: Id,
    ctx: Ctx,
    method: str = METHOD,
    cursor: Cursor = 0,
    limit: int = Query(default=100, ge=1, le=1000),
) -> dict[str, Any]:
    """Consensus value and confidence per annotated task and field, in task id order."""
    with ctx.read() as (s, actor):
        rows = quality.consensus_page(
            s, actor, project_id, method=method, after_id=cursor, limit=limit
        )
    items = quality.as_json(rows)
    return {"items": items, "next_cursor": rows[-1].task_id if len(rows) == limit else None}
