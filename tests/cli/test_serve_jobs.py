"""`labelhouse serve` runs background jobs itself: a job queued while it runs is done by its
consumer, with nothing else started; SIGTERM stops it cleanly."""

from __future__ import annotations

import signal
import sys
import time

import pytest

from labelhouse.config import Settings
from labelhouse.db.engine import open_database
from labelhouse.jobs.exports import request_export
from labelhouse.jobs.models import Job
from labelhouse.jobs.runtime import Jobs
from tests.cli.test_serve import data_dir, free_port, start_serve, wait_healthy  # noqa: F401
from tests.factories import add_tasks, make_org, make_project, text_rows

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="process checks use Linux")


def test_serve_runs_the_jobs_queued_while_it_runs(data_dir):  # noqa: F811
    settings = Settings(data_dir=data_dir)
    db = open_database(settings.resolved_database_url)
    try:
        owner = make_org(db)
        pid = make_project(db, owner)
        add_tasks(db, owner, pid, text_rows(20))
        port = free_port()
        proc = start_serve(data_dir, port, "--job-threads", "1")
        try:
            wait_healthy(proc, port)
            with db.session() as s:
                job_id = request_export(s, owner.actor, pid, format_name="csv").id
            Jobs(settings, database=db).enqueue(job_id)  # what the API does after its commit
            deadline = time.monotonic() + 30
            while True:
                with db.read_session() as s:
                    state = s.get(Job, job_id).state
                if state == "succeeded" or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            assert state == "succeeded"
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(30) == 0
    finally:
        db.dispose()
