"""Review feedback reaches the annotator (issue 13 item 2): the decision and reason on their
answers, the "Returned to you" list, fixing and resubmitting a rejected answer, and the task
page's status saying what happened (both databases).

The first three tests reproduce the report; each failed before the fix (the route did not
exist, the task page read "new · 0 of 2 submitted", resubmitting was a 409)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from labelhouse.accounts.models import User
from labelhouse.annotations import service as annotations
from labelhouse.annotations.models import Annotation
from labelhouse.db.base import utcnow
from labelhouse.errors import Conflict
from labelhouse.review import returned
from labelhouse.review import service as review
from labelhouse.review.models import ReviewOutcome
from labelhouse.tasks import invariants, queue
from labelhouse.tasks.models import Assignment, Task, TaskRoute
from tests.factories import (
    Member,
    add_member,
    add_tasks,
    login,
    make_org,
    make_project,
    text_rows,
)
from tests.review.test_review import annotate_all, next_id, project, team  # noqa: F401
from tests.review.test_vendor_review import world  # noqa: F401

REASON = "Sarcasm is negative: read the guideline <b>again</b>."


def rejected_task(db, team):  # noqa: F811
    owner, (a, b, _), reviewer = team
    pid = project(db, owner, n=1)
    annotate_all(db, [a, b], pid, [lambda t: "pos", lambda t: "neu"])
    tid = next_id(db, reviewer, pid)
    with db.session() as s:
        review.decide(s, reviewer.actor, tid, decision="reject", reason=REASON)
    return pid, tid


def no_violations(db):
    with db.read_session() as s:
        assert invariants.find_violations(s).violations == []


def test_the_annotator_sees_the_rejection_and_its_reason(app, db, team):  # noqa: F811
    _, (a, _, _), _ = team
    pid, tid = rejected_task(db, team)
    r = login(app, a).get(f"/api/projects/{pid}/returned")
    assert r.status_code == 200, r.text
    (item,) = r.json()["items"]
    assert (item["task_id"], item["outcome"], item["reason"]) == (tid, "rejected", REASON)
    assert item["your_value"] == {"label": "pos"} and item["can_fix"] is True


def test_the_task_page_says_the_task_was_rejected(app, db, team):  # noqa: F811
    owner, *_ = team
    _, tid = rejected_task(db, team)
    page = login(app, owner).get(f"/tasks/{tid}").text
    assert "rejected — returned to annotators" in page
    assert "0 of 2 submitted" not in page.replace("0 of 2 submitted since", "")
    assert REASON.replace("<", "&lt;").replace(">", "&gt;") in page  # the reason, escaped


def test_a_rejected_answer_can_be_fixed_and_resubmitted(app, db, team):  # noqa: F811
    _, (a, _, _), _ = team
    _, tid = rejected_task(db, team)
    r = login(app, a).post(f"/api/tasks/{tid}/annotations", json={"value": {"label": "neg"}})
    assert r.status_code == 200, r.text
    assert (r.json()["revision"], r.json()["review_status"]) == (2, None)
    with db.read_session() as s:
        task = s.get(Task, tid)
        assert (task.done, task.taken) == (1, 1)
        mine = s.scalars(
            select(Annotation).where(Annotation.task_id == tid, Annotation.user_id == a.user_id)
        ).one()
        assert (mine.value, mine.review_status, mine.revision) == ({"label": "neg"}, None, 2)
    no_violations(db)


# -- the returned list, seen markers, counts ----------------------------------------------------


def test_each_annotator_sees_only_their_own_returned_answers(app, db, team):  # noqa: F811
    _, (a, b, c), reviewer = team
    pid, _ = rejected_task(db, team)
    got = {m.email: login(app, m).get(f"/api/projects/{pid}/returned").json() for m in (a, b, c)}
    assert [i["your_value"] for i in got[a.email]["items"]] == [{"label": "pos"}]
    assert [i["your_value"] for i in got[b.email]["items"]] == [{"label": "neu"}]
    assert got[c.email]["items"] == [] and got[c.email]["needs_attention"] == 0
    item = got[a.email]["items"][0]
    assert item["reviewer"] == reviewer.email  # the lab's own people see who decided
    assert (item["state"], item["seen"], item["revision"], item["decision"]) == (
        "to_fix",
        False,
        1,
        "reject",
    )
    assert login(app, reviewer).get(f"/api/projects/{pid}/returned").json()["items"] == []


def test_counts_seen_markers_and_what_stops_counting(app, db, team):  # noqa: F811
    """A fixable rejection counts until fixed; a correction, or a rejection nobody can fix
    any more, counts until seen."""
    owner, (a, b, c), reviewer = team
    pid = project(db, owner, n=3)
    annotate_all(db, [a, b], pid, [lambda t: "pos", lambda t: "neg"])
    with db.read_session() as s:
        first, second, third = s.scalars(select(Task.id).where(Task.project_id == pid)).all()
    with db.session() as s:
        review.decide(s, reviewer.actor, first, decision="reject", reason="no")
        review.decide(s, reviewer.actor, second, decision="correct", value={"label": "neu"})
        review.decide(s, reviewer.actor, third, decision="accept")
    ca = login(app, a)
    items = ca.get(f"/api/projects/{pid}/returned").json()
    assert [(i["task_id"], i["state"]) for i in items["items"]] == [
        (second, "corrected"),
        (first, "to_fix"),
    ]
    assert items["items"][0]["corrected_value"] == {"label": "neu"}
    assert items["needs_attention"] == 2
    mine = ca.get("/api/me/returned").json()["items"]
    assert mine == [{"project_id": pid, "needs_attention": 2}]
    r = ca.post(f"/api/projects/{pid}/returned/seen")
    assert r.json() == {"marked": 2, "needs_attention": 1}  # the fixable one still counts
    assert ca.post(f"/api/projects/{pid}/returned/seen").json()["marked"] == 0
    # Others fill the rejected task: it can no longer be fixed, and it was seen.
    annotate_all(db, [c, add_member(db, owner)], pid, [lambda t: "neu", lambda t: "neu"])
    items = ca.get(f"/api/projects/{pid}/returned").json()
    assert [i["state"] for i in items["items"]] == ["corrected", "closed"]
    assert items["needs_attention"] == 0
    assert ca.get("/api/me/returned").json()["items"] == []
    # The projects list shows the count (b has seen nothing yet).
    page = login(app, b).get("/").text
    assert f'href="/projects/{pid}/annotate?returned=1">2 returned to you</a>' in page
    assert "returned to you" not in ca.get("/").text


def test_seen_marks_only_the_named_answers_and_only_ones_own(app, db, team):  # noqa: F811
    _, (a, b, _), _ = team
    pid, tid = rejected_task(db, team)
    with db.read_session() as s:
        of_b = s.scalar(
            select(Annotation.id).where(Annotation.task_id == tid, Annotation.user_id == b.user_id)
        )
    r = login(app, a).post(f"/api/projects/{pid}/returned/seen", json={"annotation_ids": [of_b]})
    assert r.json()["marked"] == 0  # b's answer is not a's to mark
    r = login(app, b).post(f"/api/projects/{pid}/returned/seen", json={"annotation_ids": [of_b]})
    assert r.json()["marked"] == 1
    with db.read_session() as s:
        seen = dict(s.execute(select(ReviewOutcome.annotation_id, ReviewOutcome.seen_at)).all())
    assert seen[of_b] is not None and [v for k, v in seen.items() if k != of_b] == [None]


def test_decisions_on_my_answers_for_the_history_badges(app, db, team):  # noqa: F811
    owner, (a, b, _), reviewer = team
    pid = project(db, owner, n=3)
    annotate_all(db, [a, b], pid, [lambda t: "pos", lambda t: "neg"])
    with db.read_session() as s:
        t1, t2, t3 = s.scalars(select(Task.id).where(Task.project_id == pid)).all()
    with db.session() as s:
        review.decide(s, reviewer.actor, t1, decision="reject", reason="no")
        review.decide(s, reviewer.actor, t2, decision="correct", value={"label": "pos"})
    ca = login(app, a)
    r = ca.get(f"/api/projects/{pid}/reviewed?tasks={t1},{t2},{t3},999999")
    assert r.json()["items"] == [
        {"task_id": t1, "status": "rejected", "revision": 1},
        {"task_id": t2, "status": "accepted", "revision": 1},  # it equalled the correction
    ]
    assert login(app, b).get(f"/api/projects/{pid}/reviewed?tasks={t2}").json()["items"] == [
        {"task_id": t2, "status": "corrected", "revision": 1}
    ]
    assert ca.post(f"/api/tasks/{t1}/annotations", json={"value": {"label": "neu"}}).is_success
    r = ca.get(f"/api/projects/{pid}/reviewed?tasks={t1}")
    assert r.json()["items"] == [{"task_id": t1, "status": "resubmitted", "revision": 2}]
    assert ca.get(f"/api/projects/{pid}/reviewed").json()["items"] == []
    assert ca.get(f"/api/projects/{pid}/reviewed?tasks=1,x").status_code == 422


# -- fixing: the lease, the slot, the review queue ----------------------------------------------


def test_fix_leases_the_task_again_and_gives_back_the_other_lease(app, db, team):  # noqa: F811
    owner, (a, b, _), reviewer = team
    pid, tid = rejected_task(db, team)
    add_tasks(db, owner, pid, text_rows(1, start=50))
    ca = login(app, a)
    other = ca.post(f"/api/projects/{pid}/next").json()["task"]["id"]
    assert other != tid
    r = ca.post(f"/api/tasks/{tid}/fix")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["task"]["id"] == tid and body["lease"]["new"] is False
    (own,) = body["task"]["annotations"]
    assert (own["value"], own["review_status"]) == ({"label": "pos"}, "rejected")
    with db.read_session() as s:
        held = dict(
            s.execute(
                select(Assignment.task_id, Assignment.status).where(Assignment.user_id == a.user_id)
            ).all()
        )
        assert held == {tid: "leased"}  # the other task went back to the queue
        assert (s.get(Task, tid).taken, s.get(Task, other).taken) == (1, 0)
        assert (
            s.scalar(select(ReviewOutcome.seen_at).where(ReviewOutcome.annotation_id == own["id"]))
            is not None
        )
    no_violations(db)
    # Asking again while it is held renews it; /next returns it too.
    assert ca.post(f"/api/tasks/{tid}/fix").json()["task"]["id"] == tid
    assert ca.post(f"/api/projects/{pid}/next").json()["task"]["id"] == tid
    item = ca.get(f"/api/projects/{pid}/returned").json()["items"][0]
    assert (item["fixing"], item["can_fix"]) == (True, True)
    # The fixed answer: a new revision, counted, back in review marked as a resubmission.
    r = ca.post(f"/api/tasks/{tid}/annotations", json={"value": {"label": "neg"}})
    assert r.json()["revision"] == 2
    assert ca.get(f"/api/projects/{pid}/returned").json()["items"] == []
    cb = login(app, b)
    assert cb.post(f"/api/tasks/{tid}/annotations", json={"value": {"label": "neu"}}).is_success
    with db.read_session() as s:
        task = s.get(Task, tid)
        assert (task.done, task.taken, task.is_open) == (2, 2, False)
    no_violations(db)
    item = login(app, reviewer).post(f"/api/projects/{pid}/review/next").json()
    assert item["task"]["id"] == tid
    again = {a["annotator_email"]: a["resubmitted_after"] for a in item["task"]["annotations"]}
    assert again[a.email]["revision"] == 1 and again[a.email]["reason"] == REASON
    assert again[b.email]["revision"] == 1  # b resubmitted unchanged: still a resubmission
    state = login(app, owner).get(f"/api/tasks/{tid}").json()["review_state"]
    assert state["status"] == "done"
    assert (
        state["text"] == "2 of 2 submitted · waiting for review (2 resubmitted after a rejection)"
    )


def test_fix_is_refused_when_nothing_was_rejected_or_the_task_is_full(app, db, team):  # noqa: F811
    owner, (a, _, c), _ = team
    pid, tid = rejected_task(db, team)
    d = add_member(db, owner)
    cc = login(app, c)
    # c never had the task: it is missing to them, fixing included
    assert cc.post(f"/api/tasks/{tid}/fix").status_code == 404
    annotate_all(db, [c, d], pid, [lambda t: "neg", lambda t: "neg"])
    r = login(app, a).post(f"/api/tasks/{tid}/fix")
    assert r.status_code == 409 and "needs no more answers" in r.json()["error"]["message"]
    r = cc.post(f"/api/tasks/{tid}/fix")
    assert r.status_code == 409 and "was not rejected" in r.json()["error"]["message"]
    with db.read_session() as s:
        task = s.get(Task, tid)
        assert (task.done, task.taken) == (2, 2)
    r = login(app, owner).post(f"/api/tasks/{tid}/fix")  # the lab: nothing of theirs on it
    assert r.status_code == 409
    no_violations(db)


def test_an_abandoned_fix_lease_expires_and_the_slot_returns(db, team):  # noqa: F811
    _, (a, _, c), _ = team
    pid, tid = rejected_task(db, team)
    with db.session() as s:
        returned.fix(s, a.actor, tid)
        s.execute(
            Assignment.__table__.update()
            .where(Assignment.task_id == tid, Assignment.user_id == a.user_id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    with db.session() as s:  # the next claim in the project sweeps it
        assert queue.claim_next(s, c.actor, pid).task.id == tid
    with db.read_session() as s:
        status = s.scalar(
            select(Assignment.status).where(
                Assignment.task_id == tid, Assignment.user_id == a.user_id
            )
        )
        assert (status, s.get(Task, tid).taken) == ("expired", 1)
    no_violations(db)
    with db.session() as s:  # a late resubmission still takes the free slot
        annotations.save(s, a.actor, tid, value={"label": "neg"})
    with db.read_session() as s:
        assert (s.get(Task, tid).done, s.get(Task, tid).taken) == (1, 2)
    no_violations(db)
    with db.session() as s, pytest.raises(Conflict):
        returned.fix(s, a.actor, tid)  # resubmitted: nothing left to fix


def test_returned_routes_are_scoped_to_the_organization_and_project(app, db, team):  # noqa: F811
    _, (a, _, _), _ = team
    pid, tid = rejected_task(db, team)
    stranger = make_org(db, "Elsewhere")
    cs = login(app, stranger)
    for method, url in (
        ("GET", f"/api/projects/{pid}/returned"),
        ("POST", f"/api/projects/{pid}/returned/seen"),
        ("GET", f"/api/projects/{pid}/reviewed?tasks={tid}"),
        ("POST", f"/api/tasks/{tid}/fix"),
    ):
        r = cs.request(method, url)
        assert r.status_code == 404, (method, url, r.text)
        assert REASON not in r.text
    assert cs.get("/api/me/returned").json()["items"] == []
    other = make_project(db, stranger)  # a's own organization's projects only
    assert login(app, a).get(f"/api/projects/{other}/returned").status_code == 404


def test_task_status_text_and_browser_rows(app, db, team):  # noqa: F811
    owner, (a, b, _), reviewer = team
    pid, tid = rejected_task(db, team)
    co = login(app, owner)
    state = co.get(f"/api/tasks/{tid}").json()["review_state"]
    assert state == {
        "status": "rejected",
        "text": "rejected — returned to annotators · 0 of 2 submitted since",
        "decision": "reject",
        "reason": REASON,
    }
    assert "review_state" not in login(app, a).get(f"/api/tasks/{tid}").json()
    rows = co.get(f"/projects/{pid}/tasks").text
    assert 'class="badge status-rejected">rejected</span>' in rows
    login(app, a).post(f"/api/tasks/{tid}/annotations", json={"value": {"label": "neg"}})
    state = co.get(f"/api/tasks/{tid}").json()["review_state"]
    assert state["text"] == "rejected — returned to its annotator · 1 of 2 submitted since"
    login(app, b).post(f"/api/tasks/{tid}/annotations", json={"value": {"label": "neg"}})
    with db.session() as s:
        review.decide(s, reviewer.actor, tid, decision="accept")
    state = co.get(f"/api/tasks/{tid}").json()["review_state"]
    assert (state["status"], state["text"]) == ("accepted", "2 of 2 submitted · accepted in review")
    page = co.get(f"/tasks/{tid}").text
    assert page.count('class="badge status-accepted">accepted</span>') >= 3  # head, 2 answers


def test_a_vendors_annotator_is_returned_their_work_in_their_workforce(app, db, world):  # noqa: F811
    """Routed work: the vendor reviewer's rejection reaches their workforce's annotator
    without naming the reviewer; fixing takes the slot back from the workforce's route; the
    other vendor sees nothing of it."""
    pid, reviewer = world["pid"], world["a_reviewer"]
    with db.session() as s:
        item = review.next_for_review(s, reviewer.actor, pid)
        tid, author = item.task.id, item.annotations[0].user_id
        review.decide(s, reviewer.actor, tid, decision="reject", reason=REASON)
    with db.read_session() as s:
        email = s.scalar(select(User.email).where(User.id == author))
        route = select(TaskRoute.taken).where(TaskRoute.task_id == tid)
        assert s.scalar(route) == 0  # the slot went back to vendor A
    annotator = Member(db, author, world["owner"].organization_id, email)
    c = login(app, annotator)
    body = c.get(f"/api/projects/{pid}/returned").json()
    (returned_item,) = body["items"]
    assert (returned_item["task_id"], returned_item["reviewer"]) == (tid, "a reviewer")
    assert reviewer.email not in str(body) and world["owner"].email not in str(body)
    assert c.post(f"/api/tasks/{tid}/fix").json()["task"]["id"] == tid
    with db.read_session() as s:
        assert s.scalar(route) == 1
    assert c.post(f"/api/tasks/{tid}/annotations", json={"value": {"label": "neg"}}).is_success
    no_violations(db)
    with db.read_session() as s:  # B's annotator: nothing returned, the task missing
        b_id = s.scalar(
            select(Assignment.user_id).where(Assignment.task_id == world["done"]["B"][0])
        )
        b_email = s.scalar(select(User.email).where(User.id == b_id))
    cb = login(app, Member(db, b_id, world["owner"].organization_id, b_email))
    assert cb.get(f"/api/projects/{pid}/returned").json()["items"] == []
    assert cb.get(f"/api/projects/{pid}/reviewed?tasks={tid}").json()["items"] == []
    assert cb.post(f"/api/projects/{pid}/returned/seen").json()["marked"] == 0
    assert cb.post(f"/api/tasks/{tid}/fix").status_code == 404
