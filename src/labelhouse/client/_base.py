"""The client's connection and account calls: constructing it with a token or a password
login, closing it, who am I, API tokens and password changes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, Self

import httpx

from labelhouse.client._http import SESSION_COOKIE, Http, parse_json
from labelhouse.client.errors import AuthenticationError
from labelhouse.client.types import ApiToken, Me


class HasId(Protocol):
    """Any result object of this client with an id (Project, Task, Job, ...)."""

    @property
    def id(self) -> int: ...


IdLike = int | HasId


def id_of(obj: IdLike) -> int:
    """The id of ``obj``: an int, or any result object of this client."""
    if isinstance(obj, bool):
        raise TypeError("expected an id or an object with an id, not a bool")
    if isinstance(obj, int):
        return obj
    found = getattr(obj, "id", None)
    if isinstance(found, int):
        return found
    raise TypeError(f"expected an id or an object with an id, not {type(obj).__name__}")


class ClientBase:
    """Construction, closing and the account calls shared by every part of the client.

    ``max_retries``: how often a request is sent again after a 503 (waiting the server's
    ``Retry-After``) or a dropped connection (see :mod:`labelhouse.client._http`);
    ``transport``: an httpx transport, e.g. to route through a proxy or for tests.
    """

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float = 60.0,
        max_retries: int = 4,
        backoff: float = 0.5,
        max_wait: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        options: dict[str, Any] = {
            "token": token,
            "timeout": timeout,
            "max_retries": max_retries,
            "backoff": backoff,
            "max_wait": max_wait,
            "transport": transport,
        }
        if sleep is not None:
            options["sleep"] = sleep
        self._http = Http(base_url, **options)
        self.base_url = self._http.base_url
        self.must_change_password = False

    @classmethod
    def login(
        cls,
        base_url: str,
        email: str,
        password: str,
        *,
        organization_id: int | None = None,
        **options: Any,
    ) -> Self:
        """A client signed in with e-mail and password (a server-side session, as the web
        app's). After a one-time password, ``must_change_password`` is true and only
        :meth:`change_password` works until it is called. For scripts that run unattended,
        prefer an API token (:meth:`create_token`)."""
        client = cls(base_url, **options)
        try:
            response = client._http.request(
                "POST",
                "/api/auth/login",
                json={"email": email, "password": password, "organization_id": organization_id},
            )
            body = parse_json(response)
            secret = _session_cookie(response)
            if secret is None:
                raise AuthenticationError(
                    "The server accepted the password but set no session cookie; use an API "
                    "token instead."
                )
            client._http.use_session(secret, str(body.get("csrf_token") or ""))
            client.must_change_password = bool(body.get("must_change_password"))
        except BaseException:
            client.close()
            raise
        return client

    def logout(self) -> None:
        """End the password login's session on the server (a token client: nothing to do)."""
        if "Cookie" in self._http.client.headers:
            self._http.request("POST", "/api/auth/logout")
            self._http.forget_session()

    def close(self) -> None:
        """Close the connections (the session or token stays valid)."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def retries(self) -> int:
        """How many times a request of this client has been sent again (503s, dropped
        connections): a figure to log when a run was slow."""
        return self._http.retries

    # -- account ----------------------------------------------------------------------------

    def me(self) -> Me:
        return Me.from_json(self._http.call("GET", "/api/me"))

    def change_password(self, current: str, new: str) -> None:
        """Change the signed-in account's password. This session stays signed in; other
        sessions end and every API token of the account is revoked."""
        self._http.request(
            "POST", "/api/me/password", json={"current_password": current, "new_password": new}
        )
        self.must_change_password = False

    def create_token(
        self, name: str, *, expires_in_days: int | None = None, read_only: bool = False
    ) -> ApiToken:
        """A new API token of the signed-in account; its secret (``.token``) is in this
        answer only."""
        body = {"name": name, "expires_in_days": expires_in_days, "read_only": read_only}
        return ApiToken.from_json(self._http.call("POST", "/api/me/tokens", json=body))

    def list_tokens(self) -> list[ApiToken]:
        items = self._http.call("GET", "/api/me/tokens")["items"]
        return [ApiToken.from_json(t) for t in items]

    def revoke_token(self, token: IdLike) -> None:
        self._http.request("DELETE", f"/api/me/tokens/{id_of(token)}")


def _session_cookie(response: httpx.Response) -> str | None:
    for header in response.headers.get_list("set-cookie"):
        name, _, rest = header.partition("=")
        if name.strip() == SESSION_COOKIE:
            return rest.split(";", 1)[0].strip().strip('"') or None
    return None
