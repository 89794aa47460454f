"""Recomputing a project's stored analysis in the background.

A reader that finds the stored analysis stale asks for a recomputation; requests are
debounced: while one is queued or running for the project and method, no other is made,
and one is delayed until ``DEBOUNCE_SECONDS`` after the last computation, so a project
receiving answers all day is recomputed at most that often however many people read it.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from labelhouse.accounts.policy import Actor
from labelhouse.db.engine import Database
from labelhouse.jobs.models import QUEUED, RUNNING, Job
from labelhouse.jobs.runner import JobRun
from labelhouse.jobs.service import HOUSEKEEPING, Result, create_job
from labelhouse.quality_report.service import refresh_analysis
from labelhouse.quality_report.stored import Freshness

KIND = HOUSEKEEPING[0]
DEBOUNCE_SECONDS = 30.0
log = logging.getLogger("labelhouse.jobs")


def pending(session: Session, project_id: int, method: str) -> Job | None:
    """The queued or running recomputation of this project and method, if any."""
    jobs = session.scalars(
        select(Job).where(
            Job.project_id == project_id, Job.kind == KIND, Job.state.in_([QUEUED, RUNNING])
        )
    ).all()
    return next((j for j in jobs if j.params.get("method") == method), None)


def request_recompute(
    session: Session, actor: Actor, project_id: int, method: str
) -> tuple[Job, bool]:
    """The recomputation job of this project and method: the pending one, or a new one
    (``True``: the caller enqueues it after the commit)."""
    job = pending(session, project_id, method)
    if job is not None:
        return job, False
    job = create_job(session, actor, project_id=project_id, kind=KIND, params={"method": method})
    return job, True


def schedule(
    db: Database, jobs: Any, actor: Actor, project_id: int, method: str, state: Freshness
) -> bool:
    """Make sure a stale analysis gets recomputed; whether a recomputation is now queued or
    running. Failing to queue is logged, never raised: the reader still gets the (stale,
    and marked so) analysis."""
    try:
        with db.session() as s:
            job, new = request_recompute(s, actor, project_id, method)
            job_id = job.id
        if new:
            jobs.enqueue(job_id, delay=max(0.0, DEBOUNCE_SECONDS - state.age_seconds))
        return True
    except Exception:
        log.exception("analysis of project %s (%s): could not queue it", project_id, method)
        return False


def run_analysis(run: JobRun) -> Result:
    """The job: recompute unless what is stored is fresh by now."""
    method = str(run.job.params.get("method") or "majority")
    state = refresh_analysis(run.db, run.job.project_id, method)
    run.control.progress(1, 1)
    return Result(
        "",
        "",
        "",
        0,
        "",
        outcome={
            "method": method,
            "computed_at": state.computed_at.isoformat(),
            "compute_ms": state.compute_ms,
        },
    )
