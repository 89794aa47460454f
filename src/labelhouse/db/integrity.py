"""Storage-level checks: does the database engine itself find damage in its files?

``labelhouse db check --deep`` asks the engine, because nothing else can see a damaged page:
the schema can match the models and every query the app runs can succeed while an index
page holds garbage (the app then silently misses rows, or fails on the next write there).

- SQLite: ``PRAGMA integrity_check`` reads every page and cross-checks every index against
  its table; where it stops at a page too damaged to walk ("database disk image is
  malformed"), ``PRAGMA quick_check`` (structure only) still names the page. Then
  ``PRAGMA foreign_key_check``: the app enforces foreign keys per connection, so rows written
  without that pragma (by hand, by an old tool) may point nowhere.
- PostgreSQL: the ``amcheck`` extension: ``bt_index_check(…, heapallindexed => true)`` on
  every btree index of the app's tables (the index is consistent, and every table row is in
  it) and ``verify_heapam`` on the tables. It takes only ``AccessShareLock``, so the app keeps
  running. Without the extension, or the rights to run it, the report says what was skipped
  and who can enable it; PostgreSQL enforces foreign keys itself.

Nothing here repairs storage: a damaged SQLite file is replaced by a backup, or salvaged with
``sqlite3 … .recover``; the report's ``advice`` says so.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, make_url, text
from sqlalchemy.exc import DBAPIError

Progress = Callable[[str, int, int], None]  # (what, done, total); total 0: not known

MAX_PROBLEMS = 20  # lines shown; the engine stops counting a little after this

NOT_A_DATABASE = "file is not a database"
MALFORMED = "database disk image is malformed"
# SQLite's integrity_check lines that name an index whose entries disagree with its table
_INDEX_LINE = re.compile(
    r"^(?:row \d+ missing from index|wrong # of entries in index|non-unique entry in index) (\S+)"
)


@dataclass
class StorageReport:
    """What the engine found. ``readable`` is False when the database could not be opened or
    read at all (nothing else can be checked then)."""

    method: str
    intact: bool = True
    readable: bool = True
    problems: list[str] = field(default_factory=list)
    more_problems: bool = False
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    advice: str | None = None
    checked: dict[str, int] = field(default_factory=dict)  # e.g. {"indexes": 41, "tables": 24}

    def add(self, problem: str) -> None:
        self.intact = False
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)
        else:
            self.more_problems = True

    def as_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "intact": self.intact,
            "readable": self.readable,
            "problems": self.problems,
            "more_problems": self.more_problems,
            "skipped": self.skipped,
            "notes": self.notes,
            "advice": self.advice,
            "checked": self.checked,
        }


def sqlite_path(url: str) -> Path | None:
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).resolve()


def damaged_sqlite_advice(path: Path | None, *, indexes_only: bool = False) -> str:
    """What to do about a damaged SQLite file: it cannot be mended in place."""
    name = str(path) if path else "the database file"
    reindex = (
        f"Only indexes are named, and they can be rebuilt from their tables: `sqlite3 {name} "
        '"REINDEX;"`, then check again. '
        if indexes_only
        else ""
    )
    return (
        "SQLite cannot repair a damaged file in place. Stop the server and copy the file "
        f"(with its -wal file, if any) aside first. {reindex}Otherwise restore the newest "
        "backup and check it with `labelhouse db check --deep`; without a backup, salvage what "
        f"is readable with `sqlite3 {name} .recover | sqlite3 recovered.db`, check recovered.db "
        "the same way, and put it in place of the damaged file."
    )


def damage_sentence(exc: BaseException, url: str) -> str | None:
    """What is wrong, in a sentence, when a database cannot be read because its file is
    damaged (None for any other error)."""
    message = str(getattr(exc, "orig", None) or exc)
    path = sqlite_path(url) if url.startswith("sqlite") else None
    name = str(path) if path else "The database"
    if NOT_A_DATABASE in message:
        return (
            f"{name} is not a SQLite database: its first page (the file header) is damaged, "
            "or it is another kind of file."
        )
    if MALFORMED in message:
        return f"{name} is damaged: SQLite reports that the database disk image is malformed."
    return None


def describe_database_error(exc: BaseException, url: str) -> str | None:
    """:func:`damage_sentence` and what to do about it (None for other errors)."""
    sentence = damage_sentence(exc, url)
    if sentence is None:
        return None
    path = sqlite_path(url) if url.startswith("sqlite") else None
    return f"{sentence} {damaged_sqlite_advice(path)}"


def check_storage(
    engine: Engine,
    *,
    tables: Collection[str] = (),
    progress: Progress | None = None,
) -> StorageReport:
    """Ask the engine to look for damage. ``tables``: the app's tables (PostgreSQL checks
    their indexes and heaps; SQLite checks the whole file anyway)."""
    if engine.dialect.name == "sqlite":
        return _check_sqlite(engine, progress)
    if engine.dialect.name == "postgresql":
        return _check_postgresql(engine, tables, progress)
    return StorageReport(
        method="none", skipped=[f"no storage check for {engine.dialect.name} databases"]
    )


# -- SQLite ------------------------------------------------------------------------------------


def _check_sqlite(engine: Engine, progress: Progress | None) -> StorageReport:
    report = StorageReport(method="SQLite integrity_check (every page) and foreign_key_check")
    path = sqlite_path(str(engine.url))
    if progress:
        progress("reading every page (PRAGMA integrity_check)", 0, 0)
    try:
        with engine.connect() as conn:
            report.checked["pages"] = int(conn.exec_driver_sql("PRAGMA page_count").scalar_one())
            _integrity_lines(conn, report)
            if progress:
                progress("checking references (PRAGMA foreign_key_check)", 0, 0)
            _foreign_keys(conn, report)
    except DBAPIError as exc:  # opening failed, or a page too damaged to read at all
        sentence = damage_sentence(exc, str(engine.url))
        if sentence is None:
            raise
        report.intact = report.readable = False
        report.problems.append(sentence)
    if not report.intact:
        indexes_only = bool(report.problems) and all(_INDEX_LINE.match(p) for p in report.problems)
        report.advice = damaged_sqlite_advice(path, indexes_only=indexes_only)
    return report


def _pragma_lines(conn: Connection, pragma: str) -> list[str]:
    rows = conn.exec_driver_sql(f"PRAGMA {pragma}({MAX_PROBLEMS + 1})").all()
    lines = [line for (row,) in rows for line in str(row).splitlines()]
    return [line.strip() for line in lines if line.strip() and not line.startswith("***")]


def _integrity_lines(conn: Connection, report: StorageReport) -> None:
    try:
        lines = _pragma_lines(conn, "integrity_check")
    except DBAPIError as exc:
        if MALFORMED not in str(exc.orig):
            raise
        conn.rollback()
        # integrity_check gives up on a page it cannot walk; quick_check (no index
        # cross-check) usually still names it
        report.add(
            "SQLite stopped the full check: the database disk image is malformed (a page "
            "is too damaged to read)."
        )
        try:
            lines = _pragma_lines(conn, "quick_check")
        except DBAPIError as again:
            if MALFORMED not in str(again.orig):
                raise
            conn.rollback()
            return
    if lines != ["ok"]:
        for line in _readable(conn, lines):
            report.add(line)


_PAGE = re.compile(r"\bpage (\d+)", re.IGNORECASE)


def _readable(conn: Connection, lines: list[str]) -> list[str]:
    """SQLite's lines, each naming the table or index it is about (``dbstat`` maps a page
    number to its b-tree, where this SQLite has it; sqlite_master an index to its table)."""
    try:
        objects = {
            name: (kind, table)
            for kind, name, table in conn.exec_driver_sql(
                "SELECT type, name, tbl_name FROM sqlite_master WHERE type IN ('table', 'index')"
            )
        }
        pages = sorted({int(p) for line in lines for p in _PAGE.findall(line)})
        owners: dict[int, str] = {}
        if pages:
            marks = ", ".join(str(p) for p in pages[:50])
            owners = dict(
                conn.exec_driver_sql(
                    f"SELECT pageno, name FROM dbstat WHERE pageno IN ({marks})"
                ).all()
            )
    except DBAPIError:
        conn.rollback()
        return lines
    out = []
    for line in lines:
        index = _INDEX_LINE.match(line)
        named = index.group(1) if index else None
        if named is None:
            found = [owners[int(p)] for p in _PAGE.findall(line) if int(p) in owners]
            named = found[0] if found else None
        if named in objects:
            kind, table = objects[named]
            if index:
                where = f"table {table}"
            else:
                where = f"table {named}" if kind == "table" else f"index {named} of table {table}"
            line = f"{line} ({where})"
        out.append(line)
    return out


def _foreign_keys(conn: Connection, report: StorageReport) -> None:
    counts: dict[tuple[str, str], int] = {}
    first: dict[tuple[str, str], int] = {}
    try:
        for table, rowid, parent, _fkid in conn.exec_driver_sql("PRAGMA foreign_key_check"):
            key = (str(table), str(parent))
            counts[key] = counts.get(key, 0) + 1
            first.setdefault(key, rowid)
    except DBAPIError as exc:
        if MALFORMED not in str(exc.orig):
            raise
        conn.rollback()
        report.intact = False
        report.skipped.append("foreign keys: a damaged page stopped PRAGMA foreign_key_check")
        return
    for (table, parent), n in sorted(counts.items()):
        report.add(
            f"{n} row{'s' if n != 1 else ''} of table {table} refer to missing rows of "
            f"{parent} (e.g. rowid {first[(table, parent)]})"
        )


# -- PostgreSQL --------------------------------------------------------------------------------

_INDEXES = text(
    """
    SELECT ci.oid, ci.relname, ct.relname
    FROM pg_index i
    JOIN pg_class ci ON ci.oid = i.indexrelid
    JOIN pg_class ct ON ct.oid = i.indrelid
    JOIN pg_am am ON am.oid = ci.relam
    JOIN pg_namespace n ON n.oid = ct.relnamespace
    WHERE am.amname = 'btree' AND n.nspname = current_schema()
      AND ct.relname = ANY(:tables) AND i.indisvalid AND i.indisready
      AND ci.relpersistence <> 't'
    ORDER BY ct.relname, ci.relname
    """
)
_TABLES = text(
    """
    SELECT c.oid, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = current_schema() AND c.relname = ANY(:tables) AND c.relkind = 'r'
    ORDER BY c.relname
    """
)
_INDEX_CHECK = text("SELECT bt_index_check(CAST(:oid AS oid)::regclass, true)")
_HEAP_CHECK = text(
    "SELECT blkno, offnum, msg FROM verify_heapam(CAST(:oid AS oid)::regclass, "
    "on_error_stop => false, check_toast => true) LIMIT :limit"
)
_PRIVILEGE = "42501"
_UNDEFINED_FUNCTION = "42883"


def _sqlstate(exc: DBAPIError) -> str | None:
    return getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)


def _first_line(exc: DBAPIError) -> str:
    return str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else repr(exc.orig)


def _amcheck_ready(conn: Connection, report: StorageReport) -> bool:
    if conn.scalar(text("SELECT 1 FROM pg_extension WHERE extname = 'amcheck'")):
        return True
    if not conn.scalar(text("SELECT 1 FROM pg_available_extensions WHERE name = 'amcheck'")):
        report.skipped.append(
            "indexes and tables: the amcheck extension is not installed on this server (it "
            "ships with PostgreSQL's contrib modules, e.g. the postgresql-contrib package)"
        )
        return False
    try:
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS amcheck"))
    except DBAPIError as exc:
        reason = (
            "this role may not create it"
            if _sqlstate(exc) == _PRIVILEGE
            else f"creating it failed: {_first_line(exc)}"
        )
        report.skipped.append(
            f"indexes and tables: the amcheck extension is not enabled in this database and "
            f"{reason}; ask a database administrator to run `CREATE EXTENSION amcheck;` in "
            "it (and to GRANT EXECUTE on its functions to this role), then check again"
        )
        return False
    report.notes.append("enabled the amcheck extension in this database (CREATE EXTENSION)")
    return True


def _check_postgresql(
    engine: Engine, tables: Collection[str], progress: Progress | None
) -> StorageReport:
    report = StorageReport(
        method="PostgreSQL amcheck: bt_index_check (heapallindexed) on every btree index "
        "and verify_heapam on every table of the app"
    )
    names = sorted(tables)
    # autocommit: one failing check (a corrupt index raises) must not abort the others
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if not _amcheck_ready(conn, report):
            report.method = "PostgreSQL (amcheck unavailable)"
            return report
        indexes = conn.execute(_INDEXES, {"tables": names}).all()
        heaps = conn.execute(_TABLES, {"tables": names}).all()
        total = len(indexes) + len(heaps)
        done = 0
        for oid, index, table in indexes:
            if progress:
                progress(f"index {index}", done, total)
            try:
                conn.execute(_INDEX_CHECK, {"oid": oid})
            except DBAPIError as exc:
                if _sqlstate(exc) == _PRIVILEGE:
                    return _not_allowed(report, exc)
                report.add(f"index {index} of table {table}: {_first_line(exc)}")
            done += 1
        report.checked["indexes"] = len(indexes)
        for oid, table in heaps:
            if progress:
                progress(f"table {table}", done, total)
            try:
                for blkno, offnum, msg in conn.execute(
                    _HEAP_CHECK, {"oid": oid, "limit": MAX_PROBLEMS + 1}
                ):
                    report.add(f"table {table}, page {blkno}, item {offnum}: {msg}")
            except DBAPIError as exc:
                if _sqlstate(exc) == _PRIVILEGE:
                    return _not_allowed(report, exc)
                if _sqlstate(exc) == _UNDEFINED_FUNCTION:  # amcheck older than 1.3
                    report.skipped.append(
                        "tables: this amcheck has no verify_heapam (PostgreSQL 14 or later)"
                    )
                    break
                report.add(f"table {table}: {_first_line(exc)}")
            done += 1
        else:
            report.checked["tables"] = len(heaps)
        if progress:
            progress("done", total, total)
    if not report.intact:
        report.advice = (
            "A damaged index is rebuilt from its table with `REINDEX INDEX CONCURRENTLY name;`. "
            "Damaged table pages cannot be repaired: restore from a backup (or a standby), and "
            "look for the cause (storage, memory, an unsafe fsync setting) before relying on "
            "this server again."
        )
    return report


def _not_allowed(report: StorageReport, exc: DBAPIError) -> StorageReport:
    report.skipped.append(
        "indexes and tables: this role may not run amcheck's functions "
        f"({_first_line(exc)}); ask a database administrator to GRANT EXECUTE ON FUNCTION "
        "bt_index_check(regclass, boolean) and verify_heapam to it, or run the check as the "
        "database owner"
    )
    report.method = "PostgreSQL (amcheck not allowed)"
    return report
