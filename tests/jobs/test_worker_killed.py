"""A ``labelhouse jobs worker`` process killed with SIGKILL in the middle of an export: the
job is left running with no file stored; recovery runs it again (attempt 2), which stores
the complete file; nothing half-written is ever referenced."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest

from labelhouse.db.base import utcnow
from labelhouse.jobs.models import Job
from tests.factories import add_tasks, login, make_project, text_rows
from tests.jobs.conftest import wait_for

TASKS = 15_000  # an export of some hundreds of milliseconds here: time to stop it inside


def _state(db, job_id: int) -> str:
    with db.read_session() as s:
        return s.get(Job, job_id).state


@pytest.mark.slow
def test_a_worker_killed_mid_job_leaves_no_file_and_the_job_is_run_again(
    app, db, owner, settings, db_url
):
    pid = make_project(db, owner)
    add_tasks(db, owner, pid, text_rows(TASKS))
    c = login(app, owner)
    env = {**os.environ, "LABELHOUSE_DATABASE_URL": db_url, "PYTHONPATH": os.pathsep.join(sys.path)}
    worker = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from labelhouse.cli.main import app; sys.argv[0] = 'labelhouse'; app()",
            "jobs",
            "worker",
            "--threads",
            "1",
            "--data-dir",
            str(settings.data_dir),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        job_id = c.post(f"/api/projects/{pid}/exports", json={"format": "csv"}).json()["id"]
        deadline = time.monotonic() + 60
        while _state(db, job_id) == "queued":
            assert time.monotonic() < deadline, "the worker never took the job"
            time.sleep(0.005)
        worker.send_signal(signal.SIGSTOP)  # frozen mid-job, then killed
        assert _state(db, job_id) == "running", "the export finished before it could be stopped"
        worker.kill()
        worker.wait(10)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(10)

    with db.read_session() as s:
        job = s.get(Job, job_id)
        assert job.state == "running" and job.result_key is None and job.attempts == 1
    stored = settings.resolved_storage_dir / "jobs" / str(job_id)
    assert not stored.exists() or not any(p.is_file() for p in stored.rglob("*"))

    jobs = app.state.jobs
    found = jobs.recover(now=utcnow() + timedelta(minutes=5))
    assert found.requeued == [job_id]
    assert not list(jobs.work_dir.glob(f"job-{job_id}-*"))  # its temporary file, cleared
    assert jobs.run(job_id) == "succeeded"  # what the next worker does with the message
    job = wait_for(db, job_id)
    assert job.attempts == 2 and job.result_key == f"jobs/{job_id}/2/export.csv"
    body = c.get(f"/api/jobs/{job_id}/download").content
    assert hashlib.sha256(body).hexdigest() == job.result_sha256
    assert body == c.get(f"/api/projects/{pid}/export?format=csv").content
