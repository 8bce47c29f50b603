"""Function Compute's HTTP triggers: ``/2016-08-15/proxy/{service}[.LATEST]/{function}/{path}``.

Served as plain ASGI in front of the rest, on the server's port and for FC's hosts asked as a
proxy (``fnflow.api.rpc`` hands those here). The function must have an HTTP trigger; a method
it does not list is 405; a FUNCTION trigger needs a key (``invoke``) when the server requires
keys, an ANONYMOUS one never does. The request goes to the function as it came (the path after
the function's, the query, the headers, the body), and its answer comes back as it was given.
"""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING

from starlette.types import ASGIApp, Receive, Scope, Send

from fnflow.api.asgi import header, read_body, respond
from fnflow.api.auth import parse_authorization
from fnflow.api.gateway import HOP_BY_HOP, respond_error
from fnflow.compat.alibaba.fc import PROXY_PREFIX, proxy_path
from fnflow.errors import FnflowError, Forbidden, InvalidArgument, NotFound
from fnflow.functions.naming import metric_name
from fnflow.functions.spec import HttpRequest
from fnflow.services.keys import ALLOWED

if TYPE_CHECKING:
    from fnflow.app import Fnflow


class _MethodNotAllowed(InvalidArgument):
    code = "MethodNotAllowed"


class HttpTriggers:
    def __init__(self, app: ASGIApp, fnflow: Fnflow) -> None:
        self.app = app
        self.fnflow = fnflow

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PROXY_PREFIX):
            await self.app(scope, receive, send)
            return
        try:
            await self._call(scope, receive, send)
        except FnflowError as e:
            await respond_error(send, e)

    async def _authorize(self, scope: Scope) -> None:
        raw = header(scope, b"authorization")
        key_id, secret = parse_authorization(raw.decode("latin-1") if raw else None)
        key = await self.fnflow.keys.authenticate(key_id, secret)
        if "invoke" not in ALLOWED.get(key.scope, set()):
            raise Forbidden(f"a key with scope {key.scope!r} may not invoke functions")

    async def _call(self, scope: Scope, receive: Receive, send: Send) -> None:
        fnflow = self.fnflow
        target = proxy_path(scope["path"])
        if target is None:
            raise NotFound(f"{scope['path']} names no function: use {PROXY_PREFIX}{{service}}/{{function}}/")
        service, function = target.service, target.function
        if target.qualifier not in (None, "LATEST"):
            raise NotFound(f"service qualifier {target.qualifier!r}: versions and aliases are not supported")
        trigger = await fnflow.triggers.http(service, function)
        if trigger is None:
            await fnflow.functions.lookup(service, function)  # NotFound first if there is no function
            raise NotFound(f"function {service}/{function} has no HTTP trigger")
        if scope["method"] not in trigger.methods:
            raise _MethodNotAllowed(
                f"the HTTP trigger of {service}/{function} answers {', '.join(trigger.methods)},"
                f" not {scope['method']}"
            )
        strip = trigger.auth_type == "FUNCTION" and fnflow.settings.auth_enabled
        if strip:
            await self._authorize(scope)
        body = await read_body(receive, fnflow.settings.max_sync_bytes)
        query = scope["query_string"].decode("latin-1")
        raw_path = scope.get("raw_path") or scope["path"].encode()
        request_uri = raw_path.decode("latin-1") + (f"?{query}" if query else "")
        request_id = str(uuid.uuid4())
        request = HttpRequest(
            method=scope["method"],
            path=target.path,
            query=query,
            headers=tuple(
                (k.decode("latin-1"), v.decode("latin-1"))
                for k, v in scope["headers"]
                if not (strip and k == b"authorization")
            ),
            body=body,
            remote_addr=(scope.get("client") or ("", 0))[0],
        )
        label = metric_name(service, function)
        began = time.perf_counter()
        fnflow.metrics.invocation_started(label)
        result = await fnflow.functions.invoke(
            service, function, request, request_id=request_id, http=True, request_uri=request_uri
        )
        fnflow.metrics.invocation_finished(label, result.status, time.perf_counter() - began)
        headers = [
            (k.encode("latin-1"), v.encode("latin-1"))
            for k, v in result.headers
            if k.lower().encode() not in HOP_BY_HOP
        ]
        headers.append((b"x-fc-request-id", request_id.encode()))
        await respond(send, result.status, headers, result.body)
