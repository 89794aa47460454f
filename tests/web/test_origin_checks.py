"""Cross-site writes are refused (login CSRF, and defence in depth beside the CSRF token).

A browser says where a request came from (``Sec-Fetch-Site``, ``Origin``); an unsafe request
that another site made it send is refused with 403 before anything runs, on the sign-in
forms too (which have no session, so no CSRF token, yet). Clients that send neither header
(curl, scripts) and bearer-token calls are not affected.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from labelhouse.accounts.models import ApiToken, UserSession
from labelhouse.config import Settings
from labelhouse.storage import LocalStorage
from labelhouse.web.app import create_app
from labelhouse.web.middleware import cross_site_reason, normalise_origin
from tests.factories import PASSWORD, login, make_org, token_client

OWN = "http://testserver"  # what TestClient sends as Host
EVIL = "https://evil.example"
CROSS_SITE = {"Origin": EVIL, "Sec-Fetch-Site": "cross-site"}
SAME_ORIGIN = {"Origin": OWN, "Sec-Fetch-Site": "same-origin"}


def sessions(db) -> int:
    with db.read_session() as s:
        return s.scalar(select(func.count()).select_from(UserSession)) or 0


def form(owner) -> dict[str, str]:
    return {"email": owner.email, "password": PASSWORD}


# -- the login CSRF of the report ------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        CROSS_SITE,
        {"Origin": EVIL},  # an older browser: Origin only
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site", "Origin": "https://other.testserver"},  # a sibling host
        {"Origin": "null"},  # a sandboxed frame or a data: page
    ],
)
def test_cross_site_login_form_does_not_sign_anyone_in(client, db, headers):
    owner = make_org(db)
    r = client.post("/login", data=form(owner), headers=headers, follow_redirects=False)
    assert r.status_code == 403
    assert r.headers["content-type"].startswith("text/html")
    assert "did not come from Labelhouse" in r.text
    assert "set-cookie" not in r.headers
    assert sessions(db) == 0
    assert "<script" not in r.text.lower()


def test_the_refusal_page_escapes_the_origin(client, db):
    owner = make_org(db)
    r = client.post(
        "/login", data=form(owner), headers={"Origin": "https://x<b>y"}, follow_redirects=False
    )
    assert r.status_code == 403
    assert "<b>" not in r.text


def test_cross_site_api_login_is_refused_with_a_clear_json_error(client, db):
    owner = make_org(db)
    r = client.post("/api/auth/login", json=form(owner), headers=CROSS_SITE)
    assert r.status_code == 403
    err = r.json()["error"]
    assert err["code"] == "cross_site_request"
    assert "https://evil.example" in err["message"] or "cross-site" in err["message"]
    assert "LABELHOUSE_PUBLIC_URL" in err["message"]
    assert "set-cookie" not in r.headers
    assert sessions(db) == 0


@pytest.mark.parametrize(
    "headers",
    [
        {},  # curl, scripts
        SAME_ORIGIN,
        {"Origin": OWN},
        {"Origin": "http://TESTSERVER:80"},  # default port, other case: the same origin
        {"Sec-Fetch-Site": "none"},  # typed or bookmarked by the person
    ],
)
def test_own_pages_and_plain_clients_still_sign_in(client, db, headers):
    owner = make_org(db)
    r = client.post("/login", data=form(owner), headers=headers, follow_redirects=False)
    assert r.status_code == 303, r.text
    assert "lh_session" in r.headers["set-cookie"]
    api = TestClient(client.app)
    assert api.post("/api/auth/login", json=form(owner), headers=headers).status_code == 200


def test_the_browsers_own_word_wins_over_an_origin_a_proxy_changed(client, db):
    """Behind a TLS proxy that does not say so, the app sees http:// while the browser sends
    Origin https://…; Sec-Fetch-Site (set by the browser, unforgeable by pages) decides."""
    owner = make_org(db)
    headers = {"Origin": "https://testserver", "Sec-Fetch-Site": "same-origin"}
    r = client.post("/login", data=form(owner), headers=headers, follow_redirects=False)
    assert r.status_code == 303


# -- cookie-authenticated writes ---------------------------------------------------------------


def test_cookie_write_with_the_right_csrf_token_is_still_refused_cross_site(app, db):
    owner = make_org(db)
    c = login(app, owner)  # sends its CSRF header
    for headers in (CROSS_SITE, {"Origin": EVIL}):
        r = c.post("/api/me/tokens", json={"name": "planted"}, headers=headers)
        assert r.status_code == 403, r.text
        assert r.json()["error"]["code"] == "cross_site_request"
    with db.read_session() as s:
        assert s.scalar(select(func.count()).select_from(ApiToken)) == 0
    ok = c.post("/api/me/tokens", json={"name": "mine"}, headers=SAME_ORIGIN)
    assert ok.status_code == 201
    # without the CSRF token a same-origin write is still refused: the token stays required
    del c.headers["X-CSRF-Token"]
    assert c.post("/api/me/tokens", json={"name": "x"}, headers=SAME_ORIGIN).status_code == 403


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_every_unsafe_method_is_checked(app, db, method):
    owner = make_org(db)
    c = login(app, owner)
    r = c.request(method, "/api/me/tokens/1", headers=CROSS_SITE)
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "cross_site_request"


def test_reads_are_not_affected(app, db):
    owner = make_org(db)
    c = login(app, owner)
    assert c.get("/api/me", headers=CROSS_SITE).status_code == 200


def test_cross_site_logout_keeps_the_session(app, db):
    owner = make_org(db)
    c = login(app, owner)
    csrf = c.headers["X-CSRF-Token"]
    r = c.post("/logout", data={"csrf_token": csrf}, headers=CROSS_SITE, follow_redirects=False)
    assert r.status_code == 403
    assert c.post("/api/auth/logout", headers=CROSS_SITE).status_code == 403
    assert c.get("/api/me").status_code == 200
    r = c.post("/logout", data={"csrf_token": csrf}, headers=SAME_ORIGIN, follow_redirects=False)
    assert r.status_code == 303
    assert c.get("/api/me").status_code == 401


def test_cross_site_invitation_acceptance_is_refused(client):
    r = client.post(
        "/api/invitations/accept",
        json={"token": "x" * 20, "password": "p" * 12},
        headers=CROSS_SITE,
    )
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "cross_site_request"


def test_bearer_token_calls_are_not_subject_to_it(app, db):
    owner = make_org(db)
    c = token_client(app, db, owner)
    r = c.post("/api/me/tokens", json={"name": "from a browser tool"}, headers=CROSS_SITE)
    assert r.status_code == 201, r.text


def test_a_configured_public_url_is_accepted_as_our_origin(settings, db):
    proxied = settings.model_copy(update={"public_url": "https://labels.example.org/"})
    app = create_app(proxied, database=db, storage=LocalStorage(proxied.resolved_storage_dir))
    owner = make_org(db)
    c = TestClient(app)
    r = c.post(
        "/login",
        data=form(owner),
        headers={"Origin": "https://labels.example.org"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    r = c.post("/login", data=form(owner), headers={"Origin": EVIL}, follow_redirects=False)
    assert r.status_code == 403
    assert "https://labels.example.org" in r.text


# -- the rule itself ---------------------------------------------------------------------------


def _scope(method: str = "POST", path: str = "/api/auth/login", **headers: str) -> dict:
    return {
        "type": "http",
        "method": method,
        "scheme": "http",
        "path": path,
        "headers": [(k.replace("_", "-").lower().encode(), v.encode()) for k, v in headers.items()]
        + [(b"host", b"labels.local:8000")],
    }


def test_rule_table():
    own = "http://labels.local:8000"
    assert cross_site_reason(_scope()) is None
    assert cross_site_reason(_scope("GET", origin=EVIL)) is None
    assert cross_site_reason(_scope(origin=own)) is None
    assert cross_site_reason(_scope(origin=EVIL)) is not None
    assert cross_site_reason(_scope(origin="http://labels.local")) is not None  # another port
    assert cross_site_reason(_scope(origin="https://labels.local:8000")) is not None  # scheme
    assert cross_site_reason(_scope(sec_fetch_site="cross-site", origin=own)) is not None
    assert cross_site_reason(_scope(sec_fetch_site="same-origin", origin=EVIL)) is None
    assert cross_site_reason(_scope(authorization="Bearer lh_x", origin=EVIL)) is None
    # pages never read bearer tokens, so one does not exempt a page's form
    assert cross_site_reason(_scope(path="/logout", authorization="Bearer x", origin=EVIL))
    assert cross_site_reason(_scope(authorization="Basic eDp5", origin=EVIL)) is not None
    trusted = frozenset({"https://labels.example.org"})
    assert cross_site_reason(_scope(origin="https://labels.example.org"), trusted) is None


def test_origins_are_normalised():
    assert normalise_origin("HTTPS://Labels.Example.org:443") == "https://labels.example.org"
    assert normalise_origin("http://[::1]:8000") == "http://[::1]:8000"
    assert normalise_origin("http://h:80/") == "http://h"
    for bad in ("null", "", "file:///x", "http://h:99999", "javascript:alert(1)"):
        assert normalise_origin(bad) is None


def test_a_public_url_that_is_not_an_origin_is_refused_at_start(settings):
    with pytest.raises(ValueError, match="LABELHOUSE_PUBLIC_URL must look like https://"):
        Settings(public_url="labels.example.org")
