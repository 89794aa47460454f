"""The rules that keep workforces sealed, checked wherever people, teams or roles change.

- A person is in at most one workforce (staff or vendor team) of an organization:
  ``membership.workforce_id`` names it, kept in step with team membership here.
- A vendor's people are never organization owners or managers (who see every project).
- Until reviews are split by workforce, a vendor's people are **annotators** in projects:
  a vendor reviewer would see every task and annotation of a project, the lab's and the
  other vendors' included. Giving a vendor team or person a higher project role is refused
  with that reason.
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

VENDOR_PROJECT_ROLE = Role.annotator
_WHY_ANNOTATOR = (
    "a vendor's people work as annotators: reviewing would show them every task and "
    "annotation of the project, other workforces' included"
)


def _emails(session: Session, user_ids: Iterable[int]) -> dict[int, str]:
    ids = sorted(set(user_ids))
    if not ids:
        return {}
    return dict(session.execute(select(User.id, User.email).where(User.id.in_(ids))).all())


def check_can_join(session: Session, team: Team, user_ids: list[int]) -> None:
    """Before people join a workforce team (or a team becomes a workforce): none is in
    another workforce; for a vendor, none is an organization manager/owner or holds a
    project role above annotator of their own."""
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
            ProjectMember.role != VENDOR_PROJECT_ROLE.value,
        )
    ).scalars()
    high = sorted({emails[uid] for uid in above})
    if high:
        raise Conflict(
            f"Make these people annotators in their projects first ({_WHY_ANNOTATOR}): "
            f"{', '.join(high)}."
        )


def check_vendor_team_projects(session: Session, team: Team) -> None:
    """Before a team becomes a vendor: its project roles must be annotator."""
    above = session.execute(
        select(ProjectMember.id).where(
            ProjectMember.team_id == team.id, ProjectMember.role != VENDOR_PROJECT_ROLE.value
        )
    ).first()
    if above is not None:
        raise Conflict(
            f"'{team.name}' has a project role above annotator; make it annotator in its "
            f"projects first ({_WHY_ANNOTATOR})."
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
    if team.kind == VENDOR and role != VENDOR_PROJECT_ROLE:
        raise Conflict(
            f"'{team.name}' is a vendor: it can only be an annotator in a project "
            f"({_WHY_ANNOTATOR})."
        )


def check_project_role_for_people(
    session: Session, organization_id: int, user_ids: list[int], role: Role
) -> None:
    if role == VENDOR_PROJECT_ROLE or not user_ids:
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
            f"These people work for a vendor and can only be annotators ({_WHY_ANNOTATOR}): "
            f"{', '.join(names)}."
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
