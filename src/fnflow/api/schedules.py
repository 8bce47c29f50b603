"""Schedules: ``/api/v1/flows/{flow}/schedules/{name}`` (canonical) and ``/api/v1/schedules/{name}``.

A schedule belongs to a flow, as in FnF (names are unique per flow), so the canonical routes
sit under the flow. ``/api/v1/schedules/{name}`` is the same resource with the flow given as
``flowName`` (in the PUT body, or the query of GET and DELETE), FnF's own way of naming it.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from fnflow.api.auth import Admin, Invoke
from fnflow.api.root import root
from fnflow.api.schemas import Body
from fnflow.errors import InvalidArgument
from fnflow.fdl.timestamps import format_timestamp
from fnflow.schedules.service import ScheduleService
from fnflow.schedules.spec import ScheduleSpec
from fnflow.services.executions import parse_json_object
from fnflow.store import ScheduleRecord

router = APIRouter(prefix="/api/v1", tags=["schedules"])

FlowName = Query(description="the flow the schedule belongs to")


class ScheduleIn(Body):
    cronExpression: str = Field(
        description="6 fields with seconds (`0 */5 * * * *`), optional `CRON_TZ=Zone ` prefix, or `@every 5m`"
    )
    timeZone: str = Field("", description="IANA zone the expression is read in; default UTC")
    payload: dict[str, Any] | str | None = Field(
        None, description="the executions' input: a JSON object, or a string holding one"
    )
    enable: bool = True
    description: str = ""
    missedTicks: str = Field(
        "fireOnce",
        description="ticks missed (fnflow down, or late): fireOnce fires the latest once, skip none",
    )
    flowName: str | None = Field(None, description="required on /api/v1/schedules/{name}; else the path's")


class ScheduleOut(BaseModel):
    scheduleName: str
    scheduleId: str
    flowName: str
    description: str
    payload: dict[str, Any]
    cronExpression: str
    timeZone: str
    enable: bool
    createdTime: str
    lastModifiedTime: str
    nextFireTime: str | None = Field(description="the next tick (UTC); null while disabled")
    missedTicks: str = Field(description="fireOnce or skip")

    @classmethod
    def of(cls, s: ScheduleRecord) -> ScheduleOut:
        return cls(
            scheduleName=s.name,
            scheduleId=s.id,
            flowName=s.flow_name,
            description=s.description,
            payload=json.loads(s.payload),
            cronExpression=s.cron_expression,
            timeZone=s.time_zone,
            enable=s.enabled,
            createdTime=format_timestamp(s.created_at),
            lastModifiedTime=format_timestamp(s.updated_at),
            nextFireTime=format_timestamp(s.next_fire_at) if s.next_fire_at is not None else None,
            missedTicks=s.missed_ticks,
        )


class ScheduleList(BaseModel):
    schedules: list[ScheduleOut]
    nextToken: str | None = None


def _service(request: Request) -> ScheduleService:
    service: ScheduleService = root(request).schedules
    return service


async def _put(flow: str, name: str, body: ScheduleIn, request: Request, response: Response) -> ScheduleOut:
    limit = root(request).settings.max_input_bytes
    payload = body.payload
    spec = ScheduleSpec(
        cron_expression=body.cronExpression,
        time_zone=body.timeZone,
        payload=parse_json_object(payload, "payload", limit) if isinstance(payload, str) else payload or {},
        enabled=body.enable,
        description=body.description,
        missed_ticks=body.missedTicks,
    )
    record, created = await _service(request).put(flow, name, spec)
    response.status_code = 201 if created else 200
    return ScheduleOut.of(record)


@router.put(
    "/flows/{flow}/schedules/{name}", response_model=ScheduleOut, responses={201: {"model": ScheduleOut}}
)
async def put_schedule(
    flow: str, name: str, body: ScheduleIn, request: Request, response: Response, _: Admin
) -> ScheduleOut:
    """Create (201) or replace (200) a schedule; a bad expression is 400 naming the field."""
    if body.flowName not in (None, flow):
        raise InvalidArgument(f"flowName {body.flowName!r} differs from the flow in the path {flow!r}")
    return await _put(flow, name, body, request, response)


@router.get("/flows/{flow}/schedules/{name}")
async def get_schedule(flow: str, name: str, request: Request, _: Invoke) -> ScheduleOut:
    return ScheduleOut.of(await _service(request).get(flow, name))


@router.get("/flows/{flow}/schedules")
async def list_schedules(
    flow: str,
    request: Request,
    _: Invoke,
    limit: int = Query(60, ge=1, le=1000),
    nextToken: str | None = None,
) -> ScheduleList:
    page = await _service(request).list(flow, limit, nextToken)
    return ScheduleList(schedules=[ScheduleOut.of(s) for s in page.items], nextToken=page.next_token)


@router.get("/schedules")
async def list_all_schedules(
    request: Request, _: Invoke, limit: int = Query(60, ge=1, le=1000), nextToken: str | None = None
) -> ScheduleList:
    """Every flow's schedules, by flow and name."""
    page = await _service(request).list(None, limit, nextToken)
    return ScheduleList(schedules=[ScheduleOut.of(s) for s in page.items], nextToken=page.next_token)


@router.delete("/flows/{flow}/schedules/{name}", status_code=204)
async def delete_schedule(flow: str, name: str, request: Request, _: Admin) -> Response:
    """Delete a schedule; executions it started are left as they are."""
    await _service(request).delete(flow, name)
    return Response(status_code=204)


@router.put("/schedules/{name}", response_model=ScheduleOut, responses={201: {"model": ScheduleOut}})
async def put_schedule_by_name(
    name: str, body: ScheduleIn, request: Request, response: Response, _: Admin
) -> ScheduleOut:
    """``PUT /flows/{flowName}/schedules/{name}`` with ``flowName`` in the body."""
    if not body.flowName:
        raise InvalidArgument("flowName is required: the flow the schedule belongs to")
    return await _put(body.flowName, name, body, request, response)


@router.get("/schedules/{name}")
async def get_schedule_by_name(
    name: str, request: Request, _: Invoke, flowName: str = FlowName
) -> ScheduleOut:
    return await get_schedule(flowName, name, request, _)


@router.delete("/schedules/{name}", status_code=204)
async def delete_schedule_by_name(
    name: str, request: Request, _: Admin, flowName: str = FlowName
) -> Response:
    return await delete_schedule(flowName, name, request, _)
