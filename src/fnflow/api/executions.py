"""``/api/v1/flows/{flow}/executions`` and ``/api/v1/tasks``: run flows and report callbacks."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, Response

from fnflow.api.auth import Invoke, ReportTask
from fnflow.api.root import root
from fnflow.api.schemas import (
    EventOut,
    ExecutionList,
    ExecutionOut,
    History,
    ResetIn,
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
    app = root(request)
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
    executions = root(request).executions
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
    return ExecutionOut.of(*await root(request).executions.described(flow, name, wait))


@router.get("/flows/{flow}/executions/{name}/history")
async def execution_history(
    flow: str,
    name: str,
    request: Request,
    _: Invoke,
    limit: int = Query(1000, ge=1, le=1000),
    nextToken: str | None = None,
) -> History:
    page = await root(request).executions.history(flow, name, limit=limit, token=nextToken)
    return History(events=[EventOut.of(e) for e in page.items], nextToken=page.next_token)


@router.get("/flows/{flow}/executions/{name}/definition")
async def execution_definition(flow: str, name: str, request: Request, _: Invoke) -> dict[str, str]:
    """The FDL text of the definition the execution runs: the one it started with (``fnflow replay``)."""
    return {"definition": await root(request).executions.definition_text(flow, name)}


@router.post("/flows/{flow}/executions/{name}/redrive")
async def redrive_execution(flow: str, name: str, request: Request, _: Invoke) -> ExecutionOut:
    """Continue a Failed or TimedOut execution from the step where it ended: its history and the
    outputs of the steps that succeeded are kept (409 for any other status)."""
    return ExecutionOut.of(await root(request).executions.redrive(flow, name))


@router.post("/flows/{flow}/executions/{name}/reset", status_code=201)
async def reset_execution(flow: str, name: str, body: ResetIn, request: Request, _: Invoke) -> ExecutionOut:
    """Start a new execution from task step ``toStep`` of this one, with the state it had there (as
    Temporal's reset does): the history up to there is copied and the step runs again."""
    executions = root(request).executions
    record = await executions.reset(flow, name, body.toStep, new_name=body.name, input=body.input)
    return ExecutionOut.of(record)


@router.post("/flows/{flow}/executions/{name}/stop")
async def stop_execution(flow: str, name: str, body: StopIn, request: Request, _: Invoke) -> ExecutionOut:
    return ExecutionOut.of(await root(request).executions.stop(flow, name, body.error, body.cause))


@router.post("/tasks/succeed", tags=["tasks"])
async def report_task_succeeded(body: TaskSucceededIn, request: Request, _: ReportTask) -> dict[str, str]:
    """ReportTaskSucceeded: the waiting step continues with ``output`` as its ``$local``."""
    await root(request).executions.report_succeeded(body.taskToken, body.output)
    return {}


@router.post("/tasks/fail", tags=["tasks"])
async def report_task_failed(body: TaskFailedIn, request: Request, _: ReportTask) -> dict[str, str]:
    """ReportTaskFailed: the waiting step fails with ``error`` (its retry and catch apply)."""
    await root(request).executions.report_failed(body.taskToken, body.error, body.cause)
    return {}
