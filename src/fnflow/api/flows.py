"""``/api/v1/flows``: create, read, list and delete flows."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, Response

from fnflow.api.auth import Admin, Invoke
from fnflow.api.root import root
from fnflow.api.schemas import FlowIn, FlowList, FlowOut, FlowVersionList, FlowVersionOut
from fnflow.errors import InvalidArgument

router = APIRouter(prefix="/api/v1/flows", tags=["flows"])


@router.put("/{flow}", response_model=FlowOut, responses={201: {"model": FlowOut}})
async def put_flow(flow: str, body: FlowIn, request: Request, response: Response, _: Admin) -> FlowOut:
    """Create a flow, or make a new definition current (running executions keep theirs); a new
    definition is a new version. ``{"version": N}`` instead of a definition rolls back: the
    definition of version N becomes current (as a new version)."""
    flows = root(request).flows
    if (body.definition is None) == (body.version is None):
        raise InvalidArgument("give either a definition or the version to roll back to")
    if body.version is not None:
        record = await flows.rollback(flow, body.version, body.description or None)
        return FlowOut.of(record)
    assert body.definition is not None
    record, created = await flows.put(flow, body.definition, body.description)
    response.status_code = 201 if created else 200
    return FlowOut.of(record)


@router.get("/{flow}/versions")
async def list_flow_versions(
    flow: str,
    request: Request,
    _: Invoke,
    limit: int = Query(100, ge=1, le=999),
    nextToken: str | None = None,
) -> FlowVersionList:
    """The flow's versions, newest first."""
    page = await root(request).flows.versions(flow, limit, nextToken)
    return FlowVersionList(versions=[FlowVersionOut.of(v) for v in page.items], nextToken=page.next_token)


@router.get("/{flow}/versions/{version}")
async def get_flow_version(flow: str, version: int, request: Request, _: Invoke) -> FlowVersionOut:
    """One version of the flow, with its definition."""
    return FlowVersionOut.of(await root(request).flows.version(flow, version))


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
