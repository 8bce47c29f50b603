"""Records for the contract tests, with fixed times (tests never read the clock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fnflow.store import (
    ApiKeyRecord,
    ExecutionRecord,
    FunctionRecord,
    HistoryRecord,
    Store,
    TaskRecord,
    TimerRecord,
    Tx,
)

T0 = datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def execution(
    name: str, *, flow: str = "f", status: str = "Running", started: float = 0, id: str | None = None
) -> ExecutionRecord:
    return ExecutionRecord(
        id=id or f"id-{flow}-{name}",
        flow_name=flow,
        name=name,
        status=status,
        definition_hash="h1",
        input='{"n": 1}',
        started_at=at(started),
        state='{"step": "a"}',
    )


def event(event_id: int, *, type: str = "StepStarted", step: str = "a") -> HistoryRecord:
    return HistoryRecord(event_id, type, step, at(event_id), f'{{"i": {event_id}}}', event_id - 1)


def task(
    execution_id: str,
    activity: int,
    *,
    created: float = 0,
    owner: str | None = None,
    lease_until: float | None = None,
) -> TaskRecord:
    return TaskRecord(
        execution_id,
        activity,
        "invoke",
        f'{{"activity": {activity}}}',
        at(created),
        owner,
        None if lease_until is None else at(lease_until),
    )


def timer(execution_id: str, number: int, fire: float) -> TimerRecord:
    return TimerRecord(execution_id, number, at(fire))


def function(
    name: str, *, service: str = "svc", checksum: str = "c1", handler: str = "index.handler"
) -> FunctionRecord:
    return FunctionRecord(
        service=service,
        name=name,
        runtime="python3",
        handler=handler,
        code_checksum=checksum,
        timeout=30.0,
        memory_mb=128,
        max_instances=4,
        environment={"A": "1", "B": "two"},
        description="a function",
    )


def api_key(key_id: str, *, created: float = 0, enabled: bool = True, scope: str = "admin") -> ApiKeyRecord:
    return ApiKeyRecord(key_id, f"secret-{key_id}", scope, f"key {key_id}", at(created), enabled)


def insert(store: Store, *records: ExecutionRecord) -> None:
    """Insert executions in one write."""

    def job(tx: Tx) -> None:
        for record in records:
            tx.insert_execution(record)

    store.write_sync(job)
