"""``labelhouse backup PATH`` and ``labelhouse restore PATH`` (docs/backup.md).

A backup of a SQLite installation is taken while it runs (:mod:`labelhouse.db.backup`);
a PostgreSQL installation is backed up with pg_dump and a copy of its bucket, whose exact
commands ``backup`` prints. Results (the folder written) go to standard output; progress,
figures and what to do next to standard error.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from labelhouse.cli.app import App
from labelhouse.cli.common import DataDir, console, fail, load_settings
from labelhouse.errors import LabelhouseError

if TYPE_CHECKING:
    from labelhouse.config import Settings

backup_app = App()

MB = 1_000_000


def _settings(data_dir: Path | None) -> Settings:
    """The installation's settings, creating no folder (a restore's target must stay
    missing or empty until the restore is complete); a bad setting or database URL is a
    sentence."""
    from labelhouse.db.urls import check_database_url

    try:
        settings = load_settings(data_dir)
        check_database_url(settings.resolved_database_url, folder_exists=False)
    except LabelhouseError as exc:
        raise fail(exc) from None
    return settings


class _Bars:
    """Rich progress bars on a terminal (one per phase), nothing otherwise."""

    def __init__(self) -> None:
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self.bars = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
            disable=not console.is_terminal,
        )
        self.tasks: dict[str, Any] = {}

    def __call__(self, what: str, done: int, total: int) -> None:
        if what not in self.tasks:
            self.tasks[what] = self.bars.add_task(what.capitalize(), total=total or None)
        self.bars.update(self.tasks[what], completed=done, total=total or None)

    def __enter__(self) -> _Bars:
        self.bars.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bars.stop()


@backup_app.command("backup")
def backup(
    path: Path = typer.Argument(..., help="A new or empty folder to write the backup into"),
    data_dir: Path | None = DataDir,
) -> None:
    """Back up a running installation: database, media, manifest with checksums.

    On SQLite the database is an online copy (annotators keep working), then the uploaded
    media, and a manifest with row counts and SHA-256 checksums. On PostgreSQL: prints the
    pg_dump and bucket commands to run instead."""
    from labelhouse import __version__
    from labelhouse.db.backup import back_up_sqlite
    from labelhouse.tables import Base

    settings = _settings(data_dir)
    url = settings.resolved_database_url
    if not path.parent.exists():  # (a file there: the writer's own sentence says so)
        raise fail(
            LabelhouseError(
                f"The folder {path.parent} does not exist: create it first, or give the "
                "backup a path in a folder that exists."
            )
        )
    if not url.startswith("sqlite"):
        _postgres_way(settings, path)
        raise typer.Exit(1)
    media = None if settings.storage_url else settings.resolved_storage_dir
    try:
        with _Bars() as bars:
            result = back_up_sqlite(
                url,
                media,
                path,
                tables=list(Base.metadata.tables),
                version=__version__,
                progress=bars,
            )
    except LabelhouseError as exc:
        raise fail(exc) from None
    seconds = max(result.database_seconds, 1e-6)
    console.print(
        f"Copied the database ({result.database_bytes / MB:,.1f} MB, revision "
        f"{', '.join(result.revisions)}) in {result.database_seconds:.1f} s "
        f"({result.database_bytes / MB / seconds:,.0f} MB/s), "
        f"{result.media_files:,} media files ({result.media_bytes / MB:,.1f} MB); "
        f"{result.counts.get('task', 0):,} tasks, {result.counts.get('annotation', 0):,} "
        "annotations. Checksums and counts are in manifest.json.",
        soft_wrap=True,
        highlight=False,
        markup=False,
    )
    if settings.storage_url:
        console.print(
            f"The media are in {settings.storage_url}, which this backup does not hold: copy "
            f"the bucket now, after the database (docs/backup.md): "
            f"aws s3 sync {shlex.quote(settings.storage_url)} "
            f"{shlex.quote(str(result.path / 'files'))}",
            soft_wrap=True,
            highlight=False,
            markup=False,
        )
    typer.echo(str(result.path))


@backup_app.command("restore")
def restore(
    path: Path = typer.Argument(..., help="The backup folder (written by `labelhouse backup`)"),
    force: bool = typer.Option(
        False,
        "--force",
        help="Restore even if the data folder is not empty; its contents are moved aside to "
        "DATA_DIR.before-restore-<time>, not deleted",
    ),
    data_dir: Path | None = DataDir,
) -> None:
    """Restore a SQLite backup into a new or empty data folder, checksums checked first.

    The data folder must be new or empty unless --force. Every checksum is checked against
    the manifest, then the database is upgraded if the backup is from an older version.
    Stop the server that uses the folder first."""
    from labelhouse.db.restore import restore_sqlite

    settings = _settings(data_dir)
    if settings.database_url and not settings.database_url.startswith("sqlite"):
        _postgres_way(settings, path, restoring=True)
        raise typer.Exit(1)
    target = settings.data_dir
    try:
        with _Bars() as bars:
            result = restore_sqlite(path, target, force=force, progress=bars)
    except LabelhouseError as exc:
        raise fail(exc) from None
    manifest = result.manifest
    console.print(
        f"Checked {len(manifest.files):,} files ({manifest.total_bytes / MB:,.1f} MB) against "
        f"the manifest of the backup taken {manifest.data.get('created_at')} by Labelhouse "
        f"{manifest.data.get('labelhouse_version')}; every checksum and row count matches.",
        soft_wrap=True,
        highlight=False,
        markup=False,
    )
    if result.upgraded:
        console.print(
            f"Upgraded the database from revision {', '.join(result.revisions_before)} to "
            f"{', '.join(result.revisions_after)}.",
            soft_wrap=True,
            highlight=False,
            markup=False,
        )
    if result.set_aside is not None:
        console.print(
            f"What {result.path} held before is now in {result.set_aside}.",
            soft_wrap=True,
            highlight=False,
            markup=False,
        )
    restored_db = (result.path / "labelhouse.db").resolve()
    if settings.database_url and settings.resolved_database_url != f"sqlite:///{restored_db}":
        console.print(
            f"Note: LABELHOUSE_DATABASE_URL names {settings.database_url}, but the restored "
            f"database is {restored_db}: unset it (or point it there) before you start.",
            soft_wrap=True,
            highlight=False,
            markup=False,
        )
    if settings.storage_dir or settings.storage_url:
        console.print(
            f"Note: the media were restored into {result.path / 'files'}; LABELHOUSE_STORAGE_"
            f"{'DIR' if settings.storage_dir else 'URL'} points elsewhere: move them there.",
            soft_wrap=True,
            highlight=False,
            markup=False,
        )
    folder = shlex.quote(str(result.path))
    console.print(
        f"Check it: labelhouse db check --deep --data-dir {folder} && "
        f"labelhouse audit-verify --data-dir {folder}",
        soft_wrap=True,
        highlight=False,
        markup=False,
    )
    typer.echo(str(result.path))


def _postgres_way(settings: Settings, path: Path, *, restoring: bool = False) -> None:
    """PostgreSQL is backed up with its own tools: say so, and print the commands."""
    from labelhouse.db.backup_postgres import postgres_commands

    commands = postgres_commands(
        settings.resolved_database_url,
        path,
        storage_url=settings.storage_url,
        media_dir=settings.resolved_storage_dir,
        s3_endpoint_url=settings.s3_endpoint_url,
    )
    media = "the bucket" if settings.storage_url else "the media folder"
    if restoring:
        console.print(
            "This installation uses PostgreSQL: a backup made with pg_dump is restored with "
            f"pg_restore into a new, empty database, after {media} (docs/backup.md). Nothing "
            "was changed. Run:",
            soft_wrap=True,
        )
    else:
        console.print(
            "This installation uses PostgreSQL: back it up with pg_dump, then copy "
            f"{media} — in that order, so that every file the dump names is in the copy "
            "(docs/backup.md). Nothing was written. Run:",
            soft_wrap=True,
        )
    for line in commands.restore if restoring else commands.backup:
        typer.echo(line)
    if commands.password_left_out:
        console.print(
            "The password is left out of the commands: give it in PGPASSWORD or ~/.pgpass.",
        )
    if not restoring:
        console.print("To restore it later:", highlight=False)
        for line in commands.restore:
            console.print(f"  {line}", highlight=False, soft_wrap=True, markup=False)
