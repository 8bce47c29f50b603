"""A typed, synchronous Python client for fnflow's native API and gateway: ``fnflow.Client``."""

from fnflow.client.api import Client
from fnflow.client.errors import (
    ApiError,
    ClientError,
    ConflictError,
    ConnectionError,
    ForbiddenError,
    InvalidArgumentError,
    NotFoundError,
    UnauthorizedError,
)
from fnflow.client.gateway import verify_callback
from fnflow.client.logs import LogLine
from fnflow.client.models import (
    Alias,
    BinRequest,
    Call,
    CallResult,
    Delivery,
    Execution,
    Flow,
    FlowVersion,
    Function,
    FunctionResponse,
    HistoryEvent,
    Invocation,
    Page,
    Progress,
    ServiceVersion,
)
from fnflow.client.queues import Message, Queue, SentMessage
from fnflow.client.schedules import Schedule
from fnflow.client.topics import PublishedMessage, Subscription, Topic

__all__ = [
    "Alias",
    "ApiError",
    "BinRequest",
    "Call",
    "CallResult",
    "Client",
    "ClientError",
    "ConflictError",
    "ConnectionError",
    "Delivery",
    "Execution",
    "Flow",
    "FlowVersion",
    "ForbiddenError",
    "Function",
    "FunctionResponse",
    "HistoryEvent",
    "InvalidArgumentError",
    "Invocation",
    "LogLine",
    "Message",
    "NotFoundError",
    "Page",
    "Progress",
    "PublishedMessage",
    "Queue",
    "Schedule",
    "SentMessage",
    "ServiceVersion",
    "Subscription",
    "Topic",
    "UnauthorizedError",
    "verify_callback",
]
