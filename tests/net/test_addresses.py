"""Which addresses a server-side fetch may reach (pure: no network)."""

from __future__ import annotations

import ipaddress

import pytest

from labelhouse.net.addresses import AddressPolicy, parse_networks

REFUSED = {
    "127.0.0.1": "loopback",
    "127.8.9.10": "loopback",
    "::1": "loopback",
    "10.1.2.3": "private",
    "172.16.0.1": "private",
    "192.168.1.1": "private",
    "fd12:3456::1": "private",
    "169.254.1.1": "link-local",
    "fe80::1": "link-local",
    "169.254.169.254": "metadata",
    "fd00:ec2::254": "metadata",
    "224.0.0.1": "multicast",
    "ff02::1": "multicast",
    "0.0.0.0": "unspecified",
    "::": "unspecified",
    "240.0.0.1": "reserved",
    "100.64.0.1": "not a public address",  # shared address space (CGNAT)
    "192.0.2.10": "",  # documentation range: private in Python's tables
    "::ffff:127.0.0.1": "embeds the IPv4 address 127.0.0.1",
    "::ffff:169.254.169.254": "metadata",
    "64:ff9b::a00:1": "embeds the IPv4 address 10.0.0.1",  # NAT64
    "2002:7f00:1::": "embeds the IPv4 address 127.0.0.1",  # 6to4
}


@pytest.mark.parametrize(("address", "reason"), REFUSED.items())
def test_non_public_addresses_are_refused_with_their_reason(address, reason):
    why = AddressPolicy().refusal(ipaddress.ip_address(address))
    assert why is not None
    assert reason in why


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700::6810:84e5"])
def test_public_addresses_pass(address):
    assert AddressPolicy().refusal(ipaddress.ip_address(address)) is None


def test_the_allow_list_lets_the_administrators_networks_through():
    policy = AddressPolicy(parse_networks("127.0.0.1/32, 10.20.0.0/16,fd12::/64"))
    assert policy.refusal(ipaddress.ip_address("127.0.0.1")) is None
    assert policy.refusal(ipaddress.ip_address("10.20.5.6")) is None
    assert policy.refusal(ipaddress.ip_address("fd12::9")) is None
    assert policy.refusal(ipaddress.ip_address("::ffff:127.0.0.1")) is None  # judged by its IPv4
    assert "private" in policy.refusal(ipaddress.ip_address("10.21.0.1"))
    assert "loopback" in policy.refusal(ipaddress.ip_address("127.0.0.2"))


def test_every_address_of_a_name_must_pass():
    policy = AddressPolicy()
    mixed = [ipaddress.ip_address(a) for a in ("93.184.216.34", "10.0.0.5")]
    assert "private" in policy.first_refusal(mixed)
    assert policy.first_refusal(mixed[:1]) is None


def test_settings_refuse_an_allow_list_that_is_not_networks():
    from pydantic import ValidationError

    from labelhouse.config import Settings

    assert Settings(fetch_allow="127.0.0.1/32,10.0.0.0/8").fetch_allow
    with pytest.raises(ValidationError, match="not an address or network"):
        Settings(fetch_allow="127.0.0.1/32,localhost")
