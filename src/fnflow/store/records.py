"""The domain records the store reads and writes (plain data, no behaviour)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class FlowRecord:
    name: str
    id: str
    description: str
    definition_hash: str
    definition: str
    revision: int
    created_at: datetime
    updated_at: datetime
    execution_mode: str = "Standard"  # FnF's: Standard or Express
    role_arn: str = ""  # FnF's RoleArn, kept as given (fnflow has no RAM roles)


@dataclass(frozen=True)
class ExecutionRecord:
    id: str
    flow_name: str
    name: str
    status: str
    definition_hash: str
    input: str  # JSON text
    started_at: datetime
    output: str | None = None
    error: str | None = None
    cause: str | None = None
    stopped_at: datetime | None = None
    state: str | None = None  # engine state JSON while running
    version: int = 1
    parent_id: str | None = None  # a child execution: the parent's id …
    parent_activity: int | None = None  # … and the task attempt that started it
    depth: int = 0  # how deeply nested (0: started by a user, a schedule …)
    callback_token: str | None = None  # the task token to report when this execution ends


@dataclass(frozen=True)
class HistoryRecord:
    event_id: int
    type: str
    step: str
    time: datetime
    detail: str  # JSON text
    schedule_event_id: int = 0


@dataclass(frozen=True)
class TaskRecord:
    """A unit of work scheduled by an execution (identified by execution and activity)."""

    execution_id: str
    activity: int
    kind: str
    payload: str  # JSON text, interpreted by the runtime
    created_at: datetime
    lease_owner: str | None = None
    lease_until: datetime | None = None
    attempts: int = 0


@dataclass(frozen=True)
class TimerRecord:
    execution_id: str
    timer: int
    fire_at: datetime


@dataclass(frozen=True)
class FunctionRecord:
    service: str
    name: str
    runtime: str
    handler: str
    code_checksum: str
    timeout: float
    memory_mb: int
    max_instances: int
    environment: dict[str, str] = field(default_factory=dict)
    description: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None
    options: dict[str, Any] = field(default_factory=dict)  # runtime settings, annotations, async policy


@dataclass(frozen=True)
class ApiKeyRecord:
    id: str
    secret: str
    scope: str
    description: str
    created_at: datetime
    enabled: bool = True


@dataclass(frozen=True)
class Page:
    """A page of results and the opaque token for the next one (None on the last page)."""

    items: list[Any]
    next_token: str | None


@dataclass(frozen=True)
class CallRecord:
    """An asynchronous call: the request as received, its state, and its last result."""

    id: str
    service: str
    function: str
    status: str
    method: str
    path: str
    query: str
    headers: str  # JSON list of [name, value]
    body: bytes
    created_at: datetime
    run_at: datetime
    expires_at: datetime
    max_attempts: int
    queue: str = ""
    callback_url: str | None = None
    attempts: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    lease_owner: str | None = None
    lease_until: datetime | None = None
    result_status: int | None = None
    result_headers: str | None = None  # JSON list of [name, value]
    result_body: bytes | None = None
    error: str | None = None
    dead: bool = False
    task_execution: str | None = None
    task_activity: int | None = None


@dataclass(frozen=True)
class DeliveryRecord:
    """An HTTP post that must reach its target: a callback or a destination of a finished call."""

    call_id: str
    kind: str  # callback | on_success | on_failure
    target: str  # a URL, or a function name for destinations
    headers: str  # JSON list of [name, value]
    body: bytes
    status: str  # Pending | Delivered | Failed
    max_attempts: int
    run_at: datetime
    created_at: datetime
    id: int | None = None
    attempts: int = 0
    lease_owner: str | None = None
    lease_until: datetime | None = None
    last_status: int | None = None
    last_error: str | None = None
    delivered_at: datetime | None = None


@dataclass(frozen=True)
class BinRequest:
    """A request recorded by the built-in request bin."""

    bin: str
    method: str
    path: str
    query: str
    headers: str  # JSON list of [name, value]
    body: bytes
    received_at: datetime
    id: int | None = None


@dataclass(frozen=True)
class ScheduleRecord:
    """A cron schedule that starts executions of a flow with ``payload`` as their input."""

    flow_name: str
    name: str
    id: str
    cron_expression: str
    time_zone: str  # IANA zone the expression is read in; "" is UTC (or its CRON_TZ= prefix)
    payload: str  # JSON object text
    enabled: bool
    description: str
    next_fire_at: datetime | None  # None while disabled
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class LogRecord:
    """A line a function wrote (or fnflow wrote about one of its calls)."""

    service: str
    function: str
    call_id: str  # "" outside a call
    instance: str  # the worker or process that wrote it
    stream: str  # stdout | stderr
    time: datetime
    text: str
    id: int | None = None


@dataclass(frozen=True)
class SecretRecord:
    """A secret's encrypted value; only ``fnflow.secretbox`` can read it."""

    service: str
    name: str
    value: bytes  # encrypted
    key_id: str  # the key it is encrypted with
    created_at: datetime
    updated_at: datetime
