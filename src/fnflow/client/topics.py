"""The client's built-in topics: create them, subscribe endpoints, functions and queues, publish."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fnflow.client.http import Transport, api_path, items
from fnflow.client.models import Page, _time


@dataclass(frozen=True)
class Topic:
    name: str
    maximum_message_size: int
    created_time: datetime | None
    last_modified_time: datetime | None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Topic:
        return cls(
            name=d["name"],
            maximum_message_size=d["maximumMessageSize"],
            created_time=_time(d.get("createdTime")),
            last_modified_time=_time(d.get("lastModifiedTime")),
            raw=d,
        )


@dataclass(frozen=True)
class Subscription:
    topic: str
    name: str
    endpoint: str
    filter_tag: str | None
    notify_strategy: str
    notify_content_format: str
    created_time: datetime | None
    last_modified_time: datetime | None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Subscription:
        return cls(
            topic=d["topicName"],
            name=d["subscriptionName"],
            endpoint=d["endpoint"],
            filter_tag=d.get("filterTag"),
            notify_strategy=d["notifyStrategy"],
            notify_content_format=d["notifyContentFormat"],
            created_time=_time(d.get("createdTime")),
            last_modified_time=_time(d.get("lastModifiedTime")),
            raw=d,
        )


@dataclass(frozen=True)
class PublishedMessage:
    message_id: str
    body_md5: str
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


class TopicMethods(Transport):
    """``/api/v1/topics``."""

    def put_topic(self, name: str, *, maximum_message_size: int = 65_536) -> Topic:
        """Create a topic, or set its attributes."""
        body = {"maximumMessageSize": maximum_message_size}
        return Topic.from_json(self._json("PUT", api_path("topics", name), json=body))

    def get_topic(self, name: str) -> Topic:
        return Topic.from_json(self._json("GET", api_path("topics", name)))

    def list_topics(self, prefix: str = "", limit: int = 100, next_token: str | None = None) -> Page[Topic]:
        params = {"prefix": prefix or None, "limit": limit, "nextToken": next_token}
        return Page.from_json(self._json("GET", api_path("topics"), params=params), "topics", Topic.from_json)

    def iter_topics(self, prefix: str = "", page_size: int = 100) -> Iterator[Topic]:
        return items(lambda token: self.list_topics(prefix, page_size, token))

    def delete_topic(self, name: str) -> None:
        """Delete a topic and its subscriptions."""
        self._call("DELETE", api_path("topics", name))

    def publish(
        self,
        topic: str,
        body: str,
        *,
        tag: str | None = None,
        attributes: Mapping[str, str] | None = None,
        message_id: str | None = None,
    ) -> PublishedMessage:
        """Publish a message; it is pushed to every subscription (with a filter tag: only if ``tag``
        is that tag). ``message_id`` is your own id: publishing it again within a day pushes nothing."""
        payload: dict[str, Any] = {"body": body, "tag": tag, "attributes": dict(attributes or {})}
        if message_id is not None:
            payload["messageId"] = message_id
        d = self._json("POST", api_path("topics", topic, "messages"), json=payload)
        return PublishedMessage(d["messageId"], d["bodyMD5"], d)

    def subscribe(
        self,
        topic: str,
        name: str,
        endpoint: str,
        *,
        filter_tag: str | None = None,
        notify_strategy: str = "BACKOFF_RETRY",
        notify_content_format: str = "JSON",
    ) -> Subscription:
        """Create or change a subscription. ``endpoint``: ``http(s)://…`` (a POST per message, signed
        like callbacks), ``acs:fc:{region}:{account}:services/{service}/functions/{function}`` (an
        asynchronous call) or ``acs:mns:{region}:{account}:queues/{queue}`` (a message)."""
        body = {
            "endpoint": endpoint,
            "filterTag": filter_tag,
            "notifyStrategy": notify_strategy,
            "notifyContentFormat": notify_content_format,
        }
        path = api_path("topics", topic, "subscriptions", name)
        return Subscription.from_json(self._json("PUT", path, json=body))

    def get_subscription(self, topic: str, name: str) -> Subscription:
        return Subscription.from_json(self._json("GET", api_path("topics", topic, "subscriptions", name)))

    def list_subscriptions(
        self, topic: str, limit: int = 100, next_token: str | None = None
    ) -> Page[Subscription]:
        params = {"limit": limit, "nextToken": next_token}
        response = self._json("GET", api_path("topics", topic, "subscriptions"), params=params)
        return Page.from_json(response, "subscriptions", Subscription.from_json)

    def unsubscribe(self, topic: str, name: str) -> None:
        self._call("DELETE", api_path("topics", topic, "subscriptions", name))
