"""Fixtures for the jobs tests: a project with answers, a consumer on a thread, polling."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from labelhouse.accounts.models import Role
from labelhouse.annotations import service as annotations
from labelhouse.db.engine import Database
from labelhouse.jobs.models import FINISHED, Job
from labelhouse.jobs.runtime import ConsumerThread, Jobs
from labelhouse.tasks import queue
from tests.factories import Member, add_member, add_tasks, make_project, text_rows


def annotate(db: Database, member: Member, project_id: int, labels: list[str]) -> None:
    """``member`` takes tasks from the queue and answers them with ``labels`` in turn."""
    actor = member.actor
    with db.session() as s:
        for label in labels:
            lease = queue.claim_next(s, actor, project_id)
            assert lease is not None
            annotations.save(s, actor, lease.task.id, value={"label": label})


@pytest.fixture
def project(db: Database, owner: Member) -> int:
    """Twelve tasks; two annotators answered eight of them (agreeing on some)."""
    pid = make_project(db, owner, overlap=2)
    add_tasks(db, owner, pid, text_rows(12))
    a, b = add_member(db, owner, Role.annotator), add_member(db, owner, Role.annotator)
    annotate(db, a, pid, ["pos", "neg", "pos", "neu", "pos", "neg", "pos", "pos"])
    annotate(db, b, pid, ["pos", "pos", "pos", "neu", "neg", "neg", "pos", "neu"])
    return pid


@pytest.fixture
def consumer(app: Any) -> Iterator[ConsumerThread]:
    """huey's consumer on a thread, running the app's jobs (heartbeats every 0.2 s)."""
    jobs: Jobs = app.state.jobs
    jobs.heartbeat_seconds = 0.2
    running = ConsumerThread(jobs, threads=2).start()
    yield running
    running.consumer.stop(graceful=True)


def wait_for(db: Database, job_id: int, timeout: float = 60) -> Job:
    """The job once it has finished (fails the test after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        with db.read_session() as s:
            job = s.get(Job, job_id)
            assert job is not None
            s.expunge(job)
        if job.state in FINISHED:
            return job
        assert time.monotonic() < deadline, f"job {job_id} still {job.state}"
        time.sleep(0.05)
