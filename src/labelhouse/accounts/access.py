"""Loading the projects a person may enter, for :class:`~labelhouse.accounts.policy.Actor`.

Read once when an identity is resolved (then cached for the identity cache's few seconds):
a person's role in a project is the highest of their own project membership and their
teams' memberships. Organization owners and managers skip this: they see every project.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from sqlalchemy import bindparam, column, select, table, union_all
from sqlalchemy.orm import Session

from labelhouse.accounts.models import ROLE_RANK, VENDOR, ProjectMember, Role, Team, TeamMember

# The project table belongs to a layer above; only its two scoping columns are needed here.
_project = table("project", column("id"), column("organization_id"))

_DIRECT = (
    select(ProjectMember.project_id, ProjectMember.role)
    .join(_project, _project.c.id == ProjectMember.project_id)
    .where(
        ProjectMember.user_id == bindparam("uid"),
        _project.c.organization_id == bindparam("org"),
    )
)
_VIA_TEAMS = (
    select(ProjectMember.project_id, ProjectMember.role)
    .join(TeamMember, TeamMember.team_id == ProjectMember.team_id)
    .join(_project, _project.c.id == ProjectMember.project_id)
    .where(TeamMember.user_id == bindparam("uid"), _project.c.organization_id == bindparam("org"))
)
_ROLES = union_all(_DIRECT, _VIA_TEAMS)


def project_roles(session: Session, *, user_id: int, organization_id: int) -> Mapping[int, Role]:
    """Project id -> the person's highest role there (direct or through a team)."""
    roles: dict[int, Role] = {}
    for project_id, role_name in session.execute(_ROLES, {"uid": user_id, "org": organization_id}):
        role = Role(role_name)
        held = roles.get(project_id)
        if held is None or ROLE_RANK[role] > ROLE_RANK[held]:
            roles[project_id] = role
    return MappingProxyType(roles)


def needs_project_roles(org_role: Role) -> bool:
    return ROLE_RANK[org_role] < ROLE_RANK[Role.manager]


_WORKFORCE = (
    select(Team.kind, TeamMember.is_manager)
    .outerjoin(
        TeamMember, (TeamMember.team_id == Team.id) & (TeamMember.user_id == bindparam("uid"))
    )
    .where(Team.id == bindparam("wf"))
)


def workforce_standing(session: Session, workforce_id: int, user_id: int) -> tuple[bool, bool]:
    """(the workforce is an outside vendor, the person is one of its managers)."""
    row = session.execute(_WORKFORCE, {"wf": workforce_id, "uid": user_id}).first()
    if row is None:
        return False, False
    return row[0] == VENDOR, bool(row[1])
