"""Taking access away on one app server reaches the others within the identity cache's bound.

Two real app processes share one database (SQLite file or PostgreSQL). An API client of the
second keeps a cached identity; the first removes the person from the project. The second
must answer 404 within ``identity_cache_seconds`` (here 1.5 s) — and the leases end at once.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from labelhouse.accounts import service as accounts
from labelhouse.accounts.models import Role
from labelhouse.tasks import queue
from labelhouse.tasks.models import Task
from tests.factories import add_member, add_tasks, make_org, make_project, text_rows

TTL = 1.5


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(db_url: str, data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {
        **os.environ,
        "LABELHOUSE_DATA_DIR": str(data_dir),
        "LABELHOUSE_DATABASE_URL": db_url,
        "LABELHOUSE_PASSWORD_HASH_PROFILE": "cheapest",
        "LABELHOUSE_IDENTITY_CACHE_SECONDS": str(TTL),
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "labelhouse.web.asgi:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
        stderr=subprocess.PIPE,
    )
    return proc, f"http://127.0.0.1:{port}"


def _wait_ready(proc: subprocess.Popen[bytes], base: str) -> None:
    deadline = time.time() + 30
    while True:
        try:
            if httpx.get(base + "/api/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.time() > deadline or proc.poll() is not None:
            proc.kill()
            stderr = proc.stderr.read().decode() if proc.stderr else ""
            raise RuntimeError("app server did not start: " + stderr[-3000:])
        time.sleep(0.05)


@pytest.fixture
def two_servers(db, db_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    procs = [_start(db_url, tmp_path / f"app{i}") for i in range(2)]
    try:
        for proc, base in procs:
            _wait_ready(proc, base)
        yield procs[0][1], procs[1][1]
    finally:
        for proc, _ in procs:
            proc.terminate()
        for proc, _ in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def test_removal_on_one_server_reaches_the_other_within_the_cache_bound(db, two_servers):
    first, second = two_servers
    owner = make_org(db)
    annotator = add_member(db, owner, Role.annotator)
    pid = make_project(db, owner)
    add_tasks(db, owner, pid, text_rows(3))
    with db.session() as s:
        _, admin_token = accounts.create_api_token(s, owner.actor, name="admin")
        _, token = accounts.create_api_token(s, annotator.actor, name="worker")
    worker = httpx.Client(base_url=second, headers={"Authorization": f"Bearer {token}"})
    admin = httpx.Client(base_url=first, headers={"Authorization": f"Bearer {admin_token}"})
    leased = worker.post(f"/api/projects/{pid}/next")
    assert leased.status_code == 200, leased.text
    task_id = leased.json()["task"]["id"]
    assert worker.get(f"/api/projects/{pid}").status_code == 200  # identity cached there

    removed = admin.delete(f"/api/projects/{pid}/members/{annotator.user_id}")
    started = time.monotonic()
    assert removed.status_code == 200, removed.text
    assert removed.json() == {"leases_ended": 1}
    with db.session() as s:
        assert s.get(Task, task_id).taken == 0  # the task is back in the queue at once
    while worker.get(f"/api/projects/{pid}").status_code == 200:
        assert time.monotonic() - started < TTL + 1.0, "still served past the cache bound"
        time.sleep(0.05)
    assert worker.get(f"/api/projects/{pid}").json()["error"]["code"] == "not_found"
    # and the removed person cannot take a task any more, on either server
    for base in (first, second):
        r = httpx.post(
            f"{base}/api/projects/{pid}/next", headers={"Authorization": f"Bearer {token}"}
        )
        assert r.status_code == 404
    with db.session() as s:
        assert queue.end_leases(s, project_id=pid, user_ids=[annotator.user_id]) == 0
    worker.close()
    admin.close()
