"""Access follows the project: members (people and teams) with project roles; everybody
outside a project meets the same 404 as for another organization's project."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from labelhouse.accounts.models import Role
from labelhouse.errors import InvalidInput, NotFound, PermissionDenied
from labelhouse.people import project_members, teams
from labelhouse.tasks import queue
from labelhouse.tasks.models import Assignment, Task
from tests.factories import (
    add_member,
    add_tasks,
    login,
    make_org,
    make_project,
    text_rows,
    token_client,
)

MISSING = 987_654_321


def error(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()["error"]
    assert body["code"] == code
    return body


@pytest.fixture
def lab(db):
    """An organization with a closed project (no members yet) holding tasks."""
    owner = make_org(db)
    outsider = add_member(db, owner, Role.annotator)
    pid = make_project(db, owner, open_to_all=False, overlap=2)
    add_tasks(db, owner, pid, text_rows(4))
    return owner, outsider, pid


def test_outside_the_project_everything_is_a_404_like_a_missing_project(app, db, lab):
    _owner, outsider, pid = lab
    c = login(app, outsider)
    assert c.get("/api/projects").json()["items"] == []
    for method, url in [
        ("GET", "/api/projects/{id}"),
        ("GET", "/api/projects/{id}/tasks"),
        ("GET", "/api/projects/{id}/schema"),
        ("POST", "/api/projects/{id}/next"),
        ("GET", "/api/projects/{id}/export"),
        ("GET", "/api/projects/{id}/quality"),
        ("GET", "/api/projects/{id}/review/stats"),
        ("GET", "/api/projects/{id}/members"),
    ]:
        foreign = c.request(method, url.format(id=pid))
        missing = c.request(method, url.format(id=MISSING))
        assert foreign.status_code == 404, (url, foreign.text)
        assert foreign.json()["error"]["code"] == missing.json()["error"]["code"] == "not_found"
        assert foreign.json()["error"]["message"].replace(str(pid), "<id>") == missing.json()[
            "error"
        ]["message"].replace(str(MISSING), "<id>")
    # pages too
    page = c.get(f"/projects/{pid}/annotate")
    assert page.status_code == 404 and "text/html" in page.headers["content-type"]


def test_a_member_works_and_a_team_gives_access_to_later_members(app, db, lab):
    owner, outsider, pid = lab
    annotator = add_member(db, owner, Role.annotator, join_projects=False)
    with db.session() as s:
        project_members.add_people(
            s, owner.actor, pid, emails=[annotator.email], role=Role.annotator
        )
        team = teams.create_team(s, owner.actor, name="Night shift")
        project_members.add_team(s, owner.actor, pid, team_id=team.id, role="reviewer")
        team_id = team.id
    assert login(app, annotator).post(f"/api/projects/{pid}/next").status_code == 200
    # outsider joins the team later: they get the project, with the team's role
    error(login(app, outsider).get(f"/api/projects/{pid}/tasks"), 404, "not_found")
    with db.session() as s:
        teams.add_members(s, owner.actor, team_id, emails=[outsider.email])
    assert outsider.actor.role_in(pid) == Role.reviewer
    r = login(app, outsider).get(f"/api/projects/{pid}/tasks")
    assert r.status_code == 200 and len(r.json()["items"]) == 4  # reviewers see every task


def test_project_role_governs_inside_the_project(app, db, lab):
    """An organization annotator who manages one project may configure and export it."""
    owner, outsider, pid = lab
    with db.session() as s:
        project_members.add_people(s, owner.actor, pid, emails=[outsider.email], role="manager")
    c = login(app, outsider)
    assert c.patch(f"/api/projects/{pid}", json={"overlap": 3}).status_code == 200
    assert c.get(f"/api/projects/{pid}/export?format=jsonl").status_code == 200
    assert c.get(f"/api/projects/{pid}/members").status_code == 200
    # ... but not the organization: people, teams and new projects stay with its managers
    error(c.get("/api/people"), 403, "permission_denied")
    error(c.get("/api/members"), 403, "permission_denied")
    error(c.post("/api/teams", json={"name": "x"}), 403, "permission_denied")
    other = make_project(db, owner, open_to_all=False)
    error(c.get(f"/api/projects/{other}"), 404, "not_found")


def test_annotator_in_the_project_cannot_manage_it(app, db, lab):
    owner, outsider, pid = lab
    with db.session() as s:
        project_members.add_people(s, owner.actor, pid, emails=[outsider.email], role="annotator")
    c = login(app, outsider)
    error(c.patch(f"/api/projects/{pid}", json={"overlap": 3}), 403, "permission_denied")
    error(c.get(f"/api/projects/{pid}/members"), 403, "permission_denied")
    error(
        c.post(f"/api/projects/{pid}/members", json={"emails": [owner.email]}),
        403,
        "permission_denied",
    )


def test_manage_members_through_the_api(app, db, lab):
    owner, outsider, pid = lab
    reviewer = add_member(db, owner, Role.reviewer, join_projects=False)
    c = login(app, owner)
    r = c.post(
        f"/api/projects/{pid}/members",
        json={"emails": [outsider.email, reviewer.email.upper()], "role": "annotator"},
    )
    assert r.status_code == 200, r.text
    assert sorted(r.json()["added"]) == sorted([outsider.email, reviewer.email])
    r = c.patch(f"/api/projects/{pid}/members/{reviewer.user_id}", json={"role": "reviewer"})
    assert r.json() == {"user_id": reviewer.user_id, "role": "reviewer"}
    people = {p["email"]: p for p in c.get(f"/api/projects/{pid}/members").json()["people"]}
    assert people[reviewer.email]["role"] == "reviewer"
    assert people[outsider.email]["direct_role"] == "annotator"
    assert people[owner.email]["organization_role"] == "owner"  # sees every project
    # adding again with another role updates it; an unknown address stops the whole list
    r = c.post(
        f"/api/projects/{pid}/members", json={"emails": [outsider.email], "role": "reviewer"}
    )
    assert r.json()["updated"] == [outsider.email]
    body = error(
        c.post(
            f"/api/projects/{pid}/members",
            json={"emails": ["nobody@example.com", reviewer.email], "role": "annotator"},
        ),
        422,
        "invalid_input",
    )
    assert body["details"][0]["field"] == "emails[0]"
    assert "invite them first" in body["details"][0]["problem"]
    # the role must be a project role; a body needs emails or a team
    error(
        c.post(f"/api/projects/{pid}/members", json={"emails": [outsider.email], "role": "owner"}),
        422,
        "invalid_input",
    )
    error(c.post(f"/api/projects/{pid}/members", json={"role": "annotator"}), 422, "invalid_input")
    assert c.delete(f"/api/projects/{pid}/members/{outsider.user_id}").status_code == 200
    error(login(app, outsider).get(f"/api/projects/{pid}"), 404, "not_found")


def test_removal_ends_leases_at_once_and_the_task_goes_back(db, lab):
    owner, outsider, pid = lab
    with db.session() as s:
        project_members.add_people(s, owner.actor, pid, emails=[outsider.email], role="annotator")
    with db.session() as s:
        lease = queue.claim_next(s, outsider.actor, pid)
        assert lease is not None
        task_id = lease.task.id
    with db.session() as s:
        ended = project_members.remove_person(s, owner.actor, pid, user_id=outsider.user_id)
    assert ended == 1
    with db.session() as s:
        assert s.get(Task, task_id).taken == 0
        status = s.scalar(select(Assignment.status).where(Assignment.task_id == task_id))
        assert status == "expired"
    with db.session() as s, pytest.raises(NotFound):
        queue.claim_next(s, outsider.actor, pid)


def test_removing_a_team_keeps_those_with_their_own_membership(db, lab):
    owner, outsider, pid = lab
    both = add_member(db, owner, Role.annotator, join_projects=False)
    with db.session() as s:
        team = teams.create_team(s, owner.actor, name="Vendors A")
        teams.add_members(s, owner.actor, team.id, emails=[outsider.email, both.email])
        project_members.add_team(s, owner.actor, pid, team_id=team.id, role="annotator")
        project_members.add_people(s, owner.actor, pid, emails=[both.email], role="annotator")
        team_id = team.id
    with db.session() as s:
        assert queue.claim_next(s, outsider.actor, pid) is not None
        assert queue.claim_next(s, both.actor, pid) is not None
    with db.session() as s:
        assert project_members.remove_team(s, owner.actor, pid, team_id=team_id) == 1
    assert not outsider.actor.can_see_project(pid)
    assert both.actor.can_see_project(pid)
    with db.session() as s:
        held = s.scalars(
            select(Assignment.user_id).where(
                Assignment.project_id == pid, Assignment.status == "leased"
            )
        ).all()
    assert held == [both.user_id]


def test_team_of_another_organization_is_not_found(db, lab):
    owner, _, pid = lab
    other = make_org(db)
    with db.session() as s:
        foreign = teams.create_team(s, other.actor, name="Theirs")
        foreign_id = foreign.id
    with db.session() as s, pytest.raises(NotFound):
        project_members.add_team(s, owner.actor, pid, team_id=foreign_id, role="annotator")


def test_member_lists_and_team_names_are_checked(db, lab):
    owner, outsider, pid = lab
    with db.session() as s:
        teams.create_team(s, owner.actor, name="Alpha")
        with pytest.raises(InvalidInput):
            teams.create_team(s, owner.actor, name="   ")
        with pytest.raises(InvalidInput):
            project_members.add_people(s, owner.actor, pid, emails=[], role="annotator")
    with db.session() as s, pytest.raises(PermissionDenied):
        teams.create_team(s, outsider.actor, name="Beta")


def test_api_token_follows_membership_within_the_cache_bound(app, db, lab):
    """An API client loses the project at once on this app server (the cache is cleared)."""
    owner, outsider, pid = lab
    with db.session() as s:
        project_members.add_people(s, owner.actor, pid, emails=[outsider.email], role="annotator")
    tok = token_client(app, db, outsider)
    assert tok.get(f"/api/projects/{pid}").status_code == 200
    admin = login(app, owner)
    assert admin.delete(f"/api/projects/{pid}/members/{outsider.user_id}").status_code == 200
    error(tok.get(f"/api/projects/{pid}"), 404, "not_found")
