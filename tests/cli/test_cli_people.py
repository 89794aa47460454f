"""``labelhouse members`` and ``users list / reset-password / create`` against the test
database: results on standard output (tables, JSON, a bare password), one clear sentence on
standard error for every failure, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from labelhouse.accounts import service as accounts
from labelhouse.accounts.models import ApiToken, Membership, ProjectMember, Role, User
from labelhouse.cli.main import app as cli_app
from labelhouse.errors import NotAuthenticated
from labelhouse.people import organization, teams
from labelhouse.tasks import queue
from tests.factories import PASSWORD, add_member, add_tasks, make_project, text_rows
from tests.helpers_data import count_rows, flat


@pytest.fixture
def cli(db_url, tmp_path):
    data_dir = tmp_path / "cli-data"

    def run(*args: str):
        result = CliRunner().invoke(
            cli_app,
            [*args, "--data-dir", str(data_dir)],
            env={"LABELHOUSE_DATABASE_URL": db_url, "COLUMNS": "200"},
            catch_exceptions=False,
        )
        assert "Traceback" not in result.output
        return result

    return run


@pytest.fixture
def project(db, owner):
    """A project nobody but the organization's owner is in yet."""
    return make_project(db, owner, name="Reviews", open_to_all=False)


def failed(result, *, code: int = 1) -> str:
    """The error sentence of a failed command, which printed nothing on standard output."""
    assert result.exit_code == code, result.output
    assert result.stdout == ""
    return flat(result.stderr)


def person(db, owner, role: Role = Role.annotator):
    """A member of the organization who is in no project yet."""
    return add_member(db, owner, role, join_projects=False)


def members_of(db, project_id: int) -> dict[str, str]:
    """E-mail → role of the project's own (direct) members."""
    with db.read_session() as s:
        rows = s.execute(
            select(User.email, ProjectMember.role)
            .join(ProjectMember, ProjectMember.user_id == User.id)
            .where(ProjectMember.project_id == project_id)
        )
        return {email: role for email, role in rows}


def make_team(db, owner, name: str, members: list) -> int:
    with db.session() as s:
        team = teams.create_team(s, owner.actor, name=name)
        if members:
            teams.add_members(s, owner.actor, team.id, emails=[m.email for m in members])
        return team.id


# -- members add -------------------------------------------------------------------------------


def test_members_add_several_then_change_a_role(db, cli, owner, project):
    a, b = person(db, owner), person(db, owner)
    result = cli("members", "add", "Reviews", a.email, b.email.upper())
    assert result.exit_code == 0, result.output
    assert result.stdout == f"added\t{a.email}\nadded\t{b.email}\n"
    assert "Role in project 'Reviews': annotator." in flat(result.stderr)
    assert members_of(db, project) == {a.email: "annotator", b.email: "annotator"}

    result = cli("members", "add", str(project), a.email, b.email, "--role", "reviewer")
    assert result.stdout == f"updated\t{a.email}\nupdated\t{b.email}\n"
    result = cli("members", "add", str(project), a.email, "--role", "reviewer")
    assert result.stdout == f"unchanged\t{a.email}\n"
    assert members_of(db, project) == {a.email: "reviewer", b.email: "reviewer"}


def test_members_add_from_a_file_skips_blank_lines_and_comments(db, cli, owner, project, tmp_path):
    a, b, c = (person(db, owner) for _ in range(3))
    listing = tmp_path / "people.txt"
    listing.write_text(f"# the night shift\n{a.email}\n\n  {b.email}  # new\n")
    result = cli("members", "add", "Reviews", c.email, "--from-file", str(listing))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [f"added\t{e}" for e in (c.email, a.email, b.email)]
    assert set(members_of(db, project)) == {a.email, b.email, c.email}


def test_an_unknown_address_in_a_file_names_the_line_and_adds_nobody(
    db, cli, owner, project, tmp_path
):
    a = person(db, owner)
    listing = tmp_path / "people.txt"
    listing.write_text(f"{a.email}\n# a comment\nstranger@example.com\n")
    error = failed(cli("members", "add", "Reviews", "--from-file", str(listing)))
    assert "Some addresses are not members of this organization." in error
    assert "people.txt, line 3: 'stranger@example.com' is not a member of this organization" in (
        error
    )
    assert members_of(db, project) == {}


def test_an_unknown_address_argument_adds_nobody(db, cli, owner, project):
    a = person(db, owner)
    error = failed(cli("members", "add", "Reviews", a.email, "nobody@example.com"))
    assert "argument 2: 'nobody@example.com' is not a member of this organization" in error
    assert members_of(db, project) == {}


def test_members_add_needs_someone(db, cli, owner, project, tmp_path):
    assert "Name someone to add" in failed(cli("members", "add", "Reviews"))
    empty = tmp_path / "empty.txt"
    empty.write_text("# nobody yet\n\n")
    assert "lists no e-mail addresses" in failed(
        cli("members", "add", "Reviews", "--from-file", str(empty))
    )


def test_members_add_refuses_an_organization_role(db, cli, owner, project):
    a = person(db, owner)
    result = cli("members", "add", "Reviews", a.email, "--role", "owner")
    assert result.exit_code == 2
    assert members_of(db, project) == {}


def test_members_add_a_team_by_name(db, cli, owner, project):
    a, b = person(db, owner), person(db, owner)
    make_team(db, owner, "Night shift", [a, b])
    result = cli("members", "add", "Reviews", "--team", "Night shift")
    assert result.exit_code == 0, result.output
    assert result.stdout == "added\tteam Night shift (2 members)\n"
    assert cli("members", "add", "Reviews", "--team", "Night shift").stdout.startswith("unchanged")
    again = cli("members", "add", "Reviews", "--team", "Night shift", "--role", "reviewer")
    assert again.stdout == "updated\tteam Night shift (2 members)\n"
    listed = json.loads(cli("members", "list", "Reviews", "--json").stdout)
    assert {p["email"]: (p["role"], p["teams"]) for p in listed if p["teams"]} == {
        a.email: ("reviewer", ["Night shift"]),
        b.email: ("reviewer", ["Night shift"]),
    }


def test_an_unknown_team_names_the_known_ones(db, cli, owner, project):
    make_team(db, owner, "Day shift", [])
    error = failed(cli("members", "add", "Reviews", "--team", "Night shift"))
    assert "No team named 'Night shift' (the organization's teams: 'Day shift')." in error


def test_a_team_and_addresses_together_are_refused(db, cli, owner, project):
    a = person(db, owner)
    make_team(db, owner, "Night shift", [a])
    assert "not both" in failed(cli("members", "add", "Reviews", a.email, "--team", "Night shift"))


# -- members list ------------------------------------------------------------------------------


def test_members_list_shows_how_each_person_got_in(db, cli, owner, project):
    direct, via_team, both = (person(db, owner) for _ in range(3))
    manager = person(db, owner, Role.manager)
    make_team(db, owner, "Night shift", [via_team, both])
    assert cli("members", "add", "Reviews", direct.email, both.email).exit_code == 0
    assert cli("members", "add", "Reviews", "--team", "Night shift").exit_code == 0

    result = cli("members", "list", "Reviews")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["EMAIL", "ROLE", "VIA"]
    rows = {line.split()[0]: " ".join(line.split()[1:]) for line in lines[1:]}
    assert rows == {
        owner.email: "owner organization owner",
        manager.email: "manager organization manager",
        direct.email: "annotator direct",
        via_team.email: "annotator team Night shift",
        both.email: "annotator direct, team Night shift",
    }
    assert "Teams in project 'Reviews': Night shift (annotator, 2 members)" in flat(result.stderr)

    listed = json.loads(cli("members", "list", str(project), "--json").stdout)
    by_email = {p["email"]: p for p in listed}
    assert set(by_email) == set(rows)
    assert by_email[both.email]["direct_role"] == "annotator"
    assert by_email[both.email]["teams"] == ["Night shift"]
    assert by_email[via_team.email]["direct_role"] is None
    assert by_email[owner.email]["organization_role"] == "owner"
    assert by_email[direct.email]["active"] is True
    assert by_email[direct.email]["added_at"] is not None


def test_an_unknown_project_is_one_sentence(db, cli, owner):
    for args in (["list", "Nope"], ["add", "Nope", owner.email], ["remove", "Nope", owner.email]):
        assert failed(cli("members", *args)) == "Error: No project with id or name 'Nope'."


# -- members remove ----------------------------------------------------------------------------


def test_members_remove_ends_the_persons_leases(db, cli, owner, project):
    a, b = person(db, owner), person(db, owner)
    assert cli("members", "add", "Reviews", a.email, b.email).exit_code == 0
    add_tasks(db, owner, project, text_rows(3))
    with db.session() as s:
        assert queue.claim_next(s, a.actor, project) is not None
    result = cli("members", "remove", "Reviews", a.email.upper())
    assert result.exit_code == 0, result.output
    assert result.stdout == f"Removed {a.email} from project 'Reviews'; 1 lease ended.\n"
    assert members_of(db, project) == {b.email: "annotator"}
    assert "0 leases ended" in cli("members", "remove", "Reviews", b.email).stdout


def test_members_remove_a_team(db, cli, owner, project):
    a = person(db, owner)
    make_team(db, owner, "Night shift", [a])
    assert cli("members", "add", "Reviews", "--team", "Night shift").exit_code == 0
    add_tasks(db, owner, project, text_rows(2))
    with db.session() as s:
        assert queue.claim_next(s, a.actor, project) is not None
    result = cli("members", "remove", "Reviews", "--team", "Night shift")
    assert result.exit_code == 0, result.output
    assert result.stdout == "Removed team Night shift from project 'Reviews'; 1 lease ended.\n"
    error = failed(cli("members", "remove", "Reviews", "--team", "Night shift"))
    assert "Team 'Night shift' is not a member of this project." in error


def test_members_remove_says_why_someone_cannot_be_removed(db, cli, owner, project):
    in_team, outsider = person(db, owner), person(db, owner)
    make_team(db, owner, "Night shift", [in_team])
    assert cli("members", "add", "Reviews", "--team", "Night shift").exit_code == 0

    error = failed(cli("members", "remove", "Reviews", "stranger@example.com"))
    assert error == "Error: stranger@example.com is not a member of the organization."
    error = failed(cli("members", "remove", "Reviews", outsider.email))
    assert error == f"Error: {outsider.email} is not a member of project 'Reviews'."
    error = failed(cli("members", "remove", "Reviews", in_team.email))
    assert "(their access comes from: team Night shift)" in error
    assert "remove the team with --team NAME instead" in error
    error = failed(cli("members", "remove", "Reviews", owner.email))
    assert "organization owners and managers see every project" in error
    assert "Give either an e-mail address or --team NAME." in failed(
        cli("members", "remove", "Reviews")
    )


# -- users list --------------------------------------------------------------------------------


def test_users_list_as_a_table_and_as_json(db, cli, owner, project):
    a = person(db, owner)
    gone = person(db, owner, Role.reviewer)
    make_team(db, owner, "Night shift", [a])
    assert cli("members", "add", "Reviews", a.email).exit_code == 0
    with db.session() as s:
        organization.deactivate(s, owner.actor, user_id=gone.user_id)

    result = cli("users", "list")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "EMAIL",
        "ROLE",
        "STATUS",
        "TEAMS",
        "PROJECTS",
        "LAST",
        "ACTIVE",
        "(UTC)",
    ]
    rows = {line.split()[0]: line.split()[1:] for line in lines[1:]}
    assert rows[a.email] == ["annotator", "active", "Night", "shift", "1", "never"]
    assert rows[gone.email] == ["reviewer", "deactivated", "-", "0", "never"]
    assert rows[owner.email][:4] == ["owner", "active", "-", "all"]

    listed = json.loads(cli("users", "list", "--json").stdout)
    by_email = {p["email"]: p for p in listed}
    assert set(by_email) == {owner.email, a.email, gone.email}
    assert by_email[a.email]["projects"] == [
        {"id": project, "name": "Reviews", "role": "annotator"}
    ]
    assert by_email[a.email]["teams"] == ["Night shift"]
    assert by_email[gone.email]["active"] is False
    assert by_email[owner.email]["all_projects"] is True


def test_users_list_of_a_missing_organization(db, cli, owner):
    error = failed(cli("users", "list", "--organization", "999"))
    assert error.startswith("Error: No such organization: 999.")


# -- users reset-password ----------------------------------------------------------------------


def test_reset_password_prints_only_the_password(db, cli, owner):
    a = person(db, owner)
    with db.session() as s:
        accounts.create_api_token(s, a.actor, name="script")
    result = cli("users", "reset-password", a.email)
    assert result.exit_code == 0, result.output
    password = result.stdout.removesuffix("\n")
    assert password and "\n" not in password and " " not in password
    assert "1 API token revoked" in flat(result.stderr)
    assert "must be changed at the first login" in flat(result.stderr)
    with db.session() as s:
        user = s.get(User, a.user_id)
        assert user.must_change_password is True
        with pytest.raises(NotAuthenticated):
            accounts.authenticate(s, email=a.email, password=PASSWORD)
        assert accounts.authenticate(s, email=a.email, password=password).id == a.user_id
        assert all(t.revoked_at is not None for t in s.scalars(select(ApiToken)))


def test_reset_password_of_a_stranger(db, cli, owner):
    error = failed(cli("users", "reset-password", "stranger@example.com"))
    assert error == "Error: stranger@example.com is not a member of the organization."


# -- users create: the first account -----------------------------------------------------------


def test_the_first_account_cannot_be_an_annotator(db, cli):
    error = failed(cli("users", "create", "first@example.com", "--role", "annotator"))
    assert (
        "The first account must be the organization's owner: run "
        "`labelhouse users create first@example.com --role owner`, then add others."
    ) in error
    assert count_rows(db, User) == 0


def test_the_first_account_without_a_role_is_the_owner(db, cli):
    result = cli("users", "create", "first@example.com")
    assert result.exit_code == 0, result.output
    password = result.stdout.removesuffix("\n")
    assert password and "\n" not in password
    err = flat(result.stderr)
    assert "first account becomes the organization's owner" in err
    assert "Created first@example.com, the owner of a new organization" in err
    assert password not in result.stderr
    with db.session() as s:
        assert s.scalar(select(Membership.role)) == Role.owner.value
        user = accounts.authenticate(s, email="first@example.com", password=password)
        assert user.must_change_password is True


def test_the_first_account_with_role_owner(db, cli):
    result = cli("users", "create", "first@example.com", "--role", "owner")
    assert result.exit_code == 0, result.output
    assert "becomes the organization's owner" not in result.stderr
    with db.read_session() as s:
        assert s.scalar(select(Membership.role)) == Role.owner.value


def test_later_accounts_default_to_annotator_and_print_the_password_alone(db, cli, owner):
    result = cli("users", "create", "later@example.com")
    assert result.exit_code == 0, result.output
    password = result.stdout.removesuffix("\n")
    assert "Created later@example.com (annotator)" in flat(result.stderr)
    with db.read_session() as s:
        user = accounts.authenticate(s, email="later@example.com", password=password)
        role = s.scalar(select(Membership.role).where(Membership.user_id == user.id))
    assert role == "annotator"
    given = cli("users", "create", "given@example.com", "--password", PASSWORD)
    assert given.exit_code == 0 and given.stdout == ""


@pytest.mark.parametrize("empty", [True, False])
def test_users_create_in_a_missing_organization(db, cli, request, empty):
    if not empty:
        request.getfixturevalue("owner")
    args = ("users", "create", "x@example.com", "--organization", "999", "--role", "owner")
    assert "No such organization: 999." in failed(cli(*args))
    assert count_rows(db, User) == (0 if empty else 1)


def test_a_path_that_is_not_a_file_is_a_usage_error(db, cli, owner, project, tmp_path: Path):
    result = cli("members", "add", "Reviews", "--from-file", str(tmp_path / "missing.txt"))
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_the_first_account_with_a_chosen_password_need_not_change_it(db, cli):
    """Only a generated password is one-time: an operator who chose one can use the API at
    once (scripts and benchmarks set up installations this way)."""
    result = cli("users", "create", "first@example.com", "--password", "chosen by the operator")
    assert result.exit_code == 0, result.output
    with db.session() as s:
        user = accounts.authenticate(
            s, email="first@example.com", password="chosen by the operator"
        )
        assert user.must_change_password is False
