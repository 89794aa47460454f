"""Which IP addresses a server-side fetch may connect to.

Refused unless the administrator allow-lists them (``LABELHOUSE_FETCH_ALLOW``): loopback,
private (RFC 1918, ULA), shared (CGNAT), link-local, multicast, reserved, unspecified and
documentation ranges, cloud metadata addresses, and any IPv6 form that embeds an IPv4
address (IPv4-mapped ``::ffff:a.b.c.d``, NAT64 ``64:ff9b::/96``, 6to4), judged by the IPv4
address inside. The rule is "publicly routable or explicitly allowed", not a list of bad
ranges, so a range nobody thought of is refused by default.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Metadata services answer on these inside clouds (AWS, GCP, Azure, OpenStack; AWS's IPv6).
METADATA = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def parse_networks(text: str) -> tuple[IPNetwork, ...]:
    """``LABELHOUSE_FETCH_ALLOW``: comma-separated CIDRs (a bare address is a /32 or /128)."""
    return tuple(
        ipaddress.ip_network(item, strict=False)
        for item in (part.strip() for part in text.split(","))
        if item
    )


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, NAT64, 6to4), if any."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    return None


@dataclass(frozen=True)
class AddressPolicy:
    """Public addresses, plus whatever the administrator allow-listed."""

    allow: tuple[IPNetwork, ...] = ()

    def allowed(self, address: IPAddress) -> bool:
        return any(address in net for net in self.allow if net.version == address.version)

    def refusal(self, address: IPAddress) -> str | None:
        """Why ``address`` may not be reached (a phrase), or None when it may."""
        if self.allowed(address):
            return None
        inner = embedded_ipv4(address)
        if inner is not None:
            if self.allowed(inner):
                return None
            why = self._category(inner)
            return f"{address} embeds the IPv4 address {inner}" + (f", {why}" if why else "")
        why = self._category(address)
        return f"{address} is {why}" if why else None

    @staticmethod
    def _category(address: IPAddress) -> str | None:
        if address in METADATA:
            return "a cloud metadata address"
        checks = (
            ("is_unspecified", "an unspecified address"),
            ("is_loopback", "a loopback address"),
            ("is_link_local", "a link-local address"),
            ("is_multicast", "a multicast address"),
            ("is_reserved", "a reserved address"),
            ("is_private", "a private address"),
        )
        for attribute, phrase in checks:
            if getattr(address, attribute):
                return phrase
        if not address.is_global:  # shared (100.64/10), documentation, benchmarking…
            return "not a public address"
        return None

    def first_refusal(self, addresses: Iterable[IPAddress]) -> str | None:
        """Every address must pass: a name that resolves to one public and one private
        address is refused, since the connection could go to either."""
        for address in addresses:
            why = self.refusal(address)
            if why:
                return why
        return None
