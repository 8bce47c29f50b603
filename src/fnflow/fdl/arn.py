"""Task ``resourceArn`` values, parsed into the kinds of target fnflow can call (spec/fdl.md §1.10).

Parsing at definition time turns a typo in an ARN into an error at the step that has it, instead of
a failed task at run time; the runtime dispatches on the target's type.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class FunctionTarget:
    """An fnflow function.

    ``acs:fc:{region}:{account}:services/{service}[.{qualifier}]/functions/{function}``
    """

    region: str  # may be empty
    account: str  # may be empty
    service: str
    qualifier: str | None  # a version or an alias
    function: str


@dataclass(frozen=True)
class QueueTarget:
    """A built-in queue: ``acs:mns:::/queues/{queue}/messages`` (the task sends a message)."""

    queue: str


@dataclass(frozen=True)
class TopicTarget:
    """A built-in topic: ``acs:mns:::/topics/{topic}/messages`` (the task publishes a message)."""

    topic: str


@dataclass(frozen=True)
class FlowTarget:
    """Another flow, run as a child execution: ``acs:fnf:::flow/{flow}``."""

    flow: str


ResourceTarget = FunctionTarget | QueueTarget | TopicTarget | FlowTarget

ACCEPTED_FORMS = (
    "acs:fc:{region}:{account}:services/{service}[.{qualifier}]/functions/{function}"
    " (region and account may be empty)",
    "acs:mns:::/queues/{queue}/messages",
    "acs:mns:::/topics/{topic}/messages",
    "acs:fnf:::flow/{flow}",
)

# Loose shapes first, so that a bad part gets a message about that part.
_FUNCTION = re.compile(
    r"acs:fc:(?P<region>[^:]*):(?P<account>[^:]*):services/(?P<service>[^/.]*)(?:\.(?P<qualifier>[^/]*))?"
    r"/functions/(?P<function>[^/]*)"
)
_QUEUE = re.compile(r"acs:mns:::/queues/(?P<queue>[^/]*)/messages")
_TOPIC = re.compile(r"acs:mns:::/topics/(?P<topic>[^/]*)/messages")
_FLOW = re.compile(r"acs:fnf:::flow/(?P<flow>[^/]*)")

_NAME = (
    r"[A-Za-z_][A-Za-z0-9_-]{0,127}",
    "1 to 128 letters, digits, '_' or '-', starting with a letter or '_'",
)
_RULES = {
    "region": (r"[A-Za-z0-9-]*", "letters, digits and '-', or empty"),
    "account": (r"[A-Za-z0-9_-]*", "letters, digits, '_' and '-', or empty"),
    "qualifier": (r"[A-Za-z0-9_-]{1,128}", "a version number or an alias name"),
    "service": _NAME,
    "function": _NAME,
    "queue": _NAME,
    "topic": _NAME,
    "flow": _NAME,
}


def _check(arn: str, match: re.Match[str]) -> re.Match[str]:
    """``match`` if each named part follows its rule; raises ValueError naming the bad part."""
    for part, value in match.groupdict().items():
        pattern, rule = _RULES[part]
        if value is not None and not re.fullmatch(pattern, value):
            hint = " (replace the placeholder)" if "{" in value else ""
            raise ValueError(f"resourceArn {arn!r}: {part} {value!r} is not valid{hint}; it must be {rule}")
    return match


def parse_resource_arn(arn: str) -> ResourceTarget:
    """The target named by a task's ``resourceArn``; raises ValueError listing the accepted forms."""
    if m := _FUNCTION.fullmatch(arn):
        _check(arn, m)
        return FunctionTarget(m["region"], m["account"], m["service"], m["qualifier"], m["function"])
    if m := _QUEUE.fullmatch(arn):
        return QueueTarget(_check(arn, m)["queue"])
    if m := _TOPIC.fullmatch(arn):
        return TopicTarget(_check(arn, m)["topic"])
    if m := _FLOW.fullmatch(arn):
        return FlowTarget(_check(arn, m)["flow"])
    raise ValueError(f"unsupported resourceArn {arn!r}; expected one of: {'; '.join(ACCEPTED_FORMS)}")
