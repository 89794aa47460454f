"""PostgreSQL away: through a TCP proxy that cuts or stalls every connection, clients get a
503 with Retry-After and ``database_unavailable`` (not a 500), within the timeouts (not
after 30 s), the health check says which part is down, and the pool recovers."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import make_url

from labelhouse.config import Settings
from labelhouse.storage import LocalStorage
from labelhouse.web.app import create_app
from tests.conftest import database_url
from tests.factories import add_tasks, login, make_org, make_project, text_rows
from tests.tcp_proxy import TcpProxy

STATEMENT_TIMEOUT = 1.0


@pytest.fixture
def pg_url(pg_migrated: str | None, tmp_path: Path, sqlite_template: Path) -> str:
    if pg_migrated is None:
        pytest.skip("needs LABELHOUSE_TEST_PG_URL")
    return database_url("postgresql", tmp_path, sqlite_template, pg_migrated)


@pytest.fixture
def proxy(pg_url: str) -> Iterator[TcpProxy]:
    url = make_url(pg_url)
    with TcpProxy(url.host or "127.0.0.1", url.port or 5432) as p:
        yield p


@pytest.fixture
def app(pg_url: str, proxy: TcpProxy, tmp_path: Path) -> Iterator[Any]:
    """The app as `serve` builds it (it opens the database itself, from the settings),
    talking to PostgreSQL through the proxy, with short timeouts."""
    through = make_url(pg_url).set(host="127.0.0.1", port=proxy.port)
    settings = Settings(
        data_dir=tmp_path,
        database_url=through.render_as_string(hide_password=False),
        password_hash_profile="cheapest",
        identity_cache_seconds=0,
        db_statement_timeout=STATEMENT_TIMEOUT,
        db_connect_timeout=2,
        db_lock_timeout=0.5,
    )
    app = create_app(settings, storage=LocalStorage(settings.resolved_storage_dir))
    yield app
    proxy.resume()
    app.state.db.dispose()


@pytest.fixture
def annotator_client(app: Any) -> tuple[Any, int]:
    owner = make_org(app.state.db)
    pid = make_project(app.state.db, owner)
    add_tasks(app.state.db, owner, pid, text_rows(3))
    return login(app, owner), pid


def _timed(call: Any, limit: float) -> tuple[Any, float]:
    """``call()`` on a thread, so that a hang fails the test instead of stopping the run."""
    out: list[Any] = []

    def run() -> None:
        try:
            out.append(call())
        except Exception as exc:  # the app let it through: the test client re-raises it
            out.append(exc)

    started = time.monotonic()
    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(limit)
    assert out, f"no answer within {limit} s"
    assert not isinstance(out[0], Exception), f"an unhandled error (a 500): {out[0]!r}"
    return out[0], time.monotonic() - started


def _assert_unavailable(r: Any) -> None:
    assert r.status_code == 503, r.text
    assert int(r.headers["retry-after"]) > 0
    error = r.json()["error"]
    assert error["code"] == "database_unavailable"
    assert "Try again" in error["message"]
    for leak in ("127.0.0.1", "postgres", "psycopg", "Traceback", "port"):
        assert leak not in r.text


def test_cut_connections_answer_503_and_the_pool_recovers(app, proxy, annotator_client):
    client, pid = annotator_client
    assert client.post(f"/api/projects/{pid}/next").status_code == 200
    proxy.cut()
    r, _ = _timed(lambda: client.post(f"/api/projects/{pid}/next"), 10)
    _assert_unavailable(r)
    health, _ = _timed(lambda: client.get("/api/health"), 10)
    assert health.status_code == 503
    assert health.json()["status"] == "unavailable"
    assert health.json()["database"] == "unavailable"
    assert health.json()["storage"] == "ok"
    assert "retry-after" in health.headers
    page, _ = _timed(lambda: client.get(f"/projects/{pid}"), 10)  # a page: the same, as HTML
    assert page.status_code == 503 and page.headers["content-type"].startswith("text/html")
    assert "Try again" in page.text and "Traceback" not in page.text

    proxy.resume()
    r = client.post(f"/api/projects/{pid}/next")
    assert r.status_code == 200 and r.json()["task"] is not None
    assert client.get("/api/health").json()["database"] == "ok"


def test_a_stalled_database_answers_503_within_the_statement_timeout(app, proxy, annotator_client):
    client, pid = annotator_client
    assert client.post(f"/api/projects/{pid}/next").status_code == 200
    proxy.stall()
    r, took = _timed(lambda: client.post(f"/api/projects/{pid}/next"), 15)
    _assert_unavailable(r)
    # the client-side deadline: a little over the statement timeout (1.1 × 1 s + 1 s), or
    # the connect timeout (2 s) for a fresh connection — not the length of the stall
    assert took < 5, took
    health, took = _timed(lambda: client.get("/api/health"), 15)
    assert health.status_code == 503 and health.json()["database"] == "unavailable"
    assert took < 5, took
    proxy.resume()
    r = client.post(f"/api/projects/{pid}/next")
    assert r.status_code == 200, r.text


def test_a_claim_behind_locked_rows_says_busy_not_nothing_left(app, pg_url, annotator_client):
    """Every open task is locked for a moment by another transaction: the claim's
    skip-locked pass finds nothing, its waiting pass runs into the lock timeout (0.5 s),
    and the annotator is told to try again, not that the queue is empty."""
    client, pid = annotator_client
    holder = psycopg.connect(make_url(pg_url).set(drivername="postgresql").render_as_string(False))
    release = threading.Timer(8, holder.rollback)
    try:
        holder.execute("SELECT id FROM task WHERE project_id = %s FOR UPDATE", (pid,))
        release.start()
        r, took = _timed(lambda: client.post(f"/api/projects/{pid}/next"), 15)
        assert r.status_code == 503, r.text
        assert r.json()["error"]["code"] == "busy" and r.headers["retry-after"] == "2"
        assert took < 3, took
    finally:
        release.cancel()
        holder.close()
    r = client.post(f"/api/projects/{pid}/next")
    assert r.status_code == 200 and r.json()["task"] is not None
