"""``labelhouse members`` (who is in a project) and ``users list`` / ``users reset-password``.

Results go to standard output (plain aligned columns, or JSON with ``--json``) so scripts
can read them; diagnostics go to standard error. ``users reset-password`` prints only the
new password, so ``PW=$(labelhouse users reset-password a@b.c)`` works.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from labelhouse.cli.app import App
from labelhouse.cli.common import (
    DataDir,
    console,
    fail,
    open_db,
    org_actor,
    project_and_actor,
    settings_for,
)
from labelhouse.cli.output import AsJson, echo_json, echo_table, iso
from labelhouse.errors import LabelhouseError
from labelhouse.storable import ID_MAX

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from labelhouse.accounts.policy import Actor
    from labelhouse.people.project_members import MemberEntry
    from labelhouse.people.teams import TeamView

members_app = App(help="Who is in a project, with which role.", no_args_is_help=True)


class ProjectRole(StrEnum):
    annotator = "annotator"
    reviewer = "reviewer"
    manager = "manager"


Project = typer.Argument(..., help="Project id or exact name")
Organization = typer.Option(
    None, "--organization", min=1, max=ID_MAX, help="Organization id (default: the first)"
)


# -- shared helpers ----------------------------------------------------------------------------


def _user_id(session: Session, actor: Actor, email: str) -> int:
    """The id of the organization member with this address (NotFound naming it if none)."""
    from labelhouse.errors import NotFound
    from labelhouse.people.organization import people

    address = email.strip().lower()
    for person in people(session, actor):
        if person.email == address:
            return person.user_id
    raise NotFound(f"{address} is not a member of the organization.")


def _team(session: Session, actor: Actor, name: str) -> TeamView:
    from labelhouse.errors import NotFound
    from labelhouse.people.teams import list_teams

    teams = list_teams(session, actor)
    for team in teams:
        if team.name == name.strip():
            return team
    known = ", ".join(f"'{t.name}'" for t in teams) or "none yet"
    raise NotFound(f"No team named '{name}' (the organization's teams: {known}).")


def _read_emails(path: Path) -> list[tuple[str, str]]:
    """(where, address) for every address in a file of one address a line; blank lines and
    '#' comments are skipped."""
    from labelhouse.errors import InvalidInput, Problem

    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            f"{path} is not UTF-8 text.", [Problem(str(path), f"byte {exc.start}")]
        ) from None
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        address = line.split(" #", 1)[0].split("\t#", 1)[0].strip()
        if address and not address.startswith("#"):
            out.append((f"{path.name}, line {number}", address))
    return out


# -- members -----------------------------------------------------------------------------------


@members_app.command("add")
def add_members(
    project: str = Project,
    emails: list[str] | None = typer.Argument(
        None, help="E-mail addresses of organization members", show_default=False
    ),
    role: ProjectRole = typer.Option(ProjectRole.annotator, "--role", help="Role in the project"),
    from_file: Path | None = typer.Option(
        None,
        "--from-file",
        exists=True,
        dir_okay=False,
        readable=True,
        help="A file of e-mail addresses, one a line ('#' starts a comment)",
    ),
    team: str | None = typer.Option(None, "--team", help="Add this team (by name) instead"),
    data_dir: Path | None = DataDir,
) -> None:
    """Add organization members to a project (or change their role there), all or none."""
    from labelhouse.errors import InvalidInput
    from labelhouse.people import project_members as members

    db = open_db(settings_for(data_dir))
    try:
        wanted = [(f"argument {i}", e) for i, e in enumerate(emails or [], 1)]
        if from_file is not None:
            wanted += _read_emails(from_file)
        if team is not None and wanted:
            raise InvalidInput("Give e-mail addresses or --team, not both.")
        if team is None and not wanted:
            raise InvalidInput(
                f"{from_file} lists no e-mail addresses."
                if from_file is not None
                else "Name someone to add: e-mail addresses, --from-file PATH or --team NAME."
            )
        with db.session() as s:
            proj, actor = project_and_actor(s, project)
            if team is not None:
                found = _team(s, actor, team)
                before = {t.team_id: t.role for t in members.list_members(s, actor, proj.id).teams}
                entry = members.add_team(s, actor, proj.id, team_id=found.id, role=role.value)
                status = (
                    "added"
                    if found.id not in before
                    else "unchanged"
                    if before[found.id] == role.value
                    else "updated"
                )
                lines = [f"{status}\tteam {entry.name} ({entry.members} members)"]
            else:
                try:
                    result = members.add_people(
                        s, actor, proj.id, emails=[e for _, e in wanted], role=role.value
                    )
                except InvalidInput as exc:
                    raise _with_sources(exc, [where for where, _ in wanted]) from None
                lines = [
                    f"{status}\t{email}"
                    for status, found_emails in (
                        ("added", result.added),
                        ("updated", result.updated),
                        ("unchanged", result.unchanged),
                    )
                    for email in found_emails
                ]
            name = proj.name
    except LabelhouseError as exc:
        raise fail(exc) from None
    finally:
        db.dispose()
    for line in lines:
        typer.echo(line)
    console.print(f"Role in project '{escape(name)}': {role.value}.")


def _with_sources(exc: LabelhouseError, sources: list[str]) -> LabelhouseError:
    """The same error with ``emails[i]`` replaced by where the address came from (the
    argument's position, or the file and line)."""
    from dataclasses import replace

    def where(field: str) -> str:
        if field.startswith("emails[") and field.endswith("]"):
            index = field[len("emails[") : -1]
            if index.isdigit() and int(index) < len(sources):
                return sources[int(index)]
        return field

    exc.details = [replace(d, field=where(d.field)) for d in exc.details]
    return exc


@members_app.command("remove")
def remove_member(
    project: str = Project,
    email: str | None = typer.Argument(None, help="The person's e-mail address"),
    team: str | None = typer.Option(None, "--team", help="Remove this team (by name) instead"),
    data_dir: Path | None = DataDir,
) -> None:
    """Take a person's (or a team's) project membership away; their leases there end."""
    from labelhouse.errors import InvalidInput, NotFound
    from labelhouse.people import project_members as members

    db = open_db(settings_for(data_dir))
    try:
        if (email is None) == (team is None):
            raise InvalidInput("Give either an e-mail address or --team NAME.")
        with db.session() as s:
            proj, actor = project_and_actor(s, project)
            if team is not None:
                found = _team(s, actor, team)
                ended = members.remove_team(s, actor, proj.id, team_id=found.id)
                who = f"team {found.name}"
            else:
                assert email is not None
                who = email.strip().lower()
                entry = _entry(members.list_members(s, actor, proj.id).people, who)
                if entry is None:
                    _user_id(s, actor, who)  # not in the organization at all: says so
                    raise NotFound(f"{who} is not a member of project '{proj.name}'.")
                if entry.direct_role is None:
                    raise NotFound(
                        f"{who} has no membership of their own in project '{proj.name}' (their "
                        f"access comes from: {_via(entry)}); "
                        + (
                            "remove the team with --team NAME instead."
                            if entry.teams
                            else "organization owners and managers see every project."
                        )
                    )
                ended = members.remove_person(s, actor, proj.id, user_id=entry.user_id)
            name = proj.name
    except LabelhouseError as exc:
        raise fail(exc) from None
    finally:
        db.dispose()
    typer.echo(
        f"Removed {who} from project '{name}'; {ended} lease{'' if ended == 1 else 's'} ended."
    )


def _entry(people: list[MemberEntry], email: str) -> MemberEntry | None:
    return next((p for p in people if p.email == email), None)


def _via(entry: MemberEntry) -> str:
    parts = ["direct"] if entry.direct_role else []
    parts += [f"team {t}" for t in entry.teams]
    if entry.org_role in ("owner", "manager"):
        parts.append(f"organization {entry.org_role}")
    return ", ".join(parts)


@members_app.command("list")
def list_members(
    project: str = Project, as_json: bool = AsJson, data_dir: Path | None = DataDir
) -> None:
    """Everyone with access to the project, and how they have it.

    Directly, through a team, or as an organization owner or manager (who see every
    project)."""
    from labelhouse.people import project_members as members

    db = open_db(settings_for(data_dir))
    try:
        with db.read_session() as s:
            proj, actor = project_and_actor(s, project)
            listing = members.list_members(s, actor, proj.id)
            name = proj.name
    except LabelhouseError as exc:
        raise fail(exc) from None
    finally:
        db.dispose()
    if as_json:
        echo_json(
            [
                {
                    "user_id": p.user_id,
                    "email": p.email,
                    "name": p.name,
                    "role": p.role,
                    "direct_role": p.direct_role,
                    "teams": p.teams,
                    "organization_role": p.org_role,
                    "active": p.active,
                    "added_at": iso(p.added_at),
                }
                for p in listing.people
            ]
        )
        return
    echo_table(
        ["EMAIL", "ROLE", "VIA"],
        [
            [p.email, p.role if p.active else f"{p.role} (deactivated)", _via(p)]
            for p in listing.people
        ],
    )
    if listing.teams:
        teams = ", ".join(f"{t.name} ({t.role}, {t.members} members)" for t in listing.teams)
        console.print(f"Teams in project '{escape(name)}': {escape(teams)}")


# -- users -------------------------------------------------------------------------------------


def list_users(
    organization: int | None = Organization, as_json: bool = AsJson, data_dir: Path | None = DataDir
) -> None:
    """Every member of the organization: role, status, teams, projects, last activity."""
    from labelhouse.people.organization import people

    db = open_db(settings_for(data_dir))
    try:
        with db.read_session() as s:
            everyone = people(s, org_actor(s, organization))
    except LabelhouseError as exc:
        raise fail(exc) from None
    finally:
        db.dispose()
    if as_json:
        echo_json(
            [
                {
                    "user_id": p.user_id,
                    "email": p.email,
                    "name": p.name,
                    "role": p.role,
                    "active": p.active,
                    "teams": p.teams,
                    "all_projects": p.all_projects,
                    "projects": [{"id": i, "name": n, "role": r} for i, n, r in p.projects],
                    "last_active": iso(p.last_active),
                    "recent_annotations": p.recent_annotations,
                }
                for p in everyone
            ]
        )
        return
    echo_table(
        ["EMAIL", "ROLE", "STATUS", "TEAMS", "PROJECTS", "LAST ACTIVE (UTC)"],
        [
            [
                p.email,
                p.role,
                "active" if p.active else "deactivated",
                ", ".join(p.teams) or "-",
                "all" if p.all_projects else str(len(p.projects)),
                (iso(p.last_active) or "never").replace("T", " ")[:16],
            ]
            for p in everyone
        ],
    )


def reset_password(
    email: str = typer.Argument(..., help="The member's e-mail address"),
    organization: int | None = Organization,
    data_dir: Path | None = DataDir,
) -> None:
    """Give a member a new one-time password, printed alone on standard output.

    Their sessions and API tokens end, and they must choose a new password at their next
    login."""
    from labelhouse.people import organization as org

    db = open_db(settings_for(data_dir))
    try:
        with db.session() as s:
            actor = org_actor(s, organization)
            reset = org.reset_password(s, actor, user_id=_user_id(s, actor, email))
    except LabelhouseError as exc:
        raise fail(exc) from None
    finally:
        db.dispose()
    typer.echo(reset.one_time_password)
    tokens = len(reset.revoked_tokens)
    console.print(
        f"Reset the password of {escape(reset.email)}: every session ended and {tokens} API "
        f"token{'' if tokens == 1 else 's'} revoked. The one-time password (on standard output) "
        "must be changed at the first login.",
        soft_wrap=True,
    )
