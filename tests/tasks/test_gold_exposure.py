"""Gold exposure: serves counted per item and workforce, the over-limit flag, rotation (by
hand and on the serve that goes over the limit), reserve and retired items never served,
and the API, settings and page around them (both databases)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from labelhouse.accounts.models import Role
from labelhouse.annotations import service as annotations
from labelhouse.audit.models import AuditEvent
from labelhouse.errors import Conflict, InvalidInput, PermissionDenied
from labelhouse.people import project_members, teams, workforces
from labelhouse.projects.service import update_settings
from labelhouse.review import gold as gold_scores
from labelhouse.tasks import gold_exposure, queue, routing
from labelhouse.tasks.models import Task
from tests.factories import (
    add_member,
    add_tasks,
    login,
    make_org,
    make_project,
    run_in_threads,
    text_rows,
)


def gold_rows(prefix: str, n: int) -> list[dict[str, Any]]:
    return [
        {"data": {"text": f"{prefix} {i}"}, "external_id": f"{prefix}{i}", "gold": {"label": "pos"}}
        for i in range(n)
    ]


def ids_by_external(db, pid) -> dict[str, int]:
    with db.read_session() as s:
        return dict(
            s.execute(select(Task.external_id, Task.id).where(Task.project_id == pid)).all()
        )


def states(db, pid) -> dict[str, str | None]:
    with db.read_session() as s:
        return dict(
            s.execute(
                select(Task.external_id, Task.gold_state).where(
                    Task.project_id == pid, Task.gold.is_not(None)
                )
            ).all()
        )


def claim(db, member, pid) -> int | None:
    with db.session() as s:
        lease = queue.claim_next(s, member.actor, pid, gate=gold_scores.pause_gate)
        return None if lease is None else lease.task.id


def submit(db, member, task_id) -> None:
    with db.session() as s:
        annotations.save(s, member.actor, task_id, value={"label": "pos"})


def work(db, member, pid, n) -> list[int]:
    done = []
    for _ in range(n):
        tid = claim(db, member, pid)
        if tid is None:
            break
        submit(db, member, tid)
        done.append(tid)
    return done


def settings(db, owner, pid, **changes) -> None:
    with db.session() as s:
        queue.update_project(s, owner.actor, pid, changes)


def exposure(db, owner, pid) -> dict[str, gold_exposure.GoldExposure]:
    with db.read_session() as s:
        return {g.external_id: g for g in gold_exposure.gold_exposure(s, owner.actor, pid)}


def vendor(db, owner, pid, name, people):
    members = [add_member(db, owner, Role.annotator, join_projects=False) for _ in range(people)]
    with db.session() as s:
        team = teams.create_team(s, owner.actor, name=name)
        teams.add_members(s, owner.actor, team.id, emails=[m.email for m in members])
        workforces.update_workforce(s, owner.actor, team.id, kind="vendor")
        project_members.add_team(s, owner.actor, pid, team_id=team.id, role="annotator")
    return team.id, members


def set_state(db, owner, pid, external_ids, state) -> None:
    ids = ids_by_external(db, pid)
    with db.session() as s:
        for ext in external_ids:
            gold_exposure.set_gold_state(s, owner.actor, ids[ext], state)


# -- counting ----------------------------------------------------------------------------------


def test_served_counts_per_workforce_and_the_over_limit_flag(app, db):
    owner = make_org(db)
    pid = make_project(db, owner, overlap=1)
    add_tasks(db, owner, pid, gold_rows("x", 3) + text_rows(20))
    settings(db, owner, pid, gold_first_n=2, gold_rate=0.0)
    a, a_people = vendor(db, owner, pid, "Acme", 2)
    b, b_people = vendor(db, owner, pid, "Bolt", 1)
    with db.session() as s:
        routing.route_tasks(
            s, owner.actor, pid, mode="share", slots=[routing.Slot(a, 1), routing.Slot(b, 1)]
        )
    add_tasks(db, owner, pid, text_rows(10, start=100))  # routed to nobody: for lab people
    lab = add_member(db, owner)
    for m in [*a_people, *b_people, lab]:
        assert len(work(db, m, pid, 3)) == 3  # x0, x1, then ordinary work

    seen = exposure(db, owner, pid)
    assert list(seen) == ["x0", "x1", "x2"]
    for ext in ("x0", "x1"):
        item = seen[ext]
        assert item.served == 4 and item.state == "active" and not item.over_limit
        assert [(w.id, w.name, w.served) for w in item.workforces] == [
            (a, "Acme", 2),
            (b, "Bolt", 1),
            (None, "no workforce", 1),
        ]
    assert (seen["x2"].served, seen["x2"].workforces) == (0, [])

    c = login(app, owner)
    r = c.patch(f"/api/projects/{pid}", json={"gold_exposure_limit": 3})
    assert r.status_code == 200 and r.json()["gold_exposure_limit"] == 3
    body = c.get(f"/api/projects/{pid}/gold/exposure").json()
    assert set(body) == {"items", "next_cursor"} and body["next_cursor"] is None
    flags = {i["external_id"]: (i["served"], i["over_limit"], i["state"]) for i in body["items"]}
    assert flags == {
        "x0": (4, True, "active"),
        "x1": (4, True, "active"),
        "x2": (0, False, "active"),
    }
    assert body["items"][0]["workforces"][0] == {"id": a, "name": "Acme", "served": 2}
    # project managers only
    reviewer = add_member(db, owner, Role.reviewer)
    assert login(app, reviewer).get(f"/api/projects/{pid}/gold/exposure").status_code == 403
    assert login(app, lab).get(f"/api/projects/{pid}/gold/exposure").status_code == 403
    assert login(app, lab).post(f"/api/projects/{pid}/gold/rotate").status_code == 403
    with db.read_session() as s, pytest.raises(PermissionDenied):
        gold_exposure.gold_exposure(s, reviewer.actor, pid)


# -- rotation ----------------------------------------------------------------------------------


def test_rotation_retires_over_exposed_items_and_activates_reserve_oldest_first(app, db):
    owner = make_org(db)
    pid = make_project(db, owner)
    add_tasks(db, owner, pid, gold_rows("x", 4) + gold_rows("r", 2) + text_rows(20))
    ids = ids_by_external(db, pid)
    c = login(app, owner)
    # reserve through both API forms: the state route and PUT gold's "reserve"
    r = c.put(f"/api/tasks/{ids['r1']}/gold/state", json={"state": "reserve"})
    assert r.json() == {"task_id": ids["r1"], "state": "reserve"}
    r = c.put(f"/api/tasks/{ids['r0']}/gold", json={"value": {"label": "neg"}, "reserve": True})
    assert r.json()["state"] == "reserve"
    settings(db, owner, pid, gold_first_n=3, gold_rate=0.0)
    for m in (add_member(db, owner), add_member(db, owner)):
        served = work(db, m, pid, 4)
        assert served[:3] == [ids["x0"], ids["x1"], ids["x2"]]  # never a reserve item
    r = c.post(f"/api/projects/{pid}/gold/rotate")
    assert r.status_code == 409 and "no gold exposure limit" in r.json()["error"]["message"]

    c.patch(f"/api/projects/{pid}", json={"gold_exposure_limit": 1})  # lowered after serving
    r = c.post(f"/api/projects/{pid}/gold/rotate")
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["retired"] == [ids["x0"], ids["x1"], ids["x2"]]
    assert result["activated"] == [ids["r0"], ids["r1"]]  # oldest reserve first
    assert result["unreplaced"] == 1
    assert "1 could not be replaced" in result["message"]
    assert states(db, pid) == {
        "x0": "retired",
        "x1": "retired",
        "x2": "retired",
        "x3": None,
        "r0": None,
        "r1": None,
    }
    again = c.post(f"/api/projects/{pid}/gold/rotate").json()
    assert (again["retired"], again["unreplaced"]) == ([], 0)
    with db.read_session() as s:
        events = s.scalars(
            select(AuditEvent.details).where(AuditEvent.action == "gold.rotate")
        ).all()
    assert [e["retired"] for e in events] == [result["retired"], []]
    # a newcomer now gets the items in use, never the retired ones
    newcomer = work(db, add_member(db, owner), pid, 3)
    assert newcomer == [ids["x3"], ids["r0"], ids["r1"]]


def test_the_serve_that_goes_over_the_limit_rotates_in_the_same_transaction(db):
    owner = make_org(db)
    pid = make_project(db, owner)
    add_tasks(db, owner, pid, gold_rows("x", 2) + gold_rows("r", 2) + text_rows(20))
    set_state(db, owner, pid, ["r0", "r1"], "reserve")
    settings(db, owner, pid, gold_first_n=1, gold_rate=0.0, gold_exposure_limit=2)
    ids = ids_by_external(db, pid)
    people = [add_member(db, owner) for _ in range(4)]
    assert [claim(db, m, pid) for m in people[:2]] == [ids["x0"], ids["x0"]]
    assert states(db, pid)["x0"] is None  # served twice: at the limit, not over it
    with db.session() as s:  # the third serve: x0 is handed out, then rotated out
        lease = queue.claim_next(s, people[2].actor, pid)
        assert lease.task.id == ids["x0"]
        assert s.get(Task, ids["x0"]).gold_state == "retired"
        assert s.get(Task, ids["r0"]).gold_state is None
    assert states(db, pid) == {"x0": "retired", "x1": None, "r0": None, "r1": "reserve"}
    with db.read_session() as s:
        actor_id, details = s.execute(
            select(AuditEvent.actor_id, AuditEvent.details).where(
                AuditEvent.action == "gold.rotate"
            )
        ).one()
    assert actor_id is None and details["automatic"] is True
    assert (details["retired"], details["activated"]) == ([ids["x0"]], [ids["r0"]])
    assert claim(db, people[3], pid) == ids["x1"]  # the lowest item in use, not x0
    seen = exposure(db, owner, pid)
    assert (seen["x0"].served, seen["x0"].over_limit, seen["x0"].state) == (3, True, "retired")
    assert (seen["r0"].served, seen["r0"].state) == (0, "active")


def test_reserve_and_retired_items_are_never_served(db):
    owner = make_org(db)
    pid = make_project(db, owner, overlap=2)
    add_tasks(db, owner, pid, gold_rows("x", 3) + gold_rows("r", 2) + text_rows(30))
    set_state(db, owner, pid, ["x0", "x2"], "retired")
    set_state(db, owner, pid, ["r0", "r1"], "reserve")
    settings(db, owner, pid, gold_first_n=10, gold_rate=0.5)
    ids = ids_by_external(db, pid)
    hidden = {ids[e] for e in ("x0", "x2", "r0", "r1")}
    for m in (add_member(db, owner), add_member(db, owner)):
        served = work(db, m, pid, 40)
        assert served[0] == ids["x1"]  # the only item in use
        assert not set(served) & hidden
        assert len(served) == 31  # the gold item in use, then all ordinary work


def test_concurrent_serves_retire_once_and_activate_each_reserve_once(db):
    owner = make_org(db)
    pid = make_project(db, owner)
    add_tasks(db, owner, pid, gold_rows("x", 1) + gold_rows("r", 6) + text_rows(40))
    set_state(db, owner, pid, [f"r{i}" for i in range(6)], "reserve")
    settings(db, owner, pid, gold_first_n=1, gold_rate=0.0, gold_exposure_limit=1)
    people = [add_member(db, owner) for _ in range(6)]
    errors = run_in_threads(lambda m: claim(db, m, pid), people)
    assert not errors, errors
    final = states(db, pid)
    ids = ids_by_external(db, pid)
    retired = {ids[e] for e, st in final.items() if st == "retired"}
    in_use = [e for e, st in final.items() if st is None]
    assert ids["x0"] in retired and len(in_use) == 1  # always exactly one item in use
    with db.read_session() as s:
        events = s.scalars(
            select(AuditEvent.details).where(AuditEvent.action == "gold.rotate")
        ).all()
    put_in_use = [t for e in events for t in e["activated"]]
    assert {t for e in events for t in e["retired"]} == retired
    # each retirement put exactly one reserve item in use, and none twice
    assert len(put_in_use) == len(set(put_in_use)) == len(retired)


# -- marking and settings -----------------------------------------------------------------------


def test_gold_state_api_and_the_exposure_limit_setting(app, db):
    owner = make_org(db)
    pid = make_project(db, owner)
    add_tasks(db, owner, pid, text_rows(2))
    ids = ids_by_external(db, pid)
    t0, t1 = ids["t0"], ids["t1"]
    c = login(app, owner)
    assert c.put(f"/api/tasks/{t0}/gold/state", json={"state": "reserve"}).status_code == 409
    r = c.put(f"/api/tasks/{t0}/gold", json={"value": {"label": "pos"}, "reserve": True})
    assert (r.status_code, r.json()["state"]) == (200, "reserve")
    r = c.put(f"/api/tasks/{t0}/gold", json={"value": {"label": "neg"}})  # keeps its state
    assert r.json()["state"] == "reserve"
    r = c.put(f"/api/tasks/{t0}/gold", json={"value": {"label": "neg"}, "reserve": False})
    assert r.json()["state"] == "active"
    assert c.put(f"/api/tasks/{t1}/gold", json={"value": {"label": "pos"}}).json()["state"] == (
        "active"
    )
    r = c.put(f"/api/tasks/{t0}/gold/state", json={"state": "retired"})
    assert r.json() == {"task_id": t0, "state": "retired"}
    r = c.put(f"/api/tasks/{t0}/gold/state", json={"state": "gone"})
    assert r.status_code == 422
    annotator = add_member(db, owner)
    assert login(app, annotator).put(
        f"/api/tasks/{t0}/gold/state", json={"state": "active"}
    ).status_code in (403, 404)
    assert c.delete(f"/api/tasks/{t0}/gold").status_code == 204
    with db.read_session() as s:
        assert s.get(Task, t0).gold_state is None  # unmarked: no gold state left behind
    with db.session() as s, pytest.raises(InvalidInput):
        gold_exposure.set_gold_state(s, owner.actor, t1, "gone")
    with db.session() as s, pytest.raises(Conflict):
        gold_exposure.set_gold_state(s, owner.actor, t0, "active")

    for bad in (0, -1, 2_000_000, "many", 1.5):
        r = c.patch(f"/api/projects/{pid}", json={"gold_exposure_limit": bad})
        assert r.status_code == 422, bad
    for bad in (0, True, "3"):
        with db.session() as s, pytest.raises(InvalidInput):
            update_settings(s, owner.actor, pid, {"gold_exposure_limit": bad})
    assert (
        c.patch(f"/api/projects/{pid}", json={"gold_exposure_limit": 5}).json()[
            "gold_exposure_limit"
        ]
        == 5
    )
    r = c.patch(f"/api/projects/{pid}", json={"overlap": None})  # other nulls leave it alone
    assert r.json()["gold_exposure_limit"] == 5
    r = c.patch(f"/api/projects/{pid}", json={"gold_exposure_limit": None})  # null: no limit
    assert r.json()["gold_exposure_limit"] is None


def test_the_quality_page_shows_the_exposure_table_to_managers(app, db):
    owner = make_org(db)
    pid = make_project(db, owner)
    add_tasks(db, owner, pid, gold_rows("x", 1) + text_rows(2))
    page = login(app, owner).get(f"/projects/{pid}/quality")
    assert page.status_code == 200
    assert 'id="gold-exposure"' in page.text and "/static/js/quality.js" in page.text
    assert f'data-api="POST /api/projects/{pid}/gold/rotate"' in page.text
    assert "<script>" not in page.text and " style=" not in page.text  # strict CSP
    reviewer = add_member(db, owner, Role.reviewer)
    other = login(app, reviewer).get(f"/projects/{pid}/quality")
    assert other.status_code == 200 and 'id="gold-exposure"' not in other.text
