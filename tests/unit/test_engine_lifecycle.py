"""Engine: how executions end (flow timeout, stop, failures), stale events, limits, determinism and state that
survives serialization (spec/fdl.md §1.7.5, §5; DESIGN: the engine is a pure function)."""

from __future__ import annotations

import textwrap
from datetime import timedelta
from typing import Any

import pytest

from fnflow.engine import (
    FLOW_TIMEOUT,
    RUNTIME_ERROR,
    CancelTask,
    CancelTimer,
    ExecState,
    StartTimer,
    Status,
    StopRequested,
    TaskFailed,
    TaskSubmitted,
    TaskSucceeded,
    TimerFired,
    decide,
)

try:
    from engine_harness import ARN, T0, Harness, load
except ImportError:  # pragma: no cover - tests/unit imported as a package
    from tests.unit.engine_harness import ARN, T0, Harness, load


def fdl(body: str) -> str:
    return "version: v1\ntype: flow\n" + textwrap.dedent(body)


BUSY = fdl(f"""
    timeoutSeconds: 60
    steps:
      - type: parallel
        name: fan
        branches:
          - steps: [{{type: task, name: work, resourceArn: {ARN}, pattern: waitForCallback}}]
          - steps: [{{type: wait, name: nap, duration: 1000}}]
          - steps: [{{type: task, name: quick, resourceArn: {ARN}, timeoutSeconds: 5,
                      retry: [{{errors: [FnF.TaskTimeout], intervalSeconds: 100}}]}}]
      - type: pass
        name: never
""")


# --- flow timeout and stop --------------------------------------------------------------------------


def test_flow_timeout_times_out_and_cancels_everything_outstanding() -> None:
    h = Harness(BUSY)
    flow_timer = min(h.timers)
    assert h.timers[flow_timer] == T0 + timedelta(seconds=60)
    work_task = h.task("work")
    work = work_task.activity
    h.submit("work")
    h.advance(5)  # quick times out and backs off for 100 s
    assert h.tasks_of("quick") == []
    backoff = max(h.timers)
    h.advance(55)
    assert h.status is Status.TIMED_OUT
    assert h.error == (FLOW_TIMEOUT, "the execution did not finish within 60 seconds")
    assert h.output is None
    final = h.decisions[-1]
    assert [c for c in final.commands if isinstance(c, CancelTask)] == [
        CancelTask(work, work_task.resource_arn)
    ]
    cancelled = sorted(c.timer for c in final.commands if isinstance(c, CancelTimer))
    assert (
        flow_timer not in cancelled and backoff in cancelled and len(cancelled) == 2
    )  # the wait and the back-off
    assert h.trace()[-1] == "ExecutionTimedOut"
    assert h.last("ExecutionTimedOut").time == T0 + timedelta(seconds=60)
    assert h.last("ExecutionTimedOut").detail == {
        "error": FLOW_TIMEOUT,
        "cause": "the execution did not finish within 60 seconds",
    }
    # a report for the callback task arriving afterwards is stale
    late = h.send(TaskSucceeded(work, {}))
    assert late.applied is False and late.events == [] and late.commands == []


def test_flow_timeout_is_not_catchable() -> None:
    h = Harness(
        fdl(f"""
        timeoutSeconds: 10
        steps:
          - type: task
            name: t
            resourceArn: {ARN}
            catch: [{{errors: [FnF.ALL], goto: caught}}]
          - type: pass
            name: caught
    """)
    )
    h.advance(10)
    assert h.status is Status.TIMED_OUT
    assert h.steps() == ["t"]


def test_finishing_cancels_the_flow_timer() -> None:
    h = Harness(
        fdl(f"""
        timeoutSeconds: 60
        steps: [{{type: task, name: t, resourceArn: {ARN}}}]
    """)
    )
    (flow_timer,) = h.timers
    assert h.commands[0] == StartTimer(flow_timer, T0 + timedelta(seconds=60))
    h.succeed("t", {"x": 1})
    assert h.status is Status.SUCCEEDED
    assert h.decisions[-1].commands == [CancelTimer(flow_timer)]
    assert h.send(TimerFired(flow_timer)).applied is False


@pytest.mark.parametrize(
    ("error", "cause", "expected"),
    [("Cancelled", "by user", ("Cancelled", "by user")), ("", "", (None, None))],
)
def test_stop_requested(error: str, cause: str, expected: tuple[Any, Any]) -> None:
    h = Harness(BUSY)
    outstanding_tasks = sorted(h.tasks)
    outstanding_timers = sorted(h.timers)
    h.stop(error, cause)
    assert h.status is Status.STOPPED
    assert h.error == expected
    final = h.decisions[-1]
    assert sorted(c.activity for c in final.commands if isinstance(c, CancelTask)) == outstanding_tasks
    assert sorted(c.timer for c in final.commands if isinstance(c, CancelTimer)) == outstanding_timers
    assert h.trace()[-1] == "ExecutionStopped"
    assert h.last("ExecutionStopped").detail == {"error": error, "cause": cause}


# --- events that do not apply -----------------------------------------------------------------------


def test_events_after_the_end_are_not_applied() -> None:
    h = Harness(
        fdl(f"""
        timeoutSeconds: 60
        steps: [{{type: task, name: t, resourceArn: {ARN}, timeoutSeconds: 5}}]
    """)
    )
    activity = h.task("t").activity
    timers = list(h.timers)
    h.succeed("t", {})
    assert h.status is Status.SUCCEEDED
    before = h.state.model_dump_json() if h.state else ""
    n = len(h.history)
    for event in [
        TaskSucceeded(activity, {}),
        TaskFailed(activity, "E"),
        TaskSubmitted(activity),
        TimerFired(timers[0]),
        TimerFired(timers[1]),
        StopRequested("E", "C"),
        TaskSucceeded(999, {}),
    ]:
        decision = h.send(event)
        assert decision.applied is False
        assert decision.events == [] and decision.commands == []
    assert len(h.history) == n
    assert h.state is not None and h.state.model_dump_json() == before


@pytest.mark.parametrize(
    "event", [TaskSucceeded(999, {}), TaskFailed(999, "E"), TaskSubmitted(999), TimerFired(999)]
)
def test_unknown_activity_or_timer_while_running_is_stale(event: Any) -> None:
    h = Harness(fdl(f"steps: [{{type: task, name: t, resourceArn: {ARN}}}]"))
    decision = h.send(event)
    assert decision.applied is False
    assert h.status is Status.RUNNING
    assert len(h.tasks) == 1


def test_duplicate_completion_is_stale() -> None:
    h = Harness(
        fdl(f"""
        steps:
          - {{type: task, name: a, resourceArn: {ARN}}}
          - {{type: task, name: b, resourceArn: {ARN}}}
    """)
    )
    a = h.task("a").activity
    h.succeed("a", {"n": 1})
    assert h.send(TaskSucceeded(a, {"n": 2})).applied is False
    assert h.send(TaskFailed(a, "E")).applied is False
    h.succeed("b", {})
    assert h.output == {"n": 1}


def test_cancelled_timer_firing_late_is_stale() -> None:
    h = Harness(fdl(f"steps: [{{type: task, name: t, resourceArn: {ARN}, timeoutSeconds: 5}}]"))
    (timer,) = h.timers
    h.succeed("t", {})
    assert h.status is Status.SUCCEEDED
    assert h.cancelled_timers == [timer]
    h2 = Harness(
        fdl(f"""
        steps:
          - {{type: task, name: t, resourceArn: {ARN}, timeoutSeconds: 5}}
          - {{type: task, name: u, resourceArn: {ARN}}}
    """)
    )
    (timer,) = h2.timers
    h2.succeed("t", {})
    assert h2.status is Status.RUNNING
    stale = h2.fire(timer)  # the runtime missed the cancel and fires it anyway
    assert stale.applied is False
    assert h2.task("u").attempt == 1


# --- limits -----------------------------------------------------------------------------------------


def test_input_over_the_data_limit_fails_the_execution() -> None:
    h = Harness(fdl("steps: [{type: pass, name: a}]"), {"s": "x" * 200}, max_data_bytes=100)
    assert h.status is Status.FAILED
    assert h.error[0] == RUNTIME_ERROR
    assert "100" in (h.error[1] or "")
    assert h.trace()[-2:] == ["StepFailed:a", "ExecutionFailed"]


def test_step_output_over_the_data_limit_fails_the_execution() -> None:
    h = Harness(
        {
            "version": "v1",
            "type": "flow",
            "steps": [
                {"type": "pass", "name": "a", "outputMappings": [{"target": "s", "source": "y" * 200}]}
            ],
        },
        max_data_bytes=100,
    )
    assert h.status is Status.FAILED
    assert h.error[0] == RUNTIME_ERROR
    assert h.trace() == ["ExecutionStarted", "StepEntered:a", "StepFailed:a", "ExecutionFailed"]


def test_flow_output_over_the_data_limit_fails_the_execution() -> None:
    h = Harness(
        {
            "version": "v1",
            "type": "flow",
            "steps": [
                {
                    "type": "pass",
                    "name": "a",
                    "inputMappings": [],
                    "outputMappings": [{"target": "a", "source": "y" * 60}],
                },
                {
                    "type": "pass",
                    "name": "b",
                    "inputMappings": [{"target": "k", "source": 1}],
                    "outputMappings": [{"target": "b", "source": "z" * 60}],
                },
            ],
        },
        max_data_bytes=100,
    )
    assert h.status is Status.FAILED
    assert h.error[0] == RUNTIME_ERROR
    assert h.trace()[-2:] == ["StepExited:b", "ExecutionFailed"]


def test_data_limit_counts_utf8_bytes() -> None:
    body = fdl("steps: [{type: pass, name: a}]")
    assert (
        Harness(body, {"s": "é" * 41}, max_data_bytes=90).status is Status.SUCCEEDED
    )  # 8 + 82 bytes: at the limit
    assert Harness(body, {"s": "é" * 42}, max_data_bytes=90).status is Status.FAILED  # 8 + 84 bytes


LOOP = fdl(f"""
    steps:
      - type: task
        name: work
        resourceArn: {ARN}
      - type: choice
        name: check
        choices:
          - condition: $.done == false
            goto: work
""")


def test_max_events_fails_a_long_execution() -> None:
    h = Harness(LOOP, max_events=20)
    while not h.finished:
        h.succeed("work", {"done": False})
    assert h.status is Status.FAILED
    assert h.error[0] == RUNTIME_ERROR
    assert "20 events" in (h.error[1] or "")
    assert h.trace()[-3:] == ["TaskSucceeded:work", "StepExited:work", "ExecutionFailed"]
    assert len(h.history) <= 20 + 5


def test_steps_per_decision_limit_counts_per_decision_only() -> None:
    h = Harness(LOOP, max_steps_per_decision=2)
    for _ in range(30):
        h.succeed("work", {"done": False})
    h.succeed("work", {"done": True})
    assert h.status is Status.SUCCEEDED
    assert h.steps().count("work") == 31


def test_goto_loop_without_waits_stops_at_the_steps_limit() -> None:
    h = Harness(
        fdl("""
        timeoutSeconds: 100
        steps:
          - type: pass
            name: spin
          - type: choice
            name: again
            choices:
              - condition: "true"
                goto: spin
    """),
        max_steps_per_decision=50,
    )
    assert h.status is Status.FAILED
    assert h.error[0] == RUNTIME_ERROR
    assert "50 steps" in (h.error[1] or "")
    assert len(h.steps()) == 50
    assert h.steps()[:4] == ["spin", "again", "spin", "again"]
    assert h.decisions[-1].commands[-1] == CancelTimer(1)  # the flow timer
    assert h.timers == {}


# --- determinism and serialization ------------------------------------------------------------------

MIXED = load(
    fdl(f"""
    timeoutSeconds: 3600
    inputMappings: [{{target: xs, source: $input.xs}}, {{target: who, source: $context.execution.name}}]
    outputMappings: [{{target: results, source: $local.results}}, {{target: last, source: $local.last}}]
    steps:
      - type: foreach
        name: each
        maxConcurrency: 2
        iterationMapping: {{collection: $.xs, item: x, index: i}}
        outputMappings: [{{target: results, source: "$local[*].r"}}]
        steps:
          - type: task
            name: work
            resourceArn: {ARN}
            timeoutSeconds: 30
            inputMappings: [{{target: x, source: $input.x}}, {{target: token, source: $context.task.token}}]
            retry: [{{errors: [Flaky, FnF.TaskTimeout], intervalSeconds: 2, multiplier: 1.5}}]
            catch: [{{errors: [FnF.ALL], goto: skip}}]
            errorMappings: [{{target: r, source: $local.error}}]
            outputMappings: [{{target: r, source: $local.v}}]
          - type: wait
            name: breathe
            duration: 1.5
          - type: pass
            name: skip
      - type: parallel
        name: both
        branches:
          - steps: [{{type: task, name: left, resourceArn: {ARN}, pattern: waitForCallback}}]
          - steps:
              - type: choice
                name: route
                choices:
                  - condition: $.who == "exec1"
                    steps: [{{type: wait, name: pause, timestamp: "2024-01-01T12:30:00Z"}}]
      - type: pass
        name: end
        outputMappings: [{{target: last, source: done}}]
""")
)


def play(roundtrip: bool) -> Harness:
    h = Harness(MIXED, {"xs": ["a", "b", "c", "d"]}, roundtrip=roundtrip)

    def worker(task: Any, now: Any) -> Any:
        x = task.input.get("x")
        if task.step == "work" and x == "b" and task.attempt < 3:
            return ("Flaky", f"attempt {task.attempt}")
        if task.step == "work" and x == "d":
            return ("Fatal", "no")
        return {"v": (x or "").upper() or "L"}

    h.drive(worker)
    return h


def test_same_inputs_give_byte_identical_states_and_histories() -> None:
    first, second = play(True), play(True)
    assert first.status is Status.SUCCEEDED
    assert first.output == {"results": ["A", "B", "C", "Fatal"], "last": "done"}
    assert first.snapshots == second.snapshots
    assert first.history_json() == second.history_json()
    assert first.commands == second.commands


def test_json_round_trip_between_events_changes_nothing() -> None:
    kept, reloaded = play(False), play(True)
    assert kept.snapshots == reloaded.snapshots
    assert kept.history_json() == reloaded.history_json()
    assert kept.commands == reloaded.commands


def test_replaying_from_any_stored_state_gives_the_same_future() -> None:
    h = play(True)
    assert len(h.log) == 13
    for before, event, now, decision in h.log:
        again = decide(MIXED, ExecState.model_validate_json(before), event, h.env(now))
        assert again.state.model_dump_json() == decision.state.model_dump_json()
        assert again.events == decision.events
        assert again.commands == decision.commands


def test_a_program_says_whether_it_starts_flows_however_deep_the_task_step() -> None:
    child = "{type: task, name: c, resourceArn: 'acs:fnf:::flow/other', pattern: sync}"
    nested = fdl(f"""
        steps:
          - type: parallel
            name: p
            branches:
              - steps: [{{type: pass, name: a}}]
              - steps: [{child}]
    """)
    assert load(nested).starts_flows
    assert not load(fdl(f"steps: [{{type: task, name: f, resourceArn: '{ARN}'}}]")).starts_flows
    assert not load(BUSY).starts_flows
