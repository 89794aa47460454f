"""Teams: named groups of an organization's people, made project members in one step.

A team's projects follow its members: someone added later gets them at once, someone
removed loses them (and their leases there) at once. Organization owners and managers
manage teams. A team may be a workforce (the lab's staff or an outside vendor, see
``people/workforces.py``); joining or leaving it keeps each person's one workforce in step
(``people/workforce_rules.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from labelhouse.accounts.models import Membership, ProjectMember, Role, Team, TeamMember, User
from labelhouse.accounts.policy import Actor
from labelhouse.audit import service as audit
from labelhouse.errors import Conflict, InvalidInput, NotFound, Problem
from labelhouse.people import workforce_rules
from labelhouse.people.access_changes import end_lost_leases
from labelhouse.projects.models import Project
from labelhouse.tasks.models import TaskRoute

MAX_NAME = 200


@dataclass
class TeamView:
    id: int
    name: str
    description: str
    team: Team  # the row: kind, contact, prices, contract end
    members: list[tuple[int, str]] = field(default_factory=list)  # (user id, e-mail)
    projects: list[tuple[int, str, str]] = field(default_factory=list)  # (id, name, role)


def _clean_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME or "\x00" in name:
        raise InvalidInput("Name the team.", [Problem("name", f"1 to {MAX_NAME} characters")])
    return name


def _get(session: Session, actor: Actor, team_id: int) -> Team:
    team = session.scalar(
        select(Team).where(Team.id == team_id, Team.organization_id == actor.organization_id)
    )
    if team is None:
        raise NotFound(f"Team {team_id} does not exist.")
    return team


def _unique(session: Session, actor: Actor, name: str, except_id: int | None = None) -> None:
    query = select(Team.id).where(Team.organization_id == actor.organization_id, Team.name == name)
    if except_id is not None:
        query = query.where(Team.id != except_id)
    if session.scalar(query) is not None:
        raise Conflict(f"There is already a team named '{name}'.")


def create_team(session: Session, actor: Actor, *, name: str, description: str = "") -> Team:
    actor.require_org(Role.manager, "manage teams")
    name = _clean_name(name)
    _unique(session, actor, name)
    team = Team(organization_id=actor.organization_id, name=name, description=description[:2000])
    session.add(team)
    session.flush()
    _audit(session, actor, team, "team.create", {"name": name})
    return team


def update_team(
    session: Session, actor: Actor, team_id: int, *, name: str | None, description: str | None
) -> Team:
    actor.require_org(Role.manager, "manage teams")
    team = _get(session, actor, team_id)
    if name is not None:
        name = _clean_name(name)
        _unique(session, actor, name, except_id=team.id)
        team.name = name
    if description is not None:
        team.description = description[:2000]
    _audit(session, actor, team, "team.update", {"name": team.name})
    return team


def delete_team(session: Session, actor: Actor, team_id: int) -> int:
    """Delete a team; its members lose the projects they had only through it (and their
    leases there). Returns the number of leases ended."""
    actor.require_org(Role.manager, "manage teams")
    team = _get(session, actor, team_id)
    members = list(session.scalars(select(TeamMember.user_id).where(TeamMember.team_id == team.id)))
    projects = list(
        session.scalars(select(ProjectMember.project_id).where(ProjectMember.team_id == team.id))
    )
    routed = session.scalar(select(func.count()).where(TaskRoute.workforce_id == team.id)) or 0
    if routed:
        raise Conflict(
            f"{routed} task routes name '{team.name}': move its work to another workforce "
            "(or take the tasks out of routing) before deleting it."
        )
    workforce_rules.left(session, team, members)
    _audit(session, actor, team, "team.delete", {"name": team.name})
    session.delete(team)
    session.flush()
    return sum(end_lost_leases(session, project_id=p, user_ids=members) for p in projects)


def list_teams(session: Session, actor: Actor) -> list[TeamView]:
    """Every team with its members and projects (organization owners and managers)."""
    actor.require_org(Role.manager, "see teams")
    teams = {
        t.id: TeamView(t.id, t.name, t.description, t)
        for t in session.scalars(
            select(Team).where(Team.organization_id == actor.organization_id).order_by(Team.name)
        )
    }
    if not teams:
        return []
    for tid, uid, email in session.execute(
        select(TeamMember.team_id, User.id, User.email)
        .join(User, User.id == TeamMember.user_id)
        .where(TeamMember.team_id.in_(list(teams)))
        .order_by(User.email)
    ):
        teams[tid].members.append((uid, email))
    for tid, pid, pname, role in session.execute(
        select(ProjectMember.team_id, Project.id, Project.name, ProjectMember.role)
        .join(Project, Project.id == ProjectMember.project_id)
        .where(ProjectMember.team_id.in_(list(teams)))
        .order_by(Project.name)
    ):
        teams[tid].projects.append((pid, pname, role))
    return list(teams.values())


def add_members(session: Session, actor: Actor, team_id: int, *, emails: list[str]) -> list[str]:
    """Add organization members to the team by e-mail (all or nothing); returns those added
    (people already in it are not repeated)."""
    actor.require_org(Role.manager, "manage teams")
    team = _get(session, actor, team_id)
    wanted = [e.strip().lower() for e in emails]
    if not wanted:
        raise InvalidInput("Name at least one person.", [Problem("emails", "empty list")])
    found = {
        email: uid
        for email, uid in session.execute(
            select(User.email, User.id)
            .join(Membership, Membership.user_id == User.id)
            .where(
                Membership.organization_id == actor.organization_id,
                User.email.in_(sorted({w for w in wanted if w and "\x00" not in w})),
            )
        )
    }
    problems = [
        Problem(f"emails[{i}]", f"'{w}' is not a member of this organization; invite them first")
        for i, w in enumerate(wanted)
        if w not in found
    ]
    if problems:
        raise InvalidInput("Some addresses are not members of this organization.", problems)
    present = set(session.scalars(select(TeamMember.user_id).where(TeamMember.team_id == team.id)))
    newcomers = [found[e] for e in dict.fromkeys(wanted) if found[e] not in present]
    workforce_rules.check_can_join(session, team, newcomers)
    added = []
    for email in dict.fromkeys(wanted):
        if found[email] not in present:
            session.add(TeamMember(team_id=team.id, user_id=found[email]))
            added.append(email)
    session.flush()
    workforce_rules.joined(session, team, newcomers)
    _audit(session, actor, team, "team.members_add", {"added": added})
    return added


def remove_member(session: Session, actor: Actor, team_id: int, *, user_id: int) -> int:
    """Take someone out of a team; they lose its projects unless they have them otherwise
    (their leases there end). Returns the number of leases ended."""
    actor.require_org(Role.manager, "manage teams")
    team = _get(session, actor, team_id)
    deleted = session.execute(
        delete(TeamMember)
        .where(TeamMember.team_id == team.id, TeamMember.user_id == user_id)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not deleted:
        raise NotFound(f"User {user_id} is not in team '{team.name}'.")
    workforce_rules.left(session, team, [user_id])
    _audit(session, actor, team, "team.member_remove", {"user_id": user_id})
    projects = session.scalars(
        select(ProjectMember.project_id).where(ProjectMember.team_id == team.id)
    )
    return sum(end_lost_leases(session, project_id=p, user_ids=[user_id]) for p in projects)


def team_count(session: Session, actor: Actor) -> int:
    return (
        session.scalar(select(func.count()).where(Team.organization_id == actor.organization_id))
        or 0
    )


def _audit(session: Session, actor: Actor, team: Team, action: str, details: dict) -> None:  # type: ignore[type-arg]
    audit.record(
        session,
        organization_id=actor.organization_id,
        actor_id=actor.user_id,
        action=action,
        object_type="team",
        object_id=team.id,
        details=details,
    )
