"""The client against a server that closes a connection without answering, as a server does to a
kept-alive connection it times out while a request goes out on it."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from fnflow.client.errors import ConnectionError
from fnflow.client.http import Transport

ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


def whole_request(conn: socket.socket) -> bytes:
    """The request, body included (closed with bytes unread, a socket resets the connection:
    the client would see a reset, not a server that hung up)."""
    request = b""
    while b"\r\n\r\n" not in request:
        if not (chunk := conn.recv(65536)):
            return request
        request += chunk
    head, _, body = request.partition(b"\r\n\r\n")
    length = next(
        (
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        ),
        0,
    )
    while len(body) < length and (chunk := conn.recv(65536)):
        body += chunk
    return request


@pytest.fixture
def hangs_up_once() -> Iterator[tuple[str, list[bytes]]]:
    """A server that reads the first request and closes the connection unanswered, then answers
    every later one with 200 and ``{}``; yields its URL and the request lines it read."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    seen: list[bytes] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                request = whole_request(conn)
                if not request:
                    continue
                seen.append(request.split(b"\r\n", 1)[0])
                if len(seen) > 1:
                    conn.sendall(ANSWER)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}", seen
    stop.set()
    thread.join(5)
    listener.close()


def test_a_request_that_may_be_repeated_goes_once_more(hangs_up_once: tuple[str, list[bytes]]) -> None:
    url, seen = hangs_up_once
    with Transport(url) as transport:
        assert transport._json("GET", "/api/v1/calls") == {}
    assert seen == [b"GET /api/v1/calls HTTP/1.1"] * 2


def test_a_request_that_may_not_be_repeated_is_not(hangs_up_once: tuple[str, list[bytes]]) -> None:
    url, seen = hangs_up_once
    with Transport(url) as transport, pytest.raises(ConnectionError, match="disconnected"):
        transport._json("POST", "/async-function/noop", content=b"x")
    assert seen == [b"POST /async-function/noop HTTP/1.1"]
