"""The one SSRF-safe HTTP client: every server-side fetch of a URL a user gave goes here.

How it stays safe (docs/deployment.md, "Media by URL"):

- **The address is checked where the connection is made.** ``_CheckedBackend`` is the
  httpcore network backend of the client's only transport: it resolves the host *once*,
  checks *every* address it got (:class:`~labelhouse.net.addresses.AddressPolicy`: public
  or allow-listed), and connects to one of those checked addresses, never to the name again,
  so a DNS answer that changes between the check and the connection (rebinding) cannot
  swap it. TLS still verifies the certificate against, and sends SNI for, the URL's host
  (httpcore wraps the socket with the URL's host name), and the Host header is the URL's.
- **Every redirect is a new URL, checked again** (scheme, credentials, and the address at
  its own connection), at most ``max_redirects`` of them.
- **No proxy from the environment** (``trust_env=False``): a proxy would make the
  connection for us, to an address we never saw.
- **Limits**: https only unless plain http is allowed; a content-type allow-list per use;
  size counted while streaming (stops at the limit; no decompression: ``identity``);
  connect and read timeouts per step and a total deadline for the whole fetch.

Errors are :class:`~labelhouse.errors.FetchRefused` (policy: not attempted) or
:class:`~labelhouse.errors.FetchFailed` (the other side), each one sentence naming the host.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpcore
import httpx

from labelhouse.errors import FetchFailed, FetchRefused
from labelhouse.net.addresses import AddressPolicy, IPAddress, parse_networks

if TYPE_CHECKING:
    from labelhouse.config import Settings

# host, port → the addresses it resolves to (strings). Tests pass their own (the process
# edge); the default asks the system resolver once per connection.
Resolver = Callable[[str, int], list[str]]

IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
USER_AGENT = "Labelhouse media fetcher"


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _megabytes(n: int) -> str:
    return f"{n / (1 << 20):.3g} MB" if n >= 1 << 20 else f"{n} bytes"


@dataclass(frozen=True)
class FetchPolicy:
    """Where and how much a fetch may reach (built from ``LABELHOUSE_FETCH_*``)."""

    addresses: AddressPolicy = field(default_factory=AddressPolicy)
    allow_http: bool = False
    max_bytes: int = 50 * 1024 * 1024
    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    total_timeout: float = 60.0
    max_redirects: int = 5

    @classmethod
    def from_settings(cls, settings: Settings) -> FetchPolicy:
        return cls(
            addresses=AddressPolicy(parse_networks(settings.fetch_allow)),
            allow_http=settings.fetch_allow_http,
            max_bytes=settings.fetch_max_bytes,
            connect_timeout=settings.fetch_connect_timeout,
            read_timeout=settings.fetch_read_timeout,
            total_timeout=settings.fetch_total_timeout,
            max_redirects=settings.fetch_max_redirects,
        )

    @property
    def schemes(self) -> tuple[str, ...]:
        return ("https", "http") if self.allow_http else ("https",)


class _CheckedBackend(httpcore.SyncBackend):
    """Resolve once, check every address, connect to a checked address."""

    def __init__(self, policy: AddressPolicy, resolver: Resolver) -> None:
        self.policy = policy
        self.resolver = resolver

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        try:
            answers = self.resolver(host, port)
        except (OSError, UnicodeError):
            raise FetchFailed(host, "its name does not resolve") from None
        addresses: list[IPAddress] = []
        for answer in answers:
            try:  # a scope id (fe80::1%eth0) says nothing about the address class
                addresses.append(ipaddress.ip_address(answer.split("%", 1)[0]))
            except ValueError:
                raise FetchFailed(host, f"it resolved to {answer!r}, not an address") from None
        if not addresses:
            raise FetchFailed(host, "its name does not resolve")
        why = self.policy.first_refusal(addresses)
        if why:
            raise FetchRefused(host, why)
        error: Exception | None = None
        for address in addresses:
            try:
                return super().connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None
        raise error


class _CheckedTransport(httpx.HTTPTransport):
    """httpx's transport with its connection pool built on the checked backend (httpx does
    not take a network backend as an argument; the pool is the documented httpcore one)."""

    def __init__(self, backend: _CheckedBackend, ssl_context: ssl.SSLContext | None) -> None:
        super().__init__(trust_env=False)
        self._pool.close()
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context or httpx.create_ssl_context(trust_env=False),
            max_connections=20,
            max_keepalive_connections=10,
            keepalive_expiry=30.0,
            network_backend=backend,
        )


class Fetched:
    """An answer being read: its type, declared length, and bytes counted against the
    limit and the deadline. Close it (or use it as a context manager)."""

    def __init__(
        self, response: httpx.Response, host: str, limit: int, deadline: float, truncate: bool
    ) -> None:
        self.response = response
        self.host = host
        self.limit = limit
        self.deadline = deadline
        self.truncate = truncate  # a head read: stop quietly at the limit
        self.url = str(response.request.url)
        self.content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        length = response.headers.get("content-length", "")
        self.content_length = int(length) if length.isdigit() else None

    def iter_bytes(self) -> Iterator[bytes]:
        seen = 0
        try:
            for chunk in self.response.iter_raw(65536):
                if time.monotonic() > self.deadline:
                    raise FetchFailed(self.host, "it took longer than the time allowed")
                if seen + len(chunk) > self.limit:
                    if self.truncate:
                        yield chunk[: self.limit - seen]
                        return
                    raise FetchFailed(self.host, f"it is larger than {_megabytes(self.limit)}")
                seen += len(chunk)
                yield chunk
        except httpx.TimeoutException:
            raise FetchFailed(self.host, "it stopped sending within the time allowed") from None
        except httpx.HTTPError as exc:
            raise FetchFailed(self.host, f"the transfer broke off ({type(exc).__name__})") from None
        finally:
            self.close()

    def read(self) -> bytes:
        return b"".join(self.iter_bytes())

    def close(self) -> None:
        self.response.close()

    def __enter__(self) -> Fetched:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SafeFetcher:
    """GET a user's URL under the policy. Thread-safe (one pooled client per fetcher)."""

    def __init__(
        self,
        policy: FetchPolicy | None = None,
        *,
        resolver: Resolver | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        """``resolver`` and ``ssl_context`` (the trusted CAs) are for tests: the defaults
        are the system resolver and the usual certificate store."""
        self.policy = policy or FetchPolicy()
        backend = _CheckedBackend(self.policy.addresses, resolver or system_resolver)
        self._client = httpx.Client(
            transport=_CheckedTransport(backend, ssl_context),
            follow_redirects=False,  # each hop is checked here
            trust_env=False,
            timeout=httpx.Timeout(
                connect=self.policy.connect_timeout,
                read=self.policy.read_timeout,
                write=self.policy.read_timeout,
                pool=self.policy.connect_timeout,
            ),
            headers={"user-agent": USER_AGENT, "accept-encoding": "identity"},
        )

    def check_url(self, url: str | httpx.URL) -> httpx.URL:
        """The URL parsed, if its form may be fetched (scheme, no credentials, a host, a
        literal address that passes); the resolved address is checked at connection."""
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError, ValueError):
            raise FetchRefused(_host_of(url), "the URL is not valid") from None
        host = parsed.host or "(no host)"
        if parsed.scheme not in self.policy.schemes:
            allowed = " or ".join(f"{s}://" for s in self.policy.schemes)
            raise FetchRefused(host, f"only {allowed} URLs may be fetched")
        if not parsed.host:
            raise FetchRefused(host, "the URL names no host")
        if parsed.userinfo:
            raise FetchRefused(host, "URLs with a user name or password are not fetched")
        try:
            literal = ipaddress.ip_address(parsed.host)
        except ValueError:
            return parsed
        why = self.policy.addresses.refusal(literal)
        if why:
            raise FetchRefused(host, why)
        return parsed

    def open(
        self,
        url: str,
        *,
        accept: Collection[str],
        max_bytes: int | None = None,
        head: int | None = None,
    ) -> Fetched:
        """Follow redirects (each checked) to an answer of an accepted type. ``head``: only
        the first bytes are wanted (a Range request; the rest is not read)."""
        deadline = time.monotonic() + self.policy.total_timeout
        limit = min(max_bytes or self.policy.max_bytes, self.policy.max_bytes)
        if head is not None:
            limit = min(limit, head)
        headers = {"range": f"bytes=0-{head - 1}"} if head else {}
        target = self.check_url(url)
        for _hop in range(self.policy.max_redirects + 1):
            response = self._send(target, headers, deadline)
            if not response.is_redirect:
                return self._accept(response, target.host, accept, limit, deadline, bool(head))
            location = response.headers["location"]
            response.close()
            try:
                target = self.check_url(target.join(location))
            except FetchRefused as refused:
                raise FetchRefused(
                    target.host, f"it redirected to {refused.host}, and {refused.reason}"
                ) from None
        raise FetchFailed(target.host, f"it redirected more than {self.policy.max_redirects} times")

    def read(self, url: str, *, accept: Collection[str], max_bytes: int | None = None) -> bytes:
        with self.open(url, accept=accept, max_bytes=max_bytes) as fetched:
            return fetched.read()

    def head(self, url: str, n: int, *, accept: Collection[str]) -> bytes:
        """The first ``n`` bytes (or fewer, for a shorter file): enough for a header."""
        with self.open(url, accept=accept, head=n) as fetched:
            return fetched.read()

    def post(
        self,
        url: str,
        *,
        content: bytes,
        headers: dict[str, str],
        max_bytes: int | None = None,
    ) -> Fetched:
        """POST ``content`` (a model call, ``models_loop``) and return the answer whatever
        its status: the caller decides what a 429 or 5xx means. A redirect is not followed
        (it would carry the body to a place nobody chose); the size limit and deadline hold
        as for a GET, checked while the answer is read."""
        deadline = time.monotonic() + self.policy.total_timeout
        limit = min(max_bytes or self.policy.max_bytes, self.policy.max_bytes)
        target = self.check_url(url)
        response = self._send(target, headers, deadline, method="POST", content=content)
        fetched = Fetched(response, target.host, limit, deadline, False)
        if response.is_redirect:
            fetched.close()
            raise FetchFailed(
                target.host, "it answered with a redirect, which a POST never follows"
            )
        return fetched  # the size limit holds as it is read (``Fetched.iter_bytes``)

    def close(self) -> None:
        self._client.close()

    def _send(
        self,
        target: httpx.URL,
        headers: dict[str, str],
        deadline: float,
        *,
        method: str = "GET",
        content: bytes | None = None,
    ) -> httpx.Response:
        host = target.host
        if time.monotonic() > deadline:
            raise FetchFailed(host, "it took longer than the time allowed")
        try:
            request = self._client.build_request(method, target, headers=headers, content=content)
            return self._client.send(request, stream=True)
        except httpx.TimeoutException:
            raise FetchFailed(host, "it did not answer within the time allowed") from None
        except httpx.HTTPError as exc:
            if "CERTIFICATE_VERIFY_FAILED" in str(exc):
                raise FetchFailed(host, "its TLS certificate could not be verified") from None
            raise FetchFailed(host, f"the connection failed ({type(exc).__name__})") from None

    def _accept(
        self,
        response: httpx.Response,
        host: str,
        accept: Collection[str],
        limit: int,
        deadline: float,
        truncate: bool,
    ) -> Fetched:
        fetched = Fetched(response, host, limit, deadline, truncate)
        try:
            if response.status_code not in ((200, 206) if truncate else (200,)):
                raise FetchFailed(host, f"the server answered {response.status_code}")
            if fetched.content_type not in accept:
                shown = fetched.content_type or "no content type"
                wanted = ", ".join(sorted(accept))
                raise FetchFailed(host, f"it sent {shown}, not one of {wanted}")
            if not truncate and fetched.content_length and fetched.content_length > limit:
                raise FetchFailed(host, f"it is larger than {_megabytes(limit)}")
        except BaseException:
            fetched.close()
            raise
        return fetched


def _host_of(url: object) -> str:
    try:
        return httpx.URL(str(url)).host or "(no host)"
    except Exception:
        return "(an invalid URL)"
