"""MNS's API on the wire, where the SDK does not look or cannot go: HTTP statuses, the Location
header, the error document, and malformed, oversized or unknown requests — each answered with MNS's
error and status, never a 5xx, and writing nothing. The server runs with auth off (loopback), which
serves unsigned requests and still checks signed ones."""

from __future__ import annotations

import base64
import hashlib
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import httpx
import pytest

from fnflow.testing import ServerProcess

pytestmark = pytest.mark.e2e

NS = "{http://mns.aliyuncs.com/doc/v1/}"
VERSION = {"x-mns-version": "2015-06-06"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path_factory.mktemp("mns-wire"))
    process.start()
    yield process
    process.stop()
    assert "Traceback" not in process.log(), process.log()[-5000:]


@pytest.fixture
def mns(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers=VERSION, timeout=30) as client:
        yield client


def xml(*elements: str, root: str = "Queue") -> str:
    return f'<?xml version="1.0" encoding="UTF-8"?><{root} xmlns="http://mns.aliyuncs.com/doc/v1/">{"".join(elements)}</{root}>'


def fields(response: httpx.Response, root: str) -> dict[str, str]:
    document = ET.fromstring(response.content)
    assert document.tag == f"{NS}{root}", response.text
    return {child.tag.removeprefix(NS): child.text or "" for child in document}


def error(response: httpx.Response, status: int, code: str) -> str:
    """The message of MNS's error document, after checking its status, code and other fields."""
    assert (response.status_code, response.headers["content-type"]) == (status, "text/xml;charset=utf-8"), (
        response.text
    )
    values = fields(response, "Error")
    assert values["Code"] == code, values
    assert values["RequestId"] == response.headers["x-mns-request-id"]
    assert values["HostId"] == response.request.headers["host"]
    return values["Message"]


def count(mns: httpx.Client, queue: str) -> int:
    values = fields(mns.get(f"/queues/{queue}"), "Queue")
    return int(values["ActiveMessages"]) + int(values["InactiveMessages"]) + int(values["DelayMessages"])


def test_statuses_and_headers_of_each_kind_of_answer(server: ServerProcess, mns: httpx.Client) -> None:
    created = mns.put("/queues/wire", content=xml("<VisibilityTimeout>60</VisibilityTimeout>"))
    assert (created.status_code, created.headers["location"]) == (201, f"{server.url}/queues/wire")
    assert created.headers["x-mns-version"] == "2015-06-06" and created.headers["x-mns-request-id"]
    assert created.headers["content-length"] == "0" and "transfer-encoding" not in created.headers
    again = mns.put("/queues/wire", content=xml("<VisibilityTimeout>60</VisibilityTimeout>"))
    assert (again.status_code, again.headers["location"], again.content) == (
        204,
        created.headers["location"],
        b"",
    )
    error(mns.put("/queues/wire", content=xml()), 409, "QueueAlreadyExist")
    assert mns.put("/queues/bare").status_code == 201, "no body: every attribute its default"

    sent = mns.post("/queues/wire/messages", content=xml("<MessageBody>hi</MessageBody>", root="Message"))
    assert sent.status_code == 201
    assert fields(sent, "Message")["MessageBodyMD5"] == hashlib.md5(b"hi").hexdigest().upper()
    received = mns.get("/queues/wire/messages", params={"waitseconds": 1})
    assert received.status_code == 200
    handle = fields(received, "Message")["ReceiptHandle"]
    changed = mns.put("/queues/wire/messages", params={"receiptHandle": handle, "visibilityTimeout": 5})
    assert changed.status_code == 200 and fields(changed, "ChangeVisibility")["ReceiptHandle"] == handle
    assert mns.delete("/queues/wire/messages", params={"ReceiptHandle": handle}).status_code == 204
    error(mns.delete("/queues/wire/messages", params={"ReceiptHandle": handle}), 404, "MessageNotExist")
    error(mns.get("/queues/wire/messages", params={"waitseconds": 0}), 404, "MessageNotExist")
    error(mns.get("/queues/wire/messages", params={"peekonly": "true"}), 404, "MessageNotExist")
    error(mns.get("/queues/nope"), 404, "QueueNotExist")
    error(
        mns.post("/queues/nope/messages", content=xml("<MessageBody>x</MessageBody>", root="Message")),
        404,
        "QueueNotExist",
    )

    assert mns.put("/topics/wire").status_code == 201
    error(
        mns.put("/topics/wire", content=xml("<MaximumMessageSize>1024</MaximumMessageSize>", root="Topic")),
        409,
        "TopicAlreadyExist",
    )
    published = mns.post(
        "/topics/wire/messages", content=xml("<MessageBody>news</MessageBody>", root="Message")
    )
    assert published.status_code == 201 and fields(published, "Message")["MessageId"]
    endpoint = xml("<Endpoint>acs:mns:cn-hangzhou:1:queues/wire</Endpoint>", root="Subscription")
    subscribed = mns.put("/topics/wire/subscriptions/s", content=endpoint)
    assert (subscribed.status_code, subscribed.headers["location"]) == (
        201,
        f"{server.url}/topics/wire/subscriptions/s",
    )
    assert mns.put("/topics/wire/subscriptions/s", content=endpoint).status_code == 204
    error(mns.get("/topics/wire/subscriptions/nope"), 404, "SubscriptionNotExist")
    error(mns.get("/topics/nope"), 404, "TopicNotExist")
    assert mns.delete("/topics/wire/subscriptions/s").status_code == 204
    assert mns.delete("/topics/wire").status_code == 204


def test_a_missing_receipt_handle_or_visibility_timeout(mns: httpx.Client) -> None:
    mns.put("/queues/handles")
    error(mns.delete("/queues/handles/messages", params={"ReceiptHandle": ""}), 400, "MissingReceiptHandle")
    error(mns.put("/queues/handles/messages", params={"VisibilityTimeout": 5}), 400, "MissingReceiptHandle")
    error(mns.put("/queues/handles/messages", params={"ReceiptHandle": "x"}), 400, "MissingVisibilityTimeout")
    error(
        mns.delete("/queues/handles/messages", params={"ReceiptHandle": "not-a-handle"}),
        400,
        "ReceiptHandleError",
    )


@pytest.mark.parametrize(
    ("body", "code", "says"),
    [
        ("<Queue><VisibilityTimeout>", "MalformedXML", "not well-formed"),
        ("not xml", "MalformedXML", "not well-formed"),
        (
            '<!DOCTYPE q [<!ENTITY a "aaaaaaaa">]><Queue><DelaySeconds>&a;</DelaySeconds></Queue>',
            "MalformedXML",
            "DTD",
        ),
        ("<Topic/>", "InvalidArgument", "Element Topic"),
        (xml("<Colour>red</Colour>"), "InvalidArgument", "Element Colour"),
        (
            xml("<DelaySeconds>1</DelaySeconds><DelaySeconds>2</DelaySeconds>"),
            "InvalidArgument",
            "more than once",
        ),
        (xml("<DelaySeconds><Seconds>1</Seconds></DelaySeconds>"), "InvalidArgument", "holds text"),
        (xml("<VisibilityTimeout>soon</VisibilityTimeout>"), "InvalidArgument", "integer"),
        (xml("<VisibilityTimeout>1.5</VisibilityTimeout>"), "InvalidArgument", "integer"),
        (xml("<VisibilityTimeout>0</VisibilityTimeout>"), "InvalidArgument", "between 1 and 43200"),
        (xml("<MaximumMessageSize>65537</MaximumMessageSize>"), "InvalidArgument", "MaximumMessageSize"),
        (xml("<LoggingEnabled>True</LoggingEnabled>"), "InvalidArgument", "LoggingEnabled"),
        (xml("<LoggingEnabled>maybe</LoggingEnabled>"), "InvalidArgument", "LoggingEnabled"),
    ],
)
def test_a_bad_queue_document_creates_nothing(mns: httpx.Client, body: str, code: str, says: str) -> None:
    assert says in error(mns.put("/queues/bad-doc", content=body), 400, code)
    error(mns.get("/queues/bad-doc"), 404, "QueueNotExist")


@pytest.mark.parametrize(
    ("body", "code", "says"),
    [
        (xml(root="Message"), "InvalidArgument", "MessageBody"),
        (xml("<MessageBody></MessageBody>", root="Message"), "InvalidArgument", "MessageBody"),
        (xml("<MessageBody>bell &#7;</MessageBody>", root="Message"), "MalformedXML", "not well-formed"),
        (
            xml("<MessageBody>x</MessageBody><Priority>0</Priority>", root="Message"),
            "InvalidArgument",
            "Priority",
        ),
        (
            xml("<MessageBody>x</MessageBody><DelaySeconds>-1</DelaySeconds>", root="Message"),
            "InvalidArgument",
            "DelaySeconds",
        ),
        (
            xml("<MessageBody>" + "x" * 1025 + "</MessageBody>", root="Message"),
            "InvalidArgument",
            "1025 bytes",
        ),
        (
            xml(*["<Message><MessageBody>x</MessageBody></Message>"] * 17, root="Messages"),
            "InvalidArgument",
            "1 to 16",
        ),
        (
            xml("<Message><MessageBody>x</MessageBody></Message><Message/>", root="Messages"),
            "InvalidArgument",
            "MessageBody",
        ),
        (xml("<Body>x</Body>", root="Messages"), "InvalidArgument", "Element Body"),
    ],
)
def test_a_bad_message_sends_nothing(mns: httpx.Client, body: str, code: str, says: str) -> None:
    mns.put("/queues/small", content=xml("<MaximumMessageSize>1024</MaximumMessageSize>"))
    assert says in error(mns.post("/queues/small/messages", content=body), 400, code)
    assert count(mns, "small") == 0


def test_bad_query_parameters(mns: httpx.Client) -> None:
    mns.put("/queues/query")
    for params, says in (
        ({"waitseconds": "soon"}, "waitseconds"),
        ({"waitseconds": 31}, "between 0 and 30"),
        ({"numOfMessages": 17}, "between 1 and 16"),
        ({"numOfMessages": 0, "peekonly": "true"}, "numOfMessages"),
    ):
        error(mns.get("/queues/query/messages", params=params), 400, "InvalidArgument")
        assert says in error(mns.get("/queues/query/messages", params=params), 400, "InvalidArgument")
    error(mns.get("/queues/query/messages?waitseconds=1&WaitSeconds=2"), 400, "InvalidQueryString")
    error(mns.get("/queues", headers={"x-mns-ret-number": "0"}), 400, "InvalidArgument")
    error(mns.get("/queues", headers={"x-mns-marker": "not a marker"}), 400, "InvalidArgument")


def test_unknown_urls_and_versions(mns: httpx.Client, server: ServerProcess) -> None:
    mns.put("/queues/urls")
    for method, path in (
        ("POST", "/queues/urls"),
        ("GET", "/queues/urls/letters"),
        ("PATCH", "/queues"),
        ("GET", "/queues//messages"),
        ("POST", "/topics/urls/subscriptions"),
    ):
        assert "not an action" in error(mns.request(method, path), 400, "InvalidRequestURL")
    error(mns.get("/queues/urls", headers={"x-mns-version": "2014-07-08"}), 400, "InvalidArgument")
    native = httpx.get(f"{server.url}/queues/urls")  # no x-mns-version: not MNS's
    assert native.status_code == 404 and native.json()["code"] == "NotFound"


def test_oversized_requests(mns: httpx.Client) -> None:
    mns.put("/queues/huge")
    body = xml("<MessageBody>" + "x" * (1024 * 1024) + "</MessageBody>", root="Message")
    assert "larger than" in error(mns.post("/queues/huge/messages", content=body), 400, "InvalidArgument")
    assert count(mns, "huge") == 0


def test_content_md5_is_checked_when_given(mns: httpx.Client) -> None:
    mns.put("/queues/digest")
    body = xml("<MessageBody>x</MessageBody>", root="Message").encode()
    digest = hashlib.md5(body)
    hex_form = base64.b64encode(digest.hexdigest().encode()).decode()  # what the SDKs send
    raw_form = base64.b64encode(digest.digest()).decode()  # RFC 1864's
    for good in (hex_form, raw_form):
        assert (
            mns.post("/queues/digest/messages", content=body, headers={"content-md5": good}).status_code
            == 201
        )
    wrong = mns.post("/queues/digest/messages", content=body + b" ", headers={"content-md5": hex_form})
    error(wrong, 400, "InvalidDegist")
    assert count(mns, "digest") == 2


def test_with_auth_off_a_signed_request_is_still_checked(mns: httpx.Client) -> None:
    date = "Mon, 01 Jan 2001 00:00:00 GMT"
    error(mns.get("/queues", headers={"authorization": "Bearer x"}), 400, "InvalidAuthorizationHeader")
    error(mns.get("/queues", headers={"authorization": "MNS nobody:c2ln"}), 400, "MissingDateHeader")
    error(
        mns.get("/queues", headers={"authorization": "MNS nobody:c2ln", "date": "yesterday"}),
        400,
        "InvalidDateHeader",
    )
    error(mns.get("/queues", headers={"authorization": "MNS nobody:c2ln", "date": date}), 408, "TimeExpired")
    now = httpx.get(str(mns.base_url) + "/healthz").headers["date"]
    error(
        mns.get("/queues", headers={"authorization": "MNS nobody:c2ln", "date": now}),
        403,
        "InvalidAccessKeyId",
    )


def test_batch_delete_reports_each_handle(mns: httpx.Client) -> None:
    mns.put("/queues/batch")
    mns.post(
        "/queues/batch/messages",
        content=xml(*["<Message><MessageBody>m</MessageBody></Message>"] * 2, root="Messages"),
    )
    received = ET.fromstring(mns.get("/queues/batch/messages", params={"numOfMessages": 2}).content)
    handles = [m.find(f"{NS}ReceiptHandle").text for m in received]  # type: ignore[union-attr]
    body = xml(*[f"<ReceiptHandle>{h}</ReceiptHandle>" for h in [handles[0], "junk"]], root="ReceiptHandles")
    answer = mns.request("DELETE", "/queues/batch/messages", content=body)
    assert answer.status_code == 404
    [failed] = ET.fromstring(answer.content)
    assert {c.tag.removeprefix(NS): c.text for c in failed}.keys() == {
        "ErrorCode",
        "ErrorMessage",
        "ReceiptHandle",
    }
    assert failed.find(f"{NS}ErrorCode").text == "ReceiptHandleError"  # type: ignore[union-attr]
    assert count(mns, "batch") == 1, "the good handle deleted its message"
    again = xml(f"<ReceiptHandle>{handles[1]}</ReceiptHandle>", root="ReceiptHandles")
    assert mns.request("DELETE", "/queues/batch/messages", content=again).status_code == 204
    error(
        mns.request("DELETE", "/queues/batch/messages", content=xml(root="ReceiptHandles")),
        400,
        "InvalidArgument",
    )
