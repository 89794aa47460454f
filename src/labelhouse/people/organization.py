"""The organization's people: who is in it, what they do, and taking access away.

Organization owners and managers use these (the people page, the API and the CLI).
Deactivation keeps the person and every annotation's attribution; it only ends access:
sessions, API tokens and leases end at once, on every project. Only an owner may act on
an owner, and an organization always keeps one active owner.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from labelhouse.accounts import passwords
from labelhouse.accounts import service as accounts
from labelhouse.accounts.models import (
    ApiToken,
    Membership,
    ProjectMember,
    Role,
    Team,
    TeamMember,
    User,
)
from labelhouse.accounts.policy import Actor
from labelhouse.annotations.models import Annotation
from labelhouse.audit import service as audit
from labelhouse.db.base import utcnow
from labelhouse.errors import Conflict, NotFound
from labelhouse.people import workforce_rules
from labelhouse.people.access_changes import end_leases, end_lost_leases
from labelhouse.projects.models import Project

RECENT_DAYS = 7


@dataclass
class Person:
    user_id: int
    email: str
    name: str
    role: str
    active: bool
    teams: list[str] = field(default_factory=list)
    projects: list[tuple[int, str, str]] = field(default_factory=list)  # (id, name, role)
    all_projects: bool = False  # an owner or manager: sees every project
    last_active: datetime | None = None
    recent_annotations: int = 0


def people(session: Session, actor: Actor) -> list[Person]:
    """Every member of the organization with their teams, projects, last activity and
    annotations of the last seven days, in a handful of grouped queries."""
    actor.require_org(Role.manager, "see the organization's people")
    org = actor.organization_id
    out: dict[int, Person] = {}
    for user, m in session.execute(
        select(User, Membership)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.organization_id == org)
        .order_by(User.email)
    ):
        out[user.id] = Person(
            user_id=user.id,
            email=user.email,
            name=user.name,
            role=m.role,
            active=m.deactivated_at is None,
            all_projects=m.role in (Role.owner.value, Role.manager.value),
            last_active=m.last_login_at,
        )
    for uid, team in session.execute(
        select(TeamMember.user_id, Team.name)
        .join(Team, Team.id == TeamMember.team_id)
        .where(Team.organization_id == org)
        .order_by(Team.name)
    ):
        if uid in out:
            out[uid].teams.append(team)
    direct = (
        select(ProjectMember.user_id, Project.id, Project.name, ProjectMember.role)
        .join(Project, Project.id == ProjectMember.project_id)
        .where(Project.organization_id == org, ProjectMember.user_id.is_not(None))
    )
    via_team = (
        select(TeamMember.user_id, Project.id, Project.name, ProjectMember.role)
        .join(ProjectMember, ProjectMember.team_id == TeamMember.team_id)
        .join(Project, Project.id == ProjectMember.project_id)
        .where(Project.organization_id == org)
    )
    seen: set[tuple[int, int]] = set()
    for query in (direct, via_team):
        for uid, pid, pname, role in session.execute(query.order_by(Project.name)):
            if uid in out and (uid, pid) not in seen:
                seen.add((uid, pid))
                out[uid].projects.append((pid, pname, role))
    since = utcnow() - timedelta(days=RECENT_DAYS)
    for uid, count, latest in session.execute(
        select(Annotation.user_id, func.count(), func.max(Annotation.updated_at))
        .join(Project, Project.id == Annotation.project_id)
        .where(Project.organization_id == org, Annotation.updated_at >= since)
        .group_by(Annotation.user_id)
    ):
        if uid in out:
            out[uid].recent_annotations = count
            _later(out[uid], latest)
    for uid, used in session.execute(
        select(ApiToken.user_id, func.max(ApiToken.last_used_at))
        .where(ApiToken.organization_id == org)
        .group_by(ApiToken.user_id)
    ):
        if uid in out:
            _later(out[uid], used)
    return list(out.values())


def _later(person: Person, when: datetime | None) -> None:
    if when is not None and when.tzinfo is None:  # SQLite aggregates lose the type
        when = datetime.fromisoformat(str(when)).replace(tzinfo=utcnow().tzinfo)
    elif isinstance(when, str):
        when = datetime.fromisoformat(when)
        when = when if when.tzinfo else when.replace(tzinfo=utcnow().tzinfo)
    if when is not None and (person.last_active is None or when > person.last_active):
        person.last_active = when


def _member(session: Session, actor: Actor, user_id: int) -> tuple[Membership, User]:
    row = session.execute(
        select(Membership, User)
        .join(User, User.id == Membership.user_id)
        .where(Membership.organization_id == actor.organization_id, Membership.user_id == user_id)
    ).first()
    if row is None:
        raise NotFound(f"User {user_id} is not a member of this organization.")
    return row[0], row[1]


def _may_act_on(actor: Actor, m: Membership, action: str) -> None:
    actor.require_org(Role.manager, action)
    if m.role == Role.owner.value:
        actor.require_org(Role.owner, f"{action} an owner")


def _active_owners(session: Session, organization_id: int) -> int:
    return (
        session.scalar(
            select(func.count()).where(
                Membership.organization_id == organization_id,
                Membership.role == Role.owner.value,
                Membership.deactivated_at.is_(None),
            )
        )
        or 0
    )


def _org_project_ids(session: Session, organization_id: int) -> list[int]:
    return list(
        session.scalars(select(Project.id).where(Project.organization_id == organization_id))
    )


@dataclass
class AccessEnded:
    """What taking access away ended at once."""

    revoked_tokens: list[ApiToken]
    leases_ended: int


def deactivate(session: Session, actor: Actor, *, user_id: int) -> AccessEnded:
    """End someone's access to the organization, keeping their history and attribution."""
    m, user = _member(session, actor, user_id)
    _may_act_on(actor, m, "deactivate")
    return deactivate_member(session, actor, m, user)


def deactivate_member(session: Session, actor: Actor, m: Membership, user: User) -> AccessEnded:
    """:func:`deactivate` once the caller's right to act on ``m`` has been checked (by an
    organization manager, or a workforce manager for their own people)."""
    user_id = user.id
    if user_id == actor.user_id:
        raise Conflict("You cannot deactivate yourself; ask another manager or owner.")
    if m.deactivated_at is not None:
        raise Conflict(f"{user.email} is already deactivated.")
    if m.role == Role.owner.value and _active_owners(session, actor.organization_id) <= 1:
        raise Conflict("An organization needs at least one active owner.")
    m.deactivated_at = utcnow()
    revoked = accounts.end_access(session, user_id=user_id, organization_id=actor.organization_id)
    leases = end_leases(
        session, project_ids=_org_project_ids(session, actor.organization_id), user_ids=[user_id]
    )
    _audit(session, actor, user_id, "member.deactivate", {"email": user.email, "leases": leases})
    return AccessEnded(revoked, leases)


def log_out_everywhere(session: Session, actor: Actor, *, user_id: int) -> int:
    """Sign a member out of every browser session in this organization (a lost laptop, a
    shared computer); they can sign in again at once, and their API tokens stay (deactivate
    to end those too). Returns how many sessions ended."""
    m, user = _member(session, actor, user_id)
    _may_act_on(actor, m, "end the sessions of")
    if user_id == actor.user_id:
        raise Conflict(
            "To sign yourself out everywhere, use 'Sign out everywhere' on your account page."
        )
    ended = accounts.end_sessions(session, user_id=user_id, organization_id=actor.organization_id)
    _audit(
        session,
        actor,
        user_id,
        "member.logout_everywhere",
        {"email": user.email, "sessions": ended},
    )
    return ended


def remove(session: Session, actor: Actor, *, user_id: int) -> AccessEnded:
    """Take someone out of the organization altogether (their account and every annotation's
    attribution stay; deactivation is the reversible way). Their leases, sessions, tokens,
    team and project memberships in this organization end."""
    m, user = _member(session, actor, user_id)
    project_ids = _org_project_ids(session, actor.organization_id)
    accounts.remove_member(session, actor, user_id=user_id)
    revoked = accounts.end_access(session, user_id=user_id, organization_id=actor.organization_id)
    leases = end_leases(session, project_ids=project_ids, user_ids=[user_id])
    session.execute(
        delete(ProjectMember)
        .where(ProjectMember.user_id == user_id, ProjectMember.project_id.in_(project_ids))
        .execution_options(synchronize_session=False)
    )
    team_ids = select(Team.id).where(Team.organization_id == actor.organization_id)
    session.execute(
        delete(TeamMember)
        .where(TeamMember.user_id == user_id, TeamMember.team_id.in_(team_ids))
        .execution_options(synchronize_session=False)
    )
    _audit(session, actor, user_id, "member.remove", {"email": user.email, "role": m.role})
    return AccessEnded(revoked, leases)


def reactivate(session: Session, actor: Actor, *, user_id: int) -> Membership:
    m, user = _member(session, actor, user_id)
    _may_act_on(actor, m, "reactivate")
    return reactivate_member(session, actor, m, user)


def reactivate_member(session: Session, actor: Actor, m: Membership, user: User) -> Membership:
    """:func:`reactivate` once the caller's right to act on ``m`` has been checked."""
    user_id = user.id
    if m.deactivated_at is None:
        raise Conflict(f"{user.email} is active already.")
    m.deactivated_at = None
    _audit(session, actor, user_id, "member.reactivate", {"email": user.email})
    return m


def set_role(session: Session, actor: Actor, *, user_id: int, role: Role) -> AccessEnded:
    """Change someone's organization role. Their sessions and API tokens end (a new role
    means a new sign-in; not when an owner steps down themselves), and leases in projects
    the new role no longer opens end too."""
    m, user = _member(session, actor, user_id)
    old = m.role
    workforce_rules.check_org_role(session, actor.organization_id, user_id, role)
    accounts.set_role(session, actor, user_id=user_id, role=role)
    if old == role.value:
        return AccessEnded([], 0)
    revoked = (
        []
        if user_id == actor.user_id
        else accounts.end_access(session, user_id=user_id, organization_id=actor.organization_id)
    )
    session.flush()
    leases = sum(
        end_lost_leases(session, project_id=pid, user_ids=[user_id])
        for pid in _org_project_ids(session, actor.organization_id)
    )
    _audit(
        session, actor, user_id, "member.role", {"email": user.email, "from": old, "to": role.value}
    )
    return AccessEnded(revoked, leases)


@dataclass
class PasswordReset:
    email: str
    one_time_password: str
    revoked_tokens: list[ApiToken]


def reset_password(session: Session, actor: Actor, *, user_id: int) -> PasswordReset:
    """Give a member a new one-time password to hand over; they must change it at their
    next sign-in. Every session and API token of the account ends.

    Refused for someone who also belongs to another organization: the account is theirs
    across organizations, so one organization's manager must not be able to take it over."""
    m, user = _member(session, actor, user_id)
    _may_act_on(actor, m, "reset the password of")
    others = session.scalar(
        select(func.count()).where(
            Membership.user_id == user_id, Membership.organization_id != actor.organization_id
        )
    )
    if others:
        raise Conflict(
            f"{user.email} also belongs to another organization, so only they can change their "
            "password (from their account page)."
        )
    secret = passwords.generate_password()
    user.password_hash = passwords.hash_password(secret)
    user.must_change_password = True
    revoked = accounts.end_access(session, user_id=user_id)
    _audit(session, actor, user_id, "member.password_reset", {"email": user.email})
    return PasswordReset(user.email, secret, revoked)


def _audit(session: Session, actor: Actor, user_id: int, action: str, details: dict) -> None:  # type: ignore[type-arg]
    audit.record(
        session,
        organization_id=actor.organization_id,
        actor_id=actor.user_id,
        action=action,
        object_type="user",
        object_id=user_id,
        details=details,
    )
