"""``/api/v1/flows``: create, read, list and delete flows."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, Response

from fnflow.api.auth import Admin, Invoke
from fnflow.api.root import root
from fnflow.api.schemas import FlowIn, FlowList, FlowOut

router = APIRouter(prefix="/api/v1/flows", tags=["flows"])


@router.put("/{flow}", response_model=FlowOut, responses={201: {"model": FlowOut}})
async def put_flow(flow: str, body: FlowIn, request: Request, response: Response, _: Admin) -> FlowOut:
    """Create a flow, or make a new definition current (running executions keep theirs)."""
    record, created = await root(request).flows.put(flow, body.definition, body.description)
    response.status_code = 201 if created else 200
    return FlowOut.of(record)


@router.get("/{flow}")
async def get_flow(flow: str, request: Request, _: Invoke) -> FlowOut:
    return FlowOut.of(await root(request).flows.get(flow))


@router.get("")
async def list_flows(
    request: Request, _: Invoke, limit: int = Query(60, ge=1, le=999), nextToken: str | None = None
) -> FlowList:
    page = await root(request).flows.list(limit, nextToken)
    return FlowList(flows=[FlowOut.of(f) for f in page.items], nextToken=page.next_token)


@router.delete("/{flow}", status_code=204)
async def delete_flow(flow: str, request: Request, _: Admin) -> Response:
    """Delete a flow and its finished executions; refused while executions run."""
    await root(request).flows.delete(flow)
    return Response(status_code=204)
