"""Built-in queues: attributes, and messages leased to the receives that get them — visibility,
redelivery, receipt handles (by receive), dead letters, tombstones of sender ids, retention, and
concurrent receivers that never get the same message while it is invisible."""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import replace

import psycopg
import pytest
from sqlalchemy.exc import IntegrityError

from fnflow.store import MessageRecord, QueueCounts, QueueRecord, Store, Tx
from fnflow.store.leases import MESSAGES
from fnflow.store.schema import queue_messages
from tests.contract.compiled import core_statements
from tests.contract.factories import at

COLUMNS = [column.name for column in queue_messages.c]


def queue(name: str = "q", **attributes: object) -> QueueRecord:
    values: dict[str, object] = {
        "visibility_timeout": 30.0,
        "delay_seconds": 0.0,
        "maximum_message_size": 65536,
        "message_retention_period": 3600.0,
        "polling_wait_seconds": 0.0,
        **attributes,
    }
    return QueueRecord(name, created_at=at(0), updated_at=at(0), **values)  # type: ignore[arg-type]


def message(
    message_id: str,
    *,
    q: str = "q",
    sent: float = 0,
    priority: int = 8,
    delay: float = 0,
    keyed: bool = False,
    retention: float = 3600,
) -> MessageRecord:
    return MessageRecord(
        queue=q,
        id=message_id,
        body=f"body of {message_id}",
        body_md5="MD5",
        priority=priority,
        enqueued_at=at(sent),
        expires_at=at(sent + retention),
        keyed=keyed,
        lease_until=at(sent + delay) if delay else None,
    )


def send(store: Store, *records: MessageRecord) -> list[bool]:
    return [new for _, new in store.write_sync(lambda tx: tx.send_messages(records))]


def receive(store: Store, owner: str, now: float, visibility: float = 30, limit: int = 10) -> list[str]:
    target = store.read_sync(lambda tx: tx.get_queue("q"))
    assert target is not None
    got, _ = store.write_sync(
        lambda tx: tx.receive_messages(target, owner, at(now), at(now + visibility), limit)
    )
    return [m.id for m in got]


@pytest.fixture
def q(store: Store) -> QueueRecord:
    return store.write_sync(lambda tx: tx.put_queue(queue()))


def test_queues_are_created_changed_listed_and_deleted(store: Store) -> None:
    created = store.write_sync(lambda tx: tx.put_queue(queue("b")))
    assert created == queue("b")
    changed = store.write_sync(
        lambda tx: tx.put_queue(
            replace(queue("b", visibility_timeout=5.0), created_at=at(9), updated_at=at(9))
        )
    )
    assert (changed.visibility_timeout, changed.created_at, changed.updated_at) == (5.0, at(0), at(9))
    for name in ("a", "c", "a%_"):
        store.write_sync(lambda tx, name=name: tx.put_queue(queue(name)))
    first = store.read_sync(lambda tx: tx.list_queues("", 2))
    assert [x.name for x in first.items] == ["a", "a%_"] and first.next_token
    rest = store.read_sync(lambda tx: tx.list_queues("", 2, first.next_token))
    assert [x.name for x in rest.items] == ["b", "c"] and rest.next_token is None
    assert [x.name for x in store.read_sync(lambda tx: tx.list_queues("a%", 10)).items] == ["a%_"]
    send(store, message("m", q="b"))
    assert store.write_sync(lambda tx: tx.delete_queue("b")) is True
    assert store.write_sync(lambda tx: tx.delete_queue("b")) is False
    assert store.read_sync(lambda tx: (tx.get_queue("b"), tx.get_message("b", "m"))) == (None, None)


def test_dead_letter_sources_are_known(store: Store) -> None:
    store.write_sync(lambda tx: tx.put_queue(queue("dlq")))
    for name in ("b", "a"):
        store.write_sync(
            lambda tx, name=name: tx.put_queue(queue(name, max_receive_count=2, dead_letter_queue="dlq"))
        )
    assert store.read_sync(lambda tx: tx.queues_dead_lettering_into("dlq")) == ["a", "b"]
    assert store.read_sync(lambda tx: tx.queues_dead_lettering_into("a")) == []


def test_a_message_id_is_an_idempotency_key_per_queue(store: Store, q: QueueRecord) -> None:
    store.write_sync(lambda tx: tx.put_queue(queue("other")))
    assert send(store, message("m1"), message("m1", q="other")) == [True, True]
    again = store.write_sync(lambda tx: tx.send_messages([replace(message("m1"), body="changed")]))
    assert again == [(message("m1"), False)], "the first one stays"


def test_receives_take_visible_messages_by_priority_then_age(store: Store, q: QueueRecord) -> None:
    send(
        store,
        message("old", sent=1),
        message("new", sent=2),
        message("urgent", sent=3, priority=1),
        message("delayed", sent=0, delay=45),
    )
    assert receive(store, "r1", now=10, limit=2) == ["urgent", "old"]
    assert receive(store, "r2", now=10) == ["new"], "invisible while received or delayed"
    assert receive(store, "r3", now=20) == []
    again = receive(store, "r4", now=46)
    assert again == ["urgent", "delayed", "old", "new"], "visible again after 30 s, or the delay"
    record = store.read_sync(lambda tx: tx.get_message("q", "urgent"))
    assert record is not None
    assert (record.dequeue_count, record.first_dequeued_at, record.lease_owner) == (2, at(10), "r4")
    assert record.lease_until == at(76)


def test_counts_next_visible_time_and_peek(store: Store, q: QueueRecord) -> None:
    send(store, message("a", sent=0), message("b", sent=1), message("c", sent=2), message("d", delay=100))
    receive(store, "r", now=5, limit=1)
    assert store.read_sync(lambda tx: tx.queue_counts("q", at(6))) == QueueCounts(2, 1, 1)
    assert store.read_sync(lambda tx: tx.next_visible_at("q", at(6))) == at(35)
    peeked = store.read_sync(lambda tx: tx.peek_messages("q", at(6), 5))
    assert [m.id for m in peeked] == ["b", "c"]
    assert peeked[0].dequeue_count == 0, "peeking receives nothing"
    assert store.read_sync(lambda tx: tx.queue_counts("nope", at(6))) == QueueCounts(0, 0, 0)
    assert store.read_sync(lambda tx: tx.next_visible_at("nope", at(6))) is None


def test_only_the_receive_that_holds_a_message_deletes_it(store: Store, q: QueueRecord) -> None:
    send(store, message("m"))
    receive(store, "r1", now=1, visibility=10)
    assert not store.write_sync(lambda tx: tx.delete_message("q", "m", "someone", at(2)))
    assert not store.write_sync(lambda tx: tx.delete_message("q", "m", "r1", at(12))), "expired"
    receive(store, "r2", now=12, visibility=10)
    assert not store.write_sync(lambda tx: tx.delete_message("q", "m", "r1", at(13))), "used by another"
    assert store.write_sync(lambda tx: tx.delete_message("q", "m", "r2", at(13)))
    assert not store.write_sync(lambda tx: tx.delete_message("q", "m", "r2", at(13))), "already used"
    assert store.read_sync(lambda tx: tx.get_message("q", "m")) is None


def test_sending_receiving_and_deleting_compile_no_statement_each_time(store: Store, q: QueueRecord) -> None:
    """The queue's hot path runs statements compiled once (a receive through Core took 1.5 ms)."""
    send(store, message("warm"))  # the first use of each statement compiles it
    receive(store, "r0", now=1)
    store.write_sync(lambda tx: tx.delete_message("q", "warm", "r0", at(1)))
    with core_statements() as built:

        def hot_path(tx: Tx) -> bool:
            tx.get_queue("q")
            tx.send_messages([message("m", sent=2)])
            [received], _ = tx.receive_messages(q, "r1", at(3), at(40), 1)
            assert received.id == "m" and received.dequeue_count == 1
            assert tx.next_visible_at("q", at(3)) == at(40)
            assert tx.receive_messages(q, "r2", at(3), at(40), 1) == ([], 0)
            return tx.delete_message("q", "m", "r1", at(4))

        assert store.write_sync(hot_path)
    assert built == []


def test_changing_visibility_renews_the_receives_lease(store: Store, q: QueueRecord) -> None:
    send(store, message("m"))
    receive(store, "r1", now=1, visibility=10)
    changed = store.write_sync(lambda tx: tx.change_visibility("q", "m", "r1", at(5), at(100)))
    assert changed is not None and changed.lease_until == at(100)
    assert receive(store, "r2", now=50) == []
    assert store.write_sync(lambda tx: tx.change_visibility("q", "m", "r2", at(50), at(60))) is None
    back = store.write_sync(lambda tx: tx.change_visibility("q", "m", "r1", at(50), at(50)))
    assert back is not None, "visible at once"
    assert receive(store, "r3", now=51) == ["m"]
    assert store.write_sync(lambda tx: tx.change_visibility("q", "m", "r3", at(90), at(200))) is None, (
        "expired"
    )


def test_deleted_messages_the_sender_named_stay_as_tombstones(store: Store, q: QueueRecord) -> None:
    send(store, message("mine", keyed=True), message("anon"))
    receive(store, "r", now=1)
    for name in ("mine", "anon"):
        assert store.write_sync(lambda tx, name=name: tx.delete_message("q", name, "r", at(2)))
    tomb = store.read_sync(lambda tx: tx.get_message("q", "mine"))
    assert tomb is not None and (tomb.status, tomb.body, tomb.lease_owner) == ("Deleted", "", None)
    assert send(store, message("mine", keyed=True), message("anon")) == [False, True]
    assert receive(store, "r2", now=3) == ["anon"], "a tombstone is never received"
    assert store.read_sync(lambda tx: tx.queue_counts("q", at(3))) == QueueCounts(0, 1, 0)


def test_a_message_received_too_often_goes_to_the_dead_letter_queue(store: Store) -> None:
    store.write_sync(lambda tx: tx.put_queue(queue("dlq", message_retention_period=600.0)))
    store.write_sync(lambda tx: tx.put_queue(queue("q", max_receive_count=2, dead_letter_queue="dlq")))
    send(store, message("poison", sent=0, keyed=True), message("fine", sent=1))
    assert receive(store, "r1", now=1) == ["poison", "fine"]
    assert receive(store, "r2", now=40) == ["poison", "fine"]
    target = store.read_sync(lambda tx: tx.get_queue("q"))
    assert target is not None
    got, moved = store.write_sync(lambda tx: tx.receive_messages(target, "r3", at(80), at(110), 1))
    assert (got, moved) == ([], 2), "both were received twice already"
    dead = store.read_sync(lambda tx: tx.peek_messages("dlq", at(80), 10))
    assert sorted((m.id, m.dequeue_count, m.enqueued_at, m.expires_at) for m in dead) == [
        ("fine", 0, at(80), at(680)),
        ("poison", 0, at(80), at(680)),
    ]
    assert store.read_sync(lambda tx: tx.get_message("q", "fine")) is None
    assert send(store, message("poison", keyed=True)) == [False], "its id still means sent"


def test_without_a_dead_letter_queue_a_message_received_too_often_is_dropped(store: Store) -> None:
    store.write_sync(lambda tx: tx.put_queue(queue("q", max_receive_count=1)))
    send(store, message("m"))
    assert receive(store, "r1", now=1) == ["m"]
    assert receive(store, "r2", now=40) == []
    assert store.read_sync(lambda tx: tx.get_message("q", "m")) is None


def test_expired_messages_are_never_received_and_are_swept_in_chunks(store: Store, q: QueueRecord) -> None:
    send(store, *(message(f"m{i}", retention=100) for i in range(5)), message("kept", retention=1000))
    assert receive(store, "r", now=100) == ["kept"]
    assert store.read_sync(lambda tx: tx.peek_messages("q", at(100), 10)) == []
    assert store.write_sync(lambda tx: tx.purge_expired_messages(at(100), 3)) == 3
    assert store.write_sync(lambda tx: tx.purge_expired_messages(at(100), 3)) == 2
    assert store.write_sync(lambda tx: tx.purge_expired_messages(at(100), 3)) == 0
    assert store.read_sync(lambda tx: tx.get_message("q", "kept")) is not None


def test_the_status_column_takes_only_the_known_statuses(store: Store, q: QueueRecord) -> None:
    # Sending runs on the driver's cursor (store/prepared.py): its own error, not SQLAlchemy's.
    with pytest.raises((IntegrityError, sqlite3.IntegrityError, psycopg.IntegrityError), match="ck_queue"):
        send(store, replace(message("m"), status="Lost"))


def test_concurrent_receivers_never_get_the_same_invisible_message(
    store: Store, open_again: Callable[[], Store], q: QueueRecord
) -> None:
    """Four receivers on two stores (two processes' worth of connections) drain 80 messages."""
    send(store, *(message(f"m{i:02d}", sent=i) for i in range(80)))
    other = open_again()
    got: Counter[str] = Counter()
    lock = threading.Lock()

    def receiver(owner: str, on: Store) -> None:
        def take(tx: Tx) -> list[MessageRecord]:
            target = tx.get_queue("q")
            assert target is not None
            return tx.receive_messages(target, owner, at(100), at(200), 3)[0]

        while received := on.write_sync(take):
            with lock:
                got.update(m.id for m in received)

    threads = [threading.Thread(target=receiver, args=(f"r{i}", (store, other)[i % 2])) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 80 and set(got.values()) == {1}


def test_messages_are_leased_as_every_leased_kind(store: Store, q: QueueRecord) -> None:
    """The lease primitive's own rules hold for messages too (claim order, renew by holder only)."""
    send(store, message("a", sent=1), message("b", sent=2))
    rows = store.write_sync(lambda tx: tx.claim(MESSAGES, "me", at(5), at(10), 1))
    keys = [MESSAGES.key_of(row) for row in rows]
    assert keys == [("q", "a")]
    assert store.write_sync(lambda tx: tx.renew(MESSAGES, "you", keys, at(99))) == 0
    assert store.write_sync(lambda tx: tx.renew(MESSAGES, "me", keys, at(99), alive_at=at(11))) == 0
    assert store.write_sync(lambda tx: tx.renew(MESSAGES, "me", keys, at(99), alive_at=at(9))) == 1


def test_claiming_by_column_values_takes_what_claim_would_among_those_rows(
    store: Store, q: QueueRecord
) -> None:
    """``claim_matching`` (a receive's claim, compiled once) against the lease's own rules."""
    store.write_sync(lambda tx: tx.put_queue(queue("other")))
    send(store, message("a", sent=1, priority=9), message("b", sent=2, priority=1), message("c", sent=3))
    send(store, message("x", q="other"), message("d", sent=4, delay=50))

    def claim(owner: str, now: float, limit: int) -> list[dict[str, object]]:
        rows = store.write_sync(
            lambda tx: tx.claim_matching(MESSAGES, owner, at(now), at(now + 10), limit, {"queue": "q"})
        )
        return [dict(zip(COLUMNS, row, strict=True)) for row in rows]

    first = claim("me", 5, 2)
    assert [(m["queue"], m["id"]) for m in first] == [("q", "b"), ("q", "c")], "by priority, then age"
    assert [(m["lease_owner"], m["lease_until"], m["dequeue_count"]) for m in first] == [
        ("me", at(15).timestamp(), 1)
    ] * 2
    assert first[0]["first_dequeued_at"] == at(5).timestamp()
    assert [m["id"] for m in claim("you", 6, 10)] == ["a"], "leased, delayed and other queues' rows pass"
    assert claim("you", 7, 10) == []
    again = claim("you", 17, 10)  # every lease ran out
    assert [(m["id"], m["dequeue_count"], m["first_dequeued_at"]) for m in again] == [
        ("b", 2, at(5).timestamp()),
        ("c", 2, at(5).timestamp()),
        ("a", 2, at(6).timestamp()),
    ]
