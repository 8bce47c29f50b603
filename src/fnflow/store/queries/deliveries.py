"""Outgoing HTTP posts of finished calls (callbacks, destinations), retried until delivered or given up."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, insert, select, update

from fnflow.store.prepared import Prepared
from fnflow.store.queries.base import from_ts, to_ts
from fnflow.store.queries.leases import Lease, LeaseQueries
from fnflow.store.records import DeliveryRecord
from fnflow.store.schema import deliveries

_TIMES = ("run_at", "created_at", "lease_until", "delivered_at")
_COLUMNS = tuple(deliveries.c.keys())
# A call with a callback adds one when it settles and records each attempt to deliver it:
# compiled once (through SQLAlchemy Core each cost 0.2-0.5 ms of the event loop's time).
_ADD = Prepared(
    insert(deliveries)
    .values({name: bindparam(name) for name in _COLUMNS if name != "id"})
    .returning(deliveries.c.id)
)
_RECORD_ATTEMPT = Prepared(
    update(deliveries)
    .where(deliveries.c.id == bindparam("delivery_id"))
    .values(
        {
            name: bindparam(name)
            for name in (
                "status",
                "attempts",
                "run_at",
                "last_status",
                "last_error",
                "delivered_at",
                "lease_owner",
                "lease_until",
            )
        }
    )
)
#: The kind of the pushes of topic messages to HTTP endpoints; their ``call_id`` is the message id.
NOTIFY = "notify"


#: Pending deliveries are claimable once due.
DELIVERY_LEASE = Lease(
    deliveries,
    ("id",),
    ready=lambda t, now: and_(t.c.status == "Pending", t.c.run_at <= now),
    order="run_at",
)


def _delivery(row: Sequence[Any]) -> DeliveryRecord:
    """A delivery from its row (every column, in the table's order)."""
    m = dict(zip(_COLUMNS, row, strict=True))
    for name in _TIMES:
        m[name] = from_ts(m[name])
    return DeliveryRecord(**m)


class DeliveryQueries(LeaseQueries):
    def add_deliveries(self, records: Sequence[DeliveryRecord]) -> list[int]:
        ids = []
        for record in records:
            values = {name: getattr(record, name) for name in _COLUMNS if name != "id"}
            for name in _TIMES:
                if values[name] is not None:
                    values[name] = to_ts(values[name])
            ids.append(int(_ADD.one(self.conn, values)[0]))
        return ids

    def deliveries_of(self, call_id: str) -> list[DeliveryRecord]:
        """The callback and destinations of a call (not the pushes of a topic message of that id)."""
        query = (
            select(deliveries)
            .where(deliveries.c.call_id == call_id, deliveries.c.kind != NOTIFY)
            .order_by(deliveries.c.id)
        )
        return [_delivery(r) for r in self.conn.execute(query)]

    def claim_deliveries(
        self, owner: str, now: datetime, lease_until: datetime, limit: int
    ) -> list[DeliveryRecord]:
        """Lease due, pending deliveries that nobody holds."""
        return [_delivery(row) for row in self.claim(DELIVERY_LEASE, owner, now, lease_until, limit)]

    def record_attempt(
        self,
        delivery_id: int,
        *,
        status: str,
        attempts: int,
        run_at: datetime,
        last_status: int | None,
        last_error: str | None,
        delivered_at: datetime | None = None,
        lease_owner: str | None = None,
        lease_until: datetime | None = None,
    ) -> None:
        values = {
            "delivery_id": delivery_id,
            "status": status,
            "attempts": attempts,
            "run_at": to_ts(run_at),
            "last_status": last_status,
            "last_error": last_error,
            "delivered_at": to_ts(delivered_at) if delivered_at else None,
            "lease_owner": lease_owner,
            "lease_until": to_ts(lease_until) if lease_until else None,
        }
        _RECORD_ATTEMPT.run(self.conn, values)
