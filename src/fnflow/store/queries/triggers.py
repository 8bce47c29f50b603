"""Function triggers, and the compare-and-set that makes each timer tick fire in one process only."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, select, update

from fnflow.store.queries.base import Queries, from_ts, from_ts_req, to_ts
from fnflow.store.records import TriggerRecord
from fnflow.store.schema import triggers


def _trigger(row: Row[Any]) -> TriggerRecord:
    m = row._mapping
    return TriggerRecord(
        service=m["service"],
        function=m["function"],
        name=m["name"],
        kind=m["kind"],
        config=json.loads(m["config"]),
        created_at=from_ts_req(m["created_at"]),
        updated_at=from_ts_req(m["updated_at"]),
        next_fire_at=from_ts(m["next_fire_at"]),
    )


class TriggerQueries(Queries):
    def put_trigger(self, record: TriggerRecord) -> TriggerRecord:
        """Create or replace a trigger; one that exists keeps its creation time."""
        values = {
            "service": record.service,
            "function": record.function,
            "name": record.name,
            "kind": record.kind,
            "config": json.dumps(record.config, separators=(",", ":"), ensure_ascii=False),
            "next_fire_at": None if record.next_fire_at is None else to_ts(record.next_fire_at),
            "created_at": to_ts(record.created_at),
            "updated_at": to_ts(record.updated_at),
        }
        self._upsert(triggers, values, ("service", "function", "name"))
        stored = self.get_trigger(record.service, record.function, record.name)
        assert stored is not None
        return stored

    def get_trigger(self, service: str, function: str, name: str) -> TriggerRecord | None:
        c = triggers.c
        row = self.conn.execute(
            select(triggers).where(c.service == service, c.function == function, c.name == name)
        ).first()
        return None if row is None else _trigger(row)

    def list_triggers(self, service: str, function: str) -> list[TriggerRecord]:
        """A function's triggers by name."""
        c = triggers.c
        query = select(triggers).where(c.service == service, c.function == function).order_by(c.name)
        return [_trigger(r) for r in self.conn.execute(query)]

    def delete_trigger(self, service: str, function: str, name: str) -> bool:
        c = triggers.c
        result = self.conn.execute(
            delete(triggers).where(c.service == service, c.function == function, c.name == name)
        )
        return bool(result.rowcount)

    def delete_function_triggers(self, service: str, function: str) -> int:
        """Delete every trigger of a function (the function is being deleted)."""
        c = triggers.c
        return int(
            self.conn.execute(delete(triggers).where(c.service == service, c.function == function)).rowcount
        )

    def due_triggers(self, until: datetime, limit: int) -> list[TriggerRecord]:
        """Enabled timers whose next tick is at or before ``until``, soonest first."""
        c = triggers.c
        rows = self.conn.execute(
            select(triggers).where(c.next_fire_at <= to_ts(until)).order_by(c.next_fire_at).limit(limit)
        )
        return [_trigger(r) for r in rows]

    def advance_trigger(
        self, service: str, function: str, name: str, expected: datetime, next_fire_at: datetime
    ) -> bool:
        """Move a timer's next tick from ``expected`` to ``next_fire_at``; False if it is no longer
        ``expected`` (another process fired that tick, or the trigger changed or went away). The
        caller that gets True owns the tick and calls the function in the same transaction."""
        c = triggers.c
        result = self.conn.execute(
            update(triggers)
            .where(
                c.service == service,
                c.function == function,
                c.name == name,
                c.next_fire_at == to_ts(expected),
            )
            .values(next_fire_at=to_ts(next_fire_at))
        )
        return bool(result.rowcount)
