"""Built-in queues: their attributes, and their messages leased to the receives that get them.

A received message is a leased row (``MESSAGE_LEASE``): the receive is the lease's owner (its
receipt handles name it), the visibility timeout is the lease, changing the visibility renews it,
and a message whose lease ran out is visible again. A delayed message is one whose lease runs
until its delay has passed, with no owner. Only receivers renew these leases and no recovery
frees them: receivers are programs outside fnflow, alive or not whatever fnflow's processes do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, case, delete, func, null, or_, select, update

from fnflow.store.prepared import Prepared
from fnflow.store.queries.base import dialect_insert, from_ts, from_ts_req, to_ts
from fnflow.store.queries.leases import Lease, LeaseQueries
from fnflow.store.records import MessageRecord, Page, QueueCounts, QueueRecord
from fnflow.store.schema import queue_messages, queues

#: Claim rounds of one receive that may each find only messages to dead-letter (bounds its work).
DEAD_LETTER_ROUNDS = 4

_QUEUE_TIMES = ("created_at", "updated_at")
_MESSAGE_TIMES = ("enqueued_at", "expires_at", "first_dequeued_at", "lease_until")
_QUEUE_COLUMNS = tuple(c.name for c in queues.c)
_MESSAGE_COLUMNS = tuple(c.name for c in queue_messages.c)
#: Sending is the hot path: its insert is compiled once (an existing id is skipped, not an error).
_SEND = Prepared(
    lambda dialect: (
        dialect_insert(dialect, queue_messages)
        .values({c.name: bindparam(c.name) for c in queue_messages.c})
        .on_conflict_do_nothing()
    )
)

# Every queue operation reads its queue, and receiving and deleting a message are the queue's hot
# path: those statements are compiled once (through SQLAlchemy Core, each cost 0.2-0.5 ms).
_GET_QUEUE = Prepared(select(queues).where(queues.c.name == bindparam("name")))
_HELD = and_(
    queue_messages.c.queue == bindparam("queue"),
    queue_messages.c.id == bindparam("id"),
    queue_messages.c.status == "Active",
    queue_messages.c.lease_owner == bindparam("owner"),
    queue_messages.c.lease_until >= bindparam("now"),
)
#: what a deleted message whose sender chose its id keeps: a tombstone (see ``_remove``)
_TOMBSTONE = {"status": "Deleted", "body": "", "lease_owner": null(), "lease_until": null()}
#: deleting a held message
_TOMBSTONE_HELD = Prepared(
    update(queue_messages).where(_HELD, queue_messages.c.keyed.is_(True)).values(_TOMBSTONE)
)
_DELETE_HELD = Prepared(delete(queue_messages).where(_HELD, queue_messages.c.keyed.is_(False)))
_NEXT_VISIBLE = Prepared(
    select(func.min(queue_messages.c.lease_until)).where(
        queue_messages.c.queue == bindparam("queue"),
        queue_messages.c.status == "Active",
        queue_messages.c.lease_until >= bindparam("now"),
        queue_messages.c.expires_at > bindparam("now"),
    )
)

#: Active messages are received highest priority (lowest number) first, then oldest first, once
#: visible; each receive counts.
MESSAGE_LEASE = Lease(
    queue_messages,
    ("queue", "id"),
    ready=lambda t, now: and_(t.c.status == "Active", t.c.expires_at > now),
    order=("priority", "enqueued_at"),
    on_claim=lambda t, now: {
        "dequeue_count": t.c.dequeue_count + 1,
        "first_dequeued_at": func.coalesce(t.c.first_dequeued_at, now),
    },
)


def _queue(row: Sequence[Any]) -> QueueRecord:
    """A queue from its row (every column, in the table's order)."""
    m = dict(zip(_QUEUE_COLUMNS, row, strict=True))
    for name in _QUEUE_TIMES:
        m[name] = from_ts_req(m[name])
    return QueueRecord(**m)


def _message(row: Sequence[Any]) -> MessageRecord:
    """A message from its row (every column, in the table's order)."""
    m = dict(zip(_MESSAGE_COLUMNS, row, strict=True))
    for name in _MESSAGE_TIMES:
        m[name] = from_ts(m[name])
    m["keyed"] = bool(m["keyed"])
    return MessageRecord(**m)


def _message_values(record: MessageRecord) -> dict[str, Any]:
    values = dict(vars(record))
    for name in _MESSAGE_TIMES:
        if values[name] is not None:
            values[name] = to_ts(values[name])
    return values


def _key(queue: str, message_id: str) -> ColumnElement[bool]:
    t = queue_messages
    return and_(t.c.queue == queue, t.c.id == message_id)


def _visible(at: float) -> ColumnElement[bool]:
    t = queue_messages
    return or_(t.c.lease_until.is_(None), t.c.lease_until < at)


class QueueQueries(LeaseQueries):
    # --- queues -----------------------------------------------------------------------------------

    def put_queue(self, record: QueueRecord) -> QueueRecord:
        """Create a queue, or set the attributes of one that exists (it keeps its creation time)."""
        values = {c.name: getattr(record, c.name) for c in queues.c}
        for name in _QUEUE_TIMES:
            values[name] = to_ts(values[name])
        self._upsert(queues, values, ("name",))
        stored = self.get_queue(record.name)
        assert stored is not None
        return stored

    def get_queue(self, name: str) -> QueueRecord | None:
        row = _GET_QUEUE.one(self.conn, {"name": name})
        return None if row is None else _queue(row)

    def list_queues(self, prefix: str = "", limit: int = 100, token: str | None = None) -> Page:
        """Queues by name (those whose name starts with ``prefix``)."""
        query = select(queues)
        if prefix:
            query = query.where(queues.c.name.startswith(prefix, autoescape=True))
        return self._page_by_name(query, queues.c.name, limit, token, _queue)

    def queues_dead_lettering_into(self, name: str) -> list[str]:
        """The queues whose dead-letter queue is ``name``."""
        query = select(queues.c.name).where(queues.c.dead_letter_queue == name).order_by(queues.c.name)
        return list(self.conn.execute(query).scalars())

    def delete_queue(self, name: str) -> bool:
        """Delete a queue with its messages."""
        self.conn.execute(delete(queue_messages).where(queue_messages.c.queue == name))
        return self.conn.execute(delete(queues).where(queues.c.name == name)).rowcount > 0

    def queue_counts(self, name: str, now: datetime) -> QueueCounts:
        t, at = queue_messages, to_ts(now)
        hidden = t.c.lease_until >= at

        def count(condition: ColumnElement[bool]) -> Any:
            return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

        query = select(
            count(_visible(at)),
            count(and_(hidden, t.c.lease_owner.is_not(None))),
            count(and_(hidden, t.c.lease_owner.is_(None))),
        ).where(t.c.queue == name, t.c.status == "Active", t.c.expires_at > at)
        active, inactive, delayed = self.conn.execute(query).one()
        return QueueCounts(int(active), int(inactive), int(delayed))

    # --- messages ---------------------------------------------------------------------------------

    def send_messages(self, records: Sequence[MessageRecord]) -> list[tuple[MessageRecord, bool]]:
        """Store messages; for each, in order, the message as stored and whether it is new.

        A message id is an idempotency key per queue: the same queue and id again, while the message
        (or its tombstone) is kept, is the message already stored — sending it twice sends it once.
        """
        stored = []
        counts = _SEND.execute_each(self.conn, [_message_values(r) for r in records])
        for record, count in zip(records, counts, strict=True):
            if count:
                stored.append((record, True))
            else:
                existing = self.get_message(record.queue, record.id)
                assert existing is not None  # rows are only removed by the transaction that holds them
                stored.append((existing, False))
        return stored

    def get_message(self, queue: str, message_id: str) -> MessageRecord | None:
        row = self.conn.execute(select(queue_messages).where(_key(queue, message_id))).first()
        return None if row is None else _message(row)

    def receive_messages(
        self, queue: QueueRecord, owner: str, now: datetime, until: datetime, limit: int
    ) -> tuple[list[MessageRecord], int]:
        """Lease up to ``limit`` visible messages of ``queue`` to the receive ``owner``, invisible until
        ``until``; (the messages, how many others were dead-lettered instead).

        A message received more than the queue's ``max_receive_count`` times goes to its dead-letter
        queue (or is dropped without one) instead of to this receive. On PostgreSQL concurrent
        receives pass over each other's messages (``FOR UPDATE SKIP LOCKED``).
        """
        received: list[MessageRecord] = []
        moved = 0
        for _ in range(DEAD_LETTER_ROUNDS):
            left = limit - len(received)
            rows = self.claim_matching(MESSAGE_LEASE, owner, now, until, left, {"queue": queue.name})
            if not rows:
                break
            claimed = [_message(row) for row in rows]
            most = queue.max_receive_count
            dead = [m for m in claimed if most is not None and m.dequeue_count > most]
            received += [m for m in claimed if most is None or m.dequeue_count <= most]
            if not dead:
                break
            self._dead_letter(queue, dead, now)
            moved += len(dead)
        return received, moved

    def _dead_letter(self, queue: QueueRecord, messages: list[MessageRecord], now: datetime) -> None:
        """Move ``messages`` to the queue's dead-letter queue as new, visible messages (same id)."""
        target = self.get_queue(queue.dead_letter_queue) if queue.dead_letter_queue else None
        if target is not None:
            retention = timedelta(seconds=target.message_retention_period)
            copies = [
                replace(
                    m,
                    queue=target.name,
                    enqueued_at=now,
                    expires_at=now + retention,
                    first_dequeued_at=None,
                    dequeue_count=0,
                    lease_owner=None,
                    lease_until=None,
                )
                for m in messages
            ]
            self.send_messages(copies)
        self._remove(MESSAGE_LEASE.keys_in([(m.queue, m.id) for m in messages]))

    def _remove(self, which: ColumnElement[bool]) -> int:
        """Delete messages: those whose sender chose the id become tombstones (no body, never visible)
        until they expire, so that the id keeps meaning "sent"; the others go."""
        t = queue_messages
        kept = self.conn.execute(update(t).where(which, t.c.keyed.is_(True)).values(_TOMBSTONE)).rowcount
        gone = self.conn.execute(delete(t).where(which, t.c.keyed.is_(False))).rowcount
        return int(kept + gone)

    def next_visible_at(self, queue: str, now: datetime) -> datetime | None:
        """When the next of ``queue``'s invisible messages (delayed or received) becomes visible."""
        (at,) = _NEXT_VISIBLE.one(self.conn, {"queue": queue, "now": to_ts(now)})
        return from_ts(at)

    def peek_messages(self, queue: str, now: datetime, limit: int) -> list[MessageRecord]:
        """The visible messages the next receive would get, without receiving them."""
        t, at = queue_messages, to_ts(now)
        query = (
            select(t)
            .where(t.c.queue == queue, MESSAGE_LEASE.ready(t, at), _visible(at))
            .order_by(*MESSAGE_LEASE.ordering())
            .limit(limit)
        )
        return [_message(r) for r in self.conn.execute(query)]

    def delete_message(self, queue: str, message_id: str, owner: str, now: datetime) -> bool:
        """Delete a message the receive ``owner`` still holds; False if it holds it no more (its
        visibility timeout passed, it was deleted, or another receive got it since)."""
        held = {"queue": queue, "id": message_id, "owner": owner, "now": to_ts(now)}
        return sum(statement.run(self.conn, held) for statement in (_TOMBSTONE_HELD, _DELETE_HELD)) > 0

    def change_visibility(
        self, queue: str, message_id: str, owner: str, now: datetime, until: datetime
    ) -> MessageRecord | None:
        """Make a message the receive ``owner`` still holds invisible until ``until`` (``now``: visible
        at once); the message, or None if the receive holds it no more."""
        renewed = self.renew(MESSAGE_LEASE, owner, [(queue, message_id)], until, alive_at=now)
        return self.get_message(queue, message_id) if renewed else None

    def purge_expired_messages(self, now: datetime, limit: int) -> int:
        """Remove up to ``limit`` messages (and tombstones) whose retention period is over."""
        t = queue_messages
        query = select(t.c.queue, t.c.id).where(t.c.expires_at <= to_ts(now)).limit(limit)
        keys = [MESSAGE_LEASE.key_of(r) for r in self.conn.execute(self._skip_locked(query))]
        if not keys:
            return 0
        return int(self.conn.execute(delete(t).where(MESSAGE_LEASE.keys_in(keys))).rowcount)
