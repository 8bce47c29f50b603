"""Results of the client: frozen dataclasses with snake_case fields, built from the API's JSON.

Each keeps the JSON it was built from in ``raw`` (left out of ``repr`` and ``==``), so a caller
that needs the API's exact answer (``fnflow … --output json``) does not have to ask twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from fnflow.functions.config import AsyncPolicy

T = TypeVar("T")

FINISHED = frozenset({"Stopped", "Succeeded", "Failed", "TimedOut"})


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


@dataclass(frozen=True)
class Flow:
    name: str
    id: str
    description: str
    definition: str
    type: str
    revision: int
    created_time: datetime | None
    last_modified_time: datetime | None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Flow:
        return cls(
            name=d["name"],
            id=d["id"],
            description=d.get("description", ""),
            definition=d["definition"],
            type=d.get("type", "FDL"),
            revision=d["revision"],
            created_time=_time(d.get("createdTime")),
            last_modified_time=_time(d.get("lastModifiedTime")),
            raw=d,
        )


@dataclass(frozen=True)
class Execution:
    """One run of a flow; ``input`` and ``output`` are parsed JSON."""

    name: str
    flow_name: str
    status: str
    input: Any
    output: Any
    error: str | None
    cause: str | None
    started_time: datetime | None
    stopped_time: datetime | None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def succeeded(self) -> bool:
        return self.status == "Succeeded"

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Execution:
        return cls(
            name=d["name"],
            flow_name=d["flowName"],
            status=d["status"],
            input=d.get("input"),
            output=d.get("output"),
            error=d.get("error"),
            cause=d.get("cause"),
            started_time=_time(d.get("startedTime")),
            stopped_time=_time(d.get("stoppedTime")),
            raw=d,
        )


@dataclass(frozen=True)
class HistoryEvent:
    """One event of an execution's history; ``detail`` is the event's parsed ``eventDetail``."""

    event_id: int
    type: str
    step_name: str
    time: datetime | None
    schedule_event_id: int
    detail: Any
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> HistoryEvent:
        return cls(
            event_id=d["eventId"],
            type=d["type"],
            step_name=d.get("stepName", ""),
            time=_time(d.get("time")),
            schedule_event_id=d.get("scheduleEventId", 0),
            detail=d.get("eventDetail"),
            raw=d,
        )


@dataclass(frozen=True)
class Function:
    service: str
    name: str
    runtime: str
    handler: str
    timeout: float
    memory_mb: int
    max_instances: int
    environment: dict[str, str]
    description: str
    code_checksum: str
    created_time: datetime | None
    last_modified_time: datetime | None
    command: str = ""
    upstream: str = ""
    annotations: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    async_policy: AsyncPolicy = field(default_factory=AsyncPolicy)
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Function:
        return cls(
            service=d["service"],
            name=d["name"],
            runtime=d["runtime"],
            handler=d["handler"],
            timeout=d["timeout"],
            memory_mb=d["memoryMB"],
            max_instances=d["maxInstances"],
            environment=d.get("environment") or {},
            description=d.get("description", ""),
            code_checksum=d.get("codeChecksum", ""),
            command=d.get("command", ""),
            upstream=d.get("upstream", ""),
            annotations=d.get("annotations") or {},
            labels=d.get("labels") or {},
            async_policy=AsyncPolicy.from_api(d.get("asyncPolicy") or {}),
            created_time=_time(d.get("createdTime")),
            last_modified_time=_time(d.get("lastModifiedTime")),
            raw=d,
        )


@dataclass(frozen=True)
class Invocation:
    """A synchronous invocation's answer; on failure ``error_type`` is set and ``body`` is FC's error JSON."""

    body: bytes
    error_type: str | None
    request_id: str

    @property
    def ok(self) -> bool:
        return self.error_type is None


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list; pass ``next_token`` back for the next (None on the last page)."""

    items: list[T]
    next_token: str | None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, d: dict[str, Any], key: str, item: Callable[[dict[str, Any]], T]) -> Page[T]:
        return cls([item(x) for x in d[key]], d.get("nextToken"), d)
