"""A vendor's own manager: sees and manages their own people and work, nothing of the
other workforces, the lab's staff, gold answers, other projects, the audit log or exports."""

from __future__ import annotations

import orjson
from fastapi.testclient import TestClient

from labelhouse.accounts.models import Role
from labelhouse.people import project_members, teams, workforces
from labelhouse.tasks import routing
from tests.factories import add_member, add_tasks, login, make_org, make_project, text_rows


def _vendor(db, owner, pid, name, n=2):
    people = [add_member(db, owner, Role.annotator, join_projects=False) for _ in range(n)]
    with db.session() as s:
        team = teams.create_team(s, owner.actor, name=name)
        teams.add_members(s, owner.actor, team.id, emails=[p.email for p in people])
        workforces.update_workforce(s, owner.actor, team.id, kind="vendor")
        project_members.add_team(s, owner.actor, pid, team_id=team.id, role="annotator")
        return team.id, people


def test_a_vendor_manager_sees_and_manages_only_their_own(app, db):
    owner = make_org(db)
    pid = make_project(db, owner, overlap=2)
    other_pid = make_project(db, owner, name="secret-project")
    add_tasks(db, owner, pid, text_rows(10))
    a, (boss, worker) = _vendor(db, owner, pid, "Vendor A")
    b, (rival, _) = _vendor(db, owner, pid, "secret-vendor-B")
    staff = add_member(db, owner, Role.annotator)
    with db.session() as s:
        routing.route_tasks(
            s,
            owner.actor,
            pid,
            mode="each",
            slots=[routing.Slot(a, quota=1), routing.Slot(b, quota=1)],
        )
    lab = login(app, owner)
    assert lab.put(f"/api/teams/{a}/managers/{boss.user_id}", json={"manager": True}).json()[
        "manager"
    ]
    w = login(app, worker)
    task = w.post(f"/api/projects/{pid}/next").json()["task"]["id"]
    assert w.post(
        f"/api/tasks/{task}/annotations", json={"value": {"label": "pos"}}
    ).status_code in (
        200,
        201,
    )

    c = login(app, boss)
    mine = c.get("/api/workforce")
    assert mine.status_code == 200, mine.text
    body = mine.json()
    assert body["name"] == "Vendor A"
    assert {p["email"] for p in body["people"]} == {boss.email, worker.email}
    assert [p["name"] for p in body["projects"]] == [
        p["name"] for p in body["projects"] if p["id"] == pid
    ]
    project = body["projects"][0]
    assert project | {"name": ""} == {
        "id": pid,
        "name": "",
        "routed_tasks": 10,
        "slots": 10,
        "taken": 1,
        "open_slots": 9,
        "submitted": 1,
    }
    text = mine.text
    for secret in ("secret-vendor-B", rival.email, staff.email, owner.email, "secret-project"):
        assert secret not in text
    work = c.get(f"/api/workforce/projects/{pid}").json()["items"]
    routed = c.get(f"/api/workforce/projects/{pid}/tasks", params={"limit": 6}).json()
    assert [r["task_id"] for r in routed["items"]] == [1, 2, 3, 4, 5, 6]
    assert routed["next_cursor"] == 6
    rest = c.get(f"/api/workforce/projects/{pid}/tasks", params={"cursor": 6}).json()
    assert [r["task_id"] for r in rest["items"]] == [7, 8, 9, 10] and rest["next_cursor"] is None
    done = [r for r in routed["items"] + rest["items"] if r["submitted_by"]]
    assert [(r["task_id"], r["submitted_by"], r["quota"]) for r in done] == [
        (task, [worker.email], 1)
    ]
    assert rival.email not in str(routed) + str(rest)
    assert c.get(f"/api/workforce/projects/{other_pid}/tasks").status_code == 404
    assert {w["email"]: w["submitted"] for w in work} == {boss.email: 0, worker.email: 1}

    # invitations join the workforce
    r = c.post("/api/workforce/invitations", json={"emails": ["new-annotator@example.com"]})
    assert r.status_code == 201, r.text
    token = r.json()["items"][0]["token"]
    joined = TestClient(app).post(
        "/api/invitations/accept", json={"token": token, "password": "a long enough password"}
    )
    assert joined.status_code == 201, joined.text
    people = {p["email"] for p in c.get("/api/workforce").json()["people"]}
    assert "new-annotator@example.com" in people

    # own annotators only; another workforce's person is as missing as a missing one
    assert c.post(f"/api/workforce/people/{worker.user_id}/deactivate").status_code == 200
    assert w.get("/api/me").status_code == 401
    assert c.post(f"/api/workforce/people/{worker.user_id}/reactivate").status_code == 200
    for outsider in (rival.user_id, staff.user_id, owner.user_id, 999_999):
        r = c.post(f"/api/workforce/people/{outsider}/deactivate")
        assert r.status_code == 404 and "not in your workforce" in r.text
    assert c.get(f"/api/workforce/projects/{other_pid}").status_code == 404

    # nothing of the lab's
    assert c.get("/api/people").status_code == 403
    assert c.get("/api/teams").status_code == 403
    assert c.get("/api/audit").status_code == 403
    assert c.get(f"/api/projects/{pid}/routing").status_code == 403
    assert c.get(f"/api/projects/{pid}/export").status_code in (403, 404)
    assert c.get(f"/api/projects/{other_pid}").status_code == 404

    # not a manager: no workforce view at all
    assert login(app, worker).get("/api/workforce").status_code == 403
    assert login(app, rival).get("/api/workforce").status_code == 403


def test_the_lab_names_managers_of_workforces_only(app, db):
    owner = make_org(db)
    pid = make_project(db, owner)
    a, (person, _) = _vendor(db, owner, pid, "A")
    with db.session() as s:
        plain = teams.create_team(s, owner.actor, name="Plain")
        teams.add_members(s, owner.actor, plain.id, emails=[person.email])
        plain_id = plain.id
    lab = login(app, owner)
    r = lab.put(f"/api/teams/{plain_id}/managers/{person.user_id}", json={"manager": True})
    assert r.status_code == 409 and "not a workforce" in r.text
    r = lab.put(f"/api/teams/{a}/managers/{owner.user_id}", json={"manager": True})
    assert r.status_code == 404
    assert (
        login(app, person)
        .put(f"/api/teams/{a}/managers/{person.user_id}", json={"manager": True})
        .status_code
        == 403
    )


def test_a_granted_workforce_exports_its_own_slice_only(app, db):
    owner = make_org(db)
    pid = make_project(db, owner, overlap=2)
    rows = [{"text": f"item {i}", "secret": f"internal-{i}"} for i in range(6)]
    add_tasks(db, owner, pid, rows)
    a, (boss, a_worker) = _vendor(db, owner, pid, "A")
    b, (b_boss, b_worker) = _vendor(db, owner, pid, "B")
    with db.session() as s:
        routing.route_tasks(
            s,
            owner.actor,
            pid,
            mode="each",
            slots=[routing.Slot(a, quota=1), routing.Slot(b, quota=1)],
            selection=routing.Selection(task_ids=(1, 2, 3, 4)),
        )
    lab = login(app, owner)
    assert (
        lab.put(f"/api/projects/{pid}/outside-policy", json={"hidden_keys": ["secret"]}).status_code
        == 200
    )
    for team, person in ((a, boss), (b, b_boss)):
        assert (
            lab.put(
                f"/api/teams/{team}/managers/{person.user_id}", json={"manager": True}
            ).status_code
            == 200
        )
    for worker in (a_worker, b_worker):
        c = login(app, worker)
        for _ in range(2):
            task = c.post(f"/api/projects/{pid}/next").json()["task"]["id"]
            r = c.post(f"/api/tasks/{task}/annotations", json={"value": {"label": "pos"}})
            assert r.status_code in (200, 201), r.text

    manager = login(app, boss)
    url = f"/api/workforce/projects/{pid}/export"
    r = manager.get(url)
    assert r.status_code == 403 and "has not granted" in r.json()["error"]["message"]
    grant = lab.put(f"/api/projects/{pid}/teams/{a}/export", json={"allowed": True})
    assert grant.status_code == 200, grant.text
    r = manager.get(url)
    assert r.status_code == 200, r.text
    records = [orjson.loads(line) for line in r.content.splitlines()]
    assert [rec["id"] for rec in records] == [1, 2, 3, 4]  # routed to A; 5 and 6 are not
    annotators = {ann["annotator_id"] for rec in records for ann in rec["annotations"]}
    assert annotators == {a_worker.user_id}  # B's answers on the same tasks stay out
    assert all("secret" not in rec["data"] and rec["review"] is None for rec in records)
    assert all(rec["predictions"] == [] for rec in records)
    assert "internal-" not in r.text
    # B was not granted; the lab's owner manages no workforce
    assert login(app, b_boss).get(url).status_code == 403
    assert lab.get(url).status_code == 403
    assert lab.get(f"/api/projects/{pid}/export").status_code == 200  # the lab's own export


def test_a_vendor_manager_makes_own_people_reviewers_of_own_work(app, db):
    owner = make_org(db)
    pid = make_project(db, owner)
    other_pid = make_project(db, owner)
    a, (boss, worker) = _vendor(db, owner, pid, "A")
    _, (rival, _) = _vendor(db, owner, pid, "B")
    staff = add_member(db, owner, Role.annotator)
    lab = login(app, owner)
    assert (
        lab.put(f"/api/teams/{a}/managers/{boss.user_id}", json={"manager": True}).status_code
        == 200
    )
    c = login(app, boss)
    url = f"/api/projects/{pid}"
    r = c.put(f"/api/workforce/projects/{pid}/reviewers/{worker.user_id}", json={"reviewer": True})
    assert r.status_code == 200, r.text
    assert worker.actor.role_in(pid) == Role.reviewer
    reviewer = login(app, worker)
    assert reviewer.post(f"{url}/review/next").status_code in (200, 409)  # may review
    assert reviewer.get(f"{url}/quality").status_code == 403  # never the whole project
    for outsider in (rival.user_id, staff.user_id):
        r = c.put(f"/api/workforce/projects/{pid}/reviewers/{outsider}", json={"reviewer": True})
        assert r.status_code == 404
    r = c.put(
        f"/api/workforce/projects/{other_pid}/reviewers/{worker.user_id}", json={"reviewer": True}
    )
    assert r.status_code == 404  # not one of the workforce's projects
    r = c.put(f"/api/workforce/projects/{pid}/reviewers/{worker.user_id}", json={"reviewer": False})
    assert r.status_code == 200 and worker.actor.role_in(pid) == Role.annotator
