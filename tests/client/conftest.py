"""One real Labelhouse server per test session and database: ``labelhouse serve`` in a
process of its own on a free port, with a fresh data folder, driven only over HTTP by
:mod:`labelhouse.client`.

Its accounts are made the way an operator makes them: the owner by the first start (its
one-time password read from ``serve``'s standard output), the others with
``labelhouse users create``; each then signs in through the client and chooses a password.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, make_url, text
from typer.testing import CliRunner

from labelhouse.cli.main import app as cli_app
from labelhouse.client import Client
from tests.conftest import BACKENDS, PG_URL

CLI = "import sys; from labelhouse.cli.main import app; sys.exit(app())"  # the console script
PASSWORD = "client-test-password"
OWNER = "owner@client.test"
PEOPLE = {
    "ann1@client.test": "annotator",
    "ann2@client.test": "annotator",
    "rev@client.test": "reviewer",
}


@dataclass
class LiveServer:
    url: str
    backend: str
    data_dir: Path
    owner_token: str
    passwords: dict[str, str] = field(default_factory=dict)  # e-mail → current password

    def client(self, **options) -> Client:
        return Client(self.url, token=self.owner_token, **options)


def _free_port() -> int:
    """Below Linux's ephemeral range, so no outgoing connection takes it meanwhile."""
    for _ in range(100):
        port = random.randrange(20000, 32000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError("no free port between 20000 and 32000")


def _pg_database() -> Iterator[str]:
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    name = f"labelhouse_client_{os.getpid()}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _wait_healthy(proc: subprocess.Popen, url: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"serve exited {proc.returncode}: {log.read_text()[-3000:]}")
        with suppress(httpx.HTTPError):
            if httpx.get(url + "/api/health", timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise AssertionError(f"serve did not answer at {url}: {log.read_text()[-3000:]}")


def _create_user(env: dict[str, str], email: str, role: str) -> str:
    """``labelhouse users create``: the one-time password it prints alone on stdout."""
    result = CliRunner().invoke(cli_app, ["users", "create", email, "--role", role], env=env)
    assert result.exit_code == 0, result.output
    return result.stdout.strip().splitlines()[-1]


def _choose_password(url: str, email: str, one_time: str) -> None:
    with Client.login(url, email, one_time) as c:
        assert c.must_change_password
        c.change_password(one_time, PASSWORD)


@pytest.fixture(scope="session", params=BACKENDS)
def live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, sqlite_template):
    backend = request.param
    data_dir = tmp_path_factory.mktemp(f"client-{backend}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABELHOUSE_")}
    env |= {
        "LABELHOUSE_DATA_DIR": str(data_dir),
        "LABELHOUSE_PASSWORD_HASH_PROFILE": "cheapest",
        "LABELHOUSE_OWNER_EMAIL": OWNER,
        # A lock held by another program makes a write a 503 after 1 s (not 5 s), so the
        # retry test is quick; the client's retries absorb a rare slow lock elsewhere.
        "LABELHOUSE_DB_LOCK_TIMEOUT": "1",
    }
    pg = None
    if backend == "postgresql":
        pg = _pg_database()
        env["LABELHOUSE_DATABASE_URL"] = next(pg)
    else:  # already migrated: serve's upgrade then has nothing to do
        shutil.copy(sqlite_template, data_dir / "labelhouse.db")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = data_dir / "serve.log"
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-c", CLI, "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=err,
            start_new_session=True,
        )
    try:
        one_time = proc.stdout.readline().decode().strip()  # printed before it serves
        _wait_healthy(proc, url, log)
        _choose_password(url, OWNER, one_time)
        with Client.login(url, OWNER, PASSWORD) as owner:
            token = owner.create_token("client tests").token
        assert token
        server = LiveServer(url, backend, data_dir, token, {OWNER: PASSWORD})
        cli_env = {k: env[k] for k in env if k.startswith("LABELHOUSE_")}
        for email, role in PEOPLE.items():
            _choose_password(url, email, _create_user(cli_env, email, role))
            server.passwords[email] = PASSWORD
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        if pg is not None:
            pg.close()  # drops the database


@pytest.fixture
def lh(live: LiveServer) -> Iterator[Client]:
    """The owner's client, with an API token."""
    with live.client() as c:
        yield c


def login(live: LiveServer, email: str) -> Client:
    return Client.login(live.url, email, live.passwords[email])
