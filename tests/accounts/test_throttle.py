from fastapi.testclient import TestClient

from labelhouse.accounts.throttle import LoginThrottle
from tests.factories import make_org


def test_throttle_blocks_after_max_failures_and_recovers_after_window():
    t = LoginThrottle(max_failures=3, window=60)
    for i in range(3):
        assert t.retry_after("email:a", now=100 + i) == 0
        t.failed("email:a", "ip:1", now=100 + i)
    assert t.retry_after("email:a", now=103) == 57
    assert t.retry_after("ip:1", now=103) > 0
    assert t.retry_after("email:b", now=103) == 0
    assert t.retry_after("email:a", now=161) == 0  # oldest failure left the window


def test_login_api_answers_429_after_repeated_failures(app, db):
    owner = make_org(db)
    c = TestClient(app)
    for _ in range(app.state.login_throttle.max_failures):
        r = c.post("/api/auth/login", json={"email": owner.email, "password": "wrong-password"})
        assert r.status_code == 401
    r = c.post("/api/auth/login", json={"email": owner.email, "password": owner.password})
    assert r.status_code == 429
    assert r.json()["error"]["code"] == "rate_limited"
    assert "retry-after" in {k.lower() for k in r.headers}
