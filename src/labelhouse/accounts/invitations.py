"""Invitations: the only way into an organization (there is no open sign-up).

The secret goes into the invitation link once and only its SHA-256 is stored. A pending
invitation can be listed, revoked and re-sent (a new secret; the old link stops working).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from labelhouse.accounts import passwords, tokens
from labelhouse.accounts.models import Invitation, Membership, Role, TeamMember, User
from labelhouse.accounts.policy import Actor
from labelhouse.accounts.service import create_user, normalise_email
from labelhouse.audit import service as audit
from labelhouse.db.base import utcnow
from labelhouse.errors import Conflict, InvalidInput, NotFound, Problem

INVITATION_TTL = timedelta(days=7)


MAX_BULK = 500


def _pending(session: Session, organization_id: int, email: str) -> Invitation | None:
    return session.scalar(
        select(Invitation)
        .where(
            Invitation.organization_id == organization_id,
            Invitation.email == email,
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
            Invitation.expires_at > utcnow(),
        )
        .order_by(Invitation.id.desc())
        .limit(1)
    )


def _is_member(session: Session, organization_id: int, email: str) -> bool:
    return (
        session.scalar(
            select(Membership.id)
            .join(User, User.id == Membership.user_id)
            .where(User.email == email, Membership.organization_id == organization_id)
        )
        is not None
    )


def _check_inviter(actor: Actor, role: Role) -> None:
    actor.require_org(Role.manager, "invite people")
    if role == Role.owner:
        actor.require_org(Role.owner, "invite an owner")


def invite(session: Session, actor: Actor, *, email: str, role: Role) -> tuple[Invitation, str]:
    """A manager invites someone; the returned secret goes into the invitation link."""
    _check_inviter(actor, role)
    return create_invitation(session, actor, email=email, role=role)


def create_invitation(
    session: Session, actor: Actor, *, email: str, role: Role, team_id: int | None = None
) -> tuple[Invitation, str]:
    """:func:`invite` once the inviter's right has been checked (an organization manager,
    or a workforce manager inviting into their own workforce: ``team_id``)."""
    email = normalise_email(email)
    if _is_member(session, actor.organization_id, email):
        raise Conflict(f"{email} is already a member.")
    pending = _pending(session, actor.organization_id, email)
    if pending is not None:
        raise Conflict(
            f"{email} already has a pending invitation (sent {pending.created_at:%Y-%m-%d}); "
            "re-send it from the people page to get a new link."
        )
    secret = tokens.new_secret("lhi_")
    row = Invitation(
        organization_id=actor.organization_id,
        email=email,
        role=role.value,
        token_hash=tokens.digest(secret),
        invited_by_id=actor.user_id,
        expires_at=utcnow() + INVITATION_TTL,
        team_id=team_id,
    )
    session.add(row)
    session.flush()
    _audit(session, row, actor.user_id, "invitation.create")
    return row, secret


def invited_address(session: Session, secret: str) -> str:
    """The address an invitation secret names ("" if none), for throttling attempts."""
    email = session.scalar(
        select(Invitation.email).where(Invitation.token_hash == tokens.digest(secret))
    )
    return email or ""


ANONYMOUS_ANSWER = (
    "Done: sign in with this e-mail address and the password you entered. (If the address "
    "already had a Labelhouse account, it joins only when that account's current password "
    "was entered; otherwise nothing changed: sign in as that account and open the link again.)"
)


@dataclass
class Accepted:
    """What accepting did. ``user`` is None when nothing was changed: the address has an
    account, which must accept signed in as itself (see :func:`accept_invitation`)."""

    email: str
    user: User | None
    organization_id: int
    role: str


def _live_invitation(session: Session, secret: str) -> Invitation:
    row = session.scalar(select(Invitation).where(Invitation.token_hash == tokens.digest(secret)))
    dead = row is None or row.accepted_at is not None or row.revoked_at is not None
    if dead or row.expires_at < utcnow():  # type: ignore[union-attr]
        raise NotFound("This invitation link is invalid or has expired; ask for a new one.")
    return row  # type: ignore[return-value]


def accept_invitation(
    session: Session,
    *,
    secret: str,
    password: str = "",
    name: str = "",
    signed_in_user_id: int | None = None,
) -> Accepted:
    """Join the invitation's organization.

    Signed in (``signed_in_user_id``): the account must be the invited address; it joins.
    Anonymous: a new account is made with ``password``. If the address already has an
    account, it joins only when ``password`` is that account's password (its owner's
    consent: the invitation's holder, its sender included, cannot add someone's account);
    otherwise nothing changes. Callers give the same answer in every anonymous case, so it
    does not tell whether an account exists; the web layer throttles anonymous attempts
    like logins, so they cannot be used to guess passwords."""
    row = _live_invitation(session, secret)
    existing = session.scalar(select(User).where(User.email == row.email))
    if signed_in_user_id is not None:
        if existing is None or existing.id != signed_in_user_id:
            raise Conflict(
                "This invitation was sent to another address: sign out, then open the link "
                "again (or sign in as the invited address)."
            )
        if _is_member(session, row.organization_id, row.email):
            raise Conflict(f"{row.email} is already a member of this organization.")
        row.accepted_at = utcnow()
        session.add(
            Membership(organization_id=row.organization_id, user_id=existing.id, role=row.role)
        )
        session.flush()
        _join_workforce(session, row, existing.id)
        _audit(session, row, existing.id, "invitation.accept")
        return Accepted(row.email, existing, row.organization_id, row.role)
    problem = passwords.password_problem(password)
    if problem:  # checked whether or not an account exists: the answer must not tell
        raise InvalidInput("Choose a longer password.", [Problem("password", problem)])
    if existing is not None:
        # One password hash either way (verify here, hash on creation): timing tells nothing.
        if not passwords.verify_password(existing.password_hash, password):
            return Accepted(row.email, None, row.organization_id, row.role)
        if not _is_member(session, row.organization_id, row.email):
            session.add(
                Membership(organization_id=row.organization_id, user_id=existing.id, role=row.role)
            )
        row.accepted_at = utcnow()
        session.flush()
        _join_workforce(session, row, existing.id)
        _audit(session, row, existing.id, "invitation.accept")
        return Accepted(row.email, existing, row.organization_id, row.role)
    user = create_user(
        session,
        email=row.email,
        password=password,
        organization_id=row.organization_id,
        role=Role(row.role),
        name=name,
    )
    row.accepted_at = utcnow()
    session.flush()
    _join_workforce(session, row, user.id)
    _audit(session, row, user.id, "invitation.accept")
    return Accepted(row.email, user, row.organization_id, row.role)


def _join_workforce(session: Session, row: Invitation, user_id: int) -> None:
    """An invitation from a workforce manager makes the newcomer one of that workforce
    (refused when they already work in another one: a person is in at most one)."""
    if row.team_id is None:
        return
    membership = session.scalar(
        select(Membership).where(
            Membership.organization_id == row.organization_id, Membership.user_id == user_id
        )
    )
    assert membership is not None
    if membership.workforce_id not in (None, row.team_id):
        raise Conflict(
            "You already work in another workforce of this organization; ask its "
            "administrators to move you first."
        )
    membership.workforce_id = row.team_id
    present = session.scalar(
        select(TeamMember.id).where(
            TeamMember.team_id == row.team_id, TeamMember.user_id == user_id
        )
    )
    if present is None:
        session.add(TeamMember(team_id=row.team_id, user_id=user_id))


def pending_invitations(session: Session, actor: Actor) -> list[Invitation]:
    """Invitations not yet accepted, revoked or expired, newest first."""
    actor.require_org(Role.manager, "see invitations")
    return list(
        session.scalars(
            select(Invitation)
            .where(
                Invitation.organization_id == actor.organization_id,
                Invitation.accepted_at.is_(None),
                Invitation.revoked_at.is_(None),
                Invitation.expires_at > utcnow(),
            )
            .order_by(Invitation.id.desc())
        )
    )


def _own_pending(session: Session, actor: Actor, invitation_id: int) -> Invitation:
    row = session.scalar(
        select(Invitation).where(
            Invitation.id == invitation_id, Invitation.organization_id == actor.organization_id
        )
    )
    if row is None:
        raise NotFound(f"Invitation {invitation_id} does not exist.")
    if row.accepted_at is not None:
        raise Conflict(f"{row.email} has accepted this invitation already.")
    if row.revoked_at is not None:
        raise Conflict(f"This invitation for {row.email} was revoked; invite them again.")
    _check_inviter(actor, Role(row.role))
    return row


def revoke_invitation(session: Session, actor: Actor, invitation_id: int) -> Invitation:
    """The link stops working at once."""
    row = _own_pending(session, actor, invitation_id)
    row.revoked_at = utcnow()
    _audit(session, row, actor.user_id, "invitation.revoke")
    return row


def resend_invitation(session: Session, actor: Actor, invitation_id: int) -> tuple[Invitation, str]:
    """A new secret and a fresh expiry for a pending (or expired) invitation; the old link
    stops working."""
    row = _own_pending(session, actor, invitation_id)
    secret = tokens.new_secret("lhi_")
    row.token_hash = tokens.digest(secret)
    row.expires_at = utcnow() + INVITATION_TTL
    row.invited_by_id = actor.user_id
    session.flush()
    _audit(session, row, actor.user_id, "invitation.resend")
    return row, secret


@dataclass
class BulkInvite:
    invited: list[tuple[Invitation, str]] = field(default_factory=list)
    already_members: list[str] = field(default_factory=list)
    already_invited: list[str] = field(default_factory=list)


def invite_many(session: Session, actor: Actor, *, emails: list[str], role: Role) -> BulkInvite:
    """Invite a list of people with one role. A malformed address stops the whole list
    (every bad line named); members and people with a pending invitation are reported and
    skipped, not invited twice."""
    _check_inviter(actor, role)
    if not emails:
        raise InvalidInput("Give at least one e-mail address.", [Problem("emails", "empty list")])
    if len(emails) > MAX_BULK:
        raise InvalidInput(
            f"At most {MAX_BULK} invitations at once.", [Problem("emails", f"{len(emails)} given")]
        )
    clean: list[str] = []
    problems: list[Problem] = []
    for i, raw in enumerate(emails):
        try:
            clean.append(normalise_email(raw))
        except InvalidInput:
            problems.append(
                Problem(f"emails[{i}]", f"'{raw.strip()[:80]}' is not an e-mail address")
            )
    if problems:
        raise InvalidInput("Some lines are not e-mail addresses.", problems)
    result = BulkInvite()
    for email in dict.fromkeys(clean):
        if _is_member(session, actor.organization_id, email):
            result.already_members.append(email)
        elif _pending(session, actor.organization_id, email) is not None:
            result.already_invited.append(email)
        else:
            result.invited.append(invite(session, actor, email=email, role=role))
    return result


def _audit(session: Session, row: Invitation, actor_id: int | None, action: str) -> None:
    """Accepting is recorded with the account that joined as the actor; a failed anonymous
    attempt is not recorded here (it would tell the inviting organization that the address
    has an account elsewhere), it counts in the login throttle instead."""
    audit.record(
        session,
        organization_id=row.organization_id,
        actor_id=actor_id,
        action=action,
        object_type="invitation",
        object_id=row.id,
        details={"email": row.email, "role": row.role},
    )
