"""Shared CLI plumbing: settings, the database, and acting as a project's organization owner.

Start-up time is part of every command (and of ``labelhouse import``'s throughput), so this
module and the command modules import only what building the command line needs; each
command imports its services (SQLAlchemy, Alembic, the field kinds, …) when it runs.
"""

from __future__ import annotations

import gc
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from labelhouse.errors import LabelhouseError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from labelhouse.accounts.policy import Actor
    from labelhouse.config import Settings
    from labelhouse.db.engine import Database
    from labelhouse.projects.models import Project

console = Console(stderr=True)
DataDir = typer.Option(
    None, "--data-dir", envvar="LABELHOUSE_DATA_DIR", help="Folder for the SQLite file and uploads"
)


def settings_for(data_dir: Path | None) -> Settings:
    from labelhouse.config import Settings

    settings = Settings()
    if data_dir is not None:
        settings.data_dir = data_dir
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return settings


def open_db(settings: Settings, *, upgrade: bool = True) -> Database:
    """The database with the long kind of timeouts (a command may import millions of rows);
    one that cannot be reached ends the command with a sentence, not a traceback."""
    from labelhouse.db.engine import DatabaseOptions, open_database
    from labelhouse.db.heads import is_at_head

    db = open_database(settings.resolved_database_url, DatabaseOptions.long(settings))
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


# sysexits.h's EX_TEMPFAIL: the database was away or busy; the same command may work later.
EXIT_TRY_AGAIN = 75


def fail(exc: LabelhouseError) -> typer.Exit:
    from rich.markup import escape

    from labelhouse.errors import Busy

    console.print(f"[bold red]Error:[/] {exc.message}", soft_wrap=True)
    for d in exc.details[:50]:
        console.print(f"  [yellow]{d.field}[/]: {d.problem}")
    if len(exc.details) > 50:
        console.print(f"  … and {len(exc.details) - 50} more")
    if isinstance(exc, Busy):  # the operator runs the CLI: say what the server saw
        if exc.hint:
            console.print(f"  [dim]{escape(exc.hint)}[/]", soft_wrap=True)
        return typer.Exit(code=EXIT_TRY_AGAIN)
    return typer.Exit(code=1)
