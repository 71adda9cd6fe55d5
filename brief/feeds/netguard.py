"""Where a fetch may connect: no loopback, private, link-local, multicast or reserved address.

A feed URL is user input, and so is every redirect it answers with. Checking the URL's
host name is not enough (a public name can resolve to 127.0.0.1, and a second lookup
can answer differently from the first: DNS rebinding), so the check sits where the
socket is opened:

- ``GuardedBackend`` is an httpcore network backend. For each new connection it
  resolves the host itself (through a ``Resolver`` that tests and benchmarks can
  replace), drops every answer the ``AddressPolicy`` refuses, connects to an allowed
  *address* (never the name again) and checks the connected peer once more.
- Redirect hops open connections through the same backend, so each hop is checked.
- ``guarded_transport`` builds an httpx transport on that backend, with environment
  proxies off (a proxy would make the connection on our behalf, unchecked).

A refusal raises ``AddressRefused``, which httpx lets through unchanged; the fetch
turns it into a per-feed error such as "refused: 127.0.0.1 is a loopback address".
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Networks is_global does not catch on every Python version, and names for the message.
_EXTRA_REFUSED: tuple[tuple[IPNetwork, str], ...] = (
    (ipaddress.ip_network("100.64.0.0/10"), "a shared (carrier-grade NAT) address"),
    (ipaddress.ip_network("192.0.0.0/24"), "a reserved address"),
    (ipaddress.ip_network("198.18.0.0/15"), "a reserved (benchmarking) address"),
    (ipaddress.ip_network("64:ff9b:1::/48"), "a reserved (local NAT64) address"),
)


class AddressRefused(Exception):
    """A connection to ``address`` (resolved from ``host``) is not allowed."""

    def __init__(self, host: str, address: str, reason: str) -> None:
        message = f"refused: {address} is {reason}"
        if host and host != address:
            message = f"refused: {host} resolves to {address}, which is {reason}"
        super().__init__(message)
        self.host = host
        self.address = address
        self.reason = reason
        self.message = message


class UnknownHost(Exception):
    """DNS gave no address for the host."""

    def __init__(self, host: str) -> None:
        super().__init__(f"unknown host name {host}")
        self.host = host


def classify(address: IPAddress) -> str | None:
    """Why ``address`` is not a public one (e.g. "a loopback address"), or None if it is."""
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped or address.sixtofour
        if mapped is not None:
            return classify(mapped)
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_reserved:
        return "a reserved address"
    for network, reason in _EXTRA_REFUSED:
        if address.version == network.version and address in network:
            return reason
    if address.is_private:
        return "a private address"
    if not address.is_global:
        return "not a public address"
    return None


@dataclass(frozen=True)
class AddressPolicy:
    """Which addresses a fetch may connect to.

    ``allow_private`` lets everything through (tests, intranets); ``allow`` lists
    networks let through even though they are not public (e.g. one test server).
    """

    allow_private: bool = False
    allow: tuple[str, ...] = ()
    _networks: tuple[IPNetwork, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        networks = tuple(ipaddress.ip_network(n, strict=False) for n in self.allow)
        object.__setattr__(self, "_networks", networks)

    def refusal(self, address: str) -> str | None:
        """The reason ``address`` is refused, or None when it may be used."""
        if self.allow_private:
            return None
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
        except ValueError:
            return "not an IP address"
        if any(ip.version == n.version and ip in n for n in self._networks):
            return None
        return classify(ip)

    def check(self, host: str, address: str) -> None:
        reason = self.refusal(address)
        if reason is not None:
            raise AddressRefused(host, address, reason)


class Resolver(Protocol):
    """Host name -> IP addresses (strings), as DNS answers them."""

    async def resolve(self, host: str, port: int) -> list[str]: ...


class SystemResolver:
    """The operating system's resolver (getaddrinfo, in a thread)."""

    async def resolve(self, host: str, port: int) -> list[str]:
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise UnknownHost(host) from exc
        return _unique(str(info[4][0]) for info in infos)


@dataclass(frozen=True)
class StaticResolver:
    """Fixed answers for some names (tests, benchmarks); others go to ``fallback``.

    A name matches a key exactly, or a key ``*.suffix`` covers every name under suffix.
    """

    answers: Mapping[str, Sequence[str]]
    fallback: bool = False

    async def resolve(self, host: str, port: int) -> list[str]:
        name = host.lower().rstrip(".")
        found = self.answers.get(name)
        if found is None:
            for key, value in self.answers.items():
                if key.startswith("*.") and name.endswith(key[1:]):
                    found = value
                    break
        if found is not None:
            return list(found)
        if self.fallback:
            return await SystemResolver().resolve(host, port)
        raise UnknownHost(host)


def _root_cause(exc: BaseException) -> str:
    """The innermost OS error's text: anyio says only "All connection attempts failed"."""
    seen: BaseException | None = exc
    message = str(exc)
    while seen is not None:
        if isinstance(seen, ConnectionRefusedError):
            return "connection refused"
        if isinstance(seen, OSError) and seen.strerror:
            message = seen.strerror
        seen = seen.__cause__ or seen.__context__
    return message


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return False
    return True


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's AnyIO backend, resolving and checking every address before connecting."""

    def __init__(self, policy: AddressPolicy, resolver: Resolver | None = None) -> None:
        self.policy = policy
        self.resolver: Resolver = resolver or SystemResolver()
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self._addresses(host, port, timeout)
        last: Exception | None = None
        for address in addresses:
            try:
                stream = await self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except httpcore.ConnectTimeout as exc:
                last = exc  # try the next address, as a browser would
                continue
            except httpcore.ConnectError as exc:
                last = httpcore.ConnectError(_root_cause(exc))
                continue
            peer = stream.get_extra_info("server_addr")
            if peer is not None:
                try:
                    self.policy.check(host, str(peer[0]))
                except AddressRefused:
                    await stream.aclose()
                    raise
            return stream
        assert last is not None
        raise last

    async def _addresses(self, host: str, port: int, timeout: float | None) -> list[str]:
        if _is_ip(host):
            literal = host.strip("[]")
            self.policy.check(host, literal)
            return [literal]
        try:
            async with asyncio.timeout(timeout):
                answers = await self.resolver.resolve(host, port)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"DNS lookup of {host} timed out") from exc
        if not answers:
            raise UnknownHost(host)
        allowed = [a for a in answers if self.policy.refusal(a) is None]
        if not allowed:
            self.policy.check(host, answers[0])  # raises, naming the first answer
        return allowed

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise AddressRefused(path, path, "a unix socket")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def guarded_transport(
    policy: AddressPolicy,
    resolver: Resolver | None = None,
    *,
    limits: httpx.Limits,
) -> httpx.AsyncHTTPTransport:
    """An httpx transport whose every connection goes through ``GuardedBackend``."""
    transport = httpx.AsyncHTTPTransport(limits=limits, trust_env=False)
    # httpx 0.28 has no public network_backend option (encode/httpx#3749 adds one), so the
    # transport's connection pool is replaced by an identical one on our backend.
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=httpx.create_ssl_context(trust_env=False),
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=GuardedBackend(policy, resolver),
    )
    return transport
