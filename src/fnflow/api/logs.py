"""Function logs as newline-delimited JSON: OpenFaaS' ``GET /system/logs`` (what ``faas-cli logs``
reads) and fnflow's ``GET /api/v1/functions/{service}/{name}/logs`` (with call ids and streams)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from fnflow.api.auth import Invoke
from fnflow.api.openfaas import named_function
from fnflow.api.root import root
from fnflow.errors import InvalidArgument
from fnflow.functions.naming import namespace_of
from fnflow.services.logs import LogQuery, parse_since
from fnflow.store import LogRecord

router = APIRouter(tags=["logs"])
NDJSON = "application/x-ndjson"


def rfc3339(when: datetime) -> str:
    return when.isoformat(timespec="microseconds").replace("+00:00", "Z")


def openfaas_line(r: LogRecord) -> dict[str, Any]:
    """faas-provider's ``logs.Message``."""
    return {
        "name": r.function,
        "namespace": namespace_of(r.service),
        "instance": r.instance,
        "timestamp": rfc3339(r.time),
        "text": r.text,
    }


def fnflow_line(r: LogRecord) -> dict[str, Any]:
    return {
        "time": rfc3339(r.time),
        "service": r.service,
        "function": r.function,
        "callId": r.call_id,
        "instance": r.instance,
        "stream": r.stream,
        "text": r.text,
    }


async def _respond(
    request: Request, query: LogQuery, follow: bool, shape: Callable[[LogRecord], dict[str, Any]]
) -> StreamingResponse:
    batches = await root(request).logs.stream(query, follow=follow)

    async def lines() -> AsyncIterator[bytes]:
        async for batch in batches:
            yield "".join(json.dumps(shape(r), ensure_ascii=False) + "\n" for r in batch).encode()

    return StreamingResponse(lines(), media_type=NDJSON)


def _since(since: str | None) -> datetime | None:
    return parse_since(since) if since else None


@router.get("/system/logs", tags=["openfaas"], response_class=StreamingResponse)
async def system_logs(
    request: Request,
    _: Invoke,
    name: str = "",
    namespace: str | None = None,
    instance: str | None = None,
    since: str | None = None,
    tail: int | None = None,
    follow: bool = False,
) -> StreamingResponse:
    """A function's log lines, oldest first, one ``{"name", "namespace", "instance", "timestamp",
    "text"}`` per line; ``since`` (RFC 3339), ``tail`` (the last N; ≤ 0 all), ``follow`` (then new
    lines as they come, until the client goes away)."""
    if not name:
        raise InvalidArgument("name is required: the function whose logs to read")
    service, function = await named_function(request, name, namespace)
    query = LogQuery(service, function, since=_since(since), tail=tail, instance=instance or None)
    return await _respond(request, query, follow, openfaas_line)


@router.get("/api/v1/functions/{service}/{name}/logs", tags=["functions"], response_class=StreamingResponse)
async def function_logs(
    service: str,
    name: str,
    request: Request,
    _: Invoke,
    since: str | None = None,
    tail: int | None = None,
    callId: str | None = None,
    instance: str | None = None,
    follow: bool = False,
) -> StreamingResponse:
    """A function's log lines as ``{"time", "service", "function", "callId", "instance", "stream",
    "text"}``, one per line; filters as ``/system/logs``, plus ``callId``."""
    query = LogQuery(
        service, name, since=_since(since), tail=tail, call_id=callId or None, instance=instance or None
    )
    return await _respond(request, query, follow, fnflow_line)
