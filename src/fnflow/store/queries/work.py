"""Task work items (leased to one process at a time) and timers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, delete, func, insert, or_, select, update

from fnflow.store.prepared import Prepared
from fnflow.store.queries.base import Queries, from_ts, from_ts_req, to_ts
from fnflow.store.records import TaskRecord, TimerRecord
from fnflow.store.schema import tasks, timers

_ADD_TASK = Prepared(insert(tasks).values({c.name: bindparam(c.name) for c in tasks.c}))
_DELETE_TASK = Prepared(
    delete(tasks).where(tasks.c.execution_id == bindparam("e"), tasks.c.activity == bindparam("a"))
)
_ADD_TIMER = Prepared(insert(timers).values({c.name: bindparam(c.name) for c in timers.c}))
_DELETE_TIMER = Prepared(
    delete(timers).where(timers.c.execution_id == bindparam("e"), timers.c.timer == bindparam("t"))
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


class WorkQueries(Queries):
    def add_tasks(self, records: Sequence[TaskRecord]) -> None:
        if records:
            _ADD_TASK.executemany(
                self.conn,
                (
                    {
                        "execution_id": t.execution_id,
                        "activity": t.activity,
                        "kind": t.kind,
                        "payload": t.payload,
                        "created_at": to_ts(t.created_at),
                        "lease_owner": t.lease_owner,
                        "lease_until": to_ts(t.lease_until) if t.lease_until else None,
                        "attempts": t.attempts,
                    }
                    for t in records
                ),
            )

    def delete_task(self, execution_id: str, activity: int) -> bool:
        cursor = _DELETE_TASK.execute(self.conn, {"e": execution_id, "a": activity})
        deleted = cursor.rowcount > 0
        cursor.close()
        return bool(deleted)

    def get_task(self, execution_id: str, activity: int) -> TaskRecord | None:
        row = self.conn.execute(
            select(tasks).where(tasks.c.execution_id == execution_id, tasks.c.activity == activity)
        ).first()
        return None if row is None else _task(row)

    def claim_tasks(self, owner: str, now: datetime, lease_until: datetime, limit: int) -> list[TaskRecord]:
        """Lease up to ``limit`` tasks nobody holds (never leased, or whose lease has expired)."""
        free = or_(tasks.c.lease_until.is_(None), tasks.c.lease_until < to_ts(now))
        query = (
            select(tasks.c.execution_id, tasks.c.activity)
            .where(free)
            .order_by(tasks.c.created_at)
            .limit(limit)
        )
        keys = [(r.execution_id, r.activity) for r in self.conn.execute(self._skip_locked(query))]
        claimed: list[TaskRecord] = []
        for execution_id, activity in keys:
            row = self.conn.execute(
                update(tasks)
                .where(tasks.c.execution_id == execution_id, tasks.c.activity == activity)
                .values(lease_owner=owner, lease_until=to_ts(lease_until), attempts=tasks.c.attempts + 1)
                .returning(*tasks.c)
            ).first()
            if row is not None:
                claimed.append(_task(row))
        return claimed

    def extend_leases(self, owner: str, keys: Sequence[tuple[str, int]], lease_until: datetime) -> None:
        for execution_id, activity in keys:
            self.conn.execute(
                update(tasks)
                .where(
                    tasks.c.execution_id == execution_id,
                    tasks.c.activity == activity,
                    tasks.c.lease_owner == owner,
                )
                .values(lease_until=to_ts(lease_until))
            )

    def release_leases(self, owner: str, keys: Sequence[tuple[str, int]] | None = None) -> int:
        """Give back the tasks ``owner`` holds (a clean shutdown), or those of ``keys`` (it has no room)."""
        mine = tasks.c.lease_owner == owner
        if keys is None:
            return self.conn.execute(
                update(tasks).where(mine).values(lease_owner=None, lease_until=None)
            ).rowcount
        released = 0
        for execution_id, activity in keys:
            released += self.conn.execute(
                update(tasks)
                .where(mine, tasks.c.execution_id == execution_id, tasks.c.activity == activity)
                .values(lease_owner=None, lease_until=None)
            ).rowcount
        return released

    def expire_foreign_leases(self, owner: str) -> int:
        """Free tasks leased by any process but ``owner`` (single-node recovery: they are all dead)."""
        result = self.conn.execute(
            update(tasks)
            .where(tasks.c.lease_owner.is_not(None), tasks.c.lease_owner != owner)
            .values(lease_owner=None, lease_until=None)
        )
        return result.rowcount

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
        cursor = _DELETE_TIMER.execute(self.conn, {"e": execution_id, "t": timer})
        deleted = cursor.rowcount > 0
        cursor.close()
        return bool(deleted)

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
