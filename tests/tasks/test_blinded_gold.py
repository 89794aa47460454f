"""Blinded gold: to an annotator of any workforce a gold task is an ordinary task.

A vendor's client sees the same JSON (same keys, same types) for a gold task as for an
ordinary one on every route an annotator uses, the same lease, status and counters, and
gold is served to every workforce by the same rule at the same rate, outside routing.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from labelhouse.accounts.models import Role
from labelhouse.annotations import service as annotations
from labelhouse.people import project_members, teams, workforces
from labelhouse.review import gold as gold_scores
from labelhouse.tasks import gold, outside_policy, queue, routing
from labelhouse.tasks.models import Assignment, Task, TaskRoute
from tests.factories import add_member, add_tasks, login, make_org, make_project, text_rows

LEASE_SECONDS = 900


def gold_rows(n: int, start: int = 0) -> list[dict[str, Any]]:
    return [
        {
            "data": {"text": f"item {1000 + i}", "secret": f"s{i}"},
            "external_id": f"x{i}",
            "gold": {"label": "pos"},
        }
        for i in range(start, start + n)
    ]


def plain_rows(n: int, start: int = 0) -> list[dict[str, Any]]:
    return [
        {"data": {"text": f"item {i}", "secret": f"s{i}"}, "external_id": f"t{i}"}
        for i in range(start, start + n)
    ]


def shape(value: Any) -> Any:
    """What a client can tell about a JSON value without reading it: keys and types,
    recursively (a list's shape is the set of its elements' shapes)."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return ("list", sorted({repr(shape(v)) for v in value}))
    return type(value).__name__


def vendor(db, owner, pid, name, people=1):
    members = [add_member(db, owner, Role.annotator, join_projects=False) for _ in range(people)]
    with db.session() as s:
        team = teams.create_team(s, owner.actor, name=name)
        teams.add_members(s, owner.actor, team.id, emails=[m.email for m in members])
        workforces.update_workforce(s, owner.actor, team.id, kind="vendor")
        project_members.add_team(s, owner.actor, pid, team_id=team.id, role="annotator")
    return team.id, members


def route_share(db, owner, pid, slots):
    with db.session() as s:
        routing.route_tasks(s, owner.actor, pid, mode="share", slots=slots)


def gold_ids(db, pid) -> set[int]:
    with db.read_session() as s:
        return set(s.scalars(select(Task.id).where(Task.project_id == pid, Task.gold.is_not(None))))


@pytest.fixture(params=["as imported", "outside policy"])
def routed(db, request):
    """A routed project (overlap 1) with gold mixed into the import, one vendor with two
    people: the first task each person is handed is gold (gold_first_n=1), then ordinary.
    With an outside policy (a hidden key) as well as without."""
    owner = make_org(db)
    pid = make_project(db, owner, overlap=1, lease_seconds=LEASE_SECONDS)
    rows = [*plain_rows(3), *gold_rows(2), *plain_rows(7, start=3)]  # gold among the others
    add_tasks(db, owner, pid, rows)
    with db.session() as s:
        queue.update_project(s, owner.actor, pid, {"gold_first_n": 1, "gold_rate": 0.0})
        if request.param == "outside policy":
            outside_policy.set_policy(s, owner.actor, pid, {"hidden_keys": ["secret"]})
    team, (v1, v2) = vendor(db, owner, pid, "Acme", people=2)
    route_share(db, owner, pid, [routing.Slot(team, share=1)])
    return db, owner, pid, v1, v2


def test_gold_and_ordinary_have_the_same_shape_everywhere_for_a_vendor(app, routed):
    db, _owner, pid, v1, v2 = routed
    golds = gold_ids(db, pid)
    # Someone else answered the gold task already: its true counters now differ from an
    # ordinary task's (overlap 1: an ordinary task in hand has nobody else's answer).
    first = login(app, v2).post(f"/api/projects/{pid}/next").json()["task"]
    assert first["id"] in golds
    login(app, v2).post(f"/api/tasks/{first['id']}/annotations", json={"value": {"label": "pos"}})

    c = login(app, v1)
    g_next = c.post(f"/api/projects/{pid}/next").json()
    assert g_next["task"]["id"] == first["id"]  # the same gold task, served again
    g_id = g_next["task"]["id"]
    g_get = c.get(f"/api/tasks/{g_id}").json()
    g_list = {t["id"]: t for t in c.get(f"/api/projects/{pid}/tasks").json()["items"]}[g_id]
    g_submit = c.post(
        f"/api/tasks/{g_id}/annotations?next=1", json={"value": {"label": "neg"}}
    ).json()
    n_next = g_submit["next"]  # the following task: ordinary
    n_id = n_next["task"]["id"]
    assert n_id not in golds
    n_get = c.get(f"/api/tasks/{n_id}").json()
    n_list = {t["id"]: t for t in c.get(f"/api/projects/{pid}/tasks").json()["items"]}[n_id]
    n_submit = c.post(
        f"/api/tasks/{n_id}/annotations?next=1", json={"value": {"label": "neg"}}
    ).json()

    pairs = {
        "next": (g_next, n_next),
        "get": (g_get, n_get),
        "list": (g_list, n_list),
        "submit": (g_submit["annotation"], n_submit["annotation"]),
    }
    for route, (g, n) in pairs.items():
        assert shape(g) == shape(n), route
        assert "gold" not in repr(sorted(_keys(g))), route
    # The leased task, seen three ways, tells the same story as an ordinary one in hand.
    for seen in (g_next["task"], g_get, g_list):
        assert (seen["status"], seen["annotations_done"]) == ("in_progress", 0)
    for seen in (n_next["task"], n_get, n_list):
        assert (seen["status"], seen["annotations_done"]) == ("in_progress", 0)
    # After the submission both are done with one answer, in the listing too.
    listed = {t["id"]: t for t in c.get(f"/api/projects/{pid}/tasks").json()["items"]}
    for tid in (g_id, n_id):
        assert (listed[tid]["status"], listed[tid]["annotations_done"]) == ("done", 1)
        got = c.get(f"/api/tasks/{tid}").json()
        assert (got["status"], got["annotations_done"]) == ("done", 1)
    assert g_submit["annotation"]["review_status"] == n_submit["annotation"]["review_status"]


def _keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


def test_nothing_a_client_can_see_differs(app, routed):
    db, _owner, pid, v1, _v2 = routed
    golds = gold_ids(db, pid)
    c = login(app, v1)
    before = datetime.now().astimezone()
    g = c.post(f"/api/projects/{pid}/next").json()
    assert g["task"]["id"] in golds
    c.post(f"/api/tasks/{g['task']['id']}/annotations", json={"value": {"label": "pos"}})
    n = c.post(f"/api/projects/{pid}/next").json()
    assert n["task"]["id"] not in golds
    # the same lease: same duration, same "new" flag
    for body in (g, n):
        expires = datetime.fromisoformat(body["lease"]["expires_at"].replace("Z", "+00:00"))
        assert abs((expires - before).total_seconds() - LEASE_SECONDS) < 60
        assert body["lease"]["new"] is True
    # the same status values a client can filter on
    for status in ("new", "in_progress", "done"):
        items = c.get(f"/api/projects/{pid}/tasks", params={"status": status}).json()["items"]
        assert all(t["status"] == status for t in items), status
    # asking again for the held lease answers the same way for both kinds
    again = c.post(f"/api/projects/{pid}/next").json()
    assert again["lease"]["new"] is False and again["task"]["id"] == n["task"]["id"]
    # skipping works the same way on both (204), and ids never given out are equally missing
    with db.read_session() as s:
        unseen = s.execute(
            select(Task.id, Task.gold.is_not(None)).where(
                Task.project_id == pid,
                ~select(Assignment.id).where(Assignment.task_id == Task.id).exists(),
            )
        ).all()
    unseen_gold = next(t for t, is_gold in unseen if is_gold)
    unseen_plain = next(t for t, is_gold in unseen if not is_gold)
    answers = [c.get(f"/api/tasks/{t}") for t in (unseen_gold, unseen_plain, 987_654_321)]
    assert {r.status_code for r in answers} == {404}
    bodies = {re.sub(r"\d+", "N", r.text) for r in answers}
    assert len(bodies) == 1
    assert c.post(f"/api/tasks/{n['task']['id']}/skip").status_code == 204


def test_a_gold_task_in_hand_is_listed_like_an_ordinary_one(app, db):
    """overlap 2: two people answered the gold task; the third holds it. An ordinary task
    in hand can have at most one other answer, so the listing must not say two or done."""
    owner = make_org(db)
    pid = make_project(db, owner, overlap=2)
    add_tasks(db, owner, pid, gold_rows(1) + text_rows(3))
    with db.session() as s:
        queue.update_project(s, owner.actor, pid, {"gold_first_n": 1, "gold_rate": 0.0})
    people = [add_member(db, owner) for _ in range(3)]
    for m in people[:2]:
        with db.session() as s:
            tid = queue.claim_next(s, m.actor, pid).task.id
        with db.session() as s:
            annotations.save(s, m.actor, tid, value={"label": "pos"})
    c = login(app, people[2])
    held = c.post(f"/api/projects/{pid}/next").json()["task"]
    assert held["id"] in gold_ids(db, pid)
    listed = c.get(f"/api/projects/{pid}/tasks").json()["items"]
    assert [(t["status"], t["annotations_done"]) for t in listed] == [("in_progress", 1)]
    # every listed task is found under the status it shows, and under no other
    for status, expected in (("done", []), ("new", []), ("in_progress", [held["id"]])):
        items = c.get(f"/api/projects/{pid}/tasks", params={"status": status}).json()["items"]
        assert [t["id"] for t in items] == expected, status
    got = c.get(f"/api/tasks/{held['id']}").json()
    assert (got["status"], got["annotations_done"]) == ("in_progress", 1)


# -- the same rate for every workforce ---------------------------------------------------------


def test_two_vendors_are_served_gold_by_the_same_rule_at_the_same_rate(db):
    owner = make_org(db)
    pid = make_project(db, owner, overlap=1)
    add_tasks(db, owner, pid, gold_rows(60) + text_rows(300))
    first_n, rate, per_person = 2, 0.2, 40
    with db.session() as s:
        queue.update_project(s, owner.actor, pid, {"gold_first_n": first_n, "gold_rate": rate})
    a, a_people = vendor(db, owner, pid, "A", people=3)
    b, b_people = vendor(db, owner, pid, "B", people=3)
    route_share(db, owner, pid, [routing.Slot(a, share=1), routing.Slot(b, share=1)])
    golds = gold_ids(db, pid)
    with db.read_session() as s:
        routed_gold = s.scalar(
            select(func.count()).select_from(TaskRoute).where(TaskRoute.task_id.in_(golds))
        )
    assert routed_gold == 0  # gold is never routed

    served: dict[int, list[bool]] = {}
    for m in a_people + b_people:  # interleaved runs would give the same sequences
        seq = served.setdefault(m.user_id, [])
        for _ in range(per_person):
            with db.session() as s:
                lease = queue.claim_next(s, m.actor, pid, gate=gold_scores.pause_gate)
                assert lease is not None
            seq.append(lease.task.id in golds)
            with db.session() as s:
                annotations.save(s, m.actor, lease.task.id, value={"label": "pos"})

    # the rule, replayed: gold while fewer than first_n gold answers, then by the coin
    for uid, seq in served.items():
        answered, expected = 0, []
        for count in range(per_person):
            is_gold = answered < first_n or gold.draw(pid, uid, count) < rate
            expected.append(is_gold)
            answered += is_gold
        assert seq == expected, uid

    def share(people):
        flags = [f for m in people for f in served[m.user_id]]
        return sum(flags) / len(flags)

    share_a, share_b = share(a_people), share(b_people)
    expected_share = (first_n + rate * (per_person - first_n)) / per_person
    assert abs(share_a - share_b) < 0.12, (share_a, share_b)
    for got in (share_a, share_b):
        assert abs(got - expected_share) < 0.12, (got, expected_share)
    # every gold lease records the vendor it was served to; no route slot was spent on it
    with db.read_session() as s:
        by_workforce = dict(
            s.execute(
                select(Assignment.workforce_id, func.count())
                .where(Assignment.task_id.in_(golds))
                .group_by(Assignment.workforce_id)
            ).all()
        )
        route_taken = s.scalar(select(func.sum(TaskRoute.taken)).where(TaskRoute.project_id == pid))
    assert by_workforce == {
        a: sum(sum(served[m.user_id]) for m in a_people),
        b: sum(sum(served[m.user_id]) for m in b_people),
    }
    assert route_taken == sum(not f for seq in served.values() for f in seq)
