"""The rules that keep workforces sealed, checked wherever people, teams or roles change.

- A person is in at most one workforce (staff or vendor team) of an organization:
  ``membership.workforce_id`` names it, kept in step with team membership here.
- A vendor's people are never organization owners or managers (who see every project).
- A vendor's people are **annotators or reviewers** in projects, never managers. Reviews
  are split by workforce (``review/workforce_scope.py``): a vendor reviewer reviews only
  their own workforce's work and, like an annotator, sees no other task
  (``Actor.sees_whole_project``). A project manager sees and changes everything in the
  project, so making a vendor team or person one is refused with that reason.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from labelhouse.accounts.models import (
    ROLE_RANK,
    VENDOR,
    WORKFORCE_KINDS,
    Membership,
    ProjectMember,
    Role,
    Team,
    TeamMember,
    User,
)
from labelhouse.errors import Conflict

VENDOR_PROJECT_ROLES = (Role.annotator, Role.reviewer)
_VENDOR_ROLE_VALUES = tuple(r.value for r in VENDOR_PROJECT_ROLES)
_WHY_NOT_MANAGER = (
    "a vendor's people are annotators or reviewers of their own workforce's work: a project "
    "manager sees and changes every task and answer of the project, other workforces' included"
)


def _emails(session: Session, user_ids: Iterable[int]) -> dict[int, str]:
    ids = sorted(set(user_ids))
    if not ids:
        return {}
    return dict(session.execute(select(User.id, User.email).where(User.id.in_(ids))).all())


def check_can_join(session: Session, team: Team, user_ids: list[int]) -> None:
    """Before people join a workforce team (or a team becomes a workforce): none is in
    another workforce; for a vendor, none is an organization manager/owner or a project
    manager of their own."""
    if team.kind not in WORKFORCE_KINDS or not user_ids:
        return
    rows = session.execute(
        select(Membership.user_id, Membership.workforce_id, Membership.role, Team.name)
        .outerjoin(Team, Team.id == Membership.workforce_id)
        .where(
            Membership.organization_id == team.organization_id,
            Membership.user_id.in_(user_ids),
        )
    ).all()
    emails = _emails(session, user_ids)
    elsewhere = [
        f"{emails[uid]} (in '{name}')"
        for uid, wf, _, name in rows
        if wf is not None and wf != team.id
    ]
    if elsewhere:
        raise Conflict(
            "A person works in at most one workforce of an organization; take them out of "
            f"the other one first: {', '.join(sorted(elsewhere))}."
        )
    if team.kind != VENDOR:
        return
    managers = [
        emails[uid] for uid, _, role, _ in rows if ROLE_RANK[Role(role)] >= ROLE_RANK[Role.manager]
    ]
    if managers:
        raise Conflict(
            "Organization owners and managers see every project, so they cannot work for a "
            f"vendor: {', '.join(sorted(managers))}."
        )
    above = session.execute(
        select(ProjectMember.user_id).where(
            ProjectMember.user_id.in_(user_ids),
            ProjectMember.role.not_in(_VENDOR_ROLE_VALUES),
        )
    ).scalars()
    high = sorted({emails[uid] for uid in above})
    if high:
        raise Conflict(
            "Make these people annotators or reviewers in their projects first "
            f"({_WHY_NOT_MANAGER}): {', '.join(high)}."
        )


def check_vendor_team_projects(session: Session, team: Team) -> None:
    """Before a team becomes a vendor: its project roles must be annotator or reviewer."""
    above = session.execute(
        select(ProjectMember.id).where(
            ProjectMember.team_id == team.id, ProjectMember.role.not_in(_VENDOR_ROLE_VALUES)
        )
    ).first()
    if above is not None:
        raise Conflict(
            f"'{team.name}' is a project manager; make it annotator or reviewer in its "
            f"projects first ({_WHY_NOT_MANAGER})."
        )


def joined(session: Session, team: Team, user_ids: list[int]) -> None:
    """People joined a workforce team: it becomes their workforce."""
    if team.kind in WORKFORCE_KINDS and user_ids:
        session.execute(
            update(Membership)
            .where(
                Membership.organization_id == team.organization_id,
                Membership.user_id.in_(user_ids),
            )
            .values(workforce_id=team.id)
            .execution_options(synchronize_session=False)
        )


def left(session: Session, team: Team, user_ids: list[int]) -> None:
    """People left a workforce team (or it stopped being one): no workforce any more."""
    if user_ids:
        session.execute(
            update(Membership)
            .where(
                Membership.organization_id == team.organization_id,
                Membership.user_id.in_(user_ids),
                Membership.workforce_id == team.id,
            )
            .values(workforce_id=None)
            .execution_options(synchronize_session=False)
        )


def team_user_ids(session: Session, team_id: int) -> list[int]:
    return list(session.scalars(select(TeamMember.user_id).where(TeamMember.team_id == team_id)))


def check_project_role_for_team(team: Team, role: Role) -> None:
    if team.kind == VENDOR and role not in VENDOR_PROJECT_ROLES:
        raise Conflict(
            f"'{team.name}' is a vendor: it can be an annotator or a reviewer in a project, "
            f"not a {role.value} ({_WHY_NOT_MANAGER})."
        )


def check_project_role_for_people(
    session: Session, organization_id: int, user_ids: list[int], role: Role
) -> None:
    if role in VENDOR_PROJECT_ROLES or not user_ids:
        return
    vendors = session.execute(
        select(User.email)
        .join(Membership, Membership.user_id == User.id)
        .join(Team, Team.id == Membership.workforce_id)
        .where(
            Membership.organization_id == organization_id,
            Membership.user_id.in_(user_ids),
            Team.kind == VENDOR,
        )
    ).scalars()
    names = sorted(vendors)
    if names:
        raise Conflict(
            "These people work for a vendor and can be annotators or reviewers, not a "
            f"{role.value} ({_WHY_NOT_MANAGER}): {', '.join(names)}."
        )


def check_org_role(session: Session, organization_id: int, user_id: int, role: Role) -> None:
    """A vendor's person cannot become an organization manager or owner."""
    if ROLE_RANK[role] < ROLE_RANK[Role.manager]:
        return
    vendor = session.execute(
        select(Team.name)
        .join(Membership, Membership.workforce_id == Team.id)
        .where(
            Membership.organization_id == organization_id,
            Membership.user_id == user_id,
            Team.kind == VENDOR,
        )
    ).scalar()
    if vendor is not None:
        raise Conflict(
            f"This person works for the vendor '{vendor}': organization owners and managers "
            "see every project, so take them out of the vendor first."
        )
