"""Function logs: appended in batches, read by function (newest last), pruned by age and size."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, func, select

from fnflow.store.prepared import ManyRows
from fnflow.store.queries.base import Queries, from_ts_req, to_ts
from fnflow.store.records import LogRecord
from fnflow.store.schema import function_logs as logs

_INSERT = ManyRows(logs, ("service", "function", "call_id", "instance", "stream", "time", "text"))


def _log(row: Row[Any]) -> LogRecord:
    m = row._mapping
    return LogRecord(
        service=m["service"],
        function=m["function"],
        call_id=m["call_id"],
        instance=m["instance"],
        stream=m["stream"],
        time=from_ts_req(m["time"]),
        text=m["text"],
        id=m["id"],
    )


class LogQueries(Queries):
    def add_function_logs(self, lines: Sequence[LogRecord]) -> None:
        _INSERT.insert(
            self.conn,
            [(r.service, r.function, r.call_id, r.instance, r.stream, to_ts(r.time), r.text) for r in lines],
        )

    def function_logs(
        self,
        service: str,
        function: str,
        *,
        since: datetime | None = None,
        call_id: str | None = None,
        instance: str | None = None,
        tail: int | None = None,
    ) -> list[LogRecord]:
        """Lines at or after ``since``, oldest first; with ``tail``, only the last ``tail`` of them."""
        query = select(logs).where(logs.c.service == service, logs.c.function == function)
        if since is not None:
            query = query.where(logs.c.time >= to_ts(since))
        if call_id is not None:
            query = query.where(logs.c.call_id == call_id)
        if instance is not None:
            query = query.where(logs.c.instance == instance)
        if tail is None:
            return [_log(r) for r in self.conn.execute(query.order_by(logs.c.id))]
        newest = self.conn.execute(query.order_by(logs.c.id.desc()).limit(tail))
        return [_log(r) for r in reversed(newest.all())]

    def prune_function_logs(
        self, older_than: datetime, max_bytes: int, functions: Iterable[tuple[str, str]]
    ) -> int:
        """Delete every line older than ``older_than``, and for each of ``functions`` the oldest lines
        beyond its newest ``max_bytes`` of text; returns how many went."""
        removed = self.conn.execute(delete(logs).where(logs.c.time < to_ts(older_than))).rowcount
        for service, function in functions:
            newest_first = (
                select(
                    logs.c.id,
                    func.sum(func.length(logs.c.text)).over(order_by=logs.c.id.desc()).label("kept"),
                )
                .where(logs.c.service == service, logs.c.function == function)
                .subquery()
            )
            beyond = select(newest_first.c.id).where(newest_first.c.kept > max_bytes)
            removed += self.conn.execute(delete(logs).where(logs.c.id.in_(beyond))).rowcount
        return int(removed)

    def delete_function_logs(self, service: str, function: str) -> int:
        query = delete(logs).where(logs.c.service == service, logs.c.function == function)
        return int(self.conn.execute(query).rowcount)
