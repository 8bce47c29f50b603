"""Built-in topics: attributes, subscriptions, and published message ids (their idempotency window)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy.exc import IntegrityError

from fnflow.store import Store, SubscriptionRecord, TopicMessageRecord, TopicRecord, Tx
from tests.contract.compiled import core_statements
from tests.contract.factories import at


def subscription(name: str, *, topic: str = "t", tag: str | None = None) -> SubscriptionRecord:
    return SubscriptionRecord(
        topic=topic,
        name=name,
        endpoint="http://127.0.0.1:1/hook",
        notify_strategy="BACKOFF_RETRY",
        notify_content_format="JSON",
        created_at=at(0),
        updated_at=at(0),
        filter_tag=tag,
    )


def published(message_id: str, *, topic: str = "t", when: float = 0) -> TopicMessageRecord:
    return TopicMessageRecord(topic, message_id, "MD5", at(when), at(when + 100), tag="x")


@pytest.fixture
def topic(store: Store) -> TopicRecord:
    return store.write_sync(lambda tx: tx.put_topic(TopicRecord("t", 65536, at(0), at(0))))


def test_topics_are_created_changed_listed_and_deleted(store: Store, topic: TopicRecord) -> None:
    changed = store.write_sync(lambda tx: tx.put_topic(TopicRecord("t", 2048, at(5), at(5))))
    assert changed == TopicRecord("t", 2048, at(0), at(5))
    for name in ("a", "b"):
        store.write_sync(lambda tx, name=name: tx.put_topic(TopicRecord(name, 1024, at(0), at(0))))
    page = store.read_sync(lambda tx: tx.list_topics("", 2))
    assert [t.name for t in page.items] == ["a", "b"] and page.next_token
    assert [t.name for t in store.read_sync(lambda tx: tx.list_topics("", 2, page.next_token)).items] == ["t"]
    assert [t.name for t in store.read_sync(lambda tx: tx.list_topics("b", 10)).items] == ["b"]
    store.write_sync(lambda tx: tx.put_subscription(subscription("s")))
    store.write_sync(lambda tx: tx.add_topic_message(published("m")))
    assert store.write_sync(lambda tx: tx.delete_topic("t")) is True
    assert store.write_sync(lambda tx: tx.delete_topic("t")) is False
    assert store.read_sync(lambda tx: (tx.get_topic("t"), tx.subscriptions_of("t"))) == (None, [])


def test_subscriptions_are_created_changed_listed_and_deleted(store: Store, topic: TopicRecord) -> None:
    for name in ("b", "a", "c"):
        store.write_sync(lambda tx, name=name: tx.put_subscription(subscription(name)))
    changed = store.write_sync(
        lambda tx: tx.put_subscription(
            replace(subscription("a", tag="vip"), created_at=at(9), updated_at=at(9))
        )
    )
    assert (changed.filter_tag, changed.created_at, changed.updated_at) == ("vip", at(0), at(9))
    assert store.read_sync(lambda tx: tx.get_subscription("t", "a")) == changed
    page = store.read_sync(lambda tx: tx.list_subscriptions("t", 2))
    assert [s.name for s in page.items] == ["a", "b"] and page.next_token
    rest = store.read_sync(lambda tx: tx.list_subscriptions("t", 2, page.next_token))
    assert [s.name for s in rest.items] == ["c"] and rest.next_token is None
    store.write_sync(lambda tx: tx.put_subscription(subscription("a_b")))
    by_prefix = store.read_sync(lambda tx: tx.list_subscriptions("t", 10, prefix="a_"))
    assert [s.name for s in by_prefix.items] == ["a_b"], "_ is no wildcard"
    store.write_sync(lambda tx: tx.delete_subscription("t", "a_b"))
    assert [s.name for s in store.read_sync(lambda tx: tx.subscriptions_of("t"))] == ["a", "b", "c"]
    assert store.read_sync(lambda tx: tx.count_subscriptions("t")) == 3
    assert store.write_sync(lambda tx: tx.delete_subscription("t", "b")) is True
    assert store.write_sync(lambda tx: tx.delete_subscription("t", "b")) is False
    assert store.read_sync(lambda tx: tx.get_subscription("t", "b")) is None


def test_a_published_message_id_is_an_idempotency_key_per_topic(store: Store, topic: TopicRecord) -> None:
    first = store.write_sync(lambda tx: tx.add_topic_message(published("m")))
    assert first == (published("m"), True)
    again = store.write_sync(lambda tx: tx.add_topic_message(published("m", when=5)))
    assert again == (published("m"), False), "the first one stays"
    assert store.write_sync(lambda tx: tx.add_topic_message(published("m", topic="u")))[1] is True


def test_a_publish_compiles_no_statement_each_time(store: Store, topic: TopicRecord) -> None:
    """What a publish reads and writes of its topic runs on statements compiled once."""
    store.write_sync(lambda tx: tx.put_subscription(subscription("s")))
    store.write_sync(lambda tx: tx.add_topic_message(published("warm")))  # compiles them
    with core_statements() as built:

        def publish(tx: Tx) -> object:
            return tx.get_topic("t"), tx.add_topic_message(published("m")), tx.subscriptions_of("t")

        found, added, subscribed = store.write_sync(publish)
    assert built == []
    assert (found, added, subscribed) == (topic, (published("m"), True), [subscription("s")])


def test_published_ids_are_forgotten_after_their_window(store: Store, topic: TopicRecord) -> None:
    for i in range(3):
        store.write_sync(lambda tx, i=i: tx.add_topic_message(published(f"m{i}", when=i)))
    assert store.read_sync(lambda tx: tx.count_topic_messages("t", at(100.5))) == 2, "m0 expired at 100"
    assert store.read_sync(lambda tx: tx.count_topic_messages("u", at(0))) == 0
    assert store.write_sync(lambda tx: tx.purge_expired_topic_messages(at(101), 1)) == 1
    assert store.write_sync(lambda tx: tx.purge_expired_topic_messages(at(101), 10)) == 1
    assert store.write_sync(lambda tx: tx.purge_expired_topic_messages(at(101), 10)) == 0
    assert store.write_sync(lambda tx: tx.add_topic_message(published("m0", when=200)))[1] is True


def test_subscription_settings_take_only_known_values(store: Store, topic: TopicRecord) -> None:
    for bad in ({"notify_strategy": "ONCE"}, {"notify_content_format": "YAML"}):
        with pytest.raises(IntegrityError):
            store.write_sync(lambda tx, bad=bad: tx.put_subscription(replace(subscription("s"), **bad)))
