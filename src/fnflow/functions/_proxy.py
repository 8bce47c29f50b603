"""The http runtime: a call is proxied to the function's upstream URL, as OpenFaaS' gateway forwards it.

Method, sub-path (appended to the upstream's path), query, headers (minus hop-by-hop ones, plus
``X-Forwarded-Host``/``X-Forwarded-For`` if absent) and body go upstream; the answer comes back
verbatim, bytes as sent (a gzip body stays gzip). A transport error is 502 with an empty body,
as OpenFaaS answers, and an answer that takes longer than the function's timeout 504. Redirects
are not followed. One ``httpx.AsyncClient`` serves every function, so connections are reused.
"""

from __future__ import annotations

import asyncio
import time
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx

from fnflow.functions import _responses
from fnflow.functions.spec import FunctionSpec, HttpRequest, InvocationResult

BAD_GATEWAY = 502
GATEWAY_TIMEOUT = 504


class HttpProxy:
    def __init__(self) -> None:
        self._client: httpx.AsyncClient | None = None

    async def forward(self, spec: FunctionSpec, request: HttpRequest, deadline: float) -> InvocationResult:
        """One call to the upstream; whatever happens comes back as a result."""
        loop = asyncio.get_running_loop()
        started_at, t0 = time.time(), loop.time()
        try:
            url = target(spec.upstream, request)
        except ValueError as exc:
            body = f"{exc}\n".encode()
            return _responses.response(
                400, (("Content-Type", _responses.TEXT),), body, started_at=started_at, duration=0.0
            )
        upstream = httpx.Request(request.method, url, headers=outgoing(request), content=request.body)
        try:
            async with asyncio.timeout_at(deadline):
                response = await self._http().send(upstream, stream=True)
                try:
                    body = await _read(response)
                finally:
                    await response.aclose()
        except TimeoutError:
            message = f"Function time out after {spec.timeout:g} seconds"
            return self._failure(spec, message, GATEWAY_TIMEOUT, started_at, loop.time() - t0)
        except (httpx.HTTPError, _TooLarge) as exc:
            message = f"Cannot reach the upstream of {spec.service}/{spec.name}: {exc or type(exc).__name__}"
            return self._failure(spec, message, BAD_GATEWAY, started_at, loop.time() - t0)
        headers = tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers.raw)
        return _responses.response(
            response.status_code,
            _responses.forwardable(headers),
            body,
            started_at=started_at,
            duration=loop.time() - t0,
        )

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=None,  # each call is bounded by its function's timeout instead
                limits=httpx.Limits(max_connections=None, max_keepalive_connections=64),
                follow_redirects=False,
                trust_env=False,  # the operator's shell proxy settings are not the functions'
            )
        return self._client

    @staticmethod
    def _failure(
        spec: FunctionSpec, message: str, status: int, started_at: float, duration: float
    ) -> InvocationResult:
        return _responses.failure(
            spec.runtime,
            "FC.Unknown",
            message,
            status=status,
            started_at=started_at,
            duration=duration,
            body=b"",
        )


class _TooLarge(Exception):
    def __str__(self) -> str:
        return f"the response is larger than {_responses.MAX_BODY_BYTES} bytes"


async def _read(response: httpx.Response) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_raw():
        size += len(chunk)
        if size > _responses.MAX_BODY_BYTES:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def target(upstream: str, request: HttpRequest) -> str:
    """The upstream URL for a request: its sub-path after the upstream's path, both queries.

    ValueError for a sub-path with ``.`` or ``..`` segments, which would leave the upstream's path.
    """
    if any(unquote(segment) in (".", "..") for segment in request.path.split("/")):
        raise ValueError(f"the path {request.path!r} has . or .. segments")
    parts = urlsplit(upstream)
    path = parts.path.rstrip("/") + request.path if request.path not in ("", "/") else parts.path or "/"
    query = "&".join(q for q in (parts.query, request.query) if q)
    return urlunsplit((parts.scheme, parts.netloc, path, query, ""))


def outgoing(request: HttpRequest) -> list[tuple[str, str]]:
    """The headers sent upstream: the caller's minus hop-by-hop ones and Host, plus X-Forwarded-*."""
    headers = [(k, v) for k, v in _responses.forwardable(request.headers) if k.lower() != "host"]
    present = {k.lower() for k, _ in headers}
    host = request.header("Host")
    if host and "x-forwarded-host" not in present:
        headers.append(("X-Forwarded-Host", host))
    if request.remote_addr and "x-forwarded-for" not in present:
        headers.append(("X-Forwarded-For", request.remote_addr))
    return headers
