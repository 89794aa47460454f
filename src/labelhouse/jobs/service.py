"""The ``job`` table's use cases: what people do (create, see, list, cancel) and what
workers do (claim, heartbeat, finish, fail), and crash recovery.

Every worker-side write is one conditional ``UPDATE`` fenced by state *and* attempt, so
the outcome of any race (a cancel during the run, a stale worker coming back after its job
was handed to another) is decided by the database, not by timing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from labelhouse.accounts.models import Role
from labelhouse.accounts.policy import Actor
from labelhouse.db.base import utcnow
from labelhouse.errors import Conflict, NotFound
from labelhouse.jobs.models import (
    CANCELLED,
    FAILED,
    FINISHED,
    QUEUED,
    RUNNING,
    SUCCEEDED,
    Job,
)
from labelhouse.projects.service import get_project

# A running job whose heartbeat is older than this was lost (its worker died); it is run
# once more, then failed. Workers beat every few seconds (runner.HEARTBEAT_SECONDS).
STALE_AFTER = timedelta(seconds=60)
MAX_ATTEMPTS = 2
# A queued job whose queue message may have been lost (a crash between commit and
# enqueue) is enqueued again after this; a duplicate message is harmless (claim is fenced).
REENQUEUE_AFTER = timedelta(minutes=10)
# Jobs the system starts for itself (jobs/analysis.py): not listed with people's exports.
HOUSEKEEPING = ("analysis",)


def create_job(
    session: Session,
    actor: Actor,
    *,
    project_id: int,
    kind: str,
    params: dict[str, Any],
) -> Job:
    """A queued job; the caller enqueues its id only after the transaction commits."""
    job = Job(
        organization_id=actor.organization_id,
        project_id=project_id,
        requested_by=actor.user_id,
        kind=kind,
        state=QUEUED,
        params=params,
        progress_done=0,
        attempts=0,
    )
    session.add(job)
    session.flush()
    return job


def get_job(session: Session, actor: Actor, job_id: int) -> Job:
    """A job of a project the actor manages; another organization's, or a project they do
    not see, is a 404 like a missing one."""
    job = session.scalar(
        select(Job).where(Job.id == job_id, Job.organization_id == actor.organization_id)
    )
    missing = NotFound(f"Job {job_id} does not exist.")
    if job is None:
        raise missing
    try:
        scoped = actor.in_project(job.project_id)
    except NotFound:  # a project they do not see: the same answer as no such job
        raise missing from None
    scoped.require(Role.manager, "see export jobs")
    return job


def list_jobs(session: Session, actor: Actor, project_id: int, *, limit: int = 50) -> list[Job]:
    get_project(session, actor, project_id)  # 404 unless the actor sees it, in their org
    actor.in_project(project_id).require(Role.manager, "see export jobs")
    query = (
        select(Job)
        .where(
            Job.project_id == project_id,
            Job.organization_id == actor.organization_id,
            Job.kind.not_in(HOUSEKEEPING),
        )
        .order_by(Job.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def cancel_job(session: Session, actor: Actor, job_id: int) -> Job:
    """Cancel a queued or running job. A running one stops at its next cancel check (its
    worker sees the state at its next heartbeat) and stores nothing."""
    job = get_job(session, actor, job_id)
    done = session.execute(
        update(Job)
        .where(Job.id == job.id, Job.state.in_([QUEUED, RUNNING]))
        .values(state=CANCELLED, finished_at=utcnow(), error="Cancelled.")
        .execution_options(synchronize_session=False)
    ).rowcount
    session.refresh(job)
    if not done:
        raise Conflict(f"Job {job_id} has already {job.state}; there is nothing to cancel.")
    return job


# -- the worker side ---------------------------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    id: int
    attempt: int
    kind: str
    params: dict[str, Any]
    organization_id: int
    project_id: int
    requested_by: int | None


def claim(session: Session, job_id: int) -> Claimed | None:
    """Take a queued job: it becomes ``running`` with the next attempt number; None if it
    is not queued any more (cancelled, or another consumer got a duplicate message)."""
    now = utcnow()
    row = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.state == QUEUED)
        .values(
            state=RUNNING,
            attempts=Job.attempts + 1,
            heartbeat_at=now,
            started_at=now,
            error=None,
        )
        .returning(
            Job.id,
            Job.attempts,
            Job.kind,
            Job.params,
            Job.organization_id,
            Job.project_id,
            Job.requested_by,
        )
        .execution_options(synchronize_session=False)
    ).first()
    return Claimed(*row) if row is not None else None


def _mine(job: Claimed) -> Any:
    return (Job.id == job.id) & (Job.state == RUNNING) & (Job.attempts == job.attempt)


def beat(session: Session, job: Claimed, *, done: int, total: int | None) -> bool:
    """Heartbeat and progress; False when the job is no longer this attempt's to run."""
    return bool(
        session.execute(
            update(Job)
            .where(_mine(job))
            .values(heartbeat_at=utcnow(), progress_done=done, progress_total=total)
            .execution_options(synchronize_session=False)
        ).rowcount
    )


@dataclass(frozen=True)
class Result:
    """A job's stored file; or, with ``key`` empty, only an ``outcome`` to report."""

    key: str
    name: str
    media_type: str
    size: int
    sha256: str
    outcome: dict[str, Any] | None = None


def finish(session: Session, job: Claimed, result: Result | None, *, done: int) -> bool:
    """Mark the attempt succeeded with its stored result; False (and nothing changed) when
    it was cancelled or handed to another attempt meanwhile."""
    values: dict[str, Any] = {
        "state": SUCCEEDED,
        "finished_at": utcnow(),
        "heartbeat_at": utcnow(),
        "progress_done": done,
        "progress_total": done,
    }
    if result is not None and result.outcome is not None:
        values["outcome"] = result.outcome
    if result is not None and result.key:
        values |= {
            "result_key": result.key,
            "result_name": result.name,
            "result_media_type": result.media_type,
            "result_size": result.size,
            "result_sha256": result.sha256,
        }
    return bool(
        session.execute(
            update(Job)
            .where(_mine(job))
            .values(**values)
            .execution_options(synchronize_session=False)
        ).rowcount
    )


def fail(session: Session, job: Claimed, error: str) -> bool:
    return bool(
        session.execute(
            update(Job)
            .where(_mine(job))
            .values(state=FAILED, finished_at=utcnow(), error=error[:2000])
            .execution_options(synchronize_session=False)
        ).rowcount
    )


@dataclass(frozen=True)
class DeadAttempt:
    """An attempt whose worker stopped: what it may have left behind is its to clear."""

    id: int
    attempt: int
    kind: str
    params: dict[str, Any]


@dataclass(frozen=True)
class Recovery:
    requeued: list[int]
    failed: list[int]
    reenqueued: list[int]
    dead: list[DeadAttempt]

    def to_enqueue(self) -> list[int]:
        return self.requeued + self.reenqueued


def recover_stale(
    session: Session,
    *,
    now: datetime | None = None,
    stale_after: timedelta = STALE_AFTER,
    max_attempts: int = MAX_ATTEMPTS,
    reenqueue_after: timedelta = REENQUEUE_AFTER,
) -> Recovery:
    """Running jobs whose worker stopped beating: queued again if they have attempts left
    (the caller enqueues them after commit), else failed with a sentence saying why. Queued
    jobs waiting longer than ``reenqueue_after`` are enqueued again in case their message
    was lost."""
    now = now or utcnow()
    stale = (Job.state == RUNNING) & (Job.heartbeat_at < now - stale_after)
    dead_columns = (Job.id, Job.attempts, Job.kind, Job.params)
    requeued = [
        DeadAttempt(*row)
        for row in session.execute(
            update(Job)
            .where(stale, Job.attempts < max_attempts)
            .values(state=QUEUED, enqueued_at=now, heartbeat_at=None)
            .returning(*dead_columns)
            .execution_options(synchronize_session=False)
        )
    ]
    failed = [
        DeadAttempt(*row)
        for row in session.execute(
            update(Job)
            .where(stale)
            .values(
                state=FAILED,
                finished_at=now,
                error=f"The worker running this job stopped {max_attempts} times; it was "
                "given up. Start it again, and check the worker's log if it keeps failing.",
            )
            .returning(*dead_columns)
            .execution_options(synchronize_session=False)
        )
    ]
    reenqueued = list(
        session.scalars(
            update(Job)
            .where(Job.state == QUEUED, Job.enqueued_at < now - reenqueue_after)
            .values(enqueued_at=now)
            .returning(Job.id)
            .execution_options(synchronize_session=False)
        )
    )
    return Recovery([d.id for d in requeued], [d.id for d in failed], reenqueued, requeued + failed)


def is_finished(job: Job) -> bool:
    return job.state in FINISHED
