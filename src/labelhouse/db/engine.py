"""Engines and sessions for SQLite (default) and PostgreSQL.

SQLite: WAL, foreign keys, busy timeout, and ``BEGIN IMMEDIATE`` for write transactions so a
read-then-write (the work queue's claim) cannot interleave with another writer; pysqlite's
own deferred BEGIN silently double-assigns (see shared/ecosystem.md §4). Long reads such as
exports use a second engine whose transactions are deferred, so they never hold the write lock.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=30000",
    "PRAGMA cache_size=-16384",  # 16 MB per connection: RSS stays low with a pool
    "PRAGMA temp_store=MEMORY",
)


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


# orjson instead of the stdlib for JSON columns: import and export move a lot of JSON.
JSON_OPTIONS: dict[str, Any] = {"json_serializer": _json_dumps, "json_deserializer": orjson.loads}


WRITE_LOCK_TIMEOUT = 30.0


def _sqlite_engine(url: str, *, immediate: bool) -> Engine:
    engine = create_engine(
        url, connect_args={"timeout": 30, "check_same_thread": False}, **JSON_OPTIONS
    )
    # Writers in one process queue on a mutex before BEGIN IMMEDIATE. Without it, threads
    # that find the database locked fall into SQLite's busy handler, which sleeps in steps
    # of 1, 2, 5, 10… ms: under 8 concurrent annotators that sleeping, not work, set the pace.
    write_lock = threading.Lock()

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        for pragma in SQLITE_PRAGMAS:
            dbapi_conn.execute(pragma)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        if not immediate:
            conn.exec_driver_sql("BEGIN")
            return
        if not write_lock.acquire(timeout=WRITE_LOCK_TIMEOUT):
            raise TimeoutError("the database stayed busy for 30 s; retry")
        conn.info["lh_write_lock"] = True
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            _release(conn)
            raise

    def _release(conn: Any) -> None:
        if conn.info.pop("lh_write_lock", False):
            write_lock.release()

    if immediate:
        event.listen(engine, "commit", _release)
        event.listen(engine, "rollback", _release)
    return engine


@dataclass
class Database:
    """The application's database handle: a write engine and a read engine (same on PG)."""

    url: str
    engine: Engine
    read_engine: Engine

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    def __post_init__(self) -> None:
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._read_sessions = sessionmaker(self.read_engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: commits on success, rolls back on any exception."""
        with self._sessions() as s, s.begin():
            yield s

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """A read-only session that never takes SQLite's write lock (rolled back at the end)."""
        with self._read_sessions() as s:
            try:
                yield s
            finally:
                s.rollback()

    def dispose(self) -> None:
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()


def open_database(url: str) -> Database:
    if url.startswith("sqlite"):
        return Database(
            url, _sqlite_engine(url, immediate=True), _sqlite_engine(url, immediate=False)
        )
    engine = create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True, **JSON_OPTIONS)
    return Database(url, engine, engine)
