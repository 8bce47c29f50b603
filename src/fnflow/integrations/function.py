"""Task steps that call a function (``acs:fc:…:services/{service}/functions/{function}``).

``requestResponse`` invokes the function and waits for its answer; ``waitForCallback`` invokes it
(it gets the task token in its event) and waits for a report. An asynchronous invocation
(``sync``, or ``serviceParams.InvocationType: Async``) goes through the durable call queue
(``asyncq``), this integration's transport: ``sync`` waits until the call finishes, the others go
on as soon as it is queued. The call id is ``serviceParams.StatefulAsyncInvocationID`` (with the
attempt number on retries) or the attempt's key, so an attempt that runs again submits once.

``services/{service}.{qualifier}/functions/…`` names a service version or an alias. An alias is
resolved at an execution's first call through it and pinned (``execution_pins``): the execution's
later steps call the same version, however the alias changes meanwhile (best practice 6), and
new executions follow the alias.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from fnflow.asyncq.policy import CallStatus
from fnflow.asyncq.service import CallService, Submission
from fnflow.engine import Event, TaskFailed, TaskSubmitted, TaskSucceeded
from fnflow.errors import Conflict, NotFound
from fnflow.fdl.arn import FunctionTarget, ResourceTarget
from fnflow.functions.service import FunctionService
from fnflow.functions.spec import InvocationResult
from fnflow.functions.versions import LATEST
from fnflow.integrations.base import After, Task, TaskResults
from fnflow.store import CallRecord, Tx


def result_event(activity: int, pattern: str, result: InvocationResult) -> Event:
    """The engine event for a finished invocation (FC semantics: a JSON body is the step's $local);
    the history records the service version that ran it (``functionVersion``, unless LATEST)."""
    started = datetime.fromtimestamp(result.started_at, UTC)
    detail = {} if result.version == LATEST else {"functionVersion": result.version}
    if not result.ok:
        error = result.error_type or "FC.Unknown"
        return TaskFailed(activity, error, result.error_body().decode(), started, detail)
    if pattern == "waitForCallback":
        return TaskSubmitted(activity, started, detail)
    body = result.body.decode(errors="replace").strip()
    if not body:
        return TaskSucceeded(activity, {}, started, detail)
    try:
        output = json.loads(body)
    except ValueError:
        output = body  # the engine reports that the output is not a JSON object
    return TaskSucceeded(activity, output, started, detail)


def call_event(call: CallRecord, status: CallStatus, result: InvocationResult | None) -> Event:
    """The event for the task step that waits for an asynchronous call that just ended."""
    assert call.task_activity is not None
    activity = call.task_activity
    if (status is CallStatus.SUCCEEDED and result is not None) or (result is not None and not result.ok):
        return result_event(activity, "requestResponse", result)
    error = {CallStatus.EXPIRED: "FC.EventExpired", CallStatus.STOPPED: "FC.InvocationStopped"}.get(
        status, "FC.Unknown"
    )
    return TaskFailed(activity, error, call.error or f"the asynchronous call ended {status.value}")


class FunctionIntegration:
    kind = "fc"

    def __init__(self, functions: FunctionService, calls: CallService, results: TaskResults) -> None:
        self._functions = functions
        self._calls = calls
        self._results = results
        calls.dispatcher.when_final(self._call_finished)

    async def submit(self, task: Task) -> Event:
        target = task.target
        assert isinstance(target, FunctionTarget)
        activity = task.activity
        command = task.command
        body = json.dumps(command.input, separators=(",", ":"), ensure_ascii=False).encode()
        qualifier = target.qualifier or LATEST
        try:
            version = await self._version(task, target.service, qualifier)
        except NotFound as e:
            return TaskFailed(activity, "FC.QualifierNotFound", e.message)
        if command.pattern == "sync" or command.service_params.get("InvocationType") == "Async":
            return await self._invoke_async(task, target, body, version)
        try:
            result = await self._functions.invoke(
                target.service,
                target.function,
                body,
                request_id=task.key,
                qualifier=qualifier,
                version=version,
            )
        except NotFound as e:
            return TaskFailed(activity, "FC.FunctionNotFound", e.message)
        return result_event(activity, command.pattern, result)

    async def _version(self, task: Task, service: str, qualifier: str) -> str:
        """The version an attempt runs: an alias resolves once per execution (its first call) and
        its later steps call that version too, however the alias changes meanwhile."""
        if qualifier == LATEST:
            return LATEST
        qualifiers = self._functions.qualifiers
        if qualifier.isdigit():
            return await qualifiers.resolve(service, qualifier)
        store = self._functions.store
        execution = task.execution_id
        pinned = await store.read(lambda tx: tx.get_pinned_version(execution, service, qualifier))
        if pinned is not None:
            return pinned
        chosen = await qualifiers.resolve(service, qualifier)
        return await store.write(lambda tx: tx.pin_version(execution, service, qualifier, chosen))

    async def _invoke_async(self, task: Task, target: FunctionTarget, body: bytes, version: str) -> Event:
        command = task.command
        waits = command.pattern == "sync"
        call_id = task.key
        stateful = command.service_params.get("StatefulAsyncInvocationID")
        if stateful:
            call_id = str(stateful) if command.attempt == 1 else f"{stateful}-{command.attempt}"
        try:
            call = await self._calls.submit(
                Submission(
                    service=target.service,
                    function=target.function,
                    qualifier=None if version == LATEST else version,
                    body=body,
                    headers='[["Content-Type", "application/json"]]',
                    call_id=call_id,
                    exact_id=bool(stateful),
                    task_execution=task.execution_id if waits else None,
                    task_activity=task.activity if waits else None,
                )
            )
        except Conflict as e:
            return TaskFailed(task.activity, "FC.StatefulAsyncInvocationAlreadyExists", e.message)
        if command.pattern == "requestResponse":
            return TaskSucceeded(task.activity, {"callId": call.id})
        return TaskSubmitted(task.activity, detail={"callId": call.id})

    def _call_finished(
        self, tx: Tx, call: CallRecord, status: CallStatus, result: InvocationResult | None
    ) -> After | None:
        """In the transaction that settles an asynchronous call: the flow step waiting for it goes on."""
        if call.task_execution is None or call.task_activity is None:
            return None
        return self._results.settle(
            tx, call.task_execution, call.task_activity, call_event(call, status, result)
        )

    def cancel(self, tx: Tx, execution_id: str, activity: int, now: datetime) -> After | None:
        stopped = [call_id for call_id, _status in tx.stop_task_calls(execution_id, activity, now)]
        if not stopped:
            return None
        dispatcher = self._calls.dispatcher

        def drop() -> None:  # a running one is cancelled and settles as Stopped
            for call_id in stopped:
                dispatcher.drop(call_id)

        return drop

    async def check(self, target: ResourceTarget, pattern: str) -> str | None:
        return None  # a function may be deployed after the flow that calls it
