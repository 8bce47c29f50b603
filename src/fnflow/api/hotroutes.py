"""Starting an execution, long-polling it and reporting a task's result, served as plain ASGI in
front of the FastAPI app.

``POST /api/v1/flows/{flow}/executions`` and ``GET /api/v1/flows/{flow}/executions/{name}`` are
what a client running flows sends for every execution, and ``POST /api/v1/tasks/succeed|fail``
what wakes a step waiting for a callback; FastAPI's routing, dependency solving and validation
took about a fifth of the event loop's time under such loads (bench/README.md). The FastAPI
routes stay — they are the documented contract, and they answer anything unusual: this layer
takes only a request it can answer exactly as they would (an accepted body or query, or an error
the service raises) and hands any other, body included, to them. ``tests/unit/test_hotroutes.py``
sends the same requests both ways and compares the answers.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qsl

from pydantic import ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fnflow.api.asgi import header, respond, respond_problem
from fnflow.api.auth import authorize_raw
from fnflow.api.errors import INTERNAL_ERROR, STATUS, surrogate_problem
from fnflow.api.schemas import Body, ExecutionOut, StartIn, TaskFailedIn, TaskSucceededIn
from fnflow.errors import FnflowError
from fnflow.services.executions import parse_json_object

if TYPE_CHECKING:
    from fnflow.app import Fnflow

log = logging.getLogger("fnflow.api")
PREFIX = "/api/v1/flows/"
#: the task reports, and whether each is a success
REPORTS = {"/api/v1/tasks/succeed": True, "/api/v1/tasks/fail": False}
JSON = (b"content-type", b"application/json")
#: the longest long-poll the FastAPI route accepts (its ``wait`` query parameter)
MAX_WAIT = 60.0
SECONDS = re.compile(r"[0-9]{1,9}(\.[0-9]{1,9})?")


B = TypeVar("B", bound=Body)
#: what a JSON POST answers, given its content: (status, JSON)
Answer = Callable[[Any], Awaitable[tuple[int, Any]]]


class _Declined(Exception):
    """The request is not one this layer answers exactly like the FastAPI route: hand it over."""


def render(content: Any) -> bytes:
    """JSON as Starlette's ``JSONResponse`` renders it, byte for byte."""
    text = json.dumps(content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":"))
    return text.encode()


class HotRoutes:
    def __init__(self, app: ASGIApp, fnflow: Fnflow) -> None:
        self.app = app
        self.fnflow = fnflow

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"] if scope["type"] == "http" else ""
        if path in REPORTS and scope["method"] == "POST":
            report = functools.partial(self._report, REPORTS[path])
            await self._json_post(scope, receive, send, "report-task", report)
            return
        if not path.startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        parts = path[len(PREFIX) :].split("/")
        method = scope["method"]
        if method == "POST" and len(parts) == 2 and parts[0] and parts[1] == "executions":
            start = functools.partial(self._start, parts[0])
            await self._json_post(scope, receive, send, "invoke", start)
        elif method == "GET" and len(parts) == 3 and parts[0] and parts[1] == "executions" and parts[2]:
            await self._describe(scope, receive, send, parts[0], parts[2])
        else:
            await self.app(scope, receive, send)

    async def _json_post(self, scope: Scope, receive: Receive, send: Send, key: str, answer: Answer) -> None:
        """A POST of JSON: read it, check that the caller's key has scope ``key``, answer what
        ``answer`` returns (status, JSON). A request it declines goes to the route, body and all."""
        body: bytes | None = None
        try:
            headers = dict(scope["headers"])
            # JSON as the route reads it: without a Content-Type, FastAPI's reading depends on its version
            content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
            length = headers.get(b"content-length", b"")
            if content_type != b"application/json" or not length.isdigit():
                raise _Declined
            if not 0 < int(length) <= self.fnflow.settings.max_request_bytes:
                raise _Declined
            body = await _read(receive)
            content = _json(body)  # the route reads the JSON before it checks the key
            await authorize_raw(self.fnflow, headers.get(b"authorization"), key)
            status, out = await answer(content)
        except _Declined:
            await self.app(scope, receive if body is None else _replay(body, receive), send)
            return
        except Exception as e:
            await _fail(send, e, scope)
            return
        await respond(send, status, [JSON], render(out))

    async def _start(self, flow: str, content: Any) -> tuple[int, Any]:
        start = _validated(content, StartIn)
        value = start.input
        limit = self.fnflow.settings.max_input_bytes
        input = parse_json_object(value, "input", limit) if isinstance(value, str) else value or {}
        executions = self.fnflow.executions
        record, created = await executions.start(flow, start.name, input, version=start.version)
        return 201 if created else 200, _dump(ExecutionOut.of(record))

    async def _report(self, succeeded: bool, content: Any) -> tuple[int, Any]:
        executions = self.fnflow.executions
        if succeeded:
            success = _validated(content, TaskSucceededIn)
            await executions.report_succeeded(success.taskToken, success.output)
        else:
            failure = _validated(content, TaskFailedIn)
            await executions.report_failed(failure.taskToken, failure.error, failure.cause)
        return 200, {}

    async def _describe(self, scope: Scope, receive: Receive, send: Send, flow: str, name: str) -> None:
        try:
            wait = _wait(scope["query_string"])
            await authorize_raw(self.fnflow, header(scope, b"authorization"), "invoke")
            out = ExecutionOut.of(*await self.fnflow.executions.described(flow, name, wait))
        except _Declined:
            await self.app(scope, receive, send)
            return
        except Exception as e:
            await _fail(send, e, scope)
            return
        await respond(send, 200, [JSON], render(_dump(out)))


async def _read(receive: Receive) -> bytes:
    """The whole body (its length was checked against the limit from ``Content-Length``)."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise _Declined  # the client went away: let the framework see it
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """``receive`` for the FastAPI route: the body this layer read first, then whatever follows."""
    sent = False

    async def again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:  # the route's own message says where: let it answer
        raise _Declined from None


def _validated(content: Any, model: type[B]) -> B:
    try:
        return model.model_validate(content)
    except ValidationError:
        raise _Declined from None


def _wait(query: bytes) -> float:
    """The ``wait`` query parameter as the FastAPI route reads it (its last value; 0 without)."""
    values = [v for k, v in parse_qsl(query.decode("latin-1"), keep_blank_values=True) if k == "wait"]
    if not values:
        return 0.0
    if not SECONDS.fullmatch(values[-1]) or float(values[-1]) > MAX_WAIT:
        raise _Declined  # anything but plain seconds in range: the route's validation answers
    return float(values[-1])


def _dump(out: ExecutionOut) -> dict[str, Any]:
    return out.model_dump(mode="json", by_alias=True)


async def _fail(send: Send, error: Exception, scope: Scope) -> None:
    """The answer of the app's exception handlers (``fnflow.api.errors``) to ``error``."""
    if isinstance(error, FnflowError):
        body = error.to_dict()
        status = STATUS.get(error.code, 500)
    elif isinstance(error, UnicodeEncodeError):
        status, body = 400, {"code": "InvalidArgument", "message": surrogate_problem(error)}
    else:
        log.exception("unexpected error on %s %s", scope["method"], scope["path"], exc_info=error)
        status, body = 500, INTERNAL_ERROR
    await respond_problem(send, status, render(body))
