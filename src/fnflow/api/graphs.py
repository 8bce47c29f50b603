"""Flows as graphs, and executions followed step by step (what the console draws and colours).

``GET …/graph`` draws a flow (its current definition, or the one an execution runs) as SVG, JSON
(the layout) or Mermaid; ``GET …/progress`` says where each step of an execution stands; ``GET
…/watch`` streams that as server-sent events (``event: progress``) at every change until the
execution ends — read it with ``fetch`` when auth is on (``EventSource`` cannot send a key).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from enum import StrEnum
from typing import Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from fnflow.api.auth import Invoke
from fnflow.api.root import root
from fnflow.api.schemas import EventOut
from fnflow.fdl import Flow
from fnflow.fdl.graph import layout, to_mermaid, to_svg
from fnflow.services.executions import Watched

router = APIRouter(prefix="/api/v1/flows", tags=["graphs"])


class GraphFormat(StrEnum):
    svg = "svg"
    json = "json"
    mermaid = "mermaid"


def _drawn(flow: Flow, title: str, format: GraphFormat) -> Response:
    if format is GraphFormat.mermaid:
        return Response(to_mermaid(flow), media_type="text/plain; charset=utf-8")
    graph = layout(flow)
    if format is GraphFormat.json:
        return Response(json.dumps(graph.to_json()), media_type="application/json")
    return Response(to_svg(graph, title), media_type="image/svg+xml")


def _progress(watched: Watched) -> dict[str, Any]:
    return {
        "status": watched.execution.status,
        "steps": {name: step.to_json() for name, step in watched.steps.items()},
        "events": [EventOut.of(e).model_dump() for e in watched.events],
    }


@router.get("/{flow}/graph", response_class=Response, responses={200: {"content": {"image/svg+xml": {}}}})
async def flow_graph(
    flow: str, request: Request, _: Invoke, format: GraphFormat = GraphFormat.svg
) -> Response:
    """The flow's current definition drawn as a graph."""
    return _drawn(await root(request).flows.model(flow), flow, format)


@router.get(
    "/{flow}/executions/{name}/graph",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}}},
)
async def execution_graph(
    flow: str, name: str, request: Request, _: Invoke, format: GraphFormat = GraphFormat.svg
) -> Response:
    """The definition the execution runs, drawn as a graph (each step a ``data-step`` group)."""
    return _drawn(await root(request).executions.definition(flow, name), f"{flow}/{name}", format)


@router.get("/{flow}/executions/{name}/progress")
async def execution_progress(flow: str, name: str, request: Request, _: Invoke) -> dict[str, Any]:
    """Where each step stands (state, entries, attempts, retries, input, output, error, times), and
    the whole history."""
    async for watched in root(request).executions.watch(flow, name):
        return _progress(watched)
    raise AssertionError("watch yields at least once")


@router.get(
    "/{flow}/executions/{name}/watch",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def watch_execution(
    flow: str,
    name: str,
    request: Request,
    _: Invoke,
    after: int = Query(0, ge=0, description="send only the history events after this event id"),
) -> StreamingResponse:
    """Server-sent events: ``progress`` (as ``…/progress``, with the new history events) now and at
    every change, until the execution ends."""
    watching = root(request).executions.watch(flow, name, after)
    first = await anext(watching)  # a missing execution is a 404 before the stream starts

    async def events() -> AsyncIterator[bytes]:
        yield f"event: progress\ndata: {json.dumps(_progress(first))}\n\n".encode()
        async for watched in watching:
            if await request.is_disconnected():
                return
            yield f"event: progress\ndata: {json.dumps(_progress(watched))}\n\n".encode()

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})
