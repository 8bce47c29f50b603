"""Running the work task steps schedule: call a function, turn its result into an engine event.

Delivery is at least once: a task row stays in the store, leased to this node, until its
result is committed together with the engine decision it causes. If the process dies in
between, the task runs again after a restart (see docs/durability.md), so a function that
a flow calls should tolerate a repeat (the request id it receives is stable per attempt).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from fnflow.asyncq.service import CallService, Submission
from fnflow.engine import RUNTIME_ERROR, Event, TaskFailed, TaskSubmitted, TaskSucceeded
from fnflow.errors import NotFound
from fnflow.fdl.arn import FunctionTarget, parse_resource_arn
from fnflow.functions.service import FunctionService
from fnflow.functions.spec import InvocationResult
from fnflow.metrics import Metrics
from fnflow.store import TaskRecord

log = logging.getLogger(__name__)

Apply = Callable[[str, Event, int], Awaitable[Any]]


def result_event(activity: int, pattern: str, result: InvocationResult) -> Event:
    """The engine event for a finished invocation (FC semantics: a JSON body is the step's $local)."""
    started = datetime.fromtimestamp(result.started_at, UTC)
    if not result.ok:
        return TaskFailed(activity, result.error_type or "FC.Unknown", result.error_body().decode(), started)
    if pattern == "waitForCallback":
        return TaskSubmitted(activity, started)
    body = result.body.decode(errors="replace").strip()
    if not body:
        return TaskSucceeded(activity, {}, started)
    try:
        output = json.loads(body)
    except ValueError:
        output = body  # the engine reports that the output is not a JSON object
    return TaskSucceeded(activity, output, started)


_target = functools.lru_cache(maxsize=1024)(parse_resource_arn)


class TaskRunner:
    """Runs leased tasks with bounded parallelism and applies their results."""

    def __init__(
        self,
        functions: FunctionService,
        apply: Apply,
        *,
        parallelism: int = 64,
        metrics: Metrics,
        on_free: Callable[[], None] = lambda: None,
    ) -> None:
        self._functions = functions
        self._on_free = on_free
        self._metrics = metrics
        self._apply = apply
        self._slots = asyncio.Semaphore(parallelism)
        self.held: dict[tuple[str, int], asyncio.Task[None]] = {}
        self.calls: CallService | None = None  # set once the call queue exists

    def submit(self, task: TaskRecord) -> None:
        key = (task.execution_id, task.activity)
        if key not in self.held:
            self.held[key] = asyncio.create_task(self._run(task), name=f"task {key}")

    async def close(self) -> None:
        for running in list(self.held.values()):
            running.cancel()
        await asyncio.gather(*self.held.values(), return_exceptions=True)
        self.held.clear()

    async def _run(self, task: TaskRecord) -> None:
        key = (task.execution_id, task.activity)
        try:
            async with self._slots:
                event = await self._execute(task)
            outcome = {TaskSucceeded: "succeeded", TaskSubmitted: "submitted"}.get(type(event), "failed")
            self._metrics.task_attempts.labels(task.kind, outcome).inc()
            await self._apply(task.execution_id, event, task.activity)
        except asyncio.CancelledError:
            raise
        except Exception:
            # The lease stays with us until it expires; a restart or a peer retries the task.
            log.exception("task %s of execution %s could not be completed", task.activity, task.execution_id)
        finally:
            self.held.pop(key, None)
            self._on_free()

    async def _execute(self, task: TaskRecord) -> Event:
        payload = json.loads(task.payload)
        activity: int = task.activity
        target = _target(payload["resourceArn"])
        if not isinstance(target, FunctionTarget):
            return TaskFailed(
                activity, RUNTIME_ERROR, f"{payload['resourceArn']}: {task.kind} tasks are not supported yet"
            )
        if target.qualifier not in (None, "LATEST"):
            return TaskFailed(
                activity,
                "FC.QualifierNotFound",
                f"service qualifier {target.qualifier!r}: versions and aliases are not supported yet",
            )
        body = json.dumps(payload["input"], separators=(",", ":"), ensure_ascii=False).encode()
        request_id = f"{task.execution_id}-{activity}"
        pattern = payload["pattern"]
        try:
            if pattern == "sync" or payload["serviceParams"].get("InvocationType") == "Async":
                return await self._invoke_async(task, target, body, payload)
            result = await self._functions.invoke(
                target.service, target.function, body, request_id=request_id
            )
        except NotFound as e:
            return TaskFailed(activity, "FC.FunctionNotFound", str(e))
        return result_event(activity, pattern, result)

    async def _invoke_async(
        self, task: TaskRecord, target: FunctionTarget, body: bytes, payload: dict[str, Any]
    ) -> Event:
        """Function Compute's asynchronous invocation from a flow: the call goes through the durable
        queue. ``sync`` waits for the call to finish (the queue reports back); the other patterns
        continue as soon as it is queued. The call id is ``serviceParams.StatefulAsyncInvocationID``
        (with the attempt number on retries) or the attempt's own, so a repeated task submits once."""
        assert self.calls is not None, "asynchronous invocation needs the call queue"
        pattern = payload["pattern"]
        waits = pattern == "sync"
        call_id = f"{task.execution_id}-{task.activity}"
        if stateful := payload["serviceParams"].get("StatefulAsyncInvocationID"):
            call_id = str(stateful) if payload["attempt"] == 1 else f"{stateful}-{payload['attempt']}"
        await self.calls.submit(
            Submission(
                service=target.service,
                function=target.function,
                body=body,
                headers='[["Content-Type", "application/json"]]',
                call_id=call_id,
                task_execution=task.execution_id if waits else None,
                task_activity=task.activity if waits else None,
            )
        )
        if pattern == "requestResponse":
            return TaskSucceeded(task.activity, {})
        return TaskSubmitted(task.activity)
