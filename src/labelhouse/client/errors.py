"""The client's exception tree, built from the API's one error shape:
``{"error": {"code", "message", "details": [{"field", "problem"}]}}``.

Every HTTP error the server answers becomes one of these (never a raw httpx exception), and
a server that cannot be reached becomes :class:`ConnectionFailed` with a sentence saying
where and why. Catch :class:`LabelhouseError` to catch them all.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import httpx


class Problem(NamedTuple):
    """One thing wrong with the input: which ``field`` (e.g. ``schema.fields[0].kind``) and
    what ``message``. A tuple, so ``for field, message in exc.problems`` works."""

    field: str
    message: str


class LabelhouseError(Exception):
    """Base of every error the client raises. ``status`` is the HTTP status (0 when no answer
    came), ``code`` the API's error code (e.g. ``not_found``), ``body`` the parsed answer."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 0,
        code: str = "error",
        problems: list[Problem] | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.problems: list[Problem] = list(problems or [])
        self.body = body

    def __str__(self) -> str:
        if not self.problems:
            return self.message
        listed = "; ".join(f"{p.field}: {p.message}" for p in self.problems[:10])
        more = f" (and {len(self.problems) - 10} more)" if len(self.problems) > 10 else ""
        return f"{self.message} {listed}{more}"


class ConnectionFailed(LabelhouseError):
    """No answer: the server could not be reached, or the connection broke or timed out."""


class AuthenticationError(LabelhouseError):
    """401: no valid token or session (wrong password, revoked or expired token)."""


class PermissionDenied(LabelhouseError):
    """403: signed in, but this account (or token) may not do that."""


class PasswordChangeRequired(PermissionDenied):
    """The account signed in with a one-time password: call ``change_password`` first."""


class ReadOnlyToken(PermissionDenied):
    """The API token is read-only and the call would change something."""


class NotFound(LabelhouseError):
    """404: the object does not exist, or belongs to another organization."""


class Conflict(LabelhouseError):
    """409: the request conflicts with the current state (e.g. a lease that ended)."""


class InvalidInput(LabelhouseError):
    """422: the input failed validation; ``problems`` lists every field at fault."""


class TooLarge(LabelhouseError):
    """413: the body is larger than the server accepts (import in smaller batches)."""


class RateLimited(LabelhouseError):
    """429: too many attempts (e.g. failed logins); try again after ``retry_after`` seconds."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class Unavailable(LabelhouseError):
    """503: the server is busy or a part it depends on is down; nothing was done and the
    same request can be sent again after ``retry_after`` seconds. The client already
    retried it ``max_retries`` times before raising this."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class ServerError(LabelhouseError):
    """Another 5xx: a bug on the server (it was logged there)."""


class JobFailed(LabelhouseError):
    """A background job ended in failure or was cancelled (``job`` says which)."""

    def __init__(self, message: str, *, job: Any = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.job = job


_BY_STATUS: dict[int, type[LabelhouseError]] = {
    401: AuthenticationError,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
    413: TooLarge,
    422: InvalidInput,
    429: RateLimited,
    503: Unavailable,
}
_BY_CODE: dict[str, type[LabelhouseError]] = {
    "password_change_required": PasswordChangeRequired,
    "read_only_token": ReadOnlyToken,
}


def retry_after(response: httpx.Response) -> float | None:
    """The Retry-After header in seconds (the server sends a number), or None."""
    raw = response.headers.get("retry-after")
    if raw is None:
        return None
    try:
        return max(float(raw), 0.0)
    except ValueError:
        return None  # an HTTP date: the server never sends one


def from_response(response: httpx.Response) -> LabelhouseError:
    """The exception for an error answer (status >= 400); its body must have been read."""
    status = response.status_code
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        code = str(error.get("code") or "error")
        message = str(error.get("message") or "")
        problems = [
            Problem(str(d.get("field", "")), str(d.get("problem", "")))
            for d in error.get("details") or []
            if isinstance(d, dict)
        ]
    else:
        code, problems = "error", []
        text = response.text.strip()[:200] if response.content else ""
        message = text or ""
    if not message:
        message = f"The server answered {status} {response.reason_phrase}".rstrip() + "."
    cls = _BY_CODE.get(code) or _BY_STATUS.get(status)
    if cls is None:
        cls = ServerError if status >= 500 else LabelhouseError
    kw: dict[str, Any] = {"status": status, "code": code, "problems": problems, "body": body}
    if cls in (RateLimited, Unavailable):
        kw["retry_after"] = retry_after(response)
    return cls(message, **kw)


def connection_failed(base_url: str, exc: httpx.TransportError) -> ConnectionFailed:
    """One sentence for a transport failure, naming the server and what went wrong."""
    if isinstance(exc, httpx.ConnectError):
        what = "could not connect"
    elif isinstance(exc, httpx.TimeoutException):
        what = "it did not answer in time"
    else:
        what = "the connection broke"
    return ConnectionFailed(
        f"Could not reach the Labelhouse server at {base_url}: {what} "
        f"({exc or type(exc).__name__}). Check the address and that the server is running, "
        "then try again."
    )
