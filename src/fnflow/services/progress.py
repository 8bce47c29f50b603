"""Where each step of an execution stands, read from its history (pure): what the console colours.

A step may run many times (a foreach body, a loop), so its progress counts entries and attempts
and keeps the last input, output, error and times. States: ``notReached``; ``running`` (entered,
working); ``waiting`` (for a timer, a retry's back-off, a callback, a child execution, a message's
consumer, an asynchronous call); ``succeeded``; ``caught`` (it failed and a catch took over);
``failed``; ``interrupted`` (the execution ended while the step was open).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fnflow.fdl.timestamps import format_timestamp
from fnflow.store import HistoryRecord

OUTCOMES = {"TaskSucceeded", "TaskFailed", "TaskTimedOut"}


@dataclass
class StepProgress:
    state: str = "notReached"
    waiting_for: str | None = None  # timer | retry | callback | child | message | call
    entered: int = 0
    open: int = 0  # entries not yet ended
    attempts: int = 0  # task attempts scheduled
    input: Any = None
    output: Any = None
    error: str | None = None
    cause: str | None = None
    started: datetime | None = None
    ended: datetime | None = None
    submitted: dict[str, Any] = field(default_factory=dict)  # what a handed-over attempt started

    @property
    def retries(self) -> int:
        return max(0, self.attempts - self.entered)

    def to_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "waitingFor": self.waiting_for,
            "entered": self.entered,
            "attempts": self.attempts,
            "retries": self.retries,
            "input": self.input,
            "output": self.output,
            "error": self.error,
            "cause": self.cause,
            "startedTime": format_timestamp(self.started) if self.started else None,
            "endedTime": format_timestamp(self.ended) if self.ended else None,
            "submitted": self.submitted or None,
        }


def _submitted_for(detail: dict[str, Any]) -> str:
    if "childExecution" in detail:
        return "child"
    if "queue" in detail or "topic" in detail:
        return "message"
    if "callId" in detail:
        return "call"
    return "callback"


def progress(
    events: list[HistoryRecord], finished: bool, wait_steps: frozenset[str] = frozenset()
) -> dict[str, StepProgress]:
    """Each step's progress after ``events`` (in order); ``finished``: the execution has ended;
    ``wait_steps``: the flow's wait steps (an open one waits for its timer)."""
    steps: dict[str, StepProgress] = {}
    for event in events:
        if not event.step:
            continue
        step = steps.setdefault(event.step, StepProgress())
        detail = json.loads(event.detail) if event.detail else {}
        kind = event.type
        if kind == "StepEntered":
            step.entered += 1
            step.open += 1
            step.input = detail.get("input")
            step.started = step.started or event.time
            step.state, step.waiting_for = "running", None
            if event.step in wait_steps:
                step.state, step.waiting_for = "waiting", "timer"
        elif kind == "TaskScheduled":
            step.attempts += 1
            step.state, step.waiting_for = "running", None
        elif kind == "TaskSubmitted":
            step.submitted = detail
            step.state, step.waiting_for = "waiting", _submitted_for(detail)
        elif kind in OUTCOMES:
            step.waiting_for = None
            if kind != "TaskSucceeded":
                step.error, step.cause = detail.get("error"), detail.get("cause")
                step.state, step.waiting_for = "waiting", "retry"  # until a catch or a failure says otherwise
        elif kind in ("StepExited", "StepFailed"):
            step.open -= 1
            step.ended = event.time
            step.output = detail.get("output")
            if kind == "StepFailed":
                step.state = "failed"
            elif "error" in detail:
                step.state = "caught"
            else:
                step.state = "succeeded"
            if kind == "StepFailed" or "error" in detail:
                step.error, step.cause = detail.get("error"), detail.get("cause")
            step.waiting_for = None
    if finished:
        for step in steps.values():
            if step.open > 0:
                step.state, step.waiting_for = "interrupted", None
    return steps
