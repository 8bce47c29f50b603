"""Task work items (leased to one process at a time) and timers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, delete, func, insert, select, true

from fnflow.store.prepared import ManyRows, Prepared
from fnflow.store.queries.base import from_ts, from_ts_req, to_ts
from fnflow.store.queries.leases import Lease, LeaseQueries
from fnflow.store.records import TaskRecord, TimerRecord
from fnflow.store.schema import tasks, timers

_ADD_TASKS = ManyRows(
    tasks,
    ("execution_id", "activity", "kind", "payload", "created_at", "lease_owner", "lease_until", "attempts"),
)
_DELETE_TASK = Prepared(
    delete(tasks).where(tasks.c.execution_id == bindparam("e"), tasks.c.activity == bindparam("a"))
)
_ADD_TIMER = Prepared(insert(timers).values({c.name: bindparam(c.name) for c in timers.c}))
_DELETE_TIMER = Prepared(
    delete(timers).where(timers.c.execution_id == bindparam("e"), timers.c.timer == bindparam("t"))
)


#: A task is claimable whenever its lease is free; each claim counts an attempt.
TASK_LEASE = Lease(
    tasks,
    ("execution_id", "activity"),
    ready=lambda _t, _now: true(),
    order="created_at",
    on_claim=lambda t, _now: {"attempts": t.c.attempts + 1},
)


def _task(row: Row[Any]) -> TaskRecord:
    m = row._mapping
    return TaskRecord(
        m["execution_id"],
        m["activity"],
        m["kind"],
        m["payload"],
        from_ts_req(m["created_at"]),
        m["lease_owner"],
        from_ts(m["lease_until"]),
        m["attempts"],
    )


class WorkQueries(LeaseQueries):
    def add_tasks(self, records: Sequence[TaskRecord]) -> None:
        if records:
            _ADD_TASKS.insert(
                self.conn,
                [
                    (
                        t.execution_id,
                        t.activity,
                        t.kind,
                        t.payload,
                        to_ts(t.created_at),
                        t.lease_owner,
                        to_ts(t.lease_until) if t.lease_until else None,
                        t.attempts,
                    )
                    for t in records
                ],
            )

    def delete_task(self, execution_id: str, activity: int) -> bool:
        return _DELETE_TASK.run(self.conn, {"e": execution_id, "a": activity}) > 0

    def get_task(self, execution_id: str, activity: int) -> TaskRecord | None:
        row = self.conn.execute(
            select(tasks).where(tasks.c.execution_id == execution_id, tasks.c.activity == activity)
        ).first()
        return None if row is None else _task(row)

    def claim_tasks(self, owner: str, now: datetime, lease_until: datetime, limit: int) -> list[TaskRecord]:
        """Lease up to ``limit`` tasks nobody holds (never leased, or whose lease has expired)."""
        return [_task(row) for row in self.claim(TASK_LEASE, owner, now, lease_until, limit)]

    def next_lease_expiry(self) -> datetime | None:
        return from_ts(self.conn.execute(select(func.min(tasks.c.lease_until))).scalar())

    def count_tasks(self) -> int:
        return int(self.conn.execute(select(func.count()).select_from(tasks)).scalar() or 0)

    # --- timers ------------------------------------------------------------------------------------

    def add_timers(self, records: Sequence[TimerRecord]) -> None:
        if records:
            rows = (
                {"execution_id": t.execution_id, "timer": t.timer, "fire_at": to_ts(t.fire_at)}
                for t in records
            )
            _ADD_TIMER.executemany(self.conn, rows)

    def delete_timer(self, execution_id: str, timer: int) -> bool:
        """Remove a timer; False if it was already gone (fired elsewhere, or cancelled)."""
        return _DELETE_TIMER.run(self.conn, {"e": execution_id, "t": timer}) > 0

    def delete_timers(self, keys: Sequence[tuple[str, int]]) -> None:
        if keys:
            _DELETE_TIMER.executemany(self.conn, ({"e": e, "t": t} for e, t in keys))

    def due_timers(self, until: datetime, limit: int) -> list[TimerRecord]:
        rows = self.conn.execute(
            select(timers).where(timers.c.fire_at <= to_ts(until)).order_by(timers.c.fire_at).limit(limit)
        )
        return [TimerRecord(r.execution_id, r.timer, from_ts_req(r.fire_at)) for r in rows]

    def next_timer_at(self) -> datetime | None:
        return from_ts(self.conn.execute(select(func.min(timers.c.fire_at))).scalar())
