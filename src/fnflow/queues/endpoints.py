"""Where a subscription pushes a topic's messages, parsed from its endpoint text.

- ``http://…`` or ``https://…``: an HTTP endpoint (a POST per message, as MNS's HttpEndpoint);
- ``acs:fc:{region}:{account}:services/{service}/functions/{function}``: an asynchronous call of
  an fnflow function (region and account may be empty, as in FDL);
- ``acs:mns:{region}:{account}:queues/{queue}`` (MNS's QueueEndpoint, what its SDK's
  ``TopicHelper.generate_queue_endpoint`` makes) or ``acs:mns:::/queues/{queue}/messages`` (FDL's
  form): a message sent into a built-in queue.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fnflow.asyncq.targets import parse_target
from fnflow.errors import InvalidArgument
from fnflow.fdl.arn import FunctionTarget, QueueTarget, parse_resource_arn
from fnflow.names import check_name


@dataclass(frozen=True)
class HttpEndpoint:
    url: str


@dataclass(frozen=True)
class FunctionEndpoint:
    service: str
    function: str


@dataclass(frozen=True)
class QueueEndpoint:
    queue: str


Endpoint = HttpEndpoint | FunctionEndpoint | QueueEndpoint

FORMS = (
    "http(s)://host[:port]/path",
    "acs:fc:{region}:{account}:services/{service}/functions/{function}",
    "acs:mns:{region}:{account}:queues/{queue}",
)
_MNS_QUEUE = re.compile(r"acs:mns:[A-Za-z0-9-]*:[A-Za-z0-9_-]*:queues/(?P<queue>[^/]*)")


def parse_endpoint(text: str) -> Endpoint:
    """The endpoint ``text`` names; InvalidArgument listing the accepted forms if none."""
    if not text.isprintable() or " " in text:
        raise InvalidArgument(f"endpoint {text!r} must be printable characters without spaces")
    if text.startswith(("http://", "https://")):
        parse_target(text)
        return HttpEndpoint(text)
    if m := _MNS_QUEUE.fullmatch(text):
        check_name("queue", m["queue"])
        return QueueEndpoint(m["queue"])
    try:
        target = parse_resource_arn(text)
    except ValueError:
        target = None
    if isinstance(target, FunctionTarget):
        if target.qualifier is not None:
            raise InvalidArgument(
                f"endpoint {text!r}: subscriptions take no qualifier ('.{target.qualifier}')"
            )
        return FunctionEndpoint(target.service, target.function)
    if isinstance(target, QueueTarget):
        return QueueEndpoint(target.queue)
    raise InvalidArgument(f"endpoint {text!r} is not one of: {'; '.join(FORMS)}")
