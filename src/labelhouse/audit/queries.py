"""Read queries over the audit log: project pages, and the owner's search (filters)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, Text, cast, or_, select
from sqlalchemy.orm import Session

from labelhouse.audit.models import AuditEvent
from labelhouse.errors import InvalidInput, Problem


def project_events(
    session: Session, organization_id: int, project_id: int, *, limit: int = 10
) -> list[AuditEvent]:
    """The newest events about one project. Scoped by organization like every tenant query
    (object ids are only unique per type, and the type is part of the filter)."""
    return list(
        session.scalars(
            select(AuditEvent)
            .where(
                AuditEvent.organization_id == organization_id,
                AuditEvent.object_type == "project",
                AuditEvent.object_id == str(project_id),
            )
            .order_by(AuditEvent.id.desc())
            .limit(limit)
        )
    )


# -- searching the log (the audit page, GET /api/audit, the JSONL export) -------------------

MAX_FILTER_LENGTH = 200


@dataclass(frozen=True)
class AuditFilters:
    """What the owner looks for; every given filter must hold. ``actor`` is matched by the
    caller (it knows the accounts), as a set of user ids passed to :func:`matching`."""

    action: str | None = None  # prefix: "auth." or "auth.login"
    actor: str | None = None  # part of an e-mail address, any case
    object_type: str | None = None
    object_id: str | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive
    text: str | None = None  # anywhere in the details, any case

    @property
    def active(self) -> bool:
        return any(v is not None for v in self.__dict__.values())

    @classmethod
    def parse(
        cls,
        *,
        action: str = "",
        actor: str = "",
        object_type: str = "",
        object_id: str = "",
        since: str = "",
        until: str = "",
        text: str = "",
    ) -> AuditFilters:
        """From query-string text: empty means no filter. Dates are ``YYYY-MM-DD`` (a day,
        UTC: ``until`` includes that whole day) or ISO 8601 times."""
        problems = [
            Problem(name, f"at most {MAX_FILTER_LENGTH} characters")
            for name, value in (
                ("action", action),
                ("actor", actor),
                ("object_type", object_type),
                ("object_id", object_id),
                ("q", text),
            )
            if len(value) > MAX_FILTER_LENGTH
        ]
        start = _moment(since, "since", problems, end_of_day=False)
        end = _moment(until, "until", problems, end_of_day=True)
        if problems:
            raise InvalidInput("Some filters are not valid.", problems)
        return cls(
            action=action.strip() or None,
            actor=actor.strip() or None,
            object_type=object_type.strip() or None,
            object_id=object_id.strip() or None,
            since=start,
            until=end,
            text=text.strip() or None,
        )


def _moment(value: str, name: str, problems: list[Problem], *, end_of_day: bool) -> datetime | None:
    value = value.strip()
    if not value:
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            moment = datetime.combine(day, time.min, tzinfo=UTC)
            return moment + timedelta(days=1) if end_of_day else moment
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (ValueError, OverflowError):
        problems.append(Problem(name, "a date (YYYY-MM-DD) or an ISO 8601 time"))
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _json_spellings(needle: str) -> list[str]:
    """How ``needle`` can appear in stored JSON text: as written and JSON-escaped (SQLite
    keeps the serialised text, PostgreSQL's JSONB prints non-ASCII as itself)."""
    spellings = [needle, json.dumps(needle)[1:-1], json.dumps(needle, ensure_ascii=False)[1:-1]]
    return list(dict.fromkeys(spellings))


def matching(
    organization_id: int, filters: AuditFilters, actor_ids: Select[Any] | None = None
) -> Select[AuditEvent]:
    """The organization's events matching ``filters``, unordered. ``actor_ids``: a select of
    the user ids whose e-mail matches ``filters.actor`` (required when it is set)."""
    query = select(AuditEvent).where(AuditEvent.organization_id == organization_id)
    if filters.action:
        query = query.where(AuditEvent.action.startswith(filters.action, autoescape=True))
    if filters.actor:
        assert actor_ids is not None, "the caller resolves the actor's e-mail"
        query = query.where(AuditEvent.actor_id.in_(actor_ids.scalar_subquery()))
    if filters.object_type:
        query = query.where(AuditEvent.object_type == filters.object_type)
    if filters.object_id:
        query = query.where(AuditEvent.object_id == filters.object_id)
    if filters.since:
        query = query.where(AuditEvent.created_at >= filters.since)
    if filters.until:
        query = query.where(AuditEvent.created_at < filters.until)
    if filters.text:
        as_text = cast(AuditEvent.details, Text)
        query = query.where(
            or_(*(as_text.icontains(s, autoescape=True) for s in _json_spellings(filters.text)))
        )
    return query
