"""Test fixtures: real databases (SQLite always, PostgreSQL when LABELHOUSE_TEST_PG_URL is
set), the real app over Starlette's TestClient, and small factories."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, make_url, text

from labelhouse.accounts import passwords
from labelhouse.accounts.models import Role
from labelhouse.config import Settings
from labelhouse.db import migrate
from labelhouse.db.engine import Database, open_database
from labelhouse.storage import LocalStorage
from labelhouse.tables import Base
from labelhouse.web.app import create_app
from tests.factories import add_member, make_org

PG_URL = os.environ.get("LABELHOUSE_TEST_PG_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])

passwords.use_profile("cheapest")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file, copied for every test (faster than migrating each time)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = create_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def pg_migrated() -> Iterator[str | None]:
    """A private PostgreSQL database per test session (parallel runs never collide)."""
    if not PG_URL:
        yield None
        return
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    name = f"labelhouse_test_{os.getpid()}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    engine = create_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate_pg(url: str) -> None:
    engine = create_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


def database_url(backend: str, tmp_path: Path, sqlite_template: Path, pg_url: str | None) -> str:
    if backend == "sqlite":
        target = tmp_path / "labelhouse.db"
        shutil.copy(sqlite_template, target)
        return f"sqlite:///{target}"
    assert pg_url
    _truncate_pg(pg_url)
    return pg_url


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def db_url(backend: str, tmp_path: Path, sqlite_template: Path, pg_migrated: str | None) -> str:
    return database_url(backend, tmp_path, sqlite_template, pg_migrated)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = open_database(db_url)
    yield database
    database.dispose()


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return Settings(
        data_dir=tmp_path,
        database_url=db_url,
        password_hash_profile="cheapest",
        max_request_bytes=256 * 1024,
        max_upload_bytes=20 * 1024 * 1024,
    )


@pytest.fixture
def app(settings: Settings, db: Database):
    return create_app(settings, database=db, storage=LocalStorage(settings.resolved_storage_dir))


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


@pytest.fixture
def owner(db: Database):
    """A new organization and its owner (tests.factories.Member)."""
    return make_org(db)


@pytest.fixture
def annotator(db: Database, owner):
    return add_member(db, owner, Role.annotator)
