"""Pure ASGI middleware: request size limits (clear 413s), security headers, refusing
cross-site writes (Origin / Sec-Fetch-Site), and work a request leaves for after its answer."""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import anyio
import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request

from labelhouse.web.errors import error_body

log = logging.getLogger("labelhouse.web")

Scope = dict[str, Any]
ASGIApp = Callable[..., Any]


def _too_large_message(limit: int) -> str:
    return f"The request body is larger than {limit:,} bytes; send less or use the import endpoint."


class BodyTooLarge(HTTPException):
    """Raised by ``receive`` once a body without (or with a false) Content-Length passes the
    limit. An HTTPException because FastAPI turns any other error while reading the body into
    a 400; this way the app's handler answers 413 in the usual error shape."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, _too_large_message(limit))


async def _send_413(send: Callable[..., Any], limit: int) -> None:
    body = orjson.dumps(error_body("too_large", _too_large_message(limit)))
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyLimitMiddleware:
    """Rejects bodies over the limit, by Content-Length up front and by counting otherwise.

    ``upload_paths`` (a predicate on the path) get the larger upload limit.
    """

    def __init__(
        self, app: ASGIApp, *, limit: int, upload_limit: int, is_upload: Callable[[str], bool]
    ) -> None:
        self.app = app
        self.limit = limit
        self.upload_limit = upload_limit
        self.is_upload = is_upload

    async def __call__(
        self, scope: Scope, receive: Callable[..., Any], send: Callable[..., Any]
    ) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.upload_limit if self.is_upload(scope["path"]) else self.limit
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > limit:
                    await _send_413(send, limit)
                    return
        received = 0
        started = False

        async def counting_receive() -> dict[str, Any]:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await _send_413(send, limit)


SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
DEFAULT_CSP = (
    b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    b"connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    b"form-action 'self'"
)


def csp_with_images(origins: list[str]) -> bytes:
    """The default policy, with images also allowed from ``origins`` (the lab's buckets,
    whose presigned URLs the media route redirects to)."""
    if not origins:
        return DEFAULT_CSP
    extra = " ".join(o for o in origins if o.isascii() and not any(c in o for c in " ;,'"))
    return DEFAULT_CSP.replace(
        b"img-src 'self' data: blob:", f"img-src 'self' data: blob: {extra}".encode()
    )


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, img_sources: list[str] | None = None) -> None:
        self.app = app
        self.csp = csp_with_images(img_sources or [])

    async def __call__(
        self, scope: Scope, receive: Callable[..., Any], send: Callable[..., Any]
    ) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in SECURITY_HEADERS if k not in present]
                if b"content-security-policy" not in present:  # the API docs too (vendored)
                    headers.append((b"content-security-policy", self.csp))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


# -- cross-site writes -------------------------------------------------------------------------

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# What the browser says about who started a request (Sec-Fetch-Site). "none": the person
# did (address bar, bookmark). "same-site" is refused too: a sibling host (another app on
# a subdomain of the same site) is not Labelhouse either.
ALLOWED_FETCH_SITES = frozenset({"same-origin", "none"})
REFUSED_FETCH_SITES = frozenset({"cross-site", "same-site"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalise_origin(value: str) -> str | None:
    """``scheme://host[:port]``, lower case, without a default port; None for anything that
    is not an http(s) origin (``null``, garbage)."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    host = parts.hostname  # lower-cased, IPv6 without brackets
    if ":" in host:
        host = f"[{host}]"
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


def own_origin(scope: Scope) -> str | None:
    """The origin of the request as this server sees it: its scheme and Host header."""
    host = _header(scope, b"host")
    if not host:
        server = scope.get("server")
        if not server:
            return None
        host = f"{server[0]}:{server[1]}"
    return normalise_origin(f"{scope.get('scheme', 'http')}://{host}")


def cross_site_reason(scope: Scope, trusted: frozenset[str] = frozenset()) -> str | None:
    """Why an unsafe browser request must be refused as coming from another site, or None.

    Bearer-token calls of the JSON API are not subject to it (no browser attaches those by
    itself; pages never read them), nor are requests that carry neither header (curl,
    scripts, API clients). The browser's own
    Sec-Fetch-Site decides when present (pages cannot forge it, and it holds behind any
    proxy); otherwise an Origin must be this server's own, or one of ``trusted``.
    """
    if scope.get("method") not in UNSAFE_METHODS:
        return None
    bearer = (_header(scope, b"authorization") or "").lower().startswith("bearer ")
    if bearer and scope["path"].startswith("/api/"):
        return None
    site = (_header(scope, b"sec-fetch-site") or "").strip().lower()
    if site in ALLOWED_FETCH_SITES:
        return None
    if site in REFUSED_FETCH_SITES:
        return f"your browser marked it {site}"
    origin = _header(scope, b"origin")
    if origin is None:
        return None
    normal = normalise_origin(origin)
    if normal is not None and (normal == own_origin(scope) or normal in trusted):
        return None
    return f"it came from {origin.strip()[:100]!r}"


def _refusal_message(reason: str, own: str | None) -> str:
    where = f" at {own}" if own else ""
    return (
        f"Refused: this request did not come from Labelhouse's own pages ({reason}). Sign-ins "
        f"and changes are accepted only from Labelhouse itself; open it{where} and try again. "
        "(Administrators: behind a proxy that changes the address, set LABELHOUSE_PUBLIC_URL.)"
    )


ERROR_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Not allowed · Labelhouse</title><link rel="stylesheet" href="/static/css/app.css"></head>
<body><header class="topbar"><a class="brand" href="/">Labelhouse</a></header>
<main id="main" class="narrow"><section class="card error-page"><h1>Not allowed</h1>
<p>{message}</p><p><a href="/login">Go to the login page</a></p></section></main></body>
</html>
"""


async def _send_403(scope: Scope, send: Callable[..., Any], message: str) -> None:
    if scope["path"].startswith("/api/"):
        body = orjson.dumps(error_body("cross_site_request", message))
        content_type = b"application/json"
    else:  # a page's form (the login form, logout): a page, not JSON
        body = ERROR_PAGE.format(message=html.escape(message)).encode()
        content_type = b"text/html; charset=utf-8"
    await send(
        {
            "type": "http.response.start",
            "status": 403,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class CrossSiteWriteMiddleware:
    """Refuses unsafe requests (POST, PUT, PATCH, DELETE) that a browser sent from another
    site: a defence in depth beside the CSRF token of cookie-authenticated calls, and the
    protection of the sign-in forms, which have no session (and so no token) yet: a
    cross-site POST /login would otherwise sign the victim into the attacker's account.

    ``public_url``: the address people use, when a proxy changes what the app sees.
    """

    def __init__(self, app: ASGIApp, *, public_url: str | None = None) -> None:
        self.app = app
        trusted = normalise_origin(public_url) if public_url else None
        self.trusted = frozenset({trusted} if trusted else ())

    async def __call__(
        self, scope: Scope, receive: Callable[..., Any], send: Callable[..., Any]
    ) -> None:
        if scope["type"] == "http":
            reason = cross_site_reason(scope, self.trusted)
            if reason is not None:
                log.warning(
                    "refused a cross-site %s %s: %s", scope["method"], scope["path"], reason
                )
                own = next(iter(self.trusted), None) or own_origin(scope)
                await _send_403(scope, send, _refusal_message(reason, own))
                return
        await self.app(scope, receive, send)


# -- work after the answer ---------------------------------------------------------------------

AFTER_RESPONSE = "labelhouse.after_response"


def after_response(request: Request, job: Callable[[], None]) -> None:
    """Run ``job`` (blocking code, e.g. a small write) once this request's answer has been
    sent: the person does not wait for it, and its failure (logged) cannot fail the request.
    Needs :class:`AfterResponseMiddleware`."""
    jobs: list[Callable[[], None]] = request.scope.setdefault("state", {}).setdefault(
        AFTER_RESPONSE, []
    )
    jobs.append(job)


class AfterResponseMiddleware:
    """Runs what handlers left with :func:`after_response`, in a worker thread, after the
    response is complete (Starlette's background tasks, without a Response in hand)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(
        self, scope: Scope, receive: Callable[..., Any], send: Callable[..., Any]
    ) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        try:
            await self.app(scope, receive, send)
        finally:
            for job in state.pop(AFTER_RESPONSE, ()):
                try:
                    await anyio.to_thread.run_sync(job)
                except Exception:  # after the answer: log, never raise
                    log.exception("work after the response failed")
