"""Audit events about signing in and the account itself: logins (and failed ones), logouts,
password changes, API tokens.

Where an event goes: into the chain of the organization it happened in (the session's, the
token's). Account-wide events — a failed login, a password change — concern every
organization the account belongs to, and go into each of their chains.

A failed login for an address that has no account is recorded nowhere in the database:
there is no organization to put it in, and the answer (and the work done) must not tell an
address with an account from one without. The server's log gets a line with the source
address; the e-mail typed is not logged (people type passwords into that field).
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from labelhouse.accounts.models import ApiToken, Membership, User
from labelhouse.accounts.policy import Actor
from labelhouse.audit import service as audit
from labelhouse.storable import NUL

log = logging.getLogger("labelhouse.audit")

MAX_ADDRESS = 64
MAX_USER_AGENT = 200


def _clean(text: str | None, limit: int) -> str:
    """Printable text only (PostgreSQL's JSONB refuses NUL), shortened."""
    text = "".join(c for c in (text or "") if c.isprintable())
    return text[:limit]


def source(address: str | None, user_agent: str | None) -> dict[str, str]:
    """The details saying where a request came from: the peer address the server saw
    (behind a proxy: the proxy's) and the user agent, both truncated."""
    return {"ip": _clean(address, MAX_ADDRESS), "user_agent": _clean(user_agent, MAX_USER_AGENT)}


def _organizations(session: Session, user_id: int) -> list[int]:
    return list(
        session.scalars(
            select(Membership.organization_id)
            .where(Membership.user_id == user_id)
            .order_by(Membership.organization_id)
        )
    )


def _about_user(
    session: Session,
    organization_id: int,
    actor_id: int | None,
    user_id: int,
    action: str,
    details: dict[str, Any],
) -> None:
    audit.record(
        session,
        organization_id=organization_id,
        actor_id=actor_id,
        action=action,
        object_type="user",
        object_id=user_id,
        details=details,
    )


def logged_in(session: Session, actor: Actor, origin: dict[str, str]) -> None:
    _about_user(
        session, actor.organization_id, actor.user_id, actor.user_id, "auth.login", {**origin}
    )


def login_failed(session: Session, *, email: str, origin: dict[str, str]) -> None:
    """A wrong password (or a disabled account): recorded in every organization of the
    account the address names. Nothing in the database for an unknown address."""
    address = email.strip().lower()
    user_id = (
        None
        if NUL in address or len(address) > 320
        else session.scalar(select(User.id).where(User.email == address))
    )
    if user_id is None:
        log.info("failed login for an address without an account, from %s", origin.get("ip"))
        return
    for org in _organizations(session, user_id):
        _about_user(session, org, None, user_id, "auth.login_failed", {"email": address, **origin})


def logged_out(session: Session, actor: Actor, origin: dict[str, str]) -> None:
    _about_user(
        session, actor.organization_id, actor.user_id, actor.user_id, "auth.logout", {**origin}
    )


def password_changed(
    session: Session, *, user_id: int, revoked_tokens: int, origin: dict[str, str]
) -> None:
    """By the person themselves (a reset by a manager is ``member.password_reset``)."""
    details = {"revoked_tokens": revoked_tokens, **origin}
    for org in _organizations(session, user_id):
        _about_user(session, org, user_id, user_id, "auth.password_change", details)


def sessions_ended(
    session: Session, *, user_id: int, ended: int, include_current: bool, origin: dict[str, str]
) -> None:
    """ "Sign out everywhere" by the person themselves: it ends sessions in every organization
    of the account, so it goes into each chain (by a manager: ``member.logout_everywhere``)."""
    details = {"sessions": ended, "include_current": include_current, **origin}
    for org in _organizations(session, user_id):
        _about_user(session, org, user_id, user_id, "auth.sessions_revoked", details)


def _token(session: Session, actor: Actor, row: ApiToken, action: str) -> None:
    details: dict[str, Any] = {"name": row.name, "prefix": row.prefix}
    if action == "token.create":
        details |= {
            "read_only": row.read_only,
            "expires_at": row.expires_at.isoformat() if row.expires_at else None,
        }
    audit.record(
        session,
        organization_id=row.organization_id,
        actor_id=actor.user_id,
        action=action,
        object_type="api_token",
        object_id=row.id,
        details=details,
    )


def token_created(session: Session, actor: Actor, row: ApiToken) -> None:
    _token(session, actor, row, "token.create")


def token_revoked(session: Session, actor: Actor, row: ApiToken) -> None:
    _token(session, actor, row, "token.revoke")
