"""What a user deploys: a function's configuration, validated, and how it is stored.

Runtimes:
- ``python3``: Function Compute's ``handler(event, context)`` (the default);
- ``python3-http``: OpenFaaS ``python3-http``, ``handle(event, context)`` returning
  ``{"statusCode", "body", "headers"}``;
- ``python3-flask``: OpenFaaS ``python3-flask``, ``handle(req)`` returning what a Flask view may;
- ``python3-classic``: the classic OpenFaaS ``python3`` template, ``handle(req)``;
- ``command``: a classic-watchdog process per call (``fprocess``): body on stdin, stdout back;
- ``http``: a proxy to an upstream URL (a function on OpenFaaS, Knative or any HTTP service).

``AsyncPolicy`` is how asynchronous calls of the function are retried and routed (Function
Compute's async configuration and OpenFaaS' ``com.openfaas.retry.*`` / ``com.openfaas.queue``
annotations).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from fnflow.errors import InvalidArgument

if TYPE_CHECKING:  # the store imports SQLAlchemy: clients that build configs should not pay for it
    from fnflow.store.records import FunctionRecord

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,127}$")
HANDLER = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*\.[A-Za-z_][A-Za-z0-9_]*$")
QUEUE = re.compile(r"^[a-z0-9_-]{1,64}$")
# OpenFaaS' secret names: a Kubernetes DNS-1123 subdomain
SECRET_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
SECRET_NAME_MAX = 253
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
CHECKSUM = re.compile(r"^[0-9a-f]{64}$")
MAX_LAYERS = 5  # as Function Compute
FC_RUNTIME = "python3"  # answers as Function Compute does; every other runtime as OpenFaaS functions do
ROLES = ("admin", "invoke", "report-task")  # a role's scope: what its instances' credentials may do
PYTHON_RUNTIMES = ("python3", "python3-http", "python3-flask", "python3-classic")
# module.function called when a deploy names none: FC's index.handler, the OpenFaaS templates' handler.handle
DEFAULT_HANDLERS = {runtime: "handler.handle" for runtime in PYTHON_RUNTIMES} | {"python3": "index.handler"}
RUNTIMES = (*PYTHON_RUNTIMES, "command", "http")
DEFAULT_SERVICE = "default"
RETRY_CODES = (408, 429, 500, 502, 503, 504)
API_NAMES = {  # AsyncPolicy field -> its name in the native API
    "retries": "retries",
    "retry_codes": "retryCodes",
    "min_wait": "minWait",
    "max_wait": "maxWait",
    "max_event_age": "maxEventAge",
    "queue": "queue",
    "on_success": "onSuccess",
    "on_failure": "onFailure",
}


@dataclass(frozen=True)
class AsyncPolicy:
    """How asynchronous calls of one function are retried, expired and routed."""

    retries: int = 3  # retries after the first attempt (FC maxAsyncRetryAttempts)
    retry_codes: tuple[int, ...] = RETRY_CODES  # HTTP statuses that are retried (besides function errors)
    min_wait: float = 1.0  # seconds before the first retry
    max_wait: float = 120.0  # cap on the wait between attempts
    max_event_age: float = 86_400.0  # a call not finished by then ends Expired (FC maxAsyncEventAgeInSeconds)
    queue: str = ""  # named queue ("" = the default one)
    on_success: str = ""  # destination: a URL or a function name (FC destinationConfig)
    on_failure: str = ""

    def validate(self) -> None:
        if not 0 <= self.retries <= 100:
            raise InvalidArgument("async retries must be between 0 and 100")
        if any(not 100 <= c <= 599 for c in self.retry_codes):
            raise InvalidArgument("retry codes must be HTTP statuses (100-599)")
        if not 0 <= self.min_wait <= self.max_wait <= 86_400:
            raise InvalidArgument("async retry waits need 0 <= min wait <= max wait <= 86400 seconds")
        if not 1 <= self.max_event_age <= 7 * 86_400:
            raise InvalidArgument("maximum event age must be between 1 second and 7 days")
        if self.queue and not QUEUE.match(self.queue):
            raise InvalidArgument(f"queue name {self.queue!r} must be 1-64 characters of [a-z0-9_-]")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "retry_codes": list(self.retry_codes)}

    def to_api(self) -> dict[str, Any]:
        """As the native API writes it (``asyncPolicy``: camelCase names)."""
        return {API_NAMES[k]: v for k, v in self.to_dict().items()}

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> AsyncPolicy:
        return cls.from_dict({k: data[name] for k, name in API_NAMES.items() if name in data})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AsyncPolicy:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if "retry_codes" in known:
            known["retry_codes"] = tuple(known["retry_codes"])
        return cls(**known)


@dataclass(frozen=True)
class Layer:
    """A layer a function names (Function Compute's): a shared folder on its import path."""

    name: str  # what it is called where it came from (a folder's name), for people
    checksum: str  # the sha256 of its zip, which the store keeps once for every function

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "checksum": self.checksum}


@dataclass(frozen=True)
class FunctionConfig:
    """A function's configuration (everything but the code)."""

    service: str
    name: str
    runtime: str = "python3"
    handler: str = ""  # python runtimes: module.function ("": the runtime's, see DEFAULT_HANDLERS)
    command: str = ""  # command runtime: the process to start per call (fprocess)
    upstream: str = ""  # http runtime: the URL calls are proxied to
    timeout: float = 60.0
    memory_mb: int = 128
    max_instances: int = 4
    environment: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    description: str = ""
    async_policy: AsyncPolicy = field(default_factory=AsyncPolicy)
    min_instances: int = 0  # warm instances each process keeps started (OpenFaaS replicas)
    secrets: tuple[str, ...] = ()  # read as files in $OPENFAAS_SECRETS_PATH
    secret_environment: dict[str, str] = field(default_factory=dict)  # variable -> secret
    layers: tuple[Layer, ...] = ()  # on the import path after vendored packages, in this order
    # OpenFaaS metadata, kept and shown as deployed; fnflow runs no image and enforces only memory
    image: str = ""
    limits: dict[str, str] = field(default_factory=dict)
    requests: dict[str, str] = field(default_factory=dict)
    constraints: tuple[str, ...] = ()
    read_only_root_filesystem: bool = False
    # Function Compute: run once per instance before its first call (python3 only)
    initializer: str = ""  # module.function, called as initializer(context)
    initialization_timeout: float = 0.0  # seconds; 0: the function's timeout
    # The scope of the temporary credentials each instance gets (context.credentials), from its
    # service's role; "": the server's shared key, as functions deployed without a role have.
    role: str = ""

    def __post_init__(self) -> None:
        if not self.handler:
            object.__setattr__(self, "handler", DEFAULT_HANDLERS.get(self.runtime, ""))

    def validate(self) -> None:
        for what, value in (("service", self.service), ("function", self.name)):
            if not NAME.match(value):
                raise InvalidArgument(f"{what} name {value!r} must match [A-Za-z_][A-Za-z0-9_-]{{0,127}}")
        if self.runtime not in RUNTIMES:
            raise InvalidArgument(
                f"runtime {self.runtime!r} is not supported (use one of: {', '.join(RUNTIMES)})"
            )
        if self.runtime in PYTHON_RUNTIMES and not HANDLER.match(self.handler):
            raise InvalidArgument(
                f"handler {self.handler!r} must look like module.function, e.g. index.handler"
            )
        if self.initializer and (self.runtime != FC_RUNTIME or not HANDLER.match(self.initializer)):
            raise InvalidArgument(
                f"initializer {self.initializer!r}: a {FC_RUNTIME} function's module.function,"
                " e.g. index.init"
            )
        if not 0 <= self.initialization_timeout <= 86_400:
            raise InvalidArgument("initializationTimeout must be between 0 and 86400 seconds")
        if self.role and self.role not in ROLES:
            raise InvalidArgument(f"role must be one of {', '.join(ROLES)}, not {self.role!r}")
        if self.runtime == "command":
            try:
                argv = shlex.split(self.command)
            except ValueError as e:
                raise InvalidArgument(f"command {self.command!r} cannot be split into words: {e}") from None
            if not argv:
                raise InvalidArgument("the command runtime needs a command to run (fprocess), e.g. 'sleep 1'")
        if self.runtime == "http":
            parts = urlsplit(self.upstream)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise InvalidArgument(
                    f"the http runtime needs an upstream http(s) URL, got {self.upstream!r}"
                )
        if not 0 < self.timeout <= 86_400:
            raise InvalidArgument("timeout must be between 1 and 86400 seconds")
        if not 64 <= self.memory_mb <= 32_768:
            raise InvalidArgument("memoryMB must be between 64 and 32768")
        if not 1 <= self.max_instances <= 1000:
            raise InvalidArgument("maxInstances must be between 1 and 1000")
        if not 0 <= self.min_instances <= self.max_instances:
            raise InvalidArgument(
                f"minInstances (warm instances) must be between 0 and maxInstances ({self.max_instances}),"
                f" got {self.min_instances}"
            )
        for secret in self.named_secrets:
            check_secret_name(secret)
        for variable in self.secret_environment:
            if not ENV_NAME.match(variable):
                raise InvalidArgument(f"secretEnvironment: {variable!r} is not an environment variable name")
        if len(self.layers) > MAX_LAYERS:
            raise InvalidArgument(f"a function may name at most {MAX_LAYERS} layers, got {len(self.layers)}")
        for layer in self.layers:
            if not CHECKSUM.match(layer.checksum):
                raise InvalidArgument(f"layer {layer.name!r}: its checksum must be 64 lower-case hex digits")
            if not 0 < len(layer.name) <= 128 or not layer.name.isprintable():
                raise InvalidArgument(f"layer name {layer.name!r} must be 1-128 printable characters")
        self.async_policy.validate()

    @property
    def needs_code(self) -> bool:
        return self.runtime in PYTHON_RUNTIMES

    @property
    def named_secrets(self) -> tuple[str, ...]:
        """Every secret the function reads: its files and its secret environment variables."""
        return tuple(sorted({*self.secrets, *self.secret_environment.values()}))

    def options(self) -> dict[str, Any]:
        """The settings stored beside the fixed columns (``functions.options``)."""
        return {
            "command": self.command,
            "upstream": self.upstream,
            "annotations": self.annotations,
            "labels": self.labels,
            "async": self.async_policy.to_dict(),
            "minInstances": self.min_instances,
            "secrets": list(self.secrets),
            "secretEnvironment": self.secret_environment,
            "layers": [layer.to_dict() for layer in self.layers],
            "initializer": self.initializer,
            "initializationTimeout": self.initialization_timeout,
            "role": self.role,
            "openfaas": {
                "image": self.image,
                "limits": self.limits,
                "requests": self.requests,
                "constraints": list(self.constraints),
                "readOnlyRootFilesystem": self.read_only_root_filesystem,
            },
        }


def check_secret_name(name: str) -> None:
    """OpenFaaS' rule for secret names (a DNS-1123 subdomain); InvalidArgument says what is wrong."""
    if len(name) > SECRET_NAME_MAX or not SECRET_NAME.match(name):
        raise InvalidArgument(
            f"invalid secret name {name!r}: at most {SECRET_NAME_MAX} lower-case letters, digits, '-' and"
            " '.', starting and ending with a letter or digit"
        )


def config_of(record: FunctionRecord) -> FunctionConfig:
    """The configuration a stored function was deployed with."""
    options = record.options
    openfaas = options.get("openfaas", {})
    return FunctionConfig(
        service=record.service,
        name=record.name,
        runtime=record.runtime,
        handler=record.handler,
        command=str(options.get("command", "")),
        upstream=str(options.get("upstream", "")),
        timeout=record.timeout,
        memory_mb=record.memory_mb,
        max_instances=record.max_instances,
        environment=dict(record.environment),
        annotations=dict(options.get("annotations", {})),
        labels=dict(options.get("labels", {})),
        description=record.description,
        async_policy=async_policy_of(record),
        min_instances=int(options.get("minInstances", 0)),
        secrets=tuple(options.get("secrets", ())),
        secret_environment=dict(options.get("secretEnvironment", {})),
        layers=tuple(Layer(str(x["name"]), str(x["checksum"])) for x in options.get("layers", ())),
        image=str(openfaas.get("image", "")),
        limits=dict(openfaas.get("limits", {})),
        requests=dict(openfaas.get("requests", {})),
        constraints=tuple(openfaas.get("constraints", ())),
        read_only_root_filesystem=bool(openfaas.get("readOnlyRootFilesystem", False)),
        initializer=str(options.get("initializer", "")),
        initialization_timeout=float(options.get("initializationTimeout", 0.0)),
        role=str(options.get("role", "")),
    )


_POLICIES: dict[tuple[str, str, datetime], AsyncPolicy] = {}


def async_policy_of(record: FunctionRecord) -> AsyncPolicy:
    """The function's async policy; read once per deployment (every settled call asks for it)."""
    if record.updated_at is None:
        return AsyncPolicy.from_dict(record.options.get("async", {}))
    key = (record.service, record.name, record.updated_at)
    policy = _POLICIES.get(key)
    if policy is None:
        if len(_POLICIES) >= 4096:
            _POLICIES.clear()
        policy = _POLICIES[key] = AsyncPolicy.from_dict(record.options.get("async", {}))
    return policy
