"""The client's built-in queues: create them, send, receive (long-poll), delete, change visibility.

A worker drains a queue this way (at least once: delete a message only when its work is done)::

    with Client() as fnf:
        while True:
            for m in fnf.receive_messages("jobs", wait=20, max=10):
                work(m.body)
                fnf.delete_message("jobs", m.receipt_handle)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fnflow.client.http import Transport, api_path, items
from fnflow.client.models import Page, _time


@dataclass(frozen=True)
class Queue:
    """A queue's attributes (seconds, bytes); the message counts only from ``get_queue``."""

    name: str
    visibility_timeout: float
    delay_seconds: float
    maximum_message_size: int
    message_retention_period: float
    polling_wait_seconds: float
    max_receive_count: int | None
    dead_letter_queue: str | None
    created_time: datetime | None
    last_modified_time: datetime | None
    active_messages: int | None = None  # visible now
    inactive_messages: int | None = None  # received, invisible until their visibility timeout
    delay_messages: int | None = None  # sent with a delay that has not passed
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Queue:
        return cls(
            name=d["name"],
            visibility_timeout=d["visibilityTimeout"],
            delay_seconds=d["delaySeconds"],
            maximum_message_size=d["maximumMessageSize"],
            message_retention_period=d["messageRetentionPeriod"],
            polling_wait_seconds=d["pollingWaitSeconds"],
            max_receive_count=d.get("maxReceiveCount"),
            dead_letter_queue=d.get("deadLetterQueue"),
            created_time=_time(d.get("createdTime")),
            last_modified_time=_time(d.get("lastModifiedTime")),
            active_messages=d.get("activeMessages"),
            inactive_messages=d.get("inactiveMessages"),
            delay_messages=d.get("delayMessages"),
            raw=d,
        )


@dataclass(frozen=True)
class Message:
    """A message as a receive (with ``receipt_handle``) or a peek (without) saw it."""

    message_id: str
    body: str
    body_md5: str
    receipt_handle: str | None
    receive_count: int
    priority: int
    enqueue_time: datetime | None
    first_dequeue_time: datetime | None
    next_visible_time: datetime | None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Message:
        return cls(
            message_id=d["messageId"],
            body=d["body"],
            body_md5=d["bodyMD5"],
            receipt_handle=d.get("receiptHandle"),
            receive_count=d.get("receiveCount", 0),
            priority=d.get("priority", 8),
            enqueue_time=_time(d.get("enqueueTime")),
            first_dequeue_time=_time(d.get("firstDequeueTime")),
            next_visible_time=_time(d.get("nextVisibleTime")),
            raw=d,
        )


@dataclass(frozen=True)
class SentMessage:
    message_id: str
    body_md5: str
    enqueue_time: datetime | None
    next_visible_time: datetime | None  # while it is delayed
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> SentMessage:
        return cls(
            message_id=d["messageId"],
            body_md5=d["bodyMD5"],
            enqueue_time=_time(d.get("enqueueTime")),
            next_visible_time=_time(d.get("nextVisibleTime")),
            raw=d,
        )


class QueueMethods(Transport):
    """``/api/v1/queues``."""

    def put_queue(
        self,
        name: str,
        *,
        visibility_timeout: float = 30,
        delay_seconds: float = 0,
        maximum_message_size: int = 65_536,
        message_retention_period: float = 345_600,
        polling_wait_seconds: float = 0,
        max_receive_count: int | None = None,
        dead_letter_queue: str | None = None,
    ) -> Queue:
        """Create a queue, or set all its attributes (what is not given takes its default).

        A message received more than ``max_receive_count`` times goes to ``dead_letter_queue`` (an
        existing queue), or is dropped if there is none.
        """
        body = {
            "visibilityTimeout": visibility_timeout,
            "delaySeconds": delay_seconds,
            "maximumMessageSize": maximum_message_size,
            "messageRetentionPeriod": message_retention_period,
            "pollingWaitSeconds": polling_wait_seconds,
            "maxReceiveCount": max_receive_count,
            "deadLetterQueue": dead_letter_queue,
        }
        return Queue.from_json(self._json("PUT", api_path("queues", name), json=body))

    def get_queue(self, name: str) -> Queue:
        """A queue with how many messages are visible, received and delayed."""
        return Queue.from_json(self._json("GET", api_path("queues", name)))

    def list_queues(self, prefix: str = "", limit: int = 100, next_token: str | None = None) -> Page[Queue]:
        params = {"prefix": prefix or None, "limit": limit, "nextToken": next_token}
        return Page.from_json(self._json("GET", api_path("queues"), params=params), "queues", Queue.from_json)

    def iter_queues(self, prefix: str = "", page_size: int = 100) -> Iterator[Queue]:
        return items(lambda token: self.list_queues(prefix, page_size, token))

    def delete_queue(self, name: str) -> None:
        """Delete a queue and its messages."""
        self._call("DELETE", api_path("queues", name))

    def send_message(
        self,
        queue: str,
        body: str,
        *,
        delay_seconds: float | None = None,
        priority: int = 8,
        message_id: str | None = None,
    ) -> SentMessage:
        """Send a message (stored when this returns). ``message_id`` is your own id: sending it again
        to this queue sends nothing and returns the message sent first (safe to retry)."""
        payload: dict[str, Any] = {"body": body, "priority": priority}
        if delay_seconds is not None:
            payload["delaySeconds"] = delay_seconds
        if message_id is not None:
            payload["messageId"] = message_id
        return SentMessage.from_json(self._json("POST", api_path("queues", queue, "messages"), json=payload))

    def receive_messages(
        self, queue: str, *, max: int = 1, wait: float | None = None, visibility: float | None = None
    ) -> list[Message]:
        """Up to ``max`` (1-16) messages, waiting up to ``wait`` seconds (0-30; default: the queue's
        polling wait) for one; [] if none came. Each stays invisible for ``visibility`` seconds
        (default: the queue's) and comes back unless you delete it with its receipt handle."""
        params = {"max": max, "wait": wait, "visibility": visibility}
        response = self._json(
            "GET",
            api_path("queues", queue, "messages"),
            params=params,
            extra_wait=30 if wait is None else wait,
        )
        return [Message.from_json(m) for m in response["messages"]]

    def receive_message(
        self, queue: str, *, wait: float | None = None, visibility: float | None = None
    ) -> Message | None:
        """One message, or None if none came within ``wait`` seconds."""
        got = self.receive_messages(queue, max=1, wait=wait, visibility=visibility)
        return got[0] if got else None

    def peek_messages(self, queue: str, max: int = 1) -> list[Message]:
        """The visible messages the next receive would get, left as they are."""
        response = self._json(
            "GET", api_path("queues", queue, "messages"), params={"max": max, "peek": "true"}
        )
        return [Message.from_json(m) for m in response["messages"]]

    def delete_message(self, queue: str, receipt_handle: str) -> None:
        """Delete a received message; ``NotFoundError`` once its visibility timeout passed (it may be
        received again) or it was deleted already."""
        self._call("DELETE", api_path("queues", queue, "messages", _handle(receipt_handle)))

    def change_message_visibility(
        self, queue: str, receipt_handle: str, visibility_timeout: float
    ) -> Message:
        """Keep a received message invisible ``visibility_timeout`` seconds from now (0: visible now)."""
        path = api_path("queues", queue, "messages", _handle(receipt_handle), "visibility")
        return Message.from_json(self._json("PUT", path, json={"visibilityTimeout": visibility_timeout}))


def _handle(receipt_handle: str) -> str:
    if not receipt_handle:
        raise ValueError("a receipt handle is required (the one a receive returned)")
    return receipt_handle
