"""MNS's topic and subscription actions over ``fnflow.services.topics``. Creating, changing and
deleting topics and subscriptions needs ``admin``; publishing and reads ``invoke``.

A subscription made here without ``NotifyContentFormat`` gets MNS's default, ``XML`` (fnflow's own
API defaults to JSON). Mail and SMS pushes (``DirectMail``, ``DirectSMS``) are refused.
"""

from __future__ import annotations

from xml.etree.ElementTree import Element

from fnflow.compat.alibaba.mns import documents, shapes
from fnflow.compat.alibaba.mns.calls import Actions, Call, Listing, Reply, integer, logging_disabled, page
from fnflow.errors import InvalidArgument
from fnflow.queues.attributes import MAXIMUM_MESSAGE_SIZE, TopicAttributes
from fnflow.queues.notify import NotifyFormat, NotifyStrategy

_UNSUPPORTED_ATTRIBUTES = ("DirectMail", "DirectSMS")

ACTIONS = Actions()


def _maximum_message_size(body: bytes) -> int | None:
    """The ``MaximumMessageSize`` a ``<Topic>`` document gives (no body: none)."""
    if not body.strip():
        return None
    values = documents.fields(documents.parse(body, "Topic"), ("MaximumMessageSize", "LoggingEnabled"))
    logging_disabled(values)
    low, high = MAXIMUM_MESSAGE_SIZE
    return integer("MaximumMessageSize", values.get("MaximumMessageSize"), low, high)


def _message_attributes(element: Element) -> dict[str, str]:
    for name in _UNSUPPORTED_ATTRIBUTES:
        if documents.children(element, name) is not None:
            raise InvalidArgument(f"{name} is not supported by fnflow: it pushes to no mail or phone")
    return documents.fields(element, [child.tag for child in element])


def _subscription(call: Call) -> dict[str, str]:
    known = ("Endpoint", "FilterTag", "NotifyStrategy", "NotifyContentFormat")
    return documents.fields(documents.parse(call.body, "Subscription"), known)


# --- topics ---------------------------------------------------------------------------------------


@ACTIONS.register("CreateTopic", "admin")
async def create_topic(call: Call) -> Reply:
    """201 when created; 204 when it exists with the same attributes (TopicAlreadyExist if not)."""
    [name] = call.names
    size = _maximum_message_size(call.body)
    attributes = TopicAttributes() if size is None else TopicAttributes(size)
    _, created = await call.app.topics.create(name, attributes, replace=False)
    return Reply(201 if created else 204, location=shapes.topic_url(call.base, name))


@ACTIONS.register("SetTopicAttributes", "admin")
async def set_topic_attributes(call: Call) -> Reply:
    [name] = call.names
    size = _maximum_message_size(call.body)
    await call.app.topics.update(name, lambda current: current if size is None else TopicAttributes(size))
    return Reply(204)


@ACTIONS.register("GetTopicAttributes", "invoke")
async def get_topic_attributes(call: Call) -> Reply:
    [name] = call.names
    record, count = await call.app.topics.info(name)
    return Reply(200, documents.document("Topic", shapes.topic(record, count)))


@ACTIONS.register("DeleteTopic", "admin")
async def delete_topic(call: Call) -> Reply:
    [name] = call.names
    await call.app.topics.delete(name)
    return Reply(204)


@ACTIONS.register("ListTopic", "invoke")
async def list_topic(call: Call) -> Reply:
    listing = Listing.of(call)
    listed = await call.app.topics.list_topics(listing.prefix, listing.limit, listing.marker)
    items = [
        {"TopicURL": shapes.topic_url(call.base, t.name), **(shapes.topic(t) if listing.with_meta else {})}
        for t in listed.items
    ]
    return page("Topics", "Topic", items, listed.next_token)


@ACTIONS.register("PublishMessage", "invoke")
async def publish_message(call: Call) -> Reply:
    """``MessageAttributes`` holding other elements than mail and SMS pushes pass them on as the
    message's attributes (fnflow's JSON and XML notifications carry them)."""
    [name] = call.names
    root = documents.parse(call.body, "Message")
    values = documents.fields(root, ("MessageBody", "MessageTag"), nested=("MessageAttributes",))
    if not values.get("MessageBody"):
        raise documents.invalid("MessageBody", "a message must have a body")
    held = documents.children(root, "MessageAttributes")
    attributes = {} if held is None else _message_attributes(held)
    message = await call.app.topics.publish(
        name, values["MessageBody"], tag=values.get("MessageTag") or None, attributes=attributes
    )
    return Reply(201, documents.document("Message", shapes.sent(message)))


# --- subscriptions --------------------------------------------------------------------------------


@ACTIONS.register("Subscribe", "admin")
async def subscribe(call: Call) -> Reply:
    """201 when created; 204 when it exists the same (SubscriptionAlreadyExist if not)."""
    topic, name = call.names
    values = _subscription(call)
    if not values.get("Endpoint"):
        raise documents.invalid("Endpoint", "a subscription must have an endpoint")
    _, created = await call.app.topics.subscribe(
        topic,
        name,
        values["Endpoint"],
        filter_tag=values.get("FilterTag") or None,
        notify_strategy=values.get("NotifyStrategy") or NotifyStrategy.BACKOFF_RETRY,
        notify_content_format=values.get("NotifyContentFormat") or NotifyFormat.XML,
        replace=False,
    )
    return Reply(201 if created else 204, location=shapes.subscription_url(call.base, topic, name))


@ACTIONS.register("SetSubscriptionAttributes", "admin")
async def set_subscription_attributes(call: Call) -> Reply:
    """Only ``NotifyStrategy`` may change, as in MNS."""
    topic, name = call.names
    values = _subscription(call)
    for fixed in ("Endpoint", "FilterTag", "NotifyContentFormat"):
        if fixed in values:
            raise InvalidArgument(f"{fixed} of a subscription cannot change: unsubscribe and subscribe again")
    if values.get("NotifyStrategy"):
        await call.app.topics.set_notify_strategy(topic, name, values["NotifyStrategy"])
    else:
        await call.app.topics.get_subscription(topic, name)
    return Reply(204)


@ACTIONS.register("GetSubscriptionAttributes", "invoke")
async def get_subscription_attributes(call: Call) -> Reply:
    topic, name = call.names
    record = await call.app.topics.get_subscription(topic, name)
    return Reply(200, documents.document("Subscription", shapes.subscription(record)))


@ACTIONS.register("Unsubscribe", "admin")
async def unsubscribe(call: Call) -> Reply:
    topic, name = call.names
    await call.app.topics.unsubscribe(topic, name)
    return Reply(204)


@ACTIONS.register("ListSubscriptionByTopic", "invoke")
async def list_subscription_by_topic(call: Call) -> Reply:
    [topic] = call.names
    listing = Listing.of(call)
    listed = await call.app.topics.list_subscriptions(topic, listing.limit, listing.marker, listing.prefix)
    items = [{"SubscriptionURL": shapes.subscription_url(call.base, topic, s.name)} for s in listed.items]
    return page("Subscriptions", "Subscription", items, listed.next_token)
