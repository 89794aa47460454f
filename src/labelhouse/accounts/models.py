"""Organizations, users, memberships with roles, teams, project membership, API tokens and
invitations."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from labelhouse.db.base import Base, BigId, UtcDateTime, utcnow


class Role(StrEnum):
    """Ordered from most to least powerful; see ``ROLE_RANK``."""

    owner = "owner"
    manager = "manager"
    reviewer = "reviewer"
    annotator = "annotator"


ROLE_RANK = {Role.owner: 4, Role.manager: 3, Role.reviewer: 2, Role.annotator: 1}
# Roles inside one project. Organization owners and managers see every project with their
# organization role; everybody else sees only the projects they are members of.
PROJECT_ROLES = (Role.manager, Role.reviewer, Role.annotator)


# Team kinds: a plain group, or a workforce (work can be routed to it).
GROUP, STAFF, VENDOR = "group", "staff", "vendor"
WORKFORCE_KINDS = (STAFF, VENDOR)
TEAM_KINDS = (GROUP, STAFF, VENDOR)


class Organization(Base):
    __tablename__ = "organization"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class User(Base):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str | None] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    must_change_password: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ExternalAnnotator(Base):
    """Someone whose answers were imported but who is not a user here (a crowd worker, a
    vendor's annotator): a ``user_account`` row that can never sign in (no password, not
    active, no membership), so every annotation keeps a real, attributable author. Scoped
    to one organization by ``identity`` (as the file named them); ``workforce_id`` optionally
    attaches them to a workforce, so vendor comparisons count their answers."""

    __tablename__ = "external_annotator"
    __table_args__ = (UniqueConstraint("organization_id", "identity"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), unique=True
    )
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id", ondelete="CASCADE"))
    identity: Mapped[str] = mapped_column(String(200))
    workforce_id: Mapped[int | None] = mapped_column(ForeignKey("team.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Membership(Base):
    __tablename__ = "membership"
    __table_args__ = (UniqueConstraint("organization_id", "user_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # Deactivation keeps the row (and every annotation's attribution); it only ends access.
    deactivated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The one workforce (staff or vendor team) the person works in here, if any.
    workforce_id: Mapped[int | None] = mapped_column(ForeignKey("team.id", ondelete="SET NULL"))


class Team(Base):
    """A named group of people in an organization, made a project member in one step.

    A team may be a **workforce**: ``kind`` ``staff`` (the lab's own people) or ``vendor``
    (an outside company), with a contact, prices and a currency; work can be routed to a
    workforce (``task_route``). A person may be in several plain teams but in at most one
    workforce of an organization (``membership.workforce_id``). ``ended_at``: a vendor's
    contract ended (its people were deactivated)."""

    __tablename__ = "team"
    __table_args__ = (UniqueConstraint("organization_id", "name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(String(2000), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(10), default=GROUP, server_default=GROUP)
    contact: Mapped[str] = mapped_column(String(500), default="", server_default="")
    price_per_task: Mapped[float | None] = mapped_column(Float)
    price_per_hour: Mapped[float | None] = mapped_column(Float)
    currency: Mapped[str] = mapped_column(String(3), default="", server_default="")
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    @property
    def is_workforce(self) -> bool:
        return self.kind in WORKFORCE_KINDS


class TeamMember(Base):
    __tablename__ = "team_member"
    __table_args__ = (UniqueConstraint("team_id", "user_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("team.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # A vendor manager: manages the people of their own workforce, nothing else.
    is_manager: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class ProjectMember(Base):
    """A person or a team in a project, with a project role (manager, reviewer, annotator).

    Exactly one of ``user_id`` and ``team_id`` is set. A person's role in a project is the
    highest of their own entry and their teams' entries."""

    __tablename__ = "project_member"
    __table_args__ = (
        UniqueConstraint("project_id", "user_id", name="uq_project_member_project_user"),
        UniqueConstraint("project_id", "team_id", name="uq_project_member_project_team"),
        CheckConstraint("(user_id IS NULL) <> (team_id IS NULL)", name="user_or_team"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    team_id: Mapped[int | None] = mapped_column(
        ForeignKey("team.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # A workforce (team) granted exports of its own slice of the project: the tasks routed
    # to it and its own people's annotations, as its people are shown them.
    can_export: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class ApiToken(Base):
    """A bearer token; only its SHA-256 is stored, the secret is shown once at creation."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # A read-only token may only use safe methods (GET, HEAD, OPTIONS).
    read_only: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Invitation(Base):
    """A manager invites someone by email; the token (hashed here) lets them set a password."""

    __tablename__ = "invitation"
    __table_args__ = (Index("ix_invitation_org_email", "organization_id", "email"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Sent by a workforce manager: accepting also joins this workforce team.
    team_id: Mapped[int | None] = mapped_column(ForeignKey("team.id", ondelete="CASCADE"))


class UserSession(Base):
    """A browser login. The cookie holds a random secret; only its SHA-256 is stored here,
    so sessions can be listed and revoked (logout, password change) across app servers."""

    __tablename__ = "user_session"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id", ondelete="CASCADE"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)


class LoginFailure(Base):
    """One failed login for a throttle key (an e-mail or a client address), shared by every
    app process through the database. Only the key's SHA-256 is stored, and rows older than
    the throttle window are purged, so the table holds minutes of history, never a log."""

    __tablename__ = "login_failure"
    __table_args__ = (Index("ix_login_failure_key", "key_hash", "failed_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    failed_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
