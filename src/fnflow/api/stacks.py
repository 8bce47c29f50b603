"""``/api/v1/stacks``: deploy a plan whole (``fnflow deploy``), read what stacks deployed, delete one.

A plan is larger than other requests (its functions' code travels in it): the route reads its
body itself, up to ``MAX_PLAN_BYTES``.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field, ValidationError

from fnflow.api.auth import Admin, Invoke
from fnflow.api.root import root
from fnflow.api.schemas import Body, FunctionIn, TriggerSettings
from fnflow.errors import InvalidArgument, PayloadTooLarge
from fnflow.fdl.timestamps import format_timestamp
from fnflow.queues.attributes import QueueAttributes, TopicAttributes
from fnflow.schedules.spec import ScheduleSpec
from fnflow.services.stackplan import (
    PlannedFlow,
    PlannedFunction,
    PlannedQueue,
    PlannedSchedule,
    PlannedSubscription,
    PlannedTopic,
    PlannedTrigger,
    StackPlan,
)
from fnflow.services.stacks import StackReport, resources_of
from fnflow.store import StackRecord

router = APIRouter(prefix="/api/v1/stacks", tags=["stacks"])
MAX_PLAN_BYTES = 64 * 1024 * 1024  # the code of a stack's functions travels in its plan


class StackFunctionIn(FunctionIn):
    service: str
    name: str
    logicalId: str = ""


class TriggerIn(TriggerSettings):
    service: str
    function: str
    name: str
    logicalId: str = ""


class QueueIn(Body):
    name: str
    visibilityTimeout: float = 30.0
    delaySeconds: float = 0.0
    maximumMessageSize: int = 65_536
    messageRetentionPeriod: float = 345_600.0
    pollingWaitSeconds: float = 0.0
    maxReceiveCount: int | None = None
    deadLetterQueue: str | None = None
    logicalId: str = ""


class TopicIn(Body):
    name: str
    maximumMessageSize: int = 65_536
    logicalId: str = ""


class SubscriptionIn(Body):
    topic: str
    name: str
    endpoint: str
    filterTag: str | None = None
    notifyStrategy: str = "BACKOFF_RETRY"
    notifyContentFormat: str = "JSON"
    logicalId: str = ""


class StackFlowIn(Body):
    name: str
    definition: str
    description: str = ""
    roleArn: str = ""
    logicalId: str = ""


class StackScheduleIn(Body):
    flow: str
    name: str
    cronExpression: str
    timeZone: str = ""
    payload: dict[str, Any] = Field(default_factory=dict)
    enable: bool = True
    description: str = ""
    logicalId: str = ""


class StackIn(Body):
    description: str = ""
    functions: list[StackFunctionIn] = Field(default_factory=list)
    triggers: list[TriggerIn] = Field(default_factory=list)
    queues: list[QueueIn] = Field(default_factory=list)
    topics: list[TopicIn] = Field(default_factory=list)
    subscriptions: list[SubscriptionIn] = Field(default_factory=list)
    flows: list[StackFlowIn] = Field(default_factory=list)
    schedules: list[StackScheduleIn] = Field(default_factory=list)

    def plan(self) -> StackPlan:
        return StackPlan(
            functions=tuple(
                PlannedFunction(f.config(f.service, f.name), _code(f), f.logicalId) for f in self.functions
            ),
            triggers=tuple(
                PlannedTrigger(t.spec(t.service, t.function, t.name), t.logicalId) for t in self.triggers
            ),
            queues=tuple(
                PlannedQueue(
                    q.name,
                    QueueAttributes(
                        q.visibilityTimeout,
                        q.delaySeconds,
                        q.maximumMessageSize,
                        q.messageRetentionPeriod,
                        q.pollingWaitSeconds,
                        q.maxReceiveCount,
                        q.deadLetterQueue,
                    ),
                    q.logicalId,
                )
                for q in self.queues
            ),
            topics=tuple(
                PlannedTopic(t.name, TopicAttributes(t.maximumMessageSize), t.logicalId) for t in self.topics
            ),
            subscriptions=tuple(
                PlannedSubscription(
                    s.topic,
                    s.name,
                    s.endpoint,
                    s.filterTag,
                    s.notifyStrategy,
                    s.notifyContentFormat,
                    s.logicalId,
                )
                for s in self.subscriptions
            ),
            flows=tuple(
                PlannedFlow(f.name, f.definition, f.description, f.roleArn, f.logicalId) for f in self.flows
            ),
            schedules=tuple(
                PlannedSchedule(
                    s.flow,
                    s.name,
                    ScheduleSpec(s.cronExpression, s.timeZone, s.payload, s.enable, s.description),
                    s.logicalId,
                )
                for s in self.schedules
            ),
        )


def _code(f: StackFunctionIn) -> bytes:
    if f.code is None:
        raise InvalidArgument(f"function {f.service}/{f.name}: a stack's functions need their code")
    try:
        return base64.b64decode(f.code, validate=True)
    except binascii.Error:
        raise InvalidArgument(
            f"function {f.service}/{f.name}: code must be base64 of a zip archive"
        ) from None


class ResourceOut(BaseModel):
    kind: str
    name: str
    logicalId: str


class ChangeOut(ResourceOut):
    action: str = Field(description="created, updated, unchanged or deleted")


class StackReportOut(BaseModel):
    name: str
    dryRun: bool
    changes: list[ChangeOut]

    @classmethod
    def of(cls, report: StackReport) -> StackReportOut:
        changes = [
            ChangeOut(
                kind=c.resource.kind, name=c.resource.name, logicalId=c.resource.logical_id, action=c.action
            )
            for c in report.changes
        ]
        return cls(name=report.name, dryRun=report.dry_run, changes=changes)


class StackOut(BaseModel):
    name: str
    description: str
    resources: list[ResourceOut]
    createdTime: str
    lastModifiedTime: str

    @classmethod
    def of(cls, record: StackRecord) -> StackOut:
        resources = [
            ResourceOut(kind=r.kind, name=r.name, logicalId=r.logical_id) for r in resources_of(record)
        ]
        return cls(
            name=record.name,
            description=record.description,
            resources=resources,
            createdTime=format_timestamp(record.created_at),
            lastModifiedTime=format_timestamp(record.updated_at),
        )


class StackList(BaseModel):
    stacks: list[StackOut]


async def _plan(request: Request) -> StackIn:
    size = 0
    chunks: list[bytes] = []
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_PLAN_BYTES:
            raise PayloadTooLarge(f"the plan is larger than {MAX_PLAN_BYTES} bytes")
        chunks.append(chunk)
    if not size:  # never read as an empty plan, which would remove everything the stack has
        raise InvalidArgument("the request needs a JSON body: the stack's plan")
    try:
        return StackIn.model_validate(json.loads(b"".join(chunks)))
    except json.JSONDecodeError as e:
        raise InvalidArgument(f"the plan is not valid JSON at character {e.pos + 1}: {e.msg}") from None
    except UnicodeDecodeError as e:
        raise InvalidArgument(f"the plan is not valid JSON: it is not UTF-8 ({e.reason})") from None
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidArgument(f"the plan is not valid: {where}: {first['msg']}") from None


@router.put("/{name}", response_model=StackReportOut, openapi_extra={"requestBody": {"content": {
    "application/json": {"schema": StackIn.model_json_schema()}}, "required": True}})  # fmt: skip
async def deploy_stack(name: str, request: Request, _: Admin, dryRun: bool = False) -> StackReportOut:
    """Deploy a stack's plan whole (all or nothing); ``dryRun`` checks it and says what would change."""
    body = await _plan(request)
    stacks = root(request).stacks
    report = await stacks.deploy(name, body.plan(), description=body.description, dry_run=dryRun)
    return StackReportOut.of(report)


@router.get("")
async def list_stacks(request: Request, _: Invoke) -> StackList:
    return StackList(stacks=[StackOut.of(s) for s in await root(request).stacks.list_stacks()])


@router.get("/{name}")
async def get_stack(name: str, request: Request, _: Invoke) -> StackOut:
    return StackOut.of(await root(request).stacks.get(name))


@router.delete("/{name}")
async def delete_stack(name: str, request: Request, _: Admin) -> StackReportOut:
    """Remove everything the stack deployed, then the stack."""
    return StackReportOut.of(await root(request).stacks.delete(name))
