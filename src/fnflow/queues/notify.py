"""What a topic pushes to a subscriber: MNS's notification formats and retry strategies.

``JSON`` and ``XML`` carry the message with its topic, subscription, id, MD5, tag and publish
time (subscribers written for MNS read ``Message``); ``SIMPLIFIED`` is the message alone, its id
and tag in the ``x-mns-message-id`` and ``x-mns-message-tag`` headers of an HTTP push.
"""

from __future__ import annotations

import hashlib
import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

MNS_VERSION = "2015-06-06"
XML_NAMESPACE = "http://mns.aliyuncs.com/doc/v1/"


class NotifyFormat(StrEnum):
    JSON = "JSON"
    XML = "XML"
    SIMPLIFIED = "SIMPLIFIED"


class NotifyStrategy(StrEnum):
    BACKOFF_RETRY = "BACKOFF_RETRY"
    EXPONENTIAL_DECAY_RETRY = "EXPONENTIAL_DECAY_RETRY"


#: Attempts of an HTTP push. fnflow waits 1, 2, 4 … 60 s between attempts (its callbacks' back-off):
#: BACKOFF_RETRY makes three retries as MNS does; EXPONENTIAL_DECAY_RETRY keeps trying ~10 minutes.
ATTEMPTS = {NotifyStrategy.BACKOFF_RETRY: 4, NotifyStrategy.EXPONENTIAL_DECAY_RETRY: 16}


def body_md5(body: str) -> str:
    """MNS's MessageBodyMD5: the upper-case hex MD5 of the UTF-8 body."""
    return hashlib.md5(body.encode()).hexdigest().upper()


@dataclass(frozen=True)
class Notification:
    """One message of a topic on its way to one subscription."""

    topic: str
    subscription: str
    message_id: str
    body: str
    body_md5: str
    published_at: datetime
    tag: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)  # fnflow's addition: MessageAttributes
    owner: str = ""  # MNS's account id (TopicOwner, Subscriber); fnflow has no accounts

    def fields(self) -> dict[str, object]:
        out: dict[str, object] = {
            "TopicOwner": self.owner,
            "TopicName": self.topic,
            "Subscriber": self.owner,
            "SubscriptionName": self.subscription,
            "MessageId": self.message_id,
            "MessageMD5": self.body_md5,
        }
        if self.tag:
            out["MessageTag"] = self.tag
        out["Message"] = self.body
        out["PublishTime"] = str(int(self.published_at.timestamp() * 1000))
        if self.attributes:
            out["MessageAttributes"] = dict(self.attributes)
        return out


def render(notification: Notification, format: NotifyFormat) -> tuple[str, str]:
    """(body, content type) of ``notification`` in ``format``."""
    if format is NotifyFormat.SIMPLIFIED:
        return notification.body, "text/plain; charset=utf-8"
    fields = notification.fields()
    if format is NotifyFormat.JSON:
        return json.dumps(fields, ensure_ascii=False), "application/json"
    root = ET.Element("Notification", xmlns=XML_NAMESPACE)
    for name, value in fields.items():
        element = ET.SubElement(root, name)
        if isinstance(value, dict):
            for key, item in value.items():
                ET.SubElement(element, key).text = item
        else:
            element.text = str(value)
    text = ET.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="utf-8"?>\n{text}', "text/xml; charset=utf-8"


def headers(notification: Notification, content_type: str) -> list[tuple[str, str]]:
    """The headers of an HTTP push (the fnflow signature is added when it is sent)."""
    out = [
        ("Content-Type", content_type),
        ("x-mns-version", MNS_VERSION),
        ("x-mns-message-id", notification.message_id),
    ]
    if notification.tag:
        out.append(("x-mns-message-tag", notification.tag))
    return out
