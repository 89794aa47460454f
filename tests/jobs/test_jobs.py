"""Background export jobs on a real consumer (huey on a thread), SQLite and PostgreSQL:
lifecycle, progress, cancellation, recovery of a job whose worker died."""

from __future__ import annotations

import hashlib
import itertools
import threading
import time
from datetime import timedelta

from labelhouse.db.base import utcnow
from labelhouse.jobs import service
from labelhouse.jobs.models import Job
from labelhouse.jobs.runner import JobRun, execute
from labelhouse.jobs.service import Result
from tests.factories import login
from tests.jobs.conftest import wait_for


def test_an_export_job_runs_to_the_end_and_its_file_is_the_streamed_export(
    app, db, owner, project, consumer
):
    c = login(app, owner)
    r = c.post(f"/api/projects/{project}/exports", json={"format": "csv", "content": "both"})
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["state"] == "queued" and job["kind"] == "export" and job["result"] is None

    done = wait_for(db, job["id"])
    assert done.state == "succeeded", done.error
    shown = c.get(f"/api/jobs/{job['id']}").json()
    assert shown["progress"] == {"done": 12, "total": 12, "fraction": 1.0}
    assert shown["attempts"] == 1
    body = c.get(shown["result"]["download_url"]).content
    streamed = c.get(f"/api/projects/{project}/export?format=csv&content=both").content
    assert body == streamed
    assert shown["result"]["size"] == len(body)
    assert shown["result"]["sha256"] == hashlib.sha256(body).hexdigest()
    assert [j["id"] for j in c.get(f"/api/projects/{project}/jobs").json()["items"]] == [job["id"]]


def test_export_jobs_take_the_parameters_of_the_streamed_export(app, db, owner, project):
    c = login(app, owner)
    bad = c.post(f"/api/projects/{project}/exports?format=xml")
    assert bad.status_code == 422
    assert bad.json()["error"]["details"][0]["field"] == "format"
    unknown = c.post(f"/api/projects/{project}/exports?format=jsonl&colour=red")
    assert unknown.status_code == 422  # an option the format does not have
    ok = c.post(f"/api/projects/{project}/exports?format=jsonl&include_drafts=true")
    assert ok.status_code == 202
    with db.read_session() as s:
        assert s.get(Job, ok.json()["id"]).params["include_drafts"] is True


def test_a_queued_job_cancelled_never_runs(app, db, owner, project):
    c = login(app, owner)
    job_id = c.post(f"/api/projects/{project}/exports", json={}).json()["id"]
    r = c.post(f"/api/jobs/{job_id}/cancel")
    assert r.status_code == 200 and r.json()["state"] == "cancelled"
    assert app.state.jobs.run(job_id) == "skipped"  # its queue message arrives later
    assert c.get(f"/api/jobs/{job_id}/download").status_code == 409
    again = c.post(f"/api/jobs/{job_id}/cancel")
    assert again.status_code == 409


def _endless(run: JobRun) -> Result:
    """A job that writes until it is cancelled (the cancel check is in ``run.store``)."""

    def chunks():
        for i in itertools.count():
            run.control.progress(i, None)
            time.sleep(0.01)
            yield b"x" * 1024

    size, sha = run.store(f"jobs/{run.job.id}/{run.job.attempt}/out.bin", chunks())
    return Result(f"jobs/{run.job.id}/{run.job.attempt}/out.bin", "out.bin", "x", size, sha)


def test_a_running_job_cancelled_stops_and_stores_nothing(app, db, owner, project, tmp_path):
    c = login(app, owner)
    job_id = c.post(f"/api/projects/{project}/exports", json={}).json()["id"]
    outcome: list[str] = []
    worker = threading.Thread(
        target=lambda: outcome.append(
            execute(
                db,
                app.state.storage,
                job_id,
                work_dir=tmp_path / "work",
                handlers={"export": _endless},
                heartbeat_seconds=0.05,
            )
        )
    )
    worker.start()
    deadline = time.monotonic() + 20
    while c.get(f"/api/jobs/{job_id}").json()["progress"]["done"] < 3:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert c.post(f"/api/jobs/{job_id}/cancel").json()["state"] == "cancelled"
    worker.join(20)
    assert outcome == ["cancelled"]
    assert not app.state.storage.exists(f"jobs/{job_id}/1/out.bin")
    assert list((tmp_path / "work").iterdir()) == []  # the temporary file is gone too
    job = wait_for(db, job_id)
    assert job.state == "cancelled" and job.result_key is None


def test_a_failing_job_is_failed_with_a_sentence(app, db, owner, project, tmp_path):
    c = login(app, owner)
    job_id = c.post(f"/api/projects/{project}/exports", json={}).json()["id"]

    def broken(run: JobRun) -> Result:
        raise OSError(28, "No space left on device")

    state = execute(db, app.state.storage, job_id, work_dir=tmp_path, handlers={"export": broken})
    assert state == "failed"
    shown = c.get(f"/api/jobs/{job_id}").json()
    assert shown["state"] == "failed"
    assert "No space left on device" in shown["error"]


def test_a_job_whose_worker_stopped_beating_is_retried_once_then_failed(app, db, owner, project):
    c = login(app, owner)
    job_id = c.post(f"/api/projects/{project}/exports", json={}).json()["id"]
    later = utcnow() + timedelta(minutes=5)
    with db.session() as s:
        first = service.claim(s, job_id)
    assert first is not None and first.attempt == 1
    with db.session() as s:
        found = service.recover_stale(s, now=later)
    assert found.requeued == [job_id] and found.failed == []
    with db.session() as s:
        second = service.claim(s, job_id)
    assert second is not None and second.attempt == 2
    # The first attempt's worker comes back: it may no longer beat, finish or fail.
    with db.session() as s:
        assert not service.beat(s, first, done=1, total=2)
        assert not service.finish(s, first, None, done=1)
        assert not service.fail(s, first, "late")
    with db.session() as s:
        found = service.recover_stale(s, now=later)
    assert found.failed == [job_id]
    shown = c.get(f"/api/jobs/{job_id}").json()
    assert shown["state"] == "failed" and shown["attempts"] == 2
    assert "stopped 2 times" in shown["error"]


def test_a_queued_job_is_enqueued_again_when_its_message_may_be_lost(app, db, owner, project):
    c = login(app, owner)
    job_id = c.post(f"/api/projects/{project}/exports", json={}).json()["id"]
    with db.session() as s:
        assert service.recover_stale(s).reenqueued == []  # just queued: left alone
    with db.session() as s:
        found = service.recover_stale(s, now=utcnow() + timedelta(hours=1))
    assert found.reenqueued == [job_id]


def test_jobs_and_their_files_are_only_for_the_projects_managers(app, db, owner, project):
    from labelhouse.accounts.models import Role
    from tests.factories import add_member

    annotator = add_member(db, owner, Role.annotator)
    c = login(app, owner)
    job_id = c.post(f"/api/projects/{project}/exports", json={}).json()["id"]
    a = login(app, annotator)
    assert a.get(f"/api/jobs/{job_id}").status_code == 403
    assert a.post(f"/api/projects/{project}/exports", json={}).status_code == 403
    assert a.get(f"/api/jobs/{job_id + 1000}").status_code == 404


def test_recovery_deletes_the_complete_files_a_dead_attempt_stored(app, db, owner, project):
    import io

    c = login(app, owner)
    job_id = c.post(f"/api/projects/{project}/exports", json={"format": "csv"}).json()["id"]
    with db.session() as s:
        service.claim(s, job_id)
    storage = app.state.storage
    # The attempt stored its file, then died before the transaction that names it.
    storage.put(f"jobs/{job_id}/1/export.csv", io.BytesIO(b"a,b\n"))
    found = app.state.jobs.recover(now=utcnow() + timedelta(minutes=5))
    assert found.requeued == [job_id]
    assert not storage.exists(f"jobs/{job_id}/1/export.csv")
