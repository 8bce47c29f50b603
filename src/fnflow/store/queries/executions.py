"""Executions and their history."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, func, select, tuple_, update

from fnflow.errors import Conflict, InvalidArgument
from fnflow.store.prepared import ManyRows, Prepared
from fnflow.store.queries.base import (
    Queries,
    decode_token,
    dialect_insert,
    encode_token,
    from_ts,
    from_ts_req,
    to_ts,
)
from fnflow.store.records import ExecutionRecord, HistoryRecord, Page
from fnflow.store.schema import EXECUTION_STATUSES, execution_pins, executions, history, tasks, timers

_COLUMNS = tuple(c.name for c in executions.c)
_INSERT = Prepared(
    lambda dialect: (
        dialect_insert(dialect, executions)
        .values({name: bindparam(name) for name in _COLUMNS})
        .on_conflict_do_nothing()
    )
)
_BY_ID = Prepared(select(executions).where(executions.c.id == bindparam("id")))
_BY_NAME = Prepared(
    select(executions).where(
        executions.c.flow_name == bindparam("flow"), executions.c.name == bindparam("name")
    )
)
_CHILDREN = Prepared(
    select(executions).where(executions.c.parent_id == bindparam("parent")).order_by(executions.c.started_at)
)
_BY_ID_LOCKED = Prepared(select(executions).where(executions.c.id == bindparam("id")).with_for_update())
_DECIDED = {
    "status": bindparam("status"),
    "state": bindparam("state"),
    "output": bindparam("output"),
    "error": bindparam("error"),
    "cause": bindparam("cause"),
    "stopped_at": bindparam("stopped_at"),
    "version": executions.c.version + 1,
}
_UPDATE = Prepared(update(executions).where(executions.c.id == bindparam("eid")).values(_DECIDED))
#: the same, only while the row still has the version a decision was made on
_UPDATE_AT = Prepared(
    update(executions)
    .where(executions.c.id == bindparam("eid"), executions.c.version == bindparam("version"))
    .values(_DECIDED)
)
#: a page of an execution's history (from an event on): what a client waiting on an execution
#: reads, compiled once (through SQLAlchemy Core 0.2-0.4 ms)
_HISTORY_PAGE = Prepared(
    select(history)
    .where(history.c.execution_id == bindparam("execution"), history.c.event_id >= bindparam("first"))
    .order_by(history.c.event_id)
    .limit(bindparam("limit"))
)
# One INSERT of all of a decision's events: psycopg's executemany pipelines one statement per row,
# which cost PostgreSQL flows more of the server's time than any other statement.
_HISTORY = ManyRows(
    history, ("execution_id", "event_id", "type", "step", "time", "detail", "schedule_event_id")
)


def _execution(row: Row[Any] | tuple[Any, ...]) -> ExecutionRecord:
    m = dict(zip(_COLUMNS, row, strict=True))
    return ExecutionRecord(
        id=m["id"],
        flow_name=m["flow_name"],
        name=m["name"],
        status=m["status"],
        definition_hash=m["definition_hash"],
        input=m["input"],
        started_at=from_ts_req(m["started_at"]),
        output=m["output"],
        error=m["error"],
        cause=m["cause"],
        stopped_at=from_ts(m["stopped_at"]),
        state=m["state"],
        version=m["version"],
        parent_id=m["parent_id"],
        parent_activity=m["parent_activity"],
        depth=m["depth"],
        callback_token=m["callback_token"],
        flow_version=m["flow_version"],
    )


def insert_params(record: ExecutionRecord) -> dict[str, Any]:
    """An execution's row as an insert binds it, column by column in the table's order."""
    values = {name: getattr(record, name) for name in _COLUMNS}
    values["started_at"] = to_ts(record.started_at)
    values["stopped_at"] = to_ts(record.stopped_at) if record.stopped_at else None
    return values


class ExecutionQueries(Queries):
    def insert_execution(self, record: ExecutionRecord) -> None:
        """Raises ``Conflict`` if the flow already has an execution of that name (or the id is taken)."""
        if not self.try_insert_execution(record):
            raise Conflict(f"execution {record.name!r} of flow {record.flow_name!r} already exists")

    def try_insert_execution(self, record: ExecutionRecord) -> bool:
        """Insert an execution; False (nothing written) if its name or id is taken."""
        return _INSERT.run(self.conn, insert_params(record)) > 0

    def get_execution(self, flow_name: str, name: str) -> ExecutionRecord | None:
        return self._one(_BY_NAME, {"flow": flow_name, "name": name})

    def get_execution_by_id(self, execution_id: str, *, lock: bool = False) -> ExecutionRecord | None:
        """Read one execution; ``lock`` holds its row until the transaction ends (where the backend can)."""
        return self._one(_BY_ID_LOCKED if lock and self.lock_rows else _BY_ID, {"id": execution_id})

    def _one(self, query: Prepared, params: dict[str, Any]) -> ExecutionRecord | None:
        found = self._all(query, params)
        return found[0] if found else None

    def _all(self, query: Prepared, params: dict[str, Any]) -> list[ExecutionRecord]:
        return [_execution(row) for row in query.all(self.conn, params)]

    def list_executions(
        self,
        flow_name: str,
        *,
        status: str | None = None,
        name_prefix: str | None = None,
        started_from: datetime | None = None,
        started_until: datetime | None = None,
        limit: int = 60,
        token: str | None = None,
    ) -> Page:
        """Newest first; ``started_from`` and ``started_until`` bound the start time (both included)."""
        query = select(executions).where(executions.c.flow_name == flow_name)
        if status:
            query = query.where(executions.c.status == status)
        if started_from is not None:
            query = query.where(executions.c.started_at >= to_ts(started_from))
        if started_until is not None:
            query = query.where(executions.c.started_at <= to_ts(started_until))
        if name_prefix:  # not LIKE: SQLite's LIKE ignores case, and names are case-sensitive
            query = query.where(func.substr(executions.c.name, 1, len(name_prefix)) == name_prefix)
        if token:
            parts = decode_token(token, 2)
            try:
                started_at = float(parts[0]) if parts else None
            except ValueError:
                started_at = None
            if parts is None or started_at is None:
                raise InvalidArgument("nextToken is not valid")
            query = query.where(tuple_(executions.c.started_at, executions.c.id) < (started_at, parts[1]))
        query = query.order_by(executions.c.started_at.desc(), executions.c.id.desc()).limit(limit + 1)
        rows = [_execution(r) for r in self.conn.execute(query)]
        next_token = None
        if len(rows) > limit:
            last = rows[limit - 1]
            next_token = encode_token(repr(to_ts(last.started_at)), last.id)
        return Page(rows[:limit], next_token)

    def update_execution(
        self,
        execution_id: str,
        *,
        status: str,
        state: str | None,
        output: str | None = None,
        error: str | None = None,
        cause: str | None = None,
        stopped_at: datetime | None = None,
        version: int | None = None,
    ) -> bool:
        """Store the outcome of a decision (every column is written; the version moves on). With
        ``version``, only if the row still has it: False if it had moved on (another decision
        came first), and nothing is written."""
        params = {
            "eid": execution_id,
            "status": status,
            "state": state,
            "output": output,
            "error": error,
            "cause": cause,
            "stopped_at": to_ts(stopped_at) if stopped_at else None,
        }
        if version is None:
            return _UPDATE.run(self.conn, params) > 0
        return _UPDATE_AT.run(self.conn, {**params, "version": version}) > 0

    def get_executions_by_id(self, execution_ids: Sequence[str]) -> list[ExecutionRecord]:
        if not execution_ids:
            return []
        query = select(executions).where(executions.c.id.in_(set(execution_ids)))
        return [_execution(r) for r in self.conn.execute(query)]

    def children(
        self, parent_id: str, *, running: bool = False, activity: int | None = None
    ) -> list[ExecutionRecord]:
        """The child executions of ``parent_id`` (those still running; the one a task attempt started)."""
        if not running and activity is None:  # all of them (describing an execution): the hot path
            return self._all(_CHILDREN, {"parent": parent_id})
        query = select(executions).where(executions.c.parent_id == parent_id)
        if running:
            query = query.where(executions.c.status == "Running")
        if activity is not None:
            query = query.where(executions.c.parent_activity == activity)
        return [_execution(r) for r in self.conn.execute(query.order_by(executions.c.started_at))]

    def running_execution_ids(self) -> list[str]:
        query = select(executions.c.id).where(executions.c.status == "Running")
        return list(self.conn.execute(query).scalars())

    def purge_finished_executions(self, before: datetime, limit: int) -> int:
        """Remove up to ``limit`` executions that ended before ``before``, with their history; how
        many. Their names are free again (as Step Functions', once its retention has passed)."""
        finished = [s for s in EXECUTION_STATUSES if s != "Running"]
        chosen = select(executions.c.id).where(
            executions.c.status.in_(finished), executions.c.stopped_at < to_ts(before)
        )
        referring = [(table, "execution_id") for table in (history, execution_pins, tasks, timers)]
        return self._purge(chosen.limit(limit), executions, referring)

    def append_history(self, execution_id: str, events: Sequence[HistoryRecord]) -> None:
        if events:
            rows = [
                (execution_id, e.event_id, e.type, e.step, to_ts(e.time), e.detail, e.schedule_event_id)
                for e in events
            ]
            _HISTORY.insert(self.conn, rows)

    def history(self, execution_id: str, *, limit: int = 1000, token: str | None = None) -> Page:
        first = 0
        if token:
            parts = decode_token(token, 1)
            if parts is None or not parts[0].isdigit():
                raise InvalidArgument("nextToken is not valid")
            first = int(parts[0])
        params = {"execution": execution_id, "first": first, "limit": limit + 1}
        rows = _HISTORY_PAGE.all(self.conn, params)
        items = [
            HistoryRecord(event_id, type_, step, from_ts_req(time), detail, scheduled)
            for _, event_id, type_, step, time, detail, scheduled in rows[:limit]
        ]
        return Page(items, encode_token(rows[limit][1]) if len(rows) > limit else None)
