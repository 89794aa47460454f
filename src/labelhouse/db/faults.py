"""Database faults as domain errors: what a person is told when the database is away.

A lost or refused connection, a timeout, a lock held too long or a full disk is not a bug in
the request: the same request can be sent again later. :func:`classify` recognises these in
the drivers' exceptions (psycopg's SQLSTATEs, sqlite3's result codes, SQLAlchemy's pool
timeout) and returns :class:`~labelhouse.errors.Busy` (a lock: try again at once) or
:class:`~labelhouse.errors.DatabaseUnavailable` (try again in a few seconds) with a sentence
for the person and a ``hint`` for the operator; the web answers them with 503 and
``Retry-After``, the CLI with the sentence. Anything else is left alone (a bug stays a 500).
"""

from __future__ import annotations

import errno
import sqlite3

from sqlalchemy import exc as sa_exc

from labelhouse.errors import Busy, DatabaseUnavailable

RETRY_BUSY = 2
RETRY_UNAVAILABLE = 5
RETRY_DISK_FULL = 60

UNREACHABLE = (
    "The database cannot be reached right now. Try again in a few seconds, and tell your "
    "administrator if this keeps happening."
)
TOO_SLOW = (
    "The database took too long to answer, so the request was stopped. Try again in a few "
    "seconds, and tell your administrator if this keeps happening."
)
NO_CONNECTIONS = (
    "The database has no free connections right now. Try again in a few seconds, and tell "
    "your administrator if this keeps happening."
)
DISK_FULL = (
    "The database's disk is full, so nothing could be saved. Try again later; an "
    "administrator has to free disk space first."
)
LOCKED = (
    "The data this needs was held by another change for too long; nothing was changed. "
    "Try again in a moment."
)
BUDGET_HINT = (
    "the database refused a connection (too many clients): lower LABELHOUSE_DB_MAX_CONNECTIONS "
    "(shared by the workers of one app host), raise PostgreSQL's max_connections, or put "
    "PgBouncer in front (docs/deployment.md)"
)

# PostgreSQL SQLSTATEs (Appendix A of its manual) and classes.
_LOCKED_STATES = {"55P03", "40P01", "40001"}  # lock_not_available, deadlock, serialization
_TOO_SLOW_STATES = {"57014"}  # query_canceled: statement_timeout
_GONE_STATES = {"57P01", "57P02", "57P03", "57P05"}  # shutdown, crash, cannot connect now, idle
_BUDGET_STATES = {"53300"}  # too_many_connections (also a role's or database's limit)
_DISK_STATES = {"53100"}  # disk_full
# sqlite3 primary result codes
_SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_READONLY, _SQLITE_IOERR = 5, 6, 8, 10
_SQLITE_FULL, _SQLITE_CANTOPEN, _SQLITE_PROTOCOL = 13, 14, 15
_DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT}


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"


def _unavailable(
    message: str, error: BaseException, hint: str = "", retry: int = 0
) -> DatabaseUnavailable:
    return DatabaseUnavailable(
        message,
        retry_after=retry or RETRY_UNAVAILABLE,
        hint=f"{hint}: {_first_line(error)}" if hint else _first_line(error),
    )


def _busy(error: BaseException, hint: str) -> Busy:
    return Busy(LOCKED, retry_after=RETRY_BUSY, hint=f"{hint}: {_first_line(error)}")


def _from_sqlite(error: sqlite3.Error) -> Busy | None:
    code = getattr(error, "sqlite_errorcode", None)
    if code is None:
        return None
    primary = code & 0xFF
    if primary in (_SQLITE_BUSY, _SQLITE_LOCKED):
        return _busy(error, "SQLite's busy timeout (LABELHOUSE_DB_LOCK_TIMEOUT) ran out")
    if primary == _SQLITE_FULL:
        return _unavailable(DISK_FULL, error, "the SQLite file's disk is full", RETRY_DISK_FULL)
    if primary in (_SQLITE_IOERR, _SQLITE_CANTOPEN, _SQLITE_READONLY, _SQLITE_PROTOCOL):
        return _unavailable(UNREACHABLE, error, "the SQLite file cannot be used")
    return None


def _from_psycopg(error: BaseException) -> Busy | None:
    state = getattr(error, "sqlstate", None) or ""
    if state in _LOCKED_STATES:
        return _busy(error, "PostgreSQL's lock_timeout (LABELHOUSE_DB_LOCK_TIMEOUT) ran out")
    if state in _TOO_SLOW_STATES:
        return _unavailable(TOO_SLOW, error, "statement_timeout (LABELHOUSE_DB_STATEMENT_TIMEOUT)")
    text = str(error).lower()
    if state in _BUDGET_STATES or any(s in text for s in ("too many c", "connection slots")):
        return _unavailable(NO_CONNECTIONS, error, BUDGET_HINT)
    if state in _DISK_STATES:
        return _unavailable(DISK_FULL, error, "PostgreSQL's disk is full", RETRY_DISK_FULL)
    if state in _GONE_STATES or state.startswith("08"):
        return _unavailable(UNREACHABLE, error, "the database server went away")
    if "unsupported startup parameter" in text:  # PgBouncer refuses the timeouts we send
        return _unavailable(
            UNREACHABLE, error, "behind PgBouncer? set LABELHOUSE_DB_PGBOUNCER=true"
        )
    names = {cls.__name__ for cls in type(error).__mro__}
    if not state and "OperationalError" in names:  # no SQLSTATE: connecting, or the socket
        return _unavailable(UNREACHABLE, error, "cannot connect to, or lost, the database")
    return None


def classify(error: BaseException, *, disconnect: bool = False) -> Busy | None:
    """The domain error that tells a person what to do about ``error``, or None when it is
    not a database fault (then it stays what it is). ``disconnect``: SQLAlchemy found the
    connection lost."""
    if isinstance(error, Busy):
        return error
    if isinstance(error, sa_exc.TimeoutError):  # no free pooled connection in time
        return _unavailable(NO_CONNECTIONS, error, "every pooled connection stayed busy")
    original: BaseException = error
    if isinstance(error, sa_exc.DBAPIError) and error.orig is not None:
        original = error.orig
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        disconnect = True
    if isinstance(original, sqlite3.Error):
        found = _from_sqlite(original)
    elif type(original).__module__.startswith("psycopg"):
        found = _from_psycopg(original)
    elif isinstance(original, OSError) and original.errno in _DISK_ERRNOS:
        found = _unavailable(DISK_FULL, original, "the database's disk is full", RETRY_DISK_FULL)
    else:
        found = None
    if found is None and disconnect:
        found = _unavailable(UNREACHABLE, original, "the connection was lost")
    return found
