"""Bulk writing of plain imported tasks (rows without predictions or gold), per database.

The importer checks rows in Python and hands them over in batches, with each task's JSON
already encoded once. Every write skips keys that already exist (``ON CONFLICT DO
NOTHING``), so the first row of a key wins and re-imports add nothing.

* SQLite: one prepared ``INSERT`` run by the driver's ``executemany``, in the calling
  thread (the driver needs the GIL for every row, so a second thread would only wait).
* PostgreSQL: ``COPY`` of pre-built text into a temporary table, then one
  ``INSERT … SELECT … ON CONFLICT DO NOTHING; TRUNCATE`` (``COPY`` itself cannot skip
  duplicates). While the importer knows no key can exist yet (``direct``: see
  ``importer._InTransaction``) it copies straight into ``task`` instead, which costs PostgreSQL
  about a third less. This runs on a background thread so the server inserts one batch
  while Python parses and checks the next one: the thread holds the GIL only between
  network waits, and the queue in between holds at most two batches, so memory stays flat.

Everything happens on the caller's connection and inside its transaction: an error (in
the thread or in the caller) leaves the transaction to the caller's rollback, and a killed
process leaves an uncommitted transaction that the database discards.
"""

from __future__ import annotations

import queue
import sys
import threading
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session

from labelhouse.db.base import utcnow

TASK_COLUMNS = (
    "project_id, external_id, dedup_key, data, taken, done, is_open, import_id, created_at"
)
BUFFER = "task_import_buffer"
# How long a waiting thread lets a busy one keep the GIL. Python's default (5 ms) would
# make the COPY thread wait up to 5 ms after each network round trip while the parsing
# thread runs; 0.5 ms keeps the server fed at a negligible cost in switches.
SWITCH_INTERVAL = 0.0005


_switching = threading.Lock()
_switch_users = 0
_switch_saved = 0.005


def _fast_switching(on: bool) -> None:
    """Shorten the GIL switch interval while any COPY thread runs (reference-counted, as
    several imports may run at once in a server)."""
    global _switch_users, _switch_saved
    with _switching:
        if on:
            if _switch_users == 0:
                _switch_saved = sys.getswitchinterval()
                sys.setswitchinterval(min(_switch_saved, SWITCH_INTERVAL))
            _switch_users += 1
        else:
            _switch_users -= 1
            if _switch_users == 0:
                sys.setswitchinterval(_switch_saved)


class PlainRow(Protocol):
    external_id: str | None
    dedup_key: str
    encoded: bytes  # the task data as JSON (orjson)


class TaskWriter(Protocol):
    inserted: int  # tasks created so far (duplicates skipped); final after drain()
    # True while no written key can already exist (writes need not skip duplicates); the
    # importer sets it False, for good, at the first batch that might repeat a key.
    direct: bool

    def write(self, rows: list[Any]) -> None:
        """Queue or write one batch of :class:`PlainRow` s, in file order."""

    def drain(self) -> None:
        """Return once everything written so far is in the transaction (or raise its error).
        The session may be used again only after this."""

    def close(self) -> None:
        """Stop background work (idempotent; nothing queued is written after this)."""


def open_writer(
    session: Session, project_id: int, import_id: int, *, direct: bool = False
) -> TaskWriter:
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        return CopyWriter(conn.connection.driver_connection, project_id, import_id, direct)
    return SqliteWriter(conn, project_id, import_id)


def sqlite_timestamp(now: datetime) -> str:
    """The text SQLAlchemy itself stores for our UTC datetimes on SQLite."""
    return now.replace(tzinfo=None).isoformat(" ", timespec="microseconds")


class SqliteWriter:
    """``executemany`` of one prepared statement; the constant columns are literals (integers
    and our own timestamp), so each row binds only three values."""

    def __init__(self, conn: Any, project_id: int, import_id: int) -> None:
        self.conn = conn
        self.project_id = int(project_id)
        self.import_id = int(import_id)
        self.inserted = 0
        self.direct = False  # SQLite's ON CONFLICT costs little: one statement either way

    def write(self, rows: list[Any]) -> None:
        created = sqlite_timestamp(utcnow())
        # sqlite3 sums the changes of every row of an executemany: skipped rows count 0.
        self.inserted += self.conn.exec_driver_sql(
            f"INSERT INTO task ({TASK_COLUMNS}) "
            f"VALUES ({self.project_id}, ?, ?, ?, 0, 0, 1, {self.import_id}, '{created}') "
            "ON CONFLICT (project_id, dedup_key) DO NOTHING",
            [(p.external_id, p.dedup_key, p.encoded.decode()) for p in rows],
        ).rowcount

    def drain(self) -> None:
        pass

    def close(self) -> None:
        pass


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_field(value: str) -> bytes:
    """One field in COPY's text format."""
    if "\\" in value or not value.isprintable():
        value = value.translate(_COPY_ESCAPES)
    return value.encode()


def copy_text(rows: list[Any], prefix: bytes = b"", suffix: bytes = b"\n") -> bytes:
    """A batch as COPY text: ``prefix external_id TAB dedup_key TAB data suffix`` per row
    (the prefix and suffix carry columns that are the same for every row).

    orjson never writes a raw tab, newline or carriage return (JSON escapes them), so the
    data only needs its backslashes doubled."""
    lines = []
    append = lines.append
    for p in rows:
        data = p.encoded.replace(b"\\", b"\\\\")
        if p.external_id is None:
            append(b"%s\\N\t%s\t%s%s" % (prefix, p.dedup_key.encode(), data, suffix))
        else:
            ext, key = copy_field(p.external_id), copy_field(p.dedup_key)
            append(b"%s%s\t%s\t%s%s" % (prefix, ext, key, data, suffix))
    return b"".join(lines)


class CopyWriter:
    """COPY + INSERT … SELECT on a background thread that owns the connection between
    :meth:`write` and :meth:`drain`."""

    def __init__(
        self, connection: Any, project_id: int, import_id: int, direct: bool = False
    ) -> None:
        self.connection = connection
        self.project_id = int(project_id)
        self.import_id = int(import_id)
        self.inserted = 0
        self.direct = direct
        self.error: BaseException | None = None
        self.cancelled = False
        # (COPY text, the COPY statement, the statement that moves the buffer into task or
        # None when the COPY goes straight into task)
        self.queue: queue.Queue[tuple[bytes, str, str | None] | None] = queue.Queue(maxsize=2)
        self.thread: threading.Thread | None = None
        with connection.cursor() as cursor:
            cursor.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {BUFFER} "
                "(external_id text, dedup_key text, data jsonb) ON COMMIT DROP"
            )

    def write(self, rows: list[Any]) -> None:
        self._raise_error()
        now = utcnow().isoformat()
        item: tuple[bytes, str, str | None]
        if self.direct:
            prefix = b"%d\t" % self.project_id
            suffix = b"\t0\t0\tt\t%d\t%s\n" % (self.import_id, now.encode())
            item = (copy_text(rows, prefix, suffix), f"COPY task ({TASK_COLUMNS}) FROM STDIN", None)
        else:
            move = (
                f"INSERT INTO task ({TASK_COLUMNS}) SELECT {self.project_id}, external_id, "
                f"dedup_key, data, 0, 0, true, {self.import_id}, '{now}'::timestamptz FROM "
                f"{BUFFER} ON CONFLICT (project_id, dedup_key) DO NOTHING; TRUNCATE {BUFFER}"
            )
            copy = f"COPY {BUFFER} (external_id, dedup_key, data) FROM STDIN"
            item = (copy_text(rows), copy, move)
        if self.thread is None:
            _fast_switching(True)
            self.thread = threading.Thread(
                target=self._run, name="labelhouse-import-copy", daemon=True
            )
            self.thread.start()
        self.queue.put(item)

    def drain(self) -> None:
        if self.thread is not None:
            self.queue.join()
        self._raise_error()

    def close(self) -> None:
        if self.thread is None:
            return
        self.cancelled = True  # anything still queued is skipped
        self.queue.put(None)
        self.thread.join()
        self.thread = None
        _fast_switching(False)

    def _raise_error(self) -> None:
        if self.error is not None:
            error, self.error = self.error, None
            self.cancelled = True
            raise error

    def _run(self) -> None:
        cursor = None
        try:
            cursor = self.connection.cursor()
        except BaseException as exc:  # handed to the importing thread, like every error here
            self.error = exc
        try:
            while True:
                item = self.queue.get()
                try:
                    if item is None:
                        return
                    if cursor is not None and self.error is None and not self.cancelled:
                        data, copy_statement, move = item
                        with cursor.copy(copy_statement) as copy:
                            copy.write(data)
                        if move is None:
                            self.inserted += cursor.rowcount  # rows copied
                        else:
                            cursor.execute(move)
                            self.inserted += cursor.rowcount  # of the INSERT, its first statement
                except BaseException as exc:
                    self.error = exc
                finally:
                    self.queue.task_done()  # even after an error: the producer never blocks
        finally:
            if cursor is not None:
                cursor.close()
