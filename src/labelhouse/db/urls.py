"""The database URL, checked before an engine is built: a typo, another database or a driver
that is not installed is a sentence naming ``LABELHOUSE_DATABASE_URL`` and what to write
instead, not SQLAlchemy's traceback from deep inside ``create_engine``."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from labelhouse.errors import InvalidInput

SETTING = "LABELHOUSE_DATABASE_URL"
FORMS = "sqlite:///PATH or postgresql+psycopg://USER:PASSWORD@HOST:PORT/DATABASE"
# The drivers Labelhouse is tested with: the standard library's sqlite3 and psycopg 3.
DRIVERS = {"sqlite": "pysqlite", "postgresql": "psycopg"}


def check_database_url(url: str, *, folder_exists: bool = True) -> URL:
    """The parsed URL, or :class:`InvalidInput` saying what is wrong with it (the password
    never appears in the sentence). ``folder_exists=False``: a SQLite file's folder may
    still be missing (a restore creates it)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise InvalidInput(
            f"{SETTING} is not a database URL ('{_shown(url)}'): write {FORMS}."
        ) from None
    backend, driver = parsed.get_backend_name(), parsed.get_driver_name()
    shown = parsed.render_as_string(hide_password=True)
    if backend not in DRIVERS:
        raise InvalidInput(
            f"{SETTING} names a {backend} database ({shown}); Labelhouse runs on SQLite or "
            f"PostgreSQL: write {FORMS}."
        )
    try:
        dialect = parsed.get_dialect()
    except NoSuchModuleError:
        dialect = None
    if dialect is None or driver != DRIVERS[backend]:
        raise InvalidInput(
            f"{SETTING} asks for the driver '{driver}' ({shown}), which Labelhouse does not "
            f"use: write {backend}+{DRIVERS[backend]}://… (or just {backend}://…)."
        )
    try:
        dialect.import_dbapi()
    except ImportError as exc:
        if backend == "postgresql":
            raise InvalidInput(
                "PostgreSQL needs the psycopg driver, which is not installed here "
                f"({exc}): install labelhouse[postgres] (pip install 'labelhouse[postgres]'), "
                "then run the command again."
            ) from None
        raise InvalidInput(
            f"This Python cannot open SQLite databases ({exc}): reinstall Python with its "
            "sqlite3 module."
        ) from None
    if backend == "sqlite" and folder_exists:
        _check_sqlite_folder(parsed, shown)
    return parsed


def _check_sqlite_folder(parsed: URL, shown: str) -> None:
    database = parsed.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    folder = Path(database).expanduser().absolute().parent
    if not folder.is_dir():
        raise InvalidInput(
            f"The folder of the SQLite database ({folder}) does not exist: create it, or fix "
            f"{SETTING} ({shown})."
        )


def _shown(url: str) -> str:
    """A URL that could not be parsed, without what looks like a password."""
    head, at, tail = url.rpartition("@")
    if not at:
        return url
    scheme, sep, credentials = head.partition("://")
    user = credentials.split(":", 1)[0]
    return f"{scheme}{sep}{user}:***@{tail}" if ":" in credentials else url
