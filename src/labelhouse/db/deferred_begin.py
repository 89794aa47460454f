"""PostgreSQL: a hot unit of work that begins its transaction only when it needs one.

psycopg opens every transaction with its own ``BEGIN`` round trip and ends it with a
``COMMIT`` one. The annotator's two hot requests usually need neither: each is a read that
may see its own snapshot, then one write complete in itself (a claim that picks a task,
leases it and counts it in one statement; a submission that closes the lease, counts the
answer and stores it with its first revision in one). A statement is atomic on its own, so
running those as their own transactions keeps every guarantee and saves four of a pair's
eleven round trips (about a fifth of the app's CPU per pair on PostgreSQL).

How: for the length of a hot unit the connection is in autocommit mode and makes
``DeferredBeginCursor`` cursors (:func:`cursor_classes`). A statement run with
``standalone`` set (see :class:`~labelhouse.db.prepared.Prepared`) goes as it is; the
first statement without it turns autocommit off, so psycopg sends ``BEGIN`` before it, as
it always does, and the rest of the unit is one ordinary transaction, committed or rolled
back at its end. Anything the hot path does off its common road (an expired lease to
sweep, a gold task, a routed project, the ORM) is therefore exactly what it was.

What "standalone" promises, statement by statement: a read whose answer needs no snapshot
shared with what follows (under READ COMMITTED every statement takes its own snapshot
anyway), or a write that the unit never needs to undo — if the unit fails after it, the
write stands (a lease without a page is served again by the next /next; a stored answer
retried is recognised as unchanged).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection

__all__ = ["begun_when_needed", "cursor_classes", "mark_standalone", "standalone_cursors"]


_CLASSES: list[Any] = []  # (the hot unit's cursor, the same marked standalone), once made
_MAKING = threading.Lock()


def cursor_classes() -> tuple[type, type]:
    """The hot unit's cursor classes, made once, at first use: psycopg is installed only
    with PostgreSQL support."""
    if not _CLASSES:
        with _MAKING:
            if not _CLASSES:
                _CLASSES[:] = _made()
    return _CLASSES[0], _CLASSES[1]


def _made() -> list[type]:
    import psycopg

    def begins_first(method: Any) -> Any:
        """``method``, after opening the unit's transaction unless the cursor is standalone."""

        def run(self: Any, *args: Any, **kwargs: Any) -> Any:
            conn = self.connection
            if conn.autocommit and not self.standalone:
                conn.autocommit = False  # psycopg sends BEGIN with the next statement
            return method(self, *args, **kwargs)

        return run

    class DeferredBeginCursor(psycopg.Cursor[Any]):
        """Opens the unit's transaction before any statement not marked ``standalone``:
        every way a psycopg cursor sends one."""

        standalone = False
        execute = begins_first(psycopg.Cursor.execute)
        executemany = begins_first(psycopg.Cursor.executemany)
        stream = begins_first(psycopg.Cursor.stream)
        copy = begins_first(psycopg.Cursor.copy)

    class StandaloneCursor(DeferredBeginCursor):
        standalone = True

    return [DeferredBeginCursor, StandaloneCursor]


def mark_standalone(cursor: Any) -> None:
    """Let the statement about to run on ``cursor`` go without a transaction, if the unit
    has begun none (a no-op on any other cursor: SQLite's, or outside a hot unit)."""
    if _CLASSES and type(cursor) is _CLASSES[0]:
        cursor.standalone = True


@contextmanager
def standalone_cursors(dbapi_connection: Any) -> Iterator[None]:
    """:func:`mark_standalone` for the cursors made in the block (for a statement that
    SQLAlchemy runs, making its own cursor)."""
    factory = getattr(dbapi_connection, "cursor_factory", None)
    if not _CLASSES or factory is not _CLASSES[0]:
        yield
        return
    dbapi_connection.cursor_factory = _CLASSES[1]
    try:
        yield
    finally:
        dbapi_connection.cursor_factory = factory


@contextmanager
def begun_when_needed(conn: Connection) -> Iterator[None]:
    """The hot unit on ``conn`` (PostgreSQL, a connection just taken from the pool): no
    transaction until a statement needs one. Enter it before ``conn.begin()`` and leave it
    after, so that the commit (a no-op when nothing began) or the rollback comes first."""
    import psycopg

    dbapi = conn.connection.dbapi_connection
    assert isinstance(dbapi, psycopg.Connection)
    factory = dbapi.cursor_factory
    dbapi.cursor_factory = cursor_classes()[0]
    dbapi.autocommit = True
    try:
        yield
    finally:
        dbapi.cursor_factory = factory
        try:
            if dbapi.autocommit:
                dbapi.autocommit = False
        except psycopg.Error:
            # Still in a transaction (the unit's end could not close it) or broken: the
            # pool must not hand this connection out again.
            conn.invalidate()
