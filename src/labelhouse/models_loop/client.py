"""POSTing JSON to a model endpoint through the SSRF-safe client, with bounded retries.

Every request goes through :class:`~labelhouse.net.safe_fetch.SafeFetcher`: public
addresses only, unless the operator lists private ones in ``LABELHOUSE_MODELS_ALLOW``
(plain http only with ``LABELHOUSE_MODELS_ALLOW_HTTP``); answers are size-limited and timed.
A 429 or 5xx, or a connection that fails, is tried again after a growing pause (honouring
a short ``Retry-After``), at most ``ATTEMPTS`` times in all.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import orjson

from labelhouse.config import Settings
from labelhouse.errors import FetchFailed, FetchRefused
from labelhouse.net.addresses import AddressPolicy, parse_networks
from labelhouse.net.safe_fetch import FetchPolicy, SafeFetcher

ATTEMPTS = 3
BACKOFF_SECONDS = 0.5
MAX_RETRY_AFTER = 10.0
USER_AGENT = "Labelhouse model client"


class CallFailed(Exception):
    """One call that gave no usable answer; the message is a sentence (without the task,
    which the caller adds). ``status`` is the last HTTP status, if any answer came."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any
    attempts: int


def fetch_policy(settings: Settings) -> FetchPolicy:
    timeout = settings.models_timeout
    return FetchPolicy(
        addresses=AddressPolicy(parse_networks(settings.models_allow)),
        allow_http=settings.models_allow_http,
        max_bytes=settings.models_max_bytes,
        connect_timeout=min(10.0, timeout),
        read_timeout=timeout,
        total_timeout=timeout,
        max_redirects=0,
    )


class ModelClient:
    """One run's connection pool (thread-safe: calls run on several threads)."""

    def __init__(self, settings: Settings, *, sleep: Any = time.sleep) -> None:
        self.fetcher = SafeFetcher(fetch_policy(settings))
        self.sleep = sleep

    def close(self) -> None:
        self.fetcher.close()

    def check_url(self, url: str) -> None:
        """Refuse a URL the SSRF policy would refuse, before any task is sent."""
        self.fetcher.check_url(url)

    def post_json(self, url: str, payload: Any, api_key: str | None) -> Reply:
        headers = {
            "content-type": "application/json",
            "accept": "application/json",
            "user-agent": USER_AGENT,
        }
        if api_key:
            headers["authorization"] = f"Bearer {api_key}"
        content = orjson.dumps(payload)
        for attempt in range(1, ATTEMPTS + 1):
            status: int | None = None
            retry_after = None
            try:
                with self.fetcher.post(url, content=content, headers=headers) as answer:
                    status = answer.response.status_code
                    body = answer.read()
                    retry_after = answer.response.headers.get("retry-after")
            except FetchRefused as exc:
                raise CallFailed(f"the address was refused ({exc.reason})") from None
            except FetchFailed as exc:
                if (
                    status is not None
                ):  # it answered (too much, too slowly): asking again won't help
                    raise CallFailed(
                        f"its answer could not be read: {exc.reason}", status
                    ) from None
                if attempt == ATTEMPTS:
                    raise CallFailed(f"{exc.reason} ({ATTEMPTS} attempts)") from None
                self._pause(attempt, None)
                continue
            if status == 429 or status >= 500:
                if attempt == ATTEMPTS:
                    raise CallFailed(
                        f"the endpoint answered {status} ({ATTEMPTS} attempts)", status
                    )
                self._pause(attempt, retry_after)
                continue
            if status != 200:
                raise CallFailed(f"the endpoint answered {status}: {_snippet(body)}", status)
            try:
                return Reply(status, orjson.loads(body), attempt)
            except orjson.JSONDecodeError:
                raise CallFailed(f"the answer is not JSON: {_snippet(body)}", status) from None
        raise AssertionError("unreachable")  # every attempt returns, raises or continues

    def _pause(self, attempt: int, retry_after: str | None) -> None:
        delay = BACKOFF_SECONDS * 2 ** (attempt - 1)
        if retry_after and retry_after.strip().isdigit():
            delay = max(delay, min(float(retry_after), MAX_RETRY_AFTER))
        self.sleep(delay)


def _snippet(body: bytes) -> str:
    text = body[:200].decode("utf-8", "replace").strip().replace("\n", " ")
    return repr(text) if text else "(empty)"
