"""A typed, synchronous Python client for fnflow's native API: ``fnflow.Client``."""

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
from fnflow.client.models import Execution, Flow, Function, HistoryEvent, Invocation, Page

__all__ = [
    "ApiError",
    "Client",
    "ClientError",
    "ConflictError",
    "ConnectionError",
    "Execution",
    "Flow",
    "ForbiddenError",
    "Function",
    "HistoryEvent",
    "InvalidArgumentError",
    "Invocation",
    "NotFoundError",
    "Page",
    "UnauthorizedError",
]
