"""The store's records: made fast (``fast_init``), copied fast (``evolve``), still frozen dataclasses."""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from fnflow.store.records import CallRecord, HistoryRecord, evolve, fast_init

NOW = datetime(2026, 12, 6, tzinfo=UTC)


def call(**changes: object) -> CallRecord:
    values: dict[str, object] = dict(
        id="c1",
        service="s",
        function="f",
        status="Enqueued",
        method="POST",
        path="/",
        query="",
        headers="[]",
        body=b"{}",
        created_at=NOW,
        run_at=NOW,
        expires_at=NOW,
        max_attempts=3,
    )
    return CallRecord(**{**values, **changes})  # type: ignore[arg-type]


def test_fast_init_keeps_the_dataclass_signature_defaults_and_frozenness() -> None:
    assert str(inspect.signature(HistoryRecord)) == (
        "(event_id, type, step, time, detail, schedule_event_id=0)"
    )
    record = call(queue="q")
    assert (record.queue, record.attempts, record.dead, record.version) == ("q", 0, False, None)
    assert record == call(queue="q") and hash(record) == hash(call(queue="q"))
    assert HistoryRecord(1, "ExecutionStarted", "", NOW, "{}") == HistoryRecord(
        event_id=1, type="ExecutionStarted", step="", time=NOW, detail="{}", schedule_event_id=0
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.id = "c2"  # type: ignore[misc]
    with pytest.raises(TypeError, match="missing"):
        CallRecord(id="c1")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected keyword"):
        call(colour="red")


def test_fast_init_refuses_what_it_cannot_initialise() -> None:
    with pytest.raises(TypeError, match="cannot initialise"):

        @fast_init
        @dataclass(frozen=True)
        class Listed:
            items: list[int] = field(default_factory=list)

    with pytest.raises(TypeError, match="__post_init__"):

        @fast_init
        @dataclass(frozen=True)
        class Checked:
            n: int

            def __post_init__(self) -> None:
                pass


def test_evolve_copies_with_changes_and_refuses_unknown_fields() -> None:
    record = call()
    running = evolve(record, status="Running", attempts=1)
    assert (running.status, running.attempts, record.status) == ("Running", 1, "Enqueued")
    assert running == dataclasses.replace(record, status="Running", attempts=1)
    with pytest.raises(TypeError, match="no field"):
        evolve(record, colour="red")
