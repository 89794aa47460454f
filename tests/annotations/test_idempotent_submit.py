"""Retried writes do not write twice (issue 12, item 5).

A submit whose response was lost is sent again by the client. Without a key, resubmitting the
very value already submitted is a no-op (no revision, no lead time added); with an
``Idempotency-Key`` header the retry gets the original answer back and nothing is written,
and the key is stored in the same transaction as the write it answers for.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from labelhouse.annotations import idempotency
from labelhouse.annotations import service as annotations
from labelhouse.annotations.models import Annotation, AnnotationRevision, IdempotencyKey
from labelhouse.db.base import utcnow
from labelhouse.tasks import queue
from labelhouse.tasks.models import Assignment, Task
from tests.factories import add_tasks, login, make_project, run_in_threads, text_rows
from tests.helpers_data import count_rows, detached, error_of

KEY = "8e03978e-40d5-43e8-bc93-6894a57f9324"


@pytest.fixture
def project(db, owner):
    pid = make_project(db, owner)
    add_tasks(db, owner, pid, text_rows(3))
    return pid


def next_task(client, project_id):
    r = client.post(f"/api/projects/{project_id}/next")
    assert r.status_code == 200, r.text
    return r.json()["task"]


def submit(client, task_id, value, *, key=None, query="", **extra):
    headers = {"Idempotency-Key": key} if key is not None else {}
    return client.post(
        f"/api/tasks/{task_id}/annotations{query}",
        json={"value": value, **extra},
        headers=headers,
    )


def the_annotation(db) -> Annotation:
    [row] = detached(db, select(Annotation))
    return row


def keys(db) -> int:
    return count_rows(db, IdempotencyKey)


# -- the reported defect: a retry without a key ------------------------------------------------


def test_a_retried_submit_of_the_same_value_adds_no_revision_and_no_lead_time(
    app, db, project, annotator
):
    c = login(app, annotator)
    task = next_task(c, project)
    first = submit(c, task["id"], {"label": "pos"}, lead_time_ms=4000)
    assert first.status_code == 200, first.text
    retry = submit(c, task["id"], {"label": "pos"}, lead_time_ms=4000)  # the response was lost
    assert retry.status_code == 200, retry.text
    assert (retry.json()["revision"], retry.json()["lead_time_ms"]) == (1, 4000)
    assert retry.json()["id"] == first.json()["id"]
    stored = the_annotation(db)
    assert (stored.revision, stored.lead_time_ms, stored.status) == (1, 4000, "submitted")
    assert count_rows(db, AnnotationRevision) == 1
    [row] = detached(db, select(Task).where(Task.id == task["id"]))
    assert (row.done, row.taken) == (1, 1)


def test_a_changed_value_is_still_a_new_revision(app, db, project, annotator):
    c = login(app, annotator)
    task = next_task(c, project)
    submit(c, task["id"], {"label": "pos"}, lead_time_ms=100)
    r = submit(c, task["id"], {"label": "neg"}, lead_time_ms=200)
    assert (r.json()["revision"], r.json()["lead_time_ms"]) == (2, 300)
    back = submit(c, task["id"], {"label": "pos"}, lead_time_ms=50)  # back to the first: a change
    assert (back.json()["revision"], back.json()["lead_time_ms"]) == (3, 350)


def test_a_draft_saved_again_unchanged_adds_no_revision_but_renews_the_lease(
    app, db, project, annotator
):
    c = login(app, annotator)
    task = next_task(c, project)
    assert submit(c, task["id"], {}, draft=True).status_code == 200
    soon = utcnow() + timedelta(seconds=5)
    with db.session() as s:
        s.execute(update(Assignment).values(expires_at=soon))
    again = submit(c, task["id"], {}, draft=True)
    assert again.status_code == 200 and again.json()["revision"] == 1
    [assignment] = detached(db, select(Assignment))
    assert assignment.expires_at > soon + timedelta(minutes=5)
    assert count_rows(db, AnnotationRevision) == 1


def test_submitting_the_drafted_value_is_a_revision(app, db, project, annotator):
    c = login(app, annotator)
    task = next_task(c, project)
    submit(c, task["id"], {"label": "pos"}, draft=True)
    r = submit(c, task["id"], {"label": "pos"})
    assert (r.json()["status"], r.json()["revision"]) == ("submitted", 2)
    [row] = detached(db, select(Task).where(Task.id == task["id"]))
    assert row.done == 1


# -- Idempotency-Key ---------------------------------------------------------------------------


def test_a_retry_with_the_same_key_returns_the_original_answer(app, db, project, annotator):
    c = login(app, annotator)
    task = next_task(c, project)
    first = submit(c, task["id"], {"label": "pos"}, key=KEY, lead_time_ms=900, query="?next=1")
    assert first.status_code == 200, first.text
    assert "idempotent-replayed" not in first.headers
    retry = submit(c, task["id"], {"label": "pos"}, key=KEY, lead_time_ms=900, query="?next=1")
    assert retry.status_code == 200, retry.text
    assert retry.headers["idempotent-replayed"] == "true"
    original, replayed = first.json(), retry.json()
    assert replayed["annotation"] == original["annotation"]  # created: true, as first told
    assert replayed["annotation"]["created"] is True
    # the next task is the lease the first request took, not another one
    assert replayed["next"]["task"]["id"] == original["next"]["task"]["id"]
    assert replayed["next"]["lease"]["new"] is False
    stored = the_annotation(db)
    assert (stored.revision, stored.lead_time_ms) == (1, 900)
    assert count_rows(db, AnnotationRevision) == 1
    leased = detached(db, select(Assignment.task_id).where(Assignment.status == "leased"))
    assert leased == [original["next"]["task"]["id"]]
    assert keys(db) == 1


def test_the_key_replays_even_after_the_value_was_changed_since(app, db, project, annotator):
    """The retry answers what that request did, whatever happened after it."""
    c = login(app, annotator)
    task = next_task(c, project)
    first = submit(c, task["id"], {"label": "pos"}, key=KEY)
    submit(c, task["id"], {"label": "neg"})  # an edit from another tab
    retry = submit(c, task["id"], {"label": "pos"}, key=KEY)
    assert retry.content == first.content  # byte for byte
    assert the_annotation(db).value == {"label": "neg"}
    assert the_annotation(db).revision == 2


def test_the_same_key_with_another_body_is_422_and_writes_nothing(app, db, project, annotator):
    c = login(app, annotator)
    task = next_task(c, project)
    assert submit(c, task["id"], {"label": "pos"}, key=KEY).status_code == 200
    r = submit(c, task["id"], {"label": "neg"}, key=KEY)
    assert r.status_code == 422, r.text
    err = error_of(r)
    assert err["code"] == "invalid_input"
    assert "already used" in err["message"] and "new key" in err["message"]
    assert [d["field"] for d in err["details"]] == ["Idempotency-Key"]
    assert the_annotation(db).value == {"label": "pos"}
    assert count_rows(db, AnnotationRevision) == 1
    # and on another route too: the key names one request
    other = next_task(c, project)
    r = c.post(f"/api/tasks/{other['id']}/skip", json={}, headers={"Idempotency-Key": KEY})
    assert r.status_code == 422
    assert detached(db, select(Assignment.status).where(Assignment.task_id == other["id"])) == [
        "leased"
    ]


def test_keys_belong_to_one_person(app, db, owner, project, annotator):
    mine, theirs = login(app, annotator), login(app, owner)
    a, b = next_task(mine, project), next_task(theirs, project)
    assert submit(mine, a["id"], {"label": "pos"}, key=KEY).status_code == 200
    r = submit(theirs, b["id"], {"label": "neg"}, key=KEY)
    assert r.status_code == 200, r.text
    assert "idempotent-replayed" not in r.headers
    assert r.json()["value"] == {"label": "neg"}
    assert count_rows(db, Annotation) == 2
    assert keys(db) == 2


def test_a_failed_request_stores_no_key(app, db, project, annotator):
    c = login(app, annotator)
    task = next_task(c, project)
    bad = submit(c, task["id"], {"label": "nope"}, key=KEY)
    assert bad.status_code == 422
    assert keys(db) == 0
    fixed = submit(c, task["id"], {"label": "pos"}, key=KEY)  # nothing was done: run it
    assert fixed.status_code == 200
    assert "idempotent-replayed" not in fixed.headers
    assert the_annotation(db).value == {"label": "pos"}


@pytest.mark.parametrize(
    ("key", "problem"),
    [("", "1 to 255"), ("x" * 256, "1 to 255"), ("a b", "printable"), ("a\x7fb", "printable")],
)
def test_a_malformed_key_is_422_naming_the_header(app, db, project, annotator, key, problem):
    c = login(app, annotator)
    task = next_task(c, project)
    r = submit(c, task["id"], {"label": "pos"}, key=key)
    assert r.status_code == 422, r.text
    [detail] = error_of(r)["details"]
    assert detail["field"] == "Idempotency-Key" and problem in detail["problem"]
    assert count_rows(db, Annotation) == 0


def test_a_quoted_key_as_the_ietf_draft_writes_it_is_the_same_key(app, db, project, annotator):
    c = login(app, annotator)
    task = next_task(c, project)
    first = submit(c, task["id"], {"label": "pos"}, key=f'"{KEY}"')
    retry = submit(c, task["id"], {"label": "pos"}, key=KEY)
    assert retry.headers.get("idempotent-replayed") == "true"
    assert retry.json() == first.json()


def test_a_skip_retried_with_its_key_is_204_again(app, db, project, annotator):
    c = login(app, annotator)
    task = next_task(c, project)
    url = f"/api/tasks/{task['id']}/skip"
    headers = {"Idempotency-Key": KEY}
    assert c.post(url, json={"reason": "unclear"}, headers=headers).status_code == 204
    retry = c.post(url, json={"reason": "unclear"}, headers=headers)
    assert retry.status_code == 204 and retry.headers["idempotent-replayed"] == "true"
    assert c.post(url, json={"reason": "unclear"}).status_code == 404  # no key: the lease is gone
    [row] = detached(db, select(Task).where(Task.id == task["id"]))
    assert row.taken == 0


def test_expired_keys_are_cleaned_up_and_may_be_used_again(app, db, project, annotator):
    c = login(app, annotator)
    task = next_task(c, project)
    assert submit(c, task["id"], {"label": "pos"}, key=KEY).status_code == 200
    with db.session() as s:
        s.execute(update(IdempotencyKey).values(expires_at=utcnow() - timedelta(seconds=1)))
    other = next_task(c, project)
    assert submit(c, other["id"], {"label": "neg"}, key="another").status_code == 200
    assert detached(db, select(IdempotencyKey.key)) == ["another"]  # the expired one is gone
    # after its time the key is free again: the request runs as new
    with db.session() as s:
        s.execute(update(IdempotencyKey).values(expires_at=utcnow() - timedelta(seconds=1)))
    again = submit(c, task["id"], {"label": "neg"}, key="another")
    assert again.status_code == 200 and "idempotent-replayed" not in again.headers
    assert again.json()["revision"] == 2


def test_the_key_and_the_write_commit_together(db, project, annotator):
    """A crash after the write: the transaction rolls back both, so a retry runs again."""
    actor = annotator.actor
    with db.session() as s:
        lease = queue.claim_next(s, actor, project)
        assert lease is not None
        task_id = lease.task.id

    def write_then_crash() -> idempotency.Reply:
        annotations.save(s, actor, task_id, value={"label": "pos"})
        raise RuntimeError("the process died here")

    request = idempotency.fingerprint("POST", f"/api/tasks/{task_id}/annotations", {"x": 1})
    with pytest.raises(RuntimeError), db.session() as s:
        idempotency.run_once(s, actor.user_id, KEY, request, write_then_crash)
    assert count_rows(db, Annotation) == 0
    assert keys(db) == 0

    def write() -> idempotency.Reply:
        saved = annotations.save(s, actor, task_id, value={"label": "pos"})
        return idempotency.Reply(200, {"id": saved.annotation.id})

    with db.session() as s:
        reply = idempotency.run_once(s, actor.user_id, KEY, request, write)
    assert not reply.replayed
    with db.read_session() as s:
        assert s.scalar(select(func.count()).select_from(IdempotencyKey)) == 1
        assert s.scalar(select(IdempotencyKey.response)) == f'{{"id":{reply.body["id"]}}}'


def test_concurrent_retries_with_one_key_write_once(app, db, project, annotator):
    """Two copies of one request at the same moment (a client that timed out and retried
    while the first was still running): one write, both answered with it."""
    c = login(app, annotator)
    task = next_task(c, project)
    answers = []

    def send(_: int) -> None:
        r = submit(c, task["id"], {"label": "pos"}, key=KEY, lead_time_ms=700)
        answers.append((r.status_code, r.content))

    assert run_in_threads(send, [0, 1, 2, 3]) == []
    assert [status for status, _ in answers] == [200] * 4
    assert len({body for _, body in answers}) == 1  # byte for byte
    stored = the_annotation(db)
    assert (stored.revision, stored.lead_time_ms) == (1, 700)
    assert count_rows(db, AnnotationRevision) == 1
