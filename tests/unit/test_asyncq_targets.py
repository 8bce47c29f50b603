"""Callback and subscription targets (``fnflow.asyncq.targets``): every spelling of a refused
address is refused, and the connection goes only to an address that passed the check — a name
that resolves elsewhere between check and connection (DNS rebinding) or a redirect to a refused
address gets nowhere. Only loopback is ever connected to: names are resolved by a fake resolver."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from fnflow.asyncq.targets import (
    REFUSED,
    Address,
    InvalidArgument,
    RefusedTarget,
    TargetPolicy,
    check_target,
    guarded_client,
    parse_target,
)

POLICY = TargetPolicy()


@pytest.mark.parametrize(
    "address",
    [
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack metadata
        "100.100.100.200",  # Alibaba Cloud metadata
        "fd00:ec2::254",  # AWS metadata over IPv6
        "169.254.1.1",  # link-local
        "fe80::1",  # IPv6 link-local
        "::ffff:169.254.169.254",  # IPv4-mapped
        "::ffff:a9fe:a9fe",  # the same, in hex
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
        "::ffff:10.0.0.1",  # IPv4-mapped private
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "100.64.0.1",  # carrier-grade NAT
        "fc00::1",  # unique local
        "0.0.0.0",
        "::",
        "224.0.0.1",  # multicast
        "ff02::1",
        "240.0.0.1",  # reserved
    ],
)
def test_refused_addresses(address: str) -> None:
    assert POLICY.check_address(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1", "8.8.8.8"])
def test_allowed_addresses(address: str) -> None:
    assert POLICY.check_address(ipaddress.ip_address(address)) is None


def test_allowing_private_ranges_never_allows_metadata() -> None:
    open_private = TargetPolicy(allow_private=True)
    assert open_private.check_address(ipaddress.ip_address("::ffff:10.1.2.3")) is None
    for metadata in ("169.254.169.254", "fd00:ec2::254", "64:ff9b::a9fe:a9fe", "100.100.100.200"):
        assert open_private.check_address(ipaddress.ip_address(metadata)) is not None


@pytest.mark.parametrize(
    "url",
    [
        "http://2852039166/",  # 169.254.169.254 as one decimal number
        "http://0251.0376.0251.0376/",  # octal
        "http://0xa9.0xfe.0xa9.0xfe/",  # hex
        "http://0xa9fea9fe/",
        "http://169.254.43518/",  # a.b.c with a 16-bit last part
        "http://[::ffff:169.254.169.254]/",
        "http://[::ffff:a9fe:a9fe]:8080/",
        "http://[fe80::1%25eth0]/",  # with a zone
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://METADATA/",
        "http://10.0.0.1:80/",
    ],
)
def test_every_spelling_of_a_refused_address_is_refused(url: str) -> None:
    with pytest.raises(InvalidArgument):
        asyncio.run(check_target(url, POLICY))


@pytest.mark.parametrize(
    ("url", "port"),
    [
        ("http://127.0.0.1/", 80),
        ("https://127.0.0.1/", 443),
        ("http://127.0.0.1:65535/x", 65535),
        ("http://user:pw@127.0.0.1:81/", 81),
    ],
)
def test_ports(url: str, port: int) -> None:
    assert parse_target(url)[1] == port


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:0/", "http://127.0.0.1:65536/", "http://127.0.0.1:-1/", "http://127.0.0.1:x/"]
)
def test_bad_ports_are_refused(url: str) -> None:
    with pytest.raises(InvalidArgument):
        parse_target(url)


def test_the_host_is_the_one_connected_to_not_a_lookalike() -> None:
    """Userinfo and fragments cannot smuggle a second host past the check."""
    assert parse_target("http://169.254.169.254:80@127.0.0.1/")[0] == "127.0.0.1"
    assert parse_target("http://127.0.0.1#@169.254.169.254/")[0] == "127.0.0.1"
    with pytest.raises(InvalidArgument):
        asyncio.run(check_target("http://127.0.0.1:80@169.254.169.254/", POLICY))


def resolver(answers: dict[str, list[list[str]]]) -> Callable[[str, int], Awaitable[list[Address]]]:
    """A resolver giving each name its answers in turn (the last one again once they run out)."""
    asked: dict[str, int] = {}

    async def resolve(host: str, port: int) -> list[Address]:
        try:
            return [ipaddress.ip_address(host)]
        except ValueError:
            pass
        turn = asked.get(host, 0)
        asked[host] = turn + 1
        given = answers[host]
        return [ipaddress.ip_address(a) for a in given[min(turn, len(given) - 1)]]

    return resolve


@pytest.mark.parametrize(
    "answer",
    [["127.0.0.1", "169.254.169.254"], ["fe80::1"], ["::ffff:169.254.169.254"], ["10.0.0.1"]],
)
def test_a_name_resolving_to_any_refused_address_is_refused(answer: list[str]) -> None:
    resolve = resolver({"evil.test": [answer]})
    with pytest.raises(RefusedTarget):
        asyncio.run(check_target("http://evil.test/", POLICY, resolve))


class Receiver:
    """An HTTP server on loopback that answers each request with ``response`` and keeps what it got."""

    def __init__(self, response: bytes = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok") -> None:
        self.response = response
        self.requests: list[bytes] = []
        self.port = 0

    async def __aenter__(self) -> Receiver:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_: Any) -> None:
        self.server.close()
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.requests.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(self.response)
        await writer.drain()
        writer.close()


def test_the_connection_goes_to_the_address_that_was_checked() -> None:
    async def scenario() -> tuple[int, list[bytes]]:
        async with Receiver() as receiver:
            resolve = resolver({"hooks.test": [["127.0.0.1"]]})
            url = f"http://hooks.test:{receiver.port}/cb"
            await check_target(url, POLICY, resolve)
            async with guarded_client(POLICY, timeout=5, resolver=resolve) as client:
                response = await client.post(url, content=b"{}")
            return response.status_code, receiver.requests

    status, requests = asyncio.run(scenario())
    assert status == 200
    assert b"host: hooks.test:" in requests[0].lower()  # the name is kept for Host (and TLS)


def test_a_name_rebound_after_the_check_is_refused_at_connection() -> None:
    """Checked when the callback is accepted (a loopback answer), resolved again at delivery to
    the metadata address: the connection is never made."""

    async def scenario() -> str:
        resolve = resolver({"rebind.test": [["127.0.0.1"], ["169.254.169.254"]]})
        await check_target("http://rebind.test/cb", POLICY, resolve)  # passes
        async with guarded_client(POLICY, timeout=5, resolver=resolve) as client:
            with pytest.raises(httpx.ConnectError) as refused:
                await client.post("http://rebind.test/cb", content=b"{}")
        return str(refused.value)

    message = asyncio.run(scenario())
    assert message.startswith(REFUSED) and "169.254.169.254" in message


def test_a_redirect_to_a_refused_address_is_not_followed_and_cannot_be() -> None:
    async def scenario() -> tuple[int, str]:
        redirect = (
            b"HTTP/1.1 302 Found\r\nLocation: http://169.254.169.254/latest/\r\nContent-Length: 0\r\n\r\n"
        )
        async with Receiver(redirect) as receiver:
            url = f"http://127.0.0.1:{receiver.port}/cb"
            async with guarded_client(POLICY, timeout=5) as client:
                response = await client.post(url, content=b"{}")
                with pytest.raises(httpx.ConnectError) as refused:  # even if someone followed it
                    await client.get(response.headers["location"])
            return response.status_code, str(refused.value)

    status, message = asyncio.run(scenario())
    assert status == 302  # given back as a failed delivery, not followed
    assert message.startswith(REFUSED)


@pytest.mark.parametrize(
    "url",
    ["http://2852039166/", "http://0251.0376.0251.0376/", "http://[::ffff:a9fe:a9fe]/", "http://[fe80::1]/"],
)
def test_the_client_refuses_every_spelling_at_connection(url: str) -> None:
    """Refused at connection, or not even taken for a URL (httpx reads no octal)."""

    async def scenario() -> str:
        async with guarded_client(POLICY, timeout=5) as client:
            with pytest.raises((httpx.ConnectError, httpx.InvalidURL)) as refused:
                await client.post(url, content=b"{}")
        return str(refused.value)

    message = asyncio.run(scenario())
    assert message.startswith(REFUSED) or "Invalid IPv4 address" in message
