"""``labelhouse restore``: a backup folder (:mod:`labelhouse.db.backup`) into a data folder.

Never half-restored: the manifest is checked first (its own hash, its paths, exactly the
files it lists), then every file is copied into a hidden folder beside the target while its
SHA-256 is computed from the bytes written, the copied database's row counts are compared
with the manifest's, and the database is migrated to this version's schema if the backup is
older. Only then does the folder take the target's place, in one rename; a target that held
something (``force``) is renamed aside first, not deleted. Any mismatch removes the hidden
folder and names the file; the target is untouched.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from labelhouse.db.backup import building, check_new_folder
from labelhouse.db.backup_manifest import DATABASE_FILE, Manifest, copy_hashing, read_manifest
from labelhouse.db.migrate import MIGRATIONS_DIR
from labelhouse.errors import Conflict, InvalidInput, LabelhouseError

Progress = Callable[[str, int, int], None]  # (what, bytes done, bytes in all)


@dataclass(frozen=True)
class RestoreResult:
    path: Path
    manifest: Manifest
    revisions_before: list[str]
    revisions_after: list[str]
    set_aside: Path | None  # where the target's earlier contents went (``force``)

    @property
    def upgraded(self) -> bool:
        return self.revisions_before != self.revisions_after


def restore_sqlite(
    backup: Path, target: Path, *, force: bool = False, progress: Progress | None = None
) -> RestoreResult:
    """Restore the backup folder ``backup`` as the data folder ``target`` (new or empty, or
    anything with ``force``)."""
    backup, target = backup.absolute(), target.absolute()
    manifest = read_manifest(backup)
    if manifest.data["database"].get("dialect") != "sqlite":
        raise InvalidInput(f"{backup} is not a backup of a SQLite installation.")
    if target.resolve() == backup.resolve() or backup.resolve().is_relative_to(target.resolve()):
        raise InvalidInput(f"{target} holds the backup itself: restore into another folder.")
    if not force:
        check_new_folder(
            target,
            "a restore",
            "Choose another folder, or pass --force to restore there anyway (what it holds is "
            "moved aside to a folder beside it, not deleted).",
        )
    elif target.exists() and not target.is_dir():
        raise InvalidInput(f"{target} exists and is not a folder: restore into a folder.")
    replaced = target.is_dir() and any(target.iterdir())
    staged = _spare(target) if replaced else target
    with building(staged, "restoring", "restore") as work:
        _copy_checked(backup, work, manifest, progress)
        before = _revisions(work / DATABASE_FILE)
        _check_counts(work / DATABASE_FILE, manifest, backup)
        after = _upgrade(work / DATABASE_FILE, before)
    set_aside = _swap(staged, target) if replaced else None
    return RestoreResult(target, manifest, before, after, set_aside)


def _swap(staged: Path, target: Path) -> Path:
    """Put the restored folder in the target's place, keeping what was there beside it."""
    aside = target.with_name(f"{target.name}.before-restore-{datetime.now(UTC):%Y%m%dT%H%M%SZ}")
    try:
        os.rename(target, aside)
        try:
            os.rename(staged, target)
        except OSError:
            os.rename(aside, target)
            raise
    except OSError as exc:
        shutil.rmtree(staged, ignore_errors=True)
        raise LabelhouseError(
            f"Could not put the restored folder in the place of {target}: "
            f"{exc.strerror or exc}. {target} is as it was; nothing was restored."
        ) from None
    return aside


def _spare(target: Path) -> Path:
    return target.with_name(f".{target.name}.restored-{os.getpid()}")


def _copy_checked(backup: Path, work: Path, manifest: Manifest, progress: Progress | None) -> None:
    total, done = manifest.total_bytes, 0

    def moved(n: int) -> None:
        nonlocal done
        done += n
        if progress is not None:
            progress("restore", done, total)

    for entry in manifest.files:
        size, sha = copy_hashing(backup / entry.path, work / entry.path, moved)
        if (size, sha) != (entry.size, entry.sha256):
            raise InvalidInput(
                f"{backup / entry.path} does not match the backup's manifest (SHA-256 {sha}, "
                f"{size:,} bytes; the manifest says {entry.sha256}, {entry.size:,} bytes): "
                "the backup is damaged or was changed. Nothing was restored."
            )


def _revisions(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return sorted(r[0] for r in conn.execute("SELECT version_num FROM alembic_version"))
    except sqlite3.Error as exc:
        raise InvalidInput(
            f"The backup's database cannot be read ({exc}). Nothing was restored."
        ) from None
    finally:
        conn.close()


def _check_counts(path: Path, manifest: Manifest, backup: Path) -> None:
    """The copy holds the rows the manifest counted (checksums say the bytes are the ones
    written; this says the manifest describes those bytes)."""
    conn = sqlite3.connect(path)
    try:
        found = {
            t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in manifest.counts
        }
    except sqlite3.Error as exc:
        raise InvalidInput(
            f"The backup's database does not hold the tables its manifest counts ({exc}). "
            "Nothing was restored."
        ) from None
    finally:
        conn.close()
    wrong = {t: (n, manifest.counts[t]) for t, n in found.items() if n != manifest.counts[t]}
    if wrong:
        table, (n, expected) = next(iter(sorted(wrong.items())))
        raise InvalidInput(
            f"{backup / DATABASE_FILE} holds {n:,} rows in {table}, its manifest says "
            f"{expected:,}: the backup is inconsistent. Nothing was restored."
        )


def _upgrade(path: Path, revisions: list[str]) -> list[str]:
    """Bring the copy to this version's schema (Alembic), refusing one from a newer version."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(MIGRATIONS_DIR))
    known = {s.revision for s in script.walk_revisions()}
    heads = sorted(script.get_heads())
    unknown = [r for r in revisions if r not in known]
    if unknown:
        raise Conflict(
            f"The backup's database is at revision {', '.join(unknown)}, which this version of "
            f"Labelhouse does not know (it knows up to {', '.join(heads)}): the backup comes "
            "from a newer version. Restore it with that version. Nothing was restored."
        )
    if revisions == heads:
        return revisions
    from labelhouse.db import migrate
    from labelhouse.db.engine import open_database

    db = open_database(f"sqlite:///{path}")
    try:
        migrate.upgrade(db.engine)
    except Exception as exc:
        raise LabelhouseError(
            f"Upgrading the backup's database from revision {', '.join(revisions)} failed "
            f"({exc}). Nothing was restored."
        ) from None
    finally:
        db.dispose()
    return _revisions(path)
