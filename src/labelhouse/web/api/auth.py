"""Login, logout, the current user, password changes, API tokens, members and invitations."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import Field

from labelhouse.accounts import auth_audit, invitations
from labelhouse.accounts import service as accounts
from labelhouse.accounts.models import Organization, User
from labelhouse.people import organization
from labelhouse.web.api.schemas import (
    AcceptInviteIn,
    Body,
    InviteIn,
    LoginIn,
    PasswordChangeIn,
    TokenIn,
)
from labelhouse.web.api.serializers import actor_out, revoked_tokens_sentence, tokens_out
from labelhouse.web.audit_trail import request_source
from labelhouse.web.deps import (
    SESSION_COOKIE,
    Ctx,
    check_login_throttle,
    log_in,
    login_keys,
    login_throttle,
    set_session_cookie,
)
from labelhouse.web.params import Id

router = APIRouter(prefix="/api", tags=["accounts"])


@router.post("/auth/login")
def login(body: LoginIn, ctx: Ctx, response: Response) -> dict[str, Any]:
    """Check the password and set the session cookie; returns the CSRF token for unsafe calls."""
    result = log_in(ctx, body.email, body.password, body.organization_id)
    set_session_cookie(response, ctx, result.secret)
    return {
        **actor_out(result.actor),
        "csrf_token": result.csrf_token,
        "must_change_password": result.must_change_password,
    }


@router.post("/auth/logout", status_code=204)
def logout(ctx: Ctx, response: Response) -> None:
    cookie = ctx.request.cookies.get(SESSION_COOKIE)
    if cookie:
        with ctx.write() as (s, actor):  # CSRF-checked: a foreign site cannot log you out
            accounts.end_session(s, cookie)
            auth_audit.logged_out(s, actor, request_source(ctx.request))
        ctx.forget_identities()
    response.delete_cookie(SESSION_COOKIE, path="/")


@router.get("/me")
def me(ctx: Ctx) -> dict[str, Any]:
    with ctx.read() as (s, actor):
        user = s.get(User, actor.user_id)
        assert user is not None
        orgs = [
            {
                "id": m.organization_id,
                "role": m.role,
                "name": s.get(Organization, m.organization_id).name,
            }  # type: ignore[union-attr]
            for m in accounts.memberships_of(s, actor.user_id)
        ]
        cookie = ctx.request.cookies.get(SESSION_COOKIE)
        csrf = accounts.resolve_session(s, cookie)[1].csrf_token if cookie else None
        return {
            **actor_out(actor),
            "name": user.name,
            "must_change_password": user.must_change_password,
            "organizations": orgs,
            "csrf_token": csrf,
        }


@router.post("/me/password")
def change_password(body: PasswordChangeIn, ctx: Ctx) -> dict[str, Any]:
    """The browser session making the change stays signed in; every other session ends and
    every API token of the account is revoked (listed in the answer)."""
    by_token = ctx.request.headers.get("authorization", "").lower().startswith("bearer ")
    with ctx.write() as (s, actor):
        revoked = accounts.change_password(
            s,
            user_id=actor.user_id,
            current=body.current_password,
            new=body.new_password,
            keep_session=None if by_token else ctx.request.cookies.get(SESSION_COOKIE),
        )
        origin = request_source(ctx.request)
        auth_audit.password_changed(
            s, user_id=actor.user_id, revoked_tokens=len(revoked), origin=origin
        )
        out = {
            "message": "Password changed. Other sessions were signed out"
            + revoked_tokens_sentence(revoked),
            "revoked_tokens": [tokens_out(t) for t in revoked],
        }
    ctx.forget_identities()
    return out


class EndSessionsIn(Body):
    include_current: bool = Field(default=False, description="sign this browser out too")


def _sessions_sentence(others: int, include_current: bool) -> str:
    if others == 0:
        text = "No other session was open."
    else:
        text = f"Signed out {others} other session{'' if others == 1 else 's'}."
    if include_current:
        text += " This browser is signed out too; log in again to go on."
    return text + " API tokens are not affected: revoke them below."


@router.post("/me/sessions/revoke-all")
def end_my_sessions(
    ctx: Ctx, response: Response, body: EndSessionsIn | None = None
) -> dict[str, Any]:
    """Log out everywhere: every other browser session of the account ends, in every
    organization; with ``include_current`` this one too (the cookie is cleared). API tokens
    stay valid (revoke them one by one). Called with an API token, every session ends."""
    by_token = ctx.request.headers.get("authorization", "").lower().startswith("bearer ")
    cookie = None if by_token else ctx.request.cookies.get(SESSION_COOKIE)
    include = bool(body and body.include_current)
    with ctx.write() as (s, actor):
        ended = accounts.end_sessions(
            s, user_id=actor.user_id, keep_session=None if include else cookie
        )
        auth_audit.sessions_ended(
            s,
            user_id=actor.user_id,
            ended=ended,
            include_current=include,
            origin=request_source(ctx.request),
        )
    ctx.forget_identities()
    current = 1 if include and cookie else 0
    if current:
        response.delete_cookie(SESSION_COOKIE, path="/")
    others = max(ended - current, 0)
    return {
        "ended": ended,
        "other_sessions_ended": others,
        "message": _sessions_sentence(others, bool(current)),
    }


@router.get("/me/tokens")
def list_tokens(ctx: Ctx) -> dict[str, Any]:
    with ctx.read() as (s, actor):
        items = [tokens_out(t) for t in accounts.list_api_tokens(s, actor)]
    return {"items": items, "next_cursor": None}


@router.post("/me/tokens", status_code=201)
def create_token(body: TokenIn, ctx: Ctx) -> dict[str, Any]:
    """The secret is in this response only; store it now."""
    with ctx.write() as (s, actor):
        row, secret = accounts.create_api_token(
            s,
            actor,
            name=body.name,
            expires_in_days=body.expires_in_days,
            read_only=body.read_only,
        )
        return {**tokens_out(row), "token": secret}


@router.delete("/me/tokens/{token_id}", status_code=204)
def revoke_token(token_id: Id, ctx: Ctx) -> None:
    with ctx.write() as (s, actor):
        accounts.revoke_api_token(s, actor, token_id)
    ctx.forget_identities()


@router.get("/members")
def list_members(ctx: Ctx) -> dict[str, Any]:
    """The organization's members with e-mail and role (owners and managers; the people
    page, ``GET /api/people``, adds teams, projects and activity)."""
    with ctx.read() as (s, actor):
        items = [
            {"user_id": u.id, "email": u.email, "name": u.name, "role": m.role}
            for u, m in accounts.list_members(s, actor)
        ]
    return {"items": items, "next_cursor": None}


@router.delete("/members/{user_id}", status_code=204)
def remove_member(user_id: Id, ctx: Ctx) -> None:
    """Out of the organization (deactivation, ``POST /api/people/{id}/deactivate``, is the
    reversible way); attribution of their work stays."""
    with ctx.write() as (s, actor):
        organization.remove(s, actor, user_id=user_id)
    ctx.forget_identities()


@router.post("/invitations", status_code=201)
def invite(body: InviteIn, ctx: Ctx) -> dict[str, Any]:
    """Returns the invitation token once; send it to the invitee (e.g. as a link)."""
    with ctx.write() as (s, actor):
        row, secret = invitations.invite(s, actor, email=body.email, role=body.role)
        return {
            "id": row.id,
            "email": row.email,
            "role": row.role,
            "token": secret,
            "expires_at": row.expires_at,
        }


@router.post("/invitations/accept", status_code=201)
def accept(body: AcceptInviteIn, ctx: Ctx) -> dict[str, Any]:
    """Anonymous: create the invited account (``password``, ``name``). The answer is the same
    when the address already has an account: then nothing changes, and its owner accepts
    signed in (send the session cookie and CSRF header; no password needed)."""
    if ctx.request.cookies.get(SESSION_COOKIE):
        with ctx.write() as (s, actor):
            done = invitations.accept_invitation(
                s, secret=body.token, signed_in_user_id=actor.user_id
            )
            return {
                "email": done.email,
                "organization_id": done.organization_id,
                "role": done.role,
                "message": "You joined the organization; choose it when you sign in.",
            }
    # Every anonymous attempt counts like a failed login of the invited address from this
    # client, whatever happened: the throttle then behaves the same whether or not an
    # account exists, and bounds password guessing through invitations like logins.
    with ctx.db.read_session() as s:
        email = invitations.invited_address(s, body.token)
    keys = login_keys(ctx.request, email)
    check_login_throttle(ctx.request, keys)
    with ctx.anonymous() as s:
        login_throttle(ctx.request).failed(s, *keys)
    with ctx.anonymous() as s:
        done = invitations.accept_invitation(
            s, secret=body.token, password=body.password, name=body.name
        )
    return {"email": done.email, "message": invitations.ANONYMOUS_ANSWER}
