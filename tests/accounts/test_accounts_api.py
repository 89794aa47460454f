"""Accounts over the real JSON API: login, sessions and CSRF, API tokens, passwords,
invitations, members and roles."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from labelhouse.accounts.models import ApiToken, Invitation, Membership, Role, User, UserSession
from labelhouse.db.base import utcnow
from labelhouse.storage import LocalStorage
from labelhouse.web.app import create_app
from tests.factories import PASSWORD, add_member, login, make_org, token_client

SESSION_COOKIE = "lh_session"
NEW_PASSWORD = "a much longer new passphrase"


def assert_error(r: Any, status: int, code: str) -> dict[str, Any]:
    """The one error shape: ``{"error": {"code", "message", "details": [...]}}``."""
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"}
    err = body["error"]
    assert set(err) == {"code", "message", "details"}
    assert err["code"] == code
    assert isinstance(err["message"], str) and err["message"]
    assert isinstance(err["details"], list)
    for d in err["details"]:
        assert set(d) == {"field", "problem"}
    return err


def fields_of(err: dict[str, Any]) -> list[str]:
    return [d["field"] for d in err["details"]]


def cookie_client(app: Any, secret: str) -> TestClient:
    """A client that presents a given session cookie (e.g. one that was logged out)."""
    c = TestClient(app)
    c.cookies.set(SESSION_COOKIE, secret)
    return c


def raw_login(app: Any, email: str, password: str, **extra: Any) -> Any:
    return TestClient(app).post(
        "/api/auth/login", json={"email": email, "password": password, **extra}
    )


# -- login ----------------------------------------------------------------------------------


def test_login_with_right_password_returns_identity_and_csrf(app, db):
    owner = make_org(db, "Acme", one_time_password=True)
    r = raw_login(app, owner.email, PASSWORD)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["email"] == owner.email
    assert body["user_id"] == owner.actor.user_id
    assert body["organization_id"] == owner.actor.organization_id
    assert body["role"] == "owner"
    assert isinstance(body["csrf_token"], str) and len(body["csrf_token"]) >= 32
    # bootstrap owners start with a one-time password
    assert body["must_change_password"] is True


def test_login_email_is_case_and_space_insensitive(app, db):
    owner = make_org(db)
    r = raw_login(app, f"  {owner.email.upper()} ", PASSWORD)
    assert r.status_code == 200, r.text
    assert r.json()["user_id"] == owner.actor.user_id


def test_wrong_password_and_unknown_email_get_the_same_401(app, db):
    owner = make_org(db)
    wrong = raw_login(app, owner.email, "not the password at all")
    unknown = raw_login(app, "nobody@example.com", PASSWORD)
    err_wrong = assert_error(wrong, 401, "not_authenticated")
    err_unknown = assert_error(unknown, 401, "not_authenticated")
    assert err_wrong == err_unknown
    assert "set-cookie" not in wrong.headers
    assert "set-cookie" not in unknown.headers


def test_inactive_user_cannot_log_in_and_existing_sessions_stop_working(app, db):
    owner = make_org(db)
    member = add_member(db, owner, Role.annotator)
    c = login(app, member)
    assert c.get("/api/me").status_code == 200
    with db.session() as s:
        s.execute(update(User).where(User.id == member.actor.user_id).values(is_active=False))
    r = raw_login(app, member.email, PASSWORD)
    err = assert_error(r, 401, "not_authenticated")
    # same message as a wrong password: nothing reveals that the account exists
    assert err == assert_error(
        raw_login(app, "ghost@example.com", PASSWORD), 401, "not_authenticated"
    )
    assert_error(c.get("/api/me"), 401, "not_authenticated")


def test_login_to_an_organization_you_do_not_belong_to_is_refused(app, db):
    a = make_org(db, "A")
    b = make_org(db, "B")
    r = raw_login(app, a.email, PASSWORD, organization_id=b.actor.organization_id)
    assert_error(r, 401, "not_authenticated")


def test_login_picks_the_requested_organization_for_multi_org_users(app, db):
    a = make_org(db, "A")
    b = make_org(db, "B")
    # the owner of A is also a reviewer in B
    with db.session() as s:
        s.add(
            Membership(
                organization_id=b.actor.organization_id,
                user_id=a.actor.user_id,
                role=Role.reviewer.value,
            )
        )
    r = raw_login(app, a.email, PASSWORD, organization_id=b.actor.organization_id)
    assert r.status_code == 200, r.text
    assert r.json()["organization_id"] == b.actor.organization_id
    assert r.json()["role"] == "reviewer"
    c = login(app, a)
    me = c.get("/api/me").json()
    assert {o["id"] for o in me["organizations"]} == {
        a.actor.organization_id,
        b.actor.organization_id,
    }


def test_login_body_is_validated(client):
    err = assert_error(
        client.post("/api/auth/login", json={"email": "x@example.com"}), 422, "invalid_input"
    )
    assert "password" in fields_of(err)


# -- session cookie -------------------------------------------------------------------------


def test_session_cookie_is_httponly_samesite_lax_and_not_the_stored_value(app, db):
    owner = make_org(db)
    r = raw_login(app, owner.email, PASSWORD)
    cookies = r.headers.get_list("set-cookie")
    assert len(cookies) == 1
    header = cookies[0]
    attrs = [a.strip().lower() for a in header.split(";")]
    name, _, secret = header.split(";")[0].partition("=")
    assert name == SESSION_COOKIE
    assert "httponly" in attrs
    assert "samesite=lax" in attrs
    assert "path=/" in attrs
    assert any(a.startswith("max-age=") and int(a.split("=")[1]) > 0 for a in attrs)
    # test settings do not ask for Secure (plain http in tests)
    assert "secure" not in attrs
    # the database keeps only a digest of the cookie secret
    with db.session() as s:
        rows = list(
            s.scalars(select(UserSession).where(UserSession.user_id == owner.actor.user_id))
        )
    assert len(rows) == 1
    assert rows[0].token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in (rows[0].token_hash, rows[0].csrf_token)


def test_secure_cookies_setting_marks_the_cookie_secure(settings, db):
    secure = settings.model_copy(update={"secure_cookies": True})
    app = create_app(secure, database=db, storage=LocalStorage(secure.resolved_storage_dir))
    owner = make_org(db)
    r = raw_login(app, owner.email, PASSWORD)
    assert r.status_code == 200
    attrs = [a.strip().lower() for a in r.headers["set-cookie"].split(";")]
    assert "secure" in attrs
    assert "httponly" in attrs


def test_me_returns_csrf_token_of_the_current_session(app, db):
    owner = make_org(db)
    c = login(app, owner)
    me = c.get("/api/me")
    assert me.status_code == 200
    assert me.json()["csrf_token"] == c.headers["X-CSRF-Token"]
    assert me.json()["email"] == owner.email


def test_requests_without_credentials_get_401(client):
    for method, path in [("GET", "/api/me"), ("GET", "/api/projects"), ("POST", "/api/me/tokens")]:
        assert_error(client.request(method, path, json={"name": "x"}), 401, "not_authenticated")


def test_garbage_session_cookie_is_401(app):
    assert_error(
        cookie_client(app, "lhs_not-a-real-session").get("/api/me"), 401, "not_authenticated"
    )


def test_logout_invalidates_the_session_server_side(app, db):
    owner = make_org(db)
    c = login(app, owner)
    secret = c.cookies.get(SESSION_COOKIE)
    assert secret
    r = c.post("/api/auth/logout")
    assert r.status_code == 204
    # the browser is told to drop the cookie …
    assert SESSION_COOKIE in r.headers.get("set-cookie", "")
    # … and the old cookie no longer works even if someone kept it
    assert_error(cookie_client(app, secret).get("/api/me"), 401, "not_authenticated")
    with db.session() as s:
        assert (
            s.scalars(select(UserSession).where(UserSession.user_id == owner.actor.user_id)).all()
            == []
        )


def test_logout_needs_csrf_so_other_sites_cannot_log_you_out(app, db):
    owner = make_org(db)
    c = login(app, owner)
    secret = c.cookies.get(SESSION_COOKIE)
    del c.headers["X-CSRF-Token"]
    assert_error(c.post("/api/auth/logout"), 403, "permission_denied")
    assert cookie_client(app, secret).get("/api/me").status_code == 200


def test_logout_only_ends_that_session(app, db):
    owner = make_org(db)
    first = login(app, owner)
    second = login(app, owner)
    assert first.post("/api/auth/logout").status_code == 204
    assert second.get("/api/me").status_code == 200


# -- CSRF -----------------------------------------------------------------------------------


def test_cookie_post_without_csrf_header_is_403(app, db):
    owner = make_org(db)
    c = login(app, owner)
    del c.headers["X-CSRF-Token"]
    err = assert_error(c.post("/api/me/tokens", json={"name": "ci"}), 403, "permission_denied")
    assert "CSRF" in err["message"]
    # nothing was created
    with db.session() as s:
        assert s.scalars(select(ApiToken)).all() == []


def test_cookie_post_with_wrong_csrf_header_is_403(app, db):
    owner = make_org(db)
    c = login(app, owner)
    c.headers["X-CSRF-Token"] = "wrong" + c.headers["X-CSRF-Token"][5:]
    assert_error(c.post("/api/me/tokens", json={"name": "ci"}), 403, "permission_denied")
    c.headers["X-CSRF-Token"] = ""
    assert_error(c.post("/api/me/tokens", json={"name": "ci"}), 403, "permission_denied")


def test_csrf_token_of_another_session_is_refused(app, db):
    owner = make_org(db)
    mine = login(app, owner)
    other = login(app, owner)
    assert mine.headers["X-CSRF-Token"] != other.headers["X-CSRF-Token"]
    mine.headers["X-CSRF-Token"] = other.headers["X-CSRF-Token"]
    assert_error(mine.post("/api/me/tokens", json={"name": "ci"}), 403, "permission_denied")


def test_cookie_post_with_csrf_header_succeeds(app, db):
    owner = make_org(db)
    c = login(app, owner)
    r = c.post("/api/me/tokens", json={"name": "ci"})
    assert r.status_code == 201, r.text


def test_cookie_get_needs_no_csrf(app, db):
    owner = make_org(db)
    c = login(app, owner)
    del c.headers["X-CSRF-Token"]
    assert c.get("/api/me").status_code == 200
    assert c.get("/api/me/tokens").status_code == 200


def test_bearer_token_requests_need_no_csrf(app, db):
    owner = make_org(db)
    c = token_client(app, db, owner)
    assert "X-CSRF-Token" not in c.headers
    r = c.post("/api/me/tokens", json={"name": "second"})
    assert r.status_code == 201, r.text
    r = c.post(
        "/api/projects", json={"name": "via token", "schema": [{"name": "t", "kind": "text"}]}
    )
    assert r.status_code == 201, r.text


def test_bearer_header_wins_over_cookie(app, db):
    """A bad bearer token is not rescued by a valid session cookie."""
    owner = make_org(db)
    c = login(app, owner)
    c.headers["Authorization"] = "Bearer lh_bogus"
    assert_error(c.get("/api/me"), 401, "not_authenticated")


# -- API tokens -----------------------------------------------------------------------------


def test_api_token_secret_is_returned_once_and_only_hashed_in_the_db(app, db):
    owner = make_org(db)
    c = login(app, owner)
    r = c.post("/api/me/tokens", json={"name": "  ci bot  "})
    assert r.status_code == 201, r.text
    created = r.json()
    secret = created["token"]
    assert secret.startswith("lh_")
    assert len(secret) > 40
    assert created["name"] == "ci bot"
    assert secret.startswith(created["prefix"])
    assert created["prefix"] != secret

    listed = c.get("/api/me/tokens")
    assert listed.status_code == 200
    body = listed.json()
    assert body["next_cursor"] is None
    assert len(body["items"]) == 1
    item = body["items"][0]
    assert item["id"] == created["id"]
    assert item["prefix"] == created["prefix"]
    assert "token" not in item
    assert secret not in listed.text

    with db.session() as s:
        row = s.get(ApiToken, created["id"])
        assert row is not None
        assert row.token_hash != secret
        assert row.token_hash == hashlib.sha256(secret.encode()).hexdigest()
        assert row.user_id == owner.actor.user_id
        assert row.last_used_at is None

    # the secret works as a bearer token, and using it is recorded
    bearer = TestClient(app, headers={"Authorization": f"Bearer {secret}"})
    me = bearer.get("/api/me")
    assert me.status_code == 200
    assert me.json()["user_id"] == owner.actor.user_id
    assert me.json()["csrf_token"] is None
    assert bearer.post("/api/me/tokens", json={"name": "touch"}).status_code == 201
    with db.session() as s:
        assert s.get(ApiToken, created["id"]).last_used_at is not None


def test_token_name_is_required(app, db):
    owner = make_org(db)
    c = login(app, owner)
    assert_error(c.post("/api/me/tokens", json={"name": ""}), 422, "invalid_input")
    err = assert_error(c.post("/api/me/tokens", json={"name": "   "}), 422, "invalid_input")
    assert fields_of(err) == ["name"]


def test_revoked_token_is_401_and_disappears_from_the_list(app, db):
    owner = make_org(db)
    c = login(app, owner)
    created = c.post("/api/me/tokens", json={"name": "temp"}).json()
    keep = c.post("/api/me/tokens", json={"name": "keep"}).json()
    bearer = TestClient(app, headers={"Authorization": f"Bearer {created['token']}"})
    assert bearer.get("/api/me").status_code == 200

    assert c.delete(f"/api/me/tokens/{created['id']}").status_code == 204
    assert_error(bearer.get("/api/me"), 401, "not_authenticated")
    assert_error(bearer.post("/api/me/tokens", json={"name": "x"}), 401, "not_authenticated")
    assert [t["id"] for t in c.get("/api/me/tokens").json()["items"]] == [keep["id"]]
    # revoking twice: the token is gone
    assert_error(c.delete(f"/api/me/tokens/{created['id']}"), 404, "not_found")
    # the other token still works
    other = TestClient(app, headers={"Authorization": f"Bearer {keep['token']}"})
    assert other.get("/api/me").status_code == 200


def test_unknown_bearer_token_is_401(app):
    c = TestClient(app, headers={"Authorization": "Bearer lh_" + "x" * 43})
    assert_error(c.get("/api/me"), 401, "not_authenticated")


def test_you_cannot_list_or_revoke_someone_elses_token(app, db):
    owner = make_org(db)
    manager = add_member(db, owner, Role.manager)
    theirs = login(app, manager).post("/api/me/tokens", json={"name": "mine"}).json()
    c = login(app, owner)
    assert c.get("/api/me/tokens").json()["items"] == []
    assert_error(c.delete(f"/api/me/tokens/{theirs['id']}"), 404, "not_found")
    bearer = TestClient(app, headers={"Authorization": f"Bearer {theirs['token']}"})
    assert bearer.get("/api/me").json()["user_id"] == manager.actor.user_id


# -- password change ------------------------------------------------------------------------


def test_change_password_with_wrong_current_password_is_422_naming_it(app, db):
    owner = make_org(db)
    c = login(app, owner)
    r = c.post(
        "/api/me/password", json={"current_password": "wrong one!!", "new_password": NEW_PASSWORD}
    )
    err = assert_error(r, 422, "invalid_input")
    assert fields_of(err) == ["current_password"]
    # the old password still works
    assert raw_login(app, owner.email, PASSWORD).status_code == 200


def test_change_password_too_short_is_422(app, db):
    owner = make_org(db)
    c = login(app, owner)
    r = c.post("/api/me/password", json={"current_password": PASSWORD, "new_password": "short"})
    err = assert_error(r, 422, "invalid_input")
    assert len(err["details"]) == 1
    assert err["details"][0]["field"] == "new_password"
    assert "10" in err["details"][0]["problem"]
    assert raw_login(app, owner.email, PASSWORD).status_code == 200
    assert raw_login(app, owner.email, "short").status_code == 401


def test_change_password_needs_csrf(app, db):
    owner = make_org(db)
    c = login(app, owner)
    del c.headers["X-CSRF-Token"]
    r = c.post(
        "/api/me/password", json={"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    )
    assert_error(r, 403, "permission_denied")
    assert raw_login(app, owner.email, PASSWORD).status_code == 200


def test_change_password_signs_out_other_sessions(app, db):
    owner = make_org(db)
    current = login(app, owner)
    other = login(app, owner)
    other_secret = other.cookies.get(SESSION_COOKIE)
    token = token_client(app, db, owner)

    r = current.post(
        "/api/me/password", json={"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    )
    assert r.status_code == 200, r.text
    # the person is told which API tokens were revoked
    assert [t["name"] for t in r.json()["revoked_tokens"]] == ["test"]
    assert "'test'" in r.json()["message"]

    # other browser sessions are signed out, the one that made the change stays in
    assert_error(other.get("/api/me"), 401, "not_authenticated")
    assert_error(cookie_client(app, other_secret).get("/api/me"), 401, "not_authenticated")
    me = current.get("/api/me")
    assert me.status_code == 200
    assert me.json()["must_change_password"] is False
    # a leaked password may have minted API tokens: they are revoked too
    assert_error(token.get("/api/me"), 401, "not_authenticated")
    # the old password is gone, the new one works
    assert raw_login(app, owner.email, PASSWORD).status_code == 401
    r = raw_login(app, owner.email, NEW_PASSWORD)
    assert r.status_code == 200
    assert r.json()["must_change_password"] is False


# -- invitations ----------------------------------------------------------------------------


def invite(c: TestClient, email: str, role: str = "annotator") -> Any:
    return c.post("/api/invitations", json={"email": email, "role": role})


def accept(app: Any, token: str, password: str = NEW_PASSWORD, name: str = "New Person") -> Any:
    return TestClient(app).post(
        "/api/invitations/accept", json={"token": token, "password": password, "name": name}
    )


def test_manager_invites_and_the_invitee_joins_with_the_invited_role(app, db):
    owner = make_org(db)
    manager = add_member(db, owner, Role.manager)
    c = login(app, manager)
    r = invite(c, "  New.Reviewer@Example.com ", "reviewer")
    assert r.status_code == 201, r.text
    inv = r.json()
    assert inv["email"] == "new.reviewer@example.com"
    assert inv["role"] == "reviewer"
    assert inv["token"].startswith("lhi_")
    assert inv["expires_at"]

    # no account yet: cannot log in
    assert raw_login(app, "new.reviewer@example.com", NEW_PASSWORD).status_code == 401

    r = accept(app, inv["token"], name="Rita")
    assert r.status_code == 201, r.text
    assert r.json()["email"] == "new.reviewer@example.com"
    assert "user_id" not in r.json()  # the anonymous answer never tells about accounts

    r = raw_login(app, "new.reviewer@example.com", NEW_PASSWORD)
    assert r.status_code == 200, r.text
    assert r.json()["role"] == "reviewer"
    assert r.json()["organization_id"] == owner.actor.organization_id
    assert r.json()["must_change_password"] is False

    members = {m["email"]: m for m in c.get("/api/members").json()["items"]}
    assert members["new.reviewer@example.com"]["role"] == "reviewer"
    assert members["new.reviewer@example.com"]["name"] == "Rita"


def test_invitation_token_cannot_be_reused(app, db):
    owner = make_org(db)
    c = login(app, owner)
    token = invite(c, "once@example.com").json()["token"]
    assert accept(app, token).status_code == 201
    err = assert_error(accept(app, token, password="another password"), 404, "not_found")
    assert "invalid" in err["message"] or "expired" in err["message"]
    # the second attempt did not change the password
    assert raw_login(app, "once@example.com", NEW_PASSWORD).status_code == 200
    assert raw_login(app, "once@example.com", "another password").status_code == 401


def test_unknown_invitation_token_is_404(app):
    assert_error(accept(app, "lhi_" + "n" * 43), 404, "not_found")


def test_accept_with_too_short_password_is_422_and_keeps_the_invitation(app, db):
    owner = make_org(db)
    c = login(app, owner)
    token = invite(c, "later@example.com").json()["token"]
    err = assert_error(accept(app, token, password="short"), 422, "invalid_input")
    assert fields_of(err) == ["password"]
    # nothing was consumed: the invitation can still be accepted
    assert accept(app, token).status_code == 201


def test_annotator_cannot_invite(app, db):
    owner = make_org(db)
    annotator = add_member(db, owner, Role.annotator)
    c = login(app, annotator)
    assert_error(invite(c, "friend@example.com"), 403, "permission_denied")
    assert_error(invite(c, "boss@example.com", "owner"), 403, "permission_denied")


def test_reviewer_cannot_invite(app, db):
    owner = make_org(db)
    reviewer = add_member(db, owner, Role.reviewer)
    assert_error(invite(login(app, reviewer), "friend@example.com"), 403, "permission_denied")


def test_only_an_owner_can_invite_an_owner(app, db):
    owner = make_org(db)
    manager = add_member(db, owner, Role.manager)
    assert_error(invite(login(app, manager), "co@example.com", "owner"), 403, "permission_denied")
    r = invite(login(app, owner), "co@example.com", "owner")
    assert r.status_code == 201, r.text
    assert accept(app, r.json()["token"]).status_code == 201
    assert raw_login(app, "co@example.com", NEW_PASSWORD).json()["role"] == "owner"


def test_inviting_an_existing_member_is_409(app, db):
    owner = make_org(db)
    member = add_member(db, owner, Role.annotator)
    assert_error(invite(login(app, owner), member.email), 409, "conflict")


def test_invite_validates_email_and_role(app, db):
    owner = make_org(db)
    c = login(app, owner)
    err = assert_error(invite(c, "not-an-email"), 422, "invalid_input")
    assert fields_of(err) == ["email"]
    err = assert_error(invite(c, "x@example.com", "emperor"), 422, "invalid_input")
    assert fields_of(err) == ["role"]


def test_existing_user_of_another_org_accepting_keeps_their_password(app, db):
    """Issue 11, item 3: an anonymous accept with any password made an existing user of A a
    member of B without their consent, and its answer revealed that the account existed."""
    a = make_org(db, "A")
    b = make_org(db, "B")
    token = invite(login(app, b), a.email, "manager").json()["token"]
    fresh = invite(login(app, b), "nobody.yet@example.com").json()["token"]
    # a wrong password: nothing changes, and the answer is the one a new address gets
    wrong = accept(app, token, password="not their password")
    new = accept(app, fresh, password="a fine new password")
    assert wrong.status_code == new.status_code == 201
    assert set(wrong.json()) == set(new.json()) == {"email", "message"}
    assert wrong.json()["message"] == new.json()["message"]
    assert_error(
        raw_login(app, a.email, PASSWORD, organization_id=b.actor.organization_id),
        401,
        "not_authenticated",
    )
    # the account's own password (its owner's consent) joins, and keeps the password
    assert accept(app, token, password=PASSWORD).json() == wrong.json() | {"email": a.email}
    r = raw_login(app, a.email, PASSWORD, organization_id=b.actor.organization_id)
    assert r.status_code == 200
    assert r.json()["role"] == "manager"


def test_a_signed_in_user_accepts_as_themselves(app, db):
    a = make_org(db, "A")
    b = make_org(db, "B")
    token = invite(login(app, b), a.email, "reviewer").json()["token"]
    someone_else = invite(login(app, b), "other@example.com").json()["token"]
    c = login(app, a)
    err = assert_error(
        c.post("/api/invitations/accept", json={"token": someone_else}), 409, "conflict"
    )
    assert "another address" in err["message"]
    r = c.post("/api/invitations/accept", json={"token": token})
    assert r.status_code == 201, r.text
    assert r.json()["organization_id"] == b.actor.organization_id
    assert r.json()["role"] == "reviewer"
    r = raw_login(app, a.email, PASSWORD, organization_id=b.actor.organization_id)
    assert r.json()["role"] == "reviewer"


# -- members --------------------------------------------------------------------------------


def test_members_list_shows_only_this_organization(app, db):
    owner = make_org(db, "A")
    annotator = add_member(db, owner, Role.annotator)
    other = make_org(db, "B")
    add_member(db, other, Role.manager)
    # annotators and reviewers do not get the organization's e-mail list (issue 11, item 2)
    assert_error(login(app, annotator).get("/api/members"), 403, "permission_denied")
    body = login(app, owner).get("/api/members").json()
    assert body["next_cursor"] is None
    assert {(m["email"], m["role"]) for m in body["items"]} == {
        (owner.email, "owner"),
        (annotator.email, "annotator"),
    }
    for m in body["items"]:
        assert set(m) == {"user_id", "email", "name", "role"}


def test_manager_changes_roles_below_owner(app, db):
    owner = make_org(db)
    manager = add_member(db, owner, Role.manager)
    annotator = add_member(db, owner, Role.annotator)
    c = login(app, manager)
    r = c.patch(f"/api/members/{annotator.actor.user_id}", json={"role": "reviewer"})
    assert r.status_code == 200, r.text
    assert r.json()["user_id"] == annotator.actor.user_id
    assert r.json()["role"] == "reviewer"
    # takes effect at the member's next sign-in (their sessions ended)
    assert login(app, annotator).get("/api/me").json()["role"] == "reviewer"
    # but a manager can neither grant nor take away the owner role
    r = c.patch(f"/api/members/{annotator.actor.user_id}", json={"role": "owner"})
    assert_error(r, 403, "permission_denied")
    r = c.patch(f"/api/members/{owner.actor.user_id}", json={"role": "annotator"})
    assert_error(r, 403, "permission_denied")


def test_annotator_cannot_change_roles_or_remove_members(app, db):
    owner = make_org(db)
    annotator = add_member(db, owner, Role.annotator)
    other = add_member(db, owner, Role.annotator)
    c = login(app, annotator)
    assert_error(
        c.patch(f"/api/members/{other.actor.user_id}", json={"role": "manager"}),
        403,
        "permission_denied",
    )
    assert_error(
        c.patch(f"/api/members/{annotator.actor.user_id}", json={"role": "owner"}),
        403,
        "permission_denied",
    )
    assert_error(c.delete(f"/api/members/{other.actor.user_id}"), 403, "permission_denied")


def test_the_last_owner_cannot_be_demoted_or_removed(app, db):
    owner = make_org(db)
    c = login(app, owner)
    uid = owner.actor.user_id
    assert_error(c.patch(f"/api/members/{uid}", json={"role": "manager"}), 409, "conflict")
    assert_error(c.delete(f"/api/members/{uid}"), 409, "conflict")
    assert c.get("/api/me").json()["role"] == "owner"
    # "re-granting" owner to the last owner is fine (no change)
    assert c.patch(f"/api/members/{uid}", json={"role": "owner"}).status_code == 200


def test_with_two_owners_one_can_step_down_then_the_other_is_the_last(app, db):
    first = make_org(db)
    second = add_member(db, first, Role.owner)
    c = login(app, first)
    r = c.patch(f"/api/members/{second.actor.user_id}", json={"role": "manager"})
    assert r.status_code == 200
    c2 = login(app, second)
    assert c2.get("/api/me").json()["role"] == "manager"
    # now first is the only owner again
    assert_error(
        c.patch(f"/api/members/{first.actor.user_id}", json={"role": "manager"}), 409, "conflict"
    )
    # promote back, and the first owner may step down
    assert (
        c.patch(f"/api/members/{second.actor.user_id}", json={"role": "owner"}).status_code == 200
    )
    assert (
        c.patch(f"/api/members/{first.actor.user_id}", json={"role": "reviewer"}).status_code == 200
    )
    assert c.get("/api/me").json()["role"] == "reviewer"


def test_owner_can_remove_another_owner_when_one_remains(app, db):
    first = make_org(db)
    second = add_member(db, first, Role.owner)
    assert login(app, first).delete(f"/api/members/{second.actor.user_id}").status_code == 204
    with db.session() as s:
        owners = s.scalars(
            select(Membership.user_id).where(
                Membership.organization_id == first.actor.organization_id,
                Membership.role == "owner",
            )
        ).all()
    assert owners == [first.actor.user_id]


def test_manager_cannot_remove_an_owner(app, db):
    first = make_org(db)
    add_member(db, first, Role.owner)
    manager = add_member(db, first, Role.manager)
    r = login(app, manager).delete(f"/api/members/{first.actor.user_id}")
    assert_error(r, 403, "permission_denied")


def test_removing_a_member_ends_their_sessions_and_access(app, db):
    owner = make_org(db)
    annotator = add_member(db, owner, Role.annotator)
    theirs = login(app, annotator)
    assert theirs.get("/api/me").status_code == 200
    r = login(app, owner).delete(f"/api/members/{annotator.actor.user_id}")
    assert r.status_code == 204
    assert_error(theirs.get("/api/me"), 401, "not_authenticated")
    assert_error(raw_login(app, annotator.email, PASSWORD), 401, "not_authenticated")
    emails = [m["email"] for m in login(app, owner).get("/api/members").json()["items"]]
    assert annotator.email not in emails


def test_role_change_for_unknown_member_is_404_and_bad_role_is_422(app, db):
    owner = make_org(db)
    c = login(app, owner)
    assert_error(c.patch("/api/members/987654", json={"role": "manager"}), 404, "not_found")
    assert_error(c.delete("/api/members/987654"), 404, "not_found")
    err = assert_error(
        c.patch(f"/api/members/{owner.actor.user_id}", json={"role": "king"}), 422, "invalid_input"
    )
    assert fields_of(err) == ["role"]


# -- no open sign-up ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/api/users", "/api/auth/signup", "/api/auth/register", "/api/signup", "/api/register"]
)
def test_there_is_no_open_sign_up(client, db, path):
    r = client.post(path, json={"email": "me@example.com", "password": NEW_PASSWORD})
    assert r.status_code in (404, 405)
    assert r.json()["error"]["code"] in ("not_found", "method_not_allowed")
    with db.session() as s:
        assert s.scalar(select(User).where(User.email == "me@example.com")) is None


def test_members_cannot_be_created_by_post(app, db):
    owner = make_org(db)
    r = login(app, owner).post("/api/members", json={"email": "me@example.com", "role": "owner"})
    assert_error(r, 405, "method_not_allowed")


def test_openapi_has_no_user_creating_route_besides_invitations(client):
    paths = client.get("/api/openapi.json").json()["paths"]
    anonymous_posts = {p for p, ops in paths.items() if "post" in ops}
    creating = {"users", "user", "signup", "sign-up", "register", "registration"}
    assert not any(set(p.strip("/").split("/")) & creating for p in anonymous_posts)
    assert "/api/invitations/accept" in anonymous_posts


def test_change_password_with_an_api_token_signs_out_every_session(app, db):
    owner = make_org(db)
    browser = login(app, owner)
    token = token_client(app, db, owner)
    r = token.post(
        "/api/me/password", json={"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    )
    assert r.status_code == 200, r.text
    assert_error(browser.get("/api/me"), 401, "not_authenticated")
    # the token that made the change is revoked with the others
    assert_error(token.get("/api/me"), 401, "not_authenticated")


def test_expired_session_is_401(app, db):
    owner = make_org(db)
    c = login(app, owner)
    with db.session() as s:
        s.execute(
            update(UserSession)
            .where(UserSession.user_id == owner.actor.user_id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert_error(c.get("/api/me"), 401, "not_authenticated")


def test_expired_invitation_is_404(app, db):
    owner = make_org(db)
    token = invite(login(app, owner), "late@example.com").json()["token"]
    with db.session() as s:
        s.execute(update(Invitation).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert_error(accept(app, token), 404, "not_found")
    assert raw_login(app, "late@example.com", NEW_PASSWORD).status_code == 401
