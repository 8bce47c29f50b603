"""Built-in queues and topics against a real server: send, receive (long-poll), delete, visibility,
redelivery and dead letters; topics pushing to an HTTP endpoint, a function and a queue; bad input;
kill -9 with messages in flight; and a long-poll woken by a send on another process (PostgreSQL)."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fnflow import Client, signing, verify_callback
from fnflow.client import ConflictError, ForbiddenError, InvalidArgumentError, Message, NotFoundError
from fnflow.functions.codepkg import pack_directory
from fnflow.services.keys import new_key
from fnflow.store import open_store
from fnflow.testing import NoPostgres, ServerProcess, throwaway_database
from tests.e2e.cli import fnflow
from tests.e2e.test_gateway import Receiver
from tests.postgres import no_postgres

COLLECTOR = Path(__file__).parent / "fixtures" / "gateway" / "collector"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path_factory.mktemp("queues")).start()
    yield process
    process.stop()
    assert "Traceback" not in process.log(), process.log()[-5000:]


@pytest.fixture
def fnf(server: ServerProcess) -> Iterator[Client]:
    with Client(server.url, api_key="") as client:
        yield client


def receive_one(fnf: Client, queue: str, **options: Any) -> Message:
    got = fnf.receive_messages(queue, **{"wait": 10, **options})
    assert len(got) == 1, got
    return got[0]


def test_send_receive_delete(fnf: Client) -> None:
    fnf.put_queue("basic")
    sent = fnf.send_message("basic", '{"task": 1}')
    assert fnf.get_queue("basic").active_messages == 1
    got = receive_one(fnf, "basic")
    assert (got.message_id, got.body, got.body_md5, got.receive_count) == (
        sent.message_id,
        '{"task": 1}',
        sent.body_md5,
        1,
    )
    assert got.receipt_handle and got.next_visible_time and got.first_dequeue_time
    assert fnf.get_queue("basic").inactive_messages == 1
    assert fnf.receive_messages("basic", wait=0) == [], "invisible while received"
    fnf.delete_message("basic", got.receipt_handle)
    with pytest.raises(NotFoundError, match="no longer valid"):
        fnf.delete_message("basic", got.receipt_handle)
    queue = fnf.get_queue("basic")
    assert (queue.active_messages, queue.inactive_messages, queue.delay_messages) == (0, 0, 0)


def test_priority_batches_delay_and_peek(fnf: Client) -> None:
    fnf.put_queue("batch")
    for i in range(3):
        fnf.send_message("batch", f"m{i}")
    fnf.send_message("batch", "urgent", priority=1)
    fnf.send_message("batch", "later", delay_seconds=1)
    assert [m.body for m in fnf.peek_messages("batch", max=16)] == ["urgent", "m0", "m1", "m2"]
    assert fnf.get_queue("batch").delay_messages == 1
    got = fnf.receive_messages("batch", max=16, wait=0)
    assert [m.body for m in got] == ["urgent", "m0", "m1", "m2"]
    assert [m.body for m in fnf.receive_messages("batch", wait=10)] == ["later"], "once its delay passed"


def woken(waiting_on: str, sender: Client, queue: str) -> Message:
    """The message ``sender`` sends while a receive on the server at ``waiting_on`` long-polls
    ``queue``; that receive must answer with it, not when its wait runs out."""
    got: list[Message] = []

    def wait() -> None:
        with Client(waiting_on, api_key="") as receiver:
            got.extend(receiver.receive_messages(queue, wait=25))

    waiter = threading.Thread(target=wait)
    started = time.monotonic()
    waiter.start()
    time.sleep(0.5)
    sender.send_message(queue, "ding")
    waiter.join()
    assert [m.body for m in got] == ["ding"]
    assert time.monotonic() - started < 20, "it answered with the message, not when its wait ran out"
    return got[0]


def test_a_long_poll_wakes_when_a_message_arrives(fnf: Client, server: ServerProcess) -> None:
    fnf.put_queue("wake")
    woken(server.url, fnf, "wake")


def test_an_undeleted_message_comes_back_after_its_visibility_timeout(fnf: Client) -> None:
    fnf.put_queue("again", visibility_timeout=1)
    fnf.send_message("again", "work")
    first = receive_one(fnf, "again")
    second = receive_one(fnf, "again")
    assert second.message_id == first.message_id and second.receive_count == 2
    assert first.receipt_handle and second.receipt_handle
    with pytest.raises(NotFoundError):
        fnf.delete_message("again", first.receipt_handle)  # that receive holds it no more
    longer = fnf.change_message_visibility("again", second.receipt_handle, 60)
    assert longer.next_visible_time and second.next_visible_time
    assert longer.next_visible_time > second.next_visible_time
    assert fnf.receive_messages("again", wait=1.5) == []
    fnf.change_message_visibility("again", second.receipt_handle, 0)
    third = receive_one(fnf, "again", wait=0)
    assert third.receive_count == 3 and third.receipt_handle
    fnf.delete_message("again", third.receipt_handle)


def test_a_message_received_too_often_goes_to_the_dead_letter_queue(fnf: Client) -> None:
    fnf.put_queue("poison-dead")
    fnf.put_queue("poison", visibility_timeout=1, max_receive_count=2, dead_letter_queue="poison-dead")
    sent = fnf.send_message("poison", "boom")
    assert receive_one(fnf, "poison").receive_count == 1
    assert receive_one(fnf, "poison").receive_count == 2
    assert fnf.receive_messages("poison", wait=2) == []
    dead = receive_one(fnf, "poison-dead")
    assert (dead.message_id, dead.body, dead.receive_count) == (sent.message_id, "boom", 1)
    with pytest.raises(ConflictError, match="dead-letter queue of 'poison'"):
        fnf.delete_queue("poison-dead")


def test_a_sender_id_sends_once_even_after_the_message_was_deleted(fnf: Client) -> None:
    fnf.put_queue("once")
    first = fnf.send_message("once", "a", message_id="exec-1/step-2")
    got = receive_one(fnf, "once")
    assert got.receipt_handle
    fnf.delete_message("once", got.receipt_handle)
    again = fnf.send_message("once", "a", message_id="exec-1/step-2")
    assert again.message_id == first.message_id == "exec-1/step-2"
    assert fnf.receive_messages("once", wait=0) == []


def test_bad_input_is_a_clear_4xx_that_writes_nothing(fnf: Client, server: ServerProcess) -> None:
    api = f"{server.url}/api/v1"
    cases = [
        (httpx.get(f"{api}/queues/nope"), 404, "NotFound"),
        (httpx.post(f"{api}/queues/nope/messages", json={"body": "x"}), 404, "NotFound"),
        (httpx.put(f"{api}/queues/bad", json={"visibilityTimeout": 0}), 400, "InvalidArgument"),
        (httpx.put(f"{api}/queues/9bad", json={}), 400, "InvalidArgument"),
        (
            httpx.put(f"{api}/queues/bad", json={"maxReceiveCount": 2, "deadLetterQueue": "none"}),
            404,
            "NotFound",
        ),
        (httpx.put(f"{api}/queues/bad", json={"unknown": 1}), 400, "InvalidArgument"),
    ]
    fnf.put_queue("small", maximum_message_size=1024)
    cases += [
        (httpx.post(f"{api}/queues/small/messages", json={"body": "x" * 1025}), 413, "PayloadTooLarge"),
        (
            httpx.post(f"{api}/queues/small/messages", json={"body": "x", "priority": 0}),
            400,
            "InvalidArgument",
        ),
        (httpx.post(f"{api}/queues/small/messages", json={}), 400, "InvalidArgument"),
        (httpx.get(f"{api}/queues/small/messages", params={"max": 17}), 400, "InvalidArgument"),
        (httpx.get(f"{api}/queues/small/messages", params={"wait": 31}), 400, "InvalidArgument"),
        (httpx.delete(f"{api}/queues/small/messages/not-a-handle"), 400, "InvalidArgument"),
        (httpx.put(f"{api}/topics/t1/subscriptions/s", json={"endpoint": "http://x"}), 404, "NotFound"),
        (httpx.post(f"{api}/topics/t1/messages", json={"body": "x"}), 404, "NotFound"),
    ]
    for response, status, code in cases:
        assert (response.status_code, response.json()["code"]) == (status, code), response.text
        assert response.json()["message"]
    assert fnf.get_queue("small").active_messages == 0
    assert [q.name for q in fnf.iter_queues(prefix="bad")] == []


def test_the_routes_are_in_the_openapi_document(server: ServerProcess) -> None:
    paths = httpx.get(f"{server.url}/openapi.json").json()["paths"]
    for path in (
        "/api/v1/queues/{queue}/messages",
        "/api/v1/queues/{queue}/messages/{receipt_handle}",
        "/api/v1/queues/{queue}/messages/{receipt_handle}/visibility",
        "/api/v1/topics/{topic}/messages",
        "/api/v1/topics/{topic}/subscriptions/{name}",
    ):
        assert path in paths


def test_the_command_line(server: ServerProcess) -> None:
    def run(*args: str, code: int = 0) -> Any:
        done = fnflow(*args, "--output", "json", url=server.url)
        assert done.returncode == code, done.stderr
        return json.loads(done.stdout) if done.stdout.strip() else done.stderr

    assert run("queue", "create", "cli", "--visibility-timeout", "60")["visibilityTimeout"] == 60
    sent = run("queue", "send", "cli", '{"n": 1}', "--message-id", "one")
    assert sent["messageId"] == "one"
    [got] = run("queue", "receive", "cli", "--wait", "5")["messages"]
    assert (got["body"], got["receiveCount"]) == ('{"n": 1}', 1)
    run("queue", "delete-message", "cli", got["receiptHandle"])
    assert "no longer valid" in run("queue", "delete-message", "cli", got["receiptHandle"], code=2)
    run("topic", "create", "cli-topic")
    run("topic", "subscribe", "cli-topic", "to-queue", "acs:mns:::queues/cli", "--format", "SIMPLIFIED")
    run("topic", "publish", "cli-topic", "hello", "--tag", "t", "--attribute", "k=v")
    assert [m["body"] for m in run("queue", "peek", "cli", "--max", "5")["messages"]] == ["hello"]
    assert run("queue", "get", "cli")["activeMessages"] == 1


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.fail_first = 1
    yield r
    r.server.shutdown()
    r.server.server_close()


def test_a_topic_pushes_to_an_http_endpoint_signed_and_retried(
    fnf: Client, server: ServerProcess, receiver: Receiver
) -> None:
    fnf.put_topic("orders")
    fnf.subscribe("orders", "hook", receiver.url)
    published = fnf.publish("orders", '{"order": 7}', tag="paid", message_id="order-7")
    receiver.wait(2)  # the first answer was a 500: pushed again
    headers, body = receiver.requests[1]
    assert receiver.requests[0][1] == body
    notification = json.loads(body)
    assert notification["Message"] == '{"order": 7}' and notification["MessageTag"] == "paid"
    assert (notification["TopicName"], notification["SubscriptionName"]) == ("orders", "hook")
    assert notification["MessageId"] == published.message_id == "order-7"
    assert notification["MessageMD5"] == published.body_md5 and int(notification["PublishTime"]) > 0
    assert headers["x-mns-message-id"] == "order-7" and headers["content-type"] == "application/json"
    key = httpx.get(f"{server.url}/api/v1/system/callback-key").json()["key"]
    assert signing.verify(key, headers["x-fnflow-signature"], "order-7", body)
    assert verify_callback(headers, body, key) and not verify_callback(headers, body + b" ", key)
    assert fnf.publish("orders", '{"order": 7}', message_id="order-7").message_id == "order-7"
    time.sleep(1)
    assert len(receiver.requests) == 2, "the same message id again pushes nothing"


def test_a_topic_pushes_into_a_queue_a_function_and_the_request_bin_by_tag(
    fnf: Client, server: ServerProcess, tmp_path: Path
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    code = base64.b64encode(pack_directory(COLLECTOR)).decode()
    body = {"runtime": "python3", "environment": {"LOG_DIR": str(logs)}, "code": code}
    assert httpx.put(f"{server.url}/api/v1/functions/default/audit", json=body, timeout=30).status_code == 200
    fnf.put_queue("inbox")
    fnf.put_topic("events")
    fnf.subscribe(
        "events", "to-queue", "acs:mns:cn-hangzhou:123:queues/inbox", notify_content_format="SIMPLIFIED"
    )
    fnf.subscribe("events", "to-function", "acs:fc:::services/default/functions/audit")
    fnf.subscribe(
        "events", "to-bin", f"{server.url}/bin/events", filter_tag="vip", notify_content_format="XML"
    )
    assert [s.name for s in fnf.list_subscriptions("events").items] == ["to-bin", "to-function", "to-queue"]
    fnf.publish("events", "plain")
    fnf.publish("events", "special", tag="vip")
    assert sorted(
        m.body for m in fnf.receive_messages("inbox", max=16, wait=10) + fnf.receive_messages("inbox", wait=5)
    ) == ["plain", "special"]
    deadline = time.monotonic() + 30
    while not (
        (logs / "collected.log").exists() and len((logs / "collected.log").read_text().splitlines()) == 2
    ):
        assert time.monotonic() < deadline, "the function did not get both messages"
        time.sleep(0.1)
    events = [json.loads(line) for line in (logs / "collected.log").read_text().splitlines()]
    assert sorted(e["Message"] for e in events) == ["plain", "special"]
    while not (pushed := fnf.bin_requests("events")):
        assert time.monotonic() < deadline, "the bin got nothing"
        time.sleep(0.1)
    assert len(pushed) == 1 and b"<Message>special</Message>" in pushed[0].body
    fnf.unsubscribe("events", "to-bin")
    with pytest.raises(NotFoundError):
        fnf.get_subscription("events", "to-bin")
    with pytest.raises(InvalidArgumentError, match="metadata"):
        fnf.subscribe("events", "bad", "http://169.254.169.254/latest")
    fnf.delete_queue("inbox")
    assert fnf.publish("events", "the queue is gone").message_id  # its push fails; the others go
    while len((logs / "collected.log").read_text().splitlines()) < 3:
        assert time.monotonic() < deadline, "the function did not get the third message"
        time.sleep(0.1)
    assert "not pushed to subscription 'to-queue': queue 'inbox' does not exist" in server.log()


def test_queues_and_topics_are_changed_by_admin_and_used_by_invoke(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path, "--auth", "on")
    keys = {scope: new_key(scope) for scope in ("admin", "invoke", "report-task")}
    store = open_store(server.db)
    try:
        store.write_sync(lambda tx: [tx.put_key(k) for k in keys.values()])
    finally:
        store.close()
    server.start()

    def client(scope: str) -> Client:
        return Client(server.url, api_key=f"{keys[scope].id}:{keys[scope].secret}")

    try:
        with client("admin") as admin:
            admin.put_queue("work")
            admin.put_topic("news")
            admin.subscribe("news", "to-work", "acs:mns:::queues/work")
        with client("invoke") as invoke:
            invoke.publish("news", "hello")
            [got] = invoke.receive_messages("work", wait=5)
            assert got.receipt_handle
            invoke.delete_message("work", got.receipt_handle)
            assert invoke.get_queue("work").name == "work"
            assert [s.name for s in invoke.list_subscriptions("news").items] == ["to-work"]
            for forbidden in (
                lambda: invoke.put_queue("other"),
                lambda: invoke.delete_queue("work"),
                lambda: invoke.put_topic("other"),
                lambda: invoke.subscribe("news", "mine", "acs:mns:::queues/work"),
                lambda: invoke.unsubscribe("news", "to-work"),
            ):
                with pytest.raises(ForbiddenError):
                    forbidden()
        with client("report-task") as report:
            for forbidden in (
                lambda: report.send_message("work", "x"),
                lambda: report.receive_messages("work", wait=0),
                lambda: report.publish("news", "x"),
            ):
                with pytest.raises(ForbiddenError):
                    forbidden()
    finally:
        server.stop()


def test_kill_9_with_messages_in_flight_loses_none(tmp_path: Path) -> None:
    """Messages sent, some received and not deleted, then kill -9. After a restart the unreceived
    are there at once; the received stay with their receivers (whose receipt handles still work)
    and come back when their visibility timeout ends; none is lost."""
    server = ServerProcess(tmp_path).start()
    try:
        with Client(server.url, api_key="") as fnf:
            fnf.put_queue("durable")
            sent = {fnf.send_message("durable", f"m{i}").message_id for i in range(20)}
            held = fnf.receive_messages("durable", max=4, wait=0, visibility=60)
            short = {m.message_id for m in fnf.receive_messages("durable", max=4, wait=0, visibility=2)}
        server.kill()
        server.start()
        with Client(server.url, api_key="") as fnf:
            at_once: set[str] = set()
            while got := fnf.receive_messages("durable", max=16, wait=0):
                at_once |= {m.message_id for m in got}
            assert not at_once & {m.message_id for m in held}, "received messages stay invisible"
            assert sent - at_once - short == {m.message_id for m in held}
            back = at_once & short
            while back != short:
                back |= {m.message_id for m in fnf.receive_messages("durable", max=16, wait=10)}
            for m in held:
                assert m.receipt_handle
                fnf.delete_message("durable", m.receipt_handle)  # the receiver's handle outlived the server
            assert fnf.get_queue("durable").inactive_messages == len(at_once | back)
    finally:
        server.stop()


def test_a_long_poll_wakes_when_another_process_sends_postgresql(tmp_path: Path) -> None:
    try:
        with throwaway_database() as db:
            a = ServerProcess(tmp_path / "a", db=db).start()
            b = ServerProcess(tmp_path / "b", db=db).start()
            try:
                _wake_across(a, b)
            finally:
                a.stop()
                b.stop()
    except NoPostgres as e:
        no_postgres("MULTI-PROCESS QUEUE TEST", e)


def _wake_across(a: ServerProcess, b: ServerProcess) -> None:
    with Client(a.url, api_key="") as on_a, Client(b.url, api_key="") as on_b:
        on_a.put_queue("shared")
        got = woken(a.url, on_b, "shared")  # B's NOTIFY wakes A
        assert got.receipt_handle
        on_b.delete_message("shared", got.receipt_handle)
