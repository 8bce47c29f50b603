"""``/api/v1/topics``: built-in topics, publishing, and subscriptions that push to an HTTP
endpoint, a function or a queue. Creating, changing and deleting topics and subscriptions needs
``admin``; publishing and reading ``invoke``."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from fnflow.api.auth import Admin, Invoke
from fnflow.api.root import root
from fnflow.api.schemas import Body
from fnflow.fdl.timestamps import format_timestamp
from fnflow.queues.attributes import TopicAttributes
from fnflow.queues.notify import NotifyFormat, NotifyStrategy
from fnflow.services.topics import TopicService
from fnflow.store import SubscriptionRecord, TopicRecord

router = APIRouter(prefix="/api/v1/topics", tags=["topics"])


class TopicIn(Body):
    maximumMessageSize: int = Field(TopicAttributes().maximum_message_size, description="1024-65536 bytes")


class TopicOut(BaseModel):
    name: str
    maximumMessageSize: int
    createdTime: str
    lastModifiedTime: str

    @classmethod
    def of(cls, t: TopicRecord) -> TopicOut:
        return cls(
            name=t.name,
            maximumMessageSize=t.maximum_message_size,
            createdTime=format_timestamp(t.created_at),
            lastModifiedTime=format_timestamp(t.updated_at),
        )


class TopicList(BaseModel):
    topics: list[TopicOut]
    nextToken: str | None = None


class PublishIn(Body):
    body: str
    tag: str | None = Field(None, description="subscriptions with a filterTag get only their tag's messages")
    attributes: dict[str, str] = Field(
        default_factory=dict, description="sent along as MessageAttributes (JSON and XML formats)"
    )
    messageId: str | None = Field(
        None, description="your own id: publishing it again within a day pushes nothing (idempotency key)"
    )


class PublishedOut(BaseModel):
    messageId: str
    bodyMD5: str


class SubscriptionIn(Body):
    endpoint: str = Field(
        description="http(s)://…, acs:fc:{region}:{account}:services/{s}/functions/{f}, "
        "or acs:mns:{region}:{account}:queues/{q}"
    )
    filterTag: str | None = None
    notifyStrategy: NotifyStrategy = NotifyStrategy.BACKOFF_RETRY
    notifyContentFormat: NotifyFormat = NotifyFormat.JSON


class SubscriptionOut(BaseModel):
    topicName: str
    subscriptionName: str
    endpoint: str
    filterTag: str | None
    notifyStrategy: str
    notifyContentFormat: str
    createdTime: str
    lastModifiedTime: str

    @classmethod
    def of(cls, s: SubscriptionRecord) -> SubscriptionOut:
        return cls(
            topicName=s.topic,
            subscriptionName=s.name,
            endpoint=s.endpoint,
            filterTag=s.filter_tag,
            notifyStrategy=s.notify_strategy,
            notifyContentFormat=s.notify_content_format,
            createdTime=format_timestamp(s.created_at),
            lastModifiedTime=format_timestamp(s.updated_at),
        )


class SubscriptionList(BaseModel):
    subscriptions: list[SubscriptionOut]
    nextToken: str | None = None


def _service(request: Request) -> TopicService:
    service: TopicService = root(request).topics
    return service


@router.put("/{topic}", response_model=TopicOut, responses={201: {"model": TopicOut}})
async def put_topic(topic: str, body: TopicIn, request: Request, response: Response, _: Admin) -> TopicOut:
    """Create a topic (201), or set its attributes (200)."""
    record, created = await _service(request).create(topic, TopicAttributes(body.maximumMessageSize))
    response.status_code = 201 if created else 200
    return TopicOut.of(record)


@router.get("/{topic}")
async def get_topic(topic: str, request: Request, _: Invoke) -> TopicOut:
    return TopicOut.of(await _service(request).get(topic))


@router.get("")
async def list_topics(
    request: Request,
    _: Invoke,
    prefix: str = "",
    limit: int = Query(100, ge=1, le=1000),
    nextToken: str | None = None,
) -> TopicList:
    page = await _service(request).list_topics(prefix, limit, nextToken)
    return TopicList(topics=[TopicOut.of(t) for t in page.items], nextToken=page.next_token)


@router.delete("/{topic}", status_code=204)
async def delete_topic(topic: str, request: Request, _: Admin) -> Response:
    """Delete a topic and its subscriptions."""
    await _service(request).delete(topic)
    return Response(status_code=204)


@router.post("/{topic}/messages")
async def publish(topic: str, body: PublishIn, request: Request, _: Invoke) -> PublishedOut:
    """Publish a message: it and a push to every matching subscription are stored when this answers."""
    message = await _service(request).publish(
        topic, body.body, tag=body.tag, attributes=body.attributes, message_id=body.messageId
    )
    return PublishedOut(messageId=message.id, bodyMD5=message.body_md5)


@router.put(
    "/{topic}/subscriptions/{name}",
    response_model=SubscriptionOut,
    responses={201: {"model": SubscriptionOut}},
)
async def subscribe(
    topic: str, name: str, body: SubscriptionIn, request: Request, response: Response, _: Admin
) -> SubscriptionOut:
    """Create a subscription (201) or change it (200)."""
    record, created = await _service(request).subscribe(
        topic,
        name,
        body.endpoint,
        filter_tag=body.filterTag,
        notify_strategy=body.notifyStrategy,
        notify_content_format=body.notifyContentFormat,
    )
    response.status_code = 201 if created else 200
    return SubscriptionOut.of(record)


@router.get("/{topic}/subscriptions/{name}")
async def get_subscription(topic: str, name: str, request: Request, _: Invoke) -> SubscriptionOut:
    return SubscriptionOut.of(await _service(request).get_subscription(topic, name))


@router.get("/{topic}/subscriptions")
async def list_subscriptions(
    topic: str,
    request: Request,
    _: Invoke,
    limit: int = Query(100, ge=1, le=1000),
    nextToken: str | None = None,
) -> SubscriptionList:
    page = await _service(request).list_subscriptions(topic, limit, nextToken)
    return SubscriptionList(
        subscriptions=[SubscriptionOut.of(s) for s in page.items], nextToken=page.next_token
    )


@router.delete("/{topic}/subscriptions/{name}", status_code=204)
async def unsubscribe(topic: str, name: str, request: Request, _: Admin) -> Response:
    """Delete a subscription (pushes already stored still go out)."""
    await _service(request).unsubscribe(topic, name)
    return Response(status_code=204)
