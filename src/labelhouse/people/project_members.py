"""Who is in a project, and with which project role (manager, reviewer, annotator).

Project managers and the organization's owners and managers manage a project's members.
People are added by e-mail (they must already be members of the organization: an
invitation is how someone joins it) or a whole team at once; a team's later members get
its projects too. Removing a person or a team ends the leases of whoever lost access.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from labelhouse.accounts.models import (
    PROJECT_ROLES,
    ROLE_RANK,
    Membership,
    ProjectMember,
    Role,
    Team,
    TeamMember,
    User,
)
from labelhouse.accounts.policy import Actor
from labelhouse.audit import service as audit
from labelhouse.errors import Conflict, InvalidInput, NotFound, Problem
from labelhouse.people import workforce_rules
from labelhouse.people.access_changes import end_lost_leases
from labelhouse.projects.service import get_project

MAX_BULK = 1000


def project_role(value: str | Role, field_name: str = "role") -> Role:
    """A project role from user input, or InvalidInput naming the allowed values."""
    try:
        role = Role(value)
    except ValueError:
        role = None
    if role not in PROJECT_ROLES:
        allowed = ", ".join(r.value for r in PROJECT_ROLES)
        raise InvalidInput(
            f"'{value}' is not a project role.", [Problem(field_name, f"use one of: {allowed}")]
        )
    return role  # type: ignore[return-value]


def _manager_in(session: Session, actor: Actor, project_id: int) -> Actor:
    scoped = actor.in_project(project_id)
    scoped.require(Role.manager, "manage the project's members")
    get_project(session, actor, project_id)
    return scoped


@dataclass
class MemberEntry:
    """One person with access to the project: directly, through teams, or as an
    organization owner/manager (who sees every project)."""

    user_id: int
    email: str
    name: str
    role: str  # effective role in the project
    direct_role: str | None  # their own entry, if any
    teams: list[str] = field(default_factory=list)
    org_role: str = ""
    active: bool = True
    added_at: datetime | None = None


@dataclass
class TeamEntry:
    team_id: int
    name: str
    role: str
    members: int


@dataclass
class ProjectMembers:
    people: list[MemberEntry]
    teams: list[TeamEntry]


def list_members(session: Session, actor: Actor, project_id: int) -> ProjectMembers:
    """Everyone with access to the project (project managers and up).

    Organization owners and managers are listed too, marked by their organization role,
    since they see every project."""
    _manager_in(session, actor, project_id)
    people: dict[int, MemberEntry] = {}

    def entry(uid: int, email: str, name: str, org_role: str, deactivated: object) -> MemberEntry:
        if uid not in people:
            people[uid] = MemberEntry(
                user_id=uid,
                email=email,
                name=name,
                role="",
                direct_role=None,
                org_role=org_role,
                active=deactivated is None,
            )
        return people[uid]

    def raise_role(e: MemberEntry, role: str) -> None:
        if not e.role or ROLE_RANK[Role(role)] > ROLE_RANK[Role(e.role)]:
            e.role = role

    base = (
        select(User.id, User.email, User.name, Membership.role, Membership.deactivated_at)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.organization_id == actor.organization_id)
    )
    for uid, email, name, org_role, deact, role, added in session.execute(
        base.add_columns(ProjectMember.role, ProjectMember.created_at).join(
            ProjectMember,
            (ProjectMember.user_id == User.id) & (ProjectMember.project_id == project_id),
        )
    ):
        e = entry(uid, email, name, org_role, deact)
        e.direct_role, e.added_at = role, added
        raise_role(e, role)
    for uid, email, name, org_role, deact, role, team_name in session.execute(
        base.add_columns(ProjectMember.role, Team.name)
        .join(TeamMember, TeamMember.user_id == User.id)
        .join(Team, Team.id == TeamMember.team_id)
        .join(
            ProjectMember,
            (ProjectMember.team_id == Team.id) & (ProjectMember.project_id == project_id),
        )
        .order_by(Team.name)
    ):
        e = entry(uid, email, name, org_role, deact)
        e.teams.append(team_name)
        raise_role(e, role)
    for uid, email, name, org_role, deact in session.execute(
        base.where(Membership.role.in_([Role.owner.value, Role.manager.value]))
    ):
        e = entry(uid, email, name, org_role, deact)
        raise_role(e, org_role)
    teams = [
        TeamEntry(team_id=tid, name=name, role=role, members=count or 0)
        for tid, name, role, count in session.execute(
            select(Team.id, Team.name, ProjectMember.role, func.count(TeamMember.id))
            .join(ProjectMember, ProjectMember.team_id == Team.id)
            .outerjoin(TeamMember, TeamMember.team_id == Team.id)
            .where(ProjectMember.project_id == project_id)
            .group_by(Team.id, Team.name, ProjectMember.role)
            .order_by(Team.name)
        )
    ]
    ordered = sorted(people.values(), key=lambda e: (-ROLE_RANK[Role(e.role)], e.email))
    return ProjectMembers(people=ordered, teams=teams)


@dataclass
class AddResult:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def add_people(
    session: Session, actor: Actor, project_id: int, *, emails: list[str], role: Role | str
) -> AddResult:
    """Add organization members to the project by e-mail, all or nothing: an address that
    is not a member of the organization stops the whole list, every such line named. A
    person already in the project gets the given role."""
    scoped = _manager_in(session, actor, project_id)
    role = project_role(role)
    if not emails:
        raise InvalidInput("Name at least one person.", [Problem("emails", "empty list")])
    if len(emails) > MAX_BULK:
        raise InvalidInput(
            f"At most {MAX_BULK} people at once.", [Problem("emails", f"{len(emails)} given")]
        )
    wanted = [e.strip().lower() for e in emails]
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
    workforce_rules.check_project_role_for_people(
        session, actor.organization_id, list(found.values()), role
    )
    existing = {
        pm.user_id: pm
        for pm in session.scalars(
            select(ProjectMember).where(
                ProjectMember.project_id == project_id,
                ProjectMember.user_id.in_(list(found.values())),
            )
        )
    }
    result = AddResult()
    for email in dict.fromkeys(wanted):
        uid = found[email]
        pm = existing.get(uid)
        if pm is None:
            session.add(ProjectMember(project_id=project_id, user_id=uid, role=role.value))
            result.added.append(email)
        elif pm.role != role.value:
            pm.role = role.value
            result.updated.append(email)
        else:
            result.unchanged.append(email)
    _audit(
        scoped,
        session,
        project_id,
        "project.members_add",
        {"role": role.value, "added": result.added, "updated": result.updated},
    )
    session.flush()
    return result


def add_team(
    session: Session, actor: Actor, project_id: int, *, team_id: int, role: Role | str
) -> TeamEntry:
    """Make a team a member of the project (or change its role there)."""
    scoped = _manager_in(session, actor, project_id)
    role = project_role(role)
    team = _team(session, actor, team_id)
    workforce_rules.check_project_role_for_team(team, role)
    pm = session.scalar(
        select(ProjectMember).where(
            ProjectMember.project_id == project_id, ProjectMember.team_id == team.id
        )
    )
    if pm is None:
        session.add(ProjectMember(project_id=project_id, team_id=team.id, role=role.value))
    else:
        pm.role = role.value
    _audit(scoped, session, project_id, "project.team_add", {"team": team.name, "role": role.value})
    session.flush()
    count = session.scalar(select(func.count()).where(TeamMember.team_id == team.id)) or 0
    return TeamEntry(team_id=team.id, name=team.name, role=role.value, members=count)


def set_person_role(
    session: Session, actor: Actor, project_id: int, *, user_id: int, role: Role | str
) -> ProjectMember:
    scoped = _manager_in(session, actor, project_id)
    role = project_role(role)
    pm = _direct_entry(session, project_id, user_id)
    workforce_rules.check_project_role_for_people(session, actor.organization_id, [user_id], role)
    pm.role = role.value
    _audit(
        scoped, session, project_id, "project.member_role", {"user_id": user_id, "role": role.value}
    )
    end_lost_leases(session, project_id=project_id, user_ids=[user_id])
    return pm


def remove_person(session: Session, actor: Actor, project_id: int, *, user_id: int) -> int:
    """Take a person's own membership away; returns how many of their leases ended (none if
    a team or their organization role still gives them the project)."""
    scoped = _manager_in(session, actor, project_id)
    pm = _direct_entry(session, project_id, user_id)
    session.delete(pm)
    session.flush()
    _audit(scoped, session, project_id, "project.member_remove", {"user_id": user_id})
    return end_lost_leases(session, project_id=project_id, user_ids=[user_id])


def remove_team(session: Session, actor: Actor, project_id: int, *, team_id: int) -> int:
    scoped = _manager_in(session, actor, project_id)
    team = _team(session, actor, team_id)
    deleted = session.execute(
        delete(ProjectMember)
        .where(ProjectMember.project_id == project_id, ProjectMember.team_id == team.id)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not deleted:
        raise NotFound(f"Team '{team.name}' is not a member of this project.")
    _audit(scoped, session, project_id, "project.team_remove", {"team": team.name})
    members = session.scalars(select(TeamMember.user_id).where(TeamMember.team_id == team.id))
    return end_lost_leases(session, project_id=project_id, user_ids=list(members))


def set_team_export(
    session: Session, actor: Actor, project_id: int, *, team_id: int, allowed: bool
) -> None:
    """Grant (or take back) a workforce's exports of its own slice of the project (see
    ``people/my_workforce.plan_slice_export``)."""
    scoped = _manager_in(session, actor, project_id)
    team = _team(session, actor, team_id)
    if not team.is_workforce:
        raise Conflict(f"'{team.name}' is not a workforce: only a workforce exports its slice.")
    pm = session.scalar(
        select(ProjectMember).where(
            ProjectMember.project_id == project_id, ProjectMember.team_id == team.id
        )
    )
    if pm is None:
        raise NotFound(f"Team '{team.name}' is not a member of this project.")
    pm.can_export = allowed
    _audit(
        scoped, session, project_id, "project.team_export", {"team": team.name, "allowed": allowed}
    )


def _direct_entry(session: Session, project_id: int, user_id: int) -> ProjectMember:
    pm = session.scalar(
        select(ProjectMember).where(
            ProjectMember.project_id == project_id, ProjectMember.user_id == user_id
        )
    )
    if pm is None:
        raise NotFound(
            f"User {user_id} is not a member of this project in their own right (they may have "
            "access through a team, or as an organization manager)."
        )
    return pm


def _team(session: Session, actor: Actor, team_id: int) -> Team:
    team = session.scalar(
        select(Team).where(Team.id == team_id, Team.organization_id == actor.organization_id)
    )
    if team is None:
        raise NotFound(f"Team {team_id} does not exist.")
    return team


def _audit(actor: Actor, session: Session, project_id: int, action: str, details: dict) -> None:  # type: ignore[type-arg]
    audit.record(
        session,
        organization_id=actor.organization_id,
        actor_id=actor.user_id,
        action=action,
        object_type="project",
        object_id=project_id,
        details=details,
    )
