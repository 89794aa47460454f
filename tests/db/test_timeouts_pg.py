"""PostgreSQL's waits are bounded: statements (unless the work is long by nature), locks,
and connections the server refuses, each ending in a sentence that says to try again."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.orm import Session

from labelhouse.db.engine import DatabaseOptions, bound_lock_waits, open_database
from labelhouse.errors import Busy, DatabaseUnavailable


@pytest.fixture
def pg_url(pg_migrated: str | None) -> str:
    if pg_migrated is None:
        pytest.skip("needs LABELHOUSE_TEST_PG_URL")
    return pg_migrated


def test_a_slow_statement_is_stopped_and_long_work_is_not(pg_url):
    db = open_database(pg_url, DatabaseOptions(statement_timeout=0.3))
    try:
        started = time.monotonic()
        with pytest.raises(DatabaseUnavailable) as info, db.session() as s:
            s.execute(text("SELECT pg_sleep(3)"))
        assert time.monotonic() - started < 2
        assert "took too long" in info.value.message
        assert "LABELHOUSE_DB_STATEMENT_TIMEOUT" in info.value.hint
        # longer than the statement timeout and than the client's deadline (1.33 s)
        with db.read_session(long_running=True) as s:
            assert s.execute(text("SELECT pg_sleep(1.5), 7")).one()[1] == 7
        with db.session() as s:  # and the next interactive one has its timeout again
            assert s.execute(text("SHOW statement_timeout")).scalar_one() == "300ms"
    finally:
        db.dispose()


def test_a_lock_wait_ends_with_busy(pg_url):
    db = open_database(pg_url, DatabaseOptions(lock_timeout=0.3))
    holder = psycopg.connect(make_url(pg_url).set(drivername="postgresql").render_as_string(False))
    try:
        with db.session() as s:
            s.execute(text("CREATE TABLE IF NOT EXISTS lock_probe (id int PRIMARY KEY)"))
            s.execute(text("INSERT INTO lock_probe VALUES (1) ON CONFLICT DO NOTHING"))
        holder.execute("SELECT * FROM lock_probe WHERE id = 1 FOR UPDATE")
        started = time.monotonic()
        with pytest.raises(Busy) as info, db.session() as s:
            s.execute(text("UPDATE lock_probe SET id = 1 WHERE id = 1"))
        assert time.monotonic() - started < 2
        assert info.value.code == "busy" and "Try again" in info.value.message
    finally:
        holder.close()
        with db.session() as s:
            s.execute(text("DROP TABLE IF EXISTS lock_probe"))
        db.dispose()


@pytest.fixture
def limited_role(pg_url: str) -> Iterator[str]:
    """A role that may hold one connection: the server refuses the second with 53300,
    the SQLSTATE of 'sorry, too many clients already'."""
    name = f"labelhouse_limited_{os.getpid()}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP ROLE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE ROLE "{name}" LOGIN CONNECTION LIMIT 1'))
    yield make_url(pg_url).set(username=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(
            text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = :n"),
            {"n": name},
        )
        conn.execute(text(f'DROP ROLE IF EXISTS "{name}"'))
    admin.dispose()


def test_a_refused_connection_fails_fast_with_a_sentence(limited_role):
    first = open_database(limited_role)
    second = open_database(limited_role)
    try:
        with first.session() as s:
            s.execute(text("SELECT 1"))  # the role's one connection, kept in first's pool
        started = time.monotonic()
        with pytest.raises(DatabaseUnavailable) as info, second.session() as s:
            s.execute(text("SELECT 1"))
        assert time.monotonic() - started < 2
        assert "no free connections" in info.value.message
        assert "LABELHOUSE_DB_MAX_CONNECTIONS" in info.value.hint
        assert not second.ping()
    finally:
        first.dispose()
        second.dispose()


def test_the_pool_is_this_process_share_of_the_budget(pg_url):
    db = open_database(pg_url, DatabaseOptions(pool_size=3, connect_timeout=0.5))
    try:
        sessions = [db.session() for _ in range(3)]
        for cm in sessions:
            cm.__enter__().execute(text("SELECT 1"))
        started = time.monotonic()
        with pytest.raises(DatabaseUnavailable) as info, db.session() as s:
            s.execute(text("SELECT 1"))  # a fourth: waits the pool timeout, then 503
        assert time.monotonic() - started < 2
        assert "no free connections" in info.value.message
        for cm in sessions:
            cm.__exit__(None, None, None)
    finally:
        db.dispose()


def test_lock_waits_are_bounded_on_any_connection(pg_url):
    """The claim calls bound_lock_waits before waiting for locked rows: our engines bound
    lock waits on every connection already (nothing to do); any other gets a local one."""
    plain = create_engine(pg_url)
    try:
        with Session(plain) as s, s.begin():
            assert s.execute(text("SHOW lock_timeout")).scalar_one() == "0"
            bound_lock_waits(s, 0.25)
            assert s.execute(text("SHOW lock_timeout")).scalar_one() == "250ms"
    finally:
        plain.dispose()
    db = open_database(pg_url, DatabaseOptions(lock_timeout=0.5))
    try:
        with db.session() as s:
            bound_lock_waits(s, 0.25)
            assert s.execute(text("SHOW lock_timeout")).scalar_one() == "500ms"
    finally:
        db.dispose()
