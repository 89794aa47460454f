"""SQLite faults as clients see them: a full disk and a lock held too long are 503s with
Retry-After and a sentence (never a 500), the connection stays open for the next request,
and the health check reports the database and the storage."""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy import event

from labelhouse.accounts import service as accounts
from labelhouse.config import Settings
from labelhouse.storage import LocalStorage
from labelhouse.web.app import create_app
from tests.factories import add_tasks, jsonl, login, make_org, make_project, text_rows


@pytest.fixture
def sqlite_file(tmp_path: Path, sqlite_template: Path) -> Path:
    target = tmp_path / "labelhouse.db"
    shutil.copy(sqlite_template, target)
    return target


@pytest.fixture
def app(sqlite_file: Path, tmp_path: Path) -> Iterator[Any]:
    settings = Settings(
        data_dir=tmp_path,
        database_url=f"sqlite:///{sqlite_file}",
        password_hash_profile="cheapest",
        identity_cache_seconds=0,
        db_lock_timeout=0.3,
    )
    app = create_app(settings, storage=LocalStorage(settings.resolved_storage_dir))
    yield app
    app.state.db.dispose()


@pytest.fixture
def project(app: Any) -> tuple[Any, int]:
    owner = make_org(app.state.db)
    pid = make_project(app.state.db, owner)
    add_tasks(app.state.db, owner, pid, text_rows(2))
    return owner, pid


def fill_the_disk(app: Any) -> None:
    """The database may not grow by a single page from now on: SQLite's own 'database or
    disk is full' (SQLITE_FULL), as on a full disk."""
    engine = app.state.db.engine
    with engine.connect() as conn:
        pages = conn.exec_driver_sql("PRAGMA page_count").scalar_one()
    engine.dispose()

    @event.listens_for(engine, "connect")
    def _no_room(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute(f"PRAGMA max_page_count = {pages}")


def big_import(pid: int) -> tuple[str, bytes]:
    rows = [{"text": "x" * 2000, "n": i} for i in range(300)]
    return f"/api/projects/{pid}/import?format=jsonl", jsonl(rows)


def test_a_full_disk_answers_503_with_a_sentence(app, project):
    owner, pid = project
    client = login(app, owner)
    fill_the_disk(app)
    path, body = big_import(pid)
    r = client.post(path, content=body)
    assert r.status_code == 503, r.text
    assert r.headers["retry-after"] == "60"
    error = r.json()["error"]
    assert error["code"] == "database_unavailable"
    assert "disk is full" in error["message"] and "Try again later" in error["message"]
    assert "sqlite" not in r.text.lower() and str(app.state.settings.data_dir) not in r.text
    assert client.post(f"/api/projects/{pid}/next").status_code == 200  # no growth: works


def test_a_lock_held_too_long_answers_busy_not_500(app, project, sqlite_file):
    """A writer outside the app's write gate (another program) holds SQLite's lock: the
    request waits the bounded busy timeout (0.3 s here, was 30 s), then 'try again'."""
    owner, pid = project
    client = login(app, owner)
    other = sqlite3.connect(sqlite_file, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        r = client.post(f"/api/projects/{pid}/next")
        took = time.monotonic() - started
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert r.status_code == 503, r.text
    assert r.json()["error"]["code"] == "busy"
    assert "Try again" in r.json()["error"]["message"]
    assert r.headers["retry-after"] == "2"
    assert took < 3
    assert client.post(f"/api/projects/{pid}/next").status_code == 200


def test_health_reports_each_part(app, project):
    client = login(app, project[0])
    r = client.get("/api/health")
    assert r.status_code == 200
    assert {k: r.json()[k] for k in ("status", "database", "storage")} == {
        "status": "ok",
        "database": "ok",
        "storage": "ok",
    }
    shutil.rmtree(app.state.storage.root)  # the upload folder is gone
    r = client.get("/api/health")
    assert r.status_code == 503 and r.headers["retry-after"]
    assert r.json()["status"] == "unavailable"
    assert r.json()["storage"] == "unavailable" and r.json()["database"] == "ok"
    assert str(app.state.storage.root) not in r.text


@pytest.fixture
def served(app: Any) -> Iterator[tuple[str, int]]:
    """The app under a real uvicorn, on a free loopback port."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="critical", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    yield sock.getsockname()
    server.should_exit = True
    thread.join(10)


def test_a_database_fault_keeps_the_connection_open(app, project, served):
    """A 500 made uvicorn close the client's keep-alive connection; a 503 for a database
    fault is an ordinary answer, and the next request goes over the same connection."""
    owner, pid = project
    with app.state.db.session() as s:
        _, secret = accounts.create_api_token(s, owner.actor, name="keep-alive")
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/x-ndjson"}
    fill_the_disk(app)
    conn = http.client.HTTPConnection(*served, timeout=10)
    conn.request("GET", "/api/health")
    first = conn.getresponse()
    assert first.status == 200
    first.read()
    sock = conn.sock
    path, body = big_import(pid)
    conn.request("POST", path, body=body, headers=headers)
    r = conn.getresponse()
    assert r.status == 503
    assert json.loads(r.read())["error"]["code"] == "database_unavailable"
    assert not r.will_close
    conn.request("POST", f"/api/projects/{pid}/next", headers=headers)
    again = conn.getresponse()
    assert again.status == 200
    again.read()
    assert conn.sock is sock  # the same connection
    conn.close()
