"""Which driver errors are database faults (503, try again) and which stay bugs (500)."""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

import pytest

from labelhouse.db.faults import classify
from labelhouse.errors import Busy, DatabaseUnavailable


def _raised(call) -> BaseException:
    with pytest.raises(Exception) as info:
        call()
    return info.value


def test_sqlite_faults(tmp_path: Path):
    path = tmp_path / "f.db"
    a = sqlite3.connect(path, isolation_level=None, timeout=0)
    a.execute("CREATE TABLE t (x TEXT)")
    a.execute("CREATE TABLE u (x INTEGER UNIQUE)")
    a.execute("INSERT INTO u VALUES (1)")
    b = sqlite3.connect(path, isolation_level=None, timeout=0)
    a.execute("BEGIN IMMEDIATE")
    locked = classify(_raised(lambda: b.execute("BEGIN IMMEDIATE")))
    a.execute("ROLLBACK")
    assert type(locked) is Busy and locked.code == "busy" and locked.retry_after == 2

    pages = a.execute("PRAGMA page_count").fetchone()[0]
    a.execute(f"PRAGMA max_page_count = {pages}")
    full = classify(_raised(lambda: a.execute("INSERT INTO t VALUES (?)", ("x" * 100_000,))))
    assert isinstance(full, DatabaseUnavailable) and full.code == "database_unavailable"
    assert "disk is full" in full.message and full.retry_after == 60
    assert "database or disk is full" in full.hint

    assert classify(_raised(lambda: a.execute("SELEC 1"))) is None  # a bug stays a bug
    assert classify(_raised(lambda: a.execute("INSERT INTO u VALUES (1)"))) is None


def test_a_full_disk_and_other_errors():
    full = classify(OSError(errno.ENOSPC, "No space left on device"))
    assert isinstance(full, DatabaseUnavailable) and full.retry_after == 60
    assert classify(OSError(errno.ENOENT, "gone")) is None
    assert classify(ValueError("nope")) is None
