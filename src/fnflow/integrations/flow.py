"""Task steps that run another flow as a child execution (``acs:fnf:::flow/{flow}``).

``serviceParams.Input`` is the child's input (``$``, the default: the step's mapped input; or a
path into it), ``serviceParams.ExecutionName`` its name (default: the step, the parent's id and the
attempt, so an attempt that runs again finds the child it started instead of a second one).
``requestResponse`` goes on once the child has started (its output: what StartExecution answers);
``sync`` waits for the child's end — its output, or its error (a stop's error, ``FnF.Timeout``);
``waitForCallback`` hands the child the task token in its input and waits for anyone's report.
A child names its parent, a parent's history names its children; stopping the parent, or giving
the step up, stops the child.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Protocol

from fnflow.engine import RUNTIME_ERROR, Event, TaskFailed, TaskSubmitted, TaskSucceeded
from fnflow.errors import Conflict, InvalidArgument, NotFound
from fnflow.fdl.arn import FlowTarget, ResourceTarget
from fnflow.fdl.timestamps import format_timestamp
from fnflow.integrations.base import After, Parent, Task
from fnflow.names import check_name
from fnflow.store import ExecutionRecord, Tx

FLOW_NOT_EXISTS = "FnF.FlowNotExists"


class Executions(Protocol):
    """What starting and stopping children takes (the runtime)."""

    async def start_execution(
        self,
        flow_name: str,
        name: str | None,
        input: dict[str, Any],
        *,
        parent: Parent | None = None,
        callback_token: str | None = None,
    ) -> tuple[ExecutionRecord, bool]: ...

    def stop_children(self, tx: Tx, execution_id: str, activity: int, why: str) -> After | None: ...


def child_name(task: Task) -> str:
    """The default name of the child an attempt starts: the step, the parent's id and the attempt —
    unique, and the same when the attempt runs again."""
    step = re.sub(r"[^A-Za-z0-9_-]", "_", task.command.step)[:64]
    return f"{step}-{task.execution_id}-{task.activity}"


def started(record: ExecutionRecord) -> dict[str, Any]:
    """What FnF's StartExecution answers about an execution (a requestResponse child step's output)."""
    return {
        "Name": record.name,
        "FlowName": record.flow_name,
        "Status": record.status,
        "StartedTime": format_timestamp(record.started_at),
        "Input": record.input,
    }


class FlowIntegration:
    kind = "flow"

    def __init__(self, executions: Executions) -> None:
        self._executions = executions

    async def submit(self, task: Task) -> Event:
        target = task.target
        assert isinstance(target, FlowTarget)
        command, activity = task.command, task.activity
        params = command.service_params
        child_input = params.get("Input", command.input)
        if not isinstance(child_input, dict):
            return TaskFailed(activity, RUNTIME_ERROR, "serviceParams.Input must give a JSON object")
        name = params.get("ExecutionName") or child_name(task)
        try:
            if "ExecutionName" in params:
                check_name("execution", str(name))
            parent = Parent(task.execution_id, activity, command.token if command.pattern == "sync" else None)
            record, _ = await self._executions.start_execution(
                target.flow, str(name), child_input, parent=parent
            )
        except NotFound as e:
            return TaskFailed(activity, FLOW_NOT_EXISTS, e.message)
        except (Conflict, InvalidArgument) as e:  # a name taken with another input; nested too deep
            return TaskFailed(activity, RUNTIME_ERROR, e.message)
        if command.pattern == "requestResponse":
            return TaskSucceeded(activity, started(record))
        return TaskSubmitted(
            activity, detail={"childExecution": {"flowName": record.flow_name, "name": record.name}}
        )

    def cancel(self, tx: Tx, execution_id: str, activity: int, now: datetime) -> After | None:
        return self._executions.stop_children(tx, execution_id, activity, "the parent's step was given up")

    async def check(self, target: ResourceTarget, pattern: str) -> str | None:
        return None  # a child flow may be created after its parent
