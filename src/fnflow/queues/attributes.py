"""Queue, message and topic attributes: MNS's defaults and ranges, checked in one place.

Times are seconds (fractions allowed); sizes are bytes of the UTF-8 body. A value out of range
is an ``InvalidArgument`` naming the field as the native API spells it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from fnflow.errors import InvalidArgument, PayloadTooLarge
from fnflow.names import check_name

VISIBILITY_TIMEOUT = (1.0, 43_200.0)  # 12 hours
DELAY_SECONDS = (0.0, 604_800.0)  # 7 days
MAXIMUM_MESSAGE_SIZE = (1024, 65_536)
MESSAGE_RETENTION_PERIOD = (60.0, 604_800.0)
POLLING_WAIT_SECONDS = (0.0, 30.0)
MAX_RECEIVE_COUNT = (1, 1000)
PRIORITY = (1, 16)  # 1 is received first
DEFAULT_PRIORITY = 8
RECEIVE_BATCH = (1, 16)  # messages one receive (or peek) returns at most
CHANGED_VISIBILITY = (0.0, 43_200.0)  # 0: visible again at once
TAG_LENGTH = 16  # a message tag, and a subscription's filter tag
MESSAGE_ID_LENGTH = 128
#: how long a topic remembers a published message id (its idempotency window)
TOPIC_MESSAGE_RETENTION = 86_400.0
#: subscriptions a topic may have: one publish fans out to each in one transaction
MAX_SUBSCRIPTIONS = 100


def check_range(field: str, value: float, bounds: tuple[float, float]) -> None:
    low, high = bounds
    if not low <= value <= high:
        raise InvalidArgument(f"{field} must be between {low:g} and {high:g}, not {value:g}")


@dataclass(frozen=True)
class QueueAttributes:
    """What a queue is created with; every field has MNS's default."""

    visibility_timeout: float = 30.0
    delay_seconds: float = 0.0
    maximum_message_size: int = 65_536
    message_retention_period: float = 345_600.0  # 4 days
    polling_wait_seconds: float = 0.0
    max_receive_count: int | None = None  # None: no limit
    dead_letter_queue: str | None = None  # where messages go past max_receive_count (None: dropped)

    def check(self, queue: str) -> None:
        check_range("visibilityTimeout", self.visibility_timeout, VISIBILITY_TIMEOUT)
        check_range("delaySeconds", self.delay_seconds, DELAY_SECONDS)
        check_range("maximumMessageSize", self.maximum_message_size, MAXIMUM_MESSAGE_SIZE)
        check_range("messageRetentionPeriod", self.message_retention_period, MESSAGE_RETENTION_PERIOD)
        check_range("pollingWaitSeconds", self.polling_wait_seconds, POLLING_WAIT_SECONDS)
        if self.max_receive_count is not None:
            check_range("maxReceiveCount", self.max_receive_count, MAX_RECEIVE_COUNT)
        if self.dead_letter_queue is not None:
            check_name("queue", self.dead_letter_queue)
            if self.max_receive_count is None:
                raise InvalidArgument("deadLetterQueue needs maxReceiveCount: the receives before a move")
            if self.dead_letter_queue == queue:
                raise InvalidArgument(f"queue {queue!r} cannot be its own dead-letter queue")


@dataclass(frozen=True)
class TopicAttributes:
    maximum_message_size: int = 65_536

    def check(self) -> None:
        check_range("maximumMessageSize", self.maximum_message_size, MAXIMUM_MESSAGE_SIZE)


#: What XML 1.0 cannot hold (NUL, other control characters, lone surrogates, U+FFFE/U+FFFF): MNS's
#: API carries bodies and attributes as XML text, and no text column of PostgreSQL takes a NUL.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def not_xml(text: str) -> str | None:
    """The first character of ``text`` that XML cannot hold (``NUL``, ``U+0001`` …); None if none."""
    found = _NOT_XML.search(text)
    if found is None:
        return None
    return "NUL" if found.group() == "\x00" else f"U+{ord(found.group()):04X}"


def check_body(body: str, limit: int, where: str) -> int:
    """The size of ``body`` in bytes; PayloadTooLarge over ``limit``, InvalidArgument if it holds a
    character XML cannot hold, such as NUL."""
    if bad := not_xml(body):
        raise InvalidArgument(
            f"the message body must not contain {bad}: XML cannot hold it (base64-encode binary data)"
        )
    size = len(body.encode())
    if size > limit:
        raise PayloadTooLarge(f"the message body is {size} bytes; {where} takes at most {limit}")
    return size


def check_message_id(message_id: str) -> None:
    """A sender's own message id: 1-128 printable characters without spaces."""
    if not (0 < len(message_id) <= MESSAGE_ID_LENGTH) or not all(
        c.isprintable() and not c.isspace() for c in message_id
    ):
        raise InvalidArgument(f"messageId must be 1-{MESSAGE_ID_LENGTH} printable characters without spaces")


_ATTRIBUTE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}")


def check_attributes(attributes: Mapping[str, str]) -> None:
    """A published message's attributes: names fit for an XML element, values XML can hold."""
    for name, value in attributes.items():
        if not _ATTRIBUTE_NAME.fullmatch(name):
            raise InvalidArgument(
                f"attribute name {name!r} must be 1-64 letters, digits, '_', '.' or '-', "
                "starting with a letter or '_'"
            )
        if bad := not_xml(value):
            raise InvalidArgument(f"attribute {name!r} must not contain {bad}: XML cannot hold it")


def check_tag(field: str, tag: str | None) -> None:
    if tag is not None and not (0 < len(tag) <= TAG_LENGTH and tag.isprintable()):
        raise InvalidArgument(f"{field} must be 1-{TAG_LENGTH} printable characters")
