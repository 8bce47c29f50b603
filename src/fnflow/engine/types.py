"""What goes into the engine (events, the environment) and what comes out (history, commands)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fnflow.engine.state import ExecState, JsonObject

# --- events: something happened that an execution may be waiting for ---------------------------------


@dataclass(frozen=True)
class TaskSucceeded:
    """An attempt finished (the function returned, or ReportTaskSucceeded arrived)."""

    activity: int
    output: Any
    started_at: datetime | None = None  # when a worker started it; recorded as TaskStarted
    detail: JsonObject = field(default_factory=dict)  # more for the history (the version that ran)


@dataclass(frozen=True)
class TaskFailed:
    activity: int
    error: str
    cause: str = ""
    started_at: datetime | None = None
    detail: JsonObject = field(default_factory=dict)  # more for the history (the version that ran)


@dataclass(frozen=True)
class TaskSubmitted:
    """The attempt was handed over (a callback task, an asynchronous call, a child execution); the
    step waits for its result to be reported."""

    activity: int
    started_at: datetime | None = None
    detail: JsonObject = field(default_factory=dict)  # what was started, for the history (a child's name)


@dataclass(frozen=True)
class TimerFired:
    timer: int


@dataclass(frozen=True)
class StopRequested:
    error: str = ""
    cause: str = ""


Event = TaskSucceeded | TaskFailed | TaskSubmitted | TimerFired | StopRequested

# --- commands: work the runtime must do after committing the decision --------------------------------


@dataclass(frozen=True)
class ScheduleTask:
    activity: int
    step: str
    resource_arn: str
    pattern: str
    input: JsonObject
    service_params: JsonObject
    timeout: float | None
    token: str
    attempt: int


@dataclass(frozen=True)
class CancelTask:
    """The attempt is no longer wanted (it timed out, or the execution ended): withdraw what it started."""

    activity: int
    resource_arn: str


@dataclass(frozen=True)
class StartTimer:
    timer: int
    fire_at: datetime


@dataclass(frozen=True)
class CancelTimer:
    timer: int


Command = ScheduleTask | CancelTask | StartTimer | CancelTimer


@dataclass(frozen=True)
class HistoryEvent:
    """One entry of an execution's history, with FnF's event type names."""

    event_id: int
    type: str
    time: datetime
    step: str = ""
    detail: JsonObject = field(default_factory=dict)
    schedule_event_id: int = 0


@dataclass(frozen=True)
class Env:
    """What the engine takes from outside: the time, how to mint task tokens, and limits."""

    now: datetime
    token: Callable[[int], str] = str  # activity id -> task token
    max_data_bytes: int = 32 * 1024
    max_events: int = 5000
    max_steps_per_decision: int = 10_000


@dataclass
class Decision:
    state: ExecState
    events: list[HistoryEvent]
    commands: list[Command]
    applied: bool = True  # False when the event was stale (already completed, timed out, stopped)
