"""The bulk path of task import (``labelhouse.tasks.bulk``): COPY text on PostgreSQL fed by a
background thread, executemany on SQLite. Whatever goes wrong while batches are in flight —
a bad row, a database error inside the thread, an exception in the caller, a killed
process — nothing is stored and no thread is left behind."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import orjson
import psycopg
import pytest
from sqlalchemy import create_engine, select, text

from labelhouse.errors import InvalidInput
from labelhouse.tasks import staged_import
from labelhouse.tasks.bulk import copy_text
from labelhouse.tasks.importer import BATCH_SIZE, FIRST_BATCH_SIZE, import_tasks, run_import
from labelhouse.tasks.models import TaskImport
from labelhouse.tasks.queries import recent_imports, transfer_view
from labelhouse.tasks.readers import read_csv
from labelhouse.tasks.service import list_tasks
from labelhouse.tasks.staged_import import BATCH_ROWS
from tests.factories import add_tasks, make_project, run_in_threads, text_rows
from tests.helpers_data import (
    count_rows,
    count_tasks,
    detached,
    jsonl_bytes,
    predictions_of,
    tasks_of,
)

THREAD = "labelhouse-import-copy"


@pytest.fixture
def project(db, owner):
    return make_project(db, owner)


def service_import(db, owner, project_id, data: bytes, **kwargs):
    """As the CLI and the API import: one transaction on PostgreSQL, staged on SQLite."""
    return run_import(db, owner.actor, project_id, io.BytesIO(data), filename="t.jsonl", **kwargs)


def copy_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == THREAD]


def assert_nothing_stored(db, project_id):
    assert count_tasks(db, project_id) == 0
    assert count_rows(db, TaskImport) == 0
    assert copy_threads() == []


# -- several batches in flight ------------------------------------------------------------------


def test_many_batches_are_stored_in_file_order_and_counted(db, owner, project):
    interval = sys.getswitchinterval()
    rows = text_rows(3 * BATCH_SIZE + 7)
    add_tasks(db, owner, project, rows[-5:])  # already in the project: duplicates
    result = service_import(db, owner, project, jsonl_bytes(rows))
    assert (result.rows, result.created, result.duplicates) == (
        3 * BATCH_SIZE + 7,
        3 * BATCH_SIZE + 2,
        5,
    )
    tasks = tasks_of(db, project)
    assert [t.external_id for t in tasks] == [r["external_id"] for r in rows[-5:] + rows[:-5]]
    assert [t.data for t in tasks[5:7]] == [{"text": "item 0"}, {"text": "item 1"}]
    assert copy_threads() == []
    assert sys.getswitchinterval() == interval


def test_a_bad_row_after_several_batches_were_handed_over_stores_nothing(db, owner, project):
    interval = sys.getswitchinterval()
    rows = [*text_rows(3 * BATCH_SIZE + 10), {"no": "text"}, *text_rows(BATCH_SIZE, start=10**6)]
    with pytest.raises(InvalidInput) as exc:
        service_import(db, owner, project, jsonl_bytes(rows))
    assert exc.value.details[0].field == f"line {3 * BATCH_SIZE + 11}"
    assert_nothing_stored(db, project)
    assert sys.getswitchinterval() == interval


def test_an_exception_in_the_caller_while_batches_are_queued_stores_nothing(
    db, owner, project, monkeypatch
):
    monkeypatch.setattr(staged_import, "BATCH_SECONDS", 3600.0)  # every batch quick enough
    calls = []

    def on_progress(rows: int) -> None:
        calls.append(rows)
        if len(calls) == 3:
            raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError, match="interrupted"):
        service_import(
            db, owner, project, jsonl_bytes(text_rows(5 * BATCH_SIZE)), on_progress=on_progress
        )
    if db.is_sqlite:  # staged: short write transactions, twice as long while they are quick
        assert calls == [BATCH_ROWS * k for k in (1, 3, 7)]
    else:  # a small first batch, then full ones
        assert calls == [FIRST_BATCH_SIZE + k * BATCH_SIZE for k in range(3)]
    assert_nothing_stored(db, project)


@pytest.fixture
def refusing_trigger(db):
    """A trigger that makes PostgreSQL refuse one task's INSERT: a database error that only
    the server can raise, inside the COPY thread's INSERT … SELECT. (This used to be a NUL
    character, which the importer now refuses before the database sees it.)"""
    statements = (
        "CREATE FUNCTION lh_test_refuse() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'refused by the test trigger'; END $$",
        "CREATE TRIGGER lh_test_refuse BEFORE INSERT ON task FOR EACH ROW "
        "WHEN (NEW.data->>'text' = 'refuse me') EXECUTE FUNCTION lh_test_refuse()",
    )
    engine = create_engine(db.url)
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))
    yield
    with engine.begin() as conn:
        conn.execute(text("DROP TRIGGER lh_test_refuse ON task"))
        conn.execute(text("DROP FUNCTION lh_test_refuse()"))
    engine.dispose()


def test_a_database_error_inside_the_copy_thread_stores_nothing(db, owner, project, request):
    if db.is_sqlite:
        pytest.skip("PostgreSQL only: the COPY thread exists only there")
    request.getfixturevalue("refusing_trigger")
    rows = [
        *text_rows(2 * BATCH_SIZE + 3),
        {"text": "refuse me"},
        *text_rows(BATCH_SIZE, start=10**6),
    ]
    with pytest.raises(psycopg.errors.RaiseException, match="refused by the test trigger"):
        service_import(db, owner, project, jsonl_bytes(rows))
    assert_nothing_stored(db, project)


def test_rows_with_predictions_wait_for_the_queued_batches_before_them(db, owner, project):
    """File order decides which row of a key wins, across the bulk path (queued on a thread on
    PostgreSQL) and the ORM path (rows with predictions). Rows without an external id are
    known by their data, so the same data twice is one task: the first row's."""
    pred = {"value": {"label": "pos"}}
    rows = [
        *text_rows(2 * BATCH_SIZE + 1),
        {"text": "shared"},  # bulk path, queued
        {"data": {"text": "shared"}, "predictions": [pred]},  # ORM path: the same task
        {"data": {"text": "new"}, "external_id": "p1", "predictions": [pred]},
        *text_rows(BATCH_SIZE, start=2 * BATCH_SIZE + 1),
        {"data": {"text": "mine"}, "predictions": [pred]},
        {"text": "mine"},  # bulk path after the ORM row: the same task
    ]
    result = service_import(db, owner, project, jsonl_bytes(rows))
    assert (result.created, result.duplicates) == (3 * BATCH_SIZE + 4, 2)
    tasks = tasks_of(db, project)
    assert [t.external_id for t in tasks][2 * BATCH_SIZE : 2 * BATCH_SIZE + 4] == [
        f"t{2 * BATCH_SIZE}",
        None,
        "p1",
        f"t{2 * BATCH_SIZE + 1}",
    ]
    by_text = {t.data["text"]: t for t in tasks}
    assert [p.value for p in predictions_of(db, by_text["shared"].id)] == []
    assert [p.value for p in predictions_of(db, by_text["new"].id)] == [{"label": "pos"}]
    assert [p.value for p in predictions_of(db, by_text["mine"].id)] == [{"label": "pos"}]


def test_the_session_is_usable_after_a_bulk_import(db, owner, project):
    with db.session() as s:
        first = import_tasks(
            s,
            owner.actor,
            project,
            io.BytesIO(jsonl_bytes(text_rows(BATCH_SIZE + 1))),
            filename="a.jsonl",
        )
        again = import_tasks(
            s,
            owner.actor,
            project,
            io.BytesIO(jsonl_bytes(text_rows(BATCH_SIZE + 2))),
            filename="b.jsonl",
        )
    assert (first.created, again.created, again.duplicates) == (BATCH_SIZE + 1, 1, BATCH_SIZE + 1)
    assert count_tasks(db, project) == BATCH_SIZE + 2


# -- values that need escaping in COPY text ---------------------------------------------------

AWKWARD_IDS = [
    "tab\there",
    "new\nline",
    "cr\rhere",
    "back\\slash",
    "\\N",
    "\\",
    "ünï ✓",
    'q"uote',
    "x" * 200,
]


def test_awkward_external_ids_and_data_round_trip(db, owner, project):
    rows = [
        {
            "external_id": eid,
            "text": f'{eid} \\ \t \n \r \\N "q" ✓',
            "n": i,
            "nested": {"a": [1.5, None, "\\t"]},
        }
        for i, eid in enumerate(AWKWARD_IDS)
    ]
    rows.append({"text": "no id \\ \t ✓"})
    result = service_import(db, owner, project, jsonl_bytes(rows))
    assert result.created == len(rows)
    stored = [(t.external_id, t.data) for t in tasks_of(db, project)]
    assert stored == [
        (r.get("external_id"), {k: v for k, v in r.items() if k != "external_id"}) for r in rows
    ]
    again = service_import(db, owner, project, jsonl_bytes(rows))
    assert (again.created, again.duplicates) == (0, len(rows))


class Row:
    def __init__(self, external_id, dedup_key, data):
        self.external_id, self.dedup_key, self.encoded = external_id, dedup_key, orjson.dumps(data)


def test_copy_text_escapes_only_what_copy_needs():
    rows = [
        Row("a\tb", "x:a\tb", {"t": "x\\y"}),
        Row(None, "h:abc", {"t": "line\nbreak"}),
        Row("\\N", "x:\\N", {}),
    ]
    assert copy_text(rows) == (
        b'a\\tb\tx:a\\tb\t{"t":"x\\\\\\\\y"}\n'
        b'\\N\th:abc\t{"t":"line\\\\nbreak"}\n'
        b"\\\\N\tx:\\\\N\t{}\n"
    )


# -- a killed import ----------------------------------------------------------------------------


def _open_for_writing(path: Path, timeout: float = 60.0) -> int:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:  # no reader yet
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _task_inserts_in_progress(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(
                text(
                    "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                    "WHERE c.relname = 'task' AND l.mode = 'RowExclusiveLock' "
                    "AND l.pid <> pg_backend_pid() AND l.database = "
                    "(SELECT oid FROM pg_database WHERE datname = current_database())"
                )
            ).scalar_one()
    finally:
        engine.dispose()


def test_a_killed_import_leaves_nothing(db, db_url, owner, project, tmp_path):
    """The CLI reads a pipe we never close: it is killed with batches already in the
    database: in its uncommitted transaction on PostgreSQL, staged on SQLite. Nothing of it
    is visible, and the next import into the project clears the leftovers away first."""
    fifo = tmp_path / "tasks.jsonl"
    os.mkfifo(fifo)
    env = {**os.environ, "LABELHOUSE_DATABASE_URL": db_url, "LABELHOUSE_DATA_DIR": str(tmp_path)}
    err = (tmp_path / "stderr.txt").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from labelhouse.cli.main import app; app()",
            "import",
            str(project),
            str(fifo),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=err,
    )
    try:
        fd = _open_for_writing(fifo)
        os.set_blocking(fd, True)
        with os.fdopen(fd, "wb") as pipe:
            pipe.write(jsonl_bytes(text_rows(4 * BATCH_SIZE)))  # returns once mostly read
            pipe.flush()
            if not db.is_sqlite:
                deadline = time.monotonic() + 60
                while _task_inserts_in_progress(db_url) == 0:
                    assert time.monotonic() < deadline, "no batch reached the database"
                    time.sleep(0.05)
            # SQLite writes each batch before reading on: once the pipe (64 KB) has taken
            # the file, all but its last couple of thousand rows are staged.
            assert proc.poll() is None  # still waiting for the end of the file
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        err.close()
        print((tmp_path / "stderr.txt").read_text())  # shown if the test fails
    if not db.is_sqlite:  # the server notices the lost client after its current statement
        deadline = time.monotonic() + 60
        while _task_inserts_in_progress(db_url):
            assert time.monotonic() < deadline
            time.sleep(0.05)
    with db.read_session() as s:
        assert transfer_view(s, owner.actor, project).tasks == 0
        assert recent_imports(s, owner.actor, project) == []
        assert list_tasks(s, owner.actor, project).items == []
    leftovers = count_tasks(db, project)
    if db.is_sqlite:  # whole batches, committed out of sight
        assert leftovers >= BATCH_SIZE and leftovers % BATCH_ROWS == 0
    else:
        assert leftovers == 0
    result = run_import(
        db, owner.actor, project, io.BytesIO(jsonl_bytes(text_rows(10))), filename="next.jsonl"
    )
    assert (result.created, result.duplicates) == (10, 0)  # the dead import's keys are free
    assert count_tasks(db, project) == 10
    assert [i.state for i in detached(db, select(TaskImport))] == ["done"]


def test_reading_a_csv_leaves_the_callers_stream_open():
    """The CLI asks the open file for its position to draw progress."""
    stream = io.BytesIO(b"text\na\nb\n")
    assert [row for _, row in read_csv(stream)] == [{"text": "a"}, {"text": "b"}]
    assert not stream.closed and stream.tell() == len(b"text\na\nb\n")
    stream = io.BytesIO(b"text\na\nb\n")
    rows = read_csv(stream)
    next(rows)
    rows.close()  # abandoned half-way
    assert not stream.closed


def test_a_large_import_refreshes_the_planner_statistics(db, owner, project):
    if db.is_sqlite:
        pytest.skip("PostgreSQL only: SQLite plans the queue from its indexes alone")
    import time

    from sqlalchemy import text

    from labelhouse.tasks.importer import ANALYZE_AFTER

    count = text("SELECT analyze_count FROM pg_stat_user_tables WHERE relname = 'task'")

    def analyses() -> int:
        with db.read_session() as s:
            return s.execute(count).scalar()

    before = analyses()
    service_import(db, owner, project, jsonl_bytes(text_rows(ANALYZE_AFTER - 1)))
    service_import(db, owner, project, jsonl_bytes(text_rows(ANALYZE_AFTER, start=10**6)))
    deadline = time.monotonic() + 10  # backends publish their counters within a second or so
    while analyses() == before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert analyses() == before + 1  # the large import only


def test_batches_of_large_tasks_end_at_batch_bytes(db, owner, project):
    """5,000 tasks of up to 1 MB would be 5 GB in one batch: a batch also ends once its JSON
    reaches BATCH_BYTES, whatever its row count."""
    from labelhouse.tasks.importer import BATCH_BYTES

    text = "x" * (300 * 1024)
    rows = [{"text": f"{i} {text}", "external_id": f"big{i}"} for i in range(120)]
    per_batch = -(-BATCH_BYTES // len(orjson.dumps({"text": rows[0]["text"]})))  # stored JSON
    calls: list[int] = []
    result = service_import(db, owner, project, jsonl_bytes(rows), on_progress=calls.append)
    assert result.created == 120
    assert calls[:2] == [per_batch, 2 * per_batch]
    assert count_tasks(db, project) == 120


# -- the direct path (PostgreSQL: COPY straight into task while no key can exist yet) --------


def test_first_import_of_unique_keys_stays_direct(db, owner, project, writers):
    result = service_import(db, owner, project, jsonl_bytes(text_rows(2 * BATCH_SIZE + 5)))
    assert result.created == 2 * BATCH_SIZE + 5
    assert writers[0].direct is (not db.is_sqlite)
    assert count_tasks(db, project) == 2 * BATCH_SIZE + 5


def test_a_key_repeated_batches_later_switches_to_skipping_duplicates(db, owner, project, writers):
    rows = [
        *text_rows(BATCH_SIZE),
        {"text": "no id"},
        *text_rows(BATCH_SIZE, start=BATCH_SIZE),
        {"text": "no id"},  # the same content hash, batches later
    ]
    result = service_import(db, owner, project, jsonl_bytes(rows))
    assert (result.created, result.duplicates) == (2 * BATCH_SIZE + 1, 1)
    assert writers[0].direct is False
    assert count_tasks(db, project) == 2 * BATCH_SIZE + 1


def test_a_rejected_repeat_of_an_external_id_keeps_the_direct_path(db, owner, project, writers):
    """A repeated external id is rejected before it is written, so the writer never meets a
    key twice and may go on copying straight into the table."""
    rows = [
        *text_rows(BATCH_SIZE),
        {"text": "second t3, rejected", "external_id": "t3"},
        *text_rows(BATCH_SIZE, start=BATCH_SIZE),
    ]
    result = service_import(db, owner, project, jsonl_bytes(rows), skip_invalid=True)
    assert (result.created, result.duplicates, result.rejected) == (2 * BATCH_SIZE, 0, 1)
    assert writers[0].direct is (not db.is_sqlite)
    texts = {t.external_id: t.data["text"] for t in tasks_of(db, project)}
    assert texts["t3"] == "item 3"  # the first row of an id keeps it


def test_a_project_with_tasks_is_never_written_directly(db, owner, project, writers):
    service_import(db, owner, project, jsonl_bytes(text_rows(3)))
    result = service_import(db, owner, project, jsonl_bytes(text_rows(10)))
    assert (result.created, result.duplicates) == (7, 3)
    assert writers[1].direct is False


def test_concurrent_imports_into_one_empty_project_do_not_collide(db, owner, project):
    """Both find the project empty only if they do not overlap: the second waits for the
    first (an advisory lock on PostgreSQL, the write lock on SQLite), then skips its keys."""
    files = [text_rows(BATCH_SIZE + 50), text_rows(BATCH_SIZE + 50, start=BATCH_SIZE)]
    results = []
    errors = run_in_threads(
        lambda rows: results.append(service_import(db, owner, project, jsonl_bytes(rows))), files
    )
    assert errors == []
    # 50 keys overlap: whichever import runs second creates 50 fewer tasks
    assert sorted(r.created for r in results) == [BATCH_SIZE, BATCH_SIZE + 50]
    assert count_tasks(db, project) == 2 * BATCH_SIZE + 50
