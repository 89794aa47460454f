"""Domain errors → HTTP responses, in one table, with one error shape everywhere:
``{"error": {"code", "message", "details": [{"field", "problem"}]}}``."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from labelhouse import errors

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


def install(app: FastAPI) -> None:
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
