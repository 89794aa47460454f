"""How a PostgreSQL installation is backed up and restored: the exact commands.

Labelhouse does not copy a PostgreSQL database itself: ``pg_dump`` takes a consistent
snapshot of a running database without blocking anyone, and base backups with WAL archiving
do better still. What Labelhouse knows is the order that keeps database and media together:
dump first, then copy the bucket (or media folder), because a file is stored before the row
naming it is committed and is never changed or deleted (its key is its SHA-256), so a media
copy taken after the dump holds every file the dump names. Restore in the other order: media
first, then the database, so no restored row ever names a missing file.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import URL, make_url

DUMP_FILE = "labelhouse.dump"
MEDIA_FOLDER = "files"


@dataclass(frozen=True)
class PostgresCommands:
    backup: list[str]
    restore: list[str]
    password_left_out: bool  # the URL had one: it comes from PGPASSWORD or ~/.pgpass instead


def libpq_url(database_url: str) -> tuple[str, bool]:
    """The SQLAlchemy URL as pg_dump and pg_restore take it (``postgresql://…``), without
    its password (never put one on a command line others can list); and whether it had one."""
    url = make_url(database_url)
    plain = URL.create(
        "postgresql",
        username=url.username,
        host=url.host,
        port=url.port,
        database=url.database,
        query=url.query,
    )
    return plain.render_as_string(hide_password=False), url.password is not None


def postgres_commands(
    database_url: str,
    target: Path,
    *,
    storage_url: str | None,
    media_dir: Path,
    s3_endpoint_url: str | None = None,
) -> PostgresCommands:
    """The commands for a backup into the folder ``target``, and for restoring it."""
    url, had_password = libpq_url(database_url)
    folder = target.absolute()
    dump = folder / DUMP_FILE
    copy = folder / MEDIA_FOLDER
    q = shlex.quote
    if storage_url:
        endpoint = f" --endpoint-url {q(s3_endpoint_url)}" if s3_endpoint_url else ""
        media_out = f"aws s3 sync {q(storage_url)} {q(str(copy))}{endpoint}"
        media_in = f"aws s3 sync {q(str(copy))} {q(storage_url)}{endpoint}"
    else:
        media_out = f"cp -a {q(str(media_dir.absolute()))} {q(str(copy))}"
        into = q(str(media_dir.absolute()))
        media_in = f"mkdir -p {into} && cp -a {q(str(copy))}/. {into}/"
    backup = [
        f"mkdir {q(str(folder))}",
        f"pg_dump --format=custom --file={q(str(dump))} {q(url)}",
        media_out,
    ]
    restore = [
        media_in,
        # into a new, empty database; one transaction: all of it or nothing
        f"pg_restore --exit-on-error --single-transaction --no-owner --dbname={q(url)} "
        f"{q(str(dump))}",
        "labelhouse db upgrade",
        "labelhouse db check --deep && labelhouse audit-verify",
    ]
    return PostgresCommands(backup, restore, had_password)
