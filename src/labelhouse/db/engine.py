"""Engines and sessions for SQLite (default) and PostgreSQL.

SQLite: WAL, foreign keys, busy timeout, and ``BEGIN IMMEDIATE`` for write transactions so a
read-then-write (the work queue's claim) cannot interleave with another writer; pysqlite's
own deferred BEGIN silently double-assigns (see shared/ecosystem.md §4). Long reads such as
exports use a second engine whose transactions are deferred, so they never hold the write lock.

PostgreSQL: a pool sized from the host's connection budget, and every wait bounded —
connecting, statements (server-side ``statement_timeout`` plus the client-side
:mod:`~labelhouse.db.watchdog`), locks (``lock_timeout``) and a dead peer (TCP keepalives,
``tcp_user_timeout``). On both, database faults reach callers as the domain errors of
:mod:`~labelhouse.db.faults` (a 503 that says to try again, not a 500).
"""

from __future__ import annotations

import logging
import math
import shutil
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, create_engine, event, exc, make_url
from sqlalchemy.orm import Session, sessionmaker

from labelhouse.db import faults
from labelhouse.db.deferred_begin import begun_when_needed
from labelhouse.db.options import DatabaseOptions
from labelhouse.db.urls import check_database_url
from labelhouse.db.watchdog import WATCHDOG, deadline_after, watch
from labelhouse.db.write_gate import WriteGate

__all__ = ["Database", "DatabaseOptions", "WriteGate", "bound_lock_waits", "open_database"]

log = logging.getLogger("labelhouse.db")

SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA cache_size=-16384",  # 16 MB per connection: RSS stays low with a pool
    "PRAGMA temp_store=MEMORY",
)
# TCP settings toward PostgreSQL, so that a peer that vanished (host down, network cut) is
# noticed: a probe after 10 s of silence, 3 more 5 s apart; unacknowledged data for 20 s.
KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 20_000,
}
# The health check's answer must come quickly: a load balancer polls it.
HEALTH_TIMEOUT = 2.0
# Less free space than this and the database counts as unavailable (SQLite: its disk).
MIN_FREE_BYTES = 1 << 20
# Connection info: this connection's lock waits are bounded already (see bound_lock_waits).
_LOCKS_BOUNDED = "labelhouse_locks_bounded"


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


# orjson instead of the stdlib for JSON columns: import and export move a lot of JSON.
JSON_OPTIONS: dict[str, Any] = {"json_serializer": _json_dumps, "json_deserializer": orjson.loads}


def _sqlite_path(url: str) -> Path | None:
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).resolve()


def _ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))


def _translate_faults(engine: Engine) -> None:
    """Database faults leave SQLAlchemy as domain errors (connection losses still invalidate
    the connection and the pool: SQLAlchemy does that after this hook)."""

    @event.listens_for(engine, "handle_error")
    def _fault(context: Any) -> BaseException | None:
        return faults.classify(context.original_exception, disconnect=context.is_disconnect)


def _sqlite_engine(url: str, options: DatabaseOptions, *, immediate: bool) -> Engine:
    busy_ms = _ms(options.lock_timeout)
    engine = create_engine(
        url,
        connect_args={"timeout": options.lock_timeout, "check_same_thread": False},
        **JSON_OPTIONS,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        for pragma in SQLITE_PRAGMAS:
            dbapi_conn.execute(pragma)
        dbapi_conn.execute(f"PRAGMA busy_timeout={busy_ms}")

    begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Straight to the driver: every unit of work begins here, and SQLAlchemy's statement
        # machinery (events, result set-up) cost more than SQLite's BEGIN itself. A fault is
        # translated as the engine's hook would have (a busy database: Busy).
        try:
            conn.connection.dbapi_connection.execute(begin)
        except sqlite3.Error as error:
            fault = faults.classify(error)
            if fault is None:
                raise
            raise fault from error

    _translate_faults(engine)
    return engine


def _pg_engine(url: str, options: DatabaseOptions) -> Engine:
    statement_ms, lock_ms = _ms(options.statement_timeout), _ms(options.lock_timeout)
    connect_args: dict[str, Any] = {
        # libpq counts whole seconds, at least 2
        "connect_timeout": max(2, math.ceil(options.connect_timeout)),
        "application_name": options.application_name,
        **KEEPALIVES,
    }
    if options.pgbouncer:
        # PgBouncer (transaction pooling) hands each transaction to any server connection:
        # a statement prepared on one is unknown to the next, and session settings do not
        # stick, so the timeouts are set in every transaction (below).
        connect_args["prepare_threshold"] = None
    else:
        # Sent with the connection request: no round trip, and they apply to every statement.
        given = make_url(url).query.get("options")
        ours = f"-c statement_timeout={statement_ms} -c lock_timeout={lock_ms}"
        connect_args["options"] = f"{given} {ours}" if isinstance(given, str) else ours
    engine = create_engine(
        url,
        pool_size=options.pool_size,
        max_overflow=0,
        pool_timeout=options.connect_timeout,
        connect_args=connect_args,
        **JSON_OPTIONS,
    )
    ping_when_idle(engine)
    _translate_faults(engine)

    @event.listens_for(engine, "connect")
    def _on_connect(_dbapi_conn: Any, record: Any) -> None:
        record.info[_LOCKS_BOUNDED] = True

    if options.pgbouncer:
        set_timeouts = (
            f"SELECT set_config('statement_timeout', '{statement_ms}', true), "
            f"set_config('lock_timeout', '{lock_ms}', true)"
        )

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            conn.exec_driver_sql(set_timeouts)

    if options.statement_timeout > 0:
        watch(engine, deadline_after(options.statement_timeout))
    return engine


@dataclass
class Database:
    """The application's database handle: a write engine and a read engine (same on PG)."""

    url: str
    engine: Engine
    read_engine: Engine
    options: DatabaseOptions = field(default_factory=DatabaseOptions)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    def __post_init__(self) -> None:
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._read_sessions = sessionmaker(self.read_engine, expire_on_commit=False)
        path = _sqlite_path(self.url) if self.is_sqlite else None
        self._path = path
        self._gate = WriteGate(path, self.options.lock_timeout) if self.is_sqlite else None
        self._answered = True  # the last health check's outcome
        self._defers_begin = self.dialect == "postgresql" and not self.options.pgbouncer

    @contextmanager
    def session(self, *, long_running: bool = False) -> Iterator[Session]:
        """A unit of work: commits on success, rolls back on any exception. On SQLite it
        first waits its turn at the :class:`WriteGate` and keeps it until the end.
        ``long_running``: work that may take minutes (a big import or export) gets the long
        statement timeout instead of the interactive one."""
        gate = self._gate.held() if self._gate else nullcontext()
        with (
            _faults_translated(),
            gate,
            self._sessions() as s,
            s.begin(),
            self._lengthened(s, long_running),
        ):
            yield s

    @contextmanager
    def hot_session(self) -> Iterator[Session]:
        """A unit of work like :meth:`session` with less machinery around it, for the
        annotator's two hot requests: a Core transaction on a connection of its own (the
        same gate, ``BEGIN``, fault translation and commit) and a Session bound to that
        connection. ``session.connection()``, all the hot path asks for, returns it
        straight away; ORM use still works (it joins the transaction, and is flushed
        before the commit). An ORM session's transaction machinery cost about half the
        unit of work's CPU.

        On PostgreSQL the transaction begins only when a statement needs one: the common
        /next and submit run a standalone read and one standalone write, each its own
        transaction, with no ``BEGIN`` or ``COMMIT`` round trip (db/deferred_begin.py).
        Not behind PgBouncer, whose timeouts are set in each ``BEGIN`` (``_pg_engine``)."""
        gate = self._gate.held() if self._gate else nullcontext()
        with (
            _faults_translated(),
            gate,
            self.engine.connect() as conn,
            begun_when_needed(conn) if self._defers_begin else nullcontext(),
            conn.begin(),
        ):
            session = _OnConnection(conn)
            try:
                yield session
                if session.in_transaction():
                    session.commit()  # flushes; the connection's own transaction commits
            finally:
                # Closing detaches what the ORM loaded; a session that never held anything
                # (the hot path's usual case) has nothing to detach, and skips its cost.
                if session.in_transaction() or session.identity_map or session.new:
                    session.close()

    @contextmanager
    def write_gate_if_free(self) -> Iterator[bool]:
        """SQLite: the write gate, if nobody holds or awaits it, without waiting (True, held
        until the block ends: the sessions opened inside go straight through it); False at
        once otherwise, and always on PostgreSQL, which has no gate."""
        if self._gate is None:
            yield False
            return
        with self._gate.held_if_free() as free:
            yield free

    @contextmanager
    def read_session(self, *, long_running: bool = False) -> Iterator[Session]:
        """A read-only session that never takes SQLite's write lock (rolled back at the end)."""
        with _faults_translated(), self._read_sessions() as s:
            try:
                with self._lengthened(s, long_running):
                    yield s
            finally:
                s.rollback()

    @contextmanager
    def _lengthened(self, session: Session, long_running: bool) -> Iterator[None]:
        if not long_running or self.is_sqlite:
            yield
            return
        if self.options.long_statement_timeout == self.options.statement_timeout:
            yield  # already the long kind (the CLI's engine)
            return
        conn = session.connection()
        ms = _ms(self.options.long_statement_timeout)
        conn.exec_driver_sql(f"SELECT set_config('statement_timeout', '{ms}', true)")
        with WATCHDOG.exempt(conn.connection.dbapi_connection):
            yield

    def ping(self, timeout: float = HEALTH_TIMEOUT) -> bool:
        """Whether the database answers within about ``timeout`` seconds (and, for SQLite,
        its disk has room): the health check. Cheap: one pooled round trip."""
        try:
            if self._path is not None and shutil.disk_usage(self._path.parent).free < (
                MIN_FREE_BYTES
            ):
                raise OSError(f"less than {MIN_FREE_BYTES} bytes free beside the database")
            with WATCHDOG.capped(timeout), self.read_engine.connect() as conn:
                conn.exec_driver_sql(
                    "SELECT 1 FROM sqlite_master LIMIT 1" if self.is_sqlite else "SELECT 1"
                )
        except Exception as error:
            if self._answered:  # once per outage: the check is polled
                log.warning("health check: the database is unavailable (%s)", _hint(error))
            self._answered = False
            return False
        if not self._answered:
            log.warning("health check: the database answers again")
        self._answered = True
        return True

    def dispose(self) -> None:
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()


class _OnConnection(Session):
    """A Session on a connection whose transaction the caller owns (:meth:`Database.
    hot_session`): it never commits that transaction, and until the ORM is used it hands
    out the connection itself."""

    def __init__(self, conn: Connection) -> None:
        super().__init__(bind=conn, join_transaction_mode="rollback_only", expire_on_commit=False)
        self._conn = conn

    def connection(
        self,
        bind_arguments: Any = None,
        execution_options: Any = None,
    ) -> Connection:
        if bind_arguments is None and execution_options is None and not self.in_transaction():
            return self._conn
        return super().connection(bind_arguments, execution_options)


def _hint(error: BaseException) -> str:
    return getattr(error, "hint", "") or (str(error).splitlines() or [type(error).__name__])[0]


@contextmanager
def _faults_translated() -> Iterator[None]:
    """Faults that bypassed SQLAlchemy's error hook, as domain errors too: the driver's own
    errors from work done on the raw connection (an import's COPY), and pool timeouts."""
    try:
        yield
    except Exception as error:
        if isinstance(error, exc.TimeoutError) or type(error).__module__.startswith(
            ("psycopg", "sqlite3")
        ):
            fault = faults.classify(error)
            if fault is not None:
                raise fault from error
        raise


def open_database(url: str, options: DatabaseOptions | None = None) -> Database:
    """The database at ``url``; ``options`` default to an interactive web process's. A URL
    that cannot work (see :mod:`labelhouse.db.urls`) raises InvalidInput first."""
    check_database_url(url)
    options = options or DatabaseOptions()
    if url.startswith("sqlite"):
        return Database(
            url,
            _sqlite_engine(url, options, immediate=True),
            _sqlite_engine(url, options, immediate=False),
            options,
        )
    engine = _pg_engine(url, options)
    return Database(url, engine, engine, options)


def bound_lock_waits(session: Session, seconds: float = DatabaseOptions.lock_timeout) -> None:
    """Make sure this transaction's lock waits end (PostgreSQL): the engines of
    :func:`open_database` bound them on every connection already; on any other connection
    this sets ``lock_timeout`` for the transaction. A wait that runs out raises
    :class:`~labelhouse.errors.Busy` ("try again"), through the engine's fault hook or here."""
    conn = session.connection()
    if conn.dialect.name != "postgresql" or conn.info.get(_LOCKS_BOUNDED):
        return
    conn.exec_driver_sql(f"SET LOCAL lock_timeout = {_ms(seconds)}")


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
