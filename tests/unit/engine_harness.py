"""A virtual runtime for engine unit tests: it plays the part the real runtime plays around the pure engine.

It keeps the execution state (round-tripped through JSON after every decision, as the store would),
appends history, holds the outstanding tasks and timers the engine asked for, and lets a test say
"complete the task of step X", "fail step X", "advance the clock", "stop". No database, no sleeping:
time only moves when a test advances the virtual clock, and due timers then fire in order.

After every decision it checks the invariants a runtime relies on: event ids are consecutive, the
engine cancels only what is outstanding, the state's own activity/timer tables match what the
runtime holds, a stale event leaves the state as it was, and a finished execution leaves
nothing behind.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

import yaml

from fnflow.engine import (
    CancelTask,
    CancelTimer,
    Command,
    Decision,
    Env,
    Event,
    ExecState,
    HistoryEvent,
    Program,
    ScheduleTask,
    StartTimer,
    Status,
    StopRequested,
    TaskFailed,
    TaskSubmitted,
    TaskSucceeded,
    TimerFired,
    compile_flow,
    decide,
    start,
)
from fnflow.fdl.model import Flow

T0 = datetime(2024, 1, 1, 12, 0, 0, tzinfo=UTC)
Worker = Callable[[ScheduleTask, datetime], "dict[str, Any] | tuple[str, str]"]
ARN = "acs:fc:::services/svc/functions/fn"


def load(definition: str | dict[str, Any], *, checked: bool = True) -> Program:
    """Compile an FDL document given as YAML text or as an already-parsed dict.

    It goes through the full validator (``fnflow.fdl.parse_flow``) when there is one, else (or with
    ``checked=False``, for definitions the whole-flow checks reject, such as steps after ``end: true``
    that nothing jumps to) through the model alone."""
    try:
        from fnflow.fdl import parse_flow
    except ImportError:  # pragma: no cover - an fdl without the whole-flow validator
        checked = False
    if not checked:
        data = yaml.safe_load(definition) if isinstance(definition, str) else definition
        return compile_flow(Flow.model_validate(data))
    text = definition if isinstance(definition, str) else json.dumps(definition)
    return compile_flow(parse_flow(text))


def token_for(execution: str, activity: int) -> str:
    return f"tok:{execution}:{activity}"


class Harness:
    def __init__(
        self,
        definition: str | dict[str, Any] | Program,
        input: dict[str, Any] | None = None,
        *,
        now: datetime = T0,
        flow_name: str = "flow",
        execution_name: str = "exec1",
        roundtrip: bool = True,
        max_data_bytes: int = 32 * 1024,
        max_events: int = 5000,
        max_steps_per_decision: int = 10_000,
        auto_start: bool = True,
        checked: bool = True,
    ) -> None:
        self.program = definition if isinstance(definition, Program) else load(definition, checked=checked)
        self.input = {} if input is None else input
        self.now = now
        self.flow_name = flow_name
        self.execution_name = execution_name
        self.roundtrip = roundtrip
        self.limits = {
            "max_data_bytes": max_data_bytes,
            "max_events": max_events,
            "max_steps_per_decision": max_steps_per_decision,
        }
        self.history: list[HistoryEvent] = []
        self.decisions: list[Decision] = []
        self.commands: list[Command] = []  # every command ever issued, in order
        self.tasks: dict[int, ScheduleTask] = {}  # outstanding tasks by activity id
        self.timers: dict[int, datetime] = {}  # outstanding timers by id
        self.scheduled: list[ScheduleTask] = []  # every ScheduleTask ever issued
        self.cancelled_tasks: list[int] = []
        self.cancelled_timers: list[int] = []
        self.max_outstanding: dict[str, int] = {}  # step name -> most tasks outstanding at once
        self.snapshots: list[str] = []  # the state JSON after every decision
        self.log: list[
            tuple[str, Event, datetime, Decision]
        ] = []  # (state JSON before, event, now, decision)
        self.state: ExecState | None = None
        if auto_start:
            self.begin()

    # --- driving the engine ----------------------------------------------------------------------

    def env(self, now: datetime | None = None) -> Env:
        name = self.execution_name
        return Env(now=now or self.now, token=lambda activity: token_for(name, activity), **self.limits)

    def begin(self) -> Decision:
        assert self.state is None, "already started"
        decision = start(self.program, self.flow_name, self.execution_name, self.input, self.env())
        return self._apply(decision)

    def send(self, event: Event) -> Decision:
        """Hand one event to the engine exactly as the runtime would."""
        assert self.state is not None
        before = self.state.model_dump_json()
        decision = decide(self.program, self.state.model_copy(deep=True), event, self.env())
        if not decision.applied:
            assert decision.events == [] and decision.commands == [], "a stale event produced effects"
            assert decision.state.model_dump_json() == before, "a stale event changed the state"
            self.decisions.append(decision)
            return decision
        if isinstance(event, TaskSucceeded | TaskFailed):  # the attempt is over as far as the runtime knows
            self.tasks.pop(event.activity, None)
        self.log.append((before, event, self.now, decision))
        return self._apply(decision)

    def _apply(self, decision: Decision) -> Decision:
        state = decision.state
        if self.roundtrip:
            text = state.model_dump_json()
            state = ExecState.model_validate_json(text)
            assert state.model_dump_json() == text, "state does not survive a JSON round trip"
        expected_id = self.history[-1].event_id + 1 if self.history else 1
        for event in decision.events:
            assert event.event_id == expected_id, (
                f"event ids not consecutive: {event} after {expected_id - 1}"
            )
            json.dumps(event.detail)  # history details must be plain JSON
            expected_id += 1
        assert state.next_event == expected_id
        self.history.extend(decision.events)
        for command in decision.commands:
            self.commands.append(command)
            if isinstance(command, ScheduleTask):
                assert command.activity not in self.tasks
                json.dumps(command.input)
                json.dumps(command.service_params)
                self.tasks[command.activity] = command
                self.scheduled.append(command)
                running = sum(1 for t in self.tasks.values() if t.step == command.step)
                self.max_outstanding[command.step] = max(self.max_outstanding.get(command.step, 0), running)
            elif isinstance(command, CancelTask):
                assert command.activity in self.tasks, f"cancelled a task that is not outstanding: {command}"
                del self.tasks[command.activity]
                self.cancelled_tasks.append(command.activity)
            elif isinstance(command, StartTimer):
                assert command.timer not in self.timers
                self.timers[command.timer] = command.fire_at
            elif isinstance(command, CancelTimer):
                assert command.timer in self.timers, f"cancelled a timer that is not outstanding: {command}"
                del self.timers[command.timer]
                self.cancelled_timers.append(command.timer)
            else:  # pragma: no cover
                raise AssertionError(f"unknown command {command!r}")
        assert set(state.activities) == set(self.tasks), (state.activities, self.tasks)
        assert set(state.timers) == set(self.timers), (state.timers, self.timers)
        if state.status is not Status.RUNNING:
            assert not self.tasks and not self.timers and not state.frames
        self.state = state
        self.decisions.append(decision)
        self.snapshots.append(state.model_dump_json())
        return decision

    # --- what a test script says -----------------------------------------------------------------

    def task(self, step: str) -> ScheduleTask:
        """The one outstanding task of ``step``."""
        found = [t for t in self.tasks.values() if t.step == step]
        assert len(found) == 1, (
            f"expected one outstanding task for {step!r}, have {list(self.tasks.values())}"
        )
        return found[0]

    def tasks_of(self, step: str) -> list[ScheduleTask]:
        return [t for t in self.tasks.values() if t.step == step]

    def _take(self, step: str | int) -> ScheduleTask:
        return self.tasks[step] if isinstance(step, int) else self.task(step)

    def succeed(self, step: str | int, output: Any = None, started_at: datetime | None = None) -> Decision:
        task = self._take(step)
        return self.send(TaskSucceeded(task.activity, {} if output is None else output, started_at))

    def fail(
        self, step: str | int, error: str, cause: str = "", started_at: datetime | None = None
    ) -> Decision:
        task = self._take(step)
        return self.send(TaskFailed(task.activity, error, cause, started_at))

    def submit(self, step: str | int, started_at: datetime | None = None) -> Decision:
        task = self.tasks[step] if isinstance(step, int) else self.task(step)
        return self.send(TaskSubmitted(task.activity, started_at))

    def report(
        self, token: str, output: Any = None, *, error: str | None = None, cause: str = ""
    ) -> Decision:
        """ReportTaskSucceeded/Failed: find the outstanding task by its token."""
        found = [t for t in self.tasks.values() if t.token == token]
        assert len(found) == 1, f"no outstanding task with token {token!r}"
        if error is not None:
            return self.fail(found[0].activity, error, cause)
        return self.succeed(found[0].activity, output)

    def stop(self, error: str = "", cause: str = "") -> Decision:
        decision = self.send(StopRequested(error, cause))
        return decision

    def advance(self, seconds: float = 0, *, to: datetime | None = None) -> list[Decision]:
        """Move the virtual clock forward, firing every due timer in (time, id) order at its own time."""
        target = to if to is not None else self.now + timedelta(seconds=seconds)
        assert target >= self.now
        decisions = []
        while True:
            due = sorted((at, timer) for timer, at in self.timers.items() if at <= target)
            if not due:
                break
            at, timer = due[0]
            self.now = at
            del self.timers[timer]
            decisions.append(self.send(TimerFired(timer)))
            if self.finished:
                break
        self.now = target
        return decisions

    def fire(self, timer: int) -> Decision:
        """Fire one timer now, whether or not it is due (a runtime that is late, or early)."""
        self.timers.pop(timer, None)
        return self.send(TimerFired(timer))

    def run(self, script: Iterable[tuple[Any, ...]]) -> Harness:
        """Play a script of ("succeed", step, output) / ("fail", step, error[, cause]) / ("submit", step) /
        ("advance", seconds) / ("stop", error, cause) actions."""
        for action, *args in script:
            getattr(self, action)(*args)
        return self

    def drive(self, worker: Worker, limit: int = 1000, *, must_finish: bool = True) -> Harness:
        """Run the execution to its end: every outstanding task (oldest first) goes to ``worker``, which
        returns an output object or an ``(error, cause)`` pair; with nothing outstanding the clock jumps
        to the next timer. ``must_finish=False``: ``limit`` steps may end it early (a goto loop)."""
        for _ in range(limit):
            if self.finished:
                return self
            if self.tasks:
                task = self.tasks[min(self.tasks)]
                result = worker(task, self.now)
                if isinstance(result, tuple):
                    self.fail(task.activity, *result)
                else:
                    self.succeed(task.activity, result)
            elif self.timers:
                self.advance(to=min(self.timers.values()))
            else:  # pragma: no cover
                raise AssertionError("running, but nothing is outstanding")
        if must_finish:
            raise AssertionError("the execution did not finish")
        return self

    # --- what a test checks ----------------------------------------------------------------------

    @property
    def status(self) -> Status:
        assert self.state is not None
        return self.state.status

    @property
    def finished(self) -> bool:
        return self.status is not Status.RUNNING

    @property
    def output(self) -> Any:
        assert self.state is not None
        return self.state.output

    @property
    def error(self) -> tuple[str | None, str | None]:
        assert self.state is not None
        return self.state.error, self.state.cause

    def trace(self, *types: str) -> list[str]:
        """History as "Type:step" strings (just "Type" for execution events), optionally only some types."""
        return [
            f"{e.type}:{e.step}" if e.step else e.type for e in self.history if not types or e.type in types
        ]

    def steps(self) -> list[str]:
        """Names of the steps entered, in order."""
        return [e.step for e in self.history if e.type == "StepEntered"]

    def events(self, type_: str, step: str | None = None) -> list[HistoryEvent]:
        return [e for e in self.history if e.type == type_ and (step is None or e.step == step)]

    def last(self, type_: str, step: str | None = None) -> HistoryEvent:
        found = self.events(type_, step)
        assert found, f"no {type_} event for {step!r}"
        return found[-1]

    def timer_times(self) -> list[float]:
        """Seconds from T0 of every StartTimer ever issued, in order."""
        return [(c.fire_at - T0).total_seconds() for c in self.commands if isinstance(c, StartTimer)]

    def history_json(self) -> str:
        return json.dumps([{**asdict(e), "time": e.time.isoformat()} for e in self.history], sort_keys=False)
