"""The ``labelhouse`` command."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from labelhouse.accounts.models import Role
from labelhouse.cli.annotations import annotations_app
from labelhouse.cli.app import App, RootGroup
from labelhouse.cli.audit import audit_app, verify
from labelhouse.cli.backup import backup_app
from labelhouse.cli.common import (
    DataDir,
    console,
    fail,
    open_db,
    organization_id,
    owner_actor,
    read_text,
    settings_for,
)
from labelhouse.cli.data import export_command, import_command, imports_app
from labelhouse.cli.db import db_app
from labelhouse.cli.jobs import jobs_app
from labelhouse.cli.label_studio import label_studio_app
from labelhouse.cli.models import models_app
from labelhouse.cli.output import AsJson, echo_json, iso
from labelhouse.cli.people import Organization, list_users, members_app, reset_password
from labelhouse.cli.rubrics import rubrics_app
from labelhouse.cli.serve import serve
from labelhouse.cli.snapshots import snapshot_app
from labelhouse.cli.tasks import tasks_app
from labelhouse.cli.trace import trace_command
from labelhouse.cli.workforces import route_app, workforces_app
from labelhouse.errors import LabelhouseError
from labelhouse.storable import ID_MAX


class _Labelhouse(App):
    """The console entry point (``labelhouse = labelhouse.cli.main:app``).

    A command's start-up imports build a few hundred thousand long-lived objects and no
    garbage cycles, so the cyclic collector only costs time (a tenth of the imports, then
    again in every collection of a long import) until :func:`common.open_db` freezes what
    start-up built and turns it back on. Tests invoke the commands without this call.
    Errors no command caught are turned into a sentence by :class:`app.RootGroup`.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        gc.disable()
        try:
            return super().__call__(*args, **kwargs)
        finally:
            gc.enable()


app = _Labelhouse(
    cls=RootGroup,
    help="Labelhouse: self-hosted data labeling.\n\nResults go to standard output; "
    "progress, notes and errors to standard error. LABELHOUSE_DEBUG=1 shows the traceback "
    "of an unexpected error.",
)
users_app = App(help="Manage users: create, list, reset a password.")
projects_app = App(help="Manage projects: list and create them.")
app.add_typer(users_app, name="users")
app.add_typer(projects_app, name="projects")
app.add_typer(db_app, name="db")
app.add_typer(imports_app, name="imports")
app.add_typer(annotations_app, name="annotations")
app.add_typer(members_app, name="members")
app.add_typer(workforces_app, name="workforces")
app.add_typer(route_app, name="route")
app.add_typer(audit_app, name="audit")
app.add_typer(label_studio_app, name="label-studio")
app.add_typer(jobs_app, name="jobs")
app.add_typer(snapshot_app, name="snapshot")
app.add_typer(rubrics_app, name="rubrics")
app.add_typer(tasks_app, name="tasks")
app.add_typer(models_app, name="models")
app.add_typer(backup_app)  # backup, restore
app.command("audit-verify")(verify)
users_app.command("list")(list_users)
users_app.command("reset-password")(reset_password)
app.command("import")(import_command)
app.command("export")(export_command)
app.command("trace")(trace_command)
app.command()(serve)


def _version(value: bool) -> None:
    if not value:
        return
    from importlib.metadata import PackageNotFoundError, version

    try:
        number = version("labelhouse")
    except PackageNotFoundError:  # run from a source tree that was never installed
        from labelhouse import __version__ as number
    typer.echo(f"labelhouse {number}")
    raise typer.Exit()


@app.callback()
def _options(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit"
    ),
) -> None:
    """Labelhouse: self-hosted data labeling."""


@users_app.command("create")
def create_user(
    email: str,
    role: Role | None = typer.Option(
        None,
        help="owner, manager, reviewer or annotator (default: annotator; the first account "
        "is the owner)",
        show_default=False,
    ),
    organization: int | None = typer.Option(
        None, min=1, max=ID_MAX, help="Organization id (default: the first)"
    ),
    password: str | None = typer.Option(None, help="Default: generate one and print it"),
    data_dir: Path | None = DataDir,
) -> None:
    """Create a user (or add an existing one to the organization).

    A generated one-time password is printed alone on standard output."""
    from labelhouse.accounts import service as accounts
    from labelhouse.audit import service as audit
    from labelhouse.errors import InvalidInput, NotFound

    settings = settings_for(data_dir)
    db = open_db(settings)
    generated = password is None
    password = password or accounts.passwords.generate_password()
    first, role_given = False, role is not None
    try:
        with db.session() as s:
            if not accounts.has_any_user(s):
                if role not in (None, Role.owner):
                    raise InvalidInput(
                        "The first account must be the organization's owner: run "
                        f"`labelhouse users create {email} --role owner`, then add others."
                    )
                if organization is not None:
                    raise NotFound(
                        f"No such organization: {organization}. The database is empty: its "
                        "first account (the owner) creates the organization, so leave out "
                        "--organization."
                    )
                user, _ = accounts.bootstrap_owner(
                    s,
                    email=email,
                    organization_name="My lab",
                    password=password,
                    must_change_password=generated,
                )
                first, role = True, Role.owner
            else:
                org_id = organization_id(s, organization)
                role = role or Role.annotator
                user = accounts.create_user(
                    s,
                    email=email,
                    password=password,
                    organization_id=org_id,
                    role=role,
                    must_change_password=generated,
                )
                audit.record(  # the operator on the server: no actor
                    s,
                    organization_id=org_id,
                    actor_id=None,
                    action="member.add",
                    object_type="user",
                    object_id=user.id,
                    details={"email": user.email, "role": role.value, "via": "cli"},
                )
    except LabelhouseError as exc:
        raise fail(exc) from None
    finally:
        db.dispose()
    if generated:
        typer.echo(password)
    if first and not role_given:
        console.print("The database was empty: its first account becomes the organization's owner.")
    console.print(
        f"Created {user.email}"
        + (", the owner of a new organization" if first else f" ({role.value})")
        + (
            "; the one-time password (on standard output) must be changed at the first login."
            if generated
            else "."
        ),
        soft_wrap=True,
    )


@projects_app.command("list")
def list_projects(
    organization: int | None = typer.Option(
        None, "--organization", min=1, max=ID_MAX, help="Only this organization's (default: all)"
    ),
    as_json: bool = AsJson,
    data_dir: Path | None = DataDir,
) -> None:
    """Every project, archived ones included: id, name, overlap, schema version."""
    from sqlalchemy import select

    from labelhouse.accounts.models import Organization as Org
    from labelhouse.projects import service as projects

    settings = settings_for(data_dir)
    db = open_db(settings)
    found: list[dict[str, Any]] = []
    try:
        with db.read_session() as s:
            orgs = (
                [organization_id(s, organization)]
                if organization is not None
                else list(s.scalars(select(Org.id).order_by(Org.id)))
            )
            for org_id in orgs:
                actor = owner_actor(s, org_id)
                found += [
                    {
                        "id": p.id,
                        "name": p.name,
                        "organization_id": p.organization_id,
                        "overlap": p.overlap,
                        "schema_version": p.schema_version,
                        "archived": p.archived,
                        "created_at": iso(p.created_at),
                    }
                    for p in projects.list_projects(s, actor, include_archived=True)
                ]
    except LabelhouseError as exc:
        raise fail(exc) from None
    finally:
        db.dispose()
    if as_json:
        echo_json(found)
        return
    for p in found:
        typer.echo(f"{p['id']}\t{p['name']}\toverlap={p['overlap']}\tschema v{p['schema_version']}")
    if not found:
        console.print(
            "No projects yet: create one with `labelhouse projects create NAME --schema FILE`."
        )


@projects_app.command("create")
def create_project(
    name: str,
    schema: Path = typer.Option(
        ..., exists=True, dir_okay=False, help="Label schema, JSON or YAML"
    ),
    overlap: int = typer.Option(1, help="Distinct annotators per task"),
    organization: int | None = Organization,
    data_dir: Path | None = DataDir,
) -> None:
    """Create a project with a label schema; its id is printed on standard output."""
    from labelhouse.projects import service as projects

    settings = settings_for(data_dir)
    db = open_db(settings)
    try:
        text = read_text(schema, "the schema file")
        with db.session() as s:
            try:
                org_id = organization_id(s, organization)
            except LabelhouseError as exc:
                if organization is not None:
                    raise
                raise typer.BadParameter(
                    "no organization yet: run `labelhouse users create EMAIL` first"
                ) from exc
            p = projects.create_project(
                s, owner_actor(s, org_id), name=name, schema=text, overlap=overlap
            )
            project_id, project_name = p.id, p.name
    except LabelhouseError as exc:
        raise fail(exc) from None
    finally:
        db.dispose()
    typer.echo(project_id)
    console.print(f"Created project '{escape(project_name)}'.", soft_wrap=True)
