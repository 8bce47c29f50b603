"""Rebuilding an execution's state from its history (pure), and redriving it from there."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fnflow.engine import (
    Decision,
    Env,
    Event,
    ExecState,
    ScheduleTask,
    StartTimer,
    TaskFailed,
    TaskSucceeded,
    TimerFired,
    compile_flow,
    decide,
    redrive,
    start,
)
from fnflow.engine.rebuild import HistoryMismatch, Recorded, at_step, before_end
from fnflow.fdl import parse_flow

FLOW = """\
version: v1
type: flow
steps:
  - type: task
    name: Fetch
    resourceArn: acs:fc:::services/s/functions/fetch
    timeoutSeconds: 30
    retry:
      - errors: [FnF.TaskTimeout, Flaky]
        intervalSeconds: 2
        maxAttempts: 2
  - type: parallel
    name: Both
    branches:
      - steps:
          - type: wait
            name: Pause
            duration: 60
      - steps:
          - type: task
            name: Store
            resourceArn: acs:fc:::services/s/functions/store
"""
T0 = datetime(2024, 1, 1, tzinfo=UTC)
PROGRAM = compile_flow(parse_flow(FLOW))


def env(at: datetime) -> Env:
    return Env(now=at, token=lambda activity: f"token-{activity}")


class Recorder:
    """Drives the engine as a runtime would and records the history."""

    def __init__(self) -> None:
        self.history: list[Recorded] = []
        self.timers: dict[int, datetime] = {}
        self.tasks: dict[str, int] = {}  # step -> outstanding activity
        self.state: ExecState | None = None

    def take(self, decision: Decision) -> None:
        self.state = decision.state
        for e in decision.events:
            self.history.append(Recorded(e.event_id, e.type, e.step, e.time, e.detail, e.schedule_event_id))
        for c in decision.commands:
            if isinstance(c, StartTimer):
                self.timers[c.timer] = c.fire_at
            elif isinstance(c, ScheduleTask):
                self.tasks[c.step] = c.activity

    def apply(self, event: Event, at: datetime) -> None:
        assert self.state is not None
        self.take(decide(PROGRAM, self.state, event, env(at)))

    def fire(self, at: datetime) -> None:
        timer = min((t for t in self.timers if self.state and t in self.state.timers), key=self.timers.get)
        self.apply(TimerFired(timer), at)


def failed_run() -> Recorder:
    r = Recorder()
    r.take(start(PROGRAM, "f", "e", {"x": 1}, env(T0)))
    r.apply(
        TaskFailed(r.tasks["Fetch"], "Flaky", "", started_at=T0 + timedelta(seconds=1)),
        T0 + timedelta(seconds=2),
    )
    r.fire(T0 + timedelta(seconds=4))  # the back-off
    r.fire(T0 + timedelta(seconds=34))  # the second attempt times out …
    r.fire(T0 + timedelta(seconds=36))  # … and is retried after its back-off
    r.apply(TaskSucceeded(r.tasks["Fetch"], {"fetched": True}), T0 + timedelta(seconds=40))
    r.apply(TaskFailed(r.tasks["Store"], "Full", "disk full"), T0 + timedelta(seconds=50))
    assert r.state is not None and r.state.status == "Failed"
    return r


def test_the_state_before_the_end_is_rebuilt_and_redriven_from_the_failed_step() -> None:
    r = failed_run()
    rebuilt = before_end(PROGRAM, "f", "e", {"x": 1}, r.history, env)
    assert rebuilt.ended_by is not None and (rebuilt.ended_by.type, rebuilt.ended_by.step) == (
        "TaskFailed",
        "Store",
    )
    assert rebuilt.state.status == "Running"
    pause = T0 + timedelta(seconds=40 + 60)
    assert list(rebuilt.timers_at.values()) == [pause]  # the wait of the other branch, still pending

    now = T0 + timedelta(hours=1)
    decision = redrive(
        PROGRAM,
        rebuilt.state,
        env(now),
        next_event=r.history[-1].event_id + 1,
        timers_at=rebuilt.timers_at,
        detail={},
    )
    assert decision.events[0].type == "ExecutionRedriven"
    assert decision.events[0].event_id == r.history[-1].event_id + 1
    [task] = [c for c in decision.commands if isinstance(c, ScheduleTask)]
    assert (task.step, task.attempt) == ("Store", 2)
    [timer] = [c for c in decision.commands if isinstance(c, StartTimer)]
    assert timer.fire_at == now  # the wait was due while the execution was failed: it ends at once

    decision = decide(PROGRAM, decision.state, TaskSucceeded(task.activity, {"stored": True}), env(now))
    decision = decide(PROGRAM, decision.state, TimerFired(timer.timer), env(now))
    assert decision.state.status == "Succeeded"
    assert decision.state.output == {"fetched": True}


def test_a_history_of_another_definition_is_refused() -> None:
    r = failed_run()
    other = compile_flow(
        parse_flow(
            FLOW.replace("intervalSeconds: 2", "intervalSeconds: 3").replace("name: Store", "name: Keep")
        )
    )
    with pytest.raises(HistoryMismatch, match="is this the definition the execution ran"):
        before_end(other, "f", "e", {"x": 1}, r.history, env)


def test_the_state_at_an_earlier_task_step_starts_a_fresh_attempt() -> None:
    r = failed_run()
    rebuilt, upto = at_step(PROGRAM, "f", "e", {"x": 1}, r.history, env, "Fetch")
    assert [e.type for e in r.history[:upto]] == ["ExecutionStarted", "StepEntered", "TaskScheduled"]
    now = T0 + timedelta(days=1)
    decision = redrive(
        PROGRAM,
        rebuilt.state,
        env(now),
        next_event=upto + 1,
        timers_at=rebuilt.timers_at,
        detail={"toStep": "Fetch"},
        event="ExecutionReset",
        fresh=True,
    )
    assert [e.type for e in decision.events] == ["ExecutionReset", "TaskScheduled"]
    [task] = [c for c in decision.commands if isinstance(c, ScheduleTask)]
    assert (task.step, task.attempt, task.activity) == ("Fetch", 1, upto + 2)
    [timeout] = [c for c in decision.commands if isinstance(c, StartTimer)]
    assert timeout.fire_at == now + timedelta(seconds=30)
    with pytest.raises(ValueError, match="never waited at step 'Nope'"):
        at_step(PROGRAM, "f", "e", {"x": 1}, r.history, env, "Nope")
