"""Figures for the project overview: progress, work per annotator, activity per day, and
the latest annotations and audit events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Date, case, cast, func, select
from sqlalchemy.orm import Session

from labelhouse.accounts.models import User
from labelhouse.accounts.policy import Actor
from labelhouse.annotations.models import Annotation
from labelhouse.audit import queries as audit_queries
from labelhouse.audit.models import AuditEvent
from labelhouse.projects.models import Project
from labelhouse.projects.service import get_project
from labelhouse.tasks.models import Task
from labelhouse.tasks.service import Progress, progress_by_project

CHART_DAYS = 30


@dataclass
class AnnotatorStats:
    user_id: int
    email: str
    submitted: int
    drafts: int
    mean_seconds: float | None
    last_at: datetime | None


@dataclass
class RecentAnnotation:
    id: int
    task_id: int
    email: str
    status: str
    revision: int
    updated_at: datetime
    task_data: dict[str, Any]


@dataclass
class ProjectEvent:
    event: AuditEvent
    email: str | None


@dataclass
class Overview:
    project: Project
    progress: Progress
    annotators: list[AnnotatorStats]
    per_day: list[tuple[date, int]]
    recent: list[RecentAnnotation]
    events: list[ProjectEvent]


def _day(column: Any, dialect: str) -> Any:
    """The UTC calendar day of a timestamp column. SQLite stores naive UTC text, so
    ``date()`` is already UTC; PostgreSQL's would use the session time zone."""
    if dialect == "postgresql":
        return cast(func.timezone("UTC", column), Date)
    return func.date(column)


def annotations_per_day(
    session: Session, project_id: int, *, days: int = CHART_DAYS, today: date | None = None
) -> list[tuple[date, int]]:
    """Submitted annotations per UTC day (by first save) for the last ``days`` days,
    oldest first, with zero-filled gaps."""
    today = today or datetime.now(UTC).date()
    first = today - timedelta(days=days - 1)
    since = datetime(first.year, first.month, first.day, tzinfo=UTC)
    day = _day(Annotation.created_at, session.get_bind().dialect.name)
    rows = session.execute(
        select(day, func.count())
        .where(
            Annotation.project_id == project_id,
            Annotation.status == "submitted",
            Annotation.created_at >= since,
        )
        .group_by(day)
    )
    counts: dict[date, int] = {}
    for value, n in rows:
        key = value if isinstance(value, date) else date.fromisoformat(str(value))
        counts[key] = counts.get(key, 0) + n
    return [
        (first + timedelta(days=i), counts.get(first + timedelta(days=i), 0)) for i in range(days)
    ]


def annotator_stats(session: Session, project_id: int) -> list[AnnotatorStats]:
    submitted = func.sum(case((Annotation.status == "submitted", 1), else_=0))
    drafts = func.sum(case((Annotation.status == "submitted", 0), else_=1))
    mean_ms = func.avg(case((Annotation.status == "submitted", Annotation.lead_time_ms)))
    rows = session.execute(
        select(User.id, User.email, submitted, drafts, mean_ms, func.max(Annotation.updated_at))
        .join(User, User.id == Annotation.user_id)
        .where(Annotation.project_id == project_id)
        .group_by(User.id, User.email)
        .order_by(submitted.desc(), User.email)
    )
    return [
        AnnotatorStats(
            uid,
            email,
            int(sub or 0),
            int(dr or 0),
            float(ms) / 1000 if ms is not None else None,
            last,
        )
        for uid, email, sub, dr, ms, last in rows
    ]


def recent_annotations(
    session: Session, project_id: int, *, limit: int = 8
) -> list[RecentAnnotation]:
    """The newest annotations by creation (id order walks the primary key backwards and
    stops early; ordering by ``updated_at`` would sort every annotation of the project).
    Later edits show up in the task's history instead."""
    rows = session.execute(
        select(
            Annotation.id,
            Annotation.task_id,
            User.email,
            Annotation.status,
            Annotation.revision,
            Annotation.updated_at,
            Task.data,
        )
        .join(User, User.id == Annotation.user_id)
        .join(Task, Task.id == Annotation.task_id)
        .where(Annotation.project_id == project_id)
        .order_by(Annotation.id.desc())
        .limit(limit)
    )
    return [RecentAnnotation(*row) for row in rows]


def project_overview(session: Session, actor: Actor, project_id: int) -> Overview:
    """Everything the overview page shows, for reviewers and up."""
    actor = actor.in_project(project_id)
    actor.require_lab_reviewer("see the project overview")
    project = get_project(session, actor, project_id)
    events = audit_queries.project_events(session, actor.organization_id, project.id)
    ids = {e.actor_id for e in events if e.actor_id is not None}
    rows = session.execute(select(User.id, User.email).where(User.id.in_(ids))) if ids else []
    emails = {uid: email for uid, email in rows}
    return Overview(
        project=project,
        progress=progress_by_project(session, [project])[project.id],
        annotators=annotator_stats(session, project.id),
        per_day=annotations_per_day(session, project.id),
        recent=recent_annotations(session, project.id),
        events=[ProjectEvent(e, emails.get(e.actor_id)) for e in events],
    )
