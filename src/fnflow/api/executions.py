"""``/api/v1/flows/{flow}/executions`` and ``/api/v1/tasks``: run flows and report callbacks."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, Response

from fnflow.api.auth import Invoke, ReportTask
from fnflow.api.schemas import (
    EventOut,
    ExecutionList,
    ExecutionOut,
    History,
    StartIn,
    StopIn,
    TaskFailedIn,
    TaskSucceededIn,
)
from fnflow.services.executions import parse_json_object

router = APIRouter(prefix="/api/v1", tags=["executions"])


@router.post(
    "/flows/{flow}/executions",
    response_model=ExecutionOut,
    status_code=201,
    responses={200: {"model": ExecutionOut, "description": "an execution with this name and input exists"}},
)
async def start_execution(
    flow: str, body: StartIn, request: Request, response: Response, _: Invoke
) -> ExecutionOut:
    app = request.app.state.fnflow
    value = body.input
    input = (
        parse_json_object(value, "input", app.settings.max_input_bytes)
        if isinstance(value, str)
        else value or {}
    )
    record, created = await app.executions.start(flow, body.name, input, version=body.version)
    response.status_code = 201 if created else 200
    return ExecutionOut.of(record)


@router.get("/flows/{flow}/executions")
async def list_executions(
    flow: str,
    request: Request,
    _: Invoke,
    status: str | None = None,
    namePrefix: str | None = None,
    limit: int = Query(60, ge=1, le=999),
    nextToken: str | None = None,
) -> ExecutionList:
    executions = request.app.state.fnflow.executions
    page = await executions.list(flow, status=status, name_prefix=namePrefix, limit=limit, token=nextToken)
    parents = await executions.parents(page.items)
    items = [ExecutionOut.of(e, parents.get(e.parent_id or "")) for e in page.items]
    return ExecutionList(executions=items, nextToken=page.next_token)


@router.get("/flows/{flow}/executions/{name}")
async def describe_execution(
    flow: str,
    name: str,
    request: Request,
    _: Invoke,
    wait: float = Query(0, ge=0, le=60, description="long-poll up to this many seconds for the end"),
) -> ExecutionOut:
    executions = request.app.state.fnflow.executions
    record = await executions.describe(flow, name, wait)
    parents = await executions.parents([record])
    return ExecutionOut.of(record, parents.get(record.parent_id or ""), await executions.children(record))


@router.get("/flows/{flow}/executions/{name}/history")
async def execution_history(
    flow: str,
    name: str,
    request: Request,
    _: Invoke,
    limit: int = Query(1000, ge=1, le=1000),
    nextToken: str | None = None,
) -> History:
    page = await request.app.state.fnflow.executions.history(flow, name, limit=limit, token=nextToken)
    return History(events=[EventOut.of(e) for e in page.items], nextToken=page.next_token)


@router.post("/flows/{flow}/executions/{name}/stop")
async def stop_execution(flow: str, name: str, body: StopIn, request: Request, _: Invoke) -> ExecutionOut:
    return ExecutionOut.of(await request.app.state.fnflow.executions.stop(flow, name, body.error, body.cause))


@router.post("/tasks/succeed", tags=["tasks"])
async def report_task_succeeded(body: TaskSucceededIn, request: Request, _: ReportTask) -> dict[str, str]:
    """ReportTaskSucceeded: the waiting step continues with ``output`` as its ``$local``."""
    await request.app.state.fnflow.executions.report_succeeded(body.taskToken, body.output)
    return {}


@router.post("/tasks/fail", tags=["tasks"])
async def report_task_failed(body: TaskFailedIn, request: Request, _: ReportTask) -> dict[str, str]:
    """ReportTaskFailed: the waiting step fails with ``error`` (its retry and catch apply)."""
    await request.app.state.fnflow.executions.report_failed(body.taskToken, body.error, body.cause)
    return {}
