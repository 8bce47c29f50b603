"""Asynchronous calls: accepted in batches, leased to one process while they run, kept as a record.

Statuses are Function Compute's: Enqueued, Running, Retrying, Succeeded, Failed, Stopping,
Stopped, Expired. ``dead`` marks calls in the dead-letter list (Failed or Expired for good).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, bindparam, func, literal_column, or_, select, tuple_, update

from fnflow.clock import uuid7_text
from fnflow.errors import InvalidArgument
from fnflow.store.prepared import ManyRows, Prepared
from fnflow.store.queries.base import decode_token, dialect_insert, encode_token, from_ts, to_ts
from fnflow.store.queries.leases import Lease, LeaseQueries
from fnflow.store.records import CallRecord, Page, build
from fnflow.store.schema import calls, deliveries

READY = ("Enqueued", "Retrying")
FINISHED = ("Succeeded", "Failed", "Stopped", "Expired")
_COLUMNS = [c.name for c in calls.c]
_TIMES = ("created_at", "run_at", "expires_at", "started_at", "finished_at", "lease_until")
#: columns a call may leave NULL: a batch's insert binds only those that some call of it sets. A
#: call that has not run leaves 7 unset, a gateway's call 11 to 13 (no callback, task or
#: qualifier; no lease unless this process holds it). SQLite's insert of a row: 29 bound columns
#: 10.6 µs, 22 8.1, 16 a quarter less again (bench/README.md, fourteenth and sixteenth rounds).
_OPTIONAL = tuple(c.name for c in calls.c if c.nullable and not c.primary_key)


class _CallInsert:
    """The insert of calls, binding ``columns``: PostgreSQL's one statement per row, SQLite's one
    for a whole batch (see ``insert_calls``)."""

    def __init__(self, columns: list[str]) -> None:
        self.columns = columns
        self._times = tuple(n for n, name in enumerate(columns) if name in _TIMES)
        self.each = Prepared(
            lambda dialect: (
                dialect_insert(dialect, calls)
                .values({c: bindparam(c) for c in columns})
                .on_conflict_do_nothing()
            )
        )
        self.many = ManyRows(calls, columns, chunk=100)

    def row(self, record: CallRecord) -> list[Any]:
        """The record's values of the columns, in their order (one per accepted call)."""
        values = vars(record)
        row = [values[name] for name in self.columns]
        for position in self._times:
            if row[position] is not None:
                row[position] = to_ts(row[position])
        return row

    def values(self, record: CallRecord) -> dict[str, Any]:
        return dict(zip(self.columns, self.row(record), strict=True))


@functools.lru_cache(maxsize=64)
def _call_insert(columns: tuple[str, ...]) -> _CallInsert:
    return _CallInsert(list(columns))


def _insert_for(records: Sequence[CallRecord]) -> _CallInsert:
    """The insert binding the columns some of ``records`` set (and those no call may leave NULL)."""
    values = [vars(record) for record in records]
    unset = {name for name in _OPTIONAL if all(v[name] is None for v in values)}
    return _call_insert(tuple(name for name in _COLUMNS if name not in unset))


#: a call by id: its status read by clients, and every accepted call that names its own id
_BY_ID = Prepared(select(calls).where(calls.c.id == bindparam("id")))
_START = Prepared(
    update(calls)
    .where(calls.c.id == bindparam("cid"), or_(*(calls.c.status == literal_column(f"'{s}'") for s in READY)))
    .values(
        status="Running",
        attempts=calls.c.attempts + 1,
        started_at=func.coalesce(calls.c.started_at, bindparam("now")),
        lease_owner=bindparam("owner"),
        lease_until=bindparam("until"),
    )
)
_SETTLE = Prepared(
    update(calls)
    .where(
        calls.c.id == bindparam("cid"), calls.c.status == "Running", calls.c.lease_owner == bindparam("me")
    )
    .values(
        status=bindparam("status"),
        run_at=bindparam("run_at"),
        finished_at=bindparam("finished_at"),
        result_status=bindparam("result_status"),
        result_headers=bindparam("result_headers"),
        result_body=bindparam("result_body"),
        error=bindparam("error"),
        dead=bindparam("dead"),
        lease_owner=bindparam("owner"),
        lease_until=bindparam("until"),
        version=bindparam("version"),
    )
)


#: Ready calls are claimable once due; a Running or Stopping call whose holder stopped renewing its
#: lease (it died) is taken over: a Running one is Retrying again (its attempt may run twice: at
#: least once), a Stopping one comes back Stopping for its new holder to end. A holder that lets
#: go of its calls retries the Running ones and ends the Stopping ones.
CALL_LEASE = Lease(
    calls,
    ("id",),
    ready=lambda t, now: and_(t.c.status.in_(READY), t.c.run_at <= now),
    order="run_at",
    lapsed=lambda t, now: and_(t.c.status.in_(("Running", "Stopping")), t.c.lease_until < now),
    on_takeover=lambda t: [(t.c.status == "Running", {"status": "Retrying"})],
    handover=lambda t: [
        (t.c.status == "Running", {"status": "Retrying"}),
        (t.c.status == "Stopping", {"status": "Stopped"}),
    ],
)


def call_from_row(row: Row[Any] | Sequence[Any]) -> CallRecord:
    m = dict(zip(_COLUMNS, row, strict=True))
    for name in _TIMES:
        m[name] = from_ts(m[name])
    m["dead"] = bool(m["dead"])
    return build(CallRecord, m)


class CallQueries(LeaseQueries):
    def insert_calls(self, records: Sequence[CallRecord]) -> list[tuple[CallRecord, bool]]:
        """Store accepted calls; for each, in order, the call as stored and whether it is new.

        A call id is an idempotency key per function: the same function and call id again is the
        call already stored (accepting it twice runs it once). The same id for another function —
        a callback passing its ``X-Call-Id`` on to the next function — is only a tracing id there:
        that call gets a fresh id.

        Each id is inserted unless taken, and only the ids that were taken (rare: a retried
        request, another process storing the same id meanwhile on PostgreSQL) are looked up.
        """
        stored: list[tuple[CallRecord, bool] | None] = [None] * len(records)
        pending = list(enumerate(records))
        while pending:
            first: dict[str, tuple[int, CallRecord]] = {}
            taken: list[tuple[int, CallRecord]] = []
            for index, record in pending:
                if record.id in first:
                    taken.append((index, record))  # the same id twice in one batch
                else:
                    first[record.id] = (index, record)
            inserted = self._insert_new([record for _, record in first.values()])
            for call_id, (index, record) in first.items():
                if call_id in inserted:
                    stored[index] = (record, True)
                else:
                    taken.append((index, record))
            pending = []
            if not taken:
                break
            query = select(calls.c.id, calls.c.service, calls.c.function)
            query = query.where(calls.c.id.in_({r.id for _, r in taken}))
            owners = {row.id: (row.service, row.function) for row in self.conn.execute(query)}
            for index, record in sorted(taken, key=lambda item: item[0]):
                if owners.get(record.id) == (record.service, record.function):
                    stored[index] = (record, False)
                else:
                    pending.append((index, replace(record, id=uuid7_text())))
        return [s for s in stored if s is not None]

    def _insert_new(self, records: list[CallRecord]) -> set[str]:
        """Insert the records whose id is free; the ids inserted."""
        insert = _insert_for(records)
        if self.lock_rows:  # PostgreSQL: one statement per row in one round trip (a pipeline)
            counts = insert.each.execute_each(self.conn, map(insert.values, records))
            return {record.id for record, count in zip(records, counts, strict=True) if count}
        # SQLite: a few multi-row statements (each row its own statement would hand the GIL to
        # the event loop and back once per row).
        return insert.many.insert_new(self.conn, [insert.row(record) for record in records], "id")

    def get_call(self, call_id: str) -> CallRecord | None:
        row = _BY_ID.one(self.conn, {"id": call_id})
        return None if row is None else call_from_row(row)

    def get_calls(self, call_ids: Sequence[str]) -> list[CallRecord]:
        if not call_ids:
            return []
        return [call_from_row(r) for r in self.conn.execute(select(calls).where(calls.c.id.in_(call_ids)))]

    def list_calls(
        self,
        *,
        service: str | None = None,
        function: str | None = None,
        status: str | None = None,
        dead: bool | None = None,
        limit: int = 100,
        token: str | None = None,
    ) -> Page:
        """Newest first; the body and result are included."""
        query = select(calls)
        if service is not None:
            query = query.where(calls.c.service == service)
        if function is not None:
            query = query.where(calls.c.function == function)
        if status is not None:
            query = query.where(calls.c.status == status)
        if dead is not None:
            query = query.where(calls.c.dead == dead)
        if token:
            parts = decode_token(token, 2)
            try:
                created = float(parts[0]) if parts else None
            except ValueError:
                created = None
            if parts is None or created is None:
                raise InvalidArgument("nextToken is not valid")
            query = query.where(tuple_(calls.c.created_at, calls.c.id) < (created, parts[1]))
        query = query.order_by(calls.c.created_at.desc(), calls.c.id.desc()).limit(limit + 1)
        rows = [call_from_row(r) for r in self.conn.execute(query)]
        next_token = None
        if len(rows) > limit:
            last = rows[limit - 1]
            next_token = encode_token(repr(to_ts(last.created_at)), last.id)
        return Page(rows[:limit], next_token)

    def start_attempt(self, call_id: str, owner: str, now: datetime, lease_until: datetime) -> bool:
        """Mark a ready call Running; False if it is not ready any more (stopped meanwhile)."""
        params = {"cid": call_id, "now": to_ts(now), "owner": owner, "until": to_ts(lease_until)}
        return _START.run(self.conn, params) > 0

    def start_attempts(
        self, call_ids: Sequence[str], owner: str, now: datetime, lease_until: datetime
    ) -> None:
        """``start_attempt`` of many calls; a call not ready any more (stopped meanwhile) is left as it is."""
        times = {"now": to_ts(now), "owner": owner, "until": to_ts(lease_until)}
        _START.executemany(self.conn, [{"cid": call_id, **times} for call_id in call_ids])

    def settle_call(
        self,
        call_id: str,
        *,
        holder: str,
        status: str,
        run_at: datetime,
        finished_at: datetime | None = None,
        result_status: int | None = None,
        result_headers: str | None = None,
        result_body: bytes | None = None,
        error: str | None = None,
        dead: bool = False,
        lease_owner: str | None = None,
        lease_until: datetime | None = None,
        version: str | None = None,
    ) -> bool:
        """Record the outcome of a Running attempt that ``holder`` runs (``version``: the service
        version that ran it); False if the call is not Running
        any more (a stop arrived), or not held by ``holder`` (its lease ran out and a peer took it)."""
        params = {
            "cid": call_id,
            "me": holder,
            "status": status,
            "run_at": to_ts(run_at),
            "finished_at": to_ts(finished_at) if finished_at else None,
            "result_status": result_status,
            "result_headers": result_headers,
            "result_body": result_body,
            "error": error,
            "dead": dead,
            "owner": lease_owner,
            "until": to_ts(lease_until) if lease_until else None,
            "version": version,
        }
        return _SETTLE.run(self.conn, params) > 0

    def finish_waiting_call(
        self, call_id: str, status: str, now: datetime, *, error: str | None = None, dead: bool = False
    ) -> bool:
        """End a call that never started an attempt (expired, or its function is gone); False if it was
        not waiting any more."""
        query = (
            update(calls)
            .where(calls.c.id == call_id, calls.c.status.in_(READY))
            .values(
                status=status,
                finished_at=to_ts(now),
                error=error,
                dead=dead,
                lease_owner=None,
                lease_until=None,
            )
        )
        return self.conn.execute(query).rowcount > 0

    def stop_call(self, call_id: str, now: datetime) -> str | None:
        """Stop a call: one that waits is Stopped at once, one that runs becomes Stopping (its runner
        finishes the stop). Returns the new status, or None if the call had already ended."""
        waiting = self.conn.execute(
            update(calls)
            .where(calls.c.id == call_id, calls.c.status.in_(READY))
            .values(status="Stopped", finished_at=to_ts(now), lease_owner=None, lease_until=None)
        )
        if waiting.rowcount:
            return "Stopped"
        running = self.conn.execute(
            update(calls).where(calls.c.id == call_id, calls.c.status == "Running").values(status="Stopping")
        )
        return "Stopping" if running.rowcount else None

    def stop_task_calls(self, execution_id: str, activity: int, now: datetime) -> list[tuple[str, str]]:
        """Stop the calls a flow task attempt is waiting for (it was cancelled): (call id, new status)
        of each that had not ended — Stopped, or Stopping while its runner ends it."""
        query = select(calls.c.id).where(
            calls.c.task_execution == execution_id, calls.c.task_activity == activity
        )
        stopped = []
        for call_id in self.conn.execute(query).scalars():
            if (status := self.stop_call(call_id, now)) is not None:
                stopped.append((call_id, status))
        return stopped

    def mark_stopped(self, call_id: str, now: datetime, holder: str) -> bool:
        """The runner of a Stopping (or Running) call gave up on it; False if ``holder`` does not
        hold it any more."""
        query = (
            update(calls)
            .where(
                calls.c.id == call_id,
                calls.c.status.in_(("Running", "Stopping")),
                calls.c.lease_owner == holder,
            )
            .values(status="Stopped", finished_at=to_ts(now), lease_owner=None, lease_until=None)
        )
        return self.conn.execute(query).rowcount > 0

    def claim_calls(
        self,
        owner: str,
        now: datetime,
        lease_until: datetime,
        limit: int,
        *,
        passing_over: Sequence[tuple[str, str]] = (),
    ) -> list[CallRecord]:
        """Lease calls nobody holds, oldest first (see ``CALL_LEASE``), but none of the functions
        (service, function) ``passing_over`` names."""
        among = None
        if passing_over:
            among = tuple_(calls.c.service, calls.c.function).not_in([tuple(k) for k in passing_over])
        claimed = self.claim(CALL_LEASE, owner, now, lease_until, limit, among=among)
        return [call_from_row(row) for row in claimed]

    def purge_finished_calls(self, before: datetime, limit: int) -> int:
        """Remove up to ``limit`` calls that finished before ``before`` (dead letters too), with
        their deliveries; one whose callback is still being delivered stays until it is done. How
        many calls it removed. Found through the status index: a finished call's ``run_at`` is
        when it finished (or, stopped while it waited, earlier)."""
        cut = to_ts(before)
        pending = (
            select(deliveries.c.id)
            .where(deliveries.c.call_id == calls.c.id, deliveries.c.status == "Pending")
            .exists()
        )
        chosen = select(calls.c.id).where(
            calls.c.status.in_(FINISHED),
            calls.c.run_at < cut,
            or_(calls.c.finished_at.is_(None), calls.c.finished_at < cut),
            ~pending,
        )
        return self._purge(chosen.limit(limit), calls, [(deliveries, "call_id")])

    def redrive_calls(
        self,
        call_ids: Sequence[str],
        now: datetime,
        expires_at: datetime,
        max_attempts: int,
        owner: str,
        lease_until: datetime,
    ) -> list[CallRecord]:
        """Put dead-lettered calls back in the queue as if just accepted (their id and request stay),
        leased to ``owner``. Calls that are not dead letters are left alone."""
        dead = list(
            self.conn.execute(
                select(calls.c.id).where(calls.c.id.in_(call_ids), calls.c.dead.is_(True))
            ).scalars()
        )
        if not dead:
            return []
        self.conn.execute(
            update(calls)
            .where(calls.c.id.in_(dead))
            .values(
                status="Enqueued",
                dead=False,
                attempts=0,
                run_at=to_ts(now),
                expires_at=to_ts(expires_at),
                max_attempts=max_attempts,
                finished_at=None,
                result_status=None,
                result_headers=None,
                result_body=None,
                error=None,
                lease_owner=owner,
                lease_until=to_ts(lease_until),
            )
        )
        return self.get_calls(dead)

    def pending_calls(self) -> list[tuple[str, str, str, int]]:
        """(queue, service, function, count) of calls waiting to run, for metrics."""
        query = (
            select(calls.c.queue, calls.c.service, calls.c.function, func.count())
            .where(calls.c.status.in_(READY))
            .group_by(calls.c.queue, calls.c.service, calls.c.function)
        )
        return [(r[0], r[1], r[2], int(r[3])) for r in self.conn.execute(query)]
