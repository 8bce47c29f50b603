"""Built-in queues as the API, the CLI, the client and flows see them.

Delivery is at least once: a received message that is not deleted before its visibility timeout
is received again (its ``dequeue_count`` tells how often), so receivers must be idempotent. A
sender's own message id is an idempotency key: sending the same id to the same queue again, for
as long as the queue keeps messages (its retention period), even after the message was deleted,
returns the message already sent and sends nothing.
"""

from __future__ import annotations

import functools
import math
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fnflow.clock import uuid7
from fnflow.errors import (
    Conflict,
    FnflowError,
    InvalidReceiptHandle,
    MessageNotHeld,
    QueueAlreadyExists,
    QueueNotFound,
)
from fnflow.names import check_name
from fnflow.queues.arrivals import RECHECK, Arrivals
from fnflow.queues.attributes import (
    CHANGED_VISIBILITY,
    DEFAULT_PRIORITY,
    DELAY_SECONDS,
    POLLING_WAIT_SECONDS,
    PRIORITY,
    RECEIVE_BATCH,
    VISIBILITY_TIMEOUT,
    QueueAttributes,
    check_body,
    check_message_id,
    check_range,
)
from fnflow.queues.handles import parse_receipt_handle, receipt_handle
from fnflow.queues.notify import body_md5
from fnflow.store import MessageRecord, Page, QueueCounts, QueueRecord, Store, Tx


@dataclass(frozen=True)
class OutgoingMessage:
    """A message to send: ``delay_seconds`` None takes the queue's delay."""

    body: str
    delay_seconds: float | None = None
    priority: int = DEFAULT_PRIORITY
    message_id: str | None = None  # the sender's own id: an idempotency key

    def check(self) -> None:
        if self.delay_seconds is not None:
            check_range("delaySeconds", self.delay_seconds, DELAY_SECONDS)
        check_range("priority", self.priority, PRIORITY)
        if self.message_id is not None:
            check_message_id(self.message_id)


@dataclass(frozen=True)
class ReceivedMessage:
    """A message as a receive got it: ``receipt_handle`` deletes it or changes its visibility
    until its visibility timeout (``message.lease_until``) passes."""

    message: MessageRecord
    receipt_handle: str


def new_message(queue: QueueRecord, outgoing: OutgoingMessage, now: datetime) -> MessageRecord:
    """The record of ``outgoing`` sent to ``queue`` at ``now`` (PayloadTooLarge if its body is)."""
    check_body(outgoing.body, queue.maximum_message_size, f"queue {queue.name!r}")
    delay = queue.delay_seconds if outgoing.delay_seconds is None else outgoing.delay_seconds
    return MessageRecord(
        queue=queue.name,
        id=outgoing.message_id or uuid7().hex.upper(),
        body=outgoing.body,
        body_md5=body_md5(outgoing.body),
        priority=outgoing.priority,
        enqueued_at=now,
        expires_at=now + timedelta(seconds=queue.message_retention_period),
        keyed=outgoing.message_id is not None,
        lease_until=now + timedelta(seconds=delay) if delay > 0 else None,
    )


def _existing(tx: Tx, name: str) -> QueueRecord:
    queue = tx.get_queue(name)
    if queue is None:
        raise QueueNotFound(f"queue {name!r} does not exist")
    return queue


class QueueService:
    def __init__(self, store: Store, arrivals: Arrivals) -> None:
        self.store = store
        self.arrivals = arrivals

    # --- queues -----------------------------------------------------------------------------------

    async def create(
        self, name: str, attributes: QueueAttributes | None = None, *, replace: bool = True
    ) -> tuple[QueueRecord, bool]:
        """Create a queue, or (``replace``) set the attributes of the one that exists; (queue, created).

        Without ``replace`` a queue that exists with other attributes is QueueAlreadyExists (MNS's
        CreateQueue); with the same ones it is returned as it is. Messages already sent keep the
        delay and retention they were sent with.
        """
        check_name("queue", name)
        attributes = attributes or QueueAttributes()
        attributes.check(name)
        now = datetime.now(UTC)

        def put(tx: Tx) -> tuple[QueueRecord, bool]:
            current = tx.get_queue(name)
            if current is not None and not replace:
                if _attributes(current) != attributes:
                    raise QueueAlreadyExists(f"queue {name!r} already exists with other attributes")
                return current, False
            return _put(tx, name, attributes, current, now), current is None

        return await self.store.write(put)

    async def update(self, name: str, change: Callable[[QueueAttributes], QueueAttributes]) -> QueueRecord:
        """Change some attributes of a queue (MNS's SetQueueAttributes): ``change`` makes the new
        attributes from the current ones, in the same transaction. QueueNotFound if there is none."""
        now = datetime.now(UTC)

        def put(tx: Tx) -> QueueRecord:
            current = _existing(tx, name)
            attributes = change(_attributes(current))
            attributes.check(name)
            return _put(tx, name, attributes, current, now)

        return await self.store.write(put)

    async def get(self, name: str) -> QueueRecord:
        return await self.store.read(functools.partial(_existing, name=name))

    async def info(self, name: str) -> tuple[QueueRecord, QueueCounts]:
        """A queue and how many of its messages are visible, received and delayed."""

        def read(tx: Tx) -> tuple[QueueRecord, QueueCounts]:
            return _existing(tx, name), tx.queue_counts(name, datetime.now(UTC))

        return await self.store.read(read)

    async def exists(self, name: str) -> bool:
        return await self.store.read(lambda tx: tx.get_queue(name)) is not None

    async def list_queues(self, prefix: str = "", limit: int = 100, token: str | None = None) -> Page:
        """Queues by name."""
        return await self.store.read(lambda tx: tx.list_queues(prefix, limit, token))

    async def delete(self, name: str) -> None:
        """Delete a queue and its messages; refused while another queue dead-letters into it."""

        def delete(tx: Tx) -> bool:
            if sources := tx.queues_dead_lettering_into(name):
                raise Conflict(f"queue {name!r} is the dead-letter queue of {', '.join(map(repr, sources))}")
            return tx.delete_queue(name)

        if not await self.store.write(delete):
            raise QueueNotFound(f"queue {name!r} does not exist")

    # --- messages ---------------------------------------------------------------------------------

    async def send(
        self,
        queue: str,
        body: str,
        *,
        delay_seconds: float | None = None,
        priority: int = DEFAULT_PRIORITY,
        message_id: str | None = None,
    ) -> MessageRecord:
        """Send a message (committed when this returns); the message as stored. ``message_id`` is the
        sender's own id: sending it again returns the stored message and sends nothing."""
        [sent] = await self.send_batch(queue, [OutgoingMessage(body, delay_seconds, priority, message_id)])
        return sent

    async def send_batch(self, queue: str, messages: Sequence[OutgoingMessage]) -> list[MessageRecord]:
        """Send several messages in one transaction: all are stored, or (an error) none."""
        for outgoing in messages:
            outgoing.check()
        now = datetime.now(UTC)

        def send(tx: Tx) -> list[tuple[MessageRecord, bool]]:
            target = _existing(tx, queue)
            stored = tx.send_messages([new_message(target, m, now) for m in messages])
            if any(new for _, new in stored):
                Arrivals.announce(tx, queue)
            return stored

        stored = await self.store.write(send)
        self.arrivals.wake(queue)
        return [record for record, _ in stored]

    async def receive(
        self,
        queue: str,
        *,
        max_messages: int = 1,
        wait: float | None = None,
        visibility: float | None = None,
        gone: Callable[[], Awaitable[bool]] | None = None,
    ) -> list[ReceivedMessage]:
        """Receive up to ``max_messages`` visible messages, highest priority first, then oldest.

        Waits up to ``wait`` seconds (default: the queue's polling wait) for one to be visible. Each
        is invisible to other receives for ``visibility`` seconds (default: the queue's visibility
        timeout), and visible again after that unless deleted. ``gone()`` tells that the receiver
        went away (it is asked before looking again, so no message is taken for nobody).
        """
        check_range("max", max_messages, RECEIVE_BATCH)
        if wait is not None:
            check_range("wait", wait, POLLING_WAIT_SECONDS)
        if visibility is not None:
            check_range("visibility", visibility, VISIBILITY_TIMEOUT)
        receive = uuid.uuid4().hex
        started = time.monotonic()
        with self.arrivals.watch(queue) as watch:
            while True:
                watch.reset()
                now = datetime.now(UTC)
                job = functools.partial(
                    self._receive,
                    queue=queue,
                    receive=receive,
                    now=now,
                    limit=max_messages,
                    visibility=visibility,
                )
                target, messages, moved, later = await self.store.write(job)
                if moved and target.dead_letter_queue:
                    self.arrivals.wake(target.dead_letter_queue)
                if messages:
                    return [ReceivedMessage(m, receipt_handle(m.id, receive)) for m in messages]
                left = started + (target.polling_wait_seconds if wait is None else wait) - time.monotonic()
                if left <= 0 or self.arrivals.closed:
                    return []
                due = (later - now).total_seconds() if later is not None else math.inf
                await watch.wait(max(0.01, min(left, due, RECHECK)))
                if gone is not None and await gone():
                    return []

    @staticmethod
    def _receive(
        tx: Tx, queue: str, receive: str, now: datetime, limit: int, visibility: float | None
    ) -> tuple[QueueRecord, list[MessageRecord], int, datetime | None]:
        """(the queue, the messages received, how many went to its dead-letter queue instead, when
        the next invisible one becomes visible if none was received)."""
        target = _existing(tx, queue)
        seconds = target.visibility_timeout if visibility is None else visibility
        until = now + timedelta(seconds=seconds)
        messages, moved = tx.receive_messages(target, receive, now, until, limit)
        if moved and target.dead_letter_queue:
            Arrivals.announce(tx, target.dead_letter_queue)
        return target, messages, moved, None if messages else tx.next_visible_at(queue, now)

    async def peek(self, queue: str, max_messages: int = 1) -> list[MessageRecord]:
        """The visible messages the next receive would get, left as they are."""
        check_range("max", max_messages, RECEIVE_BATCH)

        def peek(tx: Tx) -> list[MessageRecord]:
            _existing(tx, queue)
            return tx.peek_messages(queue, datetime.now(UTC), max_messages)

        return await self.store.read(peek)

    async def delete_message(self, queue: str, receipt_handle: str) -> None:
        """Delete a received message. MessageNotHeld if the handle's receive holds it no more: its
        visibility timeout passed (it may be received again), or it was deleted already."""
        message_id, receive = parse_receipt_handle(receipt_handle)
        now = datetime.now(UTC)

        def delete(tx: Tx) -> bool:
            _existing(tx, queue)
            return tx.delete_message(queue, message_id, receive, now)

        if not await self.store.write(delete):
            raise _not_held(receipt_handle)

    async def delete_messages(
        self, queue: str, receipt_handles: Sequence[str]
    ) -> list[tuple[str, FnflowError]]:
        """Delete 1-16 received messages at once (MNS's BatchDeleteMessage). Each handle that still
        holds its message deletes it; the others come back, in order, with why not
        (InvalidReceiptHandle, MessageNotHeld). QueueNotFound deletes none."""
        check_range("receipt handles", len(receipt_handles), RECEIVE_BATCH)
        held: dict[str, tuple[str, str]] = {}
        errors: dict[str, FnflowError] = {}
        for handle in receipt_handles:
            try:
                held[handle] = parse_receipt_handle(handle)
            except InvalidReceiptHandle as e:
                errors[handle] = e
        now = datetime.now(UTC)

        def delete(tx: Tx) -> list[str]:
            _existing(tx, queue)
            return [h for h, (m, r) in held.items() if not tx.delete_message(queue, m, r, now)]

        for handle in await self.store.write(delete):
            errors[handle] = _not_held(handle)
        return [(h, errors[h]) for h in dict.fromkeys(receipt_handles) if h in errors]

    async def change_visibility(self, queue: str, receipt_handle: str, seconds: float) -> ReceivedMessage:
        """Make a received message visible again in ``seconds`` (0: now) instead of when its visibility
        timeout ends; the message with its (unchanged) receipt handle. MessageNotHeld as ``delete``."""
        check_range("visibilityTimeout", seconds, CHANGED_VISIBILITY)
        message_id, receive = parse_receipt_handle(receipt_handle)
        now = datetime.now(UTC)

        def change(tx: Tx) -> MessageRecord | None:
            _existing(tx, queue)
            changed = tx.change_visibility(queue, message_id, receive, now, now + timedelta(seconds=seconds))
            if changed is not None and seconds == 0:
                Arrivals.announce(tx, queue)
            return changed

        message = await self.store.write(change)
        if message is None:
            raise _not_held(receipt_handle)
        if seconds == 0:
            self.arrivals.wake(queue)
        return ReceivedMessage(message, receipt_handle)


def _put(
    tx: Tx, name: str, attributes: QueueAttributes, current: QueueRecord | None, now: datetime
) -> QueueRecord:
    if attributes.dead_letter_queue is not None and tx.get_queue(attributes.dead_letter_queue) is None:
        raise QueueNotFound(f"dead-letter queue {attributes.dead_letter_queue!r} does not exist")
    created = current.created_at if current else now
    return tx.put_queue(QueueRecord(name=name, created_at=created, updated_at=now, **vars(attributes)))


def _attributes(record: QueueRecord) -> QueueAttributes:
    names = vars(QueueAttributes()).keys()
    return QueueAttributes(**{k: v for k, v in vars(record).items() if k in names})


def _not_held(handle: str) -> MessageNotHeld:
    return MessageNotHeld(
        f"receipt handle {handle!r} is no longer valid: the message's visibility timeout passed "
        "(it may be received again) or it was deleted"
    )
