"""A client-side deadline for PostgreSQL statements: the connection of a statement that got
no answer in time is cut, so its request fails fast instead of hanging.

PostgreSQL's ``statement_timeout`` is enforced by the server, which only helps while the
server answers: with the network, a proxy or the server itself stalled, psycopg waits for
bytes that never come (a 30 s stall hung every request for 30.5 s), and TCP keepalives do
not fire while a middlebox or a frozen server's kernel still acknowledges packets. So every
statement, commit, rollback and ping of a watched engine is given a deadline somewhat past
the server's timeout; one thread sleeps until the earliest deadline and shuts the socket of
a connection still waiting then. psycopg then raises a disconnect, SQLAlchemy invalidates
the connection, and :mod:`labelhouse.db.faults` turns it into a 503.

One thread per process, for every engine; it sleeps while nothing is armed. Arming costs
a lock and a dict entry; the thread wakes about once per deadline length under load.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine

log = logging.getLogger("labelhouse.db")


def deadline_after(statement_timeout: float) -> float:
    """How long the client waits for an answer: the server's own timeout should fire first
    (it cancels the statement cleanly and keeps the connection), so a little longer."""
    return statement_timeout * 1.1 + 1.0


class Watchdog:
    def __init__(self) -> None:
        self._reset()
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._armed: dict[int, tuple[float, float, Any]] = {}  # id → (deadline, limit, conn)
        self._exempt: set[int] = set()
        self._next_wake = float("inf")
        self._thread: threading.Thread | None = None
        self._cap = threading.local()
        self.cuts = 0

    def arm(self, connection: Any, seconds: float) -> int | None:
        """Start the clock for ``connection`` (a psycopg connection); returns the token for
        :meth:`disarm`, or None when this connection is not watched now."""
        key = id(connection)
        cap = getattr(self._cap, "seconds", None)
        if cap is not None:
            seconds = min(seconds, cap)
        deadline = time.monotonic() + seconds
        with self._cond:
            if key in self._exempt:
                return None
            self._armed[key] = (deadline, seconds, connection)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="labelhouse-db-watchdog", daemon=True
                )
                self._thread.start()
            if deadline < self._next_wake:
                self._cond.notify()
        return key

    def disarm(self, token: int | None) -> None:
        if token is not None:
            with self._cond:
                self._armed.pop(token, None)

    @contextmanager
    def exempt(self, connection: Any) -> Iterator[None]:
        """Leave ``connection`` unwatched meanwhile (long work with no statement timeout)."""
        key = id(connection)
        with self._cond:
            self._exempt.add(key)
        try:
            yield
        finally:
            with self._cond:
                self._exempt.discard(key)

    @contextmanager
    def capped(self, seconds: float) -> Iterator[None]:
        """Give this thread's statements at most ``seconds`` meanwhile (the health check)."""
        before = getattr(self._cap, "seconds", None)
        self._cap.seconds = seconds
        try:
            yield
        finally:
            self._cap.seconds = before

    def _run(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                late = [k for k, (deadline, _, _) in self._armed.items() if deadline <= now]
                for key in late:
                    _, limit, connection = self._armed.pop(key)
                    # Under the lock: the owner is still blocked in the statement (it
                    # disarms before anything can close the connection), so the socket
                    # is still this connection's.
                    self._cut(connection, limit)
                self._next_wake = min((d for d, _, _ in self._armed.values()), default=float("inf"))
                timeout = None if self._next_wake == float("inf") else self._next_wake - now
                self._cond.wait(timeout)

    def _cut(self, connection: Any, limit: float) -> None:
        try:
            fd = connection.pgconn.socket
            with socket.socket(fileno=os.dup(fd)) as sock:
                sock.shutdown(socket.SHUT_RDWR)  # the blocked reader sees the end at once
        except Exception:  # already closed or broken: nothing left to cut
            return
        self.cuts += 1
        log.warning("no answer from the database within %.1f s: connection closed", limit)


WATCHDOG = Watchdog()

_STATEMENT_METHODS = ("do_execute", "do_executemany", "do_execute_no_params")
_CONNECTION_METHODS = ("do_commit", "do_rollback", "do_ping")


def watch(engine: Engine, seconds: float) -> None:
    """Put every DBAPI call of ``engine`` that waits for the server under the watchdog.

    The dialect's ``do_*`` methods are where SQLAlchemy hands a statement, a commit or a
    rollback to the driver, so wrapping them (on this engine's own dialect instance) covers
    ORM, Core and ``exec_driver_sql`` alike. Rows fetched later from a server-side cursor
    are not covered: a streaming export may legitimately pause between fetches.
    """
    dialect = engine.dialect

    def on_cursor(original: Callable[..., Any]) -> Callable[..., Any]:
        def watched(cursor: Any, *args: Any, **kwargs: Any) -> Any:
            token = WATCHDOG.arm(cursor.connection, seconds)
            try:
                return original(cursor, *args, **kwargs)
            finally:
                WATCHDOG.disarm(token)

        return watched

    def on_connection(original: Callable[..., Any]) -> Callable[..., Any]:
        def watched(dbapi_connection: Any, *args: Any, **kwargs: Any) -> Any:
            token = WATCHDOG.arm(dbapi_connection, seconds)
            try:
                return original(dbapi_connection, *args, **kwargs)
            finally:
                WATCHDOG.disarm(token)

        return watched

    for name in _STATEMENT_METHODS:
        setattr(dialect, name, on_cursor(getattr(dialect, name)))
    for name in _CONNECTION_METHODS:
        setattr(dialect, name, on_connection(getattr(dialect, name)))
