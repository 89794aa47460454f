"""The owner's view of the organization's audit log: search, pages, JSONL export.

Lives beside the accounts because the search names people by e-mail (the log itself only
stores user ids); the filters and the select builder are :mod:`labelhouse.audit.queries`.
Only organization owners read the log, and only their organization's chain.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from labelhouse.accounts.models import Role, User
from labelhouse.accounts.policy import Actor
from labelhouse.audit import service as audit
from labelhouse.audit.models import AuditEvent
from labelhouse.audit.queries import AuditFilters, matching


def require_owner(actor: Actor, action: str = "read the audit log") -> None:
    actor.require_org(Role.owner, action)


def _query(actor: Actor, filters: AuditFilters) -> Select[Any]:
    ids = (
        select(User.id).where(User.email.icontains(filters.actor, autoescape=True))
        if filters.actor
        else None
    )
    return (
        matching(actor.organization_id, filters, ids)
        .add_columns(User.email)
        .outerjoin(User, User.id == AuditEvent.actor_id)
    )


@dataclass
class AuditPage:
    items: list[tuple[AuditEvent, str | None]]  # (event, the actor's e-mail)
    next_cursor: int | None


def newest_first(
    session: Session, actor: Actor, filters: AuditFilters, *, before_id: int = 0, limit: int = 50
) -> AuditPage:
    """One page, newest first; ``before_id`` is the previous page's ``next_cursor``."""
    require_owner(actor)
    query = _query(actor, filters)
    if before_id:
        query = query.where(AuditEvent.id < before_id)
    rows = [
        (e, email)
        for e, email in session.execute(query.order_by(AuditEvent.id.desc()).limit(limit + 1))
    ]
    more = len(rows) > limit
    rows = rows[:limit]
    return AuditPage(rows, rows[-1][0].id if more and rows else None)


def oldest_first(
    session: Session, actor: Actor, filters: AuditFilters, *, after_id: int = 0, limit: int = 100
) -> list[AuditEvent]:
    """Chain order (the API's pages), after ``after_id``."""
    require_owner(actor)
    query = _query(actor, filters).where(AuditEvent.id > after_id)
    return [e for e, _ in session.execute(query.order_by(AuditEvent.id).limit(limit))]


def start_export(session: Session, actor: Actor, filters: AuditFilters) -> None:
    """Check and record an export of the log (the export itself is an audited act)."""
    require_owner(actor, "export the audit log")
    audit.record(
        session,
        organization_id=actor.organization_id,
        actor_id=actor.user_id,
        action="audit.export",
        object_type="organization",
        object_id=actor.organization_id,
        details={k: _plain(v) for k, v in filters.__dict__.items() if v is not None},
    )


def _plain(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def export_lines(session: Session, actor: Actor, filters: AuditFilters) -> Iterator[bytes]:
    """Every matching event as one JSON line, in chain order, streamed. With ``prev_hash``
    and ``hash``, an unfiltered export can be re-verified offline (docs/audit.md)."""
    query = _query(actor, filters).order_by(AuditEvent.id).execution_options(yield_per=500)
    for event, email in session.execute(query):
        yield orjson.dumps(
            {
                "id": event.id,
                "created_at": event.created_at,
                "organization_id": event.organization_id,
                "actor_id": event.actor_id,
                "actor_email": email,
                "action": event.action,
                "object_type": event.object_type,
                "object_id": event.object_id,
                "details": event.details,
                "prev_hash": event.prev_hash,
                "hash": event.hash,
            },
            option=orjson.OPT_APPEND_NEWLINE,
        )
