"""The workforce and routing API: marking teams, routing, moving, un-routing, ending a
contract, and what a vendor's annotator is served through /next."""

from __future__ import annotations

from labelhouse.accounts.models import Role
from tests.factories import add_member, add_tasks, login, make_org, make_project, text_rows


def _vendor(c, pid, name, emails):
    team = c.post("/api/teams", json={"name": name}).json()["id"]
    assert c.post(f"/api/teams/{team}/members", json={"emails": emails}).status_code == 200
    r = c.put(
        f"/api/teams/{team}/workforce",
        json={
            "kind": "vendor",
            "contact": "pm@vendor.example",
            "price_per_task": 0.4,
            "currency": "usd",
        },
    )
    assert r.status_code == 200, r.text
    assert r.json() | {"contract_ended_at": None} == {
        "id": team,
        "name": name,
        "kind": "vendor",
        "contact": "pm@vendor.example",
        "price_per_task": 0.4,
        "price_per_hour": None,
        "currency": "USD",
        "contract_ended_at": None,
    }
    r = c.post(f"/api/projects/{pid}/members", json={"team_id": team, "role": "annotator"})
    assert r.status_code == 200, r.text
    return team


def test_route_move_unroute_and_end_a_contract(app, db):
    owner = make_org(db)
    pid = make_project(db, owner, overlap=1)
    add_tasks(db, owner, pid, text_rows(20))
    v1 = add_member(db, owner, Role.annotator, join_projects=False)
    v2 = add_member(db, owner, Role.annotator, join_projects=False)
    c = login(app, owner)
    a = _vendor(c, pid, "Vendor A", [v1.email])
    b = _vendor(c, pid, "Vendor B", [v2.email])

    r = c.post(
        f"/api/projects/{pid}/routing",
        json={
            "mode": "share",
            "workforces": [{"id": a, "share": 3}, {"id": b, "share": 1}],
            "remember": True,
        },
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["tasks"] == 20
    assert {w["name"]: w["tasks"] for w in body["workforces"]} == {"Vendor A": 15, "Vendor B": 5}
    assert body["routing"]["unrouted_tasks"] == 0
    assert body["routing"]["rule"]["mode"] == "share"

    annotator = login(app, v2)
    served = annotator.post(f"/api/projects/{pid}/next").json()["task"]["id"]
    summary = c.get(f"/api/projects/{pid}/routing").json()
    routed_b = {w["name"]: w for w in summary["workforces"]}["Vendor B"]
    assert routed_b["taken"] == 1 and routed_b["open_slots"] == 4

    r = c.post(f"/api/projects/{pid}/routing/move", json={"from_workforce": b, "to_workforce": a})
    assert r.json()["moved_slots"] == 4
    assert annotator.post(f"/api/projects/{pid}/next").json()["task"]["id"] == served  # kept

    r = c.post(f"/api/projects/{pid}/routing/unroute", json={"forget_rule": True})
    assert r.status_code == 200
    assert r.json()["unrouted_tasks"] == 19  # the leased task keeps its route
    assert r.json()["routing"]["rule"] is None

    r = c.post(f"/api/teams/{b}/end-contract")
    assert r.status_code == 200, r.text
    assert r.json()["deactivated"] == [v2.email] and r.json()["leases_ended"] == 1
    assert "1 person deactivated" in r.json()["message"]
    assert annotator.post(f"/api/projects/{pid}/next").status_code == 401


def test_errors_say_what_to_do(app, db):
    owner = make_org(db)
    pid = make_project(db, owner, overlap=2)
    add_tasks(db, owner, pid, text_rows(3))
    v = add_member(db, owner, Role.annotator, join_projects=False)
    c = login(app, owner)
    a = _vendor(c, pid, "A", [v.email])
    r = c.post(
        f"/api/projects/{pid}/routing", json={"mode": "each", "workforces": [{"id": a, "quota": 1}]}
    )
    assert r.status_code == 422
    assert "add up to 1, but the project asks for 2" in r.json()["error"]["message"]
    r = c.post(f"/api/projects/{pid}/members", json={"team_id": a, "role": "manager"})
    assert r.status_code == 409 and "annotator or a reviewer" in r.json()["error"]["message"]
    r = c.put(f"/api/teams/{a}/workforce", json={"currency": "dollars"})
    assert r.status_code == 422
    r = c.post(
        f"/api/projects/{pid}/routing",
        json={"mode": "share", "workforces": [{"id": a, "share": 1}], "tasks": {"key": "lang"}},
    )
    assert r.status_code == 422
    annotator = login(app, add_member(db, owner, Role.annotator))
    assert annotator.get(f"/api/projects/{pid}/routing").status_code == 403
