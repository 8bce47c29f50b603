"""Results of the client: frozen dataclasses with snake_case fields, built from the API's JSON.

Each keeps the JSON it was built from in ``raw`` (left out of ``repr`` and ``==``), so a caller
that needs the API's exact answer (``fnflow … --output json``) does not have to ask twice.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from fnflow.functions.config import AsyncPolicy

T = TypeVar("T")

FINISHED = frozenset({"Stopped", "Succeeded", "Failed", "TimedOut"})
CALL_FINISHED = frozenset({"Succeeded", "Failed", "Stopped", "Expired"})
Headers = tuple[tuple[str, str], ...]


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _body(d: dict[str, Any]) -> bytes:
    """A body as the API writes it: UTF-8 text, or base64 when ``bodyEncoding`` says so."""
    text = d.get("body") or ""
    return base64.b64decode(text) if d.get("bodyEncoding") == "base64" else text.encode()


def _headers(pairs: Any) -> Headers:
    return tuple((str(k), str(v)) for k, v in pairs or ())


def header(headers: Headers, name: str) -> str | None:
    """The first value of header ``name`` (any case), or None."""
    low = name.lower()
    return next((v for k, v in headers if k.lower() == low), None)


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
    version: int = 1  # the flow version its definition is

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
            version=d.get("version", 1),
        )


@dataclass(frozen=True)
class FlowVersion:
    """One immutable version of a flow (``definition`` only when one version is read)."""

    flow_name: str
    version: int
    definition_hash: str
    definition: str | None
    description: str
    created_time: datetime | None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> FlowVersion:
        return cls(
            flow_name=d["flowName"],
            version=d["version"],
            definition_hash=d["definitionHash"],
            definition=d.get("definition"),
            description=d.get("description", ""),
            created_time=_time(d.get("createdTime")),
            raw=d,
        )


@dataclass(frozen=True)
class ServiceVersion:
    """A published version of a service: an immutable snapshot of its functions."""

    service: str
    version_id: str
    description: str
    functions: list[str]
    created_time: datetime | None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ServiceVersion:
        return cls(
            service=d["serviceName"],
            version_id=d["versionId"],
            description=d.get("description", ""),
            functions=list(d.get("functions", [])),
            created_time=_time(d.get("createdTime")),
            raw=d,
        )


@dataclass(frozen=True)
class Alias:
    """A name for a service version; ``additional_version_weight`` sends a share of calls elsewhere."""

    service: str
    name: str
    version_id: str
    additional_version_weight: dict[str, float]
    description: str
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    reserved_instances: int = 0  # instances of each function of its version every process keeps started

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Alias:
        return cls(
            service=d["serviceName"],
            name=d["aliasName"],
            version_id=d["versionId"],
            additional_version_weight=dict(d.get("additionalVersionWeight") or {}),
            description=d.get("description", ""),
            raw=d,
            reserved_instances=d.get("reservedInstances", 0),
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
    parent: tuple[str, str] | None = None  # (flow, name) of the execution whose task step started it
    children: list[tuple[str, str, str]] | None = None  # (flow, name, status); only from describe
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    flow_version: int | None = None  # the flow version it runs

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
            parent=(p["flowName"], p["name"]) if (p := d.get("parentExecution")) else None,
            children=None
            if d.get("childExecutions") is None
            else [(c["flowName"], c["name"], c.get("status") or "") for c in d["childExecutions"]],
            raw=d,
            flow_version=d.get("flowVersion"),
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
class Progress:
    """Where an execution's steps stand: its ``status``, each step's progress by name (``state``,
    ``waitingFor``, ``entered``, ``attempts``, ``retries``, ``input``, ``output``, ``error``…), and
    the history ``events`` since the last look."""

    status: str
    steps: dict[str, dict[str, Any]]
    events: list[HistoryEvent]

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Progress:
        return cls(d["status"], d["steps"], [HistoryEvent.from_json(e) for e in d.get("events", [])])


@dataclass(frozen=True)
class Dependencies:
    """The environment a function's ``requirements.txt`` made (``Function.dependencies``)."""

    hash: str  # shared by every function with the same requirements and Python
    python: str
    requirements: list[str]  # as hashed; empty in lists (get_function has them)
    packages: list[tuple[str, str]]  # (name, version) installed; empty in lists

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Dependencies:
        return cls(
            hash=d["hash"],
            python=d.get("python", ""),
            requirements=list(d.get("requirements") or []),
            packages=[(p["name"], p["version"]) for p in d.get("packages") or []],
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
    min_instances: int = 0
    secrets: list[str] = field(default_factory=list)
    secret_environment: dict[str, str] = field(default_factory=dict)
    layers: list[tuple[str, str]] = field(default_factory=list)  # (name, checksum), in import order
    dependencies: Dependencies | None = None  # None: no requirements.txt
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
            min_instances=d.get("minInstances", 0),
            secrets=d.get("secrets") or [],
            secret_environment=d.get("secretEnvironment") or {},
            layers=[(x["name"], x["checksum"]) for x in d.get("layers") or []],
            dependencies=Dependencies.from_json(d["dependencies"]) if d.get("dependencies") else None,
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
    version: str = "LATEST"  # the service version that ran it

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


@dataclass(frozen=True)
class FunctionResponse:
    """What a function answered through the gateway (``/function/``): its status, headers and body.

    Any status the function chose is a response, not an exception: ``ok`` says whether it is 2xx.
    ``call_id`` is the ``X-Call-Id`` the call ran with.
    """

    status: int
    headers: Headers
    body: bytes
    call_id: str

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def header(self, name: str) -> str | None:
        return header(self.headers, name)


@dataclass(frozen=True)
class CallResult:
    """The last answer of an asynchronous call's function."""

    status: int
    headers: Headers
    body: bytes

    def header(self, name: str) -> str | None:
        return header(self.headers, name)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> CallResult:
        return cls(status=d["status"], headers=_headers(d.get("headers")), body=_body(d))


@dataclass(frozen=True)
class Delivery:
    """A callback (``X-Callback-Url``) or destination (``onSuccess``/``onFailure``) of a finished call."""

    kind: str  # callback | on_success | on_failure
    target: str
    status: str  # Pending | Delivered | Failed
    attempts: int
    last_status: int | None
    last_error: str | None
    delivered_time: datetime | None

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Delivery:
        return cls(
            kind=d["kind"],
            target=d["target"],
            status=d["status"],
            attempts=d.get("attempts", 0),
            last_status=d.get("lastStatus"),
            last_error=d.get("lastError"),
            delivered_time=_time(d.get("deliveredTime")),
        )


@dataclass(frozen=True)
class Call:
    """An asynchronous call, by call id, with Function Compute's states.

    ``status`` is one of Enqueued, Running, Retrying, Succeeded, Failed, Stopping, Stopped, Expired.
    ``result`` is the function's last answer (None before it answered); ``deliveries`` are its
    callbacks, filled by ``get_call`` only (lists leave them out).
    """

    call_id: str
    service: str
    function: str
    queue: str
    status: str
    attempts: int
    max_attempts: int
    dead_letter: bool
    created_time: datetime | None
    started_time: datetime | None
    finished_time: datetime | None
    next_attempt_time: datetime | None
    callback_url: str | None
    result: CallResult | None
    error: str | None
    deliveries: list[Delivery] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def finished(self) -> bool:
        return self.status in CALL_FINISHED

    @property
    def succeeded(self) -> bool:
        return self.status == "Succeeded"

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Call:
        result = d.get("result")
        return cls(
            call_id=d["callId"],
            service=d["service"],
            function=d["function"],
            queue=d.get("queue", "default"),
            status=d["status"],
            attempts=d.get("attempts", 0),
            max_attempts=d.get("maxAttempts", 0),
            dead_letter=bool(d.get("deadLetter")),
            created_time=_time(d.get("createdTime")),
            started_time=_time(d.get("startedTime")),
            finished_time=_time(d.get("finishedTime")),
            next_attempt_time=_time(d.get("nextAttemptTime")),
            callback_url=d.get("callbackUrl"),
            result=CallResult.from_json(result) if result else None,
            error=d.get("error"),
            deliveries=[Delivery.from_json(x) for x in d.get("deliveries") or []],
            raw=d,
        )


@dataclass(frozen=True)
class BinRequest:
    """A request the request bin ``/bin/{name}`` recorded."""

    method: str
    path: str
    query: str
    headers: Headers
    body: bytes
    received_time: datetime | None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def header(self, name: str) -> str | None:
        return header(self.headers, name)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> BinRequest:
        return cls(
            method=d["method"],
            path=d["path"],
            query=d.get("query", ""),
            headers=_headers(d.get("headers")),
            body=_body(d),
            received_time=_time(d.get("receivedTime")),
            raw=d,
        )
