"""Built-in topics, their subscriptions, and the ids of the messages published to them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, delete, func, select, tuple_

from fnflow.store.prepared import Prepared
from fnflow.store.queries.base import Queries, dialect_insert, from_ts_req, to_ts
from fnflow.store.records import Page, SubscriptionRecord, TopicMessageRecord, TopicRecord
from fnflow.store.schema import subscriptions, topic_messages, topics

# A publish reads its topic and subscriptions and records the message: compiled once (through
# SQLAlchemy Core each statement cost 0.2-0.5 ms of the event loop's time).
_GET_TOPIC = Prepared(select(topics).where(topics.c.name == bindparam("name")))
_SUBSCRIPTIONS_OF = Prepared(
    select(subscriptions).where(subscriptions.c.topic == bindparam("topic")).order_by(subscriptions.c.name)
)
_ADD_MESSAGE = Prepared(
    lambda dialect: (
        dialect_insert(dialect, topic_messages)
        .values({c.name: bindparam(c.name) for c in topic_messages.c})
        .on_conflict_do_nothing()
    )
)


def _record(row: Sequence[Any], table: Table, times: tuple[str, ...]) -> dict[str, Any]:
    """A row of ``table`` (every column, in the table's order) as a record's fields."""
    m = dict(zip(table.c.keys(), row, strict=True))
    for name in times:
        m[name] = from_ts_req(m[name])
    return m


def _topic(row: Sequence[Any]) -> TopicRecord:
    return TopicRecord(**_record(row, topics, ("created_at", "updated_at")))


def _subscription(row: Sequence[Any]) -> SubscriptionRecord:
    return SubscriptionRecord(**_record(row, subscriptions, ("created_at", "updated_at")))


def _topic_message(row: Sequence[Any]) -> TopicMessageRecord:
    return TopicMessageRecord(**_record(row, topic_messages, ("published_at", "expires_at")))


def _values(record: Any, times: tuple[str, ...]) -> dict[str, Any]:
    values = dict(vars(record))
    for name in times:
        values[name] = to_ts(values[name])
    return values


class TopicQueries(Queries):
    # --- topics -----------------------------------------------------------------------------------

    def put_topic(self, record: TopicRecord) -> TopicRecord:
        """Create a topic, or set the attributes of one that exists (it keeps its creation time)."""
        self._upsert(topics, _values(record, ("created_at", "updated_at")), ("name",))
        stored = self.get_topic(record.name)
        assert stored is not None
        return stored

    def get_topic(self, name: str) -> TopicRecord | None:
        row = _GET_TOPIC.one(self.conn, {"name": name})
        return None if row is None else _topic(row)

    def list_topics(self, prefix: str = "", limit: int = 100, token: str | None = None) -> Page:
        """Topics by name (those whose name starts with ``prefix``)."""
        query = select(topics)
        if prefix:
            query = query.where(topics.c.name.startswith(prefix, autoescape=True))
        return self._page_by_name(query, topics.c.name, limit, token, _topic)

    def delete_topic(self, name: str) -> bool:
        """Delete a topic with its subscriptions (what it already pushed still goes out)."""
        self.conn.execute(delete(subscriptions).where(subscriptions.c.topic == name))
        self.conn.execute(delete(topic_messages).where(topic_messages.c.topic == name))
        return self.conn.execute(delete(topics).where(topics.c.name == name)).rowcount > 0

    # --- subscriptions ----------------------------------------------------------------------------

    def put_subscription(self, record: SubscriptionRecord) -> SubscriptionRecord:
        """Create a subscription, or change one that exists (it keeps its creation time)."""
        self._upsert(subscriptions, _values(record, ("created_at", "updated_at")), ("topic", "name"))
        stored = self.get_subscription(record.topic, record.name)
        assert stored is not None
        return stored

    def get_subscription(self, topic: str, name: str) -> SubscriptionRecord | None:
        t = subscriptions
        row = self.conn.execute(select(t).where(t.c.topic == topic, t.c.name == name)).first()
        return None if row is None else _subscription(row)

    def list_subscriptions(
        self, topic: str, limit: int = 100, token: str | None = None, prefix: str = ""
    ) -> Page:
        """A topic's subscriptions by name (those whose name starts with ``prefix``)."""
        query = select(subscriptions).where(subscriptions.c.topic == topic)
        if prefix:
            query = query.where(subscriptions.c.name.startswith(prefix, autoescape=True))
        return self._page_by_name(query, subscriptions.c.name, limit, token, _subscription)

    def subscriptions_of(self, topic: str) -> list[SubscriptionRecord]:
        """Every subscription of a topic, by name (a publish pushes to each)."""
        return [_subscription(r) for r in _SUBSCRIPTIONS_OF.all(self.conn, {"topic": topic})]

    def count_subscriptions(self, topic: str) -> int:
        query = select(func.count()).where(subscriptions.c.topic == topic)
        return int(self.conn.execute(query).scalar_one())

    def delete_subscription(self, topic: str, name: str) -> bool:
        t = subscriptions
        return self.conn.execute(delete(t).where(t.c.topic == topic, t.c.name == name)).rowcount > 0

    # --- published messages -----------------------------------------------------------------------

    def add_topic_message(self, record: TopicMessageRecord) -> tuple[TopicMessageRecord, bool]:
        """Record a published message; (the message as stored, whether it is new). A message id is an
        idempotency key per topic: the same topic and id again is the message already published."""
        if _ADD_MESSAGE.run(self.conn, _values(record, ("published_at", "expires_at"))):
            return record, True
        t = topic_messages
        row = self.conn.execute(select(t).where(t.c.topic == record.topic, t.c.id == record.id)).one()
        return _topic_message(row), False

    def count_topic_messages(self, topic: str, now: datetime) -> int:
        """How many messages were published to a topic within its retention period (MNS's
        MessageCount): those whose ids it still remembers."""
        t = topic_messages
        query = select(func.count()).where(t.c.topic == topic, t.c.expires_at > to_ts(now))
        return int(self.conn.execute(query).scalar_one())

    def purge_expired_topic_messages(self, now: datetime, limit: int) -> int:
        """Forget up to ``limit`` published message ids whose idempotency window is over."""
        t = topic_messages
        query = select(t.c.topic, t.c.id).where(t.c.expires_at <= to_ts(now)).limit(limit)
        keys = [(r.topic, r.id) for r in self.conn.execute(self._skip_locked(query))]
        if not keys:
            return 0
        return int(self.conn.execute(delete(t).where(tuple_(t.c.topic, t.c.id).in_(keys))).rowcount)
