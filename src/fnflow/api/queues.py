"""``/api/v1/queues``: built-in queues and their messages (send, receive with long-poll, delete,
change visibility, peek). Creating, changing and deleting queues needs ``admin``; everything
else ``invoke``."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from fnflow.api.auth import Admin, Invoke
from fnflow.api.root import root
from fnflow.api.schemas import Body
from fnflow.fdl.timestamps import format_timestamp
from fnflow.queues.attributes import DEFAULT_PRIORITY, QueueAttributes
from fnflow.services.queues import QueueService, ReceivedMessage
from fnflow.store import MessageRecord, QueueCounts, QueueRecord

router = APIRouter(prefix="/api/v1/queues", tags=["queues"])

_DEFAULTS = QueueAttributes()


def _time(value: datetime | None) -> str | None:
    return format_timestamp(value) if value is not None else None


class QueueIn(Body):
    """A queue's attributes (seconds, bytes); what is left out takes its default (MNS's)."""

    visibilityTimeout: float = Field(_DEFAULTS.visibility_timeout, description="1-43200")
    delaySeconds: float = Field(_DEFAULTS.delay_seconds, description="0-604800")
    maximumMessageSize: int = Field(_DEFAULTS.maximum_message_size, description="1024-65536")
    messageRetentionPeriod: float = Field(_DEFAULTS.message_retention_period, description="60-604800")
    pollingWaitSeconds: float = Field(_DEFAULTS.polling_wait_seconds, description="0-30")
    maxReceiveCount: int | None = Field(None, description="receives before a message is dead-lettered")
    deadLetterQueue: str | None = Field(None, description="where it goes then (none: it is dropped)")

    def attributes(self) -> QueueAttributes:
        return QueueAttributes(
            visibility_timeout=self.visibilityTimeout,
            delay_seconds=self.delaySeconds,
            maximum_message_size=self.maximumMessageSize,
            message_retention_period=self.messageRetentionPeriod,
            polling_wait_seconds=self.pollingWaitSeconds,
            max_receive_count=self.maxReceiveCount,
            dead_letter_queue=self.deadLetterQueue,
        )


class QueueOut(BaseModel):
    name: str
    visibilityTimeout: float
    delaySeconds: float
    maximumMessageSize: int
    messageRetentionPeriod: float
    pollingWaitSeconds: float
    maxReceiveCount: int | None
    deadLetterQueue: str | None
    createdTime: str
    lastModifiedTime: str
    activeMessages: int | None = Field(None, description="visible now (in GET /queues/{q} only)")
    inactiveMessages: int | None = Field(None, description="received, invisible until their timeout")
    delayMessages: int | None = Field(None, description="sent with a delay that has not passed")

    @classmethod
    def of(cls, q: QueueRecord, counts: QueueCounts | None = None) -> QueueOut:
        return cls(
            name=q.name,
            visibilityTimeout=q.visibility_timeout,
            delaySeconds=q.delay_seconds,
            maximumMessageSize=q.maximum_message_size,
            messageRetentionPeriod=q.message_retention_period,
            pollingWaitSeconds=q.polling_wait_seconds,
            maxReceiveCount=q.max_receive_count,
            deadLetterQueue=q.dead_letter_queue,
            createdTime=format_timestamp(q.created_at),
            lastModifiedTime=format_timestamp(q.updated_at),
            activeMessages=counts.active if counts else None,
            inactiveMessages=counts.inactive if counts else None,
            delayMessages=counts.delayed if counts else None,
        )


class QueueList(BaseModel):
    queues: list[QueueOut]
    nextToken: str | None = None


class MessageIn(Body):
    body: str
    delaySeconds: float | None = Field(None, description="0-604800; default: the queue's")
    priority: int = Field(DEFAULT_PRIORITY, description="1 (received first) - 16")
    messageId: str | None = Field(
        None, description="your own id: sending it again to this queue sends nothing (idempotency key)"
    )


class SentOut(BaseModel):
    messageId: str
    bodyMD5: str
    enqueueTime: str
    nextVisibleTime: str | None = Field(None, description="while it is delayed")


class MessageOut(BaseModel):
    messageId: str
    body: str
    bodyMD5: str
    receiptHandle: str | None = Field(None, description="deletes it or changes its visibility (receive only)")
    receiveCount: int
    priority: int
    enqueueTime: str
    firstDequeueTime: str | None
    nextVisibleTime: str | None = Field(None, description="while it is invisible (received or delayed)")

    @classmethod
    def of(cls, m: MessageRecord, handle: str | None = None) -> MessageOut:
        invisible = m.lease_until is not None and m.lease_until > datetime.now(UTC)
        return cls(
            messageId=m.id,
            body=m.body,
            bodyMD5=m.body_md5,
            receiptHandle=handle,
            receiveCount=m.dequeue_count,
            priority=m.priority,
            enqueueTime=format_timestamp(m.enqueued_at),
            firstDequeueTime=_time(m.first_dequeued_at),
            nextVisibleTime=_time(m.lease_until) if invisible else None,
        )

    @classmethod
    def received(cls, r: ReceivedMessage) -> MessageOut:
        return cls.of(r.message, r.receipt_handle)


class MessageList(BaseModel):
    messages: list[MessageOut]


class VisibilityIn(Body):
    visibilityTimeout: float = Field(description="seconds from now until it is visible again (0-43200)")


def _service(request: Request) -> QueueService:
    service: QueueService = root(request).queues
    return service


@router.put("/{queue}", response_model=QueueOut, responses={201: {"model": QueueOut}})
async def put_queue(queue: str, body: QueueIn, request: Request, response: Response, _: Admin) -> QueueOut:
    """Create a queue (201), or set its attributes (200)."""
    record, created = await _service(request).create(queue, body.attributes())
    response.status_code = 201 if created else 200
    return QueueOut.of(record)


@router.get("/{queue}")
async def get_queue(queue: str, request: Request, _: Invoke) -> QueueOut:
    """A queue's attributes and how many messages it holds in each state."""
    return QueueOut.of(*await _service(request).info(queue))


@router.get("")
async def list_queues(
    request: Request,
    _: Invoke,
    prefix: str = "",
    limit: int = Query(100, ge=1, le=1000),
    nextToken: str | None = None,
) -> QueueList:
    page = await _service(request).list_queues(prefix, limit, nextToken)
    return QueueList(queues=[QueueOut.of(q) for q in page.items], nextToken=page.next_token)


@router.delete("/{queue}", status_code=204)
async def delete_queue(queue: str, request: Request, _: Admin) -> Response:
    """Delete a queue and its messages (refused while it is another queue's dead-letter queue)."""
    await _service(request).delete(queue)
    return Response(status_code=204)


@router.post("/{queue}/messages")
async def send_message(queue: str, body: MessageIn, request: Request, _: Invoke) -> SentOut:
    """Send a message; it is stored when this answers."""
    sent = await _service(request).send(
        queue, body.body, delay_seconds=body.delaySeconds, priority=body.priority, message_id=body.messageId
    )
    return SentOut(
        messageId=sent.id,
        bodyMD5=sent.body_md5,
        enqueueTime=format_timestamp(sent.enqueued_at),
        nextVisibleTime=_time(sent.lease_until) if sent.lease_owner is None else None,
    )


@router.get("/{queue}/messages")
async def receive_messages(
    queue: str,
    request: Request,
    _: Invoke,
    wait: float | None = Query(
        None, description="seconds to wait for a message (0-30; default: the queue's)"
    ),
    visibility: float | None = Query(None, description="seconds a received message stays invisible"),
    max: int = Query(1, description="messages at most (1-16)"),
    peek: bool = Query(False, description="show the next visible messages without receiving them"),
) -> MessageList:
    """Receive messages: each stays invisible to other receives for ``visibility`` seconds and comes
    back unless deleted with its ``receiptHandle`` (at least once: ``receiveCount`` counts). With
    ``peek=true``, see them without receiving."""
    service = _service(request)
    if peek:
        return MessageList(messages=[MessageOut.of(m) for m in await service.peek(queue, max)])
    received = await service.receive(
        queue, max_messages=max, wait=wait, visibility=visibility, gone=request.is_disconnected
    )
    return MessageList(messages=[MessageOut.received(r) for r in received])


@router.delete("/{queue}/messages/{receipt_handle}", status_code=204)
async def delete_message(queue: str, receipt_handle: str, request: Request, _: Invoke) -> Response:
    """Delete a received message; 404 once its visibility timeout passed or it was deleted already."""
    await _service(request).delete_message(queue, receipt_handle)
    return Response(status_code=204)


@router.put("/{queue}/messages/{receipt_handle}/visibility")
async def change_visibility(
    queue: str, receipt_handle: str, body: VisibilityIn, request: Request, _: Invoke
) -> MessageOut:
    """Keep a received message invisible longer, or (0) let it go back at once."""
    changed = await _service(request).change_visibility(queue, receipt_handle, body.visibilityTimeout)
    return MessageOut.received(changed)
