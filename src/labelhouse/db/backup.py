"""``labelhouse backup``: a consistent copy of a running SQLite installation.

The database is copied with SQLite's online backup API, a few thousand pages per step,
while annotators keep working. The copy is one snapshot because the source connection holds
one read transaction for the whole copy: in WAL mode a reader and the writers never wait for
each other, and every step reads that same snapshot. Without the held transaction SQLite
restarts a paged backup from its first page whenever another connection commits; under a
steady stream of commits it may never finish (tried with one writer committing
continuously, 50 pages per step: 1,800 steps in 20 s and still not done). The
price is that the WAL cannot be checkpointed past the snapshot until the copy ends, so it
grows by what is written meanwhile.

The media folder is copied after the database: an upload's file is written before the row
that names it is committed (``tasks.service.store_file``) and files are never changed or
deleted (their names are their SHA-256), so every file the copied database names is there.
Everything is written into a hidden folder beside the target and renamed into place at the
end, so an interrupted backup never looks like a complete one. PostgreSQL installations are
backed up with PostgreSQL's own tools (:mod:`labelhouse.db.backup_postgres`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from labelhouse.db.backup_manifest import (
    DATABASE_FILE,
    FILES_DIR,
    FORMAT,
    FORMAT_VERSION,
    FileEntry,
    copy_hashing,
    hash_file,
    media_files,
    sync_folder,
    write_manifest,
)
from labelhouse.db.integrity import damage_sentence, sqlite_path
from labelhouse.errors import Conflict, InvalidInput, LabelhouseError, NotFound

# 4,096 pages of 4 KiB: 16 MiB per step, a progress report every few hundredths of a second.
PAGES_PER_STEP = 4096
# Waiting for the source's WAL to be readable (another process may be recovering it).
BUSY_TIMEOUT_SECONDS = 60.0

Progress = Callable[[str, int, int], None]  # (what, bytes done, bytes in all)


@dataclass(frozen=True)
class BackupResult:
    path: Path
    revisions: list[str]
    counts: dict[str, int]
    database_bytes: int
    database_seconds: float  # the online copy alone
    media_files: int
    media_bytes: int


def back_up_sqlite(
    database_url: str,
    media_dir: Path | None,
    target: Path,
    *,
    tables: Collection[str],
    version: str,
    pages_per_step: int = PAGES_PER_STEP,
    progress: Progress | None = None,
) -> BackupResult:
    """Copy the database at ``database_url`` and the media folder into the new or empty
    folder ``target``, with a manifest counting the rows of ``tables``.

    ``progress`` is called after every step of the database copy (while its snapshot is
    held: writers keep going) and after every chunk of media, in bytes."""
    source = sqlite_path(database_url)
    if source is None:
        raise InvalidInput(
            f"{database_url} is not a database file that can be backed up: "
            "`labelhouse backup` copies an installation's SQLite file."
        )
    if not source.is_file():
        raise NotFound(
            f"There is no database at {source}, so there is nothing to back up: pass the "
            "installation's folder with --data-dir (or set LABELHOUSE_DATA_DIR)."
        )
    target = target.absolute()
    media = media_dir.resolve() if media_dir is not None else None
    check_new_folder(target, "the backup")
    if media is not None and target.resolve().is_relative_to(media):
        raise InvalidInput(
            f"{target} is inside the media folder {media}, so the backup would copy itself: "
            "choose a folder outside it."
        )
    say = progress or _quiet
    with building(target, "partial") as work:
        started = time.perf_counter()
        taken_at, revisions, counts, page_size = _copy_database(
            source, work / DATABASE_FILE, tables, pages_per_step, say
        )
        database_seconds = time.perf_counter() - started
        size, sha = hash_file(work / DATABASE_FILE)
        entries = [FileEntry(DATABASE_FILE, size, sha)]
        entries += _copy_media(media, work / FILES_DIR, say, source)
        data = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "labelhouse_version": version,
            "created_at": taken_at.isoformat(timespec="seconds").replace("+00:00", "Z"),
            "database": {
                "dialect": "sqlite",
                "file": DATABASE_FILE,
                "alembic_revision": revisions,
                "page_size": page_size,
                "sqlite_version": sqlite3.sqlite_version,
            },
            "source": {"database": str(source), "media": str(media) if media else None},
            "counts": counts,
        }
        write_manifest(work, data, entries)
    return BackupResult(
        path=target,
        revisions=revisions,
        counts=counts,
        database_bytes=size,
        database_seconds=database_seconds,
        media_files=len(entries) - 1,
        media_bytes=sum(e.size for e in entries[1:]),
    )


def check_new_folder(path: Path, what: str, advice: str = "Choose another folder.") -> None:
    """Refuse a path that is a file or a folder with anything in it."""
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        raise InvalidInput(f"{path} exists and is not a folder: choose a new folder for {what}.")
    if path.is_dir() and any(path.iterdir()):
        raise Conflict(
            f"{path} is not empty: {what} goes into a new or empty folder, so that nothing "
            f"already there can be mistaken for part of it. {advice}"
        )


@contextlib.contextmanager
def building(target: Path, kind: str, what: str = "backup") -> Iterator[Path]:
    """A hidden folder beside ``target``, renamed to it when the block succeeds and removed
    when it fails; disk errors become a sentence that names the path."""
    work = target.parent / f".{target.name}.{kind}-{os.getpid()}"
    try:
        work.mkdir(parents=True)
        try:
            yield work
            sync_folder(work)
            os.replace(work, target)  # onto a missing or empty folder: atomic
            sync_folder(target.parent)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
    except OSError as exc:
        where = exc.filename or target
        raise LabelhouseError(
            f"Could not write {where}: {exc.strerror or exc}. Nothing was kept at {target}; "
            f"free some space or choose another folder, then run the {what} again."
        ) from None


def _copy_database(
    source: Path,
    copy: Path,
    tables: Collection[str],
    pages_per_step: int,
    say: Progress,
) -> tuple[datetime, list[str], dict[str, int], int]:
    """The online copy; then the copy's revision and row counts (those of the snapshot)."""
    url = f"sqlite:///{source}"
    try:
        src = sqlite3.connect(source, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
    except sqlite3.Error as exc:
        raise _unreadable(exc, source, url) from None
    try:
        dst = sqlite3.connect(copy, isolation_level=None)
        try:
            # what every Labelhouse connection sets; in rollback-journal mode the held read
            # transaction would block writers for the whole copy
            if src.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                src.execute("PRAGMA journal_mode=WAL")
            src.execute("BEGIN")
            page_size = src.execute("PRAGMA page_size").fetchone()[0]
            src.execute("SELECT count(*) FROM sqlite_master").fetchone()  # the snapshot
            taken_at = datetime.now(UTC)

            def step(_status: int, remaining: int, total: int) -> None:
                say("database", (total - remaining) * page_size, total * page_size)

            src.backup(dst, pages=pages_per_step, progress=step)
            src.execute("ROLLBACK")  # let checkpoints go on
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            revisions = sorted(r[0] for r in dst.execute("SELECT version_num FROM alembic_version"))
            present = {
                r[0] for r in dst.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
            counts = {
                t: dst.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]
                for t in sorted(tables)
                if t in present
            }
        finally:
            dst.close()
    except sqlite3.Error as exc:
        raise _unreadable(exc, source, url) from None
    finally:
        src.close()
    with copy.open("rb+") as f:
        os.fsync(f.fileno())
    return taken_at, revisions, counts, page_size


def _unreadable(exc: sqlite3.Error, source: Path, url: str) -> LabelhouseError:
    if "no such table: alembic_version" in str(exc):
        return InvalidInput(
            f"{source} has no Labelhouse schema (no alembic_version table): is it a "
            "Labelhouse database? Nothing was backed up."
        )
    sentence = damage_sentence(exc, url)
    if sentence is not None:
        return LabelhouseError(
            f"{sentence} A copy of it would be damaged too: see docs/database-checks.md "
            "(`labelhouse db check --deep`). Nothing was backed up."
        )
    return LabelhouseError(f"Could not copy {source}: {exc}. Nothing was backed up.")


def _copy_media(media: Path | None, into: Path, say: Progress, database: Path) -> list[FileEntry]:
    """The media files; never the live database or its -wal, -shm and lock files, should
    the media folder be the data folder itself (LABELHOUSE_STORAGE_DIR)."""
    if media is None:
        return []
    found = [
        (path, relative)
        for path, relative in media_files(media)
        if not (path.parent == database.parent and path.name.startswith(database.name))
    ]
    total = sum(path.stat().st_size for path, _ in found)
    done = 0
    say("media", 0, total)

    def moved(n: int) -> None:
        nonlocal done
        done += n
        say("media", done, total)

    entries = []
    for path, relative in found:
        size, sha = copy_hashing(path, into / relative, moved)
        entries.append(FileEntry(f"{FILES_DIR}/{relative}", size, sha))
    if entries:
        sync_folder(into)
    return entries


def _quiet(_what: str, _done: int, _total: int) -> None:
    """No progress wanted."""
