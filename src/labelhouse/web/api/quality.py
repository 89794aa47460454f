"""Quality report and consensus labels (reviewers and up)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from labelhouse.accounts.policy import Actor
from labelhouse.jobs import analysis as analysis_jobs
from labelhouse.quality_report import service as quality
from labelhouse.quality_report.stored import Freshness
from labelhouse.web.deps import Context, Ctx
from labelhouse.web.params import Cursor, Id

router = APIRouter(prefix="/api", tags=["quality"])

METHOD = Query(default="majority", description="majority, dawid_skene or gold_weighted")
FRESH = Query(
    default=False,
    description="recompute the analysis now instead of showing the stored one when answers "
    "changed since it was computed",
)


def recompute_if_stale(
    ctx: Context, actor: Actor, project_id: int, method: str, state: Freshness | None
) -> None:
    """After the read: a stale analysis gets a background recomputation (debounced)."""
    if state is not None and not state.fresh:
        state.recomputing = analysis_jobs.schedule(
            ctx.db, ctx.request.app.state.jobs, actor, project_id, method, state
        )


@router.get("/projects/{project_id}/quality")
def quality_report(
    project_id: Id,
    ctx: Ctx,
    method: str = METHOD,
    hotspots: int = Query(default=quality.HOTSPOTS, ge=0, le=quality.HOTSPOTS_KEPT),
    fresh: bool = FRESH,
) -> dict[str, Any]:
    """Agreement per field, consensus summary, annotator scorecards, Bradley–Terry scores
    and preference checks, and the tasks annotators disagree on most. ``analysis`` says
    when it was computed and whether answers changed since (then it is being recomputed)."""
    with ctx.read() as (s, actor):
        report = quality.project_report(
            s, actor, project_id, method=method, hotspots=hotspots, fresh=fresh, db=ctx.db
        )
    recompute_if_stale(ctx, actor, project_id, method, report.analysis)
    return quality.as_json(report)  # type: ignore[no-any-return]


@router.get("/projects/{project_id}/quality/acceptance")
def acceptance(
    project_id: Id, ctx: Ctx, method: str = METHOD, fresh: bool = FRESH
) -> dict[str, Any]:
    """Per model version and field: pre-filled answers kept, changed or cleared, agreement
    with and without pre-fill, and the anchoring warnings (docs/quality.md). Part of the
    stored analysis (``method`` picks which one; the section does not depend on it):
    ``analysis`` says when it was computed and whether answers or predictions changed."""
    with ctx.read() as (s, actor):
        report = quality.acceptance_section(
            s, actor, project_id, method=method, fresh=fresh, db=ctx.db
        )
    recompute_if_stale(ctx, actor, project_id, method, report.analysis)
    return quality.as_json(report)  # type: ignore[no-any-return]


@router.get("/projects/{project_id}/consensus")
def consensus(
    project_id: Id,
    ctx: Ctx,
    method: str = METHOD,
    cursor: Cursor = 0,
    limit: int = Query(default=100, ge=1, le=1000),
    fresh: bool = FRESH,
) -> dict[str, Any]:
    """Consensus value and confidence per annotated task and field, in task id order, from
    the project's stored analysis; ``analysis`` says when it was computed and whether
    answers changed since (``fresh=true`` recomputes it first)."""
    with ctx.read() as (s, actor):
        page = quality.consensus_page(
            s,
            actor,
            project_id,
            method=method,
            after_id=cursor,
            limit=limit,
            fresh=fresh,
            db=ctx.db,
        )
    recompute_if_stale(ctx, actor, project_id, method, page.analysis)
    rows = list(page)
    return {
        "items": quality.as_json(rows),
        "next_cursor": rows[-1].task_id if len(rows) == limit else None,
        "analysis": quality.as_json(page.analysis),
    }
