"""The heartbeat of open pages: renewing a lease for another full term.

A page that shows a task renews its lease every minute while it is open, so the project's
lease can be short (10 minutes by default): an abandoned task returns to the queue soon,
while nobody working loses theirs. Giving a lease back is :func:`queue.release`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from labelhouse.accounts.policy import Actor
from labelhouse.db.base import utcnow
from labelhouse.errors import Conflict, NotFound
from labelhouse.projects.models import Project
from labelhouse.tasks.models import Assignment
from labelhouse.tasks.queue import EXPIRED, LEASED, SKIPPED, SUBMITTED

_A: Table = Assignment.__table__  # type: ignore[assignment]
_P: Table = Project.__table__  # type: ignore[assignment]


@dataclass
class Renewal:
    expires_at: datetime
    lease_seconds: int


_LEASE_OF = (
    select(_A.c.id, _A.c.status, _P.c.id.label("project_id"), _P.c.lease_seconds)
    .join(_P, _P.c.id == _A.c.project_id)
    .where(
        _A.c.task_id == bindparam("tid"),
        _A.c.user_id == bindparam("uid"),
        _P.c.organization_id == bindparam("org"),
    )
)
_RENEW = (
    update(_A)
    .where(_A.c.id == bindparam("aid"), _A.c.status == LEASED)
    .values(expires_at=bindparam("until"))
    .returning(_A.c.id)
)
_ENDED = {
    SUBMITTED: "Your lease on task {task} ended when you submitted it; ask for your next task.",
    SKIPPED: "You skipped task {task}, so it is no longer yours; ask for your next task.",
    EXPIRED: "Your lease on task {task} expired and the task went back to the queue. Your "
    "answer can still be submitted while the task needs annotators; otherwise ask for your "
    "next task.",
}


def renew(session: Session, actor: Actor, task_id: int, *, now: datetime | None = None) -> Renewal:
    """Heartbeat of an open annotate page: the lease runs a full ``lease_seconds`` from now,
    so a short lease frees abandoned tasks soon while open pages keep theirs. A lease past
    its time that no claim has taken back yet is still this person's slot and is renewed.
    An ended lease (submitted, skipped, taken back) is a Conflict saying which; someone
    else's, a released one or none at all is NotFound, like a missing task."""
    now = now or utcnow()
    conn = session.connection()
    params = {"tid": task_id, "uid": actor.user_id, "org": actor.organization_id}
    row = conn.execute(_LEASE_OF, params).first()
    if row is None or not actor.can_see_project(row.project_id):
        raise NotFound(f"You hold no lease on task {task_id}.")
    status = row.status
    if status == LEASED:
        until = now + timedelta(seconds=row.lease_seconds)
        if conn.execute(_RENEW, {"aid": row.id, "until": until}).first() is not None:
            return Renewal(until, row.lease_seconds)
        status = EXPIRED  # a claim's sweep took it back a moment ago
    raise Conflict(_ENDED.get(status, _ENDED[EXPIRED]).format(task=task_id))
