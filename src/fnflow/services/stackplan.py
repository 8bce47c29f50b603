"""What a stack deploys: functions (with their code and triggers), queues, topics, subscriptions,
flows and schedules, each with the logical id the template gave it.

A plan is what a template dialect (``fnflow.compat.alibaba.ros``) makes of a template, what the
client sends as ``PUT /api/v1/stacks/{name}`` and what ``StackService`` validates whole and then
applies. Light on imports: the client builds plans.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fnflow.functions.config import FunctionConfig
from fnflow.functions.triggers import TriggerSpec
from fnflow.queues.attributes import QueueAttributes, TopicAttributes
from fnflow.schedules.spec import ScheduleSpec

#: the kinds of resources a stack deploys, in the order they are applied (removed in reverse)
KINDS = ("function", "trigger", "queue", "topic", "subscription", "flow", "schedule")


@dataclass(frozen=True)
class Resource:
    """One thing a stack deployed, as its record keeps it: ``name`` is ``service/function``,
    ``service/function/trigger``, ``topic/subscription``, ``flow/schedule`` or a plain name."""

    kind: str
    name: str
    logical_id: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return self.kind, self.name


@dataclass(frozen=True)
class PlannedFunction:
    config: FunctionConfig
    code: bytes  # a zip (see fnflow.functions.codepkg)
    logical_id: str = ""

    @property
    def resource(self) -> Resource:
        return Resource("function", f"{self.config.service}/{self.config.name}", self.logical_id)


@dataclass(frozen=True)
class PlannedTrigger:
    spec: TriggerSpec
    logical_id: str = ""

    @property
    def resource(self) -> Resource:
        s = self.spec
        return Resource("trigger", f"{s.service}/{s.function}/{s.name}", self.logical_id)


@dataclass(frozen=True)
class PlannedQueue:
    name: str
    attributes: QueueAttributes = field(default_factory=QueueAttributes)
    logical_id: str = ""

    @property
    def resource(self) -> Resource:
        return Resource("queue", self.name, self.logical_id)


@dataclass(frozen=True)
class PlannedTopic:
    name: str
    attributes: TopicAttributes = field(default_factory=TopicAttributes)
    logical_id: str = ""

    @property
    def resource(self) -> Resource:
        return Resource("topic", self.name, self.logical_id)


@dataclass(frozen=True)
class PlannedSubscription:
    topic: str
    name: str
    endpoint: str
    filter_tag: str | None = None
    notify_strategy: str = "BACKOFF_RETRY"
    notify_content_format: str = "JSON"
    logical_id: str = ""

    @property
    def resource(self) -> Resource:
        return Resource("subscription", f"{self.topic}/{self.name}", self.logical_id)


@dataclass(frozen=True)
class PlannedFlow:
    name: str
    definition: str
    description: str = ""
    role_arn: str = ""
    logical_id: str = ""

    @property
    def resource(self) -> Resource:
        return Resource("flow", self.name, self.logical_id)


@dataclass(frozen=True)
class PlannedSchedule:
    flow: str
    name: str
    spec: ScheduleSpec
    logical_id: str = ""

    @property
    def resource(self) -> Resource:
        return Resource("schedule", f"{self.flow}/{self.name}", self.logical_id)


Planned = (
    PlannedFunction
    | PlannedTrigger
    | PlannedQueue
    | PlannedTopic
    | PlannedSubscription
    | PlannedFlow
    | PlannedSchedule
)


@dataclass(frozen=True)
class StackPlan:
    functions: tuple[PlannedFunction, ...] = ()
    triggers: tuple[PlannedTrigger, ...] = ()
    queues: tuple[PlannedQueue, ...] = ()
    topics: tuple[PlannedTopic, ...] = ()
    subscriptions: tuple[PlannedSubscription, ...] = ()
    flows: tuple[PlannedFlow, ...] = ()
    schedules: tuple[PlannedSchedule, ...] = ()

    def items(self) -> list[Planned]:
        """Everything, in the order it is applied."""
        return [
            *self.functions,
            *self.triggers,
            *self.queues,
            *self.topics,
            *self.subscriptions,
            *self.flows,
            *self.schedules,
        ]

    def resources(self) -> list[Resource]:
        return [item.resource for item in self.items()]
