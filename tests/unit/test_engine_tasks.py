"""Engine: task steps — patterns, tokens, serviceParams, retry, catch, timeouts (spec/fdl.md §1.6.1, §1.7)."""

from __future__ import annotations

import textwrap
from datetime import timedelta
from typing import Any

import pytest

from fnflow.engine import (
    RUNTIME_ERROR,
    TASK_TIMEOUT,
    CancelTask,
    CancelTimer,
    ScheduleTask,
    StartTimer,
    Status,
    TaskSucceeded,
)

try:
    from engine_harness import ARN, T0, Harness, token_for
except ImportError:  # pragma: no cover - tests/unit imported as a package
    from tests.unit.engine_harness import ARN, T0, Harness, token_for


def fdl(body: str) -> str:
    return "version: v1\ntype: flow\n" + textwrap.dedent(body)


def one_task(**fields: Any) -> dict[str, Any]:
    """A flow with one task step named ``t`` (fields override) followed by nothing."""
    task = {"type": "task", "name": "t", "resourceArn": ARN, **fields}
    return {"version": "v1", "type": "flow", "steps": [task]}


def task_then(fields: dict[str, Any], *rest: dict[str, Any]) -> dict[str, Any]:
    flow = one_task(**fields)
    flow["steps"].extend(rest)
    return flow


# --- patterns ---------------------------------------------------------------------------------------


def test_request_response_task() -> None:
    h = Harness(
        one_task(
            inputMappings=[{"target": "a", "source": "$input.a"}],
            outputMappings=[{"target": "r", "source": "$local.result"}],
        ),
        {"a": 1, "b": 2},
    )
    assert h.commands == [
        ScheduleTask(3, "t", ARN, "requestResponse", {"a": 1}, {}, None, token_for("exec1", 3), 1)
    ]
    h.now = T0 + timedelta(seconds=5)
    h.succeed("t", {"result": "ok", "other": 1}, started_at=T0 + timedelta(seconds=1))
    assert h.status is Status.SUCCEEDED
    assert h.output == {"r": "ok"}
    assert h.trace() == [
        "ExecutionStarted",
        "StepEntered:t",
        "TaskScheduled:t",
        "TaskStarted:t",
        "TaskSucceeded:t",
        "StepExited:t",
        "ExecutionSucceeded",
    ]
    scheduled = h.last("TaskScheduled")
    assert scheduled.detail == {
        "resourceArn": ARN,
        "pattern": "requestResponse",
        "attempt": 1,
        "input": {"a": 1},
    }
    assert scheduled.schedule_event_id == 2
    assert h.last("TaskStarted").time == T0 + timedelta(seconds=1)
    assert h.last("TaskStarted").schedule_event_id == 3
    assert h.last("TaskSucceeded").detail == {"output": {"result": "ok", "other": 1}}
    assert h.last("TaskSucceeded").schedule_event_id == 3
    assert h.last("TaskSucceeded").time == T0 + timedelta(seconds=5)


def test_task_default_input_and_output() -> None:
    h = Harness(
        task_then(
            {}, {"type": "pass", "name": "p", "outputMappings": [{"target": "seen", "source": "$input"}]}
        ),
        {"in": 1},
    )
    assert h.task("t").input == {"in": 1}
    h.succeed("t", {"out": 2, "in": 3})
    assert h.output == {"out": 2, "in": 3, "seen": {"in": 3, "out": 2}}


@pytest.mark.parametrize("pattern", ["sync", "waitForCallback"])
def test_submitted_then_reported(pattern: str) -> None:
    h = Harness(one_task(pattern=pattern, outputMappings=[{"target": "status", "source": "$local.status"}]))
    assert h.task("t").pattern == pattern
    h.submit("t", started_at=T0)
    assert h.status is Status.RUNNING
    assert h.decisions[-1].commands == []
    h.succeed("t", {"status": "done"})
    assert h.output == {"status": "done"}
    assert h.trace() == [
        "ExecutionStarted",
        "StepEntered:t",
        "TaskScheduled:t",
        "TaskStarted:t",
        "TaskSubmitted:t",
        "TaskSucceeded:t",
        "StepExited:t",
        "ExecutionSucceeded",
    ]


def test_wait_for_callback_token_in_input_and_service_params() -> None:
    h = Harness(
        one_task(
            resourceArn="acs:mns:::/topics/approvals/messages",
            pattern="waitForCallback",
            inputMappings=[
                {"target": "messageBody", "source": "$input.messageBody"},
                {"target": "taskToken", "source": "$context.task.token"},
                {"target": "tag", "source": "urgent"},
            ],
            serviceParams={
                "MessageBody": "$",
                "MessageTag": "$.tag",
                "Token": "$input.taskToken",
                "Priority": 8,
                "Kind": "constant",
                "Nested": {"a": [1]},
                "Missing": "$.nope",
            },
            outputMappings=[{"target": "status", "source": "$local.status"}],
        ),
        {"messageBody": "hi"},
    )
    task = h.task("t")
    assert task.token == token_for("exec1", task.activity)
    mapped = {"messageBody": "hi", "taskToken": task.token, "tag": "urgent"}
    assert task.input == mapped
    assert task.service_params == {
        "MessageBody": mapped,
        "MessageTag": "urgent",
        "Token": task.token,
        "Priority": 8,
        "Kind": "constant",
        "Nested": {"a": [1]},
        "Missing": None,
    }
    assert h.last("TaskScheduled").detail["serviceParams"] == task.service_params
    assert h.last("StepEntered").detail == {"input": mapped}
    h.submit("t")
    h.report(task.token, {"status": "approved"})
    assert h.status is Status.SUCCEEDED
    assert h.output == {"status": "approved"}


def test_reported_failure_goes_through_retry_and_catch() -> None:
    h = Harness(
        task_then(
            {
                "pattern": "waitForCallback",
                "inputMappings": [{"target": "token", "source": "$context.task.token"}],
                "retry": [{"errors": ["Rejected"], "intervalSeconds": 0, "maxAttempts": 1}],
                "errorMappings": [{"target": "why", "source": "$local.cause"}],
                "catch": [{"errors": ["Rejected"], "goto": "notify"}],
            },
            {"type": "pass", "name": "notify"},
        )
    )
    first = h.task("t")
    h.submit("t")
    h.report(first.token, error="Rejected", cause="no")
    second = h.task("t")
    assert second.token != first.token
    assert second.input == {"token": second.token}
    assert second.attempt == 2
    h.report(second.token, error="Rejected", cause="still no")
    assert h.status is Status.SUCCEEDED
    assert h.output == {"why": "still no"}


def test_new_token_per_attempt_and_retry_count_in_context() -> None:
    h = Harness(
        one_task(
            inputMappings=[
                {"target": "token", "source": "$context.task.token"},
                {"target": "retry", "source": "$context.step.retryCount"},
                {"target": "step", "source": "$context.step.name"},
            ],
            retry=[{"errors": ["E"], "intervalSeconds": 1, "maxAttempts": 2}],
        )
    )
    tokens = []
    for n in range(3):
        task = h.task("t")
        assert task.input == {"token": task.token, "retry": n, "step": "t"}
        assert task.attempt == n + 1
        tokens.append(task.token)
        if n < 2:
            h.fail("t", "E")
            h.advance(10)
    assert len(set(tokens)) == 3
    assert [t.token for t in h.scheduled] == [token_for("exec1", t.activity) for t in h.scheduled]
    assert [e.detail["input"]["token"] for e in h.events("TaskScheduled")] == tokens
    h.succeed("t", {"ok": True})
    assert h.output == {"ok": True}


# --- task output that is not usable -----------------------------------------------------------------

BAD_OUTPUTS = [
    pytest.param([1, 2], id="array"),
    pytest.param('{"a": 1}', id="string"),
    pytest.param(None, id="null"),
    pytest.param(3, id="number"),
    pytest.param(True, id="boolean"),
]


@pytest.mark.parametrize("output", BAD_OUTPUTS)
def test_task_output_not_an_object_is_a_runtime_error(output: Any) -> None:
    h = Harness(one_task())
    h.send(TaskSucceeded(h.task("t").activity, output))
    assert h.status is Status.FAILED
    assert h.error[0] == RUNTIME_ERROR
    assert h.trace()[-4:] == ["TaskScheduled:t", "TaskFailed:t", "StepFailed:t", "ExecutionFailed"]


@pytest.mark.parametrize("output", BAD_OUTPUTS)
def test_task_output_not_an_object_is_catchable(output: Any) -> None:
    h = Harness(
        task_then(
            {
                "catch": [{"errors": [RUNTIME_ERROR], "goto": "handled"}],
                "errorMappings": [{"target": "err", "source": "$local.error"}],
            },
            {"type": "pass", "name": "handled"},
        )
    )
    h.send(TaskSucceeded(h.task("t").activity, output))
    assert h.status is Status.SUCCEEDED
    assert h.output == {"err": RUNTIME_ERROR}


def test_task_output_over_the_size_limit_is_a_catchable_runtime_error() -> None:
    h = Harness(
        task_then(
            {
                "retry": [{"errors": [RUNTIME_ERROR], "intervalSeconds": 0, "maxAttempts": 1}],
                "catch": [{"errors": ["FnF.ALL"], "goto": "handled"}],
                "errorMappings": [{"target": "err", "source": "$local.error"}],
            },
            {"type": "pass", "name": "handled"},
        ),
        max_data_bytes=200,
    )
    h.succeed("t", {"big": "x" * 300})
    assert h.task("t").attempt == 2  # retried
    h.succeed("t", {"big": "y" * 300})
    assert h.status is Status.SUCCEEDED
    assert h.output == {"err": RUNTIME_ERROR}
    assert "200" in h.events("TaskFailed")[0].detail["cause"]


# --- retry ------------------------------------------------------------------------------------------


def test_retry_backoff_timer_times_are_exact() -> None:
    h = Harness(
        one_task(
            retry=[
                {
                    "errors": ["E"],
                    "intervalSeconds": 2,
                    "multiplier": 3,
                    "maxIntervalSeconds": 20,
                    "maxAttempts": 4,
                }
            ]
        )
    )
    delays = []
    for _ in range(4):
        h.advance(100)  # the attempt runs for a while, then fails
        h.fail("t", "E", "again")
        assert h.tasks == {}  # backing off: nothing is running
        (timer,) = h.decisions[-1].commands
        assert isinstance(timer, StartTimer)
        delays.append((timer.fire_at - h.now).total_seconds())
        h.advance(delays[-1] - 0.5)
        assert h.tasks == {}
        h.advance(0.5)
        assert h.task("t").attempt == len(delays) + 1
    assert delays == [2.0, 6.0, 18.0, 20.0]  # 2, 2*3, 2*9, min(2*27, 20)
    assert [(t.attempt, h.events("TaskScheduled")[i].time - T0) for i, t in enumerate(h.scheduled)] == [
        (1, timedelta(0)),
        (2, timedelta(seconds=102)),
        (3, timedelta(seconds=208)),
        (4, timedelta(seconds=326)),
        (5, timedelta(seconds=446)),
    ]
    h.fail("t", "E", "last")
    assert h.status is Status.FAILED
    assert h.error == ("E", "last")
    assert len(h.scheduled) == 5  # maxAttempts retries after the first attempt


def test_retry_defaults_are_interval_1_multiplier_2_three_retries() -> None:
    h = Harness(one_task(retry=[{"errors": ["E"]}]))
    for _ in range(3):
        h.fail("t", "E")
        h.advance(1000)
    h.fail("t", "E")
    assert h.status is Status.FAILED
    assert h.timer_times() == [1.0, 1000 + 2.0, 2000 + 4.0]


def test_retry_with_fractional_intervals() -> None:
    h = Harness(
        one_task(retry=[{"errors": ["E"], "intervalSeconds": 0.5, "multiplier": 1.5, "maxAttempts": 3}])
    )
    for _ in range(3):
        h.fail("t", "E")
        h.advance(10)
    assert [c.fire_at for c in h.commands if isinstance(c, StartTimer)] == [
        T0 + timedelta(seconds=0.5),
        T0 + timedelta(seconds=10.75),
        T0 + timedelta(seconds=21.125),
    ]


def test_retry_interval_zero_reschedules_in_the_same_decision() -> None:
    h = Harness(one_task(retry=[{"errors": ["E"], "intervalSeconds": 0, "maxAttempts": 2}]))
    first = h.task("t")
    h.fail("t", "E")
    second = h.task("t")
    assert h.decisions[-1].commands == [second]
    assert second.activity != first.activity and second.attempt == 2
    assert h.timers == {}
    h.succeed("t", {"v": 1})
    assert h.output == {"v": 1}
    assert h.trace("TaskScheduled", "TaskFailed", "TaskSucceeded") == [
        "TaskScheduled:t",
        "TaskFailed:t",
        "TaskScheduled:t",
        "TaskSucceeded:t",
    ]


@pytest.mark.parametrize(
    ("policies", "errors", "scheduled", "status"),
    [
        # matching by name; a non-matching error is not retried
        ([{"errors": ["A"], "intervalSeconds": 0, "maxAttempts": 5}], ["B"], 1, Status.FAILED),
        ([{"errors": ["A"], "intervalSeconds": 0, "maxAttempts": 5}], ["A", "A", "B"], 3, Status.FAILED),
        # FnF.ALL matches anything
        (
            [{"errors": ["FnF.ALL"], "intervalSeconds": 0, "maxAttempts": 2}],
            ["X", "Y", "Z"],
            3,
            Status.FAILED,
        ),
        ([{"errors": ["FnF.ALL"], "intervalSeconds": 0, "maxAttempts": 2}], ["X", "Y"], 3, Status.SUCCEEDED),
        # maxAttempts 0: no retry at all
        ([{"errors": ["A"], "intervalSeconds": 0, "maxAttempts": 0}], ["A"], 1, Status.FAILED),
        # the first matching policy wins; once it is used up the error is not retried by a later one
        (
            [
                {"errors": ["A"], "intervalSeconds": 0, "maxAttempts": 1},
                {"errors": ["FnF.ALL"], "intervalSeconds": 0, "maxAttempts": 5},
            ],
            ["A", "A"],
            2,
            Status.FAILED,
        ),
        (
            [
                {"errors": ["A"], "intervalSeconds": 0, "maxAttempts": 1},
                {"errors": ["FnF.ALL"], "intervalSeconds": 0, "maxAttempts": 5},
            ],
            ["A", "B", "B", "A"],
            4,
            Status.FAILED,
        ),
        # each policy keeps its own counter
        (
            [
                {"errors": ["A"], "intervalSeconds": 0, "maxAttempts": 1},
                {"errors": ["B"], "intervalSeconds": 0, "maxAttempts": 1},
            ],
            ["A", "B"],
            3,
            Status.SUCCEEDED,
        ),
        (
            [
                {"errors": ["A"], "intervalSeconds": 0, "maxAttempts": 1},
                {"errors": ["B"], "intervalSeconds": 0, "maxAttempts": 1},
            ],
            ["B", "A", "B"],
            3,
            Status.FAILED,
        ),
        ([{"errors": ["A", "B"], "intervalSeconds": 0, "maxAttempts": 2}], ["B", "A", "B"], 3, Status.FAILED),
    ],
)
def test_retry_policy_matching(
    policies: list[dict[str, Any]], errors: list[str], scheduled: int, status: Status
) -> None:
    h = Harness(one_task(retry=policies))
    for error in errors:
        if h.finished:
            break
        h.fail("t", error, f"cause {error}")
    if not h.finished:
        h.succeed("t", {})
    assert len(h.scheduled) == scheduled
    assert h.status is status
    if status is Status.FAILED:
        assert h.error == (errors[scheduled - 1], f"cause {errors[scheduled - 1]}")


# --- catch ------------------------------------------------------------------------------------------

CATCH = fdl(f"""
    steps:
      - type: pass
        name: init
        outputMappings: [{{target: keep, source: kept}}, {{target: msg, source: old}}]
      - type: task
        name: t
        resourceArn: {ARN}
        retry:
          - errors: [Flaky]
            intervalSeconds: 1
            maxAttempts: 2
        errorMappings:
          - {{target: msg, source: $local.cause}}
          - {{target: code, source: $local.error}}
          - {{target: was, source: $input.keep}}
        catch:
          - errors: [Special]
            goto: special
          - errors: [Flaky, Other]
            goto: handler
      - type: pass
        name: skipped
        outputMappings: [{{target: skipped, source: true}}]
      - type: pass
        name: handler
        outputMappings: [{{target: handled, source: $input}}]
      - type: succeed
        name: done
      - type: pass
        name: special
        outputMappings: [{{target: special, source: true}}]
""")


def test_catch_maps_errors_into_the_parent_local_and_goes_to_the_sibling() -> None:
    h = Harness(CATCH)
    h.fail("t", "Other", "bad input")
    assert h.status is Status.SUCCEEDED
    assert h.steps() == ["init", "t", "handler", "done"]
    caught = {"keep": "kept", "msg": "bad input", "code": "Other", "was": "kept"}
    assert h.output == {**caught, "handled": caught}
    exited = h.last("StepExited", "t")
    assert exited.detail == {
        "output": {"msg": "bad input", "code": "Other", "was": "kept"},
        "error": "Other",
        "cause": "bad input",
        "retryCount": 0,
        "goto": "handler",
    }


def test_catch_after_retries_are_exhausted() -> None:
    h = Harness(CATCH)
    h.fail("t", "Flaky", "1")
    h.advance(1)
    h.fail("t", "Flaky", "2")
    h.advance(2)
    h.fail("t", "Flaky", "3")
    assert h.status is Status.SUCCEEDED
    assert len(h.scheduled) == 3
    assert h.output["msg"] == "3" and h.output["code"] == "Flaky"
    assert h.last("StepExited", "t").detail["retryCount"] == 2


def test_first_matching_catch_wins() -> None:
    h = Harness(CATCH)
    h.fail("t", "Special", "s")
    assert h.steps() == ["init", "t", "special"]
    assert h.output == {"keep": "kept", "msg": "s", "code": "Special", "was": "kept", "special": True}


def test_no_matching_catch_fails_the_execution() -> None:
    h = Harness(CATCH)
    h.fail("t", "Unknown", "nobody catches this")
    assert h.status is Status.FAILED
    assert h.error == ("Unknown", "nobody catches this")
    assert h.trace()[-3:] == ["TaskFailed:t", "StepFailed:t", "ExecutionFailed"]
    assert h.last("StepFailed").detail == {"error": "Unknown", "cause": "nobody catches this"}


def test_catch_without_error_mappings_adds_nothing_to_the_local() -> None:
    h = Harness(
        task_then(
            {"catch": [{"errors": ["FnF.ALL"], "goto": "after"}]},
            {"type": "pass", "name": "skipped"},
            {"type": "pass", "name": "after", "outputMappings": [{"target": "seen", "source": "$input"}]},
        ),
        {"i": 1},
    )
    h.fail("t", "Any")
    assert h.steps() == ["t", "after"]
    assert h.output == {"seen": {"i": 1}}


def test_catch_can_jump_backward() -> None:
    h = Harness(
        fdl(f"""
        steps:
          - type: pass
            name: again
          - type: task
            name: t
            resourceArn: {ARN}
            catch: [{{errors: [Retry], goto: again}}]
    """)
    )
    h.fail("t", "Retry")
    h.fail("t", "Retry")
    h.succeed("t", {"ok": 1})
    assert h.steps() == ["again", "t", "again", "t", "again", "t"]
    assert h.output == {"ok": 1}


def test_catch_inside_a_foreach_iteration_goes_to_a_sibling_in_that_iteration() -> None:
    h = Harness(
        fdl(f"""
        steps:
          - type: foreach
            name: each
            iterationMapping: {{collection: $.xs, item: x}}
            outputMappings: [{{target: all, source: $local}}]
            steps:
              - type: task
                name: t
                resourceArn: {ARN}
                errorMappings: [{{target: failed, source: $input.x}}]
                catch: [{{errors: [FnF.ALL], goto: skip}}]
              - type: pass
                name: ok
                outputMappings: [{{target: ok, source: $input.x}}]
              - type: pass
                name: skip
    """),
        {"xs": [1, 2]},
    )
    a, b = h.tasks_of("t")
    h.fail(a.activity, "Bad")
    h.succeed(b.activity, {})
    assert h.output == {"all": [{"failed": 1}, {"ok": 2}]}


# --- task timeout -----------------------------------------------------------------------------------


def test_task_timeout_fails_with_task_timeout() -> None:
    h = Harness(one_task(timeoutSeconds=5))
    task = h.task("t")
    assert task.timeout == 5
    timer = next(c for c in h.commands if isinstance(c, StartTimer))
    assert timer.fire_at == T0 + timedelta(seconds=5)
    h.advance(4.999)
    assert h.status is Status.RUNNING
    h.advance(0.001)
    assert h.status is Status.FAILED
    assert h.error[0] == TASK_TIMEOUT
    assert CancelTask(task.activity, task.resource_arn) in h.decisions[-1].commands
    assert h.trace()[-4:] == ["TaskScheduled:t", "TaskTimedOut:t", "StepFailed:t", "ExecutionFailed"]
    assert h.last("TaskTimedOut").detail["error"] == TASK_TIMEOUT
    assert h.last("TaskTimedOut").schedule_event_id == task.activity
    # the attempt's late result is stale
    late = h.send(TaskSucceeded(task.activity, {}))
    assert late.applied is False and late.events == [] and late.commands == []


def test_task_timeout_is_retried_and_a_late_result_is_ignored() -> None:
    h = Harness(
        one_task(
            timeoutSeconds=10, retry=[{"errors": [TASK_TIMEOUT], "intervalSeconds": 3, "maxAttempts": 1}]
        )
    )
    first = h.task("t")
    h.advance(10)  # times out; back-off timer for 3 s
    assert h.tasks == {}
    assert h.cancelled_tasks == [first.activity]
    late = h.send(TaskSucceeded(first.activity, {"late": True}))
    assert late.applied is False
    h.advance(3)
    second = h.task("t")
    assert second.attempt == 2 and second.token != first.token
    assert h.timer_times() == [10.0, 13.0, 23.0]  # first timeout, back-off, second timeout
    h.succeed("t", {"on": "time"})
    assert isinstance(h.decisions[-1].commands[0], CancelTimer)  # the second attempt's timeout timer
    assert h.status is Status.SUCCEEDED
    assert h.output == {"on": "time"}
    assert h.trace("TaskScheduled", "TaskTimedOut", "TaskSucceeded") == [
        "TaskScheduled:t",
        "TaskTimedOut:t",
        "TaskScheduled:t",
        "TaskSucceeded:t",
    ]


def test_task_success_cancels_its_timeout_timer_and_the_timer_is_then_stale() -> None:
    h = Harness(one_task(timeoutSeconds=30))
    timer = next(iter(h.timers))
    h.succeed("t", {})
    assert h.decisions[-1].commands == [CancelTimer(timer)]
    assert h.status is Status.SUCCEEDED


def test_wait_for_callback_without_report_times_out_and_is_caught() -> None:
    h = Harness(
        task_then(
            {
                "pattern": "waitForCallback",
                "timeoutSeconds": 86400,
                "inputMappings": [{"target": "token", "source": "$context.task.token"}],
                "catch": [{"errors": [TASK_TIMEOUT, "Rejected"], "goto": "notify"}],
                "errorMappings": [{"target": "reason", "source": "$local.error"}],
            },
            {"type": "pass", "name": "notify"},
        )
    )
    token = h.task("t").token
    h.submit("t")
    h.advance(86400)
    assert h.status is Status.SUCCEEDED
    assert h.output == {"reason": TASK_TIMEOUT}
    assert h.tasks == {}
    assert token not in [t.token for t in h.tasks.values()]


# --- output that no store could hold ----------------------------------------------------------------

UNSTORABLE = [
    pytest.param({"a": float("nan")}, id="nan"),
    pytest.param({"a": [float("inf")]}, id="infinity"),
    pytest.param({"a": "\ud800"}, id="lone-surrogate"),  # json.loads('"\\ud800"') gives this
    pytest.param({"\udcff": 1}, id="lone-surrogate-key"),
]


@pytest.mark.parametrize("output", UNSTORABLE)
def test_task_output_that_is_not_json_text_is_a_catchable_runtime_error(output: Any) -> None:
    h = Harness(
        task_then(
            {
                "catch": [{"errors": [RUNTIME_ERROR], "goto": "handled"}],
                "errorMappings": [{"target": "err", "source": "$local.error"}],
            },
            {"type": "pass", "name": "handled"},
        )
    )
    h.send(TaskSucceeded(h.task("t").activity, output))
    assert h.status is Status.SUCCEEDED
    assert h.output == {"err": RUNTIME_ERROR}
    assert "not valid JSON" in h.last("TaskFailed").detail["cause"]


def test_constant_that_is_not_json_text_fails_the_execution_instead_of_crashing() -> None:
    definition = '{"version": "v1", "type": "flow", "steps": [{"type": "pass", "name": "p",'
    definition += ' "outputMappings": [{"target": "x", "source": "\\ud800"}]}]}'
    h = Harness(definition)
    assert h.status is Status.FAILED
    assert h.error[0] == RUNTIME_ERROR
    assert h.trace() == ["ExecutionStarted", "StepEntered:p", "StepFailed:p", "ExecutionFailed"]


def test_execution_input_that_is_not_json_text_fails_the_execution() -> None:
    h = Harness(one_task(), {"a": float("nan")}, roundtrip=False)
    assert h.status is Status.FAILED
    assert h.error[0] == RUNTIME_ERROR


def test_retry_count_in_context_of_output_mappings() -> None:
    h = Harness(
        one_task(
            retry=[{"errors": ["E"], "intervalSeconds": 0, "maxAttempts": 3}],
            outputMappings=[
                {"target": "retries", "source": "$context.step.retryCount"},
                {"target": "v", "source": "$local.v"},
            ],
        )
    )
    h.fail("t", "E")
    h.fail("t", "E")
    h.succeed("t", {"v": 1})
    assert h.output == {"retries": 2, "v": 1}


def test_huge_backoff_is_capped_not_overflowing() -> None:
    """multiplier ** (n - 1) overflows a float for valid policies; the interval must stop at the cap."""
    h = Harness(
        one_task(
            retry=[{"errors": ["E"], "intervalSeconds": 1, "multiplier": 1000, "maxAttempts": 200}],
        )
    )
    for _ in range(200):
        h.fail("t", "E")
        (timer,) = h.decisions[-1].commands
        assert isinstance(timer, StartTimer)
        assert (timer.fire_at - h.now).total_seconds() <= 86400
        h.advance(86400)
    h.fail("t", "E")
    assert h.status is Status.FAILED
