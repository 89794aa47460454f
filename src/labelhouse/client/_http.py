"""The HTTP core of the client: one httpx connection pool, authentication, retries, and
error answers turned into :mod:`labelhouse.client.errors` exceptions.

What is retried, and why it is safe:

- a 503 (the server was busy or a part it needs was down): the server promises that nothing
  was done, so any request is sent again, after the ``Retry-After`` it names;
- a connection that could not be opened: the request never left;
- a connection that broke or timed out after the request was sent, only for requests that
  are safe to repeat: reads, and writes the caller marks ``retry=True`` (those carrying an
  ``Idempotency-Key``, which the server answers once, and calls that are idempotent by
  design such as a batch of an import, whose rows the server de-duplicates).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from labelhouse.client.errors import LabelhouseError, connection_failed, from_response, retry_after

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
USER_AGENT = "labelhouse-client/0.1"
SESSION_COOKIE = "lh_session"
CSRF_HEADER = "X-CSRF-Token"

Body = bytes | Callable[[], bytes | Iterable[bytes]] | None


class Http:
    """Sends requests to one server. ``sleep`` is injectable so tests need not wait."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 4,
        backoff: float = 0.5,
        max_wait: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_wait = max_wait
        self.sleep = sleep
        self.retries = 0  # how many times a request was sent again (for callers and tests)
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.client = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            transport=transport,
            follow_redirects=False,
        )

    def use_session(self, secret: str, csrf_token: str) -> None:
        """Authenticate with a browser-style session from a password login. The cookie is
        sent as a header of its own (not through the cookie jar, which would withhold a
        ``Secure`` cookie from an ``http://`` address), with the CSRF token every unsafe
        call needs."""
        self.client.cookies.clear()
        self.client.headers["Cookie"] = f"{SESSION_COOKIE}={secret}"
        self.client.headers[CSRF_HEADER] = csrf_token

    def forget_session(self) -> None:
        self.client.headers.pop("Cookie", None)
        self.client.headers.pop(CSRF_HEADER, None)

    def close(self) -> None:
        self.client.close()

    # -- requests ---------------------------------------------------------------------------

    def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        retry: bool = False,
    ) -> Any:
        """:meth:`request`, and its JSON answer."""
        return parse_json(self.request(method, path, params=params, json=json, retry=retry))

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        body: Body = None,
        headers: dict[str, str] | None = None,
        retry: bool = False,
    ) -> httpx.Response:
        """Send, retrying as the module says, and return the (read) answer; an error answer
        raises. ``body`` is bytes, or a function giving the bytes afresh for each attempt
        (e.g. a file read in chunks)."""
        with self.stream(
            method, path, params=params, json=json, body=body, headers=headers, retry=retry
        ) as response:
            self._read(response)
        return response

    @contextmanager
    def stream(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        body: Body = None,
        headers: dict[str, str] | None = None,
        retry: bool = False,
    ) -> Iterator[httpx.Response]:
        """Like :meth:`request`, but the answer's body is left to the caller to stream
        (``iter_bytes``); a failure while streaming it is a :class:`ConnectionFailed`."""
        response = self._send(method, path, params, json, body, headers, retry)
        try:
            yield response
        except httpx.TransportError as exc:
            raise connection_failed(self.base_url, exc) from None
        except httpx.StreamError as exc:
            raise LabelhouseError(f"The answer could not be read: {exc}.") from None
        finally:
            response.close()

    def _send(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None,
        json: Any,
        body: Body,
        headers: dict[str, str] | None,
        retry: bool,
    ) -> httpx.Response:
        method = method.upper()
        repeatable = retry or method in SAFE_METHODS
        attempt = 0
        while True:
            content = body() if callable(body) else body
            request = self.client.build_request(
                method, path, params=_clean(params), json=json, content=content, headers=headers
            )
            try:
                response = self.client.send(request, stream=True)
            except httpx.TransportError as exc:
                never_sent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
                if attempt < self.max_retries and (never_sent or repeatable):
                    self._wait(attempt, None)
                    attempt += 1
                    continue
                raise connection_failed(self.base_url, exc) from None
            if response.status_code < 300:
                return response
            if response.status_code < 400:
                response.close()
                where = response.headers.get("location", "elsewhere")
                raise LabelhouseError(
                    f"The server at {self.base_url} redirected {path} to {where}: give the "
                    "client the address it redirects to (e.g. https://) as base_url.",
                    status=response.status_code,
                    code="redirect",
                )
            self._read(response)
            response.close()
            if response.status_code == 503 and attempt < self.max_retries:
                self._wait(attempt, retry_after(response))
                attempt += 1
                continue
            raise from_response(response)

    def _wait(self, attempt: int, after: float | None) -> None:
        """Retry-After when the server names it, else exponential backoff with jitter."""
        self.retries += 1
        if after is not None:
            delay = after
        else:
            delay = self.backoff * (2**attempt) * (0.5 + random.random() / 2)
        self.sleep(min(delay, self.max_wait))

    def _read(self, response: httpx.Response) -> None:
        try:
            response.read()
        except httpx.TransportError as exc:
            raise connection_failed(self.base_url, exc) from None


def parse_json(response: httpx.Response) -> Any:
    """The answer's JSON; an answer that is not JSON (a proxy's error page, a wrong
    address) is a :class:`LabelhouseError` naming what came instead."""
    try:
        return response.json()
    except ValueError:
        kind = response.headers.get("content-type", "no content type")
        raise LabelhouseError(
            f"Expected JSON from {response.request.url} but got {kind} (status "
            f"{response.status_code}); is the address a Labelhouse server?",
            status=response.status_code,
        ) from None


def _clean(params: dict[str, Any] | None) -> dict[str, Any] | None:
    """Query parameters without the ``None`` ones, booleans as the API spells them."""
    if params is None:
        return None
    out: dict[str, Any] = {}
    for key, value in params.items():
        if value is None:
            continue
        out[key] = ("true" if value else "false") if isinstance(value, bool) else value
    return out
