"""MNS's queue actions, each a translation of a request into calls of ``fnflow.services.queues``
and of the result into MNS's XML. Creating, changing and deleting queues needs ``admin``;
messages and reads ``invoke`` — as on fnflow's own queue API.

A message body is stored as the client sends it: the SDKs base64-encode bodies unless told not
to (``set_encoding(False)``) and decode what they receive the same way, so the encoding is the
clients' business, as it is MNS's.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from xml.etree.ElementTree import Element

from fnflow.compat.alibaba.mns import documents, shapes
from fnflow.compat.alibaba.mns.calls import Actions, Call, Listing, Reply, integer, logging_disabled, page
from fnflow.compat.alibaba.mns.errors import MnsError, from_fnflow, no_message
from fnflow.queues.attributes import (
    CHANGED_VISIBILITY,
    DEFAULT_PRIORITY,
    DELAY_SECONDS,
    MAXIMUM_MESSAGE_SIZE,
    MESSAGE_RETENTION_PERIOD,
    POLLING_WAIT_SECONDS,
    PRIORITY,
    RECEIVE_BATCH,
    VISIBILITY_TIMEOUT,
    QueueAttributes,
)
from fnflow.services.queues import OutgoingMessage

#: MNS's queue attributes: their fields in ``QueueAttributes`` and their ranges.
_ATTRIBUTES = {
    "VisibilityTimeout": ("visibility_timeout", VISIBILITY_TIMEOUT),
    "MaximumMessageSize": ("maximum_message_size", MAXIMUM_MESSAGE_SIZE),
    "MessageRetentionPeriod": ("message_retention_period", MESSAGE_RETENTION_PERIOD),
    "DelaySeconds": ("delay_seconds", DELAY_SECONDS),
    "PollingWaitSeconds": ("polling_wait_seconds", POLLING_WAIT_SECONDS),
}
_BATCH = (int(RECEIVE_BATCH[0]), int(RECEIVE_BATCH[1]))

ACTIONS = Actions()


def _span(bounds: tuple[float, float]) -> tuple[int, int]:
    return int(bounds[0]), int(bounds[1])


def _attributes(body: bytes) -> dict[str, Any]:
    """The attributes a ``<Queue>`` document gives, as changes of ``QueueAttributes`` (no body:
    none)."""
    if not body.strip():
        return {}
    values = documents.fields(documents.parse(body, "Queue"), [*_ATTRIBUTES, "LoggingEnabled"])
    logging_disabled(values)
    given: dict[str, Any] = {}
    for name, (field, bounds) in _ATTRIBUTES.items():
        number = integer(name, values.get(name), *_span(bounds))
        if number is not None:
            given[field] = number
    return given


def _outgoing(element: Element) -> OutgoingMessage:
    if element.tag != "Message":
        raise documents.invalid(element.tag, "<Messages> holds <Message> elements")
    values = documents.fields(element, ("MessageBody", "DelaySeconds", "Priority"))
    if not values.get("MessageBody"):
        raise documents.invalid("MessageBody", "a message must have a body")
    return OutgoingMessage(
        values["MessageBody"],
        integer("DelaySeconds", values.get("DelaySeconds"), *_span(DELAY_SECONDS)),
        integer("Priority", values.get("Priority"), *_span(PRIORITY)) or DEFAULT_PRIORITY,
    )


def _count(name: str, count: int) -> None:
    if not _BATCH[0] <= count <= _BATCH[1]:
        raise documents.invalid(name, f"a batch has {_BATCH[0]} to {_BATCH[1]} of them, not {count}")


def _receipt_handle(call: Call) -> str:
    handle = call.query.get("receipthandle")
    if not handle:
        raise MnsError(400, "MissingReceiptHandle", "ReceiptHandle is required.")
    return handle


# --- queues ---------------------------------------------------------------------------------------


@ACTIONS.register("CreateQueue", "admin")
async def create_queue(call: Call) -> Reply:
    """201 when created; 204 when it exists with the same attributes (QueueAlreadyExist if not)."""
    [name] = call.names
    attributes = replace(QueueAttributes(), **_attributes(call.body))
    _, created = await call.app.queues.create(name, attributes, replace=False)
    return Reply(201 if created else 204, location=shapes.queue_url(call.base, name))


@ACTIONS.register("SetQueueAttributes", "admin")
async def set_queue_attributes(call: Call) -> Reply:
    [name] = call.names
    given = _attributes(call.body)
    await call.app.queues.update(name, lambda current: replace(current, **given))
    return Reply(204)


@ACTIONS.register("GetQueueAttributes", "invoke")
async def get_queue_attributes(call: Call) -> Reply:
    [name] = call.names
    record, counts = await call.app.queues.info(name)
    return Reply(200, documents.document("Queue", shapes.queue(record, counts)))


@ACTIONS.register("DeleteQueue", "admin")
async def delete_queue(call: Call) -> Reply:
    [name] = call.names
    await call.app.queues.delete(name)
    return Reply(204)


@ACTIONS.register("ListQueue", "invoke")
async def list_queue(call: Call) -> Reply:
    listing = Listing.of(call)
    listed = await call.app.queues.list_queues(listing.prefix, listing.limit, listing.marker)
    items = [
        {"QueueURL": shapes.queue_url(call.base, q.name), **(shapes.queue(q) if listing.with_meta else {})}
        for q in listed.items
    ]
    return page("Queues", "Queue", items, listed.next_token)


# --- messages -------------------------------------------------------------------------------------


@ACTIONS.register("SendMessage", "invoke")
async def send_message(call: Call) -> Reply:
    """A ``<Message>`` (SendMessage) or ``<Messages>`` of 1-16 (BatchSendMessage): all are sent, or
    none."""
    [name] = call.names
    root = documents.parse(call.body, "Message", "Messages")
    if root.tag == "Message":
        [sent] = await call.app.queues.send_batch(name, [_outgoing(root)])
        return Reply(201, documents.document("Message", shapes.sent(sent)))
    _count("Message", len(root))
    batch = await call.app.queues.send_batch(name, [_outgoing(m) for m in root])
    return Reply(201, documents.document_of_list("Messages", "Message", [shapes.sent(m) for m in batch]))


def _batch(call: Call, batch: bool) -> int:
    """How many messages a call asks for: 1, or a batch's ``numOfMessages`` (default 16)."""
    if not batch:
        return 1
    return integer("numOfMessages", call.query.get("numofmessages"), *_BATCH) or _BATCH[1]


def _messages(batch: bool, messages: list[dict[str, str]]) -> Reply:
    if not messages:
        raise no_message()
    if batch:
        return Reply(200, documents.document_of_list("Messages", "Message", messages))
    [message] = messages
    return Reply(200, documents.document("Message", message))


async def _receive(call: Call, batch: bool) -> Reply:
    [name] = call.names
    wait = integer("waitseconds", call.query.get("waitseconds"), *_span(POLLING_WAIT_SECONDS))
    count = _batch(call, batch)
    received = await call.app.queues.receive(name, max_messages=count, wait=wait, gone=call.gone)
    return _messages(batch, [shapes.received(m) for m in received])


async def _peek(call: Call, batch: bool) -> Reply:
    [name] = call.names
    return _messages(batch, [shapes.peeked(m) for m in await call.app.queues.peek(name, _batch(call, batch))])


@ACTIONS.register("ReceiveMessage", "invoke")
async def receive_message(call: Call) -> Reply:
    return await _receive(call, batch=False)


@ACTIONS.register("BatchReceiveMessage", "invoke")
async def batch_receive_message(call: Call) -> Reply:
    return await _receive(call, batch=True)


@ACTIONS.register("PeekMessage", "invoke")
async def peek_message(call: Call) -> Reply:
    return await _peek(call, batch=False)


@ACTIONS.register("BatchPeekMessage", "invoke")
async def batch_peek_message(call: Call) -> Reply:
    return await _peek(call, batch=True)


@ACTIONS.register("DeleteMessage", "invoke")
async def delete_message(call: Call) -> Reply:
    [name] = call.names
    await call.app.queues.delete_message(name, _receipt_handle(call))
    return Reply(204)


@ACTIONS.register("BatchDeleteMessage", "invoke")
async def batch_delete_message(call: Call) -> Reply:
    """204 when every message is deleted; else 404 with an ``<Error>`` per handle that deleted
    nothing (the others' messages are deleted)."""
    [name] = call.names
    root = documents.parse(call.body, "ReceiptHandles")
    handles = []
    for element in root:
        if element.tag != "ReceiptHandle" or len(element):
            raise documents.invalid(element.tag, "<ReceiptHandles> holds <ReceiptHandle> texts")
        handles.append(element.text or "")
    _count("ReceiptHandle", len(handles))
    failed = await call.app.queues.delete_messages(name, handles)
    if not failed:
        return Reply(204)
    errors = []
    for handle, error in failed:
        mapped = from_fnflow(error)
        errors.append({"ErrorCode": mapped.code, "ErrorMessage": mapped.message, "ReceiptHandle": handle})
    return Reply(404, documents.document_of_list("Errors", "Error", errors))


@ACTIONS.register("ChangeMessageVisibility", "invoke")
async def change_message_visibility(call: Call) -> Reply:
    """The same receipt handle stays good (MNS hands out a new one; either way, use the last)."""
    [name] = call.names
    handle = _receipt_handle(call)
    seconds = integer("VisibilityTimeout", call.query.get("visibilitytimeout"), *_span(CHANGED_VISIBILITY))
    if seconds is None:
        raise MnsError(400, "MissingVisibilityTimeout", "VisibilityTimeout is required.")
    changed = await call.app.queues.change_visibility(name, handle, seconds)
    return Reply(200, documents.document("ChangeVisibility", shapes.visibility(changed)))
