"""``labelhouse workforces`` (staff and vendor teams, their prices and contracts) and
``labelhouse route`` (which workforce works on which task of a project).

Results go to standard output (aligned columns, or JSON with ``--json``); diagnostics go to
standard error. A team is named by its name or id, a project by its id or exact name. The
rules themselves (one workforce per person, vendors annotate only, quotas add up to the
overlap) belong to :mod:`labelhouse.people.workforces` and :mod:`labelhouse.tasks.routing`.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
from labelhouse.cli.people import Organization, Project
from labelhouse.errors import InvalidInput, LabelhouseError
from labelhouse.storable import ID_MAX

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from labelhouse.accounts.policy import Actor
    from labelhouse.people.teams import TeamView
    from labelhouse.tasks.routing import Selection

workforces_app = App(
    help="Workforces: teams marked as the lab's own staff or as an outside vendor.",
    no_args_is_help=True,
)
route_app = App(help="Route a project's work to its workforces.", no_args_is_help=True)


class TeamKind(StrEnum):
    staff = "staff"
    vendor = "vendor"
    group = "group"


TeamRef = typer.Argument(..., help="The team's name or id (see `labelhouse workforces list`)")
ImportId = typer.Option(
    None, "--import", min=1, max=ID_MAX, help="Only the tasks of this import (`imports list`)"
)
IdsFile = typer.Option(
    None,
    "--ids",
    help="Only these tasks: a file of task ids, separated by lines, spaces or commas "
    "('#' starts a comment)",
)
Where = typer.Option(
    None, "--where", metavar="KEY=VALUE", help="Only tasks whose data has KEY equal to VALUE"
)
Remember = typer.Option(
    False, "--remember", help="Also route every task imported from now on this way"
)
EveryUnstarted = typer.Option(
    False,
    "--every-unstarted",
    help="Also re-route unstarted tasks already routed (default: only tasks routed to nobody)",
)
Workforces = typer.Argument(
    None,
    metavar="NAME=NUMBER",
    help="Each workforce (name or id) with its share (`share`) or its quota (`each`)",
)


# -- helpers -----------------------------------------------------------------------------------


def _find_team(
    session: Session, actor: Actor, ref: str, teams: list[TeamView] | None = None
) -> TeamView:
    """The organization's team with this exact name, else with this id."""
    from labelhouse.errors import NotFound
    from labelhouse.people.teams import list_teams

    teams = list_teams(session, actor) if teams is None else teams
    wanted = ref.strip()
    by_name = [t for t in teams if t.name == wanted]
    by_id = [t for t in teams if wanted.isascii() and wanted.isdigit() and t.id == int(wanted)]
    if by_name or by_id:
        return (by_name or by_id)[0]
    known = ", ".join(f"'{t.name}'" for t in teams[:20]) + (", …" if len(teams) > 20 else "")
    raise NotFound(f"No team named '{ref}' (the organization's teams: {known or 'none yet'}).")


def _count(n: int, noun: str, plural: str = "") -> str:
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.6f}".rstrip("0").rstrip(".")


def _price(value: str | None, option: str) -> Any:
    """A price option: KEEP when not given, None for 'none', else a number."""
    from labelhouse.people.workforces import KEEP

    if value is None:
        return KEEP
    if value.strip().lower() in ("", "none"):
        return None
    try:
        return float(value)
    except ValueError:
        raise InvalidInput(f"{option} takes a number such as 0.12, or 'none'.") from None


def _contract(view: TeamView) -> str | None:
    if view.team.kind != TeamKind.vendor:
        return None
    return "ended" if view.team.ended_at is not None else "active"


def _team_json(view: TeamView) -> dict[str, Any]:
    t = view.team
    return {
        "id": view.id,
        "name": view.name,
        "kind": t.kind,
        "members": len(view.members),
        "contact": t.contact,
        "price_per_task": t.price_per_task,
        "price_per_hour": t.price_per_hour,
        "currency": t.currency,
        "contract": _contract(view),
        "contract_ended_at": iso(t.ended_at),
    }


TEAM_HEADERS = [
    "ID",
    "TEAM",
    "KIND",
    "MEMBERS",
    "CONTACT",
    "PER TASK",
    "PER HOUR",
    "CURRENCY",
    "CONTRACT",
]


def _team_row(view: TeamView) -> list[str]:
    t, contract = view.team, _contract(view)
    if contract == "ended":
        contract = f"ended {(iso(t.ended_at) or '')[:10]}"
    return [
        str(view.id),
        view.name,
        t.kind,
        str(len(view.members)),
        t.contact or "-",
        _number(t.price_per_task),
        _number(t.price_per_hour),
        t.currency or "-",
        contract or "-",
    ]


def _read_ids(path: Path) -> tuple[int, ...]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InvalidInput(f"No such file: {path}.") from None
    except IsADirectoryError:
        raise InvalidInput(f"{path} is a folder; --ids takes a file of task ids.") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"{path} is not UTF-8 text.") from None
    except OSError as exc:
        raise InvalidInput(f"Cannot read {path}: {exc.strerror}.") from None
    ids: list[int] = []
    for number, line in enumerate(text.splitlines(), 1):
        for token in re.split(r"[\s,]+", line.split("#", 1)[0].strip()):
            if not token:
                continue
            if not (token.isascii() and token.isdigit() and 0 < int(token) <= ID_MAX):
                raise InvalidInput(f"{path.name}, line {number}: '{token}' is not a task id.")
            ids.append(int(token))
    if not ids:
        raise InvalidInput(f"{path} lists no task ids.")
    return tuple(ids)


def _selection(
    import_id: int | None, ids: Path | None, where: str | None, every_unstarted: bool = False
) -> Selection:
    from labelhouse.tasks.routing import Selection

    key = value = None
    if where is not None:
        key, sep, value = where.partition("=")
        if not sep or not key:
            raise InvalidInput(
                f"--where takes KEY=VALUE (e.g. --where source=forum), not '{where}'."
            )
    return Selection(
        import_id=import_id,
        task_ids=_read_ids(ids) if ids is not None else None,
        data_key=key,
        data_value=value,
        every_unstarted=every_unstarted,
    )


def _parse_slots(args: list[str], mode: str) -> list[tuple[str, float]]:
    """(name or id, number) for each 'NAME=NUMBER' argument (the last '=' splits)."""
    example = "'Vendor A=50' 'Staff=50'" if mode == "share" else "'Vendor A=1' 'Vendor B=1'"
    if not args:
        raise InvalidInput(f"Name the workforces to route to, e.g. {example}.")
    out = []
    for arg in args:
        name, sep, number = arg.rpartition("=")
        if not sep or not name.strip():
            raise InvalidInput(f"'{arg}' is not NAME=NUMBER: write e.g. {example}.")
        try:
            value = float(number) if mode == "share" else int(number)
        except ValueError:
            value = -1
        if not (math.isfinite(value) and value > 0):
            what = "a positive share" if mode == "share" else "a whole number of annotations"
            raise InvalidInput(f"In '{arg}', '{number.strip()}' is not {what}.")
        out.append((name.strip(), value))
    return out


def _as_arguments(exc: LabelhouseError, labels: list[str]) -> LabelhouseError:
    """The domain's ``workforces[i]`` named as the command-line argument it came from; a
    single problem the message already states is not repeated below it."""

    def where(text: str) -> str:
        for i, label in enumerate(labels):
            text = text.replace(f"workforces[{i}]", label)
        return text

    exc.message = where(exc.message)
    exc.details = [replace(d, field=where(d.field)) for d in exc.details]
    if len(exc.details) == 1 and exc.details[0].problem in exc.message:
        exc.details = []
    return exc


def _rule_text(rule: dict[str, Any] | None) -> str:
    if not rule:
        return "not routed (no rule)"
    number = "share" if rule["mode"] == "share" else "quota"
    parts = [f"{w['name']}={_number(w[number])}" for w in rule["workforces"]]
    how = "by share" if rule["mode"] == "share" else "to each"
    return f"routed {how}: {', '.join(parts)}"


# -- workforces --------------------------------------------------------------------------------


@workforces_app.command("list")
def list_workforces(
    organization: int | None = Organization, as_json: bool = AsJson, data_dir: Path | None = DataDir
) -> None:
    """Teams and workforces: kind, members, contact, prices, contract.

    Every team of the organization: its kind (staff, vendor or a plain group), how many
    members it has, its contact, prices and currency, and for a vendor whether the contract
    is active or ended."""
    from labelhouse.people.teams import list_teams

    db = open_db(settings_for(data_dir))
    try:
        with db.read_session() as s:
            views = list_teams(s, org_actor(s, organization))
            found = [_team_json(v) for v in views]
            rows = [_team_row(v) for v in views]
    except LabelhouseError as exc:
        raise fail(exc) from None
    finally:
        db.dispose()
    if as_json:
        echo_json(found)
    elif rows:
        echo_table(TEAM_HEADERS, rows)
    else:
        console.print("No teams yet: create them on the People page (or with the API).")


@workforces_app.command("set")
def set_workforce(
    team: str = TeamRef,
    kind: TeamKind | None = typer.Option(
        None,
        "--kind",
        help="staff (the lab's own people), vendor (an outside company) or group (a plain team)",
        show_default=False,
    ),
    contact: str | None = typer.Option(None, "--contact", help="Who to reach at the workforce"),
    price_per_task: str | None = typer.Option(
        None, "--price-per-task", metavar="PRICE", help="Price of one task ('none' clears it)"
    ),
    price_per_hour: str | None = typer.Option(
        None, "--price-per-hour", metavar="PRICE", help="Price of one hour ('none' clears it)"
    ),
    currency: str | None = typer.Option(
        None, "--currency", help="Three-letter code such as USD or EUR ('' clears it)"
    ),
    organization: int | None = Organization,
    data_dir: Path | None = DataDir,
) -> None:
    """Mark a team as staff or a vendor, with its contact and prices.

    Options left out stay as they are; --kind group makes it a plain team again. A person
    is in at most one workforce; a vendor's people are never organization owners or
    managers, and in projects annotators or reviewers of their own workforce's work."""
    from labelhouse.people.workforces import KEEP, update_workforce

    db = open_db(settings_for(data_dir))
    try:
        given = (kind, contact, price_per_task, price_per_hour, currency)
        if all(v is None for v in given):
            raise InvalidInput(
                "Nothing to change: give --kind, --contact, --price-per-task, --price-per-hour "
                "or --currency."
            )
        changes = {
            "kind": KEEP if kind is None else kind.value,
            "contact": KEEP if contact is None else contact,
            "price_per_task": _price(price_per_task, "--price-per-task"),
            "price_per_hour": _price(price_per_hour, "--price-per-hour"),
            "currency": KEEP if currency is None else currency,
        }
        with db.session() as s:
            actor = org_actor(s, organization)
            found = _find_team(s, actor, team)
            update_workforce(s, actor, found.id, **changes)
            row, name, new_kind = _team_row(found), found.name, found.team.kind
    except LabelhouseError as exc:
        raise fail(exc) from None
    finally:
        db.dispose()
    echo_table(TEAM_HEADERS, [row])
    console.print(f"Updated team '{escape(name)}'.")
    if kind is not None and new_kind == TeamKind.vendor:
        console.print(
            "Its people get only the tasks routed to it: add the team to a project as "
            f"annotator, then `labelhouse route share PROJECT '{escape(name)}=100'`.",
            soft_wrap=True,
        )


@workforces_app.command("end-contract")
def end_contract(
    team: str = TeamRef,
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation"),
    organization: int | None = Organization,
    data_dir: Path | None = DataDir,
) -> None:
    """End a vendor's contract and deactivate all its people.

    Their sessions, API tokens and leases end at once; their annotations stay attributed.
    No more work can be routed to the vendor; move what it had not started with
    `labelhouse route move`."""
    from labelhouse.errors import Conflict
    from labelhouse.people.workforces import end_contract as end

    db = open_db(settings_for(data_dir))
    try:
        # Ask outside the write transaction: SQLite's writers would wait for the answer.
        with db.read_session() as s:
            found = _find_team(s, org_actor(s, organization), team)
            if found.team.kind != TeamKind.vendor:
                raise Conflict(f"'{found.name}' is not a vendor; only a vendor's contract can end.")
            if found.team.ended_at is not None:
                raise Conflict(f"The contract of '{found.name}' has already ended.")
        if not yes:
            n = len(found.members)
            typer.confirm(
                f"End the contract of '{found.name}'? Its {_count(n, 'person', 'people')} "
                "will be deactivated at once.",
                abort=True,
                err=True,
            )
        with db.session() as s:
            ended = end(s, org_actor(s, organization), found.id)
    except LabelhouseError as exc:
        raise fail(exc) from None
    finally:
        db.dispose()
    for email in ended.deactivated:
        typer.echo(f"deactivated\t{email}")
    for email in ended.already_inactive:
        typer.echo(f"already inactive\t{email}")
    n = len(ended.deactivated)
    console.print(
        f"Ended the contract of '{escape(found.name)}': {_count(n, 'person', 'people')} "
        f"deactivated, {_count(ended.leases_ended, 'lease')} ended, "
        f"{_count(ended.tokens_revoked, 'API token')} revoked.",
        soft_wrap=True,
    )
    if ended.open_slots:
        console.print(
            f"It still has {_count(ended.open_slots, 'routed annotation slot')} nobody has "
            "started: move them with "
            f"`labelhouse route move PROJECT --from '{escape(found.name)}' --to NAME`.",
            soft_wrap=True,
        )


# -- route -------------------------------------------------------------------------------------


@route_app.command("show")
def show_routing(
    project: str = Project, as_json: bool = AsJson, data_dir: Path | None = DataDir
) -> None:
    """How a project's work is routed, per workforce.

    For each workforce of the project: tasks routed to it, annotation slots, slots taken
    and open; then the tasks routed to nobody and the rule applied to new imports."""
    from labelhouse.tasks.routing import routing_summary

    db = open_db(settings_for(data_dir))
    try:
        with db.read_session() as s:
            proj, actor = project_and_actor(s, project)
            summary = routing_summary(s, actor, proj.id).as_dict()
    except LabelhouseError as exc:
        raise fail(exc) from None
    finally:
        db.dispose()
    if as_json:
        echo_json(summary)
        return
    keys = ["name", "kind", "tasks", "slots", "taken", "open_slots"]
    if summary["workforces"]:
        echo_table(
            ["WORKFORCE", "KIND", "TASKS", "SLOTS", "TAKEN", "OPEN"],
            [[str(w[k]) for k in keys] for w in summary["workforces"]],
        )
    else:
        console.print("No workforce is a member of this project yet.")
    typer.echo(f"Routed to nobody: {_count(summary['unrouted_tasks'], 'task')}")
    typer.echo(f"New imports: {_rule_text(summary['rule'])}")


def _route(
    mode: str,
    project: str,
    workforces: list[str] | None,
    selection: tuple[int | None, Path | None, str | None, bool],
    remember: bool,
    data_dir: Path | None,
) -> None:
    from labelhouse.people.teams import list_teams
    from labelhouse.tasks.routing import Slot, route_tasks

    args = workforces or []
    db = open_db(settings_for(data_dir))
    try:
        parsed = _parse_slots(args, mode)
        chosen = _selection(*selection)
        with db.session() as s:
            proj, actor = project_and_actor(s, project)
            known = list_teams(s, actor)
            teams = [_find_team(s, actor, name, known) for name, _ in parsed]
            slots = [
                Slot(t.id, share=n) if mode == "share" else Slot(t.id, quota=int(n))
                for t, (_, n) in zip(teams, parsed, strict=True)
            ]
            try:
                result = route_tasks(
                    s, actor, proj.id, mode=mode, slots=slots, selection=chosen, remember=remember
                )
            except InvalidInput as exc:
                raise _as_arguments(exc, [f"'{a}'" for a in args]) from None
            names = {t.id: t.name for t in teams}
            name = proj.name
    except LabelhouseError as exc:
        raise fail(exc) from None
    finally:
        db.dispose()
    echo_table(
        ["WORKFORCE", "TASKS"], [[names[wf], str(n)] for wf, n in result.per_workforce.items()]
    )
    how = "by share" if mode == "share" else "to each workforce"
    console.print(f"Routed {_count(result.tasks, 'task')} of project '{escape(name)}' {how}.")
    if not result.tasks and not chosen.narrowed and not chosen.every_unstarted:
        console.print(
            "Only unstarted tasks routed to nobody yet are routed by default; add "
            "--every-unstarted to re-route the others.",
            soft_wrap=True,
        )
    if remember:
        console.print("Tasks imported from now on will be routed the same way.")


@route_app.command("share")
def route_share(
    project: str = Project,
    workforces: list[str] | None = Workforces,
    import_id: int | None = ImportId,
    ids: Path | None = IdsFile,
    where: str | None = Where,
    every_unstarted: bool = EveryUnstarted,
    remember: bool = Remember,
    data_dir: Path | None = DataDir,
) -> None:
    """Split tasks between workforces by share: "Vendor A=50" "Staff=50".

    Each task goes whole to one workforce, interleaved in id order. Only unstarted tasks
    are routed: by default those routed to nobody yet; --import, --ids and --where select
    tasks whether routed or not (and narrow each other); --every-unstarted re-routes all."""
    _route(
        "share", project, workforces, (import_id, ids, where, every_unstarted), remember, data_dir
    )


@route_app.command("each")
def route_each(
    project: str = Project,
    workforces: list[str] | None = Workforces,
    import_id: int | None = ImportId,
    ids: Path | None = IdsFile,
    where: str | None = Where,
    every_unstarted: bool = EveryUnstarted,
    remember: bool = Remember,
    data_dir: Path | None = DataDir,
) -> None:
    """Give every task to each workforce, with quotas: "Vendor A=1" "Vendor B=1".

    Each selected task gets QUOTA annotations from each listed workforce (the same items
    labelled by several vendors, to compare them); the quotas add up to the project's
    overlap. The tasks are selected as for `route share`."""
    _route(
        "each", project, workforces, (import_id, ids, where, every_unstarted), remember, data_dir
    )


@route_app.command("move")
def move_work(
    project: str = Project,
    from_: str = typer.Option(
        ..., "--from", help="The workforce (name or id) whose unstarted work moves"
    ),
    to: str = typer.Option(..., "--to", help="The workforce (name or id) that takes it over"),
    data_dir: Path | None = DataDir,
) -> None:
    """Move a workforce's unstarted work to another workforce.

    Every annotation slot the --from workforce has not started goes to --to, in one
    transaction; work already leased or done stays with whoever has it."""
    from labelhouse.people.teams import list_teams
    from labelhouse.tasks.routing import move_work as move

    db = open_db(settings_for(data_dir))
    try:
        with db.session() as s:
            proj, actor = project_and_actor(s, project)
            known = list_teams(s, actor)
            source, target = _find_team(s, actor, from_, known), _find_team(s, actor, to, known)
            try:
                moved = move(s, actor, proj.id, from_id=source.id, to_id=target.id)
            except InvalidInput as exc:
                raise _as_arguments(exc, ["--to"]) from None
            name = proj.name
    except LabelhouseError as exc:
        raise fail(exc) from None
    finally:
        db.dispose()
    if moved:
        typer.echo(
            f"Moved {_count(moved, 'annotation slot')} of project '{name}' from '{source.name}' to "
            f"'{target.name}'."
        )
    else:
        typer.echo(f"Nothing to move: '{source.name}' has no unstarted work in project '{name}'.")


@route_app.command("clear")
def clear_routes(
    project: str = Project,
    import_id: int | None = ImportId,
    ids: Path | None = IdsFile,
    where: str | None = Where,
    forget_rule: bool = typer.Option(
        False, "--forget-rule", help="Also stop routing the tasks imported from now on"
    ),
    data_dir: Path | None = DataDir,
) -> None:
    """Take unstarted tasks out of routing.

    Every unstarted task, or those --import, --ids and --where select: lab people in no
    vendor may then get them. Started tasks keep their routes."""
    from labelhouse.tasks import routing

    db = open_db(settings_for(data_dir))
    try:
        chosen = _selection(import_id, ids, where)
        with db.session() as s:
            proj, actor = project_and_actor(s, project)
            removed = routing.unroute_tasks(s, actor, proj.id, chosen)
            if forget_rule:
                routing.forget_rule(s, actor, proj.id)
            name = proj.name
    except LabelhouseError as exc:
        raise fail(exc) from None
    finally:
        db.dispose()
    typer.echo(f"Took {_count(removed, 'task')} of project '{name}' out of routing.")
    if forget_rule:
        console.print("Tasks imported from now on are routed to nobody.")
