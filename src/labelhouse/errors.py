"""One exception tree for the domain. No HTTP codes here: ``web/errors.py`` maps them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One concrete thing wrong with an input: where (``field``) and what (``problem``)."""

    field: str
    problem: str

    def as_dict(self) -> dict[str, Any]:
        return {"field": self.field, "problem": self.problem}


class LabelhouseError(Exception):
    """Base of every error the domain raises on purpose."""

    code = "error"

    def __init__(self, message: str, details: list[Problem] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: list[Problem] = list(details or [])


class NotFound(LabelhouseError):
    """The object does not exist *or* belongs to another organization (indistinguishable)."""

    code = "not_found"


class PermissionDenied(LabelhouseError):
    code = "permission_denied"


class PasswordChangeRequired(PermissionDenied):
    """The account signed in with a one-time password: nothing works until it is changed."""

    code = "password_change_required"


class ReadOnlyToken(PermissionDenied):
    code = "read_only_token"


class NotAuthenticated(LabelhouseError):
    code = "not_authenticated"


class Conflict(LabelhouseError):
    code = "conflict"


class InvalidInput(LabelhouseError):
    """Input failed validation; ``details`` lists every problem found, not just the first."""

    code = "invalid_input"


class TooLarge(LabelhouseError):
    code = "too_large"


class RateLimited(LabelhouseError):
    code = "rate_limited"

    def __init__(self, message: str, retry_after: int = 60) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Busy(RateLimited):
    """The server could not get to the database in time (e.g. a long write holds SQLite's
    lock): nothing was done, and the same request can simply be sent again. ``hint`` tells
    an operator what happened (logs, the CLI); it is never sent to an HTTP client."""

    code = "busy"

    def __init__(self, message: str, retry_after: int = 2, hint: str = "") -> None:
        super().__init__(message, retry_after)
        self.hint = hint


class Unavailable(Busy):
    """A part the server depends on cannot be used right now (connection lost or refused, a
    timeout, a full disk): retrying later is the remedy (HTTP 503 with Retry-After)."""

    code = "unavailable"

    def __init__(self, message: str, retry_after: int = 5, hint: str = "") -> None:
        super().__init__(message, retry_after, hint)


class DatabaseUnavailable(Unavailable):
    code = "database_unavailable"


class StorageUnavailable(Unavailable):
    code = "storage_unavailable"


class FetchFailed(LabelhouseError):
    """Something outside could not be fetched (media by URL): the server answered with an
    error, too slowly, too much, or the wrong type. The message is one sentence naming the
    host and the reason; ``host`` and ``reason`` are the same two parts, for row problems."""

    code = "fetch_failed"

    def __init__(self, host: str, reason: str) -> None:
        super().__init__(f"Could not fetch media from {host}: {reason}.")
        self.host = host
        self.reason = reason


class FetchRefused(FetchFailed):
    """The fetch was not attempted (or was stopped before a connection): the URL's scheme,
    or an address its host resolves to, is not one Labelhouse may reach (SSRF guard)."""

    code = "fetch_refused"

    def __init__(self, host: str, reason: str) -> None:
        LabelhouseError.__init__(self, f"Refused to fetch media from {host}: {reason}.")
        self.host = host
        self.reason = reason


@dataclass
class ProblemCollector:
    """Collects problems so validators can report all of them at once."""

    problems: list[Problem] = field(default_factory=list)

    def add(self, where: str, problem: str) -> None:
        self.problems.append(Problem(where, problem))

    def raise_if_any(self, message: str) -> None:
        if self.problems:
            raise InvalidInput(message, self.problems)
