"""The audit log page (organization owners): the chain's verification status, a search over
the events (newest first, keyset pages) and a link exporting what the filters select as
JSON lines (``GET /api/audit/export``, same parameters)."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from labelhouse.accounts import audit_log
from labelhouse.audit.queries import MAX_FILTER_LENGTH, AuditFilters
from labelhouse.errors import InvalidInput
from labelhouse.web.api.audit_support import verification
from labelhouse.web.deps import Ctx
from labelhouse.web.pages.common import page_session, render
from labelhouse.web.params import Cursor

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50


def _text() -> str:
    return Query(default="", max_length=MAX_FILTER_LENGTH)  # type: ignore[no-any-return]


def _when() -> str:
    return Query(default="", max_length=40)  # type: ignore[no-any-return]


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    ctx: Ctx,
    cursor: Cursor = 0,
    action: str = _text(),
    actor: str = _text(),
    object_type: str = _text(),
    object_id: str = _text(),
    since: str = _when(),
    until: str = _when(),
    q: str = _text(),
) -> HTMLResponse:
    raw = {
        "action": action,
        "actor": actor,
        "object_type": object_type,
        "object_id": object_id,
        "since": since,
        "until": until,
        "q": q,
    }
    params = {k: v for k, v in raw.items() if v.strip()}
    with page_session(ctx) as (s, me, csrf):
        audit_log.require_owner(me)
        problems: list[str] = []
        try:
            filters = AuditFilters.parse(
                action=action,
                actor=actor,
                object_type=object_type,
                object_id=object_id,
                since=since,
                until=until,
                text=q,
            )
        except InvalidInput as exc:
            filters = None
            problems = [f"{d.field}: {d.problem}" for d in exc.details]
        page = (
            audit_log.newest_first(s, me, filters, before_id=cursor, limit=PAGE_SIZE)
            if filters is not None
            else audit_log.AuditPage([], None)
        )
        return render(
            ctx.request,
            "audit.html",
            actor=me,
            csrf_token=csrf,
            check=verification(ctx, s, me.organization_id),
            rows=page.items,
            values=raw,
            filtering=bool(params),
            problems=problems,
            cursor=cursor,
            first_url=f"?{urlencode(params)}" if params else "?",
            next_url=(
                f"?{urlencode({**params, 'cursor': page.next_cursor})}"
                if page.next_cursor
                else None
            ),
            export_url="/api/audit/export" + (f"?{urlencode(params)}" if params else ""),
        )
