"""An execution's state, rebuilt from its history by running the engine over it again (pure).

The engine is deterministic: given the same program, input, times and task results it makes the
same decisions and the same history. So the history tells which outside event each decision
answered — a task result, a timer (a wait that ended, a back-off, a timeout), a stop — and applying
those again rebuilds the state at any point. Each decision's events must be the recorded ones
(same ids, types and steps); if they are not, the history is not this program's and
``HistoryMismatch`` says where.

``before_end`` is what a redrive needs: the state just before the decision that ended the
execution, and when each timer then pending was due.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fnflow.engine.interpreter import decide, redrive, start
from fnflow.engine.program import Program
from fnflow.engine.state import ExecState, TaskFrame, WaitFrame
from fnflow.engine.types import (
    CancelTimer,
    Decision,
    Env,
    Event,
    StartTimer,
    StopRequested,
    TaskFailed,
    TaskSubmitted,
    TaskSucceeded,
    TimerFired,
)

ENDS = ("ExecutionSucceeded", "ExecutionFailed", "ExecutionTimedOut", "ExecutionStopped")


class HistoryMismatch(ValueError):
    """The history was not made by this program (or not by this engine)."""


@dataclass(frozen=True)
class Recorded:
    """One stored history event."""

    event_id: int
    type: str
    step: str
    time: datetime
    detail: dict[str, Any]
    schedule_event_id: int = 0


@dataclass
class Rebuilt:
    state: ExecState
    timers_at: dict[int, datetime] = field(default_factory=dict)  # pending timers: when they are due
    ended_by: Recorded | None = None  # the first event of the decision that ended the execution


def _timer(state: ExecState, match: Callable[[int, Any], bool]) -> int | None:
    return next((t for t, f in state.timers.items() if match(f, state.frames.get(f))), None)


def _event_for(state: ExecState, history: list[Recorded], i: int) -> Event:
    """The outside event that made the decision whose first event is ``history[i]``."""
    e = history[i]
    started_at = None
    if e.type == "TaskStarted":
        started_at = e.time
        result = next(
            (
                r
                for r in history[i + 1 :]
                if r.schedule_event_id == e.schedule_event_id and r.type != "TaskStarted"
            ),
            None,
        )
        if result is None:
            raise HistoryMismatch(f"event {e.event_id} (TaskStarted) has no result after it")
        e = result
    if e.type == "TaskSucceeded":
        return TaskSucceeded(e.schedule_event_id, e.detail.get("output"), started_at)
    if e.type == "TaskFailed":
        error = str(e.detail.get("error", ""))
        return TaskFailed(e.schedule_event_id, error, str(e.detail.get("cause", "")), started_at)
    if e.type == "TaskSubmitted":
        return TaskSubmitted(e.schedule_event_id, started_at, dict(e.detail))
    if e.type == "ExecutionStopped":
        return StopRequested(str(e.detail.get("error", "")), str(e.detail.get("cause", "")))
    timer: int | None = None
    if e.type == "TaskTimedOut":
        timer = _timer(state, lambda _, f: isinstance(f, TaskFrame) and f.activity == e.schedule_event_id)
    elif e.type == "StepExited":
        timer = _timer(
            state, lambda _, f: isinstance(f, WaitFrame) and f.entered_event == e.schedule_event_id
        )
    elif e.type == "TaskScheduled":  # a retry after its back-off
        timer = _timer(
            state,
            lambda _, f: (
                isinstance(f, TaskFrame) and f.activity is None and f.entered_event == e.schedule_event_id
            ),
        )
    elif e.type == "ExecutionTimedOut":
        timer = _timer(state, lambda frame_id, _: frame_id == 0)
    if timer is None:
        raise HistoryMismatch(f"event {e.event_id} ({e.type} {e.step!r}) was not expected here")
    return TimerFired(timer)


def _check(decision: Decision, history: list[Recorded], i: int) -> int:
    """The index after the recorded events ``decision`` made again; HistoryMismatch if they differ."""
    for k, made in enumerate(decision.events):
        if i + k >= len(history):
            raise HistoryMismatch(
                f"the engine makes event {made.event_id} ({made.type}), which was not recorded"
            )
        recorded = history[i + k]
        if (made.event_id, made.type, made.step) != (recorded.event_id, recorded.type, recorded.step):
            raise HistoryMismatch(
                f"event {recorded.event_id} was {recorded.type} {recorded.step!r}; the engine makes "
                f"{made.type} {made.step!r} (is this the definition the execution ran?)"
            )
    return i + len(decision.events)


def _track(decision: Decision, timers_at: dict[int, datetime]) -> None:
    for command in decision.commands:
        if isinstance(command, StartTimer):
            timers_at[command.timer] = command.fire_at
        elif isinstance(command, CancelTimer):
            timers_at.pop(command.timer, None)


def _started(
    program: Program,
    flow_name: str,
    execution_name: str,
    input: dict[str, Any],
    history: list[Recorded],
    env_at: Callable[[datetime], Env],
) -> Decision:
    """The execution's first decision, made again from its ExecutionStarted event."""
    if not history or history[0].type != "ExecutionStarted":
        raise HistoryMismatch("the history does not begin with ExecutionStarted")
    first = history[0]
    return start(program, flow_name, execution_name, input, env_at(first.time), first.detail.get("startedBy"))


def at_step(
    program: Program,
    flow_name: str,
    execution_name: str,
    input: dict[str, Any],
    history: list[Recorded],
    env_at: Callable[[datetime], Env],
    step: str,
) -> tuple[Rebuilt, int]:
    """The state just after the decision that first entered task step ``step`` (its attempt then
    outstanding), and how many recorded events led there. ValueError if the history never enters it."""
    decision = _started(program, flow_name, execution_name, input, history, env_at)
    timers_at: dict[int, datetime] = {}
    i = 0
    while True:
        end = _check(decision, history, i)
        entered = any(e.type == "StepEntered" and e.step == step for e in decision.events)
        if entered and not decision.state.status.finished:
            _track(decision, timers_at)
            pending = {t: at for t, at in timers_at.items() if t in decision.state.timers}
            return Rebuilt(decision.state, pending, None), end
        if entered or end >= len(history):
            raise ValueError(f"the execution never waited at step {step!r}")
        _track(decision, timers_at)
        i = end
        e = history[i]
        if e.type == "ExecutionRedriven":
            raise ValueError(f"the execution was redriven before it reached step {step!r}")
        decision = decide(program, decision.state, _event_for(decision.state, history, i), env_at(e.time))
        if not decision.applied:
            raise HistoryMismatch(f"event {e.event_id} ({e.type} {e.step!r}) does not apply here")


def before_end(
    program: Program,
    flow_name: str,
    execution_name: str,
    input: dict[str, Any],
    history: list[Recorded],
    env_at: Callable[[datetime], Env],
) -> Rebuilt:
    """The state just before the decision that ended the execution (HistoryMismatch if the history
    is not this program's, ValueError if it has not ended)."""
    decision = _started(program, flow_name, execution_name, input, history, env_at)
    timers_at: dict[int, datetime] = {}
    _track(decision, timers_at)
    i = _check(decision, history, 0)
    if decision.state.status.finished and i == len(history):
        raise ValueError("the execution ended in its first decision, before any task ran")
    state = decision.state
    while i < len(history):
        e = history[i]
        before = state.model_copy(deep=True)
        if e.type == "ExecutionRedriven":
            decision = redrive(
                program,
                state,
                env_at(e.time),
                next_event=e.event_id,
                timers_at=dict(timers_at),
                detail=e.detail,
            )
        else:
            decision = decide(program, state, _event_for(state, history, i), env_at(e.time))
        if not decision.applied:
            raise HistoryMismatch(f"event {e.event_id} ({e.type} {e.step!r}) does not apply here")
        end = _check(decision, history, i)
        if decision.state.status.finished:
            if end == len(history):
                pending = {t: at for t, at in timers_at.items() if t in before.timers}
                return Rebuilt(before, pending, e)
            state, i = before, end  # a redrive follows, which goes on from before this end
            continue
        _track(decision, timers_at)
        state, i = decision.state, end
    raise ValueError("the execution has not ended")
