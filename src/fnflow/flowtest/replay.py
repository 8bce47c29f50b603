"""Replay: run a recorded execution again, in-process, against its pinned definition or an edited
one, and find the first event where the two histories part — to check a change before deploying.

The recorded history is the mock: each task attempt answers what it answered then (its output,
or its error and cause), after as long as it took then; an attempt that timed out, or had not
ended, never answers. The replay starts with the recorded input, name and start time, on virtual
time, with the same engine and runtime as ``fnflow test``. Events are compared by type, step and
time since the start (to a second); ``TaskStarted`` events, which only a real worker records, are
left out of both.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from fnflow.fdl.timestamps import format_timestamp
from fnflow.flowtest.harness import FlowSource, Harness, Template
from fnflow.flowtest.spec import Mock

#: how far apart (seconds) the times of two events may be and still be the same event
TIME_TOLERANCE = 1.0
IGNORED = frozenset({"TaskStarted"})
RESULTS = ("TaskSucceeded", "TaskFailed", "TaskTimedOut")


@dataclass(frozen=True)
class Event:
    """One history event, as recorded (from the API) or replayed."""

    event_id: int
    type: str
    step: str
    time: datetime
    detail: Any
    schedule_event_id: int = 0


@dataclass(frozen=True)
class Recorded:
    flow_name: str
    name: str
    input: dict[str, Any]
    status: str
    events: list[Event]

    @property
    def started(self) -> datetime:
        return self.events[0].time


@dataclass(frozen=True)
class Divergence:
    index: int  # position in the compared events (1-based)
    recorded: Event | None  # None: the replay went on past the recorded end
    replayed: Event | None  # None: the replay stopped before
    why: str


@dataclass
class Replay:
    recorded: Recorded
    replayed: list[Event]
    status: str | None
    problems: list[str]
    divergence: Divergence | None

    def to_dict(self) -> dict[str, Any]:
        def event(e: Event | None) -> dict[str, Any] | None:
            if e is None:
                return None
            offset = (e.time - self.recorded.started).total_seconds()
            return {"eventId": e.event_id, "type": e.type, "stepName": e.step, "offsetSeconds": offset}

        d = self.divergence
        return {
            "flowName": self.recorded.flow_name,
            "name": self.recorded.name,
            "recordedEvents": len(_compared(self.recorded.events)),
            "replayedEvents": len(_compared(self.replayed)),
            "recordedStatus": self.recorded.status,
            "replayedStatus": self.status,
            "identical": d is None,
            "divergence": None
            if d is None
            else {
                "index": d.index,
                "why": d.why,
                "recorded": event(d.recorded),
                "replayed": event(d.replayed),
            },
            "problems": self.problems,
        }


def mocks_from_history(events: list[Event]) -> dict[str, list[Mock]]:
    """Per task step, what each of its attempts answered, in order (the mocks of a replay)."""
    scheduled = {e.event_id: e for e in events if e.type == "TaskScheduled"}
    outcome: dict[int, Mock] = {}
    for e in events:
        if e.type not in RESULTS or e.schedule_event_id not in scheduled:
            continue
        delay = max(0.0, (e.time - scheduled[e.schedule_event_id].time).total_seconds())
        detail = e.detail if isinstance(e.detail, dict) else {}
        if e.type == "TaskSucceeded":
            outcome[e.schedule_event_id] = Mock(result=detail.get("output", {}), delay=delay)
        elif e.type == "TaskFailed":
            error = str(detail.get("error") or "FnF.RuntimeError")
            outcome[e.schedule_event_id] = Mock(
                error=error, cause=str(detail.get("cause") or ""), delay=delay
            )
    mocks: dict[str, list[Mock]] = {}
    for event_id, e in sorted(scheduled.items()):
        mocks.setdefault(e.step, []).append(outcome.get(event_id, Mock(hang=True)))
    return mocks


def _compared(events: list[Event]) -> list[Event]:
    return [e for e in events if e.type not in IGNORED]


def _offset(e: Event, start: datetime) -> float:
    return (e.time - start).total_seconds()


def first_divergence(recorded: Recorded, replayed: list[Event], finished: bool) -> Divergence | None:
    """The first event where ``replayed`` differs from the recorded history (None: they agree).

    A recorded execution that has not finished agrees with any replay that begins with its events."""
    ours, theirs = _compared(recorded.events), _compared(replayed)
    start = recorded.started
    for i, (a, b) in enumerate(zip(ours, theirs, strict=False), start=1):
        if (a.type, a.step) != (b.type, b.step):
            return Divergence(i, a, b, "a different event")
        if abs(_offset(a, start) - _offset(b, start)) > TIME_TOLERANCE:
            return Divergence(i, a, b, "the same event at another time")
        if a.type in ("ExecutionSucceeded", "StepExited") and _output(a) != _output(b):
            return Divergence(i, a, b, "another output")
    if len(theirs) < len(ours):
        return Divergence(len(theirs) + 1, ours[len(theirs)], None, "the replay stopped here")
    if len(theirs) > len(ours) and finished:
        return Divergence(len(ours) + 1, None, theirs[len(ours)], "the replay went on after the recorded end")
    return None


def _output(e: Event) -> Any:
    return e.detail.get("output") if isinstance(e.detail, dict) else None


async def replay(recorded: Recorded, definition: str, template: Template, *, time_limit: float) -> Replay:
    """Run ``recorded`` again against ``definition`` (FDL text) and compare the histories."""
    flows = {recorded.flow_name: FlowSource(recorded.flow_name, Path("<definition>"), definition)}
    harness = Harness(
        template, flows, mocks_from_history(recorded.events), start=recorded.started, time_limit=time_limit
    )
    run = await harness.run(recorded.flow_name, recorded.input, recorded.name)
    replayed = []
    if run.execution is not None:
        for e in run.execution.history:
            replayed.append(
                Event(e.event_id, e.type, e.step, e.time, json.loads(e.detail), e.schedule_event_id)
            )
    finished = recorded.status != "Running"
    status = run.record.status if run.record else None
    return Replay(recorded, replayed, status, run.problems, first_divergence(recorded, replayed, finished))


def describe(e: Event | None, start: datetime) -> str:
    if e is None:
        return "(nothing)"
    step = f" {e.step!r}" if e.step else ""
    return f"#{e.event_id} {e.type}{step} at +{_offset(e, start):g}s ({format_timestamp(e.time)})"
