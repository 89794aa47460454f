"""Browser sessions: an idle timeout that slides with use, an absolute lifetime, and
"log out everywhere" for oneself and for an administrator acting on a member.

The sliding expiry is written at most about once a minute per session, in the request's own
transaction when it writes anyway, else in a short one after the answer (never a write per
request). Time is simulated by moving a session's stored times back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, select, update

from labelhouse.accounts import service as accounts
from labelhouse.accounts.models import Role, UserSession
from labelhouse.audit.models import AuditEvent
from labelhouse.db.base import utcnow
from tests.factories import PASSWORD, add_member, login, make_org, token_client

IDLE = 12 * 3600
MAX_AGE = 14 * 24 * 3600


@dataclass
class Times:
    created_at: datetime
    expires_at: datetime


def only_session(db: Any, user_id: int) -> Times:
    with db.read_session() as s:
        rows = list(
            s.execute(
                select(UserSession.created_at, UserSession.expires_at).where(
                    UserSession.user_id == user_id
                )
            )
        )
    assert len(rows) == 1
    return Times(*rows[0])


def set_times(db: Any, user_id: int, *, created: datetime, expires: datetime) -> None:
    with db.session() as s:
        s.execute(
            update(UserSession)
            .where(UserSession.user_id == user_id)
            .values(created_at=created, expires_at=expires)
        )


def near(a: datetime, b: datetime, seconds: float = 30) -> bool:
    return abs((a - b).total_seconds()) < seconds


@pytest.fixture
def session_writes(db: Any) -> list[str]:
    """Every statement that writes the session table, as sent to the database."""
    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("UPDATE USER_SESSION"):
            seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    yield seen
    event.remove(db.engine, "before_cursor_execute", record)


def test_settings_have_sane_defaults(settings):
    assert settings.session_idle_seconds == IDLE
    assert settings.session_max_age == MAX_AGE


def test_a_new_session_expires_after_the_idle_timeout_not_the_lifetime(app, db):
    owner = make_org(db)
    login(app, owner)
    row = only_session(db, owner.user_id)
    assert near(row.expires_at, row.created_at + timedelta(seconds=IDLE))


def test_use_slides_the_expiry_forward_at_most_once_a_minute(app, db, session_writes):
    owner = make_org(db)
    c = login(app, owner)
    now = utcnow()
    # last renewed five minutes ago
    set_times(
        db,
        owner.user_id,
        created=now - timedelta(hours=1),
        expires=now + timedelta(seconds=IDLE - 300),
    )
    app.state.identity_cache.clear()
    session_writes.clear()
    assert c.get("/api/me").status_code == 200  # a read: renewed after the answer
    row = only_session(db, owner.user_id)
    assert near(row.expires_at, utcnow() + timedelta(seconds=IDLE))
    assert len(session_writes) == 1
    for _ in range(5):  # within the minute: no more writes, cached or not
        app.state.identity_cache.clear()
        assert c.get("/api/me").status_code == 200
        assert c.get("/account").status_code == 200
    assert len(session_writes) == 1
    assert only_session(db, owner.user_id).expires_at == row.expires_at


def test_pages_and_writes_keep_the_session_alive_too(app, db):
    owner = make_org(db)
    c = login(app, owner)
    for path, method in (("/account", "GET"), ("/api/me/tokens", "POST")):
        now = utcnow()
        set_times(
            db, owner.user_id, created=now - timedelta(hours=2), expires=now + timedelta(hours=1)
        )
        app.state.identity_cache.clear()
        if method == "GET":
            assert c.get(path).status_code == 200
        else:
            assert c.post(path, json={"name": "t"}).status_code == 201
        row = only_session(db, owner.user_id)
        assert near(row.expires_at, utcnow() + timedelta(seconds=IDLE)), path


def test_an_idle_session_ends(app, db):
    owner = make_org(db)
    c = login(app, owner)
    now = utcnow()
    set_times(
        db, owner.user_id, created=now - timedelta(hours=13), expires=now - timedelta(minutes=1)
    )
    app.state.identity_cache.clear()
    r = c.get("/api/me")
    assert r.status_code == 401
    assert "log in again" in r.json()["error"]["message"]
    page = c.get("/account", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/login")


def test_the_absolute_lifetime_caps_the_sliding_expiry(app, db):
    owner = make_org(db)
    c = login(app, owner)
    now = utcnow()
    created = now - timedelta(seconds=MAX_AGE - 1800)  # 30 minutes of its lifetime left
    set_times(db, owner.user_id, created=created, expires=now + timedelta(minutes=5))
    app.state.identity_cache.clear()
    assert c.get("/api/me").status_code == 200
    row = only_session(db, owner.user_id)
    assert near(row.expires_at, created + timedelta(seconds=MAX_AGE), 2)
    # past the lifetime it ends, whatever the stored expiry says
    set_times(
        db,
        owner.user_id,
        created=now - timedelta(seconds=MAX_AGE + 60),
        expires=now + timedelta(hours=1),
    )
    app.state.identity_cache.clear()
    assert c.get("/api/me").status_code == 401


def test_a_session_from_before_the_idle_timeout_gets_one(app, db):
    """Sessions made by older versions expire 14 days after sign-in; the first use brings
    them under the idle timeout."""
    owner = make_org(db)
    c = login(app, owner)
    now = utcnow()
    set_times(db, owner.user_id, created=now, expires=now + timedelta(seconds=MAX_AGE))
    app.state.identity_cache.clear()
    assert c.get("/api/me").status_code == 200
    assert near(only_session(db, owner.user_id).expires_at, utcnow() + timedelta(seconds=IDLE))


def test_a_failed_renewal_never_fails_the_request(app, db, monkeypatch):
    owner = make_org(db)
    c = login(app, owner)
    now = utcnow()
    set_times(db, owner.user_id, created=now, expires=now + timedelta(hours=1))
    app.state.identity_cache.clear()

    def broken(*_a: Any, **_k: Any) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(accounts, "renew_session", broken)
    r = c.get("/api/me")
    assert r.status_code == 200
    assert c.get("/account").status_code == 200


def test_renewal_rule():
    now = utcnow()
    row = UserSession(created_at=now - timedelta(hours=1), expires_at=now + timedelta(seconds=IDLE))
    assert accounts.session_renewal(row, idle_seconds=IDLE, max_age=MAX_AGE, now=now) is None
    later = now + timedelta(seconds=59)
    assert accounts.session_renewal(row, idle_seconds=IDLE, max_age=MAX_AGE, now=later) is None
    later = now + timedelta(seconds=61)
    assert accounts.session_renewal(
        row, idle_seconds=IDLE, max_age=MAX_AGE, now=later
    ) == later + timedelta(seconds=IDLE)
    capped = accounts.session_renewal(row, idle_seconds=IDLE, max_age=7200, now=later)
    assert capped == row.created_at + timedelta(seconds=7200)


# -- log out everywhere: oneself ---------------------------------------------------------------


def test_log_out_everywhere_ends_the_other_sessions_and_keeps_this_one(app, db):
    owner = make_org(db)
    here, laptop, phone = login(app, owner), login(app, owner), login(app, owner)
    token = token_client(app, db, owner)
    r = here.post("/api/me/sessions/revoke-all")
    assert r.status_code == 200, r.text
    assert r.json()["other_sessions_ended"] == 2
    assert "Signed out 2 other sessions" in r.json()["message"]
    assert here.get("/api/me").status_code == 200
    assert laptop.get("/api/me").status_code == 401
    assert phone.get("/api/me").status_code == 401
    assert token.get("/api/me").status_code == 200  # API tokens are not sessions
    again = here.post("/api/me/sessions/revoke-all", json={"include_current": False})
    assert again.json()["other_sessions_ended"] == 0
    assert "No other session" in again.json()["message"]
    with db.read_session() as s:
        events = s.execute(
            select(AuditEvent.actor_id, AuditEvent.object_id, AuditEvent.details)
            .where(AuditEvent.action == "auth.sessions_revoked")
            .order_by(AuditEvent.id)
        ).all()
    assert [d["sessions"] for _, _, d in events] == [2, 0]
    assert [(a, o) for a, o, _ in events] == [(owner.user_id, str(owner.user_id))] * 2


def test_log_out_everywhere_including_this_browser(app, db):
    owner = make_org(db)
    here, other = login(app, owner), login(app, owner)
    r = here.post("/api/me/sessions/revoke-all", json={"include_current": True})
    assert r.status_code == 200
    assert r.json() | {"message": ""} == {"ended": 2, "other_sessions_ended": 1, "message": ""}
    assert 'lh_session=""' in r.headers["set-cookie"] or "Max-Age=0" in r.headers["set-cookie"]
    assert other.get("/api/me").status_code == 401
    with db.read_session() as s:
        assert s.scalars(select(UserSession)).first() is None


def test_log_out_everywhere_needs_the_csrf_token_and_a_sign_in(app, db):
    owner = make_org(db)
    c = login(app, owner)
    del c.headers["X-CSRF-Token"]
    assert c.post("/api/me/sessions/revoke-all").status_code == 403
    assert TestClient(app).post("/api/me/sessions/revoke-all").status_code == 401


def test_log_out_everywhere_with_an_api_token_ends_every_session(app, db):
    owner = make_org(db)
    browser = login(app, owner)
    r = token_client(app, db, owner).post("/api/me/sessions/revoke-all")
    assert r.status_code == 200 and r.json()["ended"] == 1
    assert browser.get("/api/me").status_code == 401


def test_the_account_page_counts_other_sessions(app, db):
    owner = make_org(db)
    here = login(app, owner)
    login(app, owner)
    page = here.get("/account")
    assert "signed in on 1 other browser" in page.text
    assert "12 hours without use" in page.text and "14 days after signing in" in page.text
    assert 'data-api="POST /api/me/sessions/revoke-all"' in page.text


# -- log out everywhere: an administrator on a member ------------------------------------------


def test_a_manager_logs_a_member_out_everywhere_in_the_organization(app, db):
    owner = make_org(db)
    manager = add_member(db, owner, Role.manager)
    annotator = add_member(db, owner, Role.annotator)
    other_org = make_org(db, "Elsewhere")
    with db.session() as s:  # the annotator also belongs to another organization
        accounts.create_user(
            s,
            email=annotator.email,
            password=PASSWORD,
            organization_id=other_org.organization_id,
            role=Role.annotator,
        )
    a1, a2 = login(app, annotator), login(app, annotator)
    elsewhere = TestClient(app)
    r = elsewhere.post(
        "/api/auth/login",
        json={
            "email": annotator.email,
            "password": PASSWORD,
            "organization_id": other_org.organization_id,
        },
    )
    assert r.status_code == 200
    token = token_client(app, db, annotator)

    r = login(app, manager).post(f"/api/people/{annotator.user_id}/logout-everywhere")
    assert r.status_code == 200, r.text
    assert r.json()["ended"] == 2
    assert "2 sessions ended" in r.json()["message"]
    assert a1.get("/api/me").status_code == 401
    assert a2.get("/api/me").status_code == 401
    assert elsewhere.get("/api/me").status_code == 200  # another organization's session
    assert token.get("/api/me").status_code == 200
    assert login(app, annotator).get("/api/me").status_code == 200  # may sign in again
    with db.read_session() as s:
        actor_id, object_id, details = s.execute(
            select(AuditEvent.actor_id, AuditEvent.object_id, AuditEvent.details).where(
                AuditEvent.action == "member.logout_everywhere"
            )
        ).one()
    assert (actor_id, str(object_id)) == (manager.user_id, str(annotator.user_id))
    assert details["sessions"] == 2


def test_who_may_log_whom_out_everywhere(app, db):
    owner = make_org(db)
    second_owner = add_member(db, owner, Role.owner)
    manager = add_member(db, owner, Role.manager)
    annotator = add_member(db, owner, Role.annotator)
    stranger = make_org(db, "Other")
    by_manager = login(app, manager)

    def code(c: TestClient, user_id: int) -> int:
        return c.post(f"/api/people/{user_id}/logout-everywhere").status_code

    assert code(by_manager, owner.user_id) == 403  # only an owner acts on an owner
    assert code(login(app, second_owner), owner.user_id) == 200
    assert code(login(app, annotator), manager.user_id) == 403
    assert code(by_manager, stranger.user_id) == 404
    r = by_manager.post(f"/api/people/{manager.user_id}/logout-everywhere")
    assert r.status_code == 409 and "account page" in r.json()["error"]["message"]
    assert code(by_manager, annotator.user_id) == 200


def test_the_people_page_offers_the_button(app, db):
    owner = make_org(db)
    annotator = add_member(db, owner, Role.annotator)
    page = login(app, owner).get("/people")
    assert f'data-api="POST /api/people/{annotator.user_id}/logout-everywhere"' in page.text
