"""What the web edge adds to the audit log: where a request came from, permission denials,
and events written after a response has streamed.

Permission denials are recorded when the person is known (their identity was resolved and
then a domain check refused them): in a short transaction of their own, after the request's
own transaction has rolled back, and at most once per person, route and minute in this
process (``DenialLimiter``), so a client repeating a refused request cannot flood the log;
the next recorded denial says how many were left out. Refusals that happen while resolving
the identity (a wrong CSRF token, a read-only token writing, a one-time password not yet
changed) are not recorded.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session

from labelhouse.accounts.auth_audit import source
from labelhouse.accounts.policy import Actor
from labelhouse.audit import service as audit
from labelhouse.errors import PasswordChangeRequired, PermissionDenied

log = logging.getLogger("labelhouse.audit")

DENIAL_WINDOW = 60.0
MAX_MESSAGE = 300


def request_source(request: Request) -> dict[str, str]:
    """The peer address the server saw and the user agent (see ``auth_audit.source``)."""
    return source(
        request.client.host if request.client else None, request.headers.get("user-agent")
    )


class DenialLimiter:
    """At most one recorded denial per key per ``window`` seconds; counts the rest."""

    def __init__(
        self,
        window: float = DENIAL_WINDOW,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.window = window
        self.max_keys = max_keys
        self.clock = clock
        self._seen: dict[tuple[Any, ...], tuple[float, int]] = {}  # key -> (recorded at, left out)
        self._lock = threading.Lock()

    def admit(self, key: tuple[Any, ...]) -> int | None:
        """None: drop this one. Otherwise record it, noting the returned number left out
        since the last recorded one."""
        now = self.clock()
        with self._lock:
            last = self._seen.get(key)
            if last is not None and now - last[0] < self.window:
                self._seen[key] = (last[0], last[1] + 1)
                return None
            if len(self._seen) >= self.max_keys:  # keys are person x route: rarely many
                self._seen = {k: v for k, v in self._seen.items() if now - v[0] < self.window}
                if len(self._seen) >= self.max_keys:
                    self._seen.clear()
            self._seen[key] = (now, 0)
            return last[1] if last is not None else 0


def _limiter(request: Request) -> DenialLimiter:
    state = request.app.state
    limiter = getattr(state, "audit_denial_limiter", None)
    if limiter is None:
        limiter = state.audit_denial_limiter = DenialLimiter()
    return limiter  # type: ignore[no-any-return]


def _route(request: Request) -> str:
    route = request.scope.get("route")
    return str(getattr(route, "path", None) or request.url.path)


def record_denial(request: Request, actor: Actor, exc: PermissionDenied) -> None:
    route = _route(request)
    left_out = _limiter(request).admit(
        (actor.organization_id, actor.user_id, request.method, route)
    )
    if left_out is None:
        return
    details: dict[str, Any] = {
        "method": request.method,
        "path": request.url.path[:200],
        "message": exc.message[:MAX_MESSAGE],
        **request_source(request),
    }
    if left_out:
        details["left_out"] = left_out
    write_separately(
        request,
        lambda s: audit.record(
            s,
            organization_id=actor.organization_id,
            actor_id=actor.user_id,
            action="access.denied",
            object_type="route",
            object_id=f"{request.method} {route}"[:80],
            details=details,
        ),
    )


def write_separately(request: Request, write: Callable[[Session], object]) -> None:
    """Run ``write`` in a short transaction of its own; a failure is logged, never shown
    (the person's answer does not depend on it)."""
    try:
        with request.app.state.db.session() as s:
            write(s)
    except Exception:
        log.exception("could not write an audit event for %s %s", request.method, request.url.path)


def _denial(exc: BaseException) -> PermissionDenied | None:
    """The denial behind ``exc``: itself, or what a page turned into its error page."""
    for candidate in (exc, exc.__cause__):
        if isinstance(candidate, PermissionDenied) and not isinstance(
            candidate, PasswordChangeRequired
        ):
            return candidate
    return None


@contextmanager
def denials_recorded(request: Request) -> Iterator[Callable[[Actor], Actor]]:
    """Wrap a request's unit of work; pass the resolved actor through the yielded function.
    A permission denial ending the block is recorded once the inner transaction is over
    (use as the outer manager: ``with denials_recorded(r) as seen, db.session() as s:``)."""
    seen: list[Actor] = []

    def note(actor: Actor) -> Actor:
        seen.append(actor)
        return actor

    try:
        yield note
    except Exception as exc:
        denied = _denial(exc)
        if denied is not None and seen:
            record_denial(request, seen[-1], denied)
        raise
