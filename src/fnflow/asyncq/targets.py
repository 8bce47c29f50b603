"""Where fnflow may send callbacks: no cloud metadata, no link-local, private ranges only if allowed.

Loopback (and so fnflow's own gateway, ``http://127.0.0.1:8080/function/x``) is allowed by
default. A host name is resolved and every address it resolves to must pass, at submission
and again at delivery, so a name that later points at a metadata service is still refused.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from fnflow.errors import InvalidArgument

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

METADATA_HOSTS = {"metadata", "metadata.google.internal", "metadata.azure.com", "instance-data"}
# Cloud metadata services: AWS, GCP, Azure, OpenStack (169.254.169.254), Alibaba Cloud (100.100.100.200).
METADATA = (ipaddress.ip_network("169.254.0.0/16"), ipaddress.ip_network("100.100.100.200/32"))
PRIVATE = tuple(
    ipaddress.ip_network(n)
    for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
)


class RefusedTarget(InvalidArgument):
    """The callback target is not allowed."""


@dataclass(frozen=True)
class TargetPolicy:
    allow_private: bool = False
    allowed_networks: tuple[Network, ...] = ()  # allowed even if private

    def check_address(self, address: Address) -> str | None:
        """Why ``address`` is refused, or None."""
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
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
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


async def check_target(url: str, policy: TargetPolicy) -> None:
    """Refuse ``url`` if it, or any address its host resolves to, is not allowed."""
    host, port = parse_target(url)
    if host.lower().rstrip(".") in METADATA_HOSTS:
        raise RefusedTarget(f"callback URL {url!r} points at a cloud metadata service")
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as e:
            raise InvalidArgument(f"callback host {host!r} cannot be resolved: {e}") from None
        addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    for address in addresses:
        reason = policy.check_address(address)
        if reason is not None:
            raise RefusedTarget(f"callback URL {url!r} is refused: {reason}")
