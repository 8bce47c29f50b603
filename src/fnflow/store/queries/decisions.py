"""A decision's writes as one unit: the task it settles, the execution's row, its history, the
tasks and timers it starts and cancels, and its notices.

On SQLite each is a statement of its own (in-process, microseconds each). On PostgreSQL each
statement is a round trip — ~60 µs of the client's CPU on loopback, and the network's latency
where the database is on another machine — so the writes go as ONE statement of data-modifying
CTEs: a 3-step execution makes 9 round trips instead of 21, and with PostgreSQL 2.5 ms away runs
at 2.06x the executions per second (bench/README.md, seventeenth round). PostgreSQL runs every
part on one snapshot, none seeing another's rows, which suits a decision: each part touches rows
of its own. Parts that must not happen alone are made conditional on the one before: the
execution's row is written only if the task the decision settles was still there, everything
else only if the row was written.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlalchemy import Column, Table
from sqlalchemy.dialects import postgresql

from fnflow.store.prepared import numbered, raw_cursor
from fnflow.store.queries.base import to_ts
from fnflow.store.queries.executions import ExecutionQueries, insert_params
from fnflow.store.queries.flows import FlowQueries
from fnflow.store.queries.notify import NotifyQueries
from fnflow.store.queries.work import WorkQueries
from fnflow.store.records import ExecutionRecord, HistoryRecord, TaskRecord, TimerRecord
from fnflow.store.schema import executions, history, tasks, timers


@dataclass
class DecisionWrite:
    """What one decision writes. ``execution`` is the row as the decision leaves it: inserted if
    ``new``, else its decided columns update the row (and move its version on), only while the row
    still has ``version`` if that is given. ``settles``: the activity of the task whose result was
    decided, deleted first; the decision is stale, and nothing else written, if it is gone.
    ``flow``: the (name, id, revision) of the flow a new execution was decided on, when it was read
    before this transaction; nothing is written unless the flow is still that one."""

    execution: ExecutionRecord
    new: bool = False
    flow: tuple[str, str, int] | None = None
    version: int | None = None
    settles: int | None = None
    history: Sequence[HistoryRecord] = ()
    tasks: Sequence[TaskRecord] = ()
    timers: Sequence[TimerRecord] = ()
    cancelled_tasks: Sequence[int] = ()
    cancelled_timers: Sequence[int] = ()
    notices: list[tuple[str, str]] = field(default_factory=list)  # (channel, payload)


class Written(NamedTuple):
    settled: bool  # the settled task was there (True when the decision settles none)
    stored: bool  # the execution's row was written (inserted: its name was free)
    current: bool = True  # the flow was still the one decided on (True when none was given)


_DECIDED = ("status", "state", "output", "error", "cause", "stopped_at")
#: A decision with more rows than this (a Map step starting hundreds of branches) goes statement
#: by statement, its inserts in chunks: one statement has at most 65,535 parameters, and each
#: shape of statement is compiled and kept.
ONE_STATEMENT_ROWS = 64


class DecisionQueries(FlowQueries, ExecutionQueries, NotifyQueries, WorkQueries):
    #: the first rows of the statements ``send_decisions`` ran, by the ``id`` of their write
    _sent: dict[int, Any] | None = None

    def write_decision(self, w: DecisionWrite) -> Written:
        if self._sent and (row := self._sent.pop(id(w), None)) is not None:
            return _written(row)
        if self._in_one_statement(w):
            cursor = raw_cursor(self.conn)
            cursor.execute(*_one_statement(w))
            return _written(cursor.fetchone())
        return self._write_statement_by_statement(w)

    def send_decisions(self, writes: Sequence[DecisionWrite]) -> None:
        """Run the statements of ``writes`` together, in one round trip with the BEGIN
        (``pipeline.first_rows``), where each took one; ``write_decision`` of each then takes its
        result. A write too big for one statement, and any write on SQLite, is left to
        ``write_decision``. If one statement fails, this raises and the transaction is aborted."""
        writes = [w for w in writes if self._in_one_statement(w)]
        if len(writes) > 1:
            from fnflow.store.pipeline import first_rows  # PostgreSQL's driver is optional

            rows = first_rows(self.conn, [_one_statement(w) for w in writes])
            self._sent = {id(w): row for w, row in zip(writes, rows, strict=True)}

    def _in_one_statement(self, w: DecisionWrite) -> bool:
        rows = len(w.history) + len(w.tasks) + len(w.timers)
        rows += len(w.cancelled_tasks) + len(w.cancelled_timers)
        return self.conn.dialect.name == "postgresql" and rows <= ONE_STATEMENT_ROWS

    def _write_statement_by_statement(self, w: DecisionWrite) -> Written:
        record = w.execution
        if w.settles is not None and not self.delete_task(record.id, w.settles):
            return Written(False, False)
        if w.flow is not None and not self.flow_is(*w.flow):
            return Written(True, False, False)
        if w.new:
            stored = self.try_insert_execution(record)
        else:
            stored = self.update_execution(
                record.id, **{name: getattr(record, name) for name in _DECIDED}, version=w.version
            )
        if not stored:
            return Written(True, False)
        self.append_history(record.id, w.history)
        self.add_tasks(w.tasks)
        for activity in w.cancelled_tasks:
            self.delete_task(record.id, activity)
        self.add_timers(w.timers)
        self.delete_timers([(record.id, timer) for timer in w.cancelled_timers])
        for channel, payload in w.notices:
            self.notify(channel, payload)
        return Written(True, True)


def _one_statement(w: DecisionWrite) -> tuple[str, list[Any]]:
    """The statement that writes ``w`` at once, and its parameters (PostgreSQL)."""
    record = w.execution
    shape = _Shape(
        w.new,
        w.flow is not None,
        w.version is not None,
        w.settles is not None,
        len(w.history),
        len(w.tasks),
        len(w.timers),
        len(w.cancelled_tasks),
        len(w.cancelled_timers),
        len(w.notices),
    )
    args: list[Any] = []
    if w.settles is not None:
        args += (record.id, w.settles)
    if w.flow is not None:
        args += w.flow
    if w.new:
        args += insert_params(record).values()
    else:
        stopped_at = to_ts(record.stopped_at) if record.stopped_at else None
        args += (record.status, record.state, record.output, record.error, record.cause, stopped_at)
        args.append(record.id)
        if w.version is not None:
            args.append(w.version)
    for e in w.history:
        args += (record.id, e.event_id, e.type, e.step, to_ts(e.time), e.detail, e.schedule_event_id)
    for t in w.tasks:
        lease_until = to_ts(t.lease_until) if t.lease_until else None
        args += (t.execution_id, t.activity, t.kind, t.payload, to_ts(t.created_at))
        args += (t.lease_owner, lease_until, t.attempts)
    if w.cancelled_tasks:
        args.append(record.id)
        args += w.cancelled_tasks
    for timer in w.timers:
        args += (timer.execution_id, timer.timer, to_ts(timer.fire_at))
    if w.cancelled_timers:
        args.append(record.id)
        args += w.cancelled_timers
    for channel, payload in w.notices:
        args += (channel, payload)
    return _statement(shape), args


def _written(row: Sequence[Any]) -> Written:
    """What a decision's statement returned (numbers, or their text from ``first_rows``)."""
    settled, stored, current, *_ = row
    return Written(int(settled) > 0, int(stored) > 0, int(current) > 0)


class _Shape(NamedTuple):
    """What varies between decisions' statements: which parts, and how many rows each."""

    new: bool
    flow: bool  # only while the flow is still the one decided on
    versioned: bool
    settles: bool
    history: int
    tasks: int
    timers: int
    cancelled_tasks: int
    cancelled_timers: int
    notices: int


_STORED = "EXISTS (SELECT 1 FROM stored)"


@functools.lru_cache(maxsize=256)
def _statement(shape: _Shape) -> str:
    """The one statement of a decision of ``shape`` (``$n`` parameters, in the order
    ``_write_in_one_statement`` passes them)."""
    parts: list[str] = []
    if shape.settles:
        parts.append(f"settled AS ({_delete(tasks, 'activity', 1)} RETURNING 1)")
    if shape.flow:
        parts.append("flow AS (SELECT 1 FROM flows WHERE name = %s AND id = %s AND revision = %s)")
    if shape.new:
        insert = _insert(executions, 1, "EXISTS (SELECT 1 FROM flow)" if shape.flow else "TRUE")
        parts.append(f"stored AS ({insert} ON CONFLICT DO NOTHING RETURNING 1)")
    else:
        where = "id = %s" + (" AND version = %s" if shape.versioned else "")
        if shape.settles:
            where += " AND EXISTS (SELECT 1 FROM settled)"
        sets = ", ".join(f"{_quote(name)} = %s" for name in _DECIDED)
        update = f"UPDATE executions SET {sets}, version = version + 1 WHERE {where}"
        parts.append(f"stored AS ({update} RETURNING 1)")
    if shape.history:
        parts.append(f"events AS ({_insert(history, shape.history)})")
    if shape.tasks:
        parts.append(f"started AS ({_insert(tasks, shape.tasks)})")
    if shape.cancelled_tasks:
        parts.append(f"cancelled AS ({_delete(tasks, 'activity', shape.cancelled_tasks)} AND {_STORED})")
    if shape.timers:
        parts.append(f"armed AS ({_insert(timers, shape.timers)})")
    if shape.cancelled_timers:
        parts.append(f"disarmed AS ({_delete(timers, 'timer', shape.cancelled_timers)} AND {_STORED})")
    results = [
        "(SELECT count(*) FROM settled)" if shape.settles else "1",
        "(SELECT count(*) FROM stored)",
        "(SELECT count(*) FROM flow)" if shape.flow else "1",
        *["(SELECT pg_notify(%s, %s) FROM stored)"] * shape.notices,
    ]
    return numbered("WITH " + ", ".join(parts) + " SELECT " + ", ".join(results))


def _delete(table: Table, key: str, count: int) -> str:
    """Delete rows of one execution by their second key column."""
    marks = ", ".join(["%s"] * count)
    return f"DELETE FROM {_quote(table.name)} WHERE execution_id = %s AND {_quote(key)} IN ({marks})"


def _insert(table: Table, count: int, condition: str = _STORED) -> str:
    """Insert ``count`` rows (every column, in the table's order) if ``condition`` holds (by
    default: once the execution's row is stored). Each value is cast to its column's type: in a
    ``VALUES`` list under ``SELECT`` PostgreSQL would take an untyped parameter (a NULL, say) for
    text."""
    row = "(" + ", ".join(f"CAST(%s AS {_type(column)})" for column in table.c) + ")"
    rows = ", ".join([row] * count)
    columns = ", ".join(_quote(column.name) for column in table.c)
    values = f"SELECT * FROM (VALUES {rows}) AS v WHERE {condition}"
    return f"INSERT INTO {_quote(table.name)} ({columns}) {values}"


_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]
_quote = _DIALECT.identifier_preparer.quote


def _type(column: Column[Any]) -> str:
    """The column's type without its length: a cast to ``VARCHAR(n)`` would cut a longer value
    short, where the insert itself refuses it."""
    return str(type(column.type)().compile(dialect=_DIALECT))
