"""Questions and answers on tasks through the API, on both databases: threads per annotator,
lab notes, read markers and unread counts, validation, the audit trail, and who may see
what — other organizations, unassigned annotators, and vendors (never another workforce's
threads, never anybody's e-mail address but their own)."""

from __future__ import annotations

import pytest
from sqlalchemy import insert, select

from labelhouse.accounts.models import Role
from labelhouse.annotations import service as annotations
from labelhouse.audit.models import AuditEvent
from labelhouse.comments.models import TaskComment
from labelhouse.comments.service import MAX_BODY, MAX_PER_TASK
from labelhouse.db.base import utcnow
from labelhouse.people import project_members
from labelhouse.review import service as review
from labelhouse.tasks import queue, routing
from labelhouse.tasks.models import Task
from labelhouse.tasks.routing import Selection, Slot
from tests.factories import add_member, add_tasks, login, make_org, make_project, text_rows
from tests.review.test_vendor_review import vendor


def claim_and_submit(db, member, pid, label="pos"):
    with db.session() as s:
        lease = queue.claim_next(s, member.actor, pid)
        assert lease is not None
        annotations.save(s, member.actor, lease.task.id, value={"label": label})
        return lease.task.id


@pytest.fixture
def lab(db):
    """One task (overlap 2) answered by annotators a and b; c never had it; a reviewer."""
    owner = make_org(db)
    a, b, c = (add_member(db, owner) for _ in range(3))
    reviewer = add_member(db, owner, Role.reviewer)
    pid = make_project(db, owner, overlap=2)
    add_tasks(db, owner, pid, text_rows(1))
    tid = claim_and_submit(db, a, pid)
    assert claim_and_submit(db, b, pid) == tid
    return {"owner": owner, "a": a, "b": b, "c": c, "reviewer": reviewer, "pid": pid, "tid": tid}


def comments(app, member, tid):
    r = login(app, member).get(f"/api/tasks/{tid}/comments")
    assert r.status_code == 200, r.text
    return r.json()


def test_each_annotator_has_their_own_thread_and_the_lab_sees_all(app, db, lab):
    a, b, reviewer, tid = lab["a"], lab["b"], lab["reviewer"], lab["tid"]
    ca, cb, cr = login(app, a), login(app, b), login(app, reviewer)
    r = ca.post(f"/api/tasks/{tid}/comments", json={"body": "  Is sarcasm negative?\r\nOr not?  "})
    assert r.status_code == 201, r.text
    assert r.json()["thread"] == a.user_id
    assert cb.post(f"/api/tasks/{tid}/comments", json={"body": "What about emoji?"}).is_success
    # Each annotator sees their own question only: never the other's thinking.
    mine = comments(app, a, tid)
    assert [(c["body"], c["author"], c["mine"]) for c in mine["items"]] == [
        ("Is sarcasm negative?\nOr not?", "you", True)
    ]
    assert mine["threads"] == [{"user_id": a.user_id, "label": "Your questions"}]
    assert [c["body"] for c in comments(app, b, tid)["items"]] == ["What about emoji?"]
    # The lab sees both threads, named, and both are unread for them.
    seen = comments(app, reviewer, tid)
    assert [(c["thread"], c["author"]) for c in seen["items"]] == [
        (a.user_id, a.email),
        (b.user_id, b.email),
    ]
    assert seen["unread"] == 2
    threads = {t["user_id"]: t["label"] for t in seen["threads"]}
    assert threads[a.user_id] == a.email and threads[b.user_id] == b.email
    assert threads[None].startswith("Lab notes")
    # The lab answers a, and writes a note nobody but the lab sees.
    r = cr.post(f"/api/tasks/{tid}/comments", json={"body": "Yes.", "thread": a.user_id})
    assert r.status_code == 201 and r.json()["thread"] == a.user_id
    assert cr.post(f"/api/tasks/{tid}/comments", json={"body": "Add to guideline"}).is_success
    assert [c["body"] for c in comments(app, a, tid)["items"]] == [
        "Is sarcasm negative?\nOr not?",
        "Yes.",
    ]
    assert "Add to guideline" not in cb.get(f"/api/tasks/{tid}/comments").text
    assert [c["thread"] for c in comments(app, lab["owner"], tid)["items"]][-1] is None
    # Annotators may not write in someone else's thread.
    r = cb.post(f"/api/tasks/{tid}/comments", json={"body": "me too", "thread": a.user_id})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "thread"
    # The lab may only answer people who were given the task.
    r = cr.post(f"/api/tasks/{tid}/comments", json={"body": "hi", "thread": lab["c"].user_id})
    assert r.status_code == 422


def test_unread_counts_and_read_markers(app, db, lab):
    a, reviewer, tid, pid = lab["a"], lab["reviewer"], lab["tid"], lab["pid"]
    ca, cr = login(app, a), login(app, reviewer)
    ca.post(f"/api/tasks/{tid}/comments", json={"body": "Question?"})
    assert comments(app, a, tid)["unread"] == 0  # one's own words are read
    assert cr.get(f"/api/projects/{pid}/comments/unread").json()["total"] == 1
    first = cr.post(f"/api/tasks/{tid}/comments", json={"body": "One", "thread": a.user_id})
    cr.post(f"/api/tasks/{tid}/comments", json={"body": "Two", "thread": a.user_id})
    got = comments(app, a, tid)
    assert got["unread"] == 2 and [c["unread"] for c in got["items"]] == [False, True, True]
    assert ca.get(f"/api/projects/{pid}/comments/unread").json() == {
        "items": [{"task_id": tid, "unread": 2}],
        "total": 2,
        "next_cursor": None,
    }
    r = ca.post(f"/api/tasks/{tid}/comments/read", json={"up_to": first.json()["id"]})
    assert r.json() == {"task_id": tid, "unread": 1}
    r = ca.post(f"/api/tasks/{tid}/comments/read", json={"up_to": 1})  # never moves back
    assert r.json()["unread"] == 1
    assert ca.post(f"/api/tasks/{tid}/comments/read").json()["unread"] == 0
    assert ca.get(f"/api/projects/{pid}/comments/unread").json()["total"] == 0
    assert comments(app, a, tid)["last_read_id"] == max(
        c["id"] for c in comments(app, a, tid)["items"]
    )
    # Answering read the question for the reviewer; a's next one is unread for them.
    assert cr.get(f"/api/projects/{pid}/comments/unread").json()["total"] == 0
    ca.post(f"/api/tasks/{tid}/comments", json={"body": "Thanks; and irony?"})
    assert cr.get(f"/api/projects/{pid}/comments/unread").json()["total"] == 1
    assert cr.post(f"/api/tasks/{tid}/comments/read").json()["unread"] == 0


@pytest.mark.parametrize(
    ("body", "field", "status"),
    [
        ({"body": "   \n "}, "body", 422),
        ({"body": "x" * (MAX_BODY + 1)}, "body", 422),
        ({"body": "bell \x07"}, "body", 422),
        ({"body": "nul \x00"}, "body", 422),
        ({}, "body", 422),
        ({"body": "ok", "extra": 1}, "extra", 422),
        ({"body": "ok", "thread": 0}, "thread", 422),
    ],
)
def test_bodies_are_validated(app, db, lab, body, field, status):
    r = login(app, lab["a"]).post(f"/api/tasks/{lab['tid']}/comments", json=body)
    assert r.status_code == status, r.text
    assert any(field in d["field"] for d in r.json()["error"]["details"]), r.json()
    with db.read_session() as s:
        assert s.scalars(select(TaskComment)).all() == []


def test_text_is_kept_as_written_and_writing_is_audited(app, db, lab):
    a, tid = lab["a"], lab["tid"]
    body = 'Is <script>alert("x")</script> & <b>this</b> ok?\n\tIndented.'
    r = login(app, a).post(f"/api/tasks/{tid}/comments", json={"body": body})
    assert comments(app, a, tid)["items"][0]["body"] == body  # plain text, shown escaped
    long = "y" * MAX_BODY
    assert login(app, a).post(f"/api/tasks/{tid}/comments", json={"body": long}).is_success
    with db.read_session() as s:
        events = s.execute(
            select(
                AuditEvent.actor_id,
                AuditEvent.object_type,
                AuditEvent.object_id,
                AuditEvent.details,
            )
            .where(AuditEvent.action == "task.comment")
            .order_by(AuditEvent.id)
        ).all()
    assert [tuple(e[:3]) for e in events] == [(a.user_id, "task", str(tid))] * 2
    assert events[0][3] == {"comment": r.json()["id"], "thread": a.user_id, "length": len(body)}


def test_outsiders_get_404_and_nothing_leaks(app, db, lab):
    a, c, tid, pid = lab["a"], lab["c"], lab["tid"], lab["pid"]
    login(app, a).post(f"/api/tasks/{tid}/comments", json={"body": "secret question"})
    stranger = make_org(db, "Elsewhere")
    add_tasks(db, stranger, make_project(db, stranger), text_rows(1))
    for who in (stranger, c):  # another organization; an annotator never given the task
        cl = login(app, who)
        for method, url, body in (
            ("GET", f"/api/tasks/{tid}/comments", None),
            ("POST", f"/api/tasks/{tid}/comments", {"body": "hello"}),
            ("POST", f"/api/tasks/{tid}/comments/read", None),
        ):
            r = cl.request(method, url, json=body)
            assert r.status_code == 404, (who.email, method, url, r.text)
            assert "secret question" not in r.text
    r = login(app, stranger).get(f"/api/projects/{pid}/comments/unread")
    assert r.status_code == 404
    assert login(app, c).get(f"/api/projects/{pid}/comments/unread").json()["total"] == 0
    with db.read_session() as s:
        assert [x.body for x in s.scalars(select(TaskComment))] == ["secret question"]


def test_too_many_comments_on_one_task(app, db, lab):
    a, tid = lab["a"], lab["tid"]
    with db.session() as s:  # a long conversation, stored directly (fast)
        s.execute(
            insert(TaskComment),
            [
                {
                    "project_id": lab["pid"],
                    "task_id": tid,
                    "thread_user_id": a.user_id,
                    "author_id": a.user_id,
                    "author_role": "annotator",
                    "body": f"message {i}",
                    "created_at": utcnow(),
                }
                for i in range(MAX_PER_TASK)
            ],
        )
    r = login(app, a).post(f"/api/tasks/{tid}/comments", json={"body": "one more"})
    assert r.status_code == 409
    assert f"already has {MAX_PER_TASK} comments" in r.json()["error"]["message"]
    assert len(comments(app, a, tid)["items"]) == MAX_PER_TASK


# -- vendors -------------------------------------------------------------------------------------


@pytest.fixture
def vendors(db):
    """Project P (overlap 2, review all): task `each` routed to vendors A and B (one answer
    from each), task `a_only` routed to A alone (answered by A's a1 and a2). A has a
    reviewer; the lab a reviewer."""
    owner = make_org(db)
    pid = make_project(db, owner, overlap=2, open_to_all=False)
    add_tasks(db, owner, pid, text_rows(2))
    with db.session() as s:
        queue.update_project(s, owner.actor, pid, {"review_mode": "all"})
        each, a_only = s.scalars(select(Task.id).where(Task.project_id == pid)).all()
    a1, a2, a_rev, b1, lab_rev = (
        add_member(db, owner, Role.annotator, join_projects=False) for _ in range(5)
    )
    va = vendor(db, owner, pid, "Vendor A", [a1, a2, a_rev])
    vb = vendor(db, owner, pid, "Vendor B", [b1])
    with db.session() as s:
        project_members.add_people(s, owner.actor, pid, emails=[a_rev.email], role="reviewer")
        project_members.add_people(s, owner.actor, pid, emails=[lab_rev.email], role="reviewer")
        routing.route_tasks(
            s,
            owner.actor,
            pid,
            mode="each",
            slots=[Slot(va, quota=1), Slot(vb, quota=1)],
            selection=Selection(task_ids=(each,)),
        )
        routing.route_tasks(
            s,
            owner.actor,
            pid,
            mode="share",
            slots=[Slot(va, share=100)],
            selection=Selection(task_ids=(a_only,)),
        )
    assert claim_and_submit(db, a1, pid) == each
    assert claim_and_submit(db, b1, pid) == each
    assert claim_and_submit(db, a1, pid) == a_only
    assert claim_and_submit(db, a2, pid) == a_only
    return {
        "owner": owner,
        "pid": pid,
        "each": each,
        "a_only": a_only,
        "a1": a1,
        "a2": a2,
        "a_rev": a_rev,
        "b1": b1,
        "lab_rev": lab_rev,
    }


def test_vendors_never_see_another_workforces_threads_or_anyones_address(app, db, vendors):
    v = vendors
    each = v["each"]
    ca1, cb1, clab = login(app, v["a1"]), login(app, v["b1"]), login(app, v["lab_rev"])
    assert ca1.post(f"/api/tasks/{each}/comments", json={"body": "A asks"}).is_success
    assert cb1.post(f"/api/tasks/{each}/comments", json={"body": "B asks"}).is_success
    r = clab.post(
        f"/api/tasks/{each}/comments", json={"body": "Lab answers A", "thread": v["a1"].user_id}
    )
    assert r.is_success
    r = clab.post(
        f"/api/tasks/{each}/comments", json={"body": "Lab answers B", "thread": v["b1"].user_id}
    )
    assert r.is_success
    clab.post(f"/api/tasks/{each}/comments", json={"body": "lab-only note"})
    everyone = [v[k].email for k in ("a1", "a2", "a_rev", "b1", "lab_rev", "owner")]
    for member, own, other in ((v["a1"], "A", "B"), (v["b1"], "B", "A")):
        r = login(app, member).get(f"/api/tasks/{each}/comments")
        bodies = [c["body"] for c in r.json()["items"]]
        assert bodies == [f"{own} asks", f"Lab answers {own}"]
        assert [c["author"] for c in r.json()["items"]] == ["you", "a reviewer"]
        assert not any(e in r.text for e in everyone), r.text  # no address at all
        assert f"{other} asks" not in r.text and "lab-only note" not in r.text
        unread = login(app, member).get(f"/api/projects/{v['pid']}/comments/unread").json()
        assert unread["items"] == [{"task_id": each, "unread": 1}]
    # The lab sees both workforces' threads, with addresses.
    seen = clab.get(f"/api/tasks/{each}/comments").json()
    assert {c["author"] for c in seen["items"]} == {v["a1"].email, v["b1"].email, "you"}
    # B's annotator cannot reach A's task at all.
    assert cb1.get(f"/api/tasks/{v['a_only']}/comments").status_code == 404
    assert cb1.post(f"/api/tasks/{v['a_only']}/comments", json={"body": "x"}).status_code == 404
    assert cb1.post(f"/api/tasks/{v['a_only']}/comments/read").status_code == 404


def test_a_vendor_reviewer_answers_their_own_workforce_only(app, db, vendors):
    v = vendors
    a_only, each = v["a_only"], v["each"]
    login(app, v["a1"]).post(f"/api/tasks/{a_only}/comments", json={"body": "a1 asks"})
    login(app, v["b1"]).post(f"/api/tasks/{each}/comments", json={"body": "b1 asks"})
    cr = login(app, v["a_rev"])
    # Not theirs until the review queue shows it to them (a review lease).
    assert cr.get(f"/api/tasks/{a_only}/comments").status_code == 404
    with db.session() as s:
        item = review.next_for_review(s, v["a_rev"].actor, v["pid"])
        assert item is not None and item.task.id == a_only
    got = cr.get(f"/api/tasks/{a_only}/comments").json()
    assert [(c["body"], c["author"]) for c in got["items"]] == [
        ("a1 asks", f"annotator #{v['a1'].user_id}")
    ]
    labels = {t["user_id"]: t["label"] for t in got["threads"]}
    assert labels[v["a1"].user_id] == f"Annotator #{v['a1'].user_id}"
    assert None not in labels  # no lab notes for a vendor's people
    assert not any(v[k].email in str(got) for k in ("a1", "a2", "lab_rev", "owner"))
    r = cr.post(f"/api/tasks/{a_only}/comments", json={"body": "Yes", "thread": v["a1"].user_id})
    assert r.status_code == 201
    r = cr.post(f"/api/tasks/{a_only}/comments", json={"body": "x", "thread": v["b1"].user_id})
    assert r.status_code == 422  # B's person was never served this task in A
    assert cr.get(f"/api/tasks/{each}/comments").status_code == 404  # B's answer is on it
    # a1 sees the answer as their workforce's reviewer's, without an address.
    mine = login(app, v["a1"]).get(f"/api/tasks/{a_only}/comments").json()
    assert [c["author"] for c in mine["items"]] == ["you", "your workforce's reviewer"]
    # a2 (same workforce, same task) still sees only their own thread: nothing yet.
    assert login(app, v["a2"]).get(f"/api/tasks/{a_only}/comments").json()["items"] == []
