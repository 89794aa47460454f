"""Login throttling is shared through the database: every app process sees the same
failures, only key digests are stored, and the table stays small."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from labelhouse.accounts.models import LoginFailure
from labelhouse.accounts.throttle import (
    ACCOUNT_BRAKE,
    IP_MAX_FAILURES,
    LoginThrottle,
    key_digest,
)
from labelhouse.db.engine import Database, open_database
from labelhouse.storage import LocalStorage
from labelhouse.web.app import create_app
from tests.factories import make_org

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CLIENT_KEY = "ip:testclient"  # Starlette's TestClient address


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def retry_after(db: Database, throttle: LoginThrottle, *keys: str, now: datetime) -> float:
    with db.read_session() as s:
        return throttle.retry_after(s, *keys, now=now)


def fail(db: Database, throttle: LoginThrottle, *keys: str, now: datetime) -> None:
    with db.session() as s:
        throttle.failed(s, *keys, now=now)


def rows(db: Database) -> list[tuple[str, datetime]]:
    with db.read_session() as s:
        return [tuple(r) for r in s.execute(select(LoginFailure.key_hash, LoginFailure.failed_at))]


@pytest.fixture
def other_app(settings, db_url) -> Iterator:
    """A second app with its own engines and pools: another worker or host on the same DB."""
    database = open_database(db_url)
    yield create_app(
        settings, database=database, storage=LocalStorage(settings.resolved_storage_dir)
    )
    database.dispose()


def login(client: TestClient, email: str, password: str):
    return client.post("/api/auth/login", json={"email": email, "password": password})


def test_blocks_after_max_failures_and_recovers_after_window(db):
    t = LoginThrottle(max_failures=3, window=60)
    for i in range(3):
        assert retry_after(db, t, "email:a", now=at(i)) == 0
        fail(db, t, "email:a", "ip:1", now=at(i))
    assert retry_after(db, t, "email:a", now=at(3)) == 57
    assert retry_after(db, t, "ip:1", now=at(3)) == 57
    assert retry_after(db, t, "email:a", "ip:1", now=at(3)) == 57
    assert retry_after(db, t, "email:b", now=at(3)) == 0
    assert retry_after(db, t, "email:a", now=at(60.5)) == 0  # oldest failure left the window


def test_wait_runs_until_enough_failures_have_left_the_window(db):
    """Concurrent attempts can record more than the limit; the key stays blocked until the
    max_failures-th newest failure expires, not merely the oldest."""
    t = LoginThrottle(max_failures=2, window=60)
    for i in range(4):
        fail(db, t, "email:a", now=at(i))
    assert retry_after(db, t, "email:a", now=at(10)) == 52  # failure at 2 s, + 60 − 10


def test_success_clears_only_the_email_key(db):
    t = LoginThrottle(max_failures=3, window=60)
    for i in range(3):
        fail(db, t, "email:a", "ip:1", now=at(i))
    with db.session() as s:
        t.succeeded(s, "email:a")
    assert retry_after(db, t, "email:a", now=at(3)) == 0
    assert retry_after(db, t, "ip:1", now=at(3)) > 0


def test_only_digests_are_stored(db):
    t = LoginThrottle()
    fail(db, t, "email:alice@example.com", "ip:203.0.113.9", now=at(0))
    stored = {key for key, _ in rows(db)}
    assert stored == {key_digest("email:alice@example.com"), key_digest("ip:203.0.113.9")}
    assert all(len(key) == 64 for key in stored)
    with db.read_session() as s:
        dump = repr(s.execute(text("SELECT * FROM login_failure")).all())
    assert "alice" not in dump and "203.0.113" not in dump


def test_expired_rows_are_purged_so_a_spray_of_emails_cannot_grow_the_table(db):
    t = LoginThrottle(max_failures=3, window=60)
    for i in range(50):  # random e-mails from many addresses
        fail(db, t, f"email:{i}@spray.example", f"ip:10.0.0.{i}", now=at(i / 10))
    assert len(rows(db)) == 100
    fail(db, t, "email:a", now=at(30))  # within a window of the last purge: own key only
    assert len(rows(db)) == 101
    fail(db, t, "email:a", now=at(65))  # a window later: every expired row goes
    assert sorted(when for _, when in rows(db)) == [at(30), at(65)]
    fail(db, t, "email:a", now=at(91))  # the key's own expired row goes on insert
    assert sorted(when for _, when in rows(db)) == [at(65), at(91)]


def test_failures_on_one_app_throttle_the_other(app, other_app, db):
    owner = make_org(db)
    a, b = TestClient(app), TestClient(other_app)
    limit = app.state.login_throttle.max_failures
    assert other_app.state.login_throttle.max_failures == limit
    for i in range(limit):
        r = login(a if i % 2 else b, owner.email, "wrong-password")
        assert r.status_code == 401, r.text
    # Each failure was committed although its login raised.
    with db.read_session() as s:  # three keys each: (account, address), address, account
        assert s.scalar(select(func.count()).select_from(LoginFailure)) == 3 * limit
    for client in (a, b):
        r = login(client, owner.email, owner.password)
        assert r.status_code == 429
        assert r.json()["error"]["code"] == "rate_limited"
        wait = int(r.headers["retry-after"])
        assert 0 < wait <= 301
        assert r.json()["error"]["message"] == (
            f"Too many failed logins; try again in {wait} seconds."
        )
    # The HTML login form is refused too, with the same message.
    r = b.post("/login", data={"email": owner.email.upper(), "password": owner.password})
    assert r.status_code == 429
    assert "Too many failed logins; try again in" in r.text


def test_success_on_one_app_clears_the_pair_for_the_other(app, other_app, db):
    owner = make_org(db)
    a, b = TestClient(app), TestClient(other_app)
    limit = app.state.login_throttle.max_failures
    for _ in range(limit - 1):
        assert login(a, owner.email, "wrong-password").status_code == 401
    assert login(b, owner.email, owner.password).status_code == 200
    with db.read_session() as s:
        left = set(s.scalars(select(LoginFailure.key_hash)))
    # the address and the account keep their failures; the (account, address) pair is cleared
    assert left == {key_digest(CLIENT_KEY), key_digest(f"email:{owner.email}")}
    for _ in range(limit - 1):  # the pair counts from 0 again
        assert login(a, owner.email, "wrong-password").status_code == 401
    assert login(b, owner.email, owner.password).status_code == 200


def at_address(app, address: str) -> TestClient:
    return TestClient(app, client=(address, 50000))


def test_an_attacker_elsewhere_cannot_lock_the_real_user_out(app, db):
    """Issue 11, item 6: ten wrong passwords from one address made the real user's correct
    password answer 429 for five minutes, wherever they were."""
    owner = make_org(db)
    attacker = at_address(app, "203.0.113.7")
    for _ in range(app.state.login_throttle.max_failures + 5):
        login(attacker, owner.email, "wrong-password")
    assert login(attacker, owner.email, owner.password).status_code == 429  # that pair is full
    assert login(at_address(app, "198.51.100.20"), owner.email, owner.password).status_code == 200


def test_distributed_guessing_gets_one_guess_per_address_under_the_account_brake(app, db):
    owner = make_org(db)
    for i in range(ACCOUNT_BRAKE):
        assert login(at_address(app, f"10.0.1.{i}"), owner.email, "wrong").status_code == 401
    # the brake is on: an address that already failed for this account must wait ...
    r = login(at_address(app, "10.0.1.3"), owner.email, owner.password)
    assert r.status_code == 429
    # ... a new address gets its one guess, then waits too ...
    fresh = at_address(app, "10.0.2.1")
    assert login(fresh, owner.email, "wrong").status_code == 401
    assert login(fresh, owner.email, "wrong").status_code == 429
    # ... and the real user, from an address without failures, still signs in
    assert login(at_address(app, "192.0.2.44"), owner.email, owner.password).status_code == 200


def test_one_address_spraying_many_accounts_is_stopped(app, db):
    owner = make_org(db)
    sprayer = at_address(app, "203.0.113.99")
    for i in range(IP_MAX_FAILURES):
        assert login(sprayer, f"user{i}@example.com", "guess").status_code == 401
    assert login(sprayer, owner.email, owner.password).status_code == 429
    assert login(at_address(app, "192.0.2.45"), owner.email, owner.password).status_code == 200


def test_window_expiry_is_seen_by_every_app(app, other_app, db):
    owner = make_org(db)
    a, b = TestClient(app), TestClient(other_app)
    now = [T0]
    for each in (app, other_app):
        each.state.login_throttle.clock = lambda: now[0]
    window = app.state.login_throttle.window
    for _ in range(app.state.login_throttle.max_failures):
        assert login(a, owner.email, "wrong-password").status_code == 401
    now[0] = at(window - 1)
    r = login(b, owner.email, owner.password)
    assert r.status_code == 429
    assert r.headers["retry-after"] == "2"  # 1 s left, rounded up as before
    now[0] = at(window)
    assert login(b, owner.email, owner.password).status_code == 200


def test_concurrent_purges_never_wait_for_each_other(db, backend):
    """Two processes purging the same expired rows at once: the second skips the rows the
    first has locked instead of waiting (or deadlocking) behind it."""
    if backend != "postgresql":
        pytest.skip("SQLite serializes writers")
    fail(db, LoginThrottle(window=60), "email:a", "ip:1", now=at(0))
    first, second = LoginThrottle(window=60), LoginThrottle(window=60)
    with db.session() as s1:
        first.failed(s1, "email:a", "ip:1", now=at(100))  # locks both expired rows
        with db.session() as s2:
            s2.execute(text("SET LOCAL lock_timeout = '2s'"))
            second.failed(s2, "email:b", "ip:1", now=at(100))
    assert sorted(key for key, _ in rows(db)) == sorted(
        key_digest(k) for k in ("email:a", "ip:1", "email:b", "ip:1")
    )
