"""The SQLite write gate: writers of one file queue in order, across threads and processes,
and hold their turn until their transaction has ended."""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from labelhouse.db.engine import WriteGate, _sqlite_path, open_database
from labelhouse.errors import Busy


def _hold(path: str, ready, release) -> None:  # runs in a child process
    gate = WriteGate(Path(path))
    with gate.held():
        ready.set()
        release.wait(10)


@contextmanager
def held_by_a_thread(gate: WriteGate) -> Iterator[None]:
    """``gate`` held by another thread of this process until the block ends."""
    taken, release = threading.Event(), threading.Event()

    def hold() -> None:
        with gate.held():
            taken.set()
            release.wait(10)

    t = threading.Thread(target=hold)
    t.start()
    try:
        assert taken.wait(10)
        yield
    finally:
        release.set()
        t.join(10)


@contextmanager
def held_by_another_process(db_file: Path) -> Iterator[Any]:
    """The gate of ``db_file`` held by a child process; yields the event that releases it."""
    ctx = multiprocessing.get_context("fork")
    ready, release = ctx.Event(), ctx.Event()
    child = ctx.Process(target=_hold, args=(str(db_file), ready, release))
    child.start()
    try:
        assert ready.wait(10)
        yield release
    finally:
        release.set()
        child.join(10)


def test_a_writer_in_another_process_waits_for_the_gate(tmp_path):
    db_file = tmp_path / "x.db"
    ctx = multiprocessing.get_context("fork")
    ready, release = ctx.Event(), ctx.Event()
    child = ctx.Process(target=_hold, args=(str(db_file), ready, release))
    child.start()
    try:
        assert ready.wait(10)
        assert (tmp_path / "x.db-writer.lock").exists()
        got = threading.Event()

        def enter() -> None:
            with WriteGate(db_file).held():
                got.set()

        t = threading.Thread(target=enter)
        t.start()
        assert not got.wait(0.3)  # the child holds the gate
        release.set()
        assert got.wait(10)
        t.join()
    finally:
        release.set()
        child.join(10)


def test_a_writer_in_another_process_is_waited_for_only_until_the_timeout(tmp_path):
    """The flock used to block without a timeout (one request waited 48.7 s behind an
    import); now the wait ends with Busy, and a later writer still gets the gate."""
    db_file = tmp_path / "x.db"
    ctx = multiprocessing.get_context("fork")
    ready, release = ctx.Event(), ctx.Event()
    child = ctx.Process(target=_hold, args=(str(db_file), ready, release))
    child.start()
    gate = WriteGate(db_file, timeout=0.3)
    outcome: list[object] = []

    def enter() -> None:
        started = time.monotonic()
        try:
            with gate.held():
                outcome.append("entered")
        except Busy as exc:
            outcome.append((exc, time.monotonic() - started))

    try:
        assert ready.wait(10)
        t = threading.Thread(target=enter, daemon=True)
        t.start()
        t.join(5)
        assert not t.is_alive(), "the gate's wait has no bound"
        [(exc, waited)] = outcome
        assert 0.25 <= waited < 2 and "Try again" in exc.message
        # a second writer that also gives up, then one that waits long enough
        with pytest.raises(Busy), gate.held():
            pass
        gate.timeout = 10
        got = threading.Event()

        def enter_patiently() -> None:
            with gate.held():
                got.set()

        t = threading.Thread(target=enter_patiently)
        t.start()
        assert not got.wait(0.3)  # the child still holds it
        release.set()
        assert got.wait(10)  # woken when the child lets go
        t.join()
    finally:
        release.set()
        child.join(10)


def test_threads_take_turns_and_the_gate_outlasts_the_commit(tmp_path):
    db = open_database(f"sqlite:///{tmp_path / 'y.db'}")
    with db.session() as s:
        s.execute(text("CREATE TABLE counter (n INTEGER)"))
        s.execute(text("INSERT INTO counter VALUES (0)"))

    def bump() -> None:
        for _ in range(50):
            with db.session() as s:  # read, think, write: only safe if writers take turns
                n = s.execute(text("SELECT n FROM counter")).scalar_one()
                time.sleep(0)
                s.execute(text("UPDATE counter SET n = :n"), {"n": n + 1})

    threads = [threading.Thread(target=bump) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with db.read_session() as s:
        assert s.execute(text("SELECT n FROM counter")).scalar_one() == 400
    db.dispose()


def test_in_memory_databases_have_no_lock_file():
    assert _sqlite_path("sqlite://") is None
    assert _sqlite_path("sqlite:///:memory:") is None
    assert _sqlite_path("sqlite:///data/x.db").name == "x.db"


def test_a_writer_that_waits_too_long_gets_a_503_that_says_to_retry(app, db, owner):
    if not db.is_sqlite:
        pytest.skip("the write gate is SQLite's")
    from tests.factories import add_tasks, login, make_project, text_rows

    pid = make_project(db, owner)
    add_tasks(db, owner, pid, text_rows(1))
    client = login(app, owner)
    db._gate.timeout = 0.2
    held, done = threading.Event(), threading.Event()

    def hold() -> None:
        with db._gate.held():
            held.set()
            done.wait(10)

    t = threading.Thread(target=hold)
    t.start()
    try:
        assert held.wait(5)
        r = client.post(f"/api/projects/{pid}/next")
    finally:
        done.set()
        t.join()
    assert r.status_code == 503
    assert r.headers["retry-after"] == "2"
    error = r.json()["error"]
    assert error["code"] == "busy" and "Try again" in error["message"]
    assert client.post(f"/api/projects/{pid}/next").status_code == 200  # and it recovers


def test_a_begin_refused_by_a_writer_outside_the_gate_is_busy(tmp_path):
    """A writer that bypasses the gate (another program on the file) holds SQLite's lock:
    the unit of work's BEGIN, sent straight to the driver, still ends as Busy (a 503 that
    says to retry), not a raw driver error; and the next one works once the lock is free."""
    import sqlite3

    from labelhouse.db.options import DatabaseOptions

    path = tmp_path / "outside.db"
    db = open_database(f"sqlite:///{path}", DatabaseOptions(lock_timeout=0.2))
    with db.session() as s:
        s.execute(text("CREATE TABLE t (x INTEGER)"))
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(Busy) as info, db.session() as s:
            s.execute(text("INSERT INTO t VALUES (1)"))
        assert "Try again" in info.value.message
    finally:
        other.execute("ROLLBACK")
        other.close()
    with db.session() as s:
        s.execute(text("INSERT INTO t VALUES (2)"))
    with db.read_session() as s:
        assert s.execute(text("SELECT x FROM t")).scalars().all() == [2]
    db.dispose()


def test_held_if_free_takes_a_free_gate_and_never_waits_for_a_held_one(tmp_path):
    """The event loop's way in (web/api/lean_routes.py): the gate when nobody holds it,
    else False at once, holding nothing; inside, the same thread's sessions go through."""
    gate = WriteGate(tmp_path / "x.db", timeout=5)
    with gate.held_if_free() as free:
        assert free
        with gate.held():  # the unit of work inside: no second wait, no deadlock
            pass
    with held_by_a_thread(gate):
        t0 = time.monotonic()
        with gate.held_if_free() as free:
            assert not free
        assert time.monotonic() - t0 < 0.5  # did not wait for the holder
    with gate.held_if_free() as free:  # and nothing was left held by the refusal
        assert free


def test_held_if_free_is_refused_while_another_process_holds_the_gate(tmp_path):
    db_file = tmp_path / "x.db"
    gate = WriteGate(db_file, timeout=5)
    with held_by_another_process(db_file) as release:
        with gate.held_if_free() as free:
            assert not free
        got = threading.Event()

        def enter() -> None:  # a regular writer after the refusal still queues and gets in
            with gate.held():
                got.set()

        t = threading.Thread(target=enter)
        t.start()
        assert not got.wait(0.3)
        release.set()
        assert got.wait(10)
        t.join()
    with gate.held_if_free() as free:
        assert free


def test_held_if_free_lets_go_when_the_work_inside_fails(tmp_path):
    gate = WriteGate(tmp_path / "x.db", timeout=0.3)
    with pytest.raises(RuntimeError), gate.held_if_free() as free:
        assert free
        raise RuntimeError("the unit of work failed")
    done = threading.Event()

    def enter() -> None:  # free again, for another thread too (else Busy after 0.3 s)
        with gate.held():
            done.set()

    t = threading.Thread(target=enter)
    t.start()
    assert done.wait(5)
    t.join()
