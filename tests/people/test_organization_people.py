"""The organization's people: deactivation, password resets, role changes, invitations, and
one-time passwords that must be changed before anything else works."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from labelhouse.accounts.models import ApiToken, Role, User
from labelhouse.accounts.throttle import MAX_FAILURES
from labelhouse.annotations import service as annotations
from labelhouse.annotations.models import Annotation
from labelhouse.db.base import utcnow
from labelhouse.tasks import queue
from labelhouse.tasks.models import Task
from tests.factories import (
    PASSWORD,
    add_member,
    add_tasks,
    login,
    make_org,
    make_project,
    text_rows,
    token_client,
)

NEW_PASSWORD = "a brand new passphrase"


def error(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()["error"]
    assert body["code"] == code, body
    assert body["message"]
    return body


def raw_login(app: Any, email: str, password: str) -> Any:
    from fastapi.testclient import TestClient

    return TestClient(app).post("/api/auth/login", json={"email": email, "password": password})


@pytest.fixture
def team(db):
    owner = make_org(db)
    annotator = add_member(db, owner, Role.annotator)
    manager = add_member(db, owner, Role.manager)
    pid = make_project(db, owner, overlap=2)
    add_tasks(db, owner, pid, text_rows(3))
    return owner, manager, annotator, pid


def test_people_list_shows_role_teams_projects_and_recent_work(app, db, team):
    owner, manager, annotator, pid = team
    with db.session() as s:
        lease = queue.claim_next(s, annotator.actor, pid)
        annotations.save(s, annotator.actor, lease.task.id, value={"label": "pos"})
    c = login(app, manager)
    t = c.post("/api/teams", json={"name": "Linguists"}).json()
    assert c.post(f"/api/teams/{t['id']}/members", json={"emails": [annotator.email]}).json() == {
        "added": [annotator.email]
    }
    people = {p["email"]: p for p in c.get("/api/people").json()["items"]}
    me = people[annotator.email]
    assert me["role"] == "annotator" and me["active"] is True
    assert me["teams"] == ["Linguists"]
    assert [p["id"] for p in me["projects"]] == [pid]
    assert me["annotations_7d"] == 1
    assert me["last_active"] is not None  # signed in, and annotated
    assert people[manager.email]["last_active"] is not None  # signed in only
    assert people[owner.email]["last_active"] is None  # never signed in
    assert people[owner.email]["all_projects"] is True
    # annotators and reviewers see no e-mail list
    error(login(app, annotator).get("/api/people"), 403, "permission_denied")
    error(login(app, annotator).get("/api/members"), 403, "permission_denied")


def test_deactivation_ends_sessions_tokens_and_leases_and_keeps_attribution(app, db, team):
    owner, manager, annotator, pid = team
    with db.session() as s:
        first = queue.claim_next(s, annotator.actor, pid)
        annotations.save(s, annotator.actor, first.task.id, value={"label": "neg"})
    with db.session() as s:
        held = queue.claim_next(s, annotator.actor, pid)
        held_id = held.task.id
    browser = login(app, annotator)
    tok = token_client(app, db, annotator)
    r = login(app, manager).post(f"/api/people/{annotator.user_id}/deactivate")
    assert r.status_code == 200, r.text
    assert r.json()["leases_ended"] == 1
    assert [t["name"] for t in r.json()["revoked_tokens"]] == ["test"]
    error(browser.get("/api/me"), 401, "not_authenticated")
    error(tok.get("/api/me"), 401, "not_authenticated")
    error(raw_login(app, annotator.email, PASSWORD), 401, "not_authenticated")
    with db.session() as s:
        assert s.get(Task, held_id).taken == 0  # back in the queue at once
        kept = s.scalars(select(Annotation).where(Annotation.user_id == annotator.user_id)).all()
        assert len(kept) == 1  # attribution stays
    people = {p["email"]: p for p in login(app, owner).get("/api/people").json()["items"]}
    assert people[annotator.email]["active"] is False
    # reactivate: the same password works again
    assert login(app, owner).post(f"/api/people/{annotator.user_id}/reactivate").status_code == 200
    assert raw_login(app, annotator.email, PASSWORD).status_code == 200


def test_deactivation_rules(app, db, team):
    owner, manager, annotator, _pid = team
    m = login(app, manager)
    error(m.post(f"/api/people/{manager.user_id}/deactivate"), 409, "conflict")  # yourself
    error(m.post(f"/api/people/{owner.user_id}/deactivate"), 403, "permission_denied")  # an owner
    error(m.post("/api/people/987654321/deactivate"), 404, "not_found")
    other = make_org(db)
    error(m.post(f"/api/people/{other.user_id}/deactivate"), 404, "not_found")
    error(
        login(app, annotator).post(f"/api/people/{manager.user_id}/deactivate"),
        403,
        "permission_denied",
    )
    second_owner = add_member(db, owner, Role.owner)
    o = login(app, owner)
    assert o.post(f"/api/people/{second_owner.user_id}/deactivate").status_code == 200
    error(raw_login(app, second_owner.email, PASSWORD), 401, "not_authenticated")
    # an owner cannot deactivate themselves, so an organization always keeps an active owner
    error(o.post(f"/api/people/{owner.user_id}/deactivate"), 409, "conflict")


def test_reset_password_gives_a_one_time_password_that_must_be_changed(app, db, team):
    _owner, manager, annotator, pid = team
    tok = token_client(app, db, annotator)
    r = login(app, manager).post(f"/api/people/{annotator.user_id}/reset-password")
    assert r.status_code == 200, r.text
    otp = r.json()["one_time_password"]
    assert [t["name"] for t in r.json()["revoked_tokens"]] == ["test"]
    error(tok.get("/api/me"), 401, "not_authenticated")
    error(raw_login(app, annotator.email, PASSWORD), 401, "not_authenticated")
    # signing in with it works, but nothing else does until it is changed
    login_r = raw_login(app, annotator.email, otp)
    assert login_r.status_code == 200 and login_r.json()["must_change_password"] is True
    from fastapi.testclient import TestClient

    c = TestClient(app)
    c.cookies.update(login_r.cookies)
    c.headers["X-CSRF-Token"] = login_r.json()["csrf_token"]
    assert c.get("/api/me").json()["must_change_password"] is True
    body = error(c.get("/api/projects"), 403, "password_change_required")
    assert "one-time password" in body["message"]
    error(c.post(f"/api/projects/{pid}/next"), 403, "password_change_required")
    page = c.get("/", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/account?first=1"
    assert c.get("/account").status_code == 200
    # the same password again is refused; a new one unlocks everything
    error(
        c.post("/api/me/password", json={"current_password": otp, "new_password": otp}),
        422,
        "invalid_input",
    )
    r = c.post("/api/me/password", json={"current_password": otp, "new_password": NEW_PASSWORD})
    assert r.status_code == 200, r.text
    assert c.get("/api/projects").status_code == 200
    assert c.get("/", follow_redirects=False).status_code == 200


def test_reset_is_refused_for_someone_in_another_organization(app, db, team):
    """The account spans organizations: one organization's manager must not take it over."""
    _owner, manager, annotator, _pid = team
    other = make_org(db)
    with db.session() as s:
        from labelhouse.accounts.models import Membership

        s.add(
            Membership(
                organization_id=other.organization_id, user_id=annotator.user_id, role="annotator"
            )
        )
    body = error(
        login(app, manager).post(f"/api/people/{annotator.user_id}/reset-password"), 409, "conflict"
    )
    assert "another organization" in body["message"]


def test_role_change_ends_sessions_and_tokens(app, db, team):
    owner, _manager, annotator, _pid = team
    browser = login(app, annotator)
    tok = token_client(app, db, annotator)
    r = login(app, owner).patch(f"/api/members/{annotator.user_id}", json={"role": "reviewer"})
    assert r.status_code == 200, r.text
    assert r.json()["role"] == "reviewer"
    assert len(r.json()["revoked_tokens"]) == 1
    error(browser.get("/api/me"), 401, "not_authenticated")
    error(tok.get("/api/me"), 401, "not_authenticated")
    assert login(app, annotator).get("/api/me").json()["role"] == "reviewer"


def test_removing_from_the_organization_ends_leases_and_memberships(app, db, team):
    owner, _manager, annotator, pid = team
    with db.session() as s:
        lease = queue.claim_next(s, annotator.actor, pid)
        task_id = lease.task.id
    assert login(app, owner).delete(f"/api/members/{annotator.user_id}").status_code == 204
    with db.session() as s:
        assert s.get(Task, task_id).taken == 0
        assert s.get(User, annotator.user_id) is not None  # the account stays
    error(raw_login(app, annotator.email, PASSWORD), 401, "not_authenticated")


# -- invitations -----------------------------------------------------------------------------


def test_invitations_pending_duplicate_revoke_resend(app, db, team):
    _owner, manager, _annotator, _pid = team
    m = login(app, manager)
    first = m.post("/api/invitations", json={"email": "new@example.com", "role": "annotator"})
    assert first.status_code == 201
    body = error(
        m.post("/api/invitations", json={"email": "NEW@example.com", "role": "reviewer"}),
        409,
        "conflict",
    )
    assert "pending invitation" in body["message"]
    pending = m.get("/api/invitations").json()["items"]
    assert [i["email"] for i in pending] == ["new@example.com"]
    # re-send: a new token; the old link is dead
    again = m.post(f"/api/invitations/{first.json()['id']}/resend")
    assert again.status_code == 200 and again.json()["token"] != first.json()["token"]
    from fastapi.testclient import TestClient

    anon = TestClient(app)
    accept = {"password": NEW_PASSWORD, "name": "New"}
    error(
        anon.post("/api/invitations/accept", json={"token": first.json()["token"], **accept}),
        404,
        "not_found",
    )
    # revoke: the new link dies too
    assert m.delete(f"/api/invitations/{first.json()['id']}").status_code == 204
    assert m.get("/api/invitations").json()["items"] == []
    error(
        anon.post("/api/invitations/accept", json={"token": again.json()["token"], **accept}),
        404,
        "not_found",
    )
    error(m.post(f"/api/invitations/{first.json()['id']}/resend"), 409, "conflict")
    # after a revocation the address can be invited again
    assert m.post("/api/invitations", json={"email": "new@example.com"}).status_code == 201


def test_bulk_invite_skips_members_and_pending_and_names_bad_lines(app, db, team):
    _owner, manager, annotator, _pid = team
    m = login(app, manager)
    m.post("/api/invitations", json={"email": "pending@example.com"})
    r = m.post(
        "/api/invitations/bulk",
        json={
            "emails": ["a@example.com", annotator.email, "pending@example.com", "a@example.com"],
            "role": "reviewer",
        },
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert [i["email"] for i in body["invited"]] == ["a@example.com"]
    assert body["invited"][0]["role"] == "reviewer" and body["invited"][0]["token"]
    assert body["already_members"] == [annotator.email]
    assert body["already_invited"] == ["pending@example.com"]
    bad = error(
        m.post("/api/invitations/bulk", json={"emails": ["b@example.com", "not an address"]}),
        422,
        "invalid_input",
    )
    assert bad["details"][0]["field"] == "emails[1]"
    assert [i["email"] for i in m.get("/api/invitations").json()["items"]] == [
        "a@example.com",
        "pending@example.com",
    ]  # nothing of the refused list was stored
    error(
        m.post("/api/invitations/bulk", json={"emails": ["c@example.com"], "role": "owner"}),
        403,
        "permission_denied",
    )


# -- API tokens ------------------------------------------------------------------------------


def test_read_only_token_reads_but_never_writes(app, db, team):
    _owner, _manager, annotator, pid = team
    c = login(app, annotator)
    r = c.post("/api/me/tokens", json={"name": "dashboards", "read_only": True})
    assert r.status_code == 201 and r.json()["read_only"] is True
    from fastapi.testclient import TestClient

    tok = TestClient(app)
    tok.headers["Authorization"] = f"Bearer {r.json()['token']}"
    assert tok.get(f"/api/projects/{pid}").status_code == 200
    body = error(tok.post(f"/api/projects/{pid}/next"), 403, "read_only_token")
    assert "read-only" in body["message"]


def test_token_expiry(app, db, team):
    _owner, _manager, annotator, _pid = team
    c = login(app, annotator)
    r = c.post("/api/me/tokens", json={"name": "ci", "expires_in_days": 30})
    assert r.status_code == 201
    expires = r.json()["expires_at"]
    assert expires is not None
    from fastapi.testclient import TestClient

    tok = TestClient(app)
    tok.headers["Authorization"] = f"Bearer {r.json()['token']}"
    assert tok.get("/api/me").status_code == 200
    with db.session() as s:
        s.execute(
            update(ApiToken)
            .where(ApiToken.id == r.json()["id"])
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    app.state.identity_cache.clear()
    body = error(tok.get("/api/me"), 401, "not_authenticated")
    assert "expired" in body["message"]
    error(c.post("/api/me/tokens", json={"name": "x", "expires_in_days": 0}), 422, "invalid_input")


def test_guessing_an_existing_accounts_password_through_an_invitation_is_throttled(app, db):
    """The inviter holds the token: accepting for an existing account checks its password,
    so anonymous attempts count like logins, the same way whether or not an account
    exists (a different throttle would tell)."""
    a = make_org(db, "A")
    b = make_org(db, "B")
    inviter = login(app, b)
    token = inviter.post("/api/invitations", json={"email": a.email}).json()["token"]
    fresh = inviter.post("/api/invitations", json={"email": "new@example.com"}).json()["token"]
    from fastapi.testclient import TestClient

    anon = TestClient(app)

    def attempts(secret: str) -> list[int]:
        return [
            anon.post(
                "/api/invitations/accept", json={"token": secret, "password": f"guess no {i}"}
            ).status_code
            for i in range(MAX_FAILURES + 1)
        ]

    guessed = attempts(token)
    assert guessed == [201] * MAX_FAILURES + [429]
    # the right password is refused too while the throttle holds
    error(
        anon.post("/api/invitations/accept", json={"token": token, "password": PASSWORD}),
        429,
        "rate_limited",
    )
    # a new address is throttled identically (after its account was made by the first try)
    assert attempts(fresh)[-1] == 429


def test_a_removed_members_token_stays_dead_after_they_are_invited_back(app, db, team):
    """Issue 11, item 4: removal left the token alive; after a re-invitation it worked again."""
    owner, _manager, annotator, _pid = team
    tok = token_client(app, db, annotator)
    assert tok.get("/api/me").status_code == 200
    admin = login(app, owner)
    assert admin.delete(f"/api/members/{annotator.user_id}").status_code == 204
    error(tok.get("/api/me"), 401, "not_authenticated")
    token = admin.post("/api/invitations", json={"email": annotator.email}).json()["token"]
    from fastapi.testclient import TestClient

    joined = TestClient(app).post(
        "/api/invitations/accept", json={"token": token, "password": PASSWORD}
    )
    assert joined.status_code == 201, joined.text
    assert raw_login(app, annotator.email, PASSWORD).status_code == 200  # back in
    error(tok.get("/api/me"), 401, "not_authenticated")  # the old token is dead for good
