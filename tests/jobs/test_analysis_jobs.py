"""A stale stored analysis is recomputed by a background job (debounced: one job for many
reads), and the API and the quality page say how old what they show is."""

from __future__ import annotations

from sqlalchemy import select

from labelhouse.accounts.models import Role
from labelhouse.jobs import analysis as analysis_jobs
from labelhouse.jobs.models import Job
from labelhouse.quality_report import service as quality
from tests.factories import add_member, login
from tests.jobs.conftest import annotate, wait_for


def _analysis_jobs(db):
    with db.read_session() as s:
        jobs = s.scalars(select(Job).where(Job.kind == analysis_jobs.KIND)).all()
        for job in jobs:
            s.expunge(job)
        return jobs


def test_a_stale_analysis_is_recomputed_in_the_background(
    app, db, owner, project, monkeypatch, request
):
    # as if the project were large: a stale analysis is shown, not recomputed in the request
    monkeypatch.setattr(quality, "SYNC_ANSWERS", 0)
    monkeypatch.setattr(analysis_jobs, "DEBOUNCE_SECONDS", 0.0)
    c = login(app, owner)
    first = c.get(f"/api/projects/{project}/quality").json()["analysis"]
    assert first["fresh"] is True and first["recomputing"] is False
    assert _analysis_jobs(db) == []

    annotate(db, add_member(db, owner, Role.annotator), project, ["neg"])
    r = c.get(f"/api/projects/{project}/consensus")
    assert r.status_code == 200, r.text
    stale = r.json()["analysis"]
    assert stale["fresh"] is False and stale["new_answers"] == 1 and stale["recomputing"] is True
    assert stale["computed_at"] == first["computed_at"]
    page = c.get(f"/projects/{project}/quality")
    assert page.status_code == 200
    assert "1 new answer since — recomputing." in page.text
    assert 'data-fresh="false"' in page.text and "fresh=1" in page.text
    (job,) = _analysis_jobs(db)  # debounced: one job for the reads above
    assert job.state == "queued" and job.params == {"method": "majority"}
    # housekeeping: not listed with the project's export jobs
    assert c.get(f"/api/projects/{project}/jobs").json()["items"] == []

    request.getfixturevalue("consumer")  # now a worker runs it
    done = wait_for(db, job.id)
    assert done.state == "succeeded", done.error
    assert done.outcome["method"] == "majority"
    now = c.get(f"/api/projects/{project}/quality").json()
    assert now["analysis"]["fresh"] is True and now["analysis"]["new_answers"] == 0
    assert now["analysis"]["computed_at"] > first["computed_at"]
    assert now["annotations"] == 17
    page = c.get(f"/projects/{project}/quality").text
    assert 'data-fresh="true"' in page and "from every answer so far" in page
    assert len(_analysis_jobs(db)) == 1


def test_fresh_asks_for_a_recomputation_now(app, db, owner, project, monkeypatch):
    monkeypatch.setattr(quality, "SYNC_ANSWERS", 0)
    c = login(app, owner)
    first = c.get(f"/api/projects/{project}/consensus?method=dawid_skene").json()
    annotate(db, add_member(db, owner, Role.annotator), project, ["neg"])
    forced = c.get(f"/api/projects/{project}/consensus?method=dawid_skene&fresh=1").json()
    assert forced["analysis"]["fresh"] is True
    assert forced["analysis"]["computed_at"] > first["analysis"]["computed_at"]
    assert len(forced["items"]) == len(first["items"]) + 1
    assert _analysis_jobs(db) == []
