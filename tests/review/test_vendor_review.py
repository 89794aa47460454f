"""Review split by workforce: a vendor's reviewer reviews only their own workforce's work
and sees nothing else of the project; the lab's reviewers still review everything (both
databases)."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from labelhouse.accounts.models import Role
from labelhouse.annotations import service as annotations
from labelhouse.errors import NotFound, PermissionDenied
from labelhouse.people import project_members, teams, workforces
from labelhouse.review import gold as gold_scores
from labelhouse.review import service as review
from labelhouse.tasks import queue, routing
from labelhouse.tasks import service as tasks
from labelhouse.tasks.models import Assignment, Task, TaskRoute
from labelhouse.tasks.routing import Selection, Slot
from tests.factories import add_member, add_tasks, login, make_org, make_project, text_rows


def vendor(db, owner, pid, name, people):
    with db.session() as s:
        team = teams.create_team(s, owner.actor, name=name)
        teams.add_members(s, owner.actor, team.id, emails=[m.email for m in people])
        workforces.update_workforce(s, owner.actor, team.id, kind="vendor")
        project_members.add_team(s, owner.actor, pid, team_id=team.id, role="annotator")
        return team.id


def annotate_everything(db, member, pid):
    done = []
    while True:
        with db.session() as s:
            lease = queue.claim_next(s, member.actor, pid)
            if lease is None:
                return done
            annotations.save(s, member.actor, lease.task.id, value={"label": "pos"})
            done.append(lease.task.id)


@pytest.fixture
def world(db):
    """Project P (overlap 1, review all): 8 tasks routed by share to vendors A and B, 4
    routed to nobody (the lab's). A has two annotators and a reviewer (a direct project
    reviewer), B one annotator; the lab an annotator and a reviewer."""
    owner = make_org(db)
    pid = make_project(db, owner, overlap=1, open_to_all=False)
    add_tasks(db, owner, pid, text_rows(12))
    with db.session() as s:
        queue.update_project(s, owner.actor, pid, {"review_mode": "all"})
        ids = list(s.scalars(select(Task.id).where(Task.project_id == pid).order_by(Task.id)))
    new = [add_member(db, owner, Role.annotator, join_projects=False) for _ in range(6)]
    a1, a2, a_reviewer, b1, lab_annotator, lab_reviewer = new
    a = vendor(db, owner, pid, "Vendor A", [a1, a2, a_reviewer])
    b = vendor(db, owner, pid, "Vendor B", [b1])
    with db.session() as s:
        project_members.add_people(s, owner.actor, pid, emails=[a_reviewer.email], role="reviewer")
        project_members.add_people(
            s, owner.actor, pid, emails=[lab_annotator.email], role="annotator"
        )
        project_members.add_people(
            s, owner.actor, pid, emails=[lab_reviewer.email], role="reviewer"
        )
        routing.route_tasks(
            s,
            owner.actor,
            pid,
            mode="share",
            slots=[Slot(a, share=50), Slot(b, share=50)],
            selection=Selection(task_ids=tuple(ids[:8])),
        )
    done = {
        "A": annotate_everything(db, a1, pid) + annotate_everything(db, a2, pid),
        "B": annotate_everything(db, b1, pid),
        "lab": annotate_everything(db, lab_annotator, pid),
    }
    assert sorted(len(v) for v in done.values()) == [4, 4, 4]
    with db.read_session() as s:
        routed_a = set(s.scalars(select(TaskRoute.task_id).where(TaskRoute.workforce_id == a)))
    assert set(done["A"]) == routed_a
    return {
        "owner": owner,
        "pid": pid,
        "a": a,
        "a_people": {a1.email, a2.email},
        "a_reviewer": a_reviewer,
        "lab_reviewer": lab_reviewer,
        "done": done,
    }


def review_all(db, reviewer, pid):
    """Every item the reviewer's queue gives, accepted: [(task id, annotator e-mails)]."""
    seen = []
    while True:
        with db.session() as s:
            item = review.next_for_review(s, reviewer.actor, pid)
            if item is None:
                return seen
            assert set(item.emails) == {x.user_id for x in item.annotations}
            seen.append((item.task.id, set(item.emails.values())))
            review.decide(s, reviewer.actor, item.task.id, decision="accept")


def test_a_vendor_reviewer_reviews_only_their_workforces_work(db, world):
    pid, reviewer = world["pid"], world["a_reviewer"]
    assert reviewer.actor.in_project(pid).at_least(Role.reviewer)
    assert not reviewer.actor.in_project(pid).sees_whole_project
    seen = review_all(db, reviewer, pid)
    assert sorted(t for t, _ in seen) == sorted(world["done"]["A"])
    for _, emails in seen:
        assert emails <= world["a_people"]
    # The lab's reviewer gets the rest: B's and the lab's.
    rest = review_all(db, world["lab_reviewer"], pid)
    assert sorted(t for t, _ in rest) == sorted(world["done"]["B"] + world["done"]["lab"])


def test_a_lab_reviewer_still_reviews_everything(db, world):
    seen = review_all(db, world["lab_reviewer"], world["pid"])
    assert len(seen) == 12


def test_annotations_served_outside_the_workforce_keep_a_task_from_its_reviewer(db, world):
    """A task routed to A holding an annotation its author was not served in A (e.g. they
    joined A later) is not A's reviewer's to review."""
    pid, reviewer = world["pid"], world["a_reviewer"]
    odd = world["done"]["A"][0]
    with db.session() as s:
        s.execute(update(Assignment).where(Assignment.task_id == odd).values(workforce_id=None))
    seen = review_all(db, reviewer, pid)
    assert sorted(t for t, _ in seen) == sorted(world["done"]["A"][1:])
    with db.session() as s, pytest.raises(NotFound):
        review.decide(s, reviewer.actor, odd, decision="accept")


def test_other_workforces_tasks_are_missing_to_a_vendor_reviewer(db, world):
    pid, reviewer = world["pid"], world["a_reviewer"]
    others = world["done"]["B"][:1] + world["done"]["lab"][:1]
    for task_id in [*others, world["done"]["A"][0]]:
        with db.read_session() as s, pytest.raises(NotFound, match=f"Task {task_id} does not"):
            tasks.get_task(s, reviewer.actor, task_id)
    for task_id in others:
        with db.session() as s, pytest.raises(NotFound):
            review.decide(s, reviewer.actor, task_id, decision="accept")
        with db.session() as s, pytest.raises(NotFound):
            review.decide(s, reviewer.actor, task_id, decision="reject", reason="no")
    with db.read_session() as s:
        assert tasks.list_tasks(s, reviewer.actor, pid).items == []
    # The task under review is theirs while they hold its lease; after the decision it is not.
    with db.session() as s:
        item = review.next_for_review(s, reviewer.actor, pid)
        assert item is not None
        leased = item.task.id
    with db.read_session() as s:
        assert tasks.get_task(s, reviewer.actor, leased)[0].id == leased
        assert [a.user_id for a in annotations.annotations_of_task(s, reviewer.actor, leased)] == []
    with db.session() as s:
        review.decide(s, reviewer.actor, leased, decision="accept")
    with db.read_session() as s, pytest.raises(NotFound):
        tasks.get_task(s, reviewer.actor, leased)


def test_project_wide_views_are_the_labs(db, world):
    pid, reviewer = world["pid"], world["a_reviewer"]
    with db.read_session() as s, pytest.raises(PermissionDenied, match="lab's own reviewers"):
        gold_scores.gold_accuracy(s, reviewer.actor, pid)
    with db.read_session() as s, pytest.raises(PermissionDenied, match="lab's own reviewers"):
        review.review_stats(s, reviewer.actor, pid)
    with db.read_session() as s:
        assert gold_scores.gold_accuracy(s, world["lab_reviewer"].actor, pid) is not None


def test_the_api_and_pages(app, world):
    pid = world["pid"]
    c = login(app, world["a_reviewer"])
    for url in (
        f"/api/projects/{pid}/quality",
        f"/api/projects/{pid}/consensus",
        f"/api/projects/{pid}/gold/accuracy",
        f"/api/projects/{pid}/review/stats",
        f"/projects/{pid}/quality",
        f"/projects/{pid}/tasks",
        f"/projects/{pid}",
    ):
        assert c.get(url).status_code == 403, url
    r = c.get(f"/projects/{pid}/review")
    assert r.status_code == 200
    assert f"/projects/{pid}/quality" not in r.text  # no tab to a page they cannot open
    r = c.post(f"/api/projects/{pid}/review/next")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["task"]["id"] in world["done"]["A"]
    emails = {a["annotator_email"] for a in body["task"]["annotations"]}
    assert emails and emails <= world["a_people"]
    assert c.get(f"/api/tasks/{body['task']['id']}").status_code == 200  # leased to them
    other = world["done"]["B"][0]
    assert c.get(f"/api/tasks/{other}").status_code == 404
    r = c.post(f"/api/tasks/{other}/review", json={"decision": "accept"})
    assert r.status_code == 404
    r = c.post(f"/api/tasks/{body['task']['id']}/review", json={"decision": "accept"})
    assert r.status_code == 201, r.text
    lab = login(app, world["lab_reviewer"])
    assert lab.get(f"/api/projects/{pid}/quality").status_code == 200
    assert lab.get(f"/api/projects/{pid}/review/stats").status_code == 200


def test_a_vendor_is_never_a_project_manager(db, world):
    from labelhouse.errors import Conflict

    owner, pid = world["owner"], world["pid"]
    with db.session() as s, pytest.raises(Conflict, match="not a manager"):
        project_members.add_team(s, owner.actor, pid, team_id=world["a"], role="manager")
    with db.session() as s:  # a vendor team may be made a reviewer: all its people review
        project_members.add_team(s, owner.actor, pid, team_id=world["a"], role="reviewer")
