"""The annotate page's progress counter (issue 13): ``progress`` in the /next answer and in
submit-and-next — done today, done in the project, remaining for the caller — counted the
way the queue serves tasks (both databases)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from labelhouse.accounts.models import Role
from labelhouse.tasks import progress as progress_module
from labelhouse.tasks.models import Assignment
from labelhouse.tasks.routing import Slot
from tests.factories import add_member, add_tasks, login, make_project, text_rows
from tests.helpers_data import error_of, tasks_of
from tests.tasks.test_routing import route, workforce

ASK = {"progress": "1"}


@pytest.fixture
def project(db, owner):
    pid = make_project(db, owner, overlap=2)
    add_tasks(db, owner, pid, text_rows(6))
    return pid


def next_body(c, pid, **params):
    r = c.post(f"/api/projects/{pid}/next", params={**ASK, **params})
    assert r.status_code == 200, r.text
    return r.json()


def submit_next(c, task_id, label="pos", **params):
    r = c.post(
        f"/api/tasks/{task_id}/annotations",
        params={"next": "1", **ASK, **params},
        json={"value": {"label": label}},
    )
    assert r.status_code == 200, r.text
    return r.json()["next"]


def test_progress_is_only_sent_when_asked(app, annotator, project):
    c = login(app, annotator)
    plain = c.post(f"/api/projects/{project}/next").json()
    assert "progress" not in plain
    task = plain["task"]["id"]
    r = c.post(f"/api/tasks/{task}/annotations?next=1", json={"value": {"label": "pos"}})
    assert "progress" not in r.json()["next"]


def test_progress_after_each_submit_and_skip(app, db, owner, annotator, project):
    c = login(app, annotator)
    body = next_body(c, project)
    # six tasks left, the one on screen included
    assert body["progress"] == {
        "done_today": 0,
        "done": 0,
        "remaining": 6,
        "remaining_capped": False,
    }
    nxt = submit_next(c, body["task"]["id"])
    assert nxt["progress"] == {
        "done_today": 1,
        "done": 1,
        "remaining": 5,
        "remaining_capped": False,
    }
    nxt = submit_next(c, nxt["task"]["id"])
    assert (nxt["progress"]["done"], nxt["progress"]["remaining"]) == (2, 4)
    # a skip: not done, and no longer remaining
    assert c.post(f"/api/tasks/{nxt['task']['id']}/skip").status_code == 204
    after = next_body(c, project)["progress"]
    assert (after["done_today"], after["done"], after["remaining"]) == (2, 2, 3)


def test_a_full_task_is_not_remaining(app, db, owner, annotator):
    pid = make_project(db, owner, overlap=1)
    add_tasks(db, owner, pid, text_rows(3))
    other = login(app, add_member(db, owner))
    taken = next_body(other, pid)["task"]["id"]  # overlap 1: leased, so not open to me
    c = login(app, annotator)
    body = next_body(c, pid)
    assert body["task"]["id"] != taken
    assert body["progress"]["remaining"] == 2  # mine on screen + the third one
    last = submit_next(c, body["task"]["id"])
    assert last["progress"]["remaining"] == 1
    done = submit_next(c, last["task"]["id"])
    assert done["task"] is None
    assert done["progress"] == {
        "done_today": 2,
        "done": 2,
        "remaining": 0,
        "remaining_capped": False,
    }


def test_done_today_starts_at_the_callers_midnight(app, db, annotator, project):
    c = login(app, annotator)
    body = next_body(c, project)
    nxt = submit_next(c, body["task"]["id"])
    nxt = submit_next(c, nxt["task"]["id"])
    # one of the two was finished 30 hours ago
    with db.session() as s:
        s.execute(
            update(Assignment)
            .where(Assignment.task_id == body["task"]["id"])
            .values(finished_at=datetime.now(UTC) - timedelta(hours=30))
        )
    assert next_body(c, project)["progress"]["done_today"] == 1
    assert next_body(c, project)["progress"]["done"] == 2
    # a day that began 40 hours ago holds both; one that begins in an hour holds none
    early = (datetime.now(UTC) - timedelta(hours=40)).isoformat()
    assert next_body(c, project, day_start=early)["progress"]["done_today"] == 2
    local = (datetime.now(UTC) + timedelta(hours=1)).astimezone().isoformat()
    assert next_body(c, project, day_start=local)["progress"]["done_today"] == 0
    # a time without a zone is UTC
    naive = (datetime.now(UTC) - timedelta(hours=40)).replace(tzinfo=None).isoformat()
    assert next_body(c, project, day_start=naive)["progress"]["done_today"] == 2
    r = c.post(f"/api/projects/{project}/next", params={**ASK, "day_start": "yesterday-ish"})
    assert r.status_code == 422
    assert "day_start" in str(error_of(r))


def test_remaining_stops_counting_at_the_cap(app, db, owner, annotator, monkeypatch):
    pid = make_project(db, owner)
    add_tasks(db, owner, pid, text_rows(8))
    monkeypatch.setattr(progress_module, "REMAINING_CAP", 5)
    c = login(app, annotator)
    body = next_body(c, pid)
    assert body["progress"]["remaining"] == 6  # 5 counted, and the one on screen
    assert body["progress"]["remaining_capped"] is True
    for _ in range(3):
        body = {"task": submit_next(c, body["task"]["id"])["task"], "progress": None}
    assert next_body(c, pid)["progress"] == {
        "done_today": 3,
        "done": 3,
        "remaining": 5,
        "remaining_capped": False,
    }


def test_a_vendors_person_counts_only_their_workforces_tasks(app, db, owner):
    pid = make_project(db, owner, overlap=1)
    add_tasks(db, owner, pid, text_rows(10))
    wf, (person, _) = workforce(db, owner, pid, "Vendor A")
    first_four = tuple(t.id for t in tasks_of(db, pid)[:4])
    route(db, owner, pid, "share", [Slot(wf, share=100)], task_ids=first_four)
    lab = add_member(db, owner, Role.annotator)
    c = login(app, person)
    body = next_body(c, pid)
    assert body["progress"]["remaining"] == 4
    # the lab annotator takes the tasks routed to nobody, not the vendor's
    assert next_body(login(app, lab), pid)["progress"]["remaining"] == 6
