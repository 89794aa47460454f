"""Task imports as background jobs: the upload is staged in the storage, imported by a
job (counts in its ``outcome``), and removed once the job has ended, whatever the end."""

from __future__ import annotations

from sqlalchemy import func, select

from labelhouse.accounts.models import Role
from labelhouse.tasks.models import Task
from tests.factories import add_member, jsonl, login, make_project, text_rows
from tests.jobs.conftest import wait_for

NDJSON = {"content-type": "application/x-ndjson"}


def _tasks(db, pid: int) -> int:
    with db.read_session() as s:
        return s.scalar(select(func.count(Task.id)).where(Task.project_id == pid))


def _uploads(settings) -> list:
    folder = settings.resolved_storage_dir / "uploads"
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def test_an_import_job_imports_the_upload_and_reports_its_counts(
    app, db, owner, settings, consumer
):
    pid = make_project(db, owner)
    c = login(app, owner)
    r = c.post(f"/api/projects/{pid}/import/jobs", content=jsonl(text_rows(40)), headers=NDJSON)
    assert r.status_code == 202, r.text
    job = wait_for(db, r.json()["id"])
    assert job.state == "succeeded", job.error
    shown = c.get(f"/api/jobs/{job.id}").json()
    assert shown["kind"] == "import" and shown["result"] is None
    assert shown["outcome"]["rows"] == 40 and shown["outcome"]["created"] == 40
    assert shown["progress"]["done"] == 40
    assert _tasks(db, pid) == 40
    assert _uploads(settings) == []  # the staged upload is gone


def test_an_import_job_with_a_bad_row_fails_naming_it_and_imports_nothing(
    app, db, owner, settings, consumer
):
    pid = make_project(db, owner)
    c = login(app, owner)
    rows = [*text_rows(5), {"external_id": "no-text"}]
    r = c.post(f"/api/projects/{pid}/import/jobs?format=jsonl", content=jsonl(rows), headers=NDJSON)
    job = wait_for(db, r.json()["id"])
    assert job.state == "failed"
    assert "6" in job.error  # the row
    assert _tasks(db, pid) == 0
    assert _uploads(settings) == []


def test_import_jobs_are_for_managers_and_refused_before_the_upload(app, db, owner, settings):
    pid = make_project(db, owner)
    annotator = add_member(db, owner, Role.annotator)
    a = login(app, annotator)
    r = a.post(f"/api/projects/{pid}/import/jobs", content=jsonl(text_rows(3)), headers=NDJSON)
    assert r.status_code == 403
    assert _uploads(settings) == []


def test_a_cancelled_import_job_drops_its_upload(app, db, owner, settings):
    pid = make_project(db, owner)
    c = login(app, owner)
    r = c.post(f"/api/projects/{pid}/import/jobs", content=jsonl(text_rows(3)), headers=NDJSON)
    assert len(_uploads(settings)) == 1
    assert c.post(f"/api/jobs/{r.json()['id']}/cancel").json()["state"] == "cancelled"
    assert _uploads(settings) == []
    assert app.state.jobs.run(r.json()["id"]) == "skipped"
    assert _tasks(db, pid) == 0
