"""Request context: the database, settings, storage and the acting identity.

Handlers open exactly one unit of work per request with ``ctx.write()`` (committed when the
block ends, before the response is sent) or ``ctx.read()`` (never takes SQLite's write lock).
Authentication happens inside that same session: a bearer API token, or the session cookie
plus a CSRF header on unsafe methods (and, for any unsafe browser request, no other site as
its origin: ``middleware.CrossSiteWriteMiddleware``). A session in use has its idle expiry
slid forward about once a minute (:meth:`Context.renew_session`).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Response
from sqlalchemy.orm import Session

from labelhouse.accounts import auth_audit, tokens
from labelhouse.accounts import service as accounts
from labelhouse.accounts.identity_cache import IdentityCache
from labelhouse.accounts.models import UserSession
from labelhouse.accounts.policy import Actor
from labelhouse.accounts.throttle import LoginThrottle
from labelhouse.accounts.throttle import login_keys as throttle_keys
from labelhouse.config import Settings
from labelhouse.db.engine import Database
from labelhouse.errors import (
    NotAuthenticated,
    PasswordChangeRequired,
    PermissionDenied,
    RateLimited,
    ReadOnlyToken,
)
from labelhouse.media.sources import MediaSources
from labelhouse.storage import Storage
from labelhouse.web.audit_trail import denials_recorded, request_source
from labelhouse.web.middleware import after_response

SESSION_COOKIE = "lh_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
# What still works while a one-time password waits to be changed.
PASSWORD_CHANGE_PATHS = frozenset({"/api/me", "/api/me/password", "/api/auth/logout"})


@dataclass
class Context:
    request: Request
    db: Database
    settings: Settings
    storage: Storage

    @property
    def media(self) -> MediaSources:
        """Media by URL: the lab's buckets and the SSRF-safe fetcher (one per app)."""
        return self.request.app.state.media  # type: ignore[no-any-return]

    @property
    def identities(self) -> IdentityCache:
        return self.request.app.state.identity_cache  # type: ignore[no-any-return]

    def forget_identities(self) -> None:
        """Call after logout, revocation, password or role changes (see IdentityCache)."""
        self.identities.clear()

    def _actor(self, session: Session, *, writable: bool, csrf: str | None = None) -> Actor:
        actor = self._identity(session, writable=writable, csrf=csrf)
        if actor.read_only and self.request.method not in SAFE_METHODS:
            raise ReadOnlyToken(
                "This API token is read-only; use a token without the read-only scope to "
                "change anything."
            )
        if actor.must_change_password and self.request.url.path not in PASSWORD_CHANGE_PATHS:
            raise PasswordChangeRequired(
                "Change your one-time password first (POST /api/me/password, or the account "
                "page); until then nothing else works."
            )
        return actor

    def _identity(self, session: Session, *, writable: bool, csrf: str | None = None) -> Actor:
        header = self.request.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            secret = header[7:].strip()
            # Separate entries for reads and writes: a write resolution also records use.
            key = ("tw:" if writable else "tr:") + tokens.digest(secret)
            actor = self.identities.get(key)
            if actor is None:
                actor = accounts.resolve_api_token(session, secret, touch=writable)
                self.identities.put(key, actor)
            return actor  # type: ignore[no-any-return]
        cookie = self.request.cookies.get(SESSION_COOKIE)
        if not cookie:
            raise NotAuthenticated("Log in, or send an API token as 'Authorization: Bearer …'.")
        key = "s:" + tokens.digest(cookie)
        cached = self.identities.get(key)
        if cached is None:
            actor, row = accounts.resolve_session(
                session, cookie, max_age=self.settings.session_max_age
            )
            self.renew_session(row, session if writable else None)
            cached = (actor, row.csrf_token)
            self.identities.put(key, cached)
        actor, csrf_token = cached
        if self.request.method not in SAFE_METHODS:
            sent = self.request.headers.get(CSRF_HEADER, "") or (csrf or "")
            if not sent or not secrets.compare_digest(sent, csrf_token):
                raise PermissionDenied(
                    "Missing or wrong CSRF token; send the X-CSRF-Token header from /api/me."
                )
        return actor

    def renew_session(self, row: UserSession, session: Session | None = None) -> None:
        """Slide a session's idle expiry when due (see ``accounts.session_renewal``): in
        ``session`` when the request writes anyway, else in a short write transaction of its
        own once the answer has been sent, so a read neither waits for the write lock nor
        fails when it cannot be had (the next request tries again)."""
        until = accounts.session_renewal(
            row,
            idle_seconds=self.settings.session_idle_seconds,
            max_age=self.settings.session_max_age,
        )
        if until is None:
            return
        if session is not None:
            accounts.renew_session(session, session_id=row.id, expires_at=until)
            return
        db, session_id = self.db, row.id

        def renew() -> None:
            with db.session() as s:
                accounts.renew_session(s, session_id=session_id, expires_at=until)

        after_response(self.request, renew)

    @contextmanager
    def write(
        self, *, csrf: str | None = None, hot: bool = False
    ) -> Iterator[tuple[Session, Actor]]:
        """``csrf``: the token as a form field, for the one request a page cannot give a
        header (``navigator.sendBeacon`` as the page closes); the header still wins.
        ``hot``: the annotator's /next and submit, in :meth:`Database.hot_session`."""
        unit = self.db.hot_session() if hot else self.db.session()
        with denials_recorded(self.request) as seen, unit as session:
            yield session, seen(self._actor(session, writable=True, csrf=csrf))

    @contextmanager
    def read(self) -> Iterator[tuple[Session, Actor]]:
        with denials_recorded(self.request) as seen, self.db.read_session() as session:
            yield session, seen(self._actor(session, writable=False))

    @contextmanager
    def anonymous(self) -> Iterator[Session]:
        with self.db.session() as session:
            yield session


async def get_context(request: Request) -> Context:
    state = request.app.state
    return Context(request=request, db=state.db, settings=state.settings, storage=state.storage)


Ctx = Annotated[Context, Depends(get_context)]


def login_keys(request: Request, email: str) -> tuple[str, str, str]:
    """Throttle keys for a login attempt: (account+address, address, account)."""
    client = request.client.host if request.client else "unknown"
    return throttle_keys(email, client)


def login_throttle(request: Request) -> LoginThrottle:
    return request.app.state.login_throttle  # type: ignore[no-any-return]


def check_login_throttle(request: Request, keys: tuple[str, str, str]) -> None:
    """Refuse an attempt while it is throttled (see ``accounts.throttle``). A read session of
    its own, so a refused attempt (the bulk of a guessing run) never queues for SQLite's
    write lock."""
    db: Database = request.app.state.db
    with db.read_session() as s:
        wait = login_throttle(request).login_retry_after(s, keys)
    if wait > 0:
        raise RateLimited(
            f"Too many failed logins; try again in {int(wait) + 1} seconds.",
            retry_after=int(wait) + 1,
        )


@dataclass
class LoginResult:
    secret: str
    csrf_token: str
    actor: Actor
    must_change_password: bool


def log_in(
    ctx: Context, email: str, password: str, organization_id: int | None = None
) -> LoginResult:
    """Throttled password check and a new server-side session (used by the API and the page).

    Raises RateLimited after repeated failures, NotAuthenticated on a wrong password. The
    failure is recorded in the login's own transaction, which therefore must commit: the
    error is raised only after the block has ended.
    """
    keys = login_keys(ctx.request, email)
    check_login_throttle(ctx.request, keys)
    throttle = login_throttle(ctx.request)
    with ctx.anonymous() as s:
        try:
            user = accounts.authenticate(s, email=email, password=password)
        except NotAuthenticated as exc:
            throttle.failed(s, *keys)
            auth_audit.login_failed(s, email=email, origin=request_source(ctx.request))
            wrong_password = exc
        else:
            throttle.succeeded(s, keys[0])
            secret, row = accounts.start_session(
                s,
                user=user,
                organization_id=organization_id,
                max_age=ctx.settings.session_max_age,
                idle_seconds=ctx.settings.session_idle_seconds,
            )
            actor = accounts.actor_for(s, user_id=user.id, organization_id=row.organization_id)
            auth_audit.logged_in(s, actor, request_source(ctx.request))
            return LoginResult(secret, row.csrf_token, actor, user.must_change_password)
    raise wrong_password


def set_session_cookie(response: Response, ctx: Context, secret: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=ctx.settings.session_max_age,
        httponly=True,
        samesite="lax",
        secure=ctx.settings.secure_cookies,
        path="/",
    )
