"""FnF's RPC API at ``/`` and for FnF's endpoint names, served as plain ASGI in front of the rest.

A request is FnF's when it names an FnF endpoint (``cn-hangzhou.fnf.aliyuncs.com`` and the like),
as a request to a proxy (``HTTP_PROXY=http://<fnflow>``) or in its ``Host``; or when it comes to
``/`` with an ``Action`` (an SDK whose endpoint is fnflow's address). A request to a proxy for
fnflow itself, or for Function Compute's hosts (its HTTP triggers' URLs), is an ordinary request;
for any other host it is refused, as is a tunnel (CONNECT): fnflow forwards nothing. Everything
else goes on to ``app``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from starlette.types import ASGIApp, Receive, Scope, Send

from fnflow.api import proxied
from fnflow.api.asgi import read_body, respond
from fnflow.compat.alibaba import rpc
from fnflow.compat.alibaba.errors import RpcError
from fnflow.compat.alibaba.fc import is_fc_host
from fnflow.compat.alibaba.hosts import is_fnf_host
from fnflow.errors import PayloadTooLarge

if TYPE_CHECKING:
    from fnflow.app import Fnflow

_JSON = (b"content-type", b"application/json;charset=utf-8")


class FnfRpc:
    def __init__(self, app: ASGIApp, fnflow: Fnflow) -> None:
        self.app = app
        self.fnflow = fnflow

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        target = proxied.authority(scope)
        if target is not None and proxied.names_server(target, scope, self.fnflow.settings.endpoint):
            scope, target = proxied.as_origin(scope), None  # a request for fnflow itself
        host = target or headers.get(b"host", b"").decode("latin-1")
        if is_fnf_host(host):
            await self._answer(scope, receive, send, host, headers)
        elif is_fc_host(host):
            await self.app(proxied.as_origin(scope), receive, send)
        elif target is not None or scope["method"] == "CONNECT":
            body = {
                "code": "Forbidden",
                "message": f"fnflow is not a proxy: it does not answer for {target or host}",
            }
            await respond(send, 403, [(b"content-type", b"application/json")], json.dumps(body).encode())
        elif scope["path"] == "/" and (b"Action=" in scope["query_string"] or b"x-acs-action" in headers):
            await self._answer(scope, receive, send, host, headers)
        else:
            await self.app(scope, receive, send)

    async def _answer(
        self, scope: Scope, receive: Receive, send: Send, host: str, headers: dict[bytes, bytes]
    ) -> None:
        path = proxied.origin_path(scope)
        if path != "/" or scope["method"] not in ("GET", "POST"):
            what = f"{scope['method']} {path}"
            error = RpcError(404, "NotFound", f"FnF's API is GET or POST / with an Action, not {what}")
            response = rpc.failure(host, error)
        else:
            try:
                payload = await read_body(receive, self.fnflow.settings.max_request_bytes)
            except PayloadTooLarge as e:
                response = rpc.failure(host, RpcError(400, "EntityTooLarge", e.message))
            else:
                request = rpc.Request(
                    method=scope["method"],
                    query=scope["query_string"].decode("latin-1"),
                    body=payload,
                    content_type=headers.get(b"content-type", b"").decode("latin-1"),
                    host=host,
                )
                response = await rpc.answer(self.fnflow, request)
        extra = (b"x-acs-request-id", response.request_id.encode())
        await respond(send, response.status, [_JSON, extra], response.body)
