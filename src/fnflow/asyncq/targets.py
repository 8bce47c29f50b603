"""Where fnflow may send callbacks: no cloud metadata, no link-local, private ranges only if allowed.

Loopback (and so fnflow's own gateway, ``http://127.0.0.1:8080/function/x``) is allowed by
default. An IPv6 address that carries an IPv4 one (IPv4-mapped, NAT64, 6to4, Teredo) is judged
by that too; any spelling of an IPv4 address (decimal ``2852039166``, octal ``0251.0376.0251.0376``,
hex) is read by the resolver and judged as the address it is.

Two checks: ``check_target`` when a callback or subscription is accepted (so a refused one is
refused at once, with a message), and ``guarded_client``'s, on the address actually connected
to: a name is resolved once, every address it resolves to must pass, and the connection goes to
the address that passed — so a name that points elsewhere between the check and the connection
(DNS rebinding), or a redirect to a refused address, gets nowhere. Callbacks go direct, never
through ``HTTP_PROXY`` (a proxy would connect where we cannot check).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import typing
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpcore
import httpx

from fnflow.errors import InvalidArgument

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolve = Callable[[str, int], Awaitable[list[Address]]]

METADATA_HOSTS = {"metadata", "metadata.google.internal", "metadata.azure.com", "instance-data"}
# Cloud metadata services: AWS, GCP, Azure, OpenStack (169.254.169.254), Alibaba Cloud (100.100.100.200),
# AWS over IPv6 (fd00:ec2::254).
METADATA = tuple(
    ipaddress.ip_network(n) for n in ("169.254.0.0/16", "100.100.100.200/32", "fd00:ec2::254/128")
)
PRIVATE = tuple(
    ipaddress.ip_network(n)
    for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
)
NAT64 = ipaddress.ip_network("64:ff9b::/96")
REFUSED = "refused: "  # how a refusal at connection starts its message


class RefusedTarget(InvalidArgument):
    """The callback target is not allowed."""


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for, if it stands for one."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    return None


@dataclass(frozen=True)
class TargetPolicy:
    allow_private: bool = False
    allowed_networks: tuple[Network, ...] = ()  # allowed even if private

    def check_address(self, address: Address) -> str | None:
        """Why ``address`` is refused, or None."""
        if isinstance(address, ipaddress.IPv6Address):
            inner = embedded_ipv4(address)
            if inner is not None:
                why = self.check_address(inner)
                return None if why is None else f"{address} stands for {inner}: {why}"
        if any(address in n for n in self.allowed_networks) or address.is_loopback:
            return None
        if any(address in n for n in METADATA) or address.is_link_local:
            return f"{address} is link-local or a cloud metadata address"
        if address.is_unspecified or address.is_multicast or address.is_reserved:
            return f"{address} is not a unicast address"
        if any(address in n for n in PRIVATE) or address.is_private:
            return (
                None
                if self.allow_private
                else f"{address} is in a private range (allow it in the server settings)"
            )
        return None


def parse_target(url: str) -> tuple[str, int]:
    """(host, port) of an http(s) URL; InvalidArgument if it is not one."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise InvalidArgument(f"callback URL {url!r} is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidArgument(f"callback URL {url!r} must be an absolute http:// or https:// URL")
    if port == 0:
        raise InvalidArgument(f"callback URL {url!r} names port 0")
    return parts.hostname, port if port is not None else (443 if parts.scheme == "https" else 80)


async def resolve(host: str, port: int) -> list[Address]:
    """Every address ``host`` resolves to (the system resolver: it reads any IPv4 spelling)."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as e:
        raise InvalidArgument(f"host {host!r} cannot be resolved: {e}") from None
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


def _refusal(host: str, addresses: list[Address], policy: TargetPolicy) -> str | None:
    if host.lower().rstrip(".") in METADATA_HOSTS:
        return f"{host} is a cloud metadata service"
    for address in addresses:
        reason = policy.check_address(address)
        if reason is not None:
            return reason
    return None


async def check_target(url: str, policy: TargetPolicy, resolver: Resolve = resolve) -> None:
    """Refuse ``url`` if it, or any address its host resolves to, is not allowed."""
    host, port = parse_target(url)
    if host.lower().rstrip(".") in METADATA_HOSTS:
        raise RefusedTarget(f"callback URL {url!r} points at a cloud metadata service")
    try:
        addresses = await resolver(host, port)
    except InvalidArgument as e:
        raise InvalidArgument(f"callback {e.message}") from None
    reason = _refusal(host, addresses, policy)
    if reason is not None:
        raise RefusedTarget(f"callback URL {url!r} is refused: {reason}")


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Connects only to addresses the policy allows: resolves the name itself, checks every address,
    and connects to one that passed (TLS still checks the certificate against the name)."""

    def __init__(self, policy: TargetPolicy, resolver: Resolve) -> None:
        self._policy = policy
        self._resolve = resolver
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await self._resolve(host, port)
        except InvalidArgument as e:
            raise httpcore.ConnectError(e.message) from None
        reason = _refusal(host, addresses, self._policy)
        if reason is not None:
            raise httpcore.ConnectError(f"{REFUSED}{reason}")
        error: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as e:
                error = e
        raise error or httpcore.ConnectError(f"{host} resolves to no address")

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError(f"{REFUSED}callbacks do not go to unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _GuardedTransport(httpx.AsyncHTTPTransport):
    def __init__(self, policy: TargetPolicy, resolver: Resolve) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(  # httpx's own pool, with the guarded backend
            ssl_context=httpx.create_ssl_context(trust_env=False),
            network_backend=_GuardedBackend(policy, resolver),
        )


def guarded_client(policy: TargetPolicy, *, timeout: float, resolver: Resolve = resolve) -> httpx.AsyncClient:
    """An HTTP client that connects only where ``policy`` allows (redirects not followed)."""
    return httpx.AsyncClient(
        transport=_GuardedTransport(policy, resolver),
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,
    )
