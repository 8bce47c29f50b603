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

from fnflow.api.asgi import AsyncRequest, async_request, header, read_body, respond, respond_problem
from fnflow.api.auth import authorize_raw
from fnflow.api.errors import STATUS
from fnflow.asyncq.service import Submission
from fnflow.errors import FnflowError, InvalidArgument, NotFound
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


async def respond_error(send: Send, error: FnflowError) -> None:
    await respond_problem(send, STATUS.get(error.code, 500), json.dumps(error.to_dict()).encode())


def target(path: str, prefix: str) -> tuple[str, str]:
    """(name, sub-path) of ``/prefix/name/rest``."""
    rest = path[len(prefix) :]
    name, slash, sub = rest.partition("/")
    if not name or not NAME.match(name):
        raise NotFound(f"no {'bin' if prefix == '/bin/' else 'function'} name in the path {path!r}")
    return name, "/" + sub if slash else "/"


def submission(name: str, path: str, request: AsyncRequest) -> Submission:
    """The call of ``request`` to function ``name`` (``target``'s parts of its path)."""
    service, function, qualifier = split_qualified(name)
    return Submission(
        service=service,
        function=function,
        body=request.body,
        method="POST",
        path=path,
        query=request.query,
        headers=request.headers,
        call_id=request.call_id,
        callback_url=request.callback,
        qualifier=None if qualifier == LATEST else qualifier,
    )


async def accept_many(fnflow: Fnflow, requests: list[AsyncRequest]) -> list[CallRecord | FnflowError]:
    """Store authorized calls (one commit for all), each its record or why it was refused: what
    the server does with the calls an accept front passes on (``fnflow.intake``)."""
    submissions: list[Submission | FnflowError] = []
    for request in requests:
        try:
            submissions.append(submission(*target(request.path, "/async-function/"), request))
        except FnflowError as e:
            submissions.append(e)
    calls = [s for s in submissions if isinstance(s, Submission)]
    stored = await fnflow.calls.submit_many(calls, from_front=True)
    outcomes = iter(stored)
    results = [s if isinstance(s, FnflowError) else next(outcomes) for s in submissions]
    for result in results:
        if not isinstance(result, FnflowError):
            fnflow.metrics.call_submitted(result.queue)
    return results


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

    def _forwarded_headers(self, scope: Scope) -> list[tuple[str, str]]:
        """The request's headers as a function sees them: never the caller's fnflow credentials
        (``async_request`` applies the same rule to asynchronous calls, in its one pass)."""
        strip = self.fnflow.settings.auth_enabled
        return [
            (k.decode("latin-1"), v.decode("latin-1"))
            for k, v in scope["headers"]
            if not (strip and k == b"authorization")
        ]

    async def _sync(self, scope: Scope, receive: Receive, send: Send) -> None:
        await authorize_raw(self.fnflow, header(scope, b"authorization"), "invoke")
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
        await authorize_raw(self.fnflow, header(scope, b"authorization"), "invoke")
        method = scope["method"]
        if method == "DELETE":
            await self.fnflow.calls.stop(scope["path"][len("/async-function/") :])
            await respond(send, 202, [])
            return
        if method != "POST":
            raise _MethodNotAllowed(
                "asynchronous calls are made with POST (DELETE /async-function/{call id} cancels)"
            )
        path = scope["path"]
        name, sub = target(path, "/async-function/")  # an unknown name is told before the body is read
        body = await read_body(receive, self.fnflow.calls.max_body)
        start = str(time.time_ns())
        query = scope["query_string"].decode("latin-1")
        keys, new_id = self.fnflow.settings.auth_enabled, self.fnflow.ids.uuid
        request = async_request(path, query, scope["headers"], body, start=start, keys=keys, new_id=new_id)
        record = await self.fnflow.calls.submit(submission(name, sub, request))
        self.fnflow.metrics.call_submitted(record.queue)
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
