"""``labelhouse workforces`` and ``labelhouse route`` against the test database: teams marked
staff or vendor, work routed by share and to each, moved and cleared, a contract ended; every
bad argument one sentence on standard error, never a traceback."""

from __future__ import annotations

import json
from typing import Any

import pytest
import typer
from sqlalchemy import select
from typer.testing import CliRunner

from labelhouse.accounts.models import Membership, Role
from labelhouse.cli.main import app as cli_app
from labelhouse.people import project_members, teams
from labelhouse.tasks import queue
from labelhouse.tasks.models import TaskImport
from tests.factories import add_member, add_tasks, make_project, text_rows
from tests.helpers_data import flat


@pytest.fixture
def cli(db_url, tmp_path):
    data_dir = tmp_path / "cli-data"

    def run(*args: str, input: str | None = None):
        result = CliRunner().invoke(
            cli_app,
            [*args, "--data-dir", str(data_dir)],
            input=input,
            env={"LABELHOUSE_DATABASE_URL": db_url, "COLUMNS": "200"},
            catch_exceptions=False,
        )
        assert "Traceback" not in result.output
        return result

    return run


def failed(result, *, code: int = 1) -> str:
    """The error sentence of a failed command, which printed nothing on standard output."""
    assert result.exit_code == code, result.output
    assert result.stdout == ""
    return flat(result.stderr)


def make_team(db, owner, name: str, people: int, project: int | None, role: str = "annotator"):
    """A plain team of ``people`` new annotators; a member of ``project`` with ``role``."""
    members = [add_member(db, owner, Role.annotator, join_projects=False) for _ in range(people)]
    with db.session() as s:
        team = teams.create_team(s, owner.actor, name=name)
        if members:
            teams.add_members(s, owner.actor, team.id, emails=[m.email for m in members])
        if project is not None:
            project_members.add_team(s, owner.actor, project, team_id=team.id, role=role)
        return team.id, members


@pytest.fixture
def lab(db, owner):
    """Project 'Reviews' (overlap 1, 10 tasks) with two teams in it, not yet workforces."""
    project = make_project(db, owner, name="Reviews", open_to_all=False)
    add_tasks(db, owner, project, text_rows(10))
    vendor, vendor_people = make_team(db, owner, "Vendor A", 2, project)
    staff, staff_people = make_team(db, owner, "Staff", 1, project)
    return project, (vendor, vendor_people), (staff, staff_people)


def workforces(cli, *kinds: tuple[str, str]) -> None:
    for name, kind in kinds:
        assert cli("workforces", "set", name, "--kind", kind).exit_code == 0


def routing(cli, project: str = "Reviews") -> dict:
    result = cli("route", "show", project, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def per_workforce(summary: dict) -> dict[str, tuple[int, int, int]]:
    return {w["name"]: (w["tasks"], w["slots"], w["open_slots"]) for w in summary["workforces"]}


# -- workforces --------------------------------------------------------------------------------


def test_set_a_team_vendor_then_list_it(db, cli, owner, lab):
    result = cli(
        "workforces",
        "set",
        "Vendor A",
        "--kind",
        "vendor",
        "--contact",
        "ops@acme.test",
        "--price-per-task",
        "0.12",
        "--currency",
        "usd",
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split()[:4] == ["ID", "TEAM", "KIND", "MEMBERS"]
    assert lines[1].split()[1:] == [
        *("Vendor", "A", "vendor", "2", "ops@acme.test"),
        *("0.12", "-", "USD", "active"),
    ]
    assert "Updated team 'Vendor A'." in flat(result.stderr)

    staff = lab[2][0]
    assert cli("workforces", "set", str(staff), "--kind", "staff").exit_code == 0  # by id
    listed = {t["name"]: t for t in json.loads(cli("workforces", "list", "--json").stdout)}
    assert listed["Vendor A"] | {"id": 0} == {
        "id": 0,
        "name": "Vendor A",
        "kind": "vendor",
        "members": 2,
        "contact": "ops@acme.test",
        "price_per_task": 0.12,
        "price_per_hour": None,
        "currency": "USD",
        "contract": "active",
        "contract_ended_at": None,
    }
    assert (listed["Staff"]["kind"], listed["Staff"]["contract"]) == ("staff", None)

    # options left out stay; 'none' clears a price
    again = cli(
        "workforces", "set", "Vendor A", "--price-per-hour", "15", "--price-per-task", "none"
    )
    assert again.exit_code == 0, again.output
    table = cli("workforces", "list").stdout.splitlines()
    row = next(line for line in table if "Vendor A" in line).split()
    assert row[3:] == ["vendor", "2", "ops@acme.test", "-", "15", "USD", "active"]


def test_end_contract_asks_then_deactivates_everyone(db, cli, owner, lab):
    project, (_, people), _ = lab
    workforces(cli, ("Vendor A", "vendor"))
    assert cli("route", "share", "Reviews", "Vendor A=1").exit_code == 0
    with db.session() as s:
        assert queue.claim_next(s, people[0].actor, project) is not None

    no = cli("workforces", "end-contract", "Vendor A", input="n\n")
    assert no.exit_code == 1 and "Aborted" in no.stderr  # (the runner echoes the answer)
    assert "Its 2 people will be deactivated at once." in flat(no.stderr)
    assert json.loads(cli("workforces", "list", "--json").stdout)[-1]["contract"] == "active"

    result = cli("workforces", "end-contract", "Vendor A", "--yes")
    assert result.exit_code == 0, result.output
    assert sorted(result.stdout.splitlines()) == sorted(f"deactivated\t{p.email}" for p in people)
    err = flat(result.stderr)
    assert (
        "Ended the contract of 'Vendor A': 2 people deactivated, 1 lease ended, 0 API tokens" in err
    )
    assert "It still has 10 routed annotation slots nobody has started: move them with" in err
    with db.read_session() as s:
        ended = s.scalars(
            select(Membership.deactivated_at).where(
                Membership.user_id.in_([p.user_id for p in people])
            )
        ).all()
    assert len(ended) == 2 and all(ended)
    listed = {t["name"]: t for t in json.loads(cli("workforces", "list", "--json").stdout)}
    assert listed["Vendor A"]["contract"] == "ended"
    assert listed["Vendor A"]["contract_ended_at"] is not None
    error = failed(cli("workforces", "end-contract", "Vendor A", "--yes"))
    assert error == "Error: The contract of 'Vendor A' has already ended."


# -- route -------------------------------------------------------------------------------------


def test_route_share_show_move_and_clear(db, cli, owner, lab):
    workforces(cli, ("Vendor A", "vendor"), ("Staff", "staff"))
    summary = routing(cli)
    assert per_workforce(summary) == {"Staff": (0, 0, 0), "Vendor A": (0, 0, 0)}
    assert (summary["unrouted_tasks"], summary["rule"]) == (10, None)

    result = cli("route", "share", "Reviews", "Vendor A=60", "Staff=40", "--remember")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1:] == ["Vendor A   6", "Staff      4"]
    err = flat(result.stderr)
    assert "Routed 10 tasks of project 'Reviews' by share." in err
    assert "Tasks imported from now on will be routed the same way." in err

    summary = routing(cli)
    assert per_workforce(summary) == {"Staff": (4, 4, 4), "Vendor A": (6, 6, 6)}
    assert summary["unrouted_tasks"] == 0
    assert summary["rule"]["mode"] == "share"
    assert [(w["name"], w["share"]) for w in summary["rule"]["workforces"]] == [
        ("Vendor A", 60.0),
        ("Staff", 40.0),
    ]
    table = cli("route", "show", "Reviews").stdout.splitlines()
    assert table[0].split() == ["WORKFORCE", "KIND", "TASKS", "SLOTS", "TAKEN", "OPEN"]
    assert [line.split() for line in table[1:3]] == [
        ["Staff", "staff", "4", "4", "0", "4"],
        ["Vendor", "A", "vendor", "6", "6", "0", "6"],
    ]
    assert table[3:] == [
        "Routed to nobody: 0 tasks",
        "New imports: routed by share: Vendor A=60, Staff=40",
    ]

    again = cli("route", "share", "Reviews", "Staff=1")  # nothing routed to nobody is left
    assert "Routed 0 tasks" in flat(again.stderr) and "--every-unstarted" in flat(again.stderr)

    moved = cli("route", "move", "Reviews", "--from", "Vendor A", "--to", "Staff")
    assert moved.exit_code == 0, moved.output
    assert (
        moved.stdout
        == "Moved 6 annotation slots of project 'Reviews' from 'Vendor A' to 'Staff'.\n"
    )
    assert per_workforce(routing(cli)) == {"Staff": (10, 10, 10), "Vendor A": (0, 0, 0)}
    nothing = cli("route", "move", "Reviews", "--from", "Vendor A", "--to", "Staff")
    assert nothing.stdout.startswith("Nothing to move: 'Vendor A' has no unstarted work")

    cleared = cli("route", "clear", "Reviews", "--forget-rule")
    assert cleared.exit_code == 0, cleared.output
    assert cleared.stdout == "Took 10 tasks of project 'Reviews' out of routing.\n"
    summary = routing(cli)
    assert (summary["unrouted_tasks"], summary["rule"]) == (10, None)
    assert per_workforce(summary) == {"Staff": (0, 0, 0), "Vendor A": (0, 0, 0)}


def test_route_each_selected_tasks(db, cli, owner, tmp_path):
    project = make_project(db, owner, name="Compare", open_to_all=False, overlap=2)
    add_tasks(db, owner, project, text_rows(6))
    make_team(db, owner, "Vendor A", 1, project)
    make_team(db, owner, "Vendor B", 1, project)
    workforces(cli, ("Vendor A", "vendor"), ("Vendor B", "vendor"))
    task_ids = [t["id"] for t in json.loads(cli("export", "Compare", "-f", "json").stdout)]

    ids = tmp_path / "ids.txt"
    ids.write_text(f"# the first two\n{task_ids[0]}, {task_ids[1]}\n\n")
    result = cli("route", "each", "Compare", "Vendor A=1", "Vendor B=1", "--ids", str(ids))
    assert result.exit_code == 0, result.output
    assert "Routed 2 tasks of project 'Compare' to each workforce." in flat(result.stderr)
    assert per_workforce(routing(cli, "Compare")) == {"Vendor A": (2, 2, 2), "Vendor B": (2, 2, 2)}

    where = cli("route", "each", "Compare", "Vendor A=1", "Vendor B=1", "--where", "text=item 5")
    assert "Routed 1 task of" in flat(where.stderr)
    with db.read_session() as s:
        import_id = s.scalar(select(TaskImport.id).where(TaskImport.project_id == project))
    rest = cli("route", "each", "Compare", "Vendor A=2", "--import", str(import_id))
    assert "Routed 6 tasks" in flat(rest.stderr)  # a narrowed selection re-routes
    summary = routing(cli, "Compare")
    assert per_workforce(summary) == {"Vendor A": (6, 12, 12), "Vendor B": (0, 0, 0)}
    assert cli("route", "clear", "Compare", "--ids", str(ids)).stdout.startswith("Took 2 tasks")
    assert routing(cli, "Compare")["unrouted_tasks"] == 2


# -- bad arguments -----------------------------------------------------------------------------


BAD = [
    (
        ["workforces", "set", "Nope", "--kind", "vendor"],
        "Error: No team named 'Nope' "
        "(the organization's teams: 'Group', 'Outside', 'Staff', 'Vendor A').",
    ),
    (["workforces", "set", "Vendor A"], "Nothing to change: give --kind"),
    (
        ["workforces", "set", "Vendor A", "--price-per-task", "cheap"],
        "--price-per-task takes a number such as 0.12, or 'none'.",
    ),
    (
        ["workforces", "set", "Vendor A", "--price-per-hour", "-3"],
        "price_per_hour must be a number from 0",
    ),
    (
        ["workforces", "set", "Vendor A", "--currency", "dollars"],
        "'dollars' is not a currency code",
    ),
    (
        ["workforces", "end-contract", "Staff", "--yes"],
        "'Staff' is not a vendor; only a vendor's contract can end.",
    ),
    (["workforces", "list", "--organization", "999"], "No such organization: 999."),
    (["route", "show", "Nope"], "Error: No project with id or name 'Nope'."),
    (
        ["route", "share", "Reviews"],
        "Name the workforces to route to, e.g. 'Vendor A=50' 'Staff=50'.",
    ),
    (["route", "share", "Reviews", "Vendor A"], "'Vendor A' is not NAME=NUMBER"),
    (
        ["route", "share", "Reviews", "Vendor A=lots"],
        "In 'Vendor A=lots', 'lots' is not a positive share.",
    ),
    (["route", "share", "Reviews", "Vendor A=nan"], "'nan' is not a positive share."),
    (["route", "each", "Reviews", "Vendor A=0.5"], "'0.5' is not a whole number of annotations."),
    (["route", "share", "Reviews", "Nobody=1"], "No team named 'Nobody'"),
    (
        ["route", "share", "Reviews", "Group=1"],
        "Cannot route: 'Group=1': 'Group' is a team, not a workforce: mark it staff or vendor.",
    ),
    (
        ["route", "share", "Reviews", "Outside=1"],
        "'Outside' is not a member of this project: add it first",
    ),
    (["route", "share", "Reviews", "Staff=1", "Staff=2"], "A workforce is named twice."),
    (
        ["route", "each", "Reviews", "Vendor A=1", "Staff=1"],
        "The quotas add up to 2, but the project asks for 1 annotations per task",
    ),
    (
        ["route", "share", "Reviews", "Staff=1", "--ids", "missing.txt"],
        "No such file: missing.txt.",
    ),
    (
        ["route", "share", "Reviews", "Staff=1", "--ids", "junk.txt"],
        "junk.txt, line 2: 'seven' is not a task id.",
    ),
    (["route", "share", "Reviews", "Staff=1", "--ids", "empty.txt"], "lists no task ids."),
    (["route", "share", "Reviews", "Staff=1", "--where", "text"], "--where takes KEY=VALUE"),
    (
        ["route", "share", "Reviews", "Staff=1", "--import", "999"],
        "Import 999 does not exist in this project.",
    ),
    (
        ["route", "move", "Reviews", "--from", "Staff", "--to", "Staff"],
        "Move work to another workforce.",
    ),
    (
        ["route", "move", "Reviews", "--from", "Staff", "--to", "Group"],
        "Cannot route: --to: 'Group' is a team, not a workforce",
    ),
    (["route", "clear", "Reviews", "--where", "=x"], "--where takes KEY=VALUE"),
]


@pytest.mark.parametrize(("args", "sentence"), BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_arguments_are_one_sentence(db, cli, owner, lab, tmp_path, monkeypatch, args, sentence):
    workforces(cli, ("Vendor A", "vendor"), ("Staff", "staff"))
    make_team(db, owner, "Group", 1, lab[0])
    make_team(db, owner, "Outside", 1, None)
    workforces(cli, ("Outside", "staff"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "junk.txt").write_text("1\nseven\n")
    (tmp_path / "empty.txt").write_text("# nothing yet\n")
    error = failed(cli(*args))
    assert sentence in error
    assert error.startswith("Error: ")


def test_vendor_rules_reach_the_command_line(db, cli, owner):
    project = make_project(db, owner, name="Reviews", open_to_all=False)
    make_team(db, owner, "Checkers", 1, project, role="manager")
    error = failed(cli("workforces", "set", "Checkers", "--kind", "vendor"))
    assert "is a project manager; make it annotator or reviewer in its projects first" in error


@pytest.mark.parametrize(
    "args",
    [
        ["workforces", "set", "Staff", "--kind", "contractor"],
        ["route", "share", "Reviews", "Staff=1", "--import", "x"],
        ["route", "move", "Reviews", "--from", "Staff"],
    ],
)
def test_usage_errors_exit_2_without_a_traceback(db, cli, owner, lab, args):
    result = cli(*args)
    assert result.exit_code == 2
    assert result.stdout == ""


def test_every_command_and_option_has_help():
    root: Any = typer.main.get_command(cli_app)
    for group in ("workforces", "route"):
        sub = root.commands[group]
        assert sub.help and sub.commands
        for name, command in sub.commands.items():
            assert command.help, f"{group} {name}"
            for param in command.params:
                assert getattr(param, "help", None), f"{group} {name} {param.name}"
