"""The FnF actions (API version 2019-03-15), each a translation of parameters into one call of a
``fnflow.services`` use case and of its result into FnF's response fields.

Each action needs the scope the native API needs for the same thing: ``admin`` to change flows
and schedules, ``invoke`` to run and read, ``report-task`` to report a task's result.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fnflow.compat.alibaba import shapes
from fnflow.compat.alibaba.params import Params
from fnflow.errors import InvalidArgument
from fnflow.schedules.spec import ScheduleSpec
from fnflow.services.executions import MAX_WAIT, STATUSES, NameRule
from fnflow.services.flows import EXECUTION_MODES
from fnflow.store import ExecutionRecord

if TYPE_CHECKING:
    from fnflow.app import Fnflow

VERSION = "2019-03-15"
Handler = Callable[["Fnflow", Params], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Action:
    scope: str
    run: Handler


ACTIONS: dict[str, Action] = {}


def action(name: str, scope: str) -> Callable[[Handler], Handler]:
    def register(run: Handler) -> Handler:
        ACTIONS[name] = Action(scope, run)
        return run

    return register


def _unsupported(p: Params, *names: str) -> None:
    """Refuse what fnflow does not do rather than ignore it."""
    for name in names:
        if p.text(name):
            raise InvalidArgument(f"{name} is not supported by fnflow")


async def _execution(app: Fnflow, record: ExecutionRecord) -> dict[str, Any]:
    return shapes.execution(record, await app.flows.definition(record.definition_hash))


# --- flows ----------------------------------------------------------------------------------------


def _flow_type(p: Params) -> None:
    kind = p.text("Type")
    if kind and kind != "FDL":
        raise InvalidArgument(f"Type must be FDL, not {kind!r}")


@action("CreateFlow", "admin")
async def create_flow(app: Fnflow, p: Params) -> dict[str, Any]:
    _flow_type(p)
    _unsupported(p, "ExternalStorageLocation")
    record, _ = await app.flows.put(
        p.required("Name"),
        p.required("Definition"),
        p.text("Description") or "",
        execution_mode=p.choice("ExecutionMode", EXECUTION_MODES),
        role_arn=p.text("RoleArn"),
        replace=False,
    )
    return shapes.flow(record)


@action("UpdateFlow", "admin")
async def update_flow(app: Fnflow, p: Params) -> dict[str, Any]:
    _flow_type(p)
    record = await app.flows.update(
        p.required("Name"),
        definition=p.text("Definition") or None,
        description=p.text("Description"),
        role_arn=p.text("RoleArn"),
    )
    return shapes.flow(record)


@action("DescribeFlow", "invoke")
async def describe_flow(app: Fnflow, p: Params) -> dict[str, Any]:
    return shapes.flow(await app.flows.get(p.required("Name")))


@action("ListFlows", "invoke")
async def list_flows(app: Fnflow, p: Params) -> dict[str, Any]:
    page = await app.flows.list(p.integer("Limit", default=60, low=1, high=999), p.text("NextToken") or None)
    return {"Flows": [shapes.flow(f) for f in page.items], **shapes.page_token(page.next_token)}


@action("DeleteFlow", "admin")
async def delete_flow(app: Fnflow, p: Params) -> dict[str, Any]:
    await app.flows.delete(p.required("Name"))
    return {}


# --- executions -----------------------------------------------------------------------------------


@action("StartExecution", "invoke")
async def start_execution(app: Fnflow, p: Params) -> dict[str, Any]:
    _unsupported(p, "Qualifier")
    record, _ = await app.executions.start(
        p.required("FlowName"),
        p.text("ExecutionName") or None,
        p.json_object("Input") or {},
        rule=NameRule.WHILE_RUNNING,
        mode="Standard",
        callback_token=p.text("CallbackFnFTaskToken") or None,  # reported when the execution ends
    )
    return await _execution(app, record)


@action("StartSyncExecution", "invoke")
async def start_sync_execution(app: Fnflow, p: Params) -> dict[str, Any]:
    _unsupported(p, "Qualifier")
    record = await app.executions.run_sync(
        p.required("FlowName"), p.text("ExecutionName") or None, p.json_object("Input") or {}
    )
    return shapes.sync_execution(record)


@action("StopExecution", "invoke")
async def stop_execution(app: Fnflow, p: Params) -> dict[str, Any]:
    record = await app.executions.stop(
        p.required("FlowName"),
        p.required("ExecutionName"),
        p.text("Error", max_length=128) or "",
        p.text("Cause", max_length=4096) or "",
    )
    return await _execution(app, record)


@action("DescribeExecution", "invoke")
async def describe_execution(app: Fnflow, p: Params) -> dict[str, Any]:
    wait = p.integer("WaitTimeSeconds", default=0, low=0, high=int(MAX_WAIT))
    record = await app.executions.describe(p.required("FlowName"), p.required("ExecutionName"), wait)
    return await _execution(app, record)


@action("ListExecutions", "invoke")
async def list_executions(app: Fnflow, p: Params) -> dict[str, Any]:
    page = await app.executions.list(
        p.required("FlowName"),
        status=p.choice("Status", STATUSES),
        name_prefix=p.text("ExecutionNamePrefix") or None,
        started_from=p.time("StartedTimeBegin"),
        started_until=p.time("StartedTimeEnd"),
        limit=p.integer("Limit", default=60, low=1, high=99),
        token=p.text("NextToken") or None,
    )
    executions = [await _execution(app, e) for e in page.items]
    return {"Executions": executions, **shapes.page_token(page.next_token)}


@action("GetExecutionHistory", "invoke")
async def get_execution_history(app: Fnflow, p: Params) -> dict[str, Any]:
    page = await app.executions.history(
        p.required("FlowName"),
        p.required("ExecutionName"),
        limit=p.integer("Limit", default=60, low=1, high=999),
        token=p.text("NextToken") or None,
    )
    return {"Events": [shapes.event(e) for e in page.items], **shapes.page_token(page.next_token)}


@action("ReportTaskSucceeded", "report-task")
async def report_task_succeeded(app: Fnflow, p: Params) -> dict[str, Any]:
    event_id = await app.executions.report_succeeded(p.required("TaskToken"), p.required("Output"))
    return {"EventId": event_id}


@action("ReportTaskFailed", "report-task")
async def report_task_failed(app: Fnflow, p: Params) -> dict[str, Any]:
    event_id = await app.executions.report_failed(
        p.required("TaskToken"), p.required("Error", max_length=128), p.text("Cause", max_length=4096) or ""
    )
    return {"EventId": event_id}


# --- schedules ------------------------------------------------------------------------------------


@action("CreateSchedule", "admin")
async def create_schedule(app: Fnflow, p: Params) -> dict[str, Any]:
    spec = ScheduleSpec(
        cron_expression=p.required("CronExpression"),
        payload=p.json_object("Payload") or {},
        enabled=p.boolean("Enable") is not False,
        description=p.text("Description") or "",
    )
    record = await app.schedules.create(p.required("FlowName"), p.required("ScheduleName"), spec)
    return shapes.schedule(record)


@action("UpdateSchedule", "admin")
async def update_schedule(app: Fnflow, p: Params) -> dict[str, Any]:
    record = await app.schedules.update(
        p.required("FlowName"),
        p.required("ScheduleName"),
        cron_expression=p.text("CronExpression") or None,
        payload=p.json_object("Payload"),
        enabled=p.boolean("Enable"),
        description=p.text("Description"),
    )
    return shapes.schedule(record)


@action("DescribeSchedule", "invoke")
async def describe_schedule(app: Fnflow, p: Params) -> dict[str, Any]:
    return shapes.schedule(await app.schedules.get(p.required("FlowName"), p.required("ScheduleName")))


@action("ListSchedules", "invoke")
async def list_schedules(app: Fnflow, p: Params) -> dict[str, Any]:
    page = await app.schedules.list(
        p.required("FlowName"),
        p.integer("Limit", default=60, low=1, high=1000),
        p.text("NextToken") or None,
    )
    return {"Schedules": [shapes.schedule(s) for s in page.items], **shapes.page_token(page.next_token)}


@action("DeleteSchedule", "admin")
async def delete_schedule(app: Fnflow, p: Params) -> dict[str, Any]:
    await app.schedules.delete(p.required("FlowName"), p.required("ScheduleName"))
    return {}
