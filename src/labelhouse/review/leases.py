"""Reviewer leases: the task a reviewer is shown is theirs until the lease expires.

Without them every reviewer asking for work got the same first task and all but one of
their decisions ended in a Conflict. The invariant "one live lease per task" is the
``review_lease`` primary key, not this code: a lease is taken with one
``INSERT … ON CONFLICT (task_id) DO UPDATE … WHERE <the old lease expired or is ours>``.
On PostgreSQL two reviewers reaching for the same task collide on that key — the second
waits for the first to commit, then finds a live lease, updates nothing and moves on; on
SQLite writers take turns at the database's write gate (``db/engine.py``), so the queue's
read-then-lease is serialised anyway. Leases last the project's ``lease_seconds`` (the
same setting as the annotators' work queue); expired ones are taken over lazily.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Table, delete, exists, or_, select
from sqlalchemy.orm import Session

from labelhouse.db.dialect import dialect_insert
from labelhouse.review.models import ReviewLease
from labelhouse.tasks.models import Task

_L: Table = ReviewLease.__table__  # type: ignore[assignment]


def leased_by_other(reviewer_id: int, now: datetime) -> ColumnElement[bool]:
    """A filter on ``Task``: someone else holds a live lease on it."""
    return exists().where(
        ReviewLease.task_id == Task.id,
        ReviewLease.reviewer_id != reviewer_id,
        ReviewLease.expires_at > now,
    )


def held(session: Session, project_id: int, reviewer_id: int, now: datetime) -> list[Any]:
    """The reviewer's live leases in the project as ``(task_id, expires_at)`` rows (normally
    one; two only if the same reviewer raced themselves)."""
    return list(
        session.execute(
            select(ReviewLease.task_id, ReviewLease.expires_at)
            .where(
                ReviewLease.project_id == project_id,
                ReviewLease.reviewer_id == reviewer_id,
                ReviewLease.expires_at > now,
            )
            .order_by(ReviewLease.task_id)
        )
    )


def release_own(session: Session, project_id: int, reviewer_id: int) -> None:
    """Give back whatever the reviewer holds in the project (they moved on or skipped)."""
    session.execute(
        delete(ReviewLease)
        .where(ReviewLease.project_id == project_id, ReviewLease.reviewer_id == reviewer_id)
        .execution_options(synchronize_session=False)
    )


def release_task(session: Session, task_id: int) -> None:
    """A decision was recorded: nobody needs to hold the task any more."""
    session.execute(
        delete(ReviewLease)
        .where(ReviewLease.task_id == task_id)
        .execution_options(synchronize_session=False)
    )


def renew(
    session: Session, *, task_id: int, reviewer_id: int, now: datetime, seconds: int
) -> datetime | None:
    """The open review page's heartbeat: the reviewer's lease on the task runs ``seconds``
    from now. A lease past its time that nobody took over is still theirs and is renewed;
    None when they hold none (the task was decided, or another reviewer took it over)."""
    expires_at = now + timedelta(seconds=seconds)
    stmt = (
        _L.update()
        .where(_L.c.task_id == task_id, _L.c.reviewer_id == reviewer_id)
        .values(expires_at=expires_at)
        .returning(_L.c.expires_at)
    )
    return session.execute(stmt).scalar()  # type: ignore[no-any-return]


def take(
    session: Session,
    *,
    project_id: int,
    task_id: int,
    reviewer_id: int,
    now: datetime,
    seconds: int,
) -> datetime | None:
    """Lease the task to the reviewer; its expiry, or None when another reviewer holds a live
    lease on it (they got there first)."""
    expires_at = now + timedelta(seconds=seconds)
    stmt = dialect_insert(session, _L).values(
        task_id=task_id,
        project_id=project_id,
        reviewer_id=reviewer_id,
        leased_at=now,
        expires_at=expires_at,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[_L.c.task_id],
        set_={
            "reviewer_id": stmt.excluded.reviewer_id,
            "leased_at": stmt.excluded.leased_at,
            "expires_at": stmt.excluded.expires_at,
        },
        where=or_(_L.c.expires_at <= now, _L.c.reviewer_id == reviewer_id),
    ).returning(_L.c.expires_at)
    return session.execute(stmt).scalar()  # type: ignore[no-any-return]
