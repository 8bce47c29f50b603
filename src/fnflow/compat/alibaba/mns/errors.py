"""MNS's errors: ``<Error><Code/><Message/><RequestId/><HostId/></Error>`` with MNS's status.

fnflow's errors (``fnflow.errors``) are mapped by class, the most specific first; problems of the
protocol itself (signature, URL, XML) are raised here as ``MnsError``.
"""

from __future__ import annotations

from fnflow.compat.alibaba.errors import Mapping, translate
from fnflow.errors import (
    Conflict,
    FnflowError,
    Forbidden,
    InvalidArgument,
    InvalidReceiptHandle,
    MessageNotHeld,
    NotFound,
    QueueAlreadyExists,
    QueueNotFound,
    SubscriptionAlreadyExists,
    SubscriptionNotFound,
    TopicAlreadyExists,
    TopicNotFound,
    Unauthorized,
    Unavailable,
)


class MnsError(Exception):
    """An error as the MNS API answers it."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


_MAPPING: Mapping = [
    (QueueNotFound, 404, "QueueNotExist"),
    (TopicNotFound, 404, "TopicNotExist"),
    (SubscriptionNotFound, 404, "SubscriptionNotExist"),
    (MessageNotHeld, 404, "MessageNotExist"),
    (NotFound, 404, "ResourceNotFound"),  # a subscribed function that does not exist
    (QueueAlreadyExists, 409, "QueueAlreadyExist"),
    (TopicAlreadyExists, 409, "TopicAlreadyExist"),
    (SubscriptionAlreadyExists, 409, "SubscriptionAlreadyExist"),
    (Conflict, 409, "Conflict"),  # a dead-letter queue in use, a topic's 101st subscription
    (InvalidReceiptHandle, 400, "ReceiptHandleError"),
    (InvalidArgument, 400, "InvalidArgument"),  # also a body over the queue's MaximumMessageSize
    (Unauthorized, 403, "InvalidAccessKeyId"),
    (Forbidden, 403, "AccessDenied"),
    (Unavailable, 503, "ServiceUnavailable"),
]


def from_fnflow(error: FnflowError) -> MnsError:
    found = translate(error, _MAPPING)
    return MnsError(*found, error.message) if found else internal()


def internal() -> MnsError:
    return MnsError(500, "InternalError", "An internal error occurred; see the server log.")


def no_message() -> MnsError:
    """What a receive or a peek that finds no message answers."""
    return MnsError(404, "MessageNotExist", "Message not exist.")
