"""The http runtime through FunctionPool, against a real upstream on a loopback port."""

from __future__ import annotations

import asyncio
import gzip
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from fnflow.functions import _responses
from fnflow.functions.pool import FunctionPool
from fnflow.functions.spec import HttpRequest, InvocationResult
from fnflow.testing import free_port
from tests.unit.functions_harness import async_test, ctx, running_pool, spec


class Upstream(BaseHTTPRequestHandler):
    """Answers by path: /echo (the request as JSON), /status/N, /gzip, /redirect, /slow, /busy."""

    protocol_version = "HTTP/1.1"
    active = 0
    peak = 0
    lock = threading.Condition()
    slow_answered = 0

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _answer(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path, _, query = self.path.partition("?")
        if path.startswith("/base/echo"):
            doc = {
                "method": self.command,
                "path": path,
                "query": query,
                "headers": [[k, v] for k, v in self.headers.items()],
                "body": body.decode(),
            }
            self._send(200, json.dumps(doc).encode(), [("Content-Type", "application/json")])
        elif path.startswith("/base/status/"):
            status = int(path.rsplit("/", 1)[1])
            self._send(status, b"upstream says no", [("Retry-After", "7"), ("Connection", "close")])
        elif path == "/base/gzip":
            self._send(200, gzip.compress(b"zipped" * 100), [("Content-Encoding", "gzip")])
        elif path == "/base/redirect":
            self._send(302, b"", [("Location", "/elsewhere")])
        elif path == "/base/slow":
            time.sleep(2)
            Upstream.slow_answered += 1
            self._send(200, b"late", [])
        elif path == "/base/busy":
            with Upstream.lock:  # wait (a while) for a second caller: two at once if the limit lets them
                Upstream.active += 1
                Upstream.peak = max(Upstream.peak, Upstream.active)
                Upstream.lock.notify_all()
                Upstream.lock.wait_for(lambda: Upstream.active >= 2, timeout=5)
            time.sleep(0.05)
            with Upstream.lock:
                Upstream.active -= 1
            self._send(200, b"done", [])
        else:
            self._send(404, b"", [])

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _answer

    def _send(self, status: int, body: bytes, headers: list[tuple[str, str]]) -> None:
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/base"
    server.shutdown()
    server.server_close()


def proxy(upstream: str, **overrides: Any) -> Any:
    return spec("", None, runtime="http", upstream=upstream, **overrides)


def header(result: InvocationResult, name: str) -> str | None:
    return next((v for k, v in result.headers if k.lower() == name.lower()), None)


async def invoke(pool: FunctionPool, function: Any, request: HttpRequest | bytes) -> InvocationResult:
    return await pool.invoke(function, request, ctx())


def test_proxied_requests_keep_method_path_query_headers_and_body(upstream: str) -> None:
    request = HttpRequest(
        "PUT",
        "/echo/items/7",
        "a=1&b=2",
        (
            ("Host", "gateway.example:8080"),
            ("X-Call-Id", "call-1"),
            ("Connection", "keep-alive, X-Hop"),
            ("X-Hop", "dropped because Connection names it"),
            ("Keep-Alive", "timeout=5"),
            ("Proxy-Authorization", "Basic xyz"),
            ("Content-Type", "text/plain"),
        ),
        b"payload",
        remote_addr="10.1.2.3",
    )

    async def run() -> InvocationResult:
        async with running_pool() as pool:
            return await invoke(pool, proxy(upstream + "?fixed=yes"), request)

    result = asyncio.run(run())
    assert (result.ok, result.status) == (True, 200)
    seen = json.loads(result.body)
    headers = {k.lower(): v for k, v in seen["headers"]}
    assert (seen["method"], seen["path"], seen["query"], seen["body"]) == (
        "PUT",
        "/base/echo/items/7",
        "fixed=yes&a=1&b=2",
        "payload",
    )
    assert headers["x-call-id"] == "call-1"
    assert headers["x-forwarded-host"] == "gateway.example:8080"
    assert headers["x-forwarded-for"] == "10.1.2.3"
    assert headers["host"] == upstream.split("/")[2]
    assert headers["content-length"] == "7"
    for gone in ("x-hop", "keep-alive", "proxy-authorization", "connection"):
        assert gone not in headers, gone
    assert "user-agent" not in headers  # nothing added on the caller's behalf


@async_test
async def test_upstream_statuses_and_headers_come_back_verbatim_and_name_the_error(upstream: str) -> None:
    async with running_pool() as pool:
        results = {n: await invoke(pool, proxy(f"{upstream}/status/{n}"), b"") for n in (418, 429, 503, 500)}
        zipped = await invoke(pool, proxy(f"{upstream}/gzip"), HttpRequest("GET"))
        redirect = await invoke(pool, proxy(f"{upstream}/redirect"), HttpRequest("GET"))
    teapot = results[418]
    assert (teapot.ok, teapot.status, teapot.body, teapot.error_message) == (
        False,
        418,
        b"upstream says no",
        "upstream says no",
    )
    assert header(teapot, "Retry-After") == "7"
    assert header(teapot, "Connection") is None and header(teapot, "Content-Length") is None
    assert {n: r.error_type for n, r in results.items()} == {
        418: "FC.InvalidArgument",
        429: "FC.ResourceExhausted",
        503: "FC.ResourceThrottled",
        500: "FC.InternalServerError",
    }
    assert (zipped.status, gzip.decompress(zipped.body)) == (200, b"zipped" * 100)
    assert header(zipped, "Content-Encoding") == "gzip"
    assert (redirect.status, header(redirect, "Location"), redirect.error_type) == (
        302,
        "/elsewhere",
        "FC.Unknown",
    )


@async_test
async def test_an_unreachable_upstream_is_502_and_a_slow_one_504(upstream: str) -> None:
    async with running_pool() as pool:
        refused = await invoke(pool, proxy(f"http://127.0.0.1:{free_port()}/"), b"")
        answered = Upstream.slow_answered
        slow = await invoke(pool, proxy(f"{upstream}/slow", timeout=0.5), b"")
        cut_short = Upstream.slow_answered == answered  # the upstream had not answered yet
    assert (refused.ok, refused.status, refused.body, refused.error_type) == (False, 502, b"", "FC.Unknown")
    assert refused.error_message is not None and "Cannot reach the upstream" in refused.error_message
    assert (slow.status, slow.body, slow.error_message) == (504, b"", "Function time out after 0.5 seconds")
    assert cut_short


@async_test
async def test_paths_that_climb_out_of_the_upstream_are_refused(upstream: str) -> None:
    async with running_pool() as pool:
        for path in ("/../secret", "/a/%2e%2e/b", "/./x"):
            result = await invoke(pool, proxy(f"{upstream}/echo"), HttpRequest(path=path))
            assert (result.status, result.error_type) == (400, "FC.InvalidArgument"), path


@async_test
async def test_proxied_calls_honour_max_instances(upstream: str) -> None:
    Upstream.peak = 0
    function = proxy(f"{upstream}/busy", max_instances=2)
    async with running_pool() as pool:
        results = await asyncio.gather(*(invoke(pool, function, b"") for _ in range(6)))
    assert [r.body for r in results] == [b"done"] * 6
    assert Upstream.peak == 2


def test_the_status_error_table() -> None:
    expected = {
        200: "FC.Unknown",  # never asked for a 2xx; listed so the table is complete
        302: "FC.Unknown",
        400: "FC.InvalidArgument",
        404: "FC.InvalidArgument",
        408: "FC.Unknown",
        429: "FC.ResourceExhausted",
        500: "FC.InternalServerError",
        502: "FC.Unknown",
        503: "FC.ResourceThrottled",
        504: "FC.Unknown",
        507: "FC.InternalServerError",
    }
    assert {status: _responses.status_error(status) for status in expected} == expected
