"""Where each step of an execution stands, read from its history (pure)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from fnflow.services.progress import progress
from fnflow.store import HistoryRecord

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def history(*events: tuple[str, str, dict[str, Any]]) -> list[HistoryRecord]:
    return [
        HistoryRecord(i + 1, kind, step, T0 + timedelta(seconds=i), json.dumps(detail))
        for i, (kind, step, detail) in enumerate(events)
    ]


def test_states_through_retries_catches_callbacks_and_waits() -> None:
    events = history(
        ("ExecutionStarted", "", {}),
        ("StepEntered", "A", {"input": {"a": 1}}),
        ("TaskScheduled", "A", {}),
        ("TaskFailed", "A", {"error": "E", "cause": "first"}),
        ("TaskScheduled", "A", {}),
        ("TaskSucceeded", "A", {"output": {"b": 2}}),
        ("StepExited", "A", {"output": {"b": 2}}),
        ("StepEntered", "B", {"input": {}}),
        ("TaskScheduled", "B", {}),
        ("TaskFailed", "B", {"error": "Boom", "cause": "no"}),
        ("StepExited", "B", {"output": {}, "error": "Boom", "cause": "no", "goto": "C"}),
        ("StepEntered", "C", {"input": {}}),
        ("TaskScheduled", "C", {}),
        ("TaskSubmitted", "C", {"childExecution": {"flowName": "f", "name": "n"}}),
        ("StepEntered", "W", {"input": {}}),
    )
    steps = progress(events, finished=False, wait_steps=frozenset({"W"}))
    a, b, c, w = steps["A"], steps["B"], steps["C"], steps["W"]
    assert (a.state, a.attempts, a.retries, a.output, a.started, a.ended) == (
        "succeeded", 2, 1, {"b": 2}, T0 + timedelta(seconds=1), T0 + timedelta(seconds=6),
    )  # fmt: skip
    assert (b.state, b.error, b.cause) == ("caught", "Boom", "no")
    assert (c.state, c.waiting_for, c.submitted) == (
        "waiting",
        "child",
        {"childExecution": {"flowName": "f", "name": "n"}},
    )
    assert (w.state, w.waiting_for) == ("waiting", "timer")
    ended = progress(events, finished=True, wait_steps=frozenset({"W"}))
    assert (ended["C"].state, ended["W"].state, ended["A"].state) == (
        "interrupted",
        "interrupted",
        "succeeded",
    )


def test_a_failing_attempt_waits_for_its_retry_and_a_failed_step_keeps_its_error() -> None:
    events = history(
        ("StepEntered", "T", {"input": {}}),
        ("TaskScheduled", "T", {}),
        ("TaskFailed", "T", {"error": "FC.Unknown", "cause": "crash"}),
    )
    step = progress(events, finished=False)["T"]
    assert (step.state, step.waiting_for, step.error) == ("waiting", "retry", "FC.Unknown")
    events += history(("StepFailed", "T", {"error": "FC.Unknown", "cause": "crash"}))[:1]
    assert progress(events, finished=True)["T"].state == "failed"
    assert progress(events, finished=True)["T"].to_json()["retries"] == 0


def test_a_step_run_in_every_iteration_counts_its_entries() -> None:
    iteration = [("StepEntered", "Each", {"input": {}}), ("StepExited", "Each", {"output": {}})]
    step = progress(history(*(iteration * 3)), finished=True)["Each"]
    assert (step.state, step.entered, step.attempts) == ("succeeded", 3, 0)
