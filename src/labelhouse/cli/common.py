"""Shared CLI plumbing: settings, the database, and acting as a project's organization owner.

Start-up time is part of every command (and of ``labelhouse import``'s throughput), so this
module and the command modules import only what building the command line needs; each
command imports its services (SQLAlchemy, Alembic, the field kinds, …) when it runs.
"""

from __future__ import annotations

import gc
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import typer
from rich.console import Console

from labelhouse.errors import LabelhouseError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from labelhouse.accounts.policy import Actor
    from labelhouse.config import Settings
    from labelhouse.db.engine import Database
    from labelhouse.projects.models import Project

# soft_wrap: a message is never broken mid-path for a pipe or a log (rich wraps at 80 columns
# when stderr is not a terminal); the terminal wraps it where it must.
console = Console(stderr=True, soft_wrap=True)
DataDir = typer.Option(
    None,
    "--data-dir",
    envvar="LABELHOUSE_DATA_DIR",
    file_okay=False,
    help="Folder for the SQLite file and uploads (created if missing). With "
    "LABELHOUSE_DATABASE_URL set, the database is there instead; uploads stay here.",
)


def load_settings(data_dir: Path | None) -> Settings:
    """The settings from ``LABELHOUSE_*`` with ``--data-dir``, creating nothing; a bad value
    of either is a sentence naming it."""
    from pydantic import ValidationError

    from labelhouse.config import Settings
    from labelhouse.errors import InvalidInput, Problem

    try:
        settings = Settings()
    except ValidationError as exc:
        raise InvalidInput(
            "Some LABELHOUSE_* environment variables have values Labelhouse cannot use.",
            [
                Problem("LABELHOUSE_" + "_".join(map(str, e["loc"])).upper(), e["msg"])
                for e in exc.errors()
            ],
        ) from None
    if data_dir is not None:
        settings.data_dir = data_dir
    return settings


def settings_for(data_dir: Path | None) -> Settings:
    """:func:`load_settings`, with the data folder created if missing."""
    from labelhouse.errors import InvalidInput

    settings = load_settings(data_dir)
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    except FileExistsError:  # a file, or a link to one, on the way
        raise InvalidInput(
            f"The data folder {settings.data_dir} is a file (or a file is on its way): give "
            "--data-dir (or LABELHOUSE_DATA_DIR) a folder; it is created if missing."
        ) from None
    except OSError as exc:
        raise InvalidInput(
            f"Cannot create the data folder {settings.data_dir}: {exc.strerror}. Give "
            "--data-dir (or LABELHOUSE_DATA_DIR) a folder you may write to."
        ) from None
    return settings


def open_db(settings: Settings, *, upgrade: bool = True) -> Database:
    """The database with the long kind of timeouts (a command may import millions of rows);
    one that cannot be reached ends the command with a sentence, not a traceback."""
    from labelhouse.db.engine import DatabaseOptions, open_database
    from labelhouse.db.heads import is_at_head

    try:
        db = open_database(settings.resolved_database_url, DatabaseOptions.long(settings))
    except LabelhouseError as exc:  # a URL that cannot work
        raise fail(exc) from None
    if upgrade and not is_at_head(db):
        from sqlalchemy.exc import DBAPIError

        from labelhouse.db import migrate

        try:
            migrate.upgrade(db.engine)
        except LabelhouseError as exc:
            db.dispose()
            raise fail(exc) from None
        except DBAPIError as exc:  # a damaged file is a sentence, not a traceback
            db.dispose()
            raise damaged_database(exc, settings) from None
    if not gc.isenabled():  # switched off for start-up by the console entry point (main.py)
        gc.freeze()  # start-up's objects stay: later collections need not walk them
        gc.enable()
    return db


def damaged_database(exc: Exception, settings: Settings) -> Exception:
    """The exception to raise for a database error: a sentence and exit status 1 when the
    file is damaged (what to do included), else the error itself."""
    from labelhouse.db.integrity import describe_database_error

    sentence = describe_database_error(exc, settings.resolved_database_url)
    if sentence is None:
        return exc
    console.print(f"[bold red]Error:[/] {sentence}", soft_wrap=True, highlight=False)
    return typer.Exit(code=1)


def owner_actor(session: Session, organization_id: int) -> Actor:
    """The CLI runs on the server with full rights: it acts as the organization's first owner."""
    from sqlalchemy import select

    from labelhouse.accounts.models import Membership, Role
    from labelhouse.accounts.policy import Actor
    from labelhouse.errors import NotFound

    membership = session.scalar(
        select(Membership)
        .where(Membership.organization_id == organization_id, Membership.role == Role.owner.value)
        .order_by(Membership.id)
        .limit(1)
    )
    if membership is None:
        raise NotFound("The organization has no owner; create one with `labelhouse users create`.")
    return Actor(user_id=membership.user_id, organization_id=organization_id, role=Role.owner)


def project_and_actor(session: Session, ref: str) -> tuple[Project, Actor]:
    from labelhouse.projects.service import find_project

    project = find_project(session, None, ref)
    return project, owner_actor(session, project.organization_id)


def organization_id(session: Session, requested: int | None) -> int:
    """The organization a command acts in: the one asked for (NotFound if there is none),
    or the first."""
    from sqlalchemy import select

    from labelhouse.accounts.models import Organization
    from labelhouse.errors import NotFound

    if requested is not None:
        if session.get(Organization, requested) is None:
            raise NotFound(
                f"No such organization: {requested}. Leave out --organization to use the first."
            )
        return requested
    first = session.scalar(select(Organization.id).order_by(Organization.id).limit(1))
    if first is None:
        raise NotFound("No organization yet: run `labelhouse users create EMAIL` first.")
    return first


def org_actor(session: Session, requested: int | None) -> Actor:
    """The owner of the organization a command acts in (see :func:`organization_id`)."""
    return owner_actor(session, organization_id(session, requested))


# -- files the user names ----------------------------------------------------------------------


def read_text(path: Path, what: str) -> str:
    """A text file named on the command line (UTF-8, a byte-order mark allowed), or
    InvalidInput saying why it cannot be read; ``what`` names it ("the schema file")."""
    from labelhouse.errors import InvalidInput

    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InvalidInput(f"{what.capitalize()} {path} does not exist.") from None
    except IsADirectoryError:
        raise InvalidInput(f"{what.capitalize()} {path} is a folder, not a file.") from None
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            f"{what.capitalize()} {path} is not UTF-8 text (byte {exc.start:,} is "
            f"0x{exc.object[exc.start]:02x}): is it the right file?"
        ) from None
    except OSError as exc:
        raise InvalidInput(f"Cannot read {what} {path}: {exc.strerror}.") from None


def writable_path(path: Path, option: str) -> Path:
    """``path`` if a file can be created there, checked before any work is done, else
    InvalidInput naming ``option`` (a folder in its place, or a missing folder above it)."""
    from labelhouse.errors import InvalidInput

    if path.is_dir():
        raise InvalidInput(f"{option} {path} is a folder: name a file (in it, perhaps).")
    folder = path.absolute().parent
    if not folder.is_dir():
        raise InvalidInput(
            f"{option} {path}: the folder {folder} does not exist; create it first, or name "
            "a file in a folder that does."
        )
    return path


def open_for_writing(path: Path, option: str) -> BinaryIO:
    """``path`` opened for writing (binary), or InvalidInput with the system's reason."""
    from labelhouse.errors import InvalidInput

    writable_path(path, option)
    try:
        return path.open("wb")
    except OSError as exc:
        raise InvalidInput(f"Cannot write {option} {path}: {exc.strerror}.") from None


# sysexits.h's EX_TEMPFAIL: the database was away or busy; the same command may work later.
EXIT_TRY_AGAIN = 75


def fail(exc: LabelhouseError) -> typer.Exit:
    from rich.markup import escape

    from labelhouse.errors import Busy

    console.print(f"[bold red]Error:[/] {escape(exc.message)}", soft_wrap=True)
    for d in exc.details[:50]:
        console.print(f"  [yellow]{escape(d.field)}[/]: {escape(d.problem)}")
    if len(exc.details) > 50:
        console.print(f"  … and {len(exc.details) - 50} more")
    if isinstance(exc, Busy):  # the operator runs the CLI: say what the server saw
        if exc.hint:
            console.print(f"  [dim]{escape(exc.hint)}[/]", soft_wrap=True)
        return typer.Exit(code=EXIT_TRY_AGAIN)
    return typer.Exit(code=1)
