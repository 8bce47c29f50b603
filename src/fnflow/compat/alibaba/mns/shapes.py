"""fnflow's records as MNS's response fields, each a string as it goes into the XML.

Times of queues, topics and subscriptions are whole seconds since the epoch; times of messages are
milliseconds. Attributes that fnflow keeps with fractions (its own API allows them) are rounded to
whole seconds, which is what MNS's clients parse. fnflow has no accounts: ``TopicOwner`` is empty.
"""

from __future__ import annotations

from datetime import datetime

from fnflow.queues.attributes import TOPIC_MESSAGE_RETENTION
from fnflow.services.queues import ReceivedMessage
from fnflow.store import (
    MessageRecord,
    QueueCounts,
    QueueRecord,
    SubscriptionRecord,
    TopicMessageRecord,
    TopicRecord,
)

LOGGING_ENABLED = "False"  # fnflow writes no MNS logs to OSS


def _seconds(value: datetime) -> str:
    return str(int(value.timestamp()))


def _ms(value: datetime | None) -> str:
    return str(int(value.timestamp() * 1000)) if value is not None else "0"


def _whole(value: float) -> str:
    return str(round(value))


def queue_url(base: str, name: str) -> str:
    return f"{base}/queues/{name}"


def topic_url(base: str, name: str) -> str:
    return f"{base}/topics/{name}"


def subscription_url(base: str, topic: str, name: str) -> str:
    return f"{topic_url(base, topic)}/subscriptions/{name}"


def queue(record: QueueRecord, counts: QueueCounts | None = None) -> dict[str, str]:
    """GetQueueAttributes' fields (the message counts when ``counts`` is given)."""
    fields = {
        "QueueName": record.name,
        "CreateTime": _seconds(record.created_at),
        "LastModifyTime": _seconds(record.updated_at),
        "VisibilityTimeout": _whole(record.visibility_timeout),
        "MaximumMessageSize": str(record.maximum_message_size),
        "MessageRetentionPeriod": _whole(record.message_retention_period),
        "DelaySeconds": _whole(record.delay_seconds),
        "PollingWaitSeconds": _whole(record.polling_wait_seconds),
    }
    if counts is not None:
        fields |= {
            "ActiveMessages": str(counts.active),
            "InactiveMessages": str(counts.inactive),
            "DelayMessages": str(counts.delayed),
        }
    return fields | {"LoggingEnabled": LOGGING_ENABLED}


def sent(record: MessageRecord | TopicMessageRecord) -> dict[str, str]:
    return {"MessageId": record.id, "MessageBodyMD5": record.body_md5}


def peeked(record: MessageRecord) -> dict[str, str]:
    """A message as PeekMessage shows it; ``FirstDequeueTime`` is 0 until it is first received."""
    return {
        "MessageId": record.id,
        "MessageBodyMD5": record.body_md5,
        "MessageBody": record.body,
        "EnqueueTime": _ms(record.enqueued_at),
        "FirstDequeueTime": _ms(record.first_dequeued_at),
        "DequeueCount": str(record.dequeue_count),
        "Priority": str(record.priority),
    }


def received(message: ReceivedMessage) -> dict[str, str]:
    record = message.message
    return {
        "ReceiptHandle": message.receipt_handle,
        **peeked(record),
        "NextVisibleTime": _ms(record.lease_until),
    }


def visibility(message: ReceivedMessage) -> dict[str, str]:
    return {"ReceiptHandle": message.receipt_handle, "NextVisibleTime": _ms(message.message.lease_until)}


def topic(record: TopicRecord, message_count: int | None = None) -> dict[str, str]:
    """GetTopicAttributes' fields (``MessageCount``: published within the retention period)."""
    fields = {
        "TopicName": record.name,
        "CreateTime": _seconds(record.created_at),
        "LastModifyTime": _seconds(record.updated_at),
        "MaximumMessageSize": str(record.maximum_message_size),
        "MessageRetentionPeriod": _whole(TOPIC_MESSAGE_RETENTION),
    }
    if message_count is not None:
        fields["MessageCount"] = str(message_count)
    return fields | {"LoggingEnabled": LOGGING_ENABLED}


def subscription(record: SubscriptionRecord) -> dict[str, str]:
    fields = {
        "TopicOwner": "",
        "TopicName": record.topic,
        "SubscriptionName": record.name,
        "Endpoint": record.endpoint,
        "NotifyStrategy": record.notify_strategy,
        "NotifyContentFormat": record.notify_content_format,
    }
    if record.filter_tag is not None:
        fields["FilterTag"] = record.filter_tag
    return fields | {"CreateTime": _seconds(record.created_at), "LastModifyTime": _seconds(record.updated_at)}
