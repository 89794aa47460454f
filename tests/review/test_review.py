"""The review stage: queue modes, accept / reject / correct, stats; service and API."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from labelhouse.accounts.models import Role
from labelhouse.annotations import service as annotations
from labelhouse.annotations.models import Annotation
from labelhouse.errors import Conflict, InvalidInput, PermissionDenied
from labelhouse.review import service as review
from labelhouse.review.models import Review
from labelhouse.review.service import HASH_MOD, HASH_MULT
from labelhouse.tasks import queue
from labelhouse.tasks.models import Task
from tests.factories import add_member, add_tasks, login, make_org, make_project, text_rows


def annotate_all(db, members, pid, labels):
    """Each member claims and submits every task it can; ``labels[i]`` picks member i's label
    per task id."""
    for i, m in enumerate(members):
        while True:
            with db.session() as s:
                lease = queue.claim_next(s, m.actor, pid)
                if lease is None:
                    break
                tid = lease.task.id
                annotations.save(s, m.actor, tid, value={"label": labels[i](tid)})


@pytest.fixture
def team(db):
    owner = make_org(db)
    annotators = [add_member(db, owner) for _ in range(3)]
    reviewer = add_member(db, owner, Role.reviewer)
    return owner, annotators, reviewer


def project(db, owner, mode="all", n=4, **settings):
    pid = make_project(db, owner, overlap=2)
    add_tasks(db, owner, pid, text_rows(n))
    with db.session() as s:
        queue.update_project(s, owner.actor, pid, {"review_mode": mode, **settings})
    return pid


def next_id(db, reviewer, pid, after=0):
    with db.session() as s:
        item = review.next_for_review(s, reviewer.actor, pid, after_id=after)
        return None if item is None else item.task.id


def test_accept_marks_annotations_and_leaves_queue(db, team):
    owner, (a, b, _), reviewer = team
    pid = project(db, owner)
    annotate_all(db, [a, b], pid, [lambda t: "pos", lambda t: "pos"])
    first = next_id(db, reviewer, pid)
    with db.session() as s:
        item = review.next_for_review(s, reviewer.actor, pid)
        assert item.majority == {"label": "pos"} and item.agreement == {"label": 1.0}
        review.decide(s, reviewer.actor, first, decision="accept")
    with db.session() as s:
        statuses = s.scalars(
            select(Annotation.review_status).where(Annotation.task_id == first)
        ).all()
        assert statuses == ["accepted", "accepted"]
        with pytest.raises(Conflict):
            review.decide(s, reviewer.actor, first, decision="accept")
    assert next_id(db, reviewer, pid) != first


def test_reject_sends_task_back_to_other_annotators(db, team):
    owner, (a, b, c), reviewer = team
    pid = project(db, owner, n=1)
    annotate_all(db, [a, b], pid, [lambda t: "pos", lambda t: "neg"])
    tid = next_id(db, reviewer, pid)
    with db.session() as s, pytest.raises(InvalidInput):
        review.decide(s, reviewer.actor, tid, decision="reject", reason="  ")
    with db.session() as s:
        review.decide(s, reviewer.actor, tid, decision="reject", reason="read the guideline")
    with db.session() as s:
        task = s.get(Task, tid)
        assert (task.done, task.taken, task.is_open) == (0, 0, True)
    assert next_id(db, reviewer, pid) is None  # nothing finished to review now
    for m in (a, b):  # the original annotators never get it again
        with db.session() as s:
            assert queue.claim_next(s, m.actor, pid) is None
    d = add_member(db, owner)
    annotate_all(db, [c, d], pid, [lambda t: "pos", lambda t: "pos"])
    with db.session() as s:
        task = s.get(Task, tid)
        assert (task.done, task.taken, task.is_open) == (2, 2, False)
        item = review.next_for_review(s, reviewer.actor, pid)
        assert item.task.id == tid and {x.user_id for x in item.annotations} == {
            c.actor.user_id,
            d.actor.user_id,
        }
        rows = s.execute(select(Annotation.user_id, Annotation.review_status)).all()
        assert sorted(r for _, r in rows if r) == ["rejected", "rejected"]
        stats = {x.user_id: x for x in review.review_stats(s, reviewer.actor, pid)}
        assert stats[a.actor.user_id].rejected == 1 and stats[a.actor.user_id].acceptance_rate == 0


def test_edits_after_review_accepted_goes_back_to_review_rejected_only_while_needed(db, team):
    """A rejected answer was frozen until issue 13: now it is returned to its annotator, who
    may submit it again while the task still needs answers (tests/review/test_returned.py),
    but not once others have filled the task: then nothing changes."""
    owner, (a, b, c), reviewer = team
    pid = project(db, owner, n=2)
    annotate_all(db, [a, b], pid, [lambda t: "pos", lambda t: "neg"])
    first = next_id(db, reviewer, pid)
    with db.session() as s:
        review.decide(s, reviewer.actor, first, decision="accept")
    second = next_id(db, reviewer, pid)
    with db.session() as s:
        review.decide(s, reviewer.actor, second, decision="reject", reason="off guideline")
    with db.session() as s:  # the accepted answer is edited: it waits for review again
        annotations.save(s, a.actor, first, value={"label": "neg"})
    with db.session() as s:
        status = s.scalar(
            select(Annotation.review_status).where(
                Annotation.task_id == first, Annotation.user_id == a.actor.user_id
            )
        )
        assert status is None
    assert next_id(db, reviewer, pid) == first
    annotate_all(db, [c, add_member(db, owner)], pid, [lambda t: "neu", lambda t: "neu"])
    with db.session() as s, pytest.raises(Conflict, match="needs no more answers"):
        annotations.save(s, a.actor, second, value={"label": "neg"})
    with db.session() as s:  # nothing changed, counters untouched
        task = s.get(Task, second)
        assert (task.done, task.taken) == (2, 2)
        row = s.execute(
            select(Annotation.value, Annotation.review_status, Annotation.revision).where(
                Annotation.task_id == second, Annotation.user_id == a.actor.user_id
            )
        ).one()
        assert tuple(row) == ({"label": "pos"}, "rejected", 1)


def test_correct_validates_and_keeps_originals(db, team):
    owner, (a, b, _), reviewer = team
    pid = project(db, owner, n=1)
    annotate_all(db, [a, b], pid, [lambda t: "pos", lambda t: "neg"])
    tid = next_id(db, reviewer, pid)
    with db.session() as s, pytest.raises(InvalidInput):
        review.decide(s, reviewer.actor, tid, decision="correct", value={"label": "zzz"})
    with db.session() as s, pytest.raises(InvalidInput):
        review.decide(s, reviewer.actor, tid, decision="correct")
    with db.session() as s:
        review.decide(s, reviewer.actor, tid, decision="correct", value={"label": "neg"})
    with db.session() as s:
        rows = dict(s.execute(select(Annotation.user_id, Annotation.review_status)).all())
        assert rows == {a.actor.user_id: "corrected", b.actor.user_id: "accepted"}
        values = s.scalars(select(Annotation.value).order_by(Annotation.id)).all()
        assert values == [{"label": "pos"}, {"label": "neg"}]  # originals kept
        r = s.scalars(select(Review)).one()
        assert (r.decision, r.value, r.reviewer_id) == (
            "correct",
            {"label": "neg"},
            reviewer.actor.user_id,
        )


def test_modes_sample_disagreement_off(db, team):
    owner, (a, b, _), reviewer = team
    pid = project(db, owner, mode="disagreement", n=6)
    annotate_all(db, [a, b], pid, [lambda t: "pos", lambda t: "neg" if t % 2 else "pos"])
    with db.session() as s:
        ids = s.scalars(select(Task.id).where(Task.project_id == pid).order_by(Task.id)).all()
    seen, after = [], 0
    while (tid := next_id(db, reviewer, pid, after)) is not None:
        seen.append(tid)
        after = tid
    assert seen == [t for t in ids if t % 2]
    with db.session() as s:
        queue.update_project(
            s, owner.actor, pid, {"review_mode": "sample", "review_sample_rate": 0.5}
        )
    seen, after = [], 0
    while (tid := next_id(db, reviewer, pid, after)) is not None:
        seen.append(tid)
        after = tid
    assert seen == [t for t in ids if (t * HASH_MULT) % HASH_MOD < HASH_MOD // 2]
    with db.session() as s:
        queue.update_project(s, owner.actor, pid, {"review_mode": "off"})
    with db.session() as s, pytest.raises(Conflict):
        review.next_for_review(s, reviewer.actor, pid)


def test_no_self_review_and_unfinished_tasks(db, team):
    owner, (a, _, _), reviewer = team
    pid = project(db, owner, n=2)
    annotate_all(db, [reviewer, a], pid, [lambda t: "pos", lambda t: "pos"])
    assert next_id(db, reviewer, pid) is None  # all finished tasks have their own annotation
    with db.session() as s:
        tid = s.scalar(select(Task.id).where(Task.project_id == pid))
    with db.session() as s, pytest.raises(PermissionDenied):
        review.decide(s, reviewer.actor, tid, decision="accept")
    pid2 = project(db, owner, n=1)
    annotate_all(db, [a], pid2, [lambda t: "pos"])
    with db.session() as s:
        tid2 = s.scalar(select(Task.id).where(Task.project_id == pid2))
    with db.session() as s, pytest.raises(Conflict):
        review.decide(s, reviewer.actor, tid2, decision="accept")
    assert next_id(db, reviewer, pid2) is None


def test_review_api(app, db, team):
    owner, (a, b, _), reviewer = team
    pid = project(db, owner, n=2)
    annotate_all(db, [a, b], pid, [lambda t: "pos", lambda t: "neg"])
    c = login(app, reviewer)
    body = c.post(f"/api/projects/{pid}/review/next").json()
    task = body["task"]
    assert body["majority"] == {"label": "pos"} and body["agreement"] == {"label": 0.5}
    assert [x["differs"] for x in task["annotations"]] == [[], ["label"]]
    assert {x["annotator_email"] for x in task["annotations"]} == {a.email, b.email}
    assert body["schema"]["fields"][0]["name"] == "label"
    later = c.post(f"/api/projects/{pid}/review/next?after={task['id']}").json()["task"]
    assert later["id"] > task["id"]
    r = c.post(f"/api/tasks/{task['id']}/review", json={"decision": "reject"})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "reason"
    r = c.post(f"/api/tasks/{task['id']}/review", json={"decision": "maybe"})
    assert r.status_code == 422
    r = c.post(
        f"/api/tasks/{task['id']}/review", json={"decision": "correct", "value": {"label": "neu"}}
    )
    assert r.status_code == 201, r.text
    assert r.json()["value"] == {"label": "neu"}
    assert c.get(f"/api/tasks/{task['id']}/reviews").json()["items"][0]["decision"] == "correct"
    stats = c.get(f"/api/projects/{pid}/review/stats").json()["items"]
    assert {s["user_id"]: s["corrected"] for s in stats} == {a.actor.user_id: 1, b.actor.user_id: 1}
    # annotators cannot review; another organization sees nothing
    assert login(app, a).post(f"/api/projects/{pid}/review/next").status_code == 403
    stranger = login(app, make_org(db, "Other"))
    assert stranger.post(f"/api/projects/{pid}/review/next").status_code == 404
    assert (
        stranger.post(f"/api/tasks/{later['id']}/review", json={"decision": "accept"}).status_code
        == 404
    )
    r = login(app, owner).patch(f"/api/projects/{pid}", json={"review_mode": "off"})
    assert r.json()["review_mode"] == "off"
    assert c.post(f"/api/projects/{pid}/review/next").status_code == 409
