"""Built-in topics: publish a message once, and it is pushed to every subscription.

A publish and its fan-out are one transaction: the message is recorded together with, for each
subscription whose filter tag it matches, a delivery (an HTTP endpoint: posted, signed, retried
with back-off as callbacks are), an asynchronous call (a function) or a message (a queue). So
every subscription gets it at least once, or the publish fails and nobody does. A publisher's
own message id is an idempotency key for a day: publishing it again returns the message already
published and pushes nothing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from fnflow.asyncq.deliver import async_call
from fnflow.asyncq.targets import TargetPolicy, check_target
from fnflow.clock import uuid7
from fnflow.errors import (
    Conflict,
    InvalidArgument,
    NotFound,
    PayloadTooLarge,
    QueueNotFound,
    SubscriptionAlreadyExists,
    SubscriptionNotFound,
    TopicAlreadyExists,
    TopicNotFound,
)
from fnflow.leasing import LeaseKeeper
from fnflow.names import check_name
from fnflow.queues.arrivals import Arrivals
from fnflow.queues.attributes import (
    MAX_SUBSCRIPTIONS,
    TOPIC_MESSAGE_RETENTION,
    TopicAttributes,
    check_attributes,
    check_body,
    check_message_id,
    check_tag,
)
from fnflow.queues.endpoints import FunctionEndpoint, HttpEndpoint, QueueEndpoint, parse_endpoint
from fnflow.queues.notify import (
    ATTEMPTS,
    Notification,
    NotifyFormat,
    NotifyStrategy,
    body_md5,
    headers,
    render,
)
from fnflow.services.queues import OutgoingMessage, new_message
from fnflow.store import (
    CallRecord,
    DeliveryRecord,
    Page,
    Store,
    SubscriptionRecord,
    TopicMessageRecord,
    TopicRecord,
    Tx,
)
from fnflow.store.queries.deliveries import NOTIFY

E = TypeVar("E", NotifyFormat, NotifyStrategy)
log = logging.getLogger(__name__)


@dataclass
class FanOut:
    """What one publish stored, for the steps after its commit."""

    message: TopicMessageRecord
    deliveries: list[DeliveryRecord] = field(default_factory=list)  # pushes to HTTP endpoints
    calls: list[CallRecord] = field(default_factory=list)  # calls of subscribed functions
    queues: set[str] = field(default_factory=set)  # queues that got a message
    failed: list[str] = field(default_factory=list)  # why pushes failed at once (endpoint gone)


def _existing(tx: Tx, name: str) -> TopicRecord:
    topic = tx.get_topic(name)
    if topic is None:
        raise TopicNotFound(f"topic {name!r} does not exist")
    return topic


class TopicService:
    def __init__(
        self,
        store: Store,
        arrivals: Arrivals,
        keeper: LeaseKeeper,
        *,
        targets: TargetPolicy,
        on_deliveries: Callable[[list[DeliveryRecord]], None] = lambda deliveries: None,
        on_calls: Callable[[list[CallRecord]], None] = lambda calls: None,
        local: Callable[[str], str | None] = lambda url: None,
    ) -> None:
        """``on_deliveries`` and ``on_calls`` take the pushes and calls a publish stored, leased to
        this process (``keeper``'s owner), once committed. ``local`` is the URL on this server of
        an endpoint URL that stands for it (an HTTP trigger's on Function Compute), else None."""
        self.local = local
        self.store = store
        self.arrivals = arrivals
        self.keeper = keeper
        self.targets = targets
        self.on_deliveries = on_deliveries
        self.on_calls = on_calls

    # --- topics -----------------------------------------------------------------------------------

    async def create(
        self, name: str, attributes: TopicAttributes | None = None, *, replace: bool = True
    ) -> tuple[TopicRecord, bool]:
        """Create a topic, or (``replace``) set the attributes of the one that exists; (topic, created).
        Without ``replace`` one that exists with other attributes is TopicAlreadyExists."""
        check_name("topic", name)
        attributes = attributes or TopicAttributes()
        attributes.check()
        now = datetime.now(UTC)

        def put(tx: Tx) -> tuple[TopicRecord, bool]:
            current = tx.get_topic(name)
            if current is not None and not replace:
                if current.maximum_message_size != attributes.maximum_message_size:
                    raise TopicAlreadyExists(f"topic {name!r} already exists with other attributes")
                return current, False
            created = current.created_at if current else now
            record = TopicRecord(name, attributes.maximum_message_size, created, now)
            return tx.put_topic(record), current is None

        return await self.store.write(put)

    async def get(self, name: str) -> TopicRecord:
        return await self.store.read(lambda tx: _existing(tx, name))

    async def info(self, name: str) -> tuple[TopicRecord, int]:
        """A topic and how many messages were published to it within its retention period."""

        def read(tx: Tx) -> tuple[TopicRecord, int]:
            return _existing(tx, name), tx.count_topic_messages(name, datetime.now(UTC))

        return await self.store.read(read)

    async def update(self, name: str, change: Callable[[TopicAttributes], TopicAttributes]) -> TopicRecord:
        """Change the attributes of a topic (MNS's SetTopicAttributes): ``change`` makes the new
        attributes from the current ones, in the same transaction. TopicNotFound if there is none."""
        now = datetime.now(UTC)

        def put(tx: Tx) -> TopicRecord:
            current = _existing(tx, name)
            attributes = change(TopicAttributes(current.maximum_message_size))
            attributes.check()
            return tx.put_topic(TopicRecord(name, attributes.maximum_message_size, current.created_at, now))

        return await self.store.write(put)

    async def exists(self, name: str) -> bool:
        return await self.store.read(lambda tx: tx.get_topic(name)) is not None

    async def list_topics(self, prefix: str = "", limit: int = 100, token: str | None = None) -> Page:
        return await self.store.read(lambda tx: tx.list_topics(prefix, limit, token))

    async def delete(self, name: str) -> None:
        """Delete a topic and its subscriptions (pushes already stored still go out)."""
        if not await self.store.write(lambda tx: tx.delete_topic(name)):
            raise TopicNotFound(f"topic {name!r} does not exist")

    # --- subscriptions ----------------------------------------------------------------------------

    async def subscribe(
        self,
        topic: str,
        name: str,
        endpoint: str,
        *,
        filter_tag: str | None = None,
        notify_strategy: str = NotifyStrategy.BACKOFF_RETRY,
        notify_content_format: str = NotifyFormat.JSON,
        replace: bool = True,
    ) -> tuple[SubscriptionRecord, bool]:
        """Subscribe ``endpoint`` (a URL, a function ARN or a queue ARN: see ``fnflow.queues.endpoints``)
        to ``topic`` as ``name``; (subscription, created). A URL is checked as callback URLs are; a
        function or queue must exist. Without ``replace``, one that exists differently is
        SubscriptionAlreadyExists."""
        check_name("subscription", name)
        check_tag("filterTag", filter_tag)
        strategy = _choice("notifyStrategy", notify_strategy, NotifyStrategy)
        format = _choice("notifyContentFormat", notify_content_format, NotifyFormat)
        target = parse_endpoint(endpoint)
        if isinstance(target, HttpEndpoint) and self.local(target.url) is None:
            await self.get(topic)  # an unknown topic is said first, before the host is resolved
            await check_target(target.url, self.targets)
        now = datetime.now(UTC)

        def put(tx: Tx) -> tuple[SubscriptionRecord, bool]:
            _existing(tx, topic)
            if (
                isinstance(target, FunctionEndpoint)
                and tx.get_function(target.service, target.function) is None
            ):
                raise NotFound(f"function {target.service}/{target.function} does not exist")
            if isinstance(target, QueueEndpoint) and tx.get_queue(target.queue) is None:
                raise QueueNotFound(f"queue {target.queue!r} does not exist")
            current = tx.get_subscription(topic, name)
            record = SubscriptionRecord(
                topic=topic,
                name=name,
                endpoint=endpoint,
                notify_strategy=strategy.value,
                notify_content_format=format.value,
                created_at=current.created_at if current else now,
                updated_at=now,
                filter_tag=filter_tag,
            )
            if current is not None and not replace:
                if _settings(current) != _settings(record):
                    raise SubscriptionAlreadyExists(
                        f"subscription {name!r} of topic {topic!r} already exists differently"
                    )
                return current, False
            if current is None and tx.count_subscriptions(topic) >= MAX_SUBSCRIPTIONS:
                raise Conflict(f"topic {topic!r} has {MAX_SUBSCRIPTIONS} subscriptions, the most it may have")
            return tx.put_subscription(record), current is None

        return await self.store.write(put)

    async def get_subscription(self, topic: str, name: str) -> SubscriptionRecord:
        def read(tx: Tx) -> SubscriptionRecord:
            _existing(tx, topic)
            found = tx.get_subscription(topic, name)
            if found is None:
                raise SubscriptionNotFound(f"subscription {name!r} of topic {topic!r} does not exist")
            return found

        return await self.store.read(read)

    async def list_subscriptions(
        self, topic: str, limit: int = 100, token: str | None = None, prefix: str = ""
    ) -> Page:
        def read(tx: Tx) -> Page:
            _existing(tx, topic)
            return tx.list_subscriptions(topic, limit, token, prefix)

        return await self.store.read(read)

    async def set_notify_strategy(self, topic: str, name: str, notify_strategy: str) -> SubscriptionRecord:
        """Change how a subscription's HTTP pushes are retried (MNS's SetSubscriptionAttributes)."""
        strategy = _choice("notifyStrategy", notify_strategy, NotifyStrategy)
        now = datetime.now(UTC)

        def put(tx: Tx) -> SubscriptionRecord:
            _existing(tx, topic)
            current = tx.get_subscription(topic, name)
            if current is None:
                raise SubscriptionNotFound(f"subscription {name!r} of topic {topic!r} does not exist")
            return tx.put_subscription(replace(current, notify_strategy=strategy.value, updated_at=now))

        return await self.store.write(put)

    async def unsubscribe(self, topic: str, name: str) -> None:
        """Delete a subscription (pushes already stored still go out)."""

        def delete(tx: Tx) -> bool:
            _existing(tx, topic)
            return tx.delete_subscription(topic, name)

        if not await self.store.write(delete):
            raise SubscriptionNotFound(f"subscription {name!r} of topic {topic!r} does not exist")

    # --- publishing -------------------------------------------------------------------------------

    async def publish(
        self,
        topic: str,
        body: str,
        *,
        tag: str | None = None,
        attributes: Mapping[str, str] | None = None,
        message_id: str | None = None,
    ) -> TopicMessageRecord:
        """Publish a message (it and its pushes are committed when this returns); the message as
        recorded (id, MD5). Subscriptions with a filter tag get only messages with that ``tag``.
        ``attributes`` travel in the JSON and XML notifications as ``MessageAttributes``."""
        check_tag("tag", tag)
        if message_id is not None:
            check_message_id(message_id)
        extra = {str(k): str(v) for k, v in (attributes or {}).items()}
        check_attributes(extra)
        now = datetime.now(UTC)
        owner, until = self.keeper.owner, self.keeper.until()

        def publish(tx: Tx) -> FanOut:
            target = _existing(tx, topic)
            check_body(body, target.maximum_message_size, f"topic {topic!r}")
            record = TopicMessageRecord(
                topic=topic,
                id=message_id or uuid7().hex.upper(),
                body_md5=body_md5(body),
                published_at=now,
                expires_at=now + timedelta(seconds=TOPIC_MESSAGE_RETENTION),
                tag=tag,
            )
            stored, new = tx.add_topic_message(record)
            fan_out = FanOut(stored)
            if new:
                for subscription in tx.subscriptions_of(topic):
                    if subscription.filter_tag is None or subscription.filter_tag == tag:
                        _push(tx, fan_out, subscription, body, extra, now, owner, until, self.local)
                _store(tx, fan_out)
            return fan_out

        fan_out = await self.store.write(publish)
        for failure in fan_out.failed:
            log.warning("message %s of topic %r not pushed to %s", fan_out.message.id, topic, failure)
        for queue in fan_out.queues:
            self.arrivals.wake(queue)
        if fan_out.calls:
            self.on_calls(fan_out.calls)
        if fan_out.deliveries:
            self.on_deliveries(fan_out.deliveries)
        return fan_out.message


def _push(
    tx: Tx,
    fan_out: FanOut,
    subscription: SubscriptionRecord,
    body: str,
    attributes: dict[str, str],
    now: datetime,
    owner: str,
    until: datetime,
    local: Callable[[str], str | None],
) -> None:
    """Add to ``fan_out`` what takes the message to ``subscription``: a delivery, a call or a queue
    message — or a delivery that failed at once, saying why (the endpoint is gone). A URL that
    stands for this server (``local``) is posted there."""
    message = fan_out.message
    notification = Notification(
        topic=message.topic,
        subscription=subscription.name,
        message_id=message.id,
        body=body,
        body_md5=message.body_md5,
        published_at=message.published_at,
        tag=message.tag,
        attributes=attributes,
    )
    text, content_type = render(notification, NotifyFormat(subscription.notify_content_format))
    sent = headers(notification, content_type)
    endpoint = parse_endpoint(subscription.endpoint)
    failure: str | None = None
    if isinstance(endpoint, HttpEndpoint):
        attempts = ATTEMPTS[NotifyStrategy(subscription.notify_strategy)]
        url = local(endpoint.url) or endpoint.url
        fan_out.deliveries.append(
            _delivery(message, url, sent, text, attempts, now, lease_owner=owner, lease_until=until)
        )
        return
    if isinstance(endpoint, FunctionEndpoint):
        call = async_call(tx, endpoint.service, endpoint.function, text.encode(), sent, now, (owner, until))
        if call is not None:
            fan_out.calls.append(call)
            return
        failure = f"function {endpoint.service}/{endpoint.function} does not exist"
    else:
        queue = tx.get_queue(endpoint.queue)
        if queue is not None:
            try:
                tx.send_messages([new_message(queue, OutgoingMessage(text), now)])
            except PayloadTooLarge as e:  # the notification is over the queue's limit
                failure = e.message
            else:
                Arrivals.announce(tx, queue.name)
                fan_out.queues.add(queue.name)
                return
        else:
            failure = f"queue {endpoint.queue!r} does not exist"
    failed = _delivery(message, subscription.endpoint, sent, text, 0, now, status="Failed")
    fan_out.deliveries.append(replace(failed, last_error=failure))
    fan_out.failed.append(f"subscription {subscription.name!r}: {failure}")


def _delivery(
    message: TopicMessageRecord,
    target: str,
    sent: list[tuple[str, str]],
    text: str,
    attempts: int,
    now: datetime,
    *,
    status: str = "Pending",
    lease_owner: str | None = None,
    lease_until: datetime | None = None,
) -> DeliveryRecord:
    return DeliveryRecord(
        call_id=message.id,
        kind=NOTIFY,
        target=target,
        headers=json.dumps(sent),
        body=text.encode(),
        status=status,
        max_attempts=attempts,
        run_at=now,
        created_at=now,
        lease_owner=lease_owner,
        lease_until=lease_until,
    )


def _store(tx: Tx, fan_out: FanOut) -> None:
    """Store the fan-out's deliveries and calls; keep in it the pending deliveries (with their ids)
    and the new calls, for this process to start."""
    if fan_out.deliveries:
        ids = tx.add_deliveries(fan_out.deliveries)
        fan_out.deliveries = [
            replace(d, id=i) for d, i in zip(fan_out.deliveries, ids, strict=True) if d.status == "Pending"
        ]
    if fan_out.calls:
        fan_out.calls = [call for call, new in tx.insert_calls(fan_out.calls) if new]


def _choice(field: str, value: str, kind: type[E]) -> E:
    try:
        return kind(value)
    except ValueError:
        raise InvalidArgument(f"{field} must be one of {', '.join(kind)}, not {value!r}") from None


def _settings(s: SubscriptionRecord) -> tuple[str, str | None, str, str]:
    return s.endpoint, s.filter_tag, s.notify_strategy, s.notify_content_format
