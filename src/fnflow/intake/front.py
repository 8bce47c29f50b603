"""An accept front: ``python -m fnflow.intake.front --fd N --owner PATH --max-body BYTES``.

Serves ``POST /async-function/{name}[/{path}]`` on the listening socket ``N`` (the accept port,
shared with the other fronts) as a plain ASGI app under uvicorn: it reads the request, and the
calls of one event-loop turn go to the server at ``PATH`` in one frame; each request is answered
as the server answers its call — 202 with ``X-Call-Id`` once the call is committed, or the
gateway's error. Anything else on this port is a 404 that says what the port is for.

The front holds nothing: when the server's socket closes (it stopped or died), the front exits
at once, and requests it had not answered fail at the client, which sends them again (with the
same ``X-Call-Id``, a call that was stored is not stored twice).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import time
from typing import Any, cast

from starlette.types import Receive, Scope, Send

from fnflow import fastjson
from fnflow.api.asgi import AsyncRequest, async_request, read_body, respond, respond_problem
from fnflow.clock import uuid7_text
from fnflow.errors import PayloadTooLarge
from fnflow.framing import FrameReader
from fnflow.functions._protocol import frame
from fnflow.intake import ANSWERS, CALLS

PREFIX = "/async-function/"
Answer = tuple[int, str | None, dict[str, Any] | None]  # status, call id, error


class Owner(FrameReader):
    """The connection to the server: calls out, once per loop turn; answers in."""

    def __init__(self) -> None:
        super().__init__(self._received, self._lost)
        self._transport: asyncio.Transport | None = None
        self._waiting: dict[int, asyncio.Future[Answer]] = {}
        self._metas: list[list[Any]] = []
        self._bodies: list[bytes] = []
        self._seq = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's are not asyncio's subclasses

    async def submit(self, r: AsyncRequest) -> Answer:
        self._seq += 1
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._waiting[self._seq] = future
        if not self._metas:
            asyncio.get_running_loop().call_soon(self._flush)
        meta = [r.path, r.query, r.authorization, r.call_id, r.callback, r.headers, r.start, len(r.body)]
        self._metas.append([self._seq, *meta])
        self._bodies.append(r.body)
        return await future

    def _flush(self) -> None:
        metas, bodies = self._metas, self._bodies
        self._metas, self._bodies = [], []
        assert self._transport is not None
        for buffer in frame(CALLS, fastjson.dumps(metas), b"".join(bodies)):
            self._transport.write(buffer)

    def _received(self, kind: int, meta: bytes, _: bytes) -> None:
        if kind != ANSWERS:
            return
        for seq, status, call_id, error in fastjson.loads(meta):
            future = self._waiting.pop(seq, None)
            if future is not None and not future.done():
                future.set_result((status, call_id, error))

    def _lost(self) -> None:
        # The server stopped or died: nothing this process holds can be answered any more.
        os._exit(0)


class Front:
    """The ASGI app of a front."""

    def __init__(self, owner: Owner, max_body: int, keys: bool) -> None:
        """``keys``: the server checks keys (a call's stored headers then never hold one)."""
        self.owner = owner
        self.max_body = max_body
        self.keys = keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                kind = (await receive())["type"]
                await send({"type": f"{kind}.complete"})  # lifespan.startup, then lifespan.shutdown
                if kind == "lifespan.shutdown":
                    return
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        if not path.startswith(PREFIX):
            message = (
                f"this port takes asynchronous calls only (POST {PREFIX}{{name}}); the API is on the server's"
            )
            await self._error(send, 404, {"code": "NotFound", "message": message})
            return
        if scope["method"] != "POST":
            message = "this port takes asynchronous calls (POST); the server's port also takes DELETE"
            await self._error(send, 405, {"code": "MethodNotAllowed", "message": message})
            return
        try:
            body = await read_body(receive, self.max_body)
        except PayloadTooLarge as e:
            await self._error(send, 413, e.to_dict())
            return
        start = str(time.time_ns())
        query = scope["query_string"].decode("latin-1")
        request = async_request(
            path, query, scope["headers"], body, start=start, keys=self.keys, new_id=new_id
        )
        status, call_id, error = await self.owner.submit(request)
        if call_id is not None:
            await respond(send, status, [(b"x-call-id", call_id.encode()), (b"x-start-time", start.encode())])
        else:
            await self._error(send, status, error or {})

    @staticmethod
    async def _error(send: Send, status: int, error: dict[str, Any]) -> None:
        await respond_problem(send, status, json.dumps(error).encode())


def new_id() -> str:
    return uuid7_text()


async def serve(fd: int, owner_path: str, max_body: int, keys: bool) -> None:
    import uvicorn

    from fnflow.api.proxied import http_protocol

    owner = Owner()
    config = uvicorn.Config(
        Front(owner, max_body, keys),
        http=http_protocol(),
        lifespan="on",
        access_log=False,
        proxy_headers=False,  # a call's client address is not kept: no X-Forwarded-For to apply
        log_level="warning",
    )
    config.load()
    # Connected last: the server counts a front as serving once it connects.
    await asyncio.get_running_loop().create_unix_connection(lambda: owner, owner_path)
    await uvicorn.Server(config).serve(sockets=[socket.socket(fileno=fd)])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m fnflow.intake.front", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--fd", type=int, required=True, help="the accept port's listening socket")
    parser.add_argument("--owner", required=True, help="the server's Unix socket for calls")
    parser.add_argument("--max-body", type=int, required=True, help="the largest body of a call, in bytes")
    parser.add_argument("--keys", action="store_true", help="the server checks keys")
    args = parser.parse_args(argv)
    try:
        import uvloop

        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    except ImportError:
        runner = asyncio.Runner()
    with runner:
        runner.run(serve(args.fd, args.owner, args.max_body, args.keys))


if __name__ == "__main__":
    main()
