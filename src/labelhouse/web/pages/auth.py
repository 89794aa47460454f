"""Log in, log out, and the account page (password, personal API tokens)."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from labelhouse.accounts import auth_audit
from labelhouse.accounts import service as accounts
from labelhouse.accounts.models import User
from labelhouse.errors import NotAuthenticated, RateLimited
from labelhouse.web.audit_trail import request_source
from labelhouse.web.deps import SESSION_COOKIE, Ctx, log_in, set_session_cookie
from labelhouse.web.pages.common import check_form_csrf, page_session, render

router = APIRouter(include_in_schema=False)


def _safe_next(value: str | None) -> str:
    """Only same-site relative paths: never an open redirect."""
    if value and value.startswith("/") and not value.startswith("//") and "\\\\" not in value:
        return value
    return "/"


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None, joined: int = 0) -> HTMLResponse:
    return render(
        request, "login.html", next=_safe_next(next), error=None, email="", joined=bool(joined)
    )


@router.post("/login")
def login(
    ctx: Ctx,
    email: str = Form(max_length=320),
    password: str = Form(max_length=1024),
    next: str | None = Form(default=None),
) -> Response:
    try:
        result = log_in(ctx, email, password)
    except (NotAuthenticated, RateLimited) as exc:
        return render(
            ctx.request,
            "login.html",
            status_code=429 if isinstance(exc, RateLimited) else 401,
            next=_safe_next(next),
            error=exc.message,
            email=email,
        )
    target = "/account?first=1" if result.must_change_password else _safe_next(next)
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(response, ctx, result.secret)
    return response


@router.post("/logout")
def logout(ctx: Ctx, csrf_token: str = Form(default="")) -> Response:
    cookie = ctx.request.cookies.get(SESSION_COOKIE)
    if cookie:
        with page_session(ctx, write=True) as (s, actor, expected):
            check_form_csrf(expected, csrf_token)
            accounts.end_session(s, cookie)
            auth_audit.logged_out(s, actor, request_source(ctx.request))
        ctx.forget_identities()
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/account", response_class=HTMLResponse)
def account(ctx: Ctx, first: int = 0) -> HTMLResponse:
    with page_session(ctx) as (s, actor, csrf):
        user = s.get(User, actor.user_id)
        tokens = accounts.list_api_tokens(s, actor)
        others = accounts.count_sessions(
            s, user_id=actor.user_id, keep_session=ctx.request.cookies.get(SESSION_COOKIE)
        )
        return render(
            ctx.request,
            "account.html",
            actor=actor,
            user=user,
            tokens=tokens,
            csrf_token=csrf,
            first=bool(first),
            other_sessions=others,
            idle=_duration(ctx.settings.session_idle_seconds),
            lifetime=_duration(ctx.settings.session_max_age),
        )


def _duration(seconds: int) -> str:
    """'12 hours', '14 days', '90 minutes': the largest unit that divides it evenly."""
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            n = seconds // size
            return f"{n} {unit}{'' if n == 1 else 's'}"
    return f"{seconds} seconds"


@router.get("/invite", response_class=HTMLResponse)
def accept_invitation_form(ctx: Ctx) -> HTMLResponse:
    """Where an invitation link lands. The secret travels in the URL fragment
    (``/invite#token=…``), which browsers never send to servers or in Referer headers;
    app.js copies it into the form. Someone signed in joins as themselves with one click;
    anyone else makes an account (or enters their existing account's password)."""
    cookie = ctx.request.cookies.get(SESSION_COOKIE)
    if cookie:
        with ctx.db.read_session() as s:
            try:
                actor, row = accounts.resolve_session(s, cookie)
            except NotAuthenticated:
                pass
            else:
                return render(ctx.request, "invite.html", actor=actor, csrf_token=row.csrf_token)
    return render(ctx.request, "invite.html")
