"""Use cases for organizations, users, memberships, sessions, API tokens and invitations."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, bindparam, func, select, update
from sqlalchemy.orm import Session

from labelhouse.accounts import access, auth_audit, passwords, tokens
from labelhouse.accounts.models import (
    ApiToken,
    Membership,
    Organization,
    Role,
    User,
    UserSession,
)
from labelhouse.accounts.policy import NO_PROJECTS, Actor
from labelhouse.db.base import utcnow
from labelhouse.errors import Conflict, InvalidInput, NotAuthenticated, NotFound, Problem
from labelhouse.storable import NUL


def normalise_email(email: str) -> str:
    email = email.strip().lower()
    if "@" not in email or len(email) > 320 or email.startswith("@") or email.endswith("@"):
        raise InvalidInput("That is not an e-mail address.", [Problem("email", "invalid e-mail")])
    return email


def _check_password(password: str, field: str = "password") -> None:
    problem = passwords.password_problem(password)
    if problem:
        raise InvalidInput("Choose a longer password.", [Problem(field, problem)])


def has_any_user(session: Session) -> bool:
    return session.scalar(select(func.count()).select_from(User)) > 0


def create_user(
    session: Session,
    *,
    email: str,
    password: str,
    organization_id: int,
    role: Role,
    name: str = "",
    must_change_password: bool = False,
) -> User:
    """Create a user and their membership (or add an existing user to the organization)."""
    email = normalise_email(email)
    _check_password(password)
    user = session.scalar(select(User).where(User.email == email))
    if user is None:
        user = User(
            email=email,
            name=name,
            password_hash=passwords.hash_password(password),
            must_change_password=must_change_password,
        )
        session.add(user)
        session.flush()
    elif session.scalar(
        select(Membership).where(
            Membership.user_id == user.id, Membership.organization_id == organization_id
        )
    ):
        raise Conflict(f"{email} is already a member of this organization.")
    session.add(Membership(organization_id=organization_id, user_id=user.id, role=role.value))
    session.flush()
    return user


def bootstrap_owner(
    session: Session,
    *,
    email: str,
    organization_name: str,
    password: str | None = None,
    must_change_password: bool = True,
) -> tuple[User, str]:
    """First start: create the organization and its owner. Returns the password, a one-time
    password unless ``must_change_password`` is false (the operator chose it)."""
    password = password or passwords.generate_password()
    org = Organization(name=organization_name)
    session.add(org)
    session.flush()
    user = create_user(
        session,
        email=email,
        password=password,
        organization_id=org.id,
        role=Role.owner,
        name="Owner",
        must_change_password=must_change_password,
    )
    return user, password


def memberships_of(session: Session, user_id: int) -> list[Membership]:
    return list(
        session.scalars(
            select(Membership).where(Membership.user_id == user_id).order_by(Membership.id)
        )
    )


def _actor(
    session: Session,
    *,
    user_id: int,
    organization_id: int,
    role: str,
    email: str,
    read_only: bool = False,
    must_change_password: bool = False,
    workforce_id: int | None = None,
) -> Actor:
    org_role = Role(role)
    roles = (
        access.project_roles(session, user_id=user_id, organization_id=organization_id)
        if access.needs_project_roles(org_role)
        else NO_PROJECTS
    )
    vendor, workforce_manager = (
        access.workforce_standing(session, workforce_id, user_id)
        if workforce_id is not None
        else (False, False)
    )
    return Actor(
        user_id=user_id,
        organization_id=organization_id,
        role=org_role,
        email=email,
        project_roles=roles,
        read_only=read_only,
        must_change_password=must_change_password,
        workforce_id=workforce_id,
        vendor=vendor,
        workforce_manager=workforce_manager,
    )


def actor_for(session: Session, *, user_id: int, organization_id: int | None = None) -> Actor:
    """Build the acting identity; an absent, deactivated or inactive membership means not
    authenticated."""
    query = (
        select(Membership, User)
        .join(User, User.id == Membership.user_id)
        .where(Membership.user_id == user_id, User.is_active, Membership.deactivated_at.is_(None))
    )
    if organization_id is not None:
        query = query.where(Membership.organization_id == organization_id)
    row = session.execute(query.order_by(Membership.id).limit(1)).first()
    if row is None:
        raise NotAuthenticated("Your account has no access to this organization.")
    membership, user = row
    return _actor(
        session,
        user_id=user.id,
        organization_id=membership.organization_id,
        role=membership.role,
        email=user.email,
        must_change_password=user.must_change_password,
        workforce_id=membership.workforce_id,
    )


def authenticate(session: Session, *, email: str, password: str) -> User:
    """Check a password (constant work whether or not the e-mail exists)."""
    address = email.strip().lower()
    # No stored address holds a NUL, and PostgreSQL refuses one in a query parameter.
    user = None if NUL in address else session.scalar(select(User).where(User.email == address))
    ok = passwords.verify_password(user.password_hash if user else None, password)
    if not ok or user is None or not user.is_active:
        raise NotAuthenticated("Wrong e-mail or password.")
    if user.password_hash and passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    return user


def change_password(
    session: Session, *, user_id: int, current: str, new: str, keep_session: str | None = None
) -> list[ApiToken]:
    """``keep_session``: the cookie secret of the session making the change (stays valid).

    Every other browser session ends and every API token is revoked (a leaked password may
    have minted them); the revoked tokens are returned so the person can be told."""
    user = session.get(User, user_id)
    if user is None or not passwords.verify_password(user.password_hash, current):
        raise InvalidInput(
            "The current password is wrong.", [Problem("current_password", "does not match")]
        )
    _check_password(new, "new_password")
    if passwords.verify_password(user.password_hash, new):
        raise InvalidInput(
            "Choose a password different from the current one.",
            [Problem("new_password", "same as the current password")],
        )
    user.password_hash = passwords.hash_password(new)
    user.must_change_password = False
    return end_access(session, user_id=user_id, keep_session=keep_session)


def end_access(
    session: Session,
    *,
    user_id: int,
    organization_id: int | None = None,
    keep_session: str | None = None,
) -> list[ApiToken]:
    """End a person's browser sessions (but ``keep_session``) and revoke their live API
    tokens, in one organization or in all of them. Returns the tokens revoked."""
    end_sessions(
        session, user_id=user_id, organization_id=organization_id, keep_session=keep_session
    )
    live = select(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
    if organization_id is not None:
        live = live.where(ApiToken.organization_id == organization_id)
    revoked = list(session.scalars(live.order_by(ApiToken.id)))
    now = utcnow()
    for row in revoked:
        row.revoked_at = now
    return revoked


# -- browser sessions -----------------------------------------------------------------------


# A session's sliding expiry is written again only once it lags this far behind: a busy
# browser costs one small write a minute, not one per request.
SESSION_RENEW_AFTER = 60


def start_session(
    session: Session,
    *,
    user: User,
    organization_id: int | None,
    max_age: int,
    idle_seconds: int | None = None,
) -> tuple[str, UserSession]:
    """``max_age``: the absolute lifetime; ``idle_seconds``: how long it may go unused (its
    expiry then slides with use, see :func:`session_renewal`)."""
    actor = actor_for(session, user_id=user.id, organization_id=organization_id)
    secret = tokens.new_secret("lhs_")
    lifetime = max_age if idle_seconds is None else min(idle_seconds, max_age)
    row = UserSession(
        token_hash=tokens.digest(secret),
        user_id=user.id,
        organization_id=actor.organization_id,
        csrf_token=tokens.new_secret("")[:43],
        expires_at=utcnow() + timedelta(seconds=lifetime),
    )
    session.add(row)
    session.execute(
        update(Membership)
        .where(Membership.user_id == user.id, Membership.organization_id == actor.organization_id)
        .values(last_login_at=utcnow())
    )
    session.flush()
    return secret, row


def resolve_session(
    session: Session, secret: str, *, max_age: int | None = None
) -> tuple[Actor, UserSession]:
    """The person behind a session cookie. ``max_age`` (the absolute lifetime now in force)
    also ends sessions started longer ago, should the setting have been lowered."""
    row = session.scalar(select(UserSession).where(UserSession.token_hash == tokens.digest(secret)))
    now = utcnow()
    if (
        row is None
        or row.expires_at < now
        or (max_age is not None and row.created_at + timedelta(seconds=max_age) < now)
    ):
        raise NotAuthenticated("Your session has expired; log in again.")
    return actor_for(session, user_id=row.user_id, organization_id=row.organization_id), row


def session_renewal(
    row: UserSession, *, idle_seconds: int, max_age: int, now: datetime | None = None
) -> datetime | None:
    """The expiry a session in use should have now (``idle_seconds`` from now, never past
    its absolute end), or None while the stored one is within a minute of it: no write.

    It also shortens an expiry that lies too far ahead (sessions from before the idle
    timeout, or after the setting was lowered)."""
    now = now or utcnow()
    target = min(now + timedelta(seconds=idle_seconds), row.created_at + timedelta(seconds=max_age))
    if abs((target - row.expires_at).total_seconds()) < SESSION_RENEW_AFTER:
        return None
    return target


def renew_session(session: Session, *, session_id: int, expires_at: datetime) -> None:
    """Store a session's new expiry (see :func:`session_renewal`); a session ended in the
    meantime stays ended."""
    session.execute(
        update(UserSession).where(UserSession.id == session_id).values(expires_at=expires_at)
    )


def end_session(session: Session, secret: str) -> None:
    session.execute(
        UserSession.__table__.delete().where(UserSession.token_hash == tokens.digest(secret))  # type: ignore[attr-defined]
    )


def _sessions_of(
    user_id: int, organization_id: int | None, keep_session: str | None
) -> list[ColumnElement[bool]]:
    where = [UserSession.user_id == user_id]
    if organization_id is not None:
        where.append(UserSession.organization_id == organization_id)
    if keep_session:
        where.append(UserSession.token_hash != tokens.digest(keep_session))
    return where


def end_sessions(
    session: Session,
    *,
    user_id: int,
    organization_id: int | None = None,
    keep_session: str | None = None,
) -> int:
    """Sign a person out everywhere: end their browser sessions (but ``keep_session``, the
    cookie secret of the one asking), in one organization or in all. API tokens stay.
    Returns how many live sessions ended (expired ones are cleared without being counted)."""
    where = _sessions_of(user_id, organization_id, keep_session)
    live = session.scalar(select(func.count()).where(*where, UserSession.expires_at >= utcnow()))
    session.execute(UserSession.__table__.delete().where(*where))  # type: ignore[attr-defined]
    return live or 0


def count_sessions(session: Session, *, user_id: int, keep_session: str | None = None) -> int:
    """How many live browser sessions a person has (but ``keep_session``), everywhere."""
    where = _sessions_of(user_id, None, keep_session)
    return (
        session.scalar(select(func.count()).where(*where, UserSession.expires_at >= utcnow())) or 0
    )


# -- API tokens -----------------------------------------------------------------------------


MAX_TOKEN_DAYS = 3650


def create_api_token(
    session: Session,
    actor: Actor,
    *,
    name: str,
    expires_in_days: int | None = None,
    read_only: bool = False,
) -> tuple[ApiToken, str]:
    """Returns the row and the secret, which is shown once and never stored.

    ``expires_in_days``: the token stops working after that many days (None: never).
    ``read_only``: the token may only read (GET), never change anything."""
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidInput("Name the token.", [Problem("name", "1 to 200 characters")])
    if expires_in_days is not None and not 1 <= expires_in_days <= MAX_TOKEN_DAYS:
        raise InvalidInput(
            "Choose when the token expires.",
            [Problem("expires_in_days", f"a number of days from 1 to {MAX_TOKEN_DAYS}")],
        )
    secret = tokens.new_secret()
    now = utcnow()
    row = ApiToken(
        user_id=actor.user_id,
        organization_id=actor.organization_id,
        name=name,
        token_hash=tokens.digest(secret),
        prefix=secret[:10],
        created_at=now,
        expires_at=None if expires_in_days is None else now + timedelta(days=expires_in_days),
        read_only=read_only,
    )
    session.add(row)
    session.flush()
    auth_audit.token_created(session, actor, row)
    return row, secret


def list_api_tokens(session: Session, actor: Actor) -> list[ApiToken]:
    return list(
        session.scalars(
            select(ApiToken)
            .where(ApiToken.user_id == actor.user_id, ApiToken.revoked_at.is_(None))
            .order_by(ApiToken.id)
        )
    )


def revoke_api_token(session: Session, actor: Actor, token_id: int) -> None:
    row = session.scalar(
        select(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == actor.user_id)
    )
    if row is None or row.revoked_at is not None:
        raise NotFound("No such token.")
    row.revoked_at = utcnow()
    auth_audit.token_revoked(session, actor, row)


_TOKEN_ACTOR = (
    select(
        ApiToken.id,
        ApiToken.last_used_at,
        ApiToken.expires_at,
        ApiToken.read_only,
        Membership.user_id,
        Membership.organization_id,
        Membership.role,
        User.email,
        User.must_change_password,
        Membership.workforce_id,
    )
    .join(
        Membership,
        (Membership.user_id == ApiToken.user_id)
        & (Membership.organization_id == ApiToken.organization_id),
    )
    .join(User, User.id == ApiToken.user_id)
    .where(
        ApiToken.token_hash == bindparam("h"),
        ApiToken.revoked_at.is_(None),
        User.is_active.is_(True),
        Membership.deactivated_at.is_(None),
    )
)


def resolve_api_token(session: Session, secret: str, *, touch: bool = True) -> Actor:
    """One indexed query per request: token → active membership → actor."""
    row = session.execute(_TOKEN_ACTOR, {"h": tokens.digest(secret)}).first()
    if row is None:
        raise NotAuthenticated("Unknown or revoked API token.")
    now = utcnow()
    if row.expires_at is not None and row.expires_at <= now:
        raise NotAuthenticated("This API token has expired; create a new one on your account page.")
    if touch and (row.last_used_at is None or now - row.last_used_at > timedelta(minutes=5)):
        # Throttled so a busy token does not turn every request into an extra write.
        session.execute(update(ApiToken).where(ApiToken.id == row.id).values(last_used_at=now))
    return _actor(
        session,
        user_id=row.user_id,
        organization_id=row.organization_id,
        role=row.role,
        email=row.email,
        read_only=row.read_only,
        must_change_password=row.must_change_password,
        workforce_id=row.workforce_id,
    )


# -- members and invitations ----------------------------------------------------------------


def list_members(session: Session, actor: Actor) -> list[tuple[User, Membership]]:
    actor.require_org(Role.manager, "see the organization's members")
    rows = session.execute(
        select(User, Membership)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.organization_id == actor.organization_id)
        .order_by(User.email)
    )
    return [(u, m) for u, m in rows]


def _membership(session: Session, actor: Actor, user_id: int) -> Membership:
    m = session.scalar(
        select(Membership).where(
            Membership.organization_id == actor.organization_id, Membership.user_id == user_id
        )
    )
    if m is None:
        raise NotFound("No such member.")
    return m


def set_role(session: Session, actor: Actor, *, user_id: int, role: Role) -> Membership:
    actor.require_org(Role.manager, "change roles")
    m = _membership(session, actor, user_id)
    if Role.owner in (role, Role(m.role)):
        actor.require_org(Role.owner, "grant or remove the owner role")
        if m.role == Role.owner.value and role != Role.owner and _owner_count(session, actor) <= 1:
            raise Conflict("An organization needs at least one owner.")
    m.role = role.value
    return m


def remove_member(session: Session, actor: Actor, *, user_id: int) -> None:
    actor.require_org(Role.manager, "remove members")
    m = _membership(session, actor, user_id)
    if m.role == Role.owner.value:
        actor.require_org(Role.owner, "remove an owner")
        if _owner_count(session, actor) <= 1:
            raise Conflict("An organization needs at least one owner.")
    session.delete(m)
    session.execute(
        UserSession.__table__.delete().where(  # type: ignore[attr-defined]
            UserSession.user_id == user_id, UserSession.organization_id == actor.organization_id
        )
    )


def _owner_count(session: Session, actor: Actor) -> int:
    return session.scalar(
        select(func.count()).where(
            Membership.organization_id == actor.organization_id,
            Membership.role == Role.owner.value,
        )
    )
