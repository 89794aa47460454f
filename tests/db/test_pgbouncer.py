"""The app through PgBouncer in transaction pooling mode (``LABELHOUSE_DB_PGBOUNCER=true``):
an import (advisory lock, temporary table, COPY), then annotators claiming and submitting
concurrently, so that their transactions land on different server connections.

Skipped without the ``pgbouncer`` program (``apt-get install pgbouncer``) or PostgreSQL.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import make_url

from labelhouse.accounts.models import Role
from labelhouse.config import Settings
from labelhouse.storage import LocalStorage
from labelhouse.web.app import create_app
from tests.conftest import database_url
from tests.factories import add_member, jsonl, login, make_org, make_project, run_in_threads

PGBOUNCER = shutil.which("pgbouncer") or (
    "/usr/sbin/pgbouncer" if os.path.exists("/usr/sbin/pgbouncer") else None
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def pg_url(pg_migrated: str | None, tmp_path: Path, sqlite_template: Path) -> str:
    if pg_migrated is None:
        pytest.skip("needs LABELHOUSE_TEST_PG_URL")
    if PGBOUNCER is None:
        pytest.skip("needs pgbouncer (apt-get install pgbouncer)")
    return database_url("postgresql", tmp_path, sqlite_template, pg_migrated)


@pytest.fixture
def bouncer_url(pg_url: str) -> Iterator[str]:
    """A PgBouncer in transaction mode on a free port in front of the test database."""
    url = make_url(pg_url)
    port = _free_port()
    folder = Path(tempfile.mkdtemp(prefix="labelhouse-pgbouncer-"))
    (folder / "users.txt").write_text(f'"{url.username}" ""\n')
    (folder / "pgbouncer.ini").write_text(
        f"""[databases]
* = host={url.host} port={url.port or 5432}
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {folder / "users.txt"}
pool_mode = transaction
default_pool_size = 4
max_client_conn = 100
"""
    )
    command = [PGBOUNCER, str(folder / "pgbouncer.ini")]
    if os.geteuid() == 0:  # PgBouncer refuses to run as root
        user = pwd.getpwnam("postgres")
        os.chown(folder, user.pw_uid, user.pw_gid)
        command[1:1] = ["-u", "postgres"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    stderr = process.stderr.read().decode() if process.stderr else ""
                    pytest.fail(f"pgbouncer did not start: {stderr}")
                time.sleep(0.05)
        yield url.set(host="127.0.0.1", port=port).render_as_string(hide_password=False)
    finally:
        process.terminate()
        process.wait(10)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def app(bouncer_url: str, tmp_path: Path) -> Iterator[Any]:
    settings = Settings(
        data_dir=tmp_path,
        database_url=bouncer_url,
        password_hash_profile="cheapest",
        db_pgbouncer=True,
        db_statement_timeout=10,
    )
    app = create_app(settings, storage=LocalStorage(settings.resolved_storage_dir))
    yield app
    app.state.db.dispose()


def test_import_next_and_submit_through_pgbouncer(app):
    db = app.state.db
    owner = make_org(db)
    pid = make_project(db, owner)
    annotators = [add_member(db, owner, Role.annotator) for _ in range(4)]
    manager = login(app, owner)
    rows = [{"text": f"item {i}"} for i in range(40)]
    r = manager.post(f"/api/projects/{pid}/import?format=jsonl", content=jsonl(rows))
    assert r.status_code == 200, r.text
    assert r.json()["created"] == 40

    def work(member: Any) -> None:
        client = login(app, member)
        for _ in range(8):  # past psycopg's default prepare threshold (5) per statement
            r = client.post(f"/api/projects/{pid}/next")
            assert r.status_code == 200, r.text
            task = r.json()["task"]
            r = client.post(
                f"/api/tasks/{task['id']}/annotations", json={"value": {"label": "pos"}}
            )
            assert r.status_code in (200, 201), r.text

    assert run_in_threads(work, annotators) == []
    with db.session() as s:  # each transaction had the timeouts set (SET LOCAL)
        assert s.connection().exec_driver_sql("SHOW statement_timeout").scalar_one() == "10s"
    r = manager.get(f"/api/projects/{pid}/tasks?limit=100")
    assert sum(t["annotations_done"] for t in r.json()["items"]) == 32
