"""Storage checks (db/integrity.py): SQLite finds damaged pages in a copy of a real database
whose bytes were overwritten at a page's offset; PostgreSQL runs amcheck, or says why not."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from labelhouse.db import integrity
from labelhouse.db.engine import Database, open_database
from labelhouse.tables import Base
from tests.factories import add_tasks, make_org, make_project, text_rows

APP_TABLES = list(Base.metadata.tables)


def populated(db: Database, tasks: int = 1000) -> Path:
    """A SQLite database with a project of ``tasks`` tasks, closed and checkpointed (every
    page in the main file): its path."""
    owner = make_org(db)
    add_tasks(db, owner, make_project(db, owner), text_rows(tasks))
    db.dispose()
    path = Path(make_url(db.url).database)
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


def damage(path: Path, btree: str, offset: int, data: bytes, leaf: int = 0) -> int:
    """Overwrite ``data`` at ``offset`` of the ``leaf``-th leaf page of a table or index, as
    a bad disk or a torn write would; the page number."""
    with sqlite3.connect(path) as conn:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        pages = [
            p
            for (p,) in conn.execute(
                "SELECT pageno FROM dbstat WHERE name = ? AND pagetype = 'leaf' ORDER BY pageno",
                (btree,),
            )
        ]
    assert len(pages) > leaf, f"{btree} has only {len(pages)} leaf pages"
    with path.open("r+b") as f:
        f.seek((pages[leaf] - 1) * page_size + offset)
        f.write(data)
    return pages[leaf]


def storage(path: Path) -> integrity.StorageReport:
    db = open_database(f"sqlite:///{path}")
    try:
        return integrity.check_storage(db.read_engine)
    finally:
        db.dispose()


@pytest.fixture
def sqlite_db(db, backend):
    if backend != "sqlite":
        pytest.skip("SQLite files only")
    return db


def test_a_clean_sqlite_file_is_intact(sqlite_db):
    path = populated(sqlite_db)
    report = storage(path)
    assert (report.intact, report.readable, report.problems) == (True, True, [])
    assert report.advice is None and report.checked["pages"] == path.stat().st_size // 4096


def test_a_changed_index_entry_is_found_and_named_with_its_table(sqlite_db):
    path = populated(sqlite_db)
    damage(
        path, "ix_task_queue", 4000, b"\x07\x07\x07"
    )  # still a valid page: only integrity_check sees it
    report = storage(path)
    assert not report.intact and report.readable
    assert report.problems and all(
        "index ix_task_queue" in p and p.endswith("(table task)") for p in report.problems
    )
    assert '"REINDEX;"' in report.advice and ".recover" in report.advice


def test_a_garbled_table_page_is_found(sqlite_db):
    path = populated(sqlite_db)
    page = damage(path, "task", 2000, b"\x00" * 2000)
    report = storage(path)
    assert not report.intact
    assert f"On tree page {page} " in report.problems[0] and "(table task)" in report.problems[0]
    assert "REINDEX" not in report.advice
    assert f"sqlite3 {path} .recover | sqlite3 recovered.db" in report.advice


def test_a_page_too_damaged_to_walk_still_gets_a_sentence(sqlite_db):
    path = populated(sqlite_db)
    page = damage(path, "ix_task_queue", 0, b"\x00" * 8)  # no page type: integrity_check gives up
    report = storage(path)
    assert report.problems == [
        "SQLite stopped the full check: the database disk image is malformed (a page is too "
        "damaged to read).",
        f"Page {page}: btreeInitPage() returns error code 11 (index ix_task_queue of table task)",
    ]


def test_a_damaged_header_is_a_sentence_not_an_exception(sqlite_db):
    path = populated(sqlite_db)
    with path.open("r+b") as f:
        f.write(b"not a database!!")
    report = storage(path)
    assert (report.intact, report.readable) == (False, False)
    assert report.problems == [
        f"{path} is not a SQLite database: its first page (the file header) is damaged, or it "
        "is another kind of file."
    ]


# -- PostgreSQL --------------------------------------------------------------------------------


@pytest.fixture
def pg_db(db, backend):
    if backend != "postgresql":
        pytest.skip("PostgreSQL only")
    return db


def test_amcheck_checks_every_index_and_table_of_the_app(pg_db):
    report = integrity.check_storage(pg_db.engine, tables=APP_TABLES)
    assert report.intact and report.skipped == [] and report.problems == []
    with pg_db.engine.connect() as c:
        indexes = c.execute(
            text(
                "SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema() "
                "AND tablename = ANY(:t)"
            ),
            {"t": APP_TABLES},
        ).scalar_one()
    assert report.checked == {"indexes": indexes, "tables": len(APP_TABLES)}


def test_without_the_rights_amcheck_is_skipped_with_the_reason(pg_db):
    role = f"lh_check_{os.getpid()}"
    with pg_db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text(f'CREATE ROLE "{role}" LOGIN'))
    url = make_url(pg_db.url).set(username=role, password=None)
    engine = create_engine(url)
    try:
        report = integrity.check_storage(engine, tables=APP_TABLES)
    finally:
        engine.dispose()
        with pg_db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(text(f'DROP ROLE "{role}"'))
    assert report.intact and report.checked == {}
    (reason,) = report.skipped
    assert "ask a database administrator" in reason
