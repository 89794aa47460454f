"""Streaming export and the audit log."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from labelhouse.accounts import audit_log
from labelhouse.accounts.policy import Actor
from labelhouse.audit.queries import AuditFilters
from labelhouse.exports.service import ExportPlan, finish_export, plan_export
from labelhouse.web.api.audit_support import audit_filters, verification
from labelhouse.web.audit_trail import write_separately
from labelhouse.web.deps import Context, Ctx
from labelhouse.web.params import Cursor, Id

router = APIRouter(prefix="/api", tags=["export"])


@router.get("/projects/{project_id}/export")
def export(
    project_id: Id,
    ctx: Ctx,
    request: Request,
    format: str = Query(
        default="jsonl",
        description="jsonl, json, csv, or a training format (parquet, hf_dataset, "
        "trl_preference, trl_kto, trl_sft, …: docs/export.md)",
    ),
    include_drafts: bool = False,
    content: str = Query(default="raw", description="raw, consensus or both"),
    consensus_method: str = Query(
        default="majority", description="majority, dawid_skene or gold_weighted"
    ),
    csv_formulas: str = Query(
        default="escape",
        description="CSV only: escape (a ' before cells a spreadsheet would run as formulas) "
        "or keep (values exactly, for programs)",
    ),
) -> StreamingResponse:
    """Every task with its annotations and predictions, streamed (memory stays flat).

    ``content=consensus`` replaces the raw annotations by one consensus value per field
    (``"consensus": {field: {"value", "confidence", "method"}}``); ``both`` keeps both.
    In CSV, a text cell starting with ``= + - @``, a tab or a carriage return gets a ``'``
    in front (spreadsheets would run it as a formula) unless ``csv_formulas=keep``.

    Any other query parameter is an option of the format (e.g. ``ties=keep``), checked by
    the format: an unknown one is a 422 naming it."""
    with ctx.write() as (s, actor):
        plan = plan_export(
            s,
            actor,
            project_id,
            format_name=format,
            include_drafts=include_drafts,
            content=content,
            consensus_method=consensus_method,
            csv_formulas=csv_formulas,
            options=format_options(request),
        )
    return stream_export(ctx, plan, actor)


COMMON_PARAMETERS = frozenset(
    {"format", "include_drafts", "content", "consensus_method", "csv_formulas"}
)


def format_options(request: Request) -> dict[str, str]:
    """The query parameters that are the format's own options (the last value of each)."""
    return {k: v for k, v in request.query_params.items() if k not in COMMON_PARAMETERS}


def stream_export(ctx: Context, plan: ExportPlan, actor: Actor) -> StreamingResponse:
    """The streamed download of a planned export, its finish recorded after the last byte."""
    return StreamingResponse(
        _stream(ctx, plan, actor),
        media_type=plan.media_type,
        headers={"content-disposition": f'attachment; filename="{plan.filename}"'},
    )


def _stream(ctx: Context, plan: ExportPlan, actor: Actor) -> Iterator[bytes]:
    with ctx.db.read_session(long_running=True) as session:
        yield from plan.stream(session)
    # After the last byte went out (a download that stops half-way never gets here): the
    # export's second audit event, with the number of records, in its own transaction.
    write_separately(ctx.request, lambda s: finish_export(s, actor, plan))


@router.get("/audit")
def audit_events(
    ctx: Ctx,
    cursor: Cursor = 0,
    limit: int = Query(default=100, ge=1, le=1000),
    filters: AuditFilters = Depends(audit_filters),
) -> dict[str, Any]:
    """The organization's events in chain order (oldest first), filtered like the audit
    page: ``action`` (prefix), ``actor`` (part of an e-mail), ``object_type``,
    ``object_id``, ``since``/``until`` (dates or ISO times, UTC), ``q`` (text in details)."""
    with ctx.read() as (s, actor):
        events = audit_log.oldest_first(s, actor, filters, after_id=cursor, limit=limit)
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


@router.get("/audit/export")
def audit_export(ctx: Ctx, filters: AuditFilters = Depends(audit_filters)) -> StreamingResponse:
    """The matching events as JSON lines (chain order, streamed), with the actor's e-mail
    and each event's hashes. Exporting is itself recorded (``audit.export``)."""
    with ctx.write() as (s, actor):
        audit_log.start_export(s, actor, filters)

    def lines() -> Iterator[bytes]:
        with ctx.db.read_session(long_running=True) as session:
            yield from audit_log.export_lines(session, actor, filters)

    return StreamingResponse(
        lines(),
        media_type="application/x-ndjson",
        headers={"content-disposition": 'attachment; filename="audit-log.jsonl"'},
    )


@router.get("/audit/verify")
def audit_verify(ctx: Ctx) -> dict[str, Any]:
    """The chain checked link by link; with signed checkpoints configured, also against the
    organization's latest checkpoint (``checkpoint``: see docs/audit.md)."""
    with ctx.read() as (s, actor):
        audit_log.require_owner(actor, "verify the audit log")
        return verification(ctx, s, actor.organization_id).as_api()
