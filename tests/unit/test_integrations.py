"""The integrations of task kinds, each against fakes of what it drives (no store, no server)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from fnflow.asyncq.policy import CallStatus
from fnflow.engine import RUNTIME_ERROR, ScheduleTask, TaskFailed, TaskSubmitted, TaskSucceeded
from fnflow.errors import Conflict, NotFound
from fnflow.fdl.arn import parse_resource_arn
from fnflow.functions.spec import InvocationResult
from fnflow.integrations import Integrations, Parent, Task
from fnflow.integrations.flow import FlowIntegration, child_name
from fnflow.integrations.function import FunctionIntegration, call_event
from fnflow.integrations.messages import MessageIntegration
from fnflow.store import CallRecord, ExecutionRecord

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def task(arn: str, pattern: str = "requestResponse", **params: Any) -> Task:
    command = ScheduleTask(
        activity=7,
        step="Do it!",
        resource_arn=arn,
        pattern=pattern,
        input={"a": 1, "taskToken": "tok"},
        service_params=params,
        timeout=None,
        token="tok",
        attempt=1,
    )
    return Task("exec-id", "parent-flow", "parent-run", command, parse_resource_arn(arn))


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


# --- child flows ------------------------------------------------------------------------------------


@dataclass
class FakeExecutions:
    started: list[dict[str, Any]] = field(default_factory=list)
    raises: Exception | None = None

    async def start_execution(
        self,
        flow_name: str,
        name: str | None,
        input: dict[str, Any],
        *,
        parent: Parent | None = None,
        callback_token: str | None = None,
    ) -> tuple[ExecutionRecord, bool]:
        if self.raises is not None:
            raise self.raises
        self.started.append({"flow": flow_name, "name": name, "input": input, "parent": parent})
        record = ExecutionRecord("c-id", flow_name, name or "", "Running", "h", '{"a": 1}', T0)
        return record, True

    def stop_children(self, tx: Any, execution_id: str, activity: int, why: str) -> None:
        return None


def test_sync_starts_the_child_with_the_token_to_report_and_waits() -> None:
    executions = FakeExecutions()
    event = run(FlowIntegration(executions).submit(task("acs:fnf:::flow/child", "sync", Input={"x": 2})))
    [started] = executions.started
    assert (started["flow"], started["input"]) == ("child", {"x": 2})
    assert started["parent"] == Parent("exec-id", 7, "tok")
    assert event == TaskSubmitted(
        7, detail={"childExecution": {"flowName": "child", "name": started["name"]}}
    )


def test_wait_for_callback_passes_the_input_and_leaves_reporting_to_whoever_holds_the_token() -> None:
    executions = FakeExecutions()
    event = run(FlowIntegration(executions).submit(task("acs:fnf:::flow/child", "waitForCallback")))
    [started] = executions.started
    assert started["input"] == {"a": 1, "taskToken": "tok"}, "no Input: the mapped input"
    assert started["parent"] == Parent("exec-id", 7, None)
    assert isinstance(event, TaskSubmitted)


def test_request_response_answers_what_start_execution_answers() -> None:
    event = run(FlowIntegration(FakeExecutions()).submit(task("acs:fnf:::flow/child", ExecutionName="run-1")))
    assert isinstance(event, TaskSucceeded)
    assert event.output == {
        "Name": "run-1",
        "FlowName": "child",
        "Status": "Running",
        "StartedTime": "2026-01-01T00:00:00.000Z",
        "Input": '{"a": 1}',
    }


def test_the_default_child_name_is_stable_per_attempt_and_valid() -> None:
    attempt = task("acs:fnf:::flow/child")
    assert child_name(attempt) == child_name(attempt) == "Do_it_-exec-id-7"
    long = replace(
        attempt,
        execution_id="3f0c6a4e-5d4b-4f6e-9a57-0d3c2b1a0f9e",
        command=replace(attempt.command, step="s" * 128),
    )
    assert len(child_name(long)) <= 128 and child_name(long).endswith(
        "-3f0c6a4e-5d4b-4f6e-9a57-0d3c2b1a0f9e-7"
    )


def test_bad_parameters_and_missing_flows_fail_the_step_not_the_runtime() -> None:
    flows = FlowIntegration(FakeExecutions())
    not_object = run(flows.submit(task("acs:fnf:::flow/child", "sync", Input=[1, 2])))
    assert isinstance(not_object, TaskFailed) and not_object.error == RUNTIME_ERROR
    bad_name = run(flows.submit(task("acs:fnf:::flow/child", ExecutionName="no spaces")))
    assert isinstance(bad_name, TaskFailed) and "execution name" in bad_name.cause
    missing = run(
        FlowIntegration(FakeExecutions(raises=NotFound("flow 'x' does not exist"))).submit(
            task("acs:fnf:::flow/x")
        )
    )
    assert missing == TaskFailed(7, "FnF.FlowNotExists", "flow 'x' does not exist")
    taken = run(FlowIntegration(FakeExecutions(raises=Conflict("exists"))).submit(task("acs:fnf:::flow/x")))
    assert taken == TaskFailed(7, RUNTIME_ERROR, "exists")


# --- functions ---------------------------------------------------------------------------------------


@dataclass
class FakeDispatcher:
    hooks: list[Any] = field(default_factory=list)

    def when_final(self, hook: Any) -> None:
        self.hooks.append(hook)


@dataclass
class FakeCalls:
    dispatcher: FakeDispatcher = field(default_factory=FakeDispatcher)
    submitted: list[Any] = field(default_factory=list)
    taken_by_another: bool = False

    async def submit(self, submission: Any) -> Any:
        if self.taken_by_another and submission.exact_id:
            raise Conflict(f"the invocation id {submission.call_id!r} is already used by function other/fn")
        self.submitted.append(submission)
        return replace_call(submission.call_id)


def replace_call(call_id: str) -> CallRecord:
    return CallRecord(
        id=call_id, service="s", function="f", status="Enqueued", method="POST", path="/", query="",
        headers="[]", body=b"", max_attempts=3, created_at=T0, run_at=T0, expires_at=T0,
    )  # fmt: skip


def functions(calls: FakeCalls) -> FunctionIntegration:
    return FunctionIntegration(object(), calls, results=object())  # type: ignore[arg-type]


def test_async_request_response_answers_the_call_id_and_sync_waits_for_the_call() -> None:
    calls = FakeCalls()
    integration = functions(calls)
    assert calls.dispatcher.hooks, "it listens for the calls it waits for"
    queued = run(integration.submit(task("acs:fc:::services/s/functions/f", InvocationType="Async")))
    assert queued == TaskSucceeded(7, {"callId": "exec-id-7"})
    assert calls.submitted[0].task_execution is None, "nothing waits for a fire-and-forget call"
    waiting = run(integration.submit(task("acs:fc:::services/s/functions/f", "sync")))
    assert waiting == TaskSubmitted(7, detail={"callId": "exec-id-7"})
    assert (calls.submitted[1].task_execution, calls.submitted[1].task_activity) == ("exec-id", 7)


def test_a_stateful_invocation_id_another_function_uses_fails_the_step() -> None:
    integration = functions(FakeCalls(taken_by_another=True))
    event = run(
        integration.submit(task("acs:fc:::services/s/functions/f", "sync", StatefulAsyncInvocationID="job-1"))
    )
    assert isinstance(event, TaskFailed) and event.error == "FC.StatefulAsyncInvocationAlreadyExists"
    assert "job-1" in event.cause


def test_a_finished_call_becomes_the_waiting_step_s_event() -> None:
    call = replace(replace_call("c"), task_execution="e", task_activity=3, error="it ran too long")
    ok = InvocationResult(True, b'{"done": 1}', None, None, None, T0.timestamp(), 0.1, 200, ())
    assert call_event(call, CallStatus.SUCCEEDED, ok) == TaskSucceeded(3, {"done": 1}, T0)
    assert call_event(call, CallStatus.EXPIRED, None) == TaskFailed(3, "FC.EventExpired", "it ran too long")
    assert call_event(call, CallStatus.STOPPED, None).error == "FC.InvocationStopped"  # type: ignore[union-attr]


def test_a_kind_without_an_integration_is_refused_when_a_flow_is_created() -> None:
    kinds = Integrations()
    kinds.add(type(parse_resource_arn("acs:fnf:::flow/x")), FlowIntegration(FakeExecutions()))
    assert run(kinds.check(parse_resource_arn("acs:fnf:::flow/x"), "sync")) is None
    queue = parse_resource_arn("acs:mns:::/queues/q/messages")
    assert run(kinds.check(queue, "waitForCallback")) == "queue tasks are not supported yet"


# --- queues and topics -------------------------------------------------------------------------------


@dataclass
class FakeQueues:
    sent: list[dict[str, Any]] = field(default_factory=list)
    missing: bool = False

    async def send(self, queue: str, body: str, **options: Any) -> Any:
        if self.missing:
            raise NotFound(f"queue {queue!r} does not exist")
        self.sent.append({"queue": queue, "body": body, **options})
        return type("Sent", (), {"body_md5": "MD5"})()

    async def exists(self, name: str) -> bool:
        return not self.missing


@dataclass
class FakeTopics:
    published: list[dict[str, Any]] = field(default_factory=list)

    async def publish(self, topic: str, body: str, **options: Any) -> Any:
        self.published.append({"topic": topic, "body": body, **options})
        return type("Published", (), {"body_md5": "MD5"})()

    async def exists(self, name: str) -> bool:
        return True


def test_a_queue_step_sends_its_mapped_input_once_per_attempt_and_waits() -> None:
    queues = FakeQueues()
    integration = MessageIntegration(queues, FakeTopics(), "queue")  # type: ignore[arg-type]
    attempt = task(
        "acs:mns:::/queues/jobs/messages",
        "waitForCallback",
        MessageBody={"a": 1, "taskToken": "tok"},
        Priority=1,
    )
    first = run(integration.submit(attempt))
    again = run(integration.submit(attempt))  # the same attempt after a crash: the same message id
    [one, two] = queues.sent
    assert one == two
    assert (one["body"], one["priority"], one["delay_seconds"]) == ('{"a":1,"taskToken":"tok"}', 1, None)
    assert first == again == TaskSubmitted(7, detail={"queue": "jobs", "messageId": one["message_id"]})
    other = run(integration.submit(replace(attempt, command=replace(attempt.command, activity=9))))
    assert isinstance(other, TaskSubmitted) and other.detail["messageId"] != one["message_id"]


def test_a_topic_step_publishes_a_text_body_as_it_is_with_its_tag_and_answers_the_message_id() -> None:
    topics = FakeTopics()
    integration = MessageIntegration(FakeQueues(), topics, "topic")  # type: ignore[arg-type]
    event = run(
        integration.submit(task("acs:mns:::/topics/news/messages", MessageBody="hello", MessageTag="t1"))
    )
    [published] = topics.published
    assert (published["body"], published["tag"]) == ("hello", "t1")
    assert isinstance(event, TaskSucceeded)
    assert event.output == {
        "MessageId": published["message_id"],
        "MessageBodyMD5": "MD5",
        "RequestId": published["message_id"],
    }


def test_a_missing_queue_or_a_bad_parameter_fails_the_step_and_flows_are_checked() -> None:
    missing = MessageIntegration(FakeQueues(missing=True), FakeTopics(), "queue")  # type: ignore[arg-type]
    queue = parse_resource_arn("acs:mns:::/queues/gone/messages")
    event = run(missing.submit(task("acs:mns:::/queues/gone/messages")))
    assert isinstance(event, TaskFailed) and event.error == "MNS.QueueNotExist"
    assert "does not exist" in (run(missing.check(queue, "waitForCallback")) or "")
    bad = MessageIntegration(FakeQueues(), FakeTopics(), "queue")  # type: ignore[arg-type]
    wrong = run(bad.submit(task("acs:mns:::/queues/q/messages", Priority="high")))
    assert isinstance(wrong, TaskFailed) and wrong.error == "MNS.InvalidArgument"
    assert "not sync" in (run(bad.check(queue, "sync")) or "")
