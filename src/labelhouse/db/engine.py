"""Engines and sessions for SQLite (default) and PostgreSQL.

SQLite: WAL, foreign keys, busy timeout, and ``BEGIN IMMEDIATE`` for write transactions so a
read-then-write (the work queue's claim) cannot interleave with another writer; pysqlite's
own deferred BEGIN silently double-assigns (see shared/ecosystem.md §4). Long reads such as
exports use a second engine whose transactions are deferred, so they never hold the write lock.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # not on Windows: threads still queue on the mutex
    fcntl = None  # type: ignore[assignment]

import orjson
from sqlalchemy import Engine, create_engine, event, exc, make_url
from sqlalchemy.orm import Session, sessionmaker

from labelhouse.errors import Busy

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


class WriteGate:
    """Queues an SQLite file's writers before they ``BEGIN IMMEDIATE``: a mutex for this
    process's threads, then an ``flock`` on ``<database>-writer.lock`` for other processes
    (several ``serve`` workers, a CLI import). Without it, a writer that finds the database
    locked falls into SQLite's busy handler, which sleeps in steps of 1, 2, 5, 10… ms: under
    8 concurrent annotators that sleeping, not work, set the pace (62 → 133 pairs/s with
    the mutex alone). The gate is held until the transaction has committed or rolled back;
    the kernel drops the flock of a process that dies, and SQLite's own busy timeout stays
    as the backstop for writers that don't use the gate.
    """

    def __init__(self, path: Path | None) -> None:
        self._mutex = threading.Lock()
        self._lock_path = None if path is None else path.with_name(path.name + "-writer.lock")
        self._fd: int | None = None
        self._fd_pid = 0

    def _file(self) -> int | None:
        if self._lock_path is None or fcntl is None:
            return None
        if self._fd is None or self._fd_pid != os.getpid():  # not inherited across fork
            self._fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            self._fd_pid = os.getpid()
        return self._fd

    @contextmanager
    def held(self) -> Iterator[None]:
        if not self._mutex.acquire(timeout=WRITE_LOCK_TIMEOUT):
            raise Busy(
                f"The database stayed busy for {WRITE_LOCK_TIMEOUT:.0f} s (another write, such "
                "as a large import, held it); nothing was changed. Try again in a moment.",
                retry_after=5,
            )
        try:
            fd = self._file()
            if fd is None:
                yield
                return
            fcntl.flock(fd, fcntl.LOCK_EX)  # blocks without the GIL; woken by the kernel
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            self._mutex.release()


def _sqlite_path(url: str) -> Path | None:
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).resolve()


def _sqlite_engine(url: str, *, immediate: bool) -> Engine:
    engine = create_engine(
        url, connect_args={"timeout": 30, "check_same_thread": False}, **JSON_OPTIONS
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        for pragma in SQLITE_PRAGMAS:
            dbapi_conn.execute(pragma)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

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
        self._gate = WriteGate(_sqlite_path(self.url)) if self.is_sqlite else None

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: commits on success, rolls back on any exception. On SQLite it
        first waits its turn at the :class:`WriteGate` and keeps it until the end."""
        if self._gate is None:
            with self._sessions() as s, s.begin():
                yield s
            return
        with self._gate.held(), self._sessions() as s, s.begin():
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
    engine = create_engine(url, pool_size=10, max_overflow=20, **JSON_OPTIONS)
    ping_when_idle(engine)
    return Database(url, engine, engine)


# A pooled connection that sat unused this long is tested before use.
PING_AFTER_IDLE_SECONDS = 2.0
_RETURNED_AT = "labelhouse_returned_at"


def ping_when_idle(engine: Engine, after: float = PING_AFTER_IDLE_SECONDS) -> None:
    """Test a pooled connection before use only if it has been idle ``after`` seconds.

    SQLAlchemy's ``pool_pre_ping`` pings on *every* checkout: one more round trip per
    request, a tenth of PostgreSQL's work on the annotator hot path. Connections that were
    returned moments ago are alive (a server restart since then still fails that one
    request, as it would with pre-ping for a connection already in use); a connection idle
    for longer may have been dropped by a restart or a firewall, and one that fails the
    ping is discarded for a fresh one (the pool's ``DisconnectionError`` protocol).
    """

    @event.listens_for(engine, "checkin")
    def _returned(dbapi_connection: Any, record: Any) -> None:
        record.info[_RETURNED_AT] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        returned = record.info.get(_RETURNED_AT)
        if returned is None or time.monotonic() - returned < after:
            return  # new, or returned moments ago
        try:
            ok = engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            raise exc.DisconnectionError(f"idle connection failed its ping: {error}") from error
        if not ok:
            raise exc.DisconnectionError("idle connection failed its ping")
