"""Cron schedules, and the compare-and-set that makes each tick fire in one process only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, select, tuple_, update

from fnflow.errors import InvalidArgument
from fnflow.store.queries.base import (
    Queries,
    decode_token,
    dialect_insert,
    encode_token,
    from_ts,
    from_ts_req,
    to_ts,
)
from fnflow.store.records import Page, ScheduleRecord
from fnflow.store.schema import schedules

_KEPT = ("flow_name", "name", "id", "created_at")  # what replacing a schedule does not change


def _schedule(row: Row[Any]) -> ScheduleRecord:
    m = row._mapping
    return ScheduleRecord(
        flow_name=m["flow_name"],
        name=m["name"],
        id=m["id"],
        cron_expression=m["cron_expression"],
        time_zone=m["time_zone"],
        payload=m["payload"],
        enabled=bool(m["enabled"]),
        description=m["description"],
        next_fire_at=from_ts(m["next_fire_at"]),
        created_at=from_ts_req(m["created_at"]),
        updated_at=from_ts_req(m["updated_at"]),
        missed_ticks=m["missed_ticks"],
    )


class ScheduleQueries(Queries):
    def put_schedule(self, record: ScheduleRecord) -> ScheduleRecord:
        """Create or replace a schedule; one that exists keeps its id and creation time."""
        values = {
            "flow_name": record.flow_name,
            "name": record.name,
            "id": record.id,
            "cron_expression": record.cron_expression,
            "time_zone": record.time_zone,
            "payload": record.payload,
            "enabled": record.enabled,
            "description": record.description,
            "next_fire_at": to_ts(record.next_fire_at) if record.next_fire_at is not None else None,
            "created_at": to_ts(record.created_at),
            "updated_at": to_ts(record.updated_at),
            "missed_ticks": record.missed_ticks,
        }
        insert = dialect_insert(self.conn.dialect.name, schedules).values(values)
        changed = {k: v for k, v in values.items() if k not in _KEPT}
        self.conn.execute(
            insert.on_conflict_do_update(
                index_elements=[schedules.c.flow_name, schedules.c.name], set_=changed
            )
        )
        stored = self.get_schedule(record.flow_name, record.name)
        assert stored is not None
        return stored

    def get_schedule(self, flow_name: str, name: str) -> ScheduleRecord | None:
        row = self.conn.execute(
            select(schedules).where(schedules.c.flow_name == flow_name, schedules.c.name == name)
        ).first()
        return None if row is None else _schedule(row)

    def list_schedules(self, flow_name: str | None, limit: int, token: str | None = None) -> Page:
        """A flow's schedules by name (every flow's, by flow and name, if ``flow_name`` is None)."""
        query = select(schedules).order_by(schedules.c.flow_name, schedules.c.name).limit(limit + 1)
        if flow_name is not None:
            query = query.where(schedules.c.flow_name == flow_name)
        if token:
            parts = decode_token(token, 2)
            if parts is None:
                raise InvalidArgument("nextToken is not valid")
            query = query.where(tuple_(schedules.c.flow_name, schedules.c.name) > (parts[0], parts[1]))
        found = [_schedule(r) for r in self.conn.execute(query)]
        more = len(found) > limit
        last = found[limit - 1] if more else None
        return Page(found[:limit], encode_token(last.flow_name, last.name) if last else None)

    def delete_schedule(self, flow_name: str, name: str) -> bool:
        result = self.conn.execute(
            delete(schedules).where(schedules.c.flow_name == flow_name, schedules.c.name == name)
        )
        return bool(result.rowcount)

    def delete_flow_schedules(self, flow_name: str) -> int:
        """Delete every schedule of a flow (the flow is being deleted)."""
        return int(self.conn.execute(delete(schedules).where(schedules.c.flow_name == flow_name)).rowcount)

    def due_schedules(self, until: datetime, limit: int) -> list[ScheduleRecord]:
        """Enabled schedules whose next tick is at or before ``until``, soonest first."""
        rows = self.conn.execute(
            select(schedules)
            .where(schedules.c.next_fire_at <= to_ts(until))
            .order_by(schedules.c.next_fire_at)
            .limit(limit)
        )
        return [_schedule(r) for r in rows]

    def advance_schedule(self, flow_name: str, name: str, expected: datetime, next_fire_at: datetime) -> bool:
        """Move the next tick from ``expected`` to ``next_fire_at``; False if it is no longer
        ``expected`` (another process fired that tick, or the schedule changed or went away).

        The caller that gets True owns the tick: it starts the execution in this transaction.
        On PostgreSQL a concurrent UPDATE of the row waits for the first to commit and then
        re-checks the condition, so only one of two racing processes matches.
        """
        result = self.conn.execute(
            update(schedules)
            .where(
                schedules.c.flow_name == flow_name,
                schedules.c.name == name,
                schedules.c.next_fire_at == to_ts(expected),
            )
            .values(next_fire_at=to_ts(next_fire_at))
        )
        return bool(result.rowcount)
