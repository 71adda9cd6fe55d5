"""The address guard's decisions, without a network."""

from __future__ import annotations

import asyncio

import pytest

from brief.feeds.netguard import AddressPolicy, AddressRefused, StaticResolver, UnknownHost


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "a loopback address"),
        ("127.8.9.10", "a loopback address"),
        ("::1", "a loopback address"),
        ("10.1.2.3", "a private address"),
        ("172.16.0.1", "a private address"),
        ("192.168.1.1", "a private address"),
        ("fd00::1", "a private address"),
        ("169.254.169.254", "a link-local address"),
        ("fe80::1%eth0", "a link-local address"),
        ("224.0.0.251", "a multicast address"),
        ("ff02::1", "a multicast address"),
        ("0.0.0.0", "an unspecified address"),
        ("::", "an unspecified address"),
        ("240.0.0.1", "a reserved address"),
        ("100.64.0.1", "a shared (carrier-grade NAT) address"),
        ("::ffff:127.0.0.1", "a loopback address"),  # IPv4-mapped
        ("2002:7f00:1::", "a loopback address"),  # 6to4 around 127.0.0.1
        ("198.18.0.5", "a reserved (benchmarking) address"),
        ("8.8.8.8", None),
        ("2001:4860:4860::8888", None),
        ("not-an-ip", "not an IP address"),
    ],
)
def test_default_policy(address: str, reason: str | None) -> None:
    assert AddressPolicy().refusal(address) == reason


def test_allow_private_and_allow_list() -> None:
    assert AddressPolicy(allow_private=True).refusal("127.0.0.1") is None
    policy = AddressPolicy(allow=("127.0.0.1/32", "10.20.0.0/16"))
    assert policy.refusal("127.0.0.1") is None
    assert policy.refusal("10.20.3.4") is None
    assert policy.refusal("127.0.0.2") == "a loopback address"
    assert policy.refusal("10.21.0.1") == "a private address"


def test_refusal_messages() -> None:
    with pytest.raises(AddressRefused) as info:
        AddressPolicy().check("127.0.0.1", "127.0.0.1")
    assert info.value.message == "refused: 127.0.0.1 is a loopback address"
    with pytest.raises(AddressRefused) as info:
        AddressPolicy().check("intranet.example", "10.0.0.8")
    assert info.value.message == (
        "refused: intranet.example resolves to 10.0.0.8, which is a private address"
    )


def test_static_resolver() -> None:
    resolver = StaticResolver({"a.test": ["10.0.0.1"], "*.bench.test": ["127.0.0.1"]})
    assert asyncio.run(resolver.resolve("A.test.", 80)) == ["10.0.0.1"]
    assert asyncio.run(resolver.resolve("feed-7.bench.test", 80)) == ["127.0.0.1"]
    with pytest.raises(UnknownHost):
        asyncio.run(resolver.resolve("other.test", 80))
