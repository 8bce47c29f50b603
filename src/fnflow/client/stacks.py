"""The client's stacks: deploy a plan whole (``fnflow deploy``), list, read and delete stacks."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fnflow.client.http import Transport, api_path
from fnflow.services.stackplan import StackPlan

MAX_WAIT = 600.0  # seconds a deploy may take beyond the usual timeout (functions' code, many items)


@dataclass(frozen=True)
class StackChange:
    kind: str  # function, trigger, queue, topic, subscription, flow or schedule
    name: str
    logical_id: str
    action: str  # created, updated, unchanged or deleted


@dataclass(frozen=True)
class StackReport:
    name: str
    dry_run: bool
    changes: list[StackChange]
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> StackReport:
        changes = [
            StackChange(c["kind"], c["name"], c.get("logicalId", ""), c["action"]) for c in d["changes"]
        ]
        return cls(d["name"], bool(d.get("dryRun")), changes, d)


@dataclass(frozen=True)
class Stack:
    name: str
    description: str
    resources: list[StackChange]  # their action is ""
    created_time: datetime
    last_modified_time: datetime
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Stack:
        resources = [StackChange(r["kind"], r["name"], r.get("logicalId", ""), "") for r in d["resources"]]
        return cls(
            d["name"],
            d.get("description", ""),
            resources,
            datetime.fromisoformat(d["createdTime"]),
            datetime.fromisoformat(d["lastModifiedTime"]),
            d,
        )


def plan_body(plan: StackPlan, description: str = "") -> dict[str, Any]:
    """The JSON ``PUT /api/v1/stacks/{name}`` takes for ``plan``."""
    from fnflow.client.api import function_body  # api.py is built on the mixins, this one too

    return {
        "description": description,
        "functions": [
            {
                **function_body(f.config),
                "service": f.config.service,
                "name": f.config.name,
                "logicalId": f.logical_id,
                "code": base64.b64encode(f.code).decode(),
            }
            for f in plan.functions
        ],
        "triggers": [
            {
                "service": t.spec.service,
                "function": t.spec.function,
                "name": t.spec.name,
                "kind": t.spec.kind,
                "authType": t.spec.auth_type,
                "methods": list(t.spec.methods),
                "cronExpression": t.spec.cron_expression,
                "payload": t.spec.payload,
                "enable": t.spec.enabled,
                "logicalId": t.logical_id,
            }
            for t in plan.triggers
        ],
        "queues": [
            {
                "name": q.name,
                "visibilityTimeout": q.attributes.visibility_timeout,
                "delaySeconds": q.attributes.delay_seconds,
                "maximumMessageSize": q.attributes.maximum_message_size,
                "messageRetentionPeriod": q.attributes.message_retention_period,
                "pollingWaitSeconds": q.attributes.polling_wait_seconds,
                "maxReceiveCount": q.attributes.max_receive_count,
                "deadLetterQueue": q.attributes.dead_letter_queue,
                "logicalId": q.logical_id,
            }
            for q in plan.queues
        ],
        "topics": [
            {
                "name": t.name,
                "maximumMessageSize": t.attributes.maximum_message_size,
                "logicalId": t.logical_id,
            }
            for t in plan.topics
        ],
        "subscriptions": [
            {
                "topic": s.topic,
                "name": s.name,
                "endpoint": s.endpoint,
                "filterTag": s.filter_tag,
                "notifyStrategy": s.notify_strategy,
                "notifyContentFormat": s.notify_content_format,
                "logicalId": s.logical_id,
            }
            for s in plan.subscriptions
        ],
        "flows": [
            {
                "name": f.name,
                "definition": f.definition,
                "description": f.description,
                "roleArn": f.role_arn,
                "logicalId": f.logical_id,
            }
            for f in plan.flows
        ],
        "schedules": [
            {
                "flow": s.flow,
                "name": s.name,
                "cronExpression": s.spec.cron_expression,
                "timeZone": s.spec.time_zone,
                "payload": s.spec.payload,
                "enable": s.spec.enabled,
                "description": s.spec.description,
                "logicalId": s.logical_id,
            }
            for s in plan.schedules
        ],
    }


class StackMethods(Transport):
    def deploy_stack(
        self, name: str, plan: StackPlan, *, description: str = "", dry_run: bool = False
    ) -> StackReport:
        """Deploy ``plan`` as stack ``name``, whole or not at all: what changed (with ``dry_run``,
        what would change, changing nothing). The same plan again changes nothing."""
        params = {"dryRun": "true"} if dry_run else None
        body = plan_body(plan, description)
        response = self._json("PUT", api_path("stacks", name), json=body, params=params, extra_wait=MAX_WAIT)
        return StackReport.from_json(response)

    def get_stack(self, name: str) -> Stack:
        return Stack.from_json(self._json("GET", api_path("stacks", name)))

    def list_stacks(self) -> list[Stack]:
        return [Stack.from_json(s) for s in self._json("GET", api_path("stacks"))["stacks"]]

    def delete_stack(self, name: str) -> StackReport:
        """Remove everything the stack deployed, then the stack."""
        return StackReport.from_json(self._json("DELETE", api_path("stacks", name), extra_wait=MAX_WAIT))

    def system_info(self) -> dict[str, str]:
        """The server's version, and the region and account it stands for."""
        info: dict[str, str] = self._json("GET", api_path("system", "info"))
        return info
