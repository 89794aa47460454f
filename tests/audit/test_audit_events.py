"""Security events in the audit log (issue 11): sign-ins and failed ones, logouts, API
tokens, password changes, invitations, role changes, exports with their record count, and
permission denials (rate-limited); the owner's search, its filters and the JSONL export.

Each of these failed before: only project, import, review and gold events were recorded."""

from __future__ import annotations

import itertools
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from labelhouse.accounts import service as accounts
from labelhouse.accounts.models import Membership, Role
from labelhouse.audit import service as audit
from labelhouse.audit.models import AuditEvent
from labelhouse.web.audit_trail import DenialLimiter
from tests.factories import (
    PASSWORD,
    add_member,
    add_tasks,
    login,
    make_org,
    make_project,
    text_rows,
)

NEW_PASSWORD = "another correct horse battery"


def events(db, org_id: int, prefix: str = "") -> list[AuditEvent]:
    with db.session() as s:
        return list(
            s.scalars(
                select(AuditEvent)
                .where(AuditEvent.organization_id == org_id, AuditEvent.action.startswith(prefix))
                .order_by(AuditEvent.id)
            )
        )


def all_events(db) -> list[AuditEvent]:
    with db.session() as s:
        return list(s.scalars(select(AuditEvent).order_by(AuditEvent.id)))


def actions(db, org_id: int, prefix: str = "") -> list[str]:
    return [e.action for e in events(db, org_id, prefix)]


def chain_ok(db, org_id: int) -> None:
    with db.read_session() as s:
        count, broken = audit.verify_chain(s, org_id)
    assert broken is None and count == len(events(db, org_id))


# -- signing in and out --------------------------------------------------------------------


def test_login_is_recorded_with_source_address_and_truncated_user_agent(app, db, owner):
    c = TestClient(app)
    r = c.post(
        "/api/auth/login",
        json={"email": owner.email, "password": PASSWORD},
        headers={"user-agent": "Probe/1.0 " + "x" * 500},
    )
    assert r.status_code == 200, r.text
    (e,) = events(db, owner.organization_id, "auth.")
    assert e.action == "auth.login"
    assert (e.actor_id, e.object_type, e.object_id) == (owner.user_id, "user", str(owner.user_id))
    assert e.details["ip"] == "testclient"
    assert e.details["user_agent"].startswith("Probe/1.0 xxx")
    assert len(e.details["user_agent"]) == 200
    chain_ok(db, owner.organization_id)


def test_page_login_is_recorded_too(app, db, owner):
    c = TestClient(app, follow_redirects=False)
    r = c.post("/login", data={"email": owner.email, "password": PASSWORD})
    assert r.status_code == 303
    assert actions(db, owner.organization_id, "auth.") == ["auth.login"]


def test_failed_login_goes_to_every_organization_of_the_account(app, db, owner):
    second = make_org(db, "Second")
    with db.session() as s:  # the owner is also a member of a second organization
        s.add(
            Membership(
                organization_id=second.organization_id, user_id=owner.user_id, role="annotator"
            )
        )
    c = TestClient(app)
    r = c.post(
        "/api/auth/login",
        json={"email": owner.email.upper(), "password": "wrong password!"},
        headers={"user-agent": "Guesser"},
    )
    assert r.status_code == 401
    for org in (owner.organization_id, second.organization_id):
        (e,) = events(db, org, "auth.")
        assert e.action == "auth.login_failed"
        assert e.actor_id is None  # whoever tried is not known
        assert (e.object_type, e.object_id) == ("user", str(owner.user_id))
        assert e.details == {"email": owner.email, "ip": "testclient", "user_agent": "Guesser"}
        chain_ok(db, org)


def test_failed_login_for_an_unknown_address_is_not_in_any_chain_and_looks_the_same(app, db, owner):
    before = len(all_events(db))
    c = TestClient(app)
    unknown = c.post("/api/auth/login", json={"email": "nobody@example.com", "password": "x" * 12})
    known = c.post("/api/auth/login", json={"email": owner.email, "password": "x" * 12})
    assert unknown.status_code == known.status_code == 401
    assert unknown.json() == known.json()  # the answer does not tell which address exists
    added = all_events(db)[before:]
    assert [e.action for e in added] == ["auth.login_failed"]
    assert added[0].details["email"] == owner.email


def test_logout_is_recorded_from_the_api_and_the_page(app, db, owner):
    c = login(app, owner)
    assert c.post("/api/auth/logout").status_code == 204
    page = TestClient(app, follow_redirects=False)
    r = page.post("/login", data={"email": owner.email, "password": PASSWORD})
    cookie = r.cookies["lh_session"]
    page.cookies.set("lh_session", cookie)
    with db.read_session() as s:
        csrf = accounts.resolve_session(s, cookie)[1].csrf_token
    assert page.post("/logout", data={"csrf_token": csrf}).status_code == 303
    got = events(db, owner.organization_id, "auth.")
    assert [e.action for e in got] == ["auth.login", "auth.logout", "auth.login", "auth.logout"]
    assert all(e.actor_id == owner.user_id for e in got)


# -- the account: tokens and password ------------------------------------------------------


def test_token_creation_and_revocation_are_recorded_without_the_secret(app, db, owner):
    c = login(app, owner)
    r = c.post("/api/me/tokens", json={"name": "ci", "read_only": True, "expires_in_days": 30})
    assert r.status_code == 201
    token_id, secret = r.json()["id"], r.json()["token"]
    assert c.delete(f"/api/me/tokens/{token_id}").status_code == 204
    made, revoked = events(db, owner.organization_id, "token.")
    assert (made.action, made.object_type, made.object_id) == (
        "token.create",
        "api_token",
        str(token_id),
    )
    assert made.details["name"] == "ci" and made.details["read_only"] is True
    assert made.details["expires_at"]
    assert revoked.action == "token.revoke" and revoked.object_id == str(token_id)
    for e in (made, revoked):
        assert e.actor_id == owner.user_id
        assert secret not in orjson.dumps(e.details).decode()
        assert e.details["prefix"] == secret[:10]


def test_password_change_is_recorded_in_each_organization(app, db, owner):
    second = make_org(db, "Second")
    with db.session() as s:
        s.add(
            Membership(
                organization_id=second.organization_id, user_id=owner.user_id, role="manager"
            )
        )
    c = login(app, owner)
    c.post("/api/me/tokens", json={"name": "old"})
    r = c.post(
        "/api/me/password", json={"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    )
    assert r.status_code == 200, r.text
    for org in (owner.organization_id, second.organization_id):
        (e,) = events(db, org, "auth.password")
        assert e.actor_id == owner.user_id
        assert e.details["revoked_tokens"] == 1
        assert e.details["ip"] == "testclient"
    assert NEW_PASSWORD not in str([e.details for e in all_events(db)])


def test_a_wrong_current_password_changes_nothing_and_records_nothing(app, db, owner):
    c = login(app, owner)
    r = c.post(
        "/api/me/password",
        json={"current_password": "nope nope nope", "new_password": NEW_PASSWORD},
    )
    assert r.status_code == 422
    assert actions(db, owner.organization_id, "auth.password") == []


# -- people: invitations, roles -----------------------------------------------------------


def test_invitations_are_recorded_through_their_life(app, db, owner):
    c = login(app, owner)
    first = c.post(
        "/api/invitations", json={"email": "new@example.com", "role": "annotator"}
    ).json()
    second = c.post(
        "/api/invitations", json={"email": "later@example.com", "role": "reviewer"}
    ).json()
    resent = c.post(f"/api/invitations/{first['id']}/resend").json()
    assert c.delete(f"/api/invitations/{second['id']}").status_code == 204
    r = TestClient(app).post(
        "/api/invitations/accept",
        json={"token": resent["token"], "password": NEW_PASSWORD, "name": "New"},
    )
    assert r.status_code == 201, r.text
    got = events(db, owner.organization_id, "invitation.")
    assert [(e.action, e.object_id) for e in got] == [
        ("invitation.create", str(first["id"])),
        ("invitation.create", str(second["id"])),
        ("invitation.resend", str(first["id"])),
        ("invitation.revoke", str(second["id"])),
        ("invitation.accept", str(first["id"])),
    ]
    assert all(e.actor_id == owner.user_id for e in got[:4])
    assert got[4].actor_id not in (None, owner.user_id)  # the account that joined
    assert got[0].details == {"email": "new@example.com", "role": "annotator"}
    assert "token" not in str([e.details for e in got])


def test_role_changes_and_removal_are_recorded(app, db, owner):
    member = add_member(db, owner, Role.annotator)
    c = login(app, owner)
    assert c.patch(f"/api/members/{member.user_id}", json={"role": "reviewer"}).status_code == 200
    assert c.delete(f"/api/members/{member.user_id}").status_code == 204
    role, removed = events(db, owner.organization_id, "member.")
    assert (role.action, role.details["from"], role.details["to"]) == (
        "member.role",
        "annotator",
        "reviewer",
    )
    assert removed.action == "member.remove" and removed.object_id == str(member.user_id)


# -- exports -------------------------------------------------------------------------------


def test_export_records_who_what_and_how_many_records(app, db, owner):
    pid = make_project(db, owner)
    add_tasks(db, owner, pid, text_rows(7))
    c = login(app, owner)
    r = c.get(f"/api/projects/{pid}/export?format=jsonl")
    assert r.status_code == 200
    assert len(r.content.splitlines()) == 7
    started, finished = events(db, owner.organization_id, "project.export")
    assert started.action == "project.export" and started.details == {"format": "jsonl"}
    assert finished.action == "project.export_finished"
    assert finished.details == {"format": "jsonl", "records": 7}
    assert finished.actor_id == owner.user_id and finished.object_id == str(pid)
    chain_ok(db, owner.organization_id)


# -- permission denials --------------------------------------------------------------------


def test_a_denial_is_recorded_once_per_person_route_and_minute(app, db, owner):
    manager = add_member(db, owner, Role.manager)
    c = login(app, manager)
    for _ in range(5):
        r = c.get("/api/audit")
        assert r.status_code == 403
    c.get("/api/audit/verify")
    got = events(db, owner.organization_id, "access.")
    assert [(e.action, e.object_id) for e in got] == [
        ("access.denied", "GET /api/audit"),
        ("access.denied", "GET /api/audit/verify"),
    ]
    assert got[0].actor_id == manager.user_id
    assert got[0].object_type == "route"
    assert "owner" in got[0].details["message"]
    assert got[0].details["ip"] == "testclient"
    chain_ok(db, owner.organization_id)


def test_a_denied_page_is_recorded_too(app, db, owner):
    manager = add_member(db, owner, Role.manager)
    c = login(app, manager)
    r = c.get("/audit")
    assert r.status_code == 403
    assert "text/html" in r.headers["content-type"]
    (e,) = events(db, owner.organization_id, "access.")
    assert e.object_id == "GET /audit" and e.actor_id == manager.user_id


def test_a_refused_change_is_rolled_back_but_its_denial_is_kept(app, db, owner):
    annotator = add_member(db, owner, Role.annotator)
    c = login(app, annotator)
    r = c.post("/api/invitations", json={"email": "x@example.com", "role": "annotator"})
    assert r.status_code == 403
    assert actions(db, owner.organization_id, "invitation.") == []
    assert actions(db, owner.organization_id, "access.") == ["access.denied"]


def test_the_denial_limiter_counts_what_it_leaves_out():
    now = [0.0]
    limiter = DenialLimiter(window=60, clock=lambda: now[0])
    key = (1, 2, "GET", "/x")
    assert limiter.admit(key) == 0
    assert limiter.admit(key) is None
    assert limiter.admit(key) is None
    assert limiter.admit((1, 3, "GET", "/x")) == 0  # someone else
    now[0] = 61
    assert limiter.admit(key) == 2  # recorded, noting the two left out


def test_the_denial_limiter_stays_bounded():
    limiter = DenialLimiter(window=60, max_keys=10, clock=lambda: 0.0)
    for i in range(100):
        limiter.admit((i,))
    assert len(limiter._seen) <= 10


def test_the_annotators_hot_path_writes_no_audit_event(app, db, owner):
    annotator = add_member(db, owner, Role.annotator, join_projects=False)
    pid = make_project(db, owner)
    add_tasks(db, owner, pid, text_rows(3))
    c = login(app, annotator)
    before = len(all_events(db))
    for _ in range(3):
        task = c.post(f"/api/projects/{pid}/next").json()["task"]
        r = c.post(f"/api/tasks/{task['id']}/annotations", json={"value": {"label": "pos"}})
        assert r.status_code in (200, 201), r.text
    assert len(all_events(db)) == before


# -- searching, exporting ------------------------------------------------------------------


@pytest.fixture
def busy_org(app, db, owner):
    """An organization with a few kinds of events by two people."""
    manager = add_member(db, owner, Role.manager)
    pid = make_project(db, owner, name="Searchable")
    m = login(app, manager)
    m.post("/api/invitations", json={"email": "findme@example.com", "role": "annotator"})
    o = login(app, owner)
    o.patch(f"/api/projects/{pid}", json={"overlap": 2})
    return {"owner": o, "manager": manager, "project": pid}


def _api(c: TestClient, **params: Any) -> list[dict[str, Any]]:
    r = c.get("/api/audit", params=params)
    assert r.status_code == 200, r.text
    return r.json()["items"]


def test_the_api_filters_by_action_actor_object_time_and_text(db, owner, busy_org):
    c = busy_org["owner"]
    assert {e["action"] for e in _api(c, action="auth.")} == {"auth.login"}
    assert [e["action"] for e in _api(c, action="invitation")] == ["invitation.create"]
    mine = _api(c, actor=busy_org["manager"].email.upper()[:12])
    assert mine and {e["actor_id"] for e in mine} == {busy_org["manager"].user_id}
    project = _api(c, object_type="project", object_id=str(busy_org["project"]))
    assert [e["action"] for e in project] == ["project.create", "project.update"]
    assert [e["action"] for e in _api(c, q="FINDME@")] == ["invitation.create"]
    assert _api(c, q="100%_") == []  # LIKE wildcards are literal
    assert len(_api(c, since="2000-01-01", until="2999-12-31")) == len(_api(c))
    assert _api(c, until="2000-01-01") == []
    newest = _api(c)[-1]["created_at"]
    assert [e["created_at"] for e in _api(c, since=newest)] == [newest]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": "yesterday"}, "since"),
        ({"until": "2024-13-01"}, "until"),
        ({"action": "x" * 201}, "action"),
    ],
)
def test_bad_filters_are_422_naming_the_field(busy_org, params, field):
    r = busy_org["owner"].get("/api/audit", params=params)
    assert r.status_code == 422
    assert field in r.text


def test_the_jsonl_export_streams_the_filtered_events_and_is_itself_audited(db, owner, busy_org):
    c = busy_org["owner"]
    r = c.get("/api/audit/export", params={"action": "invitation."})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/x-ndjson")
    assert "attachment" in r.headers["content-disposition"]
    (line,) = [orjson.loads(x) for x in r.content.splitlines()]
    assert line["action"] == "invitation.create"
    assert line["actor_email"] == busy_org["manager"].email
    assert line["details"]["email"] == "findme@example.com"
    assert len(line["hash"]) == len(line["prev_hash"]) == 64
    exported = events(db, owner.organization_id, "audit.export")
    assert [(e.actor_id, e.details) for e in exported] == [
        (owner.user_id, {"action": "invitation."})
    ]
    # the whole log, in chain order: every line links to the one before
    lines = [orjson.loads(x) for x in c.get("/api/audit/export").content.splitlines()]
    assert [x["id"] for x in lines] == sorted(x["id"] for x in lines)
    assert all(b["prev_hash"] == a["hash"] for a, b in itertools.pairwise(lines))
    assert lines[0]["prev_hash"] == audit.GENESIS


def test_only_owners_export_and_only_their_organization(app, db, owner, busy_org):
    r = login(app, busy_org["manager"]).get("/api/audit/export")
    assert r.status_code == 403
    other = make_org(db, "Other")
    lines = login(app, other).get("/api/audit/export").content.splitlines()
    assert {orjson.loads(x)["organization_id"] for x in lines} == {other.organization_id}


def test_the_audit_page_searches_pages_and_links_the_export(app, db, owner, busy_org):
    c = busy_org["owner"]
    r = c.get("/audit", params={"action": "invitation."})
    assert r.status_code == 200
    assert "chain intact" in r.text
    assert "findme@example.com" in r.text
    assert 'href="/api/audit/export?action=invitation.' in r.text
    assert "project.update" not in r.text
    home = c.get("/").text
    assert 'href="/audit"' in home
    assert 'href="/audit"' not in login(app, busy_org["manager"]).get("/").text
    bad = c.get("/audit", params={"since": "soon"})
    assert bad.status_code == 200 and "since:" in bad.text
