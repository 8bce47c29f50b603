"""The pure parts of queues and topics: attributes, receipt handles, subscription endpoints,
notification formats, new messages, and the CHECK constraints' values against the enums."""

from __future__ import annotations

import hashlib
import json
import re
import xml.dom.minidom
from datetime import UTC, datetime, timedelta

import pytest

from fnflow.errors import InvalidArgument, InvalidReceiptHandle, PayloadTooLarge
from fnflow.queues.attributes import (
    QueueAttributes,
    TopicAttributes,
    check_attributes,
    check_message_id,
    check_tag,
)
from fnflow.queues.endpoints import FunctionEndpoint, HttpEndpoint, QueueEndpoint, parse_endpoint
from fnflow.queues.handles import parse_receipt_handle, receipt_handle
from fnflow.queues.notify import (
    Notification,
    NotifyFormat,
    NotifyStrategy,
    body_md5,
    headers,
    render,
)
from fnflow.services.queues import OutgoingMessage, new_message
from fnflow.store import QueueRecord
from fnflow.store.schema import MESSAGE_STATUSES, NOTIFY_FORMATS, NOTIFY_STRATEGIES

NOW = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def test_a_receipt_handle_names_the_message_and_the_receive() -> None:
    handle = receipt_handle("msg:1/é", "r" * 32)
    assert handle.isascii() and "/" not in handle and "=" not in handle
    assert parse_receipt_handle(handle) == ("msg:1/é", "r" * 32)


@pytest.mark.parametrize("handle", ["", "garbage!", "Zm9v", receipt_handle("", "r")[:-2] + "~~"])
def test_anything_else_is_not_a_receipt_handle(handle: str) -> None:
    with pytest.raises(InvalidReceiptHandle):
        parse_receipt_handle(handle)


@pytest.mark.parametrize(
    ("text", "endpoint"),
    [
        ("http://127.0.0.1:8080/bin/x", HttpEndpoint("http://127.0.0.1:8080/bin/x")),
        ("https://example.com/hook?a=1", HttpEndpoint("https://example.com/hook?a=1")),
        ("acs:fc:::services/default/functions/audit", FunctionEndpoint("default", "audit")),
        ("acs:fc:cn-hangzhou:123:services/s/functions/f", FunctionEndpoint("s", "f")),
        ("acs:mns:cn-hangzhou:123:queues/jobs", QueueEndpoint("jobs")),
        ("acs:mns:::queues/jobs", QueueEndpoint("jobs")),
        ("acs:mns:::/queues/jobs/messages", QueueEndpoint("jobs")),
    ],
)
def test_subscription_endpoints(text: str, endpoint: object) -> None:
    assert parse_endpoint(text) == endpoint


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("ftp://host/x", "is not one of"),
        ("http://", "must be an absolute"),
        ("acs:fc:::services/s.prod/functions/f", "no qualifier"),
        ("acs:mns:::queues/9bad", "queue name"),
        ("acs:mns:::topics/t", "is not one of"),
        ("mail:directmail:a@b.c", "is not one of"),
        ("http://a\x00b/", "printable"),
        ("http://a b/", "printable"),
    ],
)
def test_bad_subscription_endpoints_say_why(text: str, says: str) -> None:
    with pytest.raises(InvalidArgument, match=says):
        parse_endpoint(text)


def notification(**changes: object) -> Notification:
    values: dict[str, object] = {
        "topic": "orders",
        "subscription": "audit",
        "message_id": "M1",
        "body": '{"a": "<&>"}',
        "body_md5": body_md5('{"a": "<&>"}'),
        "published_at": NOW,
        "tag": "paid",
        **changes,
    }
    return Notification(**values)  # type: ignore[arg-type]


def test_the_json_notification_is_mns_s() -> None:
    text, content_type = render(notification(attributes={"k": "v"}), NotifyFormat.JSON)
    assert content_type == "application/json"
    assert json.loads(text) == {
        "TopicOwner": "",
        "TopicName": "orders",
        "Subscriber": "",
        "SubscriptionName": "audit",
        "MessageId": "M1",
        "MessageMD5": hashlib.md5(b'{"a": "<&>"}').hexdigest().upper(),
        "MessageTag": "paid",
        "Message": '{"a": "<&>"}',
        "PublishTime": str(int(NOW.timestamp() * 1000)),
        "MessageAttributes": {"k": "v"},
    }
    assert "MessageTag" not in json.loads(render(notification(tag=None), NotifyFormat.JSON)[0])


def test_the_xml_notification_reads_as_mns_s_sample_endpoint_reads_it() -> None:
    text, content_type = render(notification(), NotifyFormat.XML)
    assert content_type.startswith("text/xml")
    [root] = xml.dom.minidom.parseString(text).getElementsByTagName("Notification")
    fields = {n.nodeName: n.firstChild.nodeValue for n in root.childNodes if n.firstChild is not None}
    assert fields["Message"] == '{"a": "<&>"}' and fields["MessageId"] == "M1"
    assert fields["TopicName"] == "orders" and fields["PublishTime"] == str(int(NOW.timestamp() * 1000))


def test_a_simplified_notification_is_the_message_with_its_id_in_the_headers() -> None:
    text, content_type = render(notification(), NotifyFormat.SIMPLIFIED)
    assert text == '{"a": "<&>"}'
    sent = dict(headers(notification(), content_type))
    assert sent["x-mns-message-id"] == "M1" and sent["x-mns-message-tag"] == "paid"
    assert "x-mns-message-tag" not in dict(headers(notification(tag=None), content_type))


def test_the_stored_enums_are_the_python_ones() -> None:
    assert tuple(NotifyFormat) == NOTIFY_FORMATS
    assert tuple(NotifyStrategy) == NOTIFY_STRATEGIES
    assert MESSAGE_STATUSES == ("Active", "Deleted")


@pytest.mark.parametrize(
    ("attributes", "field"),
    [
        (QueueAttributes(visibility_timeout=0.5), "visibilityTimeout"),
        (QueueAttributes(visibility_timeout=43_201), "visibilityTimeout"),
        (QueueAttributes(delay_seconds=-1), "delaySeconds"),
        (QueueAttributes(maximum_message_size=100), "maximumMessageSize"),
        (QueueAttributes(message_retention_period=59), "messageRetentionPeriod"),
        (QueueAttributes(polling_wait_seconds=31), "pollingWaitSeconds"),
        (QueueAttributes(max_receive_count=0), "maxReceiveCount"),
        (QueueAttributes(dead_letter_queue="dlq"), "deadLetterQueue needs maxReceiveCount"),
        (QueueAttributes(max_receive_count=3, dead_letter_queue="q"), "its own dead-letter queue"),
        (QueueAttributes(max_receive_count=3, dead_letter_queue="no way"), "queue name"),
    ],
)
def test_queue_attributes_out_of_range_are_named(attributes: QueueAttributes, field: str) -> None:
    with pytest.raises(InvalidArgument, match=field):
        attributes.check("q")


def test_defaults_are_mns_s() -> None:
    QueueAttributes().check("q")
    QueueAttributes(max_receive_count=5, dead_letter_queue="dlq").check("q")
    TopicAttributes().check()
    with pytest.raises(InvalidArgument, match="maximumMessageSize"):
        TopicAttributes(65_537).check()
    assert (QueueAttributes().visibility_timeout, QueueAttributes().message_retention_period) == (30, 345_600)


def test_sender_ids_and_tags() -> None:
    check_message_id("exec-1:step/2")
    for bad in ("", "x" * 129, "has space", "new\nline"):
        with pytest.raises(InvalidArgument, match="messageId"):
            check_message_id(bad)
    check_attributes({"k": "v", "_a.b-c": ""})
    for bad in ({"a b": "v"}, {"1a": "v"}, {"k": "\x00"}, {"k": "bell\x07"}):
        with pytest.raises(InvalidArgument, match="attribute"):
            check_attributes(bad)
    check_tag("tag", None)
    check_tag("tag", "x" * 16)
    with pytest.raises(InvalidArgument, match="tag must be"):
        check_tag("tag", "x" * 17)


def test_a_new_message_takes_the_queue_s_delay_and_retention() -> None:
    queue = QueueRecord("q", 30, 10, 1024, 600, 0, NOW, NOW)
    delayed = new_message(queue, OutgoingMessage("hi"), NOW)
    assert (delayed.lease_until, delayed.expires_at) == (
        NOW + timedelta(seconds=10),
        NOW + timedelta(seconds=600),
    )
    assert delayed.keyed is False and len(delayed.id) == 32 and delayed.body_md5 == body_md5("hi")
    now = new_message(queue, OutgoingMessage("hi", delay_seconds=0, priority=1, message_id="mine"), NOW)
    assert (now.lease_until, now.priority, now.id, now.keyed) == (None, 1, "mine", True)
    with pytest.raises(PayloadTooLarge, match="1025 bytes"):
        new_message(queue, OutgoingMessage("é" * 512 + "x"), NOW)
    with pytest.raises(InvalidArgument, match="NUL"):
        new_message(queue, OutgoingMessage("a\x00b"), NOW)
    for bad, named in (("\x01", "U+0001"), ("\ud800", "U+D800"), ("\uffff", "U+FFFF")):
        with pytest.raises(InvalidArgument, match=re.escape(named)):
            new_message(queue, OutgoingMessage(f"a{bad}b"), NOW)
    text = "tab\tline\r\n\U0001f600"
    assert new_message(queue, OutgoingMessage(text), NOW).body == text


@pytest.mark.parametrize(
    ("message", "field"),
    [
        (OutgoingMessage("x", delay_seconds=604_801), "delaySeconds"),
        (OutgoingMessage("x", priority=0), "priority"),
        (OutgoingMessage("x", priority=17), "priority"),
        (OutgoingMessage("x", message_id=""), "messageId"),
    ],
)
def test_outgoing_messages_are_checked(message: OutgoingMessage, field: str) -> None:
    with pytest.raises(InvalidArgument, match=field):
        message.check()
