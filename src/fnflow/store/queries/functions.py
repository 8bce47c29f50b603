"""Deployed functions (code is stored in the database so every node can run it)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, delete, select, update

from fnflow.store.prepared import Prepared
from fnflow.store.queries.base import Queries, dialect_insert, from_ts, to_ts
from fnflow.store.records import FunctionRecord
from fnflow.store.schema import functions

_COLUMNS = [c for c in functions.c if c.name != "code"]


#: asked once per settled asynchronous call (its destinations), so run on the driver (prepared.py)
_GET = Prepared(
    select(*_COLUMNS).where(
        functions.c.service == bindparam("service"), functions.c.name == bindparam("name")
    )
)
_NAMES = [c.name for c in _COLUMNS]


def _function(row: Row[Any]) -> FunctionRecord:
    return function_of(row._mapping)


def function_of(m: Mapping[Any, Any]) -> FunctionRecord:
    return FunctionRecord(
        service=m["service"],
        name=m["name"],
        runtime=m["runtime"],
        handler=m["handler"],
        code_checksum=m["code_checksum"],
        timeout=m["timeout"],
        memory_mb=m["memory_mb"],
        max_instances=m["max_instances"],
        environment=json.loads(m["environment"]),
        description=m["description"],
        created_at=from_ts(m["created_at"]),
        updated_at=from_ts(m["updated_at"]),
        options=json.loads(m["options"]),
    )


class FunctionQueries(Queries):
    def put_function(self, record: FunctionRecord, code: bytes | None, now: datetime) -> FunctionRecord:
        """Create or update; ``code=None`` keeps the current code."""
        values: dict[str, Any] = {
            "runtime": record.runtime,
            "handler": record.handler,
            "timeout": record.timeout,
            "memory_mb": record.memory_mb,
            "max_instances": record.max_instances,
            "environment": json.dumps(record.environment, sort_keys=True),
            "description": record.description,
            "options": json.dumps(record.options, sort_keys=True),
            "updated_at": to_ts(now),
        }
        key = (functions.c.service == record.service, functions.c.name == record.name)
        created = False
        if code is not None:  # insert first, update if it exists: concurrent deploys both succeed
            values.update(code=code, code_checksum=record.code_checksum)
            insert = dialect_insert(self.conn.dialect.name, functions).values(
                service=record.service, name=record.name, created_at=to_ts(now), **values
            )
            created = self.conn.execute(insert.on_conflict_do_nothing()).rowcount > 0
        if not created and not self.conn.execute(update(functions).where(*key).values(**values)).rowcount:
            raise ValueError("a new function needs code")
        stored = self.get_function(record.service, record.name)
        assert stored is not None
        return stored

    def scale_function(
        self, service: str, name: str, min_instances: int, now: datetime
    ) -> FunctionRecord | None:
        """Set a function's warm instances (``options.minInstances``); None if it does not exist."""
        current = self.get_function(service, name)
        if current is None:
            return None
        options = {**current.options, "minInstances": min_instances}
        self.conn.execute(
            update(functions)
            .where(functions.c.service == service, functions.c.name == name)
            .values(options=json.dumps(options, sort_keys=True), updated_at=to_ts(now))
        )
        return self.get_function(service, name)

    def get_function(self, service: str, name: str) -> FunctionRecord | None:
        row = _GET.one(self.conn, {"service": service, "name": name})
        return None if row is None else function_of(dict(zip(_NAMES, row, strict=True)))

    def get_function_code(self, service: str, name: str) -> bytes | None:
        query = select(functions.c.code).where(functions.c.service == service, functions.c.name == name)
        return self.conn.execute(query).scalar()

    def list_functions(self, service: str | None = None) -> list[FunctionRecord]:
        query = select(*_COLUMNS).order_by(functions.c.service, functions.c.name)
        if service is not None:
            query = query.where(functions.c.service == service)
        return [_function(r) for r in self.conn.execute(query)]

    def delete_function(self, service: str, name: str) -> bool:
        query = delete(functions).where(functions.c.service == service, functions.c.name == name)
        return self.conn.execute(query).rowcount > 0
