"""Browser tests: one real app server (uvicorn, SQLite) and one headless Chromium per session.

Chromium is Debian's (/usr/bin/chromium) driven by Playwright; nothing is downloaded.
Screenshots go to artifacts/screenshots/ (not committed).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import create_engine

from labelhouse.accounts import service as accounts
from labelhouse.accounts.models import Role
from labelhouse.accounts.policy import Actor
from labelhouse.db import migrate
from labelhouse.db.engine import Database, open_database

CHROMIUM = os.environ.get("LABELHOUSE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
# Where screenshots go: artifacts/ by default; `LABELHOUSE_SCREENSHOTS=docs/images` makes the
# README's pictures (see docs/quickstart.md, "Screenshots").
ARTIFACTS = Path(
    os.environ.get("LABELHOUSE_SCREENSHOTS")
    or Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
).resolve()
PASSWORD = "browser-test-password"

if not Path(CHROMIUM).exists():  # pragma: no cover - CI installs it
    pytest.skip(f"Chromium not found at {CHROMIUM}", allow_module_level=True)

pytestmark = pytest.mark.browser


@dataclass
class LiveServer:
    base_url: str
    db: Database
    data_dir: Path
    owner: Actor
    owner_email: str
    annotator: Actor
    annotator_email: str
    reviewer: Actor
    reviewer_email: str
    password: str = PASSWORD


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data_dir = tmp_path_factory.mktemp("live")
    url = f"sqlite:///{data_dir / 'labelhouse.db'}"
    engine = create_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    accounts.passwords.use_profile("cheapest")
    db = open_database(url)
    with db.session() as s:
        owner_user, _ = accounts.bootstrap_owner(
            s, email="owner@browser.test", organization_name="Browser Lab", password=PASSWORD
        )
        owner_user.must_change_password = False
        owner = accounts.actor_for(s, user_id=owner_user.id)
        ann = accounts.create_user(
            s,
            email="annotator@browser.test",
            password=PASSWORD,
            organization_id=owner.organization_id,
            role=Role.annotator,
        )
        rev = accounts.create_user(
            s,
            email="reviewer@browser.test",
            password=PASSWORD,
            organization_id=owner.organization_id,
            role=Role.reviewer,
        )
        annotator = accounts.actor_for(s, user_id=ann.id)
        reviewer = accounts.actor_for(s, user_id=rev.id)
    port = _free_port()
    env = {
        **os.environ,
        "LABELHOUSE_DATA_DIR": str(data_dir),
        "LABELHOUSE_PASSWORD_HASH_PROFILE": "cheapest",
        # test_annotate_media_url.py's image server: a plain-http server on loopback,
        # which the administrator's allow-list must name for the app to fetch from it.
        "LABELHOUSE_FETCH_ALLOW": "127.0.0.1/32",
        "LABELHOUSE_FETCH_ALLOW_HTTP": "true",
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
            "--no-access-log",
        ],
        env=env,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 30
    while True:
        try:
            if httpx.get(base + "/api/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.time() > deadline or proc.poll() is not None:
            proc.kill()
            raise RuntimeError("app server did not start: " + proc.stderr.read().decode()[-3000:])
        time.sleep(0.1)
    try:
        yield LiveServer(
            base,
            db,
            data_dir,
            owner,
            "owner@browser.test",
            annotator,
            "annotator@browser.test",
            reviewer,
            "reviewer@browser.test",
        )
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        db.dispose()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict, live_server: LiveServer) -> dict:
    return {
        **browser_context_args,
        "base_url": live_server.base_url,
        "viewport": {"width": 1280, "height": 800},
    }


def login(page: Page, email: str, password: str = PASSWORD) -> None:
    page.goto("/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page).not_to_have_url("/login")
    page.wait_for_load_state("networkidle")


def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.fixture
def console_errors(page: Page) -> list[str]:
    """Collects JS errors and CSP violations; tests assert it stays empty."""
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.on(
        "console",
        lambda msg: errors.append(f"console: {msg.text}") if msg.type == "error" else None,
    )
    return errors
