"""Task steps that send a message to a built-in queue (``acs:mns:::/queues/{q}/messages``) or publish
one to a topic (``acs:mns:::/topics/{t}/messages``), as FnF's MNS integrations do.

``serviceParams.MessageBody`` is the body: ``$`` (the default) is the step's mapped input as JSON —
so a task token mapped into it travels with the message — a path into it, or a constant; a string
is sent as it is. A queue step also takes ``Priority`` (1 to 16) and ``DelaySeconds``; a topic step
``MessageTag`` and ``MessageAttributes``. ``requestResponse`` goes on once the message is stored
(``$local``: ``MessageId``, ``MessageBodyMD5``, ``RequestId``); ``waitForCallback`` waits for the
report of whoever handles the message. The message id is derived from the attempt, so an attempt
that runs again after a crash sends once.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from fnflow.engine import Event, TaskFailed, TaskSubmitted, TaskSucceeded
from fnflow.errors import InvalidArgument, NotFound
from fnflow.fdl.arn import QueueTarget, ResourceTarget, TopicTarget
from fnflow.integrations.base import After, Task
from fnflow.services.queues import QueueService
from fnflow.services.topics import TopicService
from fnflow.store import Tx

PATTERNS = ("requestResponse", "waitForCallback")
#: error names of a step whose message could not be sent (MNS's error codes, as FnF reports them)
NOT_EXIST = {QueueTarget: "MNS.QueueNotExist", TopicTarget: "MNS.TopicNotExist"}
INVALID = "MNS.InvalidArgument"

_IDS = uuid.UUID("6f6e6e78-6d6e-5300-8000-666e666c6f77")  # the namespace of the ids attempts send under


def message_body(task: Task) -> str:
    """The body an attempt sends: ``serviceParams.MessageBody`` (default the mapped input), as text."""
    value: Any = task.command.service_params.get("MessageBody", task.command.input)
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def message_id(task: Task) -> str:
    """The id an attempt's message is sent under: the same when the attempt runs again."""
    return uuid.uuid5(_IDS, task.key).hex.upper()


def _number(params: dict[str, Any], name: str) -> Any:
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InvalidArgument(f"serviceParams.{name} must be a number")
    try:
        return float(value) if name == "DelaySeconds" else int(value)
    except ValueError:
        raise InvalidArgument(f"serviceParams.{name} must be a number, not {value!r}") from None


class MessageIntegration:
    """Sends (queues) or publishes (topics) one message per attempt."""

    def __init__(self, queues: QueueService, topics: TopicService, kind: str) -> None:
        self.kind = kind  # "queue" or "topic"
        self._queues = queues
        self._topics = topics

    async def submit(self, task: Task) -> Event:
        target, command = task.target, task.command
        params = command.service_params
        try:
            if isinstance(target, QueueTarget):
                sent = await self._queues.send(
                    target.queue,
                    message_body(task),
                    delay_seconds=_number(params, "DelaySeconds"),
                    priority=_number(params, "Priority") or 8,
                    message_id=message_id(task),
                )
                where = {"queue": target.queue}
                md5 = sent.body_md5
            else:
                assert isinstance(target, TopicTarget)
                attributes = params.get("MessageAttributes") or {}
                if not isinstance(attributes, dict):
                    raise InvalidArgument("serviceParams.MessageAttributes must be a JSON object")
                tag = params.get("MessageTag")
                published = await self._topics.publish(
                    target.topic,
                    message_body(task),
                    tag=None if tag is None else str(tag),
                    attributes=attributes,
                    message_id=message_id(task),
                )
                where = {"topic": target.topic}
                md5 = published.body_md5
        except NotFound as e:
            return TaskFailed(task.activity, NOT_EXIST[type(target)], e.message)
        except InvalidArgument as e:  # a body over the maximum size, a bad priority …
            return TaskFailed(task.activity, INVALID, e.message)
        mid = message_id(task)
        if command.pattern == "waitForCallback":
            return TaskSubmitted(task.activity, detail={**where, "messageId": mid})
        return TaskSucceeded(task.activity, {"MessageId": mid, "MessageBodyMD5": md5, "RequestId": mid})

    def cancel(self, tx: Tx, execution_id: str, activity: int, now: datetime) -> After | None:
        return None  # a sent message stays; a late report of its token is TaskAlreadyCompleted

    async def check(self, target: ResourceTarget, pattern: str) -> str | None:
        if pattern not in PATTERNS:
            return f"a {self.kind} task's pattern must be requestResponse or waitForCallback, not {pattern}"
        if isinstance(target, QueueTarget) and not await self._queues.exists(target.queue):
            return (
                f"queue {target.queue!r} does not exist (create it first: fnflow queue create {target.queue})"
            )
        if isinstance(target, TopicTarget) and not await self._topics.exists(target.topic):
            return (
                f"topic {target.topic!r} does not exist (create it first: fnflow topic create {target.topic})"
            )
        return None
