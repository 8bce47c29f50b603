"""Stacks: what each ``fnflow deploy`` stack deployed."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Row, delete, select

from fnflow.store.queries.base import Queries, from_ts_req, to_ts
from fnflow.store.records import StackRecord
from fnflow.store.schema import stacks


def _stack(row: Row[Any]) -> StackRecord:
    m = row._mapping
    return StackRecord(
        name=m["name"],
        description=m["description"],
        resources=json.loads(m["resources"]),
        created_at=from_ts_req(m["created_at"]),
        updated_at=from_ts_req(m["updated_at"]),
    )


class StackQueries(Queries):
    def put_stack(self, record: StackRecord) -> StackRecord:
        """Create or replace a stack's record; one that exists keeps its creation time."""
        values = {
            "name": record.name,
            "description": record.description,
            "resources": json.dumps(record.resources, separators=(",", ":"), ensure_ascii=False),
            "created_at": to_ts(record.created_at),
            "updated_at": to_ts(record.updated_at),
        }
        self._upsert(stacks, values, ("name",))
        stored = self.get_stack(record.name)
        assert stored is not None
        return stored

    def get_stack(self, name: str) -> StackRecord | None:
        row = self.conn.execute(select(stacks).where(stacks.c.name == name)).first()
        return None if row is None else _stack(row)

    def list_stacks(self) -> list[StackRecord]:
        return [_stack(r) for r in self.conn.execute(select(stacks).order_by(stacks.c.name))]

    def delete_stack(self, name: str) -> bool:
        return bool(self.conn.execute(delete(stacks).where(stacks.c.name == name)).rowcount)
