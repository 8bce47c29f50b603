"""OpenFaaS's invoke routes, served as plain ASGI in front of the FastAPI app.

``/function/{name}[/{path}]`` (any method, synchronous), ``/async-function/{name}[/{path}]``
(POST: 202 with ``X-Call-Id`` once the call is stored; DELETE ``/async-function/{call id}``
cancels) and ``/bin/{name}`` (the request bin). These are the hot paths, so they skip the
framework: no routing tables, no validation models, one dictionary of headers. ``name`` is
``function`` or ``function.service`` (OpenFaaS's ``name.namespace``), or
``function.service.qualifier`` to call a service version or alias (``hello.openfaas-fn.prod``
in the default service); the answer's ``X-Fc-Invocation-Service-Version`` says which version ran.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from starlette.types import ASGIApp, Receive, Scope, Send

from fnflow.api.auth import ALLOWED, parse_authorization
from fnflow.api.errors import STATUS
from fnflow.asyncq.service import Submission
from fnflow.errors import FnflowError, Forbidden, InvalidArgument, NotFound, PayloadTooLarge
from fnflow.functions.naming import metric_name, split_qualified
from fnflow.functions.spec import HttpRequest
from fnflow.functions.versions import LATEST, VERSION_HEADER

if TYPE_CHECKING:
    from fnflow.app import Fnflow
    from fnflow.store import CallRecord

NAME = re.compile(r"^[-a-zA-Z_0-9.]+$")
#: The first segment of each path served here, and the method of ``Gateway`` that answers it.
ROUTES = {"function": "_sync", "async-function": "_async", "bin": "_bin"}
HOP_BY_HOP = {
    b"connection",
    b"keep-alive",
    b"proxy-authenticate",
    b"proxy-authorization",
    b"te",
    b"trailer",
    b"transfer-encoding",
    b"upgrade",
    b"content-length",
}


async def read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the request body is larger than {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def respond(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes = b"") -> None:
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def respond_error(send: Send, error: FnflowError) -> None:
    status = STATUS.get(error.code, 500)
    headers = [(b"content-type", b"application/json")]
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="fnflow"'))
    await respond(send, status, headers, json.dumps(error.to_dict()).encode())


Headers = list[tuple[bytes, bytes]]  # as ASGI has them


async def authorize(fnflow: Fnflow, headers: Headers) -> None:
    """The request's key may invoke functions (nothing to check without keys)."""
    if not fnflow.settings.auth_enabled:
        return
    raw = dict(headers).get(b"authorization")
    key_id, secret = parse_authorization(raw.decode("latin-1") if raw else None)
    key = await fnflow.keys.authenticate(key_id, secret)
    if "invoke" not in ALLOWED.get(key.scope, set()):
        raise Forbidden(f"a key with scope {key.scope!r} may not invoke functions")


def forwarded_headers(fnflow: Fnflow, headers: Headers) -> list[tuple[str, str]]:
    """The request's headers as a function sees them: never the caller's fnflow credentials."""
    strip = fnflow.settings.auth_enabled
    return [
        (k.decode("latin-1"), v.decode("latin-1"))
        for k, v in headers
        if not (strip and k == b"authorization")
    ]


def target(path: str, prefix: str) -> tuple[str, str]:
    """(name, sub-path) of ``/prefix/name/rest``."""
    rest = path[len(prefix) :]
    name, slash, sub = rest.partition("/")
    if not name or not NAME.match(name):
        raise NotFound(f"no {'bin' if prefix == '/bin/' else 'function'} name in the path {path!r}")
    return name, "/" + sub if slash else "/"


async def accept_async(
    fnflow: Fnflow, name: str, sub: str, query: str, headers: Headers, body: bytes, start: str
) -> CallRecord:
    """Store one authorized ``POST /async-function/{name}{sub}`` call, accepted at ``start`` (ns
    since the epoch): what the gateway does with the request once it has its body, and what the
    owner of accept fronts does with each call they pass on (``fnflow.intake``)."""
    service, function, qualifier = split_qualified(name)
    call_id: str | None = None
    callback: str | None = None
    forwarded: list[list[str]] = []
    for key, value in forwarded_headers(fnflow, headers):
        low = key.lower()
        if low == "x-call-id":
            call_id = value
        elif low == "x-callback-url":
            callback = value
        forwarded.append([key, value])
    call_id = call_id or fnflow.ids.uuid()
    if not any(h[0].lower() == "x-call-id" for h in forwarded):
        forwarded.append(["X-Call-Id", call_id])
    forwarded.append(["X-Start-Time", start])
    submission = Submission(
        service=service,
        function=function,
        body=body,
        method="POST",
        path=sub,
        query=query,
        headers=json.dumps(forwarded),
        call_id=call_id,
        callback_url=callback,
        qualifier=None if qualifier == LATEST else qualifier,
    )
    record = await fnflow.calls.submit(submission)
    fnflow.metrics.calls_submitted.labels(record.queue or "default").inc()
    return record


class Gateway:
    def __init__(self, app: ASGIApp, fnflow: Fnflow) -> None:
        self.app = app
        self.fnflow = fnflow
        self._handlers: dict[str, Callable[[Scope, Receive, Send], Awaitable[None]]] = {
            route: getattr(self, method) for route, method in ROUTES.items()
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        route = path.split("/", 2)[1] if path.count("/") >= 1 else ""
        handler = self._handlers.get(route)
        if handler is None:
            await self.app(scope, receive, send)
            return
        try:
            await handler(scope, receive, send)
        except FnflowError as e:
            await respond_error(send, e)

    async def _authorize(self, scope: Scope) -> None:
        await authorize(self.fnflow, scope["headers"])

    def _forwarded_headers(self, scope: Scope) -> list[tuple[str, str]]:
        return forwarded_headers(self.fnflow, scope["headers"])

    async def _sync(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._authorize(scope)
        name, sub = target(scope["path"], "/function/")
        service, function, qualifier = split_qualified(name)
        body = await read_body(receive, self.fnflow.settings.max_sync_bytes)
        headers = self._forwarded_headers(scope)
        lowered = {k.lower() for k, _ in headers}
        extra: list[tuple[bytes, bytes]] = []
        call_id = next((v for k, v in headers if k.lower() == "x-call-id"), None)
        if call_id is None:
            call_id = self.fnflow.ids.uuid()
            headers.append(("X-Call-Id", call_id))
            extra.append((b"x-call-id", call_id.encode()))
        start = str(time.time_ns())
        if "x-start-time" not in lowered:
            headers.append(("X-Start-Time", start))
        extra.append((b"x-start-time", start.encode()))
        request = HttpRequest(
            method=scope["method"],
            path=sub,
            query=scope["query_string"].decode("latin-1"),
            headers=tuple(headers),
            body=body,
            remote_addr=(scope.get("client") or ("", 0))[0],
        )
        label = metric_name(service, function)
        metrics = self.fnflow.metrics
        began = time.perf_counter()
        functions = self.fnflow.functions
        version = await functions.qualifiers.resolve(service, qualifier)
        await functions.lookup(service, function, version)  # 404 before counting an invocation
        metrics.invocation_started(label)
        result = await functions.invoke(
            service, function, request, request_id=call_id, qualifier=qualifier, version=version
        )
        metrics.invocation_finished(label, result.status, time.perf_counter() - began)
        response = [
            (k.encode("latin-1"), v.encode("latin-1"))
            for k, v in result.headers
            if k.lower().encode() not in HOP_BY_HOP
        ]
        extra.append((VERSION_HEADER.lower().encode(), result.version.encode()))
        if not any(k.lower() == b"x-duration-seconds" for k, _ in response):
            extra.append((b"x-duration-seconds", f"{result.duration:.6f}".encode()))
        await respond(send, result.status, response + extra, result.body)

    async def _async(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._authorize(scope)
        method = scope["method"]
        if method == "DELETE":
            await self.fnflow.calls.stop(scope["path"][len("/async-function/") :])
            await respond(send, 202, [])
            return
        if method != "POST":
            raise _MethodNotAllowed(
                "asynchronous calls are made with POST (DELETE /async-function/{call id} cancels)"
            )
        name, sub = target(scope["path"], "/async-function/")
        body = await read_body(receive, self.fnflow.calls.max_body)
        start = str(time.time_ns())
        query = scope["query_string"].decode("latin-1")
        record = await accept_async(self.fnflow, name, sub, query, scope["headers"], body, start)
        await respond(send, 202, [(b"x-call-id", record.id.encode()), (b"x-start-time", start.encode())])

    async def _bin(self, scope: Scope, receive: Receive, send: Send) -> None:
        name, sub = target(scope["path"], "/bin/")
        body = await read_body(receive, self.fnflow.settings.max_request_bytes)
        headers = [[k, v] for k, v in self._forwarded_headers(scope)]  # never a caller's key
        await self.fnflow.bins.record(
            name, scope["method"], sub, scope["query_string"].decode("latin-1"), headers, body
        )
        await respond(send, 200, [(b"content-type", b"application/json")], b'{"ok":true}')


class _MethodNotAllowed(InvalidArgument):
    """The route does not take this method."""

    code = "MethodNotAllowed"
