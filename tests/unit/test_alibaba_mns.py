"""MNS's wire format, pure parts: the signature (against the real SDK's own), the headers it
covers, XML read and written (read back by the SDK's own decoders), routes and error codes."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from mns.mns_client import MNSClient
from mns.mns_xml_handler import ErrorDecoder, GetQueueAttrDecoder, ListQueueDecoder, RecvMessageDecoder

from fnflow.compat.alibaba.mns import documents, routes, signature
from fnflow.compat.alibaba.mns.errors import MnsError, from_fnflow
from fnflow.errors import (
    Conflict,
    FnflowError,
    InvalidArgument,
    InvalidReceiptHandle,
    InvalidSecurityToken,
    MessageNotHeld,
    NotFound,
    QueueAlreadyExists,
    QueueNotFound,
    SubscriptionNotFound,
    TopicNotFound,
    Unauthorized,
)

NOW = datetime(2026, 12, 5, 8, 0, 0, tzinfo=UTC)
DATE = "Sat, 05 Dec 2026 08:00:00 GMT"


def sdk_signature(
    method: str, headers: dict[str, str], resource: str, capsys: pytest.CaptureFixture[str]
) -> str:
    client = MNSClient("http://127.0.0.1:8080", "AKID", "s3cret")
    authorization: str = client.get_signature(method, headers, resource)
    capsys.readouterr()  # the SDK prints what it signs
    return authorization.removeprefix("MNS AKID:")


@pytest.mark.parametrize(
    ("method", "headers", "resource"),
    [
        ("GET", {"x-mns-version": "2015-06-06", "date": DATE}, "/queues/q/messages?waitseconds=10"),
        (
            "POST",
            {
                "content-md5": "ZjQ1YjQ1ZDFhYzM4Mjc5MGE5ZTk1ZWI1NDE3MDM2ZWM=",
                "content-type": "text/xml;charset=UTF-8",
                "date": DATE,
                "x-mns-version": "2015-06-06",
                "x-mns-user-request-id": "mine",
                "host": "127.0.0.1:8080",
            },
            "/topics/t/messages",
        ),
        ("GET", {"x-mns-version": "2015-06-06", "x-mns-prefix": "é", "date": DATE}, "/queues"),
    ],
)
def test_the_signature_is_the_sdk_s(
    method: str, headers: dict[str, str], resource: str, capsys: pytest.CaptureFixture[str]
) -> None:
    expected = sdk_signature(method, headers, resource, capsys)
    assert signature.sign("s3cret", method, headers, resource) == expected
    claim = signature.Claim("AKID", expected)
    assert signature.matches(claim, "s3cret", method, headers, resource)
    assert not signature.matches(claim, "s3cret", method, headers, resource + "&x=1")
    assert not signature.matches(claim, "other", method, headers, resource)


def test_the_string_to_sign() -> None:
    headers = {
        "date": DATE,
        "x-mns-version": "2015-06-06",
        "x-mns-a": "1",
        "host": "h",
        "security-token": "t",
    }
    assert signature.string_to_sign("get", headers, "/queues") == (
        f"GET\n\n\n{DATE}\nx-mns-a:1\nx-mns-version:2015-06-06\n/queues"
    )


def problem(headers: dict[str, str], now: datetime = NOW) -> tuple[int, str]:
    with pytest.raises(signature.SignatureProblem) as raised:
        signature.claim(headers, now)
    return raised.value.status, raised.value.code


def test_the_headers_a_signature_needs() -> None:
    signed = {"authorization": "MNS AKID:c2ln", "date": DATE}
    assert signature.claim(signed, NOW) == signature.Claim("AKID", "c2ln")
    assert signature.claim({**signed, "security-token": "tok"}, NOW).security_token == "tok"
    assert signature.claim(signed, NOW + timedelta(minutes=14)).key_id == "AKID"
    assert problem({"date": DATE}) == (400, "MissingAuthorizationHeader")
    for bad in ("Bearer a:b", "MNS AKID", "MNS :sig", "MNS AKID:", "mns AKID:sig"):
        assert problem({"authorization": bad, "date": DATE}) == (400, "InvalidAuthorizationHeader"), bad
    assert problem({"authorization": "MNS a:b"}) == (400, "MissingDateHeader")
    for bad in ("yesterday", "Sat, 05 Dec 2026 08:00:00"):
        assert problem({"authorization": "MNS a:b", "date": bad}) == (400, "InvalidDateHeader"), bad
    assert problem(signed, NOW + timedelta(minutes=16)) == (408, "TimeExpired")
    assert problem(signed, NOW - timedelta(minutes=16)) == (408, "TimeExpired")


def test_content_md5_in_either_form() -> None:
    body = b"<Message/>"
    hex_form = base64.b64encode(hashlib.md5(body).hexdigest().encode()).decode()
    raw_form = base64.b64encode(hashlib.md5(body).digest()).decode()
    for good in ("", hex_form, raw_form):
        signature.check_content_md5(good, body)
    with pytest.raises(signature.SignatureProblem, match="Content-MD5"):
        signature.check_content_md5(hex_form, body + b" ")


# --- XML ------------------------------------------------------------------------------------------


def test_documents_are_read_strictly() -> None:
    root = documents.parse(
        b'<Queue xmlns="http://mns.aliyuncs.com/doc/v1/"><DelaySeconds>3</DelaySeconds></Queue>', "Queue"
    )
    assert documents.fields(root, ["DelaySeconds"]) == {"DelaySeconds": "3"}
    assert documents.fields(documents.parse(b"<Queue><A></A></Queue>", "Queue"), ["A"]) == {"A": ""}
    with pytest.raises(InvalidArgument, match="Element B"):
        documents.fields(documents.parse(b"<Queue><B>1</B></Queue>", "Queue"), ["A"])
    with pytest.raises(InvalidArgument, match="more than once"):
        documents.fields(documents.parse(b"<Queue><A>1</A><A>2</A></Queue>", "Queue"), ["A"])
    with pytest.raises(InvalidArgument, match="holds text"):
        documents.fields(documents.parse(b"<Queue><A><B/></A></Queue>", "Queue"), ["A"])
    with pytest.raises(InvalidArgument, match="<Queue>"):
        documents.parse(b"<Topic/>", "Queue")


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<Queue>",
        b'<!DOCTYPE Queue [<!ENTITY a "x">]><Queue>&a;</Queue>',
        b'<!DOCTYPE Queue SYSTEM "http://example.invalid/q.dtd"><Queue/>',
        b'<!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]><Queue>&b;</Queue>',
        b"<Queue>&#1;</Queue>",
    ],
)
def test_malformed_documents_dtds_and_entities_are_refused(body: bytes) -> None:
    with pytest.raises(MnsError) as raised:
        documents.parse(body, "Queue")
    assert (raised.value.status, raised.value.code) == (400, "MalformedXML")


def test_what_is_written_is_what_the_sdk_reads() -> None:
    body = "<&>\"' \r\n\t é \U0001f600 ]]>"
    message = {
        "MessageId": "1",
        "ReceiptHandle": "h",
        "MessageBodyMD5": "M",
        "MessageBody": body,
        "EnqueueTime": "1",
        "NextVisibleTime": "2",
        "FirstDequeueTime": "1",
        "DequeueCount": "1",
        "Priority": "8",
    }
    assert RecvMessageDecoder.decode(documents.document("Message", message), False) == message
    error = {"Code": "QueueNotExist", "Message": "q <x>", "RequestId": "R", "HostId": "h:1"}
    assert ErrorDecoder.decodeError(documents.document("Error", error)) == (
        "QueueNotExist",
        "q <x>",
        "R",
        "h:1",
        None,
    )
    attributes = {k: "1" for k in ("ActiveMessages", "CreateTime", "DelayMessages", "DelaySeconds")}
    attributes |= {k: "1" for k in ("InactiveMessages", "LastModifyTime", "MaximumMessageSize")}
    attributes |= {"MessageRetentionPeriod": "1", "QueueName": "q", "VisibilityTimeout": "1"}
    attributes |= {"PollingWaitSeconds": "0", "LoggingEnabled": "False"}
    assert GetQueueAttrDecoder.decode(documents.document("Queue", attributes)) == attributes
    listed = documents.document_of_list(
        "Queues", "Queue", [{"QueueURL": "u1"}, {"QueueURL": "u2"}], {"NextMarker": "m"}
    )
    assert ListQueueDecoder.decode(listed, False) == (["u1", "u2"], "m", [])


# --- routes and errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "query", "action", "names"),
    [
        ("GET", "/queues", {}, "ListQueue", ()),
        ("PUT", "/queues/q", {}, "CreateQueue", ("q",)),
        ("PUT", "/queues/q", {"metaoverride": "true"}, "SetQueueAttributes", ("q",)),
        ("GET", "/queues/q/messages", {"waitseconds": "3"}, "ReceiveMessage", ("q",)),
        ("GET", "/queues/q/messages", {"numofmessages": "3"}, "BatchReceiveMessage", ("q",)),
        ("GET", "/queues/q/messages", {"peekonly": "true"}, "PeekMessage", ("q",)),
        ("GET", "/queues/q/messages", {"peekonly": "true", "numofmessages": "2"}, "BatchPeekMessage", ("q",)),
        ("DELETE", "/queues/q/messages", {"receipthandle": "h"}, "DeleteMessage", ("q",)),
        ("DELETE", "/queues/q/messages", {}, "BatchDeleteMessage", ("q",)),
        ("PUT", "/queues/q/messages", {}, "ChangeMessageVisibility", ("q",)),
        ("POST", "/topics/t/messages", {}, "PublishMessage", ("t",)),
        ("PUT", "/topics/t/subscriptions/s", {}, "Subscribe", ("t", "s")),
        (
            "PUT",
            "/topics/t/subscriptions/s",
            {"metaoverride": "true"},
            "SetSubscriptionAttributes",
            ("t", "s"),
        ),
        ("GET", "/topics/t/subscriptions", {}, "ListSubscriptionByTopic", ("t",)),
    ],
)
def test_routes(method: str, path: str, query: dict[str, str], action: str, names: tuple[str, ...]) -> None:
    assert routes.resolve(method, path, query) == (action, names)


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/queues/q"), ("GET", "/queues/"), ("GET", "/topics/t/x"), ("GET", "/queues/q/messages/m")],
)
def test_unknown_routes(method: str, path: str) -> None:
    with pytest.raises(MnsError) as raised:
        routes.resolve(method, path, {})
    assert (raised.value.status, raised.value.code) == (400, "InvalidRequestURL")


@pytest.mark.parametrize(("method", "path", "served"), routes.TABLE)
def test_the_documented_table_is_the_served_routes(method: str, path: str, served: str) -> None:
    """Every documented route resolves to an action it names, and none is left out."""
    concrete = path.format(queue="q", topic="t", subscription="s")
    action, _ = routes.resolve(method, concrete, {})
    assert action in served
    assert len(routes.TABLE) == len(routes._ROUTES)


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (QueueNotFound(), 404, "QueueNotExist"),
        (TopicNotFound(), 404, "TopicNotExist"),
        (SubscriptionNotFound(), 404, "SubscriptionNotExist"),
        (MessageNotHeld(), 404, "MessageNotExist"),
        (NotFound(), 404, "ResourceNotFound"),
        (QueueAlreadyExists(), 409, "QueueAlreadyExist"),
        (Conflict(), 409, "Conflict"),
        (InvalidReceiptHandle(), 400, "ReceiptHandleError"),
        (InvalidArgument(), 400, "InvalidArgument"),
        (Unauthorized(), 403, "InvalidAccessKeyId"),
        (InvalidSecurityToken("Expired", "old"), 403, "InvalidSecurityToken.Expired"),
    ],
)
def test_fnflow_errors_as_mns_answers_them(error: FnflowError, status: int, code: str) -> None:
    mapped = from_fnflow(error)
    assert (mapped.status, mapped.code) == (status, code)
