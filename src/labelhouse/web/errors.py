"""Domain errors → HTTP responses, in one table, with one error shape everywhere:
``{"error": {"code", "message", "details": [{"field", "problem"}]}}``.

Database and disk faults (:mod:`labelhouse.db.faults`) are 503s with ``Retry-After``: a
sentence saying to try again, as JSON under ``/api`` and as an error page elsewhere. They
are handled like any domain error, so the connection stays open for the client's next
request (only an unexpected error, a 500, closes it).
"""

from __future__ import annotations

import errno
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from labelhouse import errors
from labelhouse.db import faults

log = logging.getLogger("labelhouse.web")

STATUS = {
    errors.NotFound: 404,
    errors.PermissionDenied: 403,
    errors.NotAuthenticated: 401,
    errors.Conflict: 409,
    errors.InvalidInput: 422,
    errors.TooLarge: 413,
    errors.RateLimited: 429,
    errors.Busy: 503,
    errors.FetchFailed: 502,  # media by URL: the other server, or our refusal to reach it
}
HTTP_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
}


def error_body(
    code: str, message: str, details: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or []}}


def error_response(
    status: int, code: str, message: str, details: list[dict[str, Any]] | None = None
) -> JSONResponse:
    return JSONResponse(error_body(code, message, details), status_code=status)


DISK_FULL = (
    "The server's disk is full, so nothing could be saved. Try again later; an administrator "
    "has to free disk space first."
)
UNAVAILABLE_TITLE = "Temporarily unavailable"


def _status_for(exc: errors.LabelhouseError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def _location(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "cookie")]
    out = ""
    for p in parts:
        out += f"[{p}]" if p.isdigit() else ("." if out else "") + p
    return out or "body"


def problems(exc: RequestValidationError) -> list[dict[str, Any]]:
    """The validation errors as ``[{"field", "problem"}]``."""
    details = []
    for err in exc.errors():
        msg = err.get("msg", "invalid")
        loc = tuple(err.get("loc", ()))
        if err.get("type") == "json_invalid":
            # loc is ("body", character offset): an offset, not a list index
            ctx = err.get("ctx") or {}
            at = f" at character {loc[-1]}" if len(loc) > 1 else ""
            msg = f"malformed JSON{at}: {ctx.get('error', 'cannot parse')}"
            loc = ("body",)
        details.append({"field": _location(loc), "problem": msg})
    return details


def busy_response(request: Request, exc: errors.Busy) -> Response:
    """503 + Retry-After; the operator's hint goes to the log, never to the client."""
    log.warning("%s %s: %s (%s)", request.method, request.url.path, exc.code, exc.hint or "-")
    if request.url.path.startswith("/api/"):
        response: Response = error_response(503, exc.code, exc.message)
    else:
        from labelhouse.web.pages.common import render  # pages import this module

        response = render(
            request,
            "error.html",
            status_code=503,
            status=503,
            title=UNAVAILABLE_TITLE,
            message=f"{exc.message} (Reload this page to try again.)",
        )
    response.headers["retry-after"] = str(exc.retry_after)
    return response


def install(app: FastAPI) -> None:
    @app.exception_handler(errors.Busy)
    async def _busy(request: Request, exc: errors.Busy) -> Response:
        return busy_response(request, exc)

    @app.exception_handler(DBAPIError)
    @app.exception_handler(PoolTimeout)
    async def _database_fault(request: Request, exc: Exception) -> Response:
        """A fault the engine's hook could not translate (e.g. outside its sessions)."""
        fault = faults.classify(exc)
        if fault is None:
            raise exc  # a bug: the 500 below
        return busy_response(request, fault)

    @app.exception_handler(OSError)
    async def _os_error(request: Request, exc: OSError) -> Response:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise exc
        return busy_response(
            request,
            errors.StorageUnavailable(DISK_FULL, retry_after=60, hint=f"disk full: {exc}"),
        )

    @app.exception_handler(errors.LabelhouseError)
    async def _domain(_: Request, exc: errors.LabelhouseError) -> JSONResponse:
        response = error_response(
            _status_for(exc), exc.code, exc.message, [d.as_dict() for d in exc.details]
        )
        if isinstance(exc, errors.RateLimited):
            response.headers["retry-after"] = str(exc.retry_after)
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, "invalid_input", "The request is invalid.", problems(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = HTTP_CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else code
        response = error_response(exc.status_code, code, message)
        response.headers.update(exc.headers or {})  # e.g. Allow on a 405
        return response

    @app.exception_handler(IntegrityError)
    async def _integrity(_: Request, exc: IntegrityError) -> JSONResponse:
        log.info("integrity error: %s", exc.orig)
        return error_response(409, "conflict", "The change conflicts with existing data; retry.")

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return error_response(500, "internal", "Something went wrong on the server; it was logged.")
