"""MNS's queue and topic API at the root of the port (``/queues/…``, ``/topics/…``), served as plain
ASGI in front of the rest.

``aliyun-mns`` ignores proxies and puts any path of its endpoint into its ``Host`` header, so an
``Account`` whose endpoint is fnflow's URL sends its requests here. They are told apart from other
requests by MNS's ``x-mns-version`` header (fnflow's own routes are under ``/api/v1``; a topic's
pushes carry the header too, but never to these paths). Everything else goes on to ``app``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request as StarletteRequest
from starlette.types import ASGIApp, Receive, Scope, Send

from fnflow.api.asgi import read_body
from fnflow.compat.alibaba.mns import answer, routes
from fnflow.compat.alibaba.mns.errors import MnsError
from fnflow.errors import PayloadTooLarge
from fnflow.queues.notify import MNS_VERSION

if TYPE_CHECKING:
    from fnflow.app import Fnflow

_VERSION_HEADER = b"x-mns-version"


class MnsApi:
    def __init__(self, app: ASGIApp, fnflow: Fnflow) -> None:
        self.app = app
        self.fnflow = fnflow

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not routes.is_mns_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if _VERSION_HEADER.decode() not in headers:
            await self.app(scope, receive, send)
            return
        host = headers.get("host", "")
        try:
            body = await read_body(receive, self.fnflow.settings.max_request_bytes)
        except PayloadTooLarge as e:
            response = answer.failure(host, MnsError(400, "InvalidArgument", e.message))
        else:
            query = scope["query_string"].decode("latin-1")
            raw_path = scope.get("raw_path") or scope["path"].encode()
            request = answer.Request(
                method=scope["method"],
                path=scope["path"],
                resource=raw_path.decode("latin-1") + (f"?{query}" if query else ""),
                query=query,
                headers=headers,
                body=body,
                base=self.fnflow.settings.public_url or f"http://{host}",
                gone=StarletteRequest(scope, receive).is_disconnected,
            )
            response = await answer.answer(self.fnflow, request)
        out = [
            (b"x-mns-request-id", response.request_id.encode()),
            (_VERSION_HEADER, MNS_VERSION.encode()),
        ]
        if response.location is not None:
            out.append((b"location", response.location.encode()))
        if response.body:
            out.append((b"content-type", b"text/xml;charset=utf-8"))
        if response.status != 204:  # which has no body, and says no length
            out.append((b"content-length", str(len(response.body)).encode()))
        await send({"type": "http.response.start", "status": response.status, "headers": out})
        await send({"type": "http.response.body", "body": response.body})
