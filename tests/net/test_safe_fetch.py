"""The SSRF-safe client against a real server on loopback: addresses checked where the
connection is made and on every redirect, DNS tricks, and the size/time/type limits.

Names are resolved by a resolver given to the client (the process edge), never by
patching our code."""

from __future__ import annotations

import ipaddress

import pytest

from labelhouse.errors import FetchFailed, FetchRefused
from labelhouse.net.addresses import AddressPolicy, parse_networks
from labelhouse.net.safe_fetch import IMAGE_TYPES, FetchPolicy, SafeFetcher
from tests.media_server import PNG, chunked, redirect, send, silent


def fetcher(allow: str = "", resolver=None, **limits) -> SafeFetcher:
    policy = FetchPolicy(addresses=AddressPolicy(parse_networks(allow)), allow_http=True, **limits)
    return SafeFetcher(policy, resolver=resolver)


class Names:
    """A resolver answering from a table, counting questions (the test's DNS)."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.asked: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        if host in self.table:
            return self.table[host]
        try:
            return [str(ipaddress.ip_address(host))]
        except ValueError:
            raise OSError(f"unknown name {host}") from None


def test_an_allow_listed_server_is_fetched(server):
    body = fetcher("127.0.0.1/32").read(server.url("/img.png"), accept=IMAGE_TYPES)
    assert body == PNG


def test_loopback_is_refused_without_the_allow_list(server):
    with pytest.raises(FetchRefused) as refused:
        fetcher().read(server.url("/img.png"), accept=IMAGE_TYPES)
    assert str(refused.value) == (
        "Refused to fetch media from 127.0.0.1: 127.0.0.1 is a loopback address."
    )


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://2130706433/img.png", "127.0.0.1 is a loopback address"),  # decimal
        ("http://0x7f.1/img.png", "127.0.0.1 is a loopback address"),  # hex + short form
        ("http://017700000001/img.png", "127.0.0.1 is a loopback address"),  # octal
        ("http://[::ffff:127.0.0.1]/img.png", "embeds the IPv4 address 127.0.0.1"),
        ("http://[::1]/img.png", "loopback"),
        ("http://0/img.png", "unspecified"),
        ("http://169.254.169.254/latest/meta-data/", "cloud metadata address"),
        ("http://[fd00:ec2::254]/latest/meta-data/", "cloud metadata address"),
        ("http://localhost/img.png", "loopback"),
    ],
)
def test_other_spellings_of_internal_addresses_are_refused(url, reason):
    """The system resolver reads 2130706433, 0x7f.1 and 017700000001 as 127.0.0.1: the
    check is on the address connected to, so every spelling meets the same rule."""
    with pytest.raises(FetchRefused, match=reason):
        fetcher().read(url, accept=IMAGE_TYPES)


def test_a_name_resolving_to_loopback_is_refused_and_named():
    names = Names({"images.example": ["127.0.0.1"]})
    with pytest.raises(FetchRefused) as refused:
        fetcher(resolver=names).read("http://images.example/img.png", accept=IMAGE_TYPES)
    assert refused.value.host == "images.example"
    assert "loopback" in refused.value.reason


def test_a_name_resolving_to_a_public_and_a_private_address_is_refused(server):
    names = Names({"mixed.example": ["93.184.216.34", "10.0.0.5"]})
    with pytest.raises(FetchRefused, match=r"10\.0\.0\.5 is a private address"):
        fetcher(resolver=names).read("http://mixed.example/img.png", accept=IMAGE_TYPES)


def test_the_checked_address_is_connected_to_with_the_host_name_kept(server):
    """Resolved once; the connection goes to that answer (the name has no other: the
    system resolver does not know it), and the Host header is still the URL's."""
    names = Names({"rebind.example": ["127.0.0.1"]})
    url = f"http://rebind.example:{server.port}/img.png"
    assert fetcher("127.0.0.1/32", resolver=names).read(url, accept=IMAGE_TYPES) == PNG
    assert names.asked == ["rebind.example"]
    assert server.hosts_seen[-1] == f"rebind.example:{server.port}"


def test_dns_rebinding_cannot_swap_the_address_between_check_and_connection(server):
    """A resolver whose first answer is allowed and whose later ones point elsewhere: the
    client asks once per connection and connects to what it checked."""
    answers = iter([["127.0.0.1"], ["169.254.169.254"], ["169.254.169.254"]])
    calls: list[str] = []

    def rebinding(host: str, port: int) -> list[str]:
        calls.append(host)
        return next(answers)

    url = f"http://rebind.example:{server.port}/img.png"
    assert fetcher("127.0.0.1/32", resolver=rebinding).read(url, accept=IMAGE_TYPES) == PNG
    assert calls == ["rebind.example"]


def test_a_redirect_to_loopback_from_an_allowed_host_is_refused(server, front):
    front.routes["/to-loopback"] = redirect(server.url("/img.png"))
    before = len(server.hosts_seen)
    with pytest.raises(FetchRefused) as refused:
        fetcher("127.0.0.2/32").read(front.url("/to-loopback"), accept=IMAGE_TYPES)
    assert refused.value.host == "127.0.0.2"
    assert "redirected to 127.0.0.1" in refused.value.reason
    assert "loopback" in refused.value.reason
    assert len(server.hosts_seen) == before  # the loopback server was never asked
    assert front.hosts_seen[-1] == f"127.0.0.2:{front.port}"


def test_a_redirect_to_the_metadata_address_is_refused(front):
    front.routes["/to-metadata"] = redirect("http://169.254.169.254/latest/meta-data/")
    with pytest.raises(FetchRefused, match="cloud metadata address"):
        fetcher("127.0.0.2/32").read(front.url("/to-metadata"), accept=IMAGE_TYPES)


def test_a_redirect_to_a_name_that_resolves_inside_is_refused_at_its_connection(front):
    front.routes["/to-name"] = redirect("http://internal.example/secret")
    names = Names({"internal.example": ["192.168.0.10"]})
    with pytest.raises(FetchRefused, match=r"192\.168\.0\.10 is a private address"):
        fetcher("127.0.0.2/32", resolver=names).read(front.url("/to-name"), accept=IMAGE_TYPES)


def test_allowed_redirects_are_followed_up_to_the_limit(server):
    server.routes["/hop1"] = redirect("/hop2")
    server.routes["/hop2"] = redirect("/img.png")
    assert fetcher("127.0.0.1/32").read(server.url("/hop1"), accept=IMAGE_TYPES) == PNG
    with pytest.raises(FetchFailed, match="redirected more than 1 times"):
        fetcher("127.0.0.1/32", max_redirects=1).read(server.url("/hop1"), accept=IMAGE_TYPES)


def test_https_only_unless_the_administrator_allows_http(server):
    strict = SafeFetcher(FetchPolicy(addresses=AddressPolicy(parse_networks("127.0.0.1/32"))))
    with pytest.raises(FetchRefused, match=r"only https:// URLs may be fetched"):
        strict.read(server.url("/img.png"), accept=IMAGE_TYPES)
    for url in ("ftp://example.org/x.png", "file:///etc/passwd", "gopher://x/"):
        with pytest.raises(FetchRefused, match="only https://"):
            strict.read(url, accept=IMAGE_TYPES)
    with pytest.raises(FetchRefused, match="user name or password"):
        strict.read("https://user:secret@example.org/x.png", accept=IMAGE_TYPES)


def test_a_declared_size_over_the_limit_is_refused_before_reading(server):
    server.routes["/big"] = lambda h: send(h, 200, b"\0" * 5000, content_type="image/png")
    with pytest.raises(FetchFailed, match="larger than 4096 bytes"):
        fetcher("127.0.0.1/32", max_bytes=4096).read(server.url("/big"), accept=IMAGE_TYPES)


def test_an_undeclared_size_stops_at_the_limit(server):
    server.routes["/endless"] = chunked(10 << 20)
    with pytest.raises(FetchFailed, match=r"larger than 65536 bytes"):
        fetcher("127.0.0.1/32", max_bytes=65536).read(server.url("/endless"), accept=IMAGE_TYPES)


def test_head_reads_only_the_first_bytes(server):
    server.routes["/endless-head"] = chunked(10 << 20)
    got = fetcher("127.0.0.1/32").head(server.url("/endless-head"), 1000, accept=IMAGE_TYPES)
    assert len(got) == 1000
    assert fetcher("127.0.0.1/32").head(server.url("/img.png"), 20, accept=IMAGE_TYPES) == PNG[:20]


def test_a_server_that_does_not_answer_times_out(server):
    server.routes["/silent"] = silent(3)
    with pytest.raises(FetchFailed, match="did not answer within the time allowed"):
        fetcher("127.0.0.1/32", read_timeout=0.3).read(server.url("/silent"), accept=IMAGE_TYPES)


def test_a_slow_drip_is_stopped_by_the_total_deadline(server):
    server.routes["/drip"] = chunked(1 << 20, pause=0.1)
    with pytest.raises(FetchFailed, match="took longer than the time allowed"):
        fetcher("127.0.0.1/32", total_timeout=0.5).read(server.url("/drip"), accept=IMAGE_TYPES)


def test_only_the_accepted_content_types_pass(server):
    server.routes["/page"] = lambda h: send(h, 200, b"<html>", content_type="text/html")
    server.routes["/untyped"] = lambda h: send(h, 200, PNG)
    with pytest.raises(FetchFailed) as failed:
        fetcher("127.0.0.1/32").read(server.url("/page"), accept=IMAGE_TYPES)
    assert str(failed.value).startswith("Could not fetch media from 127.0.0.1: it sent text/html")
    with pytest.raises(FetchFailed, match="it sent no content type"):
        fetcher("127.0.0.1/32").read(server.url("/untyped"), accept=IMAGE_TYPES)


def test_error_statuses_and_unknown_names_are_one_sentence(server):
    with pytest.raises(FetchFailed, match="the server answered 404"):
        fetcher("127.0.0.1/32").read(server.url("/missing"), accept=IMAGE_TYPES)
    with pytest.raises(FetchFailed) as failed:
        fetcher(resolver=Names({})).read("https://nowhere.example/x.png", accept=IMAGE_TYPES)
    assert (
        str(failed.value)
        == "Could not fetch media from nowhere.example: its name does not resolve."
    )


def test_proxies_from_the_environment_are_not_used(server, monkeypatch):
    """A proxy would connect for us to an address we never checked."""
    monkeypatch.setenv("HTTP_PROXY", "http://10.9.9.9:3128")
    monkeypatch.setenv("ALL_PROXY", "http://10.9.9.9:3128")
    assert fetcher("127.0.0.1/32").read(server.url("/img.png"), accept=IMAGE_TYPES) == PNG
