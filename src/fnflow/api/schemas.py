"""Request and response bodies of the native API (``/api/v1``), with FnF's field names."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from fnflow.fdl.timestamps import format_timestamp
from fnflow.functions.config import RETRY_CODES, AsyncPolicy, FunctionConfig, Layer, config_of
from fnflow.functions.dependencies import environment_of
from fnflow.functions.triggers import TriggerSpec
from fnflow.store import (
    EnvironmentRecord,
    ExecutionRecord,
    FlowRecord,
    FlowVersionRecord,
    FunctionRecord,
    HistoryRecord,
)


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FlowIn(Body):
    definition: str | None = Field(None, description="FDL text, YAML or JSON")
    description: str = ""
    version: int | None = Field(
        None, ge=1, description="instead of a definition: roll back to this version's definition"
    )


class FlowOut(BaseModel):
    name: str
    id: str
    description: str
    definition: str
    type: str = "FDL"
    revision: int
    version: int = Field(description="the flow version its definition is")
    createdTime: str
    lastModifiedTime: str

    @classmethod
    def of(cls, f: FlowRecord) -> FlowOut:
        return cls(
            name=f.name,
            id=f.id,
            description=f.description,
            definition=f.definition,
            revision=f.revision,
            version=f.version,
            createdTime=format_timestamp(f.created_at),
            lastModifiedTime=format_timestamp(f.updated_at),
        )


class FlowVersionOut(BaseModel):
    flowName: str
    version: int
    definitionHash: str
    definition: str | None = Field(None, description="only when one version is read")
    description: str
    createdTime: str

    @classmethod
    def of(cls, v: FlowVersionRecord) -> FlowVersionOut:
        return cls(
            flowName=v.flow_name,
            version=v.version,
            definitionHash=v.definition_hash,
            definition=v.definition or None,
            description=v.description,
            createdTime=format_timestamp(v.created_at),
        )


class FlowVersionList(BaseModel):
    versions: list[FlowVersionOut]
    nextToken: str | None = None


class FlowList(BaseModel):
    flows: list[FlowOut]
    nextToken: str | None = None


class StartIn(Body):
    name: str | None = Field(None, description="execution name; the same name and input again returns it")
    input: dict[str, Any] | str | None = Field(None, description="a JSON object, or a string holding one")
    version: int | None = Field(None, ge=1, description="the flow version to run (default: the current one)")


class ResetIn(Body):
    toStep: str
    name: str | None = None  # of the new execution (default: "<name>-reset-<id>")
    input: dict[str, Any] | None = None  # merged over the $input of the steps around toStep


class StopIn(Body):
    error: str = ""
    cause: str = ""


class ExecutionRef(BaseModel):
    """Another execution, named: a child's parent, or a parent's child (with its status)."""

    flowName: str
    name: str
    status: str | None = None


class ExecutionOut(BaseModel):
    name: str
    flowName: str
    status: str
    input: Any
    output: Any = None
    error: str | None = None
    cause: str | None = None
    startedTime: str
    stoppedTime: str | None = None
    flowVersion: int | None = Field(None, description="the flow version it runs")
    parentExecution: ExecutionRef | None = Field(None, description="the execution whose task step started it")
    childExecutions: list[ExecutionRef] | None = Field(
        None, description="the executions its task steps started (only when one execution is described)"
    )

    @classmethod
    def of(
        cls,
        e: ExecutionRecord,
        parent: ExecutionRecord | None = None,
        children: list[ExecutionRecord] | None = None,
    ) -> ExecutionOut:
        return cls(
            parentExecution=ExecutionRef(flowName=parent.flow_name, name=parent.name) if parent else None,
            childExecutions=None
            if children is None
            else [ExecutionRef(flowName=c.flow_name, name=c.name, status=c.status) for c in children],
            name=e.name,
            flowName=e.flow_name,
            status=e.status,
            input=json.loads(e.input),
            output=json.loads(e.output) if e.output is not None else None,
            error=e.error,
            cause=e.cause,
            startedTime=format_timestamp(e.started_at),
            stoppedTime=format_timestamp(e.stopped_at) if e.stopped_at else None,
            flowVersion=e.flow_version,
        )


class ExecutionList(BaseModel):
    executions: list[ExecutionOut]
    nextToken: str | None = None


class EventOut(BaseModel):
    eventId: int
    type: str
    stepName: str
    time: str
    scheduleEventId: int
    eventDetail: Any

    @classmethod
    def of(cls, h: HistoryRecord) -> EventOut:
        return cls(
            eventId=h.event_id,
            type=h.type,
            stepName=h.step,
            time=format_timestamp(h.time),
            scheduleEventId=h.schedule_event_id,
            eventDetail=json.loads(h.detail),
        )


class History(BaseModel):
    events: list[EventOut]
    nextToken: str | None = None


class TaskSucceededIn(Body):
    taskToken: str
    output: Any = Field(None, description="a JSON value, or a string holding JSON")


class TaskFailedIn(Body):
    taskToken: str
    error: str
    cause: str = ""


class AsyncPolicyDoc(BaseModel):
    """How asynchronous calls of a function are retried, expired and routed."""

    model_config = ConfigDict(extra="forbid")

    retries: int = Field(3, description="retries after the first attempt (FC maxAsyncRetryAttempts)")
    retryCodes: list[int] = Field(list(RETRY_CODES), description="function statuses that are retried")
    minWait: float = Field(1.0, description="seconds before the first retry")
    maxWait: float = Field(120.0, description="longest wait between attempts, seconds")
    maxEventAge: float = Field(86_400.0, description="seconds after which an unfinished call is Expired")
    queue: str = Field("", description="named queue (OpenFaaS com.openfaas.queue); empty: the default")
    onSuccess: str = Field("", description="destination: a URL or a function name")
    onFailure: str = Field("", description="destination: a URL or a function name")


class OpenFaaSDoc(BaseModel):
    """OpenFaaS settings kept as deployed and shown by /system/function (fnflow enforces none of them;
    ``limits.memory`` sets ``memoryMB`` only when an OpenFaaS deployment or stack file is mapped)."""

    model_config = ConfigDict(extra="forbid")

    image: str = ""
    limits: dict[str, str] = {}
    requests: dict[str, str] = {}
    constraints: list[str] = []
    readOnlyRootFilesystem: bool = False


class LayerIn(Body):
    name: str = Field("", description="what to call it; empty: layer-1, layer-2… by its place")
    code: str | None = Field(None, description="base64 of a zip of the layer's folder")
    checksum: str = Field("", description="sha256 of a layer stored already (instead of its code)")


class LayerDoc(BaseModel):
    name: str
    checksum: str


class PackageDoc(BaseModel):
    name: str
    version: str


class DependenciesDoc(BaseModel):
    """The environment a function's requirements.txt made."""

    hash: str = Field(description="names the environment (requirements and Python); shared by functions")
    python: str = Field(description="the Python it was installed for")
    requirements: list[str] | None = Field(None, description="as hashed (one function's GET only)")
    packages: list[PackageDoc] | None = Field(
        None, description="installed when it was first built (one function's GET only)"
    )


class FunctionIn(Body):
    runtime: str = Field(
        "python3", description="python3, python3-http, python3-flask, python3-classic, command, http"
    )
    handler: str = Field(
        "", description="module.function; empty: index.handler (python3), handler.handle (others)"
    )
    command: str = Field("", description="command runtime: the process started per call (fprocess)")
    upstream: str = Field("", description="http runtime: the URL calls are proxied to")
    timeout: float = 60
    memoryMB: int = 128
    maxInstances: int = 4
    environment: dict[str, str] = {}
    annotations: dict[str, str] = {}
    labels: dict[str, str] = {}
    description: str = ""
    asyncPolicy: AsyncPolicyDoc = Field(default_factory=AsyncPolicyDoc)
    minInstances: int = Field(0, description="warm instances each process keeps started")
    secrets: list[str] = Field([], description="secrets read as files in $OPENFAAS_SECRETS_PATH")
    secretEnvironment: dict[str, str] = Field(
        {}, description="environment variable -> secret whose value it holds"
    )
    openfaas: OpenFaaSDoc = Field(default_factory=OpenFaaSDoc)
    initializer: str = Field(
        "", description="python3: module.function run once per instance (FC's Initializer)"
    )
    initializationTimeout: float = Field(0, description="seconds the initializer may take (0: the timeout)")
    role: str = Field(
        "", description="admin, invoke or report-task: the scope of each instance's temporary credentials"
    )
    code: str | None = Field(
        None, description="base64 of a zip of the code directory; omit to keep the code (or to have none)"
    )
    layers: list[LayerIn] = Field([], description="layers on its import path, in order (python runtimes)")

    def config(self, service: str, name: str, layers: tuple[Layer, ...] = ()) -> FunctionConfig:
        return FunctionConfig(
            service=service,
            name=name,
            runtime=self.runtime,
            handler=self.handler,
            command=self.command,
            upstream=self.upstream,
            timeout=self.timeout,
            memory_mb=self.memoryMB,
            max_instances=self.maxInstances,
            environment=self.environment,
            annotations=self.annotations,
            labels=self.labels,
            description=self.description,
            async_policy=AsyncPolicy.from_api(self.asyncPolicy.model_dump()),
            min_instances=self.minInstances,
            secrets=tuple(self.secrets),
            secret_environment=self.secretEnvironment,
            image=self.openfaas.image,
            limits=self.openfaas.limits,
            requests=self.openfaas.requests,
            constraints=tuple(self.openfaas.constraints),
            read_only_root_filesystem=self.openfaas.readOnlyRootFilesystem,
            layers=layers,
            initializer=self.initializer,
            initialization_timeout=self.initializationTimeout,
            role=self.role,
        )


class FunctionOut(BaseModel):
    service: str
    name: str
    runtime: str
    handler: str
    command: str
    upstream: str
    timeout: float
    memoryMB: int
    maxInstances: int
    environment: dict[str, str]
    annotations: dict[str, str]
    labels: dict[str, str]
    description: str
    asyncPolicy: AsyncPolicyDoc
    minInstances: int
    secrets: list[str]
    secretEnvironment: dict[str, str]
    openfaas: OpenFaaSDoc
    initializer: str = ""
    initializationTimeout: float = 0
    role: str = ""
    codeChecksum: str
    layers: list[LayerDoc]
    dependencies: DependenciesDoc | None = Field(None, description="none: it has no requirements.txt")
    createdTime: str | None
    lastModifiedTime: str | None

    @classmethod
    def of(cls, f: FunctionRecord, environment: EnvironmentRecord | None = None) -> FunctionOut:
        """``environment``: the one its requirements made, to show what it asked for and installed."""
        config = config_of(f)
        deployed = environment_of(f)
        dependencies = None
        if deployed.get("hash"):
            dependencies = DependenciesDoc(hash=str(deployed["hash"]), python=str(deployed.get("python", "")))
            if environment is not None:
                dependencies.requirements = environment.requirements.splitlines()
                dependencies.packages = [PackageDoc(name=n, version=v) for n, v in environment.packages]
        return cls(
            service=f.service,
            name=f.name,
            runtime=f.runtime,
            handler=f.handler,
            command=config.command,
            upstream=config.upstream,
            timeout=f.timeout,
            memoryMB=f.memory_mb,
            maxInstances=f.max_instances,
            environment=f.environment,
            annotations=config.annotations,
            labels=config.labels,
            description=f.description,
            asyncPolicy=AsyncPolicyDoc(**config.async_policy.to_api()),
            minInstances=config.min_instances,
            secrets=list(config.secrets),
            secretEnvironment=config.secret_environment,
            openfaas=OpenFaaSDoc(
                image=config.image,
                limits=config.limits,
                requests=config.requests,
                constraints=list(config.constraints),
                readOnlyRootFilesystem=config.read_only_root_filesystem,
            ),
            initializer=config.initializer,
            initializationTimeout=config.initialization_timeout,
            role=config.role,
            codeChecksum=f.code_checksum,
            layers=[LayerDoc(name=layer.name, checksum=layer.checksum) for layer in config.layers],
            dependencies=dependencies,
            createdTime=format_timestamp(f.created_at) if f.created_at else None,
            lastModifiedTime=format_timestamp(f.updated_at) if f.updated_at else None,
        )


class FunctionList(BaseModel):
    functions: list[FunctionOut]


class TriggerSettings(Body):
    """A function trigger's settings, as the triggers route and stacks take them."""

    kind: str = Field(description="timer (calls the function asynchronously on a cron schedule) or http")
    cronExpression: str = Field("", description="timer: cron (seconds allowed) or @every 30s")
    payload: str = Field("", description="timer: the event's payload")
    enable: bool = True
    authType: str = Field("ANONYMOUS", description="http: ANONYMOUS or FUNCTION (a key)")
    methods: list[str] = Field(default_factory=list, description="http: the methods it answers")

    def spec(self, service: str, function: str, name: str) -> TriggerSpec:
        return TriggerSpec(
            service,
            function,
            name,
            self.kind,
            self.authType,
            tuple(self.methods),
            self.cronExpression,
            self.payload,
            self.enable,
        )
