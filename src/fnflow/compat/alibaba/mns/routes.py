"""Which MNS action a request is: its method, the shape of its path, and a few query parameters
(read by lower-case name: the SDKs write ``ReceiptHandle``, MNS's documents ``receiptHandle``).
``TABLE`` lists the routes, and ``/openapi.json`` serves it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from fnflow.compat.alibaba.mns.errors import MnsError

Query = Mapping[str, str]
_Choose = Callable[[Query], str]


def _flag(query: Query, name: str) -> bool:
    return query.get(name, "").lower() == "true"


def _meta(create: str, set_attributes: str) -> _Choose:
    return lambda query: set_attributes if _flag(query, "metaoverride") else create


def _messages_get(query: Query) -> str:
    batch = "Batch" if "numofmessages" in query else ""
    return f"{batch}PeekMessage" if _flag(query, "peekonly") else f"{batch}ReceiveMessage"


#: (shape of the path, method) → the action, chosen by the query.
_ROUTES: dict[tuple[str, str], _Choose] = {
    ("queues", "GET"): lambda _: "ListQueue",
    ("queues/*", "PUT"): _meta("CreateQueue", "SetQueueAttributes"),
    ("queues/*", "GET"): lambda _: "GetQueueAttributes",
    ("queues/*", "DELETE"): lambda _: "DeleteQueue",
    ("queues/*/messages", "POST"): lambda _: "SendMessage",
    ("queues/*/messages", "GET"): _messages_get,
    ("queues/*/messages", "DELETE"): lambda q: (
        "DeleteMessage" if "receipthandle" in q else "BatchDeleteMessage"
    ),
    ("queues/*/messages", "PUT"): lambda _: "ChangeMessageVisibility",
    ("topics", "GET"): lambda _: "ListTopic",
    ("topics/*", "PUT"): _meta("CreateTopic", "SetTopicAttributes"),
    ("topics/*", "GET"): lambda _: "GetTopicAttributes",
    ("topics/*", "DELETE"): lambda _: "DeleteTopic",
    ("topics/*/messages", "POST"): lambda _: "PublishMessage",
    ("topics/*/subscriptions", "GET"): lambda _: "ListSubscriptionByTopic",
    ("topics/*/subscriptions/*", "PUT"): _meta("Subscribe", "SetSubscriptionAttributes"),
    ("topics/*/subscriptions/*", "GET"): lambda _: "GetSubscriptionAttributes",
    ("topics/*/subscriptions/*", "DELETE"): lambda _: "Unsubscribe",
}
#: (method, path, the actions it serves), as MNS's documents name them.
TABLE: tuple[tuple[str, str, str], ...] = (
    ("GET", "/queues", "ListQueue"),
    ("PUT", "/queues/{queue}", "CreateQueue; SetQueueAttributes with ?metaoverride=true"),
    ("GET", "/queues/{queue}", "GetQueueAttributes"),
    ("DELETE", "/queues/{queue}", "DeleteQueue"),
    ("POST", "/queues/{queue}/messages", "SendMessage, BatchSendMessage (the body tells)"),
    (
        "GET",
        "/queues/{queue}/messages",
        "ReceiveMessage; Batch… with ?numOfMessages; Peek… with ?peekonly=true",
    ),
    ("DELETE", "/queues/{queue}/messages", "DeleteMessage with ?ReceiptHandle; else BatchDeleteMessage"),
    ("PUT", "/queues/{queue}/messages", "ChangeMessageVisibility (?ReceiptHandle&VisibilityTimeout)"),
    ("GET", "/topics", "ListTopic"),
    ("PUT", "/topics/{topic}", "CreateTopic; SetTopicAttributes with ?metaoverride=true"),
    ("GET", "/topics/{topic}", "GetTopicAttributes"),
    ("DELETE", "/topics/{topic}", "DeleteTopic"),
    ("POST", "/topics/{topic}/messages", "PublishMessage"),
    ("GET", "/topics/{topic}/subscriptions", "ListSubscriptionByTopic"),
    (
        "PUT",
        "/topics/{topic}/subscriptions/{subscription}",
        "Subscribe; SetSubscriptionAttributes with ?metaoverride=true",
    ),
    ("GET", "/topics/{topic}/subscriptions/{subscription}", "GetSubscriptionAttributes"),
    ("DELETE", "/topics/{topic}/subscriptions/{subscription}", "Unsubscribe"),
)
#: The positions of names in a path's segments.
_NAMES = {1, 3}


def is_mns_path(path: str) -> bool:
    return path.split("/")[1] in ("queues", "topics")


def resolve(method: str, path: str, query: Query) -> tuple[str, tuple[str, ...]]:
    """(the action, the names in the path) of a request; InvalidRequestURL if it is none of MNS's."""
    segments = path.split("/")[1:]
    shape = "/".join("*" if i in _NAMES else s for i, s in enumerate(segments))
    choose = _ROUTES.get((shape, method.upper()))
    if choose is None or not all(segments):
        raise MnsError(400, "InvalidRequestURL", f"{method} {path} is not an action of MNS's API.")
    return choose(query), tuple(segments[i] for i in sorted(_NAMES) if i < len(segments))
