"""Append to and verify the organization's hash-chained audit log.

Each event stores the hash of its predecessor, so editing or deleting a past event breaks
the chain at that point; database triggers additionally refuse UPDATE and DELETE.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from labelhouse.audit.models import AuditEvent
from labelhouse.db.base import utcnow

GENESIS = "0" * 64


def _event_hash(prev_hash: str, event: AuditEvent) -> str:
    payload = orjson.dumps(
        [
            prev_hash,
            event.organization_id,
            event.actor_id,
            event.action,
            event.object_type,
            event.object_id,
            event.details,
            event.created_at.isoformat(timespec="microseconds"),
        ],
        option=orjson.OPT_SORT_KEYS,
    )
    return hashlib.sha256(payload).hexdigest()


def record(
    session: Session,
    *,
    organization_id: int,
    actor_id: int | None,
    action: str,
    object_type: str,
    object_id: int | str,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    if session.get_bind().dialect.name == "postgresql":
        # Serialise appends per organization so two writers cannot fork the chain.
        session.execute(text("SELECT pg_advisory_xact_lock(7316, :org)"), {"org": organization_id})
    last = session.scalar(
        select(AuditEvent.hash)
        .where(AuditEvent.organization_id == organization_id)
        .order_by(AuditEvent.id.desc())
        .limit(1)
    )
    event = AuditEvent(
        organization_id=organization_id,
        actor_id=actor_id,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        details=details or {},
        created_at=utcnow(),
        prev_hash=last or GENESIS,
    )
    event.hash = _event_hash(event.prev_hash, event)
    session.add(event)
    session.flush()
    return event


def verify_chain(session: Session, organization_id: int) -> tuple[int, int | None]:
    """Return (events checked, id of the first broken event or None)."""
    prev = GENESIS
    count = 0
    rows = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.organization_id == organization_id)
        .order_by(AuditEvent.id)
        .execution_options(yield_per=1000)
    )
    for event in rows:
        count += 1
        if event.prev_hash != prev or _event_hash(prev, event) != event.hash:
            return count, event.id
        prev = event.hash
    return count, None


def list_events(
    session: Session, organization_id: int, *, after_id: int = 0, limit: int = 100
) -> list[AuditEvent]:
    return list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.organization_id == organization_id, AuditEvent.id > after_id)
            .order_by(AuditEvent.id)
            .limit(limit)
        )
    )
