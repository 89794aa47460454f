"""Streaming export and the audit log."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from labelhouse.accounts.models import Role
from labelhouse.audit import service as audit
from labelhouse.exports.service import plan_export
from labelhouse.web.deps import Context, Ctx
from labelhouse.web.params import Cursor, Id

router = APIRouter(prefix="/api", tags=["export"])


@router.get("/projects/{project_id}/export")
def export(
    project_id: Id,
    ctx: Ctx,
    format: str = Query(default="jsonl", description="jsonl, json or csv"),
    include_drafts: bool = False,
    content: str = Query(default="raw", description="raw, consensus or both"),
    consensus_method: str = Query(
        default="majority", description="majority, dawid_skene or gold_weighted"
    ),
) -> StreamingResponse:
    """Every task with its annotations and predictions, streamed (memory stays flat).

    ``content=consensus`` replaces the raw annotations by one consensus value per field
    (``"consensus": {field: {"value", "confidence", "method"}}``); ``both`` keeps both."""
    with ctx.write() as (s, actor):
        plan = plan_export(
            s,
            actor,
            project_id,
            format_name=format,
            include_drafts=include_drafts,
            content=content,
            consensus_method=consensus_method,
        )
    return StreamingResponse(
        _stream(ctx, plan),
        media_type=plan.fmt.media_type,
        headers={"content-disposition": f'attachment; filename="{plan.filename}"'},
    )


def _stream(ctx: Context, plan: Any) -> Iterator[bytes]:
    with ctx.db.read_session() as session:
        yield from plan.stream(session)


@router.get("/audit")
def audit_events(
    ctx: Ctx, cursor: Cursor = 0, limit: int = Query(default=100, ge=1, le=1000)
) -> dict[str, Any]:
    with ctx.read() as (s, actor):
        actor.require(Role.owner, "read the audit log")
        events = audit.list_events(s, actor.organization_id, after_id=cursor, limit=limit)
        items = [
            {
                "id": e.id,
                "actor_id": e.actor_id,
                "action": e.action,
                "object_type": e.object_type,
                "object_id": e.object_id,
                "details": e.details,
                "created_at": e.created_at,
                "hash": e.hash,
            }
            for e in events
        ]
    return {"items": items, "next_cursor": items[-1]["id"] if len(items) == limit else None}


@router.get("/audit/verify")
def audit_verify(ctx: Ctx) -> dict[str, Any]:
    with ctx.read() as (s, actor):
        actor.require(Role.owner, "verify the audit log")
        checked, broken = audit.verify_chain(s, actor.organization_id)
    return {"events": checked, "intact": broken is None, "first_broken_id": broken}
