"""The seam between the runtime and what a task step calls.

A task step's ``resourceArn`` names a function, a child flow, a queue or a topic. The runtime hands
each attempt, typed, to the integration of its kind and applies the event it answers; it knows no
kinds itself, so adding one is one new module here. An integration:

- ``submit``s an attempt: runs it and answers its result (``TaskSucceeded`` / ``TaskFailed``), or
  hands it over and answers ``TaskSubmitted`` — the result then arrives later, through
  ``TaskResults.settle`` (a finished asynchronous call, a child execution's end) or a report with
  the attempt's task token (waitForCallback);
- ``cancel``s, inside the transaction that gives an attempt up (it timed out, its execution ended),
  whatever it started outside that would otherwise run on;
- ``check``s, when a flow is created, that a target it names can be used, with the step's pattern
  (a queue that exists; no ``sync`` for a message).

Delivery is at least once: a submit may run again for the same attempt after a crash, so
whatever it starts is keyed by the attempt (``Task.key``) and starting it twice starts it once.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from fnflow.engine import Event, ScheduleTask
from fnflow.fdl.arn import ResourceTarget, parse_resource_arn
from fnflow.store import TaskRecord, Tx

#: what to do once the transaction has committed (wake up what waits, run what was decided)
After = Callable[[], None]


@dataclass(frozen=True)
class Task:
    """One attempt of a task step: the engine's ``ScheduleTask``, where it runs, and its target."""

    execution_id: str
    flow: str
    execution: str  # the execution's name
    command: ScheduleTask
    target: ResourceTarget

    @property
    def activity(self) -> int:
        return self.command.activity

    @property
    def key(self) -> str:
        """Unique per attempt and the same when the attempt runs again: an idempotency key."""
        return f"{self.execution_id}-{self.command.activity}"

    @classmethod
    def from_record(cls, record: TaskRecord) -> Task:
        payload = json.loads(record.payload)
        command = ScheduleTask(
            activity=record.activity,
            step=payload["step"],
            resource_arn=payload["resourceArn"],
            pattern=payload["pattern"],
            input=payload["input"],
            service_params=payload["serviceParams"],
            timeout=payload["timeout"],
            token=payload["token"],
            attempt=payload["attempt"],
        )
        return cls(
            record.execution_id, payload["flow"], payload["execution"], command, target(command.resource_arn)
        )


def task_payload(flow: str, execution: str, command: ScheduleTask) -> dict[str, Any]:
    """What a task row stores of an attempt (``Task.from_record`` reads it back)."""
    return {
        "flow": flow,
        "execution": execution,
        "step": command.step,
        "resourceArn": command.resource_arn,
        "pattern": command.pattern,
        "input": command.input,
        "serviceParams": command.service_params,
        "timeout": command.timeout,
        "token": command.token,
        "attempt": command.attempt,
    }


@dataclass(frozen=True)
class Parent:
    """The task attempt that starts a child execution, and whether the child reports its end to it."""

    execution_id: str
    activity: int
    token: str | None = None  # a ``sync`` child settles its parent's step with this token when it ends


#: ARNs are validated when a flow is created, so parsing at run time cannot fail
target = functools.lru_cache(maxsize=1024)(parse_resource_arn)


class TaskResults(Protocol):
    """Where results that arrive later go (the runtime)."""

    def settle(self, tx: Tx, execution_id: str, activity: int, event: Event) -> After | None:
        """In ``tx``: apply a task attempt's result to its execution; what to do after the commit."""
        ...


class Integration(Protocol):
    kind: str  # stored with each task row ("fc", "flow", "queue", "topic")

    async def submit(self, task: Task) -> Event:
        """Run or hand over one attempt; the event to apply (never raises for the attempt's own failures)."""
        ...

    def cancel(self, tx: Tx, execution_id: str, activity: int, now: datetime) -> After | None:
        """In the transaction that gives an attempt up: stop what it started; what to do after the commit."""
        ...

    async def check(self, target: ResourceTarget, pattern: str) -> str | None:
        """Why a flow's task step may not call ``target`` with ``pattern`` (None: it may)."""
        ...


class Integrations:
    """The integration of each kind of target."""

    def __init__(self) -> None:
        self._by_type: dict[type, Integration] = {}

    def add(self, target_type: type, integration: Integration) -> None:
        self._by_type[target_type] = integration

    def of(self, resource: ResourceTarget | str) -> Integration:
        """The integration of a target (or of the target a resourceArn names)."""
        if isinstance(resource, str):
            resource = target(resource)
        return self._by_type[type(resource)]

    async def check(self, resource: ResourceTarget, pattern: str) -> str | None:
        """Why a flow's task step may not call ``resource`` with ``pattern`` (None: it may)."""
        integration = self._by_type.get(type(resource))
        if integration is None:
            kind = type(resource).__name__.removesuffix("Target").lower()
            return f"{kind} tasks are not supported yet"
        return await integration.check(resource, pattern)
