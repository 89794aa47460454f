import time

from fastapi.testclient import TestClient

from labelhouse.accounts.identity_cache import IdentityCache
from tests.factories import make_org, token_client


def test_entries_expire_and_clear():
    cache = IdentityCache(ttl=0.05)
    cache.put("k", "v")
    assert cache.get("k") == "v"
    time.sleep(0.06)
    assert cache.get("k") is None
    cache.put("k", "v")
    cache.clear()
    assert cache.get("k") is None
    disabled = IdentityCache(ttl=0)
    disabled.put("k", "v")
    assert disabled.get("k") is None


def test_revoked_token_stops_working_at_once_in_the_same_process(app, db):
    owner = make_org(db)
    c = token_client(app, db, owner)
    assert c.get("/api/me").status_code == 200  # now cached
    token_id = c.get("/api/me/tokens").json()["items"][0]["id"]
    assert c.delete(f"/api/me/tokens/{token_id}").status_code == 204
    assert c.get("/api/me").status_code == 401


def test_a_revocation_elsewhere_is_honoured_after_the_ttl(app, db):
    """Another app server revoked the token (simulated by a direct DB change)."""
    from sqlalchemy import update

    from labelhouse.accounts.models import ApiToken
    from labelhouse.db.base import utcnow

    app.state.identity_cache.ttl = 0.05
    owner = make_org(db)
    c = token_client(app, db, owner)
    assert c.get("/api/me").status_code == 200
    with db.session() as s:
        s.execute(update(ApiToken).values(revoked_at=utcnow()))
    time.sleep(0.06)
    assert c.get("/api/me").status_code == 401
    assert TestClient(app).get("/api/me").status_code == 401
