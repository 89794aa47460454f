"""Review feedback reaches the annotator (issue 13 item 2): the decision and reason on their
answers, the "Returned to you" list, fixing and resubmitting a rejected answer, and the task
page's status saying what happened (both databases)."""

from __future__ import annotations

from sqlalchemy import select

from labelhouse.annotations.models import Annotation
from labelhouse.review import service as review
from labelhouse.tasks.models import Task
from tests.factories import login
from tests.review.test_review import annotate_all, next_id, project, team  # noqa: F401

REASON = "Sarcasm is negative: read the guideline <b>again</b>."


def rejected_task(db, team):  # noqa: F811
    owner, (a, b, _), reviewer = team
    pid = project(db, owner, n=1)
    annotate_all(db, [a, b], pid, [lambda t: "pos", lambda t: "neu"])
    tid = next_id(db, reviewer, pid)
    with db.session() as s:
        review.decide(s, reviewer.actor, tid, decision="reject", reason=REASON)
    return pid, tid


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
