"""MNS's queue and topic API against a real server, driven by Alibaba's own SDK (aliyun-mns).

The server requires keys (``--auth on``); an ``Account`` has fnflow's URL as its endpoint. What
the SDK does not show (HTTP statuses) or cannot send (malformed requests) is checked with plain
HTTP in ``test_mns_wire.py``.
"""

from __future__ import annotations

import base64
import hashlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from types import SimpleNamespace

import httpx
import mns.mns_client
import pytest
from mns.account import Account
from mns.mns_common import TopicHelper
from mns.queue import Message, QueueMeta
from mns.subscription import SubscriptionMeta, SubscriptionNotifyContentFormat, SubscriptionNotifyStrategy
from mns.topic import TopicMessage, TopicMeta

from fnflow import Client
from fnflow.store import ApiKeyRecord
from fnflow.testing import ServerProcess
from tests.e2e.alibaba_mns import Accounts, fails, make_keys
from tests.e2e.fnf import temporary_key

pytestmark = pytest.mark.e2e


@dataclass
class Server:
    process: ServerProcess
    keys: dict[str, ApiKeyRecord]

    @property
    def url(self) -> str:
        return self.process.url


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    process = ServerProcess(tmp_path_factory.mktemp("mns"), "--auth", "on")
    keys = make_keys(process.db, "admin", "invoke", "report-task")
    process.start()
    yield Server(process, keys)
    process.stop()
    assert "Traceback" not in process.log(), process.log()[-5000:]


@pytest.fixture
def accounts(server: Server) -> Iterator[Accounts]:
    made = Accounts(server.url)
    yield made
    made.close()


@pytest.fixture
def admin(server: Server, accounts: Accounts) -> Account:
    return accounts.of(server.keys["admin"])


@pytest.fixture
def invoke(server: Server, accounts: Accounts) -> Account:
    return accounts.of(server.keys["invoke"])


@pytest.fixture
def native(server: Server) -> Iterator[Client]:
    """fnflow's own client, to see what the MNS API did."""
    key = server.keys["admin"]
    with Client(server.url, api_key=f"{key.id}:{key.secret}") as client:
        yield client


def new_queue(admin: Account, name: str, **attributes: int) -> None:
    admin.get_queue(name).create(QueueMeta(**attributes))


# --- queues ---------------------------------------------------------------------------------------


def test_queues_are_created_read_changed_listed_and_deleted(server: Server, admin: Account) -> None:
    queue = admin.get_queue("life")
    url = queue.create(QueueMeta(vis_timeout=45))
    assert url == f"{server.url}/queues/life"
    assert queue.create(QueueMeta(vis_timeout=45)) == url, "the same again is no error"
    fails("QueueAlreadyExist", queue.create, QueueMeta(vis_timeout=46))

    meta = queue.get_attributes()
    assert (meta.queue_name, meta.visibility_timeout, meta.maximum_message_size) == ("life", 45, 2048)
    assert (meta.message_retention_period, meta.delay_seconds, meta.polling_wait_seconds) == (86400, 0, 0)
    assert (meta.active_messages, meta.inactive_messages, meta.delay_messages) == (0, 0, 0)
    assert meta.logging_enabled is False
    assert abs(meta.create_time - time.time()) < 60 and meta.last_modify_time >= meta.create_time

    changed = QueueMeta()
    changed.set_polling_wait_seconds(3)
    changed.set_maximum_message_size(-1)  # left out of the request: stays as it is
    changed.set_visibilitytimeout(-1)
    queue.set_attributes(changed)
    meta = queue.get_attributes()
    assert (meta.polling_wait_seconds, meta.maximum_message_size, meta.visibility_timeout) == (3, 2048, 45)

    for name in ("life-a", "life-b", "other"):
        new_queue(admin, name)
    urls, marker = admin.list_queue("life", 2)
    assert urls == [f"{server.url}/queues/life", f"{server.url}/queues/life-a"] and marker
    assert admin.list_queue("life", 2, marker) == ([f"{server.url}/queues/life-b"], "")

    queue.delete()
    fails("QueueNotExist", queue.get_attributes)
    fails("QueueNotExist", queue.delete)
    fails("QueueNotExist", queue.set_attributes, changed)
    fails("InvalidArgument", admin.get_queue("bad.name").create, QueueMeta())
    fails("InvalidArgument", admin.get_queue("big").create, QueueMeta(max_msg_size=70000))
    fails("QueueNotExist", admin.get_queue("big").get_attributes), "nothing was written"


def test_messages_base64_encoded(admin: Account, native: Client) -> None:
    """The SDK's default: bodies travel base64-encoded, and are stored as sent."""
    new_queue(admin, "b64")
    queue = admin.get_queue("b64")
    sent = queue.send_message(Message("hello, 世界"))
    stored = native.peek_messages("b64")[0]
    assert stored.message_id == sent.message_id and stored.body_md5 == sent.message_body_md5
    assert base64.b64decode(stored.body).decode() == "hello, 世界"

    batch = queue.batch_send_message([Message(f"m{i}", priority=16 - i) for i in range(3)])
    assert len({m.message_id for m in batch}) == 3
    assert queue.get_attributes().active_messages == 4

    peeked = queue.peek_message()
    assert (peeked.message_id, peeked.message_body, peeked.dequeue_count) == (
        sent.message_id,
        "hello, 世界",
        0,
    )
    assert [m.message_body for m in queue.batch_peek_message(16)] == ["hello, 世界", "m2", "m1", "m0"]

    got = queue.receive_message(1)
    assert (got.message_id, got.message_body, got.dequeue_count, got.priority) == (
        sent.message_id,
        "hello, 世界",
        1,
        8,
    )
    assert got.next_visible_time > time.time() * 1000 and got.enqueue_time <= got.first_dequeue_time
    received = queue.batch_receive_message(16, 1)
    assert [m.message_body for m in received] == [b"m2", b"m1", b"m0"]  # the SDK's batch gives bytes
    meta = queue.get_attributes()
    assert (meta.active_messages, meta.inactive_messages) == (0, 4)

    changed = queue.change_message_visibility(got.receipt_handle, 100)
    assert changed.receipt_handle == got.receipt_handle
    assert int(changed.next_visible_time) > time.time() * 1000 + 90_000
    queue.delete_message(changed.receipt_handle)
    queue.batch_delete_message([m.receipt_handle for m in received])
    assert native.get_queue("b64").active_messages + native.get_queue("b64").inactive_messages == 0
    fails("MessageNotExist", queue.receive_message, 0)
    fails("MessageNotExist", queue.batch_receive_message, 4, 0)
    fails("MessageNotExist", queue.peek_message)


def test_messages_raw(admin: Account, native: Client) -> None:
    """``set_encoding(False)``: what a flow or fnflow's client sent is received as it is."""
    new_queue(admin, "raw")
    text = '{"note": "<&>"}\r\n\t\u00e9 \U0001f600'
    native.send_message("raw", text)
    native.send_message("raw", "second")
    queue = admin.get_queue("raw")
    queue.set_encoding(False)
    got = queue.receive_message(1)
    assert got.message_body == text and got.message_body_md5 == hashlib.md5(text.encode()).hexdigest().upper()
    [second] = queue.batch_receive_message(16, 1)
    assert second.message_body == "second"
    queue.batch_delete_message([got.receipt_handle, second.receipt_handle])


def test_a_long_poll_answers_when_a_message_arrives(admin: Account, invoke: Account) -> None:
    new_queue(admin, "poll")
    sender = threading.Timer(0.5, lambda: admin.get_queue("poll").send_message(Message("late")))
    started = time.monotonic()
    sender.start()
    got = invoke.get_queue("poll").receive_message(10)
    assert got.message_body == "late" and time.monotonic() - started < 5
    sender.join()


def test_a_delayed_message_and_a_queue_s_delay(admin: Account) -> None:
    new_queue(admin, "later", delay_sec=60)
    queue = admin.get_queue("later")
    queue.send_message(Message("waits"))
    queue.send_message(Message("now", delay_seconds=0))
    meta = queue.get_attributes()
    assert (meta.active_messages, meta.delay_messages) == (1, 1)
    assert queue.receive_message(0).message_body == "now"


def test_receipt_handles_stop_working(admin: Account) -> None:
    new_queue(admin, "handles")
    queue = admin.get_queue("handles")
    queue.send_message(Message("x"))
    first = queue.receive_message(1)
    queue.change_message_visibility(first.receipt_handle, 0)  # back at once: the handle is spent
    fails("MessageNotExist", queue.delete_message, first.receipt_handle)
    second = queue.receive_message(1)
    assert second.dequeue_count == 2 and second.receipt_handle != first.receipt_handle
    queue.delete_message(second.receipt_handle)
    fails("MessageNotExist", queue.delete_message, second.receipt_handle)
    fails("MessageNotExist", queue.change_message_visibility, second.receipt_handle, 10)
    fails("ReceiptHandleError", queue.delete_message, "not-a-handle")

    queue.send_message(Message("y"))
    held = queue.receive_message(1)
    error = fails(
        "MessageNotExist", queue.batch_delete_message, [second.receipt_handle, held.receipt_handle, "bad"]
    )
    assert [(e["ErrorCode"], e["ReceiptHandle"]) for e in error.sub_errors] == [
        ("MessageNotExist", second.receipt_handle),
        ("ReceiptHandleError", "bad"),
    ]
    assert queue.get_attributes().inactive_messages == 0, "the good handle deleted its message"


# --- topics ---------------------------------------------------------------------------------------


def test_topics_and_subscriptions(server: Server, admin: Account, invoke: Account) -> None:
    new_queue(admin, "inbox")
    topic = admin.get_topic("news")
    url = topic.create(TopicMeta())
    assert url == f"{server.url}/topics/news" and topic.create(TopicMeta()) == url
    fails("TopicAlreadyExist", topic.create, TopicMeta(maximum_message_size=1024))
    topic.set_attributes(TopicMeta(maximum_message_size=4096))
    meta = topic.get_attributes()
    assert (
        meta.topic_name,
        meta.maximum_message_size,
        meta.message_count,
        meta.message_retention_period,
    ) == (
        "news",
        4096,
        0,
        86400,
    )
    admin.get_topic("news-2").create(TopicMeta())
    assert admin.list_topic("news") == ([url, f"{server.url}/topics/news-2"], "")

    endpoint = TopicHelper.generate_queue_endpoint("cn-hangzhou", "1234", "inbox")
    simple = topic.get_subscription("simple")
    created = simple.subscribe(
        SubscriptionMeta(endpoint, notify_content_format=SubscriptionNotifyContentFormat.SIMPLIFIED)
    )
    assert created == f"{url}/subscriptions/simple"
    assert simple.subscribe(SubscriptionMeta(endpoint, notify_content_format="SIMPLIFIED")) == created
    fails("SubscriptionAlreadyExist", simple.subscribe, SubscriptionMeta(endpoint, filter_tag="x"))
    tagged = topic.get_subscription("tagged")
    tagged.subscribe(SubscriptionMeta(endpoint, filter_tag="vip"))
    attributes = tagged.get_attributes()
    assert (attributes.endpoint, attributes.notify_strategy, attributes.notify_content_format) == (
        endpoint,
        "BACKOFF_RETRY",
        "XML",  # MNS's default
    )
    tagged.set_attributes(SubscriptionMeta(notify_strategy=SubscriptionNotifyStrategy.EXPONENTIAL))
    assert tagged.get_attributes().notify_strategy == "EXPONENTIAL_DECAY_RETRY"
    assert topic.list_subscription() == ([created, f"{url}/subscriptions/tagged"], "")
    assert topic.list_subscription("tag") == ([f"{url}/subscriptions/tagged"], "")

    invoke.get_topic("news").publish_message(TopicMessage("breaking"))
    inbox = admin.get_queue("inbox")
    inbox.set_encoding(False)
    got = inbox.receive_message(5)
    assert got.message_body == "breaking", "SIMPLIFIED: the body alone; the untagged message skips 'tagged'"
    inbox.delete_message(got.receipt_handle)
    invoke.get_topic("news").publish_message(TopicMessage("for vips", "vip"))
    bodies = [m.message_body for m in inbox.batch_receive_message(16, 5)]
    assert len(bodies) == 2 and "for vips" in bodies, bodies
    [notification] = [b for b in bodies if b != "for vips"]
    assert "<Message>for vips</Message>" in notification and "<MessageTag>vip</MessageTag>" in notification
    assert topic.get_attributes().message_count == 2

    tagged.unsubscribe()
    fails("SubscriptionNotExist", tagged.get_attributes)
    fails("SubscriptionNotExist", tagged.unsubscribe)
    fails(
        "QueueNotExist",
        topic.get_subscription("lost").subscribe,
        SubscriptionMeta(endpoint.replace("inbox", "nope")),
    )
    fails(
        "InvalidArgument", topic.get_subscription("mail").subscribe, SubscriptionMeta("mail:directmail:a@b.c")
    )
    topic.delete()
    fails("TopicNotExist", topic.get_attributes)
    fails("TopicNotExist", topic.publish_message, TopicMessage("gone"))
    fails("TopicNotExist", simple.get_attributes)


# --- keys and scopes ------------------------------------------------------------------------------


def test_scopes_apply_as_on_fnflow_s_own_api(
    server: Server, accounts: Accounts, admin: Account, invoke: Account
) -> None:
    new_queue(admin, "scoped")
    fails("AccessDenied", invoke.get_queue("scoped").delete)
    fails("AccessDenied", invoke.get_queue("made-by-invoke").create, QueueMeta())
    fails("AccessDenied", invoke.get_topic("t").create, TopicMeta())
    invoke.get_queue("scoped").send_message(Message("ok"))
    reporter = accounts.of(server.keys["report-task"])
    fails("AccessDenied", reporter.get_queue("scoped").receive_message, 0)
    fails("AccessDenied", reporter.list_queue)
    assert invoke.get_queue("scoped").get_attributes().active_messages == 1


def test_wrong_keys_and_signatures(server: Server, accounts: Accounts) -> None:
    key = server.keys["admin"]
    fails("SignatureDoesNotMatch", accounts(key.id, key.secret + "x").list_queue)
    fails("InvalidAccessKeyId", accounts("FNF0000", key.secret).list_queue)


def test_a_request_signed_too_long_ago_is_refused(
    server: Server, admin: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    skewed = SimpleNamespace(strftime=time.strftime, gmtime=lambda: time.gmtime(time.time() - 20 * 60))
    monkeypatch.setattr(mns.mns_client, "time", skewed)
    fails("TimeExpired", admin.list_queue)


def test_temporary_credentials_sign_with_a_security_token(
    server: Server, accounts: Accounts, admin: Account
) -> None:
    new_queue(admin, "sts")
    sts = temporary_key(server.process.db, server.keys["invoke"].id)
    client = accounts(sts["AccessKeyId"], sts["AccessKeySecret"], sts["SecurityToken"])
    client.get_queue("sts").send_message(Message("signed with a token"))
    assert client.get_queue("sts").receive_message(0).message_body == "signed with a token"
    fails("AccessDenied", client.get_queue("sts").delete)
    forged = accounts(sts["AccessKeyId"], sts["AccessKeySecret"], sts["SecurityToken"][:-4] + "AAAA")
    fails("InvalidSecurityToken.Malformed", forged.list_queue)
    other = temporary_key(server.process.db, server.keys["invoke"].id)
    mismatched = accounts(sts["AccessKeyId"], sts["AccessKeySecret"], other["SecurityToken"])
    fails("InvalidSecurityToken.MismatchWithAccessKey", mismatched.list_queue)


def test_with_auth_on_an_unsigned_request_is_refused(server: Server, admin: Account) -> None:
    with httpx.Client(base_url=server.url, headers={"x-mns-version": "2015-06-06"}) as plain:
        unsigned = plain.put("/queues/unsigned")
        assert unsigned.status_code == 400 and b"<Code>MissingAuthorizationHeader</Code>" in unsigned.content
        bearer = plain.put("/queues/unsigned", headers={"authorization": "Bearer a:b"})
        assert bearer.status_code == 400 and b"<Code>InvalidAuthorizationHeader</Code>" in bearer.content
    fails("QueueNotExist", admin.get_queue("unsigned").get_attributes)
